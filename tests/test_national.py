"""``perfmodel score --partition-by COL --scope national``: one evaluation of all units, in two passes on Dask.

The expectation is independent of :mod:`perfmodel.partitioned`: the single-process
run, :func:`perfmodel.evaluation.evaluate_files` on the same inputs. On a 2-process
``LocalCluster`` the national run must give the same scores table (every column:
national normalisation, ranks, quota grades, case-mix values, previous ranks,
carried-forward values) and the same quarantine with the partition column added.
:class:`~perfmodel.source.AggregateSource` is checked against
:class:`~perfmodel.source.FrameSource` answer by answer on the same rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from perfmodel import partitioned
from perfmodel.cli import main
from perfmodel.errors import OptionError, PerfmodelError
from perfmodel.evaluation import Settings, evaluate, evaluate_files, read_evaluation_inputs
from perfmodel.framework import load_framework
from perfmodel.partitioned import evaluate_national, evaluate_partitioned, folder_partitions, periods_asked
from perfmodel.periods import months_in
from perfmodel.simulate import generate_sample
from perfmodel.simulate_national import generate_national
from perfmodel.source import AggregateSource, FrameSource, RowsNotHeld, aggregate_observations

distributed = pytest.importorskip("distributed")

# one cluster for the module: its tests run on one xdist worker (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("local_cluster")

FRAMEWORK = "station_four_dimension"
NATION_PERIOD = "2025Q2"
FILE_PERIOD = "2024Q2"


@pytest.fixture(scope="module")
def nation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three provinces of 40 stations, six months of ``province=/month=`` Parquet, three planted defects in P02."""
    out = tmp_path_factory.mktemp("nation")
    paths = generate_national(out, officers=6000, provinces=3, months=6, start="2025-01", rng=11)
    part = out / "observations" / "province=P02" / "month=2025-05" / "part-0.parquet"
    table = pq.read_table(part)
    rows = table.to_pandas()
    rows.loc[3, "value"] = -5.0  # differs from numerator / denominator
    rows.loc[10, "unit_id"] = "NO-SUCH-STATION"  # unknown unit: quarantined, of no partition
    rows = pd.concat([rows, rows.iloc[[20]]], ignore_index=True)  # an exact copy
    pq.write_table(pa.Table.from_pandas(rows, schema=table.schema, preserve_index=False), part)
    return {"observations": out / "observations", "units": paths["units"]}


@pytest.fixture(scope="module")
def one_file(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One observations file: 30 stations in districts, six months, the sample's defects, and holes to carry forward.

    Four stations lose one rate indicator in 2024Q2, so carry-forward imputation fills it from 2024Q1.
    """
    out = tmp_path_factory.mktemp("one_file")
    paths = generate_sample(out, stations=30, months=6, rng=7, frameworks=[FRAMEWORK])
    rows = pd.read_csv(paths[f"observations/{FRAMEWORK}"], dtype=str, keep_default_na=False)
    units = pd.read_csv(paths["units"], dtype=str)
    holed = set(units.loc[units["level"] == "station", "unit_id"].head(4))
    hole = rows["unit_id"].isin(holed) & (rows["indicator"] == "key_person_control_rate")
    hole &= rows["period"].isin([str(m) for m in months_in(FILE_PERIOD)])
    assert hole.sum() > 0
    target = out / "observations.csv"
    rows[~hole].to_csv(target, index=False)
    return {"observations": target, "units": paths["units"]}


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """One 2-process LocalCluster for the module."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture
def no_reading_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the observations on the calling machine fails: only the workers may read them."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the observations were read on the calling machine")

    monkeypatch.setattr(partitioned, "read_evaluation_inputs", refuse)


def _assert_same_run(national: pd.DataFrame, single: pd.DataFrame, column: str) -> None:
    pd.testing.assert_frame_equal(national, single.assign(**{column: national[column]})[national.columns])


