"""The whole audit: run_audit, the report paragraph and the ``perfmodel audit`` command."""

from __future__ import annotations

import argparse

import openpyxl
import pandas as pd
import pytest
from audit_builders import planted_data, write_files

from perfmodel.audit import AuditNote, AuditResult, run_audit
from perfmodel.audit import cli as audit_cli
from perfmodel.audit._frame import AuditError
from perfmodel.audit.cli import ERR_REFERENCE_ARG, parse_reference
from perfmodel.evaluation import evaluate
from perfmodel.report.audit import fairness_summary_markdown

MINUTES = 12.0
# the module's tests share its module-scoped fixtures: one worker runs them all (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("audit_run")


@pytest.fixture(scope="module")
def audit():
    fw, obs, units = planted_data(seed=3, n_units=90, rural_minutes=MINUTES, biased_rater_points=10.0)
    ev = evaluate(fw, obs, units, "2025Q2")
    return ev, run_audit(ev, by=["area_type", "station_class", "area_type+station_class"], n_boot=4, rng=1)


def test_run_audit_runs_every_applicable_check(audit):
    _, result = audit
    tables = result.tables()
    expected = {
        "findings",
        "disaggregated",
        "adverse_impact",
        "conditional_parity",
        "context_neutrality",
        "weight_policy",
        "effective_weights",
        "effective_weights_by_source",
        "grade_robustness",
        "grades_not_robust",
        "rank_stability",
        "rater_bias",
        "notes",
    }
    assert expected <= set(tables)
    assert set(result.checks) == expected - {"findings", "notes"}
    assert result.to_frame() is result.findings and "adverse_impact" in result and "nothing" not in result
    for name, table in tables.items():
        if name in {"findings", "notes", "grades_not_robust"}:
            continue
        assert {"n", "estimate", "verdict"} <= set(table.columns), name
        assert {"se", "ci_low"} & set(table.columns), name
    assert set(tables["disaggregated"]["attribute"]) == {"area_type", "station_class", "area_type × station_class"}
    assert result.checks["grade_robustness"].parameters["n_boot"] == 4
    notes = tables["notes"]
    assert "four-fifths" not in notes["note"].iloc[-1] and "五分之四" in notes["note"].iloc[-1]


def test_findings_name_the_disadvantaged_group_and_the_harsh_rater(audit):
    _, result = audit
    findings = result.findings
    by_check = findings.groupby("check")["group"].apply(set)
    assert "农村" in by_check["disaggregated"] and "农村" in by_check["adverse_impact"]
    assert "农村" in by_check["conditional_parity"]
    assert {"C1-0 农村"} <= by_check["rater_bias"]
    area_rows = findings[(findings["attribute"] == "area_type") & (findings["check"] != "rater_bias")]
    assert set(area_rows["group"]) == {"农村"}  # no other area type is flagged


def test_summary_paragraph_links_to_the_report(audit):
    ev, result = audit
    text = fairness_summary_markdown(ev, "zh", audit=result, link="fairness/report.html")
    assert text.startswith("**公平性审计。**") and "(fairness/report.html)" in text
    assert f"发现 {len(result.findings)} 项需要关注" in text and "农村" in text
    english = fairness_summary_markdown(ev, "en", audit=result, max_items=1)
    assert "findings need attention" in english and "](" not in english  # no report written: no link
    assert english.endswith("--with fairness_audit`.")


def test_summary_without_findings_says_so():
    fw, obs, units = planted_data(seed=1, n_units=30)
    ev = evaluate(fw, obs, units, "2025Q2", compare_previous=False)
    empty = AuditResult(checks={}, findings=pd.DataFrame(columns=["check", "attribute", "group", "verdict"]))
    assert "Nothing needing attention was found." in fairness_summary_markdown(ev, "en", audit=empty)


def test_notes_are_codes_and_their_words_come_from_the_catalogue(audit):
    """Notes hold a status code, a message key and values; words appear only in notes_frame/summary."""
    _, result = audit
    assert all(isinstance(note, AuditNote) and note.status in {"ran", "skipped", "note"} for note in result.notes)
    ran = [note for note in result.notes if note.status == "ran"]
    assert ran and all(note.code == "" and note.text("en") == "" for note in ran)
    four_fifths = [note for note in result.notes if note.status == "note"]
    assert [note.code for note in four_fifths] == ["audit.note.four_fifths"]
    for lang, status in (("en", "ran"), ("zh", "已完成")):
        frame = result.notes_frame(lang)
        assert list(frame.columns) == ["check", "status", "note"] and len(frame) == len(result.notes)
        assert (frame["status"] == status).sum() == len(ran)
    assert result.notes_frame("en")["note"].iloc[-1] == four_fifths[0].text("en")
    assert "four-fifths rule" in four_fifths[0].text("en") and "五分之四" in four_fifths[0].text("zh")


