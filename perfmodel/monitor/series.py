"""Scores over time: the monthly bulletin, the annual summary and data-deadline compliance (R11).

The seeds describe a cycle of 月自查、季考评、年总结: units are scored every month,
ranked every quarter and summarised every year, and the business data of a month
are due by the 27th of the following month. This module runs the existing
:class:`~perfmodel.evaluation.Evaluation` once per period and stacks the results:

* :func:`evaluate_periods`, :func:`monthly_scores` — one evaluation per month (or
  any list of periods), stacked into long tables of scores, indicator values and
  roll-ups, with month-on-month changes (:func:`add_changes`);
* :func:`deadline_compliance`, :func:`compliance_summary` — whether each unit's
  data for a month arrived by :func:`~perfmodel.periods.reporting_deadline`;
* :func:`annual_summary`, :func:`grade_history` — the four quarters and the year,
  with every unit's grades side by side;
* :func:`combine_rollups`, :func:`rollup_reconciliation` — monthly → quarterly →
  annual roll-ups agree: combining the twelve monthly (or four quarterly) roll-ups
  gives exactly the annual roll-up of the same observations.

Scores of different periods are not averages of one another (a quarter's rate is
Σ numerators / Σ denominators of its months, bonus and negative-list items add up,
normalisation is clipped at the goalposts); what must agree are the data the
periods are built from, and that is what :func:`rollup_reconciliation` checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError
from perfmodel.evaluation import Evaluation, EvaluationError, Settings
from perfmodel.framework import GRADES, Framework, load_framework
from perfmodel.grading import NOT_GRADED
from perfmodel.groups import group_order
from perfmodel.periods import months_in, parse_month, parse_period, period_label, reporting_deadline
from perfmodel.rollup import ROLLUP_COLUMNS, roll_up
from perfmodel.text import LANGS, check_lang, templates

__all__ = [
    "COMPLIANCE_STATUSES",
    "LABELS",
    "AnnualSummary",
    "PeriodSeries",
    "add_changes",
    "annual_summary",
    "annual_report_table",
    "annual_table",
    "bulletin_table",
    "combine_rollups",
    "compliance_summary",
    "compliance_table",
    "deadline_compliance",
    "evaluate_periods",
    "figure_compliance",
    "figure_grade_history",
    "figure_month_changes",
    "figure_score_trends",
    "grade_history",
    "indicator_names",
    "label",
    "monthly_scores",
    "read_monitoring_inputs",
    "reconciliation_table",
    "rollup_reconciliation",
]

COMPLIANCE_STATUSES: tuple[str, ...] = ("on_time", "late", "missing", "unknown")
"""Deadline status of a unit-month: data in by the deadline, after it, never, or without timestamps."""

GRADE_COLOURS = {"优秀": "#1b7837", "良好": "#7fbf7b", "合格": "#f4a582", "不合格": "#b2182b", NOT_GRADED: "#bbbbbb"}

LABELS: dict[str, dict[str, str]] = {lang: templates("monitor.series.label", lang) for lang in LANGS}


def label(key: str, lang: str = "zh") -> str:
    """The report label of ``key`` in ``lang`` (``zh`` or ``en``); the key itself if unknown."""
    check_lang(lang)
    return LABELS[lang].get(key, key)


def _labels(lang: str) -> dict[str, str]:
    return LABELS[lang]


# ----------------------------------------------------------------------------- evaluating periods
@dataclass
class PeriodSeries:
    """Evaluations of one framework over consecutive periods, stacked into long tables.

    Attributes
    ----------
    framework
        The indicator system.
    scores
        One row per period × unit: the columns of :attr:`Evaluation.scores`
        (``period``, ``unit_id``, ``score``, ``rank``, ``grade``, dimensions …) and,
        after :func:`add_changes`, ``previous_score``, ``score_change``,
        ``previous_rank``, ``rank_change`` and ``previous_grade``.
    values
        ``period, unit_id, indicator, value``: indicator values on their natural
        scale after the period roll-up and denominators (the ``denominated`` stage).
    rolled
        The roll-up rows of every period (:data:`perfmodel.rollup.ROLLUP_COLUMNS`
        plus ``period``), with the numerators and denominators behind the rates.
    evaluations
        Period label → the run :class:`~perfmodel.evaluation.Evaluation`.
    skipped
        Period label → why it was not evaluated (no observations in it).
    """

    framework: Framework
    scores: pd.DataFrame
    values: pd.DataFrame
    rolled: pd.DataFrame
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def periods(self) -> list[str]:
        """Labels of the evaluated periods, in order."""
        return list(self.evaluations)


def read_monitoring_inputs(
    observations: str | Path, units: str | Path, framework: Framework | str | Path
) -> tuple[Framework, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and validate input files once for a series of evaluations.

    Returns
    -------
    (framework, observations, units, quarantine)
        The loaded framework, the clean observations and units, and the rows
        rejected by validation (both files).
    """
    from perfmodel.evaluation import read_evaluation_inputs

    fw, clean_observations, clean_units, quarantine, _ = read_evaluation_inputs(framework, observations, units)
    return fw, clean_observations, clean_units, quarantine


