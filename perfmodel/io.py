"""Reading and writing tables: CSV, Excel and Parquet, with Chinese header aliases.

:func:`read_table` turns a file into a frame with canonical column names and every
value kept exactly as read (text for CSV, TSV and Excel), plus a ``source_row``
column holding the row number a person sees when the file is opened in a
spreadsheet (the header is row 1, the first data row is row 2). Every sheet of
a workbook that has a header is read (``source_sheet``); the encoding and the
separator of a text file are detected. Nothing is converted, trimmed or dropped
here; judging the values is the job of :mod:`perfmodel.validation`.

:func:`write_table` writes CSV (UTF-8 with a byte-order mark so that Excel shows
Chinese correctly), Excel or Parquet, and neutralises text that a spreadsheet
would run as a formula.

The data contract (columns, aliases, row numbers) is in ``docs/data-contract.md``.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import os
import re
import struct
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfmodel.errors import PerfmodelError

if TYPE_CHECKING:
    from xlrd.sheet import Cell as XlrdCell

__all__ = [
    "InputError",
    "OBSERVATION_ALIASES",
    "UNIT_ALIASES",
    "SUPPORTED_EXTENSIONS",
    "READABLE_EXTENSIONS",
    "SEPARATORS",
    "normalise_header",
    "canonical_columns",
    "aliases_of",
    "read_table",
    "write_table",
    "write_workbook",
    "SheetFormat",
    "Validation",
    "display_width",
    "guard_formulas",
    "guard_text",
]


class InputError(PerfmodelError, ValueError):
    """A file that cannot be read as a table; the message names the file and the fix."""


SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".xlsx", ".parquet")
"""File name endings :func:`write_table` writes (and :func:`read_table` reads)."""

READABLE_EXTENSIONS: tuple[str, ...] = (*SUPPORTED_EXTENSIONS, ".xls")
"""File name endings :func:`read_table` reads: :data:`SUPPORTED_EXTENSIONS` and legacy ``.xls``."""

_HEADER_SCAN_ROWS = 20
"""How many leading non-blank rows are searched for the header row."""


def normalise_header(header: object) -> str:
    """The key a header or name is matched on: NFKC (full-width → half-width), trimmed,
    case-folded, inner spaces and hyphens as ``_``.

    Examples
    --------
    >>> normalise_header("  Unit ID ")
    'unit_id'
    >>> normalise_header("单位编号")
    '单位编号'
    >>> normalise_header("案件规范率（％）")
    '案件规范率(%)'
    """
    text = unicodedata.normalize("NFKC", str(header))
    return re.sub(r"[\s\-]+", "_", text.strip()).casefold()


def _alias_table(groups: Mapping[str, Iterable[str]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, aliases in groups.items():
        for alias in (canonical, *aliases):
            table[normalise_header(alias)] = canonical
    return table


OBSERVATION_ALIASES: dict[str, str] = _alias_table(
    {
        "period": ("month", "期间", "月份", "统计月份", "考核月份"),
        "unit_id": ("unit", "unit_code", "单位编号", "单位代码"),
        "indicator": ("indicator_id", "指标", "指标编号", "指标代码"),
        "value": ("数值", "指标值"),
        "numerator": ("分子",),
        "denominator": ("分母",),
        "rater_id": ("rater", "评分人", "评分人编号"),
        "submitted_at": ("submitted", "提交时间", "上报时间"),
    }
)
"""Normalised header (see :func:`normalise_header`) → canonical observation column."""

UNIT_ALIASES: dict[str, str] = _alias_table(
    {
        "unit_id": ("unit", "unit_code", "单位编号", "单位代码"),
        "name": ("单位名称", "名称", "姓名"),
        "level": ("层级",),
        "parent_id": ("parent", "上级单位", "上级单位编号", "所属派出所"),
        "station_class": ("所类", "派出所类别"),
        "station_type": ("所别", "派出所类型"),
        "area_type": ("区域类型",),
        "district": ("分局", "辖区"),
        "population": ("辖区人口", "人口"),
        "incident_volume": ("警情量",),
        "officers": ("警力", "民警数"),
        "role": ("岗位",),
        "gender": ("性别",),
        "age_band": ("年龄段",),
        "tenure_band": ("警龄段",),
    }
)
"""Normalised header (see :func:`normalise_header`) → canonical unit column."""


def aliases_of(canonical: str, aliases: Mapping[str, str]) -> list[str]:
    """Every accepted header for ``canonical``, the canonical name first.

    Examples
    --------
    >>> aliases_of("value", OBSERVATION_ALIASES)
    ['value', '数值', '指标值']
    """
    found = [alias for alias, target in aliases.items() if target == canonical]
    return sorted(found, key=lambda alias: alias != canonical)


def canonical_columns(headers: Iterable[object], aliases: Mapping[str, str], *, source: str = "<table>") -> list[str]:
    """Canonical names for ``headers``; unknown headers are kept (trimmed).

    Raises
    ------
    InputError
        When two headers end up with the same name, e.g. ``月份`` and ``期间``
        (both mean ``period``).
    """
    names: list[str] = []
    origin: dict[str, list[str]] = {}
    for header in headers:
        key = normalise_header(header)
        name = aliases.get(key, str(header).strip())
        names.append(name)
        origin.setdefault(aliases.get(key, key), []).append(str(header))
    clashes = {name: heads for name, heads in origin.items() if len(heads) > 1}
    if clashes:
        parts = [
            f"{' and '.join(repr(h) for h in heads)} all mean {name!r}"
            if len(heads) > 2
            else f"{heads[0]!r} and {heads[1]!r} both mean {name!r}"
            for name, heads in clashes.items()
        ]
        raise InputError(
            f"{source}: duplicate columns: {'; '.join(parts)}. Keep one of each and rename "
            "or delete the others (header matching ignores case and surrounding spaces)."
        )
    return names


# ----------------------------------------------------------------------------- reading
def _format(path: Path, allowed: tuple[str, ...] = SUPPORTED_EXTENSIONS) -> str:
    name = path.name.lower()
    for ext in sorted(allowed, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    hint = " (save it as .xlsx)" if name.endswith((".xls", ".xlsm", ".ods")) else ""
    raise InputError(
        f"{path}: unsupported file type {path.suffix or '(no extension)'!r}{hint}; supported: {', '.join(allowed)}"
    )


_READ_ERRORS = (
    ValueError,
    OSError,
    KeyError,
    EOFError,
    UnicodeError,
    zipfile.BadZipFile,
    zlib.error,
    csv.Error,
)
"""What the parsers raise on a damaged or mislabelled file."""


_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
"""Byte-order marks and the codec that reads them (the longer UTF-32 marks first)."""

SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")
"""Field separators that :func:`read_table` detects in text files."""

_SNIFF_CHARS = 65536
"""How much of a text file the separator is detected on."""


def _decode(raw: bytes, source: str) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with.

    A byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32). Without one, text in
    which every other byte is NUL is UTF-16 without a mark (LE when the NULs come
    second); otherwise UTF-8, then GB18030 (the superset of GBK that Chinese
    Excel on Windows writes).
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            encodings = [codec]
            break
    else:
        sample = raw[:4096]
        half = max(len(sample) // 2, 1)
        nul_even, nul_odd = sample[0::2].count(0), sample[1::2].count(0)
        if nul_odd > 0.4 * half and nul_even < 0.05 * half:
            encodings = ["utf-16-le"]
        elif nul_even > 0.4 * half and nul_odd < 0.05 * half:
            encodings = ["utf-16-be"]
        else:
            encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    tried = " or ".join(e.upper() for e in encodings)
    raise InputError(
        f"{source}: the text cannot be decoded as {tried}; save it again as 'CSV UTF-8' "
        "(in Excel: File → Save As → CSV UTF-8), or as .xlsx"
    )


def _sniff_separator(text: str, default: str, aliases: Mapping[str, str]) -> str:
    """The field separator of a text table, judged on its first lines.

    Each candidate of :data:`SEPARATORS` splits the sample (quotes respected);
    the one whose header-like rows name the most known columns wins, then the
    one that gives the most rows of one common width above 1. When no candidate
    splits anything, ``default`` (by the file extension).
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    best, best_score = default, (0, 0, 0)
    for separator in SEPARATORS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=separator) if any(r)]
        except csv.Error:
            continue
        rows = rows[:200]
        if not rows:
            continue
        known = max(sum(normalise_header(cell) in aliases for cell in row) for row in rows[:_HEADER_SCAN_ROWS])
        widths = Counter(len(row) for row in rows)
        width, count = widths.most_common(1)[0]
        score = (known, count, width) if width > 1 else (known, 0, 0)
        if score > best_score or (score == best_score and separator == default):
            best, best_score = separator, score
    return best


