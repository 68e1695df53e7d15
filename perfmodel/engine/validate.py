"""Observations read and validated in DuckDB, with the quarantine of :mod:`perfmodel.validation`.

The engine screens every row with vectorised SQL and hands only the rows that
may fail a check to the row-level checks of :mod:`perfmodel.validation`:

1. **Read.** Parquet is read by DuckDB column by column (with ``months``, only the
   row groups of those months: the filter on ``period`` is pushed into the scan).
   A UTF-8 (with or without byte-order mark), comma-separated CSV (or .csv.gz)
   whose header is its first line is read by DuckDB once, as lines split into
   cells in SQL (:func:`_read_plain_csv`), its lines ending in LF, or all in CRLF
   (as Windows programs write them), unless a line holds text that pandas reads
   otherwise (another CR, NUL, a quote across lines). Every other file
   (workbooks, other encodings or separators, title lines, wide exports …) is read by
   :func:`perfmodel.io.read_table` and then handed to DuckDB, so that every input
   the pandas path reads is read here too. A folder of Parquet files partitioned
   by ``month=YYYY-MM`` (or a pattern) is read as one table, only the files of
   ``months`` (:func:`partition_files`).
2. **Screen.** Values with few distinct entries (period, unit, indicator, rater,
   submission time) are interpreted once per distinct value by the very functions
   of :mod:`perfmodel.validation`, and joined back. Numbers are parsed in SQL only
   when they are plain decimal numbers. A row is *clean* when every check
   certainly passes: key present, month valid, unit accepted at the framework's
   level, indicator known, numbers plain, finite and within the declared or rate
   range, numerator ≤ denominator, value = numerator / denominator, timestamp
   valid, and no other row with the same period × unit × indicator × rater. The
   screen is conservative: a row near a limit is not clean.
3. **Explain.** The rows that are not clean (with every row sharing their key) are
   materialised, and only they, and validated by
   :func:`perfmodel.validation.validate_observations`: the same reason codes in
   the same precedence, the same messages (file, row, column) and the same
   quarantine table. Clean rows are typed in SQL.

So ``used + quarantined == input`` holds as in pandas, and the accepted rows and
the quarantine are those of the pandas path (``tests/test_engine_validate.py``
compares them on the shipped samples and the adversarial corpus).
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from perfmodel import progress
from perfmodel.engine.source import (
    CLEAN_COLUMNS,
    MEMORY_LIMIT_VARIABLE,
    ROW_ORDER,
    EngineSource,
    close_store,
    store_rows,
)
from perfmodel.engine.source import quote_identifier as _quote
from perfmodel.errors import OptionError, check_choice
from perfmodel.framework import Framework
from perfmodel.io import (
    OBSERVATION_ALIASES,
    UNIT_ALIASES,
    _column_letter,
    _header_position,
    _sniff_separator,
    canonical_columns,
    normalise_header,
    read_table,
)
from perfmodel.periods import parse_month
from perfmodel.source import among
from perfmodel.validation import (
    MAX_MAGNITUDE,
    OBSERVATION_INPUTS,
    RATE_TOLERANCE,
    TEXT_DTYPE,
    ValidationResult,
    _as_text,
    _parse_period,
    _parse_timestamps,
    _with_notes,
    indicator_lookup,
    resolve_input_order,
    validate_observations,
    validate_units,
)

__all__ = [
    "ENGINES",
    "ENGINE_MIN_BYTES",
    "ENGINE_MIN_CSV_BYTES",
    "MEMORY_SHARE",
    "default_memory_limit",
    "connect",
    "use_engine",
    "is_partitioned",
    "partition_files",
    "read_inputs_engine",
    "read_inputs_source",
    "source_from_frame",
    "open_store",
    "validate_observations_engine",
    "validate_to_source",
]

ENGINES: tuple[str, ...] = ("auto", "duckdb", "pandas")
"""Who reads and validates observations: ``duckdb`` (this module), ``pandas``
(:func:`perfmodel.validation.read_inputs`), or ``auto`` (DuckDB for Parquet files of
at least :data:`ENGINE_MIN_BYTES`, CSV files of at least :data:`ENGINE_MIN_CSV_BYTES`
and folders, pandas otherwise). Both give the same accepted rows and quarantine."""

ENGINE_MIN_BYTES = 1 * 2**20
"""Parquet files from this size on are read by DuckDB under ``engine="auto"``: reading
and validating 1 M rows (3 MiB) took 2.2 s instead of 5.1 s, 5 M rows 13 s instead of
29 s (``benchmarks/results/engines_validation.md``). CSV files stay with pandas under
``auto``: at 5 M rows the engine was no faster (23 s against 22 s), since decompressing
and parsing the text dominates; that changed when the roll-up moved into the engine
(:data:`ENGINE_MIN_CSV_BYTES`)."""

ENGINE_MIN_CSV_BYTES = 4 * 2**20
"""CSV files (.csv, .csv.gz, .tsv) from this size on are read by DuckDB under
``engine="auto"``. With the clean rows kept in DuckDB (:mod:`perfmodel.engine.source`),
``perfmodel score`` on 5 M rows in CSV.gz took 20 s against 69 s with pandas
(``benchmarks/results/engines_score.md``); 4 MiB of CSV.gz is about 400,000 rows."""

MEMORY_SHARE = 0.5
"""Share of the machine's memory the engine may use by default (past it, DuckDB spills to disk)."""

_HEAD_BYTES = 1 << 20
"""Bytes of a CSV file checked before DuckDB reads it."""

_NUMBER = r"[ \t\n\r]*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r]*"
"""Numbers the screen parses in SQL (the texts this pattern matches); other texts go to the row-level checks.

The screen checks it in a cheaper way (:func:`_number_sql`, half the time): no
character outside those of the pattern (:data:`_NOT_NUMBER_CHAR`), no ``+-``, and DuckDB
casts the text to DOUBLE. Those are the same texts (``tests/test_engine_csv_read.py``
compares both on every text of up to six characters of that alphabet)."""

_NOT_NUMBER_CHAR = "[^0-9.eE+ \t\n\r-]"
"""A character that no text :data:`_NUMBER` matches holds."""

_BLANK = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*"
"""Text that Python's ``str.strip`` turns empty (``str.isspace`` characters)."""

_MARGIN = 0.5
"""Share of :data:`RATE_TOLERANCE` within which a value counts as numerator / denominator on the screen."""


