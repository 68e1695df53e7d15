"""The whole audit: every applicable check on one evaluation, as one results object.

:func:`run_audit` runs the group checks of :mod:`~perfmodel.audit.fairness`
(disaggregation, adverse impact, conditional parity, context neutrality) and the
weight-policy, robustness and rater checks of the sibling modules, with the
options of :data:`~perfmodel.audit.defaults.AUDIT_DEFAULTS` unless told
otherwise, and returns an :class:`AuditResult`: the check tables, the findings
(every flagged result, one line each) and the notes (what ran, what was skipped
and why). Notes, and the findings the runner adds itself, are codes plus values;
their words come from the message catalogue (:func:`perfmodel.text.say`, keys
``audit.*``) when the result is shown (:meth:`AuditResult.summary`,
:meth:`AuditResult.tables`).

The paragraph of the quarterly report and the figures are in
:mod:`perfmodel.report.audit`; writing the tables is ``perfmodel audit``
(:mod:`perfmodel.audit.cli`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.audit._frame import (
    GROUP_SEPARATOR,
    AuditError,
    CheckResult,
    Correction,
    Lang,
    as_list,
    check_correction,
    check_lang,
    check_min_n,
    fmt,
    fmt_pct,
    group_labels,
    unit_table,
)
from perfmodel.audit.defaults import (
    AUDIT_DEFAULTS,
    MIN_GROUPS,
    context_units_needed,
    too_few_groups_values,
    too_few_units_values,
)
from perfmodel.audit.fairness import (
    _design,
    adverse_impact,
    conditional_parity,
    context_neutrality,
    disaggregate,
)
from perfmodel.framework import GRADES
from perfmodel.randomness import seed_from
from perfmodel.text import say

__all__ = [
    "DEFAULT_BY",
    "DEFAULT_CONTEXT",
    "DEFAULT_LEGITIMATE",
    "NOTE_COLUMNS",
    "AuditNote",
    "AuditResult",
    "run_audit",
]

DEFAULT_BY: Mapping[str, tuple[str, ...]] = AUDIT_DEFAULTS.by
"""Attributes audited by default, per framework level (:attr:`AuditDefaults.by`)."""

DEFAULT_LEGITIMATE: Mapping[str, tuple[str, ...]] = AUDIT_DEFAULTS.legitimate
"""Legitimate factors controlled for by default (:attr:`AuditDefaults.legitimate`)."""

DEFAULT_CONTEXT: Mapping[str, tuple[str, ...]] = AUDIT_DEFAULTS.context
"""Context variables tested by default (:attr:`AuditDefaults.context`)."""

STATUSES: tuple[str, ...] = ("ran", "skipped", "note")
"""Status codes of an :class:`AuditNote` (words: ``audit.status.<code>``)."""

NOTE_COLUMNS: list[str] = ["check", "status", "note"]
"""Columns of the notes table in words (:meth:`AuditResult.tables`), as written by ``perfmodel audit``."""

FINDING_COLUMNS: list[str] = ["check", "attribute", "group", "verdict"]
"""Columns of the findings table."""


@dataclass(frozen=True)
class AuditNote:
    """What happened to one check: a status code and, when there is something to say, a message code.

    Attributes
    ----------
    check : str
        The check, with its grouping for group checks (``"adverse_impact: area_type"``).
    status : str
        ``"ran"``, ``"skipped"`` or ``"note"`` (:data:`STATUSES`).
    code : str
        Message key of the note in :mod:`perfmodel.text`'s catalogue
        (``"audit.note.too_few_groups"``), or ``""`` when a check simply ran.
    values : Mapping
        The values the message is filled with.
    """

    check: str
    status: str
    code: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "zh") -> str:
        """The note in words (``""`` when there is none)."""
        check_lang(lang)
        return say(self.code, lang, **self.values) if self.code else ""


@dataclass(frozen=True)
class AuditResult:
    """The results of :func:`run_audit`.

    Attributes
    ----------
    checks : Mapping of str to CheckResult
        One result per check that ran, in the order run: ``disaggregated``,
        ``adverse_impact``, ``conditional_parity``, ``context_neutrality``,
        ``weight_policy``, ``effective_weights``, ``effective_weights_by_source``,
        ``grade_robustness``, ``grades_not_robust``, ``rank_stability``,
        ``rater_bias`` (those that apply); each holds its table
        (:meth:`~perfmodel.audit._frame.CheckResult.to_frame`) and the options it ran with.
        A group check run for several groupings is one result with their tables stacked.
    findings : pandas.DataFrame
        Every flagged result as one line: ``check``, ``attribute``, ``group``,
        ``verdict`` (in ``lang``).
    notes : tuple of AuditNote
        What ran, what was skipped and why, and the limits of the four-fifths
        rule, as codes plus values.
    lang : str
        Language of the verdicts, and the default language of the notes' words.
    n_units : int
        Units audited.
    """

    checks: Mapping[str, CheckResult]
    findings: pd.DataFrame
    notes: tuple[AuditNote, ...] = ()
    lang: str = "zh"
    n_units: int = 0

    def __contains__(self, check: object) -> bool:
        """Whether check ``check`` ran (``"adverse_impact" in result``)."""
        return check in self.checks

    def skipped(self) -> tuple[AuditNote, ...]:
        """The notes of the checks that did not run."""
        return tuple(note for note in self.notes if note.status == "skipped")

    def notes_frame(self, lang: str | None = None) -> pd.DataFrame:
        """The notes in words: ``check``, ``status``, ``note`` (the ``notes`` table ``perfmodel audit`` writes)."""
        lang = self.lang if lang is None else lang
        check_lang(lang)
        rows = [(n.check, say(f"audit.status.{n.status}", lang), n.text(lang)) for n in self.notes]
        return pd.DataFrame(rows, columns=NOTE_COLUMNS)

    def to_frame(self) -> pd.DataFrame:
        """The findings: one row per flagged result."""
        return self.findings

    def tables(self, lang: str | None = None) -> dict[str, pd.DataFrame]:
        """Every table, for writing: ``findings``, each check's table, and ``notes`` in words."""
        lang = self.lang if lang is None else lang
        check_lang(lang)
        checks = {name: result.to_frame() for name, result in self.checks.items()}
        return {"findings": self.findings, **checks, "notes": self.notes_frame(lang)}

    def summary(self, lang: str | None = None) -> str:
        """What the audit found, as plain text: counts, then one line per finding and per skipped check."""
        lang = self.lang if lang is None else lang
        check_lang(lang)
        ran = sum(note.status == "ran" for note in self.notes)
        lines = [
            say(
                "audit.summary.head",
                lang,
                units=self.n_units,
                findings=len(self.findings),
                ran=ran,
                skipped=len(self.skipped()),
            )
        ]
        for row in self.findings.itertuples():
            where = " ".join(str(x) for x in (row.attribute, row.group) if x)
            lines.append(
                say(
                    "audit.summary.finding",
                    lang,
                    check=row.check,
                    where=f"{where}: " if where else "",
                    verdict=row.verdict,
                )
            )
        lines += [say("audit.summary.skipped", lang, check=n.check, note=n.text(lang)) for n in self.skipped()]
        return "\n".join(lines)


