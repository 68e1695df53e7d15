"""Print and office formats of a report: PDF (A4, via Typst) and Word (.docx), from the HTML's content.

A report is written once, by its notebook. :func:`export_report` turns the
executed notebook into PDF and Word from the same content as the HTML report:

1. the notebook's visible outputs and markdown (code, prompts and hidden cells
   left out, exactly as in ``report.html``) become one plain HTML document, with
   numeric table cells marked as in the HTML report;
2. pandoc reads that document into its syntax tree; numeric columns are
   right-aligned, text columns left-aligned;
3. pandoc writes the tree as Word (with a reference document whose styles name
   Chinese fonts) and as Typst markup inside :data:`TYPST_TEMPLATE`: A4, page
   numbers "n / N", a running header with framework, period and language, table
   headers repeated on every page, small table type so wide rankings fit the
   page width;
4. the Typst compiler (the ``typst`` wheel, which bundles it) makes the PDF with
   the Noto Sans SC font of ``pylopdf-fonts-zh-cn`` embedded.

A page break is the element ``<div class="page-break"></div>``
(:func:`perfmodel.report.render.page_break`, :data:`PAGE_BREAK_CLASS`) anywhere in
the content: it becomes ``#pagebreak()`` in Typst and a page break
(``<w:br w:type="page"/>``) in Word, and the HTML report's CSS breaks the page
there when printed.

Nothing needs a system browser, LaTeX or the network: pandoc comes from the
``pypandoc-binary`` wheel. Names from the data stay text: pandoc's Typst and
Word writers escape every character of the tree's text.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from perfmodel.errors import OptionError, PerfmodelError
from perfmodel.outputs import write_bytes

__all__ = [
    "EXPORT_FORMATS",
    "ExportError",
    "check_formats",
    "export_docx",
    "export_pdf",
    "page_break_blocks",
    "report_document_html",
]

EXPORT_FORMATS: tuple[str, ...] = ("html", "pdf", "docx")
"""The formats a report can be written in; ``html`` is always the source of the others."""

TEMPLATES = "templates"
TYPST_TEMPLATE = "report.typ"
DOCX_REFERENCE = "reference.docx"


class ExportError(PerfmodelError, RuntimeError):
    """The PDF or Word file could not be made; the message says which step failed."""


def check_formats(formats: str | Sequence[str]) -> tuple[str, ...]:
    """The report formats asked for, as a tuple in :data:`EXPORT_FORMATS` order.

    Parameters
    ----------
    formats
        ``"html,pdf"`` or a sequence of names; ``html`` is always included.

    Raises
    ------
    OptionError
        A name that is not one of :data:`EXPORT_FORMATS`.

    Examples
    --------
    >>> check_formats("pdf, docx")
    ('html', 'pdf', 'docx')
    """
    names = [f.strip().lower() for f in (formats.split(",") if isinstance(formats, str) else formats)]
    unknown = [n for n in names if n and n not in EXPORT_FORMATS]
    if unknown:
        raise OptionError(
            f"format {unknown[0]!r} is not allowed; choose from: {', '.join(EXPORT_FORMATS)}",
            hint="e.g. --format html,pdf,docx",
        )
    return tuple(f for f in EXPORT_FORMATS if f == "html" or f in names)


def report_document_html(executed_notebook: str | os.PathLike[str]) -> str:
    """The report's content as one plain HTML document (no styles, scripts or code).

    The same cells and outputs as ``report.html``
    (:func:`perfmodel.report.runner.export_html_report`): code inputs, prompts and
    hidden cells are left out; numeric table cells carry class ``num``.
    """
    import nbformat
    from nbconvert import HTMLExporter

    from perfmodel.report.notebook_html import hide_cells_config, mark_numeric_cells

    nb = nbformat.read(Path(executed_notebook), as_version=4)
    body, _ = HTMLExporter(config=hide_cells_config(), template_name="basic").from_notebook_node(nb)
    body = re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", body, flags=re.DOTALL)
    return mark_numeric_cells(body)


# ------------------------------------------------------------------ pandoc tree


def _pandoc(
    text: str,
    to: str,
    *,
    source: str,
    extra_args: Sequence[str] = (),
    outputfile: str | None = None,
    workdir: str | None = None,
) -> str:
    import pypandoc

    try:
        return pypandoc.convert_text(
            text, to, format=source, extra_args=list(extra_args), outputfile=outputfile, cworkdir=workdir
        )
    except (RuntimeError, OSError) as exc:
        raise ExportError(f"pandoc could not convert the report to {to}: {exc}") from exc


def _tables(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("t") == "Table":
            yield node
        for value in node.values():
            yield from _tables(value)
    elif isinstance(node, list):
        for value in node:
            yield from _tables(value)


def _align_columns(tree: dict[str, Any]) -> dict[str, Any]:
    """Right-align the columns whose header cell is marked numeric, left-align the rest."""
    for table in _tables(tree):
        _attr, _caption, colspecs, head, _bodies, _foot = table["c"]
        header_rows = head[1]
        numeric = [False] * len(colspecs)
        if header_rows:
            cells = header_rows[-1][1]
            position = 0
            for cell in cells:
                classes, colspan = cell[0][1], cell[3]
                for k in range(position, min(position + colspan, len(colspecs))):
                    numeric[k] = "num" in classes
                position += colspan
        for k, spec in enumerate(colspecs):
            spec[0] = {"t": "AlignRight" if numeric[k] else "AlignLeft"}
    return tree


PAGE_WIDTH_CHARS = 136
"""Width units (half an em of table text) of the A4 text width: 510 pt at 7.5 pt."""
LONGEST_COLUMN_CHARS = 40
"""A column wider than this (e.g. flags) wraps, so narrow columns keep their width."""
CELL_PADDING_CHARS = 2
"""The cell's left and right inset, in width units."""
MIN_WIDE_SHARE = 0.25
"""The least share of the page width the long text columns of a wide table get together."""
BOLD_WIDTH = 1.15
"""How much wider the bold header text is than the body text."""


