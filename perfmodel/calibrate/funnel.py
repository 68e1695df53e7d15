"""Funnel plots with exact, normal and over-dispersed control limits.

A funnel plot compares each unit's indicator (a standardised ratio O/E, a
proportion or a rate) with a common target, against a measure of the unit's
precision (expected count E, or denominator n).  Control limits at the chosen
confidence form a funnel around the target; units outside the limits are flagged.

Methods
-------
Unadjusted limits (``method``):

* ``"exact"`` — the exact discrete distribution of the count under the target
  (binomial for proportions, Poisson for ratios and rates), with the
  interpolation for discrete distributions of Spiegelhalter (2005, appendix A.1):
  for a tail probability ``p`` let ``r_p`` be the smallest count with
  ``P(Y <= r_p) >= p`` and ``alpha = (P(Y <= r_p) - p) / (P(Y <= r_p) - P(Y <= r_p - 1))``;
  the limit on the count scale is ``r_p - alpha``.  With ``discrete="symmetric"``
  (default) the upper limit applies the same interpolation to the upper tail
  (through the survival function ``P(Y >= r)``), which guarantees a false-alarm
  probability of at most ``(1 - level) / 2`` on each side, even for units with
  very few cases.  ``discrete="quantile"`` uses the published interpolated
  ``p``-quantile for both limits; its upper limit lies below the largest possible
  count whenever ``P(Y = max) > (1 - level) / 2``, so it flags, for example, every
  unit whose count equals its denominator (1 of 1, 10 of 10 at a 90 % target).
* ``"chisq"`` — ratios and rates only: the chi-square (gamma) form of the Poisson
  limits used by FunnelPlotR and the NHS SHMI,
  ``L = chi2.ppf(a, 2E) / (2E)`` and ``U = chi2.ppf(1 - a, 2(E + 1)) / (2E)``
  (``a = (1 - level) / 2``).  Its lower limit is positive for every E, so a unit
  with O = 0 is always flagged low; prefer ``"exact"`` when expected counts are small.
* ``"normal"`` — normal approximation on the variance-stabilising scale
  (log or square root for ratios/rates, arcsine-square-root for proportions),
  transformed back.

Over-dispersion (``overdispersion``) — always on the variance-stabilising
scale, with z-scores ``z = (Y - T) / s`` (``Y`` the transformed indicator,
``T`` the transformed target and ``s`` its null standard error):

* ``"multiplicative"`` — ``phi`` = mean of the squared (winsorised or truncated)
  z-scores; limits ``T +/- z_level * sqrt(phi) * s`` (Spiegelhalter 2005, section 7).
* ``"additive"`` — random-effects ``tau^2`` by DerSimonian–Laird from the same
  z-scores, ``tau^2 = (n phi - (n - 1)) / (sum w - sum w^2 / sum w)`` with
  ``w = 1 / s^2``; limits ``T +/- z_level * sqrt(s^2 + tau^2)`` (Spiegelhalter
  2005; Spiegelhalter et al. 2012; FunnelPlotR).

If no over-dispersion is found (``phi <= 1``, or ``tau^2 = 0``) the unadjusted
limits of ``method`` are used and :attr:`FunnelResult.adjusted` is ``False``.

The NHS SHMI / FunnelPlotR method for standardised ratios is
``kind="ratio", transform="log", overdispersion="additive",
trim_method="truncate", trim=0.10`` (and ``method="chisq"`` for its
unadjusted limits).

References
----------
Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance.
*Statistics in Medicine* 24:1185–1202.
Spiegelhalter DJ et al. (2012). Statistical methods for healthcare regulation:
rating, screening and surveillance. *JRSS A* 175:1–47.
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials.
*Controlled Clinical Trials* 7:177–188.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.errors import OptionError
from perfmodel.multiple_testing import bh_qvalues

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = [
    "FunnelPlot",
    "FunnelResult",
    "OverdispersionEstimate",
    "estimate_overdispersion",
    "funnel_analysis",
    "funnel_limits",
    "confidence_label",
]

Kind = Literal["ratio", "proportion", "rate"]
Method = Literal["exact", "chisq", "normal"]
Overdispersion = Literal["none", "multiplicative", "additive"]
TrimMethod = Literal["none", "winsorise", "truncate"]
Transform = Literal["log", "sqrt", "arcsine"]
Discrete = Literal["symmetric", "quantile"]

KINDS: tuple[str, ...] = ("ratio", "proportion", "rate")
METHODS: tuple[str, ...] = ("exact", "chisq", "normal")
OVERDISPERSIONS: tuple[str, ...] = ("none", "multiplicative", "additive")
TRIM_METHODS: tuple[str, ...] = ("none", "winsorise", "truncate")
DISCRETE_RULES: tuple[str, ...] = ("symmetric", "quantile")

# --------------------------------------------------------------------------- messages
BAD_OPTION = "{name}={value!r} is not valid; use one of {allowed}."
MISSING_COLUMN = (
    "column {column!r} (given as {param}=) is not in the data; available columns: "
    "{available}. Pass the name of an existing column."
)
NEED_SIZE_COLUMN = "kind={kind!r} needs the {needed}= column (and not {other}=): {why}"
MISSING_VALUES = "column {column!r} has {count} missing value(s); drop or impute those rows before the funnel analysis."
NOT_NUMERIC = "column {column!r} must be numeric, got dtype {dtype}; convert it with pd.to_numeric."
NEGATIVE_OBSERVED = "column {column!r} (observed) has {count} negative value(s); observed counts must be >= 0."
NONPOSITIVE_SIZE = (
    "column {column!r} ({what}) has {count} value(s) <= 0; every unit needs a positive "
    "{what}. Drop units with no cases before the funnel analysis."
)
OBSERVED_EXCEEDS_DENOMINATOR = (
    "column {observed!r} exceeds column {denominator!r} for {count} unit(s); a proportion "
    "needs numerator <= denominator."
)
NOT_WHOLE = (
    "column {column!r} has non-integer values but method='exact' needs whole-number "
    "counts{extra}; use method='normal'{alt} instead."
)
LOG_ZERO = (
    "column {column!r} has {count} unit(s) with observed = 0, where the log transform is "
    "undefined; use transform='sqrt' (Spiegelhalter's square-root scale) instead."
)
BAD_TRANSFORM = "transform={transform!r} does not apply to kind={kind!r}; use one of {allowed}."
CHISQ_NOT_FOR_PROPORTION = (
    "method='chisq' (chi-square form of Poisson limits) applies to ratios and rates only; "
    "use method='exact' or 'normal' for proportions."
)
BAD_TARGET = "target={target!r} is not valid for kind={kind!r}: {why}"
DEGENERATE_TARGET = (
    "the target {what} is {target!r}, so every unit's expected count is {edge}; a funnel "
    "plot cannot separate units. Check the {column!r} column."
)
BAD_CONFIDENCE = "confidence={confidence!r} is not valid: give one or more distinct values strictly between 0 and 1."
BAD_TRIM = "trim={trim!r} is not valid: it must be >= 0 and < 0.5 (0.10 means 10% at each end)."
TOO_FEW_UNITS = (
    "over-dispersion needs at least 2 units with usable z-scores after trimming, found {n}; "
    "use overdispersion='none' or a smaller trim."
)
NOT_FITTED = "this FunnelPlot is not fitted yet; call .fit(data) first."
EMPTY_DATA = "the data have no rows; a funnel analysis needs at least one unit."
BAD_PHI_TAU = "give phi > 0 and tau2 >= 0, and do not set both phi != 1 and tau2 != 0 (got phi={phi!r}, tau2={tau2!r})."

_KIND_LABELS = {
    "ratio": ("Expected (E)", "Standardised ratio (O/E)"),
    "proportion": ("Denominator (n)", "Proportion"),
    "rate": ("Exposure (n)", "Rate"),
}


# --------------------------------------------------------------------------- helpers
def _check_option(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise OptionError(BAD_OPTION.format(name=name, value=value, allowed=list(allowed)))


def _validate_confidence(confidence: Sequence[float] | float) -> tuple[float, ...]:
    # a number (or a numpy scalar, or a string of a number) is one level; any other iterable several
    values: tuple[Any, ...] = (
        tuple(confidence) if isinstance(confidence, Iterable) and not np.isscalar(confidence) else (confidence,)
    )
    try:
        out = tuple(sorted(float(v) for v in values))
    except (TypeError, ValueError):
        raise OptionError(BAD_CONFIDENCE.format(confidence=confidence)) from None
    if not out or any(not 0.0 < v < 1.0 for v in out) or len(set(out)) != len(out):
        raise OptionError(BAD_CONFIDENCE.format(confidence=confidence))
    return out


def confidence_label(level: float) -> str:
    """Column suffix for a control-limit level: 0.95 → ``"95"``, 0.998 → ``"998"``.

    Parameters
    ----------
    level : float
        Two-sided coverage of the limits, strictly between 0 and 1.

    Returns
    -------
    str
        The percentage without the decimal point, as used in FunnelPlotR
        (``lower_95``, ``upper_998``, ``outside_998``).
    """
    return f"{round(level * 100, 6):g}".replace(".", "")


def _pct(level: float) -> str:
    return f"{round(level * 100, 6):g}%"


def _validate_trim(trim: float) -> float:
    try:
        trim = float(trim)
    except (TypeError, ValueError):
        raise OptionError(BAD_TRIM.format(trim=trim)) from None
    if not 0.0 <= trim < 0.5:
        raise OptionError(BAD_TRIM.format(trim=trim))
    return trim


def _resolve_transform(kind: str, transform: Transform | None) -> Transform:
    allowed: tuple[Transform, ...] = ("arcsine",) if kind == "proportion" else ("sqrt", "log")
    if transform is None:
        return allowed[0]
    if transform not in allowed:
        raise OptionError(BAD_TRANSFORM.format(transform=transform, kind=kind, allowed=list(allowed)))
    return transform


def _is_whole(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x - np.round(x)) < 1e-9))


# --------------------------------------------------------------------------- exact limits
def _dist(kind: str) -> stats.rv_discrete:
    return stats.binom if kind == "proportion" else stats.poisson


def _dist_args(kind: str, size: np.ndarray, target: float) -> tuple[np.ndarray, ...]:
    if kind == "proportion":
        return (np.round(size), np.full_like(size, target, dtype=float))
    return (target * size,)


def _lower_count_quantile(a: float, dist: stats.rv_discrete, args: tuple[np.ndarray, ...]) -> np.ndarray:
    """Spiegelhalter's interpolated ``a``-quantile ``r_p - alpha`` of a discrete law."""
    r = np.asarray(dist.ppf(a, *args), dtype=float)
    r = np.where(np.isfinite(r), r, 0.0)
    for _ in range(5):  # guard against floating-point slips in ppf
        down = (r > 0) & (dist.cdf(r - 1, *args) >= a)
        up = dist.cdf(r, *args) < a
        if not (down.any() or up.any()):
            break
        r = r - down + up
    f_r = dist.cdf(r, *args)
    f_below = dist.cdf(r - 1, *args)
    alpha = (f_r - a) / (f_r - f_below)
    return r - alpha


