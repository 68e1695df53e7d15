"""What every rendering of a report notebook shares: which cells are hidden, which table cells are numbers.

The HTML report (:func:`perfmodel.report.runner.export_html_report`) and its PDF
and Word versions (:mod:`perfmodel.report.export`) show the same cells: code
inputs, prompts and cells with one of :data:`HIDDEN_CELL_TAGS` are left out.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "HIDDEN_CELL_TAGS",
    "INJECTED_TAG",
    "PAPERMILL_ERROR_TAG",
    "PARAMETERS_TAG",
    "hide_cells_config",
    "mark_numeric_cells",
]

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
#: Cells with these tags are left out of the HTML report.
HIDDEN_CELL_TAGS = frozenset({PARAMETERS_TAG, INJECTED_TAG, PAPERMILL_ERROR_TAG, "remove-cell"})


def hide_cells_config() -> Any:
    """nbconvert settings that leave out code inputs, prompts and hidden cells (a ``traitlets`` ``Config``)."""
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_CELL_TAGS)
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    return config


_NUMBER = re.compile(r"^[+\-\u2212]?(?:[\d,]*\.?\d+(?:[eE][+\-]?\d+)?|inf)\s*%?$")
#: Texts pandas (and ``Styler.format(na_rep=...)``) use for missing numbers.
_MISSING_MARKERS = frozenset({"NaN", "nan", "<NA>", "NaT", "None", "-", "\u2013", "\u2014"})


def mark_numeric_cells(html: str) -> str:
    """Add class ``num`` to numeric table cells, so the report CSS right-aligns them.

    A data cell (``td``) is numeric when its text is a number (optionally signed, with
    thousands separators, exponent or percent sign) or a missing-value marker (``NaN``,
    ``<NA>``, a dash). A header cell gets the class when the data cells below it are
    all numbers or missing markers, at least one a number (only in tables without
    ``colspan``/``rowspan``, where columns are unambiguous).
    """
    from bs4 import BeautifulSoup

    if "<table" not in html:
        return html
    soup = BeautifulSoup(html, "html.parser")

    def add_class(cell: Any) -> None:
        classes = list(cell.get("class") or [])
        if "num" not in classes:
            cell["class"] = [*classes, "num"]

    for table in soup.find_all("table"):
        cells = table.find_all(["td", "th"])
        simple = not any(c.get("colspan") or c.get("rowspan") for c in cells)
        body = table.find("tbody")
        rows = (body or table).find_all("tr")
        numeric_column: dict[int, bool] = {}
        for row in rows:
            if row.find_parent("thead") is not None:
                continue
            for pos, cell in enumerate(row.find_all(["td", "th"], recursive=False)):
                text = cell.get_text(strip=True)
                missing = not text or text in _MISSING_MARKERS
                is_number = cell.name == "td" and bool(_NUMBER.match(text))
                if cell.name == "td" and (is_number or (missing and text)):
                    add_class(cell)
                if not missing or cell.name == "th":
                    numeric_column[pos] = numeric_column.get(pos, True) and is_number
        head = table.find("thead")
        if simple and head is not None:
            for row in head.find_all("tr"):
                for pos, cell in enumerate(row.find_all(["td", "th"], recursive=False)):
                    if numeric_column.get(pos) and cell.get_text(strip=True):
                        add_class(cell)
    return str(soup)
