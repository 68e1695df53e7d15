"""Issue 10, input side: nothing silently left out, indicators by name, extremes quarantined.

Every test here failed on the code before issue 10: workbooks were read from
their first sheet only, wide exports and indicator names were refused row by
row, and infinite or absurd numbers reached the scores.
"""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from perfmodel import cli
from perfmodel.evaluation import evaluate_files
from perfmodel.framework import (
    framework_from_dict,
    load_framework,
    read_framework_yaml,
    shipped_frameworks,
)
from perfmodel.io import InputError, normalise_header
from perfmodel.simulate import generate_sample
from perfmodel.validation import indicator_lookup, read_inputs

FRAMEWORK = load_framework("station_four_dimension")
UNITS = "unit_id,name,level\nS01,东城所,station\nS02,西城所,station\nS03,北城所,station\n"


def units_file(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(UNITS, encoding="utf-8")
    return path


def conserved(result):
    assert result.n_input == len(result.data) + len(result.quarantine)
    assert result.quarantine["reason"].notna().all()
    assert result.quarantine["message"].str.len().gt(0).all()
    return result


def workbook(path, sheets):
    """Write ``{sheet name: rows}`` (first row the header) as an .xlsx workbook."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


HEADER = ["period", "unit_id", "indicator", "value"]


# ----------------------------------------------------------------------------- sheets
def test_quarantine_message_names_file_sheet_row_and_column(tmp_path):
    obs = workbook(
        tmp_path / "obs.xlsx",
        {
            "4月": [HEADER, ["2025-04", "S01", "case_compliance_rate", 0.9]],
            "5月": [
                HEADER,
                ["2025-05", "S01", "case_compliance_rate", 0.9],
                ["2025-05", "S02", "case_compliance_rate", "abc"],
            ],
        },
    )
    result, _ = read_inputs(FRAMEWORK, obs, units_file(tmp_path))
    conserved(result)
    assert result.n_input == 3 and len(result.data) == 2
    problem = result.quarantine.iloc[0]
    assert (problem["sheet"], problem["row"], problem["column"]) == ("5月", 3, "value")
    assert problem["message"].startswith("obs.xlsx sheet '5月' row 3, column 'value': 'abc'")
    assert result.data["source_sheet"].tolist() == ["4月", "5月"]
    assert result.notes == ["sheet '4月': 1 rows read", "sheet '5月': 2 rows read, 1 quarantined"]


def test_the_same_row_in_two_sheets_names_both_sheets(tmp_path):
    row = ["2025-04", "S01", "case_compliance_rate"]
    obs = workbook(
        tmp_path / "obs.xlsx",
        {"a": [HEADER, [*row, 0.9], [*row, 0.9]], "b": [HEADER, [*row, 0.8]]},
    )
    result, _ = read_inputs(FRAMEWORK, obs, units_file(tmp_path))
    conserved(result)
    messages = result.quarantine.set_index(["sheet", "row"])["message"]
    assert "exact copy of sheet 'a' row 2" in messages[("a", 3)]
    assert "given in sheet 'a' row 2, sheet 'b' row 2 with different figures" in messages[("b", 2)]


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    """A simulated quarter saved as a workbook with one sheet per month, plus a notes sheet."""
    out = tmp_path_factory.mktemp("monthly")
    paths = generate_sample(out, stations=8, months=3, rng=3, start="2025-04", frameworks=["station_four_dimension"])
    observations = pd.read_csv(paths["station_observations"], dtype=str, keep_default_na=False)
    observations = observations[observations["period"].isin(["2025-04", "2025-05", "2025-06"])]
    book = out / "monthly.xlsx"
    with pd.ExcelWriter(book) as writer:
        for month, part in observations.groupby("period"):
            part.to_excel(writer, sheet_name=month, index=False)
        pd.DataFrame({"说明": ["系统导出"]}).to_excel(writer, sheet_name="说明", index=False)
    counts = observations["period"].value_counts().to_dict()
    return {"book": book, "units": paths["units"], "counts": counts, "n": len(observations)}


def test_cli_validate_reads_every_sheet_and_lists_rows_per_sheet(monthly, capsys):
    # issue 10: only the first sheet was read, and validate said "no problems found"
    code = cli.main(
        [
            "validate",
            "--observations",
            str(monthly["book"]),
            "--units",
            str(monthly["units"]),
            "--framework",
            "station_four_dimension",
            "--quarantine",
            str(monthly["book"].with_name("q.csv")),
        ]
    )
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert f"observations ({monthly['book']}): {monthly['n']} rows read" in out
    for month, n in monthly["counts"].items():
        assert f"sheet '{month}': {n} rows read" in out
    assert "sheet '说明': not read (no header naming a known column in its first 20 rows)" in out


def test_cli_sheet_option_reads_one_sheet_for_validate_and_score(monthly, capsys, tmp_path):
    n = monthly["counts"]["2025-05"]
    inputs = [
        "--observations",
        str(monthly["book"]),
        "--units",
        str(monthly["units"]),
        "--framework",
        "station_four_dimension",
        "--sheet",
        "2025-05",
    ]
    cli.main(["validate", *inputs, "--quarantine", str(tmp_path / "q.csv")])
    assert f"{n} rows read" in capsys.readouterr().out
    assert cli.main(["score", *inputs, "--period", "2025-05", "--out", str(tmp_path / "s.csv")]) == 0
    assert "2025-05" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "s.csv")) > 0
    code = cli.main(["validate", *inputs[:-1], "2025-07"])
    err = capsys.readouterr().err
    assert code == 1 and "has no sheet '2025-07'; its sheets are '2025-04', '2025-05'" in err


# ----------------------------------------------------------------------------- wide exports
def wide_file(tmp_path, header, *rows):
    path = tmp_path / "wide.csv"
    text = "\n".join(",".join(r) for r in (header, *rows)) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def test_wide_export_is_reshaped_with_rows_and_cells_kept(tmp_path):
    path = wide_file(
        tmp_path,
        [
            "月份",
            "单位编号",
            "备注",
            "案件规范率",
            "callback_satisfaction",
            "Discipline and conduct",
        ],
        ["2025-04", "S01", "ok", "0.93", "0.88", "95"],
        ["", "", "", "", "", ""],
        ["2025-04", "S02", "", "93%", "", "97"],
    )
    result, _ = read_inputs(FRAMEWORK, path, units_file(tmp_path))
    conserved(result)
    assert result.n_input == 3 + 1 + 3  # one row per cell; the blank row stays one row
    data = result.data
    assert data[["unit_id", "indicator", "value"]].values.tolist() == [
        ["S01", "case_compliance_rate", 0.93],
        ["S01", "callback_satisfaction", 0.88],
        ["S01", "discipline_score", 95.0],
        ["S02", "discipline_score", 97.0],
    ]
    assert data["source_row"].tolist() == [2, 2, 2, 4]
    assert data["source_cell"].tolist() == [
        "D2 '案件规范率'",
        "E2 'callback_satisfaction'",
        "F2 'Discipline and conduct'",
        "F4 'Discipline and conduct'",
    ]
    assert data["备注"].tolist()[:3] == ["ok"] * 3
    held = result.quarantine.set_index("row")
    assert held.loc[3, "reason"] == "blank_row"
    reasons = result.quarantine.loc[result.quarantine["row"] == 4, ["cell", "reason"]].values.tolist()
    assert reasons == [
        ["D4 '案件规范率'", "non_numeric"],
        ["E4 'callback_satisfaction'", "missing_value"],
    ]
    assert (
        result.quarantine["message"]
        .iloc[1]
        .startswith("wide.csv row 4, column 'value' (cell D4 '案件规范率'): '93%' is not a number")
    )
    assert any(note.startswith("wide export: 3 rows × 3 indicator columns") for note in result.notes)


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (
            ["period", "unit_id", "案件规范率", "case_compliance_rate"],
            "columns '案件规范率' and 'case_compliance_rate' both name indicator 'case_compliance_rate'",
        ),
        (
            ["period", "unit_id", "value", "案件规范率"],
            "has no 'indicator' column but has both a 'value' column and columns named after indicators",
        ),
    ],
)
def test_ambiguous_wide_export_is_refused_with_the_reshape(tmp_path, header, fragment):
    path = wide_file(tmp_path, header, ["2025-04", "S01", "0.9", "0.9"])
    with pytest.raises(InputError) as info:
        read_inputs(FRAMEWORK, path, units_file(tmp_path))
    message = str(info.value)
    assert message.startswith("wide.csv: ") and fragment in message
    assert ".melt(id_vars=" in message and "var_name='indicator', value_name='value')" in message


# ----------------------------------------------------------------------------- indicator names
def test_indicators_are_accepted_by_id_zh_name_en_name_and_full_width(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(
        "period,unit_id,indicator,value\n"
        "2025-04,S01,案件规范率,0.9\n"
        "2025-04,S01, Citizen Call-Back Satisfaction ,0.8\n"
        "2025-04,S01,ｄｉｓｃｉｐｌｉｎｅ＿ｓｃｏｒｅ,95\n"
        "2025-04,S02,case_compliance_rate,0.7\n",
        encoding="utf-8",
    )
    result, _ = read_inputs(FRAMEWORK, path, units_file(tmp_path))
    assert result.ok
    assert result.data["indicator"].tolist() == [
        "case_compliance_rate",
        "callback_satisfaction",
        "discipline_score",
        "case_compliance_rate",
    ]
    assert result.notes[0].startswith("3 rows name their indicator by name or alias")


def test_name_and_id_rows_for_one_key_are_duplicates(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(
        "period,unit_id,indicator,value\n2025-04,S01,案件规范率,0.9\n2025-04,S01,case_compliance_rate,0.8\n",
        encoding="utf-8",
    )
    result, _ = read_inputs(FRAMEWORK, path, units_file(tmp_path))
    assert result.quarantine["reason"].tolist() == ["duplicate_key", "duplicate_key"]


def _with_alias(node: dict, indicator: str, alias: str) -> dict:
    """A copy of a framework tree node with ``alias`` declared on ``indicator``."""
    node = dict(node)
    if node.get("id") == indicator:
        node["aliases"] = [alias]
    if "children" in node:
        node["children"] = [_with_alias(child, indicator, alias) for child in node["children"]]
    return node


def test_framework_aliases_are_accepted(tmp_path):
    raw = read_framework_yaml(shipped_frameworks()["station_four_dimension"])
    raw["tree"] = [_with_alias(node, "case_compliance_rate", "办案规范率") for node in raw["tree"]]
    framework = framework_from_dict(raw)
    assert indicator_lookup(framework)[normalise_header("办案规范率")] == "case_compliance_rate"
    path = tmp_path / "obs.csv"
    path.write_text("period,unit_id,indicator,value\n2025-04,S01,办案规范率,0.9\n", encoding="utf-8")
    result, _ = read_inputs(framework, path, units_file(tmp_path))
    assert result.data["indicator"].tolist() == ["case_compliance_rate"]
    plain, _ = read_inputs(FRAMEWORK, path, units_file(tmp_path))  # without the alias: refused
    assert plain.quarantine["reason"].tolist() == ["unknown_indicator"]


# ----------------------------------------------------------------------------- extremes
def test_count_of_1e308_is_quarantined_and_every_score_stays_finite(tmp_path):
    # issue 10: a count of 1e308 gave a -inf score that was still graded
    paths = generate_sample(
        tmp_path,
        stations=8,
        months=3,
        rng=3,
        start="2025-04",
        frameworks=["station_four_dimension"],
    )
    observations = pd.read_csv(paths["station_observations"], dtype=str, keep_default_na=False)
    target = (observations["indicator"] == "enforcement_errors") & (observations["period"] == "2025-04")
    first = observations.index[target][0]
    observations.loc[first, "value"] = "1e308"
    path = tmp_path / "obs.csv"
    observations.to_csv(path, index=False)
    ev = evaluate_files("station_four_dimension", path, paths["units"], "2025Q2")
    held = ev.quarantine[ev.quarantine["reason"] == "absurd_value"]
    assert held["row"].tolist() == [first + 2]
    assert np.isfinite(ev.scores["score"].dropna().to_numpy(dtype=float)).all()
    assert np.isfinite(ev.scores["deduction"].dropna().to_numpy(dtype=float)).all()
