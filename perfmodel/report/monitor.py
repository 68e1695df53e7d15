"""Report text of the monitoring notebooks: the bulletin's and the year's headlines, the warning method.

The analyses of :mod:`perfmodel.monitor` return data only; the Markdown that
turns their numbers into paragraphs lives here, in the report layer, and is
built with :mod:`perfmodel.report.render` (every value escaped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfmodel.framework import GRADES
from perfmodel.grading import NOT_GRADED
from perfmodel.monitor.series import AnnualSummary, PeriodSeries
from perfmodel.monitor.warnings import DEFAULT_RULES, WarningRules, decline_threshold
from perfmodel.periods import period_label
from perfmodel.report.render import SafeMarkdown, join, md
from perfmodel.text import check_lang

__all__ = ["annual_headline", "bulletin_headline", "warnings_methodology_markdown"]


def bulletin_headline(
    series: PeriodSeries,
    month: str,
    compliance: pd.DataFrame | None = None,
    warnings: pd.DataFrame | None = None,
    lang: str = "zh",
) -> SafeMarkdown:
    """A short Markdown paragraph with the month's key numbers (names escaped)."""
    check_lang(lang)
    month = period_label(month)
    s = series.scores[series.scores["period"] == month]
    scored = s.dropna(subset=["score"])
    change = scored["score_change"].dropna()
    up, down = int((change > 0).sum()), int((change < 0).sum())
    on_time = np.nan
    if compliance is not None:
        c = compliance[compliance["period"] == month]
        due = c["status"].isin(["on_time", "late", "missing"])
        on_time = float((c["status"] == "on_time").sum() / due.sum()) if due.any() else np.nan
    n_warn = (
        0
        if warnings is None
        else int(((warnings["period"] == month) & warnings["rule"].isin(["decline", "control_chart"])).sum())
    )
    n_lead = 0 if warnings is None else int(((warnings["period"] == month) & (warnings["rule"] == "leader")).sum())
    fw = series.framework
    values = {
        "name": fw.name.en if lang == "en" else fw.name.zh,
        "month": month,
        "scored": len(scored),
        "units": len(s),
        "median": scored["score"].median(),
        "up": up,
        "down": down,
        "change": change.median(),
        "on_time": on_time,
        "n_warn": n_warn,
        "n_lead": n_lead,
    }
    if lang == "en":
        text = (
            "**{name}**, month **{month}**: {scored} of {units} units scored; median score {median:.1f}. "
            "Against the previous month {up} units improved and {down} fell (median change {change:+.1f} points)."
        )
        if np.isfinite(on_time):
            text += " Data submitted on time (by the 27th of the next month): {on_time:.0%} of units."
        if warnings is not None:
            text += " New early warnings this month: {n_warn}; units leading their group for three months: {n_lead}."
        return md(text, **values)
    text = (
        "**{name}**,月份 **{month}**:{units} 个单位中 {scored} 个完成评分,综合得分中位数 {median:.1f}。"
        "与上月相比,{up} 个单位上升、{down} 个单位下降(变化中位数 {change:+.1f} 分)。"
    )
    if np.isfinite(on_time):
        text += "按时报送(次月27日前)的单位占 {on_time:.0%}。"
    if warnings is not None:
        text += "本月新增早期预警 {n_warn} 个;连续三个月组内领先的单位 {n_lead} 个。"
    return md(text, **values)


def annual_headline(summary: AnnualSummary, compliance: pd.DataFrame | None = None, lang: str = "zh") -> SafeMarkdown:
    """A short Markdown paragraph with the year's key numbers (names escaped)."""
    check_lang(lang)
    year = summary.annual.scores
    counts = year["grade"].value_counts()
    grades = [g for g in (*GRADES, NOT_GRADED) if counts.get(g, 0)]
    quarters = summary.quarters.periods
    on_time = np.nan
    if compliance is not None:
        due = compliance["status"].isin(["on_time", "late", "missing"])
        on_time = float((compliance["status"] == "on_time").sum() / due.sum()) if due.any() else np.nan
    fw = summary.quarters.framework
    en = lang == "en"
    values = {
        "name": fw.name.en if en else fw.name.zh,
        "year": summary.year,
        "scored": int(year["score"].notna().sum()),
        "units": len(year),
        "quarters": join(", " if en else "、", quarters),
        "grades": join(", " if en else "、", [md("{g} {n}", g=g, n=int(counts[g])) for g in grades]),
        "on_time": on_time,
    }
    if en:
        text = (
            "**{name}**, year **{year}**: {scored} of {units} units scored over the year; quarters evaluated: "
            "{quarters}. Annual grades: {grades}."
        )
        if np.isfinite(on_time):
            text += " Monthly data on time: {on_time:.0%} of unit-months."
        return md(text, **values)
    text = (
        "**{name}**,年度 **{year}**:{units} 个单位中 {scored} 个完成年度评分;已考评季度:{quarters}。年度等级:{grades}。"
    )
    if np.isfinite(on_time):
        text += "全年按时报送的单位-月占 {on_time:.0%}。"
    return md(text, **values)


