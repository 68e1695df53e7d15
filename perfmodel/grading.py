"""Grades (优秀/良好/合格/不合格), ranks and rank changes (R12).

Grades are given by score cut-offs or by quotas within peer groups. Ranks are
descending (1 = best) and ties share the best rank among them ("min" ranking, as
in competition rankings and COINr). Units without a finite score (missing,
``inf``, ``-inf`` or NaN) are neither ranked nor graded, never placed last.

Ties are exact: two scores tie when the computed numbers are equal, not when
they print the same. Quota grading never gives a grade to more units than its
quota (:func:`quota_capacities`); units still tied at a boundary after the
framework's tie-break chain (``grading.tie_break``, see :data:`TIE_BREAKS`)
take the lower grade (:func:`quota_grading`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perfmodel.framework import GRADES, FrameworkError
from perfmodel.groups import ALL_UNITS

__all__ = [
    "NOT_GRADED",
    "TIE_BREAKS",
    "DEFAULT_TIE_BREAK",
    "rank_scores",
    "finite_scores",
    "grade_by_cutoffs",
    "grade_by_quota",
    "quota_capacities",
    "quota_grading",
    "QuotaGrades",
    "tie_break_keys",
    "cap_grades",
    "worse_grade",
]

NOT_GRADED = "未评定"
"""Grade of a unit that could not be scored (for example too little data)."""

TIE_BREAKS: dict[str, str] = {
    "heaviest_dimension": "the higher score on the heaviest top-level node of the tree "
    "(the first in tree order when weights tie)",
    "fewer_negative_hits": "fewer negative-list hits (the sum of the counts of every negative-list item)",
    "dimension:<id>": "the higher score on the named dimension (any node of the tree but an indicator below it)",
}
"""Keys allowed in ``grading.tie_break``, applied in the order given, with what each prefers."""

DEFAULT_TIE_BREAK: tuple[str, ...] = ("heaviest_dimension", "fewer_negative_hits")
"""The chain used when a framework does not declare ``grading.tie_break``."""

_ORDER = {grade: i for i, grade in enumerate(GRADES)}


def _groups(scores: pd.Series, groups: pd.Series | None) -> pd.Series:
    if groups is None:
        return pd.Series(ALL_UNITS, index=scores.index)
    return groups.reindex(scores.index).astype(object).where(lambda g: g.notna(), "(none)")


def finite_scores(scores: pd.Series) -> pd.Series:
    """``scores`` as floats with every non-finite value (``inf``, ``-inf``, NaN) set to NaN.

    Examples
    --------
    >>> finite_scores(pd.Series([1.0, float("inf"), -float("inf")])).tolist()
    [1.0, nan, nan]
    """
    values = pd.to_numeric(scores, errors="coerce").astype(float)
    return values.where(np.isfinite(values))


def rank_scores(scores: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """Descending ranks (1 = best) within groups; tied scores share the best (min) rank.

    Ties are exact equality of the scores. The rank after a tie skips the tied
    places (competition ranking: 1, 2, 2, 4). Missing and non-finite scores get
    no rank (NaN).

    Examples
    --------
    >>> import numpy as np
    >>> rank_scores(pd.Series([70.0, 90.0, 70.0, np.nan, -np.inf])).tolist()
    [2.0, 1.0, 2.0, nan, nan]
    """
    keys = _groups(scores, groups)
    return finite_scores(scores).groupby(keys).rank(method="min", ascending=False)


def grade_by_cutoffs(scores: pd.Series, cutoffs: Mapping[str, float]) -> pd.Series:
    """Grade each score by the first cut-off it reaches (score ≥ cut-off).

    Missing and non-finite scores are :data:`NOT_GRADED`.

    Examples
    --------
    >>> grade_by_cutoffs(pd.Series([90, 80, 60, 59.9]), {"优秀": 85, "良好": 75, "合格": 60}).tolist()
    ['优秀', '良好', '合格', '不合格']
    """
    finite = finite_scores(scores)
    grades = pd.Series(GRADES[-1], index=scores.index, dtype=object)
    for grade in reversed(GRADES[:-1]):
        if grade in cutoffs:
            grades[finite >= cutoffs[grade]] = grade
    grades[finite.isna()] = NOT_GRADED
    return grades


def _round_half_up(x: float) -> int:
    # quotas are decimal numbers: 0.15 * 30 must be 4.5 (up to 5), whatever the binary rounding
    return math.floor(round(x, 9) + 0.5)


def quota_capacities(quotas: Mapping[str, float], n: int) -> dict[str, int]:
    """How many of ``n`` graded units each quota grade may hold at most.

    The cumulative limits ``L₁ = round(q₁·n)``, ``L₂ = round((q₁+q₂)·n)``,
    ``L₃ = round((q₁+q₂+q₃)·n)`` are rounded half up, and each grade holds the
    difference of consecutive limits, so the capacities add up to the rounded
    cumulative shares. 不合格 has no quota: it takes the rest.

    Examples
    --------
    >>> quota_capacities({"优秀": 0.15, "良好": 0.35, "合格": 0.40}, 12)
    {'优秀': 2, '良好': 4, '合格': 5}
    """
    capacities: dict[str, int] = {}
    cumulative, previous = 0.0, 0
    for grade in GRADES[:-1]:
        cumulative += quotas.get(grade, 0.0)
        limit = min(n, _round_half_up(cumulative * n))
        capacities[grade] = max(0, limit - previous)
        previous = max(previous, limit)
    return capacities


@dataclass(frozen=True)
class QuotaGrades:
    """Quota grades and what the tie rules did.

    Attributes
    ----------
    grades
        One grade per unit (:data:`NOT_GRADED` for missing or non-finite scores).
    tie_broken
        Units tied on score with a unit of another grade: the tie-break chain
        decided between them.
    tie_lowered
        Units still tied after the whole chain at a quota boundary, which took
        the lower grade because the better one had too few places left for all
        of them.
    """

    grades: pd.Series
    tie_broken: pd.Series
    tie_lowered: pd.Series


def quota_grading(
    scores: pd.Series,
    quotas: Mapping[str, float],
    groups: pd.Series | None = None,
    tie_keys: pd.DataFrame | None = None,
) -> QuotaGrades:
    """Grade by quota within each group; no grade ever holds more units than its quota.

    In each group the ``n`` units with a finite score are ordered by score, then
    by the columns of ``tie_keys`` in turn (higher is better; missing key values
    count as worst). Units equal on the score and every key form a tie class.
    Classes are placed best first into the best grade that still has room for
    the whole class (:func:`quota_capacities`); a class larger than the places
    left in a grade takes the next grade (units still tied take the lower grade),
    and the places it did not use stay empty, since giving them to a worse unit
    would rank it above a better one. 不合格 takes the rest.

    Parameters
    ----------
    scores
        Final scores; missing and non-finite ones are not graded.
    quotas
        Share of each of 优秀, 良好, 合格 (the rest is 不合格).
    groups
        Group of each unit (quotas apply within groups), or ``None`` for one group.
    tie_keys
        Tie-break keys, index like ``scores``, oriented so that higher is better,
        in the order they apply (:func:`tie_break_keys` builds them from a framework).

    Examples
    --------
    Of 12 units 2 may be 优秀, 4 良好 and 5 合格. Three units tie for 优秀: all
    three take 良好, and one place of 良好 is left for the next unit.

    >>> s = pd.Series([9.0, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    >>> r = quota_grading(s, {"优秀": 0.15, "良好": 0.35, "合格": 0.40})
    >>> r.grades.tolist()[:6]
    ['良好', '良好', '良好', '良好', '合格', '合格']
    >>> r.grades.value_counts().to_dict()
    {'合格': 5, '良好': 4, '不合格': 3}
    >>> int(r.tie_lowered.sum())
    3
    """
    finite = finite_scores(scores)
    keys = _groups(scores, groups)
    tie_keys = pd.DataFrame(index=scores.index) if tie_keys is None else tie_keys.reindex(scores.index)
    grades = pd.Series(NOT_GRADED, index=scores.index, dtype=object)
    tie_broken = pd.Series(False, index=scores.index)
    tie_lowered = pd.Series(False, index=scores.index)
    # every column oriented so that a larger value is better and missing is worst
    columns = ["_score", *[f"_key{i}" for i in range(tie_keys.shape[1])]]
    order = pd.DataFrame(
        np.column_stack([finite.to_numpy(), tie_keys.to_numpy(dtype=float)]) if len(tie_keys.columns)
        else finite.to_numpy()[:, None],
        index=scores.index,
        columns=columns,
    )
    order = order.where(np.isfinite(order), -np.inf)
    for _, members in order[finite.notna()].groupby(keys[finite.notna()], sort=False):
        capacity = quota_capacities(quotas, len(members))
        ranked = members.sort_values(columns, ascending=False, kind="mergesort")
        position, room = 0, dict(capacity)
        # groups in order of first appearance in the sorted frame: best class first
        for _, tied in ranked.groupby(columns, sort=False):
            size = len(tied)
            while position < len(GRADES) - 1 and room[GRADES[position]] < size:
                if 0 < room[GRADES[position]]:
                    tie_lowered[tied.index] = True
                position += 1
            grade = GRADES[position]
            if position < len(GRADES) - 1:
                room[grade] -= size
            grades[tied.index] = grade
        same_score = ranked.groupby("_score", sort=False)
        for _, tied in same_score:
            if len(tied) > 1 and grades[tied.index].nunique() > 1:
                tie_broken[tied.index] = True
    return QuotaGrades(grades, tie_broken & ~tie_lowered, tie_lowered)


def grade_by_quota(
    scores: pd.Series,
    quotas: Mapping[str, float],
    groups: pd.Series | None = None,
    tie_keys: pd.DataFrame | None = None,
) -> pd.Series:
    """Grade by quota within each group: the grades of :func:`quota_grading`.

    Examples
    --------
    >>> s = pd.Series([95.0, 90, 80, 70, 60, 50, 40, 30, 20, 10])
    >>> grade_by_quota(s, {"优秀": 0.2, "良好": 0.3, "合格": 0.3}).tolist()
    ['优秀', '优秀', '良好', '良好', '良好', '合格', '合格', '合格', '不合格', '不合格']
    """
    return quota_grading(scores, quotas, groups, tie_keys).grades


def tie_break_keys(
    chain: Sequence[str],
    aggregated: pd.DataFrame,
    top_level: Mapping[str, float],
    negative_hits: pd.Series,
) -> pd.DataFrame:
    """The tie-break keys of ``grading.tie_break``, one column each, higher is better.

    Parameters
    ----------
    chain
        Keys from :data:`TIE_BREAKS`, in order.
    aggregated
        Node scores per unit (:func:`perfmodel.aggregate.aggregate_tree`).
    top_level
        Top-level node id → weight, in tree order.
    negative_hits
        Negative-list hits per unit (summed counts).

    Raises
    ------
    FrameworkError
        When ``dimension:<id>`` names no node of the tree.
    """
    out = pd.DataFrame(index=aggregated.index)
    for key in chain:
        if key == "heaviest_dimension":
            heaviest = max(top_level, key=lambda node: top_level[node])  # first of equal weights
            out[key] = aggregated[heaviest]
        elif key == "fewer_negative_hits":
            out[key] = -negative_hits.reindex(aggregated.index).fillna(0.0)
        else:
            node = key.removeprefix("dimension:")
            if node not in aggregated.columns or node in ("score", "availability"):
                known = [c for c in aggregated.columns if c not in ("score", "availability")]
                raise FrameworkError(
                    f"grading.tie_break: {key!r} names no dimension of the tree; "
                    f"use dimension:<id> with one of {', '.join(known)}"
                )
            out[key] = aggregated[node]
    return out


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
