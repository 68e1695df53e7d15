"""Calibration recovers true performance when context is confounded.

Two generating processes:

* ``perfmodel.simulate`` with ``confounding=True`` (load per officer, urban-rural
  fringe, district difficulty, lenient and harsh supervisors, small rural
  stations), two seeds;
* a second process written here, different on purpose: context acts
  multiplicatively (power laws of workload and incident rate, odds ratios by
  area), true performance has heavy tails (Student t) and is independent of
  context, raters are drawn from one pool for all stations with a skewed
  leniency distribution, and small stations have a handful of cases.

In each, the calibrated composite (``calibration="full"``) must rank units
closer to the truth than the raw composite (Spearman), and its dependence on
context (R² of the score on context) must drop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.calibrate.truth import truth_recovery
from perfmodel.evaluation import evaluate
from perfmodel.framework import framework_from_dict, load_framework

CONTEXT = ["log_workload", "log_population", "area_type", "station_type"]


def _recovery(framework, observations, units, truth, period, covariates):
    scores = {}
    for mode in ("none", "full"):
        ev = evaluate(
            framework, observations, units, period, compare_previous=False, peer_group="none", calibration=mode
        )
        scores[mode] = ev.scores.set_index("unit_id")["raw_score"]
    table = truth_recovery(scores, truth, units, covariates).set_index("score")
    return table


# --------------------------------------------------------------------------- simulator
@pytest.mark.parametrize("seed", [7, 8])
def test_simulator_calibrated_composite_is_closer_to_truth(seed):
    from perfmodel.simulate import simulate
    from perfmodel.validation import validate_observations, validate_units

    fw = load_framework("station_four_dimension")
    sample = simulate(
        [fw],
        stations=100,
        months=3,
        start="2025-04",
        rng=seed,
        officers_per_station=0,
        defect_rate=0.0,
        confounding=True,
    )
    units = validate_units(sample.units, source="units").data
    obs = validate_observations(sample.observations[fw.id], units, fw, source="obs").data
    truth = sample.truth_units.query("node == 'overall'").set_index("unit_id")["true_latent"]
    table = _recovery(fw, obs, units, truth, "2025Q2", [*CONTEXT, "district"])
    raw, cal = table.loc["none"], table.loc["full"]
    assert cal["spearman"] > raw["spearman"] + 0.01
    # district difficulty is not a calibration covariate, yet the R² with it drops too
    assert cal["r2_context"] < raw["r2_context"] - 0.08
    # on the calibration's own covariates nothing is left
    own = _recovery(fw, obs, units, truth, "2025Q2", CONTEXT)
    assert own.loc["full", "r2_context"] < 0.05 < own.loc["none", "r2_context"]


# --------------------------------------------------------------------------- second process
FRAMEWORK_B = {
    "id": "truth_check_b",
    "name": {"zh": "校准检验框架", "en": "Calibration check framework"},
    "level": "station",
    "normalisation": {"method": "minmax"},
    "calibration": {"covariates": ["log_workload", "log_population", "area_type"]},
    "tree": [
        {
            "id": "outcomes",
            "name": {"zh": "结果", "en": "Outcomes"},
            "weight": 0.6,
            "children": [
                {
                    "id": "clearance_rate",
                    "name": {"zh": "破案率", "en": "Clearance rate"},
                    "weight": 0.35,
                    "kind": "rate",
                    "direction": "higher",
                    "range": [0, 1],
                },
                {
                    "id": "incidence",
                    "name": {"zh": "发案数(每万人)", "en": "Cases per 10,000"},
                    "weight": 0.35,
                    "kind": "count",
                    "direction": "lower",
                    "denominator": "population",
                    "per": 10000,
                },
                {
                    "id": "response_minutes",
                    "name": {"zh": "到场时长", "en": "Response time"},
                    "weight": 0.30,
                    "kind": "duration",
                    "direction": "lower",
                },
            ],
        },
        {
            "id": "views",
            "name": {"zh": "评价", "en": "Views"},
            "weight": 0.4,
            "children": [
                {
                    "id": "satisfaction",
                    "name": {"zh": "满意率", "en": "Satisfaction"},
                    "weight": 0.5,
                    "kind": "rate",
                    "direction": "higher",
                    "source": "citizen",
                    "range": [0, 1],
                },
                {
                    "id": "leader_score",
                    "name": {"zh": "上级评分", "en": "Leader score"},
                    "weight": 0.5,
                    "kind": "score",
                    "direction": "higher",
                    "source": "supervisor",
                    "range": [0, 100],
                },
            ],
        },
    ],
}


def second_process(seed: int, n: int = 90):
    """Stations whose raw scores are driven by workload and area, with known truth."""
    rng = np.random.default_rng(seed)
    areas = np.array(["城区核心", "城乡结合部", "农村"], dtype=object)
    area = rng.choice(3, n, p=[0.3, 0.3, 0.4])
    population = np.round(np.array([40_000, 30_000, 9_000])[area] * rng.lognormal(0, 0.6, n), -2)
    incidents = np.maximum(np.round(population / 1000 * np.array([5.0, 8.0, 2.5])[area] * rng.lognormal(0, 0.35, n)), 4)
    officers = np.maximum(np.round(incidents / rng.gamma(6.0, 2.0, n)), 2)
    workload = incidents / officers
    theta = rng.standard_t(5, n) / np.sqrt(5 / 3)  # unit variance, heavy tails, independent of context
    rel_load = workload / np.median(workload)
    rel_rate = (incidents / population) / np.median(incidents / population)
    fringe, core = area == 1, area == 0

    units = pd.DataFrame(
        {
            "unit_id": [f"S{i:03d}" for i in range(n)],
            "name": [f"站{i}" for i in range(n)],
            "level": "station",
            "parent_id": "D1",
            "district": "D1",
            "station_class": "一类",
            "station_type": "地区派出所",
            "area_type": areas[area],
            "population": population.astype(int),
            "incident_volume": incidents.astype(int),
            "officers": officers.astype(int),
        }
    )
    raters = np.array([f"L{j:02d}" for j in range(12)], dtype=object)
    leniency = rng.choice([-9.0, -2.0, 0.0, 1.0, 10.0], 12, p=[0.2, 0.2, 0.2, 0.2, 0.2])
    rows = []
    for month in ("2025-04", "2025-05", "2025-06"):
        cases = rng.poisson(incidents * 0.08)  # cases behind the clearance rate: few in small stations
        odds = np.exp(0.3 + 0.7 * theta) * rel_load**-0.9 * np.where(fringe, 0.6, 1.0)
        cleared = rng.binomial(cases, odds / (1 + odds))
        surveys = rng.poisson(np.maximum(population / 2500, 3))
        s_odds = np.exp(1.0 + 0.6 * theta) * np.where(core, 1.6, np.where(fringe, 0.7, 1.0))
        satisfied = rng.binomial(surveys, s_odds / (1 + s_odds))
        mean_cases = population / 10_000 * 6 * np.exp(-0.45 * theta) * rel_rate**0.9
        counts = rng.poisson(mean_cases * rng.gamma(8, 1 / 8, n))
        calls = np.maximum(rng.poisson(incidents * 0.5), 1)
        mean_minutes = 18 * np.exp(-0.3 * theta) * rel_load**0.5 * np.where(area == 2, 1.5, 1.0)
        minutes = rng.gamma(2.0 * calls, mean_minutes / (2.0 * calls))
        for i in range(n):
            uid = units.at[i, "unit_id"]
            if cases[i] > 0:
                rows.append((month, uid, "clearance_rate", cleared[i] / cases[i], cleared[i], cases[i], None))
            if surveys[i] > 0:
                rows.append((month, uid, "satisfaction", satisfied[i] / surveys[i], satisfied[i], surveys[i], None))
            rows.append((month, uid, "incidence", float(counts[i]), np.nan, np.nan, None))
            rows.append((month, uid, "response_minutes", float(minutes[i]), np.nan, np.nan, None))
            for j in rng.choice(12, 2, replace=False):
                rating = 72 + 7 * theta[i] - 4 * np.log(rel_load[i]) + leniency[j] + rng.normal(0, 4)
                rows.append((month, uid, "leader_score", float(np.clip(rating, 0, 100)), np.nan, np.nan, raters[j]))
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id"]
    )
    obs["numerator"] = obs["numerator"].astype(float)
    obs["denominator"] = obs["denominator"].astype(float)
    truth = pd.Series(theta, index=units["unit_id"], name="truth")
    return units, obs, truth


@pytest.mark.parametrize("seed", [3, 4])
def test_second_process_calibrated_composite_is_closer_to_truth(seed):
    fw = framework_from_dict(FRAMEWORK_B, source="test")
    units, obs, truth = second_process(seed)
    table = _recovery(fw, obs, units, truth, "2025Q2", ["log_workload", "log_population", "area_type"])
    raw, cal = table.loc["none"], table.loc["full"]
    assert cal["spearman"] > raw["spearman"] + 0.05
    assert cal["r2_context"] < 0.5 * raw["r2_context"]
    assert cal["r2_context"] < 0.12
