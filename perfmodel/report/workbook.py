"""Score workbooks people can read: headers in the report language, formats, colours, notes.

:func:`score_workbook` turns a scores table (and optional detail tables) into
the sheets and formats of one workbook: an all-units sheet, one sheet per peer
group, the detail tables, and a "说明" / "notes" sheet with one row per column
(header, meaning, unit). Headers, meanings and units come from
the catalogue (:mod:`perfmodel.glossary`, :mod:`perfmodel.text`: ``column.*``,
``workbook.*``, ``grade.*``), dimension and indicator columns are named
after the framework. Values keep full precision; rounding is an Excel number
format (scores ``0.0``, shares ``0.0%``, ranks ``0``). Grade cells are coloured.
:func:`write_score_workbook` writes it with :func:`perfmodel.io.write_workbook`,
the one workbook writer (formula guard, identical bytes on every run).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from perfmodel.framework import Framework
from perfmodel.glossary import COLUMNS, FORMATS, column_info, grade_label
from perfmodel.grading import NOT_GRADED
from perfmodel.groups import group_order
from perfmodel.io import SheetFormat, write_workbook
from perfmodel.text import check_lang, say

__all__ = ["GRADE_FILLS", "SHEETS", "score_workbook", "write_score_workbook"]

GRADE_FILLS: dict[str, str] = {
    "优秀": "C6EFCE",
    "良好": "DDEBF7",
    "合格": "FFEB9C",
    "不合格": "FFC7CE",
    NOT_GRADED: "E7E6E6",
}
"""Grade → cell colour (light tints of the report's grade colours, so black text stays legible)."""

SHEETS: tuple[str, ...] = (
    "all",
    "notes",
    "indicator_values",
    "normalised",
    "breaches",
    "negative_list",
    "grading_notes",
    "quarantine",
    "weights",
)
"""Tables with a sheet name of their own (``workbook.sheet.<code>`` in the catalogue); others are named by code."""


def _sheet_name(code: str, lang: str) -> str:
    return say(f"workbook.sheet.{code}", lang) if code in SHEETS else code


def _describe(code: str, fw: Framework, lang: str, table: str) -> tuple[str, str, str, str]:
    """Header, meaning, unit and display kind of column ``code`` of sheet ``table``."""
    nodes = {info.node.id: info.node for info in fw.walk()}
    if code in nodes and table in ("scores", "indicator_values", "normalised"):
        node = nodes[code]
        name = node.name.in_lang(lang)
        if table in ("scores", "normalised"):
            meaning = "workbook.column.dimension" if table == "scores" else "workbook.column.normalised"
            return name, say(meaning, lang, name=name), say("column_unit.score", lang), "score"
        unit = getattr(node, "unit", None) or ""
        kind = "percent" if getattr(node, "kind", "") == "rate" else "number"
        return name, say("workbook.column.value", lang, name=name), unit, kind
    if code == "name" and table in ("breaches", "negative_list"):
        return say("workbook.column.item_name", lang), say("workbook.column.item_name_meaning", lang), "", "text"
    info = column_info(code, lang)
    if info is None:
        return code, "", "", "text"
    return (*info, COLUMNS[code])


def score_workbook(
    scores: pd.DataFrame,
    framework: Framework,
    *,
    lang: str = "zh",
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, SheetFormat]]:
    """The sheets and formats of a readable score workbook.

    Parameters
    ----------
    scores
        :attr:`perfmodel.evaluation.Evaluation.scores` (or a copy with fewer columns).
    framework
        The framework scored; names the dimension and indicator columns.
    lang
        ``zh`` or ``en``: headers, sheet names, grades and notes.
    tables
        Detail tables by code (``indicator_values``, ``normalised``, ``breaches``,
        ``negative_list``, ``grading_notes``, ``quarantine``, ``weights`` or any
        other name), each written as a sheet after the peer groups.

    Returns
    -------
    sheets, formats
        Sheet name → table (headers translated), and sheet name → :class:`~perfmodel.io.SheetFormat`,
        ready for :func:`perfmodel.io.write_workbook`.
    """
    check_lang(lang)
    parts: list[tuple[str, str, pd.DataFrame]] = [("scores", _sheet_name("all", lang), scores)]
    if "peer_group" in scores.columns and scores["peer_group"].nunique() > 1:
        for group in group_order(scores["peer_group"].dropna()):
            parts.append(("scores", group, scores[scores["peer_group"].astype(str) == group]))
    for code, table in (tables or {}).items():
        parts.append((code, _sheet_name(code, lang), table))
    sheets: dict[str, pd.DataFrame] = {}
    formats: dict[str, SheetFormat] = {}
    notes: dict[tuple[str, str, str], list[str]] = {}
    for code, sheet, table in parts:
        shown = table.reset_index(drop=True).copy()
        headers, number_formats = [], {}
        for column in shown.columns:
            header, meaning, unit, kind = _describe(str(column), framework, lang, code)
            while header in headers:  # two codes with one header: keep both apart
                header += "*"
            headers.append(header)
            if kind in FORMATS and pd.api.types.is_numeric_dtype(shown[column]):
                number_formats[header] = FORMATS[kind]
            notes.setdefault((header, meaning, unit), []).append(sheet)
        for column in ("grade", "previous_grade", "grade_cap"):  # grade codes, shown in words
            if column in shown.columns:
                shown[column] = shown[column].map(lambda g: grade_label(g, lang), na_action="ignore")
        shown.columns = headers
        fills = {}
        for column in ("grade", "previous_grade"):
            if column in table.columns:
                header = headers[list(table.columns).index(column)]
                fills[header] = {grade_label(g, lang): rgb for g, rgb in GRADE_FILLS.items()}
        sheets[sheet] = shown
        formats[sheet] = SheetFormat(number_formats=number_formats, fills=fills)
    headers = {k: say(f"workbook.notes.{k}", lang) for k in ("header", "meaning", "unit", "sheet")}
    rows = [
        {headers["header"]: h, headers["meaning"]: m, headers["unit"]: u, headers["sheet"]: ", ".join(s)}
        for (h, m, u), s in notes.items()
    ]
    sheets[_sheet_name("notes", lang)] = pd.DataFrame(rows, columns=list(headers.values()))
    formats[_sheet_name("notes", lang)] = SheetFormat()
    return sheets, formats


def write_score_workbook(
    scores: pd.DataFrame,
    framework: Framework,
    path: str | Path,
    *,
    lang: str = "zh",
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write :func:`score_workbook` to ``path`` (an ``.xlsx``) with :func:`perfmodel.io.write_workbook`.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    check_lang(lang)
    sheets, formats = score_workbook(scores, framework, lang=lang, tables=tables)
    return write_workbook(sheets, path, formats)
