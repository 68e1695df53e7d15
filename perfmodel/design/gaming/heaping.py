"""Threshold heaping, unit by unit and pooled (the "hole and heap" below and above a hard threshold).

:func:`threshold_specs` finds the hard thresholds of a framework,
:func:`threshold_checks` tests each unit's months near its threshold against
the exact Poisson-binomial distribution of meeting months under its own level
and denominators (see :mod:`perfmodel.design.gaming`), and
:func:`pooled_heaping_test` sums those comparisons over units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import betaln, gammaln

from perfmodel.design.gaming.data import _EPS, _MIN_RHO_N, _RATE_WINDOW, _fmt, _fmt_p, _frame, _row
from perfmodel.errors import OptionError
from perfmodel.framework import Framework
from perfmodel.text import check_lang

__all__ = [
    "PooledHeaping",
    "ThresholdSpec",
    "default_window",
    "pooled_heaping_test",
    "threshold_checks",
    "threshold_specs",
]


# ============================================================================ thresholds
@dataclass(frozen=True)
class ThresholdSpec:
    """A hard threshold whose neighbourhood is searched for heaping.

    ``side="min"``: a value passes when ``value ≥ threshold`` and gaming heaps just
    above it; ``side="max"``: it passes when ``value ≤ threshold`` and gaming heaps
    just below it. ``window`` is the width ``h`` of the *hole* (the failing side
    searched for missing months) and ``heap`` the width of the *heap* on the
    passing side; by default ``h / 2``, because a value nudged over a threshold
    lands just past it while the months it came from spread further below
    (Kleven 2016's hole-and-heap shape).
    """

    indicator: str
    threshold: float
    side: Literal["min", "max"]
    window: float
    kind: str = "rate"
    heap: float | None = None

    @property
    def heap_width(self) -> float:
        return self.window / 2 if self.heap is None else self.heap

    def meet_label(self) -> str:
        t, h = self.threshold, self.heap_width
        if self.side == "min":
            return f"[{_fmt(t, self.kind)}, {_fmt(t + h, self.kind)})"
        return f"({_fmt(t - h, self.kind)}, {_fmt(t, self.kind)}]"

    def miss_label(self) -> str:
        t, h = self.threshold, self.window
        if self.side == "min":
            return f"[{_fmt(t - h, self.kind)}, {_fmt(t, self.kind)})"
        return f"({_fmt(t, self.kind)}, {_fmt(t + h, self.kind)}]"


def default_window(kind: str, threshold: float, value_range: Sequence[float] | None = None) -> float:
    """Default half-width ``h`` of the threshold neighbourhood.

    Rates: 2 percentage points. Counts and points: 10 % of the threshold, at least 1.
    Other kinds: 5 % of the declared range (or of the threshold when no range).
    """
    if kind == "rate":
        return _RATE_WINDOW
    if kind in {"count", "points"}:
        return float(max(1.0, round(0.1 * abs(threshold))))
    if value_range is not None and value_range[1] > value_range[0]:
        return 0.05 * float(value_range[1] - value_range[0])
    return 0.05 * abs(threshold) if threshold else 1.0


def threshold_specs(
    framework: Framework | None,
    *,
    thresholds: Mapping[str, float] | None = None,
    window: float | Mapping[str, float] | None = None,
) -> list[ThresholdSpec]:
    """Thresholds to search: the framework's hard thresholds plus ``thresholds``.

    Parameters
    ----------
    framework
        Indicators with ``threshold: {min: …}`` or ``{max: …}`` are included.
    thresholds
        Extra ``{indicator: minimum}`` thresholds (a target that is not a formal
        threshold but is known to matter locally); they replace a framework
        minimum for the same indicator.
    window
        Half-width ``h``: one number for all, or ``{indicator: h}``; default
        :func:`default_window`.
    """
    meta = framework.indicator_meta() if framework is not None else {}
    kinds = framework.input_indicators() if framework is not None else {}
    found: dict[tuple[str, str], tuple[float, str, Any]] = {}
    for ind in meta.values():
        if ind.threshold is None:
            continue
        if ind.threshold.min is not None:
            found[(ind.id, "min")] = (ind.threshold.min, ind.kind, ind.range)
        if ind.threshold.max is not None:
            found[(ind.id, "max")] = (ind.threshold.max, ind.kind, ind.range)
    for indicator, value in (thresholds or {}).items():
        ind = meta.get(indicator)
        kind = ind.kind if ind is not None else kinds.get(indicator, "rate")
        found[(indicator, "min")] = (float(value), kind, ind.range if ind is not None else None)
    specs = []
    for (indicator, side), (value, kind, value_range) in found.items():
        if isinstance(window, Mapping):
            h = window.get(indicator)
        else:
            h = window
        h = default_window(kind, value, value_range) if h is None else float(h)
        if h <= 0:
            raise OptionError(f"window for {indicator!r} must be positive, got {h}")
        specs.append(ThresholdSpec(indicator, float(value), side, h, kind))  # type: ignore[arg-type]
    return specs


def _oriented_counts(k: np.ndarray, n: np.ndarray, spec: ThresholdSpec) -> tuple[np.ndarray, float]:
    """Numerators and threshold turned so that passing means ``k / n ≥ t``."""
    if spec.side == "min":
        return k, spec.threshold
    return n - k, 1.0 - spec.threshold


def _oriented_values(v: np.ndarray, spec: ThresholdSpec) -> tuple[np.ndarray, float]:
    if spec.side == "min":
        return v, spec.threshold
    return -v, -spec.threshold


def _kcut(rate: float, n: np.ndarray) -> np.ndarray:
    """Smallest integer k with k / n ≥ rate (with a floating-point tolerance)."""
    return np.ceil(rate * n - 1e-7)


def _log_comb(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def _log_kernel(k: np.ndarray, n: np.ndarray, mu: np.ndarray, rho: float) -> np.ndarray:
    """The μ-dependent part of the (beta-)binomial log pmf."""
    mu = np.clip(mu, 1e-9, 1 - 1e-9)
    if rho <= 1e-8:
        return k * np.log(mu) + (n - k) * np.log1p(-mu)
    scale = 1.0 / rho - 1.0
    a, b = mu * scale, (1.0 - mu) * scale
    return betaln(k + a, n - k + b) - betaln(a, b)


def _window_grid(lo: np.ndarray, hi: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``lo ≤ k < hi`` (within 0..n) of every row, padded: (grid, valid mask)."""
    lo = np.clip(lo, 0, n)
    hi = np.clip(hi, lo, n + 1)
    width = max(int(np.max(hi - lo, initial=0)), 1)
    grid = lo[:, None] + np.arange(width)[None, :]
    valid = grid < hi[:, None]
    return np.where(valid, grid, lo[:, None]), valid


def _window_mass(lo: np.ndarray, hi: np.ndarray, n: np.ndarray, mu: np.ndarray, rho: float) -> np.ndarray:
    """P(lo ≤ K < hi) for K ~ BetaBinomial(n, μ, ρ) (binomial when ρ is 0), row by row."""
    grid, valid = _window_grid(lo, hi, n)
    nn = n[:, None]
    mu = np.broadcast_to(mu, n.shape)[:, None]
    log_pmf = _log_comb(grid, nn) + _log_kernel(grid, nn, mu, rho)
    return np.where(valid, np.exp(log_pmf), 0.0).sum(axis=1)


def _censored_mean(
    k: np.ndarray, n: np.ndarray, lo: np.ndarray, hi: np.ndarray, codes: np.ndarray, rho: float
) -> np.ndarray:
    """Each unit's rate by maximum likelihood, months inside ``[lo, hi)`` interval-censored.

    A month inside the threshold window counts only as "somewhere in the
    window", so moving months from just below to just above the threshold —
    the manipulation under test — does not move the estimate. Golden-section
    search on the logit scale, all units at once. Returns one rate per row.
    """
    inside = (k >= lo) & (k < hi)
    n_units = int(codes.max()) + 1
    out_rows, in_rows = np.flatnonzero(~inside), np.flatnonzero(inside)
    k_out, n_out, c_out = k[out_rows], n[out_rows], codes[out_rows]
    grid, valid = _window_grid(lo[in_rows], hi[in_rows], n[in_rows])
    n_in, c_in = n[in_rows][:, None], codes[in_rows]
    comb_in = np.where(valid, _log_comb(grid, n_in), -np.inf)

    def loglik(x: np.ndarray) -> np.ndarray:
        mu = 1 / (1 + np.exp(-x))
        total = np.bincount(c_out, weights=_log_kernel(k_out, n_out, mu[c_out], rho), minlength=n_units)
        if len(in_rows):
            terms = comb_in + _log_kernel(grid, n_in, mu[c_in][:, None], rho)
            top = terms.max(axis=1, keepdims=True)
            mass = top[:, 0] + np.log(np.exp(terms - top).sum(axis=1))
            total += np.bincount(c_in, weights=mass, minlength=n_units)
        return total

    golden = (math.sqrt(5) - 1) / 2
    a, b = np.full(n_units, -9.0), np.full(n_units, 9.0)
    c, d = b - golden * (b - a), a + golden * (b - a)
    fc, fd = loglik(c), loglik(d)
    for _ in range(28):
        left = fc > fd  # the maximum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - golden * (b - a), d)
        d_new = np.where(left, c, a + golden * (b - a))
        f_new = loglik(np.where(left, c_new, d_new))
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
        c, d = c_new, d_new
    x = (a + b) / 2
    return (1 / (1 + np.exp(-x)))[codes]


def _pooled_rho(monthly: pd.DataFrame) -> float:
    """Beta-binomial intra-month correlation ρ shared by the units of an indicator.

    Method of moments on the units' Pearson dispersion (median across units, so
    a few manipulated series do not move it): ``φ = 1 + (n̄ − 1) ρ``.
    """
    rows = monthly[monthly["has_counts"]]
    phis, sizes = [], []
    for _, g in rows.groupby("unit_id", sort=False):
        k, n = g["numerator"].to_numpy(), g["denominator"].to_numpy()
        if len(k) < 4:
            continue
        mu = k.sum() / n.sum()
        if not 0 < mu < 1:
            continue
        x2 = np.sum((k - n * mu) ** 2 / (n * mu * (1 - mu)))
        df = len(k) - 1
        phis.append(x2 / stats.chi2.median(df))
        sizes.append(np.mean(n))
    if len(phis) < 3:
        return 0.0
    phi = float(np.median(phis))
    nbar = float(np.median(sizes))
    if nbar <= _MIN_RHO_N:
        return 0.0
    return float(np.clip((phi - 1.0) / (nbar - 1.0), 0.0, 0.5))


def _poisson_binomial_sf(x: int, probs: np.ndarray) -> float:
    """P(X ≥ x) for a sum of independent Bernoulli(probs)."""
    if x <= 0:
        return 1.0
    pmf = np.array([1.0])
    for p in probs:
        pmf = np.convolve(pmf, [1.0 - p, p])
    return float(min(1.0, pmf[x:].sum()))


def _heaping_counts(data: pd.DataFrame, spec: ThresholdSpec, rho: float) -> pd.DataFrame:
    """Per-month window probabilities and observed sides (count data, all units at once)."""
    k, n = data["numerator"].to_numpy(), data["denominator"].to_numpy()
    k, t = _oriented_counts(k, n, spec)
    unit = data["unit_id"].to_numpy()
    codes, _ = pd.factorize(pd.Series(unit))
    k_lo, k_t = _kcut(t - spec.window, n), _kcut(t, n)
    k_hi = np.maximum(_kcut(t + spec.heap_width, n), k_t + 1)  # the heap holds at least one count
    mu = _censored_mean(k, n, k_lo, k_hi, codes, rho)
    return pd.DataFrame(
        {
            "unit_id": unit,
            "p_miss": _window_mass(k_lo, k_t, n, mu, rho),
            "p_meet": _window_mass(k_t, k_hi, n, mu, rho),
            "meet": (k >= k_t) & (k < k_hi),
            "miss": (k >= k_lo) & (k < k_t),
        }
    )


def _heaping_values(data: pd.DataFrame, spec: ThresholdSpec) -> pd.DataFrame:
    """Per-month window probabilities for value-only data: normal with each unit's median and IQR-SD."""
    v, t = _oriented_values(data["value"].to_numpy(dtype=float), spec)
    frame = pd.DataFrame({"unit_id": data["unit_id"].to_numpy(), "v": v}).dropna()
    h, top = spec.window, spec.heap_width
    by_unit = frame.groupby("unit_id")["v"]
    mu = by_unit.transform("median").to_numpy()
    iqr = by_unit.transform(lambda x: x.quantile(0.75) - x.quantile(0.25)).to_numpy() / 1.349
    sd = np.maximum(np.nan_to_num(iqr), h / 4)
    cdf = [stats.norm.cdf(x, loc=mu, scale=sd) for x in (t - h, t, t + top)]
    vv = frame["v"].to_numpy()
    return pd.DataFrame(
        {
            "unit_id": frame["unit_id"].to_numpy(),
            "p_miss": cdf[1] - cdf[0],
            "p_meet": cdf[2] - cdf[1],
            "meet": (vv >= t - _EPS) & (vv < t + top - _EPS),
            "miss": (vv >= t - h - _EPS) & (vv < t - _EPS),
        }
    )


def threshold_checks(monthly: pd.DataFrame, specs: Sequence[ThresholdSpec], *, min_months: int = 6) -> pd.DataFrame:
    """Per-unit heaping test at each threshold (check ``threshold_heaping``).

    For each unit, the months near the threshold are classified as just
    missing it (the hole, ``[t − h, t)``) or just meeting it (the heap,
    ``[t, t + h/2)``; see :class:`ThresholdSpec`). Under the unit's own model —
    beta-binomial with each month's denominator, the dispersion ρ shared by the
    units of the indicator, and the unit's rate estimated by maximum likelihood
    with the months near the threshold interval-censored, so that the
    manipulation under test cannot move it — month *m* falls in the heap with
    probability ``π_m = P(heap) / (P(heap) + P(hole))``. The number of heap
    months is compared with its Poisson-binomial distribution; the p-value is
    the exact upper tail. ``statistic`` is the standardised excess
    ``(observed − Σπ) / √Σπ(1 − π)``. Rates given without counts use a normal
    model with the unit's median and interquartile spread.

    Conditioning on the months near the threshold makes the test insensitive to
    how far the unit's level is from the threshold; a unit with small
    denominators, whose possible rates skip the hole altogether (19/20 = 95 %,
    18/20 = 90 %), carries no evidence and gets p = 1.
    """
    rows: list[dict[str, Any]] = []
    for spec in specs:
        parts = _heaping_parts(monthly, spec, min_months)
        for unit, g in parts.groupby("unit_id", sort=True):
            rows.append(_heaping_row(str(unit), spec, g, len(g)))
    return _frame(rows)


def _heaping_parts(monthly: pd.DataFrame, spec: ThresholdSpec, min_months: int) -> pd.DataFrame:
    """Per-month hole/heap probabilities of the units with at least ``min_months`` months."""
    data = monthly[monthly["indicator"] == spec.indicator]
    if data.empty:
        return pd.DataFrame(columns=["unit_id", "p_miss", "p_meet", "meet", "miss"])
    counts = bool(data["has_counts"].all()) and spec.kind == "rate"
    parts = _heaping_counts(data, spec, _pooled_rho(data)) if counts else _heaping_values(data, spec)
    sizes = parts.groupby("unit_id")["unit_id"].transform("size")
    return parts[sizes >= min_months]


@dataclass(frozen=True)
class PooledHeaping:
    """Model-based pooled heaping test: is there bunching at the threshold at all?

    The per-unit comparisons of :func:`threshold_checks` summed over units: of the
    ``months`` unit-months near the threshold, ``observed`` are on the passing
    side where ``expected`` (variance ``variance``) are expected under each
    unit's own model. Unlike :func:`window_test`, no shape of the pooled density
    is assumed, so it stays valid when the threshold sits at the mode of the
    distribution (targets usually do).
    """

    indicator: str
    threshold: float
    units: int
    months: int
    observed: int
    expected: float
    variance: float
    p_value: float

    @property
    def excess(self) -> float:
        """Unit-months on the passing side beyond expectation."""
        return self.observed - self.expected

    @property
    def z(self) -> float:
        return self.excess / math.sqrt(self.variance) if self.variance > 0 else 0.0

    def to_frame(self) -> pd.DataFrame:
        """The test as one row: the counts, the excess, ``z`` and the p-value."""
        return pd.DataFrame(
            [
                {
                    "indicator": self.indicator,
                    "threshold": self.threshold,
                    "units": self.units,
                    "months": self.months,
                    "observed": self.observed,
                    "expected": self.expected,
                    "excess": self.excess,
                    "variance": self.variance,
                    "z": self.z,
                    "p_value": self.p_value,
                }
            ]
        )

    def summary(self, lang: str = "en") -> str:
        """One plain-language sentence with the numbers."""
        check_lang(lang)
        if lang == "zh":
            return (
                f"{self.units}个单位阈值附近的{self.months}个单位月中,{self.observed}个落在刚好达标一侧,"
                f"按各单位自身水平预期{self.expected:.1f}个(多出{self.excess:.1f}个,p = {_fmt_p(self.p_value)})。"
            )
        return (
            f"Of {self.months} unit-months near the threshold in {self.units} units, {self.observed} just "
            f"meet it where {self.expected:.1f} are expected from each unit's own level "
            f"({self.excess:+.1f}, p = {_fmt_p(self.p_value)})."
        )


def pooled_heaping_test(monthly: pd.DataFrame, spec: ThresholdSpec, *, min_months: int = 6) -> PooledHeaping:
    """Pool the per-unit heaping comparisons into one test (exact up to 2 000 months, then normal)."""
    parts = _heaping_parts(monthly, spec, min_months)
    inside = (parts["meet"] | parts["miss"]).to_numpy(dtype=bool)
    p_meet, p_miss = parts["p_meet"].to_numpy()[inside], parts["p_miss"].to_numpy()[inside]
    total = p_meet + p_miss
    pi = np.where(total > 0, p_meet / np.where(total > 0, total, 1.0), 1.0)
    x = int(parts["meet"].to_numpy(dtype=bool).sum())
    variance = float(np.sum(pi * (1 - pi)))
    if len(pi) <= 2000:
        p = _poisson_binomial_sf(x, pi)
    else:
        p = float(stats.norm.sf((x - 0.5 - pi.sum()) / math.sqrt(variance))) if variance > 0 else float(x > pi.sum())
    return PooledHeaping(
        spec.indicator,
        spec.threshold,
        int(parts["unit_id"].nunique()),
        int(inside.sum()),
        x,
        float(pi.sum()),
        variance,
        p,
    )


def _heaping_row(unit: str, spec: ThresholdSpec, parts: pd.DataFrame, months: int) -> dict[str, Any]:
    meet, miss = parts["meet"].to_numpy(), parts["miss"].to_numpy()
    p_meet, p_miss = parts["p_meet"].to_numpy(), parts["p_miss"].to_numpy()
    inside = meet | miss
    total = p_meet + p_miss
    pi = np.where(total > 0, p_meet / np.where(total > 0, total, 1.0), 1.0)[inside]
    x = int(meet.sum())
    expected = float(pi.sum())
    var = float(np.sum(pi * (1 - pi)))
    z = (x - expected) / math.sqrt(var) if var > 0 else 0.0
    p = _poisson_binomial_sf(x, pi)
    e_meet, e_miss = float(p_meet.sum()), float(p_miss.sum())
    t = _fmt(spec.threshold, spec.kind)
    zh = (
        f"{months}个月中{x}个月刚好达标,落在{spec.meet_label()}(按本单位自身水平和分母预期{e_meet:.1f}个),"
        f"{int(miss.sum())}个月差一点未达标,落在{spec.miss_label()}(预期{e_miss:.1f}个);"
        f"阈值{t}附近的{int(inside.sum())}个月中有{x}个在达标一侧,预期{expected:.1f}个(p = {_fmt_p(p)})。"
    )
    en = (
        f"{x} of {months} months just meet the {t} threshold, in {spec.meet_label()} "
        f"({e_meet:.1f} expected from the unit's own level and volumes); {int(miss.sum())} just miss it, "
        f"in {spec.miss_label()} ({e_miss:.1f} expected). Of the {int(inside.sum())} months near "
        f"the threshold, {x} are on the passing side where {expected:.1f} are expected "
        f"(p = {_fmt_p(p)})."
    )
    return _row(unit, spec.indicator, "threshold_heaping", z, p, int(inside.sum()), x, expected, zh, en)
