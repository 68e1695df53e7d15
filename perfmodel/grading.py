"""Grades (优秀/良好/合格/不合格), ranks and rank changes (R12).

Grades are given by score cut-offs or by quotas within peer groups. Ranks are
descending (1 = best) and ties share the best rank among them ("min" ranking, as
in competition rankings and COINr). Units without a finite score (missing,
``inf``, ``-inf`` or NaN) are neither ranked nor graded, never placed last.

Ties are exact: two scores tie when the computed numbers are equal, not when
they print the same. Quota grading never gives a grade to more units than its
quota (:func:`quota_capacities`); units still tied at a boundary after the
framework's tie-break chain (``grading.tie_break``, see :data:`TIE_BREAKS`)
take the lower grade (:func:`quota_grade_draws`).

One implementation, two shapes
------------------------------
The rules live in the array functions, which take (draws × units) scores and
return grade *codes* (indices into :data:`GRADE_CODES`): :func:`rank_draws`,
:func:`cutoff_grade_draws`, :func:`quota_grade_draws`,
:func:`tie_break_key_draws` and :func:`cap_grade_codes`.
:class:`~perfmodel.evaluation.Evaluation` uses them with one draw (through
:mod:`perfmodel.scoring`), the uncertainty analysis with thousands. The pandas
functions (:func:`rank_scores`, :func:`grade_by_cutoffs`, :func:`quota_grading`,
:func:`tie_break_keys`, :func:`cap_grades`) are wrappers for one draw with labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError
from perfmodel.framework import GRADES, FrameworkError

__all__ = [
    "NOT_GRADED",
    "GRADE_CODES",
    "NO_CAP",
    "TIE_BREAKS",
    "DEFAULT_TIE_BREAK",
    "group_indices",
    "rank_draws",
    "cutoff_grade_draws",
    "quota_grade_draws",
    "QuotaDraws",
    "tie_break_key_draws",
    "cap_grade_codes",
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

GRADE_CODES: tuple[str, ...] = (*GRADES, NOT_GRADED)
"""Grade codes of the array functions: 0 优秀, 1 良好, 2 合格, 3 不合格, 4 :data:`NOT_GRADED`."""

_NOT_GRADED_CODE = len(GRADES)
_FAIL_CODE = len(GRADES) - 1

NO_CAP = -1
"""Grade-cap code of a unit without a cap (:func:`cap_grade_codes`)."""

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

TieKeys = np.ndarray | Callable[[np.ndarray], np.ndarray] | None
"""Tie-break keys of :func:`quota_grade_draws`: a (keys × draws × units) array, or a
function of draw indices returning that array for those draws only (computed only
for draws with tied scores), or ``None``."""


# ====================================================================== arrays
def group_indices(labels: pd.Series | Sequence[object] | None, n: int | None = None) -> list[np.ndarray]:
    """Column positions of each group, in order of first appearance.

    Parameters
    ----------
    labels
        One group label per unit; missing labels form one group ``"(none)"``.
        ``None``: one group of ``n`` units.
    n
        Number of units when ``labels`` is ``None``.
    """
    if labels is None:
        if n is None:
            raise OptionError("give labels or the number of units n")
        return [np.arange(n)]
    series = pd.Series(labels).astype(object)
    keys = series.where(series.notna(), "(none)").to_numpy()
    codes, _ = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, bounds) if len(order) else []


def _finite(score: np.ndarray) -> np.ndarray:
    """``score`` as float with ``inf`` and ``-inf`` set to NaN (no copy when there are none)."""
    score = np.asarray(score, dtype=float)
    return np.where(np.isinf(score), np.nan, score) if np.isinf(score).any() else score


def _min_ranks(score: np.ndarray) -> np.ndarray:
    """Descending "min" ranks along the last axis; NaN scores get NaN."""
    negative = -score
    order = np.argsort(negative, axis=-1)  # NaN sorts last
    ordered = np.take_along_axis(negative, order, axis=-1)
    new = np.empty(ordered.shape, dtype=bool)
    new[..., :1] = True
    np.not_equal(ordered[..., 1:], ordered[..., :-1], out=new[..., 1:])
    place = np.arange(1, score.shape[-1] + 1, dtype=np.float64)
    ranks = np.maximum.accumulate(np.where(new, place, 0.0), axis=-1)
    ranks[np.isnan(ordered)] = np.nan
    out = np.empty_like(ranks)
    np.put_along_axis(out, order, ranks, axis=-1)
    return out


def rank_draws(score: np.ndarray, groups: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Descending ranks (1 = best) within groups; tied scores share the best (min) rank.

    Parameters
    ----------
    score
        (draws × units) scores; non-finite ones get no rank (NaN).
    groups
        Column positions of each group (:func:`group_indices`); ``None`` for one group.

    Returns
    -------
    numpy.ndarray
        (draws × units) float64 ranks.

    Examples
    --------
    >>> rank_draws(np.array([[70.0, 90.0, 70.0, np.nan, -np.inf]])).tolist()
    [[2.0, 1.0, 2.0, nan, nan]]
    """
    score = _finite(np.atleast_2d(score))
    if groups is None:
        return _min_ranks(score)
    ranks = np.full(score.shape, np.nan)
    for idx in groups:
        if len(idx):
            ranks[:, idx] = _min_ranks(score[:, idx])
    return ranks


