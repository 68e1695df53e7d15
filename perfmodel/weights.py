"""Weights of an indicator tree, in the three meanings the package uses (one home each).

``stated``
    :func:`stated_weights` — node weights (dimensions and indicators) as the
    evaluation applies them: the framework's weights, temporary indicators outside
    their validity window at zero (R6), the evaluation's ``weights`` overrides on
    top. These are the weights ``Evaluation.regen(weights=...)`` changes.
``effective``
    :func:`effective_weights` — each indicator's share of the score: node weights
    multiplied down the tree, each taken as its share of its sibling set.
    :func:`node_weights` is its inverse (indicator shares → node weights).
``variance shares``
    :func:`variance_shares` — each indicator's share of the *variance* of the
    composite across units, which is what decides the ranking; an indicator with
    a large effective weight but little spread drives little.

The functions read the tree through :class:`WeightTree` (any object with a
``tree`` of nodes that have ``id`` and ``weight``, dimensions ``children`` and
indicators optionally ``temporary``), so :class:`perfmodel.framework.Framework`
fits without this module importing it.

Examples
--------
A tree D1 (0.6): a (0.5), b (0.5) · D2 (0.4): c (1.0)::

    stated_weights(fw)                      # {'d1': 0.6, 'a': 0.5, 'b': 0.5, 'd2': 0.4, 'c': 1.0}
    effective_weights(fw)                   # {'a': 0.3, 'b': 0.3, 'c': 0.4}
    effective_weights(fw, {"d1": 1, "d2": 1})   # {'a': 0.25, 'b': 0.25, 'c': 0.5}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from perfmodel.errors import PerfmodelError

__all__ = [
    "WeightTree",
    "WeightingError",
    "effective_weights",
    "node_weights",
    "stated_weights",
    "variance_share_array",
    "variance_shares",
]


class WeightNode(Protocol):
    """A node of the tree: a dimension (with ``children``) or an indicator."""

    @property
    def id(self) -> str: ...

    @property
    def weight(self) -> float: ...


class WeightTree(Protocol):
    """Anything with a weight tree, such as :class:`perfmodel.framework.Framework`."""

    @property
    def tree(self) -> Sequence[Any]: ...


class WeightingError(PerfmodelError, ValueError):
    """Weights that cannot be turned into the asked form; the message says why."""


def _children(node: WeightNode) -> Sequence[WeightNode] | None:
    """A dimension's children, or ``None`` for an indicator."""
    return getattr(node, "children", None)


def _walk(nodes: Sequence[WeightNode]) -> Iterable[WeightNode]:
    for node in nodes:
        yield node
        children = _children(node)
        if children is not None:
            yield from _walk(children)


# ------------------------------------------------------------------------------------ stated
def stated_weights(
    framework: WeightTree,
    overrides: Mapping[str, float] | None = None,
    months: Iterable[object] | None = None,
) -> dict[str, float]:
    """Node weights (every dimension and indicator, tree order) as the evaluation applies them.

    Parameters
    ----------
    framework
        The framework (anything with a weight ``tree``).
    overrides
        Node id → weight replacing the stated one (an evaluation's
        ``settings.weights``); applied last, so an override wins.
    months
        The months evaluated: a temporary indicator active in none of them gets
        weight 0 (R6). ``None`` leaves temporary indicators at their weight.

    Returns
    -------
    dict
        Node id → weight, not normalised (siblings of a valid framework sum to 1;
        overrides need not).
    """
    weights = {node.id: float(node.weight) for node in _walk(framework.tree)}
    if months is not None:
        months = list(months)
        for node in _walk(framework.tree):
            temporary = getattr(node, "temporary", None)
            if temporary is not None and not any(temporary.active(m) for m in months):
                weights[node.id] = 0.0
    weights.update({k: float(v) for k, v in (overrides or {}).items()})
    return weights


