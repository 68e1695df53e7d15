"""Power of the threshold-gaming detector on three generating processes (issue 14 §1, R16).

The processes are in ``tests/gaming_worlds.py``; the full study (more seeds,
bigger worlds) is ``benchmarks/gaming_power.py``. These are small worlds and
few seeds, so the thresholds below carry a Monte-Carlo tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from gaming_worlds import PROCESSES, make_world, naive_score, rates_only, study

ALPHA = 0.1


@pytest.fixture(scope="module", params=PROCESSES)
def power(request) -> tuple[str, dict[str, float]]:
    return request.param, study(request.param, range(2), n_units=60, checks=["threshold_heaping"], alpha=ALPHA)


def test_detector_beats_the_naive_baseline(power):
    """AUC of the unit score above the naive "months above minus half the months below" on every process.

    With counts. On *far* the margin is small (0.904 against 0.894 over 8
    worlds of 120 units; see benchmarks/results/gaming_power.md).
    """
    process, result = power
    assert result["auc"] > result["auc_naive"], (process, result)


def test_detector_names_the_busy_manipulators(power):
    """At least half of the manipulators with four or more months just below the threshold get a lead."""
    process, result = power
    assert result["recall_busy"] >= 0.5, (process, result)
    assert result["precision"] >= 0.7, (process, result)


def test_false_leads_on_honest_worlds_stay_at_alpha():
    """All-honest worlds of every process (honest units heaping by nature included): P(any lead) ≤ α + MC error."""
    seeds = range(20, 24)
    found = [
        study(p, seeds, n_units=60, checks=["threshold_heaping"], alpha=ALPHA, honest_only=True) for p in PROCESSES
    ]
    mean = float(np.mean([r["false_lead_rate"] for r in found]))
    n_worlds = len(seeds) * len(PROCESSES)
    assert mean <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / n_worlds)


def test_rates_without_counts_keep_their_power():
    """The same world exported as rates alone: the detector loses little against counts."""
    counts = study("straddle", range(1), n_units=60, checks=["threshold_heaping"])
    rates = study("straddle", range(1), n_units=60, checks=["threshold_heaping"], rates=True)
    assert rates["auc"] >= counts["auc"] - 0.03
    assert rates["recall_busy"] >= 0.5


def test_naive_baseline_by_hand():
    """Months in [95 %, 96 %) minus half the months in [93 %, 95 %), on a hand-made unit."""
    world = make_world("straddle", n_units=4, n_months=6, rng=1)
    obs = world.observations.copy()
    obs.loc[obs["unit_id"] == "U001", "value"] = [0.951, 0.955, 0.94, 0.93, 0.97, 0.9599]
    assert naive_score(obs)["U001"] == pytest.approx(3 - 0.5 * 2)
    assert rates_only(obs)["numerator"].isna().all()
