"""Design comparison and the flexible indicator pool (R19)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from design_builders import toy_evaluation, toy_framework

from perfmodel.design.compare import (
    FlexiblePoolError,
    check_flexible_pool,
    compare_designs,
    dimension_contributions,
    flexible_pool_example,
    flexible_pool_variant,
    movers,
    rank_agreement,
    top_k_overlap,
    transition_matrix,
    weight_shift,
)
from perfmodel.framework import load_framework
from perfmodel.weights import effective_weights


def _fake(scores: list[float], grades: list[str] | None = None) -> SimpleNamespace:
    """Just the ``scores`` table the agreement functions read."""
    s = pd.Series(scores)
    table = pd.DataFrame(
        {
            "unit_id": [f"U{i}" for i in range(len(scores))],
            "name": [f"单位{i}" for i in range(len(scores))],
            "score": s,
            "rank_overall": s.rank(ascending=False, method="min"),
            "grade": grades or ["合格"] * len(scores),
        }
    )
    return SimpleNamespace(scores=table)


def test_rank_agreement_for_one_swapped_pair_by_hand():
    a = _fake([4.0, 3.0, 2.0, 1.0])
    b = _fake([3.0, 4.0, 2.0, 1.0])  # the two best swap places
    row = rank_agreement({"a": a, "b": b}, k=2).iloc[0]
    # one discordant pair of six: tau = (5 − 1)/6; rho = 1 − 6·(1 + 1)/(4·15) = 0.8
    assert row["kendall_tau"] == pytest.approx(2 / 3)
    assert row["spearman"] == pytest.approx(0.8)
    assert row["top_k_overlap"] == 1.0
    assert top_k_overlap(a.scores["score"], b.scores["score"], 1) == 0.0


def test_transition_matrix_counts_grade_moves():
    a = _fake([4.0, 3.0, 2.0, 1.0], ["优秀", "良好", "合格", "合格"])
    b = _fake([4.0, 3.0, 2.0, 1.0], ["优秀", "合格", "合格", "不合格"])
    table = transition_matrix(a, b)
    assert table.loc["优秀", "优秀"] == 1
    assert table.loc["良好", "合格"] == 1
    assert table.loc["合格", "不合格"] == 1
    assert table.to_numpy().sum() == 4
    assert list(table.columns) == ["优秀", "良好", "合格", "不合格", "未评定"]


def test_weight_shift_is_half_the_l1_distance():
    assert weight_shift({"x": 0.5, "y": 0.5}, {"x": 0.7, "y": 0.3}) == pytest.approx(0.2)
    assert weight_shift({"x": 1.0}, {"y": 1.0}) == pytest.approx(1.0)


def test_flexible_pool_variant_moves_exactly_the_requested_weight():
    fw = load_framework("station_four_dimension")
    changes = {"callback_satisfaction": 0.08, "mediation_success_rate": 0.02, "case_compliance_rate": -0.10}
    flex = flexible_pool_variant(fw, changes)
    before, after = pd.Series(effective_weights(fw)), pd.Series(effective_weights(flex))
    for ind, delta in changes.items():
        assert after[ind] == pytest.approx(before[ind] + delta)
    untouched = after.index.difference(list(changes))
    assert after[untouched].tolist() == pytest.approx(before[untouched].tolist())
    assert check_flexible_pool(fw, flex) == pytest.approx(0.10)
    assert flex.id == "station_four_dimension_flex" and "弹性" in flex.name.zh


def test_flexible_pool_refuses_more_than_20_percent_and_policy_breaches():
    fw = load_framework("station_four_dimension")
    with pytest.raises(FlexiblePoolError, match=r"move 25\.0% of the total weight.*at most 20%"):
        flexible_pool_variant(
            fw, {"callback_satisfaction": 0.25, "case_compliance_rate": -0.18, "mediation_success_rate": -0.07}
        )
    with pytest.raises(FlexiblePoolError, match="must balance"):
        flexible_pool_variant(fw, {"callback_satisfaction": 0.05})
    # supervisor-rated indicators already carry 17.5 %; +0.15 takes them past the 30 % limit
    with pytest.raises(FlexiblePoolError, match="breaks the framework's policy.*subjective"):
        flexible_pool_variant(fw, {"discipline_score": 0.15, "case_compliance_rate": -0.15})
    big = flexible_pool_variant(
        fw, {"mediation_success_rate": 0.2, "case_compliance_rate": -0.1, "window_processing_days": -0.1}, pool=0.3
    )
    with pytest.raises(FlexiblePoolError, match="moves 20.0%"):
        check_flexible_pool(fw, big, pool=0.15)


def test_flexible_pool_example_stays_within_policy():
    for fid in ("station_four_dimension", "station_three_layer", "station_quadrant"):
        fw = load_framework(fid)
        changes = flexible_pool_example(fw, 0.10)
        assert sum(changes.values()) == pytest.approx(0.0)
        assert weight_shift(fw, flexible_pool_variant(fw, changes)) == pytest.approx(0.10)


def test_dimension_contributions_sum_to_the_distance_from_the_average_score():
    ev = toy_evaluation(n=14)
    contributions = dimension_contributions(ev)
    score = ev.stages["aggregated"]["score"]
    assert contributions.sum(axis=1).tolist() == pytest.approx((score - score.mean()).tolist())


def test_movers_are_explained_by_the_dimension_that_changed():
    n = 10
    values = pd.DataFrame(
        {
            "a": np.linspace(40, 60, n)[::-1],
            "b": np.linspace(30, 70, n)[::-1],
            "c": np.linspace(90, 10, n),
            "d": np.linspace(10, 90, n),
        },
        index=[f"U{i:02d}" for i in range(n)],
    )  # D1 is the same for every unit; c and d disagree, so dropping d lifts the units good on c
    a = toy_evaluation(n=n, values=values)
    b = a.regen(weights={"d": 0.0})
    table = movers(a, b, n=3, lang="en")
    gains, losses = table[table["change"] > 0], table[table["change"] < 0]
    assert len(gains) == 3 and len(losses) == 3
    assert (table["driver"] == "d2").all()  # D1 is untouched, so its contributions do not change
    assert (gains["driver_change"] > 0).all() and (losses["driver_change"] < 0).all()
    assert gains["unit_id"].iloc[0] == "U00"  # best on c, worst on d: last before, first after
    assert gains["rank_a"].iloc[0] == n and gains["rank_b"].iloc[0] == 1
    assert (table["basis"] == "shared_dimension").all()  # both designs have D1 and D2: a code, words in note
    assert (table["note"] == "shared dimension").all()


def test_compare_designs_collects_every_table():
    ev = toy_evaluation(n=12)
    flex = flexible_pool_variant(toy_framework(), {"c": 0.1, "a": -0.1})
    other = toy_evaluation(flex, n=12)
    cmp = compare_designs({"stated": ev, "flex": other, "geo": ev.regen(aggregation="geometric")})
    assert len(cmp.agreement) == 3
    assert set(cmp.transitions["design"]) == {"flex", "geo"}
    assert cmp.transitions.groupby("design")["n"].sum().tolist() == [12, 12]
    assert {"score:stated", "rank:flex", "grade:geo"} <= set(cmp.scores.columns)
    assert cmp.ranks_long().groupby("design").size().tolist() == [12, 12, 12]
    with pytest.raises(KeyError, match="baseline 'x'"):
        compare_designs({"a": ev, "b": other}, baseline="x")
