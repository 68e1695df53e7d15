"""Study: does the hot-spot analysis find a planted hot-spot, and how often does it flag an unplanted world?

Run with ``python benchmarks/bench_hotspots.py`` (``--worlds N`` worlds per setting,
default 10); with ``--record`` it writes the numbers into this study's section of
``benchmarks/RESULTS.md``. Not part of the test suite (``tests/test_spatial.py``
runs a small version of both checks).

Planted worlds: ``perfmodel.simulate.simulate`` with 120 stations, three months
(2024Q1), every context effect on, and a :class:`~perfmodel.simulate.HotSpot` of
10 neighbouring stations whose true performance is lowered by 1.5, 2 or 2.5 latent
sd. The analysis is :func:`perfmodel.spatial.hotspots` on the quarter's scores
(station_four_dimension), 6 nearest neighbours, 9,999 permutations, FDR 0.05.
Reported: recall (planted stations among the Gi* cold spots, and among the LL
clusters), precision (cold spots that are planted) and how many of the other cold
spots border the planted area (Gi* measures a unit's neighbourhood, so a station
next to the area is in a cold spot too).

Unplanted worlds: the same without a hot-spot, with ``confounding=False`` and truth
independent of resources (``Effects(theta_resource_corr=0)``), so that nothing
depends on place. Reported: the share of units with permutation p ≤ 0.05 (the raw
false-positive rate; it should be 0.05) and the share of worlds with any FDR
discovery (it should be at most 0.05).
"""

from __future__ import annotations

import argparse
import datetime
import time
import warnings

import numpy as np
from _results import load_average, machine, record

from perfmodel import spatial as sp
from perfmodel.framework import load_framework
from perfmodel.simulate import Effects, HotSpot, simulate
from perfmodel.validation import read_inputs

SECTION = "## bench_hotspots.py — planted hot-spots found, false positives on unplanted worlds"
RESULTS_HEADING = "Latest run (`python benchmarks/bench_hotspots.py --record`):"
STATIONS, PERIOD, SIZE = 120, "2024Q1", 10


def _run(fw, seed: int, *, hotspot: HotSpot | None, permutations: int) -> tuple[sp.LocalAssociation, set[str]]:
    null = hotspot is None
    sample = simulate(
        [fw],
        stations=STATIONS,
        months=3,
        officers_per_station=0,
        rng=seed,
        coordinates=True,
        hotspot=hotspot,
        confounding=not null,
        effects=Effects(theta_resource_corr=0.0) if null else None,
    )
    observations, units = read_inputs(fw, sample.observations[fw.id], sample.units)  # drops the injected defects
    result = sp.hotspots(
        fw, observations.data, units.data, PERIOD, permutations=permutations, rng=seed, compare_previous=False
    )
    planted = set(sample.parameters.get("hotspot", {}).get("units", []))
    return result, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=10, help="worlds per setting (default 10)")
    parser.add_argument("--record", action="store_true", help="write the results into benchmarks/RESULTS.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    fw = load_framework("station_four_dimension")
    load, started = load_average(), time.perf_counter()
    lines = []
    for depression in (1.5, 2.0, 2.5):
        recall_gi, recall_ll, flagged, right, near = [], [], 0, 0, 0
        for seed in range(args.worlds):
            result, planted = _run(fw, seed, hotspot=HotSpot(SIZE, depression), permutations=9999)
            frame, neighbours = result.frame, result.weights.w.neighbors
            cold = set(frame.loc[frame["gi_cluster"] == "cold", "unit_id"])
            low = set(frame.loc[frame["moran_cluster"] == "LL", "unit_id"])
            recall_gi.append(len(cold & planted) / SIZE)
            recall_ll.append(len(low & planted) / SIZE)
            flagged, right = flagged + len(cold), right + len(cold & planted)
            near += sum(1 for u in cold - planted if planted & set(neighbours[u]))
        line = (
            f"planted {SIZE} of {STATIONS} stations, −{depression:g} sd, {args.worlds} worlds: "
            f"Gi* cold-spot recall {np.mean(recall_gi):.2f} (per world {', '.join(f'{r:.1f}' for r in recall_gi)}), "
            f"LL recall {np.mean(recall_ll):.2f}, cold-spot precision {right / max(flagged, 1):.2f} "
            f"({right} of {flagged}; {near} of the other {flagged - right} have a planted neighbour)"
        )
        print(line, flush=True)
        lines.append(line)
    raw_gi, raw_moran, any_discovery = [], [], 0
    for seed in range(args.worlds):
        frame = _run(fw, 1000 + seed, hotspot=None, permutations=999)[0].frame
        raw_gi.append(float((frame["gi_p"] <= 0.05).mean()))
        raw_moran.append(float((frame["moran_p"] <= 0.05).mean()))
        any_discovery += int(((frame["gi_cluster"] != "ns") | (frame["moran_cluster"] != "ns")).any())
    line = (
        f"unplanted, {args.worlds} worlds × {STATIONS} stations: share p ≤ 0.05 Gi* {np.mean(raw_gi):.3f}, "
        f"local Moran {np.mean(raw_moran):.3f} (stated 0.05); worlds with any FDR discovery "
        f"{any_discovery} of {args.worlds} (stated ≤ 5 %)"
    )
    print(line, flush=True)
    lines.append(line)
    lines.append(
        f"{time.perf_counter() - started:.0f} s in all, load average {load:.1f} at the start; "
        f"{datetime.date.today()}; {machine()}"
    )
    if args.record:
        record(SECTION, RESULTS_HEADING, lines, intro=__doc__.split("\n\n", 2)[2])


if __name__ == "__main__":
    main()
