"""Shared pieces of the audit: the results object, the audited table, groups, effect sizes, p-values, wording.

Every audit check returns a :class:`CheckResult`: its tidy table
(:meth:`CheckResult.to_frame`) has at least the columns ``n`` (units or ratings
behind the row), ``estimate``, an uncertainty (``se`` and/or
``ci_low``/``ci_high``) and ``verdict`` (one plain-language line in Chinese or
English); the options the check ran with and its note are fields of the result,
never ``DataFrame.attrs``. The helpers here compute the statistics those tables
share, so that each formula exists once:

- :func:`unit_table` turns an :class:`~perfmodel.evaluation.Evaluation` into one
  row per scored unit with its score, grade and every units-table attribute;
- :func:`group_labels` and :func:`choose_reference` define groups (one attribute
  or a combination) and the reference group (default: the largest);
- :func:`hedges_g`, :func:`welch`, :func:`t_interval` and :func:`auc_se` are
  vectorised over groups; :func:`adjust_pvalues` and :func:`holm` live in
  :mod:`perfmodel.multiple_testing` and are re-exported here.

Error messages are module constants (``ERR_*``) so that tests can assert their text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType, SimpleNamespace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.errors import PerfmodelError
from perfmodel.groups import GROUP_SEPARATOR, group_order
from perfmodel.multiple_testing import Correction, adjust_pvalues, holm
from perfmodel.text import say

__all__ = [
    "AuditError",
    "Lang",
    "Correction",
    "AuditData",
    "CheckResult",
    "ERR_LANG",
    "ERR_COLUMN",
    "ERR_NO_BY",
    "ERR_REFERENCE",
    "ERR_REFERENCE_SMALL",
    "ERR_MIN_N",
    "ERR_CORRECTION",
    "ERR_NOT_NUMERIC",
    "ERR_DATA",
    "MISSING_GROUP",
    "GROUP_SEPARATOR",
    "DERIVED_COLUMNS",
    "check_lang",
    "check_min_n",
    "check_correction",
    "as_list",
    "by_columns",
    "unit_table",
    "require_columns",
    "group_codes",
    "group_labels",
    "choose_reference",
    "t_interval",
    "hedges_g",
    "welch",
    "auc_se",
    "holm",
    "adjust_pvalues",
    "effect_size_word",
    "fmt",
    "fmt_p",
    "fmt_ci",
    "fmt_pct",
    "text",
    "finish",
    "ceil_int",
    "records",
    "single_blas_thread",
]

Lang = Literal["zh", "en"]
"""Language of verdicts and notes: Chinese (``zh``) or English (``en``)."""

AuditData = Any  # an Evaluation or a per-unit DataFrame (kept loose to avoid an import cycle)

ERR_LANG = "lang must be 'zh' or 'en', got {lang!r}"
ERR_COLUMN = (
    "column {column!r} is not in the audited table; available columns: {available}. "
    "Check the spelling, or add the column to the units file"
)
ERR_NO_BY = "name at least one column to group by (for example by='area_type')"
ERR_REFERENCE = "reference group {reference!r} is not a group of {attribute}; the groups are: {groups}"
ERR_REFERENCE_SMALL = (
    "reference group {reference!r} of {attribute} has only {n} units (fewer than min_n={min_n}); "
    "choose a larger reference group or lower min_n"
)
ERR_MIN_N = "min_n must be an integer of at least 2, got {min_n!r}"
ERR_CORRECTION = "correction must be 'holm', 'fdr_bh' or 'none', got {correction!r}"
ERR_NOT_NUMERIC = (
    "column {column!r} must hold numbers for this check, but it holds {dtype} values; pass a numeric column"
)
ERR_DATA = (
    "expected an Evaluation or a DataFrame with one row per unit, got {kind}; "
    "run perfmodel.evaluation.evaluate(...) first"
)

MISSING_GROUP = "(missing)"
"""Group label of units whose grouping attribute is blank (they are kept, not dropped)."""


DERIVED_COLUMNS: Mapping[str, tuple[str, str]] = {
    "incidents_per_officer": ("incident_volume", "officers"),
}
"""Columns :func:`unit_table` adds when their inputs exist: name → (numerator, denominator)."""


class AuditError(PerfmodelError, ValueError):
    """An audit that cannot run as asked; the message says why and what to change."""


# ----------------------------------------------------------------------------- arguments
def check_lang(lang: str) -> Lang:
    """Return ``lang`` if it is ``zh`` or ``en``; otherwise raise :class:`AuditError`."""
    if lang not in ("zh", "en"):
        raise AuditError(ERR_LANG.format(lang=lang))
    return lang  # type: ignore[return-value]


def check_min_n(min_n: int) -> int:
    """Return a valid small-cell threshold (an integer ≥ 2)."""
    if isinstance(min_n, bool) or not isinstance(min_n, (int, np.integer)) or min_n < 2:
        raise AuditError(ERR_MIN_N.format(min_n=min_n))
    return int(min_n)


def check_correction(correction: str) -> Correction:
    """Return a valid multiple-testing correction name."""
    if correction not in ("holm", "fdr_bh", "none"):
        raise AuditError(ERR_CORRECTION.format(correction=correction))
    return correction  # type: ignore[return-value]


def as_list(columns: str | Iterable[str] | None) -> list[str]:
    """Column names as a list: ``"a"`` → ``["a"]``, ``"a,b"`` → ``["a", "b"]``, ``None`` → ``[]``."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [c.strip() for c in columns.split(",") if c.strip()]
    return [str(c) for c in columns]


