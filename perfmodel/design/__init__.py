"""Indicator design lab: how robust, redundant and fair is an indicator system?

* :mod:`~perfmodel.design.sensitivity` — uncertainty analysis (rank intervals,
  grade probabilities) and Sobol' sensitivity indices of any evaluation;
* :mod:`~perfmodel.design.redundancy` — correlations, Cronbach's alpha, PCA, VIF,
  discriminating power, removal effects, merge suggestions, reporting burden;
* :mod:`~perfmodel.design.weights` — equal, PCA/factor, entropy, CRITIC,
  correlation-balanced and benefit-of-the-doubt weights;
* :mod:`~perfmodel.design.aggregators` — power means, Mazziotta–Pareto, Copeland,
  and composite indicators built from others (R10);
* :mod:`~perfmodel.design.compare` — several designs on the same units, the
  flexible indicator pool (R19);
* :mod:`~perfmodel.design.gaming`, :mod:`~perfmodel.design.simulate_gaming` —
  gaming detection and simulation (re-exported here when installed);
* :mod:`~perfmodel.design.optimise` — the design optimiser: Pareto front of a
  framework family on a world with known truth;
* :mod:`~perfmodel.design.cli` — ``perfmodel lab …``.
"""

from perfmodel._lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
