"""The methodology tutorial's text, tables and figure (``notebooks/methodology_tutorial.ipynb``).

The training notebook walks one small simulated dataset from raw months to
grades. Its words come from the catalogue (``[tutorial.*]`` in
``perfmodel/data/messages.toml``), so the same notebook reads in Chinese and in
English; the few computations a step needs beyond the library's own calls (the
outlier experiment of the normalisation step, the shrinkage table, grades by
peer group) are here, tested in ``tests/test_tutorial_notebook.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError
from perfmodel.report.render import SafeMarkdown, join, md, say_md
from perfmodel.text import MessageError, check_lang, has_message, say

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

    from perfmodel.evaluation import Evaluation

__all__ = [
    "TUTORIAL_STEPS",
    "figure_shrinkage",
    "grades_by_group",
    "headed",
    "outlier_effect",
    "shrinkage_table",
    "smallest_rate_indicator",
    "stage_overview",
    "step_intro",
    "step_questions",
    "step_title",
    "with_outlier",
]

TUTORIAL_STEPS: tuple[str, ...] = (
    "data",
    "stages",
    "normalisation",
    "peer_groups",
    "casemix",
    "shrinkage",
    "fairness",
    "grades",
)
"""The tutorial's steps in order; each has ``tutorial.step.<id>.title``, ``.text`` and ``.q1``… in the catalogue."""


def _step_key(step: str, part: str) -> str:
    if step not in TUTORIAL_STEPS:
        raise OptionError(f"unknown tutorial step {step!r}; the steps are {', '.join(TUTORIAL_STEPS)}")
    return f"tutorial.step.{step}.{part}"


def step_title(step: str, lang: str = "zh") -> str:
    """The numbered title of a step, e.g. ``"3. Goalposts or min-max?"`` (plain text)."""
    check_lang(lang)
    key = _step_key(step, "title")
    return f"{TUTORIAL_STEPS.index(step) + 1}. {say(key, lang)}"


def step_intro(step: str, lang: str = "zh", /, **values: object) -> SafeMarkdown:
    """A step's heading (``##``) and its explanation, from the catalogue (*values* fill its fields)."""
    check_lang(lang)
    text = say_md(_step_key(step, "text"), lang, **values)
    return md("## {title}\n\n{text}", title=step_title(step, lang), text=text)


def step_questions(step: str, lang: str = "zh") -> SafeMarkdown:
    """The step's questions for trainees (``q1``, ``q2``, … in the catalogue) as a numbered list."""
    check_lang(lang)
    questions: list[SafeMarkdown] = []
    while has_message(_step_key(step, f"q{len(questions) + 1}")):
        questions.append(say_md(_step_key(step, f"q{len(questions) + 1}"), lang))
    if not questions:
        raise MessageError(f"tutorial step {step!r} has no questions in the catalogue")
    items = join("\n", [md("{n}. {q}", n=n, q=q) for n, q in enumerate(questions, start=1)])
    return md("**{label}**\n\n{items}", label=say("tutorial.questions", lang), items=items)


