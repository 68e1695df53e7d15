"""Reading and writing tables: formats, aliases, row numbers, file errors, formula guard."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from perfmodel.io import (
    OBSERVATION_ALIASES,
    READABLE_EXTENSIONS,
    UNIT_ALIASES,
    InputError,
    aliases_of,
    guard_formulas,
    normalise_header,
    read_table,
    write_table,
    write_workbook,
)

OBS = OBSERVATION_ALIASES


def write_text(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# ----------------------------------------------------------------------------- reading CSV
def test_csv_values_are_kept_as_text_exactly(tmp_path):
    path = write_text(
        tmp_path / "obs.csv",
        "period,unit_id,indicator,value\n2025-04,0012,case_compliance_rate,0.930\n2025/4, S01 ,x,1e3\n",
    )
    table = read_table(path, aliases=OBS)
    assert list(table.columns) == ["period", "unit_id", "indicator", "value", "source_row"]
    assert table["unit_id"].tolist() == ["0012", " S01 "]
    assert table["value"].tolist() == ["0.930", "1e3"]
    assert table["period"].tolist() == ["2025-04", "2025/4"]
    assert table["source_row"].tolist() == [2, 3]
    assert table["source_row"].dtype == np.int64
    assert table.attrs["source"] == str(path)


def test_blank_cells_are_missing_but_na_text_is_kept(tmp_path):
    path = write_text(tmp_path / "obs.csv", "period,unit_id,value\n2025-04,,NA\n")
    table = read_table(path, aliases=OBS)
    assert pd.isna(table.loc[0, "unit_id"])
    assert table.loc[0, "value"] == "NA"


def test_blank_lines_count_in_row_numbers(tmp_path):
    path = write_text(tmp_path / "obs.csv", "period,unit_id\n2025-04,S01\n\n2025-05,S02\n")
    table = read_table(path, aliases=OBS)
    assert table["source_row"].tolist() == [2, 3, 4]
    assert table.loc[1, ["period", "unit_id"]].isna().all()
    assert table.loc[2, "unit_id"] == "S02"


def test_title_lines_above_the_header_are_skipped_and_rows_numbered_as_in_the_sheet(tmp_path):
    path = write_text(
        tmp_path / "obs.csv",
        "2025年4月派出所考核数据,,\n,,\n期间,单位编号,数值\n2025-04,S01,0.9\n",
    )
    table = read_table(path, aliases=OBS)
    assert list(table.columns) == ["period", "unit_id", "value", "source_row"]
    assert table["source_row"].tolist() == [4]
    assert table.attrs["skipped_rows"] == [1, 2]


def test_multiline_cell_is_one_spreadsheet_row(tmp_path):
    path = write_text(tmp_path / "obs.csv", 'unit_id,note\nS01,"line one\nline two"\nS02,x\n')
    table = read_table(path, aliases=OBS)
    assert table["source_row"].tolist() == [2, 3]
    assert table.loc[0, "note"] == "line one\nline two"


def test_gbk_encoded_csv_is_read(tmp_path):
    path = write_text(tmp_path / "obs.csv", "期间,单位编号,指标,数值\n2025-04,S01,案件规范率,0.9\n", "gbk")
    table = read_table(path, aliases=OBS)
    assert table.loc[0, "indicator"] == "案件规范率"


def test_tsv_and_gzip(tmp_path):
    tsv = write_text(tmp_path / "obs.tsv", "period\tunit_id\n2025-04\tS01\n")
    gz = tmp_path / "obs.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as handle:
        handle.write("period,unit_id\n2025-04,S01\n")
    for path in (tsv, gz):
        table = read_table(path, aliases=OBS)
        assert table[["period", "unit_id"]].values.tolist() == [["2025-04", "S01"]]


# ----------------------------------------------------------------------------- headers
def test_chinese_headers_and_case_and_spaces(tmp_path):
    path = write_text(
        tmp_path / "obs.csv",
        " 统计月份 ,单位代码,指标编号,指标值,分子,分母,评分人,上报时间,  Remarks \n"
        "2025-04,S01,a,0.9,9,10,R1,2025-05-01,x\n",
    )
    table = read_table(path, aliases=OBS)
    assert list(table.columns) == [
        "period",
        "unit_id",
        "indicator",
        "value",
        "numerator",
        "denominator",
        "rater_id",
        "submitted_at",
        "Remarks",
        "source_row",
    ]
    upper = write_text(tmp_path / "upper.csv", "PERIOD,  Unit ID ,Indicator\n2025-04,S01,a\n")
    assert list(read_table(upper, aliases=OBS).columns)[:3] == ["period", "unit_id", "indicator"]


def test_unit_aliases(tmp_path):
    path = write_text(
        tmp_path / "units.csv",
        "单位编号,单位名称,层级,上级单位,所类,所别,区域类型,分局,辖区人口,警情量,警力,岗位,性别\n"
        "S01,东城所,派出所,,一类,社区,城区,东城分局,50000,1200,40,,\n",
    )
    columns = list(read_table(path, aliases=UNIT_ALIASES).columns)
    assert columns == [
        "unit_id",
        "name",
        "level",
        "parent_id",
        "station_class",
        "station_type",
        "area_type",
        "district",
        "population",
        "incident_volume",
        "officers",
        "role",
        "gender",
        "source_row",
    ]


@pytest.mark.parametrize(
    "header",
    [
        "期间,月份,单位编号",
        "period, Period ,unit_id",
        "unit_id,单位代码,period",
        "note,NOTE,period",
    ],
)
def test_two_headers_for_one_column_are_an_error(tmp_path, header):
    path = write_text(tmp_path / "obs.csv", header + "\n1,2,3\n")
    first, second = (h for h in header.split(",")[:2])
    with pytest.raises(InputError, match="duplicate columns") as info:
        read_table(path, aliases=OBS)
    assert repr(first) in str(info.value) and repr(second) in str(info.value)
    assert "obs.csv" in str(info.value)


def test_aliases_listing_and_normalisation():
    assert aliases_of("period", OBS) == ["period", "month", "期间", "月份", "统计月份", "考核月份"]
    assert normalise_header(" Submitted  At ") == "submitted_at"
    assert OBS[normalise_header("提交时间")] == "submitted_at"
    assert UNIT_ALIASES[normalise_header("民警数")] == "officers"


# ----------------------------------------------------------------------------- file errors
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv", aliases=OBS)


@pytest.mark.parametrize("name", ["obs.json", "obs", "obs.ods"])
def test_unsupported_extension_lists_supported_ones(tmp_path, name):
    path = write_text(tmp_path / name, "x")
    with pytest.raises(InputError, match="unsupported file type") as info:
        read_table(path, aliases=OBS)
    for ext in READABLE_EXTENSIONS:
        assert ext in str(info.value)
    if name.endswith(".ods"):
        assert "save it as .xlsx" in str(info.value)


@pytest.mark.parametrize("content", ["", "\n\n", ",,\n,,\n"])
def test_empty_file(tmp_path, content):
    path = write_text(tmp_path / "obs.csv", content)
    with pytest.raises(InputError, match="empty"):
        read_table(path, aliases=OBS)


def test_header_only_file_gives_no_rows(tmp_path):
    table = read_table(write_text(tmp_path / "obs.csv", "period,unit_id\n"), aliases=OBS)
    assert len(table) == 0 and list(table.columns) == ["period", "unit_id", "source_row"]


@pytest.mark.parametrize("name", ["obs.xlsx", "obs.parquet", "obs.csv.gz"])
def test_corrupt_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a real file \x00\x01\x02" * 10)
    with pytest.raises(InputError, match="cannot be read") as info:
        read_table(path, aliases=OBS)
    assert name in str(info.value)


def test_ragged_csv_is_a_file_error(tmp_path):
    path = write_text(tmp_path / "obs.csv", "period,unit_id\n2025-04,S01\n2025-05,S02,extra,cells\n")
    with pytest.raises(InputError, match="cannot be read"):
        read_table(path, aliases=OBS)


# ----------------------------------------------------------------------------- Excel and Parquet
def test_excel_numbers_dates_title_rows_and_row_numbers(tmp_path):
    path = tmp_path / "obs.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "2025年4月考核数据"
    sheet.append(["期间", "单位编号", "数值", "提交时间"])
    sheet.append(["2025-04", "0012", 0.93, pd.Timestamp("2025-05-27 10:00").to_pydatetime()])
    sheet.append([])
    sheet.append(["2025-04", 12, 1.0, None])
    book.save(path)
    table = read_table(path, aliases=OBS)
    assert table["source_row"].tolist() == [3, 4, 5]
    assert table["unit_id"].tolist()[::2] == ["0012", "12"]
    assert table["value"].tolist()[::2] == ["0.93", "1"]
    assert table.loc[0, "submitted_at"] == "2025-05-27 10:00:00"


def test_parquet_keeps_stored_types(tmp_path):
    frame = pd.DataFrame({"期间": ["2025-04"], "unit_id": ["S01"], "value": [0.5]})
    path = write_table(frame, tmp_path / "obs.parquet")
    table = read_table(path, aliases=OBS)
    assert list(table.columns) == ["period", "unit_id", "value", "source_row"]
    assert table["value"].dtype == np.float64
    assert table["source_row"].tolist() == [2]


def test_a_source_row_column_in_the_file_is_kept_under_another_name(tmp_path):
    path = write_text(tmp_path / "obs.csv", "unit_id,source_row\nS01,17\n")
    table = read_table(path, aliases=OBS)
    assert table["source_row"].tolist() == [2]
    assert table["source_row_in_file"].tolist() == ["17"]


# ----------------------------------------------------------------------------- writing
FRAME = pd.DataFrame(
    {
        "unit_id": ["0012", "S02", "S03"],
        "name": ["东城所", '=HYPERLINK("http://x")', "@SUM(A1)"],
        "note": ["+1+1", "-5", "-cmd|' /C calc'!A0"],
        "value": [-1.5, 2.0, 0.25],
        "count": [-3, 0, 7],
    }
)


@pytest.mark.parametrize("ext", [".csv", ".csv.gz", ".tsv", ".xlsx", ".parquet"])
def test_round_trip_keeps_text_and_numbers(tmp_path, ext):
    clean = FRAME.assign(name=["东城所", "西城所", "南城所"], note=["a", "-5", "+0.5"])
    path = write_table(clean, tmp_path / f"out{ext}")
    table = read_table(path, aliases=UNIT_ALIASES).drop(columns="source_row")
    assert table["unit_id"].tolist() == ["0012", "S02", "S03"]
    assert table["name"].tolist() == ["东城所", "西城所", "南城所"]
    assert table["note"].tolist() == ["a", "-5", "+0.5"]
    assert [float(v) for v in table["value"]] == [-1.5, 2.0, 0.25]
    assert [int(float(v)) for v in table["count"]] == [-3, 0, 7]


def test_csv_is_utf8_with_bom(tmp_path):
    path = write_table(FRAME, tmp_path / "out.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "东城所" in raw.decode("utf-8-sig")


def test_formula_guard_in_csv(tmp_path):
    path = write_table(FRAME, tmp_path / "out.csv")
    table = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    assert table["name"].tolist() == ["东城所", '\'=HYPERLINK("http://x")', "'@SUM(A1)"]
    assert table["note"].tolist() == ["'+1+1", "-5", "'-cmd|' /C calc'!A0"]
    assert table["value"].tolist() == ["-1.5", "2.0", "0.25"]
    assert table["count"].tolist() == ["-3", "0", "7"]


def test_formula_guard_in_excel_writes_no_formula(tmp_path):
    path = write_table(FRAME, tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(path).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert sheet["B3"].value == '\'=HYPERLINK("http://x")'
    assert sheet["D2"].value == -1.5 and sheet["E2"].value == -3


def test_formula_guard_leaves_parquet_and_the_input_alone(tmp_path):
    path = write_table(FRAME, tmp_path / "out.parquet")
    assert pd.read_parquet(path)["name"].tolist() == FRAME["name"].tolist()
    guarded = guard_formulas(FRAME)
    assert FRAME.loc[1, "name"].startswith("=")
    assert guarded.loc[1, "name"].startswith("'=")


def test_formula_guard_covers_headers_and_mixed_columns():
    frame = pd.DataFrame({"=bad": ["x", 1], "mixed": pd.Series(["=1", -2], dtype=object)})
    guarded = guard_formulas(frame)
    assert list(guarded.columns) == ["'=bad", "mixed"]
    assert guarded["mixed"].tolist() == ["'=1", -2]


def test_write_table_creates_folders_and_rejects_unknown_types(tmp_path):
    path = write_table(FRAME, tmp_path / "a" / "b" / "out.csv")
    assert path.exists()
    with pytest.raises(InputError, match="unsupported file type"):
        write_table(FRAME, tmp_path / "out.json")


def test_workbook_sheet_names_are_valid_and_unique_and_cells_guarded(tmp_path):
    long_name = "effective_weights_by_source_and_indicator"
    sheets = {long_name: FRAME, long_name + "_2": FRAME.head(1), "a/b:c?": FRAME.head(2)}
    path = write_workbook(sheets, tmp_path / "book.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [long_name[:31], long_name[:28] + "_2", "a_b_c_"]
    assert book.properties.created.year == 2000
    first = book[long_name[:31]]
    assert not [c.coordinate for row in first.iter_rows() for c in row if c.data_type == "f"]
    back = pd.read_excel(path, sheet_name=None)
    assert [len(frame) for frame in back.values()] == [3, 1, 2]


# ----------------------------------------------------------------------------- issue 10: nothing left out
ADVERSARIAL = Path(__file__).parent / "data" / "adversarial"


def _month_workbook(path, months, *, extra_sheets=()):
    """A workbook with one sheet per month (title line, Chinese header, two rows each)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for month in months:
        sheet = book.create_sheet(month)
        sheet.append([f"{month} 考核数据"])
        sheet.append(["月份", "单位编号", "指标", "数值"])
        sheet.append([month, "S01", "case_compliance_rate", 0.9])
        sheet.append([month, "S02", "case_compliance_rate", 0.8])
    for name, rows in extra_sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_every_sheet_with_a_header_is_read_with_its_sheet_and_row(tmp_path):
    # issue 10: a workbook with one sheet per month read only its first sheet
    path = _month_workbook(tmp_path / "obs.xlsx", ["2025-04", "2025-05", "2025-06"])
    table = read_table(path, aliases=OBS)
    assert len(table) == 6
    assert table["period"].tolist() == ["2025-04"] * 2 + ["2025-05"] * 2 + ["2025-06"] * 2
    assert table["source_sheet"].tolist() == table["period"].tolist()
    assert table["source_row"].tolist() == [3, 4] * 3
    assert [(s["sheet"], s["rows"], s["read"]) for s in table.attrs["sheets"]] == [
        ("2025-04", 2, True),
        ("2025-05", 2, True),
        ("2025-06", 2, True),
    ]


