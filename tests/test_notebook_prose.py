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
from perfmodel.text import has_message, templates

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

REPORT_NOTEBOOKS = tuple(sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")))
"""Every notebook under ``notebooks/``: the reports and the training tutorial, all worded from the catalogue."""

CJK = re.compile(r"[\u4e00-\u9fff]")
INLINE_CHOICE = re.compile(r"\bif zh\b|\bzh = lang\b")
KEY = re.compile(r"""say(?:_md)?\(\s*"([a-z0-9_.]+)\"""")


def _cells(name: str) -> list:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells


def _code_without_comments(cell) -> str:
    return "\n".join(line.split("#", 1)[0] for line in cell.source.splitlines())


@pytest.mark.parametrize("name", REPORT_NOTEBOOKS)
def test_code_cells_hold_no_prose_and_use_existing_messages(name):
    for index, cell in enumerate(_cells(name)):
        if cell.cell_type != "code":
            continue
        code = _code_without_comments(cell)
        assert not CJK.search(code), f"{name} cell {index}: Chinese text in code; use the catalogue"
        assert not INLINE_CHOICE.search(code), f"{name} cell {index}: inline language choice"
        for key in KEY.findall(code):
            assert has_message(key), f"{name} cell {index}: no message {key!r}"


@pytest.mark.parametrize("name", REPORT_NOTEBOOKS)
def test_markdown_cells_are_for_notebook_readers_and_left_out_of_reports(name):
    cells = _cells(name)
    markdown = [c for c in cells if c.cell_type == "markdown"]
    assert markdown and cells[0].cell_type == "markdown", "the notebook opens with what it is"
    for cell in markdown:
        assert set(cell.metadata.get("tags", [])) & HIDDEN_CELL_TAGS, cell.source[:60]
    # every section of code is introduced for the reader: no two code cells in a row after the set-up
    kinds = [c.cell_type for c in cells if "parameters" not in c.metadata.get("tags", [])]
    assert kinds.count("markdown") >= len(kinds) // 3


def test_the_checks_catch_inline_prose_and_read_catalogue_keys():
    old = 'zh = lang != "en"\ndisplay(md("## 1. 数据质量" if zh else "## 1. Data quality"))'
    new = 'display(say_md("notebook.gaming_lab.title", lang, name=name, period=period))  # 标题'
    assert CJK.search(old) and len(INLINE_CHOICE.findall(old)) == 2
    code = _code_without_comments(nbformat.v4.new_code_cell(new))
    assert not CJK.search(code) and not INLINE_CHOICE.search(code)
    assert KEY.findall(code) == ["notebook.gaming_lab.title"]
    assert {"gaming_lab", "indicator_design_lab", "design_optimiser", "quarterly_evaluation"} <= set(REPORT_NOTEBOOKS)


@pytest.mark.parametrize("name", [n for n in REPORT_NOTEBOOKS if has_message(f"notebook.{n}.title")])
def test_a_notebooks_english_words_hold_no_chinese(name):
    english = templates(f"notebook.{name}", "en")
    chinese = templates(f"notebook.{name}", "zh")
    assert english.keys() == chinese.keys()
    assert not [key for key, text in english.items() if CJK.search(text)]


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
