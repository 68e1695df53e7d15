"""Provenance records: which inputs, parameters and software produced a report.

A provenance record is a JSON-serialisable dict. Two records built from the same
inputs, parameters, software and checkout differ only in ``timestamp_utc``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from perfmodel.errors import MissingFileError, OptionTypeError

__all__ = [
    "DEFAULT_PACKAGES",
    "PROVENANCE_SCHEMA",
    "build_provenance",
    "file_sha256",
    "git_commit",
    "jsonable",
    "package_versions",
    "relative_path",
    "run_time",
    "write_provenance",
]

PROVENANCE_SCHEMA = "perfmodel.provenance/1"

DEFAULT_PACKAGES: tuple[str, ...] = (
    "perfmodel",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "scikit-learn",
    "matplotlib",
    "papermill",
    "nbconvert",
)

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 digest of the file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- git


def _find_git_dir(start: Path) -> tuple[Path, Path] | None:
    """Return ``(git_dir, work_tree)`` for the checkout containing *start*, if any."""
    start = start.resolve()
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git, folder
        if dot_git.is_file():  # worktree or submodule: "gitdir: <path>"
            text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                git_dir = Path(text.removeprefix("gitdir:").strip())
                if not git_dir.is_absolute():
                    git_dir = (folder / git_dir).resolve()
                return git_dir, folder
    return None


def _read_ref(git_dir: Path, ref: str) -> str | None:
    """Resolve *ref* (e.g. ``refs/heads/main``) from loose refs or ``packed-refs``."""
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():  # linked worktree: branches live in the main repository
        common = (git_dir / commondir.read_text(encoding="utf-8").strip()).resolve()
    for base in dict.fromkeys((git_dir, common)):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8").strip()
            if value.startswith("ref:"):
                return _read_ref(git_dir, value.removeprefix("ref:").strip())
            return value or None
    for base in dict.fromkeys((git_dir, common)):
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                if line.startswith(("#", "^")) or " " not in line:
                    continue
                sha, name = line.split(" ", 1)
                if name.strip() == ref:
                    return sha
    return None


def _git_dirty(work_tree: Path) -> bool | None:
    """True if tracked files differ from HEAD; None if git is unavailable or fails.

    Runs ``git status --porcelain --untracked-files=no`` read-only:
    ``GIT_OPTIONAL_LOCKS=0`` stops git from refreshing (and locking) the index, so
    this never interferes with a concurrent commit.
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=work_tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return bool(result.stdout.strip())


