"""Calibration section of the reports: tables and figures, in Chinese or English.

Every function takes an :class:`~perfmodel.evaluation.Evaluation` (or frames it
produced) and returns a table or a matplotlib figure; notebooks only display
them (``save_figure(fig, path)`` for the files). The case-mix, rater and
reliability items need an evaluation run with ``calibration="casemix"`` or
``"full"``; the difficulty table and the funnel plots of raw proportions work on
any evaluation.

* :func:`funnel_results` / :func:`figure_funnel` — funnel plot per rate
  indicator (case-mix adjusted O/E when available, raw proportions otherwise),
  with additive over-dispersion as in the NHS SHMI.
* :func:`difficulty_tables` / :func:`figure_difficulty` — declared vs
  model-based difficulty coefficients (R4).
* :func:`figure_expected_observed` — observed against expected per unit.
* :func:`figure_rater_leniency` — rater effects with confidence intervals (R8).
* :func:`reliability_table`, :func:`casemix_model_table`, :func:`calibration_log_table`.
* :func:`truth_table`, :func:`figure_truth_comparison`,
  :func:`figure_context_dependence`, :func:`effects_table` — for teaching on
  synthetic data with known truth.
* :func:`expected_observed_indicators`, :func:`rater_indicators`,
  :func:`self_enhancement_summary` — what a calibrated evaluation has to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.calibrate.difficulty import (
    CONTEXT_UNITS_PER_TERM,
    MIN_CONTEXT_UNITS,
    TooFewUnitsError,
    class_coefficients,
    difficulty_table,
)
from perfmodel.calibrate.funnel import FunnelResult, funnel_analysis
from perfmodel.calibrate.peers import context_frame
from perfmodel.calibrate.step import calibration_reason
from perfmodel.errors import OptionError
from perfmodel.evaluation import Evaluation
from perfmodel.report.render import SafeMarkdown, join, md, say_md
from perfmodel.simulate import EFFECTS, Effects
from perfmodel.text import check_lang, has_message, say, templates

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CALIBRATION_SECTIONS",
    "MIN_FUNNEL_UNITS",
    "calibration_log_table",
    "calibration_section",
    "casemix_model_table",
    "difficulty_tables",
    "effects_table",
    "expected_observed_indicators",
    "figure_context_dependence",
    "figure_difficulty",
    "figure_expected_observed",
    "figure_funnel",
    "figure_rater_leniency",
    "figure_truth_comparison",
    "funnel_results",
    "funnel_too_few",
    "no_casemix_note",
    "rater_indicators",
    "reliability_table",
    "self_enhancement_summary",
    "truth_table",
]


MIN_FUNNEL_UNITS = 10
"""A funnel plot needs this many units with a denominator: fewer cannot estimate the
spread between units (DerSimonian–Laird) nor show where the limits narrow."""

NEEDS_CALIBRATION = (
    "the evaluation has no {stage!r} stage; run it with calibration='casemix' or 'full' "
    "(perfmodel score … --calibration full) to get the calibration tables."
)


def _t(lang: str) -> dict[str, str]:
    """The words of this report in ``lang`` (``report.calibration.*`` in the catalogue), by code."""
    return templates("report.calibration", lang)


def _indicator_name(ev: Evaluation, indicator: str, lang: str) -> str:
    meta = ev.framework.indicator_meta().get(indicator)
    if meta is None:
        return indicator
    return meta.name.in_lang(lang)


def _stage(ev: Evaluation, stage: str) -> pd.DataFrame:
    if stage not in ev.stages:
        raise OptionError(NEEDS_CALIBRATION.format(stage=stage))
    return ev.stages[stage]


def _rename(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    t = _t(lang)
    return frame.rename(columns={c: t.get(c, c) for c in frame.columns})


# --------------------------------------------------------------------------- funnel plots
def funnel_results(
    ev: Evaluation,
    confidence: Sequence[float] = (0.95, 0.998),
    overdispersion: str = "additive",
    min_units: int = MIN_FUNNEL_UNITS,
) -> dict[str, FunnelResult]:
    """Funnel analysis of every rate indicator with numerators and denominators in at least *min_units* units.

    Indicators with fewer units are left out (:func:`funnel_too_few` says which,
    in words): with so few points neither the limits nor the over-dispersion
    between units can be estimated.

    With a ``casemix`` stage the funnel compares observed with case-mix expected
    successes (``kind="ratio"``: O = rate x n, E = expected rate x n);
    otherwise raw proportions against the pooled rate (``kind="proportion"``,
    normal limits on the arcsine scale).
    Over-dispersion between units is allowed for by default (additive random
    effects, DerSimonian–Laird, 10 % winsorised), so only units that differ
    more than ordinary units differ from each other are flagged.

    Returns
    -------
    dict
        Indicator id → :class:`~perfmodel.calibrate.funnel.FunnelResult`.
    """
    out: dict[str, FunnelResult] = {}
    rates = [i.id for i in ev.framework.indicators() if i.kind == "rate"]
    casemix = ev.stages.get("casemix")
    for ind in rates:
        if casemix is not None and len(casemix):
            sub = casemix[(casemix["indicator"] == ind) & (casemix["family"] == "binomial")]
            sub = sub[np.isfinite(sub["denominator"]) & (sub["denominator"] > 0)]
            if len(sub) >= min_units:
                data = pd.DataFrame(
                    {
                        "unit_id": sub["unit_id"].to_numpy(),
                        "O": np.round(sub["observed"] * sub["denominator"]).to_numpy(),
                        "E": (sub["expected"] * sub["denominator"]).to_numpy(),
                    }
                )
                out[ind] = funnel_analysis(
                    data, observed="O", expected="E", kind="ratio", confidence=confidence, overdispersion=overdispersion
                )
                continue
        rolled = ev.stages.get("rolled")
        if rolled is None:
            continue
        sub = rolled[(rolled["indicator"] == ind) & rolled["denominator"].notna()]
        sub = sub[sub["denominator"] > 0]
        if len(sub) >= min_units:
            data = pd.DataFrame(
                {
                    "unit_id": sub["unit_id"].to_numpy(),
                    "x": np.round(sub["numerator"].to_numpy(dtype=float)),
                    "n": sub["denominator"].to_numpy(dtype=float),
                }
            )
            # normal (arcsine) limits: exact binomial limits cannot be drawn on a continuous
            # grid of denominators
            out[ind] = funnel_analysis(
                data,
                observed="x",
                denominator="n",
                kind="proportion",
                confidence=confidence,
                overdispersion=overdispersion,
                method="normal",
            )
    return out


def _units_with_denominator(ev: Evaluation, indicator: str) -> int:
    rolled = ev.stages.get("rolled")
    if rolled is None or "denominator" not in rolled.columns:
        return 0
    sub = rolled[rolled["indicator"] == indicator]
    return int((pd.to_numeric(sub["denominator"], errors="coerce") > 0).sum())


def funnel_too_few(
    ev: Evaluation, results: Mapping[str, FunnelResult], lang: str = "zh", min_units: int = MIN_FUNNEL_UNITS
) -> SafeMarkdown | None:
    """Why some rate indicators have no funnel plot: each with its units, against the minimum.

    ``None`` when every rate indicator of the framework is in *results* (from :func:`funnel_results`).
    """
    check_lang(lang)
    missing = [i.id for i in ev.framework.indicators() if i.kind == "rate" and i.id not in results]
    if not missing:
        return None
    items = [
        say_md(
            "notebook.calibration.funnel_item",
            lang,
            indicator=_indicator_name(ev, i, lang),
            n=_units_with_denominator(ev, i),
        )
        for i in missing
    ]
    return say_md(
        "notebook.calibration.funnel_too_few",
        lang,
        min_units=min_units,
        items=join("、" if lang == "zh" else ", ", items),
    )


def figure_funnel(
    ev: Evaluation, indicator: str, result: FunnelResult, *, ax: Axes | None = None, lang: str = "zh"
) -> Axes:
    """The funnel plot of one indicator (from :func:`funnel_results`).

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    ax = report_axes(ax, figsize=(7.5, 4.5))
    ratio = result.kind == "ratio"
    result.plot(
        ax,
        title=t["funnel_title"].format(name=_indicator_name(ev, indicator, lang)),
        xlabel=t["funnel_x_ratio"] if ratio else t["funnel_x_prop"],
        ylabel=t["funnel_y_ratio"] if ratio else t["funnel_y_prop"],
        confidence_labels={lv: t["limits"].format(level=f"{lv:.1%}".replace(".0%", "%")) for lv in result.confidence},
        target_label=t["target"],
    )
    return ax


