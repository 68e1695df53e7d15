"""Fuzzing the input layer (read_table + validation) and running the adversarial corpus.

Whatever bytes, encodings, headers, separators and cell texts a file holds, reading
and validating it either refuses the whole file with a :class:`PerfmodelError`
whose message names the file, or accounts for every row: ``used + quarantined ==
input rows``, and every quarantined row has a known reason code and a message
naming the file and the row. Any other exception is a bug.

Cases run per full test run: 6 properties × :data:`EXAMPLES` examples plus one
validation per corpus file (see ``tests/data/adversarial/README.md``).
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from perfmodel.errors import PerfmodelError
from perfmodel.framework import load_framework
from perfmodel.io import OBSERVATION_ALIASES, UNIT_ALIASES, aliases_of, read_table
from perfmodel.validation import (
    REASONS,
    ValidationResult,
    read_inputs,
    validate_observations,
    validate_units,
)

FRAMEWORK = load_framework("station_four_dimension")
ADVERSARIAL = Path(__file__).parent / "data" / "adversarial"
EXAMPLES = 150
"""Examples per property; the four properties take about 20 s on one core."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # no shrinking: a failing example (at most 8 rows) is shown as found, at once
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
UNITS = pd.DataFrame({"unit_id": ["S01", "S02", "12"], "level": ["station"] * 3, "source_row": [2, 3, 4]})
UNITS.attrs["source"] = "units.csv"


def accounted(result: ValidationResult, source: str, n_rows: int | None = None) -> None:
    """Every row used or quarantined, each quarantined row with a reason and a located message."""
    assert result.n_input == len(result.data) + len(result.quarantine)
    if n_rows is not None:
        assert result.n_input == n_rows
    held = result.quarantine
    assert held["reason"].isin(list(REASONS)).all(), held["reason"].unique()
    label = Path(source).name
    assert held["message"].map(lambda m: m.startswith(label + " ") and " row " in m).all()


def read_and_validate(path: Path, kind: str = "observations") -> None:
    """read_table + validation of ``path``; a PerfmodelError must name the file."""
    try:
        aliases = OBSERVATION_ALIASES if kind == "observations" else UNIT_ALIASES
        table = read_table(path, aliases=aliases)
        if kind == "observations":
            units = validate_units(UNITS, source="units.csv")
            result = validate_observations(table, units, FRAMEWORK, source=str(path))
            wide = any(note.startswith("wide export") for note in result.notes)
            accounted(result, str(path), None if wide else len(table))
        else:
            accounted(validate_units(table, source=str(path)), str(path), len(table))
    except PerfmodelError as exc:
        message = str(exc)
        assert str(path) in message or path.name in message, message
        assert "\n" not in message.strip() or len(message) < 2000


# ----------------------------------------------------------------------------- strategies
HOSTILE_CELLS = [
    "=1+1",
    "=cmd|' /C calc'!A0",
    "0.5\r=cmd|' /C calc'!A0",
    "+0.5",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a\r\nb",
    "a\rb",
    "x\x00y",
    "inf",
    "-Infinity",
    "nan",
    "1e308",
    "-1e308",
    "1e999",
    "93%",
    "1,234",
    "NA",
    "无",
    "  ",
    '"',
    "''",
    "案件规范率",
    "Case-handling compliance rate",
    "ｃａｓｅ＿ｃｏｍｐｌｉａｎｃｅ＿ｒａｔｅ",
    "2025-04",
    "2025年4月",
    "S01",
    "12",
    "0.93",
    "9" * 5000,
]
HEADERS = sorted(
    {
        a
        for c in (
            "period",
            "unit_id",
            "indicator",
            "value",
            "numerator",
            "denominator",
            "rater_id",
            "submitted_at",
        )
        for a in aliases_of(c, OBSERVATION_ALIASES)
    }
    | {"案件规范率", "纪律作风", "callback_satisfaction", "remark", "source_row", "=A1", "<b>x</b>"}
)
cell = st.one_of(
    st.sampled_from(HOSTILE_CELLS),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
)
separator = st.sampled_from([",", ";", "\t", "|"])
encoding = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "gb18030"])


@st.composite
def text_tables(draw):
    """A header from the accepted aliases (and others) and rows of hostile cells."""
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=7, unique=True))
    rows = draw(st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), max_size=8))
    return header, rows


def encode(text: str, codec: str) -> bytes:
    return text.encode(codec, errors="replace")