def git_commit(repo_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Commit checked out at *repo_dir* as ``{"commit": sha | None, "dirty": bool | None}``.

    Returns ``None`` when *repo_dir* is not inside a git checkout. The commit is read
    from ``.git`` directly (no git executable needed); it is ``None`` in a repository
    without commits. ``dirty`` says whether tracked files have uncommitted changes
    (untracked files are ignored) and is ``None`` when the git executable is missing
    or fails.
    """
    found = _find_git_dir(Path(repo_dir))
    if found is None:
        return None
    git_dir, work_tree = found
    head_file = git_dir / "HEAD"
    if not head_file.is_file():
        return None
    head = head_file.read_text(encoding="utf-8").strip()
    if head.startswith("ref:"):
        commit = _read_ref(git_dir, head.removeprefix("ref:").strip())
    else:  # detached HEAD
        commit = head or None
    dirty = _git_dirty(work_tree) if commit is not None else None
    return {"commit": commit, "dirty": dirty}


# ---------------------------------------------------------------------- versions


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in *names* (``None`` if not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# --------------------------------------------------------------------- building


def jsonable(value: Any, *, _where: str = "value") -> Any:
    """Convert *value* to plain JSON types (dict/list/str/int/float/bool/None).

    Paths become strings, tuples/sets become lists (sets sorted), mappings need string
    keys, numpy scalars become Python scalars. Non-finite floats and other objects
    raise :class:`TypeError`, because JSON cannot represent them faithfully.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OptionTypeError(f"{_where} is {value!r}, which JSON cannot represent")
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise OptionTypeError(f"{_where} has a non-string key {key!r}")
            out[key] = jsonable(item, _where=f"{_where}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item, _where=f"{_where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(item, _where=f"{_where} item") for item in value)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return jsonable(value.item(), _where=_where)
    raise OptionTypeError(f"{_where} of type {type(value).__name__} is not JSON-serialisable")


def _package_repo_dir() -> Path:
    """Folder that holds the perfmodel package (the checkout root for editable installs)."""
    import perfmodel

    return Path(perfmodel.__file__).resolve().parent.parent


def relative_path(path: str | os.PathLike[str], start: str | os.PathLike[str] | None = None) -> str:
    """``path`` relative to ``start`` (default: the working folder), with ``/`` separators.

    Provenance records never hold absolute paths: they would reveal user and
    machine names, and would differ between two checkouts of the same project.

    Examples
    --------
    >>> relative_path("/data/obs.csv", "/data/reports")
    '../obs.csv'
    """
    base = os.path.abspath(start if start is not None else os.getcwd())
    try:
        relative = os.path.relpath(os.path.abspath(path), base)
    except ValueError:  # another drive on Windows: no relative path exists
        return Path(os.path.abspath(path)).as_posix()
    return Path(relative).as_posix()


def build_provenance(
    inputs: Mapping[str, str | os.PathLike[str]],
    parameters: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a provenance record.

    Parameters
    ----------
    inputs
        Name -> path of every input file (a custom framework YAML file included).
        Each is recorded with its path relative to the working folder
        (:func:`relative_path`), SHA-256 and size in bytes. A missing file raises
        :class:`FileNotFoundError`.
    parameters
        Run parameters, recorded as given (converted by :func:`jsonable`).
    extra
        Optional further JSON-like facts, recorded under ``"extra"``.

    Returns
    -------
    dict
        Keys: ``schema``, ``inputs``, ``parameters``, ``packages``, ``python``,
        ``platform``, ``git`` (commit of the perfmodel checkout, ``None`` outside git),
        ``extra`` and ``timestamp_utc`` -- the only field that changes between two runs
        on the same inputs (fixed by ``SOURCE_DATE_EPOCH``, see :func:`run_time`).
    """
    input_records: dict[str, dict[str, Any]] = {}
    for name, raw_path in inputs.items():
        path = Path(raw_path)
        if not path.is_file():
            raise MissingFileError(f"provenance input {name!r}: no such file {path}")
        input_records[str(name)] = {
            "path": relative_path(raw_path),
            "sha256": file_sha256(path),
            "size_bytes": path.stat().st_size,
        }
    return {
        "schema": PROVENANCE_SCHEMA,
        "inputs": input_records,
        "parameters": jsonable(dict(parameters), _where="parameters"),
        "packages": package_versions(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": relative_path(sys.executable),
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
        "git": git_commit(_package_repo_dir()),
        "extra": jsonable(dict(extra or {}), _where="extra"),
        "timestamp_utc": run_time().isoformat().replace("+00:00", "Z"),
    }


def run_time() -> datetime:
    """The time a run is recorded at: now (UTC, whole seconds), or ``SOURCE_DATE_EPOCH``.

    ``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds convention)
    fixes the recorded time, so that two runs give byte-identical provenance too.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def write_provenance(path: str | os.PathLike[str], provenance: Mapping[str, Any]) -> Path:
    """Write *provenance* as UTF-8 JSON (sorted keys, 2-space indent, non-ASCII kept), atomically."""
    from perfmodel.outputs import write_bytes

    text = json.dumps(jsonable(provenance), sort_keys=True, indent=2, ensure_ascii=False)
    return write_bytes(Path(path), (text + "\n").encode("utf-8"))