def _by_specs(by: str | Sequence[str | Sequence[str]] | None, frame: pd.DataFrame, level: str) -> list[list[str]]:
    """Groupings to audit: ``"a,b+c"`` → [[a], [b, c]]; default: :data:`DEFAULT_BY` present."""
    if by is None:
        specs = [[c] for c in DEFAULT_BY.get(level, ()) if c in frame.columns]
        return [s for s in specs if frame[s[0]].dropna().nunique() >= 2]
    items = by.split(",") if isinstance(by, str) else list(by)
    specs = []
    for item in items:
        spec = [p.strip() for p in item.split("+")] if isinstance(item, str) else [str(p) for p in item]
        spec = [p for p in spec if p]
        if spec:
            specs.append(spec)
    return specs


def _defaults(values: str | Sequence[str] | None, defaults: Sequence[str], frame: pd.DataFrame) -> list[str]:
    if values is None:
        return [c for c in defaults if c in frame.columns and frame[c].notna().any()]
    return as_list(values)


def run_audit(
    ev: Any,
    *,
    by: str | Sequence[str | Sequence[str]] | None = None,
    legitimate: str | Sequence[str] | None = None,
    context: str | Sequence[str] | None = None,
    lang: Lang = "zh",
    reference: Mapping[str, str] | None = None,
    min_n: int | None = None,
    alpha: float | None = None,
    correction: Correction | None = None,
    n_boot: int | None = None,
    rng: int | np.random.Generator | None = None,
    limits: Any = None,
    show_names: bool = False,
) -> AuditResult:
    """Run every applicable audit check on an evaluation; one tidy table per check.

    Every option left at ``None`` takes its value from
    :data:`~perfmodel.audit.defaults.AUDIT_DEFAULTS`, the one set of defaults
    shared by the quarterly report, the fairness report and ``perfmodel audit``.
    A group comparison is skipped, with a note (``audit.note.too_few_groups``), unless at least
    :data:`~perfmodel.audit.defaults.MIN_GROUPS` groups have ``min_n`` units;
    context neutrality unless enough units have complete context
    (:func:`~perfmodel.audit.defaults.context_units_needed`).

    Parameters
    ----------
    ev
        A run :class:`~perfmodel.evaluation.Evaluation`.
    by
        Groupings: a list of attributes (each audited separately), with
        combinations as ``"area_type+station_class"`` or a nested list; a
        comma-separated string also works. Default: :data:`DEFAULT_BY` for the
        framework's level, where present with at least two groups.
    legitimate
        Factors for :func:`conditional_parity` (default
        :data:`DEFAULT_LEGITIMATE`; ``[]`` to skip).
    context
        Variables for :func:`context_neutrality` (default
        :data:`DEFAULT_CONTEXT`; ``[]`` to skip).
    lang
        Language of verdicts and notes.
    reference
        Reference group per grouping name (e.g. ``{"area_type": "城区核心"}``);
        default the largest group.
    min_n, alpha, correction
        Small-group threshold, significance level and multiple-testing
        correction used by every check (default ``AUDIT_DEFAULTS``: 5, 0.05, holm).
    n_boot
        Bootstrap replicates for grade robustness and the effective weights'
        intervals (default ``AUDIT_DEFAULTS.n_boot``; 0 skips the grade
        bootstrap, the slowest check).
    rng
        Randomness of every resampling: an int seed, or a generator from which
        one int seed is drawn; ``None`` takes ``AUDIT_DEFAULTS.seed``, so a
        report is the same each time it is run.
    limits
        :class:`~perfmodel.audit.policy.PolicyLimits` for the weight policy.
    show_names
        Officers' names in the grade-robustness table (stations are always
        named); ids only by default.

    Returns
    -------
    AuditResult
        The check tables (:attr:`AuditResult.checks`), the findings and the notes
        (codes); :meth:`AuditResult.tables` gives every table, notes in words.
    """
    from perfmodel.audit.policy import stated_vs_variance_shares, weight_policy
    from perfmodel.audit.raters import rater_bias
    from perfmodel.audit.robustness import bootstrap_grades, non_robust_units, rank_stability

    lang = check_lang(lang)
    seed = None if rng is None else seed_from(rng)
    options = AUDIT_DEFAULTS.resolve(min_n=min_n, alpha=alpha, correction=correction, n_boot=n_boot, seed=seed)
    min_n, alpha, correction = check_min_n(options.min_n), options.alpha, check_correction(options.correction)
    n_boot, seed = options.n_boot, options.seed
    frame = unit_table(ev)
    level = ev.framework.level
    specs = _by_specs(by, frame, level)
    legit = _defaults(legitimate, options.legitimate.get(level, ()), frame)
    ctx = _defaults(context, options.context.get(level, ()), frame)
    reference = dict(reference or {})
    common = {"min_n": min_n, "alpha": alpha, "correction": correction, "lang": lang}
    results: dict[str, CheckResult] = {}
    notes: list[AuditNote] = []

    def attempt(name: str, compute: Callable[[], CheckResult]) -> CheckResult | None:
        try:
            table = compute()
        except AuditError as exc:
            notes.append(AuditNote(name, "skipped", "audit.note.check_failed", {"message": str(exc)}))
            return None
        notes.append(AuditNote(name, "ran"))
        return table

    def skip(name: str, code: str, **values: Any) -> None:
        notes.append(AuditNote(name, "skipped", f"audit.note.{code}", values))

    def per_grouping(name: str, function: Callable[..., CheckResult], **kwargs: Any) -> None:
        tables: dict[str, CheckResult] = {}
        for spec in specs:
            attribute = GROUP_SEPARATOR.join(spec)
            enough = _groups_with_enough_units(frame, spec, min_n, graded=function is adverse_impact)
            if enough is not None and enough < MIN_GROUPS:
                skip(f"{name}: {attribute}", "too_few_groups", **too_few_groups_values(attribute, enough, min_n))
                continue
            chosen = {} if function is adverse_impact else {"reference": reference.get(attribute)}
            data = ev if function is rater_bias else frame
            table = attempt(f"{name}: {attribute}", functools.partial(function, data, by=spec, **chosen, **kwargs))
            if table is not None:
                tables[attribute] = table
        if tables:
            results[name] = _stack(tables)

    if not specs:
        skip("disaggregate", "no_by")
    per_grouping("disaggregated", disaggregate, **common)
    per_grouping("adverse_impact", adverse_impact, **common)
    if legit:
        per_grouping(
            "conditional_parity",
            conditional_parity,
            legitimate=legit,
            rng=seed,
            n_boot=max(n_boot, options.min_parity_boot),
            **common,
        )
    else:
        skip("conditional_parity", "no_legitimate")
    shortfall = _context_shortfall(frame, ctx) if ctx else None
    if shortfall:
        skip("context_neutrality", "too_few_units", **shortfall)
    elif ctx:
        table = attempt(
            "context_neutrality", lambda: context_neutrality(frame, context=ctx, rng=seed, alpha=alpha, lang=lang)
        )
        if table is not None:
            results["context_neutrality"] = table
    else:
        skip("context_neutrality", "no_context")
    boot = max(n_boot, 0)
    for key, compute in (
        ("weight_policy", lambda: weight_policy(ev, limits=limits, n_boot=boot, rng=seed, lang=lang)),
        ("effective_weights", lambda: stated_vs_variance_shares(ev, n_boot=boot, rng=seed, lang=lang)),
        (
            "effective_weights_by_source",
            lambda: stated_vs_variance_shares(ev, level="source", n_boot=boot, rng=seed, lang=lang),
        ),
    ):
        table = attempt(key, compute)
        if table is not None:
            results[key] = table
    if n_boot > 0:
        table = attempt(
            "grade_robustness", lambda: bootstrap_grades(ev, n_boot=n_boot, rng=seed, lang=lang, show_names=show_names)
        )
        if table is not None:
            results["grade_robustness"] = table
            results["grades_not_robust"] = CheckResult(
                "non_robust_units", non_robust_units(table.to_frame()), table.parameters
            )
    else:
        skip("grade_robustness", "no_boot")
    if getattr(ev, "previous", None) is not None:
        table = attempt("rank_stability", lambda: rank_stability(ev, lang=lang))
        if table is not None:
            results["rank_stability"] = table
    else:
        skip("rank_stability", "no_previous")
    per_grouping("rater_bias", rater_bias, **common)
    notes.append(AuditNote("adverse_impact", "note", "audit.note.four_fifths"))
    return AuditResult(
        checks=MappingProxyType(results),
        findings=_findings(results, lang),
        notes=tuple(notes),
        lang=lang,
        n_units=len(frame),
    )


