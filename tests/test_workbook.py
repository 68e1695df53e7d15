"""Readable score workbooks: headers in the report language, formats, grade colours, sheets, notes."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from perfmodel.cli import main
from perfmodel.evaluation import evaluate_files
from perfmodel.glossary import COLUMNS, column_header
from perfmodel.io import SheetFormat, display_width, write_workbook
from perfmodel.report import quarterly as q
from perfmodel.report.workbook import GRADE_FILLS, score_workbook, write_score_workbook
from perfmodel.simulate import generate_sample

FRAMEWORK, PERIOD = "station_four_dimension", "2025Q2"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("workbook_sample")
    return generate_sample(out, stations=24, months=6, rng=7, start="2025-01", frameworks=[FRAMEWORK])


@pytest.fixture(scope="module")
def ev(sample):
    return evaluate_files(FRAMEWORK, sample["station_observations"], sample["units"], PERIOD)


def test_display_width_counts_wide_characters_twice():
    assert display_width("PS001") == 5
    assert display_width("综合得分") == 8
    assert display_width("Ａ1") == 3  # full-width Latin letter


def test_scores_sheet_has_translated_headers_formats_and_keeps_full_precision(ev, tmp_path):
    path = write_score_workbook(ev.scores, ev.framework, tmp_path / "s.xlsx", lang="zh")
    book = openpyxl.load_workbook(path)
    sheet = book["全部单位"]
    header = [c.value for c in sheet[1]]
    assert header[:8] == ["单位编号", "单位名称", "考核期", "同类组", "综合得分", "组内排名", "全局排名", "等级"]
    dims = [d.name.zh for d in ev.framework.tree]
    assert header[8 : 8 + len(dims)] == dims
    fmt = {h: sheet.cell(2, i + 1).number_format for i, h in enumerate(header)}
    assert fmt["综合得分"] == "0.0" and fmt["组内排名"] == "0" and fmt["数据覆盖"] == "0.0%"
    assert fmt[dims[0]] == "0.0"
    # values are stored unrounded: rounding is display only
    first = ev.scores.iloc[0]
    assert sheet.cell(2, 5).value == pytest.approx(first["score"], abs=1e-12)
    assert (
        sheet.freeze_panes == "A2"
        and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{len(ev.scores) + 1}"
    )
    # widths fitted: a Chinese header of 4 characters needs 8 columns, plus a margin
    assert sheet.column_dimensions["E"].width == display_width("综合得分") + 2


def test_grade_cells_are_coloured_by_grade(ev, tmp_path):
    path = write_score_workbook(ev.scores, ev.framework, tmp_path / "s.xlsx", lang="en")
    sheet = openpyxl.load_workbook(path)["All units"]
    header = [c.value for c in sheet[1]]
    col = header.index("Grade") + 1
    english = {"优秀": "Excellent", "良好": "Good", "合格": "Pass", "不合格": "Fail"}
    seen = set()
    for row, grade in enumerate(ev.scores["grade"], start=2):
        cell = sheet.cell(row, col)
        assert cell.value == english.get(grade, "Not graded")
        assert cell.fill.start_color.rgb.endswith(GRADE_FILLS[grade])
        seen.add(grade)
    assert len(seen) >= 3


def test_one_sheet_per_peer_group_and_a_notes_sheet(ev):
    sheets, formats = score_workbook(ev.scores, ev.framework, lang="zh")
    groups = q.group_order(ev.scores["peer_group"])
    assert list(sheets) == ["全部单位", *groups, "说明"]
    for group in groups:
        assert len(sheets[group]) == int((ev.scores["peer_group"] == group).sum())
    assert sum(len(sheets[g]) for g in groups) == len(sheets["全部单位"])
    notes = sheets["说明"]
    assert list(notes.columns) == ["列名", "含义", "单位", "工作表"]
    # one row per column, each with a meaning; the score's unit is points
    assert sorted(notes["列名"]) == sorted(sheets["全部单位"].columns)
    assert notes["含义"].str.len().gt(0).all()
    assert notes.set_index("列名").loc["综合得分", "单位"] == "分"
    assert isinstance(formats["全部单位"], SheetFormat)


def test_every_score_column_has_a_glossary_entry(ev):
    dims = {info.node.id for info in ev.framework.walk()}
    missing = [c for c in ev.scores.columns if c not in COLUMNS and c not in dims]
    assert missing == []
    assert column_header("score", "en") == "Score"


def test_quarterly_workbook_is_byte_identical_and_in_the_report_language(ev, tmp_path):
    a = q.write_tables(ev, tmp_path / "a", lang="en")["scores_xlsx"].read_bytes()
    b = q.write_tables(ev, tmp_path / "b", lang="en")["scores_xlsx"].read_bytes()
    assert a == b
    book = openpyxl.load_workbook(tmp_path / "a" / "scores.xlsx")
    assert book.sheetnames[0] == "All units" and book.sheetnames[-1] == "notes"
    assert {"Indicator values", "Threshold breaches", "Quarantine", "Weights"} <= set(book.sheetnames)
    zh = openpyxl.load_workbook(q.write_tables(ev, tmp_path / "c")["scores_xlsx"])
    assert zh.sheetnames[0] == "全部单位" and zh.sheetnames[-1] == "说明"


def test_formats_go_through_the_formula_guard(tmp_path):
    frame = pd.DataFrame({"=cmd": ["=HYPERLINK(1)", "ok"], "n": [1.23456, 2.0]})
    path = write_workbook(
        {"t": frame},
        tmp_path / "t.xlsx",
        {"t": SheetFormat(number_formats={"n": "0.0"}, fills={"=cmd": {"ok": "C6EFCE"}})},
    )
    sheet = openpyxl.load_workbook(path)["t"]
    assert sheet["A1"].value == "'=cmd" and sheet["A2"].value == "'=HYPERLINK(1)"
    assert sheet["A3"].fill.start_color.rgb.endswith("C6EFCE")
    assert sheet["B2"].number_format == "0.0" and sheet["B2"].value == 1.23456


def test_score_cli_writes_a_readable_workbook_and_checks_lang(sample, tmp_path, capsys):
    out = tmp_path / "scores.xlsx"
    args = [
        "score",
        "--observations",
        str(sample["station_observations"]),
        "--units",
        str(sample["units"]),
        "--framework",
        FRAMEWORK,
        "--period",
        PERIOD,
        "--out",
        str(out),
    ]
    assert main([*args, "--lang", "en"]) == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == "All units" and book.sheetnames[-1] == "notes"
    assert [c.value for c in book["All units"][1]][:2] == ["Unit id", "Name"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--lang", "fr"])
    assert exc.value.code == 2 and "--lang" in capsys.readouterr().err
