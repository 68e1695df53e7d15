"""The columnar core's evaluation equals the pandas evaluation, and its SQL roll-up equals pandas' to the bit.

- Every shipped framework on its sample, both periods of ``tests/test_scores_snapshot.py``:
  ``evaluate_files(..., engine="duckdb")`` (the rows stay in DuckDB, an
  :class:`~perfmodel.engine.source.EngineSource`) and ``engine="pandas"`` give the same
  scores, quarantine, key figures and stages (``rolled``, ``unit_months``, ``flags`` …,
  ``raw`` loaded on first access), with no tolerance.
- The hostile sample and the adversarial corpus of ``tests/test_engine_validate.py``:
  the source holds exactly the rows pandas accepts, with the same quarantine.
- A hypothesis property: on random small clean frames (every roll-up kind, missing
  numerators and denominators, several raters in a month, partial periods, rows in any
  order) :meth:`EngineSource.roll_up` equals :func:`perfmodel.rollup.roll_up` exactly.
"""

from __future__ import annotations

import gc
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfmodel.engine.source import EngineSource
from perfmodel.engine.validate import read_inputs_source, source_from_frame
from perfmodel.evaluation import Evaluation, Settings, Stages, evaluate_files, read_evaluation_inputs
from perfmodel.framework import load_framework, shipped_frameworks
from perfmodel.periods import parse_period
from perfmodel.rollup import roll_up, rolled_values
from perfmodel.source import FrameSource
from perfmodel.validation import TEXT_DTYPE, read_inputs

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data_samples"
ADVERSARIAL = Path(__file__).parent / "data" / "adversarial"
PERIODS = ("2025Q2", "2025")
STATION = load_framework("station_four_dimension")


@cache
def inputs(framework_id: str, engine: str) -> tuple:
    """The sample of ``framework_id`` read once per engine (the engine's rows stay in DuckDB)."""
    observations = SAMPLES / "observations" / f"{framework_id}.csv.gz"
    return read_evaluation_inputs(framework_id, observations, SAMPLES / "units.csv", engine=engine, as_source=True)


def assert_same_evaluation(got: Evaluation, expected: Evaluation) -> None:
    pd.testing.assert_frame_equal(got.scores, expected.scores, check_exact=True)
    pd.testing.assert_frame_equal(got.quarantine, expected.quarantine, check_exact=True)
    assert got.key_figures() == expected.key_figures()
    assert list(got.stages) == list(expected.stages)
    for name, frame in expected.stages.items():
        if isinstance(frame, pd.DataFrame):
            pd.testing.assert_frame_equal(got.stages[name], frame, check_exact=True, obj=name)
        elif isinstance(frame, pd.Series):
            pd.testing.assert_series_equal(got.stages[name], frame, check_exact=True, obj=name)


@pytest.mark.parametrize("framework_id", sorted(shipped_frameworks()))
def test_engine_evaluation_equals_pandas_on_every_shipped_sample(framework_id):
    fw, source, units, quarantine, n_input = inputs(framework_id, "duckdb")
    fw_p, frame, units_p, quarantine_p, n_input_p = inputs(framework_id, "pandas")
    assert isinstance(source, EngineSource) and isinstance(frame, pd.DataFrame)
    assert n_input == n_input_p and len(source) + len(quarantine) == len(frame) + len(quarantine_p)
    pd.testing.assert_frame_equal(quarantine, quarantine_p, check_exact=True)
    pd.testing.assert_frame_equal(source.frame(), frame, check_exact=True)
    for period in PERIODS:
        got = Evaluation(fw, source, units, period, Settings(), quarantine=quarantine).run()
        expected = Evaluation(fw_p, frame, units_p, period, Settings(), quarantine=quarantine_p).run()
        assert_same_evaluation(got, expected)


def test_evaluate_files_keeps_the_rows_in_duckdb_until_raw_is_read():
    observations = SAMPLES / "station_observations.csv.gz"
    got = evaluate_files(STATION, observations, SAMPLES / "units.csv", "2025Q2", engine="duckdb")
    expected = evaluate_files(STATION, observations, SAMPLES / "units.csv", "2025Q2", engine="pandas")
    assert isinstance(got.source, EngineSource)
    assert "raw" in got.stages and dict.__getitem__(got.stages, "raw") is None  # not loaded by the run
    assert got.stages.is_later("rolled")  # the long roll-up neither: the run pivots the values in SQL
    assert got.key_figures()["observations_used"] == len(expected.stages["raw"]) > 1000
    pd.testing.assert_frame_equal(got.stages.get("raw"), expected.stages["raw"], check_exact=True)
    assert dict.__getitem__(got.stages, "raw") is not None  # loaded once, then kept
    assert_same_evaluation(got, expected)
    assert_same_evaluation(got.previous, expected.previous)
    regen = got.regen(imputation="carry_forward")  # earlier periods from the same source
    assert_same_evaluation(regen, expected.regen(imputation="carry_forward"))


