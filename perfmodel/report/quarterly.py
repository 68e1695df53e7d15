"""Content of the quarterly evaluation report: tables, figures and explanatory text.

The notebook ``notebooks/quarterly_evaluation.ipynb`` only calls these functions
and displays what they return, so every number in the report is computed (and
tested) here. Texts exist in Chinese (``zh``) and English (``en``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from perfmodel.columns import NUMERIC_CONTEXT
from perfmodel.evaluation import Evaluation
from perfmodel.flags import with_flag_text
from perfmodel.framework import GRADES, Framework, Indicator
from perfmodel.glossary import LABELS
from perfmodel.grading import NOT_GRADED
from perfmodel.groups import group_order  # re-exported: public here before perfmodel.groups
from perfmodel.privacy import officer_names_shown
from perfmodel.report.render import SafeMarkdown, join, md, table
from perfmodel.text import check_lang

__all__ = [
    "TEXT",
    "group_order",
    "headline",
    "quality_tables",
    "grading_notes_markdown",
    "ranking_table",
    "grade_table",
    "breach_table",
    "negative_table",
    "rank_change_table",
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
    "context_r2",
    "provenance_table",
]

GRADE_COLOURS = {"优秀": "#1b7837", "良好": "#7fbf7b", "合格": "#f4a582", "不合格": "#b2182b", NOT_GRADED: "#bbbbbb"}

TEXT = {
    "zh": {
        "unit_id": "单位编号", "name": "单位名称", "peer_group": "同类组", "score": "综合得分",
        "rank": "组内排名", "rank_overall": "全局排名", "grade": "等级", "flags": "提示",
        "previous_rank": "上期排名", "rank_change": "排名变化", "previous_grade": "上期等级",
        "raw_score": "加权得分", "difficulty": "难度系数", "bonus": "加分", "deduction": "扣分",
        "availability": "数据覆盖", "reason": "原因", "n": "行数", "explanation": "说明",
        "file": "文件", "late_rows": "迟报条数", "max_days_late": "最长迟报天数",
        "indicator": "指标", "coverage": "有数据单位占比", "mean_months": "平均月数",
        "value": "实际值", "threshold": "标准", "consequence": "后果", "item": "负面清单事项",
        "count": "次数", "points": "扣分", "months": "有数据月数", "required": "至少需要月数",
        "dist_title": "各同类组综合得分分布", "dist_x": "同类组", "dist_y": "综合得分",
        "profile_title": "各单位分维度得分(按同类组、排名排序)", "profile_x": "维度", "profile_y": "单位",
        "change_title": "排名变化:上期与本期组内排名", "change_x": "上期组内排名", "change_y": "本期组内排名",
        "grades_title": "各同类组等级分布", "grades_x": "同类组", "grades_y": "单位数",
        "colorbar": "维度得分(0–100)",
        "raw": "未校准", "calibrated": "校准后", "grade_raw": "未校准等级", "grade_calibrated": "校准后等级",
        "score_raw": "未校准得分", "score_calibrated": "校准后得分", "rank_raw": "未校准组内排名",
        "rank_calibrated": "校准后组内排名", "measure": "度量", "item_name": "项目", "detail": "内容",
    },
    "en": {
        "unit_id": "Unit", "name": "Name", "peer_group": "Peer group", "score": "Score",
        "rank": "Rank in group", "rank_overall": "Overall rank", "grade": "Grade", "flags": "Flags",
        "previous_rank": "Previous rank", "rank_change": "Rank change", "previous_grade": "Previous grade",
        "raw_score": "Weighted score", "difficulty": "Difficulty", "bonus": "Bonus", "deduction": "Deduction",
        "availability": "Data coverage", "reason": "Reason", "n": "Rows", "explanation": "Explanation",
        "file": "File", "late_rows": "Late rows", "max_days_late": "Max days late",
        "indicator": "Indicator", "coverage": "Share of units with data", "mean_months": "Mean months",
        "value": "Value", "threshold": "Standard", "consequence": "Consequence", "item": "Negative-list item",
        "count": "Count", "points": "Points deducted", "months": "Months with data",
        "required": "Months required",
        "dist_title": "Score distribution by peer group", "dist_x": "Peer group", "dist_y": "Score",
        "profile_title": "Dimension scores per unit (by peer group and rank)", "profile_x": "Dimension",
        "profile_y": "Unit",
        "change_title": "Rank change: previous vs current rank in group", "change_x": "Previous rank in group",
        "change_y": "Current rank in group",
        "grades_title": "Grades by peer group", "grades_x": "Peer group", "grades_y": "Units",
        "colorbar": "Dimension score (0–100)",
        "raw": "Uncalibrated", "calibrated": "Calibrated", "grade_raw": "Grade (uncalibrated)",
        "grade_calibrated": "Grade (calibrated)", "score_raw": "Score (uncalibrated)",
        "score_calibrated": "Score (calibrated)", "rank_raw": "Rank (uncalibrated)",
        "rank_calibrated": "Rank (calibrated)", "measure": "Measure", "item_name": "Item", "detail": "Detail",
    },
}

DIRECTIONS = LABELS["direction"]
SOURCES = LABELS["source"]
"""Labels of an indicator's direction and source in the report's languages."""

def _t(lang: str) -> dict[str, str]:
    return TEXT["en" if lang == "en" else "zh"]


def _name(node, lang: str) -> str:
    return node.name.en if lang == "en" else node.name.zh


def _dimension_names(fw: Framework, lang: str) -> dict[str, str]:
    return {node.id: _name(node, lang) for node in fw.tree}


def consequence_label(consequence: str, grade_cap: object = None, points: float | None = None,
                      lang: str = "zh") -> str:
    """A threshold's or negative-list item's consequence in words.

    Examples
    --------
    >>> consequence_label("grade_cap", "合格")
    '等级最高为合格'
    >>> consequence_label("deduct", points=2, lang="en")
    'deduct 2 points each'
    """
    check_lang(lang)
    if lang == "en":
        labels = {"grade_cap": f"grade at most {grade_cap}", "deduct": f"deduct {points:g} points each"
                  if points is not None else "deduct points", "warning": "warning",
                  "flag": "flagged", "zero": "indicator scored zero"}
    else:
        labels = {"grade_cap": f"等级最高为{grade_cap}", "deduct": f"每次扣{points:g}分"
                  if points is not None else "扣分", "warning": "一票警示", "flag": "标注",
                  "zero": "该指标记零分"}
    return labels.get(consequence, consequence)


def _threshold_text(ind: Indicator, lang: str) -> str:
    th = ind.threshold
    if th is None:
        return ""
    parts = ([f"≥ {th.min:g}"] if th.min is not None else []) + ([f"≤ {th.max:g}"] if th.max is not None else [])
    return f"{' & '.join(parts)}({consequence_label(th.consequence, th.grade_cap, lang=lang)})"


def headline(ev: Evaluation, lang: str = "zh") -> SafeMarkdown:
    """A short Markdown paragraph: what was evaluated and the key numbers (names escaped)."""
    check_lang(lang)
    fw, scores = ev.framework, ev.scores
    s = ev.summary()
    counts = scores["grade"].value_counts()
    grades = [f"{g} {int(counts.get(g, 0))}" for g in (*GRADES, NOT_GRADED) if counts.get(g, 0)]
    values = {
        "name": _name(fw, lang), "period": s["period"], "scored": s["scored"], "units": s["units"],
        "used": s["observations_used"], "quarantined": s["quarantined_rows"],
        "groups": scores["peer_group"].nunique(),
        "peer_group": fw.peer_group or ("all units" if lang == "en" else "全部单位"),
        "grades": ", ".join(grades) if lang == "en" else "、".join(grades),
    }
    if lang == "en":
        return md(
            "**{name}**, period **{period}**: {scored} of {units} units scored from {used:,} monthly "
            "observations; {quarantined:,} input rows were rejected by validation (see *Data quality*). "
            "Units are ranked and graded within {groups} peer group(s) ({peer_group}). Grades: {grades}.",
            **values,
        )
    return md(
        "**{name}**,考核期 **{period}**:共 {units} 个单位,{scored} 个完成评分,使用月度数据 {used:,} 条;"
        "校验中有 {quarantined:,} 行输入被隔离(见“数据质量”)。单位在 {groups} 个同类组({peer_group})内排名、"
        "评定等级。等级分布:{grades}。",
        **values,
    )


def quality_tables(ev: Evaluation, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """Data-quality tables: quarantine by reason, late submissions by unit, indicator coverage,
    and units not graded for incomplete data (fewer months of data than required, 数据不完整)."""
    check_lang(lang)
    t = _t(lang)
    from perfmodel.validation import REASONS, REASONS_ZH

    q = ev.quarantine
    if len(q):
        by_reason = (
            q.groupby(["file", "reason"]).size().rename("n").reset_index().sort_values("n", ascending=False)
        )
        by_reason["explanation"] = by_reason["reason"].map(REASONS if lang == "en" else REASONS_ZH).fillna("")
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
    rolled = ev.stages["rolled"]
    n_units = len(ev.scores)
    coverage = rolled.groupby("indicator").agg(units=("unit_id", "nunique"), mean_months=("months_present", "mean"))
    inputs = ev.framework.input_indicators()
    coverage = coverage.reindex(list(inputs)).fillna({"units": 0})
    coverage["coverage"] = coverage["units"] / n_units
    coverage = coverage.reset_index().rename(columns={"index": "indicator"})[["indicator", "coverage", "mean_months"]]
    months = ev.stages["unit_months"]
    short = months[~months["complete"]].rename_axis("unit_id").reset_index()
    short["name"] = short["unit_id"].map(ev.scores.set_index("unit_id")["name"])
    incomplete = short[["unit_id", "name", "months", "required"]].sort_values(["months", "unit_id"])
    rename = {k: t[k] for k in ("file", "reason", "n", "explanation", "unit_id", "late_rows", "max_days_late",
                                "indicator", "coverage", "mean_months", "name", "months", "required")}
    return {
        "quarantine": by_reason.rename(columns=rename),
        "late": late.rename(columns=rename),
        "coverage": coverage.rename(columns=rename),
        "incomplete": incomplete.rename(columns=rename).reset_index(drop=True),
    }


def grading_notes_markdown(ev: Evaluation, lang: str = "zh") -> SafeMarkdown:
    """One sentence on units not graded for incomplete data or non-finite scores, and on quota ties.

    Empty when nothing of the kind happened. The counts come from
    ``ev.stages["grading_notes"]`` (codes ``incomplete_data``, ``non_finite_score``,
    ``quota_tie_broken``, ``quota_tie_lowered``).
    """
    check_lang(lang)
    notes = ev.stages.get("grading_notes", pd.DataFrame(columns=["unit_id", "code"]))
    n = {code: int(notes.loc[notes["code"] == code, "unit_id"].nunique())
         for code in ("incomplete_data", "non_finite_score", "quota_tie_broken", "quota_tie_lowered")}
    chain = ", ".join(ev.framework.grading.tie_break)
    if lang == "en":
        parts = []
        if n["incomplete_data"]:
            parts.append(f"{n['incomplete_data']} unit(s) had fewer months of data than required (数据不完整)")
        if n["non_finite_score"]:
            parts.append(f"{n['non_finite_score']} unit(s) had a non-finite score")
        text = (" and ".join(parts) + "; they are neither ranked nor graded and take no quota place. "
                if parts else "")
        if n["quota_tie_broken"]:
            text += (f"{n['quota_tie_broken']} unit(s) tied on score at a grade boundary were separated by the "
                     f"tie-break chain ({chain}). ")
        if n["quota_tie_lowered"]:
            text += (f"{n['quota_tie_lowered']} unit(s) still tied after the chain took the lower grade, so that "
                     "no grade exceeds its quota. ")
        return md("{text}", text=text.strip()) if text else SafeMarkdown("")
    parts = []
    if n["incomplete_data"]:
        parts.append(f"{n['incomplete_data']} 个单位数据月数不足(数据不完整)")
    if n["non_finite_score"]:
        parts.append(f"{n['non_finite_score']} 个单位得分非有限值")
    text = ("、".join(parts) + ",不排名、不评定等级,也不占比例名额。" if parts else "")
    if n["quota_tie_broken"]:
        text += f"{n['quota_tie_broken']} 个单位在等级边界同分,按并列规则({chain})区分。"
    if n["quota_tie_lowered"]:
        text += f"{n['quota_tie_lowered']} 个单位在并列规则后仍同分,为不超出比例取较低等级。"
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
    t = _t(lang)
    scores = with_flag_text(_scores_shown(ev, show_names), ev.stages["flags"], ev.framework, lang)
    if group is not None:
        scores = scores[scores["peer_group"] == group]
    dims = _dimension_names(ev.framework, lang)
    columns = ["rank", "unit_id", "name", "score", "grade", *dims, "rank_change", "flags"]
    columns = [c for c in columns if c in scores.columns]
    table = scores[columns].rename(columns={**{k: t[k] for k in t if k in columns}, **dims})
    return table.reset_index(drop=True)


def grade_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Units per peer group and grade, groups in natural order."""
    check_lang(lang)
    table = ev.grade_counts()
    table = table.reindex(group_order(table.index))
    table.index.name = _t(lang)["peer_group"]
    return table