def test_sheets_without_a_header_are_reported_not_silently_skipped(tmp_path):
    path = _month_workbook(
        tmp_path / "obs.xlsx",
        ["2025-04"],
        extra_sheets=[("说明", [["本表由系统导出"], ["联系人"]]), ("空白", [])],
    )
    table = read_table(path, aliases=OBS)
    assert len(table) == 2
    status = {s["sheet"]: (s["read"], s["why"]) for s in table.attrs["sheets"]}
    assert status["2025-04"] == (True, "")
    assert status["说明"][0] is False and "no header naming a known column" in status["说明"][1]
    assert status["空白"] == (False, "empty")


def test_sheet_option_picks_one_sheet_and_names_the_sheets_when_wrong(tmp_path):
    path = _month_workbook(tmp_path / "obs.xlsx", ["2025-04", "2025-05"])
    assert read_table(path, aliases=OBS, sheet="2025-05")["period"].tolist() == ["2025-05"] * 2
    assert read_table(path, aliases=OBS, sheet=1)["period"].tolist() == ["2025-05"] * 2
    with pytest.raises(InputError, match=r"has no sheet '2025-07'; its sheets are '2025-04', '2025-05'"):
        read_table(path, aliases=OBS, sheet="2025-07")


def test_single_sheet_workbook_has_no_sheet_column(tmp_path):
    path = _month_workbook(tmp_path / "obs.xlsx", ["2025-04"])
    assert "source_sheet" not in read_table(path, aliases=OBS).columns


