"""Empirical-Bayes shrinkage for small numbers.

Units with few cases have noisy raw rates; ranking them on raw values rewards
and punishes luck.  Empirical-Bayes estimates pull each unit towards the mean
of all units (or of its peer group) in proportion to how little data it has:

``shrunk = reliability x raw + (1 - reliability) x prior_mean``

* :class:`BetaBinomialShrinkage` — proportions (successes out of trials) with a
  beta prior fitted to all units: ``reliability = n / (n + M)`` where
  ``M = alpha + beta`` is the prior's concentration; the shrunk value is the
  posterior mean ``(x + alpha) / (n + alpha + beta)``.
* :class:`NormalNormalShrinkage` — any estimate with a known standard error
  (e.g. a standardised ratio on the log scale, a mean rating): normal prior with
  between-unit variance ``tau^2`` by DerSimonian–Laird or REML;
  ``reliability = tau^2 / (tau^2 + se^2)``.

With ``groups=`` the prior is estimated separately in each peer group (e.g.
urban / rural stations), so units are pulled towards their own group's mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from perfmodel.errors import OptionError, check_confidence

__all__ = [
    "BetaBinomialShrinkage",
    "NormalNormalShrinkage",
    "beta_binomial_mom",
    "dersimonian_laird",
    "reml_tau2",
]

# --------------------------------------------------------------------------- messages
BAD_OPTION = "{name}={value!r} is not valid; use one of {allowed}."
MISSING_COLUMN = (
    "column {column!r} (given as {param}=) is not in the data; available columns: "
    "{available}. Pass the name of an existing column."
)
MISSING_VALUES = "column {column!r} has {count} missing value(s); drop or impute those rows before shrinkage."
NOT_NUMERIC = "column {column!r} must be numeric, got dtype {dtype}; convert it with pd.to_numeric."
NEGATIVE_NUMERATOR = "column {column!r} has {count} negative value(s); numerators must be >= 0."
NONPOSITIVE_DENOMINATOR = (
    "column {column!r} has {count} value(s) <= 0; every unit needs a positive denominator. "
    "Drop units with no cases (they have no raw rate) and report them separately."
)
NUMERATOR_EXCEEDS_DENOMINATOR = (
    "column {numerator!r} exceeds column {denominator!r} for {count} unit(s); successes must be <= trials."
)
NONPOSITIVE_SE = "column {column!r} has {count} value(s) <= 0; standard errors must be > 0."
DUPLICATE_UNITS = (
    "column {column!r} has {count} duplicated unit id(s) (e.g. {example!r}); give one row per "
    "unit with its estimate and standard error."
)
GROUP_NOT_CONSTANT = (
    "unit {unit!r} belongs to more than one group in column {column!r}; each unit needs a single peer group."
)
TOO_FEW_UNITS = (
    "group {group!r} has {n} unit(s); estimating a prior needs at least 2. Merge small peer groups or drop groups=."
)
UNKNOWN_GROUP = (
    "group(s) {groups} in column {column!r} were not in the data the prior was fitted on; "
    "fit on data that include every peer group."
)
ALL_TRIALS_ONE = (
    "every unit in group {group!r} has denominator 1, so between-unit variation cannot be "
    "separated from binomial noise; aggregate over a longer period."
)
NOT_FITTED = "this {name} is not fitted yet; call .fit(data) first."
EMPTY_DATA = "the data have no rows; shrinkage needs at least 2 units."
SHAPE_MISMATCH = "estimates and variances must be one-dimensional and of the same length."
BAD_VARIANCES = "variances must be finite and > 0."

_ALL = "__all__"  # group key used when groups=None
_MAX_CONCENTRATION = 1e10
_MIN_CONCENTRATION = 1e-6


def _py(value: Any) -> object:
    """Plain Python scalar for messages (``1`` rather than ``np.int64(1)``)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and np.ndim(value) == 0 else value


