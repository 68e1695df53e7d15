"""PDF and Word reports (perfmodel.report.export): same content as the HTML, print-ready, names as text."""

from __future__ import annotations

import base64
import io
import json
import re

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfmodel.errors import OptionError
from perfmodel.report import export
from perfmodel.report.notebook_html import mark_numeric_cells
from perfmodel.report.render import md, table

pdfium = pytest.importorskip("pypdfium2")
docx = pytest.importorskip("docx")

#: Text that would be markup in Typst, Markdown, HTML or a Word field if it were not escaped.
ATTACKS = [
    '#import "evil.typ": *',
    "$x^2$",
    "[link](http://x)",
    "<script>alert(1)</script>",
    "*bold* _it_",
    "@ref \\ ` ] }",
    "= heading",
]
A4_POINTS = (595.3, 841.9)


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title("figure")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _notebook(path, rows: int = 160):
    """An executed report notebook: a heading, a hidden code input, a long ranking table, a figure."""
    units = pd.DataFrame(
        {
            "单位编号": [f"PS{k:03d}" for k in range(rows)],
            "单位名称": [ATTACKS[k % len(ATTACKS)] + f" 派出所{k}" for k in range(rows)],
            "综合得分": [100 - k * 0.5 for k in range(rows)],
            "提示": ["负面清单:执法过错×1(等级最高合格); 迟报16条" if k % 3 == 0 else "" for k in range(rows)],
        }
    )
    nb = nbformat.v4.new_notebook()
    heading = nbformat.v4.new_markdown_cell("# 季度绩效考核报告\n\n说明文字。")
    code = nbformat.v4.new_code_cell("secret_code_line = 1")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": str(md("单位 {name}", name=ATTACKS[0]))}),
        nbformat.v4.new_output("display_data", data={"text/html": table(units).to_html()}),
        nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(_png()).decode()}),
    ]
    nb.cells = [heading, code]
    nbformat.write(nb, path)
    return path, units


def _pdf_pages(path) -> list[str]:
    document = pdfium.PdfDocument(str(path))
    return [document[k].get_textpage().get_text_range() for k in range(len(document))]


def _squeezed(text: str) -> str:
    """Text without whitespace and hyphens (a wrapped or hyphenated table cell reads back in pieces)."""
    return re.sub(r"[\s\-\u00ad]+", "", text)


def test_check_formats_always_includes_html_and_refuses_unknown_names():
    assert export.check_formats("html") == ("html",)
    assert export.check_formats("docx, PDF") == ("html", "pdf", "docx")
    assert export.check_formats(["pdf"]) == ("html", "pdf")
    with pytest.raises(OptionError, match="'odt'.*html, pdf, docx"):
        export.check_formats("pdf,odt")


@given(
    st.lists(st.floats(0, 200), min_size=1, max_size=15),
    st.lists(st.floats(0, 30), min_size=15, max_size=15),
)
def test_column_widths_fill_at_most_the_page_and_leave_the_long_columns_their_share(data, headers):
    headers = headers[: len(data)]
    widths = export._column_widths(data, headers)
    natural = [max(d, h, 2) + export.CELL_PADDING_CHARS for d, h in zip(data, headers, strict=True)]
    wide = [d > export.LONGEST_COLUMN_CHARS for d in data]
    if sum(natural) <= export.PAGE_WIDTH_CHARS or not any(wide):
        assert widths is None
        return
    assert widths is not None and len(widths) == len(data)
    assert all(w > 0 for w in widths)
    assert sum(widths) == pytest.approx(1.0)
    assert sum(w for w, flag in zip(widths, wide, strict=True) if flag) >= export.MIN_WIDE_SHARE - 1e-9
    narrow_natural = sum(n for n, flag in zip(natural, wide, strict=True) if not flag)
    if narrow_natural <= export.PAGE_WIDTH_CHARS * (1 - export.MIN_WIDE_SHARE):  # room: nothing narrow shrinks
        for w, n, flag in zip(widths, natural, wide, strict=True):
            if not flag:
                assert w == pytest.approx(n / export.PAGE_WIDTH_CHARS)


def test_numeric_columns_are_right_aligned_and_text_left(tmp_path):
    html = table(pd.DataFrame({"name": ["a", "b"], "score": [1.5, 2.0], "rank": [1, 2]})).to_html()
    tree = json.loads(export._tree(mark_numeric_cells(html)))
    (found,) = list(export._tables(tree))
    assert [spec[0]["t"] for spec in found["c"][2]] == ["AlignLeft", "AlignRight", "AlignRight"]


@pytest.fixture(scope="module")
def report_notebook(tmp_path_factory):
    return _notebook(tmp_path_factory.mktemp("export") / "report.ipynb")


def test_pdf_is_a4_numbered_with_a_running_header_and_embedded_chinese_font(report_notebook, tmp_path):
    path, units = report_notebook
    header = "派出所考核 " + ATTACKS[0] + " · 2025Q2"
    pdf = export.export_pdf(path, tmp_path / "report.pdf", title=header, header=header, lang="zh")
    pages = _pdf_pages(pdf)
    assert len(pages) >= 3, "160 ranked units make a multi-page table"
    document = pdfium.PdfDocument(str(pdf))
    for k in range(len(document)):
        assert document[k].get_size() == pytest.approx(A4_POINTS, abs=0.5)
    n = len(pages)
    for k, text in enumerate(pages, start=1):
        assert f"{k} / {n}" in text, f"page {k} has its number"
        assert (header in text) == (k > 1), "the running header is on every page but the first"
        if k > 1:
            assert "单位编号" in text and "综合得分" in text, "the table header repeats on every page"
    everything = _squeezed("".join(pages))
    assert all(_squeezed(name) in everything for name in units["单位名称"]), "every name shows as its text"
    assert "secret_code_line" not in everything, "code stays out, as in the HTML"
    raw = pdf.read_bytes()
    assert b"NotoSansSC" in raw, "the Chinese font is embedded"
    assert b"/Image" in raw or b"/XObject" in raw, "the figure is in the PDF"


def test_pdf_in_english_names_its_language(report_notebook, tmp_path):
    path, _ = report_notebook
    pdf = export.export_pdf(path, tmp_path / "report.pdf", title="t", header="Framework · 2025Q2", lang="en")
    assert "English" in _pdf_pages(pdf)[1]
    with pytest.raises(OptionError):
        export.export_pdf(path, tmp_path / "x.pdf", title="t", header="h", lang="fr")


def test_word_report_has_headings_tables_figures_and_names_as_text(report_notebook, tmp_path):
    path, units = report_notebook
    written = export.export_docx(path, tmp_path / "report.docx")
    document = docx.Document(str(written))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:1] == ["季度绩效考核报告"]
    assert len(document.tables) == 1
    word_table = document.tables[0]
    assert [c.text for c in word_table.rows[0].cells] == list(units.columns)
    assert [row.cells[1].text for row in word_table.rows[1:]] == list(units["单位名称"])
    assert len(document.inline_shapes) == 1, "the figure is embedded"
    assert any(ATTACKS[0] in p.text for p in document.paragraphs)
    assert not any("secret_code_line" in p.text for p in document.paragraphs)
    fonts = document.styles["Normal"].element.rPr.rFonts
    assert fonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "宋体"
