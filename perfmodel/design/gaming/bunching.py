"""Pooled bunching at a threshold: excess and missing mass against a polynomial counterfactual.

:func:`bunching` (Chetty et al. 2011; Kleven 2016) with bootstrap intervals, and
:func:`window_test`, the classic narrow-window binomial test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from perfmodel.design.gaming.data import _RATE_WINDOW
from perfmodel.errors import OptionError
from perfmodel.randomness import seed_from
from perfmodel.text import check_lang

__all__ = [
    "BunchingResult",
    "WindowTest",
    "bunching",
    "window_test",
]


# ============================================================================ pooled: bunching
@dataclass(frozen=True)
class BunchingResult:
    """Excess mass above and missing mass below a threshold (pooled over units).

    Attributes
    ----------
    bins
        One row per bin: ``left``, ``right``, ``centre``, ``count`` (observed
        mass), ``counterfactual`` (polynomial fitted outside the excluded window),
        ``region`` (``"heap"``: passing side of the window, ``"hole"``: failing
        side, ``"fit"``: used for the fit). Bins are in the original orientation.
    excess, missing
        Observed minus counterfactual mass in the heap; counterfactual minus
        observed mass in the hole (numbers of unit-months).
    excess_ci, missing_ci
        Bootstrap percentile intervals (coverage ``confidence``).
    excess_se, missing_se
        Bootstrap standard errors.
    n
        Mass inside the fit range.
    """

    threshold: float
    side: str
    bin_width: float
    exclude: tuple[float, float]
    fit_range: tuple[float, float]
    degree: int
    bins: pd.DataFrame
    excess: float
    missing: float
    excess_ci: tuple[float, float]
    missing_ci: tuple[float, float]
    excess_se: float
    missing_se: float
    n: float
    n_boot: int
    confidence: float
    seed: int
    cluster: bool

    def to_frame(self) -> pd.DataFrame:
        """The bins: observed and counterfactual mass and region (a copy of :attr:`bins`)."""
        return self.bins.copy()

    @property
    def counterfactual_heap(self) -> float:
        """Counterfactual mass in the heap bins."""
        return float(self.bins.loc[self.bins["region"] == "heap", "counterfactual"].sum())

    @property
    def excess_ratio(self) -> float:
        """Excess mass relative to the counterfactual mass in the heap (Kleven's ``b``-like ratio)."""
        base = self.counterfactual_heap
        return self.excess / base if base > 0 else float("nan")

    @property
    def z(self) -> float:
        """Excess mass over its bootstrap standard error."""
        return self.excess / self.excess_se if self.excess_se > 0 else float("nan")

    def summary(self, lang: str = "en") -> str:
        """One plain-language sentence with the estimates."""
        check_lang(lang)
        lo, hi = self.excess_ci
        mlo, mhi = self.missing_ci
        level = f"{self.confidence:.0%}"
        if lang == "zh":
            return (
                f"阈值附近的超额堆积约{self.excess:.1f}个单位月(置信区间{level}:{lo:.1f}至{hi:.1f}),"
                f"相当于反事实密度的{self.excess_ratio:.0%};阈值下方缺失约{self.missing:.1f}个单位月"
                f"({level}:{mlo:.1f}至{mhi:.1f})。"
            )
        return (
            f"Excess mass just on the passing side: {self.excess:.1f} unit-months ({level} CI "
            f"{lo:.1f} to {hi:.1f}), {self.excess_ratio:.0%} of the counterfactual; missing mass "
            f"just on the failing side: {self.missing:.1f} ({level} CI {mlo:.1f} to {mhi:.1f})."
        )


def _cells(
    values: np.ndarray,
    numerators: np.ndarray | None,
    denominators: np.ndarray | None,
    side: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval each observation is spread over (point masses have lo == hi).

    A rate k/n is spread evenly over [k/n, (k+1)/n) (``side="max"``: over
    ((k−1)/n, k/n]), which removes the lattice spikes of small denominators
    (19/20 is exactly 95 %) without moving any value across the threshold it meets.
    """
    lo = values.astype(float).copy()
    hi = lo.copy()
    if numerators is not None and denominators is not None:
        k = np.asarray(numerators, dtype=float)
        n = np.asarray(denominators, dtype=float)
        ok = np.isfinite(k) & np.isfinite(n) & (n > 0)
        step = np.where(ok, 1.0 / np.where(ok, n, 1.0), 0.0)
        base = np.where(ok, k * step, lo)
        lo = np.where(ok, base, lo)
        hi = np.where(ok, base + step, hi)
        if side == "max":
            lo, hi = np.where(ok, base - step, lo), np.where(ok, base, hi)
    return lo, hi


def _bin_mass(lo: np.ndarray, hi: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mass of every observation in every bin (observations × bins)."""
    left, right = edges[:-1][None, :], edges[1:][None, :]
    lo_, hi_ = lo[:, None], hi[:, None]
    width = hi_ - lo_
    spread = width > 0
    overlap = np.clip(np.minimum(hi_, right) - np.maximum(lo_, left), 0.0, None)
    point = (lo_ >= left - 1e-12) & (lo_ < right - 1e-12)
    return np.where(spread, overlap / np.where(spread, width, 1.0), point.astype(float))


def _orient_axis(x: np.ndarray, side: str) -> np.ndarray:
    return x if side == "min" else -x


def _bootstrap_weights(rng: np.random.Generator, n_items: int, n_boot: int) -> Iterable[np.ndarray]:
    chunk = max(1, min(n_boot, 2_000_000 // max(n_items, 1)))
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        yield rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=size).astype(float)
        done += size


def bunching(
    values: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    side: Literal["min", "max"] = "min",
    numerators: Sequence[float] | np.ndarray | None = None,
    denominators: Sequence[float] | np.ndarray | None = None,
    groups: Sequence[object] | np.ndarray | None = None,
    window: float = _RATE_WINDOW,
    bin_width: float | None = None,
    exclude: tuple[float, float] | None = None,
    fit_range: tuple[float, float] | None = None,
    upper: float | None = None,
    degree: int = 7,
    n_boot: int = 500,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = 0,
) -> BunchingResult:
    """Bunching estimator: excess mass just past a threshold, missing mass just before it.

    Values are binned with the threshold as a bin edge; a polynomial of degree
    ``degree`` in the bin centre is fitted by least squares to the bins outside
    the excluded window and gives the counterfactual density (Chetty et al. 2011;
    Kleven 2016). The excess mass is the observed minus the counterfactual mass
    in the heap (passing side of the window); the missing mass is the
    counterfactual minus the observed mass in the hole (failing side). Under
    hole-and-heap manipulation both are positive and about equal.

    Parameters
    ----------
    values
        One value per unit-month.
    threshold
        The hard threshold.
    side
        ``"min"``: passing means ``value ≥ threshold`` (heap above);
        ``"max"``: passing means ``value ≤ threshold`` (heap below).
    numerators, denominators
        For rates: each rate k/n is spread evenly over ``[k/n, (k+1)/n)`` before
        binning, so the lattice of small denominators does not create spikes.
    groups
        Cluster ids (units) for the bootstrap: whole units are resampled, which
        respects the correlation of a unit's months. Default: observations.
    window
        Half-width of the excluded window when ``exclude`` is not given.
    bin_width
        Default ``window / 4``.
    exclude
        ``(below, above)``: distances from the threshold of the excluded window,
        on the failing and passing side; default ``(window, window)``.
    fit_range
        ``(low, high)`` in the original scale; default six windows either side,
        cut at ``upper``.
    upper
        Values at or beyond this bound (e.g. a rate of exactly 100 %) are outside
        the fit: the mass at a natural ceiling is not part of a smooth density.
    degree
        Polynomial degree.
    n_boot, confidence
        Bootstrap replicates and the coverage of the intervals.
    rng
        Randomness of the bootstrap: an int seed (kept in the result's ``seed``)
        or a generator, from which one seed is drawn.
    """
    vals = np.asarray(values, dtype=float)
    num = None if numerators is None else np.asarray(numerators, dtype=float)
    den = None if denominators is None else np.asarray(denominators, dtype=float)
    keep = np.isfinite(vals)
    vals = vals[keep]
    num = None if num is None else num[keep]
    den = None if den is None else den[keep]
    grp = None if groups is None else np.asarray(groups, dtype=object)[keep]
    if len(vals) == 0:
        raise OptionError("bunching needs at least one finite value")
    width = window / 4 if bin_width is None else float(bin_width)
    below, above = (window, window) if exclude is None else (float(exclude[0]), float(exclude[1]))
    if width <= 0 or below <= 0 or above <= 0:
        raise OptionError("bin_width and the excluded window must be positive")

    # Work in the passing-is-higher orientation (x' = -x for side="max").
    lo, hi = _cells(vals, num, den, side)
    lo_o, hi_o = (lo, hi) if side == "min" else (-hi, -lo)
    point = hi == lo
    if side == "max":
        lo_o = np.where(point, -vals, lo_o)
        hi_o = np.where(point, -vals, hi_o)
    t = threshold if side == "min" else -threshold
    if fit_range is None:
        f_lo, f_hi = t - 6 * window, t + 6 * window
        if upper is not None:
            bound = upper if side == "min" else -upper
            f_hi = min(f_hi, bound)
    else:
        a, b = sorted(_orient_axis(np.asarray(fit_range, dtype=float), side))
        f_lo, f_hi = float(a), float(b)
    n_left = int(np.floor((t - f_lo) / width + 1e-9))
    n_right = int(np.floor((f_hi - t) / width + 1e-9))
    if n_left < 2 or n_right < 1:
        raise OptionError(
            f"the fit range ({f_lo:g}, {f_hi:g}) leaves too few bins of width {width:g} around the "
            f"threshold {t:g}; widen fit_range or narrow bin_width"
        )
    edges = t + width * np.arange(-n_left, n_right + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    region = np.where(
        (centres >= t) & (centres < t + above),
        "heap",
        np.where((centres < t) & (centres >= t - below), "hole", "fit"),
    )
    fit = region == "fit"
    if fit.sum() <= degree + 1:
        raise OptionError(
            f"only {int(fit.sum())} bins outside the excluded window for a degree-{degree} "
            "polynomial; widen fit_range, narrow bin_width or lower degree"
        )
    mass = _bin_mass(lo_o, hi_o, edges)
    scale = max(t - edges[0], edges[-1] - t)
    design = np.vander((centres - t) / scale, degree + 1, increasing=True)
    projection = design @ np.linalg.pinv(design[fit])  # bins × fit-bins

    def estimate(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cf = counts[..., fit] @ projection.T
        heap = (counts - cf)[..., region == "heap"].sum(axis=-1)
        hole = (cf - counts)[..., region == "hole"].sum(axis=-1)
        return cf, heap, hole

    counts = mass.sum(axis=0)
    counterfactual, excess, missing = estimate(counts)

    seed = seed_from(rng)
    rng = np.random.default_rng(seed)
    if grp is not None:
        codes, _ = pd.factorize(pd.Series(grp))
        items = np.zeros((codes.max() + 1, mass.shape[1]))
        np.add.at(items, codes, mass)
    else:
        items = mass
    boot_heap, boot_hole = [], []
    for weights in _bootstrap_weights(rng, items.shape[0], n_boot):
        _, bh, bm = estimate(weights @ items)
        boot_heap.append(bh)
        boot_hole.append(bm)
    heap_draws = np.concatenate(boot_heap) if boot_heap else np.array([excess])
    hole_draws = np.concatenate(boot_hole) if boot_hole else np.array([missing])
    tail = (1 - confidence) / 2
    qs = [tail, 1 - tail]

    back = edges if side == "min" else -edges
    bins = pd.DataFrame(
        {
            "left": back[:-1] if side == "min" else back[1:],
            "right": back[1:] if side == "min" else back[:-1],
            "centre": _orient_axis(centres, side),
            "count": counts,
            "counterfactual": counterfactual,
            "region": region,
        }
    )
    if side == "max":
        bins = bins.iloc[::-1].reset_index(drop=True)
    excl = (threshold - below, threshold + above) if side == "min" else (threshold - above, threshold + below)
    fr = (float(f_lo), float(f_hi)) if side == "min" else (float(-f_hi), float(-f_lo))
    return BunchingResult(
        threshold=float(threshold),
        side=side,
        bin_width=width,
        exclude=excl,
        fit_range=fr,
        degree=degree,
        bins=bins,
        excess=float(excess),
        missing=float(missing),
        excess_ci=tuple(float(v) for v in np.quantile(heap_draws, qs)),  # type: ignore[arg-type]
        missing_ci=tuple(float(v) for v in np.quantile(hole_draws, qs)),  # type: ignore[arg-type]
        excess_se=float(np.std(heap_draws, ddof=1)) if len(heap_draws) > 1 else float("nan"),
        missing_se=float(np.std(hole_draws, ddof=1)) if len(hole_draws) > 1 else float("nan"),
        n=float(counts.sum()),
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        cluster=grp is not None,
    )


@dataclass(frozen=True)
class WindowTest:
    """Narrow-window test: is there more mass just past the threshold than just before it?

    ``expected_share`` is the share of the window's mass expected on the passing
    side: 0.5 under local smoothness (``expected="half"``) or from a linear
    density fitted beside the window (``expected="linear"``).
    """

    threshold: float
    window: float
    passing: float
    failing: float
    expected_share: float
    p_value: float
    method: str

    @property
    def share(self) -> float:
        total = self.passing + self.failing
        return self.passing / total if total > 0 else float("nan")


def window_test(
    values: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    window: float = _RATE_WINDOW,
    side: Literal["min", "max"] = "min",
    numerators: Sequence[float] | np.ndarray | None = None,
    denominators: Sequence[float] | np.ndarray | None = None,
    expected: Literal["linear", "half"] = "linear",
    upper: float | None = None,
) -> WindowTest:
    """Binomial test of the mass just past vs just before a threshold (pooled).

    The counts in ``[t, t + h)`` (passing) and ``[t − h, t)`` (failing) are
    compared with a one-sided binomial test. ``expected="linear"`` fits a
    linear density ``a + b(x − t)`` to the mass in ``[t − 3h, t − h)`` and
    ``[t + h, t + 3h)`` (cut at ``upper``), for which the passing share is
    ``(a + bh/2) / 2a``; ``"half"`` uses 0.5. Rates given with numerator and
    denominator are spread over their lattice cell first (as in
    :func:`bunching`), and the masses are rounded to whole unit-months.
    """
    vals = np.asarray(values, dtype=float)
    keep = np.isfinite(vals)
    num = None if numerators is None else np.asarray(numerators, dtype=float)[keep]
    den = None if denominators is None else np.asarray(denominators, dtype=float)[keep]
    vals = vals[keep]
    lo, hi = _cells(vals, num, den, side)
    if side == "max":
        lo, hi = -hi, -lo
    t = threshold if side == "min" else -threshold
    h = float(window)
    step = h / 4
    f_hi = t + 3 * h
    if upper is not None:
        f_hi = min(f_hi, upper if side == "min" else -upper)
    edges = t + step * np.arange(-12, int(np.floor((f_hi - t) / step + 1e-9)) + 1)
    mass = _bin_mass(lo, hi, edges).sum(axis=0)
    centres = (edges[:-1] + edges[1:]) / 2
    passing = float(mass[(centres >= t) & (centres < t + h)].sum())
    failing = float(mass[(centres < t) & (centres >= t - h)].sum())
    share = 0.5
    method = "half"
    side_bins = (np.abs(centres - t) > h) & (np.abs(centres - t) < 3 * h)
    if expected == "linear" and side_bins.sum() >= 3 and mass[side_bins].sum() > 0:
        slope, intercept = np.polyfit(centres[side_bins] - t, mass[side_bins] / step, 1)
        if intercept > 0:
            share = float(np.clip((intercept + slope * h / 2) / (2 * intercept), 0.02, 0.98))
            method = "linear"
    n = int(round(passing + failing))
    x = int(round(passing))
    p = float(stats.binomtest(x, n, share, alternative="greater").pvalue) if n > 0 else 1.0
    return WindowTest(float(threshold), h, passing, failing, share, p, method)
