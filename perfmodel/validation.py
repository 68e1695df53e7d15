"""Validating units and observations, with a quarantine that loses nothing.

Every input row ends up exactly once either in :attr:`ValidationResult.data`
(typed, ready for scoring) or in :attr:`ValidationResult.quarantine` (as text,
with one primary reason code and a message that names the file, the row as seen
in a spreadsheet, the column, and how to fix it), so that
``len(data) + len(quarantine) == n_input`` always holds. No row is dropped or
altered silently. Checks run on whole columns at once (pandas masks; values with
few distinct entries, such as periods and ids, are parsed once per distinct
value), so a million rows validate in seconds.

Reason codes are in :data:`REASONS`; what each means and how to fix it in
:func:`reason_text` (the message catalogue) and ``docs/data-contract.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import DTypeLike

from perfmodel import progress
from perfmodel.columns import NUMERIC_CONTEXT
from perfmodel.errors import OptionError
from perfmodel.framework import Framework, load_framework
from perfmodel.io import (
    OBSERVATION_ALIASES,
    SUPPORTED_EXTENSIONS,
    UNIT_ALIASES,
    InputError,
    aliases_of,
    canonical_columns,
    normalise_header,
    read_table,
)
from perfmodel.periods import PeriodError, parse_month, reporting_deadline
from perfmodel.source import among
from perfmodel.text import check_lang, has_message, say

__all__ = [
    "REASONS",
    "reason_text",
    "LEVELS",
    "UNIT_NUMERIC_COLUMNS",
    "RATE_TOLERANCE",
    "MAX_MAGNITUDE",
    "ValidationResult",
    "validate_units",
    "validate_observations",
    "read_inputs",
    "resolve_input_order",
    "check_input_order",
    "indicator_lookup",
    "lateness",
]

REASONS: tuple[str, ...] = (
    "missing_column",
    "blank_row",
    "missing_key",
    "bad_period",
    "unknown_unit",
    "level_mismatch",
    "unknown_indicator",
    "non_numeric",
    "non_finite",
    "absurd_value",
    "missing_value",
    "duplicate_row",
    "duplicate_key",
    "rate_out_of_range",
    "numerator_gt_denominator",
    "negative_count",
    "zero_denominator",
    "inconsistent_rate",
    "out_of_range",
    "bad_timestamp",
    "duplicate_unit",
    "bad_level",
    "unknown_parent",
)
"""Quarantine reason codes; what each means and how to fix it: :func:`reason_text` (``reason.validation.<code>``)."""


def reason_text(reason: str, lang: str = "en") -> str:
    """What quarantine reason ``reason`` means and how to fix it, in ``lang``; "" for an unknown code.

    Examples
    --------
    >>> reason_text("blank_row"), reason_text("blank_row", "zh")
    ('The row is empty. Delete it.', '空行。请删除。')
    """
    check_lang(lang)
    key = f"reason.validation.{reason}"
    return say(key, lang) if has_message(key) else ""


LEVELS: dict[str, str] = {
    "station": "station",
    "officer": "officer",
    "派出所": "station",
    "民警": "officer",
}
"""Accepted spellings of a unit's level (matched ignoring case and spaces) → level."""

UNIT_NUMERIC_COLUMNS: tuple[str, ...] = NUMERIC_CONTEXT
"""Context columns of the units file that must be numbers when present."""

RATE_TOLERANCE = 1e-6
"""Largest accepted difference between a value and numerator / denominator."""

MAX_MAGNITUDE = 1e12
"""Largest magnitude of any accepted number (value, numerator, denominator, unit context).

No figure a police unit reports comes near it (China has 1.4e9 residents), so a
larger number is a typing, export or overflow error, or an attack. Far below it
floating-point arithmetic is safe: squares stay below 1e24, sums over millions
of rows below 1e19, and whole numbers are exact (up to 2**53 ≈ 9e15), so no
score can become infinite or lose its ranking through one input.
"""

try:  # the text dtype of pandas 3 ("str"), available since pandas 2.3
    TEXT_DTYPE = pd.StringDtype(na_value=np.nan)
except TypeError:  # pragma: no cover - older pandas
    TEXT_DTYPE = pd.StringDtype()
"""dtype of text columns: ids, periods and quarantined fields."""

LOCAL_TIMEZONE = "Asia/Shanghai"
"""Timestamps given with a UTC offset are converted to this zone (deadlines are local times)."""

MISSING_TOKENS = frozenset({"na", "n/a", "nan", "null", "none", "-", "--", "—", "无", "空", "缺失"})
"""Cell texts that mark a number as missing (matched ignoring case)."""

OBSERVATION_COLUMNS: dict[str, object] = {
    "period": TEXT_DTYPE,
    "unit_id": TEXT_DTYPE,
    "indicator": TEXT_DTYPE,
    "value": np.float64,
    "numerator": np.float64,
    "denominator": np.float64,
    "rater_id": TEXT_DTYPE,
    "submitted_at": "datetime64[ns]",
    "deadline": "datetime64[ns]",
    "late": bool,
    "days_late": np.float64,
    "source_row": np.int64,
}
"""Columns of clean observations and their dtypes (other input columns follow)."""
OBSERVATION_INPUTS = (
    "period",
    "unit_id",
    "indicator",
    "value",
    "numerator",
    "denominator",
    "rater_id",
    "submitted_at",
)
"""The observation columns a file supplies (before the lateness columns validation adds)."""
UNIT_COLUMNS: dict[str, object] = {
    "unit_id": TEXT_DTYPE,
    "name": TEXT_DTYPE,
    "level": TEXT_DTYPE,
    "parent_id": TEXT_DTYPE,
    "source_row": np.int64,
}
"""Leading columns of clean units and their dtypes (context columns follow)."""


# ----------------------------------------------------------------------------- result
@dataclass
class ValidationResult:
    """Rows that passed (typed) and rows held back (as text, with reasons).

    Attributes
    ----------
    data
        Accepted rows, typed, in file order.
    quarantine
        Rejected rows: ``file``, ``row`` (as seen in a spreadsheet), ``column``,
        ``reason`` (one of :data:`REASONS`), ``message``, then the row's own
        fields as text.
    n_input
        Number of input rows; always ``len(data) + len(quarantine)``.
    source
        The file the rows came from.
    rejected_units
        Units results only: each rejected unit_id → ``(row, reason)`` of its first
        rejected row, so that observations can say why a unit is unknown.
    sheets
        A workbook's sheets, in order: ``sheet``, ``rows`` read, ``read`` (whether
        it was read) and ``why`` not (see :func:`perfmodel.io.read_table`).
    notes
        What a person should know about the file as a whole, one line each: rows
        per sheet and sheets not read, a wide export reshaped, indicators named by
        name rather than id.
    """

    data: pd.DataFrame
    quarantine: pd.DataFrame
    n_input: int
    source: str = ""
    rejected_units: dict[str, tuple[int, str]] = field(default_factory=dict, repr=False)
    sheets: list[dict[str, object]] = field(default_factory=list, repr=False)
    notes: list[str] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        """Rows read, accepted and quarantined, then one line per reason (most frequent first)."""
        name = self.source or "input"
        lines = [f"{name}: {self.n_input} rows read, {len(self.data)} accepted, {len(self.quarantine)} quarantined"]
        lines += [f"  {note}" for note in self.notes]
        lines += [f"  {row.reason}: {row.n} — {row.explanation}" for row in self.to_frame().itertuples(index=False)]
        return "\n".join(lines)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → table: ``data`` (accepted rows), ``quarantine`` (rejected rows), ``reasons``."""
        return {"data": self.data, "quarantine": self.quarantine, "reasons": self.to_frame()}

    def to_frame(self) -> pd.DataFrame:
        """Quarantined rows per reason: ``reason``, ``n``, ``explanation``; most frequent first."""
        counts = self.quarantine["reason"].value_counts()
        table = pd.DataFrame({"reason": counts.index.astype(str), "n": counts.to_numpy(dtype=np.int64)})
        table = table.sort_values(["n", "reason"], ascending=[False, True], kind="stable")
        table["explanation"] = table["reason"].map(reason_text)
        return table.reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """Whether no row was quarantined."""
        return len(self.quarantine) == 0


# ----------------------------------------------------------------------------- text helpers
Detail = str | Callable[[np.ndarray], np.ndarray]
"""A message detail: fixed text, or a function of the row positions giving one text per row."""


def _scalar_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _as_text(series: pd.Series, *, strip: bool = True) -> pd.Series:
    """Values as text (:data:`TEXT_DTYPE`); missing stays missing.

    Whole-number floats are written without ``.0`` (an id stored as 12.0 reads
    '12'). With ``strip``, surrounding spaces are removed and blank text becomes
    missing.
    """
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        text = series.astype(TEXT_DTYPE)
        whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 1e15)
        if whole.any():
            text[whole] = values[whole].astype(np.int64).astype(str)
    elif pd.api.types.is_object_dtype(series) and pd.api.types.infer_dtype(series, skipna=True) not in {
        "string",
        "empty",
    }:
        text = series.map(_scalar_text, na_action="ignore").astype(TEXT_DTYPE)
    else:
        text = series.astype(TEXT_DTYPE)
    if strip:
        text = text.str.strip()
        text = text.mask(text == "")
    return text


def _bool(values: pd.Series | np.ndarray) -> np.ndarray:
    """A plain boolean array; missing counts as False."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=bool, na_value=False)
    return np.asarray(values, dtype=bool)


