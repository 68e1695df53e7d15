"""Award quotas (R12): a bureau's award slots apportioned to units by grade.

"Better units get higher quotas": each award kind declared in a framework's
``awards:`` block (:class:`perfmodel.framework.Award`) has a total number of
slots and a multiplier per grade. Every unit gets a weight,

- collective awards (集体嘉奖, one per station): ``weight = multiplier``;
- individual awards (个人三等功/嘉奖, per officer): ``weight = multiplier × headcount``
  (the units table's :data:`HEADCOUNT_COLUMN` column), or ``multiplier`` when
  no headcount is given (officer-level units: one officer each),

and the slots are apportioned in proportion to the weights by a named method
(:func:`apportion`): Hamilton's largest remainder (default) or D'Hondt's highest
averages. Both give exactly the declared total, units of weight 0 get nothing,
and a larger weight never gets fewer slots, so with the same headcount a unit of
a better grade never gets fewer slots than one of a worse grade.

Units last in their peer group in two consecutive years get the flag
:data:`LEADERSHIP_REVIEW` (领导班子约谈/调整) beside their allocation
(:func:`leadership_review`, the rule of
:func:`perfmodel.monitor.warnings.last_place_flags`).

Layer 6 (analyses, see ``docs/architecture.md``): works on numbers and score
frames; reuses the monitor's last-place rule; no evaluation or report import.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd

from perfmodel.errors import PerfmodelError, check_choice
from perfmodel.framework import GRADES, Award
from perfmodel.glossary import grade_label
from perfmodel.grading import NOT_GRADED
from perfmodel.monitor.warnings import DEFAULT_RULES, WarningRules, last_place_flags
from perfmodel.text import check_lang, say

__all__ = [
    "METHODS",
    "HEADCOUNT_COLUMN",
    "LEADERSHIP_REVIEW",
    "AwardError",
    "apportion",
    "allocate_awards",
    "leadership_review",
    "slots_by_grade",
    "award_table",
]

METHODS: dict[str, str] = {
    "largest_remainder": "Hamilton / largest remainder: every unit gets the whole part of its "
    "exact quota total·w/Σw, the slots left go one each to the largest fractional parts",
    "dhondt": "D'Hondt / highest averages (Jefferson): slots go one at a time to the unit with the "
    "largest w/(s+1), s = slots it holds already",
}
"""Apportionment methods of :func:`apportion`, with what each does."""

HEADCOUNT_COLUMN = "officers"
"""Units-table column with a unit's headcount, the base of individual awards."""

LEADERSHIP_REVIEW = "leadership_review"
"""Flag code of a unit last in its peer group two years running (R12)."""


class AwardError(PerfmodelError, ValueError):
    """Award slots that cannot be apportioned (bad weights, headcounts or totals)."""


def _exact(weights: Sequence[float] | np.ndarray) -> list[Fraction]:
    values = np.asarray(weights, dtype=float)
    if values.ndim != 1:
        raise AwardError(f"weights must be one number per unit, got an array of shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        raise AwardError(
            f"weight {values[bad[0]]!r} at position {bad[0]} is not a finite number >= 0",
            "weights are multiplier × base; check the multipliers and headcounts",
        )
    return [Fraction(float(v)) for v in values]  # exact binary values: ties are exact


