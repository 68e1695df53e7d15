"""Flags: codes in the data, words from the catalogue in Chinese and English."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.evaluation import evaluate
from perfmodel.flags import FLAG_CODES, FLAG_COLUMNS, FlagLog, flag_codes, flag_text, with_flag_text
from perfmodel.framework import framework_from_dict
from perfmodel.text import has_message


def _name(text: str, en: str | None = None) -> dict[str, str]:
    return {"zh": text, "en": en or text}


FRAMEWORK = framework_from_dict(
    {
        "id": "flagged",
        "name": _name("提示", "flags"),
        "level": "station",
        "peer_group": "station_class",
        "difficulty": {"by": "station_class", "coefficients": {"一类": 1.0}},
        "grading": {"method": "quota", "quotas": {"优秀": 0.25, "良好": 0.75}, "tie_break": ["dimension:d1"]},
        "negative_list": [
            {
                "id": "err",
                "name": _name("执法过错", "enforcement error"),
                "indicator": "errors",
                "consequence": "grade_cap",
                "grade_cap": "合格",
            },
            {"id": "warn", "name": _name("警示", "caution"), "indicator": "warned", "consequence": "warning"},
        ],
        "tree": [
            {
                "id": "d1",
                "name": _name("一", "one"),
                "weight": 0.5,
                "children": [{"id": "a", "name": _name("甲指标", "indicator a"), "weight": 1.0, "kind": "score"}],
            },
            {
                "id": "d2",
                "name": _name("二", "two"),
                "weight": 0.5,
                "children": [{"id": "b", "name": _name("乙指标", "indicator b"), "weight": 1.0, "kind": "score"}],
            },
        ],
    }
)


def test_every_code_has_words_in_both_languages():
    for code in FLAG_CODES:
        assert has_message(f"flag.{code}"), code
    with pytest.raises(ValueError, match="unknown flag code 'typo'"):
        FlagLog().add("u", "typo")


def test_each_flag_in_words_by_hand():
    log = FlagLog()
    log.add("u1", "negative_list", item="err", count=2)
    log.add("u1", "negative_list", item="warn", count=1)
    log.add("u1", "no_difficulty_coefficient", item="二类")
    log.add("u2", "quota_tie_broken")
    log.add("u2", "late_reports", count=4)
    log.add("u3", "low_availability", value=0.25, limit=0.5)
    frame = log.frame()
    assert list(frame.columns) == ["unit_id", "code", "item", "count", "of", "value", "limit"]
    assert flag_codes(frame, ["u1", "u2", "u3", "u4"]) == [
        "negative_list:err; negative_list:warn; no_difficulty_coefficient:二类",
        "quota_tie_broken; late_reports",
        "low_availability",
        "",
    ]
    zh = flag_text(frame, FRAMEWORK, "zh", units=["u1", "u2", "u3", "u4"])
    assert zh.tolist() == [
        "负面清单:执法过错×2(等级最高合格); 负面清单:警示×1(一票警示); 无难度系数(二类)",
        "同分,按并列规则(dimension:d1)评定; 迟报4条",
        "数据不足(覆盖25%<50%)",
        "",
    ]
    en = flag_text(frame, FRAMEWORK, "en")
    assert en["u1"] == (
        "negative list: enforcement error ×2 (grade at most Pass); "
        "negative list: caution ×1 (warning); no difficulty coefficient for class 二类 (1 used)"
    )
    assert en["u2"] == "tied score, decided by the tie-break rules (dimension:d1); 4 rows reported late"


def test_an_evaluation_records_codes_and_reports_show_words():
    units = pd.DataFrame(
        {
            "unit_id": ["A", "B", "C", "D"],
            "name": ["甲", "乙", "丙", "丁"],
            "level": "station",
            "station_class": ["一类", "一类", "一类", "二类"],
        }
    )
    values = {"A": (80.0, 60.0), "B": (60.0, 80.0), "C": (10.0, 10.0), "D": (50.0, 50.0)}
    rows = [
        ("2025-06", u, ind, v, np.nan, np.nan, None, u == "C" and ind == "a")
        for u, (a, b) in values.items()
        for ind, v in (("a", a), ("b", b))
    ]
    rows.append(("2025-06", "B", "errors", 1.0, np.nan, np.nan, None, False))
    obs = pd.DataFrame(
        rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator", "rater_id", "late"]
    )
    ev = evaluate(FRAMEWORK, obs, units, "2025-06", compare_previous=False)
    s = ev.scores.set_index("unit_id")
    # class 一类 (one place of 优秀): A and B tie on score and d1 (100 against 71.4) decides for A;
    # B's error caps it at 合格 anyway. D's class has no coefficient. C reported a late.
    assert s.loc["A", "flags"] == "quota_tie_broken"
    assert s.loc["B", "flags"] == "negative_list:err; quota_tie_broken"
    assert s.loc["C", "flags"] == "late_reports"
    assert s.loc["D", "flags"] == "no_difficulty_coefficient:二类"
    assert s.loc[["A", "B"], "grade"].tolist() == ["优秀", "合格"]
    shown = with_flag_text(ev.scores, ev.stages["flags"], ev.framework, "zh").set_index("unit_id")
    assert shown.loc["B", "flags"] == "负面清单:执法过错×1(等级最高合格); 同分,按并列规则(dimension:d1)评定"
    assert shown.loc["C", "flags"] == "迟报1条"
    english = with_flag_text(ev.scores, ev.stages["flags"], ev.framework, "en").set_index("unit_id")
    assert english.loc["D", "flags"] == "no difficulty coefficient for class 二类 (1 used)"


# ----------------------------------------------------------------------------- flags as columns
flag_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "单位", "c'd"]),
        st.sampled_from(["late_reports", "negative_list", "hard_threshold", "incomplete_data"]),
        st.sampled_from([None, "x", "complaint_upheld"]),
        st.sampled_from([math.nan, 0.0, 1.0, 2.5]),
    ),
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(rows=flag_rows, units=st.lists(st.sampled_from(["a", "b", "单位", "c'd", "none"]), max_size=6))
def test_flags_recorded_as_columns_equal_one_tuple_per_flag(rows, units):
    """extend() equals add() per unit, and the frame is the one a list of tuples makes (the former log)."""
    one_by_one, at_once = FlagLog(), FlagLog()
    for unit_id, code, item, count in rows:
        one_by_one.add(unit_id, code, item=item, count=count)
    for code in dict.fromkeys(r[1] for r in rows):  # each code's flags in one call (per code, order kept)
        mine = [r for r in rows if r[1] == code]
        at_once.extend([r[0] for r in mine], code, item=[r[2] for r in mine], count=[r[3] for r in mine])
    tuples = pd.DataFrame(
        [(u, c, i, float(n), math.nan, math.nan, math.nan) for u, c, i, n in rows], columns=list(FLAG_COLUMNS)
    )
    tuples["item"] = tuples["item"].astype(object)
    pd.testing.assert_frame_equal(one_by_one.frame(), tuples, check_exact=True)
    assert repr(one_by_one.frame()["item"].tolist()) == repr(tuples["item"].tolist())  # None stays None
    by_code = sorted(range(len(rows)), key=lambda k: list(dict.fromkeys(r[1] for r in rows)).index(rows[k][1]))
    expected = tuples.iloc[by_code].reset_index(drop=True)
    pd.testing.assert_frame_equal(at_once.frame(), expected, check_exact=True)
    pd.testing.assert_frame_equal(at_once.frame(release=True), expected, check_exact=True)  # the same table …
    assert at_once.frame().empty  # … and the log let go of
    # the scores' flags column: each unit's codes in the order raised, joined; "" without flags
    texts: dict[str, list[str]] = {}
    for unit_id, code, item, _ in rows:
        texts.setdefault(unit_id, []).append(code if item is None else f"{code}:{item}")
    assert flag_codes(one_by_one.frame(), units) == ["; ".join(texts.get(u, [])) for u in units]


def test_extend_refuses_unknown_codes_and_misaligned_columns():
    log = FlagLog()
    with pytest.raises(ValueError, match="unknown flag code"):
        log.extend(["a"], "no_such_code")
    with pytest.raises(ValueError, match="one value per unit"):
        log.extend(["a", "b"], "late_reports", item=["x"])
    with pytest.raises(ValueError, match="one value per unit"):
        log.extend(["a", "b"], "late_reports", count=[1.0])  # one value is given as a scalar, never as a list
    log.extend([], "late_reports")  # nothing to record
    assert log.frame().empty
