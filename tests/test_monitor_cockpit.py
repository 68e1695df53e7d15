"""Officer cockpit (R14): axes, peer percentiles, case points (R13) and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import percentileofscore, spearmanr

from perfmodel.evaluation import Evaluation
from perfmodel.framework import framework_from_dict, load_framework, shipped_frameworks
from perfmodel.monitor.cockpit import (
    AXES,
    Cockpit,
    CockpitError,
    axes_description,
    axis_names,
    axis_scores,
    cockpit_axes,
    cockpit_summary,
    figure_cockpit_overview,
    figure_officer_profile,
    figure_officer_profiles,
    negative_records,
    negative_table,
    officer_cockpit,
    peer_percentiles,
    profile_table,
    select_officers,
)
from perfmodel.report.style import apply_report_style, save_figure
from perfmodel.simulate import simulate

COMMUNITY = "officer_community_policing"


@pytest.fixture(scope="module")
def community():
    """Community officers of 30 stations, one quarter, realistic context and defects removed."""
    fw = load_framework(COMMUNITY)
    sample = simulate([fw], stations=30, months=6, rng=11, defect_rate=0.0)
    ev = Evaluation(fw, sample.observations[fw.id], sample.units, "2024Q2").run()
    return ev, sample


@pytest.fixture(scope="module")
def cockpit(community):
    return officer_cockpit(community[0])


# ---------------------------------------------------------------- percentiles
@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 6), min_size=1, max_size=25),
    groups=st.lists(st.sampled_from("ab"), min_size=25, max_size=25),
)
def test_peer_percentiles_match_scipy_mean_percentile_within_groups(values, groups):
    data = pd.Series(values, dtype=float)
    keys = pd.Series(groups[: len(values)])
    result = peer_percentiles(data, keys)
    for group in keys.unique():
        members = data[keys == group].to_numpy()
        expected = [percentileofscore(members, v, kind="mean") for v in members]
        np.testing.assert_allclose(result[keys == group].to_numpy(), expected)


def test_peer_percentiles_leave_missing_values_out():
    result = peer_percentiles(pd.Series([1.0, np.nan, 3.0]))
    assert result.tolist()[0] == 25.0 and np.isnan(result.iloc[1]) and result.iloc[2] == 75.0


# ---------------------------------------------------------------- axes
@pytest.mark.parametrize("fid", [f for f in shipped_frameworks() if f.startswith("officer_")])
def test_default_axes_follow_sources_and_kinds(fid):
    fw = load_framework(fid)
    axes = cockpit_axes(fw)
    placed = [i for ids in axes.values() for i in ids]
    assert len(placed) == len(set(placed))
    meta = fw.indicator_meta()
    assert {i for i in meta if meta[i].source in ("supervisor", "peer", "self")}.isdisjoint(placed)
    assert {i for i in meta if meta[i].source == "citizen"} == set(axes["satisfaction"])
    assert {i for i in meta if meta[i].kind == "points"} <= set(axes["workload"])
    assert all(axes[a] for a in AXES), axes


def _three_indicator_framework():
    leaf = {"kind": "rate", "range": [0, 1]}
    return framework_from_dict(
        {
            "id": "tiny",
            "name": {"zh": "小", "en": "tiny"},
            "level": "officer",
            "role": "community_policing",
            "policy": {"max_subjective_weight": 1.0},
            "tree": [
                {
                    "id": "work",
                    "name": {"zh": "工作", "en": "work"},
                    "weight": 0.6,
                    "children": [
                        {"id": "cases", "name": {"zh": "案件", "en": "cases"}, "weight": 0.5, "kind": "count"},
                        {"id": "solved", "name": {"zh": "破案", "en": "solved"}, "weight": 0.5, **leaf},
                    ],
                },
                {
                    "id": "people",
                    "name": {"zh": "群众", "en": "people"},
                    "weight": 0.4,
                    "children": [
                        {
                            "id": "survey",
                            "name": {"zh": "测评", "en": "survey"},
                            "weight": 0.25,
                            "source": "citizen",
                            **leaf,
                        },
                        {
                            "id": "callback",
                            "name": {"zh": "回访", "en": "callback"},
                            "weight": 0.75,
                            "source": "citizen",
                            **leaf,
                        },
                    ],
                },
            ],
        }
    )


def test_axis_scores_are_effective_weight_means_computed_by_hand():
    fw = _three_indicator_framework()
    normalised = pd.DataFrame(
        {"cases": [80.0, 20.0], "solved": [50.0, 10.0], "survey": [100.0, 0.0], "callback": [60.0, np.nan]},
        index=["u1", "u2"],
    )
    scores = axis_scores(normalised, fw)
    assert scores.loc["u1", "workload"] == 80.0 and scores.loc["u1", "quality"] == 50.0
    # satisfaction: effective weights 0.4*0.25 = 0.1 and 0.4*0.75 = 0.3
    assert scores.loc["u1", "satisfaction"] == pytest.approx((0.1 * 100 + 0.3 * 60) / 0.4)
    assert scores.loc["u2", "satisfaction"] == 0.0  # missing callback: its weight goes to survey


def test_axes_given_by_hand_are_checked():
    fw = _three_indicator_framework()
    with pytest.raises(CockpitError, match="unknown cockpit axis 'speed'"):
        axis_scores(pd.DataFrame(), fw, {"speed": ["cases"]})
    with pytest.raises(CockpitError, match="'nonsense' is not in framework 'tiny'"):
        axis_scores(pd.DataFrame(), fw, {"workload": ["nonsense"]})
    with pytest.raises(CockpitError, match="'cases' is on two axes"):
        axis_scores(pd.DataFrame(), fw, {"workload": ["cases"], "quality": ["cases"]})


# ---------------------------------------------------------------- the cockpit
def test_every_officer_of_the_role_has_a_profile(community, cockpit):
    ev, sample = community
    officers = sample.units[(sample.units["level"] == "officer") & (sample.units["role"] == "community_policing")]
    assert sorted(cockpit.profiles["unit_id"]) == sorted(officers["unit_id"])
    assert (cockpit.profiles["station"] == cockpit.profiles["unit_id"].str[:5]).all()
    pct = cockpit.profiles[[f"{a}_pct" for a in AXES]]
    assert ((pct > 0) & (pct < 100)).all().all()
    # mid-rank percentiles of n complete values average exactly 50
    assert pct.mean().to_numpy() == pytest.approx([50.0] * 3)


def test_case_points_bonus_and_negative_list_agree_with_the_evaluation(community, cockpit):
    ev, _ = community
    p = cockpit.profiles.set_index("unit_id")
    expected_bonus = ev.scores.set_index("unit_id")["bonus"]
    np.testing.assert_allclose(p["bonus_points"], expected_bonus.reindex(p.index))
    expected_points = ev.stages["values"]["case_points"].fillna(0.0)
    np.testing.assert_allclose(p["case_points"], expected_points.reindex(p.index))
    hits = ev.stages["negative_hits"].groupby("unit_id")["count"].sum()
    np.testing.assert_allclose(p["negative_hits"], hits.reindex(p.index).fillna(0.0))
    assert (p.loc[p["negative_hits"] > 0, "negative_items"] != "").all()


def test_case_ledger_points_follow_the_scheme(community, cockpit):
    ev, _ = community
    scheme = ev.framework.node("case_points").node.points
    cases = cockpit.ledger[cockpit.ledger["kind"] == "case"]
    assert len(cases) and (cases["points"] == cases["count"] * cases["item"].map(scheme)).all()
    caps = {b.id: b.cap for b in ev.framework.bonus}
    bonus = cockpit.ledger[cockpit.ledger["kind"] == "bonus"]
    assert (bonus["points"] <= bonus["indicator"].map(caps)).all()


def test_finer_peer_groups_split_the_role(community):
    ev, _ = community
    split = officer_cockpit(ev, peer_group="area_type")
    assert split.profiles["peer_group"].str.startswith("community_policing · ").all()
    sizes = split.profiles.groupby("peer_group").size()
    assert (split.profiles["n_peers"] == split.profiles["peer_group"].map(sizes)).all()
    with pytest.raises(CockpitError, match="'shoe_size' is not in the units table"):
        officer_cockpit(ev, peer_group="shoe_size")


def test_satisfaction_axis_recovers_true_citizen_evaluation():
    """Without confounding, the satisfaction percentile ranks officers by their true citizen-facing performance."""
    fw = load_framework(COMMUNITY)
    sample = simulate([fw], stations=30, months=12, rng=5, confounding=False, defect_rate=0.0)
    cockpit = officer_cockpit(Evaluation(fw, sample.observations[fw.id], sample.units, "2024").run())
    truth = sample.truth_units.query("node == 'citizen_evaluation'").set_index("unit_id")["true_latent"]
    profiles = cockpit.profiles.set_index("unit_id")
    assert spearmanr(profiles["satisfaction_pct"], truth.reindex(profiles.index)).statistic > 0.85


def test_unknown_officer_is_named(cockpit):
    with pytest.raises(CockpitError, match="'PS999-M01' is not in the cockpit"):
        cockpit.profile("PS999-M01")


def test_selected_officers_are_the_best_and_the_lowest(cockpit):
    chosen = select_officers(cockpit, 4)
    ranked = cockpit.profiles.sort_values("score", ascending=False)["unit_id"].tolist()
    assert chosen == ranked[:2] + ranked[-2:]
    assert select_officers(cockpit, 0) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_figures_are_labelled_and_saved(tmp_path, cockpit, lang):
    apply_report_style()
    chosen = select_officers(cockpit, 3)
    for name, fig in (
        ("one", figure_officer_profile(cockpit, chosen[0], lang=lang)),
        ("many", figure_officer_profiles(cockpit, chosen, lang=lang, ncols=2)),
        ("overview", figure_cockpit_overview(cockpit, lang=lang)),
    ):
        assert save_figure(fig, tmp_path / f"{name}.png").stat().st_size > 5_000
    table = profile_table(cockpit, lang, chosen)
    assert len(table) == 3 and ("工作量 百分位" if lang == "zh" else "Workload percentile") in table.columns


def test_a_role_without_negative_list_hits_gets_a_cockpit():
    fw = load_framework("officer_emergency")
    sample = simulate([fw], stations=10, months=3, rng=1, defect_rate=0.0)
    cockpit = officer_cockpit(Evaluation(fw, sample.observations[fw.id], sample.units, "2024Q1").run())
    assert (cockpit.ledger["kind"] != "negative").all()  # the case this test is about
    assert (cockpit.profiles["negative_hits"] == 0).all() and (cockpit.profiles["negative_items"] == "").all()
    assert negative_records({fw.id: cockpit}).empty


# ---------------------------------------------------------------- report helpers
def _hand_cockpit(fw_id: str, profiles: pd.DataFrame, ledger: pd.DataFrame) -> Cockpit:
    fw = load_framework(fw_id)
    return Cockpit(fw, "2025Q2", cockpit_axes(fw), profiles, ledger)


PROFILES = pd.DataFrame(
    {
        "unit_id": ["A", "B", "C", "D"],
        "name": ["甲", "乙", "丙", "丁"],
        "station": ["S1", "S1", "S2", "S2"],
        "workload_pct": [10.0, 20.0, np.nan, 60.0],
        "quality_pct": [12.5, 30.0, 5.0, 10.0],
        "satisfaction_pct": [24.9, 10.0, 5.0, 10.0],
        "negative_hits": [0.0, 2.0, 0.0, 1.0],
    }
)
LEDGER = pd.DataFrame(
    {
        "unit_id": ["A", "B", "B", "D"],
        "kind": ["case", "negative", "negative", "negative"],
        "indicator": ["case_points", "enforcement_error", "petition_complaint", "enforcement_error"],
        "item": ["x", "y", "z", "y"],
        "name": ["办案", "执法过错", "信访投诉", "执法过错"],
        "count": [3.0, 1.0, 1.0, 1.0],
        "points": [30.0, 0.0, 0.0, 0.0],
        "consequence": [None, "warning", "warning", "warning"],
    }
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_summary_counts_officers_behind_on_every_axis_by_hand(lang):
    cockpit = _hand_cockpit(COMMUNITY, PROFILES, LEDGER)
    summary = cockpit_summary(cockpit, lang)
    # A is below 25 on all three; B not on quality; C's missing workload does not count as below; D not on workload
    assert summary["n_behind"] == 1 and summary["n_negative"] == 2 and summary["n_officers"] == 4
    assert cockpit_summary(cockpit, lang, threshold=70.0)["n_behind"] == 3  # C still not: a missing axis
    name = cockpit.framework.name
    assert summary["framework"] == (name.zh if lang == "zh" else name.en)
    assert summary["axes"] == axes_description(cockpit, lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_axes_description_names_every_axis_and_its_indicators(lang):
    fw = load_framework(COMMUNITY)
    axes = {"workload": ("case_points",), "quality": (), "satisfaction": cockpit_axes(fw)["satisfaction"]}
    text = axes_description(Cockpit(fw, "2025Q2", axes, PROFILES, LEDGER), lang)
    parts = text.split("; ")
    names = axis_names(lang)
    node = fw.node("case_points").node
    assert parts[0] == f"{names['workload']}: {node.name.zh if lang == 'zh' else node.name.en}"
    assert parts[1] == f"{names['quality']}: –"
    assert parts[2].startswith(names["satisfaction"]) and len(parts) == 3


def test_negative_records_of_several_cockpits_by_hand():
    first = _hand_cockpit(COMMUNITY, PROFILES, LEDGER)
    other = _hand_cockpit(
        "officer_traffic",
        PROFILES.assign(unit_id=["E", "F", "G", "H"]),
        LEDGER.assign(unit_id=["E", "E", "F", "H"], kind=["negative", "case", "case", "case"]),
    )
    records = negative_records({"a": first, "b": other})
    assert records["unit_id"].tolist() == ["B", "B", "D", "E"]
    assert records["framework"].tolist() == ["a", "a", "a", "b"]
    assert records["officer_name"].tolist() == ["乙", "乙", "丁", "甲"]
    assert records["station"].tolist() == ["S1", "S1", "S2", "S1"]
    assert records["name"].tolist() == ["执法过错", "信访投诉", "执法过错", "办案"]
    assert records["unit_id"].nunique() == 3
    zh, en = negative_table(records, "zh"), negative_table(records, "en")
    assert list(zh.columns) == ["民警编号", "姓名", "派出所", "事项", "次数", "后果"]
    assert list(en.columns) == ["Officer", "Name", "Station", "Item", "Count", "Consequence"]
    assert negative_records({}).empty and "unit_id" in negative_records({}).columns
