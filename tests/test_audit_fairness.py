"""Fairness checks: hand-checked statistics, suppression, planted disadvantage, false-alarm rate."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from audit_builders import planted_data, station_frames
from scipy import stats
from statsmodels.stats.multitest import multipletests

from perfmodel.audit import (
    AuditError,
    adverse_impact,
    conditional_parity,
    context_neutrality,
    disaggregate,
)
from perfmodel.audit._frame import (
    ERR_COLUMN,
    ERR_LANG,
    ERR_MIN_N,
    ERR_REFERENCE,
    ERR_REFERENCE_SMALL,
    adjust_pvalues,
    group_labels,
    holm,
)
from perfmodel.audit.fairness import ERR_CUT, ERR_NO_LEGITIMATE, FOUR_FIFTHS_NOTE
from perfmodel.evaluation import evaluate

PLANTED_MINUTES = 12.0
# The planted penalty on the score: service 0.6 × response time 0.5 × 100 points per 25 minutes.
PLANTED_POINTS = 0.6 * 0.5 * 100 * PLANTED_MINUTES / 25


@pytest.fixture(scope="module")
def planted():
    fw, obs, units = planted_data(seed=3, n_units=90, rural_minutes=PLANTED_MINUTES)
    return evaluate(fw, obs, units, "2025Q2")


def two_groups(a, b, name_a="a", name_b="b"):
    return pd.DataFrame({"g": [name_a] * len(a) + [name_b] * len(b), "score": [*a, *b]})


# ----------------------------------------------------------------------------- disaggregate
def test_hedges_g_and_interval_match_hand_computation():
    # a: mean 3, b: mean 5, both sd √2.5; d = -2/√2.5 = -1.26491; J = 1 - 3/(4·10 - 9) = 28/31
    result = disaggregate(two_groups([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]), by="g", reference="b")
    out = result.to_frame().set_index("group")
    g = -2 / math.sqrt(2.5) * (28 / 31)
    assert out.loc["a", "effect"] == pytest.approx(g, abs=1e-10)
    assert g == pytest.approx(-1.142500, abs=1e-6)
    se = math.sqrt(10 / 25 + g**2 / 20)
    assert out.loc["a", "effect_se"] == pytest.approx(se, abs=1e-10)
    assert out.loc["a", "difference"] == pytest.approx(-2.0)
    # t interval of a's mean: 3 ± t(4, .975)·√2.5/√5 = 3 ± 2.776445·0.707107
    assert out.loc["a", "ci_low"] == pytest.approx(3 - 2.776445 * math.sqrt(0.5), abs=1e-5)
    assert out.loc["b", "role"] == "reference" and np.isnan(out.loc["b", "effect"])


def test_hedges_g_small_sample_correction_with_unequal_groups():
    a, b = [10.0, 12.0, 14.0, 16.0], [8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0]
    out = disaggregate(two_groups(a, b), by="g", reference="b", min_n=2).to_frame().set_index("group")
    # pooled sd² = (3·(20/3) + 6·(28/6)) / 9 = 48/9; J = 1 - 3/(4·11 - 9) = 32/35
    expected = (13 - 11) / math.sqrt(48 / 9) * (32 / 35)
    assert out.loc["a", "effect"] == pytest.approx(expected, abs=1e-10)
    welch = stats.ttest_ind(a, b, equal_var=False)
    assert out.loc["a", "p_value"] == pytest.approx(welch.pvalue, rel=1e-9)


def test_small_groups_are_suppressed_not_zero():
    frame = pd.DataFrame(
        {"g": ["big"] * 8 + ["tiny"] * 3 + ["mid"] * 6, "score": np.arange(17.0), "grade": ["优秀"] * 8 + ["合格"] * 9}
    )
    out = disaggregate(frame, by="g", lang="en").to_frame().set_index("group")
    # big − (all 17 − big) would give tiny's n = 3 and its grades, so mid is suppressed as well
    assert out.loc["mid", "suppressed"] == "complementary" and np.isnan(out.loc["mid", "n"])
    tiny = out.loc["tiny"]
    assert tiny["role"] == "suppressed" and tiny["suppressed"] == "small_group"
    assert np.isnan(tiny["n"]) and "3" not in tiny["verdict"]  # the count would name the officers
    assert np.isnan(tiny["estimate"]) and np.isnan(tiny["share_合格"]) and not tiny["flagged"]
    assert "suppressed" in tiny["verdict"]
    assert out.loc["big", "share_优秀"] == 1.0 and out.loc["big", "share_合格"] == 0.0


def test_reference_defaults_to_largest_and_can_be_chosen():
    frame = two_groups([1, 2, 3, 4, 5, 6], [3, 4, 5, 6, 7])
    assert disaggregate(frame, by="g").parameters["reference"] == "a"
    chosen = disaggregate(frame, by="g", reference="b")
    assert chosen.parameters["reference"] == "b" and chosen.to_frame().iloc[0]["group"] == "b"
    with pytest.raises(AuditError, match=re.escape(ERR_REFERENCE.format(reference="c", attribute="g", groups="a, b"))):
        disaggregate(frame, by="g", reference="c")
    with pytest.raises(
        AuditError,
        match=re.escape(
            ERR_REFERENCE_SMALL.format(
                reference="b",
                attribute="g",
                n=5,
                min_n=6,
            )
        ),
    ):
        disaggregate(frame, by="g", reference="b", min_n=6)


def test_combined_groups_and_missing_attribute_values():
    frame = pd.DataFrame({"a": ["x", "y", None], "b": ["1", "1", "2"]})
    attribute, labels = group_labels(frame, ["a", "b"])
    assert attribute == "a × b" and labels.tolist() == ["x × 1", "y × 1", "(missing) × 2"]


def test_ordinal_outcome_uses_cliffs_delta():
    frame = pd.DataFrame(
        {
            "g": ["a"] * 5 + ["b"] * 5,
            "grade": ["优秀", "良好", "良好", "合格", "合格", "良好", "合格", "合格", "不合格", "不合格"],
        }
    )
    out = disaggregate(frame, by="g", outcome="grade", reference="b").to_frame().set_index("group")
    # points a = [4,3,3,2,2], b = [3,2,2,1,1]: of the 25 pairs a wins 17, ties 6 and loses 2,
    # so δ = (17 − 2) / 25 = 0.6
    assert out.loc["a", "effect"] == pytest.approx(0.6)
    assert out.loc["a", "effect_measure"] == "cliffs_delta"
    assert out.loc["a", "estimate"] == pytest.approx(2.8)
    mw = stats.mannwhitneyu([4, 3, 3, 2, 2], [3, 2, 2, 1, 1], alternative="two-sided")
    assert out.loc["a", "p_value"] == pytest.approx(mw.pvalue)


def test_error_messages_name_the_problem():
    frame = two_groups([1, 2, 3, 4, 5], [3, 4, 5, 6, 7])
    with pytest.raises(AuditError, match=re.escape(ERR_COLUMN.format(column="area", available="g, score"))):
        disaggregate(frame, by="area")
    with pytest.raises(AuditError, match=re.escape(ERR_LANG.format(lang="fr"))):
        disaggregate(frame, by="g", lang="fr")
    with pytest.raises(AuditError, match=re.escape(ERR_MIN_N.format(min_n=1))):
        disaggregate(frame, by="g", min_n=1)
    with pytest.raises(AuditError, match=re.escape(ERR_NO_LEGITIMATE)):
        conditional_parity(frame, by="g", legitimate=[])


# ----------------------------------------------------------------------------- adverse impact
def _fisher_by_hand(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher p: sum of hypergeometric probabilities no larger than the observed one."""
    row, col, n = a + b, a + c, a + b + c + d

    def pmf(x):
        return math.comb(col, x) * math.comb(n - col, row - x) / math.comb(n, row)

    observed = pmf(a)
    support = range(max(0, row + col - n), min(row, col) + 1)
    return sum(pmf(x) for x in support if pmf(x) <= observed * (1 + 1e-7))