def cutoff_grade_draws(score: np.ndarray, cutoffs: Mapping[str, float]) -> np.ndarray:
    """Grade codes by the first cut-off each score reaches (score ≥ cut-off).

    Non-finite scores get the code of :data:`NOT_GRADED`.

    Examples
    --------
    >>> cutoff_grade_draws(np.array([[90, 80, 60, 59.9, np.nan]]), {"优秀": 85, "良好": 75, "合格": 60})
    array([[0, 1, 2, 3, 4]], dtype=int8)
    """
    score = _finite(np.atleast_2d(score))
    codes = np.full(score.shape, _FAIL_CODE, dtype=np.int8)
    for code in reversed(range(len(GRADES) - 1)):
        grade = GRADES[code]
        if grade in cutoffs:
            codes[score >= cutoffs[grade]] = code
    codes[np.isnan(score)] = _NOT_GRADED_CODE
    return codes


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


def _capacity_rows(quotas: Mapping[str, float], n: np.ndarray) -> np.ndarray:
    """(draws × 3) capacities of 优秀, 良好, 合格 for the graded count ``n`` of each draw."""
    out = np.zeros((len(n), len(GRADES) - 1), dtype=np.int64)
    for size in np.unique(n):
        out[n == size] = list(quota_capacities(quotas, int(size)).values())
    return out


@dataclass(frozen=True)
class QuotaDraws:
    """Quota grade codes and what the tie rules did, (draws × units) each.

    Attributes
    ----------
    codes
        Grade codes (indices into :data:`GRADE_CODES`), int8.
    tie_broken
        Units tied on score with a unit of another grade: the tie-break chain
        decided between them.
    tie_lowered
        Units still tied after the whole chain at a quota boundary, which took
        the lower grade because the better one had too few places left for all
        of them.
    """

    codes: np.ndarray
    tie_broken: np.ndarray
    tie_lowered: np.ndarray


