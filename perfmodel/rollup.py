"""Roll monthly observations up to an evaluation period (month, quarter or year).

Each indicator kind has its own rule, so that a quarter's value is the value the
quarter would have had if it were measured directly:

========  ==============================================================
kind      period value
========  ==============================================================
rate      Σ numerator / Σ denominator over the months (not the mean of
          monthly rates); the mean of monthly values only when some month
          lacks its numerator/denominator (recorded as the method)
count     Σ monthly counts; prorated to the full period when months are
          missing (recorded)
event     Σ monthly counts of events (case types, bonus and negative-list
          items): a month without a row had none, so never prorated
duration  mean of monthly values, weighted by the monthly number of cases
          (``denominator``) when given
score     mean of ratings (several raters in a month are averaged first)
========  ==============================================================

``months_present`` is recorded for every unit × indicator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError
from perfmodel.periods import months_in, parse_month

if TYPE_CHECKING:  # pragma: no cover - typing only
    from perfmodel.framework import Framework

__all__ = ["roll_up", "ROLLUP_COLUMNS", "rolled_values", "month_labels", "monthly_values"]

_INTEGER_TOL = 1e-9
"""How close a numerator or denominator must be to an integer to count as a count."""

ROLLUP_COLUMNS = [
    "unit_id",
    "indicator",
    "value",
    "numerator",
    "denominator",
    "months_present",
    "n_months",
    "method",
]


def _monthly(obs: pd.DataFrame) -> pd.DataFrame:
    """One row per unit × indicator × month: raters averaged, volumes summed."""
    flagged = obs.assign(_no_num=obs["numerator"].isna(), _no_den=obs["denominator"].isna())
    grouped = flagged.groupby(["unit_id", "indicator", "period"], sort=True, observed=True)
    monthly = grouped.agg(
        value=("value", "mean"),
        numerator=("numerator", "sum"),
        denominator=("denominator", "sum"),
        no_num=("_no_num", "any"),
        no_den=("_no_den", "any"),
    ).reset_index()
    monthly.loc[monthly["no_num"], "numerator"] = np.nan
    monthly.loc[monthly["no_den"], "denominator"] = np.nan
    return monthly.drop(columns=["no_num", "no_den"])


def roll_up(observations: pd.DataFrame, kinds: Mapping[str, str], period: pd.Period | str) -> pd.DataFrame:
    """Roll clean monthly observations up to ``period``.

    Parameters
    ----------
    observations
        Clean observations (columns ``period``, ``unit_id``, ``indicator``,
        ``value``, ``numerator``, ``denominator``); rows outside the period are
        ignored.
    kinds
        Indicator id → roll-up rule (``rate``, ``count``, ``event``, ``duration``,
        ``score``); see :meth:`perfmodel.framework.Framework.rollup_kinds`.
    period
        The evaluation period.

    Returns
    -------
    pandas.DataFrame
        Long table with :data:`ROLLUP_COLUMNS`, one row per unit × indicator
        observed in the period.

    Examples
    --------
    >>> obs = pd.DataFrame({"period": ["2025-04", "2025-05"], "unit_id": ["A", "A"],
    ...     "indicator": ["r", "r"], "value": [0.5, 1.0],
    ...     "numerator": [1.0, 9.0], "denominator": [2.0, 9.0]})
    >>> float(roll_up(obs, {"r": "rate"}, "2025Q2")["value"].iloc[0])  # 10/11, not 0.75
    0.9090909090909091
    """
    months = [str(m) for m in months_in(period)]
    n_months = len(months)
    in_period = observations[observations["period"].isin(months)]
    if in_period.empty:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    monthly = _monthly(in_period)
    monthly["kind"] = monthly["indicator"].map(kinds).fillna("score")
    has_volume = monthly["numerator"].notna() & monthly["denominator"].notna()
    monthly["_num"] = monthly["numerator"].fillna(0.0)
    monthly["_den"] = monthly["denominator"].fillna(0.0)
    monthly["_wvalue"] = monthly["value"] * monthly["_den"]
    monthly["_all_volume"] = has_volume
    monthly["_all_cases"] = monthly["denominator"].notna()
    groups = monthly.groupby(["unit_id", "indicator"], sort=True)
    out = groups.agg(
        kind=("kind", "first"),
        mean_value=("value", "mean"),
        sum_value=("value", "sum"),
        numerator=("_num", "sum"),
        denominator=("_den", "sum"),
        weighted_value=("_wvalue", "sum"),
        all_volume=("_all_volume", "all"),
        all_cases=("_all_cases", "all"),
        months_present=("period", "nunique"),
    ).reset_index()
    out["n_months"] = n_months
    kind = out["kind"]
    is_rate = kind == "rate"
    rate_by_volume = is_rate & out["all_volume"] & (out["denominator"] > 0)
    is_count = kind == "count"
    is_event = kind == "event"
    weighted_duration = (kind == "duration") & out["all_cases"] & (out["denominator"] > 0)
    prorate = n_months / out["months_present"]

    out["value"] = out["mean_value"]
    out.loc[rate_by_volume, "value"] = out["numerator"] / out["denominator"]
    out.loc[is_count, "value"] = out["sum_value"] * prorate
    out.loc[is_event, "value"] = out["sum_value"]
    out.loc[weighted_duration, "value"] = out["weighted_value"] / out["denominator"]

    out["method"] = "mean"
    out.loc[is_rate, "method"] = "mean_of_monthly_rates"
    out.loc[rate_by_volume, "method"] = "sum_numerator_over_sum_denominator"
    out.loc[is_count | is_event, "method"] = "sum"
    out.loc[is_count & (out["months_present"] < n_months), "method"] = "sum_prorated"
    out.loc[weighted_duration, "method"] = "case_weighted_mean"
    out.loc[~out["all_volume"], "numerator"] = np.nan
    out.loc[~(out["all_volume"] | weighted_duration), "denominator"] = np.nan
    return out[ROLLUP_COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------- monthly values
def rolled_values(rolled: pd.DataFrame, units: pd.Index) -> pd.DataFrame:
    """The roll-up's values as a unit × indicator table: one row per unit of ``units`` (in that order).

    Columns are the indicators of ``rolled``, sorted; a unit without a row for an
    indicator has NaN there.

    Examples
    --------
    >>> rolled = pd.DataFrame({"unit_id": ["A", "A", "B"], "indicator": ["y", "x", "x"], "value": [1.0, 2.0, 3.0]})
    >>> rolled_values(rolled, pd.Index(["B", "A", "C"])).to_dict("list")
    {'x': [3.0, 2.0, nan], 'y': [nan, 1.0, nan]}
    """
    return rolled.pivot(index="unit_id", columns="indicator", values="value").reindex(index=units)


def month_labels(periods: pd.Series) -> np.ndarray:
    """``YYYY-MM`` text of every period (each distinct value parsed once)."""
    codes, uniques = pd.factorize(periods.astype(str))
    labels = np.array([str(parse_month(u)) for u in uniques], dtype=object)
    return labels[codes] if len(labels) else np.array([], dtype=object)


def monthly_values(observations: pd.DataFrame, framework: Framework | None = None) -> pd.DataFrame:
    """Each unit's value of each indicator in each month: one row per unit × indicator × month.

    The monthly (not period) values the gaming checks read; sorted by unit,
    indicator and month. (The monthly *scores* are
    :func:`perfmodel.monitor.series.monthly_scores`: one evaluation per month.)

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
        raise OptionError(
            f"observations lack column(s) {', '.join(sorted(missing))}; monthly values need the "
            "clean long table (period, unit_id, indicator, value[, numerator, denominator])"
        )
    frame = pd.DataFrame(
        {
            "unit_id": observations["unit_id"].astype(str).to_numpy(),
            "indicator": observations["indicator"].astype(str).to_numpy(),
            "period": month_labels(observations["period"]),
            "value": pd.to_numeric(observations["value"], errors="coerce").to_numpy(dtype=float),
        }
    )
    for column in ("numerator", "denominator"):
        source = observations[column] if column in observations.columns else np.nan
        frame[column] = pd.to_numeric(pd.Series(source, index=observations.index), errors="coerce").to_numpy(
            dtype=float
        )
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
        integer = (np.abs(num - np.round(num)) < _INTEGER_TOL) & (np.abs(den - np.round(den)) < _INTEGER_TOL)
    monthly["has_counts"] = ~monthly["no_counts"] & integer & (den > 0) & (num >= 0) & (num <= den)
    return monthly.drop(columns="no_counts")
