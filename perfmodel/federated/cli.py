"""``perfmodel compare-regions``: a fair league table of units across regions.

Each region is a folder holding ``units.csv`` and the framework's observations
(``observations/<framework>.csv.gz``, ``station_observations.csv.gz`` or
``observations.csv``, as :func:`perfmodel.simulate.write_sample` writes them), or
an observations file whose folder holds ``units.csv``; ``NAME=PATH`` names the
region (default: the folder's name). ``--simulate`` runs the three-region
example instead. The tables (league, coefficients, unit totals, what was
exchanged; with ``--simulate`` also the rank gap against the truth) are written
as CSV and one ``tables.xlsx`` into ``--out``, which may not hold an input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from perfmodel.errors import MissingFileError, OptionError

__all__ = ["add_parser", "run", "region_inputs"]

_OBSERVATION_NAMES = (
    "observations/{framework}.csv.gz",
    "observations/{framework}.csv",
    "station_observations.csv.gz",
    "observations.csv",
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``compare-regions`` to an ``argparse`` sub-parsers object."""
    from perfmodel.federated.compare import DEFAULT_TERMS

    p = subparsers.add_parser(
        "compare-regions",
        help="compare units across regions fairly from each region's aggregates (no rows pooled)",
    )
    p.add_argument(
        "regions",
        nargs="*",
        metavar="[NAME=]PATH",
        help="a region's folder (units.csv and observations) or observations file; NAME= names the region",
    )
    p.add_argument("--simulate", action="store_true", help="use three simulated regions, one in a harder context")
    p.add_argument(
        "--framework",
        default="station_four_dimension",
        help="shipped framework id or YAML file (default station_four_dimension)",
    )
    p.add_argument("--period", help="evaluation period, e.g. 2025Q1 (required unless --simulate)")
    p.add_argument(
        "--terms", default=DEFAULT_TERMS, help=f"case-mix terms over the units table (default {DEFAULT_TERMS!r})"
    )
    p.add_argument(
        "--region-effects",
        choices=["fixed", "none"],
        default="fixed",
        help="fixed: each region its own intercept in every case-mix model (default); none: context terms only",
    )
    p.add_argument("--draws", type=int, default=100, help="bootstrap replicates for the rank intervals (default 100)")
    p.add_argument("--confidence", type=float, default=0.9, help="coverage of the rank intervals (default 0.9)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the bootstrap and of --simulate (default 1)")
    p.add_argument("--stations", type=int, default=50, help="--simulate: stations per region (default 50)")
    p.add_argument("--out", required=True, help="output folder (replaced as a whole; may not hold an input)")
    p.add_argument("--no-xlsx", action="store_true", help="write the CSV files only")
    p.set_defaults(func=run)
    return p


def region_inputs(spec: str, framework_id: str) -> tuple[str, Path, Path]:
    """``[NAME=]PATH`` → (name, observations file, units file); raises when a file is missing."""
    name, sep, path_text = spec.partition("=")
    path = Path(path_text if sep else spec)
    if not path.exists():
        raise MissingFileError(
            f"region input {path} does not exist", hint="give a folder with units.csv and observations"
        )
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        candidates = [folder / n.format(framework=framework_id) for n in _OBSERVATION_NAMES]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise MissingFileError(
                f"no observations in {folder}",
                hint=f"expected one of {', '.join(n.format(framework=framework_id) for n in _OBSERVATION_NAMES)}",
            )
        observations = found[0]
    else:
        observations = path
    units = folder / "units.csv"
    if not units.is_file():
        raise MissingFileError(f"no units.csv beside {observations}", hint="put the region's units table there")
    return (name if sep else folder.name), observations, units


def run(args: argparse.Namespace) -> int:
    """Run ``compare-regions``; returns 0 (errors are raised as :class:`~perfmodel.errors.PerfmodelError`)."""
    from perfmodel.design.cli import write_tables
    from perfmodel.federated.compare import compare_regions, rank_gap
    from perfmodel.federated.example import simulate_regions
    from perfmodel.federated.region import Region
    from perfmodel.framework import load_framework

    fw = load_framework(args.framework)
    inputs: list[Path] = []
    truth = None
    if args.simulate:
        if args.regions:
            raise OptionError("give region folders or --simulate, not both")
        example = simulate_regions(fw, stations=args.stations, rng=args.seed)
        regions = example.regions
        truth = example.truth
    else:
        if len(args.regions) < 2:
            raise OptionError("compare-regions needs two or more regions (or --simulate)")
        if not args.period:
            raise OptionError("--period is required with region folders, e.g. --period 2025Q1")
        regions = []
        for spec in args.regions:
            name, observations, units = region_inputs(spec, fw.id)
            inputs += [observations, units]
            regions.append(Region.from_files(name, fw, observations, units, args.period))
    comparison = compare_regions(
        fw,
        regions,
        terms=args.terms,
        region_effects=args.region_effects,
        draws=args.draws,
        confidence=args.confidence,
        rng=args.seed,
    )
    tables = comparison.tables()
    if truth is not None:
        tables["rank_gap"] = rank_gap(comparison.to_frame(), truth)
    paths = write_tables(tables, args.out, xlsx=not args.no_xlsx, inputs=inputs)
    print(comparison.summary("en"))
    for path in paths.values():
        print(path)
    return 0
