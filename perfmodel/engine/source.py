"""Clean observations kept in DuckDB: an :class:`~perfmodel.source.ObservationSource` answering in SQL.

:func:`perfmodel.engine.validate.validate_to_source` leaves the rows that pass
validation in a DuckDB table (``obs``) instead of handing them to pandas. An
evaluation then asks :class:`EngineSource` only for unit-level tables: the
roll-up of a period, months with data, late rows and counts. Those are SQL
queries returning small frames; the rows themselves reach pandas only when an
analysis asks for them (:meth:`EngineSource.rows`, :meth:`EngineSource.frame`).

The database is in memory; past its memory limit DuckDB spills into a folder
of its own under the system's temporary directory (never beside the inputs),
removed when the source is closed or collected.

The roll-up is :func:`perfmodel.rollup.roll_up` to the bit. pandas sums groups
with Kahan's compensated summation, in row order; DuckDB's ``fsum`` compensates
differently (its result differs in the last bit for about one group in ten).
So the SQL spells out pandas' recurrence: in the monthly stage over the rows of
a month in file order (only where a month has several rows: raters), in the
period stage over the months in calendar order (one column per month).
``tests/test_engine_source.py`` checks bit-equality.
"""

from __future__ import annotations

import shutil
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfmodel.framework import Framework
from perfmodel.periods import months_in
from perfmodel.rollup import ROLLUP_COLUMNS, rolled_values
from perfmodel.validation import OBSERVATION_INPUTS, TEXT_DTYPE, lateness

__all__ = [
    "EngineSource",
    "CLEAN_COLUMNS",
    "MEMORY_LIMIT_VARIABLE",
    "ROW_ORDER",
    "close_store",
    "hand_back_memory",
    "quote_identifier",
    "store_rows",
    "typed_rows",
]

CLEAN_COLUMNS = (*OBSERVATION_INPUTS, "source_row")
"""Columns of the table ``obs`` before the file's extra columns (``deadline``, ``late``
and ``days_late`` are added when rows are materialised, as validation adds them)."""


ROW_ORDER = "row_order_"
"""Column of ``obs`` giving the rows' order where it is not ``source_row``'s (a reshaped wide export)."""


MEMORY_LIMIT_VARIABLE = "perfmodel_memory_limit"
"""The DuckDB variable in which :func:`perfmodel.engine.validate.connect` keeps the memory limit as given
(DuckDB shows its own setting rounded), so that :func:`hand_back_memory` sets it back exactly."""

HAND_BACK_LIMIT = "64MB"
"""The memory limit :func:`hand_back_memory` sets for a moment, making DuckDB evict and free its memory."""

HAND_BACK_FROM = 128 * 2**20
"""Bytes DuckDB must hold for :func:`hand_back_memory` to act: below, evicting would cost more than it frees."""


def hand_back_memory(con: Any) -> bool:
    """Make DuckDB give its cached memory back to the system, then set its memory limit back as it was.

    DuckDB keeps the blocks of its tables and its allocator's free memory resident
    up to its memory limit after a query ends. An evaluation's unit-level steps,
    which follow its last query, are pandas: without this, both held their memory
    at once (on a 300,000-unit quarter, 0.4 GB of 1.3 GB). Lowering the limit for a
    moment makes DuckDB write its blocks to its spill folder (read back when a
    later query needs them) and flush its allocator.

    Only for connections made by :func:`perfmodel.engine.validate.connect`, and
    only when DuckDB holds at least :data:`HAND_BACK_FROM` bytes (small data stay
    in memory, where the next query finds them); any other connection is left as
    it is. :meth:`Evaluation.run <perfmodel.evaluation.Evaluation.run>` calls it
    (through :meth:`EngineSource.hand_back_memory`) once its queries are over, then
    hands back the process's freed heap too (:func:`perfmodel.memory.trim_heap`).

    Returns
    -------
    bool
        Whether memory was handed back.
    """
    import duckdb

    # each result fetched to its end: DuckDB refuses the next query while one is unfinished
    given = con.execute(f"SELECT getvariable('{MEMORY_LIMIT_VARIABLE}')").fetchall()[0][0]
    if given is None:  # a connection made elsewhere: its settings are its owner's
        return False
    held = con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchall()[0][0]
    if held < HAND_BACK_FROM:
        return False
    try:
        con.execute(f"SET memory_limit = '{HAND_BACK_LIMIT}'")
    except duckdb.Error:  # DuckDB could not evict that much (no spill folder): it keeps what it holds
        pass
    finally:
        con.execute(f"SET memory_limit = '{given}'")
    return True


