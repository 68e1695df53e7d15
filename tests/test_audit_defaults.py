"""One set of audit defaults, and checks that state their minimum (issue 11, items 7 and 4).

The quarterly report's fairness paragraph, the fairness report and ``perfmodel
audit`` used to count 9, 8 and 9–10 findings for the same evaluation: the
paragraph ran without the grade bootstrap (and so with other conditional-parity
intervals), the fairness notebook audited three attributes instead of four. All
three now leave their options at ``None`` and take them from
:data:`perfmodel.audit.AUDIT_DEFAULTS`.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from perfmodel.audit import AUDIT_DEFAULTS
from perfmodel.audit import run as audit_run
from perfmodel.audit.defaults import MIN_CONTEXT_UNITS, MIN_GROUPS
from perfmodel.cli import main
from perfmodel.evaluation import evaluate_files
from perfmodel.report import audit as report_audit
from perfmodel.report.runner import notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SAMPLE_OBSERVATIONS = ROOT / "data_samples" / "station_observations.csv.gz"
SAMPLE_UNITS = ROOT / "data_samples" / "units.csv"
GROUP_CHECKS = ("disaggregated", "adverse_impact", "conditional_parity", "rater_bias")
THREE_PATHS_GROUP = pytest.mark.xdist_group("audit_three_paths")
"""The tests reading :func:`three_paths` run on one worker (make test: ``--dist loadgroup``): it is built once."""


def _defaults(notebook: str) -> dict:
    return {name: p.default for name, p in notebook_parameters(NOTEBOOKS / notebook).items()}


def _keys(findings: pd.DataFrame) -> list[tuple[str, str, str]]:
    clean = findings[["check", "attribute", "group"]].fillna("").astype(str)
    return sorted(map(tuple, clean.to_numpy().tolist()))


@pytest.fixture(scope="module")
def three_paths(tmp_path_factory):
    """Findings of the quarterly paragraph, the fairness notebook and the CLI on the shipped sample."""
    quarterly, report = _defaults("quarterly_evaluation.ipynb"), _defaults("fairness_audit.ipynb")
    assert (quarterly["framework"], quarterly["period"]) == (report["framework"], report["period"])
    ev = evaluate_files(
        quarterly["framework"],
        SAMPLE_OBSERVATIONS,
        SAMPLE_UNITS,
        quarterly["period"],
        calibration=quarterly["calibration"],
    )

    # 1. the quarterly notebook: fairness_summary_markdown(ev, lang, link=…), which runs the audit itself
    seen = {}

    def spy(*args, **kwargs):
        seen["tables"] = run_audit(*args, **kwargs)
        return seen["tables"]

    run_audit = audit_run.run_audit
    mp = pytest.MonkeyPatch()
    mp.setattr(report_audit, "run_audit", spy)
    try:
        paragraph = report_audit.fairness_summary_markdown(ev, quarterly["lang"], link=quarterly["fairness_report"])
    finally:
        mp.undo()

    # 2. the fairness notebook's call, with its parameters cell's defaults
    options = AUDIT_DEFAULTS.resolve(n_boot=report["n_boot"], seed=report["seed"])
    notebook = run_audit(
        ev,
        by=report["by"],
        legitimate=report["legitimate"],
        context=report["context"],
        lang=report["lang"],
        n_boot=options.n_boot,
        rng=options.seed,
    )

    # 3. perfmodel audit with no option beyond the inputs
    out = tmp_path_factory.mktemp("audit")
    code = main(
        [
            "audit",
            "--observations",
            str(SAMPLE_OBSERVATIONS),
            "--units",
            str(SAMPLE_UNITS),
            "--framework",
            quarterly["framework"],
            "--period",
            quarterly["period"],
            "--out",
            str(out),
        ]
    )
    assert code == 0
    (findings_csv,) = out.rglob("findings.csv")
    cli = pd.read_csv(findings_csv, encoding="utf-8-sig", dtype=str)
    return paragraph, seen["tables"], notebook, cli


@THREE_PATHS_GROUP
def test_quarterly_report_fairness_report_and_cli_count_the_same_findings(three_paths):
    paragraph, quarterly, notebook, cli = three_paths
    assert len(quarterly.findings) == len(notebook.findings) == len(cli) > 0
    assert _keys(quarterly.findings) == _keys(notebook.findings) == _keys(cli)
    stated = re.search(r"(\d+) (?:findings need attention|项需要关注)", paragraph)
    assert stated and int(stated.group(1)) == len(cli)


@THREE_PATHS_GROUP
def test_the_three_paths_audit_the_default_attributes_with_the_default_bootstrap(three_paths):
    _, quarterly, notebook, _ = three_paths
    audited = [a for a in AUDIT_DEFAULTS.by["station"]]
    for result in (quarterly, notebook):
        assert list(dict.fromkeys(result.checks["disaggregated"].to_frame()["attribute"])) == audited
        assert result.checks["grade_robustness"].parameters["n_boot"] == AUDIT_DEFAULTS.n_boot


def test_cli_and_notebook_leave_every_default_to_the_library():
    report = _defaults("fairness_audit.ipynb")
    assert all(report[name] is None for name in ("by", "legitimate", "context", "n_boot", "seed"))
    import argparse

    from perfmodel.audit import cli as audit_cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    command = audit_cli.add_parser(sub)
    for option in ("by", "legitimate", "context", "min_n", "n_boot", "seed"):
        assert command.get_default(option) is None, option
    assert f"(default {AUDIT_DEFAULTS.n_boot}; 0 to skip)" in " ".join(command.format_help().split())


# ---------------------------------------------------------------- analyses state their minimum
@pytest.fixture(scope="module")
def six_stations(tmp_path_factory):
    from perfmodel.simulate import generate_sample

    paths = generate_sample(tmp_path_factory.mktemp("six"), stations=6, months=3, rng=20250101, start="2025-04")
    ev = evaluate_files("station_four_dimension", paths["station_observations"], paths["units"], "2025Q2")
    assert len(ev.scores) == 6
    return ev


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_six_stations_skip_every_comparison_and_say_what_they_would_need(six_stations, lang):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = audit_run.run_audit(six_stations, lang=lang, n_boot=20)
    notes = result.notes_frame()
    skipped = notes[notes["status"] == ("skipped" if lang == "en" else "未运行")]
    min_n = AUDIT_DEFAULTS.min_n
    for check in GROUP_CHECKS:
        rows = skipped[skipped["check"].str.startswith(f"{check}: ")]
        assert len(rows), check
        for note in rows["note"]:
            if lang == "en":
                assert note.startswith("Too few data")
                assert f"at least {min_n} units in each of {MIN_GROUPS} groups" in note
            else:
                assert note.startswith("数据太少") and f"至少 {MIN_GROUPS} 个组、每组至少 {min_n} 个单位" in note
        assert check not in result
    (context,) = skipped.loc[skipped["check"] == "context_neutrality", "note"]
    assert str(MIN_CONTEXT_UNITS) in context
    assert ("there are 6" if lang == "en" else "现有 6 个") in context
    assert "context_neutrality" not in result
    assert not set(result.findings["check"]) & {*GROUP_CHECKS, "context_neutrality"}


def test_groups_are_counted_against_the_minimum_at_its_boundary():
    frame = pd.DataFrame({"area_type": ["城区"] * 5 + ["农村"] * 4, "grade": ["优秀"] * 5 + ["合格"] * 3 + [None]})
    assert audit_run._groups_with_enough_units(frame, ["area_type"], 5, graded=False) == 1
    assert audit_run._groups_with_enough_units(frame, ["area_type"], 4, graded=False) == MIN_GROUPS
    assert audit_run._groups_with_enough_units(frame, ["area_type"], 4, graded=True) == 1  # one 农村 unit ungraded
    assert audit_run._groups_with_enough_units(frame, ["missing"], 4, graded=False) is None


@THREE_PATHS_GROUP
def test_every_group_finding_rests_on_at_least_the_minimum_of_units(three_paths):
    _, quarterly, _, _ = three_paths
    for check in ("disaggregated", "adverse_impact", "conditional_parity"):
        table = quarterly.checks[check].to_frame()
        flagged = table[table["flagged"].fillna(False).astype(bool)]
        assert (flagged["n"] >= AUDIT_DEFAULTS.min_n).all(), check
