"""The data-entry template: written by ``perfmodel template``, filled by a script, read back by ``validate``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from perfmodel.cli import main
from perfmodel.framework import load_framework
from perfmodel.io import OBSERVATION_ALIASES, normalise_header, read_table
from perfmodel.simulate import generate_sample
from perfmodel.template import template_columns, template_sheets, write_template

PERIOD = "2025Q2"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("template_sample")
    return generate_sample(
        out, stations=8, months=6, rng=3, start="2025-01", frameworks=["station_four_dimension", "officer_traffic"]
    )


def _fill(path: Path, framework_id: str, seed: int = 1) -> int:
    """Put plausible numbers in every value cell of the data sheet; rates as numerator/denominator."""
    fw = load_framework(framework_id)
    kinds = fw.input_indicators()
    ranges = {ind.id: ind.range for ind in fw.indicators() if ind.range is not None}
    rng = np.random.default_rng(seed)
    book = openpyxl.load_workbook(path)
    data = next(ws for ws in book.worksheets if ws.data_validations.dataValidation)
    header = [cell.value for cell in data[1]]
    column = {OBSERVATION_ALIASES.get(normalise_header(h)): i + 1 for i, h in enumerate(header)}
    filled = 0
    for row in range(2, data.max_row + 1):
        indicator = data.cell(row, column["indicator"]).value
        kind = kinds[indicator]
        low, high = ranges.get(indicator, (0.0, 1.0 if kind == "rate" else 100.0))
        if kind == "rate":
            denominator = int(rng.integers(20, 60))
            share = rng.uniform(max(low, 0.5), min(high, 1.0))
            data.cell(row, column["numerator"]).value = int(round(share * denominator))
            data.cell(row, column["denominator"]).value = denominator
            data.cell(row, column["value"]).value = int(round(share * denominator)) / denominator
        elif kind == "count":
            data.cell(row, column["value"]).value = int(rng.integers(0, 3))
        else:
            data.cell(row, column["value"]).value = round(float(rng.uniform(low + 0.6 * (high - low), high)), 1)
        filled += 1
    book.save(path)
    return filled


@pytest.mark.parametrize("framework_id", ["station_four_dimension", "officer_traffic"])
def test_filled_template_validates_clean_and_scores(sample, tmp_path, capsys, framework_id):
    out = tmp_path / "模板.xlsx"
    assert (
        main(
            [
                "template",
                "--framework",
                framework_id,
                "--out",
                str(out),
                "--units",
                str(sample["units"]),
                "--period",
                PERIOD,
            ]
        )
        == 0
    )
    units = pd.read_csv(sample["units"])
    fw = load_framework(framework_id)
    scored = (units["level"] == fw.level) & ((units["role"] == fw.role) if fw.role else True)
    n_units = int(scored.sum())
    n_inputs = len(load_framework(framework_id).input_indicators())
    assert _fill(out, framework_id) == n_units * 3 * n_inputs  # unit × month × input indicator
    capsys.readouterr()
    assert (
        main(["validate", "--framework", framework_id, "--observations", str(out), "--units", str(sample["units"])])
        == 0
    )
    printed = capsys.readouterr().out
    assert "0 quarantined" in printed.split("observations")[1] and "no problems found" in printed
    scores = tmp_path / "scores.csv"
    assert (
        main(
            [
                "score",
                "--framework",
                framework_id,
                "--observations",
                str(out),
                "--units",
                str(sample["units"]),
                "--period",
                PERIOD,
                "--out",
                str(scores),
            ]
        )
        == 0
    )
    table = pd.read_csv(scores)
    assert len(table) == n_units and table["score"].notna().all()


def test_unfilled_template_reports_every_blank_value_as_missing(sample, tmp_path, capsys):
    out = tmp_path / "blank.xlsx"
    assert (
        main(
            [
                "template",
                "--framework",
                "station_four_dimension",
                "--out",
                str(out),
                "--units",
                str(sample["units"]),
                "--period",
                "2025-05",
                "--lang",
                "en",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "validate",
                "--framework",
                "station_four_dimension",
                "--observations",
                str(out),
                "--units",
                str(sample["units"]),
            ]
        )
        == 1
    )
    quarantine = pd.read_csv(tmp_path / "blank.quarantine.csv")
    expected = 8 * len(load_framework("station_four_dimension").input_indicators())
    assert len(quarantine) == expected and set(quarantine["reason"]) == {"missing_value"}


def test_only_the_data_sheet_is_read_back(tmp_path):
    """Instructions, indicator list and drop-down lists never look like observation tables."""
    for framework_id in ("station_four_dimension", "officer_traffic", "station_quadrant"):
        for lang in ("zh", "en"):
            path = write_template(
                load_framework(framework_id), tmp_path / f"{framework_id}.{lang}.xlsx", lang=lang, period="2025Q1"
            )
            sheets = read_table(path, aliases=OBSERVATION_ALIASES).attrs["sheets"]
            assert [s["read"] for s in sheets] == [False, False, True, False], sheets


def test_template_headers_read_back_as_the_observation_columns():
    fw = load_framework("officer_traffic")
    assert template_columns(fw) == [
        "period",
        "unit_id",
        "indicator",
        "value",
        "numerator",
        "denominator",
        "rater_id",
        "submitted_at",
    ]  # raters: supervisor, peer, citizen ratings
    for lang in ("zh", "en"):
        sheets, _ = template_sheets(fw, lang=lang)
        data = list(sheets.values())[2]
        read = [OBSERVATION_ALIASES.get(normalise_header(h)) for h in data.columns]
        assert [c for c in read if c] == template_columns(fw)


def test_drop_downs_and_number_ranges(sample, tmp_path):
    fw = load_framework("officer_traffic")
    units = pd.read_csv(sample["units"])
    path = write_template(fw, tmp_path / "t.xlsx", units=units, period=PERIOD)
    book = openpyxl.load_workbook(path)
    data, lists = book.worksheets[2], book.worksheets[3]
    assert lists.sheet_state == "hidden" and data.freeze_panes == "A2"
    rules = data.data_validations.dataValidation
    by_formula = {rule.formula1: rule for rule in rules if rule.type == "list"}
    ids = [row[0] for row in lists.iter_rows(min_row=2, values_only=True) if row[0]]
    months = [row[1] for row in lists.iter_rows(min_row=2, values_only=True) if row[1]]
    assert ids == list(fw.input_indicators()) and months == ["2025-04", "2025-05", "2025-06"]
    assert f"'下拉列表'!$A$2:$A${len(ids) + 1}" in by_formula
    # each pre-filled value cell is checked against its indicator's declared range (0–1 for a rate)
    header = [c.value for c in data[1]]
    value_col, ind_col = header.index("数值") + 1, header.index("指标") + 1
    decimal = [rule for rule in rules if rule.type == "decimal"]
    for row in (2, data.max_row):
        cell = f"{openpyxl.utils.get_column_letter(value_col)}{row}"
        matching = [rule for rule in decimal if cell in rule.sqref]
        assert len(matching) == 1
        indicator = data.cell(row, ind_col).value
        declared = {i.id: i.range for i in fw.indicators()}.get(indicator)
        kind = fw.input_indicators()[indicator]
        low, high = declared or ((0.0, 1.0) if kind == "rate" else (0.0, 1e12))
        assert (float(matching[0].formula1), float(matching[0].formula2)) == (low, high)


def test_template_is_byte_identical_across_runs(sample, tmp_path):
    fw = load_framework("station_four_dimension")
    units = pd.read_csv(sample["units"])
    a = write_template(fw, tmp_path / "a.xlsx", units=units, period=PERIOD).read_bytes()
    b = write_template(fw, tmp_path / "b.xlsx", units=units, period=PERIOD).read_bytes()
    assert a == b


def test_template_refuses_to_overwrite_an_input_and_a_non_xlsx_name(sample, tmp_path, capsys):
    assert (
        main(
            [
                "template",
                "--framework",
                "station_four_dimension",
                "--out",
                str(sample["units"]),
                "--units",
                str(sample["units"]),
            ]
        )
        != 0
    )
    assert "units" in capsys.readouterr().err
    assert main(["template", "--framework", "station_four_dimension", "--out", str(tmp_path / "t.csv")]) == 2


@pytest.mark.notebook
def test_filled_template_goes_through_validate_score_and_report(sample, tmp_path, capsys):
    """The whole path of a new user (issue 11): template → filled by a script → validate clean → score → report."""
    framework_id = "station_four_dimension"
    book, units = tmp_path / "模板.xlsx", str(sample["units"])
    inputs = ["--framework", framework_id, "--units", units]
    assert main(["template", *inputs, "--out", str(book), "--period", PERIOD]) == 0
    assert _fill(book, framework_id, seed=2) > 0
    capsys.readouterr()
    assert main(["validate", *inputs, "--observations", str(book)]) == 0
    printed = capsys.readouterr().out
    assert "0 quarantined" in printed.split("observations")[1] and "no problems found" in printed
    scores = tmp_path / "scores.csv"
    assert main(["score", *inputs, "--observations", str(book), "--period", PERIOD, "--out", str(scores)]) == 0
    scored = pd.read_csv(scores)
    assert scored["score"].notna().all() and scored["grade"].notna().all()
    out = tmp_path / "reports"
    assert main(["report", *inputs, "--observations", str(book), "--period", PERIOD, "--out", str(out), "-q"]) == 0
    (html,) = [p for p in out.rglob("report*.html") if p.parent.name != "fairness_audit"]
    text = html.read_text(encoding="utf-8")
    assert "Traceback" not in text and "Warning" not in text
    for unit in scored["name"]:
        assert unit in text  # every unit of the filled template is in the report
