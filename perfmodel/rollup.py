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


def _group_codes(keys: list[pd.Series]) -> tuple[np.ndarray, list[np.ndarray | pd.api.extensions.ExtensionArray]]:
    """Each row's group among ``keys`` as one integer, in the sorted order of ``groupby(keys, sort=True)``.

    Returns the codes (``-1`` where a key is missing: ``groupby`` drops those rows)
    and each key's sorted distinct values. A code orders as the tuple of keys does.
    """
    codes = np.zeros(len(keys[0]), dtype=np.int64)
    missing = np.zeros(len(keys[0]), dtype=bool)
    uniques = []
    for key in keys:
        part, distinct = pd.factorize(key, sort=True)
        codes = codes * max(len(distinct), 1) + part
        missing |= part < 0
        uniques.append(distinct)
    codes[missing] = -1
    return codes, uniques


def _sums(values: dict[str, np.ndarray], groups: np.ndarray, how: str) -> pd.DataFrame:
    """Group sums or means of float columns with pandas' kernels (Kahan's summation, in row order).

    ``groups`` are dense codes ``0 … g − 1``; the result has one row per code, in code order.
    """
    frame = pd.DataFrame(values, copy=False)
    grouped = frame.groupby(groups, sort=True)
    return grouped.sum() if how == "sum" else grouped.mean()


def _monthly(obs: pd.DataFrame) -> pd.DataFrame:
    """One row per unit × indicator × month: raters averaged, volumes summed."""
    codes, (units, indicators, months) = _group_codes([obs["unit_id"], obs["indicator"], obs["period"]])
    keep = codes >= 0
    distinct, groups = np.unique(codes[keep], return_inverse=True)
    value = obs["value"].to_numpy(dtype=float)[keep]
    numerator = obs["numerator"].to_numpy(dtype=float)[keep]
    denominator = obs["denominator"].to_numpy(dtype=float)[keep]
    mean = _sums({"value": value}, groups, "mean")["value"].to_numpy()
    sums = _sums({"numerator": numerator, "denominator": denominator}, groups, "sum")
    no_num = np.bincount(groups, weights=np.isnan(numerator), minlength=len(distinct)) > 0
    no_den = np.bincount(groups, weights=np.isnan(denominator), minlength=len(distinct)) > 0
    n_months, n_indicators = max(len(months), 1), max(len(indicators), 1)
    month_code = distinct % n_months
    indicator_code = (distinct // n_months) % n_indicators
    unit_code = distinct // (n_months * n_indicators)
    return pd.DataFrame(
        {
            "unit_id": units[unit_code],
            "indicator": indicators[indicator_code],
            "period": months[month_code],
            "value": mean,
            "numerator": np.where(no_num, np.nan, sums["numerator"].to_numpy()),
            "denominator": np.where(no_den, np.nan, sums["denominator"].to_numpy()),
        }
    )


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

    Notes
    -----
    The groups are formed on integer codes and summed with pandas' group kernels
    (Kahan's compensated summation in row order), so the values are those of a
    ``groupby(["unit_id", "indicator", "period"])`` then ``groupby(["unit_id",
    "indicator"])`` aggregation, bit for bit (``tests/test_rollup.py`` compares with one).

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
    if monthly.empty:  # every row lacked a unit, indicator or month
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    value = monthly["value"].to_numpy()
    numerator, denominator = monthly["numerator"].to_numpy(), monthly["denominator"].to_numpy()
    has_volume = ~np.isnan(numerator) & ~np.isnan(denominator)
    num, den = np.nan_to_num(numerator, nan=0.0), np.nan_to_num(denominator, nan=0.0)
    # The monthly rows are sorted by unit, indicator and month: a pair's months are consecutive.
    unit_id, indicator = monthly["unit_id"], monthly["indicator"]
    pair_start = np.r_[True, (unit_id.to_numpy()[1:] != unit_id.to_numpy()[:-1])]
    pair_start |= np.r_[True, (indicator.to_numpy()[1:] != indicator.to_numpy()[:-1])]
    first = np.flatnonzero(pair_start)
    pair = np.cumsum(pair_start) - 1
    n_pairs = len(first)
    means = _sums({"mean_value": value}, pair, "mean")["mean_value"].to_numpy()
    sums = _sums({"sum_value": value, "numerator": num, "denominator": den, "weighted": value * den}, pair, "sum")
    months_present = np.bincount(pair, minlength=n_pairs)
    all_volume = np.bincount(pair, weights=~has_volume, minlength=n_pairs) == 0
    all_cases = np.bincount(pair, weights=np.isnan(denominator), minlength=n_pairs) == 0
    out = pd.DataFrame({"unit_id": unit_id.iloc[first].to_numpy(), "indicator": indicator.iloc[first].to_numpy()})
    kind = out["indicator"].map(kinds).fillna("score").to_numpy()
    num_sum, den_sum = sums["numerator"].to_numpy(), sums["denominator"].to_numpy()
    sum_value = sums["sum_value"].to_numpy()
    is_rate = kind == "rate"
    rate_by_volume = is_rate & all_volume & (den_sum > 0)
    is_count = kind == "count"
    is_event = kind == "event"
    weighted_duration = (kind == "duration") & all_cases & (den_sum > 0)
    prorate = n_months / months_present

    with np.errstate(all="ignore"):  # the branches not taken may divide by zero or overflow
        out["value"] = np.select(
            [weighted_duration, is_event, is_count, rate_by_volume],
            [sums["weighted"].to_numpy() / den_sum, sum_value, sum_value * prorate, num_sum / den_sum],
            means,
        )
    out["numerator"] = np.where(all_volume, num_sum, np.nan)
    out["denominator"] = np.where(all_volume | weighted_duration, den_sum, np.nan)
    out["months_present"] = months_present
    out["n_months"] = n_months
    out["method"] = np.select(
        [
            weighted_duration,
            is_count & (months_present < n_months),
            is_count | is_event,
            rate_by_volume,
            is_rate,
        ],
        ["case_weighted_mean", "sum_prorated", "sum", "sum_numerator_over_sum_denominator", "mean_of_monthly_rates"],
        "mean",
    )
    return out[ROLLUP_COLUMNS]


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
