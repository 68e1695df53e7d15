"""The previous period's evaluation is kept slim: its released stages come back identical when read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from perfmodel.evaluation import PREVIOUS_KEPT_STAGES, Evaluation, Settings, read_evaluation_inputs

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples"


@pytest.fixture(scope="module")
def inputs():
    return read_evaluation_inputs(
        "station_four_dimension", SAMPLE / "station_observations.csv.gz", SAMPLE / "units.csv", engine="pandas"
    )


def test_released_stages_of_the_previous_period_equal_a_fresh_run(inputs):
    fw, observations, units, _, _ = inputs
    ev = Evaluation(fw, observations, units, "2025Q2").run()
    assert ev.previous is not None
    held = [key for key in ev.previous.stages if not ev.previous.stages.is_later(key)]
    assert set(held) <= set(PREVIOUS_KEPT_STAGES)
    assert ev.previous.stages.is_later("normalised") and ev.previous.stages.is_later("aggregated")

    fresh = Evaluation(fw, observations, units, "2025Q1", Settings(compare_previous=False)).run()
    for key in ("rolled", "normalised", "aggregated", "treated"):
        pd.testing.assert_frame_equal(ev.previous.stages[key], fresh.stages[key])
    assert set(ev.previous.stages) == set(fresh.stages)
    pd.testing.assert_frame_equal(ev.previous.scores, fresh.scores)


def test_rank_change_is_against_the_previous_period(inputs):
    fw, observations, units, _, _ = inputs
    ev = Evaluation(fw, observations, units, "2025Q2").run()
    before = Evaluation(fw, observations, units, "2025Q1", Settings(compare_previous=False)).run()
    scores = ev.scores.set_index("unit_id")
    expected = before.scores.set_index("unit_id")["rank"].reindex(scores.index)
    pd.testing.assert_series_equal(scores["previous_rank"], expected, check_names=False)
    change = expected - scores["rank"]
    pd.testing.assert_series_equal(scores["rank_change"], change, check_names=False)


def test_release_keeps_the_asked_stages_and_reloads_the_rest_once(inputs):
    fw, observations, units, _, _ = inputs
    ev = Evaluation(fw, observations, units, "2025Q2", Settings(compare_previous=False)).run()
    normalised = ev.stages["normalised"].copy()
    ev.release_stages(keep=["scores"])
    assert not ev.stages.is_later("scores") and ev.stages.is_later("normalised")
    pd.testing.assert_frame_equal(ev.stages["normalised"], normalised)
    assert not ev.stages.is_later("normalised")
    assert ev.stages["values"] is not None
