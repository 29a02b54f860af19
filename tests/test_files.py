"""hwsim.files: a failed write leaves the old file intact and no partial file behind (issue 10, item 9)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from hwsim.errors import HwsimError
from hwsim.files import OutputError, atomic_path, atomic_write, check_writable, write_text


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_item09_atomic_write_replaces_only_on_success(tmp_path: Path) -> None:
    dst = tmp_path / "out.npy"
    with atomic_write(dst) as fh:
        np.save(fh, np.arange(4.0))
    assert np.array_equal(np.load(dst), np.arange(4.0))
    assert _listing(tmp_path) == ["out.npy"]
    # a plain new file gets the usual permissions, not mkstemp's 0600
    assert stat.S_IMODE(dst.stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_item09_failure_mid_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    dst = tmp_path / "table.csv"
    dst.write_text("old contents\n")
    with pytest.raises(OutputError, match=r"cannot write .*table\.csv: No space left on device"):
        with atomic_write(dst, "w") as fh:
            fh.write("new, partial")
            raise OSError(28, "No space left on device")  # what a full disk raises mid-write
    assert dst.read_text() == "old contents\n"
    assert _listing(tmp_path) == ["table.csv"]


def test_item09_writer_exception_propagates_and_nothing_remains(tmp_path: Path) -> None:
    dst = tmp_path / "plot.png"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(dst) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".png"  # same folder, same type
            tmp.write_bytes(b"half a png")
            raise RuntimeError("boom")
    assert _listing(tmp_path) == []


def test_item09_numpy_writes_exactly_the_given_name(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "noext") as fh:
        np.save(fh, np.ones(3))
    with atomic_write(tmp_path / "codes.npy") as fh:
        np.savez(fh, codes=np.ones(3))
    assert _listing(tmp_path) == ["codes.npy", "noext"]


def test_item09_write_text_creates_missing_folders(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a" / "b" / "r.json", "{}")
    assert path.read_text() == "{}"


@pytest.mark.parametrize("make, reason", [
    (lambda d: d, "it is a folder"),
    (lambda d: d / "file.txt" / "x.csv", "is not a folder"),
    (lambda d: Path("/proc/hwsim-no-such-dir/x.csv"), "cannot write"),
])
def test_item10_check_writable_refuses_paths_that_cannot_become_files(tmp_path: Path, make, reason) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OutputError, match=reason) as info:
        check_writable(make(tmp_path))
    assert isinstance(info.value, HwsimError) and isinstance(info.value, OSError)
    assert "\n" not in str(info.value)
    assert _listing(tmp_path) == ["file.txt"]  # the probe file is gone


def test_item10_check_writable_accepts_missing_folders_without_creating_them(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "deeper" / "x.csv")
    assert _listing(tmp_path) == []
