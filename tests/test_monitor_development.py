"""Development report glue: role frameworks' observation files, collaborations, and the team-share comparison."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfmodel.errors import OptionError
from perfmodel.evaluation import evaluate_files
from perfmodel.framework import load_framework
from perfmodel.monitor.cockpit import officer_cockpit
from perfmodel.monitor.development import (
    OBSERVATION_EXTENSIONS,
    collaborations_of,
    find_observations,
    framework_ids,
    observation_folders,
    officer_evaluations,
    officer_scores,
    officer_truth,
    overview,
    team_shares,
)
from perfmodel.monitor.team import (
    anova_components,
    monthly_credit,
    team_share_interval,
    variance_decomposition,
)
from perfmodel.report.style import apply_report_style, save_figure
from perfmodel.simulate import COLLABORATION_EFFECTS, EFFECTS, simulate, write_sample
from perfmodel.text import say

PERIOD = "2024Q4"
# the module's tests share its module-scoped fixtures: one worker runs them all (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("monitor_development")
ROLES = ["officer_traffic", "officer_emergency"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """A simulated sample in the layout ``perfmodel sample`` writes: 20 stations, 2 roles, 12 months."""
    frameworks = [load_framework(f) for f in ("station_four_dimension", *ROLES)]
    data = simulate(frameworks, stations=20, months=12, start="2024-01", rng=4, defect_rate=0.0, collaborations=True)
    folder = tmp_path_factory.mktemp("sample")
    write_sample(data, folder)
    return folder


@pytest.fixture(scope="module")
def evaluated(sample):
    evs, absent = officer_evaluations(ROLES, sample / "station_observations.csv.gz", sample / "units.csv", PERIOD)
    station = evaluate_files(
        "station_four_dimension", sample / "station_observations.csv.gz", sample / "units.csv", PERIOD
    )
    return station, evs, absent


@pytest.fixture(scope="module")
def cockpits(evaluated):
    return {fid: officer_cockpit(ev) for fid, ev in evaluated[1].items()}


# ---------------------------------------------------------------- finding the role frameworks' files
def test_framework_ids_from_text_or_a_list():
    assert framework_ids(" officer_traffic,officer_emergency , ,officer_traffic") == ROLES
    assert framework_ids(["officer_traffic", " officer_traffic ", ""]) == ["officer_traffic"]
    assert framework_ids("") == []


def test_default_folders_are_the_sample_layout_then_the_folder_itself(tmp_path):
    data = tmp_path / "data" / "station.csv"
    assert observation_folders(data) == [tmp_path / "data" / "observations", tmp_path / "data"]
    assert observation_folders(data, "") == observation_folders(data)
    assert observation_folders(data, tmp_path / "other") == [tmp_path / "other"]


def test_files_are_found_in_either_layout_in_a_fixed_order(tmp_path):
    sub, flat = tmp_path / "observations", tmp_path
    sub.mkdir()
    folders = [sub, flat]
    assert find_observations("officer_traffic", folders) is None
    (flat / "officer_traffic.xlsx").write_bytes(b"")
    assert find_observations("officer_traffic", folders) == flat / "officer_traffic.xlsx"
    (flat / "officer_traffic.csv").write_text("")
    assert find_observations("officer_traffic", folders) == flat / "officer_traffic.csv"  # csv before xlsx
    (sub / "officer_traffic.parquet").write_bytes(b"")
    assert find_observations("officer_traffic", folders) == sub / "officer_traffic.parquet"  # first folder wins
    (sub / "officer_traffic.csv.gz").write_bytes(b"")
    assert find_observations("officer_traffic", folders) == sub / "officer_traffic.csv.gz"
    (sub / "officer_emergency.csv.gz").mkdir()  # a folder of that name is not a file
    assert find_observations("officer_emergency", folders) is None
    assert OBSERVATION_EXTENSIONS[0] == ".csv.gz"


def test_role_frameworks_are_evaluated_from_the_sample_layout(sample, evaluated):
    _, evs, absent = evaluated
    assert list(evs) == ROLES and absent == []
    for fid, ev in evs.items():
        direct = evaluate_files(fid, sample / "observations" / f"{fid}.csv.gz", sample / "units.csv", PERIOD)
        pd.testing.assert_frame_equal(ev.scores, direct.scores)
        assert (ev.scored_units["level"] == "officer").all() and len(ev.scores) == 20  # one officer per station


def test_flat_layout_and_absent_frameworks(tmp_path, sample, evaluated):
    for name in ("units.csv", "station_observations.csv.gz"):
        shutil.copy(sample / name, tmp_path / name)
    shutil.copy(sample / "observations" / "officer_traffic.csv.gz", tmp_path / "officer_traffic.csv.gz")
    evs, absent = officer_evaluations(
        "officer_diving, officer_traffic,officer_emergency,officer_traffic",
        tmp_path / "station_observations.csv.gz",
        tmp_path / "units.csv",
        PERIOD,
    )
    assert list(evs) == ["officer_traffic"] and absent == ["officer_diving", "officer_emergency"]
    pd.testing.assert_frame_equal(evs["officer_traffic"].scores, evaluated[1]["officer_traffic"].scores)
    none, missing = officer_evaluations(
        ROLES,
        tmp_path / "station_observations.csv.gz",
        tmp_path / "units.csv",
        PERIOD,
        folders=[tmp_path / "elsewhere"],
    )
    assert none == {} and missing == ROLES
    with pytest.raises(OptionError, match=r"officer_evaluations: the framework argument is .*station_observations"):
        officer_evaluations(tmp_path / "station_observations.csv.gz", tmp_path / "units.csv", ROLES, PERIOD)


def test_collaborations_beside_the_units_or_at_a_given_path(tmp_path, sample, evaluated):
    units = evaluated[0].units
    found, path = collaborations_of(sample / "units.csv", units)
    assert path == sample / "collaborations.csv"
    raw = pd.read_csv(path)
    assert len(found) == len(raw) and found["contribution_share"].sum() == pytest.approx(raw["case_id"].nunique())
    assert collaborations_of(sample / "units.csv", units, "")[1] == path
    nothing, where = collaborations_of(sample / "units.csv", units, tmp_path / "none.csv")
    assert nothing is None and where == tmp_path / "none.csv"


def test_overview_counts_stations_officers_and_roles(evaluated):
    station, evs, _ = evaluated
    facts = overview(station, evs, "en")
    assert facts == {"n_stations": 20, "framework": station.framework.name.en, "n_officers": 40, "n_roles": 2}
    assert overview(station, {}, "zh")["framework"] == station.framework.name.zh
    assert overview(station, {}, "zh")["n_officers"] == 0


# ---------------------------------------------------------------- officer scores and truth
def test_officer_scores_pool_the_scored_officers_of_every_role(cockpits):
    scores = officer_scores(cockpits)
    assert list(scores.columns) == ["unit_id", "station", "peer_group", "score"]
    expected = sum(c.profiles["score"].notna().sum() for c in cockpits.values())
    assert len(scores) == expected == 40 and scores["score"].notna().all()
    assert scores["peer_group"].nunique() == 2
    assert officer_scores({}).empty


def test_officer_truth_keeps_overall_truth_of_scored_officers(tmp_path):
    scores = pd.DataFrame(
        {"unit_id": ["S1-M1", "S2-M1"], "station": ["S1", "S2"], "peer_group": ["t", "t"], "score": [70.0, 60.0]}
    )
    pd.DataFrame(
        {
            "framework": ["f"] * 5,
            "unit_id": ["S1-M1", "S2-M1", "S3-M1", "S1-M1", "S1"],
            "level": ["officer"] * 4 + ["station"],
            "node": ["overall", "overall", "overall", "quality", "overall"],
            "true_latent": [0.5, -0.2, 1.0, 0.3, 0.0],
            "true_trend": [0.0] * 5,
        }
    ).to_csv(tmp_path / "truth_units.csv", index=False)
    truth = officer_truth(tmp_path, scores).sort_values("unit_id")
    assert truth["unit_id"].tolist() == ["S1-M1", "S2-M1"]
    assert truth["true_latent"].tolist() == [0.5, -0.2] and truth["station"].tolist() == ["S1", "S2"]
    assert officer_truth(tmp_path / "real", scores).empty  # real data: no truth
    assert officer_truth(tmp_path, scores.iloc[:0]).empty
    pd.DataFrame({"unit_id": ["S1-M1"], "node": ["overall"]}).to_csv(tmp_path / "truth_units.csv", index=False)
    with pytest.raises(ValueError, match="true_latent"):
        officer_truth(tmp_path, scores)


# ---------------------------------------------------------------- team shares
def _same(got, expected) -> None:
    """Two variance decompositions with the same fields (NaN equal to NaN)."""
    got, expected = asdict(got), asdict(expected)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            np.testing.assert_allclose(got[key], value, rtol=1e-12, equal_nan=True, err_msg=key)
        else:
            assert got[key] == value, key


@pytest.fixture(scope="module")
def shares(sample, evaluated, cockpits):
    collab, _ = collaborations_of(sample / "units.csv", evaluated[0].units)
    return team_shares(collab, evaluated[0].units, PERIOD, months=12, cockpits=cockpits, folder=sample, rng=0), collab


def test_team_shares_compare_credit_scores_and_planted_truth(sample, evaluated, cockpits, shares):
    result, collab = shares
    units = evaluated[0].units
    assert result.outcomes == ("collaboration_credit", "officer_scores", "officer_performance")
    # the simulator plants these team shares (sample parameters.json)
    assert result.planted == {0: COLLABORATION_EFFECTS.team_share, 2: EFFECTS.officer_icc}
    assert result.n_months == 12
    panel = monthly_credit(collab, units, months=[f"2024-{m:02d}" for m in range(1, 13)])
    direct = variance_decomposition(panel, "credit", "station", "officer_id", period="period")
    _same(result.credit, direct)
    assert result.interval == team_share_interval(panel, "credit", "station", "officer_id", period="period", rng=0)
    _same(result.check, anova_components(panel, "credit", "station", "officer_id", period="period"))
    low, high = result.interval
    assert 0 <= low <= high <= 1
    scores = officer_scores(cockpits)
    _same(result.results[1], variance_decomposition(scores, "score", "station", adjust_for=["peer_group"]))
    truth = pd.read_csv(sample / "truth_units.csv")
    truth = truth[(truth["node"] == "overall") & truth["unit_id"].isin(scores["unit_id"])]
    assert result.results[2].n_observations == len(truth) == 40


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_team_share_table_and_figure_carry_the_labels(tmp_path, shares, lang):
    apply_report_style()
    result, _ = shares
    table = result.table(lang)
    labels = [say(f"monitor.development.outcome.{k}", lang) for k in result.outcomes]
    assert table.iloc[:, 0].tolist() == labels == result.labels(lang)
    assert table.iloc[:, 6].tolist() == pytest.approx([r.team_share for r in result.results])
    assert save_figure(result.figure(lang), tmp_path / "shares.png").stat().st_size > 5_000


def test_without_cockpits_or_sample_only_the_credit_is_decomposed(evaluated, shares):
    _, collab = shares
    units = evaluated[0].units
    alone = team_shares(collab, units, PERIOD, months=6, rng=0)
    assert alone.outcomes == ("collaboration_credit",) and alone.planted == {} and alone.n_months == 6
    # an officer missing from the units leaves one station with five officers: no balanced ANOVA check
    officer = units.loc[units["level"] == "officer", "unit_id"].iloc[0]
    unbalanced = team_shares(collab[collab["officer_id"] != officer], units[units["unit_id"] != officer], PERIOD)
    assert unbalanced.interval is None and unbalanced.check is None
    assert not np.isnan(unbalanced.credit.team_share)