def _has_data(observations: pd.DataFrame, period: str) -> bool:
    months = {str(m) for m in months_in(period)}
    return bool(observations["period"].isin(months).any())


def evaluate_periods(
    framework: Framework | str | Path,
    observations: pd.DataFrame,
    units: pd.DataFrame,
    periods: Iterable[str | pd.Period],
    *,
    quarantine: pd.DataFrame | None = None,
    **settings: Any,
) -> PeriodSeries:
    """Run one :class:`~perfmodel.evaluation.Evaluation` per period and stack the results.

    Parameters
    ----------
    framework
        Framework, shipped id or YAML path.
    observations, units
        Clean frames (:func:`read_monitoring_inputs` or
        :func:`perfmodel.validation.read_inputs`).
    periods
        Months, quarters or years (``2025-04``, ``2025Q2``, ``2025``). Periods
        without any observation are skipped and listed in
        :attr:`PeriodSeries.skipped`.
    quarantine
        Rows rejected by validation, attached to every evaluation.
    **settings
        :class:`~perfmodel.evaluation.Settings` overrides (``peer_group``,
        ``calibration`` …). ``compare_previous`` defaults to ``False``: changes
        are computed across the series by :func:`add_changes`.

    Returns
    -------
    PeriodSeries
        With month-on-month (period-on-period) changes already added.

    Raises
    ------
    EvaluationError
        When no period has data, or an evaluation fails for another reason.
    """
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    settings.setdefault("compare_previous", False)
    config = Settings(**settings)
    labels = [period_label(p) for p in periods]
    scores, values, rolled = [], [], []
    evaluations: dict[str, Evaluation] = {}
    skipped: dict[str, str] = {}
    for label_ in labels:
        if not _has_data(observations, label_):
            skipped[label_] = "no observations in this period"
            continue
        ev = Evaluation(fw, observations, units, label_, config, quarantine=quarantine).run()
        evaluations[label_] = ev
        scores.append(ev.scores)
        wide = ev.stages["denominated"].rename_axis(index="unit_id", columns="indicator")
        long = wide.stack(future_stack=True).rename("value").reset_index()
        values.append(long.assign(period=label_)[["period", "unit_id", "indicator", "value"]])
        rolled.append(ev.stages["rolled"].assign(period=label_))
    if not evaluations:
        raise EvaluationError(
            f"none of the periods {', '.join(labels) or '(none given)'} has observations; "
            "check the periods against the months in the observations file"
        )
    out = PeriodSeries(
        framework=fw,
        scores=pd.concat(scores, ignore_index=True),
        values=pd.concat(values, ignore_index=True),
        rolled=pd.concat(rolled, ignore_index=True)[["period", *ROLLUP_COLUMNS]],
        evaluations=evaluations,
        skipped=skipped,
    )
    out.scores = add_changes(out.scores)
    return out


def _month_range(start: pd.Period, end: pd.Period) -> list[str]:
    return [str(m) for m in pd.period_range(start, end, freq="M")]


def monthly_scores(
    framework: Framework | str | Path,
    observations: pd.DataFrame,
    units: pd.DataFrame,
    end: str | pd.Period | None = None,
    *,
    n_months: int | None = None,
    start: str | pd.Period | None = None,
    quarantine: pd.DataFrame | None = None,
    **settings: Any,
) -> PeriodSeries:
    """Monthly scores and ranks from ``start`` (or ``n_months`` back) to ``end``.

    Parameters
    ----------
    end
        Last month (default: the last month in the observations).
    n_months
        How many months up to ``end`` (inclusive); default all months from the
        first in the observations (or from ``start``).
    start
        First month; overrides ``n_months``.

    Examples
    --------
    >>> series = monthly_scores("station_four_dimension", obs, units, "2025-06", n_months=12)  # doctest: +SKIP
    >>> series.scores[["period", "unit_id", "score", "score_change", "rank_change"]]  # doctest: +SKIP
    """
    available = sorted(observations["period"].dropna().unique())
    if not available:
        raise EvaluationError("the observations are empty; there is no month to evaluate")
    last = parse_month(end) if end is not None else parse_month(available[-1])
    if start is not None:
        first = parse_month(start)
    elif n_months is not None:
        if n_months < 1:
            raise OptionError(f"n_months must be at least 1, got {n_months}")
        first = last - (n_months - 1)
    else:
        first = parse_month(available[0])
    if first > last:
        raise OptionError(f"start {first} is after end {last}; give an earlier start month")
    return evaluate_periods(
        framework, observations, units, _month_range(first, last), quarantine=quarantine, **settings
    )


