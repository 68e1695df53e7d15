"""Uncertainty and Sobol' sensitivity analysis: exact agreement with the pipeline, analytic indices."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from design_builders import indicator, name, toy_evaluation, toy_framework
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from perfmodel.aggregate import aggregate_tree
from perfmodel.design import sensitivity as sens
from perfmodel.design.sensitivity import (
    GRADE_LABELS,
    SensitivityError,
    UncertaintySpec,
    saltelli_design,
    scenarios,
    sobol,
    sobol_analysis,
    uncertainty,
)
from perfmodel.grading import rank_scores


def _row_weights(result, i: int) -> dict[str, float]:
    row = result.parameters.iloc[i]
    weights = {c[2:]: float(row[c]) for c in result.parameters.columns if c.startswith("w:")}
    if pd.notna(row["drop"]):
        weights[row["drop"]] = 0.0
    return weights


def _slow_reference(result, ev) -> np.ndarray:
    """One aggregate_tree call per replicate (the definition the engine must reproduce)."""
    normalised = ev.stages["normalised"]
    out = []
    for i in range(len(result)):
        method = result.parameters["aggregation"].iloc[i]
        tree = aggregate_tree(normalised, ev.framework, method, weights=_row_weights(result, i))
        out.append(tree["score"].reindex(result.units).to_numpy())
    return np.array(out)


@pytest.mark.parametrize("missing", [(), [(0, "a"), (3, "c"), (3, "d"), (5, "b")]])
@pytest.mark.parametrize("weights", ["uniform", "dirichlet"])
def test_vectorised_scores_equal_a_loop_over_aggregate_tree(weights, missing):
    ev = toy_evaluation(missing=missing)
    spec = UncertaintySpec(weights=weights, choices={"aggregation": None}, drop=True)
    result = uncertainty(ev, spec, draws=60, rng=3, progress=False)
    reference = _slow_reference(result, ev)
    np.testing.assert_allclose(result.scores, reference, rtol=1e-12, atol=1e-10)
    for i in range(len(result)):
        expected = rank_scores(pd.Series(reference[i])).to_numpy()
        np.testing.assert_array_equal(result.ranks[i], expected)
    # both aggregations and some drops were drawn, so the comparison covered them
    assert set(result.parameters["aggregation"]) == {"arithmetic", "geometric"}
    assert result.parameters["drop"].notna().sum() > 10


def test_respread_off_is_reproduced_for_missing_values():
    fw = toy_framework(aggregation={"method": "arithmetic", "respread_missing": False})
    ev = toy_evaluation(fw, missing=[(0, "a"), (4, "d")])
    result = uncertainty(ev, UncertaintySpec(drop=True), draws=40, rng=2, progress=False)
    reference = _slow_reference(result, ev)
    np.testing.assert_allclose(result.scores, reference, rtol=1e-12, atol=1e-10)
    assert np.isnan(result.scores[:, 0]).any()  # unit 0 lacks 'a' unless 'a' is dropped


def test_same_seed_gives_the_same_draws_and_another_seed_does_not():
    ev = toy_evaluation()
    spec = UncertaintySpec(weights="dirichlet", choices={"normalisation": ["minmax", "rank"]})
    one = uncertainty(ev, spec, draws=20, rng=7, progress=True)  # a progress bar changes nothing
    two = uncertainty(ev, spec, draws=20, rng=7, progress=False)
    other = uncertainty(ev, spec, draws=20, rng=8, progress=False)
    pd.testing.assert_frame_equal(one.parameters, two.parameters)
    np.testing.assert_array_equal(one.scores, two.scores)
    assert not np.allclose(one.parameters["w:a"], other.parameters["w:a"])


def test_every_replicate_can_be_rerun_exactly_through_the_pipeline():
    fw = toy_framework(
        peer_group="station_class",
        difficulty={"by": "station_class", "coefficients": {"一类": 1.05, "二类": 1.0}},
        grading={"method": "quota", "quotas": {"优秀": 0.2, "良好": 0.3, "合格": 0.3}, "within": "station_class"},
    )
    ev = toy_evaluation(fw, n=16)
    spec = UncertaintySpec(
        weights="uniform",
        weight_range=0.4,
        choices={"normalisation": ["minmax", "rank", "zscore"], "aggregation": None},
        drop=True,
    )
    result = uncertainty(ev, spec, draws=30, rng=11, progress=False)
    for i in (0, 7, 19, 29):
        rerun = result.replicate(i).scores.set_index("unit_id").reindex(result.units)
        np.testing.assert_allclose(rerun["score"].to_numpy(), result.scores[i], rtol=1e-12)
        np.testing.assert_array_equal(rerun["rank"].to_numpy(), result.ranks[i])
        assert rerun["grade"].tolist() == [GRADE_LABELS[k] for k in result.grades[i]]


def test_nothing_varied_reproduces_the_stated_result():
    ev = toy_evaluation(peer_group="station_class")
    result = uncertainty(ev, UncertaintySpec(weights="none"), draws=5, rng=1, progress=False)
    table = result.by_unit()
    assert (table["median_rank"] == table["stated_rank"]).all()
    assert (table["rank_p05"] == table["rank_p95"]).all()
    for grade, p in zip(table["stated_grade"], table.filter(like="P(").to_numpy(), strict=True):
        assert p[GRADE_LABELS.index(grade)] == 1.0
    assert (result.rank_shift() == 0).all()


def test_uniform_weights_stay_within_their_range_and_keep_sibling_totals():
    ev = toy_evaluation()
    r = 0.25
    table = uncertainty(ev, UncertaintySpec(weight_range=r), draws=400, rng=5, progress=False).parameters
    assert np.allclose(table["w:d1"] + table["w:d2"], 1.0)
    assert np.allclose(table["w:c"] + table["w:d"], 1.0)
    ratio = (table["w:d"] / table["w:c"]) / (0.7 / 0.3)
    lo, hi = (1 - r) / (1 + r), (1 + r) / (1 - r)
    assert ratio.between(lo, hi).all()
    assert ratio.min() < 0.75 and ratio.max() > 1.3  # the range is actually used


def test_dirichlet_weights_have_the_stated_mean_and_dirichlet_variance():
    ev = toy_evaluation()
    c = 20.0
    table = uncertainty(
        ev, UncertaintySpec(weights="dirichlet", concentration=c), draws=4000, rng=9, progress=False
    ).parameters
    w = table["w:d"]
    assert w.mean() == pytest.approx(0.7, abs=0.01)
    assert w.var() == pytest.approx(0.7 * 0.3 / (c + 1), rel=0.1)


def test_scenario_dropping_an_indicator_equals_regen_with_zero_weight():
    ev = toy_evaluation(peer_group="station_class")
    res = scenarios(ev, [{"drop": "c"}, {"aggregation": "geometric"}])
    dropped = ev.regen(weights={"c": 0.0}).scores.set_index("unit_id").reindex(res.units)
    np.testing.assert_allclose(res.scores[0], dropped["score"].to_numpy(), rtol=1e-12)
    geometric = ev.regen(aggregation="geometric").scores.set_index("unit_id").reindex(res.units)
    np.testing.assert_allclose(res.scores[1], geometric["score"].to_numpy(), rtol=1e-12)


def _quota_tie_evaluation():
    """20 stations, two classes of 10 with the same pattern, quota grades within class, exact ties.

    Equal weights everywhere and values in multiples of 12.5 between 0 and 100, so
    min-max normalisation and every mean are exact. Per class (quota 2/3/3 places):
    100 → 优秀; two at 75, one strong on d1 (the heaviest top-level node: the
    first of equal weights) and one on d2 → the tie-break gives the d1 unit the
    last place of 优秀, the other 良好; 62.5 → 良好; two identical units at 50,
    one place of 良好 left → both 合格 (tie lowered); 37.5 → 合格; 25, 12.5, 0 → 不合格.
    """
    fw = toy_framework(
        peer_group="station_class",
        grading={"method": "quota", "quotas": {"优秀": 0.2, "良好": 0.3, "合格": 0.3}, "within": "station_class"},
        tree=[
            {
                "id": "d1",
                "name": name("d1"),
                "weight": 0.5,
                "children": [indicator("a", 0.5), indicator("b", 0.5, direction="lower")],
            },
            {"id": "d2", "name": name("d2"), "weight": 0.5, "children": [indicator("c", 0.5), indicator("d", 0.5)]},
        ],
    )
    d1_d2 = [
        (100, 100),
        (100, 50),
        (50, 100),
        (62.5, 62.5),
        (50, 50),
        (50, 50),
        (37.5, 37.5),
        (25, 25),
        (12.5, 12.5),
        (0, 0),
    ]
    rows = [(d1, 100 - d1, d2, d2) for d1, d2 in d1_d2 for _ in range(2)]  # b: lower is better
    values = pd.DataFrame(rows, index=[f"U{i:02d}" for i in range(20)], columns=["a", "b", "c", "d"])
    return toy_evaluation(fw, n=20, values=values)


QUOTA_TIE_GRADES = ["优秀", "优秀", "良好", "良好", "合格", "合格", "合格", "不合格", "不合格", "不合格"]


def test_replicates_of_the_stated_weights_equal_the_evaluation_exactly_with_quota_ties():
    ev = _quota_tie_evaluation()
    stated = ev.scores.set_index("unit_id").sort_index()
    # the evaluation itself, by hand (both classes have the same pattern: units 2k and 2k+1)
    assert stated["grade"].tolist() == [g for g in QUOTA_TIE_GRADES for _ in range(2)]
    notes = ev.stages["grading_notes"]
    assert sorted(notes.loc[notes["code"] == "quota_tie_broken", "unit_id"]) == ["U02", "U03", "U04", "U05"]
    assert sorted(notes.loc[notes["code"] == "quota_tie_lowered", "unit_id"]) == ["U08", "U09", "U10", "U11"]
    result = uncertainty(ev, UncertaintySpec(weights="none"), draws=4, rng=1, progress=False)
    expected = stated.reindex(result.units)
    for i in range(len(result)):
        np.testing.assert_array_equal(result.scores[i], expected["score"].to_numpy())
        np.testing.assert_array_equal(result.ranks[i], expected["rank"].to_numpy())
        assert [GRADE_LABELS[k] for k in result.grades[i]] == expected["grade"].tolist()


def test_quota_ties_under_drawn_weights_equal_a_rerun_through_the_pipeline():
    """Identical units stay tied in every draw; the tie-break keys follow each draw's weights."""
    ev = _quota_tie_evaluation()
    result = uncertainty(ev, UncertaintySpec(weights="uniform", weight_range=0.5), draws=12, rng=4, progress=False)
    lowered = 0
    for i in range(len(result)):
        rerun = result.replicate(i)
        scores = rerun.scores.set_index("unit_id").reindex(result.units)
        np.testing.assert_allclose(scores["score"].to_numpy(), result.scores[i], rtol=1e-12)
        np.testing.assert_array_equal(scores["rank"].to_numpy(), result.ranks[i])
        assert scores["grade"].tolist() == [GRADE_LABELS[k] for k in result.grades[i]]
        lowered += (rerun.stages["grading_notes"]["code"] == "quota_tie_lowered").sum()
    assert lowered > 0  # the identical pairs were still tied at a boundary in some draws


