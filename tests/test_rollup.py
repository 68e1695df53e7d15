import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.rollup import ROLLUP_COLUMNS, roll_up


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


# ----------------------------------------------------------------------------- against a plain groupby
def _reference_roll_up(observations: pd.DataFrame, kinds: dict[str, str], period: str) -> pd.DataFrame:
    """The roll-up written as two named ``groupby`` aggregations over the text keys (slow, plain)."""
    from perfmodel.periods import months_in

    months = [str(m) for m in months_in(period)]
    n_months = len(months)
    obs = observations[observations["period"].isin(months)]
    monthly = (
        obs.assign(_no_num=obs["numerator"].isna(), _no_den=obs["denominator"].isna())
        .groupby(["unit_id", "indicator", "period"], sort=True)
        .agg(
            value=("value", "mean"),
            numerator=("numerator", "sum"),
            denominator=("denominator", "sum"),
            no_num=("_no_num", "any"),
            no_den=("_no_den", "any"),
        )
        .reset_index()
    )
    monthly.loc[monthly["no_num"], "numerator"] = np.nan
    monthly.loc[monthly["no_den"], "denominator"] = np.nan
    monthly["kind"] = monthly["indicator"].map(kinds).fillna("score")
    monthly["_num"] = monthly["numerator"].fillna(0.0)
    monthly["_den"] = monthly["denominator"].fillna(0.0)
    monthly["_w"] = monthly["value"] * monthly["_den"]
    monthly["_volume"] = monthly["numerator"].notna() & monthly["denominator"].notna()
    monthly["_cases"] = monthly["denominator"].notna()
    out = (
        monthly.groupby(["unit_id", "indicator"], sort=True)
        .agg(
            kind=("kind", "first"),
            mean=("value", "mean"),
            total=("value", "sum"),
            num=("_num", "sum"),
            den=("_den", "sum"),
            w=("_w", "sum"),
            volume=("_volume", "all"),
            cases=("_cases", "all"),
            months_present=("period", "nunique"),
        )
        .reset_index()
    )
    rows = []
    for r in out.itertuples():
        by_volume = r.kind == "rate" and r.volume and r.den > 0
        weighted = r.kind == "duration" and r.cases and r.den > 0
        if by_volume:
            value, method = r.num / r.den, "sum_numerator_over_sum_denominator"
        elif r.kind == "count":
            value = r.total * (n_months / r.months_present)
            method = "sum_prorated" if r.months_present < n_months else "sum"
        elif r.kind == "event":
            value, method = r.total, "sum"
        elif weighted:
            value, method = r.w / r.den, "case_weighted_mean"
        else:
            value, method = r.mean, "mean_of_monthly_rates" if r.kind == "rate" else "mean"
        rows.append(
            (
                r.unit_id,
                r.indicator,
                value,
                r.num if r.volume else np.nan,
                r.den if r.volume or weighted else np.nan,
                r.months_present,
                n_months,
                method,
            )
        )
    return pd.DataFrame(rows, columns=ROLLUP_COLUMNS)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_roll_up_equals_the_plain_groupby_bit_for_bit(data):
    """Any order of rows, raters, missing values and kinds: the values of two text-keyed groupbys, exactly."""
    n = data.draw(st.integers(1, 60))
    finite = st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.1, 0.2, 0.3, 1e-9, 1e9])
    maybe = st.one_of(st.just(np.nan), finite)
    rows = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["2025-03", "2025-04", "2025-05", "2025-06"]),
                st.sampled_from(["B", "A", "C10", "C2"]),
                st.sampled_from(["r", "c", "e", "d", "s", "x"]),
                maybe,
                maybe,
                st.one_of(st.just(np.nan), st.floats(0, 1e4, allow_nan=False)),
            ),
            min_size=n,
            max_size=n,
        )
    )
    obs = _obs(rows)
    kinds = {"r": "rate", "c": "count", "e": "event", "d": "duration", "s": "score"}
    period = data.draw(st.sampled_from(["2025Q2", "2025-04", "2025"]))
    got = roll_up(obs, kinds, period)
    expected = _reference_roll_up(obs, kinds, period)
    if expected.empty:
        assert got.empty
        return
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)
