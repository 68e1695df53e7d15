"""Simulated calibration cases with known truth, truth tables over one seed or several, report helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.calibrate import (
    CalibrationCase,
    evaluate_case,
    r2_on_context,
    raw_scores,
    robustness_summary,
    seed_robustness,
    simulate_calibration_case,
    truth_recovery,
    truth_recovery_table,
)
from perfmodel.calibrate.truth import TRUTH_CONTEXT
from perfmodel.evaluation import evaluate
from perfmodel.framework import load_framework
from perfmodel.periods import months_in
from perfmodel.report import calibration as rc
from perfmodel.simulate import EFFECTS, Effects, simulate

FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"


CALIBRATION_CASE_GROUP = pytest.mark.xdist_group("calibration_case")
"""The tests reading this module's module-scoped fixtures run on one worker (make test: ``--dist loadgroup``)."""


@pytest.fixture(scope="module")
def case() -> CalibrationCase:
    return simulate_calibration_case(FRAMEWORK, PERIOD, stations=40, rng=3)


@pytest.fixture(scope="module")
def evaluations(case):
    return evaluate_case(case, ("none", "casemix", "full"))


# ---------------------------------------------------------------- the simulated case
@CALIBRATION_CASE_GROUP
def test_case_covers_the_period_with_clean_confounded_data(case):
    assert case.framework.id == FRAMEWORK and case.period == PERIOD and case.seed == 3
    stations = case.units[case.units["level"] == "station"]
    assert len(stations) == 40 and (case.units["level"] == "station").all()  # a station framework: no officers
    assert set(case.observations["period"].astype(str)) == {str(m) for m in months_in(PERIOD)}
    assert set(case.truth.index) == set(stations["unit_id"])
    assert set(case.scored_units["unit_id"]) == set(case.truth.index)


def test_case_truth_is_the_simulators_overall_latent():
    """The same arguments of simulate itself give the truth the case carries."""
    fw = load_framework(FRAMEWORK)
    sample = simulate(
        [fw], stations=25, months=3, start="2025-04", rng=5, officers_per_station=0, defect_rate=0.0, confounding=True
    )
    expected = sample.truth_units[sample.truth_units["node"] == "overall"].set_index("unit_id")["true_latent"]
    got = simulate_calibration_case(fw, PERIOD, stations=25, rng=5)
    pd.testing.assert_series_equal(got.truth.sort_index(), expected.sort_index(), check_names=False)
    assert len(got.observations) == len(sample.observations[fw.id])  # clean data: no row rejected


@CALIBRATION_CASE_GROUP
def test_same_seed_same_case_and_another_seed_another(case):
    again = simulate_calibration_case(FRAMEWORK, PERIOD, stations=40, rng=3)
    pd.testing.assert_frame_equal(again.observations, case.observations)
    pd.testing.assert_series_equal(again.truth, case.truth)
    other = simulate_calibration_case(FRAMEWORK, PERIOD, stations=40, rng=4)
    assert not np.allclose(other.truth.sort_index().to_numpy(), case.truth.sort_index().to_numpy())


def test_officer_framework_case_scores_the_role_officers_only():
    officers = simulate_calibration_case("officer_traffic", PERIOD, stations=10, rng=2)
    assert (officers.units["level"] == "officer").sum() == 60  # six officers per station
    assert len(officers.truth) == 10  # one traffic officer per station (role pattern)
    assert (officers.scored_units["level"] == "officer").all()


# ---------------------------------------------------------------- evaluations and scores
@CALIBRATION_CASE_GROUP
def test_evaluate_case_runs_each_mode_on_the_same_data(case, evaluations):
    assert list(evaluations) == ["none", "casemix", "full"]
    assert [ev.settings.calibration for ev in evaluations.values()] == ["none", "casemix", "full"]
    direct = evaluate(case.framework, case.observations, case.units, PERIOD, compare_previous=False)
    pd.testing.assert_frame_equal(evaluations["none"].scores, direct.scores)


@CALIBRATION_CASE_GROUP
def test_raw_scores_are_the_weighted_scores_before_difficulty(evaluations):
    ev = evaluations["full"]
    scores = raw_scores(ev)
    assert scores.index.name == "unit_id" and len(scores) == len(ev.scores)
    row = ev.scores.iloc[0]
    assert scores[row["unit_id"]] == row["raw_score"]


