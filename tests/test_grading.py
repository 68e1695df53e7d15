from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from perfmodel.framework import FrameworkError, Grading
from perfmodel.grading import (
    DEFAULT_TIE_BREAK,
    GRADE_CODES,
    NOT_GRADED,
    cap_grades,
    grade_by_cutoffs,
    grade_by_quota,
    group_indices,
    quota_capacities,
    quota_grade_draws,
    quota_grading,
    rank_scores,
    tie_break_keys,
)

ORDER = {"优秀": 0, "良好": 1, "合格": 2, "不合格": 3}


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


def test_ties_at_quota_boundary_take_the_lower_grade_with_room():
    # capacities 1, 1, 1 of 4: the two tied at 8 fit neither 良好 nor 合格 (one place each)
    s = pd.Series([10.0, 8.0, 8.0, 1.0])
    result = quota_grading(s, {"优秀": 0.25, "良好": 0.25, "合格": 0.25})
    assert result.grades.tolist() == ["优秀", "不合格", "不合格", "不合格"]
    assert result.tie_lowered.tolist() == [False, True, True, False]
    # with two places of 良好 the tie fits there
    assert grade_by_quota(s, {"优秀": 0.25, "良好": 0.5, "合格": 0.25}).tolist() == ["优秀", "良好", "良好", "合格"]


def test_ten_tied_of_twelve_do_not_all_get_excellent():
    """Issue 10: with ties, 10 of 12 units got 优秀 against a 15 % quota (2 places)."""
    s = pd.Series([90.0] * 10 + [50.0, 40.0])
    quotas = {"优秀": 0.15, "良好": 0.35, "合格": 0.40}
    grades = grade_by_quota(s, quotas)
    # capacities of 12: 优秀 round(1.8)=2, 良好 round(6)-2=4, 合格 round(10.8)-6=5; a tie of 10 fits none
    assert quota_capacities(quotas, 12) == {"优秀": 2, "良好": 4, "合格": 5}
    assert (grades == "优秀").sum() == 0
    assert grades.tolist() == ["不合格"] * 12


