"""The indicator design lab notebook runs under papermill on a small synthetic sample."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from perfmodel.report import provenance as prov
from perfmodel.report.runner import notebook_parameters, run_notebook
from perfmodel.simulate import generate_sample

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "indicator_design_lab.ipynb"
REQUIRED = ["observations", "units", "framework", "period", "lang", "output_dir", "peer_group"]


def test_parameters_cell_has_the_report_parameters_plus_draws_and_seed():
    params = notebook_parameters(NOTEBOOK)
    assert list(params) == [*REQUIRED, "draws", "seed"]
    assert params["draws"].type is int and params["draws"].default == 500
    assert params["seed"].type is int and params["seed"].default == 1
    assert params["peer_group"].default is None


def test_gaming_section_is_reserved_and_hidden_from_the_report():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    marked = [c for c in cells if "RESERVED SECTION: gaming" in c.source]
    assert len(marked) == 1 and "remove-cell" in marked[0].metadata.get("tags", [])


@pytest.mark.notebook
def test_notebook_runs_on_a_small_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(prov, "_git_dirty", lambda work_tree: None)  # never run git on the shared checkout
    paths = generate_sample(
        tmp_path / "data",
        stations=20,
        months=6,
        rng=11,
        start="2025-01",
        frameworks=["station_four_dimension", "station_three_layer"],
    )
    out = tmp_path / "report"
    run = run_notebook(
        NOTEBOOK,
        out,
        {
            "observations": str(paths["station_observations"]),
            "units": str(paths["units"]),
            "framework": "station_four_dimension",
            "period": "2025Q2",
            "lang": "en",
            "output_dir": str(out),
            "draws": 32,
            "seed": 2,
        },
        cwd=out,
        timeout=120,
    )
    assert run.html is not None and run.html.exists()
    for figure in ("rank_intervals", "sobol_indices", "correlation_heatmap", "design_bump_chart"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000
    by_unit = pd.read_csv(out / "tables" / "uncertainty_by_unit.csv")
    assert len(by_unit) == 20
    probabilities = by_unit.filter(like="P(").sum(axis=1)
    assert probabilities.tolist() == pytest.approx([1.0] * 20)
    agreement = pd.read_csv(out / "tables" / "rank_agreement.csv")
    assert "flexible pool" in set(agreement["design_b"])
    assert "RESERVED SECTION" not in run.html.read_text(encoding="utf-8")
