"""Aggregation: weighted means up the framework's tree, for one set of weights or thousands.

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

One implementation, two shapes
------------------------------
The rule lives in the array functions, which work on (draws × units) arrays:
:func:`node_mean` (one weighted mean), :func:`aggregate_nodes` (every node of the
tree, level by level) and :func:`aggregate_draws` (the composite only, for many
weight draws at once). :class:`~perfmodel.evaluation.Evaluation` calls them with
one draw through the pandas wrappers :func:`weighted_mean` and
:func:`aggregate_tree`; the uncertainty analysis
(:mod:`perfmodel.design.sensitivity`) calls them with thousands. A weighted mean
sums its children in tree order, so one draw gives the same numbers, to the last
bit, whichever shape it is computed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from perfmodel.errors import OptionError, UnknownKeyError
from perfmodel.framework import Framework

__all__ = [
    "ROOT",
    "TreeIndex",
    "node_weights",
    "effective_weights_array",
    "node_mean",
    "aggregate_nodes",
    "aggregate_draws",
    "weighted_mean",
    "aggregate_tree",
    "availability",
]

Method = Literal["arithmetic", "geometric"]
METHODS: tuple[str, ...] = ("arithmetic", "geometric")

ROOT = "(root)"
"""Name of the top-level sibling set (the nodes directly under the score)."""


# ====================================================================== the tree as arrays
@dataclass(frozen=True)
class TreeIndex:
    """The framework's tree as positions, the form the array functions take.

    Attributes
    ----------
    nodes
        Every node id in :meth:`Framework.walk` order: the columns of a
        (draws × nodes) weight array ``W``.
    indicators
        The leaves in tree order: the rows of a (indicators × units) value array ``X``.
    column
        Node id → column of ``W``.
    children
        Parent (:data:`ROOT` or a dimension id) → its children's ids, in tree order.
    """

    nodes: tuple[str, ...]
    indicators: tuple[str, ...]
    column: Mapping[str, int]
    children: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, framework: Framework) -> TreeIndex:
        """Compile ``framework``'s tree."""
        nodes = tuple(info.id for info in framework.walk())
        children: dict[str, tuple[str, ...]] = {ROOT: tuple(n.id for n in framework.tree)}
        for dim in framework.dimensions():
            children[dim.id] = tuple(c.id for c in dim.children)
        return cls(
            nodes=nodes,
            indicators=tuple(i.id for i in framework.indicators()),
            column={n: k for k, n in enumerate(nodes)},
            children=children,
        )

    @property
    def parent_sets(self) -> tuple[str, ...]:
        """Every sibling set, named by its parent (:data:`ROOT` first, then dimensions in tree order)."""
        return tuple(self.children)

    @property
    def top(self) -> tuple[str, ...]:
        """The top-level nodes (the children of the score), in tree order."""
        return self.children[ROOT]

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The inner nodes in tree order."""
        return tuple(p for p in self.children if p != ROOT)

    def is_leaf(self, node_id: str) -> bool:
        """Whether ``node_id`` is an indicator."""
        return node_id not in self.children


def node_weights(framework: Framework, overrides: Mapping[str, float] | None = None) -> np.ndarray:
    """The framework's node weights as one row of ``W`` (:attr:`TreeIndex.nodes` order).

    Parameters
    ----------
    framework
        The tree and its stated weights.
    overrides
        Replacement weights by node id; nodes not named keep their framework weight.

    Raises
    ------
    KeyError
        When ``overrides`` names a node that is not in the tree.
    """
    overrides = dict(overrides or {})
    ids = [info.id for info in framework.walk()]
    unknown = sorted(set(overrides) - set(ids))
    if unknown:
        raise UnknownKeyError(
            f"weights given for node(s) not in framework {framework.id!r}: {', '.join(unknown)}; "
            "use the node ids of the framework's tree"
        )
    return np.array([float(overrides.get(info.id, info.node.weight)) for info in framework.walk()])


def effective_weights_array(tree: TreeIndex, W: np.ndarray) -> np.ndarray | None:
    """Effective (multiplied-out) indicator weights of every row of node weights.

    Each node's weight is first divided by the total of its sibling set; an
    indicator's effective weight is the product of these shares on its path
    from the root (the array form of :meth:`Framework.effective_weights`,
    which does not normalise).

    Parameters
    ----------
    tree
        The compiled tree.
    W
        (draws × nodes) non-negative node weights, columns in :attr:`TreeIndex.nodes` order.

    Returns
    -------
    numpy.ndarray or None
        (draws × indicators) effective weights, each row summing to 1; ``None``
        when some sibling set of some row has total weight 0 (its children's
        shares are undefined).
    """
    W = np.asarray(W, dtype=float)
    share = np.empty_like(W)
    for kids in tree.children.values():
        cols = [tree.column[c] for c in kids]
        total = W[:, cols].sum(axis=1, keepdims=True)
        if (total <= 0).any():
            return None
        share[:, cols] = W[:, cols] / total
    effective = np.ones_like(W)

    def push(parent: str, above: np.ndarray) -> None:
        for child in tree.children[parent]:
            k = tree.column[child]
            effective[:, k] = above * share[:, k]
            if not tree.is_leaf(child):
                push(child, effective[:, k])

    push(ROOT, np.ones(W.shape[0]))
    return effective[:, [tree.column[i] for i in tree.indicators]]


# ====================================================================== the rule
def _check_method(method: str) -> None:
    if method not in METHODS:
        raise OptionError(f"unknown aggregation {method!r}; use 'arithmetic' or 'geometric'")


def node_mean(
    values: Sequence[np.ndarray],
    weights: np.ndarray,
    method: str = "arithmetic",
    *,
    respread: bool = True,
    floor: float = 1.0,
) -> np.ndarray:
    """Weighted mean of sibling values under every row of weights: the aggregation rule.

    Parameters
    ----------
    values
        One array per child, each (units,) or (draws × units); ``NaN`` = missing.
    weights
        (draws × children) non-negative weights (need not sum to 1).
    method
        ``arithmetic``: Σ wᵢxᵢ / Σ wᵢ over the children present; ``geometric``:
        exp(Σ wᵢ ln max(xᵢ, floor) / Σ wᵢ) over the children present.
    respread
        ``True``: average over the children present; ``False``: missing when a
        child of positive weight is missing.
    floor
        Geometric mean only: values below ``floor`` are raised to it.

    Returns
    -------
    numpy.ndarray
        (draws × units) means; ``NaN`` where no weight is present.

    Notes
    -----
    The children are summed one after the other in the order given, so a result
    does not depend on how many draws are computed together.

    Examples
    --------
    >>> node_mean([np.array([100.0, 0.0]), np.array([50.0, np.nan])], np.array([[3.0, 1.0]])).tolist()
    [[87.5, 0.0]]
    """
    _check_method(method)
    weights = np.asarray(weights, dtype=float)
    if (weights < 0).any():
        raise OptionError("weights must be non-negative")
    if not len(values) or weights.ndim != 2 or weights.shape[1] != len(values):
        raise OptionError(
            f"weights must be (draws × {len(values)} children) for at least one child, got shape {weights.shape}"
        )
    total: np.ndarray | float = 0.0
    num: np.ndarray | float = 0.0
    missing: np.ndarray | bool = False
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for j, x in enumerate(values):
            w = weights[:, [j]]  # (draws × 1): broadcasts over units
            present = ~np.isnan(x)
            w_present = np.where(present, w, 0.0)
            if method == "arithmetic":
                term = x * w
                term = np.where(np.isnan(term), 0.0, term)  # a missing child adds nothing
            else:
                term = np.log(np.maximum(np.where(present, x, floor), floor)) * w_present
            num = num + term
            total = total + w_present
            if not respread:
                missing = missing | ((w > 0) & ~present)
        mean = num / total
        if method == "geometric":
            mean = np.exp(mean)
    out = np.where(total > 0, mean, np.nan)
    if not respread:
        out = np.where(missing, np.nan, out)
    return out


def aggregate_nodes(
    X: np.ndarray,
    tree: TreeIndex,
    W: np.ndarray,
    method: str = "arithmetic",
    *,
    respread: bool = True,
    floor: float = 1.0,
) -> dict[str, np.ndarray]:
    """Every node of the tree under every row of node weights, level by level.

    Parameters
    ----------
    X
        (indicators × units) normalised values, rows in :attr:`TreeIndex.indicators`
        order; ``NaN`` for missing.
    tree
        The compiled tree.
    W
        (draws × nodes) non-negative node weights (:attr:`TreeIndex.nodes` order).
    method, respread, floor
        As in :func:`node_mean`.

    Returns
    -------
    dict
        Node id → (draws × units) values, for every dimension and every
        top-level node (an indicator at the top of the tree is its own value),
        and ``"score"`` for the root.
    """
    _check_method(method)
    W = np.asarray(W, dtype=float)
    if (W < 0).any():
        raise OptionError("weights must be non-negative")
    X = np.asarray(X, dtype=float)
    row = {ind: k for k, ind in enumerate(tree.indicators)}
    out: dict[str, np.ndarray] = {}

    def value_of(node: str) -> np.ndarray:
        if tree.is_leaf(node):
            return X[row[node]]
        kids = tree.children[node]
        values = [value_of(c) for c in kids]
        out[node] = node_mean(values, W[:, [tree.column[c] for c in kids]], method, respread=respread, floor=floor)
        return out[node]

    top_values = [value_of(n) for n in tree.top]
    draws = (W.shape[0], X.shape[1])
    for node, value in zip(tree.top, top_values, strict=True):
        out.setdefault(node, np.broadcast_to(value, draws))
    out["score"] = node_mean(
        top_values, W[:, [tree.column[c] for c in tree.top]], method, respread=respread, floor=floor
    )
    return out


def aggregate_draws(
    X: np.ndarray,
    tree: TreeIndex | Framework,
    W: np.ndarray,
    method: str = "arithmetic",
    *,
    respread: bool = True,
    floor: float = 1.0,
) -> np.ndarray:
    """Composite score of every unit under every row of node weights.

    Gives the ``score`` of :func:`aggregate_nodes` without computing the inner
    nodes when it can: when every indicator of positive weight is observed for
    every unit, the composite of all rows is one matrix product of the
    (draws × indicators) effective weights (:func:`effective_weights_array`) and
    the values (their logarithms for the geometric mean). Units with identical
    values get identical composites. The product sums in another order than
    :func:`node_mean`, so it agrees with it to rounding (about 1e-15 relative),
    not to the last bit; with missing values the level-by-level form is used.

    Parameters
    ----------
    X
        (indicators × units) normalised values (:attr:`TreeIndex.indicators` order).
    tree
        The compiled tree (or the framework).
    W
        (draws × nodes) non-negative node weights (:attr:`TreeIndex.nodes` order).
    method, respread, floor
        As in :func:`node_mean`.

    Returns
    -------
    numpy.ndarray
        (draws × units) composite scores.
    """
    _check_method(method)
    tree = tree if isinstance(tree, TreeIndex) else TreeIndex.of(tree)
    W = np.asarray(W, dtype=float)
    if (W < 0).any():
        raise OptionError("weights must be non-negative")
    X = np.asarray(X, dtype=float)
    present = ~np.isnan(X)
    relevant = [k for k, ind in enumerate(tree.indicators) if (W[:, tree.column[ind]] > 0).any()]
    effective = effective_weights_array(tree, W) if present[relevant].all() else None
    if effective is None:
        return aggregate_nodes(X, tree, W, method, respread=respread, floor=floor)["score"]
    values = np.where(present, X, floor)
    if method == "geometric":
        values = np.log(np.maximum(values, floor))
    composite = _distinct_columns_product(effective, values)
    return np.exp(composite) if method == "geometric" else composite


def _distinct_columns_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` with identical columns of ``B`` giving identical columns of the product.

    A matrix product may round a column differently by its position (blocking,
    vector lanes); tied units must stay tied, so each distinct column is
    multiplied once. A cheap elementwise fingerprint (identical columns have
    identical fingerprints) skips the exact search when all columns differ.
    """
    fingerprint = (B * np.linspace(1.0, 2.0, B.shape[0])[:, None]).sum(axis=0)
    if len(np.unique(fingerprint)) == B.shape[1]:
        return A @ B
    distinct, inverse = np.unique(B, axis=1, return_inverse=True)
    return (A @ distinct)[:, inverse.ravel()]


