"""Per-unit gaming checks besides heaping: dispersion, level shifts, repeated figures, digits.

Each ``*_checks`` function returns one row per unit × indicator × check with
the columns :data:`~perfmodel.design.gaming.data.TEST_COLUMNS`;
:func:`harmonic_mean_p` combines a unit's p-values.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import i0e

from perfmodel.design.gaming.data import _EPS, _fmt, _fmt_p, _frame, _row, _series
from perfmodel.design.gaming.heaping import _pooled_rho
from perfmodel.errors import OptionError
from perfmodel.multiple_testing import bh_qvalues
from perfmodel.randomness import seed_from

__all__ = [
    "DigitTest",
    "benjamini_hochberg",
    "digit_checks",
    "dispersion_checks",
    "harmonic_mean_p",
    "last_digit_test",
    "level_shift_checks",
    "repeat_checks",
    "round_percent_checks",
]


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
            model = (
                ("二项分布", "binomial")
                if rho == 0
                else (
                    f"同类单位共同的离散度ρ = {rho:.3f}",
                    f"beta-binomial with the dispersion ρ = {rho:.3f} shared by the units",
                )
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
    monthly: pd.DataFrame,
    *,
    min_months: int = 8,
    min_segment: int = 3,
    rng: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Sudden level shifts (check ``level_shift``).

    For every break month with at least ``min_segment`` months on each side, the
    months before are compared with the months after by the Wilcoxon rank-sum
    test, with its exact null distribution (ties broken at random with ``rng``,
    which keeps the test exact); the smallest p-value is Bonferroni-corrected for
    the number of candidate breaks. Ranks make the test insensitive to odd
    months of small units, and the exact distribution keeps its extreme tail
    honest, which matters when thousands of series are screened. ``statistic``
    is the standardised rank sum at the break (positive: the level rose). A
    shift can be a real change (new leadership, a re-drawn jurisdiction, a new
    definition): verify before judging.
    """
    rng = np.random.default_rng(seed_from(rng))
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
    freq = (own.reindex(support, fill_value=0) + prior * pooled.reindex(support, fill_value=0)) / (own.sum() + prior)
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
        ind: g["value"].round(10).value_counts(normalize=True) for ind, g in monthly.groupby("indicator", sort=False)
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


def last_digit_test(
    counts: Sequence[float] | np.ndarray, *, rng: int | np.random.Generator | None = 0, n_sim: int = 10_000
) -> DigitTest:
    """Test whether the last digits of counts are uniform and not rounded to 0 or 5.

    Last digits are uniform only when counts vary over a range much wider than
    ten; pass counts from series that do (see :func:`digit_checks`).
    """
    x = np.asarray(counts, dtype=float)
    x = x[np.isfinite(x)]
    if np.any(np.abs(x - np.round(x)) > _EPS) or np.any(x < 0):
        raise OptionError("last_digit_test needs non-negative whole numbers")
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
        sim = np.random.default_rng(seed_from(rng)).multinomial(n, np.full(10, 0.1), size=n_sim)
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
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["unit_id", "indicator", "count", "column"])
    )


def digit_checks(
    monthly: pd.DataFrame,
    *,
    min_spread: float = 5.0,
    min_digits: int = 40,
    rng: int | np.random.Generator | None = 0,
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
    seed = seed_from(rng)
    rows = []
    for i, (unit, g) in enumerate(data.groupby("unit_id", sort=True)):
        if len(g) < min_digits:
            continue
        test = last_digit_test(g["count"].to_numpy(), rng=seed + i)
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
        rows.append(
            _row(unit, "*", "round_numbers", test.share_round, test.p_round, test.n, test.share_round, 0.2, zh, en)
        )
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
            zh = f"{m}个月中{x}个月上报的是整数百分比({step:.0%}的整数倍),其他单位仅{p0:.1%}(p = {_fmt_p(p)})。"
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
