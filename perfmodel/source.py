"""Where an evaluation reads its clean observations: a pandas frame, or a columnar engine.

:class:`~perfmodel.evaluation.Evaluation` never touches the row-level
observations directly. It asks an :class:`ObservationSource` for the few
things it needs from them, each already reduced to the units it scores:

- :meth:`~ObservationSource.roll_up` — the period's value of every unit ×
  indicator (:func:`perfmodel.rollup.roll_up`), the table everything after the
  roll-up works on;
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
from typing import Protocol, runtime_checkable

import pandas as pd

from perfmodel.rollup import roll_up

__all__ = ["ObservationSource", "FrameSource", "as_source"]


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

    def _of(self, units: pd.Index, months: Sequence[str] | None = None) -> pd.DataFrame:
        if self._last is not None and self._last[0].equals(units):
            obs = self._last[1]
        else:
            obs = self._frame[self._frame["unit_id"].isin(units)]
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
        return roll_up(self._of(units), kinds, period)

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


def as_source(observations: pd.DataFrame | ObservationSource) -> ObservationSource:
    """``observations`` as an :class:`ObservationSource` (a frame is wrapped in :class:`FrameSource`)."""
    if isinstance(observations, pd.DataFrame):
        return FrameSource(observations)
    return observations
