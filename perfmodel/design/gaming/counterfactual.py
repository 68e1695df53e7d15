"""The counterfactual of the threshold test: where a unit's months would fall without manipulation.

A manipulated month moves from just below a threshold (the *hole*) to just
above it (the *heap*). To say how many of a unit's months near the threshold
*should* be on the passing side, the unit's level and spread must come from
data the manipulation has not moved. This module builds that counterfactual
from two sources:

the cross-section
    the comparable units (the peer group) in the same month give the month
    effect ``b_gm`` (median over the group's units of each unit's deviation
    from its own median: seasons and campaigns move all units together), the
    distribution of unit levels (a kernel density, the prior of a unit's level)
    and the typical month-to-month spread ``τ`` beyond sampling noise; it reads
    every month in the band as the band's centre, so that moves within the
    band change none of these;
the unit's own history
    only the months *outside* the band ``[t − h, t + h/2)`` enter with their
    values; a month inside the band counts only as "somewhere in the band"
    (interval-censored), so moving months within the band — the manipulation
    under test — changes nothing in the counterfactual.

A unit's level ``μ`` and spread ``τ`` are integrated over a grid with those
weights (posterior ∝ cross-sectional prior × censored own likelihood), rather
than plugged in: a unit whose months all sit in the band has an undetermined
level, and the cross-sectional prior then spreads its level smoothly over the
band instead of guessing.

Month *m* of a unit has mean ``μ + λ b_gm`` (``λ``: how strongly the unit
follows its group's months, least squares shrunk towards 1) and variance ``μ(1 − μ)/n_m + τ²``
(rates with numerator and denominator: sampling variance from the month's
denominator, and the band's edges put between the possible counts — a
continuity correction — so that a denominator whose possible rates skip the
hole gives the hole no mass)
or ``τ²`` (values alone). The months outside the band enter with the normal
density of their value, with 5 % of "odd" months at four times the spread so
that one odd month does not decide the unit's spread. Given the grid point, the month falls in the
heap rather than the hole with probability ``π_m = P(heap) / (P(heap) + P(hole))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

__all__ = ["BandFit", "add_rows", "fit_band", "mixture_sf", "row_steps"]

_LEVEL_POINTS = 121
_SPREAD_FACTORS_COUNTS = np.array([0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
_SPREAD_FACTORS_VALUES = 2.0 ** np.arange(-3.0, 4.5, 0.75)
_MIN_GROUP = 5
_ODD = 0.05
_TINY = 1e-300


@dataclass(frozen=True)
class BandFit:
    """Per-month band probabilities of one indicator, on a grid of unit levels and spreads.

    Attributes
    ----------
    unit_id
        Unit of each row (month), as in the input order.
    meet, miss
        Whether the month is in the heap (just meeting) or the hole (just missing).
    band_rows
        Indices of the rows (months) in the band (hole or heap).
    pi
        ``(len(band_rows), grid)``: probability that a month in the band is in the
        heap, per grid point.
    posterior
        ``(units, grid)``: posterior weight of each grid point for each unit (rows sum to 1).
    unit_code
        Row of :attr:`posterior` of each month.
    p_meet, p_miss
        Posterior-mean probability of the heap and the hole for each month.
    month_effect
        The cross-sectional month effect of each row (the peer group's, times the unit's loading).
    level, spread
        The grid: unit level ``μ`` and extra spread ``τ`` of each grid point.
    """

    unit_id: np.ndarray
    meet: np.ndarray
    miss: np.ndarray
    band_rows: np.ndarray
    pi: np.ndarray
    posterior: np.ndarray
    unit_code: np.ndarray
    p_meet: np.ndarray
    p_miss: np.ndarray
    month_effect: np.ndarray
    level: np.ndarray
    spread: np.ndarray


def _month_effects(y: np.ndarray, unit: np.ndarray, period: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Median over the peer group's units of each unit's deviation from its own median, per month."""
    frame = pd.DataFrame({"y": y, "unit": unit, "period": period, "group": group})
    frame["dev"] = frame["y"] - frame.groupby("unit")["y"].transform("median")
    size = frame.groupby("group")["unit"].transform("nunique")
    frame.loc[size < _MIN_GROUP, "group"] = "\0all"  # too few peers: the whole cross-section
    effect = frame.groupby(["group", "period"])["dev"].transform("median")
    effect = effect - effect.groupby(frame["group"]).transform("mean")
    return effect.fillna(0.0).to_numpy(dtype=float)


