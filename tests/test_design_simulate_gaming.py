"""Agent-based gaming simulation and the gaming planter (perfmodel.design.simulate_gaming)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.design import simulate_gaming as sg
from perfmodel.design.simulate_gaming import (
    DEFAULT_CASE_TYPES,
    SCORING_DESIGNS,
    ScoringDesign,
    gini,
    plant_threshold_gaming,
    simulate_gaming,
    simulate_rate_panel,
)

EASY_MARGIN = 0.05
HARM_MARGIN = 0.02


@pytest.fixture(scope="module")
def runs() -> dict[int, pd.DataFrame]:
    """Per-design summaries for three seeds (seed 1 is the reference run)."""
    return {seed: simulate_gaming(rng=seed).summary.set_index("design") for seed in (1, 2, 3)}


# ------------------------------------------------------------------ qualitative effect of designs
def _check_gaming_pattern(summary: pd.DataFrame) -> None:
    easy = summary["easy_effort"]
    harm = summary["harm_weighted_clearance"]
    for better in ("harm_weighted", "difficulty_adjusted"):
        # Flat points and a pure clearance target push effort to easy cases ...
        assert easy["flat_points"] > easy[better] + EASY_MARGIN
        assert easy["clearance_rate"] > easy[better] + EASY_MARGIN
        # ... and citizens get less harm-weighted clearance under flat points.
        assert harm["flat_points"] < harm[better] - HARM_MARGIN
    # Difficulty-adjusted credit neglects fewer livelihood cases than flat points.
    assert summary.loc["difficulty_adjusted", "neglected_minor"] < summary.loc["flat_points", "neglected_minor"] - 0.1


def test_flat_points_push_effort_to_easy_cases_fixed_seed(runs):
    _check_gaming_pattern(runs[1])


def test_flat_points_push_effort_to_easy_cases_mean_over_seeds(runs):
    numeric = [run.select_dtypes("number") for run in runs.values()]
    _check_gaming_pattern(sum(numeric) / len(numeric))


def test_summary_columns_and_ranges(runs):
    summary = runs[1]
    assert list(summary.index) == list(SCORING_DESIGNS)
    shares = ["easy_effort", "neglected_minor", "serious_cleared", "harm_weighted_clearance", "clearance_rate"]
    assert ((summary[shares] >= 0) & (summary[shares] <= 1)).all().all()
    assert (summary["score_gini"].between(0, 1)).all()
    assert (summary["skill_correlation"].between(-1, 1)).all()


def test_same_seed_same_result_and_other_seed_differs():
    a = simulate_gaming(n_officers=40, n_months=6, rng=5).summary
    b = simulate_gaming(n_officers=40, n_months=6, rng=5).summary
    c = simulate_gaming(n_officers=40, n_months=6, rng=6).summary
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["easy_effort"], c["easy_effort"])


def test_without_rationality_effort_follows_workload():
    """β = 0: every design splits each month's hours in proportion to the hours its cases need."""
    result = simulate_gaming(rationality=0.0, speed_effect=0.0, n_officers=300, rng=3)
    effort = result.effort.pivot(index="design", columns="case_type", values="effort_share")
    # Independent expectation over Poisson arrivals: each officer-month works min(140, ΣD) hours,
    # split as D_j / ΣD; the reported share pools hours over officer-months.
    rng = np.random.default_rng(0)
    ids = [c.id for c in DEFAULT_CASE_TYPES]
    arrivals = rng.poisson([c.arrivals for c in DEFAULT_CASE_TYPES], size=(200_000, len(ids)))
    demand = arrivals * np.array([c.hours for c in DEFAULT_CASE_TYPES])
    total = demand.sum(axis=1, keepdims=True)
    worked = np.minimum(140.0, total)
    hours = worked * np.divide(demand, total, out=np.zeros(demand.shape), where=total > 0)
    expected = pd.Series(hours.sum(axis=0) / hours.sum(), index=ids)
    for design in effort.index:
        np.testing.assert_allclose(effort.loc[design, ids], expected, atol=0.01)
    # All designs then do the same thing.
    assert effort.std(axis=0).max() < 1e-12


def test_effort_shares_sum_to_one_and_hours_never_exceed_capacity():
    result = simulate_gaming(n_officers=50, n_months=5, burn_in=1, hours=120, rng=2)
    sums = result.effort.groupby("design")["effort_share"].sum()
    np.testing.assert_allclose(sums, 1.0)
    hours = result.officers.filter(like="hours_").sum(axis=1)
    assert (hours <= 120 * 4 + 1e-6).all()


def test_custom_design_is_followed():
    """A design that only rewards mediated disputes moves effort to disputes."""

    def disputes_only(state, table):
        return (state["cleared"] * (~table.crime.astype(bool))).sum(-1)

    designs = {
        "flat_points": SCORING_DESIGNS["flat_points"],
        "disputes": ScoringDesign("disputes", "只考核调解", "disputes only", disputes_only),
    }
    effort = simulate_gaming(designs, n_officers=80, rng=4).effort
    share = effort.pivot(index="design", columns="case_type", values="effort_share")["dispute"]
    assert share["disputes"] > share["flat_points"]
    demand = {c.id: c.arrivals * c.hours for c in DEFAULT_CASE_TYPES}
    assert share["disputes"] > demand["dispute"] / sum(demand.values())


def test_unknown_design_is_reported():
    with pytest.raises(ValueError, match="unknown design"):
        simulate_gaming(["flat_points", "no_such_design"])


