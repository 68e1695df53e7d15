"""Outputs: spreadsheet-safe cells, inputs never overwritten, whole runs, identical reruns.

Each test names the defect of issue 10 it covers; every one failed on the code
before :mod:`perfmodel.outputs` existed.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfmodel import cli, outputs
from perfmodel.audit.cli import write_audit
from perfmodel.design.cli import write_tables
from perfmodel.errors import PerfmodelError
from perfmodel.io import OBSERVATION_ALIASES, guard_text, read_table, write_table, write_workbook
from perfmodel.outputs import MARKER, OutputError
from perfmodel.report import runner
from perfmodel.report.provenance import build_provenance
from perfmodel.report.quarterly import styled

REPO = Path(__file__).resolve().parents[1]
FRAMEWORK = "station_four_dimension"
PERIOD = "2025Q2"
HOSTILE = "0.5\r=cmd|' /C calc'!A0"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (hidden ones included), by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def siblings(folder: Path) -> list[str]:
    """Leftovers beside ``folder``: temporary, backup and lock entries of runs."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ============================================================ 1. spreadsheet-safe cells
def test_carriage_return_cannot_start_a_row_in_the_quarantine_file(tmp_path):
    """Issue 10 #2: perfmodel read 3 quarantine rows back as 4."""
    quarantine = pd.DataFrame(
        {
            "row": [2, 3, 4],
            "value": [HOSTILE, "=1+1", "-5"],
            "message": ["not a number", "line one\nline two", "ok"],
        }
    )
    path = write_table(quarantine, tmp_path / "q.quarantine.csv")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert len(back) == 3
    assert back["value"].tolist() == ["0.5␍=cmd|' /C calc'!A0", "'=1+1", "-5"]
    assert back["message"].tolist() == ["not a number", "line one␊line two", "ok"]
    # a line-based reader sees one line per row too
    assert len(path.read_text(encoding="utf-8-sig").splitlines()) == 4
    table = read_table(path, aliases=OBSERVATION_ALIASES)
    assert table["row"].tolist() == ["2", "3", "4"] and table["source_row"].tolist() == [2, 3, 4]


def test_guard_text_splits_before_guarding():
    assert guard_text("x\r=cmd") == "x␍=cmd"
    assert guard_text("\r=cmd") == "␍=cmd"  # the break is a symbol now; no line starts with "="
    assert guard_text("\t=1") == "'\t=1"
    assert guard_text("@SUM(A1)") == "'@SUM(A1)"
    assert guard_text("+1e5") == "+1e5" and guard_text("-0.25") == "-0.25"  # plain numbers stay
    assert guard_text("a\u2028b\x85c\x00d") == "a␤b␤c␀d"


cells = st.text(
    alphabet=st.sampled_from(list("=+-@\t\r\n\x0b\x0c\x1c\x85\u2028\"',;0123456789.eE ab派出所")), max_size=12
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(cells, min_size=1, max_size=6), numbers=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=6))
def test_every_hostile_text_round_trips_one_row_per_row(tmp_path, texts, numbers):
    """Property: any cell text → same number of rows back; no cell can run as a formula; numbers stay numbers."""
    n = min(len(texts), len(numbers))
    frame = pd.DataFrame({"text": texts[:n], "number": numbers[:n], "=header": texts[:n]})
    for ext in (".csv", ".tsv"):
        path = write_table(frame, tmp_path / f"t{ext}")
        back = pd.read_csv(
            path, encoding="utf-8-sig", dtype=str, keep_default_na=False, sep="\t" if ext == ".tsv" else ","
        )
        assert len(back) == n
        assert list(back.columns) == ["text", "number", "'=header"]
        assert back["text"].tolist() == [guard_text(t) for t in texts[:n]]
        for cell in back["text"]:
            assert not cell.startswith(FORMULA_START) or guard_text(cell) == cell  # a plain number
            assert not any(c in cell for c in "\r\n\x0b\x0c\x1c\x85\u2028")
        assert [float(x) for x in back["number"]] == pytest.approx(numbers[:n])
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t" if ext == ".tsv" else ","))
        assert len(rows) == n + 1
        assert len(path.read_text(encoding="utf-8-sig").splitlines()) == n + 1
    for ext in (".csv", ".xlsx"):  # perfmodel's own reader
        back = read_table(write_table(frame, tmp_path / f"r{ext}"), aliases={})
        assert len(back) == n
        assert back["text"].fillna("").tolist() == [guard_text(t) for t in texts[:n]]


