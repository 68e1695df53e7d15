"""Grades (优秀/良好/合格/不合格), ranks and rank changes (R12).

Grades are given by score cut-offs or by quotas within peer groups. Ranks are
descending (1 = best) and ties share the best rank among them ("min" ranking, as
in competition rankings and COINr). Units without a score are ranked and graded
as missing, never as last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from perfmodel.framework import GRADES

__all__ = [
    "NOT_GRADED",
    "rank_scores",
    "grade_by_cutoffs",
    "grade_by_quota",
    "cap_grades",
    "worse_grade",
]

NOT_GRADED = "未评定"
"""Grade of a unit that could not be scored (for example too little data)."""

_ORDER = {grade: i for i, grade in enumerate(GRADES)}


def _groups(scores: pd.Series, groups: pd.Series | None) -> pd.Series:
    if groups is None:
        return pd.Series("全部", index=scores.index)
    return groups.reindex(scores.index).astype(object).where(lambda g: g.notna(), "(none)")


def rank_scores(scores: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """Descending ranks (1 = best), ties sharing the lowest rank, within groups.

    Examples
    --------
    >>> import numpy as np
    >>> rank_scores(pd.Series([70.0, 90.0, 70.0, np.nan])).tolist()
    [2.0, 1.0, 2.0, nan]
    """
    keys = _groups(scores, groups)
    return scores.groupby(keys).rank(method="min", ascending=False)


def grade_by_cutoffs(scores: pd.Series, cutoffs: Mapping[str, float]) -> pd.Series:
    """Grade each score by the first cut-off it reaches (score ≥ cut-off).

    Examples
    --------
    >>> grade_by_cutoffs(pd.Series([90, 80, 60, 59.9]), {"优秀": 85, "良好": 75, "合格": 60}).tolist()
    ['优秀', '良好', '合格', '不合格']
    """
    grades = pd.Series(GRADES[-1], index=scores.index, dtype=object)
    for grade in reversed(GRADES[:-1]):
        if grade in cutoffs:
            grades[scores >= cutoffs[grade]] = grade
    grades[scores.isna()] = NOT_GRADED
    return grades


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def grade_by_quota(
    scores: pd.Series, quotas: Mapping[str, float], groups: pd.Series | None = None
) -> pd.Series:
    """Grade by quota within each group: the best ``quotas['优秀']`` share are 优秀, and so on.

    In a group of ``n`` scored units the best ``round(q₁·n)`` ranks are 优秀, the
    next up to ``round((q₁+q₂)·n)`` 良好, then 合格 up to ``round((q₁+q₂+q₃)·n)``,
    the rest 不合格 (halves rounded up). Tied units share the better grade, so a
    tie at a boundary may exceed a quota by the size of the tie.

    Examples
    --------
    >>> s = pd.Series([95.0, 90, 80, 70, 60, 50, 40, 30, 20, 10])
    >>> grade_by_quota(s, {"优秀": 0.2, "良好": 0.3, "合格": 0.3}).tolist()
    ['优秀', '优秀', '良好', '良好', '良好', '合格', '合格', '合格', '不合格', '不合格']
    """
    keys = _groups(scores, groups)
    ranks = rank_scores(scores, keys)
    sizes = scores.notna().groupby(keys).transform("sum")
    grades = pd.Series(GRADES[-1], index=scores.index, dtype=object)
    cumulative = 0.0
    limits = []
    for grade in GRADES[:-1]:
        cumulative += quotas.get(grade, 0.0)
        limits.append((grade, cumulative))
    for grade, share in reversed(limits):
        boundary = sizes.map(lambda n, share=share: _round_half_up(share * n))
        grades[ranks <= boundary] = grade
    grades[scores.isna()] = NOT_GRADED
    return grades


def worse_grade(a: str, b: str | None) -> str:
    """The worse of two grades (``None`` or a non-grade leaves ``a``)."""
    if b is None or b not in _ORDER or a not in _ORDER:
        return a
    return a if _ORDER[a] >= _ORDER[b] else b


def cap_grades(grades: pd.Series, caps: pd.Series) -> pd.Series:
    """Limit each grade to its cap (``caps``: best grade allowed, or missing for none).

    Examples
    --------
    >>> cap_grades(pd.Series(["优秀", "不合格", "良好"]), pd.Series(["合格", "合格", None])).tolist()
    ['合格', '不合格', '良好']
    """
    caps = caps.reindex(grades.index)
    return pd.Series(
        [worse_grade(g, c if isinstance(c, str) else None) for g, c in zip(grades, caps, strict=True)],
        index=grades.index,
        dtype=object,
    )
