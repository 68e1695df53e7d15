"""Content of the quarterly evaluation report: tables, figures and explanatory text.

The notebook ``notebooks/quarterly_evaluation.ipynb`` only calls these functions
and displays what they return, so every number in the report is computed (and
tested) here. Words come from the message catalogue (:mod:`perfmodel.text`):
headers ``report.quarterly.<code>`` or ``column.<code>``, sentences
``report.quarterly.text.*``, ``report.methodology.*`` and ``report.grading_notes.*``,
figure labels ``figure.<name>.*``; grades are shown with
:func:`perfmodel.glossary.grade_label` (official names in Chinese, English words in English).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from perfmodel.calibrate.difficulty import CONTEXT_UNITS_PER_TERM, MIN_CONTEXT_UNITS
from perfmodel.columns import NUMERIC_CONTEXT
from perfmodel.evaluation import Evaluation
from perfmodel.flags import with_flag_text
from perfmodel.framework import GRADES, Framework, Indicator
from perfmodel.glossary import column_header, grade_label, label
from perfmodel.grading import NOT_GRADED
from perfmodel.groups import group_order  # re-exported: public here before perfmodel.groups
from perfmodel.privacy import officer_names_shown
from perfmodel.report.render import SafeMarkdown, join, md, say_md, table
from perfmodel.text import check_lang, has_message, say

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "group_order",
    "headline",
    "section",
    "prose",
    "quality_tables",
    "grading_notes_markdown",
    "ranking_table",
    "grade_table",
    "breach_table",
    "negative_table",
    "rank_change_table",
    "rank_movers",
    "indicator_coverage",
    "weight_tree_table",
    "methodology_markdown",
    "figure_score_distribution",
    "figure_dimension_profiles",
    "figure_rank_changes",
    "figure_grade_counts",
    "write_tables",
    "styled",
    "consequence_label",
    "calibration_comparison",
    "calibration_markdown",
    "provenance_table",
]

GRADE_COLOURS = {"优秀": "#1b7837", "良好": "#7fbf7b", "合格": "#f4a582", "不合格": "#b2182b", NOT_GRADED: "#bbbbbb"}
"""Grade code → colour of its dots and bars in the figures."""


def _header(code: str, lang: str) -> str:
    """A table header: the report's own (``report.quarterly.<code>``) or the column's (``column.<code>``)."""
    key = f"report.quarterly.{code}"
    return say(key, lang) if has_message(key) else column_header(code, lang)


def _headers(codes: Iterable[str], lang: str) -> dict[str, str]:
    """Column code → header in ``lang``, for :meth:`pandas.DataFrame.rename`."""
    return {code: _header(code, lang) for code in codes}


def _grade_words(grades: pd.Series, lang: str) -> pd.Series:
    """:func:`~perfmodel.glossary.grade_label` of every grade code in ``grades``."""
    return grades.map(lambda g: grade_label(g, lang), na_action="ignore")


def _name(node, lang: str) -> str:
    return node.name.in_lang(lang)


def _dimension_names(fw: Framework, lang: str) -> dict[str, str]:
    return {node.id: _name(node, lang) for node in fw.tree}


def consequence_label(consequence: str, grade_cap: object = None, points: float | None = None, lang: str = "zh") -> str:
    """A threshold's or negative-list item's consequence in words.

    Examples
    --------
    >>> consequence_label("grade_cap", "合格")
    '等级最高为合格'
    >>> consequence_label("deduct", points=2, lang="en")
    'deduct 2 points each'
    """
    check_lang(lang)
    if consequence == "grade_cap":
        return say("consequence.grade_cap", lang, cap=grade_label(grade_cap, lang))
    if consequence == "deduct" and points is None:
        return say("consequence.deduct_any", lang)
    if consequence == "deduct":
        return say("consequence.deduct", lang, points=points)
    key = f"consequence.{consequence}"
    return say(key, lang) if has_message(key) else consequence


def _threshold_text(ind: Indicator, lang: str) -> str:
    th = ind.threshold
    if th is None:
        return ""
    parts = ([f"≥ {th.min:g}"] if th.min is not None else []) + ([f"≤ {th.max:g}"] if th.max is not None else [])
    return f"{' & '.join(parts)}({consequence_label(th.consequence, th.grade_cap, lang=lang)})"


def section(key: str, lang: str = "zh", /, level: int = 2, **values: object) -> SafeMarkdown:
    r"""A heading of the quarterly report (``report.quarterly.section.<key>``) at ``level`` (``##`` by default).

    Examples
    --------
    >>> section("fairness", "en")
    '## 7\\. Fairness'
    """
    check_lang(lang)
    return md("#" * level + " {title}", title=say(f"report.quarterly.section.{key}", lang, **values))


def prose(key: str, lang: str = "zh", /, **values: object) -> SafeMarkdown:
    """An explanation of the quarterly report (``report.quarterly.prose.<key>``, Markdown; values escaped)."""
    check_lang(lang)
    return say_md(f"report.quarterly.prose.{key}", lang, **values)


def headline(ev: Evaluation, lang: str = "zh") -> SafeMarkdown:
    """A short Markdown paragraph: what was evaluated and the key numbers (names escaped)."""
    check_lang(lang)
    fw, scores = ev.framework, ev.scores
    s = ev.key_figures()
    counts = scores["grade"].value_counts()
    grades = [f"{grade_label(g, lang)} {int(counts.get(g, 0))}" for g in (*GRADES, NOT_GRADED) if counts.get(g, 0)]
    values = {
        "name": _name(fw, lang),
        "period": s["period"],
        "scored": s["scored"],
        "units": s["units"],
        "used": s["observations_used"],
        "quarantined": s["quarantined_rows"],
        "groups": scores["peer_group"].nunique(),
        "peer_group": fw.peer_group or say("report.quarterly.text.all_units", lang),
        "grades": say("common.list_sep", lang).join(grades),
    }
    return say_md("report.quarterly.text.headline", lang, **values)


def quality_tables(ev: Evaluation, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """Data-quality tables: quarantine by reason, late submissions by unit, indicator coverage,
    and units not graded for incomplete data (fewer months of data than required, 数据不完整)."""
    check_lang(lang)
    from perfmodel.validation import reason_text

    q = ev.quarantine
    if len(q):
        by_reason = q.groupby(["file", "reason"]).size().rename("n").reset_index().sort_values("n", ascending=False)
        by_reason["explanation"] = by_reason["reason"].map(lambda code: reason_text(code, lang))
        by_reason["file"] = by_reason["file"].map(lambda p: Path(str(p)).name)
    else:
        by_reason = pd.DataFrame(columns=["file", "reason", "n", "explanation"])
    raw = ev.stages["raw"]
    if "late" in raw.columns and raw["late"].any():
        late_rows = raw[raw["late"]]
        late = late_rows.groupby("unit_id").agg(late_rows=("late", "size"), max_days_late=("days_late", "max"))
        late = late.reset_index().sort_values(["late_rows", "max_days_late"], ascending=False)
    else:
        late = pd.DataFrame(columns=["unit_id", "late_rows", "max_days_late"])
    coverage = indicator_coverage(ev)
    months = ev.stages["unit_months"]
    short = months[~months["complete"]].rename_axis("unit_id").reset_index()
    short["name"] = short["unit_id"].map(ev.scores.set_index("unit_id")["name"])
    incomplete = short[["unit_id", "name", "months", "required"]].sort_values(["months", "unit_id"])
    rename = _headers(
        (
            "file",
            "reason",
            "n",
            "explanation",
            "unit_id",
            "late_rows",
            "max_days_late",
            "indicator",
            "coverage",
            "mean_months",
            "name",
            "months",
            "required",
        ),
        lang,
    )
    return {
        "quarantine": by_reason.rename(columns=rename),
        "late": late.rename(columns=rename),
        "coverage": coverage.rename(columns=rename),
        "incomplete": incomplete.rename(columns=rename).reset_index(drop=True),
    }


def indicator_coverage(ev: Evaluation) -> pd.DataFrame:
    """Each input indicator's share of units with data and mean months with data (columns as codes).

    Columns ``indicator``, ``coverage`` (0–1, units with any data ÷ units) and
    ``mean_months`` (among the units with data), one row per input indicator in
    framework order.
    """
    rolled = ev.stages["rolled"]
    coverage = rolled.groupby("indicator").agg(units=("unit_id", "nunique"), mean_months=("months_present", "mean"))
    coverage = coverage.reindex(list(ev.framework.input_indicators())).fillna({"units": 0})
    coverage["coverage"] = coverage["units"] / len(ev.scores)
    return coverage.rename_axis("indicator").reset_index()[["indicator", "coverage", "mean_months"]]


def rank_movers(ev: Evaluation, top: int = 10, *, show_names: bool = False) -> pd.DataFrame:
    """The ``top`` largest rises and falls in group rank against the previous period (columns as codes).

    Rises first, largest change first; a unit appears once. Empty when there is
    no previous period. Officers are listed by id unless ``show_names``.
    """
    columns = ["unit_id", "name", "peer_group", "previous_rank", "rank", "rank_change", "previous_grade", "grade"]
    s = _scores_shown(ev, show_names)
    s = s.dropna(subset=["rank_change"]) if "rank_change" in s.columns else s.iloc[:0]
    if s.empty:
        return pd.DataFrame(columns=columns)
    movers = pd.concat([s.nlargest(top, "rank_change"), s.nsmallest(top, "rank_change")]).drop_duplicates("unit_id")
    movers = movers.sort_values("rank_change", ascending=False, kind="stable")
    return movers[[c for c in columns if c in movers.columns]].reset_index(drop=True)


def grading_notes_markdown(ev: Evaluation, lang: str = "zh") -> SafeMarkdown:
    """One sentence on units not graded for incomplete data or non-finite scores, and on quota ties.

    Empty when nothing of the kind happened. The counts come from
    ``ev.stages["grading_notes"]`` (codes ``incomplete_data``, ``non_finite_score``,
    ``quota_tie_broken``, ``quota_tie_lowered``).
    """
    check_lang(lang)
    notes = ev.stages.get("grading_notes", pd.DataFrame(columns=["unit_id", "code"]))
    n = {
        code: int(notes.loc[notes["code"] == code, "unit_id"].nunique())
        for code in ("incomplete_data", "non_finite_score", "quota_tie_broken", "quota_tie_lowered")
    }
    chain = ", ".join(ev.framework.grading.tie_break)
    parts = [
        say(f"report.grading_notes.{code}", lang, n=n[code])
        for code in ("incomplete_data", "non_finite_score")
        if n[code]
    ]
    text = (
        say("report.grading_notes.not_graded", lang, units=say("report.grading_notes.and", lang).join(parts))
        if parts
        else ""
    )
    for code in ("quota_tie_broken", "quota_tie_lowered"):
        if n[code]:
            text += say(f"report.grading_notes.{code}", lang, n=n[code], chain=chain)
    text = text.strip()
    return md("{text}", text=text) if text else SafeMarkdown("")


def _scores_shown(ev: Evaluation, show_names: bool) -> pd.DataFrame:
    """``ev.scores``, without the officers' names unless asked for (stations keep theirs)."""
    return officer_names_shown(ev.scores, show_names or ev.framework.level != "officer")


def ranking_table(
    ev: Evaluation, lang: str = "zh", group: str | None = None, *, show_names: bool = False
) -> pd.DataFrame:
    """The ranking with grades (optionally one peer group), with readable column names.

    Officers are listed by id unless ``show_names`` (see :mod:`perfmodel.privacy`).
    """
    check_lang(lang)
    scores = with_flag_text(_scores_shown(ev, show_names), ev.stages["flags"], ev.framework, lang)
    if group is not None:
        scores = scores[scores["peer_group"] == group]
    dims = _dimension_names(ev.framework, lang)
    columns = ["rank", "unit_id", "name", "score", "grade", *dims, "rank_change", "flags"]
    columns = [c for c in columns if c in scores.columns]
    table = scores[columns].assign(grade=_grade_words(scores["grade"], lang)) if "grade" in columns else scores[columns]
    table = table.rename(columns={**_headers([c for c in columns if c not in dims], lang), **dims})
    return table.reset_index(drop=True)


def grade_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Units per peer group and grade, groups in natural order."""
    check_lang(lang)
    table = ev.grade_counts()
    table = table.reindex(group_order(table.index))
    table.index.name = _header("peer_group", lang)
    table.columns = _grade_words(pd.Series(table.columns), lang)
    return table


def breach_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Hard-threshold breaches (R9): unit, indicator, value, standard, consequence."""
    check_lang(lang)
    t = _headers(("unit_id", "indicator", "value", "threshold", "consequence"), lang)
    b = ev.stages["breaches"].copy()
    if b.empty:
        return pd.DataFrame(columns=list(t.values()))
    meta = ev.framework.indicator_meta()
    b["indicator"] = b["indicator"].map(lambda i: _name(meta[i], lang))
    b["threshold"] = [f"≥ {lo:g}" if pd.notna(lo) else f"≤ {hi:g}" for lo, hi in zip(b["min"], b["max"], strict=True)]
    b["consequence"] = [
        consequence_label(c, cap, lang=lang) for c, cap in zip(b["consequence"], b["grade_cap"], strict=True)
    ]
    b["value"] = b["value"].map(lambda v: f"{v:.3f}")
    return b[["unit_id", "indicator", "value", "threshold", "consequence"]].rename(columns=t)


def negative_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Negative-list hits (R13): unit, item, count, consequence."""
    check_lang(lang)
    t = _headers(("unit_id", "item", "count", "consequence", "points"), lang)
    hits = ev.stages["negative_hits"].copy()
    meta = {item.id: item for item in ev.framework.negative_list}
    hits["name"] = [_name(meta[i], lang) if i in meta else n for i, n in zip(hits["item"], hits["name"], strict=True)]
    hits["consequence"] = [
        consequence_label(meta[i].consequence, meta[i].grade_cap, meta[i].points, lang) if i in meta else c
        for i, c in zip(hits["item"], hits["consequence"], strict=True)
    ]
    table = hits[["unit_id", "name", "count", "consequence", "points"]].rename(
        columns={
            "unit_id": t["unit_id"],
            "name": t["item"],
            "count": t["count"],
            "consequence": t["consequence"],
            "points": t["points"],
        }
    )
    return table


def rank_change_table(ev: Evaluation, lang: str = "zh", top: int = 10, *, show_names: bool = False) -> pd.DataFrame:
    """The largest rises and falls in group rank against the previous period.

    Officers are listed by id unless ``show_names`` (see :mod:`perfmodel.privacy`).
    """
    check_lang(lang)
    movers = rank_movers(ev, top, show_names=show_names)
    if movers.empty:
        columns = ("unit_id", "name", "peer_group", "previous_rank", "rank", "rank_change")
        return pd.DataFrame(columns=list(_headers(columns, lang).values()))
    columns = movers.columns.tolist()
    for column in ("previous_grade", "grade"):
        if column in columns:
            movers[column] = _grade_words(movers[column], lang)
    return movers.rename(columns=_headers(columns, lang)).reset_index(drop=True)


def weight_tree_table(fw: Framework, lang: str = "zh") -> pd.DataFrame:
    """The weight tree for the methodology section."""
    check_lang(lang)
    table = fw.weight_table()
    name = table["name_en"] if lang == "en" else table["name_zh"]
    indent = table["level"].map(lambda d: "\u3000" * (d - 1))
    meta = fw.indicator_meta()
    out = pd.DataFrame(
        {
            say("report.weight_tree.node", lang): indent + name,
            say("report.weight_tree.weight", lang): table["weight"],
            say("report.weight_tree.share", lang): table["effective_weight"],
            say("report.weight_tree.direction", lang): table["direction"]
            .map(lambda code: label("direction", code, lang), na_action="ignore")
            .fillna(""),
            say("report.weight_tree.source", lang): table["source"]
            .map(lambda code: label("source", code, lang), na_action="ignore")
            .fillna(""),
            say("report.weight_tree.threshold", lang): table["id"].map(
                lambda i: _threshold_text(meta[i], lang) if i in meta else ""
            ),
        }
    )
    return out


def _indicator_rule(ind: Indicator) -> str:
    parts = [f"{ind.kind}"]
    if ind.goalposts:
        parts.append(f"goalposts {ind.goalposts[0]:g}–{ind.goalposts[1]:g}")
    if ind.denominator:
        parts.append(f"per {ind.per:g} {ind.denominator}")
    return ", ".join(parts)


def methodology_markdown(ev: Evaluation, lang: str = "zh") -> SafeMarkdown:
    """The rules of the framework, generated from it, as Markdown (every name escaped)."""
    check_lang(lang)
    fw = ev.framework
    settings = ev.log
    lo, hi = fw.normalisation.range
    grading = fw.grading
    sep = say("common.list_sep", lang)
    if grading.method == "quota":
        quotas = [
            say_md("report.methodology.quota_item", lang, g=grade_label(g, lang), q=q)
            for g, q in grading.quotas.items()
        ]
        rule = say_md("report.methodology.quota_rule", lang, q=join(sep, quotas), rest=grade_label("不合格", lang))
    else:
        cutoffs = [md("{g} ≥ {c:g}", g=grade_label(g, lang), c=c) for g, c in grading.cutoffs.items()]
        rule = say_md("report.methodology.cutoff_rule", lang, c=join(sep, cutoffs))
    diff = fw.difficulty
    bonus = join(
        "; ",
        [
            say_md("report.methodology.bonus_item", lang, name=_name(b, lang), points=b.points_per_unit)
            if not b.cap
            else say_md(
                "report.methodology.bonus_item_cap", lang, name=_name(b, lang), points=b.points_per_unit, cap=b.cap
            )
            for b in fw.bonus
        ],
    )
    negative = join(
        "; ",
        [
            md(
                "{name}: {consequence}",
                name=_name(n, lang),
                consequence=consequence_label(n.consequence, n.grade_cap, n.points, lang),
            )
            for n in fw.negative_list
        ],
    )
    coefficients = join(sep, [md("{k} ×{v:g}", k=k, v=v) for k, v in diff.coefficients.items()] if diff else [])
    agg = next((s["method"] for s in settings if s["step"] == "aggregated"), fw.aggregation.method)
    none = say("report.quarterly.text.none", lang)
    lines = [
        say_md("report.methodology.rollup", lang, period=ev.key_figures()["period"]),
        say_md(
            "report.methodology.normalisation",
            lang,
            lo=lo,
            hi=hi,
            norm=next((s["method"] for s in settings if s["step"] == "normalised"), fw.normalisation.method),
        ),
        say_md(
            "report.methodology.aggregation",
            lang,
            min_availability=fw.missing.min_availability,
            agg_word=say_md(
                f"report.methodology.agg_method.{'arithmetic' if agg == 'arithmetic' else 'geometric'}", lang
            ),
        ),
        say_md("report.methodology.difficulty", lang, by=diff.by, coefficients=coefficients)
        if diff
        else say_md("report.methodology.no_difficulty", lang),
        say_md("report.methodology.items", lang, bonus=bonus or none, negative=negative or none),
        say_md(
            "report.methodology.grades",
            lang,
            within=grading.within or say("report.quarterly.text.all_units", lang),
            rule=rule,
        ),
        say_md("report.methodology.ranks", lang, peer_group=fw.peer_group or say("report.quarterly.text.all", lang)),
    ]
    return join("\n", lines)


# ---------------------------------------------------------------- figures
def _ordered_groups(ev: Evaluation) -> list[str]:
    return group_order(ev.scores["peer_group"].unique())


def figure_score_distribution(ev: Evaluation, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Box plots of scores per peer group with every unit as a dot coloured by grade.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    scores = ev.scores.dropna(subset=["score"])
    groups = _ordered_groups(ev)
    ax = report_axes(ax, figsize=(8, 4.5))
    data = [scores.loc[scores["peer_group"] == g, "score"].to_numpy() for g in groups]
    ax.boxplot(data, tick_labels=groups, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, g in enumerate(groups, start=1):
        sub = scores[scores["peer_group"] == g]
        x = i + rng.uniform(-0.15, 0.15, len(sub))
        ax.scatter(x, sub["score"], c=sub["grade"].map(GRADE_COLOURS), s=18, alpha=0.85, zorder=3)
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=GRADE_COLOURS[g], label=grade_label(g, lang)) for g in GRADES
    ]
    ax.legend(handles=handles, title=_header("grade", lang), loc="best", fontsize=8)
    ax.set_title(say("figure.score_distribution.title", lang))
    ax.set_xlabel(say("figure.score_distribution.x", lang))
    ax.set_ylabel(say("figure.score_distribution.y", lang))
    return ax


def figure_dimension_profiles(ev: Evaluation, *, ax: Axes | None = None, lang: str = "zh", max_units: int = 60) -> Axes:
    """Heat map of dimension scores per unit, units sorted by peer group and rank.

    With more than ``max_units`` units, the best and worst ``max_units // 2`` by
    overall rank are shown (the full table is in the report's tables).

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    dims = _dimension_names(ev.framework, lang)
    s = ev.scores.dropna(subset=["score"]).copy()
    if len(s) > max_units:
        s = pd.concat([s.nsmallest(max_units // 2, "rank_overall"), s.nlargest(max_units // 2, "rank_overall")])
    order = {g: i for i, g in enumerate(_ordered_groups(ev))}
    s = s.assign(_g=s["peer_group"].map(order)).sort_values(["_g", "rank"])
    matrix = s[list(dims)].to_numpy(dtype=float)
    height = max(3.0, 0.22 * len(s) + 1.5)
    ax = report_axes(ax, figsize=(7.5, height))
    fig = ax.figure
    image = ax.imshow(matrix, aspect="auto", cmap="RdYlGn", vmin=0, vmax=100)
    ax.set_xticks(range(len(dims)), list(dims.values()))
    labels = [f"{n}({g})" for n, g in zip(s["name"], s["peer_group"], strict=True)]
    ax.set_yticks(range(len(s)), labels, fontsize=7)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04)
    colorbar.set_label(say("figure.dimension_profiles.colorbar", lang))
    ax.set_title(say("figure.dimension_profiles.title", lang))
    ax.set_xlabel(say("figure.dimension_profiles.x", lang))
    ax.set_ylabel(say("figure.dimension_profiles.y", lang))
    return ax


def figure_rank_changes(ev: Evaluation, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Previous vs current group rank; points above the diagonal improved.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    s = ev.scores.dropna(subset=["rank", "previous_rank"])
    ax = report_axes(ax, figsize=(6, 6))
    groups = _ordered_groups(ev)
    colours = plt.get_cmap("tab10")
    for i, g in enumerate(groups):
        sub = s[s["peer_group"] == g]
        ax.scatter(sub["previous_rank"], sub["rank"], s=20, alpha=0.8, color=colours(i % 10), label=g)
    top = float(max(s["rank"].max(), s["previous_rank"].max())) if len(s) else 1.0
    ax.plot([1, top], [1, top], color="grey", lw=1, ls="--")
    ax.invert_xaxis()
    ax.invert_yaxis()
    if len(groups) > 1:
        ax.legend(title=_header("peer_group", lang), fontsize=8)
    ax.set_title(say("figure.rank_changes.title", lang))
    ax.set_xlabel(say("figure.rank_changes.x", lang))
    ax.set_ylabel(say("figure.rank_changes.y", lang))
    return ax


def figure_grade_counts(ev: Evaluation, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Stacked bars: units per grade in each peer group.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    table = ev.grade_counts()
    table = table.reindex(group_order(table.index))
    ax = report_axes(ax, figsize=(7, 4))
    bottom = np.zeros(len(table))
    for grade, words in zip(table.columns, _grade_words(pd.Series(table.columns), lang), strict=True):
        ax.bar(table.index, table[grade], bottom=bottom, color=GRADE_COLOURS.get(grade, "#999"), label=words)
        bottom += table[grade].to_numpy()
    ax.legend(title=_header("grade", lang), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(say("figure.grade_counts.title", lang))
    ax.set_xlabel(say("figure.grade_counts.x", lang))
    ax.set_ylabel(say("figure.grade_counts.y", lang))
    return ax


# ---------------------------------------------------------------- outputs
def write_tables(ev: Evaluation, out_dir: str | Path, lang: str = "zh") -> dict[str, Path]:
    """Write the score tables: ``scores.csv`` and a multi-sheet ``scores.xlsx``.

    The CSV holds the scores as data (codes as headers, flag codes in ``flags``). The XLSX is for reading
    (:func:`perfmodel.report.workbook.score_workbook`): headers and flags in ``lang``, an
    all-units sheet and one per peer group, the wide indicator values and
    normalised scores, breaches, negative-list hits, grading notes, the
    quarantine and the weight tree, and a notes sheet saying what each column
    means. Output is deterministic.
    """
    from perfmodel.io import write_table
    from perfmodel.report.workbook import write_score_workbook

    check_lang(lang)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"scores_csv": write_table(ev.scores, out_dir / "scores.csv")}
    if len(ev.quarantine):
        paths["quarantine_csv"] = write_table(ev.quarantine, out_dir / "quarantine.csv")
    tables = {
        "indicator_values": ev.stages["denominated"].rename_axis("unit_id").reset_index(),
        "normalised": ev.stages["normalised"].rename_axis("unit_id").reset_index(),
        "breaches": ev.stages["breaches"],
        "negative_list": ev.stages["negative_hits"],
        "grading_notes": ev.stages["grading_notes"],
        "quarantine": ev.quarantine,
        "weights": ev.framework.weight_table(),
    }
    paths["scores_xlsx"] = write_score_workbook(
        with_flag_text(ev.scores, ev.stages["flags"], ev.framework, lang),
        ev.framework,
        out_dir / "scores.xlsx",
        lang=lang,
        tables=tables,
    )
    return paths


def styled(frame: pd.DataFrame, percent: Iterable[str] = (), digits: int = 1):
    """A pandas ``Styler`` for the HTML report; the same as :func:`perfmodel.report.render.table`.

    Kept under this name for notebooks written before the render module; every cell
    and label is HTML-escaped and the table id is fixed.
    """
    return table(frame, percent=percent, digits=digits)


# ---------------------------------------------------------------- calibration and provenance
CONTEXT_COLUMNS = (*NUMERIC_CONTEXT, "area_type", "station_type")
"""Units-table columns describing context a unit does not control (used when present).

Of :data:`perfmodel.columns.STATION_CONTEXT`, ``station_class`` is left out: it bands
stations by population and incident volume, which are already in."""


def calibration_comparison(raw: Evaluation, calibrated: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Each unit's uncalibrated and calibrated score, group rank and grade.

    Units whose grade changes come first, the largest score changes first.
    """
    check_lang(lang)
    keep = ["unit_id", "name", "peer_group", "score", "rank", "grade"]
    both = raw.scores[keep].merge(
        calibrated.scores[["unit_id", "score", "rank", "grade"]], on="unit_id", suffixes=("_raw", "_calibrated")
    )
    both["_changed"] = both["grade_raw"] != both["grade_calibrated"]
    both["_shift"] = (both["score_calibrated"] - both["score_raw"]).abs()
    both = both.sort_values(["_changed", "_shift"], ascending=False).drop(columns=["_changed", "_shift"])
    columns = [
        "unit_id",
        "name",
        "peer_group",
        "score_raw",
        "score_calibrated",
        "rank_raw",
        "rank_calibrated",
        "grade_raw",
        "grade_calibrated",
    ]
    both = both[columns].copy()
    for column in ("grade_raw", "grade_calibrated"):
        both[column] = _grade_words(both[column], lang)
    return both.rename(columns=_headers(columns, lang)).reset_index(drop=True)


def _score_r2_on_context(ev: Evaluation, context: Iterable[str] = CONTEXT_COLUMNS) -> dict[str, float] | None:
    """:func:`~perfmodel.calibrate.difficulty.r2_on_context` of the composite score on the context
    columns that vary in the units table (``None`` when none does)."""
    from perfmodel.calibrate.difficulty import r2_on_context

    present = [c for c in context if c in ev.units.columns and ev.units[c].nunique() > 1]
    if not present:
        return None
    return r2_on_context(ev.scores.set_index("unit_id")["score"], ev.scored_units, present)


def calibration_markdown(raw: Evaluation, calibrated: Evaluation, lang: str = "zh") -> SafeMarkdown:
    """What calibration changed: grades, rank agreement and dependence on context, in words."""
    check_lang(lang)
    from scipy.stats import spearmanr

    both = (
        raw.scores[["unit_id", "score", "grade"]]
        .merge(calibrated.scores[["unit_id", "score", "grade"]], on="unit_id", suffixes=("_raw", "_cal"))
        .dropna(subset=["score_raw", "score_cal"])
    )
    changed = int((both["grade_raw"] != both["grade_cal"]).sum())
    rho = float(spearmanr(both["score_raw"], both["score_cal"]).statistic) if len(both) > 2 else float("nan")
    values = {"mode": calibrated.settings.calibration, "changed": changed, "n": len(both), "rho": rho}
    parts = [say_md("report.quarterly.text.calibration", lang, **values)]
    r2_raw, r2_cal = _score_r2_on_context(raw), _score_r2_on_context(calibrated)
    if r2_raw is not None and r2_cal is not None:
        if np.isfinite(r2_raw["r2"]) and np.isfinite(r2_cal["r2"]):
            parts.append(say_md("report.quarterly.text.calibration_r2", lang, r2_raw=r2_raw["r2"], r2_cal=r2_cal["r2"]))
        else:  # too few units: an R² would mostly measure how few they are
            parts.append(
                say_md(
                    "report.quarterly.text.calibration_r2_too_few",
                    lang,
                    n=int(r2_raw["n"]),
                    terms=int(r2_raw["n_params"]) - 1,
                    needed=int(r2_raw["needed"]),
                    floor=MIN_CONTEXT_UNITS,
                    per_term=CONTEXT_UNITS_PER_TERM,
                )
            )
    return join(" " if lang == "en" else "", parts)


def _provenance_label(name: str, lang: str) -> str:
    """An input role or parameter name in words, with the name itself beside it: ``观测数据 (observations)``."""
    key = f"report.provenance.item.{name}"
    return f"{say(key, lang)} ({name})" if has_message(key) else name


def _provenance_value(name: str, value: object, lang: str) -> str:
    """A parameter's value; a code with words in the catalogue (a calibration mode, a language) in words."""
    key = f"report.provenance.value.{name}.value_{value}"
    return f"{say(key, lang)} ({value})" if isinstance(value, str) and has_message(key) else str(value)


def provenance_table(inputs: dict[str, str | Path], parameters: dict[str, object], lang: str = "zh") -> pd.DataFrame:
    """Where the numbers come from: input hashes, parameters, package versions, git commit.

    The same facts are written to ``provenance.json`` beside the report by
    :func:`perfmodel.report.runner.run_notebook`.
    """
    check_lang(lang)
    from perfmodel.report.provenance import build_provenance

    record = build_provenance(inputs, parameters)
    rows = [
        (
            f"{_provenance_label(name, lang)}: {Path(str(info['path'])).name}",
            f"SHA-256 {info['sha256']} ({info['size_bytes']:,} B)",
        )
        for name, info in record["inputs"].items()
    ]
    rows += [
        (_provenance_label(str(k), lang), _provenance_value(str(k), v, lang))
        for k, v in record["parameters"].items()
        if v is not None
    ]
    git = record["git"] or {}
    rows.append(
        (
            "git",
            f"{git.get('commit', '–')}"
            + (" " + say("report.provenance.uncommitted", lang) if git.get("dirty") else ""),
        )
    )
    rows.append(("Python", record["python"]["version"]))
    rows += [(name, version) for name, version in record["packages"].items() if version]
    return pd.DataFrame(rows, columns=[_header("item_name", lang), _header("detail", lang)])