def breach_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Hard-threshold breaches (R9): unit, indicator, value, standard, consequence."""
    check_lang(lang)
    t = _t(lang)
    b = ev.stages["breaches"].copy()
    if b.empty:
        return pd.DataFrame(columns=[t["unit_id"], t["indicator"], t["value"], t["threshold"], t["consequence"]])
    meta = ev.framework.indicator_meta()
    b["indicator"] = b["indicator"].map(lambda i: _name(meta[i], lang))
    b["threshold"] = [f"≥ {lo:g}" if pd.notna(lo) else f"≤ {hi:g}" for lo, hi in zip(b["min"], b["max"], strict=True)]
    b["consequence"] = [consequence_label(c, cap, lang=lang) for c, cap in zip(b["consequence"], b["grade_cap"],
                                                                               strict=True)]
    b["value"] = b["value"].map(lambda v: f"{v:.3f}")
    return b[["unit_id", "indicator", "value", "threshold", "consequence"]].rename(columns=t)


def negative_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Negative-list hits (R13): unit, item, count, consequence."""
    check_lang(lang)
    t = _t(lang)
    hits = ev.stages["negative_hits"].copy()
    meta = {item.id: item for item in ev.framework.negative_list}
    hits["name"] = [_name(meta[i], lang) if i in meta else n for i, n in zip(hits["item"], hits["name"], strict=True)]
    hits["consequence"] = [
        consequence_label(meta[i].consequence, meta[i].grade_cap, meta[i].points, lang) if i in meta else c
        for i, c in zip(hits["item"], hits["consequence"], strict=True)
    ]
    table = hits[["unit_id", "name", "count", "consequence", "points"]].rename(
        columns={"unit_id": t["unit_id"], "name": t["item"], "count": t["count"],
                 "consequence": t["consequence"], "points": t["points"]})
    return table


