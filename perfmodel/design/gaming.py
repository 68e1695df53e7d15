"""Gaming and data-distortion detection on monthly data (R16): leads, not verdicts.

Score chasing and careless or doctored statistics leave traces in the figures
units report. This module looks for them unit by unit (one check per trace
below) and ranks units by the combined evidence:

``threshold_heaping``
    Values pile up just above a hard threshold (e.g. 三实信息采集率 ≥ 95 %, R9)
    and are missing just below it — the "hole and heap" left when months at
    93–95 % are reported as 95 %. For each unit, the months near the threshold
    are split into "just meeting" and "just missing"; under the unit's own level
    and monthly denominators (beta-binomial with the dispersion shared by all
    units; the level estimated with those months censored, so the manipulation
    cannot hide itself) each month has an exact probability of landing on the
    meeting side. The number of meeting months is compared with that
    Poisson-binomial distribution (exact one-sided p-value). Conditioning on the
    months near the threshold makes the test insensitive to how far the unit's
    level is from the threshold.
``under_dispersion``
    A rate varies less from month to month than its volume allows: the Pearson
    dispersion index ``Σ (k − nμ)² / (nμ(1 − μ)) / (M − 1)`` against the binomial
    (Poisson for counts), lower tail of χ²(M − 1). Real data are usually
    *over*-dispersed, so the test is conservative.
``level_shift``
    A sudden change of level: the most significant break month by the exact
    Wilcoxon rank-sum test (at least ``min_segment`` months on each side),
    Bonferroni-corrected for the number of candidates.
``repeated_values``
    The same figures (value, or numerator and denominator) in ``k`` or more
    consecutive months. The p-value is the chance of such a run under the unit's
    own rate and volume (binomial; Poisson for counts; the unit's own value
    frequencies otherwise), Bonferroni-corrected for the possible starts.
``last_digit`` and ``round_numbers``
    Last digits of reported counts (count values and denominators of series whose
    month-to-month spread is wide enough for last digits to be uniform) tested
    against uniformity (χ², exact multinomial by simulation for few digits), and
    the share ending in 0 or 5 against 20 % (one-sided binomial).
``round_percent``
    Rates reported without numerator and denominator that are round percentages
    (multiples of 5 %) more often than among the other units.

Pooled across units, :func:`pooled_heaping_test` sums the per-unit threshold
comparisons (is there heaping at all?); :func:`bunching` estimates the excess
mass above and the missing mass below a threshold against a polynomial
counterfactual density (Chetty et al. 2011; Kleven 2016) with bootstrap
confidence intervals; and :func:`window_test` is the classic narrow-window
binomial test (expected share 1/2, or from a locally linear density — which
misleads when the threshold sits at the mode of the distribution, as targets
often do).

All p-values of all units, indicators and checks form one family for the
Benjamini–Hochberg q-values; a row is a *lead* when ``q ≤ q_level``. A unit's
``score`` is ``−log10`` of the harmonic mean of its p-values (Wilson 2019), which
ranks units by combined evidence whether it comes from one strong check or from
several moderate ones.

Every output says it plainly: flags are leads for verification — a third-party
check of the underlying records (第三方校验, R16) — never proof of manipulation.
A genuine improvement, a real change of catchment or a legitimately constant
denominator can trigger a check.

References
----------
Chetty, R., Friedman, J., Olsen, T., Pistaferri, L. (2011). Adjustment costs, firm
responses, and micro vs. macro labor supply elasticities. QJE 126(2), 749–804.
Kleven, H. J. (2016). Bunching. Annual Review of Economics 8, 435–464.
Wilson, D. J. (2019). The harmonic mean p-value for combining dependent tests.
PNAS 116(4), 1195–1200.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import betaln, gammaln, i0e

from perfmodel.framework import Framework, load_framework
from perfmodel.multiple_testing import bh_qvalues
from perfmodel.periods import months_in, parse_month, parse_period, period_label
from perfmodel.text import check_lang

__all__ = [
    "CHECKS",
    "DISCLAIMER",
    "TEST_COLUMNS",
    "BunchingResult",
    "DigitTest",
    "GamingReport",
    "PooledHeaping",
    "ThresholdSpec",
    "WindowTest",
    "benjamini_hochberg",
    "bunching",
    "default_window",
    "detect_gaming",
    "digit_checks",
    "dispersion_checks",
    "checks_table",
    "figure_bunching",
    "harmonic_mean_p",
    "leads_table",
    "units_table",
    "last_digit_test",
    "level_shift_checks",
    "monthly_series",
    "pooled_heaping_test",
    "repeat_checks",
    "round_percent_checks",
    "run_gaming",
    "select_months",
    "threshold_checks",
    "threshold_specs",
    "window_test",
]

CHECKS: dict[str, dict[str, str]] = {
    "threshold_heaping": {
        "zh": "阈值附近堆积(刚好达标多、差一点未达标少)",
        "en": "heaping just above a hard threshold",
    },
    "under_dispersion": {"zh": "波动过小(小于分母规模应有的随机波动)", "en": "too smooth for its volume"},
    "level_shift": {"zh": "水平突变", "en": "sudden level shift"},
    "repeated_values": {"zh": "连续多月数字完全相同", "en": "figures repeated verbatim"},
    "last_digit": {"zh": "末位数字分布异常", "en": "last-digit preference"},
    "round_numbers": {"zh": "计数末位为0或5过多", "en": "excess of counts ending in 0 or 5"},
    "round_percent": {"zh": "整数百分比过多", "en": "excess of round percentages"},
}
"""Check id → plain-language name (zh, en)."""

DISCLAIMER: dict[str, str] = {
    "zh": (
        "以下标记是需要核查的线索,不是造假的结论。统计异常也可能来自真实的工作改进、辖区或口径变化、"
        "本来就固定的分母等正当原因。请对被标记单位的原始台账和业务系统记录做第三方校验(R16),"
        "核实之前不得据此扣分或问责。"
    ),
    "en": (
        "These flags are leads for verification, not verdicts. A statistical anomaly can also "
        "come from a genuine improvement, a change of jurisdiction or definitions, or a "
        "denominator that is legitimately constant. Verify the flagged units' source records "
        "with a third-party check (R16) before any score or accountability consequence."
    ),
}
"""The statement every output of this module carries."""

TEST_COLUMNS: list[str] = [
    "unit_id",
    "indicator",
    "check",
    "statistic",
    "p_value",
    "n",
    "observed",
    "expected",
    "evidence_zh",
    "evidence_en",
]
"""Columns returned by each ``*_checks`` function (one row per unit × indicator × check)."""

_EPS = 1e-9
_RATE_WINDOW = 0.02
_MIN_RHO_N = 2.0


# ============================================================================ data preparation
def select_months(
    observations: pd.DataFrame,
    period: str | None = None,
    *,
    history_months: int | None = None,
) -> pd.DataFrame:
    """Rows of ``observations`` in ``period`` (all rows when ``period`` is None).

    Parameters
    ----------
    observations
        Long observations with a ``period`` column of months (``YYYY-MM``).
    period
        A month, quarter or year (``2025-04``, ``2025Q2``, ``2025``).
    history_months
        When given, the ``history_months`` months ending with the last month of
        ``period`` instead of the months of ``period`` itself — gaming checks need a
        series of months, while an evaluation period may be one quarter.
    """
    if period is None:
        return observations.copy()
    months = months_in(parse_period(period))
    if history_months is not None:
        if history_months < 1:
            raise ValueError(f"history_months must be at least 1, got {history_months}")
        last = months[-1]
        months = [last - i for i in range(history_months - 1, -1, -1)]
    wanted = {str(m) for m in months}
    return observations.loc[np.isin(_month_labels(observations["period"]), list(wanted))].copy()


def _month_labels(periods: pd.Series) -> np.ndarray:
    """``YYYY-MM`` text of every period (each distinct value parsed once)."""
    codes, uniques = pd.factorize(periods.astype(str))
    labels = np.array([str(parse_month(u)) for u in uniques], dtype=object)
    return labels[codes] if len(labels) else np.array([], dtype=object)


def monthly_series(observations: pd.DataFrame, framework: Framework | None = None) -> pd.DataFrame:
    """One row per unit × indicator × month, sorted by unit, indicator and month.

    Several rows of a month (several raters) are combined: values averaged,
    numerators and denominators summed (missing if any row lacks them).

    Returns
    -------
    DataFrame
        ``unit_id``, ``indicator``, ``kind`` (from the framework; ``"unknown"`` for
        indicators it does not list), ``period``, ``value``, ``numerator``,
        ``denominator``, ``has_counts`` (integer numerator and positive denominator).
    """
    needed = {"period", "unit_id", "indicator", "value"}
    missing = needed - set(observations.columns)
    if missing:
        raise ValueError(
            f"observations lack column(s) {', '.join(sorted(missing))}; gaming checks need the "
            "clean long table (period, unit_id, indicator, value[, numerator, denominator])"
        )
    frame = pd.DataFrame(
        {
            "unit_id": observations["unit_id"].astype(str).to_numpy(),
            "indicator": observations["indicator"].astype(str).to_numpy(),
            "period": _month_labels(observations["period"]),
            "value": pd.to_numeric(observations["value"], errors="coerce").to_numpy(dtype=float),
        }
    )
    for column in ("numerator", "denominator"):
        source = observations[column] if column in observations.columns else np.nan
        frame[column] = pd.to_numeric(pd.Series(source, index=observations.index), errors="coerce").to_numpy(dtype=float)
    frame["_no_counts"] = frame["numerator"].isna() | frame["denominator"].isna()
    grouped = frame.groupby(["unit_id", "indicator", "period"], sort=True)
    monthly = grouped.agg(
        value=("value", "mean"),
        numerator=("numerator", "sum"),
        denominator=("denominator", "sum"),
        no_counts=("_no_counts", "any"),
    ).reset_index()
    monthly.loc[monthly["no_counts"], ["numerator", "denominator"]] = np.nan
    kinds = framework.input_indicators() if framework is not None else {}
    monthly.insert(2, "kind", [kinds.get(i, "unknown") for i in monthly["indicator"]])
    num, den = monthly["numerator"].to_numpy(), monthly["denominator"].to_numpy()
    with np.errstate(invalid="ignore"):
        integer = (np.abs(num - np.round(num)) < _EPS) & (np.abs(den - np.round(den)) < _EPS)
    monthly["has_counts"] = ~monthly["no_counts"] & integer & (den > 0) & (num >= 0) & (num <= den)
    return monthly.drop(columns="no_counts")


@dataclass(frozen=True)
class _Series:
    """One unit × indicator monthly series as arrays (in month order)."""

    unit: str
    indicator: str
    kind: str
    period: np.ndarray
    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    counts: bool

    def __len__(self) -> int:
        return len(self.period)


def _series(monthly: pd.DataFrame) -> Iterable[_Series]:
    """Iterate over the unit × indicator series of a :func:`monthly_series` frame."""
    if monthly.empty:
        return
    frame = monthly.sort_values(["unit_id", "indicator", "period"], kind="stable")
    unit = frame["unit_id"].to_numpy(dtype=object)
    indicator = frame["indicator"].to_numpy(dtype=object)
    arrays = {c: frame[c].to_numpy() for c in ("kind", "period", "value", "numerator", "denominator", "has_counts")}
    change = np.flatnonzero((unit[1:] != unit[:-1]) | (indicator[1:] != indicator[:-1])) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(unit)]])
    for a, b in zip(starts, ends, strict=True):
        yield _Series(
            str(unit[a]), str(indicator[a]), str(arrays["kind"][a]), arrays["period"][a:b].astype(str),
            arrays["value"][a:b].astype(float), arrays["numerator"][a:b].astype(float),
            arrays["denominator"][a:b].astype(float), bool(arrays["has_counts"][a:b].all()),
        )


def _row(
    unit: str,
    indicator: str,
    check: str,
    statistic: float,
    p_value: float,
    n: int,
    observed: float,
    expected: float,
    zh: str,
    en: str,
) -> dict[str, Any]:
    return dict(
        zip(
            TEST_COLUMNS,
            (unit, indicator, check, float(statistic), float(min(max(p_value, 0.0), 1.0)), int(n),
             float(observed), float(expected), zh, en),
            strict=True,
        )
    )


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def _fmt(value: float, kind: str) -> str:
    if not np.isfinite(value):
        return "–"
    if kind == "rate":
        return f"{value:.1%}"
    return f"{value:.3g}"


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


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
            raise ValueError(f"window for {indicator!r} must be positive, got {h}")
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


def _window_mass(
    lo: np.ndarray, hi: np.ndarray, n: np.ndarray, mu: np.ndarray, rho: float
) -> np.ndarray:
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


def threshold_checks(
    monthly: pd.DataFrame, specs: Sequence[ThresholdSpec], *, min_months: int = 6
) -> pd.DataFrame:
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
        spec.indicator, spec.threshold, int(parts["unit_id"].nunique()), int(inside.sum()), x,
        float(pi.sum()), variance, p,
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


# ============================================================================ pooled: bunching
@dataclass(frozen=True)
class BunchingResult:
    """Excess mass above and missing mass below a threshold (pooled over units).

    Attributes
    ----------
    bins
        One row per bin: ``left``, ``right``, ``centre``, ``count`` (observed
        mass), ``counterfactual`` (polynomial fitted outside the excluded window),
        ``region`` (``"heap"``: passing side of the window, ``"hole"``: failing
        side, ``"fit"``: used for the fit). Bins are in the original orientation.
    excess, missing
        Observed minus counterfactual mass in the heap; counterfactual minus
        observed mass in the hole (numbers of unit-months).
    excess_ci, missing_ci
        Bootstrap percentile intervals (level ``ci``).
    excess_se, missing_se
        Bootstrap standard errors.
    n
        Mass inside the fit range.
    """

    threshold: float
    side: str
    bin_width: float
    exclude: tuple[float, float]
    fit_range: tuple[float, float]
    degree: int
    bins: pd.DataFrame
    excess: float
    missing: float
    excess_ci: tuple[float, float]
    missing_ci: tuple[float, float]
    excess_se: float
    missing_se: float
    n: float
    n_boot: int
    ci: float
    seed: int
    cluster: bool

    @property
    def counterfactual_heap(self) -> float:
        """Counterfactual mass in the heap bins."""
        return float(self.bins.loc[self.bins["region"] == "heap", "counterfactual"].sum())

    @property
    def excess_ratio(self) -> float:
        """Excess mass relative to the counterfactual mass in the heap (Kleven's ``b``-like ratio)."""
        base = self.counterfactual_heap
        return self.excess / base if base > 0 else float("nan")

    @property
    def z(self) -> float:
        """Excess mass over its bootstrap standard error."""
        return self.excess / self.excess_se if self.excess_se > 0 else float("nan")

    def summary(self, lang: str = "en") -> str:
        """One plain-language sentence with the estimates."""
        check_lang(lang)
        lo, hi = self.excess_ci
        mlo, mhi = self.missing_ci
        level = f"{self.ci:.0%}"
        if lang == "zh":
            return (
                f"阈值附近的超额堆积约{self.excess:.1f}个单位月(置信区间{level}:{lo:.1f}至{hi:.1f}),"
                f"相当于反事实密度的{self.excess_ratio:.0%};阈值下方缺失约{self.missing:.1f}个单位月"
                f"({level}:{mlo:.1f}至{mhi:.1f})。"
            )
        return (
            f"Excess mass just on the passing side: {self.excess:.1f} unit-months ({level} CI "
            f"{lo:.1f} to {hi:.1f}), {self.excess_ratio:.0%} of the counterfactual; missing mass "
            f"just on the failing side: {self.missing:.1f} ({level} CI {mlo:.1f} to {mhi:.1f})."
        )


def _cells(
    values: np.ndarray,
    numerators: np.ndarray | None,
    denominators: np.ndarray | None,
    side: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval each observation is spread over (point masses have lo == hi).

    A rate k/n is spread evenly over [k/n, (k+1)/n) (``side="max"``: over
    ((k−1)/n, k/n]), which removes the lattice spikes of small denominators
    (19/20 is exactly 95 %) without moving any value across the threshold it meets.
    """
    lo = values.astype(float).copy()
    hi = lo.copy()
    if numerators is not None and denominators is not None:
        k = np.asarray(numerators, dtype=float)
        n = np.asarray(denominators, dtype=float)
        ok = np.isfinite(k) & np.isfinite(n) & (n > 0)
        step = np.where(ok, 1.0 / np.where(ok, n, 1.0), 0.0)
        base = np.where(ok, k * step, lo)
        lo = np.where(ok, base, lo)
        hi = np.where(ok, base + step, hi)
        if side == "max":
            lo, hi = np.where(ok, base - step, lo), np.where(ok, base, hi)
    return lo, hi


def _bin_mass(lo: np.ndarray, hi: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mass of every observation in every bin (observations × bins)."""
    left, right = edges[:-1][None, :], edges[1:][None, :]
    lo_, hi_ = lo[:, None], hi[:, None]
    width = hi_ - lo_
    spread = width > 0
    overlap = np.clip(np.minimum(hi_, right) - np.maximum(lo_, left), 0.0, None)
    point = (lo_ >= left - 1e-12) & (lo_ < right - 1e-12)
    return np.where(spread, overlap / np.where(spread, width, 1.0), point.astype(float))


def _orient_axis(x: np.ndarray, side: str) -> np.ndarray:
    return x if side == "min" else -x


def _bootstrap_weights(
    rng: np.random.Generator, n_items: int, n_boot: int
) -> Iterable[np.ndarray]:
    chunk = max(1, min(n_boot, 2_000_000 // max(n_items, 1)))
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        yield rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=size).astype(float)
        done += size


def bunching(
    values: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    side: Literal["min", "max"] = "min",
    numerators: Sequence[float] | np.ndarray | None = None,
    denominators: Sequence[float] | np.ndarray | None = None,
    groups: Sequence[object] | np.ndarray | None = None,
    window: float = _RATE_WINDOW,
    bin_width: float | None = None,
    exclude: tuple[float, float] | None = None,
    fit_range: tuple[float, float] | None = None,
    upper: float | None = None,
    degree: int = 7,
    n_boot: int = 500,
    ci: float = 0.95,
    seed: int = 0,
) -> BunchingResult:
    """Bunching estimator: excess mass just past a threshold, missing mass just before it.

    Values are binned with the threshold as a bin edge; a polynomial of degree
    ``degree`` in the bin centre is fitted by least squares to the bins outside
    the excluded window and gives the counterfactual density (Chetty et al. 2011;
    Kleven 2016). The excess mass is the observed minus the counterfactual mass
    in the heap (passing side of the window); the missing mass is the
    counterfactual minus the observed mass in the hole (failing side). Under
    hole-and-heap manipulation both are positive and about equal.

    Parameters
    ----------
    values
        One value per unit-month.
    threshold
        The hard threshold.
    side
        ``"min"``: passing means ``value ≥ threshold`` (heap above);
        ``"max"``: passing means ``value ≤ threshold`` (heap below).
    numerators, denominators
        For rates: each rate k/n is spread evenly over ``[k/n, (k+1)/n)`` before
        binning, so the lattice of small denominators does not create spikes.
    groups
        Cluster ids (units) for the bootstrap: whole units are resampled, which
        respects the correlation of a unit's months. Default: observations.
    window
        Half-width of the excluded window when ``exclude`` is not given.
    bin_width
        Default ``window / 4``.
    exclude
        ``(below, above)``: distances from the threshold of the excluded window,
        on the failing and passing side; default ``(window, window)``.
    fit_range
        ``(low, high)`` in the original scale; default six windows either side,
        cut at ``upper``.
    upper
        Values at or beyond this bound (e.g. a rate of exactly 100 %) are outside
        the fit: the mass at a natural ceiling is not part of a smooth density.
    degree
        Polynomial degree.
    n_boot, ci, seed
        Bootstrap replicates, interval level and seed.
    """
    vals = np.asarray(values, dtype=float)
    num = None if numerators is None else np.asarray(numerators, dtype=float)
    den = None if denominators is None else np.asarray(denominators, dtype=float)
    keep = np.isfinite(vals)
    vals = vals[keep]
    num = None if num is None else num[keep]
    den = None if den is None else den[keep]
    grp = None if groups is None else np.asarray(groups, dtype=object)[keep]
    if len(vals) == 0:
        raise ValueError("bunching needs at least one finite value")
    width = window / 4 if bin_width is None else float(bin_width)
    below, above = (window, window) if exclude is None else (float(exclude[0]), float(exclude[1]))
    if width <= 0 or below <= 0 or above <= 0:
        raise ValueError("bin_width and the excluded window must be positive")

    # Work in the passing-is-higher orientation (x' = -x for side="max").
    lo, hi = _cells(vals, num, den, side)
    lo_o, hi_o = (lo, hi) if side == "min" else (-hi, -lo)
    point = hi == lo
    if side == "max":
        lo_o = np.where(point, -vals, lo_o)
        hi_o = np.where(point, -vals, hi_o)
    t = threshold if side == "min" else -threshold
    if fit_range is None:
        f_lo, f_hi = t - 6 * window, t + 6 * window
        if upper is not None:
            bound = upper if side == "min" else -upper
            f_hi = min(f_hi, bound)
    else:
        a, b = sorted(_orient_axis(np.asarray(fit_range, dtype=float), side))
        f_lo, f_hi = float(a), float(b)
    n_left = int(np.floor((t - f_lo) / width + 1e-9))
    n_right = int(np.floor((f_hi - t) / width + 1e-9))
    if n_left < 2 or n_right < 1:
        raise ValueError(
            f"the fit range ({f_lo:g}, {f_hi:g}) leaves too few bins of width {width:g} around the "
            f"threshold {t:g}; widen fit_range or narrow bin_width"
        )
    edges = t + width * np.arange(-n_left, n_right + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    region = np.where(
        (centres >= t) & (centres < t + above),
        "heap",
        np.where((centres < t) & (centres >= t - below), "hole", "fit"),
    )
    fit = region == "fit"
    if fit.sum() <= degree + 1:
        raise ValueError(
            f"only {int(fit.sum())} bins outside the excluded window for a degree-{degree} "
            "polynomial; widen fit_range, narrow bin_width or lower degree"
        )
    mass = _bin_mass(lo_o, hi_o, edges)
    scale = max(t - edges[0], edges[-1] - t)
    design = np.vander((centres - t) / scale, degree + 1, increasing=True)
    projection = design @ np.linalg.pinv(design[fit])  # bins × fit-bins

    def estimate(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cf = counts[..., fit] @ projection.T
        heap = (counts - cf)[..., region == "heap"].sum(axis=-1)
        hole = (cf - counts)[..., region == "hole"].sum(axis=-1)
        return cf, heap, hole

    counts = mass.sum(axis=0)
    counterfactual, excess, missing = estimate(counts)

    rng = np.random.default_rng(seed)
    if grp is not None:
        codes, _ = pd.factorize(pd.Series(grp))
        items = np.zeros((codes.max() + 1, mass.shape[1]))
        np.add.at(items, codes, mass)
    else:
        items = mass
    boot_heap, boot_hole = [], []
    for weights in _bootstrap_weights(rng, items.shape[0], n_boot):
        _, bh, bm = estimate(weights @ items)
        boot_heap.append(bh)
        boot_hole.append(bm)
    heap_draws = np.concatenate(boot_heap) if boot_heap else np.array([excess])
    hole_draws = np.concatenate(boot_hole) if boot_hole else np.array([missing])
    alpha = (1 - ci) / 2
    qs = [alpha, 1 - alpha]

    back = edges if side == "min" else -edges
    bins = pd.DataFrame(
        {
            "left": back[:-1] if side == "min" else back[1:],
            "right": back[1:] if side == "min" else back[:-1],
            "centre": _orient_axis(centres, side),
            "count": counts,
            "counterfactual": counterfactual,
            "region": region,
        }
    )
    if side == "max":
        bins = bins.iloc[::-1].reset_index(drop=True)
    excl = (threshold - below, threshold + above) if side == "min" else (threshold - above, threshold + below)
    fr = (float(f_lo), float(f_hi)) if side == "min" else (float(-f_hi), float(-f_lo))
    return BunchingResult(
        threshold=float(threshold),
        side=side,
        bin_width=width,
        exclude=excl,
        fit_range=fr,
        degree=degree,
        bins=bins,
        excess=float(excess),
        missing=float(missing),
        excess_ci=tuple(float(v) for v in np.quantile(heap_draws, qs)),  # type: ignore[arg-type]
        missing_ci=tuple(float(v) for v in np.quantile(hole_draws, qs)),  # type: ignore[arg-type]
        excess_se=float(np.std(heap_draws, ddof=1)) if len(heap_draws) > 1 else float("nan"),
        missing_se=float(np.std(hole_draws, ddof=1)) if len(hole_draws) > 1 else float("nan"),
        n=float(counts.sum()),
        n_boot=n_boot,
        ci=ci,
        seed=seed,
        cluster=grp is not None,
    )


@dataclass(frozen=True)
class WindowTest:
    """Narrow-window test: is there more mass just past the threshold than just before it?

    ``expected_share`` is the share of the window's mass expected on the passing
    side: 0.5 under local smoothness (``expected="half"``) or from a linear
    density fitted beside the window (``expected="linear"``).
    """

    threshold: float
    window: float
    passing: float
    failing: float
    expected_share: float
    p_value: float
    method: str

    @property
    def share(self) -> float:
        total = self.passing + self.failing
        return self.passing / total if total > 0 else float("nan")


def window_test(
    values: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    window: float = _RATE_WINDOW,
    side: Literal["min", "max"] = "min",
    numerators: Sequence[float] | np.ndarray | None = None,
    denominators: Sequence[float] | np.ndarray | None = None,
    expected: Literal["linear", "half"] = "linear",
    upper: float | None = None,
) -> WindowTest:
    """Binomial test of the mass just past vs just before a threshold (pooled).

    The counts in ``[t, t + h)`` (passing) and ``[t − h, t)`` (failing) are
    compared with a one-sided binomial test. ``expected="linear"`` fits a
    linear density ``a + b(x − t)`` to the mass in ``[t − 3h, t − h)`` and
    ``[t + h, t + 3h)`` (cut at ``upper``), for which the passing share is
    ``(a + bh/2) / 2a``; ``"half"`` uses 0.5. Rates given with numerator and
    denominator are spread over their lattice cell first (as in
    :func:`bunching`), and the masses are rounded to whole unit-months.
    """
    vals = np.asarray(values, dtype=float)
    keep = np.isfinite(vals)
    num = None if numerators is None else np.asarray(numerators, dtype=float)[keep]
    den = None if denominators is None else np.asarray(denominators, dtype=float)[keep]
    vals = vals[keep]
    lo, hi = _cells(vals, num, den, side)
    if side == "max":
        lo, hi = -hi, -lo
    t = threshold if side == "min" else -threshold
    h = float(window)
    step = h / 4
    f_hi = t + 3 * h
    if upper is not None:
        f_hi = min(f_hi, upper if side == "min" else -upper)
    edges = t + step * np.arange(-12, int(np.floor((f_hi - t) / step + 1e-9)) + 1)
    mass = _bin_mass(lo, hi, edges).sum(axis=0)
    centres = (edges[:-1] + edges[1:]) / 2
    passing = float(mass[(centres >= t) & (centres < t + h)].sum())
    failing = float(mass[(centres < t) & (centres >= t - h)].sum())
    share = 0.5
    method = "half"
    side_bins = (np.abs(centres - t) > h) & (np.abs(centres - t) < 3 * h)
    if expected == "linear" and side_bins.sum() >= 3 and mass[side_bins].sum() > 0:
        slope, intercept = np.polyfit(centres[side_bins] - t, mass[side_bins] / step, 1)
        if intercept > 0:
            share = float(np.clip((intercept + slope * h / 2) / (2 * intercept), 0.02, 0.98))
            method = "linear"
    n = int(round(passing + failing))
    x = int(round(passing))
    p = float(stats.binomtest(x, n, share, alternative="greater").pvalue) if n > 0 else 1.0
    return WindowTest(float(threshold), h, passing, failing, share, p, method)


# ============================================================================ dispersion
def dispersion_checks(
    monthly: pd.DataFrame,
    *,
    min_months: int = 6,
    min_variance: float = 1.0,
    reference: Literal["pooled", "binomial"] = "binomial",
) -> pd.DataFrame:
    """Series smoother than their volume allows (check ``under_dispersion``).

    Rates with counts: ``X² = Σ (k − nμ)² / (nμ(1 − μ)(1 + (n − 1)ρ))`` with μ the
    unit's pooled rate and ρ the beta-binomial dispersion shared by the units of
    the indicator (median across units, see the threshold check;
    ``reference="binomial"`` fixes ρ = 0, the pure binomial variance, which is
    more conservative when all units are over-dispersed); counts:
    ``X² = Σ (x − x̄)² / x̄``. Under the reference variation ``X² ~ χ²(M − 1)``;
    the p-value is the lower tail. ``statistic`` is the
    dispersion index ``X² / (M − 1)`` (1 expected; smaller is smoother).
    Series whose expected monthly variance is below ``min_variance`` (a rate
    stuck at 100 %, rare events) carry no information and are skipped.
    """
    rhos = {
        indicator: _pooled_rho(data) if reference == "pooled" else 0.0
        for indicator, data in monthly[monthly["has_counts"]].groupby("indicator", sort=False)
    }
    rows = []
    for g in _series(monthly):
        unit, indicator, kind = g.unit, g.indicator, g.kind
        if len(g) < min_months:
            continue
        if kind == "rate" and g.counts:
            k, n = g.numerator, g.denominator
            mu = k.sum() / n.sum()
            rho = rhos.get(indicator, 0.0)
            var = n * mu * (1 - mu) * (1 + (n - 1) * rho)
            if (n * mu * (1 - mu)).min() < min_variance:
                continue
            x2 = float(np.sum((k - n * mu) ** 2 / var))
            scale = f"月均分母{n.mean():.0f}", f"on average {n.mean():.0f} cases a month"
            model = ("二项分布", "binomial") if rho == 0 else (
                f"同类单位共同的离散度ρ = {rho:.3f}", f"beta-binomial with the dispersion ρ = {rho:.3f} shared by the units"
            )
        elif kind in {"count", "points"}:
            x = g.value
            if not np.all(np.abs(x - np.round(x)) < _EPS) or x.mean() < max(min_variance, 5.0):
                continue
            x2 = float(np.sum((x - x.mean()) ** 2) / x.mean())
            scale = f"月均{x.mean():.1f}", f"on average {x.mean():.1f} a month"
            model = "泊松分布", "Poisson"
        else:
            continue
        df = len(g) - 1
        p = float(stats.chi2.cdf(x2, df))
        d = x2 / df
        zh = (
            f"月度波动小于规模应有的随机波动:离散指数{d:.2f}({model[0]}预期1.0),"
            f"共{len(g)}个月,{scale[0]}(p = {_fmt_p(p)})。"
        )
        en = (
            f"Month-to-month variation is smaller than the volume allows: dispersion index {d:.2f} "
            f"({model[1]} expectation 1.0) over {len(g)} months, {scale[1]} (p = {_fmt_p(p)})."
        )
        rows.append(_row(unit, indicator, "under_dispersion", d, p, len(g), x2, df, zh, en))
    return _frame(rows)


# ============================================================================ level shifts
_EXACT_RANK_MONTHS = 200
"""Longest series whose rank-sum null distribution is computed exactly (longer: normal)."""


@functools.lru_cache(maxsize=64)
def _rank_sum_tails(m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(P(W ≤ w), P(W ≥ w))`` for the rank sum W of k of the ranks 1..m, indexed [k, w].

    Exact: the number of k-subsets of 1..m with sum w, counted by dynamic
    programming and normalised.
    """
    top = m * (m + 1) // 2
    counts = np.zeros((m + 1, top + 1))
    counts[0, 0] = 1.0
    for rank in range(1, m + 1):
        counts[1:, rank:] += counts[:-1, :-rank].copy()
    dist = counts / counts.sum(axis=1, keepdims=True)
    return np.cumsum(dist, axis=1), np.cumsum(dist[:, ::-1], axis=1)[:, ::-1]


def _rank_sum_p(m: int, k: int, w: int) -> float:
    """Two-sided p-value of the rank sum ``w`` of the first ``k`` of ``m`` distinct ranks."""
    if m > _EXACT_RANK_MONTHS:
        z = (w - k * (m + 1) / 2) / math.sqrt(k * (m - k) * (m + 1) / 12)
        return float(min(1.0, 2 * stats.norm.sf(abs(z))))
    lower, upper = _rank_sum_tails(m)
    return float(min(1.0, 2 * min(lower[k, w], upper[k, w])))


def _best_break(ranks: np.ndarray, min_segment: int) -> tuple[float, int, int, float]:
    """Most significant break of a series of distinct ranks.

    Returns the exact two-sided p-value of the Wilcoxon rank-sum test at the best
    break, the number of months before it, the number of candidate breaks and the
    standardised rank-sum statistic there.
    """
    m = len(ranks)
    breaks = range(min_segment, m - min_segment + 1)
    csum = np.cumsum(ranks)
    best = (2.0, 0, 0.0)
    for k in breaks:
        w = int(round(csum[k - 1]))
        p = _rank_sum_p(m, k, w)
        if p < best[0]:
            mean, var = k * (m + 1) / 2, k * (m - k) * (m + 1) / 12
            best = (p, k, (mean - w) / math.sqrt(var))
    return best[0], best[1], len(breaks), best[2]


def level_shift_checks(
    monthly: pd.DataFrame, *, min_months: int = 8, min_segment: int = 3, seed: int = 0
) -> pd.DataFrame:
    """Sudden level shifts (check ``level_shift``).

    For every break month with at least ``min_segment`` months on each side, the
    months before are compared with the months after by the Wilcoxon rank-sum
    test, with its exact null distribution (ties broken at random with ``seed``,
    which keeps the test exact); the smallest p-value is Bonferroni-corrected for
    the number of candidate breaks. Ranks make the test insensitive to odd
    months of small units, and the exact distribution keeps its extreme tail
    honest, which matters when thousands of series are screened. ``statistic``
    is the standardised rank sum at the break (positive: the level rose). A
    shift can be a real change (new leadership, a re-drawn jurisdiction, a new
    definition): verify before judging.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for g in _series(monthly):
        ok = np.isfinite(g.value)
        y, periods = g.value[ok], g.period[ok]
        if len(y) < max(min_months, 2 * min_segment + 1) or np.ptp(y) == 0:
            continue
        order = np.lexsort((rng.random(len(y)), y))
        ranks = np.empty(len(y))
        ranks[order] = np.arange(1, len(y) + 1)
        p, k, candidates, z = _best_break(ranks, min_segment)
        p = min(1.0, candidates * p)
        unit, indicator, kind = g.unit, g.indicator, g.kind
        before, after = float(y[:k].mean()), float(y[k:].mean())
        zh = (
            f"{periods[k - 1]}之后水平突变:此前{k}个月均值{_fmt(before, kind)},"
            f"此后{len(y) - k}个月均值{_fmt(after, kind)}"
            f"({candidates}个候选断点中秩和检验最显著,经Bonferroni校正 p = {_fmt_p(p)})。"
        )
        en = (
            f"Level shift after {periods[k - 1]}: mean {_fmt(before, kind)} over the {k} months before, "
            f"{_fmt(after, kind)} over the {len(y) - k} months after (the most significant of "
            f"{candidates} candidate breaks by the rank-sum test, Bonferroni-corrected p = {_fmt_p(p)})."
        )
        rows.append(_row(unit, indicator, "level_shift", z, p, len(y), after - before, 0.0, zh, en))
    return _frame(rows)


# ============================================================================ repeats
def _runs(keys: Sequence[object]) -> list[tuple[int, int]]:
    """(start, length) of maximal runs of equal consecutive keys."""
    runs, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            runs.append((start, i - start))
            start = i
    return runs


def _binomial_match(n: int, mu: float) -> float:
    """P(two independent Binomial(n, μ) draws are equal)."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, min(max(mu, 1e-9), 1 - 1e-9))
    return float(np.sum(pmf**2))


def _value_match(values: np.ndarray, pooled: pd.Series, prior: float = 5.0) -> float:
    """P(two draws are equal) from a unit's value frequencies smoothed towards the pooled ones."""
    own = pd.Series(values[np.isfinite(values)]).round(10).value_counts()
    support = pooled.index.union(own.index)
    freq = (own.reindex(support, fill_value=0) + prior * pooled.reindex(support, fill_value=0)) / (
        own.sum() + prior
    )
    return float(np.sum(freq.to_numpy() ** 2))


def repeat_checks(
    monthly: pd.DataFrame,
    *,
    min_run: int = 3,
    bounds: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Figures repeated verbatim in ``min_run`` or more consecutive months (check ``repeated_values``).

    For each series, the least likely run of identical figures (numerator and
    denominator for rates with counts; the value otherwise). Its probability is
    the product over the repeated months of the chance that a month equals the
    one before: for counts given the denominator, ``Σ_k Binom(k; n, μ)²`` with the
    unit's own rate μ; for count indicators ``e^{−2λ} I₀(2λ)`` (Poisson with the
    unit's mean); otherwise ``Σ_v f_v²`` with ``f`` the unit's own value
    frequencies outside the run, smoothed towards the indicator's pooled values
    (so a unit that is always at a score's ceiling of 100 is not flagged for
    repeating it). The p-value multiplies by the number of possible starting
    months (Bonferroni). A run of 100 % with a small denominator is likely and
    is not flagged; nor is a run of values given without counts at a bound of
    the indicator's declared range (``bounds``: indicator → (low, high); a score
    clipped at 100 repeats 100 naturally).
    """
    bounds = dict(bounds or {})
    pooled = {
        ind: g["value"].round(10).value_counts(normalize=True)
        for ind, g in monthly.groupby("indicator", sort=False)
    }
    rows = []
    for g in _series(monthly):
        unit, indicator, kind, m = g.unit, g.indicator, g.kind, len(g)
        if m < min_run:
            continue
        counts = kind == "rate" and g.counts
        k, n, v = g.numerator, g.denominator, g.value
        if counts:
            keys = list(zip(k.tolist(), n.tolist(), strict=True))
            mu = k.sum() / n.sum()
        else:
            keys = [round(x, 10) if np.isfinite(x) else object() for x in v]
        best: tuple[float, int, int] | None = None
        edges = bounds.get(indicator)
        for start, length in _runs(keys):
            if length < min_run:
                continue
            if not counts and edges is not None and np.any(np.isclose(v[start], edges)):
                continue
            if counts:
                match = _binomial_match(int(n[start]), mu)
            elif kind in {"count", "points"} and np.all(np.abs(v - np.round(v)) < _EPS):
                match = float(i0e(2 * max(np.nanmean(v), 1e-9)))
            else:
                outside = np.ones(m, dtype=bool)
                outside[start : start + length] = False
                match = _value_match(v[outside], pooled[indicator])
            prob = min(1.0, (m - length + 1) * match ** (length - 1))
            if best is None or prob < best[0]:
                best = (prob, start, length)
        if best is None:
            continue
        p, start, length = best
        periods = g.period
        if counts:
            figure = f"{int(k[start])}/{int(n[start])}"
        else:
            figure = _fmt(float(v[start]), kind)
        first, last = periods[start], periods[start + length - 1]
        zh = (
            f"连续{length}个月({first}至{last})上报完全相同的数字({figure});按本单位自身水平和规模,"
            f"出现这样的连续重复的概率约为{_fmt_p(p)}。"
        )
        en = (
            f"The same figures ({figure}) were reported for {length} consecutive months ({first} to "
            f"{last}); given the unit's own level and volume such a run has probability about {_fmt_p(p)}."
        )
        rows.append(_row(unit, indicator, "repeated_values", length, p, m, length, float("nan"), zh, en))
    return _frame(rows)


# ============================================================================ digits
@dataclass(frozen=True)
class DigitTest:
    """Last-digit test of counts.

    ``frequencies``: counts of last digits 0–9. ``p_uniform``: test of uniform
    last digits (χ² with 9 degrees of freedom when every expected count is at
    least 3, otherwise an exact multinomial test by simulation). ``share_round`` / ``p_round``: share of
    counts ending in 0 or 5 and the one-sided binomial test against 20 %.
    """

    n: int
    frequencies: tuple[int, ...]
    chi2: float
    p_uniform: float
    share_round: float
    p_round: float
    method: str


def last_digit_test(counts: Sequence[float] | np.ndarray, *, seed: int = 0, n_sim: int = 10_000) -> DigitTest:
    """Test whether the last digits of counts are uniform and not rounded to 0 or 5.

    Last digits are uniform only when counts vary over a range much wider than
    ten; pass counts from series that do (see :func:`digit_checks`).
    """
    x = np.asarray(counts, dtype=float)
    x = x[np.isfinite(x)]
    if np.any(np.abs(x - np.round(x)) > _EPS) or np.any(x < 0):
        raise ValueError("last_digit_test needs non-negative whole numbers")
    digits = np.round(x).astype(np.int64) % 10
    n = len(digits)
    freq = np.bincount(digits, minlength=10)
    if n == 0:
        return DigitTest(0, tuple(int(f) for f in freq), 0.0, 1.0, float("nan"), 1.0, "none")
    expected = n / 10
    chi2 = float(np.sum((freq - expected) ** 2 / expected))
    if expected >= 3:
        p_uniform, method = float(stats.chi2.sf(chi2, 9)), "chi2"
    else:
        rng = np.random.default_rng(seed)
        sim = rng.multinomial(n, np.full(10, 0.1), size=n_sim)
        sim_chi2 = np.sum((sim - expected) ** 2 / expected, axis=1)
        p_uniform = float((1 + np.sum(sim_chi2 >= chi2 - 1e-12)) / (n_sim + 1))
        method = "exact (simulated multinomial)"
    rounded = int(freq[0] + freq[5])
    p_round = float(stats.binom.sf(rounded - 1, n, 0.2))
    return DigitTest(n, tuple(int(f) for f in freq), chi2, p_uniform, rounded / n, p_round, method)


def _count_columns(monthly: pd.DataFrame, min_spread: float) -> pd.DataFrame:
    """Long (unit_id, indicator, column, count) of counts whose series spread is wide enough.

    Count values and the denominators of rates. Numerators are left out: a rate's
    numerator is usually close to its denominator (or to zero), so its last digit
    repeats the denominator's and the digits would not be independent.
    """
    parts = []
    counts = monthly[(monthly["kind"].isin(["count", "points"])) | monthly["has_counts"]]
    for column in ("value", "denominator"):
        if column == "value":
            data = counts[counts["kind"].isin(["count", "points"])]
        else:
            data = counts[counts["has_counts"]]
        x = data[column]
        whole = (x - x.round()).abs() < _EPS
        data = data.loc[whole & x.notna(), ["unit_id", "indicator", column]].rename(columns={column: "count"})
        spread = data.groupby(["unit_id", "indicator"])["count"].transform("std")
        data = data[spread >= min_spread]
        parts.append(data.assign(column=column))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["unit_id", "indicator", "count", "column"]
    )


def digit_checks(
    monthly: pd.DataFrame, *, min_spread: float = 5.0, min_digits: int = 40, seed: int = 0
) -> pd.DataFrame:
    """Per-unit last-digit checks on reported counts (checks ``last_digit`` and ``round_numbers``).

    All count figures of a unit — values of count indicators and denominators of
    rates (numerators would repeat the denominators' digits) — from series whose
    month-to-month standard deviation
    is at least ``min_spread`` (so last digits would be uniform) are pooled;
    units with fewer than ``min_digits`` such figures are skipped. The
    ``indicator`` column is ``"*"`` (all count series of the unit).
    """
    data = _count_columns(monthly, min_spread)
    rows = []
    for i, (unit, g) in enumerate(data.groupby("unit_id", sort=True)):
        if len(g) < min_digits:
            continue
        test = last_digit_test(g["count"].to_numpy(), seed=seed + i)
        top = int(np.argmax(test.frequencies))
        top_share = test.frequencies[top] / test.n
        series = g["indicator"].nunique()
        zh = (
            f"{test.n}个上报计数(来自{series}个指标)的末位数字分布不均匀:最常见的末位是{top}"
            f"(占{top_share:.0%},均匀分布为10%),χ² = {test.chi2:.1f}(p = {_fmt_p(test.p_uniform)})。"
        )
        en = (
            f"Last digits of {test.n} reported counts ({series} indicators) are uneven: the most common "
            f"last digit is {top} ({top_share:.0%}; 10% if uniform), chi-square = {test.chi2:.1f} "
            f"(p = {_fmt_p(test.p_uniform)})."
        )
        rows.append(_row(unit, "*", "last_digit", test.chi2, test.p_uniform, test.n, top_share, 0.1, zh, en))
        zh = (
            f"{test.n}个上报计数中{test.share_round:.0%}以0或5结尾(正常约20%)"
            f"(p = {_fmt_p(test.p_round)}),可能存在凑整。"
        )
        en = (
            f"{test.share_round:.0%} of {test.n} reported counts end in 0 or 5 (about 20% expected; "
            f"p = {_fmt_p(test.p_round)}): possible rounding."
        )
        rows.append(_row(unit, "*", "round_numbers", test.share_round, test.p_round, test.n,
                         test.share_round, 0.2, zh, en))
    return _frame(rows)


def round_percent_checks(monthly: pd.DataFrame, *, step: float = 0.05, min_months: int = 6) -> pd.DataFrame:
    """Rates reported as round percentages more often than by other units (check ``round_percent``).

    Only rates given without numerator and denominator (typed-in percentages).
    A value is round when it is a multiple of ``step`` strictly between 0 and 1.
    Each unit's share is compared (one-sided binomial) with the share among the
    other units of the indicator (plus one pseudo-count each way).
    """
    rates = monthly[(monthly["kind"] == "rate") & ~monthly["has_counts"] & monthly["value"].notna()]
    rows: list[dict[str, Any]] = []
    if rates.empty:
        return _frame(rows)
    v = rates["value"].to_numpy(dtype=float)
    ratio = v / step
    rnd = (np.abs(ratio - np.round(ratio)) < 1e-7) & (v > _EPS) & (v < 1 - _EPS)
    rates = rates.assign(_round=rnd)
    for indicator, data in rates.groupby("indicator", sort=True):
        totals = data["_round"].sum(), len(data)
        for unit, g in data.groupby("unit_id", sort=True):
            m = len(g)
            if m < min_months:
                continue
            x = int(g["_round"].sum())
            p0 = (totals[0] - x + 1) / (totals[1] - m + 2)
            p = float(stats.binom.sf(x - 1, m, p0)) if x > 0 else 1.0
            zh = (
                f"{m}个月中{x}个月上报的是整数百分比({step:.0%}的整数倍),其他单位仅{p0:.1%}"
                f"(p = {_fmt_p(p)})。"
            )
            en = (
                f"{x} of {m} monthly values are round percentages (multiples of {step:.0%}); "
                f"{p0:.1%} among the other units (p = {_fmt_p(p)})."
            )
            rows.append(_row(unit, indicator, "round_percent", x / m, p, m, x, m * p0, zh, en))
    return _frame(rows)


# ============================================================================ combining
benjamini_hochberg = bh_qvalues
"""Benjamini–Hochberg q-values; the public name of :func:`perfmodel.multiple_testing.bh_qvalues`."""


def harmonic_mean_p(p_values: Sequence[float] | np.ndarray) -> float:
    """Harmonic mean of p-values, ``k / Σ 1/p_i`` (Wilson 2019), capped at 1."""
    p = np.clip(np.asarray(p_values, dtype=float), 1e-300, 1.0)
    if len(p) == 0:
        return 1.0
    return float(min(1.0, len(p) / np.sum(1.0 / p)))


# ============================================================================ the report
@dataclass
class GamingReport:
    """Result of :func:`detect_gaming`.

    Attributes
    ----------
    tests
        Every test run: one row per unit × indicator × check with ``statistic``,
        ``p_value``, ``q_value`` (BH over all rows), ``flagged`` (``q ≤ q_level``),
        ``evidence`` (in ``lang``), ``evidence_zh``/``evidence_en``, and the unit's
        ``score``; sorted by score, then p-value.
    units
        One row per unit: ``unit_id``, ``score`` (−log10 of the harmonic-mean
        p-value of its tests), ``combined_p``, ``rank``, ``n_tests``, ``n_flags``,
        ``checks`` (flagged checks), ``evidence`` (the strongest test's sentence).
    pooled
        Model-based :class:`PooledHeaping` test per threshold indicator: is there
        heaping at all?
    bunching
        Pooled :class:`BunchingResult` per threshold indicator.
    windows
        Classic narrow-window :class:`WindowTest` per threshold indicator (assumes
        a locally linear pooled density; prefer ``pooled`` when they disagree).
    digits
        Pooled :class:`DigitTest` over all eligible counts (None without counts).
    """

    tests: pd.DataFrame
    units: pd.DataFrame
    pooled: dict[str, PooledHeaping]
    bunching: dict[str, BunchingResult]
    windows: dict[str, WindowTest]
    digits: DigitTest | None
    specs: list[ThresholdSpec]
    q_level: float
    lang: str
    parameters: dict[str, Any] = field(default_factory=dict)
    indicator_names: dict[str, tuple[str, str]] = field(default_factory=dict)

    def indicator_name(self, indicator: str) -> str:
        """The indicator's name in the report's language (its id when unknown; ``*``: all counts)."""
        if indicator == "*":
            return "全部计数" if self.lang == "zh" else "all counts"
        names = self.indicator_names.get(indicator)
        return indicator if names is None else names[0 if self.lang == "zh" else 1]

    @property
    def disclaimer(self) -> str:
        return DISCLAIMER["zh" if self.lang == "zh" else "en"]

    def leads(self) -> pd.DataFrame:
        """Flagged rows only (``q ≤ q_level``): the leads to verify, strongest first."""
        return self.tests[self.tests["flagged"]].reset_index(drop=True)

    def flagged_units(self) -> list[str]:
        """Units with at least one lead, strongest first."""
        return self.units.loc[self.units["n_flags"] > 0, "unit_id"].tolist()

    def summary(self) -> str:
        """A short plain-language summary ending with the disclaimer."""
        zh = self.lang == "zh"
        n_units = len(self.units)
        flagged = self.flagged_units()
        n_leads = int(self.tests["flagged"].sum())
        lines = []
        if zh:
            lines.append(
                f"共检验{n_units}个单位的{len(self.tests)}项统计检验;在q ≤ {self.q_level:g}"
                f"(Benjamini–Hochberg)下有{n_leads}条线索,涉及{len(flagged)}个单位。"
            )
        else:
            lines.append(
                f"{len(self.tests)} tests on {n_units} units; {n_leads} leads at q ≤ {self.q_level:g} "
                f"(Benjamini–Hochberg) in {len(flagged)} units."
            )
        for indicator, pooled in self.pooled.items():
            text = pooled.summary(self.lang)
            if indicator in self.bunching:
                text += " " + self.bunching[indicator].summary(self.lang)
            lines.append(f"{indicator}: {text}")
        lines.append(self.disclaimer)
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``gaming_tests.csv``, ``gaming_leads.csv``, ``gaming_units.csv``,
        ``bunching_<indicator>.csv`` and ``gaming_summary.txt`` to ``out_dir``."""
        from perfmodel.io import write_table

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "tests": write_table(self.tests, out / "gaming_tests.csv"),
            "leads": write_table(self.leads(), out / "gaming_leads.csv"),
            "units": write_table(self.units, out / "gaming_units.csv"),
        }
        for indicator, result in self.bunching.items():
            paths[f"bunching_{indicator}"] = write_table(result.bins, out / f"bunching_{indicator}.csv")
        summary = out / "gaming_summary.txt"
        summary.write_text(self.summary() + "\n", encoding="utf-8")
        paths["summary"] = summary
        return {k: Path(v) if v is not None else out for k, v in paths.items()}


def _unit_table(tests: pd.DataFrame, lang: str) -> pd.DataFrame:
    columns = ["unit_id", "score", "combined_p", "rank", "n_tests", "n_flags", "checks", "evidence"]
    if tests.empty:
        return pd.DataFrame(columns=columns)
    inverse = 1.0 / np.clip(tests["p_value"].to_numpy(dtype=float), 1e-300, 1.0)
    grouped = tests.assign(_inverse=inverse).groupby("unit_id", sort=True)
    units = grouped.agg(n_tests=("p_value", "size"), n_flags=("flagged", "sum"), _sum=("_inverse", "sum"))
    units["combined_p"] = np.minimum(1.0, units["n_tests"] / units["_sum"])
    units["score"] = -np.log10(np.maximum(units["combined_p"], 1e-300))
    strongest = tests.loc[grouped["p_value"].idxmin().to_numpy()].set_index("unit_id")
    units["evidence"] = strongest["evidence_zh" if lang == "zh" else "evidence_en"]
    flagged = tests[tests["flagged"]]
    checks = flagged.groupby("unit_id")["check"].agg(lambda c: ", ".join(sorted(set(c))))
    units["checks"] = checks.reindex(units.index).fillna("")
    units = units.reset_index().sort_values(["score", "unit_id"], ascending=[False, True], kind="stable")
    units["rank"] = np.arange(1, len(units) + 1)
    return units[columns].reset_index(drop=True)


def detect_gaming(
    observations: pd.DataFrame,
    framework: Framework | str | Path | None = None,
    *,
    units: pd.DataFrame | None = None,
    period: str | None = None,
    history_months: int | None = None,
    thresholds: Mapping[str, float] | None = None,
    window: float | Mapping[str, float] | None = None,
    checks: Iterable[str] | None = None,
    q_level: float = 0.1,
    min_months: int = 6,
    min_run: int = 3,
    n_boot: int = 300,
    seed: int = 0,
    lang: Literal["zh", "en"] = "zh",
) -> GamingReport:
    """Run all gaming and data-distortion checks and rank units by the evidence.

    Parameters
    ----------
    observations
        Clean long observations (``period``, ``unit_id``, ``indicator``, ``value``,
        ``numerator``, ``denominator``), e.g. ``Evaluation.observations`` or
        ``read_inputs(...)[1].data``.
    framework
        Gives indicator kinds and hard thresholds (a framework, shipped id or YAML path).
    units
        Optional units table; its ``name`` column is added to the outputs.
    period, history_months
        Restrict to the months of ``period`` (see :func:`select_months`); default: all rows.
    thresholds, window
        Extra thresholds and window half-widths (see :func:`threshold_specs`).
    checks
        Subset of :data:`CHECKS` to run; default all.
    q_level
        Benjamini–Hochberg level at which a test becomes a lead.
    min_months, min_run
        Shortest series tested; shortest run of repeated figures reported.
    n_boot, seed
        Bootstrap replicates of the pooled bunching estimate, and the seed of
        every random step (bootstrap, simulated exact tests).
    lang
        Language of the ``evidence`` columns and the summary.

    Returns
    -------
    GamingReport
        Leads for verification (third-party checks, R16), not verdicts.
    """
    check_lang(lang)
    if not 0 < q_level < 1:
        raise ValueError(f"q_level must be between 0 and 1, got {q_level}")
    fw = framework if isinstance(framework, Framework) or framework is None else load_framework(framework)
    chosen = set(CHECKS) if checks is None else set(checks)
    unknown = chosen - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(sorted(unknown))}; choose from {', '.join(CHECKS)}")
    obs = select_months(observations, period, history_months=history_months)
    if obs.empty:
        where = f" in {period_label(period)}" if period is not None else ""
        raise ValueError(f"no observations{where}; check the period and the observations file")
    monthly = monthly_series(obs, fw)
    specs = threshold_specs(fw, thresholds=thresholds, window=window)
    specs = [s for s in specs if s.indicator in set(monthly["indicator"])]

    parts = []
    if "threshold_heaping" in chosen:
        parts.append(threshold_checks(monthly, specs, min_months=min_months))
    if "under_dispersion" in chosen:
        parts.append(dispersion_checks(monthly, min_months=min_months))
    if "level_shift" in chosen:
        parts.append(level_shift_checks(monthly, min_months=max(min_months, 8), seed=seed))
    if "repeated_values" in chosen:
        bounds = {i.id: i.range for i in fw.indicators() if i.range is not None} if fw is not None else {}
        parts.append(repeat_checks(monthly, min_run=min_run, bounds=bounds))
    if chosen & {"last_digit", "round_numbers"}:
        digits = digit_checks(monthly, seed=seed)
        parts.append(digits[digits["check"].isin(chosen)])
    if "round_percent" in chosen:
        parts.append(round_percent_checks(monthly, min_months=min_months))
    parts = [p for p in parts if not p.empty]
    tests = pd.concat(parts, ignore_index=True) if parts else _frame([])
    tests["q_value"] = bh_qvalues(tests["p_value"].to_numpy())
    tests["flagged"] = tests["q_value"] <= q_level
    tests["evidence"] = tests["evidence_zh" if lang == "zh" else "evidence_en"]
    ranking = _unit_table(tests, lang)
    tests = tests.merge(ranking[["unit_id", "score"]], on="unit_id", how="left")
    tests = tests.sort_values(["score", "p_value", "unit_id"], ascending=[False, True, True], kind="stable")
    order = ["unit_id", "indicator", "check", "statistic", "p_value", "q_value", "flagged", "score",
             "evidence", "n", "observed", "expected", "evidence_zh", "evidence_en"]
    tests = tests[order].reset_index(drop=True)
    if units is not None and {"unit_id", "name"} <= set(units.columns):
        names = units.assign(unit_id=units["unit_id"].astype(str)).drop_duplicates("unit_id")
        names = names.set_index("unit_id")["name"]
        tests.insert(1, "name", tests["unit_id"].map(names))
        ranking.insert(1, "name", ranking["unit_id"].map(names))

    pooled_bunching, pooled_windows, pooled_tests = {}, {}, {}
    for spec in specs:
        pooled_tests[spec.indicator] = pooled_heaping_test(monthly, spec, min_months=min_months)
        data = monthly[monthly["indicator"] == spec.indicator]
        counts = spec.kind == "rate" and bool(data["has_counts"].all())
        kwargs: dict[str, Any] = {}
        if counts:
            kwargs = {"numerators": data["numerator"].to_numpy(), "denominators": data["denominator"].to_numpy()}
        upper = _upper_bound(fw, spec)
        try:
            pooled_bunching[spec.indicator] = bunching(
                data["value"].to_numpy(), spec.threshold, side=spec.side, window=spec.window,
                exclude=(spec.window, spec.heap_width),
                groups=data["unit_id"].to_numpy(), upper=upper, n_boot=n_boot, seed=seed, **kwargs,
            )
        except ValueError:
            pass  # too little room around the threshold for a counterfactual
        pooled_windows[spec.indicator] = window_test(
            data["value"].to_numpy(), spec.threshold, window=spec.window, side=spec.side, upper=upper, **kwargs
        )
    pooled_digits = None
    counts = _count_columns(monthly, 5.0)
    if len(counts):
        pooled_digits = last_digit_test(counts["count"].to_numpy(), seed=seed)
    return GamingReport(
        tests=tests,
        units=ranking,
        pooled=pooled_tests,
        bunching=pooled_bunching,
        windows=pooled_windows,
        digits=pooled_digits,
        specs=specs,
        q_level=q_level,
        lang=lang,
        indicator_names={i.id: (i.name.zh, i.name.en) for i in fw.indicators()} if fw is not None else {},
        parameters={
            "period": period, "history_months": history_months, "q_level": q_level,
            "min_months": min_months, "min_run": min_run, "n_boot": n_boot, "seed": seed,
            "checks": sorted(chosen), "months": sorted(set(monthly["period"])),
        },
    )


def _upper_bound(framework: Framework | None, spec: ThresholdSpec) -> float | None:
    """The natural bound on the passing side (100 % for rates), excluded from density fits."""
    meta = framework.indicator_meta().get(spec.indicator) if framework is not None else None
    if meta is not None and meta.range is not None:
        return float(meta.range[1] if spec.side == "min" else meta.range[0])
    if spec.kind == "rate":
        return 1.0 if spec.side == "min" else 0.0
    return None


# ============================================================================ display
_HEADERS = {
    "zh": {
        "unit_id": "单位编号", "name": "单位名称", "indicator": "指标", "check": "检查项",
        "statistic": "统计量", "p_value": "p值", "q_value": "q值(BH)", "score": "综合得分",
        "evidence": "证据", "rank": "排序", "n_flags": "线索数", "n_tests": "检验数",
        "checks": "被标记的检查项", "combined_p": "综合p值",
    },
    "en": {
        "unit_id": "unit", "name": "name", "indicator": "indicator", "check": "check",
        "statistic": "statistic", "p_value": "p", "q_value": "q (BH)", "score": "score",
        "evidence": "evidence", "rank": "rank", "n_flags": "leads", "n_tests": "tests",
        "checks": "flagged checks", "combined_p": "combined p",
    },
}


def leads_table(report: GamingReport, *, top: int | None = 20) -> pd.DataFrame:
    """The leads (``q ≤ q_level``) for display: check names spelled out, headers in the report's language."""
    lang = "zh" if report.lang == "zh" else "en"
    columns = [c for c in ("unit_id", "name", "indicator", "check", "p_value", "q_value", "score", "evidence")
               if c in report.tests.columns]
    table = report.leads()[columns].copy()
    table["check"] = table["check"].map(lambda c: CHECKS[c][lang])
    table["indicator"] = table["indicator"].map(report.indicator_name)
    if top is not None:
        table = table.head(top)
    return table.rename(columns=_HEADERS[lang])


def units_table(report: GamingReport, *, top: int | None = 15) -> pd.DataFrame:
    """Units ranked by combined evidence, for display (headers in the report's language)."""
    lang = "zh" if report.lang == "zh" else "en"
    columns = [c for c in ("rank", "unit_id", "name", "score", "n_tests", "n_flags", "checks", "evidence")
               if c in report.units.columns]
    table = report.units[columns].copy()
    table["checks"] = table["checks"].map(
        lambda text: "、".join(CHECKS[c.strip()][lang] for c in text.split(",") if c.strip())
        if lang == "zh" else ", ".join(CHECKS[c.strip()][lang] for c in text.split(",") if c.strip())
    )
    if top is not None:
        table = table.head(top)
    return table.rename(columns=_HEADERS[lang])


def checks_table(report: GamingReport) -> pd.DataFrame:
    """Per check: tests run, leads, share of tests that are leads (headers in the report's language)."""
    lang = "zh" if report.lang == "zh" else "en"
    tests = report.tests
    table = tests.groupby("check", sort=False).agg(tests=("p_value", "size"), leads=("flagged", "sum"))
    table = table.reindex([c for c in CHECKS if c in table.index])
    table.insert(0, "name", [CHECKS[c][lang] for c in table.index])
    table["share"] = table["leads"] / table["tests"]
    headers = (
        {"name": "检查项", "tests": "检验数", "leads": "线索数", "share": "线索占比"}
        if lang == "zh" else {"name": "check", "tests": "tests", "leads": "leads", "share": "share of tests"}
    )
    return table.reset_index(drop=True).rename(columns=headers)


def figure_bunching(result: BunchingResult, *, lang: str = "zh", title: str | None = None) -> Any:
    """Histogram around the threshold with the counterfactual density and the excluded window.

    Bars: observed unit-months per bin (rates spread over their lattice cell);
    line: the polynomial counterfactual; shaded: the hole (failing side) and the
    heap (passing side) left out of the fit; dashed: the threshold.
    """
    check_lang(lang)
    import matplotlib.pyplot as plt

    zh = lang == "zh"
    bins = result.bins
    rate = result.fit_range[1] <= 1.0 + 1e-9 and result.fit_range[0] >= -1e-9
    scale = 100.0 if rate else 1.0
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    colours = {"fit": "#9aa5b1", "hole": "#d9822b", "heap": "#c23030"}
    for region, group in bins.groupby("region", sort=False):
        ax.bar(group["left"] * scale, group["count"], width=(group["right"] - group["left"]) * scale,
               align="edge", color=colours[region], edgecolor="white", linewidth=0.4,
               label={"fit": "观测(拟合区)" if zh else "observed (fit)",
                      "hole": "观测(阈值下方排除区)" if zh else "observed (hole, excluded)",
                      "heap": "观测(阈值上方排除区)" if zh else "observed (heap, excluded)"}[region])
    ax.plot(bins["centre"] * scale, bins["counterfactual"], color="#1f4e79", linewidth=2,
            label="反事实密度(多项式)" if zh else "counterfactual (polynomial)")
    lo, hi = sorted(result.exclude)
    ax.axvspan(lo * scale, hi * scale, color="#f5d0a9", alpha=0.35, zorder=0,
               label="排除窗口" if zh else "excluded window")
    ax.axvline(result.threshold * scale, color="black", linestyle="--", linewidth=1.2,
               label=("阈值 " if zh else "threshold ") + (f"{result.threshold:.0%}" if rate else f"{result.threshold:g}"))
    unit = "%" if rate else ""
    ax.set_xlabel(("指标值" if zh else "value") + (f"({unit})" if zh and unit else f" ({unit})" if unit else ""))
    ax.set_ylabel("单位月数" if zh else "unit-months")
    lo_ci, hi_ci = result.excess_ci
    default = (
        f"阈值附近的分布:超额堆积 {result.excess:.0f}(95%区间 {lo_ci:.0f}~{hi_ci:.0f})"
        if zh else f"Distribution around the threshold: excess mass {result.excess:.0f} (95% CI {lo_ci:.0f} to {hi_ci:.0f})"
    )
    ax.set_title(title or default)
    ax.legend(loc="upper left", fontsize=8.5)
    fig.tight_layout()
    return fig


# ============================================================================ command line
def run_gaming(args: argparse.Namespace) -> int:
    """Run the ``gaming`` sub-command; returns the exit code (0 ok, 1 failed).

    Reads and validates the inputs (rows failing validation are reported and left
    out), runs :func:`detect_gaming` and writes :meth:`GamingReport.write`'s files
    to ``--out``. Errors print one line (the traceback with ``--debug``).
    """
    from perfmodel.validation import read_inputs

    try:
        framework = load_framework(args.framework)
        for label, path in (("observations", args.observations), ("units", args.units)):
            if not Path(path).is_file():
                raise FileNotFoundError(f"{label} file {path} does not exist; check --{label}")
        units_result, obs_result = read_inputs(Path(args.observations), Path(args.units), framework)
        period = None if args.all_periods else args.period
        report = detect_gaming(
            obs_result.data, framework, units=units_result.data, period=period,
            history_months=args.history, q_level=args.q_level, seed=args.seed, lang=args.lang,
        )
    except (ValueError, FileNotFoundError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"perfmodel: error: {exc}", file=sys.stderr)
        return 1
    if not obs_result.ok:
        print(
            f"warning: {len(obs_result.quarantine)} observation rows failed validation and were not "
            "examined; run 'perfmodel validate' for the reasons",
            file=sys.stderr,
        )
    paths = report.write(args.out)
    print(report.summary())
    print(("写出文件: " if args.lang == "zh" else "wrote: ") + ", ".join(str(p) for p in paths.values()))
    return 0