def _upper_count_tail(a: float, dist: stats.rv_discrete, args: tuple[np.ndarray, ...]) -> np.ndarray:
    """Same interpolation applied to the upper tail: ``r_u + beta``.

    ``r_u`` is the largest count with ``P(Y >= r_u) >= a`` and
    ``beta = (P(Y >= r_u) - a) / P(Y = r_u)``; a count exceeds the limit exactly
    when ``P(Y >= count) < a``.
    """
    r = np.asarray(dist.isf(a, *args), dtype=float)  # roughly the smallest r with sf(r) <= a
    r = np.where(np.isfinite(r), r, 0.0)
    for _ in range(5):
        up = dist.sf(r, *args) >= a
        down = (r > 0) & (dist.sf(r - 1, *args) < a)
        if not (down.any() or up.any()):
            break
        r = r + up - down
    # r is now the smallest count with P(Y > r) < a, i.e. r_u
    tail = dist.sf(r - 1, *args)  # P(Y >= r_u)
    beta = (tail - a) / dist.pmf(r, *args)
    return r + beta


def _exact_count_limits(
    kind: str, size: np.ndarray, target: float, level: float, discrete: str
) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - level) / 2.0
    dist = _dist(kind)
    args = _dist_args(kind, size, target)
    lower = _lower_count_quantile(a, dist, args)
    if discrete == "symmetric":
        upper = _upper_count_tail(a, dist, args)
    else:
        upper = _lower_count_quantile(1.0 - a, dist, args)
    return lower, upper