def test_excel_cells_are_guarded_and_numbers_stay_numeric(tmp_path):
    frame = pd.DataFrame({"name": [HOSTILE, "=A1", "ok"], "score": [-1.5, 2.0, 3.0]})
    path = write_table(frame, tmp_path / "s.xlsx")
    sheet = openpyxl.load_workbook(path).active
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values == [["0.5␍=cmd|' /C calc'!A0", -1.5], ["'=A1", 2], ["ok", 3]]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_cli_quarantine_and_scores_read_back_row_for_row(tmp_path, capsys):
    """Issue 10 #2 end to end: a hostile value in an observations file."""
    units = tmp_path / "units.csv"
    units.write_text("unit_id,name,level\nA,甲所,station\nB,乙所,station\n", encoding="utf-8")
    obs = tmp_path / "obs.csv"
    rows = ["period,unit_id,indicator,value"]
    rows += [f"2025-0{m},{u},clearance_rate,0.{m}" for m in (4, 5, 6) for u in "AB"]
    rows += [
        "2025-04,A,clearance_rate,\"0.5\r=cmd|' /C calc'!A0\"",
        "2025-05,A,clearance_rate,=1+1",
        "2025-06,B,clearance_rate,@x",
    ]
    obs.write_text("\n".join(rows) + "\n", encoding="utf-8")
    target = tmp_path / "q.csv"
    code, out, _ = run(
        capsys, "validate", "--observations", obs, "--units", units, "--framework", FRAMEWORK, "--quarantine", target
    )
    assert code == 1
    held = int(next(line for line in out.splitlines() if line.startswith("observations")).split()[-2])
    back = read_table(target, aliases=OBSERVATION_ALIASES)
    assert len(back) == held >= 3
    text = target.read_text(encoding="utf-8-sig")
    assert len(text.splitlines()) == held + 1
    for line in text.splitlines():
        for cell in next(csv.reader([line])):
            assert not cell.startswith(FORMULA_START) or guard_text(cell) == cell


# ============================================================ 2. inputs are sacred
@pytest.fixture
def toy(tmp_path):
    """A tiny valid pair of input files."""
    units = tmp_path / "in" / "units.csv"
    units.parent.mkdir()
    units.write_text("unit_id,name,level\nA,甲所,station\nB,乙所,station\n", encoding="utf-8")
    obs = tmp_path / "in" / "obs.csv"
    lines = ["period,unit_id,indicator,value", "2025-04,A,clearance_rate,zz"]
    obs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SimpleNamespace(units=units, obs=obs)


def test_score_refuses_to_write_over_its_observations(sample_pair, capsys):
    """Issue 10 #3: `score --out <the observations file>` replaced the input and exited 0."""
    obs, units = sample_pair
    before = obs.read_bytes()
    code, _, err = run(
        capsys,
        "score",
        "--observations",
        obs,
        "--units",
        units,
        "--framework",
        FRAMEWORK,
        "--period",
        PERIOD,
        "--out",
        obs,
    )
    assert code == 1 and "never overwrites its inputs" in err and str(obs) in err
    assert obs.read_bytes() == before
    link = obs.parent / "link.csv"
    link.symlink_to(obs)
    code, _, err = run(
        capsys,
        "score",
        "--observations",
        obs,
        "--units",
        units,
        "--framework",
        FRAMEWORK,
        "--period",
        PERIOD,
        "--out",
        link,
    )
    assert code == 1 and "never overwrites its inputs" in err and obs.read_bytes() == before


