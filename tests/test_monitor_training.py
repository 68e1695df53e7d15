"""Training-needs list (R15): weakest nodes relative to peers, topics from the framework, the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.evaluation import Evaluation
from perfmodel.framework import framework_from_dict, load_framework
from perfmodel.monitor.cockpit import peer_percentiles
from perfmodel.monitor.training import (
    LEVELS,
    NEEDS_COLUMNS,
    TrainingError,
    bureau_training_needs,
    figure_training_plan,
    needs_excerpt,
    node_scores,
    plan_table,
    training_needs,
    training_plan,
    training_topic,
    weakest_nodes,
)
from perfmodel.report.style import apply_report_style, save_figure
from perfmodel.simulate import simulate
from perfmodel.text import say

STATION = "station_four_dimension"


def _framework():
    leaf = {"kind": "rate", "range": [0, 1]}
    return framework_from_dict(
        {
            "id": "topics",
            "name": {"zh": "主题", "en": "topics"},
            "level": "station",
            "tree": [
                {
                    "id": "service",
                    "name": {"zh": "服务", "en": "service"},
                    "weight": 0.5,
                    "training_topic": "群众工作",
                    "children": [
                        {
                            "id": "mediation",
                            "name": {"zh": "调解", "en": "mediation"},
                            "weight": 0.5,
                            "training_topic": "矛盾纠纷调解",
                            **leaf,
                        },
                        {"id": "window", "name": {"zh": "窗口", "en": "window"}, "weight": 0.5, **leaf},
                    ],
                },
                {
                    "id": "evidence",
                    "name": {"zh": "取证", "en": "evidence"},
                    "weight": 0.5,
                    "children": [
                        {"id": "e_evidence", "name": {"zh": "电子取证", "en": "e-evidence"}, "weight": 1.0, **leaf},
                    ],
                },
            ],
        }
    )


def test_topics_come_from_the_node_or_its_nearest_ancestor():
    fw = _framework()
    assert training_topic(fw, "mediation") == ("矛盾纠纷调解", "mediation")
    assert training_topic(fw, "window") == ("群众工作", "service")
    assert training_topic(fw, "e_evidence") == (None, None)
    with pytest.raises(TrainingError, match="'nope' is not in framework 'topics'"):
        training_topic(fw, "nope")


def test_every_shipped_station_indicator_has_a_topic():
    fw = load_framework(STATION)
    assert all(training_topic(fw, i.id)[0] for i in fw.indicators())


def test_weakest_nodes_by_hand():
    scores = pd.DataFrame(
        {"a": [10.0, 20.0, 30.0, 40.0], "b": [40.0, 30.0, 20.0, 10.0], "c": [5.0, 50.0, 60.0, 70.0]},
        index=["u1", "u2", "u3", "u4"],
    )
    # percentiles of four: 12.5, 37.5, 62.5, 87.5
    weak = weakest_nodes(scores, threshold=30)
    assert weak[["unit_id", "node", "percentile", "order"]].values.tolist() == [
        ["u1", "a", 12.5, 1],
        ["u1", "c", 12.5, 2],
        ["u4", "b", 12.5, 1],
    ]
    assert weak.loc[0, "peer_median"] == 25.0
    top1 = weakest_nodes(scores, threshold=30, top=1)
    assert top1["node"].tolist() == ["a", "b"]  # ties broken in column order
    groups = pd.Series(["x", "x", "y", "y"], index=scores.index)
    by_group = weakest_nodes(scores, groups, threshold=30)
    assert set(by_group["percentile"]) == {25.0}  # two per group: 25 and 75
    assert sorted(map(tuple, by_group[["unit_id", "node"]].values)) == [
        ("u1", "a"),
        ("u1", "c"),
        ("u2", "b"),
        ("u3", "a"),
        ("u3", "c"),
        ("u4", "b"),
    ]


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(0, 100, allow_nan=False), min_size=12, max_size=12),
    threshold=st.floats(5, 100),
    top=st.integers(1, 3),
)
def test_weakest_nodes_are_below_the_threshold_and_at_most_top(values, threshold, top):
    scores = pd.DataFrame(np.array(values).reshape(4, 3), columns=list("abc"), index=list("pqrs"))
    weak = weakest_nodes(scores, threshold=threshold, top=top)
    pct = peer_percentiles(scores)
    assert (weak["percentile"] < threshold).all()
    assert weak.empty or weak.groupby("unit_id").size().max() <= top
    for row in weak.itertuples():
        assert pct.loc[row.unit_id, row.node] == row.percentile
        # nothing weaker was left out for this unit
        assert (pct.loc[row.unit_id] < row.percentile).sum() < row.order


def test_bad_arguments_are_explained():
    with pytest.raises(TrainingError, match="threshold"):
        weakest_nodes(pd.DataFrame({"a": [1.0]}), threshold=0)
    with pytest.raises(TrainingError, match="top"):
        weakest_nodes(pd.DataFrame({"a": [1.0]}), top=0)


@pytest.fixture(scope="module")
def stations():
    fw = load_framework(STATION)
    sample = simulate([fw], stations=80, months=12, rng=6, confounding=False, defect_rate=0.0, officers_per_station=0)
    return Evaluation(fw, sample.observations[fw.id], sample.units, "2024").run(), sample


def test_needs_carry_the_framework_topics_and_peer_groups(stations):
    ev, _ = stations
    needs = training_needs(ev, threshold=25, top=2)
    assert list(needs.columns) == NEEDS_COLUMNS
    assert needs.groupby("unit_id").size().max() <= 2 and (needs["percentile"] < 25).all()
    for row in needs.itertuples():
        assert (row.topic, row.topic_from) == training_topic(ev.framework, row.node)
    assert needs["peer_group"].str.startswith("station · ").all()  # station classes
    assert (needs["station"] == needs["unit_id"]).all()


def test_self_ratings_are_not_needs_unless_asked():
    fw = load_framework("officer_traffic")
    sample = simulate([fw], stations=20, months=3, rng=3, defect_rate=0.0)
    ev = Evaluation(fw, sample.observations[fw.id], sample.units, "2024Q1").run()
    assert "self_rating" not in node_scores(ev).columns
    assert "self_rating" in node_scores(ev, exclude_sources=()).columns
    assert list(node_scores(ev, "top").columns) == [n.id for n in fw.tree]
    officers = training_needs(ev)
    assert (officers["level"] == "officer").all() and (officers["station"] == officers["unit_id"].str[:5]).all()
    with pytest.raises(TrainingError, match="level must be"):
        node_scores(ev, "leaf")


def test_flagged_dimensions_are_truly_weak(stations):
    """Without confounding, a dimension flagged as weak is one where the station's true performance is low."""
    ev, sample = stations
    needs = training_needs(ev, level="top", threshold=25, top=2)
    truth = sample.truth_units[sample.truth_units["node"] != "overall"].copy()
    truth["true_pct"] = truth.groupby("node")["true_latent"].rank(pct=True)
    flagged = needs.merge(truth[["unit_id", "node", "true_pct"]], on=["unit_id", "node"])
    assert len(flagged) == len(needs) > 20
    assert flagged["true_pct"].mean() < 0.3
    assert (flagged["true_pct"] < 0.5).mean() > 0.85


