"""Weighted means and tree aggregation: hand-computed values and invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.aggregate import (
    TreeIndex,
    aggregate_draws,
    aggregate_nodes,
    aggregate_tree,
    availability,
    effective_weights_array,
    node_weights,
    weighted_mean,
)
from perfmodel.framework import Framework, framework_from_dict
from perfmodel.normalise import normalise, orient, orient_bounds

NAN = np.nan


def _name(text: str) -> dict[str, str]:
    return {"zh": text, "en": text}


def toy_framework(method: str = "arithmetic") -> Framework:
    """Two dimensions, four indicators, one of each direction plus a rate.

    a (0.6): a1 (0.5, higher, [0, 100]) · a2 (0.5, lower, [0, 60] minutes)
    b (0.4): b1 (0.25, target 95, [80, 100]) · b2 (0.75, higher, [0, 1])
    """
    return framework_from_dict(
        {
            "id": "toy",
            "name": _name("toy"),
            "level": "station",
            "aggregation": {"method": method},
            "tree": [
                {
                    "id": "a",
                    "name": _name("a"),
                    "weight": 0.6,
                    "children": [
                        {
                            "id": "a1",
                            "name": _name("a1"),
                            "weight": 0.5,
                            "kind": "score",
                            "goalposts": [0, 100],
                        },
                        {
                            "id": "a2",
                            "name": _name("a2"),
                            "weight": 0.5,
                            "kind": "duration",
                            "direction": "lower",
                            "goalposts": [0, 60],
                        },
                    ],
                },
                {
                    "id": "b",
                    "name": _name("b"),
                    "weight": 0.4,
                    "children": [
                        {
                            "id": "b1",
                            "name": _name("b1"),
                            "weight": 0.25,
                            "kind": "rate",
                            "direction": "target",
                            "target": 95,
                            "goalposts": [80, 100],
                        },
                        {
                            "id": "b2",
                            "name": _name("b2"),
                            "weight": 0.75,
                            "kind": "rate",
                            "goalposts": [0, 1],
                        },
                    ],
                },
            ],
        },
        source="toy",
    )


# ---------------------------------------------------------------- weighted_mean
def test_arithmetic_by_hand() -> None:
    X = pd.DataFrame({"a": [80.0], "b": [60.0], "c": [40.0]})
    # 0.5·80 + 0.3·60 + 0.2·40 = 40 + 18 + 8
    assert weighted_mean(X, {"a": 0.5, "b": 0.3, "c": 0.2}).iloc[0] == pytest.approx(66.0)
    # weights need not sum to 1
    assert weighted_mean(X, {"a": 5, "b": 3, "c": 2}).iloc[0] == pytest.approx(66.0)


def test_geometric_by_hand() -> None:
    X = pd.DataFrame({"a": [100.0, 81.0], "b": [25.0, 1.0]})
    out = weighted_mean(X, {"a": 1, "b": 1}, "geometric")
    assert out.iloc[0] == pytest.approx(50.0)  # √(100·25)
    out = weighted_mean(X, {"a": 0.75, "b": 0.25}, "geometric")
    assert out.iloc[1] == pytest.approx(27.0)  # 81^¾ · 1^¼


def test_geometric_floor_handles_zeros() -> None:
    X = pd.DataFrame({"a": [0.0], "b": [100.0]})
    assert weighted_mean(X, {"a": 1, "b": 1}, "geometric").iloc[0] == pytest.approx(10.0)  # √(1·100)
    assert weighted_mean(X, {"a": 1, "b": 1}, "geometric", floor=4.0).iloc[0] == pytest.approx(20.0)
    assert weighted_mean(X, {"a": 1, "b": 1}, "arithmetic").iloc[0] == pytest.approx(50.0)


def test_missing_values_with_and_without_respread() -> None:
    X = pd.DataFrame({"a": [80.0, NAN], "b": [NAN, NAN], "c": [40.0, NAN]})
    w = {"a": 0.5, "b": 0.3, "c": 0.2}
    spread = weighted_mean(X, w)
    assert spread.iloc[0] == pytest.approx((40 + 8) / 0.7)  # b's weight spread over a and c
    assert np.isnan(spread.iloc[1])  # nothing observed
    assert weighted_mean(X, w, respread=False).isna().all()
    geo = weighted_mean(pd.DataFrame({"a": [NAN], "b": [16.0], "c": [4.0]}), {"a": 2, "b": 1, "c": 1}, "geometric")
    assert geo.iloc[0] == pytest.approx(8.0)  # √(16·4)


def test_missing_value_with_zero_weight_does_not_matter() -> None:
    X = pd.DataFrame({"a": [80.0], "b": [NAN]})
    assert weighted_mean(X, {"a": 1, "b": 0}, respread=False).iloc[0] == 80.0


@pytest.mark.parametrize(
    ("weights", "kwargs", "error", "message"),
    [
        ({"a": 1, "z": 1}, {}, KeyError, "z"),
        ({"a": -1}, {}, ValueError, "non-negative"),
        ({"a": 1}, {"method": "harmonic"}, ValueError, "unknown aggregation"),
    ],
)
def test_weighted_mean_errors(weights, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        weighted_mean(pd.DataFrame({"a": [1.0]}), weights, **kwargs)


# ---------------------------------------------------------------- aggregate_tree
@pytest.fixture
def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {"a1": [100.0, 100.0], "a2": [50.0, 25.0], "b1": [20.0, 16.0], "b2": [40.0, 81.0]},
        index=["S1", "S2"],
    )


def test_aggregate_tree_arithmetic_by_hand(scores) -> None:
    out = aggregate_tree(scores, toy_framework())
    assert out.columns.tolist() == ["a", "b", "score"]
    # S1: A = (100 + 50)/2 = 75; B = 0.25·20 + 0.75·40 = 35; score = 0.6·75 + 0.4·35 = 59
    assert out.loc["S1"].tolist() == pytest.approx([75.0, 35.0, 59.0])


def test_aggregate_tree_geometric_by_hand(scores) -> None:
    out = aggregate_tree(scores, toy_framework("geometric"))
    # S2: A = √(100·25) = 50; B = 16^¼ · 81^¾ = 2 · 27 = 54; score = 50^0.6 · 54^0.4
    assert out.loc["S2", "a"] == pytest.approx(50.0)
    assert out.loc["S2", "b"] == pytest.approx(54.0)
    assert out.loc["S2", "score"] == pytest.approx(math.exp(0.6 * math.log(50) + 0.4 * math.log(54)))


def test_aggregate_tree_overrides(scores) -> None:
    fw = toy_framework()
    # method override and weight override (B's children swapped)
    out = aggregate_tree(scores, fw, weights={"b1": 0.75, "b2": 0.25})
    assert out.loc["S1", "b"] == pytest.approx(0.75 * 20 + 0.25 * 40)
    assert aggregate_tree(scores, fw, "geometric").loc["S2", "a"] == pytest.approx(50.0)
    with pytest.raises(KeyError, match="not in framework"):
        aggregate_tree(scores, fw, weights={"b3": 1.0})


def test_aggregate_tree_missing_values(scores) -> None:
    scores = scores.astype(float)
    scores.loc["S1", "b1"] = NAN
    fw = toy_framework()
    spread = aggregate_tree(scores, fw)
    assert spread.loc["S1", "b"] == pytest.approx(40.0)  # only b2 observed
    strict = aggregate_tree(scores, fw, respread=False)
    assert np.isnan(strict.loc["S1", "b"]) and np.isnan(strict.loc["S1", "score"])
    assert strict.loc["S1", "a"] == pytest.approx(75.0)
    present = scores.notna()
    # b1 carries 0.4·0.25 = 10 % of the total weight
    assert availability(present, fw).tolist() == pytest.approx([0.9, 1.0])


# ---------------------------------------------------------------- the array form, many draws
def deep_framework() -> Framework:
    """t (0.7): s (0.4): a (0.5), b (0.5) · c (0.6); u (0.3): d (1.0) — walk order t, s, a, b, c, u, d."""

    def ind(i: str, w: float) -> dict:
        return {"id": i, "name": _name(i), "weight": w, "kind": "score"}

    return framework_from_dict(
        {
            "id": "deep",
            "name": _name("deep"),
            "level": "station",
            "tree": [
                {
                    "id": "t",
                    "name": _name("t"),
                    "weight": 0.7,
                    "children": [
                        {"id": "s", "name": _name("s"), "weight": 0.4, "children": [ind("a", 0.5), ind("b", 0.5)]},
                        ind("c", 0.6),
                    ],
                },
                {"id": "u", "name": _name("u"), "weight": 0.3, "children": [ind("d", 1.0)]},
            ],
        }
    )


# rows a, b, c, d; unit 0 complete, unit 1 lacks a, unit 2 lacks a and b
DEEP_X = np.array([[80.0, NAN, NAN], [40.0, 40.0, NAN], [50.0, 50.0, 50.0], [20.0, 20.0, 20.0]])
STATED = [0.7, 0.4, 0.5, 0.5, 0.6, 0.3, 1.0]
NO_A = [0.7, 0.4, 0.0, 0.5, 0.2, 0.3, 1.0]  # a weighs nothing, c 0.2


def test_aggregate_nodes_by_hand_for_two_draws() -> None:
    tree = TreeIndex.of(deep_framework())
    assert tree.nodes == ("t", "s", "a", "b", "c", "u", "d") and tree.top == ("t", "u")
    out = aggregate_nodes(DEEP_X, tree, np.array([STATED, NO_A]))
    # draw 0: s = (80 + 40)/2 = 60, 40 (a missing), NaN; t = 0.4 s + 0.6·50 (c alone without s);
    # score = 0.7 t + 0.3·20
    np.testing.assert_allclose(out["s"][0], [60.0, 40.0, NAN])
    np.testing.assert_allclose(out["t"][0], [54.0, 46.0, 50.0])
    np.testing.assert_allclose(out["score"][0], [43.8, 38.2, 41.0], rtol=1e-12)
    # draw 1: s = b = 40 for units 0 and 1; t = (0.4·40 + 0.2·50)/0.6 = 130/3
    np.testing.assert_allclose(out["t"][1], [130 / 3, 130 / 3, 50.0], rtol=1e-12)
    np.testing.assert_allclose(out["score"][1], [0.7 * 130 / 3 + 6, 0.7 * 130 / 3 + 6, 41.0], rtol=1e-12)
    np.testing.assert_array_equal(out["u"], [[20.0] * 3] * 2)
    # without respreading a missing child of positive weight makes its parents missing
    strict = aggregate_nodes(DEEP_X, tree, np.array([STATED, NO_A]), respread=False)
    assert np.isnan(strict["score"][0, 1]) and strict["score"][1, 1] == pytest.approx(0.7 * 130 / 3 + 6)


def test_aggregate_nodes_geometric_by_hand() -> None:
    out = aggregate_nodes(DEEP_X[:, :1], TreeIndex.of(deep_framework()), np.array([STATED]), "geometric")
    s = math.sqrt(80 * 40)
    t = s**0.4 * 50**0.6
    assert out["s"][0, 0] == pytest.approx(s, rel=1e-12)
    assert out["score"][0, 0] == pytest.approx(t**0.7 * 20**0.3, rel=1e-12)


def test_one_draw_of_the_array_form_is_aggregate_tree_to_the_last_bit() -> None:
    fw = deep_framework()
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 100, size=(4, 50))
    X[rng.random(X.shape) < 0.2] = NAN
    frame = pd.DataFrame(X.T, columns=["a", "b", "c", "d"])
    for method in ("arithmetic", "geometric"):
        tree = aggregate_tree(frame, fw, method, weights={"c": 0.25})
        nodes = aggregate_nodes(X, TreeIndex.of(fw), node_weights(fw, {"c": 0.25})[None, :], method)
        for column in tree.columns:
            np.testing.assert_array_equal(tree[column].to_numpy(), nodes[column][0])


def test_effective_weights_are_products_of_sibling_shares() -> None:
    tree = TreeIndex.of(deep_framework())
    doubled = [1.4, 0.8, 1.0, 1.0, 1.2, 0.6, 5.0]  # every sibling set scaled: the same shares
    got = effective_weights_array(tree, np.array([STATED, doubled]))
    # a = 0.7·0.4·0.5, b the same, c = 0.7·0.6, d = 0.3
    np.testing.assert_allclose(got, [[0.14, 0.14, 0.42, 0.3]] * 2, rtol=1e-12)
    assert effective_weights_array(tree, np.array([[0.7, 0.4, 0.0, 0.0, 0.6, 0.3, 1.0]])) is None


def test_fast_composite_agrees_with_the_levels_and_keeps_identical_units_tied() -> None:
    tree = TreeIndex.of(deep_framework())
    rng = np.random.default_rng(7)
    X = rng.uniform(0, 100, size=(4, 501))
    X[:, 500] = X[:, 0]  # unit 500 is a copy of unit 0, at the other end of the matrix
    X[:, 250] = X[:, 3]
    W = rng.uniform(0.1, 1.0, size=(300, 7))
    for method in ("arithmetic", "geometric"):
        fast = aggregate_draws(X, tree, W, method)
        np.testing.assert_allclose(fast, aggregate_nodes(X, tree, W, method)["score"], rtol=1e-12)
        np.testing.assert_array_equal(fast[:, 500], fast[:, 0])
        np.testing.assert_array_equal(fast[:, 250], fast[:, 3])
    with pytest.raises(ValueError, match="non-negative"):
        aggregate_draws(X, tree, -W)


# ---------------------------------------------------------------- properties
FW = {"arithmetic": toy_framework("arithmetic"), "geometric": toy_framework("geometric")}
IND = {i.id: i for i in FW["arithmetic"].indicators()}


def goalpost_scores(raw: pd.DataFrame, fw: Framework) -> pd.DataFrame:
    """Orient, normalise on the framework's goalposts and aggregate."""
    inds = fw.indicators()
    directions = {i.id: i.direction for i in inds}
    targets = {i.id: i.target for i in inds if i.target is not None}
    bounds = {i.id: orient_bounds(*i.goalposts, i.direction, i.target) for i in inds}
    oriented = orient(raw[list(directions)], directions, targets)
    return aggregate_tree(normalise(oriented, "goalposts", goalposts=bounds), fw)