@pytest.mark.parametrize("settings", [{}, {"calibration": "casemix"}], ids=["framework", "casemix"])
def test_national_equals_one_process_on_partition_folders(
    nation: dict[str, Path], client: distributed.Client, no_reading_here: None, settings: dict[str, str]
) -> None:
    """Each worker reads its province's folder; the national ranking is the single-process one, row for row."""
    args = (FRAMEWORK, nation["observations"], nation["units"], NATION_PERIOD)
    national = evaluate_national(*args, partition_by="province", client=client, **settings)
    single = evaluate_files(*args, **settings)
    pd.testing.assert_frame_equal(national.scores, single.scores)
    _assert_same_run(national.quarantine, single.quarantine, "province")
    assert list(national.quarantine.columns) == [*single.quarantine.columns, "province"]
    assert sorted(national.quarantine["reason"]) == ["duplicate_row", "inconsistent_rate", "unknown_unit"]
    assert national.quarantine["province"].tolist()[:1] == ["P02"]
    assert national.key_figures() == single.key_figures()
    # national: one ranking over the three provinces, not three rankings
    scored = national.scores.dropna(subset=["rank_overall"])
    assert scored["rank_overall"].max() == len(scored) > 40
    if settings:  # one pooled case-mix model per indicator (its printed summary carries the fitting time)
        models = [ev.stages["casemix_models"].drop(columns="summary") for ev in (national, single)]
        pd.testing.assert_frame_equal(*models)
        pd.testing.assert_frame_equal(national.stages["casemix_coefficients"], single.stages["casemix_coefficients"])


@pytest.mark.parametrize(
    "settings",
    [{"imputation": "carry_forward"}, {"calibration": "casemix", "grading": "quota"}],
    ids=["previous+carry_forward", "casemix+quota"],
)
def test_national_equals_one_process_on_one_file(
    one_file: dict[str, Path], client: distributed.Client, settings: dict[str, str]
) -> None:
    """One file is read here and scattered by district; previous ranks and carried-forward values are national too."""
    args = (FRAMEWORK, one_file["observations"], one_file["units"], FILE_PERIOD)
    national = evaluate_national(*args, partition_by="district", client=client, **settings)
    single = evaluate_files(*args, **settings)
    pd.testing.assert_frame_equal(national.scores, single.scores)
    _assert_same_run(national.quarantine, single.quarantine, "district")
    assert len(national.quarantine) > 0
    assert national.scores["previous_rank"].notna().any()  # the previous quarter was reduced as well
    if settings.get("imputation") == "carry_forward":
        log = national.stages["imputation_log"]
        assert len(log) > 0
        pd.testing.assert_frame_equal(log, single.stages["imputation_log"])


