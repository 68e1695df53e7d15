"""Inter-rater reliability: ICCs against Shrout & Fleiss (1979), Krippendorff's alpha
against Krippendorff (2011) and hand computation, CI coverage, invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.calibrate.reliability import (
    icc,
    icc_from_components,
    krippendorff_alpha,
    ratings_matrix,
)

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges
SF = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers x 12 units,
# here units in rows and observers in columns
NAN = np.nan
KA = np.array(
    [
        [1, 1, NAN, 1],
        [2, 2, 3, 2],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [2, 2, 2, 2],
        [1, 2, 3, 4],
        [4, 4, 4, 4],
        [1, 1, 2, 1],
        [2, 2, 2, 2],
        [NAN, 5, 5, 5],
        [NAN, NAN, 1, 1],
        [NAN, 3, NAN, NAN],
    ]
)


def test_shrout_fleiss_published_values():
    table = icc(SF).set_index("form")
    expected = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}
    for form, value in expected.items():
        assert table.loc[form, "icc"] == pytest.approx(value, abs=0.005), form
    assert (table["n_targets"] == 6).all() and (table["n_raters"] == 4).all()


def test_shrout_fleiss_mean_squares_by_hand():
    # S&F Table 2 ANOVA: BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02 -> F = BMS/WMS and BMS/EMS
    table = icc(SF).set_index("form")
    assert table.loc["ICC1", "F"] == pytest.approx(11.2417 / 6.2639, rel=1e-3)
    assert table.loc["ICC3", "F"] == pytest.approx(11.2417 / 1.0194, rel=1e-3)
    assert (table.loc["ICC1", "df1"], table.loc["ICC1", "df2"]) == (5, 18)
    assert (table.loc["ICC3", "df1"], table.loc["ICC3", "df2"]) == (5, 15)
    # ICC(1,1) from those mean squares
    bms, wms = 11.2417, 6.2639
    assert table.loc["ICC1", "icc"] == pytest.approx((bms - wms) / (bms + 3 * wms), abs=1e-3)


def test_intervals_contain_the_estimate():
    table = icc(SF)
    assert (table["ci_low"] <= table["icc"] + 1e-12).all()
    assert (table["icc"] <= table["ci_high"] + 1e-12).all()
    assert (table["ci_high"] <= 1).all()


@pytest.mark.parametrize("form", ["ICC1", "ICC2", "ICC3"])
def test_interval_coverage_by_simulation(form):
    rng = np.random.default_rng(11)
    n, k, reps = 20, 3, 300
    sd_target, sd_rater, sd_error = 1.0, 0.5 if form == "ICC2" else 0.0, 1.0
    truth = {
        "ICC1": sd_target**2 / (sd_target**2 + sd_error**2),
        "ICC2": sd_target**2 / (sd_target**2 + sd_rater**2 + sd_error**2),
        "ICC3": sd_target**2 / (sd_target**2 + sd_error**2),
    }[form]
    covered = 0
    for _ in range(reps):
        x = rng.normal(0, sd_target, (n, 1)) + rng.normal(0, sd_rater, (1, k)) + rng.normal(0, sd_error, (n, k))
        row = icc(x).set_index("form").loc[form]
        covered += row["ci_low"] <= truth <= row["ci_high"]
    assert 0.90 <= covered / reps <= 0.99


def test_missing_targets_are_omitted_or_refused():
    x = np.vstack([SF, [5, np.nan, 4, 4]])
    assert icc(x)["icc"].tolist() == pytest.approx(icc(SF)["icc"].tolist())
    assert (icc(x)["n_targets"] == 6).all()
    with pytest.raises(ValueError, match="lack a rating"):
        icc(x, missing="raise")
    with pytest.raises(ValueError, match="at least 2 targets"):
        icc([[1.0, 2.0]])


def test_identical_raters_give_perfect_consistency():
    x = np.repeat(np.array([[1.0], [4.0], [2.0], [7.0]]), 3, axis=1)
    table = icc(x).set_index("form")
    assert table.loc["ICC3", "icc"] == pytest.approx(1.0)
    assert table.loc["ICC1", "icc"] == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(shift=st.floats(-50, 50), scale=st.floats(0.1, 20))
def test_icc_and_alpha_are_invariant_to_affine_rescaling(shift, scale):
    base = icc(SF)["icc"].to_numpy()
    moved = icc(SF * scale + shift)["icc"].to_numpy()
    assert moved == pytest.approx(base, abs=1e-9)
    assert krippendorff_alpha(KA * scale + shift) == pytest.approx(krippendorff_alpha(KA), abs=1e-9)


def test_krippendorff_published_values():
    assert krippendorff_alpha(KA, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(KA, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(KA, "ratio") == pytest.approx(0.797, abs=5e-4)


def test_krippendorff_interval_by_hand():
    # units (1, 2), (3, 3), (5, 4): D_o = (2 + 0 + 2) / 6, D_e = 2 * 6 * 10 / (6 * 5) = 4
    x = [[1, 2], [3, 3], [5, 4]]
    assert krippendorff_alpha(x) == pytest.approx(1 - (4 / 6) / 4)
    # a unit with a single rating is not pairable and changes nothing
    assert krippendorff_alpha([*x, [9, np.nan]]) == pytest.approx(1 - (4 / 6) / 4)
    assert krippendorff_alpha([[2, 2], [5, 5]]) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha([[1, np.nan], [2, np.nan]]))
    with pytest.raises(ValueError, match="metric"):
        krippendorff_alpha(x, "ordinal-ish")


def test_icc_from_components_by_hand():
    out = icc_from_components(4.0, 1.0, 5.0, k=2)
    assert out["agreement"] == pytest.approx(0.4)
    assert out["consistency"] == pytest.approx(4 / 9)
    assert out["agreement_k"] == pytest.approx(4 / 7)
    assert out["consistency_k"] == pytest.approx(4 / 6.5)
    with pytest.raises(ValueError, match="var_rater"):
        icc_from_components(1.0, -1.0, 1.0)


def test_ratings_matrix_pivots_and_averages_repeats():
    long = pd.DataFrame(
        {
            "unit_id": ["A", "A", "A", "B", "B"],
            "period": ["m1"] * 5,
            "rater_id": ["r1", "r2", "r1", "r1", "r2"],
            "value": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    wide = ratings_matrix(long, target=["unit_id", "period"])
    assert wide.loc[("A", "m1"), "r1"] == 2.0 and wide.loc[("B", "m1"), "r2"] == 5.0
    with pytest.raises(ValueError, match="rater"):
        ratings_matrix(long, rater="judge")


def test_against_pingouin_when_installed():
    pg = pytest.importorskip("pingouin")
    long = pd.DataFrame([(i, j, SF[i, j]) for i in range(6) for j in range(4)], columns=["target", "rater", "y"])
    theirs = pg.intraclass_corr(long, targets="target", raters="rater", ratings="y").set_index("Type")
    ours = icc(SF).set_index("form")
    # pingouin >= 0.7 names the forms after McGraw & Wong and the interval column "CI95"
    names = {
        "ICC1": "ICC(1,1)",
        "ICC2": "ICC(A,1)",
        "ICC3": "ICC(C,1)",
        "ICC1k": "ICC(1,k)",
        "ICC2k": "ICC(A,k)",
        "ICC3k": "ICC(C,k)",
    }
    ci = "CI95" if "CI95" in theirs.columns else "CI95%"
    for form in ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"):
        their_form = form if form in theirs.index else names[form]
        assert ours.loc[form, "icc"] == pytest.approx(theirs.loc[their_form, "ICC"], abs=1e-9)
        low, high = theirs.loc[their_form, ci]
        assert ours.loc[form, "ci_low"] == pytest.approx(low, abs=0.01)
        assert ours.loc[form, "ci_high"] == pytest.approx(high, abs=0.01)


def test_against_krippendorff_package_when_installed():
    kd = pytest.importorskip("krippendorff")
    for metric in ("nominal", "interval", "ratio"):
        theirs = kd.alpha(reliability_data=KA.T, level_of_measurement=metric)
        assert krippendorff_alpha(KA, metric) == pytest.approx(theirs, abs=1e-9)