# --------------------------------------------------------------------------- estimators
def _as_meta_arrays(
    estimates: Sequence[float] | np.ndarray, variances: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(estimates, dtype=float)
    v = np.asarray(variances, dtype=float)
    if y.ndim != 1 or y.shape != v.shape:
        raise OptionError(SHAPE_MISMATCH)
    if y.size < 2:
        raise OptionError(TOO_FEW_UNITS.format(group=_ALL, n=y.size))
    if np.any(~np.isfinite(v)) or np.any(v <= 0) or np.any(~np.isfinite(y)):
        raise OptionError(BAD_VARIANCES)
    return y, v


def dersimonian_laird(estimates: Sequence[float] | np.ndarray, variances: Sequence[float] | np.ndarray) -> float:
    """DerSimonian–Laird moment estimate of the between-unit variance ``tau^2``.

    Parameters
    ----------
    estimates : array-like
        Unit estimates ``y_i``.
    variances : array-like
        Their within-unit (sampling) variances ``v_i`` (> 0).

    Returns
    -------
    float
        ``max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))`` with ``w = 1 / v``,
        ``Q = sum w (y - ybar_w)^2`` and ``k`` units.
    """
    y, v = _as_meta_arrays(estimates, variances)
    w = 1.0 / v
    mean = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mean) ** 2)
    denom = np.sum(w) - np.sum(w**2) / np.sum(w)
    return float(max(0.0, (q - (y.size - 1)) / denom))


