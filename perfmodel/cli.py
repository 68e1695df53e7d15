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
from perfmodel.errors import OptionError, PerfmodelError
from perfmodel.federated import cli as federated_cli
from perfmodel.privacy import (
    add_pseudonymise_option,
    officer_names_shown,
    with_pseudonymised_inputs,
)
from perfmodel.text import LANGS, environment_lang, say

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
SAMPLE_FORMAT_HELP = (
    "csv: the sample of one city (default); parquet: a nation of --provinces provinces and --officers officers, "
    "streamed into observations/province=P01/month=YYYY-MM/part-0.parquet and units.parquet"
)
NATIONAL_OFFICERS = 6000
"""Officers of ``perfmodel sample --format parquet`` without ``--officers``."""
SHEET_HELP = "observations workbook: read only this sheet (default: every sheet with a header)"
LANG_HELP = (
    "language of the messages (default: the locale's, zh when LC_ALL, LC_MESSAGES or LANG starts with "
    "zh, else en) and of the outputs that have words (default zh); accepted before or after the command"
)
QUIET_HELP = "show no progress (progress goes to stderr: an updating line on a terminal, plain lines otherwise)"
EXAMPLES_SHOWN = 1
"""Quarantine messages printed per reason (each names the file, row and column)."""


class CliError(PerfmodelError):
    """An error to show the user as one line plus a hint, with its exit code.

    Give the message and hint as catalogue keys (``key=``, ``hint_key=``, ``values=``;
    see :class:`~perfmodel.errors.PerfmodelError`), so they are shown in the
    command's message language.
    """

    def __init__(self, message: str = "", hint: str = "", code: int = EXIT_FAILED, **keys) -> None:
        super().__init__(message, hint, **keys)
        self.code = code


class _UnsetLang(str):
    """``--lang`` not given: the outputs' default language, ``"zh"``, marked so that :func:`main` can tell.

    A ``str`` equal to ``"zh"``, so a command run without :func:`main` (a test calling
    ``args.func(args)``) writes Chinese as before.
    """


DEFAULT_LANG = _UnsetLang("zh")
"""The value of ``args.lang`` when no ``--lang`` was given (outputs: zh; messages: the locale's)."""


def _ui(args: argparse.Namespace) -> str:
    """The language of the command's messages: ``--lang`` if given, else the locale's (:func:`main` sets it)."""
    return getattr(args, "message_lang", None) or environment_lang()


# ---------------------------------------------------------------- commands
def _cmd_sample(args: argparse.Namespace) -> int:
    from perfmodel.simulate import HotSpot, generate_sample

    if args.format == "parquet":
        from perfmodel.simulate_national import generate_national

        officers, provinces = args.officers or NATIONAL_OFFICERS, args.provinces or 1
        written = generate_national(
            args.out, officers=officers, provinces=provinces, months=args.months, start=args.start, rng=args.seed
        )
        print(say("cli.sample_written", _ui(args), n=len(written["observations"]) + 3, out=args.out))
        return EXIT_OK
    if args.officers is not None or args.provinces is not None:
        raise CliError(key="error.cli.sample_national_csv", code=EXIT_USAGE)
    hotspot = HotSpot(args.hotspot, args.hotspot_depression) if args.hotspot else None
    paths = generate_sample(
        Path(args.out),
        stations=args.stations,
        months=args.months,
        rng=args.seed,
        start=args.start,
        coordinates=args.coordinates,
        hotspot=hotspot,
    )
    print(say("cli.sample_written", _ui(args), n=len(paths), out=args.out))
    for name, path in paths.items():
        print(f"  {name}: {path}")
    return EXIT_OK


