"""The ``perfmodel`` command line.

Commands: ``sample``, ``frameworks``, ``validate``, ``score``, ``awards``, ``report``,
``audit`` (:mod:`perfmodel.audit.cli`) and ``lab`` (:mod:`perfmodel.design.cli`).
Errors print one line with the cause (naming the file, row and column when the
input is at fault) and a hint, never a traceback (unless ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from perfmodel import __version__, progress
from perfmodel.audit import cli as audit_cli
from perfmodel.design import cli as lab_cli
from perfmodel.errors import PerfmodelError
from perfmodel.privacy import (
    add_pseudonymise_option,
    officer_names_shown,
    with_pseudonymised_inputs,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from perfmodel.evaluation import Evaluation
    from perfmodel.report.runner import NotebookParameter

__all__ = ["main", "build_parser", "report_folder", "available_notebooks"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OBSERVATIONS = Path("data_samples/station_observations.csv.gz")
DEFAULT_UNITS = Path("data_samples/units.csv")
QUARTERLY_NOTEBOOK = "quarterly_evaluation"
AWARD_METHODS = ("largest_remainder", "dhondt")
"""Keys of :data:`perfmodel.awards.METHODS` (not imported here to keep start-up fast)."""
SHEET_HELP = "observations workbook: read only this sheet (default: every sheet with a header)"
QUIET_HELP = "show no progress (progress goes to stderr: an updating line on a terminal, plain lines otherwise)"
EXAMPLES_SHOWN = 1
"""Quarantine messages printed per reason (each names the file, row and column)."""


class CliError(PerfmodelError):
    """An error to show the user as one line plus a hint, with its exit code."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
        super().__init__(message, hint)
        self.code = code


# ---------------------------------------------------------------- commands
def _cmd_sample(args: argparse.Namespace) -> int:
    from perfmodel.simulate import generate_sample

    paths = generate_sample(Path(args.out), stations=args.stations, months=args.months, rng=args.seed, start=args.start)
    print(f"wrote {len(paths)} files to {args.out}:")
    for name, path in paths.items():
        print(f"  {name}: {path}")
    return EXIT_OK


def _cmd_frameworks(args: argparse.Namespace) -> int:
    from perfmodel.framework import load_framework, shipped_frameworks

    if args.action == "show":
        if not args.id:
            raise CliError(
                "'frameworks show' needs a framework id", "run 'perfmodel frameworks' to list them", EXIT_USAGE
            )
        fw = load_framework(args.id)
        print(f"{fw.id}: {fw.name.zh} / {fw.name.en}")
        print(f"level: {fw.level}" + (f", role: {fw.role}" if fw.role else ""))
        if fw.requirements:
            print(f"requirements: {', '.join(fw.requirements)}")
        if fw.description:
            print(fw.description.strip())
        print()
        table = fw.weight_table()
        for row in table.itertuples():
            indent = "  " * (row.level - 1)
            extra = []
            if row.type == "indicator":
                extra.append(f"{row.kind}, {row.direction}, {row.source}")
                # the weight table leaves these cells empty (NaN) when an indicator has none
                if isinstance(row.threshold, str) and row.threshold:
                    extra.append(f"threshold {row.threshold}")
                if isinstance(row.temporary, str) and row.temporary:
                    extra.append(f"temporary {row.temporary}")
            detail = f"  [{'; '.join(extra)}]" if extra else ""
            print(f"{indent}{row.id}  {row.name_zh}  weight {row.weight:g} (total {row.effective_weight:.1%}){detail}")
        print()
        print(
            f"peer group: {fw.peer_group or 'none'}; normalisation: {fw.normalisation.method}; "
            f"aggregation: {fw.aggregation.method}; grading: {fw.grading.method}"
        )
        print(
            f"subjective weight {fw.subjective_weight():.1%} (limit {fw.policy.max_subjective_weight:.0%}); "
            f"temporary weight {fw.temporary_weight():.1%} (limit {fw.policy.max_temporary_weight:.0%})"
        )
        print()
        print("input ids the observations' indicator column may carry (names and aliases are accepted too):")
        for ind in fw.indicators():
            if ind.points:
                for case_type, points in ind.points.items():
                    print(f"  {case_type}  [count; case type of {ind.id}, {points:g} points]")
            else:
                aliases = f"; aliases: {', '.join(ind.aliases)}" if ind.aliases else ""
                print(f"  {ind.id}  {ind.name.zh} / {ind.name.en}  [{ind.kind}{aliases}]")
        for label, items in (("bonus item", fw.bonus), ("negative list", fw.negative_list)):
            for item in items:
                print(f"  {item.indicator}  [count; {label} {item.id}: {item.name.zh} / {item.name.en}]")
        return EXIT_OK
    for fid, path in shipped_frameworks().items():
        fw = load_framework(path)
        print(f"{fid:34s} {fw.level:8s} {fw.name.zh}  ({fw.name.en})")
    return EXIT_OK