def test_tie_break_chain_decides_before_the_lower_grade():
    # three tied for two 优秀 places; the first key separates one, the second key the other two
    s = pd.Series([9.0, 9.0, 9.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    keys = pd.DataFrame(
        {
            "heaviest_dimension": [70.0, 80.0, 80.0, 0, 0, 0, 0, 0, 0, 0],
            "fewer_negative_hits": [0.0, -1.0, 0.0, 0, 0, 0, 0, 0, 0, 0],
        }
    )
    result = quota_grading(s, {"优秀": 0.2, "良好": 0.3, "合格": 0.3}, tie_keys=keys)
    # capacities 2, 3, 3: unit 2 (best key 1 and key 2), then unit 1 (key 1 80, one hit) are 优秀
    assert result.grades.tolist()[:4] == ["良好", "优秀", "优秀", "良好"]
    assert result.tie_broken.tolist()[:3] == [True, True, True]
    assert not result.tie_lowered.any()


def test_missing_tie_key_counts_as_worst():
    s = pd.Series([9.0, 9.0, 1.0, 0.0])
    keys = pd.DataFrame({"k": [np.nan, 1.0, 0.0, 0.0]})
    assert grade_by_quota(s, {"优秀": 0.25, "良好": 0.25, "合格": 0.25}, tie_keys=keys).tolist()[:2] == ["良好", "优秀"]


def test_non_finite_scores_are_not_ranked_or_graded():
    s = pd.Series([90.0, -np.inf, np.inf, np.nan, 10.0])
    assert rank_scores(s).tolist()[:1] == [1.0] and rank_scores(s)[4] == 2.0
    assert rank_scores(s)[[1, 2, 3]].isna().all()
    assert grade_by_cutoffs(s, {"优秀": 85, "良好": 75, "合格": 60}).tolist() == [
        "优秀",
        NOT_GRADED,
        NOT_GRADED,
        NOT_GRADED,
        "不合格",
    ]
    # quotas counted over the two finite scores only: 优秀 round(0.5 * 2) = 1
    assert grade_by_quota(s, {"优秀": 0.5, "良好": 0.5}).tolist() == [
        "优秀",
        NOT_GRADED,
        NOT_GRADED,
        NOT_GRADED,
        "良好",
    ]


def test_tie_break_keys_from_a_framework_tree():
    aggregated = pd.DataFrame({"D1": [10.0, 20.0], "D2": [5.0, 1.0], "score": [1.0, 1.0]}, index=["a", "b"])
    keys = tie_break_keys(
        ["heaviest_dimension", "fewer_negative_hits", "dimension:D2"],
        aggregated,
        {"D1": 0.4, "D2": 0.6},
        pd.Series({"a": 2.0}),
    )
    assert keys["heaviest_dimension"].tolist() == [5.0, 1.0]  # D2 weighs more
    assert keys["fewer_negative_hits"].tolist() == [-2.0, 0.0]
    assert keys["dimension:D2"].tolist() == [5.0, 1.0]
    with pytest.raises(FrameworkError, match="dimension:D9.*D1, D2"):
        tie_break_keys(["dimension:D9"], aggregated, {"D1": 0.4, "D2": 0.6}, pd.Series(dtype=float))


def test_tie_break_is_declared_and_validated_in_the_framework():
    assert Grading().tie_break == DEFAULT_TIE_BREAK
    assert Grading(tie_break=["dimension:law", "fewer_negative_hits"]).tie_break[0] == "dimension:law"
    with pytest.raises(ValidationError, match="unknown key 'best_looking'"):
        Grading(tie_break=["best_looking"])
    with pytest.raises(ValidationError, match="listed twice"):
        Grading(tie_break=["heaviest_dimension", "heaviest_dimension"])


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


# many ties: scores from a small set; quotas in twentieths so the expected limits are exact fractions
tied_scores = st.lists(st.sampled_from([0.0, 10.0, 10.0, 55.5, 70.0, 100.0]), min_size=1, max_size=40)
quota_sets = st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)).filter(lambda q: sum(q) <= 20)


def _expected_capacities(quotas: tuple[int, int, int], n: int) -> list[int]:
    """Places per grade computed independently: differences of cumulative limits rounded half up."""
    limits, total = [], Fraction(0)
    for q in quotas:
        total += Fraction(q, 20)
        limits.append(int(total * n + Fraction(1, 2)))  # floor(x + 1/2) for x >= 0
    return [b - a for a, b in zip([0, *limits[:-1]], limits, strict=True)]


@given(tied_scores, quota_sets, st.lists(st.sampled_from("xy"), min_size=40, max_size=40), st.randoms())
def test_quota_property_no_grade_over_quota_monotone_and_permutation_invariant(values, q, labels, rnd):
    s = pd.Series(values, index=[f"u{i}" for i in range(len(values))])
    groups = pd.Series(labels[: len(values)], index=s.index)
    quotas = dict(zip(("优秀", "良好", "合格"), (x / 20 for x in q), strict=True))
    grades = grade_by_quota(s, quotas, groups)
    for _, members in s.groupby(groups):
        counts = grades[members.index].value_counts()
        for grade, places in zip(("优秀", "良好", "合格"), _expected_capacities(q, len(members)), strict=True):
            assert counts.get(grade, 0) <= places
        codes = grades[members.index].map(ORDER)
        for a in members.index:
            for b in members.index:
                if members[a] > members[b]:
                    assert codes[a] <= codes[b]
                if members[a] == members[b]:
                    assert codes[a] == codes[b]  # no tie-break keys: tied units share a grade
    order = list(s.index)
    rnd.shuffle(order)
    shuffled = grade_by_quota(s[order], quotas, groups[order])
    assert shuffled.reindex(s.index).tolist() == grades.tolist()


