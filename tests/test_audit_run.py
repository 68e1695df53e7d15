"""The whole audit: run_audit, the report paragraph and the ``perfmodel audit`` command."""

from __future__ import annotations

import argparse

import openpyxl
import pandas as pd
import pytest
from audit_builders import planted_data, write_files

from perfmodel.audit import cli as audit_cli
from perfmodel.audit import fairness_summary_markdown, run_audit
from perfmodel.audit._frame import AuditError
from perfmodel.audit.cli import ERR_REFERENCE_ARG, parse_reference
from perfmodel.evaluation import evaluate

MINUTES = 12.0


@pytest.fixture(scope="module")
def audit():
    fw, obs, units = planted_data(seed=3, n_units=90, rural_minutes=MINUTES, biased_rater_points=10.0)
    ev = evaluate(fw, obs, units, "2025Q2")
    return ev, run_audit(ev, by=["area_type", "station_class", "area_type+station_class"], n_boot=4, seed=1)


def test_run_audit_runs_every_applicable_check(audit):
    _, tables = audit
    expected = {"findings", "disaggregated", "adverse_impact", "conditional_parity", "context_neutrality",
                "weight_policy", "effective_weights", "effective_weights_by_source", "grade_robustness",
                "grades_not_robust", "rank_stability", "rater_bias", "notes"}
    assert expected <= set(tables)
    for name, table in tables.items():
        if name in {"findings", "notes", "grades_not_robust"}:
            continue
        assert {"n", "estimate", "verdict"} <= set(table.columns), name
        assert {"se", "ci_low"} & set(table.columns), name
    assert set(tables["disaggregated"]["attribute"]) == {"area_type", "station_class", "area_type × station_class"}
    assert tables["grade_robustness"].attrs["n_boot"] == 4
    notes = tables["notes"]
    assert "four-fifths" not in notes["note"].iloc[-1] and "五分之四" in notes["note"].iloc[-1]


def test_findings_name_the_disadvantaged_group_and_the_harsh_rater(audit):
    _, tables = audit
    findings = tables["findings"]
    by_check = findings.groupby("check")["group"].apply(set)
    assert "农村" in by_check["disaggregated"] and "农村" in by_check["adverse_impact"]
    assert "农村" in by_check["conditional_parity"]
    assert {"C1-0 农村"} <= by_check["rater_bias"]
    area_rows = findings[(findings["attribute"] == "area_type") & (findings["check"] != "rater_bias")]
    assert set(area_rows["group"]) == {"农村"}  # no other area type is flagged


def test_summary_paragraph_links_to_the_report(audit):
    ev, tables = audit
    text = fairness_summary_markdown(ev, "zh", audit=tables, link="fairness/report.html")
    assert text.startswith("**公平性审计。**") and "(fairness/report.html)" in text
    assert f"发现 {len(tables['findings'])} 项需要关注" in text and "农村" in text
    english = fairness_summary_markdown(ev, "en", audit=tables, max_items=1)
    assert "findings need attention" in english and english.endswith("(fairness_audit/report.html).")


def test_summary_without_findings_says_so():
    fw, obs, units = planted_data(seed=1, n_units=30)
    ev = evaluate(fw, obs, units, "2025Q2", compare_previous=False)
    empty = {"findings": pd.DataFrame(columns=["check", "attribute", "group", "verdict"])}
    assert "Nothing needing attention was found." in fairness_summary_markdown(ev, "en", audit=empty)


def test_reference_argument_is_parsed_and_checked():
    assert parse_reference(["area_type=城区核心", " station_class = 一类 "]) == {
        "area_type": "城区核心", "station_class": "一类"}
    with pytest.raises(AuditError, match=ERR_REFERENCE_ARG.format(value="area_type").replace("(", r"\(")
                       .replace(")", r"\)")):
        parse_reference(["area_type"])


def _parse(argv):
    parser = argparse.ArgumentParser(prog="perfmodel")
    audit_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cli_writes_csv_and_xlsx(tmp_path, capsys):
    paths = write_files(tmp_path / "in", seed=0, n_units=60, rural_minutes=MINUTES)
    args = _parse(["audit", "--observations", str(paths["observations"]), "--units", str(paths["units"]),
                   "--framework", str(paths["framework"]), "--period", "2025Q2", "--by", "area_type",
                   "--n-boot", "3", "--out", str(tmp_path / "out"), "--lang", "en"])
    assert args.func is audit_cli.run
    assert args.func(args) == 0
    out = tmp_path / "out" / "audit_test" / "2025Q2"
    assert (out / "disaggregated.csv").exists() and (out / "adverse_impact.csv").exists()
    sheets = pd.read_excel(out / "audit.xlsx", sheet_name=None)
    assert {"findings", "disaggregated", "adverse_impact", "weight_policy", "notes"} <= set(sheets)
    book = openpyxl.load_workbook(out / "audit.xlsx")  # frozen header and filter buttons on every sheet
    assert all(ws.freeze_panes == "A2" and ws.auto_filter.ref for ws in book.worksheets)
    groups = pd.read_csv(out / "disaggregated.csv", encoding="utf-8-sig")
    assert set(groups["group"]) == {"城区核心", "城乡结合部", "农村"}
    printed = capsys.readouterr().out
    assert "audit of audit_test 2025Q2: 60 units" in printed and "农村" in printed


def test_cli_reports_audit_errors_in_one_line(tmp_path, capsys):
    paths = write_files(tmp_path / "in", seed=0, n_units=30)
    args = _parse(["audit", "--observations", str(paths["observations"]), "--units", str(paths["units"]),
                   "--framework", str(paths["framework"]), "--period", "2025Q2", "--by", "area_type",
                   "--reference", "oops", "--out", str(tmp_path / "out")])
    assert args.func(args) == 1
    assert capsys.readouterr().err.strip() == "perfmodel: error: " + ERR_REFERENCE_ARG.format(value="oops")