def add_changes(scores: pd.DataFrame) -> pd.DataFrame:
    """Add period-on-period changes to a long score table.

    The previous period of ``2025-06`` is ``2025-05``, of ``2025Q2`` is ``2025Q1``
    and of ``2025`` is ``2024``; a unit without a score in the previous period
    gets missing changes.

    Adds ``previous_score``, ``score_change`` (score − previous score),
    ``previous_rank``, ``rank_change`` (previous rank − rank, so positive means
    the unit moved up, as in :attr:`Evaluation.scores`) and ``previous_grade``.
    """
    missing = [c for c in ("period", "unit_id", "score", "rank", "grade") if c not in scores.columns]
    if missing:
        raise OptionError(f"the score table lacks column(s) {', '.join(missing)}; pass PeriodSeries.scores")
    out = scores.drop(
        columns=["previous_score", "score_change", "previous_rank", "rank_change", "previous_grade"], errors="ignore"
    )
    prev_label = {p: str(parse_period(p) - 1) for p in out["period"].unique()}
    previous = out[["period", "unit_id", "score", "rank", "grade"]].rename(
        columns={"period": "_prev", "score": "previous_score", "rank": "previous_rank", "grade": "previous_grade"}
    )
    out = out.assign(_prev=out["period"].map(prev_label)).merge(previous, on=["_prev", "unit_id"], how="left")
    out["score_change"] = out["score"] - out["previous_score"]
    out["rank_change"] = out["previous_rank"] - out["rank"]
    return out.drop(columns="_prev")


