"""Case-mix GLMs and indirect standardisation."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from perfmodel.calibrate import CaseMixModel, indirect_standardisation
from perfmodel.calibrate import casemix as cm


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    """Simulated cases in 12 stations with a known case-mix effect."""
    rng = np.random.default_rng(42)
    n = 1200
    data = pd.DataFrame(
        {
            "unit_id": rng.integers(0, 12, n),
            "severity": rng.choice(["low", "mid", "high"], n, p=[0.5, 0.3, 0.2]),
            "night": rng.integers(0, 2, n),
            "exposure": rng.uniform(0.5, 3.0, n),
            "trials": rng.integers(1, 30, n),
        }
    )
    effect = data["severity"].map({"low": 0.0, "mid": 0.4, "high": 0.9}).to_numpy() + 0.2 * data["night"]
    data["count"] = rng.poisson(data["exposure"] * np.exp(-0.5 + effect))
    p = 1 / (1 + np.exp(-(-1.0 + effect)))
    data["cleared"] = rng.binomial(data["trials"], p)
    data["solved"] = rng.binomial(1, p)
    data["days"] = rng.gamma(shape=2.0, scale=np.exp(1.0 + effect) / 2.0)
    data["rating"] = 70 + 5 * effect + rng.normal(0, 3, n)
    return data


# --------------------------------------------------------------------------- indirect standardisation
def test_indirect_standardisation_by_hand() -> None:
    out = indirect_standardisation(pd.Series([12, 5, 0], index=["a", "b", "c"]), [10.0, 10.0, 4.0], 0.2)
    assert list(out.index) == ["a", "b", "c"]
    np.testing.assert_allclose(out["ratio"], [1.2, 0.5, 0.0])
    np.testing.assert_allclose(out["standardised"], [0.24, 0.1, 0.0])
    np.testing.assert_allclose(out["excess"], [2.0, -5.0, -4.0])


def test_indirect_standardisation_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=re.escape(cm.SHAPE_MISMATCH.format(n_obs=2, n_exp=3))):
        indirect_standardisation([1, 2], [1.0, 2.0, 3.0], 0.1)
    with pytest.raises(ValueError, match=re.escape(cm.NONPOSITIVE_EXPECTED.format(count=1))):
        indirect_standardisation([1, 2], [1.0, 0.0], 0.1)
    with pytest.raises(ValueError, match=re.escape(cm.BAD_OVERALL.format(overall=0.0))):
        indirect_standardisation([1, 2], [1.0, 2.0], 0.0)


# --------------------------------------------------------------------------- poisson
def test_poisson_with_exposure_equals_glm_with_log_offset(records: pd.DataFrame) -> None:
    model = CaseMixModel("count ~ C(severity) + night", "poisson", exposure="exposure").fit(records)
    design = pd.get_dummies(records["severity"], drop_first=True, dtype=float)[["low", "mid"]]
    x = sm.add_constant(pd.concat([design, records[["night"]]], axis=1))
    direct = sm.GLM(records["count"], x, family=sm.families.Poisson(), offset=np.log(records["exposure"])).fit()
    assert model.result_.llf == pytest.approx(direct.llf, rel=1e-10)
    assert model.result_.params["night"] == pytest.approx(direct.params["night"], rel=1e-8)
    assert model.dispersion_ == pytest.approx(direct.pearson_chi2 / direct.df_resid, rel=1e-10)
    assert model.overall_ == pytest.approx(records["count"].sum() / records["exposure"].sum())
    # true night effect is 0.2
    assert model.result_.params["night"] == pytest.approx(0.2, abs=0.1)


def test_poisson_expected_per_unit_by_hand(records: pd.DataFrame) -> None:
    model = CaseMixModel("count ~ C(severity) + night", "poisson", exposure="exposure").fit(records)
    out = model.expected(records)
    mu = model.result_.fittedvalues.to_numpy()  # includes the exposure offset
    by_hand = (
        records.assign(mu=mu)
        .groupby("unit_id", sort=False)
        .agg(O=("count", "sum"), E=("mu", "sum"), X=("exposure", "sum"), k=("count", "size"))
    )
    got = out.set_index("unit_id").loc[by_hand.index]
    np.testing.assert_allclose(got["observed"], by_hand["O"])
    np.testing.assert_allclose(got["expected"], by_hand["E"])
    np.testing.assert_allclose(got["denominator"], by_hand["X"])
    assert (got["n_records"] == by_hand["k"]).all()
    np.testing.assert_allclose(got["standardised"], by_hand["O"] / by_hand["E"] * model.overall_)
    np.testing.assert_allclose(got["pearson_residual"], (by_hand["O"] - by_hand["E"]) / np.sqrt(by_hand["E"]))
    assert out["observed"].sum() == pytest.approx(out["expected"].sum())
    assert list(out.columns) == [
        "unit_id",
        "n_records",
        "denominator",
        "observed",
        "expected",
        "ratio",
        "standardised",
        "excess",
        "pearson_residual",
    ]


def test_predict_on_new_records_uses_their_exposure(records: pd.DataFrame) -> None:
    model = CaseMixModel("count ~ C(severity) + night", "poisson", exposure="exposure").fit(records)
    new = records.head(5).assign(exposure=records["exposure"].head(5) * 2)
    np.testing.assert_allclose(model.predict(new), 2 * model.predict(records.head(5)))


# --------------------------------------------------------------------------- binomial
def test_binomial_with_denominator_equals_two_column_glm(records: pd.DataFrame) -> None:
    model = CaseMixModel("cleared ~ C(severity) + night", "binomial", denominator="trials").fit(records)
    design = pd.get_dummies(records["severity"], drop_first=True, dtype=float)[["low", "mid"]]
    x = sm.add_constant(pd.concat([design, records[["night"]]], axis=1))
    endog = np.column_stack([records["cleared"], records["trials"] - records["cleared"]])
    direct = sm.GLM(endog, x, family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(np.sort(model.result_.params.to_numpy()), np.sort(direct.params.to_numpy()), rtol=1e-8)
    assert model.dispersion_ == pytest.approx(direct.pearson_chi2 / direct.df_resid, rel=1e-8)
    out = model.expected(records)
    # canonical link with intercept: expected successes add up to observed ones
    assert out["observed"].sum() == pytest.approx(out["expected"].sum(), rel=1e-8)
    p = direct.fittedvalues.to_numpy()
    var = records["trials"] * p * (1 - p)
    by_hand = records.assign(E=records["trials"] * p, V=var).groupby("unit_id", sort=False)[["cleared", "E", "V"]].sum()
    got = out.set_index("unit_id").loc[by_hand.index]
    np.testing.assert_allclose(got["expected"], by_hand["E"], rtol=1e-7)
    np.testing.assert_allclose(
        got["pearson_residual"],
        (by_hand["cleared"] - by_hand["E"]) / np.sqrt(by_hand["V"]),
        rtol=1e-6,
    )
    assert model.overall_ == pytest.approx(records["cleared"].sum() / records["trials"].sum())


def test_binomial_record_level_outcome(records: pd.DataFrame) -> None:
    model = CaseMixModel("solved ~ C(severity)", "binomial").fit(records)
    out = model.expected(records)
    assert out["observed"].sum() == pytest.approx(out["expected"].sum(), rel=1e-8)
    # one indicator per severity: expected rate per severity equals the observed one
    rates = records.groupby("severity")["solved"].mean()
    pred = model.predict(records).groupby(records["severity"]).first()
    np.testing.assert_allclose(pred.loc[rates.index], rates, rtol=1e-6)
    assert model.overall_ == pytest.approx(records["solved"].mean())


# --------------------------------------------------------------------------- gamma and gaussian
def test_gamma_uses_log_link_and_standardises_means(records: pd.DataFrame) -> None:
    model = CaseMixModel("days ~ C(severity) + night", "gamma").fit(records)
    assert isinstance(model.result_.model.family.link, sm.families.links.Log)
    assert model.result_.params["night"] == pytest.approx(0.2, abs=0.15)
    out = model.expected(records)
    np.testing.assert_allclose(out["standardised"], out["ratio"] * records["days"].mean())
    mu = model.result_.fittedvalues
    var = model.result_.scale * mu**2
    by_hand = records.assign(mu=mu, v=var).groupby("unit_id", sort=False)[["days", "mu", "v"]].sum()
    got = out.set_index("unit_id").loc[by_hand.index]
    np.testing.assert_allclose(got["pearson_residual"], (by_hand["days"] - by_hand["mu"]) / np.sqrt(by_hand["v"]))


def test_gaussian_ratings(records: pd.DataFrame) -> None:
    model = CaseMixModel("rating ~ C(severity) + night", "gaussian").fit(records)
    direct = sm.OLS.from_formula("rating ~ C(severity) + night", records).fit()
    np.testing.assert_allclose(model.result_.params, direct.params, rtol=1e-10)
    out = model.expected(records)
    assert out["observed"].sum() == pytest.approx(out["expected"].sum())
    assert "excess" in out and "n_records" in out
    assert model.dispersion_ == pytest.approx(direct.scale, rel=1e-10)


# --------------------------------------------------------------------------- results objects
def test_summary_and_tidy_table(records: pd.DataFrame) -> None:
    model = CaseMixModel("count ~ night", "poisson").fit(records)
    assert isinstance(model.summary(), str) and "Generalized Linear Model" in model.summary()
    tidy = model.to_frame()
    assert list(tidy.columns) == [
        "term",
        "estimate",
        "std_error",
        "z",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    assert list(tidy["term"]) == ["Intercept", "night"]
    assert (tidy["conf_low"] < tidy["estimate"]).all() and (tidy["estimate"] < tidy["conf_high"]).all()
    assert model.n_obs_ == len(records) and model.outcome_ == "count"


# --------------------------------------------------------------------------- errors
def test_unknown_formula_column_is_named(records: pd.DataFrame) -> None:
    msg = cm.MISSING_COLUMN.format(
        column="shift", role="used in the formula", available=list(records.columns), where="formula"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        CaseMixModel("count ~ shift", "poisson").fit(records)


def test_missing_group_column_in_expected(records: pd.DataFrame) -> None:
    model = CaseMixModel("count ~ night", "poisson", group="station").fit(records)
    msg = cm.MISSING_COLUMN.format(
        column="station", role="unit id", available=list(records.columns), where="group= argument"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        model.expected(records)


def test_missing_values_are_reported(records: pd.DataFrame) -> None:
    broken = records.assign(night=records["night"].astype(float))
    broken.loc[broken.index[:3], "night"] = np.nan
    with pytest.raises(ValueError, match=re.escape(cm.MISSING_VALUES.format(column="night", count=3))):
        CaseMixModel("count ~ night", "poisson").fit(broken)


def test_family_specific_options_are_checked(records: pd.DataFrame) -> None:
    msg = cm.OPTION_NOT_FOR_FAMILY.format(option="exposure", family="poisson", given="binomial")
    with pytest.raises(ValueError, match=re.escape(msg)):
        CaseMixModel("solved ~ night", "binomial", exposure="exposure").fit(records)
    with pytest.raises(ValueError, match=re.escape(cm.BAD_FAMILY.format(family="logit", allowed=list(cm.FAMILIES)))):
        CaseMixModel("solved ~ night", "logit").fit(records)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(cm.BINARY_OUTCOME.format(column="count"))):
        CaseMixModel("count ~ night", "binomial").fit(records)


def test_successes_above_trials_and_bad_exposure(records: pd.DataFrame) -> None:
    bad = records.assign(cleared=records["trials"] + 1)
    msg = cm.SUCCESSES_EXCEED_TRIALS.format(numerator="cleared", denominator="trials", count=len(bad))
    with pytest.raises(ValueError, match=re.escape(msg)):
        CaseMixModel("cleared ~ night", "binomial", denominator="trials").fit(bad)
    zero = records.assign(exposure=0.0)
    msg = cm.NONPOSITIVE_VALUES.format(column="exposure", count=len(zero), what="exposure")
    with pytest.raises(ValueError, match=re.escape(msg)):
        CaseMixModel("count ~ night", "poisson", exposure="exposure").fit(zero)


def test_unfitted_model(records: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=re.escape(cm.NOT_FITTED)):
        CaseMixModel("count ~ night", "poisson").expected(records)


# --------------------------------------------------------------------------- prediction on the fitted rows
@pytest.mark.parametrize(
    ("formula", "family", "options"),
    [
        ("count ~ C(severity) + night", "poisson", {"exposure": "exposure"}),
        ("cleared ~ C(severity) + np.log(exposure)", "binomial", {"denominator": "trials"}),
        ("rating ~ C(severity) * night", "gaussian", {}),
    ],
)
def test_prediction_on_the_fitted_rows_equals_the_formula_prediction(records, formula, family, options) -> None:
    """The fit's own rows reuse its design matrix: the numbers of statsmodels' formula prediction, exactly."""
    model = CaseMixModel(formula, family, **options).fit(records)
    res = model.result_
    kwargs = {"exposure": records["exposure"].to_numpy()} if "exposure" in options else {}
    by_formula = np.asarray(res.predict(records, **kwargs), dtype=float)
    if "denominator" in options:
        by_formula = by_formula * records["trials"].to_numpy(dtype=float)
    np.testing.assert_array_equal(model.predict(records).to_numpy(), by_formula)
    # other values on the same rows, or other rows: the formula is read again
    changed = records.assign(night=1 - records["night"], exposure=records["exposure"] * 2)
    kwargs = {"exposure": changed["exposure"].to_numpy()} if "exposure" in options else {}
    again = np.asarray(res.predict(changed, **kwargs), dtype=float)
    if "denominator" in options:
        again = again * changed["trials"].to_numpy(dtype=float)
    np.testing.assert_array_equal(model.predict(changed).to_numpy(), again)
    assert not np.array_equal(again, by_formula)
    head = records.head(50)
    np.testing.assert_allclose(model.predict(head).to_numpy(), model.predict(records).to_numpy()[:50], rtol=1e-12)