def _cmd_frameworks(args: argparse.Namespace) -> int:
    from perfmodel.framework import load_framework, shipped_frameworks

    if args.action == "show":
        if not args.id:
            raise CliError(code=EXIT_USAGE, key="error.cli.show_needs_id", hint_key="error.cli.show_needs_id_hint")
        lang = _ui(args)
        fw = load_framework(args.id)
        print(f"{fw.id}: {fw.name.zh} / {fw.name.en}")
        print(
            say("cli.show.level", lang, level=fw.level) + (say("cli.show.role", lang, role=fw.role) if fw.role else "")
        )
        if fw.requirements:
            print(say("cli.show.requirements", lang, requirements=", ".join(fw.requirements)))
        if fw.description:
            print(fw.description.strip())
        print()
        table = fw.weight_table()
        for row in table.itertuples():
            indent = "  " * (row.level - 1)
            extra = []
            if row.type == "indicator":
                extra.append(
                    say("cli.show.indicator_detail", lang, kind=row.kind, direction=row.direction, source=row.source)
                )
                # the weight table leaves these cells empty (NaN) when an indicator has none
                if isinstance(row.threshold, str) and row.threshold:
                    extra.append(say("cli.show.threshold", lang, threshold=row.threshold))
                if isinstance(row.temporary, str) and row.temporary:
                    extra.append(say("cli.show.temporary", lang, temporary=row.temporary))
            detail = f"  [{'; '.join(extra)}]" if extra else ""
            name = row.name_zh if lang == "zh" else row.name_en
            share = f"{row.effective_weight:.1%}"
            line = say(
                "cli.show.node", lang, node=row.id, name=name, weight=f"{row.weight:g}", share=share, detail=detail
            )
            print(indent + line)
        print()
        peer_group = fw.peer_group or say("cli.show.no_peer_group", lang)
        methods = {"normalisation": fw.normalisation.method, "aggregation": fw.aggregation.method}
        print(say("cli.show.methods", lang, peer_group=peer_group, grading=fw.grading.method, **methods))
        limits = {
            "subjective_limit": f"{fw.policy.max_subjective_weight:.0%}",
            "temporary_limit": f"{fw.policy.max_temporary_weight:.0%}",
        }
        weights = {"subjective": f"{fw.subjective_weight():.1%}", "temporary": f"{fw.temporary_weight():.1%}"}
        print(say("cli.show.policy", lang, **weights, **limits))
        print()
        print(say("cli.show.input_ids", lang))
        for ind in fw.indicators():
            if ind.points:
                for case_type, points in ind.points.items():
                    print(f"  {case_type}  [{say('cli.show.case_type', lang, indicator=ind.id, points=f'{points:g}')}]")
            else:
                aliases = say("cli.show.aliases", lang, aliases=", ".join(ind.aliases)) if ind.aliases else ""
                print(f"  {ind.id}  {ind.name.zh} / {ind.name.en}  [{ind.kind}{aliases}]")
        for key, items in (("cli.show.bonus_item", fw.bonus), ("cli.show.negative_item", fw.negative_list)):
            for item in items:
                described = say(key, lang, item=item.id, name=f"{item.name.zh} / {item.name.en}")
                print(f"  {item.indicator}  [{described}]")
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


def _print_summary(label: str, result, lang: str) -> None:
    from perfmodel.validation import reason_text

    counts = {"read": result.n_input, "accepted": len(result.data), "quarantined": len(result.quarantine)}
    print(say("cli.validate.summary", lang, label=label, **counts))
    for note in result.notes:  # rows per sheet, sheets not read, wide export reshaped …
        print(f"  {note}")
    for row in result.to_frame().itertuples(index=False):
        print(f"  {row.reason:26s} {row.n:6d}  {reason_text(row.reason, lang)}")
        for message in _examples(result.quarantine, row.reason):
            print("      " + say("cli.validate.example", lang, message=message))


def _examples(quarantine: pd.DataFrame, reason: str, n: int = EXAMPLES_SHOWN) -> list[str]:
    """The first ``n`` quarantine messages of a reason (they name file, row and column)."""
    return quarantine.loc[quarantine["reason"] == reason, "message"].head(n).astype(str).tolist()