def test_impact_ratio_fisher_shortfall_by_hand():
    frame = pd.DataFrame(
        {"g": ["a"] * 20 + ["b"] * 20, "grade": ["优秀"] * 10 + ["合格"] * 10 + ["优秀"] * 4 + ["合格"] * 16}
    )
    result = adverse_impact(frame, by="g", cuts=["优秀"], lang="en")
    out = result.to_frame().set_index("group")
    b = out.loc["b"]
    assert b["rate"] == 0.2 and b["favoured_group"] == "a" and b["favoured_rate"] == 0.5
    assert b["estimate"] == pytest.approx(0.4)
    assert b["p_value"] == pytest.approx(_fisher_by_hand(4, 16, 10, 10), rel=1e-9)
    assert b["p_value"] == pytest.approx(0.0958, abs=1e-4)  # = 2·P(X ≤ 4), X ~ Hyp(40, 14, 20)
    # Katz: ln 0.4 ± 1.96·√(1/4 − 1/20 + 1/10 − 1/20) = ln 0.4 ± 1.96·0.5
    assert b["ci_low"] == pytest.approx(0.4 * math.exp(-1.959964 * 0.5), rel=1e-5)
    assert b["expected"] == pytest.approx(7.0) and b["shortfall"] == pytest.approx(3.0)
    assert b["to_clear"] == 4  # needs 0.8 · 0.5 · 20 = 8 selections, has 4
    assert b["below_threshold"] and not b["significant"] and not b["flagged"]
    assert out.loc["a", "role"] == "favoured" and np.isnan(out.loc["a", "p_value"])
    assert result.note == FOUR_FIFTHS_NOTE["en"] and result.note in result.summary()
    assert "nor a legal finding" in FOUR_FIFTHS_NOTE["en"] and "不是法律结论" in FOUR_FIFTHS_NOTE["zh"]