def quota_grade_draws(
    score: np.ndarray,
    quotas: Mapping[str, float],
    groups: Sequence[np.ndarray] | None = None,
    tie_keys: TieKeys = None,
    *,
    ranks: np.ndarray | None = None,
) -> QuotaDraws:
    """Grade by quota within each group; no grade ever holds more units than its quota.

    In each group and draw the ``n`` units with a finite score are ordered by
    score, then by the tie-break keys in turn (higher is better; missing or
    non-finite key values count as worst). Units equal on the score and every
    key form a tie class. Classes are placed best first into the best grade that
    still has room for the whole class (:func:`quota_capacities`); a class
    larger than the places left in a grade takes the next grade (units still
    tied take the lower grade, ``tie_lowered`` when the grade had places left),
    and the places it did not use stay empty, since giving them to a worse unit
    would rank it above a better one. 不合格 takes the rest.

    Parameters
    ----------
    score
        (draws × units) final scores; non-finite ones are not graded.
    quotas
        Share of each of 优秀, 良好, 合格 (the rest is 不合格).
    groups
        Column positions of each group (:func:`group_indices`); ``None`` for one group.
    tie_keys
        Tie-break keys oriented so that higher is better, in the order they apply
        (:func:`tie_break_key_draws`): a (keys × draws × units) array, or a
        function of draw indices returning the keys of those draws. They are
        read only for draws in which some scores of a group are equal.
    ranks
        :func:`rank_draws` of ``score`` within ``groups``, when already computed.

    Returns
    -------
    QuotaDraws

    Notes
    -----
    Without tied scores a unit of rank ``r`` (among ``n``) is in grade ``k``
    when ``L_(k-1) < r ≤ L_k`` (cumulative limits); draws with ties are sorted
    with their keys and the class boundaries placed by the rule above, all
    draws at once.
    """
    score = _finite(np.atleast_2d(score))
    n_draws, n_units = score.shape
    groups = list(groups) if groups is not None else [np.arange(n_units)]
    ranks = rank_draws(score, groups) if ranks is None else np.asarray(ranks, dtype=float)
    codes = np.full(score.shape, _NOT_GRADED_CODE, dtype=np.int8)
    tie_broken = np.zeros(score.shape, dtype=bool)
    tie_lowered = np.zeros(score.shape, dtype=bool)
    tied_by_group = []
    for idx in groups:
        r = ranks[:, idx]
        n = (~np.isnan(r)).sum(axis=1)
        limits = np.cumsum(_capacity_rows(quotas, n), axis=1)  # (draws × 3) cumulative limits
        block = np.zeros(r.shape, dtype=np.int8)
        for k in range(limits.shape[1]):
            block += r > limits[:, [k]]
        block[np.isnan(r)] = _NOT_GRADED_CODE
        codes[:, idx] = block
        # min ranks of n units sum to n(n+1)/2 exactly when no two are equal
        tied = np.nansum(r, axis=1) < n * (n + 1) / 2
        tied_by_group.append(np.flatnonzero(tied))
    rows = np.unique(np.concatenate(tied_by_group)) if tied_by_group else np.array([], dtype=int)
    if not len(rows):
        return QuotaDraws(codes, tie_broken, tie_lowered)
    if callable(tie_keys):
        keys = np.asarray(tie_keys(rows), dtype=float)
    elif tie_keys is not None:
        keys = np.asarray(tie_keys, dtype=float)[:, rows]
    else:
        keys = np.empty((0, len(rows), n_units))
    position = np.full(n_draws, -1)
    position[rows] = np.arange(len(rows))
    for idx, tied in zip(groups, tied_by_group, strict=True):
        if len(tied):
            at = position[tied]
            c, b, low = _quota_with_ties(score[np.ix_(tied, idx)], keys[:, at][:, :, idx], quotas)
            codes[np.ix_(tied, idx)], tie_broken[np.ix_(tied, idx)], tie_lowered[np.ix_(tied, idx)] = c, b, low
    return QuotaDraws(codes, tie_broken, tie_lowered)


