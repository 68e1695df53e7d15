"""The evidence that ranks units at a threshold: an empirical-Bayes likelihood ratio "heap vs hole".

The threshold test's p-value (:mod:`~perfmodel.design.gaming.heaping`)
controls false leads, but it ranks units badly: its attainable size depends on
how many months a unit has in the band, and it weighs every band month alike.
This module ranks units by the log Bayes factor of *manipulation* against
*none*, the statistic the Neyman–Pearson lemma says is most powerful for that
pair of hypotheses.

Under the counterfactual (:func:`~perfmodel.design.gaming.counterfactual.fit_band`)
a band month of unit ``i`` lands in the heap with probability ``π_mg`` at grid
point ``g`` (the unit's level and spread, posterior weight ``w_ig``). A unit
that manipulates reports a share ``s`` of its hole months as just meeting the
threshold, so the month is in the heap with probability ``π + (1 − π) s``:

``L_i(s) = Σ_g w_ig Π_m [π_mg + (1 − π_mg) s]^{h_m} [(1 − π_mg)(1 − s)]^{1 − h_m}``

(``h_m = 1`` for a heap month). ``s = 0`` is the null. Across units the
evidence is a two-component mixture: a share ``1 − w`` of units do not
manipulate, a share ``w`` manipulate with a common share ``s``. ``(w, s)`` are
estimated by maximum likelihood from all units at once (EM for ``w`` at each
``s`` of a grid; deterministic, no random start), and a unit's evidence is

``log BF_i = log L_i(ŝ) − log L_i(0)``.

A mixture over many shares (the nonparametric maximum-likelihood mixture)
ranked units worse: honest units whose heap is a little fuller than their
counterfactual put mass at small shares, and an alternative that includes
them rewards that noise.

Naive counting (heap months minus half the hole months) is a linear score in
the numbers of heap and hole months with fixed weights; the Bayes factor
weighs each month by its own counterfactual ``π_m`` and takes the weights of
heap and hole from the data (a manipulator who moves 90 % of its hole months
leaves few in the hole, so every hole month is strong evidence against
manipulation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from perfmodel.design.gaming.counterfactual import BandFit, add_rows, row_steps

__all__ = ["HeapEvidence", "calibrated_log10_bf", "heap_evidence"]

SHARES = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
"""Grid of manipulated shares ``s`` (0: no manipulation)."""
_EM_STEPS = 500
_CLIP = 1e-9


@dataclass(frozen=True)
class HeapEvidence:
    """Per-unit evidence of heaping at one threshold.

    Attributes
    ----------
    unit_id
        The units of the fit, in its order.
    log_bf
        Natural log of each unit's Bayes factor, manipulation (share ``share``)
        against none (0 for a unit without band months).
    share
        The estimated share ``ŝ`` of hole months a manipulating unit reports as just meeting.
    manipulating
        The estimated share ``ŵ`` of units that manipulate, among the units with band months.
    """

    unit_id: np.ndarray
    log_bf: np.ndarray
    share: float
    manipulating: float

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: ``unit_id``, ``log_bf``."""
        return pd.DataFrame({"unit_id": self.unit_id, "log_bf": self.log_bf})


def _unit_loglik(fit: BandFit, shares: np.ndarray) -> np.ndarray:
    """``log L_i(s)`` for every unit (rows) and share (columns)."""
    n_units = fit.posterior.shape[0]
    band_unit = fit.unit_code[fit.band_rows]
    heap = fit.meet[fit.band_rows][:, None]
    pi = np.clip(fit.pi, _CLIP, 1 - _CLIP)
    log_w = np.log(np.maximum(fit.posterior, 1e-300))
    out = np.empty((n_units, len(shares)))
    steps = row_steps(band_unit)
    for j, s in enumerate(shares):
        month = np.where(heap, np.log(pi + (1 - pi) * s), np.log1p(-pi) + np.log1p(-min(s, 1 - _CLIP)))
        total = np.zeros_like(log_w)
        add_rows(total, steps, month)
        out[:, j] = logsumexp(total + log_w, axis=1)
    return out


def _two_component(loglik: np.ndarray) -> tuple[int, float]:
    """Column ``j ≥ 1`` and share ``w`` maximising ``Σ_i log[(1 − w) L_i(0) + w L_i(s_j)]`` (EM for ``w``)."""
    ratio = np.exp(np.clip(loglik[:, 1:] - loglik[:, :1], -700, 700))  # L_i(s_j) / L_i(0)
    w = np.full(ratio.shape[1], 0.1)
    for _ in range(_EM_STEPS):
        new = np.mean(w * ratio / (1 - w + w * ratio), axis=0)
        if np.max(np.abs(new - w)) < 1e-10:
            w = new
            break
        w = new
    w = np.clip(w, 1e-12, 1 - 1e-12)
    total = np.sum(np.log1p(-w + w * ratio), axis=0)
    j = int(np.argmax(total))
    return j + 1, float(w[j])


def heap_evidence(fit: BandFit) -> HeapEvidence:
    """Each unit's log Bayes factor of manipulation against none at the fit's threshold (see the module)."""
    units = np.asarray(pd.unique(pd.Series(fit.unit_id)))
    loglik = _unit_loglik(fit, SHARES)
    in_band = np.bincount(fit.unit_code[fit.band_rows], minlength=len(units)) > 0
    j, w = _two_component(loglik[in_band]) if in_band.any() else (len(SHARES) - 1, 0.0)
    log_bf = np.where(in_band, loglik[:, j] - loglik[:, 0], 0.0)
    return HeapEvidence(units, log_bf, float(SHARES[j]), w)


def calibrated_log10_bf(p_values: np.ndarray) -> np.ndarray:
    """``log10`` of the Bayes factor a p-value can stand for: the mixture calibrator of Shafer et al. (2011).

    ``e(p) = ∫₀¹ κ p^(κ−1) dκ = (1 − p + p ln p) / (p ln² p)``: an e-value
    (its mean under the null is at most 1) for any valid p-value, 1/2 at
    ``p = 1``. It puts the checks that give only a p-value on the scale of
    :func:`heap_evidence`'s Bayes factors.

    References
    ----------
    Shafer, G., Shen, A., Vereshchagin, N., Vovk, V. (2011). Test martingales,
    Bayes factors and p-values. Statistical Science 26(1), 84–101.
    """
    p = np.clip(np.asarray(p_values, dtype=float), 1e-300, 1.0)
    log_p = np.log(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (1 - p + p * log_p) / (p * log_p**2)
    return np.log10(np.where(p > 1 - 1e-6, 0.5, e))
