"""The fairness audit notebook runs under papermill on small generated data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from audit_builders import write_files

from perfmodel.report.runner import notebook_parameters, run_notebook, validate_parameters

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "fairness_audit.ipynb"
REQUIRED = ["observations", "units", "framework", "period", "lang", "output_dir", "peer_group"]


def test_parameters_cell_declares_the_report_parameters():
    specs = notebook_parameters(NOTEBOOK)
    assert list(specs)[: len(REQUIRED)] == REQUIRED
    assert specs["peer_group"].default is None
    assert {"by", "legitimate", "context"} <= set(specs)
    # None: the library's AUDIT_DEFAULTS decide; a comma-separated string overrides them
    assert all(specs[name].default is None for name in ("by", "legitimate", "context"))
    chosen = validate_parameters(
        specs, {**{n: "x" for n in REQUIRED}, "by": "area_type,district"}, notebook=NOTEBOOK.name
    )
    assert chosen["by"] == "area_type,district"


@pytest.mark.notebook
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_notebook_runs_and_writes_tables_and_figures(tmp_path, lang):
    paths = write_files(tmp_path / "in", seed=0, n_units=40, rural_minutes=12.0, biased_rater_points=10.0)
    out = tmp_path / "report"
    run = run_notebook(
        NOTEBOOK,
        out,
        {
            "observations": str(paths["observations"]),
            "units": str(paths["units"]),
            "framework": str(paths["framework"]),
            "period": "2025Q2",
            "lang": lang,
            "output_dir": str(out),
            "by": "area_type,station_class",
            "n_boot": 5,
        },
        timeout=120,
        html_lang="zh-CN" if lang == "zh" else "en",
    )
    for figure in (
        "group_means",
        "impact_ratios",
        "effective_weights",
        "effective_weights_by_source",
        "example_stated_vs_effective",
        "rank_intervals",
    ):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    assert (out / "tables" / "audit.xlsx").exists() and (out / "tables" / "findings.csv").exists()
    html = run.html.read_text(encoding="utf-8")
    executed = nbformat.read(run.executed_notebook, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    if lang == "zh":
        assert "五分之四" in html and "农村" in html and "名义权重" in html
    else:
        assert "four-fifths" in html and "Stated weight" in html