def raw_frames(min_units: int = 1, max_units: int = 6):
    def column(ind_id: str):
        low, high = IND[ind_id].goalposts
        span = high - low
        return st.floats(low - 0.2 * span, high + 0.2 * span)

    return st.integers(min_units, max_units).flatmap(
        lambda n: st.fixed_dictionaries({i: st.lists(column(i), min_size=n, max_size=n) for i in IND}).map(
            lambda d: pd.DataFrame(d, index=[f"S{k}" for k in range(n)])
        )
    )


def improve(raw: pd.DataFrame, unit: str, ind_id: str, step: float) -> pd.DataFrame:
    """Move one value ``step`` ∈ [0, 1] of the way towards its best (for its direction)."""
    ind = IND[ind_id]
    low, high = ind.goalposts
    best = {"higher": high + (high - low), "lower": low - (high - low), "target": ind.target}[ind.direction]
    out = raw.copy()
    x = out.loc[unit, ind_id]
    out.loc[unit, ind_id] = x + step * (best - x)
    return out


@settings(max_examples=60, deadline=None)
@given(
    raw_frames(),
    st.sampled_from(sorted(IND)),
    st.floats(0.0, 1.0),
    st.sampled_from(["arithmetic", "geometric"]),
    st.data(),
)
def test_improving_an_indicator_never_lowers_the_units_score(raw, ind_id, step, method, data) -> None:
    unit = data.draw(st.sampled_from(list(raw.index)))
    fw = FW[method]
    before = goalpost_scores(raw, fw)
    after = goalpost_scores(improve(raw, unit, ind_id, step), fw)
    assert (after.loc[unit] >= before.loc[unit] - 1e-9).all()
    # goalposts are absolute: nobody else's result moves
    others = raw.index != unit
    pd.testing.assert_frame_equal(after[others], before[others])


