"""Where an evaluation reads its clean observations: a pandas frame, or a columnar engine.

:class:`~perfmodel.evaluation.Evaluation` never touches the row-level
observations directly. It asks an :class:`ObservationSource` for the few
things it needs from them, each already reduced to the units it scores:

- :meth:`~ObservationSource.rolled_values` — the period's value of every unit ×
  indicator as one unit × indicator table, what everything after the roll-up
  works on; :meth:`~ObservationSource.roll_up` — the long roll-up with its
  numerators, denominators and methods (:func:`perfmodel.rollup.roll_up`), read
  only when an analysis asks for ``stages["rolled"]``;
- :meth:`~ObservationSource.months_with_data` — months with data per unit (the
  coverage rule of :mod:`perfmodel.coverage`);
- :meth:`~ObservationSource.late_counts` — rows reported late per unit;
- :meth:`~ObservationSource.count_rows` and :meth:`~ObservationSource.months`
  — for the checks and messages;
- :meth:`~ObservationSource.rows` — the period's rows themselves, only for the
  analyses that need rows (rater calibration, the report's data section).

:class:`FrameSource` answers from a pandas frame, with the functions the
pipeline has always used. A columnar source (:mod:`perfmodel.engine`) answers
the same questions in SQL, so only unit-level tables reach pandas; a source of
per-partition aggregates answers them for a national evaluation on Dask
(:mod:`perfmodel.partitioned`). Every source gives the same answers on the same
rows — tests compare them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, runtime_checkable

import pandas as pd

from perfmodel.errors import PerfmodelError
from perfmodel.periods import months_in, period_label
from perfmodel.rollup import ROLLUP_COLUMNS, roll_up, rolled_values

__all__ = [
    "ObservationSource",
    "FrameSource",
    "as_source",
    "Aggregates",
    "aggregate_observations",
    "AggregateSource",
    "RowsNotHeld",
    "among",
]


def among(values: pd.Series | pd.Index, units: pd.Index | pd.Series) -> Any:
    """Whether each of ``values`` is one of ``units``: ``values.isin(units)`` as a boolean array.

    Looked up in a hash index of the units: ``isin`` against hundreds of thousands of
    unit ids in Arrow text takes seconds, this a tenth of that.

    Examples
    --------
    >>> among(pd.Series(["a", "c", "b"]), pd.Index(["b", "a", "b"])).tolist()
    [True, False, True]
    """
    index = pd.Index(units).unique()
    return index.get_indexer(values) >= 0


@runtime_checkable
class ObservationSource(Protocol):
    """The questions an evaluation asks of its clean observations."""

    def months(self) -> list[str]:
        """Every month (``YYYY-MM``) with at least one observation, sorted."""
        ...

    def count_rows(self, units: pd.Index, months: Sequence[str]) -> int:
        """Number of observation rows of ``units`` in ``months``."""
        ...

    def rows(self, units: pd.Index, months: Sequence[str]) -> pd.DataFrame:
        """The observation rows of ``units`` in ``months`` (a frame, index 0 … n−1)."""
        ...

    def roll_up(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        """:func:`perfmodel.rollup.roll_up` of the rows of ``units``, in its row order."""
        ...

    def rolled_values(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        """The ``value`` of :meth:`roll_up` as a unit × indicator table (:func:`perfmodel.rollup.rolled_values`)."""
        ...

    def months_with_data(self, units: pd.Index, months: Sequence[str], inputs: Iterable[str]) -> pd.Series:
        """Distinct months among ``months`` in which each unit has a row of an indicator in ``inputs``.

        Indexed by ``units`` (in that order), 0 for a unit without any, dtype int.
        """
        ...

    def late_counts(self, units: pd.Index, months: Sequence[str]) -> pd.Series | None:
        """Rows marked ``late`` per unit in ``months`` (units with at least one), or ``None`` without that column."""
        ...

    def frame(self) -> pd.DataFrame:
        """Every clean observation row as one frame (may be large: for analyses of small data)."""
        ...

    def hand_back_memory(self) -> None:
        """Give back the memory the source keeps between its queries (a database's cache), before the
        unit-level steps; nothing to do for a source in pandas."""
        ...


class FrameSource:
    """An :class:`ObservationSource` over clean observations held in a pandas frame.

    Parameters
    ----------
    observations
        Clean long observations (:func:`perfmodel.validation.validate_observations`).

    Examples
    --------
    >>> obs = pd.DataFrame({"period": ["2025-04", "2025-05", "2025-04"], "unit_id": ["A", "A", "B"],
    ...     "indicator": ["r", "r", "r"], "value": [0.5, 1.0, 0.2],
    ...     "numerator": [1.0, 9.0, 1.0], "denominator": [2.0, 9.0, 5.0]})
    >>> source = FrameSource(obs)
    >>> source.months_with_data(pd.Index(["A", "B", "C"]), ["2025-04", "2025-05"], ["r"]).tolist()
    [2, 1, 0]
    """

    def __init__(self, observations: pd.DataFrame) -> None:
        self._frame = observations
        self._last: tuple[pd.Index, pd.DataFrame] | None = None  # the rows of the units asked last
        self._rolled: tuple[pd.Index, tuple[object, ...], pd.DataFrame] | None = None  # the roll-up asked last

    def _of(self, units: pd.Index, months: Sequence[str] | None = None) -> pd.DataFrame:
        if self._last is not None and self._last[0].equals(units):
            obs = self._last[1]
        else:
            obs = self._frame[among(self._frame["unit_id"], units)]
            self._last = (units, obs)
        if months is not None:
            keep = obs["period"].isin(list(months))
            return obs[keep]
        return obs

    def months(self) -> list[str]:
        return sorted(map(str, self._frame["period"].unique()))

    def count_rows(self, units: pd.Index, months: Sequence[str]) -> int:
        return len(self._of(units, months))

    def rows(self, units: pd.Index, months: Sequence[str]) -> pd.DataFrame:
        return self._of(units, months).reset_index(drop=True)

    def roll_up(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        key = (period_label(period), tuple(sorted(kinds.items())))
        if self._rolled is None or self._rolled[1] != key or not self._rolled[0].equals(units):
            self._rolled = (units, key, roll_up(self._of(units), kinds, period))
        return self._rolled[2].copy(deep=False)  # copy-on-write: the caller's changes never reach the one kept

    def rolled_values(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        return rolled_values(self.roll_up(units, kinds, period), units)

    def months_with_data(self, units: pd.Index, months: Sequence[str], inputs: Iterable[str]) -> pd.Series:
        used = self._of(units, months)
        used = used[used["indicator"].isin(set(inputs))]
        return used.groupby("unit_id")["period"].nunique().reindex(units, fill_value=0).astype(int)

    def late_counts(self, units: pd.Index, months: Sequence[str]) -> pd.Series | None:
        if "late" not in self._frame.columns:
            return None
        late = self._of(units, months).groupby("unit_id")["late"].sum()
        return late[late > 0]

    def frame(self) -> pd.DataFrame:
        return self._frame

    def hand_back_memory(self) -> None:
        return None  # the frame is the caller's; nothing is kept between questions


def as_source(observations: pd.DataFrame | ObservationSource) -> ObservationSource:
    """``observations`` as an :class:`ObservationSource` (a frame is wrapped in :class:`FrameSource`)."""
    if isinstance(observations, pd.DataFrame):
        return FrameSource(observations)
    return observations


# ----------------------------------------------------------------------------- per-unit aggregates
@dataclass
class Aggregates:
    """What an evaluation asks of a set of clean observations, reduced to its units.

    Pass 1 of a national evaluation (:func:`perfmodel.partitioned.evaluate_national`):
    each partition's rows are reduced to this, on the worker that read them, and
    :class:`AggregateSource` answers from the partitions' aggregates put together.
    Every answer is a per-unit quantity, so it is exact as long as each unit's rows
    are all in one partition.

    Attributes
    ----------
    kinds
        The roll-up rule per indicator the roll-ups were made with.
    rolled
        Period label → :func:`perfmodel.rollup.roll_up` of the rows for that period.
    counts
        One row per unit × month with rows, in the months of those periods:
        ``unit_id``, ``period``, ``rows`` and ``late`` (rows marked late).
    counted
        The months of those periods (the months ``counts`` covers).
    months
        Every month with at least one row (sorted), whether counted or not.
    indicators
        The indicators with at least one row.
    has_late
        Whether the observations carry the ``late`` column.
    """

    kinds: dict[str, str]
    rolled: dict[str, pd.DataFrame]
    counts: pd.DataFrame
    counted: list[str]
    months: list[str]
    indicators: list[str]
    has_late: bool


def aggregate_observations(
    observations: pd.DataFrame, kinds: Mapping[str, str], periods: Iterable[pd.Period | str]
) -> Aggregates:
    """Reduce clean observations to the :class:`Aggregates` of ``periods`` (runs where the rows are).

    Parameters
    ----------
    observations
        Clean long observations (:func:`perfmodel.validation.validate_observations`).
    kinds
        Indicator id → roll-up rule (:meth:`perfmodel.framework.Framework.rollup_kinds`).
    periods
        Every period the evaluation will ask about (its own, the previous one,
        those carried forward from).
    """
    labels = list(dict.fromkeys(period_label(p) for p in periods))
    counted = sorted({str(m) for label in labels for m in months_in(label)})
    has_late = "late" in observations.columns
    rows = observations[observations["period"].isin(counted)]
    late = rows["late"].astype("int64") if has_late else pd.Series(0, index=rows.index, dtype="int64")
    counts = (
        rows.assign(late=late)
        .groupby(["unit_id", "period"], sort=True)
        .agg(rows=("late", "size"), late=("late", "sum"))
        .reset_index()
    )
    return Aggregates(
        kinds=dict(kinds),
        rolled={label: roll_up(observations, kinds, label) for label in labels},
        counts=counts,
        counted=counted,
        months=sorted(map(str, observations["period"].unique())),
        indicators=sorted(map(str, observations["indicator"].unique())),
        has_late=has_late,
    )


class RowsNotHeld(pd.DataFrame):
    """Stands for observation rows an :class:`AggregateSource` does not hold: their number, no columns.

    ``len()`` is the exact number of rows asked for (what an evaluation reports as
    observations used); selecting a column raises :class:`~perfmodel.errors.PerfmodelError`
    naming what needs the rows and how to get them.
    """

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def __getitem__(self, key: Any) -> NoReturn:
        raise _rows_not_held(f"the column {key!r} of the observation rows")


def _rows_not_held(what: str) -> PerfmodelError:
    return PerfmodelError(
        key="error.aggregates_hold_no_rows", hint_key="error.aggregates_hold_no_rows_hint", values={"what": what}
    )


class AggregateSource:
    """An :class:`ObservationSource` over per-unit :class:`Aggregates`, e.g. of several partitions.

    The answers are those a :class:`FrameSource` over the same rows gives, for the
    periods the aggregates were made for, provided each unit's rows are in one part.
    The rows themselves are not held: :meth:`rows` gives only their number
    (:class:`RowsNotHeld`) and :meth:`frame` raises, so analyses that need rows (rater
    calibration, the data-quality section of a report) run on one partition or in
    one process.

    Parameters
    ----------
    parts
        The aggregates of each part, made with the same roll-up rules and periods.

    Examples
    --------
    >>> obs = pd.DataFrame({"period": ["2025-04", "2025-05", "2025-04"], "unit_id": ["A", "A", "B"],
    ...     "indicator": ["r", "r", "r"], "value": [0.5, 1.0, 0.2],
    ...     "numerator": [1.0, 9.0, 1.0], "denominator": [2.0, 9.0, 5.0]})
    >>> parts = [aggregate_observations(obs[obs["unit_id"] == u], {"r": "rate"}, ["2025Q2"]) for u in "AB"]
    >>> AggregateSource(parts).months_with_data(pd.Index(["A", "B", "C"]), ["2025-04", "2025-05"], ["r"]).tolist()
    [2, 1, 0]
    """

    def __init__(self, parts: Iterable[Aggregates]) -> None:
        parts = list(parts)
        if not parts:
            raise PerfmodelError("an AggregateSource needs the aggregates of at least one part")
        first = parts[0]
        for part in parts[1:]:
            if part.kinds != first.kinds or set(part.rolled) != set(first.rolled) or part.counted != first.counted:
                raise PerfmodelError("the parts' aggregates were made with different roll-up rules or periods")
        self.kinds = first.kinds
        self.rolled = {label: _concat_rolled([p.rolled[label] for p in parts]) for label in first.rolled}
        counts = [p.counts for p in parts if len(p.counts)]
        self.counts = pd.concat(counts, ignore_index=True) if counts else first.counts
        self.counted = first.counted
        self._months = sorted(set().union(*(p.months for p in parts)))
        self.indicators = sorted(set().union(*(p.indicators for p in parts)))
        self.has_late = any(p.has_late for p in parts)

    def _counts(self, units: pd.Index, months: Sequence[str]) -> pd.DataFrame:
        outside = sorted(set(map(str, months)) - set(self.counted))
        if outside:
            raise PerfmodelError(
                f"the aggregates count the rows of {', '.join(self.counted)}; {', '.join(outside)} was asked",
                "reduce the observations for every period the evaluation asks (perfmodel.partitioned.periods_asked)",
            )
        counts = self.counts
        return counts[among(counts["unit_id"], units) & counts["period"].isin(list(months)).to_numpy()]

    def months(self) -> list[str]:
        return list(self._months)

    def count_rows(self, units: pd.Index, months: Sequence[str]) -> int:
        return int(self._counts(units, months)["rows"].sum())

    def rows(self, units: pd.Index, months: Sequence[str]) -> pd.DataFrame:
        return RowsNotHeld(index=pd.RangeIndex(self.count_rows(units, months)))

    def roll_up(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        label = period_label(period)
        if dict(kinds) != self.kinds or label not in self.rolled:
            held = ", ".join(self.rolled)
            raise PerfmodelError(
                f"the aggregates hold roll-ups of {held} by the framework's rules; {label} was asked"
                + ("" if dict(kinds) == self.kinds else " with other rules"),
                "reduce the observations for every period the evaluation asks (perfmodel.partitioned.periods_asked)",
            )
        table = self.rolled[label]
        table = table[among(table["unit_id"], units)]
        if table.empty:
            return pd.DataFrame(columns=ROLLUP_COLUMNS)
        return table.reset_index(drop=True)

    def rolled_values(self, units: pd.Index, kinds: Mapping[str, str], period: pd.Period) -> pd.DataFrame:
        return rolled_values(self.roll_up(units, kinds, period), units)

    def months_with_data(self, units: pd.Index, months: Sequence[str], inputs: Iterable[str]) -> pd.Series:
        if not set(self.indicators) <= set(inputs):
            raise PerfmodelError(
                "the aggregates count months over every indicator; months with data of only some "
                f"({', '.join(sorted(set(inputs)))}) need the rows"
            )
        used = self._counts(units, months)
        return used.groupby("unit_id")["period"].nunique().reindex(units, fill_value=0).astype(int)

    def late_counts(self, units: pd.Index, months: Sequence[str]) -> pd.Series | None:
        if not self.has_late:
            return None
        late = self._counts(units, months).groupby("unit_id")["late"].sum()
        return late[late > 0]

    def frame(self) -> pd.DataFrame:
        raise _rows_not_held("the observation rows (Evaluation.observations)")

    def hand_back_memory(self) -> None:
        return None  # the aggregates are all it holds, and each evaluation needs them


def _concat_rolled(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Roll-ups of disjoint units as one, in :func:`~perfmodel.rollup.roll_up`'s order (unit, indicator)."""
    held = [t for t in tables if len(t)]
    if not held:
        return pd.DataFrame(columns=ROLLUP_COLUMNS)
    out = pd.concat(held, ignore_index=True)
    return out.sort_values(["unit_id", "indicator"], kind="stable").reset_index(drop=True)
