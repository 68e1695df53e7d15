"""Benchmark: the design optimiser on the shipped sample's world (station_four_dimension, 2025).

Run with ``python benchmarks/bench_optimise.py [--trials N] [--figure PATH]``; it
searches the default family of ``station_four_dimension`` (weights within the
policy limits, goalposts/min-max/rank normalisation, arithmetic/geometric
aggregation, station-class or no peer groups, calibration none/casemix, hard
thresholds kept or flag-only, flat/difficulty/harm case credit, indicators left
out) on the world of ``data_samples`` (``perfmodel sample`` seed 20250101: 120
stations, truth from ``truth_units.csv``), and prints the front, the shipped
design's and the recommended design's objectives and the time taken. With
``--record`` it writes them into this benchmark's section of
``benchmarks/RESULTS.md``. Not part of the test suite (several minutes).
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from _results import load_average, machine, record

from perfmodel.audit.policy import weight_policy
from perfmodel.design.cli import write_tables
from perfmodel.design.optimise import DesignSpace, figure_front, optimise, sample_world

SECTION = "## Design optimiser (`bench_optimise.py`)"
RESULTS_HEADING = "Latest run (`python benchmarks/bench_optimise.py --record`):"
SAMPLE = Path(__file__).resolve().parents[1] / "data_samples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=120, help="designs evaluated (default 120)")
    parser.add_argument("--seed", type=int, default=20250101, help="seed of the search (default 20250101)")
    parser.add_argument("--figure", help="also save the front figure here (PNG)")
    parser.add_argument("--out", help="also write the trials, front and comparison tables to this folder")
    parser.add_argument("--record", action="store_true", help="write the result into benchmarks/RESULTS.md")
    args = parser.parse_args()

    world = sample_world(SAMPLE, "station_four_dimension", "2025", rng=args.seed)
    start = time.perf_counter()
    result = optimise(DesignSpace.of(world.framework), world, trials=args.trials, rng=args.seed)
    seconds = time.perf_counter() - start
    comparison = result.comparison()
    print(result.summary("en"))
    print(comparison.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(result.front.drop(columns=["problem"]).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    policy = weight_policy(result.recommended_framework(), lang="en").to_frame()
    print(policy[["rule", "basis", "limit", "estimate", "passes"]].to_string(index=False))
    if args.out:
        write_tables(result.tables(), args.out)
    if args.figure:
        ax = figure_front(result, lang="en")
        ax.figure.savefig(args.figure)
    lines = [
        f"{datetime.date.today()}: {len(result.trials)} designs ({int(result.trials['feasible'].sum())} within the "
        f"policy limits), {len(result.front)} on the front, {seconds:.0f} s; seed {args.seed}; {machine()}; "
        f"load {load_average():.1f}",
        *(
            f"{row.objective}: shipped {row.base:.3f}, recommended {row.recommended:.3f}"
            for row in comparison.itertuples()
        ),
        f"recommended: {result.recommended.describe()}",
    ]
    if args.record:
        record(SECTION, RESULTS_HEADING, lines)


if __name__ == "__main__":
    main()
