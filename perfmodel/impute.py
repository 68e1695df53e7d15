"""Imputation of missing indicator values, as an explicit, recorded choice.

Missing data are never silently filled with 0. The methods are:

``none``
    Nothing is imputed; every missing cell is reported.
``group_mean``
    The mean of the observed values of the unit's group for that indicator
    (COINr's ``i_mean_grp``; e.g. the mean of the unit's peer group).
``carry_forward``
    The unit's own value from the most recent earlier period, looking back at
    most ``max_age`` periods.

Cells that cannot be imputed stay ``NaN`` and appear in
:attr:`ImputationResult.log` with the reason, so that a report can show what
was imputed, how, and what is still missing.

Data are *wide* frames: one row per unit (index = unit id), one column per
indicator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError

__all__ = ["ImputationResult", "impute", "IMPUTATION_METHODS"]

ImputationMethod = Literal["none", "group_mean", "carry_forward"]
IMPUTATION_METHODS: tuple[str, ...] = ("none", "group_mean", "carry_forward")

OBSERVED = "observed"
MISSING = "missing"
LOG_COLUMNS = ["unit", "indicator", "method", "status", "value", "detail"]


@dataclass(frozen=True)
class ImputationResult:
    """Values after imputation with a record of every cell that was missing.

    Attributes
    ----------
    values
        The data with imputed cells filled; cells that could not be imputed are ``NaN``.
    imputed
        Boolean mask, ``True`` where a value was imputed.
    method
        The method asked for (:meth:`method_used` gives it per cell).
    log
        One row per originally missing cell: ``unit``, ``indicator``,
        ``method``, ``status`` (``imputed`` / ``unresolved``), ``value`` and a
        plain-language ``detail`` (where the value came from, or why none could be found).
    """

    values: pd.DataFrame
    imputed: pd.DataFrame
    method: str
    log: pd.DataFrame

    @property
    def method_used(self) -> pd.DataFrame:
        """Per cell: ``observed``, ``group_mean``, ``carry_forward`` or ``missing`` (still missing after imputation).

        Computed when asked: a frame of text per cell is large for millions of units.
        """
        used = pd.DataFrame(OBSERVED, index=self.values.index, columns=self.values.columns, dtype=object)
        return used.mask(self.imputed, self.method).mask(self.values.isna(), MISSING)

    @property
    def unresolved(self) -> pd.DataFrame:
        """The cells still missing after imputation, with the reason."""
        return self.log[self.log["status"] == "unresolved"].reset_index(drop=True)


def _group_mean(
    X: pd.DataFrame, groups: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[object, object], str]]:
    """Fill each missing cell with the mean of its group's observed values."""
    keys = groups.reindex(X.index)
    by_group = X.groupby(keys, dropna=True, sort=False)
    row_means = by_group.mean().reindex(keys.to_numpy()).set_axis(X.index)
    row_counts = by_group.count().reindex(keys.to_numpy()).set_axis(X.index)
    filled = X.fillna(row_means)
    details: dict[tuple[object, object], str] = {}
    for unit, indicator in zip(*_cells(X.isna()), strict=True):
        group = keys.loc[unit]
        if pd.isna(group):
            details[(unit, indicator)] = "unit has no group"
        elif row_counts.loc[unit, indicator] == 0:
            details[(unit, indicator)] = f"no observed value in group {group!r}"
        else:
            n = int(row_counts.loc[unit, indicator])
            details[(unit, indicator)] = f"mean of {n} observed unit(s) in group {group!r}"
    return filled, filled.notna() & X.isna(), details


def _carry_forward(
    X: pd.DataFrame, history: Sequence[pd.DataFrame], max_age: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[object, object], str]]:
    """Fill each missing cell with the unit's most recent earlier value within ``max_age``."""
    filled = X.copy()
    details: dict[tuple[object, object], str] = {}
    for age, earlier in enumerate(history[:max_age], start=1):
        earlier = earlier.reindex(index=X.index, columns=X.columns).astype(float)
        take = filled.isna() & earlier.notna()
        filled = filled.mask(take, earlier)
        for unit, indicator in zip(*_cells(take), strict=True):
            details[(unit, indicator)] = f"value from {age} period(s) earlier"
    looked_back = min(max_age, len(history))
    reason = (
        "no earlier periods given"
        if looked_back == 0
        else f"no value in the {looked_back} earlier period(s) searched (max_age={max_age})"
    )
    for unit, indicator in zip(*_cells(filled.isna()), strict=True):
        details[(unit, indicator)] = reason
    return filled, filled.notna() & X.isna(), details


