"""Score workbooks people can read: headers in the report language, formats, colours, notes.

:func:`score_workbook` turns a scores table (and optional detail tables) into
the sheets and formats of one workbook: an all-units sheet, one sheet per peer
group, the detail tables, and a "说明" / "notes" sheet with one row per column
(header, meaning, unit). Headers, meanings and units come from
:data:`perfmodel.glossary.COLUMNS`, dimension and indicator columns are named
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
from perfmodel.glossary import COLUMNS, FORMATS, column_info
from perfmodel.grading import NOT_GRADED
from perfmodel.groups import group_order
from perfmodel.io import SheetFormat, write_workbook
from perfmodel.text import check_lang

__all__ = ["GRADE_FILLS", "GRADE_LABELS", "SHEET_LABELS", "score_workbook", "write_score_workbook"]

GRADE_FILLS: dict[str, str] = {
    "优秀": "C6EFCE",
    "良好": "DDEBF7",
    "合格": "FFEB9C",
    "不合格": "FFC7CE",
    NOT_GRADED: "E7E6E6",
}
"""Grade → cell colour (light tints of the report's grade colours, so black text stays legible)."""

GRADE_LABELS: dict[str, dict[str, str]] = {
    "zh": {},
    "en": {"优秀": "Excellent", "良好": "Good", "合格": "Pass", "不合格": "Fail", NOT_GRADED: "Not graded"},
}
"""Grade code → text shown in each language (codes not listed are shown as they are)."""

SHEET_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "all": "全部单位", "notes": "说明", "indicator_values": "指标实际值", "normalised": "指标标准化得分",
        "breaches": "硬性指标未达标", "negative_list": "负面清单", "grading_notes": "评定说明",
        "quarantine": "隔离数据", "weights": "指标体系权重", "sheet": "工作表", "header": "列名",
        "meaning": "含义", "unit": "单位",
    },
    "en": {
        "all": "All units", "notes": "notes", "indicator_values": "Indicator values",
        "normalised": "Normalised scores", "breaches": "Threshold breaches", "negative_list": "Negative list",
        "grading_notes": "Grading notes", "quarantine": "Quarantine", "weights": "Weights", "sheet": "Sheet",
        "header": "Column", "meaning": "Meaning", "unit": "Unit",
    },
}
"""Sheet names and the notes sheet's own headers in each language."""

_ITEM_NAME = {
    "zh": ("名称", "指标或事项的名称", ""),
    "en": ("Name", "name of the indicator or item", ""),
}
"""``name`` in the breach and negative-list tables names the indicator or item, not the unit."""
_DIMENSION = {"zh": "维度得分:{name}(0–100)", "en": "dimension score: {name} (0–100)"}
_VALUE = {"zh": "指标实际值:{name}(期间汇总)", "en": "indicator value: {name} (period total or mean)"}
_NORMALISED = {"zh": "指标标准化得分:{name}(0–100)", "en": "normalised indicator score: {name} (0–100)"}


def _describe(code: str, fw: Framework, lang: str, table: str) -> tuple[str, str, str, str]:
    """Header, meaning, unit and display kind of column ``code`` of sheet ``table``."""
    nodes = {info.node.id: info.node for info in fw.walk()}
    if code in nodes and table in ("scores", "indicator_values", "normalised"):
        node = nodes[code]
        name = node.name.en if lang == "en" else node.name.zh
        if table == "scores":
            return name, _DIMENSION[lang].format(name=name), "points" if lang == "en" else "分", "score"
        if table == "normalised":
            return name, _NORMALISED[lang].format(name=name), "points" if lang == "en" else "分", "score"
        unit = getattr(node, "unit", None) or ""
        kind = "percent" if getattr(node, "kind", "") == "rate" else "number"
        return name, _VALUE[lang].format(name=name), unit, kind
    if code == "name" and table in ("breaches", "negative_list"):
        return (*_ITEM_NAME[lang], "text")
    info = column_info(code, lang)
    if info is None:
        return code, "", "", "text"
    return (*info, COLUMNS[code].kind)


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
    labels = SHEET_LABELS[lang]
    grades = GRADE_LABELS[lang]
    parts: list[tuple[str, str, pd.DataFrame]] = [("scores", labels["all"], scores)]
    if "peer_group" in scores.columns and scores["peer_group"].nunique() > 1:
        for group in group_order(scores["peer_group"].dropna()):
            parts.append(("scores", group, scores[scores["peer_group"].astype(str) == group]))
    for code, table in (tables or {}).items():
        parts.append((code, labels.get(code, code), table))
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
        for column in ("grade", "previous_grade"):
            if column in shown.columns and grades:
                shown[column] = shown[column].map(lambda g: grades.get(g, g), na_action="ignore")
        shown.columns = headers
        fills = {}
        for column in ("grade", "previous_grade"):
            if column in table.columns:
                header = headers[list(table.columns).index(column)]
                fills[header] = {grades.get(g, g): rgb for g, rgb in GRADE_FILLS.items()}
        sheets[sheet] = shown
        formats[sheet] = SheetFormat(number_formats=number_formats, fills=fills)
    rows = [
        {labels["header"]: h, labels["meaning"]: m, labels["unit"]: u, labels["sheet"]: ", ".join(s)}
        for (h, m, u), s in notes.items()
    ]
    sheets[labels["notes"]] = pd.DataFrame(rows, columns=[labels[k] for k in ("header", "meaning", "unit", "sheet")])
    formats[labels["notes"]] = SheetFormat()
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
