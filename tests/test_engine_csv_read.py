"""A CSV file is read once by DuckDB, and gives exactly what pandas reads from it.

:func:`perfmodel.engine.validate._read_plain_csv` reads the text as lines in one
pass and splits them in SQL; lines that pandas reads otherwise (a CR other than
the CRLF line ends of a file whose every line ends so, NUL, a quote across lines,
more cells than the header) send the file to :func:`perfmodel.io.read_table`.
Each hostile feature of a CSV file is checked after the head that is looked at in
Python (the head is cut to the header line here), plain and gzipped, with LF and
with CRLF line ends: the accepted rows, the quarantine (row numbers, reason
codes, columns) and the notes equal the pandas path's, and the file is read by
DuckDB itself whenever its text allows it.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_validate import ADVERSARIAL, FRAMEWORK, assert_same

from perfmodel.engine import validate
from perfmodel.errors import PerfmodelError
from perfmodel.io import OBSERVATION_ALIASES, read_table

HEADER = "period,unit_id,indicator,value,remark\n"
ROW = "2025-04,S01,discipline_score,90,ok\n"
OTHER = "2025-04,S02,discipline_score,80,\n"
LAST = "2025-05,S02,discipline_score,70,\n"

CASES: dict[str, tuple[str, str]] = {
    # name: (the text after the header, who reads it: DuckDB itself or pandas), written with LF; each is
    # also written with CRLF (every LF as CRLF: a CRLF below then becomes CR CR LF, still read by pandas)
    "plain": (ROW + OTHER + LAST, "duckdb"),
    "blank line in the middle": (ROW + "\n" + OTHER + LAST, "duckdb"),
    "blank line after the header": ("\n" + ROW + LAST, "duckdb"),
    "blank lines at the end": (ROW + LAST + "\n\n", "duckdb"),
    "line of spaces": (ROW + "   \n" + LAST, "duckdb"),
    "no final newline": (ROW + LAST.rstrip("\n"), "duckdb"),
    "short row": (ROW + "2025-04,S02\n" + LAST, "duckdb"),
    "empty cells": (ROW + ",,,,\n" + LAST, "duckdb"),
    "quoted cells": (
        ROW + '2025-04,"S02","discipline_score","8,5","say ""hi"", twice"\n' + '"",S01,,"",""\n' + LAST,
        "duckdb",
    ),
    "formula in a quoted cell": (ROW + '2025-04,S02,discipline_score,80,"=HYPERLINK(""x"")"\n' + LAST, "duckdb"),
    "quote inside a cell": (ROW + '2025-04,S02,discipline_score,80,a"b\n' + LAST, "pandas"),
    "text after a closing quote": (ROW + '2025-04,S02,discipline_score,"8"0,\n' + LAST, "pandas"),
    "quoted line break": (ROW + '2025-04,S02,discipline_score,80,"two\nlines"\n' + LAST, "pandas"),
    "CRLF line ends": ((ROW + OTHER + LAST).replace("\n", "\r\n"), "pandas"),
    "one CRLF line": (ROW + OTHER.replace("\n", "\r\n") + LAST, "pandas"),
    "lone CR in a cell": (ROW + "2025-04,S02,discipline_score,8\r0,\n" + LAST, "pandas"),
    "CR inside quotes": (ROW + '2025-04,S02,discipline_score,80,"a\rb"\n' + LAST, "pandas"),
    "CR at the end": (ROW + LAST + "\r", "pandas"),
    "NUL byte": (ROW + "2025-04,S02,discipline_score,80,x\x00y\n" + LAST, "pandas"),
}


LINE_ENDS = {"LF": "\n", "CRLF": "\r\n"}


def crlf(text: str) -> str:
    """``text`` with every LF written as CRLF."""
    return text.replace("\n", "\r\n")


CRLF_HEADER = crlf(HEADER)

MIXED: dict[str, tuple[str, str]] = {
    # name: (the text after a CRLF header line, who reads it); pandas ends a line at CRLF, LF or a lone CR
    "CRLF throughout": (crlf(ROW + OTHER + LAST), "duckdb"),
    "no final line end": (crlf(ROW + OTHER) + LAST.rstrip("\n"), "duckdb"),
    "blank CRLF lines": ("\r\n" + crlf(ROW) + "\r\n" + crlf(LAST) + "\r\n\r\n", "duckdb"),
    "CRLF line of spaces": (crlf(ROW) + "  \r\n" + crlf(LAST), "duckdb"),
    "quoted cells, CRLF": (
        crlf(ROW) + '2025-04,"S02","discipline_score","8,5","a ""b"", c"\r\n' + crlf(LAST),
        "duckdb",
    ),
    "one LF line": (crlf(ROW) + OTHER + crlf(LAST), "pandas"),
    "two LF lines": (ROW + OTHER + crlf(LAST), "pandas"),  # their bytes count as one line end missing
    "LF at the end": (crlf(ROW + OTHER) + LAST, "pandas"),
    "LF after the header": (ROW + OTHER + LAST, "pandas"),
    "blank LF line": (crlf(ROW) + "\n" + crlf(LAST), "pandas"),
    "lone CR ending a line": (ROW.replace("\n", "\r") + crlf(OTHER + LAST), "pandas"),
    "lone CR in a cell": (crlf(ROW) + "2025-04,S02,discipline_score,8\r0,\r\n" + crlf(LAST), "pandas"),
    "CR CR LF": (ROW.replace("\n", "\r\r\n") + crlf(LAST), "pandas"),
    "LF CR": (ROW.replace("\n", "\n\r") + crlf(LAST), "pandas"),
    "CR inside quotes": (crlf(ROW) + '2025-04,S02,discipline_score,80,"a\rb"\r\n' + crlf(LAST), "pandas"),
    "CRLF inside quotes": (crlf(ROW) + '2025-04,S02,discipline_score,80,"a\r\nb"\r\n' + crlf(LAST), "pandas"),
    "CR at the end, no LF": (crlf(ROW) + LAST.replace("\n", "\r"), "pandas"),
    "CR after the last CRLF": (crlf(ROW + LAST) + "\r", "pandas"),
    "NUL byte": (crlf(ROW + "2025-04,S02,discipline_score,80,x\x00y\n" + LAST), "pandas"),
}


@pytest.fixture
def units(tmp_path: Path) -> Path:
    path = tmp_path / "units.csv"
    path.write_text("unit_id,level\nS01,station\nS02,station\n", encoding="utf-8")
    return path


@pytest.fixture
def head_is_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python looks at the header line only: every hostile byte below it is DuckDB's read to find."""
    monkeypatch.setattr(validate, "_HEAD_BYTES", len(HEADER.encode("utf-8")))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def reader(path: Path) -> str:
    """Who read ``path`` for the engine: DuckDB itself, or pandas (``read_table``) handing it over."""
    con = validate.connect("512MB")
    try:
        frame, _ = validate._register_raw(con, path, None)
    finally:
        con.close()
    return "pandas" if len(frame) else "duckdb"


