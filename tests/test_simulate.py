"""Tests of the synthetic data generator: contract, determinism, realism and defects."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfmodel.framework import framework_from_dict, load_framework
from perfmodel.periods import PeriodError, parse_month, reporting_deadline
from perfmodel.simulate import (
    CLASS_RULES,
    DEFECT_COLUMNS,
    DEFECT_TYPES,
    OBSERVATION_COLUMNS,
    ROLES,
    TRUTH_UNIT_COLUMNS,
    TRUTH_VALUE_COLUMNS,
    UNIT_COLUMNS,
    SimulationError,
    generate_sample,
    simulate,
    write_sample,
)

STATION = "station_four_dimension"
SMALL = {"stations": 12, "months": 4, "officers_per_station": 6}


@pytest.fixture(scope="module")
def station_fw():
    return load_framework(STATION)


@pytest.fixture(scope="module")
def investigators_fw():
    return load_framework("officer_criminal_investigation")


@pytest.fixture(scope="module")
def clean(station_fw, investigators_fw):
    """A small clean sample (no defects) of a station and an officer framework."""
    return simulate([station_fw, investigators_fw], rng=11, defect_rate=0, **SMALL)


@pytest.fixture(scope="module")
def realism(station_fw):
    """120 stations × 12 months, with and without confounding (same seed)."""
    kwargs = {"stations": 120, "months": 12, "officers_per_station": 0, "rng": 5, "defect_rate": 0}
    return {flag: simulate([station_fw], confounding=flag, **kwargs) for flag in (True, False)}


def _kinds(fw):
    return fw.input_indicators()


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_frames(station_fw, investigators_fw, clean):
    again = simulate([station_fw, investigators_fw], rng=11, defect_rate=0, **SMALL)
    pd.testing.assert_frame_equal(clean.units, again.units)
    for fid, obs in clean.observations.items():
        pd.testing.assert_frame_equal(obs, again.observations[fid])
    pd.testing.assert_frame_equal(clean.truth_units, again.truth_units)
    pd.testing.assert_frame_equal(clean.truth_values, again.truth_values)
    assert clean.parameters == again.parameters


def test_different_seed_gives_different_data(station_fw, clean):
    other = simulate([station_fw], rng=12, defect_rate=0, **SMALL)
    assert not clean.units["population"].equals(other.units["population"])
    mine = clean.observations[STATION]["value"].to_numpy()
    theirs = other.observations[STATION]["value"].to_numpy()
    assert len(mine) != len(theirs) or not np.array_equal(mine, theirs)


def test_framework_data_do_not_depend_on_other_frameworks(station_fw, clean):
    alone = simulate([station_fw], rng=11, defect_rate=0, **SMALL)
    pd.testing.assert_frame_equal(alone.observations[STATION], clean.observations[STATION])


def test_an_indicator_shared_by_two_frameworks_has_the_same_data(station_fw):
    quadrant = load_framework("station_quadrant")
    sample = simulate([station_fw, quadrant], rng=6, defect_rate=0, **SMALL)
    columns = ["period", "unit_id", "value", "numerator", "denominator"]
    for indicator in ("hazard_rectification_rate", "window_processing_days", "housekeeping_score"):
        mine, theirs = (
            obs.loc[obs["indicator"] == indicator, columns].reset_index(drop=True)
            for obs in (sample.observations[STATION], sample.observations[quadrant.id])
        )
        assert len(mine) > 0
        pd.testing.assert_frame_equal(mine, theirs)


def test_written_files_are_byte_identical_and_complete(tmp_path, station_fw, investigators_fw):
    sample = simulate([station_fw, investigators_fw], rng=3, defect_rate=0.01, **SMALL)
    first = write_sample(sample, tmp_path / "a")
    second = write_sample(simulate([station_fw, investigators_fw], rng=3, defect_rate=0.01, **SMALL), tmp_path / "b")
    assert {p.relative_to(tmp_path / "a").as_posix() for p in first.values()} == {
        "units.csv",
        "observations/station_four_dimension.csv.gz",
        "observations/officer_criminal_investigation.csv.gz",
        "station_observations.csv.gz",
        "truth_units.csv",
        "truth_values.csv.gz",
        "defects.csv",
        "parameters.json",
    }
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key
    assert first["station_observations"].read_bytes() == first[f"observations/{STATION}"].read_bytes()
    params = json.loads(first["parameters"].read_text(encoding="utf-8"))
    assert params["seed"] == 3 and params["n_stations"] == 12
    assert [f["id"] for f in params["frameworks"]] == [STATION, "officer_criminal_investigation"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) for f in params["frameworks"])


def test_written_observations_read_back_to_the_same_rows(tmp_path, station_fw):
    sample = simulate([station_fw], rng=4, defect_rate=0.02, **SMALL)
    paths = write_sample(sample, tmp_path)
    with gzip.open(paths[f"observations/{STATION}"], "rt", encoding="utf-8") as handle:
        back = pd.read_csv(handle, dtype=str, keep_default_na=False)
    obs = sample.observations[STATION]
    assert list(back.columns) == OBSERVATION_COLUMNS and len(back) == len(obs)
    defects = sample.defects
    for row in defects.itertuples():  # the defects table names the written rows
        assert back.loc[row.row, "unit_id"] == row.unit_id
        assert back.loc[row.row, "period"] == row.period
    numeric = pd.to_numeric(back["value"], errors="coerce")
    written_non_numeric = set(np.flatnonzero(numeric.isna().to_numpy() & (back["value"] != "")))
    assert written_non_numeric == set(defects.loc[defects["defect"] == "non_numeric_value", "row"])


# ----------------------------------------------------------------------------- schema
def test_units_table_follows_the_contract(clean):
    units = clean.units
    assert list(units.columns) == UNIT_COLUMNS
    assert units["unit_id"].is_unique
    stations = units[units["level"] == "station"].set_index("unit_id")
    officers = units[units["level"] == "officer"].set_index("unit_id")
    assert len(stations) == 12 and len(officers) == 12 * 6
    assert stations.index.str.fullmatch(r"PS\d{3}").all()
    assert officers.index.str.fullmatch(r"PS\d{3}-M\d{2}").all()
    assert stations["parent_id"].str.fullmatch(r"D\d{2}").all()
    assert (stations["parent_id"] == stations["district"]).all()
    assert officers["parent_id"].isin(stations.index).all()
    assert set(officers["role"]) <= set(ROLES) and stations["role"].isna().all()
    assert set(officers["gender"]) <= {"男", "女"}
    for column in (
        "district",
        "station_class",
        "station_type",
        "area_type",
        "population",
        "incident_volume",
        "officers",
    ):
        inherited = stations.loc[officers["parent_id"], column].to_numpy()
        assert (officers[column].to_numpy() == inherited).all(), column
    assert (stations["officers"] >= 6).all()
    assert stations["name"].is_unique and stations["name"].str.endswith("派出所").all()


def test_station_classes_follow_population_and_incident_thresholds(realism):
    stations = realism[True].units.query("level == 'station'")
    (first, pop1, inc1), (second, pop2, inc2) = CLASS_RULES
    expected = np.where(
        (stations["population"] >= pop1) | (stations["incident_volume"] >= inc1),
        first,
        np.where((stations["population"] >= pop2) | (stations["incident_volume"] >= inc2), second, "三类"),
    )
    assert (stations["station_class"].to_numpy() == expected).all()
    assert stations["station_class"].value_counts().min() >= 15  # every class well represented
    assert set(stations["station_type"]) == {"地区派出所", "治安派出所"}


def test_observations_follow_the_contract(clean, station_fw, investigators_fw):
    for fw in (station_fw, investigators_fw):
        obs = clean.observations[fw.id]
        assert list(obs.columns) == OBSERVATION_COLUMNS
        assert obs["period"].str.fullmatch(r"\d{4}-\d{2}").all()
        assert pd.api.types.is_float_dtype(obs["value"]) and obs["value"].notna().all()
        assert str(obs["numerator"].dtype) == "Int64" and str(obs["denominator"].dtype) == "Int64"
        assert pd.api.types.is_datetime64_any_dtype(obs["submitted_at"])
        assert set(obs["indicator"]) == set(_kinds(fw))
        kinds = obs["indicator"].map(_kinds(fw))
        rates = obs[kinds == "rate"]
        assert rates["value"].between(0, 1).all()
        assert (rates["numerator"] <= rates["denominator"]).all() and (rates["denominator"] > 0).all()
        ratio = rates["numerator"].astype(float) / rates["denominator"].astype(float)
        np.testing.assert_allclose(rates["value"], ratio)
        others = obs[kinds != "rate"]
        assert others["numerator"].isna().all() and others["denominator"].isna().all()
        counts = obs[kinds == "count"]["value"]
        assert (counts >= 0).all() and (counts == counts.round()).all()
        meta = fw.indicator_meta()
        for indicator, group in obs[kinds.isin(["score", "duration"])].groupby("indicator"):
            low, high = meta[indicator].range
            assert group["value"].between(low, high).all(), indicator


def test_only_the_frameworks_units_are_observed(clean, investigators_fw):
    units = clean.units.set_index("unit_id")
    observed = units.loc[clean.observations[investigators_fw.id]["unit_id"].unique()]
    assert (observed["role"] == "criminal_investigation").all()
    assert set(clean.observations[STATION]["unit_id"]) == set(units.index[units["level"] == "station"])


def test_points_indicator_emits_one_count_per_case_type(clean, investigators_fw):
    obs = clean.observations[investigators_fw.id]
    case_types = set(investigators_fw.node("case_points").node.points)
    assert "case_points" not in set(obs["indicator"])
    assert case_types <= set(obs["indicator"])
    per_month = obs[obs["indicator"].isin(case_types)].groupby(["unit_id", "period"])["indicator"].nunique()
    assert (per_month == len(case_types)).all()
    means = obs[obs["indicator"].isin(case_types)].groupby("indicator")["value"].mean()
    assert means["homicide_solved"] < means["ordinary_criminal_case_solved"]  # 100-point cases are rare


def test_subjective_scores_have_several_raters(clean, station_fw, investigators_fw):
    station = clean.observations[station_fw.id]
    supervised = station[station["indicator"] == "discipline_score"]
    raters = supervised.groupby(["unit_id", "period"])["rater_id"].nunique()
    assert raters.between(2, 3).all() and (raters == 3).any() and (raters == 2).any()
    assert supervised["rater_id"].str.fullmatch(r"D\d{2}-S\d{2}").all()
    officers = clean.observations[investigators_fw.id]
    self_rows = officers[officers["indicator"] == "self_rating"]
    assert (self_rows["rater_id"] == self_rows["unit_id"]).all()
    peers = officers[officers["indicator"] == "peer_rating"]
    assert (peers["rater_id"] != peers["unit_id"]).all()
    assert (peers["rater_id"].str[:5] == peers["unit_id"].str[:5]).all()  # colleagues of the station
    assert officers.loc[~officers["indicator"].str.endswith("_rating"), "rater_id"].isna().all()


def test_bonus_and_negative_items_are_rare_counts(realism):
    obs = realism[True].observations[STATION]
    negative = obs[obs["indicator"].isin(["enforcement_errors", "verified_complaints"])]["value"]
    assert (negative == 0).mean() > 0.85 and negative.max() >= 1


def test_temporary_indicator_is_observed_only_in_its_window():
    quadrant = load_framework("station_quadrant")
    sample = simulate([quadrant], stations=6, months=8, start="2025-09", officers_per_station=0, rng=2, defect_rate=0)
    obs = sample.observations[quadrant.id]
    months = set(obs.loc[obs["indicator"] == "telecom_fraud_prevention_coverage", "period"])
    assert months == {"2025-12", "2026-01", "2026-02"}
    truth = sample.truth_values
    assert set(truth.loc[truth["indicator"] == "telecom_fraud_prevention_coverage", "period"]) == months


def test_submissions_mostly_before_the_27th_of_next_month(realism):
    obs = realism[True].observations[STATION]
    periods = obs["period"].unique()
    deadlines = obs["period"].map({p: reporting_deadline(p) for p in periods})
    late = (obs["submitted_at"] > deadlines).groupby([obs["unit_id"], obs["period"]]).any()
    assert 0.005 < late.mean() < 0.08
    by_unit = late.groupby(level=0).sum().sort_values(ascending=False)
    assert by_unit.iloc[: len(by_unit) // 5].sum() > 0.5 * by_unit.sum()  # clustered in a few units
    assert (obs["submitted_at"] > obs["period"].map({p: parse_month(p).end_time for p in periods})).all()


def test_truth_tables_follow_the_contract(clean, station_fw, investigators_fw):
    truth = clean.truth_units
    assert list(truth.columns) == TRUTH_UNIT_COLUMNS
    station_nodes = set(truth.loc[truth["framework"] == STATION, "node"])
    assert station_nodes == {"overall", *(d.id for d in station_fw.tree)}
    overall = truth[(truth["framework"] == STATION) & (truth["node"] == "overall")].set_index("unit_id")
    dims = truth[(truth["framework"] == STATION) & (truth["node"] != "overall")]
    weights = {d.id: d.weight for d in station_fw.tree}
    recombined = (dims["true_latent"] * dims["node"].map(weights)).groupby(dims["unit_id"]).sum()
    np.testing.assert_allclose(recombined.loc[overall.index], overall["true_latent"], atol=1e-5)
    values = clean.truth_values
    assert list(values.columns) == TRUTH_VALUE_COLUMNS
    n_officers = (clean.units["role"] == "criminal_investigation").sum()
    expected_rows = 12 * 4 * len(_kinds(station_fw)) + n_officers * 4 * len(_kinds(investigators_fw))
    assert len(values) == expected_rows


def test_confounding_switch_keeps_the_truth(realism):
    pd.testing.assert_frame_equal(realism[True].units, realism[False].units)
    pd.testing.assert_frame_equal(realism[True].truth_units, realism[False].truth_units)


# ----------------------------------------------------------------------------- realism
def _composite(sample, fw):
    """Direction-signed, weight-averaged z-scores of each unit's whole-period values."""
    obs, kinds, meta = sample.observations[fw.id], _kinds(fw), fw.indicator_meta()
    parts = []
    for indicator, weight in fw.effective_weights().items():
        rows = obs[obs["indicator"] == indicator]
        if kinds[indicator] == "rate":
            sums = rows.groupby("unit_id")[["numerator", "denominator"]].sum().astype(float)
            value = sums["numerator"] / sums["denominator"]
        else:
            value = rows.groupby("unit_id")["value"].mean()
        sign = -1 if meta[indicator].direction == "lower" else 1
        parts.append(weight * sign * (value - value.mean()) / value.std())
    return pd.concat(parts, axis=1).sum(axis=1)