def test_a_skipped_check_is_a_code_with_values():
    fw, obs, units = planted_data(seed=1, n_units=30)
    ev = evaluate(fw, obs, units, "2025Q2", compare_previous=False)
    result = run_audit(ev, by=["area_type"], legitimate=[], n_boot=0, lang="en")
    codes = {note.check: note.code for note in result.skipped()}
    assert codes["conditional_parity"] == "audit.note.no_legitimate"
    assert codes["grade_robustness"] == "audit.note.no_boot"
    assert codes["rank_stability"] == "audit.note.no_previous"
    assert "grade_robustness" not in result and "conditional_parity" not in result
    text = result.summary()
    first = text.splitlines()[0]
    assert first == (
        f"Fairness audit: {len(ev.scores)} units, {len(result.findings)} finding(s); "
        f"{sum(n.status == 'ran' for n in result.notes)} checks ran, {len(result.skipped())} skipped."
    )
    assert "- not run [grade_robustness]: n_boot = 0; grade robustness not run" in text
    assert result.summary("zh").startswith(f"公平性审计:{len(ev.scores)} 个单位")


def test_a_generator_and_its_seed_give_the_same_audit():
    """rng accepts an int or a Generator: a generator draws one seed, so equal generators give equal audits."""
    import numpy as np

    fw, obs, units = planted_data(seed=2, n_units=40)
    ev = evaluate(fw, obs, units, "2025Q2", compare_previous=False)
    one = run_audit(ev, by=["area_type"], n_boot=3, rng=np.random.default_rng(5))
    two = run_audit(ev, by=["area_type"], n_boot=3, rng=np.random.default_rng(5))
    pd.testing.assert_frame_equal(one.checks["grade_robustness"].to_frame(), two.checks["grade_robustness"].to_frame())


def test_reference_argument_is_parsed_and_checked():
    assert parse_reference(["area_type=城区核心", " station_class = 一类 "]) == {
        "area_type": "城区核心",
        "station_class": "一类",
    }
    with pytest.raises(
        AuditError, match=ERR_REFERENCE_ARG.format(value="area_type").replace("(", r"\(").replace(")", r"\)")
    ):
        parse_reference(["area_type"])


def _parse(argv):
    parser = argparse.ArgumentParser(prog="perfmodel")
    audit_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cli_writes_csv_and_xlsx(tmp_path, capsys):
    paths = write_files(tmp_path / "in", seed=0, n_units=60, rural_minutes=MINUTES)
    args = _parse(
        [
            "audit",
            "--observations",
            str(paths["observations"]),
            "--units",
            str(paths["units"]),
            "--framework",
            str(paths["framework"]),
            "--period",
            "2025Q2",
            "--by",
            "area_type",
            "--n-boot",
            "3",
            "--out",
            str(tmp_path / "out"),
            "--lang",
            "en",
        ]
    )
    assert args.func is audit_cli.run
    assert args.func(args) == 0
    out = tmp_path / "out" / "audit_test" / "2025Q2" / "en"  # --lang en: the English folder
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
    args = _parse(
        [
            "audit",
            "--observations",
            str(paths["observations"]),
            "--units",
            str(paths["units"]),
            "--framework",
            str(paths["framework"]),
            "--period",
            "2025Q2",
            "--by",
            "area_type",
            "--reference",
            "oops",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert args.func(args) == 1
    assert capsys.readouterr().err.strip() == "perfmodel: error: " + ERR_REFERENCE_ARG.format(value="oops")


def test_group_figures_draw_one_panel_per_attribute_or_on_the_given_axes(audit):
    """Figures of the report layer: a new figure with a panel per attribute, or one attribute on ax=."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from perfmodel.errors import OptionError
    from perfmodel.report.audit import figure_group_means, figure_impact_ratios

    _, result = audit
    groups = result.checks["disaggregated"].to_frame()
    attributes = list(dict.fromkeys(groups["attribute"]))
    ax = figure_group_means(groups, lang="en")
    panels = ax.figure.get_axes()
    assert len(panels) == len(attributes) and ax is panels[0] and ax.get_title() == attributes[0]
    shown = groups[(groups["attribute"] == attributes[0]) & (groups["role"] != "suppressed")]
    assert len(ax.containers) == len(shown)  # one error bar per group shown
    plt.close(ax.figure)

    with pytest.raises(OptionError, match="select one attribute first"):
        figure_group_means(groups, ax=plt.subplots()[1])
    fig, own = plt.subplots()
    one = groups[groups["attribute"] == "area_type"]
    assert figure_group_means(one, ax=own, lang="en") is own and not fig._suptitle
    assert len(own.containers) == len(one[one["role"] != "suppressed"])

    impact = result.checks["adverse_impact"].to_frame()
    area = impact[(impact["attribute"] == "area_type") & (impact["role"] != "suppressed")]
    fig, own = plt.subplots()
    assert figure_impact_ratios(impact[impact["attribute"] == "area_type"], ax=own, lang="en") is own
    bars = sum(len(c) for c in own.containers)
    assert bars == area["group"].nunique() * area["cut"].nunique()  # a bar per group and grade cut
    assert own.get_legend() is not None
    plt.close("all")
