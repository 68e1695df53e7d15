"""Rater calibration for subjective indicators (R8): leniency, severity and rating biases.

A station rated by a lenient district leader looks better than an equal station
rated by a harsh one. With several raters per unit and raters who rate several
units, the rating design is crossed and the raters' leniency can be separated
from the units' performance:

``rating = mu + ratee effect + rater effect + residual``

:class:`RaterModel` estimates it in one of two ways:

* ``method="mixedlm"`` (default) — statsmodels :class:`~statsmodels.regression.mixed_linear_model.MixedLM`
  with crossed random effects written as variance components within a
  single group (``re_formula="0"``, ``vc_formula={"rater": "0 + C(rater)",
  "ratee": "0 + C(ratee)"}``), fitted by REML. Rater effects are the BLUPs
  (conditional means) with their conditional standard errors. Random rater
  effects are shrunk towards 0 when a rater has few ratings, which protects
  small raters from being labelled harsh on noise, and remain defined when the
  design is not connected (raters of one district never rate another district's
  stations): the district-level part is then split between raters and ratees
  according to the variance components.
* ``method="fixed"`` — two-way fixed effects (least squares on rater and ratee
  dummies). Rater effects are identified only within connected parts of the
  rater–ratee graph; they are centred to mean 0 within each part (column
  ``component``), standard errors come from the OLS covariance of these
  contrasts. Fast and assumption-light; no shrinkage.

The calibrated rating is ``rating − rater effect``. :func:`calibrate_ratings`
runs the model per indicator on the clean observations (``ev.stages["raw"]``)
and returns each unit's mean rater effect, rolled up as the evaluation rolls up
ratings (raters averaged within a month, then months averaged).

Self-ratings (the rater is the ratee) cannot separate leniency from
performance and are not calibrated; :func:`self_enhancement` reports self
minus others instead. :func:`central_tendency` (rater SD relative to the pooled
SD) and :func:`halo` (mean inter-indicator correlation within a rater) describe
two further rater biases.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

from perfmodel.errors import OptionError, check_confidence
from perfmodel.framework import Framework

if TYPE_CHECKING:  # statsmodels is imported where a mixed model is fitted
    from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams

__all__ = [
    "RATED_SOURCES",
    "RaterModel",
    "calibrate_ratings",
    "central_tendency",
    "halo",
    "rated_indicators",
    "self_enhancement",
]

RATED_SOURCES: tuple[str, ...] = ("supervisor", "peer", "citizen")
"""Sources whose multi-rater scores are calibrated (self-ratings are not)."""

MISSING_COLUMN = (
    "column {column!r} ({role}) is not in the ratings; available: {available}. "
    "Ratings need one row per rating with the rater in {column!r}."
)
TOO_FEW = (
    "rater calibration needs at least 2 raters and 2 ratees with ratings, found {raters} "
    "rater(s) and {ratees} ratee(s){where}."
)
NOT_FITTED = "this RaterModel is not fitted yet; call .fit(ratings) first."
NOT_NUMERIC = "column {column!r} (rating) must be numeric, got dtype {dtype}."
DENSE_LIMIT = 4000
"""Above this many parameters the fixed-effects standard errors use a diagonal approximation."""
AUTO_MIXEDLM_LIMIT = 600
"""``method="auto"`` fits MixedLM up to this many raters + ratees (a few seconds), else fixed effects."""


@contextmanager
def _single_thread() -> Iterator[None]:
    """One BLAS thread: REML on small matrices is many times faster without thread overhead."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(1):
        yield


