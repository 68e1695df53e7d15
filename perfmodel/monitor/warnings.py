"""Early warnings on monthly scores (R14, R12), robust to the noise of small units.

The seeds ask for three development signals:

* a unit **declining three months in a row** gets an early warning and a
  mentoring suggestion (师徒结对);
* a unit **leading its peer group three months in a row** is suggested for
  priority training or rotation (优先培训或轮岗交流);
* a unit **last in its peer group two years running** has its leadership
  reviewed (R12: 领导班子约谈或岗位调整).

Taken literally on raw monthly scores these rules fire on noise: three random
declines in a row happen in 1 of 24 unit-months of a perfectly stable unit, and a
small station with a lucky quarter tops its group. The functions here therefore
work on prepared scores (:func:`prepare_scores`):

1. **Risk adjustment**: each month's score is compared with its peer group's mean
   that month (``expected``), which removes the season and anything that moved
   the whole group (use calibrated scores, ``Settings(calibration="full")``, to
   adjust for case mix as well).
2. **Noise per unit**: the month-to-month noise of each unit's relative score,
   pooled with its peer group's (a moderated variance), so that a decline is
   judged against how much *this* unit normally moves.
3. **Shrinkage**: empirical-Bayes scores
   (:class:`~perfmodel.calibrate.shrinkage.NormalNormalShrinkage`) pull noisy
   units towards their group's mean, so that luck does not make a leader.

The decline rule then asks for three consecutive declines **and** a total drop so
large that a stable unit shows both in at most ``alpha`` of its months
(:func:`decline_threshold`, exact for normal noise). Control charts are the
alternative: a one-sided risk-adjusted CUSUM or EWMA on the standardised
observed-minus-expected score, with limits set for a stated in-control average
run length (ARL₀) computed by the Brook–Evans Markov chain
(:func:`arl_cusum`, :func:`arl_ewma`). :func:`operating_characteristics`
measures false-alarm and detection rates on simulated stable and declining units.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import integrate, optimize, stats

from perfmodel.calibrate.shrinkage import NormalNormalShrinkage
from perfmodel.errors import OptionError
from perfmodel.periods import parse_month
from perfmodel.randomness import RngLike, as_generator
from perfmodel.text import LANGS, check_lang, say, templates

__all__ = [
    "SUGGESTIONS",
    "WARNING_COLUMNS",
    "WarningRules",
    "arl_cusum",
    "arl_ewma",
    "characteristics_table",
    "control_chart",
    "cusum_limit",
    "decline_probability",
    "decline_threshold",
    "decline_warnings",
    "early_warnings",
    "ewma_limit",
    "figure_control_chart",
    "figure_warning_trajectories",
    "last_place_flags",
    "leader_flags",
    "leader_characteristics",
    "merge_episodes",
    "warning_counts",
    "operating_characteristics",
    "prepare_scores",
    "simulate_monitoring",
    "warning_table",
]

SUGGESTIONS: dict[str, dict[str, str]] = {
    rule: {lang: say(f"monitor.warnings.suggestion.{rule}", lang) for lang in LANGS}
    for rule in ("decline", "control_chart", "leader", "last_place")
}
"""What each rule suggests (R14, R12), in Chinese and English (``monitor.warnings.suggestion.*`` in the catalogue)."""

WARNING_COLUMNS = ["unit_id", "peer_group", "rule", "start", "period", "size", "threshold", "suggestion"]
"""Columns of every warning table: the run's first and last (alarm) period, its size and the bar it crossed."""

_MIN_SD = 1e-9


@dataclass(frozen=True)
class WarningRules:
    """Settings of the warning rules; the defaults state a 1 % false-alarm level per unit-month.

    Attributes
    ----------
    decline_months
        Consecutive monthly declines that make a warning (R14: 3).
    alpha
        Stated probability that a stable unit with normal noise triggers the
        decline rule in a given month.
    lead_months
        Consecutive months at the top of the peer group (R14: 3).
    last_years
        Consecutive years at the bottom of the peer group (R12: 2).
    arl0
        In-control average run length (months) of the control charts; the
        stated false-alarm rate is ``1 / arl0`` per unit-month.
    cusum_k
        CUSUM reference value, in noise sd (half the shift it is tuned to detect).
    ewma_lambda
        EWMA smoothing weight.
    baseline_months
        Months at the start of each unit's series that set its in-control level
        for the control charts.
    min_group
        Peer groups with fewer scored units are compared with all units instead.
    prior_df
        Weight (degrees of freedom) of the peer group's noise variance in each
        unit's moderated noise variance.
    """

    decline_months: int = 3
    alpha: float = 0.01
    lead_months: int = 3
    last_years: int = 2
    arl0: float = 100.0
    cusum_k: float = 0.5
    ewma_lambda: float = 0.2
    baseline_months: int = 12
    min_group: int = 3
    prior_df: float = 4.0


DEFAULT_RULES = WarningRules()


# ----------------------------------------------------------------------------- preparation
def _check_scores(scores: pd.DataFrame, score: str, group: str) -> None:
    missing = [c for c in ("unit_id", "period", score, group) if c not in scores.columns]
    if missing:
        raise OptionError(
            f"the score table lacks column(s) {', '.join(missing)}; pass a long table of monthly scores "
            "such as perfmodel.monitor.series.monthly_scores(...).scores"
        )
    bad = [p for p in scores["period"].unique() if not _is_month(p)]
    if bad:
        raise OptionError(
            f"warnings need monthly periods, got {bad[0]!r}; use monthly scores (YYYY-MM), not quarters or years"
        )
    dup = scores.duplicated(["unit_id", "period"])
    if dup.any():
        row = scores[dup].iloc[0]
        raise OptionError(f"unit {row['unit_id']!r} has more than one score in {row['period']}; give one per month")


