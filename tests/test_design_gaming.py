"""Gaming and data-distortion detection (perfmodel.design.gaming)."""

from __future__ import annotations

import argparse
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests

from perfmodel.design import cli as design_cli
from perfmodel.design import gaming as gm
from perfmodel.design.gaming import (
    DISCLAIMER,
    ThresholdSpec,
    benjamini_hochberg,
    bunching,
    checks,
    counterfactual,
    detect_gaming,
    harmonic_mean_p,
    heaping,
    last_digit_test,
    monthly_values,
    pooled_heaping_test,
    select_months,
    threshold_checks,
    threshold_specs,
    window_test,
)
from perfmodel.design.gaming import detect as detect_mod
from perfmodel.design.gaming.counterfactual import BandFit
from perfmodel.design.gaming.evidence import SHARES, calibrated_log10_bf, heap_evidence
from perfmodel.design.simulate_gaming import plant_threshold_gaming, simulate_rate_panel
from perfmodel.framework import framework_from_dict, load_framework
from perfmodel.report.gaming import figure_bunching

STATION = load_framework("station_four_dimension")
RATE = "three_real_info_rate"


def _framework(threshold: dict | None = None):
    """A small framework: a rate with a hard threshold, a count and a bounded score."""
    leaf = {"weight": 1.0 / 3, "source": "system"}
    return framework_from_dict(
        {
            "id": "lab",
            "name": {"zh": "实验", "en": "lab"},
            "level": "station",
            "tree": [
                {
                    "id": "all",
                    "name": {"zh": "全部", "en": "all"},
                    "weight": 1.0,
                    "children": [
                        {
                            **leaf,
                            "id": "info_rate",
                            "name": {"zh": "采集率", "en": "collection rate"},
                            "kind": "rate",
                            "range": [0, 1],
                            "threshold": threshold or {"min": 0.95, "consequence": "flag"},
                        },
                        {**leaf, "id": "patrols", "name": {"zh": "巡逻次数", "en": "patrols"}, "kind": "count"},
                        {
                            **leaf,
                            "id": "score",
                            "name": {"zh": "内务", "en": "housekeeping"},
                            "kind": "score",
                            "range": [0, 100],
                        },
                    ],
                }
            ],
        }
    )


def _series_frame(unit: str, indicator: str, values=None, numerators=None, denominators=None) -> pd.DataFrame:
    size = len(values if values is not None else numerators)
    periods = [str(p) for p in pd.period_range("2024-01", periods=size, freq="M")]
    if values is None:
        values = np.asarray(numerators, float) / np.asarray(denominators, float)
    return pd.DataFrame(
        {
            "period": periods,
            "unit_id": unit,
            "indicator": indicator,
            "value": np.asarray(values, float),
            "numerator": np.nan if numerators is None else np.asarray(numerators, float),
            "denominator": np.nan if denominators is None else np.asarray(denominators, float),
        }
    )


