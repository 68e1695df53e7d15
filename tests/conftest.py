"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = REPO_ROOT.parent / "shared" / "golden"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``, send every test of one ``xdist_group`` to one worker.

    pytest-xdist (3.8) groups a test by appending ``@<group>`` to its node id through
    ``item._nodeid``; from pytest 9.2 the node id is read from ``item._id`` and that
    suffix is lost, so each test became a unit of its own and both workers built the
    group's session and module fixtures (the quarterly reports, the LocalCluster).
    This hook (run after xdist's) appends the suffix where it is missing.

    It also puts the notebook tests (the longest single tests) first: the workers take
    the groups, largest first, then the single tests in this order, so the run ends on
    short tests and neither worker idles long while the other finishes a notebook.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    items.sort(key=lambda item: item.get_closest_marker("notebook") is None)  # stable: otherwise as collected
    for item in items:
        names = {
            str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")
        }
        if not names:
            continue
        suffixed = f"{item.nodeid}@{'_'.join(sorted(names))}"
        if item.nodeid.endswith(suffixed[len(item.nodeid) :]):
            continue  # xdist's own suffix held
        node_id = getattr(item, "_id", None)
        if node_id is None:
            item._nodeid = suffixed
        else:
            item._id = type(node_id).parse(suffixed)


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


QUARTERLY_FRAMEWORK, QUARTERLY_PERIOD = "station_four_dimension", "2025Q2"
QUARTERLY_GROUP = "quarterly_reports"
"""The xdist group of the tests that read :func:`quarterly_reports` (``--dist loadgroup``: one worker
runs them all, so the reports are written once per test run)."""


def folder_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes below ``folder``."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def quarterly_sample(tmp_path_factory) -> dict[str, Path]:
    """30 stations, 2025-01 … 2025-06, with planted defects (so a quarantine exists)."""
    from perfmodel.simulate import generate_sample

    out = tmp_path_factory.mktemp("quarterly_sample")
    return generate_sample(out, stations=30, months=6, rng=5, start="2025-01", frameworks=[QUARTERLY_FRAMEWORK])


@pytest.fixture(scope="session")
def quarterly_reports(quarterly_sample, tmp_path_factory) -> dict[str, object]:
    """The quarterly report written by ``perfmodel report`` twice into one ``--out``, shared by the report tests.

    First in English with case-mix calibration and no linked report, then in Chinese
    without calibration and ``--with fairness_audit`` (its progress lines on stderr kept).
    Returns the ``sample``, the report ``folders`` and ``calibration`` per language, the
    Chinese run's ``stderr``, and the English folder's hash before and after the Chinese
    run (``en_hash``). Every run of a report notebook costs seconds, so the tests of the
    quarterly notebook, of whole-language output and of ``--with`` read these two runs.
    """
    import contextlib
    import io

    from perfmodel import cli

    out = tmp_path_factory.mktemp("quarterly_reports") / "reports"
    common = [
        "report",
        "--period",
        QUARTERLY_PERIOD,
        "--observations",
        str(quarterly_sample["station_observations"]),
        "--units",
        str(quarterly_sample["units"]),
        "--out",
        str(out),
    ]
    folders = {lang: out / QUARTERLY_FRAMEWORK / QUARTERLY_PERIOD / lang for lang in ("en", "zh")}
    assert cli.main(["--quiet", *common, "--lang", "en", "--calibration", "casemix"]) == 0
    en_before = folder_hash(folders["en"])
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli.main([*common, "--lang", "zh", "--with", "fairness_audit"])
    assert code == 0, stderr.getvalue()[-2000:]
    return {
        "sample": quarterly_sample,
        "folders": folders,
        "calibration": {"en": "casemix", "zh": "none"},
        "stderr": stderr.getvalue(),
        "en_hash": (en_before, folder_hash(folders["en"])),
    }