@pytest.fixture
def sample_pair(tmp_path_factory):
    from perfmodel.simulate import generate_sample

    folder = tmp_path_factory.mktemp("outputs_sample")
    paths = generate_sample(folder, stations=12, months=6, rng=3, start="2025-01", frameworks=[FRAMEWORK])
    obs = folder / "obs.csv"
    pd.read_csv(paths["station_observations"], dtype=str).to_csv(obs, index=False)
    return obs, Path(paths["units"])


def test_validate_refuses_quarantine_onto_the_units_file(toy, capsys):
    """Issue 10 #3: `validate --quarantine <the units file>` replaced the input and exited 0."""
    before = toy.units.read_bytes()
    code, _, err = run(
        capsys,
        "validate",
        "--observations",
        toy.obs,
        "--units",
        toy.units,
        "--framework",
        FRAMEWORK,
        "--quarantine",
        toy.units,
    )
    assert code == 1 and "never overwrites its inputs" in err
    assert toy.units.read_bytes() == before


def test_a_file_perfmodel_did_not_write_is_refused_then_its_own_is_replaced(toy, tmp_path, capsys):
    mine = tmp_path / "notes.csv"
    mine.write_text("my own notes\n", encoding="utf-8")
    args = ("validate", "--observations", toy.obs, "--units", toy.units, "--framework", FRAMEWORK)
    code, _, err = run(capsys, *args, "--quarantine", mine)
    assert code == 1 and "was not written by perfmodel" in err
    assert mine.read_text(encoding="utf-8") == "my own notes\n"
    fresh = tmp_path / "fresh.csv"
    assert run(capsys, *args, "--quarantine", fresh)[0] == 1 and fresh.is_file()
    assert json.loads((tmp_path / MARKER).read_text())["files"] == ["fresh.csv"]
    assert run(capsys, *args, "--quarantine", fresh)[0] == 1  # its own file: replaced