def test_pending_choice_is_recorded_without_effect(monkeypatch):
    monkeypatch.setitem(sens.PENDING_CHOICES, "calibration", "perfmodel.no_such_module")
    ev = toy_evaluation()
    spec = UncertaintySpec(weights="none", choices={"calibration": [False, True]})
    result = uncertainty(ev, spec, draws=20, rng=1, progress=False)
    assert set(result.parameters["calibration"]) == {"none", "full"}
    assert result.notes and "calibration" in result.notes[0]
    assert (result.rank_shift() == 0).all()
    flagged = int(np.flatnonzero(result.parameters["calibration"] == "full")[0])
    assert result.replicate(flagged).settings.calibration == "none"  # not passed while pending


def test_clear_errors_for_impossible_specifications():
    ev = toy_evaluation()
    with pytest.raises(SensitivityError, match="unknown choice 'normalization'.*normalisation"):
        uncertainty(ev, UncertaintySpec(choices={"normalization": None}), draws=2, progress=False)
    with pytest.raises(SensitivityError, match="unknown option.*'minmx'"):
        uncertainty(ev, UncertaintySpec(choices={"normalisation": ["minmx"]}), draws=2, progress=False)
    with pytest.raises(SensitivityError, match="weight_range=25"):
        UncertaintySpec(weight_range=25)
    with pytest.raises(SensitivityError, match="drop: zz not indicators"):
        uncertainty(ev, UncertaintySpec(drop=["zz"]), draws=2, progress=False)