SHOWN_CHARS = 60
"""Cell texts longer than this are cut (with '…') where a message quotes them."""


def _short(value: object) -> str:
    """``value`` as text for a message: at most :data:`SHOWN_CHARS` characters."""
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _named_cells(name: str, text: pd.Series, tail: str) -> Callable[[np.ndarray], np.ndarray]:
    """A :data:`Detail` naming column ``name`` and its cells at the flagged rows, then ``tail``."""
    return lambda at: name + " " + _cells(text, at) + tail


def _cells(text: pd.Series, at: np.ndarray) -> np.ndarray:
    """The texts at ``at``, for messages: ``str`` ('' when missing), long texts cut (:func:`_short`)."""
    cells = text.iloc[at].astype(object).fillna("").astype(str).to_numpy(dtype=object)
    long = np.array([len(c) > SHOWN_CHARS for c in cells], dtype=bool)
    if long.any():
        cells[long] = [_short(c) for c in cells[long]]
    return cells


def _quoted(text: pd.Series, at: np.ndarray) -> np.ndarray:
    return "'" + _cells(text, at) + "'"


def _g(values: np.ndarray) -> np.ndarray:
    """Numbers as short text (6 significant digits)."""
    return np.array([f"{v:.6g}" for v in values], dtype=object)


def _per_unique(
    text: pd.Series,
    func: Callable[[str], object],
    *,
    dtype: DTypeLike = object,
    missing: object = None,
) -> np.ndarray:
    """``func`` applied once per distinct non-missing value of ``text``, spread over the rows.

    Rows where ``text`` is missing get ``missing``.
    """
    codes, uniques = pd.factorize(text)
    results = np.empty(len(uniques) + 1, dtype=dtype)
    for k, unique in enumerate(uniques):
        results[k] = func(unique)
    results[-1] = missing
    return results[codes]


