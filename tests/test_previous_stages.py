"""The previous period's evaluation is kept slim: its released stages come back identical when read."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfmodel.evaluation import (
    PREVIOUS_KEPT_STAGES,
    PREVIOUS_SLIM_STAGES,
    Evaluation,
    Settings,
    read_evaluation_inputs,
)

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


@pytest.mark.parametrize("calibration", ["none", "casemix"])
def test_a_run_that_keeps_some_stages_lets_the_others_go_before_scoring(inputs, monkeypatch, calibration):
    """``run(keep=...)``: the early unit x indicator tables are not held while the scores are made, and every
    stage read afterwards equals a full run's."""
    fw, observations, units, _, _ = inputs
    settings = Settings(calibration=calibration)
    full = Evaluation(fw, observations, units, "2025Q2", settings).run()

    held_at_scoring: list[str] = []
    previous_held_at_scoring: list[str] = []
    finalise = Evaluation._finalise

    def spy(self, *args, **kwargs):
        held = held_at_scoring if self.period == full.period else previous_held_at_scoring
        held.extend(k for k in self.stages if not self.stages.is_later(k))
        return finalise(self, *args, **kwargs)

    monkeypatch.setattr(Evaluation, "_finalise", spy)
    lean = Evaluation(fw, observations, units, "2025Q2", settings).run(keep=["scores", "flags"])
    monkeypatch.undo()

    early = {"values", "denominated", "imputed", "treated", "oriented", "normalised", "calibrated"}
    assert held_at_scoring and not early & set(held_at_scoring)
    assert "aggregated" in held_at_scoring  # what the scores are made of is still there
    # the previous period's run, inside this one, lets its early stages go too and keeps only its scores
    assert previous_held_at_scoring and not early & set(previous_held_at_scoring)
    assert [k for k in lean.stages if not lean.stages.is_later(k)] == ["flags", "scores"]
    assert [k for k in lean.previous.stages if not lean.previous.stages.is_later(k)] == list(PREVIOUS_SLIM_STAGES)
    pd.testing.assert_frame_equal(lean.scores, full.scores)
    pd.testing.assert_frame_equal(lean.previous.scores, full.previous.scores)
    pd.testing.assert_frame_equal(lean.previous.stages["flags"], full.previous.stages["flags"])  # computed again
    assert list(lean.stages) == list(full.stages)
    for key in full.stages:
        if isinstance(full.stages[key], pd.DataFrame):
            pd.testing.assert_frame_equal(_timeless(lean.stages[key]), _timeless(full.stages[key]), obj=key)


def _timeless(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the date and time lines of statsmodels' model summaries (the time of the fit) left out."""
    if "summary" not in frame.columns:
        return frame
    drop = re.compile(r"^(Date|Time):.*$", re.MULTILINE)
    return frame.assign(summary=[drop.sub("", text) if isinstance(text, str) else text for text in frame["summary"]])


def test_hand_back_memory_keeps_the_limit_and_the_data():
    import duckdb

    from perfmodel.engine.source import HAND_BACK_FROM, hand_back_memory
    from perfmodel.engine.validate import connect

    def held(con) -> int:
        return con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]

    con = connect("1GB")
    con.execute("CREATE TEMP TABLE small AS SELECT range AS x FROM range(1000)")
    assert hand_back_memory(con) is False  # too little to be worth evicting
    assert con.sql("SELECT count(*) FROM small").fetchall() == [(1000,)]  # no result left unfinished
    con.execute("CREATE TEMP TABLE t AS SELECT range AS x, 'unit-' || range::VARCHAR AS y FROM range(8000000)")
    before, holding = con.execute("SELECT current_setting('memory_limit')").fetchone()[0], held(con)
    assert holding >= HAND_BACK_FROM
    assert hand_back_memory(con) is True
    assert held(con) < holding / 2
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == before
    expected = (8000000, 7999999 * 8000000 // 2, "unit-999999")  # max(y) in text order
    assert con.execute("SELECT count(*), sum(x), max(y) FROM t").fetchone() == expected
    con.close()

    other = duckdb.connect()  # not made by connect(): left exactly as its owner set it
    other.execute("SET memory_limit = '123MB'")
    setting = other.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    hand_back_memory(other)
    assert other.execute("SELECT current_setting('memory_limit')").fetchone()[0] == setting


def test_trim_heap_hands_freed_memory_back_and_keeps_what_is_held():
    import ctypes
    import platform

    from perfmodel.memory import trim_heap

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        assert trim_heap() is False  # no malloc_trim in this C library: nothing done
        pytest.skip("malloc_trim is glibc's")

    def resident_mib() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20

    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    held = np.arange(1_000_000, dtype=float)
    blocks = [libc.malloc(4096) for _ in range(50_000)]  # 200 MB in small blocks: on the heap, never mmap'ed
    for block in blocks:
        ctypes.memset(block, 1, 4096)  # touched, so resident
    keep = blocks[-1]  # the heap's top stays in use: only trimming returns the pages below it
    for block in blocks[:-1]:
        libc.free(block)
    before = resident_mib()
    assert trim_heap() is True
    assert resident_mib() < before - 100
    assert held.sum() == 499999500000.0
    libc.free(keep)


@pytest.mark.parametrize("period", ["2025Q2", "2024Q1"])  # 2024Q1: no previous quarter in the data
def test_duckdb_hands_its_memory_back_after_the_last_query_before_the_unit_level_steps(monkeypatch, period):
    from perfmodel.engine import source as engine_source
    from perfmodel.engine.source import EngineSource

    events: list[str] = []

    def logged(method, event):
        def call(*args, **kwargs):
            events.append(event)
            return method(*args, **kwargs)

        return call

    for name in ("months", "count_rows", "months_with_data", "late_counts", "rolled_values", "roll_up", "rows"):
        monkeypatch.setattr(EngineSource, name, logged(getattr(EngineSource, name), "query"))
    monkeypatch.setattr(engine_source, "HAND_BACK_FROM", 0)  # the sample is small: hand back whatever is held
    monkeypatch.setattr(engine_source, "hand_back_memory", logged(engine_source.hand_back_memory, "hand back"))
    step = staticmethod(logged(Evaluation._indicator_values, "unit-level steps"))  # the first unit-level step
    monkeypatch.setattr(Evaluation, "_indicator_values", step)

    fw, observations, units, _, _ = read_evaluation_inputs(
        "station_four_dimension",
        SAMPLE / "station_observations.csv.gz",
        SAMPLE / "units.csv",
        engine="duckdb",
        memory_limit="1GB",
        as_source=True,
    )
    events.clear()
    Evaluation(fw, observations, units, period).run()
    starts = [i for i, event in enumerate(events) if event == "unit-level steps" and events[i - 1] != event]
    assert len(starts) == (2 if period == "2025Q2" else 1)  # this quarter, and the previous one where it has data
    for start in starts:
        assert events[start - 1] == "hand back", events