def by_columns(by: str | Sequence[str] | None) -> list[str]:
    """The attributes of one grouping: ``"a"`` → ``["a"]``, ``"a+b"`` or ``["a", "b"]`` → both."""
    if by is None:
        return []
    if isinstance(by, str):
        return [c.strip() for c in by.split("+") if c.strip()]
    return [str(c) for c in by]


# ----------------------------------------------------------------------------- the table
def unit_table(data: AuditData) -> pd.DataFrame:
    """One row per unit: scores, ranks and grades with every units-table attribute.

    Parameters
    ----------
    data
        An :class:`~perfmodel.evaluation.Evaluation` (its ``scores`` joined with
        its units table), or a DataFrame that already has one row per unit
        (returned as a copy).

    Returns
    -------
    pandas.DataFrame
        ``ev.scores`` plus the units-table columns it lacks, plus
        :data:`DERIVED_COLUMNS` (``incidents_per_officer`` = incident volume per
        officer, the usual workload measure) when their inputs exist. Text
        attributes keep their values; numbers are floats.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    elif hasattr(data, "scores") and hasattr(data, "units"):
        scores = data.scores.copy()
        units = data.units.drop_duplicates("unit_id").set_index("unit_id")
        extra = [c for c in units.columns if c not in scores.columns and c != "source_row"]
        frame = scores.join(units[extra], on="unit_id")
    else:
        raise AuditError(ERR_DATA.format(kind=type(data).__name__))
    for name, (num, den) in DERIVED_COLUMNS.items():
        if name not in frame.columns and num in frame.columns and den in frame.columns:
            numerator = pd.to_numeric(frame[num], errors="coerce").astype(float)
            denominator = pd.to_numeric(frame[den], errors="coerce").astype(float)
            frame[name] = numerator / denominator.where(denominator > 0)
    return frame.reset_index(drop=True)


def require_columns(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise :data:`ERR_COLUMN` for the first of ``columns`` absent from ``frame``."""
    for column in columns:
        if column not in frame.columns:
            available = ", ".join(map(str, frame.columns))
            raise AuditError(ERR_COLUMN.format(column=column, available=available))


def group_codes(frame: pd.DataFrame, by: str | Sequence[str]) -> tuple[str, np.ndarray, list[str]]:
    """The grouping's name, each row's group code and the group labels in natural order.

    A combination of attributes is joined with :data:`GROUP_SEPARATOR`; blank
    values become :data:`MISSING_GROUP` so that no unit silently drops out.
    ``labels[codes]`` gives each row's label.
    """
    columns = by_columns(by)
    if not columns:
        raise AuditError(ERR_NO_BY)
    require_columns(frame, columns)
    labels = None
    for column in columns:
        values = frame[column].to_numpy(dtype=object)
        text = np.array([MISSING_GROUP if pd.isna(v) else str(v) for v in values], dtype=object)
        labels = text if labels is None else labels + GROUP_SEPARATOR + text

    names, codes = np.unique(labels.astype(str), return_inverse=True)
    ordered = group_order(names)  # 一类, 二类, 三类 … in their natural order, the rest alphabetically
    position = np.array([ordered.index(str(n)) for n in names], dtype=int)
    return GROUP_SEPARATOR.join(columns), position[codes.reshape(-1)], ordered


def group_labels(frame: pd.DataFrame, by: str | Sequence[str]) -> tuple[str, pd.Series]:
    """The grouping's name and each row's group label (see :func:`group_codes`).

    Examples
    --------
    >>> f = pd.DataFrame({"a": ["x", "y", None], "b": ["1", "1", "2"]})
    >>> attribute, labels = group_labels(f, ["a", "b"])
    >>> attribute, labels.tolist()
    ('a × b', ['x × 1', 'y × 1', '(missing) × 2'])
    """
    attribute, codes, names = group_codes(frame, by)
    return attribute, pd.Series(np.asarray(names, dtype=object)[codes], index=frame.index, name="group")


