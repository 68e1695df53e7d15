"""Provenance records: hashes, git commit, versions, JSON output."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from perfmodel.errors import PerfmodelError
from perfmodel.report import (
    build_provenance,
    file_sha256,
    git_commit,
    package_versions,
    write_provenance,
)
from perfmodel.report import provenance as prov

SHA_A = "a" * 40
SHA_B = "b" * 40


@pytest.fixture(autouse=True)
def _no_git_executable(monkeypatch):
    """Tests never run git: the checkout may be committed to concurrently."""
    calls = []

    def fake_dirty(work_tree):
        calls.append(Path(work_tree))
        return False

    monkeypatch.setattr(prov, "_git_dirty", fake_dirty)
    return calls


def _fake_repo(root: Path, head: str, refs: dict[str, str] | None = None, packed: str = "") -> Path:
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head + "\n", encoding="utf-8")
    for name, sha in (refs or {}).items():
        ref = git / name
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(sha + "\n", encoding="utf-8")
    if packed:
        (git / "packed-refs").write_text(packed, encoding="utf-8")
    return root


def test_file_sha256_matches_hashlib_across_chunks(tmp_path):
    data = bytes(range(256)) * 9000 + "派出所".encode()  # > 2 MiB: several read chunks
    path = tmp_path / "obs.csv"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()


def test_git_commit_none_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) is None


def test_git_commit_reads_branch_ref(tmp_path, _no_git_executable):
    repo = _fake_repo(tmp_path, "ref: refs/heads/main", {"refs/heads/main": SHA_A})
    sub = repo / "notebooks"
    sub.mkdir()
    assert git_commit(sub) == {"commit": SHA_A, "dirty": False}
    assert _no_git_executable == [repo.resolve()]


def test_git_commit_packed_refs_detached_and_unborn(tmp_path):
    packed = f"# pack-refs with: peeled fully-peeled sorted\n{SHA_B} refs/heads/release\n^{SHA_A}\n"
    repo = _fake_repo(tmp_path / "p", "ref: refs/heads/release", packed=packed)
    assert git_commit(repo)["commit"] == SHA_B

    repo = _fake_repo(tmp_path / "d", SHA_A)
    assert git_commit(repo)["commit"] == SHA_A

    repo = _fake_repo(tmp_path / "u", "ref: refs/heads/main")  # no commits yet
    assert git_commit(repo) == {"commit": None, "dirty": None}


def test_git_commit_follows_gitdir_file_of_a_worktree(tmp_path):
    main = _fake_repo(tmp_path / "main", "ref: refs/heads/main", {"refs/heads/feature": SHA_B})
    wt_git = main / ".git" / "worktrees" / "wt"
    wt_git.mkdir(parents=True)
    (wt_git / "HEAD").write_text("ref: refs/heads/feature\n", encoding="utf-8")
    (wt_git / "commondir").write_text("../..\n", encoding="utf-8")
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {wt_git}\n", encoding="utf-8")
    assert git_commit(worktree)["commit"] == SHA_B


def test_git_dirty_runs_read_only_status(monkeypatch, tmp_path):
    monkeypatch.undo()  # use the real _git_dirty, with subprocess.run faked
    seen = {}

    def fake_run(cmd, **kwargs):
        seen.update(cmd=cmd, **kwargs)
        return subprocess.CompletedProcess(cmd, 0, stdout=" M perfmodel/x.py\n", stderr="")

    monkeypatch.setattr(prov.subprocess, "run", fake_run)
    assert prov._git_dirty(tmp_path) is True
    assert seen["cmd"] == ["git", "status", "--porcelain", "--untracked-files=no"]
    assert seen["env"]["GIT_OPTIONAL_LOCKS"] == "0"
    assert seen["cwd"] == tmp_path

    monkeypatch.setattr(prov.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, "", ""))
    assert prov._git_dirty(tmp_path) is False

    def no_git(cmd, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(prov.subprocess, "run", no_git)
    assert prov._git_dirty(tmp_path) is None


def test_package_versions():
    versions = package_versions()
    assert list(versions) == list(prov.DEFAULT_PACKAGES)
    assert versions["perfmodel"] == metadata.version("perfmodel")
    assert versions["matplotlib"] == metadata.version("matplotlib")
    assert versions["scikit-learn"] is None or re.match(r"\d", versions["scikit-learn"])
    assert package_versions(["surely-not-installed-pkg-xyz"]) == {"surely-not-installed-pkg-xyz": None}


@pytest.fixture
def inputs(tmp_path):
    obs = tmp_path / "observations.csv"
    obs.write_text("派出所,得分\n第1派出所,90.5\n", encoding="utf-8")
    units = tmp_path / "units.csv"
    units.write_bytes(b"unit_id\n1\n2\n")
    return {"observations": obs, "units": units}


def test_build_provenance_content(inputs):
    params = {"period": "2025Q2", "n": 3, "weights": (0.5, 0.5), "out": Path("reports")}
    record = build_provenance(inputs, params, extra={"框架": "四维"})
    for name, path in inputs.items():
        entry = record["inputs"][name]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["size_bytes"] == len(path.read_bytes())
        assert entry["path"] == Path(os.path.relpath(path)).as_posix()  # relative to the working folder
        assert not Path(entry["path"]).is_absolute()
    assert record["parameters"] == {
        "period": "2025Q2",
        "n": 3,
        "weights": [0.5, 0.5],
        "out": "reports",
    }
    assert record["packages"]["perfmodel"] == metadata.version("perfmodel")
    assert set(prov.DEFAULT_PACKAGES) <= set(record["packages"])
    assert record["python"]["version"] == platform.python_version()
    assert record["platform"]["system"] == platform.system()
    assert record["extra"] == {"框架": "四维"}
    assert record["schema"] == "perfmodel.provenance/1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["timestamp_utc"])
    # the perfmodel checkout's commit, or None when installed outside git
    assert record["git"] is None or set(record["git"]) == {"commit", "dirty"}
    json.dumps(record)  # plain JSON types only


def test_only_the_timestamp_differs_between_runs(inputs, monkeypatch):
    first = build_provenance(inputs, {"n": 3})
    later = prov.datetime(2031, 1, 2, 3, 4, 5, tzinfo=prov.UTC)

    class FrozenDatetime(prov.datetime):
        @classmethod
        def now(cls, tz=None):
            return later

    monkeypatch.setattr(prov, "datetime", FrozenDatetime)
    second = build_provenance(inputs, {"n": 3})
    assert second["timestamp_utc"] == "2031-01-02T03:04:05Z"
    assert {k for k in first if first[k] != second[k]} == {"timestamp_utc"}


def test_build_provenance_rejects_missing_input_and_non_json(tmp_path, inputs):
    with pytest.raises(FileNotFoundError, match="'rates'") as missing:
        build_provenance({"rates": tmp_path / "nope.csv"}, {})
    with pytest.raises(TypeError, match="nan") as not_json:
        build_provenance(inputs, {"alpha": math.nan})
    # the user's mistakes, so PerfmodelErrors the CLI shows as one line (issue 12)
    assert isinstance(missing.value, PerfmodelError) and isinstance(not_json.value, PerfmodelError)
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        build_provenance(inputs, {"f": object()})


def test_write_provenance_sorted_indented_utf8(tmp_path, inputs):
    record = build_provenance(inputs, {"单位": "派出所", "b": 1, "a": 2})
    path = write_provenance(tmp_path / "sub" / "provenance.json", record)
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    assert "派出所" in text and "\\u" not in text  # ensure_ascii=False
    assert text.endswith("}\n")
    assert json.loads(text) == record
    assert text == json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    top_keys = re.findall(r'^  "([^"]+)":', text, flags=re.MULTILINE)
    assert top_keys == sorted(top_keys)
