"""The quarterly report: its tables and texts, and the notebook end to end under papermill."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import QUARTERLY_GROUP

from perfmodel.evaluation import evaluate_files
from perfmodel.framework import framework_path
from perfmodel.report import quarterly as q
from perfmodel.report.runner import notebook_parameters, run_notebook

FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quarterly_evaluation.ipynb"


@pytest.fixture(scope="module")
def sample(quarterly_sample: dict[str, Path]) -> dict[str, Path]:
    """30 stations, 2025-01 … 2025-06, with planted defects (so a quarantine exists): the session's sample."""
    return quarterly_sample


@pytest.fixture(scope="module")
def raw(sample):
    return evaluate_files(FRAMEWORK, sample["station_observations"], sample["units"], PERIOD)


@pytest.fixture(scope="module")
def calibrated(raw):
    return raw.regen(calibration="full")


# ------------------------------------------------------------------ tables and texts
def test_consequences_are_said_in_words():
    assert q.consequence_label("grade_cap", "合格") == "等级最高为合格"
    assert q.consequence_label("deduct", points=2) == "每次扣2分"
    assert q.consequence_label("deduct", points=2, lang="en") == "deduct 2 points each"
    assert q.consequence_label("warning", lang="en") == "warning"


def test_breach_table_shows_three_decimals_and_the_standard(raw):
    table = q.breach_table(raw, "zh")
    breaches = raw.stages["breaches"]
    assert len(table) == len(breaches)
    if len(table):
        assert table["实际值"].tolist() == [f"{v:.3f}" for v in breaches["value"]]
        assert set(table["标准"]) == {"≥ 0.95"}  # 三实信息采集率 ≥ 95 % in the framework
        assert set(table["后果"]) == {"等级最高为合格"}


def test_negative_table_translates_consequences_and_keeps_points(raw):
    hits = raw.stages["negative_hits"]
    table = q.negative_table(raw, "en")
    assert len(table) == len(hits)
    assert table["Points deducted"].sum() == pytest.approx(hits["points"].sum())
    assert not table["Consequence"].isin(["grade_cap", "deduct"]).any()


def test_weight_tree_in_words_and_shares_add_up(raw):
    tree = q.weight_tree_table(raw.framework, "zh")
    indicators = tree[tree["方向"] != ""]
    assert set(indicators["方向"]) <= {"越大越好", "越小越好", "接近目标值"}
    assert indicators["占总分"].sum() == pytest.approx(1.0)
    assert (tree["硬性标准"] != "").sum() == 1


def test_quarantine_is_explained_in_the_report_language(raw):
    zh = q.quality_tables(raw, "zh")["quarantine"]
    en = q.quality_tables(raw, "en")["quarantine"]
    assert zh["行数"].sum() == len(raw.quarantine) == en["Rows"].sum()
    assert zh["说明"].str.contains("[\u4e00-\u9fff]").all()
    assert not en["Explanation"].str.contains("[\u4e00-\u9fff]").any()


def test_incomplete_units_are_listed_with_their_months_and_ties_said_in_a_sentence(sample):
    """Issue 10: a unit with one month of the quarter is listed in the data-quality section, not graded."""
    from perfmodel.evaluation import Evaluation, read_evaluation_inputs

    fw, obs, units, quarantine, _ = read_evaluation_inputs(FRAMEWORK, sample["station_observations"], sample["units"])
    station = sorted(obs["unit_id"].unique())[0]
    obs = obs[(obs["unit_id"] != station) | (obs["period"] == "2025-04")]
    ev = Evaluation(fw, obs, units, PERIOD, quarantine=quarantine).run()
    table = q.quality_tables(ev, "zh")["incomplete"]
    assert table["单位编号"].tolist() == [station]
    assert table[["有数据月数", "至少需要月数"]].iloc[0].tolist() == [1, 3]
    assert q.quality_tables(ev, "en")["incomplete"].columns.tolist() == [
        "Unit",
        "Name",
        "Months with data",
        "Months required",
    ]
    assert ev.scores.set_index("unit_id").loc[station, "grade"] == "未评定"
    shown = {lang: re.sub(r"\\(.)", r"\1", q.grading_notes_markdown(ev, lang)) for lang in ("zh", "en")}
    assert shown["zh"].startswith("1 个单位数据月数不足(数据不完整)")  # Markdown escapes removed
    assert "1 unit(s) had fewer months of data than required" in shown["en"]