def _run_inputs(args: argparse.Namespace) -> list[Path]:
    """The input files of a command (observations, units, a framework given as a file).

    With ``--pseudonymise`` these are the original files, not their pseudonymised copies.
    """
    given = getattr(args, "input_paths", None) or vars(args)
    found = [Path(given[name]) for name in ("observations", "units") if given.get(name)]
    framework = getattr(args, "framework", None)
    if framework and Path(framework).is_file():
        found.append(Path(framework))
    return found


def _write_output(
    frame: pd.DataFrame, path: Path, inputs: Sequence[Path], write: Callable[[Path], object] | None = None
) -> Path:
    """Write one output table, refusing an input or a file perfmodel did not write.

    ``write(target)`` writes the file instead of :func:`perfmodel.io.write_table`
    (a formatted workbook, a template); the guard is the same.
    """
    from perfmodel.io import write_table
    from perfmodel.outputs import claim_file, record_file

    target = claim_file(path, inputs=inputs)
    if write is None:
        write_table(frame, target)
    else:
        write(target)
    record_file(target)
    return path


def _print_summary(label: str, result) -> None:
    used = len(result.data)
    print(f"{label}: {result.n_input} rows read, {used} accepted, {len(result.quarantine)} quarantined")
    for note in result.notes:  # rows per sheet, sheets not read, wide export reshaped …
        print(f"  {note}")
    for row in result.to_frame().itertuples(index=False):
        print(f"  {row.reason:26s} {row.n:6d}  {row.explanation}")
        for message in _examples(result.quarantine, row.reason):
            print(f"      e.g. {message}")


def _examples(quarantine: pd.DataFrame, reason: str, n: int = EXAMPLES_SHOWN) -> list[str]:
    """The first ``n`` quarantine messages of a reason (they name file, row and column)."""
    return quarantine.loc[quarantine["reason"] == reason, "message"].head(n).astype(str).tolist()


@with_pseudonymised_inputs
def _cmd_validate(args: argparse.Namespace) -> int:
    from perfmodel.framework import load_framework
    from perfmodel.validation import read_inputs

    framework = load_framework(args.framework)
    obs_result, units_result = read_inputs(framework, Path(args.observations), Path(args.units), sheet=args.sheet)
    originals = args.input_paths
    written = []  # files first, printing after: `validate … | head` still writes them
    if not (units_result.ok and obs_result.ok):
        if args.quarantine:
            combined = pd.concat([units_result.quarantine, obs_result.quarantine], ignore_index=True)
            written.append(_write_output(combined, Path(args.quarantine), _run_inputs(args)))
        else:
            for result, source in ((units_result, originals["units"]), (obs_result, originals["observations"])):
                if not result.ok:
                    target = _quarantine_path(Path(source))
                    written.append(_write_output(result.quarantine, target, _run_inputs(args)))
    _print_summary(f"units ({originals['units']})", units_result)
    _print_summary(f"observations ({originals['observations']})", obs_result)
    late = int(obs_result.data["late"].sum()) if "late" in obs_result.data.columns else 0
    if late:
        print(f"  late submissions (kept, flagged): {late}")
    if not written:
        print("no problems found")
        return EXIT_OK
    print("quarantine written to " + ", ".join(str(p) for p in written))
    return EXIT_FAILED