def warnings_methodology_markdown(
    rules: WarningRules = DEFAULT_RULES, method: str = "rules", lang: str = "zh"
) -> SafeMarkdown:
    """How the warnings are computed, with the stated false-alarm levels, as Markdown.

    The text holds only numbers of *rules* and the name of a known *method*, no
    name from the data, so it is trusted as it is.
    """
    check_lang(lang)
    c = decline_threshold(rules.alpha, rules.decline_months)
    if lang == "en":
        lines = [
            "- **Risk adjustment**: each month a unit's score is compared with the mean of its peer group "
            "that month (the *expected* score), which removes the season and anything that moved the whole group.",
            "- **Noise per unit**: the month-to-month noise of the relative score, from the unit's own months "
            f"pooled with its group's (a moderated variance, prior weight {rules.prior_df:g} months).",
            "- **Shrinkage**: empirical-Bayes scores pull noisy (small) units towards their group's mean in "
            "proportion to their noise, so a lucky month does not make a leader.",
            f"- **Decline (R14)**: {rules.decline_months} consecutive monthly declines *and* a total drop of at "
            f"least {c:.2f} × √2 noise sd. For a stable unit with normal noise the chance of this in a given month "
            f"is exactly {rules.alpha:.0%} (the stated false-alarm rate). Suggestion: mentoring (师徒结对).",
            f"- **Leading (R14)**: ranked first in the peer group on the shrunk score for {rules.lead_months} "
            "consecutive months. Suggestion: priority training or rotation.",
            f"- **Last place (R12)**: last in the peer group for {rules.last_years} consecutive years (annual "
            "scores, shrunk by their standard errors). Consequence: leadership review.",
        ]
        if method in ("cusum", "ewma"):
            lines.append(
                f"- **Control chart ({method.upper()})**: one-sided, on the standardised observed-minus-expected "
                f"score against the unit's level in its first {rules.baseline_months} months; limits set for an "
                f"in-control average run length of {rules.arl0:g} months (a stated false-alarm rate of "
                f"{1 / rules.arl0:.1%} per unit-month), computed by the Brook–Evans Markov chain."
            )
        return md("\n".join(lines))
    lines = [
        "- **风险调整**:每月把单位得分与同类组当月均值(期望得分)比较,去除季节因素和全组共同波动。",
        "- **单位噪声**:用单位自身相邻月份差值估计其月度波动,"
        f"并与同类组的波动加权合并(先验权重 {rules.prior_df:g} 个月),"
        "避免月份少时估计不稳。",
        "- **收缩估计**:经验贝叶斯方法按噪声大小把小单位的得分向同类组均值收缩,偶然的好月份不会造就“领先”。",
        f"- **连续下滑(R14)**:连续 {rules.decline_months} 个月下降,且累计降幅至少为噪声标准差的 {c:.2f}×√2 倍。"
        f"对噪声服从正态分布的稳定单位,任一月份触发的概率恰为 {rules.alpha:.0%}(声明的误报率)。建议:师徒结对帮带。",
        f"- **连续领先(R14)**:按收缩后得分连续 {rules.lead_months} 个月位列同类组第一。建议:优先培训或轮岗交流。",
        f"- **连续末位(R12)**:连续 {rules.last_years} 年年度得分(按标准误收缩后)位列同类组最后。"
        "后果:领导班子约谈或岗位调整。",
    ]
    if method in ("cusum", "ewma"):
        lines.append(
            f"- **控制图({method.upper()})**:单侧图,统计量为标准化的“实际−期望”得分相对于单位前 "
            f"{rules.baseline_months} 个月水平的偏离;控制限按受控平均链长 {rules.arl0:g} 个月设定"
            f"(声明误报率每单位每月 {1 / rules.arl0:.1%}),由 Brook–Evans 马尔可夫链计算。"
        )
    return md("\n".join(lines))
