"""Reporting periods: months, quarters and years, and the monthly reporting deadline.

Observations are monthly (``YYYY-MM``). Evaluations are run for a month, a quarter
(``2025Q2``) or a year (``2025``); :func:`months_in` lists the months that make up
a period and :func:`previous` steps back one period of the same length.
"""

from __future__ import annotations

import datetime as _dt
import re

import pandas as pd

from perfmodel.errors import PerfmodelError

__all__ = [
    "PeriodError",
    "parse_month",
    "parse_period",
    "months_in",
    "previous",
    "period_label",
    "reporting_deadline",
]

_MONTH_PATTERNS = (
    re.compile(r"^\s*(\d{4})\s*[-/.]\s*(\d{1,2})\s*$"),  # 2025-04, 2025/4, 2025.04
    re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月?\s*$"),  # 2025年4月
    re.compile(r"^\s*(\d{4})(\d{2})\s*$"),  # 202504
    re.compile(r"^\s*(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*\d{1,2}(?:[ T].*)?$"),  # 2025-04-01
)
_QUARTER = re.compile(r"^\s*(\d{4})\s*[-_ ]?\s*[Qq]\s*([1-4])\s*$")
_QUARTER_ZH = re.compile(r"^\s*(\d{4})\s*年\s*第?\s*([1-4一二三四])\s*季度?\s*$")
_YEAR = re.compile(r"^\s*(\d{4})\s*年?\s*$")
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}


class PeriodError(PerfmodelError, ValueError):
    """A period string that cannot be understood."""


def parse_month(value: object) -> pd.Period:
    """Parse one monthly period.

    Accepts ``2025-04``, ``2025/4``, ``2025.04``, ``202504``, ``2025年4月``, a date
    string (``2025-04-01``), a :class:`datetime.date` or a pandas ``Timestamp``.

    Raises
    ------
    PeriodError
        When the value is blank or not a month.

    Examples
    --------
    >>> str(parse_month("2025年4月"))
    '2025-04'
    """
    if isinstance(value, pd.Period):
        return value.asfreq("M")
    if isinstance(value, (_dt.date, pd.Timestamp)):
        return pd.Period(year=value.year, month=value.month, freq="M")
    text = "" if value is None else str(value)
    if text.strip() == "" or text.lower() == "nan":
        raise PeriodError(key="error.period_blank")
    for pattern in _MONTH_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month = int(match.group(1)), int(match.group(2))
            if 1 <= month <= 12:
                return pd.Period(year=year, month=month, freq="M")
            raise PeriodError(key="error.bad_month", values={"text": repr(text), "month": month})
    raise PeriodError(key="error.not_a_month", values={"text": repr(text)})


def parse_period(value: object) -> pd.Period:
    """Parse an evaluation period: a month, a quarter (``2025Q2``, ``2025年第二季度``) or a year.

    Examples
    --------
    >>> str(parse_period("2025Q2")), str(parse_period("2025"))
    ('2025Q2', '2025')
    """
    if isinstance(value, pd.Period):
        return value
    text = str(value)
    match = _QUARTER.match(text) or _QUARTER_ZH.match(text)
    if match:
        quarter = match.group(2)
        number = _ZH_DIGITS.get(quarter) or int(quarter)
        return pd.Period(f"{match.group(1)}Q{number}", freq="Q")
    match = _YEAR.match(text)
    if match:
        return pd.Period(match.group(1), freq="Y")
    try:
        return parse_month(text)
    except PeriodError:
        raise PeriodError(key="error.not_a_period", values={"text": repr(text)}) from None


def months_in(period: pd.Period | str) -> list[pd.Period]:
    """The months that make up ``period``, in order.

    Examples
    --------
    >>> [str(m) for m in months_in("2025Q2")]
    ['2025-04', '2025-05', '2025-06']
    """
    period = parse_period(period)
    start = period.start_time.to_period("M")
    end = period.end_time.to_period("M")
    return list(pd.period_range(start, end, freq="M"))


def previous(period: pd.Period | str, steps: int = 1) -> pd.Period:
    """The period ``steps`` periods before ``period``, of the same frequency."""
    return parse_period(period) - steps


def period_label(period: pd.Period | str) -> str:
    """Canonical text of a period: ``2025-04``, ``2025Q2`` or ``2025``."""
    return str(parse_period(period))


def reporting_deadline(month: pd.Period | str, day: int = 27, month_offset: int = 1) -> pd.Timestamp:
    """The last moment at which a month's data counts as on time.

    By default the data of a month are due by the end of the 27th of the following
    month (the seeds: "业务部门每月27日前上报数据", R11). ``month_offset=0`` makes
    them due within the same month.
    """
    due_month = parse_month(month) + month_offset
    last_day = due_month.days_in_month
    day = min(day, last_day)
    return pd.Timestamp(year=due_month.year, month=due_month.month, day=day) + pd.Timedelta(
        hours=23, minutes=59, seconds=59
    )
