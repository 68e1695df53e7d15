"""Trends and seasonality (R20): STL decomposition, seasonal pressure months, weak districts.

The seeds ask that evaluation follow the calendar — seasonal emphases such as the
telecom-fraud peak at the turn of the year, which may justify a *temporary
special indicator* (R6, together at most 20 % of the weight) — and that areas
which under-perform persistently be identified. On the monthly series of a
:class:`~perfmodel.monitor.series.PeriodSeries`:

* :func:`indicator_series` — one monthly series per indicator for the bureau
  (or per district): the mean of the units' values, or the total case volume
  behind each indicator (Σ denominators, Σ counts);
* :func:`decompose` — STL (``statsmodels``) into trend, seasonal and
  remainder, with Hyndman's strength of seasonality and trend;
* :func:`seasonality_table` — per indicator: seasonal strength, the calendar
  months in which the season pushes it in the bad direction (or raises the case
  volume) by more than the month-to-month noise;
* :func:`special_indicator_candidates` — strongly seasonal indicators whose
  pressure months form one short window: candidates for a temporary indicator,
  with the weight still available under the framework's cap;
* :func:`district_gaps` — districts whose mean score stays below the bureau's,
  month after month, tested against autocorrelated noise with a false-discovery
  correction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.errors import OptionError
from perfmodel.framework import Framework
from perfmodel.monitor.series import indicator_names
from perfmodel.multiple_testing import bh_qvalues
from perfmodel.periods import parse_month
from perfmodel.text import check_lang, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "Decomposition",
    "candidates_table",
    "decompose",
    "district_gaps",
    "district_table",
    "figure_decomposition",
    "figure_district_gaps",
    "figure_seasonal_profiles",
    "indicator_series",
    "month_window",
    "seasonality_report_table",
    "seasonality_table",
    "special_indicator_candidates",
]


# ----------------------------------------------------------------------------- series
def indicator_series(
    values: pd.DataFrame,
    rolled: pd.DataFrame | None = None,
    *,
    measure: Literal["value", "volume"] = "value",
    units: pd.DataFrame | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Monthly series per indicator, for the bureau or per group of units.

    Parameters
    ----------
    values
        ``period, unit_id, indicator, value`` (:attr:`PeriodSeries.values`).
    rolled
        The roll-ups (:attr:`PeriodSeries.rolled`), needed for ``measure="volume"``.
    measure
        ``value``: the mean of the units' values on the indicator's natural scale;
        ``volume``: the number of cases behind it — Σ denominators for rates and
        durations, Σ values for counts.
    units, by
        Group units by the units-table column ``by`` (e.g. ``district``); the
        result then has a ``group`` level.

    Returns
    -------
    pandas.DataFrame
        Index: monthly :class:`pandas.PeriodIndex` (or ``(group, period)``);
        columns: indicators with data.
    """
    if measure == "value":
        frame = values.dropna(subset=["value"])
        column, how = "value", "mean"
    elif measure == "volume":
        if rolled is None:
            raise OptionError("measure='volume' needs the roll-ups: pass rolled=series.rolled")
        frame = rolled.copy()
        counts = frame["method"].isin(["sum", "sum_prorated"])
        frame["volume"] = frame["denominator"].where(~counts, frame["value"])
        frame = frame.dropna(subset=["volume"])
        column, how = "volume", "sum"
    else:
        raise OptionError(f"measure must be 'value' or 'volume', got {measure!r}")
    keys = ["period"]
    if by is not None:
        if units is None or by not in units.columns:
            raise OptionError(f"grouping by {by!r} needs the units table with a {by!r} column")
        frame = frame.merge(units[["unit_id", by]].rename(columns={by: "group"}), on="unit_id", how="left")
        keys = ["group", "period"]
    wide = frame.pivot_table(index=keys, columns="indicator", values=column, aggfunc=how)
    wide.columns.name = None
    if by is None:
        wide.index = pd.PeriodIndex([parse_month(p) for p in wide.index], freq="M", name="period")
        return wide.sort_index()
    return wide.sort_index()