def default_memory_limit() -> str:
    """:data:`MEMORY_SHARE` of the machine's memory, as a DuckDB size ('11GB')."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return "4GB"
    return f"{max(1, int(total * MEMORY_SHARE / 2**30))}GB"


def connect(memory_limit: str | None = None, folder: Path | None = None, threads: int | None = None) -> Any:
    """A DuckDB connection limited to ``memory_limit`` (default :func:`default_memory_limit`).

    An in-memory database that spills past the limit into ``folder/spill``
    (default: a folder of its own under the system's temporary directory), never
    beside the inputs or in the working directory. ``threads``: how many threads
    DuckDB may run (default DuckDB's, one per core); a Dask worker gives its own
    thread count, so that the workers of one machine do not each take every core.

    Raises
    ------
    OptionError
        When DuckDB refuses the limit (it takes sizes such as '4GB' or '512MB').
    """
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")  # perfmodel reports its own steps; DuckDB's bar went to stdout
    if threads is not None:
        con.execute(f"SET threads = {max(1, int(threads))}")
    spill = (
        folder / "spill"
        if folder is not None
        else Path(tempfile.gettempdir()) / f"perfmodel-duckdb-spill-{os.getpid()}"
    )
    con.execute(f"SET temp_directory = '{_literal(spill)}'")
    limit = memory_limit or default_memory_limit()
    try:
        con.execute(f"SET memory_limit = '{limit}'")
    except duckdb.Error as exc:
        raise OptionError(
            f"--memory-limit {limit!r} is not a size DuckDB understands", "give a size such as 4GB or 512MB"
        ) from exc
    con.execute(f"SET VARIABLE {MEMORY_LIMIT_VARIABLE} = '{limit}'")  # for hand_back_memory
    return con


def use_engine(observations: object, engine: str = "auto") -> bool:
    """Whether ``engine`` (one of :data:`ENGINES`) means DuckDB for ``observations``.

    Raises
    ------
    OptionError
        When ``engine`` is not one of :data:`ENGINES`, or is 'duckdb' and DuckDB is
        not installed.
    """
    check_choice("engine", engine, ENGINES)
    folder = is_partitioned(observations)
    if engine == "pandas":
        if folder:
            raise OptionError(
                key="error.folder_needs_duckdb",
                hint_key="error.folder_needs_duckdb_hint",
                values={"path": observations},
            )
        return False
    try:
        import duckdb  # noqa: F401
    except ImportError:
        if engine == "duckdb" or folder:
            raise OptionError("engine 'duckdb' needs the duckdb package", "pip install duckdb") from None
        return False
    if engine == "duckdb":
        return True
    if not isinstance(observations, (str, Path)):
        return False
    if folder:
        return True
    path = Path(observations)
    if not path.is_file():
        return False
    name, size = path.name.lower(), path.stat().st_size
    if name.endswith(".parquet"):
        return size >= ENGINE_MIN_BYTES
    return name.endswith((".csv", ".csv.gz", ".tsv")) and size >= ENGINE_MIN_CSV_BYTES


# ----------------------------------------------------------------------------- reading
def is_partitioned(observations: object) -> bool:
    """Whether ``observations`` names several files: a folder, or a pattern such as ``DIR/**/*.parquet``."""
    if not isinstance(observations, (str, Path)):
        return False
    return Path(observations).is_dir() or glob.has_magic(str(observations))


def partition_files(observations: str | Path, months: Iterable[str] | None = None) -> tuple[Path, list[Path]]:
    """The folder and the Parquet files of a partitioned input, pruned to ``months``.

    ``observations`` is a folder (every ``*.parquet`` below it, as ``perfmodel sample
    --format parquet`` writes ``observations/province=P01/month=2025-01/part-0.parquet``)
    or a pattern (``**`` matches folders). With ``months``, a file under a
    ``month=YYYY-MM`` folder of another month is left out unread; a file outside
    any ``month=`` folder is kept.

    Returns
    -------
    (base, files)
        The folder the files are named relative to (the pattern's fixed part), and
        the files in path order.

    Raises
    ------
    OptionError
        When no Parquet file is found.
    """
    text = str(observations)
    if Path(text).is_dir():
        base = Path(text)
        found = sorted(p for p in base.rglob("*.parquet") if p.is_file())
    else:
        fixed = []
        for part in Path(text).parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        base = Path(*fixed) if fixed else Path(".")
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if p.lower().endswith(".parquet"))
    if not found:
        raise OptionError(
            key="error.no_parquet_in_folder", hint_key="error.no_parquet_in_folder_hint", values={"path": observations}
        )
    if months is None:
        return base, found
    wanted = {str(parse_month(m)) for m in months}

    def month_of(path: Path) -> str | None:
        named = [p.split("=", 1)[1] for p in path.relative_to(base).parts[:-1] if p.startswith("month=")]
        return named[-1] if named else None

    return base, [p for p in found if month_of(p) is None or month_of(p) in wanted]


def _register_parts(con: Any, observations: str | Path, months: Iterable[str] | None) -> tuple[pd.DataFrame, str]:
    """Create the view ``raw_all`` over the partition files of ``months`` (see :func:`partition_files`).

    ``source_row`` numbers the rows as in the files' concatenation (in path order),
    ``source_part`` / ``source_part_row`` name each row's file and its row in it.
    """
    import pyarrow.parquet as pq

    base, files = partition_files(observations, months)
    counts = [pq.ParquetFile(f).metadata.num_rows for f in files]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    parts = pd.DataFrame(
        {
            "filename": [str(f) for f in files],
            "part": [f.relative_to(base).as_posix() for f in files],
            "row_offset": offsets,
        }
    )
    con.register("parts", parts)
    listed = "[" + ", ".join(f"'{_literal(f)}'" for f in files) + "]"
    scan = f"read_parquet({listed}, hive_partitioning = false"
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan})").fetchall()]
    source = str(base)  # a pattern's fixed folder: the quarantine's file, to which each part is relative
    names = canonical_columns(columns, OBSERVATION_ALIASES, source=source)
    names = ["source_row_in_file" if n == "source_row" else n for n in names]
    select = ", ".join(f"s.{_quote(c)} AS {_quote(n)}" for c, n in zip(columns, names, strict=True))
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW raw_all AS SELECT {select}, p.part AS source_part, "
        "CAST(s.file_row_number + 2 AS BIGINT) AS source_part_row, "
        "CAST(p.row_offset + s.file_row_number + 2 AS BIGINT) AS source_row "
        f"FROM {scan}, filename = true, file_row_number = true) s JOIN parts p ON s.filename = p.filename"
    )
    frame = _empty_with_attrs([*names, "source_part", "source_part_row"], source)
    frame.attrs["parts"] = {"read": len(files), "rows": int(sum(counts))}
    return frame, source


class _PlainCsv(NamedTuple):
    """What :func:`_read_plain_csv` needs to know of a CSV file's first line (:func:`_plain_csv`)."""

    header: list[str]
    """The header's cells."""
    line_end: str
    """``"\\n"`` (LF), or ``"\\r\\n"`` (CRLF) when the header line ends so."""
    bom: bool
    """Whether the file begins with a UTF-8 byte-order mark (as Excel's "CSV UTF-8" writes it)."""


def _plain_csv(path: Path) -> _PlainCsv | None:
    """The header, line end and byte-order mark of a CSV file whose first line DuckDB reads exactly as
    :func:`perfmodel.io.read_table`; else None.

    That is: a .csv or .csv.gz file whose first :data:`_HEAD_BYTES` are UTF-8
    (after a byte-order mark, if any) without NUL, comma-separated, with the
    header on the first line and every header cell filled, and without a CR
    other than those of the line ends when the header line ends in CRLF
    (without any CR when it ends in LF). The rest of the file is checked as
    DuckDB reads it (:func:`_read_plain_csv`).
    """
    name = path.name.lower()
    if not (name.endswith(".csv") or name.endswith(".csv.gz")):
        return None
    try:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
        text = head.decode("utf-8") if len(head) < _HEAD_BYTES else head.decode("utf-8", errors="ignore")
    except (OSError, UnicodeDecodeError, EOFError):
        return None
    bom = text.startswith("\ufeff")  # pandas reads such a file as "utf-8-sig": the mark is no text
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    line_end = "\r\n" if first.endswith("\r") else "\n"
    if line_end == "\r\n":
        first = first[:-1]
        text = text.replace("\r\n", "\n").removesuffix("\r")  # the head may end between a CR and its LF
    if not text or "\x00" in text or "\r" in text or '"' in first:
        return None
    if _sniff_separator(text, ",", OBSERVATION_ALIASES) != ",":
        return None
    cells = first.split(",")
    if any(cell.strip() == "" for cell in cells):
        return None
    grid = pd.DataFrame([cells])
    if _header_position(grid, OBSERVATION_ALIASES, strict=True) != 0:
        return None
    return _PlainCsv(cells, line_end, bom)


_QUOTED = '"(?:[^"]|"")*"'
_FIELD = f'(?:{_QUOTED}|[^,"]*)'
"""A CSV cell on one line: quoted (a doubled quote inside is one quote) or without quotes."""


def _read_plain_csv(con: Any, path: Path, header: list[str], line_end: str = "\n", bom: bool = False) -> bool:
    """Read the lines after the header of a CSV file, once, into the table ``raw_text`` (cells ``c0`` …).

    DuckDB reads the file as lines (one column, no quoting), so that nothing of
    the text is skipped: a blank line is a missing line (a row of missing cells,
    as pandas keeps it, where DuckDB's CSV reader would skip it). Each line is
    split into its cells in SQL, as pandas' C parser (and DuckDB's CSV reader)
    splits it: at commas, a quoted cell kept whole (``""`` inside it is ``"``),
    cells missing at the end missing.

    The lines end in ``line_end`` (the header line's, :func:`_plain_csv`). With
    LF, a CR is DuckDB's delimiter, so that a line holding one has two cells and
    the read fails (pandas' C parser ends a line at a lone CR). With CRLF,
    DuckDB is given no line end: its strict reader then ends lines at CRLF and
    fails at a line ending in LF or CR alone, or at a CR inside a line (pandas
    ends a line at a lone LF or CR too, and keeps a CR inside quotes in its
    cell), wherever it is in the file (``tests/test_engine_csv_read.py``). Should
    DuckDB ever skip such a line silently, the byte count below sees it.

    Parameters
    ----------
    con
        The DuckDB connection.
    path
        The .csv or .csv.gz file.
    header
        The cells of its first line.
    line_end
        ``"\\n"`` (LF) or ``"\\r\\n"`` (CRLF): every line's end (the last line may have none).
    bom
        Whether the file begins with a UTF-8 byte-order mark (3 bytes, skipped with the header line).

    Returns
    -------
    bool
        Whether every line was read as pandas reads it. Not so (and
        :func:`perfmodel.io.read_table` reads the file instead: only files holding
        such text pay a second read) when DuckDB refuses the text (a CR or LF
        other than the line ends, bytes that are not UTF-8, a line longer than
        DuckDB's limit), or a line holds a NUL byte (pandas ends a cell there) or
        a CR, has more cells than the header, or has a quote that does not open
        and close a whole cell on the line (a quoted line break, a quote inside a
        cell); and when the lines' bytes, their ends (1 byte each with LF, 2 with
        CRLF) and the byte-order mark do not add up to the file's size
        (:func:`_text_size`), should DuckDB ever pass over a byte silently.
    """
    import duckdb

    width = len(header)
    unquote = (
        f"list_transform(regexp_extract_all(',' || line, ',({_FIELD})', 1), "
        """lambda x: CASE WHEN starts_with(x, '"') THEN replace(x[2:-2], '""', '"') ELSE x END)"""
    )
    whole = f"regexp_full_match(line, '{_FIELD}(?:,{_FIELD})*')"
    cells = ", ".join(f"cells[{k + 1}] AS c{k}" for k in range(width))
    # DuckDB 2.0 misreads a CRLF file given new_line = '\r\n' (as one line, or none) or, with skip = 1,
    # new_line = '\n' (as no line): only with no line end given does it read the file's lines
    ends = ", new_line = '\\n'" if line_end == "\n" else ""
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE raw_text AS
            WITH lines AS (
                SELECT line FROM read_csv('{_literal(path)}', columns = {{'line': 'VARCHAR'}}, header = false,
                    skip = 1, delim = chr(13), quote = '', escape = '', auto_detect = false, strict_mode = true,
                    null_padding = false{ends})
            ), split AS (
                SELECT CASE WHEN line IS NULL THEN CAST([] AS VARCHAR[])
                            WHEN contains(line, chr(0)) OR contains(line, chr(13)) OR contains(line, chr(10))
                                THEN NULL
                            WHEN NOT contains(line, '"') THEN string_split(line, ',')
                            WHEN {whole} THEN {unquote} END AS cells,
                       CAST(coalesce(strlen(line), 0) AS INTEGER) AS n_bytes
                FROM lines
            )
            SELECT {cells}, CASE WHEN coalesce(len(cells) <= {width}, false) THEN n_bytes ELSE -1 END AS n_bytes
            FROM split
            """
        )
        odd, lines, size = con.execute(
            "SELECT count(*) FILTER (WHERE n_bytes < 0), count(*), coalesce(sum(n_bytes), 0) FROM raw_text"
        ).fetchone()
        con.execute("ALTER TABLE raw_text DROP COLUMN n_bytes")  # the memory back before the screen
    except duckdb.Error:
        return False
    if odd:
        return False
    end = len(line_end)
    size += 3 * bom + len(",".join(header).encode("utf-8")) + end * (1 + lines)  # the header and every line's end
    expected, modulus = _text_size(path)
    return expected is not None and (expected - size) % modulus in (0, modulus - end)  # the last end may be absent


def _text_size(path: Path) -> tuple[int | None, int]:
    """The size of the text of ``path`` and the modulus it is known to: (file size, 2**64) for a plain file;
    for a .gz file the size its (last) gzip member records, modulo 2**32 (None when it is not a gzip file).

    A gzip file of several members records only its last member's size: the sizes then do not add up
    and the file is read by pandas (slower, never wrong).
    """
    if not path.name.lower().endswith(".gz"):
        return path.stat().st_size, 2**64
    with path.open("rb") as handle:
        if handle.read(2) != b"\x1f\x8b" or path.stat().st_size < 18:  # 18: the smallest gzip file
            return None, 2**32
        handle.seek(-4, os.SEEK_END)
        return int.from_bytes(handle.read(4), "little"), 2**32


def _register_raw(
    con: Any, observations: str | Path | pd.DataFrame, sheet: int | str | None, months: Iterable[str] | None = None
) -> tuple[pd.DataFrame, str]:
    """Create the table ``raw`` (canonical columns, then ``source_row``); the attrs frame and source.

    The returned frame is empty (with the attrs of the file: sheets, letters)
    when DuckDB read the file itself, else the whole table as read by pandas.
    A folder or pattern (:func:`is_partitioned`) is read by :func:`_register_parts`.
    """
    if isinstance(observations, pd.DataFrame):
        frame = observations
        source = str(frame.attrs.get("source", "<observations>"))
        return _register_frame(con, frame), source
    if is_partitioned(observations):
        return _register_parts(con, observations, months)
    path = Path(observations)
    source = str(path)
    if path.suffix.lower() == ".parquet" and path.is_file():
        # the file's own columns: a hive path (province=P01/month=2025-01/) adds none
        scan = f"read_parquet('{_literal(path)}', hive_partitioning = false"
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {scan})").fetchall()]
        names = canonical_columns(columns, OBSERVATION_ALIASES, source=source)
        names = ["source_row_in_file" if n == "source_row" else n for n in names]
        select = ", ".join(f"{_quote(c)} AS {_quote(n)}" for c, n in zip(columns, names, strict=True))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW raw_all AS SELECT {select}, "
            "CAST(file_row_number + 2 AS BIGINT) AS source_row "
            f"FROM {scan}, file_row_number = true)"
        )
        return _empty_with_attrs(names, source), source
    plain = _plain_csv(path) if path.is_file() else None
    if plain is not None:
        canonical = canonical_columns(plain.header, OBSERVATION_ALIASES, source=source)
        names = ["source_row_in_file" if n == "source_row" else n for n in canonical]
        if _read_plain_csv(con, path, *plain):
            select = ", ".join(f"nullif(c{k}, '') AS {_quote(n)}" for k, n in enumerate(names))
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW raw_all AS SELECT {select}, CAST(rowid + 2 AS BIGINT) AS source_row "
                "FROM raw_text"
            )
            frame = _empty_with_attrs(names, source)
            # each column's spreadsheet letter, as read_table gives them (a wide export's messages name cells)
            frame.attrs["letters"] = {n: _column_letter(k) for k, n in enumerate(canonical)}
            return frame, source
        con.execute("DROP TABLE IF EXISTS raw_text")
    frame = read_table(path, aliases=OBSERVATION_ALIASES, sheet=sheet)
    return _register_frame(con, frame), str(frame.attrs["source"])


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def _empty_with_attrs(names: list[str], source: str) -> pd.DataFrame:
    frame = pd.DataFrame(columns=[*names, "source_row"])
    frame.attrs = {"source": source, "skipped_rows": [], "sheets": [], "letters": {}}
    return frame


def _register_frame(con: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the DuckDB view ``raw`` (object columns as text)."""
    con.register("raw_frame", frame)
    con.execute("CREATE OR REPLACE TEMP VIEW raw_all AS SELECT * FROM raw_frame")
    return frame


# ----------------------------------------------------------------------------- screening
def _column_type(con: Any, name: str) -> str:
    rows = con.execute("DESCRIBE raw").fetchall()
    return next(str(row[1]) for row in rows if row[0] == name)


def _distinct(con: Any, name: str) -> pd.Series:
    """The distinct non-missing values of column ``name`` of ``raw``, as pandas reads them."""
    values = con.execute(f"SELECT DISTINCT {_quote(name)} AS v FROM raw WHERE {_quote(name)} IS NOT NULL").df()["v"]
    return values.astype(object) if values.dtype == object else values


def _mapping(con: Any, name: str, table: str, columns: dict[str, pd.Series | np.ndarray], raw: pd.Series) -> None:
    """Register ``table``: the raw value ``raw_value`` of column ``name`` → ``columns``."""
    frame = pd.DataFrame({"raw_value": raw.reset_index(drop=True), **{k: pd.Series(v) for k, v in columns.items()}})
    con.register(table, frame)


_MAPPINGS = ("map_period", "map_unit", "map_indicator", "map_rater", "map_stamp")
"""The per-distinct-value tables of :func:`_setup_mappings`."""


def _drop_mappings(con: Any) -> None:
    """Let go of the mapping tables once the screen is made: the units' one holds a text per unit."""
    for table in _MAPPINGS:
        con.unregister(table)


_TEXT_TYPES = ("VARCHAR",)
_NUMBER_TYPES = ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER")


def _screenable(con: Any, frame_columns: list[str]) -> bool:
    """Whether the screen handles ``raw``: a long table, key and number columns of plain types."""
    if "source_sheet" in frame_columns or "source_row" not in frame_columns:
        return False
    if not {"period", "unit_id", "indicator"} <= set(frame_columns):
        return False
    if "value" not in frame_columns and not {"numerator", "denominator"} <= set(frame_columns):
        return False
    types = {row[0]: str(row[1]) for row in con.execute("DESCRIBE raw").fetchall()}
    for name in ("period", "unit_id", "indicator", "rater_id", "submitted_at"):
        if name in types and types[name] not in _TEXT_TYPES:
            return False
    for name in ("value", "numerator", "denominator"):
        if name in types and types[name] not in _TEXT_TYPES + _NUMBER_TYPES:
            return False
    return True


def _number_sql(name: str, kind: str | None) -> tuple[str, str]:
    """SQL for column ``name``: (its value as DOUBLE or NULL, whether it is plain: missing or a plain number)."""
    if kind is None:
        return "CAST(NULL AS DOUBLE)", "true"
    column = _quote(name)
    if kind in _TEXT_TYPES:
        # DuckDB also casts 'inf', 'nan', '1_000', '+-1' and other blanks: the characters and '+-' keep them out
        value = (
            f"CASE WHEN NOT regexp_matches({column}, '{_NOT_NUMBER_CHAR}') AND NOT contains({column}, '+-') "
            f"THEN TRY_CAST({column} AS DOUBLE) END"
        )
        return value, f"({column} IS NULL OR {value} IS NOT NULL)"
    value = f"CASE WHEN isnan(CAST({column} AS DOUBLE)) THEN NULL ELSE CAST({column} AS DOUBLE) END"
    return value, f"({column} IS NULL OR isnan(CAST({column} AS DOUBLE)) OR isfinite(CAST({column} AS DOUBLE)))"


def _codes(mapped: pd.Series) -> np.ndarray:
    """An integer per distinct mapped value (-1 for missing), so that keys are compared as integers."""
    return pd.factorize(mapped.reset_index(drop=True), use_na_sentinel=True)[0].astype(np.int64)


def _setup_mappings(con: Any, framework: Framework, units: ValidationResult, columns: list[str]) -> None:
    """Register the per-distinct-value tables: periods, units, indicators, raters, timestamps."""
    periods = _distinct(con, "period")
    period_text = _as_text(periods)
    parsed = [None if pd.isna(t) else _parse_period(t)[0] for t in period_text]
    months = pd.Series(parsed, dtype=object)
    _mapping(con, "period", "map_period", {"month": months, "m_code": _codes(months)}, periods)

    unit_values = _distinct(con, "unit_id")
    unit_text = _as_text(unit_values)
    data = units.data
    ok_ids = data.loc[data["level"] == framework.level, "unit_id"].dropna() if len(data) else pd.Series([])
    _mapping(
        con,
        "unit_id",
        "map_unit",
        {
            "unit_text": unit_text.astype(object),
            "unit_ok": among(unit_text, ok_ids) & unit_text.notna().to_numpy(dtype=bool),
            "u_code": _codes(unit_text),
        },
        unit_values,
    )

    inputs = framework.input_indicators()
    lookup = indicator_lookup(framework)
    indicator_values = _distinct(con, "indicator")
    indicator_text = _as_text(indicator_values)
    resolved = [
        None if pd.isna(t) else (lookup.get(normalise_header(t)) if lookup.get(normalise_header(t)) in inputs else t)
        for t in indicator_text
    ]
    ranges = {ind.id: ind.range for ind in framework.indicators() if ind.range is not None}
    low, high, kinds = [], [], []
    for ind in resolved:
        kind = inputs.get(ind) if ind is not None else None
        declared = ranges.get(ind) if ind is not None else None
        if kind == "rate":
            low.append(declared[0] if declared else 0.0)
            high.append(declared[1] if declared else 1.0)
        else:
            low.append(declared[0] if declared else -np.inf)
            high.append(declared[1] if declared else np.inf)
        kinds.append(kind)
    _mapping(
        con,
        "indicator",
        "map_indicator",
        {
            "indicator_text": indicator_text.astype(object),
            "resolved": pd.Series(resolved, dtype=object),
            "i_code": _codes(pd.Series(resolved, dtype=object)),
            "kind": pd.Series(kinds, dtype=object),
            "low": np.array(low, dtype=float),
            "high": np.array(high, dtype=float),
        },
        indicator_values,
    )

    if "rater_id" in columns:
        raters = _distinct(con, "rater_id")
        rater_text = _as_text(raters)
        _mapping(
            con,
            "rater_id",
            "map_rater",
            {"rater_text": rater_text.astype(object), "r_code": _codes(rater_text)},
            raters,
        )
    if "submitted_at" in columns:
        stamps = _distinct(con, "submitted_at")
        parsed_stamps = _parse_timestamps(None, _as_text(stamps))
        _mapping(con, "submitted_at", "map_stamp", {"stamp": parsed_stamps.astype("datetime64[ns]")}, stamps)


def _screen_sql(columns: list[str], types: dict[str, str]) -> str:
    """SQL of the screened table: typed columns, ``screened`` (clean) and ``shared`` (key on several rows)."""
    v, v_plain = _number_sql("value", types.get("value"))
    n, n_plain = _number_sql("numerator", types.get("numerator"))
    d, d_plain = _number_sql("denominator", types.get("denominator"))
    rater = "m_r.rater_text" if "rater_id" in columns else "CAST(NULL AS VARCHAR)"
    rater_code = "coalesce(m_r.r_code, -1)" if "rater_id" in columns else "-1"
    stamp_ok = "(r.submitted_at IS NULL OR m_s.stamp IS NOT NULL)" if "submitted_at" in columns else "true"
    stamp = "m_s.stamp" if "submitted_at" in columns else "CAST(NULL AS TIMESTAMP)"
    key_joins = [
        "JOIN map_period m_p ON r.period = m_p.raw_value",
        "JOIN map_unit m_u ON r.unit_id = m_u.raw_value",
        "JOIN map_indicator m_i ON r.indicator = m_i.raw_value",
    ]
    joins = ["LEFT " + j for j in key_joins]
    if "rater_id" in columns:
        key_joins.append("LEFT JOIN map_rater m_r ON r.rater_id = m_r.raw_value")
        joins.append("LEFT JOIN map_rater m_r ON r.rater_id = m_r.raw_value")
    if "submitted_at" in columns:
        joins.append("LEFT JOIN map_stamp m_s ON r.submitted_at = m_s.raw_value")
    tolerance = RATE_TOLERANCE * _MARGIN
    extras = [c for c in columns if c not in OBSERVATION_INPUTS and c != "source_row"]
    kept, kept_f = "".join(f", r.{_quote(c)}" for c in extras), "".join(f", f.{_quote(c)}" for c in extras)
    return f"""
        WITH typed AS (
            SELECT r.source_row{kept}, m_p.month, m_u.unit_text, coalesce(m_u.unit_ok, false) AS unit_ok,
                   m_i.resolved, m_i.kind, m_i.low, m_i.high, {rater} AS rater_text, {stamp} AS stamp,
                   m_p.m_code, m_u.u_code, m_i.i_code, {rater_code} AS r_code,
                   {v} AS v_, {n} AS n_, {d} AS d_,
                   {v_plain} AND {n_plain} AND {d_plain} AS plain_numbers, {stamp_ok} AS stamp_ok
            FROM raw r {" ".join(joins)}
        ), figured AS (
            SELECT *, coalesce(v_, CASE WHEN d_ <> 0 THEN n_ / d_ END) AS figure,
                   month IS NOT NULL AND unit_text IS NOT NULL AND resolved IS NOT NULL AS key_ok
            FROM typed
        ), keys AS (  -- from the raw rows again, as integers: the typed rows are read once
            SELECT m_p.m_code, m_u.u_code, m_i.i_code, {rater_code} AS r_code
            FROM raw r {" ".join(key_joins)}
            WHERE m_p.month IS NOT NULL AND m_u.unit_text IS NOT NULL AND m_i.resolved IS NOT NULL
            GROUP BY ALL HAVING count(*) > 1
        )
        SELECT f.source_row{kept_f}, month, unit_text, resolved, figure, n_, d_, rater_text, stamp,
               k.m_code IS NOT NULL AS shared,
               key_ok AND unit_ok AND kind IS NOT NULL AND plain_numbers AND stamp_ok
               AND abs(coalesce(v_, 0)) <= {MAX_MAGNITUDE!r} AND abs(coalesce(n_, 0)) <= {MAX_MAGNITUDE!r}
               AND abs(coalesce(d_, 0)) <= {MAX_MAGNITUDE!r}
               AND figure IS NOT NULL
               AND coalesce(n_ >= 0, true) AND coalesce(d_ > 0, true)
               AND NOT (kind = 'count' AND figure < 0)
               AND NOT (kind = 'rate' AND coalesce(n_ > d_, false))
               AND NOT coalesce(v_ IS NOT NULL AND n_ IS NOT NULL AND d_ IS NOT NULL
                                AND abs(v_ - n_ / d_) > {tolerance!r}, false)
               AND figure >= low AND figure <= high AS screened
        FROM figured f LEFT JOIN keys k ON f.m_code = k.m_code AND f.u_code = k.u_code
             AND f.i_code = k.i_code AND f.r_code = k.r_code
    """


def validate_observations_engine(
    framework: Framework,
    observations: str | Path | pd.DataFrame,
    units: ValidationResult,
    *,
    sheet: int | str | None = None,
    months: Iterable[str] | None = None,
    con: Any = None,
    memory_limit: str | None = None,
) -> ValidationResult:
    """Read and validate observations in DuckDB; the result of :func:`perfmodel.validation.validate_observations`.

    Parameters
    ----------
    framework
        The framework the observations are validated against.
    observations
        A file (CSV, .csv.gz, TSV, .xlsx, .xls, Parquet), a frame as read by
        :func:`perfmodel.io.read_table`, or a folder or pattern of Parquet files
        (:func:`partition_files`; with ``months``, only the files of those
        months are opened; the quarantine names each row's file in ``part``).
    units
        The validated units (:func:`perfmodel.validation.validate_units`).
    sheet
        A workbook: read only this sheet.
    months
        Read only the rows of these months ('YYYY-MM'); in a Parquet file the
        filter is pushed into the scan, so other months are not read. Rows whose
        period is not a month are then not read either. Default: every row.
    con
        A DuckDB connection (default: a new one, see :func:`connect`).
    memory_limit
        The engine's memory limit for a new connection ('4GB'); default
        :func:`default_memory_limit`.

    Returns
    -------
    ValidationResult
        The accepted rows (typed, in file order) and the quarantine, equal to the
        pandas validation of the same rows.
    """
    con = con if con is not None else connect(memory_limit)
    checked = _screen_and_check(con, framework, observations, units, sheet, months)
    if isinstance(checked, ValidationResult):
        return checked
    data = _clean_rows(con, checked, framework)  # in file order
    if len(checked.result.data):
        data = pd.concat([data, checked.result.data[data.columns]], ignore_index=True)
        data = data.sort_values("source_row", kind="stable").reset_index(drop=True)
    data.attrs["source"] = checked.source
    result = ValidationResult(data, checked.result.quarantine, checked.n_input, checked.source)
    return _with_notes(result, checked.frame, checked.notes)


@dataclass
class _Checked:
    """The screened table ``screened`` in DuckDB, and the row-level checks of its suspect rows."""

    result: ValidationResult
    """:func:`perfmodel.validation.validate_observations` of the suspect rows."""
    frame: pd.DataFrame
    """The attrs frame of :func:`_register_raw` (the whole table when pandas read it)."""
    source: str
    columns: list[str]
    n_input: int
    notes: list[str]


def _screen_and_check(
    con: Any,
    framework: Framework,
    observations: str | Path | pd.DataFrame,
    units: ValidationResult,
    sheet: int | str | None,
    months: Iterable[str] | None,
) -> _Checked | ValidationResult:
    """Read, screen in SQL and check the suspect rows; the whole pandas result when the screen cannot apply.

    The temporary table ``screened`` holds every row typed (period, unit and
    indicator as their ids, numbers as DOUBLE), ``screened`` (certainly clean) and
    ``shared`` (its key on several rows); past the memory limit DuckDB spills it.
    """
    months = None if months is None else list(months)
    frame, source = _register_raw(con, observations, sheet, months)
    con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM raw_all")
    columns = [row[0] for row in con.execute("DESCRIBE raw").fetchall()]
    if not _screenable(con, columns):
        if len(frame) or not len(frame.columns):
            whole = frame
        else:
            types = {row[0]: str(row[1]) for row in con.execute("DESCRIBE raw").fetchall()}
            whole = _as_read(con.execute("SELECT * FROM raw ORDER BY source_row").df(), frame, types)
        return validate_observations(whole, units, framework, source=source)
    _setup_mappings(con, framework, units, columns)
    if months is not None:
        wanted = {str(parse_month(m)) for m in months}
        texts = con.execute(
            "SELECT raw_value FROM map_period WHERE list_contains(?, month)", [sorted(wanted)]
        ).fetchall()
        listed = ", ".join("'" + str(row[0]).replace("'", "''") + "'" for row in texts) or "NULL"
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM raw_all WHERE period IN ({listed})")
    types = {row[0]: str(row[1]) for row in con.execute("DESCRIBE raw").fetchall()}
    con.execute(f"CREATE OR REPLACE TEMP TABLE screened AS {_screen_sql(columns, types)}")
    n_input = con.execute("SELECT count(*) FROM screened").fetchone()[0]
    raw_columns = ", ".join(_quote(c) for c in columns)
    suspects = con.execute(
        f"SELECT {raw_columns} FROM raw WHERE source_row IN "
        "(SELECT source_row FROM screened WHERE NOT screened OR shared) ORDER BY source_row"
    ).df()
    suspects = _as_read(suspects, frame, types)
    checked = validate_observations(suspects, units, framework, source=source)
    notes = _rename_notes(con) + _parts_note(frame, months, n_input)
    _drop_mappings(con)
    return _Checked(checked, frame, source, columns, int(n_input), notes)


def validate_to_source(
    framework: Framework,
    observations: str | Path | pd.DataFrame,
    units: ValidationResult,
    *,
    sheet: int | str | None = None,
    months: Iterable[str] | None = None,
    memory_limit: str | None = None,
) -> tuple[EngineSource, ValidationResult]:
    """:func:`validate_observations_engine` that leaves the accepted rows in DuckDB.

    Parameters are those of :func:`validate_observations_engine`.

    Returns
    -------
    (source, result)
        The accepted rows as an :class:`~perfmodel.engine.source.EngineSource`
        (the view ``obs`` over the screened rows, in a database in memory that
        spills past the memory limit into a temporary folder, removed when the
        source is closed or collected), and the validation result: its quarantine,
        ``n_input`` and notes as :func:`validate_observations_engine` gives them,
        its ``data`` empty (``n_input == len(source) + len(result.quarantine)``).
    """
    con, folder = open_store(memory_limit)
    try:
        checked = _screen_and_check(con, framework, observations, units, sheet, months)
        if isinstance(checked, ValidationResult):  # read and validated by pandas: its rows go into a table
            close_store(con, folder)
            return source_from_frame(checked.data, framework, memory_limit), _without_rows(checked)
        select, extras = _clean_select(con, checked, ordered=False)
        con.execute("DROP TABLE IF EXISTS raw_text")
        store_rows(con, checked.result.data[[*CLEAN_COLUMNS, *extras]], table="checked")
        # the screened rows are not copied: obs reads them where the screen left them (typed, narrow)
        con.execute(f"CREATE TEMP VIEW obs AS {select} UNION ALL BY NAME SELECT * FROM checked")
    except BaseException:
        close_store(con, folder)
        raise
    result = ValidationResult(checked.result.data, checked.result.quarantine, checked.n_input, checked.source)
    result = _with_notes(result, checked.frame, checked.notes)
    return EngineSource(con, framework, checked.source, extras, folder), _without_rows(result)


def open_store(memory_limit: str | None = None) -> tuple[Any, Path]:
    """A DuckDB connection that spills into a new temporary folder, and the folder.

    DuckDB spills to ``FOLDER/spill`` past ``memory_limit``
    (:func:`perfmodel.engine.validate.connect`).
    """
    folder = Path(tempfile.mkdtemp(prefix="perfmodel-engine-"))
    try:
        con = connect(memory_limit, folder=folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return con, folder


def source_from_frame(
    observations: pd.DataFrame, framework: Framework, memory_limit: str | None = None
) -> EngineSource:
    """An :class:`~perfmodel.engine.source.EngineSource` over clean observations already in pandas.

    ``observations`` as validation gives them (typed, accepted rows). For tests and
    small inputs; files are read by :func:`validate_to_source`.
    """
    con, folder = open_store(memory_limit)
    try:
        extras = {
            c: observations[c].dtype
            for c in observations.columns
            if c not in CLEAN_COLUMNS and c not in ("deadline", "late", "days_late")
        }
        rows = observations[[*CLEAN_COLUMNS, *extras]]
        if not rows["source_row"].is_monotonic_increasing:  # pandas' order is the frame's
            rows = rows.assign(**{ROW_ORDER: np.arange(len(rows), dtype=np.int64)})
        store_rows(con, rows)
    except BaseException:
        close_store(con, folder)
        raise
    return EngineSource(con, framework, str(observations.attrs.get("source", "<observations>")), extras, folder)


def _without_rows(result: ValidationResult) -> ValidationResult:
    """``result`` with its accepted rows left out (they are in the source)."""
    return dataclasses.replace(result, data=result.data.iloc[:0].copy())


def _as_read(suspects: pd.DataFrame, frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Rows fetched from DuckDB as :func:`perfmodel.io.read_table` gives them.

    From a frame handed to DuckDB, its own rows (same dtypes); from a file DuckDB
    read, text columns as :data:`~perfmodel.validation.TEXT_DTYPE`.
    """
    if len(frame):
        rows = frame[frame["source_row"].isin(suspects["source_row"])]
    else:
        rows = suspects
        for name in rows.columns:
            if types.get(name) in _TEXT_TYPES:
                rows[name] = rows[name].astype(TEXT_DTYPE)
    rows.attrs = dict(frame.attrs)
    return rows


_PART_COLUMNS = ("source_part", "source_part_row")
"""Columns naming a row's partition file: for the quarantine only (``source_row`` is unique)."""


def _clean_select(con: Any, checked: _Checked, ordered: bool = True) -> tuple[str, dict[str, object]]:
    """SQL of the screened clean rows (:data:`~perfmodel.engine.source.CLEAN_COLUMNS`, then the extra
    columns, in file order), and each extra column's text dtype (``None``: as DuckDB gives it)."""
    frame = checked.frame
    extras = [
        c for c in checked.columns if c not in OBSERVATION_INPUTS and c != "source_row" and c not in _PART_COLUMNS
    ]
    types = {row[0]: str(row[1]) for row in con.execute("DESCRIBE screened").fetchall()}
    extra_sql = "".join(
        f", CASE WHEN regexp_full_match(CAST({_quote(c)} AS VARCHAR), '{_BLANK}') THEN NULL ELSE {_quote(c)} END "
        f"AS {_quote(c)}"
        if types.get(c) in _TEXT_TYPES
        else f", {_quote(c)}"
        for c in extras
    )
    dtypes = {
        c: ((frame[c].dtype if len(frame) else TEXT_DTYPE) if types.get(c) in _TEXT_TYPES else None) for c in extras
    }
    select = (
        "SELECT month AS period, unit_text AS unit_id, resolved AS indicator, figure + 0.0 AS value, "
        "n_ AS numerator, d_ AS denominator, rater_text AS rater_id, stamp AS submitted_at, source_row"
        f"{extra_sql} FROM screened WHERE screened AND NOT shared" + (" ORDER BY source_row" if ordered else "")
    )
    return select, dtypes


def _clean_rows(con: Any, checked: _Checked, framework: Framework) -> pd.DataFrame:
    """The screened rows typed as :func:`perfmodel.validation.validate_observations` types accepted rows."""
    from perfmodel.engine.source import typed_rows

    select, extras = _clean_select(con, checked)
    relation = con.sql(select)
    # through Arrow: text stays Arrow-backed, no Python strings (DuckDB 2 renamed arrow() to_arrow_table())
    table = (getattr(relation, "to_arrow_table", None) or relation.arrow)()
    con.execute("DROP TABLE IF EXISTS screened; DROP TABLE IF EXISTS raw_text")  # memory back before pandas
    rows = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    return typed_rows(rows, framework, extras)


def _parts_note(frame: pd.DataFrame, months: list[str] | None, n_input: int) -> list[str]:
    """The note on a folder: partition files read, and which rows count as input."""
    parts = frame.attrs.get("parts")
    if not parts:
        return []
    within = f" of the months {', '.join(sorted(str(parse_month(m)) for m in months))}" if months else ""
    return [
        f"{parts['read']} partition files{within} read ({parts['rows']} rows); the {n_input} rows of those months "
        "are the input (used + quarantined), files of other months are not read. Rows naming a unit absent "
        "from the units table are quarantined as unknown_unit: give the national units table"
    ]


def _rename_notes(con: Any) -> list[str]:
    """The note on indicators named by name or alias, over every row (as the pandas path writes it)."""
    renamed = con.execute(
        "SELECT m.indicator_text, m.resolved, count(*) AS n, min(source_row) AS first FROM raw "
        "JOIN map_indicator m ON raw.indicator = m.raw_value "
        "WHERE m.resolved IS NOT NULL AND m.resolved <> m.indicator_text "
        "GROUP BY m.indicator_text, m.resolved ORDER BY first"
    ).fetchall()
    if not renamed:
        return []
    total = sum(int(row[2]) for row in renamed)
    pairs = [(row[0], row[1]) for row in renamed]
    shown = ", ".join(f"'{a}' → {b}" for a, b in pairs[:3]) + (", …" if len(pairs) > 3 else "")
    return [f"{total} rows name their indicator by name or alias; read as ids ({shown})"]


def read_inputs_engine(
    framework: Framework | str | Path,
    observations: str | Path | pd.DataFrame,
    units: str | Path | pd.DataFrame,
    *,
    sheet: int | str | None = None,
    months: Iterable[str] | None = None,
    memory_limit: str | None = None,
) -> tuple[ValidationResult, ValidationResult]:
    """:func:`perfmodel.validation.read_inputs` with the observations read and validated in DuckDB.

    The units table (one row per unit, small) is validated by pandas as before.
    ``months`` and ``memory_limit``: see :func:`validate_observations_engine`.
    """
    fw = resolve_input_order(framework, observations, units, caller="read_inputs_engine")
    units_result = _read_units(fw, units)
    con = connect(memory_limit)
    progress.step("reading_observations", path=observations)
    try:
        observations_result = validate_observations_engine(
            fw, observations, units_result, sheet=sheet, months=months, con=con
        )
    finally:
        con.close()
    return observations_result, units_result


def read_inputs_source(
    framework: Framework | str | Path,
    observations: str | Path | pd.DataFrame,
    units: str | Path | pd.DataFrame,
    *,
    sheet: int | str | None = None,
    months: Iterable[str] | None = None,
    memory_limit: str | None = None,
) -> tuple[EngineSource, ValidationResult, ValidationResult]:
    """:func:`read_inputs_engine` that leaves the accepted observations in DuckDB.

    Returns
    -------
    (source, observations, units)
        The accepted observations as an :class:`~perfmodel.engine.source.EngineSource`,
        the observations' validation result (quarantine, ``n_input`` and notes; its
        ``data`` empty, see :func:`validate_to_source`) and the units' result.
    """
    fw = resolve_input_order(framework, observations, units, caller="read_inputs_source")
    units_result = _read_units(fw, units)
    progress.step("reading_observations", path=observations)
    source, observations_result = validate_to_source(
        fw, observations, units_result, sheet=sheet, months=months, memory_limit=memory_limit
    )
    return source, observations_result, units_result


def _read_units(framework: Framework, units: str | Path | pd.DataFrame) -> ValidationResult:
    """The units table read and validated by pandas (one row per unit: small)."""
    progress.step("reading_units", path=units)
    units_raw = units if isinstance(units, pd.DataFrame) else read_table(units, aliases=UNIT_ALIASES)
    units_source = str(units_raw.attrs.get("source", "<units>"))
    denominators = [ind.denominator for ind in framework.indicators() if ind.denominator]
    progress.step("validating_units")
    return validate_units(units_raw, source=units_source, numeric_columns=denominators)