def _display_width(text: str) -> float:
    """Width of ``text`` in half-ems: Chinese (wide) characters 2, digits and capitals 1.2, others 1."""
    return sum(
        2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.2 if ch.isdigit() or ch.isupper() else 1.0 for ch in text
    )


def _header_width(text: str) -> float:
    """The narrowest a header can be: its longest word in bold; Chinese headers may take two lines."""
    words = text.split() or [""]
    longest = max(_display_width(word) for word in words)
    if any(unicodedata.east_asian_width(ch) in "WF" for ch in text):
        longest = math.ceil(longest / 4) * 2  # half the characters, whole characters
    return longest * BOLD_WIDTH


def _plain_text(node: Any) -> str:
    """The text of a pandoc tree fragment (strings, spaces and line breaks)."""
    if isinstance(node, dict):
        kind = node.get("t")
        if kind == "Str":
            return str(node["c"])
        if kind in {"Space", "SoftBreak", "LineBreak"}:
            return " "
        return _plain_text(node.get("c"))
    if isinstance(node, list):
        return "".join(_plain_text(value) for value in node)
    return ""


def _column_widths(data: list[float], headers: list[float]) -> list[float] | None:
    """Shares of the page width for the columns of a table too wide for the page, else ``None``.

    ``data`` and ``headers`` are each column's widest data cell and narrowest
    header, in width units. Columns whose data are no wider than
    :data:`LONGEST_COLUMN_CHARS` (numbers, codes, names) keep their natural
    width; the long text columns (e.g. flags) share the rest, at least
    :data:`MIN_WIDE_SHARE` of the page, and wrap. When the narrow columns leave
    less than that, their headers wrap first (down to the data's width), then
    all are scaled down alike. ``None`` when the table fits or has no long text
    column.
    """
    natural = [max(d, h, 2) + CELL_PADDING_CHARS for d, h in zip(data, headers, strict=True)]
    if sum(natural) <= PAGE_WIDTH_CHARS:
        return None
    is_wide = [d > LONGEST_COLUMN_CHARS for d in data]
    wide = sum(w for w, flag in zip(natural, is_wide, strict=True) if flag)
    if not wide:
        return None
    narrow = [w for w, flag in zip(natural, is_wide, strict=True) if not flag]
    floor = [max(d, 2) + CELL_PADDING_CHARS for d, flag in zip(data, is_wide, strict=True) if not flag]
    room = PAGE_WIDTH_CHARS * (1 - MIN_WIDE_SHARE)
    if sum(narrow) <= room:
        fitted = narrow
    elif sum(floor) <= room:  # wrap headers: move from natural toward the data's width
        t = (room - sum(floor)) / (sum(narrow) - sum(floor))
        fitted = [f + t * (n - f) for f, n in zip(floor, narrow, strict=True)]
    else:
        fitted = [f * room / sum(floor) for f in floor]
    wide_share = 1 - sum(fitted) / PAGE_WIDTH_CHARS
    narrow_widths = iter(fitted)
    return [
        wide_share * w / wide if flag else next(narrow_widths) / PAGE_WIDTH_CHARS
        for w, flag in zip(natural, is_wide, strict=True)
    ]