def test_partition_scope_reads_folders_and_equals_each_province_alone(
    nation: dict[str, Path], client: distributed.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = (FRAMEWORK, nation["observations"], nation["units"], NATION_PERIOD)
    fw, obs, units, quarantine, _ = read_evaluation_inputs(*args[:3], period=NATION_PERIOD)
    tables = []
    for value in sorted(units["province"].dropna().unique()):
        part_units = units[units["province"] == value]
        table = evaluate(fw, obs[obs["unit_id"].isin(set(part_units["unit_id"]))], part_units, NATION_PERIOD).scores
        tables.append(table.assign(province=value)[["unit_id", "province", *table.columns[1:]]])
    expected = pd.concat(tables, ignore_index=True)

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the observations were read on the calling machine")

    monkeypatch.setattr(partitioned, "read_evaluation_inputs", refuse)
    run = evaluate_partitioned(*args, partition_by="province", client=client)
    pd.testing.assert_frame_equal(run.scores, expected)
    _assert_same_run(run.quarantine, quarantine, "province")
    assert (run.scores.groupby("province")["rank_overall"].min() == 1).all()  # ranked within each province


def test_folder_partitions_pin_each_province_folder(nation: dict[str, Path]) -> None:
    months = [str(m) for m in months_in(NATION_PERIOD)]
    found = folder_partitions(nation["observations"], "province", months)
    assert found is not None and [value for value, _ in found] == ["P01", "P02", "P03"]
    for value, pattern in found:  # the pattern's fixed part is the input folder: quarantine names stay the same
        assert pattern.startswith(str(nation["observations"].absolute()) + "/[p]rovince=" + value)
    assert folder_partitions(nation["observations"], "city", months) is None  # no city= folders: scattered
    assert folder_partitions(nation["units"], "province", months) is None  # one file: scattered


def test_a_unit_in_two_folders_is_refused(nation: dict[str, Path], client: distributed.Client, tmp_path: Path) -> None:
    """A unit's rows in two folders would split its aggregates (national) or miss its partition: both refuse."""
    copy = tmp_path / "observations"
    shutil.copytree(nation["observations"], copy)
    stray = copy / "province=P02" / "month=2025-04" / "part-9.parquet"
    shutil.copy(copy / "province=P01" / "month=2025-04" / "part-0.parquet", stray)
    args = (FRAMEWORK, copy, nation["units"], NATION_PERIOD)
    with pytest.raises(OptionError, match=r"P01-\S+ has observations in both province=P01 and province=P02"):
        evaluate_national(*args, partition_by="province", client=client)
    with pytest.raises(OptionError, match=r"province=P02 holds observations of 40 unit\(s\) of other partitions"):
        evaluate_partitioned(*args, partition_by="province", client=client)


def test_rater_calibration_needs_the_rows(one_file: dict[str, Path], client: distributed.Client) -> None:
    with pytest.raises(OptionError, match="rater calibration"):
        evaluate_national(
            FRAMEWORK,
            one_file["observations"],
            one_file["units"],
            FILE_PERIOD,
            partition_by="district",
            client=client,
            calibration="full",
        )


# the scheduler's HTTP routes (no dashboard) default to port 8787, held by the module's cluster
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_cli_national_scope_writes_the_single_process_outputs(
    nation: dict[str, Path], client: distributed.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["score", "--framework", FRAMEWORK, "--period", NATION_PERIOD, "--quiet", "--lang", "en"]
    common += ["--observations", str(nation["observations"]), "--units", str(nation["units"])]
    assert main([*common, "--out", str(tmp_path / "single.csv")]) == 0
    single_out = capsys.readouterr().out
    national = [*common, "--out", str(tmp_path / "national.csv"), "--partition-by", "province", "--scope", "national"]
    assert main([*national, "--scheduler", client.scheduler.address]) == 0
    national_out = capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "national.csv"), pd.read_csv(tmp_path / "single.csv"))
    q_single = pd.read_csv(tmp_path / "single.quarantine.csv")
    q_national = pd.read_csv(tmp_path / "national.quarantine.csv")
    pd.testing.assert_frame_equal(q_national.drop(columns="province"), q_single)
    assert national_out.replace("national.csv", "single.csv") == single_out  # the same summary lines

    assert main([*common, "--out", str(tmp_path / "bad.csv"), "--scope", "national"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--partition-by" in err[0]
    assert not (tmp_path / "bad.csv").exists()


def test_a_worker_reads_with_duckdb_threads_of_its_own(client: distributed.Client) -> None:
    """A partition's DuckDB runs the worker's threads (1 in this cluster), not one per core of the machine."""

    def threads_on_worker() -> tuple[int | None, int]:
        con = partitioned.partition_connection("512MB")
        try:
            return partitioned.worker_threads(), int(con.execute("SELECT current_setting('threads')").fetchone()[0])
        finally:
            con.close()

    workers = list(client.scheduler_info()["workers"])
    assert len(workers) == 2
    tasks = [client.submit(threads_on_worker, workers=[w], allow_other_workers=False, pure=False) for w in workers]
    assert client.gather(tasks) == [(1, 1), (1, 1)]
    import duckdb

    # outside a worker: DuckDB's own default (one thread per core)
    default = int(duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0])
    assert threads_on_worker() == (None, default)


# ----------------------------------------------------------------------------- the source, without a cluster
def test_periods_asked_follow_the_settings() -> None:
    fw = load_framework(FRAMEWORK)
    age = fw.missing.max_age
    q = pd.Period("2024Q2", freq="Q")
    assert periods_asked(fw, "2024Q2", Settings(compare_previous=False)) == [q]
    assert periods_asked(fw, "2024Q2", Settings()) == [q, q - 1]
    carried = periods_asked(fw, "2024Q2", Settings(imputation="carry_forward"))
    assert carried == [q - k for k in range(age + 2)]  # own and previous, each with max_age before it


def test_aggregate_source_answers_as_the_frame_source(one_file: dict[str, Path]) -> None:
    """Per-district aggregates put together answer every question exactly as the rows do."""
    fw, obs, units, _, _ = read_evaluation_inputs(FRAMEWORK, one_file["observations"], one_file["units"])
    periods = ["2024Q2", "2024Q1", "2024-05", "2024"]
    owner = units.set_index("unit_id")["district"]
    parts = [
        aggregate_observations(rows, fw.rollup_kinds(), periods)
        for _, rows in obs.groupby(obs["unit_id"].map(owner), sort=True)
    ]
    assert len(parts) >= 2
    aggregated, frame = AggregateSource(reversed(parts)), FrameSource(obs)  # the order of the parts does not matter
    stations = units.loc[units["level"] == "station", "unit_id"]
    for chosen in (pd.Index(stations), pd.Index(stations.iloc[::3]), pd.Index(["NO-SUCH-UNIT"])):
        for period in periods:
            months = [str(m) for m in months_in(period)]
            pd.testing.assert_frame_equal(
                aggregated.roll_up(chosen, fw.rollup_kinds(), pd.Period(period)),
                frame.roll_up(chosen, fw.rollup_kinds(), pd.Period(period)),
            )
            assert aggregated.count_rows(chosen, months) == frame.count_rows(chosen, months)
            assert len(aggregated.rows(chosen, months)) == len(frame.rows(chosen, months))
            inputs = fw.input_indicators()
            pd.testing.assert_series_equal(
                aggregated.months_with_data(chosen, months, inputs), frame.months_with_data(chosen, months, inputs)
            )
            late_a, late_f = aggregated.late_counts(chosen, months), frame.late_counts(chosen, months)
            assert late_a is not None and late_f is not None
            pd.testing.assert_series_equal(late_a, late_f)
    assert aggregated.months() == frame.months()


def test_aggregate_source_holds_no_rows(one_file: dict[str, Path]) -> None:
    fw, obs, units, _, _ = read_evaluation_inputs(FRAMEWORK, one_file["observations"], one_file["units"])
    source = AggregateSource([aggregate_observations(obs, fw.rollup_kinds(), [FILE_PERIOD])])
    rows = source.rows(pd.Index(units["unit_id"]), [str(m) for m in months_in(FILE_PERIOD)])
    assert isinstance(rows, RowsNotHeld) and len(rows) > 0 and list(rows.columns) == []
    with pytest.raises(PerfmodelError, match="'indicator' of the observation rows needs the rows"):
        rows["indicator"]
    with pytest.raises(PerfmodelError, match="holds per-unit aggregates"):
        source.frame()
    with pytest.raises(PerfmodelError, match="2023Q4 was asked"):  # a period not reduced is not answered
        source.roll_up(pd.Index(units["unit_id"]), fw.rollup_kinds(), pd.Period("2023Q4"))
    with pytest.raises(PerfmodelError, match="2024-01 was asked"):  # nor a month not counted: never 0 rows
        source.count_rows(pd.Index(units["unit_id"]), ["2024-01"])
    with pytest.raises(PerfmodelError, match="months with data of only some"):
        source.months_with_data(pd.Index(units["unit_id"]), ["2024-04"], ["housekeeping_score"])