# ====================================================================== multiple testing
def test_benjamini_hochberg_matches_statsmodels():
    p = np.random.default_rng(1).uniform(size=200) ** 3
    expected = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(p), expected)
    # hand-computed: sorted 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.0533, 0.0533, 0.5
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.04, 0.03, 0.5]), [0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_harmonic_mean_p():
    assert harmonic_mean_p([0.01, 0.04]) == pytest.approx(2 / (100 + 25))
    assert harmonic_mean_p([1.0, 1.0]) == 1.0


def test_poisson_binomial_tail_against_enumeration_and_binomial():
    probs = np.array([0.1, 0.5, 0.8, 0.3, 0.65])
    for x in range(len(probs) + 1):
        brute = sum(
            math.prod(p if b else 1 - p for p, b in zip(probs, bits, strict=True))
            for bits in itertools.product([0, 1], repeat=len(probs))
            if sum(bits) >= x
        )
        assert heaping._poisson_binomial_sf(x, probs) == pytest.approx(brute)
    assert heaping._poisson_binomial_sf(7, np.full(12, 0.4)) == pytest.approx(stats.binom.sf(6, 12, 0.4))


# ====================================================================== threshold heaping
def test_counterfactual_ignores_moves_inside_the_band():
    """Moving counts within the band changes heap and hole months, not the counterfactual.

    The unit's own likelihood sees band months only as "in the band", and the
    cross-section (month effects, level prior, spread) reads them as the band's centre.
    """
    obs = simulate_rate_panel(40, 18, rng=3)
    k, n = obs["numerator"].to_numpy(), obs["denominator"].to_numpy()
    lo, top = np.ceil(0.93 * n - 1e-7), np.ceil(0.96 * n - 1e-7)
    movers = obs["unit_id"].isin(["U001", "U002", "U003"]).to_numpy()
    inside = (k >= lo) & (k < top) & movers
    moved = np.where(inside, np.maximum(top - 1, lo), k)  # the movers' band months to the top of the band
    unit, period = obs["unit_id"].to_numpy(), obs["period"].to_numpy()
    before = counterfactual.fit_band(k / n, n, unit, period, 0.95, 0.02, 0.01)
    after = counterfactual.fit_band(moved / n, n, unit, period, 0.95, 0.02, 0.01)
    np.testing.assert_array_equal(before.miss | before.meet, after.miss | after.meet)
    assert after.miss[movers].sum() < before.miss[movers].sum()
    np.testing.assert_allclose(before.posterior, after.posterior, atol=1e-12)
    np.testing.assert_allclose(before.pi, after.pi)
    np.testing.assert_allclose(before.month_effect, after.month_effect)


def test_mixture_tail_against_enumeration():
    """Σ_g w_g P(X_g ≥ x) and the mid-p-value, by brute force over all heap/hole patterns."""
    pi = np.array([[0.2, 0.6], [0.5, 0.3], [0.7, 0.9]])
    w = np.array([0.25, 0.75])
    for x in range(4):
        tail = mid = 0.0
        for bits in itertools.product([0, 1], repeat=3):
            prob = w @ np.prod(np.where(np.array(bits)[:, None] == 1, pi, 1 - pi), axis=0)
            tail += prob * (sum(bits) >= x)
            mid += prob * ((sum(bits) > x) + 0.5 * (sum(bits) == x))
        assert counterfactual.mixture_sf(x, pi, w) == pytest.approx(tail)
        assert counterfactual.mixture_sf(x, pi, w, mid=True) == pytest.approx(mid)


def test_threshold_test_is_symmetric_for_maximum_thresholds():
    """A ceiling (rate ≤ T) on k/n is the floor (rate ≥ 1 − T) on (n − k)/n."""
    obs = simulate_rate_panel(30, 18, rng=5)
    gamed = plant_threshold_gaming(obs, ["U001", "U002", "U003"], 0.95, 0.03, 1.0, rng=1)
    mirrored = gamed.assign(numerator=gamed["denominator"] - gamed["numerator"], value=1 - gamed["value"])
    up = threshold_checks(monthly_values(gamed), [ThresholdSpec(RATE, 0.95, "min", 0.02)])
    down = threshold_checks(monthly_values(mirrored), [ThresholdSpec(RATE, 0.05, "max", 0.02)])
    np.testing.assert_allclose(up["p_value"], down["p_value"], rtol=1e-6)
    np.testing.assert_allclose(up["observed"], down["observed"])


def _gaming_scenario(process: str, seed: int, landing: float) -> tuple[float, float, float]:
    """AUC of the unit score, precision and recall of the flagged units (120 units × 24 months)."""
    obs = simulate_rate_panel(120, 24, process=process, rng=seed)
    units = sorted(obs["unit_id"].unique())
    level = obs.groupby("unit_id")["numerator"].sum() / obs.groupby("unit_id")["denominator"].sum()
    # Gaming units: 15 % of all units, drawn among those with motive and opportunity
    # (level within 3 pp of the 95 % threshold); far from it a unit has nothing to move.
    eligible = sorted(level[(level - 0.95).abs() <= 0.03].index)
    gamers = set(np.random.default_rng(seed + 100).choice(eligible, 18, replace=False))
    gamed = plant_threshold_gaming(obs, gamers, 0.95, 0.03, 1.0, seed, landing=landing)
    report = detect_gaming(gamed, STATION, n_boot=50)
    truth = np.array([u in gamers for u in units])
    score = report.units.set_index("unit_id")["score"].reindex(units).fillna(0).to_numpy()
    flagged = set(report.flagged_units())
    hits = len(flagged & gamers)
    return roc_auc_score(truth, score), hits / max(len(flagged), 1), hits / len(gamers)


@pytest.mark.parametrize(
    ("process", "landing"),
    [("binomial", 0.0), ("beta", 0.01)],
    ids=["logit-normal binomial, minimal passing count", "beta means + overdispersion, landing within 1 pp"],
)
def test_detector_ranks_gaming_units_first(process, landing):
    auc, precision, recall = _gaming_scenario(process, seed=0, landing=landing)
    assert auc >= 0.9
    assert precision >= 0.8
    assert recall >= 0.3


def test_few_false_flags_without_gaming():
    """Clean data, many seeds and both generating processes: flags stay at the BH level."""
    q_level, datasets, with_flags, flagged_units, units = 0.1, 0, 0, 0, 0
    for process, seed in itertools.product(("binomial", "beta"), range(12)):
        obs = simulate_rate_panel(60, 24, process=process, rng=9000 + seed)
        report = detect_gaming(obs, STATION, alpha=q_level, n_boot=20)
        datasets += 1
        with_flags += bool(report.flagged_units())
        flagged_units += len(report.flagged_units())
        units += len(report.units)
    # With no manipulation every lead is false; BH then bounds P(any lead) by q.
    assert with_flags / datasets <= q_level + 0.1
    assert flagged_units / units <= 0.01


def test_pooled_heaping_test_null_and_gamed():
    obs = simulate_rate_panel(120, 24, rng=21)
    spec = threshold_specs(STATION)[0]
    clean = pooled_heaping_test(monthly_values(obs, STATION), spec)
    level = obs.groupby("unit_id")["numerator"].sum() / obs.groupby("unit_id")["denominator"].sum()
    gamers = level[(level - 0.95).abs() <= 0.03].index[:18]
    gamed = pooled_heaping_test(
        monthly_values(plant_threshold_gaming(obs, gamers, 0.95, 0.03, 1.0, rng=2), STATION), spec
    )
    assert clean.p_value > 0.05
    assert gamed.p_value < 1e-4 and gamed.excess > 20
    assert gamed.months == pytest.approx(clean.months, abs=60)


def test_value_only_rates_are_tested_with_the_normal_model():
    rng = np.random.default_rng(8)
    frames = []
    for i in range(40):
        mean = rng.normal(0.95, 0.012)
        frames.append(_series_frame(f"V{i:02d}", "info_rate", values=np.round(rng.normal(mean, 0.015, 24), 4)))
    obs = pd.concat(frames, ignore_index=True)
    gamers = [f"V{i:02d}" for i in range(6)]
    gamed = plant_threshold_gaming(obs, gamers, 0.95, 0.025, 1.0, rng=3)
    tests = threshold_checks(monthly_values(gamed, _framework()), threshold_specs(_framework()))
    p = tests.set_index("unit_id")["p_value"]
    assert roc_auc_score(p.index.isin(gamers), -np.log(p)) >= 0.9
    assert p[gamers].median() < 0.01 < p.drop(gamers).median()


# ====================================================================== pooled bunching
def _moved_sample(seed: int, gamed: bool) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.9, 0.05, 20_000)
    if not gamed:
        return x, 0
    hole = np.flatnonzero((x >= 0.93) & (x < 0.95))
    moved = rng.choice(hole, size=len(hole) // 2, replace=False)
    x[moved] = 0.95 + rng.random(len(moved)) * 0.005
    return x, len(moved)


def test_bunching_recovers_known_excess_mass():
    values, moved = _moved_sample(4, gamed=True)
    result = bunching(values, 0.95, window=0.02, exclude=(0.02, 0.01), n_boot=400, rng=1)
    assert result.excess_ci[0] <= moved <= result.excess_ci[1]
    assert result.missing_ci[0] <= moved <= result.missing_ci[1]
    assert result.excess_ci[0] > 0.5 * moved
    clean, _ = _moved_sample(4, gamed=False)
    null = bunching(clean, 0.95, window=0.02, exclude=(0.02, 0.01), n_boot=400, rng=1)
    assert null.excess_ci[0] <= 0 <= null.excess_ci[1]
    # bins: the threshold is a bin edge and the regions are where they should be
    bins = result.bins
    assert np.isclose(bins["left"], 0.95).any()
    assert (bins.loc[bins["region"] == "heap", "left"] >= 0.95 - 1e-12).all()
    assert (bins.loc[bins["region"] == "hole", "right"] <= 0.95 + 1e-12).all()
    assert bins["count"].sum() == pytest.approx(result.n)


def test_bunching_for_a_maximum_is_the_mirror_image():
    values, _ = _moved_sample(6, gamed=True)
    up = bunching(values, 0.95, window=0.02, n_boot=50, rng=2)
    down = bunching(-values, -0.95, side="max", window=0.02, n_boot=50, rng=2)
    assert down.excess == pytest.approx(up.excess)
    assert down.missing == pytest.approx(up.missing)
    np.testing.assert_allclose(np.sort(down.bins["left"].to_numpy()), np.sort(-up.bins["right"].to_numpy()))


def test_lattice_spreading_removes_spikes_of_small_denominators():
    """19/20 is exactly 95 %: point masses fake a heap, spread cells do not."""
    rng = np.random.default_rng(0)
    n = rng.choice([20, 40, 60, 80], size=20_000)
    k = rng.binomial(n, 1 / (1 + np.exp(-rng.normal(2.2, 0.6, n.size))))
    kwargs = {"window": 0.02, "exclude": (0.02, 0.01), "upper": 1.0, "n_boot": 200, "rng": 1}
    spread = bunching(k / n, 0.95, numerators=k, denominators=n, **kwargs)
    point = bunching(k / n, 0.95, **kwargs)
    assert point.excess_ci[0] > 1000  # a spurious heap
    assert spread.excess_ci[0] <= 0  # no evidence of a heap
    assert abs(spread.excess) < 0.05 * point.excess


def test_bunching_rejects_impossible_settings():
    with pytest.raises(ValueError, match="too few bins"):
        bunching([0.9, 0.95], 0.95, fit_range=(0.949, 0.951))
    with pytest.raises(ValueError, match="degree"):
        bunching(np.linspace(0.8, 1, 100), 0.95, degree=40)


def test_window_test_expected_share_from_a_linear_density():
    """Density a + b(x − t): the passing share of [t − h, t + h) is (a + bh/2) / 2a."""
    t, h, a, b = 0.5, 0.04, 1.0, 4.0
    grid = np.linspace(t - 3 * h, t + 3 * h, 200_001)
    density = a + b * (grid - t)
    rng = np.random.default_rng(2)
    values = rng.choice(grid, size=400_000, p=density / density.sum())
    result = window_test(values, t, window=h)
    assert result.method == "linear"
    assert result.expected_share == pytest.approx((a + b * h / 2) / (2 * a), abs=0.01)
    assert result.p_value > 0.01
    half = window_test(values, t, window=h, expected="half")
    assert half.expected_share == 0.5 and half.p_value < 1e-6


# ====================================================================== other checks
def test_last_digit_test_flags_rounded_counts():
    rng = np.random.default_rng(11)
    clean = rng.poisson(60, 600)
    rounded = clean.copy()
    pick = rng.random(600) < 0.3
    rounded[pick] = 5 * np.round(rounded[pick] / 5)
    ok, bad = last_digit_test(clean), last_digit_test(rounded)
    assert ok.p_uniform > 0.05 and ok.p_round > 0.05
    assert bad.p_round < 1e-8 and bad.p_uniform < 1e-6
    assert bad.share_round == pytest.approx(0.2 + 0.3 * 0.8, abs=0.05)
    assert sum(bad.frequencies) == 600
    with pytest.raises(ValueError, match="whole numbers"):
        last_digit_test([1.5, 2])


def test_digit_checks_find_the_units_that_round():
    """Units that round 30 % of their counts (a count indicator and a rate's denominators)."""
    rng = np.random.default_rng(12)
    frames = []
    rounders = {f"S{i:02d}" for i in range(6)}
    for i in range(30):
        unit = f"S{i:02d}"
        patrols = rng.poisson(rng.uniform(60, 200), 24).astype(float)
        cases = rng.poisson(rng.uniform(60, 200), 24).astype(float)
        if unit in rounders:
            for counts in (patrols, cases):
                pick = rng.random(24) < 0.3
                counts[pick] = 5 * np.round(counts[pick] / 5)
        done = rng.binomial(cases.astype(int), 0.9).astype(float)
        frames.append(_series_frame(unit, "patrols", values=patrols))
        frames.append(_series_frame(unit, "info_rate", numerators=done, denominators=cases))
    tests = gm.digit_checks(monthly_values(pd.concat(frames, ignore_index=True), _framework()))
    rounding = tests[tests["check"] == "round_numbers"].set_index("unit_id")
    assert (rounding["n"] == 48).all() and (rounding["indicator"] == "*").all()
    q = pd.Series(benjamini_hochberg(rounding["p_value"].to_numpy()), index=rounding.index)
    found = set(q[q <= 0.1].index)
    assert len(found & rounders) >= 5 and len(found - rounders) <= 1  # BH at 10 %: rare false leads


def test_under_dispersion_flags_series_smoother_than_their_volume():
    rng = np.random.default_rng(5)
    n = rng.integers(150, 250, 24).astype(float)
    smooth = np.round(0.8 * n)  # every month exactly on the mean: no binomial noise
    honest = rng.binomial(n.astype(int), 0.8).astype(float)
    obs = pd.concat(
        [
            _series_frame("A", "info_rate", numerators=smooth, denominators=n),
            _series_frame("B", "info_rate", numerators=honest, denominators=n),
        ],
        ignore_index=True,
    )
    tests = gm.dispersion_checks(monthly_values(obs, _framework())).set_index("unit_id")
    assert tests.loc["A", "p_value"] < 1e-6 and tests.loc["A", "statistic"] < 0.1
    assert tests.loc["B", "p_value"] > 0.01
    assert tests.loc["B", "expected"] == 23  # degrees of freedom


def test_level_shift_is_found_at_the_break():
    rng = np.random.default_rng(6)
    n = np.full(24, 200.0)
    shifted = rng.binomial(200, np.where(np.arange(24) < 12, 0.85, 0.95)).astype(float)
    steady = rng.binomial(200, 0.9, 24).astype(float)
    obs = pd.concat(
        [
            _series_frame("A", "info_rate", numerators=shifted, denominators=n),
            _series_frame("B", "info_rate", numerators=steady, denominators=n),
        ],
        ignore_index=True,
    )
    tests = gm.level_shift_checks(monthly_values(obs, _framework())).set_index("unit_id")
    assert tests.loc["A", "p_value"] < 1e-4
    assert "2024-12" in tests.loc["A", "evidence_en"] and "2024-12" in tests.loc["A", "evidence_zh"]
    assert tests.loc["A", "observed"] == pytest.approx(0.1, abs=0.03)
    assert tests.loc["B", "p_value"] > 0.05


def test_repeated_figures():
    assert checks._binomial_match(1, 0.3) == pytest.approx(0.3**2 + 0.7**2)
    rng = np.random.default_rng(7)
    n = rng.integers(180, 220, 12).astype(float)
    k = rng.binomial(n.astype(int), 0.9).astype(float)
    n[3:8], k[3:8] = 200, 181  # 181/200 five months running
    tiny_n = np.full(12, 5.0)
    full = np.where(np.arange(12) % 4 == 0, 4.0, 5.0)  # 100 % most months with n = 5
    scores = np.round(rng.normal(90, 4, 12), 1)
    scores[5:9] = 100.0  # at the ceiling of the score's range
    obs = pd.concat(
        [
            _series_frame("A", "info_rate", numerators=k, denominators=n),
            _series_frame("B", "info_rate", numerators=full, denominators=tiny_n),
            _series_frame("C", "score", values=scores),
        ],
        ignore_index=True,
    )
    fw = _framework()
    tests = gm.repeat_checks(monthly_values(obs, fw), bounds={"score": (0, 100)}).set_index("unit_id")
    # Independent expectation: 8 possible starts × P(a month repeats the one before)^4.
    mu = k.sum() / n.sum()
    match = np.sum(stats.binom.pmf(np.arange(201), 200, mu) ** 2)
    assert tests.loc["A", "p_value"] == pytest.approx(8 * match**4)
    assert tests.loc["A", "p_value"] < 1e-3 and tests.loc["A", "statistic"] == 5
    assert "181/200" in tests.loc["A", "evidence_en"]
    assert tests.loc["B", "p_value"] > 0.05
    assert "C" not in tests.index
    without_bounds = gm.repeat_checks(monthly_values(obs, fw)).set_index("unit_id")
    assert without_bounds.loc["C", "p_value"] < 0.05


def test_round_percentages_against_other_units():
    rng = np.random.default_rng(9)
    frames = [_series_frame(f"R{i}", "info_rate", values=np.round(rng.uniform(0.85, 0.99, 12), 4)) for i in range(20)]
    frames.append(_series_frame("TYPED", "info_rate", values=[0.95, 0.9, 0.95, 0.96, 0.95, 0.85] * 2))
    tests = gm.round_percent_checks(monthly_values(pd.concat(frames), _framework())).set_index("unit_id")
    assert tests.loc["TYPED", "observed"] == 10
    assert tests.loc["TYPED", "p_value"] < 1e-6
    assert tests.drop("TYPED")["p_value"].min() > 0.01


# ====================================================================== the report
@pytest.fixture(scope="module")
def report() -> gm.GamingReport:
    obs = simulate_rate_panel(40, 18, rng=31)
    gamed = plant_threshold_gaming(obs, ["U001", "U002", "U003", "U004"], 0.95, 0.03, 1.0, rng=4)
    units = pd.DataFrame({"unit_id": sorted(obs["unit_id"].unique())})
    units["name"] = units["unit_id"].str.replace("U", "派出所")
    return detect_gaming(gamed, STATION, units=units, n_boot=50, lang="en")


def test_report_tables(report):
    tests = report.tests
    assert set(gm.TEST_COLUMNS) - {"evidence_zh", "evidence_en"} < set(tests.columns)
    assert {"q_value", "flagged", "score", "evidence", "name"} <= set(tests.columns)
    # Weighted BH: half the budget to the threshold tests, the weights average 1.
    weights = detect_mod._bh_weights(tests["check"])
    assert weights.mean() == pytest.approx(1.0)
    assert (tests["q_value"] >= np.minimum(tests["p_value"] / weights, 1.0) - 1e-12).all()
    assert (tests["flagged"] == (tests["q_value"] <= report.alpha)).all()
    assert (tests["evidence"] == tests["evidence_en"]).all()
    assert tests["evidence_zh"].str.len().gt(10).all() and tests["evidence_en"].str.len().gt(10).all()
    assert tests["score"].is_monotonic_decreasing
    units = report.units
    assert units["rank"].tolist() == list(range(1, len(units) + 1))
    assert units["score"].is_monotonic_decreasing
    # The score: the threshold test's Bayes factor, or another check's calibrated evidence when it is a lead.
    threshold = tests[tests["check"] == "threshold_heaping"].set_index("unit_id")["log10_bf"]
    others = tests[(tests["check"] != "threshold_heaping") & tests["flagged"]].groupby("unit_id")["log10_bf"].max()
    expected = np.fmax(threshold, others.reindex(threshold.index))
    np.testing.assert_allclose(units.set_index("unit_id")["score"], expected.reindex(units["unit_id"]))
    hmp = tests.groupby("unit_id")["p_value"].apply(harmonic_mean_p)
    np.testing.assert_allclose(units.set_index("unit_id")["combined_p"], hmp.reindex(units["unit_id"]))
    other = tests["check"] != "threshold_heaping"
    np.testing.assert_allclose(tests.loc[other, "log10_bf"], calibrated_log10_bf(tests.loc[other, "p_value"]))
    assert units["name"].str.startswith("派出所").all()
    assert set(report.leads()["unit_id"]) == set(report.flagged_units())


def test_report_says_flags_are_leads_not_verdicts(report, tmp_path):
    assert report.disclaimer == DISCLAIMER["en"]
    assert "not verdicts" in report.summary() and "third-party" in report.summary()
    paths = report.write(tmp_path)
    assert {"tests", "leads", "units", "summary", f"bunching_{RATE}"} <= set(paths)
    assert "不是造假的结论" in DISCLAIMER["zh"]
    written = pd.read_csv(paths["units"], encoding="utf-8-sig")
    assert len(written) == len(report.units)


def test_display_tables(report):
    leads = gm.leads_table(report, top=5)
    assert list(leads.columns[:3]) == ["unit", "name", "indicator"]
    assert len(leads) <= 5
    assert gm.checks_table(report)["tests"].sum() == len(report.tests)
    assert len(gm.units_table(report, top=None)) == len(report.units)


def test_bunching_figure(report):
    import matplotlib

    from perfmodel.report.style import apply_report_style

    matplotlib.use("Agg")
    apply_report_style()
    ax = figure_bunching(report.bunching[RATE], lang="zh")
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    bins = report.bunching[RATE].bins
    assert sum(len(bars) for bars in ax.containers) == len(bins)  # one bar per bin
    matplotlib.pyplot.close(ax.figure)
    # on a given Axes: draws there, makes no figure of its own
    fig, (left, right) = matplotlib.pyplot.subplots(1, 2)
    assert figure_bunching(report.bunching[RATE], ax=right, lang="en") is right
    assert sum(len(bars) for bars in right.containers) == len(bins)
    assert not left.containers and right.get_ylabel() == "unit-months"
    matplotlib.pyplot.close(fig)


def test_detect_gaming_arguments():
    obs = simulate_rate_panel(10, 12, rng=1)
    with pytest.raises(ValueError, match="unknown check"):
        detect_gaming(obs, STATION, checks=["astrology"])
    with pytest.raises(ValueError, match="alpha"):
        detect_gaming(obs, STATION, alpha=1.5)
    with pytest.raises(ValueError, match="no observations in 2030Q1"):
        detect_gaming(obs, STATION, period="2030Q1")
    only = detect_gaming(obs, STATION, checks=["level_shift"], n_boot=10)
    assert set(only.tests["check"]) == {"level_shift"}


def test_select_months():
    obs = simulate_rate_panel(2, 24, rng=1)  # 2024-01 .. 2025-12
    assert sorted(select_months(obs, "2025Q2")["period"].unique()) == ["2025-04", "2025-05", "2025-06"]
    history = select_months(obs, "2025Q2", history_months=12)["period"].unique()
    assert sorted(history)[0] == "2024-07" and sorted(history)[-1] == "2025-06" and len(history) == 12
    assert len(select_months(obs, None)) == len(obs)


def test_threshold_specs():
    specs = threshold_specs(STATION)
    assert [(s.indicator, s.threshold, s.side, s.window, s.heap_width) for s in specs] == [
        (RATE, 0.95, "min", 0.02, 0.01)
    ]
    extra = threshold_specs(STATION, thresholds={RATE: 0.9, "case_compliance_rate": 0.8}, window={RATE: 0.03})
    by_id = {s.indicator: s for s in extra}
    assert by_id[RATE].threshold == 0.9 and by_id[RATE].window == 0.03
    assert by_id["case_compliance_rate"].window == 0.02
    ceiling = threshold_specs(_framework({"max": 0.1, "consequence": "flag"}))
    assert ceiling[0].side == "max" and ceiling[0].meet_label() == "(9.0%, 10.0%]"
    assert gm.default_window("count", 40) == 4.0 and gm.default_window("score", 60, (0, 100)) == 5.0


# ====================================================================== command line
def _write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    obs = simulate_rate_panel(20, 12, rng=2)
    obs_path, units_path = tmp_path / "obs.csv", tmp_path / "units.csv"
    obs.to_csv(obs_path, index=False)
    units = pd.DataFrame({"unit_id": sorted(obs["unit_id"].unique())})
    units.assign(name=units["unit_id"], level="station").to_csv(units_path, index=False)
    return obs_path, units_path


def test_cli_gaming_command(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="perfmodel lab")
    design_cli.add_gaming_parser(parser.add_subparsers(dest="lab_command"))
    obs_path, units_path = _write_inputs(tmp_path)
    out = tmp_path / "out"
    args = parser.parse_args(
        [
            "gaming",
            "--observations",
            str(obs_path),
            "--units",
            str(units_path),
            "--framework",
            "station_four_dimension",
            "--all-periods",
            "--out",
            str(out),
            "--lang",
            "en",
        ]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "not verdicts" in printed
    assert (out / "gaming_units.csv").is_file() and (out / "gaming_summary.txt").is_file()
    args = parser.parse_args(
        [
            "gaming",
            "--observations",
            str(tmp_path / "missing.csv"),
            "--units",
            str(units_path),
            "--framework",
            "station_four_dimension",
            "--period",
            "2024",
            "--out",
            str(out),
        ]
    )
    assert design_cli.run_gaming(args) == 1
    assert "missing.csv" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["gaming", "--observations", "a", "--units", "b", "--framework", "x", "--out", "o"])


# ====================================================================== notebook
@pytest.mark.notebook
def test_gaming_lab_notebook_runs(tmp_path, repo_root):
    from perfmodel.io import write_table
    from perfmodel.report.runner import run_notebook
    from perfmodel.simulate import simulate

    sample = simulate([STATION], stations=30, months=18, officers_per_station=1, rng=3, defect_rate=0.0)
    obs = sample.observations[STATION.id].copy()
    for column in ("value", "numerator", "denominator"):
        obs[column] = pd.to_numeric(obs[column])
    stations = sorted(sample.units.loc[sample.units["level"] == "station", "unit_id"])
    obs = plant_threshold_gaming(obs, stations[:5], 0.95, 0.03, 1.0, rng=1, indicator=RATE)
    write_table(obs, tmp_path / "obs.csv")
    write_table(sample.units, tmp_path / "units.csv")
    out = tmp_path / "report"
    run = run_notebook(
        repo_root / "notebooks" / "gaming_lab.ipynb",
        out,
        {
            "observations": str(tmp_path / "obs.csv"),
            "units": str(tmp_path / "units.csv"),
            "framework": STATION.id,
            "period": "2025Q2",
            "lang": "en",
            "output_dir": str(out),
            "peer_group": "station_class",
            "seed": 2,
            "history_months": 18,
            "n_officers": 60,
        },
        timeout=120,
    )
    html = run.html.read_text(encoding="utf-8")
    assert "not verdicts" in html and "Leads by unit" in html and "scoring design" in html
    for name in ("bunching_three_real_info_rate.png", "design_outcomes.png", "design_effort.png"):
        assert (out / "figures" / name).is_file()
    assert (out / "gaming_leads.csv").is_file() and (out / "gaming_simulation.csv").is_file()


def test_gaming_results_give_their_main_table():
    """to_frame() of the gaming results: the ranked units, the bins, the pooled test as one row."""
    obs = simulate_rate_panel(n_units=30, n_months=12, rng=5)
    report = detect_gaming(obs, STATION, n_boot=20, rng=1)
    units = report.to_frame()
    assert units.equals(report.units) and units is not report.units
    assert set(report.tables()) == {"units", "tests", "leads"}
    assert report.tables()["leads"]["flagged"].all()
    for pooled in report.pooled.values():
        row = pooled.to_frame().iloc[0]
        assert row["excess"] == pytest.approx(row["observed"] - row["expected"])
        assert row["p_value"] == pooled.p_value
    for result in report.bunching.values():
        assert result.to_frame().equals(result.bins)


# ============================================================================ evidence (Bayes factor)
def _tiny_fit(pi: np.ndarray, meet: np.ndarray, unit: np.ndarray, posterior: np.ndarray) -> BandFit:
    """A hand-made BandFit: every month in the band, ``pi`` per month × grid point."""
    rows = len(meet)
    codes = pd.factorize(pd.Series(unit))[0]
    return BandFit(
        unit_id=unit,
        meet=meet,
        miss=~meet,
        band_rows=np.arange(rows),
        pi=pi,
        posterior=posterior,
        unit_code=codes,
        p_meet=np.zeros(rows),
        p_miss=np.zeros(rows),
        month_effect=np.zeros(rows),
        level=np.zeros(pi.shape[1]),
        spread=np.zeros(pi.shape[1]),
    )


def test_heap_evidence_by_hand():
    """Two grid points, hand-computed L_i(s); the fitted (w, s) maximise the mixture likelihood (brute force)."""
    pi = np.array([[0.2, 0.4], [0.3, 0.5], [0.25, 0.25], [0.3, 0.3], [0.3, 0.3]])
    meet = np.array([True, False, True, True, True])
    unit = np.array(["A", "A", "B", "C", "C"])
    post = np.array([[0.7, 0.3], [0.5, 0.5], [0.5, 0.5]])
    ev = heap_evidence(_tiny_fit(pi, meet, unit, post))

    def lik_a(s):  # A: month 1 in the heap, month 2 in the hole; two grid points
        return sum(
            w * (p1 + (1 - p1) * s) * (1 - p2) * (1 - s) for w, p1, p2 in zip(post[0], pi[0], pi[1], strict=True)
        )

    def lik_b(s):
        return 0.25 + 0.75 * s

    def lik_c(s):
        return (0.3 + 0.7 * s) ** 2

    liks = (lik_a, lik_b, lik_c)
    for i, lik in enumerate(liks):
        assert ev.log_bf[i] == pytest.approx(np.log(lik(ev.share) / lik(0.0)), rel=1e-9)
    # (w, s) by brute force over the share grid and a fine grid of w.
    ws = np.linspace(0.001, 0.999, 999)
    best = max((sum(np.log((1 - w) * lik(0.0) + w * lik(s)) for lik in liks), s, w) for s in SHARES[1:] for w in ws)
    assert ev.share == best[1]
    assert ev.manipulating == pytest.approx(best[2], abs=2e-3)
    # A heap month raises the evidence, a hole month lowers it: B and C (all heap) beat A.
    assert ev.log_bf[2] > ev.log_bf[1] > 0 > ev.log_bf[0]


def test_heap_evidence_finds_the_manipulated_share():
    """Units with π = 0.3: 80 honest, 20 reporting 90 % of their hole months in the heap.

    The two-component mixture finds about 20 % manipulating units with a share
    near 0.9, and the Bayes factor ranks the manipulators first (AUC ≈ 1 with
    10 band months each).
    """
    rng = np.random.default_rng(5)
    n_units, months = 100, 10
    gamer = np.arange(n_units) < 20
    p_heap = np.where(gamer, 0.3 + 0.7 * 0.9, 0.3)
    meet = (rng.random((n_units, months)) < p_heap[:, None]).ravel()
    unit = np.repeat([f"U{i:03d}" for i in range(n_units)], months)
    ev = heap_evidence(_tiny_fit(np.full((meet.size, 1), 0.3), meet, unit, np.ones((n_units, 1))))
    assert ev.manipulating == pytest.approx(0.2, abs=0.05)
    assert ev.share == pytest.approx(0.9, abs=0.051)
    assert roc_auc_score(gamer, ev.log_bf) > 0.99


def test_calibrated_bayes_factor_is_an_e_value():
    """The mixture calibrator: hand values, 1/2 at p = 1, decreasing in p, mean ≤ 1 under uniform p."""
    p = np.array([1e-3, 0.05])
    e = (1 - p + p * np.log(p)) / (p * np.log(p) ** 2)  # ∫ κ p^(κ−1) dκ by hand
    np.testing.assert_allclose(10 ** calibrated_log10_bf(p), e, rtol=1e-12)
    assert 10 ** calibrated_log10_bf(np.array([1.0]))[0] == pytest.approx(0.5)
    grid = np.linspace(1e-6, 1, 200_001)
    values = 10 ** calibrated_log10_bf(grid)
    assert np.all(np.diff(values) <= 1e-12)
    assert values.mean() <= 1.0


def test_weighted_bh_gives_the_threshold_tests_half_the_budget():
    """2 threshold tests and 6 others: weights 0.5·8/2 = 2 and 0.5·8/6 = 2/3 (mean 1); one kind: all 1."""
    checks = pd.Series(["threshold_heaping"] * 2 + ["level_shift"] * 6)
    np.testing.assert_allclose(detect_mod._bh_weights(checks), [2, 2] + [2 / 3] * 6)
    np.testing.assert_array_equal(detect_mod._bh_weights(checks[2:]), np.ones(6))
    # BH on p / w by hand: p = 0.01 for the threshold tests → 0.005 → q = 0.005 · 8 / 2 = 0.02.
    p = np.array([0.01, 0.01, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    q = benjamini_hochberg(p / detect_mod._bh_weights(checks))
    np.testing.assert_allclose(q[:2], [0.02, 0.02])
    assert (q[2:] == 1.0).all()
