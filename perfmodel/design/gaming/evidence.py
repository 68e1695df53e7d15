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

(``h_m = 1`` for a heap month). ``s = 0`` is the null. The distribution of
``s`` across units is estimated from all units at once — the nonparametric
maximum-likelihood mixture on a grid of shares (Kiefer & Wolfowitz 1956),
fitted by EM (deterministic, no random start) — and the alternative is that
distribution without its mass at 0, mixed with 5 % of a uniform distribution
so that it exists in a world without manipulation. A unit's evidence is

``log BF_i = log Σ_{s > 0} f̃_s L_i(s) − log L_i(0)``.

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

from perfmodel.design.gaming.counterfactual import BandFit

__all__ = ["HeapEvidence", "calibrated_log10_bf", "heap_evidence"]

SHARES = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
"""Grid of manipulated shares ``s`` (0: no manipulation)."""
_UNIFORM = 0.05
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
        Natural log of each unit's Bayes factor, manipulation against none
        (0 for a unit without band months).
    shares, weights
        The grid of manipulated shares ``s`` and the estimated distribution of
        ``s`` across units (``weights[0]``: the share of units that do not manipulate).
    alternative
        The distribution of ``s`` under manipulation used in ``log_bf``
        (``weights`` without ``s = 0``, mixed with 5 % uniform).
    """

    unit_id: np.ndarray
    log_bf: np.ndarray
    shares: np.ndarray
    weights: np.ndarray
    alternative: np.ndarray

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
    for j, s in enumerate(shares):
        month = np.where(heap, np.log(pi + (1 - pi) * s), np.log1p(-pi) + np.log1p(-min(s, 1 - _CLIP)))
        total = np.zeros_like(log_w)
        np.add.at(total, band_unit, month)
        out[:, j] = logsumexp(total + log_w, axis=1)
    return out


def _npmle(loglik: np.ndarray) -> np.ndarray:
    """Mixing weights over the columns of ``loglik`` maximising ``Σ_i log Σ_s f_s L_i(s)`` (EM)."""
    weights = np.full(loglik.shape[1], 1 / loglik.shape[1])
    shifted = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    for _ in range(_EM_STEPS):
        joint = shifted * weights
        resp = joint / joint.sum(axis=1, keepdims=True)
        new = resp.mean(axis=0)
        if np.max(np.abs(new - weights)) < 1e-9:
            return new
        weights = new
    return weights


def heap_evidence(fit: BandFit) -> HeapEvidence:
    """Each unit's log Bayes factor of manipulation against none at the fit's threshold (see the module)."""
    units = np.asarray(pd.unique(pd.Series(fit.unit_id)))
    loglik = _unit_loglik(fit, SHARES)
    in_band = np.bincount(fit.unit_code[fit.band_rows], minlength=len(units)) > 0
    weights = _npmle(loglik[in_band]) if in_band.any() else np.r_[1.0, np.zeros(len(SHARES) - 1)]
    rest = weights[1:]
    alternative = rest / rest.sum() if rest.sum() > 0 else np.full(len(rest), 1 / len(rest))
    alternative = (1 - _UNIFORM) * alternative + _UNIFORM / len(rest)
    log_bf = logsumexp(loglik[:, 1:] + np.log(alternative), axis=1) - loglik[:, 0]
    log_bf = np.where(in_band, log_bf, 0.0)
    return HeapEvidence(units, log_bf, SHARES.copy(), weights, alternative)


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
