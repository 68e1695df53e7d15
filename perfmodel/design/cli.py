"""``perfmodel lab …``: the indicator design lab on the command line.

Sub-commands:

``sensitivity``
    Monte Carlo uncertainty analysis (rank intervals, grade probabilities) and,
    with ``--sobol N``, first-order and total Sobol' indices.
``redundancy``
    Correlations, Cronbach's alpha, PCA, VIF, discriminating power, the effect of
    removing each indicator, merge suggestions and the reporting burden.
``compare``
    Several designs on the same units: rank agreement, grade transitions,
    biggest movers; optionally alternative weightings and a flexible-pool variant.
``gaming``
    Added by :func:`add_gaming_parser`; runs :func:`run_gaming`.
``optimise``
    The design optimiser (:mod:`perfmodel.design.optimise`): the Pareto front of
    a framework family on a world with known truth, and the recommended design as YAML.

Every command writes CSV tables (UTF-8 with BOM) and one ``tables.xlsx`` workbook
to ``--out`` and never prompts. The main ``perfmodel`` parser attaches these with
:func:`add_parser`; :func:`run` executes a parsed command and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from perfmodel.errors import MissingFileError, OptionError

__all__ = ["add_parser", "add_gaming_parser", "run", "run_gaming", "write_tables", "parse_changes"]

EXIT_OK, EXIT_FAILED = 0, 1


# ---------------------------------------------------------------- output
def write_tables(
    tables: Mapping[str, pd.DataFrame],
    out_dir: str | Path,
    *,
    xlsx: bool = True,
    inputs: Iterable[str | Path] = (),
) -> dict[str, Path]:
    """Write each table as ``<name>.csv`` and all of them as sheets of ``tables.xlsx``.

    CSV files are UTF-8 with a byte-order mark (Excel shows Chinese text); text
    that would start a spreadsheet formula is guarded (:func:`perfmodel.io.guard_formulas`).
    ``out_dir`` is replaced as a whole, only when every file is written
    (:func:`perfmodel.outputs.atomic_folder`); it may not be or hold one of ``inputs``.

    Returns
    -------
    dict
        Table name (and ``workbook``) → path written.
    """
    from perfmodel.io import SheetFormat, write_table, write_workbook
    from perfmodel.outputs import atomic_folder

    out = Path(out_dir)
    paths = {name: out / f"{name}.csv" for name in tables}
    with atomic_folder(out, inputs=inputs) as staging:
        for name, frame in tables.items():
            write_table(frame, staging / f"{name}.csv")
        if xlsx and tables:
            write_workbook(tables, staging / "tables.xlsx", {name: SheetFormat() for name in tables})
            paths["workbook"] = out / "tables.xlsx"
    return paths


def parse_changes(text: str) -> dict[str, float]:
    """Parse ``"a=+0.05,b=-0.05"`` into ``{"a": 0.05, "b": -0.05}``.

    Examples
    --------
    >>> parse_changes("callback_satisfaction=+0.05, housekeeping_score=-0.05")
    {'callback_satisfaction': 0.05, 'housekeeping_score': -0.05}
    """
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            change = float(value) if sep else None
        except ValueError:
            change = None
        if change is None:
            raise OptionError(
                f"cannot read {part!r}: write indicator=change pairs separated by commas, "
                "e.g. callback_satisfaction=+0.05,housekeeping_score=-0.05"
            )
        out[key.strip()] = change
    return out


def _load(framework: Any, observations: str, units: str, period: str, settings: dict[str, Any]):
    from perfmodel.evaluation import evaluate_files

    return evaluate_files(framework, observations, units, period, compare_previous=False, **settings)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"peer_group": args.peer_group} if getattr(args, "peer_group", None) else {}


def _given_inputs(args: argparse.Namespace) -> list[Path]:
    """The input files named on the command line (outputs may not replace them)."""
    names = [getattr(args, key, None) for key in ("observations", "units", "framework")]
    return [Path(name) for name in names if isinstance(name, str) and Path(name).is_file()]


def _report(paths: Mapping[str, Path]) -> None:
    print("wrote: " + ", ".join(str(p) for p in paths.values()))


# ---------------------------------------------------------------- commands
def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from perfmodel.design.sensitivity import UncertaintySpec, sobol, uncertainty

    ev = _load(args.framework, args.observations, args.units, args.period, _settings(args))
    choices: dict[str, Any] = {}
    for name in ("normalisation", "aggregation", "imputation"):
        if getattr(args, name):
            choices[name] = getattr(args, name)
    if args.calibration:
        choices["calibration"] = [False, True]
    spec = UncertaintySpec(
        weights=args.weights,
        weight_range=args.weight_range,
        concentration=args.concentration,
        choices=choices,
        drop=args.drop,
    )
    progress = not args.no_progress
    result = uncertainty(ev, spec, draws=args.draws, rng=args.seed, progress=progress)
    tables = result.tables()
    if args.sobol:
        indices = sobol(ev, spec, n=args.sobol, rng=args.seed, bootstrap=args.bootstrap, progress=progress)
        tables["sobol_indices"] = indices.indices
        tables["sobol_by_unit"] = indices.by_unit
    # the run's provenance: what repeats it (the seed above all), next to its tables
    tables["run_parameters"] = pd.DataFrame(
        {
            "parameter": ["framework", "period", "seed", "draws", "sobol", "bootstrap"],
            "value": [ev.framework.id, args.period, args.seed, args.draws, args.sobol, args.bootstrap],
        }
    ).astype({"value": str})
    paths = write_tables(tables, args.out, inputs=_given_inputs(args))
    summary = tables["by_unit"]
    width = (summary["rank_p95"] - summary["rank_p05"]).median()
    print(
        f"{ev.framework.id} {args.period}: {len(result)} replicates, {len(summary)} units; "
        f"median width of the 5–95 % rank interval {width:.1f} ranks"
    )
    for note in result.notes:
        print(f"note: {note}")
    if args.sobol:
        top = tables["sobol_indices"].sort_values("ST", ascending=False).iloc[0]
        print(f"largest total-effect index: {top['factor']} (S_T = {top['ST']:.2f})")
    _report(paths)
    return EXIT_OK


def _cmd_redundancy(args: argparse.Namespace) -> int:
    from perfmodel.design.redundancy import redundancy_report
    from perfmodel.design.weights import weight_table

    ev = _load(args.framework, args.observations, args.units, args.period, _settings(args))
    report = redundancy_report(ev, threshold=args.threshold)
    tables = report.tables()
    tables["weights"] = weight_table(ev).reset_index()
    paths = write_tables(tables, args.out, inputs=_given_inputs(args))
    merges = report.merges[report.merges["action"] == "merge"]
    print(
        f"{ev.framework.id} {args.period}: {len(ev.framework.indicators())} indicators; "
        f"{len(merges)} merge suggestion(s) at |r| ≥ {args.threshold:g}"
    )
    for row in merges.itertuples():
        print(f"  {row.indicator_a} + {row.indicator_b} (r = {row.r:.2f}) → {row.merged_id} {row.merged_name_zh}")
    _report(paths)
    return EXIT_OK


def _parse_design(text: str, default_observations: str | None) -> tuple[str, str, str]:
    name, sep, rest = text.partition("=")
    if not sep:
        name, rest = Path(text).stem, text
    framework, at, observations = rest.partition("@")
    if not at:
        if default_observations is None:
            raise OptionError(
                f"design {text!r} has no observations: write NAME=FRAMEWORK@OBSERVATIONS "
                "or give --observations for all designs"
            )
        observations = default_observations
    return name, framework, observations


def _cmd_compare(args: argparse.Namespace) -> int:
    from perfmodel.design.compare import compare_designs, flexible_pool_variant, weighting_variants
    from perfmodel.evaluation import Evaluation

    designs = [_parse_design(d, args.observations) for d in args.design]
    evaluations: dict[str, Evaluation] = {}
    for name, framework, observations in designs:
        evaluations[name] = _load(framework, observations, args.units, args.period, _settings(args))
    base_name, _, base_observations = designs[0]
    base = evaluations[base_name]
    if args.flexible:
        flex = flexible_pool_variant(base.framework, parse_changes(args.flexible), pool=args.pool)
        evaluations[f"{base_name}_flex"] = _load(flex, base_observations, args.units, args.period, _settings(args))
    if args.weightings:
        for method, ev in weighting_variants(base, args.weightings).items():
            if method != "stated":
                evaluations[f"{base_name}:{method}"] = ev
    if len(evaluations) < 2:
        raise OptionError("compare needs at least two designs: repeat --design, or add --flexible or --weightings")
    comparison = compare_designs(evaluations, k=args.k, lang=args.lang)
    paths = write_tables(comparison.tables(), args.out, inputs=_given_inputs(args))
    print(comparison.agreement.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    _report(paths)
    return EXIT_OK


def _cmd_optimise(args: argparse.Namespace) -> int:
    from perfmodel.design.optimise import DesignSpace, figure_front, optimise, sample_world, simulated_world
    from perfmodel.framework import load_framework

    framework = load_framework(args.framework)
    if args.sample:
        world = sample_world(args.sample, framework, args.period or "2025", rng=args.seed)
    else:
        world = simulated_world(framework, args.period or "2025Q4", stations=args.stations, rng=args.seed)
    changes: dict[str, Any] = {"calibrations": tuple(args.calibration), "drop": not args.no_drop}
    if args.normalisation:
        changes["normalisations"] = tuple(args.normalisation)
    if args.peer_groups:
        changes["peer_groups"] = tuple(args.peer_groups)
    result = optimise(
        DesignSpace.of(framework, **changes), world, trials=args.trials, timeout=args.timeout, rng=args.seed
    )
    paths = write_tables(result.tables(), args.out, inputs=_given_inputs(args))
    recommended = Path(args.out) / f"{framework.id}_optimised.yaml"
    recommended.write_text(result.yaml(), encoding="utf-8")
    paths["recommended"] = recommended
    import matplotlib.pyplot as plt

    from perfmodel.report.style import save_figure

    ax = figure_front(result, lang=args.lang)
    figure = save_figure(ax, Path(args.out) / "front.png")
    plt.close(ax.figure)
    paths["figure"] = figure
    print(result.summary(args.lang))
    _report(paths)
    return EXIT_OK


# ---------------------------------------------------------------- parser
def _inputs(p: argparse.ArgumentParser, *, framework: bool = True) -> None:
    p.add_argument("--observations", required=framework, help="observations file (.csv, .csv.gz, .xlsx, .parquet)")
    p.add_argument("--units", required=True, help="units file (.csv, .xlsx, .parquet)")
    if framework:
        p.add_argument("--framework", required=True, help="shipped framework id or YAML file")
    p.add_argument("--period", required=True, help="2025Q2, 2025-04 or 2025")
    p.add_argument("--peer-group", help="units column for peer groups, or 'none'")
    p.add_argument("--out", required=True, help="output folder for the CSV tables and tables.xlsx")


def add_gaming_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``gaming`` sub-command to an ``argparse`` sub-parsers object."""
    p = subparsers.add_parser(
        "gaming",
        help="look for gaming and data distortion (leads for verification, not verdicts)",
        description=(
            "Heaping at hard thresholds, series too smooth for their volume, level shifts, "
            "repeated figures and last-digit preference, unit by unit. The flags are leads for "
            "verification, not verdicts."
        ),
    )
    p.add_argument("--observations", required=True, help="observations file (.csv, .csv.gz, .xlsx, .parquet)")
    p.add_argument("--units", required=True, help="units file (.csv, .xlsx, .parquet)")
    p.add_argument("--framework", required=True, help="shipped framework id or YAML file")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--period", help="month, quarter or year to examine, e.g. 2025 (a year gives the series checks enough months)"
    )
    when.add_argument("--all-periods", action="store_true", help="examine every month in the file")
    p.add_argument(
        "--history",
        type=int,
        default=None,
        metavar="MONTHS",
        help="with --period: examine the MONTHS months ending with the period instead",
    )
    p.add_argument("--out", required=True, help="output folder")
    # --alpha is the house name of a significance/FDR level; --q-level is its old name, kept as a
    # deprecated alias.
    p.add_argument(
        "--alpha",
        "--q-level",
        dest="alpha",
        type=float,
        default=0.1,
        help="Benjamini-Hochberg false discovery rate for leads: a test is a lead when its "
        "q-value is at most this (default 0.1; --q-level is the deprecated old name)",
    )
    p.add_argument(
        "--lang", choices=["zh", "en"], default="zh", help="language of the written tables' labels (default zh)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed of the bootstrap and tie-breaking, for repeatable results (default 0)",
    )
    p.set_defaults(func=run_gaming)
    return p


