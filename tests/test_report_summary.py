"""The quarterly report's one-page summary (perfmodel.report.summary) and the page break after it."""

from __future__ import annotations

import html
import re
import zipfile

import nbformat
import numpy as np
import pandas as pd
import pytest
from evaluation_builders import TOY, toy_data

from perfmodel.evaluation import Evaluation, evaluate
from perfmodel.framework import GRADES, framework_from_dict, load_framework
from perfmodel.report import export
from perfmodel.report import summary as rs
from perfmodel.report.render import PAGE_BREAK_CLASS, md, page_break, table

CJK = re.compile(r"[\u4e00-\u9fff]")
UNESCAPE = re.compile(r"\\(.)")


def _framework() -> dict:
    """TOY with a hard threshold (rate ≥ 0.6, grade capped at 合格), a deduction and a warning item."""
    fw = dict(TOY)
    fw["tree"] = [dict(TOY["tree"][0]), dict(TOY["tree"][1])]
    fw["tree"][0]["children"] = [
        {**TOY["tree"][0]["children"][0], "threshold": {"min": 0.6, "consequence": "grade_cap", "grade_cap": "合格"}},
        TOY["tree"][0]["children"][1],
    ]
    fw["negative_list"] = [
        {
            "id": "err",
            "name": {"zh": "执法过错", "en": "error"},
            "indicator": "errors",
            "consequence": "deduct",
            "points": 3,
        },
        {"id": "warn", "name": {"zh": "警示事项", "en": "caution"}, "indicator": "cautions", "consequence": "warning"},
    ]
    fw["reporting"] = {"deadline_day": 27, "deadline_month_offset": 1}
    return fw


@pytest.fixture(scope="module")
def bureau() -> Evaluation:
    """Four stations over 2025Q1 and 2025Q2, built so that each reason for action happens once in Q2.

    * C: rate 0.5 < 0.6 (hard threshold, grade capped) and one error (3 points deducted);
    * B: one caution (a warning item);
    * D: data in April only (incomplete data: not graded);
    * A: its May rows reported late;
    * three input rows quarantined (two ``bad_period``, one ``unknown_unit``).

    In Q1 every unit has all months, C's rate is 0.8, and there are no hits.
    """
    units, obs = toy_data()
    units = pd.concat([units, pd.DataFrame({"unit_id": ["D"], "name": ["丁"], "level": ["station"]})])
    units["name"] = ["Alpha", "Bravo", "Charlie", "Delta"]  # ASCII names: the English page has no CJK at all
    d_april = obs[(obs["unit_id"] == "A") & (obs["period"] == "2025-04")].assign(unit_id="D")
    extra = pd.DataFrame(
        [
            ("2025-05", "C", "errors", 1.0, np.nan, np.nan, None),
            ("2025-06", "B", "cautions", 1.0, np.nan, np.nan, None),
        ],
        columns=obs.columns[:-1],
    ).assign(late=False)
    q2 = pd.concat([obs, d_april, extra], ignore_index=True)
    q2.loc[(q2["unit_id"] == "A") & (q2["period"] == "2025-05"), "late"] = True
    q1 = pd.concat([obs, obs[obs["unit_id"] == "A"].assign(unit_id="D")], ignore_index=True)
    q1["period"] = q1["period"].map({"2025-04": "2025-01", "2025-05": "2025-02", "2025-06": "2025-03"})
    q1.loc[(q1["unit_id"] == "C") & (q1["indicator"] == "r"), ["value", "numerator"]] = [0.8, 8]
    quarantine = pd.DataFrame(
        {"file": "obs.csv", "row": [2, 3, 4], "reason": ["bad_period", "bad_period", "unknown_unit"]}
    )
    fw = framework_from_dict(_framework())
    return Evaluation(fw, pd.concat([q1, q2], ignore_index=True), units, "2025Q2", quarantine=quarantine).run()


@pytest.fixture(scope="module")
def result(bureau) -> rs.QuarterlySummary:
    return rs.build_summary(bureau)