def test_the_source_folder_is_removed_when_closed_or_collected():
    source, _, _ = read_inputs_source(STATION, SAMPLES / "station_observations.csv.gz", SAMPLES / "units.csv")
    folder = source.folder
    assert folder.is_dir()
    spill = source._con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    assert Path(spill).is_relative_to(folder)  # DuckDB spills into the source's own folder
    assert not folder.is_relative_to(SAMPLES)
    source.close()
    assert not folder.exists()
    source, _, _ = read_inputs_source(STATION, SAMPLES / "station_observations.csv.gz", SAMPLES / "units.csv")
    folder = source.folder
    del source
    gc.collect()
    assert not folder.exists()


def test_lazy_stages_load_once_through_every_reader():
    calls = []
    stages = Stages(rolled=pd.DataFrame({"a": [1]}))
    stages.later("raw", lambda: calls.append(1) or pd.DataFrame({"b": [2]}))
    assert "raw" in stages and len(stages) == 2 and list(stages) == ["rolled", "raw"] and not calls
    assert stages.get("raw")["b"].tolist() == [2] and stages["raw"]["b"].tolist() == [2]
    assert calls == [1]
    fresh = Stages()
    fresh.later("raw", lambda: pd.DataFrame({"c": [3]}))
    assert dict(fresh)["raw"]["c"].tolist() == [3]  # a plain copy loads it too
    fresh.later("raw", lambda: pd.DataFrame({"c": [4]}))
    assert [v["c"].tolist() for v in fresh.values()] == [[4]]


def test_source_equals_pandas_on_the_hostile_sample(tmp_path):
    from hostile import build_hostile_sample

    paths = build_hostile_sample(tmp_path / "hostile", stations=4)
    assert_same_rows(STATION, paths["station_observations"], paths["units"])


def assert_same_rows(framework, observations, units) -> None:
    expected, _ = read_inputs(framework, observations, units)
    source, got, _ = read_inputs_source(framework, observations, units)
    with source:
        assert got.n_input == expected.n_input == len(source) + len(got.quarantine)
        pd.testing.assert_frame_equal(source.frame(), expected.data, check_exact=True)
        pd.testing.assert_frame_equal(got.quarantine, expected.quarantine, check_exact=True)
        assert got.notes == expected.notes
        frames = FrameSource(expected.data)
        units_index = pd.Index(sorted(set(expected.data["unit_id"].dropna())), dtype=object)
        for period in ("2025Q2", "2025-04"):
            p = parse_period(period)
            pd.testing.assert_frame_equal(
                source.roll_up(units_index, framework.rollup_kinds(), p),
                frames.roll_up(units_index, framework.rollup_kinds(), p),
                check_exact=True,
            )
            pd.testing.assert_frame_equal(
                source.rolled_values(units_index, framework.rollup_kinds(), p),
                frames.rolled_values(units_index, framework.rollup_kinds(), p),
                check_exact=True,
            )


@pytest.mark.parametrize(
    "path", sorted(p for p in ADVERSARIAL.glob("obs_*") if ".refused." not in p.name), ids=lambda p: p.name
)
def test_source_equals_pandas_on_the_adversarial_corpus(tmp_path, path):
    units = tmp_path / "units.csv"
    units.write_text("unit_id,level\nS01,station\nS02,station\nS03,station\n12,station\n", encoding="utf-8")
    assert_same_rows(STATION, path, units)


# ----------------------------------------------------------------------------- the roll-up, property
KINDS = {"r": "rate", "c": "count", "e": "event", "d": "duration", "s": "score"}
MONTHS = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]