def _quota_with_ties(
    score: np.ndarray, keys: np.ndarray, quotas: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quota grades of one group in draws with tied scores (see :func:`quota_grade_draws`)."""
    t, m = score.shape
    finite = ~np.isnan(score)
    n = finite.sum(axis=1)
    # sort keys, primary last: larger is better, so sort the negatives; non-finite is worst (+inf)
    neg = [np.where(finite, -score, np.inf)]
    neg += [np.where(np.isfinite(k) & finite, -k, np.inf) for k in keys]
    order = np.lexsort(tuple(reversed(neg)), axis=-1)
    ordered = [np.take_along_axis(a, order, axis=1) for a in neg]
    pos = np.broadcast_to(np.arange(m), (t, m))
    new_score = np.ones((t, m), dtype=bool)
    new_score[:, 1:] = ordered[0][:, 1:] != ordered[0][:, :-1]
    new_class = new_score.copy()
    for a in ordered[1:]:
        new_class[:, 1:] |= a[:, 1:] != a[:, :-1]
    class_start = np.maximum.accumulate(np.where(new_class, pos, 0), axis=1)
    capacity = _capacity_rows(quotas, n)
    rows = np.arange(t)
    # B_k: sorted position where grade k starts. Grade k takes whole classes from B_k while they
    # fit its capacity; the class holding position B_k + capacity_k is the first that does not.
    start = np.zeros(t, dtype=np.int64)
    grade = np.zeros((t, m), dtype=np.int8)
    lowered = np.zeros((t, m), dtype=bool)
    for k in range(len(GRADES) - 1):
        reach = start + capacity[:, k]
        inside = reach < n
        nxt = np.where(inside, class_start[rows, np.minimum(reach, m - 1)], n)
        room = capacity[:, k] - (nxt - start)
        lowered |= (inside & (room > 0))[:, None] & (class_start == nxt[:, None])
        grade += pos >= nxt[:, None]
        start = nxt
    graded = pos < n[:, None]
    grade = np.where(graded, grade, _NOT_GRADED_CODE).astype(np.int8)
    # grades never improve along the sorted order, so a run of equal scores spans several
    # grades exactly when its first and last members differ
    score_start = np.maximum.accumulate(np.where(new_score, pos, 0), axis=1)
    new_end = np.ones((t, m), dtype=bool)
    new_end[:, :-1] = new_score[:, 1:]
    score_end = np.minimum.accumulate(np.where(new_end, pos, m - 1)[:, ::-1], axis=1)[:, ::-1]
    first = np.take_along_axis(grade, score_start, axis=1)
    last = np.take_along_axis(grade, score_end, axis=1)
    broken = graded & (first != last) & ~lowered
    lowered &= graded
    out = [np.empty((t, m), dtype=a.dtype) for a in (grade, broken, lowered)]
    for target, sorted_values in zip(out, (grade, broken, lowered), strict=True):
        np.put_along_axis(target, order, sorted_values, axis=1)
    return out[0], out[1], out[2]


def tie_break_key_draws(
    chain: Sequence[str],
    nodes: Mapping[str, np.ndarray],
    top_weights: Mapping[str, np.ndarray],
    negative_hits: np.ndarray,
) -> np.ndarray:
    """The tie-break keys of ``grading.tie_break`` for some draws, higher is better.

    Parameters
    ----------
    chain
        Keys from :data:`TIE_BREAKS`, in order.
    nodes
        Node id → (draws × units) node scores (:func:`perfmodel.aggregate.aggregate_nodes`;
        ``score`` and ``availability`` are not nodes).
    top_weights
        Top-level node id → (draws,) weight, in tree order: ``heaviest_dimension``
        takes, in each draw, the first node of the largest weight.
    negative_hits
        (units,) negative-list hits per unit (summed counts).

    Returns
    -------
    numpy.ndarray
        (keys × draws × units).

    Raises
    ------
    FrameworkError
        When ``dimension:<id>`` names no node of the tree.
    """
    tree_nodes = [n for n in nodes if n not in ("score", "availability")]
    shape = np.broadcast_shapes(*(np.shape(v) for v in nodes.values())) if nodes else (1, len(negative_hits))
    out = []
    for key in chain:
        if key == "heaviest_dimension":
            ids = list(top_weights)
            weights = np.column_stack([np.broadcast_to(top_weights[i], (shape[0],)) for i in ids])
            heaviest = weights.argmax(axis=1)  # the first of equal weights
            stacked = np.stack([np.broadcast_to(nodes[i], shape) for i in ids])
            out.append(stacked[heaviest, np.arange(shape[0])])
        elif key == "fewer_negative_hits":
            hits = np.where(np.isnan(negative_hits), 0.0, negative_hits)
            out.append(np.broadcast_to(-hits, shape))
        else:
            node = key.removeprefix("dimension:")
            if node not in tree_nodes:
                raise FrameworkError(
                    f"grading.tie_break: {key!r} names no dimension of the tree; "
                    f"use dimension:<id> with one of {', '.join(tree_nodes)}"
                )
            out.append(np.broadcast_to(nodes[node], shape))
    return np.stack(out).astype(float) if out else np.empty((0, *shape))


def cap_grade_codes(codes: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Limit each grade code to its cap (the code of the best grade allowed, :data:`NO_CAP` for none).

    :data:`NOT_GRADED` stays as it is.

    Examples
    --------
    >>> cap_grade_codes(np.array([[0, 3, 1, 4]]), np.array([2, 2, NO_CAP, 2])).tolist()
    [[2, 3, 1, 4]]
    """
    codes = np.asarray(codes)
    return np.where(codes < _NOT_GRADED_CODE, np.maximum(codes, caps), codes).astype(codes.dtype)


# ====================================================================== pandas wrappers (one draw, labels)
def _labels(codes: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(np.asarray(GRADE_CODES, dtype=object)[codes], index=index, dtype=object)


def _group_positions(scores: pd.Series, groups: pd.Series | None) -> list[np.ndarray]:
    if groups is None:
        return group_indices(None, len(scores))
    return group_indices(groups.reindex(scores.index))


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
    no rank (NaN). One draw of :func:`rank_draws`.

    Examples
    --------
    >>> import numpy as np
    >>> rank_scores(pd.Series([70.0, 90.0, 70.0, np.nan, -np.inf])).tolist()
    [2.0, 1.0, 2.0, nan, nan]
    """
    values = finite_scores(scores).to_numpy()[None, :]
    return pd.Series(rank_draws(values, _group_positions(scores, groups))[0], index=scores.index)


def grade_by_cutoffs(scores: pd.Series, cutoffs: Mapping[str, float]) -> pd.Series:
    """Grade each score by the first cut-off it reaches (score ≥ cut-off).

    Missing and non-finite scores are :data:`NOT_GRADED`. One draw of :func:`cutoff_grade_draws`.

    Examples
    --------
    >>> grade_by_cutoffs(pd.Series([90, 80, 60, 59.9]), {"优秀": 85, "良好": 75, "合格": 60}).tolist()
    ['优秀', '良好', '合格', '不合格']
    """
    values = finite_scores(scores).to_numpy()[None, :]
    return _labels(cutoff_grade_draws(values, cutoffs)[0], scores.index)


@dataclass(frozen=True)
class QuotaGrades:
    """Quota grades and what the tie rules did (one draw of :class:`QuotaDraws`, with labels).

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
    """Grade by quota within each group: one draw of :func:`quota_grade_draws`, with labels.

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
    values = finite_scores(scores).to_numpy()[None, :]
    keys = None
    if tie_keys is not None:
        keys = tie_keys.reindex(scores.index).to_numpy(dtype=float).T[:, None, :]
    result = quota_grade_draws(values, quotas, _group_positions(scores, groups), keys)
    index = scores.index
    return QuotaGrades(
        _labels(result.codes[0], index),
        pd.Series(result.tie_broken[0], index=index),
        pd.Series(result.tie_lowered[0], index=index),
    )


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

    One draw of :func:`tie_break_key_draws`, as a frame.

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
    nodes = {c: aggregated[c].to_numpy(dtype=float)[None, :] for c in aggregated.columns}
    weights = {node: np.array([w], dtype=float) for node, w in top_level.items()}
    hits = negative_hits.reindex(aggregated.index).fillna(0.0).to_numpy(dtype=float)
    keys = tie_break_key_draws(chain, nodes, weights, hits)
    return pd.DataFrame({key: keys[k, 0] for k, key in enumerate(chain)}, index=aggregated.index)


def worse_grade(a: str, b: str | None) -> str:
    """The worse of two grades (``None`` or a non-grade leaves ``a``)."""
    if b is None or b not in _ORDER or a not in _ORDER:
        return a
    return a if _ORDER[a] >= _ORDER[b] else b


def cap_grades(grades: pd.Series, caps: pd.Series) -> pd.Series:
    """Limit each grade to its cap (``caps``: best grade allowed, or missing for none).

    One draw of :func:`cap_grade_codes`; labels that are not grades are left as they are.

    Examples
    --------
    >>> cap_grades(pd.Series(["优秀", "不合格", "良好"]), pd.Series(["合格", "合格", None])).tolist()
    ['合格', '不合格', '良好']
    """
    caps = caps.reindex(grades.index)
    codes = np.array(
        [_ORDER.get(g, _NOT_GRADED_CODE) if isinstance(g, str) else _NOT_GRADED_CODE for g in grades], dtype=np.int8
    )
    limits = np.array([_ORDER.get(c, NO_CAP) if isinstance(c, str) else NO_CAP for c in caps], dtype=np.int8)
    capped = _labels(cap_grade_codes(codes[None, :], limits)[0], grades.index)
    return capped.where(codes < _NOT_GRADED_CODE, grades).astype(object)
