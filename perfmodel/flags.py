"""Flags: what a reader should know about a unit's result, as codes in data and words at display time.

An evaluation records every flag in the long table ``stages["flags"]``, one
row per flag, in the order the pipeline raised them:

=========== ================================================================
column      meaning
=========== ================================================================
unit_id     the unit
code        one of :data:`FLAG_CODES`
item        what the flag is about: the negative-list item id
            (``negative_list``), the indicator id (``hard_threshold``) or
            the difficulty-class label (``no_difficulty_coefficient``);
            empty otherwise
count       a count: months with data (``incomplete_data``), hits
            (``negative_list``), rows reported late (``late_reports``)
of          months in the period (``incomplete_data``)
value       a measured value: the share of weight observed
            (``low_availability``), the indicator's value
            (``hard_threshold``), the score (``non_finite_score``)
limit       the rule's bound: months required (``incomplete_data``), the
            minimum share (``low_availability``)
=========== ================================================================

The ``flags`` column of :attr:`Evaluation.scores` holds the same flags as
codes joined by ``"; "``, each as ``code`` or ``code:item``
(``negative_list:complaint_upheld; late_reports``) — stable text to filter
on, never prose. :func:`flag_text` turns a unit's flags into words in Chinese
or English from the message catalogue (``flag.<code>`` in
``perfmodel/data/messages.toml``), with the names of items and indicators
taken from the framework.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.framework import Framework
from perfmodel.text import check_lang, say

__all__ = ["FLAG_CODES", "FLAG_COLUMNS", "FlagLog", "flag_codes", "flag_phrase", "flag_text", "with_flag_text"]

FLAG_CODES: dict[str, str] = {
    "incomplete_data": "fewer months with data than the framework requires: not graded",
    "low_availability": "less of the unit's weight observed than missing.min_availability: not graded",
    "no_difficulty_coefficient": "the unit's difficulty class has no coefficient: 1 is used",
    "negative_list": "a negative-list item was recorded (a deduction, a grade cap or a warning)",
    "hard_threshold": "an indicator breached its hard threshold (set to the bottom of the range or grade capped)",
    "non_finite_score": "the score is not a finite number (an absurd input): not ranked, not graded",
    "quota_tie_broken": "tied on score across a quota boundary: the tie-break chain decided",
    "quota_tie_lowered": "still tied after the tie-break chain with too few quota places: the lower grade",
    "late_reports": "observations of the period were reported late",
}
"""Every flag code, in the order the pipeline raises them, with what it means."""

FLAG_COLUMNS: tuple[str, ...] = ("unit_id", "code", "item", "count", "of", "value", "limit")
"""Columns of ``stages["flags"]``."""

SEPARATOR = "; "
"""Between two flags in the ``flags`` column and in :func:`flag_text`."""


class FlagLog:
    """Collects the flags of an evaluation in the order they are raised.

    :meth:`extend` records one code for many units at once (as columns, not one
    Python tuple per flag: an evaluation of millions of units raises millions of flags).
    """

    def __init__(self) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []

    def add(
        self,
        unit_id: str,
        code: str,
        *,
        item: str | None = None,
        count: float = math.nan,
        of: float = math.nan,
        value: float = math.nan,
        limit: float = math.nan,
    ) -> None:
        """Record one flag of ``unit_id`` (``code`` from :data:`FLAG_CODES`)."""
        self.extend([unit_id], code, item=item, count=count, of=of, value=value, limit=limit)

    def extend(
        self,
        unit_ids: Sequence[str] | np.ndarray | pd.Index,
        code: str,
        *,
        item: str | None | Sequence[str | None] | np.ndarray = None,
        count: float | Sequence[float] | np.ndarray = math.nan,
        of: float | Sequence[float] | np.ndarray = math.nan,
        value: float | Sequence[float] | np.ndarray = math.nan,
        limit: float | Sequence[float] | np.ndarray = math.nan,
    ) -> None:
        """Record flag ``code`` for each of ``unit_ids``, in that order.

        ``item``, ``count``, ``of``, ``value`` and ``limit`` are either one value for
        every unit or one per unit; the same as :meth:`add` called once per unit.
        """
        if code not in FLAG_CODES:
            raise ValueError(f"unknown flag code {code!r}; use one of {', '.join(FLAG_CODES)}")
        ids = unit_ids if isinstance(unit_ids, pd.Index | pd.Series) else pd.Index(np.asarray(unit_ids, dtype=object))
        n = len(ids)
        if not n:
            return
        items = (
            np.full(n, item, dtype=object) if item is None or isinstance(item, str) else np.asarray(item, dtype=object)
        )
        chunk = {"unit_id": ids, "code": np.full(n, code, dtype=object), "item": items}
        for name, given in (("count", count), ("of", of), ("value", value), ("limit", limit)):
            numbers = np.asarray(given, dtype=float)
            chunk[name] = np.full(n, float(numbers)) if numbers.ndim == 0 else numbers
        if any(len(column) != n for column in chunk.values()):
            raise ValueError(f"flag {code!r}: every column needs one value per unit ({n})")
        self._chunks.append(chunk)

    def frame(self, *, release: bool = False) -> pd.DataFrame:
        """The long table ``stages["flags"]`` (:data:`FLAG_COLUMNS`).

        With ``release`` the log is emptied as the table is made, column by column,
        so that the log and the table are never both held whole.
        """
        if not self._chunks:
            return pd.DataFrame([], columns=list(FLAG_COLUMNS)).astype({"item": object})
        chunks = self._chunks
        if release:
            self._chunks = []

        def parts(name: str) -> list:
            return [chunk.pop(name) if release else chunk[name] for chunk in chunks]

        # unit ids stay text arrays (no Python string per flag); the other columns are concatenated as arrays
        units = pd.concat([pd.Series(ids, copy=False) for ids in parts("unit_id")], ignore_index=True)
        out = pd.DataFrame({"unit_id": units.to_numpy() if units.dtype == object else units})
        del units
        for name in FLAG_COLUMNS[1:]:
            out[name] = np.concatenate(parts(name))
        out["item"] = out["item"].astype(object)  # as a frame of tuples infers it: None, or NaN beside text
        return out


def flag_codes(flags: pd.DataFrame, units: Iterable[str]) -> list[str]:
    """The ``flags`` column: each unit's codes (``code`` or ``code:item``) joined by ``"; "``.

    Examples
    --------
    >>> log = FlagLog()
    >>> log.add("a", "negative_list", item="complaint_upheld", count=1)
    >>> log.add("a", "late_reports", count=3)
    >>> flag_codes(log.frame(), ["a", "b"])
    ['negative_list:complaint_upheld; late_reports', '']
    """
    order = units if isinstance(units, pd.Index) else pd.Index(list(units))
    listed = order.unique()
    if flags.empty or not len(listed):
        return [""] * len(order)
    # Each flag as (unit position, label id) from factorised columns: no Python string per flag. A unit's
    # flags are few, the flags of millions of units are not: each array of one number per flag is let go
    # as soon as the next is made, and the numbers are 32-bit where they fit.
    small = np.int32 if max(len(flags), len(listed)) < 2**31 - 1 else np.int64
    unit_code, flagged = pd.factorize(flags["unit_id"])
    position = listed.get_indexer(flagged).astype(small)[unit_code]
    del unit_code, flagged
    code_id, codes = pd.factorize(flags["code"])
    item_id, items = pd.factorize(flags["item"])  # -1: no item
    width = len(items) + 1  # a (code, item) pair as one number: code × width + item + 1
    code_id *= width
    code_id += item_id + 1
    del item_id
    pair_of_flag, pair_values = pd.factorize(code_id)  # label ids in the order first raised
    del code_id
    labels = []
    for pair in pair_values.tolist():
        code, item = divmod(pair, width)
        labels.append(str(codes[code]) if item == 0 else f"{codes[code]}:{items[item - 1]}")
    by_unit = np.flatnonzero(position >= 0)
    by_unit = by_unit[np.argsort(position[by_unit], kind="stable")]  # each unit's flags together, in order raised
    unit = position[by_unit]
    del position
    label = (pair_of_flag[by_unit] + 1).astype(np.int32)  # 0: no flag
    del pair_of_flag, by_unit
    first = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])  # where each unit's flags start
    nth = np.arange(len(unit), dtype=small)
    np.subtract(nth, np.repeat(first, np.diff(np.r_[first, len(unit)])).astype(small), out=nth)
    # one row per unit: its label ids in order (0: none); units with the same flags share one text
    sequence = np.zeros((len(listed), int(nth.max(initial=0)) + 1), dtype=np.int32)
    sequence[unit, nth] = label
    del unit, nth, label
    rows, which = np.unique(sequence, axis=0, return_inverse=True)
    del sequence
    texts = np.array([SEPARATOR.join(labels[k - 1] for k in row if k) for row in rows.tolist()], dtype=object)
    joined = texts[which.reshape(-1)]
    return joined[listed.get_indexer(order)].tolist() if len(listed) != len(order) else joined.tolist()


def _name(framework: Framework, node_id: str, lang: str) -> str:
    for info in framework.walk():
        if info.id == node_id:
            return str(getattr(info.node.name, lang))
    return node_id


def flag_phrase(flag: pd.Series | dict[str, Any], framework: Framework, lang: str = "zh") -> str:
    """One flag (a row of ``stages["flags"]``) in words.

    Parameters
    ----------
    flag
        A row with the :data:`FLAG_COLUMNS`.
    framework
        The evaluation's framework (names of items and indicators, the tie-break chain).
    lang
        ``"zh"`` or ``"en"``.
    """
    check_lang(lang)
    code = flag["code"]
    key = f"flag.{code}"
    item = flag["item"]
    if code == "incomplete_data":
        return say(key, lang, months=int(flag["count"]), of=int(flag["of"]), required=int(flag["limit"]))
    if code == "low_availability":
        return say(key, lang, share=flag["value"], minimum=flag["limit"])
    if code == "no_difficulty_coefficient":
        return say(key, lang, group=item)
    if code == "negative_list":
        hit = next((n for n in framework.negative_list if n.id == item), None)
        if hit is None:
            return say(key, lang, name=item, count=flag["count"], consequence="")
        if hit.consequence == "deduct":
            consequence = say("flag.consequence.deduct", lang, points=hit.points)
        elif hit.consequence == "grade_cap":
            consequence = say("flag.consequence.grade_cap", lang, grade=say(f"grade.{hit.grade_cap}", lang))
        else:
            consequence = say("flag.consequence.warning", lang)
        return say(key, lang, name=getattr(hit.name, lang), count=flag["count"], consequence=consequence)
    if code == "hard_threshold":
        return say(key, lang, name=_name(framework, str(item), lang), value=flag["value"])
    if code == "non_finite_score":
        return say(key, lang, value=float(flag["value"]))
    if code == "quota_tie_broken":
        chain = framework.grading.tie_break
        joined = say("flag.chain_separator", lang).join(chain) if chain else say("flag.chain_empty", lang)
        return say(key, lang, chain=joined)
    if code == "late_reports":
        return say(key, lang, rows=int(flag["count"]))
    return say(key, lang)


def flag_text(
    flags: pd.DataFrame,
    framework: Framework,
    lang: str = "zh",
    *,
    units: Sequence[str] | None = None,
) -> pd.Series:
    """Each unit's flags in words, joined by ``"; "`` (``""`` for a unit without flags).

    Parameters
    ----------
    flags
        ``stages["flags"]`` of an evaluation (or some of its rows).
    framework
        The evaluation's framework.
    lang
        ``"zh"`` or ``"en"``.
    units
        The units to render, in this order (default: the units in ``flags``).

    Returns
    -------
    pandas.Series
        Text indexed by unit id.

    Examples
    --------
    >>> ev = evaluate("station_four_dimension", observations, units, "2025Q2")  # doctest: +SKIP
    >>> flag_text(ev.stages["flags"], ev.framework, "en", units=ev.scores["unit_id"])  # doctest: +SKIP
    """
    check_lang(lang)
    phrases: dict[str, list[str]] = {}
    for row in flags.to_dict("records"):
        phrases.setdefault(row["unit_id"], []).append(flag_phrase(row, framework, lang))
    order = list(dict.fromkeys(flags["unit_id"])) if units is None else list(units)
    return pd.Series(
        [SEPARATOR.join(phrases.get(u, [])) for u in order], index=pd.Index(order, name="unit_id"), dtype=object
    )


def with_flag_text(scores: pd.DataFrame, flags: pd.DataFrame, framework: Framework, lang: str = "zh") -> pd.DataFrame:
    """A copy of a scores table whose ``flags`` column holds the flags in words, for display.

    Parameters
    ----------
    scores
        :attr:`Evaluation.scores` or some of its rows (needs ``unit_id``).
    flags
        The evaluation's ``stages["flags"]``.
    framework
        The evaluation's framework.
    lang
        ``"zh"`` or ``"en"``.
    """
    check_lang(lang)
    text = flag_text(flags, framework, lang, units=scores["unit_id"].tolist())
    return scores.assign(flags=text.to_numpy())
