"""Difficulty coefficients: declared per class vs model-based expected scores (R4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.calibrate.difficulty import (
    class_coefficients,
    declared_difficulty,
    difficulty_table,
    expected_scores,
    model_formula,
)
from perfmodel.evaluation import evaluate
from perfmodel.framework import framework_from_dict, load_framework


def units_frame(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    population = np.round(rng.uniform(10_000, 90_000, n), -2)
    officers = rng.integers(10, 40, n)
    incidents = np.round(officers * rng.uniform(5, 25, n))
    return pd.DataFrame(
        {
            "unit_id": [f"S{i:02d}" for i in range(n)],
            "name": [f"站{i}" for i in range(n)],
            "level": "station",
            "population": population,
            "incident_volume": incidents,
            "officers": officers,
            "station_class": np.where(population >= 60_000, "一类", np.where(population >= 30_000, "二类", "三类")),
            "area_type": rng.choice(["城区核心", "农村"], n),
        }
    )


def test_declared_difficulty_maps_classes():
    fw = load_framework("station_four_dimension")
    units = pd.DataFrame({"unit_id": ["A", "B", "C"], "station_class": ["一类", "三类", "四类"]})
    out = declared_difficulty(fw, units)
    assert out["A"] == 1.06 and out["B"] == 1.00 and np.isnan(out["C"])
    no_classes = load_framework("station_quadrant")
    assert (declared_difficulty(no_classes, units) == 1.0).all()
    with pytest.raises(ValueError, match="station_class"):
        declared_difficulty(fw, units.drop(columns="station_class"))


def test_expected_scores_reproduce_an_exact_context_effect():
    units = units_frame()
    workload = units["incident_volume"] / units["officers"]
    noise = np.random.default_rng(0).normal(0, 0.001, len(units))
    score = pd.Series(90 - 15 * np.log(workload).to_numpy() + noise, index=units["unit_id"])
    table, model = expected_scores(score, units, ["log_workload"])
    table = table.set_index("unit_id")
    assert table["expected"].to_numpy() == pytest.approx(score[table.index].to_numpy(), abs=0.005)
    overall = score.mean()
    assert table["implied_coefficient"].to_numpy() == pytest.approx(overall / table["expected"].to_numpy())
    # the standardised score is the same for everyone: context explained everything
    assert table["standardised"].to_numpy() == pytest.approx(np.full(len(table), overall), abs=0.01)
    assert model.family == "gaussian"


def test_no_cliff_edge_at_class_boundaries():
    units = pd.DataFrame(
        {
            "unit_id": ["below", "above"],
            "population": [59_900, 60_100],
            "incident_volume": [200, 200],
            "officers": [20, 20],
            "station_class": ["二类", "一类"],
        }
    )
    rng = np.random.default_rng(1)
    train = units_frame(40, seed=2)
    workload = train["incident_volume"] / train["officers"]
    score = pd.Series(80 - 10 * np.log(workload).to_numpy() + rng.normal(0, 2, 40), index=train["unit_id"])
    both = pd.concat([train, units], ignore_index=True)
    score = pd.concat([score, pd.Series({"below": 55.0, "above": 55.0})])
    table, _ = expected_scores(score, both, ["log_workload", "log_population"])
    table = table.set_index("unit_id")
    fw = load_framework("station_four_dimension")
    declared = declared_difficulty(fw, units)
    assert declared["above"] - declared["below"] == pytest.approx(0.03)
    assert abs(table.loc["above", "implied_coefficient"] - table.loc["below", "implied_coefficient"]) < 0.005


def test_model_formula_marks_categories_and_drops_constants():
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0], "a": ["x", "y", "x"], "b": [1.0, 1.0, 1.0], "c": [1.0, 2.0, 4.0]})
    assert model_formula("y", ["a", "b", "c"], data) == "y ~ C(a) + c"
    assert model_formula("y", ["b"], data) == "y ~ 1"
    with pytest.raises(ValueError, match="'z'"):
        model_formula("y", ["z"], data)


def test_difficulty_table_on_an_evaluation():
    fw = framework_from_dict(
        {
            "id": "d",
            "name": {"zh": "d", "en": "d"},
            "level": "station",
            "difficulty": {"by": "station_class", "coefficients": {"一类": 1.1, "二类": 1.05, "三类": 1.0}},
            "calibration": {"covariates": ["log_workload", "station_class"]},
            "tree": [
                {
                    "id": "g",
                    "name": {"zh": "g", "en": "g"},
                    "weight": 1.0,
                    "children": [
                        {"id": "x", "name": {"zh": "x", "en": "x"}, "weight": 1.0, "kind": "score", "range": [0, 100]}
                    ],
                }
            ],
        },
        source="test",
    )
    units = units_frame(30, seed=3)
    workload = units["incident_volume"] / units["officers"]
    rng = np.random.default_rng(3)
    obs = pd.DataFrame(
        {
            "period": "2025-04",
            "unit_id": units["unit_id"],
            "indicator": "x",
            "value": 95 - 12 * np.log(workload) + rng.normal(0, 3, 30),
            "numerator": np.nan,
            "denominator": np.nan,
            "rater_id": None,
        }
    )
    ev = evaluate(fw, obs, units, "2025-04", compare_previous=False)
    table = difficulty_table(fw, ev.scored_units, ev.scores.set_index("unit_id")["raw_score"])
    assert list(table.columns[:4]) == ["unit_id", "name", "class", "declared_coefficient"]
    assert len(table) == 30 and table["implied_coefficient"].is_monotonic_decreasing
    # the class itself is never a covariate (no step at class boundaries)
    hardest = table.iloc[0]
    assert hardest["workload_per_officer"] >= table["workload_per_officer"].quantile(0.75)
    classes = class_coefficients(table).set_index("class")
    assert classes["n_units"].sum() == 30
    assert classes.loc["一类", "declared_coefficient"] == 1.1
    assert (classes["implied_min"] <= classes["implied_mean"]).all()
