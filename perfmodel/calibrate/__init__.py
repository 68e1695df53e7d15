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
* :mod:`~perfmodel.calibrate.step` — the evaluation's calibration step
  (``Settings(calibration="casemix" | "full")``), a pure function of values,
  units and peer groups.
* :mod:`~perfmodel.calibrate.truth` — truth-recovery studies on simulated cases
  with known truth, over one seed or several (an analysis: its names are
  imported on first use, since it builds whole evaluations).
"""

from typing import TYPE_CHECKING

from perfmodel._lazy import lazy_exports
from perfmodel.calibrate.casemix import CaseMixModel, indirect_standardisation
from perfmodel.calibrate.difficulty import (
    class_coefficients,
    declared_difficulty,
    difficulty_table,
    expected_scores,
    r2_on_context,
)
from perfmodel.calibrate.funnel import (
    FunnelPlot,
    FunnelResult,
    OverdispersionEstimate,
    estimate_overdispersion,
    funnel_analysis,
    funnel_limits,
    level_label,
)
from perfmodel.calibrate.peers import (
    KMeansPeerGroups,
    add_peer_column,
    compare_with_neighbours,
    context_frame,
    declared_peer_groups,
    most_similar_units,
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
from perfmodel.calibrate.step import CalibrationResult, calibrate, calibrate_values

_TRUTH_EXPORTS: dict[str, str] = {
    name: "truth"
    for name in (
        "TRUTH_CONTEXT",
        "CalibrationCase",
        "evaluate_case",
        "raw_scores",
        "robustness_summary",
        "seed_robustness",
        "simulate_calibration_case",
        "truth_recovery",
        "truth_recovery_table",
    )
}
"""The truth studies (layer 6) are imported on first use, never by ``import perfmodel.calibrate``."""

if TYPE_CHECKING:
    from perfmodel.calibrate.truth import (
        TRUTH_CONTEXT,
        CalibrationCase,
        evaluate_case,
        raw_scores,
        robustness_summary,
        seed_robustness,
        simulate_calibration_case,
        truth_recovery,
        truth_recovery_table,
    )

__all__ = [
    "BetaBinomialShrinkage",
    "TRUTH_CONTEXT",
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
    "r2_on_context",
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
    "level_label",
    "reml_tau2",
]

__getattr__, __dir__ = lazy_exports(__name__, _TRUTH_EXPORTS, globals())
