"""Golden reference: FunnelPlotR's medpar example (README of nhs-r-community/FunnelPlotR).

Published numbers reproduced here (../shared/golden/README.md):

* Poisson GLM ``los ~ hmo + died + age80 + factor(type)``: coefficients 2.26875,
  -0.07637, -0.24574, -0.02141, 0.24921, 0.74869; Pearson dispersion 6.2405;
* O/E per hospital, funnel with exact Poisson limits (chi-square form) at 99.8 %:
  25 of 54 hospitals outside;
* SHMI over-dispersion (log z-scores, 10 % truncation each end, DerSimonian–Laird
  tau^2, limits exp(+/- z sqrt(1/E + tau^2))): 9 hospitals outside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from perfmodel.calibrate import CaseMixModel, funnel_analysis

pytestmark = pytest.mark.golden

PUBLISHED_COEFFICIENTS = {
    "Intercept": 2.26875,
    "hmo": -0.07637,
    "died": -0.24574,
    "age80": -0.02141,
    "C(type)[T.2]": 0.24921,
    "C(type)[T.3]": 0.74869,
}


@pytest.fixture(scope="module")
def medpar(golden_dir: Path) -> pd.DataFrame:
    path = golden_dir / "medpar.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    data = pd.read_csv(path)
    one_hot = data[["type1", "type2", "type3"]].to_numpy()
    assert (one_hot.sum(axis=1) == 1).all(), "each stay has exactly one admission type"
    data["type"] = one_hot.argmax(axis=1) + 1
    return data


@pytest.fixture(scope="module")
def model(medpar: pd.DataFrame) -> CaseMixModel:
    return CaseMixModel("los ~ hmo + died + age80 + C(type)", "poisson", group="provnum").fit(medpar)


@pytest.fixture(scope="module")
def per_hospital(model: CaseMixModel, medpar: pd.DataFrame) -> pd.DataFrame:
    return model.expected(medpar)


def test_data_shape(medpar: pd.DataFrame) -> None:
    assert len(medpar) == 1495
    assert medpar["provnum"].nunique() == 54


def test_glm_coefficients_match_published(model: CaseMixModel) -> None:
    params = model.result_.params
    assert set(params.index) == set(PUBLISHED_COEFFICIENTS)
    for term, published in PUBLISHED_COEFFICIENTS.items():
        assert round(float(params[term]), 5) == pytest.approx(published, abs=1e-12), term


def test_glm_tidy_table_matches_result(model: CaseMixModel) -> None:
    tidy = model.to_frame().set_index("term")
    for term, published in PUBLISHED_COEFFICIENTS.items():
        assert tidy.loc[term, "estimate"] == pytest.approx(published, abs=5e-6)
    # published standard error of the intercept and z value of died
    assert tidy.loc["Intercept", "std_error"] == pytest.approx(0.01246, abs=5e-6)
    assert tidy.loc["died", "z"] == pytest.approx(-13.458, abs=5e-4)


def test_pearson_dispersion_matches_published(model: CaseMixModel) -> None:
    assert round(model.dispersion_, 4) == pytest.approx(6.2405, abs=1e-12)


def test_indirect_standardisation_per_hospital(
    model: CaseMixModel, medpar: pd.DataFrame, per_hospital: pd.DataFrame
) -> None:
    fitted = medpar.assign(prd=model.result_.fittedvalues.to_numpy())
    by_hand = fitted.groupby("provnum").agg(O=("los", "sum"), E=("prd", "sum"))
    got = per_hospital.set_index("provnum").loc[by_hand.index]
    np.testing.assert_allclose(got["observed"], by_hand["O"])
    np.testing.assert_allclose(got["expected"], by_hand["E"], rtol=1e-10)
    np.testing.assert_allclose(got["ratio"], by_hand["O"] / by_hand["E"], rtol=1e-10)
    # Poisson GLM with an intercept: totals of observed and expected agree
    assert per_hospital["observed"].sum() == pytest.approx(per_hospital["expected"].sum(), rel=1e-9)
    assert len(per_hospital) == 54


def test_unadjusted_chisq_limits_flag_25_hospitals(per_hospital: pd.DataFrame) -> None:
    result = funnel_analysis(
        per_hospital,
        observed="observed",
        expected="expected",
        unit="provnum",
        kind="ratio",
        method="chisq",
        overdispersion="none",
    )
    table = result.table
    e = table["expected"].to_numpy()
    # FunnelPlotR's chi-square form, written out
    lower = stats.chi2.ppf(0.001, 2 * e) / (2 * e)
    upper = stats.chi2.ppf(0.999, 2 * (e + 1)) / (2 * e)
    np.testing.assert_allclose(table["lower_998"], lower, rtol=1e-12)
    np.testing.assert_allclose(table["upper_998"], upper, rtol=1e-12)
    assert int(table["outside_998"].sum()) == 25
    assert not result.adjusted


def test_shmi_overdispersion_flags_9_hospitals(per_hospital: pd.DataFrame) -> None:
    result = funnel_analysis(
        per_hospital,
        observed="observed",
        expected="expected",
        unit="provnum",
        kind="ratio",
        transform="log",
        overdispersion="additive",
        trim_method="truncate",
        trim=0.10,
        method="chisq",
    )
    table = result.table
    o, e = table["observed"].to_numpy(), table["expected"].to_numpy()
    np.testing.assert_allclose(table["z"], np.sqrt(e) * np.log(o / e), rtol=1e-12)
    # rank rule floor(rank * 10 / 55): ranks 1-5 and 50-54 are truncated
    assert result.n_used_for_dispersion == 44
    assert int(table["trimmed"].sum()) == 10
    assert result.adjusted
    assert result.tau2 > 0
    z998 = stats.norm.ppf(0.999)
    np.testing.assert_allclose(table["upper_998"], np.exp(z998 * np.sqrt(1 / e + result.tau2)), rtol=1e-12)
    np.testing.assert_allclose(table["lower_998"], np.exp(-z998 * np.sqrt(1 / e + result.tau2)), rtol=1e-12)
    assert int(table["outside_998"].sum()) == 9


def test_shmi_tau2_matches_dersimonian_laird_written_out(per_hospital: pd.DataFrame) -> None:
    result = funnel_analysis(
        per_hospital,
        observed="observed",
        expected="expected",
        unit="provnum",
        transform="log",
        overdispersion="additive",
        trim_method="truncate",
        method="chisq",
    )
    kept = result.table.loc[~result.table["trimmed"]]
    z = kept["z"].to_numpy()
    w = kept["expected"].to_numpy()  # 1 / s^2 with s = 1 / sqrt(E)
    n = len(z)
    phi = np.mean(z**2)
    tau2 = (n * phi - (n - 1)) / (w.sum() - (w**2).sum() / w.sum())
    assert result.phi == pytest.approx(phi, rel=1e-12)
    assert result.tau2 == pytest.approx(tau2, rel=1e-12)
