"""Catalog folders and files: every problem is one error blamed on the right file (issue 10, item 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import hwsim
import hwsim.arch as arch
import hwsim.catalog
from hwsim.catalog import load_formats
from hwsim.cli import main
from hwsim.errors import CatalogError

GOOD = '[int5_user]\nkind = "int"\nbits = 5\nreference = "user test format"\n'


@pytest.fixture
def fresh_catalog() -> Iterator[None]:
    hwsim.catalog._cached.cache_clear()
    yield
    hwsim.catalog._cached.cache_clear()


def _bad_folder(tmp_path: Path) -> Path:
    d = tmp_path / "catalog"
    d.mkdir()
    (d / "good.toml").write_text(GOOD)
    (d / "folder.toml").mkdir()
    (d / "dangling.toml").symlink_to(tmp_path / "no-such-file.toml")
    (d / "latin1.toml").write_bytes('[x]\nkind = "int"\nbits = 4\nreference = "Müller"\n'.encode("latin-1"))
    return d


def test_item14_folders_links_and_encodings_are_errors_naming_the_file(tmp_path: Path) -> None:
    d = _bad_folder(tmp_path)
    for load in (lambda: load_formats([d]), lambda: arch.load_accelerators(path=d)):
        with pytest.raises(CatalogError) as info:
            load()
        text = "\n".join(info.value.messages)
        assert f"{d / 'folder.toml'}: cannot read: a folder" in text
        assert f"{d / 'dangling.toml'}: cannot read: a dangling link" in text
        assert f"{d / 'latin1.toml'}: not UTF-8 text" in text


def test_item14_a_broken_user_format_file_is_reported_once_against_it(tmp_path, monkeypatch, fresh_catalog,
                                                                     capsys) -> None:
    (tmp_path / "mine.toml").write_text('[broken]\nkind = "int"\nreference = "x"\n')  # no bits
    monkeypatch.setenv("HWSIM_FORMATS_PATH", str(tmp_path))
    with pytest.raises(CatalogError) as info:
        arch.accelerator("tpu-v1-like")
    assert info.value.messages == ["mine.toml:broken.bits: missing (required for kind 'int')"]
    assert main(["gemm", "--accelerator", "tpu-v1-like", "-m", "8", "-k", "8", "-n", "8"]) == 2
    err = capsys.readouterr().err
    assert err.count("mine.toml") == 1 and "tpu-v1-like.toml" not in err and "1 catalog error(s)" in err


def test_item14_missing_accelerator_folder_raises_like_the_format_path(tmp_path, monkeypatch, fresh_catalog) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("HWSIM_ACCELERATORS_PATH", str(missing))
    with pytest.raises(CatalogError, match=f"{missing}: catalog folder does not exist"):
        arch.accelerators()
    monkeypatch.delenv("HWSIM_ACCELERATORS_PATH")
    monkeypatch.setenv("HWSIM_FORMATS_PATH", str(missing))
    with pytest.raises(CatalogError, match=f"{missing}: catalog folder does not exist"):
        hwsim.formats()
