"""The methodology tutorial: its notebook reads like a document and runs in both languages.

Fast tests check the notebook's shape (a ``parameters`` cell, markdown between the
code cells, every catalogue key it asks for) and the helpers of
:mod:`perfmodel.report.tutorial` against independent expectations; the notebook
tests execute it with ``run_notebook`` in Chinese and English.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from perfmodel.calibrate import simulate_calibration_case
from perfmodel.evaluation import evaluate
from perfmodel.report import tutorial as tu
from perfmodel.report.render import SafeMarkdown
from perfmodel.report.runner import notebook_parameters, run_notebook
from perfmodel.text import has_message, say

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "methodology_tutorial.ipynb"
STANDARD = ["observations", "units", "framework", "period", "lang", "output_dir", "peer_group"]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")


# ------------------------------------------------------------------ the notebook's shape (fast)
def _cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def test_parameters_cell_declares_what_perfmodel_report_passes():
    specs = notebook_parameters(NOTEBOOK)
    assert list(specs)[: len(STANDARD)] == STANDARD
    assert specs["lang"].default == "zh"
    assert {"stations", "rng"} <= set(specs) and isinstance(specs["rng"].default, int)


def test_markdown_cells_stand_between_the_code_cells():
    kinds = [cell.cell_type for cell in _cells()]
    assert kinds[0] == "markdown"
    code_positions = [i for i, kind in enumerate(kinds) if kind == "code"]
    # after the parameters and set-up cells, every code cell is preceded by a markdown cell
    steps = code_positions[2:]
    assert len(steps) == len(tu.TUTORIAL_STEPS)
    assert all(kinds[i - 1] == "markdown" for i in code_positions[1:])
    # the markdown is for JupyterLab readers; the report shows the catalogue's words in one language
    assert all("remove-cell" in c.metadata.get("tags", []) for c in _cells() if c.cell_type == "markdown")


def test_every_step_of_the_tutorial_is_shown_and_every_key_it_asks_for_exists():
    called_steps, keys = [], []
    for cell in _cells():
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name in {"step_intro", "step_questions"}:
                    called_steps.append((name, node.args[0].value))
                if name in {"say", "say_md"}:
                    keys.append(node.args[0].value)
    for step in tu.TUTORIAL_STEPS:
        assert ("step_intro", step) in called_steps and ("step_questions", step) in called_steps, step
    assert keys and all(has_message(key) for key in keys), [k for k in keys if not has_message(k)]


# ------------------------------------------------------------------ catalogue text
def test_every_step_has_a_title_a_text_and_one_to_three_questions_in_both_languages():
    for step in tu.TUTORIAL_STEPS:
        for lang in ("zh", "en"):
            questions = tu.step_questions(step, lang)
            assert isinstance(questions, SafeMarkdown)
            numbered = re.findall(r"^\d+\. ", questions, flags=re.MULTILINE)
            assert 1 <= len(numbered) <= 3, (step, lang)
        assert not CJK.search(
            tu.step_title(step, "en") + say(f"tutorial.step.{step}.text", "en", column="", indicator="")
        )


def test_step_intro_is_a_numbered_heading_and_refuses_an_unknown_step():
    intro = tu.step_intro("normalisation", "en")
    assert intro.startswith("## 3\\. ") and "goalposts" in intro.lower()  # the title is escaped Markdown
    assert tu.step_intro("peer_groups", "en", column="station class").count("station class") == 1
    with pytest.raises(ValueError, match="unknown tutorial step"):
        tu.step_title("nope", "en")


# ------------------------------------------------------------------ helpers on a small simulated case
@pytest.fixture(scope="module")
def ev():
    case = simulate_calibration_case("station_four_dimension", "2025Q2", stations=24, rng=3)
    return evaluate(case.framework, case.observations, case.units, case.period, compare_previous=False)


def test_with_outlier_gives_the_value_after_the_roll_up(ev):
    unit = str(ev.scores["unit_id"].iloc[0])
    changed = tu.with_outlier(ev.observations, unit, "case_compliance_rate", 0.25)
    rows = (changed["unit_id"] == unit) & (changed["indicator"] == "case_compliance_rate")
    assert (changed.loc[rows, "value"] == 0.25).all()
    np.testing.assert_allclose(changed.loc[rows, "numerator"], 0.25 * changed.loc[rows, "denominator"])
    untouched = ~rows
    pd.testing.assert_frame_equal(changed[untouched], ev.observations[untouched])


def test_an_outlier_moves_no_other_unit_under_goalposts_and_some_under_minmax(ev):
    unit = str(ev.scores["unit_id"].iloc[0])
    effect = tu.outlier_effect(ev, unit, "case_compliance_rate", 0.0, lang="en").set_index("normalisation")
    goalposts, minmax = effect.loc["goalposts"], effect.loc["minmax"]
    assert goalposts.iloc[0] == 0.0 and goalposts.iloc[1] == 0.0 and goalposts.iloc[2] == 0
    assert minmax.iloc[0] > 1.0 and minmax.iloc[1] > 0.0


def test_stage_overview_lists_every_stage_with_its_shape(ev):
    overview = tu.stage_overview(ev, "en")
    assert list(overview["stage"]) == list(ev.stages)
    raw = overview.set_index("stage").loc["raw"]
    assert raw["rows"] == len(ev.stages["raw"]) and raw["what it holds"]


def test_grades_by_group_counts_every_graded_unit_once_per_evaluation(ev):
    together = ev.regen(peer_group="none")
    table = tu.grades_by_group({"a": ev, "b": together}, "station_class", "en")
    graded = ev.scores["grade"].isin(["优秀", "良好", "合格", "不合格"]).sum()
    for label in ("a", "b"):
        assert table[[c for c in table.columns if c.startswith(f"{label}: ")]].to_numpy().sum() == graded


def test_shrinkage_pulls_small_units_more_and_keeps_every_rate_between_raw_and_prior(ev):
    rate = tu.smallest_rate_indicator(ev)
    table = tu.shrinkage_table(ev, rate)
    assert table["denominator"].is_monotonic_increasing
    lo = np.minimum(table["raw"], table["prior_mean"]) - 1e-12
    hi = np.maximum(table["raw"], table["prior_mean"]) + 1e-12
    assert ((table["shrunk"] >= lo) & (table["shrunk"] <= hi)).all()
    # reliability = n / (n + M) grows with the denominator
    assert table["reliability"].is_monotonic_increasing
    ax = tu.figure_shrinkage(table, lang="en")
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


# ------------------------------------------------------------------ the notebook itself
@pytest.mark.notebook
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_tutorial_runs_in_each_language(tmp_path, lang):
    out = tmp_path / "tutorial"
    run = run_notebook(
        NOTEBOOK,
        out,
        {"lang": lang, "output_dir": str(out), "stations": 30},
        timeout=120,
        html_lang="zh-CN" if lang == "zh" else "en",
    )
    executed = nbformat.read(run.executed_notebook, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"], "warnings leaked into the report"
    text = BeautifulSoup(run.html.read_text(encoding="utf-8"), "html.parser").get_text()
    for step in tu.TUTORIAL_STEPS:
        assert tu.step_title(step, lang) in text, step
    assert say("tutorial.questions", lang) in text
    for figure in ("truth_comparison", "shrinkage", "group_means", "impact_ratios", "grade_counts"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 5_000, figure
    if lang == "en":
        # names from the data (stations, area types, classes) are the only Chinese allowed
        case = simulate_calibration_case("station_four_dimension", "2025Q2", stations=30, rng=7)
        data_words = set()
        for column in ("name", "area_type", "station_class", "station_type", "district"):
            data_words |= set(case.units[column].dropna().astype(str))
        stray = [w for w in CJK.findall(text) if not any(w in d for d in data_words)]
        assert stray == []
    else:
        assert "讨论题" in text and "固定目标值" in text