def test_grading_notes_sentence_counts_tie_decisions(raw):
    notes = raw.stages["grading_notes"]
    lowered = notes.loc[notes["code"] == "quota_tie_lowered", "unit_id"].nunique()
    text = re.sub(r"\\(.)", r"\1", q.grading_notes_markdown(raw, "en"))  # Markdown escapes removed
    assert (f"{lowered} unit(s) still tied" in text) == (lowered > 0)
    assert q.quality_tables(raw, "zh")["incomplete"].empty  # the sample has every month


def test_calibration_comparison_puts_changed_grades_first(raw, calibrated):
    table = q.calibration_comparison(raw, calibrated, "en")
    assert len(table) == len(raw.scores)
    changed = table["Grade (uncalibrated)"] != table["Grade (calibrated)"]
    n_changed = int(changed.sum())
    assert changed.iloc[:n_changed].all() and not changed.iloc[n_changed:].any()
    merged = raw.scores.merge(calibrated.scores, on="unit_id")
    assert n_changed == int((merged["grade_x"] != merged["grade_y"]).sum())
    assert f"**{n_changed}** of {len(raw.scores)} units change grade" in q.calibration_markdown(raw, calibrated, "en")


def test_calibration_removes_dependence_on_context(raw, calibrated):
    """The simulator plants context effects; case-mix calibration should remove most of them.

    The R² comes from the one home of "R² on context" (``calibrate.difficulty.r2_on_context``);
    it equals the audit's context-neutrality R² (an independent OLS with dummies) on the same columns.
    """
    from perfmodel.audit import context_neutrality
    from perfmodel.calibrate import r2_on_context

    present = [c for c in q.CONTEXT_COLUMNS if c in raw.units.columns and raw.units[c].nunique() > 1]
    for ev in (raw, calibrated):
        # the test sample has fewer units than a reported R² needs: compare the numbers without the minimum
        ours = r2_on_context(ev.scores.set_index("unit_id")["score"], ev.scored_units, present, minimum=False)["r2"]
        audit = context_neutrality(ev, context=present).to_frame()
        assert ours == pytest.approx(float(audit.loc[audit["measure"] == "r2", "estimate"].iloc[0]), abs=1e-12)
    r2 = {
        name: r2_on_context(ev.scores.set_index("unit_id")["score"], ev.scored_units, present, minimum=False)["r2"]
        for name, ev in (("raw", raw), ("calibrated", calibrated))
    }
    assert r2["calibrated"] < r2["raw"]


def test_r2_on_context_needs_enough_units_for_its_terms():
    """Below 20 units, or 10 per term, no R² (with few units it mostly measures how few they are)."""
    import numpy as np
    import pandas as pd

    from perfmodel.calibrate.difficulty import context_units_needed, r2_on_context

    rng = np.random.default_rng(0)

    def units(n):
        return pd.DataFrame({"unit_id": [f"u{k}" for k in range(n)], "workload": rng.uniform(1, 100, n)})

    for n, expect_r2 in ((19, False), (20, True)):
        table = units(n)
        scores = pd.Series(rng.normal(size=n), index=table["unit_id"])
        result = r2_on_context(scores, table, ["workload"])
        assert (result["n"], result["n_params"], result["needed"]) == (n, 2, context_units_needed(1)) == (n, 2, 20)
        assert bool(np.isfinite(result["r2"])) is expect_r2
        assert np.isfinite(r2_on_context(scores, table, ["workload"], minimum=False)["r2"])


