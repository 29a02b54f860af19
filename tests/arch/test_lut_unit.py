"""LUT compute units (hwsim.arch.lut, kind = "lut"): counts and cycles from hand-worked closed forms,
linearity in the weight's bits, memory traffic of b-bit weights, catalog validation, and the
comparison with the MAC units at equal lane count."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim
import hwsim.arch as arch
from hwsim.arch.energy import operand_bits
from hwsim.arch.lut import lut_counts, lut_cycles, table_bytes_per_token
from hwsim.arch.units import LutUnit
from hwsim.errors import CatalogError

F = hwsim.format
W_FORMATS = ["int1_g64", "int2_asym_g64", "int3_asym_g64", "int4_asym_g64"]


def test_counts_by_hand():
    """m=2 tokens, k=128, n=3 outputs, 2-bit weights with groups of 64, g=4:
    32 chunks; lookups 2*3*32*2 = 384; entries 2*32*16 = 1024 (mirror: 512); aggregates 2*3*2*2 = 24."""
    w = operand_bits(F("int2_asym_g64"))
    c = lut_counts(2, 128, 3, w, g=4, mirror=False, table_bits=8, int_tables=True)
    assert (int(c.lookups), int(c.entries), int(c.aggregates)) == (384, 1024, 24)
    assert int(lut_counts(2, 128, 3, w, g=4, mirror=True, table_bits=8, int_tables=True).entries) == 512
    assert table_bytes_per_token(128, 4, False, 8) == 512.0 and table_bytes_per_token(128, 4, True, 16) == 512.0
    # cycles: (384 + 24) / 16 lanes = 25.5, + 1024 / 8 entries per cycle = 128 -> 154 (sequential), 128 (parallel)
    assert int(lut_cycles(c, 1, 16, 8, False)) == 154
    assert int(lut_cycles(c, 1, 16, 8, True)) == 128


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 64), k=st.integers(1, 4096), n=st.integers(1, 4096))
def test_lookups_linear_in_bits(m, k, n):
    """Lookups and aggregations of W_b are b times those of W_1 (T-MAC §3: linear in bits)."""
    one = lut_counts(m, k, n, operand_bits(F("int1_g64")), g=4, mirror=True, table_bits=8, int_tables=True)
    for name, b in (("int2_asym_g64", 2), ("int3_asym_g64", 3), ("int4_asym_g64", 4)):
        c = lut_counts(m, k, n, operand_bits(F(name)), g=4, mirror=True, table_bits=8, int_tables=True)
        assert int(c.lookups) == b * int(one.lookups) and int(c.aggregates) == b * int(one.aggregates)
        assert int(c.entries) == int(one.entries)  # tables do not depend on the weights


def test_catalog_entries_load_and_gemm_scales_with_bits():
    acc = arch.accelerator("lut-tensorcore-like")
    assert isinstance(acc.unit, LutUnit) and acc.unit.kind == "lut"
    comp = [acc.gemm(512, 4096, 4096, F("fp16"), F(w)).compute_cycles for w in W_FORMATS]
    # lookups dominate: compute cycles grow ~ b (precompute overlapped)
    assert comp[1] == 2 * comp[0] and comp[3] == 4 * comp[0] and comp[2] == 3 * comp[0]
    for name in ("tmac-m2-core", "tmac-rpi5"):
        assert arch.accelerator(name).unit.kind == "lut"


def test_weight_bytes_are_b_bits_plus_scales():
    """A GEMV streams each weight once: DRAM reads = k n bits_per_element / 8 (+ the activations)."""
    acc = arch.accelerator("lut-tensorcore-like")
    for w in W_FORMATS:
        fmt = F(w)
        c = acc.gemm(1, 4096, 4096, F("fp16"), fmt)
        expect = 4096 * 4096 * fmt.bits_per_element / 8 + 4096 * 2
        assert c.dram_read_bytes == pytest.approx(expect)


def test_tables_that_do_not_fit_stream_weights_per_token_tile():
    acc = arch.accelerator("lut-tensorcore-like")
    # one token's mirrored int8 tables at k = 8192: 2048 x 8 B = 16 KiB; 64 KiB hold 4 tokens (16 tiles
    # of 64), 8 KiB not even one (one token per tile: 64 tiles)
    small = arch.accelerator("lut-tensorcore-like", table_kib=8)
    w = F("int2_asym_g64")
    big_m = acc.gemm(64, 8192, 4096, F("fp16"), w)
    tiny = small.gemm(64, 8192, 4096, F("fp16"), w)
    assert big_m.sram_reads_filter == 16 * 8192 * 4096 and tiny.sram_reads_filter == 64 * 8192 * 4096
    assert tiny.dram_read_bytes > 3.9 * big_m.dram_read_bytes  # the weights do not fit the SRAM either


def test_lut_beats_mac_units_on_low_bit_gemv_at_equal_lanes():
    """Equal lane count (1024): the LUT unit's compute cycles fall with bits; mx-systolic-32 and
    bitmod-like do not fall below their 1- and 2-bit floors."""
    lut, mx, bm = (arch.accelerator(n) for n in ("lut-tensorcore-like", "mx-systolic-32", "bitmod-like"))
    for w in W_FORMATS:
        shape = (512, 4096, 4096, F("fp16"), F(w))
        assert lut.gemm(*shape).compute_cycles < mx.gemm(*shape).compute_cycles
        assert lut.gemm(*shape).compute_cycles < bm.gemm(*shape).compute_cycles
    assert lut.unit.mac_units == mx.unit.mac_units == bm.unit.mac_units == 1024


def test_energy_is_priced_per_operation():
    """LUT energy = lookups x lookup_pj + entries x entry_pj + aggregates x aggregate_pj (no MAC term)."""
    acc = arch.accelerator("lut-tensorcore-like")
    a, w = F("fp16"), F("int2_asym_g64")
    c = acc.gemm(8, 256, 64, a, w)
    op = acc._lut_costs(operand_bits(a), operand_bits(acc.acc_format))
    cnt = acc.unit.compute(8, 256, 64, operand_bits(a), operand_bits(w)).lut
    assert c.energy_mac_pj == pytest.approx(int(cnt.lookups) * op.lookup_pj + int(cnt.entries) * op.entry_pj
                                            + int(cnt.aggregates) * op.aggregate_pj)
    assert c.energy_rf_pj == 0
    assert op.lookup_pj < arch.mac_cost(a, w, acc.acc_format, node_nm=28).energy_pj


def test_overrides_sweep_lanes_and_check_kinds():
    acc = arch.accelerator("lut-tensorcore-like", lookups_per_cycle=np.array([256, 512, 1024]))
    cyc = acc.gemm(64, 4096, 4096, F("fp16"), F("int2_asym_g64")).compute_cycles
    assert np.all(np.diff(cyc) < 0)
    with pytest.raises(ValueError, match="table_format"):
        arch.accelerator("lut-tensorcore-like", table_format="int4")
    with pytest.raises(ValueError, match="mirror"):
        arch.accelerator("lut-tensorcore-like", mirror="yes")
    assert arch.accelerator("lut-tensorcore-like", mirror=False).unit.mirror is False


def _write(tmp: Path, body: str) -> Path:
    d = tmp / "accs"
    d.mkdir(exist_ok=True)
    (d / "x.toml").write_text(body)
    return d


_GOOD = """name = "x"
reference = "test"
[compute]
kind = "lut"
units = 1
lookups_per_cycle = 64
precompute_per_cycle = 8
table_kib = 16
clock_mhz = 1000
node_nm = 28
a_format = "fp16"
w_format = "int2_asym_g64"
acc_format = "fp32"
{extra}
[memory]
ifmap_sram_kib = 64
filter_sram_kib = 64
ofmap_sram_kib = 64
dram_gb_per_s = 16
dram = "hbm2"
[sources]
"compute.units" = "t"
"compute.lookups_per_cycle" = "t"
"compute.precompute_per_cycle" = "t"
"compute.table_kib" = "t"
"compute.clock_mhz" = "t"
"compute.node_nm" = "t"
"memory.ifmap_sram_kib" = "t"
"memory.filter_sram_kib" = "t"
"memory.ofmap_sram_kib" = "t"
"memory.dram_gb_per_s" = "t"
"""


def test_catalog_validates_lut_kind():
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        accs = arch.load_accelerators(_write(tmp, _GOOD.format(extra="")))
        assert accs["x"].unit == LutUnit(units=1, lookups_per_cycle=64, precompute_per_cycle=8, table_kib=16)
        bad = _GOOD.format(extra='table_format = "int3"\nmirror = 1\nlookups = 3').replace("table_kib = 16\n", "")
        with pytest.raises(CatalogError) as err:
            arch.load_accelerators(_write(tmp, bad))
        msg = str(err.value)
        assert "compute.table_format: 'int3' not one of ['int8', 'fp16', 'fp32']" in msg
        assert "compute.mirror" in msg and "compute.lookups: unknown key" in msg
        assert "compute.table_kib: missing" in msg
