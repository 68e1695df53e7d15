"""Data preparation before normalisation: denomination and imputation.

Both steps may leave cells missing (a zero denominator, nothing to impute
from); the tests check those cells stay ``NaN``, are never ``inf`` or 0, and
are reported with the reason.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from perfmodel.denominate import (
    DenominatorWarning,
    denominate,
    denominator_problems,
    framework_denominators,
)
from perfmodel.framework import framework_from_dict
from perfmodel.impute import impute

NAN = np.nan


# ======================================================================= denominate
@pytest.fixture
def units() -> pd.DataFrame:
    return pd.DataFrame(
        {"residents": [60000.0, 20000.0, 0.0, NAN], "officers": [30.0, 10.0, 8.0, 5.0]},
        index=["S1", "S2", "S3", "S4"],
    )


@pytest.fixture
def counts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "thefts": [30.0, 12.0, 5.0, 7.0],
            "cases": [90.0, 40.0, 24.0, NAN],
            "rate": [0.9, 0.8, 0.7, 0.6],
        },
        index=["S1", "S2", "S3", "S4"],
    )


def test_denominate_by_hand(counts, units) -> None:
    with pytest.warns(DenominatorWarning):
        out = denominate(counts, {"thefts": "residents", "cases": "officers"}, units, per={"thefts": 10000})
    # thefts per 10,000 residents: 30/6 = 5, 12/2 = 6; cases per officer: 3, 4, 3
    assert out.loc[["S1", "S2"], "thefts"].tolist() == [5.0, 6.0]
    assert out["cases"].iloc[:3].tolist() == [3.0, 4.0, 3.0]
    pd.testing.assert_series_equal(out["rate"], counts["rate"])  # no denominator: unchanged


def test_zero_or_missing_denominator_gives_nan_never_inf(counts, units) -> None:
    with pytest.warns(DenominatorWarning, match=r"2 cell\(s\).*S3 × thefts \(denominator is zero\)"):
        out = denominate(counts, {"thefts": "residents"}, units)
    assert np.isnan(out.loc["S3", "thefts"]) and np.isnan(out.loc["S4", "thefts"])
    assert np.isfinite(out.to_numpy()[~np.isnan(out.to_numpy())]).all()


def test_denominator_problems_lists_cells_with_reasons(counts, units) -> None:
    counts = pd.concat([counts, pd.DataFrame({"thefts": [3.0], "cases": [NAN]}, index=["S9"])])
    problems = denominator_problems(counts, {"thefts": "residents", "cases": "residents"}, units)
    listed = {(r.unit, r.indicator): r.reason for r in problems.itertuples()}
    assert listed == {
        ("S3", "thefts"): "denominator is zero",
        ("S4", "thefts"): "denominator missing",
        ("S9", "thefts"): "unit not in units table",
        ("S3", "cases"): "denominator is zero",
        # S4 and S9 cases: the numerator itself is missing, so nothing is lost
    }


def test_no_warning_when_every_denominator_is_usable(counts, units) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        denominate(counts, {"cases": "officers"}, units)
    assert denominator_problems(counts, {"cases": "officers"}, units).empty


@pytest.mark.parametrize(
    ("denominators", "per", "error", "message"),
    [
        ({"thefts": "households"}, None, KeyError, "households"),
        ({"burglary": "residents"}, None, KeyError, "burglary"),
        ({"thefts": "residents"}, {"rate": 100}, ValueError, "rate"),
        ({"thefts": "residents"}, {"thefts": 0}, ValueError, "positive"),
    ],
)
def test_denominate_errors_name_the_problem(counts, units, denominators, per, error, message) -> None:
    with pytest.raises(error, match=message):
        denominate(counts, denominators, units, per=per)


def test_non_numeric_denominator_column(counts, units) -> None:
    units = units.assign(residents=["60k", "20k", "0", "?"])
    with pytest.raises(TypeError, match="residents"):
        denominate(counts, {"thefts": "residents"}, units)


def test_framework_denominators() -> None:
    indicator = {"name": {"zh": "指标", "en": "indicator"}, "kind": "rate"}
    fw = framework_from_dict(
        {
            "id": "t",
            "name": {"zh": "测试", "en": "test"},
            "level": "station",
            "tree": [
                {
                    "id": "d",
                    "name": {"zh": "维度", "en": "dimension"},
                    "weight": 1,
                    "children": [
                        {
                            **indicator,
                            "id": "thefts",
                            "weight": 0.5,
                            "denominator": "residents",
                            "per": 10000,
                        },
                        {**indicator, "name": {"zh": "比率", "en": "rate"}, "id": "rate", "weight": 0.5},
                    ],
                }
            ],
        }
    )
    assert framework_denominators(fw) == ({"thefts": "residents"}, {"thefts": 10000.0})


# ======================================================================= impute
@pytest.fixture
def X() -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [1.0, 3.0, NAN, 10.0, NAN, NAN], "b": [NAN, 4.0, 6.0, NAN, 5.0, 7.0]},
        index=["p", "q", "r", "s", "t", "u"],
    )


@pytest.fixture
def groups() -> pd.Series:
    # t has no group; u is alone in group C
    return pd.Series(["A", "A", "A", "B", None, "C"], index=["p", "q", "r", "s", "t", "u"])


def test_group_mean_by_hand(X, groups) -> None:
    result = impute(X, "group_mean", groups=groups)
    v = result.values
    assert v.loc["r", "a"] == 2.0  # mean of 1 and 3 (group A)
    assert v.loc["p", "b"] == 5.0  # mean of 4 and 6 (group A)
    assert np.isnan(v.loc["s", "b"])  # group B has no observed b
    assert np.isnan(v.loc["t", "a"])  # t has no group
    assert np.isnan(v.loc["u", "a"])  # group C has no observed a
    assert result.imputed.sum().sum() == 2
    assert result.method_used.loc["r", "a"] == "group_mean"
    assert result.method_used.loc["q", "a"] == "observed"
    assert result.method_used.loc["s", "b"] == "missing"


def test_group_mean_report_gives_reasons(X, groups) -> None:
    log = impute(X, "group_mean", groups=groups).log.set_index(["unit", "indicator"])
    assert len(log) == int(X.isna().sum().sum())
    assert log.loc[("r", "a"), "detail"] == "mean of 2 observed unit(s) in group 'A'"
    assert log.loc[("s", "b"), "detail"] == "no observed value in group 'B'"
    assert log.loc[("t", "a"), "detail"] == "unit has no group"
    assert set(log["status"]) == {"imputed", "unresolved"}


def test_group_mean_uses_observed_values_only(X) -> None:
    # with one group, a's mean is (1 + 3 + 10) / 3, not counting the missing cells as 0
    result = impute(X, "group_mean", groups=pd.Series("all", index=X.index))
    assert result.values.loc["r", "a"] == pytest.approx(14 / 3)
    assert result.unresolved.empty


def test_carry_forward_respects_max_age(X) -> None:
    previous = pd.DataFrame({"a": [2.5, 100.0, NAN]}, index=["r", "q", "s"]).assign(b=[NAN, NAN, NAN])
    two_back = pd.DataFrame({"a": [7.0, NAN], "b": [NAN, 11.0]}, index=["t", "s"])
    history = [previous, two_back]

    one = impute(X, "carry_forward", history=history, max_age=1)
    assert one.values.loc["r", "a"] == 2.5
    assert one.values.loc["q", "a"] == 3.0  # observed values are never replaced
    assert np.isnan(one.values.loc["t", "a"]) and np.isnan(one.values.loc["s", "b"])
    assert one.imputed.sum().sum() == 1

    two = impute(X, "carry_forward", history=history, max_age=2)
    assert (two.values.loc["r", "a"], two.values.loc["t", "a"], two.values.loc["s", "b"]) == (
        2.5,
        7.0,
        11.0,
    )
    log = two.log.set_index(["unit", "indicator"])["detail"]
    assert log[("r", "a")] == "value from 1 period(s) earlier"
    assert log[("t", "a")] == "value from 2 period(s) earlier"
    assert two.method_used.loc["t", "a"] == "carry_forward"
    assert np.isnan(two.values.loc["u", "a"])  # u never appears in the history


def test_carry_forward_prefers_the_most_recent_period(X) -> None:
    history = [
        pd.DataFrame({"a": [5.0]}, index=["r"]),
        pd.DataFrame({"a": [99.0]}, index=["r"]),
    ]
    result = impute(X, "carry_forward", history=history, max_age=3)
    assert result.values.loc["r", "a"] == 5.0
    unresolved = result.unresolved.set_index(["unit", "indicator"])
    assert unresolved.loc[("t", "a"), "detail"] == ("no value in the 2 earlier period(s) searched (max_age=3)")


def test_carry_forward_without_history_reports_every_cell(X) -> None:
    result = impute(X, "carry_forward")
    assert result.values.equals(X)
    assert set(result.unresolved["detail"]) == {"no earlier periods given"}


def test_none_imputes_nothing_and_reports_everything(X) -> None:
    result = impute(X, "none")
    pd.testing.assert_frame_equal(result.values, X)
    assert not result.imputed.to_numpy().any()
    assert len(result.unresolved) == int(X.isna().sum().sum())
    assert (result.method_used == "missing").sum().sum() == int(X.isna().sum().sum())


def test_never_fills_with_zero(X, groups) -> None:
    for result in (
        impute(X, "none"),
        impute(X, "group_mean", groups=groups),
        impute(X, "carry_forward", history=[X * 0 + NAN]),
    ):
        assert not (result.values == 0).to_numpy().any()


def test_observed_values_are_untouched(X, groups) -> None:
    result = impute(X, "group_mean", groups=groups)
    observed = X.notna()
    pd.testing.assert_frame_equal(result.values[observed], X[observed])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "median"}, "unknown imputation"),
        ({"method": "group_mean"}, "needs groups"),
        ({"method": "carry_forward", "max_age": 0}, "max_age"),
    ],
)
def test_impute_errors(X, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        impute(X, **kwargs)


def test_duplicate_units_are_rejected(X) -> None:
    with pytest.raises(ValueError, match="unique"):
        impute(pd.concat([X, X.iloc[:1]]), "none")
