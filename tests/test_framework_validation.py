"""Bad frameworks are rejected with messages that name the offending node and the fix."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from framework_builders import dimension_node as _dimension
from framework_builders import indicator_node as _indicator
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.framework import FrameworkError, framework_from_dict, load_framework


def _valid() -> dict:
    """A small valid framework: two dimensions, five indicators."""
    return {
        "id": "tiny",
        "name": {"zh": "小型体系", "en": "Tiny framework"},
        "level": "station",
        "normalisation": {"method": "goalposts"},
        "tree": [
            _dimension(
                "quality",
                0.6,
                [
                    _indicator("case_rate", 0.5),
                    _indicator("callback", 0.3),
                    _indicator("visits", 0.2),
                ],
            ),
            _dimension("team", 0.4, [_indicator("training", 0.5), _indicator("discipline", 0.5)]),
        ],
    }


def _leaf(raw: dict, dimension: int, child: int) -> dict:
    return raw["tree"][dimension]["children"][child]


def _error(raw: dict, source: str = "bad.yaml") -> str:
    with pytest.raises(FrameworkError) as info:
        framework_from_dict(raw, source=source)
    message = str(info.value)
    assert message.startswith(f"framework {source!r}")
    return message


def test_the_base_framework_is_valid():
    fw = framework_from_dict(_valid())
    assert fw.effective_weights() == pytest.approx(
        {"case_rate": 0.3, "callback": 0.18, "visits": 0.12, "training": 0.2, "discipline": 0.2}
    )


# ------------------------------------------------------------------ weights
def test_child_weights_not_summing_to_one_name_the_node_and_sum():
    raw = _valid()
    _leaf(raw, 0, 2)["weight"] = 0.1
    message = _error(raw)
    assert "node tree › quality: child weights add up to 0.9, not 1" in message
    assert "case_rate=0.5, callback=0.3, visits=0.1" in message
    assert "rescale them so they sum to 1" in message
    assert "tree › team" not in message


def test_top_level_weights_not_summing_to_one():
    raw = _valid()
    raw["tree"][1]["weight"] = 0.5
    message = _error(raw)
    assert "node tree: child weights add up to 1.1, not 1 (quality=0.6, team=0.5)" in message


def test_negative_weight_names_the_node():
    raw = _valid()
    _leaf(raw, 1, 0)["weight"] = -0.5
    message = _error(raw)
    assert "node tree › team › training" in message and "'weight'" in message


def test_dimension_without_children():
    raw = _valid()
    raw["tree"][1]["children"] = []
    assert "node tree › team: has no children" in _error(raw)


# ------------------------------------------------------------------ ids and keys
def test_duplicate_ids_name_both_places():
    raw = _valid()
    _leaf(raw, 1, 1)["id"] = "case_rate"
    message = _error(raw)
    assert "node tree › team › case_rate: duplicate id 'case_rate'" in message
    assert "already used at tree › quality › case_rate" in message
    assert "ids must be unique" in message


def test_misspelt_key_is_named_with_a_suggestion():
    raw = _valid()
    leaf = _leaf(raw, 0, 1)
    leaf["wieght"] = leaf.pop("weight")
    message = _error(raw)
    assert "node tree › quality › callback: unknown key 'wieght' (did you mean 'weight'?)" in message
    assert "docs/framework.md" in message
    assert "node tree › quality › callback: missing required key 'weight'" in message


def test_unknown_top_level_and_nested_keys():
    raw = _valid()
    raw["normalization"] = raw.pop("normalisation")
    message = _error(raw)
    assert "top level: unknown key 'normalization' (did you mean 'normalisation'?)" in message

    raw = _valid()
    _leaf(raw, 0, 0)["threshold"] = {"minimum": 0.95}
    message = _error(raw)
    assert "node tree › quality › case_rate: unknown key 'threshold.minimum'" in message


def test_unrelated_unknown_key_gets_no_suggestion():
    raw = _valid()
    _leaf(raw, 0, 0)["colour"] = "red"
    message = _error(raw)
    assert "unknown key 'colour'; check its spelling" in message


@pytest.mark.parametrize(
    ("key", "where"),
    [("kind", "node tree › team › discipline"), ("name", "node tree › team › discipline")],
)
def test_missing_required_key_on_an_indicator(key, where):
    raw = _valid()
    del _leaf(raw, 1, 1)[key]
    assert f"{where}: missing required key {key!r}" in _error(raw)


@pytest.mark.parametrize("key", ["id", "level", "name"])
def test_missing_required_top_level_key(key):
    raw = _valid()
    del raw[key]
    assert f"top level: missing required key {key!r}" in _error(raw)


def test_missing_tree():
    raw = _valid()
    del raw["tree"]
    assert "'tree' must be a list of dimensions" in _error(raw)


def test_invalid_choice_names_the_allowed_values():
    raw = _valid()
    _leaf(raw, 0, 0)["direction"] = "up"
    message = _error(raw)
    assert "node tree › quality › case_rate: key 'direction'" in message
    assert "'higher', 'lower' or 'target'" in message


# ------------------------------------------------------------------ policy limits
def test_temporary_indicators_above_twenty_percent():
    raw = _valid()
    for child in (0, 1):  # 0.6 * (0.5 + 0.3) = 48 % of the total
        _leaf(raw, 0, child)["temporary"] = {"valid_from": "2025-11", "valid_to": "2026-02"}
    message = _error(raw)
    assert "temporary indicators (case_rate, callback) carry 48.0% of the total weight" in message
    assert "at most 20%" in message and "lower their weights" in message


def test_temporary_indicator_at_the_limit_is_allowed():
    raw = _valid()
    _leaf(raw, 1, 0)["temporary"] = {"valid_from": "2025-11", "valid_to": "2026-02"}  # 0.4*0.5
    assert framework_from_dict(raw).temporary_weight() == pytest.approx(0.20)


def test_custom_temporary_limit():
    raw = _valid()
    _leaf(raw, 1, 0)["temporary"] = {"valid_from": "2025-11", "valid_to": "2026-02"}
    raw["policy"] = {"max_temporary_weight": 0.10}
    assert "carry 20.0% of the total weight; policy allows at most 10%" in _error(raw)


def test_temporary_window_must_be_months():
    raw = _valid()
    _leaf(raw, 1, 0)["temporary"] = {"valid_from": "2025-13", "valid_to": "2026-02"}
    message = _error(raw)
    assert "node tree › team › training: key 'temporary.valid_from'" in message
    assert "month 13" in message


def test_subjective_sources_above_default_limit():
    raw = _valid()
    _leaf(raw, 1, 0)["source"] = "supervisor"  # 20 %
    _leaf(raw, 1, 1)["source"] = "self"  # 20 %
    message = _error(raw)
    assert "subjective sources (supervisor, peer, self) carry 40.0% of the total weight" in message
    assert "limit is 30% (policy.max_subjective_weight, R8)" in message


def test_subjective_sources_at_default_limit_are_allowed():
    raw = _valid()
    _leaf(raw, 0, 0)["source"] = "peer"  # 0.6 * 0.5 = 30 %
    assert framework_from_dict(raw).subjective_weight() == pytest.approx(0.30)


def test_custom_subjective_limit():
    raw = _valid()
    _leaf(raw, 1, 0)["source"] = "supervisor"  # 20 %
    assert framework_from_dict(copy.deepcopy(raw)).subjective_weight() == pytest.approx(0.20)
    raw["policy"] = {"max_subjective_weight": 0.15}
    assert "carry 20.0% of the total weight; the framework's limit is 15%" in _error(raw)


def test_custom_subjective_sources():
    raw = _valid()
    _leaf(raw, 1, 0)["source"] = "citizen"  # 20 %
    raw["policy"] = {"max_subjective_weight": 0.10, "subjective_sources": ["citizen"]}
    assert "subjective sources (citizen) carry 20.0%" in _error(raw)


def test_misspelt_subjective_source_is_rejected():
    raw = _valid()
    raw["policy"] = {"subjective_sources": ["supervisr"]}
    message = _error(raw)
    assert "top level: key 'policy.subjective_sources.0'" in message
    assert "'supervisor'" in message


# ------------------------------------------------------------------ indicator rules
def test_direction_target_needs_a_target():
    raw = _valid()
    _leaf(raw, 0, 2)["direction"] = "target"
    assert "node tree › quality › visits: direction 'target' needs a 'target' value" in _error(raw)
    _leaf(raw, 0, 2)["target"] = 0.9
    assert framework_from_dict(raw).node("visits").node.target == 0.9


def test_points_kind_needs_points():
    raw = _valid()
    _leaf(raw, 0, 0)["kind"] = "points"
    message = _error(raw)
    assert "node tree › quality › case_rate: kind 'points' needs 'points'" in message
    assert "mapping of case type to points" in message


def test_points_only_with_points_kind():
    raw = _valid()
    _leaf(raw, 0, 0)["points"] = {"homicide_solved": 100}
    assert "'points' is only allowed with kind 'points'" in _error(raw)


def test_points_case_type_may_not_reuse_a_node_id():
    raw = _valid()
    _leaf(raw, 0, 0).update(kind="points", points={"training": 10})
    assert "points case type 'training' is also a node id" in _error(raw)


def test_goalposts_normalisation_needs_goalposts_everywhere():
    raw = _valid()
    del _leaf(raw, 0, 1)["goalposts"]
    del _leaf(raw, 1, 1)["goalposts"]
    message = _error(raw)
    assert "normalisation 'goalposts' needs goalposts on every indicator" in message
    assert "missing on: callback, discipline" in message
    raw["normalisation"] = {"method": "minmax"}
    assert framework_from_dict(raw).normalisation.method == "minmax"


def test_goalposts_must_increase():
    raw = _valid()
    _leaf(raw, 0, 1)["goalposts"] = [1.0, 0.5]
    message = _error(raw)
    assert "node tree › quality › callback" in message and "increasing order" in message


def test_bonus_may_not_count_a_tree_indicator():
    raw = _valid()
    raw["bonus"] = [
        {
            "id": "extra",
            "name": {"zh": "加分", "en": "Extra"},
            "indicator": "visits",
            "points_per_unit": 1,
        }
    ]
    assert "bonus/negative item 'extra' counts indicator 'visits'" in _error(raw)


def test_threshold_grade_cap_needs_a_grade():
    raw = _valid()
    _leaf(raw, 0, 0)["threshold"] = {"min": 0.95, "consequence": "grade_cap", "grade_cap": "A"}
    message = _error(raw)
    assert "node tree › quality › case_rate: key 'threshold'" in message
    assert "优秀, 良好, 合格, 不合格" in message


# ------------------------------------------------------------------ files and ids
def _write(tmp_path: Path, text: str, name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_yaml_file_loads(tmp_path):
    path = _write(tmp_path, yaml.safe_dump(_valid(), allow_unicode=True))
    assert load_framework(path).id == "tiny"
    assert load_framework(str(path)).id == "tiny"


def test_yaml_file_with_bad_weights_names_file_and_node(tmp_path):
    raw = _valid()
    _leaf(raw, 1, 1)["weight"] = 0.25
    path = _write(tmp_path, yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(FrameworkError, match=re.escape(f"framework {str(path)!r}")) as info:
        load_framework(path)
    assert "node tree › team: child weights add up to 0.75, not 1" in str(info.value)


def test_yaml_file_with_typo(tmp_path):
    text = yaml.safe_dump(_valid(), allow_unicode=True).replace("goalposts:", "goalpost:", 1)
    with pytest.raises(FrameworkError, match=r"unknown key 'goalpost' \(did you mean 'goalposts'\?\)"):
        load_framework(_write(tmp_path, text))


def test_invalid_yaml(tmp_path):
    path = _write(tmp_path, "id: broken\ntree:\n  - id: a\n    weight: [0.5\n")
    with pytest.raises(FrameworkError, match=re.escape(f"framework {str(path)!r} is not valid YAML")):
        load_framework(path)


@pytest.mark.parametrize("text", ["", "- just\n- a list\n"])
def test_yaml_without_a_mapping(tmp_path, text):
    with pytest.raises(FrameworkError, match="must hold a mapping at the top level"):
        load_framework(_write(tmp_path, text))


def test_missing_yaml_file(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(FrameworkError, match=re.escape(f"framework file {str(path)!r} does not exist")):
        load_framework(path)


def test_unknown_framework_id_lists_the_shipped_ones():
    with pytest.raises(FrameworkError) as info:
        load_framework("station_five_dimension")
    message = str(info.value)
    assert "unknown framework 'station_five_dimension'" in message
    assert "give a YAML file path or one of:" in message
    assert "station_four_dimension" in message and "station_quadrant" in message


# ------------------------------------------------------------------ property
_WEIGHTS = st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=5)


def _tree_from_raw_weights(raw_weights: list[list[int]], top: list[int]) -> list[dict]:
    """A two-level tree with each group of sibling weights renormalised to sum to 1."""
    top_total = sum(top)
    return [
        _dimension(
            f"d{d}",
            top[d] / top_total,
            [_indicator(f"d{d}_i{i}", w / sum(children)) for i, w in enumerate(children)],
        )
        for d, children in enumerate(raw_weights)
    ]


@settings(max_examples=60, deadline=None)
@given(
    raw_weights=st.lists(_WEIGHTS, min_size=1, max_size=4),
    data=st.data(),
    factor=st.floats(min_value=0.05, max_value=20, allow_nan=False, allow_infinity=False),
)
def test_scaling_a_node_and_renormalising_keeps_effective_weights(raw_weights, data, factor):
    top = data.draw(st.lists(st.integers(1, 50), min_size=len(raw_weights), max_size=len(raw_weights)))
    base = _valid()
    original = framework_from_dict({**base, "tree": _tree_from_raw_weights(raw_weights, top)})

    scaled_group = data.draw(st.integers(0, len(raw_weights)))  # len(...) → the top level
    scaled_raw = [list(children) for children in raw_weights]
    scaled_top = list(top)
    if scaled_group == len(raw_weights):
        scaled_top = [w * factor for w in top]
    else:
        scaled_raw[scaled_group] = [w * factor for w in raw_weights[scaled_group]]
    rescaled = framework_from_dict({**base, "tree": _tree_from_raw_weights(scaled_raw, scaled_top)})

    before, after = original.effective_weights(), rescaled.effective_weights()
    assert list(before) == list(after)
    for leaf_id, weight in before.items():
        assert after[leaf_id] == pytest.approx(weight, rel=1e-9, abs=1e-12)
        d, i = (int(part[1:]) for part in leaf_id.split("_"))
        expected = top[d] / sum(top) * raw_weights[d][i] / sum(raw_weights[d])
        assert weight == pytest.approx(expected, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(1, 50), min_size=2, max_size=5),
    factor=st.sampled_from([0.5, 0.8, 1.25, 2.0, 3.0]),
)
def test_scaling_without_renormalising_is_rejected_with_the_sum(weights, factor):
    total = sum(weights)
    children = [_indicator(f"i{k}", w / total * factor) for k, w in enumerate(weights)]
    raw = {**_valid(), "tree": [_dimension("only", 1.0, children)]}
    message = _error(raw)
    assert f"node tree › only: child weights add up to {factor:.6g}, not 1" in message


def test_temporary_window_in_wrong_order_is_rejected():
    from perfmodel.framework import Temporary

    with pytest.raises(ValueError, match="after valid_to"):
        Temporary(valid_from="2025-06", valid_to="2025-01")
