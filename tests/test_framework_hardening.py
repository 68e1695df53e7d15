"""Frameworks that cannot lie, and options that cannot be mistyped (issue 10).

Each test names the defect it covers; each failed on the code before the fix.
"""

from __future__ import annotations

import ast
import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from evaluation_builders import TOY, toy_data
from framework_builders import indicator_node as _indicator
from hypothesis import given, settings
from hypothesis import strategies as st

from perfmodel.aggregate import aggregate_tree
from perfmodel.errors import OptionError, PerfmodelError
from perfmodel.evaluation import Evaluation, EvaluationError, Settings, evaluate
from perfmodel.framework import (
    MAX_FRAMEWORK_BYTES,
    Calibration,
    FrameworkError,
    framework_from_dict,
    load_framework,
    shipped_frameworks,
)
from perfmodel.io import normalise_header
from perfmodel.text import LANGS, check_lang

REPO = Path(__file__).resolve().parents[1]


def _valid() -> dict:
    return {
        "id": "tiny",
        "name": {"zh": "小型体系", "en": "Tiny framework"},
        "level": "station",
        "normalisation": {"method": "goalposts"},
        "tree": [
            {
                "id": "quality",
                "name": {"zh": "质量", "en": "Quality"},
                "weight": 0.6,
                "children": [_indicator("case_rate", 0.5), _indicator("callback", 0.5)],
            },
            {
                "id": "team",
                "name": {"zh": "队伍", "en": "Team"},
                "weight": 0.4,
                "children": [_indicator("training", 1.0)],
            },
        ],
    }


def _error(raw: dict) -> str:
    with pytest.raises(FrameworkError) as info:
        framework_from_dict(raw, source="bad.yaml")
    return str(info.value)


