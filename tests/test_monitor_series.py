"""Scores over time: monthly series, changes, deadline compliance, roll-up agreement, annual summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfmodel.evaluation import EvaluationError, evaluate
from perfmodel.framework import framework_from_dict, load_framework
from perfmodel.monitor import series as ms
from perfmodel.periods import months_in
from perfmodel.report import monitor as rm
from perfmodel.rollup import roll_up
from perfmodel.simulate import simulate


@pytest.fixture(scope="module")
def sample():
    fw = load_framework("station_four_dimension")
    s = simulate([fw], stations=24, months=24, rng=3, defect_rate=0.0, officers_per_station=0)
    return fw, s.observations[fw.id], s.units


# ----------------------------------------------------------------------------- monthly series
def test_monthly_series_equals_one_evaluation_per_month(sample):
    fw, obs, units = sample
    series = ms.monthly_scores(fw, obs, units, "2024-09", n_months=4)
    assert series.periods == ["2024-06", "2024-07", "2024-08", "2024-09"]
    direct = evaluate(fw, obs, units, "2024-08", compare_previous=False).scores.set_index("unit_id")
    mine = series.scores[series.scores["period"] == "2024-08"].set_index("unit_id")
    pd.testing.assert_series_equal(mine["score"], direct["score"].reindex(mine.index), check_names=False)
    assert (mine["grade"] == direct["grade"].reindex(mine.index)).all()
    # month-on-month change recomputed from the wide table
    wide = series.scores.pivot(index="unit_id", columns="period", values="score")
    expected = (wide["2024-08"] - wide["2024-07"]).rename("change")
    assert np.allclose(mine["score_change"], expected.reindex(mine.index))
    assert series.scores.loc[series.scores["period"] == "2024-06", "score_change"].isna().all()
    # indicator values are the evaluation's denominated stage
    value = series.values.query("period == '2024-08' and indicator == 'case_compliance_rate'").set_index("unit_id")
    ev = evaluate(fw, obs, units, "2024-08", compare_previous=False)
    assert np.allclose(value["value"], ev.stages["denominated"]["case_compliance_rate"].reindex(value.index))


def test_add_changes_by_hand():
    scores = pd.DataFrame(
        {
            "period": ["2025-01", "2025-02", "2025-04", "2025-01", "2025-02", "2025-04"],
            "unit_id": ["A", "A", "A", "B", "B", "B"],
            "score": [70.0, 75.0, 80.0, 60.0, 58.0, 90.0],
            "rank": [1.0, 1.0, 2.0, 2.0, 2.0, 1.0],
            "grade": ["良好", "良好", "优秀", "合格", "合格", "优秀"],
        }
    )
    out = ms.add_changes(scores).set_index(["unit_id", "period"])
    assert out.loc[("A", "2025-02"), "score_change"] == pytest.approx(5.0)
    assert out.loc[("B", "2025-02"), "score_change"] == pytest.approx(-2.0)
    assert np.isnan(out.loc[("A", "2025-04"), "score_change"])  # 2025-03 missing: no change
    assert out.loc[("B", "2025-02"), "rank_change"] == 0
    quarterly = scores.assign(period=["2025Q1", "2025Q2", "2025Q3"] * 2)
    q = ms.add_changes(quarterly).set_index(["unit_id", "period"])
    assert q.loc[("B", "2025Q3"), "rank_change"] == 1  # rank 2 -> 1: moved up one place
    assert q.loc[("B", "2025Q3"), "previous_grade"] == "合格"
    with pytest.raises(ValueError, match="rank"):
        ms.add_changes(scores.drop(columns="rank"))


def test_periods_without_data_are_skipped_and_none_is_an_error(sample):
    fw, obs, units = sample
    series = ms.evaluate_periods(fw, obs, units, ["2023-12", "2024-01"])
    assert series.periods == ["2024-01"] and "2023-12" in series.skipped
    with pytest.raises(EvaluationError, match="none of the periods"):
        ms.evaluate_periods(fw, obs, units, ["2019-01"])
    with pytest.raises(ValueError, match="after end"):
        ms.monthly_scores(fw, obs, units, "2024-03", start="2024-05")


# ----------------------------------------------------------------------------- deadline compliance
def _submissions() -> pd.DataFrame:
    rows = [
        ("2025-04", "A", "2025-05-27 23:59:59"),  # the last second of the deadline: on time
        ("2025-04", "A", "2025-05-10 08:00:00"),
        ("2025-04", "B", "2025-05-20 08:00:00"),
        ("2025-04", "B", "2025-05-28 12:00:00"),  # B's last row is late by half a day and a second
        ("2025-04", "C", None),  # no timestamp at all
        ("2025-05", "A", "2025-06-01 09:00:00"),
    ]
    frame = pd.DataFrame(rows, columns=["period", "unit_id", "submitted_at"])
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"])
    return frame


def test_deadline_compliance_by_hand():
    c = ms.deadline_compliance(_submissions(), units=["A", "B", "C"], months=["2025-04", "2025-05"])
    status = c.set_index(["period", "unit_id"])["status"]
    assert status[("2025-04", "A")] == "on_time"
    assert status[("2025-04", "B")] == "late"
    assert status[("2025-04", "C")] == "unknown"
    assert status[("2025-05", "A")] == "on_time"
    assert status[("2025-05", "B")] == "missing" and status[("2025-05", "C")] == "missing"
    late = c.set_index(["period", "unit_id"]).loc[("2025-04", "B")]
    assert late["days_late"] == pytest.approx(0.5 + 1 / 86400, abs=1e-6)
    assert late["deadline"] == pd.Timestamp("2025-05-27 23:59:59")
    summary = ms.compliance_summary(c, "period").set_index("period")
    # April: A on time, B late, C unknown (left out of the rate) -> 1 of 2
    assert summary.loc["2025-04", "on_time_rate"] == pytest.approx(0.5)
    assert summary.loc["2025-05", "on_time_rate"] == pytest.approx(1 / 3)


def test_deadline_follows_the_framework():
    raw = {
        "id": "d",
        "name": {"zh": "d", "en": "d"},
        "level": "station",
        "reporting": {"deadline_day": 10, "deadline_month_offset": 0},
        "tree": [{"id": "x", "name": {"zh": "x", "en": "x"}, "weight": 1.0, "kind": "rate"}],
    }
    c = ms.deadline_compliance(_submissions(), framework_from_dict(raw))
    status = c.set_index(["period", "unit_id"])["status"]
    assert status[("2025-04", "A")] == "late"  # due 2025-04-10 now
    assert c["deadline"].iloc[0] == pd.Timestamp("2025-04-10 23:59:59")


def test_deadline_compliance_explains_bad_input():
    with pytest.raises(ValueError, match="submitted_at"):
        ms.deadline_compliance(_submissions().drop(columns="submitted_at"))
    bad = _submissions().astype({"submitted_at": object})
    bad.loc[2, "submitted_at"] = "下周一"
    with pytest.raises(ValueError, match="下周一"):
        ms.deadline_compliance(bad)


# ----------------------------------------------------------------------------- roll-ups agree
KINDS = {
    "r_vol": "rate",
    "r_novol": "rate",
    "cnt": "count",
    "ev": "event",
    "dur": "duration",
    "dur_plain": "duration",
    "sc": "score",
}


@st.composite
def monthly_observations(draw):
    """Random monthly observations for one year: every kind, missing months, several raters."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    missing = draw(st.floats(0.0, 0.7))
    rows = []
    for unit in ("U1", "U2"):
        for ind, kind in KINDS.items():
            present = rng.random(12) >= missing
            present[rng.integers(12)] = True
            for m in np.flatnonzero(present) + 1:
                period = f"2025-{m:02d}"
                if ind == "r_vol":
                    den = int(rng.integers(1, 41))
                    num = int(rng.integers(0, den + 1))
                    rows.append((period, unit, ind, num / den, float(num), float(den)))
                elif ind == "dur":
                    rows.append((period, unit, ind, rng.uniform(0.5, 30), np.nan, float(rng.integers(1, 21))))
                elif ind == "sc":
                    for _ in range(int(rng.integers(1, 4))):
                        rows.append((period, unit, ind, rng.uniform(40, 100), np.nan, np.nan))
                elif kind in ("count", "event"):
                    rows.append((period, unit, ind, float(rng.integers(0, 31)), np.nan, np.nan))
                else:
                    rows.append((period, unit, ind, rng.uniform(0, 1), np.nan, np.nan))
    return pd.DataFrame(rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator"])


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    key = ["unit_id", "indicator"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key])
    for column in ("value", "numerator", "denominator"):
        assert np.allclose(a[column].astype(float), b[column].astype(float), rtol=1e-12, atol=1e-12, equal_nan=True)
    assert (a["months_present"].to_numpy() == b["months_present"].to_numpy()).all()
    assert (a["method"].to_numpy() == b["method"].to_numpy()).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(monthly_observations())