def _is_month(value: object) -> bool:
    try:
        parse_month(value)
    except ValueError:
        return False
    return len(str(value)) <= 7 and "Q" not in str(value)


def _month_index(periods: pd.Series) -> pd.Series:
    first = min(parse_month(p) for p in periods.unique())
    lookup = {p: (parse_month(p) - first).n for p in periods.unique()}
    return periods.map(lookup).astype(int)


def prepare_scores(
    scores: pd.DataFrame,
    *,
    score: str = "score",
    group: str = "peer_group",
    rules: WarningRules = DEFAULT_RULES,
    shrink: bool = True,
) -> pd.DataFrame:
    """Risk-adjust, standardise and shrink monthly scores for the warning rules.

    Parameters
    ----------
    scores
        Long table with ``unit_id``, ``period`` (months), ``score`` and the peer
        ``group`` column (e.g. :attr:`PeriodSeries.scores`); rows without a score
        are dropped.
    score, group
        Column names.
    rules
        ``min_group`` and ``prior_df`` are used here.
    shrink
        Add empirical-Bayes scores (one normal–normal fit per month and group).

    Returns
    -------
    pandas.DataFrame
        One row per unit-month: ``unit_id``, ``period``, ``month`` (0, 1, …),
        ``peer_group``, ``score``, ``expected`` (the group's mean that month),
        ``relative`` (score − expected), ``noise_sd`` (the unit's moderated
        month-to-month noise sd), ``shrunk`` (empirical-Bayes score; the raw
        score when not shrunk), ``shrunk_relative`` and ``reliability`` (weight
        on the unit's own data), plus ``name`` when given.
    """
    _check_scores(scores, score, group)
    keep = ["unit_id", "period", group, score] + (["name"] if "name" in scores.columns else [])
    s = scores[keep].rename(columns={group: "peer_group", score: "score"})
    s = s.dropna(subset=["score"]).copy()
    s["peer_group"] = s["peer_group"].astype(str)
    s["month"] = _month_index(s["period"])
    size = s.groupby(["period", "peer_group"])["score"].transform("size")
    group_mean = s.groupby(["period", "peer_group"])["score"].transform("mean")
    all_mean = s.groupby("period")["score"].transform("mean")
    s["expected"] = np.where(size >= rules.min_group, group_mean, all_mean)
    s["relative"] = s["score"] - s["expected"]
    s = s.sort_values(["unit_id", "month"]).reset_index(drop=True)
    s["noise_sd"] = _moderated_noise(s, rules)
    if shrink:
        s = _shrink(s, rules)
    else:
        s["shrunk_relative"] = s["relative"]
        s["reliability"] = 1.0
    s["shrunk"] = s["expected"] + s["shrunk_relative"]
    columns = [
        "unit_id",
        "period",
        "month",
        "peer_group",
        "score",
        "expected",
        "relative",
        "noise_sd",
        "shrunk",
        "shrunk_relative",
        "reliability",
    ] + (["name"] if "name" in s.columns else [])
    return s[columns]


def _moderated_noise(s: pd.DataFrame, rules: WarningRules) -> pd.Series:
    """Per unit: sqrt((d0 s0² + d s²) / (d0 + d)), s² from consecutive-month differences."""
    step = s.groupby("unit_id")["month"].diff()
    diff = s.groupby("unit_id")["relative"].diff().where(step == 1)
    per_unit = pd.DataFrame({"unit_id": s["unit_id"], "diff": diff}).groupby("unit_id")["diff"]
    var = per_unit.var(ddof=1) / 2.0
    df = (per_unit.count() - 1).clip(lower=0)
    groups = s.groupby("unit_id")["peer_group"].first()
    pooled = var.groupby(groups).median()
    fallback = float(var.median()) if var.notna().any() else np.nan
    prior = groups.map(pooled).fillna(fallback)
    if not np.isfinite(fallback):
        raise OptionError("no unit has two consecutive months of scores; the noise of the scores cannot be estimated")
    d0 = rules.prior_df
    moderated = (d0 * prior + df * var.fillna(0.0)) / (d0 + df)
    return s["unit_id"].map(np.sqrt(moderated.clip(lower=_MIN_SD**2)))


def _shrink(s: pd.DataFrame, rules: WarningRules) -> pd.DataFrame:
    shrunk, reliability = _eb(s, ["period", "peer_group"], "relative", "noise_sd", rules.min_group)
    return s.assign(shrunk_relative=shrunk, reliability=reliability)


def _eb(frame: pd.DataFrame, by: list[str], estimate: str, se: str, min_group: int) -> tuple[pd.Series, pd.Series]:
    """Normal–normal empirical-Bayes estimates within each ``by`` cell (one fit, one prior per cell).

    Cells with fewer than ``min_group`` rows keep their raw values (reliability 1).
    """
    key = frame[by[0]].astype(str)
    for column in by[1:]:
        key = key + "|" + frame[column].astype(str)
    size = key.map(key.value_counts())
    ok = (size >= min_group).to_numpy()
    shrunk = frame[estimate].astype(float).copy()
    reliability = pd.Series(1.0, index=frame.index)
    if ok.any():
        cells = pd.DataFrame(
            {
                "row": np.flatnonzero(ok),
                "cell": key[ok].to_numpy(),
                "estimate": frame[estimate].to_numpy(dtype=float)[ok],
                "se": frame[se].to_numpy(dtype=float)[ok],
            }
        )
        model = NormalNormalShrinkage("reml", estimate="estimate", se="se", unit="row", groups="cell")
        fitted = model.fit_transform(cells)
        shrunk.iloc[fitted["row"].to_numpy()] = fitted["shrunk"].to_numpy()
        reliability.iloc[fitted["row"].to_numpy()] = fitted["reliability"].to_numpy()
    return shrunk, reliability


