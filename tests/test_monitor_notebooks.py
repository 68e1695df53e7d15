"""The monitoring notebooks run under papermill (through ``perfmodel report`` where the CLI applies)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from perfmodel.cli import main, report_folder
from perfmodel.framework import load_framework
from perfmodel.report.runner import notebook_parameters, run_notebook
from perfmodel.simulate import generate_sample

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
REQUIRED = ["observations", "units", "framework", "period", "lang", "output_dir", "peer_group"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict[str, Path]:
    """30 stations over 24 months (2024-01 to 2025-12)."""
    folder = tmp_path_factory.mktemp("monitor_sample")
    return generate_sample(folder, stations=30, months=24, rng=7, frameworks=["station_four_dimension"])


def _errors(notebook: Path) -> list:
    executed = nbformat.read(notebook, as_version=4)
    return [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


@pytest.mark.parametrize(
    "name, extra",
    [
        ("monthly_bulletin", {"calibration": str, "warning_method": str, "history_months": int}),
        ("annual_summary", {"calibration": str, "district_column": str}),
        ("reform_targets", {"forecast_method": str, "confidence": float}),
    ],
)
def test_parameters_cells_take_the_report_parameters(name, extra):
    specs = notebook_parameters(NOTEBOOKS / f"{name}.ipynb")
    assert list(specs)[: len(REQUIRED)] == REQUIRED
    assert specs["peer_group"].default is None
    for parameter, kind in extra.items():
        assert specs[parameter].type is kind, parameter


@pytest.mark.notebook
def test_monthly_bulletin_through_the_cli(sample, tmp_path):
    code = main(
        [
            "report",
            "--notebook",
            "monthly_bulletin",
            "--period",
            "2025-06",
            "--observations",
            str(sample["station_observations"]),
            "--units",
            str(sample["units"]),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = report_folder(tmp_path, "station_four_dimension", "2025-06", NOTEBOOKS / "monthly_bulletin.ipynb")
    for figure in ("compliance", "month_changes", "score_trends"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    scores = pd.read_csv(out / "monthly_scores.csv")
    assert scores["period"].max() == "2025-06" and scores["period"].nunique() == 18  # 2024-01 to 2025-06
    assert set(pd.read_csv(out / "deadline_compliance.csv")["status"]) <= {"on_time", "late", "missing", "unknown"}
    assert not _errors(out / "monthly_bulletin.ipynb")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "月度绩效通报" in html and "环比变化" in html and "声明的误报率" in html and "27日" in html


@pytest.mark.notebook
def test_monthly_bulletin_in_english_with_a_control_chart(sample, tmp_path):
    run = run_notebook(
        NOTEBOOKS / "monthly_bulletin.ipynb",
        tmp_path,
        {
            "observations": str(sample["station_observations"]),
            "units": str(sample["units"]),
            "framework": "station_four_dimension",
            "period": "2025-12",
            "lang": "en",
            "output_dir": str(tmp_path),
            "warning_method": "cusum",
        },
        timeout=120,
        html_lang="en",
    )
    assert not _errors(run.executed_notebook)
    html = run.html.read_text(encoding="utf-8")
    assert "Monthly performance bulletin" in html and "CUSUM" in html and "Stated false-alarm rate" in html


@pytest.mark.notebook
def test_annual_summary(sample, tmp_path):
    run = run_notebook(
        NOTEBOOKS / "annual_summary.ipynb",
        tmp_path,
        {
            "observations": str(sample["station_observations"]),
            "units": str(sample["units"]),
            "framework": "station_four_dimension",
            "period": "2025",
            "lang": "zh",
            "output_dir": str(tmp_path),
        },
        timeout=120,
    )
    assert not _errors(run.executed_notebook)
    for figure in ("grade_history", "compliance", "seasonal_profiles", "stl_top_indicator", "district_gaps"):
        assert (tmp_path / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    reconciliation = pd.read_csv(tmp_path / "rollup_reconciliation.csv")
    assert reconciliation["agrees"].all()
    table = pd.read_csv(tmp_path / "annual_summary.csv")
    assert len(table) == 30 and {"2025Q1 grade", "annual_grade", "quarter_mean"} <= set(table.columns)
    html = run.html.read_text(encoding="utf-8")
    assert "年度绩效总结" in html and "一致性核对" in html and "季节" in html and "连续两年" in html
    awards = pd.read_csv(tmp_path / "awards.csv")  # the framework's awards block, apportioned (R12)
    totals = {award.id: award.slots for award in load_framework("station_four_dimension").awards}
    assert awards.groupby("award")["slots"].sum().to_dict() == totals and "表彰名额" in html


@pytest.mark.notebook
def test_reform_targets_through_the_cli(sample, tmp_path):
    code = main(
        [
            "report",
            "--notebook",
            "reform_targets",
            "--period",
            "2025",
            "--observations",
            str(sample["station_observations"]),
            "--units",
            str(sample["units"]),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = report_folder(tmp_path, "station_four_dimension", "2025", NOTEBOOKS / "reform_targets.ipynb")
    for figure in ("progress_overview", "targets"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    progress = pd.read_csv(out / "reform_progress.csv")
    assert len(progress) == 8 and progress["latest_period"].eq("2025Q4").all()
    assert not _errors(out / "reform_targets.ipynb")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "模拟数据" in html and "基层派出所警力占比" in html and "预测区间" in html
