"""An analyst's own six stations (issue 11): reports that know their data.

Six units are below the minimum of every group comparison, of context
neutrality, of case-mix models and of funnel plots. The reports must run
without a raw Python warning, draw no figure below its minimum, name no empty
group, and say of each skipped analysis why and what it would need.
"""

from __future__ import annotations

import html
import re
import warnings
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from perfmodel.audit import AUDIT_DEFAULTS, run_audit
from perfmodel.audit.defaults import MIN_GROUPS
from perfmodel.audit.robustness import MIN_STABILITY_UNITS
from perfmodel.calibrate.step import MIN_CASEMIX_UNITS
from perfmodel.evaluation import evaluate_files
from perfmodel.report import audit as ra
from perfmodel.report import calibration as rc
from perfmodel.report.runner import run_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def six(six_station_files):
    files = six_station_files
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw warning may reach a report
        ev = evaluate_files(files["framework"], files["observations"], files["units"], files["period"])
        audit = run_audit(ev, lang="zh", n_boot=10, rng=1)
    assert len(ev.scores) == 6
    return ev, audit


# ---------------------------------------------------------------- the library's words
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_summary_names_no_empty_grouping_and_says_why_groups_were_not_compared(six, lang):
    ev, audit = six
    text = str(ra.fairness_summary_markdown(ev, lang, audit=audit))
    intro = text.split("。" if lang == "zh" else ".**", 1)[1].split("。" if lang == "zh" else ".", 1)[0]
    assert "–" not in intro and "按–" not in text and "by –" not in text
    if lang == "zh":
        assert f"需要至少 {MIN_GROUPS} 个组、每组至少 {AUDIT_DEFAULTS.min_n} 个单位" in text
        assert "分组的得分" not in text  # no group comparison is claimed
    else:
        assert f"at least {AUDIT_DEFAULTS.min_n} units in each of {MIN_GROUPS} groups" in text
        assert "distributions by" not in text


def test_every_skipped_section_says_why_with_the_checks_own_reason(six):
    _, audit = six
    skipped_checks = {note.check.split(":")[0] for note in audit.skipped()}
    assert {"disaggregated", "adverse_impact", "context_neutrality"} <= skipped_checks
    for section, checks in ra.FAIRNESS_SECTIONS.items():
        text = str(ra.fairness_section(section, audit, "zh", n_boot=10)).replace("\\", "")  # no Markdown escapes
        assert text.startswith(f"## {list(ra.FAIRNESS_SECTIONS).index(section) + 1}. ")
        notes = [n for n in audit.skipped() if n.check.split(":")[0] in checks]
        ran = any(check in audit for check in checks)
        if not notes:
            assert "本节" not in text, section
            continue
        assert ("本节部分未做" if ran else "本节未做") in text, section
        for note in notes:  # the reason, with the data it would need
            assert note.text("zh") in text
    groups = str(ra.fairness_section("groups", audit, "en")).replace("\\", "")
    assert f"at least {AUDIT_DEFAULTS.min_n} units in each of {MIN_GROUPS} groups" in groups
    assert "**This section was not run.**" in groups
    context = str(ra.fairness_section("context", audit, "en")).replace("\\", "")
    assert "there are 6" in context


def test_rank_stability_keeps_estimated_rows_and_names_small_groups_once():
    table = pd.DataFrame(
        {
            "peer_group": ["全部"] * 3 + ["一类"] * 3,
            "measure": ["spearman", "kendall", "top_k_overlap"] * 2,
            "n": [6] * 3 + [2] * 3,
            "estimate": [0.8, 0.6, 0.5, None, None, None],
        }
    )
    shown, note = ra.rank_stability_shown(table, "zh")
    assert shown["peer_group"].tolist() == ["全部"] * 3
    assert f"少于 {MIN_STABILITY_UNITS} 个" in str(note) and str(note).count("一类") == 1
    shown, note = ra.rank_stability_shown(table.head(3), "en")
    assert len(shown) == 3 and note is None


