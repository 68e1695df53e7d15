"""Alternative aggregations and composite indicators built from others.

Aggregations of a flat wide frame (units × indicators, normalised, higher is
better) with indicator weights, returning one score per unit:

* :func:`power_mean` — the generalised weighted mean ``(Σ w x^p / Σ w)^(1/p)``:
  arithmetic (p = 1), geometric (p → 0), harmonic (p = −1). The lower ``p``, the
  less a strong indicator compensates a weak one;
* :func:`mazziotta_pareto` — the Mazziotta–Pareto index: the mean of
  standardised indicators penalised by their spread across indicators
  (non-compensatory: an unbalanced unit scores lower than a balanced one with the
  same mean);
* :func:`copeland` — outranking (Munda & Nardo 2009): unit ``a`` beats ``b`` when
  the indicators on which ``a`` is better carry more than half the weight; the
  score is wins minus losses. Fully non-compensatory: only the direction of each
  difference counts, never its size.

:func:`compare_aggregations` scores an evaluation's normalised indicators with
each of them. :func:`add_composite` builds a composite indicator from others
(R10: clearance time + citizen satisfaction instead of the clearance rate alone)
and records its components in the frame, so reports can trace them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perfmodel.aggregate import weighted_mean
from perfmodel.errors import PerfmodelError
from perfmodel.evaluation import Evaluation
from perfmodel.framework import Name
from perfmodel.grading import rank_scores
from perfmodel.normalise import normalise, orient
from perfmodel.text import check_lang
from perfmodel.weights import effective_weights

__all__ = [
    "AggregationError",
    "AGGREGATIONS",
    "power_mean",
    "arithmetic_mean",
    "geometric_mean",
    "harmonic_mean",
    "mazziotta_pareto",
    "copeland",
    "aggregate_flat",
    "compare_aggregations",
    "Composite",
    "add_composite",
    "composites",
    "composite_table",
]


class AggregationError(PerfmodelError, ValueError):
    """An aggregation that cannot be computed as asked."""


def _weights(X: pd.DataFrame, weights: Mapping[str, float] | pd.Series | None) -> pd.Series:
    if weights is None:
        return pd.Series(1.0, index=X.columns)
    w = pd.Series(weights, dtype=float)
    missing = [c for c in w.index if c not in X.columns]
    if missing:
        raise AggregationError(f"no values for weighted indicator(s): {', '.join(missing)}")
    if (w < 0).any():
        raise AggregationError("weights must be non-negative")
    return w


# ---------------------------------------------------------------- power means
TINY_EXPONENT = 1e-12
"""Below this |p| the power mean equals the geometric mean to double precision; it is computed as one."""


def power_mean(
    X: pd.DataFrame,
    weights: Mapping[str, float] | pd.Series | None = None,
    p: float = 1.0,
    *,
    floor: float = 1.0,
) -> pd.Series:
    """Weighted power (generalised) mean of each row; missing values are skipped.

    For ``p ≤ 0`` values are raised to ``floor`` first (0 would give 0 or an
    infinite term), as :func:`perfmodel.aggregate.weighted_mean` does for the
    geometric mean.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [100.0, 50.0], "b": [25.0, 50.0]})
    >>> power_mean(X, p=-1).tolist()  # harmonic: 2 / (1/100 + 1/25)
    [40.0, 50.0]
    """
    w = _weights(X, weights)
    if p == 1:
        return weighted_mean(X, w.to_dict(), "arithmetic")
    if p == 0:
        return weighted_mean(X, w.to_dict(), "geometric", floor=floor)
    values = X[w.index].to_numpy(dtype=float)
    present = ~np.isnan(values)
    if p < 0:
        values = np.maximum(values, floor)
    elif (values[present] < 0).any():
        raise AggregationError("power means with p > 0 need non-negative values")
    wp = np.where(present, w.to_numpy(), 0.0)
    total = wp.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(present, values, 1.0)
        if abs(p) >= 1e-3:
            result = ((x**p * wp).sum(axis=1) / total) ** (1 / p)
        elif abs(p) >= TINY_EXPONENT:  # exp(log1p(Σ w expm1(p ln x) / Σ w) / p): stable as p → 0
            result = np.exp(np.log1p((np.expm1(p * np.log(x)) * wp).sum(axis=1) / total) / p)
        else:  # the limit p → 0: the geometric mean of x (p ln x would underflow)
            result = np.exp((np.log(x) * wp).sum(axis=1) / total)
    return pd.Series(np.where(total > 0, result, np.nan), index=X.index)


def arithmetic_mean(X: pd.DataFrame, weights=None) -> pd.Series:
    """Weighted arithmetic mean (fully compensatory)."""
    return power_mean(X, weights, 1.0)


def geometric_mean(X: pd.DataFrame, weights=None, *, floor: float = 1.0) -> pd.Series:
    """Weighted geometric mean (values floored at ``floor``)."""
    return power_mean(X, weights, 0.0, floor=floor)


def harmonic_mean(X: pd.DataFrame, weights=None, *, floor: float = 1.0) -> pd.Series:
    """Weighted harmonic mean (values floored at ``floor``)."""
    return power_mean(X, weights, -1.0, floor=floor)


# ---------------------------------------------------------------- Mazziotta–Pareto
def mazziotta_pareto(
    X: pd.DataFrame,
    weights: Mapping[str, float] | pd.Series | None = None,
    *,
    penalty: str = "negative",
    standardise: bool = True,
) -> pd.Series:
    """Mazziotta–Pareto index (MPI, Mazziotta & Pareto 2016).

    Each indicator is standardised to ``z = 100 + 10 (x − M_x) / S_x`` (population
    standard deviation over units); a unit's index is ``M_z − S_z · cv`` with
    ``M_z`` and ``S_z`` the mean and population standard deviation of its ``z``
    values across indicators and ``cv = S_z / M_z`` — i.e. ``M_z − S_z² / M_z``.
    ``penalty="positive"`` adds the penalty instead (for "higher is worse"
    phenomena). With ``weights`` the mean and variance across indicators are
    weighted (an extension of the original, unweighted index). Missing values are
    skipped.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2, 3], "b": [3.0, 2, 1]})
    >>> mazziotta_pareto(X).round(6).tolist()  # the balanced unit wins
    [98.5, 100.0, 98.5]
    """
    w = _weights(X, weights)
    data = X[w.index].astype(float)
    if standardise:
        sd = data.std(ddof=0).replace(0, np.nan)
        data = 100 + 10 * (data - data.mean()) / sd
        data = data.fillna(100.0).where(X[w.index].notna())
    values = data.to_numpy()
    present = ~np.isnan(values)
    wp = np.where(present, w.to_numpy(), 0.0)
    total = wp.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (np.where(present, values, 0.0) * wp).sum(axis=1) / total
        var = (np.where(present, (values - mean[:, None]) ** 2, 0.0) * wp).sum(axis=1) / total
        adjustment = var / mean
    if penalty == "negative":
        index = mean - adjustment
    elif penalty == "positive":
        index = mean + adjustment
    else:
        raise AggregationError("penalty must be 'negative' or 'positive'")
    return pd.Series(np.where(total > 0, index, np.nan), index=X.index)


# ---------------------------------------------------------------- Copeland
def copeland(
    X: pd.DataFrame,
    weights: Mapping[str, float] | pd.Series | None = None,
    *,
    chunk: int = 256,
) -> pd.Series:
    """Copeland outranking score: pairwise wins minus losses.

    For units ``a`` and ``b`` the concordance of ``a`` over ``b`` is the weight of
    the indicators on which ``a`` is better plus half the weight of ties (over the
    indicators both have); ``a`` beats ``b`` when it exceeds half of that total.
    Weights are added in floating point, so the two sides are compared with a
    tolerance (relative 1e-9, absolute 1e-12 of the total weight): with weights
    0.1, 0.2 and 0.3, winning on the first two against the third is a tie, as it
    is mathematically, not a win decided by rounding (0.1 + 0.2 > 0.3 in binary).

    Examples
    --------
    >>> X = pd.DataFrame({"i": [3, 2, 1], "j": [3, 1, 2], "k": [1, 3, 2]}, index=list("ABC"))
    >>> copeland(X).tolist()
    [2.0, 0.0, -2.0]
    """
    weight = _weights(X, weights)
    w = weight.to_numpy()
    values = X[weight.index].to_numpy(dtype=float)
    n = len(values)
    score = np.zeros(n)
    for start in range(0, n, chunk):
        block = values[start : start + chunk]
        better = np.zeros((len(block), n))
        worse = np.zeros((len(block), n))
        for k in range(values.shape[1]):
            a, b = block[:, [k]], values[None, :, k]
            better += w[k] * (a > b)
            worse += w[k] * (a < b)
        tied = np.isclose(better, worse, rtol=1e-9, atol=1e-12 * max(w.sum(), 1.0))
        wins = ((better > worse) & ~tied).sum(axis=1)
        losses = ((better < worse) & ~tied).sum(axis=1)
        score[start : start + chunk] = wins - losses
    return pd.Series(score, index=X.index)


AGGREGATIONS = {
    "arithmetic": arithmetic_mean,
    "geometric": geometric_mean,
    "harmonic": harmonic_mean,
    "mazziotta_pareto": mazziotta_pareto,
    "copeland": copeland,
}
"""Flat aggregations by name (``X, weights -> scores``)."""


def aggregate_flat(
    X: pd.DataFrame, weights: Mapping[str, float] | pd.Series | None, method: str, **options
) -> pd.Series:
    """Aggregate with a method of :data:`AGGREGATIONS`, or ``power:<p>`` for any power mean."""
    if method.startswith("power:"):
        return power_mean(X, weights, float(method.split(":", 1)[1]), **options)
    if method not in AGGREGATIONS:
        raise AggregationError(f"unknown aggregation {method!r}; use {', '.join(AGGREGATIONS)} or power:<p>")
    return AGGREGATIONS[method](X, weights, **options)


def compare_aggregations(
    ev: Evaluation,
    methods: Sequence[str] = ("arithmetic", "geometric", "harmonic", "mazziotta_pareto", "copeland"),
    *,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Score an evaluation's normalised indicators with each aggregation.

    Uses the effective indicator weights (stated, or the node weights
    ``weights``) on the flat list of indicators; with complete data the flat
    arithmetic and geometric means equal the tree aggregation. Ranks are over all
    units (1 = best); difficulty, bonus and deductions are not applied.

    Returns
    -------
    pandas.DataFrame
        unit_id, then ``score:<method>`` and ``rank:<method>`` for each method.
    """
    fw = ev.framework
    eff = pd.Series(effective_weights(fw, weights if weights is not None else ev.stated_weights()), dtype=float)
    X = ev.stages["normalised"].reindex(columns=list(eff.index)).astype(float)
    out = pd.DataFrame({"unit_id": X.index})
    for method in methods:
        scores = aggregate_flat(X, eff, method)
        out[f"score:{method}"] = scores.to_numpy()
        out[f"rank:{method}"] = rank_scores(scores).to_numpy()
    return out