def test_monthly_quarterly_annual_rollups_agree(obs):
    annual = roll_up(obs, KINDS, "2025")
    quarters = {f"2025Q{q}": roll_up(obs, KINDS, f"2025Q{q}") for q in range(1, 5)}
    months = {str(m): roll_up(obs, KINDS, m) for m in months_in("2025")}
    _same(ms.combine_rollups(quarters, KINDS), annual)
    _same(ms.combine_rollups(months, KINDS), annual)
    q2 = {str(m): roll_up(obs, KINDS, m) for m in months_in("2025Q2")}
    _same(ms.combine_rollups(q2, KINDS), quarters["2025Q2"])


def test_combining_three_quarters_is_not_the_year():
    obs = pd.DataFrame(
        {
            "period": [f"2025-{m:02d}" for m in range(1, 13)],
            "unit_id": "U",
            "indicator": "cnt",
            "value": 1.0,
            "numerator": np.nan,
            "denominator": np.nan,
        }
    )
    three = {f"2025Q{q}": roll_up(obs, {"cnt": "count"}, f"2025Q{q}") for q in range(1, 4)}
    # 9 months of counts, prorated over the 9 months they span: 9, not the year's 12
    assert ms.combine_rollups(three, {"cnt": "count"})["value"].iloc[0] == pytest.approx(9.0)
    assert roll_up(obs, {"cnt": "count"}, "2025")["value"].iloc[0] == pytest.approx(12.0)