@settings(max_examples=40, deadline=None)
@given(
    raw_frames(),
    st.sampled_from(["root", "a", "b"]),
    st.floats(1e-3, 1e3),
    st.sampled_from(["arithmetic", "geometric"]),
)
def test_scaling_a_nodes_weights_leaves_scores_unchanged(raw, node, factor, method) -> None:
    fw = FW[method]
    children = fw.tree if node == "root" else fw.node(node).node.children
    scaled = {c.id: c.weight * factor for c in children}
    normalised = normalise(raw, "minmax")
    base = aggregate_tree(normalised, fw)
    pd.testing.assert_frame_equal(aggregate_tree(normalised, fw, weights=scaled), base, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    raw_frames(min_units=2),
    st.randoms(use_true_random=False),
    st.sampled_from(["arithmetic", "geometric"]),
)
def test_row_order_does_not_change_any_units_result(raw, rnd, method) -> None:
    fw = FW[method]
    groups = pd.Series(np.where(np.arange(len(raw)) % 2, "rural", "urban"), index=raw.index)

    def pipeline(frame: pd.DataFrame) -> pd.DataFrame:
        return aggregate_tree(normalise(frame, "minmax", groups=groups), fw)

    order = list(raw.index)
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(pipeline(raw.loc[order]).reindex(raw.index), pipeline(raw))
