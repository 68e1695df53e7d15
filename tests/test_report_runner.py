"""Papermill runner: parameter checks, kernel checks, execution, HTML export, provenance."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from perfmodel.report import (
    ReportExecutionError,
    ReportKernelError,
    ReportParameterError,
    check_kernel,
    export_html_report,
    notebook_parameters,
    run_notebook,
    runner,
    validate_parameters,
)
from perfmodel.report import provenance as prov

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
STATION = NOTEBOOKS / "station_report.ipynb"
FAILING = NOTEBOOKS / "failing.ipynb"
SLOW = NOTEBOOKS / "slow.ipynb"
NO_PARAMETERS = NOTEBOOKS / "no_parameters.ipynb"
PARAMS = {"title": "季度考核", "n": 4}


@pytest.fixture(autouse=True)
def _no_git_status(monkeypatch):
    """Keep provenance deterministic and never run git on the (shared) checkout."""
    monkeypatch.setattr(prov, "_git_dirty", lambda work_tree: None)


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if anything would start a kernel."""

    def boom(*args, **kwargs):
        raise AssertionError("a kernel was started")

    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", boom)
    monkeypatch.setattr(runner, "check_kernel", boom)


# ------------------------------------------------------------------ parameters


def test_notebook_parameters_parsed_with_ast():
    params = notebook_parameters(STATION)
    assert list(params) == ["title", "n", "threshold", "note"]
    assert params["title"].type is str and params["title"].default == "x"
    assert params["title"].annotation == "str"
    assert params["n"].type is int and params["n"].default == 3
    assert params["threshold"].type is float and params["threshold"].default_source == "0.5"
    assert params["note"].type is None


def test_parameters_cell_with_magics_annotations_and_expressions(tmp_path):
    cell = new_code_cell(
        "%matplotlib inline\n"
        "import math\n"
        "flag = False\n"
        "weights: list = (0.5, 0.5)\n"
        "limit = math.inf  # not a literal\n"
        "a = b = 2\n"
        "ratio: float = 1\n"
    )
    cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "p.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    specs = notebook_parameters(path)
    assert list(specs) == ["flag", "weights", "limit", "a", "b", "ratio"]
    assert specs["flag"].type is bool and specs["weights"].type is list
    assert specs["limit"].type is None and not specs["limit"].is_literal
    assert specs["ratio"].type is float
    with pytest.raises(ReportParameterError, match="expects bool"):
        validate_parameters(specs, {"flag": 1})
    assert validate_parameters(specs, {"weights": (1, 2), "limit": 5}) == {
        "weights": [1, 2],
        "limit": 5,
    }
    assert runner._effective_parameters(specs, {"a": 3}) == {
        "flag": False,
        "weights": [0.5, 0.5],
        "limit": {"expression": "math.inf"},
        "a": 3,
        "b": 2,
        "ratio": 1,
    }


def test_unknown_parameter_rejected_before_any_kernel_starts(no_kernel, tmp_path):
    with pytest.raises(ReportParameterError) as info:
        run_notebook(STATION, tmp_path / "out", {"titel": "x", "n": 2, "month": 5})
    assert str(info.value) == (
        "unknown parameter(s) for station_report.ipynb: 'titel', 'month'. "
        "Accepted parameters: title, n, threshold, note."
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"n": "5"},
            "parameter 'n' for station_report.ipynb expects int (default 3), got str: '5'",
        ),
        ({"n": 2.5}, "parameter 'n' for station_report.ipynb expects int (default 3), got float"),
        ({"n": True}, "expects int (default 3), got bool"),
        (
            {"title": 7},
            "parameter 'title' for station_report.ipynb expects str (default \"x\"), got int",
        ),
        ({"threshold": "0.7"}, "parameter 'threshold' for station_report.ipynb expects float"),
        ({"threshold": float("nan")}, "parameter 'threshold' is nan"),
        ({"note": object()}, "not JSON-serialisable"),
    ],
)
def test_type_mismatch_rejected(no_kernel, tmp_path, params, message):
    with pytest.raises(ReportParameterError) as info:
        run_notebook(STATION, tmp_path, params)
    assert message in str(info.value)


def test_compatible_values_accepted_and_normalised():
    specs = notebook_parameters(STATION)
    clean = validate_parameters(specs, {"threshold": 1, "title": Path("a/b"), "note": {"区县": [1, 2.5, None]}})
    assert clean == {"threshold": 1.0, "title": "a/b", "note": {"区县": [1, 2.5, None]}}
    assert isinstance(clean["threshold"], float)


def test_notebook_without_parameters_cell(no_kernel, tmp_path):
    with pytest.raises(ReportParameterError, match="no code cell tagged 'parameters'"):
        run_notebook(NO_PARAMETERS, tmp_path, {})


def test_refuses_to_overwrite_source_notebook(no_kernel, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "check_kernel", lambda name: None)
    copy = tmp_path / "station_report.ipynb"
    shutil.copy(STATION, copy)
    with pytest.raises(ValueError, match="would overwrite the source notebook"):
        run_notebook(copy, tmp_path, {})