# ----------------------------------------------------------------------------- STL
@dataclass
class Decomposition:
    """An STL decomposition of one monthly series.

    Attributes
    ----------
    frame
        ``observed, trend, seasonal, remainder`` indexed by month.
    seasonal_strength, trend_strength
        Hyndman & Athanasopoulos: max(0, 1 − Var(R) / Var(S + R)) and
        max(0, 1 − Var(R) / Var(T + R)); 0 = none, 1 = all variation.
    profile
        Mean seasonal component by calendar month (1–12).
    """

    name: str
    frame: pd.DataFrame
    seasonal_strength: float
    trend_strength: float
    profile: pd.Series

    @property
    def remainder_sd(self) -> float:
        """Standard deviation of the remainder (the month-to-month noise)."""
        return float(self.frame["remainder"].std(ddof=1))


def decompose(
    series: pd.Series, *, period: int = 12, robust: bool = False, seasonal: int = 13, seasonal_deg: int = 0
) -> Decomposition:
    """STL decomposition of a monthly series (statsmodels), with strengths and a seasonal profile.

    Parameters
    ----------
    series
        Monthly values indexed by month (``PeriodIndex`` or ``YYYY-MM`` labels);
        gaps inside the series are filled by linear interpolation.
    period
        Season length (12 months).
    robust
        Robust STL (down-weights outlying months; off by default, so that with
        two or three years the remainder is simply the years' differences).
    seasonal, seasonal_deg
        Length (odd, in years) and degree of the seasonal smoother. The default
        (13 years, degree 0) gives a seasonal pattern that changes only slowly
        from year to year: with two or three years of data a degree-1 smoother
        would fit every month exactly and leave no remainder to judge it by.

    Raises
    ------
    ValueError
        With fewer than two full seasons of data.
    """
    from statsmodels.tsa.seasonal import STL

    s = series.dropna()
    if len(s) == 0:
        raise OptionError(f"series {series.name!r} has no values")
    index = pd.PeriodIndex([parse_month(p) for p in s.index], freq="M")
    full = pd.period_range(index.min(), index.max(), freq="M")
    s = pd.Series(s.to_numpy(dtype=float), index=index).reindex(full).interpolate(limit_area="inside")
    if len(s) < 2 * period:
        raise OptionError(
            f"series {series.name!r} covers {len(s)} months; seasonal decomposition needs at least "
            f"{2 * period} (two full years)"
        )
    fit = STL(s.to_numpy(), period=period, robust=robust, seasonal=seasonal, seasonal_deg=seasonal_deg).fit()
    frame = pd.DataFrame(
        {"observed": s.to_numpy(), "trend": fit.trend, "seasonal": fit.seasonal, "remainder": fit.resid}, index=full
    )
    r = frame["remainder"]
    seasonal_strength = max(0.0, 1.0 - r.var() / (frame["seasonal"] + r).var())
    trend_strength = max(0.0, 1.0 - r.var() / (frame["trend"] + r).var())
    profile = frame["seasonal"].groupby(full.month).mean().reindex(range(1, 13))
    return Decomposition(
        name=str(series.name),
        frame=frame,
        seasonal_strength=float(seasonal_strength),
        trend_strength=float(trend_strength),
        profile=profile,
    )


def _month_name(month: int, lang: str) -> str:
    """A calendar month's short name (``common.month.m<1–12>``: 3月, Mar)."""
    return say(f"common.month.m{int(month)}", lang)


def month_window(months: Sequence[int], lang: str = "zh") -> str:
    """Calendar months as text, wrapping the year: [11, 12, 1, 2] → ``11月–2月``."""
    check_lang(lang)
    if not months:
        return ""
    names = {m: _month_name(m, lang) for m in range(1, 13)}
    ordered = _circular_order(months)
    if _is_contiguous(ordered):
        return names[ordered[0]] if len(ordered) == 1 else f"{names[ordered[0]]}–{names[ordered[-1]]}"
    return say("common.list_sep", lang).join(names[m] for m in sorted(months))


def _circular_order(months: Sequence[int]) -> list[int]:
    """Months ordered so that a window crossing the year end stays together (11, 12, 1, 2)."""
    chosen = sorted(set(months))
    if len(chosen) in (0, 12):
        return chosen
    gaps = [((chosen[(i + 1) % len(chosen)] - m) % 12, i) for i, m in enumerate(chosen)]
    _, widest = max(gaps)
    start = (widest + 1) % len(chosen)
    return chosen[start:] + chosen[:start]