# ----------------------------------------------------------------------------- deadline compliance
def _timestamps(observations: pd.DataFrame) -> pd.Series:
    if "submitted_at" not in observations.columns:
        raise OptionError(
            "the observations have no 'submitted_at' column; deadline compliance needs the time each "
            "row was submitted (data contract: submitted_at as YYYY-MM-DD HH:MM:SS)"
        )
    raw = observations["submitted_at"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw
    stamps = pd.to_datetime(raw, errors="coerce")
    bad = stamps.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        row = bad.idxmax()
        where = f"row {observations.loc[row, 'source_row']}" if "source_row" in observations.columns else f"index {row}"
        raise OptionError(
            f"submitted_at {raw[row]!r} ({where}) is not a date and time; write it as YYYY-MM-DD HH:MM:SS "
            "or validate the file with perfmodel.validation first"
        )
    return stamps


def deadline_compliance(
    observations: pd.DataFrame,
    framework: Framework | None = None,
    *,
    units: Iterable[str] | None = None,
    months: Iterable[str | pd.Period] | None = None,
    day: int | None = None,
    month_offset: int | None = None,
) -> pd.DataFrame:
    """Whether each unit's data for each month arrived by the reporting deadline (R11).

    A unit-month is on time when the **last** of its rows was submitted by
    :func:`~perfmodel.periods.reporting_deadline` (by default 23:59:59 on the 27th
    of the following month): the month's data are complete only when the last
    figure is in.

    Parameters
    ----------
    observations
        Observations with ``period``, ``unit_id`` and ``submitted_at``.
    framework
        Supplies the deadline (``reporting.deadline_day`` and
        ``reporting.deadline_month_offset``) unless ``day``/``month_offset`` are given.
    units, months
        When given, unit-months with no row at all are added with status
        ``missing``; rows of other units or months are left out.
    day, month_offset
        Deadline day and months after the data month (27 and 1 by default).

    Returns
    -------
    pandas.DataFrame
        ``period, unit_id, rows, submitted_at`` (last submission), ``deadline``,
        ``status`` (one of :data:`COMPLIANCE_STATUSES`), ``days_late`` (0 unless late).

    Raises
    ------
    ValueError
        Without a ``submitted_at`` column, or with a value that is not a timestamp.
    """
    reporting = framework.reporting if framework is not None else None
    day = day if day is not None else (reporting.deadline_day if reporting else 27)
    month_offset = month_offset if month_offset is not None else (reporting.deadline_month_offset if reporting else 1)
    frame = observations.assign(_stamp=_timestamps(observations))
    frame = frame.assign(period=frame["period"].map(lambda p: str(parse_month(p))))
    if months is not None:
        wanted = [str(parse_month(m)) for m in months]
        frame = frame[frame["period"].isin(wanted)]
    if units is not None:
        unit_list = list(units)
        frame = frame[frame["unit_id"].isin(unit_list)]
    grouped = (
        frame.groupby(["period", "unit_id"], sort=True)
        .agg(rows=("unit_id", "size"), submitted_at=("_stamp", "max"))
        .reset_index()
    )
    if units is not None and months is not None:
        grid = pd.MultiIndex.from_product([wanted, unit_list], names=["period", "unit_id"]).to_frame(index=False)
        grouped = grid.merge(grouped, on=["period", "unit_id"], how="left")
        grouped["rows"] = grouped["rows"].fillna(0).astype(int)
    deadlines = {p: reporting_deadline(p, day, month_offset) for p in grouped["period"].unique()}
    grouped["deadline"] = pd.to_datetime(grouped["period"].map(deadlines))
    late = grouped["submitted_at"] > grouped["deadline"]
    status = np.where(
        grouped["rows"] == 0,
        "missing",
        np.where(grouped["submitted_at"].isna(), "unknown", np.where(late, "late", "on_time")),
    )
    grouped["status"] = status
    days = (grouped["submitted_at"] - grouped["deadline"]) / pd.Timedelta(days=1)
    grouped["days_late"] = np.where(late, days, 0.0)
    return grouped.sort_values(["period", "unit_id"]).reset_index(drop=True)


def compliance_summary(compliance: pd.DataFrame, by: str | Sequence[str] = "unit_id") -> pd.DataFrame:
    """Counts of each status and the on-time rate, per unit, per month or per any column.

    The on-time rate is on-time unit-months over unit-months that were due (on
    time + late + missing); unit-months without timestamps are left out of it.
    """
    keys = [by] if isinstance(by, str) else list(by)
    counts = pd.crosstab([compliance[k] for k in keys], compliance["status"])
    counts = counts.reindex(columns=list(COMPLIANCE_STATUSES), fill_value=0)
    due = counts["on_time"] + counts["late"] + counts["missing"]
    counts["on_time_rate"] = (counts["on_time"] / due.where(due > 0)).astype(float)
    counts["max_days_late"] = compliance.groupby(keys)["days_late"].max().reindex(counts.index)
    counts.columns.name = None
    return counts.reset_index()


# ----------------------------------------------------------------------------- roll-up reconciliation
def combine_rollups(
    parts: Mapping[str, pd.DataFrame] | Sequence[tuple[str, pd.DataFrame]],
    kinds: Mapping[str, str],
) -> pd.DataFrame:
    """Combine the roll-ups of consecutive periods into the roll-up of their union.

    ``parts`` maps each sub-period (months or quarters) to its
    :func:`~perfmodel.rollup.roll_up` table. The combination uses the
    sufficient statistics each roll-up keeps, so that, for the same observations,
    combining the three monthly roll-ups of a quarter — or the four quarterly
    roll-ups of a year — reproduces the quarter's (year's) own roll-up:

    * rate: Σ numerators / Σ denominators when every part has them, otherwise the
      mean of the parts' values weighted by their months with data;
    * count: the parts' unprorated sums added, then prorated to the whole span
      when months are missing;
    * event: the parts' sums added;
    * duration: case-weighted (by ``denominator``) when every part is, otherwise
      weighted by months with data;
    * score: the mean of the parts weighted by months with data.

    The result equals the direct roll-up exactly except in one documented case: a
    rate (or duration) whose volume is given in some months and not in others,
    where the direct roll-up averages monthly values.

    Returns
    -------
    pandas.DataFrame
        :data:`~perfmodel.rollup.ROLLUP_COLUMNS`, one row per unit × indicator.
    """
    items = list(parts.items()) if isinstance(parts, Mapping) else list(parts)
    if not items:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    n_total = sum(len(months_in(p)) for p, _ in items)
    frames = []
    for period, frame in items:
        if len(frame):
            frames.append(frame.assign(_n=len(months_in(period))))
    if not frames:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    f = pd.concat(frames, ignore_index=True)
    f["kind"] = f["indicator"].map(kinds).fillna("score")
    f["_m"] = f["months_present"].astype(float)
    f["_sum"] = np.where(f["kind"] == "count", f["value"] * f["_m"] / f["_n"], f["value"])
    f["_wv"] = f["value"] * f["_m"]
    f["_dv"] = f["value"] * f["denominator"]
    f["_has_num"] = f["numerator"].notna()
    f["_has_den"] = f["denominator"].notna()
    g = f.groupby(["unit_id", "indicator"], sort=True)
    out = g.agg(
        kind=("kind", "first"),
        months_present=("_m", "sum"),
        total=("_sum", "sum"),
        wv=("_wv", "sum"),
        dv=("_dv", "sum"),
        numerator=("numerator", "sum"),
        denominator=("denominator", "sum"),
        all_num=("_has_num", "all"),
        all_den=("_has_den", "all"),
    ).reset_index()
    kind = out["kind"]
    by_volume = (kind == "rate") & out["all_num"] & out["all_den"] & (out["denominator"] > 0)
    by_cases = (kind == "duration") & out["all_den"] & (out["denominator"] > 0)
    out["value"] = out["wv"] / out["months_present"]
    out.loc[by_volume, "value"] = out["numerator"] / out["denominator"]
    out.loc[by_cases, "value"] = out["dv"] / out["denominator"]
    out.loc[kind == "event", "value"] = out["total"]
    out.loc[kind == "count", "value"] = out["total"] * n_total / out["months_present"]
    out["method"] = "mean"
    out.loc[kind == "rate", "method"] = "mean_of_monthly_rates"
    out.loc[by_volume, "method"] = "sum_numerator_over_sum_denominator"
    out.loc[kind.isin(["count", "event"]), "method"] = "sum"
    out.loc[(kind == "count") & (out["months_present"] < n_total), "method"] = "sum_prorated"
    out.loc[by_cases, "method"] = "case_weighted_mean"
    out.loc[~(out["all_num"] & out["all_den"]), "numerator"] = np.nan
    out.loc[~((out["all_num"] & out["all_den"]) | by_cases), "denominator"] = np.nan
    out["n_months"] = n_total
    out["months_present"] = out["months_present"].astype(int)
    return out[ROLLUP_COLUMNS]


def rollup_reconciliation(
    observations: pd.DataFrame, framework: Framework, year: str | int, units: Iterable[str] | None = None
) -> pd.DataFrame:
    """Check that monthly → quarterly → annual roll-ups of ``year`` agree, per indicator.

    The year's roll-up of the observations is compared with the combination
    (:func:`combine_rollups`) of its four quarterly roll-ups and of its twelve
    monthly roll-ups.

    Returns
    -------
    pandas.DataFrame
        ``indicator, kind, units`` (unit × indicator pairs with data in the
        year), ``via_quarters`` and ``via_months`` (largest absolute difference
        from the annual value), ``agrees`` (both below 1e-9 relative).
    """
    kinds = framework.rollup_kinds()
    obs = observations if units is None else observations[observations["unit_id"].isin(list(units))]
    year_label = period_label(str(year))
    if parse_period(year_label).freqstr[0] != "Y":
        raise OptionError(f"{year!r} is not a year; pass a year such as 2025")
    direct = roll_up(obs, kinds, year_label)
    quarters = {f"{year_label}Q{q}": roll_up(obs, kinds, f"{year_label}Q{q}") for q in range(1, 5)}
    months = {str(m): roll_up(obs, kinds, m) for m in months_in(year_label)}
    key = ["unit_id", "indicator"]
    rows = []
    base = direct.set_index(key)["value"]
    diffs = {}
    for name, parts in (("via_quarters", quarters), ("via_months", months)):
        combined = combine_rollups(parts, kinds).set_index(key)["value"].reindex(base.index)
        scale = np.maximum(1.0, base.abs())
        diffs[name] = ((combined - base).abs() / scale).fillna(np.inf).groupby(level="indicator").max()
    for indicator, n in direct.groupby("indicator").size().items():
        rows.append(
            {
                "indicator": indicator,
                "kind": kinds.get(indicator, "score"),
                "units": int(n),
                "via_quarters": float(diffs["via_quarters"][indicator]),
                "via_months": float(diffs["via_months"][indicator]),
            }
        )
    out = pd.DataFrame(rows, columns=["indicator", "kind", "units", "via_quarters", "via_months"])
    out["agrees"] = (out["via_quarters"] < 1e-9) & (out["via_months"] < 1e-9)
    return out


# ----------------------------------------------------------------------------- annual summary
@dataclass
class AnnualSummary:
    """The year's four quarters and the year itself (R11 年总结).

    Attributes
    ----------
    year
        Year label.
    quarters
        Quarterly evaluations of the year (:class:`PeriodSeries`).
    years
        Annual evaluations of the year and, when the data reach back, the year
        before (for the two-years-running rule of R12).
    table
        One row per unit: quarterly scores and grades, the year's score, rank and
        grade, the mean of the quarterly scores, quarters graded 优秀.
    history
        :func:`grade_history` of the quarters and the year.
    """

    year: str
    quarters: PeriodSeries
    years: PeriodSeries
    table: pd.DataFrame
    history: pd.DataFrame

    @property
    def annual(self) -> Evaluation:
        """The evaluation of the year itself."""
        return self.years.evaluations[self.year]


def grade_history(scores: pd.DataFrame, periods: Sequence[str] | None = None) -> pd.DataFrame:
    """Grades side by side: one row per unit, one column per period (in order).

    Parameters
    ----------
    scores
        Long score table(s) with ``period``, ``unit_id``, ``grade`` (e.g. the
        quarters' and the year's scores concatenated).
    periods
        Column order; default the periods as they first appear.
    """
    order = list(periods) if periods is not None else list(dict.fromkeys(scores["period"]))
    wide = scores.pivot_table(index="unit_id", columns="period", values="grade", aggfunc="first")
    wide = wide.reindex(columns=[p for p in order if p in wide.columns])
    wide.columns.name = None
    return wide.reset_index()


def annual_table(quarters: PeriodSeries, annual: Evaluation) -> pd.DataFrame:
    """One row per unit: the four quarters' scores and grades next to the year's result."""
    q = quarters.scores
    score_wide = q.pivot_table(index="unit_id", columns="period", values="score", aggfunc="first")
    grade_wide = q.pivot_table(index="unit_id", columns="period", values="grade", aggfunc="first")
    year = annual.scores.set_index("unit_id")
    table = year[["name", "peer_group"]].copy()
    for period in quarters.periods:
        table[f"{period} score"] = score_wide.get(period)
        table[f"{period} grade"] = grade_wide.get(period)
    table["quarter_mean"] = score_wide.reindex(columns=quarters.periods).mean(axis=1)
    table["excellent_quarters"] = (grade_wide == GRADES[0]).sum(axis=1).reindex(table.index).fillna(0).astype(int)
    table["annual_score"] = year["score"]
    table["annual_rank"] = year["rank"]
    table["annual_grade"] = year["grade"]
    table = table.rename_axis("unit_id").reset_index()
    return table.sort_values(["peer_group", "annual_rank", "unit_id"], na_position="last").reset_index(drop=True)


def annual_summary(
    framework: Framework | str | Path,
    observations: pd.DataFrame,
    units: pd.DataFrame,
    year: str | int,
    *,
    quarantine: pd.DataFrame | None = None,
    **settings: Any,
) -> AnnualSummary:
    """Evaluate the four quarters and the year (and the year before, when there are data).

    Raises
    ------
    EvaluationError
        When the year has no observations.
    """
    label_ = period_label(str(year))
    if parse_period(label_).freqstr[0] != "Y":
        raise OptionError(f"{year!r} is not a year; the annual summary needs a year such as 2025")
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    if not _has_data(observations, label_):
        raise EvaluationError(f"no observations in {label_}; the annual summary needs the year's months")
    quarters = evaluate_periods(
        fw, observations, units, [f"{label_}Q{q}" for q in range(1, 5)], quarantine=quarantine, **settings
    )
    years = evaluate_periods(fw, observations, units, [str(int(label_) - 1), label_], quarantine=quarantine, **settings)
    table = annual_table(quarters, years.evaluations[label_])
    both = pd.concat([quarters.scores, years.scores[years.scores["period"] == label_]], ignore_index=True)
    history = grade_history(both, [*quarters.periods, label_])
    history = history.set_index("unit_id").reindex(table["unit_id"]).reset_index()  # by group, then annual rank
    return AnnualSummary(year=label_, quarters=quarters, years=years, table=table, history=history)


# ----------------------------------------------------------------------------- report tables
def bulletin_table(
    series: PeriodSeries,
    month: str,
    compliance: pd.DataFrame | None = None,
    lang: str = "zh",
    group: str | None = None,
) -> pd.DataFrame:
    """The month's ranking with month-on-month changes (and data-submission status), labelled."""
    check_lang(lang)
    month = period_label(month)
    s = series.scores[series.scores["period"] == month]
    if s.empty:
        raise OptionError(f"the series has no scores for {month}; its months are {', '.join(series.periods)}")
    if group is not None:
        s = s[s["peer_group"] == group]
    s = s.sort_values(["peer_group", "rank", "unit_id"], na_position="last")
    columns = ["rank", "unit_id", "name", "peer_group", "score", "score_change", "rank_change", "grade"]
    table = s[columns].copy()
    if compliance is not None:
        status = compliance[compliance["period"] == month].set_index("unit_id")["status"]
        table["status"] = table["unit_id"].map(status).map(lambda v: label(v, lang) if isinstance(v, str) else v)
    t = _labels(lang)
    return table.rename(columns={c: t[c] for c in table.columns if c in t}).reset_index(drop=True)


# ----------------------------------------------------------------------------- figures
def figure_score_trends(
    series: PeriodSeries, lang: str = "zh", highlight: Sequence[str] = (), names: Mapping[str, str] | None = None
):
    """Median monthly score per peer group with its interquartile band; ``highlight`` units as lines."""
    check_lang(lang)
    import matplotlib.pyplot as plt

    t = _labels(lang)
    s = series.scores.dropna(subset=["score"])
    periods = series.periods
    x = np.arange(len(periods))
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    colours = plt.get_cmap("tab10")
    for i, groupname in enumerate(group_order(s["peer_group"].unique())):
        sub = s[s["peer_group"] == groupname].groupby("period")["score"]
        q = pd.DataFrame({"lo": sub.quantile(0.25), "mid": sub.median(), "hi": sub.quantile(0.75)}).reindex(periods)
        ax.fill_between(x, q["lo"], q["hi"], color=colours(i % 10), alpha=0.15)
        ax.plot(x, q["mid"], color=colours(i % 10), label=groupname)
    for unit in highlight:
        unit_scores = s[s["unit_id"] == unit].set_index("period")["score"].reindex(periods)
        text = (names or {}).get(unit, unit)
        ax.plot(x, unit_scores, color="black", lw=1.1, ls="--", marker="o", ms=3)
        last = unit_scores.last_valid_index()
        if last is not None:
            ax.annotate(
                text, (periods.index(last), unit_scores[last]), fontsize=8, xytext=(3, 0), textcoords="offset points"
            )
    ax.set_xticks(x, periods, rotation=45, ha="right")
    ax.legend(title=t["peer_group"], fontsize=8)
    ax.set_title(t["trend_title"])
    ax.set_xlabel(t["trend_x"])
    ax.set_ylabel(t["trend_y"])
    return fig


def figure_month_changes(series: PeriodSeries, month: str, lang: str = "zh", top: int = 15):
    """Horizontal bars of the month's score changes: the ``top`` largest rises and falls."""
    check_lang(lang)
    import matplotlib.pyplot as plt

    t = _labels(lang)
    s = series.scores[(series.scores["period"] == period_label(month))].dropna(subset=["score_change"])
    if len(s) > 2 * top:
        s = pd.concat([s.nlargest(top, "score_change"), s.nsmallest(top, "score_change")])
    s = s.drop_duplicates("unit_id").sort_values("score_change")
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.24 * len(s) + 1.2)))
    colours = np.where(s["score_change"] >= 0, "#1b7837", "#b2182b")
    ax.barh([f"{n}({g})" for n, g in zip(s["name"], s["peer_group"], strict=True)], s["score_change"], color=colours)
    ax.axvline(0, color="grey", lw=0.8)
    ax.tick_params(axis="y", labelsize=7.5)
    ax.set_title(f"{t['change_title']} · {period_label(month)}")
    ax.set_xlabel(t["change_x"])
    ax.set_ylabel(t["change_y"])
    return fig