def _first_six_stations(observations: Path, units: Path, folder: Path) -> tuple[Path, Path]:
    """An analyst's small bureau: the first six stations of a sample, written to ``folder``."""
    table = pd.read_csv(units, dtype=str)
    six = table[table["level"] == "station"].head(6)
    rows = pd.read_csv(observations, dtype=str)
    six.to_csv(folder / "units.csv", index=False)
    rows[rows["unit_id"].isin(six["unit_id"])].to_csv(folder / "obs.csv", index=False)
    return folder / "obs.csv", folder / "units.csv"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_calibration_paragraph_says_when_units_are_too_few_for_an_r2(sample, tmp_path, lang):
    """Six stations: the paragraph says how many units an R² would need instead of a meaningless one (100 %)."""
    obs, units = _first_six_stations(sample["station_observations"], sample["units"], tmp_path)
    few = evaluate_files(FRAMEWORK, obs, units, PERIOD, compare_previous=False)
    text = str(q.calibration_markdown(few, few.regen(calibration="casemix"), lang))
    assert re.search(r"\*\*\d+%\*\*", text) is None, "no R² percentage with six units"
    assert ("至少需要" in text and "6 个" in text) if lang == "zh" else ("are needed" in text and "6 units" in text)


def test_provenance_table_hashes_the_inputs(sample):
    inputs = {"observations": sample["station_observations"], "framework": framework_path(FRAMEWORK)}
    table = q.provenance_table(inputs, {"period": PERIOD, "peer_group": None}, "en")
    digest = hashlib.sha256(Path(sample["station_observations"]).read_bytes()).hexdigest()
    details = dict(zip(table["Item"], table["Detail"], strict=True))
    assert digest in details["Observations (observations): station_observations.csv.gz"]
    assert details["Period (period)"] == PERIOD and not [item for item in details if "peer_group" in item]
    assert {"pandas", "statsmodels", "git"} <= set(details)
    chinese = q.provenance_table(inputs, {"period": PERIOD, "calibration": "casemix", "lang": "en"}, "zh")
    rows = dict(zip(chinese["项目"], chinese["内容"], strict=True))
    assert rows["情境校准 (calibration)"] == "情境校准 (casemix)" and rows["报告语言 (lang)"] == "英文 (en)"


def test_long_text_columns_wrap_and_others_do_not():
    flags = "负面清单:执法过错×1(等级最高为合格); 未达硬性指标:三实信息采集率(0.938)"
    frame = pd.DataFrame({"单位名称": ["中山路派出所", "城关派出所"], "提示": [flags, ""], "得分": [1.0, 2.0]})
    html = q.styled(frame).to_html()
    assert "white-space: nowrap" in html
    assert "td.col1" in html and "white-space: normal" in html
    assert "td.col0" not in html and "td.col2" not in html


def test_score_tables_are_reproducible(raw, tmp_path):
    first = q.write_tables(raw, tmp_path / "a")
    second = q.write_tables(raw, tmp_path / "b")
    assert first["scores_csv"].read_bytes() == second["scores_csv"].read_bytes()
    a = pd.read_excel(first["scores_xlsx"], sheet_name=None)
    b = pd.read_excel(second["scores_xlsx"], sheet_name=None)
    assert list(a) == list(b)
    for sheet in a:
        pd.testing.assert_frame_equal(a[sheet], b[sheet])


# ------------------------------------------------------------------ the notebook
def test_notebook_declares_the_report_parameters():
    specs = notebook_parameters(NOTEBOOK)
    expected = [
        "observations",
        "units",
        "framework",
        "period",
        "lang",
        "output_dir",
        "peer_group",
        "calibration",
        "fairness_report",
        "deadline",
    ]
    assert list(specs) == expected
    assert specs["calibration"].default == "none"


def test_notebook_reads_as_a_document_and_its_code_holds_no_prose():
    """Markdown cells explain the notebook in JupyterLab and are left out of the report (``remove-cell``);
    the report's own words come from library functions, not from literals in code cells."""
    from perfmodel.report.notebook_html import HIDDEN_CELL_TAGS

    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    markdown = [c for c in cells if c.cell_type == "markdown"]
    code = [c for c in cells if c.cell_type == "code"]
    assert len(markdown) >= 10 and all(c.source.startswith("#") for c in markdown)
    assert all(HIDDEN_CELL_TAGS & set(c.metadata.get("tags", [])) for c in markdown)
    for cell in code:
        assert not re.search(r"[\u4e00-\u9fff]", cell.source), cell.source[:80]
        assert not re.search(r"\bif zh\b|if lang|lang (?:!=|==)", cell.source), cell.source[:80]
    summary = next(k for k, c in enumerate(code) if "summary_page" in c.source)
    assert summary == 2, "the summary comes right after the title"
    assert "appendix" in code[-1].source and "ranking_table" in code[-1].source  # long tables at the end


