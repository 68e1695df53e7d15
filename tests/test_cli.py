"""The ``perfmodel`` command line end to end, in-process through :func:`perfmodel.cli.main`.

Inputs are a small simulated sample (20 stations × 6 months, with its list of planted
defects) and tiny hand-made frameworks whose scores are computed by hand below.
Notebooks are not executed here (the notebook tests do that): ``report`` is checked
up to the call of :func:`perfmodel.report.runner.run_notebook`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import openpyxl
import pandas as pd
import pytest
import yaml
from conftest import QUARTERLY_GROUP
from evaluation_builders import TOY, toy_data

from perfmodel import cli, progress
from perfmodel.framework import load_framework, shipped_frameworks
from perfmodel.report import runner
from perfmodel.simulate import generate_sample

FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"


# ----------------------------------------------------------------------------- helpers
def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``perfmodel argv…`` in-process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_text_table(path: Path) -> pd.DataFrame:
    """A CSV exactly as written, every cell as text (blank cells stay blank)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def error_lines(err: str) -> list[str]:
    """stderr lines that are not the optional ``hint:`` line nor progress (``[perfmodel] …``)."""
    return [line for line in err.strip().splitlines() if not line.startswith(("hint:", progress.PREFIX))]


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """20 stations (plus their officers), 2025-01 … 2025-06, with planted defects."""
    out = tmp_path_factory.mktemp("cli_sample")
    return generate_sample(out, stations=20, months=6, rng=11, start="2025-01", frameworks=[FRAMEWORK])


@pytest.fixture(scope="session")
def clean_observations(sample: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's observations without the rows listed in ``defects.csv``."""
    rows = read_text_table(sample["station_observations"])
    defects = pd.read_csv(sample["defects"])
    assert len(defects) > 0, "the sample should contain planted defects"
    path = tmp_path_factory.mktemp("clean") / "observations.csv"
    rows.drop(index=defects["row"].to_numpy()).to_csv(path, index=False)
    return path


def inputs(observations: Path, units: Path, framework: object = FRAMEWORK) -> list[object]:
    return ["--observations", observations, "--units", units, "--framework", framework, "--period", PERIOD]


def planted_row(clean: Path, folder: Path, column: str, value: str) -> tuple[Path, int]:
    """A copy of the clean observations with one cell replaced; returns it and its spreadsheet row."""
    rows = read_text_table(clean)
    position = int(rows.index[rows["period"] == "2025-05"][3])
    rows.loc[position, column] = value
    path = folder / "observations_bad.csv"
    rows.to_csv(path, index=False)
    return path, position + 2  # header is row 1, first data row is row 2


# ----------------------------------------------------------------------------- validate
def test_validate_clean_input_exits_0_and_writes_no_quarantine(sample, clean_observations, capsys):
    code, out, _ = run(capsys, "validate", *inputs(clean_observations, sample["units"])[:4], "--framework", FRAMEWORK)
    assert code == 0
    assert "no problems found" in out
    assert not list(clean_observations.parent.glob("*.quarantine.csv"))


def test_validate_bad_rows_exit_1_and_every_row_is_used_or_quarantined(sample, tmp_path, capsys):
    observations = tmp_path / "station_observations.csv.gz"
    observations.write_bytes(sample["station_observations"].read_bytes())
    code, out, _ = run(
        capsys, "validate", "--observations", observations, "--units", sample["units"], "--framework", FRAMEWORK
    )
    assert code == 1
    quarantine_file = tmp_path / "station_observations.quarantine.csv"
    assert quarantine_file.exists()
    quarantine = pd.read_csv(quarantine_file, encoding="utf-8-sig")
    defects = pd.read_csv(sample["defects"])
    # defects.csv gives 0-based row positions; the quarantine gives spreadsheet rows (header = 1)
    assert sorted(quarantine["row"]) == sorted(defects["row"] + 2)
    n_input = len(pd.read_csv(sample["station_observations"]))
    line = re.search(r"observations \(.*\): (\d+) rows read, (\d+) accepted, (\d+) quarantined", out)
    assert line is not None
    read, used, held = map(int, line.groups())
    assert read == n_input and held == len(quarantine) and used + held == n_input
    assert f"quarantine written to {quarantine_file}" in out


def test_validate_quarantine_option_collects_units_and_observations(sample, tmp_path, capsys):
    units = read_text_table(sample["units"])
    units.loc[4, "level"] = "县局"  # not a level
    units_path = tmp_path / "units.csv"
    units.to_csv(units_path, index=False)
    target = tmp_path / "all.quarantine.csv"
    code, out, _ = run(
        capsys,
        "validate",
        "--observations",
        sample["station_observations"],
        "--units",
        units_path,
        "--framework",
        FRAMEWORK,
        "--quarantine",
        target,
    )
    assert code == 1
    quarantine = pd.read_csv(target, encoding="utf-8-sig")
    assert set(quarantine["file"]) == {str(units_path), str(sample["station_observations"])}
    held_units = quarantine[quarantine["file"] == str(units_path)].set_index("row")
    station = units.loc[4, "unit_id"]
    assert held_units.loc[6, ["column", "reason"]].tolist() == ["level", "bad_level"]
    # the station's officers lose their parent, its observations their unit
    officers = held_units.drop(index=6)
    assert set(officers["reason"]) == {"unknown_parent"} and set(officers["parent_id"]) == {station}
    assert len(officers) == (units["parent_id"] == station).sum()
    held_obs = quarantine[quarantine["file"] == str(sample["station_observations"])]
    n_station_rows = (read_text_table(sample["station_observations"])["unit_id"] == station).sum()
    assert (held_obs["reason"] == "unknown_unit").sum() == n_station_rows > 0
    assert "units.csv row 6, column 'level'" in out


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [("indicator", "case_complaince_rate", "unknown_indicator"), ("value", "九十", "non_numeric")],
)
def test_bad_cell_is_named_by_file_row_and_column(sample, clean_observations, tmp_path, capsys, column, value, reason):
    bad, row = planted_row(clean_observations, tmp_path, column, value)
    where = f"observations_bad.csv row {row}, column '{column}'"

    code, out, _ = run(capsys, "validate", *inputs(bad, sample["units"])[:4], "--framework", FRAMEWORK)
    assert code == 1
    assert re.search(rf"^\s+{reason}\s+1\s", out, flags=re.MULTILINE)
    assert f"e.g. {where}" in out

    scores = tmp_path / "scores.csv"
    code, out, err = run(capsys, "score", *inputs(bad, sample["units"]), "--out", scores, "--strict")
    assert code == 1 and scores.exists()
    (warning,) = error_lines(err)
    assert warning.startswith("warning: 1 input rows were quarantined") and where in warning
    quarantine = pd.read_csv(tmp_path / "scores.quarantine.csv", encoding="utf-8-sig")
    assert quarantine[["row", "column", "reason"]].values.tolist() == [[row, column, reason]]

    code, _, _ = run(capsys, "score", *inputs(bad, sample["units"]), "--out", scores)
    assert code == 0  # without --strict the rest is scored


