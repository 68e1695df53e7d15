"""Benchmark: weight-uncertainty analysis of 10,000 units × 30 indicators × 1,000 draws.

Run with ``python benchmarks/bench_sensitivity.py``; it prints the timings and the
peak memory traced by :mod:`tracemalloc` during the analysis, and with
``--record`` writes them into this benchmark's section of ``benchmarks/RESULTS.md``.
Not part of the test suite.

The data are synthetic: 5 dimensions × 6 score indicators, one month, values drawn
from a seeded generator, scored with min-max normalisation, arithmetic
aggregation and quota grades within three station classes. The analysis draws
the weights of every sibling set from a Dirichlet distribution (concentration 50)
and computes scores, peer-group ranks and grades for every draw.
"""

from __future__ import annotations

import argparse
import datetime
import time
import tracemalloc

import numpy as np
import pandas as pd
from _results import load_average, machine, record

from perfmodel.design.sensitivity import UncertaintySpec, uncertainty
from perfmodel.evaluation import evaluate
from perfmodel.framework import framework_from_dict

N_UNITS, N_DIMENSIONS, PER_DIMENSION, N_DRAWS = 10_000, 5, 6, 1_000
SECTION = "## bench_sensitivity.py — weight uncertainty, 10,000 units × 30 indicators × 1,000 draws"
RESULTS_HEADING = "Latest run (`python benchmarks/bench_sensitivity.py --record`):"


def _name(text: str) -> dict[str, str]:
    return {"zh": text, "en": text}


def framework():
    """Five equally weighted dimensions of six equally weighted rate indicators."""
    tree = [
        {
            "id": f"d{d}",
            "name": _name(f"维度{d}"),
            "weight": 1 / N_DIMENSIONS,
            "children": [
                {"id": f"d{d}_{k}", "name": _name(f"指标{d}-{k}"), "weight": 1 / PER_DIMENSION, "kind": "score"}
                for k in range(PER_DIMENSION)
            ],
        }
        for d in range(N_DIMENSIONS)
    ]
    return framework_from_dict(
        {
            "id": "bench",
            "name": _name("基准"),
            "level": "station",
            "peer_group": "station_class",
            "normalisation": {"method": "minmax"},
            "grading": {"method": "quota", "within": "station_class"},
            "tree": tree,
        }
    )


def data(fw, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"U{i:05d}" for i in range(N_UNITS)]
    units = pd.DataFrame(
        {
            "unit_id": ids,
            "name": ids,
            "level": "station",
            "station_class": rng.choice(["一类", "二类", "三类"], N_UNITS),
        }
    )
    indicators = [i.id for i in fw.indicators()]
    quality = rng.normal(size=N_UNITS)
    values = 70 + 8 * quality[:, None] + 6 * rng.normal(size=(N_UNITS, len(indicators)))
    obs = pd.DataFrame(
        {
            "period": "2025-06",
            "unit_id": np.repeat(ids, len(indicators)),
            "indicator": np.tile(indicators, N_UNITS),
            "value": values.ravel(),
            "numerator": np.nan,
            "denominator": np.nan,
            "rater_id": None,
            "late": False,
        }
    )
    return units, obs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="append the result to benchmarks/RESULTS.md")
    parser.add_argument("--draws", type=int, default=N_DRAWS)
    args = parser.parse_args()

    fw = framework()
    units, obs = data(fw)
    t0 = time.perf_counter()
    ev = evaluate(fw, obs, units, "2025-06", compare_previous=False)
    setup = time.perf_counter() - t0

    spec = UncertaintySpec(weights="dirichlet", concentration=50.0)
    tracemalloc.start()
    t0 = time.perf_counter()
    result = uncertainty(ev, spec, draws=args.draws, rng=1, progress=False)
    analysis = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = result.by_unit()
    summarise = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    width = summary["rank_p95"] - summary["rank_p05"]
    load = load_average()
    lines = [
        f"date: {datetime.date.today().isoformat()}",
        f"units × indicators × draws: {N_UNITS:,} × {N_DIMENSIONS * PER_DIMENSION} × {args.draws:,}",
        f"machine: {machine()}; load average at start {load:.1f}",
        f"evaluation (setup, not timed in the analysis): {setup:.1f} s",
        f"uncertainty() — draws, scores, peer-group ranks, quota grades: {analysis:.2f} s",
        f"by_unit() — median rank, 5–95 % interval, grade probabilities: {summarise:.2f} s",
        f"peak traced memory (tracemalloc) during both: {peak:.0f} MiB",
        f"median width of the 5–95 % rank interval: {width.median():.0f} ranks",
    ]
    print("\n".join(lines))
    if args.record:
        record(SECTION, RESULTS_HEADING, lines)


if __name__ == "__main__":
    main()
