"""Where and how perfmodel writes its outputs: inputs are never touched, runs are whole.

Four guarantees, each enforced here and nowhere else:

* **Inputs are sacred.** :func:`claim_file` and :func:`atomic_folder` refuse an
  output path that resolves (symlinks followed) to an input file of the run, and
  a run folder that would contain an input.
* **Only perfmodel's own files are replaced.** A folder perfmodel made holds a
  manifest, :data:`MARKER` (``.perfmodel-run``, JSON). A file that already exists
  at an output path is replaced only when such a manifest says perfmodel wrote it
  (it lists the file, or an enclosing folder was made by perfmodel). Anything
  else is refused with the fix.
* **Symlinks are never followed.** Files are written to a fresh temporary name
  (``O_CREAT | O_EXCL | O_NOFOLLOW``) and renamed over the target with
  :func:`os.replace`, which replaces a planted link itself, not its target.
* **Runs are atomic and complete.** :func:`atomic_folder` lets a run write into a
  temporary sibling ``.<name>.tmp-<pid>`` and swaps it into place only when the
  whole run succeeded: the old folder is renamed to ``.<name>.old``, the new one
  to ``<name>``, then the old one is removed. A failed, interrupted, killed or
  disk-full run leaves the previous folder untouched, and a new folder never
  holds files of an earlier run. Between the two renames (two system calls, a
  few microseconds) ``<name>`` does not exist; if the process dies exactly there,
  the next run moves ``.<name>.old`` back before doing anything else. A lock
  (``fcntl.flock`` on ``.<name>.lock`` beside the folder) makes a second
  concurrent run into the same folder fail at once; the kernel releases it when
  the process dies, so a killed run never blocks the next one.

The threat model and how each guarantee is tested: ``docs/security.md``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from perfmodel.errors import PerfmodelError

__all__ = [
    "MARKER",
    "OutputError",
    "atomic_folder",
    "check_inside",
    "claim_file",
    "is_perfmodel_folder",
    "record_file",
    "write_bytes",
]

MARKER = ".perfmodel-run"
"""Manifest file in every folder perfmodel made or wrote single files into."""

_SCHEMA = "perfmodel.outputs/1"
_BACKUP = ".{name}.old"
_STAGING = ".{name}.tmp-{pid}"
_FAILED = ".{name}.failed"
_LOCK = ".{name}.lock"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class OutputError(PerfmodelError, ValueError):
    """An output path perfmodel refuses to write, or a run folder that is busy."""


# ---------------------------------------------------------------- checks
def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_inside(path: str | os.PathLike[str], root: str | os.PathLike[str], *, what: str = "output") -> Path:
    """``path`` made absolute, after checking it stays inside ``root``.

    Both are resolved (``..`` and symlinks), so ``<out>/../../x``, an absolute
    path and a symlink pointing elsewhere are all caught, whatever produced the
    name (a framework id, a period label, a notebook name).

    Raises
    ------
    OutputError
        Naming both paths.
    """
    resolved, base = _real(path), _real(root)
    if not _inside(resolved, base):
        raise OutputError(
            f"{what} path {os.fspath(path)!r} resolves to {resolved}, outside the output folder {base}",
            "framework ids, periods and notebook names must not contain '..' or '/'; check the framework's 'id'",
        )
    return Path(os.path.abspath(path))


def _check_not_input(path: Path, inputs: Iterable[str | os.PathLike[str]], *, folder: bool = False) -> None:
    target = _real(path)
    for given in inputs:
        source = _real(given)
        if source == target or (folder and _inside(source, target)):
            relation = "is" if source == target else "contains"
            raise OutputError(
                f"output {os.fspath(path)!r} {relation} the input file {os.fspath(given)!r}; "
                "perfmodel never overwrites its inputs",
                "choose another output path",
            )


def _manifest(folder: Path) -> dict | None:
    marker = folder / MARKER
    try:
        if not marker.is_file() or marker.is_symlink():
            return None
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == _SCHEMA else None


def is_perfmodel_folder(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` (not a symlink) was made by perfmodel: its manifest says so."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    data = _manifest(folder)
    return bool(data and data.get("made_by_perfmodel"))


def _owned(path: Path) -> bool:
    """Whether an existing ``path`` was written by perfmodel (a manifest says so)."""
    parent = path.parent
    data = _manifest(parent)
    if data and path.name in data.get("files", []):
        return True
    return any(is_perfmodel_folder(folder) for folder in (parent, *parent.parents))


def claim_file(path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Check that perfmodel may write the single file ``path``; return it absolute.

    Allowed: a new file, or a file perfmodel wrote before (see :data:`MARKER`).
    Refused: an input of the run (also through a symlink), a folder, or an
    existing file perfmodel did not write. A symlink at ``path`` is allowed when
    it does not lead to an input: writing replaces the link, not its target.

    Raises
    ------
    OutputError
        Naming the path and the fix.
    """
    target = Path(os.path.abspath(path))
    _check_not_input(target, inputs)
    if target.is_dir() and not target.is_symlink():
        raise OutputError(f"output {os.fspath(path)!r} is a folder; give a file name", "")
    if target.exists() and not target.is_symlink() and not _owned(target):
        raise OutputError(
            f"output {os.fspath(path)!r} already exists and was not written by perfmodel; it is left untouched",
            "delete or rename it yourself, or choose another output path",
        )
    return target