@with_pseudonymised_inputs
def _cmd_validate(args: argparse.Namespace) -> int:
    from perfmodel.engine.validate import is_partitioned, read_inputs_engine
    from perfmodel.framework import load_framework
    from perfmodel.validation import read_inputs

    lang = _ui(args)
    framework = load_framework(args.framework)
    if is_partitioned(args.observations):  # a folder of Parquet partitions: the columnar core reads it
        obs_result, units_result = read_inputs_engine(framework, args.observations, Path(args.units), sheet=args.sheet)
    else:
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
    _print_summary(say("cli.validate.units_label", lang, path=originals["units"]), units_result, lang)
    _print_summary(say("cli.validate.observations_label", lang, path=originals["observations"]), obs_result, lang)
    late = int(obs_result.data["late"].sum()) if "late" in obs_result.data.columns else 0
    if late:
        print(say("cli.validate.late", lang, late=late))
    if not written:
        print(say("cli.validate.clean", lang))
        return EXIT_OK
    print(say("cli.validate.quarantine_written", lang, paths=", ".join(str(p) for p in written)))
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
    from perfmodel.evaluation import SCORE_KEPT_STAGES, evaluate_files
    from perfmodel.flags import with_flag_text
    from perfmodel.outputs import claim_file

    if args.scope != "partition" and not args.partition_by:
        raise OptionError(key="error.scope_needs_partition_by", values={"scope": args.scope})
    inputs = _run_inputs(args)
    out = Path(args.out)
    target = out.with_name(out.stem + ".quarantine.csv")
    for path in (out, target):  # refuse before the work, not after
        claim_file(path, inputs=inputs)
    if args.partition_by and args.scope == "partition":
        return _score_partitioned(args, out, target, inputs)
    reading = {"sheet": args.sheet, "engine": args.engine, "memory_limit": args.memory_limit, **_settings(args)}
    reading["keep"] = SCORE_KEPT_STAGES  # what is written; the other stages are let go as the run passes them
    if args.partition_by:  # --scope national: the same evaluation, its reading spread over Dask workers
        from perfmodel.partitioned import evaluate_national

        cluster = {"partition_by": args.partition_by, "scheduler": args.scheduler, "workers": args.workers}
        ev = evaluate_national(args.framework, args.observations, args.units, args.period, **cluster, **reading)
    else:
        ev = evaluate_files(args.framework, args.observations, args.units, args.period, **reading)
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
    lang, summary = _ui(args), ev.key_figures()
    figures = {name: summary[name] for name in ("framework", "period", "scored", "units")}
    print(say("cli.score.summary", lang, **figures, observations=summary["observations_used"], out=out))
    grades = ", ".join(f"{say(f'grade.{g}', lang)} {n}" for g, n in summary["grades"].items())
    print(say("cli.score.grades", lang, grades=grades))
    if ev.settings.calibration != "none":
        print(_calibration_summary(ev, lang))
    if len(ev.quarantine):
        first = ev.quarantine["message"].iloc[0]
        warning = say("cli.score.quarantined", lang, n=len(ev.quarantine), first=first, path=target)
        print(say("cli.warning_line", lang, message=warning), file=sys.stderr)
        if args.strict:
            return EXIT_FAILED
    return EXIT_OK


