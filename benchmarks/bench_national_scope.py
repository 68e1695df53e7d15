"""Benchmark: the national scope on a 2-process LocalCluster against one process, and what crosses the network.

Run with ``python benchmarks/bench_national_scope.py`` (a nation of 200,000 officers
in 4 provinces, 3 months of ``station_four_dimension`` in ``province=/month=``
Parquet folders, scored for 2025Q1); ``--record`` writes
``benchmarks/results/national_scope.md`` (``make bench`` passes it). Not part of
the test suite.

What is timed, one after the other in this process, on the same folder:

- ``one process``: :func:`perfmodel.evaluation.evaluate_files` (read, validate, score);
- ``national, new cluster``: :func:`perfmodel.partitioned.evaluate_national` with
  ``workers=2``, starting and stopping its ``LocalCluster`` (what
  ``perfmodel score --partition-by province --scope national`` does);
- ``national, running cluster``: the same on a cluster already started;
- ``partition scope, running cluster``: :func:`perfmodel.partitioned.evaluate_partitioned`.

The national scores are checked equal to the single-process scores. What crosses
the network is measured as pickled bytes of each object sent or returned, with
pass 1 run here partition by partition (the same functions the workers run);
beside it, the validated rows that reading on the calling machine would scatter.
The load average is recorded before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import datetime
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from _results import load_average, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "national_scope.md"
FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q1"


def size(obj: Any) -> int:
    """Pickled bytes of ``obj`` (what Dask sends for a pandas object, near enough)."""
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def exchanged(observations: Path, units: Path, period: str, partition_by: str = "province") -> list[str]:
    """Lines naming every object the national scope exchanges on this input, with its size."""
    from perfmodel import partitioned
    from perfmodel.evaluation import Settings
    from perfmodel.framework import load_framework

    fw = load_framework(FRAMEWORK)
    plan = partitioned._plan(fw, observations, units, period, partition_by, None, "auto", None)
    assert plan.folders is not None, "not a folder of province= partitions"
    periods = partitioned.periods_asked(fw, period, Settings())
    slim = partitioned.units_for_validation(plan.units)
    out = [
        f"to each worker once: the units' ids and levels, {size(slim) / 2**10:,.0f} KiB "
        f"({len(plan.units.data):,} units; every column: {size(plan.units) / 2**10:,.0f} KiB)",
        f"to each worker per task: framework {size(fw) / 2**10:,.0f} KiB, its folder's pattern, the months, "
        f"the periods ({', '.join(map(str, periods))})",
    ]
    back, rows = 0, 0
    for value, pattern in plan.folders:
        read = partitioned.read_partition(fw, pattern, plan.units, plan.months, None, plan.label)
        aggregates, described = partitioned.reduce_partition(
            fw, read.data, None, None, None, plan.label, value, periods
        )
        described.quarantine = read.quarantine
        back += size((aggregates, described))
        rows += size(read.data)
        out.append(
            f"back from {partition_by}={value}: aggregates {size(aggregates) / 2**10:,.0f} KiB "
            f"(roll-ups {sum(len(t) for t in aggregates.rolled.values()):,} rows, counts {len(aggregates.counts):,} "
            f"rows), the rest {size(described) / 2**10:,.0f} KiB (quarantine {len(read.quarantine)} rows, "
            f"{len(described.units):,} unit ids) — its validated rows: {len(read.data):,}, "
            f"{size(read.data) / 2**20:,.1f} MiB"
        )
    out.append(
        f"in all back: {back / 2**20:,.2f} MiB, against {rows / 2**20:,.1f} MiB of validated rows that reading "
        "here would scatter"
    )
    return out


def timed(run: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officers", type=int, default=200_000, help="officers in the nation")
    parser.add_argument("--provinces", type=int, default=4, help="provinces")
    parser.add_argument(
        "--record", action="store_true", help=f"write the result into {RESULTS.relative_to(HERE.parent)}"
    )
    args = parser.parse_args()

    import distributed

    from perfmodel.evaluation import evaluate_files
    from perfmodel.partitioned import evaluate_national, evaluate_partitioned
    from perfmodel.simulate_national import generate_national

    before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        made = generate_national(
            tmp, officers=args.officers, provinces=args.provinces, months=3, start="2025-01", rng=1
        )
        observations, units = Path(tmp) / "observations", Path(tmp) / "units.parquet"
        files = (FRAMEWORK, observations, units, PERIOD)
        written: dict[str, dict[str, int]] = made["rows"]  # type: ignore[assignment]
        rows = sum(sum(months.values()) for months in written.values())
        single_s, single = timed(lambda: evaluate_files(*files))
        fresh_s, national = timed(lambda: evaluate_national(*files, partition_by="province", workers=2))
        pd.testing.assert_frame_equal(national.scores, single.scores)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        with distributed.Client(cluster) as client:
            evaluate_national(*files, partition_by="province", client=client)  # workers import perfmodel once
            warm_s, again = timed(lambda: evaluate_national(*files, partition_by="province", client=client))
            part_s, _ = timed(lambda: evaluate_partitioned(*files, partition_by="province", client=client))
        cluster.close()
        pd.testing.assert_frame_equal(again.scores, single.scores)
        sizes = exchanged(observations, units, PERIOD)
    after = load_average()
    lines = [
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine()}",
        f"- load average (1 min) at start / end: {before:.1f} / {after:.1f}",
        f"- nation: {args.officers:,} officers, {args.provinces} provinces, 3 months ({rows:,} observation rows), "
        f"{len(single.scores):,} stations scored for {PERIOD}",
        f"- one process (`evaluate_files`): {single_s:.1f} s",
        f"- national scope, 2-process LocalCluster started and stopped: {fresh_s:.1f} s",
        f"- national scope, running 2-process LocalCluster: {warm_s:.1f} s",
        f"- partition scope (each province alone), running 2-process LocalCluster: {part_s:.1f} s",
        "- national scores equal to the single-process scores: yes (assert_frame_equal)",
        "- what crosses the network (pickled):",
        *(f"  - {line}" for line in sizes),
    ]
    print("\n".join(lines))
    if args.record:
        RESULTS.parent.mkdir(exist_ok=True)
        head = (
            "# National scope on Dask: `perfmodel score --partition-by province --scope national`\n\n"
            "Written by `python benchmarks/bench_national_scope.py --record` (see its docstring for what is "
            "timed).\n\n"
        )
        RESULTS.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