def _csv_grid(path: Path, fmt: str, source: str, aliases: Mapping[str, str]) -> pd.DataFrame:
    """A text table as a grid of text cells; encoding and separator detected."""
    raw = path.read_bytes()
    if fmt.endswith(".gz"):
        raw = gzip.decompress(raw)
    text, encoding = _decode(raw, source)
    default = "\t" if fmt.startswith(".tsv") else ","
    separator = _sniff_separator(text, default, aliases)
    if "\x00" in text:
        # The C parser ends a cell at NUL; keep the character visible instead.
        text = text.replace("\x00", "\N{SYMBOL FOR NULL}")
    elif encoding.startswith("utf-8"):
        # UTF-8 bytes parse faster than the decoded text (they were decoded once to check them).
        return _parse_csv(io.BytesIO(raw), separator, encoding)
    return _parse_csv(io.StringIO(text), separator, None)


def _parse_csv(handle: io.IOBase, separator: str, encoding: str | None) -> pd.DataFrame:
    """Cells as text, blank cells missing, blank lines kept (they count in row numbers)."""
    return pd.read_csv(
        handle,
        encoding=encoding,
        sep=separator,
        header=None,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=False,
        engine="c",
    )


_EXCEL_MAGIC = {b"PK\x03\x04": "openpyxl", b"\xd0\xcf\x11\xe0": "xlrd"}
"""First bytes of a workbook → reader: .xlsx is a zip file, .xls an OLE2 compound file."""