# ---------------------------------------------------------------- Sobol'
ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


def ishigami(U: np.ndarray) -> np.ndarray:
    x = -np.pi + 2 * np.pi * U
    return np.sin(x[:, 0]) + ISHIGAMI_A * np.sin(x[:, 1]) ** 2 + ISHIGAMI_B * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_analytic() -> tuple[list[float], list[float]]:
    """Closed-form indices (Ishigami & Homma 1990; Sobol' & Levitan 1999)."""
    a, b, pi = ISHIGAMI_A, ISHIGAMI_B, math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_ishigami_indices_match_the_analytic_values():
    s1, st_ = ishigami_analytic()
    assert s1 == pytest.approx([0.314, 0.442, 0.0], abs=1e-3)
    assert st_ == pytest.approx([0.558, 0.442, 0.244], abs=1e-3)
    table = sobol_analysis(ishigami, 3, 2**12, rng=1, bootstrap=300)
    assert table["S1"].tolist() == pytest.approx(s1, abs=0.02)
    assert table["ST"].tolist() == pytest.approx(st_, abs=0.02)
    assert (table["S1_low"] < table["S1_high"]).all()
    assert ((table["ST_low"] - 0.02 <= st_) & (np.array(st_) <= table["ST_high"] + 0.02)).all()


def test_additive_function_has_variance_shares_as_indices():
    # y = u1 + 2 u2 with u uniform: V = 1/12 + 4/12, so S = ST = 1/5 and 4/5
    table = sobol_analysis(lambda U: U[:, 0] + 2 * U[:, 1], 2, 2**10, bootstrap=0, sampling="random", rng=4)
    assert table["S1"].tolist() == pytest.approx([0.2, 0.8], abs=0.05)
    assert table["ST"].tolist() == pytest.approx([0.2, 0.8], abs=0.05)