def headed(frame: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """*frame* with column headers in ``lang`` and grades in words, for display.

    Headers come from ``tutorial.col.<code>`` when the tutorial has one, else from
    :func:`perfmodel.glossary.column_header` (the code itself when neither knows it).
    """
    from perfmodel.glossary import column_header, grade_label

    check_lang(lang)
    out = frame.copy()
    if "grade" in out.columns:
        out["grade"] = out["grade"].map(lambda g: grade_label(g, lang))
    return out.rename(
        columns=lambda c: (
            say(f"tutorial.col.{c}", lang) if has_message(f"tutorial.col.{c}") else column_header(str(c), lang)
        )
    )


# ---------------------------------------------------------------- stages
def stage_overview(ev: Evaluation, lang: str = "zh") -> pd.DataFrame:
    """One row per stage of ``ev.stages``, in pipeline order: name, rows, columns and what it holds.

    The description is ``tutorial.stage.<name>`` from the catalogue ("" for a stage without one).
    """
    check_lang(lang)
    rows = []
    for name, frame in ev.stages.items():
        key = f"tutorial.stage.{name}"
        rows.append(
            {
                say("tutorial.col.stage", lang): name,
                say("tutorial.col.rows", lang): int(frame.shape[0]),
                say("tutorial.col.columns", lang): int(frame.shape[1]),
                say("tutorial.col.holds", lang): say(key, lang) if has_message(key) else "",
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- goalposts vs min-max
def with_outlier(observations: pd.DataFrame, unit_id: str, indicator: str, value: float) -> pd.DataFrame:
    """A copy of *observations* in which *unit_id* reports *value* for *indicator* in every month.

    Rates keep their denominators and get ``numerator = value × denominator``, so the
    roll-up (summed numerators over summed denominators) gives *value* as well.
    """
    out = observations.copy()
    rows = (out["unit_id"] == unit_id) & (out["indicator"] == indicator)
    if not rows.any():
        raise OptionError(f"no observations of {indicator!r} for unit {unit_id!r}")
    out.loc[rows, "value"] = value
    has_denominator = rows & out["denominator"].notna()
    out.loc[has_denominator, "numerator"] = value * out.loc[has_denominator, "denominator"]
    return out


def outlier_effect(
    ev: Evaluation,
    unit_id: str,
    indicator: str,
    value: float,
    methods: Sequence[str] = ("goalposts", "minmax"),
    lang: str = "zh",
) -> pd.DataFrame:
    """What one unit's outlying value does to every *other* unit, under each normalisation.

    Each method is evaluated twice on the same data: as observed, and with *unit_id*
    reporting *value* for *indicator* (:func:`with_outlier`). Goalposts are fixed
    in the framework, so the other units' normalised values cannot move; min-max
    takes its bounds from the data, so they do.

    Returns
    -------
    pandas.DataFrame
        One row per method: the largest change of another unit's normalised value
        on *indicator*, the mean absolute change of the other units' scores, and
        how many other units changed rank among the other units (the outlier's own
        move up or down the ranking is left out).
    """
    from perfmodel.evaluation import Evaluation

    check_lang(lang)
    changed_obs = with_outlier(ev.observations, unit_id, indicator, value)
    rows = []
    for method in methods:
        before = ev.regen(normalisation=method, compare_previous=False)
        after = Evaluation(ev.framework, changed_obs, ev.units, ev.period, before.settings).run()
        others = before.stages["normalised"].index.drop(unit_id)
        moved = (
            after.stages["normalised"].loc[others, indicator] - before.stages["normalised"].loc[others, indicator]
        ).abs()
        s0 = before.scores.set_index("unit_id").loc[others]
        s1 = after.scores.set_index("unit_id").loc[others]
        rows.append(
            {
                say("tutorial.col.method", lang): method,
                say("tutorial.col.max_change", lang): float(moved.max()),
                say("tutorial.col.mean_score_change", lang): float((s1["score"] - s0["score"]).abs().mean()),
                say("tutorial.col.rank_changes", lang): int((_order(s1["score"]) != _order(s0["score"])).sum()),
            }
        )
    return pd.DataFrame(rows)


def _order(score: pd.Series) -> pd.Series:
    return score.rank(method="min", ascending=False)


# ---------------------------------------------------------------- peer groups
def grades_by_group(evaluations: Mapping[str, Evaluation], column: str, lang: str = "zh") -> pd.DataFrame:
    """Grade counts per value of the units' *column*, one block of columns per evaluation.

    Parameters
    ----------
    evaluations
        Label → run evaluation (e.g. ranked within peer groups and all together).
    column
        Units-table column, e.g. ``"station_class"``.
    """
    from perfmodel.framework import GRADES
    from perfmodel.glossary import grade_label

    check_lang(lang)
    blocks = {}
    for label, ev in evaluations.items():
        scores = ev.scores.set_index("unit_id")
        group = ev.scored_units[column].reindex(scores.index)
        counts = pd.crosstab(group, scores["grade"]).reindex(columns=list(GRADES), fill_value=0)
        counts.columns = [f"{label}: {grade_label(g, lang)}" for g in counts.columns]
        blocks[label] = counts
    out = pd.concat(blocks.values(), axis=1).fillna(0).astype(int)
    out.index.name = say("tutorial.col.group", lang)
    return out.reset_index()


# ---------------------------------------------------------------- shrinkage
def smallest_rate_indicator(ev: Evaluation) -> str:
    """The rate indicator with the smallest median denominator: where shrinkage matters most."""
    rolled = ev.stages["rolled"]
    rates = rolled[rolled["denominator"].notna() & (rolled["denominator"] > 0)]
    if rates.empty:
        raise OptionError("the framework has no rate indicator with denominators")
    return str(rates.groupby("indicator")["denominator"].median().idxmin())


def shrinkage_table(ev: Evaluation, indicator: str) -> pd.DataFrame:
    """Beta-binomial shrinkage of one rate indicator's rolled-up rates, sorted by denominator.

    Uses ``ev.stages["rolled"]`` (numerator and denominator summed over the
    period) and :class:`~perfmodel.calibrate.shrinkage.BetaBinomialShrinkage`
    fitted on all scored units. Columns as its ``transform`` (``unit_id``,
    ``numerator``, ``denominator``, ``raw``, ``shrunk``, ``prior_mean``,
    ``reliability``, ``lower``, ``upper``) plus ``name``.
    """
    from perfmodel.calibrate.shrinkage import BetaBinomialShrinkage

    rolled = ev.stages["rolled"]
    data = rolled[(rolled["indicator"] == indicator) & (rolled["denominator"] > 0)]
    data = data[data["unit_id"].isin(ev.scored_units.index)]
    if data.empty:
        raise OptionError(f"indicator {indicator!r} has no numerators and denominators to shrink")
    table = BetaBinomialShrinkage().fit(data[["unit_id", "numerator", "denominator"]]).to_frame()
    table.insert(1, "name", ev.scored_units["name"].reindex(table["unit_id"]).to_numpy())
    return table.sort_values("denominator", kind="stable").reset_index(drop=True)


def figure_shrinkage(table: pd.DataFrame, *, ax: Axes | None = None, lang: str = "zh") -> Axes:
    """Raw and shrunk rates against the denominator (from :func:`shrinkage_table`).

    Each unit is a grey line from its raw rate (open circle) to its shrunk rate
    (dot); the dashed line is the prior mean. Small units move most.
    """
    from perfmodel.report.style import report_axes

    check_lang(lang)
    ax = report_axes(ax, figsize=(8.0, 4.5))
    x = table["denominator"].to_numpy(dtype=float)
    ax.vlines(x, table["raw"], table["shrunk"], color="0.7", linewidth=0.8)
    ax.scatter(x, table["raw"], facecolors="none", edgecolors="#D62728", s=22, label=say("tutorial.fig.raw", lang))
    ax.scatter(x, table["shrunk"], color="#1F77B4", s=16, label=say("tutorial.fig.shrunk", lang))
    ax.axhline(float(np.mean(table["prior_mean"])), color="0.3", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(say("tutorial.fig.denominator", lang))
    ax.set_ylabel(say("tutorial.fig.rate", lang))
    ax.set_title(say("tutorial.fig.shrinkage_title", lang))
    ax.legend()
    return ax
