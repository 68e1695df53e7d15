"""Federated cross-region comparison (R22): exact pooled fits from aggregates, nothing row-level crosses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy.stats import spearmanr

from perfmodel import cli
from perfmodel.errors import OptionError
from perfmodel.evaluation import evaluate
from perfmodel.federated import (
    DEFAULT_TERMS,
    CaseMixSpec,
    ExchangeLog,
    GlmContribution,
    Region,
    compare_regions,
    family_for,
    figure_league,
    figure_rank_gap,
    fit_federated,
    rank_gap,
    simulate_regions,
)
from perfmodel.framework import load_framework
from perfmodel.simulate import write_sample

FRAMEWORK = "station_four_dimension"


FEDERATED_SMALL_GROUP = pytest.mark.xdist_group("federated_small")
"""The tests reading this module's module-scoped fixtures run on one worker (make test: ``--dist loadgroup``)."""


@pytest.fixture(scope="module")
def fw():
    return load_framework(FRAMEWORK)


@pytest.fixture(scope="module")
def small(fw):
    """Three small simulated regions (15 stations each, one quarter)."""
    return simulate_regions(fw, stations=15, rng=5)


@pytest.fixture(scope="module")
def small_comparison(fw, small):
    return compare_regions(fw, small.regions, draws=20, rng=3)


def _indicator(fw, indicator_id):
    return next(i for i in fw.indicators() if i.id == indicator_id)


# ----------------------------------------------------------------------------- exact federated fit
@pytest.mark.parametrize(
    ("indicator", "family", "terms"),
    [
        ("case_compliance_rate", "binomial", DEFAULT_TERMS),  # rate: successes of trials, logit link
        ("window_processing_days", "gamma", DEFAULT_TERMS),  # duration: log link, estimated scale
        ("discipline_score", "gaussian", DEFAULT_TERMS),  # rated score, one row per rater
        # rare events (14 in all): area type would separate (a type without events), so a workload term only
        ("enforcement_errors", "poisson", "np.log(incident_volume / officers)"),
    ],
)
@FEDERATED_SMALL_GROUP
def test_federated_fit_equals_the_pooled_statsmodels_fit(fw, small, indicator, family, terms):
    spec = CaseMixSpec(indicator, terms, family)
    fit = fit_federated(small.regions, spec)
    # the pooled fit: every region's rows in one frame (what federation avoids), same formula
    rows = pd.concat([r.rows(spec) for r in small.regions], ignore_index=True)
    pooled = smf.glm(f"__y ~ {spec.rhs}", data=rows, family=spec.glm_family(), var_weights=rows["__w"]).fit()
    assert list(fit.params.index) == list(pooled.params.index)
    assert np.max(np.abs(fit.params.to_numpy() - pooled.params.to_numpy())) < 1e-8
    # statsmodels' standard errors use the weights of its last iterate (default tolerance 1e-8 on the deviance)
    assert np.allclose(np.sqrt(np.diag(fit.cov)), pooled.bse.to_numpy(), rtol=1e-6, atol=0)
    assert fit.scale == pytest.approx(pooled.scale, rel=1e-9)
    assert fit.deviance == pytest.approx(pooled.deviance, rel=1e-9)
    assert fit.n_rows == len(rows) == pooled.nobs


def test_federated_logit_matches_the_hand_computed_saturated_fit():
    """One binary covariate, no region effect: β0 = logit(p0), β1 = logit(p1) − logit(p0) over all regions' cases."""
    fw = load_framework(FRAMEWORK)
    units = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"], "level": "station", "urban": ["no", "yes", "no", "yes"]})

    def obs(unit, num, den):
        return {
            "period": "2025-01",
            "unit_id": unit,
            "indicator": "case_compliance_rate",
            "value": num / den,
            "numerator": num,
            "denominator": den,
        }

    east = Region("east", fw, pd.DataFrame([obs("u1", 8, 10), obs("u2", 18, 20)]), units.iloc[:2], "2025-01")
    west = Region("west", fw, pd.DataFrame([obs("u3", 6, 10), obs("u4", 9, 10)]), units.iloc[2:], "2025-01")
    spec = CaseMixSpec("case_compliance_rate", "C(urban)", "binomial", region_effects="none")
    fit = fit_federated([east, west], spec)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    p_rural, p_urban = (8 + 6) / 20, (18 + 9) / 30
    assert fit.params["Intercept"] == pytest.approx(logit(p_rural), abs=1e-12)
    assert fit.params["C(urban)[T.yes]"] == pytest.approx(logit(p_urban) - logit(p_rural), abs=1e-12)
    # variance of a logit from n trials: 1 / (n p (1 - p))
    assert fit.cov.loc["Intercept", "Intercept"] == pytest.approx(1 / (20 * p_rural * (1 - p_rural)), rel=1e-9)


