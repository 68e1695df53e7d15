"""End-to-end scoring against values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_builders import TOY, toy_data
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.evaluation import Evaluation, EvaluationError, Settings, evaluate
from perfmodel.flags import flag_text
from perfmodel.framework import FrameworkError, framework_from_dict


def test_toy_scores_match_hand_computation():
    # r: A 27/30=0.9, B 7/10=0.7, C 0.5 -> 100, 50, 0
    # d (lower): A 2, B 4, C 3 -> 100, 0, 50 ; D1 = A 100, B 25, C 25
    # s: A 85, B 70, C 60 -> 100, 40, 0 ; score = .6 D1 + .4 D2 -> A 100, B 31, C 15
    units, obs = toy_data()
    ev = evaluate(framework_from_dict(TOY), obs, units, "2025Q2", compare_previous=False)
    s = ev.scores.set_index("unit_id")
    assert s.loc[["A", "B", "C"], "score"].tolist() == pytest.approx([100.0, 31.0, 15.0])
    assert s.loc[["A", "B", "C"], "d1"].tolist() == pytest.approx([100.0, 25.0, 25.0])
    assert s.loc[["A", "B", "C"], "rank"].tolist() == [1, 2, 3]
    assert s.loc[["A", "B", "C"], "grade"].tolist() == ["优秀", "不合格", "不合格"]
    assert ev.stages["normalised"].loc["B", "r"] == pytest.approx(50.0)


def test_every_stage_is_kept_and_regen_changes_one_choice():
    units, obs = toy_data()
    ev = evaluate(framework_from_dict(TOY), obs, units, "2025Q2", compare_previous=False)
    for stage in ("raw", "rolled", "values", "denominated", "imputed", "treated", "normalised", "aggregated"):
        assert stage in ev.stages
    geo = ev.regen(aggregation="geometric")
    # geometric with floor 1: B's D1 = sqrt(50 * 1) = 7.07...
    assert geo.stages["aggregated"].loc["B", "d1"] == pytest.approx(np.sqrt(50.0))
    assert ev.scores.set_index("unit_id").loc["B", "score"] == pytest.approx(31.0)


def test_missing_indicator_weight_is_respread_and_coverage_recorded():
    units, obs = toy_data()
    obs = obs[~((obs.unit_id == "C") & (obs.indicator == "d"))]
    ev = evaluate(framework_from_dict(TOY), obs, units, "2025Q2", compare_previous=False)
    agg = ev.stages["aggregated"]
    assert agg.loc["C", "availability"] == pytest.approx(0.7)
    # d re-normalised over A, B only: A 100, B 0; C's D1 = its r score alone = 0
    assert agg.loc["C", "d1"] == pytest.approx(0.0)


def test_units_below_availability_are_not_graded_but_kept():
    units, obs = toy_data()
    obs = obs[~((obs.unit_id == "C") & (obs.indicator.isin(["r", "d"])))]
    ev = evaluate(framework_from_dict(TOY), obs, units, "2025Q2", compare_previous=False)
    c = ev.scores.set_index("unit_id").loc["C"]
    assert np.isnan(c["score"]) and c["grade"] == "未评定" and c["flags"] == "low_availability"
    # C has only s (weight 0.4) of 1.0: coverage 40 % < 50 %
    assert flag_text(ev.stages["flags"], ev.framework, "zh")["C"] == "数据不足(覆盖40%<50%)"
    assert flag_text(ev.stages["flags"], ev.framework, "en")["C"] == "too little data (coverage 40% < 50%)"
    assert len(ev.scores) == 3


def test_period_without_data_is_a_clear_error():
    units, obs = toy_data()
    with pytest.raises(EvaluationError, match="no usable observations for period 2024Q1"):
        evaluate(framework_from_dict(TOY), obs, units, "2024Q1")


def test_rank_change_against_previous_quarter():
    units, obs = toy_data()
    earlier = obs.copy()
    earlier["period"] = earlier["period"].map({"2025-04": "2025-01", "2025-05": "2025-02", "2025-06": "2025-03"})
    # previous quarter: swap A and C ratings so C led
    earlier.loc[(earlier.indicator == "s") & (earlier.unit_id == "C"), "value"] = 100
    earlier.loc[(earlier.indicator == "r") & (earlier.unit_id == "C"), ["value", "numerator"]] = [1.0, 10]
    ev = evaluate(framework_from_dict(TOY), pd.concat([earlier, obs]), units, "2025Q2")
    s = ev.scores.set_index("unit_id")
    assert s.loc["C", "previous_rank"] < s.loc["C", "rank"]
    assert (s["rank_change"] == s["previous_rank"] - s["rank"]).all()


def test_thresholds_bonus_negative_list_and_difficulty():
    fw = dict(TOY)
    fw["tree"] = [dict(TOY["tree"][0]), dict(TOY["tree"][1])]
    fw["tree"][0]["children"] = [
        {**TOY["tree"][0]["children"][0], "threshold": {"min": 0.6, "consequence": "grade_cap", "grade_cap": "合格"}},
        TOY["tree"][0]["children"][1],
    ]
    fw["difficulty"] = {"by": "station_class", "coefficients": {"一类": 1.1, "二类": 1.0}}
    fw["bonus"] = [
        {"id": "hard", "name": {"zh": "攻坚", "en": "hard"}, "indicator": "hard_cases", "points_per_unit": 2, "cap": 5}
    ]
    fw["negative_list"] = [
        {
            "id": "err",
            "name": {"zh": "执法过错", "en": "error"},
            "indicator": "errors",
            "consequence": "deduct",
            "points": 3,
        }
    ]
    units, obs = toy_data()
    units["station_class"] = ["二类", "一类", "二类"]
    extra = pd.DataFrame(
        [
            ("2025-04", "B", "hard_cases", 4.0, np.nan, np.nan, None),  # 8 points, capped at 5
            ("2025-05", "C", "errors", 1.0, np.nan, np.nan, None),
        ],
        columns=obs.columns[:-1],
    ).assign(late=False)
    ev = evaluate(framework_from_dict(fw), pd.concat([obs, extra]), units, "2025Q2", compare_previous=False)
    s = ev.scores.set_index("unit_id")
    assert s.loc["B", "score"] == pytest.approx(31.0 * 1.1 + 5)
    assert s.loc["C", "score"] == pytest.approx(15.0 - 3)
    assert s.loc["C", "deduction"] == 3
    breaches = ev.stages["breaches"]
    assert breaches["unit_id"].tolist() == ["C"]  # C's rate 0.5 < 0.6
    # flags as codes in the table, one row each with its details in stages["flags"], words at display time
    assert s.loc["C", "flags"] == "negative_list:err; hard_threshold:r"
    assert s.loc["A", "flags"] == "" and s.loc["B", "flags"] == ""
    rows = ev.stages["flags"].set_index("code")
    assert rows.loc["negative_list", ["unit_id", "item", "count"]].tolist() == ["C", "err", 1.0]
    assert rows.loc["hard_threshold", ["unit_id", "item", "value"]].tolist() == ["C", "r", 0.5]
    assert (
        flag_text(ev.stages["flags"], ev.framework, "zh")["C"] == "负面清单:执法过错×1(每次扣3分); 未达硬性指标:率(0.5)"
    )
    assert flag_text(ev.stages["flags"], ev.framework, "en")["C"] == (
        "negative list: error ×1 (3 points deducted each); hard threshold not met: rate (0.5)"
    )


def test_grade_cap_from_threshold_limits_best_unit():
    fw = dict(TOY)
    fw["tree"] = [dict(TOY["tree"][0]), TOY["tree"][1]]
    fw["tree"][0]["children"] = [
        {**TOY["tree"][0]["children"][0], "threshold": {"min": 0.95, "consequence": "grade_cap", "grade_cap": "合格"}},
        TOY["tree"][0]["children"][1],
    ]
    units, obs = toy_data()
    ev = evaluate(framework_from_dict(fw), obs, units, "2025Q2", compare_previous=False)
    assert ev.scores.set_index("unit_id").loc["A", "grade"] == "合格"  # score 100 but rate 0.9 < 0.95


def test_zero_consequence_sets_the_breaching_units_indicator_to_the_bottom_of_the_scale():
    # r: A 0.9, B 0.7, C 0.5; min 0.8 -> B and C breach. r normalised A 100, B 50 -> 0, C 0 -> 0;
    # D1 = (r + d) / 2: B (0 + 0) / 2 = 0, C (0 + 50) / 2 = 25; score = .6 D1 + .4 D2: B 0 + 16 = 16, C 15
    fw = dict(TOY)
    fw["tree"] = [dict(TOY["tree"][0]), TOY["tree"][1]]
    fw["tree"][0]["children"] = [
        {**TOY["tree"][0]["children"][0], "threshold": {"min": 0.8, "consequence": "zero"}},
        TOY["tree"][0]["children"][1],
    ]
    units, obs = toy_data()
    ev = evaluate(framework_from_dict(fw), obs, units, "2025Q2", compare_previous=False)
    assert ev.stages["normalised"].loc[["A", "B", "C"], "r"].tolist() == pytest.approx([100.0, 0.0, 0.0])
    assert ev.stages["breaches"][["unit_id", "indicator", "consequence"]].values.tolist() == [
        ["B", "r", "zero"],
        ["C", "r", "zero"],
    ]
    scores = ev.scores.set_index("unit_id")
    assert scores.loc[["A", "B", "C"], "score"].tolist() == pytest.approx([100.0, 16.0, 15.0])


def test_permuting_rows_leaves_scores_unchanged():
    units, obs = toy_data()
    fw = framework_from_dict(TOY)
    a = evaluate(fw, obs, units, "2025Q2", compare_previous=False).scores
    b = evaluate(
        fw, obs.sample(frac=1, random_state=7), units.sample(frac=1, random_state=3), "2025Q2", compare_previous=False
    ).scores
    pd.testing.assert_frame_equal(
        a.sort_values("unit_id").reset_index(drop=True), b.sort_values("unit_id").reset_index(drop=True)
    )


def test_unknown_peer_group_column_is_a_clear_error():
    units, obs = toy_data()
    ev = Evaluation(framework_from_dict(TOY), obs, units, "2025Q2", Settings(peer_group="nonexistent"))
    with pytest.raises(EvaluationError, match="peer group column 'nonexistent'"):
        ev.run()


def test_group_mean_and_carry_forward_imputation_in_the_pipeline():
    units, obs = toy_data()
    units["station_class"] = ["x", "x", "x"]
    earlier = obs[(obs.unit_id == "C") & (obs.indicator == "d")].copy()
    earlier["period"] = earlier["period"].map({"2025-04": "2025-01", "2025-05": "2025-02", "2025-06": "2025-03"})
    earlier["value"] = 5.0
    gap = obs[~((obs.unit_id == "C") & (obs.indicator == "d"))]
    fw = framework_from_dict({**TOY, "peer_group": "station_class"})
    by_group = evaluate(fw, gap, units, "2025Q2", imputation="group_mean", compare_previous=False)
    assert by_group.stages["imputed"].loc["C", "d"] == pytest.approx(3.0)  # mean of A 2 and B 4
    carried = evaluate(
        fw, pd.concat([earlier, gap]), units, "2025Q2", imputation="carry_forward", compare_previous=False
    )
    assert carried.stages["imputed"].loc["C", "d"] == pytest.approx(5.0)
    log = carried.stages["imputation_log"]
    assert len(log) == 1 and log.iloc[0]["method"] == "carry_forward"
    nothing = evaluate(fw, gap, units, "2025Q2", imputation="none", compare_previous=False)
    assert np.isnan(nothing.stages["imputed"].loc["C", "d"])


def test_a_temporary_indicator_outside_its_window_does_not_count_as_missing():
    """R6: outside its window a temporary indicator has weight 0, so complete data are 100 % available."""
    fw = dict(TOY)
    fw["tree"] = [dict(TOY["tree"][0]), TOY["tree"][1]]
    fw["tree"][0]["children"] = [
        {**TOY["tree"][0]["children"][0], "weight": 0.4},
        {**TOY["tree"][0]["children"][1], "weight": 0.4},
        {
            "id": "fraud",
            "name": {"zh": "电诈", "en": "fraud"},
            "weight": 0.2,
            "kind": "rate",
            "temporary": {"valid_from": "2025-01", "valid_to": "2025-02"},
        },
    ]
    units, obs = toy_data()
    ev = evaluate(framework_from_dict(fw), obs, units, "2025Q2", compare_previous=False)
    assert ev.scores["availability"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    # with the same weights inside the window the missing indicator is missing: 1 - 0.6 * 0.2
    to_q1 = {"2025-04": "2025-01", "2025-05": "2025-02", "2025-06": "2025-03"}
    ev_q1 = evaluate(
        framework_from_dict(fw), obs.assign(period=obs["period"].map(to_q1)), units, "2025Q1", compare_previous=False
    )
    assert ev_q1.scores["availability"].tolist() == pytest.approx([0.88, 0.88, 0.88])


def test_indicators_may_sit_at_the_top_of_the_tree():
    """A flat framework (no dimensions): each indicator is its own top-level column."""
    flat = {
        "id": "flat",
        "name": {"zh": "平", "en": "flat"},
        "level": "station",
        "normalisation": {"method": "minmax", "range": [0, 100]},
        "tree": [TOY["tree"][0]["children"][0], {**TOY["tree"][1]["children"][0], "weight": 0.5}],
    }
    flat["tree"][0] = {**flat["tree"][0], "weight": 0.5}
    units, obs = toy_data()
    ev = evaluate(framework_from_dict(flat), obs[obs["indicator"] != "d"], units, "2025Q2", compare_previous=False)
    s = ev.scores.set_index("unit_id")
    # r: 100, 50, 0 (as in the toy); s: 100, 40, 0 -> mean 100, 45, 0
    assert s.loc[["A", "B", "C"], "r"].tolist() == pytest.approx([100.0, 50.0, 0.0])
    assert s.loc[["A", "B", "C"], "score"].tolist() == pytest.approx([100.0, 45.0, 0.0])


# ------------------------------------------------------------ extremes, ties and per-unit coverage
QUOTA_TOY = {**TOY, "grading": {"method": "quota", "quotas": {"优秀": 0.25, "良好": 0.5, "合格": 0.25}}}


def _with_copy_of(units: pd.DataFrame, obs: pd.DataFrame, source: str, new: str) -> tuple[pd.DataFrame, ...]:
    """The data plus unit ``new``, an exact copy of ``source`` (so that their scores tie exactly)."""
    unit = units[units["unit_id"] == source].assign(unit_id=new, name="丁")
    rows = obs[obs["unit_id"] == source].assign(unit_id=new)
    return pd.concat([units, unit], ignore_index=True), pd.concat([obs, rows], ignore_index=True)


def test_tied_units_at_a_quota_boundary_take_the_lower_grade_and_it_is_recorded():
    """Issue 10: tied units shared the better grade, exceeding the quota (A and D were both 优秀)."""
    units, obs = _with_copy_of(*toy_data(), "A", "D")
    ev = evaluate(framework_from_dict(QUOTA_TOY), obs, units, "2025Q2", compare_previous=False)
    s = ev.scores.set_index("unit_id")
    # 4 units: places 优秀 1, 良好 2, 合格 1. A and D tie on score, heaviest dimension (D1) and
    # negative hits (none): both take 良好; B 合格 (良好 is full), C 不合格
    assert s.loc[["A", "D", "B", "C"], "grade"].tolist() == ["良好", "良好", "合格", "不合格"]
    assert s.loc[["A", "D"], "rank"].tolist() == [1, 1]  # ranks still share the best place
    notes = ev.stages["grading_notes"]
    assert sorted(notes.loc[notes["code"] == "quota_tie_lowered", "unit_id"]) == ["A", "D"]
    assert s.loc["A", "flags"] == "quota_tie_lowered"
    assert flag_text(ev.stages["flags"], ev.framework, "zh")["A"] == "并列规则后仍同分、比例名额不足,取较低等级"


def test_tie_break_chain_of_the_framework_separates_tied_scores():
    # A and D tie on score only if the chain is not consulted; a negative-list hit for D breaks it
    fw = {
        **QUOTA_TOY,
        "negative_list": [
            {"id": "w", "name": {"zh": "警示", "en": "warn"}, "indicator": "warned", "consequence": "warning"}
        ],
    }
    units, obs = _with_copy_of(*toy_data(), "A", "D")
    hit = pd.DataFrame([("2025-05", "D", "warned", 1.0, np.nan, np.nan, None)], columns=obs.columns[:-1])
    ev = evaluate(
        framework_from_dict(fw), pd.concat([obs, hit.assign(late=False)]), units, "2025Q2", compare_previous=False
    )
    s = ev.scores.set_index("unit_id")
    assert s.loc[["A", "D"], "grade"].tolist() == ["优秀", "良好"]
    assert set(ev.stages["grading_notes"].query("code == 'quota_tie_broken'")["unit_id"]) == {"A", "D"}
    with pytest.raises(FrameworkError, match="dimension:nope"):
        evaluate(
            framework_from_dict({**fw, "grading": {**fw["grading"], "tie_break": ["dimension:nope"]}}),
            obs,
            units,
            "2025Q2",
            compare_previous=False,
        )


@pytest.mark.parametrize(
    "item",
    [
        {"id": "e", "name": {"zh": "过错", "en": "e"}, "indicator": "errors", "consequence": "deduct", "points": 3},
        {"id": "b", "name": {"zh": "加分", "en": "b"}, "indicator": "errors", "points_per_unit": 3},
    ],
)
def test_a_count_of_1e308_gives_no_grade_and_no_rank(item):
    """Issue 10: a count of 1e308 gave a -inf (or inf) score that was still graded and ranked last (first)."""
    key = "negative_list" if "consequence" in item else "bonus"
    units, obs = toy_data()
    extreme = pd.DataFrame([("2025-05", "B", "errors", 1e308, np.nan, np.nan, None)], columns=obs.columns[:-1])
    ev = evaluate(
        framework_from_dict({**TOY, key: [item]}),
        pd.concat([obs, extreme.assign(late=False)]),
        units,
        "2025Q2",
        compare_previous=False,
    )
    s = ev.scores.set_index("unit_id")
    assert np.isnan(s.loc["B", "score"]) and np.isnan(s.loc["B", "rank"]) and np.isnan(s.loc["B", "rank_overall"])
    assert s.loc["B", "grade"] == "未评定" and s.loc["B", "flags"].endswith("non_finite_score")
    infinity = "-inf" if key == "negative_list" else "inf"
    assert flag_text(ev.stages["flags"], ev.framework, "zh")["B"].endswith(f"得分非有限值({infinity}),不评定")
    assert ev.stages["grading_notes"].query("code == 'non_finite_score'")["unit_id"].tolist() == ["B"]
    assert s.loc[["A", "C"], "rank"].tolist() == [1, 2]


def test_a_unit_with_one_month_of_three_is_flagged_and_not_graded_others_unaffected():
    """Issue 10: a quarter with one month of data was scored and ranked with no flag."""
    units, obs = toy_data()
    short = obs[(obs["unit_id"] != "C") | (obs["period"] == "2025-04")]
    quota = {**TOY, "grading": {"method": "quota", "quotas": {"优秀": 0.5, "良好": 0.5}}}
    ev = evaluate(framework_from_dict(quota), short, units, "2025Q2", compare_previous=False)
    s = ev.scores.set_index("unit_id")
    assert np.isnan(s.loc["C", "score"]) and np.isnan(s.loc["C", "rank"]) and s.loc["C", "grade"] == "未评定"
    assert s.loc["C", "flags"] == "incomplete_data"  # not also low_availability
    assert flag_text(ev.stages["flags"], ev.framework, "zh")["C"] == "数据不完整(1/3个月有数据,需3个月)"
    assert flag_text(ev.stages["flags"], ev.framework, "en")["C"] == (
        "incomplete data (1 of 3 months with data, 3 required)"
    )
    assert ev.stages["unit_months"]["months"].to_dict() == {"A": 3, "B": 3, "C": 1}
    notes = ev.stages["grading_notes"]
    assert notes.query("code == 'incomplete_data'")["unit_id"].tolist() == ["C"]
    assert ev.key_figures()["grading_notes"] == {"incomplete_data": 1}
    # the others are scored as if C were not there (minmax over A and B only) ...
    alone = evaluate(
        framework_from_dict(quota),
        obs[obs["unit_id"] != "C"],
        units[units["unit_id"] != "C"],
        "2025Q2",
        compare_previous=False,
    ).scores.set_index("unit_id")
    assert s.loc[["A", "B"], "score"].tolist() == pytest.approx(alone.loc[["A", "B"], "score"].tolist())
    # ... and quotas count graded units only: of 2, one 优秀 and one 良好 (of 3 it would be 2 优秀)
    assert s.loc[["A", "B"], "grade"].tolist() == ["优秀", "良好"]


def test_min_months_declared_by_the_framework_is_read():
    units, obs = toy_data()
    short = obs[(obs["unit_id"] != "C") | (obs["period"] != "2025-06")]  # C: 2 of 3 months
    fw = framework_from_dict(TOY)
    lenient = framework_from_dict({**TOY, "missing": {**TOY.get("missing", {}), "min_months": 2}})
    ev = evaluate(lenient, short, units, "2025Q2", compare_previous=False)
    assert ev.scores.set_index("unit_id").loc["C", "grade"] != "未评定"
    strict = evaluate(fw, short, units, "2025Q2", compare_previous=False)
    assert strict.scores.set_index("unit_id").loc["C", "grade"] == "未评定"


def test_no_unit_with_enough_months_is_a_clear_error():
    units, obs = toy_data()
    with pytest.raises(EvaluationError, match="no unit has data in 3 of the 3 months of 2025Q2"):
        evaluate(framework_from_dict(TOY), obs[obs["period"] == "2025-04"], units, "2025Q2")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["一类", "二类", "b", ""]),
            st.one_of(st.none(), st.integers(1, 4).map(float)),
            st.one_of(st.just(np.nan), st.floats(-5, 5)),
        ),
        min_size=0,
        max_size=12,
    ),
    data=st.data(),
)
def test_the_scores_table_sorted_column_by_column_equals_a_sorted_frame(rows, data):
    """``_sorted_table`` gives what building the frame, ``sort_values`` and ``reset_index`` give."""
    from perfmodel.evaluation import _sorted_table

    index = pd.Index([f"U{k:02d}" for k in range(len(rows))], dtype="str")
    shuffled = data.draw(st.permutations(list(index)))  # a column whose index is in another order aligns
    columns = {
        "unit_id": pd.Series(index, index=index),
        "peer_group": pd.Series([r[0] for r in rows], index=index, dtype="str"),
        "rank": pd.Series([np.nan if r[1] is None else r[1] for r in rows], index=index, dtype=float),
        "score": pd.Series([r[2] for r in rows], index=index, dtype=float),
        "late": pd.Series([r[2] for r in rows], index=index, dtype=float).reindex(pd.Index(shuffled, dtype="str")),
        "grade": pd.Series(np.asarray(["A", "B"] * len(rows), dtype=object)[: len(rows)], index=index),
    }
    expected = pd.DataFrame(dict(columns), index=index)
    expected = expected.sort_values(["peer_group", "rank", "unit_id"], na_position="last").reset_index(drop=True)
    got = _sorted_table(columns, index, by=["peer_group", "rank", "unit_id"])
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert not columns  # handed over
