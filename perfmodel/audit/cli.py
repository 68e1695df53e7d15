"""``perfmodel audit``: run the fairness and policy audit and write its tables.

Wired into :mod:`perfmodel.cli` with::

    from perfmodel.audit import cli as audit_cli
    audit_cli.add_parser(sub)          # sub = parser.add_subparsers(...)

Usage::

    perfmodel audit --observations data_samples/station_observations.csv.gz \\
        --units data_samples/units.csv --framework station_four_dimension --period 2025Q2 \\
        --by station_type,area_type [--legitimate incidents_per_officer] \\
        [--context population,incident_volume,area_type] [--out reports/audit]

Every table of :func:`~perfmodel.audit.run_audit` is written as
``<out>/<framework>/<period>/<lang>/<table>.csv`` (UTF-8 with BOM, formula-safe) and
all of them as sheets of one ``audit.xlsx``; the findings are printed (in the
message language: ``--lang``, else the locale's). One folder per language, as for
reports, so an audit in one language never replaces the other.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from perfmodel.audit.defaults import AUDIT_DEFAULTS
from perfmodel.privacy import add_pseudonymise_option, with_pseudonymised_inputs
from perfmodel.text import environment_lang, say

__all__ = ["add_parser", "run", "write_audit", "parse_reference", "ERR_REFERENCE_ARG"]

EXIT_OK, EXIT_FAILED = 0, 1

ERR_REFERENCE_ARG = "--reference must look like attribute=group (for example area_type=城区核心), got {value!r}"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``audit`` command to ``subparsers`` (from ``ArgumentParser.add_subparsers``).

    Returns the new parser; its default ``func`` is :func:`run`.
    """
    p = subparsers.add_parser(
        "audit",
        help="fairness and policy audit: groups, adverse impact, effective weights, robustness",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--observations", required=True, help="observations file (.csv, .csv.gz, .xlsx, .parquet)")
    p.add_argument("--units", required=True, help="units file (.csv, .xlsx, .parquet)")
    p.add_argument("--framework", required=True, help="shipped framework id or YAML file")
    p.add_argument("--period", required=True, help="2025Q2, 2025-04 or 2025")
    d = AUDIT_DEFAULTS  # the one set of defaults, shared with the reports; None below means "use it"
    p.add_argument(
        "--by",
        default=None,
        help="unit attributes to audit, comma-separated; join a combination with '+' "
        "(e.g. station_type,area_type+station_class); default for stations: "
        f"{','.join(d.by['station'])} (those with two or more groups)",
    )
    p.add_argument(
        "--legitimate",
        default=None,
        help="legitimate factors for conditional parity, comma-separated "
        f"(default for stations: {','.join(d.legitimate['station'])}); '' to skip",
    )
    p.add_argument(
        "--context",
        default=None,
        help="context variables for context neutrality, comma-separated "
        f"(default for stations: {','.join(d.context['station'])}); '' to skip",
    )
    p.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="ATTRIBUTE=GROUP",
        help="reference group of an attribute (repeatable); default: the largest group",
    )
    p.add_argument("--peer-group", help="units column for peer groups, or 'none'")
    p.add_argument(
        "--lang", choices=["zh", "en"], default="zh", help="language of the written tables' labels (default zh)"
    )
    p.add_argument("--min-n", type=int, default=None, help=f"suppress groups with fewer units (default {d.min_n})")
    p.add_argument(
        "--n-boot",
        type=int,
        default=None,
        help=f"bootstrap replicates for grade robustness (default {d.n_boot}; 0 to skip)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"random seed of the bootstrap, for repeatable results (default {d.seed})",
    )
    p.add_argument("--out", default="reports/audit", help="output folder (default reports/audit)")
    add_pseudonymise_option(p)
    p.set_defaults(func=run)
    return p


def parse_reference(values: list[str]) -> dict[str, str]:
    """``["area_type=城区核心"]`` → ``{"area_type": "城区核心"}``."""
    from perfmodel.audit._frame import AuditError

    out = {}
    for value in values:
        attribute, sep, group = value.partition("=")
        if not sep or not attribute.strip() or not group.strip():
            raise AuditError(ERR_REFERENCE_ARG.format(value=value))
        out[attribute.strip()] = group.strip()
    return out