@given(tied_scores, st.lists(st.sampled_from([0.0, 1.0, np.nan]), min_size=40, max_size=40), quota_sets)
def test_quota_property_with_tie_keys_is_monotone_in_score_then_key(values, key, q):
    s = pd.Series(values)
    keys = pd.DataFrame({"k": key[: len(values)]})
    quotas = dict(zip(("优秀", "良好", "合格"), (x / 20 for x in q), strict=True))
    codes = grade_by_quota(s, quotas, tie_keys=keys).map(ORDER)
    filled = keys["k"].fillna(-np.inf)
    for a in s.index:
        for b in s.index:
            if s[a] > s[b] or (s[a] == s[b] and filled[a] > filled[b]):
                assert codes[a] <= codes[b]
    for grade, places in zip(("优秀", "良好", "合格"), _expected_capacities(q, len(s)), strict=True):
        assert (codes == ORDER[grade]).sum() <= places


# ---------------------------------------------------------------- the array engine against the rule as written
def _quota_by_the_rule(scores: list[float], keys: list[list[float]], quotas: dict[str, float]):
    """The quota rule of the docs, one unit at a time: (grades, tie_broken, tie_lowered)."""
    grades_order = ["优秀", "良好", "合格", "不合格"]
    finite = [i for i, s in enumerate(scores) if np.isfinite(s)]

    def key(i: int) -> tuple:
        return (scores[i], *[k[i] if np.isfinite(k[i]) else -np.inf for k in keys])

    ranked = sorted(finite, key=key, reverse=True)
    classes: list[list[int]] = []
    for i in ranked:
        if classes and key(classes[-1][0]) == key(i):
            classes[-1].append(i)
        else:
            classes.append([i])
    room = quota_capacities(quotas, len(finite))
    grades, lowered, position = {}, set(), 0
    for members in classes:
        while position < 3 and room[grades_order[position]] < len(members):
            if room[grades_order[position]] > 0:
                lowered |= set(members)
            position += 1
        for i in members:
            grades[i] = grades_order[position]
        if position < 3:
            room[grades_order[position]] -= len(members)
    broken = set()
    for s in {scores[i] for i in finite}:
        same = [i for i in finite if scores[i] == s]
        if len({grades[i] for i in same}) > 1:
            broken |= set(same)
    n = len(scores)
    return (
        [grades.get(i, NOT_GRADED) for i in range(n)],
        [i in broken - lowered for i in range(n)],
        [i in lowered for i in range(n)],
    )


@given(
    st.lists(
        st.lists(st.sampled_from([0.0, 10.0, 10.0, 55.5, 70.0, 100.0, np.nan, -np.inf]), min_size=12, max_size=12),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.lists(st.sampled_from([0.0, 1.0, 2.0, np.nan]), min_size=12, max_size=12), min_size=0, max_size=2),
    quota_sets,
    st.lists(st.sampled_from("xyz"), min_size=12, max_size=12),
)
def test_quota_grade_draws_follow_the_rule_in_every_draw_and_group(draws, keys, q, labels):
    quotas = dict(zip(("优秀", "良好", "合格"), (x / 20 for x in q), strict=True))
    score = np.array(draws)
    groups = group_indices(pd.Series(labels))
    # the same keys in every draw
    key_array = np.broadcast_to(np.array(keys, dtype=float).reshape(len(keys), 1, 12), (len(keys), *score.shape))
    out = quota_grade_draws(score, quotas, groups, key_array)
    for d in range(len(score)):
        for idx in groups:
            grades, broken, lowered = _quota_by_the_rule(
                score[d, idx].tolist(), [k[idx].tolist() for k in np.array(keys).reshape(len(keys), 12)], quotas
            )
            assert [GRADE_CODES[c] for c in out.codes[d, idx]] == grades
            assert out.tie_broken[d, idx].tolist() == broken
            assert out.tie_lowered[d, idx].tolist() == lowered