# ---------------------------------------------------------------- composites (R10)
@dataclass(frozen=True)
class Composite:
    """A composite indicator and how it was built from its components."""

    id: str
    components: dict[str, float]
    directions: dict[str, str] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    normalisation: str = "minmax"
    method: str = "arithmetic"
    name: Name | None = None

    def describe(self, lang: str = "zh") -> str:
        """One line naming the components and their weights."""
        check_lang(lang)
        total = sum(self.components.values())
        parts = " + ".join(f"{w / total:.0%} {c}" for c, w in self.components.items())
        label = (self.name.in_lang(lang)) if self.name else self.id
        return f"{label} = {self.method}({parts}; {self.normalisation})"


def add_composite(
    wide: pd.DataFrame,
    id: str,
    components: Mapping[str, float],
    *,
    directions: Mapping[str, str] | None = None,
    targets: Mapping[str, float] | None = None,
    name: Name | Mapping[str, str] | None = None,
    normalisation: str = "minmax",
    method: str = "arithmetic",
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """Add a composite indicator built from other columns; record its components.

    The components (natural units) are oriented (``directions``: ``higher``,
    ``lower`` or ``target`` with ``targets``), normalised to 0–100 (optionally
    within ``groups``) and aggregated with ``method`` (any of
    :data:`AGGREGATIONS` or ``power:<p>``). The result is a copy of ``wide`` with
    the new column; ``composites(result)`` returns how every composite was made.

    Examples
    --------
    R10 (seed 000): replace the clearance rate by clearance time + satisfaction.

    >>> wide = pd.DataFrame({"clearance_days": [10.0, 20, 30], "satisfaction": [0.9, 0.95, 0.8]})
    >>> out = add_composite(wide, "clearance_effectiveness",
    ...                     {"clearance_days": 0.5, "satisfaction": 0.5},
    ...                     directions={"clearance_days": "lower"},
    ...                     name={"zh": "破案综合效能", "en": "Clearance effectiveness"})
    >>> out["clearance_effectiveness"].round(1).tolist()
    [83.3, 75.0, 0.0]
    >>> composites(out)["clearance_effectiveness"].components
    {'clearance_days': 0.5, 'satisfaction': 0.5}
    """
    if id in wide.columns:
        raise AggregationError(f"column {id!r} already exists; choose another id for the composite")
    missing = [c for c in components if c not in wide.columns]
    if missing:
        raise AggregationError(
            f"composite {id!r}: component column(s) {', '.join(missing)} not in the frame "
            f"(columns: {', '.join(map(str, wide.columns))})"
        )
    if len(components) < 2:
        raise AggregationError(f"composite {id!r} needs at least two components")
    directions = dict(directions or {})
    targets = dict(targets or {})
    oriented = orient(wide[list(components)], directions, targets)
    scaled = normalise(oriented, normalisation, groups=groups)
    values = aggregate_flat(scaled, dict(components), method)
    label = name if isinstance(name, Name) or name is None else Name(**name)
    record = Composite(
        id=id,
        components=dict(components),
        directions={c: directions.get(c, "higher") for c in components},
        targets={c: targets[c] for c in components if c in targets},
        normalisation=normalisation,
        method=method,
        name=label,
    )
    out = wide.copy()
    out[id] = values
    out.attrs = {**wide.attrs, "composites": {**wide.attrs.get("composites", {}), id: record}}
    return out


def composites(frame: pd.DataFrame) -> dict[str, Composite]:
    """The composites recorded on a frame by :func:`add_composite`."""
    return dict(frame.attrs.get("composites", {}))


def composite_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per composite component: composite, name, component, weight, direction, method."""
    rows = []
    for record in composites(frame).values():
        total = sum(record.components.values())
        for component, weight in record.components.items():
            rows.append(
                {
                    "composite": record.id,
                    "name_zh": record.name.zh if record.name else None,
                    "name_en": record.name.en if record.name else None,
                    "component": component,
                    "weight": weight / total,
                    "direction": record.directions.get(component, "higher"),
                    "normalisation": record.normalisation,
                    "method": record.method,
                }
            )
    columns = ["composite", "name_zh", "name_en", "component", "weight", "direction", "normalisation", "method"]
    return pd.DataFrame(rows, columns=columns)