def _score_partitioned(args: argparse.Namespace, out: Path, target: Path, inputs: Sequence[Path]) -> int:
    """``score --partition-by``: one evaluation per value of the column, on Dask (perfmodel.partitioned)."""
    from perfmodel.partitioned import evaluate_partitioned

    run = evaluate_partitioned(
        args.framework,
        args.observations,
        args.units,
        args.period,
        partition_by=args.partition_by,
        scheduler=args.scheduler,
        workers=args.workers,
        sheet=args.sheet,
        engine=args.engine,
        memory_limit=args.memory_limit,
        **_settings(args),
    )
    _write_output(run.scores, out, inputs)
    if len(run.quarantine):
        _write_output(run.quarantine, target, inputs)
    parts = run.scores[args.partition_by].nunique() if len(run.scores) else 0
    lang = _ui(args)
    print(
        say("cli.score.partitioned", lang, scored=len(run.scores), partitions=parts, column=args.partition_by, out=out)
    )
    return EXIT_FAILED if args.strict and len(run.quarantine) else EXIT_OK


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
        annual = {"key": "error.cli.awards_annual", "hint_key": "error.cli.awards_annual_hint"}
        raise CliError(code=EXIT_USAGE, values={"period": args.period}, **annual)
    framework = load_framework(args.framework)
    if not framework.awards:
        values = {"framework": repr(framework.id)}
        raise CliError(key="error.cli.no_awards", hint_key="error.cli.no_awards_hint", values=values)
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
    by_grade, lang = slots_by_grade(table), _ui(args)
    for award in framework.awards:
        grades = ", ".join(f"{say(f'grade.{grade}', lang)} {n}" for grade, n in by_grade.loc[award.id].items())
        name = getattr(award.name, lang)
        print(
            say(
                "cli.awards.award",
                lang,
                award=award.id,
                name=name,
                level=award.level,
                slots=award.slots,
                method=args.method,
                grades=grades,
            )
        )
    flagged = ", ".join(sorted(review.index[review])) or say("cli.awards.nobody", lang)
    print(say("cli.awards.review", lang, flag=LEADERSHIP_REVIEW, units=flagged, out=out))
    return EXIT_OK


def _cmd_template(args: argparse.Namespace) -> int:
    from perfmodel.framework import load_framework
    from perfmodel.io import UNIT_ALIASES, read_table, write_workbook
    from perfmodel.template import template_sheets
    from perfmodel.validation import validate_units

    out, lang = Path(args.out), _ui(args)
    if not out.name.lower().endswith(".xlsx"):
        xlsx = {"key": "error.cli.template_xlsx", "hint_key": "error.cli.template_xlsx_hint"}
        raise CliError(code=EXIT_USAGE, values={"out": out}, **xlsx)
    framework = load_framework(args.framework)
    units = None
    if args.units:
        result = validate_units(read_table(args.units, aliases=UNIT_ALIASES), source=str(args.units))
        units = result.data
        if not result.ok:
            warning = say("cli.template.units_rejected", lang, n=len(result.quarantine), path=args.units)
            print(say("cli.warning_line", lang, message=warning), file=sys.stderr)
    sheets, formats = template_sheets(framework, units=units, period=args.period, lang=args.lang)
    _write_output(pd.DataFrame(), out, _run_inputs(args), lambda target: write_workbook(sheets, target, formats))
    filled = sum(len(frame) for name, frame in sheets.items() if formats[name].validations)
    rows = say("cli.template.rows", lang, n=filled) if filled else ""
    print(say("cli.template.written", lang, framework=framework.id, out=out) + rows)
    return EXIT_OK


