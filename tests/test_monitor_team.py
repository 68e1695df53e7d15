"""Team credit (R17): validation, credit split, and the team-vs-individual variance decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perfmodel.framework import load_framework
from perfmodel.monitor.team import (
    CollaborationError,
    VarianceShare,
    anova_components,
    collaboration_summary,
    credit_split,
    credit_table,
    figure_team_credit,
    figure_variance_shares,
    monthly_credit,
    planted_team_shares,
    read_collaborations,
    team_credit,
    team_share_interval,
    trailing_months,
    validate_collaborations,
    variance_decomposition,
    variance_table,
)
from perfmodel.report.style import apply_report_style, save_figure
from perfmodel.simulate import (
    COLLABORATION_EFFECTS,
    CollaborationEffects,
    generate_sample,
    simulate,
    simulate_collaborations,
)

UNITS = pd.DataFrame(
    {
        "unit_id": ["S1", "S2", "S1-M1", "S1-M2", "S1-M3", "S2-M1", "S2-M2"],
        "name": ["一所", "二所", "甲", "乙", "丙", "丁", "戊"],
        "level": ["station", "station", "officer", "officer", "officer", "officer", "officer"],
        "parent_id": ["D1", "D1", "S1", "S1", "S1", "S2", "S2"],
    }
)
GOOD = pd.DataFrame(
    {
        "case_id": ["A", "A", "B", "B", "C"],
        "period": ["2025-04", "2025-04", "2025-05", "2025-05", "2025-07"],
        "station": ["S1", "S1", "S1", "S1", "S2"],
        "officer_id": ["S1-M1", "S1-M2", "S1-M1", "S1-M3", "S2-M1"],
        "contribution_share": [0.5, 0.5, 0.25, 0.75, 1.0],
    }
)


@pytest.fixture(scope="module")
def world_units():
    """Units of 150 stations × 6 officers (the context only; observations are not needed)."""
    return simulate([load_framework("station_four_dimension")], stations=150, months=1, rng=2).units


# ---------------------------------------------------------------- validation
def test_a_valid_table_passes_with_typed_columns():
    clean = validate_collaborations(GOOD, UNITS)
    assert clean["contribution_share"].dtype == float
    assert clean["source_row"].tolist() == [2, 3, 4, 5, 6]
    assert clean.groupby("case_id")["contribution_share"].sum().tolist() == [1.0, 1.0, 1.0]


def test_shares_that_do_not_add_up_name_the_case_and_rows():
    bad = GOOD.assign(contribution_share=[0.5, 0.4, 0.25, 0.75, 1.0])
    with pytest.raises(CollaborationError, match=r"case 'A': contribution shares add up to 0\.9, not 1 \(rows 2, 3\)"):
        validate_collaborations(bad, UNITS)
    thirds = pd.DataFrame(
        {
            "case_id": ["T"] * 3,
            "period": ["2025-04"] * 3,
            "station": ["S1"] * 3,
            "officer_id": ["S1-M1", "S1-M2", "S1-M3"],
            "contribution_share": [0.3333] * 3,
        }
    )
    assert len(validate_collaborations(thirds, UNITS)) == 3  # within the default tolerance
    with pytest.raises(CollaborationError, match="add up to 0.9999"):
        validate_collaborations(thirds, UNITS, tolerance=1e-6)


def test_unknown_officer_and_station_name_the_column_and_row():
    bad = GOOD.copy()
    bad.loc[3, "officer_id"] = "S9-M1"
    bad.loc[4, "station"] = "S7"
    with pytest.raises(CollaborationError) as info:
        validate_collaborations(bad, UNITS)
    message = str(info.value)
    assert "column 'officer_id': unknown officer(s) 'S9-M1' in row 5" in message
    assert "column 'station': unknown station(s) 'S7' in row 6" in message


def test_percentages_text_periods_and_duplicates_are_explained():
    bad = GOOD.astype(str)
    bad.loc[0, "contribution_share"] = "50"
    bad.loc[1, "contribution_share"] = "一半"
    bad.loc[2, "period"] = "2025年5月份"
    bad.loc[4, "officer_id"] = ""
    bad = pd.concat([bad, bad.iloc[[3]]], ignore_index=True)
    with pytest.raises(CollaborationError) as info:
        validate_collaborations(bad, UNITS)
    message = str(info.value)
    assert "must be a fraction in (0, 1] but is '50' in row 2 — these look like percentages" in message
    assert "'contribution_share' is not a number in row 3" in message
    assert "column 'period' is not a month in row 4" in message
    assert "column 'officer_id' is blank in row 6" in message
    assert "officer listed twice for the same case in rows 5, 7" in message


def test_missing_column_and_a_case_in_two_stations():
    with pytest.raises(CollaborationError, match="missing column.*contribution_share"):
        validate_collaborations(GOOD.drop(columns="contribution_share"))
    bad = GOOD.copy()
    bad.loc[1, "station"] = "S2"
    with pytest.raises(CollaborationError, match="case 'A' has several values in column 'station'"):
        validate_collaborations(bad, UNITS)


def test_file_with_chinese_headers_reports_spreadsheet_rows(tmp_path):
    path = tmp_path / "协作.csv"
    frame = GOOD.rename(
        columns={
            "case_id": "案件编号",
            "period": "月份",
            "station": "派出所",
            "officer_id": "民警编号",
            "contribution_share": "贡献比例",
        }
    )
    frame.to_csv(path, index=False)
    assert len(read_collaborations(path, UNITS)) == 5
    frame.loc[2, "贡献比例"] = 0.5
    frame.to_csv(path, index=False)
    with pytest.raises(CollaborationError, match=r"协作\.csv: case 'B'.*\(rows 4, 5\)"):
        read_collaborations(path, UNITS)


# ---------------------------------------------------------------- credit
def test_credit_split_by_hand():
    clean = validate_collaborations(GOOD, UNITS)
    credits = credit_split(clean, UNITS, case_credit={"A": 1.0, "B": 2.0, "C": 4.0}).set_index("officer_id")
    # S1-M1: 0.5 × 1 + 0.25 × 2; S1-M2: 0.5 × 1; S1-M3: 0.75 × 2; S2-M1: 1 × 4; S2-M2: no case
    assert credits["credit"].to_dict() == {"S1-M1": 1.0, "S1-M3": 1.5, "S1-M2": 0.5, "S2-M1": 4.0, "S2-M2": 0.0}
    assert credits.loc["S1-M1", "n_cases"] == 2 and credits.loc["S2-M2", "n_cases"] == 0
    assert credits.loc["S1-M3", "team_credit"] == 3.0 and credits.loc["S1-M3", "team_share"] == 0.5
    teams = team_credit(clean, case_credit={"A": 1.0, "B": 2.0, "C": 4.0}).set_index("station")
    assert teams["team_credit"].to_dict() == {"S2": 4.0, "S1": 3.0}
    assert teams.loc["S1", "mean_participants"] == 2.0
    quarter = credit_split(clean, UNITS, period="2025Q2").set_index("officer_id")["credit"]
    assert quarter["S1-M1"] == 0.75 and quarter["S2-M1"] == 0.0  # case C is in July
    with pytest.raises(CollaborationError, match="no value for case.*'C'"):
        credit_split(clean, UNITS, case_credit={"A": 1.0, "B": 2.0})


def test_a_case_worked_with_another_station_credits_each_officers_own_team():
    """R17: cross-unit collaboration — S2-M2 helps on S1's case A; each home team's shares add up to 1."""
    cross = pd.concat(
        [
            GOOD,
            pd.DataFrame(
                {
                    "case_id": ["D", "D"],
                    "period": ["2025-05", "2025-05"],
                    "station": ["S1", "S1"],
                    "officer_id": ["S1-M2", "S2-M2"],
                    "contribution_share": [0.6, 0.4],
                }
            ),
        ],
        ignore_index=True,
    )
    credits = credit_split(validate_collaborations(cross, UNITS), UNITS).set_index("officer_id")
    # S2: S2-M1 1.0 (case C) + S2-M2 0.4 (case D) = 1.4; S1: 0.75 + 1.1 + 0.75 = 2.6
    assert credits.loc["S2-M2", "credit"] == pytest.approx(0.4)
    assert credits.loc["S2-M2", "team_credit"] == pytest.approx(1.4)
    assert credits.loc["S1-M2", "team_credit"] == pytest.approx(2.6)
    assert credits.groupby("station")["team_share"].sum().tolist() == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_credit_table_lists_the_officers_of_the_stations_with_most_team_credit(lang):
    clean = validate_collaborations(GOOD, UNITS)
    credits = credit_split(clean, UNITS, case_credit={"A": 1.0, "B": 2.0, "C": 4.0})
    teams = team_credit(clean, case_credit={"A": 1.0, "B": 2.0, "C": 4.0})  # S2: 4, S1: 3
    top = credit_table(credits, teams, lang, top=1)
    assert top.iloc[:, 0].tolist() == ["S2-M1", "S2-M2"]  # every officer of S2, also the one without a case
    assert top.iloc[:, -1].tolist() == [1.0, 0.0]  # share of S2's team credit: 4 of 4, 0 of 4
    assert top.columns[-1] == ("占团队积分" if lang == "zh" else "Share of team credit")
    assert len(top.columns) == 6 and top.columns[0] == ("民警编号" if lang == "zh" else "Officer")  # ids only
    named = credit_table(
        credit_split(clean, UNITS, case_credit={"A": 1.0, "B": 2.0, "C": 4.0}, show_names=True), teams, lang, top=1
    )
    assert len(named.columns) == 7 and named.columns[1] == ("姓名" if lang == "zh" else "Name")
    both = credit_table(credits, teams, lang, top=3)
    assert sorted(both.iloc[:, 0]) == sorted(UNITS.loc[UNITS["level"] == "officer", "unit_id"])


def test_individual_credits_add_up_to_team_credit_on_simulated_cases(world_units):
    collab = simulate_collaborations(world_units, ["2024-01", "2024-02", "2024-03"], rng=4)
    clean = validate_collaborations(collab, world_units)
    credits = credit_split(clean, world_units)
    per_station = credits.groupby("station")["credit"].sum()
    teams = team_credit(clean).set_index("station")["team_credit"]
    np.testing.assert_allclose(per_station.reindex(teams.index), teams)
    assert teams.sum() == pytest.approx(clean["case_id"].nunique())
    summary = collaboration_summary(clean)
    assert summary["n_cases"] == clean["case_id"].nunique()
    assert summary["mean_participants"] == pytest.approx(len(clean) / summary["n_cases"])


def test_monthly_credit_fills_zero_months_and_skips_months_without_data():
    clean = validate_collaborations(GOOD, UNITS)
    panel = monthly_credit(clean, UNITS, months=["2025-03", "2025-04", "2025-05"])
    assert sorted(panel["period"].unique()) == ["2025-04", "2025-05"]  # no case at all in March
    assert len(panel) == 5 * 2 and panel["credit"].sum() == pytest.approx(1.0 + 1.0)
    assert panel.set_index(["officer_id", "period"]).loc[("S1-M2", "2025-05"), "credit"] == 0.0
    assert trailing_months("2025Q2", 3) == ["2025-04", "2025-05", "2025-06"]


# ---------------------------------------------------------------- variance decomposition
def test_anova_one_way_by_hand():
    data = pd.DataFrame({"team": list("AABBCC"), "y": [1.0, 3.0, 5.0, 7.0, 2.0, 4.0]})
    # team means 2, 6, 3; grand 11/3; MSB = 2 × (25/9 + 49/9 + 4/9) / 2 = 26/3; MSW = 6 / 3 = 2
    result = anova_components(data, "y", "team")
    assert result.team == pytest.approx((26 / 3 - 2) / 2)
    assert result.individual == pytest.approx(2.0)
    assert result.team_share == pytest.approx((10 / 3) / (10 / 3 + 2))


def test_anova_nested_by_hand():
    # 2 teams × 2 officers × 2 months
    data = pd.DataFrame(
        {
            "team": ["A"] * 4 + ["B"] * 4,
            "officer": ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2"],
            "y": [1.0, 3.0, 4.0, 6.0, 9.0, 11.0, 8.0, 8.0],
        }
    )
    # officer means 2, 5, 10, 8; team means 3.5, 9; grand 6.25
    ms_team = 4 * ((3.5 - 6.25) ** 2 + (9 - 6.25) ** 2) / 1  # 60.5
    ms_officer = 2 * ((2 - 3.5) ** 2 + (5 - 3.5) ** 2 + (10 - 9) ** 2 + (8 - 9) ** 2) / 2  # 6.5
    mse = (1 + 1 + 1 + 1 + 1 + 1 + 0 + 0) / 4  # 1.5
    result = anova_components(data, "y", "team", "officer")
    assert result.residual == pytest.approx(mse)
    assert result.individual == pytest.approx((ms_officer - mse) / 2)
    assert result.team == pytest.approx((ms_team - ms_officer) / 4)


def _balanced(seed: int, teams: int = 40, officers: int = 5, months: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    team = np.repeat(np.arange(teams), officers * months)
    officer = np.repeat(np.arange(teams * officers), months)
    month = np.tile(np.arange(months), teams * officers)
    y = (
        rng.normal(0, 1.0, teams)[team]
        + rng.normal(0, 0.8, teams * officers)[officer]
        + rng.normal(0, 0.6, (teams, months))[team, month]
        + rng.normal(0, 1.0, len(team))
    )
    return pd.DataFrame({"team": team, "officer": officer, "month": month, "y": y})


@pytest.mark.parametrize("design", ["one-way", "nested", "nested+period"])
def test_mixedlm_reproduces_the_anova_estimates_on_balanced_data(design):
    data = _balanced(3)
    if design == "one-way":
        data = data.groupby(["team", "officer"], as_index=False)["y"].mean()
        args, kwargs = ("y", "team"), {}
    else:
        args, kwargs = ("y", "team", "officer"), ({"period": "month"} if design == "nested+period" else {})
    mixed = variance_decomposition(data, *args, **kwargs)
    moments = anova_components(data, *args, **kwargs)
    assert mixed.converged and min(moments.team, moments.individual) > 0
    for part in ("team", "individual", "residual", "team_period"):
        expected, got = getattr(moments, part), getattr(mixed, part)
        assert (np.isnan(expected) and np.isnan(got)) or got == pytest.approx(expected, rel=1e-3), part


def test_unbalanced_data_are_refused_by_anova_but_not_by_mixedlm():
    data = _balanced(4).iloc[:-3]
    with pytest.raises(CollaborationError, match="balanced"):
        anova_components(data, "y", "team", "officer")
    assert variance_decomposition(data, "y", "team", "officer").team > 0


def test_planted_team_share_is_recovered_from_simulated_collaborations(world_units):
    months = [str(m) for m in pd.period_range("2024-01", periods=24, freq="M")]
    collab = simulate_collaborations(world_units, months, rng=9)
    panel = monthly_credit(validate_collaborations(collab, world_units), world_units)
    result = variance_decomposition(panel, "credit", "station", "officer_id", period="period")
    low, high = team_share_interval(
        panel, "credit", "station", "officer_id", period="period", n_boot=300, confidence=0.90, rng=0
    )
    planted = COLLABORATION_EFFECTS.team_share
    assert result.converged
    assert abs(result.team_share - planted) < 0.12
    assert low < planted < high and low < result.team_share < high
    # the planted persistent variance, team + individual, is recovered as well
    assert result.team + result.individual == pytest.approx(COLLABORATION_EFFECTS.persistent_sd**2, rel=0.3)


def test_no_planted_team_effect_gives_a_small_team_share(world_units):
    months = [str(m) for m in pd.period_range("2024-01", periods=24, freq="M")]
    collab = simulate_collaborations(world_units, months, rng=9, effects=CollaborationEffects(team_share=0.0))
    panel = monthly_credit(collab, world_units)
    assert anova_components(panel, "credit", "station", "officer_id", period="period").team_share < 0.12


def test_team_month_shocks_are_not_taken_for_a_team_effect(world_units):
    """The station's monthly case count is shared by its officers; ignoring it inflates the team share."""
    months = [str(m) for m in pd.period_range("2024-01", periods=12, freq="M")]
    shares = {False: [], True: []}
    for seed in range(6):
        panel = monthly_credit(simulate_collaborations(world_units, months, rng=seed), world_units)
        for with_period in shares:
            result = anova_components(
                panel, "credit", "station", "officer_id", period="period" if with_period else None
            )
            shares[with_period].append(result.team_share)
    assert np.mean(shares[False]) > np.mean(shares[True]) + 0.04
    assert abs(np.mean(shares[True]) - COLLABORATION_EFFECTS.team_share) < 0.06