def _check_columns(data: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> None:
    for column, role in columns:
        if column not in data.columns:
            raise OptionError(MISSING_COLUMN.format(column=column, role=role, available=list(data.columns)))


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and the sorted distinct labels (as objects)."""
    labels = np.array(sorted(values.unique(), key=str), dtype=object)
    lookup = {v: i for i, v in enumerate(labels)}
    return values.map(lookup).to_numpy(dtype=np.int64), labels


class RaterModel:
    """Crossed rater × ratee model for one rated indicator.

    Parameters
    ----------
    method : {"mixedlm", "fixed", "auto"}
        Crossed random effects (REML, default) or two-way fixed effects; see the
        module docstring. ``"auto"`` uses MixedLM when raters + ratees number at
        most :data:`AUTO_MIXEDLM_LIMIT` (its cost grows with the cube of that
        number) and fixed effects above.
    rating, rater, ratee : str
        Column names of the rating, the rater id and the rated unit.
    confidence : float
        Coverage of the confidence intervals of the rater effects.

    Attributes
    ----------
    effects_ : pandas.DataFrame
        One row per rater: ``rater_id`` (named after ``rater``), ``effect``
        (> 0 lenient, < 0 severe, rating points), ``se``, ``ci_low``,
        ``ci_high``, ``n_ratings``, ``n_ratees``, ``component`` (connected part
        of the rater–ratee graph).
    ratee_effects_ : pandas.DataFrame
        One row per ratee: ``ratee`` id, ``effect``, ``se``, ``n_ratings``.
    variance_ : dict
        ``ratee``, ``rater`` and ``residual`` variances (REML for ``mixedlm``;
        for ``fixed``, the variance of the estimated effects minus their mean
        squared standard error, and the residual mean square).
    intercept_ : float
    n_components_ : int
        Connected parts of the design (1 = every rater linked to every other
        through shared ratees).
    converged_ : bool
    method_ : str
        The method used (``"mixedlm"`` or ``"fixed"``).
    """

    def __init__(
        self,
        method: Literal["mixedlm", "fixed", "auto"] = "mixedlm",
        *,
        rating: str = "value",
        rater: str = "rater_id",
        ratee: str = "unit_id",
        confidence: float = 0.95,
    ) -> None:
        self.method = method
        self.rating = rating
        self.rater = rater
        self.ratee = ratee
        self.confidence = confidence

    # ------------------------------------------------------------------ data
    def _prepare(self, ratings: pd.DataFrame) -> pd.DataFrame:
        _check_columns(ratings, [(self.rating, "rating"), (self.rater, "rater"), (self.ratee, "ratee")])
        values = ratings[self.rating]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise OptionError(NOT_NUMERIC.format(column=self.rating, dtype=values.dtype))
        frame = pd.DataFrame(
            {
                "y": values.astype(float).to_numpy(),
                "rater": ratings[self.rater].astype(object).to_numpy(),
                "ratee": ratings[self.ratee].astype(object).to_numpy(),
            }
        )
        frame = frame.dropna()
        n_raters, n_ratees = frame["rater"].nunique(), frame["ratee"].nunique()
        if n_raters < 2 or n_ratees < 2:
            raise OptionError(TOO_FEW.format(raters=n_raters, ratees=n_ratees, where=""))
        return frame

    # ------------------------------------------------------------------ fit
    def fit(self, ratings: pd.DataFrame) -> RaterModel:
        """Estimate rater and ratee effects; returns ``self``."""
        if self.method not in ("mixedlm", "fixed", "auto"):
            raise OptionError(f"method={self.method!r} is not valid; use 'mixedlm', 'fixed' or 'auto'.")
        check_confidence(self.confidence)
        frame = self._prepare(ratings)
        r_code, r_labels = _codes(frame["rater"])
        u_code, u_labels = _codes(frame["ratee"])
        graph = sparse.coo_matrix(
            (np.ones(len(frame)), (r_code, len(r_labels) + u_code)),
            shape=(len(r_labels) + len(u_labels),) * 2,
        )
        self.n_components_, component = connected_components(graph, directed=False)
        rater_component = component[: len(r_labels)]
        # renumber components in order of their first rater (deterministic)
        _, first = np.unique(rater_component, return_index=True)
        renumber = {c: i + 1 for i, c in enumerate(rater_component[np.sort(first)])}
        rater_component = np.array([renumber[c] for c in rater_component])
        y = frame["y"].to_numpy()
        self.method_ = self.method
        if self.method == "auto":
            small = len(r_labels) + len(u_labels) <= AUTO_MIXEDLM_LIMIT
            self.method_ = "mixedlm" if small else "fixed"
        if self.method_ == "mixedlm":
            rater_eff, rater_se, ratee_eff, ratee_se = self._fit_mixedlm(
                y, r_code, u_code, len(r_labels), len(u_labels)
            )
        else:
            rater_eff, rater_se, ratee_eff, ratee_se = self._fit_fixed(
                y, r_code, u_code, len(r_labels), len(u_labels), rater_component
            )
        z = stats.norm.ppf(0.5 + self.confidence / 2)
        n_r = np.bincount(r_code, minlength=len(r_labels))
        n_ratees = frame.groupby("rater")["ratee"].nunique().reindex(r_labels).to_numpy()
        self.effects_ = pd.DataFrame(
            {
                self.rater: r_labels,
                "effect": rater_eff,
                "se": rater_se,
                "ci_low": rater_eff - z * rater_se,
                "ci_high": rater_eff + z * rater_se,
                "n_ratings": n_r,
                "n_ratees": n_ratees,
                "component": rater_component,
            }
        )
        self.ratee_effects_ = pd.DataFrame(
            {
                "ratee": u_labels,
                "effect": ratee_eff,
                "se": ratee_se,
                "n_ratings": np.bincount(u_code, minlength=len(u_labels)),
            }
        )
        self.n_ratings_ = len(frame)
        return self

    def _fit_mixedlm(
        self, y: np.ndarray, r_code: np.ndarray, u_code: np.ndarray, n_r: int, n_u: int
    ) -> tuple[np.ndarray, ...]:
        from statsmodels.regression.mixed_linear_model import MixedLM

        data = pd.DataFrame({"y": y, "r": [f"r{c}" for c in r_code], "u": [f"u{c}" for c in u_code], "g": 0})
        model = MixedLM.from_formula(
            "y ~ 1",
            data=data,
            groups="g",
            re_formula="0",
            vc_formula={"rater": "0 + C(r)", "ratee": "0 + C(u)"},
        )
        start = self._start_params(y, r_code, u_code, n_r, n_u, model)
        result = None
        with warnings.catch_warnings(), _single_thread():
            warnings.simplefilter("ignore")
            for method in ("lbfgs", "bfgs", "powell"):
                try:
                    result = model.fit(reml=True, method=[method], start_params=start)
                except (np.linalg.LinAlgError, ValueError):
                    start = None
                    continue
                if result.converged:
                    break
        if result is None:
            raise OptionError("the crossed random-effects model could not be fitted; use method='fixed'.")
        self.converged_ = bool(result.converged)
        names = list(model.exog_vc.names)
        vcomp = dict(zip(names, np.asarray(result.vcomp, dtype=float), strict=True))
        self.variance_ = {
            "ratee": vcomp["ratee"],
            "rater": vcomp["rater"],
            "residual": float(result.scale),
        }
        self.intercept_ = float(result.fe_params.iloc[0])
        group = next(iter(result.random_effects))
        blup = result.random_effects[group]
        cov = result.random_effects_cov[group]
        sd = pd.Series(np.sqrt(np.clip(np.diag(cov.to_numpy()), 0, None)), index=cov.index)

        def pick(prefix: str, var: str, n: int) -> tuple[np.ndarray, np.ndarray]:
            labels = [f"{prefix}[C({var})[{var}{i}]]" for i in range(n)]
            return blup.reindex(labels).fillna(0.0).to_numpy(), sd.reindex(labels).fillna(0.0).to_numpy()

        rater_eff, rater_se = pick("rater", "r", n_r)
        ratee_eff, ratee_se = pick("ratee", "u", n_u)
        return rater_eff, rater_se, ratee_eff, ratee_se

    @staticmethod
    def _start_params(
        y: np.ndarray, r_code: np.ndarray, u_code: np.ndarray, n_r: int, n_u: int, model: MixedLM
    ) -> MixedLMParams:
        """Starting values from group means (moment estimates), so REML needs few steps."""
        from statsmodels.regression.mixed_linear_model import MixedLMParams

        resid = y - y.mean()
        ratee_mean = np.bincount(u_code, resid, n_u) / np.maximum(np.bincount(u_code, minlength=n_u), 1)
        rest = resid - ratee_mean[u_code]
        rater_mean = np.bincount(r_code, rest, n_r) / np.maximum(np.bincount(r_code, minlength=n_r), 1)
        scale = max(float(np.var(rest - rater_mean[r_code])), 1e-6)
        vcomp = {"ratee": float(np.var(ratee_mean)), "rater": float(np.var(rater_mean))}
        names = list(model.exog_vc.names)
        ratios = np.array([max(vcomp[n], 1e-3 * scale) / scale for n in names])
        return MixedLMParams.from_components(
            fe_params=np.array([float(y.mean())]), cov_re=np.zeros((0, 0)), vcomp=ratios
        )

    def _fit_fixed(
        self,
        y: np.ndarray,
        r_code: np.ndarray,
        u_code: np.ndarray,
        n_r: int,
        n_u: int,
        rater_component: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        n = len(y)
        rows = np.arange(n)
        x = sparse.hstack(
            [
                sparse.csr_matrix((np.ones(n), (rows, u_code)), shape=(n, n_u)),
                sparse.csr_matrix((np.ones(n), (rows, r_code)), shape=(n, n_r)),
            ]
        ).tocsr()
        p = n_u + n_r
        dense = p <= DENSE_LIMIT
        if dense:
            xtx_pinv = np.linalg.pinv((x.T @ x).toarray())
            beta = xtx_pinv @ (x.T @ y)
        else:  # pragma: no cover - large designs
            from scipy.sparse.linalg import lsqr

            beta = lsqr(x, y, atol=1e-12, btol=1e-12)[0]
        resid = y - x @ beta
        rank = n_u + n_r - self.n_components_
        df = max(n - rank, 1)
        sigma2 = float(resid @ resid / df)
        ratee = beta[:n_u].copy()
        rater = beta[n_u:].copy()
        # centre rater effects within each connected part; move the shift into the ratees
        centring = np.zeros((n_r, n_r))
        for c in np.unique(rater_component):
            members = np.flatnonzero(rater_component == c)
            shift = rater[members].mean()
            rater[members] -= shift
            centring[np.ix_(members, members)] = -1.0 / len(members)
        centring += np.eye(n_r)
        # the ratees of a component take the opposite shift (fitted values unchanged)
        u_comp = np.zeros(n_u, dtype=np.int64)
        u_comp[u_code] = rater_component[r_code]
        for c in np.unique(rater_component):
            members = np.flatnonzero(rater_component == c)
            shift = beta[n_u:][members].mean()
            ratee[u_comp == c] += shift
        if dense:
            cov_r = sigma2 * centring @ xtx_pinv[n_u:, n_u:] @ centring.T
            rater_se = np.sqrt(np.clip(np.diag(cov_r), 0, None))
            ratee_se = np.sqrt(np.clip(np.diag(xtx_pinv[:n_u, :n_u]) * sigma2, 0, None))
        else:  # pragma: no cover - large designs
            rater_se = np.sqrt(sigma2 / np.bincount(r_code, minlength=n_r))
            ratee_se = np.sqrt(sigma2 / np.bincount(u_code, minlength=n_u))
        self.converged_ = True
        self.intercept_ = 0.0
        # moment estimates: spread of the estimated effects minus their sampling variance
        self.variance_ = {
            "ratee": max(float(np.var(ratee, ddof=1) - np.mean(ratee_se**2)), 0.0) if n_u > 1 else 0.0,
            "rater": max(float(np.var(rater, ddof=1) - np.mean(rater_se**2)), 0.0) if n_r > 1 else 0.0,
            "residual": sigma2,
        }
        return rater, rater_se, ratee, ratee_se

    # ------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        if not hasattr(self, "effects_"):
            raise OptionError(NOT_FITTED)

    def transform(self, ratings: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``ratings`` with ``rater_effect`` and ``calibrated`` (rating − effect).

        Raters the model has not seen get effect 0 (``rater_known`` is False).
        """
        self._check_fitted()
        _check_columns(ratings, [(self.rating, "rating"), (self.rater, "rater")])
        effect = self.effects_.set_index(self.rater)["effect"]
        raters = ratings[self.rater].astype(object)
        mapped = raters.map(effect.to_dict())
        out = ratings.copy()
        out["rater_known"] = mapped.notna().to_numpy()
        out["rater_effect"] = mapped.fillna(0.0).astype(float).to_numpy()
        out["calibrated"] = ratings[self.rating].astype(float).to_numpy() - out["rater_effect"]
        return out

    def fit_transform(self, ratings: pd.DataFrame) -> pd.DataFrame:
        """Fit on ``ratings`` and return them calibrated."""
        return self.fit(ratings).transform(ratings)


# --------------------------------------------------------------------------- per framework
def rated_indicators(framework: Framework, ratings: pd.DataFrame, sources: Iterable[str] = RATED_SOURCES) -> list[str]:
    """Indicators of ``framework`` with rater ids, from a multi-rater source, in tree order.

    An indicator qualifies when its source is in ``sources`` and its rows in
    ``ratings`` name at least two raters other than the rated unit itself.
    """
    sources = tuple(sources)
    if "rater_id" not in ratings.columns:
        return []
    rated = ratings.dropna(subset=["rater_id"])
    rated = rated[rated["rater_id"].astype(object) != rated["unit_id"].astype(object)]
    counts = rated.groupby("indicator")["rater_id"].nunique()
    return [
        ind.id
        for ind in framework.indicators()
        if ind.source in sources and ind.kind == "score" and counts.get(ind.id, 0) >= 2
    ]


def calibrate_ratings(
    ratings: pd.DataFrame,
    indicators: Sequence[str],
    method: Literal["mixedlm", "fixed", "auto"] = "mixedlm",
    *,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, RaterModel]]:
    """Fit a :class:`RaterModel` per indicator on clean observations.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Clean observations with ``period``, ``unit_id``, ``indicator``,
        ``value`` and ``rater_id`` (e.g. ``ev.stages["raw"]``). Self-ratings
        (rater = unit) are left out.
    indicators : sequence of str
        Indicator ids to calibrate (see :func:`rated_indicators`).
    method : {"mixedlm", "fixed", "auto"}
    confidence : float

    Returns
    -------
    effects : pandas.DataFrame
        Rater effects of every indicator (``indicator`` + :attr:`RaterModel.effects_`).
    unit_shift : pandas.DataFrame
        ``unit_id``, ``indicator``, ``rater_effect`` (mean effect of the raters a
        unit had: raters averaged per month, then months averaged) and
        ``n_ratings``; subtract it from the unit's period value.
    calibrated : pandas.DataFrame
        The rating rows with ``rater_effect`` and ``calibrated``.
    models : dict
        Indicator id → fitted model.
    """
    _check_columns(
        ratings,
        [
            ("unit_id", "ratee"),
            ("indicator", "indicator"),
            ("value", "rating"),
            ("rater_id", "rater"),
            ("period", "period"),
        ],
    )
    effects, shifts, rows = [], [], []
    models: dict[str, RaterModel] = {}
    for indicator in indicators:
        sub = ratings[(ratings["indicator"] == indicator) & ratings["rater_id"].notna()]
        sub = sub[sub["rater_id"].astype(object) != sub["unit_id"].astype(object)]
        model = RaterModel(method, confidence=confidence).fit(sub)
        models[indicator] = model
        effects.append(model.effects_.assign(indicator=indicator, method=model.method_))
        done = model.transform(sub)
        rows.append(done)
        monthly = done.groupby(["unit_id", "period"], sort=True).agg(
            rater_effect=("rater_effect", "mean"), n_ratings=("rater_effect", "size")
        )
        per_unit = monthly.groupby(level="unit_id").agg(
            rater_effect=("rater_effect", "mean"), n_ratings=("n_ratings", "sum")
        )
        shifts.append(per_unit.reset_index().assign(indicator=indicator))
    effect_cols = [
        "indicator",
        "rater_id",
        "effect",
        "se",
        "ci_low",
        "ci_high",
        "n_ratings",
        "n_ratees",
        "component",
        "method",
    ]
    shift_cols = ["unit_id", "indicator", "rater_effect", "n_ratings"]
    effects_frame = pd.concat(effects, ignore_index=True)[effect_cols] if effects else pd.DataFrame(columns=effect_cols)
    shift_frame = pd.concat(shifts, ignore_index=True)[shift_cols] if shifts else pd.DataFrame(columns=shift_cols)
    calibrated = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return effects_frame, shift_frame, calibrated, models


