"""Scoring a folder of partitioned Parquet files (as ``perfmodel sample --format parquet`` writes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from perfmodel.cli import main
from perfmodel.engine.validate import partition_files, read_inputs_engine
from perfmodel.errors import OptionError
from perfmodel.evaluation import evaluate_files
from perfmodel.simulate_national import generate_national

pytest.importorskip("duckdb")

FRAMEWORK = "station_four_dimension"
QUARTER = ["2025-01", "2025-02", "2025-03"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two provinces, six months; the second quarter's partitions are unreadable (not Parquet)."""
    folder = tmp_path_factory.mktemp("national")
    generate_national(folder, officers=1000, provinces=2, months=6, start="2025-01", rng=7)
    for path in (folder / "observations").rglob("*.parquet"):
        if path.parent.name.removeprefix("month=") not in QUARTER:
            path.write_bytes(b"not a parquet file: opening it fails")
    return folder


def _quarter_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "observations").rglob("*.parquet") if p.parent.name[6:] in QUARTER)


def _concatenate(files: list[Path], target: Path) -> Path:
    pq.write_table(pa.concat_tables([pq.read_table(f) for f in files]), target)
    return target


def test_partition_files_keeps_the_period_months(world: Path) -> None:
    base, files = partition_files(world / "observations", QUARTER)
    assert base == world / "observations"
    assert files == _quarter_files(world)
    assert len(files) == 2 * 3  # provinces × months
    assert len(partition_files(world / "observations")[1]) == 2 * 6
    pattern = world / "observations" / "province=P01" / "**" / "*.parquet"
    assert [p.relative_to(world / "observations").as_posix() for p in partition_files(pattern, ["2025-02"])[1]] == [
        "province=P01/month=2025-02/part-0.parquet"
    ]


def test_folder_scores_equal_the_concatenated_quarter(world: Path, tmp_path: Path) -> None:
    # the other quarter's files are not Parquet: reading any of them would fail
    folder = evaluate_files(FRAMEWORK, world / "observations", world / "units.parquet", "2025Q1")
    files = _quarter_files(world)
    single = _concatenate(files, tmp_path / "q1.parquet")
    whole = evaluate_files(FRAMEWORK, single, world / "units.parquet", "2025Q1", engine="duckdb")
    columns = ["unit_id", "score", "rank", "rank_overall", "grade"]
    pd.testing.assert_frame_equal(folder.scores[columns], whole.scores[columns])
    assert len(folder.scores) > 0
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    assert folder.n_input["observations"] == rows == whole.n_input["observations"]


def test_cli_scores_a_folder_like_the_concatenated_file(world: Path, tmp_path: Path) -> None:
    single = _concatenate(_quarter_files(world), tmp_path / "q1.parquet")
    runs = {"folder": world / "observations", "pattern": world / "observations" / "**" / "*.parquet", "one": single}
    for name, observations in runs.items():
        args = ["score", "--framework", FRAMEWORK, "--observations", str(observations)]
        args += ["--units", str(world / "units.parquet"), "--period", "2025Q1", "--out", str(tmp_path / f"{name}.csv")]
        assert main([*args, "--engine", "duckdb"]) == 0
    one = (tmp_path / "one.csv").read_bytes()
    assert (tmp_path / "folder.csv").read_bytes() == one
    assert (tmp_path / "pattern.csv").read_bytes() == one


def test_bad_rows_are_quarantined_with_their_partition_and_row(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "observations"
    shutil.copytree(world / "observations", copy)
    part = "province=P02/month=2025-02/part-0.parquet"
    frame = pq.read_table(copy / part).to_pandas()
    frame.loc[4, "value"] = -5.0  # row 6 of the file, counting the header as row 1
    frame.loc[7, "unit_id"] = "NO-SUCH-UNIT"  # row 9
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), copy / part)
    ev = evaluate_files(FRAMEWORK, copy, world / "units.parquet", "2025Q1")
    held = ev.quarantine[ev.quarantine["file"] == str(copy)]
    assert held[["part", "row", "reason"]].values.tolist() == [
        [part, 6, "inconsistent_rate"],
        [part, 9, "unknown_unit"],
    ]
    assert held["message"].str.contains(f"part '{part}' row 6", regex=False).iloc[0]
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in _quarter_files(world))
    assert ev.n_input["observations"] == rows
    observations, _ = read_inputs_engine(FRAMEWORK, copy, world / "units.parquet", months=QUARTER)
    assert len(observations.data) + len(observations.quarantine) == observations.n_input == rows
    assert observations.data["source_row"].is_unique
    assert any("6 partition files of the months 2025-01, 2025-02, 2025-03" in note for note in observations.notes)
    pattern, _ = read_inputs_engine(FRAMEWORK, copy / "**" / "*.parquet", world / "units.parquet", months=QUARTER)
    assert set(pattern.quarantine["file"]) == {str(copy)}  # the pattern's folder, to which the part is relative
    assert pattern.quarantine["part"].tolist() == [part, part]


def test_pandas_engine_refuses_a_folder(world: Path) -> None:
    with pytest.raises(OptionError, match="--engine pandas reads one file") as caught:
        evaluate_files(FRAMEWORK, world / "observations", world / "units.parquet", "2025Q1", engine="pandas")
    assert "--engine duckdb or --engine auto" in caught.value.hint


def test_cli_pandas_engine_on_a_folder_exits_2(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["score", "--framework", FRAMEWORK, "--observations", str(world / "observations")]
    args += ["--units", str(world / "units.parquet"), "--period", "2025Q1", "--out", str(tmp_path / "s.csv")]
    assert main([*args, "--engine", "pandas"]) == 2
    assert "--engine duckdb or --engine auto" in capsys.readouterr().err


def test_a_folder_without_parquet_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(OptionError, match="no Parquet file in") as caught:
        partition_files(tmp_path / "empty")
    assert "DIR/observations" in caught.value.hint


def test_validate_reads_a_folder_and_writes_its_quarantine_beside_it(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`perfmodel validate` takes the folder `score` takes: clean, then with one planted bad row."""
    folder = tmp_path / "observations"
    for path in _quarter_files(world):
        target = folder / path.relative_to(world / "observations")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    args = [
        "validate",
        "--framework",
        FRAMEWORK,
        "--observations",
        str(folder),
        "--units",
        str(world / "units.parquet"),
    ]
    assert main(args) == 0
    assert not (tmp_path / "observations.quarantine.csv").exists()
    part = "province=P01/month=2025-03/part-0.parquet"
    frame = pq.read_table(folder / part).to_pandas()
    frame.loc[2, "unit_id"] = "NO-SUCH-UNIT"  # row 4 of the file, counting the header as row 1
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / part)
    capsys.readouterr()
    assert main(args) == 1
    quarantine = pd.read_csv(tmp_path / "observations.quarantine.csv")
    assert quarantine[["part", "row", "reason"]].values.tolist() == [[part, 4, "unknown_unit"]]
    assert "observations.quarantine.csv" in capsys.readouterr().out