def _truth(sample, node="overall"):
    truth = sample.truth_units
    return truth[(truth["framework"] == STATION) & (truth["node"] == node)].set_index("unit_id")["true_latent"]


def test_truth_drives_observations_without_confounding(realism, station_fw):
    plain, confounded = (_composite(realism[flag], station_fw) for flag in (False, True))
    truth = _truth(realism[False])
    r_plain = np.corrcoef(truth.loc[plain.index], plain)[0, 1]
    r_confounded = np.corrcoef(truth.loc[confounded.index], confounded)[0, 1]
    assert r_plain > 0.9
    assert r_confounded < r_plain - 0.03  # context blurs the picture


SYSTEM_RATES = (
    "case_compliance_rate",
    "key_person_control_rate",
    "hazard_rectification_rate",
    "mediation_success_rate",
    "three_real_info_rate",
)


def _load_coefficient(sample):
    """Slope of (observed − true) logit of the system rates on standardised log load per officer.

    The true value holds the unit's performance fixed, so the slope is the effect of load alone.
    """
    stations = sample.units.query("level == 'station'").set_index("unit_id")
    load = np.log(stations["incident_volume"] / stations["officers"])
    load = (load - load.mean()) / load.std()
    obs, truth = sample.observations[STATION], sample.truth_values
    gaps, loads = [], []
    for indicator in SYSTEM_RATES:
        sums = obs[obs["indicator"] == indicator].groupby("unit_id")[["numerator", "denominator"]].sum()
        p = (sums["numerator"].astype(float) + 0.5) / (sums["denominator"].astype(float) + 1)
        true = truth[truth["indicator"] == indicator].groupby("unit_id")["true_value"].mean().loc[p.index]
        gaps.append(np.log(p / (1 - p)) - np.log(true / (1 - true)))
        loads.append(load.loc[p.index])
    return np.polyfit(pd.concat(loads), pd.concat(gaps), 1)[0]