# ----------------------------------------------------------------------------- what crosses the boundary
@FEDERATED_SMALL_GROUP
def test_only_aggregates_cross_the_boundary_and_are_listed_with_sizes(small, small_comparison):
    log = small_comparison.log
    listing = log.to_frame()
    assert set(listing["message"]) == {"RegionInventory", "UnitIndicatorStatistics", "GlmContribution", "UnitTotals"}
    assert (listing["nbytes"] > 0).all() and listing["nbytes"].sum() == log.nbytes
    p = {ind: len(fit.params) for ind, fit in small_comparison.fits.items()}
    for region in small.regions:
        n_units = region.inventory([]).n_units
        pairs = len(region.statistics().table)  # unit × indicator
        row_counts = {len(region.rows(fit.spec)) for fit in small_comparison.fits.values()}
        allowed = {0, 1, *p.values(), n_units, pairs, *(range(1, 4))}
        assert row_counts.isdisjoint(allowed), "sizes chosen so that a row-level array would be noticed"
        mine = listing[listing["region"] == region.name]
        lengths = {shape[0] for shape in mine["shape"] if len(shape)}
        assert lengths <= allowed, f"{region.name} sent arrays of lengths {sorted(lengths - allowed)}"
        assert not lengths & row_counts
    glm = [m for m in log.messages if isinstance(m, GlmContribution)]
    for message in glm:
        k = p[message.indicator]
        assert message.score.shape == (k,) and message.information.shape == (k, k)
        assert message.nbytes == 8 * (k + k * k) + 8 * 4 + len(message.region) + len(message.indicator)
    assert {"field", "type", "shape", "nbytes"} <= set(glm[0].describe().columns)
    # every iteration of every model is in the log: regions × (iterations + final evaluation)
    per_model = pd.Series([m.indicator for m in glm]).value_counts()
    for ind, fit in small_comparison.fits.items():
        assert per_model[ind] == len(small.regions) * (fit.iterations + 1)


# ----------------------------------------------------------------------------- sufficient statistics
@FEDERATED_SMALL_GROUP
def test_naive_pooled_score_from_statistics_equals_the_framework_on_pooled_rows(fw, small, small_comparison):
    """The sums each region sends reproduce the framework's composite on all regions' rows put together."""
    observations, units = [], []
    for name, sample in small.samples.items():
        o, u = sample.observations[FRAMEWORK].copy(), sample.units.copy()
        for frame, column in ((o, "unit_id"), (u, "unit_id"), (u, "parent_id")):
            frame[column] = name + "/" + frame[column].astype(str)
        observations.append(o)
        units.append(u)
    ev = evaluate(
        fw, pd.concat(observations), pd.concat(units), small.period, compare_previous=False, peer_group="none"
    )
    league = small_comparison.to_frame()
    expected = ev.stages["aggregated"]["score"].reindex(league["region"] + "/" + league["unit_id"]).to_numpy()
    assert np.allclose(league["naive_score"].to_numpy(), expected, rtol=0, atol=1e-9)


@FEDERATED_SMALL_GROUP
def test_statistics_are_the_sums_of_the_rows(small):
    region = small.regions[0]
    table = region.statistics().table
    raw = region._observations  # the test may look inside; the coordinator does not
    row = table[table["indicator"] == "case_compliance_rate"].iloc[0]
    mine = raw[(raw["unit_id"] == row["unit_id"]) & (raw["indicator"] == "case_compliance_rate")]
    assert row["numerator"] == pytest.approx(mine["numerator"].sum())
    assert row["value"] == pytest.approx(mine["numerator"].sum() / mine["denominator"].sum())
    assert row["sum_squares"] == pytest.approx((mine["value"] ** 2).sum())
    assert row["n_rows"] == len(mine) and row["months_present"] == mine["period"].nunique()


# ----------------------------------------------------------------------------- league table and ranks
@FEDERATED_SMALL_GROUP
def test_league_table_ranks_and_intervals(small_comparison, fw, small):
    league = small_comparison.to_frame()
    n = len(league)
    assert n == 45 and list(league["rank"]) == sorted(league["rank"])
    assert set(league["rank"]) <= set(range(1, n + 1)) and league["rank"].min() == 1
    assert (league["rank_low"] <= league["rank_high"]).all()
    inside = (league["rank_low"] <= league["rank"]) & (league["rank"] <= league["rank_high"])
    assert inside.mean() >= 0.9
    assert (league["rank_change"] == league["naive_rank"] - league["rank"]).all()
    again = compare_regions(fw, small.regions, draws=20, rng=3).to_frame()
    pd.testing.assert_frame_equal(league, again)  # seeded: the same table
    effects = small_comparison.region_effects()
    assert set(effects["term"]) == {"C(region)[T.B]", "C(region)[T.C]"}
    assert len(effects) == 2 * len(small_comparison.fits)
    assert "KiB" in small_comparison.summary("en") and "地区" in small_comparison.summary("zh")
    funnel = small_comparison.funnel("case_compliance_rate")
    assert len(funnel.table) == n


