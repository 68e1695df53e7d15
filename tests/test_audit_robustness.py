"""Robustness of grades and ranks: resampling, bootstrap intervals, period-to-period stability."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from audit_builders import planted_data

from perfmodel.audit import (
    AuditError,
    bootstrap_grades,
    non_robust_units,
    rank_stability,
    resample_observations,
)
from perfmodel.audit.robustness import ERR_N_BOOT, ERR_NO_PREVIOUS
from perfmodel.evaluation import evaluate
from perfmodel.framework import framework_from_dict

SIMPLE = {
    "id": "simple",
    "name": {"zh": "简单", "en": "simple"},
    "level": "station",
    "normalisation": {"method": "minmax", "range": [0, 100]},
    "grading": {"method": "cutoffs", "cutoffs": {"优秀": 80, "良好": 50, "合格": 20}},
    "tree": [
        {
            "id": "d",
            "name": {"zh": "维度", "en": "dim"},
            "weight": 1.0,
            "children": [
                {
                    "id": "s",
                    "name": {"zh": "评分", "en": "rating"},
                    "weight": 1.0,
                    "kind": "score",
                    "source": "citizen",
                    "range": [0, 100],
                },
            ],
        }
    ],
}


def simple_evaluation(quarters: dict[str, list[float]], raters: int = 1, **settings):
    """One rated indicator; every month of a quarter gets the same value from every rater."""
    months = {"2025Q1": ["2025-01", "2025-02", "2025-03"], "2025Q2": ["2025-04", "2025-05", "2025-06"]}
    rows = []
    for quarter, values in quarters.items():
        for month in months[quarter]:
            for u, value in enumerate(values):
                for r in range(raters):
                    rows.append((month, f"U{u}", "s", float(value), np.nan, np.nan, f"R{r}"))
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id"]
    )
    obs["late"] = False
    n = len(next(iter(quarters.values())))
    units = pd.DataFrame(
        {"unit_id": [f"U{u}" for u in range(n)], "name": [f"单位{u}" for u in range(n)], "level": "station"}
    )
    return evaluate(framework_from_dict(SIMPLE), obs, units, "2025Q2", **settings)


@pytest.fixture(scope="module")
def noisy():
    fw, obs, units = planted_data(seed=4, n_units=24, noise=1.0)
    return evaluate(fw, obs, units, "2025Q2")


# ----------------------------------------------------------------------------- resampling
def test_resampled_months_come_from_the_same_unit_and_keep_the_period_shape(noisy):
    new = resample_observations(noisy, rng=3, resample="months")
    months = ["2025-04", "2025-05", "2025-06"]
    inside = new[new["period"].isin(months)]
    original = noisy.observations[noisy.observations["period"].isin(months)]
    assert len(inside) == len(original)
    assert inside.groupby("unit_id")["period"].nunique().eq(3).all()
    minutes = original[original.indicator == "response_minutes"].groupby("unit_id")["value"].apply(set)
    drawn = inside[inside.indicator == "response_minutes"].groupby("unit_id")["value"].apply(set)
    assert all(drawn[u] <= minutes[u] for u in drawn.index)
    assert any(drawn[u] != minutes[u] for u in drawn.index)  # something was actually resampled
    before = noisy.observations[~noisy.observations["period"].isin(months)]
    kept = new[~new["period"].isin(months)]
    pd.testing.assert_frame_equal(kept.reset_index(drop=True)[before.columns], before.reset_index(drop=True))


def test_resampled_raters_stay_within_their_unit_month_and_indicator(noisy):
    new = resample_observations(noisy, rng=5, resample="raters")
    key = ["unit_id", "period", "indicator"]
    original = noisy.stages["raw"]
    rated = original[original["rater_id"].notna()]
    allowed = rated.groupby(key)["value"].apply(set)
    drawn = new[new["rater_id"].notna() & new["period"].isin(original["period"])].groupby(key)["value"].apply(set)
    assert all(drawn[k] <= allowed[k] for k in drawn.index)
    system = new[new["rater_id"].isna() & new["period"].isin(original["period"])]
    pd.testing.assert_series_equal(
        system.sort_values(key)["value"].reset_index(drop=True),
        original[original["rater_id"].isna()].sort_values(key)["value"].reset_index(drop=True),
    )


def _reference_resample(ev, rng: np.random.Generator, resample: str) -> pd.DataFrame:
    """The resampling written plainly: a loop over units and months, ratings drawn per text key.

    Draws the same random numbers in the same order as :func:`resample_observations`:
    one per unit × month (its source month), then one per rated row (its source rating).
    """
    months = ["2025-04", "2025-05", "2025-06"]
    obs = ev.observations[ev.observations["unit_id"].isin(ev.scored_units.index)]
    inside = obs["period"].astype(str).isin(months)
    rows = obs[inside].sort_values(["unit_id", "period", "indicator"], kind="stable").reset_index(drop=True)
    slots = list(rows.groupby(["unit_id", "period"], sort=False).groups.items())
    by_unit: dict[str, list[int]] = {}
    for i, ((unit, _), _) in enumerate(slots):
        by_unit.setdefault(unit, []).append(i)
    u = rng.random(len(slots)) if resample in ("months", "both") else None
    parts = []
    for i, ((unit, period), _) in enumerate(slots):
        source = i
        if u is not None:
            own = by_unit[unit]
            source = own[0] + int(np.floor(u[i] * len(own)))
        part = rows.loc[slots[source][1]].copy()
        part["period"] = period
        parts.append(part)
    new = pd.concat(parts, ignore_index=True)
    rated = np.flatnonzero(new["rater_id"].notna().to_numpy())
    if resample in ("raters", "both") and len(rated):
        keys = [f"{r.unit_id}|{r.period}|{r.indicator}" for r in new.iloc[rated].itertuples()]
        draws = rng.random(len(rated))
        members: dict[str, list[int]] = {}
        for position, key in zip(rated, keys, strict=True):
            members.setdefault(key, []).append(position)
        before = new.copy()
        for draw, position, key in zip(draws, rated, keys, strict=True):
            group = members[key]
            pick = group[int(np.floor(draw * len(group)))]
            for column in ("value", "rater_id", "numerator", "denominator"):
                new.loc[position, column] = before.loc[pick, column]
    return pd.concat([new, obs[~inside]], ignore_index=True)


@pytest.mark.parametrize("resample", ["months", "raters", "both"])
def test_resampling_equals_a_plain_loop_over_units_months_and_raters(noisy, resample):
    for seed in (0, 11):
        got = resample_observations(noisy, rng=seed, resample=resample)
        expected = _reference_resample(noisy, np.random.default_rng(seed), resample)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)


# ----------------------------------------------------------------------------- bootstrap
def test_identical_months_and_raters_give_certain_ranks_and_grades():
    ev = simple_evaluation({"2025Q2": [10, 30, 55, 70, 90, 95]}, raters=2)
    table = bootstrap_grades(ev, n_boot=8, rng=1).to_frame().set_index("unit_id")
    assert (table["rank_low"] == table["estimate"]).all() and (table["rank_high"] == table["estimate"]).all()
    assert (table["p_grade_change"] == 0).all() and table["robust"].all()
    assert (table["se"] == 0).all() and table["n"].eq(8).all()
    assert non_robust_units(table.reset_index()).empty


def test_bootstrap_is_seeded_and_noise_widens_intervals(noisy):
    a = bootstrap_grades(noisy, n_boot=10, rng=7).to_frame()
    b = bootstrap_grades(noisy, n_boot=10, rng=7).to_frame()
    pd.testing.assert_frame_equal(a, b)
    inside = (a["rank_low"] <= a["estimate"]) & (a["estimate"] <= a["rank_high"])
    assert inside.mean() >= 0.8  # the observed rank lies in its own 90 % interval for most units
    assert (a["rank_high"] - a["rank_low"]).mean() > 0
    fw, obs, units = planted_data(seed=4, n_units=24, noise=4.0)
    louder = bootstrap_grades(evaluate(fw, obs, units, "2025Q2", compare_previous=False), n_boot=10, rng=7).to_frame()
    assert (louder["rank_high"] - louder["rank_low"]).mean() > (a["rank_high"] - a["rank_low"]).mean()
    assert louder["p_grade_change"].mean() > a["p_grade_change"].mean()
    fragile = non_robust_units(louder)
    assert (fragile["p_grade_change"] > 0.2).all() and len(fragile) == int((~louder["robust"]).sum())
    assert fragile["p_grade_change"].is_monotonic_decreasing


def test_n_boot_must_be_positive(noisy):
    with pytest.raises(AuditError, match=re.escape(ERR_N_BOOT.format(n_boot=0))):
        bootstrap_grades(noisy, n_boot=0)


# ----------------------------------------------------------------------------- stability
def test_rank_stability_by_hand():
    ev = simple_evaluation({"2025Q1": [1, 2, 3, 4, 5], "2025Q2": [2, 1, 3, 5, 4]})
    table = rank_stability(ev, lang="en").to_frame().set_index("measure")
    # d = (1, −1, 0, 1, −1): ρ = 1 − 6·4/(5·24) = 0.8; 2 discordant of 10 pairs: τ = 0.6
    assert table.loc["spearman", "estimate"] == pytest.approx(0.8)
    assert table.loc["kendall", "estimate"] == pytest.approx(0.6)
    assert table.loc["spearman", "se"] == pytest.approx(np.sqrt(1.06 / 2))
    # top k = ⌈5/4⌉ = 2: {U3, U4} both times
    assert table.loc["top_k_overlap", "estimate"] == 1.0
    assert table.loc["top_k_overlap", "p_value"] == pytest.approx(1 / 10)  # C(2,2)/C(5,2)
    assert table["n"].eq(5).all() and table["peer_group"].eq("all").all()


def test_identical_quarters_are_perfectly_stable():
    ev = simple_evaluation({"2025Q1": [5, 1, 4, 2, 3, 9], "2025Q2": [5, 1, 4, 2, 3, 9]})
    table = rank_stability(ev).to_frame().set_index("measure")
    assert table.loc[["spearman", "kendall", "top_k_overlap"], "estimate"].tolist() == pytest.approx([1, 1, 1])
    assert "排名较稳定" in table.loc["spearman", "verdict"]


def test_rank_stability_needs_the_previous_period():
    ev = simple_evaluation({"2025Q2": [1, 2, 3, 4, 5]}, compare_previous=False)
    with pytest.raises(AuditError, match=re.escape(ERR_NO_PREVIOUS)):
        rank_stability(ev)
