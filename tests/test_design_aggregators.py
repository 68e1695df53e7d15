"""Alternative aggregations and composite indicators: hand-worked examples and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from design_builders import toy_evaluation
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.design.aggregators import (
    AggregationError,
    add_composite,
    aggregate_flat,
    compare_aggregations,
    composite_table,
    composites,
    copeland,
    geometric_mean,
    harmonic_mean,
    mazziotta_pareto,
    power_mean,
)


def test_mazziotta_pareto_by_hand():
    # columns have mean 2 and population sd sqrt(2/3); unit 1 gets z = 100 ∓ 10·1/sqrt(2/3)
    # = 87.753, 112.247: mean 100, population sd 12.247 (variance 150), MPI = 100 − 150/100 = 98.5
    X = pd.DataFrame({"a": [1.0, 2, 3], "b": [3.0, 2, 1]})
    assert mazziotta_pareto(X).tolist() == pytest.approx([98.5, 100.0, 98.5])
    assert mazziotta_pareto(X, penalty="positive").tolist() == pytest.approx([101.5, 100.0, 101.5])


def test_mazziotta_pareto_penalises_imbalance_at_equal_mean():
    X = pd.DataFrame({"a": [60.0, 80, 50, 70], "b": [60.0, 40, 50, 70]})
    mpi = mazziotta_pareto(X)
    assert mpi.iloc[0] > mpi.iloc[1]  # same arithmetic mean, unit 1 unbalanced


def test_copeland_on_three_units_by_hand():
    X = pd.DataFrame({"i": [3, 2, 1], "j": [3, 1, 2], "k": [1, 3, 2]}, index=list("ABC"))
    # equal weights: A beats B (i, j) and C (i, j); B beats C (i, k) -> 2, 0, −2
    assert copeland(X).tolist() == [2.0, 0.0, -2.0]
    # k weighs 0.6: B beats A (k), C beats A (k), B beats C (i + k = 0.8) -> A −2, B 2, C 0
    assert copeland(X, {"i": 0.2, "j": 0.2, "k": 0.6}).tolist() == [-2.0, 2.0, 0.0]


def test_copeland_mathematical_ties_are_not_decided_by_rounding():
    """Issue 10: with weights 0.1, 0.2, 0.3 winning on i and j (0.1 + 0.2) against k (0.3) is a tie,
    but 0.1 + 0.2 = 0.30000000000000004 > 0.3 in binary, so A beat B."""
    X = pd.DataFrame({"i": [1.0, 0.0], "j": [1.0, 0.0], "k": [0.0, 1.0]}, index=["A", "B"])
    assert copeland(X, {"i": 0.1, "j": 0.2, "k": 0.3}).tolist() == [0.0, 0.0]
    # the same tie with the weights in another order and scale
    assert copeland(X, {"i": 20.0, "j": 10.0, "k": 30.0}).tolist() == [0.0, 0.0]
    # a real, small margin still counts: 0.1 + 0.2 against 0.2999
    assert copeland(X, {"i": 0.1, "j": 0.2, "k": 0.2999}).tolist() == [1.0, -1.0]


def test_copeland_treats_ties_as_half_and_chunks_consistently():
    X = pd.DataFrame({"i": [1.0, 1.0], "j": [2.0, 2.0]})
    assert copeland(X).tolist() == [0.0, 0.0]
    rng = np.random.default_rng(0)
    Z = pd.DataFrame(rng.normal(size=(30, 4)), columns=list("pqrs"))
    assert copeland(Z, chunk=7).tolist() == copeland(Z, chunk=256).tolist()
    assert copeland(Z).sum() == 0  # every win is someone's loss


def test_harmonic_mean_by_hand_and_floor():
    X = pd.DataFrame({"a": [100.0, 50.0, 0.0], "b": [25.0, 50.0, 100.0]})
    result = harmonic_mean(X)
    assert result.iloc[0] == pytest.approx(40.0)  # 2 / (1/100 + 1/25)
    assert result.iloc[1] == pytest.approx(50.0)
    assert result.iloc[2] == pytest.approx(2 / (1 / 1 + 1 / 100))  # 0 raised to the floor 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1.0, 100.0), min_size=3, max_size=3), st.floats(-3, 3), st.floats(0.05, 2))
def test_power_means_increase_with_p(values, p, step):
    X = pd.DataFrame([values], columns=list("abc"))
    w = {"a": 0.2, "b": 0.3, "c": 0.5}
    low, high = power_mean(X, w, p).iloc[0], power_mean(X, w, p + step).iloc[0]
    assert low <= high + 1e-9
    assert min(values) - 1e-9 <= low <= max(values) + 1e-9


def test_power_mean_tends_to_the_geometric_mean():
    X = pd.DataFrame({"a": [10.0, 80.0], "b": [40.0, 20.0]})
    w = {"a": 0.3, "b": 0.7}
    assert power_mean(X, w, 1e-7).tolist() == pytest.approx(geometric_mean(X, w).tolist(), rel=1e-5)
    assert aggregate_flat(X, w, "power:-1").tolist() == pytest.approx(harmonic_mean(X, w).tolist())
    with pytest.raises(AggregationError, match="unknown aggregation 'median'"):
        aggregate_flat(X, w, "median")


def test_composite_for_clearance_time_and_satisfaction_is_traceable():
    wide = pd.DataFrame({"clearance_days": [10.0, 20, 30], "satisfaction": [0.9, 0.95, 0.8]}, index=["A", "B", "C"])
    out = add_composite(
        wide,
        "clearance_effectiveness",
        {"clearance_days": 0.5, "satisfaction": 0.5},
        directions={"clearance_days": "lower"},
        name={"zh": "破案综合效能", "en": "Clearance effectiveness"},
    )
    # days (lower better) -> 100, 50, 0 ; satisfaction -> 66.7, 100, 0 ; means 83.3, 75, 0
    assert out["clearance_effectiveness"].tolist() == pytest.approx([250 / 3, 75.0, 0.0])
    assert list(wide.columns) == ["clearance_days", "satisfaction"]  # input untouched
    record = composites(out)["clearance_effectiveness"]
    assert record.directions == {"clearance_days": "lower", "satisfaction": "higher"}
    table = composite_table(out)
    assert table["component"].tolist() == ["clearance_days", "satisfaction"]
    assert table["weight"].tolist() == [0.5, 0.5]
    assert composites(out.copy())  # the record travels with copies
    again = add_composite(out, "second", {"clearance_days": 1, "clearance_effectiveness": 1})
    assert set(composites(again)) == {"clearance_effectiveness", "second"}


def test_composite_errors_name_the_missing_column():
    wide = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with pytest.raises(AggregationError, match="component column.*zz.*columns: a, b"):
        add_composite(wide, "c", {"a": 1, "zz": 1})
    with pytest.raises(AggregationError, match="already exists"):
        add_composite(wide, "a", {"a": 1, "b": 1})


def test_flat_arithmetic_and_geometric_equal_the_tree_with_complete_data():
    ev = toy_evaluation(n=12)
    table = compare_aggregations(ev).set_index("unit_id")
    stated = ev.stages["aggregated"]["score"]
    assert table["score:arithmetic"].tolist() == pytest.approx(stated.tolist(), rel=1e-12)
    geometric = ev.regen(aggregation="geometric").stages["aggregated"]["score"]
    assert table["score:geometric"].tolist() == pytest.approx(geometric.tolist(), rel=1e-12)
    assert set(table["rank:copeland"]) <= set(range(1, 13))
