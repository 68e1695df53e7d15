"""The DuckDB validation gives exactly the pandas validation: accepted rows, quarantine, notes.

Compared on every shipped sample file (CSV.gz and the same rows as Parquet), on
the hostile copy of the sample, on every observations file of the adversarial
corpus, and on a small table of edge cases for the screen (numbers near the
limits, blank-looking text, duplicates, timestamps in other forms).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from perfmodel.engine.validate import connect, default_memory_limit, read_inputs_engine, validate_observations_engine
from perfmodel.errors import OptionError, PerfmodelError
from perfmodel.framework import load_framework
from perfmodel.validation import read_inputs, validate_units

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data_samples"
ADVERSARIAL = Path(__file__).parent / "data" / "adversarial"
FRAMEWORK = load_framework("station_four_dimension")


def assert_same(framework, observations, units, **engine) -> tuple:
    """Both paths on the same inputs; every accepted row, quarantined row and note equal."""
    expected, _ = read_inputs(framework, observations, units)
    got, _ = read_inputs_engine(framework, observations, units, **engine)
    assert got.n_input == expected.n_input == len(got.data) + len(got.quarantine)
    pd.testing.assert_frame_equal(got.data, expected.data)
    pd.testing.assert_frame_equal(got.quarantine, expected.quarantine)
    assert got.notes == expected.notes
    return expected, got


def sample_files() -> list[tuple[str, Path]]:
    """The default sample and one officer sample (the other samples share their layout)."""
    officer = SAMPLES / "observations" / "officer_traffic.csv.gz"
    return [("station_four_dimension", SAMPLES / "station_observations.csv.gz"), ("officer_traffic", officer)]


@pytest.mark.parametrize(("framework", "path"), sample_files(), ids=lambda v: getattr(v, "name", v))
def test_engine_equals_pandas_on_shipped_samples_csv_and_parquet(tmp_path, framework, path):
    expected, _ = assert_same(framework, path, SAMPLES / "units.csv")
    assert len(expected.data) > 1000
    if framework != "station_four_dimension":  # one Parquet copy is enough (the layout is the same)
        return
    parquet = tmp_path / "observations.parquet"
    pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]).to_parquet(parquet)
    assert_same(framework, parquet, SAMPLES / "units.csv")


def test_engine_equals_pandas_on_the_hostile_sample(tmp_path):
    from hostile import build_hostile_sample

    paths = build_hostile_sample(tmp_path / "hostile", stations=4)
    expected, _ = assert_same(FRAMEWORK, paths["station_observations"], paths["units"])
    assert len(expected.data) > 100


def corpus() -> list[Path]:
    return sorted(p for p in ADVERSARIAL.glob("obs_*") if ".refused." not in p.name)


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_engine_equals_pandas_on_the_adversarial_corpus(tmp_path, path):
    units = tmp_path / "units.csv"
    units.write_text("unit_id,level\nS01,station\nS02,station\nS03,station\n12,station\n", encoding="utf-8")
    assert_same(FRAMEWORK, path, units)


EDGES = """period,unit_id,indicator,value,numerator,denominator,rater_id,submitted_at,remark
2025-04,S01,case_compliance_rate,0.9,9,10,,2025-05-20 10:00:00,ok
2025-04,S02,case_compliance_rate,.5,,,,2025-05-20T10:00:00,x
2025-04,S03,case_compliance_rate,5.,,,,,
2025-04,S01,callback_satisfaction,+0.75,3,4,,2025/05/20 10:00,
2025-04,S02,callback_satisfaction,0.7500004,3,4,,2025-05-20 10:00:00+08:00,\u3000
2025-04,S03,callback_satisfaction,0.7500006,3,4,,2025年5月20日 10:00, x \u3000
2025-04,S01,enforcement_errors,-0,,,,,
2025-04,S02,enforcement_errors,1_000,,,,,
2025-04,S03,enforcement_errors,１２,,,,,
2025-04,S01,discipline_score,NA,,,,,
2025-04,S02,discipline_score,90,,,,,
2025-04,S02,discipline_score,90.0,,,,,
2025-04,S03,discipline_score,91,,,,,
2025-04,S03,discipline_score,92,,,,,
2025-04,S03,discipline_score,92,,,r1,,
2025-04, S01 ,window_processing_days,1e3,,,,2025-13-40 10:00:00,
2025-4,S01\u3000,housekeeping_score,80,,,,,
202504,S02,housekeeping_score,1e12,,,,,
2025-04,S03,housekeeping_score,1.0000001e12,,,,,
2025-04,S01,three_real_info_rate,,0,0,,,
2025-04,S02,three_real_info_rate,,11,10,,,
2025-04,S03,three_real_info_rate,,3,4,,,
2025-04,S01,mediation_success_rate,1.5,,,,,
2025-04,S02,mediation_success_rate,93,,,,,
2025-04,S09,mediation_success_rate,0.5,,,,,
,,,,,,,,
2025-05,S01,案件规范率,0.8,,,,,
2025-05,S02,Case-handling compliance rate,0.8,,,,,
"""


def test_blank_lines_cr_and_nul_far_into_a_csv_file_keep_their_row_numbers(tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("unit_id,level\nS01,station\nS02,station\n", encoding="utf-8")
    head = "period,unit_id,indicator,value\n" + "2025-04,S01,discipline_score,90\n" * 40_000  # past the 1 MiB head
    for tail in ("\n2025-04,S02,discipline_score,80\n", "2025-04,S02,discipline_score,8\r0\n", "2025-04,S02,x\x00,1\n"):
        path = tmp_path / "late.csv"
        path.write_text(head + tail + "2025-05,S02,discipline_score,70\n", encoding="utf-8")
        expected, _ = assert_same(FRAMEWORK, path, units)
        assert expected.data["source_row"].iloc[-1] == expected.n_input + 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_engine_equals_pandas_on_edge_cases_of_the_screen(tmp_path, fmt):
    units = tmp_path / "units.csv"
    units.write_text("unit_id,level\nS01,station\nS02,station\nS03,station\n", encoding="utf-8")
    observations = tmp_path / "edges.csv"
    observations.write_text(EDGES, encoding="utf-8")
    if fmt == "parquet":
        frame = pd.read_csv(observations, dtype=str, keep_default_na=False, na_values=[""])
        observations = tmp_path / "edges.parquet"
        frame.to_parquet(observations)
    expected, got = assert_same(FRAMEWORK, observations, units)
    # the table exercises both sides of the screen: clean rows typed in SQL, and quarantined rows
    assert len(got.data) >= 5
    assert {"duplicate_key", "duplicate_row", "missing_value", "absurd_value", "unknown_unit"} <= set(
        got.quarantine["reason"]
    )


def test_months_read_only_those_months_of_a_parquet_file(tmp_path):
    parquet = tmp_path / "observations.parquet"
    pd.read_csv(SAMPLES / "station_observations.csv.gz", dtype=str, keep_default_na=False, na_values=[""]).to_parquet(
        parquet, row_group_size=2000
    )
    units = validate_units(pd.read_csv(SAMPLES / "units.csv", dtype=str), source="units.csv")
    whole, _ = read_inputs(FRAMEWORK, parquet, SAMPLES / "units.csv")
    got = validate_observations_engine(FRAMEWORK, parquet, units, months=["2025-04", "2025-05", "2025-06"])
    quarter = whole.data[whole.data["period"].isin(["2025-04", "2025-05", "2025-06"])].reset_index(drop=True)
    assert set(got.data["period"]) == {"2025-04", "2025-05", "2025-06"}
    pd.testing.assert_frame_equal(got.data.drop(columns=[]), quarter, check_like=False)
    assert got.n_input == len(got.data) + len(got.quarantine) < whole.n_input


def test_memory_limit_defaults_to_a_share_of_ram_and_refuses_nonsense():
    assert default_memory_limit().endswith("GB") and int(default_memory_limit()[:-2]) >= 1
    connect("512MB").close()
    with pytest.raises(OptionError, match="memory-limit"):
        connect("lots")
    assert issubclass(OptionError, PerfmodelError)


def test_evaluate_files_with_the_engine_gives_the_same_evaluation():
    from perfmodel.evaluation import evaluate_files

    observations, units = SAMPLES / "station_observations.csv.gz", SAMPLES / "units.csv"
    before = evaluate_files("station_four_dimension", observations, units, "2025Q2", engine="pandas")
    after = evaluate_files("station_four_dimension", observations, units, "2025Q2", engine="duckdb", memory_limit="1GB")
    pd.testing.assert_frame_equal(after.scores, before.scores)
    pd.testing.assert_frame_equal(after.quarantine, before.quarantine)
    assert after.n_input == before.n_input
    assert list(after.stages) == list(before.stages)
    for name, stage in before.stages.items():
        if isinstance(stage, pd.DataFrame):
            pd.testing.assert_frame_equal(after.stages[name], stage, obj=name)


def test_score_command_takes_a_memory_limit_and_refuses_nonsense(tmp_path, capsys):
    from perfmodel.cli import main

    args = ["score", "--framework", "station_four_dimension", "--period", "2025Q2"]
    args += ["--observations", str(SAMPLES / "station_observations.csv.gz"), "--units", str(SAMPLES / "units.csv")]
    assert main([*args, "--out", str(tmp_path / "a.csv"), "--engine", "duckdb", "--memory-limit", "1GB"]) == 0
    assert main([*args, "--out", str(tmp_path / "b.csv"), "--engine", "pandas"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "c.csv"), "--engine", "duckdb", "--memory-limit", "lots"]) == 2
    assert "memory-limit" in capsys.readouterr().err


def test_auto_engine_takes_duckdb_for_large_files_only(tmp_path):
    from perfmodel.engine.validate import ENGINE_MIN_BYTES, ENGINE_MIN_CSV_BYTES, use_engine

    small = SAMPLES / "station_observations.csv.gz"
    assert small.stat().st_size < ENGINE_MIN_BYTES
    assert not use_engine(small, "auto") and not use_engine(small, "pandas") and use_engine(small, "duckdb")
    line = b"2025-04,S01,x,1\n"
    text, parquet = tmp_path / "large.csv", tmp_path / "large.parquet"
    for path in (text, parquet):  # only the size and the name are looked at
        path.write_bytes(line * (ENGINE_MIN_BYTES // len(line) + 1))
    assert use_engine(parquet, "auto") and not use_engine(text, "auto")
    text.write_bytes(line * (ENGINE_MIN_CSV_BYTES // len(line) + 1))
    assert use_engine(text, "auto")
    assert not use_engine(pd.DataFrame(), "auto")
    with pytest.raises(OptionError, match="engine"):
        use_engine(small, "spark")


def test_the_mapping_tables_are_let_go_once_the_rows_are_screened():
    """The per-distinct-value tables (the units' holds a text per unit) are not kept for the whole run."""
    import duckdb

    from perfmodel.engine.validate import _MAPPINGS, validate_to_source

    units = validate_units(pd.read_csv(SAMPLES / "units.csv"), source="units.csv")
    source, result = validate_to_source(FRAMEWORK, SAMPLES / "station_observations.csv.gz", units)
    try:
        assert len(source) + len(result.quarantine) == result.n_input > 0
        for table in _MAPPINGS:
            with pytest.raises(duckdb.CatalogException):
                source._con.execute(f"SELECT count(*) FROM {table}")
    finally:
        source.close()