# ----------------------------------------------------------------------------- the decline rule
def decline_probability(c: float, months: int = 3) -> float:
    """P(``months`` consecutive declines and a total drop ≥ c·√2 sd) for iid normal noise.

    With ``months + 1`` independent N(0, σ²) values x₀ … x_m, this is
    P(x₀ > x₁ > … > x_m and (x₀ − x_m) / (σ√2) ≥ c), which equals
    (1/m!) ∫ φ(b) [(1 − Φ(b))^m − (Φ(b + c√2) − Φ(b))^m] db. At ``c = 0`` it is
    1 / (m + 1)! (1/24 for three declines).
    """
    if months < 1:
        raise OptionError(f"months must be at least 1, got {months}")
    c = max(float(c), 0.0)

    def integrand(b: float) -> float:
        lower = stats.norm.cdf(b)
        span = stats.norm.cdf(b + c * math.sqrt(2.0)) - lower
        return float(stats.norm.pdf(b) * ((1.0 - lower) ** months - span**months))

    value, _ = integrate.quad(integrand, -10.0, 10.0, limit=200)
    return value / math.factorial(months)


@functools.lru_cache(maxsize=64)
def decline_threshold(alpha: float, months: int = 3) -> float:
    """The standardised total drop ``c`` at which :func:`decline_probability` equals ``alpha``.

    Returns 0 when ``alpha`` is at least 1 / (months + 1)!: the declines alone
    are rare enough.

    Examples
    --------
    >>> round(decline_threshold(0.01), 2)
    1.87
    """
    if not 0.0 < alpha < 1.0:
        raise OptionError(f"alpha must be a probability between 0 and 1, got {alpha}")
    if alpha >= decline_probability(0.0, months):
        return 0.0
    return float(optimize.brentq(lambda c: decline_probability(c, months) - alpha, 0.0, 12.0, xtol=1e-8))


def _runs(prepared: pd.DataFrame, months: int, column: str) -> pd.DataFrame:
    """For each unit-month, ``column`` ``months`` back, when every month in between is present."""
    p = prepared.sort_values(["unit_id", "month"])
    g = p.groupby("unit_id")
    out = {"consecutive": g["month"].diff(months) == months}
    for lag in range(1, months + 1):
        out[f"x{lag}"] = g[column].shift(lag)
        out[f"p{lag}"] = g["period"].shift(lag)
    return p.assign(**out)


def decline_warnings(prepared: pd.DataFrame, rules: WarningRules = DEFAULT_RULES, lang: str = "zh") -> pd.DataFrame:
    """Units whose risk-adjusted score fell in each of the last ``decline_months`` months
    by a total larger than noise explains.

    The rule reads the relative score (score − peer-group mean that month), not
    the shrunk one: its protection against noise is the standardisation by each
    unit's own (moderated) noise sd σ — the total drop over the run must reach
    :func:`decline_threshold` of ``rules.alpha`` times σ·√2. On unshrunk scores
    that makes the false-alarm rate of a stable unit with normal, independent
    noise exactly ``rules.alpha`` per month; on shrunk scores, whose reliability
    changes from month to month, it would not be (1.4 % instead of 1 % measured).

    Returns
    -------
    pandas.DataFrame
        :data:`WARNING_COLUMNS`, one row per alarm month; ``size`` is the drop in
        score points, ``threshold`` the drop that was needed.
    """
    check_lang(lang)
    m = rules.decline_months
    c = decline_threshold(rules.alpha, m)
    p = _runs(prepared, m, "relative")
    x = np.column_stack([p["relative"]] + [p[f"x{lag}"] for lag in range(1, m + 1)])
    falling = np.all(np.diff(x, axis=1) > 0, axis=1)  # x_t < x_{t-1} < … < x_{t-m}
    drop = p[f"x{m}"] - p["relative"]
    needed = c * p["noise_sd"] * np.sqrt(2.0)
    alarm = p["consecutive"] & falling & (drop >= needed)
    hits = p[alarm.to_numpy()]
    return _warning_frame(
        hits["unit_id"],
        hits["peer_group"],
        "decline",
        hits[f"p{m}"].map(_next_month),
        hits["period"],
        drop[alarm],
        needed[alarm],
        lang,
    )


def _next_month(period: str) -> str:
    return str(parse_month(period) + 1)


