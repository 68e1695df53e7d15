"""Figures and text of the fairness audit: group means, impact ratios, the quarterly paragraph.

The checks are in :mod:`perfmodel.audit` and return data; this module draws
them and writes the paragraph the quarterly report includes
(:func:`fairness_summary_markdown`), with every name from the data escaped by
:mod:`perfmodel.report.render`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from perfmodel.audit._frame import Lang, check_lang, records
from perfmodel.audit.defaults import AUDIT_DEFAULTS, MIN_GROUPS
from perfmodel.audit.run import AuditResult, run_audit
from perfmodel.errors import OptionError
from perfmodel.glossary import attribute_label
from perfmodel.groups import group_order
from perfmodel.report.render import SafeMarkdown, join, md, say_md, url
from perfmodel.report.style import apply_report_style
from perfmodel.text import has_message, say, templates

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from perfmodel.evaluation import Evaluation

__all__ = [
    "FAIRNESS_SECTIONS",
    "attribute_label",
    "check_label",
    "fairness_headed",
    "fairness_section",
    "fairness_summary_markdown",
    "figure_group_means",
    "figure_impact_ratios",
    "rank_stability_shown",
]


def _panels(
    attributes: Sequence[str], ax: Axes | None, heights: Sequence[float] | None, *, height: float | None = None
) -> list[Axes]:
    """The Axes to draw one attribute each on: ``[ax]`` (one attribute only), or a new column of panels."""
    if ax is not None:
        if len(attributes) > 1:
            raise OptionError(
                f"ax= draws one attribute, but the table holds {len(attributes)} ({', '.join(map(str, attributes))}); "
                "select one attribute first, or leave ax=None for one panel per attribute"
            )
        return [ax]
    import matplotlib.pyplot as plt

    n = max(1, len(attributes))
    if heights is not None:
        _, grid = plt.subplots(
            n, 1, figsize=(8, sum(heights) + 0.6), squeeze=False, gridspec_kw={"height_ratios": heights}
        )
    else:
        _, grid = plt.subplots(n, 1, figsize=(8, height), squeeze=False)
    return list(grid[:, 0])


# ============================================================================ figures
def figure_group_means(
    table: pd.DataFrame, *, min_n: int = AUDIT_DEFAULTS.min_n, ax: Axes | None = None, lang: Lang = "zh"
) -> Axes:
    """Group means with confidence intervals, one panel per attribute (from :func:`~perfmodel.audit.disaggregate`).

    The reference group is drawn in black with a dashed vertical line at its
    mean; flagged groups in red; suppressed groups are named without a point.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`~perfmodel.audit.disaggregate` (``.to_frame()``), or the
        ``disaggregated`` table of an audit.
    min_n : int
        The threshold the table was made with (its result's ``parameters["min_n"]``),
        quoted in the label of a suppressed group: "n < min_n".
    ax : matplotlib.axes.Axes, optional
        Draw on this Axes; the table must then hold one attribute. Without it a
        new figure gets one panel per attribute.
    lang : {"zh", "en"}

    Returns
    -------
    matplotlib.axes.Axes
        The (first) panel; ``.figure`` is the whole figure.
    """
    check_lang(lang)
    apply_report_style()
    attributes = list(dict.fromkeys(table["attribute"]))
    own_figure = ax is None
    axes = _panels(attributes, ax, [max(1.2, 0.45 * (table["attribute"] == a).sum() + 0.8) for a in attributes])
    fig = cast("Figure", axes[0].figure)
    words = templates("report.fairness_figure", lang)
    for ax, attribute in zip(axes, attributes, strict=True):
        part = table[table["attribute"] == attribute].reset_index(drop=True)
        ypos = np.arange(len(part))[::-1]
        hidden = []
        for y, row in zip(ypos, part.itertuples(), strict=True):
            if row.role == "suppressed":
                hidden.append(y)
                continue
            colour = "#222222" if row.role == "reference" else "#b2182b" if row.flagged else "#2166ac"
            ax.errorbar(
                row.estimate,
                y,
                xerr=[[row.estimate - row.ci_low], [row.ci_high - row.estimate]],
                fmt="o",
                color=colour,
                capsize=3,
            )
            if row.role == "reference":
                ax.axvline(row.estimate, color="#222222", linestyle="--", linewidth=0.8)
        for y in hidden:
            ax.text(
                0.01,
                y,
                words["too_few"],
                va="center",
                fontsize=8.5,
                color="#888888",
                transform=ax.get_yaxis_transform(),
            )
        ax.set_yticks(
            ypos,
            [
                f"{g} (n={n:.0f})" if pd.notna(n) else f"{g} (n < {min_n})"
                for g, n in zip(part["group"], part["n"], strict=True)
            ],
        )
        ax.set_ylim(-0.6, len(part) - 0.4)
        ax.set_title(attribute)
        ax.set_xlabel(words["means_x"])
        ax.set_ylabel(words["group"])
    if own_figure:  # on a caller's Axes, the caller's figure keeps its own title and layout
        fig.suptitle(words["means_title"])
        fig.tight_layout()
    return axes[0]


def figure_impact_ratios(
    table: pd.DataFrame, *, threshold: float = 0.8, ax: Axes | None = None, lang: Lang = "zh"
) -> Axes:
    """Impact ratios by group and grade cut with the four-fifths line (from :func:`~perfmodel.audit.adverse_impact`).

    One panel per attribute with at least two groups shown; bars of flagged
    groups (significant adverse impact) have a red edge.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`~perfmodel.audit.adverse_impact` (``.to_frame()``), or the
        ``adverse_impact`` table of an audit.
    threshold : float
        The four-fifths line.
    ax : matplotlib.axes.Axes, optional
        Draw on this Axes; the table must then show one attribute. Without it a
        new figure gets one panel per attribute.
    lang : {"zh", "en"}

    Returns
    -------
    matplotlib.axes.Axes
        The (first) panel; ``.figure`` is the whole figure.
    """
    check_lang(lang)
    apply_report_style()
    from matplotlib.patches import Patch

    shown = table[table["role"] != "suppressed"]
    attributes = (
        [a for a in dict.fromkeys(shown["attribute"]) if shown.loc[shown["attribute"] == a, "group"].nunique() >= 2]
        or list(dict.fromkeys(shown["attribute"]))[:1]
        or list(dict.fromkeys(table["attribute"]))[:1]
    )
    words = templates("report.fairness_figure", lang)
    height = 2.5 * max(1, len(attributes)) + 1.4
    own_figure = ax is None
    axes = _panels(attributes, ax, None, height=height)
    fig = cast("Figure", axes[0].figure)
    cuts = list(dict.fromkeys(shown["cut"]))
    width = 0.8 / max(1, len(cuts))
    palette = ["#1b7837", "#7fbf7b", "#f4a582", "#92c5de"]
    for ax, attribute in zip(axes, attributes, strict=True):
        part = shown[shown["attribute"] == attribute]
        groups = group_order(part["group"].unique())
        x = np.arange(len(groups))
        for i, cut in enumerate(cuts):
            rows = part[part["cut"] == cut].set_index("group").reindex(groups)
            ax.bar(
                x + (i - (len(cuts) - 1) / 2) * width,
                rows["estimate"].fillna(0),
                width,
                color=palette[i % len(palette)],
                edgecolor=["#b2182b" if f is True else "none" for f in rows["flagged"]],
                linewidth=2,
            )
        ax.axhline(threshold, color="#b2182b", linestyle="--", linewidth=1)
        ax.text(
            1.005,
            threshold,
            f"{threshold:g}",
            color="#b2182b",
            va="center",
            ha="left",
            transform=ax.get_yaxis_transform(),
        )
        ax.set_xticks(x, groups)
        top = part["estimate"].max(skipna=True)
        ax.set_ylim(0, max(1.1, (top if np.isfinite(top) else 1.0) + 0.1))
        ax.set_title(attribute)
        ax.set_xlabel(words["group"])
        ax.set_ylabel(words["impact_y"])
    handles = [Patch(color=palette[i % len(palette)], label=cut) for i, cut in enumerate(cuts)]
    if not own_figure:  # on a caller's Axes: the legend goes on it, the figure is the caller's
        axes[0].legend(handles=handles, title=words["cut"], ncols=len(cuts), fontsize=8)
        return axes[0]
    fig.suptitle(words["impact_title"])
    fig.tight_layout(rect=(0, 0.65 / height, 1, 1))
    fig.legend(handles=handles, title=words["cut"], ncols=len(cuts), loc="lower center")
    return axes[0]


def _finding_text(row: Any, words: Mapping[str, str], lang: Lang) -> SafeMarkdown:
    attribute = attribute_label(row.attribute, lang) if row.attribute else row.attribute
    if row.attribute and row.group:
        return md(words["item"], group=row.group, attribute=attribute, verdict=row.verdict)
    if row.attribute or row.group:
        return md(words["item_attribute"], attribute=attribute or row.group, verdict=row.verdict)
    return md("{verdict}", verdict=row.verdict)


def fairness_summary_markdown(
    ev: Evaluation,
    lang: Lang = "zh",
    *,
    audit: AuditResult | None = None,
    link: str | None = None,
    max_items: int = 3,
    **options: Any,
) -> SafeMarkdown:
    """A short paragraph for the quarterly report, linking to the full fairness report.

    Group and attribute names and verdicts are data: they are escaped (see
    :mod:`perfmodel.report.render`).

    Parameters
    ----------
    ev
        The evaluation the quarterly report shows.
    lang
        ``zh`` or ``en``.
    audit
        Results of :func:`~perfmodel.audit.run_audit` if already computed; otherwise the audit is
        run here with the library defaults (:data:`~perfmodel.audit.defaults.AUDIT_DEFAULTS`,
        grade bootstrap included), so the paragraph counts the same findings as
        the fairness report and ``perfmodel audit``.
    link
        Relative link to the fairness audit report, given only when that report
        was written (``perfmodel report --with fairness_audit``). ``None`` or
        ``""``: no link; a sentence says how to make the report instead.
    max_items
        How many findings to name.
    **options
        Passed to :func:`~perfmodel.audit.run_audit` when ``audit`` is not given.

    Returns
    -------
    SafeMarkdown
        Markdown: what was checked, how many findings and the main ones, the link
        (or how to make the fairness report).
    """
    lang = check_lang(lang)
    words = templates("report.fairness_summary", lang)
    if audit is None:
        audit = run_audit(ev, lang=lang, **options)
    attributes: list[str] = []
    for key in ("disaggregated", "adverse_impact"):
        if key in audit:
            table = audit.checks[key].to_frame()
            attributes.extend(a for a in table["attribute"].unique() if a not in attributes)
    checks: list[SafeMarkdown] = []
    if attributes:
        named = join(words["attr_sep"], [attribute_label(a, lang) for a in attributes])
        checks.append(md(words["by_groups"], attrs=named))
    if "adverse_impact" in audit:
        checks.append(md(words["impact"]))
    checks += [
        md(words[k])
        for k, check in (("parity", "conditional_parity"), ("robust", "grade_robustness"))
        if check in audit
    ]
    checks.append(md(words["weights"]))
    parts = [md(words["intro"], checks=join(words["check_sep"], checks))]
    if not attributes:
        parts.append(md(words["no_groups"], groups=MIN_GROUPS, min_n=_min_n(audit)))
    findings = audit.findings
    if findings.empty:
        parts.append(md(words["none"]))
    else:
        items = [_finding_text(row, words, lang) for row in records(findings.head(max_items))]
        listing = md(
            "{items}{more}",
            items=join(words["sep"], items),
            more=md(words["more"] if len(findings) > max_items else ""),
        )
        parts.append(md(words["some"], k=len(findings), items=listing))
    parts.append(md(words["link"], link=url(link)) if link else md(say("report.fairness_not_written", lang)))
    return join(" " if lang == "en" else "", parts)


def _min_n(audit: AuditResult) -> int:
    """The units per group the audit's group checks asked for (from its notes; the default otherwise)."""
    for note in audit.notes:
        if "min_n" in note.values:
            return int(note.values["min_n"])
    for result in audit.checks.values():
        if "min_n" in result.parameters:
            return int(result.parameters["min_n"])
    return AUDIT_DEFAULTS.min_n


# ============================================================================ the fairness audit report
FAIRNESS_SECTIONS: Mapping[str, tuple[str, ...]] = {
    "groups": ("disaggregate", "disaggregated"),
    "impact": ("adverse_impact",),
    "parity": ("conditional_parity",),
    "context": ("context_neutrality",),
    "weights": ("weight_policy", "effective_weights", "effective_weights_by_source"),
    "robustness": ("grade_robustness", "rank_stability"),
    "raters": ("rater_bias",),
}
"""The numbered sections of the fairness audit report and the checks of :func:`~perfmodel.audit.run_audit` each shows.

Each section has ``notebook.fairness_audit.section.<id>.title`` and ``.text`` in the catalogue."""

_SECTION = "notebook.fairness_audit.section"


def _section_notes(audit: AuditResult, checks: Sequence[str]) -> list[Any]:
    """The skipped notes of ``checks`` (a group check's note is ``"<check>: <attribute>"``)."""
    return [n for n in audit.skipped() if n.check in checks or n.check.split(":")[0] in checks]


def fairness_section(section: str, audit: AuditResult, lang: Lang = "zh", /, **values: Any) -> SafeMarkdown:
    """A section of the fairness audit report: heading, what it shows and the data it needs, and what was not run.

    The words are ``notebook.fairness_audit.section.<section>.*`` of the catalogue.
    The data minimums (units per group, groups, units with context) are filled in
    here, so the text and the checks quote the same numbers; *values* fill any
    other field (``factors``, ``n_boot``). When a check of the section did not
    run, the section says so with the audit's own reason and what it would need;
    the tables and figures of a check that did not run are then simply absent.

    Parameters
    ----------
    section
        ``findings``, ``example``, ``notes`` or one of :data:`FAIRNESS_SECTIONS` (numbered in that order).
    audit
        The audit the report shows.
    lang
        ``zh`` or ``en``.
    **values
        Further fields of the section's text.

    Examples
    --------
    >>> from perfmodel.audit.run import AuditNote
    >>> audit = AuditResult(checks={}, findings=pd.DataFrame(), notes=(AuditNote("rank_stability", "skipped",
    ...     "audit.note.no_previous"),))
    >>> print(fairness_section("robustness", audit, "en", n_boot=0).splitlines()[0])
    ## 6. Robustness of grades and ranks
    """
    from perfmodel.audit.robustness import MIN_STABILITY_UNITS
    from perfmodel.calibrate.difficulty import CONTEXT_UNITS_PER_TERM, MIN_CONTEXT_UNITS

    lang = check_lang(lang)
    numbered = list(FAIRNESS_SECTIONS)
    if section not in (*numbered, "findings", "example", "notes"):
        raise OptionError(
            f"unknown section {section!r}; the sections are findings, {', '.join(numbered)}, example, notes"
        )
    title = say(f"{_SECTION}.{section}.title", lang)
    heading = (
        md("## {n}. {title}", n=numbered.index(section) + 1, title=title)
        if section in numbered
        else md("### {title}", title=title)
        if section == "example"
        else md("## {title}", title=title)
    )
    minimums = {
        "groups": MIN_GROUPS,
        "min_n": _min_n(audit),
        "floor": MIN_CONTEXT_UNITS,
        "per_term": CONTEXT_UNITS_PER_TERM,
        "min_stability": MIN_STABILITY_UNITS,
    }
    if section == "parity" and "factors" not in values:
        minimums["factors"] = _legitimate_factors(audit, lang)
    parts = [heading, say_md(f"{_SECTION}.{section}.text", lang, **(minimums | values))]
    checks = FAIRNESS_SECTIONS.get(section, ())
    skipped = _section_notes(audit, checks)
    if skipped:
        ran = any(check in audit for check in checks)
        lead = say("notebook.fairness_audit.partly_skipped" if ran else "notebook.fairness_audit.skipped", lang)
        reasons = [
            md("- {what}:{note}" if lang == "zh" else "- {what}: {note}", what=_what(n.check, lang), note=n.text(lang))
            for n in skipped
        ]
        parts.append(md("{lead}\n\n{reasons}", lead=md(lead), reasons=join("\n", reasons)))
    return join("\n\n", parts)


def _what(check: str, lang: Lang) -> str:
    """What a skipped note is about, inside its section: the grouping of a group check, else the check."""
    _, _, attribute = check.partition(": ")
    return attribute_label(attribute, lang) if attribute else check_label(check, lang)


def _legitimate_factors(audit: AuditResult, lang: Lang) -> SafeMarkdown:
    """The legitimate factors conditional parity ran with, as code; "(none)" when it did not run."""
    factors = audit.checks["conditional_parity"].parameters.get("legitimate") if "conditional_parity" in audit else None
    if not factors:
        return say_md("notebook.fairness_audit.no_factors", lang)
    names = [factors] if isinstance(factors, str) else list(factors)
    return join(say("report.fairness_summary.attr_sep", lang), [md("<code>{f}</code>", f=f) for f in names])


def check_label(check: str, lang: Lang = "zh") -> str:
    """A check of the audit in words, with its grouping (``"adverse_impact: area_type"``).

    The grouping attribute is named too: ``"等级的不利影响:城乡类型"``.

    Examples
    --------
    >>> check_label("adverse_impact: area_type"), check_label("rank_stability", "en")
    ('等级的不利影响:城乡类型', 'rank stability')
    """
    check_lang(lang)
    name, _, attribute = str(check).partition(": ")
    key = f"notebook.fairness_audit.check.{name}"
    words = say(key, lang) if has_message(key) else name
    if not attribute:
        return words
    return (
        f"{words}:{attribute_label(attribute, lang)}"
        if lang == "zh"
        else f"{words}: {attribute_label(attribute, lang)}"
    )


def _context_label(variables: object, lang: Lang) -> object:
    """What a context-neutrality row is about in words: its context columns (``"population, area_type"``)
    or, for the AUC row, the top grade."""
    from perfmodel.framework import GRADES
    from perfmodel.glossary import grade_label

    if not isinstance(variables, str) or not variables:
        return variables
    if variables in GRADES:
        return grade_label(variables, lang)
    return say("common.list_sep", lang).join(attribute_label(v.strip(), lang) for v in variables.split(","))


def fairness_headed(frame: pd.DataFrame, lang: Lang = "zh") -> pd.DataFrame:
    """An audit table for display in ``lang``: headers, check names and grouping attributes in words.

    Headers come from ``notebook.fairness_audit.col.<code>`` (else
    :func:`perfmodel.glossary.column_header`); ``share_<grade>`` columns become
    the grade's share. The data keep their codes; this is only how they are shown.
    """
    from perfmodel.glossary import column_header, grade_label

    lang = check_lang(lang)
    out = frame.copy()
    if "check" in out.columns:
        out["check"] = [check_label(c, lang) for c in out["check"]]
    if "attribute" in out.columns:
        out["attribute"] = [attribute_label(a, lang) if isinstance(a, str) and a else a for a in out["attribute"]]
    if "grade" in out.columns:
        out["grade"] = out["grade"].map(lambda g: grade_label(g, lang))
    if "variable" in out.columns:  # context neutrality: context columns, or the top grade (auc)
        out["variable"] = [_context_label(v, lang) for v in out["variable"]]
    if {"check", "group"} <= set(frame.columns):  # the findings: a neutrality finding's group is its variables
        neutrality = frame["check"].eq("context_neutrality").to_numpy()
        out.loc[neutrality, "group"] = [_context_label(v, lang) for v in frame.loc[neutrality, "group"]]
    for column in ("role", "component", "measure", "basis", "scope"):
        if column in out.columns:
            words = templates(f"notebook.fairness_audit.value.{column}", lang)
            out[column] = [words.get(v, v) if isinstance(v, str) else v for v in out[column]]

    def header(code: object) -> str:
        code = str(code)
        key = f"notebook.fairness_audit.col.{code}"
        if has_message(key):
            return say(key, lang)
        if code.startswith("share_"):
            return say("notebook.fairness_audit.share", lang, grade=grade_label(code[len("share_") :], lang))
        return column_header(code, lang)

    return out.rename(columns=header)


def rank_stability_shown(table: pd.DataFrame, lang: Lang = "zh") -> tuple[pd.DataFrame, SafeMarkdown | None]:
    """The rows of a rank-stability table that have an estimate, and one sentence naming the scopes with too few units.

    Scopes (peer groups) with fewer than
    :data:`~perfmodel.audit.robustness.MIN_STABILITY_UNITS` units scored in both
    periods have no estimate; instead of three empty rows each, the report names
    them once with the minimum. The sentence is ``None`` when every scope has an estimate.
    """
    from perfmodel.audit.robustness import MIN_STABILITY_UNITS

    lang = check_lang(lang)
    has_estimate = table["estimate"].notna() | (table["n"] >= MIN_STABILITY_UNITS)
    too_few = list(dict.fromkeys(table.loc[~has_estimate, "peer_group"].astype(str)))
    note = (
        say_md(
            "notebook.fairness_audit.stability_too_few",
            lang,
            min_n=MIN_STABILITY_UNITS,
            groups=join(say("report.fairness_summary.attr_sep", lang), too_few),
        )
        if too_few
        else None
    )
    return table[has_estimate], note
