"""Alternative weights: hand-worked examples and invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from design_builders import toy_evaluation, toy_framework
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.aggregate import weighted_mean
from perfmodel.design.weights import (
    WeightingError,
    alternative_weights,
    balanced_weights,
    benefit_of_the_doubt,
    composite_correlations,
    critic_weights,
    entropy_weights,
    equal_weights,
    pca_weights,
    weight_table,
)
from perfmodel.weights import effective_weights, node_weights


def test_entropy_weights_on_a_3x3_example():
    X = pd.DataFrame({"a": [1.0, 1, 1], "b": [0.0, 0, 3], "c": [1.0, 2, 3]})
    # a: p = 1/3 each -> entropy 1 -> weight 0
    # b: p = (0, 0, 1) -> entropy 0 -> divergence 1
    # c: p = (1/6, 2/6, 3/6) -> entropy (ln 6 / 6 + ln 3 / 3 + ln 2 / 2) / ln 3 = 0.92062
    e_c = (math.log(6) / 6 + math.log(3) / 3 + math.log(2) / 2) / math.log(3)
    d_c = 1 - e_c
    expected = [0.0, 1 / (1 + d_c), d_c / (1 + d_c)]
    assert entropy_weights(X).tolist() == pytest.approx(expected)
    assert expected == pytest.approx([0.0, 0.9265, 0.0735], abs=1e-4)


def test_entropy_weights_refuse_negative_values():
    with pytest.raises(WeightingError, match="non-negative"):
        entropy_weights(pd.DataFrame({"a": [-1.0, 0, 1], "b": [1.0, 2, 3]}))


Y = pd.DataFrame({"y1": [1.0, 0.5, 0.2], "y2": [0.2, 0.5, 1.0]}, index=["A", "B", "C"])


def test_benefit_of_the_doubt_without_bounds_by_hand():
    # A and C put all weight on their best indicator (w = 1 on it) and reach 1.
    # B: max 0.5 (w1 + w2) s.t. w1 + 0.2 w2 ≤ 1 and 0.2 w1 + w2 ≤ 1 -> w1 = w2 = 1/1.2, score 5/6.
    res = benefit_of_the_doubt(Y)
    assert res.scores.tolist() == pytest.approx([1.0, 5 / 6, 1.0])
    assert res.weights.loc["B"].tolist() == pytest.approx([1 / 1.2, 1 / 1.2])
    assert res.shares.loc["A", "y1"] == pytest.approx(1.0)


def test_benefit_of_the_doubt_with_share_bounds_by_hand():
    # A with each share in [40 %, 60 %]: share of y1 ≤ 0.6 means w2 ≥ (10/3) w1; the binding
    # unit is C (0.2 w1 + w2 ≤ 1), so w1 = 1 / (0.2 + 10/3) = 15/53 and the score is
    # w1 + 0.2 w2 = (5/3) w1 = 25/53, with shares 60 % / 40 %.
    res = benefit_of_the_doubt(Y, share_bounds=(0.4, 0.6))
    assert res.scores["A"] == pytest.approx(25 / 53)
    assert res.shares.loc["A"].tolist() == pytest.approx([0.6, 0.4])
    assert res.scores["B"] == pytest.approx(5 / 6)  # its unconstrained optimum already has 50/50 shares
    assert res.scores["C"] == pytest.approx(25 / 53)  # mirror image of A


def test_benefit_of_the_doubt_rejects_impossible_bounds():
    with pytest.raises(WeightingError, match="lower bounds add up to 120%"):
        benefit_of_the_doubt(Y, share_bounds=(0.6, 0.7))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.floats(0.1, 10), min_size=3, max_size=3), min_size=4, max_size=8))
def test_benefit_of_the_doubt_invariants(rows):
    X = pd.DataFrame(rows, columns=["p", "q", "r"])
    unit = benefit_of_the_doubt(X, share_bounds=(0.1, 0.8))
    assert (unit.scores <= 1 + 1e-9).all()
    assert ((unit.shares >= 0.1 - 1e-7) & (unit.shares <= 0.8 + 1e-7)).to_numpy()[unit.scores > 0].all()
    # the same feasible weights for every unit: the unit whose constraint binds scores 1
    mean = benefit_of_the_doubt(X, share_bounds=(0.1, 0.8), share_basis="mean")
    assert mean.scores.max() == pytest.approx(1.0, abs=1e-7)
    free = benefit_of_the_doubt(X)
    assert free.scores.max() == pytest.approx(1.0, abs=1e-7)
    assert (free.scores >= unit.scores - 1e-9).all()  # constraints can only lower a score


def test_critic_weights_for_two_indicators_are_proportional_to_their_spread():
    # with two indicators both conflict terms are (1 − r), so C_j ∝ σ_j
    X = pd.DataFrame({"a": [0.0, 50, 100, 20], "b": [10.0, 30, 20, 40]})
    sd = X.std()
    assert critic_weights(X).tolist() == pytest.approx((sd / sd.sum()).tolist())


def test_pca_weights_with_one_factor_are_normalised_squared_loadings():
    rng = np.random.default_rng(0)
    f = rng.normal(size=400)
    X = pd.DataFrame(
        {"a": f + 0.3 * rng.normal(size=400), "b": f + 0.6 * rng.normal(size=400), "c": f + 0.9 * rng.normal(size=400)}
    )
    Z = ((X - X.mean()) / X.std()).to_numpy()
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    loading = vt[0] * s[0] / np.sqrt(len(Z) - 1)
    expected = loading**2 / (loading**2).sum()
    assert pca_weights(X).tolist() == pytest.approx(expected.tolist(), rel=1e-9)


def test_pca_weights_split_between_independent_blocks_by_explained_variance():
    rng = np.random.default_rng(1)
    f, g = rng.normal(size=(2, 500))
    X = pd.DataFrame(
        {
            "a1": f + 0.2 * rng.normal(size=500),
            "a2": f + 0.2 * rng.normal(size=500),
            "a3": f + 0.2 * rng.normal(size=500),
            "b1": g + 0.2 * rng.normal(size=500),
            "b2": g + 0.2 * rng.normal(size=500),
        }
    )
    w = pca_weights(X)
    assert w.sum() == pytest.approx(1.0)
    # two rotated factors explaining about 3 and 2 units of variance: 60 % / 40 %
    assert w[["a1", "a2", "a3"]].sum() == pytest.approx(0.6, abs=0.03)
    assert w[["b1", "b2"]].sum() == pytest.approx(0.4, abs=0.03)


def test_balanced_weights_give_a_duplicated_indicator_half_the_weight_each():
    rng = np.random.default_rng(0)
    z = rng.normal(size=300)
    X = pd.DataFrame({"x1": z, "x2": z, "x3": rng.normal(size=300)})
    w = balanced_weights(X)
    assert w.tolist() == pytest.approx([0.25, 0.25, 0.5], abs=1e-4)
    r = composite_correlations(X, w)
    assert r.max() - r.min() < 1e-4
    # hand check: x1 = x2 = z and x3 independent, so the composite is 0.5 z + 0.5 x3 (standardised)
    # and each correlates with it at about 0.5 / sqrt(0.25 + 0.25) = 0.707
    assert r.tolist() == pytest.approx([0.7071] * 3, abs=0.03)


def test_equal_weights_in_the_tree_and_per_indicator():
    fw = toy_framework()
    tree = equal_weights(fw, "tree")
    assert tree == {"d1": 0.5, "d2": 0.5, "a": 0.5, "b": 0.5, "c": 0.5, "d": 0.5}
    flat = effective_weights(fw, equal_weights(fw, "flat"))
    assert list(flat.values()) == pytest.approx([0.25] * 4)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 5.0), min_size=4, max_size=4).filter(lambda w: sum(w) > 0.01))
def test_node_weights_reproduce_any_effective_weights(raw):
    fw = toy_framework()
    effective = dict(zip("abcd", raw, strict=True))
    got = effective_weights(fw, node_weights(fw, effective))
    total = sum(raw)
    assert list(got.values()) == pytest.approx([w / total for w in raw], abs=1e-12)


def test_flat_alternative_weights_in_the_tree_equal_the_flat_weighted_mean():
    ev = toy_evaluation(n=15)
    for method in ("entropy", "critic", "pca", "balanced"):
        nodes = alternative_weights(ev, method)
        eff = effective_weights(ev.framework, nodes)
        expected = weighted_mean(ev.stages["normalised"], eff)
        got = ev.regen(weights=nodes).stages["aggregated"]["score"]
        assert got.tolist() == pytest.approx(expected.tolist(), rel=1e-10)
    table = weight_table(ev, ["stated", "equal", "entropy"])
    assert table.sum().tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert table.loc["d", "stated"] == pytest.approx(0.4 * 0.7)


def test_within_dimension_weights_keep_the_stated_dimension_weights():
    ev = toy_evaluation(n=15)
    nodes = alternative_weights(ev, "entropy", scope="within")
    assert nodes["d1"] == 0.6 and nodes["d2"] == 0.4
    assert nodes["a"] + nodes["b"] == pytest.approx(1.0)
