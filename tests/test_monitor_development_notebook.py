"""The development notebook (cockpit, team credit, training needs, deployment) runs under papermill."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from perfmodel.report.runner import notebook_parameters, run_notebook
from perfmodel.simulate import generate_sample

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "development.ipynb"
REQUIRED = ["observations", "units", "framework", "period", "lang", "output_dir", "peer_group"]
FIGURES = [
    "cockpit_overview_officer_community_policing",
    "cockpit_profiles_officer_traffic",
    "team_credit",
    "team_variance",
    "training_plan",
    "police_density",
    "reallocation",
]
TABLES = [
    "cockpit_officer_emergency",
    "team_credit_officers",
    "team_variance",
    "training_needs",
    "training_plan",
    "staffing",
    "reallocation",
    "reallocation_moves",
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict[str, Path]:
    return generate_sample(tmp_path_factory.mktemp("sample"), stations=30, months=12, rng=7)


def _run(sample, out, lang, **extra):
    parameters = {
        "observations": str(sample["station_observations"]),
        "units": str(sample["units"]),
        "framework": "station_four_dimension",
        "period": "2024Q4",
        "lang": lang,
        "output_dir": str(out),
        **extra,
    }
    run = run_notebook(NOTEBOOK, out, parameters, timeout=120, html_lang="zh-CN" if lang == "zh" else "en")
    executed = nbformat.read(run.executed_notebook, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    return run.html.read_text(encoding="utf-8")


def test_parameters_cell_declares_the_report_parameters():
    specs = notebook_parameters(NOTEBOOK)
    assert list(specs)[: len(REQUIRED)] == REQUIRED
    assert specs["peer_group"].default is None and specs["calibration"].default == "none"
    assert specs["max_moves"].type is int and specs["weak_percentile"].type is float


@pytest.mark.notebook
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_notebook_runs_and_writes_every_section(tmp_path, sample, lang):
    out = tmp_path / "report"
    html = _run(sample, out, lang)
    for figure in FIGURES:
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    for table in TABLES:
        assert (out / "tables" / f"{table}.csv").exists(), table
    variance = pd.read_csv(out / "tables" / "team_variance.csv", encoding="utf-8-sig")
    assert 0 < variance.iloc[0, 6] < 1
    moves = pd.read_csv(out / "tables" / "reallocation_moves.csv", encoding="utf-8-sig")
    assert 0 < moves.iloc[:, 2].sum() <= 20
    if lang == "zh":
        for phrase in (
            "民警效能驾驶舱",
            "团队份额",
            "模拟数据的设定值为 40%",
            "培训需求清单",
            "警力配置",
            "每万人警力",
        ):
            assert phrase in html, phrase
    else:
        for phrase in (
            "Officer cockpit",
            "team share",
            "planted in the simulated data: 40%",
            "Training-needs list",
            "police per 10,000 residents",
        ):
            assert phrase in html, phrase


@pytest.mark.notebook
def test_notebook_skips_what_the_data_do_not_have(tmp_path, sample):
    out = tmp_path / "report"
    html = _run(
        sample,
        out,
        "en",
        officer_frameworks="officer_traffic,officer_diving",
        collaborations=str(tmp_path / "none.csv"),
        calibration="casemix",
        move_within="",
    )
    assert "No observations file was found for these role frameworks" in html and "officer_diving" in html
    assert "No collaborations file" in html
    assert "calibrated for context first (calibration = casemix)" in html
    assert not (out / "figures" / "team_variance.png").exists()
    assert (out / "figures" / "cockpit_overview_officer_traffic.png").exists()