def test_reconciliation_of_a_generated_year(sample):
    fw, obs, _ = sample
    table = ms.rollup_reconciliation(obs, fw, 2025)
    assert set(table["indicator"]) == set(fw.input_indicators()) & set(obs["indicator"])
    assert table["agrees"].all(), table
    with pytest.raises(ValueError, match="not a year"):
        ms.rollup_reconciliation(obs, fw, "2025Q1")


LINEAR = {
    "id": "linear",
    "name": {"zh": "线性", "en": "Linear"},
    "level": "station",
    "normalisation": {"method": "goalposts", "range": [0, 100]},
    "grading": {"method": "cutoffs", "cutoffs": {"优秀": 80, "良好": 60, "合格": 40}},
    "tree": [
        {
            "id": "all",
            "name": {"zh": "全部", "en": "all"},
            "weight": 1.0,
            "children": [
                {"id": "a", "name": {"zh": "甲", "en": "a"}, "weight": 0.6, "kind": "rate", "goalposts": [0.0, 1.0]},
                {"id": "b", "name": {"zh": "乙", "en": "b"}, "weight": 0.4, "kind": "rate", "goalposts": [0.0, 1.0]},
            ],
        }
    ],
}


def test_scores_of_months_quarters_and_year_agree_where_scoring_is_linear():
    """Equal monthly volumes, goalposts that never clip, arithmetic weights, no bonus or deduction:
    then a quarter's score is the mean of its months' and the year's the mean of its quarters'."""
    rng = np.random.default_rng(7)
    units = pd.DataFrame({"unit_id": ["A", "B", "C"], "name": ["甲所", "乙所", "丙所"], "level": "station"})
    rows = []
    for m in range(1, 13):
        for unit in "ABC":
            for ind in "ab":
                num = int(rng.integers(5, 45))
                rows.append((f"2025-{m:02d}", unit, ind, num / 50, float(num), 50.0))
    obs = pd.DataFrame(rows, columns=["period", "unit_id", "indicator", "value", "numerator", "denominator"])
    fw = framework_from_dict(LINEAR)
    monthly = ms.monthly_scores(fw, obs, units).scores.pivot(index="unit_id", columns="period", values="score")
    summary = ms.annual_summary(fw, obs, units, 2025)
    quarterly = summary.quarters.scores.pivot(index="unit_id", columns="period", values="score")
    for q in range(1, 5):
        months = [str(m) for m in months_in(f"2025Q{q}")]
        assert np.allclose(quarterly[f"2025Q{q}"], monthly[months].mean(axis=1))
    table = summary.table.set_index("unit_id")
    assert np.allclose(table["annual_score"], table["quarter_mean"])
    assert np.allclose(table["annual_score"], monthly.mean(axis=1).reindex(table.index))


