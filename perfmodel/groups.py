"""Peer groups: the all-units label and the natural order of group names.

Common layer (see ``docs/architecture.md``): numpy/pandas-free, importable from
every step, analysis and report without pulling in anything heavier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ALL_UNITS", "GROUP_SEPARATOR", "group_order"]

GROUP_SEPARATOR = " × "
"""Joins attribute names and values of a combined grouping, e.g. ``农村 × 一类``."""

ALL_UNITS = "全部"
"""Peer-group label of every unit when a framework or step has no peer groups."""

_ZH_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def group_order(values: Iterable[object]) -> list[str]:
    """Peer groups in a natural order: 一类, 二类, 三类 …, then the rest alphabetically.

    Parameters
    ----------
    values : iterable
        Group labels, with repeats; each is turned into ``str``.

    Returns
    -------
    list of str
        The distinct labels: ``N类`` by its Chinese numeral first, then labels
        starting with a number by that number, then the rest alphabetically.

    Examples
    --------
    >>> group_order(["三类", "一类", "二类"])
    ['一类', '二类', '三类']
    """

    def key(value: str) -> tuple[int, float, str]:
        match = re.match(r"^([一二三四五六七八九十])类", value)
        if match:
            return (0, _ZH_NUMERALS[match.group(1)], value)
        match = re.match(r"^(\d+)", value)
        if match:
            return (1, float(match.group(1)), value)
        return (2, 0.0, value)

    return sorted({str(v) for v in values}, key=key)
