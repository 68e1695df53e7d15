"""What crosses the boundary between a region and the coordinator.

Every object a region hands over is one of the frozen dataclasses below, and the
coordinator keeps each one it receives in an :class:`ExchangeLog`. A reader (or
a test) can list what crossed, field by field, with its shape and size in bytes,
and check that no array has one entry per data row.

* :class:`RegionInventory` — the region's name, its number of units and of data
  rows per indicator, and the levels of the categorical case-mix columns
  (needed to build one design matrix layout for all regions);
* :class:`UnitIndicatorStatistics` — per unit and indicator: months present,
  Σ value, Σ value², Σ numerator, Σ denominator, and the period value of the
  framework's roll-up (:func:`perfmodel.rollup.roll_up`);
* :class:`GlmContribution` — per IRLS iteration of a case-mix GLM: the region's
  score vector U = XᵀW(z − Xβ) (p), information matrix XᵀWX (p × p), deviance,
  Pearson χ² and number of rows;
* :class:`UnitTotals` — after the fit: per unit, observed total O, expected total
  E, the model variance of O and the Jacobian ∂E/∂β (units × p).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "ExchangeLog",
    "GlmContribution",
    "Message",
    "RegionInventory",
    "UnitIndicatorStatistics",
    "UnitTotals",
    "field_sizes",
]


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=False, deep=True).sum())
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, dict):
        return sum(_nbytes(k) + _nbytes(v) for k, v in value.items())
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 8


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, (np.ndarray, pd.DataFrame)):
        return tuple(int(n) for n in value.shape)
    if isinstance(value, (tuple, list, dict)):
        return (len(value),)
    return ()


def field_sizes(message: Any) -> pd.DataFrame:
    """One row per field of ``message``: ``field``, ``type``, ``shape``, ``nbytes``.

    A data frame field is listed column by column (``field.column``), each with
    the frame's length as its shape, so that every array that crossed is visible.
    """
    rows: list[dict[str, Any]] = []
    for f in fields(message):
        value = getattr(message, f.name)
        if isinstance(value, pd.DataFrame):
            for column in value.columns:
                col = value[column]
                rows.append(
                    {
                        "field": f"{f.name}.{column}",
                        "type": str(col.dtype),
                        "shape": (len(col),),
                        "nbytes": int(col.memory_usage(index=False, deep=True)),
                    }
                )
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                rows.append(
                    {
                        "field": f"{f.name}.{key}",
                        "type": type(item).__name__,
                        "shape": _shape(item),
                        "nbytes": _nbytes(item),
                    }
                )
            continue
        kind = str(value.dtype) if isinstance(value, np.ndarray) else type(value).__name__
        rows.append({"field": f.name, "type": kind, "shape": _shape(value), "nbytes": _nbytes(value)})
    return pd.DataFrame(rows, columns=["field", "type", "shape", "nbytes"])


class Message:
    """Mixin of the exchanged objects: :attr:`nbytes` and :meth:`describe`."""

    region: str

    @property
    def nbytes(self) -> int:
        """Bytes of all fields together."""
        return int(field_sizes(self)["nbytes"].sum())

    def describe(self) -> pd.DataFrame:
        """The fields with their type, shape and size in bytes (:func:`field_sizes`)."""
        return field_sizes(self)


@dataclass(frozen=True)
class RegionInventory(Message):
    """What a region says about itself before any model is fitted.

    Attributes
    ----------
    region
        The region's name.
    n_units
        Units in the comparison.
    rows
        Indicator id → number of data rows the region holds for it (a count,
        so that the coordinator can check what no later message may contain).
    levels
        Categorical case-mix column → its levels in the region (sorted).
    """

    region: str
    n_units: int
    rows: dict[str, int]
    levels: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class UnitIndicatorStatistics(Message):
    """Sufficient statistics per unit and indicator for the framework's scoring.

    ``table`` has one row per unit × indicator with columns ``unit_id``,
    ``indicator``, ``months_present``, ``n_rows``, ``sum_value``,
    ``sum_squares``, ``numerator``, ``denominator`` and ``value`` (the period
    value of :func:`perfmodel.rollup.roll_up`, which needs only these sums).
    """

    region: str
    table: pd.DataFrame


@dataclass(frozen=True)
class GlmContribution(Message):
    """A region's part of one IRLS (Fisher scoring) iteration of a case-mix GLM.

    With working weights W, working response z and the current coefficients β
    (zero at the start, where z comes from the family's starting means), the
    region sends U = XᵀW(z − Xβ) and I = XᵀWX over its rows; the coordinator
    sums both over regions and steps β ← β + (ΣI)⁻¹ ΣU, which is statsmodels'
    IRLS on the pooled rows.
    """

    region: str
    indicator: str
    iteration: int
    score: np.ndarray
    information: np.ndarray
    deviance: float
    pearson_chi2: float
    n_rows: int


@dataclass(frozen=True)
class UnitTotals(Message):
    """Per unit observed and expected totals of one indicator at the fitted β.

    ``observed`` O = Σ w·y, ``expected`` E = Σ w·μ, ``variance`` Σ w·V(μ)
    (the model variance of O at scale 1), ``jacobian`` ∂E/∂β (units × p), so the
    coordinator can propagate the coefficients' uncertainty into E.
    """

    region: str
    indicator: str
    unit_id: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    weight: np.ndarray
    jacobian: np.ndarray


M = TypeVar("M", bound=Message)


@dataclass
class ExchangeLog:
    """Every message the coordinator received, in order."""

    messages: list[Message]

    def record(self, message: M) -> M:
        """Keep ``message`` and return it."""
        self.messages.append(message)
        return message

    def to_frame(self) -> pd.DataFrame:
        """One row per message field.

        Columns ``number``, ``region``, ``message``, ``indicator``, ``iteration``,
        ``field``, ``type``, ``shape``, ``nbytes``.
        """
        parts = []
        for number, message in enumerate(self.messages):
            sizes = field_sizes(message)
            sizes.insert(0, "iteration", getattr(message, "iteration", pd.NA))
            sizes.insert(0, "indicator", getattr(message, "indicator", pd.NA))
            sizes.insert(0, "message", type(message).__name__)
            sizes.insert(0, "region", message.region)
            sizes.insert(0, "number", number)
            parts.append(sizes)
        if not parts:
            return pd.DataFrame(
                columns=["number", "region", "message", "indicator", "iteration", "field", "type", "shape", "nbytes"]
            )
        return pd.concat(parts, ignore_index=True)

    def totals(self) -> pd.DataFrame:
        """Messages and bytes per region and message type."""
        frame = self.to_frame()
        return (
            frame.groupby(["region", "message"], sort=True)
            .agg(messages=("number", "nunique"), nbytes=("nbytes", "sum"))
            .reset_index()
        )

    @property
    def nbytes(self) -> int:
        """Bytes of every message together."""
        return int(sum(m.nbytes for m in self.messages))