def single_read(path: Path) -> str | None:
    """The line end with which DuckDB read ``path`` itself in its single read, None when it did not."""
    plain = validate._plain_csv(path)
    con = validate.connect("512MB")
    try:
        return plain[1] if plain is not None and validate._read_plain_csv(con, path, *plain) else None
    finally:
        con.close()


def engine_read(path: Path) -> pd.DataFrame:
    """The table the engine reads from ``path`` (by DuckDB or handed over by pandas), in row order."""
    con = validate.connect("512MB")
    try:
        validate._register_raw(con, path, None)
        return con.execute("SELECT * FROM raw_all ORDER BY source_row").df()
    finally:
        con.close()


def assert_same_cells(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same columns, row numbers and cells (missing as missing)."""
    assert list(got.columns) == list(expected.columns)
    assert got["source_row"].tolist() == expected["source_row"].tolist()
    for column in expected.columns.drop("source_row"):
        want = [None if pd.isna(v) else v for v in expected[column]]
        have = [None if pd.isna(v) else v for v in got[column]]
        assert have == want, column


@pytest.mark.usefixtures("head_is_the_header")
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("line_end", list(LINE_ENDS))
def test_hostile_csv_text_gives_the_pandas_result(
    tmp_path: Path, units: Path, line_end: str, case: str, suffix: str
) -> None:
    body, expected_reader = CASES[case]
    text = (HEADER + body).replace("\n", LINE_ENDS[line_end])
    path = write(tmp_path / f"observations{suffix}", text.encode("utf-8"))
    expected, got = assert_same(FRAMEWORK, path, units)
    assert reader(path) == expected_reader
    assert single_read(path) == (LINE_ENDS[line_end] if expected_reader == "duckdb" else None)
    # every line counts: input rows are the lines after the header, blank ones included
    lines = pd.read_csv(io.StringIO(text), dtype=str, skip_blank_lines=False, keep_default_na=False)
    if expected_reader == "duckdb":
        assert got.n_input == len(lines)
        assert set(got.data["source_row"]) | set(got.quarantine["row"]) == set(range(2, len(lines) + 2))


@pytest.mark.usefixtures("head_is_the_header")
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("case", list(MIXED))
def test_a_crlf_file_is_read_once_only_when_every_line_ends_in_crlf(tmp_path: Path, case: str, suffix: str) -> None:
    """A CR or LF that is not part of a CRLF line end sends the file to pandas; either way the cells are pandas'.

    (The head Python looks at ends between the header's CR and LF here.)
    """
    body, expected_reader = MIXED[case]
    path = write(tmp_path / f"observations{suffix}", (CRLF_HEADER + body).encode("utf-8"))
    assert single_read(path) == ("\r\n" if expected_reader == "duckdb" else None)
    expected = read_table(path, aliases=OBSERVATION_ALIASES)
    assert_same_cells(engine_read(path), expected)
    assert reader(path) == expected_reader


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("line_end", list(LINE_ENDS))
def test_a_byte_order_mark_is_skipped_as_pandas_skips_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, units: Path, line_end: str, suffix: str
) -> None:
    """Excel's "CSV UTF-8" begins with one (and ends its lines in CRLF): the file is still read once.

    A mark further on is text, for pandas as for DuckDB.
    """
    bom = "\ufeff"
    text = (bom + HEADER + ROW + f"2025-04,S02,discipline_score,80,{bom}x\n" + "\n" + LAST).replace(
        "\n", LINE_ENDS[line_end]
    )
    path = write(tmp_path / f"observations{suffix}", text.encode("utf-8"))
    monkeypatch.setattr(validate, "_HEAD_BYTES", len((bom + HEADER).encode("utf-8")))
    assert validate._plain_csv(path) == (HEADER.strip().split(","), LINE_ENDS[line_end], True)
    assert single_read(path) == LINE_ENDS[line_end]
    expected, got = assert_same(FRAMEWORK, path, units)
    assert got.n_input == 4
    assert (bom + "x") in set(got.data["remark"]) | set(got.quarantine["remark"])


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_large_crlf_file_is_read_once_and_a_stray_line_end_deep_inside_is_seen(tmp_path: Path, suffix: str) -> None:
    """Past the head, in 8 MB of text: every row in order; pandas when one line ends otherwise, wherever it is."""
    rows = [f"2025-04,S{k % 2 + 1:02d},discipline_score,{k % 100},r{k}" for k in range(200_000)]
    clean = write(tmp_path / f"clean{suffix}", crlf(HEADER + "\n".join(rows) + "\n").encode("utf-8"))
    assert single_read(clean) == "\r\n"
    got = engine_read(clean)
    assert got["source_row"].tolist() == list(range(2, len(rows) + 2))
    assert (got["remark"] == [f"r{k}" for k in range(len(rows))]).all()
    for at, stray in ((150_000, "\n"), (199_990, "\r"), (1, "\r\r\n")):
        text = crlf(HEADER + "\n".join(rows[:at])) + stray + crlf("\n".join(rows[at:]) + "\n")
        assert single_read(write(tmp_path / f"stray{suffix}", text.encode("utf-8"))) is None, repr(stray)


@pytest.mark.usefixtures("head_is_the_header")
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("line_end", list(LINE_ENDS))
def test_a_row_longer_than_the_header_is_refused_as_pandas_refuses_it(
    tmp_path: Path, units: Path, line_end: str, suffix: str
) -> None:
    text = (HEADER + ROW + "2025-04,S02,x,1,a,extra\n").replace("\n", LINE_ENDS[line_end])
    path = write(tmp_path / f"observations{suffix}", text.encode("utf-8"))
    con = validate.connect("512MB")
    try:
        assert not validate._read_plain_csv(con, path, HEADER.strip().split(","), LINE_ENDS[line_end])
        with pytest.raises(PerfmodelError) as engine_error:
            validate._register_raw(con, path, None)
    finally:
        con.close()
    with pytest.raises(PerfmodelError) as pandas_error:
        read_table(path, aliases=OBSERVATION_ALIASES)
    assert str(engine_error.value) == str(pandas_error.value)


def test_invalid_utf8_below_the_head_goes_to_pandas(head_is_the_header: None, tmp_path: Path, units: Path) -> None:
    data = (HEADER + ROW).encode("utf-8") + "2025-04,S02,discipline_score,80,名\n".encode("gb18030")
    path = write(tmp_path / "observations.csv", data + LAST.encode("utf-8"))
    assert reader(path) == "pandas"
    assert_same(FRAMEWORK, path, units)


@pytest.mark.parametrize("line_end", list(LINE_ENDS))
def test_a_gzip_file_of_several_members_is_read_by_pandas_with_the_same_result(
    tmp_path: Path, units: Path, line_end: str
) -> None:
    """Its recorded size is its last member's: the lines' bytes do not add up, so the file is not trusted."""
    path = tmp_path / "observations.csv.gz"
    first, second = (
        (HEADER + ROW).replace("\n", LINE_ENDS[line_end]),
        (OTHER + LAST).replace("\n", LINE_ENDS[line_end]),
    )
    path.write_bytes(gzip.compress(first.encode("utf-8")) + gzip.compress(second.encode("utf-8")))
    assert reader(path) == "pandas"
    expected, _ = assert_same(FRAMEWORK, path, units)
    assert expected.n_input == 3


def test_text_size_is_the_file_size_or_the_gzip_record(tmp_path: Path) -> None:
    text = (HEADER + ROW * 1000).encode("utf-8")
    plain = write(tmp_path / "a.csv", text)
    packed = write(tmp_path / "a.csv.gz", text)
    assert validate._text_size(plain) == (len(text), 2**64)
    assert validate._text_size(packed) == (len(text), 2**32)
    fake = tmp_path / "fake.csv.gz"
    fake.write_bytes(text)  # named .gz, not gzip
    assert validate._text_size(fake)[0] is None


def lf_corpus() -> list[Path]:
    return sorted(p for p in ADVERSARIAL.glob("obs_*.csv") if ".refused." not in p.name)


def corpus_units(folder: Path) -> Path:
    units = folder / "units.csv"
    units.write_text("unit_id,level\nS01,station\nS02,station\nS03,station\n12,station\n", encoding="utf-8")
    return units


@pytest.mark.parametrize("path", lf_corpus(), ids=lambda p: p.name)
def test_adversarial_corpus_with_lf_line_ends_gives_the_pandas_result(tmp_path: Path, path: Path) -> None:
    """The corpus is written with CRLF: with LF its UTF-8 files take the single read too."""
    copy = write(tmp_path / path.name, path.read_bytes().replace(b"\r\n", b"\n"))
    assert_same(FRAMEWORK, copy, corpus_units(tmp_path))
    assert single_read(copy) == ("\n" if path.name in CORPUS_READ_ONCE else None)


CORPUS_READ_ONCE = (
    "obs_count_1e308.csv",
    "obs_formula_cells.csv",
    "obs_hostile_html_names.csv",
    "obs_indicator_names.csv",
    "obs_inf_text.csv",
    "obs_long_cell.csv",
    "obs_wide_export.csv",  # with a byte-order mark
)
"""The corpus's UTF-8, comma-separated files with a header line, every line ending in CRLF as stored."""


@pytest.mark.parametrize("path", lf_corpus(), ids=lambda p: p.name)
def test_adversarial_corpus_as_stored_with_crlf_takes_the_single_read(path: Path) -> None:
    """Its CRLF files are read by DuckDB itself, with pandas' cells (the whole result is compared with the
    pandas path's in ``test_engine_validate.py::test_engine_equals_pandas_on_the_adversarial_corpus``)."""
    data = path.read_bytes()
    if path.name in CORPUS_READ_ONCE:
        assert data.count(b"\n") == data.count(b"\r\n") > 0  # every line ends in CRLF
        assert single_read(path) == "\r\n"
    else:
        assert single_read(path) is None
    assert_same_cells(engine_read(path), read_table(path, aliases=OBSERVATION_ALIASES))


@pytest.mark.parametrize("line_end", list(LINE_ENDS))
def test_a_wide_export_read_once_names_its_cells_by_their_letters(tmp_path: Path, line_end: str) -> None:
    """Its rows become one per indicator; a quarantined one names its cell (D2 …) as the pandas path does."""
    text = "月份,单位编号,单位名称,案件规范率,纪律作风\n2025-04,S01,东城所,1.5,88\n2025-04,S02,西城所,0.9,x\n"
    path = write(tmp_path / "wide.csv", text.replace("\n", LINE_ENDS[line_end]).encode("utf-8"))
    assert single_read(path) == LINE_ENDS[line_end]
    expected, got = assert_same(FRAMEWORK, path, corpus_units(tmp_path))
    assert got.quarantine["cell"].tolist() == ["D2 '案件规范率'", "E3 '纪律作风'"]
    assert got.data["source_cell"].tolist() == ["E2 '纪律作风'", "D3 '案件规范率'"]


CELL = st.text(alphabet=["a", "7", " ", ",", '"', "é", "\n", "\r", "\u3000", "-"], max_size=6)


@pytest.mark.parametrize("line_end", list(LINE_ENDS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CELL, min_size=0, max_size=5), min_size=0, max_size=8),
    blank_at=st.sets(st.integers(0, 8), max_size=3),
    final_newline=st.booleans(),
    line_breaks=st.booleans(),
)
def test_the_single_read_gives_pandas_cells_row_for_row(
    tmp_path: Path,
    line_end: str,
    rows: list[list[str]],
    blank_at: set[int],
    final_newline: bool,
    line_breaks: bool,
) -> None:
    """Any text a CSV writer makes (quotes, commas, line breaks in cells), with blank lines anywhere, every
    line ending in LF or every line in CRLF.

    DuckDB reads every such file itself unless a cell holds a line break (LF or CR).
    """
    end = LINE_ENDS[line_end]
    if not line_breaks:
        rows = [[cell.replace("\n", "-").replace("\r", "-") for cell in row] for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=end)
    writer.writerow(HEADER.strip().split(","))
    header = buffer.getvalue()
    lines = []
    for k, row in enumerate(rows):
        if k in blank_at:
            lines.append(end)
        one = io.StringIO()
        csv.writer(one, lineterminator=end).writerow(row)
        lines.append(one.getvalue() if row else end)
    text = header + "".join(lines)
    if not final_newline and len(text) > len(header):
        text = text.removesuffix(end)
    path = write(tmp_path / "cells.csv", text.encode("utf-8"))
    try:
        expected = read_table(path, aliases=OBSERVATION_ALIASES)
    except PerfmodelError:
        return  # pandas refuses the file (a row longer than the header): the engine reads it with pandas too
    con = validate.connect("512MB")
    try:
        frame, _ = validate._register_raw(con, path, None)
        breaks = any("\n" in cell or "\r" in cell for row in rows for cell in row)
        assert bool(len(frame)) == breaks  # handed over by pandas exactly where a cell holds a line break
        if breaks:
            return
        got = con.execute("SELECT * FROM raw_all ORDER BY source_row").df()
    finally:
        con.close()
    assert_same_cells(got, expected)


def test_the_screen_takes_as_numbers_exactly_the_texts_of_the_number_pattern() -> None:
    """The screen's cheap check (no regular expression over the whole text) equals the pattern, on every
    text of up to six characters of the pattern's alphabet and on texts DuckDB alone would cast."""
    alphabet = ["1", "0", ".", "e", "+", "-", " ", "\n"]
    texts = ["".join(p) for n in range(1, 7) for p in itertools.product(alphabet, repeat=n)]
    texts += ["inf", "-nan", "Infinity", "1_000", "\x0b1", "1\x0c", "１２", "E5", "1E5", "\t1\r", "+-1", "1e400", ""]
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"value": texts}))
    value, plain = validate._number_sql("value", "VARCHAR")
    got = con.execute(f"SELECT {value} AS v, {plain} AS p FROM t").df()
    expected = [re.fullmatch(validate._NUMBER, text) is not None for text in texts]
    assert got["p"].tolist() == expected
    parsed = [float(text) for text, ok in zip(texts, expected, strict=True) if ok]
    assert got.loc[got["p"], "v"].tolist() == parsed  # and the number is Python's
