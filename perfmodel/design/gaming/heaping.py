"""Threshold heaping, unit by unit and pooled (the "hole and heap" below and above a hard threshold).

:func:`threshold_specs` finds the hard thresholds of a framework,
:func:`threshold_checks` tests each unit's months near its threshold against
the exact distribution of meeting months under the counterfactual of
:mod:`~perfmodel.design.gaming.counterfactual` (peers in the same months, the
unit's own months away from the threshold), and
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

from perfmodel.design.gaming.counterfactual import BandFit, fit_band, mixture_sf
from perfmodel.design.gaming.data import _MIN_RHO_N, _RATE_WINDOW, _fmt, _fmt_p, _frame, _row
from perfmodel.design.gaming.evidence import heap_evidence
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
    return mixture_sf(x, np.asarray(probs, dtype=float)[:, None], np.ones(1))


def _band_fit(
    monthly: pd.DataFrame, spec: ThresholdSpec, min_months: int, groups: Mapping[str, str] | None
) -> BandFit | None:
    """The counterfactual of the units with at least ``min_months`` months of the indicator (None: no such unit)."""
    data = monthly[monthly["indicator"] == spec.indicator]
    data = data[data["value"].notna() | data["has_counts"]]
    data = data[data.groupby("unit_id")["unit_id"].transform("size") >= min_months]
    if data.empty:
        return None
    counts = bool(data["has_counts"].all()) and spec.kind == "rate"
    rate = spec.kind == "rate"
    maximum = spec.side == "max"
    if counts:
        y = data["numerator"].to_numpy(dtype=float) / data["denominator"].to_numpy(dtype=float)
    else:
        y = data["value"].to_numpy(dtype=float)
    t = spec.threshold
    if maximum:  # a ceiling y ≤ T is the floor 1 − y ≥ 1 − T for rates, −y ≥ −T otherwise
        y, t = (1 - y, 1 - t) if rate else (-y, -t)
    unit = data["unit_id"].to_numpy().astype(str)
    return fit_band(
        y,
        data["denominator"].to_numpy(dtype=float) if counts else None,
        unit,
        data["period"].to_numpy().astype(str),
        t,
        spec.window,
        spec.heap_width,
        groups=None if groups is None else np.array([groups.get(u, "") for u in unit], dtype=object),
        bounded=rate,
    )


def threshold_checks(
    monthly: pd.DataFrame,
    specs: Sequence[ThresholdSpec],
    *,
    min_months: int = 6,
    groups: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per-unit hole-and-heap test at each threshold (check ``threshold_heaping``).

    For each unit, the months near the threshold are classified as just
    missing it (the hole, ``[t − h, t)``) or just meeting it (the heap,
    ``[t, t + h/2)``; see :class:`ThresholdSpec`). The statistic is the number
    ``X`` of heap months among them: a manipulated month leaves the hole *and*
    joins the heap, so it moves ``X`` by one whatever the unit's level.

    The counterfactual (:mod:`~perfmodel.design.gaming.counterfactual`) says
    where the months would fall without manipulation: the peer group's month
    effects, the cross-sectional distribution of unit levels as the prior of
    the unit's level, and the unit's own months *outside* the band (months in
    the band count only as "in the band", so the manipulation cannot move the
    counterfactual). Given a level and spread, month *m* falls in the heap
    rather than the hole with probability ``π_m``; ``X`` is then
    Poisson-binomial. The p-value is the exact upper tail averaged over the
    unit's posterior of level and spread — the null is computed, not
    simulated, so p-values far below any bootstrap's resolution stay exact,
    as Benjamini–Hochberg over hundreds of units needs.

    ``statistic`` is the standardised excess ``(X − E X) / sd(X)``;
    ``expected`` is ``E X``. A unit whose possible rates skip the hole (19/20 =
    95 %, 18/20 = 90 %) carries no evidence and gets p = 1.

    The p-value decides the leads (error control); the column ``log10_bf``
    ranks units: the empirical-Bayes Bayes factor of manipulation against none
    (:mod:`~perfmodel.design.gaming.evidence`), which weighs each band month by
    its own counterfactual and does not depend on how many band months a unit
    has the way a p-value's attainable size does.

    Parameters
    ----------
    monthly
        :func:`~perfmodel.rollup.monthly_values` of the observations.
    specs
        Thresholds to test (:func:`threshold_specs`).
    min_months
        Units with fewer months of the indicator are not tested.
    groups
        ``{unit_id: peer group}``: month effects come from the unit's peer
        group. None: the whole cross-section is one group.
    """
    parts = [_threshold_frame(spec, _band_fit(monthly, spec, min_months, groups)) for spec in specs]
    return pd.concat(parts, ignore_index=True) if parts else _threshold_frame(None, None)


