"""Power of the threshold-gaming detector on the generating processes of ``gaming_worlds`` (issue 14 §1, R16).

Every process (``far_reach`` included), with numerators and denominators and as
rates alone. The full study (8 worlds with manipulators and 40 honest worlds of
120 units per cell, all checks) is ``benchmarks/gaming_power.py``; here the
worlds are small and few, so the bars carry a Monte-Carlo tolerance, stated
with each test. ``PERFMODEL_SLOW=1`` runs a larger version (marked ``slow``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from gaming_worlds import EXTRA_PROCESSES, PROCESSES, make_world, naive_score, rates_only, study

ALPHA = 0.1
ALL = PROCESSES + EXTRA_PROCESSES
MODES = {"counts": False, "rates only": True}


@pytest.fixture(
    scope="module",
    params=[
        # the two tests of one cell run on one worker (make test: --dist loadgroup), so its worlds are studied once
        pytest.param((p, m), id=f"{p}-{m}", marks=pytest.mark.xdist_group(f"gaming_power-{p}-{m.replace(' ', '_')}"))
        for p in ALL
        for m in MODES
    ],
)
def power(request) -> tuple[str, dict[str, float]]:
    process, mode = request.param
    result = study(
        process,
        range(2),
        honest_seeds=[],
        n_units=80,
        checks=["threshold_heaping"],
        alpha=ALPHA,
        rates=MODES[mode],
    )
    return f"{process} ({mode})", result


def test_unit_score_beats_the_naive_baseline(power):
    """AUC of the shipped unit score above the naive "months above minus half the months below".

    Every process, counts and rates alone, averaged over 2 worlds of 80 units
    (the smallest margin in the benchmark, 8 worlds of 120 units, is in
    benchmarks/results/gaming_power.md).
    """
    name, result = power
    assert result["auc"] > result["auc_naive"], (name, result)


def test_leads_name_half_the_busy_manipulators(power):
    """Leads at q ≤ 0.1 name at least half of the manipulators with ≥ 4 months just below the threshold.

    Pooled over the 2 worlds (about 10 such manipulators per cell); precision
    at least 0.7 (the false discovery rate is 0.1, so precision near 0.9 is expected).
    On ``far_reach`` (moves from 3 pp below, landings up to 1 pp above: wider than
    the test's band) the leads name fewer, about 0.4–0.55 (see the benchmark):
    there the bar is a third.
    """
    name, result = power
    bar = 1 / 3 if name.startswith(EXTRA_PROCESSES) else 0.5
    assert result["recall_busy_pooled"] >= bar, (name, result)
    assert result["precision"] >= 0.7, (name, result)


def test_false_leads_on_honest_worlds_stay_at_alpha():
    """All-honest worlds of every process and data mode: the share with any lead is at most α + MC error.

    18 worlds (3 processes × 2 modes × 3 seeds; the honest worlds of
    ``far_reach`` are those of ``far``) of 120 units, the benchmark's size.
    Tolerance: two binomial standard errors of α at 18 worlds (0.141), i.e. at
    most 4 of 18 worlds with a lead; the benchmark's 40 worlds per cell give
    the intervals. (In worlds of 60 units the rate is higher, 0.13 over 360
    worlds and 0.23 on honest_heap with counts: docs/methodology.md §10, *Limits*.)
    """
    found = [
        study(p, [], honest_seeds=range(20, 23), n_units=120, checks=["threshold_heaping"], alpha=ALPHA, rates=rates)
        for p in PROCESSES
        for rates in MODES.values()
    ]
    worlds = sum(r["honest_worlds"] for r in found)
    with_leads = sum(r["honest_with_leads"] for r in found)
    assert worlds == 18
    assert with_leads / worlds <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / worlds), found


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("PERFMODEL_SLOW"), reason="long power study: set PERFMODEL_SLOW=1")
@pytest.mark.parametrize("process", ALL)
@pytest.mark.parametrize("rates", [False, True], ids=["counts", "rates only"])
def test_power_larger_worlds(process, rates):
    """As above on 6 worlds of 120 units with all checks, 20 honest worlds (about half a minute a cell)."""
    result = study(process, range(6), honest_seeds=range(20), n_units=120, alpha=ALPHA, rates=rates)
    assert result["auc"] > result["auc_naive"], result
    assert result["recall_busy_pooled"] >= (1 / 3 if process in EXTRA_PROCESSES else 0.5), result
    assert result["false_lead_rate"] <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / 20), result


def test_naive_baseline_by_hand():
    """Months in [95 %, 96 %) minus half the months in [93 %, 95 %), on a hand-made unit."""
    world = make_world("straddle", n_units=4, n_months=6, rng=1)
    obs = world.observations.copy()
    obs.loc[obs["unit_id"] == "U001", "value"] = [0.951, 0.955, 0.94, 0.93, 0.97, 0.9599]
    assert naive_score(obs)["U001"] == pytest.approx(3 - 0.5 * 2)
    assert rates_only(obs)["numerator"].isna().all()