def test_fisher_compares_with_the_rest_or_the_favoured_group():
    frame = pd.DataFrame(
        {
            "g": ["a"] * 12 + ["b"] * 10 + ["c"] * 10,
            "grade": ["良好"] * 9 + ["合格"] * 3 + ["良好"] * 6 + ["合格"] * 4 + ["良好"] * 2 + ["合格"] * 8,
        }
    )
    rest = adverse_impact(frame, by="g", cuts=["良好"]).to_frame().set_index("group")
    favoured = adverse_impact(frame, by="g", cuts=["良好"], comparison="favoured").to_frame().set_index("group")
    # c: 2 of 10 vs the rest 15 of 22; vs the favoured a 9 of 12
    assert rest.loc["c", "p_value"] == pytest.approx(_fisher_by_hand(2, 8, 15, 7), rel=1e-9)
    assert favoured.loc["c", "p_value"] == pytest.approx(_fisher_by_hand(2, 8, 9, 3), rel=1e-9)
    assert rest.loc["c", "estimate"] == pytest.approx(0.2 / 0.75)
    # Holm over the two tests of the table
    p = rest["p_value"].dropna()
    assert rest["p_adjusted"].dropna().tolist() == pytest.approx(multipletests(p, method="holm")[1].tolist())


def test_holm_matches_statsmodels_and_nan_are_left_out():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.2, 17)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    bh = adjust_pvalues(np.r_[p, np.nan], "fdr_bh")
    assert bh[:-1] == pytest.approx(multipletests(p, method="fdr_bh")[1]) and np.isnan(bh[-1])


def test_unknown_cut_is_refused():
    frame = pd.DataFrame({"g": ["a"] * 5, "grade": ["优秀"] * 5})
    with pytest.raises(AuditError, match=re.escape(ERR_CUT.format(cut="不合格", grades="优秀, 良好, 合格"))):
        adverse_impact(frame, by="g", cuts=["不合格"])


# ----------------------------------------------------------------------------- planted disadvantage
def test_planted_rural_disadvantage_is_flagged_with_group_and_direction(planted):
    groups = disaggregate(planted, by="area_type").to_frame().set_index("group")
    assert groups.loc["农村", "flagged"] and groups.loc["农村", "effect"] < -0.5
    assert not groups.loc["城乡结合部", "flagged"]
    impact = adverse_impact(planted, by="area_type").to_frame()
    flagged = impact[impact["flagged"]]
    assert set(flagged["group"]) == {"农村"}
    assert (flagged["estimate"] < 0.8).all() and (flagged["shortfall"] > 0).all()
    assert (flagged["to_clear"] >= 1).all()