def test_load_per_officer_lowers_system_rates_only_with_confounding(realism):
    assert _load_coefficient(realism[True]) < -0.15
    assert abs(_load_coefficient(realism[False])) < 0.06


def test_small_rural_stations_have_small_denominators(realism):
    sample = realism[True]
    stations = sample.units.query("level == 'station'").set_index("unit_id")
    obs = sample.observations[STATION]
    monthly = obs[obs["indicator"] == "case_compliance_rate"].groupby("unit_id")["denominator"].mean()
    area = stations.loc[monthly.index, "area_type"]
    assert monthly[area == "农村"].median() < 0.5 * monthly[area == "城区核心"].median()
    smallest = stations[stations["area_type"] == "农村"].nsmallest(5, "population").index
    assert monthly.reindex(smallest).median() < 10  # a handful of cases a month


def test_citizen_satisfaction_depends_on_area_type(realism):
    def by_area(sample):
        stations = sample.units.query("level == 'station'").set_index("unit_id")
        obs = sample.observations[STATION]
        sums = obs[obs["indicator"] == "callback_satisfaction"].groupby("unit_id")[["numerator", "denominator"]].sum()
        rate = (sums["numerator"] / sums["denominator"]).astype(float)
        gap = (
            rate
            - sample.truth_values.query("indicator == 'callback_satisfaction'").groupby("unit_id")["true_value"].mean()
        )
        return gap.groupby(stations.loc[gap.index, "area_type"]).mean()

    confounded, plain = by_area(realism[True]), by_area(realism[False])
    assert confounded["农村"] - confounded["城乡结合部"] > 0.05
    assert abs(plain["农村"] - plain["城乡结合部"]) < 0.03


