"""The shipped indicator systems load, are well formed and carry the seeds' numbers.

Weight sums are recomputed from the raw YAML rather than through the model, and the
seed numbers (quadrant weights, case points, thresholds, citizen share) are written
out here by hand from the seed documents, so these tests check the files against an
independent expectation.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.framework import (
    Dimension,
    Framework,
    Indicator,
    Threshold,
    framework_from_dict,
    load_framework,
    shipped_frameworks,
)

SHIPPED = sorted(shipped_frameworks())
OFFICER_FRAMEWORKS = [fid for fid in SHIPPED if fid.startswith("officer_")]
STATION_FRAMEWORKS = [fid for fid in SHIPPED if fid.startswith("station_")]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _raw(framework_id: str) -> dict:
    return yaml.safe_load(shipped_frameworks()[framework_id].read_text(encoding="utf-8"))


def _raw_sibling_groups(nodes: list[dict], path: str = "tree"):
    """(path, weights) for every group of siblings in a raw YAML tree."""
    yield path, [float(node["weight"]) for node in nodes]
    for node in nodes:
        if "children" in node:
            yield from _raw_sibling_groups(node["children"], f"{path} › {node['id']}")


def _by_zh(fw: Framework, name_zh: str) -> Indicator:
    matches = [ind for ind in fw.indicators() if ind.name.zh == name_zh]
    assert len(matches) == 1, f"{fw.id}: expected one indicator named {name_zh}, found {len(matches)}"
    return matches[0]


def _top(fw: Framework) -> dict[str, float]:
    return {node.name.zh: node.weight for node in fw.tree}


def _leaves_under(node: Dimension) -> list[Indicator]:
    out: list[Indicator] = []
    for child in node.children:
        out.extend(_leaves_under(child) if isinstance(child, Dimension) else [child])
    return out


# ------------------------------------------------------------------ every framework
def test_the_expected_frameworks_are_shipped():
    expected = {
        "station_four_dimension",
        "station_quadrant",
        "station_three_layer",
        "station_balanced_scorecard",
        "officer_criminal_investigation",
        "officer_community_policing",
        "officer_traffic",
    }
    assert expected <= set(SHIPPED)


@pytest.mark.parametrize("framework_id", SHIPPED)
def test_loads_by_id_and_id_matches_file_name(framework_id):
    fw = load_framework(framework_id)
    assert fw.id == framework_id
    assert fw.requirements, "cite the requirement ids the framework reproduces"
    assert all(re.fullmatch(r"R([1-9]|1\d|2[0-2])", r) for r in fw.requirements)
    assert fw.description and len(fw.description) > 80


@pytest.mark.parametrize("framework_id", SHIPPED)
def test_weights_of_every_node_sum_to_one_in_the_raw_file(framework_id):
    groups = list(_raw_sibling_groups(_raw(framework_id)["tree"]))
    assert len(groups) >= 4
    for path, weights in groups:
        assert math.fsum(weights) == pytest.approx(1.0, abs=1e-9), path
        assert all(w > 0 for w in weights), f"{path}: a zero weight hides an indicator"


def _raw_effective(nodes: list[dict], above: float = 1.0) -> dict[str, float]:
    """Leaf id → product of the weights on its path, straight from the raw YAML."""
    out: dict[str, float] = {}
    for node in nodes:
        weight = above * float(node["weight"])
        if "children" in node:
            out.update(_raw_effective(node["children"], weight))
        else:
            out[node["id"]] = weight
    return out


@pytest.mark.parametrize("framework_id", SHIPPED)
def test_effective_weights_are_path_products_and_sum_to_one(framework_id):
    fw = load_framework(framework_id)
    effective = fw.effective_weights()
    expected = _raw_effective(_raw(framework_id)["tree"])
    assert list(effective) == list(expected)
    for leaf_id, weight in expected.items():
        assert effective[leaf_id] == pytest.approx(weight, abs=1e-12), leaf_id
    assert math.fsum(effective.values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("framework_id", SHIPPED)
def test_names_are_bilingual_and_topics_present(framework_id):
    fw = load_framework(framework_id)
    assert CJK.search(fw.name.zh) and fw.name.en and not CJK.search(fw.name.en)
    for info in fw.walk():
        node = info.node
        assert CJK.search(node.name.zh), f"{node.id}: zh name needs Chinese text"
        assert node.name.en and not CJK.search(node.name.en), f"{node.id}: en name"
        assert node.training_topic, f"{node.id}: training_topic feeds the training-needs list"
    for item in (*fw.bonus, *fw.negative_list):
        assert CJK.search(item.name.zh) and item.name.en and not CJK.search(item.name.en)


@pytest.mark.parametrize("framework_id", SHIPPED)
def test_ranges_goalposts_and_targets_are_consistent(framework_id):
    fw = load_framework(framework_id)
    for ind in fw.indicators():
        assert ind.range is not None, f"{ind.id}: give the plausible range for data checks"
        low, high = ind.range
        if ind.kind == "rate":
            assert -1 <= low < high <= 1, f"{ind.id}: rates are fractions, not percentages"
        if ind.goalposts is not None:
            assert low <= ind.goalposts[0] < ind.goalposts[1] <= high, ind.id
        if ind.target is not None:
            assert low <= ind.target <= high, ind.id
        if ind.threshold is not None:
            bound = ind.threshold.min if ind.threshold.min is not None else ind.threshold.max
            assert low <= bound <= high, ind.id
        if ind.kind == "duration":
            assert ind.direction == "lower" and ind.unit, ind.id


@pytest.mark.parametrize("framework_id", SHIPPED)
def test_policy_limits_hold(framework_id):
    fw = load_framework(framework_id)
    assert fw.policy.max_temporary_weight <= 0.20 + 1e-12
    assert fw.policy.max_subjective_weight <= 0.30 + 1e-12
    assert fw.temporary_weight() <= fw.policy.max_temporary_weight + 1e-9
    assert fw.subjective_weight() <= fw.policy.max_subjective_weight + 1e-9


@pytest.mark.parametrize("framework_id", SHIPPED)
def test_bonus_and_negative_counts_are_inputs(framework_id):
    fw = load_framework(framework_id)
    inputs = fw.input_indicators()
    for item in (*fw.bonus, *fw.negative_list):
        assert inputs[item.indicator] == "count"
    for ind in fw.indicators():
        for case_type, points in (ind.points or {}).items():
            assert points > 0 and inputs[case_type] == "count"


def test_docs_list_every_shipped_framework(repo_root: Path):
    text = (repo_root / "docs" / "framework.md").read_text(encoding="utf-8")
    for framework_id in SHIPPED:
        assert f"`{framework_id}`" in text, f"docs/framework.md does not list {framework_id}"


# ------------------------------------------------------------------ station frameworks
@pytest.mark.parametrize("framework_id", STATION_FRAMEWORKS)
def test_station_frameworks_use_goalposts(framework_id):
    fw = load_framework(framework_id)
    assert fw.level == "station" and fw.role is None
    assert fw.normalisation.method == "goalposts"


def test_four_dimension_weights_from_seed_002():
    fw = load_framework("station_four_dimension")
    assert _top(fw) == {"执法质量": 0.30, "基础管控": 0.25, "群众服务": 0.20, "队伍管理": 0.25}


def test_quadrant_weights_from_seed_001():
    fw = load_framework("station_quadrant")
    assert [node.weight for node in fw.tree] == [0.40, 0.30, 0.20, 0.10]
    names = [node.name.zh for node in fw.tree]
    assert names[0].startswith("重大案件侦破") and "紧急且重要" in names[0]
    assert names[1].startswith("可防性案件预防") and "重要不紧急" in names[1]
    assert names[2].startswith("服务响应") and "紧急不重要" in names[2]
    assert names[3].startswith("行政合规")


def test_quadrant_tags_follow_their_dimension():
    fw = load_framework("station_quadrant")
    expected = [
        "urgent_important",
        "important_not_urgent",
        "urgent_not_important",
        "not_urgent_not_important",
    ]
    for dimension, quadrant in zip(fw.tree, expected, strict=True):
        assert {leaf.quadrant for leaf in _leaves_under(dimension)} == {quadrant}


def test_quadrant_non_preventable_cases_weigh_less():
    fw = load_framework("station_quadrant")
    weights = fw.effective_weights()
    checked = 0
    for dimension in fw.tree:
        leaves = _leaves_under(dimension)
        preventable = [weights[i.id] for i in leaves if i.preventable is True]
        non_preventable = [weights[i.id] for i in leaves if i.preventable is False]
        if non_preventable:
            checked += 1
            assert max(non_preventable) < min(preventable), dimension.id
    assert checked == 2
    roving = [i for i in fw.indicators() if i.preventable is False]
    assert all("流窜" in i.name.zh for i in roving)


def test_quadrant_temporary_fraud_indicator_within_limit():
    fw = load_framework("station_quadrant")
    temporary = [i for i in fw.indicators() if i.temporary is not None]
    assert len(temporary) == 1
    fraud = temporary[0]
    assert "电信诈骗" in fraud.name.zh
    weight = fw.effective_weights()[fraud.id]
    assert 0 < weight <= 0.20
    assert fw.temporary_weight() == pytest.approx(weight)
    assert fraud.temporary.active("2026-01") and fraud.temporary.active("2025-12")
    assert not fraud.temporary.active("2025-06")
    assert not fraud.temporary.active("2026-03")


def test_three_layer_layers_from_seed_000():
    fw = load_framework("station_three_layer")
    expected = {
        "basic": {"案件办结率", "有效巡防覆盖率"},
        "combat": {"VR模拟对抗得分", "多警种协同指数"},
        "development": {"技战法推广度"},
    }
    for dimension, layer in zip(fw.tree, expected, strict=True):
        leaves = _leaves_under(dimension)
        assert {leaf.layer for leaf in leaves} == {layer}
        names = [leaf.name.zh for leaf in leaves]
        for wanted in expected[layer]:
            assert any(name.startswith(wanted) for name in names), (layer, wanted)


def test_three_layer_hard_thresholds_from_seed_000():
    fw = load_framework("station_three_layer")
    for name, minimum in [
        ("三实信息采集率", 0.95),
        ("违法嫌疑信息合格率", 0.95),
        ("命案侦破率", 0.98),
    ]:
        threshold = _by_zh(fw, name).threshold
        assert threshold is not None and threshold.min == minimum and threshold.max is None
        assert threshold.consequence == "grade_cap" and threshold.grade_cap in {"良好", "合格"}
        assert threshold.breached(minimum - 0.001) and not threshold.breached(minimum)


def test_three_layer_merges_patrol_indicators():
    fw = load_framework("station_three_layer")
    names = {i.name.zh for i in fw.indicators()}
    assert "有效巡防覆盖率" in names
    assert not any(n.startswith(("巡逻里程", "街面见警率", "巡逻覆盖率")) for n in names)


def test_balanced_scorecard_perspectives_and_citizen_share():
    fw = load_framework("station_balanced_scorecard")
    top = _top(fw)
    assert set(top) == {"群众满意度", "内部流程", "学习成长", "组织战略(改革目标)"}
    assert top["群众满意度"] == 0.35
    assert fw.source_weights()["citizen"] == pytest.approx(0.35)
    assert top["组织战略(改革目标)"] >= 0.20  # seed 004: reform results weigh >= 20 %
    clearance = _by_zh(fw, "新型犯罪破案率")
    assert clearance.goalposts[1] == 0.85  # seed 004 target


# ------------------------------------------------------------------ officer frameworks
ROLE_INDICATORS = {
    "officer_criminal_investigation": ("破案周期", "线索转化率", "追赃挽损率", "新型犯罪打击效能"),
    "officer_community_policing": (
        "矛盾纠纷化解率",
        "纠纷化解时效",
        "重点人员管控成效",
        "群众线上评警",
        "群众安全感测评",
    ),
    "officer_traffic": ("交通事故压降率", "拥堵治理成效", "执法规范率", "轻微事故快处率"),
    "officer_emergency": ("响应速度", "装备到位率"),
}


def test_officer_roles_are_distinct():
    roles = [load_framework(fid).role for fid in OFFICER_FRAMEWORKS]
    assert len(roles) >= 3 and len(set(roles)) == len(roles)


@pytest.mark.parametrize("framework_id", OFFICER_FRAMEWORKS)
def test_officer_framework_level_role_and_indicator_set(framework_id):
    fw = load_framework(framework_id)
    assert fw.level == "officer" and fw.role
    names = [i.name.zh for i in fw.indicators()]
    for wanted in ROLE_INDICATORS[framework_id]:
        assert any(name.startswith(wanted) for name in names), wanted


@pytest.mark.parametrize("framework_id", OFFICER_FRAMEWORKS)
def test_officer_subjective_share_and_citizen_evaluation(framework_id):
    fw = load_framework(framework_id)
    sources = fw.source_weights()
    subjective = sum(sources.get(s, 0.0) for s in ("supervisor", "peer", "self"))
    assert subjective == pytest.approx(fw.subjective_weight())
    assert subjective <= fw.policy.max_subjective_weight + 1e-9 <= 0.30 + 1e-9
    # seed 003 criticises self + superior ratings above 80 %; seed 000 keeps about 30 %
    assert sources["supervisor"] + sources["self"] < 0.80
    assert subjective == pytest.approx(0.30)
    assert sources["citizen"] >= 0.10


def test_community_citizen_share_from_seed_001():
    fw = load_framework("officer_community_policing")
    assert fw.source_weights()["citizen"] == pytest.approx(0.35)


@pytest.mark.parametrize("framework_id", OFFICER_FRAMEWORKS)
def test_officer_negative_list_is_one_vote_warning(framework_id):
    fw = load_framework(framework_id)
    items = {item.name.zh[:4]: item for item in fw.negative_list}
    assert set(items) == {"执法过错", "信访投诉"}
    assert all(item.consequence == "warning" for item in items.values())


@pytest.mark.parametrize("framework_id", OFFICER_FRAMEWORKS)
def test_officer_case_points_indicator(framework_id):
    fw = load_framework(framework_id)
    points = [i for i in fw.indicators() if i.kind == "points"]
    assert len(points) == 1 and len(points[0].points) >= 4
    assert all(0 < p <= 100 for p in points[0].points.values())


def test_case_points_from_seed_003():
    criminal = next(i for i in load_framework("officer_criminal_investigation").indicators() if i.points)
    community = next(i for i in load_framework("officer_community_policing").indicators() if i.points)
    assert criminal.points["homicide_solved"] == 100
    assert max(criminal.points.values()) == 100  # homicide is the top of the scale
    assert community.points["neighbour_dispute_mediated"] == 10


def test_case_points_agree_across_roles():
    seen: dict[str, tuple[float, str]] = {}
    for framework_id in OFFICER_FRAMEWORKS:
        for ind in load_framework(framework_id).indicators():
            for case_type, points in (ind.points or {}).items():
                if case_type in seen:
                    assert seen[case_type][0] == points, (
                        case_type,
                        seen[case_type][1],
                        framework_id,
                    )
                seen[case_type] = (points, framework_id)


def test_criminal_difficult_case_bonus_from_seed_003():
    fw = load_framework("officer_criminal_investigation")
    bonus = {item.name.zh: item for item in fw.bonus}
    difficult = bonus["疑难案件攻坚加分"]
    assert difficult.points_per_unit > 0 and difficult.cap is not None
    assert difficult.cap >= difficult.points_per_unit


def test_docs_minimal_example_loads(repo_root: Path):
    text = (repo_root / "docs" / "framework.md").read_text(encoding="utf-8")
    first_yaml = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    fw = framework_from_dict(yaml.safe_load(first_yaml), source="docs/framework.md")
    assert fw.effective_weights() == pytest.approx({"case_compliance_rate": 0.6, "window_processing_days": 0.4})


@settings(max_examples=200, deadline=None)
@given(
    bounds=st.tuples(
        st.none() | st.floats(-1e6, 1e6, allow_nan=False), st.none() | st.floats(-1e6, 1e6, allow_nan=False)
    ).filter(lambda b: b != (None, None)),
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6) | st.none()),
)
def test_breached_where_says_of_each_value_what_breached_says_of_one(bounds, values):
    threshold = Threshold(min=bounds[0], max=bounds[1])
    expected = [bool(threshold.breached(v)) for v in values]
    assert threshold.breached_where(values).tolist() == expected