@FEDERATED_SMALL_GROUP
def test_region_effects_can_be_left_out(fw, small):
    comparison = compare_regions(fw, small.regions, region_effects="none", indicators=["case_compliance_rate"], draws=2)
    assert comparison.region_effects().empty
    assert list(comparison.fits) == ["case_compliance_rate"]


@FEDERATED_SMALL_GROUP
def test_bad_options_are_refused(fw, small):
    with pytest.raises(OptionError, match="region_effects"):
        compare_regions(fw, small.regions, region_effects="random")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="two or more regions"):
        compare_regions(fw, small.regions[:1])
    with pytest.raises(OptionError, match="stateful"):
        fit_federated(small.regions, CaseMixSpec("case_compliance_rate", "center(population)", "binomial"))


# ----------------------------------------------------------------------------- fairness to the harder region
def test_naive_pooling_is_unfair_to_the_harder_region_and_calibration_is_not(fw):
    example = simulate_regions(fw, stations=50, rng=1)
    comparison = compare_regions(fw, example.regions, draws=5, rng=1)
    gaps = rank_gap(comparison.to_frame(), example.truth).set_index("region")
    hard = gaps.loc[example.harder]
    # naive: the harder region's units are ranked ~20 places (of 150) below their truth,
    # and too many of them land in the bottom quarter
    assert hard["naive_gap"] > 12
    assert hard["naive_bottom"] - hard["true_bottom"] >= 0.1
    # calibrated: within chance of the truth
    assert abs(hard["gap"]) < hard["naive_gap"] / 2
    assert abs(hard["bottom"] - hard["true_bottom"]) <= 0.05
    league = comparison.to_frame()
    truth = example.truth.reindex(league["region"] + "/" + league["unit_id"]).to_numpy()
    naive_rho = spearmanr(league["naive_score"], truth).statistic
    calibrated_rho = spearmanr(league["score"], truth).statistic
    assert calibrated_rho > naive_rho
    ax = figure_rank_gap(gaps.reset_index(), lang="en")
    assert ax.get_title() and ax.get_ylabel()
    ax = figure_league(comparison, top=20, lang="zh")
    assert ax.get_title() and ax.get_xlabel()


def test_family_follows_the_indicator_kind(fw):
    assert family_for(_indicator(fw, "case_compliance_rate")) == "binomial"
    assert family_for(_indicator(fw, "window_processing_days")) == "gamma"
    assert family_for(_indicator(fw, "housekeeping_score")) == "gaussian"
    assert sm.families.Binomial is type(CaseMixSpec("x", "1", "binomial").glm_family())
    assert ExchangeLog([]).to_frame().empty


# ----------------------------------------------------------------------------- command line
@FEDERATED_SMALL_GROUP
def test_compare_regions_command_on_region_folders(tmp_path, capsys, small):
    folders = []
    for name, sample in small.samples.items():
        write_sample(sample, tmp_path / name)
        folders.append(f"{name}={tmp_path / name}")
    out = tmp_path / "league"
    code = cli.main(["compare-regions", *folders, "--period", small.period, "--draws", "3", "--out", str(out)])
    assert code == 0
    league = pd.read_csv(out / "league.csv", encoding="utf-8-sig")
    assert len(league) == 45 and set(league["region"]) == set(small.samples)
    assert {"league.csv", "coefficients.csv", "unit_totals.csv", "exchanged.csv", "tables.xlsx"} <= {
        p.name for p in out.iterdir()
    }
    # never over an input
    assert cli.main(["compare-regions", *folders, "--period", small.period, "--out", str(tmp_path / "A")]) != 0
    # one region is not a comparison: one line, exit 2
    assert cli.main(["compare-regions", folders[0], "--period", small.period, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "two or more regions" in err


def test_compare_regions_command_simulates_the_example(tmp_path):
    out = tmp_path / "example"
    code = cli.main(["compare-regions", "--simulate", "--stations", "12", "--draws", "2", "--out", str(out)])
    assert code == 0
    gaps = pd.read_csv(out / "rank_gap.csv", encoding="utf-8-sig")
    assert list(gaps["region"]) == ["A", "B", "C"] and gaps["units"].sum() == 36
