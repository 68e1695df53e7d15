import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from perfmodel.grading import NOT_GRADED, cap_grades, grade_by_cutoffs, grade_by_quota, rank_scores


def test_ranks_descending_with_ties_sharing_best_rank():
    s = pd.Series([50.0, 80.0, 80.0, 20.0])
    assert rank_scores(s).tolist() == [3.0, 1.0, 1.0, 4.0]


def test_ranks_within_groups():
    s = pd.Series([1.0, 2.0, 3.0, 4.0])
    g = pd.Series(["a", "b", "a", "b"])
    assert rank_scores(s, g).tolist() == [2.0, 2.0, 1.0, 1.0]


def test_missing_scores_are_not_ranked_or_graded():
    s = pd.Series([90.0, np.nan])
    assert np.isnan(rank_scores(s)[1])
    assert grade_by_cutoffs(s, {"优秀": 85})[1] == NOT_GRADED
    assert grade_by_quota(s, {"优秀": 0.5})[1] == NOT_GRADED


def test_cutoffs_at_boundary_reach_the_grade():
    grades = grade_by_cutoffs(pd.Series([85.0, 84.999, 75.0, 60.0, 0.0]), {"优秀": 85, "良好": 75, "合格": 60})
    assert grades.tolist() == ["优秀", "良好", "良好", "合格", "不合格"]


def test_quota_by_hand_in_two_groups():
    # group x: 4 units, cumulative limits 1, 2, 3; group y: 2 units, limits round(0.5)=1, round(1.0)=1,
    # round(1.5)=2 (halves up): the second unit is 合格
    s = pd.Series([9.0, 7.0, 5.0, 3.0, 10.0, 1.0])
    g = pd.Series(["x", "x", "x", "x", "y", "y"])
    grades = grade_by_quota(s, {"优秀": 0.25, "良好": 0.25, "合格": 0.25}, g)
    assert grades.tolist() == ["优秀", "良好", "合格", "不合格", "优秀", "合格"]


def test_ties_at_quota_boundary_share_the_better_grade():
    s = pd.Series([10.0, 8.0, 8.0, 1.0])
    grades = grade_by_quota(s, {"优秀": 0.25, "良好": 0.25, "合格": 0.25})
    assert grades.tolist() == ["优秀", "良好", "良好", "不合格"]


def test_caps_only_lower_grades():
    grades = pd.Series(["优秀", "良好", "不合格"])
    caps = pd.Series(["良好", "合格", "合格"])
    assert cap_grades(grades, caps).tolist() == ["良好", "合格", "不合格"]


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=40))
def test_quota_grades_are_monotone_in_score(values):
    s = pd.Series(values)
    order = {"优秀": 0, "良好": 1, "合格": 2, "不合格": 3}
    grades = grade_by_quota(s, {"优秀": 0.15, "良好": 0.35, "合格": 0.4}).map(order)
    for i in range(len(s)):
        for j in range(len(s)):
            if s[i] > s[j]:
                assert grades[i] <= grades[j]


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=40))
def test_rank_permutation_invariance(values):
    s = pd.Series(values)
    perm = s.sample(frac=1, random_state=1)
    assert rank_scores(perm).sort_index().tolist() == rank_scores(s).tolist()