def test_case_type_validation():
    with pytest.raises(ValueError, match="clearance"):
        sg.CaseType("x", "x", "x", arrivals=1, hours=1, clearance=1.2, harm=1, points=1, skill_effect=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 50), min_size=5, max_size=5),
    st.lists(st.floats(0.01, 10), min_size=5, max_size=5),
    st.floats(0, 200),
)
def test_allocate_never_exceeds_demand_and_uses_all_hours(demand, weights, hours):
    demand_a = np.array([demand])
    alloc = sg._allocate(np.array([hours]), demand_a, np.array([weights]))
    assert (alloc <= demand_a + 1e-9).all() and (alloc >= -1e-12).all()
    assert math.isclose(alloc.sum(), min(hours, demand_a.sum()), rel_tol=1e-9, abs_tol=1e-9)


def test_allocate_follows_weights_when_nothing_is_capped():
    alloc = sg._allocate(np.array([10.0]), np.array([[100.0, 100.0]]), np.array([[1.0, 3.0]]))
    np.testing.assert_allclose(alloc, [[2.5, 7.5]])


# ------------------------------------------------------------------ gini
def test_gini_known_values_and_invariance():
    assert gini([5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)  # (n-1)/n for one holder
    x = np.random.default_rng(0).gamma(2, size=50)
    assert gini(x) == pytest.approx(gini(3 * x))
    with pytest.raises(ValueError, match="non-negative"):
        gini([-1, 2])


# ------------------------------------------------------------------ planting gaming
@pytest.fixture
def panel() -> pd.DataFrame:
    return simulate_rate_panel(20, 12, rng=3)


def test_plant_moves_only_short_months_of_chosen_units(panel):
    units = ["U001", "U002", "U003", "U004", "U005"]
    gamed = plant_threshold_gaming(panel, units, 0.95, 0.03, 1.0, rng=1)
    moved = gamed.attrs["planted"]
    changed = panel.index[(panel["numerator"] != gamed["numerator"]).to_numpy()]
    assert set(changed) <= set(moved)
    before = panel.loc[moved]
    assert before["unit_id"].isin(units).all()
    assert ((before["value"] >= 0.92 - 1e-12) & (before["value"] < 0.95)).all()
    after = gamed.loc[moved]
    # the least numerator that meets the threshold, and values consistent with it
    np.testing.assert_array_equal(after["numerator"], np.ceil(0.95 * after["denominator"] - 1e-7))
    np.testing.assert_allclose(after["value"], after["numerator"] / after["denominator"])
    assert (after["value"] >= 0.95).all()
    # share 1: every short month of those units is moved
    short = panel["unit_id"].isin(units) & panel["value"].between(0.92, 0.95, inclusive="left")
    assert len(moved) == int(short.sum()) > 0
    # the input is not modified
    assert not panel.equals(gamed)
    pd.testing.assert_frame_equal(panel, simulate_rate_panel(20, 12, rng=3))


def test_plant_share_zero_and_landing(panel):
    untouched = plant_threshold_gaming(panel, ["U001"], 0.95, 0.03, 0.0, rng=1)
    pd.testing.assert_frame_equal(untouched, panel)
    units = [f"U{i:03d}" for i in range(1, 21)]
    landed = plant_threshold_gaming(panel, units, 0.95, 0.03, 1.0, rng=1, landing=0.02)
    moved = landed.loc[landed.attrs["planted"], "value"]
    assert moved.between(0.95, 0.97 + 1 / panel["denominator"].min()).all()


def test_plant_max_side_moves_values_down(panel):
    gamed = plant_threshold_gaming(panel, ["U001", "U002", "U003"], 0.96, 0.02, 1.0, rng=2, side="max")
    before = panel.loc[gamed.attrs["planted"], "value"]
    after = gamed.loc[gamed.attrs["planted"], "value"]
    assert ((before > 0.96) & (before <= 0.98 + 1e-12)).all()
    assert (after <= 0.96 + 1e-12).all()


def test_plant_without_counts_and_ambiguous_indicator(panel):
    values = panel.drop(columns=["numerator", "denominator"])
    gamed = plant_threshold_gaming(values, ["U001", "U002"], 0.95, 0.04, 1.0, rng=1)
    after = gamed.loc[gamed.attrs["planted"], "value"]
    assert after.between(0.95, 0.96).all()
    mixed = pd.concat([panel, panel.assign(indicator="other")], ignore_index=True)
    with pytest.raises(ValueError, match="pass indicator="):
        plant_threshold_gaming(mixed, ["U001"], 0.95, 0.03, 1.0, rng=1)


def test_rate_panel_processes():
    for process in ("binomial", "beta"):
        frame = simulate_rate_panel(10, 6, process=process, rng=1)
        assert len(frame) == 60
        assert (frame["numerator"] <= frame["denominator"]).all()
        np.testing.assert_allclose(frame["value"], frame["numerator"] / frame["denominator"])
    with pytest.raises(ValueError, match="process"):
        simulate_rate_panel(process="poisson")


def test_outcome_table_and_figures():
    import matplotlib

    from perfmodel.report.style import apply_report_style

    matplotlib.use("Agg")
    apply_report_style()
    result = simulate_gaming(n_officers=30, n_months=4, burn_in=1, rng=1)
    table = sg.outcome_table(result, "en")
    assert list(table.columns[:3]) == ["design", "effort on easy cases", "livelihood cases neglected"]
    for make in (sg.figure_design_outcomes, sg.figure_effort):
        fig = make(result, "zh")
        assert all(ax.get_xlabel() for ax in fig.get_axes())
        assert fig.get_suptitle() or all(ax.get_title() for ax in fig.get_axes())
        matplotlib.pyplot.close(fig)
