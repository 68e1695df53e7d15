"""Outlier treatment per indicator, following COINr's default procedure.

An indicator is *outlying* when its absolute skewness is at least
``skew_threshold`` **and** its kurtosis at least ``kurtosis_threshold`` (2 and
3.5 by default; sample-adjusted estimators, as R's ``e1071`` type 2 and
Excel's ``SKEW``/``KURT``). Such an indicator is winsorised step by step:

1. compute skewness and kurtosis of the current values (missing values ignored);
2. stop if the indicator is no longer outlying, or ``max_points`` steps have been taken;
3. otherwise winsorise one step on the side of the skew (skewness ≥ 0: the
   high end, else the low end): every value tied at the extreme is set to the
   next value inward;
4. go back to 1.

This is the loop of COINr's ``coin_win`` (``winchange = TRUE``; the side is
decided afresh at each step). A step counts as **one** point towards
``max_points`` even when several tied values change together; the log reports
both the number of steps and the number of distinct cells changed. If the
limit is reached and the indicator is still outlying, the winsorised values
are kept and the status says so, or — with ``log_fallback=True`` — the
*original* values are log-transformed instead (COINr's ``deflog = "CTlog"``,
:func:`log_transform`).

Data are *wide* frames: one row per unit (index = unit id), one column per
indicator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError, UnknownKeyError

__all__ = [
    "TreatmentResult",
    "skewness",
    "kurtosis",
    "is_outlying",
    "winsorise",
    "log_transform",
    "treat",
]

LOG_COLUMNS = [
    "indicator",
    "steps",
    "points",
    "side",
    "skew_before",
    "kurtosis_before",
    "skew",
    "kurtosis",
    "status",
]


def _finite(x: Iterable[float]) -> np.ndarray:
    values = np.asarray(x, dtype=float)
    return values[~np.isnan(values)]


def _deviations(v: np.ndarray) -> np.ndarray | None:
    """Deviations from the mean, scaled so the largest is 1 (skewness and kurtosis do not change).

    The values are divided by their largest magnitude first, so that no mean or power
    overflows or underflows, whatever their size. ``None`` without spread: all values
    equal, up to the rounding of their mean (a spread below 16 ulp of the largest value).
    """
    size = float(np.max(np.abs(v)))
    if size == 0 or not np.isfinite(size):
        return None
    w = v / size
    d = w - w.mean()
    spread = float(np.max(np.abs(d)))
    if spread <= 16 * np.finfo(float).eps:
        return None
    return d / spread


def skewness(x: Iterable[float]) -> float:
    """Sample-adjusted skewness (e1071 type 2, Excel ``SKEW``), missing values ignored.

    ``NaN`` with fewer than 3 values or no spread.

    Examples
    --------
    >>> round(skewness([1.0, 2.0, 3.0, 10.0]), 6)
    1.763633
    """
    v = _finite(x)
    n = v.size
    if n < 3:
        return float("nan")
    d = _deviations(v)
    if d is None:
        return float("nan")
    m2 = np.sum(d**2)
    g1 = np.sqrt(n) * np.sum(d**3) / m2**1.5
    return float(g1 * np.sqrt(n * (n - 1)) / (n - 2))


def kurtosis(x: Iterable[float]) -> float:
    """Sample-adjusted excess kurtosis (e1071 type 2, Excel ``KURT``), missing values ignored.

    ``NaN`` with fewer than 4 values or no spread.

    Examples
    --------
    >>> round(kurtosis([1.0, 2.0, 3.0, 10.0]), 6)
    3.228
    """
    v = _finite(x)
    n = v.size
    if n < 4:
        return float("nan")
    d = _deviations(v)
    if d is None:
        return float("nan")
    m2 = np.sum(d**2)
    r = n * np.sum(d**4) / m2**2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def is_outlying(x: Iterable[float], skew_threshold: float = 2.0, kurtosis_threshold: float = 3.5) -> bool:
    """Whether ``|skewness| ≥ skew_threshold`` and ``kurtosis ≥ kurtosis_threshold``.

    An indicator whose skewness or kurtosis cannot be computed (too few values,
    no spread) is not outlying.
    """
    sk, kt = skewness(x), kurtosis(x)
    return bool(abs(sk) >= skew_threshold and kt >= kurtosis_threshold)


@dataclass(frozen=True)
class TreatmentResult:
    """Outcome of :func:`treat`.

    Attributes
    ----------
    values
        Treated wide frame.
    changed
        Boolean mask of the cells whose value was changed.
    log
        One row per indicator: ``indicator``, ``steps`` (winsorisation steps),
        ``points`` (distinct cells changed), ``side`` (``high``/``low``/``both``),
        skewness and kurtosis before and after (``skew``, ``kurtosis``) and ``status``.
    """

    values: pd.DataFrame
    changed: pd.DataFrame
    log: pd.DataFrame


@dataclass(frozen=True)
class _Winsorised:
    values: np.ndarray
    changed: np.ndarray  # bool, per value
    steps: int
    sides: tuple[str, ...]
    stopped_early: bool  # a further step would leave fewer than two distinct values


def _winsorise_array(x: np.ndarray, skew_threshold: float, kurtosis_threshold: float, max_points: int) -> _Winsorised:
    values = x.astype(float).copy()
    changed = np.zeros(values.size, dtype=bool)
    steps = 0
    sides: list[str] = []
    while steps < max_points and is_outlying(values, skew_threshold, kurtosis_threshold):
        high = skewness(values) >= 0
        extreme = np.nanmax(values) if high else np.nanmin(values)
        at_extreme = values == extreme
        rest = values[~at_extreme & ~np.isnan(values)]
        if np.unique(rest).size < 2:
            return _Winsorised(values, changed, steps, tuple(sides), stopped_early=True)
        values[at_extreme] = rest.max() if high else rest.min()
        changed |= at_extreme
        steps += 1
        sides.append("high" if high else "low")
    return _Winsorised(values, changed, steps, tuple(sides), stopped_early=False)


def winsorise(
    x: pd.Series,
    *,
    skew_threshold: float = 2.0,
    kurtosis_threshold: float = 3.5,
    max_points: int = 6,
) -> tuple[pd.Series, pd.Series, int]:
    """Winsorise one indicator step by step until it is no longer outlying.

    Returns
    -------
    values, changed, steps
        The treated values, a boolean mask of the cells that changed, and the
        number of winsorisation steps taken (each step counts once, however many
        tied values it moved).

    Examples
    --------
    >>> x = pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30, 100])
    >>> values, changed, steps = winsorise(x)
    >>> values.tolist()[-2:], int(changed.sum()), steps
    ([30.0, 30.0], 1, 1)
    """
    result = _winsorise_array(x.to_numpy(dtype=float), skew_threshold, kurtosis_threshold, max_points)
    return (
        pd.Series(result.values, index=x.index, name=x.name),
        pd.Series(result.changed, index=x.index, name=x.name),
        result.steps,
    )


def log_transform(x: pd.Series) -> pd.Series:
    """COIN Tool log: ``ln(x - min + 0.01 (max - min))`` (order preserving, defined for any sign).

    Examples
    --------
    >>> [round(v, 4) for v in log_transform(pd.Series([0.0, 1.0, 100.0]))]
    [0.0, 0.6931, 4.6151]
    """
    lo, hi = x.min(), x.max()
    return np.log(x - lo + 0.01 * (hi - lo))


def _side(sides: tuple[str, ...]) -> str:
    distinct = sorted(set(sides))
    if not distinct:
        return ""
    return distinct[0] if len(distinct) == 1 else "both"


def _treat_column(
    x: np.ndarray,
    skew_threshold: float,
    kurtosis_threshold: float,
    max_points: int,
    log_fallback: bool,
) -> tuple[np.ndarray, np.ndarray, int, str, str]:
    """Treat one indicator: (values, changed mask, steps, side, status)."""
    unchanged = np.zeros(x.size, dtype=bool)
    if np.count_nonzero(~np.isnan(x)) < 4:
        return x, unchanged, 0, "", "too few values"
    if np.isnan(skewness(x)):
        return x, unchanged, 0, "", "no spread"
    w = _winsorise_array(x, skew_threshold, kurtosis_threshold, max_points)
    if w.stopped_early:
        return w.values, w.changed, w.steps, _side(w.sides), "stopped"
    if is_outlying(w.values, skew_threshold, kurtosis_threshold):
        if log_fallback:
            return log_transform(pd.Series(x)).to_numpy(), ~np.isnan(x), w.steps, "", "log"
        return w.values, w.changed, w.steps, _side(w.sides), "limit reached"
    return w.values, w.changed, w.steps, _side(w.sides), "winsorised" if w.steps else "ok"


def treat(
    X: pd.DataFrame,
    *,
    skew_threshold: float = 2.0,
    kurtosis_threshold: float = 3.5,
    max_points: int = 6,
    log_fallback: bool = False,
    columns: Iterable[str] | None = None,
) -> TreatmentResult:
    """Treat outlying indicators (COINr's default winsorisation procedure).

    Parameters
    ----------
    X
        Wide frame (rows: units, columns: indicators).
    skew_threshold, kurtosis_threshold
        An indicator is outlying while ``|skewness| ≥ skew_threshold`` and
        ``kurtosis ≥ kurtosis_threshold``.
    max_points
        Most winsorisation steps per indicator (a step moves all values tied at
        the extreme and counts once). COINr's default is 10 % of the units, rounded up.
    log_fallback
        When winsorising up to ``max_points`` does not remove the outliers, use
        :func:`log_transform` of the original values instead of the winsorised ones.
    columns
        Indicators to treat (default: all); the others are returned unchanged
        and logged as ``not treated``.

    Returns
    -------
    TreatmentResult
        Treated values, a mask of changed cells and a log with one row per indicator.

    Notes
    -----
    Log ``status`` values: ``ok`` (not outlying, untouched), ``winsorised``
    (no longer outlying), ``limit reached`` (still outlying after
    ``max_points`` steps; winsorised values kept), ``log`` (log fallback used),
    ``stopped`` (a further step would leave fewer than two distinct values),
    ``too few values`` (fewer than 4 observed values: skewness/kurtosis
    undefined), ``no spread`` and ``not treated``.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int | np.integer) or max_points < 0:
        raise OptionError(f"max_points must be a whole number ≥ 0, got {max_points!r}")
    selected = list(X.columns if columns is None else columns)
    unknown = [c for c in selected if c not in X.columns]
    if unknown:
        raise UnknownKeyError(f"cannot treat indicator(s) not in the data: {', '.join(map(str, unknown))}")
    values = X.astype(float).copy()
    changed = pd.DataFrame(False, index=X.index, columns=X.columns)
    rows = []
    for column in X.columns:
        x = values[column].to_numpy()
        if column in selected:
            new, moved, steps, side, status = _treat_column(
                x, skew_threshold, kurtosis_threshold, max_points, log_fallback
            )
        else:
            new, moved, steps, side, status = x, np.zeros(x.size, bool), 0, "", "not treated"
        values[column] = new
        changed[column] = moved
        rows.append(
            (column, steps, int(moved.sum()), side, skewness(x), kurtosis(x)) + (skewness(new), kurtosis(new), status)
        )
    return TreatmentResult(values, changed, pd.DataFrame(rows, columns=LOG_COLUMNS))
