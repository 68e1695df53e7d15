import numpy as np
import pandas as pd
import pytest

from perfmodel.rollup import roll_up


def _obs(rows):
    frame = pd.DataFrame(rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator"])
    return frame


def test_rates_use_summed_numerators_and_denominators():
    obs = _obs(
        [
            ("2025-04", "A", "r", 0.5, 1, 2),
            ("2025-05", "A", "r", 0.5, 1, 2),
            ("2025-06", "A", "r", 5 / 6, 5, 6),
        ]
    )
    out = roll_up(obs, {"r": "rate"}, "2025Q2").iloc[0]
    assert out["value"] == pytest.approx(0.7)  # 7/10, where the monthly mean is 0.611
    assert out["numerator"] == 7 and out["denominator"] == 10
    assert out["method"] == "sum_numerator_over_sum_denominator"
    assert out["months_present"] == 3


def test_rate_without_volumes_falls_back_to_mean_and_says_so():
    obs = _obs([("2025-04", "A", "r", 0.4, np.nan, np.nan), ("2025-05", "A", "r", 0.8, 4, 5)])
    out = roll_up(obs, {"r": "rate"}, "2025Q2").iloc[0]
    assert out["value"] == pytest.approx(0.6)
    assert out["method"] == "mean_of_monthly_rates"


def test_counts_are_summed_and_prorated_for_missing_months():
    full = _obs([(m, "A", "c", 2.0, np.nan, np.nan) for m in ("2025-04", "2025-05", "2025-06")])
    assert roll_up(full, {"c": "count"}, "2025Q2")["value"].iloc[0] == 6
    partial = _obs([(m, "A", "c", 2.0, np.nan, np.nan) for m in ("2025-04", "2025-05")])
    out = roll_up(partial, {"c": "count"}, "2025Q2").iloc[0]
    assert out["value"] == pytest.approx(6.0)
    assert out["method"] == "sum_prorated" and out["months_present"] == 2


def test_raters_are_averaged_within_month_then_months_averaged():
    obs = _obs(
        [
            ("2025-04", "A", "s", 80, np.nan, np.nan),
            ("2025-04", "A", "s", 90, np.nan, np.nan),
            ("2025-05", "A", "s", 70, np.nan, np.nan),
        ]
    )
    out = roll_up(obs, {"s": "score"}, "2025Q2").iloc[0]
    assert out["value"] == pytest.approx((85 + 70) / 2)


def test_durations_weighted_by_cases_when_given():
    obs = _obs([("2025-04", "A", "d", 2.0, np.nan, 1), ("2025-05", "A", "d", 5.0, np.nan, 3)])
    assert roll_up(obs, {"d": "duration"}, "2025Q2")["value"].iloc[0] == pytest.approx(17 / 4)


def test_months_outside_period_are_ignored():
    obs = _obs([("2025-03", "A", "c", 100.0, np.nan, np.nan), ("2025-04", "A", "c", 1.0, np.nan, np.nan)])
    out = roll_up(obs, {"c": "count"}, "2025-04")
    assert out["value"].tolist() == [1.0]


def test_quarters_add_up_to_the_year():
    rng = np.random.default_rng(3)
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    den = rng.integers(1, 30, 12)
    num = rng.binomial(den, 0.7)
    obs = pd.concat(
        [
            _obs([(m, "A", "r", n / d, n, d) for m, n, d in zip(months, num, den, strict=True)]),
            _obs([(m, "A", "c", float(k), np.nan, np.nan) for m, k in zip(months, rng.poisson(3, 12), strict=True)]),
        ]
    )
    kinds = {"r": "rate", "c": "count"}
    year = roll_up(obs, kinds, "2025").set_index("indicator")
    quarters = pd.concat([roll_up(obs, kinds, f"2025Q{q}") for q in range(1, 5)])
    q = quarters.groupby("indicator")[["numerator", "denominator", "value"]].sum()
    assert year.loc["c", "value"] == q.loc["c", "value"]
    assert year.loc["r", "value"] == pytest.approx(q.loc["r", "numerator"] / q.loc["r", "denominator"])


def test_event_counts_are_never_prorated():
    obs = _obs([("2025-05", "A", "errors", 1.0, np.nan, np.nan)])
    out = roll_up(obs, {"errors": "event"}, "2025Q2").iloc[0]
    assert out["value"] == 1.0 and out["method"] == "sum"
