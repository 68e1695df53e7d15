"""Denomination: turn counts into rates by dividing by a size measure of each unit.

A station with twice the residents has, other things equal, twice the cases; to
compare stations fairly (R4, R21: "police per 10,000 residents") an indicator
is divided by the column of the *units table* its metadata names (its
``denominator``) and multiplied by ``per``. Indicators without a denominator are
left as they are.

A zero or missing denominator cannot give a rate. Such cells become ``NaN`` —
never ``inf`` — and are reported: :func:`denominate` warns with a
:class:`DenominatorWarning`, and :func:`denominator_problems` lists every
affected unit × indicator cell with the reason.

Data are *wide* frames: one row per unit (index = unit id), one column per
indicator. The units table is indexed by the same unit ids.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError, OptionTypeError, UnknownKeyError
from perfmodel.framework import Framework

__all__ = [
    "DenominatorWarning",
    "denominate",
    "denominator_problems",
    "framework_denominators",
]

PROBLEM_COLUMNS = ["unit", "indicator", "denominator", "denominator_value", "reason"]
_SHOWN_IN_WARNING = 5


class DenominatorWarning(UserWarning):
    """Some cells could not be denominated (zero or missing denominator); they are ``NaN``."""


def framework_denominators(framework: Framework) -> tuple[dict[str, str], dict[str, float]]:
    """The ``denominators`` and ``per`` mappings declared by a framework's indicators.

    Returns
    -------
    denominators, per
        Indicator id → units-table column, and indicator id → scale, for the
        indicators that name a denominator.
    """
    denominators = {i.id: i.denominator for i in framework.indicators() if i.denominator}
    per = {i.id: float(i.per) for i in framework.indicators() if i.denominator}
    return denominators, per


def _check_inputs(
    X: pd.DataFrame,
    denominators: Mapping[str, str],
    units: pd.DataFrame,
    per: Mapping[str, float],
) -> None:
    unknown = [ind for ind in denominators if ind not in X.columns]
    if unknown:
        raise UnknownKeyError(
            f"denominators name indicator(s) not in the data: {', '.join(map(str, unknown))}; "
            "remove them from the mapping or add the columns"
        )
    absent = sorted({col for col in denominators.values() if col not in units.columns})
    if absent:
        raise UnknownKeyError(
            f"denominator column(s) {', '.join(absent)} not in the units table "
            f"(it has: {', '.join(map(str, units.columns))}); fix the indicator metadata or the units file"
        )
    stray = [ind for ind in per if ind not in denominators]
    if stray:
        raise OptionError(
            f"'per' is given for indicator(s) without a denominator: {', '.join(map(str, stray))}; "
            "'per' scales a rate, so give those indicators a denominator or drop 'per'"
        )
    bad_per = [ind for ind, scale in per.items() if not (np.isfinite(scale) and scale > 0)]
    if bad_per:
        raise OptionError(f"'per' must be a positive number; check: {', '.join(map(str, bad_per))}")
    for column in sorted(set(denominators.values())):
        if not pd.api.types.is_numeric_dtype(units[column]):
            raise OptionTypeError(
                f"denominator column {column!r} of the units table is not numeric "
                f"(dtype {units[column].dtype}); clean it before denominating"
            )


def _denominator_values(X: pd.DataFrame, units: pd.DataFrame, column: str) -> pd.Series:
    """The denominator of every row of ``X`` (``NaN`` for units absent from the table)."""
    return units[column].astype(float).reindex(X.index)


def denominator_problems(X: pd.DataFrame, denominators: Mapping[str, str], units: pd.DataFrame) -> pd.DataFrame:
    """Cells that lose their value because the denominator is zero or missing.

    Only cells whose numerator is present are listed (a missing numerator is
    missing whatever the denominator).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit``, ``indicator``, ``denominator`` (units-table column),
        ``denominator_value`` and ``reason`` (``unit not in units table``,
        ``denominator missing`` or ``denominator is zero``).
    """
    _check_inputs(X, denominators, units, {})
    rows = []
    in_table = X.index.isin(units.index)
    for indicator, column in denominators.items():
        den = _denominator_values(X, units, column)
        numerator_present = X[indicator].notna().to_numpy()
        bad = numerator_present & ~(np.isfinite(den.to_numpy()) & (den.to_numpy() != 0))
        for position in np.flatnonzero(bad):
            value = den.iloc[position]
            if not in_table[position]:
                reason = "unit not in units table"
            elif value == 0:
                reason = "denominator is zero"
            else:
                reason = "denominator missing"
            rows.append((X.index[position], indicator, column, value, reason))
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def denominate(
    X: pd.DataFrame,
    denominators: Mapping[str, str],
    units: pd.DataFrame,
    per: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Divide indicators by a size column of the units table, times ``per``.

    Parameters
    ----------
    X
        Wide frame of raw indicator values (rows: units, columns: indicators).
    denominators
        Indicator id → column of ``units`` to divide by. Indicators not named
        are returned unchanged.
    units
        Units table indexed by unit id (e.g. residents, registered population,
        area, officers).
    per
        Indicator id → scale, e.g. ``10000`` for "per 10,000 residents";
        1 where not given.

    Returns
    -------
    pandas.DataFrame
        Same shape as ``X``. Where a denominator is zero, missing or the unit is
        absent from ``units``, the cell is ``NaN`` (never ``inf``); a
        :class:`DenominatorWarning` then names how many cells, and
        :func:`denominator_problems` lists them.

    Examples
    --------
    >>> X = pd.DataFrame({"cases": [30.0, 12.0], "rate": [0.9, 0.8]}, index=["A", "B"])
    >>> units = pd.DataFrame({"residents": [60000.0, 20000.0]}, index=["A", "B"])
    >>> denominate(X, {"cases": "residents"}, units, per={"cases": 10000})["cases"].tolist()
    [5.0, 6.0]
    """
    per = dict(per or {})
    _check_inputs(X, denominators, units, per)
    out = X.astype(float).copy()
    for indicator, column in denominators.items():
        den = _denominator_values(X, units, column)
        usable = den.where(np.isfinite(den) & (den != 0))
        out[indicator] = out[indicator] * per.get(indicator, 1.0) / usable
    problems = denominator_problems(X, denominators, units)
    if len(problems):
        shown = "; ".join(
            f"{r.unit} × {r.indicator} ({r.reason})" for r in problems.head(_SHOWN_IN_WARNING).itertuples()
        )
        more = f" and {len(problems) - _SHOWN_IN_WARNING} more" if len(problems) > _SHOWN_IN_WARNING else ""
        warnings.warn(
            f"{len(problems)} cell(s) set to NaN because the denominator is zero or missing: "
            f"{shown}{more}. List them all with denominator_problems(); fix the units table "
            "or impute these cells explicitly.",
            DenominatorWarning,
            stacklevel=2,
        )
    return out