def _quarantine_path(source: Path) -> Path:
    name = source.name
    for suffix in (".csv.gz", ".csv", ".tsv", ".xlsx", ".xls", ".parquet"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return source.with_name(f"{name}.quarantine.csv")


def _settings(args: argparse.Namespace) -> dict:
    keys = ("peer_group", "normalisation", "aggregation", "imputation", "grading", "calibration")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


@with_pseudonymised_inputs
def _cmd_score(args: argparse.Namespace) -> int:
    from perfmodel.evaluation import evaluate_files
    from perfmodel.flags import with_flag_text
    from perfmodel.outputs import claim_file

    inputs = _run_inputs(args)
    out = Path(args.out)
    target = out.with_name(out.stem + ".quarantine.csv")
    for path in (out, target):  # refuse before the work, not after
        claim_file(path, inputs=inputs)
    ev = evaluate_files(
        args.framework,
        args.observations,
        args.units,
        args.period,
        sheet=args.sheet,
        engine=args.engine,
        memory_limit=args.memory_limit,
        **_settings(args),
    )
    shown = officer_names_shown(ev.scores, args.show_names or ev.framework.level != "officer")
    workbook = None
    if out.name.lower().endswith(".xlsx"):  # for reading: headers in --lang, formats, notes sheet
        from perfmodel.report.workbook import write_score_workbook

        def workbook(target: Path) -> None:  # flags in words; the CSV keeps their codes
            readable = with_flag_text(shown, ev.stages["flags"], ev.framework, args.lang)
            write_score_workbook(readable, ev.framework, target, lang=args.lang)

    _write_output(shown, out, inputs, workbook)
    if len(ev.quarantine):
        _write_output(ev.quarantine, target, inputs)
    summary = ev.key_figures()
    print(
        f"{summary['framework']} {summary['period']}: {summary['scored']} of {summary['units']} units scored "
        f"from {summary['observations_used']} observations; scores written to {out}"
    )
    print("grades: " + ", ".join(f"{g} {n}" for g, n in summary["grades"].items()))
    if ev.settings.calibration != "none":
        print(_calibration_summary(ev))
    if len(ev.quarantine):
        first = ev.quarantine["message"].iloc[0]
        print(
            f"warning: {len(ev.quarantine)} input rows were quarantined and not used (first: {first}); see {target}",
            file=sys.stderr,
        )
        if args.strict:
            return EXIT_FAILED
    return EXIT_OK


def _cmd_awards(args: argparse.Namespace) -> int:
    """Apportion the framework's award slots by grade; flag units last two years running (R12)."""
    from perfmodel.awards import (
        HEADCOUNT_COLUMN,
        LEADERSHIP_REVIEW,
        allocate_awards,
        leadership_review,
        slots_by_grade,
    )
    from perfmodel.evaluation import evaluate_files
    from perfmodel.framework import load_framework
    from perfmodel.outputs import claim_file
    from perfmodel.periods import parse_period

    if not parse_period(args.period).freqstr.startswith("Y"):
        raise CliError(
            f"--period {args.period}: award quotas are annual", "give a year, e.g. --period 2025", EXIT_USAGE
        )
    framework = load_framework(args.framework)
    if not framework.awards:
        raise CliError(
            f"framework {framework.id!r} declares no awards",
            "add an 'awards:' block to the framework (docs/framework.md, 'awards')",
        )
    inputs, out = _run_inputs(args), Path(args.out)
    claim_file(out, inputs=inputs)  # refuse before the work, not after
    ev = evaluate_files(framework, args.observations, args.units, args.period)
    units = ev.units.set_index("unit_id")
    headcount = units[HEADCOUNT_COLUMN] if framework.level == "station" and HEADCOUNT_COLUMN in units else None
    previous = ev.previous.scores if ev.previous is not None else None
    review = leadership_review(ev.scores, previous)
    table = allocate_awards(
        ev.scores, framework.awards, headcount=headcount, method=args.method, review=review.index[review]
    )
    _write_output(table, out, inputs)
    by_grade = slots_by_grade(table)
    for award in framework.awards:
        print(
            f"{award.id} ({award.name.zh}, {award.level}): {award.slots} slots ({args.method}); "
            + ", ".join(f"{grade} {n}" for grade, n in by_grade.loc[award.id].items())
        )
    flagged = sorted(review.index[review])
    print(f"{LEADERSHIP_REVIEW}: {', '.join(flagged) if flagged else 'none'}; written to {out}")
    return EXIT_OK


def _cmd_template(args: argparse.Namespace) -> int:
    from perfmodel.framework import load_framework
    from perfmodel.io import UNIT_ALIASES, read_table, write_workbook
    from perfmodel.template import template_sheets
    from perfmodel.validation import validate_units

    out = Path(args.out)
    if not out.name.lower().endswith(".xlsx"):
        raise CliError(f"--out {out}: a template is an Excel workbook", "give a file name ending in .xlsx", EXIT_USAGE)
    framework = load_framework(args.framework)
    units = None
    if args.units:
        result = validate_units(read_table(args.units, aliases=UNIT_ALIASES), source=str(args.units))
        units = result.data
        if not result.ok:
            print(
                f"warning: {len(result.quarantine)} rows of {args.units} were rejected and left out "
                "(run 'perfmodel validate' to see why)",
                file=sys.stderr,
            )
    sheets, formats = template_sheets(framework, units=units, period=args.period, lang=args.lang)
    _write_output(pd.DataFrame(), out, _run_inputs(args), lambda target: write_workbook(sheets, target, formats))
    filled = sum(len(frame) for name, frame in sheets.items() if formats[name].validations)
    print(f"template for {framework.id} written to {out}" + (f" ({filled} rows to fill)" if filled else ""))
    return EXIT_OK


def _calibration_summary(ev: Evaluation) -> str:
    """One line: how many indicators the calibration step adjusted and which it left raw."""
    log = ev.stages["calibration_log"]
    casemix = log[log["step"] == "casemix"]
    adjusted = casemix.loc[casemix["action"] == "adjusted", "indicator"].nunique()
    left = sorted(casemix.loc[casemix["action"].isin(["skipped", "excluded"]), "indicator"].dropna().unique())
    line = f"calibration {ev.settings.calibration}: {adjusted} indicator(s) case-mix adjusted"
    return line + (f"; left unadjusted: {', '.join(left)}" if left else "")


CLI_PARAMETERS = {
    "observations": "--observations",
    "units": "--units",
    "framework": "--framework",
    "period": "--period",
    "lang": "--lang",
    "output_dir": "--out",
    "peer_group": "--peer-group",
    "calibration": "--calibration",
    "fairness_report": "--with fairness_audit",
}
"""Notebook parameters the ``report`` command sets from its own options; ``-p`` may not set them."""

LINK_PARAMETERS = {"fairness_audit": "fairness_report"}
"""Linked notebook -> the quarterly notebook's parameter holding the link to its report.

The CLI sets the parameter to the report's relative path when ``--with`` writes it in
the same run, and to ``""`` otherwise, so the quarterly report never links to a
report that was not written."""


@with_pseudonymised_inputs
def _cmd_report(args: argparse.Namespace) -> int:
    from perfmodel.evaluation import read_evaluation_inputs
    from perfmodel.framework import framework_path, load_framework
    from perfmodel.outputs import atomic_folder
    from perfmodel.periods import period_label
    from perfmodel.report.export import check_formats
    from perfmodel.report.runner import notebook_parameters

    notebook = _find_notebook(args.notebook)
    formats = check_formats(args.format)
    declared = notebook_parameters(notebook)
    given = _given_parameters(notebook, declared, args.parameter)
    linked = _linked_notebooks(args.linked, notebook)
    framework = load_framework(args.framework)
    observations = Path(args.observations).resolve()
    units = Path(args.units).resolve()
    for label, path in (("observations", observations), ("units", units)):
        if not path.exists():
            raise CliError(f"{label} file {path} does not exist", "run 'make sample' or pass --observations/--units")
    read_evaluation_inputs(framework, observations, units)  # a wrong framework/data pair stops here
    period = period_label(args.period)
    out_dir = report_folder(Path(args.out), framework.id, period, notebook)
    quarterly = notebook.stem == QUARTERLY_NOTEBOOK
    inputs = {"observations": observations, "units": units, "framework": framework_path(args.framework).resolve()}
    # provenance hashes the files the user gave (not pseudonymised copies) and says what was done
    recorded = {**inputs, **{name: Path(path).resolve() for name, path in args.input_paths.items()}}
    chosen = {"peer_group": args.peer_group, "calibration": args.calibration}
    run_one = _ReportRun(args, framework.name, period, inputs, recorded, formats, chosen)
    optional = _optional_parameters(notebook, declared, chosen)
    written = []
    with atomic_folder(
        out_dir,
        inputs=[notebook, *inputs.values(), *recorded.values()],
        lock=out_dir if quarterly else out_dir.parent,
        keep_subruns=quarterly,
        keep_failed=True,
    ) as staging:
        links = {name: "" for name in LINK_PARAMETERS.values() if name in declared}
        for other in linked:  # first, so that the links of the quarterly report are true
            final = staging / other.stem
            with atomic_folder(final, inputs=recorded.values(), keep_failed=False) as sub_staging:
                run = run_one(other, sub_staging)
            written += [out_dir / other.stem / path.name for path in (run.html, run.pdf, run.docx) if path]
            if LINK_PARAMETERS.get(other.stem) in declared and run.html is not None:
                links[LINK_PARAMETERS[other.stem]] = (Path(other.stem) / run.html.name).as_posix()
        run = run_one(notebook, staging, {**optional, **links, **given})
        written = [out_dir / path.name for path in (run.html, run.pdf, run.docx) if path] + written
    for path in written:
        print(f"report written to {path}")
    return EXIT_OK


class _ReportRun:
    """Runs one report notebook of a ``report`` command into a (staging) folder."""

    def __init__(
        self,
        args: argparse.Namespace,
        name: object,
        period: str,
        inputs: Mapping[str, Path],
        recorded: Mapping[str, Path],
        formats: Sequence[str],
        chosen: Mapping[str, str | None],
    ) -> None:
        self.args, self.period, self.inputs, self.recorded = args, period, inputs, recorded
        self.formats, self.chosen = formats, chosen
        self.title = getattr(name, args.lang)

    def __call__(self, notebook: Path, folder: Path, extra: Mapping[str, object] | None = None):
        """Run ``notebook`` in ``folder``; ``extra``: the parameters beyond the shared ones.

        Without ``extra`` (a linked notebook), the CLI's options go to the notebook
        only where it declares them.
        """
        from perfmodel.report.runner import notebook_parameters, run_notebook

        args = self.args
        if extra is None:
            extra = _optional_parameters(notebook, notebook_parameters(notebook), self.chosen, strict=False)
        # Paths relative to the report folder: valid from the staging folder and the final one
        # (siblings), and no absolute path (user names, machine layout) lands in the outputs.
        relative = {name: os.path.relpath(path, folder) for name, path in self.inputs.items()}
        parameters = {
            "observations": relative["observations"],
            "units": relative["units"],
            "framework": relative["framework"] if Path(args.framework).is_file() else args.framework,
            "period": self.period,
            "lang": args.lang,
            "output_dir": ".",
            **extra,
        }
        header = f"{self.title} · {self.period}"
        return run_notebook(
            notebook,
            folder,
            parameters,
            cwd=folder,
            inputs=self.recorded,
            html_lang="en" if args.lang == "en" else "zh-CN",
            provenance_extra={"privacy": args.privacy} if args.privacy else None,
            formats=self.formats,
            running_header=header if notebook.stem == QUARTERLY_NOTEBOOK else f"{header} · {notebook.stem}",
        )


def _given_parameters(
    notebook: Path, declared: Mapping[str, NotebookParameter], pairs: Sequence[Sequence[str]] | None
) -> dict[str, object]:
    """The ``-p NAME VALUE`` pairs as parameters of ``notebook``, each parsed to its declared type.

    Checked before any kernel starts: an unknown name lists the notebook's
    parameters; a name the command sets from its own option (:data:`CLI_PARAMETERS`)
    is refused, naming that option, so ``-p period 2025Q3 --period 2025Q2`` cannot
    mean two things; a value that does not fit names the expected type.
    """
    from perfmodel.report.runner import parse_parameter_value

    given: dict[str, object] = {}
    for name, text in pairs or ():
        if name in CLI_PARAMETERS:
            raise CliError(
                f"-p {name}: parameter {name!r} is set by {CLI_PARAMETERS[name]}",
                f"use {CLI_PARAMETERS[name]} instead of -p {name}",
                EXIT_USAGE,
            )
        if name not in declared:
            settable = [p for p in declared if p not in CLI_PARAMETERS]
            raise CliError(
                f"-p {name}: notebook {notebook.name} has no parameter {name!r}; "
                f"its parameters: {', '.join(settable) or '(none)'}",
                "'-p NAME VALUE' sets one of the notebook's parameters (its 'parameters' cell)",
                EXIT_USAGE,
            )
        if name in given:
            raise CliError(f"-p {name} is given twice", "give each parameter once", EXIT_USAGE)
        given[name] = parse_parameter_value(declared[name], text)
    return given


def _linked_notebooks(names: str | None, notebook: Path) -> list[Path]:
    """The notebooks ``--with`` asks for, written into subfolders of the quarterly report's folder."""
    wanted = [name.strip() for name in (names or "").split(",") if name.strip()]
    if not wanted:
        return []
    if notebook.stem != QUARTERLY_NOTEBOOK:
        raise CliError(
            f"--with {names}: linked reports go into the folder of the {QUARTERLY_NOTEBOOK} report, "
            f"not of {notebook.stem}",
            f"run --with with the default --notebook {QUARTERLY_NOTEBOOK}",
            EXIT_USAGE,
        )
    found: list[Path] = []
    for name in wanted:
        path = _find_notebook(name)
        if path.stem == QUARTERLY_NOTEBOOK:
            raise CliError(f"--with {name}: that is the main report", "name other notebooks", EXIT_USAGE)
        if path.stem not in {p.stem for p in found}:
            found.append(path)
    return found


def report_folder(out: Path, framework_id: str, period: str, notebook: Path) -> Path:
    """Where a report goes: ``<out>/<framework>/<period>/``, other notebooks one level down.

    The quarterly report owns ``<out>/<framework>/<period>/report.html``; any other
    notebook writes into ``<out>/<framework>/<period>/<notebook name>/`` so that it
    never overwrites it (the quarterly report links to these subfolders).

    Parameters
    ----------
    out
        The ``--out`` folder.
    framework_id, period
        Framework id and period label (``2025Q2``).
    notebook
        The notebook to run; its file name without ``.ipynb`` names the subfolder.

    Returns
    -------
    pathlib.Path
        The absolute output folder (not created).

    Raises
    ------
    perfmodel.outputs.OutputError
        The folder would lie outside ``out`` (a framework id such as ``../../x``
        or an absolute path), whatever checks the framework loader made.
    """
    from perfmodel.outputs import check_inside

    root = out.resolve()
    folder = root / framework_id / period
    if notebook.stem != QUARTERLY_NOTEBOOK:
        folder = folder / notebook.stem
    check_inside(folder, root, what="report")
    if len(Path(os.path.abspath(folder)).relative_to(root).parts) < 2:
        raise CliError(
            f"report folder {folder} is not <out>/<framework>/<period>/",
            "framework ids and periods must be plain names without '.', '..' or '/'",
        )
    return Path(os.path.abspath(folder))


def _optional_parameters(
    notebook: Path, declared: Mapping[str, NotebookParameter], chosen: Mapping[str, str | None], strict: bool = True
) -> dict[str, str]:
    """The options the user set, as notebook parameters; an option the notebook lacks is an error.

    Options left unset are not passed, so the notebook's own defaults apply. With
    ``strict=False`` (a ``--with`` notebook), an option the notebook lacks is left out.
    """
    given = {name: value for name, value in chosen.items() if value is not None}
    lacking = [name for name in given if name not in declared]
    if not strict:
        return {name: value for name, value in given.items() if name in declared}
    if lacking:
        options = ", ".join("--" + name.replace("_", "-") for name in lacking)
        raise CliError(
            f"notebook {notebook.name} has no parameter {', '.join(map(repr, lacking))}, so {options} "
            f"cannot be applied; it accepts: {', '.join(declared) or '(none)'}",
            f"run without {options}, or add the parameter to the notebook's 'parameters' cell",
            EXIT_USAGE,
        )
    return given


def _notebook_folders() -> tuple[Path, Path]:
    """Where notebooks are looked up by name, first match wins."""
    return Path.cwd() / "notebooks", REPO_ROOT / "notebooks"


def available_notebooks() -> list[str]:
    """Names (without ``.ipynb``) of the notebooks ``report --notebook NAME`` can find."""
    return sorted({path.stem for folder in _notebook_folders() for path in folder.glob("*.ipynb")})


def _find_notebook(name: str) -> Path:
    candidate = Path(name)
    if candidate.suffix == ".ipynb" and candidate.exists():
        return candidate.resolve()
    for folder in _notebook_folders():
        path = folder / f"{candidate.stem}.ipynb"
        if path.exists():
            return path
    names = available_notebooks()
    raise CliError(
        f"notebook {name!r} not found; available: {', '.join(names) or '(none)'}",
        "give one of these names or a path to an .ipynb file",
    )


# ---------------------------------------------------------------- parser
def _add_inputs(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--observations",
        required=required,
        default=None if required else str(DEFAULT_OBSERVATIONS),
        help="observations file (.csv, .csv.gz, .xlsx, .xls, .parquet)",
    )
    parser.add_argument(
        "--units",
        required=required,
        default=None if required else str(DEFAULT_UNITS),
        help="units file (.csv, .xlsx, .xls, .parquet)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfmodel", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help=QUIET_HELP,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version of perfmodel and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="generate synthetic stations and officers with known truth")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--stations", type=int, default=120, help="number of stations (default 120)")
    p.add_argument("--months", type=int, default=24, help="number of months from --start (default 24)")
    p.add_argument(
        "--seed",
        type=int,
        default=20250101,
        help="random seed; the same arguments give byte-identical files (default 20250101)",
    )
    p.add_argument("--start", default="2024-01", help="first month (YYYY-MM)")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("frameworks", help="list shipped frameworks, or show one")
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "show"],
        default="list",
        help="list the shipped frameworks (default), or show one",
    )
    p.add_argument("id", nargs="?", help="with 'show': a shipped framework id or YAML file")
    p.set_defaults(func=_cmd_frameworks)

    p = sub.add_parser("validate", help="check input files; write rejected rows to a quarantine file")
    _add_inputs(p)
    p.add_argument("--framework", required=True, help="shipped framework id or YAML file")
    p.add_argument("--quarantine", help="write all rejected rows to this file")
    p.add_argument("--sheet", help=SHEET_HELP)
    add_pseudonymise_option(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("score", help="score, grade and rank units for one period")
    _add_inputs(p)
    p.add_argument("--framework", required=True, help="shipped framework id or YAML file")
    p.add_argument("--period", required=True, help="2025Q2, 2025-04 or 2025")
    p.add_argument("--out", required=True, help="output file: .csv, .xlsx or .parquet")
    p.add_argument(
        "--lang",
        choices=["zh", "en"],
        default="zh",
        help="language of an .xlsx output's headers, grades and notes sheet (default zh); "
        ".csv and .parquet keep the column codes",
    )
    p.add_argument("--sheet", help=SHEET_HELP)
    p.add_argument(
        "--engine",
        choices=["auto", "duckdb", "pandas"],
        default="auto",
        help="who reads and validates the observations (same rows): duckdb, pandas, or auto (duckdb for Parquet)",
    )
    p.add_argument("--memory-limit", help="memory the duckdb engine may use, e.g. 4GB (default: half the RAM)")
    p.add_argument("--peer-group", help="units column for peer groups, or 'none'")
    p.add_argument(
        "--normalisation",
        choices=["minmax", "zscore", "rank", "goalposts", "target"],
        help="override the framework's normalisation of indicator values",
    )
    p.add_argument(
        "--aggregation", choices=["arithmetic", "geometric"], help="override the framework's aggregation of scores"
    )
    p.add_argument(
        "--imputation",
        choices=["none", "group_mean", "carry_forward"],
        help="override the framework's treatment of missing values",
    )
    p.add_argument(
        "--grading",
        choices=["cutoffs", "quota"],
        help="override the framework's grading: fixed score cut-offs or grade quotas",
    )
    _add_calibration(p)
    p.add_argument("--strict", action="store_true", help="exit 1 when any input row was quarantined")
    p.add_argument(
        "--show-names",
        action="store_true",
        help="officer frameworks: write the officers' names too (default: ids only)",
    )
    add_pseudonymise_option(p)
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("awards", help="apportion the framework's award slots to units by grade (R12)")
    _add_inputs(p)
    p.add_argument("--framework", required=True, help="shipped framework id or YAML file with an 'awards:' block")
    p.add_argument(
        "--period", required=True, help="a year, e.g. 2025 (the year before is used for the leadership-review flag)"
    )
    p.add_argument("--out", required=True, help="output table: .csv, .xlsx or .parquet")
    p.add_argument(
        "--method",
        choices=AWARD_METHODS,
        default=AWARD_METHODS[0],
        help="apportionment: largest_remainder (Hamilton, default) or dhondt (highest averages)",
    )
    p.set_defaults(func=_cmd_awards)
    p = sub.add_parser("template", help="write an Excel data-entry workbook for a framework")
    p.add_argument("--framework", required=True, help="shipped framework id or YAML file")
    p.add_argument("--out", required=True, help="the workbook to write (.xlsx); an input file is never overwritten")
    p.add_argument("--units", help="units file: with --period, one row per unit × month × indicator to fill")
    p.add_argument("--period", help="2025Q2, 2025-04 or 2025: the months offered in the drop-down and pre-filled")
    p.add_argument(
        "--lang",
        choices=["zh", "en"],
        default="zh",
        help="language of headers, sheet names and instructions (default zh)",
    )
    p.set_defaults(func=_cmd_template)

    p = sub.add_parser("report", help="run a report notebook with papermill and export HTML")
    p.add_argument("--period", required=True, help="2025Q2, 2025-04 or 2025")
    p.add_argument(
        "--framework",
        default="station_four_dimension",
        help="shipped framework id or YAML file (default station_four_dimension)",
    )
    _add_inputs(p, required=False)
    p.add_argument(
        "--notebook",
        default=QUARTERLY_NOTEBOOK,
        help=f"notebook name in notebooks/ or an .ipynb file (default {QUARTERLY_NOTEBOOK})",
    )
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="report language (default zh)")
    p.add_argument(
        "--format",
        default="html",
        help="comma-separated: html (always), pdf (A4, Chinese fonts embedded), docx (Word/WPS); "
        "e.g. --format html,pdf,docx (default html)",
    )
    p.add_argument("--peer-group", help="units column for peer groups, or 'none' (if the notebook takes it)")
    _add_calibration(p, notebook=True)
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="set the notebook parameter NAME (repeatable, as papermill's -p); VALUE is read as the "
        "parameter's declared type (int, float, true/false, text, or a list/dict literal) and checked "
        "before the notebook runs; parameters set by options (--period, --lang, --peer-group, "
        "--calibration, inputs, --out) are refused here",
    )
    p.add_argument(
        "--with",
        dest="linked",
        metavar="NOTEBOOKS",
        help="comma-separated notebooks (e.g. fairness_audit) also run in the same command, each "
        "into <out>/<framework>/<period>/<notebook>/; the quarterly report links to the fairness "
        "audit report only when it is written this way",
    )
    p.add_argument(
        "--out",
        default="reports",
        help="output folder; the report goes to <out>/<framework>/<period>/, "
        "a notebook other than quarterly_evaluation to a subfolder named after it",
    )
    add_pseudonymise_option(p)
    p.set_defaults(func=_cmd_report)

    audit_cli.add_parser(sub)
    lab_cli.add_parser(sub)
    for command in sub.choices.values():  # `perfmodel report … --quiet` works too
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
    return parser