def apportion(
    weights: Sequence[float] | np.ndarray,
    total: int,
    method: Literal["largest_remainder", "dhondt"] = "largest_remainder",
    *,
    order: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Apportion ``total`` indivisible slots to units in proportion to ``weights``.

    Parameters
    ----------
    weights
        One finite weight >= 0 per unit.
    total
        Slots to hand out (an integer >= 0).
    method
        ``largest_remainder`` (Hamilton): unit *i* first gets ``floor(q_i)`` of its
        exact quota ``q_i = total · w_i / Σw``; the slots left over go one each to
        the largest remainders ``q_i − floor(q_i)``. ``dhondt`` (highest averages):
        slots go one at a time to the unit with the largest ``w_i / (s_i + 1)``,
        ``s_i`` being the slots it already holds. See :data:`METHODS`.
    order
        Tie rule, second key: when two units tie exactly (equal remainders, or
        equal averages), the unit with the larger weight wins, then the one with
        the smaller ``order`` value, then the one earlier in ``weights``. Default:
        the position in ``weights``.

    Returns
    -------
    numpy.ndarray
        Integer slots per unit, in the order of ``weights``.

    Raises
    ------
    AwardError
        A weight is negative or not finite, ``total`` is negative or not an
        integer, or ``total > 0`` while every weight is 0.

    Notes
    -----
    Properties (tested in ``tests/test_awards.py``):

    - the slots add up to ``total`` exactly (the arithmetic is exact, on fractions);
    - a unit of weight 0 gets 0 (when any weight is positive);
    - monotone: a larger weight never gets fewer slots (Hamilton: a larger
      quota has a larger whole part or, with the same whole part, a larger
      remainder; D'Hondt: its averages are larger term by term; the tie rule
      puts the larger weight first, so exact ties keep this too);
    - permuting the units (with their ``order`` values) permutes the result;
      with the default ``order`` only exact ties of equal weights depend on the
      input order;
    - Hamilton stays within one slot of the exact quota (``floor(q) <= s <= ceil(q)``);
      D'Hondt may exceed it and favours larger units.

    Examples
    --------
    >>> apportion([100_000, 80_000, 30_000, 20_000], 8, "dhondt").tolist()
    [4, 3, 1, 0]
    >>> apportion([100_000, 80_000, 30_000, 20_000], 8).tolist()
    [3, 3, 1, 1]
    """
    check_choice("method", method, tuple(METHODS))
    if isinstance(total, bool) or int(total) != total or total < 0:
        raise AwardError(f"total slots must be an integer >= 0, got {total!r}")
    total = int(total)
    exact = _exact(weights)
    n = len(exact)
    ranks = np.arange(n, dtype=float) if order is None else np.asarray(order, dtype=float)
    if ranks.shape != (n,):
        raise AwardError(f"order must hold one value per unit ({n}), got shape {ranks.shape}")
    slots = np.zeros(n, dtype=int)
    if total == 0:
        return slots
    whole = sum(exact)
    if whole == 0:
        raise AwardError(
            f"{total} slots to apportion but every weight is 0 (no unit has a positive multiplier)",
            "check the grades and the award's multipliers",
        )

    def tie_key(i: int) -> tuple:
        return (-exact[i], ranks[i], i)

    if method == "largest_remainder":
        quotas = [w * total / whole for w in exact]
        for i, q in enumerate(quotas):
            slots[i] = int(q)  # floor: q >= 0
        left = total - int(slots.sum())
        by_remainder = sorted(range(n), key=lambda i: (-(quotas[i] - slots[i]), *tie_key(i)))
        for i in by_remainder[:left]:
            slots[i] += 1
        return slots
    heap = [(-w, *tie_key(i)) for i, w in enumerate(exact)]  # average w/(s+1) with s = 0
    heapq.heapify(heap)
    for _ in range(total):
        _, *key = heapq.heappop(heap)
        i = key[-1]
        slots[i] += 1
        heapq.heappush(heap, (-exact[i] / (slots[i] + 1), *key))
    return slots


def leadership_review(
    current: pd.DataFrame, previous: pd.DataFrame | None, rules: WarningRules = DEFAULT_RULES
) -> pd.Series:
    """Units last in their peer group in both of two consecutive annual evaluations (R12).

    The rule is the package's one rule for "last two years running",
    :func:`perfmodel.monitor.warnings.last_place_flags` (methodology §5.2.4),
    applied to the two years' scores: a unit is last when it has the unique
    lowest score in its (year, peer group) cell of at least ``rules.min_group``
    (3) scored units, i.e. the unique largest ``rank`` within ``peer_group``;
    units tied for last are not flagged, nor are unscored units. Each year uses
    its own peer groups.

    Parameters
    ----------
    current, previous
        Score frames (:attr:`perfmodel.evaluation.Evaluation.scores`) of the year and
        the year before, with ``unit_id``, ``period``, ``peer_group`` and ``score``.
        ``previous`` may be ``None`` (no earlier year): nobody is flagged.
    rules
        Warning rules; ``min_group`` is used (``last_years`` is 2 here).

    Returns
    -------
    pandas.Series
        Boolean, indexed by the ``unit_id`` of ``current``.

    Examples
    --------
    >>> year = pd.DataFrame({"unit_id": ["a", "b", "c"], "peer_group": "g", "score": [90.0, 80.0, 70.0]})
    >>> leadership_review(year.assign(period="2025"), year.assign(period="2024")).tolist()
    [False, False, True]
    """
    flagged = pd.Series(False, index=pd.Index(current["unit_id"].astype(str), name="unit_id"))
    if previous is None:
        return flagged
    columns = ["unit_id", "period", "score", "peer_group"]
    annual = pd.concat([previous[columns], current[columns]], ignore_index=True)
    annual["unit_id"] = annual["unit_id"].astype(str)
    hits = last_place_flags(annual, replace(rules, last_years=2))
    year = str(current["period"].iloc[0])[:4] if len(current) else ""
    last = set(hits.loc[hits["period"].astype(str) == year, "unit_id"])
    return pd.Series(flagged.index.isin(last), index=flagged.index)


def allocate_awards(
    scores: pd.DataFrame,
    awards: Iterable[Award],
    *,
    headcount: pd.Series | None = None,
    method: Literal["largest_remainder", "dhondt"] = "largest_remainder",
    review: Collection[str] = (),
) -> pd.DataFrame:
    """Apportion each award kind's slots to the units by grade (R12).

    Parameters
    ----------
    scores
        One row per unit with ``unit_id``, ``peer_group``, ``score`` and ``grade``
        (:attr:`perfmodel.evaluation.Evaluation.scores`); the score orders exact ties.
    awards
        Award kinds (a framework's ``awards``).
    headcount
        Officers per unit (indexed by ``unit_id``), the base of individual
        awards; ``None``: base 1 per unit (officer-level units). Collective
        awards always have base 1.
    method
        ``largest_remainder`` or ``dhondt`` (:func:`apportion`).
    review
        Ids of the units flagged for leadership review (:func:`leadership_review`,
        or the annual report's shrunk :func:`~perfmodel.monitor.warnings.last_place_flags`);
        their rows carry the flag :data:`LEADERSHIP_REVIEW`.

    Returns
    -------
    pandas.DataFrame
        One row per award kind and unit: ``award``, ``award_zh``, ``level``,
        ``unit_id``, ``peer_group``, ``grade``, ``multiplier`` (the award's
        multiplier of the grade; 0 for units not graded, :data:`NOT_GRADED`),
        ``base`` (1, or the headcount for individual awards), ``weight``
        (multiplier × base), ``slots`` and ``flag`` (:data:`LEADERSHIP_REVIEW` or
        empty).

    Notes
    -----
    Per award kind, ``slots`` adds up to the declared total exactly; among units
    with the same base a better grade never gets fewer slots; units of
    multiplier 0 (不合格 by default, and ungraded units) get 0. Exact ties go to
    the larger weight, then the higher score, then the smaller ``unit_id``
    (``order`` of :func:`apportion`), so the result does not depend on the row
    order of ``scores``.

    Raises
    ------
    AwardError
        A unit's headcount is missing, negative or not finite.
    """
    frame = scores.reset_index(drop=True)
    units = frame["unit_id"].astype(str)
    if headcount is None:
        heads = pd.Series(1.0, index=frame.index)
    else:
        heads = pd.to_numeric(units.map(headcount.set_axis(headcount.index.astype(str))), errors="coerce")
        bad = heads.isna() | ~np.isfinite(heads) | (heads < 0)
        if bad.any():
            raise AwardError(
                f"unit {units[bad].iloc[0]!r}: headcount ({HEADCOUNT_COLUMN!r} column of the units table) "
                "is missing or not a number >= 0; individual awards are apportioned per officer",
                f"fill in {HEADCOUNT_COLUMN!r} for every unit",
            )
    score = pd.to_numeric(frame["score"], errors="coerce")
    # tie order: higher score first (missing last), then unit id
    tie = frame.assign(_s=-score.fillna(-np.inf), _u=units).sort_values(["_s", "_u"], kind="mergesort")
    order = pd.Series(np.arange(len(frame)), index=tie.index).sort_index().to_numpy(dtype=float)
    flag = units.isin({str(u) for u in review})
    tables = []
    for award in awards:
        multiplier = frame["grade"].map(award.multipliers).fillna(0.0).astype(float)  # NOT_GRADED → 0
        base = heads if award.level == "individual" else pd.Series(1.0, index=frame.index)
        weight = multiplier * base
        try:
            slots = apportion(weight.to_numpy(), award.slots, method, order=order)
        except AwardError as exc:
            raise AwardError(f"award {award.id!r}: {exc}", exc.hint) from None
        tables.append(
            pd.DataFrame(
                {
                    "award": award.id,
                    "award_zh": award.name.zh,
                    "level": award.level,
                    "unit_id": units,
                    "peer_group": frame["peer_group"],
                    "grade": frame["grade"].fillna(NOT_GRADED),
                    "multiplier": multiplier,
                    "base": base,
                    "weight": weight,
                    "slots": slots,
                    "flag": np.where(flag, LEADERSHIP_REVIEW, ""),
                }
            )
        )
    columns = [
        "award",
        "award_zh",
        "level",
        "unit_id",
        "peer_group",
        "grade",
        "multiplier",
        "base",
        "weight",
        "slots",
        "flag",
    ]
    if not tables:
        return pd.DataFrame(columns=columns)
    return pd.concat(tables, ignore_index=True)[columns]


def slots_by_grade(allocation: pd.DataFrame) -> pd.DataFrame:
    """Slots of each award kind per grade: one row per award, one column per grade, best first.

    Examples
    --------
    >>> frame = pd.DataFrame({"unit_id": ["a", "b"], "peer_group": "g", "score": [90.0, 70.0],
    ...                       "grade": ["优秀", "合格"]})
    >>> award = Award(id="merit", name={"zh": "嘉奖", "en": "merit"}, level="collective", slots=3)
    >>> slots_by_grade(allocate_awards(frame, [award])).to_dict("index")
    {'merit': {'优秀': 2, '合格': 1}}
    """
    grades = [g for g in (*GRADES, NOT_GRADED) if g in set(allocation["grade"])]
    wide = allocation.pivot_table(index="award", columns="grade", values="slots", aggfunc="sum", sort=False)
    return wide.reindex(columns=grades).fillna(0).astype(int).rename_axis(columns=None)


def award_table(allocation: pd.DataFrame, names: Mapping[str, str] | None = None, lang: str = "zh") -> pd.DataFrame:
    """One row per unit: its grade, its slots of each award kind and the review flag, for reports.

    Units are in the order of ``allocation`` (an evaluation's scores: by peer
    group and rank); award columns are the awards' names in ``lang``.
    """
    check_lang(lang)
    zh = lang == "zh"
    label = dict(zip(allocation["award"], allocation["award_zh"] if zh else allocation["award"], strict=False))
    wide = allocation.pivot_table(index="unit_id", columns="award", values="slots", aggfunc="sum", sort=False)
    first = allocation.drop_duplicates("unit_id").set_index("unit_id")
    out = pd.DataFrame(
        {
            say("awards.unit", lang): first.index,
            say("awards.name", lang): [(names or {}).get(u, "") for u in first.index],
            say("awards.peer_group", lang): first["peer_group"].to_numpy(),
            say("awards.grade", lang): first["grade"]
            .map(lambda g: grade_label(g, lang), na_action="ignore")
            .to_numpy(),
        }
    )
    for award in dict.fromkeys(allocation["award"]):
        out[label[award]] = wide.loc[first.index, award].astype(int).to_numpy()
    review = say("awards.leadership_review", lang)
    out[review] = np.where(first["flag"].to_numpy() == LEADERSHIP_REVIEW, say("common.yes", lang), "")
    return out