def _needs(rows):
    return pd.DataFrame(rows, columns=["framework", "level", "unit_id", "name", "node_name", "node_name_en", "topic"])


def test_plan_counts_distinct_stations_and_officers_per_topic():
    stations = _needs(
        [
            ["s", "station", "S1", "一所", "调解率", "Mediation", "矛盾纠纷调解"],
            ["s", "station", "S2", "二所", "调解率", "Mediation", "矛盾纠纷调解"],
            ["s", "station", "S2", "二所", "取证率", "Evidence", None],
        ]
    )
    officers = _needs(
        [
            ["o", "officer", "S1-M1", "甲", "化解率", "Resolution", "矛盾纠纷调解"],
            ["o", "officer", "S1-M1", "甲", "时效", "Speed", "矛盾纠纷调解"],
            ["o", "officer", "S1-M2", "乙", "时效", "Speed", "矛盾纠纷调解"],
        ]
    )
    plan = training_plan([stations, officers, officers.iloc[:0]], max_listed=3)
    first = plan.iloc[0]
    assert (first["topic"], first["n_stations"], first["n_officers"], first["n_total"]) == ("矛盾纠纷调解", 2, 2, 4)
    assert first["units"] == "一所(S1)、二所(S2)、甲(S1-M1) 等共 4 个"
    assert first["indicators"] == "调解率、化解率、时效"
    assert plan.iloc[1]["topic"] == say("monitor.training.no_topic", "zh") and plan.iloc[1]["n_total"] == 1
    english = training_plan([stations, officers], lang="en", max_listed=10)
    assert (
        english.iloc[1]["topic"] == say("monitor.training.no_topic", "en")
        and english.iloc[0]["indicators"] == "Mediation, Resolution, Speed"
    )
    assert training_plan([]).empty


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_plan_figure_is_labelled_and_saved(tmp_path, stations, lang):
    apply_report_style()
    plan = training_plan([training_needs(stations[0])], lang)
    assert save_figure(figure_training_plan(plan, lang=lang), tmp_path / "plan.png").stat().st_size > 5_000