def _warning_frame(unit, group, rule, start, period, size, threshold, lang) -> pd.DataFrame:
    text = SUGGESTIONS[rule][lang]
    frame = pd.DataFrame(
        {
            "unit_id": np.asarray(unit),
            "peer_group": np.asarray(group),
            "rule": rule,
            "start": np.asarray(start),
            "period": np.asarray(period),
            "size": np.asarray(size, dtype=float),
            "threshold": np.asarray(threshold, dtype=float),
            "suggestion": text,
        }
    )
    return frame[WARNING_COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------- leaders and last places
def _streaks(flag: pd.Series, unit: pd.Series, step: pd.Series) -> pd.Series:
    """Length of the current run of True flags per unit (a gap in ``step`` breaks a run)."""
    brk = (~flag) | (step != 1)
    run_id = brk.groupby(unit).cumsum()
    streak = flag.groupby([unit, run_id]).cumsum()
    return streak.where(flag, 0)


def leader_flags(
    prepared: pd.DataFrame, rules: WarningRules = DEFAULT_RULES, *, column: str = "shrunk", lang: str = "zh"
) -> pd.DataFrame:
    """Units ranked first in their peer group for ``lead_months`` consecutive months (R14).

    Ranks use ``column`` (the empirical-Bayes score by default, so a small unit's
    lucky months do not make it a leader). Groups smaller than ``min_group`` are
    skipped. One row per month in which a unit completes (or extends) such a run.
    """
    check_lang(lang)
    p = prepared.sort_values(["unit_id", "month"]).copy()
    size = p.groupby(["period", "peer_group"])[column].transform("size")
    rank = p.groupby(["period", "peer_group"])[column].rank(ascending=False, method="min")
    ties = (rank == 1).groupby([p["period"], p["peer_group"]]).transform("sum")
    first = (rank == 1) & (ties == 1) & (size >= rules.min_group)
    step = p.groupby("unit_id")["month"].diff()
    p["streak"] = _streaks(first, p["unit_id"], step).to_numpy()
    hits = p[p["streak"] >= rules.lead_months]
    start = [_shift_month(per, -(int(k) - 1)) for per, k in zip(hits["period"], hits["streak"], strict=True)]
    lead = hits[column] - _second_best(p, column).reindex(hits.index)
    return _warning_frame(
        hits["unit_id"], hits["peer_group"], "leader", start, hits["period"], lead, np.zeros(len(hits)), lang
    )


def _second_best(p: pd.DataFrame, column: str) -> pd.Series:
    """The second-highest ``column`` value of each unit's period and group (NaN for a group of one)."""
    ordered = p.sort_values(column, ascending=False, kind="stable")
    position = ordered.groupby(["period", "peer_group"]).cumcount()
    second = ordered[position == 1].set_index(["period", "peer_group"])[column]
    cells = pd.MultiIndex.from_frame(p[["period", "peer_group"]])
    return pd.Series(second.reindex(cells).to_numpy(), index=p.index)


def _shift_month(period: str, steps: int) -> str:
    return str(parse_month(period) + steps)


def last_place_flags(
    annual: pd.DataFrame,
    rules: WarningRules = DEFAULT_RULES,
    *,
    score: str = "score",
    group: str = "peer_group",
    se: str | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """Units last in their peer group in ``last_years`` consecutive years (R12).

    Parameters
    ----------
    annual
        One row per unit and year: ``unit_id``, ``period`` (year), the score and
        the group (e.g. ``AnnualSummary.years.scores``).
    se
        Column of each annual score's standard error; when given, scores are
        shrunk within each year and group before ranking, so that a small unit is
        not flagged for one unlucky year's noise.
    """
    check_lang(lang)
    missing = [c for c in ("unit_id", "period", score, group) if c not in annual.columns]
    if missing:
        raise OptionError(f"the annual table lacks column(s) {', '.join(missing)}")
    a = annual.dropna(subset=[score]).copy()
    a["_year"] = a["period"].astype(str).str[:4].astype(int)
    a["_value"] = a[score].astype(float)
    if se is not None:
        a["_value"], _ = _eb(a, ["_year", group], "_value", se, rules.min_group)
    size = a.groupby(["_year", group])["_value"].transform("size")
    worst = a.groupby(["_year", group])["_value"].rank(ascending=True, method="min")
    ties = (worst == 1).groupby([a["_year"], a[group]]).transform("sum")
    a["_last"] = (worst == 1) & (ties == 1) & (size >= rules.min_group)
    a = a.sort_values(["unit_id", "_year"])
    step = a.groupby("unit_id")["_year"].diff()
    a["_streak"] = _streaks(a["_last"], a["unit_id"], step).to_numpy()
    hits = a[a["_streak"] >= rules.last_years]
    start = (hits["_year"] - hits["_streak"] + 1).astype(str)
    return _warning_frame(
        hits["unit_id"],
        hits[group],
        "last_place",
        start,
        hits["_year"].astype(str),
        hits["_value"],
        np.full(len(hits), np.nan),
        lang,
    )


# ----------------------------------------------------------------------------- control charts
def arl_cusum(k: float, h: float, shift: float = 0.0, n_states: int = 200) -> float:
    """Average run length of a one-sided CUSUM on N(shift, 1) data (Brook–Evans Markov chain).

    The chart is S_t = max(0, S_{t-1} + z_t − k), signalling when S_t > h,
    started at 0; the lower-sided chart on −z has the same ARL for −shift.

    Examples
    --------
    >>> round(arl_cusum(0.5, 4.0))  # one side; the two-sided chart's 168 (Montgomery, Table 9.3) is half
    335
    """
    if h <= 0:
        raise OptionError(f"h must be positive, got {h}")
    w = 2.0 * h / (2 * n_states - 1)
    centres = np.arange(n_states) * w
    upper_edges = centres[None, :] + w / 2.0 - centres[:, None] + k - shift
    cdf_upper = stats.norm.cdf(upper_edges)
    transition = np.empty((n_states, n_states))
    transition[:, 0] = cdf_upper[:, 0]
    transition[:, 1:] = cdf_upper[:, 1:] - stats.norm.cdf(upper_edges[:, 1:] - w)
    arl = np.linalg.solve(np.eye(n_states) - transition, np.ones(n_states))
    return float(arl[0])


def arl_ewma(
    lam: float, lower: float, upper: float, shift: float = 0.0, *, reflect_upper: bool = False, n_states: int = 301
) -> float:
    """Average run length of an EWMA chart on N(shift, 1) data (Brook–Evans Markov chain).

    E_t = (1 − λ) E_{t-1} + λ z_t, started at 0, signals when E_t leaves
    (lower, upper). With ``reflect_upper`` the upper bound is not a limit: a
    value above it is kept in the top state (a one-sided lower chart; put the
    bound far away, e.g. 6 sd of E).

    Examples
    --------
    >>> sd = (0.1 / 1.9) ** 0.5
    >>> round(arl_ewma(0.1, -2.814 * sd, 2.814 * sd))  # Lucas & Saccucci (1990): 500
    500
    """
    if not 0.0 < lam <= 1.0:
        raise OptionError(f"lambda must be in (0, 1], got {lam}")
    if not lower < 0.0 < upper:
        raise OptionError("the EWMA limits must enclose the starting value 0")
    delta = (upper - lower) / (2.0 * n_states)
    centres = lower + delta * (2 * np.arange(n_states) + 1)
    start = (1.0 - lam) * centres[:, None]
    hi = stats.norm.cdf((centres[None, :] + delta - start) / lam - shift)
    lo = stats.norm.cdf((centres[None, :] - delta - start) / lam - shift)
    transition = hi - lo
    if reflect_upper:
        transition[:, -1] = 1.0 - lo[:, -1]
    arl = np.linalg.solve(np.eye(n_states) - transition, np.ones(n_states))
    return float(np.interp(0.0, centres, arl))


def _ewma_sd(lam: float) -> float:
    return math.sqrt(lam / (2.0 - lam))


@functools.lru_cache(maxsize=64)
def cusum_limit(arl0: float, k: float = 0.5) -> float:
    """The decision limit h giving a one-sided CUSUM the in-control ARL ``arl0``."""
    if arl0 <= 1:
        raise OptionError(f"arl0 must exceed 1 month, got {arl0}")
    return float(optimize.brentq(lambda h: arl_cusum(k, h) - arl0, 1e-3, 30.0, xtol=1e-6))


@functools.lru_cache(maxsize=64)
def ewma_limit(arl0: float, lam: float = 0.2, *, one_sided: bool = True) -> float:
    """The multiplier L of the EWMA's asymptotic sd giving the in-control ARL ``arl0``.

    One-sided (lower) by default: the chart signals when E_t < −L·√(λ/(2−λ)).
    """
    if arl0 <= 1:
        raise OptionError(f"arl0 must exceed 1 month, got {arl0}")
    sd = _ewma_sd(lam)

    def gap(limit: float) -> float:
        if one_sided:
            return arl_ewma(lam, -limit * sd, 8.0 * sd, reflect_upper=True) - arl0
        return arl_ewma(lam, -limit * sd, limit * sd) - arl0

    return float(optimize.brentq(gap, 0.05, 6.0, xtol=1e-6))


def control_chart(
    prepared: pd.DataFrame,
    method: Literal["cusum", "ewma"] = "cusum",
    rules: WarningRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Risk-adjusted lower CUSUM or EWMA of each unit's observed-minus-expected score.

    For unit i in month t the standardised residual is
    z = (relative − baseline_i) / noise_sd_i, where ``relative`` is the score
    minus its peer group's mean that month (the expected score) and ``baseline_i``
    the unit's mean relative score over its first ``rules.baseline_months``
    months. Months after the baseline are charted; a chart restarts at 0 after a
    signal. Limits give the in-control ARL ``rules.arl0`` (:func:`cusum_limit`,
    :func:`ewma_limit`), i.e. a stated false-alarm rate of 1/ARL₀ per unit-month
    when the baseline and noise are known.

    Returns
    -------
    pandas.DataFrame
        One row per charted unit-month: ``unit_id``, ``period``, ``peer_group``,
        ``z``, ``statistic`` (CUSUM ≥ 0 or EWMA), ``limit``, ``signal``, ``baseline``.
    """
    if method not in ("cusum", "ewma"):
        raise OptionError(f"method must be 'cusum' or 'ewma', got {method!r}")
    p = prepared.sort_values(["unit_id", "month"]).copy()
    order = p.groupby("unit_id").cumcount()
    in_base = order < rules.baseline_months
    baseline = p["relative"].where(in_base).groupby(p["unit_id"]).transform("mean")
    p["baseline"] = baseline
    p["z"] = (p["relative"] - baseline) / p["noise_sd"]
    charted = p[~in_base].copy()
    if method == "cusum":
        limit = cusum_limit(rules.arl0, rules.cusum_k)
    else:
        limit = -ewma_limit(rules.arl0, rules.ewma_lambda) * _ewma_sd(rules.ewma_lambda)
    stat = np.empty(len(charted))
    signal = np.zeros(len(charted), dtype=bool)
    units = charted["unit_id"].to_numpy()
    zs = charted["z"].to_numpy()
    value = 0.0
    for i in range(len(charted)):
        if i == 0 or units[i] != units[i - 1]:
            value = 0.0
        if method == "cusum":
            value = max(0.0, value - zs[i] - rules.cusum_k)
            signal[i] = value > limit
        else:
            lam = rules.ewma_lambda
            value = (1.0 - lam) * value + lam * zs[i]
            signal[i] = value < limit
        stat[i] = value
        if signal[i]:
            value = 0.0
    charted["statistic"] = stat
    charted["limit"] = limit
    charted["signal"] = signal
    return charted[["unit_id", "period", "peer_group", "z", "statistic", "limit", "signal", "baseline"]].reset_index(
        drop=True
    )


def _chart_warnings(chart: pd.DataFrame, prepared: pd.DataFrame, lang: str) -> pd.DataFrame:
    hits = chart[chart["signal"]]
    rel = prepared.set_index(["unit_id", "period"])["relative"]
    size = hits["baseline"].to_numpy() - rel.reindex(list(zip(hits["unit_id"], hits["period"], strict=True))).to_numpy()
    return _warning_frame(
        hits["unit_id"], hits["peer_group"], "control_chart", hits["period"], hits["period"], size, hits["limit"], lang
    )


def early_warnings(
    prepared: pd.DataFrame,
    method: Literal["rules", "cusum", "ewma"] = "rules",
    rules: WarningRules = DEFAULT_RULES,
    lang: str = "zh",
) -> pd.DataFrame:
    """Decline warnings (by the three-month rule or a control chart) and leader flags, one table."""
    check_lang(lang)
    if method == "rules":
        declines = decline_warnings(prepared, rules, lang)
    elif method in ("cusum", "ewma"):
        declines = _chart_warnings(control_chart(prepared, method, rules), prepared, lang)
    else:
        raise OptionError(f"method must be 'rules', 'cusum' or 'ewma', got {method!r}")
    leaders = leader_flags(prepared, rules, lang=lang)
    frames = [f for f in (declines, leaders) if len(f)]
    if not frames:
        return pd.DataFrame(columns=WARNING_COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values(["rule", "period", "unit_id"]).reset_index(drop=True)


def merge_episodes(warnings: pd.DataFrame) -> pd.DataFrame:
    """One row per episode: a unit's signals of one rule in consecutive periods merged.

    A unit leading its group for five months is flagged in months 3, 4 and 5;
    as an episode it is one row from its first month (``start``) to the latest
    signal (``period``), with the latest ``size``.
    """
    if warnings.empty:
        return warnings.copy()
    w = warnings.copy()
    w["_step"] = [_period_number(p) for p in w["period"]]
    w = w.sort_values(["unit_id", "rule", "_step"])
    gap = w.groupby(["unit_id", "rule"])["_step"].diff()
    w["_episode"] = (gap != 1).cumsum()
    out = w.groupby("_episode").agg(
        unit_id=("unit_id", "first"),
        peer_group=("peer_group", "first"),
        rule=("rule", "first"),
        start=("start", "first"),
        period=("period", "last"),
        size=("size", "last"),
        threshold=("threshold", "last"),
        suggestion=("suggestion", "first"),
    )
    return out[WARNING_COLUMNS].sort_values(["rule", "period", "unit_id"]).reset_index(drop=True)


def _period_number(period: object) -> int:
    text = str(period)
    if len(text) == 4 and text.isdigit():
        return int(text)
    month = parse_month(text)
    return month.year * 12 + month.month


def warning_counts(warnings: pd.DataFrame, names: Mapping[str, str] | None = None, lang: str = "zh") -> pd.DataFrame:
    """Episodes (:func:`merge_episodes`) per unit and rule, with readable headers."""
    check_lang(lang)
    rule_names = templates("monitor.warnings.rule", lang)
    col = templates("monitor.warnings.col", lang)
    episodes = merge_episodes(warnings)
    if episodes.empty:
        return pd.DataFrame(columns=[col["unit_id"], col["name"]])
    table = episodes.groupby(["unit_id", "rule"]).size().unstack(fill_value=0)
    table = table.rename(columns=rule_names).reset_index()
    table.insert(1, "name", table["unit_id"].map(names or {}).fillna(table["unit_id"]))
    table.columns.name = None
    return table.rename(columns={"unit_id": col["unit_id"], "name": col["name"]})


def warning_table(
    warnings: pd.DataFrame, names: Mapping[str, str] | None = None, lang: str = "zh", period: str | None = None
) -> pd.DataFrame:
    """Warnings as a report table, one row per episode (:func:`merge_episodes`), with translated headers.

    With ``period``, only the episodes still signalling in that period.
    """
    check_lang(lang)
    w = merge_episodes(warnings)
    if period is not None:
        w = w[w["period"] == period]
    rule_names = templates("monitor.warnings.rule", lang)
    suggestions = templates("monitor.warnings.suggestion", lang)
    col = templates("monitor.warnings.col", lang)
    table = pd.DataFrame(
        {
            col["unit_id"]: w["unit_id"],
            col["name"]: w["unit_id"].map(names or {}).fillna(w["unit_id"]),
            col["peer_group"]: w["peer_group"],
            col["rule"]: w["rule"].map(rule_names),
            col["start"]: w["start"],
            col["period"]: w["period"],
            col["size"]: w["size"],
            col["suggestion"]: w["rule"].map(suggestions),  # in the table's language, whatever the frame's
        }
    )
    return table.reset_index(drop=True)


# ----------------------------------------------------------------------------- simulation
def simulate_monitoring(
    *,
    n_groups: int = 6,
    group_size: int = 10,
    n_months: int = 36,
    start: str = "2023-01",
    noise_sd: float = 6.0,
    noisy_share: float = 0.3,
    noisy_factor: float = 2.5,
    between_sd: float = 12.0,
    season_sd: float = 4.0,
    declining: int = 0,
    decline_slope: float = 6.0,
    decline_length: int = 6,
    decline_start: int = 24,
    leaders: bool = False,
    leader_lead: float = 12.0,
    rng: RngLike = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly scores of simulated units with known stability, noise, declines and leaders.

    Every unit has a constant true level (N(70, ``between_sd``)) plus noise with
    sd ``noise_sd`` (``noisy_factor`` times more for a ``noisy_share`` of small
    units) and a month effect shared by its peer group (season and shocks, sd
    ``season_sd``). ``declining`` regular-noise units per group lose
    ``decline_slope`` points a month for ``decline_length`` months from month
    ``decline_start``; with ``leaders`` the first regular unit of each group sits
    ``leader_lead`` points above the group's best other true level.

    ``rng`` is an int seed, a ``numpy.random.Generator`` or ``None``
    (:mod:`perfmodel.randomness`).

    Returns
    -------
    (scores, truth)
        ``scores``: ``unit_id, period, peer_group, score``; ``truth``: ``unit_id,
        peer_group, noisy, declining, leader, level, noise_sd``.
    """
    rng = as_generator(rng)
    n = n_groups * group_size
    group = np.repeat([f"G{g + 1}" for g in range(n_groups)], group_size)
    level = rng.normal(70.0, between_sd, n)
    noisy = np.zeros(n, dtype=bool)
    n_noisy = int(round(noisy_share * group_size))
    for g in range(n_groups):
        noisy[g * group_size + group_size - n_noisy : (g + 1) * group_size] = True
    sd = np.where(noisy, noise_sd * noisy_factor, noise_sd)
    decl = np.zeros(n, dtype=bool)
    lead = np.zeros(n, dtype=bool)
    for g in range(n_groups):
        members = np.arange(g * group_size, (g + 1) * group_size)
        regular = members[~noisy[members]]
        if leaders:
            lead[regular[0]] = True
            level[regular[0]] = level[members[members != regular[0]]].max() + leader_lead
        decl[regular[1 : 1 + declining] if leaders else regular[:declining]] = True
    months = np.arange(n_months)
    phase = rng.uniform(0, 12, n_groups)
    season = season_sd * np.cos(2 * np.pi * (months[None, :] - phase[:, None]) / 12)
    season = season + rng.normal(0, season_sd / 2, (n_groups, n_months))
    path = np.clip(months - decline_start + 1, 0, decline_length)[None, :] * decline_slope * decl[:, None]
    values = (
        level[:, None]
        - path
        + season[np.repeat(np.arange(n_groups), group_size)]
        + rng.normal(0, 1, (n, n_months)) * sd[:, None]
    )
    periods = [str(p) for p in pd.period_range(start, periods=n_months, freq="M")]
    ids = [f"U{i + 1:03d}" for i in range(n)]
    scores = pd.DataFrame(
        {
            "unit_id": np.repeat(ids, n_months),
            "period": np.tile(periods, n),
            "peer_group": np.repeat(group, n_months),
            "score": values.ravel(),
        }
    )
    truth = pd.DataFrame(
        {
            "unit_id": ids,
            "peer_group": group,
            "noisy": noisy,
            "declining": decl,
            "leader": lead,
            "level": level,
            "noise_sd": sd,
        }
    )
    return scores, truth


def operating_characteristics(
    method: Literal["rules", "cusum", "ewma"],
    seeds: Sequence[int] = tuple(range(10)),
    rules: WarningRules = DEFAULT_RULES,
    **simulation: float | int | bool | str,
) -> pd.DataFrame:
    """False-alarm and detection rates of a decline method, measured on simulated units.

    For each seed, :func:`simulate_monitoring` draws stable units (regular and
    noisy) and, with ``declining`` > 0, units with a planted decline. A false
    alarm is a warning on a stable unit; the rate is per charted unit-month (all
    months where the rule can fire: from the ``decline_months``-th month for the
    rule, after the baseline for control charts). A decline is detected when a
    warning falls between its first month and three months after it ends.

    Returns
    -------
    pandas.DataFrame
        One row per unit type (``regular``, ``noisy``, ``all stable``,
        ``declining``): ``unit_months``, ``alarms``, ``rate`` (alarms per unit-month;
        for ``declining`` the share detected), ``stated`` (α or 1/ARL₀), and
        ``median_delay`` (months from the decline's start to its first warning).
    """
    rows = {"regular": [0, 0], "noisy": [0, 0], "declining": [0, 0]}
    delays: list[float] = []
    start = int(simulation.get("decline_start", 24))
    length = int(simulation.get("decline_length", 6))
    for seed in seeds:
        scores, truth = simulate_monitoring(rng=seed, **simulation)
        prepared = prepare_scores(scores, rules=rules, shrink=False)
        if method == "rules":
            warnings_ = decline_warnings(prepared, rules)
            first_month = rules.decline_months
        else:
            warnings_ = _chart_warnings(control_chart(prepared, method, rules), prepared, "zh")
            first_month = rules.baseline_months
        months = _month_index(pd.concat([prepared["period"], warnings_["period"]]))
        alarm_month = months.iloc[len(prepared) :].to_numpy()
        n_months = int(prepared["month"].max()) + 1
        charted = max(n_months - first_month, 0)
        info = truth.set_index("unit_id")
        for kind, mask in (("regular", ~info["noisy"] & ~info["declining"]), ("noisy", info["noisy"])):
            ids = set(info.index[mask])
            rows[kind][0] += len(ids) * charted
            rows[kind][1] += int(warnings_["unit_id"].isin(ids).sum())
        for unit in info.index[info["declining"]]:
            rows["declining"][0] += 1
            hit = alarm_month[(warnings_["unit_id"] == unit).to_numpy()]
            hit = hit[(hit >= start) & (hit <= start + length + 2)]
            if len(hit):
                rows["declining"][1] += 1
                delays.append(float(hit.min() - start + 1))
    if method == "rules":  # α, or 1/(m+1)! when α is above what the declines alone allow
        stated = decline_probability(decline_threshold(rules.alpha, rules.decline_months), rules.decline_months)
    else:
        stated = 1.0 / rules.arl0
    out = []
    for kind, (n, k) in rows.items():
        out.append(
            {
                "units": kind,
                "unit_months": n,
                "alarms": k,
                "rate": k / n if n else np.nan,
                "stated": stated if kind != "declining" else np.nan,
                "median_delay": float(np.median(delays)) if kind == "declining" and delays else np.nan,
            }
        )
    stable_n = rows["regular"][0] + rows["noisy"][0]
    stable_k = rows["regular"][1] + rows["noisy"][1]
    out.insert(
        2,
        {
            "units": "all stable",
            "unit_months": stable_n,
            "alarms": stable_k,
            "rate": stable_k / stable_n if stable_n else np.nan,
            "stated": stated,
            "median_delay": np.nan,
        },
    )
    return pd.DataFrame(out)


def leader_characteristics(
    seeds: Sequence[int] = tuple(range(10)),
    rules: WarningRules = DEFAULT_RULES,
    **simulation: float | int | bool | str,
) -> pd.DataFrame:
    """How often planted leaders are flagged, and how often noisy units without any lead are,
    with ranks on raw scores and on shrunk scores.

    Returns
    -------
    pandas.DataFrame
        One row per score (``raw``, ``shrunk``): ``leaders_flagged`` (share of
        planted leaders flagged at least once), ``noisy_flagged`` (share of noisy
        non-leading units flagged at least once), ``regular_flagged`` (same for
        regular non-leading units).
    """
    simulation = {"leaders": True, **simulation}
    counts = {c: np.zeros(6) for c in ("score", "shrunk")}
    for seed in seeds:
        scores, truth = simulate_monitoring(rng=seed, **simulation)
        prepared = prepare_scores(scores, rules=rules, shrink=True)
        info = truth.set_index("unit_id")
        for column in counts:
            flagged = set(leader_flags(prepared, rules, column=column)["unit_id"])
            for j, mask in enumerate(
                (info["leader"], info["noisy"] & ~info["leader"], ~info["noisy"] & ~info["leader"])
            ):
                ids = info.index[mask]
                counts[column][2 * j] += len(ids)
                counts[column][2 * j + 1] += sum(u in flagged for u in ids)
    rows = []
    for column, c in counts.items():
        rows.append(
            {
                "score": "raw" if column == "score" else "shrunk",
                "leaders_flagged": c[1] / c[0],
                "noisy_flagged": c[3] / c[2],
                "regular_flagged": c[5] / c[4],
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- figures
def figure_warning_trajectories(
    prepared: pd.DataFrame, units: Sequence[str], lang: str = "zh", names: Mapping[str, str] | None = None
):
    """Relative scores (score − peer-group mean) of the warned units, raw and shrunk."""
    check_lang(lang)
    import matplotlib.pyplot as plt

    words = templates("monitor.warnings.fig", lang)
    periods = sorted(prepared["period"].unique())
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    colours = plt.get_cmap("tab10")
    for i, unit in enumerate(list(units)[:8]):
        sub = prepared[prepared["unit_id"] == unit].set_index("period").reindex(periods)
        label_ = (names or {}).get(unit, unit)
        ax.plot(periods, sub["relative"], color=colours(i), lw=0.9, alpha=0.45, marker=".")
        ax.plot(periods, sub["shrunk_relative"], color=colours(i), lw=1.8, label=label_)
    ax.axhline(0, color="grey", lw=0.8)
    ax.tick_params(axis="x", rotation=45)
    if len(units):
        ax.legend(fontsize=8, ncol=2)
    ax.set_title(words["trajectories_title"])
    ax.set_xlabel(words["month"])
    ax.set_ylabel(words["difference"])
    return fig


def figure_control_chart(chart: pd.DataFrame, unit: str, lang: str = "zh", name: str | None = None):
    """One unit's CUSUM or EWMA path with its decision limit and signals."""
    check_lang(lang)
    import matplotlib.pyplot as plt

    words = templates("monitor.warnings.fig", lang)
    sub = chart[chart["unit_id"] == unit]
    if sub.empty:
        raise OptionError(f"unit {unit!r} is not in the control chart (too few months after the baseline?)")
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.plot(sub["period"], sub["statistic"], marker="o", ms=3, lw=1.4)
    ax.axhline(float(sub["limit"].iloc[0]), color="#b2182b", ls="--", lw=1, label=words["limit"])
    sig = sub[sub["signal"]]
    ax.scatter(sig["period"], sig["statistic"], color="#b2182b", zorder=3, label=words["signal"])
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=8)
    ax.set_title(words["chart_title"].format(name=name or unit))
    ax.set_xlabel(words["month"])
    ax.set_ylabel(words["statistic"])
    return fig


# ----------------------------------------------------------------------------- report text
def characteristics_table(oc: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """:func:`operating_characteristics` with readable row names and headers."""
    check_lang(lang)
    kinds = templates("monitor.warnings.kind", lang)
    col = templates("monitor.warnings.col", lang)
    return pd.DataFrame(
        {
            col["units"]: oc["units"].map(lambda kind: kinds.get(str(kind).replace(" ", "_"), kind)),
            col["unit_months"]: oc["unit_months"],
            col["alarms"]: oc["alarms"],
            col["rate"]: oc["rate"],
            col["stated"]: oc["stated"],
            col["median_delay"]: oc["median_delay"],
        }
    )