def _loadings(y: np.ndarray, effect: np.ndarray, unit: np.ndarray, prior_months: float = 6.0) -> np.ndarray:
    """How strongly each unit follows its peer group's month effects (1: fully), per row.

    Least squares of the unit's deviations from its median on the month effect,
    shrunk towards 1 with the weight of ``prior_months`` months and kept in
    ``[0, 1.5]``: a unit that works to a target all year does not follow the season.
    """
    frame = pd.DataFrame({"unit": unit, "b": effect})
    frame["d"] = y - frame.assign(y=y).groupby("unit")["y"].transform("median")
    frame["db"], frame["bb"] = frame["d"] * frame["b"], frame["b"] ** 2
    sums = frame.groupby("unit", sort=False)[["db", "bb"]].sum()
    typical = float(frame["bb"].mean()) * prior_months
    if not typical > 0:  # no month effects to follow
        return np.ones(len(unit))
    loading = ((sums["db"] + typical) / (sums["bb"] + typical)).clip(0.0, 1.5)
    return loading.reindex(unit).to_numpy(dtype=float)


def row_steps(index: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows of ``index`` by their position among the rows of the same target: ``[(targets, rows), …]``.

    Step ``k`` holds the ``k``-th row of every target that has one, so the targets of
    a step are distinct. Adding the steps in order (:func:`add_rows`) adds each
    target's rows in their order, as ``np.add.at`` does, without its per-element loop.
    """
    if not len(index):
        return []
    order = np.argsort(index, kind="stable")
    targets = index[order]
    start = np.flatnonzero(np.r_[True, targets[1:] != targets[:-1]])
    position = np.arange(len(index)) - np.repeat(start, np.diff(np.r_[start, len(index)]))
    return [(targets[position == k], order[position == k]) for k in range(int(position.max()) + 1)]


def add_rows(total: np.ndarray, steps: list[tuple[np.ndarray, np.ndarray]], values: np.ndarray) -> None:
    """``np.add.at(total, index, values)`` over the steps of :func:`row_steps` (``index``): the same sums, exactly."""
    for targets, rows in steps:
        total[targets] += values[rows]


def _kde(points: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of ``points`` on ``grid`` (normalised to sum 1 on the grid)."""
    z = (grid[:, None] - points[None, :]) / bandwidth
    density = np.exp(-0.5 * z**2).sum(axis=1) + 1e-12
    return density / density.sum()


def fit_band(
    y: np.ndarray,
    n: np.ndarray | None,
    unit: np.ndarray,
    period: np.ndarray,
    threshold: float,
    hole: float,
    heap: float,
    *,
    groups: np.ndarray | None = None,
    bounded: bool = True,
    guard: float = 0.0,
) -> BandFit:
    """Counterfactual band probabilities of every month of one indicator (oriented: passing is ``y ≥ t``).

    Parameters
    ----------
    y
        Monthly values, oriented so that a month passes when ``y ≥ threshold``
        (a ceiling ``y ≤ T`` on a rate is passed as ``1 − y ≥ 1 − T``).
    n
        Monthly denominators when the values are rates with counts (then
        ``y · n`` are the numerators); None for values alone.
    unit, period
        Unit and month of each row.
    threshold, hole, heap
        The threshold ``t``, the width ``h`` of the hole ``[t − h, t)`` and of the heap ``[t, t + heap)``.
    groups
        Peer group of each row (month effects are computed within groups of at
        least five units; the whole cross-section otherwise). None: one group.
    bounded
        Values are rates in ``[0, 1]`` (means are kept inside).
    guard
        The own-history likelihood censors a band wider than the test's by this
        share of each side's width (``[t − (1 + g)h, t + (1 + g)·heap)``), so
        months moved from a little further below, or landing a little further
        above, do not move the counterfactual either.
    """
    y = np.asarray(y, dtype=float)
    unit = np.asarray(unit).astype(str)
    rows = len(y)
    group = np.zeros(rows, dtype=object) if groups is None else np.asarray(groups, dtype=object)
    counts = n is not None
    t = threshold
    if counts:
        nn = np.asarray(n, dtype=float)
        k = np.round(y * nn)
        k_lo, k_t = np.ceil((t - hole) * nn - 1e-7), np.ceil(t * nn - 1e-7)
        k_hi = np.maximum(np.ceil((t + heap) * nn - 1e-7), k_t + 1)
        c_lo = np.minimum(np.ceil((t - hole - guard * hole) * nn - 1e-7), k_lo)
        c_hi = np.maximum(np.ceil((t + heap + guard * heap) * nn - 1e-7), k_hi)
        miss, meet = (k >= k_lo) & (k < k_t), (k >= k_t) & (k < k_hi)
        censored = (k >= c_lo) & (k < c_hi)
        # Continuity-corrected edges on the value scale.
        edges = np.stack([c_lo - 0.5, k_lo - 0.5, k_t - 0.5, k_hi - 0.5, c_hi - 0.5], axis=1) / nn[:, None]
    else:
        nn = np.ones(rows)
        eps = 1e-9
        miss = (y >= t - hole - eps) & (y < t - eps)
        meet = (y >= t - eps) & (y < t + heap - eps)
        cuts = [t - hole - guard * hole, t - hole, t, t + heap, t + heap + guard * heap]
        censored = (y >= cuts[0] - eps) & (y < cuts[-1] - eps)
        edges = np.tile(np.array(cuts) - eps, (rows, 1))
    band = miss | meet

    # The cross-section reads the band's months as the band's centre: moving months within
    # the band changes neither the month effects nor the level prior nor the typical spread.
    y_cs = np.where(band, (edges[:, 1] + edges[:, 3]) / 2, y)
    effect = _month_effects(y_cs, unit, np.asarray(period).astype(str), group)
    effect = effect * _loadings(y_cs, effect, unit)
    resid = y_cs - effect
    frame = pd.DataFrame({"unit": unit, "r": resid, "v": (y_cs * (1 - y_cs) / nn) if counts else 0.0})
    by_unit = frame.groupby("unit", sort=False)
    levels = by_unit["r"].median()
    frame["dev"] = (frame["r"] - frame.groupby("unit", sort=False)["r"].transform("median")).abs()
    mad = frame.groupby("unit", sort=False)["dev"].median() * 1.4826
    sampling = by_unit["v"].mean().clip(lower=0.0)
    extra = np.sqrt(np.clip(mad.to_numpy() ** 2 - sampling.reindex(mad.index).to_numpy(), 0.0, None))
    tau0 = float(np.median(extra)) if len(extra) else hole
    tau0 = max(tau0, hole / 4)  # the band's months read as one value understate the spread

    # The grid of unit levels (cross-sectional prior) and spreads.
    lv = levels.to_numpy()
    pad = 4 * (tau0 + hole)
    lo, hi = float(lv.min() - pad), float(lv.max() + pad)
    if bounded:
        lo, hi = max(lo, 1e-4), min(hi, 1 - 1e-4)
    mu_grid = np.linspace(lo, hi, _LEVEL_POINTS)
    spread_iqr = float(np.subtract(*np.percentile(lv, [75, 25]))) / 1.349 if len(lv) > 1 else 0.0
    bandwidth = max(1.06 * min(float(np.std(lv)), spread_iqr or np.inf) * len(lv) ** -0.2, hole / 4, 1e-6)
    prior_mu = _kde(lv, mu_grid, bandwidth) if len(lv) else np.full(_LEVEL_POINTS, 1 / _LEVEL_POINTS)
    factors = _SPREAD_FACTORS_COUNTS if counts else _SPREAD_FACTORS_VALUES
    tau_grid = tau0 * factors
    mu_g = np.repeat(mu_grid, len(tau_grid))
    tau_g = np.tile(tau_grid, len(mu_grid))
    log_prior = np.log(np.repeat(prior_mu, len(tau_grid)) / len(tau_grid))

    codes, uniques = pd.factorize(pd.Series(unit))
    log_post = np.tile(log_prior, (len(uniques), 1))

    chunk = max(1, 1_000_000 // len(mu_g))
    p_miss_all = np.empty((rows, len(mu_g)), dtype=np.float32)
    p_meet_all = np.empty((rows, len(mu_g)), dtype=np.float32)
    for start in range(0, rows, chunk):
        sl = slice(start, min(rows, start + chunk))
        mean = mu_g[None, :] + effect[sl, None]
        if bounded:
            mean = np.clip(mean, 5e-4, 1 - 5e-4)
        var = tau_g[None, :] ** 2
        if counts:
            var = var + mean * (1 - mean) / nn[sl, None]
        sd = np.sqrt(np.maximum(np.broadcast_to(var, mean.shape), 1e-12))
        cdf = {j: ndtr((edges[sl, j, None] - mean) / sd) for j in (1, 2, 3)}
        p_miss = np.maximum(cdf[2] - cdf[1], 0.0)
        p_meet = np.maximum(cdf[3] - cdf[2], 0.0)
        p_miss_all[sl], p_meet_all[sl] = p_miss, p_meet
        inside = censored[sl]
        loglik = np.empty_like(mean)
        # the censoring band's edges matter only for the censored months: their rows alone
        m_in, sd_in = mean[inside], sd[inside]
        low, high = (ndtr((edges[sl][inside, j, None] - m_in) / sd_in) for j in (0, 4))
        loglik[inside] = np.log(np.maximum(high - low, _TINY))
        out = ~inside
        m_out, sd_out = mean[out], sd[out]
        z = (y[sl][out, None] - m_out) / sd_out
        # Normal with a small share of odd months (four times the spread): one odd month
        # does not decide a unit's spread.
        core = np.log1p(-_ODD) - 0.5 * z**2 - np.log(sd_out)
        odd = np.log(_ODD) - 0.5 * (z / 4) ** 2 - np.log(4 * sd_out)
        loglik[out] = np.logaddexp(core, odd)
        add_rows(log_post, row_steps(codes[sl]), loglik)
    log_post -= log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post)
    post /= post.sum(axis=1, keepdims=True)
    band_rows = np.flatnonzero(band)
    total = p_miss_all[band_rows].astype(float) + p_meet_all[band_rows]
    pi = np.where(total > 0, p_meet_all[band_rows] / np.where(total > 0, total, 1.0), 0.5)
    p_meet_mean = np.einsum("ij,ij->i", post[codes], p_meet_all, dtype=float)
    p_miss_mean = np.einsum("ij,ij->i", post[codes], p_miss_all, dtype=float)
    return BandFit(
        unit_id=unit,
        meet=meet,
        miss=miss,
        band_rows=band_rows,
        pi=pi,
        posterior=post,
        unit_code=codes,
        p_meet=p_meet_mean,
        p_miss=p_miss_mean,
        month_effect=effect,
        level=mu_g,
        spread=tau_g,
    )


def mixture_sf(x: int, pi: np.ndarray, weights: np.ndarray, *, mid: bool = False) -> float:
    """``Σ_g w_g P(X_g ≥ x)`` with ``X_g`` Poisson-binomial with probabilities ``pi[:, g]``.

    ``mid=True``: the mid-p-value ``P(X > x) + P(X = x) / 2`` (Lancaster 1961).
    """
    m, g = pi.shape
    if x <= 0 and not mid:
        return 1.0
    pmf = np.zeros((g, m + 1))
    pmf[:, 0] = 1.0
    for i in range(m):
        p = pi[i][:, None]
        shifted = np.zeros_like(pmf)
        shifted[:, 1:] = pmf[:, :-1]
        pmf = pmf * (1 - p) + shifted * p
    x = max(int(x), 0)
    tail = pmf[:, x:].sum(axis=1)
    if mid:
        tail = tail - 0.5 * pmf[:, x]
    return float(min(1.0, np.dot(weights, tail)))