def figure_compliance(compliance: pd.DataFrame, lang: str = "zh"):
    """Stacked bars per data month: units on time, late, missing, without timestamps."""
    check_lang(lang)
    import matplotlib.pyplot as plt

    t = _labels(lang)
    table = pd.crosstab(compliance["period"], compliance["status"]).reindex(
        columns=list(COMPLIANCE_STATUSES), fill_value=0
    )
    colours = {"on_time": "#7fbf7b", "late": "#f4a582", "missing": "#b2182b", "unknown": "#bbbbbb"}
    fig, ax = plt.subplots(figsize=(8.5, 4.0))
    bottom = np.zeros(len(table))
    for status in COMPLIANCE_STATUSES:
        if table[status].sum() == 0 and status != "on_time":
            continue
        ax.bar(table.index, table[status], bottom=bottom, color=colours[status], label=t[status])
        bottom += table[status].to_numpy()
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(t["compliance_title"])
    ax.set_xlabel(t["compliance_x"])
    ax.set_ylabel(t["compliance_y"])
    return fig


def figure_grade_history(
    history: pd.DataFrame, names: Mapping[str, str] | None = None, lang: str = "zh", max_units: int = 60
):
    """Grade of every unit in every period as coloured cells (rows: units, columns: periods)."""
    check_lang(lang)
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    t = _labels(lang)
    periods = [c for c in history.columns if c != "unit_id"]
    h = history.head(max_units)
    order = [*GRADES, NOT_GRADED]
    codes = h[periods].apply(lambda col: col.map({g: i for i, g in enumerate(order)})).to_numpy(dtype=float)
    cmap = ListedColormap([GRADE_COLOURS[g] for g in order])
    fig, ax = plt.subplots(figsize=(6.5, max(3.0, 0.2 * len(h) + 1.5)))
    ax.imshow(np.ma.masked_invalid(codes), aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(order) - 0.5)
    ax.set_xticks(range(len(periods)), [t["year"] if "Q" not in p else p for p in periods])
    ax.set_yticks(range(len(h)), [(names or {}).get(u, u) for u in h["unit_id"]], fontsize=7)
    ax.grid(False)
    ax.legend(
        handles=[Patch(color=GRADE_COLOURS[g], label=g) for g in order],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    ax.set_title(t["history_title"])
    ax.set_xlabel(t["history_x"])
    ax.set_ylabel(t["history_y"])
    return fig


# ----------------------------------------------------------------------------- report tables
def compliance_table(
    compliance: pd.DataFrame, month: str | None = None, lang: str = "zh", names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Unit-months that were not on time (optionally one month), with readable headers."""
    check_lang(lang)
    c = compliance if month is None else compliance[compliance["period"] == period_label(month)]
    c = c[c["status"] != "on_time"].sort_values(["period", "status", "days_late"], ascending=[True, True, False])
    t = _labels(lang)
    table = pd.DataFrame(
        {
            t["period"]: c["period"],
            t["unit_id"]: c["unit_id"],
            t["name"]: c["unit_id"].map(names or {}).fillna(c["unit_id"]),
            t["status"]: c["status"].map(lambda v: t.get(v, v)),
            t["submitted_at"]: c["submitted_at"].dt.strftime("%Y-%m-%d %H:%M"),
            t["deadline"]: c["deadline"].dt.strftime("%Y-%m-%d"),
            t["days_late"]: c["days_late"],
        }
    )
    return table.reset_index(drop=True)


def annual_report_table(summary: AnnualSummary, lang: str = "zh", group: str | None = None) -> pd.DataFrame:
    """The annual table (quarters, year, mean of quarters) of one peer group, with readable headers."""
    check_lang(lang)
    table = summary.table if group is None else summary.table[summary.table["peer_group"] == group]
    t = _labels(lang)
    rename = {
        c: t[c]
        for c in (
            "unit_id",
            "name",
            "peer_group",
            "quarter_mean",
            "excellent_quarters",
            "annual_score",
            "annual_rank",
            "annual_grade",
        )
    }
    quarter_names = {}
    for period in summary.quarters.periods:
        quarter_names[f"{period} score"] = f"{period} {'得分' if lang != 'en' else 'score'}"
        quarter_names[f"{period} grade"] = f"{period} {'等级' if lang != 'en' else 'grade'}"
    columns = [
        "annual_rank",
        "unit_id",
        "name",
        *quarter_names,
        "quarter_mean",
        "annual_score",
        "annual_grade",
        "excellent_quarters",
    ]
    return (
        table[[c for c in columns if c in table.columns]]
        .rename(columns={**rename, **quarter_names})
        .reset_index(drop=True)
    )


def indicator_names(framework: Framework, lang: str = "zh") -> dict[str, str]:
    """Names of every input indicator: tree indicators, case types, bonus and negative-list counts."""
    check_lang(lang)
    en = lang == "en"
    names: dict[str, str] = {}
    for ind in framework.indicators():
        text = ind.name.en if en else ind.name.zh
        if ind.points:
            for case_type in ind.points:
                names[case_type] = f"{text}: {case_type}"
        else:
            names[ind.id] = text
    for item in (*framework.bonus, *framework.negative_list):
        names.setdefault(item.indicator, item.name.en if en else item.name.zh)
    return names


def reconciliation_table(reconciliation: pd.DataFrame, framework: Framework, lang: str = "zh") -> pd.DataFrame:
    """:func:`rollup_reconciliation` with indicator names and readable headers."""
    check_lang(lang)
    t = _labels(lang)
    names = indicator_names(framework, lang)
    table = reconciliation.assign(
        indicator=reconciliation["indicator"].map(lambda i: names.get(i, i)),
        agrees=reconciliation["agrees"].map(
            {True: "是" if lang != "en" else "yes", False: "否" if lang != "en" else "no"}
        ),
    )
    return table.rename(columns={c: t[c] for c in table.columns if c in t})