def _reml_negloglik(tau2: float, y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / (v + tau2)
    mean = np.sum(w * y) / np.sum(w)
    return 0.5 * (np.sum(np.log(v + tau2)) + np.log(np.sum(w)) + np.sum(w * (y - mean) ** 2))


def reml_tau2(estimates: Sequence[float] | np.ndarray, variances: Sequence[float] | np.ndarray) -> float:
    """Restricted maximum-likelihood estimate of the between-unit variance ``tau^2``.

    Maximises the restricted log-likelihood of ``y_i ~ N(mu, v_i + tau^2)``
    over ``tau^2 >= 0`` (``mu`` profiled out).

    Parameters
    ----------
    estimates : array-like
        Unit estimates.
    variances : array-like
        Their sampling variances (> 0).

    Returns
    -------
    float
        ``tau^2`` (0 when the likelihood is largest at the boundary).
    """
    y, v = _as_meta_arrays(estimates, variances)
    spread = float(np.var(y)) if np.var(y) > 0 else 0.0
    upper = 10.0 * (spread + float(np.max(v))) + 1e-12
    res = optimize.minimize_scalar(
        _reml_negloglik,
        bounds=(0.0, upper),
        args=(y, v),
        method="bounded",
        options={"xatol": 1e-12 * max(1.0, upper)},
    )
    tau2 = float(res.x)
    if _reml_negloglik(0.0, y, v) <= _reml_negloglik(tau2, y, v):
        return 0.0

    # polish with a root-finder on the score when the optimum is interior
    def score(t: float) -> float:
        w = 1.0 / (v + t)
        mean = np.sum(w * y) / np.sum(w)
        return float(-np.sum(w) + np.sum(w**2 * (y - mean) ** 2) + np.sum(w**2) / np.sum(w))

    lo, hi = tau2 * 0.5, tau2 * 2.0 + 1e-12
    if score(lo) > 0 > score(hi):
        tau2 = float(optimize.brentq(score, lo, hi, xtol=1e-15, rtol=1e-14))
    return tau2


def beta_binomial_mom(
    numerators: Sequence[float] | np.ndarray, denominators: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Method-of-moments beta prior for binomial units.

    With ``p_i = x_i / n_i``, pooled mean ``mu = sum x / sum n``, ``N = sum n``
    and ``S = sum n_i (p_i - mu)^2``, the beta-binomial model gives
    ``E[S] = mu (1 - mu) [(k - 1) + rho (N - sum n_i^2 / N - (k - 1))]``, where
    ``rho = 1 / (M + 1)`` is the intra-unit correlation.  Solving for ``rho``
    (clipped to [0, 1)) gives the concentration ``M = 1/rho - 1``.

    Parameters
    ----------
    numerators, denominators : array-like
        Successes ``x_i`` and trials ``n_i`` per unit.

    Returns
    -------
    (mean, concentration) : tuple of float
        Prior mean ``mu`` and concentration ``M = alpha + beta``; ``M = inf``
        when the rates vary no more than binomial noise (full shrinkage).
    """
    x = np.asarray(numerators, dtype=float)
    n = np.asarray(denominators, dtype=float)
    k = x.size
    big_n = n.sum()
    mu = float(x.sum() / big_n)
    if mu <= 0.0 or mu >= 1.0:
        return mu, np.inf
    s = np.sum(n * (x / n - mu) ** 2)
    denom = big_n - np.sum(n**2) / big_n - (k - 1)
    if denom <= 0:
        raise OptionError(ALL_TRIALS_ONE.format(group=_ALL))
    rho = (s / (mu * (1.0 - mu)) - (k - 1)) / denom
    if rho <= 0:
        return mu, np.inf
    concentration = max(1.0 / min(rho, 1.0) - 1.0, _MIN_CONCENTRATION)
    return mu, float(concentration)


def _beta_binomial_ml(x: np.ndarray, n: np.ndarray, start: tuple[float, float]) -> tuple[float, float]:
    mu0, m0 = start
    mu0 = float(np.clip(mu0, 1e-6, 1 - 1e-6))
    m0 = float(np.clip(m0 if np.isfinite(m0) else 1e6, 1e-3, 1e8))

    def negll(theta: np.ndarray) -> float:
        mu = special.expit(theta[0])
        m = np.exp(theta[1])
        a, b = mu * m, (1.0 - mu) * m
        return -float(np.sum(special.betaln(x + a, n - x + b) - special.betaln(a, b)))

    res = optimize.minimize(
        negll,
        x0=np.array([special.logit(mu0), np.log(m0)]),
        method="L-BFGS-B",
        bounds=[(-30.0, 30.0), (np.log(_MIN_CONCENTRATION), np.log(_MAX_CONCENTRATION))],
    )
    mu = float(special.expit(res.x[0]))
    m = float(np.exp(res.x[1]))
    if m >= _MAX_CONCENTRATION * 0.999:
        m = np.inf
    return mu, m


# --------------------------------------------------------------------------- shared checks
def _check_option(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise OptionError(BAD_OPTION.format(name=name, value=value, allowed=list(allowed)))


def _require(data: pd.DataFrame, columns: Sequence[tuple[str, str]], numeric: Sequence[str]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise OptionError("data must be a pandas DataFrame.")
    if len(data) == 0:
        raise OptionError(EMPTY_DATA)
    for column, param in columns:
        if column not in data.columns:
            raise OptionError(MISSING_COLUMN.format(column=column, param=param, available=list(data.columns)))
        count = int(data[column].isna().sum())
        if count:
            raise OptionError(MISSING_VALUES.format(column=column, count=count))
    for column in numeric:
        col = data[column]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise OptionError(NOT_NUMERIC.format(column=column, dtype=col.dtype))


def _group_of_units(data: pd.DataFrame, unit: str, groups: str | None) -> pd.Series:
    if groups is None:
        return pd.Series(_ALL, index=pd.Index(data[unit].unique(), name=unit))
    per_unit = data.groupby(unit, sort=False)[groups].nunique()
    bad = per_unit[per_unit > 1]
    if len(bad):
        raise OptionError(GROUP_NOT_CONSTANT.format(unit=_py(bad.index[0]), column=groups))
    return data.groupby(unit, sort=False)[groups].first()


class _Shrinker:
    """Common plumbing: fitted state, groups, summary."""

    _name = "shrinkage"
    # set by fit(): declared, not assigned, so hasattr(self, "prior_") tells whether it ran
    prior_: pd.DataFrame
    table_: pd.DataFrame

    def fit(self, data: pd.DataFrame) -> Self:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "prior_"):
            raise OptionError(NOT_FITTED.format(name=type(self).__name__))

    def fit_transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Fit the prior on ``data`` and return its shrunk estimates."""
        return self.fit(data).transform(data)

    def to_frame(self) -> pd.DataFrame:
        """Per-unit estimates of the data the prior was fitted on."""
        self._check_fitted()
        return self.table_.copy()

    def _check_known_groups(self, groups: pd.Series, column: str | None) -> None:
        known = set(self.prior_["group"])
        unknown = sorted({str(g) for g in groups.unique() if g not in known})
        if unknown:
            raise OptionError(UNKNOWN_GROUP.format(groups=unknown, column=column))

    def summary(self) -> str:
        """Plain-text account of the prior(s) and the amount of shrinkage."""
        self._check_fitted()
        t = self.table_
        lines = [f"{type(self).__name__} ({self._describe()}), {len(t)} units"]
        for _, row in self.prior_.iterrows():
            label = "all units" if row["group"] == _ALL else f"group {row['group']!r}"
            lines.append(f"  prior for {label} ({int(row['n_units'])} units): {self._describe_prior(row)}")
        rel = t["reliability"]
        lines.append(
            f"  reliability (weight on own data): min {rel.min():.3f}, median {rel.median():.3f}, max {rel.max():.3f}"
        )
        moved = (t["shrunk"] - t["raw"]).abs()
        lines.append(f"  |shrunk - raw|: median {moved.median():.4g}, max {moved.max():.4g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"

    def _describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _describe_prior(self, row: pd.Series) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------- beta-binomial
class BetaBinomialShrinkage(_Shrinker):
    """Empirical-Bayes shrinkage of proportions with a beta prior.

    Parameters
    ----------
    method : {"mom", "ml"}, default "mom"
        Prior fitted by the method of moments (:func:`beta_binomial_mom`) or by
        maximising the beta-binomial marginal likelihood.
    numerator : str, default "numerator"
        Successes column.
    denominator : str, default "denominator"
        Trials column (> 0).
    unit : str, default "unit_id"
        Unit-id column; rows of a unit are summed.
    groups : str, optional
        Peer-group column; a separate prior is fitted in each group.
    confidence : float, default 0.95
        Coverage of the equal-tailed posterior interval.

    Attributes
    ----------
    prior_ : pandas.DataFrame
        Per group: ``group``, ``n_units``, ``mean``, ``concentration``
        (``alpha + beta``, ``inf`` = no between-unit variation), ``alpha``,
        ``beta``, ``between_sd`` (sd of the prior).
    table_ : pandas.DataFrame
        :meth:`transform` of the fitting data.
    """

    def __init__(
        self,
        method: Literal["mom", "ml"] = "mom",
        *,
        numerator: str = "numerator",
        denominator: str = "denominator",
        unit: str = "unit_id",
        groups: str | None = None,
        confidence: float = 0.95,
    ) -> None:
        self.method = method
        self.numerator = numerator
        self.denominator = denominator
        self.unit = unit
        self.groups = groups
        self.confidence = confidence

    def _describe(self) -> str:
        return f"method={self.method!r}" + (f", groups={self.groups!r}" if self.groups else "")

    def _describe_prior(self, row: pd.Series) -> str:
        return (
            f"mean {row['mean']:.4g}, concentration alpha+beta = {row['concentration']:.4g}, "
            f"between-unit sd {row['between_sd']:.4g}"
        )

    def _units(self, data: pd.DataFrame) -> pd.DataFrame:
        cols = [
            (self.numerator, "numerator"),
            (self.denominator, "denominator"),
            (self.unit, "unit"),
        ]
        if self.groups is not None:
            cols.append((self.groups, "groups"))
        _require(data, cols, [self.numerator, self.denominator])
        neg = int((data[self.numerator] < 0).sum())
        if neg:
            raise OptionError(NEGATIVE_NUMERATOR.format(column=self.numerator, count=neg))
        group_of = _group_of_units(data, self.unit, self.groups)
        agg = data.groupby(self.unit, sort=False)[[self.numerator, self.denominator]].sum()
        bad = int((~(agg[self.denominator] > 0)).sum())
        if bad:
            raise OptionError(NONPOSITIVE_DENOMINATOR.format(column=self.denominator, count=bad))
        over = int((agg[self.numerator] > agg[self.denominator]).sum())
        if over:
            raise OptionError(
                NUMERATOR_EXCEEDS_DENOMINATOR.format(numerator=self.numerator, denominator=self.denominator, count=over)
            )
        out = pd.DataFrame(
            {
                self.unit: agg.index.to_numpy(),
                "group": group_of.reindex(agg.index).to_numpy(),
                "numerator": agg[self.numerator].to_numpy(dtype=float),
                "denominator": agg[self.denominator].to_numpy(dtype=float),
            }
        )
        return out

    def fit(self, data: pd.DataFrame) -> BetaBinomialShrinkage:
        """Fit the beta prior(s) from all units' numerators and denominators.

        Parameters
        ----------
        data : pandas.DataFrame
            Unit- or record-level data with the numerator, denominator and unit
            columns (and the group column if ``groups`` is set).

        Returns
        -------
        BetaBinomialShrinkage
            ``self``.
        """
        _check_option("method", self.method, ("mom", "ml"))
        check_confidence(self.confidence)
        units = self._units(data)
        rows = []
        for group, sub in units.groupby("group", sort=False):
            if len(sub) < 2:
                raise OptionError(TOO_FEW_UNITS.format(group=_py(group), n=len(sub)))
            x, n = sub["numerator"].to_numpy(), sub["denominator"].to_numpy()
            try:
                mean, conc = beta_binomial_mom(x, n)
            except ValueError:
                raise OptionError(ALL_TRIALS_ONE.format(group=_py(group))) from None
            if self.method == "ml" and 0.0 < mean < 1.0:
                mean, conc = _beta_binomial_ml(x, n, (mean, conc))
            alpha = mean * conc if np.isfinite(conc) else np.inf
            beta = (1.0 - mean) * conc if np.isfinite(conc) else np.inf
            between_sd = float(np.sqrt(mean * (1.0 - mean) / (conc + 1.0))) if np.isfinite(conc) else 0.0
            rows.append(
                {
                    "group": group,
                    "n_units": len(sub),
                    "mean": mean,
                    "concentration": conc,
                    "alpha": alpha,
                    "beta": beta,
                    "between_sd": between_sd,
                }
            )
        self.prior_ = pd.DataFrame(rows)
        self.table_ = self.transform(data)
        return self

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Shrunk proportions for the units in ``data`` under the fitted prior(s).

        Returns
        -------
        pandas.DataFrame
            One row per unit: ``<unit>``, ``group`` (only with ``groups=``),
            ``numerator``, ``denominator``, ``raw`` (x/n), ``shrunk`` (posterior
            mean), ``prior_mean``, ``reliability`` (n / (n + alpha + beta), in
            [0, 1]), ``lower`` / ``upper`` (equal-tailed posterior interval at
            ``confidence``).
        """
        self._check_fitted()
        units = self._units(data)
        self._check_known_groups(units["group"], self.groups)
        prior = self.prior_.set_index("group")
        mean = prior.loc[units["group"], "mean"].to_numpy()
        conc = prior.loc[units["group"], "concentration"].to_numpy()
        x, n = units["numerator"].to_numpy(), units["denominator"].to_numpy()
        finite = np.isfinite(conc)
        conc_f = np.where(finite, conc, 1.0)
        reliability = np.where(finite, n / (n + conc_f), 0.0)
        raw = x / n
        shrunk = np.where(finite, (x + mean * conc_f) / (n + conc_f), mean)
        a_post = x + mean * conc_f
        b_post = n - x + (1.0 - mean) * conc_f
        tail = (1.0 - self.confidence) / 2.0
        with np.errstate(invalid="ignore"):
            lower = np.where(finite, stats.beta.ppf(tail, a_post, b_post), mean)
            upper = np.where(finite, stats.beta.ppf(1.0 - tail, a_post, b_post), mean)
        out = pd.DataFrame({self.unit: units[self.unit].to_numpy()})
        if self.groups is not None:
            out["group"] = units["group"].to_numpy()
        out["numerator"] = x
        out["denominator"] = n
        out["raw"] = raw
        out["shrunk"] = shrunk
        out["prior_mean"] = mean
        out["reliability"] = reliability
        out["lower"] = lower
        out["upper"] = upper
        return out


# --------------------------------------------------------------------------- normal-normal
class NormalNormalShrinkage(_Shrinker):
    """Empirical-Bayes shrinkage of estimates with known standard errors.

    Model: ``estimate_i ~ N(theta_i, se_i^2)``, ``theta_i ~ N(mu, tau^2)``.

    Parameters
    ----------
    method : {"reml", "dl"}, default "reml"
        Between-unit variance by REML (:func:`reml_tau2`) or DerSimonian–Laird
        (:func:`dersimonian_laird`).
    estimate : str, default "estimate"
        Column of unit estimates.
    se : str, default "se"
        Column of their standard errors (> 0).
    unit : str, default "unit_id"
        Unit-id column (one row per unit).
    groups : str, optional
        Peer-group column; ``mu`` and ``tau^2`` are estimated per group.
    confidence : float, default 0.95
        Coverage of the posterior interval ``shrunk +/- z sqrt(reliability) se``.

    Attributes
    ----------
    prior_ : pandas.DataFrame
        Per group: ``group``, ``n_units``, ``mean`` (random-effects weighted
        mean), ``tau2``, ``tau``.
    table_ : pandas.DataFrame
        :meth:`transform` of the fitting data.
    """

    def __init__(
        self,
        method: Literal["reml", "dl"] = "reml",
        *,
        estimate: str = "estimate",
        se: str = "se",
        unit: str = "unit_id",
        groups: str | None = None,
        confidence: float = 0.95,
    ) -> None:
        self.method = method
        self.estimate = estimate
        self.se = se
        self.unit = unit
        self.groups = groups
        self.confidence = confidence

    def _describe(self) -> str:
        return f"method={self.method!r}" + (f", groups={self.groups!r}" if self.groups else "")

    def _describe_prior(self, row: pd.Series) -> str:
        return f"mean {row['mean']:.4g}, tau2 {row['tau2']:.4g} (tau {row['tau']:.4g})"

    def _units(self, data: pd.DataFrame) -> pd.DataFrame:
        cols = [(self.estimate, "estimate"), (self.se, "se"), (self.unit, "unit")]
        if self.groups is not None:
            cols.append((self.groups, "groups"))
        _require(data, cols, [self.estimate, self.se])
        dup = data[self.unit].duplicated()
        if dup.any():
            raise OptionError(
                DUPLICATE_UNITS.format(
                    column=self.unit,
                    count=int(dup.sum()),
                    example=_py(data.loc[dup, self.unit].iloc[0]),
                )
            )
        bad = int((~(data[self.se] > 0)).sum())
        if bad:
            raise OptionError(NONPOSITIVE_SE.format(column=self.se, count=bad))
        return pd.DataFrame(
            {
                self.unit: data[self.unit].to_numpy(),
                "group": data[self.groups].to_numpy() if self.groups is not None else _ALL,
                "estimate": data[self.estimate].to_numpy(dtype=float),
                "se": data[self.se].to_numpy(dtype=float),
            }
        )

    def fit(self, data: pd.DataFrame) -> NormalNormalShrinkage:
        """Estimate ``mu`` and ``tau^2`` (per group) from all units.

        Returns
        -------
        NormalNormalShrinkage
            ``self``.
        """
        _check_option("method", self.method, ("reml", "dl"))
        check_confidence(self.confidence)
        units = self._units(data)
        rows = []
        for group, sub in units.groupby("group", sort=False):
            if len(sub) < 2:
                raise OptionError(TOO_FEW_UNITS.format(group=_py(group), n=len(sub)))
            y, v = sub["estimate"].to_numpy(), sub["se"].to_numpy() ** 2
            tau2 = reml_tau2(y, v) if self.method == "reml" else dersimonian_laird(y, v)
            w = 1.0 / (v + tau2)
            rows.append(
                {
                    "group": group,
                    "n_units": len(sub),
                    "mean": float(np.sum(w * y) / np.sum(w)),
                    "tau2": tau2,
                    "tau": float(np.sqrt(tau2)),
                }
            )
        self.prior_ = pd.DataFrame(rows)
        self.table_ = self.transform(data)
        return self

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Shrunk estimates for the units in ``data`` under the fitted prior(s).

        Returns
        -------
        pandas.DataFrame
            One row per unit: ``<unit>``, ``group`` (only with ``groups=``),
            ``raw`` (the estimate), ``se``, ``shrunk``, ``prior_mean``,
            ``reliability`` (tau^2 / (tau^2 + se^2)), ``posterior_sd``
            (sqrt(reliability) x se), ``lower``, ``upper``.
        """
        self._check_fitted()
        units = self._units(data)
        self._check_known_groups(units["group"], self.groups)
        prior = self.prior_.set_index("group")
        mean = prior.loc[units["group"], "mean"].to_numpy()
        tau2 = prior.loc[units["group"], "tau2"].to_numpy()
        y, se = units["estimate"].to_numpy(), units["se"].to_numpy()
        reliability = tau2 / (tau2 + se**2)
        shrunk = mean + reliability * (y - mean)
        post_sd = np.sqrt(reliability) * se
        z = stats.norm.ppf(1.0 - (1.0 - self.confidence) / 2.0)
        out = pd.DataFrame({self.unit: units[self.unit].to_numpy()})
        if self.groups is not None:
            out["group"] = units["group"].to_numpy()
        out["raw"] = y
        out["se"] = se
        out["shrunk"] = shrunk
        out["prior_mean"] = mean
        out["reliability"] = reliability
        out["posterior_sd"] = post_sd
        out["lower"] = shrunk - z * post_sd
        out["upper"] = shrunk + z * post_sd
        return out
