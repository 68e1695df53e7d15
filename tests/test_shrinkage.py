"""Empirical-Bayes shrinkage: hand-computed priors, invariants and peer groups."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from perfmodel.calibrate import (
    BetaBinomialShrinkage,
    NormalNormalShrinkage,
    beta_binomial_mom,
    dersimonian_laird,
    reml_tau2,
)
from perfmodel.calibrate import shrinkage as sh


# --------------------------------------------------------------------------- tau^2 estimators
def test_dersimonian_laird_three_studies_by_hand() -> None:
    y = np.array([0.10, 0.30, 0.35])
    v = np.array([0.01, 0.02, 0.04])
    # w = 100, 50, 25; sum w = 175; weighted mean = 33.75 / 175
    # Q = 100 (0.1 - m)^2 + 50 (0.3 - m)^2 + 25 (0.35 - m)^2 = 2 + 3/56
    # sum w^2 / sum w = 13125 / 175 = 75, so the denominator is 175 - 75 = 100
    # tau^2 = (Q - 2) / 100 = 3 / 5600
    assert dersimonian_laird(y, v) == pytest.approx(3 / 5600, rel=1e-12)
    assert dersimonian_laird(y, v) == pytest.approx(combine_effects(y, v, method_re="chi2").tau2, rel=1e-10)


def test_dersimonian_laird_truncates_at_zero() -> None:
    assert dersimonian_laird([0.1, 0.11, 0.09], [0.01, 0.01, 0.01]) == 0.0


def test_reml_and_dl_agree_with_closed_form_for_equal_variances() -> None:
    y = np.array([0.2, -0.5, 0.9, 0.4, -0.1])
    v = np.full(5, 0.05)
    closed_form = np.var(y, ddof=1) - 0.05  # balanced one-way random effects
    assert reml_tau2(y, v) == pytest.approx(closed_form, rel=1e-8)
    assert dersimonian_laird(y, v) == pytest.approx(closed_form, rel=1e-12)


def test_reml_solves_the_restricted_score_equation() -> None:
    rng = np.random.default_rng(8)
    v = rng.uniform(0.01, 0.3, 25)
    y = rng.normal(1.0, np.sqrt(v + 0.15))
    tau2 = reml_tau2(y, v)
    w = 1 / (v + tau2)
    mu = np.sum(w * y) / np.sum(w)
    score = -np.sum(w) + np.sum(w**2 * (y - mu) ** 2) + np.sum(w**2) / np.sum(w)
    assert tau2 > 0
    assert abs(score) < 1e-6 * np.sum(w)


def test_reml_is_zero_without_heterogeneity() -> None:
    assert reml_tau2([1.0, 1.01, 0.99, 1.0], [0.1, 0.2, 0.1, 0.3]) == 0.0


# --------------------------------------------------------------------------- beta-binomial
def test_beta_binomial_moments_by_hand() -> None:
    # x = 2, 8, 5 of n = 10, 20, 10: mu = 15/40 = 0.375, S = 0.475, mu(1 - mu) = 0.234375
    # S / (mu (1 - mu)) - (k - 1) = 2/75; N - sum n^2 / N - (k - 1) = 40 - 15 - 2 = 23
    # rho = 2 / 1725, so M = 1725/2 - 1 = 861.5
    mean, conc = beta_binomial_mom([2, 8, 5], [10, 20, 10])
    assert mean == pytest.approx(0.375)
    assert conc == pytest.approx(861.5, rel=1e-10)


def test_beta_binomial_posterior_mean_by_hand() -> None:
    data = pd.DataFrame({"unit_id": ["a", "b", "c"], "numerator": [2, 8, 5], "denominator": [10, 20, 10]})
    out = BetaBinomialShrinkage().fit(data).table_.set_index("unit_id")
    alpha, beta = 0.375 * 861.5, 0.625 * 861.5
    assert out.loc["a", "shrunk"] == pytest.approx((2 + alpha) / (10 + alpha + beta))
    assert out.loc["b", "reliability"] == pytest.approx(20 / (20 + 861.5))
    assert out.loc["a", "raw"] == pytest.approx(0.2)


@pytest.fixture(scope="module")
def simulated_units() -> pd.DataFrame:
    rng = np.random.default_rng(2025)
    k = 400
    n = rng.integers(3, 300, k)
    p = rng.beta(8, 32, k)  # prior mean 0.2, concentration 40
    return pd.DataFrame({"unit_id": np.arange(k), "numerator": rng.binomial(n, p), "denominator": n})


@pytest.mark.parametrize("method", ["mom", "ml"])
def test_beta_prior_recovers_simulated_parameters(simulated_units: pd.DataFrame, method: str) -> None:
    model = BetaBinomialShrinkage(method).fit(simulated_units)  # type: ignore[arg-type]
    prior = model.prior_.iloc[0]
    assert prior["mean"] == pytest.approx(0.2, abs=0.01)
    assert prior["concentration"] == pytest.approx(40, rel=0.3)
    assert prior["alpha"] == pytest.approx(prior["mean"] * prior["concentration"])


def test_ml_beats_mom_on_the_marginal_likelihood(simulated_units: pd.DataFrame) -> None:
    from scipy import stats

    x, n = simulated_units["numerator"], simulated_units["denominator"]

    def loglik(prior: pd.Series) -> float:
        return float(stats.betabinom.logpmf(x, n, prior["alpha"], prior["beta"]).sum())

    mom = BetaBinomialShrinkage("mom").fit(simulated_units).prior_.iloc[0]
    ml = BetaBinomialShrinkage("ml").fit(simulated_units).prior_.iloc[0]
    assert loglik(ml) >= loglik(mom) - 1e-8


def test_beta_binomial_shrinkage_invariants(simulated_units: pd.DataFrame) -> None:
    out = BetaBinomialShrinkage().fit_transform(simulated_units)
    raw, shrunk, prior = out["raw"], out["shrunk"], out["prior_mean"]
    lo, hi = np.minimum(raw, prior), np.maximum(raw, prior)
    assert ((shrunk >= lo - 1e-12) & (shrunk <= hi + 1e-12)).all()
    assert out["reliability"].between(0, 1).all()
    np.testing.assert_allclose(shrunk, out["reliability"] * raw + (1 - out["reliability"]) * prior)
    # reliability increases with the denominator
    ordered = out.sort_values("denominator")
    assert (np.diff(ordered["reliability"]) >= 0).all()
    assert ordered["reliability"].iloc[-1] > ordered["reliability"].iloc[0]
    assert ((out["lower"] <= shrunk) & (shrunk <= out["upper"])).all()


def test_identical_data_give_identical_estimates() -> None:
    data = pd.DataFrame(
        {
            "unit_id": list("abcdef"),
            "numerator": [3, 3, 10, 1, 7, 3],
            "denominator": [12, 12, 20, 9, 15, 12],
        }
    )
    out = BetaBinomialShrinkage().fit(data).table_.set_index("unit_id")
    twins = out.loc[["a", "b", "f"]]
    for col in ("shrunk", "reliability", "lower", "upper"):
        assert twins[col].nunique() == 1, col


def test_small_unit_is_pulled_more_than_large_unit_with_same_rate() -> None:
    data = pd.DataFrame(
        {
            "unit_id": range(6),
            "numerator": [1, 50, 10, 12, 8, 9],
            "denominator": [2, 100, 50, 55, 45, 50],
        }
    )
    out = BetaBinomialShrinkage().fit(data).table_
    small, large = out.iloc[0], out.iloc[1]
    assert small["raw"] == large["raw"] == 0.5
    assert abs(small["shrunk"] - small["prior_mean"]) < abs(large["shrunk"] - large["prior_mean"])


def test_no_between_unit_variation_means_full_shrinkage() -> None:
    data = pd.DataFrame({"unit_id": range(4), "numerator": [2, 4, 6, 20], "denominator": [10, 20, 30, 100]})
    model = BetaBinomialShrinkage().fit(data)
    assert np.isinf(model.prior_["concentration"].iloc[0])
    np.testing.assert_allclose(model.table_["shrunk"], 0.2)
    np.testing.assert_allclose(model.table_["reliability"], 0.0)


def test_records_are_totalled_per_unit() -> None:
    records = pd.DataFrame({"unit_id": ["a", "a", "b", "c"], "numerator": [1, 2, 5, 0], "denominator": [5, 5, 10, 4]})
    out = BetaBinomialShrinkage().fit(records).table_
    assert list(out["unit_id"]) == ["a", "b", "c"]
    assert list(out["numerator"]) == [3, 5, 0] and list(out["denominator"]) == [10, 10, 4]


def test_peer_groups_get_their_own_prior() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(10, 100, 60)
    group = np.where(np.arange(60) < 30, "urban", "rural")
    p = np.where(group == "urban", rng.beta(20, 80, 60), rng.beta(60, 40, 60))
    data = pd.DataFrame({"unit_id": range(60), "numerator": rng.binomial(n, p), "denominator": n, "area": group})
    model = BetaBinomialShrinkage(groups="area").fit(data)
    prior = model.prior_.set_index("group")
    assert prior.loc["urban", "mean"] == pytest.approx(0.2, abs=0.05)
    assert prior.loc["rural", "mean"] == pytest.approx(0.6, abs=0.05)
    out = model.table_
    assert "group" in out
    np.testing.assert_allclose(out["prior_mean"], prior.loc[out["group"], "mean"].to_numpy())
    assert "group 'urban'" in model.summary()


def test_group_errors() -> None:
    data = pd.DataFrame(
        {
            "unit_id": [1, 2, 3],
            "numerator": [1, 2, 3],
            "denominator": [10, 10, 10],
            "area": ["x", "x", "y"],
        }
    )
    with pytest.raises(ValueError, match=re.escape(sh.TOO_FEW_UNITS.format(group="y", n=1))):
        BetaBinomialShrinkage(groups="area").fit(data)
    fitted = BetaBinomialShrinkage(groups="area").fit(data.assign(area="x"))
    with pytest.raises(ValueError, match=re.escape(sh.UNKNOWN_GROUP.format(groups=["y"], column="area"))):
        fitted.transform(data)
    mixed = pd.concat([data, data.assign(area="y")])
    with pytest.raises(ValueError, match=re.escape(sh.GROUP_NOT_CONSTANT.format(unit=1, column="area"))):
        BetaBinomialShrinkage(groups="area").fit(mixed)


def test_beta_binomial_input_errors() -> None:
    data = pd.DataFrame({"unit_id": [1, 2], "numerator": [3, 12], "denominator": [10, 10]})
    msg = sh.NUMERATOR_EXCEEDS_DENOMINATOR.format(numerator="numerator", denominator="denominator", count=1)
    with pytest.raises(ValueError, match=re.escape(msg)):
        BetaBinomialShrinkage().fit(data)
    msg = sh.MISSING_COLUMN.format(column="cases", param="denominator", available=list(data.columns))
    with pytest.raises(ValueError, match=re.escape(msg)):
        BetaBinomialShrinkage(denominator="cases").fit(data)
    with pytest.raises(
        ValueError,
        match=re.escape(sh.NONPOSITIVE_DENOMINATOR.format(column="denominator", count=1)),
    ):
        BetaBinomialShrinkage().fit(data.assign(denominator=[10, 0], numerator=[3, 0]))
    with pytest.raises(ValueError, match=re.escape(sh.NOT_FITTED.format(name="BetaBinomialShrinkage"))):
        BetaBinomialShrinkage().transform(data)


# --------------------------------------------------------------------------- normal-normal
def test_normal_normal_shrinkage_by_hand() -> None:
    data = pd.DataFrame(
        {
            "unit_id": ["a", "b", "c"],
            "estimate": [0.10, 0.30, 0.35],
            "se": [0.1, np.sqrt(0.02), 0.2],
        }
    )
    model = NormalNormalShrinkage("dl").fit(data)
    tau2 = 3 / 5600
    w = 1 / (np.array([0.01, 0.02, 0.04]) + tau2)
    mu = np.sum(w * np.array([0.10, 0.30, 0.35])) / np.sum(w)
    prior = model.prior_.iloc[0]
    assert prior["tau2"] == pytest.approx(tau2)
    assert prior["mean"] == pytest.approx(mu)
    out = model.table_.set_index("unit_id")
    b = tau2 / (tau2 + 0.01)
    assert out.loc["a", "reliability"] == pytest.approx(b)
    assert out.loc["a", "shrunk"] == pytest.approx(mu + b * (0.10 - mu))
    assert out.loc["a", "posterior_sd"] == pytest.approx(np.sqrt(b) * 0.1)


def test_normal_normal_invariants_and_groups() -> None:
    rng = np.random.default_rng(12)
    k = 80
    group = np.where(np.arange(k) % 2 == 0, "A", "B")
    theta = np.where(group == "A", 0.0, 1.0) + rng.normal(0, 0.3, k)
    se = rng.uniform(0.05, 0.8, k)
    data = pd.DataFrame({"unit_id": range(k), "estimate": rng.normal(theta, se), "se": se, "peer": group})
    out = NormalNormalShrinkage(groups="peer").fit_transform(data)
    lo = np.minimum(out["raw"], out["prior_mean"])
    hi = np.maximum(out["raw"], out["prior_mean"])
    assert ((out["shrunk"] >= lo - 1e-12) & (out["shrunk"] <= hi + 1e-12)).all()
    assert out["reliability"].between(0, 1).all()
    for _, sub in out.groupby("group"):
        ordered = sub.sort_values("se")
        assert (np.diff(ordered["reliability"]) <= 1e-12).all()  # more precise, more weight
    means = out.groupby("group")["prior_mean"].first()
    assert means["A"] == pytest.approx(0.0, abs=0.2) and means["B"] == pytest.approx(1.0, abs=0.2)


def test_normal_normal_input_errors() -> None:
    data = pd.DataFrame({"unit_id": [1, 1, 2], "estimate": [0.1, 0.2, 0.3], "se": [0.1, 0.1, 0.1]})
    with pytest.raises(ValueError, match=re.escape(sh.DUPLICATE_UNITS.format(column="unit_id", count=1, example=1))):
        NormalNormalShrinkage().fit(data)
    msg = sh.NONPOSITIVE_SE.format(column="se", count=1)
    with pytest.raises(ValueError, match=re.escape(msg)):
        NormalNormalShrinkage().fit(data.assign(unit_id=[1, 2, 3], se=[0.1, 0.0, 0.2]))
    with pytest.raises(
        ValueError,
        match=re.escape(sh.BAD_OPTION.format(name="method", value="ml", allowed=["reml", "dl"])),
    ):
        NormalNormalShrinkage("ml").fit(data.assign(unit_id=[1, 2, 3]))  # type: ignore[arg-type]
