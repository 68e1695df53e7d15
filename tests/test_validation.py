"""Validation and quarantine: every reason code, messages, conservation, deadlines, formats."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfmodel.framework import framework_from_dict, framework_path, load_framework
from perfmodel.io import OBSERVATION_ALIASES, UNIT_ALIASES, InputError, read_table, write_table
from perfmodel.periods import reporting_deadline
from perfmodel.validation import (
    REASONS,
    ValidationResult,
    read_inputs,
    reason_text,
    validate_observations,
    validate_units,
)

FRAMEWORK = load_framework("station_four_dimension")

UNITS_CSV = (
    "unit_id,name,level,parent_id,station_class,population\n"
    "S01,东城所,station,,一类,50000\n"
    "S02,西城所,station,,二类,80000\n"
    "0012,北城所,派出所,,三类,30000\n"
    "O01,张三,officer,S01,,\n"
)
OBS_HEADER = "period,unit_id,indicator,value,numerator,denominator,rater_id,submitted_at\n"
GOOD_ROW = "2025-04,S01,case_compliance_rate,0.93,,,,\n"


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def run(tmp_path, body, header=OBS_HEADER, units=UNITS_CSV, framework=FRAMEWORK):
    """Validate ``header + body`` as obs.csv against units.csv; returns the observations result."""
    obs = write(tmp_path / "obs.csv", header + body)
    unit_file = write(tmp_path / "units.csv", units)
    result, units_result = read_inputs(framework, obs, unit_file)
    assert units_result.n_input == len(units_result.data) + len(units_result.quarantine)
    return result


def only_problem(result: ValidationResult, row: int) -> pd.Series:
    assert len(result.quarantine) == 1, result.quarantine[["row", "reason", "message"]]
    problem = result.quarantine.iloc[0]
    assert problem["row"] == row
    return problem


# ----------------------------------------------------------------------------- clean data
def test_clean_rows_are_typed(tmp_path):
    result = run(
        tmp_path,
        GOOD_ROW
        + "2025/5, S02 ,callback_satisfaction,,45,50,R1,2025-06-01 08:00:00\n"
        + "2025年6月,0012,enforcement_errors,2,,,,\n",
    )
    assert result.ok and result.n_input == 3
    data = result.data
    assert data.columns.tolist()[:12] == [
        "period",
        "unit_id",
        "indicator",
        "value",
        "numerator",
        "denominator",
        "rater_id",
        "submitted_at",
        "deadline",
        "late",
        "days_late",
        "source_row",
    ]
    assert data["period"].tolist() == ["2025-04", "2025-05", "2025-06"]
    assert data["unit_id"].tolist() == ["S01", "S02", "0012"]
    assert data["value"].tolist() == [0.93, 0.9, 2.0]  # 45 / 50 = 0.9
    assert data["numerator"].tolist()[1] == 45.0 and np.isnan(data["numerator"].iloc[0])
    assert data["rater_id"].isna().tolist() == [True, False, True]
    assert data["submitted_at"].iloc[1] == pd.Timestamp("2025-06-01 08:00")
    assert pd.isna(data["submitted_at"].iloc[0])
    assert data["late"].tolist() == [False, False, False]
    assert data["days_late"].tolist() == [0.0, 0.0, 0.0]
    assert data["source_row"].tolist() == [2, 3, 4]
    assert data["value"].dtype == np.float64 and data["late"].dtype == bool
    assert pd.api.types.is_datetime64_dtype(data["submitted_at"])
    assert result.quarantine.columns.tolist()[:5] == ["file", "row", "column", "reason", "message"]
    assert result.to_frame().empty


def test_unit_ids_are_compared_as_text(tmp_path):
    result = run(
        tmp_path,
        "2025-04,0012,case_compliance_rate,0.9,,,,\n2025-04,12,case_compliance_rate,0.9,,,,\n",
    )
    assert result.data["unit_id"].tolist() == ["0012"]
    assert result.quarantine["reason"].tolist() == ["unknown_unit"]


# ----------------------------------------------------------------------------- reason codes
OBSERVATION_CASES = [
    # (bad row, reason, column, fragments of the message)
    ("2025-04,,case_compliance_rate,0.9,,,,", "missing_key", "unit_id", ["the unit_id is blank"]),
    (
        ",S02,case_compliance_rate,0.9,,,,",
        "missing_key",
        "period",
        ["the period is blank", "2025-04"],
    ),
    ("2025-04,S02,,0.9,,,,", "missing_key", "indicator", ["the indicator is blank"]),
    (
        "2025-13,S02,case_compliance_rate,0.9,,,,",
        "bad_period",
        "period",
        ["'2025-13' has month 13", "YYYY-MM"],
    ),
    (
        "April,S02,case_compliance_rate,0.9,,,,",
        "bad_period",
        "period",
        ["'April' is not a month", "YYYY-MM"],
    ),
    (
        "2025-04,S99,case_compliance_rate,0.9,,,,",
        "unknown_unit",
        "unit_id",
        ["unit 'S99' is not in units.csv"],
    ),
    (
        "2025-04,O01,case_compliance_rate,0.9,,,,",
        "level_mismatch",
        "unit_id",
        ["unit 'O01' is an officer but framework 'station_four_dimension' scores stations"],
    ),
    (
        "2025-04,S02,case_compliance_rat,0.9,,,,",
        "unknown_indicator",
        "indicator",
        [
            "'case_compliance_rat' is not an indicator",
            "did you mean 'case_compliance_rate' (案件规范率)?",
        ],
    ),
    (  # a near miss in Chinese: a character left out of the name
        "2025-04,S02,案件规范,0.9,,,,",
        "unknown_indicator",
        "indicator",
        ["'案件规范' is not an indicator", "did you mean 'case_compliance_rate' (案件规范率)?"],
    ),
    (
        "2025-04,S02,enforcement_errors,inf,,,,",
        "non_finite",
        "value",
        ["value 'inf' is infinite", "enter the real figure"],
    ),
    (
        "2025-04,S02,enforcement_errors,1e999,,,,",
        "non_finite",
        "value",
        ["value '1e999' is infinite"],
    ),
    (
        "2025-04,S02,case_compliance_rate,,-Infinity,10,,",
        "non_finite",
        "numerator",
        ["numerator '-Infinity' is infinite"],
    ),
    (  # issue 10: a count of 1e308 gave a -inf score that was still graded
        "2025-04,S02,enforcement_errors,1e308,,,,",
        "absurd_value",
        "value",
        ["value '1e308' is beyond any real figure (magnitude above 1e+12)"],
    ),
    (
        "2025-04,S02,case_compliance_rate,,5,2e12,,",
        "absurd_value",
        "denominator",
        ["denominator '2e12' is beyond any real figure"],
    ),
    (
        "2025-04,S02,case_compliance_rate,abc,,,,",
        "non_numeric",
        "value",
        ["'abc' is not a number — enter a plain number such as 0.93"],
    ),
    (
        "2025-04,S02,case_compliance_rate,93%,,,,",
        "non_numeric",
        "value",
        ["without '%' (93% → 0.93)"],
    ),
    (
        '2025-04,S02,enforcement_errors,"1,234",,,,',
        "non_numeric",
        "value",
        ["thousands separators"],
    ),
    (
        "2025-04,S02,case_compliance_rate,,x,10,,",
        "non_numeric",
        "numerator",
        ["'x' is not a number"],
    ),
    ("2025-04,S02,case_compliance_rate,,,,,", "missing_value", "value", ["the value is blank"]),
    (
        "2025-04,S02,case_compliance_rate,N/A,,,,",
        "missing_value",
        "value",
        ["'N/A' marks the value as missing"],
    ),
    (
        "2025-04,S02,case_compliance_rate,,5,,,",
        "missing_value",
        "value",
        ["numerator and denominator"],
    ),
    (
        "2025-04,S02,case_compliance_rate,93,,,,",
        "rate_out_of_range",
        "value",
        ["value 93 is a rate above 1 and looks like a percentage — divide it by 100"],
    ),
    (
        "2025-04,S02,case_compliance_rate,-0.1,,,,",
        "rate_out_of_range",
        "value",
        ["rate outside 0–1"],
    ),
    (
        "2025-04,S02,case_compliance_rate,250,,,,",
        "rate_out_of_range",
        "value",
        ["rate outside 0–1"],
    ),
    (
        "2025-04,S02,case_compliance_rate,,12,10,,",
        "numerator_gt_denominator",
        "numerator",
        ["numerator 12 is larger than denominator 10"],
    ),
    (
        "2025-04,S02,enforcement_errors,-1,,,,",
        "negative_count",
        "value",
        ["value -1 is negative, but a count cannot be"],
    ),
    (
        "2025-04,S02,case_compliance_rate,,-1,10,,",
        "negative_count",
        "numerator",
        ["numerator -1 is negative"],
    ),
    (
        "2025-04,S02,case_compliance_rate,,0,0,,",
        "zero_denominator",
        "denominator",
        ["the denominator is 0"],
    ),
    (
        "2025-04,S02,case_compliance_rate,0.8,45,50,,",
        "inconsistent_rate",
        "value",
        ["value 0.8 differs from numerator/denominator = 45/50 = 0.9", "leave value blank"],
    ),
    (
        "2025-04,S02,discipline_score,120,,,,",
        "out_of_range",
        "value",
        ["value 120 is outside the range 0–100 declared for indicator 'discipline_score'"],
    ),
    (
        "2025-04,S02,window_processing_days,-2,,,,",
        "out_of_range",
        "value",
        ["value -2 is outside the range 0–60"],
    ),
    (
        "2025-04,S02,case_compliance_rate,0.9,,,,2025-99-01",
        "bad_timestamp",
        "submitted_at",
        ["'2025-99-01' is not a date and time — write it as YYYY-MM-DD HH:MM:SS"],
    ),
    (",,,,,,,", "blank_row", "period", ["the row is empty — delete it"]),
]


@pytest.mark.parametrize(
    ("row", "reason", "column", "fragments"),
    OBSERVATION_CASES,
    ids=[f"{case[1]}-{i}" for i, case in enumerate(OBSERVATION_CASES)],
)
def test_observation_reason(tmp_path, row, reason, column, fragments):
    result = run(tmp_path, GOOD_ROW + row + "\n")
    problem = only_problem(result, row=3)
    assert problem["reason"] == reason
    assert problem["column"] == column
    assert problem["file"].endswith("obs.csv")
    assert problem["message"].startswith(f"obs.csv row 3, column '{column}': ")
    for fragment in fragments:
        assert fragment in problem["message"]
    assert result.data["source_row"].tolist() == [2]
    assert result.to_frame().to_dict("records") == [{"reason": reason, "n": 1, "explanation": reason_text(reason)}]


def test_every_reason_code_is_tested_and_explained():
    tested = {case[1] for case in OBSERVATION_CASES} | {case[1] for case in UNIT_CASES}
    tested |= {"duplicate_row", "duplicate_key", "missing_column", "duplicate_unit"}
    assert tested == set(REASONS)
    assert all(len(reason_text(code)) > 20 for code in REASONS)
    assert all(len(reason_text(code, "zh")) > 5 for code in REASONS)


def test_quarantine_keeps_the_fields_as_written(tmp_path):
    result = run(tmp_path, "2025-04, S02 ,case_compliance_rate,93%,,,R1,\n")
    row = result.quarantine.iloc[0]
    assert (row["period"], row["unit_id"], row["value"], row["rater_id"]) == (
        "2025-04",
        " S02 ",
        "93%",
        "R1",
    )
    assert pd.isna(row["numerator"])


def test_secondary_problems_are_mentioned(tmp_path):
    result = run(tmp_path, "2025-04,S99,case_compliance_rate,abc,,,,\n")
    problem = only_problem(result, row=2)
    assert problem["reason"] == "unknown_unit"
    assert problem["message"].endswith("(also: non_numeric in column 'value')")


def test_value_within_tolerance_of_the_ratio_is_consistent(tmp_path):
    result = run(
        tmp_path,
        "2025-04,S01,case_compliance_rate,0.3333333,1,3,,\n2025-04,S02,case_compliance_rate,0.333,1,3,,\n",
    )
    assert result.data["unit_id"].tolist() == ["S01"]
    assert result.data["value"].iloc[0] == 0.3333333
    assert result.quarantine["reason"].tolist() == ["inconsistent_rate"]


def test_unknown_unit_rejected_in_the_units_file_says_so(tmp_path):
    units = UNITS_CSV + "S02,西城所(重复),station,,二类,80000\n"
    result = run(tmp_path, "2025-04,S02,case_compliance_rate,0.9,,,,\n", units=units)
    problem = only_problem(result, row=2)
    assert problem["reason"] == "unknown_unit"
    assert "unit 'S02' was rejected from units.csv (row 3: duplicate_unit) — fix it there first" in problem["message"]


def test_units_frame_instead_of_result_still_names_rejected_units(tmp_path):
    units = validate_units(
        pd.DataFrame({"unit_id": ["S01", "S02"], "level": ["station", "squad"]}),
        source="units.xlsx",
    )
    raw = pd.DataFrame(
        {
            "period": ["2025-04"],
            "unit_id": ["S02"],
            "indicator": ["case_compliance_rate"],
            "value": ["0.9"],
        }
    )
    result = validate_observations(raw, units.data, FRAMEWORK, source="obs.csv")
    assert "unit 'S02' was rejected from units.xlsx (row 3: bad_level)" in result.quarantine["message"].iloc[0]


def test_missing_column_quarantines_every_row_and_lists_aliases(tmp_path):
    header = "期间,单位编号,指标\n"
    result = run(
        tmp_path,
        "2025-04,S01,case_compliance_rate\n2025-04,S02,case_compliance_rate\n",
        header=header,
    )
    assert result.data.empty and result.n_input == 2
    assert result.quarantine["reason"].tolist() == ["missing_column"] * 2
    assert result.quarantine["row"].tolist() == [2, 3]
    message = result.quarantine["message"].iloc[1]
    assert message.startswith("obs.csv row 3, column 'value': the observations file has no column 'value'")
    assert "accepted headers: value, 数值, 指标值" in message
    assert "numerator" in message


def test_numerator_and_denominator_columns_may_replace_value(tmp_path):
    header = "period,unit_id,indicator,numerator,denominator\n"
    result = run(tmp_path, "2025-04,S01,case_compliance_rate,9,10\n", header=header)
    assert result.ok and result.data["value"].tolist() == [0.9]


def test_several_missing_columns_are_all_named(tmp_path):
    result = run(tmp_path, "2025-04,0.9\n", header="period,value\n")
    message = result.quarantine["message"].iloc[0]
    assert "no columns 'unit_id'" in message and "'indicator'" in message and "单位编号" in message


# ----------------------------------------------------------------------------- duplicates
def test_exact_duplicate_keeps_the_first_copy(tmp_path):
    result = run(
        tmp_path,
        GOOD_ROW + "2025-04,S02,discipline_score,80,,,,\n" + "2025/04,S01,case_compliance_rate,0.930,,,,\n",
    )
    assert result.data["source_row"].tolist() == [2, 3]
    problem = only_problem(result, row=4)
    assert problem["reason"] == "duplicate_row"
    assert problem["message"] == ("obs.csv row 4, column 'value': the row is an exact copy of row 2 — delete this copy")


def test_conflicting_rows_are_all_held_back(tmp_path):
    result = run(
        tmp_path,
        GOOD_ROW
        + "2025-04,S02,case_compliance_rate,0.8,,,,\n"
        + "2025-04,S01,case_compliance_rate,0.91,,,,\n"
        + "2025-04,S01,case_compliance_rate,0.92,,,,\n",
    )
    assert result.data["source_row"].tolist() == [3]
    assert result.quarantine["row"].tolist() == [2, 4, 5]
    assert set(result.quarantine["reason"]) == {"duplicate_key"}
    message = result.quarantine["message"].iloc[0]
    assert message.startswith("obs.csv row 2, column 'value': 2025-04 × S01 × case_compliance_rate")
    assert "rows 2, 4, 5 with different figures (0.93, 0.91, 0.92)" in message


def test_raters_separate_keys_but_conflicts_per_rater_are_caught(tmp_path):
    result = run(
        tmp_path,
        "2025-04,S01,discipline_score,80,,,R1,\n"
        "2025-04,S01,discipline_score,85,,,R2,\n"
        "2025-04,S01,discipline_score,90,,,R2,\n",
    )
    assert result.data["rater_id"].tolist() == ["R1"]
    assert result.quarantine["reason"].tolist() == ["duplicate_key"] * 2
    assert "× rater R2" in result.quarantine["message"].iloc[0]


def test_a_copy_of_an_invalid_row_conflicts_with_a_valid_one(tmp_path):
    result = run(tmp_path, "2025-04,S01,case_compliance_rate,93,,,,\n" + GOOD_ROW)
    assert result.data.empty
    assert result.quarantine["reason"].tolist() == ["rate_out_of_range", "duplicate_key"]
    assert "(also: duplicate_key in column 'value')" in result.quarantine["message"].iloc[0]


# ----------------------------------------------------------------------------- deadlines
@pytest.mark.parametrize(
    ("submitted", "late", "days_late"),
    [
        ("2025-05-27 23:59:59", False, 0.0),  # on the deadline: on time
        ("2025-05-28 00:00:00", True, 1 / 86400),  # one second after
        ("2025-05-01", False, 0.0),
        ("2025-05-29 23:59:59", True, 2.0),
        ("2025-05-27T15:59:59+00:00", False, 0.0),  # 23:59:59 in China Standard Time
        ("2025-05-27T16:00:00Z", True, 1 / 86400),
        ("2025年5月28日 00:00:00", True, 1 / 86400),
        ("2025/05/28 00:00:00", True, 1 / 86400),
        ("", False, 0.0),
    ],
)
def test_late_flag_at_the_deadline(tmp_path, submitted, late, days_late):
    result = run(tmp_path, f"2025-04,S01,case_compliance_rate,0.93,,,,{submitted}\n")
    assert result.ok
    row = result.data.iloc[0]
    assert row["deadline"] == pd.Timestamp("2025-05-27 23:59:59")
    assert bool(row["late"]) is late
    assert row["days_late"] == pytest.approx(days_late, abs=1e-9)


def test_mixed_timestamp_styles_in_one_file(tmp_path):
    result = run(
        tmp_path,
        "2025-04,S01,case_compliance_rate,0.9,,,,2025-05-27T16:00:00+00:00\n"
        "2025-04,S02,case_compliance_rate,0.9,,,,2025-05-27 23:00\n",
    )
    assert result.data["late"].tolist() == [True, False]


def test_deadline_follows_the_framework(tmp_path):
    raw = yaml.safe_load(framework_path("station_four_dimension").read_text(encoding="utf-8"))
    raw["reporting"] = {"deadline_day": 31, "deadline_month_offset": 0}
    framework = framework_from_dict(raw)
    result = run(
        tmp_path,
        "2025-04,S01,case_compliance_rate,0.9,,,,2025-04-30 23:59:59\n"
        "2025-04,S02,case_compliance_rate,0.9,,,,2025-05-01 00:00:00\n",
        framework=framework,
    )
    assert (result.data["deadline"] == reporting_deadline("2025-04", 31, 0)).all()
    assert result.data["deadline"].iloc[0] == pd.Timestamp("2025-04-30 23:59:59")
    assert result.data["late"].tolist() == [False, True]


# ----------------------------------------------------------------------------- units
UNIT_HEADER = "unit_id,name,level,parent_id,population\n"
UNIT_GOOD = "S01,东城所,station,,50000\n"
UNIT_CASES = [
    ("S02,x,station,,inf", "non_finite", "population", ["population 'inf' is infinite"]),
    ("S02,x,station,,1e13", "absurd_value", "population", ["population '1e13' is beyond"]),
    (",无名所,station,,1", "missing_key", "unit_id", ["the unit_id is blank"]),
    (
        "S02,x,squad,,1",
        "bad_level",
        "level",
        ["'squad' is not a level — write 'station' (派出所) or 'officer' (民警)"],
    ),
    ("S02,x,,,1", "bad_level", "level", ["the level is blank"]),
    (
        "O01,张三,officer,S09,",
        "unknown_parent",
        "parent_id",
        ["parent 'S09' is not a station in this file"],
    ),
    ("O01,张三,officer,,", "unknown_parent", "parent_id", ["the officer's parent_id is blank"]),
    (
        "S02,x,station,,5万",
        "non_numeric",
        "population",
        ["'5万' is not a number — enter a plain number such as 50000"],
    ),
    ("S02,x,station,,-5", "negative_count", "population", ["population -5 is negative"]),
    (",,,,", "blank_row", "unit_id", ["the row is empty"]),
]


@pytest.mark.parametrize(
    ("row", "reason", "column", "fragments"),
    UNIT_CASES,
    ids=[f"{case[1]}-{i}" for i, case in enumerate(UNIT_CASES)],
)
def test_unit_reason(tmp_path, row, reason, column, fragments):
    table = read_table(write(tmp_path / "units.csv", UNIT_HEADER + UNIT_GOOD + row + "\n"), aliases={})
    result = validate_units(table, source=table.attrs["source"])
    problem = only_problem(result, row=3)
    assert (problem["reason"], problem["column"]) == (reason, column)
    assert problem["message"].startswith(f"units.csv row 3, column '{column}': ")
    for fragment in fragments:
        assert fragment in problem["message"]
    assert result.data["unit_id"].tolist() == ["S01"]


def test_duplicate_units_are_all_held_back():
    raw = pd.DataFrame({"unit_id": ["S01", "S02", " S01"], "level": ["station"] * 3})
    result = validate_units(raw, source="units.csv")
    assert result.data["unit_id"].tolist() == ["S02"]
    assert result.quarantine["reason"].tolist() == ["duplicate_unit"] * 2
    assert "unit_id 'S01' appears in rows 2, 4 — keep one row per unit" in result.quarantine["message"].iloc[1]
    assert result.rejected_units == {"S01": (2, "duplicate_unit")}


def test_officer_parents():
    raw = pd.DataFrame(
        {
            "unit_id": ["S01", "S02", "S02", "O01", "O02", "O03"],
            "level": ["station", "station", "station", "民警", "officer", "Officer "],
            "parent_id": [None, None, None, "S02", "O01", "S01"],
        }
    )
    result = validate_units(raw, source="units.csv")
    assert result.data["unit_id"].tolist() == ["S01", "O03"]
    assert result.data["level"].tolist() == ["station", "officer"]
    messages = dict(zip(result.quarantine["row"], result.quarantine["message"], strict=True))
    assert "parent station 'S02' was itself rejected (row 3: duplicate_unit)" in messages[5]
    assert "parent 'O01' is not a station" in messages[6]


def test_officers_without_a_parent_column():
    result = validate_units(pd.DataFrame({"unit_id": ["O1"], "level": ["officer"]}), source="u.csv")
    assert result.quarantine["reason"].tolist() == ["unknown_parent"]
    assert "no parent_id column (accepted headers: parent_id, parent, 上级单位" in result.quarantine["message"].iloc[0]


def test_framework_denominator_columns_must_be_numbers():
    raw = pd.DataFrame({"unit_id": ["S1", "S2"], "level": ["station"] * 2, "households": ["1200", "many"]})
    result = validate_units(raw, source="units.csv", numeric_columns=["households"])
    assert result.data["households"].tolist() == [1200.0]
    assert result.quarantine["column"].tolist() == ["households"]
    plain = validate_units(raw, source="units.csv")
    assert plain.ok and plain.data["households"].tolist() == ["1200", "many"]


def test_read_inputs_checks_the_framework_denominators(tmp_path):
    raw = yaml.safe_load(framework_path("station_four_dimension").read_text(encoding="utf-8"))
    raw["tree"][0]["children"][0]["denominator"] = "households"
    framework = framework_from_dict(raw)
    units = "unit_id,level,households\nS01,station,1200\nS02,station,many\n"
    result = run(
        tmp_path,
        GOOD_ROW + "2025-04,S02,case_compliance_rate,0.9,,,,\n",
        units=units,
        framework=framework,
    )
    problem = only_problem(result, row=3)
    assert "unit 'S02' was rejected from units.csv (row 3: non_numeric)" in problem["message"]


def test_typed_parquet_columns(tmp_path):
    raw = pd.DataFrame(
        {
            "period": pd.to_datetime(["2025-04-01", "2025-04-01"]),
            "unit_id": ["S01", "S02"],
            "indicator": ["discipline_score"] * 2,
            "value": [80.0, 90.5],
            "submitted_at": pd.to_datetime(["2025-05-27 15:59:59", "2025-05-27 16:00:00"]).tz_localize("UTC"),
        }
    )
    table = read_table(write_table(raw, tmp_path / "obs.parquet"), aliases=OBSERVATION_ALIASES)
    result = validate_observations(table, UNITS, FRAMEWORK, source="obs.parquet")
    assert result.ok
    assert result.data["period"].tolist() == ["2025-04", "2025-04"]
    assert result.data["value"].tolist() == [80.0, 90.5]
    assert result.data["submitted_at"].tolist() == [
        pd.Timestamp("2025-05-27 23:59:59"),
        pd.Timestamp("2025-05-28"),
    ]
    assert result.data["late"].tolist() == [False, True]


def test_units_missing_column_lists_aliases():
    result = validate_units(pd.DataFrame({"单位编号": ["S1", "S2"], "name": ["a", "b"]}), source="units.csv")
    assert result.data.empty and result.quarantine["reason"].tolist() == ["missing_column"] * 2
    assert "no column 'level' (accepted headers: level, 层级)" in result.quarantine["message"].iloc[0]


def test_units_chinese_headers_and_context(tmp_path):
    units = write(
        tmp_path / "units.csv",
        "单位编号,单位名称,层级,上级单位,所类,辖区人口,警情量,警力,备注\n"
        'S01,东城所,派出所,,一类,"50000",1200,40,临街\n'
        "O01,张三,民警,S01,,,,,\n",
    )
    result = validate_units(read_table(units, aliases=UNIT_ALIASES), source=str(units))
    assert result.ok
    data = result.data
    assert data["level"].tolist() == ["station", "officer"]
    assert data["population"].tolist()[0] == 50000.0 and np.isnan(data["population"].iloc[1])
    assert data["incident_volume"].dtype == np.float64
    assert data["备注"].tolist()[0] == "临街"


# ----------------------------------------------------------------------------- formats
RAW_OBS = pd.DataFrame(
    {
        "期间": ["2025-04", "2025-04", "2025-04", "2025-04", "2025-05", "2025-04"],
        "单位编号": ["S01", "0012", "S02", "S99", "S01", "S01"],
        "指标": [
            "case_compliance_rate",
            "callback_satisfaction",
            "discipline_score",
            "case_compliance_rate",
            "enforcement_errors",
            "case_compliance_rate",
        ],
        "数值": ["0.93", "", "120", "0.5", "3", "0.93"],
        "分子": ["", "45", "", "", "", ""],
        "分母": ["", "50", "", "", "", ""],
        "上报时间": [
            "2025-05-27 23:59:59",
            "2025-05-28 09:00:00",
            "",
            "",
            "2025-06-20 10:00:00",
            "2025-05-27 23:59:59",
        ],
        "备注": ["", "补报", "", "", "", ""],
    }
)
RAW_UNITS = pd.DataFrame(
    {
        "单位编号": ["S01", "S02", "0012", "O01"],
        "单位名称": ["东城所", "西城所", "北城所", "张三"],
        "层级": ["派出所", "station", "station", "民警"],
        "上级单位": ["", "", "", "S01"],
        "辖区人口": ["50000", "80000", "30000", ""],
    }
)


@pytest.mark.parametrize("ext", [".csv", ".csv.gz", ".xlsx", ".parquet"])
def test_formats_give_the_same_clean_data(tmp_path, ext):
    reference, reference_units = read_inputs(
        FRAMEWORK,
        write_table(RAW_OBS, tmp_path / "ref" / "obs.csv"),
        write_table(RAW_UNITS, tmp_path / "ref" / "units.csv"),
    )
    result, units = read_inputs(
        FRAMEWORK,
        write_table(RAW_OBS, tmp_path / f"obs{ext}"),
        write_table(RAW_UNITS, tmp_path / f"units{ext}"),
    )
    pd.testing.assert_frame_equal(result.data, reference.data)
    pd.testing.assert_frame_equal(units.data, reference_units.data)
    columns = ["row", "column", "reason"]
    pd.testing.assert_frame_equal(result.quarantine[columns], reference.quarantine[columns])
    messages = [m.replace(f"s{ext}", "s.csv") for m in result.quarantine["message"]]
    assert messages == reference.quarantine["message"].tolist()
    assert reference.data["source_row"].tolist() == [2, 3, 6]
    assert reference.data["value"].tolist() == [0.93, 0.9, 3.0]
    assert reference.data["late"].tolist() == [False, True, False]
    assert reference.data["备注"].isna().tolist() == [True, False, True]
    assert reference.data["备注"].iloc[1] == "补报"
    assert list(zip(reference.quarantine["row"], reference.quarantine["reason"], strict=True)) == [
        (4, "out_of_range"),
        (5, "unknown_unit"),
        (7, "duplicate_row"),
    ]
    assert units.data["unit_id"].tolist() == ["S01", "S02", "0012", "O01"]


def test_read_inputs_accepts_frames_and_framework_ids():
    result, units = read_inputs("station_four_dimension", RAW_OBS, RAW_UNITS)
    assert units.ok and result.n_input == len(RAW_OBS)
    assert result.quarantine["file"].unique().tolist() == ["<observations>"]


def test_read_inputs_reports_file_errors(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_inputs(FRAMEWORK, tmp_path / "obs.csv", tmp_path / "units.csv")


# ----------------------------------------------------------------------------- invariants
PERIODS = ["2025-04", "2025/5", "2025年6月", "202507", "2025-13", "abc", "", "  ", None]
UNIT_IDS = ["S01", "S02", " S01 ", "0012", "12", "O01", "S99", "", None]
INDICATORS = [
    "case_compliance_rate",
    "callback_satisfaction",
    "discipline_score",
    "window_processing_days",
    "enforcement_errors",
    "case_rate",
    "案件规范率",
    "",
    None,
]
VALUES = [
    "0.9",
    "0.90",
    "93",
    "-1",
    "abc",
    "1,234",
    "N/A",
    "",
    None,
    "0",
    "1",
    "120",
    "1e-3",
    "nan",
    "inf",
    "93%",
    " 0.5 ",
]
COUNTS = [None, "", "0", "5", "10", "-2", "x", "3.5"]
RATERS = [None, "R1", "R2", ""]
STAMPS = [
    None,
    "",
    "2025-05-27 23:59:59",
    "2025-05-28",
    "2025年5月1日 10:00",
    "2025-05-27T16:00:00+00:00",
    "garbage",
    "2025-02-30",
]
COLUMNS = [
    "period",
    "unit_id",
    "indicator",
    "value",
    "numerator",
    "denominator",
    "rater_id",
    "submitted_at",
]
POOLS = [PERIODS, UNIT_IDS, INDICATORS, VALUES, COUNTS, COUNTS, RATERS, STAMPS]

messy_rows = st.lists(st.tuples(*(st.sampled_from(pool) for pool in POOLS)), max_size=40)


@st.composite
def messy_observations(draw):
    rows = draw(messy_rows)
    repeats = draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=5)) if rows else []
    rows = rows + [rows[i] for i in repeats]
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    dropped = draw(st.sets(st.sampled_from(COLUMNS), max_size=2)) if draw(st.booleans()) else set()
    frame = frame.drop(columns=sorted(dropped))
    frame["source_row"] = np.arange(2, len(frame) + 2)
    return frame


UNITS = validate_units(pd.read_csv(io.StringIO(UNITS_CSV), dtype=str), source="units.csv")


def check_partition(result: ValidationResult, raw: pd.DataFrame, label: str) -> None:
    assert len(result.data) + len(result.quarantine) == result.n_input == len(raw)
    kept, held = set(result.data["source_row"]), set(result.quarantine["row"])
    assert not kept & held
    assert kept | held == set(raw["source_row"])
    assert len(kept) == len(result.data) and len(held) == len(result.quarantine)
    assert set(result.quarantine["reason"]) <= set(REASONS)
    for row, column, message in zip(
        result.quarantine["row"],
        result.quarantine["column"],
        result.quarantine["message"],
        strict=True,
    ):
        assert message.startswith(f"{label} row {row}, column '{column}': ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=messy_observations(), seed=st.integers(0, 2**16))
def test_observations_conservation_invariants_and_order(raw, seed):
    result = validate_observations(raw, UNITS, FRAMEWORK, source="obs.csv")
    check_partition(result, raw, "obs.csv")
    data = result.data
    kinds = data["indicator"].map(FRAMEWORK.input_indicators())
    assert np.isfinite(data["value"]).all()
    assert data.loc[kinds == "rate", "value"].between(0, 1).all()
    assert (data.loc[kinds == "count", "value"] >= 0).all()
    assert data["period"].map(lambda p: bool(re.fullmatch(r"\d{4}-\d{2}", p))).all()
    assert set(data["unit_id"]) <= {"S01", "S02", "0012"}
    assert not data.duplicated(["period", "unit_id", "indicator", "rater_id"]).any()
    assert (data["late"] == (data["submitted_at"] > data["deadline"])).all()
    assert (data["days_late"][~data["late"]] == 0).all() and (data["days_late"][data["late"]] > 0).all()

    shuffled = raw.sample(frac=1, random_state=seed)
    again = validate_observations(shuffled, UNITS, FRAMEWORK, source="obs.csv")
    pd.testing.assert_frame_equal(again.data, data)
    pd.testing.assert_frame_equal(again.quarantine, result.quarantine)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["S01", "S02", "O01", "O02", " S01", "", None]),
            st.sampled_from(["station", "officer", "派出所", "民警", "squad", "", None]),
            st.sampled_from(["S01", "S02", "O01", "S09", "", None]),
            st.sampled_from(["50000", "5万", "-1", "", None, "1e4"]),
        ),
        max_size=25,
    ),
    seed=st.integers(0, 2**16),
)
def test_units_conservation_and_order(rows, seed):
    raw = pd.DataFrame(rows, columns=["unit_id", "level", "parent_id", "population"], dtype=object)
    raw["source_row"] = np.arange(2, len(raw) + 2)
    result = validate_units(raw, source="units.csv")
    check_partition(result, raw, "units.csv")
    data = result.data
    assert data["unit_id"].is_unique
    assert set(data["level"]) <= {"station", "officer"}
    stations = set(data.loc[data["level"] == "station", "unit_id"])
    assert set(data.loc[data["level"] == "officer", "parent_id"]) <= stations
    assert not set(result.rejected_units) & set(data["unit_id"])
    again = validate_units(raw.sample(frac=1, random_state=seed), source="units.csv")
    pd.testing.assert_frame_equal(again.data, data)
    pd.testing.assert_frame_equal(again.quarantine, result.quarantine)


def test_row_order_does_not_change_the_result(tmp_path):
    body = "".join(row + "\n" for row, *_ in OBSERVATION_CASES) + GOOD_ROW + GOOD_ROW
    raw = read_table(write(tmp_path / "obs.csv", OBS_HEADER + body), aliases=OBSERVATION_ALIASES)
    reference = validate_observations(raw, UNITS, FRAMEWORK, source="obs.csv")
    assert reference.data["source_row"].tolist() == [len(OBSERVATION_CASES) + 2]
    rng = np.random.default_rng(7)
    for _ in range(5):
        shuffled = raw.iloc[rng.permutation(len(raw))]
        again = validate_observations(shuffled, UNITS, FRAMEWORK, source="obs.csv")
        pd.testing.assert_frame_equal(again.data, reference.data)
        pd.testing.assert_frame_equal(again.quarantine, reference.quarantine)


def test_frame_without_source_row_is_numbered_like_a_spreadsheet():
    raw = pd.DataFrame(
        {
            "period": ["2025-04", "x"],
            "unit_id": ["S01", "S01"],
            "indicator": ["discipline_score"] * 2,
            "value": [80.0, 90.0],
        }
    )
    result = validate_observations(raw, UNITS, FRAMEWORK, source="obs.parquet")
    assert result.data["source_row"].tolist() == [2]
    assert result.quarantine["message"].iloc[0].startswith("obs.parquet row 3, column 'period': 'x' is not a month")


def test_empty_input():
    raw = pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})
    result = validate_observations(raw, UNITS, FRAMEWORK, source="obs.csv")
    assert result.n_input == 0 and result.ok and result.data.empty
    assert result.to_frame().columns.tolist() == ["reason", "n", "explanation"]


def test_summary_is_sorted_by_count():
    raw = pd.DataFrame(
        {
            "period": ["2025-04", "bad", "bad", "2025-04"],
            "unit_id": ["S01", "S01", "S02", "S99"],
            "indicator": ["discipline_score"] * 4,
            "value": ["80"] * 4,
        }
    )
    result = validate_observations(raw, UNITS, FRAMEWORK, source="obs.csv")
    summary = result.to_frame()
    assert summary[["reason", "n"]].values.tolist() == [["bad_period", 2], ["unknown_unit", 1]]
    assert summary["explanation"].iloc[0] == reason_text("bad_period")
    assert not result.ok


def test_a_rate_with_a_declared_range_is_checked_against_that_range(tmp_path):
    """A reduction rate declared [-1, 1] may be negative; outside it, it is still rejected."""
    spec = yaml.safe_load(framework_path("officer_traffic").read_text(encoding="utf-8"))
    framework = framework_from_dict(spec)
    assert framework.indicator_meta()["accident_reduction_rate"].range == (-1.0, 1.0)
    units = "unit_id,name,level,parent_id\nS01,东城所,station,\nO01,张三,officer,S01\n"
    body = "2025-04,O01,accident_reduction_rate,-0.25,,,,\n2025-05,O01,accident_reduction_rate,-1.5,,,,\n"
    result = run(tmp_path, body, units=units, framework=framework)
    assert result.data["value"].tolist() == [-0.25]
    problem = only_problem(result, 3)
    assert problem["reason"] == "rate_out_of_range"
    assert "rate outside -1–1" in problem["message"]


class _Recorder:
    """Stands in for the checks of a table: keeps each reason's rows and their messages."""

    def __init__(self) -> None:
        self.found: dict[str, tuple[list[int], list[str]]] = {}

    def add(self, reason, column, mask, detail) -> None:
        at = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(at):
            self.found[reason] = (at.tolist(), [str(d) for d in detail(at)])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    units=st.lists(
        st.tuples(st.sampled_from(["A", "B", "C", "单位", None]), st.sampled_from(["station", "officer", None])),
        max_size=8,
    ),
    rows=st.lists(st.sampled_from(["A", "B", "C", "D", "单位", None]), max_size=12),
)
def test_unit_check_by_lookup_equals_one_dict_per_unit(units, rows):
    """The unit check's hash lookup gives the rows and messages the former dict of every unit gave.

    The dict: the last row of a repeated id wins; a unit with no level is never a mismatch.
    """
    from perfmodel.validation import TEXT_DTYPE, _check_unit

    fw = load_framework("station_four_dimension")
    table = pd.DataFrame(
        {"unit_id": pd.Series([u for u, _ in units], dtype=TEXT_DTYPE), "level": [v for _, v in units]}
    )
    text = pd.Series(rows, dtype=TEXT_DTYPE)
    got = _Recorder()
    _check_unit(got, text, table, fw)

    level_of = {u: v for u, v in units if u is not None}
    unknown = [k for k, u in enumerate(rows) if u is not None and u not in level_of]
    mismatch = [k for k, u in enumerate(rows) if isinstance(level_of.get(u), str) and level_of[u] != fw.level]
    assert got.found.get("unknown_unit", ([], []))[0] == unknown
    assert got.found.get("level_mismatch", ([], []))[0] == mismatch
    for k, message in zip(mismatch, got.found.get("level_mismatch", ([], []))[1], strict=True):
        assert f"'{rows[k]}'" in message and f" is an {level_of[rows[k]]} but" in message
    for k, message in zip(unknown, got.found.get("unknown_unit", ([], []))[1], strict=True):
        assert f"unit '{rows[k]}' is not in the units file" in message
