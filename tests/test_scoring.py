"""The scoring engine (perfmodel.scoring): hand-computed draws, and many draws equal to one at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.grading import GRADE_CODES, NO_CAP, NOT_GRADED
from perfmodel.scoring import ScoringRules, score_draws

CUTOFFS = {"优秀": 90.0, "良好": 75.0, "合格": 60.0}
QUOTAS = {"优秀": 0.25, "良好": 0.25, "合格": 0.25}  # of 4 units: one place each, the rest 不合格


def rules(n: int = 4, **changes) -> ScoringRules:
    base = {
        "units": pd.Index([f"u{i}" for i in range(n)]),
        "usable": np.ones(n, dtype=bool),
        "coefficient": np.ones(n),
        "difficulty_cap": None,
        "bonus": np.zeros(n),
        "deduction": np.zeros(n),
        "grade_cap": np.full(n, NO_CAP),
        "negative_hits": np.zeros(n),
        "rank_groups": (np.arange(n),),
        "grade_groups": (np.arange(n),),
        "method": "cutoffs",
        "cutoffs": CUTOFFS,
        "quotas": QUOTAS,
        "tie_break": ("fewer_negative_hits",),
    }
    return ScoringRules(**{**base, **changes})


def labels(codes: np.ndarray) -> list[str]:
    return [GRADE_CODES[k] for k in codes]


def test_difficulty_cap_bonus_deduction_cap_and_unusable_units_by_hand():
    r = rules(
        usable=np.array([True, True, True, False]),
        coefficient=np.array([1.1, 1.0, 0.9, 1.0]),
        difficulty_cap=100.0,
        bonus=np.array([0.0, 2.0, 0.0, 0.0]),
        deduction=np.array([0.0, 0.0, 5.0, 0.0]),
        grade_cap=np.array([NO_CAP, 2, NO_CAP, NO_CAP]),  # unit 1 at most 合格
    )
    out = score_draws(np.array([[95.0, 80.0, 70.0, 99.0]]), r)
    # u0: 95 × 1.1 = 104.5, capped at 100; u1: 80 + 2 = 82 (良好, capped to 合格);
    # u2: 70 × 0.9 − 5 = 58 (不合格); u3 not usable: no score, rank or grade
    np.testing.assert_allclose(out.score[0], [100.0, 82.0, 58.0, np.nan])
    np.testing.assert_array_equal(out.rank[0], [1.0, 2.0, 3.0, np.nan])
    assert labels(out.grade[0]) == ["优秀", "合格", "不合格", NOT_GRADED]
    assert not out.tie_broken.any() and not out.tie_lowered.any()


def test_non_finite_totals_stay_visible_but_are_neither_ranked_nor_graded():
    out = score_draws(np.array([[np.inf, 80.0, -np.inf, 70.0]]), rules())
    assert np.isposinf(out.total[0, 0]) and np.isneginf(out.total[0, 2])
    assert np.isnan(out.score[0, [0, 2]]).all()
    np.testing.assert_array_equal(out.rank[0], [np.nan, 1.0, np.nan, 2.0])
    assert labels(out.grade[0]) == [NOT_GRADED, "良好", NOT_GRADED, "合格"]


def test_tie_keys_are_asked_for_only_in_draws_with_tied_scores():
    asked = []

    def keys(rows: np.ndarray) -> np.ndarray:
        asked.append(rows.tolist())
        hits = np.array([1.0, 0.0, 0.0, 0.0])  # fewer hits is better: u1 wins the tie with u0
        return np.broadcast_to(-hits, (1, len(rows), 4))

    composite = np.array([[9.0, 8.0, 5.0, 1.0], [9.0, 9.0, 5.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    out = score_draws(composite, rules(method="quota"), keys)
    assert asked == [[1]]
    assert labels(out.grade[0]) == ["优秀", "良好", "合格", "不合格"]
    assert labels(out.grade[1]) == ["良好", "优秀", "合格", "不合格"]
    assert out.tie_broken[1].tolist() == [True, True, False, False] and not out.tie_broken[[0, 2]].any()
    assert labels(out.grade[2]) == ["不合格", "合格", "良好", "优秀"]


def test_quota_ties_without_keys_take_the_lower_grade_in_every_group():
    groups = (np.array([0, 1, 2, 3]), np.array([4, 5, 6, 7]))
    r = rules(
        8,
        method="quota",
        rank_groups=groups,
        grade_groups=groups,
        tie_break=(),
        quotas={"优秀": 0.25, "良好": 0.5, "合格": 0.25},
    )  # of 4: places 1, 2, 1
    out = score_draws(np.array([[9.0, 9.0, 5.0, 1.0, 4.0, 3.0, 3.0, 3.0]]), r)
    # group 1: the pair at 9 does not fit 优秀 (one place) and takes 良好 (two places); 5 finds
    # 良好 full and takes 合格. Group 2: 4 is 优秀; the three at 3 fit neither 良好 (two places) nor
    # 合格 (one): 不合格, and the places stay empty
    assert labels(out.grade[0]) == ["良好", "良好", "合格", "不合格", "优秀", "不合格", "不合格", "不合格"]
    assert out.tie_lowered[0].tolist() == [True, True, False, False, False, True, True, True]
    np.testing.assert_array_equal(out.rank[0], [1, 1, 3, 4, 1, 2, 2, 2])


tied_values = st.sampled_from([0.0, 40.0, 40.0, 61.5, 80.0, 95.0, np.nan, np.inf])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda d: st.tuples(
            st.lists(st.lists(tied_values, min_size=9, max_size=9), min_size=d, max_size=d),
            st.lists(st.lists(st.sampled_from([0.0, 1.0, np.nan]), min_size=9, max_size=9), min_size=d, max_size=d),
        )
    ),
    st.sampled_from(["quota", "cutoffs"]),
    st.lists(st.sampled_from("xy"), min_size=9, max_size=9),
)
def test_many_draws_at_once_equal_one_draw_at_a_time(draws, method, group_labels):
    composite, key = (np.array(a, dtype=float) for a in draws)
    labels_ = np.array(group_labels)
    groups = tuple(np.flatnonzero(labels_ == g) for g in ("x", "y") if (labels_ == g).any())
    r = rules(
        9,
        method=method,
        rank_groups=groups,
        grade_groups=(np.arange(9),),
        quotas={"优秀": 0.2, "良好": 0.3, "合格": 0.3},
        coefficient=np.linspace(0.9, 1.1, 9),
        difficulty_cap=100.0,
        bonus=np.full(9, 1.5),
    )
    together = score_draws(composite, r, key[None])
    for i in range(len(composite)):
        alone = score_draws(composite[[i]], r, key[None, [i]])
        for field in ("total", "score", "rank", "grade", "tie_broken", "tie_lowered"):
            np.testing.assert_array_equal(getattr(together, field)[i], getattr(alone, field)[0], err_msg=field)


def test_rules_must_hold_one_value_per_unit():
    with pytest.raises(ValueError, match="bonus must hold one value per unit"):
        rules(bonus=np.zeros(3))
    with pytest.raises(ValueError, match="'cutoffs' or 'quota'"):
        rules(method="ranking")
