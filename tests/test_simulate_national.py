"""The national simulation (``perfmodel sample --format parquet``): layout, contract, truth, determinism, memory.

A small nation (2,000 officers, 3 provinces, 3 months) is generated once; the
checks compare it with what the arguments imply, read it back with DuckDB and the
engine's validator, and score one province's quarter with ``perfmodel score``.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from perfmodel import cli
from perfmodel.engine.validate import read_inputs_engine
from perfmodel.framework import load_framework
from perfmodel.simulate import OBSERVATION_COLUMNS
from perfmodel.simulate_national import NATIONAL_UNIT_COLUMNS, generate_national

FRAMEWORK = "station_four_dimension"
PROVINCES, OFFICERS, MONTHS = ("P01", "P02", "P03"), 2000, ("2025-01", "2025-02", "2025-03")
STATIONS = round(OFFICERS / 3 / 50)  # 13 stations a province, 51 officers each


def _generate(out: Path, seed: int = 7, **sizes: int) -> dict:
    arguments = {"officers": OFFICERS, "provinces": 3, "months": 3, **sizes}
    return generate_national(out, start="2025-01", rng=seed, row_group_size=100, **arguments)


@pytest.fixture(scope="module")
def nation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("nation")
    return out, _generate(out)


def _read(path: Path) -> pd.DataFrame:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}', hive_partitioning = false)").df()


def test_layout_is_hive_by_province_and_month(nation: tuple[Path, dict]) -> None:
    out, written = nation
    expected = {f"observations/province={p}/month={m}/part-0.parquet" for p in PROVINCES for m in MONTHS}
    found = {path.relative_to(out).as_posix() for path in out.rglob("*.parquet")}
    assert found == expected | {"units.parquet", "truth_units.parquet"}
    assert {p.relative_to(out).as_posix() for p in written["observations"]} == expected
    assert (out / "parameters.json").is_file()
    # a reader of the folder sees the partition keys as columns, one row per file row
    counts = duckdb.sql(
        f"SELECT province, month, count(*) AS n FROM read_parquet('{out}/observations/*/*/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL"
    ).df()
    assert {(r.province, r.month): r.n for r in counts.itertuples()} == {
        (p, m): written["rows"][p][m] for p in PROVINCES for m in MONTHS
    }


def test_rows_per_partition_follow_the_framework(nation: tuple[Path, dict]) -> None:
    out, written = nation
    fw = load_framework(FRAMEWORK)
    kinds = fw.input_indicators()
    rated = {i.id for i in fw.indicators() if i.source == "supervisor"}
    total = 0
    for p in PROVINCES:
        for m in MONTHS:
            obs = _read(out / "observations" / f"province={p}" / f"month={m}" / "part-0.parquet")
            assert list(obs.columns) == OBSERVATION_COLUMNS
            assert len(obs) == written["rows"][p][m]
            assert set(obs["period"]) == {m}
            assert obs["unit_id"].str.startswith(f"{p}-").all()
            assert obs["unit_id"].nunique() == STATIONS  # every station reports every month
            assert set(obs["indicator"]) <= set(kinds)
            per_pair = obs.groupby(["unit_id", "indicator"]).size()
            is_rated = per_pair.index.get_level_values("indicator").isin(rated)
            # a supervisor-rated indicator has 2–3 raters a month, any other indicator one row at most
            assert per_pair[is_rated].between(2, 3).all() and (per_pair[~is_rated] == 1).all()
            assert len(per_pair) <= STATIONS * len(kinds)  # a rate with no cases that month has no row
            assert len(per_pair) >= 0.9 * STATIONS * len(kinds)
            # the same kinds of values as the sample: proportions with their counts, non-negative counts
            kind = obs["indicator"].map(kinds)
            rates = obs[kind == "rate"]
            assert (rates["numerator"] <= rates["denominator"]).all() and (rates["denominator"] > 0).all()
            assert np.allclose(rates["value"], rates["numerator"] / rates["denominator"])
            counts = obs.loc[kind == "count", "value"]
            assert (counts >= 0).all() and (counts == counts.round()).all()
            assert obs.loc[obs["indicator"].isin(rated), "rater_id"].notna().all()
            total += len(obs)
    assert total == sum(sum(r.values()) for r in written["rows"].values())


def test_units_and_truth_match_the_observations(nation: tuple[Path, dict]) -> None:
    out, _ = nation
    units = _read(out / "units.parquet")
    assert list(units.columns) == NATIONAL_UNIT_COLUMNS
    assert units["unit_id"].is_unique
    stations, officers = units[units["level"] == "station"], units[units["level"] == "officer"]
    assert stations.groupby("province").size().to_dict() == dict.fromkeys(PROVINCES, STATIONS)
    assert len(officers) == 3 * STATIONS * 51
    province_of = stations.set_index("unit_id")["province"]
    assert (officers["parent_id"].map(province_of) == officers["province"]).all()  # officers sit in their province
    assert (stations["district"].str[:4] == stations["province"] + "-").all()
    observed = duckdb.sql(
        f"SELECT DISTINCT province, unit_id FROM read_parquet('{out}/observations/*/*/*.parquet', "
        "hive_partitioning = true)"
    ).df()
    assert (observed["unit_id"].map(province_of) == observed["province"]).all()
    assert set(observed["unit_id"]) == set(stations["unit_id"])
    truth = _read(out / "truth_units.parquet")
    overall = truth[truth["node"] == "overall"]
    assert set(overall["unit_id"]) == set(stations["unit_id"]) and overall["unit_id"].is_unique
    assert overall["true_latent"].std() > 0.3  # a spread of true performance to recover


def test_duckdb_engine_quarantines_nothing(nation: tuple[Path, dict]) -> None:
    out, written = nation
    for p, m in zip(PROVINCES, MONTHS, strict=True):
        path = out / "observations" / f"province={p}" / f"month={m}" / "part-0.parquet"
        result, units = read_inputs_engine(FRAMEWORK, path, out / "units.parquet", memory_limit="1GB")
        assert units.ok and len(units.data) == units.n_input
        assert len(result.quarantine) == 0
        assert result.n_input == len(result.data) == written["rows"][p][m]


def test_score_one_province_quarter(nation: tuple[Path, dict], tmp_path: Path, capsys) -> None:
    out, _ = nation
    quarter = tmp_path / "p02_2025q1.parquet"
    duckdb.sql(
        f"COPY (SELECT * FROM read_parquet('{out}/observations/province=P02/*/*.parquet', hive_partitioning = false)) "
        f"TO '{quarter}' (FORMAT parquet)"
    )
    scores = tmp_path / "scores.csv"
    argv = ["score", "--observations", quarter, "--units", out / "units.parquet", "--framework", FRAMEWORK]
    code = cli.main([str(a) for a in [*argv, "--period", "2025Q1", "--out", scores, "--engine", "duckdb"]])
    assert code == 0
    assert not scores.with_name("scores.quarantine.csv").exists()
    table = pd.read_csv(scores, encoding="utf-8-sig")
    scored = table[table["score"].notna()]
    assert len(scored) == STATIONS and scored["unit_id"].str.startswith("P02-").all()
    assert sorted(scored["rank_overall"]) == list(range(1, STATIONS + 1))


def test_same_seed_same_bytes(nation: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = nation
    again = tmp_path / "again"
    _generate(again)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    _generate(other, seed=8, provinces=1, months=1)
    name = Path("observations/province=P01/month=2025-01/part-0.parquet")
    assert (other / name).read_bytes() != (out / name).read_bytes()


def _peak(out: Path, provinces: int) -> int:
    tracemalloc.start()
    try:
        generate_national(out, officers=3000 * provinces, provinces=provinces, months=2, rng=3, row_group_size=1000)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_provinces(tmp_path: Path) -> None:
    _peak(tmp_path / "warm", 1)  # imports and caches first
    small, large = _peak(tmp_path / "two", 2), _peak(tmp_path / "eight", 8)
    # four times the nation in provinces of the same size: the peak is that of one city, not of the nation
    # (the peak traced here is about 1.4 MiB for both; a generator holding the nation would need 4×)
    assert large < 1.15 * small, (small, large)


def test_cli_sample_parquet_and_its_errors(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    argv = ["sample", "--out", out, "--format", "parquet", "--officers", 300, "--provinces", 2, "--months", 1]
    assert cli.main([str(a) for a in [*argv, "--start", "2025-06", "--seed", 5]]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("part-0.parquet")) == [
        f"observations/province={p}/month=2025-06/part-0.parquet" for p in ("P01", "P02")
    ]
    assert cli.main(["sample", "--out", str(tmp_path / "csv"), "--officers", "300"]) == 2
    assert "--format parquet" in capsys.readouterr().err
    assert not (tmp_path / "csv").exists()


@pytest.mark.parametrize(
    "sizes",
    [
        {"officers": 0, "provinces": 1},
        {"officers": 100, "provinces": 0},
        {"officers": 10, "provinces": 1, "stations_per_province": 50},
    ],
)
def test_impossible_sizes_are_refused(tmp_path: Path, sizes: dict) -> None:
    from perfmodel.simulate import SimulationError

    with pytest.raises(SimulationError):
        generate_national(tmp_path, months=1, rng=1, **sizes)