def test_legacy_xls_workbook_is_read_every_sheet():
    # issue 10: .xls was refused. The fixture is a real BIFF8 workbook written by
    # xlwt (tests/data/adversarial/make_input_corpus.py says how).
    table = read_table(ADVERSARIAL / "obs_legacy_months.xls", aliases=OBS)
    assert table["source_sheet"].tolist() == ["2025-04"] * 4 + ["2025-05"] * 3
    assert table["source_row"].tolist() == [3, 4, 5, 6, 3, 4, 5]
    first = table.iloc[:4]
    assert first["unit_id"].tolist() == ["S01", "S02", "S03", "12"]  # 12, not 12.0
    assert first["value"].tolist() == ["0.89", "0.88", "0.87", "95"]


@pytest.mark.parametrize("name", ["obs_html_as_xls.refused.xls"])
def test_web_page_saved_as_xls_is_refused_with_the_fix(name):
    with pytest.raises(InputError, match="web page \\(HTML\\) with an Excel file name; open it in Excel"):
        read_table(ADVERSARIAL / name, aliases=OBS)


def test_xls_content_in_an_xlsx_name_is_still_read(tmp_path):
    copy = tmp_path / "renamed.xlsx"
    copy.write_bytes((ADVERSARIAL / "obs_legacy_months.xls").read_bytes())
    assert len(read_table(copy, aliases=OBS)) == 7