def _page_text(result: rs.QuarterlySummary, lang: str) -> str:
    """Everything the summary page shows, as text (Markdown escapes removed, tables as their cells)."""
    parts = []
    for part in rs.summary_page(result, lang):
        if hasattr(part, "data"):  # a table Styler
            frame = part.data
            parts.append(" ".join(map(str, frame.columns)) + " " + " ".join(frame.astype(str).to_numpy().ravel()))
        else:
            parts.append(html.unescape(UNESCAPE.sub(r"\1", str(part))))
    return "\n".join(parts)


# ------------------------------------------------------------------ content
def test_each_reason_for_action_is_found_with_its_kind_and_flag_code(result):
    found = {
        (r.unit_id, r.kind, r.code, r.item if isinstance(r.item, str) else None) for r in result.flagged.itertuples()
    }
    assert found == {
        ("C", "grade_cap", "hard_threshold", "r"),
        ("C", "negative_list", "negative_list", "err"),
        ("B", "early_warning", "negative_list", "warn"),
        ("D", "incomplete_data", "incomplete_data", None),
    }
    assert result.flagged["kind"].map(rs.ACTION_KINDS.index).is_monotonic_increasing  # most serious first
    grouped = result.needs_action()
    assert grouped["units"].tolist() == [1, 1, 1, 1]
    assert result.to_frame().equals(result.flagged) and result.to_frame() is not result.flagged


def test_grade_counts_add_up_and_the_previous_period_is_compared(bureau, result):
    grades = result.grades.set_index("grade")
    assert grades["units"].sum() == len(bureau.scores) == 4
    assert grades.loc["未评定", "units"] == 1  # D
    previous = bureau.previous.scores["grade"].value_counts()
    for grade in GRADES:
        if grade in grades.index:
            assert grades.loc[grade, "previous"] == previous.get(grade, 0)
            assert grades.loc[grade, "change"] == grades.loc[grade, "units"] - previous.get(grade, 0)
    assert result.previous_period == "2025Q1"


def test_changes_count_units_per_kind_then_and_now(result):
    changes = result.changes.set_index("kind")
    # Q1 had no breach and no hit; D had every month then
    assert changes.loc["grade_cap", ["previous", "current"]].tolist() == [0, 1]
    assert changes.loc["negative_list", ["previous", "current"]].tolist() == [0, 1]
    assert changes.loc["early_warning", ["previous", "current"]].tolist() == [0, 1]
    assert changes.loc["incomplete_data", ["previous", "current"]].tolist() == [0, 1]
    assert {"grade_up", "grade_down"} <= set(changes.index)


def test_data_problems_count_the_quarantine_late_units_and_units_not_graded(result):
    assert result.quarantine.to_dict("list") == {"reason": ["bad_period", "unknown_unit"], "rows": [2, 1]}
    data = result.data.set_index("problem")["n"]
    assert data["quarantined_rows"] == 3 and data["late_units"] == 1 and data["not_graded"] == 1


def test_action_list_says_who_what_and_by_when(result):
    actions = result.actions
    assert actions["action"].tolist() == [
        "rectify_threshold",
        "explain_negative",
        "submit_missing",
        "report_on_time",
        "fix_quarantine",
    ]
    who = dict(zip(actions["action"], actions["who"], strict=True))
    assert who == {
        "rectify_threshold": "C",
        "explain_negative": "C, B",
        "submit_missing": "D",
        "report_on_time": "A",
        "fix_quarantine": rs.DATA_OFFICE,
    }
    items = dict(zip(actions["action"], actions["items"], strict=True))
    assert items["rectify_threshold"] == ["r"] and items["explain_negative"] == ["err", "warn"]
    assert items["fix_quarantine"] == ["bad_period", "unknown_unit"]
    assert (actions["due"] == pd.Timestamp("2025-08-27 23:59:59")).all()


