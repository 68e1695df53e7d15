"""Gaming checks, shared parts: the monthly series the checks read, the check names, the disclaimer.

:func:`~perfmodel.rollup.monthly_values` (re-exported here) turns long observations
into one row per unit × indicator × month with value, numerator, denominator and
kind; :func:`select_months`
picks the months of a period (with history). :data:`CHECKS` names every check in
both languages, :data:`DISCLAIMER` is the statement every output carries, and
:data:`TEST_COLUMNS` the columns of every ``*_checks`` table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError
from perfmodel.periods import months_in, parse_period
from perfmodel.rollup import month_labels, monthly_values

__all__ = [
    "CHECKS",
    "DISCLAIMER",
    "TEST_COLUMNS",
    "monthly_values",
    "select_months",
]

CHECKS: dict[str, dict[str, str]] = {
    "threshold_heaping": {
        "zh": "阈值附近堆积(刚好达标多、差一点未达标少)",
        "en": "heaping just above a hard threshold",
    },
    "under_dispersion": {"zh": "波动过小(小于分母规模应有的随机波动)", "en": "too smooth for its volume"},
    "level_shift": {"zh": "水平突变", "en": "sudden level shift"},
    "repeated_values": {"zh": "连续多月数字完全相同", "en": "figures repeated verbatim"},
    "last_digit": {"zh": "末位数字分布异常", "en": "last-digit preference"},
    "round_numbers": {"zh": "计数末位为0或5过多", "en": "excess of counts ending in 0 or 5"},
    "round_percent": {"zh": "整数百分比过多", "en": "excess of round percentages"},
}
"""Check id → plain-language name (zh, en)."""

DISCLAIMER: dict[str, str] = {
    "zh": (
        "以下标记是需要核查的线索,不是造假的结论。统计异常也可能来自真实的工作改进、辖区或口径变化、"
        "本来就固定的分母等正当原因。请对被标记单位的原始台账和业务系统记录做第三方校验(R16),"
        "核实之前不得据此扣分或问责。"
    ),
    "en": (
        "These flags are leads for verification, not verdicts. A statistical anomaly can also "
        "come from a genuine improvement, a change of jurisdiction or definitions, or a "
        "denominator that is legitimately constant. Verify the flagged units' source records "
        "with a third-party check (R16) before any score or accountability consequence."
    ),
}
"""The statement every output of this module carries."""

TEST_COLUMNS: list[str] = [
    "unit_id",
    "indicator",
    "check",
    "statistic",
    "p_value",
    "n",
    "observed",
    "expected",
    "evidence_zh",
    "evidence_en",
]
"""Columns returned by each ``*_checks`` function (one row per unit × indicator × check)."""

_EPS = 1e-9
_RATE_WINDOW = 0.02
_MIN_RHO_N = 2.0


# ============================================================================ data preparation
def select_months(
    observations: pd.DataFrame,
    period: str | None = None,
    *,
    history_months: int | None = None,
) -> pd.DataFrame:
    """Rows of ``observations`` in ``period`` (all rows when ``period`` is None).

    Parameters
    ----------
    observations
        Long observations with a ``period`` column of months (``YYYY-MM``).
    period
        A month, quarter or year (``2025-04``, ``2025Q2``, ``2025``).
    history_months
        When given, the ``history_months`` months ending with the last month of
        ``period`` instead of the months of ``period`` itself — gaming checks need a
        series of months, while an evaluation period may be one quarter.
    """
    if period is None:
        return observations.copy()
    months = months_in(parse_period(period))
    if history_months is not None:
        if history_months < 1:
            raise OptionError(f"history_months must be at least 1, got {history_months}")
        last = months[-1]
        months = [last - i for i in range(history_months - 1, -1, -1)]
    wanted = {str(m) for m in months}
    return observations.loc[np.isin(month_labels(observations["period"]), list(wanted))].copy()


@dataclass(frozen=True)
class _Series:
    """One unit × indicator monthly series as arrays (in month order)."""

    unit: str
    indicator: str
    kind: str
    period: np.ndarray
    value: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    counts: bool

    def __len__(self) -> int:
        return len(self.period)


def _series(monthly: pd.DataFrame) -> Iterable[_Series]:
    """Iterate over the unit × indicator series of a :func:`~perfmodel.rollup.monthly_values` frame."""
    if monthly.empty:
        return
    frame = monthly.sort_values(["unit_id", "indicator", "period"], kind="stable")
    unit = frame["unit_id"].to_numpy(dtype=object)
    indicator = frame["indicator"].to_numpy(dtype=object)
    arrays = {c: frame[c].to_numpy() for c in ("kind", "period", "value", "numerator", "denominator", "has_counts")}
    change = np.flatnonzero((unit[1:] != unit[:-1]) | (indicator[1:] != indicator[:-1])) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(unit)]])
    for a, b in zip(starts, ends, strict=True):
        yield _Series(
            str(unit[a]),
            str(indicator[a]),
            str(arrays["kind"][a]),
            arrays["period"][a:b].astype(str),
            arrays["value"][a:b].astype(float),
            arrays["numerator"][a:b].astype(float),
            arrays["denominator"][a:b].astype(float),
            bool(arrays["has_counts"][a:b].all()),
        )


def _row(
    unit: str,
    indicator: str,
    check: str,
    statistic: float,
    p_value: float,
    n: int,
    observed: float,
    expected: float,
    zh: str,
    en: str,
) -> dict[str, Any]:
    return dict(
        zip(
            TEST_COLUMNS,
            (
                unit,
                indicator,
                check,
                float(statistic),
                float(min(max(p_value, 0.0), 1.0)),
                int(n),
                float(observed),
                float(expected),
                zh,
                en,
            ),
            strict=True,
        )
    )


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def _fmt(value: float, kind: str) -> str:
    if not np.isfinite(value):
        return "–"
    if kind == "rate":
        return f"{value:.1%}"
    return f"{value:.3g}"


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"
