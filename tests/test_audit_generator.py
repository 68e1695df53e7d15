"""The audit tests' generator (``tests/audit_builders.py``) really plants, or leaves out, the effect."""

from __future__ import annotations

import pandas as pd
from audit_builders import CUTOFFS, planted_data, station_frames


def test_station_frames_have_the_planted_gap_and_none_without_it():
    planted = pd.concat(station_frames(50, penalty=8.0, seed=1))
    null = pd.concat(station_frames(50, penalty=0.0, seed=1))
    gap = planted.groupby("area_type")["score"].mean()
    assert gap["农村"] - gap["城区核心"] < -6.5
    means = null.groupby("area_type")["score"].mean()
    assert abs(means["农村"] - means["城区核心"]) < 1.0
    assert set(null["grade"]) <= set(CUTOFFS) | {"不合格"}


def test_planted_response_times_are_longer_in_rural_areas_only():
    _, obs, units = planted_data(seed=2, rural_minutes=6.0)
    minutes = obs[obs.indicator == "response_minutes"].merge(units[["unit_id", "area_type"]], on="unit_id")
    by_area = minutes.groupby("area_type")["value"].mean()
    assert by_area["农村"] - by_area["城区核心"] > 4.0
    _, obs0, _ = planted_data(seed=2, rural_minutes=0.0)
    plain = obs0[obs0.indicator == "response_minutes"].merge(units[["unit_id", "area_type"]], on="unit_id")
    assert abs(plain.groupby("area_type")["value"].mean().pipe(lambda s: s["农村"] - s["城区核心"])) < 2.0
