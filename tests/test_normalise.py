"""Normalisers and orientation, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.normalise import (
    DistanceToTarget,
    Goalposts,
    MinMax,
    RankScore,
    ZScore,
    normalise,
    orient,
    orient_bounds,
)

NAN = np.nan


def col(values: list[float], name: str = "x", index: list[str] | None = None) -> pd.DataFrame:
    return pd.DataFrame({name: values}, index=index, dtype=float)


def as_list(frame: pd.DataFrame, name: str = "x") -> list[float]:
    return frame[name].round(10).tolist()


# ---------------------------------------------------------------- orientation
def test_orient_higher_lower_target() -> None:
    X = pd.DataFrame({"rate": [0.9, 0.8], "days": [2.0, 5.0], "t": [9.0, 11.5]})
    out = orient(X, {"rate": "higher", "days": "lower", "t": "target"}, {"t": 10.0})
    assert out.to_dict("list") == {"rate": [0.9, 0.8], "days": [-2.0, -5.0], "t": [-1.0, -1.5]}


def test_orient_defaults_to_higher_and_rejects_bad_directions() -> None:
    X = pd.DataFrame({"a": [1, 2]})
    assert orient(X).equals(X.astype(float))
    with pytest.raises(ValueError, match="unknown direction"):
        orient(X, {"a": "sideways"})
    with pytest.raises(ValueError, match="no target"):
        orient(X, {"a": "target"})


@pytest.mark.parametrize(
    ("low", "high", "direction", "target", "expected"),
    [
        (0.6, 1.0, "higher", None, (0.6, 1.0)),
        (2.0, 8.0, "lower", None, (-8.0, -2.0)),
        (0.0, 10.0, "target", 4.0, (-6.0, 0.0)),  # 10 is 6 away from the target
        (0.0, 10.0, "target", 7.0, (-7.0, 0.0)),  # 0 is 7 away
    ],
)
def test_orient_bounds(low, high, direction, target, expected) -> None:
    assert orient_bounds(low, high, direction, target) == expected


def test_orient_bounds_errors() -> None:
    with pytest.raises(ValueError, match="needs a target"):
        orient_bounds(0.0, 1.0, "target")
    with pytest.raises(ValueError, match="unknown direction"):
        orient_bounds(0.0, 1.0, "sideways")


# ---------------------------------------------------------------- normalisers
def test_minmax_by_hand() -> None:
    assert as_list(MinMax().fit_transform(col([1.0, 2.0, 5.0]))) == [0.0, 25.0, 100.0]
    out = MinMax(1.0, 10.0).fit_transform(col([2.0, 4.0, 8.0]))
    assert as_list(out) == [1.0, 4.0, 10.0]  # (x-2)/6 on [1, 10]


def test_minmax_keeps_missing_and_centres_constant_columns() -> None:
    out = MinMax().fit_transform(pd.DataFrame({"x": [1.0, NAN, 5.0], "flat": [3.0, 3.0, NAN]}))
    assert out["x"].iloc[[0, 2]].tolist() == [0.0, 100.0] and np.isnan(out["x"].iloc[1])
    assert out["flat"].iloc[:2].tolist() == [50.0, 50.0] and np.isnan(out["flat"].iloc[2])


def test_zscore_by_hand() -> None:
    # mean 4, sample sd 2: z = -1, 0, 1 → 40, 50, 60
    assert as_list(ZScore().fit_transform(col([2.0, 4.0, 6.0]))) == [40.0, 50.0, 60.0]
    assert as_list(ZScore(loc=0, scale=1).fit_transform(col([2.0, 4.0, 6.0]))) == [-1.0, 0.0, 1.0]
    assert as_list(ZScore().fit_transform(col([7.0, 7.0]))) == [50.0, 50.0]


def test_rank_with_ties_by_hand() -> None:
    # ranks 1, 2.5, 2.5, 4 → (r-1)/3 → 0, 0.5, 0.5, 1
    assert as_list(RankScore().fit_transform(col([10.0, 20.0, 20.0, 40.0]))) == [
        0.0,
        50.0,
        50.0,
        100.0,
    ]
    out = RankScore().fit_transform(col([5.0, NAN, 1.0]))
    assert out["x"].iloc[[0, 2]].tolist() == [100.0, 0.0] and np.isnan(out["x"].iloc[1])
    assert as_list(RankScore().fit_transform(col([3.0]))) == [50.0]


def test_goalposts_clip_outside_the_bounds() -> None:
    out = Goalposts({"x": (0.0, 10.0)}).fit_transform(col([-5.0, 0.0, 2.5, 10.0, 15.0]))
    assert as_list(out) == [0.0, 0.0, 25.0, 100.0, 100.0]


def test_goalposts_lower_direction() -> None:
    # natural bounds [2, 8] days, fewer is better → oriented (-8, -2)
    days = col([1.0, 2.0, 5.0, 8.0, 9.0], "days")
    oriented = orient(days, {"days": "lower"})
    out = Goalposts({"days": orient_bounds(2.0, 8.0, "lower")}).fit_transform(oriented)
    assert as_list(out, "days") == [100.0, 100.0, 50.0, 0.0, 0.0]


def test_goalposts_target_direction() -> None:
    # target 4 within [0, 10]: distance 0 → 100, distance 6 → 0, distance 3 → 50
    x = col([4.0, 1.0, 10.0, 7.0, 0.0])
    oriented = orient(x, {"x": "target"}, {"x": 4.0})
    out = Goalposts({"x": orient_bounds(0.0, 10.0, "target", 4.0)}).fit_transform(oriented)
    assert as_list(out) == [100.0, 50.0, 0.0, 50.0, round(100 / 3, 10)]


def test_goalposts_need_best_above_worst() -> None:
    with pytest.raises(ValueError, match="best > worst"):
        Goalposts({"x": (5.0, 5.0)}).fit(col([1.0]))
    with pytest.raises(ValueError, match="no goalposts"):
        Goalposts({}).fit(col([1.0]))


def test_distance_to_target_by_hand() -> None:
    # min 2, target 8: (x-2)/6, capped at 1
    out = DistanceToTarget({"x": 8.0}).fit_transform(col([2.0, 4.0, 6.0, 10.0]))
    assert as_list(out) == [0.0, round(100 / 3, 10), round(200 / 3, 10), 100.0]
    # everybody already at or beyond the target
    assert as_list(DistanceToTarget({"x": 1.0}).fit_transform(col([2.0, 3.0]))) == [100.0, 100.0]
    with pytest.raises(ValueError, match="no target"):
        DistanceToTarget({}).fit(col([1.0]))


def test_distance_to_target_lower_indicator() -> None:
    # response minutes, lower is better, target 10 min → oriented target -10
    minutes = col([30.0, 20.0, 10.0, 5.0], "m")
    out = normalise(orient(minutes, {"m": "lower"}), "target", targets={"m": -10.0})
    assert as_list(out, "m") == [0.0, 50.0, 100.0, 100.0]


# ---------------------------------------------------------------- fit / transform
def test_goalposts_fitted_on_one_period_stay_fixed() -> None:
    q1 = col([0.70, 0.80, 0.90], index=["a", "b", "c"])
    q2 = col([0.80, 0.95, 0.99, 1.00], index=["a", "b", "c", "d"])
    gp = Goalposts({"x": (0.6, 1.0)}).fit(q1)
    # same raw value → same score in both quarters, whatever the other units did
    assert gp.transform(q1).loc["b", "x"] == pytest.approx(50.0)
    assert gp.transform(q2).loc["a", "x"] == pytest.approx(50.0)
    assert as_list(gp.transform(q2)) == [50.0, 87.5, 97.5, 100.0]


def test_minmax_fitted_on_one_period_uses_its_minimum_and_maximum() -> None:
    scaler = MinMax().fit(col([10.0, 20.0]))
    assert as_list(scaler.transform(col([15.0, 25.0, 5.0]))) == [50.0, 150.0, -50.0]
    assert scaler.data_min_["x"] == 10.0 and scaler.data_max_["x"] == 20.0


def test_transform_needs_fit_on_the_same_columns() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        MinMax().transform(col([1.0]))
    with pytest.raises(ValueError, match="not fitted on column"):
        MinMax().fit(col([1.0, 2.0])).transform(col([1.0], "y"))


# ---------------------------------------------------------------- normalise()
def test_within_group_normalisation_by_hand() -> None:
    X = pd.DataFrame({"a": [1.0, 3.0, 2.0, 10.0, 20.0, 7.0]}, index=list("pqrstu"))
    groups = pd.Series(["urban", "urban", "urban", "rural", "rural", None], index=X.index)
    out = normalise(X, "minmax", groups=groups)
    # urban: min 1, max 3; rural: min 10, max 20; u alone (no group): centre
    assert as_list(out, "a") == [0.0, 100.0, 50.0, 0.0, 100.0, 50.0]
    assert out.index.tolist() == list("pqrstu")
    overall = normalise(X, "minmax")
    assert overall.loc["s", "a"] == pytest.approx(100 * 9 / 19)


def test_within_group_accepts_categorical_and_numeric_groups() -> None:
    X = pd.DataFrame({"a": [1.0, 3.0, 10.0, 20.0]}, index=list("pqrs"))
    for groups in (
        pd.Series(["A", "A", "B", "B"], index=X.index, dtype="category"),
        pd.Series([1, 1, 2, 2], index=X.index),
    ):
        assert as_list(normalise(X, groups=groups), "a") == [0.0, 100.0, 0.0, 100.0]


def test_normalise_by_name_and_errors() -> None:
    X = col([1.0, 2.0, 3.0])
    assert as_list(normalise(X, "zscore")) == [40.0, 50.0, 60.0]
    assert as_list(normalise(X, "rank", lo=0, hi=1)) == [0.0, 0.5, 1.0]
    assert as_list(normalise(X, "goalposts", goalposts={"x": (0.0, 4.0)})) == [25.0, 50.0, 75.0]
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise(X, "softmax")
    with pytest.raises(ValueError, match="needs goalposts"):
        normalise(X, "goalposts")
    with pytest.raises(ValueError, match="needs a target"):
        normalise(X, "target")


# ---------------------------------------------------------------- properties
frames = st.integers(2, 12).flatmap(lambda n: st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n))


@settings(max_examples=50, deadline=None)
@given(frames, st.sampled_from(["minmax", "zscore", "rank"]), st.randoms(use_true_random=False))
def test_normalisers_are_monotone_and_order_free(values, method, rnd) -> None:
    X = col(values, index=[f"u{i}" for i in range(len(values))])
    out = normalise(X, method)["x"]
    order = np.argsort(X["x"].to_numpy(), kind="stable")
    assert np.all(np.diff(out.to_numpy()[order]) >= -1e-9)
    permuted = list(X.index)
    rnd.shuffle(permuted)
    pd.testing.assert_series_equal(normalise(X.loc[permuted], method)["x"].reindex(X.index), out)
