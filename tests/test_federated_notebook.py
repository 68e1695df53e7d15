"""notebooks/cross_region.ipynb runs under papermill and shows the federated comparison."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from perfmodel.report.runner import run_notebook
from perfmodel.text import say

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "cross_region.ipynb"


@pytest.mark.notebook
def test_cross_region_notebook_runs_and_reports_the_comparison(tmp_path):
    out = tmp_path / "cross_region"
    parameters = {"lang": "zh", "output_dir": str(out), "period": "2025Q1", "stations": 30, "draws": 20}
    run = run_notebook(NOTEBOOK, out, parameters, timeout=300, html_lang="zh-CN")
    executed = nbformat.read(run.executed_notebook, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert {p.name for p in (out / "figures").iterdir()} == {"league.png", "rank_gap.png", "funnel.png"}
    league = pd.read_csv(out / "league.csv", encoding="utf-8-sig")
    assert len(league) == 90 and set(league["region"]) == {"A", "B", "C"}
    gaps = pd.read_csv(out / "rank_gap.csv", encoding="utf-8-sig").set_index("region")
    assert gaps.loc["C", "naive_gap"] > 0  # the harder region is ranked too low by naive pooling
    html = run.html.read_text(encoding="utf-8")
    for key in ("federated.nb.exchange_title", "federated.nb.fairness_title", "federated.nb.effects_title"):
        assert say(key, "zh").lstrip("# ") in html