ENCODED_TABLE = "月份{s}单位编号{s}指标{s}数值\r\n2025-04{s}S01{s}案件规范率{s}0.93\r\n2025-04{s}S02{s}x{s}1,5\r\n"


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),  # no byte-order mark: told by the NUL bytes
        ("gbk", b""),
        ("gb18030", b""),
    ],
)
@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_encodings_and_separators_are_detected(tmp_path, encoding, bom, separator):
    # issue 10: UTF-16 and ';'-separated files got misleading errors
    text = ENCODED_TABLE.format(s=separator)
    if separator == ",":
        text = text.replace("1,5", '"1,5"')
    path = tmp_path / "obs.csv"
    path.write_bytes(bom + text.encode(encoding))
    table = read_table(path, aliases=OBS)
    assert list(table.columns) == ["period", "unit_id", "indicator", "value", "source_row"]
    assert table["indicator"].tolist() == ["案件规范率", "x"]
    assert table["value"].tolist() == ["0.93", "1,5"]
    assert table["source_row"].tolist() == [2, 3]


def test_separator_inside_quotes_does_not_fool_the_detection(tmp_path):
    path = write_text(
        tmp_path / "obs.csv",
        'period;unit_id;indicator;value;remark\n2025-04;S01;x;0.9;"a, b, c, d, e"\n',
    )
    table = read_table(path, aliases=OBS)
    assert table["remark"].tolist() == ["a, b, c, d, e"]