def test_raters_differ_in_leniency_only_with_confounding(realism):
    def spread(sample):
        obs = sample.observations[STATION]
        rated = obs[obs["rater_id"].notna()].merge(sample.truth_values, on=["period", "unit_id", "indicator"])
        return (rated["value"] - rated["true_value"]).groupby(rated["rater_id"]).mean()

    lenient = spread(realism[True])
    assert lenient.max() > 5 and lenient.min() < -5
    assert spread(realism[False]).abs().max() < 3


# ----------------------------------------------------------------------------- defects
@pytest.fixture(scope="module")
def dirty(station_fw, investigators_fw):
    return simulate([station_fw, investigators_fw], rng=11, defect_rate=0.03, **SMALL)


def test_defects_table_matches_the_injected_rows_exactly(clean, dirty):
    defects = dirty.defects
    assert list(defects.columns) == DEFECT_COLUMNS
    assert set(defects["defect"]) == set(DEFECT_TYPES)
    for fid, bad in dirty.observations.items():
        good = clean.observations[fid]
        listed = defects[defects["framework"] == fid]
        duplicates = listed.loc[listed["defect"] == "duplicate_row", "row"].to_numpy()
        # a duplicate repeats the row just before it
        for row in duplicates:
            pd.testing.assert_series_equal(bad.iloc[row], bad.iloc[row - 1], check_names=False)
        kept = bad.drop(index=duplicates).reset_index(drop=True)
        assert len(kept) == len(good)
        text = kept.astype(str).where(kept.notna(), "")
        changed = np.flatnonzero((text != good.astype(str).where(good.notna(), "")).any(axis=1).to_numpy())
        shift = np.searchsorted(np.sort(duplicates), listed["row"].to_numpy())
        others = listed["defect"] != "duplicate_row"
        expected = np.sort((listed["row"].to_numpy() - shift)[others.to_numpy()])
        np.testing.assert_array_equal(changed, expected)


