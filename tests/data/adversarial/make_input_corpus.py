"""Write the input-attack files of this folder (observations and units files).

Run from the repository root: ``python tests/data/adversarial/make_input_corpus.py``.
The files are committed; this script shows exactly how each was made and makes
them again with the same content (only the zip timestamps inside ``.xlsx`` differ). The legacy
``.xls`` workbook needs ``xlwt`` (``pip install xlwt``), which writes the BIFF8
format of Excel 97-2003; it is not a perfmodel dependency and is needed only
here. Files other helpers add to this folder are not touched.
"""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
HEADER = ["period", "unit_id", "indicator", "value"]
ZH_HEADER = ["月份", "单位编号", "指标", "数值"]


def rows(month: str, n: int = 3) -> list[list[object]]:
    """``n`` plain rows for stations S01…S0n in ``month``."""
    return [[month, f"S0{k}", "case_compliance_rate", 0.9 - k / 100] for k in range(1, n + 1)]


def csv_text(table: list[list[object]], sep: str = ",") -> str:
    """``table`` as CSV text (fields quoted where needed, CRLF line ends)."""
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\r\n").writerows(table)
    return out.getvalue()


def write(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def fixed_book(book: openpyxl.Workbook, name: str) -> None:
    stamp = datetime.datetime(2000, 1, 1)
    book.properties.created = stamp
    book.properties.modified = stamp
    book.save(HERE / name)


def multi_sheet_xlsx() -> None:
    """One sheet per month, a notes sheet without a header, and an empty sheet."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for month in ("2025-04", "2025-05", "2025-06"):
        sheet = book.create_sheet(month)
        sheet.append([f"{month} 派出所考核数据"])  # a title line above the header
        sheet.append(ZH_HEADER)
        for row in rows(month):
            sheet.append(row)
    notes = book.create_sheet("说明")
    notes.append(["本表由系统导出,请勿修改表头。"])
    notes.append(["联系人:张三"])
    book.create_sheet("空白")
    fixed_book(book, "obs_multi_sheet_months.xlsx")


def legacy_xls() -> None:
    """Excel 97-2003 (.xls, BIFF8) with two month sheets, Chinese headers and a title line."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    for month in ("2025-04", "2025-05"):
        sheet = book.add_sheet(month)
        sheet.write(0, 0, f"{month} 考核数据")
        for c, head in enumerate(ZH_HEADER):
            sheet.write(1, c, head)
        for r, row in enumerate(rows(month), start=2):
            for c, cell in enumerate(row):
                sheet.write(r, c, cell)
    sheet = book.get_sheet(0)
    sheet.write(5, 0, "2025-04")
    sheet.write(5, 1, 12)  # a whole number: must read as '12', not '12.0'
    sheet.write(5, 2, "discipline_score")
    sheet.write(5, 3, 95)
    book.save(str(HERE / "obs_legacy_months.xls"))


def text_files() -> None:
    base = [HEADER, *rows("2025-04")]
    zh = [ZH_HEADER, *rows("2025-04")]
    # Excel's "Unicode text": UTF-16 LE with a byte-order mark, tab-separated.
    write("obs_utf16le_tab.csv", b"\xff\xfe" + csv_text(zh, "\t").encode("utf-16-le"))
    write("obs_utf16be_bom.csv", b"\xfe\xff" + csv_text(zh).encode("utf-16-be"))
    # European-locale Excel: semicolons.
    write("obs_semicolon.csv", csv_text(base, ";").encode("utf-8"))
    # Chinese Excel on Windows: GBK, here with semicolons as well.
    write("obs_gbk_semicolon.csv", csv_text(zh, ";").encode("gbk"))
    write("obs_gb18030_tab.csv", csv_text(zh, "\t").encode("gb18030"))
    # A wide export: one column per indicator, named as people write them.
    wide = [
        ["月份", "单位编号", "单位名称", "案件规范率", "Citizen call-back satisfaction", "纪律作风"],
        ["2025-04", "S01", "东城所", "0.93", "0.88", "95"],
        ["2025-04", "S02", "西城所", "0.91", "", "97"],
        ["", "", "", "", "", ""],
        ["2025-04", "S03", "北城所", "93%", "0.9", "1e308"],
    ]
    write("obs_wide_export.csv", csv_text(wide).encode("utf-8-sig"))
    # Issue 10: a count of 1e308 gave a -inf score that was still graded.
    write(
        "obs_count_1e308.csv",
        csv_text([HEADER, *rows("2025-04"), ["2025-04", "S01", "enforcement_errors", "1e308"]]).encode(),
    )
    infinite = [HEADER] + [
        ["2025-04", f"S0{k}", "enforcement_errors", text]
        for k, text in enumerate(["inf", "-inf", "Infinity", "nan", "1e999", "-1E+400"], 1)
    ]
    write("obs_inf_text.csv", csv_text(infinite).encode())
    # Line breaks inside quoted cells, and the guard bypass of issue 10 as a value.
    write(
        "obs_cr_inside_cell.csv",
        (
            b"period,unit_id,indicator,value,remark\r\n"
            b'2025-04,S01,case_compliance_rate,0.9,"line one\rline two"\r\n'
            b"2025-04,S02,case_compliance_rate,\"0.5\r=cmd|' /C calc'!A0\",x\r\n"
            b'2025-04,S03,case_compliance_rate,0.8,"a\r\nb\nc"\r\n'
        ),
    )
    formulas = [
        [*HEADER, "remark"],
        ["2025-04", '=HYPERLINK("http://x","S01")', "case_compliance_rate", "0.9", "=1+1"],
        ["2025-04", "S02", "@SUM(A1:A2)", "0.9", "+cmd|' /C calc'!A0"],
        ["2025-04", "S03", "case_compliance_rate", "=0.5", "-2+3"],
        ["2025-04", "S01", "callback_satisfaction", "0.9", "\t=1"],
    ]
    write("obs_formula_cells.csv", csv_text(formulas).encode())
    hostile = [
        HEADER,
        ["2025-04", "<script>alert(1)</script>", "case_compliance_rate", "0.9"],
        ["2025-04", "S01", "<img src=x onerror=alert(1)>", "0.9"],
        ["<b>2025-04</b>", "S02", "case_compliance_rate", "0.9"],
        ["2025-04", "S03", "case_compliance_rate", "<svg onload=alert(1)>"],
    ]
    write("obs_hostile_html_names.csv", csv_text(hostile).encode())
    write(
        "obs_nul_bytes.csv",
        b"period,unit_id,indicator,value\r\n2025-04,S0\x001,case_compliance_rate,0.9\r\n"
        b"2025-04,S02,case_compliance_rate,0.\x009\r\n",
    )
    write(
        "obs_long_cell.csv",
        csv_text([HEADER, ["2025-04", "S01", "case_compliance_rate", "9" * 100_000]]).encode(),
    )
    names = [
        HEADER,
        ["2025-04", "S01", "案件规范率", "0.9"],
        ["2025-04", "S01", "Citizen Call-Back Satisfaction", "0.8"],
        ["2025-04", "S01", "纪律作风", "95"],
        ["2025-04", "S02", "ｃａｓｅ＿ｃｏｍｐｌｉａｎｃｅ＿ｒａｔｅ", "0.9"],  # full-width
        ["2025-04", "S02", "案件规范", "0.9"],  # a near miss
    ]
    write("obs_indicator_names.csv", csv_text(names).encode())
    # A web page that a reporting system saved as .xls (very common).
    write(
        "obs_html_as_xls.refused.xls",
        "<html><body><table><tr><td>月份</td><td>单位编号</td></tr>"
        "<tr><td>2025-04</td><td>S01</td></tr></table></body></html>".encode(),
    )
    units = [
        ["unit_id", "name", "level", "population"],
        ["S01", "<script>alert(1)</script>", "station", "50000"],
        ["S02", "<img src=x onerror=alert(1)>", "station", "inf"],
        ["S03", "=cmd|' /C calc'!A0", "station", "1e308"],
        ["S04", "quoted\r\nname, with comma", "station", "1"],
    ]
    write("units_hostile_names.csv", csv_text(units).encode())


if __name__ == "__main__":
    multi_sheet_xlsx()
    legacy_xls()
    text_files()