def _numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse numbers: ``(values, blank, bad, infinite)``.

    ``blank``: missing, or a text such as 'NA' or 'nan' that marks a number as
    missing (:data:`MISSING_TOKENS`); ``infinite``: a number too large to hold
    ('inf', '-Infinity', '1e999'); ``bad``: other text that is not a number.
    ``values`` is NaN on all of these rows.
    """
    values = _to_float(text)
    failed = ~np.isfinite(values) & _bool(text.notna())
    blank = np.array(_bool(text.isna()))
    blank[failed] = _bool(text[failed].str.casefold().isin(MISSING_TOKENS))
    infinite = np.isinf(values) & ~blank
    bad = failed & ~blank & ~infinite
    values[failed] = np.nan
    return values, blank, bad, infinite


def _check_extremes(checks: _Checks, name: str, text: pd.Series, values: np.ndarray, infinite: np.ndarray) -> None:
    """Quarantine infinite numbers and numbers beyond :data:`MAX_MAGNITUDE` in ``name``."""
    checks.add(
        "non_finite",
        name,
        infinite,
        lambda at: (
            name
            + " "
            + _quoted(text, at)
            + " is infinite (or too large for a computer to hold) — enter the real figure"
        ),
    )
    with np.errstate(invalid="ignore"):
        absurd = np.abs(values) > MAX_MAGNITUDE
    checks.add(
        "absurd_value",
        name,
        absurd,
        lambda at: (
            name + " " + _quoted(text, at) + f" is beyond any real figure (magnitude above {MAX_MAGNITUDE:.0e}) — "
            "it is a typing or export error; enter the real figure"
        ),
    )


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return np.nan


def _to_float(text: pd.Series) -> np.ndarray:
    """Text to floats as Python's ``float`` reads them; NaN where it cannot."""
    try:
        return np.array(text.astype("float64").to_numpy(dtype=float, na_value=np.nan), dtype=float)
    except (ValueError, TypeError):
        parsed = pd.to_numeric(text, errors="coerce")
        values = np.array(parsed.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        retry = np.isnan(values) & _bool(text.notna())
        if retry.any():
            values[retry] = _per_unique(text.where(retry), _float_or_nan)[retry].astype(float)
        return values


def _not_a_number(text: pd.Series, example: str = "0.93") -> Detail:
    def detail(at: np.ndarray) -> np.ndarray:
        cells = _cells(text, at)
        percent = np.array([c.endswith("%") for c in cells], dtype=bool)
        thousands = np.array([re.search(r"\d,\d{3}", c) is not None for c in cells], dtype=bool)
        hint = np.select(
            [percent, thousands],
            [
                "write a rate as a fraction without '%' (93% → 0.93)",
                "remove the thousands separators (1,234 → 1234)",
            ],
            default=f"enter a plain number such as {example}",
        ).astype(object)
        return "'" + cells + "' is not a number — " + hint

    return detail


def _file_label(source: str) -> str:
    return Path(source).name if source else "<table>"


def _plain(text: pd.Series | np.ndarray) -> pd.Series:
    """Text as :data:`TEXT_DTYPE` with a fresh index, missing as missing."""
    if isinstance(text, pd.Series):
        return text.astype(TEXT_DTYPE).reset_index(drop=True)
    return pd.Series(text, dtype=TEXT_DTYPE)


# ----------------------------------------------------------------------------- issues
@dataclass
class _Issue:
    reason: str
    column: str
    mask: np.ndarray
    detail: Detail


@dataclass
class _Origin:
    """Where each row of a table comes from, as a person finds it in the file.

    ``rows``: spreadsheet row numbers; ``sheets``: the sheet of each row (a
    workbook of several sheets), else None; ``cells``: for a reshaped wide export,
    the cell each value was in (e.g. ``D5 '案件规范率'``), else None.
    """

    rows: np.ndarray
    sheets: np.ndarray | None = None
    cells: np.ndarray | None = None
    parts: np.ndarray | None = None
    """In a folder of files: each row's file (relative path); ``part_rows`` is its row in that file."""
    part_rows: np.ndarray | None = None

    def take(self, positions: np.ndarray) -> _Origin:
        """The origin of the rows at ``positions``."""
        pick = [None if a is None else a[positions] for a in (self.sheets, self.cells, self.parts, self.part_rows)]
        return _Origin(self.rows[positions], *pick)

    def places(self, at: np.ndarray) -> np.ndarray:
        """'row 5', "sheet '2025-04' row 5" in a workbook of several sheets, "part 'p/f.parquet' row 5" in a folder."""
        if self.parts is not None and self.part_rows is not None:
            return "part '" + self.parts[at].astype(str).astype(object) + "' row " + self.part_rows[at].astype(str)
        rows = "row " + self.rows[at].astype(str).astype(object)
        if self.sheets is None:
            return rows
        return "sheet '" + self.sheets[at].astype(str).astype(object) + "' " + rows

    def columns(self) -> dict[str, np.ndarray]:
        """The origin as data columns: source_row, and source_sheet / source_cell when known."""
        out: dict[str, np.ndarray] = {"source_row": self.rows}
        if self.sheets is not None:
            out["source_sheet"] = self.sheets
        if self.cells is not None:
            out["source_cell"] = self.cells
        return out


class _Checks:
    """The problems found in one table, in order of precedence, and the split they give.

    A row's primary reason is the first issue recorded for it; later issues on the
    same row are mentioned at the end of its message.
    """

    def __init__(self, frame: pd.DataFrame, origin: _Origin, source: str):
        self.frame = frame
        self.origin = origin
        self.rows = origin.rows
        self.source = source
        self.n = len(frame)
        self.issues: list[_Issue] = []

    def add(self, reason: str, column: str, mask: np.ndarray, detail: Detail) -> None:
        """Record ``reason`` in ``column`` on the rows in ``mask``."""
        mask = _bool(mask)
        if mask.any():
            self.issues.append(_Issue(reason, column, mask, detail))

    def flagged(self, reason: str | None = None, columns: Iterable[str] | None = None) -> np.ndarray:
        """Rows with an issue so far (optionally only ``reason`` and/or in ``columns``)."""
        columns = None if columns is None else set(columns)
        out = np.zeros(self.n, dtype=bool)
        for issue in self.issues:
            if (reason is None or issue.reason == reason) and (columns is None or issue.column in columns):
                out |= issue.mask
        return out

    def primary(self) -> np.ndarray:
        """Index into :attr:`issues` of each row's primary issue (-1: none)."""
        primary = np.full(self.n, -1, dtype=np.int64)
        for k, issue in enumerate(self.issues):
            primary[issue.mask & (primary < 0)] = k
        return primary

    def rejected(self, key: pd.Series) -> dict[str, tuple[int, str]]:
        """Each ``key`` value on a rejected row → (row, reason) of its first rejected row."""
        primary = self.primary()
        held = np.flatnonzero(primary >= 0)
        keys = key.iloc[held].to_numpy(dtype=object, na_value=None)
        out: dict[str, tuple[int, str]] = {}
        for k, row, issue in zip(keys, self.rows[held], primary[held], strict=True):
            if k is not None and k not in out:
                out[k] = (int(row), self.issues[issue].reason)
        return out

    def result(self, data: pd.DataFrame) -> ValidationResult:
        """Rows of ``data`` (aligned on position) without issue, and the quarantine."""
        primary = self.primary()
        kept = data.iloc[np.flatnonzero(primary < 0)].reset_index(drop=True)
        kept.attrs["source"] = self.source
        return ValidationResult(kept, self._quarantine(primary), self.n, self.source)

    def _quarantine(self, primary: np.ndarray) -> pd.DataFrame:
        held = np.flatnonzero(primary >= 0)
        slot = np.full(self.n, -1, dtype=np.int64)
        slot[held] = np.arange(len(held))
        reason = np.empty(len(held), dtype=object)
        column = np.empty(len(held), dtype=object)
        detail = np.empty(len(held), dtype=object)
        also = np.full(len(held), "", dtype=object)
        for k, issue in enumerate(self.issues):
            first = np.flatnonzero(primary == k)
            if len(first):
                reason[slot[first]] = issue.reason
                column[slot[first]] = issue.column
                text = issue.detail
                detail[slot[first]] = text if isinstance(text, str) else np.asarray(text(first), dtype=object)
            other = np.flatnonzero(issue.mask & (primary != k) & (primary >= 0))
            if len(other):
                also[slot[other]] += f"; {issue.reason} in column '{issue.column}'"
        pieces = pd.Series(also, dtype=object).str[2:].to_numpy(dtype=object)
        also = np.where(also == "", "", " (also: " + pieces + ")").astype(object)
        where = _file_label(self.source) + " " + self.origin.places(held)
        column_text = "column '" + column + "'"
        if self.origin.cells is not None:
            cells = self.origin.cells[held].astype(object)
            column_text = np.where(cells == "", column_text, column_text + " (cell " + cells + ")")
        message = where + ", " + column_text + ": " + detail + also
        out = pd.DataFrame({"file": pd.Series([self.source] * len(held), dtype=object)})
        if self.origin.sheets is not None:
            out["sheet"] = self.origin.sheets[held].astype(object)
        if self.origin.parts is not None and self.origin.part_rows is not None:
            out["part"] = self.origin.parts[held].astype(object)
            out["row"] = self.origin.part_rows[held].astype(np.int64)
        else:
            out["row"] = self.rows[held].astype(np.int64)
        if self.origin.cells is not None:
            out["cell"] = self.origin.cells[held].astype(object)
        out["column"] = column
        out["reason"] = reason
        out["message"] = message
        for name in self.frame.columns:
            if name not in out.columns:
                text = _as_text(self.frame[name].iloc[held], strip=False)
                out[name] = text.to_numpy(dtype=object, na_value=None)
        return out


def _prepare(raw: pd.DataFrame, aliases: Mapping[str, str], source: str) -> tuple[pd.DataFrame, _Origin]:
    """Canonical columns, rows sorted in file order, and where each row comes from.

    Rows without ``source_row`` are numbered as if written to a spreadsheet with
    a header: 2, 3, …. Rows of a workbook of several sheets (``source_sheet``)
    are in sheet order, then row order.
    """
    frame = raw.copy()
    frame.columns = canonical_columns(frame.columns, aliases, source=_file_label(source))
    rows = np.arange(2, len(frame) + 2, dtype=np.int64)
    if "source_row" in frame.columns:
        given = pd.to_numeric(frame["source_row"], errors="coerce")
        given = given.to_numpy(dtype=float, na_value=np.nan)
        if np.isfinite(given).all() and (np.abs(given) < 2**62).all():
            rows = given.astype(np.int64)
        frame = frame.drop(columns="source_row")
    sheets = parts = part_rows = None
    if "source_part" in frame.columns and "source_part_row" in frame.columns:  # a folder read by the engine
        parts = frame.pop("source_part").astype(str).to_numpy(dtype=object)
        part_rows = pd.to_numeric(frame.pop("source_part_row")).to_numpy(dtype=np.int64)
    if "source_sheet" in frame.columns:
        sheets = frame.pop("source_sheet").astype(str).to_numpy(dtype=object)
        order = np.lexsort((rows, pd.factorize(sheets)[0]))
    else:
        order = np.argsort(rows, kind="stable")
    origin = _Origin(rows, sheets, None, parts, part_rows).take(order)
    return frame.iloc[order].reset_index(drop=True), origin


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    blank = np.ones(len(frame), dtype=bool)
    for name in frame.columns:
        blank &= _bool(_as_text(frame[name]).isna())
    return blank


def _blank_as_missing(series: pd.Series) -> pd.Series:
    """A column as read, except that blank text is missing (as in CSV files)."""
    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        return series.where(_bool(_as_text(series).notna()))
    return series


def _text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return _as_text(frame[name])
    return pd.Series(None, index=frame.index, dtype=TEXT_DTYPE)


def _reject_all(
    checks: _Checks,
    missing: list[str],
    aliases: Mapping[str, str],
    kind: str,
    columns: Mapping[str, object],
) -> ValidationResult:
    """Quarantine every row for ``missing_column``; the message lists the accepted headers."""
    parts = [f"'{name}' (accepted headers: {', '.join(aliases_of(name, aliases))})" for name in missing]
    noun = "column" if len(missing) == 1 else "columns"
    headers = "header" if len(missing) == 1 else "headers"
    detail = f"the {kind} file has no {noun} {' and '.join(parts)} — add the {noun} or rename the {headers}"
    if missing == ["value"]:
        detail = detail.replace(" — add", ", nor both 'numerator' and 'denominator' — add")
    checks.add("missing_column", missing[0], np.ones(checks.n, dtype=bool), detail)
    empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
    return checks.result(empty)


# ----------------------------------------------------------------------------- units
def validate_units(raw: pd.DataFrame, *, source: str, numeric_columns: Iterable[str] = ()) -> ValidationResult:
    """Validate the units table (stations and officers).

    Parameters
    ----------
    raw
        As returned by :func:`perfmodel.io.read_table` (or any frame with unit columns).
    source
        The file, named in messages.
    numeric_columns
        Further context columns that must be numbers when present (e.g. a
        framework's denominators), besides :data:`UNIT_NUMERIC_COLUMNS`.

    Returns
    -------
    ValidationResult
        ``data`` columns: unit_id, name, level ('station' | 'officer'), parent_id,
        the numeric context columns as floats, the other columns as read, and
        source_row. ``rejected_units`` (also ``data.attrs["rejected_units"]``)
        maps each rejected unit_id to the row and reason of its rejection.
    """
    frame, origin = _prepare(raw, UNIT_ALIASES, source)
    checks = _Checks(frame, origin, source)
    missing = [name for name in ("unit_id", "level") if name not in frame.columns]
    if missing:
        return _finish_units(checks, _reject_all(checks, missing, UNIT_ALIASES, "units", UNIT_COLUMNS))

    blank_row = _blank_rows(frame)
    checks.add("blank_row", "unit_id", blank_row, "the row is empty — delete it")
    unit = _text_column(frame, "unit_id")
    blank_unit = _bool(unit.isna()) & ~blank_row
    checks.add("missing_key", "unit_id", blank_unit, "the unit_id is blank — fill in the unit's id")
    _check_duplicate_units(checks, unit)
    level = _check_level(checks, _text_column(frame, "level"), blank_row)
    numeric = _check_context_numbers(checks, frame, numeric_columns)
    parent = _text_column(frame, "parent_id")
    _check_parents(checks, unit, level, parent)

    data = pd.DataFrame(
        {
            "unit_id": _plain(unit),
            "name": _plain(_text_column(frame, "name")),
            "level": _plain(level),
            "parent_id": _plain(parent),
            **numeric,
        }
    )
    for name in frame.columns:
        if name not in data.columns:
            data[name] = _blank_as_missing(frame[name])
    for name, values in origin.columns().items():
        data[name] = values
    result = _finish_units(checks, checks.result(data))
    return _with_notes(result, raw, [])


def _finish_units(checks: _Checks, result: ValidationResult) -> ValidationResult:
    if "unit_id" in checks.frame.columns:
        rejected = checks.rejected(_as_text(checks.frame["unit_id"]))
        also_accepted = among(pd.Index(list(rejected), dtype=object), result.data["unit_id"].dropna())
        result.rejected_units = {
            u: why for (u, why), dropped in zip(rejected.items(), also_accepted, strict=True) if not dropped
        }
    result.data.attrs["rejected_units"] = result.rejected_units
    return result


def _check_duplicate_units(checks: _Checks, unit: pd.Series) -> None:
    duplicate = _bool(unit.duplicated(keep=False)) & _bool(unit.notna())
    if not duplicate.any():
        return
    positions = np.flatnonzero(duplicate)
    if checks.origin.sheets is None:  # "rows 2, 4"
        places, lead = checks.rows[positions].astype(str), "rows "
    else:  # "sheet 'A' row 2, sheet 'B' row 4"
        places, lead = checks.origin.places(positions), ""
    rows_of = pd.Series(places).groupby(unit.iloc[positions].to_numpy(dtype=object)).agg(", ".join)

    def detail(at: np.ndarray) -> np.ndarray:
        ids = unit.iloc[at].to_numpy(dtype=object)
        listing = pd.Series(ids).map(rows_of).to_numpy(dtype=object)
        return (
            "unit_id '"
            + pd.Series(ids).map(_short).to_numpy(dtype=object)
            + f"' appears in {lead}"
            + listing
            + " — keep one row per unit and delete or renumber the others"
        )

    checks.add("duplicate_unit", "unit_id", duplicate, detail)


def _level_of(text: str) -> str | None:
    return LEVELS.get(re.sub(r"\s+", "", text).casefold())


def _check_level(checks: _Checks, text: pd.Series, blank_row: np.ndarray) -> np.ndarray:
    """The canonical level of each row (None when not recognised)."""
    level = _per_unique(text, _level_of)
    bad = _per_unique(text, lambda v: _level_of(v) is None, dtype=bool, missing=True) & ~blank_row

    def detail(at: np.ndarray) -> np.ndarray:
        cells = _cells(text, at)
        head = np.where(cells == "", "the level is blank", "'" + cells + "' is not a level").astype(object)
        return head + " — write 'station' (派出所) or 'officer' (民警)"

    checks.add("bad_level", "level", bad, detail)
    return level


def _check_context_numbers(checks: _Checks, frame: pd.DataFrame, extra: Iterable[str]) -> dict[str, np.ndarray]:
    """Numeric context columns present in ``frame``, parsed; non-numbers and negatives flagged."""
    numeric: dict[str, np.ndarray] = {}
    for name in dict.fromkeys((*UNIT_NUMERIC_COLUMNS, *extra)):
        if name not in frame.columns:
            continue
        text = _as_text(frame[name])
        values, _, bad, infinite = _numbers(text)
        checks.add("non_numeric", name, bad, _not_a_number(text, example="50000"))
        _check_extremes(checks, name, text, values, infinite)
        numeric[name] = values
    for name, values in numeric.items():
        text = _as_text(frame[name])
        checks.add(
            "negative_count",
            name,
            values < 0,
            _named_cells(name, text, " is negative — check the figure"),
        )
    return numeric


def _check_parents(checks: _Checks, unit: pd.Series, level: np.ndarray, parent: pd.Series) -> None:
    officer = level == "officer"
    stations = unit[(level == "station") & ~checks.flagged()].dropna()
    orphan = officer & ~(_bool(parent.notna()) & among(parent, stations))
    if not orphan.any():
        return
    rejected = checks.rejected(unit)
    listed = set(unit.dropna())
    has_column = "parent_id" in checks.frame.columns
    accepted_headers = ", ".join(aliases_of("parent_id", UNIT_ALIASES))

    def explain(p: str | None) -> str:
        if not has_column:
            return (
                f"the units file has no parent_id column (accepted headers: {accepted_headers}) — "
                "add the column with each officer's station"
            )
        if p is None:
            return "the officer's parent_id is blank — fill in the unit_id of the officer's station"
        if p in rejected:
            row, reason = rejected[p]
            return f"parent station '{_short(p)}' was itself rejected (row {row}: {reason}) — fix that row first"
        if p in listed:
            return f"parent '{_short(p)}' is not a station — give the unit_id of the officer's station"
        return f"parent '{_short(p)}' is not a station in this file — add the station or correct the parent_id"

    def detail(at: np.ndarray) -> np.ndarray:
        values = parent.iloc[at].to_numpy(dtype=object, na_value=None)
        explained = {p: explain(p) for p in set(values)}
        return np.array([explained[p] for p in values], dtype=object)

    checks.add("unknown_parent", "parent_id", orphan, detail)


# ----------------------------------------------------------------------------- observations
def validate_observations(
    raw: pd.DataFrame,
    units: pd.DataFrame | ValidationResult,
    framework: Framework,
    *,
    source: str,
) -> ValidationResult:
    """Validate observations against the accepted units and the framework.

    Parameters
    ----------
    raw
        As returned by :func:`perfmodel.io.read_table` (or any frame with the columns).
    units
        The accepted units (``validate_units(...).data``) or the units
        :class:`ValidationResult`; messages then say why a unit was rejected.
    framework
        Gives the indicator ids and kinds, declared ranges, the level and the
        reporting deadline.
    source
        The file, named in messages.

    Returns
    -------
    ValidationResult
        ``data`` columns: period ('YYYY-MM'), unit_id, indicator, value (float; for
        a row given only as numerator/denominator, their ratio), numerator and
        denominator (float, NaN when absent), rater_id, submitted_at (NaT when
        absent), deadline, late, days_late (0 when on time or unknown),
        source_row, then other columns as read.
    """
    frame, origin = _prepare(raw, OBSERVATION_ALIASES, source)
    lookup = indicator_lookup(framework)
    notes: list[str] = []
    frame, origin = _long_from_wide(frame, origin, lookup, framework, source, raw.attrs.get("letters", {}), notes)
    checks = _Checks(frame, origin, source)
    missing = [name for name in ("period", "unit_id", "indicator") if name not in frame.columns]
    if "value" not in frame.columns and not {"numerator", "denominator"} <= set(frame.columns):
        missing.append("value")
    if missing:
        result = _reject_all(checks, missing, OBSERVATION_ALIASES, "observations", OBSERVATION_COLUMNS)
        return _with_notes(result, raw, notes)

    text = {name: _text_column(frame, name) for name in OBSERVATION_INPUTS}
    text["indicator"] = _resolve_indicators(text["indicator"], lookup, framework, notes)
    blank_row = _blank_rows(frame)
    checks.add("blank_row", "period", blank_row, "the row is empty — delete it")
    for name, hint in _KEY_HINTS.items():
        checks.add("missing_key", name, _bool(text[name].isna()) & ~blank_row, hint)
    period = _check_period(checks, text["period"])
    _check_indicator(checks, text["indicator"], framework, lookup)
    _check_unit(checks, text["unit_id"], units, framework)
    value, numerator, denominator, given = _check_numbers(checks, text, framework, blank_row)
    submitted = _check_timestamp(checks, frame, text["submitted_at"])
    key_ok = ~blank_row & _bool(text["unit_id"].notna() & text["indicator"].notna() & period.notna())
    _check_duplicates(checks, frame, text, period, (given, numerator, denominator), submitted, key_ok)

    deadline, late, days_late = lateness(period, submitted, framework)
    data = pd.DataFrame(
        {
            "period": _plain(period),
            "unit_id": _plain(text["unit_id"]),
            "indicator": _plain(text["indicator"]),
            "value": value,
            "numerator": numerator,
            "denominator": denominator,
            "rater_id": _plain(text["rater_id"]),
            "submitted_at": submitted,
            "deadline": deadline,
            "late": late,
            "days_late": days_late,
            "source_row": origin.rows,
        }
    )
    for name in frame.columns:
        if name not in data.columns:
            data[name] = _blank_as_missing(frame[name])
    for name, values in origin.columns().items():
        data[name] = values
    return _with_notes(checks.result(data), raw, notes)


def lateness(period: pd.Series, submitted: pd.Series, framework: Framework) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Each row's reporting deadline, whether it was submitted late, and how many days late.

    Parameters
    ----------
    period
        Months as 'YYYY-MM' (missing where unknown).
    submitted
        Submission times (``datetime64[ns]``, NaT where unknown), aligned on position.
    framework
        Gives the deadline day and month offset (``framework.reporting``).

    Returns
    -------
    (deadline, late, days_late)
        ``datetime64[ns]`` deadlines, booleans, and days late as floats (0 when on
        time or unknown).
    """
    deadline = pd.to_datetime(
        pd.Series(
            _per_unique(
                period,
                lambda month: reporting_deadline(
                    month,
                    framework.reporting.deadline_day,
                    framework.reporting.deadline_month_offset,
                ),
            )
        )
    ).astype("datetime64[ns]")
    submitted = submitted.reset_index(drop=True)
    late = _bool(submitted > deadline)
    days = ((submitted - deadline) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)
    return deadline, late, np.where(late, days, 0.0)


_KEY_HINTS = {
    "period": "the period is blank — fill in the month, e.g. 2025-04",
    "unit_id": "the unit_id is blank — fill in the unit's id",
    "indicator": "the indicator is blank — fill in the indicator id",
}


def _parse_period(value: str) -> tuple[str | None, str]:
    try:
        return str(parse_month(value)), ""
    except PeriodError as exc:
        message = str(exc).replace("; write it as", " — write it as")
        if "YYYY-MM" not in message:
            message += " — write the month as YYYY-MM, e.g. 2025-04"
        return None, message


def _check_period(checks: _Checks, text: pd.Series) -> pd.Series:
    """Each row's month as 'YYYY-MM' (missing when blank or not a month)."""
    codes, uniques = pd.factorize(text)
    parsed = [_parse_period(u) for u in uniques]
    months = pd.Series([month for month, _ in parsed] + [None], dtype=TEXT_DTYPE)
    period = months.iloc[codes].reset_index(drop=True)
    period.index = text.index
    failed = np.array([month is None for month, _ in parsed] + [False], dtype=bool)
    reasons = np.array([why for _, why in parsed] + [""], dtype=object)
    checks.add("bad_period", "period", failed[codes], lambda at: reasons[codes[at]])
    return period


def indicator_lookup(framework: Framework) -> dict[str, str]:
    """Every accepted spelling of an input indicator (see :func:`perfmodel.io.normalise_header`)
    → its id: :meth:`perfmodel.framework.Framework.indicator_lookup`, which refuses a spelling
    shared by two indicators when the framework loads."""
    return framework.indicator_lookup()


def _resolve_indicators(
    text: pd.Series, lookup: Mapping[str, str], framework: Framework, notes: list[str]
) -> pd.Series:
    """Indicator ids for indicators written by id, name or alias; other texts unchanged."""
    inputs = framework.input_indicators()

    def resolve(value: str) -> str:
        found = lookup.get(normalise_header(value))
        return found if found in inputs else value

    resolved = pd.Series(_per_unique(text, resolve), index=text.index, dtype=TEXT_DTYPE)
    renamed = _bool(resolved.notna() & (resolved != text))
    if renamed.any():
        pairs = pd.unique(pd.Series(list(zip(text[renamed], resolved[renamed], strict=True))))
        shown = ", ".join(f"'{a}' → {b}" for a, b in pairs[:3]) + (", …" if len(pairs) > 3 else "")
        notes.append(f"{int(renamed.sum())} rows name their indicator by name or alias; read as ids ({shown})")
    return resolved


def _indicator_hint(framework: Framework, lookup: Mapping[str, str]) -> Callable[[str], str]:
    ids = list(framework.input_indicators())
    zh = {ind.id: ind.name.zh for ind in framework.indicators()}

    def hint(value: str) -> str:
        head = f"'{_short(value)}' is not an indicator of framework '{framework.id}'"
        named = lookup.get(normalise_header(value))
        if named:
            return (
                f"{head} — it names indicator '{named}', which is computed from other inputs "
                "and is not reported directly; give its inputs instead (see "
                f"'perfmodel frameworks show {framework.id}')"
            )
        close = framework.suggest_indicator(value)
        if close:
            label = f"'{close[0]}'" + (f" ({zh[close[0]]})" if close[0] in zh else "")
            return f"{head} — did you mean {label}?"
        listing = ", ".join(ids[:10]) + (", …" if len(ids) > 10 else "")
        return f"{head} — use one of its indicator ids ({listing}) or their names"

    return hint


def _check_indicator(checks: _Checks, text: pd.Series, framework: Framework, lookup: Mapping[str, str]) -> None:
    unknown = _bool(text.notna()) & ~_bool(text.isin(list(framework.input_indicators())))
    if unknown.any():
        hints = _per_unique(text.where(unknown), _indicator_hint(framework, lookup))
        checks.add("unknown_indicator", "indicator", unknown, lambda at: hints[at])


def _check_unit(checks: _Checks, text: pd.Series, units: pd.DataFrame | ValidationResult, framework: Framework) -> None:
    if isinstance(units, ValidationResult):
        rejected, units = units.rejected_units, units.data
    else:
        rejected = units.attrs.get("rejected_units", {})
    units_file = _file_label(str(units.attrs.get("source", ""))) if units.attrs.get("source") else "the units file"
    ids = _as_text(units["unit_id"]) if "unit_id" in units.columns else pd.Series([], dtype=TEXT_DTYPE)
    levels = units["level"] if "level" in units.columns else pd.Series(None, index=units.index, dtype=object)
    # Each row's unit found by one hash lookup (the last row of an id that repeats), its level as a code:
    # no Python object per unit, which matters at a nation's millions of units.
    listed = _bool(ids.notna()) & ~ids.duplicated(keep="last").to_numpy()
    level_code, level_names = pd.factorize(levels[listed].to_numpy() if len(ids) else levels.iloc[:0].to_numpy())
    at_unit = pd.Index(ids[listed]).get_indexer(text)  # -1: not a unit of the units table
    known = (at_unit >= 0) & _bool(text.notna())
    unit_level = np.where(known, np.append(level_code, -1)[at_unit], -1)  # -1: unknown unit or no level
    level_of_code = np.array([*level_names, None], dtype=object)

    unknown = _bool(text.notna()) & ~known
    if unknown.any():

        def explain(u: str) -> str:
            if u in rejected:
                row, reason = rejected[u]
                return f"unit '{_short(u)}' was rejected from {units_file} (row {row}: {reason}) — fix it there first"
            return f"unit '{_short(u)}' is not in {units_file} — add it there or correct the unit_id"

        hints = _per_unique(text.where(unknown), explain)
        checks.add("unknown_unit", "unit_id", unknown, lambda at: hints[at])

    other_level = np.array([isinstance(name, str) and name != framework.level for name in level_of_code])
    mismatch = other_level[unit_level]

    def detail(at: np.ndarray) -> np.ndarray:
        levels = level_of_code[unit_level[at]]
        article = np.array([f"an {v}" if v[0] in "aeiou" else f"a {v}" for v in levels], dtype=object)
        return (
            "unit "
            + _quoted(text, at)
            + " is "
            + article
            + f" but framework '{framework.id}' scores {framework.level}s — "
            "remove these rows or use a framework for that level"
        )

    checks.add("level_mismatch", "unit_id", mismatch, detail)


def _check_numbers(
    checks: _Checks, text: dict[str, pd.Series], framework: Framework, blank_row: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse and check value, numerator and denominator.

    Returns (value, numerator, denominator, value as given); value is the given
    value, or numerator / denominator when only those are given.
    """
    parsed = {}
    for name in ("value", "numerator", "denominator"):
        values, blank, bad, infinite = _numbers(text[name])
        checks.add("non_numeric", name, bad, _not_a_number(text[name]))
        _check_extremes(checks, name, text[name], values, infinite)
        with np.errstate(invalid="ignore"):
            values = np.where(np.abs(values) > MAX_MAGNITUDE, np.nan, values)
        parsed[name] = (values, blank)
    (given, value_blank), (num, _), (den, _) = (
        parsed["value"],
        parsed["numerator"],
        parsed["denominator"],
    )
    has_ratio = np.isfinite(num) & np.isfinite(den)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(has_ratio & (den != 0), num / den, np.nan)
    value = np.where(np.isfinite(given), given, ratio)
    kinds = framework.input_indicators()
    is_rate = _bool(text["indicator"].isin([i for i, k in kinds.items() if k == "rate"]))
    is_count = _bool(text["indicator"].isin([i for i, k in kinds.items() if k == "count"]))

    def shown(at: np.ndarray) -> np.ndarray:
        """The value as written, or the computed ratio."""
        cells = _cells(text["value"], at)
        return np.where(np.isfinite(given[at]), cells, _g(value[at])).astype(object)

    missing = value_blank & ~has_ratio & ~blank_row & ~checks.flagged("non_numeric", ("numerator", "denominator"))

    def missing_detail(at: np.ndarray) -> np.ndarray:
        cells = _cells(text["value"], at)
        head = np.where(cells == "", "the value is blank", "'" + cells + "' marks the value as missing")
        return head.astype(object) + " — enter the figure, or give both numerator and denominator"

    checks.add("missing_value", "value", missing, missing_detail)
    checks.add(
        "negative_count",
        "value",
        is_count & (value < 0),
        lambda at: "value " + shown(at) + " is negative, but a count cannot be — check the figure",
    )
    for name, values in (("numerator", num), ("denominator", den)):
        checks.add(
            "negative_count",
            name,
            values < 0,
            _named_cells(name, text[name], " is negative — the counts behind a rate cannot be; check the figure"),
        )
    checks.add(
        "zero_denominator",
        "denominator",
        den == 0,
        "the denominator is 0, so the rate is undefined — leave the row out or correct the denominator",
    )
    checks.add(
        "numerator_gt_denominator",
        "numerator",
        is_rate & (num > den) & (den > 0),
        lambda at: (
            "numerator "
            + _cells(text["numerator"], at)
            + " is larger than denominator "
            + _cells(text["denominator"], at)
            + ", so the rate would exceed 100% — check both figures"
        ),
    )
    with np.errstate(invalid="ignore"):
        inconsistent = np.isfinite(given) & np.isfinite(ratio) & (np.abs(given - ratio) > RATE_TOLERANCE)
    checks.add(
        "inconsistent_rate",
        "value",
        inconsistent,
        lambda at: (
            "value "
            + _cells(text["value"], at)
            + " differs from numerator/denominator = "
            + _cells(text["numerator"], at)
            + "/"
            + _cells(text["denominator"], at)
            + " = "
            + _g(ratio[at])
            + " — correct the figures, or leave value blank to use numerator/denominator"
        ),
    )
    ranges = {ind.id: ind.range for ind in framework.indicators() if ind.range is not None}
    no_range = (np.nan, np.nan)
    low = _per_unique(text["indicator"], lambda i: ranges.get(i, no_range)[0], dtype=float, missing=np.nan)
    high = _per_unique(text["indicator"], lambda i: ranges.get(i, no_range)[1], dtype=float, missing=np.nan)
    # A rate lies in [0, 1] unless the framework declares another range (a
    # reduction rate, for instance, may be negative: [-1, 1]).
    rate_low = np.where(np.isnan(low), 0.0, low)
    rate_high = np.where(np.isnan(high), 1.0, high)
    outside = is_rate & ((value < rate_low) | (value > rate_high))
    percent = outside & (value > 1) & (value <= 100) & (rate_high <= 1)
    checks.add(
        "rate_out_of_range",
        "value",
        outside,
        lambda at: (
            "value "
            + shown(at)
            + np.where(
                percent[at],
                " is a rate above 1 and looks like a percentage — divide it by 100 (93 → 0.93)",
                " is a rate outside " + _g(rate_low[at]) + "–" + _g(rate_high[at]) + " — check the figure",
            ).astype(object)
        ),
    )
    checks.add(
        "out_of_range",
        "value",
        ~outside & ((value < low) | (value > high)),
        lambda at: (
            "value "
            + shown(at)
            + " is outside the range "
            + _g(low[at])
            + "–"
            + _g(high[at])
            + " declared for indicator "
            + _quoted(text["indicator"], at)
            + " — check the figure and its unit"
        ),
    )
    return value, num, den, given


_ZH_DATE = re.compile(r"^(\d{4})\s*[年/.]\s*(\d{1,2})\s*[月/.]\s*(\d{1,2})\s*日?")
_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")


def _naive_local(stamps: pd.Series) -> pd.Series:
    """Timezone-aware timestamps in China Standard Time, without the zone; naive ones unchanged."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return stamps.dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)
    return stamps


def _one_timestamp(text: str) -> pd.Timestamp:
    """One timestamp in another common form: 2025/05/27 10:00, 2025年5月27日 10:00, with offsets."""
    text = _ZH_DATE.sub(r"\1-\2-\3", text)
    if not _ISO_DATE.match(text):
        return pd.NaT
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, OverflowError):
        return pd.NaT
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
    return stamp if TIMESTAMP_WINDOW[0] <= stamp < TIMESTAMP_WINDOW[1] else pd.NaT


TIMESTAMP_WINDOW = (pd.Timestamp("1900-01-01"), pd.Timestamp("2200-01-01"))
"""Accepted submission times; others (year 0 from '/1', year 9999) are ``bad_timestamp``."""


def _in_window(stamps: pd.Series) -> pd.Series:
    """Naive timestamps as ``datetime64[ns]``; those outside :data:`TIMESTAMP_WINDOW` missing."""
    inside = _bool((stamps >= TIMESTAMP_WINDOW[0]) & (stamps < TIMESTAMP_WINDOW[1]))
    return stamps.where(inside).astype("datetime64[ns]")


def _parse_timestamps(column: pd.Series | None, text: pd.Series) -> pd.Series:
    """Timestamps (naive, local time) from a datetime column or from text.

    ISO 8601 text is parsed at once; other forms (see :func:`_one_timestamp`)
    once per distinct value.
    """
    if column is not None and pd.api.types.is_datetime64_any_dtype(column):
        return _in_window(_naive_local(column)).reset_index(drop=True)
    try:
        parsed = _naive_local(pd.to_datetime(text, format="ISO8601", errors="coerce"))
    except (ValueError, TypeError):  # offsets mixed with local times: parse one by one below
        parsed = pd.Series(pd.NaT, index=text.index)
    parsed = _in_window(parsed)
    retry = _bool(parsed.isna()) & _bool(text.notna())
    if retry.any():
        again = _per_unique(text.where(retry), _one_timestamp)
        parsed[retry] = pd.to_datetime(pd.Series(again[retry], dtype=object))
    return parsed


def _check_timestamp(checks: _Checks, frame: pd.DataFrame, text: pd.Series) -> pd.Series:
    submitted = _parse_timestamps(frame.get("submitted_at"), text)
    bad = _bool(text.notna()) & _bool(submitted.isna())
    checks.add(
        "bad_timestamp",
        "submitted_at",
        bad,
        lambda at: (
            _quoted(text, at) + " is not a date and time — write it as YYYY-MM-DD HH:MM:SS, e.g. 2025-05-27 17:30:00"
        ),
    )
    return submitted


def _check_duplicates(
    checks: _Checks,
    frame: pd.DataFrame,
    text: dict[str, pd.Series],
    period: pd.Series,
    numbers: tuple[np.ndarray, np.ndarray, np.ndarray],
    submitted: pd.Series,
    key_ok: np.ndarray,
) -> None:
    """Exact copies (later copies rejected) and conflicting rows for one key (all rejected).

    Only rows that share their period × unit × indicator × rater with another row
    are compared in full. Numbers are compared as numbers (0.9 and 0.90 are the
    same figure) and timestamps as timestamps; text that is not a number or a
    timestamp, and the other columns, as trimmed text.
    """
    key = pd.DataFrame(
        {
            "period": period,
            "unit_id": text["unit_id"],
            "indicator": text["indicator"],
            "rater_id": text["rater_id"],
        }
    )
    candidates = np.flatnonzero(key_ok)
    shared = np.zeros(checks.n, dtype=bool)
    shared[candidates] = key.iloc[candidates].duplicated(keep=False).to_numpy()
    if not shared.any():
        return
    at = np.flatnonzero(shared)
    content = key.iloc[at].reset_index(drop=True)
    for name, values in zip(("value", "numerator", "denominator"), numbers, strict=True):
        content[name] = values[at]
        content[f"{name} text"] = text[name].iloc[at].where(~np.isfinite(values[at])).to_numpy()
    stamps = submitted.iloc[at]
    content["submitted_at"] = stamps.to_numpy()
    content["submitted_at text"] = text["submitted_at"].iloc[at].where(stamps.isna()).to_numpy()
    for name in frame.columns:
        if name not in OBSERVATION_INPUTS:
            content[f"extra {name}"] = _as_text(frame[name].iloc[at]).to_numpy()

    copy = np.zeros(checks.n, dtype=bool)
    copy[at] = content.duplicated(keep="first").to_numpy()
    if copy.any():
        group = content.groupby(list(content.columns), dropna=False, sort=False).ngroup().to_numpy()
        first = np.zeros(checks.n, dtype=np.int64)
        first[at] = pd.Series(at).groupby(group).transform("min").to_numpy()
        checks.add(
            "duplicate_row",
            "value",
            copy,
            lambda rows: "the row is an exact copy of " + checks.origin.places(first[rows]) + " — delete this copy",
        )

    distinct = np.flatnonzero(shared & ~copy)
    clash = np.zeros(checks.n, dtype=bool)
    clash[distinct] = key.iloc[distinct].duplicated(keep=False).to_numpy()
    if clash.any():
        checks.add("duplicate_key", "value", clash, _clash_detail(checks, key, text, clash))


def _clash_detail(checks: _Checks, key: pd.DataFrame, text: dict[str, pd.Series], clash: np.ndarray) -> Detail:
    at_clash = np.flatnonzero(clash)
    sub = key.iloc[at_clash]
    group = sub.groupby(list(key.columns), dropna=False, sort=False).ngroup().to_numpy()
    figures = np.where(
        _bool(text["value"].iloc[at_clash].notna()),
        _cells(text["value"], at_clash),
        _cells(text["numerator"], at_clash) + "/" + _cells(text["denominator"], at_clash),
    )
    figures = np.where(figures == "/", "blank", figures)
    if checks.origin.sheets is None:  # "rows 2, 4, 5"
        places, lead = checks.rows[at_clash].astype(str), "rows "
    else:  # "sheet '4月' row 2, sheet '5月' row 3"
        places, lead = checks.origin.places(at_clash), ""
    listing = (
        pd.DataFrame({"group": group, "row": places, "figure": figures})
        .groupby("group", sort=False)
        .agg(rows=("row", ", ".join), figures=("figure", ", ".join))
    )
    rows_text = listing["rows"].to_numpy(dtype=object)[group]
    figures_text = listing["figures"].to_numpy(dtype=object)[group]
    label = (
        sub["period"].astype(str)
        + " × "
        + sub["unit_id"].astype(str).map(_short)
        + " × "
        + sub["indicator"].astype(str).map(_short)
    )
    rater = sub["rater_id"]
    label = label.where(rater.isna(), label + " × rater " + rater.astype(str)).to_numpy(dtype=object)
    slot = np.full(checks.n, -1, dtype=np.int64)
    slot[at_clash] = np.arange(len(at_clash))

    def detail(at: np.ndarray) -> np.ndarray:
        s = slot[at]
        return (
            label[s]
            + f" is given in {lead}"
            + rows_text[s]
            + " with different figures ("
            + figures_text[s]
            + ") — keep the correct row and delete the others"
        )

    return detail


# ----------------------------------------------------------------------------- file-level notes
def _with_notes(result: ValidationResult, raw: pd.DataFrame, notes: list[str]) -> ValidationResult:
    """``result`` with the workbook's sheets and the file-level notes.

    A workbook of several sheets (or with a sheet not read) gets one line per
    sheet first: rows read and quarantined, or why it was not read.
    """
    result.sheets = list(raw.attrs.get("sheets", []))
    lines = []
    if len(result.sheets) > 1 or not all(sheet["read"] for sheet in result.sheets):
        held = result.quarantine["sheet"].value_counts().to_dict() if "sheet" in result.quarantine.columns else {}
        for sheet in result.sheets:
            name = sheet["sheet"]
            if not sheet["read"]:
                lines.append(f"sheet '{name}': not read ({sheet['why']})")
            else:
                tail = f", {held[name]} quarantined" if held.get(name) else ""
                lines.append(f"sheet '{name}': {sheet['rows']} rows read{tail}")
    result.notes = lines + notes
    return result


# ----------------------------------------------------------------------------- wide exports
def _long_from_wide(
    frame: pd.DataFrame,
    origin: _Origin,
    lookup: Mapping[str, str],
    framework: Framework,
    source: str,
    letters: Mapping[str, str],
    notes: list[str],
) -> tuple[pd.DataFrame, _Origin]:
    """A wide export (one column per indicator) as long observations; other tables unchanged.

    A table is wide when it has no ``indicator`` column and some headers name
    input indicators of the framework (by id, name or alias). It is reshaped when
    that is unambiguous: no ``value``, ``numerator`` or ``denominator`` column,
    and no two headers naming the same indicator. Each cell under an indicator
    header becomes one row (its origin keeps the row and the cell, e.g. ``D5``);
    the other columns (period, unit_id, remarks …) are repeated on each. A row
    blank in every cell stays one blank row.

    Raises
    ------
    InputError
        The table looks wide but cannot be reshaped without guessing; the message
        gives the exact way to reshape it.
    """
    inputs = framework.input_indicators()
    if "indicator" in frame.columns:
        return frame, origin
    wide = {
        column: lookup.get(normalise_header(column)) for column in frame.columns if column not in OBSERVATION_INPUTS
    }
    wide = {column: ind for column, ind in wide.items() if ind in inputs}
    if not wide:
        return frame, origin
    keep = [column for column in frame.columns if column not in wide]
    label = _file_label(source)
    recipe = (
        "reshape it to one row per unit × month × indicator (columns period, unit_id, "
        "indicator, value), e.g. in Python: pandas.read_excel(FILE).melt(id_vars="
        f"{keep!r}, value_vars={list(wide)!r}, var_name='indicator', value_name='value')"
    )
    clash = {
        ind: [c for c, i in wide.items() if i == ind]
        for ind in set(wide.values())
        if list(wide.values()).count(ind) > 1
    }
    if clash:
        ind, columns = next(iter(sorted(clash.items())))
        raise InputError(
            f"{label}: looks like a wide export (one column per indicator), but columns "
            f"{' and '.join(repr(c) for c in columns)} both name indicator '{ind}'; keep one "
            f"of them and read the file again, or {recipe}"
        )
    given = [c for c in ("value", "numerator", "denominator") if c in frame.columns]
    if given:
        raise InputError(
            f"{label}: has no 'indicator' column but has both a '{given[0]}' column and "
            f"columns named after indicators ({', '.join(repr(c) for c in wide)}), so it is "
            f"neither long nor wide; add an 'indicator' column, or {recipe}"
        )
    blank = _blank_rows(frame)
    n_rows, n_wide = len(frame), len(wide)
    per_row = np.where(blank, 1, n_wide)
    source_pos = np.repeat(np.arange(n_rows), per_row)
    slot = np.concatenate([np.arange(k) for k in per_row]) if n_rows else np.zeros(0, int)
    columns = list(wide)
    long = frame[keep].iloc[source_pos].reset_index(drop=True)
    picked = frame[columns].to_numpy(dtype=object)[source_pos, slot] if n_rows else []
    long.insert(
        min(2, len(keep)),
        "indicator",
        pd.Series(np.array(columns, dtype=object)[slot], dtype=object),
    )
    long.insert(min(3, len(keep) + 1), "value", pd.Series(picked, dtype=object))
    is_blank = blank[source_pos]
    long.loc[is_blank, "indicator"] = None
    rows = origin.rows[source_pos]
    cells = np.array(
        [
            "" if b else f"{letters.get(columns[k], '?')}{row} '{_short(columns[k])}'"
            for k, row, b in zip(slot, rows, is_blank, strict=True)
        ],
        dtype=object,
    )
    out_origin = origin.take(source_pos)
    out_origin.cells = cells
    notes.append(
        f"wide export: {n_rows} rows × {n_wide} indicator columns "
        f"({', '.join(columns[:5])}{', …' if n_wide > 5 else ''}) read as {len(long)} "
        "observation rows, one per cell"
    )
    return long, out_origin


# ----------------------------------------------------------------------------- reading both
_DATA_SUFFIXES = (*SUPPORTED_EXTENSIONS, ".xls", ".gz", ".txt")
_FRAMEWORK_SUFFIXES = (".yaml", ".yml")


def resolve_input_order(
    framework: Framework | str | Path,
    observations: object,
    units: object,
    *,
    caller: str,
) -> Framework:
    """Load ``framework`` after checking the arguments come in the house order.

    The house order is ``(framework, observations, units, period, …)``. Before issue 12,
    ``read_inputs``, ``read_evaluation_inputs`` and ``evaluate_files`` took
    ``(observations, units, framework)``; a call in that order hands a data file to the
    framework loader, or a framework to the file reader. Both are refused here with a
    message that gives the order.

    Parameters
    ----------
    framework
        A :class:`~perfmodel.framework.Framework`, a shipped framework id or a YAML path.
    observations, units
        The caller's data arguments (paths or frames); only their kind is checked.
    caller
        The public function's name, quoted in the message.

    Returns
    -------
    Framework

    Raises
    ------
    OptionError
        When ``framework`` is a table or a data file, or ``observations``/``units`` is a
        framework or a YAML file.
    """
    order = f"{caller}(framework, observations, units, …)"
    hint = "pass the framework first: a Framework, a shipped framework id or a YAML path"
    check_input_order(framework, observations, units, caller=caller)
    if not isinstance(framework, (Framework, str, Path)):
        raise OptionError(
            f"{caller}: framework must be a Framework, a shipped id or a YAML path, not "
            f"{type(framework).__name__}; the order is {order}",
            hint,
        )
    return framework if isinstance(framework, Framework) else load_framework(framework)


def check_input_order(framework: object, observations: object, units: object, *, caller: str) -> None:
    """Refuse a data file or table as ``framework``, and a framework or YAML file as data.

    The check of :func:`resolve_input_order` without loading anything; for callers
    whose framework argument is several ids (``monitor.development.officer_evaluations``).

    Raises
    ------
    OptionError
        Naming the argument, what it holds and the house order.
    """
    order = f"{caller}(framework, observations, units, …)"
    hint = "pass the framework first: a Framework, a shipped framework id or a YAML path"

    def is_data(value: object) -> bool:
        return isinstance(value, pd.DataFrame) or (
            isinstance(value, (str, Path)) and str(value).lower().endswith(_DATA_SUFFIXES)
        )

    def is_framework(value: object) -> bool:
        return isinstance(value, Framework) or (
            isinstance(value, (str, Path)) and str(value).lower().endswith(_FRAMEWORK_SUFFIXES)
        )

    if is_data(framework):
        shown = "a table" if isinstance(framework, pd.DataFrame) else repr(str(framework))
        raise OptionError(f"{caller}: the framework argument is {shown}, a data file; the order is {order}", hint)
    for name, value in (("observations", observations), ("units", units)):
        if is_framework(value):
            shown = "a Framework" if isinstance(value, Framework) else repr(str(value))
            raise OptionError(f"{caller}: the {name} argument is {shown}, a framework; the order is {order}", hint)


def read_inputs(
    framework: Framework | str | Path,
    observations: str | Path | pd.DataFrame,
    units: str | Path | pd.DataFrame,
    *,
    sheet: int | str | None = None,
) -> tuple[ValidationResult, ValidationResult]:
    """Read and validate an observations file and a units file.

    Units are validated first (the framework's denominator columns must be
    numbers), then observations against the accepted units.

    Parameters
    ----------
    framework
        A :class:`~perfmodel.framework.Framework`, a shipped framework id or a YAML path.
    observations, units
        File paths (CSV, .csv.gz, TSV, .xlsx, .xls, Parquet) or frames already read.
    sheet
        An observations workbook: read only this sheet (name or position); by
        default every sheet with an observation header.

    Returns
    -------
    (observations_result, units_result)

    Raises
    ------
    OptionError
        When the arguments come in the old order ``(observations, units, framework)``
        (see :func:`resolve_input_order`).
    """
    framework = resolve_input_order(framework, observations, units, caller="read_inputs")
    progress.step("reading_units", path=units)
    units_raw, units_source = _load(units, UNIT_ALIASES, "units")
    progress.step("reading_observations", path=observations)
    observations_raw, observations_source = _load(observations, OBSERVATION_ALIASES, "observations", sheet)
    denominators = [ind.denominator for ind in framework.indicators() if ind.denominator]
    progress.step("validating_units")
    units_result = validate_units(units_raw, source=units_source, numeric_columns=denominators)
    progress.step("validating_observations")
    observations_result = validate_observations(observations_raw, units_result, framework, source=observations_source)
    return observations_result, units_result


def _load(
    table: str | Path | pd.DataFrame,
    aliases: Mapping[str, str],
    kind: str,
    sheet: int | str | None = None,
) -> tuple[pd.DataFrame, str]:
    if isinstance(table, pd.DataFrame):
        return table, str(table.attrs.get("source", f"<{kind}>"))
    frame = read_table(table, aliases=aliases, sheet=sheet)
    return frame, frame.attrs["source"]