# ---------------------------------------------------------------- truth tables
@CALIBRATION_CASE_GROUP
def test_truth_recovery_table_adds_the_r2_on_the_calibration_covariates(case, evaluations):
    scores = {mode: raw_scores(ev) for mode, ev in evaluations.items()}
    table = truth_recovery_table(scores, case.truth, case.scored_units)
    direct = truth_recovery(scores, case.truth, case.scored_units, [*TRUTH_CONTEXT, "district"], ceiling=TRUTH_CONTEXT)
    pd.testing.assert_frame_equal(table.drop(columns="r2_calibration_covariates"), direct)
    columns = list(table.columns)
    assert columns.index("r2_calibration_covariates") == columns.index("r2_context") + 1
    own = table.set_index("score")["r2_calibration_covariates"]
    for label, score in [*scores.items(), ("truth", case.truth)]:
        assert own[label] == pytest.approx(
            r2_on_context(score, case.scored_units, list(TRUTH_CONTEXT), minimum=False)["r2"]
        )
    # fewer covariates can only explain less
    assert (table["r2_calibration_covariates"] <= table["r2_context"] + 1e-12).all()


def test_seed_table_has_a_row_per_seed_equal_to_truth_recovery_run_directly():
    table = seed_robustness(FRAMEWORK, PERIOD, [11, 12], stations=30)
    assert table["seed"].tolist() == [11, 12]
    for seed in (11, 12):
        fw = load_framework(FRAMEWORK)
        sample = simulate(
            [fw],
            stations=30,
            months=3,
            start="2025-04",
            rng=seed,
            officers_per_station=0,
            defect_rate=0.0,
            confounding=True,
        )
        case = simulate_calibration_case(fw, PERIOD, stations=30, rng=seed)
        truth = sample.truth_units.query("node == 'overall'").set_index("unit_id")["true_latent"]
        scores = {
            mode: evaluate(
                fw, case.observations, case.units, PERIOD, compare_previous=False, calibration=mode
            ).scores.set_index("unit_id")["raw_score"]
            for mode in ("none", "full")
        }
        units = case.units[case.units["unit_id"].isin(truth.index)]
        direct = truth_recovery(scores, truth, units, [*TRUTH_CONTEXT, "district"], ceiling=TRUTH_CONTEXT).set_index(
            "score"
        )
        row = table.set_index("seed").loc[seed]
        assert row["spearman_none"] == pytest.approx(direct.loc["none", "spearman"])
        assert row["spearman_full"] == pytest.approx(direct.loc["full", "spearman"])
        assert row["spearman_truth_net_of_context"] == pytest.approx(direct.loc["truth_net_of_context", "spearman"])
        assert row["r2_none"] == pytest.approx(direct.loc["none", "r2_context"])
        assert row["r2_full"] == pytest.approx(direct.loc["full", "r2_context"])
        assert row["r2_truth"] == pytest.approx(direct.loc["truth", "r2_context"])


def test_no_seeds_give_an_empty_table_with_the_columns():
    table = seed_robustness(FRAMEWORK, PERIOD, [], stations=30)
    assert table.empty and list(table.columns[:3]) == ["seed", "spearman_none", "spearman_full"]
    summary = robustness_summary(table)
    assert summary["n_seeds"] == 0 and summary["n_better"] == 0 and np.isnan(summary["mean_change"])


def test_robustness_summary_by_hand():
    table = pd.DataFrame({"seed": [1, 2, 3], "spearman_none": [0.5, 0.6, 0.7], "spearman_full": [0.6, 0.55, 0.9]})
    summary = robustness_summary(table)
    assert summary["n_seeds"] == 3 and summary["n_better"] == 2
    assert summary["mean_change"] == pytest.approx((0.1 - 0.05 + 0.2) / 3)


# ---------------------------------------------------------------- report helpers
def test_effects_table_lists_the_simulator_effect_sizes():
    table = rc.effects_table()
    assert table["size"].tolist() == [
        EFFECTS.load,
        EFFECTS.fringe,
        EFFECTS.district,
        EFFECTS.supervisor_leniency,
        EFFECTS.theta_resource_corr,
    ]
    assert rc.effects_table(Effects(load=0.9))["size"].iloc[0] == 0.9


@CALIBRATION_CASE_GROUP
def test_calibrated_evaluation_names_what_to_plot(evaluations):
    full = evaluations["full"]
    models = full.stages["casemix_models"]["indicator"].tolist()
    assert rc.expected_observed_indicators(full, n=2) == models[:2]
    raters = rc.rater_indicators(full)
    assert raters == list(dict.fromkeys(full.stages["rater_effects"]["indicator"]))
    assert raters  # the station framework has supervisor-rated indicators
    enhancement = rc.self_enhancement_summary(full)
    stage = full.stages.get("self_enhancement", pd.DataFrame())
    assert len(enhancement) == (8 if len(stage) else 0)  # count, mean, std, min, quartiles, max


@CALIBRATION_CASE_GROUP
def test_uncalibrated_evaluation_has_nothing_calibrated_to_show(evaluations):
    raw = evaluations["none"]
    assert rc.rater_indicators(raw) == []
    assert rc.self_enhancement_summary(raw).empty
    with pytest.raises(ValueError, match="calibration='casemix' or 'full'"):
        rc.expected_observed_indicators(raw)
