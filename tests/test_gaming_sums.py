"""The per-unit sums of the threshold test's counterfactual, against ``np.add.at`` and a plain loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from perfmodel.design.gaming.counterfactual import add_rows, fit_band, row_steps
from perfmodel.design.gaming.evidence import SHARES, _unit_loglik


@settings(max_examples=80, deadline=None)
@given(
    index=st.lists(st.integers(0, 6), min_size=0, max_size=40),
    columns=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_add_rows_equals_np_add_at_bit_for_bit(index, columns, seed):
    """Any order of targets, repeated or not: the sums of ``np.add.at``, exactly (rows added in their order)."""
    index = np.asarray(index, dtype=np.int64)
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(len(index), columns)) * 10.0 ** rng.integers(-8, 9, size=(len(index), 1))
    start = rng.normal(size=(7, columns))
    expected = start.copy()
    np.add.at(expected, index, values)
    got = start.copy()
    add_rows(got, row_steps(index), values)
    np.testing.assert_array_equal(got, expected)
    for targets, _ in row_steps(index):
        assert len(np.unique(targets)) == len(targets)  # a step never adds twice to one target


def _band_inputs(seed: int):
    rng = np.random.default_rng(seed)
    units, months = 30, 18
    level = rng.uniform(0.85, 0.95, units)
    n = rng.integers(40, 300, (units, months)).astype(float).ravel()
    y = np.round(np.clip(np.repeat(level, months) + rng.normal(0, 0.02, units * months), 0, 1) * n) / n
    unit = np.repeat([f"U{i}" for i in range(units)], months)
    period = np.tile([f"2024-{m:02d}" for m in range(1, months + 1)], units)
    return y, n, unit, period, np.repeat(["a", "b"], units * months // 2)


def _band_fit(seed: int, y=None):
    base, n, unit, period, groups = _band_inputs(seed)
    return fit_band(base if y is None else y, n, unit, period, 0.9, 0.02, 0.01, groups=groups)


def test_unit_loglik_equals_a_plain_loop_over_each_units_band_months():
    """log L_i(s) = log Σ_g w_ig Π_m (…): per unit, its band months' logs added one by one in row order."""
    fit = _band_fit(3)
    got = _unit_loglik(fit, SHARES)
    pi = np.clip(fit.pi, 1e-9, 1 - 1e-9)
    log_w = np.log(np.maximum(fit.posterior, 1e-300))
    heap = fit.meet[fit.band_rows]
    owner = fit.unit_code[fit.band_rows]
    assert len(fit.band_rows) > 20 and heap.any() and (~heap).any()
    for j, s in enumerate(SHARES):
        for u in range(fit.posterior.shape[0]):
            total = np.zeros(fit.posterior.shape[1])
            for row in np.flatnonzero(owner == u):
                if heap[row]:
                    total = total + np.log(pi[row] + (1 - pi[row]) * s)
                else:
                    total = total + (np.log1p(-pi[row]) + np.log1p(-min(s, 1 - 1e-9)))
            assert got[u, j] == logsumexp(total + log_w[u])


def test_moving_months_from_the_hole_to_the_heap_leaves_the_posterior_unchanged():
    """The posterior is a distribution per unit, and months moved within the band do not move it."""
    fit = _band_fit(5)
    np.testing.assert_allclose(fit.posterior.sum(axis=1), 1.0, rtol=1e-12)
    y, n, *_ = _band_inputs(5)
    moved = y.copy()
    hole = np.flatnonzero(fit.miss)
    assert len(hole) > 5
    moved[hole] = np.ceil(0.9 * n[hole] - 1e-7) / n[hole]  # just meeting the threshold
    again = _band_fit(5, moved)
    assert again.meet[hole].all() and not again.miss.any()
    np.testing.assert_array_equal(again.posterior, fit.posterior)