def run_gaming(args: argparse.Namespace) -> int:
    """Run the ``gaming`` sub-command; returns the exit code (0 ok, 1 failed).

    Reads and validates the inputs (rows failing validation are reported and left
    out), runs :func:`detect_gaming` and writes :meth:`GamingReport.write`'s files
    to ``--out``. Errors print one line (the traceback with ``--debug``).
    """
    from perfmodel.design.gaming.detect import detect_gaming
    from perfmodel.framework import load_framework
    from perfmodel.validation import read_inputs

    try:
        framework = load_framework(args.framework)
        for label, path in (("observations", args.observations), ("units", args.units)):
            if not Path(path).is_file():
                raise MissingFileError(f"{label} file {path} does not exist; check --{label}")
        obs_result, units_result = read_inputs(framework, Path(args.observations), Path(args.units))
        period = None if args.all_periods else args.period
        report = detect_gaming(
            obs_result.data,
            framework,
            units=units_result.data,
            period=period,
            history_months=args.history,
            alpha=args.alpha,
            rng=args.seed,
            lang=args.lang,
        )
    except FileNotFoundError as exc:  # a PerfmodelError goes up to perfmodel.cli.main, anything else is a bug
        if getattr(args, "debug", False):
            raise
        print(f"perfmodel: error: {exc}", file=sys.stderr)
        return 1
    if not obs_result.ok:
        print(
            f"warning: {len(obs_result.quarantine)} observation rows failed validation and were not "
            "examined; run 'perfmodel validate' for the reasons",
            file=sys.stderr,
        )
    paths = report.write(args.out)
    print(report.summary())
    print(("写出文件: " if args.lang == "zh" else "wrote: ") + ", ".join(str(p) for p in paths.values()))
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``lab`` with its sub-commands to an ``argparse`` sub-parsers object.

    Each sub-command sets ``func`` to the function that runs it; :func:`run`
    dispatches on ``lab_command`` as well, so either may be called.
    """
    lab = subparsers.add_parser("lab", help="indicator design lab: sensitivity, redundancy, design comparison")
    lab.set_defaults(func=run)
    sub = lab.add_subparsers(dest="lab_command", required=True)

    p = sub.add_parser("sensitivity", help="uncertainty analysis (rank intervals) and Sobol' indices")
    _inputs(p)
    p.add_argument("--draws", type=int, default=500, help="Monte Carlo replicates (default 500)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the draws (default 1)")
    p.add_argument(
        "--weights",
        choices=["uniform", "dirichlet", "none"],
        default="uniform",
        help="how weights vary: uniform ±--weight-range, dirichlet around the framework's "
        "weights, or none (default uniform)",
    )
    p.add_argument("--weight-range", type=float, default=0.25, help="uniform: ±fraction (default 0.25)")
    p.add_argument("--concentration", type=float, default=50.0, help="dirichlet concentration (default 50)")
    p.add_argument(
        "--normalisation",
        nargs="+",
        choices=["minmax", "zscore", "rank", "goalposts", "target"],
        help="normalisations to vary over",
    )
    p.add_argument("--aggregation", nargs="+", choices=["arithmetic", "geometric"], help="aggregations to vary over")
    p.add_argument(
        "--imputation",
        nargs="+",
        choices=["none", "group_mean", "carry_forward"],
        help="imputations of missing values to vary over",
    )
    p.add_argument("--calibration", action="store_true", help="vary calibration on/off")
    p.add_argument("--drop", action="store_true", help="leave out one indicator at a time (or none)")
    p.add_argument("--sobol", type=int, metavar="N", help="also compute Sobol' indices with base sample N")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the index CIs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)

    p = sub.add_parser("redundancy", help="redundancy, coherence, merge suggestions, reporting burden")
    _inputs(p)
    p.add_argument("--threshold", type=float, default=0.8, help="|r| for merge suggestions (default 0.8)")
    p.set_defaults(func=run)

    p = sub.add_parser("compare", help="compare designs on the same units")
    _inputs(p, framework=False)
    p.add_argument(
        "--design",
        action="append",
        required=True,
        metavar="NAME=FRAMEWORK[@OBSERVATIONS]",
        help="a design to compare (repeat); the first is the baseline",
    )
    p.add_argument(
        "--flexible",
        metavar="IND=CHANGE,...",
        help="add a flexible-pool variant of the baseline (R19), e.g. a=+0.05,b=-0.05",
    )
    p.add_argument("--pool", type=float, default=0.20, help="largest share of weight moved (default 0.20)")
    p.add_argument(
        "--weightings",
        nargs="+",
        choices=["equal", "equal_flat", "pca", "entropy", "critic", "balanced"],
        help="add the baseline under alternative weightings",
    )
    p.add_argument("--k", type=int, default=10, help="top-k for the overlap (default 10)")
    p.add_argument(
        "--lang", choices=["zh", "en"], default="zh", help="language of the written tables' labels (default zh)"
    )
    p.set_defaults(func=run)

    add_gaming_parser(sub)

    p = sub.add_parser(
        "optimise",
        help="design optimiser: Pareto front of a framework family, the recommended design as YAML",
        description=(
            "Search weights within the policy limits, normalisation, aggregation, peer groups, calibration, "
            "hard thresholds, case-work points and the indicators kept, on a world with known truth; score "
            "each design on truth recovery, context neutrality, gaming resistance, rank stability and data burden."
        ),
    )
    p.add_argument("--framework", required=True, help="base framework: shipped id or YAML file")
    p.add_argument("--out", required=True, help="output folder: tables, the recommended YAML and front.png")
    p.add_argument("--sample", help="folder written by 'perfmodel sample' to use as the world (default: simulate one)")
    p.add_argument("--stations", type=int, default=120, help="stations of the simulated world (default 120)")
    p.add_argument("--period", help="period evaluated (default 2025 with --sample, else 2025Q4)")
    p.add_argument(
        "--trials", type=int, default=60, help="designs evaluated at most, the current one first (default 60)"
    )
    p.add_argument("--timeout", type=float, help="seconds after which no new design is started")
    p.add_argument("--seed", type=int, default=20250101, help="seed of the world and the search (default 20250101)")
    p.add_argument(
        "--calibration",
        nargs="+",
        choices=["none", "casemix", "full"],
        default=["none", "casemix"],
        help="calibration modes searched (default none casemix; full is slower)",
    )
    p.add_argument(
        "--normalisation",
        nargs="+",
        choices=["goalposts", "minmax", "zscore", "rank"],
        help="normalisations searched (default goalposts minmax rank)",
    )
    p.add_argument("--peer-groups", nargs="+", help="units columns searched as peer groups, or none")
    p.add_argument("--no-drop", action="store_true", help="keep every indicator")
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the summary and figure")
    p.set_defaults(func=run)
    return lab


_COMMANDS = {
    "sensitivity": _cmd_sensitivity,
    "redundancy": _cmd_redundancy,
    "compare": _cmd_compare,
    "optimise": _cmd_optimise,
}


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``lab`` command; returns 0 on success, 1 on failure (one-line message)."""
    command = getattr(args, "lab_command", None)
    if command == "gaming":
        return run_gaming(args)
    if command not in _COMMANDS:
        print(f"perfmodel: error: unknown lab command {command!r}; use {', '.join(_COMMANDS)}", file=sys.stderr)
        return EXIT_FAILED
    return _COMMANDS[command](args)