# --------------------------------------------------------------------------- difficulty
def _difficulty_table(ev: Evaluation, covariates: Sequence[str] | None) -> pd.DataFrame:
    """:func:`~perfmodel.calibrate.difficulty.difficulty_table` of an evaluation's weighted score before difficulty."""
    return difficulty_table(ev.framework, ev.scored_units, ev.scores.set_index("unit_id")["raw_score"], covariates)


def difficulty_tables(
    ev: Evaluation, lang: str = "zh", covariates: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Declared and model-based difficulty, per unit and per declared class.

    Use an evaluation with ``calibration="none"``: the model explains the
    uncalibrated score by continuous context (see
    :func:`perfmodel.calibrate.difficulty.difficulty_table`).

    Returns
    -------
    dict
        ``units`` (one row per unit, hardest context first) and ``classes``
        (declared coefficient against the range of implied ones; empty when the
        framework declares no classes), with translated headers; ``note``: why
        both are empty when the units are too few for a model of the score on
        context (:class:`~perfmodel.calibrate.difficulty.TooFewUnitsError`), else ``None``.
    """
    check_lang(lang)
    try:
        table = _difficulty_table(ev, covariates)
    except TooFewUnitsError as too_few:
        note = say_md(
            "report.calibration.difficulty_too_few",
            lang,
            n=too_few.n,
            terms=too_few.terms,
            needed=too_few.needed,
            floor=MIN_CONTEXT_UNITS,
            per_term=CONTEXT_UNITS_PER_TERM,
        )
        return {"units": pd.DataFrame(), "classes": pd.DataFrame(), "note": note}
    classes = class_coefficients(table) if "class" in table.columns else pd.DataFrame()
    return {"units": _rename(table, lang), "classes": _rename(classes, lang), "note": None}


def figure_difficulty(
    ev: Evaluation, *, ax: Axes | None = None, lang: str = "zh", covariates: Sequence[str] | None = None
) -> Axes:
    """Implied coefficient against load per officer, with the declared step function.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    table = _difficulty_table(ev, covariates)
    ax = report_axes(ax, figsize=(7.5, 4.5))
    x = table["workload_per_officer"] if "workload_per_officer" in table.columns else table.index
    classes = table["class"].astype(str) if "class" in table.columns else pd.Series("", index=table.index)
    palette = plt.get_cmap("tab10")
    for i, (label, sub) in enumerate(table.groupby(classes, sort=True)):
        colour = palette(i % 10)
        ax.scatter(
            x[sub.index],
            sub["implied_coefficient"],
            s=20,
            color=colour,
            alpha=0.8,
            label=f"{t['implied']} · {label}" if label else t["implied"],
        )
        declared = sub["declared_coefficient"].dropna()
        if len(declared):
            ax.hlines(
                declared.iloc[0],
                x[sub.index].min(),
                x[sub.index].max(),
                colors=[colour],
                linestyles="--",
                lw=1.6,
                label=f"{t['declared']} · {label}",
            )
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set_title(t["diff_title"])
    ax.set_xlabel(t["diff_x"])
    ax.set_ylabel(t["diff_y"])
    ax.legend(fontsize=7.5, ncol=2)
    return ax


# --------------------------------------------------------------------------- case-mix
def figure_expected_observed(ev: Evaluation, indicator: str, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Observed value against the value expected given the unit's context.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    casemix = _stage(ev, "casemix")
    sub = casemix[casemix["indicator"] == indicator]
    if sub.empty:
        raise OptionError(
            f"indicator {indicator!r} was not case-mix adjusted; see ev.stages['calibration_log'] for the reason."
        )
    ax = report_axes(ax, figsize=(5.5, 5))
    size = sub["denominator"].fillna(sub["denominator"].median() if sub["denominator"].notna().any() else 30)
    size = 12 + 60 * np.sqrt(size / size.max()) if size.max() > 0 else 20
    ax.scatter(sub["expected"], sub["observed"], s=size, alpha=0.6, color="#1F77B4", edgecolor="white")
    lo = float(np.nanmin([sub["expected"].min(), sub["observed"].min()]))
    hi = float(np.nanmax([sub["expected"].max(), sub["observed"].max()]))
    pad = 0.03 * (hi - lo)
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, label=t["eo_line"])
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_title(t["eo_title"].format(name=_indicator_name(ev, indicator, lang)))
    ax.set_xlabel(t["eo_x"])
    ax.set_ylabel(t["eo_y"])
    ax.legend(loc="upper left")
    return ax


def expected_observed_indicators(ev: Evaluation, n: int = 2) -> list[str]:
    """The first ``n`` case-mix adjusted indicators (for :func:`figure_expected_observed`)."""
    return _stage(ev, "casemix_models")["indicator"].head(n).tolist()


def casemix_model_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """One row per adjusted indicator: family, formula, n, dispersion, overall level."""
    check_lang(lang)
    models = _stage(ev, "casemix_models")
    table = models.drop(columns=["summary"]).copy()
    table["indicator"] = [_indicator_name(ev, i, lang) for i in table["indicator"]]
    return _rename(table, lang)


def calibration_log_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """What calibration did to each indicator, and why anything was left unadjusted, in ``lang``.

    Steps, actions and reasons are said in ``lang`` from the codes of the
    ``calibration_log`` stage (:func:`~perfmodel.calibrate.step.calibration_reason`);
    model names, formulas and the text of a fitting error stay as recorded.
    """
    check_lang(lang)
    log = _stage(ev, "calibration_log").copy()
    log["indicator"] = [_indicator_name(ev, i, lang) if isinstance(i, str) else "" for i in log["indicator"]]
    for column in ("step", "action"):  # codes in the data, words in the report
        words = templates(f"report.calibration_log.{column}", lang)
        log[column] = [words.get(code, code) for code in log[column]]
    if "code" in log.columns:  # the reason from its code; a log written before codes keeps its sentence
        log["reason"] = [
            calibration_reason(code, detail, lang) if isinstance(code, str) else reason
            for code, detail, reason in zip(log["code"], log["detail"], log["reason"], strict=True)
        ]
        log = log.drop(columns=["code", "detail"])
    return _rename(log, lang)


# --------------------------------------------------------------------------- raters
def figure_rater_leniency(
    ev: Evaluation, indicator: str | None = None, *, ax: Axes | None = None, lang: str = "zh", max_raters: int = 40
) -> Axes:
    """Rater effects with their confidence intervals, most lenient at the top.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    effects = _stage(ev, "rater_effects")
    if effects.empty:
        raise OptionError("no rater effects were estimated; see ev.stages['calibration_log'].")
    indicator = indicator or str(effects["indicator"].iloc[0])
    sub = effects[effects["indicator"] == indicator].sort_values("effect")
    if len(sub) > max_raters:  # the most extreme raters at both ends
        half = max_raters // 2
        sub = pd.concat([sub.head(half), sub.tail(max_raters - half)])
    ax = report_axes(ax, figsize=(7, max(3.0, 0.22 * len(sub) + 1.2)))
    y = np.arange(len(sub))
    clear = (sub["ci_low"] > 0) | (sub["ci_high"] < 0)
    colours = np.where(sub["effect"] > 0, "#1b7837", "#b2182b")
    colours = np.where(clear, colours, "#999999")
    ax.barh(y, sub["effect"], color=colours, height=0.6)
    ax.errorbar(
        sub["effect"],
        y,
        xerr=[sub["effect"] - sub["ci_low"], sub["ci_high"] - sub["effect"]],
        fmt="none",
        ecolor="0.2",
        elinewidth=0.8,
        capsize=2,
    )
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(sub["rater_id"].astype(str), fontsize=7.5)
    ax.set_title(t["rater_title"].format(name=_indicator_name(ev, indicator, lang)))
    ax.set_xlabel(t["rater_x"])
    ax.set_ylabel(t["rater_y"])
    return ax


def rater_indicators(ev: Evaluation) -> list[str]:
    """Indicators with estimated rater effects (for :func:`figure_rater_leniency`); empty without any."""
    effects = ev.stages.get("rater_effects", pd.DataFrame())
    return effects["indicator"].unique().tolist() if len(effects) else []


def self_enhancement_summary(ev: Evaluation) -> pd.DataFrame:
    """Summary statistics (count, mean, sd, quartiles) of self minus others per rated indicator.

    Empty when the evaluation has no ``self_enhancement`` stage or it is empty.
    """
    enhancement = ev.stages.get("self_enhancement", pd.DataFrame())
    return enhancement.describe().reset_index() if len(enhancement) else pd.DataFrame()


def reliability_table(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """Inter-rater reliability and shrinkage reliability per indicator, in words of ``lang``.

    The measure's name and note come from the catalogue (``report.reliability.*``),
    the measure's code beside its name.
    """
    check_lang(lang)
    table = _stage(ev, "reliability").copy()
    words = templates("report.reliability", lang)
    table["indicator"] = [_indicator_name(ev, i, lang) for i in table["indicator"]]
    table["note"] = [
        words[f"note.{measure}"].format(value=value) if f"note.{measure}" in words else note
        for measure, value, note in zip(table["measure"], table.get("parameter", np.nan), table["note"], strict=True)
    ]
    table["measure"] = [f"{words[f'measure.{m}']} ({m})" if f"measure.{m}" in words else m for m in table["measure"]]
    return _rename(table.drop(columns="parameter", errors="ignore"), lang)


# --------------------------------------------------------------------------- truth (teaching)
def truth_table(recovery: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """:func:`perfmodel.calibrate.truth.truth_recovery` with translated labels."""
    check_lang(lang)
    t = _t(lang)
    table = recovery.copy()
    table["score"] = [t.get(s, s) for s in table["score"]]
    return _rename(table, lang)


def effects_table(effects: Effects = EFFECTS) -> pd.DataFrame:
    """Effect sizes of the uncontrollable context in the simulator (latent sd units), one row each.

    Load per officer, urban-rural fringe, district difficulty, supervisor leniency
    (rating points) and the correlation of true performance with resources.
    """
    return pd.DataFrame(
        {
            "effect": [
                "load per officer (per sd of log load)",
                "urban-rural fringe",
                "district difficulty (per sd)",
                "supervisor leniency (points, lenient/harsh raters)",
                "true performance vs resources (correlation)",
            ],
            "size": [
                effects.load,
                effects.fringe,
                effects.district,
                effects.supervisor_leniency,
                effects.theta_resource_corr,
            ],
        }
    )


def figure_truth_comparison(
    scores: Mapping[str, pd.Series], truth: pd.Series, *, fig: Figure | None = None, lang: str = "zh"
) -> Figure:
    """One panel per score: the score against the true performance, with Spearman's rho.

    Several axes: drawn on ``fig`` (an empty figure; default: a new one) after applying the
    report style (CJK font); returns the figure.
    """
    from perfmodel.report.style import report_subplots

    check_lang(lang)
    t = _t(lang)
    fig, axes = report_subplots(fig, 1, len(scores), figsize=(4.2 * len(scores), 4.2), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, (label, score) in zip(axes, scores.items(), strict=True):
        both = pd.concat({"s": score.astype(float), "t": truth.astype(float)}, axis=1).dropna()
        rho = stats.spearmanr(both["s"], both["t"]).statistic
        ax.scatter(both["t"], both["s"], s=14, alpha=0.7, color="#1F77B4")
        ax.set_title(f"{t.get(label, label)} (ρ = {rho:.2f})")
        ax.set_xlabel(t["truth_x"])
        ax.set_ylabel(t["truth_y"])
    fig.suptitle(t["truth_title"])
    return fig


def figure_context_dependence(
    scores: Mapping[str, pd.Series], units: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh"
) -> Axes:
    """Standardised scores against log load per officer, one colour per score, with trend lines.

    Drawn on ``ax`` (default: a new figure) after applying the report style (CJK font);
    returns the axes.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    t = _t(lang)
    context = context_frame(units)
    context.index = pd.Index(context["unit_id"].astype(object), name="unit_id")
    x = context["log_workload"]
    ax = report_axes(ax, figsize=(7, 4.5))
    palette = plt.get_cmap("tab10")
    for i, (label, score) in enumerate(scores.items()):
        both = pd.concat({"x": x, "s": score.astype(float)}, axis=1).dropna()
        z = (both["s"] - both["s"].mean()) / both["s"].std()
        colour = palette(i % 10)
        slope, intercept = np.polyfit(both["x"], z, 1)
        ax.scatter(both["x"], z, s=12, alpha=0.5, color=colour)
        grid = np.linspace(both["x"].min(), both["x"].max(), 50)
        ax.plot(
            grid, intercept + slope * grid, color=colour, lw=2, label=f"{t.get(label, label)}: {slope:+.2f} sd / log"
        )
    ax.set_title(t["ctx_title"])
    ax.set_xlabel(t["ctx_x"])
    ax.set_ylabel(t["ctx_y"])
    ax.legend()
    return ax


# --------------------------------------------------------------------------- the calibration report's text
CALIBRATION_SECTIONS: tuple[str, ...] = (
    "problem",
    "truth",
    "difficulty",
    "casemix",
    "funnel",
    "raters",
    "seeds",
    "yours",
)
"""The numbered sections of the calibration report (``notebooks/calibration.ipynb``), in order.

Each has ``notebook.calibration.section.<id>.title`` and ``.text`` in the catalogue; so has
the unnumbered ``method``."""


def calibration_section(section: str, lang: str = "zh", /, **values: object) -> SafeMarkdown:
    """A section of the calibration report: its numbered ``##`` heading and what it shows.

    The funnel section quotes :data:`MIN_FUNNEL_UNITS`; *values* fill any other field.

    Examples
    --------
    >>> print(calibration_section("funnel", "en").splitlines()[0])
    ## 5. Funnel plots
    """
    check_lang(lang)
    if section not in (*CALIBRATION_SECTIONS, "method"):
        raise OptionError(f"unknown section {section!r}; the sections are {', '.join(CALIBRATION_SECTIONS)}, method")
    key = f"notebook.calibration.section.{section}"
    title = say(f"{key}.title", lang)
    heading = (
        md("## {n}. {title}", n=CALIBRATION_SECTIONS.index(section) + 1, title=title)
        if section in CALIBRATION_SECTIONS
        else md("## {title}", title=title)
    )
    if not has_message(f"{key}.text"):
        return heading
    return md(
        "{heading}\n\n{text}", heading=heading, text=say_md(f"{key}.text", lang, min_units=MIN_FUNNEL_UNITS, **values)
    )


def no_casemix_note(ev: Evaluation, lang: str = "zh") -> SafeMarkdown | None:
    """Why a calibrated evaluation has no case-mix model (too few units), or ``None`` when it has one."""
    from perfmodel.calibrate.step import MIN_CASEMIX_UNITS

    check_lang(lang)
    if len(_stage(ev, "casemix_models")):
        return None
    return say_md("notebook.calibration.yours_no_models", lang, min_units=MIN_CASEMIX_UNITS, n=len(ev.scores))