def _cells(mask: pd.DataFrame) -> tuple[list[object], list[object]]:
    """Row and column labels of the ``True`` cells of a boolean frame."""
    rows, cols = np.nonzero(mask.to_numpy())
    return list(mask.index[rows]), list(mask.columns[cols])


def impute(
    X: pd.DataFrame,
    method: ImputationMethod,
    *,
    groups: pd.Series | None = None,
    history: Sequence[pd.DataFrame] = (),
    max_age: int = 1,
) -> ImputationResult:
    """Impute missing indicator values with one explicit method.

    Parameters
    ----------
    X
        Wide frame (rows: units, columns: indicators) with missing values as ``NaN``.
    method
        ``none``, ``group_mean`` or ``carry_forward``.
    groups
        ``group_mean`` only: the group of each unit (aligned on the index).
        Group means are computed from the observed values of ``X``.
    history
        ``carry_forward`` only: earlier periods' wide frames, **most recent
        first** (``history[0]`` is the previous period).
    max_age
        ``carry_forward`` only: how many earlier periods to look back (≥ 1).

    Returns
    -------
    ImputationResult
        Values, the imputed mask, the method used per cell and a log of every
        originally missing cell.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 3.0, np.nan, 10.0]}, index=list("pqrs"))
    >>> g = pd.Series(["A", "A", "A", "B"], index=X.index)
    >>> impute(X, "group_mean", groups=g).values["a"].tolist()
    [1.0, 3.0, 2.0, 10.0]
    """
    if method not in IMPUTATION_METHODS:
        raise OptionError(f"unknown imputation method {method!r}; choose one of {', '.join(IMPUTATION_METHODS)}")
    if isinstance(max_age, bool) or not isinstance(max_age, int | np.integer) or max_age < 1:
        raise OptionError(f"max_age must be a whole number of periods ≥ 1, got {max_age!r}")
    if not X.index.is_unique:
        duplicated = X.index[X.index.duplicated()].unique()
        raise OptionError(f"unit ids must be unique; duplicated: {', '.join(map(str, duplicated[:5]))}")
    X = X.astype(float)
    if method == "group_mean":
        if groups is None:
            raise OptionError("imputation 'group_mean' needs groups: a Series of group labels by unit")
        filled, imputed, details = _group_mean(X, groups)
    elif method == "carry_forward":
        filled, imputed, details = _carry_forward(X, history, max_age)
    else:
        filled = X.copy(deep=False)  # copy-on-write: nothing to fill, nothing copied
        imputed = pd.DataFrame(False, index=X.index, columns=X.columns)
        details = {cell: "imputation is off (method 'none')" for cell in zip(*_cells(X.isna()), strict=True)}
    return ImputationResult(
        values=filled, imputed=imputed, method=method, log=_log(X, filled, imputed, method, details)
    )


def _log(
    X: pd.DataFrame, filled: pd.DataFrame, imputed: pd.DataFrame, method: str, details: dict[tuple[object, object], str]
) -> pd.DataFrame:
    """One row per cell missing in ``X`` (:data:`LOG_COLUMNS`), in row-major order."""
    rows, cols = np.nonzero(X.isna().to_numpy())
    if not len(rows):
        return pd.DataFrame([], columns=LOG_COLUMNS)
    units, indicators = list(X.index[rows]), list(X.columns[cols])
    return pd.DataFrame(
        {
            "unit": units,
            "indicator": indicators,
            "method": [method] * len(rows),
            "status": np.where(imputed.to_numpy()[rows, cols], "imputed", "unresolved").astype(object),
            "value": filled.to_numpy(dtype=float)[rows, cols],
            "detail": [details[cell] for cell in zip(units, indicators, strict=True)],
        },
        columns=LOG_COLUMNS,
    )
