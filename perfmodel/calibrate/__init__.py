"""Calibration: case-mix adjustment, funnel plots with over-dispersion, small-numbers shrinkage.

* :mod:`~perfmodel.calibrate.casemix` — risk-adjustment GLMs and indirect standardisation
  (observed / expected per unit).
* :mod:`~perfmodel.calibrate.funnel` — funnel plots with exact, chi-square or normal
  control limits, multiplicative or additive (random-effects) over-dispersion,
  two-sided p-values and Benjamini–Hochberg q-values.
* :mod:`~perfmodel.calibrate.shrinkage` — empirical-Bayes estimates for units with few cases.
* :mod:`~perfmodel.calibrate.peers` — declared classes, k-means peer groups, most similar units,
  derived context columns.
* :mod:`~perfmodel.calibrate.difficulty` — declared vs model-based difficulty coefficients (R4).
* :mod:`~perfmodel.calibrate.raters` — rater leniency/severity (crossed MixedLM or fixed
  effects), self-enhancement, central tendency, halo (R8).
* :mod:`~perfmodel.calibrate.reliability` — ICCs (Shrout–Fleiss / McGraw–Wong) and
  Krippendorff's alpha.
* :mod:`~perfmodel.calibrate.pipeline` — the evaluation's calibration step
  (``Settings(calibration="casemix" | "full")``) and truth-recovery checks on
  simulated cases with known truth, over one seed or several.
"""

from perfmodel.calibrate.casemix import CaseMixModel, indirect_standardisation
from perfmodel.calibrate.difficulty import (
    class_coefficients,
    declared_difficulty,
    difficulty_table,
    expected_scores,
)
from perfmodel.calibrate.funnel import (
    FunnelPlot,
    FunnelResult,
    OverdispersionEstimate,
    confidence_label,
    estimate_overdispersion,
    funnel_analysis,
    funnel_limits,
)
from perfmodel.calibrate.peers import (
    KMeansPeerGroups,
    add_peer_column,
    compare_with_neighbours,
    context_frame,
    declared_peer_groups,
    most_similar_units,
)
from perfmodel.calibrate.pipeline import (
    CalibrationCase,
    CalibrationResult,
    calibrate,
    calibrate_values,
    context_r2,
    evaluate_case,
    raw_scores,
    robustness_summary,
    seed_robustness,
    simulate_calibration_case,
    truth_recovery,
    truth_recovery_table,
)
from perfmodel.calibrate.raters import (
    RaterModel,
    calibrate_ratings,
    central_tendency,
    halo,
    self_enhancement,
)
from perfmodel.calibrate.reliability import (
    icc,
    icc_from_components,
    krippendorff_alpha,
    ratings_matrix,
)
from perfmodel.calibrate.shrinkage import (
    BetaBinomialShrinkage,
    NormalNormalShrinkage,
    beta_binomial_mom,
    dersimonian_laird,
    reml_tau2,
)

__all__ = [
    "BetaBinomialShrinkage",
    "CalibrationCase",
    "CalibrationResult",
    "KMeansPeerGroups",
    "RaterModel",
    "add_peer_column",
    "calibrate",
    "calibrate_ratings",
    "calibrate_values",
    "central_tendency",
    "class_coefficients",
    "compare_with_neighbours",
    "context_frame",
    "context_r2",
    "declared_difficulty",
    "declared_peer_groups",
    "difficulty_table",
    "evaluate_case",
    "expected_scores",
    "halo",
    "icc",
    "icc_from_components",
    "krippendorff_alpha",
    "most_similar_units",
    "ratings_matrix",
    "raw_scores",
    "robustness_summary",
    "seed_robustness",
    "self_enhancement",
    "simulate_calibration_case",
    "truth_recovery",
    "truth_recovery_table",
    "CaseMixModel",
    "FunnelPlot",
    "FunnelResult",
    "NormalNormalShrinkage",
    "OverdispersionEstimate",
    "beta_binomial_mom",
    "dersimonian_laird",
    "estimate_overdispersion",
    "funnel_analysis",
    "funnel_limits",
    "indirect_standardisation",
    "confidence_label",
    "reml_tau2",
]