def _calibration_summary(ev: Evaluation, lang: str) -> str:
    """One line in ``lang``: how many indicators the calibration step adjusted and which it left raw."""
    log = ev.stages["calibration_log"]
    casemix = log[log["step"] == "casemix"]
    adjusted = casemix.loc[casemix["action"] == "adjusted", "indicator"].nunique()
    left = sorted(casemix.loc[casemix["action"].isin(["skipped", "excluded"]), "indicator"].dropna().unique())
    line = say("cli.score.calibration", lang, mode=ev.settings.calibration, adjusted=adjusted)
    return line + (say("cli.score.left_raw", lang, indicators=", ".join(left)) if left else "")


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
    for key, path in (("error.missing_observations", observations), ("error.missing_units", units)):
        if not path.exists():
            raise CliError(key=key, hint_key="error.missing_input_hint", values={"path": path})
    read_evaluation_inputs(framework, observations, units)  # a wrong framework/data pair stops here
    period = period_label(args.period)
    out_dir = report_folder(Path(args.out), framework.id, period, notebook, args.lang)
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
        print(say("cli.report.written", _ui(args), path=path))
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
            keys = {"key": "error.cli.parameter_by_option", "hint_key": "error.cli.parameter_by_option_hint"}
            raise CliError(code=EXIT_USAGE, values={"name": name, "option": CLI_PARAMETERS[name]}, **keys)
        if name not in declared:
            settable = ", ".join(p for p in declared if p not in CLI_PARAMETERS) or "-"
            keys = {"key": "error.cli.no_such_parameter", "hint_key": "error.cli.no_such_parameter_hint"}
            values = {"name": name, "notebook": notebook.name, "parameters": settable}
            raise CliError(code=EXIT_USAGE, values=values, **keys)
        if name in given:
            keys = {"key": "error.cli.parameter_twice", "hint_key": "error.cli.parameter_twice_hint"}
            raise CliError(code=EXIT_USAGE, values={"name": name}, **keys)
        given[name] = parse_parameter_value(declared[name], text)
    return given


def _linked_notebooks(names: str | None, notebook: Path) -> list[Path]:
    """The notebooks ``--with`` asks for, written into subfolders of the quarterly report's folder."""
    wanted = [name.strip() for name in (names or "").split(",") if name.strip()]
    if not wanted:
        return []
    if notebook.stem != QUARTERLY_NOTEBOOK:
        keys = {"key": "error.cli.with_main_only", "hint_key": "error.cli.with_main_only_hint"}
        values = {"names": names, "main": QUARTERLY_NOTEBOOK, "notebook": notebook.stem}
        raise CliError(code=EXIT_USAGE, values=values, **keys)
    found: list[Path] = []
    for name in wanted:
        path = _find_notebook(name)
        if path.stem == QUARTERLY_NOTEBOOK:
            keys = {"key": "error.cli.with_itself", "hint_key": "error.cli.with_itself_hint"}
            raise CliError(code=EXIT_USAGE, values={"name": name}, **keys)
        if path.stem not in {p.stem for p in found}:
            found.append(path)
    return found


