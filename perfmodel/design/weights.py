"""Alternative weights to compare with the stated ones.

Data-driven weights are computed on a wide frame ``X`` (units × indicators,
oriented so that higher is better) and returned as indicator weights summing to
one:

* :func:`equal_weights` — equal within every sibling set of the tree, or equal for
  every indicator (``flat``);
* :func:`pca_weights` — factor-based weights of the OECD/JRC handbook (2008,
  §6.1): squared loadings of the varimax-rotated principal components, scaled
  to unity, each indicator weighted through the factor it loads on most, factors
  weighted by the variance they explain;
* :func:`entropy_weights` — the entropy weight method: indicators whose values
  are spread unevenly over units get more weight;
* :func:`critic_weights` — CRITIC (Diakoulaki et al. 1995): contrast (standard
  deviation) times conflict (``Σ (1 − r)``) with the other indicators;
* :func:`balanced_weights` — correlation-balanced: weights that make every
  indicator's correlation with the composite as equal as possible (iterative,
  non-negative weights);
* :func:`benefit_of_the_doubt` — DEA-style "benefit of the doubt" (Cherchye et
  al. 2007): each unit's most favourable weights, one linear programme per unit
  solved with :func:`scipy.optimize.linprog`, with bounds on each indicator's
  share of the unit's score (the constrained form).

:func:`perfmodel.weights.node_weights` turns indicator weights into node weights
for ``ev.regen(weights=...)``; :func:`alternative_weights` does both for an
evaluation, flat or within each dimension.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from perfmodel.evaluation import Evaluation
from perfmodel.framework import Dimension, Framework
from perfmodel.normalise import normalise
from perfmodel.weights import WeightingError, effective_weights, node_weights

__all__ = [
    "WeightingError",
    "BoDResult",
    "composite_correlations",
    "WEIGHTINGS",
    "equal_weights",
    "pca_weights",
    "varimax",
    "entropy_weights",
    "critic_weights",
    "balanced_weights",
    "benefit_of_the_doubt",
    "alternative_weights",
    "weight_table",
    "weighting_data",
]


def _complete(X: pd.DataFrame, method: str) -> pd.DataFrame:
    data = X.astype(float).dropna()
    if len(data) < 3:
        raise WeightingError(
            f"{method} weights need at least 3 units with every indicator present; "
            f"{len(data)} of {len(X)} are complete: impute or drop sparse indicators first"
        )
    return data


def _constant(data: pd.DataFrame) -> list[str]:
    return [c for c in data.columns if data[c].std(ddof=1) == 0 or not np.isfinite(data[c].std(ddof=1))]


# ---------------------------------------------------------------- equal
def equal_weights(framework: Framework, scope: str = "tree") -> dict[str, float]:
    """Node weights that are equal within each sibling set (``tree``) or per indicator (``flat``).

    Examples
    --------
    >>> from perfmodel.framework import load_framework
    >>> w = equal_weights(load_framework("station_four_dimension"))
    >>> w["enforcement_quality"], w["case_compliance_rate"]
    (0.25, 0.5)
    """
    if scope == "tree":
        out = {n.id: 1 / len(framework.tree) for n in framework.tree}
        for dim in framework.dimensions():
            out.update({c.id: 1 / len(dim.children) for c in dim.children})
        return out
    if scope == "flat":
        ids = [i.id for i in framework.indicators()]
        return node_weights(framework, {i: 1 / len(ids) for i in ids})
    raise WeightingError(f"scope={scope!r}: use 'tree' or 'flat'")


# ---------------------------------------------------------------- PCA / factor
def varimax(loadings: np.ndarray, *, gamma: float = 1.0, max_iter: int = 500, tol: float = 1e-10) -> np.ndarray:
    """Varimax rotation (Kaiser 1958) of a (variables × factors) loading matrix."""
    p, k = loadings.shape
    if k < 2:
        return loadings.copy()
    rotation = np.eye(k)
    criterion = 0.0
    for _ in range(max_iter):
        L = loadings @ rotation
        u, s, vt = np.linalg.svd(loadings.T @ (L**3 - (gamma / p) * L @ np.diag(np.sum(L**2, axis=0))))
        rotation = u @ vt
        new = s.sum()
        if new < criterion * (1 + tol):
            break
        criterion = new
    return loadings @ rotation


def pca_weights(
    X: pd.DataFrame,
    *,
    min_eigenvalue: float = 1.0,
    min_share: float = 0.10,
    n_factors: int | None = None,
) -> pd.Series:
    """Factor-based weights of the OECD/JRC handbook (2008, §6.1).

    Steps: principal components of the correlation matrix (complete cases);
    keep components with eigenvalue > ``min_eigenvalue`` that each explain more
    than ``min_share`` of the variance (at least one, or exactly ``n_factors``);
    rotate their loadings with varimax; square the loadings and scale each
    factor's squares to sum to one; give each indicator the scaled squared loading
    of the factor it loads on most, times that factor's share of the variance
    explained by the retained factors; normalise to sum to one. Indicators without
    variance get weight 0.

    Returns
    -------
    pandas.Series
        Weight per indicator (sums to 1).
    """
    data = _complete(X, "PCA")
    flat = _constant(data)
    use = data.drop(columns=flat)
    if use.shape[1] == 0:
        raise WeightingError("PCA weights: no indicator varies across units")
    if use.shape[1] == 1:
        return pd.Series(1.0, index=[use.columns[0]]).reindex(X.columns, fill_value=0.0)
    values, vectors = np.linalg.eigh(np.corrcoef(use.to_numpy(), rowvar=False))
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    if n_factors is None:
        share = values / values.sum()
        n_factors = max(1, int(np.sum((values > min_eigenvalue) & (share > min_share))))
    loadings = vectors[:, :n_factors] * np.sqrt(values[:n_factors])
    rotated = varimax(loadings)
    squared = rotated**2
    explained = squared.sum(axis=0)
    scaled = squared / explained
    factor = scaled.argmax(axis=1)
    weights = scaled[np.arange(len(factor)), factor] * (explained / explained.sum())[factor]
    return pd.Series(weights / weights.sum(), index=use.columns).reindex(X.columns, fill_value=0.0)


# ---------------------------------------------------------------- entropy, CRITIC
def entropy_weights(X: pd.DataFrame) -> pd.Series:
    """Entropy weight method on non-negative values (complete cases).

    ``p_ij = x_ij / Σ_i x_ij``, ``e_j = −Σ_i p_ij ln p_ij / ln n``, weight ∝ ``1 − e_j``.
    An indicator equal for every unit has entropy 1 and weight 0.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 1, 1], "b": [0.0, 0, 3], "c": [1.0, 2, 3]})
    >>> entropy_weights(X).round(4).tolist()
    [0.0, 0.9265, 0.0735]
    """
    data = _complete(X, "entropy")
    if (data < 0).to_numpy().any():
        raise WeightingError("entropy weights need non-negative values; use min-max normalised indicators (0–100)")
    totals = data.sum()
    zero = totals[totals == 0].index
    p = data / totals.replace(0, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    entropy = pd.Series(-plogp.sum(axis=0) / np.log(len(data)), index=data.columns)
    entropy[zero] = 1.0
    divergence = 1 - entropy
    if divergence.sum() <= 0:
        raise WeightingError("entropy weights: no indicator varies across units")
    return divergence / divergence.sum()


def critic_weights(X: pd.DataFrame) -> pd.Series:
    """CRITIC weights: ``C_j = σ_j Σ_k (1 − r_jk)``, normalised (complete cases).

    Use values on a common scale (e.g. min-max normalised): σ is compared across
    indicators.
    """
    data = _complete(X, "CRITIC")
    sd = data.std(ddof=1)
    r = data.corr().fillna(0.0).to_numpy(copy=True)
    np.fill_diagonal(r, 1.0)
    information = (sd * (1 - r).sum(axis=0)).fillna(0.0)
    if information.sum() <= 0:
        raise WeightingError("CRITIC weights: no indicator varies across units")
    return information / information.sum()


# ---------------------------------------------------------------- correlation-balanced
def balanced_weights(
    X: pd.DataFrame,
    *,
    tol: float = 1e-10,
    max_iter: int = 500,
) -> pd.Series:
    """Weights under which every indicator correlates as equally as possible with the composite.

    The composite is the weighted sum of standardised indicators (so weights
    express importance, not scale) and ``r_j`` the Pearson correlation of
    indicator ``j`` with it. The weights minimise ``Σ_j (r_j − r̄)²`` over
    non-negative weights summing to one, iteratively by sequential quadratic
    programming (SLSQP) from equal weights. When exact balance is possible (as
    when indicators are equally inter-correlated or one is duplicated) every
    ``r_j`` ends equal; when an indicator correlates with the others so strongly
    that it stays above the rest even at weight 0, it gets weight 0. The achieved
    correlations are :func:`composite_correlations` of ``X`` and the result.
    Indicators without variance get weight 0.

    Examples
    --------
    A duplicated indicator shares the weight of one:

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=200)
    >>> X = pd.DataFrame({"x1": z, "x2": z, "x3": rng.normal(size=200)})
    >>> balanced_weights(X).round(3).tolist()
    [0.25, 0.25, 0.5]
    """
    from scipy.optimize import minimize

    data = _complete(X, "correlation-balanced")
    use = data.drop(columns=_constant(data))
    if use.shape[1] == 0:
        raise WeightingError("correlation-balanced weights: no indicator varies across units")
    R = np.corrcoef(use.to_numpy(dtype=float), rowvar=False)
    k = R.shape[0]

    def spread(w: np.ndarray) -> float:
        r = _composite_r(R, w)
        return float(np.sum((r - r.mean()) ** 2))

    result = minimize(
        spread,
        np.full(k, 1 / k),
        method="SLSQP",
        bounds=[(0.0, 1.0)] * k,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
        options={"ftol": tol, "maxiter": max_iter},
    )
    if not result.success:
        raise WeightingError(f"correlation-balanced weights: the optimisation failed ({result.message})")
    w = np.clip(result.x, 0.0, None)
    w = w / w.sum()
    return pd.Series(w, index=use.columns).reindex(X.columns, fill_value=0.0)


def _composite_r(R: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Correlation of each standardised indicator with Σ w_j z_j, from their correlation matrix R."""
    return R @ w / np.sqrt(max(w @ R @ w, 1e-300))


