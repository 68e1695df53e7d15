"""Privacy by choice: small-cell suppression, keyed pseudonyms, officer names on request.

Three mechanisms, each documented in ``docs/privacy.md``:

Suppression of small groups (:func:`suppression_plan`, :func:`blank_suppressed`)
    Every audit table that compares groups hides the groups with fewer than
    ``min_n`` units: their rows keep the group label, the role ``suppressed``
    and a reason code in column ``suppressed`` (:data:`SMALL_GROUP` or
    :data:`COMPLEMENTARY`), and *nothing else*: no count, rate, estimate or
    value derived from them. Because the total number of units (and of each
    grade) is published elsewhere (scores, run summary), one small group could
    be recovered as "total minus the groups shown"; the *complementary rule*
    therefore suppresses further groups, smallest first, until the suppressed
    groups of a table together hold none or at least ``min_n`` units.

Pseudonymisation (:func:`pseudonymise_inputs`, :func:`pseudonymised_files`)
    ``--pseudonymise KEYFILE`` replaces unit ids, names, parent ids, rater ids
    and every other column that refers to a unit by keyed hashes
    (HMAC-SHA-256 with the key file's bytes) *before* validation, so every
    output — scores, quarantine messages, audit tables, reports and figures —
    only ever sees pseudonyms. Tokens are short (``U-`` + 13 base32
    characters, 65 bits), stable for one key and join-consistent.

Officer names (:func:`officer_names_shown`)
    Tables about officers show ids only unless the caller passes
    ``show_names=True``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import hmac
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.errors import PerfmodelError

__all__ = [
    "SMALL_GROUP",
    "COMPLEMENTARY",
    "MIN_KEY_BYTES",
    "TOKEN_CHARS",
    "ID_COLUMNS",
    "PseudonymisationError",
    "suppression_plan",
    "blank_suppressed",
    "read_key",
    "key_fingerprint",
    "pseudonymisation_record",
    "Pseudonymiser",
    "pseudonymise_inputs",
    "pseudonymised_files",
    "with_pseudonymised_inputs",
    "add_pseudonymise_option",
    "officer_names_shown",
]

# ============================================================================ suppression
SMALL_GROUP = "small_group"
"""Reason code: the group has fewer than ``min_n`` units (primary suppression)."""
COMPLEMENTARY = "complementary"
"""Reason code: suppressed so that a small group cannot be derived from the totals."""


def suppression_plan(counts: pd.Series | Mapping[str, int], min_n: int, keep: Iterable[str] = ()) -> dict[str, str]:
    """Which groups of one table to suppress, and why.

    Rule (primary): a group with fewer than ``min_n`` units is suppressed
    (:data:`SMALL_GROUP`). Rule (complementary): while the suppressed groups
    together hold more than zero but fewer than ``min_n`` units, the smallest
    group still shown (ties: the label that sorts last), other than the groups
    in ``keep``, is suppressed as well (:data:`COMPLEMENTARY`). Then "all units
    minus the groups shown" is either nothing or an aggregate of at least
    ``min_n`` units, so no small group can be derived from a published total.
    If only ``keep`` groups remain to be suppressed, they are suppressed too:
    the table then shows no group at all rather than a derivable one.

    Parameters
    ----------
    counts
        Units per group (label → count); groups with count 0 are included.
    min_n
        The smallest group size that may be published.
    keep
        Groups to suppress only as a last resort (the reference group).

    Returns
    -------
    dict of str to str
        Suppressed group → reason code; groups not in it are shown.

    Examples
    --------
    >>> suppression_plan({"a": 10, "b": 6, "c": 2}, 5)
    {'c': 'small_group', 'b': 'complementary'}
    >>> suppression_plan({"a": 10, "b": 6, "c": 2, "d": 3}, 5)
    {'c': 'small_group', 'd': 'small_group'}
    """
    sizes = {str(g): int(n) for g, n in dict(counts).items()}
    plan = {g: SMALL_GROUP for g, n in sizes.items() if n < min_n}
    protected = {str(g) for g in keep}
    while 0 < sum(sizes[g] for g in plan) < min_n:
        shown = [g for g in sizes if g not in plan]
        candidates = [g for g in shown if g not in protected] or shown
        if not candidates:
            break
        plan[min(candidates, key=lambda g: (sizes[g], _Desc(g)))] = COMPLEMENTARY
    return plan


class _Desc:
    """Sort key reversing string order (so ties go to the label that sorts last)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __lt__(self, other: _Desc) -> bool:
        return self.text > other.text