def _add_calibration(parser: argparse.ArgumentParser, *, notebook: bool = False) -> None:
    """Add ``--calibration none|casemix|full``; unset, it is not passed on (scoring: none)."""
    from perfmodel.evaluation import CALIBRATION_MODES

    extra = "; passed to the notebook as parameter 'calibration'" if notebook else ""
    parser.add_argument(
        "--calibration",
        choices=CALIBRATION_MODES,
        help="none: raw values; casemix: observed vs expected given the unit's context; "
        f"full: case-mix, small-numbers shrinkage and rater calibration{extra}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``perfmodel`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with progress.shown(enabled=not args.quiet, lang=getattr(args, "lang", None) or "en"):
            return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("perfmodel: interrupted; the previous output, if any, is left as it was", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`perfmodel validate … | head`); the files are already written.
        # Python's advice: point stdout at devnull so the flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError):  # stdout may not be a real file
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except PerfmodelError as exc:
        if args.debug:
            raise
        _fail(str(exc), exc.hint)
        return getattr(exc, "code", EXIT_FAILED)
    except FileNotFoundError as exc:
        if args.debug:
            raise
        _fail(f"file not found: {exc.filename}" if exc.filename else str(exc), "check the path")
        return EXIT_FAILED


def _fail(message: str, hint: str) -> None:
    print(f"perfmodel: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