# ---------------------------------------------------------------- several evaluations, report tables
def test_bureau_needs_are_every_evaluations_needs_one_after_the_other(stations):
    ev, _ = stations
    fw = load_framework("officer_traffic")
    sample = simulate([fw], stations=20, months=3, rng=3, defect_rate=0.0)
    officers = Evaluation(fw, sample.observations[fw.id], sample.units, "2024Q1").run()
    needs = bureau_training_needs([ev, officers], level="dimension", threshold=30, top=1)
    parts = [training_needs(e, level="dimension", threshold=30, top=1) for e in (ev, officers)]
    assert list(dict.fromkeys(needs["framework"])) == [STATION, "officer_traffic"]
    pd.testing.assert_frame_equal(needs, pd.concat(parts, ignore_index=True))
    assert needs.groupby("unit_id").size().max() == 1 and (needs["percentile"] < 30).all()
    assert training_plan([needs]).equals(training_plan(parts))
    empty = bureau_training_needs([])
    assert empty.empty and list(empty.columns) == NEEDS_COLUMNS


def test_bureau_needs_can_compare_calibrated_scores(stations):
    ev, _ = stations
    calibrated = bureau_training_needs([ev], calibration="casemix")
    pd.testing.assert_frame_equal(calibrated, training_needs(ev.regen(calibration="casemix")))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_excerpt_and_plan_table_for_the_report(lang):
    needs = pd.DataFrame(
        {
            "framework": ["s", "s", "o"],
            "level": ["station", "station", "officer"],
            "unit_id": ["S1", "S2", "S1-M1"],
            "name": ["一所", "二所", "甲"],
            "peer_group": ["g"] * 3,
            "node_name": ["调解", "取证", "时效"],
            "node_name_en": ["Mediation", "Evidence", "Speed"],
            "score": [10.0, 20.0, 30.0],
            "peer_median": [50.0] * 3,
            "percentile": [5.0, 10.0, 15.0],
            "topic": ["t"] * 3,
        }
    )
    excerpt = needs_excerpt(needs, lang, rows=5, framework="s")
    assert excerpt["unit_id"].tolist() == ["S1", "S2"]
    assert excerpt.columns[3] == ("node_name" if lang == "zh" else "node_name_en") and len(excerpt.columns) == 8
    assert needs_excerpt(needs, lang, rows=2)["unit_id"].tolist() == ["S1", "S2"]
    plan = training_plan([needs], lang)
    table = plan_table(plan, lang)
    assert len(table) == len(plan) and table.columns[0] == ("培训主题" if lang == "zh" else "Topic")
    assert set(LEVELS) == {"indicator", "dimension", "top"}