def blank_suppressed(
    table: pd.DataFrame,
    plan: Mapping[str, str],
    *,
    group_column: str = "group",
    keep: Iterable[str] = (),
) -> pd.DataFrame:
    """Rows of suppressed groups with nothing but their labels; adds column ``suppressed``.

    In every row whose ``group_column`` is in ``plan``: ``role`` becomes
    ``suppressed``, ``suppressed`` holds the reason code, every numeric column
    becomes missing (``NaN``; boolean flags ``False``) and every text column not
    in ``keep`` (and not a label) becomes missing. Other rows get ``suppressed``
    missing.

    Parameters
    ----------
    table
        An audit table with one row per group (or per group × something).
    plan
        From :func:`suppression_plan`.
    group_column
        Column holding the group label.
    keep
        Text columns to leave (labels such as ``attribute``, ``cut``, ``verdict``).

    Returns
    -------
    pandas.DataFrame
        A copy; ``attrs`` kept.
    """
    out = table.copy()
    hidden = out[group_column].astype(str).isin(set(plan)).to_numpy()
    out["suppressed"] = pd.Series(
        [plan.get(str(g)) if h else None for g, h in zip(out[group_column], hidden, strict=True)],
        index=out.index,
        dtype=object,
    )
    if not hidden.any():
        return out
    labels = {group_column, "role", "suppressed", *keep}
    for column in out.columns:
        if column in labels:
            continue
        values = out[column]
        if pd.api.types.is_bool_dtype(values):
            out.loc[hidden, column] = False
        elif pd.api.types.is_numeric_dtype(values):
            if pd.api.types.is_integer_dtype(values):
                out[column] = values.astype(
                    "Float64" if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) else float
                )
            out.loc[hidden, column] = np.nan
        else:
            out.loc[hidden, column] = None
    if "role" in out.columns:
        out.loc[hidden, "role"] = "suppressed"
    return out


# ============================================================================ pseudonymisation
MIN_KEY_BYTES = 16
"""Shortest key file accepted (128 bits)."""
TOKEN_CHARS = 13
"""Base32 characters of a token: 65 bits. For 2 million distinct ids the chance
that any two collide is about n²/2⁶⁶ = 5.4·10⁻⁸; collisions are detected anyway."""
ID_COLUMNS = ("unit_id", "parent_id", "rater_id")
"""Columns always pseudonymised as unit/person ids (when present), in both tables."""
NAME_COLUMNS = ("name",)
"""Columns always pseudonymised as names."""
_PREFIX = {"id": "U-", "name": "N-"}
_FINGERPRINT_LABEL = b"perfmodel key fingerprint v1"


class PseudonymisationError(PerfmodelError, ValueError):
    """A key file that cannot be used, or two values that map to the same token."""


def read_key(path: str | Path) -> bytes:
    """The bytes of a pseudonymisation key file, checked.

    Raises
    ------
    PseudonymisationError
        The file does not exist, is a folder or holds fewer than
        :data:`MIN_KEY_BYTES` bytes.
    """
    path = Path(path)
    hint = (
        f"make a key once with: head -c 32 /dev/urandom > {path.name or 'perfmodel.key'} "
        "(keep it secret, outside the output folder, and reuse it so that tokens stay stable)"
    )
    if not path.exists():
        raise PseudonymisationError(f"--pseudonymise: key file {path} does not exist", hint)
    if not path.is_file():
        raise PseudonymisationError(f"--pseudonymise: {path} is not a file", hint)
    key = path.read_bytes()
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymisationError(
            f"--pseudonymise: key file {path} holds {len(key)} bytes; at least {MIN_KEY_BYTES} "
            "random bytes are needed, or the pseudonyms could be reversed by guessing the key",
            hint,
        )
    return key


def key_fingerprint(key: bytes) -> str:
    """A fingerprint that identifies a key without revealing it: HMAC of a fixed label, 16 hex digits."""
    return hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def pseudonymisation_record(key: bytes) -> dict[str, Any]:
    """What provenance should record of a pseudonymised run: that it was, and the key's fingerprint."""
    return {"pseudonymised": True, "key_fingerprint": key_fingerprint(key)}


