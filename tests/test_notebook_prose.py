"""Report notebooks read like documents: words from the catalogue, notes for the notebook reader left out of reports.

A report's own text comes from the message catalogue (``perfmodel.text``), so it
is in the report language only; code cells hold no Chinese or English prose of
their own. Markdown cells are for readers of the notebook in JupyterLab and
carry the ``remove-cell`` tag, which the HTML, PDF and Word exports drop.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from perfmodel.report.notebook_html import HIDDEN_CELL_TAGS
from perfmodel.text import has_message

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

CONVERTED = (
    "annual_summary",
    "calibration",
    "development",
    "fairness_audit",
    "methodology_tutorial",
    "monthly_bulletin",
    "reform_targets",
)
"""Report notebooks whose words all come from the catalogue."""

PENDING = ("gaming_lab", "indicator_design_lab")
"""Report notebooks that still choose between inline Chinese and English literals (``… if zh else …``).
This tuple may only shrink: the test fails when one of them no longer does."""

CJK = re.compile(r"[\u4e00-\u9fff]")
INLINE_CHOICE = re.compile(r"\bif zh\b|\bzh = lang\b")
KEY = re.compile(r"""say(?:_md)?\(\s*"([a-z0-9_.]+)\"""")


def _cells(name: str) -> list:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells


def _code_without_comments(cell) -> str:
    return "\n".join(line.split("#", 1)[0] for line in cell.source.splitlines())


@pytest.mark.parametrize("name", CONVERTED)
def test_code_cells_hold_no_prose_and_use_existing_messages(name):
    for index, cell in enumerate(_cells(name)):
        if cell.cell_type != "code":
            continue
        code = _code_without_comments(cell)
        assert not CJK.search(code), f"{name} cell {index}: Chinese text in code; use the catalogue"
        assert not INLINE_CHOICE.search(code), f"{name} cell {index}: inline language choice"
        for key in KEY.findall(code):
            assert has_message(key), f"{name} cell {index}: no message {key!r}"


@pytest.mark.parametrize("name", CONVERTED)
def test_markdown_cells_are_for_notebook_readers_and_left_out_of_reports(name):
    cells = _cells(name)
    markdown = [c for c in cells if c.cell_type == "markdown"]
    assert markdown and cells[0].cell_type == "markdown", "the notebook opens with what it is"
    for cell in markdown:
        assert set(cell.metadata.get("tags", [])) & HIDDEN_CELL_TAGS, cell.source[:60]
    # every section of code is introduced for the reader: no two code cells in a row after the set-up
    kinds = [c.cell_type for c in cells if "parameters" not in c.metadata.get("tags", [])]
    assert kinds.count("markdown") >= len(kinds) // 3


def test_pending_notebooks_are_the_ones_left_with_inline_literals():
    still = {
        path.stem
        for path in NOTEBOOKS.glob("*.ipynb")
        if any(
            c.cell_type == "code" and INLINE_CHOICE.search(_code_without_comments(c))
            for c in nbformat.read(path, as_version=4).cells
        )
    }
    assert still - {"quarterly_evaluation"} == set(PENDING)


@pytest.mark.parametrize("method", ["rules", "cusum"])
def test_warning_method_text_is_in_one_language_with_the_rules_numbers(method):
    from perfmodel.monitor.warnings import DEFAULT_RULES, decline_threshold
    from perfmodel.report.monitor import warnings_methodology_markdown

    english = str(warnings_methodology_markdown(DEFAULT_RULES, method, "en"))
    chinese = str(warnings_methodology_markdown(DEFAULT_RULES, method, "zh"))
    assert not CJK.search(english)
    assert not re.search(r"[A-Za-z]{4,}", chinese.replace("Brook", "").replace("Evans", "").replace("CUSUM", ""))
    c = f"{decline_threshold(DEFAULT_RULES.alpha, DEFAULT_RULES.decline_months):.2f}".replace(".", "\\.")
    for text in (english, chinese):
        assert c in text and str(DEFAULT_RULES.decline_months) in text
        assert (f"{DEFAULT_RULES.arl0:g}" in text) is (method == "cusum")
    assert len(english.splitlines()) == len(chinese.splitlines()) == 6 + (method == "cusum")