def _excel_engine(path: Path, source: str) -> str:
    """The reader for a workbook, chosen by its content (a renamed .xls is still read).

    Raises
    ------
    InputError
        The file is not a workbook at all, e.g. a web page or text table that a
        reporting system saved with an Excel extension.
    """
    with path.open("rb") as handle:
        head = handle.read(512)
    engine = _EXCEL_MAGIC.get(head[:4])
    if engine:
        return engine
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<", b"\xff\xfe<", b"\xfe\xff\x00<")):
        what = "a web page (HTML) with an Excel file name"
    elif head and b"\x00" not in head[:64]:
        what = "a text file with an Excel file name"
    else:
        what = "not an Excel workbook"
    raise InputError(
        f"{source}: cannot be read: it is {what}; open it in Excel and save it as .xlsx "
        "(or as CSV UTF-8), then read that file"
    )


def _excel_grids(path: Path, source: str, sheet: int | str | None) -> tuple[dict[str, pd.DataFrame], bool]:
    """Each sheet of a workbook as a grid of text cells, in workbook order.

    Returns the grids and whether the workbook has more than one sheet.
    """
    if _excel_engine(path, source) == "xlrd":
        return _xls_grids(path, source, sheet)
    # openpyxl reports damaged XML inside the zip with the XML parser's errors, and
    # with lookup, type and attribute errors on missing or malformed parts. The parser
    # is the standard library's (ElementTree.ParseError) or, when lxml is installed,
    # lxml's (lxml.etree.XMLSyntaxError): both are SyntaxError subclasses.
    damaged = (SyntaxError, KeyError, IndexError, TypeError, AttributeError)
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            names = [str(name) for name in book.sheet_names]
            grids = {
                name: pd.read_excel(book, sheet_name=name, header=None, dtype=str)
                for name in _chosen_sheets(names, sheet, source)
            }
    except damaged as exc:
        raise ValueError(f"damaged .xlsx workbook: {exc or type(exc).__name__}") from exc
    return grids, len(names) > 1


def _chosen_sheets(names: list[str], sheet: int | str | None, source: str) -> list[str]:
    """The sheets to read: all of ``names``, or the one ``sheet`` names (a name or position)."""
    if sheet is None:
        return names
    if isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(names):
        return [names[sheet]]
    if str(sheet) in names:
        return [str(sheet)]
    raise InputError(
        f"{source}: has no sheet {sheet!r}; its sheets are "
        + ", ".join(repr(n) for n in names)
        + " (--sheet takes one of these names)"
    )


