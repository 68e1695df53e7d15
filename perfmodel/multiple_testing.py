"""Multiple-testing adjustments: the one home of q-values and Holm p-values.

Every part of perfmodel that adjusts a family of p-values calls this module:
the funnel plot (``calibrate.funnel``), the gaming checks (``design.gaming``),
persistent-gap trends (``monitor.trends``) and the audit checks
(``audit._frame.adjust_pvalues``).

Both adjustments give the same numbers, to the last bit, as
``statsmodels.stats.multitest.multipletests`` (``method="fdr_bh"`` and
``method="holm"``; the tests check it), but are computed directly, because
``multipletests`` forces a full garbage collection on every call, which
dominates repeated audits and bootstrap loops.

``nan`` p-values (a test that could not be run) are left out of the family:
they stay ``nan`` and do not count in ``m``. statsmodels instead returns
``nan`` for every entry as soon as one is ``nan``.

This module belongs to the common layer: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["Correction", "adjust_pvalues", "bh_qvalues", "holm"]

Correction = Literal["holm", "fdr_bh", "none"]
"""Multiple-testing correction: Holm (family-wise error), Benjamini–Hochberg (false
discovery rate) or none."""


def _finite_family(p: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The p-values as floats, an all-``nan`` output of the same shape, and the non-``nan`` mask."""
    p = np.asarray(p, dtype=float)
    return p, np.full(p.shape, np.nan), ~np.isnan(p)


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values of a family without ``nan`` (statsmodels' arithmetic)."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order] / (np.arange(1, m + 1) / float(m))
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    q[q > 1] = 1
    out = np.empty(m)
    out[order] = q
    return out


def bh_qvalues(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg (1995) q-values (step-up adjusted p-values), in input order.

    The q-value of the test of rank ``i`` (smallest p first) among ``m`` tests is
    ``min over j >= i of p_(j) * m / j``, capped at 1. A test is a discovery at
    false discovery rate ``alpha`` when its q-value is at most ``alpha``.

    Parameters
    ----------
    p_values : sequence of float or numpy.ndarray
        One-dimensional p-values. ``nan`` entries are left out of the family.

    Returns
    -------
    numpy.ndarray
        q-values, same shape and order as ``p_values``; ``nan`` where the p-value is ``nan``.

    Examples
    --------
    >>> import numpy as np
    >>> bh_qvalues([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    >>> bh_qvalues([0.01, np.nan, 0.04]).tolist()
    [0.02, nan, 0.04]
    """
    p, out, ok = _finite_family(p_values)
    if ok.any():
        out[ok] = _bh(p[ok])
    return out


def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: max over j ≤ i of (m − j + 1)·p_(j), capped at 1.

    The same numbers as ``statsmodels.stats.multitest.multipletests(p, method="holm")``
    for a family without ``nan`` (use :func:`adjust_pvalues` to leave ``nan`` out).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * np.arange(m, 0, -1)))
    out = np.empty(m)
    out[order] = adjusted
    return out


def adjust_pvalues(p: Sequence[float] | np.ndarray, correction: Correction) -> np.ndarray:
    """Multiple-testing adjusted p-values; ``nan`` entries are left out of the family.

    ``holm`` uses :func:`holm`; ``fdr_bh`` uses :func:`bh_qvalues`; ``none``
    returns the p-values unchanged.

    Examples
    --------
    >>> adjust_pvalues([0.01, np.nan, 0.04], "holm").round(3).tolist()
    [0.02, nan, 0.04]
    """
    if correction == "fdr_bh":
        return bh_qvalues(p)
    p, out, ok = _finite_family(p)
    if correction == "none" or not ok.any():
        out[ok] = p[ok]
    else:
        out[ok] = holm(p[ok])
    return out