def _groups_with_enough_units(frame: pd.DataFrame, spec: Sequence[str], min_n: int, *, graded: bool) -> int | None:
    """How many groups of ``spec`` have ``min_n`` units (graded units if ``graded``); ``None`` if unknown.

    Unknown (a column missing, no grade column) leaves the check to raise its own error.
    """
    if any(column not in frame.columns for column in spec) or (graded and "grade" not in frame.columns):
        return None
    _, labels = group_labels(frame, list(spec))
    if graded:
        labels = labels[frame["grade"].isin(GRADES).to_numpy()]
    return int((labels.value_counts() >= min_n).sum())


def _context_shortfall(frame: pd.DataFrame, context: Sequence[str]) -> dict[str, Any] | None:
    """The values of the note saying context neutrality has too few units, or ``None`` when it has enough."""
    if "score" not in frame.columns or any(c not in frame.columns for c in context):
        return None  # the check itself names what is missing
    complete = frame["score"].notna() & frame[list(context)].notna().all(axis=1)
    design, _ = _design(frame[complete], list(context))
    n, terms = int(complete.sum()), max(1, design.shape[1])
    return too_few_units_values(n, terms) if n < context_units_needed(terms) else None


def _stack(results: Mapping[str, CheckResult]) -> CheckResult:
    """One result for a group check run once per grouping (keyed by the grouping's attribute).

    The tables are stacked; a parameter that is the same for every grouping keeps
    its value, one that differs (the reference group) maps each attribute to its value.
    """
    first = next(iter(results.values()))
    tables = [r.to_frame() for r in results.values()]
    table = pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True)
    table.attrs = {}
    keys = list(dict.fromkeys(key for r in results.values() for key in r.parameters))
    parameters: dict[str, Any] = {}
    for key in keys:
        values = {attribute: r.parameters.get(key) for attribute, r in results.items()}
        distinct = list(values.values())
        same = all(_same(v, distinct[0]) for v in distinct[1:])
        parameters[key] = distinct[0] if same else values
    return CheckResult(first.check, table, parameters, first.note)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays or frames: compare by identity
        return a is b


