"""A CSV file is read once by DuckDB, and gives exactly what pandas reads from it.

:func:`perfmodel.engine.validate._read_plain_csv` reads the text as lines in one
pass and splits them in SQL; lines that pandas reads otherwise (CR, NUL, a quote
across lines, more cells than the header) send the file to
:func:`perfmodel.io.read_table`. Each hostile feature of a CSV file is checked
after the head that is looked at in Python (the head is cut to the header line
here), plain and gzipped: the accepted rows, the quarantine (row numbers, reason
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
    # name: (the text after the header, who reads it: DuckDB itself or pandas)
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


@pytest.mark.usefixtures("head_is_the_header")
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
@pytest.mark.parametrize("case", list(CASES))
def test_hostile_csv_text_gives_the_pandas_result(tmp_path: Path, units: Path, case: str, suffix: str) -> None:
    body, expected_reader = CASES[case]
    path = write(tmp_path / f"observations{suffix}", (HEADER + body).encode("utf-8"))
    expected, got = assert_same(FRAMEWORK, path, units)
    assert reader(path) == expected_reader
    # every line counts: input rows are the lines after the header, blank ones included
    lines = pd.read_csv(io.StringIO(HEADER + body), dtype=str, skip_blank_lines=False, keep_default_na=False)
    if expected_reader == "duckdb":
        assert got.n_input == len(lines)
        assert set(got.data["source_row"]) | set(got.quarantine["row"]) == set(range(2, len(lines) + 2))


@pytest.mark.usefixtures("head_is_the_header")
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_row_longer_than_the_header_is_refused_as_pandas_refuses_it(tmp_path: Path, units: Path, suffix: str) -> None:
    path = write(tmp_path / f"observations{suffix}", (HEADER + ROW + "2025-04,S02,x,1,a,extra\n").encode("utf-8"))
    con = validate.connect("512MB")
    try:
        assert not validate._read_plain_csv(con, path, HEADER.strip().split(","))
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


def test_a_gzip_file_of_several_members_is_read_by_pandas_with_the_same_result(tmp_path: Path, units: Path) -> None:
    """Its recorded size is its last member's: the lines' bytes do not add up, so the file is not trusted."""
    path = tmp_path / "observations.csv.gz"
    path.write_bytes(gzip.compress((HEADER + ROW).encode("utf-8")) + gzip.compress((OTHER + LAST).encode("utf-8")))
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


@pytest.mark.parametrize("path", lf_corpus(), ids=lambda p: p.name)
def test_adversarial_corpus_with_lf_line_ends_gives_the_pandas_result(tmp_path: Path, path: Path) -> None:
    """The corpus is written with CRLF (pandas reads it, not DuckDB): with LF its UTF-8 files take the single read."""
    units = tmp_path / "units.csv"
    units.write_text("unit_id,level\nS01,station\nS02,station\nS03,station\n12,station\n", encoding="utf-8")
    copy = write(tmp_path / path.name, path.read_bytes().replace(b"\r\n", b"\n"))
    assert_same(FRAMEWORK, copy, units)
    if path.name in ("obs_formula_cells.csv", "obs_hostile_html_names.csv", "obs_count_1e308.csv"):
        assert reader(copy) == "duckdb"


CELL = st.text(alphabet=["a", "7", " ", ",", '"', "é", "\n", "\u3000", "-"], max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(CELL, min_size=0, max_size=5), min_size=0, max_size=8),
    blank_at=st.sets(st.integers(0, 8), max_size=3),
    final_newline=st.booleans(),
    line_breaks=st.booleans(),
)
def test_the_single_read_gives_pandas_cells_row_for_row(
    tmp_path: Path, rows: list[list[str]], blank_at: set[int], final_newline: bool, line_breaks: bool
) -> None:
    """Any text a CSV writer makes (quotes, commas, line breaks in cells), with blank lines anywhere.

    DuckDB reads every such file itself unless a cell holds a line break.
    """
    if not line_breaks:
        rows = [[cell.replace("\n", "-") for cell in row] for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER.strip().split(","))
    lines = []
    for k, row in enumerate(rows):
        if k in blank_at:
            lines.append("\n")
        one = io.StringIO()
        csv.writer(one, lineterminator="\n").writerow(row)
        lines.append(one.getvalue() if row else "\n")
    text = buffer.getvalue() + "".join(lines)
    if not final_newline:
        text = text[:-1] if text.endswith("\n") and len(text) > len(HEADER) else text
    path = write(tmp_path / "cells.csv", text.encode("utf-8"))
    try:
        expected = read_table(path, aliases=OBSERVATION_ALIASES)
    except PerfmodelError:
        return  # pandas refuses the file (a row longer than the header): the engine reads it with pandas too
    con = validate.connect("512MB")
    try:
        frame, _ = validate._register_raw(con, path, None)
        breaks = any("\n" in cell for row in rows for cell in row)
        assert bool(len(frame)) == breaks  # handed over by pandas exactly where a cell holds a line break
        if breaks:
            return
        got = con.execute("SELECT * FROM raw_all ORDER BY source_row").df()
    finally:
        con.close()
    assert list(got.columns) == list(expected.columns)
    assert got["source_row"].tolist() == expected["source_row"].tolist()
    for column in expected.columns.drop("source_row"):
        want = [None if pd.isna(v) else v for v in expected[column]]
        have = [None if pd.isna(v) else v for v in got[column]]
        assert have == want, column


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
