"""The calibration log says why in the reader's language (issue 11, "the whole language").

``perfmodel.calibrate.step`` records each log row as a reason code and its values;
the words are the ``reason.calibration`` block of the catalogue. These tests read the
source for every code the step records and check the catalogue against it, then
check the words of a real log in both languages.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from perfmodel.calibrate.step import LOG_COLUMNS, REASON_SECTION, calibration_reason
from perfmodel.evaluation import evaluate_files
from perfmodel.report.calibration import calibration_log_table
from perfmodel.text import catalogue, templates

STEP = Path(__file__).resolve().parents[1] / "perfmodel" / "calibrate" / "step.py"
SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"
CJK = re.compile(r"[\u4e00-\u9fff]")
TWO_WORDS = re.compile(r"\b[A-Za-z]{2,}\s+[A-Za-z]{2,}\b")
"""Two Latin words in a row: the mark of an English phrase (a formula has ``+`` or ``~`` between names)."""
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z_]+)*")
ZH_LATIN_ALLOWED = {
    "beta",  # beta-binomial (beta-二项), a distribution's name
    "NB2",
    "REML",
    "rater_id",  # column names and framework keys are written as the user types them
    "calibration.covariates",
    "calibration.exclude",
    "calibration.raters",
    "calibration.shrinkage",
    "preventable",
    "false",
    "self_enhancement",
}


def _literal_codes(node: ast.expr) -> list[str]:
    """The codes of a literal string or of a conditional choice between literal codes; ``[]`` otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literal_codes(node.body), _literal_codes(node.orelse)
        return body + orelse if body and orelse else []
    return []


def _recorded_codes() -> dict[str, set[str]]:
    """Every reason code ``step.py`` passes to ``log.add``, with the keyword names passed along it."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(STEP.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "log"):
            continue
        assert len(node.args) >= 4, f"line {node.lineno}: log.add needs a reason code"
        codes = _literal_codes(node.args[3])
        assert codes, f"line {node.lineno}: the reason must be a literal code (or a choice of literal codes)"
        names = {k.arg for k in node.keywords if k.arg is not None}
        for code in codes:
            found.setdefault(code, set()).update(names)
            assert found[code] == names, f"{code}: recorded with different values at line {node.lineno}"
    return found


def test_every_recorded_code_has_both_languages_with_the_values_the_step_passes():
    recorded = _recorded_codes()
    assert len(recorded) >= 30  # the ~30 reasons of the step
    messages = catalogue()
    for code, names in recorded.items():
        key = f"{REASON_SECTION}.{code}"
        assert key in messages, f"{key} is not in the catalogue"
        assert messages[key].placeholders("zh") == messages[key].placeholders("en") == names, code
    unused = set(templates(REASON_SECTION, "en")) - set(recorded)
    assert not unused, f"catalogue reasons no step records: {sorted(unused)}"


def test_the_chinese_reasons_have_no_english_words_outside_values_and_names():
    for code, text in templates(REASON_SECTION, "zh").items():
        words = set(LATIN_WORD.findall(re.sub(r"\{[^}]*\}", "", text)))
        assert words <= ZH_LATIN_ALLOWED, (code, words - ZH_LATIN_ALLOWED)
        assert CJK.search(text), code


def test_reason_fills_values_in_either_language_and_says_a_kind_in_words():
    detail = json.dumps({"kind": "duration", "natural": "gamma", "family": "gaussian"})
    en = calibration_reason("kind_fallback", detail, "en")
    assert en.startswith("duration values outside the gamma family's range") and en.endswith("gaussian model used")
    zh = calibration_reason("kind_fallback", detail, "zh")
    assert "时长" in zh and "duration" not in zh and "gaussian 模型" in zh
    assert calibration_reason("shrunk_pooled", {"reliability": 0.7449}, "zh").endswith("0.74")
    error = "PerfectSeparationError: Perfect separation detected"  # an exception's text stays as raised
    assert calibration_reason("model_failed", {"family": "binomial", "error": error}, "zh") == (
        f"binomial 模型拟合失败:{error}"
    )


FULL_GROUP = pytest.mark.xdist_group("calibration_log_full")
"""The tests reading :func:`full` run on one worker (make test: ``--dist loadgroup``): it is evaluated once."""


@pytest.fixture(scope="module")
def full():
    """The shipped sample (120 stations, 2025Q2) with rater calibration, case-mix and shrinkage."""
    return evaluate_files(
        "station_four_dimension",
        SAMPLES / "observations" / "station_four_dimension.csv.gz",
        SAMPLES / "units.csv",
        "2025Q2",
        calibration="full",
    )


@FULL_GROUP
def test_the_log_keeps_its_columns_and_an_english_reason_made_from_its_code(full):
    log = full.stages["calibration_log"]
    assert list(log.columns) == LOG_COLUMNS
    assert list(log.columns[:5]) == ["indicator", "step", "action", "n_units", "reason"]  # as readers know it
    assert set(log["action"]) >= {"calibrated", "adjusted", "shrunk"}
    for row in log.itertuples():
        assert row.reason == calibration_reason(row.code, row.detail, "en")
        assert CJK.search(row.reason) is None
    raters = log[log["code"] == "raters_calibrated"].iloc[0]
    detail = json.loads(raters["detail"])
    assert raters["reason"] == (
        f"mixedlm crossed rater × ratee model: {detail['raters']} raters, {detail['parts']} connected part(s); "
        f"rater SD {detail['sd']:.2f} points"
    )


@FULL_GROUP
def test_a_chinese_log_table_has_no_english_sentence(full):
    log = full.stages["calibration_log"]
    zh = calibration_log_table(full, "zh")
    assert len(zh) == len(log) and list(zh.columns) == ["指标", "步骤", "处理", "单位数", "原因"]
    for text in zh["原因"]:
        assert CJK.search(text), text
        assert not TWO_WORDS.search(text), text
    en = calibration_log_table(full, "en")
    assert en["Reason"].tolist() == log["reason"].tolist()


@FULL_GROUP
def test_a_log_without_codes_is_shown_as_recorded(full):
    old = full.stages["calibration_log"][LOG_COLUMNS[:5]]
    shown = calibration_log_table(_with_log(full, old), "zh")
    assert shown["原因"].tolist() == old["reason"].tolist()


def _with_log(ev, log: pd.DataFrame):
    """A copy of ``ev`` whose ``calibration_log`` stage is ``log`` (an evaluation saved before reason codes)."""
    import copy

    other = copy.copy(ev)
    other.stages = {**ev.stages, "calibration_log": log}
    return other


@FULL_GROUP
def test_the_chinese_casemix_model_table_has_chinese_headers(full):
    from perfmodel.report.calibration import casemix_model_table

    zh = casemix_model_table(full, "zh")
    english = [c for c in zh.columns if not re.search(r"[\u4e00-\u9fff]", str(c))]
    assert english == []
    assert list(casemix_model_table(full, "en").columns)[:2] == ["Indicator", "Family"]