def test_symlink_planted_in_an_output_folder_is_replaced_not_followed(tmp_path):
    """Issue 10 #7: a planted symlink had its target overwritten."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "scores.csv").symlink_to(victim)
    write_table(pd.DataFrame({"a": [1]}), out / "scores.csv")
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (out / "scores.csv").is_symlink()
    workbook = out / "book.xlsx"
    workbook.symlink_to(victim)
    write_workbook({"s": pd.DataFrame({"a": [1]})}, workbook)
    assert victim.read_text(encoding="utf-8") == "precious" and not workbook.is_symlink()


def test_a_run_folder_may_not_hold_an_input_nor_be_a_users_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "obs.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(OutputError, match="contains the input file"):
        write_tables({"t": pd.DataFrame({"a": [1]})}, folder, inputs=[folder / "obs.csv"])
    with pytest.raises(OutputError, match="not made by perfmodel"):
        write_tables({"t": pd.DataFrame({"a": [1]})}, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["obs.csv"]


# ============================================================ 3. atomic, complete runs
def test_a_new_run_leaves_no_file_of_an_earlier_run(tmp_path):
    """Issue 10 #7: stale quarantine.csv and figures stayed beside a new run's output."""
    out = tmp_path / "lab"
    write_tables({"a": pd.DataFrame({"x": [1]}), "quarantine": pd.DataFrame({"x": [2]})}, out)
    write_tables({"a": pd.DataFrame({"x": [3]})}, out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.csv", "tables.xlsx"]
    assert siblings(out) == []


WRITER = textwrap.dedent(
    """
    import sys, pandas as pd
    import perfmodel.io as io
    from perfmodel.design.cli import write_tables

    real_write = io.write_table

    def write_when_told(frame, path):  # the test decides how many files get written before the kill
        print("ready", flush=True)
        sys.stdin.readline()
        return real_write(frame, path)

    io.write_table = write_when_told
    frame = pd.DataFrame({"text": ["新的一轮"] * 300, "n": range(300)})
    write_tables({f"t{i:02d}": frame for i in range(40)}, sys.argv[1], xlsx=False)
    print("done", flush=True)
    """
)
TABLES = 40


def _start_writer(out: Path) -> subprocess.Popen:
    """Start a run that writes 40 tables into ``out``, each only when the test sends a line."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


def _let_write(process: subprocess.Popen, files: int) -> None:
    """Let the run write ``files`` files, then wait until it is about to write the next one."""
    for _ in range(files + 1):
        assert process.stdout.readline() == b"ready\n"
        if _ < files:
            process.stdin.write(b"\n")
            process.stdin.flush()


def test_killed_runs_leave_the_previous_output_byte_identical(tmp_path):
    """Issue 10 #7, 10 trials: SIGKILL after a random number of the run's files are written."""
    out = tmp_path / "lab"
    old = {f"t{i:02d}": pd.DataFrame({"text": ["旧"], "n": [i]}) for i in range(TABLES)}
    write_tables(old, out, xlsx=False)
    previous = snapshot(out)
    rng = random.Random(10)
    for _ in range(10):
        process = _start_writer(out)
        _let_write(process, rng.randrange(TABLES))  # 0 … 39 files written, the run not finished
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert snapshot(out) == previous, "a killed run changed the previous output"
    complete = _start_writer(out)  # the same run left alone replaces it whole
    _let_write(complete, TABLES - 1)
    complete.stdin.write(b"\n")
    complete.stdin.flush()
    assert complete.stdout.readline() == b"done\n"
    complete.wait()
    assert snapshot(out) != previous and len(snapshot(out)) == len(previous)
    assert siblings(out) == []  # and it cleaned up after the killed ones


def test_disk_full_keeps_the_previous_output(tmp_path, monkeypatch):
    """Issue 10 #7: on a full disk the previous scores were destroyed (ENOSPC simulated)."""
    out = tmp_path / "audit"
    write_audit({"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"x": [2]})}, out)
    previous = snapshot(out)
    real_write, calls = os.write, []

    def full(fd, data):
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(outputs.os, "write", full)
    with pytest.raises(OutputError, match="disk is full"):
        write_audit({"a": pd.DataFrame({"x": [5]}), "b": pd.DataFrame({"x": [6]})}, out)
    monkeypatch.undo()
    assert snapshot(out) == previous and siblings(out) == []


def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.mark.skipif(not _can_mount(), reason="needs root and mount for a small tmpfs")
def test_a_real_full_disk_keeps_the_previous_output(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("mounting a tmpfs is not allowed here")
    try:
        out = disk / "lab"
        write_tables({"a": pd.DataFrame({"x": range(100)})}, out)
        previous = snapshot(out)
        big = pd.DataFrame({"text": ["满" * 50] * 20000})
        with pytest.raises(OutputError, match="disk is full"):
            write_tables({"a": big, "b": big}, out)
        assert snapshot(out) == previous and siblings(out) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from perfmodel.outputs import atomic_folder
    with atomic_folder(sys.argv[1]):
        Path(sys.argv[2]).write_text("ready")
        time.sleep(60)
    """
)


def test_a_second_concurrent_run_fails_at_once_and_a_dead_runs_lock_does_not_block(tmp_path):
    """Issue 10 #7: two reports into one folder raced, the last writer won."""
    out, ready = tmp_path / "lab", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out), str(ready)], env=env)
    try:
        for _ in range(300):
            if ready.exists():
                break
            time.sleep(0.05)
        # The holder keeps the lock until it is killed below: a second run that waited for the
        # lock would get it only then and raise nothing, so the error itself shows it did not wait.
        with pytest.raises(OutputError, match=rf"another perfmodel run \(process {holder.pid}\)"):
            write_tables({"t": pd.DataFrame({"x": [1]})}, out)
    finally:
        holder.kill()
        holder.wait()
    write_tables({"t": pd.DataFrame({"x": [1]})}, out)  # the killed holder's lock is gone with it
    assert (out / "t.csv").is_file() and siblings(out) == []


def test_quarterly_rerun_keeps_the_fairness_report_in_its_subfolder(tmp_path, monkeypatch, capsys, sample_pair):
    """The quarterly report links to fairness_audit/report.html; its own rerun must keep it."""
    obs, units = sample_pair

    def fake_run(notebook, out_dir, parameters, **options):
        (Path(out_dir) / "report.html").write_text(f"{Path(notebook).stem} {parameters['lang']}", encoding="utf-8")
        return SimpleNamespace(html=Path(out_dir) / "report.html", pdf=None, docx=None)

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    report = ("report", "--period", PERIOD, "--observations", obs, "--units", units, "--out", tmp_path / "r")
    assert run(capsys, *report)[0] == 0
    assert run(capsys, *report, "--notebook", "fairness_audit")[0] == 0
    period = tmp_path / "r" / FRAMEWORK / PERIOD / "zh"
    (period / "stale.png").write_text("from an earlier run", encoding="utf-8")
    assert run(capsys, *report, "--lang", "zh")[0] == 0
    assert (period / "report.html").read_text(encoding="utf-8") == "quarterly_evaluation zh"
    assert (period / "fairness_audit" / "report.html").read_text(encoding="utf-8") == "fairness_audit zh"
    assert not (period / "stale.png").exists()
    # the English report goes beside it, into its own language folder
    assert run(capsys, *report, "--lang", "en")[0] == 0
    english = tmp_path / "r" / FRAMEWORK / PERIOD / "en" / "report.html"
    assert english.read_text(encoding="utf-8") == "quarterly_evaluation en"
    assert (period / "report.html").read_text(encoding="utf-8") == "quarterly_evaluation zh"


def test_ctrl_c_is_one_line_exit_130_and_the_previous_report_stays(tmp_path, monkeypatch, capsys, sample_pair):
    """Issue 10 #12: Ctrl-C printed a traceback."""
    obs, units = sample_pair

    def fake_run(notebook, out_dir, parameters, **options):
        (Path(out_dir) / "report.html").write_text("half", encoding="utf-8")
        if interrupt:
            raise KeyboardInterrupt
        return SimpleNamespace(html=Path(out_dir) / "report.html", pdf=None, docx=None)

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    report = ("report", "--period", PERIOD, "--observations", obs, "--units", units, "--out", tmp_path / "r")
    interrupt = False
    assert run(capsys, *report)[0] == 0
    folder = tmp_path / "r" / FRAMEWORK / PERIOD / "zh"
    previous = snapshot(folder)
    interrupt = True
    code, _, err = run(capsys, "--quiet", *report)
    assert code == 130
    assert err.strip().count("\n") == 0 and "interrupted" in err
    assert snapshot(folder) == previous and siblings(folder) == []


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_validate_into_a_closed_pipe_still_writes_the_quarantine(toy, tmp_path, monkeypatch):
    """Issue 10 #12: `validate … | head` wrote no quarantine file."""
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    target = tmp_path / "q.csv"
    code = cli.main(
        [
            "validate",
            "--observations",
            str(toy.obs),
            "--units",
            str(toy.units),
            "--framework",
            FRAMEWORK,
            "--quarantine",
            str(target),
        ]
    )
    assert code == 1 and target.is_file()


def test_validate_piped_into_a_closed_reader_has_no_traceback(toy, tmp_path):
    target = tmp_path / "q.csv"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "perfmodel.cli",
            "validate",
            "--observations",
            toy.obs,
            "--units",
            toy.units,
            "--framework",
            FRAMEWORK,
            "--quarantine",
            target,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    process.stdout.close()  # like `| head` exiting before perfmodel prints
    err = process.stderr.read().decode()
    process.wait()
    assert "Traceback" not in err and target.is_file()


# ============================================================ 4. containment
@pytest.mark.parametrize("framework_id", ["../../../x", "/tmp/elsewhere", "a/../../..", ".."])
def test_report_folder_stays_inside_out(tmp_path, framework_id):
    """Issue 10 #5: a framework id of ../../../x or an absolute path escaped --out."""
    notebook = Path("quarterly_evaluation.ipynb")
    with pytest.raises(PerfmodelError):
        cli.report_folder(tmp_path / "reports", framework_id, PERIOD, notebook)
    inside = cli.report_folder(tmp_path / "reports", FRAMEWORK, PERIOD, Path("fairness_audit.ipynb"), "en")
    assert inside == (tmp_path / "reports").resolve() / FRAMEWORK / PERIOD / "en" / "fairness_audit"


def test_a_framework_id_cannot_move_the_report_out_of_out(tmp_path, monkeypatch, capsys, sample_pair):
    obs, units = sample_pair
    text = (REPO / "perfmodel" / "frameworks" / f"{FRAMEWORK}.yaml").read_text(encoding="utf-8")
    custom = tmp_path / "escape.yaml"
    custom.write_text(text.replace(f"id: {FRAMEWORK}", "id: ../../../escape", 1), encoding="utf-8")
    calls = []
    monkeypatch.setattr(runner, "run_notebook", lambda *a, **k: calls.append(a))
    code, _, err = run(
        capsys,
        "report",
        "--period",
        PERIOD,
        "--framework",
        custom,
        "--observations",
        obs,
        "--units",
        units,
        "--out",
        tmp_path / "deep" / "r",
    )
    assert code != 0 and calls == [] and "Traceback" not in err
    assert not (tmp_path / "escape").exists() and not (tmp_path / "deep" / "escape").exists()


def test_check_inside_sees_through_symlinks(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "fw").symlink_to(tmp_path)
    with pytest.raises(OutputError, match="outside the output folder"):
        outputs.check_inside(tmp_path / "out" / "fw" / "x", tmp_path / "out")


# ============================================================ 5. byte-identical reruns
def test_the_same_table_written_twice_gives_identical_bytes(tmp_path):
    """Issue 10 #11: XLSX differed by its modified stamp (and zip member times)."""
    frame = pd.DataFrame({"unit": ["甲", "=x"], "score": [1.5, -2.0]})
    names = ["t.csv", "t.csv.gz", "t.tsv", "t.xlsx", "t.parquet"]
    first = {name: write_table(frame, tmp_path / "a" / name).read_bytes() for name in names}
    time.sleep(2.1)  # zip times have a 2-second resolution; stamps have one second
    second = {name: write_table(frame, tmp_path / "b" / name).read_bytes() for name in names}
    assert first == second
    members = zipfile.ZipFile(io.BytesIO(first["t.xlsx"])).infolist()
    assert {m.date_time for m in members} == {(1980, 1, 1, 0, 0, 0)}


def test_styled_tables_have_ids_derived_from_their_content():
    """Issue 10 #11: report.html had random table ids (pandas Styler uuid)."""
    from perfmodel.report.render import reset_table_ids

    frame = pd.DataFrame({"派出所": ["甲"], "得分": [81.25]})
    reset_table_ids()  # a report kernel starts from table 1
    first = styled(frame).to_html()
    reset_table_ids()
    assert first == styled(frame.copy()).to_html()
    assert "T_t1_" in first


def test_executed_notebook_loses_run_times_addresses_and_random_ids():
    nb = nbformat.v4.new_notebook(
        metadata={
            "papermill": {
                "start_time": "2026-12-06T12:00:00",
                "end_time": "x",
                "duration": 3.2,
                "input_path": "/home/someone/nb.ipynb",
                "output_path": "/tmp/.2025Q2.tmp-77/nb.ipynb",
            }
        }
    )
    cell = nbformat.v4.new_code_cell(
        "x",
        metadata={"papermill": {"start_time": "t", "status": "completed"}, "execution": {"iopub.execute_input": "t"}},
    )
    html = '<style>#T_ab12c_row0_col0 {}</style><table id="T_ab12c"><td id="T_ab12c_row0_col0">'
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": html, "text/plain": "<pandas.io.formats.style.Styler at 0x7f3a12>"}
        )
    ]
    nb.cells = [cell]
    runner.normalise_executed(nb, notebook_name="nb.ipynb", executed_name="nb.ipynb")
    text = nbformat.writes(nb)
    for gone in ("2026-12-06", "duration", "end_time", "/home/someone", "tmp-77", "ab12c", "0x7f3a12", "iopub"):
        assert gone not in text
    assert cell.outputs[0].data["text/html"].count("T_s1") == 3
    assert cell.metadata["papermill"] == {"status": "completed"}