def test_audit_tables_have_headers_and_codes_in_the_report_language(six):
    _, audit = six
    tables = audit.tables("zh")
    shown_columns = {  # as notebooks/fairness_audit.ipynb shows them
        "findings": ["check", "attribute", "group", "verdict"],
        "weight_policy": ["description", "basis", "limit", "estimate", "effective", "ci_low", "ci_high", "verdict"],
        "effective_weights": ["name", "stated", "estimate", "ci_low", "ci_high", "verdict"],
        "grades_not_robust": [
            "unit_id",
            "name",
            "peer_group",
            "grade",
            "estimate",
            "rank_low",
            "rank_high",
            "p_grade_change",
            "verdict",
        ],
        "rank_stability": ["peer_group", "measure", "n", "estimate", "ci_low", "ci_high", "verdict"],
        "notes": ["check", "status", "note"],
    }
    for name, columns in shown_columns.items():
        for header in ra.fairness_headed(tables[name][columns], "zh").columns:
            assert CJK.search(str(header)), f"{name}: header {header!r} is not in Chinese"
    policy = ra.fairness_headed(tables["weight_policy"], "zh")
    assert set(policy["依据"]) <= {"规定", "参考标准"}
    notes = ra.fairness_headed(tables["notes"], "zh")
    assert "背景中立性" in set(notes["检查项"]) and "分组结果:城乡类型" in set(notes["检查项"])
    english = ra.fairness_headed(tables["rank_stability"], "en")
    assert {"peer group", "measure"} <= set(english.columns) and "Spearman" in set(english["measure"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_funnel_plot_below_its_minimum_and_the_report_says_so(six, lang):
    ev, _ = six
    full = ev.regen(calibration="full")
    assert rc.funnel_results(full) == {}
    rates = [i for i in ev.framework.indicators() if i.kind == "rate"]
    note = html.unescape(str(rc.funnel_too_few(full, {}, lang)).replace("\\", ""))  # as the reader sees it
    assert str(rc.MIN_FUNNEL_UNITS) in note
    for indicator in rates:
        assert indicator.name.in_lang(lang) in note
    assert ("(6 个)" if lang == "zh" else "(6)") in note
    assert str(rc.no_casemix_note(full, lang)).count(str(MIN_CASEMIX_UNITS)) == 1
    assert rc.funnel_too_few(full, dict.fromkeys(i.id for i in rates), lang) is None


# ---------------------------------------------------------------- the notebooks, as papermill runs them
def _outputs(run):
    executed = nbformat.read(run.executed_notebook, as_version=4)
    return [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _report_text(run) -> str:
    soup = BeautifulSoup(run.html.read_text(encoding="utf-8"), "html.parser")
    for tag in soup.find_all(["style", "script"]):
        tag.decompose()
    return soup.get_text(" ", strip=True)


def _clean(run) -> str:
    outputs = _outputs(run)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    stderr = [o["text"] for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    assert not stderr, f"raw warnings in the report: {stderr[:2]}"
    text = _report_text(run)
    assert "Warning" not in text and "Traceback" not in text
    return text


@pytest.mark.notebook
def test_fairness_audit_report_on_six_stations(six_station_files, six, tmp_path):
    _, audit = six
    out = tmp_path / "fairness"
    files = six_station_files
    parameters = {k: str(v) for k, v in files.items()} | {"lang": "zh", "output_dir": str(out), "n_boot": 10}
    run = run_notebook(NOTEBOOKS / "fairness_audit.ipynb", out, parameters, timeout=300, html_lang="zh-CN")
    text = _clean(run)
    assert "按–分组" not in text and "–分组" not in text and "()" not in text
    # no figure of an analysis that did not run
    drawn = {p.stem for p in (out / "figures").glob("*.png")}
    assert not drawn & {"group_means", "impact_ratios"}
    # each section of a skipped analysis says so, with the reasons the audit gave
    assert text.count("本节未做") == sum(
        not any(c in audit for c in checks) and any(n.check.split(":")[0] in checks for n in audit.skipped())
        for checks in ra.FAIRNESS_SECTIONS.values()
    )
    for note in audit.skipped():
        assert note.text("zh") in text
    assert "未计算组内排名稳定性" in text  # peer groups of 1–3 stations: one sentence, no empty rows


@pytest.mark.notebook
def test_calibration_report_on_six_stations(six_station_files, tmp_path):
    out = tmp_path / "calibration"
    files = six_station_files
    parameters = {k: str(v) for k, v in files.items()} | {"lang": "en", "output_dir": str(out)}
    parameters |= {"stations": 40, "check_seeds": 1}  # the simulated part small; the analyst's part is the point
    run = run_notebook(NOTEBOOKS / "calibration.ipynb", out, parameters, timeout=300, html_lang="en")
    text = _clean(run)
    assert "No case-mix model was fitted on your data" in text
    assert f"at least {MIN_CASEMIX_UNITS} units" in text and "your data have 6 units" in text
    assert "Too few units to estimate model-based coefficients" in text  # 40 simulated stations
    assert not CJK.search(text.replace(str(files["observations"]), "")), "an English report has no Chinese words"


def test_calibration_log_steps_and_actions_are_words_in_the_report_language(six):
    ev, _ = six
    full = ev.regen(calibration="full")
    codes = full.stages["calibration_log"]
    shown = rc.calibration_log_table(full, "zh")
    assert len(shown) == len(codes) and set(codes["action"]) >= {"skipped"}
    for column in shown.columns[1:3]:  # step and action
        assert all(CJK.search(str(v)) for v in shown[column]), column
    english = rc.calibration_log_table(full, "en")
    assert set(english.iloc[:, 2]) <= {
        "adjusted",
        "calibrated",
        "shrunk",
        "pooled",
        "skipped",
        "partly done",
        "excluded",
        "dropped",
        "fallback",
        "note",
    }