def record_file(path: str | os.PathLike[str]) -> None:
    """Note in the manifest of ``path``'s folder that perfmodel wrote ``path``."""
    target = Path(os.path.abspath(path))
    folder = target.parent
    data = _manifest(folder) or {"schema": _SCHEMA, "made_by_perfmodel": False, "files": []}
    files = sorted({*data.get("files", []), target.name})
    if files != data.get("files"):
        data["files"] = files
        write_bytes(folder / MARKER, _manifest_bytes(data))


def _manifest_bytes(data: dict) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------- single files
def write_bytes(path: str | os.PathLike[str], data: bytes | Callable[[int], None]) -> Path:
    """Write ``path`` atomically without following symlinks; return it.

    The bytes go to a new hidden file in the same folder, opened with
    ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a planted file or link at that name is an
    error, not a target), are flushed to disk, and the file is renamed over
    ``path`` with :func:`os.replace`. If anything fails (a full disk, an
    interrupt) the temporary file is removed and ``path`` keeps its old content.

    Parameters
    ----------
    path
        The file to write; missing parent folders are created.
    data
        The content, or a function that writes it to the open file descriptor.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".tmp-{os.getpid()}.{target.name}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    with contextlib.suppress(FileNotFoundError):
        if temporary.is_symlink() or temporary.is_file():
            temporary.unlink()  # left by a killed run with the same pid
    fd = os.open(temporary, flags, 0o644)
    try:
        try:
            if callable(data):
                data(fd)
            else:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return target


# ---------------------------------------------------------------- run folders
@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.<name>.lock`` beside ``folder``; fail at once if taken."""
    lock_path = folder.parent / _LOCK.format(name=folder.name)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        fd = os.open(lock_path, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise OutputError(
                f"another perfmodel run (process {holder}) is writing {folder} right now",
                "wait for it to finish, or write to another --out folder",
            ) from None
        # The previous holder may have removed the lock file after we opened it.
        try:
            same = os.stat(lock_path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _recover_and_clean(final: Path) -> None:
    """Undo a swap a dead run left half done; remove its temporary folders (lock held)."""
    parent, name = final.parent, final.name
    backup = parent / _BACKUP.format(name=name)
    if not os.path.lexists(final) and backup.is_dir() and not backup.is_symlink():
        os.rename(backup, final)
    for leftover in parent.glob(glob.escape(_STAGING.format(name=name, pid="")) + "*"):
        _remove(leftover)
    if os.path.lexists(backup):
        _remove(backup)


def _replaceable(final: Path) -> bool:
    """A folder a new run may replace: missing, empty, made by perfmodel, or holding only such folders."""
    if not os.path.lexists(final):
        return True
    if final.is_symlink() or not final.is_dir():
        return False
    if is_perfmodel_folder(final):
        return True
    return all(is_perfmodel_folder(entry) or _run_artefact(entry.name) for entry in final.iterdir())


def _run_artefact(name: str) -> bool:
    """Whether ``name`` is a staging, backup, failed-run or lock entry of a run inside a folder."""
    return name.startswith(".") and (".tmp-" in name or name.endswith((".old", ".failed", ".lock")))


def _listing(folder: Path) -> list[str]:
    """Files of the run in ``folder``, relative; subfolders that are runs of their own are left out."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name == MARKER or (entry.is_dir() and (entry / MARKER).exists()):
            continue
        if entry.is_dir() and not entry.is_symlink():
            found += [f"{entry.name}/{name}" for name in _listing(entry)]
        else:
            found.append(entry.name)
    return found


@contextlib.contextmanager
def atomic_folder(
    final: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    lock: str | os.PathLike[str] | None = None,
    keep_subruns: bool = False,
    keep_failed: bool = False,
) -> Iterator[Path]:
    """Let a run write a whole folder; it replaces ``final`` only if the run succeeds.

    Yields an empty temporary folder beside ``final`` (``.<name>.tmp-<pid>``).
    When the ``with`` block ends normally, a manifest (:data:`MARKER`) listing
    every file is added and the folder is swapped into place (see the module
    docstring). When it raises -- an error, ``KeyboardInterrupt``, a full disk --
    the temporary folder is removed and ``final`` is left as it was.

    Parameters
    ----------
    final
        The run's folder. It must be missing, empty or made by perfmodel;
        a folder of the user's own is refused, never replaced.
    inputs
        The run's input files: ``final`` may not be or contain any of them.
    lock
        The folder whose lock serialises runs (default ``final``). Report
        notebooks that write a subfolder of the quarterly report's folder lock
        that folder, so they never swap while it is being swapped.
    keep_subruns
        Copy the subfolders of the previous ``final`` that are runs of their own
        (they hold a manifest) into the new folder before the run starts, so a
        rerun keeps the reports that other runs wrote inside it.
    keep_failed
        On a :class:`~perfmodel.errors.PerfmodelError`, keep the temporary folder
        as ``.<name>.failed`` for inspection (and name it in the error message)
        instead of removing it.

    Raises
    ------
    OutputError
        ``final`` is an input, holds one, is not perfmodel's, or another run
        holds the lock.
    """
    final = Path(os.path.abspath(final))
    parent = final.parent
    _check_not_input(final, inputs, folder=True)
    parent.mkdir(parents=True, exist_ok=True)
    lock_folder = Path(os.path.abspath(lock)) if lock is not None else final
    lock_folder.parent.mkdir(parents=True, exist_ok=True)
    with _lock(lock_folder):
        _recover_and_clean(final)
        if not _replaceable(final):
            raise OutputError(
                f"output folder {final} exists and was not made by perfmodel; it is left untouched",
                "delete or rename it yourself, or choose another --out folder",
            )
        staging = parent / _STAGING.format(name=final.name, pid=os.getpid())
        staging.mkdir()
        try:
            if keep_subruns and final.is_dir():
                for entry in sorted(final.iterdir()):
                    if is_perfmodel_folder(entry):
                        shutil.copytree(entry, staging / entry.name, symlinks=True)
            yield staging
            manifest = {"schema": _SCHEMA, "made_by_perfmodel": True, "files": _listing(staging)}
            write_bytes(staging / MARKER, _manifest_bytes(manifest))
            _fsync_folder(staging)
        except BaseException as exc:
            if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
                shutil.rmtree(staging, ignore_errors=True)
                raise OutputError(
                    f"the disk is full while writing {final} ({exc.strerror}); the previous output is kept as it was",
                    "free some space and run again",
                ) from exc
            if keep_failed and isinstance(exc, PerfmodelError):
                failed = parent / _FAILED.format(name=final.name)
                with contextlib.suppress(OSError):
                    if os.path.lexists(failed):
                        _remove(failed)
                    os.rename(staging, failed)
                    _point_to(exc, staging, failed)
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            raise
        _swap(staging, final)


def _swap(staging: Path, final: Path) -> None:
    backup = final.parent / _BACKUP.format(name=final.name)
    if os.path.lexists(final):
        os.rename(final, backup)  # renames a symlink itself, never its target
        os.rename(staging, final)
        _remove(backup)
    else:
        os.rename(staging, final)
    _fsync_folder(final.parent)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _point_to(exc: BaseException, old: Path, new: Path) -> None:
    """Make the paths in ``exc``'s message (and ``notebook_path``) name the kept folder."""
    exc.args = tuple(a.replace(str(old), str(new)) if isinstance(a, str) else a for a in exc.args)
    path = getattr(exc, "notebook_path", None)  # report errors carry the executed notebook's path
    if isinstance(path, Path) and _inside(path, old):
        carrier: Any = exc  # an exception of the report layer, which this layer does not import
        carrier.notebook_path = new / path.relative_to(old)