# ============================================================ 6. provenance
def test_report_provenance_hashes_a_custom_framework_with_relative_paths(tmp_path, monkeypatch, capsys, sample_pair):
    """Issue 10 #10: provenance recorded absolute paths and did not hash a custom framework file."""
    obs, units = sample_pair
    custom = tmp_path / "my_framework.yaml"
    shutil.copy(REPO / "perfmodel" / "frameworks" / f"{FRAMEWORK}.yaml", custom)
    seen = {}

    def fake_run(notebook, out_dir, parameters, *, inputs, **options):
        seen.update(parameters=parameters, record=build_provenance(inputs, parameters))
        return SimpleNamespace(html=None, pdf=None, docx=None)

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    monkeypatch.chdir(tmp_path)
    assert (
        run(
            capsys,
            "report",
            "--period",
            PERIOD,
            "--framework",
            custom,
            "--observations",
            obs,
            "--units",
            units,
            "--out",
            "r",
        )[0]
        == 0
    )
    record = seen["record"]
    assert record["inputs"]["framework"]["sha256"] == hashlib.sha256(custom.read_bytes()).hexdigest()
    assert record["inputs"]["framework"]["path"] == "my_framework.yaml"
    for entry in record["inputs"].values():
        assert not Path(entry["path"]).is_absolute()
    for value in seen["parameters"].values():
        assert not (isinstance(value, str) and Path(value).is_absolute())
    assert not Path(record["python"]["executable"]).is_absolute()