def report_folder(out: Path, framework_id: str, period: str, notebook: Path, lang: str = "zh") -> Path:
    """Where a report goes: ``<out>/<framework>/<period>/<lang>/``, other notebooks one level down.

    One folder per language, so a report in one language never replaces the other.
    The quarterly report owns ``<out>/<framework>/<period>/<lang>/report.html``; any
    other notebook writes into ``<out>/<framework>/<period>/<lang>/<notebook name>/``
    so that it never overwrites it (the quarterly report links to these subfolders).

    Parameters
    ----------
    out
        The ``--out`` folder.
    framework_id, period
        Framework id and period label (``2025Q2``).
    notebook
        The notebook to run; its file name without ``.ipynb`` names the subfolder.
    lang
        The report's language, ``"zh"`` or ``"en"``: it names the language folder.

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
    from perfmodel.text import check_lang

    root = out.resolve()
    folder = root / framework_id / period / check_lang(lang)
    if notebook.stem != QUARTERLY_NOTEBOOK:
        folder = folder / notebook.stem
    check_inside(folder, root, what="report")
    if len(Path(os.path.abspath(folder)).relative_to(root).parts) < 3:
        keys = {"key": "error.cli.report_folder", "hint_key": "error.cli.report_folder_hint"}
        raise CliError(values={"folder": folder}, **keys)
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
        keys = {"key": "error.cli.option_not_in_notebook", "hint_key": "error.cli.option_not_in_notebook_hint"}
        values = {"notebook": notebook.name, "lacking": ", ".join(map(repr, lacking)), "options": options}
        raise CliError(code=EXIT_USAGE, values={**values, "declared": ", ".join(declared) or "-"}, **keys)
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
    values = {"name": name, "available": ", ".join(available_notebooks()) or "-"}
    raise CliError(key="error.cli.notebook_not_found", hint_key="error.cli.notebook_not_found_hint", values=values)


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
    parser.add_argument("--lang", choices=LANGS, default=DEFAULT_LANG, help=LANG_HELP)
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
    p.add_argument("--coordinates", action="store_true", help="add lon/lat columns to units.csv (R20)")
    p.add_argument(
        "--hotspot",
        type=int,
        default=0,
        metavar="N",
        help="plant a hot-spot: N neighbouring stations with depressed performance (implies --coordinates)",
    )
    p.add_argument(
        "--hotspot-depression",
        type=float,
        default=1.0,
        help="how far the planted stations' true performance is lowered, in latent sd (default 1.0)",
    )
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", help=SAMPLE_FORMAT_HELP)
    p.add_argument(
        "--officers", type=int, help=f"with --format parquet: officers in the nation (default {NATIONAL_OFFICERS})"
    )
    p.add_argument("--provinces", type=int, help="with --format parquet: number of provinces (default 1)")
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
        help="who reads and validates the observations (same rows): duckdb, pandas, or auto (duckdb for Parquet "
        "from 1 MiB, CSV from 4 MiB and folders; the rows then stay in duckdb; pandas reads one file only)",
    )
    p.add_argument("--memory-limit", help="memory the duckdb engine may use, e.g. 4GB (default: half the RAM)")
    p.add_argument("--peer-group", help="units column for peer groups, or 'none'")
    p.add_argument(
        "--partition-by",
        help="units column (e.g. province): score each of its values alone, in parallel on Dask; "
        "peer groups, ranks and grades are within each value",
    )
    p.add_argument(
        "--scope",
        choices=["partition", "national"],
        default="partition",
        help="with --partition-by: 'partition' (default) ranks each value's units alone; 'national' ranks all units "
        "together, exactly as without --partition-by, the workers reading and reducing one value each",
    )
    p.add_argument(
        "--workers", type=int, default=2, help="--partition-by: worker processes on this machine (default 2)"
    )
    p.add_argument("--scheduler", help="--partition-by: address of a running Dask scheduler, e.g. tcp://host:8786")
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
    federated_cli.add_parser(sub)
    for command in sub.choices.values():  # `perfmodel report … --quiet` works too
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
        _lang_everywhere(command)
    return parser


def _lang_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and its sub-commands ``--lang``, unset unless given (so ``perfmodel --lang en CMD`` holds).

    A command that declares ``--lang`` itself keeps its help text; its default
    becomes "not given", so that :func:`main` can tell the message language
    (``--lang``, else the locale) from the output language (``--lang``, else zh).
    """
    actions = [action for action in parser._actions if action.dest == "lang"]
    for action in actions:
        action.default = argparse.SUPPRESS
    if not actions:
        parser.add_argument("--lang", choices=LANGS, default=argparse.SUPPRESS, help=LANG_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _lang_everywhere(command)


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
    # messages: --lang, else the locale's language; outputs with words: --lang, else zh
    given = not isinstance(args.lang, _UnsetLang)
    lang = args.message_lang = str(args.lang) if given else environment_lang()
    args.lang = str(args.lang)
    try:
        with progress.shown(enabled=not args.quiet, lang=lang):
            return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(say("cli.interrupted", lang), file=sys.stderr)
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
        _fail(*exc.text(lang), lang)
        return getattr(exc, "code", EXIT_FAILED)
    except FileNotFoundError as exc:
        if args.debug:
            raise
        message = say("error.missing_file", lang, path=exc.filename) if exc.filename else str(exc)
        _fail(message, say("error.missing_file_hint", lang), lang)
        return EXIT_FAILED


def _fail(message: str, hint: str, lang: str) -> None:
    print(say("cli.error_line", lang, message=message), file=sys.stderr)
    if hint:
        print(say("cli.hint_line", lang, hint=hint), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