# --------------------------------------------------------------------------------- effective
def effective_weights(
    framework: WeightTree,
    weights: Mapping[str, float] | None = None,
    *,
    normalise: bool = True,
    dimensions: bool = False,
) -> dict[str, float]:
    """Each indicator's share of the score: node weights multiplied down the tree.

    Parameters
    ----------
    framework
        The framework (anything with a weight ``tree``).
    weights
        Node id → weight for the nodes it names (e.g. :func:`stated_weights`);
        other nodes keep the framework's weight.
    normalise
        Take each weight as its share of its sibling set, as the aggregation
        does (:func:`perfmodel.aggregate.weighted_mean`), so the result sums to 1
        whatever the weights; a sibling set summing to 0 gives its nodes 0.
        ``False`` multiplies the weights as given (equal for a valid framework's
        own weights, whose siblings sum to 1).
    dimensions
        Also return the dimensions' products (their share of the score).

    Returns
    -------
    dict
        Node id → effective weight, in tree order (indicators only unless
        ``dimensions``).

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> fw = N(tree=[N(id="d", weight=0.6, children=[N(id="a", weight=0.5), N(id="b", weight=0.5)]),
    ...              N(id="c", weight=0.4)])
    >>> effective_weights(fw)
    {'a': 0.3, 'b': 0.3, 'c': 0.4}
    >>> effective_weights(fw, {"a": 0.0}, normalise=False, dimensions=True)
    {'d': 0.6, 'a': 0.0, 'b': 0.3, 'c': 0.4}
    """
    chosen = dict(weights or {})
    out: dict[str, float] = {}

    def visit(nodes: Sequence[WeightNode], above: float) -> None:
        raw = [float(chosen.get(node.id, node.weight)) for node in nodes]
        total = float(np.sum(raw)) if normalise else 1.0
        for node, w in zip(nodes, raw, strict=True):
            if normalise:
                product = above * (w / total if total > 0 else 0.0)
            else:
                product = above * w
            children = _children(node)
            if children is None or dimensions:
                out[node.id] = product
            if children is not None:
                visit(children, product)

    visit(framework.tree, 1.0)
    return out


def node_weights(framework: WeightTree, effective: Mapping[str, float]) -> dict[str, float]:
    """Node weights whose effective weights are ``effective`` (the inverse of :func:`effective_weights`).

    Each dimension gets the sum of its indicators' weights and each node its share
    within its parent, so the aggregation with these node weights equals the flat
    weighted mean with ``effective`` when no value is missing. Indicators not
    named get weight 0; a dimension whose indicators all have weight 0 gets 0 and
    equal child weights.

    Raises
    ------
    WeightingError
        When ``effective`` names an indicator the tree lacks or sums to 0 or less.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> fw = N(tree=[N(id="d", weight=0.5, children=[N(id="a", weight=0.5), N(id="b", weight=0.5)]),
    ...              N(id="c", weight=0.5)])
    >>> node_weights(fw, {"a": 0.125, "b": 0.375, "c": 0.5})
    {'d': 0.5, 'a': 0.25, 'b': 0.75, 'c': 0.5}
    """
    indicators = {node.id for node in _walk(framework.tree) if _children(node) is None}
    unknown = sorted(set(effective) - indicators)
    if unknown:
        raise WeightingError(f"weights for unknown indicator(s): {', '.join(unknown)}")
    total_all = sum(effective.values())
    if total_all <= 0:
        raise WeightingError("effective weights must have a positive sum")
    out: dict[str, float] = {}

    def mass(node: WeightNode) -> float:
        children = _children(node)
        if children is not None:
            return sum(mass(c) for c in children)
        return float(effective.get(node.id, 0.0)) / total_all

    def visit(nodes: Sequence[WeightNode]) -> None:
        masses = [mass(n) for n in nodes]
        total = sum(masses)
        for node, m in zip(nodes, masses, strict=True):
            out[node.id] = m / total if total > 0 else 1 / len(nodes)
            children = _children(node)
            if children is not None:
                visit(children)

    visit(framework.tree)
    return out


# --------------------------------------------------------------------------- variance shares
def variance_share_array(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Variance shares of the columns of one data matrix (n × p) or of a stack of them (B × n × p).

    ``s_j = w_j · Cov(X_j, C) / Var(C)`` with ``C = X @ w``; ``NaN`` where the
    composite has no variance. The array form of :func:`variance_shares`, for
    bootstrap replicates.
    """
    centred = X - X.mean(axis=-2, keepdims=True)
    cov = np.einsum("...ni,...nj->...ij", centred, centred) / (X.shape[-2] - 1)
    cw = cov @ w
    total = cw @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        return w * cw / np.expand_dims(total, -1)


def variance_shares(X: pd.DataFrame, weights: Mapping[str, float] | pd.Series) -> pd.Series:
    """Each column's share of the variance of the weighted composite ``C = X @ w``.

    s_j = w_j · Cov(X_j, C) / Var(C); the shares sum to 1. Rows with a missing
    value in a weighted column are left out.

    Parameters
    ----------
    X
        Units × indicators (normalised values).
    weights
        Weight per column (e.g. :func:`effective_weights`); columns without a
        weight are ignored.

    Returns
    -------
    pandas.Series
        Share per weighted column; all ``NaN`` with fewer than two complete rows.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [0, 0, 100, 100.0], "b": [40, 60, 40, 60.0]})
    >>> variance_shares(X, {"a": 0.5, "b": 0.5}).round(4).tolist()  # 25/26 and 1/26
    [0.9615, 0.0385]
    """
    w = pd.Series(weights, dtype=float)
    data = X[list(w.index)].astype(float)
    data = data[data.loc[:, w > 0].notna().all(axis=1)].fillna(0.0)
    if len(data) < 2:
        return pd.Series(np.nan, index=w.index)
    return pd.Series(variance_share_array(data.to_numpy(), w.to_numpy()), index=w.index)