def composite_correlations(X: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """Pearson correlation of each indicator with the composite Σ w_j z_j of standardised indicators.

    The quantity :func:`balanced_weights` equalises. Indicators without variance are
    left out (``NaN``), as are rows with a missing value.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 1.0, 4.0, 3.0]})
    >>> composite_correlations(X, pd.Series({"a": 1.0, "b": 0.0})).round(2).tolist()
    [1.0, 0.6]
    """
    data = _complete(X, "composite correlation")
    use = data.drop(columns=_constant(data))
    R = np.atleast_2d(np.corrcoef(use.to_numpy(dtype=float), rowvar=False))
    w = weights.reindex(use.columns).fillna(0.0).to_numpy(dtype=float)
    return pd.Series(_composite_r(R, w), index=use.columns).reindex(X.columns)


# ---------------------------------------------------------------- benefit of the doubt
@dataclass
class BoDResult:
    """Benefit-of-the-doubt scores and each unit's most favourable weights.

    Attributes
    ----------
    scores
        Score in [0, 1] per unit (1 = no unit does better under this unit's weights).
    weights
        (units × indicators) the optimal weights ``w`` (on the scale of the data).
    shares
        (units × indicators) each indicator's share ``w_i y_i / Σ w y`` of the unit's score.
    """

    scores: pd.Series
    weights: pd.DataFrame
    shares: pd.DataFrame


def _bounds_for(columns: Sequence[str], share_bounds) -> tuple[np.ndarray, np.ndarray]:
    k = len(columns)
    if share_bounds is None:
        return np.zeros(k), np.ones(k)
    if isinstance(share_bounds, Mapping):
        unknown = sorted(set(share_bounds) - set(columns))
        if unknown:
            raise WeightingError(f"share bounds for unknown indicator(s): {', '.join(unknown)}")
        lo = np.array([share_bounds.get(c, (0.0, 1.0))[0] for c in columns], dtype=float)
        hi = np.array([share_bounds.get(c, (0.0, 1.0))[1] for c in columns], dtype=float)
    else:
        lo, hi = np.full(k, float(share_bounds[0])), np.full(k, float(share_bounds[1]))
    if (lo < 0).any() or (hi > 1).any() or (lo > hi).any():
        raise WeightingError("share bounds must satisfy 0 ≤ low ≤ high ≤ 1 for every indicator")
    if lo.sum() > 1 + 1e-12 or hi.sum() < 1 - 1e-12:
        raise WeightingError(
            f"share bounds cannot be met: the lower bounds add up to {lo.sum():.0%} and the upper "
            f"bounds to {hi.sum():.0%} over {k} indicators; they must bracket 100 %"
        )
    return lo, hi


def benefit_of_the_doubt(
    X: pd.DataFrame,
    share_bounds: tuple[float, float] | Mapping[str, tuple[float, float]] | None = None,
    *,
    share_basis: str = "unit",
) -> BoDResult:
    """Benefit-of-the-doubt composite: each unit scored with its own most favourable weights.

    For unit ``j`` solve the linear programme

    ``max Σ_i w_i y_ji``  subject to  ``Σ_i w_i y_ki ≤ 1`` for every unit ``k``,
    ``w ≥ 0`` and, for each indicator, ``L_i ≤ w_i y_bi / Σ_l w_l y_bl ≤ U_i``,

    where ``y_b`` is the unit itself (``share_basis="unit"``, pie-share
    constraints) or the average unit (``"mean"``). The share constraints are
    linear in ``w``. Without them a unit can put all weight on its best indicator.

    Parameters
    ----------
    X
        Non-negative values, higher is better (e.g. min-max normalised, complete).
    share_bounds
        ``(low, high)`` for every indicator (e.g. ``(0.10, 0.15)``) or a mapping
        indicator → ``(low, high)``; ``None`` for the unconstrained form. With
        ``share_basis="unit"``, a unit whose value on an indicator is 0 cannot give
        it a positive share, so a positive lower bound scores it 0.
    share_basis
        ``unit`` or ``mean``.

    Returns
    -------
    BoDResult
    """
    data = X.astype(float)
    if data.isna().any().any():
        raise WeightingError("benefit of the doubt needs complete data: impute or drop missing values")
    Y = data.to_numpy()
    if (Y < 0).any():
        raise WeightingError("benefit of the doubt needs non-negative values; use min-max normalised indicators")
    if share_basis not in ("unit", "mean"):
        raise WeightingError("share_basis must be 'unit' or 'mean'")
    lo, hi = _bounds_for(list(data.columns), share_bounds)
    n, k = Y.shape
    scores = np.zeros(n)
    W = np.zeros((n, k))
    mean = Y.mean(axis=0)
    for j in range(n):
        y = Y[j]
        basis = y if share_basis == "unit" else mean
        rows = [Y]
        if share_bounds is not None:
            eye = np.diag(basis)
            rows += [lo[:, None] * basis[None, :] - eye, eye - hi[:, None] * basis[None, :]]
        A = np.vstack(rows)
        b = np.concatenate([np.ones(n), np.zeros(A.shape[0] - n)])
        res = linprog(-y, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
        if res.status != 0:
            raise WeightingError(f"benefit of the doubt, unit {data.index[j]!r}: {res.message}")
        W[j] = res.x
        scores[j] = -res.fun
    contributions = W * Y
    totals = contributions.sum(axis=1, keepdims=True)
    shares = np.divide(contributions, totals, out=np.zeros_like(contributions), where=totals > 0)
    return BoDResult(
        scores=pd.Series(scores, index=data.index, name="bod_score"),
        weights=pd.DataFrame(W, index=data.index, columns=data.columns),
        shares=pd.DataFrame(shares, index=data.index, columns=data.columns),
    )


WEIGHTINGS = {
    "pca": pca_weights,
    "entropy": entropy_weights,
    "critic": critic_weights,
    "balanced": balanced_weights,
}
"""Data-driven weighting methods by name (each ``X -> indicator weights``)."""


def weighting_data(ev: Evaluation, *, lo: float = 0.0, hi: float = 100.0) -> pd.DataFrame:
    """An evaluation's oriented indicators, min-max scaled to ``[lo, hi]`` over its units.

    The common input of the data-driven weights. For benefit of the doubt with
    share bounds use ``lo > 0`` (e.g. 1), so that no unit has a zero value.
    """
    ids = [i.id for i in ev.framework.indicators()]
    oriented = ev.stages["oriented"].reindex(columns=ids)
    return normalise(oriented, "minmax", lo=lo, hi=hi)


def alternative_weights(ev: Evaluation, method: str, *, scope: str = "flat") -> dict[str, float]:
    """Node weights of an alternative weighting for ``ev.regen(weights=...)``.

    Parameters
    ----------
    ev
        A run evaluation; data-driven methods use its oriented indicators,
        min-max scaled to 0–100 (complete units).
    method
        ``stated``, ``equal`` (equal in every sibling set), ``equal_flat`` (equal
        per indicator), or a data-driven method of :data:`WEIGHTINGS`.
    scope
        Data-driven methods only: ``flat`` weighs all indicators at once and sets
        the dimension weights to the sums; ``within`` weighs the indicators within
        each dimension and keeps the stated weights above them.
    """
    fw = ev.framework
    if method == "stated":
        return ev.stated_weights()
    if method == "equal":
        return equal_weights(fw, "tree")
    if method == "equal_flat":
        return equal_weights(fw, "flat")
    if method not in WEIGHTINGS:
        raise WeightingError(f"unknown weighting {method!r}; use stated, equal, equal_flat or {', '.join(WEIGHTINGS)}")
    X = weighting_data(ev)
    func = WEIGHTINGS[method]
    if scope == "flat":
        return node_weights(fw, func(X).to_dict())
    if scope != "within":
        raise WeightingError(f"scope={scope!r}: use 'flat' or 'within'")
    out = ev.stated_weights()
    for dim in fw.dimensions():
        leaves = [c.id for c in dim.children if not isinstance(c, Dimension)]
        if len(leaves) < 2:
            continue
        out.update(func(X[leaves]).to_dict())
    return out


def weight_table(
    ev: Evaluation,
    methods: Sequence[str] = ("stated", "equal", "pca", "entropy", "critic", "balanced"),
    *,
    scope: str = "flat",
) -> pd.DataFrame:
    """Effective indicator weights under each method (rows: indicators, columns: methods)."""
    table = {}
    for method in methods:
        table[method] = pd.Series(effective_weights(ev.framework, alternative_weights(ev, method, scope=scope)))
    return pd.DataFrame(table).rename_axis("indicator")
