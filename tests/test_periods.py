import pandas as pd
import pytest

from perfmodel.periods import (
    PeriodError,
    months_in,
    parse_month,
    period_label,
    previous,
    reporting_deadline,
)


@pytest.mark.parametrize("text", ["2025-04", "2025/4", "2025.04", "202504", "2025年4月", "2025-04-30", " 2025-4 "])
def test_month_variants(text):
    assert str(parse_month(text)) == "2025-04"


@pytest.mark.parametrize("text", ["", "2025-13", "April", "2025Q2", None, "nan"])
def test_bad_months_are_rejected_with_a_reason(text):
    with pytest.raises(PeriodError):
        parse_month(text)


def test_month_error_says_how_to_write_it():
    with pytest.raises(PeriodError, match="YYYY-MM"):
        parse_month("April 2025")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("2025Q2", "2025Q2"),
        ("2025 q2", "2025Q2"),
        ("2025年第二季度", "2025Q2"),
        ("2025", "2025"),
        ("2025-04", "2025-04"),
    ],
)
def test_periods(text, label):
    assert period_label(text) == label


def test_months_in_quarter_and_year():
    assert [str(m) for m in months_in("2025Q1")] == ["2025-01", "2025-02", "2025-03"]
    assert len(months_in("2024")) == 12
    assert [str(m) for m in months_in("2025-07")] == ["2025-07"]


def test_previous_crosses_year_boundary():
    assert str(previous("2025Q1")) == "2024Q4"
    assert str(previous("2025-01")) == "2024-12"
    assert str(previous("2025")) == "2024"


def test_deadline_is_27th_of_following_month_by_default():
    due = reporting_deadline("2025-04")
    assert due == pd.Timestamp("2025-05-27 23:59:59")
    assert reporting_deadline("2025-12") == pd.Timestamp("2026-01-27 23:59:59")
    assert reporting_deadline("2025-04", month_offset=0) == pd.Timestamp("2025-04-27 23:59:59")


def test_deadline_day_beyond_month_end_is_clamped():
    assert reporting_deadline("2025-01", day=31) == pd.Timestamp("2025-02-28 23:59:59")
