"""Seasonality and weak districts: planted seasons and gaps are found, noise is not mistaken for them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.framework import framework_from_dict, load_framework
from perfmodel.monitor import trends as mt

FRAUD_MONTHS = [11, 12, 1, 2]


def _series(values: np.ndarray, start: str = "2023-01", name: str = "x") -> pd.Series:
    index = pd.period_range(start, periods=len(values), freq="M")
    return pd.Series(values, index=index, name=name)


def _seasonal_frame(
    seed: int, months: int = 36, dip: float = 5.0, dip_months=FRAUD_MONTHS, direction_sign: float = -1.0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.period_range("2023-01", periods=months, freq="M")
    trend = 60 + 0.1 * np.arange(months)
    season = direction_sign * dip * np.isin(index.month, dip_months)
    return pd.DataFrame({"x": trend + season + rng.normal(0, 1.0, months)}, index=index)


def test_month_window_text():
    assert mt.month_window([1, 2, 11, 12]) == "11月–2月"
    assert mt.month_window([3, 5]) == "3月、5月"
    assert mt.month_window([7], "en") == "Jul"
    assert mt.month_window([12, 1], "en") == "Dec–Jan"


def test_decompose_recovers_a_planted_season():
    months = np.arange(36)
    planted = 3.0 * np.sin(2 * np.pi * months / 12)
    noise = np.random.default_rng(0).normal(0, 0.3, 36)
    dec = mt.decompose(_series(50 + 0.05 * months + planted + noise))
    assert dec.seasonal_strength > 0.9
    truth = pd.Series(planted[:12], index=range(1, 13))
    assert np.corrcoef(dec.profile, truth)[0, 1] > 0.98
    assert np.allclose(dec.frame["observed"], dec.frame[["trend", "seasonal", "remainder"]].sum(axis=1))
    with pytest.raises(ValueError, match="two full years"):
        mt.decompose(_series(np.ones(20)))


def test_planted_fraud_season_is_found_in_most_seeds():
    hits = 0
    for seed in range(40):
        table = mt.seasonality_table(_seasonal_frame(seed))
        row = table.iloc[0]
        hits += row["p"] < 0.05 and row["pressure_months"] == FRAUD_MONTHS
    assert hits >= 36


def test_pure_noise_is_seasonal_about_five_percent_of_the_time():
    significant = candidates = 0
    for seed in range(200):
        frame = _seasonal_frame(seed, months=24, dip=0.0)
        table = mt.seasonality_table(frame)
        significant += bool(table["p"].iloc[0] < 0.05)
        candidates += len(mt.special_indicator_candidates(table))
    assert 0.02 <= significant / 200 <= 0.09
    assert candidates / 200 <= 0.05


def test_direction_decides_which_months_are_pressure_months():
    fw = framework_from_dict(
        {
            "id": "t",
            "name": {"zh": "t", "en": "t"},
            "level": "station",
            "tree": [
                {
                    "id": "d",
                    "name": {"zh": "d", "en": "d"},
                    "weight": 1.0,
                    "children": [
                        {
                            "id": "x",
                            "name": {"zh": "办结时长", "en": "days"},
                            "weight": 1.0,
                            "kind": "duration",
                            "direction": "lower",
                        }
                    ],
                }
            ],
        }
    )
    frame = _seasonal_frame(1, dip_months=[7, 8], direction_sign=+1.0)  # summer spike
    lower = mt.seasonality_table(frame, fw)
    higher = mt.seasonality_table(frame)
    assert lower["pressure_months"].iloc[0] == [7, 8]  # longer processing in summer is bad
    assert not set(higher["pressure_months"].iloc[0]) & {7, 8}  # for "higher is better" summer is good
    assert lower["name"].iloc[0] == "办结时长"
    volume = mt.seasonality_table(frame, fw, measure="volume")
    assert volume["pressure_months"].iloc[0] == [7, 8]  # more cases is pressure


def test_candidates_respect_the_temporary_weight_cap():
    fw = load_framework("station_quadrant")
    temporary = sum(info.effective_weight for info in fw.walk() if getattr(info.node, "temporary", None) is not None)
    table = mt.seasonality_table(_seasonal_frame(2, dip=8.0))
    cands = mt.special_indicator_candidates(table, fw)
    assert len(cands) == 1
    row = cands.iloc[0]
    assert row["window"] == "11月–2月" and (row["valid_from_month"], row["valid_to_month"]) == (11, 2)
    assert row["weight_room"] == pytest.approx(fw.policy.max_temporary_weight - temporary)
    long_season = mt.seasonality_table(_seasonal_frame(2, dip=8.0, dip_months=[4, 5, 6, 7, 8, 9]))
    assert mt.special_indicator_candidates(long_season, fw).empty  # six months is not a temporary window


def test_generated_telecom_fraud_peak_is_found():
    """The package's generator lowers telecom-fraud indicators and raises their case volume in
    November–February; the trend analysis must find that window from monthly evaluations."""
    from perfmodel.monitor.series import monthly_scores
    from perfmodel.simulate import simulate

    fw = framework_from_dict(
        {
            "id": "fraud_test",
            "name": {"zh": "反诈测试", "en": "Fraud test"},
            "level": "station",
            "normalisation": {"method": "goalposts", "range": [0, 100]},
            "grading": {"method": "cutoffs", "cutoffs": {"优秀": 85, "良好": 70, "合格": 55}},
            "tree": [
                {
                    "id": "main",
                    "name": {"zh": "主", "en": "main"},
                    "weight": 1.0,
                    "children": [
                        {
                            "id": "telecom_fraud_clearance_rate",
                            "name": {"zh": "电信诈骗破案率", "en": "Telecom fraud clearance"},
                            "weight": 0.5,
                            "kind": "rate",
                            "range": [0, 1],
                            "goalposts": [0.3, 0.9],
                        },
                        {
                            "id": "case_compliance_rate",
                            "name": {"zh": "案件规范率", "en": "Case compliance"},
                            "weight": 0.5,
                            "kind": "rate",
                            "range": [0, 1],
                            "goalposts": [0.7, 1.0],
                        },
                    ],
                }
            ],
        }
    )
    for seed in (0, 1):
        sample = simulate([fw], stations=40, months=36, rng=seed, defect_rate=0.0, officers_per_station=0)
        series = monthly_scores(fw, sample.observations[fw.id], sample.units)
        volume = mt.seasonality_table(
            mt.indicator_series(series.values, series.rolled, measure="volume"), fw, measure="volume"
        ).set_index("indicator")
        assert volume.loc["telecom_fraud_clearance_rate", "pressure_months"] == FRAUD_MONTHS
        assert not set(volume.loc["case_compliance_rate", "pressure_months"]) & set(FRAUD_MONTHS)
        value = mt.seasonality_table(mt.indicator_series(series.values), fw).set_index("indicator")
        effect = pd.Series(value.loc["telecom_fraud_clearance_rate", "effect"], index=range(1, 13))
        in_season = effect.loc[FRAUD_MONTHS].mean()
        assert in_season < effect.drop(index=FRAUD_MONTHS).mean() - 0.02  # clearance dips by > 2 % of its level


def _district_scores(seed: int, gap: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    units = pd.DataFrame(
        {"unit_id": [f"S{i:02d}" for i in range(48)], "district": [f"D{i // 8 + 1}" for i in range(48)]}
    )
    level = rng.normal(0, 8, 48).reshape(6, 8)
    level = (65 + level - level.mean(axis=1, keepdims=True)).ravel()  # districts equal on average ...
    level -= gap * (units["district"] == "D1").to_numpy()  # ... except the planted one
    months = [str(p) for p in pd.period_range("2024-01", periods=24, freq="M")]
    wobble = np.zeros((48, 24))
    for t in range(1, 24):  # autocorrelated month-to-month noise
        wobble[:, t] = 0.5 * wobble[:, t - 1] + rng.normal(0, 6, 48)
    rows = [(u, m, level[i] + wobble[i, t]) for i, u in enumerate(units["unit_id"]) for t, m in enumerate(months)]
    return pd.DataFrame(rows, columns=["unit_id", "period", "score"]), units


def test_planted_weak_district_is_flagged_and_others_rarely():
    found = false = 0
    for seed in range(30):
        scores, units = _district_scores(seed, gap=8.0)
        gaps = mt.district_gaps(scores, units).set_index("district")
        found += bool(gaps.loc["D1", "persistent"])
        false += int(gaps.drop(index="D1")["persistent"].sum())
    assert found >= 27
    assert false / (30 * 5) <= 0.05
    null = sum(int(mt.district_gaps(*_district_scores(s, gap=0.0))["persistent"].sum()) for s in range(30))
    assert null / (30 * 6) <= 0.05


def test_district_gaps_report_dimensions_and_explain_bad_input():
    scores, units = _district_scores(0, gap=8.0)
    scores["quality"] = scores["score"] - 5
    gaps = mt.district_gaps(scores, units, dimensions=["quality"]).set_index("district")
    assert gaps.loc["D1", "gap_quality"] == pytest.approx(gaps.loc["D1", "mean_gap"])
    with pytest.raises(ValueError, match="area"):
        mt.district_gaps(scores, units.drop(columns="district"))
    with pytest.raises(ValueError, match="S00"):
        mt.district_gaps(scores, units.assign(district=units["district"].where(units["unit_id"] != "S00")))