def _is_contiguous(ordered: Sequence[int]) -> bool:
    return all((b - a) % 12 == 1 for a, b in zip(ordered, ordered[1:], strict=False))


def seasonality_table(
    series: pd.DataFrame,
    framework: Framework | None = None,
    *,
    measure: Literal["value", "volume"] = "value",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Seasonality of every indicator series, tested against year-to-year noise.

    The months of the year are tested by regression: the series on a linear
    trend plus one effect per calendar month, the 11 month contrasts compared by
    an F-test (``p``) — exact for normal, independent noise. With two years of
    data even pure noise gives an STL seasonal strength near 0.5, so the strength
    alone is not evidence. When the season is significant (p < ``alpha``), a
    **pressure month** is a calendar month whose effect is significantly
    (one-sided t-test at ``alpha``) in the indicator's bad direction — lower for
    "higher is better", higher for "lower is better" and, for case volumes,
    higher.

    Parameters
    ----------
    series
        :func:`indicator_series` output (one column per indicator).
    framework
        Gives directions and names; without it every value is "higher is better".
    measure
        ``value`` or ``volume`` (as passed to :func:`indicator_series`).

    Returns
    -------
    pandas.DataFrame
        ``indicator, name, name_en, seasonal_strength, trend_strength`` (STL),
        ``p``, ``effect`` (the month effects relative to the mean level, oriented so
        that negative is bad), ``amplitude`` (max − min of ``effect``),
        ``pressure_months``, ``worst_month``, ``measure``; sorted by ``p``.
        Series shorter than two years are left out.
    """
    meta = framework.indicator_meta() if framework is not None else {}
    names_zh = indicator_names(framework, "zh") if framework is not None else {}
    names_en = indicator_names(framework, "en") if framework is not None else {}
    rows = []
    for column in series.columns:
        try:
            dec = decompose(series[column].rename(column))
        except ValueError:
            continue
        ind = meta.get(column)
        sign = -1.0 if measure == "volume" or (ind is not None and ind.direction == "lower") else 1.0
        p, effects, t_values, df = _month_effects(dec.frame["observed"])
        level = abs(float(dec.frame["observed"].mean())) or 1.0
        effect = sign * effects / level
        critical = stats.t.ppf(1 - alpha, df) if df > 0 else np.inf
        pressure = [int(m) for m in t_values.index[sign * t_values <= -critical]] if p < alpha else []
        rows.append(
            {
                "indicator": column,
                "name": names_zh.get(column, column),
                "name_en": names_en.get(column, column),
                "seasonal_strength": dec.seasonal_strength,
                "trend_strength": dec.trend_strength,
                "p": p,
                "effect": effect.to_numpy(),
                "amplitude": float(effect.max() - effect.min()),
                "pressure_months": _circular_order(pressure),
                "worst_month": int(effect.idxmin()),
                "measure": measure,
            }
        )
    columns = [
        "indicator",
        "name",
        "name_en",
        "seasonal_strength",
        "trend_strength",
        "p",
        "effect",
        "amplitude",
        "pressure_months",
        "worst_month",
        "measure",
    ]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values("p").reset_index(drop=True)


def _month_effects(observed: pd.Series) -> tuple[float, pd.Series, pd.Series, int]:
    """Regression of a monthly series on a linear trend and calendar-month effects.

    Returns the F-test p-value of the month effects, the effects (deviation of
    each calendar month from the average month, trend removed) and their
    t-values, and the residual degrees of freedom of those t-values.
    """
    y = observed.to_numpy(dtype=float)
    months = observed.index.month.to_numpy()
    t = np.arange(len(y), dtype=float)
    dummies = (months[:, None] == np.arange(1, 13)[None, :]).astype(float)
    present = dummies.any(axis=0)
    full = np.column_stack([t - t.mean(), dummies[:, present]])
    reduced = np.column_stack([np.ones_like(t), t - t.mean()])
    beta, *_ = np.linalg.lstsq(full, y, rcond=None)
    rss_full = float(np.sum((y - full @ beta) ** 2))
    rss_reduced = float(np.sum((y - reduced @ np.linalg.lstsq(reduced, y, rcond=None)[0]) ** 2))
    k = int(present.sum())
    df = len(y) - k - 1
    index = pd.Index(np.arange(1, 13)[present])
    means = pd.Series(beta[1:], index=index)
    effects = (means - means.mean()).reindex(range(1, 13))
    if df <= 0 or rss_full <= 0:
        return 1.0, effects.fillna(0.0), pd.Series(np.nan, index=range(1, 13)), 0
    sigma2 = rss_full / df
    f_stat = ((rss_reduced - rss_full) / (k - 1)) / sigma2
    p = float(stats.f.sf(f_stat, k - 1, df))
    covariance = sigma2 * np.linalg.inv(full.T @ full)[1:, 1:]
    contrast = np.eye(k) - 1.0 / k
    se = np.sqrt(np.diag(contrast @ covariance @ contrast.T))
    t_values = pd.Series((means - means.mean()).to_numpy() / se, index=index).reindex(range(1, 13))
    return p, effects.fillna(0.0), t_values, df


def special_indicator_candidates(
    seasonality: pd.DataFrame,
    framework: Framework | None = None,
    *,
    alpha: float = 0.05,
    max_window: int = 4,
    min_amplitude: float = 0.05,
    lang: str = "zh",
) -> pd.DataFrame:
    """Indicators whose season could justify a temporary special indicator (R6).

    A candidate has a significant season (``p`` < ``alpha``, see
    :func:`seasonality_table`) and pressure months that form one window of at
    most ``max_window`` consecutive months (wrapping the year), and a seasonal
    swing (``amplitude``) of at least ``min_amplitude`` of the indicator's level,
    so that a significant but negligible season is not proposed. The weight still
    available for temporary indicators is the framework's
    ``policy.max_temporary_weight`` (20 % in the seeds) minus the weight of the
    temporary indicators it already has.

    Returns
    -------
    pandas.DataFrame
        ``indicator, name, measure`` (``value``: the indicator dips; ``volume``: its
        case volume peaks), ``p, amplitude, window`` (text), ``months``,
        ``valid_from_month``, ``valid_to_month``, ``weight_room``.
    """
    check_lang(lang)
    room = np.nan
    if framework is not None:
        room = max(0.0, framework.policy.max_temporary_weight - framework.temporary_weight())
    rows = []
    for row in seasonality.itertuples(index=False):
        months = list(row.pressure_months)
        if row.p >= alpha or row.amplitude < min_amplitude or not months or len(months) > max_window:
            continue
        if not _is_contiguous(months):
            continue
        rows.append(
            {
                "indicator": row.indicator,
                "name": row.name_en if lang == "en" else row.name,
                "measure": row.measure,
                "p": row.p,
                "amplitude": row.amplitude,
                "window": month_window(months, lang),
                "months": months,
                "valid_from_month": months[0],
                "valid_to_month": months[-1],
                "weight_room": room,
            }
        )
    columns = [
        "indicator",
        "name",
        "measure",
        "p",
        "amplitude",
        "window",
        "months",
        "valid_from_month",
        "valid_to_month",
        "weight_room",
    ]
    return pd.DataFrame(rows, columns=columns)


# ----------------------------------------------------------------------------- districts
def district_gaps(
    scores: pd.DataFrame,
    units: pd.DataFrame,
    *,
    by: str = "district",
    score: str = "score",
    min_share_below: float = 0.75,
    alpha: float = 0.05,
    dimensions: Sequence[str] = (),
) -> pd.DataFrame:
    """Districts whose units score below the bureau month after month.

    Each month the district's mean score is compared with the mean of all units
    (``gap``). A district is **persistently under-performing** when its gap is
    negative in at least ``min_share_below`` of the months and the mean gap is
    significantly below zero: a one-sided t-test whose sample size is reduced
    for the gaps' lag-1 autocorrelation (n_eff = n (1 − ρ) / (1 + ρ)), with
    Benjamini–Hochberg q-values across districts below ``alpha`` (the false discovery rate).

    Parameters
    ----------
    scores
        Long monthly scores (``period, unit_id, score`` and the ``dimensions``).
    units
        Units table with the ``by`` column.
    dimensions
        Score columns (e.g. dimension ids) whose mean gaps are reported too, to
        show where a district falls short.

    Returns
    -------
    pandas.DataFrame
        One row per district: ``district, units, months, mean_gap, share_below,
        autocorrelation, n_effective, t, p, q, persistent``, then ``gap_<dim>``.
    """
    if by not in units.columns:
        raise OptionError(f"the units table has no {by!r} column; choose a column that groups units into areas")
    s = scores.dropna(subset=[score]).merge(units[["unit_id", by]], on="unit_id", how="left")
    if s[by].isna().any():
        unknown = s.loc[s[by].isna(), "unit_id"].iloc[0]
        raise OptionError(f"unit {unknown!r} has no {by!r} in the units table; fill it or drop the unit")
    columns = [score, *dimensions]
    bureau = s.groupby("period")[columns].mean()
    district = s.groupby([by, "period"])[columns].mean()
    gaps = district - bureau.reindex(district.index.get_level_values("period")).to_numpy()
    rows = []
    for name, g in gaps.groupby(level=by):
        x = g[score].to_numpy(dtype=float)
        n = len(x)
        rho = float(np.corrcoef(x[:-1], x[1:])[0, 1]) if n > 3 and np.std(x) > 0 else 0.0
        rho = float(np.clip(np.nan_to_num(rho), 0.0, 0.9))
        n_eff = max(2.0, n * (1 - rho) / (1 + rho))
        sd = float(np.std(x, ddof=1)) if n > 1 else np.nan
        t = float(np.mean(x) / (sd / np.sqrt(n_eff))) if sd and sd > 0 else np.nan
        p = float(stats.t.cdf(t, df=n_eff - 1)) if np.isfinite(t) else np.nan
        row = {
            "district": name,
            "units": int(s.loc[s[by] == name, "unit_id"].nunique()),
            "months": n,
            "mean_gap": float(np.mean(x)),
            "share_below": float(np.mean(x < 0)),
            "autocorrelation": rho,
            "n_effective": n_eff,
            "t": t,
            "p": p,
        }
        for dim in dimensions:
            row[f"gap_{dim}"] = float(g[dim].mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["q"] = bh_qvalues(out["p"].to_numpy(dtype=float))
    out["persistent"] = (out["share_below"] >= min_share_below) & (out["q"] < alpha)
    return out.sort_values("mean_gap").reset_index(drop=True)


# ----------------------------------------------------------------------------- figures
def figure_decomposition(
    dec: Decomposition, title: str, *, fig: Figure | None = None, lang: str = "zh", unit_label: str = ""
) -> Figure:
    """The four STL panels of one series: observed, trend, seasonal, remainder.

    Several axes: drawn on ``fig`` (an empty figure; default: a new one) after applying the
    report style (CJK font); returns the figure.
    """
    from perfmodel.report.style import report_subplots

    check_lang(lang)

    names = (
        say("common.observed", lang),
        say("monitor.trends.trend", lang),
        say("monitor.trends.seasonal", lang),
        say("monitor.trends.remainder", lang),
    )
    fig, axes = report_subplots(fig, 4, 1, figsize=(8.5, 7.0), sharex=True)
    x = dec.frame.index.to_timestamp()
    for ax, column, name in zip(axes, ("observed", "trend", "seasonal", "remainder"), names, strict=True):
        ax.plot(x, dec.frame[column], lw=1.4)
        if column in ("seasonal", "remainder"):
            ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel(name + (f"({unit_label})" if unit_label else ""), fontsize=9)
    fig.supxlabel(say("monitor.trends.month", lang))
    fig.suptitle(title + say("monitor.trends.strength_suffix", lang, strength=dec.seasonal_strength))
    return fig


def figure_seasonal_profiles(
    seasonality: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh", max_rows: int = 15
) -> Axes:
    """Heat map: each indicator's seasonal effect by calendar month, in % of its level.

    The sign is oriented so that red always marks a month the season makes
    harder (a lower value of a "higher is better" indicator, a higher one of a
    "lower is better" indicator, more cases).

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)

    zh = lang != "en"
    rows = seasonality.head(max_rows)
    matrix = np.vstack(rows["effect"].to_list()) * 100 if len(rows) else np.zeros((0, 12))
    labels = [
        (n if zh else e) + (" *" if p < 0.05 else "")
        for n, e, p in zip(rows["name"], rows["name_en"], rows["p"], strict=True)
    ]
    ax = report_axes(ax, figsize=(8.5, max(2.5, 0.35 * len(rows) + 1.5)))
    fig = ax.figure
    limit = float(np.nanmax(np.abs(matrix))) if matrix.size else 1.0
    image = ax.imshow(matrix, aspect="auto", cmap="RdBu", vmin=-limit, vmax=limit)
    ax.set_xticks(range(12), [_month_name(m, lang) for m in range(1, 13)])
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.grid(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.04)
    bar.set_label(say("monitor.trends.seasonal_effect_of_level_negative", lang))
    ax.set_title(say("monitor.trends.seasonal_effect_by_calendar_month", lang))
    ax.set_xlabel(say("monitor.trends.calendar_month", lang))
    ax.set_ylabel(say("monitor.trends.indicator", lang))
    return ax