def test_undecodable_text_is_an_input_error_naming_the_fix(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_bytes(b"\xff\xfe" + b"p\x00,\x00\x00")  # UTF-16 with an odd byte out
    with pytest.raises(InputError, match="cannot be decoded as UTF-16; save it again as 'CSV UTF-8'"):
        read_table(path, aliases=OBS)


def test_nul_bytes_are_kept_visible_not_cut(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_bytes(b"period,unit_id\n2025-04,S0\x001\n")
    assert read_table(path, aliases=OBS)["unit_id"].tolist() == ["S0\u24001"]


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz", "t.tsv.gz"])
@pytest.mark.parametrize("rows", [0, 1, 7, 23])
def test_text_tables_are_written_in_blocks_equal_to_the_whole(tmp_path, monkeypatch, name, rows):
    """A large table is guarded and formatted a block of rows at a time; the bytes equal the one-shot format."""
    import perfmodel.io as pio

    monkeypatch.setattr(pio, "TEXT_TABLE_ROWS", 5)  # several blocks, and a last one shorter
    frame = pd.DataFrame(
        {
            "unit_id": [f"=S{k}" if k % 4 == 0 else f"单位{k}" for k in range(rows)],
            "score": [k / 3 if k % 5 else np.nan for k in range(rows)],
            "flags": ["a\nb" if k % 3 == 0 else "" for k in range(rows)],
        }
    )
    written = write_table(frame, tmp_path / name).read_bytes()
    sep = "\t" if ".tsv" in name else ","
    whole = guard_formulas(frame).to_csv(index=False, sep=sep, lineterminator="\n").encode("utf-8-sig")
    if name.endswith(".gz"):
        assert written == gzip.compress(whole, mtime=0)
    else:
        assert written == whole
