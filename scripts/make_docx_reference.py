"""Build ``perfmodel/report/templates/reference.docx``: the styles of perfmodel's Word reports.

Pandoc copies the styles of a reference document into every .docx it writes.
This script starts from pandoc's own reference document and sets what a
Chinese office expects: A4 pages with 2 cm margins, Chinese text in 宋体 (body)
and 黑体 (headings) with Latin text in Calibri, body 10.5 pt (五号), tables
9 pt. Run it after changing these choices; the result is committed:

    python scripts/make_docx_reference.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pypandoc
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

TARGET = Path(__file__).resolve().parents[1] / "perfmodel" / "report" / "templates" / "reference.docx"
BODY_FONTS = ("Calibri", "宋体")
HEADING_FONTS = ("Calibri", "黑体")


def set_fonts(style, latin: str, east_asian: str, size: float | None = None) -> None:
    """Latin and East Asian fonts (and size) of a Word style."""
    style.font.name = latin
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), east_asian)
    if size is not None:
        style.font.size = Pt(size)


def main() -> None:
    default = subprocess.run(
        [pypandoc.get_pandoc_path(), "--print-default-data-file", "reference.docx"],
        capture_output=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "default.docx"
        source.write_bytes(default)
        doc = Document(str(source))
    for section in doc.sections:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2.0)
        section.top_margin = section.bottom_margin = Cm(2.0)
    styles = {s.name: s for s in doc.styles}
    for name in ("Normal", "Body Text", "First Paragraph", "Compact"):
        set_fonts(styles[name], *BODY_FONTS, 10.5)
    for name in ("Title", "Subtitle", *(f"Heading {k}" for k in range(1, 7))):
        set_fonts(styles[name], *HEADING_FONTS)
    set_fonts(styles["Table"], *BODY_FONTS, 9)
    doc.save(str(TARGET))
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