def rank_change_table(ev: Evaluation, lang: str = "zh", top: int = 10, *, show_names: bool = False) -> pd.DataFrame:
    """The largest rises and falls in group rank against the previous period.

    Officers are listed by id unless ``show_names`` (see :mod:`perfmodel.privacy`).
    """
    check_lang(lang)
    t = _t(lang)
    s = _scores_shown(ev, show_names).dropna(subset=["rank_change"])
    if s.empty:
        return pd.DataFrame(columns=[t["unit_id"], t["name"], t["peer_group"], t["previous_rank"], t["rank"],
                                     t["rank_change"]])
    movers = pd.concat([s.nlargest(top, "rank_change"), s.nsmallest(top, "rank_change")]).drop_duplicates("unit_id")
    movers = movers.sort_values("rank_change", ascending=False)
    columns = ["unit_id", "name", "peer_group", "previous_rank", "rank", "rank_change", "previous_grade", "grade"]
    columns = [c for c in columns if c in movers.columns]
    return movers[columns].rename(columns=t).reset_index(drop=True)


def weight_tree_table(fw: Framework, lang: str = "zh") -> pd.DataFrame:
    """The weight tree for the methodology section."""
    check_lang(lang)
    table = fw.weight_table()
    name = table["name_en"] if lang == "en" else table["name_zh"]
    indent = table["level"].map(lambda d: "\u3000" * (d - 1))
    meta = fw.indicator_meta()
    key = "en" if lang == "en" else "zh"
    out = pd.DataFrame(
        {
            ("Node" if lang == "en" else "节点"): indent + name,
            ("Weight" if lang == "en" else "权重"): table["weight"],
            ("Share of total" if lang == "en" else "占总分"): table["effective_weight"],
            ("Direction" if lang == "en" else "方向"): table["direction"].map(DIRECTIONS[key]).fillna(""),
            ("Source" if lang == "en" else "来源"): table["source"].map(SOURCES[key]).fillna(""),
            ("Hard threshold" if lang == "en" else "硬性标准"): table["id"].map(
                lambda i: _threshold_text(meta[i], lang) if i in meta else ""),
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
    en = lang == "en"
    lo, hi = fw.normalisation.range
    grading = fw.grading
    if grading.method == "quota":
        quotas = [md("{g} 前{q:.0%}" if not en else "{g} {q:.0%}", g=g, q=q) for g, q in grading.quotas.items()]
        rule = md("by quota: {q}, the rest 不合格" if en else "按比例评定:{q},其余为不合格",
                  q=join(", " if en else "、", quotas))
    else:
        cutoffs = [md("{g} ≥ {c:g}", g=g, c=c) for g, c in grading.cutoffs.items()]
        rule = md("by cut-offs: {c}" if en else "按分数线评定:{c}", c=join(", " if en else "、", cutoffs))
    diff = fw.difficulty
    bonus = join("; ", [md("{name} +{points:g}/次", name=b.name.zh, points=b.points_per_unit)
                        if not b.cap else
                        md("{name} +{points:g}/次(上限{cap:g})", name=b.name.zh, points=b.points_per_unit, cap=b.cap)
                        for b in fw.bonus])
    negative = join("; ", [md("{name}: {consequence}", name=n.name.zh,
                              consequence=consequence_label(n.consequence, n.grade_cap, n.points, "zh"))
                           for n in fw.negative_list])
    coefficients = join("、" if not en else ", ",
                        [md("{k} ×{v:g}", k=k, v=v) for k, v in diff.coefficients.items()] if diff else [])
    values = {
        "period": ev.summary()["period"],
        "norm": next((s["method"] for s in settings if s["step"] == "normalised"), fw.normalisation.method),
        "agg": next((s["method"] for s in settings if s["step"] == "aggregated"), fw.aggregation.method),
        "lo": lo, "hi": hi, "min_availability": fw.missing.min_availability, "rule": rule,
        "by": diff.by if diff else "", "coefficients": coefficients,
        "bonus": bonus or ("none" if en else "无"), "negative": negative or ("none" if en else "无"),
        "within": grading.within or ("all units" if en else "全部单位"),
        "peer_group": fw.peer_group or ("all" if en else "全部"),
    }
    if en:
        lines = [
            "- **Roll-up**: monthly data → {period}; rates = Σ numerators / Σ denominators, "
            "counts summed, durations and ratings averaged.",
            "- **Normalisation**: <code>{norm}</code> to {lo:g}–{hi:g}; every indicator is first turned into "
            "'higher is better' (lower-is-better indicators are reversed).",
            "- **Aggregation**: weighted <code>{agg}</code> mean, level by level; missing indicators' weight is "
            "spread over the others; units with less than {min_availability:.0%} of the weight observed "
            "are not scored.",
            ("- **Difficulty coefficients**: {coefficients} by <code>{by}</code>, multiplying the weighted score."
             if diff else "- **Difficulty coefficients**: none."),
            "- **Bonus items**: {bonus}. **Negative list**: {negative}.",
            "- **Grades** within <code>{within}</code>: {rule}. Threshold breaches and "
            "negative-list items can cap a grade.",
            "- **Ranks**: within peer group <code>{peer_group}</code>, 1 = best, ties share the best rank.",
        ]
    else:
        lines = [
            "- **期间汇总**:月度数据汇总为 {period};比率类指标按分子之和÷分母之和计算"
            "(不是月度比率的平均),数量类求和,时长和评分取平均。",
            "- **标准化**:方法 <code>{norm}</code>,区间 {lo:g}–{hi:g};先统一为“越大越好”(越小越好的指标取反)。",
            "- **加权汇总**:逐层加权" + ("算术" if values["agg"] == "arithmetic" else "几何")
            + "平均;缺失指标的权重分摊给同层其他指标;"
            "数据覆盖不足 {min_availability:.0%} 权重的单位不评分(标注“数据不足”)。",
            ("- **难度系数**:按 <code>{by}</code> 乘以系数 {coefficients}。" if diff else "- **难度系数**:无。"),
            "- **加分项**:{bonus}。**负面清单**:{negative}。",
            "- **等级**:在 <code>{within}</code> 内{rule};未达硬性指标或触发负面清单可封顶等级。",
            "- **排名**:在同类组 <code>{peer_group}</code> 内排名,1 为最好,并列取最好名次。",
        ]
    return md("\n".join(lines), **values)


# ---------------------------------------------------------------- figures
def _ordered_groups(ev: Evaluation) -> list[str]:
    return group_order(ev.scores["peer_group"].unique())


def figure_score_distribution(ev: Evaluation, lang: str = "zh") -> plt.Figure:
    """Box plots of scores per peer group with every unit as a dot coloured by grade."""
    check_lang(lang)
    t = _t(lang)
    scores = ev.scores.dropna(subset=["score"])
    groups = _ordered_groups(ev)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    data = [scores.loc[scores["peer_group"] == g, "score"].to_numpy() for g in groups]
    ax.boxplot(data, tick_labels=groups, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, g in enumerate(groups, start=1):
        sub = scores[scores["peer_group"] == g]
        x = i + rng.uniform(-0.15, 0.15, len(sub))
        ax.scatter(x, sub["score"], c=sub["grade"].map(GRADE_COLOURS), s=18, alpha=0.85, zorder=3)
    handles = [plt.Line2D([], [], marker="o", ls="", color=GRADE_COLOURS[g], label=g) for g in GRADES]
    ax.legend(handles=handles, title=t["grade"], loc="best", fontsize=8)
    ax.set_title(t["dist_title"])
    ax.set_xlabel(t["dist_x"])
    ax.set_ylabel(t["dist_y"])
    return fig


def figure_dimension_profiles(ev: Evaluation, lang: str = "zh", max_units: int = 60) -> plt.Figure:
    """Heat map of dimension scores per unit, units sorted by peer group and rank.

    With more than ``max_units`` units, the best and worst ``max_units // 2`` by
    overall rank are shown (the full table is in the report's tables).
    """
    check_lang(lang)
    t = _t(lang)
    dims = _dimension_names(ev.framework, lang)
    s = ev.scores.dropna(subset=["score"]).copy()
    if len(s) > max_units:
        s = pd.concat([s.nsmallest(max_units // 2, "rank_overall"), s.nlargest(max_units // 2, "rank_overall")])
    order = {g: i for i, g in enumerate(_ordered_groups(ev))}
    s = s.assign(_g=s["peer_group"].map(order)).sort_values(["_g", "rank"])
    matrix = s[list(dims)].to_numpy(dtype=float)
    height = max(3.0, 0.22 * len(s) + 1.5)
    fig, ax = plt.subplots(figsize=(7.5, height))
    image = ax.imshow(matrix, aspect="auto", cmap="RdYlGn", vmin=0, vmax=100)
    ax.set_xticks(range(len(dims)), list(dims.values()))
    labels = [f"{n}({g})" for n, g in zip(s["name"], s["peer_group"], strict=True)]
    ax.set_yticks(range(len(s)), labels, fontsize=7)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04)
    colorbar.set_label(t["colorbar"])
    ax.set_title(t["profile_title"])
    ax.set_xlabel(t["profile_x"])
    ax.set_ylabel(t["profile_y"])
    return fig


def figure_rank_changes(ev: Evaluation, lang: str = "zh") -> plt.Figure:
    """Previous vs current group rank; points above the diagonal improved."""
    check_lang(lang)
    t = _t(lang)
    s = ev.scores.dropna(subset=["rank", "previous_rank"])
    fig, ax = plt.subplots(figsize=(6, 6))
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
        ax.legend(title=t["peer_group"], fontsize=8)
    ax.set_title(t["change_title"])
    ax.set_xlabel(t["change_x"])
    ax.set_ylabel(t["change_y"])
    return fig


def figure_grade_counts(ev: Evaluation, lang: str = "zh") -> plt.Figure:
    """Stacked bars: units per grade in each peer group."""
    check_lang(lang)
    t = _t(lang)
    table = grade_table(ev, lang)
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = np.zeros(len(table))
    for grade in table.columns:
        ax.bar(table.index, table[grade], bottom=bottom, color=GRADE_COLOURS.get(grade, "#999"), label=grade)
        bottom += table[grade].to_numpy()
    ax.legend(title=t["grade"], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(t["grades_title"])
    ax.set_xlabel(t["grades_x"])
    ax.set_ylabel(t["grades_y"])
    return fig


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
        with_flag_text(ev.scores, ev.stages["flags"], ev.framework, lang), ev.framework, out_dir / "scores.xlsx",
        lang=lang, tables=tables,
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
    t = _t(lang)
    keep = ["unit_id", "name", "peer_group", "score", "rank", "grade"]
    both = raw.scores[keep].merge(
        calibrated.scores[["unit_id", "score", "rank", "grade"]], on="unit_id", suffixes=("_raw", "_calibrated")
    )
    both["_changed"] = both["grade_raw"] != both["grade_calibrated"]
    both["_shift"] = (both["score_calibrated"] - both["score_raw"]).abs()
    both = both.sort_values(["_changed", "_shift"], ascending=False).drop(columns=["_changed", "_shift"])
    columns = ["unit_id", "name", "peer_group", "score_raw", "score_calibrated", "rank_raw", "rank_calibrated",
               "grade_raw", "grade_calibrated"]
    return both[columns].rename(columns=t).reset_index(drop=True)


def context_r2(ev: Evaluation, context: Iterable[str] = CONTEXT_COLUMNS) -> float:
    """R² of the composite score on the context columns present in the units table."""
    from perfmodel.audit import context_neutrality

    present = [c for c in context if c in ev.units.columns and ev.units[c].nunique() > 1]
    if not present:
        return float("nan")
    table = context_neutrality(ev, context=present)
    return float(table.loc[table["measure"] == "r2", "estimate"].iloc[0])


def calibration_markdown(raw: Evaluation, calibrated: Evaluation, lang: str = "zh") -> SafeMarkdown:
    """What calibration changed: grades, rank agreement and dependence on context, in words."""
    check_lang(lang)
    from scipy.stats import spearmanr

    both = raw.scores[["unit_id", "score", "grade"]].merge(
        calibrated.scores[["unit_id", "score", "grade"]], on="unit_id", suffixes=("_raw", "_cal")
    ).dropna(subset=["score_raw", "score_cal"])
    changed = int((both["grade_raw"] != both["grade_cal"]).sum())
    rho = float(spearmanr(both["score_raw"], both["score_cal"]).statistic) if len(both) > 2 else float("nan")
    r2_raw, r2_cal = context_r2(raw), context_r2(calibrated)
    values = {"mode": calibrated.settings.calibration, "changed": changed, "n": len(both), "rho": rho,
              "r2_raw": r2_raw, "r2_cal": r2_cal}
    if lang == "en":
        return md(
            "Calibration <code>{mode}</code> compares each unit with what its context (workload, population, area type…) "
            "predicts, instead of with one ruler for all (R4, R5). **{changed}** of {n} units change "
            "grade; the Spearman correlation of uncalibrated and calibrated scores is **{rho:.2f}**. "
            "Context explains **{r2_raw:.0%}** of the variance of uncalibrated scores and **{r2_cal:.0%}** "
            "after calibration: the lower, the less a score depends on circumstances the unit does not control. "
            "Part of what context explains can be real performance (better-resourced stations may also be "
            "better run), so calibration is a second view, not a verdict.",
            **values,
        )
    return md(
        "校准方式 <code>{mode}</code>:把每个单位与其情境(工作负荷、人口、城乡类型等)所预测的水平相比,而不是“一把尺子量到底”"
        "(R4、R5)。{n} 个单位中有 **{changed}** 个等级发生变化;校准前后得分的 Spearman 相关为 **{rho:.2f}**。"
        "情境因素可解释未校准得分方差的 **{r2_raw:.0%}**,校准后为 **{r2_cal:.0%}**:越低,得分越少取决于单位无法控制的条件。"
        "情境所解释的部分也可能包含真实的绩效差异(资源充足的所也可能管理得更好),因此校准结果是第二视角,而非定论。",
        **values,
    )


def provenance_table(
    inputs: dict[str, str | Path], parameters: dict[str, object], lang: str = "zh"
) -> pd.DataFrame:
    """Where the numbers come from: input hashes, parameters, package versions, git commit.

    The same facts are written to ``provenance.json`` beside the report by
    :func:`perfmodel.report.runner.run_notebook`.
    """
    check_lang(lang)
    from perfmodel.report.provenance import build_provenance

    record = build_provenance(inputs, parameters)
    rows = [(f"{name}: {Path(str(info['path'])).name}", f"SHA-256 {info['sha256']} ({info['size_bytes']:,} B)")
            for name, info in record["inputs"].items()]
    rows += [(str(k), str(v)) for k, v in record["parameters"].items() if v is not None]
    git = record["git"] or {}
    rows.append(("git", f"{git.get('commit', '–')}" + (" (+ uncommitted changes)" if git.get("dirty") else "")))
    rows.append(("Python", record["python"]["version"]))
    rows += [(name, version) for name, version in record["packages"].items() if version]
    t = _t(lang)
    return pd.DataFrame(rows, columns=[t["item_name"], t["detail"]])