@pytest.mark.notebook
@pytest.mark.xdist_group(QUARTERLY_GROUP)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_notebook_writes_a_complete_report(quarterly_reports, lang):
    """The report ``perfmodel report`` wrote (zh without calibration, en with case-mix): every section,
    the summary first, the figures, and the scores and quarantine of the library."""
    sample, out = quarterly_reports["sample"], quarterly_reports["folders"][lang]
    calibration = quarterly_reports["calibration"][lang]
    executed = nbformat.read(out / NOTEBOOK.name, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "PosixPath" not in html and "Traceback" not in html
    sections = (
        ["数据质量", "等级与排名", "情境校准", "公平性", "方法说明", "数据来源与可复现性"]
        if lang == "zh"
        else ["Data quality", "Grades and ranking", "Calibration", "Fairness", "Methodology", "Provenance"]
    )
    for heading in sections:
        assert heading in html, heading
    summary, appendix = ("首页摘要", "附录") if lang == "zh" else ("Summary", "Appendix")

    def heading(text: str) -> int:
        found = re.search(r"<h[1-3][^>]*>\s*(?:\d\. )?" + re.escape(text), html)
        assert found, text
        return found.start()

    page_break = html.index('class="page-break"')
    assert heading(summary) < page_break < heading(sections[0]) < heading(appendix)  # summary, page break, body
    for figure in ("grade_counts", "score_distribution", "dimension_profiles", "rank_changes"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    assert list((out / "figures").glob("funnel_*.png")), "one funnel plot per rate indicator"
    # the notebook only displays what the library computes: its scores are the API's scores
    api = evaluate_files(
        FRAMEWORK, sample["station_observations"], sample["units"], PERIOD, calibration=calibration
    ).scores
    written = pd.read_csv(out / "scores.csv", encoding="utf-8-sig")
    assert written["unit_id"].tolist() == api["unit_id"].tolist()
    assert written["score"].to_numpy() == pytest.approx(api["score"].to_numpy(), nan_ok=True)
    quarantine = pd.read_csv(out / "quarantine.csv", encoding="utf-8-sig")
    used = len(evaluate_files(FRAMEWORK, sample["station_observations"], sample["units"], PERIOD).observations)
    n_input = len(pd.read_csv(sample["station_observations"], dtype=str))
    assert used + len(quarantine) == n_input


@pytest.mark.notebook
def test_six_station_report_has_no_warnings_and_explains_what_it_skipped(tmp_path):
    """An analyst's six stations (issue 11): no raw Python warning, no R² or model coefficients that
    mean nothing with so few units, and the skipped analyses say why, with the units they would need."""
    shipped = Path(__file__).resolve().parents[1] / "data_samples"
    obs, units = _first_six_stations(shipped / "observations" / f"{FRAMEWORK}.csv.gz", shipped / "units.csv", tmp_path)
    out = tmp_path / "report"
    parameters = {"observations": str(obs), "units": str(units)}
    parameters |= {"framework": FRAMEWORK, "period": PERIOD, "lang": "zh", "output_dir": str(out)}
    run = run_notebook(NOTEBOOK, out, parameters, timeout=300, html_lang="zh-CN")
    executed = nbformat.read(run.executed_notebook, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    stderr = [o["text"] for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    assert not stderr, f"raw warnings in the report: {stderr[:2]}"
    html = run.html.read_text(encoding="utf-8")
    assert "Warning" not in html
    assert "未计算情境因素对得分的解释比例" in html and "至少需要 60 个单位" in html
    assert "未估计模型难度系数" in html
