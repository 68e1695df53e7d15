"""Deployment view (R15): workload-based demand, area summary and a constrained reallocation."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.framework import load_framework
from perfmodel.monitor.deployment import (
    DeploymentError,
    area_summary,
    area_table,
    demand_weights,
    dispersion,
    figure_load_before_after,
    figure_police_density,
    moves_table,
    reallocate,
    shortfall_table,
    staffing_table,
)
from perfmodel.report.style import apply_report_style, save_figure
from perfmodel.simulate import simulate


def _units(officers, incidents, population=None, district=None, area=None) -> pd.DataFrame:
    n = len(officers)
    return pd.DataFrame(
        {
            "unit_id": [f"S{i + 1}" for i in range(n)],
            "name": [f"{i + 1}所" for i in range(n)],
            "level": "station",
            "officers": officers,
            "incident_volume": incidents,
            "population": population if population is not None else [10_000] * n,
            "district": district if district is not None else ["D1"] * n,
            "area_type": area if area is not None else ["农村"] * n,
        }
    )


INCIDENTS_ONLY = {"incident_volume": 1.0}


def test_staffing_table_by_hand():
    table = staffing_table(
        _units([10, 10], [100, 300], [20_000, 60_000]), demand_weights={"incident_volume": 0.5, "population": 0.5}
    ).set_index("unit_id")
    # shares: incidents 0.25 / 0.75, population 0.25 / 0.75 → demand 5 and 15 of 20 officers
    assert table["demand"].tolist() == pytest.approx([5.0, 15.0])
    assert table["load"].tolist() == pytest.approx([0.5, 1.5])
    assert table["gap"].tolist() == pytest.approx([5.0, -5.0])
    assert table["incidents_per_officer"].tolist() == [10.0, 30.0]
    assert table["police_per_10k"].tolist() == pytest.approx([5.0, 10 / 6])
    mixed = staffing_table(_units([10, 10], [100, 300], [60_000, 20_000])).set_index("unit_id")
    # 0.7 × 0.25 + 0.3 × 0.75 = 0.4 of 20 officers
    assert mixed.loc["S1", "demand"] == pytest.approx(8.0)


def test_officers_elsewhere_in_the_units_table_are_ignored():
    units = pd.concat(
        [
            _units([4, 6], [10, 30]),
            pd.DataFrame(
                {
                    "unit_id": ["S1-M1"],
                    "level": ["officer"],
                    "officers": [4],
                    "incident_volume": [10],
                    "population": [10_000],
                }
            ),
        ],
        ignore_index=True,
    )
    assert staffing_table(units)["unit_id"].tolist() == ["S1", "S2"]


def test_bad_units_name_the_station_and_column():
    with pytest.raises(DeploymentError, match="lacks column.*population"):
        staffing_table(_units([4, 6], [10, 30]).drop(columns="population"))
    bad = _units([4, 0], [10, 30])
    with pytest.raises(DeploymentError, match=r"column 'officers' must be a whole number above 0.*station S2"):
        staffing_table(bad)
    with_rows = _units([4, 6], [10, "很多"]).assign(source_row=[2, 3])
    with pytest.raises(DeploymentError, match=r"'incident_volume'.*row 3 \(station S2\) has '很多'"):
        staffing_table(with_rows)
    with pytest.raises(DeploymentError, match="non-negative"):
        staffing_table(_units([4, 6], [10, 30]), demand_weights={"incident_volume": -1})


def test_reallocation_by_hand():
    table = staffing_table(_units([10, 10], [100, 300]), demand_weights=INCIDENTS_ONLY)
    full = reallocate(table, min_staff=3, max_moves=10)
    assert full.table["officers_after"].tolist() == [5, 15] and full.n_moves == 5
    assert full.after["sd_officers"] == pytest.approx(0.0)
    assert full.moves.values.tolist() == [["S1", "S2", 5]]
    limited = reallocate(table, max_moves=3)
    assert limited.table["officers_after"].tolist() == [7, 13] and limited.n_moves == 3
    floor = reallocate(table, min_staff=8, max_moves=10)
    assert floor.table["officers_after"].tolist() == [8, 12]
    per_station = reallocate(table, min_staff={"S1": 9, "S2": 3}, max_moves=10)
    assert per_station.table["officers_after"].tolist() == [9, 11]
    with pytest.raises(DeploymentError, match="no minimum for station"):
        reallocate(table, min_staff={"S1": 3})


def test_moves_stay_within_the_district_when_asked():
    table = staffing_table(
        _units([10, 10, 10, 10], [100, 300, 200, 200], district=["A", "B", "A", "B"]), demand_weights=INCIDENTS_ONLY
    )
    result = reallocate(table, max_moves=50, within="district")
    district = table.set_index("unit_id")["district"]
    assert (result.moves["from_station"].map(district) == result.moves["to_station"].map(district)).all()
    assert result.table.groupby("district")["officers_after"].sum().to_dict() == {"A": 20, "B": 20}


def _variance(demand, staff):
    return float(np.sum(np.asarray(demand) ** 2 / np.asarray(staff)))


def _brute_force(demand, staff, floor):
    """Smallest Σ demand² / officers over every allocation of the same total respecting the floors."""
    total, best = int(sum(staff)), np.inf
    for combo in itertools.product(*[range(int(f), total + 1) for f in floor]):
        if sum(combo) == total:
            best = min(best, _variance(demand, combo))
    return best


@settings(max_examples=60, deadline=None)
@given(
    officers=st.lists(st.integers(1, 7), min_size=2, max_size=4),
    incidents=st.lists(st.integers(0, 60), min_size=4, max_size=4),
    min_staff=st.integers(1, 4),
    max_moves=st.integers(0, 6),
)
def test_constraints_hold_and_dispersion_never_rises(officers, incidents, min_staff, max_moves):
    incidents = incidents[: len(officers)]
    if sum(incidents) == 0:
        incidents[0] = 1
    table = staffing_table(_units(officers, incidents), demand_weights=INCIDENTS_ONLY)
    result = reallocate(table, min_staff=min_staff, max_moves=max_moves)
    before, after = table["officers"].to_numpy(), result.table["officers_after"].to_numpy()
    floor = np.minimum(min_staff, before)
    assert after.sum() == before.sum()
    assert (after >= floor).all()
    assert result.n_moves <= max_moves and np.abs(after - before).sum() == 2 * result.n_moves
    assert result.after["sd_officers"] <= result.before["sd_officers"] + 1e-12
    assert result.moves["officers"].sum() == result.n_moves if len(result.moves) else result.n_moves == 0
    unlimited = reallocate(table, min_staff=min_staff, max_moves=10_000)
    demand = table["demand"].to_numpy()
    assert _variance(demand, unlimited.table["officers_after"]) == pytest.approx(
        _brute_force(demand, before, floor), rel=1e-9
    )


def test_dispersion_by_hand():
    result = dispersion([0.5, 1.5], [10, 10])
    assert result["sd_officers"] == pytest.approx(0.5)
    assert result["cv_stations"] == pytest.approx(0.5)
    assert result["max_min"] == pytest.approx(3.0)
    assert result["share_overloaded"] == pytest.approx(0.5)


def test_area_summary_is_ratios_of_totals():
    table = staffing_table(
        _units([10, 20, 5], [100, 300, 20], [30_000, 50_000, 10_000], area=["城区核心", "城区核心", "农村"])
    )
    summary = area_summary(table).set_index("area_type")
    assert summary.loc["城区核心", "officers"] == 30 and summary.loc["城区核心", "stations"] == 2
    assert summary.loc["城区核心", "incidents_per_officer"] == pytest.approx(400 / 30)
    assert summary.loc["农村", "police_per_10k"] == pytest.approx(5.0)
    assert summary["demand"].sum() == pytest.approx(35.0)
    with pytest.raises(DeploymentError, match="'region' is not in the staffing table"):
        area_summary(table, by="region")


@pytest.fixture(scope="module")
def simulated():
    sample = simulate([load_framework("station_four_dimension")], stations=60, months=1, rng=8, officers_per_station=0)
    return staffing_table(sample.units)


def test_simulated_rural_stations_have_fewer_police_and_fewer_incidents_per_officer(simulated):
    """As in seed 004: fewer police per 10,000 residents in rural areas, yet a lighter incident load."""
    summary = area_summary(simulated).set_index("area_type")
    assert summary.loc["农村", "police_per_10k"] < summary.loc["城乡结合部", "police_per_10k"]
    assert summary.loc["农村", "incidents_per_officer"] < summary.loc["城乡结合部", "incidents_per_officer"]
    assert simulated["demand"].sum() == pytest.approx(simulated["officers"].sum())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_figures_and_effect_table(tmp_path, simulated, lang):
    apply_report_style()
    result = reallocate(simulated, max_moves=15, within="district")
    assert save_figure(figure_load_before_after(result, lang=lang), tmp_path / "load.png").stat().st_size > 5_000
    assert (
        save_figure(figure_police_density(area_summary(simulated), lang=lang), tmp_path / "density.png").stat().st_size
        > 5_000
    )
    effect = result.effect(lang)
    assert len(effect) == 4 and effect.iloc[0, 2] <= effect.iloc[0, 1]


# ---------------------------------------------------------------- report helpers
def test_demand_weights_mix_incidents_and_population():
    weights = demand_weights(0.25)
    assert weights == {"incident_volume": 0.25, "population": 0.75}
    units = _units([10, 10], [100, 300], [30_000, 10_000])
    # S1: 0.25 × 100/400 + 0.75 × 30k/40k = 0.625 of 20 officers
    assert staffing_table(units, demand_weights=weights)["demand"].tolist() == pytest.approx([12.5, 7.5])
    for bad in (-0.1, 1.5):
        with pytest.raises(DeploymentError, match="incident_weight must be between 0 and 1"):
            demand_weights(bad)


def test_sd_reduction_and_report_tables_by_hand():
    table = staffing_table(_units([10, 10, 10], [100, 300, 200]), demand_weights=INCIDENTS_ONLY)
    # demand 5, 15, 10 for 10 officers each: loads 0.5, 1.5, 1.0; gaps +5, −5, 0
    short = shortfall_table(table, top=2)
    assert short["unit_id"].tolist() == ["S2", "S3"] and short["gap"].tolist() == pytest.approx([-5.0, 0.0])
    result = reallocate(table, max_moves=3)
    before, after = result.before["sd_officers"], result.after["sd_officers"]
    assert result.sd_reduction == pytest.approx(1 - after / before) and 0 < result.sd_reduction <= 1
    full = reallocate(table, max_moves=10)
    assert full.sd_reduction == pytest.approx(1.0)  # 5, 15, 10 officers: every load 1
    assert reallocate(table, max_moves=0).sd_reduction == 0.0
    even = staffing_table(_units([10, 10], [100, 100]), demand_weights=INCIDENTS_ONLY)
    assert reallocate(even).sd_reduction == 0.0  # nothing uneven, nothing to reduce
    moves = moves_table(full, "en", top=1)
    assert moves.values.tolist() == [["S1", "S2", 5]] and list(moves.columns) == ["From", "To", "Officers"]
    assert list(moves_table(full, "zh").columns) == ["调出", "调入", "人数"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_area_table_keeps_the_summary_under_localised_names(simulated, lang):
    summary = area_summary(simulated)
    table = area_table(summary, lang)
    assert table.shape == summary.shape
    np.testing.assert_allclose(table.iloc[:, -1], summary["gap"])
    assert table.columns[0] == ("区域类型" if lang == "zh" else "Area type")
