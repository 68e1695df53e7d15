"""Calibration: case-mix adjustment, funnel plots with over-dispersion, small-numbers shrinkage.

* :mod:`~perfmodel.calibrate.casemix` — risk-adjustment GLMs and indirect standardisation
  (observed / expected per unit).
* :mod:`~perfmodel.calibrate.funnel` — funnel plots with exact, chi-square or normal
  control limits, multiplicative or additive (random-effects) over-dispersion,
  two-sided p-values and Benjamini–Hochberg q-values.
* :mod:`~perfmodel.calibrate.shrinkage` — empirical-Bayes estimates for units with few cases.
"""

from perfmodel.calibrate.casemix import CaseMixModel, indirect_standardisation
from perfmodel.calibrate.funnel import (
    FunnelPlot,
    FunnelResult,
    OverdispersionEstimate,
    estimate_overdispersion,
    funnel_analysis,
    funnel_limits,
    level_label,
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
