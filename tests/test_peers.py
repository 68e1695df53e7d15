"""Peer groups: derived context, declared classes, k-means groups, most similar units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.calibrate.peers import (
    KMeansPeerGroups,
    add_peer_column,
    compare_with_neighbours,
    context_frame,
    declared_peer_groups,
    most_similar_units,
    standardise_context,
)


def three_kinds_of_station(seed: int = 0, per_group: int = 12) -> pd.DataFrame:
    """Small rural, busy urban and mid-sized stations, well separated in context."""
    rng = np.random.default_rng(seed)
    rows = []
    for kind, (pop, load) in {"rural": (8_000, 4.0), "urban": (80_000, 25.0), "mid": (30_000, 10.0)}.items():
        for i in range(per_group):
            population = pop * np.exp(rng.normal(0, 0.05))
            officers = 20
            incidents = load * officers * np.exp(rng.normal(0, 0.05))
            rows.append(
                {
                    "unit_id": f"{kind}{i:02d}",
                    "kind": kind,
                    "population": round(population),
                    "incident_volume": round(incidents),
                    "officers": officers,
                    "station_class": "一类" if kind == "urban" else "二类",
                    "station_type": "地区派出所",
                }
            )
    return pd.DataFrame(rows)


def test_context_frame_derived_columns_by_hand():
    units = pd.DataFrame(
        {
            "unit_id": ["A", "B", "C"],
            "population": [20000, "0", None],
            "incident_volume": [100, 50, 30],
            "officers": [10, 5, 0],
            "area_type": pd.array(["农村", "城区核心", None], dtype="string"),
        }
    )
    out = context_frame(units)
    assert out.loc[0, "workload_per_officer"] == pytest.approx(10.0)
    assert out.loc[0, "log_workload"] == pytest.approx(np.log(10.0))
    assert out.loc[0, "incidents_per_1000"] == pytest.approx(5.0)
    assert out.loc[0, "log_incident_rate"] == pytest.approx(np.log(100 / 20000))
    assert out.loc[0, "officers_per_10000"] == pytest.approx(5.0)
    assert out.loc[0, "log_population"] == pytest.approx(np.log(20000))
    # zero or missing inputs give missing derived values, not errors or infinities
    assert np.isnan(out.loc[1, "log_population"]) and np.isnan(out.loc[2, "workload_per_officer"])
    assert out["area_type"].dtype == object
    assert len(out) == 3 and "unit_id" in out.columns


def test_declared_groups_combine_columns():
    units = pd.DataFrame(
        {
            "unit_id": ["A", "B", "C"],
            "station_class": ["一类", "二类", None],
            "station_type": ["地区派出所", "治安派出所", "地区派出所"],
        }
    )
    groups = declared_peer_groups(units, ["station_class", "station_type"])
    assert groups["A"] == "一类·地区派出所" and groups["B"] == "二类·治安派出所"
    assert groups["C"] is None
    with pytest.raises(ValueError, match="'tier'"):
        declared_peer_groups(units, "tier")


def test_kmeans_finds_the_three_kinds_and_orders_labels_by_workload():
    units = three_kinds_of_station()
    peers = KMeansPeerGroups(variables=("log_population", "log_workload"), random_state=0).fit(units)
    assert peers.k_ == 3
    labels = peers.labels_
    kind = units.set_index("unit_id")["kind"]
    # each cluster is exactly one kind, and P1 is the least loaded
    assert pd.crosstab(labels, kind[labels.index]).gt(0).sum(axis=1).eq(1).all()
    assert set(kind[labels[labels == "P1"].index]) == {"rural"}
    assert set(kind[labels[labels == "P3"].index]) == {"urban"}
    profiles = peers.profiles_.set_index("peer_group")
    assert profiles["n_units"].sum() == len(units)
    assert profiles["workload_per_officer"].is_monotonic_increasing


def test_kmeans_labels_do_not_depend_on_row_order():
    units = three_kinds_of_station(1)
    a = KMeansPeerGroups(3, variables=("log_population", "log_workload")).fit(units).labels_
    shuffled = units.sample(frac=1.0, random_state=3)
    b = KMeansPeerGroups(3, variables=("log_population", "log_workload")).fit(shuffled).labels_
    assert a.sort_index().equals(b.sort_index())


def test_kmeans_assign_and_predict():
    units = three_kinds_of_station(2)
    peers = KMeansPeerGroups(3, variables=("log_population", "log_workload")).fit(units)
    with_column = peers.assign(units, column="peer_cluster")
    assert with_column["peer_cluster"].notna().all()
    assert "peer_cluster" not in units.columns  # a copy
    new = pd.DataFrame({"unit_id": ["X"], "population": [7_900], "incident_volume": [80], "officers": [20]})
    assert peers.predict(new)["X"] == "P1"
    with pytest.raises(ValueError, match="n_clusters"):
        KMeansPeerGroups(1).fit(units)


def test_standardise_context_errors_name_the_variable():
    units = three_kinds_of_station()
    with pytest.raises(ValueError, match="'crime_index'"):
        standardise_context(units, ["crime_index"])
    with pytest.raises(ValueError, match="'officers'"):
        standardise_context(units, ["officers", "log_population"])
    z = standardise_context(units, ["log_population"], weights={"log_population": 2.0})
    assert z["log_population"].std(ddof=0) == pytest.approx(2.0)


def test_most_similar_units_by_hand():
    # one variable: z-scores keep the order, so neighbours are the nearest values
    units = pd.DataFrame({"unit_id": ["A", "B", "C", "D", "E"], "population": [1000, 2000, 3000, 10000, 2000]})
    units["x"] = np.log(units["population"])
    near = most_similar_units(units, ["x"], k=2)
    a = near[near.unit_id == "A"].sort_values("neighbour_rank")
    assert a["neighbour_id"].tolist() == ["B", "E"]  # tie at equal distance: ids in order
    assert a["distance"].iloc[0] == a["distance"].iloc[1]
    d = near[near.unit_id == "D"].sort_values("neighbour_rank")
    assert d["neighbour_id"].tolist() == ["C", "B"]
    assert (near.groupby("unit_id").size() == 2).all()


def test_compare_with_neighbours_by_hand():
    neighbours = pd.DataFrame(
        {
            "unit_id": ["A", "A", "B", "B"],
            "neighbour_rank": [1, 2, 1, 2],
            "neighbour_id": ["B", "C", "A", "C"],
            "distance": [1, 2, 1, 1],
        }
    )
    values = pd.Series({"A": 80.0, "B": 70.0, "C": 90.0})
    out = compare_with_neighbours(values, neighbours).set_index("unit_id")
    assert out.loc["A", "neighbour_mean"] == 80.0 and out.loc["A", "difference"] == 0.0
    assert out.loc["A", "rank_in_set"] == 2 and out.loc["A", "set_size"] == 3
    assert out.loc["B", "rank_in_set"] == 3
    assert out.loc["B", "z"] == pytest.approx((70 - 85) / np.std([80, 90], ddof=1))
    low = compare_with_neighbours(values, neighbours, direction="lower").set_index("unit_id")
    assert low.loc["B", "rank_in_set"] == 1


def test_add_peer_column_is_usable_as_a_peer_group():
    from perfmodel.evaluation import evaluate
    from perfmodel.framework import framework_from_dict

    units = three_kinds_of_station(4).assign(level="station", name=lambda d: d["unit_id"])
    groups = KMeansPeerGroups(3, variables=("log_population", "log_workload")).fit(units).labels_
    units = add_peer_column(units, groups, "peer_cluster")
    fw = framework_from_dict(
        {
            "id": "p",
            "name": {"zh": "p", "en": "p"},
            "level": "station",
            "tree": [
                {
                    "id": "d",
                    "name": {"zh": "d", "en": "d"},
                    "weight": 1.0,
                    "children": [{"id": "x", "name": {"zh": "x", "en": "x"}, "weight": 1.0, "kind": "score"}],
                }
            ],
        },
        source="test",
    )
    obs = pd.DataFrame(
        {
            "period": "2025-04",
            "unit_id": units["unit_id"],
            "indicator": "x",
            "value": np.arange(len(units), dtype=float),
            "numerator": np.nan,
            "denominator": np.nan,
            "rater_id": None,
        }
    )
    ev = evaluate(fw, obs, units, "2025-04", peer_group="peer_cluster", compare_previous=False)
    assert set(ev.scores["peer_group"]) == {"P1", "P2", "P3"}