def test_each_defect_is_what_its_type_says(dirty, station_fw):
    known_units = set(dirty.units["unit_id"])
    for fid, obs in dirty.observations.items():
        listed = dirty.defects[dirty.defects["framework"] == fid]
        for row in listed.itertuples():
            line = obs.iloc[row.row]
            value = line["value"]
            if row.defect == "numerator_exceeds_denominator":
                assert line["numerator"] > line["denominator"]
            elif row.defect == "percentage_not_fraction":
                assert 1 < float(value) <= 100
                assert float(value) == pytest.approx(100 * line["numerator"] / line["denominator"], rel=1e-3)
            elif row.defect == "non_numeric_value":
                assert isinstance(value, str) and pd.isna(pd.to_numeric(value, errors="coerce"))
            elif row.defect == "unknown_unit":
                assert line["unit_id"] not in known_units and row.original in known_units
            elif row.defect == "unparseable_period":
                with pytest.raises(PeriodError):
                    parse_month(line["period"])
            elif row.defect == "negative_count":
                assert float(value) < 0
    clean_rows = dirty.observations[STATION].drop(index=dirty.defects.query("framework == @STATION")["row"])
    assert pd.to_numeric(clean_rows["value"]).notna().all()


def test_no_defects_at_rate_zero(clean):
    assert clean.defects.empty and list(clean.defects.columns) == DEFECT_COLUMNS