@pytest.mark.parametrize(
    ("kind", "drop", "named"),
    [("observations", ["value", "numerator", "denominator"], "column 'value'"), ("units", ["level"], "column 'level'")],
)
def test_missing_column_is_one_error_line_naming_file_and_column(
    sample, clean_observations, tmp_path, capsys, kind, drop, named
):
    source = clean_observations if kind == "observations" else sample["units"]
    broken = tmp_path / f"{kind}_broken.csv"
    read_text_table(source).drop(columns=drop).to_csv(broken, index=False)
    files = {"observations": clean_observations, "units": sample["units"], kind: broken}
    code, _, err = run(
        capsys, "score", *inputs(files["observations"], files["units"]), "--out", tmp_path / "scores.csv"
    )
    assert code == 1 and "Traceback" not in err
    (line,) = error_lines(err)
    assert line.startswith("perfmodel: error:")
    assert f"{kind}_broken.csv row 2, {named}" in line and "accepted headers" in line
    assert not (tmp_path / "scores.csv").exists()


def test_unreadable_inputs_and_debug(sample, tmp_path, capsys):
    code, _, err = run(capsys, "score", *inputs(tmp_path / "nope.csv", sample["units"]), "--out", tmp_path / "s.csv")
    (line,) = error_lines(err)
    assert code == 1 and "nope.csv: file not found" in line
    code, _, err = run(
        capsys,
        "score",
        *inputs(sample["station_observations"], sample["units"], "no_such_fw"),
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 1 and len(error_lines(err)) == 1 and "no_such_fw" in err
    with pytest.raises(ValueError, match="nope.csv"):
        cli.main(
            [
                "--debug",
                "score",
                *map(str, inputs(tmp_path / "nope.csv", sample["units"])),
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )


# ----------------------------------------------------------------------------- score
def write_toy(folder: Path) -> tuple[Path, Path, Path]:
    """The hand-computed toy of test_evaluation as YAML and CSV files."""
    folder.mkdir(parents=True, exist_ok=True)
    units, obs = toy_data()
    paths = folder / "toy.yaml", folder / "toy_obs.csv", folder / "toy_units.csv"
    paths[0].write_text(yaml.safe_dump(TOY, allow_unicode=True), encoding="utf-8")
    obs.drop(columns="late").to_csv(paths[1], index=False)
    units.to_csv(paths[2], index=False)
    return paths


def test_score_toy_framework_matches_hand_computation(tmp_path, capsys):
    framework, observations, units = write_toy(tmp_path / "in")
    out = tmp_path / "scores.csv"
    code, printed, err = run(capsys, "--quiet", "score", *inputs(observations, units, framework), "--out", out)
    assert code == 0 and err == ""  # --quiet: no progress, and nothing else either
    # rate r (rolled from numerators/denominators): A 27/30 = .9, B 7/10 = .7, C 15/30 = .5
    #   -> min-max 100, 50, 0
    # duration d (lower is better): A 2, B 4, C 3 -> 100, 0, 50;  d1 = (r + d) / 2: 100, 25, 25
    # rating s (mean of two raters): A 85, B 70, C 60 -> 100, 40, 0 = d2
    # score = 0.6 d1 + 0.4 d2: A 100, B 15 + 16 = 31, C 15 + 0 = 15
    scores = pd.read_csv(out, encoding="utf-8-sig").set_index("unit_id").loc[["A", "B", "C"]]
    assert scores["score"].tolist() == pytest.approx([100.0, 31.0, 15.0])
    assert scores["d1"].tolist() == pytest.approx([100.0, 25.0, 25.0])
    assert scores["d2"].tolist() == pytest.approx([100.0, 40.0, 0.0])
    assert scores["rank"].tolist() == [1, 2, 3]
    assert scores["grade"].tolist() == ["优秀", "不合格", "不合格"]  # cut-offs 85 / 75 / 60
    assert "toy 2025Q2: 3 of 3 units scored from 36 observations" in printed
    assert "Excellent 1" in printed and "Fail 2" in printed  # grades in the message language (en here)

    geometric = tmp_path / "geo.csv"
    assert (
        run(capsys, "score", *inputs(observations, units, framework), "--out", geometric, "--aggregation", "geometric")[
            0
        ]
        == 0
    )
    # geometric mean with a floor of 1 for zeros: B's d1 = sqrt(50 * 1)
    assert pd.read_csv(geometric).set_index("unit_id").loc["B", "d1"] == pytest.approx(50.0**0.5)


CONTEXT_TOY = {
    "id": "context_toy",
    "name": {"zh": "情境测试", "en": "Context toy"},
    "level": "station",
    "normalisation": {"method": "minmax", "range": [0, 100]},
    "grading": {"method": "cutoffs", "cutoffs": {"优秀": 85, "良好": 75, "合格": 60}},
    "calibration": {"covariates": ["area_type"]},
    "tree": [
        {
            "id": "dim",
            "name": {"zh": "维度", "en": "Dimension"},
            "weight": 1.0,
            "children": [
                {"id": "s", "name": {"zh": "评分", "en": "Rating"}, "weight": 1.0, "kind": "score", "range": [0, 200]},
            ],
        }
    ],
}
PERFORMANCE = [0, 4, 8, 12, 16, 20]
CONTEXT_EFFECT = {"城区核心": 62, "农村": 50}  # same performance spread; urban stations get +12


@pytest.fixture(scope="module")
def context_toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Six urban and six rural stations with identical performance and a planted context effect."""
    folder = tmp_path_factory.mktemp("context_toy")
    units, rows = [], []
    for area, base in CONTEXT_EFFECT.items():
        for k, perf in enumerate(PERFORMANCE):
            unit = f"{'U' if area == '城区核心' else 'R'}{k}"
            units.append(
                {
                    "unit_id": unit,
                    "name": unit,
                    "level": "station",
                    "area_type": area,
                    "station_class": "一类" if k % 2 else "二类",
                }
            )
            rows += [
                {"period": m, "unit_id": unit, "indicator": "s", "value": base + perf}
                for m in ("2025-04", "2025-05", "2025-06")
            ]
    paths = folder / "context_toy.yaml", folder / "obs.csv", folder / "units.csv"
    paths[0].write_text(yaml.safe_dump(CONTEXT_TOY, allow_unicode=True), encoding="utf-8")
    pd.DataFrame(rows).to_csv(paths[1], index=False)
    pd.DataFrame(units).to_csv(paths[2], index=False)
    return paths


def _scores(capsys, tmp_path: Path, files: tuple[Path, Path, Path], *options: str) -> tuple[pd.DataFrame, str]:
    framework, observations, units = files
    out = tmp_path / f"scores{len(list(tmp_path.iterdir()))}.csv"
    code, printed, _ = run(capsys, "score", *inputs(observations, units, framework), "--out", out, *options)
    assert code == 0
    return pd.read_csv(out, encoding="utf-8-sig").set_index("unit_id"), printed


def test_calibration_removes_the_planted_context_effect(context_toy, tmp_path, capsys):
    units = [f"{p}{k}" for p in "UR" for k in range(len(PERFORMANCE))]
    raw, printed = _scores(capsys, tmp_path, context_toy, "--calibration", "none")
    assert not re.search("^calibration", printed, flags=re.MULTILINE)
    # raw values: urban 62…82, rural 50…70 -> min-max over [50, 82]
    expected_raw = [(base + p - 50) / 32 * 100 for base in CONTEXT_EFFECT.values() for p in PERFORMANCE]
    assert raw.loc[units, "score"].tolist() == pytest.approx(expected_raw)

    adjusted, printed = _scores(capsys, tmp_path, context_toy, "--calibration", "casemix")
    assert "calibration casemix: 1 indicator(s) case-mix adjusted" in printed
    # gaussian model on area_type: expected = the area's mean (urban 72, rural 60), overall mean 66;
    # adjusted = value - expected + 66 = 56 + performance in both areas -> min-max over [56, 76]
    expected = [p / 20 * 100 for p in PERFORMANCE] * 2
    assert adjusted.loc[units, "score"].tolist() == pytest.approx(expected)
    assert adjusted.loc["U3", "score"] == pytest.approx(adjusted.loc["R3", "score"])
    assert raw.loc["U3", "score"] > raw.loc["R3", "score"]

    # full = case-mix + shrinkage of rates + rater calibration; here: no rates, no raters
    full, printed = _scores(capsys, tmp_path, context_toy, "--calibration", "full")
    assert "calibration full:" in printed
    assert full.loc[units, "score"].tolist() == pytest.approx(expected)


def test_calibration_combines_with_peer_groups(context_toy, tmp_path, capsys):
    pooled, _ = _scores(capsys, tmp_path, context_toy, "--calibration", "casemix", "--peer-group", "none")
    grouped, _ = _scores(capsys, tmp_path, context_toy, "--calibration", "casemix", "--peer-group", "station_class")
    assert set(pooled["peer_group"]) == {"全部"}
    assert (pooled["rank"] == pooled["rank_overall"]).all()
    units = pd.read_csv(context_toy[2]).set_index("unit_id")
    assert grouped["peer_group"].to_dict() == units.loc[grouped.index, "station_class"].to_dict()
    # peer groups change ranks, not the calibrated scores: class 一类 holds k = 1, 3, 5 (scores 20, 60, 100)
    assert grouped["score"].to_dict() == pytest.approx(pooled.loc[grouped.index, "score"].to_dict())
    first = grouped[grouped["peer_group"] == "一类"]
    assert first.loc[["U5", "R5", "U3", "R3", "U1", "R1"], "rank"].tolist() == [1, 1, 3, 3, 5, 5]
    assert pooled.loc["U5", "rank"] == 1 and pooled.loc["U4", "rank"] == 3


def test_calibration_on_the_sample_changes_scores_and_keeps_peer_choice(sample, tmp_path, capsys):
    files = (FRAMEWORK, sample["station_observations"], sample["units"])
    raw, _ = _scores(capsys, tmp_path, files, "--peer-group", "none")
    full, printed = _scores(capsys, tmp_path, files, "--peer-group", "none", "--calibration", "full")
    assert re.search(r"calibration full: \d+ indicator\(s\) case-mix adjusted", printed)
    assert set(full["peer_group"]) == {"全部"} and sorted(full.index) == sorted(raw.index)
    assert (full["score"] - raw.loc[full.index, "score"]).abs().max() > 0.5


# ----------------------------------------------------------------------------- frameworks
def test_frameworks_list_and_show(capsys):
    code, out, _ = run(capsys, "frameworks")
    assert code == 0
    listed = [line.split()[0] for line in out.strip().splitlines()]
    assert listed == list(shipped_frameworks())
    for fid in listed:
        assert load_framework(fid).name.zh in out

    code, out, _ = run(capsys, "frameworks", "show", FRAMEWORK)
    assert code == 0
    fw = load_framework(FRAMEWORK)
    assert out.startswith(f"{fw.id}: {fw.name.zh}")
    shares = {}
    for ind in fw.indicators():
        match = re.search(rf"^\s*{ind.id}\s.*\(total ([\d.]+)%\)", out, flags=re.MULTILINE)
        assert match, ind.id
        shares[ind.id] = float(match.group(1))
    assert sum(shares.values()) == pytest.approx(100.0, abs=0.05 * len(shares))
    # a threshold only where the framework has one; no "nan" for indicators without
    assert "nan" not in out
    with_threshold = [i.id for i in fw.indicators() if i.threshold is not None]
    assert [line.split()[0] for line in out.splitlines() if "threshold" in line] == with_threshold


def test_frameworks_show_errors(capsys):
    code, _, err = run(capsys, "frameworks", "show")
    assert code == cli.EXIT_USAGE and "needs a framework id" in err
    code, _, err = run(capsys, "frameworks", "show", "no_such_framework")
    assert code == 1 and len(error_lines(err)) == 1 and "no_such_framework" in err


# ----------------------------------------------------------------------------- audit and lab
def test_audit_writes_its_tables(sample, tmp_path, capsys):
    out = tmp_path / "audit"
    code, printed, _ = run(
        capsys,
        "audit",
        *inputs(sample["station_observations"], sample["units"]),
        "--by",
        "area_type",
        "--n-boot",
        "0",
        "--out",
        out,
    )
    assert code == 0
    folder = out / FRAMEWORK / PERIOD / "zh"
    for name in ("findings", "disaggregated", "adverse_impact", "weight_policy", "effective_weights"):
        assert (folder / f"{name}.csv").exists(), name
    assert (folder / "audit.xlsx").exists()
    assert f"audit of {FRAMEWORK} {PERIOD}: 20 units" in printed

    scores_path = tmp_path / "scores.csv"
    assert run(capsys, "score", *inputs(sample["station_observations"], sample["units"]), "--out", scores_path)[0] == 0
    scores = pd.read_csv(scores_path, encoding="utf-8-sig")
    area = pd.read_csv(sample["units"]).set_index("unit_id")["area_type"]
    means = scores.groupby(scores["unit_id"].map(area))["score"].mean()
    groups = pd.read_csv(folder / "disaggregated.csv", encoding="utf-8-sig")
    counts = scores["unit_id"].map(area).value_counts()
    shown = groups[groups["role"] != "suppressed"]
    assert shown.set_index("group")["n"].to_dict() == {g: counts[g] for g in shown["group"]}
    unseen = len(scores) - shown["n"].sum()  # the suppressed areas together: none or at least min_n = 5
    assert unseen == counts.drop(shown["group"]).sum() and (unseen == 0 or unseen >= 5)
    reference = groups[groups["role"] == "reference"].iloc[0]
    assert reference["estimate"] == pytest.approx(means[reference["group"]])


def test_audit_errors_are_one_line(sample, clean_observations, tmp_path, capsys):
    files = inputs(sample["station_observations"], sample["units"])
    code, _, err = run(capsys, "audit", *files, "--reference", "area_type", "--out", tmp_path)
    assert code == 1 and "Traceback" not in err
    (line,) = error_lines(err)
    assert line.startswith("perfmodel: error: --reference must look like attribute=group")

    broken = tmp_path / "no_value.csv"
    read_text_table(clean_observations).drop(columns=["value", "numerator"]).to_csv(broken, index=False)
    code, _, err = run(capsys, "audit", *inputs(broken, sample["units"]), "--n-boot", "0", "--out", tmp_path)
    assert code == 1 and "Traceback" not in err
    (line,) = error_lines(err)
    assert "no_value.csv row 2, column 'value'" in line
    assert not (tmp_path / FRAMEWORK).exists()

    code, _, err = run(capsys, "audit", *files, "--by", "area_type+stationclass", "--out", tmp_path)
    assert code == 1
    (line,) = error_lines(err)
    assert "--by names 'stationclass', not a column of the units table" in line
    assert not (tmp_path / FRAMEWORK).exists()


def test_audit_says_which_checks_did_not_run(sample, tmp_path, capsys):
    files = inputs(sample["station_observations"], sample["units"])
    code, _, err = run(capsys, "audit", *files, "--by", "area_type", "--n-boot", "0", "--out", tmp_path)
    assert code == 0
    assert "not run: [grade_robustness]" in err


def test_lab_sensitivity_and_redundancy_write_tables(sample, tmp_path, capsys):
    files = inputs(sample["station_observations"], sample["units"])
    code, printed, _ = run(
        capsys, "lab", "sensitivity", *files, "--out", tmp_path / "s", "--draws", "12", "--seed", "3", "--no-progress"
    )
    assert code == 0 and "12 replicates, 20 units" in printed
    by_unit = pd.read_csv(tmp_path / "s" / "by_unit.csv", encoding="utf-8-sig").set_index("unit_id")
    assert (tmp_path / "s" / "replicates.csv").exists() and (tmp_path / "s" / "tables.xlsx").exists()
    book = openpyxl.load_workbook(tmp_path / "s" / "tables.xlsx")  # lab workbooks: frozen header, filters
    assert all(ws.freeze_panes == "A2" and ws.auto_filter.ref for ws in book.worksheets)
    assert ((by_unit["rank_p05"] <= by_unit["median_rank"]) & (by_unit["median_rank"] <= by_unit["rank_p95"])).all()
    grade_columns = [c for c in by_unit.columns if c.startswith("P(")]
    assert by_unit[grade_columns].sum(axis=1).tolist() == pytest.approx([1.0] * len(by_unit))
    scores_path = tmp_path / "scores.csv"
    assert run(capsys, "score", *files, "--out", scores_path)[0] == 0
    scores = pd.read_csv(scores_path, encoding="utf-8-sig").set_index("unit_id")
    assert by_unit["stated_score"].to_dict() == pytest.approx(scores.loc[by_unit.index, "score"].to_dict())

    code, printed, _ = run(capsys, "lab", "redundancy", *files, "--out", tmp_path / "r")
    assert code == 0 and "indicators" in printed
    for name in ("correlations", "alpha", "vif", "merges", "weights"):
        assert (tmp_path / "r" / f"{name}.csv").exists(), name
    weights = pd.read_csv(tmp_path / "r" / "weights.csv", encoding="utf-8-sig")
    assert weights.drop(columns="indicator").sum().tolist() == pytest.approx([1.0] * (weights.shape[1] - 1))


def test_lab_error_is_one_line(sample, tmp_path, capsys):
    code, _, err = run(
        capsys,
        "lab",
        "redundancy",
        *inputs(sample["station_observations"], sample["units"], "no_such_framework"),
        "--out",
        tmp_path,
    )
    assert code == 1 and "Traceback" not in err
    (line,) = error_lines(err)
    assert line.startswith("perfmodel: error:") and "no_such_framework" in line


# ----------------------------------------------------------------------------- report
def make_notebook(path: Path, *, calibration: bool) -> Path:
    """A notebook with the parameters cell of the shipped reports (optionally ``calibration``)."""
    source = "\n".join(
        [
            'observations = "obs.csv"',
            'units = "units.csv"',
            f'framework = "{FRAMEWORK}"',
            f'period = "{PERIOD}"',
            'lang = "zh"',
            'output_dir = "."',
            "peer_group = None",
            *(['calibration = "none"'] if calibration else []),
        ]
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(period)"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebook_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Record run_notebook calls instead of executing; parameters are still validated."""
    calls: list[dict] = []

    def fake_run(notebook, out_dir, parameters, **options):
        runner.validate_parameters(runner.notebook_parameters(notebook), parameters)
        calls.append(
            {"notebook": Path(notebook), "out_dir": Path(out_dir), "parameters": dict(parameters), "options": options}
        )
        return SimpleNamespace(html=Path(out_dir) / runner.HTML_NAME, pdf=None, docx=None)

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    return calls


def staged_in(run_folder: Path, final: Path) -> bool:
    """Whether a notebook ran in the temporary sibling folder that is swapped in as ``final``."""
    return run_folder.parent == final.parent and run_folder.name.startswith(f".{final.name}.tmp-")


def _report(capsys, sample, out: Path, *options: object) -> tuple[int, str, str]:
    return run(
        capsys,
        "report",
        "--period",
        PERIOD,
        "--observations",
        sample["station_observations"],
        "--units",
        sample["units"],
        "--out",
        out,
        *options,
    )


def test_report_format_option_asks_for_pdf_and_word_with_a_running_header(sample, tmp_path, capsys, notebook_calls):
    notebook = make_notebook(tmp_path / "nb" / f"{cli.QUARTERLY_NOTEBOOK}.ipynb", calibration=False)
    code, _, _ = _report(capsys, sample, tmp_path / "r", "--notebook", notebook, "--format", "docx,pdf", "--lang", "en")
    assert code == 0
    options = notebook_calls.pop()["options"]
    assert options["formats"] == ("html", "pdf", "docx")
    assert options["running_header"] == f"Police-station four-dimension assessment · {PERIOD}"
    code, _, err = _report(capsys, sample, tmp_path / "r2", "--notebook", notebook, "--format", "html,odt")
    assert code != 0 and "'odt'" in err and "html, pdf, docx" in err
    assert not notebook_calls, "a wrong format stops before any notebook runs"


def test_report_folders_and_calibration_parameter(sample, tmp_path, capsys, notebook_calls):
    out = tmp_path / "reports"
    quarterly = make_notebook(tmp_path / "nb" / f"{cli.QUARTERLY_NOTEBOOK}.ipynb", calibration=False)
    extra = make_notebook(tmp_path / "nb" / "station_extra.ipynb", calibration=True)

    code, printed, _ = _report(capsys, sample, out, "--notebook", quarterly, "--peer-group", "none")
    assert code == 0
    call = notebook_calls.pop()
    final = (out / FRAMEWORK / PERIOD / "zh").resolve()
    assert staged_in(call["out_dir"], final)
    assert call["parameters"]["peer_group"] == "none" and "calibration" not in call["parameters"]
    assert call["parameters"]["output_dir"] == "."  # the kernel runs in the (staging) folder
    assert f"report written to {final / 'report.html'}" in printed
    assert final.is_dir() and not call["out_dir"].exists()  # swapped into place

    code, _, _ = _report(
        capsys, sample, out, "--notebook", extra, "--calibration", "casemix", "--peer-group", "station_type"
    )
    assert code == 0
    call = notebook_calls.pop()
    assert staged_in(call["out_dir"], (out / FRAMEWORK / PERIOD / "zh" / "station_extra").resolve())
    assert call["parameters"]["calibration"] == "casemix" and call["parameters"]["peer_group"] == "station_type"

    # a notebook without the parameter: not run, the user is told what it accepts
    code, _, err = _report(capsys, sample, out, "--notebook", quarterly, "--calibration", "full")
    assert code == cli.EXIT_USAGE and notebook_calls == []
    (line,) = error_lines(err)
    assert "has no parameter 'calibration'" in line and "accepts: observations, units" in line


def test_other_shipped_notebooks_go_to_a_subfolder(sample, tmp_path, capsys, notebook_calls):
    names = cli.available_notebooks()
    other = next(n for n in names if n != cli.QUARTERLY_NOTEBOOK)
    assert _report(capsys, sample, tmp_path, "--notebook", other)[0] == 0
    assert staged_in(notebook_calls[-1]["out_dir"], (tmp_path / FRAMEWORK / PERIOD / "zh" / other).resolve())


def test_unknown_notebook_lists_available_names(sample, tmp_path, capsys, notebook_calls, repo_root):
    code, _, err = _report(capsys, sample, tmp_path, "--notebook", "no_such_report")
    assert code == 1 and notebook_calls == []
    (line,) = error_lines(err)
    shipped = sorted(p.stem for p in (repo_root / "notebooks").glob("*.ipynb"))
    assert shipped and f"available: {', '.join(shipped)}" in line


# ----------------------------------------------------------------------------- CLI that behaves (issue 11)
def test_version_prints_package_version(capsys):
    import perfmodel

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"perfmodel {perfmodel.__version__}\n"


def _actions(parser: argparse.ArgumentParser, path: str):
    """Every (command path, action) of a parser and, recursively, of its sub-commands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _actions(child, f"{path} {name}")
        else:
            yield path, action


def test_every_option_of_every_command_has_help_text():
    seen = list(_actions(cli.build_parser(), "perfmodel"))
    commands = {path for path, _ in seen}
    assert {"perfmodel report", "perfmodel audit", "perfmodel lab sensitivity", "perfmodel lab gaming"} <= commands
    lacking = [
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, action in seen
        if not (action.help or "").strip()
    ]
    assert lacking == []


def test_report_accepts_a_relative_framework_file(sample, tmp_path, capsys, notebook_calls, monkeypatch):
    """``report --framework my.yaml`` from the file's folder, as ``score`` accepts it (issue 11)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "my.yaml").write_bytes(shipped_frameworks()[FRAMEWORK].read_bytes())
    monkeypatch.chdir(work)
    code, _, err = run(
        capsys, "score", *inputs(sample["station_observations"], sample["units"], "my.yaml"), "--out", "scores.csv"
    )
    assert code == 0, err
    code, printed, err = run(
        capsys,
        "report",
        "--period",
        PERIOD,
        "--framework",
        "my.yaml",
        "--observations",
        sample["station_observations"],
        "--units",
        sample["units"],
        "--out",
        "reports",
    )
    assert code == 0, err
    (call,) = notebook_calls
    given = call["parameters"]["framework"]
    assert not Path(given).is_absolute()  # no machine layout in the outputs
    # the kernel runs in the staging folder: the path must lead from there to the user's file
    assert Path(os.path.normpath(call["out_dir"] / given)) == (work / "my.yaml").resolve()
    assert f"report written to {(work / 'reports' / FRAMEWORK / PERIOD / 'zh').resolve()}" in printed


def test_observations_of_another_framework_stop_with_one_line(sample, tmp_path, capsys, notebook_calls):
    """A wrong framework/data combination stops before any work, naming file and frameworks."""
    for command in (["score", "--out", tmp_path / "s.csv"], ["report", "--out", tmp_path / "r"]):
        code, _, err = run(
            capsys,
            *command,
            "--period",
            PERIOD,
            "--framework",
            "station_quadrant",
            "--observations",
            sample["station_observations"],
            "--units",
            sample["units"],
        )
        assert code == 1
        (line,) = error_lines(err)
        assert f"observations file {sample['station_observations']} does not fit framework 'station_quadrant'" in line
        assert "holds 3 of the framework's 15 indicators" in line  # three ids are shared by both
        assert f"its indicators are those of framework '{FRAMEWORK}'" in line
    assert notebook_calls == [] and not (tmp_path / "s.csv").exists()


def test_readme_example_with_another_framework_scores_its_own_sample(repo_root, tmp_path, capsys):
    """``make report PERIOD=2025Q3 FRAMEWORK=station_quadrant`` feeds the quadrant's sample file."""
    observations = Path("data_samples") / "observations" / "station_quadrant.csv.gz"
    for framework, fed in (
        ("station_quadrant", observations),  # else the default sample:
        ("my_framework.yaml", Path("data_samples") / "station_observations.csv.gz"),
    ):
        planned = subprocess.run(
            ["make", "-n", "report", "PERIOD=2025Q3", f"FRAMEWORK={framework}"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"--framework {framework} --observations {fed} " in planned
        # one command writes the quarterly report and the fairness report it links to
        assert planned.count(f"--observations {fed} ") == 1 and "--with fairness_audit" in planned
    observations = repo_root / observations
    out = tmp_path / "scores.csv"
    code, printed, err = run(
        capsys,
        "score",
        "--period",
        "2025Q3",
        "--framework",
        "station_quadrant",
        "--observations",
        observations,
        "--units",
        repo_root / "data_samples" / "units.csv",
        "--out",
        out,
    )
    assert code == 0, err
    assert "station_quadrant 2025Q3: 120 of 120 units scored" in printed
    scores = pd.read_csv(out)
    assert len(scores) == 120 and scores["score"].notna().all()


# ---------------------------------------------------------------- -p, --with and progress (issue 11)
def test_score_shows_its_steps_on_stderr_and_keeps_stdout_clean(tmp_path, capsys):
    framework, observations, units = write_toy(tmp_path / "in")
    code, printed, err = run(
        capsys, "score", *inputs(observations, units, framework), "--out", tmp_path / "s.csv", "--lang", "en"
    )
    assert code == 0
    steps = [line for line in err.splitlines() if line.startswith(progress.PREFIX)]
    expected = ["reading units", "reading observations", "validating units", "validating observations", "scoring"]
    assert [next(s for s in expected if line[len(progress.PREFIX) :].startswith(s)) for line in steps] == expected
    assert progress.PREFIX not in printed  # stdout stays machine-readable


def test_report_p_sets_notebook_parameters_parsed_to_their_declared_type(sample, tmp_path, capsys, notebook_calls):
    code, _, err = _report(
        capsys, sample, tmp_path / "r", "--notebook", "fairness_audit", "-p", "n_boot", "7", "-p", "by", "['district']"
    )
    assert code == 0, err
    parameters = notebook_calls.pop()["parameters"]
    assert parameters["n_boot"] == 7 and parameters["by"] == ["district"]  # None defaults take literals
    assert "seed" not in parameters  # not given: the notebook's default applies


@pytest.mark.parametrize(
    ("declared", "text", "expected"),
    [
        ("x = 1", "-3", -3),
        ("x = 0.5", "2", 2.0),
        ("x = 0.5", "1e-3", 0.001),
        ("x = True", "no", False),
        ("x = False", "TRUE", True),
        ("x = 'a'", "[1, 2]", "[1, 2]"),  # a str parameter takes the text as it is
        ("x = []", "['a', 'b']", ["a", "b"]),
        ("x = {}", "{'k': 1}", {"k": 1}),
        ("x = None", "station", "station"),
        ("x = None", "None", None),
    ],
)
def test_parameter_text_becomes_a_value_of_the_declared_type(tmp_path, declared, text, expected):
    specs = _specs(tmp_path, declared)
    value = runner.parse_parameter_value(specs["x"], text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("declared", "text", "expected"),
    [("x = 1", "2.5", "an int"), ("x = 0.5", "nan", "a float"), ("x = True", "maybe", "true or false")],
)
def test_parameter_text_of_the_wrong_type_is_refused_naming_it(tmp_path, declared, text, expected):
    specs = _specs(tmp_path, declared)
    with pytest.raises(runner.ReportParameterError) as caught:
        runner.parse_parameter_value(specs["x"], text)
    message = str(caught.value)
    assert f"-p x {text!r}" in message and expected in message and "\n" not in message


def _specs(tmp_path: Path, source: str) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
    path = tmp_path / "p.ipynb"
    nbformat.write(nb, path)
    return runner.notebook_parameters(path)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("-p", "colour", "red"), "has no parameter 'colour'; its parameters: by, legitimate, context, n_boot, seed"),
        (("-p", "period", "2025Q3"), "parameter 'period' is set by --period"),
        (("-p", "output_dir", "/tmp"), "parameter 'output_dir' is set by --out"),
        (("-p", "seed", "1", "-p", "seed", "2"), "-p seed is given twice"),
    ],
)
def test_report_p_mistakes_stop_before_any_kernel_with_one_line(
    sample, tmp_path, capsys, notebook_calls, options, expected
):
    code, _, err = _report(capsys, sample, tmp_path / "r", "--notebook", "fairness_audit", *options)
    assert code == cli.EXIT_USAGE and notebook_calls == []
    (line,) = error_lines(err)
    assert line.startswith("perfmodel: error: ") and expected in line


def test_report_with_fairness_audit_writes_it_first_and_links_only_to_what_was_written(
    sample, tmp_path, capsys, monkeypatch
):
    calls: list[tuple[str, Path, dict]] = []

    def fake_run(notebook, out_dir, parameters, **options):
        runner.validate_parameters(runner.notebook_parameters(notebook), parameters)
        calls.append((Path(notebook).stem, Path(out_dir), dict(parameters)))
        html = Path(out_dir) / runner.HTML_NAME
        html.write_text(Path(notebook).stem, encoding="utf-8")
        return SimpleNamespace(html=html, pdf=None, docx=None)

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    out = tmp_path / "r"
    final = (out / FRAMEWORK / PERIOD / "zh").resolve()
    code, printed, err = _report(capsys, sample, out, "--with", "fairness_audit", "--peer-group", "none")
    assert code == 0, err
    (audit, audit_dir, audit_parameters), (quarterly, quarterly_dir, parameters) = calls
    assert (audit, quarterly) == ("fairness_audit", cli.QUARTERLY_NOTEBOOK)
    # the linked report runs inside the quarterly report's staging folder: both appear together
    assert audit_dir.parent == quarterly_dir and staged_in(quarterly_dir, final)
    assert audit_parameters["peer_group"] == "none" and "fairness_report" not in audit_parameters
    link = parameters["fairness_report"]
    assert (final / link).read_text(encoding="utf-8") == "fairness_audit"  # the link resolves
    assert f"report written to {final / 'fairness_audit' / 'report.html'}" in printed
    assert f"report written to {final / 'report.html'}" in printed

    calls.clear()  # without --with: no link, although the earlier fairness report is kept
    assert _report(capsys, sample, out)[0] == 0
    ((_, _, parameters),) = calls
    assert parameters["fairness_report"] == "" and (final / "fairness_audit" / "report.html").exists()


def test_report_with_is_refused_for_another_main_notebook_or_a_missing_one(sample, tmp_path, capsys, notebook_calls):
    code, _, err = _report(capsys, sample, tmp_path / "r", "--notebook", "fairness_audit", "--with", "calibration")
    assert code == cli.EXIT_USAGE and "linked reports go into the folder" in err
    code, _, err = _report(capsys, sample, tmp_path / "r", "--with", "no_such_notebook")
    assert code != 0 and "notebook 'no_such_notebook' not found" in err
    assert notebook_calls == []


@pytest.mark.notebook
@pytest.mark.xdist_group(QUARTERLY_GROUP)
def test_report_links_to_the_fairness_report_only_when_it_is_written(quarterly_reports):
    """The English run had no --with: no link, a sentence on how to write it and no dangling link;
    the Chinese run had --with fairness_audit: a link to the written report, with its progress."""
    alone_folder, linked_folder = quarterly_reports["folders"]["en"], quarterly_reports["folders"]["zh"]
    alone = (alone_folder / "report.html").read_text(encoding="utf-8")
    assert "fairness_audit/report" not in alone and "--with fairness_audit" in alone
    assert not (alone_folder / "fairness_audit").exists()
    local = [href for href in re.findall(r'href="([^"]+)"', alone) if not re.match(r"(#|[a-z]+:)", href)]
    assert all((alone_folder / href.split("#")[0]).is_file() for href in local), local  # no link to a missing file
    html = (linked_folder / "report.html").read_text(encoding="utf-8")
    (link,) = set(re.findall(r'href="(fairness_audit/[^"#]+)"', html))
    assert (linked_folder / link).is_file() and (linked_folder / link).stat().st_size > 1000
    assert "正在运行笔记本 fairness_audit" in quarterly_reports["stderr"]
