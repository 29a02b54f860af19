"""Catalog validation (STYLE P8): one bad TOML per rule under data/<rule>/, every problem reported
as ``file:table.key: message``, and all problems of a load collected into ONE CatalogError."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import hwsim
import hwsim.catalog
from hwsim.errors import CatalogError
from hwsim.numerics.elements import FloatElement
from hwsim.numerics.format import Format

DATA = Path(__file__).parent / "data"

#: rule folder -> regexes that must each match one message of the CatalogError
EXPECTED: dict[str, list[str]] = {
    "unknown_key": [r"\.toml:uk_fp8\.colour: unknown key"],
    "wrong_type": [r"\.toml:wt_fp8\.exp_bits: expected int, got str", r"\.toml:wt_int\.bits: expected int, got bool",
                   r"\.toml:wt_int\.saturate: expected bool, got str"],
    "missing_required": [r"\.toml:mr_int\.bits: missing"],
    "bad_enum": [r"\.toml:be_fp8\.specials: 'weird' not one of", r"\.toml:be_fp8\.rounding: 'nearest' not one of"],
    "missing_reference": [r"\.toml:mref_fp8\.reference: missing", r"\.toml:mref_blank\.reference: missing"],
    "unknown_element": [r"\.toml:ue_block\.element: unknown element format 'ue_elm'.*Did you mean 'ue_elem'"],
    "duplicate_name": [r"b\.toml:dup_fmt: duplicate format name \(also in \S*a\.toml\)"],
    "invalid_toml": [r"\.toml: not valid TOML"],
    "bad_kind": [r"\.toml:bk_posit\.kind: 'posit' not one of", r"\.toml:bk_nokind\.kind: None not one of"],
    "bad_params": [r"\.toml:bp_fp\b.*exp_bits", r"\.toml:bp_block\b.*scale_element"],
    "unknown_scale_element": [r"\.toml:use_block\.scale_element: unknown float element 'use_int'"],
}


def load_error(*dirs: Path) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        hwsim.catalog.load_formats(list(dirs))
    return info.value


def test_every_rule_has_a_fixture() -> None:
    assert sorted(p.name for p in DATA.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_rule(rule: str) -> None:
    err = load_error(DATA / rule)
    for pattern in EXPECTED[rule]:
        assert any(re.search(pattern, m) for m in err.messages), \
            f"{rule}: no message matches {pattern!r}; messages: {err.messages}"
        assert re.search(pattern, str(err))  # the exception text carries every message
    for m in err.messages:  # file:table.key: message
        assert re.match(r"^[\w.-]+\.toml(:[\w.]+)?: \S", m), m


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_rule_reports_no_follow_on_noise(rule: str) -> None:
    """A broken entry is reported once per problem, not again by the factory (no KeyError /
    TypeError text such as "mr_int: 'bits'" or "unsupported operand type(s)")."""
    err = load_error(DATA / rule)
    assert len(err.messages) == len(EXPECTED[rule]), err.messages


def test_all_errors_in_one_exception(tmp_path: Path) -> None:
    """Every rule's files in one folder: one CatalogError holding all the expected messages."""
    for rule in EXPECTED:
        for f in (DATA / rule).glob("*.toml"):
            # keep duplicate_name's a.toml/b.toml names distinct but ordered
            shutil.copy(f, tmp_path / f"{rule}_{f.name}")
    err = load_error(tmp_path)
    for rule, patterns in EXPECTED.items():
        for pattern in patterns:
            assert any(re.search(pattern, m) for m in err.messages), (rule, pattern, err.messages)


def test_shipped_catalog_loads() -> None:
    formats = hwsim.catalog.load_formats()
    assert len(formats) >= 18


@pytest.fixture
def user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "mine.toml").write_text('''
[fp8_e3m4_user]
kind = "float"
exp_bits = 3
man_bits = 4
reference = "user test format"

[mxfp4_b16_user]
kind = "scaled"
element = "fp4_e2m1"
block_size = 16
scale_rule = "pow2"
reference = "user test format: a catalog element by name"
''')
    monkeypatch.setenv("HWSIM_FORMATS_PATH", str(tmp_path))
    hwsim.catalog._cached.cache_clear()
    yield tmp_path
    monkeypatch.delenv("HWSIM_FORMATS_PATH")
    hwsim.catalog._cached.cache_clear()


def test_user_folder_extends_catalog(user_folder: Path) -> None:
    names = hwsim.formats()
    assert "fp8_e3m4_user" in names and "mxfp4_b16_user" in names and "mxfp4" in names
    f = hwsim.format("fp8_e3m4_user")
    assert isinstance(f, Format) and isinstance(f.element, FloatElement)
    assert f.element.bias == 3 and f.max == 15.5
    g = hwsim.format("mxfp4_b16_user")
    assert g.bits_per_element == 4.5
    x = np.array([7.0, 1.0], dtype=np.float32)
    np.testing.assert_array_equal(g.quantize(x), np.array([6.0, 1.0], dtype=np.float32))


def test_user_folder_errors_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clash.toml").write_text('[mxfp4]\nkind = "int"\nbits = 4\nreference = "x"\n')
    monkeypatch.setenv("HWSIM_FORMATS_PATH", str(tmp_path))
    hwsim.catalog._cached.cache_clear()
    try:
        with pytest.raises(CatalogError, match=r"clash\.toml:mxfp4: duplicate format name"):
            hwsim.formats()
    finally:
        monkeypatch.delenv("HWSIM_FORMATS_PATH")
        hwsim.catalog._cached.cache_clear()
    assert "mxfp4" in hwsim.formats()
