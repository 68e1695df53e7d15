"""The one-page summary (首页摘要) of the quarterly report: what to know and what to do.

:func:`build_summary` reads an :class:`~perfmodel.evaluation.Evaluation` (and
its previous period, when it was evaluated) and returns a
:class:`QuarterlySummary` whose tables hold codes, never prose:

* the grade counts, this period and the previous one;
* the units that need action and why, one row per unit and reason
  (:meth:`QuarterlySummary.to_frame`), from the flags of the evaluation
  (``stages["flags"]``, codes of :data:`perfmodel.flags.FLAG_CODES`) sorted
  into :data:`ACTION_KINDS`: grade caps, hard-threshold breaches, the negative
  list, early warnings (negative-list items whose consequence is a warning,
  and the monitor's warnings when given) and incomplete data (数据不完整);
* the largest rank moves against the previous period;
* the data problems that affect the result: quarantined rows by reason, units
  not graded, indicators some units have no data for, late reports;
* what changed since the previous period;
* an action list: who (the units, or the bureau's data office), what, and by
  when — the next data deadline (:func:`next_data_deadline`).

:func:`summary_page` renders it in Chinese or English for the report: Markdown
and tables through :mod:`perfmodel.report.render`, words from ``[report.summary]``
in the message catalogue, every reason in words with its code beside it, and a
page break after it so that the summary is the first page of the PDF and Word
report.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from perfmodel.evaluation import Evaluation
from perfmodel.flags import flag_phrase
from perfmodel.framework import GRADES, Framework
from perfmodel.glossary import grade_label
from perfmodel.grading import NOT_GRADED
from perfmodel.periods import months_in, period_label, reporting_deadline
from perfmodel.report.quarterly import indicator_coverage, rank_movers
from perfmodel.report.render import SafeMarkdown, join, md, page_break, say_md, table
from perfmodel.text import check_lang, say

__all__ = [
    "ACTION_KINDS",
    "DATA_OFFICE",
    "QuarterlySummary",
    "build_summary",
    "next_data_deadline",
    "summary_page",
]

ACTION_KINDS: tuple[str, ...] = ("grade_cap", "hard_threshold", "negative_list", "early_warning", "incomplete_data")
"""Why a unit needs action, most serious first; each has ``report.summary.kind.<kind>`` in the catalogue.

``grade_cap``: a hard-threshold breach or negative-list item whose consequence
caps the grade; ``hard_threshold``: a breach with another consequence;
``negative_list``: an item that deducts points; ``early_warning``: an item whose
consequence is a warning, or a monitor warning; ``incomplete_data``: not graded
for too few months or too little weight with data, or a non-finite score.
"""

_INCOMPLETE_CODES = ("incomplete_data", "low_availability", "non_finite_score")
WARNING_RULES: tuple[str, ...] = ("decline", "control_chart", "last_place")
"""Monitor warning rules (:mod:`perfmodel.monitor.warnings`) that ask for action (``leader`` does not)."""

DATA_OFFICE = "data_office"
"""The ``who`` of actions for the bureau's data office (the unit ids otherwise)."""

UNITS_SHOWN = 6
"""Unit ids listed by name in a row of the summary page; the rest are counted (all are in the appendix)."""


def next_data_deadline(
    framework: Framework,
    period: pd.Period | str,
    *,
    day: int | None = None,
    month_offset: int | None = None,
) -> pd.Timestamp:
    """The next data deadline after an evaluation of ``period``: that of the first month after it.

    The rule: the data of a month are due on ``day`` of the month ``month_offset``
    months later (the framework's ``reporting`` section; by default the 27th of the
    following month, R11). The period's own last month is due at the report's
    time, so the next deadline is that of the month after the period: for
    ``2025Q2`` the July data, due by 2025-08-27.

    Parameters
    ----------
    framework
        Gives the default ``day`` and ``month_offset`` (``framework.reporting``).
    period
        The evaluated period (month, quarter or year).
    day, month_offset
        Override the framework's reporting day and month offset.

    Examples
    --------
    >>> from perfmodel.framework import load_framework
    >>> next_data_deadline(load_framework("station_four_dimension"), "2025Q2").date()
    datetime.date(2025, 8, 27)
    """
    rules = framework.reporting
    month = months_in(period)[-1] + 1
    return reporting_deadline(
        month,
        rules.deadline_day if day is None else day,
        rules.deadline_month_offset if month_offset is None else month_offset,
    )


