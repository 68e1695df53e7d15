"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = REPO_ROOT.parent / "shared" / "golden"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The project's root folder."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """``../shared/golden`` beside the project; skips cleanly when absent."""
    if not GOLDEN_DIR.is_dir():
        pytest.skip(f"golden reference data not found at {GOLDEN_DIR} (expected ../shared/golden)")
    return GOLDEN_DIR


@pytest.fixture(autouse=True)
def _english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see an English locale, whatever the machine's: the CLI's messages follow it.

    A test of the locale rule sets its own (``monkeypatch.setenv("LANG", "zh_CN.UTF-8")``
    after deleting ``LC_ALL``)."""
    monkeypatch.setenv("LC_ALL", "C.UTF-8")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test leaves open, so later tests start without them."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(scope="session")
def six_station_files(tmp_path_factory) -> dict[str, Path]:
    """An analyst's own small bureau: the first six stations of the shipped sample (issue 11).

    Returns the paths ``observations`` and ``units`` (CSV) and the ``framework``
    id and ``period`` they are evaluated with. Six units are below the minimum of
    every group comparison, of context neutrality, of case-mix models and of
    funnel plots, so reports on them must say what they skipped and why.
    """
    import pandas as pd

    framework, period = "station_four_dimension", "2025Q2"
    shipped = REPO_ROOT / "data_samples"
    folder = tmp_path_factory.mktemp("six_stations")
    table = pd.read_csv(shipped / "units.csv", dtype=str)
    six = table[table["level"] == "station"].head(6)
    rows = pd.read_csv(shipped / "observations" / f"{framework}.csv.gz", dtype=str)
    six.to_csv(folder / "units.csv", index=False)
    rows[rows["unit_id"].isin(six["unit_id"])].to_csv(folder / "observations.csv", index=False)
    return {
        "observations": folder / "observations.csv",
        "units": folder / "units.csv",
        "framework": framework,
        "period": period,
    }
