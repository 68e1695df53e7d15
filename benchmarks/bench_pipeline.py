"""Benchmark: validating and scoring a bureau-sized month file (about 1,000,000 observation rows).

Run with ``python benchmarks/bench_pipeline.py``; ``--record`` writes the timings
into this benchmark's section of ``benchmarks/RESULTS.md``. Not part of the test
suite.

The data: 3,500 stations × 24 months × the 12 input indicators of the shipped
``station_four_dimension`` framework (1,008,000 rows), values drawn from a seeded
generator, written to a gzipped CSV. Timed: reading and validating the file
against the framework (:func:`perfmodel.validation.read_inputs`), then one
quarterly evaluation with the previous quarter for rank changes
(:func:`perfmodel.evaluation.evaluate`), uncalibrated and with case-mix
calibration. Peak memory is the process's peak resident set size
(``getrusage``), read after each step; :mod:`tracemalloc` is not used because
it slows pandas down several times.
"""

from __future__ import annotations

import argparse
import datetime
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _results import load_average, machine, record

from perfmodel.evaluation import evaluate
from perfmodel.framework import load_framework
from perfmodel.validation import read_inputs

N_STATIONS, N_MONTHS = 3_500, 24
SECTION = "## bench_pipeline.py — read, validate and score 1,008,000 observation rows"
RESULTS_HEADING = "Latest run (`python benchmarks/bench_pipeline.py --record`):"
INTRO = """What is timed: `read_inputs()` on a gzipped CSV of 3,500 synthetic stations ×
24 months × the 12 input indicators of `station_four_dimension` (every row
checked and typed, the quarantine built), then `evaluate()` of one quarter with
its previous quarter, without and with case-mix calibration."""


def write_inputs(folder: Path, seed: int = 3) -> tuple[Path, Path]:
    """The units table and the observations file of the benchmark."""
    fw = load_framework("station_four_dimension")
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:05d}" for i in range(N_STATIONS)])
    units = pd.DataFrame(
        {
            "unit_id": ids,
            "name": ids,
            "level": "station",
            "parent_id": "",
            "station_class": rng.choice(["一类", "二类", "三类"], N_STATIONS),
            "station_type": rng.choice(["地区派出所", "治安派出所"], N_STATIONS, p=[0.9, 0.1]),
            "area_type": rng.choice(["城区核心", "城乡结合部", "农村"], N_STATIONS),
            "population": rng.integers(5_000, 120_000, N_STATIONS),
            "incident_volume": rng.integers(20, 900, N_STATIONS),
            "officers": rng.integers(6, 60, N_STATIONS),
        }
    )
    kinds = fw.input_indicators()
    months = pd.period_range("2024-01", periods=N_MONTHS, freq="M").astype(str)
    grid = pd.MultiIndex.from_product([months, ids, list(kinds)], names=["period", "unit_id", "indicator"])
    obs = grid.to_frame(index=False)
    kind = obs["indicator"].map(kinds).to_numpy()
    n = len(obs)
    denominator = rng.integers(20, 200, n).astype(float)
    numerator = np.floor(denominator * rng.beta(18, 2, n))
    value = np.select(
        [kind == "rate", kind == "count", kind == "duration"],
        [numerator / denominator, rng.poisson(1.0, n), rng.gamma(4.0, 1.5, n).round(1)],
        default=rng.normal(80, 8, n).clip(0, 100).round(1),
    )
    obs["value"] = value
    obs["numerator"] = np.where(kind == "rate", numerator, np.nan)
    obs["denominator"] = np.where(kind == "rate", denominator, np.nan)
    obs_path, units_path = folder / "observations.csv.gz", folder / "units.csv"
    obs.to_csv(obs_path, index=False)
    units.to_csv(units_path, index=False)
    return obs_path, units_path


def peak_rss() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the result into benchmarks/RESULTS.md")
    args = parser.parse_args()
    fw = load_framework("station_four_dimension")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        obs_path, units_path = write_inputs(Path(tmp))
        generate = time.perf_counter() - t0
        size = obs_path.stat().st_size / 2**20
        load = load_average()
        before = peak_rss()
        t0 = time.perf_counter()
        obs_result, units_result = read_inputs(fw, obs_path, units_path)
        validate = time.perf_counter() - t0
        t0 = time.perf_counter()
        ev = evaluate(fw, obs_result.data, units_result.data, "2025Q2")
        score = time.perf_counter() - t0
        peak = peak_rss()
        t0 = time.perf_counter()
        evaluate(fw, obs_result.data, units_result.data, "2025Q2", compare_previous=False, calibration="casemix")
        calibrated = time.perf_counter() - t0
    lines = [
        f"date: {datetime.date.today().isoformat()}",
        f"rows: {obs_result.n_input:,} observations ({size:.1f} MiB gzipped CSV), {N_STATIONS:,} units; "
        f"{len(obs_result.quarantine)} quarantined",
        f"machine: {machine()}; load average at start {load:.1f}",
        f"writing the synthetic file (not part of the pipeline): {generate:.1f} s",
        f"read_inputs() — read, check and type every row: {validate:.1f} s",
        f"evaluate() — quarter 2025Q2 with 2025Q1 for rank changes, uncalibrated: {score:.1f} s",
        f"peak resident memory of the process: {before:.0f} MiB after writing the file, "
        f"{peak:.0f} MiB after reading, validation and scoring",
        f"evaluate(calibration='casemix') of the quarter, without the previous one: {calibrated:.1f} s",
        f"scored units: {ev.scores['score'].notna().sum():,}",
    ]
    print("\n".join(lines))
    if args.record:
        record(SECTION, RESULTS_HEADING, lines, INTRO)


if __name__ == "__main__":
    main()