@pytest.mark.parametrize(
    ("period", "reporting", "due"),
    [
        ("2025Q2", {}, "2025-08-27"),  # July's data, due on the 27th of August
        ("2025Q4", {}, "2026-02-27"),  # across the year
        ("2025-12", {}, "2026-02-27"),
        ("2025", {}, "2026-02-27"),
        ("2025Q2", {"deadline_day": 10, "deadline_month_offset": 0}, "2025-07-10"),
        ("2025Q1", {"deadline_day": 31}, "2025-05-31"),
        ("2025Q1", {"deadline_day": 31, "deadline_month_offset": 2}, "2025-06-30"),  # June has 30 days
    ],
)
def test_next_data_deadline_is_that_of_the_first_month_after_the_period(period, reporting, due):
    fw = framework_from_dict(
        {**_framework(), "reporting": {"deadline_day": 27, "deadline_month_offset": 1, **reporting}}
    )
    assert rs.next_data_deadline(fw, period).strftime("%Y-%m-%d") == due


def test_next_data_deadline_day_and_offset_can_be_overridden():
    fw = load_framework("station_four_dimension")
    assert rs.next_data_deadline(fw, "2025Q2", day=5, month_offset=2).strftime("%Y-%m-%d") == "2025-09-05"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_says_the_default_rule_or_the_given_date(bureau, result, lang):
    text = _page_text(result, lang)
    assert "2025-08-27" in text and "deadline" in text
    assert ("27 日前" in text) if lang == "zh" else ("day 27" in text)
    given = _page_text(rs.build_summary(bureau, deadline="2025-08-01"), lang)
    assert "2025-08-01" in given and "2025-08-27" not in given
    assert ("报告参数" in given) if lang == "zh" else ("was set with the report parameter" in given)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_speaks_one_language_with_every_reason_code_beside_its_words(result, lang):
    text = _page_text(result, lang)
    for code in ("hard_threshold", "negative_list", "incomplete_data", "bad_period", "unknown_unit"):
        assert code in text, code
    if lang == "en":
        assert not CJK.search(text), CJK.findall(text)[:10]
        assert "Grade cap" in text and "hard threshold not met: rate" in text and "The bureau's data office" in text
    else:
        assert "等级封顶" in text and "未达硬性指标:率" in text and "局数据管理部门" in text
    assert str(rs.summary_page(result, lang)[-1]) == str(page_break())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_plain_summary_has_the_grades_the_reasons_and_the_numbered_actions(result, lang):
    text = result.summary(lang)
    assert text.splitlines()[0] == ("首页摘要:测试 · 2025Q2" if lang == "zh" else "Summary: Toy · 2025Q2")
    numbered = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert len(numbered) == len(result.actions) == 5
    assert all("2025-08-27" in line for line in numbered)


def test_long_unit_lists_are_cut_on_the_page_but_complete_in_the_appendix(bureau):
    many = [f"U{k:02d}" for k in range(rs.UNITS_SHOWN + 4)]
    assert rs._unit_list(many, "en") == ", ".join(many[: rs.UNITS_SHOWN]) + " and others (10 units)"
    assert rs._unit_list(many, "zh").endswith(" 等 10 个单位")
    appendix = rs.flagged_table(rs.build_summary(bureau), "en")
    assert len(appendix) == 4 and appendix["Reason (code)"].str.contains(r"\(\w+\)$").all()


def test_monitor_warnings_count_as_early_warnings_but_leaders_do_not(bureau):
    warnings = pd.DataFrame({"unit_id": ["A", "B"], "rule": ["decline", "leader"]})
    result = rs.build_summary(bureau, warnings=warnings)
    extra = result.flagged[result.flagged["code"].str.startswith("warning:")]
    assert extra[["unit_id", "kind", "code"]].values.tolist() == [["A", "early_warning", "warning:decline"]]
    assert "review_warning" in result.actions["action"].tolist()
    assert "declining months in a row" in _page_text(result, "en")


def test_without_a_previous_period_the_page_says_so(bureau):
    alone = evaluate(bureau.framework, bureau.observations, bureau.units, "2025Q2", compare_previous=False)
    result = rs.build_summary(alone)
    assert result.previous_period is None and result.moves.empty and result.changes.empty
    assert "No data for the previous period" in _page_text(result, "en")