def figure_district_gaps(gaps: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Mean monthly score gap of every district to the bureau, persistent under-performers in red.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)

    g = gaps.sort_values("mean_gap")
    ax = report_axes(ax, figsize=(7.5, max(3.0, 0.32 * len(g) + 1.2)))
    colours = np.where(g["persistent"], "#b2182b", "#8c96a0")
    ax.barh(g["district"].astype(str), g["mean_gap"], color=colours)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_title(say("monitor.trends.district_gap_to_the_bureau", lang))
    ax.set_xlabel(say("monitor.trends.mean_gap_points", lang))
    ax.set_ylabel(say("monitor.trends.district", lang))
    return ax


# ----------------------------------------------------------------------------- report tables
def seasonality_report_table(seasonality: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """:func:`seasonality_table` with readable headers (strength, p-value, swing, pressure months)."""
    check_lang(lang)
    zh = lang != "en"
    return pd.DataFrame(
        {
            say("monitor.trends.indicator", lang): seasonality["name"] if zh else seasonality["name_en"],
            say("monitor.trends.seasonal_strength", lang): seasonality["seasonal_strength"],
            say("monitor.trends.seasonality_p_value", lang): seasonality["p"],
            say("monitor.trends.seasonal_swing_share_of_level", lang): seasonality["amplitude"],
            say("monitor.trends.pressure_months", lang): seasonality["pressure_months"].map(
                lambda m: month_window(m, lang)
            ),
            say("monitor.trends.worst_month", lang): seasonality["worst_month"].map(
                lambda m: _month_name(m, lang), na_action="ignore"
            ),
        }
    )


def candidates_table(candidates: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """:func:`special_indicator_candidates` with readable headers."""
    check_lang(lang)
    return pd.DataFrame(
        {
            say("monitor.trends.indicator", lang): candidates["name"],
            say("monitor.trends.basis", lang): candidates["measure"].map(
                {
                    "value": say("monitor.trends.seasonal_dip_of_the_value", lang),
                    "volume": say("monitor.trends.seasonal_peak_of_case_volume", lang),
                }
            ),
            say("monitor.trends.suggested_window", lang): candidates["window"],
            say("monitor.trends.seasonality_p_value", lang): candidates["p"],
            say("monitor.trends.seasonal_swing_share_of_level", lang): candidates["amplitude"],
            say("monitor.trends.temporary_weight_still_available", lang): candidates["weight_room"],
        }
    )


def district_table(
    gaps: pd.DataFrame, lang: str = "zh", dimension_names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """:func:`district_gaps` with readable headers."""
    check_lang(lang)
    table = pd.DataFrame(
        {
            say("monitor.trends.district", lang): gaps["district"],
            say("monitor.trends.units", lang): gaps["units"],
            say("monitor.trends.months", lang): gaps["months"],
            say("monitor.trends.mean_gap_points", lang): gaps["mean_gap"],
            say("monitor.trends.share_of_months_below", lang): gaps["share_below"],
            say("monitor.trends.q_value", lang): gaps["q"],
            say("monitor.trends.persistently_behind", lang): gaps["persistent"].map(
                {True: say("common.yes", lang), False: say("monitor.trends.no", lang)}
            ),
        }
    )
    for column in gaps.columns:
        if column.startswith("gap_"):
            dim = column[4:]
            table[(dimension_names or {}).get(dim, dim) + say("monitor.trends.gap", lang)] = gaps[column]
    return table
