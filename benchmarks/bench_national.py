"""Benchmark: ``perfmodel sample --format parquet`` writing a national world of about 10 M rows.

Run with ``python benchmarks/bench_national.py`` (31 provinces, 2,750,000 officers in
55,000 stations, 12 months of ``station_four_dimension``: about 10 M observation
rows); ``--record`` writes ``benchmarks/results/national.md`` (``make bench``
passes it). Not part of the test suite.

What is timed: :func:`perfmodel.simulate_national.generate_national` in a child
process, from the first city to the last file closed: every city's world and
observations, the Arrow tables of every province × month partition, and the
Parquet files (zstd) of the observations, the units and their truth. Recorded:
wall time, the child's peak resident memory (``getrusage``), rows written, rows
per second, the size on disk, and the load average before and after (the machine
is shared).
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
RESULTS = HERE / "results" / "national.md"


def child(out: Path, officers: int, provinces: int, months: int, framework: str) -> None:
    """Generate the nation into ``out``; print time, peak RSS and rows as JSON (the child's side)."""
    from perfmodel.simulate_national import generate_national

    start = time.perf_counter()
    written = generate_national(
        out, officers=officers, provinces=provinces, months=months, start="2025-01", framework=framework, rng=1
    )
    seconds = time.perf_counter() - start
    rows = sum(sum(r.values()) for r in written["rows"].values())
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mib": rss, "rows": rows, "bytes": size}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officers", type=int, default=2_750_000, help="officers in the nation")
    parser.add_argument("--provinces", type=int, default=31, help="provinces")
    parser.add_argument("--months", type=int, default=12, help="months from 2025-01")
    parser.add_argument("--framework", default="station_four_dimension", help="framework observed")
    parser.add_argument("--record", action="store_true", help="write the result into benchmarks/results/national.md")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.officers, args.provinces, args.months, args.framework)
        return
    sizes = ["--officers", str(args.officers), "--provinces", str(args.provinces), "--months", str(args.months)]
    before = load_average()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        command = [sys.executable, __file__, "--child", str(Path(tmp) / "nation"), *sizes]
        done = subprocess.run([*command, "--framework", args.framework], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    got = json.loads(done.stdout.strip().splitlines()[-1])
    after = load_average()
    lines = [
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine()}",
        f"- load average (1 min) at start / end: {before:.1f} / {after:.1f}",
        f"- nation: {args.officers:,} officers, {args.provinces} provinces, {args.months} months, {args.framework}",
        f"- rows written: {got['rows']:,} in {args.provinces * args.months} partitions "
        f"({got['bytes'] / 2**20:.0f} MiB on disk with units and truth)",
        f"- time: {got['seconds']:.1f} s, {got['rows'] / got['seconds']:,.0f} rows/s",
        f"- peak RSS of the generating process: {got['rss_mib']:.0f} MiB",
    ]
    print("\n".join(lines))
    if args.record:
        RESULTS.parent.mkdir(exist_ok=True)
        head = (
            "# National simulation: `perfmodel sample --format parquet`\n\n"
            "Written by `python benchmarks/bench_national.py --record` (see its docstring for what is timed).\n\n"
        )
        RESULTS.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