def test_saltelli_design_layout():
    U, blocks = saltelli_design(8, 3, [(0,), (1, 2)], rng=1)
    assert U.shape == (8 * 4, 3)
    A, B, AB0, AB1 = U[:8], U[8:16], U[16:24], U[24:]
    np.testing.assert_array_equal(AB0[:, 0], B[:, 0])
    np.testing.assert_array_equal(AB0[:, 1:], A[:, 1:])
    np.testing.assert_array_equal(AB1[:, 1:], B[:, 1:])
    np.testing.assert_array_equal(AB1[:, 0], A[:, 0])
    assert list(blocks[[0, 8, 16, 24]]) == ["A", "B", "AB:0", "AB:1"]


def test_sobol_on_an_evaluation(monkeypatch):
    monkeypatch.setitem(sens.PENDING_CHOICES, "calibration", "perfmodel.no_such_module")
    ev = toy_evaluation(n=20)
    spec = UncertaintySpec(
        weights="uniform",
        weight_range=0.5,
        choices={"normalisation": ["minmax", "rank"], "calibration": [False, True]},
        drop=True,
    )
    res = sobol(ev, spec, n=32, rng=2, bootstrap=50, progress=False)
    factors = ["weights", "normalisation", "calibration", "drop"]
    assert res.indices["factor"].tolist() == factors
    assert len(res.runs) == 32 * (len(factors) + 2)
    no_op = res.indices.set_index("factor").loc["calibration"]
    assert no_op["ST"] == 0.0 and no_op["S1"] == pytest.approx(0.0, abs=1e-12)
    assert (res.indices.set_index("factor").loc[["weights", "normalisation", "drop"], "ST"] > 0).all()
    assert set(res.by_unit["factor"]) == set(factors)
    by_set = sobol(ev, UncertaintySpec(weight_factors="by_set"), n=8, bootstrap=0, progress=False)
    assert by_set.indices["factor"].tolist() == ["weights:(root)", "weights:d1", "weights:d2"]
    assert res.uncertainty()["n_replicates"].iloc[0] == 64  # the A and B blocks


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (9, 4), elements=st.one_of(st.just(np.nan), st.floats(-50, 50))))
def test_fast_quantiles_equal_numpy(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        expected = np.nanpercentile(values, [5, 50, 95], axis=0)
    got = sens._nan_quantiles(values, (0.05, 0.5, 0.95))
    np.testing.assert_allclose(np.array(got), expected, equal_nan=True, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- rng (issue 12)
# numpy.random.default_rng(42).random(6), written out: the draws the former seed=42 gave
DRAWS_42 = [
    0.7739560485559633,
    0.4388784397520523,
    0.8585979199113825,
    0.6973680290593639,
    0.09417734788764953,
    0.9756223516367559,
]


def test_an_int_rng_gives_the_draws_the_former_seed_gave():
    ev = toy_evaluation()
    spec = UncertaintySpec(weights="none", choices={"normalisation": ["minmax", "rank"]})
    picked = uncertainty(ev, spec, draws=6, rng=42, progress=False).parameters["normalisation"]
    assert picked.tolist() == ["minmax" if u < 0.5 else "rank" for u in DRAWS_42]  # one column: u → option
    U, _ = saltelli_design(2, 3, rng=42, sampling="random")
    np.testing.assert_array_equal(U[0], DRAWS_42[:3])  # A's first row, then B's: one row of 2 × 3 draws
    np.testing.assert_array_equal(U[2], DRAWS_42[3:])
    from scipy.stats import qmc

    sobol_rows, _ = saltelli_design(8, 3, rng=5)
    former = qmc.Sobol(d=6, scramble=True, seed=5).random_base2(3)  # what seed=5 scrambled with
    np.testing.assert_array_equal(sobol_rows[:8], former[:, :3])
    np.testing.assert_array_equal(sobol_rows[8:16], former[:, 3:])


def test_a_generator_rng_is_used_as_it_is():
    ev = toy_evaluation()
    spec = UncertaintySpec(weights="none", choices={"normalisation": ["minmax", "rank"]})
    stream = np.random.default_rng(42)
    first = uncertainty(ev, spec, draws=6, rng=stream, progress=False).parameters
    assert first["normalisation"].tolist() == ["minmax" if u < 0.5 else "rank" for u in DRAWS_42]
    assert stream.random() == np.random.default_rng(42).random(7)[6]  # the caller's stream advanced by 6
    res = sobol(ev, UncertaintySpec(weight_range=0.5), n=8, bootstrap=20, rng=np.random.default_rng(1), progress=False)
    assert res.indices["factor"].tolist() == ["weights"] and np.isfinite(res.indices["ST"]).all()
    table = sobol_analysis(lambda U: U[:, 0] + 2 * U[:, 1], 2, 2**6, bootstrap=10, rng=np.random.default_rng(3))
    assert (table["S1_low"] <= table["S1_high"]).all()


@pytest.mark.parametrize("bad", [1.5, "1", -1, True])
def test_a_bad_rng_is_refused(bad):
    from perfmodel.errors import OptionError

    with pytest.raises(OptionError, match="rng="):
        saltelli_design(4, 2, rng=bad)
    with pytest.raises(OptionError, match="rng="):
        uncertainty(toy_evaluation(), UncertaintySpec(), draws=2, rng=bad, progress=False)


def test_the_old_seed_keyword_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match=r"saltelli_design\(seed=…\) is deprecated; use rng="):
        old, _ = saltelli_design(4, 2, seed=3)
    np.testing.assert_array_equal(old, saltelli_design(4, 2, rng=3)[0])
