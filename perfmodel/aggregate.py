"""Aggregation: weighted means up the framework's tree.

Every inner node's value is the weighted mean of its children's values, level by
level from the indicators to the root (``score``). Arithmetic means compensate
(a weak indicator can be offset by a strong one); geometric means penalise
imbalance. Zeros would wipe out a geometric mean, so values are floored at
``floor`` first (1 on a 0–100 scale by default) — a documented, visible choice
rather than a silent ``0``.

When a child is missing for a unit and ``respread`` is on, its weight is spread
over the children that are present (the weighted mean of what is there); the
share of the unit's total weight actually observed is returned as
``availability`` so that poorly covered units can be excluded explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from perfmodel.framework import Dimension, Framework

__all__ = ["weighted_mean", "aggregate_tree", "availability"]

Method = Literal["arithmetic", "geometric"]


def weighted_mean(
    X: pd.DataFrame,
    weights: Mapping[str, float],
    method: Method = "arithmetic",
    *,
    respread: bool = True,
    floor: float = 1.0,
) -> pd.Series:
    """Row-wise weighted mean of the columns named in ``weights``.

    Parameters
    ----------
    X
        Wide frame with (at least) the columns in ``weights``.
    weights
        Non-negative weights; they need not sum to 1 (they are normalised), so
        scaling all weights by a constant leaves the result unchanged.
    method
        ``arithmetic`` or ``geometric``.
    respread
        With missing values: ``True`` averages over the columns present;
        ``False`` makes the result missing.
    floor
        Geometric mean only: values below ``floor`` are raised to it.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [100.0, 0.0], "b": [50.0, np.nan]})
    >>> weighted_mean(X, {"a": 3, "b": 1}).tolist()
    [87.5, 0.0]
    >>> weighted_mean(X, {"a": 1, "b": 1}, respread=False).isna().tolist()
    [False, True]
    """
    columns = list(weights)
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise KeyError(f"no values for: {', '.join(missing)}")
    values = X[columns].to_numpy(dtype=float)
    w = np.array([weights[c] for c in columns], dtype=float)
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    present = ~np.isnan(values)
    w_present = np.where(present, w, 0.0)
    total = w_present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "arithmetic":
            result = np.nansum(np.where(present, values * w, 0.0), axis=1) / total
        elif method == "geometric":
            logs = np.log(np.maximum(np.where(present, values, floor), floor))
            result = np.exp(np.sum(logs * w_present, axis=1) / total)
        else:
            raise ValueError(f"unknown aggregation {method!r}; use 'arithmetic' or 'geometric'")
    result = np.where(total > 0, result, np.nan)
    if not respread:
        result = np.where(present[:, w > 0].all(axis=1), result, np.nan)
    return pd.Series(result, index=X.index)


def aggregate_tree(
    normalised: pd.DataFrame,
    framework: Framework,
    method: Method | None = None,
    *,
    respread: bool | None = None,
    floor: float | None = None,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Aggregate normalised indicators level by level up the framework's tree.

    Parameters
    ----------
    normalised
        Wide frame of normalised indicator values (columns: indicator ids).
    framework
        The tree and default aggregation settings.
    method, respread, floor
        Override the framework's ``aggregation`` settings.
    weights
        Optional replacement weights by node id (for sensitivity analysis);
        nodes not named keep their framework weight. Unknown ids raise ``KeyError``.

    Returns
    -------
    pandas.DataFrame
        One column per top-level node (dimension, or an indicator placed at the
        top of the tree), then the deeper dimensions, and ``score`` for the root,
        indexed like ``normalised``.
    """
    settings = framework.aggregation
    method = method or settings.method
    respread = settings.respread_missing if respread is None else respread
    floor = settings.geometric_floor if floor is None else floor
    weights = dict(weights or {})
    unknown = sorted(set(weights) - {info.id for info in framework.walk()})
    if unknown:
        raise KeyError(
            f"weights given for node(s) not in framework {framework.id!r}: {', '.join(unknown)}; "
            "use the node ids of the framework's tree"
        )
    values = normalised.astype(float).copy()
    out: dict[str, pd.Series] = {}

    def value_of(node) -> pd.Series:
        if isinstance(node, Dimension):
            child_values = pd.DataFrame({c.id: value_of(c) for c in node.children})
            child_weights = {c.id: weights.get(c.id, c.weight) for c in node.children}
            out[node.id] = weighted_mean(
                child_values, child_weights, method, respread=respread, floor=floor
            )
            return out[node.id]
        if node.id not in values.columns:
            return pd.Series(np.nan, index=values.index)
        return values[node.id]

    root = pd.DataFrame({n.id: value_of(n) for n in framework.tree})
    for node in framework.tree:  # an indicator at the top of the tree is its own top-level score
        out.setdefault(node.id, root[node.id])
    root_weights = {n.id: weights.get(n.id, n.weight) for n in framework.tree}
    out["score"] = weighted_mean(root, root_weights, method, respread=respread, floor=floor)
    top = [n.id for n in framework.tree]
    order = top + [d.id for d in framework.dimensions() if d.id not in top] + ["score"]
    return pd.DataFrame(out, index=values.index)[order]


def availability(
    present: pd.DataFrame, framework: Framework, weights: Mapping[str, float] | None = None
) -> pd.Series:
    """Share of each unit's total (effective) weight whose indicator is observed.

    ``present`` is a boolean wide frame (units × indicators); ``weights`` are the
    replacement node weights the aggregation used (a temporary indicator outside
    its window has weight 0 and so does not count as missing).
    """
    weights = framework.effective_weights(weights)
    w = pd.Series(weights, dtype=float)
    observed = present.reindex(columns=w.index, fill_value=False).astype(float)
    return observed.mul(w, axis=1).sum(axis=1) / w.sum()