# ------------------------------------------------------------------ page break in PDF and Word
def _two_page_notebook(path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1")
    outputs = [md("# Summary\n\nfirst page"), page_break(), md("## Body\n\nsecond page")]
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": str(o)}) for o in outputs]
    cell.outputs.append(
        nbformat.v4.new_output("display_data", data={"text/html": table(pd.DataFrame({"a": [1]})).to_html()})
    )
    nb.cells = [cell]
    nbformat.write(nb, path)
    return path


def test_page_break_becomes_a_typst_pagebreak_and_a_word_page_break(tmp_path):
    notebook = _two_page_notebook(tmp_path / "nb.ipynb")
    document = export.report_document_html(notebook)
    assert f'<div class="{PAGE_BREAK_CLASS}"></div>' in document
    typst_source = export._pandoc(export._tree(document, "typst"), "typst", source="json")
    assert typst_source.count("#pagebreak(weak: true)") == 1
    assert typst_source.index("first page") < typst_source.index("#pagebreak") < typst_source.index("second page")
    docx_path = export.export_docx(notebook, tmp_path / "r.docx")
    with zipfile.ZipFile(docx_path) as archive:
        xml = archive.read("word/document.xml").decode("utf-8")
    assert xml.count('<w:br w:type="page" />') + xml.count('<w:br w:type="page"/>') == 1
    assert xml.index("first page") < xml.index('w:type="page"') < xml.index("second page")


def test_pdf_puts_the_text_after_the_page_break_on_page_two(tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    notebook = _two_page_notebook(tmp_path / "nb.ipynb")
    pdf = pdfium.PdfDocument(str(export.export_pdf(notebook, tmp_path / "r.pdf", title="t", header="h", lang="en")))
    pages = [pdf[k].get_textpage().get_text_range() for k in range(len(pdf))]
    assert len(pages) == 2
    assert "first page" in pages[0] and "second page" in pages[1]


def test_rank_moves_are_the_units_that_moved_rises_first(bureau, result):
    scores = bureau.scores.set_index("unit_id")
    moved = scores["rank_change"].dropna()
    moves = result.moves
    assert set(moves["unit_id"]) == set(moved.index[moved != 0])  # top 3 each way covers the 3 ranked units
    assert moves["rank_change"].is_monotonic_decreasing and (moves["rank_change"] != 0).all()
    for row in moves.itertuples():
        assert row.rank_change == scores.loc[row.unit_id, "previous_rank"] - scores.loc[row.unit_id, "rank"]


def test_officers_are_listed_by_id_only(tmp_path):
    """Privacy: an officer framework's summary shows no officer's name, on the page or in the appendix."""
    from pathlib import Path

    from perfmodel.evaluation import evaluate_files

    samples = Path(__file__).resolve().parents[1] / "data_samples"
    ev = evaluate_files(
        "officer_traffic", samples / "observations" / "officer_traffic.csv.gz", samples / "units.csv", "2025Q2"
    )
    result = rs.build_summary(ev, top_moves=2)
    names = set(ev.units.loc[ev.units["level"] == "officer", "name"].dropna())
    shown = _page_text(result, "zh") + " ".join(
        rs.flagged_table(result, "zh").fillna("").astype(str).to_numpy().ravel()
    )
    assert names and not any(name in shown for name in names)
    assert len(result.moves) and result.flagged["kind"].eq("early_warning").any()  # warning items of the sample


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_bureau_with_nothing_to_do_gets_no_action_and_no_data_problem(lang):
    units, obs = toy_data()
    earlier = obs.assign(period=obs["period"].map({"2025-04": "2025-01", "2025-05": "2025-02", "2025-06": "2025-03"}))
    ev = evaluate(framework_from_dict(TOY), pd.concat([earlier, obs]), units, "2025Q2")
    result = rs.build_summary(ev, lang=lang)
    assert result.flagged.empty and result.actions.empty and result.quarantine.empty
    assert result.changes["kind"].tolist() == ["grade_up", "grade_down"]
    text = _page_text(result, lang)
    assert (
        ("无。" in text and "没有影响结果的数据问题" in text)
        if lang == "zh"
        else ("None." in text and "No data problem" in text)
    )