def choose_reference(counts: pd.Series, reference: str | None, min_n: int, attribute: str) -> str:
    """The reference group: ``reference`` if given (checked), else the largest group.

    Ties between equally large groups go to the label that sorts first, so the
    choice is deterministic.
    """
    if reference is not None:
        reference = str(reference)
        if reference not in counts.index:
            groups = ", ".join(map(str, counts.index))
            raise AuditError(ERR_REFERENCE.format(reference=reference, attribute=attribute, groups=groups))
        if counts[reference] < min_n:
            raise AuditError(
                ERR_REFERENCE_SMALL.format(
                    reference=reference, attribute=attribute, n=int(counts[reference]), min_n=min_n
                )
            )
        return reference
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return str(ordered[0][0])


# ----------------------------------------------------------------------------- statistics
def t_interval(mean, sd, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Student-t confidence interval of a mean: mean ± t(n − 1) · sd / √n (vectorised).

    Cells with fewer than 2 values get ``nan``.
    """
    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(n >= 2, n - 1, np.nan)
        half = stats.t.ppf(0.5 + confidence / 2, df) * sd / np.sqrt(n)
    return mean - half, mean + half


def hedges_g(m1, s1, n1, m2, s2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Hedges' g of group 1 against group 2 and its standard error (vectorised).

    g = J · (m1 − m2) / s_p with the pooled sd
    s_p = √(((n1 − 1)s1² + (n2 − 1)s2²) / (n1 + n2 − 2)) and the small-sample
    correction J = 1 − 3 / (4(n1 + n2) − 9); SE(g) = √((n1 + n2)/(n1·n2) + g²/(2(n1 + n2)))
    (Hedges & Olkin 1985).

    Examples
    --------
    >>> g, se = hedges_g(12.0, 2.0, 10, 10.0, 2.0, 10)
    >>> round(float(g), 4)  # d = 1, J = 1 - 3/71
    0.9577
    """
    m1, s1, n1, m2, s2, n2 = (np.asarray(x, dtype=float) for x in (m1, s1, n1, m2, s2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
        j = 1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0)
        g = j * (m1 - m2) / pooled
        g = np.where(pooled > 0, g, np.nan)
        se = np.sqrt((n1 + n2) / (n1 * n2) + g**2 / (2.0 * (n1 + n2)))
    return g, se


def welch(m1, s1, n1, m2, s2, n2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch's unequal-variance t-test of m1 − m2: (difference, its SE, two-sided p)."""
    m1, s1, n1, m2, s2, n2 = (np.asarray(x, dtype=float) for x in (m1, s1, n1, m2, s2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        v1, v2 = s1**2 / n1, s2**2 / n2
        se = np.sqrt(v1 + v2)
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
        t = (m1 - m2) / se
        p = 2.0 * stats.t.sf(np.abs(t), df)
    return m1 - m2, se, np.where(se > 0, p, np.nan)


def auc_se(auc, n_pos, n_neg) -> np.ndarray:
    """Hanley–McNeil (1982) standard error of an area under the ROC curve."""
    a, n1, n2 = (np.asarray(x, dtype=float) for x in (auc, n_pos, n_neg))
    q1 = a / (2 - a)
    q2 = 2 * a**2 / (1 + a)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (a * (1 - a) + (n1 - 1) * (q1 - a**2) + (n2 - 1) * (q2 - a**2)) / (n1 * n2)
    return np.sqrt(np.maximum(var, 0.0))


def effect_size_word(effect: float, lang: Lang, measure: str = "hedges_g") -> str:
    """Conventional size label of an effect: negligible / small / medium / large.

    Hedges' g uses Cohen's 0.2 / 0.5 / 0.8; Cliff's δ uses Romano et al.'s
    0.147 / 0.33 / 0.474.
    """
    if effect is None or not np.isfinite(effect):
        return ""
    cuts = (0.147, 0.33, 0.474) if measure == "cliffs_delta" else (0.2, 0.5, 0.8)
    size = abs(effect)
    index = sum(size >= c for c in cuts)
    return say(f"audit.effect_size.{('negligible', 'small', 'medium', 'large')[index]}", lang)


# ----------------------------------------------------------------------------- wording
def fmt(value: float, digits: int = 1) -> str:
    """A number for a verdict: fixed decimals, a true minus sign, ``–`` when missing."""
    if value is None or not np.isfinite(value):
        return "–"
    text_value = f"{value:.{digits}f}"
    if text_value.startswith("-") and float(text_value) == 0:
        text_value = text_value[1:]  # no "−0.0"
    return text_value.replace("-", "−")


def fmt_ci(low: float, high: float, digits: int = 1) -> str:
    """An interval for a verdict: ``[−10.7, −4.2]``."""
    return f"[{fmt(low, digits)}, {fmt(high, digits)}]"


def fmt_p(p: float) -> str:
    """A p-value for a verdict: ``p = 0.034``, ``p < 0.001`` or ``p = –``."""
    if p is None or not np.isfinite(p):
        return "p = –"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}"


def fmt_pct(value: float, digits: int = 0) -> str:
    """A share as a percentage: ``0.314`` → ``31%``."""
    if value is None or not np.isfinite(value):
        return "–"
    return fmt(value * 100, digits) + "%"


def text(table: Mapping[str, Mapping[str, str]], lang: Lang, key: str, **values: Any) -> str:
    """Look up ``key`` in a ``{"zh": {...}, "en": {...}}`` table and fill it in."""
    return table[lang][key].format(**values)


@dataclass(frozen=True)
class CheckResult:
    """The result of one audit check: its table, the options it ran with and its note.

    Attributes
    ----------
    check : str
        The function that made the result (``"disaggregate"``, ``"adverse_impact"`` …).
    table : pandas.DataFrame
        One tidy row per group, cut, rule, item or unit (see the check's docstring);
        its ``attrs`` are empty.
    parameters : Mapping
        The options the check resolved and ran with (reference group, ``min_n``,
        ``confidence``, ``n_boot`` …). In a table of :func:`~perfmodel.audit.run_audit`
        that joins several groupings, a parameter that differs between them maps
        each grouping's attribute to its value.
    note : str
        What the reader must know to read the table (the limits of the four-fifths
        rule), in the check's language; ``""`` when there is nothing to add.

    Examples
    --------
    >>> result = CheckResult("demo", pd.DataFrame({"n": [3], "flagged": [True]}), {"min_n": 5})
    >>> print(result.summary())
    demo: 1 row, 1 flagged (min_n=5)
    """

    check: str
    table: pd.DataFrame
    parameters: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def __len__(self) -> int:
        """Rows of the table."""
        return len(self.table)

    def to_frame(self) -> pd.DataFrame:
        """The check's table."""
        return self.table

    def summary(self) -> str:
        """One line: the check, its rows, how many are flagged and the options; then the note, if any."""
        rows = len(self.table)
        counts = f"{rows} row" + ("" if rows == 1 else "s")
        if "flagged" in self.table.columns:
            counts += f", {int(self.table['flagged'].fillna(False).astype(bool).sum())} flagged"
        options = ", ".join(f"{key}={_shown(value)}" for key, value in self.parameters.items())
        lines = [f"{self.check}: {counts}" + (f" ({options})" if options else "")]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def _shown(value: Any) -> str:
    """A parameter value for :meth:`CheckResult.summary`: lists joined, mappings as ``k: v``."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def finish(
    frame: pd.DataFrame, check: str, columns: Sequence[str], *, note: str = "", **parameters: Any
) -> CheckResult:
    """A check's :class:`CheckResult`: its columns ordered (known ones first), index reset.

    ``check`` names the function that made the table; ``parameters`` are the
    options it ran with, ``note`` what the reader must know (the four-fifths
    rule's limits).
    """
    first = [c for c in columns if c in frame.columns]
    rest = [c for c in frame.columns if c not in first]
    out = frame[first + rest].reset_index(drop=True)
    out.attrs = {}
    return CheckResult(check=check, table=out, parameters=parameters, note=note)


def records(frame: pd.DataFrame) -> list[SimpleNamespace]:
    """The rows of ``frame`` as attribute objects (``row.n``, ``row.estimate``), fast.

    Like :meth:`pandas.DataFrame.itertuples` but several times quicker on the
    small, wide frames of the audit, which matters when a check runs for
    hundreds of simulated jurisdictions.
    """
    columns = [str(c) for c in frame.columns]
    arrays = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    return [SimpleNamespace(**dict(zip(columns, values, strict=True))) for values in zip(*arrays, strict=True)]


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the enclosed linear algebra on one BLAS thread.

    The audit's matrices are small (hundreds of rows, tens of columns); on a
    busy machine a multi-threaded BLAS spends far longer synchronising threads
    than computing (a QR decomposition of 900 × 100 took a second instead of a
    few milliseconds). Uses threadpoolctl, which scikit-learn installs.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def ceil_int(x: float) -> int:
    """Smallest integer ≥ x, robust to floating noise (0.8 · 10 = 8.000000001 → 8)."""
    return int(math.ceil(round(x, 9)))