class Pseudonymiser:
    """Keyed, stable, collision-checked tokens for ids and names.

    ``token(value, kind)`` is ``U-`` (ids) or ``N-`` (names) followed by the
    first :data:`TOKEN_CHARS` base32 characters of HMAC-SHA-256(key, kind ‖
    value), where value is the text with surrounding blanks removed. Blank
    values stay blank. Two different values that would get the same token raise
    :class:`PseudonymisationError`.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise PseudonymisationError(f"a pseudonymisation key needs at least {MIN_KEY_BYTES} bytes")
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._seen: dict[str, dict[str, str]] = {kind: {} for kind in _PREFIX}
        self._cache: dict[tuple[str, str], str] = {}

    def token(self, value: object, kind: str = "id") -> object:
        """The token of one value (blank/missing values are returned unchanged)."""
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return value
        text = str(value).strip()
        if not text:
            return value
        cached = self._cache.get((kind, text))
        if cached is not None:
            return cached
        mac = self._mac.copy()  # HMAC-SHA-256(key, kind ‖ 0x1f ‖ text), key schedule computed once
        mac.update(f"{kind}\x1f{text}".encode())
        digest = mac.digest()[: -(-TOKEN_CHARS * 5 // 8) + 1]  # base32 needs only these bytes
        token = _PREFIX[kind] + base64.b32encode(digest).decode("ascii")[:TOKEN_CHARS]
        earlier = self._seen[kind].setdefault(token, text)
        if earlier != text:
            raise PseudonymisationError(
                f"two different {kind}s map to the same pseudonym {token}; this is astronomically unlikely, "
                "so check the key file",
                "use another key file (for example 32 random bytes)",
            )
        self._cache[(kind, text)] = token
        return token

    def column(self, values: pd.Series, kind: str = "id") -> pd.Series:
        """Tokens of a column (distinct values hashed once)."""
        present = values.dropna()
        mapping = {v: self.token(v, kind) for v in pd.unique(present.to_numpy(dtype=object))}
        out = values.astype(object).copy()
        out[present.index] = present.astype(object).map(mapping).to_numpy(dtype=object)
        return out


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _id_texts(values: pd.Series) -> set[str]:
    return {str(v).strip() for v in values.to_numpy(dtype=object) if not _missing(v) and str(v).strip()}


def _refers_to_units(name: str, values: pd.Series, ids: set[str]) -> bool:
    """Whether a column refers to units.

    It does when it is one of :data:`ID_COLUMNS`, its name ends in ``_id``, or
    every non-blank value is a unit id (or parent id) and not every value is a
    number (so that counts are never mistaken for numeric ids).
    """
    if name in ID_COLUMNS or name.endswith("_id"):
        return True
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = _id_texts(values)
    if not present or not present <= ids:
        return False
    return not all(_is_number(v) for v in present)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def pseudonymise_inputs(
    *, observations: pd.DataFrame, units: pd.DataFrame, key: bytes | Pseudonymiser
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units and observations tables with every id and name replaced by its keyed token.

    Pseudonymised, in both tables: :data:`ID_COLUMNS` (``unit_id``,
    ``parent_id``, ``rater_id``) and :data:`NAME_COLUMNS` (``name``) when
    present, every column named ``*_id`` (``station_id``, ``officer_id`` …)
    and every other text column whose non-blank values are all unit or parent
    ids of the units table (``district`` when stations name their district as
    parent). A reference made of bare numbers is recognised only by its name. Ids
    are matched after removing surrounding blanks, so the same unit gets the same
    token in every table and column (joins keep working). Call it on the tables
    as read (canonical headers, before validation) so that quarantine messages
    quote pseudonyms too.

    Parameters
    ----------
    observations, units
        Tables with canonical column names (from :func:`perfmodel.io.read_table`).
        Keyword-only: both are frames, so a swapped positional call could not be caught.
    key
        The key's bytes (at least :data:`MIN_KEY_BYTES`) or a :class:`Pseudonymiser`.

    Returns
    -------
    (observations, units)
        Copies; other columns and ``attrs`` unchanged.

    Examples
    --------
    >>> units = pd.DataFrame({"unit_id": ["PS1", "M1"], "name": ["桥东", "张三"], "parent_id": [None, "PS1"]})
    >>> obs = pd.DataFrame({"unit_id": ["M1"], "value": ["1"]})
    >>> o, u = pseudonymise_inputs(observations=obs, units=units, key=b"0123456789abcdef")
    >>> u.loc[1, "parent_id"] == u.loc[0, "unit_id"], o.loc[0, "unit_id"] == u.loc[1, "unit_id"]
    (True, True)
    """
    pseudo = key if isinstance(key, Pseudonymiser) else Pseudonymiser(key)
    ids = set().union(*(_id_texts(units[c]) for c in ("unit_id", "parent_id") if c in units.columns))
    out = []
    for table in (units, observations):
        copy = table.copy()
        for column in copy.columns:
            if column == "source_row":
                continue
            if column in NAME_COLUMNS:
                copy[column] = pseudo.column(copy[column], "name")
            elif _refers_to_units(str(column), copy[column], ids):
                copy[column] = pseudo.column(copy[column], "id")
        copy.attrs = dict(table.attrs)
        out.append(copy)
    return out[1], out[0]