numbers = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_subnormal=False),
    st.sampled_from([0.1, 0.2, 0.3, 1 / 3, 79.7, 74.8, 73.4, 1e-9]),
)
rows = st.lists(
    st.tuples(
        st.sampled_from(MONTHS),
        st.sampled_from(["A", "B", "b", "Ä", "单位"]),
        st.sampled_from([*KINDS, "x", "o'q"]),  # indicators the kinds do not name (rolled up as scores)
        numbers,
        st.one_of(st.none(), numbers),
        st.one_of(st.none(), numbers),
        st.sampled_from([None, "r1", "r2", "r3", "r4"]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=18, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows, sort=st.booleans())
def test_sql_roll_up_equals_pandas_roll_up(rows, sort):
    frame = pd.DataFrame(rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "r"])
    frame = frame.drop_duplicates(["period", "unit_id", "indicator", "r"])  # validation keeps one row per key
    if sort:  # rows in key order: pandas sums with numpy.add.reduceat instead of Kahan's sum
        frame = frame.sort_values(["unit_id", "indicator", "period"], kind="stable")
    frame = frame.reset_index(drop=True)
    observations = pd.DataFrame(
        {
            "period": frame["period"].astype(TEXT_DTYPE),
            "unit_id": frame["unit_id"].astype(TEXT_DTYPE),
            "indicator": frame["indicator"].astype(TEXT_DTYPE),
            "value": frame["value"].astype(float),
            "numerator": frame["numerator"].astype(float),
            "denominator": frame["denominator"].astype(float),
            "rater_id": frame["r"].astype(TEXT_DTYPE),
            "submitted_at": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"),
            "source_row": np.arange(2, len(frame) + 2, dtype=np.int64),
        }
    )
    units = pd.Index(["A", "B", "b", "Ä", "单位", "none"], dtype=object)
    with source_from_frame(observations, STATION) as source:
        for period in ("2025Q1", "2025-04", "2025Q2"):
            p = parse_period(period)
            expected = roll_up(observations, KINDS, p)
            pd.testing.assert_frame_equal(source.roll_up(units, KINDS, p), expected, check_exact=True)
            wide = source.rolled_values(units, KINDS, p)  # pivoted in SQL
            pd.testing.assert_frame_equal(wide, rolled_values(expected, units), check_exact=True)
            assert list(wide.index) == list(units)
        half = ["2025-01", "2025-02"]
        pd.testing.assert_series_equal(
            source.months_with_data(units, half, ["r", "s"]),
            FrameSource(observations).months_with_data(units, half, ["r", "s"]),
        )
        assert source.count_rows(units[:2], MONTHS) == FrameSource(observations).count_rows(units[:2], MONTHS)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(numbers, min_size=12, max_size=12),
    absent=st.sets(st.integers(min_value=0, max_value=11), max_size=3),
)
def test_sql_roll_up_of_a_year_equals_pandas(values, absent):
    """Nine or more months: numpy's pairwise sum takes its eight-accumulator path."""
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    present = [k not in absent for k in range(12)]
    rows = [(m, i, v) for m, v, p in zip(months, values, present, strict=True) if p for i in KINDS]
    frame = pd.DataFrame(rows, columns=["period", "indicator", "value"])
    observations = pd.DataFrame(
        {
            "period": frame["period"].astype(TEXT_DTYPE),
            "unit_id": pd.Series("A", index=frame.index).astype(TEXT_DTYPE),
            "indicator": frame["indicator"].astype(TEXT_DTYPE),
            "value": frame["value"] / 1e3,
            "numerator": frame["value"],
            "denominator": frame["value"] + 1.0,
            "rater_id": pd.Series(None, index=frame.index, dtype=object).astype(TEXT_DTYPE),
            "submitted_at": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"),
            "source_row": np.arange(2, len(frame) + 2, dtype=np.int64),
        }
    )
    with source_from_frame(observations, STATION) as source:
        year = parse_period("2025")
        pd.testing.assert_frame_equal(
            source.roll_up(pd.Index(["A"]), KINDS, year), roll_up(observations, KINDS, year), check_exact=True
        )


def test_a_file_of_another_framework_is_refused_from_sql_counts():
    """check_data_fits_framework reads the source's rows per indicator: the same refusal as with pandas."""
    from perfmodel.evaluation import EvaluationError

    observations = SAMPLES / "observations" / "officer_traffic.csv.gz"
    messages = []
    for engine in ("duckdb", "pandas"):
        with pytest.raises(EvaluationError, match="does not fit framework") as caught:
            read_evaluation_inputs(STATION, observations, SAMPLES / "units.csv", engine=engine, as_source=True)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