# ----------------------------------------------------------------------------- annual summary
def test_annual_summary_lines_up_quarters_year_and_grades(sample):
    fw, obs, units = sample
    summary = ms.annual_summary(fw, obs, units, 2025)
    assert summary.quarters.periods == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert summary.years.periods == ["2024", "2025"]
    assert list(summary.history.columns) == ["unit_id", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2025"]
    q3 = evaluate(fw, obs, units, "2025Q3", compare_previous=False).scores.set_index("unit_id")["grade"]
    history = summary.history.set_index("unit_id")
    assert (history["2025Q3"] == q3.reindex(history.index)).all()
    year = evaluate(fw, obs, units, "2025", compare_previous=False).scores.set_index("unit_id")
    table = summary.table.set_index("unit_id")
    assert np.allclose(table["annual_score"], year["score"].reindex(table.index))
    quarters = history[["2025Q1", "2025Q2", "2025Q3", "2025Q4"]]
    assert (table["excellent_quarters"] == (quarters == "优秀").sum(axis=1).reindex(table.index)).all()
    with pytest.raises(ValueError, match="not a year"):
        ms.annual_summary(fw, obs, units, "2025Q1")
    with pytest.raises(EvaluationError, match="no observations in 2030"):
        ms.annual_summary(fw, obs, units, 2030)


def test_report_tables_and_figures_are_labelled(sample, tmp_path):
    from perfmodel.report.style import apply_report_style, save_figure

    apply_report_style()
    fw, obs, units = sample
    series = ms.monthly_scores(fw, obs, units, "2025-06", n_months=6)
    compliance = ms.deadline_compliance(obs, fw, units=series.scores["unit_id"].unique(), months=series.periods)
    table = ms.bulletin_table(series, "2025-06", compliance, "zh")
    assert {"组内排名", "环比变化(分)", "报送情况"} <= set(table.columns)
    assert len(table) == series.scores["unit_id"].nunique()
    with pytest.raises(ValueError, match="no scores for 2024-01"):
        ms.bulletin_table(series, "2024-01")
    summary = ms.annual_summary(fw, obs, units, 2025)
    names = dict(zip(summary.table["unit_id"], summary.table["name"], strict=True))
    figures = {
        "trends": ms.figure_score_trends(series, "en", highlight=[series.scores["unit_id"].iloc[0]]),
        "changes": ms.figure_month_changes(series, "2025-06"),
        "compliance": ms.figure_compliance(compliance),
        "history": ms.figure_grade_history(summary.history, names),
    }
    for name, fig in figures.items():
        assert save_figure(fig, tmp_path / f"{name}.png").stat().st_size > 5_000
    assert "2025" in rm.annual_headline(summary, lang="en")


def test_bulletin_headline_states_the_months_numbers(sample):
    """The headline (report layer) says the numbers of the series, counted here by hand."""
    fw, obs, units = sample
    series = ms.monthly_scores(fw, obs, units, "2025-06", n_months=6)
    month = series.scores[series.scores["period"] == "2025-06"]
    change = month["score_change"].dropna()
    text = str(rm.bulletin_headline(series, "2025-06", lang="en"))
    scored = int(month["score"].notna().sum())
    assert f"{scored} of {len(month)} units scored" in text
    assert f"{int((change > 0).sum())} units improved and {int((change < 0).sum())} fell" in text
    # values are Markdown-escaped by render.md: the decimal point comes as "\\."
    assert "median score " + f"{month['score'].median():.1f}".replace(".", "\\.") in text
    assert "on time" not in text  # no compliance table given: nothing said about it