def _fit_columns(tree: dict[str, Any]) -> dict[str, Any]:
    """Give the long text columns of tables wider than the page a share of its width (see :func:`_column_widths`).

    A column's natural width is its widest data cell or its header's longest
    word (bold), plus the cell's inset.
    """
    for table in _tables(tree):
        _attr, _caption, colspecs, head, bodies, _foot = table["c"]
        n = len(colspecs)
        header_words = [0.0] * n
        data = [0.0] * n
        for row in head[1]:
            for k, cell in enumerate(row[1][:n]):
                header_words[k] = max(header_words[k], _header_width(_plain_text(cell[4])))
        for body in bodies:
            for row in body[3]:
                for k, cell in enumerate(row[1][:n]):
                    data[k] = max(data[k], _display_width(_plain_text(cell[4]).strip()))
        widths = _column_widths(data, header_words)
        if widths is not None:
            for spec, width in zip(colspecs, widths, strict=True):
                spec[1] = {"t": "ColWidth", "c": width}
    return tree


_LINE_START_MARKUP = re.compile(r"^(?:=|-|\+|/|\d+[.)]|\*|_)")
"""Text that Typst reads as markup at the start of a line: heading, list, enumeration, term."""
_TYPST_NOTHING = {"t": "RawInline", "c": ["typst", '#""']}
"""An empty Typst string: text after it no longer starts a line."""


def _guard_line_starts(node: Any, at_line_start: bool = True) -> Any:
    """Put an empty Typst expression before text that would start a line with markup.

    Pandoc's Typst writer escapes ``= heading``, ``- item``, ``+ item``, ``/ term:``
    and ``1. item`` at the start of a paragraph, but not at the start of a table
    cell (``[= heading]`` is a heading in Typst) or after a line break in a cell.
    """
    if isinstance(node, dict):
        if node.get("t") in {"Plain", "Para"}:
            node["c"] = _guard_inlines(node["c"])
            return node
        for value in node.values():
            _guard_line_starts(value)
    elif isinstance(node, list):
        for value in node:
            _guard_line_starts(value)
    return node


def _guard_inlines(inlines: list[Any]) -> list[Any]:
    out: list[Any] = []
    at_line_start = True
    for inline in inlines:
        kind = inline.get("t")
        if at_line_start and kind == "Str" and _LINE_START_MARKUP.match(inline["c"]):
            out.append(dict(_TYPST_NOTHING))
        elif at_line_start and kind == "Span":
            inline["c"][1] = _guard_inlines(inline["c"][1])
        out.append(inline)
        if kind != "Space" or not at_line_start:
            at_line_start = kind in {"SoftBreak", "LineBreak"}
    return out


PAGE_BREAKS: dict[str, dict[str, Any]] = {
    "typst": {"t": "RawBlock", "c": ["typst", "#pagebreak(weak: true)"]},
    "openxml": {"t": "RawBlock", "c": ["openxml", '<w:p><w:r><w:br w:type="page"/></w:r></w:p>']},
}
"""The raw block that breaks the page, per pandoc output format."""


def page_break_blocks(node: Any, raw_format: str) -> Any:
    """Replace every ``Div`` of class :data:`~perfmodel.report.render.PAGE_BREAK_CLASS` by a page break.

    Parameters
    ----------
    node
        A pandoc tree (or part of one), changed in place.
    raw_format
        ``"typst"`` or ``"openxml"`` (Word): the key of :data:`PAGE_BREAKS`.
    """
    from perfmodel.report.render import PAGE_BREAK_CLASS

    if isinstance(node, dict):
        for value in node.values():
            page_break_blocks(value, raw_format)
    elif isinstance(node, list):
        for k, value in enumerate(node):
            if isinstance(value, dict) and value.get("t") == "Div" and PAGE_BREAK_CLASS in value["c"][0][1]:
                node[k] = dict(PAGE_BREAKS[raw_format])
            else:
                page_break_blocks(value, raw_format)
    return node