# ----------------------------------------------------------------------------- generic frameworks
def _user_framework():
    leaf = {"weight": 0.2, "source": "system"}
    return framework_from_dict(
        {
            "id": "user_lab",
            "name": {"zh": "实验", "en": "Lab"},
            "level": "station",
            "tree": [
                {
                    "id": "all",
                    "name": {"zh": "全部", "en": "All"},
                    "weight": 1.0,
                    "children": [
                        {
                            **leaf,
                            "id": "complaint_rate",
                            "name": {"zh": "投诉率", "en": "Complaint rate"},
                            "kind": "rate",
                            "direction": "lower",
                            "range": [0, 1],
                            "goalposts": [0.0, 0.2],
                        },
                        {
                            **leaf,
                            "id": "target_ratio",
                            "name": {"zh": "目标比", "en": "Ratio on target"},
                            "kind": "rate",
                            "direction": "target",
                            "target": 0.5,
                            "range": [0, 1],
                        },
                        {
                            **leaf,
                            "id": "growth",
                            "name": {"zh": "增长率", "en": "Growth"},
                            "kind": "rate",
                            "range": [-1, 1],
                            "goalposts": [0.0, 0.2],
                        },
                        {
                            **leaf,
                            "id": "thefts",
                            "name": {"zh": "盗窃发案(每万人)", "en": "Thefts per 10,000"},
                            "kind": "count",
                            "direction": "lower",
                            "denominator": "population",
                            "per": 10000,
                            "goalposts": [5, 60],
                        },
                        {
                            **leaf,
                            "id": "citizen_score",
                            "name": {"zh": "群众评分", "en": "Citizen score"},
                            "kind": "score",
                            "source": "citizen",
                            "range": [0, 5],
                            "weight": 0.1,
                        },
                        {
                            **leaf,
                            "id": "visit_days",
                            "name": {"zh": "回访间隔", "en": "Days between visits"},
                            "kind": "duration",
                            "direction": "target",
                            "target": 14,
                            "weight": 0.1,
                        },
                    ],
                },
            ],
        },
        source="user_lab.yaml",
    )