def store_rows(con: Any, rows: pd.DataFrame, table: str = "obs") -> None:
    """Put typed clean ``rows`` (:data:`CLEAN_COLUMNS`, then extra columns) into a new table ``table``.

    Missing numbers become NULL.
    """
    con.register("rows_in", rows)
    select = ", ".join(
        f"CASE WHEN isnan({quote_identifier(c)}) THEN NULL ELSE {quote_identifier(c)} END AS {quote_identifier(c)}"
        if c in ("value", "numerator", "denominator")
        else quote_identifier(c)
        for c in rows.columns
    )
    con.execute(f"CREATE TABLE {table} AS SELECT {select} FROM rows_in")
    con.unregister("rows_in")


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (a column or table name from the data, never trusted)."""
    return '"' + str(name).replace('"', '""') + '"'


def close_store(con: Any, folder: Path | None) -> None:
    """Close ``con`` and remove its database folder."""
    try:
        con.close()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _in_list(values: Iterable[str]) -> str:
    """``values`` as an SQL list of text literals (``NULL`` when empty, which matches nothing)."""
    quoted = [f"'{_esc(v)}'" for v in values]
    return ", ".join(quoted) or "NULL"


def _kahan_steps(table: str, sums: Mapping[str, tuple[str, str]], n_steps: int) -> str:
    """SQL adding ``s_NAME`` (pandas' compensated sum) over ``n_steps`` terms to ``table``.

    ``sums`` maps NAME → (term of step ``{j}``, whether step ``{j}`` contributes);
    absent terms are skipped as pandas skips missing values. One nested query per
    step, so every expression stays small.
    """
    start = ", ".join(f"0.0::DOUBLE AS s_{n}, 0.0::DOUBLE AS c_{n}" for n in sums)
    sql = f"SELECT *, {start} FROM {table}"
    for j in range(1, n_steps + 1):
        replaced = []
        for name, (term, present) in sums.items():
            x, on = term.format(j=j), present.format(j=j)
            y = f"({x} - c_{name})"
            t = f"(s_{name} + {y})"
            compensation = f"(({t} - s_{name}) - {y})"
            replaced.append(f"CASE WHEN {on} THEN {t} ELSE s_{name} END AS s_{name}")
            replaced.append(
                f"CASE WHEN {on} THEN (CASE WHEN isnan({compensation}) THEN 0.0 ELSE {compensation} END) "
                f"ELSE c_{name} END AS c_{name}"
            )
        sql = f"SELECT * REPLACE ({', '.join(replaced)}) FROM ({sql})"
    return sql


class EngineSource:
    """An :class:`~perfmodel.source.ObservationSource` over clean observations in DuckDB.

    Made by :func:`perfmodel.engine.validate.validate_to_source` (files) or
    :func:`perfmodel.engine.validate.source_from_frame` (a clean frame).

    Parameters
    ----------
    con
        The connection holding the table or view ``obs`` (columns :data:`CLEAN_COLUMNS`,
        then the file's extra columns, and :data:`ROW_ORDER` where the rows' order is
        not ``source_row``'s).
    framework
        The framework the rows were validated against (reporting deadlines).
    source
        The observations file, kept as ``attrs["source"]`` of materialised rows.
    extras
        Extra column → the pandas dtype its text takes when materialised
        (``None``: as DuckDB gives it).
    folder
        The temporary folder DuckDB spills into, removed by :meth:`close`.
    """

    def __init__(
        self,
        con: Any,
        framework: Framework,
        source: str,
        extras: Mapping[str, object] | None = None,
        folder: Path | None = None,
    ) -> None:
        self._con = con
        self._framework = framework
        self._source = source
        self._extras = dict(extras or {})
        self._units: pd.Index | None = None
        self._cache: dict[object, Any] = {}
        self.folder = folder
        """The temporary folder DuckDB spills into (``None`` for a connection of the caller's)."""
        columns = {row[0] for row in con.execute("DESCRIBE obs").fetchall()}
        self._order = ROW_ORDER if ROW_ORDER in columns else "source_row"  # the rows' order, as pandas has them
        self._closer = weakref.finalize(self, close_store, con, folder)

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        """Close the connection and remove the database folder (also done when collected)."""
        self._closer()

    def __enter__(self) -> EngineSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, query: str) -> pd.DataFrame:
        """The result of ``query`` as a frame, through Arrow (text as :data:`~perfmodel.validation.TEXT_DTYPE`)."""
        relation = self._con.sql(query)
        return (getattr(relation, "to_arrow_table", None) or relation.arrow)().to_pandas()

    def _select(self, units: pd.Index) -> str:
        """Register ``units`` as the table ``chosen`` (once per set of units); the SQL filter on it."""
        if self._units is None or not self._units.equals(units):
            chosen = pd.DataFrame({"unit_id": np.asarray(units.astype(str), dtype=object)})
            self._con.register("chosen_frame", chosen)  # copied once into DuckDB: every query reads it
            self._con.execute("CREATE OR REPLACE TEMP TABLE chosen AS SELECT unit_id FROM chosen_frame")
            self._con.unregister("chosen_frame")
            self._units = units.copy()
            self._cache.clear()
        return "unit_id IN (SELECT unit_id FROM chosen)"

    def _where(self, units: pd.Index, months: Sequence[str]) -> str:
        return f"{self._select(units)} AND period IN ({_in_list(months)})"

    # ------------------------------------------------------------------ the protocol
    def months(self) -> list[str]:
        return [str(row[0]) for row in self._con.execute("SELECT DISTINCT period FROM obs ORDER BY period").fetchall()]

    def count_rows(self, units: pd.Index, months: Sequence[str]) -> int:
        where = self._where(units, months)
        key = ("count", tuple(months))
        if key not in self._cache:
            self._cache[key] = int(self._con.execute(f"SELECT count(*) FROM obs WHERE {where}").fetchall()[0][0])
        return int(self._cache[key])

    def rows(self, units: pd.Index, months: Sequence[str]) -> pd.DataFrame:
        return self._materialise(f"WHERE {self._where(units, months)}")

    def frame(self) -> pd.DataFrame:
        return self._materialise("")

    def months_with_data(self, units: pd.Index, months: Sequence[str], inputs: Iterable[str]) -> pd.Series:
        where = self._where(units, months)
        found = self._sql(
            f"SELECT unit_id, count(DISTINCT period) AS period FROM obs WHERE {where} "
            f"AND indicator IN ({_in_list(set(inputs))}) GROUP BY unit_id"
        )
        counts = pd.Series(
            found["period"].to_numpy(dtype=np.int64), index=found["unit_id"].astype(object), name="period"
        )
        return counts.reindex(units, fill_value=0).astype(int)

    def late_counts(self, units: pd.Index, months: Sequence[str]) -> pd.Series | None:
        where = self._where(units, months)
        if not len(months):
            return pd.Series([], dtype=np.int64, name="late", index=pd.Index([], dtype=TEXT_DTYPE, name="unit_id"))
        deadlines = pd.DataFrame({"period": list(months)})
        deadlines["deadline"] = lateness(
            deadlines["period"], pd.Series(pd.NaT, index=deadlines.index, dtype="datetime64[ns]"), self._framework
        )[0]
        self._con.register("deadlines", deadlines)
        late = self._sql(
            f"SELECT unit_id, count(*) AS late FROM (SELECT * FROM obs WHERE {where}) JOIN deadlines USING (period) "
            "WHERE submitted_at > deadline GROUP BY unit_id ORDER BY unit_id"
        )
        index = pd.Index(late["unit_id"].astype(TEXT_DTYPE), name="unit_id")
        return pd.Series(late["late"].to_numpy(dtype=np.int64), index=index, name="late")

    def roll_up(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        months = [str(m) for m in months_in(period)]
        key = ("roll_up", tuple(months), tuple(sorted(kinds.items())))
        if key in self._cache:
            return self._cache[key].copy(deep=False)  # copy-on-write: the caller's changes never reach the one kept
        where = self._where(units, months)
        out = self._sql(self._roll_up_sql(where, months, kinds))
        if out.empty:
            rolled = pd.DataFrame(columns=ROLLUP_COLUMNS)
        else:
            rolled = pd.DataFrame(
                {
                    "unit_id": out["unit_id"].astype(TEXT_DTYPE),
                    "indicator": out["indicator"].astype(TEXT_DTYPE),
                    "value": out["value"].to_numpy(dtype=float, na_value=np.nan),
                    "numerator": out["numerator"].to_numpy(dtype=float, na_value=np.nan),
                    "denominator": out["denominator"].to_numpy(dtype=float, na_value=np.nan),
                    "months_present": out["months_present"].to_numpy(dtype=np.int64),
                    "n_months": np.full(len(out), len(months), dtype=np.int64),
                    "method": out["method"].astype(TEXT_DTYPE),
                }
            )
        for held in [k for k in self._cache if isinstance(k, tuple) and k[0] == "roll_up"]:
            del self._cache[held]  # keep one roll-up, the last: an evaluation asks for each once
        self._cache[key] = rolled
        return rolled.copy(deep=False)

    def rolled_values(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        """The roll-up's values as a unit × indicator table, pivoted in SQL: the long roll-up never reaches pandas.

        Equal, bit for bit, to :func:`perfmodel.rollup.rolled_values` of :meth:`roll_up`
        (the same SQL gives the values; the pivot only moves them).
        """
        months = [str(m) for m in months_in(period)]
        where = self._where(units, months)
        found = self._con.execute(f"SELECT DISTINCT indicator FROM obs WHERE {where}").fetchall()
        indicators = sorted(str(row[0]) for row in found)  # pandas' pivot sorts its columns
        if not indicators:
            return rolled_values(pd.DataFrame(columns=ROLLUP_COLUMNS), units)
        picked = ", ".join(
            f"max(value) FILTER (WHERE indicator = '{_esc(indicator)}') AS c{j}"
            for j, indicator in enumerate(indicators)
        )
        wide = self._sql(
            f"SELECT unit_id, {picked} FROM ({self._roll_up_sql(where, months, kinds, ordered=False)}) GROUP BY unit_id"
        )
        values = {
            indicator: wide[f"c{j}"].to_numpy(dtype=float, na_value=np.nan) for j, indicator in enumerate(indicators)
        }
        table = pd.DataFrame(values, index=pd.Index(wide["unit_id"].astype(TEXT_DTYPE), name="unit_id"))
        table.columns = pd.Index(indicators, dtype=TEXT_DTYPE, name="indicator")
        return table.reindex(index=units)

    def hand_back_memory(self) -> None:
        """DuckDB's cached blocks and free memory back to the system (:func:`hand_back_memory`)."""
        hand_back_memory(self._con)

    # ------------------------------------------------------------------ beyond the protocol
    def _has_raters(self) -> bool:
        """Whether any row names a rater (else no two rows share unit, indicator and month: duplicates are
        quarantined)."""
        if "raters" not in self._cache:
            found = self._con.execute("SELECT 1 FROM obs WHERE rater_id IS NOT NULL LIMIT 1").fetchall()
            self._cache["raters"] = bool(found)
        return bool(self._cache["raters"])

    def indicator_counts(self) -> dict[str, int]:
        """Rows per indicator (for :func:`perfmodel.evaluation.check_data_fits_framework`)."""
        found = self._con.execute("SELECT indicator, count(*) FROM obs GROUP BY indicator ORDER BY indicator")
        return {str(indicator): int(n) for indicator, n in found.fetchall()}

    def __len__(self) -> int:
        """Number of clean rows."""
        return int(self._con.execute("SELECT count(*) FROM obs").fetchall()[0][0])

    # ------------------------------------------------------------------ SQL
    def _roll_up_sql(self, where: str, months: list[str], kinds: Mapping[str, str], ordered: bool = True) -> str:
        """SQL of :func:`perfmodel.rollup.roll_up` over the rows ``where`` selects, in its row order if ``ordered``."""
        largest = 1  # without raters, validation leaves one row per unit × indicator × month
        if self._has_raters():
            largest = self._con.execute(
                f"SELECT max(n) FROM (SELECT count(*) AS n FROM obs WHERE {where} GROUP BY unit_id, indicator, period)"
            ).fetchall()[0][0]
        if largest is not None and largest > 2:  # raters: each month's rows summed as pandas sums them
            monthly = self._monthly_sql(where, int(largest))
        else:  # one or two rows per month: every summation order gives the same sums
            monthly = (
                "SELECT unit_id, indicator, period, sum(value) / count(*) AS value, "
                "CASE WHEN bool_or(numerator IS NULL) THEN NULL ELSE sum(numerator) END AS numerator, "
                "CASE WHEN bool_or(denominator IS NULL) THEN NULL ELSE sum(denominator) END AS denominator "
                f"FROM obs WHERE {where} GROUP BY unit_id, indicator, period"
            )
            if largest is not None and largest == 1:
                monthly = f"SELECT unit_id, indicator, period, value, numerator, denominator FROM obs WHERE {where}"
        n = len(months)
        pivot = ", ".join(
            f"count(*) FILTER (WHERE period = '{m}') > 0 AS p{j}, max(value) FILTER (WHERE period = '{m}') AS v{j}, "
            f"max(numerator) FILTER (WHERE period = '{m}') AS n{j}, "
            f"max(denominator) FILTER (WHERE period = '{m}') AS d{j}"
            for j, m in enumerate(months, start=1)
        )
        kind_rows = ", ".join(f"('{_esc(k)}', '{_esc(v)}')" for k, v in kinds.items()) or "(NULL, NULL)"
        terms = {
            "value": "v{j}",
            "num": "coalesce(n{j}, 0.0)",
            "den": "coalesce(d{j}, 0.0)",
            "w": "v{j} * coalesce(d{j}, 0.0)",
        }
        if n <= 8:  # the rest has fewer than 8 months: numpy adds it in order, from 0.0
            lists = "true AS sequential_"
            sums = ", ".join(f"{_sequential_reduceat_sql(term, n)} AS s_{name}" for name, term in terms.items())
        else:  # a year: the months present as lists, summed as numpy's pairwise sum does
            lists = ", ".join(
                "list_filter(["
                + ", ".join(f"CASE WHEN p{j} THEN {term.format(j=j)} END" for j in range(1, n + 1))
                + f"], lambda x: x IS NOT NULL) AS l_{name}"
                for name, term in terms.items()
            )
            sums = ", ".join(f"{_reduceat_sql(f'l_{name}', n)} AS s_{name}" for name in terms)
        present = " + ".join(f"p{j}::INT" for j in range(1, n + 1))
        all_volume = " AND ".join(f"(NOT p{j} OR (n{j} IS NOT NULL AND d{j} IS NOT NULL))" for j in range(1, n + 1))
        all_cases = " AND ".join(f"(NOT p{j} OR d{j} IS NOT NULL)" for j in range(1, n + 1))
        return f"""
            WITH wide AS (
                SELECT m.unit_id, m.indicator, coalesce(any_value(k.kind), 'score') AS kind, {pivot}
                FROM ({monthly}) m LEFT JOIN (VALUES {kind_rows}) k(indicator, kind) ON m.indicator = k.indicator
                GROUP BY m.unit_id, m.indicator
            ), listed AS (
                SELECT *, {present} AS months_present, {all_volume} AS all_volume, {all_cases} AS all_cases, {lists}
                FROM wide
            ), summed AS (
                SELECT unit_id, indicator, kind, months_present, all_volume, all_cases, {sums} FROM listed
            ), judged AS (
                SELECT *, kind = 'rate' AND all_volume AND s_den > 0 AS by_volume,
                       kind = 'duration' AND all_cases AND s_den > 0 AS weighted
                FROM summed
            )
            SELECT unit_id, indicator,
                   CASE WHEN by_volume THEN s_num / s_den
                        WHEN weighted THEN s_w / s_den
                        WHEN kind = 'event' THEN s_value
                        WHEN kind = 'count' THEN s_value * ({n}::DOUBLE / months_present)
                        ELSE s_value / months_present END AS value,
                   CASE WHEN all_volume THEN s_num END AS numerator,
                   CASE WHEN all_volume OR weighted THEN s_den END AS denominator,
                   months_present,
                   CASE WHEN weighted THEN 'case_weighted_mean'
                        WHEN kind = 'count' AND months_present < {n} THEN 'sum_prorated'
                        WHEN kind IN ('count', 'event') THEN 'sum'
                        WHEN by_volume THEN 'sum_numerator_over_sum_denominator'
                        WHEN kind = 'rate' THEN 'mean_of_monthly_rates'
                        ELSE 'mean' END AS method
            FROM judged{" ORDER BY unit_id, indicator" if ordered else ""}
        """

    def _monthly_sql(self, where: str, largest: int) -> str:
        """SQL of the monthly stage (:func:`perfmodel.rollup._monthly`) where months have several rows.

        pandas sums a column's groups with ``numpy.add.reduceat`` when the rows come
        sorted by unit, indicator and month and the column has no missing value, and
        with Kahan's compensated sum otherwise; both are spelled out here over each
        month's rows in file order.
        """
        flags = self._con.execute(
            "SELECT coalesce(bool_and(key >= previous OR previous IS NULL), true), bool_or(numerator IS NULL), "
            "bool_or(denominator IS NULL) FROM (SELECT [unit_id, indicator, period] AS key, "
            f"lag([unit_id, indicator, period]) OVER (ORDER BY {self._order}) AS previous, numerator, denominator "
            f"FROM obs WHERE {where})"
        ).fetchall()[0]
        monotonic, no_num, no_den = (bool(f) for f in flags)
        order = self._order
        lists = (
            "SELECT unit_id, indicator, period, count(*) AS n_rows, bool_or(numerator IS NULL) AS no_num, "
            f"bool_or(denominator IS NULL) AS no_den, list(value ORDER BY {order}) AS l_value, "
            f"list(numerator ORDER BY {order}) AS l_numerator, "
            f"list(denominator ORDER BY {order}) AS l_denominator FROM obs WHERE {where} "
            "GROUP BY unit_id, indicator, period"
        )
        reduceat = {"value": monotonic, "numerator": monotonic and not no_num, "denominator": monotonic and not no_den}
        kahan = [c for c, by_reduceat in reduceat.items() if not by_reduceat]
        picked = ", ".join(f"l_{c}[{j}] AS {c}_{j}" for c in kahan for j in range(1, largest + 1))
        table = f"(SELECT *{', ' + picked if picked else ''} FROM ({lists}))"
        steps = _kahan_steps(table, {c: (f"{c}_{{j}}", f"{c}_{{j}} IS NOT NULL") for c in kahan}, largest)
        sums = {c: (f"s_{c}" if c in kahan else _reduceat_sql(f"l_{c}", largest)) for c in reduceat}
        return (
            f"SELECT unit_id, indicator, period, {sums['value']} / n_rows AS value, "
            f"CASE WHEN no_num THEN NULL ELSE {sums['numerator']} END AS numerator, "
            f"CASE WHEN no_den THEN NULL ELSE {sums['denominator']} END AS denominator FROM ({steps})"
        )

    def _materialise(self, where: str) -> pd.DataFrame:
        """Rows of ``obs`` (in file order) typed as validation types accepted rows."""
        relation = self._con.sql(f"SELECT * FROM obs {where} ORDER BY {self._order}")
        table = (getattr(relation, "to_arrow_table", None) or relation.arrow)()
        rows = table.to_pandas(split_blocks=True)
        del table
        data = typed_rows(rows, self._framework, self._extras)
        data.attrs["source"] = self._source
        return data


def _pairwise(terms: list[str]) -> str:
    """numpy's pairwise sum of ``terms`` (``pairwise_sum`` of its ``loops_utils``) as one SQL expression."""
    n = len(terms)
    if n < 8:
        out = "0.0::DOUBLE"
        for term in terms:
            out = f"({out} + {term})"
        return out
    if n <= 128:
        blocks = [terms[j] for j in range(8)]
        i = 8
        while i < n - n % 8:
            blocks = [f"({blocks[j]} + {terms[i + j]})" for j in range(8)]
            i += 8
        r = blocks
        out = f"((({r[0]} + {r[1]}) + ({r[2]} + {r[3]})) + (({r[4]} + {r[5]}) + ({r[6]} + {r[7]})))"
        for term in terms[i:]:
            out = f"({out} + {term})"
        return out
    half = n // 2
    half -= half % 8
    return f"({_pairwise(terms[:half])} + {_pairwise(terms[half:])})"


def _sequential_reduceat_sql(term: str, n: int) -> str:
    """``numpy.add.reduceat`` over the present months of ``term`` (``{j}`` the month, ``p{j}`` present), n ≤ 8.

    The first month present plus, added from 0.0 in order, the others (adding 0.0 for
    a month absent or already taken as the first changes nothing: the sum never is -0.0).
    """
    first = "coalesce(" + ", ".join(f"CASE WHEN p{j} THEN {term.format(j=j)} END" for j in range(1, n + 1)) + ")"
    rest = "0.0::DOUBLE"
    for j in range(2, n + 1):
        before = " OR ".join(f"p{k}" for k in range(1, j))
        rest = f"({rest} + CASE WHEN p{j} AND ({before}) THEN {term.format(j=j)} ELSE 0.0 END)"
    several = " + ".join(f"p{j}::INT" for j in range(1, n + 1))
    return f"(CASE WHEN {several} > 1 THEN {first} + {rest} ELSE {first} END)"


def _reduceat_sql(listed: str, largest: int) -> str:
    """``numpy.add.reduceat`` of the list ``listed`` (first element plus the pairwise sum of the rest).

    The sum pandas takes of a sorted group without missing values; lists of up to
    ``largest`` elements.
    """
    cases = []
    for n in range(1, largest + 1):
        items = [f"{listed}[{k}]" for k in range(1, n + 1)]
        expression = items[0] if n == 1 else f"({items[0]} + {_pairwise(items[1:])})"
        cases.append(f"WHEN {n} THEN {expression}")
    return f"(CASE len({listed}) {' '.join(cases)} END)"


def _esc(text: str) -> str:
    return str(text).replace("'", "''")


def typed_rows(rows: pd.DataFrame, framework: Framework, extras: Mapping[str, object]) -> pd.DataFrame:
    """Clean rows fetched from DuckDB (:data:`CLEAN_COLUMNS` and ``extras``) typed as validation types them.

    Adds ``deadline``, ``late`` and ``days_late`` (:func:`perfmodel.validation.lateness`).
    ``extras`` maps each extra column to the dtype of its text (``None``: as fetched).
    """
    period = rows["period"].astype(TEXT_DTYPE)
    submitted = pd.to_datetime(rows["submitted_at"]).astype("datetime64[ns]")
    deadline, late, days_late = lateness(period, submitted, framework)
    data = pd.DataFrame(
        {
            "period": period,
            "unit_id": rows["unit_id"].astype(TEXT_DTYPE),
            "indicator": rows["indicator"].astype(TEXT_DTYPE),
            "value": rows["value"].to_numpy(dtype=float) + 0.0,
            "numerator": rows["numerator"].to_numpy(dtype=float, na_value=np.nan),
            "denominator": rows["denominator"].to_numpy(dtype=float, na_value=np.nan),
            "rater_id": rows["rater_id"].astype(TEXT_DTYPE),
            "submitted_at": submitted,
            "deadline": deadline,
            "late": late,
            "days_late": days_late,
            "source_row": rows["source_row"].to_numpy(dtype=np.int64),
        }
    )
    for name, dtype in extras.items():
        data[name] = rows[name].astype(dtype) if dtype is not None else rows[name]
    return data