def write_audit(
    tables: dict[str, pd.DataFrame], out_dir: str | Path, *, inputs: Iterable[str | Path] = ()
) -> dict[str, Path]:
    """Write every table as CSV and all of them as sheets of ``audit.xlsx``; return the paths.

    The folder is replaced as a whole, only when every file is written
    (:func:`perfmodel.outputs.atomic_folder`); it may not be or hold one of ``inputs``.
    """
    from perfmodel.io import SheetFormat, write_table, write_workbook
    from perfmodel.outputs import atomic_folder

    out = Path(out_dir)
    with atomic_folder(out, inputs=inputs) as staging:
        for name, table in tables.items():
            write_table(table, staging / f"{name}.csv")
        write_workbook(tables, staging / "audit.xlsx", {name: SheetFormat() for name in tables})
    return {**{name: out / f"{name}.csv" for name in tables}, "xlsx": out / "audit.xlsx"}


@with_pseudonymised_inputs
def run(args: argparse.Namespace) -> int:
    """Run ``perfmodel audit`` from parsed arguments; return the exit code.

    Audit errors (an unknown column, a reference group that does not exist …)
    are printed as one line with ``perfmodel: error:`` and give exit code 1;
    other errors propagate to :func:`perfmodel.cli.main`, which reports them.
    """
    from perfmodel.audit._frame import AuditError
    from perfmodel.audit.run import run_audit
    from perfmodel.evaluation import evaluate_files
    from perfmodel.periods import period_label

    settings = {"peer_group": args.peer_group} if getattr(args, "peer_group", None) else {}
    try:
        reference = parse_reference(args.reference or [])
        ev = evaluate_files(args.framework, args.observations, args.units, args.period, **settings)
        _check_columns(args.by, ev.units.columns)
        result = run_audit(
            ev,
            by=args.by,
            legitimate=_optional_list(args.legitimate),
            context=_optional_list(args.context),
            lang=args.lang,
            reference=reference,
            min_n=args.min_n,
            n_boot=args.n_boot,
            rng=args.seed,
        )
    except AuditError as exc:
        lang = getattr(args, "message_lang", None) or environment_lang()
        print(say("cli.error_line", lang, message=exc.text(lang)[0]), file=sys.stderr)
        return EXIT_FAILED
    from perfmodel.outputs import check_inside

    out_dir = Path(args.out) / ev.framework.id / period_label(ev.period) / args.lang
    check_inside(out_dir, args.out, what="audit")
    given = [Path(p) for p in (args.observations, args.units, args.framework) if Path(p).is_file()]
    paths = write_audit(result.tables(), out_dir, inputs=given)
    findings, lang = result.findings, getattr(args, "message_lang", None) or environment_lang()  # see cli.main
    counts = {"units": len(ev.scores), "findings": len(findings), "tables": len(paths) - 1}
    print(
        say("cli.audit.summary", lang, framework=ev.framework.id, period=period_label(ev.period), **counts, out=out_dir)
    )
    for row in findings.itertuples():
        where = " ".join(str(x) for x in (row.attribute, row.group) if x)
        print(f"  [{row.check}] {where + ': ' if where else ''}{row.verdict}")
    for note in result.skipped():
        print("  " + say("cli.audit.not_run", lang, check=note.check, text=note.text(lang)), file=sys.stderr)
    return EXIT_OK


def _check_columns(by: str | None, columns: pd.Index) -> None:
    """Every attribute named in ``--by`` must be a units-table column."""
    from perfmodel.audit._frame import AuditError

    if not by:
        return
    named = {part.strip() for spec in by.split(",") for part in spec.split("+") if part.strip()}
    missing = sorted(named - set(columns))
    if missing:
        raise AuditError(
            f"--by names {', '.join(repr(m) for m in missing)}, not a column of the units table; "
            f"available: {', '.join(map(str, columns))}"
        )


def _optional_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]
