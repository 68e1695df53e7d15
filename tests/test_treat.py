"""Outlier treatment: skewness/kurtosis estimators and COINr's winsorisation loop."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from perfmodel.treat import is_outlying, kurtosis, log_transform, skewness, treat, winsorise

# 1..20 followed by two outliers: needs two steps (100 → 50, then both 50s → 20).
TWO_STEPS = np.r_[np.arange(1.0, 21.0), 50.0, 100.0]
# 1..20 and a tied pair of outliers: one step moves both.
TIED_PAIR = np.r_[np.arange(1.0, 21.0), 100.0, 100.0]


def _frame(**columns: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()})


# ---------------------------------------------------------------- estimators
def test_skewness_and_kurtosis_by_hand() -> None:
    # x = 1, 2, 3, 10: deviations -3, -2, -1, 6; Σd² = 50, Σd³ = 180, Σd⁴ = 1394.
    # g1 = √4·180/50^1.5, G1 = g1·√(4·3)/2; r = 4·1394/50² = 2.2304,
    # G2 = ((5)(r − 3) + 6)·3/(2·1) = 3.228 (Excel KURT).
    x = [1.0, 2.0, 3.0, 10.0]
    assert skewness(x) == pytest.approx(2 * 180 / 50**1.5 * np.sqrt(12) / 2, rel=1e-14)
    assert kurtosis(x) == pytest.approx(3.228, rel=1e-13)


def test_estimators_ignore_missing_values() -> None:
    assert skewness([1.0, np.nan, 2.0, 3.0, 10.0]) == pytest.approx(skewness([1.0, 2.0, 3.0, 10.0]))
    assert kurtosis([np.nan, 1.0, 2.0, 3.0, 10.0]) == pytest.approx(3.228)


@pytest.mark.parametrize(
    ("values", "expect_skew_nan", "expect_kurt_nan"),
    [([1.0, 2.0], True, True), ([1.0, 2.0, 4.0], False, True), ([5.0] * 6, True, True)],
)
def test_estimators_undefined(values, expect_skew_nan, expect_kurt_nan) -> None:
    assert np.isnan(skewness(values)) == expect_skew_nan
    assert np.isnan(kurtosis(values)) == expect_kurt_nan


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=5, max_size=40).filter(lambda v: np.ptp(v) > 1e-3))
def test_estimators_agree_with_scipy_bias_corrected(values: list[float]) -> None:
    assert skewness(values) == pytest.approx(stats.skew(values, bias=False), rel=1e-8, abs=1e-8)
    assert kurtosis(values) == pytest.approx(stats.kurtosis(values, bias=False), rel=1e-8, abs=1e-8)


def test_outlying_needs_both_conditions_and_thresholds_are_inclusive() -> None:
    sk, kt = skewness(TWO_STEPS), kurtosis(TWO_STEPS)
    assert sk > 2 and kt > 3.5
    assert is_outlying(TWO_STEPS)
    assert is_outlying(TWO_STEPS, skew_threshold=abs(sk), kurtosis_threshold=kt)
    assert not is_outlying(TWO_STEPS, skew_threshold=abs(sk) + 1e-9)
    assert not is_outlying(TWO_STEPS, kurtosis_threshold=kt + 1e-9)
    assert not is_outlying([1.0, 2.0, 100.0])  # kurtosis undefined


# ---------------------------------------------------------------- winsorisation
def test_two_steps_then_within_thresholds() -> None:
    values, changed, steps = winsorise(pd.Series(TWO_STEPS))
    assert steps == 2
    assert values.tolist() == [*range(1, 21), 20, 20]
    assert changed.tolist() == [False] * 20 + [True, True]


def test_tied_extremes_move_together_and_count_as_one_step() -> None:
    result = treat(_frame(t=TIED_PAIR))
    assert result.values["t"].tolist() == [*range(1, 21), 20, 20]
    row = result.log.iloc[0]
    assert (row["steps"], row["points"], row["side"], row["status"]) == (1, 2, "high", "winsorised")


def test_limit_reached_keeps_winsorised_values() -> None:
    result = treat(_frame(x=TWO_STEPS), max_points=1)
    row = result.log.iloc[0]
    assert (row["steps"], row["points"], row["status"]) == (1, 1, "limit reached")
    assert result.values["x"].tolist() == [*range(1, 21), 50, 50]
    assert abs(row["skew"]) >= 2 and row["kurtosis"] >= 3.5


def test_limit_zero_treats_nothing() -> None:
    result = treat(_frame(x=TWO_STEPS), max_points=0)
    assert result.values["x"].tolist() == TWO_STEPS.tolist()
    assert result.log.iloc[0]["status"] == "limit reached"


def test_log_fallback_transforms_the_original_values() -> None:
    result = treat(_frame(x=TWO_STEPS), max_points=1, log_fallback=True)
    lo, hi = 1.0, 100.0
    expected = np.log(TWO_STEPS - lo + 0.01 * (hi - lo))
    np.testing.assert_allclose(result.values["x"], expected, rtol=1e-15)
    assert result.log.iloc[0]["status"] == "log"
    assert result.changed["x"].all()


def test_log_fallback_unused_when_winsorising_suffices() -> None:
    result = treat(_frame(x=TWO_STEPS), log_fallback=True)
    assert result.log.iloc[0]["status"] == "winsorised"
    assert result.values["x"].max() == 20


def test_negative_skew_winsorises_the_low_end() -> None:
    result = treat(_frame(x=-TWO_STEPS))
    assert result.values["x"].tolist() == [-v for v in [*range(1, 21), 20, 20]]
    assert result.log.iloc[0]["side"] == "low"


def test_stops_before_leaving_fewer_than_two_distinct_values() -> None:
    # twenty zeros, 1 and 100: step 1 sets 100 → 1; a second step would leave only zeros.
    result = treat(_frame(z=np.r_[np.zeros(20), 1.0, 100.0]))
    row = result.log.iloc[0]
    assert (row["steps"], row["status"]) == (1, "stopped")
    assert result.values["z"].tolist() == [0.0] * 20 + [1.0, 1.0]


def test_missing_values_stay_missing() -> None:
    x = np.r_[TWO_STEPS, np.nan]
    result = treat(_frame(x=x))
    assert np.isnan(result.values["x"].iloc[-1])
    assert not result.changed["x"].iloc[-1]
    assert result.values["x"].iloc[:-1].tolist() == [*range(1, 21), 20, 20]


def test_untreatable_columns_are_logged_not_changed() -> None:
    X = _frame(few=[1.0, 2.0, 50.0, np.nan], flat=[3.0] * 4, fine=[1.0, 2.0, 3.0, 4.0])
    result = treat(X)
    log = result.log.set_index("indicator")["status"].to_dict()
    assert log == {"few": "too few values", "flat": "no spread", "fine": "ok"}
    pd.testing.assert_frame_equal(result.values, X)
    assert not result.changed.to_numpy().any()


def test_columns_not_selected_are_left_alone() -> None:
    result = treat(_frame(a=TWO_STEPS, b=TWO_STEPS), columns=["b"])
    assert result.values["a"].tolist() == TWO_STEPS.tolist()
    assert result.values["b"].max() == 20
    assert result.log.set_index("indicator").loc["a", "status"] == "not treated"


def test_bad_arguments() -> None:
    with pytest.raises(KeyError, match="nope"):
        treat(_frame(a=TWO_STEPS), columns=["nope"])
    with pytest.raises(ValueError, match="max_points"):
        treat(_frame(a=TWO_STEPS), max_points=-1)


def test_log_transform_by_hand() -> None:
    # min 0, max 100: ln(x + 1)
    out = log_transform(pd.Series([0.0, 1.0, 100.0]))
    np.testing.assert_allclose(out, np.log([1.0, 2.0, 101.0]))


# ---------------------------------------------------------------- properties
samples = st.lists(st.one_of(st.floats(0, 10), st.floats(0, 1e4)), min_size=6, max_size=40).filter(
    lambda v: np.ptp(v) > 0
)


@settings(max_examples=60, deadline=None)
@given(samples, st.integers(0, 8))
def test_treatment_properties(values: list[float], max_points: int) -> None:
    x = np.asarray(values)
    result = treat(_frame(x=x), max_points=max_points)
    treated = result.values["x"].to_numpy()
    row = result.log.iloc[0]
    # values stay within the original range and keep their order
    assert treated.min() >= x.min() and treated.max() <= x.max()
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(treated[order]) >= 0)
    # the step limit holds and the log is consistent with the data
    assert row["steps"] <= max_points
    assert row["points"] == int((treated != x).sum()) == int(result.changed["x"].sum())
    if row["status"] in ("ok", "winsorised"):
        assert not is_outlying(treated)
    if row["status"] == "limit reached":
        assert row["steps"] == max_points and is_outlying(treated)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1.0, 1e200, 1e300])
def test_skewness_and_kurtosis_do_not_depend_on_the_size_of_the_values(scale):
    """No power of tiny or huge values under- or overflows (a warning would be an error here)."""
    values = np.array([1.0, 2.0, 3.0, 10.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert skewness(values * scale) == pytest.approx(skewness(values), rel=1e-12)
        assert kurtosis(values * scale) == pytest.approx(kurtosis(values), rel=1e-12)
        assert np.isnan(skewness(np.full(5, 0.1) * scale)) and np.isnan(kurtosis(np.full(5, 0.1) * scale))