def _exact_p_value(kind: str, observed: np.ndarray, size: np.ndarray, target: float, discrete: str) -> np.ndarray:
    dist = _dist(kind)
    args = _dist_args(kind, size, target)
    lower_tail = dist.cdf(observed, *args)
    if discrete == "symmetric":
        upper_tail = dist.sf(observed - 1, *args)  # P(Y >= O)
    else:
        upper_tail = dist.sf(observed, *args)  # P(Y > O): tail of the interpolated law
    return np.minimum(1.0, 2.0 * np.minimum(lower_tail, upper_tail))


def _chisq_ratio_limits(mu: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - level) / 2.0
    lower = stats.chi2.ppf(a, 2.0 * mu) / (2.0 * mu)
    upper = stats.chi2.ppf(1.0 - a, 2.0 * (mu + 1.0)) / (2.0 * mu)
    return lower, upper


def _chisq_p_value(observed: np.ndarray, mu: np.ndarray) -> np.ndarray:
    lower_tail = stats.chi2.cdf(2.0 * observed, 2.0 * mu)
    upper_tail = stats.chi2.sf(2.0 * observed, 2.0 * (mu + 1.0))
    return np.minimum(1.0, 2.0 * np.minimum(lower_tail, upper_tail))


# --------------------------------------------------------------------------- transformed scale
def _transformed(
    kind: str, transform: str, observed: np.ndarray, size: np.ndarray, target: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Return ``(Y, s, T)``: transformed indicator, null standard error, transformed target."""
    if kind == "proportion":
        y = np.arcsin(np.sqrt(np.clip(observed / size, 0.0, 1.0)))
        return y, 1.0 / (2.0 * np.sqrt(size)), float(np.arcsin(np.sqrt(target)))
    mu = target * size
    ratio = observed / mu
    if transform == "log":
        with np.errstate(divide="ignore"):
            return np.log(ratio), 1.0 / np.sqrt(mu), 0.0
    return np.sqrt(ratio), 1.0 / (2.0 * np.sqrt(mu)), 1.0


def _back_transform(
    kind: str, transform: str, centre: float, half_width: np.ndarray, target: float
) -> tuple[np.ndarray, np.ndarray]:
    if kind == "proportion":
        lo = np.sin(np.clip(centre - half_width, 0.0, np.pi / 2)) ** 2
        hi = np.sin(np.clip(centre + half_width, 0.0, np.pi / 2)) ** 2
        return lo, hi
    if transform == "log":
        return target * np.exp(-half_width), target * np.exp(half_width)
    return target * np.clip(1.0 - half_width, 0.0, None) ** 2, target * (1.0 + half_width) ** 2


def _normal_limits(
    kind: str,
    transform: str,
    size: np.ndarray,
    target: float,
    level: float,
    *,
    phi: float = 1.0,
    tau2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    _, s, centre = _transformed(kind, transform, np.zeros_like(size), size, target)
    sigma = np.sqrt(phi * s**2 + tau2)
    z = stats.norm.ppf(1.0 - (1.0 - level) / 2.0)
    return _back_transform(kind, transform, centre, z * sigma, target)


def _limits_on_value_scale(
    kind: str,
    transform: str,
    method: str,
    discrete: str,
    size: np.ndarray,
    target: float,
    level: float,
    *,
    phi: float = 1.0,
    tau2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    if phi != 1.0 or tau2 != 0.0 or method == "normal":
        return _normal_limits(kind, transform, size, target, level, phi=phi, tau2=tau2)
    if method == "chisq":
        lo, hi = _chisq_ratio_limits(target * size, level)
        return target * lo, target * hi
    lo, hi = _exact_count_limits(kind, size, target, level, discrete)
    lo, hi = lo / size, hi / size
    if kind == "proportion":
        return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
    return np.clip(lo, 0.0, None), hi


def funnel_limits(
    size: Sequence[float] | np.ndarray | pd.Series | float,
    *,
    kind: Kind,
    target: float | None = None,
    confidence: Sequence[float] = (0.95, 0.998),
    method: Method = "exact",
    transform: Transform | None = None,
    discrete: Discrete = "symmetric",
    phi: float = 1.0,
    tau2: float = 0.0,
) -> pd.DataFrame:
    """Control limits of a funnel plot at given precisions.

    Parameters
    ----------
    size : array-like or float
        Expected count E (``kind="ratio"``) or denominator n (``"proportion"``,
        ``"rate"``) at which to compute the limits.  Must be > 0; whole numbers
        for exact proportion limits.
    kind : {"ratio", "proportion", "rate"}
        The indicator: standardised ratio O/E, proportion O/n or rate O/n.
    target : float, optional
        Centre of the funnel.  Defaults to 1 for ratios; required for
        proportions (in (0, 1)) and rates (> 0).
    confidence : sequence of float, default (0.95, 0.998)
        Two-sided coverage of each pair of limits. The two defaults are Spiegelhalter's
        (2005, "Funnel plots for comparing institutional performance"): about 2 and 3
        standard deviations, the exception to the house default of one 0.95.
    method : {"exact", "chisq", "normal"}, default "exact"
        How unadjusted limits are computed (see the module docstring).
    transform : {"log", "sqrt", "arcsine"}, optional
        Variance-stabilising scale for normal and over-dispersed limits:
        ``"sqrt"`` (default) or ``"log"`` for ratios/rates, ``"arcsine"`` for
        proportions.
    discrete : {"symmetric", "quantile"}, default "symmetric"
        Interpolation rule for exact limits of discrete counts.
    phi : float, default 1
        Multiplicative over-dispersion factor; ``phi != 1`` gives normal limits
        with variance inflated by ``phi``.
    tau2 : float, default 0
        Additive between-unit variance on the transformed scale; ``tau2 > 0``
        gives random-effects limits ``T +/- z sqrt(s^2 + tau2)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``size`` and, per level, ``lower_<lvl>`` and ``upper_<lvl>``
        (e.g. ``lower_95``, ``upper_998``; see :func:`confidence_label`).

    Examples
    --------
    >>> funnel_limits([10, 100], kind="ratio", method="chisq", confidence=[0.998]).round(3)
        size  lower_998  upper_998
    0   10.0      0.296      2.413
    1  100.0      0.719      1.349
    """
    _check_option("kind", kind, KINDS)
    _check_option("method", method, METHODS)
    _check_option("discrete", discrete, DISCRETE_RULES)
    transform_ = _resolve_transform(kind, transform)
    confidence_ = _validate_confidence(confidence)
    if method == "chisq" and kind == "proportion":
        raise OptionError(CHISQ_NOT_FOR_PROPORTION)
    target_ = _validate_target(kind, target)
    if not (phi > 0 and tau2 >= 0) or (phi != 1.0 and tau2 != 0.0):
        raise OptionError(BAD_PHI_TAU.format(phi=phi, tau2=tau2))
    x = np.atleast_1d(np.asarray(size, dtype=float))
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise OptionError(NONPOSITIVE_SIZE.format(column="size", what="size", count=int(np.sum(~(x > 0)))))
    if kind == "proportion" and method == "exact" and not _is_whole(x):
        raise OptionError(NOT_WHOLE.format(column="size", extra=" (denominators)", alt=""))
    out = pd.DataFrame({"size": x})
    for level in confidence_:
        lo, hi = _limits_on_value_scale(kind, transform_, method, discrete, x, target_, level, phi=phi, tau2=tau2)
        lab = confidence_label(level)
        out[f"lower_{lab}"] = lo
        out[f"upper_{lab}"] = hi
    if isinstance(size, pd.Series):
        out.index = size.index
    return out


def _validate_target(kind: str, target: float | None) -> float:
    if target is None:
        if kind == "ratio":
            return 1.0
        raise OptionError(BAD_TARGET.format(target=target, kind=kind, why="give the funnel's centre."))
    t = float(target)
    if kind == "proportion" and not 0.0 < t < 1.0:
        raise OptionError(BAD_TARGET.format(target=target, kind=kind, why="it must be strictly between 0 and 1."))
    if kind != "proportion" and not (np.isfinite(t) and t > 0.0):
        raise OptionError(BAD_TARGET.format(target=target, kind=kind, why="it must be a positive number."))
    return t


# --------------------------------------------------------------------------- over-dispersion
@dataclass(frozen=True)
class OverdispersionEstimate:
    """Over-dispersion estimated from unit z-scores.

    Attributes
    ----------
    phi : float
        Mean of the squared z-scores that were used (after winsorising or truncation).
    tau2 : float
        DerSimonian–Laird between-unit variance on the transformed scale (>= 0).
    n_used : int
        Number of z-scores used.
    used : numpy.ndarray of bool
        Which units' z-scores were used (truncation drops the extremes).
    trimmed : numpy.ndarray of bool
        Which units' z-scores were winsorised or dropped.
    """

    phi: float
    tau2: float
    n_used: int
    used: np.ndarray = field(repr=False)
    trimmed: np.ndarray = field(repr=False)


def estimate_overdispersion(
    z: Sequence[float] | np.ndarray,
    se: Sequence[float] | np.ndarray,
    *,
    trim_method: TrimMethod = "winsorise",
    trim: float = 0.10,
) -> OverdispersionEstimate:
    """Estimate multiplicative ``phi`` and additive ``tau^2`` from z-scores.

    Parameters
    ----------
    z : array-like
        Unadjusted z-scores ``(Y - T) / s`` on the transformed scale.
    se : array-like
        Their null standard errors ``s`` (same length).
    trim_method : {"none", "winsorise", "truncate"}, default "winsorise"
        ``"winsorise"`` sets z-scores below/above the ``trim`` and ``1 - trim``
        quantiles (linear interpolation, R type 7) to those quantiles
        (Spiegelhalter 2005).  ``"truncate"`` drops units whose rank-based
        position ``floor(rank * k / (N + 1))`` (``k = 1 / trim``, average ranks)
        is 0 or ``>= k - 1``, as the NHS SHMI and FunnelPlotR do.
    trim : float, default 0.10
        Proportion at each end.

    Returns
    -------
    OverdispersionEstimate
        ``phi = mean(z_used^2)``;
        ``tau2 = max(0, (n phi - (n - 1)) / (sum w - sum w^2 / sum w))`` with
        ``w = 1 / s^2`` over the used units (0 when ``n phi < n - 1``).
    """
    _check_option("trim_method", trim_method, TRIM_METHODS)
    trim = _validate_trim(trim)
    z = np.asarray(z, dtype=float)
    se = np.asarray(se, dtype=float)
    if z.shape != se.shape or z.ndim != 1:
        raise OptionError("z and se must be one-dimensional arrays of the same length.")
    n_all = z.size
    used = np.ones(n_all, dtype=bool)
    trimmed = np.zeros(n_all, dtype=bool)
    zz = z.copy()
    if trim > 0 and trim_method == "winsorise" and n_all > 0:
        lo, hi = np.quantile(z, [trim, 1.0 - trim])
        trimmed = (z < lo) | (z > hi)
        zz = np.clip(z, lo, hi)
    elif trim > 0 and trim_method == "truncate" and n_all > 0:
        k = 1.0 / trim
        rank = stats.rankdata(z, method="average")
        position = np.floor(rank * k / (n_all + 1))
        used = (position > 0) & (position < k - 1)
        trimmed = ~used
    n = int(used.sum())
    if n < 2:
        raise OptionError(TOO_FEW_UNITS.format(n=n))
    phi = float(np.mean(zz[used] ** 2))
    w = 1.0 / se[used] ** 2
    denom = w.sum() - (w**2).sum() / w.sum()
    if n * phi < n - 1 or denom <= 0:
        tau2 = 0.0
    else:
        tau2 = max(0.0, float((n * phi - (n - 1)) / denom))
    return OverdispersionEstimate(phi=phi, tau2=tau2, n_used=n, used=used, trimmed=trimmed)


# --------------------------------------------------------------------------- result
@dataclass
class FunnelResult:
    """Outcome of a funnel analysis; explains itself with :meth:`summary`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per unit (see :func:`funnel_analysis` for the columns).
    kind, method, transform, overdispersion, trim_method, discrete : str
        The options used.
    trim : float
        Trimming proportion at each end.
    confidence : tuple of float
        Coverage of each pair of control limits.
    target : float
        Centre of the funnel (1 for ratios; pooled ΣO/Σn by default otherwise).
    phi : float
        Estimated multiplicative over-dispersion (reported whatever ``overdispersion`` is;
        NaN when it cannot be estimated).
    tau2 : float
        Estimated DerSimonian–Laird between-unit variance (likewise).
    n_used_for_dispersion : int
        Units whose z-scores entered ``phi`` and ``tau2``.
    adjusted : bool
        Whether over-dispersion-adjusted limits were used.
    unit : str
        Name of the unit-id column in :attr:`table`.
    """

    table: pd.DataFrame
    kind: Kind
    method: Method
    transform: Transform
    overdispersion: Overdispersion
    trim_method: TrimMethod
    trim: float
    discrete: Discrete
    confidence: tuple[float, ...]
    target: float
    phi: float
    tau2: float
    n_used_for_dispersion: int
    adjusted: bool
    unit: str

    @property
    def size_column(self) -> str:
        """``"expected"`` for ratios, ``"denominator"`` otherwise."""
        return "expected" if self.kind == "ratio" else "denominator"

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the per-unit table."""
        return self.table.copy()

    def outliers(self, confidence: float | None = None) -> pd.DataFrame:
        """Units outside the limits of coverage ``confidence`` (default: the widest limits)."""
        level = max(self.confidence) if confidence is None else confidence
        col = f"outside_{confidence_label(level)}"
        if col not in self.table:
            raise OptionError(f"limits of coverage {level!r} were not computed; available: {list(self.confidence)}.")
        return self.table.loc[self.table[col]].copy()

    def limits(self, size: Sequence[float] | np.ndarray | float | None = None, *, n_points: int = 200) -> pd.DataFrame:
        """Limits used by this analysis, at ``size`` (default: a grid for drawing)."""
        if size is None:
            size = self._grid(n_points)
        phi, tau2 = self._applied_dispersion()
        return funnel_limits(
            size,
            kind=self.kind,
            target=self.target,
            confidence=self.confidence,
            method=self.method,
            transform=self.transform,
            discrete=self.discrete,
            phi=phi,
            tau2=tau2,
        )

    def _applied_dispersion(self) -> tuple[float, float]:
        if not self.adjusted:
            return 1.0, 0.0
        if self.overdispersion == "multiplicative":
            return self.phi, 0.0
        return 1.0, self.tau2

    def _grid(self, n_points: int) -> np.ndarray:
        x = self.table[self.size_column].to_numpy(dtype=float)
        lo = max(x.min() * 0.8, 1e-3 if self.kind != "proportion" else 1.0)
        hi = x.max() * 1.05
        grid = np.geomspace(lo, hi, n_points)
        if self.kind == "proportion" and self.method == "exact" and not self.adjusted:
            grid = np.unique(np.maximum(1.0, np.round(grid)))
        return grid

    def _method_text(self) -> str:
        if self.method == "chisq":
            return "Poisson, chi-square form"
        if self.method == "normal":
            return f"normal approximation on the {self.transform} scale"
        law = "binomial" if self.kind == "proportion" else "Poisson"
        return f"exact {law}, {self.discrete} interpolation"

    def summary(self) -> str:
        """Plain-text account of the analysis: options, over-dispersion and flagged units."""
        t = self.table
        size_col = self.size_column
        lines = [
            f"Funnel analysis: kind={self.kind!r}, {len(t)} units, target = {self.target:.6g}",
            f"  {size_col}: min {t[size_col].min():.6g}, median {t[size_col].median():.6g}, "
            f"max {t[size_col].max():.6g}",
            f"  unadjusted limits: {self._method_text()}",
        ]
        if np.isfinite(self.phi):
            lines.append(
                f"  dispersion (z-scores on the {self.transform} scale, trim {self.trim:g} by "
                f"{self.trim_method}, {self.n_used_for_dispersion} units used): "
                f"phi = {self.phi:.4f}, tau2 = {self.tau2:.6g}"
            )
        if self.overdispersion == "none":
            lines.append("  over-dispersion adjustment: none requested")
        elif self.adjusted:
            how = (
                f"multiplicative, limits widened by sqrt(phi) = {np.sqrt(self.phi):.4f}"
                if self.overdispersion == "multiplicative"
                else f"additive random effects, tau2 = {self.tau2:.6g}"
            )
            lines.append(f"  over-dispersion adjustment: {how}")
        else:
            lines.append(
                f"  over-dispersion adjustment: {self.overdispersion} requested, none detected; unadjusted limits used"
            )
        for level in self.confidence:
            lab = confidence_label(level)
            out = t[f"outside_{lab}"]
            above = int((out & (t["value"] > t[f"upper_{lab}"])).sum())
            below = int((out & (t["value"] < t[f"lower_{lab}"])).sum())
            lines.append(f"  outside {_pct(level)} limits: {int(out.sum())} ({above} above, {below} below)")
        flagged = self.outliers()
        if len(flagged):
            lab = confidence_label(max(self.confidence))
            lines.append(f"  units outside {_pct(max(self.confidence))} limits:")
            for _, row in flagged.sort_values("p_value").iterrows():
                side = "above" if row["value"] > row[f"upper_{lab}"] else "below"
                lines.append(
                    f"    {row[self.unit]!s}: value {row['value']:.4g} ({side}), "
                    f"p = {row['p_value']:.3g}, q = {row['q_value']:.3g}"
                )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        widest = f"outside_{confidence_label(max(self.confidence))}"
        return (
            f"FunnelResult(kind={self.kind!r}, units={len(self.table)}, "
            f"{widest}={int(self.table[widest].sum())}, phi={self.phi:.4g}, "
            f"tau2={self.tau2:.4g}, adjusted={self.adjusted})"
        )

    def plot(
        self,
        ax: Axes | None = None,
        *,
        title: str | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        confidence_labels: Mapping[float, str] | None = None,
        target_label: str | None = None,
        label_outliers: bool = True,
        log_x: bool = False,
    ) -> Axes:
        """Draw the funnel plot with matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure is created when omitted.
        title, xlabel, ylabel : str, optional
            Texts (any language: for Chinese call
            ``perfmodel.report.fonts.use_cjk_font()`` first).  English defaults.
        confidence_labels : mapping of level to str, optional
            Legend text of each pair of limit lines (default ``"95% limits"``).
        target_label : str, optional
            Legend text of the target line (default ``"Target"``).
        label_outliers : bool, default True
            Annotate units outside the widest limits with their id.
        log_x : bool, default False
            Logarithmic x axis.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        t = self.table
        size_col = self.size_column
        grid = self.limits()
        styles = ["--", "-", ":", "-."]
        colours = ["#1F77B4", "#9467BD", "#2CA02C", "#8C564B"]
        for i, level in enumerate(sorted(self.confidence)):
            lab = confidence_label(level)
            text = (confidence_labels or {}).get(level, f"{_pct(level)} limits")
            if self.adjusted:
                text = text if confidence_labels else f"{text} (over-dispersed)"
            style, colour = styles[i % len(styles)], colours[i % len(colours)]
            ax.plot(grid["size"], grid[f"lower_{lab}"], style, color=colour, lw=1.2, label=text)
            ax.plot(grid["size"], grid[f"upper_{lab}"], style, color=colour, lw=1.2)
        ax.axhline(self.target, color="0.3", lw=1.0, label=target_label or "Target")
        widest = f"outside_{confidence_label(max(self.confidence))}"
        inside = t.loc[~t[widest]]
        outside = t.loc[t[widest]]
        ax.scatter(inside[size_col], inside["value"], s=22, color="0.45", zorder=3)
        if len(outside):
            ax.scatter(
                outside[size_col],
                outside["value"],
                s=34,
                color="#FF7F0E",
                edgecolor="black",
                linewidth=0.6,
                zorder=4,
            )
            if label_outliers:
                for _, row in outside.iterrows():
                    ax.annotate(
                        str(row[self.unit]),
                        (row[size_col], row["value"]),
                        xytext=(4, 4),
                        textcoords="offset points",
                        fontsize=8,
                    )
        default_x, default_y = _KIND_LABELS[self.kind]
        ax.set_xlabel(xlabel if xlabel is not None else default_x)
        ax.set_ylabel(ylabel if ylabel is not None else default_y)
        ax.set_title(title if title is not None else "Funnel plot")
        if log_x:
            ax.set_xscale("log")
        ax.legend(loc="best")
        return ax


# --------------------------------------------------------------------------- estimator
class FunnelPlot:
    """Funnel-plot analysis in scikit-learn style: options in ``__init__``, ``fit(data)``.

    Parameters
    ----------
    observed : str
        Column of observed counts O (events, numerators; ratios may also use
        non-integer sums such as lengths of stay unless ``method="exact"``).
    expected : str, optional
        Column of expected counts E (``kind="ratio"`` only).
    denominator : str, optional
        Column of denominators n: trials for proportions, exposure for rates.
    kind : {"ratio", "proportion", "rate"}, default "ratio"
    unit : str or None, default "unit_id"
        Unit-id column; rows of the same unit are summed.  ``None``: each row is a
        unit identified by the index.
    confidence : sequence of float, default (0.95, 0.998)
    overdispersion : {"none", "multiplicative", "additive"}, default "none"
    trim_method : {"none", "winsorise", "truncate"}, default "winsorise"
    trim : float, default 0.10
    method : {"exact", "chisq", "normal"}, default "exact"
    transform : {"log", "sqrt", "arcsine"}, optional
        Default ``"sqrt"`` for ratios/rates (defined at O = 0) and ``"arcsine"`` for proportions.
    discrete : {"symmetric", "quantile"}, default "symmetric"
    target : float, optional
        Funnel centre; default 1 for ratios and the pooled ΣO/Σn otherwise.

    Attributes
    ----------
    result_ : FunnelResult
    table_ : pandas.DataFrame
    phi_, tau2_ : float
    target_ : float
    adjusted_ : bool
    """

    def __init__(
        self,
        observed: str,
        expected: str | None = None,
        denominator: str | None = None,
        *,
        kind: Kind = "ratio",
        unit: str | None = "unit_id",
        confidence: Sequence[float] = (0.95, 0.998),
        overdispersion: Overdispersion = "none",
        trim_method: TrimMethod = "winsorise",
        trim: float = 0.10,
        method: Method = "exact",
        transform: Transform | None = None,
        discrete: Discrete = "symmetric",
        target: float | None = None,
    ) -> None:
        self.observed = observed
        self.expected = expected
        self.denominator = denominator
        self.kind = kind
        self.unit = unit
        self.confidence = confidence
        self.overdispersion = overdispersion
        self.trim_method = trim_method
        self.trim = trim
        self.method = method
        self.transform = transform
        self.discrete = discrete
        self.target = target

    # -- validation ---------------------------------------------------------------
    def _check_params(self) -> tuple[str, Transform, tuple[float, ...], float]:
        _check_option("kind", self.kind, KINDS)
        _check_option("method", self.method, METHODS)
        _check_option("overdispersion", self.overdispersion, OVERDISPERSIONS)
        _check_option("trim_method", self.trim_method, TRIM_METHODS)
        _check_option("discrete", self.discrete, DISCRETE_RULES)
        transform = _resolve_transform(self.kind, self.transform)
        confidence = _validate_confidence(self.confidence)
        trim = _validate_trim(self.trim)
        if self.method == "chisq" and self.kind == "proportion":
            raise OptionError(CHISQ_NOT_FOR_PROPORTION)
        if self.kind == "ratio":
            if self.expected is None or self.denominator is not None:
                raise OptionError(
                    NEED_SIZE_COLUMN.format(
                        kind=self.kind,
                        needed="expected",
                        other="denominator",
                        why="a standardised ratio is observed / expected.",
                    )
                )
            size_col = self.expected
        else:
            if self.denominator is None or self.expected is not None:
                raise OptionError(
                    NEED_SIZE_COLUMN.format(
                        kind=self.kind,
                        needed="denominator",
                        other="expected",
                        why="a proportion or rate is observed / denominator.",
                    )
                )
            size_col = self.denominator
        return size_col, transform, confidence, trim

    def _aggregate(self, data: pd.DataFrame, size_col: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
        """Validate the columns and total them per unit: ``(unit name, ids, O, size)``."""
        if not isinstance(data, pd.DataFrame):
            raise OptionError("data must be a pandas DataFrame with one row per unit or per record.")
        if len(data) == 0:
            raise OptionError(EMPTY_DATA)
        size_param = "expected" if self.kind == "ratio" else "denominator"
        columns = [(self.observed, "observed"), (size_col, size_param)]
        if self.unit is not None:
            columns.append((self.unit, "unit"))
        for col, param in columns:
            if col not in data.columns:
                raise OptionError(MISSING_COLUMN.format(column=col, param=param, available=list(data.columns)))
            n_missing = int(data[col].isna().sum())
            if n_missing:
                raise OptionError(MISSING_VALUES.format(column=col, count=n_missing))
        for col in (self.observed, size_col):
            if not pd.api.types.is_numeric_dtype(data[col]) or pd.api.types.is_bool_dtype(data[col]):
                raise OptionError(NOT_NUMERIC.format(column=col, dtype=data[col].dtype))
        o = data[self.observed].to_numpy(dtype=float)
        n = data[size_col].to_numpy(dtype=float)
        if self.unit is None:
            unit_name = str(data.index.name or "unit_id")
            ids = data.index.to_numpy()
        else:
            unit_name = self.unit
            ids = data[self.unit].to_numpy()
        if (o < 0).any():
            raise OptionError(NEGATIVE_OBSERVED.format(column=self.observed, count=int((o < 0).sum())))
        if self.unit is not None:
            codes, uniques = pd.factorize(data[self.unit], sort=False)
            if len(uniques) < len(codes):
                o = np.bincount(codes, weights=o)
                n = np.bincount(codes, weights=n)
                ids = np.asarray(uniques)
        what = "expected count" if self.kind == "ratio" else "denominator"
        bad = ~(n > 0) | ~np.isfinite(n)
        if bad.any():
            raise OptionError(NONPOSITIVE_SIZE.format(column=size_col, what=what, count=int(bad.sum())))
        if self.kind == "proportion" and (o > n).any():
            raise OptionError(
                OBSERVED_EXCEEDS_DENOMINATOR.format(
                    observed=self.observed, denominator=size_col, count=int((o > n).sum())
                )
            )
        if self.method == "exact":
            if not _is_whole(o):
                alt = " or method='chisq'" if self.kind != "proportion" else ""
                raise OptionError(NOT_WHOLE.format(column=self.observed, extra="", alt=alt))
            if self.kind == "proportion" and not _is_whole(n):
                raise OptionError(NOT_WHOLE.format(column=size_col, extra=" (denominators)", alt=""))
        return unit_name, ids, o, n

    # -- fitting ------------------------------------------------------------------
    def fit(self, data: pd.DataFrame) -> FunnelPlot:
        """Compute z-scores, p/q-values, over-dispersion and limits for every unit.

        Parameters
        ----------
        data : pandas.DataFrame
            Unit- or record-level data with the configured columns.

        Returns
        -------
        FunnelPlot
            ``self``, with :attr:`result_` and convenience attributes set.
        """
        size_col, transform, confidence, trim = self._check_params()
        unit_name, ids, o, n = self._aggregate(data, size_col)

        if self.kind == "ratio":
            target = _validate_target("ratio", self.target)
        elif self.target is not None:
            target = _validate_target(self.kind, self.target)
        else:
            target = float(o.sum() / n.sum())
            if target <= 0 or (self.kind == "proportion" and target >= 1):
                what = "proportion" if self.kind == "proportion" else "rate"
                edge = "0" if target <= 0 else "n"
                raise OptionError(DEGENERATE_TARGET.format(what=what, target=target, edge=edge, column=self.observed))
        if transform == "log" and (o == 0).any():
            raise OptionError(LOG_ZERO.format(column=self.observed, count=int((o == 0).sum())))

        y, s, centre = _transformed(self.kind, transform, o, n, target)
        z = (y - centre) / s

        phi, tau2, n_used = np.nan, 0.0, 0
        trimmed = np.zeros(len(o), dtype=bool)
        try:
            est = estimate_overdispersion(z, s, trim_method=self.trim_method, trim=trim)
        except ValueError:
            if self.overdispersion != "none":
                raise
        else:
            phi, tau2, n_used, trimmed = est.phi, est.tau2, est.n_used, est.trimmed

        adjusted = False
        phi_applied, tau2_applied = 1.0, 0.0
        if self.overdispersion == "multiplicative" and phi > 1.0:
            adjusted, phi_applied = True, phi
        elif self.overdispersion == "additive" and tau2 > 0.0:
            adjusted, tau2_applied = True, tau2

        z_adj = (y - centre) / np.sqrt(phi_applied * s**2 + tau2_applied)
        if adjusted or self.method == "normal":
            p = 2.0 * stats.norm.sf(np.abs(z_adj))
        elif self.method == "chisq":
            p = _chisq_p_value(o, target * n)
        else:
            p = _exact_p_value(self.kind, o, n, target, self.discrete)
        q = bh_qvalues(p)

        value = o / n
        size_name = "expected" if self.kind == "ratio" else "denominator"
        columns: dict[str, Any] = {
            unit_name: ids,
            "observed": o,
            size_name: n,
            "value": value,
            "target": np.full(len(o), target),
            "z": z,
            "z_adjusted": z_adj,
            "p_value": p,
            "q_value": q,
        }
        for level in confidence:
            lo, hi = _limits_on_value_scale(
                self.kind,
                transform,
                self.method,
                self.discrete,
                n,
                target,
                level,
                phi=phi_applied,
                tau2=tau2_applied,
            )
            lab = confidence_label(level)
            columns[f"lower_{lab}"] = lo
            columns[f"upper_{lab}"] = hi
            columns[f"outside_{lab}"] = (value < lo) | (value > hi)
        columns["trimmed"] = trimmed
        table = pd.DataFrame(columns)

        self.result_ = FunnelResult(
            table=table,
            kind=self.kind,
            method=self.method,
            transform=transform,
            overdispersion=self.overdispersion,
            trim_method=self.trim_method,
            trim=trim,
            discrete=self.discrete,
            confidence=confidence,
            target=target,
            phi=float(phi),
            tau2=float(tau2),
            n_used_for_dispersion=int(n_used),
            adjusted=adjusted,
            unit=unit_name,
        )
        self.table_ = table
        self.phi_ = float(phi)
        self.tau2_ = float(tau2)
        self.target_ = target
        self.adjusted_ = adjusted
        return self

    def _check_fitted(self) -> FunnelResult:
        if not hasattr(self, "result_"):
            raise OptionError(NOT_FITTED)
        return self.result_

    def to_frame(self) -> pd.DataFrame:
        """Per-unit table (see :func:`funnel_analysis`)."""
        return self._check_fitted().to_frame()

    def summary(self) -> str:
        """Plain-text summary of the fitted analysis."""
        return self._check_fitted().summary()

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw the funnel; see :meth:`FunnelResult.plot`."""
        return self._check_fitted().plot(ax, **kwargs)


def funnel_analysis(
    data: pd.DataFrame,
    *,
    observed: str,
    expected: str | None = None,
    denominator: str | None = None,
    kind: Kind = "ratio",
    unit: str | None = "unit_id",
    confidence: Sequence[float] = (0.95, 0.998),
    overdispersion: Overdispersion = "none",
    trim_method: TrimMethod = "winsorise",
    trim: float = 0.10,
    method: Method = "exact",
    transform: Transform | None = None,
    discrete: Discrete = "symmetric",
    target: float | None = None,
) -> FunnelResult:
    """Funnel-plot analysis of units' ratios, proportions or rates.

    Parameters
    ----------
    data : pandas.DataFrame
        Unit- or record-level data (records of a unit are summed).
    observed : str
        Observed-count column O.
    expected : str, optional
        Expected-count column E, for ``kind="ratio"``.
    denominator : str, optional
        Denominator column n (trials or exposure), for ``"proportion"`` / ``"rate"``.
    kind : {"ratio", "proportion", "rate"}, default "ratio"
    unit : str or None, default "unit_id"
        Unit-id column (``None``: one unit per row, ids from the index).
    confidence : sequence of float, default (0.95, 0.998)
    overdispersion : {"none", "multiplicative", "additive"}, default "none"
    trim_method : {"none", "winsorise", "truncate"}, default "winsorise"
        How extreme z-scores are handled when estimating over-dispersion.
    trim : float, default 0.10
        Proportion winsorised or truncated at each end.
    method : {"exact", "chisq", "normal"}, default "exact"
        Unadjusted limits; see the module docstring.
    transform : {"log", "sqrt", "arcsine"}, optional
        Scale of z-scores and of normal/over-dispersed limits.
    discrete : {"symmetric", "quantile"}, default "symmetric"
        Interpolation rule for exact limits.
    target : float, optional
        Funnel centre (default 1 for ratios, pooled ΣO/Σn otherwise).

    Returns
    -------
    FunnelResult
        ``.table`` has one row per unit with columns:

        * ``<unit>`` — unit id (the ``unit`` column's name, or the index name);
        * ``observed`` — O; ``expected`` (ratio) or ``denominator`` (proportion, rate) — E or n;
        * ``value`` — O/E, O/n;  ``target`` — funnel centre;
        * ``z`` — unadjusted z-score on the transformed scale;
        * ``z_adjusted`` — z-score with the over-dispersion used for the limits (= ``z`` if none);
        * ``p_value`` — two-sided, from the same distribution as the limits, so that
          ``p_value < 1 - level`` exactly when the unit is outside that level's limits;
        * ``q_value`` — Benjamini–Hochberg false-discovery-rate adjusted p-value;
        * ``lower_<lvl>``, ``upper_<lvl>``, ``outside_<lvl>`` for each level (e.g. ``_95``, ``_998``);
        * ``trimmed`` — z-score winsorised or dropped when estimating over-dispersion.

        ``.phi``, ``.tau2`` and ``.adjusted`` describe over-dispersion;
        ``.summary()`` explains the result and ``.plot()`` draws it.

    Examples
    --------
    NHS SHMI / FunnelPlotR settings for standardised ratios::

        funnel_analysis(df, observed="O", expected="E", unit="hospital", kind="ratio",
                        transform="log", overdispersion="additive",
                        trim_method="truncate", trim=0.10, method="chisq")
    """
    est = FunnelPlot(
        observed,
        expected,
        denominator,
        kind=kind,
        unit=unit,
        confidence=confidence,
        overdispersion=overdispersion,
        trim_method=trim_method,
        trim=trim,
        method=method,
        transform=transform,
        discrete=discrete,
        target=target,
    )
    return est.fit(data).result_