def _findings(results: Mapping[str, CheckResult], lang: Lang) -> pd.DataFrame:
    """Every flagged result as one line: which check, which grouping and group, the verdict."""
    rows: list[dict[str, Any]] = []
    tables = {name: result.to_frame() for name, result in results.items()}

    def add(check: str, table: pd.DataFrame, group_column: str = "group") -> None:
        if "flagged" not in table.columns:
            return
        for row in table[table["flagged"].fillna(False).astype(bool)].itertuples():
            rows.append(
                {
                    "check": check,
                    "attribute": getattr(row, "attribute", ""),
                    "group": getattr(row, group_column, ""),
                    "verdict": row.verdict,
                }
            )

    for check in ("disaggregated", "adverse_impact", "conditional_parity"):
        if check in tables:
            add(check, tables[check])
    if "context_neutrality" in tables:
        table = tables["context_neutrality"]
        add("context_neutrality", table[table["measure"].isin(["r2", "partial_r2", "auc"])], "variable")
    if "rater_bias" in tables:
        table = tables["rater_bias"].copy()
        table["group"] = (
            table["rater_id"].fillna("").astype(str) + " " + table["group"].fillna("").astype(str)
        ).str.strip()
        add("rater_bias", table)
    for check in ("weight_policy", "effective_weights_by_source"):
        if check in tables:
            key = "description" if check == "weight_policy" else "name"
            add(check, tables[check].assign(attribute="", group=tables[check][key]))
    if "grade_robustness" in tables:
        table = tables["grade_robustness"]
        fragile = int((table["p_grade_change"].notna() & ~table["robust"].astype(bool)).sum())
        if fragile:
            rows.append(
                {
                    "check": "grade_robustness",
                    "attribute": "",
                    "group": "",
                    "verdict": say(
                        "audit.finding.grades_not_robust",
                        lang,
                        k=fragile,
                        p=fmt_pct(results["grade_robustness"].parameters.get("max_change", 0.2)),
                    ),
                }
            )
    if "rank_stability" in tables:
        table = tables["rank_stability"]
        overall = table[(table["measure"] == "spearman")].head(1)
        if len(overall) and overall["estimate"].iloc[0] < 0.4:
            rows.append(
                {
                    "check": "rank_stability",
                    "attribute": "",
                    "group": overall["peer_group"].iloc[0],
                    "verdict": say("audit.finding.ranks_unstable", lang, r=fmt(overall["estimate"].iloc[0], 2)),
                }
            )
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
