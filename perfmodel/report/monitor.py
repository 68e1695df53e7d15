"""Report text of the monitoring notebooks: the bulletin's and the year's headlines, the warning method.

The analyses of :mod:`perfmodel.monitor` return data only; the Markdown that
turns their numbers into paragraphs lives here, in the report layer, and is
built with :mod:`perfmodel.report.render` (every value escaped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfmodel.framework import GRADES
from perfmodel.glossary import grade_label
from perfmodel.grading import NOT_GRADED
from perfmodel.monitor.series import AnnualSummary, PeriodSeries
from perfmodel.monitor.warnings import DEFAULT_RULES, WarningRules, decline_threshold
from perfmodel.periods import period_label
from perfmodel.report.render import SafeMarkdown, join, md, say_md
from perfmodel.text import check_lang, say

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
        "name": fw.name.in_lang(lang),
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
    keys = ["base", *(["on_time"] if np.isfinite(on_time) else []), *(["warnings"] if warnings is not None else [])]
    return join("", [say_md(f"report.monitor.bulletin.{key}", lang, **values) for key in keys])


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
    sep = say("report.monitor.annual.sep", lang)
    values = {
        "name": fw.name.in_lang(lang),
        "year": summary.year,
        "scored": int(year["score"].notna().sum()),
        "units": len(year),
        "quarters": join(sep, quarters),
        "grades": join(sep, [md("{g} {n}", g=grade_label(g, lang), n=int(counts[g])) for g in grades]),
        "on_time": on_time,
    }
    keys = ["base", *(["on_time"] if np.isfinite(on_time) else [])]
    return join("", [say_md(f"report.monitor.annual.{key}", lang, **values) for key in keys])


def warnings_methodology_markdown(
    rules: WarningRules = DEFAULT_RULES, method: str = "rules", lang: str = "zh"
) -> SafeMarkdown:
    """How the warnings are computed, with the stated false-alarm levels, as Markdown.

    The text holds only numbers of *rules* and the name of a known *method*, no
    name from the data, so it is trusted as it is.
    """
    check_lang(lang)
    c = decline_threshold(rules.alpha, rules.decline_months)
    lines = [
        say_md("report.monitor.method.risk", lang),
        say_md("report.monitor.method.noise", lang, prior_df=rules.prior_df),
        say_md("report.monitor.method.shrinkage", lang),
        say_md("report.monitor.method.decline", lang, months=rules.decline_months, c=c, alpha=rules.alpha),
        say_md("report.monitor.method.leading", lang, months=rules.lead_months),
        say_md("report.monitor.method.last_place", lang, years=rules.last_years),
    ]
    if method in ("cusum", "ewma"):
        lines.append(
            say_md(
                "report.monitor.method.control_chart",
                lang,
                method=method.upper(),
                baseline=rules.baseline_months,
                arl0=rules.arl0,
                rate=1 / rules.arl0,
            )
        )
    return join("\n", lines)
