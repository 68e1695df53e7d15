"""Redundancy and coherence checks against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from design_builders import indicator, name, toy_evaluation, toy_framework

from perfmodel.design.redundancy import (
    alpha_if_deleted,
    cronbach_alpha,
    discrimination,
    merge_suggestions,
    pca_by_dimension,
    redundancy_report,
    reliability,
    removal_effect,
    reporting_burden,
    vif,
)

ITEMS = pd.DataFrame({"i1": [1.0, 2, 3, 4], "i2": [2.0, 2, 4, 4], "i3": [1.0, 3, 3, 5]})


def test_cronbach_alpha_by_hand():
    # item variances 5/3, 4/3, 8/3 (sum 17/3); totals 4, 7, 10, 13 have variance 15
    # alpha = 3/2 · (1 − (17/3)/15) = 42/45
    assert cronbach_alpha(ITEMS) == pytest.approx(42 / 45)
    # without i3: variances 5/3 + 4/3 = 3; totals 3, 4, 7, 8 have variance 17/3
    # alpha = 2 · (1 − 3/(17/3)) = 16/17
    assert alpha_if_deleted(ITEMS)["i3"] == pytest.approx(16 / 17)
    assert np.isnan(cronbach_alpha(ITEMS[["i1"]]))


def _values(n: int = 30, seed: int = 1, **columns) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = {k: rng.normal(size=n) for k in "abcd"}
    base.update({k: v(base, rng) if callable(v) else v for k, v in columns.items()})
    return pd.DataFrame({k: 50 + 10 * np.asarray(v) for k, v in base.items()}, index=[f"U{i:02d}" for i in range(n)])


def test_vif_of_two_indicators_is_one_over_one_minus_r_squared():
    values = _values(b=lambda v, rng: v["a"] + 0.5 * rng.normal(size=30))
    ev = toy_evaluation(n=30, values=values)
    x = ev.stages["normalised"]
    r = x["a"].corr(x["b"])
    table = vif(ev).set_index("indicator")
    assert table.loc["a", "vif_dimension"] == pytest.approx(1 / (1 - r**2), rel=1e-9)
    assert table.loc["a", "vif_all"] >= table.loc["a", "vif_dimension"] - 1e-9


def test_identical_indicators_give_one_principal_component_and_alpha_one():
    values = _values(d=lambda v, rng: v["c"])
    ev = toy_evaluation(n=30, values=values)
    pca, loadings = pca_by_dimension(ev)
    assert pca.set_index("dimension").loc["d2", "pc1_share"] == pytest.approx(1.0)
    assert (loadings.set_index("indicator").loc[["c", "d"], "loading"] > 0).all()
    alpha, _ = reliability(ev)
    assert alpha.set_index("dimension").loc["d2", "alpha"] == pytest.approx(1.0)


def test_discrimination_flags_an_indicator_without_spread():
    values = _values(c=np.zeros(30), d=np.r_[np.ones(20), np.arange(10) + 2])
    table = discrimination(toy_evaluation(n=30, values=values)).set_index("indicator")
    assert not table.loc["c", "separates"] and table.loc["c", "verdict"].startswith("no spread")
    assert table.loc["d", "share_at_mode"] == pytest.approx(20 / 30)
    assert table.loc["d", "verdict"].startswith("weak")
    assert table.loc["a", "separates"] and table.loc["a", "verdict"] == "separates units"
    assert table.loc["a", "cv"] == pytest.approx(values["a"].std() / abs(values["a"].mean()))


def test_merge_suggestion_names_the_seed_merge_of_patrol_indicators():
    fw = toy_framework(
        tree=[
            {
                "id": "patrol",
                "name": name("巡防"),
                "weight": 0.5,
                "children": [
                    {**indicator("patrol_mileage", 0.5), "name": {"zh": "巡逻里程", "en": "Patrol mileage"}},
                    {
                        **indicator("street_visibility_rate", 0.5),
                        "name": {"zh": "街面见警率", "en": "Street visibility"},
                    },
                ],
            },
            {
                "id": "other",
                "name": name("其他"),
                "weight": 0.5,
                "children": [
                    indicator("x", 0.5),
                    indicator("y", 0.5, direction="lower"),
                ],
            },
        ]
    )
    rng = np.random.default_rng(3)
    z = rng.normal(size=25)
    values = pd.DataFrame(
        {
            "patrol_mileage": 100 + 20 * z + rng.normal(size=25),
            "street_visibility_rate": 0.5 + 0.1 * z + 0.005 * rng.normal(size=25),
            "x": rng.normal(size=25),
            "y": rng.normal(size=25),
        },
        index=[f"U{i:02d}" for i in range(25)],
    )
    values["y"] = values["x"] + 0.01 * rng.normal(size=25)  # x high ⇒ y high, but y is "lower is better"
    ev = toy_evaluation(fw, n=25, values=values)
    merges = merge_suggestions(ev, threshold=0.8).set_index("indicator_a")
    patrol = merges.loc["patrol_mileage"]
    assert patrol["action"] == "merge"
    assert patrol["merged_id"] == "effective_patrol_coverage"
    assert patrol["merged_name_zh"] == "有效巡防覆盖率"
    assert patrol["merged_weight"] == pytest.approx(1.0)
    trade_off = merges.loc["x"]
    assert trade_off["action"] == "review" and trade_off["r"] < -0.8


def test_reporting_burden_counts_rows_per_unit_and_month_by_source():
    fw = toy_framework(
        tree=[
            {
                "id": "d1",
                "name": name("d1"),
                "weight": 0.7,
                "children": [indicator("a", 0.5), indicator("b", 0.5, source="citizen")],
            },
            {
                "id": "d2",
                "name": name("d2"),
                "weight": 0.3,
                "children": [indicator("c", 0.5, source="supervisor"), indicator("d", 0.5)],
            },
        ]
    )
    ev = toy_evaluation(fw, n=10, missing=[(0, "a"), (1, "a")])
    table = reporting_burden(ev).set_index("source")
    # one month, ten units: system rows = 8 (a) + 10 (d), citizen 10, supervisor 10
    assert table.loc["system", "rows"] == 18
    assert table.loc["system", "indicators"] == 2
    assert table.loc["system", "rows_per_unit_month"] == pytest.approx(1.8)
    assert table.loc["citizen", "rows_per_unit_month"] == pytest.approx(1.0)
    assert table.loc["total", "rows"] == 38
    assert table.loc["total", "rows_per_unit_month"] == pytest.approx(3.8)


def test_removal_effect_matches_a_rerun_without_the_indicator():
    ev = toy_evaluation(n=20, peer_group="station_class")
    table = removal_effect(ev).set_index("indicator")
    full = ev.scores.set_index("unit_id")
    without = ev.regen(weights={"d": 0.0}).scores.set_index("unit_id").reindex(full.index)
    rho = full["score"].corr(without["score"], method="spearman")
    shift = (full["rank"] - without["rank"]).abs().mean()
    assert table.loc["d", "spearman"] == pytest.approx(rho)
    assert table.loc["d", "mean_abs_rank_shift"] == pytest.approx(shift)
    assert (table["spearman"] <= 1).all()


def test_redundancy_report_bundles_every_table():
    report = redundancy_report(toy_evaluation(n=15))
    tables = report.tables()
    assert set(tables) == {
        "correlations",
        "parent_correlations",
        "alpha",
        "alpha_if_deleted",
        "pca",
        "pca_loadings",
        "vif",
        "discrimination",
        "removal",
        "merges",
        "burden",
    }
    assert len(tables["correlations"]) == 2  # one pair in each two-indicator dimension
    parent = tables["parent_correlations"].set_index("indicator")
    assert parent.loc["a", "dimension"] == "d1"
    assert (parent["r_dimension"] > 0).all()
