"""Bit-serial arrays: cycles proportional to weight bits (BitMoD / Stripes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim
import hwsim.arch as arch
from hwsim.arch.bitserial import bitserial_gemm, weight_passes
from hwsim.arch.systolic import systolic_gemm
from hwsim.arch.units import BitSerialUnit


@pytest.mark.parametrize("bits,per_cycle,passes", [(8, 2, 4), (6, 2, 3), (4, 2, 2), (3, 2, 2),
                                                   (3, 1, 3), (16, 1, 16), (1, 2, 1)])
def test_weight_passes(bits: int, per_cycle: int, passes: int) -> None:
    assert weight_passes(bits, per_cycle) == passes


@settings(max_examples=100, deadline=None)
@given(m=st.integers(1, 500), k=st.integers(1, 500), n=st.integers(1, 500),
       df=st.sampled_from(["ws", "is", "os"]), bits=st.integers(1, 16))
def test_cycles_proportional_to_weight_bits(m: int, k: int, n: int, df: str, bits: int) -> None:
    one = bitserial_gemm(16, 16, df, m, k, n, 1, 1).cycles
    assert bitserial_gemm(16, 16, df, m, k, n, bits, 1).cycles == bits * one
    assert one == systolic_gemm(16, 16, df, m, k, n).cycles


def test_low_bit_formats_show_speedup() -> None:
    acc = arch.accelerator("bitmod-like")
    shape = (512, 4096, 4096)
    cyc = {w: acc.gemm(*shape, w_format=hwsim.format(w)).compute_cycles for w in ("int8", "int4", "fp6_e2m3", "mxfp4")}
    assert cyc["int8"] == 2 * cyc["int4"]  # 4 vs 2 passes at 2 bits/cycle
    assert cyc["fp6_e2m3"] * 2 == cyc["int4"] * 3  # 3 passes
    assert cyc["mxfp4"] == cyc["int4"]


def test_bad_bits() -> None:
    with pytest.raises(ValueError, match="w_bits_per_cycle must be >= 1"):
        weight_passes(4, 0)


# ---------------------------------------------------------------------------------------------
# cycles per weight from the term decomposition (hwsim.numerics.bitserial)
# ---------------------------------------------------------------------------------------------
def _bitmod_types() -> list:
    """BitMoD FP4 / FP3 types (BitMoD HPCA'25 Table IV): E2M1 / FP3 tables with the -0 code
    replaced by the special value (+-5, +-8 for FP4; +-3, +-6 for FP3)."""
    from hwsim.numerics.codebook import Codebook

    fp4 = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    fp3 = [0, 1, 2, 4]
    types = [Codebook(name=f"fp4_sv{sv}", bits=4, table=tuple(fp4 + [sv] + [-v for v in fp4[1:]]))
             for sv in (5, -5, 8, -8)]
    types += [Codebook(name=f"fp3_sv{sv}", bits=3, table=tuple(fp3 + [sv] + [-v for v in fp3[1:]]))
              for sv in (3, -3, 6, -6)]
    return types


def test_bitmod_term_counts_from_paper() -> None:
    """BitMoD HPCA'25 §IV-B (bit-serial PE; §III-C per-group cost): INT8 = 4 Booth terms, INT6 = 3,
    every FP4/FP3 type (special values included) = 2 terms."""
    from hwsim.arch.bitserial import weight_cycles
    from hwsim.catalog import build_format

    assert weight_cycles(hwsim.format("int8")) == 4
    assert weight_cycles(build_format("int", bits=6)) == 3
    for cb in _bitmod_types():
        assert weight_cycles(cb) == 2, cb.name
        assert weight_cycles(cb, "lod2") == 2, cb.name  # the paper's two leading-one detectors
    assert weight_cycles(hwsim.format("fp4_e2m1")) == 2


def test_bitmod_group_cycles_and_throughput() -> None:
    """§IV-B: a 4-way PE spends 128 / 4 x 2 = 64 cycles on a 128-weight group of a 2-term type,
    more than the 8 cycles of bit-serial INT8 scale dequantization (no stall). Throughput vs one
    FP16 MAC per cycle (128 cycles per group): INT6 1.33x, FP4/FP3 2x, INT8 1x."""
    from hwsim.arch.bitserial import group_cycles

    assert group_cycles(128, 4, 2) == 64
    assert group_cycles(128, 4, 2) >= 8
    fp16_group = 128
    assert fp16_group / group_cycles(128, 4, 4) == 1.0
    assert fp16_group / group_cycles(128, 4, 3) == pytest.approx(1.33, abs=0.005)
    assert fp16_group / group_cycles(128, 4, 2) == 2.0


def test_gemm_cycles_follow_term_counts() -> None:
    """Whole GEMMs: INT8 / INT6 = 4/3 (1.33x) and INT8 / FP4-type = 2x, on the same array."""
    from hwsim.arch.bitserial import weight_cycles
    from hwsim.catalog import build_format

    args = (32, 32, "ws", 512, 4096, 4096)
    c8 = bitserial_gemm(*args, 8, 2, cycles_per_weight=weight_cycles(hwsim.format("int8"))).cycles
    c6 = bitserial_gemm(*args, 6, 2, cycles_per_weight=weight_cycles(build_format("int", bits=6))).cycles
    c4 = bitserial_gemm(*args, 4, 2, cycles_per_weight=weight_cycles(_bitmod_types()[0])).cycles
    assert c8 * 3 == c6 * 4 and c8 == 2 * c4
    # for two's complement integers the bit-width model is the Booth count
    assert c8 == bitserial_gemm(*args, 8, 2).cycles


def test_unit_override_with_codebook_weights() -> None:
    """An accelerator whose PEs take w_cycles_per_weight from the decomposition of BitMoD's types."""
    from hwsim.arch.bitserial import weight_cycles
    from hwsim.numerics.codebook import CodebookFormat

    types = tuple(_bitmod_types()[:4])
    bitmod4 = CodebookFormat(name="bitmod4", types=types, group_size=128, select="group")
    cpw = max(weight_cycles(cb) for cb in bitmod4.types)
    base = arch.accelerator("bitmod-like")
    terms = arch.accelerator("bitmod-like", w_cycles_per_weight=cpw)
    shape = (512, 4096, 4096)
    int8 = base.gemm(*shape, w_format=hwsim.format("int8"))
    fp4 = terms.gemm(*shape, w_format=bitmod4)
    assert int8.compute_cycles == 2 * fp4.compute_cycles
    assert isinstance(base.unit, BitSerialUnit)
    assert base.unit.w_cycles_per_weight is None  # the default stays the bit-width model


def test_term_model_differs_from_bits_for_minifloats() -> None:
    """FP6 E2M3: 6 bits -> 3 passes at 2 bits/cycle, but 1.111 x 2^e has 4 one-bits."""
    from hwsim.arch.bitserial import weight_cycles

    assert weight_passes(6, 2) == 3
    assert weight_cycles(hwsim.format("fp6_e2m3")) == 4
    assert weight_cycles(hwsim.format("fp6_e2m3"), "csd") == 3


def test_bad_cycles_per_weight() -> None:
    with pytest.raises(ValueError, match="cycles_per_weight must be >= 1"):
        bitserial_gemm(4, 4, "ws", 8, 8, 8, 4, 2, cycles_per_weight=0)


def test_terms_mode_takes_each_weight_formats_own_term_count():
    """w_cycles_per_weight = "terms": every GEMM's weight format is decomposed (Booth digits for
    INT8 = 4, one-bits for minifloats/codebooks: E2M3's 1.875 = 1.111b has 4, BitMoD-4 at most 2),
    the same cycles as giving that count by hand."""
    import hwsim

    terms = hwsim.accelerator("bitmod-like", w_cycles_per_weight="terms")
    for w, by_hand in (("int8", 4), ("fp6_e2m3", 4), ("bitmod4", 2), ("fp4_e2m1", 2)):
        fixed = hwsim.accelerator("bitmod-like", w_cycles_per_weight=by_hand)
        fp16, wf = hwsim.format("fp16"), hwsim.format(w)
        assert int(terms.gemm(16, 256, 128, fp16, wf).cycles) == int(fixed.gemm(16, 256, 128, fp16, wf).cycles), w
    inline = {"kind": "int", "bits": 6}  # no codes to decompose: the width rule (6 bits / 2 per cycle)
    width = hwsim.accelerator("bitmod-like")
    fp16 = hwsim.format("fp16")
    assert int(terms.gemm(16, 256, 128, fp16, inline).cycles) == int(width.gemm(16, 256, 128, fp16, inline).cycles)


def test_w_cycles_per_weight_rejects_unknown_words(tmp_path):
    from pathlib import Path

    from hwsim.arch.config import load_accelerators
    from hwsim.errors import CatalogError

    src = Path(__file__).resolve().parents[2] / "accelerators" / "bitmod-like.toml"
    text = src.read_text().replace("w_bits_per_cycle = 2", 'w_bits_per_cycle = 2\nw_cycles_per_weight = "twice"', 1)
    (tmp_path / "x.toml").write_text(text)
    with pytest.raises(CatalogError, match="w_cycles_per_weight"):
        load_accelerators([tmp_path])


def test_terms_mode_keeps_the_width_rule_where_no_codes_exist():
    """fp32 operands (skipped layers, fp32 K/V) and GEMM-level schemes have no code table to
    decompose: the width rule applies instead of an error."""
    import hwsim
    from hwsim.bridge.llm_int8 import INT8_OPERAND

    terms = hwsim.accelerator("bitmod-like", w_cycles_per_weight="terms")
    width = hwsim.accelerator("bitmod-like")
    fp16 = hwsim.format("fp16")
    for w in (hwsim.format("fp32"), INT8_OPERAND.format):
        assert int(terms.gemm(8, 64, 64, fp16, w).cycles) == int(width.gemm(8, 64, 64, fp16, w).cycles)