def _xls_grids(path: Path, source: str, sheet: int | str | None) -> tuple[dict[str, pd.DataFrame], bool]:
    """The sheets of a legacy ``.xls`` workbook (BIFF, Excel 97-2003) as grids of text cells.

    Read with xlrd directly (pandas deprecates its xlrd engine). Cells become
    text as for ``.xlsx``: whole numbers without ``.0``, dates as
    ``YYYY-MM-DD HH:MM:SS``, error cells as their code (``#DIV/0!``), blanks missing.
    """
    import xlrd

    # xlrd reports a damaged workbook with its own errors, and with assertions and
    # index or struct errors from deep in the BIFF parser; all mean "damaged file".
    damaged = (xlrd.XLRDError, xlrd.compdoc.CompDocError, AssertionError, IndexError, struct.error)
    try:
        with xlrd.open_workbook(str(path), on_demand=True) as book:
            names = [str(name) for name in book.sheet_names()]
            grids = {}
            for name in _chosen_sheets(names, sheet, source):
                cells = book.sheet_by_name(name)
                grids[name] = pd.DataFrame(
                    [
                        [_xls_text(cells.cell(r, c), book.datemode) for c in range(cells.ncols)]
                        for r in range(cells.nrows)
                    ],
                    dtype=object,
                )
    except damaged as exc:
        raise ValueError(f"damaged .xls workbook: {exc or type(exc).__name__}") from exc
    return grids, len(names) > 1


def _xls_text(cell: XlrdCell, datemode: int) -> str | None:
    """One xlrd cell as the text :func:`read_table` keeps (None when blank)."""
    import xlrd

    kind, value = cell.ctype, cell.value
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if kind == xlrd.XL_CELL_NUMBER:
        return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else str(value)
    if kind == xlrd.XL_CELL_DATE:
        return str(pd.Timestamp(xlrd.xldate_as_datetime(value, datemode)))
    if kind == xlrd.XL_CELL_BOOLEAN:
        return str(bool(value))
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERROR")
    return str(value) or None


def _header_position(grid: pd.DataFrame, aliases: Mapping[str, str], *, strict: bool = False) -> int:
    """Position of the header row: the first non-blank row naming a known column.

    Title lines above the header (common in exported spreadsheets) are skipped.
    When no row among the first few names a known column, the first non-blank
    row is the header (with ``strict``: -1, no header). -1 for an empty grid.
    """
    filled = np.flatnonzero(grid.notna().any(axis=1).to_numpy())
    if len(filled) == 0:
        return -1
    for position in filled[:_HEADER_SCAN_ROWS]:
        cells = grid.iloc[position].dropna()
        if any(normalise_header(cell) in aliases for cell in cells):
            return int(position)
    return -1 if strict else int(filled[0])


def _table_from_grid(
    grid: pd.DataFrame, aliases: Mapping[str, str], source: str, header_at: int | None = None
) -> tuple[pd.DataFrame, list[int]]:
    if header_at is None:
        header_at = _header_position(grid, aliases)
    if header_at < 0:
        raise InputError(f"{source}: the file is empty; it needs a header row and data rows")
    headers = grid.iloc[header_at]
    body = grid.iloc[header_at + 1 :]
    keep = [c for c in grid.columns if pd.notna(headers[c]) or body[c].notna().any()]
    labels = [
        headers[c] if pd.notna(headers[c]) else f"column_{_column_letter(i)}"
        for i, c in enumerate(grid.columns)
        if c in keep
    ]
    table = body[keep].copy()
    table.columns = canonical_columns(labels, aliases, source=source)
    table = table.reset_index(drop=True)
    rows = np.arange(header_at + 2, header_at + 2 + len(table), dtype=np.int64)
    positions = [i for i, c in enumerate(grid.columns) if c in keep]
    letters = {name: _column_letter(i) for name, i in zip(table.columns, positions, strict=True)}
    table = _with_source_row(table, rows)
    table.attrs = {"letters": letters}
    return table, list(range(1, header_at + 1))


