"""Rater calibration: planted leniency recovered, fixed-effects algebra by hand, biases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.calibrate.raters import (
    RaterModel,
    calibrate_ratings,
    central_tendency,
    halo,
    rated_indicators,
    self_enhancement,
)
from perfmodel.framework import framework_from_dict


def crossed_ratings(seed: int, n_ratees: int = 50, n_raters: int = 12, per_ratee: int = 3, months: int = 2):
    """Ratings with planted ratee performance and rater leniency (sd 4 points)."""
    rng = np.random.default_rng(seed)
    ratee = rng.normal(0, 6, n_ratees)
    leniency = rng.normal(0, 4, n_raters)
    rows = []
    for m in range(months):
        for i in range(n_ratees):
            for j in rng.choice(n_raters, per_ratee, replace=False):
                rows.append(
                    (f"2025-0{m + 4}", f"U{i:02d}", f"R{j:02d}", 75 + ratee[i] + leniency[j] + rng.normal(0, 3))
                )
    data = pd.DataFrame(rows, columns=["period", "unit_id", "rater_id", "value"])
    return (
        data,
        pd.Series(ratee, index=[f"U{i:02d}" for i in range(n_ratees)]),
        pd.Series(leniency, index=[f"R{j:02d}" for j in range(n_raters)]),
    )


@pytest.mark.parametrize("method", ["mixedlm", "fixed"])
def test_planted_rater_effects_are_recovered(method):
    data, ratee, leniency = crossed_ratings(5)
    model = RaterModel(method).fit(data)
    effects = model.effects_.set_index("rater_id")["effect"]
    assert np.corrcoef(effects, leniency[effects.index])[0, 1] > 0.9
    assert model.n_components_ == 1
    # calibrated unit means track the ratees better than raw means
    done = model.transform(data)
    raw = done.groupby("unit_id")["value"].mean()
    cal = done.groupby("unit_id")["calibrated"].mean()
    assert np.corrcoef(cal, ratee[cal.index])[0, 1] > np.corrcoef(raw, ratee[raw.index])[0, 1]
    assert (model.effects_["ci_low"] <= model.effects_["effect"]).all()


def test_mixedlm_variance_components_are_plausible():
    data, _, _ = crossed_ratings(6, n_ratees=60, n_raters=15)
    model = RaterModel("mixedlm").fit(data)
    assert model.converged_
    assert 6.0 < model.variance_["rater"] < 35.0  # planted 16
    assert 4.0 < model.variance_["residual"] < 16.0  # planted 9
    assert 18.0 < model.variance_["ratee"] < 60.0  # planted 36


def test_fixed_effects_balanced_design_by_hand():
    # complete 3 x 2 design: OLS rater effects are rater means minus the grand mean
    data = pd.DataFrame(
        {
            "unit_id": ["A", "A", "B", "B", "C", "C"],
            "rater_id": ["r1", "r2"] * 3,
            "value": [70.0, 80.0, 60.0, 64.0, 90.0, 96.0],
        }
    )
    model = RaterModel("fixed").fit(data)
    effects = model.effects_.set_index("rater_id")["effect"]
    grand = data["value"].mean()
    assert effects["r1"] == pytest.approx(data[data.rater_id == "r1"].value.mean() - grand)
    assert effects["r2"] == pytest.approx(data[data.rater_id == "r2"].value.mean() - grand)
    ratee = model.ratee_effects_.set_index("ratee")["effect"]
    # fitted values reproduce the data up to the residual: A's mean is its effect
    assert ratee["A"] == pytest.approx(75.0)


def test_disconnected_districts_are_centred_separately():
    a, _, _ = crossed_ratings(1, n_ratees=10, n_raters=4, per_ratee=2, months=1)
    b, _, _ = crossed_ratings(2, n_ratees=10, n_raters=4, per_ratee=2, months=1)
    b = b.assign(unit_id="V" + b["unit_id"], rater_id="Q" + b["rater_id"], value=b["value"] + 20)
    model = RaterModel("fixed").fit(pd.concat([a, b], ignore_index=True))
    assert model.n_components_ == 2
    means = model.effects_.groupby("component")["effect"].mean()
    assert means.abs().max() == pytest.approx(0.0, abs=1e-9)


def test_unknown_raters_get_no_correction_and_errors_are_clear():
    data, _, _ = crossed_ratings(3, n_ratees=20, n_raters=6)
    model = RaterModel("fixed").fit(data)
    new = pd.DataFrame({"unit_id": ["U01"], "rater_id": ["NEW"], "value": [70.0]})
    out = model.transform(new)
    assert not out["rater_known"].iloc[0] and out["calibrated"].iloc[0] == 70.0
    with pytest.raises(ValueError, match="at least 2 raters"):
        RaterModel().fit(data[data["rater_id"] == "R00"])
    with pytest.raises(ValueError, match="'judge'"):
        RaterModel(rater="judge").fit(data)
    with pytest.raises(ValueError, match="not fitted"):
        RaterModel().transform(data)


FRAMEWORK = framework_from_dict(
    {
        "id": "raters_fw",
        "name": {"zh": "评", "en": "Rated"},
        "level": "officer",
        "tree": [
            {
                "id": "d",
                "name": {"zh": "维", "en": "D"},
                "weight": 1.0,
                "children": [
                    {"id": "cases", "name": {"zh": "案", "en": "Cases"}, "weight": 0.7, "kind": "count"},
                    {
                        "id": "leader",
                        "name": {"zh": "上级", "en": "Leader"},
                        "weight": 0.2,
                        "kind": "score",
                        "source": "supervisor",
                    },
                    {
                        "id": "own",
                        "name": {"zh": "自评", "en": "Self"},
                        "weight": 0.1,
                        "kind": "score",
                        "source": "self",
                    },
                ],
            }
        ],
    },
    source="test",
)


def test_calibrate_ratings_rolls_up_like_the_evaluation():
    data = pd.DataFrame(
        {
            "period": ["2025-04"] * 3 + ["2025-05"],
            "unit_id": ["A", "A", "B", "A"],
            "indicator": "leader",
            "rater_id": ["r1", "r2", "r1", "r1"],
            "value": [80.0, 70.0, 60.0, 82.0],
        }
    )
    effects, shift, calibrated, models = calibrate_ratings(data, ["leader"], "fixed")
    e = effects.set_index("rater_id")["effect"]
    # A: April raters r1, r2 averaged, May r1 only -> mean over months
    expected_a = ((e["r1"] + e["r2"]) / 2 + e["r1"]) / 2
    assert shift.set_index("unit_id").loc["A", "rater_effect"] == pytest.approx(expected_a)
    assert set(calibrated.columns) >= {"rater_effect", "calibrated"}
    assert list(models) == ["leader"]


def test_rated_indicators_skip_self_ratings():
    data = pd.DataFrame(
        {
            "unit_id": ["A", "B", "A", "B"],
            "indicator": ["leader", "leader", "own", "own"],
            "rater_id": ["r1", "r2", "A", "B"],
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    assert rated_indicators(FRAMEWORK, data) == ["leader"]


def test_self_enhancement_by_hand():
    data = pd.DataFrame(
        {
            "unit_id": ["A", "A", "A", "B", "B", "C"],
            "indicator": ["own", "leader", "leader", "own", "leader", "leader"],
            "rater_id": ["A", "r1", "r2", "B", "r1", "r2"],
            "value": [90.0, 70.0, 80.0, 70.0, 72.0, 60.0],
        }
    )
    out = self_enhancement(data, FRAMEWORK).set_index("unit_id")
    assert list(out.index) == ["A", "B"]
    assert out.loc["A", "difference"] == pytest.approx(90 - 75)
    assert out.loc["B", "difference"] == pytest.approx(70 - 72)
    sd = np.std([75.0, 72.0], ddof=1)
    assert out.loc["A", "z"] == pytest.approx(15 / sd)


def test_central_tendency_and_halo_by_hand():
    data = pd.DataFrame(
        {
            "unit_id": list("ABCDABCD"),
            "period": "2025-04",
            "indicator": ["x"] * 4 + ["y"] * 4,
            "rater_id": ["flat"] * 4 + ["flat"] * 4,
            "value": [70.0, 70.0, 70.0, 70.0, 60.0, 62.0, 64.0, 66.0],
        }
    )
    extra = pd.DataFrame(
        {
            "unit_id": list("ABCDABCD"),
            "period": "2025-04",
            "indicator": ["x"] * 4 + ["y"] * 4,
            "rater_id": "wide",
            "value": [50.0, 60.0, 80.0, 90.0, 51.0, 61.0, 79.0, 92.0],
        }
    )
    both = pd.concat([data, extra], ignore_index=True)
    ct = central_tendency(both).set_index(["indicator", "rater_id"])
    assert ct.loc[("x", "flat"), "sd_ratio"] == 0.0
    pooled = both[both.indicator == "x"]["value"].std(ddof=1)
    assert ct.loc[("x", "wide"), "sd_ratio"] == pytest.approx(extra.value[:4].std(ddof=1) / pooled)
    h = halo(both).set_index("rater_id")
    assert "flat" not in h.index  # a constant indicator has no correlation
    assert h.loc["wide", "mean_correlation"] == pytest.approx(np.corrcoef(extra.value[:4], extra.value[4:])[0, 1])


def test_fixed_variance_components_are_corrected_for_noise():
    data, _, _ = crossed_ratings(8, n_ratees=60, n_raters=15)
    fixed = RaterModel("fixed").fit(data).variance_
    mixed = RaterModel("mixedlm").fit(data).variance_
    for part in ("rater", "ratee", "residual"):
        assert fixed[part] == pytest.approx(mixed[part], rel=0.35), part
