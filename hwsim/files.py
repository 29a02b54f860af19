"""Atomic file writes: a failed write leaves the old file intact and no partial file behind.

Every file hwsim writes (``hwsim quantize`` outputs, ``--json``/``--csv`` reports, plots, the
tour/compare tables, the bridge's model cache) goes through :func:`atomic_write` or
:func:`atomic_path`: the bytes go to a temporary file in the destination's own folder (so the
final rename never crosses a file system), which is flushed, ``fsync``-ed and ``os.replace``-d
onto the destination (POSIX ``rename(2)`` is atomic: readers see the old file or the new one,
never half of one). If anything fails on the way (a full disk, ``ulimit -f``, an exception in the
writer) the temporary file is removed and the destination is untouched, even when the
destination is also the input being read (``hwsim quantize x.npy x.npy``).

:func:`check_writable` is the pre-flight check the CLI runs on every output path *before* it
computes anything, so a bad path fails in a second, not after an hour of simulation.

Sits beside :mod:`hwsim.errors` at the bottom of the layers: imports nothing above it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from hwsim.errors import HwsimError

__all__ = ["OutputError", "atomic_write", "atomic_path", "write_text", "check_writable"]


class OutputError(HwsimError, OSError):
    """An output file cannot be written (bad folder, no permission, full disk); names the path
    (also in ``filename``)."""

    def __init__(self, message: str, path: str | os.PathLike[str]):
        super().__init__(message)
        self.filename = str(path)

    def __str__(self) -> str:
        return str(self.args[0])


def _fail(path: Path, exc: BaseException) -> OutputError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return OutputError(f"cannot write {path}: {reason}", path)


def _umask() -> int:
    """The process umask (read without changing it where /proc allows; else set and restore)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_in(path: Path) -> tuple[int, Path]:
    """A new empty temporary file next to ``path`` (same suffix, so writers that pick a file type
    from the name, e.g. matplotlib, still do); its folders are created as needed."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=folder)
    return fd, Path(tmp)


def _commit(tmp: Path, path: Path) -> None:
    """fsync ``tmp``, give it the permissions a plain new file would get, and rename it onto ``path``."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
    except OSError:
        mode = 0o666 & ~_umask()
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX; not on every OS)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path next to ``path`` for a writer that wants a file name (``savefig``); on
    a clean exit it replaces ``path``, on any error it is deleted and ``path`` is untouched.

    Raises:
        OutputError: the folder cannot hold the file, or the write or rename failed (the path
            and the reason in the message). Exceptions of the writer itself propagate unchanged.
    """
    path = Path(path)
    try:
        fd, tmp = _temp_in(path)
        os.close(fd)
    except OSError as exc:
        raise _fail(path, exc) from None
    try:
        yield tmp
        _commit(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OutputError):
            raise
        raise _fail(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO[Any]]:
    """An open file (``"wb"`` or ``"w"``) that becomes ``path`` only when the block ends cleanly.

    ``np.save(fh, x)`` / ``np.savez(fh, ...)`` on it write exactly ``path`` (numpy appends
    ``.npy``/``.npz`` only to names, never to open files).

    Raises:
        OutputError: as :func:`atomic_path`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        try:
            fh = open(tmp, mode, encoding=encoding if "b" not in mode else None)  # noqa: SIM115
        except OSError as exc:
            raise _fail(Path(path), exc) from None
        with fh:
            yield fh
            fh.flush()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """``path.write_text(text)``, atomically (UTF-8)."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)


def check_writable(path: str | os.PathLike[str], *, what: str = "output") -> Path:
    """Fail now, not after the work, if ``path`` cannot become a file: it is a folder, or the
    nearest existing folder above it is not a folder or does not accept a new file (tried with a
    throw-away file, so read-only mounts, ``/proc`` and permissions are all caught). Missing
    folders on the way are fine: the writers create them.

    Raises:
        OutputError: ``cannot write <what> <path>: <reason>``.
    """
    path = Path(path)

    def bad(reason: str) -> OutputError:
        return OutputError(f"cannot write {what} {path}: {reason}", path)

    if str(path) in ("", "."):
        raise bad("empty file name")
    if path.is_dir():
        raise bad("it is a folder")
    folder = path.parent
    while not folder.exists():
        if folder.is_symlink():
            raise bad(f"{folder} is a dangling link")
        folder = folder.parent
    if not folder.is_dir():
        raise bad(f"{folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".hwsim-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise bad(exc.strerror or str(exc)) from None
    return path