def _column_letter(index: int) -> str:
    """The spreadsheet letter of a column position: 0 → A, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _with_source_row(table: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    if "source_row" in table.columns:
        # A file written by perfmodel: keep the earlier numbering under another name.
        table = table.rename(columns={"source_row": "source_row_in_file"})
    table["source_row"] = rows
    return table


def _workbook_table(
    grids: dict[str, pd.DataFrame], aliases: Mapping[str, str], source: str, name_sheets: bool
) -> tuple[pd.DataFrame, list[int], list[dict[str, object]]]:
    """Every sheet with a header, stacked in workbook order, and what happened to each sheet.

    A sheet is read when one of its first rows names a known column; the others
    are listed as not read, with the reason. When no sheet has a known header,
    the first non-empty sheet is read with its first non-blank row as the
    header, so that validation can say which columns are missing.
    """
    found = {name: _header_position(grid, aliases, strict=True) for name, grid in grids.items()}
    if all(at < 0 for at in found.values()):
        for name, grid in grids.items():
            found[name] = _header_position(grid, aliases)
            if found[name] >= 0:
                break
    parts: list[pd.DataFrame] = []
    sheets: list[dict[str, object]] = []
    skipped: list[int] = []
    letters: dict[str, str] = {}
    for name, grid in grids.items():
        if found[name] < 0:
            why = (
                f"no header naming a known column in its first {_HEADER_SCAN_ROWS} rows"
                if grid.notna().to_numpy().any()
                else "empty"
            )
            sheets.append({"sheet": name, "rows": 0, "read": False, "why": why})
            continue
        label = f"{source} sheet {name!r}" if name_sheets else source
        table, above = _table_from_grid(grid, aliases, label, found[name])
        for column, letter in table.attrs.pop("letters").items():
            letters.setdefault(column, letter)
        if name_sheets:
            table["source_sheet"] = name
        parts.append(table)
        skipped = skipped or above
        sheets.append({"sheet": name, "rows": len(table), "read": True, "why": ""})
    if not parts:
        raise InputError(f"{source}: the file is empty; it needs a header row and data rows")
    table = pd.concat(parts, ignore_index=True, sort=False) if len(parts) > 1 else parts[0]
    table.attrs = {"letters": letters}
    return table, skipped, sheets


def read_table(path: str | Path, *, aliases: Mapping[str, str], sheet: int | str | None = None) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``), TSV, Excel (``.xlsx``, ``.xls``) or Parquet file.

    Parameters
    ----------
    path
        The file.
    aliases
        Normalised header → canonical column, e.g. :data:`OBSERVATION_ALIASES`.
    sheet
        Excel only: read only this sheet (name or position). By default every
        sheet whose header names a known column is read, in workbook order.

    Returns
    -------
    pandas.DataFrame
        Canonical column names (unknown columns kept under their trimmed header);
        values as read: text for CSV, TSV and Excel (blank cells missing, nothing
        else converted), the stored types for Parquet. ``source_row`` is the row
        number seen in a spreadsheet (header row 1, first data row 2; title lines
        above the header and blank rows count too). A workbook of several sheets
        also gives ``source_sheet``, the sheet each row comes from.
        ``attrs["source"]`` holds the path, ``attrs["skipped_rows"]`` the title
        rows above the (first) header, ``attrs["sheets"]`` one entry per sheet of
        a workbook (``sheet``, ``rows``, ``read``, ``why`` it was not read),
        ``attrs["letters"]`` each column's spreadsheet letter, and
        ``attrs["encoding"]``/``attrs["separator"]`` how a text file was read.

    Raises
    ------
    InputError
        The file is missing, of an unsupported type, unreadable, empty, or two of
        its headers mean the same column, or ``sheet`` is not in the workbook.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise InputError(key="error.input_not_found", values={"path": source})
    if path.is_dir():
        raise InputError(key="error.input_is_folder", values={"path": source})
    fmt = _format(path, READABLE_EXTENSIONS)
    if path.stat().st_size == 0:
        raise InputError(key="error.input_empty", values={"path": source})
    sheets: list[dict[str, object]] = []
    skipped: list[int]  # title rows above the header (attrs["skipped_rows"])
    try:
        if fmt == ".parquet":
            frame = pd.read_parquet(path)
            if len(frame.columns) == 0:
                raise InputError(f"{source}: the file is empty; it has no columns")
            frame.columns = canonical_columns(frame.columns, aliases, source=source)
            rows = np.arange(2, len(frame) + 2, dtype=np.int64)
            table, skipped = _with_source_row(frame.reset_index(drop=True), rows), []
        elif fmt in {".xlsx", ".xls"}:
            grids, several = _excel_grids(path, source, sheet)
            table, skipped, sheets = _workbook_table(grids, aliases, source, several)
        else:
            grid = _csv_grid(path, fmt, source, aliases)
            table, skipped = _table_from_grid(grid, aliases, source)
    except pd.errors.EmptyDataError:
        raise InputError(f"{source}: the file is empty; it needs a header row and data rows") from None
    except InputError:
        raise
    except _READ_ERRORS as exc:
        kind = {
            ".xlsx": "an Excel .xlsx workbook",
            ".xls": "an Excel .xls workbook",
            ".parquet": "a Parquet file",
        }.get(fmt, "a comma-, semicolon- or tab-separated text file")
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{source}: cannot be read ({detail[:200]}); check that it is {kind} and not damaged, or export it again"
        ) from exc
    letters = table.attrs.get("letters", {})
    table.attrs = {"source": source, "skipped_rows": skipped, "sheets": sheets, "letters": letters}
    return table


# ----------------------------------------------------------------------------- writing
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_LINE_BREAKS = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
"""Characters that end a line for some reader (``str.splitlines``, Excel, pandas) or
that Excel refuses in a cell: every C0 control except tab, DEL, NEL and the Unicode
line and paragraph separators."""


def _picture(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture": \r -> ␍, \n -> ␊
    return "\u2421" if code == 0x7F else "\u2424"


def guard_text(value: str) -> str:
    """``value`` made safe for one spreadsheet cell.

    First every line break and control character is replaced by its visible
    Unicode control picture (``\\r`` → ``␍``, ``\\n`` → ``␊``; other breaks → ``␤``),
    so no reader can split the cell into a new row. Then text that a spreadsheet
    would run as a formula -- starting with ``=``, ``+``, ``-``, ``@`` or a tab --
    is prefixed with ``'`` (OWASP "CSV injection"), unless it is a plain number
    such as ``-5``.

    Examples
    --------
    >>> guard_text("=1+1"), guard_text("-5"), guard_text("0.5\\r=cmd")
    ("'=1+1", '-5', '0.5␍=cmd')
    """
    text = _LINE_BREAKS.sub(_picture, value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _guard_cell(value: object) -> object:
    return guard_text(value) if isinstance(value, str) else value


def guard_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` in which no text cell can start a row or run as a formula.

    Every text cell and column header goes through :func:`guard_text`: line
    breaks become visible symbols, then text starting with ``=``, ``+``, ``-``,
    ``@`` or a tab is prefixed with ``'``. Numbers (also negative ones), and text
    that is a plain number such as ``-5`` or ``+0.5``, are left alone. This is the
    one guard every CSV and Excel writer of perfmodel uses.

    Examples
    --------
    >>> guard_formulas(pd.DataFrame({"a": ["=1+1", "-5", "ok"], "b": [-1, 2, 3]}))["a"].tolist()
    ["'=1+1", '-5', 'ok']
    """
    out = df.copy()
    for position in range(out.shape[1]):
        series = out.iloc[:, position]
        text_like = pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
        if text_like or isinstance(series.dtype, pd.CategoricalDtype):
            out.isetitem(position, series.astype(object).map(_guard_cell, na_action="ignore"))
    out.columns = [_guard_cell(c) for c in out.columns]
    return out