# --------------------------------------------------------------------------- diagnostics
def self_enhancement(ratings: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    """Self minus others: how much a unit's self-rating exceeds how others rate it.

    Uses the framework's score indicators: those with ``source: self`` against
    those with ``source`` supervisor or peer (all on their own scales, so the
    shipped 0–100 ratings compare directly).

    Returns
    -------
    pandas.DataFrame
        One row per unit with both kinds of rating: ``unit_id``, ``self``
        (mean self-rating), ``others`` (mean of the other raters' ratings),
        ``difference`` (self − others) and ``z`` (difference divided by the SD
        of ``others`` across units). Empty when the framework has no self-rated
        indicator.
    """
    columns = ["unit_id", "self", "others", "difference", "z"]
    kinds = {i.id: i.source for i in framework.indicators() if i.kind == "score"}
    own = [k for k, s in kinds.items() if s == "self"]
    other = [k for k, s in kinds.items() if s in ("supervisor", "peer")]
    if not own or not other:
        return pd.DataFrame(columns=columns)
    data = ratings.assign(value=pd.to_numeric(ratings["value"], errors="coerce"))
    self_mean = data[data["indicator"].isin(own)].groupby("unit_id")["value"].mean()
    others = data[data["indicator"].isin(other)]
    if "rater_id" in others.columns:
        others = others[others["rater_id"].astype(object) != others["unit_id"].astype(object)]
    other_mean = others.groupby("unit_id")["value"].mean()
    both = pd.concat({"self": self_mean, "others": other_mean}, axis=1).dropna()
    if both.empty:
        return pd.DataFrame(columns=columns)
    both["difference"] = both["self"] - both["others"]
    sd = both["others"].std(ddof=1)
    both["z"] = both["difference"] / sd if sd and sd > 0 else np.nan
    return both.rename_axis("unit_id").reset_index()[columns]


def central_tendency(
    ratings: pd.DataFrame,
    *,
    rater: str = "rater_id",
    rating: str = "value",
    by: str = "indicator",
    min_ratings: int = 3,
) -> pd.DataFrame:
    """Rater SD relative to the pooled SD of all ratings (of the same indicator).

    A ratio well below 1 means the rater keeps to the middle of the scale
    (central tendency); well above 1, the rater uses the extremes.

    Returns
    -------
    pandas.DataFrame
        ``<by>``, ``rater_id``, ``n_ratings``, ``mean``, ``sd``, ``pooled_sd``,
        ``sd_ratio``; raters with fewer than ``min_ratings`` ratings are left out.
    """
    _check_columns(ratings, [(rater, "rater"), (rating, "rating"), (by, "group")])
    data = ratings.dropna(subset=[rater, rating]).assign(_y=lambda d: pd.to_numeric(d[rating], errors="coerce"))
    rows = []
    for key, sub in data.groupby(by, sort=True):
        pooled = float(sub["_y"].std(ddof=1))
        stats_ = sub.groupby(sub[rater].astype(object))["_y"].agg(["size", "mean", "std"])
        stats_ = stats_[stats_["size"] >= min_ratings]
        for rater_id, row in stats_.iterrows():
            rows.append(
                {
                    by: key,
                    "rater_id": rater_id,
                    "n_ratings": int(row["size"]),
                    "mean": float(row["mean"]),
                    "sd": float(row["std"]),
                    "pooled_sd": pooled,
                    "sd_ratio": float(row["std"] / pooled) if pooled > 0 else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=[by, "rater_id", "n_ratings", "mean", "sd", "pooled_sd", "sd_ratio"])


def halo(
    ratings: pd.DataFrame,
    *,
    rater: str = "rater_id",
    target: Sequence[str] = ("unit_id", "period"),
    indicator: str = "indicator",
    rating: str = "value",
    min_targets: int = 4,
) -> pd.DataFrame:
    """Halo effect: mean correlation between the indicators one rater rates.

    For every rater who rates two or more indicators of the same targets (a
    unit in a month), the Pearson correlation between each pair of indicators
    is computed over the rater's targets, and the correlations are averaged
    through Fisher's z. A rater whose ratings of distinct qualities move
    together more than other raters' do is rating a general impression.

    Returns
    -------
    pandas.DataFrame
        ``rater_id``, ``n_indicators``, ``n_targets``, ``n_pairs`` (indicator
        pairs), ``mean_correlation``; raters with fewer than ``min_targets``
        common targets are left out.
    """
    target = list(target)
    _check_columns(
        ratings,
        [(rater, "rater"), (indicator, "indicator"), (rating, "rating"), *((t, "target") for t in target)],
    )
    data = ratings.dropna(subset=[rater, rating])
    rows = []
    for rater_id, sub in data.groupby(data[rater].astype(object), sort=True):
        wide = sub.pivot_table(index=target, columns=indicator, values=rating, aggfunc="mean")
        wide = wide.dropna()
        if wide.shape[1] < 2 or len(wide) < min_targets:
            continue
        corr = wide.corr().to_numpy()
        pairs = corr[np.triu_indices_from(corr, k=1)]
        pairs = pairs[np.isfinite(pairs)]
        if pairs.size == 0:
            continue
        mean_z = np.mean(np.arctanh(np.clip(pairs, -0.999999, 0.999999)))
        rows.append(
            {
                "rater_id": rater_id,
                "n_indicators": wide.shape[1],
                "n_targets": len(wide),
                "n_pairs": int(pairs.size),
                "mean_correlation": float(np.tanh(mean_z)),
            }
        )
    return pd.DataFrame(rows, columns=["rater_id", "n_indicators", "n_targets", "n_pairs", "mean_correlation"])
