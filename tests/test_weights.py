"""The three weight concepts of :mod:`perfmodel.weights`, checked by hand on a small tree.

The tree (all tests): D1 (0.6): a (0.5), b (0.5) · D2 (0.4): c (0.75), t (0.25),
where ``t`` is a temporary indicator valid from 2025-10 to 2026-01.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from framework_builders import dimension_node, indicator_node
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.framework import Framework, framework_from_dict
from perfmodel.weights import (
    WeightingError,
    effective_weights,
    node_weights,
    stated_weights,
    variance_share_array,
    variance_shares,
)

TEMPORARY = {"valid_from": "2025-10", "valid_to": "2026-01"}


def small_tree() -> Framework:
    return framework_from_dict(
        {
            "id": "weights_test",
            "name": {"zh": "权重", "en": "weights"},
            "level": "station",
            "tree": [
                dimension_node("d1", 0.6, [indicator_node("a", 0.5), indicator_node("b", 0.5)]),
                dimension_node("d2", 0.4, [indicator_node("c", 0.75), indicator_node("t", 0.25, temporary=TEMPORARY)]),
            ],
        }
    )


# ------------------------------------------------------------------------------------ stated
def test_stated_weights_are_the_node_weights_as_declared():
    assert stated_weights(small_tree()) == {"d1": 0.6, "a": 0.5, "b": 0.5, "d2": 0.4, "c": 0.75, "t": 0.25}


def test_stated_weights_put_a_temporary_indicator_outside_its_window_at_zero_and_overrides_on_top():
    fw = small_tree()
    assert stated_weights(fw, months=["2025-04", "2025-05", "2025-06"])["t"] == 0.0
    assert stated_weights(fw, months=["2025-09", "2025-10"])["t"] == 0.25  # active in one of the months
    both = stated_weights(fw, {"d1": 2, "t": 0.5}, months=["2025-04"])
    assert both == {"d1": 2.0, "a": 0.5, "b": 0.5, "d2": 0.4, "c": 0.75, "t": 0.5}  # the override wins


def test_an_evaluation_applies_its_stated_weights():
    from evaluation_builders import TOY, toy_data

    from perfmodel.evaluation import evaluate

    units, obs = toy_data()
    ev = evaluate(framework_from_dict(TOY), obs, units, "2025Q2", compare_previous=False, weights={"d2": 0.6})
    assert ev.stated_weights() == {"d1": 0.6, "r": 0.5, "d": 0.5, "d2": 0.6, "s": 1.0}


# --------------------------------------------------------------------------------- effective
def test_effective_weights_are_products_down_the_tree():
    # a = .6·.5, b = .6·.5, c = .4·.75, t = .4·.25
    assert effective_weights(small_tree()) == pytest.approx({"a": 0.3, "b": 0.3, "c": 0.3, "t": 0.1})
    with_dims = effective_weights(small_tree(), dimensions=True)
    assert list(with_dims) == ["d1", "a", "b", "d2", "c", "t"]
    assert with_dims["d2"] == pytest.approx(0.4)


def test_effective_weights_take_each_weight_as_its_share_of_its_siblings():
    fw = small_tree()
    # t at 0 outside its window: c carries all of d2 → a .3, b .3, c .4
    outside = stated_weights(fw, months=["2025-04"])
    assert effective_weights(fw, outside) == pytest.approx({"a": 0.3, "b": 0.3, "c": 0.4, "t": 0.0})
    # d1 = d2 = 1 → each dimension half the score: a = b = .25, c = .375, t = .125
    assert effective_weights(fw, {"d1": 1, "d2": 1}) == pytest.approx({"a": 0.25, "b": 0.25, "c": 0.375, "t": 0.125})
    # as given (not normalised): products of the raw weights, t at 0 leaves c at .4·.75
    raw = effective_weights(fw, outside, normalise=False)
    assert raw == pytest.approx({"a": 0.3, "b": 0.3, "c": 0.3, "t": 0.0})


def test_framework_effective_weights_and_walk_use_the_same_products():
    fw = small_tree()
    assert fw.effective_weights() == effective_weights(fw, normalise=False)
    assert fw.effective_weights({"a": 0.0})["b"] == pytest.approx(0.3)  # multiplied as given
    walked = {info.id: info.effective_weight for info in fw.walk({"d1": 0.5})}
    assert walked == pytest.approx({"d1": 0.5, "a": 0.25, "b": 0.25, "d2": 0.4, "c": 0.3, "t": 0.1})


def test_node_weights_invert_effective_weights():
    fw = small_tree()
    nodes = node_weights(fw, {"a": 0.1, "b": 0.3, "c": 0.2, "t": 0.4})
    # d1 holds .4 of the total, a its quarter; d2 .6, c its third
    assert nodes == pytest.approx({"d1": 0.4, "a": 0.25, "b": 0.75, "d2": 0.6, "c": 1 / 3, "t": 2 / 3})
    assert effective_weights(fw, nodes) == pytest.approx({"a": 0.1, "b": 0.3, "c": 0.2, "t": 0.4})
    # an unnamed dimension's indicators get 0, and the dimension equal child weights
    partial = node_weights(fw, {"a": 1.0})
    assert partial["d2"] == 0.0 and partial["c"] == partial["t"] == 0.5


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 5.0), min_size=4, max_size=4).filter(lambda w: sum(w) > 0.01))
def test_node_weights_round_trip_any_indicator_weights(raw):
    fw = small_tree()
    wanted = dict(zip("abct", raw, strict=True))
    got = effective_weights(fw, node_weights(fw, wanted))
    assert list(got.values()) == pytest.approx([w / sum(raw) for w in raw], abs=1e-12)


def test_node_weights_refuse_unknown_indicators_and_a_zero_total():
    with pytest.raises(WeightingError, match="unknown indicator.*zz"):
        node_weights(small_tree(), {"zz": 1.0})
    with pytest.raises(WeightingError, match="positive sum"):
        node_weights(small_tree(), {"a": 0.0})


# --------------------------------------------------------------------------- variance shares
def test_variance_shares_by_hand():
    # C = .5 X1 + .5 X2; Var X1 = 10000/3, Var X2 = 400/3, Cov = 0 → shares 10000:400 = 25/26 : 1/26
    X = pd.DataFrame({"a": [0, 0, 100, 100.0], "b": [40, 60, 40, 60.0]})
    assert variance_shares(X, {"a": 0.5, "b": 0.5}).tolist() == pytest.approx([25 / 26, 1 / 26])
    # a correlated pair: X2 = X1 / 2 → Var C = (.5 + .25)² Var X1, share_a = .5·(.75)/(.75²) = 2/3
    X = pd.DataFrame({"a": [0, 40, 100.0], "b": [0, 20, 50.0]})
    assert variance_shares(X, {"a": 0.5, "b": 0.5}).tolist() == pytest.approx([2 / 3, 1 / 3])


def test_variance_shares_leave_out_incomplete_rows_and_need_two():
    X = pd.DataFrame({"a": [0, 0, 100, 100.0, np.nan], "b": [40, 60, 40, 60.0, 1e6]})
    assert variance_shares(X, {"a": 0.5, "b": 0.5}).tolist() == pytest.approx([25 / 26, 1 / 26])
    assert variance_shares(X.iloc[:1], {"a": 0.5, "b": 0.5}).isna().all()


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=3, max_value=30), st.integers(min_value=2, max_value=6), st.integers(0, 10_000))
def test_variance_shares_sum_to_one_and_the_array_form_agrees_on_a_stack(n, p, seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(0, 100, (n, p)), columns=[f"x{j}" for j in range(p)])
    w = dict(zip(X.columns, rng.dirichlet(np.ones(p)), strict=True))
    shares = variance_shares(X, w)
    assert shares.sum() == pytest.approx(1.0)
    stack = np.stack([X.to_numpy(), X.to_numpy()[::-1]])  # row order does not change the shares
    assert variance_share_array(stack, np.array(list(w.values()))) == pytest.approx(np.vstack([shares, shares]))
