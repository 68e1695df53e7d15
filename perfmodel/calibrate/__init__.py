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

from perfmodel._lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