def test_planted_gap_is_unexplained_by_workload(planted):
    parity = conditional_parity(planted, by="area_type", legitimate="incidents_per_officer", n_boot=100).to_frame()
    rural = parity[parity["group"] == "农村"].set_index("component")
    assert rural.loc["unexplained", "flagged"] and rural.loc["stratified", "flagged"]
    low, high = rural.loc["unexplained", ["ci_low", "ci_high"]]
    assert low < -PLANTED_POINTS < high
    # the two parts add up to the raw gap exactly (pooled two-fold decomposition)
    assert rural.loc["explained", "estimate"] + rural.loc["unexplained", "estimate"] == pytest.approx(
        rural.loc["raw", "estimate"]
    )


def test_planted_area_effect_shows_in_context_neutrality(planted):
    table = context_neutrality(planted, context=["population", "incident_volume", "area_type"]).to_frame()
    partial = table[table["measure"] == "partial_r2"].set_index("variable")
    assert partial.loc["area_type", "flagged"]
    assert not partial.loc["population", "flagged"] and not partial.loc["incident_volume", "flagged"]
    assert partial.loc["area_type", "estimate"] > 0.1
    auc = table[table["measure"] == "auc"].iloc[0]
    assert 0 <= auc["estimate"] <= 1 and auc["n"] == 90


def test_gap_explained_by_a_legitimate_factor_is_not_flagged():
    rng = np.random.default_rng(11)
    n = 120
    rural = np.arange(n) < 50
    workload = np.where(rural, rng.normal(40, 8, n), rng.normal(60, 8, n))
    score = 30 + 0.6 * workload + rng.normal(0, 4, n)  # depends on workload only
    frame = pd.DataFrame({"area": np.where(rural, "农村", "城区"), "score": score, "workload": workload})
    parity = conditional_parity(frame, by="area", legitimate="workload", n_boot=200, rng=1).to_frame()
    rows = parity.set_index("component")
    assert rows.loc["raw", "estimate"] < -8 and rows.loc["raw", "p_value"] < 1e-6
    assert rows.loc["explained", "estimate"] == pytest.approx(
        0.6 * (workload[rural].mean() - workload[~rural].mean()), abs=3
    )
    assert rows.loc["unexplained", "ci_low"] < 0 < rows.loc["unexplained", "ci_high"]
    assert not rows["flagged"].any()


# ----------------------------------------------------------------------------- many seeds
N_SEEDS = 200


def _flags(frame: pd.DataFrame) -> dict[str, float | bool]:
    groups = disaggregate(frame, by="area_type").to_frame()
    impact = adverse_impact(frame, by="area_type").to_frame()
    rural = groups.set_index("group").loc["农村"]
    return {
        "means": bool(groups["flagged"].any()),
        "impact": bool(impact["flagged"].any()),
        "raw_p": float(rural["p_value"]),
        "rural_lower": bool(rural["flagged"] and rural["effect"] < 0)
        or bool(impact.loc[impact["group"] == "农村", "flagged"].any()),
        "others": bool(groups.loc[groups["group"] != "农村", "flagged"].any())
        or bool(impact.loc[impact["group"] != "农村", "flagged"].any()),
    }


def test_false_alarm_rate_without_a_disadvantage_is_near_nominal():
    results = pd.DataFrame([_flags(f) for f in station_frames(N_SEEDS, penalty=0.0, seed=2024)])
    # Each check's Holm family (2 mean comparisons; 2 groups × 3 grade cuts) keeps the chance of
    # any false flag at or below 5 %; with 200 seeds the binomial SE is 1.5 points.
    assert results["means"].mean() <= 0.08
    assert results["impact"].mean() <= 0.08
    # a single uncorrected Welch test rejects about 5 % of the time (p-values are calibrated)
    assert 0.02 <= (results["raw_p"] < 0.05).mean() <= 0.09


def test_planted_disadvantage_is_detected_in_most_seeds():
    # a 1.2-sd penalty on 18 of 60 units: Welch's test alone has about 95 % power
    results = pd.DataFrame([_flags(f) for f in station_frames(N_SEEDS // 2, penalty=12.0, seed=7)])
    assert results["rural_lower"].mean() >= 0.9
    assert results["others"].mean() <= 0.1