def _parquet_ready(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) and pd.api.types.infer_dtype(series, skipna=True) not in {
            "string",
            "empty",
        }:
            out[column] = series.map(str, na_action="ignore").astype("string")
    return out


def _excel_ready(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.PeriodDtype):
            out[column] = series.astype(str)
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            out[column] = series.dt.tz_localize(None)
    return out


_FIXED_TIME = datetime.datetime(2000, 1, 1)
"""The creation and modification stamp of every workbook, so reruns give identical bytes."""
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_STAMP = re.compile(r"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


def _fixed_zip(data: bytes) -> bytes:
    """``data`` (an .xlsx) with fixed member times and fixed document stamps."""
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "docProps/core.xml":
                content = _CORE_STAMP.sub(rf"\g<1>{stamp}\g<3>", content.decode("utf-8")).encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            target.writestr(fixed, content)
    return buffer.getvalue()


@dataclass(frozen=True)
class Validation:
    """A data-validation rule on cells of one sheet (a drop-down list or a number range).

    Parameters
    ----------
    cells
        Excel ranges, space separated (``"C2:C1048576"``, ``"D2:D40 D80:D90"``).
    kind
        ``"list"`` (a drop-down of the values ``formula1`` names) or ``"decimal"``
        (a number between ``formula1`` and ``formula2``).
    formula1, formula2
        A list: a range such as ``'参考'!$A$2:$A$11`` or quoted ``"a,b"``; a decimal:
        the bounds as numbers.
    prompt, error
        Text shown when the cell is selected, and when a wrong entry is refused.
    """

    cells: str
    kind: str
    formula1: str
    formula2: str | None = None
    prompt: str = ""
    error: str = ""


@dataclass(frozen=True)
class SheetFormat:
    """How one sheet of :func:`write_workbook` looks; every field is optional.

    Parameters
    ----------
    number_formats
        Column header (as written) → Excel number format, e.g. ``"0.0"``,
        ``"0.0%"``, ``"0"``. The stored values keep full precision.
    fills
        Column header → {cell text → RGB colour (``"C6EFCE"``)}: background of
        the cells holding that text (grade colours).
    text_columns
        Columns stored with the text format ``@`` so Excel keeps what is typed
        (``2025-04`` stays text, ``0012`` keeps its zeros).
    freeze, autofilter, fit_widths
        Freeze the header row; filter buttons on the header; column widths from
        the content (:func:`display_width`).
    hidden
        Hide the sheet (reference lists for drop-downs).
    validations
        :class:`Validation` rules.
    """

    number_formats: Mapping[str, str] = field(default_factory=dict)
    fills: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    text_columns: tuple[str, ...] = ()
    freeze: bool = True
    autofilter: bool = True
    fit_widths: bool = True
    hidden: bool = False
    validations: tuple[Validation, ...] = ()


_MAX_WIDTH = 60
"""Widest column :func:`write_workbook` fits to content (characters); longer text is cut off on screen."""


def display_width(text: object) -> int:
    """Columns ``text`` takes on screen: East Asian wide and full-width characters count two.

    Examples
    --------
    >>> display_width("PS001"), display_width("综合得分"), display_width("A级")
    (5, 8, 3)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def _shown(series: pd.Series, number_format: str | None) -> pd.Series:
    """The cells of a column as Excel shows them (for fitting the width)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        if not number_format or number_format == "General":  # Excel shows up to 10 digits
            return series.astype(float).map(lambda v: f"{v:.10g}", na_action="ignore")
        decimals = len(number_format.split(".")[1].rstrip("%")) if "." in number_format else 0
        scale = 100.0 if number_format and number_format.endswith("%") else 1.0
        suffix = "%" if scale == 100.0 else ""
        return (series.astype(float) * scale).map(lambda v: f"{v:,.{decimals}f}{suffix}", na_action="ignore")
    return series.astype(object).map(str, na_action="ignore")


def _apply_format(sheet, frame: pd.DataFrame, spec: SheetFormat) -> None:
    """Formats of ``spec`` on an openpyxl worksheet that holds ``frame`` (header in row 1)."""
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    rows = len(frame)
    for position, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(position)
        cells = [sheet.cell(row=r, column=position) for r in range(2, rows + 2)]
        number_format = spec.number_formats.get(column)
        if column in spec.text_columns:
            number_format = "@"
        if number_format:
            for cell in cells:
                cell.number_format = number_format
        colours = spec.fills.get(column, {})
        if colours:
            fills = {text: PatternFill("solid", start_color=rgb, end_color=rgb) for text, rgb in colours.items()}
            for cell in cells:
                if isinstance(cell.value, str) and cell.value in fills:
                    cell.fill = fills[cell.value]
        if spec.fit_widths:
            shown = _shown(frame.iloc[:, position - 1], spec.number_formats.get(column)).dropna()
            widest = max([display_width(column), *(display_width(v) for v in shown.unique())])
            sheet.column_dimensions[letter].width = min(widest + 2, _MAX_WIDTH)
    if spec.freeze:
        sheet.freeze_panes = "A2"
    if spec.autofilter and len(frame.columns):
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{rows + 1}"
    if spec.hidden:
        sheet.sheet_state = "hidden"
    for rule in spec.validations:
        check = DataValidation(
            type=rule.kind,
            formula1=rule.formula1,
            formula2=rule.formula2,
            operator="between" if rule.kind == "decimal" else None,
            allow_blank=True,
            showInputMessage=bool(rule.prompt),
            showErrorMessage=True,
            prompt=rule.prompt or None,
            error=rule.error or None,
        )
        for cell_range in rule.cells.split():
            check.add(cell_range)
        sheet.add_data_validation(check)


def _workbook_bytes(sheets: Mapping[str, pd.DataFrame], formats: Mapping[str, SheetFormat] | None = None) -> bytes:
    formats = formats or {}
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for sheet, (key, frame) in zip(_sheet_names(sheets), sheets.items(), strict=True):
            guarded = guard_formulas(frame)
            _excel_ready(guarded).to_excel(writer, sheet_name=sheet, index=False)
            if key in formats:
                spec = formats[key]
                guarded_spec = SheetFormat(
                    number_formats={guard_text(str(k)): v for k, v in spec.number_formats.items()},
                    fills={guard_text(str(k)): {guard_text(t): c for t, c in v.items()} for k, v in spec.fills.items()},
                    text_columns=tuple(guard_text(str(c)) for c in spec.text_columns),
                    freeze=spec.freeze,
                    autofilter=spec.autofilter,
                    fit_widths=spec.fit_widths,
                    hidden=spec.hidden,
                    validations=spec.validations,
                )
                _apply_format(writer.sheets[sheet], guarded, guarded_spec)
        writer.book.properties.created = _FIXED_TIME
        writer.book.properties.modified = _FIXED_TIME
    return _fixed_zip(buffer.getvalue())


def _table_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    if fmt == ".parquet":
        buffer = io.BytesIO()
        _parquet_ready(df).to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == ".xlsx":
        return _workbook_bytes({"Sheet1": df})
    chunks = list(_text_table_chunks(df, fmt))
    return b"".join(chunks)


TEXT_TABLE_ROWS = 100_000
"""Rows guarded and formatted at a time when a CSV or TSV file is written (memory stays flat in its length)."""


def _text_table_chunks(df: pd.DataFrame, fmt: str) -> Iterator[bytes]:
    """The bytes of ``df`` as CSV/TSV (``fmt``), :data:`TEXT_TABLE_ROWS` rows at a time.

    UTF-8 with a byte-order mark; gzipped (fixed time stamp) for ``.gz``. The
    concatenation equals formatting the whole frame at once: the header once, then
    each block of rows; deflate's output does not depend on how its input is cut.
    """
    sep = "\t" if fmt.startswith(".tsv") else ","
    packer = zlib.compressobj(9, zlib.DEFLATED, 31) if fmt.endswith(".gz") else None  # as gzip.compress(mtime=0)
    for start in range(0, max(len(df), 1), TEXT_TABLE_ROWS):
        part = guard_formulas(df.iloc[start : start + TEXT_TABLE_ROWS])
        data = part.to_csv(index=False, header=start == 0, sep=sep, lineterminator="\n").encode("utf-8")
        data = (b"\xef\xbb\xbf" + data) if start == 0 else data
        yield packer.compress(data) if packer is not None else data
    if packer is not None:
        yield packer.flush()


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV/TSV (optionally gzipped), Excel or Parquet, chosen by extension.

    CSV and TSV are UTF-8 with a byte-order mark, so that Excel shows Chinese text.
    CSV, TSV and Excel output goes through :func:`guard_formulas` (no cell can
    start a new row or run as a formula); Parquet is written as is. The index is
    not written. The same frame always gives the same bytes (fixed gzip and
    workbook time stamps). The file is replaced atomically and a symlink at
    ``path`` is replaced, never followed (:func:`perfmodel.outputs.write_bytes`).
    Missing parent folders are created.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from perfmodel.outputs import write_bytes

    path = Path(path)
    fmt = _format(path)
    if fmt in (".parquet", ".xlsx"):
        return write_bytes(path, _table_bytes(df, fmt))

    def write(fd: int) -> None:
        for chunk in _text_table_chunks(df, fmt):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]

    return write_bytes(path, write)


