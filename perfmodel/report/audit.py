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
from perfmodel.audit.defaults import AUDIT_DEFAULTS
from perfmodel.audit.run import AuditResult, run_audit
from perfmodel.errors import OptionError
from perfmodel.groups import group_order
from perfmodel.report.render import SafeMarkdown, join, md, url
from perfmodel.report.style import apply_report_style
from perfmodel.text import say

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from perfmodel.evaluation import Evaluation

__all__ = ["figure_group_means", "figure_impact_ratios", "fairness_summary_markdown"]


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
    zh = lang == "zh"
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
                "数据过少,不显示" if zh else "too few units, not shown",
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
        ax.set_xlabel("均值及 95% 置信区间" if zh else "Mean and 95% confidence interval")
        ax.set_ylabel("组" if zh else "Group")
    if own_figure:  # on a caller's Axes, the caller's figure keeps its own title and layout
        fig.suptitle(
            "各组得分均值(黑色为参照组,红色为显著差异)"
            if zh
            else "Group means (black: reference; red: significant difference)"
        )
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
    zh = lang == "zh"
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
        ax.set_xlabel("组" if zh else "Group")
        ax.set_ylabel("影响比" if zh else "Impact ratio")
    handles = [Patch(color=palette[i % len(palette)], label=cut) for i, cut in enumerate(cuts)]
    if not own_figure:  # on a caller's Axes: the legend goes on it, the figure is the caller's
        axes[0].legend(handles=handles, title="等级线" if zh else "Grade cut", ncols=len(cuts), fontsize=8)
        return axes[0]
    fig.suptitle(
        "各组达到各等级的比例 ÷ 最高组的比例(虚线:五分之四警示线;红框:显著的不利影响)"
        if zh
        else "Rate of reaching each grade ÷ the most favoured group's rate\n"
        "(dashed: four-fifths line; red edge: significant adverse impact)"
    )
    fig.tight_layout(rect=(0, 0.65 / height, 1, 1))
    fig.legend(handles=handles, title="等级线" if zh else "Grade cut", ncols=len(cuts), loc="lower center")
    return axes[0]


_SUMMARY = {
    "zh": {
        "intro": "**公平性审计。** 按{attrs}分组检查了得分与等级分布、"
        "等级的不利影响(五分之四规则,辅以 Fisher 精确检验和多重比较校正)"
        "{extra},以及权重政策与实际权重。",
        "extra_parity": "、控制工作量等合理因素后的差距",
        "extra_robust": "、等级的稳健性",
        "none": "未发现需要关注的问题。",
        "some": "发现 {k} 项需要关注,主要是:{items}。",
        "more": "等",
        "link": "详见[公平性审计报告]({link})。",
        "sep": ";",
        "item": "{group}({attribute}):{verdict}",
        "item_attribute": "{attribute}:{verdict}",
    },
    "en": {
        "intro": "**Fairness audit.** Scores and grade distributions by {attrs}, adverse impact of grades "
        "(four-fifths rule with Fisher's exact test and a multiple-testing correction){extra}, "
        "and the weight policy with effective weights were checked.",
        "extra_parity": ", gaps after legitimate factors such as workload",
        "extra_robust": ", robustness of grades",
        "none": "Nothing needing attention was found.",
        "some": "{k} findings need attention, chiefly: {items}.",
        "more": " and more",
        "link": "See the [fairness audit report]({link}).",
        "sep": "; ",
        "item": "{group} ({attribute}): {verdict}",
        "item_attribute": "{attribute}: {verdict}",
    },
}


def _finding_text(row: Any, words: Mapping[str, str]) -> SafeMarkdown:
    if row.attribute and row.group:
        return md(words["item"], group=row.group, attribute=row.attribute, verdict=row.verdict)
    if row.attribute or row.group:
        return md(words["item_attribute"], attribute=row.attribute or row.group, verdict=row.verdict)
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
    words = _SUMMARY[lang]
    if audit is None:
        audit = run_audit(ev, lang=lang, **options)
    attributes: list[str] = []
    for key in ("disaggregated", "adverse_impact"):
        if key in audit:
            table = audit.checks[key].to_frame()
            attributes.extend(a for a in table["attribute"].unique() if a not in attributes)
    attrs = join("、" if lang == "zh" else ", ", attributes) if attributes else "–"
    extra = md(
        (words["extra_parity"] if "conditional_parity" in audit else "")
        + (words["extra_robust"] if "grade_robustness" in audit else "")
    )
    parts = [md(words["intro"], attrs=attrs, extra=extra)]
    findings = audit.findings
    if findings.empty:
        parts.append(md(words["none"]))
    else:
        items = [_finding_text(row, words) for row in records(findings.head(max_items))]
        listing = md(
            "{items}{more}",
            items=join(words["sep"], items),
            more=md(words["more"] if len(findings) > max_items else ""),
        )
        parts.append(md(words["some"], k=len(findings), items=listing))
    parts.append(md(words["link"], link=url(link)) if link else md(say("report.fairness_not_written", lang)))
    return join(" " if lang == "en" else "", parts)