def _write(tmp_path: Path, text: str, name: str = "fw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- YAML loading (defects 6, 8)
def test_duplicate_key_is_refused_naming_key_line_and_file(tmp_path):
    text = yaml.safe_dump(_valid(), allow_unicode=True, sort_keys=False)
    text = text.replace("level: station\n", "level: station\nlevel: officer\n", 1)
    line = text.splitlines().index("level: officer") + 1
    path = _write(tmp_path, text)
    with pytest.raises(FrameworkError) as info:
        load_framework(path)
    message = str(info.value)
    assert str(path) in message and f"line {line}" in message and "duplicate key 'level'" in message
    assert yaml.safe_load(text)["level"] == "officer"  # what the old loader silently did


def test_duplicate_key_inside_a_node_is_refused(tmp_path):
    text = yaml.safe_dump(_valid(), allow_unicode=True, sort_keys=False)
    text = text.replace("  weight: 0.6\n", "  weight: 0.6\n  weight: 0.4\n", 1)
    assert "weight: 0.4\n  children" in text
    with pytest.raises(FrameworkError, match="duplicate key 'weight'"):
        load_framework(_write(tmp_path, text))


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
tree: [*i, *i, *i, *i, *i, *i, *i, *i, *i]
"""


def test_nested_aliases_are_refused_before_expansion(tmp_path):
    path = _write(tmp_path, BILLION_LAUGHS)
    assert path.stat().st_size < 1024
    with pytest.raises(FrameworkError) as info:
        load_framework(path)
    assert "anchors and aliases" in str(info.value) and "line 1" in str(info.value)


def test_a_single_alias_is_refused_too(tmp_path):
    text = yaml.safe_dump(_valid(), allow_unicode=True, sort_keys=False)
    text = text.replace("name:\n  zh: 小型体系", "name: &n\n  zh: 小型体系", 1) + "description: *n\n"
    with pytest.raises(FrameworkError, match=r"\(&n\)"):
        load_framework(_write(tmp_path, text))


def test_oversized_framework_file_is_refused(tmp_path):
    text = yaml.safe_dump(_valid(), allow_unicode=True) + "#" * MAX_FRAMEWORK_BYTES + "\n"
    with pytest.raises(FrameworkError, match="at most 1,000,000 bytes"):
        load_framework(_write(tmp_path, text))


def test_non_utf8_framework_file_is_a_framework_error(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes(yaml.safe_dump(_valid(), allow_unicode=True).encode("gbk"))
    with pytest.raises(FrameworkError, match="not UTF-8"):
        load_framework(path)


@pytest.mark.parametrize("framework_id", sorted(shipped_frameworks()))
def test_shipped_frameworks_pass_the_strict_loader(framework_id):
    assert load_framework(framework_id).id == framework_id


# ---------------------------------------------------------------- numbers (defect 8)
def test_inverted_normalisation_range_is_refused():
    raw = _valid()
    raw["normalisation"] = {"method": "goalposts", "range": [100, 0]}
    assert "normalisation.range" in _error(raw) and "low < high" in _error(raw)


@pytest.mark.parametrize("span", [[0, 0], [5, 5]])
def test_empty_ranges_are_refused(span):
    raw = _valid()
    raw["normalisation"] = {"method": "goalposts", "range": span}
    assert "low < high" in _error(raw)
    raw = _valid()
    raw["tree"][0]["children"][0]["range"] = span
    assert "node tree › quality › case_rate" in _error(raw)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "where",
    [
        ("goalposts", lambda raw, v: raw["tree"][0]["children"][0].update(goalposts=[0.5, v])),
        ("range", lambda raw, v: raw["tree"][0]["children"][0].update(range=[v, 1])),
        ("normalisation", lambda raw, v: raw.update(normalisation={"method": "goalposts", "range": [0, v]})),
        ("weight", lambda raw, v: raw["tree"][1]["children"][0].update(weight=v)),
        ("target", lambda raw, v: raw["tree"][0]["children"][0].update(target=v)),
        ("threshold", lambda raw, v: raw["tree"][0]["children"][0].update(threshold={"min": v})),
        ("cutoff", lambda raw, v: raw.update(grading={"cutoffs": {"优秀": v}})),
        ("difficulty", lambda raw, v: raw.update(difficulty={"by": "c", "coefficients": {"一类": v}})),
        ("difficulty cap", lambda raw, v: raw.update(difficulty={"by": "c", "coefficients": {}, "cap": v})),
        ("skew", lambda raw, v: raw.update(treatment={"skew": v})),
    ],
    ids=lambda w: w[0] if isinstance(w, tuple) else None,
)
def test_no_framework_number_may_be_nan_or_infinite(where, bad):
    raw = _valid()
    where[1](raw, bad)
    assert "finite number" in _error(raw)


def test_nan_goalposts_from_yaml_are_refused_at_load_not_at_scoring(tmp_path):
    text = yaml.safe_dump(_valid(), allow_unicode=True, sort_keys=False)
    text = text.replace("- 0.5\n", "- .nan\n", 1)
    assert ".nan" in text
    with pytest.raises(FrameworkError, match="finite number"):
        load_framework(_write(tmp_path, text))


@pytest.mark.parametrize("coefficient", [0, -1.06, math.inf])
def test_difficulty_coefficients_must_be_finite_and_positive(coefficient):
    raw = _valid()
    raw["difficulty"] = {"by": "station_class", "coefficients": {"一类": 1.06, "二类": coefficient}}
    message = _error(raw)
    assert "difficulty.coefficients.二类" in message


def test_inverted_range_used_to_invert_the_ranking():
    """The old code accepted [100, 0]: the best unit got the lowest score. Now refused; the valid
    range scores the better unit higher (hand computed: goalposts [0.5, 1] → 0.9 is 80, 0.6 is 20)."""
    raw = _valid()
    raw["tree"] = [{**_indicator("case_rate", 1.0)}]
    fw = framework_from_dict(raw)
    units = pd.DataFrame({"unit_id": ["A", "B"], "name": ["甲", "乙"], "level": "station"})
    obs = pd.DataFrame(
        {
            "period": "2025-04",
            "unit_id": ["A", "B"],
            "indicator": "case_rate",
            "value": [0.9, 0.6],
            "numerator": [9.0, 6.0],
            "denominator": [10.0, 10.0],
            "late": False,
        }
    )
    scores = evaluate(fw, obs, units, "2025-04", compare_previous=False).scores.set_index("unit_id")
    assert scores.loc[["A", "B"], "score"].tolist() == pytest.approx([80.0, 20.0])
    raw["normalisation"] = {"method": "goalposts", "range": [100, 0]}
    _error(raw)


# ---------------------------------------------------------------- ids (defect 5)
@pytest.mark.parametrize("bad", ["../../../x", "/etc/x", "Case Rate", "案件", "a-b", "A", "x.y", ""])
def test_framework_id_must_be_lowercase_ascii(bad):
    raw = _valid()
    raw["id"] = bad
    message = _error(raw)
    assert "may hold only lowercase letters a-z, digits and '_'" in message


@pytest.mark.parametrize(
    "place",
    [
        lambda raw: raw["tree"][0].update(id="Quality"),
        lambda raw: raw["tree"][0]["children"][0].update(id="../case"),
        lambda raw: raw.update(
            bonus=[{"id": "b/x", "name": {"zh": "加", "en": "b"}, "indicator": "n", "points_per_unit": 1}]
        ),
        lambda raw: raw.update(negative_list=[{"id": "neg", "name": {"zh": "负", "en": "n"}, "indicator": "Errors"}]),
        lambda raw: raw["tree"][1]["children"][0].update(kind="points", points={"Homicide": 100}),
    ],
    ids=["dimension", "indicator", "bonus item", "negative-list input", "points case type"],
)
def test_every_id_must_be_lowercase_ascii(place):
    raw = _valid()
    place(raw)
    assert "may hold only lowercase letters" in _error(raw)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcXYZ019_-./ 案", min_size=1, max_size=8))
def test_an_id_is_accepted_exactly_when_it_matches_the_pattern(node_id):
    raw = _valid()
    raw["tree"][1]["id"] = node_id
    ok = all(c in "abc019_" for c in node_id)
    if ok and node_id not in {"quality", "case_rate", "callback", "training"}:
        assert framework_from_dict(raw).tree[1].id == node_id
    elif not ok:
        assert "may hold only lowercase letters" in _error(raw)


# ---------------------------------------------------------------- geometric floor (defect 8)
def _unit_range_framework(**aggregation) -> dict:
    raw = _valid()
    raw["normalisation"] = {"method": "goalposts", "range": [0, 1]}
    raw["aggregation"] = {"method": "geometric", **aggregation}
    return raw


def test_geometric_floor_defaults_to_one_percent_of_the_range():
    assert framework_from_dict(_unit_range_framework()).aggregation.geometric_floor == pytest.approx(0.01)
    assert framework_from_dict(_valid()).aggregation.geometric_floor == pytest.approx(1.0)
    raw = _valid()
    raw["normalisation"] = {"method": "goalposts", "range": [20, 120]}
    assert framework_from_dict(raw).aggregation.geometric_floor == pytest.approx(21.0)


def test_geometric_aggregation_on_a_unit_range_no_longer_gives_everyone_one():
    fw = framework_from_dict(_unit_range_framework())
    normalised = pd.DataFrame(
        {"case_rate": [0.25, 1.0], "callback": [1.0, 1.0], "training": [0.5, 0.0]}, index=["A", "B"]
    )
    out = aggregate_tree(normalised, fw)
    # quality(A) = √(0.25·1) = 0.5; score(A) = 0.5^0.6 · 0.5^0.4 = 0.5
    # quality(B) = 1; team(B) = floor 0.01; score(B) = 1^0.6 · 0.01^0.4
    assert out.loc["A", "score"] == pytest.approx(0.5)
    assert out.loc["B", "score"] == pytest.approx(0.01**0.4)
    assert out["score"].nunique() == 2


@pytest.mark.parametrize("floor", [1.0, 5.0])
def test_geometric_floor_outside_the_range_is_refused(floor):
    message = _error(_unit_range_framework(geometric_floor=floor))
    assert "geometric_floor" in message and "outside normalisation.range [0, 1]" in message


def test_explicit_floor_inside_the_range_is_kept():
    fw = framework_from_dict(_unit_range_framework(geometric_floor=0.05))
    assert fw.aggregation.geometric_floor == 0.05


def test_geometric_aggregation_needs_a_non_negative_range():
    raw = _valid()
    raw["normalisation"] = {"method": "goalposts", "range": [-1, 1]}
    raw["aggregation"] = {"method": "geometric"}
    assert "needs normalised values >= 0" in _error(raw)
    raw["aggregation"] = {"method": "arithmetic"}
    assert framework_from_dict(raw).normalisation.range == (-1.0, 1.0)


# ---------------------------------------------------------------- missing.min_months
def test_min_months_defaults_to_every_month_and_must_be_a_positive_integer():
    assert framework_from_dict(_valid()).missing.min_months is None
    raw = _valid()
    raw["missing"] = {"min_months": 2}
    assert framework_from_dict(raw).missing.min_months == 2
    for bad in (0, -1, 1.5, "two"):
        raw["missing"] = {"min_months": bad}
        assert "min_months" in _error(raw)


# ---------------------------------------------------------------- Settings (defect 8)
def test_misspelt_grading_is_refused_naming_the_allowed_values():
    with pytest.raises(OptionError) as info:
        Settings(grading="quotas")
    assert str(info.value) == "grading='quotas' is not allowed; choose one of: 'cutoffs', 'quota'"


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("normalisation", "min-max", "'minmax', 'zscore', 'rank', 'goalposts', 'target'"),
        ("aggregation", "geometrical", "'arithmetic', 'geometric'"),
        ("imputation", "mean", "'none', 'group_mean', 'carry_forward'"),
        ("calibration", "case-mix", "'none', 'casemix', 'full'"),
        ("calibration", None, "'none', 'casemix', 'full'"),
    ],
)
def test_every_text_option_is_checked(option, value, allowed):
    with pytest.raises(OptionError, match=f"choose one of: {allowed}"):
        Settings(**{option: value})


@pytest.mark.parametrize(
    "given",
    [
        {"winsorise": "yes"},
        {"compare_previous": 1},
        {"weights": {"d1": math.nan}},
        {"weights": {"d1": -1}},
        {"weights": {"d1": "0.5"}},
        {"weights": [("d1", 1.0)]},
        {"peer_group": 3},
    ],
)
def test_other_options_are_checked(given):
    with pytest.raises(OptionError):
        Settings(**given)


def test_valid_settings_are_accepted_and_regen_checks_its_changes():
    chosen = Settings(
        normalisation="rank",
        aggregation="geometric",
        imputation="group_mean",
        winsorise=True,
        grading="quota",
        calibration="full",
        weights={"d1": 0.5},
        peer_group="none",
        compare_previous=False,
    )
    assert chosen.grading == "quota" and Settings().grading is None
    units, obs = toy_data()
    ev = evaluate(framework_from_dict(TOY), obs, units, "2025Q2", compare_previous=False)
    with pytest.raises(OptionError, match="grading='quotas'"):
        ev.regen(grading="quotas")


def test_settings_errors_are_perfmodel_errors():
    assert issubclass(OptionError, PerfmodelError)


# ---------------------------------------------------------------- lang (defect 8)
def test_check_lang_accepts_the_languages_and_names_them():
    assert [check_lang(lang) for lang in LANGS] == ["zh", "en"]
    with pytest.raises(OptionError, match="lang='fr' is not allowed; choose one of: 'zh', 'en'"):
        check_lang("fr")


def _public_functions_taking_lang():
    skip = {"perfmodel/report/runner.py", "perfmodel/text.py"}  # runner's lang is an HTML tag
    for path in sorted((REPO / "perfmodel").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in skip or path.name.startswith("_") and path.name != "__init__.py":  # private module
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and node.name != "check_lang":
                if "lang" in [a.arg for a in (*node.args.args, *node.args.kwonlyargs)]:
                    yield rel, node


def test_every_public_function_taking_lang_checks_it():
    found = list(_public_functions_taking_lang())
    assert len(found) > 100
    unchecked = [
        f"{rel}:{node.lineno} {node.name}"
        for rel, node in found
        if not any(
            isinstance(call, ast.Call)
            and getattr(call.func, "id", None) == "check_lang"
            and [ast.unparse(a) for a in call.args] == ["lang"]
            for call in ast.walk(node)
        )
    ]
    assert not unchecked, "call check_lang(lang) first in: " + ", ".join(unchecked)


def test_lang_fr_is_refused_by_report_and_monitor_helpers():
    from perfmodel.design.sensitivity import factor_label
    from perfmodel.monitor.series import label
    from perfmodel.report.quarterly import consequence_label, weight_tree_table

    for call in (
        lambda: consequence_label("flag", lang="fr"),
        lambda: weight_tree_table(load_framework("station_four_dimension"), lang="fr"),
        lambda: label("score", lang="fr"),
        lambda: factor_label("weights", lang="fr"),
    ):
        with pytest.raises(OptionError, match="lang='fr'"):
            call()
    assert consequence_label("flag", lang="en") == consequence_label("flag", lang="en")


# ---------------------------------------------------------------- covariates (defect 8)
def test_misspelt_covariate_is_named_when_the_evaluation_starts():
    units, obs = toy_data()
    units["area_type"] = ["城区", "农村", "城区"]
    fw = framework_from_dict(TOY).model_copy(
        update={"calibration": Calibration(covariates=("log_wrokload", "area_type"))}
    )
    with pytest.raises(EvaluationError) as info:
        Evaluation(fw, obs, units, "2025Q2", Settings(calibration="casemix", compare_previous=False)).run()
    message = str(info.value)
    assert "'log_wrokload'" in message and "framework 'toy'" in message
    assert "did you mean 'log_workload'?" in message
    assert "units columns: unit_id, name, level, area_type" in message
    # uncalibrated runs do not use covariates and are not stopped by them
    evaluate(fw, obs, units, "2025Q2", compare_previous=False)


def test_covariate_of_the_contract_that_the_units_lack_is_not_an_error():
    from perfmodel.evaluation import _check_covariates

    units, _ = toy_data()
    fw = framework_from_dict(TOY).model_copy(
        update={"calibration": Calibration(covariates=("log_workload", "station_type"))}
    )
    _check_covariates(fw, units)  # dropped later with a log entry, as before


# ---------------------------------------------------------------- aliases and lookup
def _aliased() -> dict:
    raw = _valid()
    raw["tree"][0]["children"][0].update(
        name={"zh": "案件规范率", "en": "Case compliance rate"}, aliases=["执法规范率", "Case OK %"]
    )
    raw["negative_list"] = [
        {"id": "error_item", "name": {"zh": "执法过错", "en": "Enforcement error"}, "indicator": "enforcement_errors"}
    ]
    return raw


def test_indicator_lookup_maps_every_spelling_to_the_id():
    lookup = framework_from_dict(_aliased()).indicator_lookup()
    for spelling in (
        "case_rate",
        "案件规范率",
        "Case compliance rate",
        "  CASE compliance RATE ",
        "执法规范率",
        "case ok %",
        "Case-OK-%",
    ):
        assert lookup[normalise_header(spelling)] == "case_rate", spelling
    assert lookup[normalise_header("执法过错")] == "enforcement_errors"
    assert lookup["enforcement_errors"] == "enforcement_errors"
    assert lookup["training"] == "training"


def test_points_case_types_are_in_the_lookup_but_not_the_points_indicator():
    raw = _valid()
    raw["tree"][1]["children"][0].update(kind="points", points={"homicide_solved": 100}, goalposts=None)
    raw["normalisation"] = {"method": "minmax"}
    lookup = framework_from_dict(raw).indicator_lookup()
    assert lookup["homicide_solved"] == "homicide_solved" and "training" not in lookup
    raw["tree"][1]["children"][0]["aliases"] = ["积分"]
    assert "'aliases' are not allowed with kind 'points'" in _error(raw)


@pytest.mark.parametrize(
    "clash",
    [
        lambda raw: raw["tree"][1]["children"][0].update(aliases=["执法规范率"]),
        lambda raw: raw["tree"][0]["children"][1].update(aliases=["CASE_RATE"]),
        lambda raw: raw["tree"][1]["children"][0].update(name={"zh": "案件规范率", "en": "x"}),
    ],
    ids=["alias twice", "alias is another id", "same zh name"],
)
def test_ambiguous_spellings_are_refused_at_load(clash):
    raw = _aliased()
    clash(raw)
    message = _error(raw)
    assert "would name" in message and "case_rate" in message and "could not tell them apart" in message


def test_suggestions_work_for_a_one_character_chinese_typo():
    fw = framework_from_dict(_aliased())
    assert fw.suggest_indicator("案件规苑率") == ["case_rate"]
    assert fw.suggest_indicator("执法规范") == ["case_rate"]
    assert fw.suggest_indicator("calback") == ["callback"]
    assert fw.suggest_indicator("完全无关的名字") == []


@pytest.mark.parametrize("framework_id", sorted(shipped_frameworks()))
def test_every_input_of_a_shipped_framework_is_found_by_id_and_name(framework_id):
    fw = load_framework(framework_id)
    lookup = fw.indicator_lookup()
    assert set(lookup.values()) == set(fw.input_indicators())
    for ind in fw.indicators():
        if not ind.points:
            assert lookup[normalise_header(ind.name.zh)] == ind.id
            assert fw.suggest_indicator(ind.name.zh[:-1] + "某")[:1] == [ind.id] or len(ind.name.zh) < 4


# ---------------------------------------------------------------- frameworks show
@pytest.mark.parametrize("framework_id", sorted(shipped_frameworks()))
def test_frameworks_show_lists_every_input_id(framework_id, capsys):
    from perfmodel.cli import main

    assert main(["frameworks", "show", framework_id]) == 0
    out = capsys.readouterr().out
    listed = out.split("input ids the observations' indicator column may carry")[1]
    ids = {line.split()[0] for line in listed.splitlines()[1:] if line.strip()}
    assert ids == set(load_framework(framework_id).input_indicators())


def test_frameworks_show_prints_aliases(tmp_path, capsys):
    from perfmodel.cli import main

    path = _write(tmp_path, yaml.safe_dump(_aliased(), allow_unicode=True))
    assert main(["frameworks", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "aliases: 执法规范率, Case OK %" in out
    assert "enforcement_errors  [count; negative list error_item: 执法过错" in out


def test_docs_describe_every_new_rule():
    text = (REPO / "docs" / "framework.md").read_text(encoding="utf-8")
    for phrase in (
        "aliases",
        "min_months",
        "indicator_lookup",
        "suggest_indicator",
        "anchors",
        "duplicate key",
        "[a-z0-9_]",
        "1 MB",
        "finite",
    ):
        assert phrase in text, phrase


def test_copy_of_valid_stays_valid():
    # guards the helpers above: every test starts from a framework that loads
    assert framework_from_dict(copy.deepcopy(_aliased())).id == "tiny"
    assert np.isclose(sum(framework_from_dict(_valid()).effective_weights().values()), 1.0)


# ---------------------------------------------------------------- errors (issue 12)
BUILTIN_RAISES = frozenset({"ValueError", "KeyError", "TypeError"})

ALLOWED_BUILTIN_RAISES = {
    # pydantic validators must raise ValueError; pydantic wraps it in a ValidationError that
    # load_framework turns into a FrameworkError naming the file and the field
    ("perfmodel/framework.py", "_check_id"),
    ("perfmodel/framework.py", "_check_interval"),
    ("perfmodel/framework.py", "Threshold._check"),
    ("perfmodel/framework.py", "Temporary._month"),
    ("perfmodel/framework.py", "Temporary._order"),
    ("perfmodel/framework.py", "Indicator._check"),
    ("perfmodel/framework.py", "NegativeItem._check"),
    ("perfmodel/framework.py", "Grading._check"),
    ("perfmodel/framework.py", "Award._check"),
    ("perfmodel/framework.py", "Framework._check_tree"),
    # control flow: read_table catches these (_READ_ERRORS) and raises an InputError naming the file
    ("perfmodel/io.py", "_excel_grids"),
    ("perfmodel/io.py", "_xls_grids"),
    # bugs in perfmodel, not the user's to fix: a report template that puts a value where it
    # cannot be escaped, scoring rules built by Evaluation of the wrong length, a flag code
    # the package itself mistyped
    ("perfmodel/report/render.py", "_check_template"),
    ("perfmodel/report/render.py", "_check_no_field_in_code_span"),
    ("perfmodel/scoring.py", "ScoringRules.__post_init__"),
    ("perfmodel/evaluation.py", "_tighter_cap"),  # a cap for a unit the evaluation itself did not score
    ("perfmodel/flags.py", "FlagLog.extend"),  # a flag code mistyped, or flag columns of the wrong length
    # the mapping protocol: dict.pop of a missing key without a default raises KeyError
    ("perfmodel/evaluation.py", "Stages.pop"),
}
"""(file, function) pairs that may raise a bare ValueError/KeyError/TypeError, each with its reason."""


def _builtin_raises(source: str, rel: str = "<string>") -> list[tuple[str, str, int]]:
    """Every ``raise ValueError/KeyError/TypeError`` (called or bare) as (file, qualified function, line)."""
    found = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{scope}.{child.name}" if scope else child.name
            if isinstance(child, ast.Raise) and child.exc is not None:
                raised = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                if isinstance(raised, ast.Name) and raised.id in BUILTIN_RAISES:
                    found.append((rel, scope, child.lineno))
            visit(child, inner)

    visit(ast.parse(source), "")
    return found


def test_the_raise_scanner_finds_called_bare_and_nested_raises():
    source = (
        "def f(x):\n    raise ValueError(x)\n"
        "class C:\n    def g(self):\n        def h():\n            raise KeyError\n"
        "def ok():\n    raise OptionError('fine')\n"
    )
    assert [(scope, line) for _, scope, line in _builtin_raises(source)] == [("f", 2), ("C.g.h", 6)]


def test_user_facing_errors_are_perfmodel_errors():
    """No bare ValueError/KeyError/TypeError outside the allow-list: raise a PerfmodelError subclass
    (OptionError, OptionTypeError, UnknownKeyError or the module's own error) that says what to change."""
    found = [
        hit
        for path in sorted((REPO / "perfmodel").rglob("*.py"))
        for hit in _builtin_raises(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())
    ]
    bare = [
        f"{rel}:{line} in {scope or '<module>'}"
        for rel, scope, line in found
        if (rel, scope) not in ALLOWED_BUILTIN_RAISES
    ]
    assert not bare, "raise a PerfmodelError subclass instead of a bare builtin at: " + ", ".join(bare)
    stale = ALLOWED_BUILTIN_RAISES - {(rel, scope) for rel, scope, _ in found}
    assert not stale, f"these no longer raise a bare builtin; delete them from the allow-list: {sorted(stale)}"


def test_converted_errors_keep_their_builtin_base():
    from perfmodel.errors import OptionTypeError, UnknownKeyError, renamed_keywords
    from perfmodel.monitor.warnings import arl_cusum

    fw = framework_from_dict(copy.deepcopy(TOY))
    with pytest.raises(KeyError, match="has no node 'no_such_node'") as lookup:
        fw.node("no_such_node")
    assert isinstance(lookup.value, UnknownKeyError) and isinstance(lookup.value, PerfmodelError)
    assert str(UnknownKeyError("no target for 'x'")) == "no target for 'x'"  # not quoted as KeyError would be

    @renamed_keywords(seed="rng")
    def draw(*, rng=None):
        return rng

    with pytest.raises(TypeError, match="got both seed= .* and rng=") as both:
        draw(seed=1, rng=2)
    assert isinstance(both.value, OptionTypeError) and isinstance(both.value, PerfmodelError)
    with pytest.raises(ValueError, match="h must be positive") as bad:
        arl_cusum(0.5, -1.0)
    assert isinstance(bad.value, OptionError)