# ---------------------------------------------------------------------- kernel


def test_check_kernel_accepts_this_environments_python3():
    resource_dir = check_kernel("python3")
    assert resource_dir.is_dir()


def test_check_kernel_missing_kernel_names_the_fix():
    with pytest.raises(ReportKernelError, match="ipykernel install --sys-prefix --name no-such-k"):
        check_kernel("no-such-k")


def test_check_kernel_rejects_other_environment(monkeypatch, tmp_path):
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    spec = KernelSpec(
        argv=[str(tmp_path / "otherenv" / "bin" / "python"), "-m", "ipykernel_launcher"],
        language="python",
        display_name="other",
        resource_dir=str(tmp_path),
    )
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", lambda self, name: spec)
    with pytest.raises(ReportKernelError, match="not this environment") as info:
        check_kernel("python3")
    assert sys.prefix in str(info.value)
    assert "ipykernel install --sys-prefix --name python3" in str(info.value)


# ------------------------------------------------------------------ HTML export


def _executed_like_notebook() -> nbformat.NotebookNode:
    params = new_code_cell("title = 'x'")
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell("# Parameters\ntitle = 'SECRET_INJECTED'\n")
    injected.metadata["tags"] = ["injected-parameters"]
    table = (
        "<table class='dataframe'><thead><tr><th></th><th>派出所</th><th>得分</th></tr></thead>"
        "<tbody><tr><th>0</th><td>第1派出所</td><td>1,234.5</td></tr>"
        "<tr><th>1</th><td>第2派出所</td><td>-7%</td></tr>"
        "<tr><th>2</th><td>第3派出所</td><td>–</td></tr></tbody></table>"
    )
    shown = new_code_cell(
        "CODE_SHOULD_NOT_APPEAR = 1\ndisplay(table)",
        outputs=[
            new_output("display_data", data={"text/html": table, "text/plain": "table"}),
            new_output("stream", name="stdout", text="输出：合格\n"),
        ],
    )
    nb = new_notebook(cells=[new_markdown_cell("# 季度报告"), params, injected, shown])
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i}"
    return nb