def _unwrap_divs(blocks: list[Any]) -> list[Any]:
    """``blocks`` with every ``Div`` replaced by its content (recursively).

    The notebook's cell and output wrappers carry nothing for print, and pandoc
    writes a ``Div`` as a Typst ``#block[…]``, inside which ``#pagebreak()`` is
    not allowed.
    """
    out: list[Any] = []
    for block in blocks:
        if isinstance(block, dict) and block.get("t") == "Div":
            out.extend(_unwrap_divs(block["c"][1]))
        else:
            out.append(block)
    return out


def _tree(html: str, raw_format: str | None = None) -> str:
    """The document's pandoc tree (JSON) with column alignments, widths of wide tables and page breaks.

    ``raw_format`` (``"typst"`` or ``"openxml"``) is the output format the page
    breaks are written for (:func:`page_break_blocks`; ``None`` leaves them as
    ``Div``). For Typst the wrapping ``Div`` of the notebook's cells are removed, so
    that a page break stands at the top level of the document.
    """
    tree = json.loads(_pandoc(html, "json", source="html"))
    tree = _fit_columns(_align_columns(tree))
    if raw_format is not None:
        tree = page_break_blocks(tree, raw_format)
    if raw_format == "typst":
        tree["blocks"] = _unwrap_divs(tree["blocks"])
    return json.dumps(tree, ensure_ascii=False)


def _template(name: str) -> Path:
    return Path(str(resources.files("perfmodel.report").joinpath(TEMPLATES, name)))


# ------------------------------------------------------------------ formats


def _font_paths() -> list[str]:
    import pylopdf_fonts_zh_cn

    return [str(Path(pylopdf_fonts_zh_cn.__file__).parent)]


def export_pdf(
    executed_notebook: str | os.PathLike[str],
    pdf_path: str | os.PathLike[str],
    *,
    title: str,
    header: str,
    lang: str = "zh",
) -> Path:
    """Write the report as an A4 PDF with page numbers, a running header and embedded Chinese fonts.

    Parameters
    ----------
    executed_notebook
        The executed report notebook (the source of ``report.html``).
    pdf_path
        The PDF to write.
    title
        Document title (PDF metadata).
    header
        Running header text of every page but the first, e.g. framework · period.
    lang
        ``zh`` or ``en``: the text language (hyphenation, line breaking) and the
        language named on the right of the header.
    """
    import typst

    from perfmodel.text import check_lang, say

    check_lang(lang)
    tree = json.dumps(_guard_line_starts(json.loads(_tree(report_document_html(executed_notebook), "typst"))))
    with tempfile.TemporaryDirectory(prefix="perfmodel-pdf-") as work:
        source = Path(work) / "report.typ"
        _pandoc(
            tree,
            "typst",
            source="json",
            outputfile=str(source),
            workdir=work,
            extra_args=[
                f"--template={_template(TYPST_TEMPLATE)}",
                "--extract-media=media",  # figures as files beside report.typ
                # metadata (not variables): pandoc escapes metadata for Typst
                "--metadata",
                f"title={title}",
                "--metadata",
                f"running-header={header}",
                "--metadata",
                f"language-name={say('lang.name', lang)}",
                "--variable",
                f"text-lang={lang}",
            ],
        )
        try:
            pdf = typst.compile(str(source), root=work, font_paths=_font_paths())
        except Exception as exc:  # typst raises its own TypstError
            raise ExportError(f"Typst could not typeset the report: {exc}") from exc
    return write_bytes(pdf_path, pdf)


def export_docx(
    executed_notebook: str | os.PathLike[str],
    docx_path: str | os.PathLike[str],
) -> Path:
    """Write the report as a Word document (headings, tables and figures), editable in Word and WPS.

    Parameters
    ----------
    executed_notebook
        The executed report notebook (the source of ``report.html``).
    docx_path
        The ``.docx`` to write.
    """
    tree = _tree(report_document_html(executed_notebook), "openxml")
    with tempfile.TemporaryDirectory(prefix="perfmodel-docx-") as work:
        target = Path(work) / "report.docx"
        _pandoc(
            tree,
            "docx",
            source="json",
            outputfile=str(target),
            extra_args=[f"--reference-doc={_template(DOCX_REFERENCE)}"],
        )
        return write_bytes(docx_path, target.read_bytes())