# ====================================================================== pandas wrappers (one draw)
def weighted_mean(
    X: pd.DataFrame,
    weights: Mapping[str, float],
    method: Method = "arithmetic",
    *,
    respread: bool = True,
    floor: float = 1.0,
) -> pd.Series:
    """Row-wise weighted mean of the columns named in ``weights`` (:func:`node_mean`).

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
        raise UnknownKeyError(f"no values for: {', '.join(missing)}")
    _check_method(method)
    if not columns:
        return pd.Series(np.nan, index=X.index)
    values = [X[c].to_numpy(dtype=float) for c in columns]
    w = np.array([[weights[c] for c in columns]], dtype=float)
    return pd.Series(node_mean(values, w, method, respread=respread, floor=floor)[0], index=X.index)


def aggregate_tree(
    normalised: pd.DataFrame,
    framework: Framework,
    method: Method | None = None,
    *,
    respread: bool | None = None,
    floor: float | None = None,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Aggregate normalised indicators level by level up the framework's tree (:func:`aggregate_nodes`).

    Parameters
    ----------
    normalised
        Wide frame of normalised indicator values (columns: indicator ids; an
        indicator without a column counts as missing).
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
    W = node_weights(framework, weights)[None, :]
    tree = TreeIndex.of(framework)
    X = normalised.reindex(columns=list(tree.indicators)).to_numpy(dtype=float).T
    nodes = aggregate_nodes(X, tree, W, method, respread=respread, floor=floor)
    order = [*tree.top, *[d for d in tree.dimensions if d not in tree.top], "score"]
    return pd.DataFrame({node: nodes[node][0] for node in order}, index=normalised.index)


def availability(present: pd.DataFrame, framework: Framework, weights: Mapping[str, float] | None = None) -> pd.Series:
    """Share of each unit's total (effective) weight whose indicator is observed.

    ``present`` is a boolean wide frame (units × indicators); ``weights`` are the
    replacement node weights the aggregation used (a temporary indicator outside
    its window has weight 0 and so does not count as missing).
    """
    weights = framework.effective_weights(weights)
    w = pd.Series(weights, dtype=float)
    observed = present.reindex(columns=w.index, fill_value=False).astype(float)
    return observed.mul(w, axis=1).sum(axis=1) / w.sum()
