"""Benchmark: ``perfmodel score`` from 1 M to 150 M rows — time and peak memory, beside the direct DuckDB core.

Run with ``python benchmarks/scaling.py`` (``--rows 1000000 5000000 20000000 30000000
50000000 150000000`` by default); ``--record`` writes the tables into
``benchmarks/results/scaling.md``. Not part of the test suite; ``make bench`` runs
it with the default sizes (about an hour on 2 cores, and ~10 GB of scratch disk
in ``$BENCH_TMP`` or the system's temporary folder).

Two shapes of data, both Parquet, made by :func:`engines.write_files` (the same
generator, faults and seed as ``engines.py``):

- **the scaling curve**: a year (2024-07 … 2025-06) of stations × the 12 inputs of
  ``station_four_dimension``; the quarter 2025Q2 is scored, so a quarter of the rows
  are in the period (the reader prunes the rest: row groups by ``period``);
- **the national quarter** (``--national``): the same shape with only the quarter's
  three months, so every row is in the period.

Timed, each in its own process, one after the other:

- ``perfmodel score --engine duckdb --memory-limit LIMIT``: full validation with the
  quarantine, then the evaluation (scores, ranks, grades, previous quarter);
- ``duckdb``: the direct DuckDB core of ``engines.py`` (checks, roll-up, min-max,
  weighted sum, rank; no previous quarter, no flags) on the same file, for the ratio.

Peak memory is the child's maximum resident set (``getrusage``), DuckDB's buffers
included. The load average at the start of each run and the machine are recorded.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import load_average, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scaling.md"
FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"
QUARTER = ["2025-04", "2025-05", "2025-06"]
SIZES = [1_000_000, 5_000_000, 20_000_000, 30_000_000, 50_000_000, 150_000_000]
"""The scaling curve; 30 M rows is a province's year (100,000 officers × 25 indicators × 12 months)."""


def run_score(observations: Path, units: Path, memory_limit: str) -> dict[str, object]:
    """``perfmodel score --engine duckdb`` on the file in a child process: time, peak RSS, units scored."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        out = Path(tmp) / "scores.csv"
        command = [sys.executable, "-c", "import sys; from perfmodel.cli import main; sys.exit(main())"]
        command += ["score", "--observations", str(observations), "--units", str(units)]
        command += ["--framework", FRAMEWORK, "--period", PERIOD, "--out", str(out)]
        command += ["--engine", "duckdb", "--memory-limit", memory_limit]
        load = load_average()
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
        seconds = time.perf_counter() - start
        if done.returncode:
            lines = done.stderr.strip().splitlines()
            return {"error": lines[-1] if lines else "failed", "load": load}
        with out.open(encoding="utf-8") as handle:
            units_scored = sum(1 for _ in handle) - 1
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    return {"seconds": seconds, "rss_mib": rss, "units": units_scored, "load": load}


def run_direct(observations: Path, units: Path) -> dict[str, object]:
    """The direct DuckDB core of ``engines.py`` in a fresh process."""
    load = load_average()
    command = [sys.executable, str(HERE / "engines.py"), "--child", "duckdb", str(observations), str(units)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else "failed", "load": load}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}


def measure_score(observations: Path, units: Path, memory_limit: str) -> dict[str, object]:
    """:func:`run_score` in its own process, so that the peak RSS is this run's alone."""
    command = [sys.executable, __file__, "--child", str(observations), str(units), memory_limit]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else "failed", "load": load_average()}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(got: dict[str, object], key: str, fmt: str) -> str:
    return format(got[key], fmt) if key in got else f"failed: {got.get('error', '?')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=SIZES, help="rows per file (default: 1 M … 150 M)")
    parser.add_argument("--national", type=int, nargs="*", default=[150_000_000], help="rows of national quarters")
    parser.add_argument("--memory-limit", default="2GB", help="the engine's memory limit (default 2GB)")
    parser.add_argument("--no-direct", action="store_true", help="skip the direct DuckDB core")
    parser.add_argument("--record", action="store_true", help="write the tables into benchmarks/results/scaling.md")
    parser.add_argument("--child", nargs=3, metavar=("OBSERVATIONS", "UNITS", "LIMIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        observations, units, limit = args.child
        print(json.dumps(run_score(Path(observations), Path(units), limit)))
        return
    sys.path.insert(0, str(HERE))
    from engines import MONTHS, write_files

    header = [
        "| rows in file | rows in 2025Q2 | units | write (s) | perfmodel score (s) | peak RSS (MiB) "
        "| direct DuckDB (s) | direct RSS (MiB) | ratio | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    tables: dict[str, list[str]] = {"curve": list(header), "national": list(header)}
    runs = [("curve", rows, MONTHS) for rows in args.rows] + [("national", rows, QUARTER) for rows in args.national]
    for table, rows, months in runs:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            start = time.perf_counter()
            files = write_files(Path(tmp), rows, months=months, formats=("parquet",))
            written = time.perf_counter() - start
            score = measure_score(files["parquet"], files["units"], args.memory_limit)
            direct = {} if args.no_direct else run_direct(files["parquet"], files["units"])
        in_period = rows * len(QUARTER) // len(months)
        ratio = (
            f"{float(score['seconds']) / float(direct['seconds']):.1f}×"  # type: ignore[arg-type]
            if "seconds" in score and "seconds" in direct
            else "–"
        )
        cells = [
            f"{rows:,}",
            f"{in_period:,}",
            f"{score.get('units', '–')}",
            f"{written:.0f}",
            _cell(score, "seconds", ".1f"),
            _cell(score, "rss_mib", ".0f"),
            _cell(direct, "seconds", ".1f") if direct else "–",
            _cell(direct, "rss_mib", ".0f") if direct else "–",
            ratio,
            f"{float(score['load']):.1f}",  # type: ignore[arg-type]
        ]
        line = "| " + " | ".join(cells) + " |"
        print(table, line, flush=True)
        tables[table].append(line)
    if args.record:
        import duckdb

        RESULTS.parent.mkdir(exist_ok=True)
        head = (
            "# Scaling: `perfmodel score` from 1 M to 150 M rows\n\n"
            "Written by `python benchmarks/scaling.py --record` (see its docstring for what is timed).\n\n"
            f"- date: {datetime.date.today().isoformat()}\n- machine: {machine()}\n"
            f"- DuckDB {duckdb.__version__}; `--memory-limit {args.memory_limit}`, 2 threads\n\n"
        )
        body = "## The scaling curve (a year in the file, the quarter scored)\n\n" + "\n".join(tables["curve"])
        body += "\n\n## National quarters (every row in the quarter)\n\n" + "\n".join(tables["national"]) + "\n"
        RESULTS.write_text(head + body, encoding="utf-8")


if __name__ == "__main__":
    main()
