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
