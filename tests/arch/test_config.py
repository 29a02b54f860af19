"""Accelerator catalog: load, validate (every error at once), overrides, search path."""

from __future__ import annotations

import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import hwsim.arch as arch
from hwsim.arch.config import COUNT_FIELDS, UNIT_SUFFIXES, accelerator_dirs, schema_fields
from hwsim.arch.units import SystolicUnit
from hwsim.errors import CatalogError

BAD = Path(__file__).parent / "data" / "bad"

# one bad file per rule -> the message that must name the file and the field
EXPECTED = {
    "missing_field.toml": "missing_field.toml:compute.rows: missing (required for kind 'systolic')",
    "mistyped_field.toml": "mistyped_field.toml:compute.cols: expected int, got str '8'",
    "unknown_key.toml": "unknown_key.toml:memory.sram_size: unknown key",
    "bad_dataflow.toml": "bad_dataflow.toml:compute.dataflow: 'rs' not one of ['ws', 'is', 'os']",
    "nonpositive.toml": "nonpositive.toml:compute.clock_mhz: must be > 0, got 0",
    "missing_source.toml": "missing_source.toml:sources.compute.node_nm: missing citation",
    "stray_source.toml": "stray_source.toml:sources.memory.dram_pj_per_bit: cites a field this file does not set",
    "unknown_format.toml": "unknown_format.toml:compute.a_format: unknown format 'int7x'",
    "bad_dram.toml": "bad_dram.toml:memory.dram: 'sdram' not one of ['ddr3', 'hbm2']",
    "bad_kind.toml": "bad_kind.toml:compute.kind: 'quantum' not one of ['systolic', 'bitserial', 'tensorcore', 'lut']",
    "missing_reference.toml": "missing_reference.toml:reference: missing (required)",
    "bad_throughput.toml": "bad_throughput.toml:compute.throughput.x: key must be an element width",
    "not_toml.toml": "not_toml.toml: not valid TOML",
}


def test_every_bad_file_reported_in_one_exception() -> None:
    assert sorted(p.name for p in BAD.glob("*.toml")) == sorted(EXPECTED)
    with pytest.raises(CatalogError) as info:
        arch.load_accelerators(path=BAD)
    text = "\n".join(info.value.messages)
    for file, message in EXPECTED.items():
        assert message in text, f"{file}: expected {message!r} in\n{text}"
    assert "bad_throughput.toml:compute.throughput.4: multiplier must be a number > 0" in text
    assert isinstance(info.value, ValueError)


def test_each_bad_file_alone_fails(tmp_path: Path) -> None:
    for name in EXPECTED:
        folder = tmp_path / name.removesuffix(".toml")
        folder.mkdir()
        shutil.copy(BAD / name, folder / name)
        with pytest.raises(CatalogError, match=name.replace(".", r"\.")):
            arch.load_accelerators(path=folder)


def test_duplicate_name(tmp_path: Path) -> None:
    src = arch.accelerator("tpu-v1-like").path
    assert src is not None
    shutil.copy(src, tmp_path / "copy.toml")
    with pytest.raises(CatalogError, match="copy.toml:name: 'tpu-v1-like' already defined"):
        arch.load_accelerators(path=tmp_path)


def test_catalog_contents() -> None:
    names = arch.accelerators()
    assert set(names) >= {"tpu-v1-like", "eyeriss-like", "mx-systolic-32", "bitmod-like",
                          "tensorcore-sm-like"}
    for name in names:
        acc = arch.accelerator(name)
        assert acc.reference.strip()
        assert all(text.strip() for _, text in acc.sources)
    tpu = arch.accelerator("tpu-v1-like")
    assert isinstance(tpu.unit, SystolicUnit)
    assert (tpu.unit.rows, tpu.unit.cols, tpu.unit.dataflow) == (256, 256, arch.Dataflow.WS)


def test_numeric_fields_carry_units() -> None:
    for table, schema in schema_fields().items():
        for key, kind in schema.items():
            if kind in ((int, float), int) and key not in COUNT_FIELDS:
                assert key.endswith(UNIT_SUFFIXES), f"{table}.{key} has no unit suffix"
    for f in fields(arch.EnergyTable):
        assert f.name.endswith(UNIT_SUFFIXES), f.name


def test_unknown_accelerator_names_closest() -> None:
    with pytest.raises(ValueError, match=r"unknown accelerator 'tpu-v1'.*Did you mean 'tpu-v1-like'"):
        arch.accelerator("tpu-v1")


def test_overrides_scalar_and_array() -> None:
    acc = arch.accelerator("mx-systolic-32", rows=64, ifmap_sram_kib=512, fp16_mult_pj=2.0)
    assert isinstance(acc.unit, SystolicUnit)
    assert acc.unit.rows == 64 and acc.memory.ifmap_sram_kib == 512
    assert acc.energy.fp16_mult_pj == 2.0
    sweep = arch.accelerator("mx-systolic-32", rows=np.array([8, 16, 32]), cols=np.array([8, 16, 32]))
    c = sweep.gemm(256, 256, 256)
    assert c.compute_cycles.shape == (3,)
    assert c.compute_cycles[2] == arch.SystolicArray(rows=32, cols=32).gemm(256, 256, 256).cycles
    with pytest.raises(ValueError, match="unknown override"):
        arch.accelerator("mx-systolic-32", mma_m=4)
    with pytest.raises(ValueError, match="rows: every value must be > 0"):
        arch.accelerator("mx-systolic-32", rows=np.array([4, 0]))
    with pytest.raises(ValueError, match="unknown dataflow"):
        arch.accelerator("mx-systolic-32", dataflow="xx")


def test_user_directory_via_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = arch.accelerator("mx-systolic-32").path
    assert src is not None
    text = src.read_text()
    (tmp_path / "mine.toml").write_text(text.replace('name = "mx-systolic-32"', 'name = "my-array"'))
    monkeypatch.setenv("HWSIM_ACCELERATORS_PATH", str(tmp_path))
    assert tmp_path in accelerator_dirs()
    assert "my-array" in arch.accelerators()
    assert arch.accelerator("my-array").gemm(64, 64, 64).compute_cycles == \
        arch.accelerator("mx-systolic-32").gemm(64, 64, 64).compute_cycles