# ------------------------------------------------------------------ the result


@dataclass(frozen=True)
class QuarterlySummary:
    """What the one-page summary says, as tables of codes (see :func:`build_summary`).

    Attributes
    ----------
    framework
        The evaluation's framework (names of units' items and indicators at display time).
    period, previous_period
        Period labels; ``previous_period`` is ``None`` without a previous evaluation.
    deadline
        When the actions are due (:func:`next_data_deadline` unless given).
    deadline_given
        Whether ``deadline`` was given rather than derived from the framework's rule.
    grades
        ``grade``, ``units``, ``previous`` (units of that grade in the previous
        period, missing without one), ``change``.
    flagged
        One row per unit and reason: ``unit_id``, ``name``, ``peer_group``,
        ``grade``, ``kind`` (:data:`ACTION_KINDS`), ``code`` (a flag code or
        ``warning:<rule>``), ``item`` and the flag's ``count``, ``of``,
        ``value``, ``limit`` (as in ``stages["flags"]``).
    moves
        :func:`~perfmodel.report.quarterly.rank_movers`: the largest rises and falls.
    quarantine
        ``reason`` (validation code) and ``rows``, most rows first.
    data
        Data problems that affect the result: ``problem`` (``quarantined_rows``,
        ``not_graded``, ``low_coverage``, ``late_units``, ``imputed_values``),
        ``n`` and ``items`` (indicator ids for ``low_coverage``).
    changes
        ``kind`` (an action kind, or ``grade_up`` / ``grade_down``) with
        ``previous`` and ``current`` numbers of units; empty without a previous period.
    actions
        The action list: ``who`` (unit ids joined by ``", "``, or :data:`DATA_OFFICE`),
        ``action`` (``report.summary.action.<action>``), ``units`` (how many),
        ``items`` (indicator / item ids or reasons the action is about), ``due``.
    lang
        The default language of :meth:`summary`.
    units
        How many units were evaluated.
    """

    framework: Framework
    period: str
    previous_period: str | None
    deadline: pd.Timestamp
    deadline_given: bool
    grades: pd.DataFrame
    flagged: pd.DataFrame
    moves: pd.DataFrame
    quarantine: pd.DataFrame
    data: pd.DataFrame
    changes: pd.DataFrame
    actions: pd.DataFrame
    lang: str = "zh"
    units: int = 0

    def needs_action(self) -> pd.DataFrame:
        """Units needing action grouped by reason: ``kind``, ``code``, ``item``, ``units`` (n) and ``unit_ids``."""
        if self.flagged.empty:
            return pd.DataFrame(columns=["kind", "code", "item", "units", "unit_ids"])
        keyed = self.flagged.assign(item=self.flagged["item"].fillna(""), order=self.flagged["kind"].map(_KIND_ORDER))
        grouped = keyed.groupby(["order", "kind", "code", "item"], sort=True)["unit_id"]
        out = grouped.agg(units="nunique", unit_ids=lambda ids: list(dict.fromkeys(ids))).reset_index()
        return out.drop(columns="order")

    def to_frame(self) -> pd.DataFrame:
        """The units that need action, one row per unit and reason (a copy of :attr:`flagged`)."""
        return self.flagged.copy()

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → table: ``grades``, ``flagged``, ``needs_action``, ``moves``, ``quarantine``, ``data``,
        ``changes`` and ``actions`` (all with codes)."""
        return {
            "grades": self.grades.copy(),
            "flagged": self.to_frame(),
            "needs_action": self.needs_action(),
            "moves": self.moves.copy(),
            "quarantine": self.quarantine.copy(),
            "data": self.data.copy(),
            "changes": self.changes.copy(),
            "actions": self.actions.copy(),
        }

    def summary(self, lang: str | None = None) -> str:
        """The summary as plain text: grades, reasons for action with their codes, and the action list."""
        lang = self.lang if lang is None else lang
        check_lang(lang)
        lines = [
            say("report.summary.title", lang, name=self.framework.name.in_lang(lang), period=self.period),
            _grades_sentence(self, lang),
        ]
        for row in self.needs_action().itertuples():
            lines.append(
                "- "
                + say(
                    "report.summary.reason_line",
                    lang,
                    kind=say(f"report.summary.kind.{row.kind}", lang),
                    reason=_group_reason(self.framework, row.code, row.item, lang),
                    n=row.units,
                )
            )
        lines.append(say("report.summary.heading.actions", lang))
        for k, row in enumerate(self.actions.itertuples(), start=1):
            lines.append(f"{k}. {_action_text(self, row, lang)}")
        return "\n".join(lines)


_KIND_ORDER = {kind: k for k, kind in enumerate(ACTION_KINDS)}


def _kind(flag: dict[str, Any], framework: Framework) -> str | None:
    """The action kind of one flag row, or ``None`` when it asks for no action by the unit."""
    code = flag["code"]
    if code in _INCOMPLETE_CODES:
        return "incomplete_data"
    if code == "hard_threshold":
        threshold = framework.indicator_meta()[flag["item"]].threshold
        return "grade_cap" if threshold is not None and threshold.consequence == "grade_cap" else "hard_threshold"
    if code == "negative_list":
        item = next((n for n in framework.negative_list if n.id == flag["item"]), None)
        consequence = item.consequence if item is not None else "deduct"
        return {"grade_cap": "grade_cap", "warning": "early_warning"}.get(consequence, "negative_list")
    return None


def _flagged(ev: Evaluation, warnings: pd.DataFrame | None) -> pd.DataFrame:
    """One row per unit and reason needing action (see :attr:`QuarterlySummary.flagged`)."""
    flags = ev.stages["flags"]
    rows = [dict(row, kind=_kind(row, ev.framework)) for row in flags.to_dict("records")]
    rows = [row for row in rows if row["kind"] is not None]
    if warnings is not None and len(warnings):
        for row in warnings[warnings["rule"].isin(WARNING_RULES)].drop_duplicates(["unit_id", "rule"]).itertuples():
            rows.append({"unit_id": row.unit_id, "code": f"warning:{row.rule}", "item": None, "kind": "early_warning"})
    columns = ["unit_id", "name", "peer_group", "grade", "kind", "code", "item", "count", "of", "value", "limit"]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows)
    scores = ev.scores.set_index("unit_id")
    for column in ("name", "peer_group", "grade"):
        out[column] = out["unit_id"].map(scores[column])
    out["_order"] = out["kind"].map(_KIND_ORDER)
    out = out.sort_values(["_order", "code", "unit_id"], kind="stable")
    return out.reindex(columns=columns).reset_index(drop=True)


def _grades(ev: Evaluation) -> pd.DataFrame:
    now = ev.scores["grade"].value_counts()
    before = ev.previous.scores["grade"].value_counts() if ev.previous is not None else None
    grades = [g for g in (*GRADES, NOT_GRADED) if g in now.index or (before is not None and g in before.index)]
    out = pd.DataFrame({"grade": grades, "units": [int(now.get(g, 0)) for g in grades]})
    out["previous"] = [float(before.get(g, 0)) if before is not None else float("nan") for g in grades]
    out["change"] = out["units"] - out["previous"]
    return out


def _quarantine(ev: Evaluation) -> pd.DataFrame:
    q = ev.quarantine
    if not len(q):
        return pd.DataFrame({"reason": pd.Series(dtype=object), "rows": pd.Series(dtype=int)})
    counts = q.groupby("reason").size().rename("rows").reset_index()
    return counts.sort_values(["rows", "reason"], ascending=[False, True]).reset_index(drop=True)


def _data_problems(ev: Evaluation) -> pd.DataFrame:
    coverage = indicator_coverage(ev)
    low = coverage.loc[coverage["coverage"] < 1, "indicator"].tolist()
    notes = ev.stages["grading_notes"]
    not_graded = notes.loc[notes["code"].isin(_INCOMPLETE_CODES), "unit_id"].nunique()
    flags = ev.stages["flags"]
    late = flags.loc[flags["code"] == "late_reports", "unit_id"].nunique()
    imputed = ev.stages.get("imputed_cells")
    n_imputed = int(len(imputed)) if imputed is not None else 0
    rows = [
        ("quarantined_rows", len(ev.quarantine), []),
        ("not_graded", int(not_graded), []),
        ("low_coverage", len(low), low),
        ("late_units", int(late), []),
        ("imputed_values", n_imputed, []),
    ]
    return pd.DataFrame(rows, columns=["problem", "n", "items"])


def _changes(ev: Evaluation, flagged: pd.DataFrame) -> pd.DataFrame:
    """Units per action kind then and now (from the flags of both periods: monitor warnings are not
    counted, the previous period has none), and units whose grade went up or down."""
    if ev.previous is None:
        return pd.DataFrame(columns=["kind", "previous", "current"])
    before = _flagged(ev.previous, None)
    flagged = flagged[~flagged["code"].str.startswith("warning:")]
    rows: list[tuple[str, float, int]] = []
    for kind in ACTION_KINDS:
        now_units = flagged.loc[flagged["kind"] == kind, "unit_id"].nunique()
        before_units = before.loc[before["kind"] == kind, "unit_id"].nunique()
        if now_units or before_units:
            rows.append((kind, int(before_units), int(now_units)))
    order = {g: k for k, g in enumerate(GRADES)}
    both = ev.scores[["grade", "previous_grade"]].dropna()
    both = both[both["grade"].isin(order) & both["previous_grade"].isin(order)]
    step = both["previous_grade"].map(order) - both["grade"].map(order)  # > 0: a better grade now
    rows.append(("grade_up", float("nan"), int((step > 0).sum())))
    rows.append(("grade_down", float("nan"), int((step < 0).sum())))
    return pd.DataFrame(rows, columns=["kind", "previous", "current"])


def _action_of(code: str) -> str:
    """The action a reason asks of the unit (``report.summary.action.<action>``)."""
    if code == "hard_threshold":
        return "rectify_threshold"
    if code == "negative_list":
        return "explain_negative"
    if code.startswith("warning:"):
        return "review_warning"
    return "submit_missing"  # the incomplete-data codes


def _actions(ev: Evaluation, flagged: pd.DataFrame, quarantine: pd.DataFrame, due: pd.Timestamp) -> pd.DataFrame:
    """One row per action: the units' (in the order of :data:`ACTION_KINDS`), then the data office's."""
    actions: dict[str, dict[str, list[str]]] = {}
    for row in flagged.itertuples():
        entry = actions.setdefault(_action_of(row.code), {"units": [], "items": []})
        entry["units"] = list(dict.fromkeys([*entry["units"], row.unit_id]))
        if row.code in ("hard_threshold", "negative_list"):
            entry["items"] = list(dict.fromkeys([*entry["items"], str(row.item)]))
    flags = ev.stages["flags"]
    late = list(dict.fromkeys(flags.loc[flags["code"] == "late_reports", "unit_id"]))
    if late:
        actions["report_on_time"] = {"units": late, "items": []}
    rows = [(", ".join(e["units"]), action, len(e["units"]), e["units"], e["items"]) for action, e in actions.items()]
    if len(quarantine):
        rows.append((DATA_OFFICE, "fix_quarantine", 0, [], quarantine["reason"].tolist()))
    classes = [str(i) for i in dict.fromkeys(flags.loc[flags["code"] == "no_difficulty_coefficient", "item"])]
    if classes:
        rows.append((DATA_OFFICE, "difficulty_coefficient", 0, [], classes))
    frame = pd.DataFrame(rows, columns=["who", "action", "units", "unit_ids", "items"])
    frame["due"] = due
    return frame


def build_summary(
    ev: Evaluation,
    *,
    deadline: str | _dt.date | pd.Timestamp | None = None,
    warnings: pd.DataFrame | None = None,
    top_moves: int = 3,
    lang: str = "zh",
    show_names: bool = False,
) -> QuarterlySummary:
    """The one-page summary of an evaluation (see the module's text).

    Parameters
    ----------
    ev
        A run evaluation; with ``ev.previous`` (the default ``compare_previous``)
        the summary also says what changed and who moved most.
    deadline
        When the actions are due. Default: :func:`next_data_deadline` of the
        framework and period (the data deadline of the month after the period).
    warnings
        Optional monitor warnings (:data:`perfmodel.monitor.warnings.WARNING_COLUMNS`,
        e.g. from :func:`~perfmodel.monitor.warnings.early_warnings` on monthly
        scores); rules :data:`WARNING_RULES` count as early warnings.
    top_moves
        Rises and falls listed each.
    lang
        Default language of :meth:`QuarterlySummary.summary`.
    show_names
        Show officers' names (stations' names are always shown; see :mod:`perfmodel.privacy`).
    """
    check_lang(lang)
    due = pd.Timestamp(deadline) if deadline is not None else next_data_deadline(ev.framework, ev.period)
    flagged = _flagged(ev, warnings)
    if not show_names and ev.framework.level == "officer":
        flagged["name"] = None
    quarantine = _quarantine(ev)
    moves = rank_movers(ev, top_moves, show_names=show_names)
    return QuarterlySummary(
        framework=ev.framework,
        period=period_label(ev.period),
        previous_period=period_label(ev.previous.period) if ev.previous is not None else None,
        deadline=due,
        deadline_given=deadline is not None,
        grades=_grades(ev),
        flagged=flagged,
        moves=moves[moves["rank_change"] != 0].reset_index(drop=True),
        quarantine=quarantine,
        data=_data_problems(ev),
        changes=_changes(ev, flagged),
        actions=_actions(ev, flagged, quarantine, due),
        lang=lang,
        units=len(ev.scores),
    )


# ------------------------------------------------------------------ words


def with_code(text: str, code: str, lang: str = "zh") -> str:
    """``text`` with its code beside it: ``未达硬性指标(hard_threshold)``."""
    check_lang(lang)
    return say("report.summary.with_code", lang, text=text, code=code)


def _item_name(framework: Framework, item: str, lang: str) -> str:
    for info in framework.walk():
        if info.id == item:
            return str(info.node.name.in_lang(lang))
    hit = next((n for n in framework.negative_list if n.id == item), None)
    return str(hit.name.in_lang(lang)) if hit is not None else item


def _group_reason(framework: Framework, code: str, item: object, lang: str) -> str:
    """A reason shared by several units, in words with its code beside it."""
    from perfmodel.report.quarterly import consequence_label

    item = "" if item is None or (isinstance(item, float) and pd.isna(item)) else str(item)
    if code.startswith("warning:"):
        rule = code.split(":", 1)[1]
        return with_code(say(f"report.summary.warning.{rule}", lang), code, lang)
    if code == "hard_threshold":
        th = framework.indicator_meta()[item].threshold
        consequence = consequence_label(th.consequence, th.grade_cap, lang=lang) if th is not None else ""
        text = say("report.summary.reason.hard_threshold", lang, name=_item_name(framework, item, lang))
        return with_code(say("report.summary.consequence", lang, text=text, consequence=consequence), code, lang)
    if code == "negative_list":
        hit = next((n for n in framework.negative_list if n.id == item), None)
        consequence = consequence_label(hit.consequence, hit.grade_cap, hit.points, lang) if hit is not None else ""
        text = say("report.summary.reason.negative_list", lang, name=_item_name(framework, item, lang))
        return with_code(say("report.summary.consequence", lang, text=text, consequence=consequence), code, lang)
    return with_code(say(f"report.summary.reason.{code}", lang), code, lang)


def _unit_list(ids: Sequence[str], lang: str, shown: int = UNITS_SHOWN) -> str:
    """Up to ``shown`` ids, then how many more."""
    ids = list(ids)
    text = say("common.list_sep", lang).join(ids[:shown])
    if len(ids) > shown:
        text += say("report.summary.more_units", lang, total=len(ids))
    return text


def _grades_sentence(result: QuarterlySummary, lang: str) -> str:
    sep = say("common.list_sep", lang)
    now = sep.join(
        f"{grade_label(g, lang)} {n}" for g, n in zip(result.grades["grade"], result.grades["units"], strict=True)
    )
    if result.previous_period is None:
        return say("report.summary.grades", lang, units=result.units, grades=now)
    before = sep.join(
        f"{grade_label(g, lang)} {int(n)}"
        for g, n in zip(result.grades["grade"], result.grades["previous"], strict=True)
    )
    return say(
        "report.summary.grades_previous",
        lang,
        units=result.units,
        grades=now,
        previous_period=result.previous_period,
        previous=before,
    )


def _due(result: QuarterlySummary) -> str:
    return result.deadline.strftime("%Y-%m-%d")


def _action_text(result: QuarterlySummary, row: Any, lang: str) -> str:
    """One action in words: who — what — by when."""
    if row.who == DATA_OFFICE:
        who = say("report.summary.who.data_office", lang)
    else:
        who = _unit_list(row.unit_ids, lang)
    sep = say("common.list_sep", lang)
    if row.action == "fix_quarantine":
        rows = int(result.quarantine["rows"].sum())
        items = sep.join(row.items)
        what = say("report.summary.action.fix_quarantine", lang, rows=rows, reasons=items)
    elif row.action == "difficulty_coefficient":
        what = say("report.summary.action.difficulty_coefficient", lang, classes=sep.join(row.items))
    elif row.action == "report_on_time":
        rules = result.framework.reporting
        what = say(
            "report.summary.action.report_on_time",
            lang,
            day=rules.deadline_day,
            offset=rules.deadline_month_offset,
        )
    else:
        names = sep.join(_item_name(result.framework, i, lang) for i in row.items)
        what = say(f"report.summary.action.{row.action}", lang, items=names)
    return say("report.summary.action_line", lang, who=who, what=what, due=_due(result))


def _data_sentences(result: QuarterlySummary, lang: str) -> list[SafeMarkdown]:
    from perfmodel.validation import reason_text

    parts: list[SafeMarkdown] = []
    data = result.data.set_index("problem")
    if len(result.quarantine):
        reasons = say("report.summary.data.reason_sep", lang).join(
            say(
                "report.summary.data.reason",
                lang,
                reason=with_code(_first_sentence(reason_text(r, lang)) or r, r, lang),
                n=n,
            )
            for r, n in zip(result.quarantine["reason"], result.quarantine["rows"], strict=True)
        )
        parts.append(
            say_md(
                "report.summary.data.quarantined_rows", lang, n=int(data.loc["quarantined_rows", "n"]), reasons=reasons
            )
        )
    if data.loc["not_graded", "n"]:
        parts.append(say_md("report.summary.data.not_graded", lang, n=int(data.loc["not_graded", "n"])))
    if data.loc["low_coverage", "n"]:
        names = say("common.list_sep", lang).join(
            _item_name(result.framework, i, lang) for i in data.loc["low_coverage", "items"]
        )
        parts.append(
            say_md("report.summary.data.low_coverage", lang, n=int(data.loc["low_coverage", "n"]), names=names)
        )
    if data.loc["late_units", "n"]:
        parts.append(say_md("report.summary.data.late_units", lang, n=int(data.loc["late_units", "n"])))
    if data.loc["imputed_values", "n"]:
        parts.append(say_md("report.summary.data.imputed_values", lang, n=int(data.loc["imputed_values", "n"])))
    if not parts:
        parts.append(say_md("report.summary.data.none", lang))
    return parts


def _first_sentence(text: str) -> str:
    """The first sentence of a catalogue explanation (what is wrong; the rest says how to fix it)."""
    for stop in ("。", ". "):
        if stop in text:
            return text.split(stop, 1)[0]
    return text.rstrip(".")


def _change_sentences(result: QuarterlySummary, lang: str) -> list[SafeMarkdown]:
    if result.previous_period is None:
        return [say_md("report.summary.changes.no_previous", lang)]
    changes = result.changes.set_index("kind")
    parts = [
        say_md(
            "report.summary.changes.grades",
            lang,
            previous_period=result.previous_period,
            up=int(changes.loc["grade_up", "current"]),
            down=int(changes.loc["grade_down", "current"]),
        )
    ]
    for kind in ACTION_KINDS:
        if kind in changes.index:
            parts.append(
                say_md(
                    "report.summary.changes.kind",
                    lang,
                    kind=say(f"report.summary.kind.{kind}", lang),
                    previous=int(changes.loc[kind, "previous"]),
                    current=int(changes.loc[kind, "current"]),
                )
            )
    return parts


def _needs_action_frame(result: QuarterlySummary, lang: str) -> pd.DataFrame:
    groups = result.needs_action()
    return pd.DataFrame(
        {
            say("report.summary.column.kind", lang): [say(f"report.summary.kind.{k}", lang) for k in groups["kind"]],
            say("report.summary.column.reason", lang): [
                _group_reason(result.framework, c, i, lang) for c, i in zip(groups["code"], groups["item"], strict=True)
            ],
            say("report.summary.column.units", lang): groups["units"].astype(int),
            say("report.summary.column.unit_ids", lang): [_unit_list(ids, lang) for ids in groups["unit_ids"]],
        }
    )


def _moves_frame(result: QuarterlySummary, lang: str) -> pd.DataFrame:
    m = result.moves
    names = m["name"] if "name" in m.columns else pd.Series(None, index=m.index, dtype=object)  # officers: ids only
    frame = pd.DataFrame(
        {
            say("report.summary.column.unit", lang): [
                with_code(n, u, lang) if isinstance(n, str) and n else u
                for u, n in zip(m["unit_id"], names, strict=True)
            ],
            say("report.summary.column.peer_group", lang): m["peer_group"],
            say("report.summary.column.rank_move", lang): [
                f"{int(p)} → {int(r)}" for p, r in zip(m["previous_rank"], m["rank"], strict=True)
            ],
            say("report.summary.column.rank_change", lang): [f"{int(c):+d}" for c in m["rank_change"]],
            say("report.summary.column.grade", lang): [
                f"{grade_label(p, lang)} → {grade_label(g, lang)}" if p != g else str(grade_label(g, lang))
                for p, g in zip(m.get("previous_grade", m["grade"]), m["grade"], strict=True)
            ],
        }
    )
    return _without_single_group(frame, m["peer_group"], lang)


def _without_single_group(frame: pd.DataFrame, groups: pd.Series, lang: str) -> pd.DataFrame:
    """``frame`` without its peer-group column when every unit is in one group (it says nothing then)."""
    if groups.nunique() > 1:
        return frame
    return frame.drop(columns=say("report.summary.column.peer_group", lang))


def flagged_table(result: QuarterlySummary, lang: str = "zh") -> pd.DataFrame:
    """Every unit that needs action with each reason in words (code beside it), for the appendix."""
    check_lang(lang)
    f = result.flagged
    reasons = []
    for row in f.to_dict("records"):
        if str(row["code"]).startswith("warning:"):
            reasons.append(_group_reason(result.framework, row["code"], None, lang))
        else:
            reasons.append(with_code(flag_phrase(row, result.framework, lang), row["code"], lang))
    frame = pd.DataFrame(
        {
            say("report.summary.column.unit", lang): f["unit_id"],
            say("report.summary.column.name", lang): f["name"],
            say("report.summary.column.peer_group", lang): f["peer_group"],
            say("report.summary.column.grade", lang): [grade_label(g, lang) for g in f["grade"]],
            say("report.summary.column.kind", lang): [say(f"report.summary.kind.{k}", lang) for k in f["kind"]],
            say("report.summary.column.reason", lang): reasons,
        }
    )
    return _without_single_group(frame, f["peer_group"], lang)


def _bullets(items: Sequence[SafeMarkdown]) -> SafeMarkdown:
    """A Markdown bullet list of ``items`` (one item stays a paragraph)."""
    if len(items) == 1:
        return items[0]
    return join("\n", [md("- {item}", item=item) for item in items])


def summary_page(result: QuarterlySummary, lang: str | None = None) -> list[Any]:
    """The summary page to display in order: headings and text (:class:`SafeMarkdown`), tables, a page break.

    Parameters
    ----------
    result
        From :func:`build_summary`.
    lang
        ``zh`` or ``en`` (default: the result's).

    Returns
    -------
    list
        ``SafeMarkdown`` and table ``Styler`` objects (:func:`perfmodel.report.render.table`),
        ending with :func:`~perfmodel.report.render.page_break`.
    """
    lang = result.lang if lang is None else lang
    check_lang(lang)

    def heading(key: str, level: int = 3) -> SafeMarkdown:
        return md("#" * level + " {title}", title=say(f"report.summary.heading.{key}", lang))

    parts: list[Any] = [heading("page", 2), md("{text}", text=_grades_sentence(result, lang))]
    parts.append(heading("needs_action"))
    if result.flagged.empty:
        parts.append(say_md("report.summary.no_action", lang))
    else:
        parts.append(say_md("report.summary.needs_action_intro", lang, n=int(result.flagged["unit_id"].nunique())))
        parts.append(table(_needs_action_frame(result, lang)))
    parts.append(heading("moves"))
    if result.moves.empty:
        parts.append(say_md("report.summary.changes.no_previous", lang))
    else:
        parts.append(table(_moves_frame(result, lang)))
    parts.append(heading("data"))
    parts.append(_bullets(_data_sentences(result, lang)))
    parts.append(heading("changes"))
    parts.append(_bullets(_change_sentences(result, lang)))
    parts.append(heading("actions"))
    if result.actions.empty:
        parts.append(say_md("report.summary.no_action", lang))
    else:
        items = [
            md("{k}. {text}", k=k, text=_action_text(result, row, lang))
            for k, row in enumerate(result.actions.itertuples(), start=1)
        ]
        parts.append(join("\n", items))
    rule = "report.summary.deadline_given" if result.deadline_given else "report.summary.deadline_rule"
    rules = result.framework.reporting
    parts.append(say_md(rule, lang, due=_due(result), day=rules.deadline_day, offset=rules.deadline_month_offset))
    parts.append(page_break())
    return parts
