"""Per-unit coverage of the evaluation period: how many months of data each unit has.

A *month of data* for a unit is a month of the period in which the unit has at
least one accepted observation (a row that passed validation) of an input the
framework uses: a tree indicator, a case type of a points indicator, or the count
behind a bonus or negative-list item. Rows of indicators the framework does not
use do not count. Gaps in single indicators inside a covered month are the
business of ``missing.min_availability``, not of this check.

The framework may declare ``missing.min_months``: the fewest such months a unit
needs to be graded. Without it every month of the period is needed (3 for a
quarter, 12 for a year, 1 for a month); a declared value above the number of
months in the period is read as "every month". A unit below it is flagged
``incomplete_data`` (数据不完整, :mod:`perfmodel.flags`) with how many months it
has, is not scored, ranked nor graded, and its values take no part in
imputation, treatment, normalisation or calibration of the others (see
:class:`perfmodel.evaluation.Evaluation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from perfmodel.framework import Framework

__all__ = ["INCOMPLETE", "coverage_table", "required_months", "unit_months"]

INCOMPLETE = "incomplete_data"
"""Code of the flag given to a unit with fewer months of data than required."""


def required_months(framework: Framework, n_months: int) -> int:
    """Months of data a unit needs in a period of ``n_months`` months.

    Reads ``framework.missing.min_months`` when the framework has it (``None``
    or absent: every month of the period).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> required_months(SimpleNamespace(missing=SimpleNamespace(min_months=2)), 3)
    2
    >>> required_months(SimpleNamespace(missing=SimpleNamespace(min_months=None)), 3)
    3
    >>> required_months(SimpleNamespace(missing=SimpleNamespace(min_months=6)), 3)
    3
    """
    declared = framework.missing.min_months
    if declared is None:
        return n_months
    return min(int(declared), n_months)


def unit_months(
    observations: pd.DataFrame,
    units: Iterable[str],
    months: Sequence[str],
    inputs: Iterable[str],
    required: int,
) -> pd.DataFrame:
    """Months of data per unit in the period, and whether it meets ``required``.

    Parameters
    ----------
    observations
        Accepted observations (columns ``unit_id``, ``period``, ``indicator``).
    units
        The units evaluated (the index of the result, in this order).
    months
        The months of the period (``YYYY-MM``).
    inputs
        Indicator ids the framework uses.
    required
        Months needed (:func:`required_months`).

    Returns
    -------
    pandas.DataFrame
        Indexed by unit id: ``months`` (months with data), ``of`` (months in
        the period), ``required`` and ``complete`` (``months >= required``).

    Examples
    --------
    >>> obs = pd.DataFrame({"unit_id": ["A", "A", "B"], "period": ["2025-04", "2025-05", "2025-04"],
    ...                     "indicator": ["r", "r", "r"]})
    >>> unit_months(obs, ["A", "B", "C"], ["2025-04", "2025-05"], ["r"], 2)["months"].tolist()
    [2, 1, 0]
    """
    index = pd.Index(list(units))
    used = observations[observations["period"].isin(list(months)) & observations["indicator"].isin(set(inputs))]
    counts = used.groupby("unit_id")["period"].nunique().reindex(index, fill_value=0).astype(int)
    return coverage_table(counts, len(months), required)


def coverage_table(counts: pd.Series, n_months: int, required: int) -> pd.DataFrame:
    """The coverage table of :func:`unit_months` from months-with-data counts per unit.

    Parameters
    ----------
    counts
        Months with data per unit (index: unit ids, in the table's order).
    n_months
        Months in the period.
    required
        Months needed (:func:`required_months`).

    Examples
    --------
    >>> coverage_table(pd.Series([3, 1], index=["A", "B"]), 3, 2)["complete"].tolist()
    [True, False]
    """
    counts = counts.astype(int)
    return pd.DataFrame(
        {"months": counts, "of": n_months, "required": required, "complete": counts >= required},
        index=counts.index,
    )
