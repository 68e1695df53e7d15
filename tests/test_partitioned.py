"""``perfmodel score --partition-by``: one evaluation per assessment unit on a 2-process LocalCluster.

The expectation is independent of :mod:`perfmodel.partitioned`: each district's units
and observations are cut out here with plain pandas and scored alone by
:func:`perfmodel.evaluation.evaluate` in this process; the Dask run must give the
same scores, ranks, grades and quarantine, row for row.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from perfmodel import partitioned
from perfmodel.cli import main
from perfmodel.evaluation import evaluate, read_evaluation_inputs
from perfmodel.partitioned import evaluate_partitioned
from perfmodel.simulate import generate_sample

distributed = pytest.importorskip("distributed")

FRAMEWORK = "station_four_dimension"
PERIOD = "2024Q2"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small world: 30 stations in two districts, six months."""
    return generate_sample(tmp_path_factory.mktemp("sample"), stations=30, months=6, rng=7, frameworks=[FRAMEWORK])


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """One 2-process LocalCluster for the module."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _observations(sample: dict[str, Path]) -> Path:
    return sample[f"observations/{FRAMEWORK}"]


def _single_process(sample: dict[str, Path], column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each value of ``column`` scored alone in this process, concatenated in value order."""
    fw, obs, units, quarantine, _ = read_evaluation_inputs(
        FRAMEWORK, _observations(sample), sample["units"], period=PERIOD
    )
    tables = []
    for value in sorted(units[column].dropna().unique()):
        part_units = units[units[column] == value]
        part_obs = obs[obs["unit_id"].isin(set(part_units["unit_id"]))]
        table = evaluate(fw, part_obs, part_units, PERIOD).scores
        table.insert(1, column, value)
        tables.append(table)
    return pd.concat(tables, ignore_index=True), quarantine


def test_dask_run_equals_each_partition_scored_alone(sample: dict[str, Path], client: distributed.Client) -> None:
    run = evaluate_partitioned(
        FRAMEWORK, _observations(sample), sample["units"], PERIOD, partition_by="district", client=client
    )
    expected, quarantine = _single_process(sample, "district")
    assert expected["district"].nunique() >= 2  # a real split, not one partition
    pd.testing.assert_frame_equal(run.scores, expected)
    pd.testing.assert_frame_equal(run.quarantine.drop(columns="district"), quarantine)
    units = pd.read_csv(sample["units"]).set_index("unit_id")["district"]
    for _, row in run.quarantine.iterrows():  # each rejected row names its unit's district, none for an unknown unit
        assert row["district"] == units.get(row["unit_id"]) or (
            pd.isna(row["district"]) and row["unit_id"] not in units
        )
    assert run.quarantine["district"].notna().any()
    # ranks restart in each district: the best station of every district is ranked 1
    best = run.scores.groupby(["district", "peer_group"])["rank"].min()
    assert (best == 1).all()
    assert client.status == "running"  # a client given is left open


def test_partitioned_ranks_differ_from_the_pooled_run(sample: dict[str, Path], client: distributed.Client) -> None:
    """Partitioning changes who is compared with whom: the pooled run ranks some unit differently."""
    run = evaluate_partitioned(
        FRAMEWORK, _observations(sample), sample["units"], PERIOD, partition_by="district", client=client
    )
    fw, obs, units, _, _ = read_evaluation_inputs(FRAMEWORK, _observations(sample), sample["units"], period=PERIOD)
    pooled = evaluate(fw, obs, units, PERIOD).scores.set_index("unit_id")
    split = run.scores.set_index("unit_id")
    assert set(split.index) == set(pooled.index)  # every unit scored once
    assert (split["rank"] != pooled.loc[split.index, "rank"]).any()


# the scheduler's HTTP routes (no dashboard) default to port 8787, held by the module's cluster
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_cli_writes_the_table_and_refuses_an_unknown_column(
    sample: dict[str, Path], client: distributed.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["score", "--framework", FRAMEWORK, "--period", PERIOD, "--quiet", "--lang", "en"]
    common += ["--observations", str(_observations(sample)), "--units", str(sample["units"])]
    out = tmp_path / "scores.csv"
    assert main([*common, "--out", str(out), "--partition-by", "district", "--workers", "2"]) == 0  # own LocalCluster
    written = pd.read_csv(out)
    expected, _ = _single_process(sample, "district")
    assert list(written.columns[:2]) == ["unit_id", "district"]
    assert written["unit_id"].tolist() == expected["unit_id"].tolist()
    assert written["rank"].tolist() == expected["rank"].tolist()
    assert written["grade"].tolist() == expected["grade"].tolist()
    capsys.readouterr()

    scheduler = client.scheduler.address
    bad = [*common, "--out", str(tmp_path / "bad.csv"), "--partition-by", "no_such_column", "--scheduler", scheduler]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_column" in err[0]
    assert not (tmp_path / "bad.csv").exists()

    no_workers = [*common, "--out", str(tmp_path / "none.csv"), "--partition-by", "district", "--workers", "0"]
    assert main(no_workers) == 2
    assert "--workers" in capsys.readouterr().err


def test_unreachable_scheduler_exits_2(
    sample: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partitioned, "CONNECT_TIMEOUT", "1s")  # nothing listens on port 9: do not wait 10 s
    args = ["score", "--framework", FRAMEWORK, "--period", PERIOD, "--quiet", "--lang", "en"]
    args += ["--observations", str(_observations(sample)), "--units", str(sample["units"])]
    args += ["--out", str(tmp_path / "s.csv"), "--partition-by", "district", "--scheduler", "tcp://127.0.0.1:9"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tcp://127.0.0.1:9" in err[0]