def test_shares_and_table():
    share = VarianceShare(
        "y",
        "anova",
        team=1.0,
        individual=3.0,
        residual=4.0,
        n_teams=2,
        n_individuals=4,
        n_observations=8,
        team_period=2.0,
    )
    assert share.team_share == 0.25 and share.team_share_total == 0.1
    negative = VarianceShare(
        "y", "anova", team=-0.5, individual=2.0, residual=float("nan"), n_teams=2, n_individuals=4, n_observations=4
    )
    assert negative.team_share == 0.0
    table = variance_table([share, negative], "en")
    assert table["Team share"].tolist() == [0.25, 0.0]


def test_bad_decomposition_requests_are_explained():
    data = _balanced(5)
    with pytest.raises(CollaborationError, match="'station' not in the data"):
        variance_decomposition(data, "y", "station")
    with pytest.raises(CollaborationError, match="at least two teams"):
        variance_decomposition(data.assign(team=1), "y", "team")
    with pytest.raises(CollaborationError, match="is not numeric"):
        variance_decomposition(data.assign(y=["x"] + data["y"].tolist()[1:]), "y", "team")
    with pytest.raises(CollaborationError, match="needs an individual column"):
        variance_decomposition(data, "y", "team", period="month")


def test_planted_shares_are_read_only_from_simulated_samples(tmp_path):
    generate_sample(tmp_path, stations=3, months=2, rng=1, frameworks=["station_four_dimension"])
    assert planted_team_shares(tmp_path) == {"collaboration_credit": 0.4, "officer_performance": 0.3}
    assert planted_team_shares(tmp_path / "elsewhere") == {}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_figures_are_labelled_and_saved(tmp_path, world_units, lang):
    apply_report_style()
    collab = simulate_collaborations(world_units, ["2024-01", "2024-02"], rng=1)
    credits = credit_split(collab, world_units)
    assert save_figure(figure_team_credit(credits, lang=lang), tmp_path / "credit.png").stat().st_size > 5_000
    panel = monthly_credit(collab, world_units)
    results = [
        anova_components(panel, "credit", "station", "officer_id"),
        VarianceShare("score", "mixedlm", 1.0, 2.0, float("nan"), 10, 60, 60),
    ]
    fig = figure_variance_shares(results, lang=lang, labels=["a", "b"], planted={0: 0.4}, intervals={0: (0.2, 0.6)})
    assert save_figure(fig, tmp_path / "shares.png").stat().st_size > 5_000