def test_export_html_hides_code_and_styles_for_chinese(tmp_path):
    src = tmp_path / "executed.ipynb"
    nbformat.write(_executed_like_notebook(), src)
    html = export_html_report(src, tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert '<meta charset="utf-8"' in html.lower()
    assert "<title>executed</title>" in html
    assert '"Noto Sans SC", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei"' in html
    assert "nth-child(even)" in html
    assert "季度报告" in html and "输出：合格" in html and "第1派出所" in html
    assert "CODE_SHOULD_NOT_APPEAR" not in html
    assert "SECRET_INJECTED" not in html
    assert "<script" not in html  # no CDN scripts: reports are read offline
    assert '<td class="num">1,234.5</td>' in html
    assert '<td class="num">-7%</td>' in html
    assert "<td>第1派出所</td>" in html
    assert '<td class="num">–</td>' in html  # Styler's na_rep placeholder
    assert '<th class="num">得分</th>' in html
    assert "<th>派出所</th>" in html


# ---------------------------------------------------------- kernel-executing tests


def _stdout(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream"
    )


def _check_notebook_and_html_without_code(base, run, run_b):
    assert run.executed_notebook == base / "out_a" / "station_report.ipynb"
    assert run.html == base / "out_a" / "report.html"
    assert run.provenance == base / "out_a" / "provenance.json"
    assert run.parameters == PARAMS
    executed = nbformat.read(run.executed_notebook, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    namespace: dict = {}
    exec(injected[0].source, namespace)  # papermill writes "\u5b63..." escapes
    assert (namespace["title"], namespace["n"]) == ("季度考核", 4)

    html = run.html.read_text(encoding="utf-8")
    assert "报告标题：季度考核，共 4 个派出所" in html
    # run_b ran with MPLBACKEND=Agg inherited: the inline figure must still be there
    assert "data:image/png;base64," in run_b.html.read_text(encoding="utf-8")
    assert "第4派出所" in html and "不合格" in html
    assert html.count("data:image/png;base64,") >= 1  # the inline figure is embedded
    for code in ("to_csv", "apply_report_style", "import pandas", "plt.subplots", "# Parameters"):
        assert code not in html


def _check_kernel_working_directory(base, run_a, run_b):
    out_a = _stdout(run_a.executed_notebook)
    assert f"KERNEL_CWD={base / 'work_a'}\n" in out_a
    assert f"KERNEL_PREFIX={sys.prefix}\n" in out_a  # the kernel runs this environment
    assert (base / "work_a" / "scores.csv").is_file()
    assert (base / "work_a" / "figures" / "综合得分.png").is_file()
    assert not (base / "out_a" / "scores.csv").exists()
    # default cwd: the output folder
    assert f"KERNEL_CWD={base / 'out_b'}\n" in _stdout(run_b.executed_notebook)
    assert (base / "out_b" / "scores.csv").is_file()


def _check_identical_outputs(base, run_a, run_b):
    csv_a = (base / "work_a" / "scores.csv").read_bytes()
    csv_b = (base / "out_b" / "scores.csv").read_bytes()
    assert csv_a == csv_b
    assert csv_a.decode("utf-8").splitlines()[0] == "派出所,综合得分,等级,达标"
    png_a = (base / "work_a" / "figures" / "综合得分.png").read_bytes()
    png_b = (base / "out_b" / "figures" / "综合得分.png").read_bytes()
    assert png_a == png_b


def _check_provenance(base, run_a, run_b):
    rec_a = json.loads(run_a.provenance.read_text(encoding="utf-8"))
    rec_b = json.loads(run_b.provenance.read_text(encoding="utf-8"))
    notebook = rec_a["inputs"]["notebook"]
    assert notebook["sha256"] == hashlib.sha256(STATION.read_bytes()).hexdigest()
    assert notebook["size_bytes"] == STATION.stat().st_size
    assert rec_a["parameters"] == PARAMS
    assert rec_a["extra"]["effective_parameters"] == {**PARAMS, "threshold": 0.5, "note": None}
    assert rec_a["extra"]["kernel_name"] == "python3"
    for name in ("perfmodel", "pandas", "matplotlib", "papermill", "nbconvert"):
        assert rec_a["packages"][name]
    assert {k for k in rec_a if rec_a[k] != rec_b[k]} <= {"timestamp_utc"}


@pytest.mark.notebook
def test_station_report_runs_twice(tmp_path, monkeypatch):
    """One test (not a shared fixture), so pytest-xdist never runs the pair twice.

    Run A uses an explicit cwd; run B the default cwd (the output folder) and an
    inherited ``MPLBACKEND=Agg``.
    """
    run_a = run_notebook(STATION, tmp_path / "out_a", PARAMS, cwd=tmp_path / "work_a", timeout=120)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_b = run_notebook(STATION, tmp_path / "out_b", PARAMS, timeout=120)
    assert os.environ["MPLBACKEND"] == "Agg"  # restored after the run
    _check_notebook_and_html_without_code(tmp_path, run_a, run_b)
    _check_kernel_working_directory(tmp_path, run_a, run_b)
    _check_identical_outputs(tmp_path, run_a, run_b)
    _check_provenance(tmp_path, run_a, run_b)


@pytest.mark.notebook
def test_failing_run_names_the_cell_and_keeps_partial_notebook(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("stale report from an earlier run", encoding="utf-8")
    with pytest.raises(ReportExecutionError) as info:
        run_notebook(FAILING, out, {"x": 7}, timeout=120)
    err = info.value
    message = str(err)
    partial = out / "failing.ipynb"
    assert "In [4]" in message  # parameters, injected parameters, cell 2, then the failure
    assert "cell #3 of failing.ipynb" in message
    assert "# 第三个单元格故意失败" in message  # first source line of the cell
    assert "ValueError: 故意失败: x=7" in message
    assert str(partial) in message
    assert err.ename == "ValueError" and err.evalue == "故意失败: x=7"
    assert err.notebook_path == partial and err.cell_index == 2
    assert "Traceback" in err.traceback or "ValueError" in err.traceback

    assert partial.is_file()
    text = _stdout(partial)
    assert "第二个单元格 8" in text and "never reached" not in text
    assert not (out / "report.html").exists()  # no stale report beside a failed run
    assert not (out / "provenance.json").exists()


@pytest.mark.notebook
def test_cell_timeout_names_the_cell(tmp_path):
    with pytest.raises(ReportExecutionError) as info:
        run_notebook(SLOW, tmp_path, {"seconds": 30}, timeout=1)
    message = str(info.value)
    assert "CellTimeoutError" in message
    assert "In [3] (cell #2 of slow.ipynb), which starts with: import time" in message
    assert (tmp_path / "slow.ipynb").is_file()


@pytest.mark.notebook
def test_kernel_starts_without_transport_warning(tmp_path, capfd):
    """ipykernel warns on stderr when it talks to papermill over unencrypted TCP (issue 11)."""
    params = new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    path = tmp_path / "tiny.ipynb"
    nb = new_notebook(cells=[params, new_code_cell("print('x is', x)")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, path)
    run = run_notebook(path, tmp_path / "out", {"x": 2}, timeout=60, export_html=False)
    assert "x is 2" in _stdout(run.executed_notebook)
    err = capfd.readouterr().err
    assert "without encryption" not in err
    assert "Kernel is running over TCP" not in err


def test_kernel_config_falls_back_to_ipc_without_curve(monkeypatch):
    """Without CurveZMQ in pyzmq, POSIX kernels talk over Unix sockets instead of plain TCP."""
    import zmq

    if zmq.has("curve"):  # pyzmq wheels bundle libsodium: the kernel traffic is encrypted
        assert runner.kernel_manager_config()["KernelManager"]["transport_encryption"] == "required"
    monkeypatch.setattr(zmq, "has", lambda feature: False)
    expected = {"transport": "ipc"} if os.name == "posix" else {}
    assert dict(runner.kernel_manager_config().get("KernelManager", {})) == expected