def _threshold_frame(spec: ThresholdSpec | None, fit: BandFit | None) -> pd.DataFrame:
    """One test row per unit of a fitted counterfactual, with the unit's ``log10_bf``."""
    if spec is None or fit is None:
        return _frame([]).assign(log10_bf=pd.Series(dtype=float))
    band_unit = fit.unit_code[fit.band_rows]
    rows = []
    for code, unit in enumerate(pd.unique(pd.Series(fit.unit_id))):
        mine = fit.unit_code == code
        rows.append(_heaping_row(str(unit), spec, fit, mine, band_unit == code, int(mine.sum())))
    return _frame(rows).assign(log10_bf=heap_evidence(fit).log_bf / np.log(10))


def _heaping_frame(fit: BandFit) -> pd.DataFrame:
    """Per-month posterior-mean hole and heap probabilities and observed sides."""
    return pd.DataFrame(
        {"unit_id": fit.unit_id, "p_miss": fit.p_miss, "p_meet": fit.p_meet, "meet": fit.meet, "miss": fit.miss}
    )


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
                f"按各单位的反事实(同类单位同月情况与本单位阈值附近以外的月份)预期{self.expected:.1f}个"
                f"(多出{self.excess:.1f}个,p = {_fmt_p(self.p_value)})。"
            )
        return (
            f"Of {self.months} unit-months near the threshold in {self.units} units, {self.observed} just "
            f"meet it where {self.expected:.1f} are expected from each unit's counterfactual "
            f"({self.excess:+.1f}, p = {_fmt_p(self.p_value)})."
        )


def pooled_heaping_test(
    monthly: pd.DataFrame,
    spec: ThresholdSpec,
    *,
    min_months: int = 6,
    groups: Mapping[str, str] | None = None,
) -> PooledHeaping:
    """Pool the per-unit heaping comparisons into one test (exact up to 2 000 months, then normal).

    Each month's heap probability is its posterior mean under the unit's
    counterfactual (see :func:`threshold_checks`); ``groups`` as there.
    """
    return _pooled_test(spec, _band_fit(monthly, spec, min_months, groups))


def _pooled_test(spec: ThresholdSpec, fit: BandFit | None) -> PooledHeaping:
    if fit is None:
        return PooledHeaping(spec.indicator, spec.threshold, 0, 0, 0, 0.0, 0.0, 1.0)
    parts = _heaping_frame(fit)
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


def _heaping_row(
    unit: str, spec: ThresholdSpec, fit: BandFit, mine: np.ndarray, sel: np.ndarray, months: int
) -> dict[str, Any]:
    """The test row of one unit: ``mine`` marks its months, ``sel`` its months in the band."""
    meet, miss = fit.meet[mine], fit.miss[mine]
    pi = fit.pi[sel]
    weights = fit.posterior[fit.unit_code[mine][0]]
    x = int(meet.sum())
    means = pi.sum(axis=0)
    expected = float(weights @ means)
    var = float(weights @ (pi * (1 - pi)).sum(axis=0) + weights @ (means - expected) ** 2)
    z = (x - expected) / math.sqrt(var) if var > 0 else 0.0
    p = mixture_sf(x, pi, weights, mid=True)
    e_meet, e_miss = float(fit.p_meet[mine].sum()), float(fit.p_miss[mine].sum())
    inside = int(meet.sum() + miss.sum())
    t = _fmt(spec.threshold, spec.kind)
    zh = (
        f"{months}个月中{x}个月刚好达标,落在{spec.meet_label()}(按同类单位同月情况和本单位阈值附近以外的月份"
        f"预期{e_meet:.1f}个),{int(miss.sum())}个月差一点未达标,落在{spec.miss_label()}(预期{e_miss:.1f}个);"
        f"阈值{t}附近的{inside}个月中有{x}个在达标一侧,预期{expected:.1f}个(p = {_fmt_p(p)})。"
    )
    en = (
        f"{x} of {months} months just meet the {t} threshold, in {spec.meet_label()} "
        f"({e_meet:.1f} expected from peers in the same months and the unit's months away from the "
        f"threshold); {int(miss.sum())} just miss it, in {spec.miss_label()} ({e_miss:.1f} expected). "
        f"Of the {inside} months near the threshold, {x} are on the passing side where {expected:.1f} "
        f"are expected (p = {_fmt_p(p)})."
    )
    return _row(unit, spec.indicator, "threshold_heaping", z, p, inside, x, expected, zh, en)