def test_user_framework_is_simulated_from_attributes_alone():
    fw = _user_framework()
    sample = simulate([fw], stations=20, months=6, officers_per_station=0, rng=9, defect_rate=0)
    obs = sample.observations[fw.id]
    by = {ind: rows for ind, rows in obs.groupby("indicator")}
    assert set(by) == {"complaint_rate", "target_ratio", "growth", "thefts", "citizen_score", "visit_days"}
    assert by["complaint_rate"]["value"].mean() < 0.25
    assert abs(by["target_ratio"]["value"].mean() - 0.5) < 0.15
    assert by["growth"]["numerator"].isna().all() and by["growth"]["value"].between(-1, 1).all()
    assert (by["growth"]["value"] < 0).any()
    assert by["citizen_score"]["value"].between(0, 5).all()
    assert (by["thefts"]["value"] == by["thefts"]["value"].round()).all()
    thefts = by["thefts"].groupby("unit_id")["value"].sum() / sample.units.set_index("unit_id")["population"]
    assert 5 < (thefts.dropna() * 10000 / 2).median() < 60  # per quarter, within the goalposts
    assert 10 < by["visit_days"]["value"].median() < 20


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), stations=st.integers(1, 8), months=st.integers(1, 5))
def test_rates_are_valid_fractions_for_any_seed_and_size(seed, stations, months):
    fw = _user_framework()
    sample = simulate([fw], stations=stations, months=months, officers_per_station=0, rng=seed, defect_rate=0)
    rates = sample.observations[fw.id].query("indicator in ['complaint_rate', 'target_ratio']")
    assert (rates["numerator"] <= rates["denominator"]).all()
    assert rates["value"].between(0, 1).all()


# ----------------------------------------------------------------------------- errors
def test_clear_errors_for_impossible_requests(station_fw, investigators_fw):
    with pytest.raises(SimulationError, match="given twice"):
        simulate([station_fw, station_fw])
    with pytest.raises(SimulationError, match="stations"):
        simulate([station_fw], stations=0)
    with pytest.raises(SimulationError, match="officers_per_station"):
        simulate([investigators_fw], stations=3, officers_per_station=1)
    odd = framework_from_dict({**investigators_fw.model_dump(mode="json", exclude_none=True), "role": "diver"})
    with pytest.raises(SimulationError, match="role 'diver'"):
        simulate([odd], stations=2)


def test_generate_sample_writes_the_sample_files(tmp_path):
    paths = generate_sample(tmp_path, stations=4, months=2, rng=1, frameworks=[STATION])
    units = pd.read_csv(paths["units"])
    assert len(units) == 4 + 4 * 6
    params = json.loads(paths["parameters"].read_text(encoding="utf-8"))
    assert params["frameworks"][0]["file"] == f"{STATION}.yaml"
    assert "perfmodel sample" in params["command"]
    assert paths["station_observations"].exists()


def test_missing_unit_months_report_nothing_but_keep_their_truth(station_fw):
    sample = simulate(
        [station_fw], stations=20, months=6, officers_per_station=0, rng=8, defect_rate=0, missing_rate=0.2
    )
    obs = sample.observations[STATION]
    reported = set(zip(obs["unit_id"], obs["period"], strict=True))
    assert 0.1 < 1 - len(reported) / (20 * 6) < 0.3
    counts = obs[obs["indicator"] == "enforcement_errors"]  # counts are reported every month
    assert reported == set(zip(counts["unit_id"], counts["period"], strict=True))  # whole months missing
    assert len(sample.truth_values) == 20 * 6 * len(_kinds(station_fw))


def test_the_shipped_sample_is_what_its_command_generates(repo_root, tmp_path):
    """data_samples/ is regenerated byte for byte by the command in its README."""
    shipped = repo_root / "data_samples"
    params = json.loads((shipped / "parameters.json").read_text(encoding="utf-8"))
    paths = generate_sample(
        tmp_path, stations=params["n_stations"], months=params["n_months"], rng=params["seed"], start=params["start"]
    )
    assert paths, "nothing generated"
    for path in paths.values():
        relative = Path(path).relative_to(tmp_path)
        assert (shipped / relative).read_bytes() == Path(path).read_bytes(), (
            f"data_samples/{relative} differs from what 'make sample' generates; regenerate it"
        )