def _copy_name(path: Path) -> str:
    """``units.xlsx`` → ``units.csv``; ``obs.csv.gz`` → ``obs.csv`` (messages keep the file's name)."""
    from perfmodel.io import SUPPORTED_EXTENSIONS

    name = path.name
    for suffix in sorted(SUPPORTED_EXTENSIONS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] + ".csv"
    return path.stem + ".csv"


def _write_copy(table: pd.DataFrame, path: Path) -> None:
    """Write a table as read back to CSV so that each row keeps its spreadsheet row number.

    Row ``source_row`` of the copy is the row's own line; lines without a row
    (title lines above the header, which may name a station) are written blank.
    """
    columns = [c for c in table.columns if c != "source_row"]
    rows = (
        table["source_row"].to_numpy(dtype=np.int64)
        if "source_row" in table.columns
        else np.arange(2, len(table) + 2, dtype=np.int64)
    )
    header_line = int(rows.min()) - 1 if len(rows) else 1
    data = table[columns].astype(object).where(table[columns].notna(), None)
    body = data.to_csv(index=False, header=False, lineterminator="\n").splitlines() if len(data) else []
    head = pd.DataFrame(columns=columns).to_csv(index=False, lineterminator="\n").rstrip("\n")
    blank = "," * max(len(columns) - 1, 0)
    lines = [blank] * (header_line - 1) + [head]
    for row, line in sorted(zip(rows.tolist(), body, strict=True)):
        lines.extend([blank] * (row - len(lines) - 1))
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def pseudonymised_files(
    observations: str | Path, units: str | Path, key_file: str | Path
) -> Iterator[tuple[Path, Path, dict[str, Any]]]:
    """Pseudonymised copies of two input files in a private temporary folder.

    The folder (mode 0700, in the system's temporary folder, never inside an
    output folder) is deleted when the ``with`` block ends, also on errors.
    Multi-line cells and blank rows survive; every row keeps its row number,
    and the copy keeps the original file's name (with ``.csv``), so messages
    still say ``units.csv row 14``.

    Yields
    ------
    (observations, units, record)
        Paths of the copies and :func:`pseudonymisation_record` of the key.
    """
    from perfmodel.io import OBSERVATION_ALIASES, UNIT_ALIASES, read_table

    key = read_key(key_file)
    units_raw = read_table(units, aliases=UNIT_ALIASES)
    observations_raw = read_table(observations, aliases=OBSERVATION_ALIASES)
    observations_tok, units_tok = pseudonymise_inputs(observations=observations_raw, units=units_raw, key=key)
    folder = Path(tempfile.mkdtemp(prefix="perfmodel-pseudonymised-"))
    try:
        paths: list[Path] = []
        for table, original in ((observations_tok, Path(observations)), (units_tok, Path(units))):
            target = folder / _copy_name(original)
            if paths and target == paths[0]:
                target = folder / f"units_{target.name}"
            _write_copy(table, target)
            paths.append(target)
        yield paths[0], paths[1], pseudonymisation_record(key)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def add_pseudonymise_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--pseudonymise KEYFILE`` to a command's parser."""
    parser.add_argument(
        "--pseudonymise",
        metavar="KEYFILE",
        default=None,
        help="replace unit ids, names and every reference to a unit by keyed pseudonyms "
        f"(HMAC-SHA-256 with the bytes of KEYFILE, at least {MIN_KEY_BYTES} bytes) in every output; "
        "the same key gives the same pseudonyms",
    )


def with_pseudonymised_inputs(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Decorate a CLI command so that, with ``--pseudonymise``, it only ever reads pseudonymised inputs.

    The command gets a copy of its arguments in which ``observations`` and
    ``units`` point to pseudonymised copies (:func:`pseudonymised_files`),
    ``input_paths`` holds the original paths (for messages and for files
    written beside an input) and ``privacy`` the record for provenance
    (``None`` without the option).
    """

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        key_file = getattr(args, "pseudonymise", None)
        originals = {"observations": args.observations, "units": args.units}
        if not key_file:
            return command(argparse.Namespace(**{**vars(args), "input_paths": originals, "privacy": None}))
        with pseudonymised_files(args.observations, args.units, key_file) as (observations, units, record):
            changed = {
                "observations": str(observations),
                "units": str(units),
                "input_paths": originals,
                "privacy": record,
            }
            return command(argparse.Namespace(**{**vars(args), **changed}))

    return run


# ============================================================================ officer names
def officer_names_shown(table: pd.DataFrame, show_names: bool, columns: Iterable[str] = ("name",)) -> pd.DataFrame:
    """``table`` without its officer-name columns unless ``show_names``.

    Officer tables show ids only by default; names are a choice of whoever
    runs the report (``show_names=True``).
    """
    if show_names:
        return table
    return table.drop(columns=[c for c in columns if c in table.columns])
