"""The scoring engine: from composite scores to final scores, ranks and grades, for any number of draws.

After aggregation (:mod:`perfmodel.aggregate`) every unit's composite goes
through the same rules, in this order:

1. **usable** — a unit with too few months of data or too little of its weight
   observed gets no score;
2. **difficulty** — the composite is multiplied by the unit's difficulty
   coefficient, then capped at the framework's ``difficulty.cap``;
3. **bonus and deductions** — bonus points are added and negative-list
   deductions subtracted;
4. **non-finite** — a score that is not a finite number (an absurd input)
   is neither ranked nor graded;
5. **ranks** within peer groups (:func:`perfmodel.grading.rank_draws`);
6. **grades** by cut-offs or by quota with the framework's tie-break chain
   (:mod:`perfmodel.grading`);
7. **grade caps** of hard thresholds and negative-list items.

:func:`score_draws` applies them to a (draws × units) array of composites.
Everything that depends on the unit but not on the draw — coefficients,
points, caps, groups, the grading rule — is one :class:`ScoringRules`, which
:class:`~perfmodel.evaluation.Evaluation` builds from the framework, the units
table and the period's counts (its documented steps) and keeps as
:attr:`Evaluation.scoring_rules`. The evaluation calls :func:`score_draws` with
its one draw; the uncertainty analysis (:mod:`perfmodel.design.sensitivity`)
with thousands of weight draws. There is no other copy of these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perfmodel.aggregate import TreeIndex, aggregate_nodes
from perfmodel.grading import (
    QuotaDraws,
    TieKeys,
    cap_grade_codes,
    cutoff_grade_draws,
    quota_grade_draws,
    rank_draws,
    tie_break_key_draws,
)

__all__ = ["ScoringRules", "ScoredDraws", "score_draws", "tree_tie_keys"]


@dataclass(frozen=True)
class ScoringRules:
    """Everything the engine applies after aggregation, per unit (arrays in ``units`` order).

    Attributes
    ----------
    units
        Unit ids: the column order of every array.
    usable
        Units that may be scored (enough months and enough weight observed).
    coefficient
        Difficulty coefficient per unit (1 where none applies).
    difficulty_cap
        Upper limit of a composite after the coefficient, or ``None``.
    bonus, deduction
        Bonus points and negative-list deductions per unit.
    grade_cap
        Code of the best grade allowed per unit (:data:`perfmodel.grading.GRADE_CODES`),
        :data:`perfmodel.grading.NO_CAP` for none.
    negative_hits
        Negative-list hits per unit (summed counts), for the ``fewer_negative_hits`` tie-break.
    rank_groups, grade_groups
        Column positions of each peer group for ranks, and of each group quotas apply within.
    method
        ``cutoffs`` or ``quota``.
    cutoffs, quotas
        The framework's grading parameters.
    tie_break
        The framework's ``grading.tie_break`` chain.
    """

    units: pd.Index
    usable: np.ndarray
    coefficient: np.ndarray
    difficulty_cap: float | None
    bonus: np.ndarray
    deduction: np.ndarray
    grade_cap: np.ndarray
    negative_hits: np.ndarray
    rank_groups: tuple[np.ndarray, ...]
    grade_groups: tuple[np.ndarray, ...]
    method: str
    cutoffs: Mapping[str, float] = field(default_factory=dict)
    quotas: Mapping[str, float] = field(default_factory=dict)
    tie_break: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.units)
        for name in ("usable", "coefficient", "bonus", "deduction", "grade_cap", "negative_hits"):
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(f"ScoringRules.{name} must hold one value per unit ({n})")
        if self.method not in ("cutoffs", "quota"):
            raise ValueError(f"ScoringRules.method={self.method!r}: use 'cutoffs' or 'quota'")


@dataclass(frozen=True)
class ScoredDraws:
    """The engine's output, (draws × units) each.

    Attributes
    ----------
    total
        Adjusted composite + bonus − deduction, before the non-finite rule
        (``inf`` or ``NaN`` stay visible here); ``NaN`` for units not usable.
    score
        Final scores: ``total`` where finite, ``NaN`` otherwise (the same
        array as ``total`` when no score is infinite).
    rank
        Ranks within peer groups (1 = best), ``NaN`` without a score.
    grade
        Grade codes after caps (indices into :data:`perfmodel.grading.GRADE_CODES`), int8.
    tie_broken, tie_lowered
        Quota ties decided by the tie-break chain, and ties that took the lower
        grade (all ``False`` for cut-off grading).
    """

    total: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    grade: np.ndarray
    tie_broken: np.ndarray
    tie_lowered: np.ndarray


def _same_groups(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def score_draws(composite: np.ndarray, rules: ScoringRules, tie_keys: TieKeys = None) -> ScoredDraws:
    """Final scores, ranks and grades of every draw of composite scores.

    Parameters
    ----------
    composite
        (draws × units) aggregated scores (the root of the tree), units in ``rules.units`` order.
    rules
        The per-unit rules (:class:`ScoringRules`).
    tie_keys
        The tie-break keys for quota grading (see :func:`perfmodel.grading.quota_grade_draws`):
        an array or a function of draw indices (:func:`tree_tie_keys`); read only
        for draws with tied scores.

    Returns
    -------
    ScoredDraws

    Examples
    --------
    Two units, coefficient 1.1 capped at 100, one bonus point, a deduction of 2:

    >>> import pandas as pd
    >>> rules = ScoringRules(
    ...     units=pd.Index(["a", "b"]), usable=np.array([True, True]),
    ...     coefficient=np.array([1.1, 1.0]), difficulty_cap=100.0,
    ...     bonus=np.array([1.0, 0.0]), deduction=np.array([0.0, 2.0]),
    ...     grade_cap=np.array([-1, -1]), negative_hits=np.array([0.0, 1.0]),
    ...     rank_groups=(np.arange(2),), grade_groups=(np.arange(2),),
    ...     method="cutoffs", cutoffs={"优秀": 90, "良好": 80, "合格": 60})
    >>> out = score_draws(np.array([[95.0, 90.0]]), rules)
    >>> out.score.tolist(), out.rank.tolist(), out.grade.tolist()
    ([[101.0, 88.0]], [[1.0, 2.0]], [[0, 1]])
    """
    composite = np.atleast_2d(np.asarray(composite, dtype=float))
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.where(rules.usable, composite, np.nan)
        total *= rules.coefficient
        if rules.difficulty_cap is not None:
            np.minimum(total, rules.difficulty_cap, out=total)
        total += rules.bonus
        total -= rules.deduction
    infinite = np.isinf(total)
    score = np.where(infinite, np.nan, total) if infinite.any() else total
    rank = rank_draws(score, rules.rank_groups)
    if rules.method == "quota":
        same = _same_groups(rules.grade_groups, rules.rank_groups)
        quota = quota_grade_draws(score, rules.quotas, rules.grade_groups, tie_keys, ranks=rank if same else None)
    else:
        no_ties = np.zeros(score.shape, dtype=bool)
        quota = QuotaDraws(cutoff_grade_draws(score, rules.cutoffs), no_ties, no_ties)
    grade = cap_grade_codes(quota.codes, rules.grade_cap)
    return ScoredDraws(total, score, rank, grade, quota.tie_broken, quota.tie_lowered)


def tree_tie_keys(
    rules: ScoringRules,
    X: np.ndarray,
    tree: TreeIndex,
    W: np.ndarray,
    method: str,
    *,
    respread: bool,
    floor: float,
) -> Callable[[np.ndarray], np.ndarray]:
    """The tie-break keys of draws of node weights, computed only for the draws asked.

    The node scores of a draw (for ``heaviest_dimension`` and ``dimension:<id>``)
    are aggregated again level by level (:func:`perfmodel.aggregate.aggregate_nodes`)
    for those draws only; the heaviest top-level node is the one of largest
    weight in that draw.

    Parameters
    ----------
    rules
        The rules (their ``tie_break`` chain and ``negative_hits``).
    X, tree, W, method, respread, floor
        As in :func:`perfmodel.aggregate.aggregate_nodes`: the values and every draw's node weights.

    Returns
    -------
    callable
        Draw indices → (keys × draws × units) keys, for :func:`score_draws`.
    """

    def keys(rows: np.ndarray) -> np.ndarray:
        weights = W[rows]
        nodes = aggregate_nodes(X, tree, weights, method, respread=respread, floor=floor)
        top = {node: weights[:, tree.column[node]] for node in tree.top}
        return tie_break_key_draws(rules.tie_break, nodes, top, rules.negative_hits)

    return keys