def _sheet_names(names: Iterable[str]) -> list[str]:
    """Excel sheet names: at most 31 characters, without ``[]:*?/\\``, unique."""
    used: set[str] = set()
    out = []
    for name in names:
        base = re.sub(r"[\[\]:*?/\\]", "_", str(name))[:31] or "sheet"
        candidate, k = base, 1
        while candidate in used:
            k += 1
            candidate = f"{base[:28]}_{k}"
        used.add(candidate)
        out.append(candidate)
    return out


def write_workbook(
    sheets: Mapping[str, pd.DataFrame],
    path: str | Path,
    formats: Mapping[str, SheetFormat] | None = None,
) -> Path:
    """Write several tables as the sheets of one Excel workbook.

    Sheet names are made valid for Excel (31 characters, no ``[]:*?/\\``,
    unique); cells go through :func:`guard_formulas`; the index is not written.
    The workbook's created and modified stamps and its zip entry times are fixed,
    so the same tables always give the same bytes. Written atomically, like
    :func:`write_table`.

    Parameters
    ----------
    sheets
        Sheet name → table, in workbook order.
    path
        The ``.xlsx`` file.
    formats
        Sheet name (a key of ``sheets``) → :class:`SheetFormat`: number formats,
        fills, frozen header, filters, fitted widths, hidden sheets, data
        validation. Sheets without one are written plain. Formats change how
        values look, never the stored values.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from perfmodel.outputs import write_bytes

    return write_bytes(Path(path), _workbook_bytes(sheets, formats))