def test_source_date_epoch_fixes_the_recorded_run_time(tmp_path, monkeypatch):
    data = tmp_path / "x.csv"
    data.write_text("a\n", encoding="utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1750000000")
    first = build_provenance({"x": data}, {})
    assert first["timestamp_utc"] == "2025-06-15T15:06:40Z"
    assert build_provenance({"x": data}, {}) == first


def test_a_failed_report_is_kept_aside_and_named_in_the_error(tmp_path, monkeypatch, capsys, sample_pair):
    """The partial notebook of a failed run is kept for inspection, outside the report folder."""
    obs, units = sample_pair

    def fake_run(notebook, out_dir, parameters, **options):
        partial = Path(out_dir) / "quarterly_evaluation.ipynb"
        partial.write_text("{}", encoding="utf-8")
        raise runner.ReportExecutionError(f"cell 3 failed; partial notebook at {partial}", notebook_path=partial)

    report = ("report", "--period", PERIOD, "--observations", obs, "--units", units, "--out", tmp_path / "r")
    monkeypatch.setattr(runner, "run_notebook", fake_run)
    code, _, err = run(capsys, *report)
    failed = tmp_path / "r" / FRAMEWORK / PERIOD / ".zh.failed" / "quarterly_evaluation.ipynb"
    assert code == 1 and str(failed) in err and failed.is_file()
    assert not (tmp_path / "r" / FRAMEWORK / PERIOD / "zh").exists()  # no report folder from a failed run


@pytest.mark.notebook
def test_the_same_notebook_run_twice_gives_identical_html_and_executed_notebook(tmp_path):
    """Issue 10 #11: report.html differed between identical runs (random Styler ids, run times)."""
    notebook = tmp_path / "styled.ipynb"
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
    )
    nb.cells = [
        nbformat.v4.new_code_cell('title = "季度"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import pandas as pd\nframe = pd.DataFrame({'派出所': ['甲', '乙'], 'x': [1.5, -2]})\n"
            "display(frame.style.highlight_max())\nframe"
        ),
        nbformat.v4.new_code_cell("print(title)"),
    ]
    nbformat.write(nb, notebook)
    runs = [
        runner.run_notebook(notebook, tmp_path / name, {"title": "二季度"}, cwd=tmp_path, timeout=120)
        for name in ("a", "b")
    ]
    assert runs[0].html.read_bytes() == runs[1].html.read_bytes()
    assert runs[0].executed_notebook.read_bytes() == runs[1].executed_notebook.read_bytes()
    assert "T_s1" in runs[0].html.read_text(encoding="utf-8")