# ----------------------------------------------------------------------------- properties
@FUZZ
@given(
    data=st.binary(max_size=600),
    name=st.sampled_from(["obs.csv", "obs.tsv", "obs.xlsx", "obs.xls", "obs.csv.gz"]),
)
def test_random_bytes_are_read_or_refused(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    read_and_validate(path)


@FUZZ
@given(table=text_tables(), sep=separator, codec=encoding, quoted=st.booleans())
def test_hostile_text_tables_are_accounted_for(tmp_path, table, sep, codec, quoted):
    header, rows = table
    buffer = io.StringIO()
    if quoted:  # written as a spreadsheet would: fields with separators, quotes or breaks quoted
        csv.writer(buffer, delimiter=sep, lineterminator="\r\n").writerows([header, *rows])
    else:  # written naively: separators and line breaks inside cells break the table
        buffer.write("\n".join(sep.join(r) for r in [header, *rows]))
    path = tmp_path / "obs.csv"
    path.write_bytes(encode(buffer.getvalue(), codec))
    read_and_validate(path)


@FUZZ
@given(table=text_tables())
def test_hostile_text_tables_are_accounted_for_as_units(tmp_path, table):
    header, rows = table
    header = [{"period": "unit_id", "indicator": "level"}.get(h, h) for h in header]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path = tmp_path / "units.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    read_and_validate(path, kind="units")


@FUZZ
@given(table=text_tables(), sheets=st.integers(1, 3))
def test_hostile_workbooks_are_accounted_for(tmp_path, table, sheets):
    header, rows = table
    path = tmp_path / "obs.xlsx"
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    # openpyxl refuses control characters in cells; a real workbook cannot hold them
    frame = frame.map(lambda v: "".join(ch for ch in v if ch >= " " or ch in "\t\n\r"))
    with pd.ExcelWriter(path) as writer:
        for k in range(sheets):
            frame.to_excel(writer, sheet_name=f"m{k}", index=False)
    read_and_validate(path)


# ----------------------------------------------------------------------------- corpus
def corpus(prefix: str) -> list[Path]:
    return sorted(p for p in ADVERSARIAL.glob(f"{prefix}_*") if p.suffix != ".py")


@pytest.mark.parametrize("path", corpus("obs") + corpus("units"), ids=lambda p: p.name)
def test_adversarial_corpus_file_is_read_or_refused_and_accounted_for(tmp_path, path):
    observations = tmp_path / "observations.csv"
    observations.write_text("period,unit_id,indicator,value\n2025-04,S01,case_compliance_rate,0.9\n", encoding="utf-8")
    units = tmp_path / "units.csv"
    units.write_text("unit_id,level\nS01,station\nS02,station\nS03,station\n", encoding="utf-8")
    obs_file, units_file = (path, units) if path.name.startswith("obs_") else (observations, path)
    if ".refused." in path.name:
        with pytest.raises(PerfmodelError, match=path.name):
            read_inputs(FRAMEWORK, obs_file, units_file)
        return
    obs_result, units_result = read_inputs(FRAMEWORK, obs_file, units_file)
    accounted(units_result, str(units_file))
    accounted(obs_result, str(obs_file))
    assert len(obs_result.data) + len(units_result.data) > 0, "nothing of the file was read"


def test_corpus_has_one_file_per_input_attack():
    names = {p.name for p in corpus("obs") + corpus("units")}
    assert len(names) >= 15
    readme = (ADVERSARIAL / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in names), sorted(n for n in names if n not in readme)


WORKBOOKS = [ADVERSARIAL / "obs_legacy_months.xls", ADVERSARIAL / "obs_multi_sheet_months.xlsx"]


@FUZZ
@given(
    source=st.sampled_from(WORKBOOKS),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_damaged_workbooks_are_read_or_refused(tmp_path, source, cut, flips):
    data = bytearray(source.read_bytes())
    for where, byte in flips:
        data[int(where * (len(data) - 1))] = byte
    data = data[: max(8, int(cut * len(data)))] if cut < 0.95 else data
    path = tmp_path / f"obs{source.suffix}"
    path.write_bytes(bytes(data))
    read_and_validate(path)


@FUZZ
@given(
    member=st.integers(0, 50),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=4),
)
def test_workbooks_with_damaged_parts_are_read_or_refused(tmp_path, member, cut, flips):
    """A valid zip whose parts (sheet XML, styles, workbook) are cut or altered."""
    source = ADVERSARIAL / "obs_multi_sheet_months.xlsx"
    path = tmp_path / "obs.xlsx"
    with zipfile.ZipFile(source) as book, zipfile.ZipFile(path, "w") as out:
        items = book.infolist()
        target = items[member % len(items)].filename
        for item in items:
            data = bytearray(book.read(item.filename))
            if item.filename == target and data:
                for where, byte in flips:
                    data[int(where * (len(data) - 1))] = byte
                data = data[: int(cut * len(data))]
            out.writestr(item, bytes(data))
    read_and_validate(path)
