"""Energy/area model: reproduces the cited table, depends only on bit widths, adds up."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim
import hwsim.arch as arch
from hwsim.arch.energy import MacCost, mac_cost, mac_cost_from_gates, operand_bits, sram_area_um2, sram_pj_per_bit

INT32 = {"kind": "int", "bits": 32}


def _fmt(spec):
    """Catalog names resolved here, at the caller: the cost model takes format objects."""
    return hwsim.format(spec) if isinstance(spec, str) else spec


@pytest.mark.parametrize("a,w,acc,pj,um2", [
    # Horowitz ISSCC'14, 45 nm: mult + accumulate-add, straight from the table
    ("int8", "int8", INT32, 0.2 + 0.1, 282 + 137),
    ("fp16", "fp16", "fp32", 1.1 + 0.9, 1640 + 4184),
    ("fp32", "fp32", "fp32", 3.7 + 0.9, 7700 + 4184),
    ({"kind": "int", "bits": 32}, {"kind": "int", "bits": 32}, INT32, 3.1 + 0.1, 3495 + 137),
])
def test_reproduces_horowitz(a, w, acc, pj: float, um2: float) -> None:
    cost = mac_cost(_fmt(a), _fmt(w), _fmt(acc))
    assert cost.energy_pj == pytest.approx(pj, rel=1e-9)
    assert cost.area_um2 == pytest.approx(um2, rel=1e-9)


def test_depends_on_bits_not_names(fake) -> None:
    for name, double in fake.items():
        renamed = type(double)("zz-" + name, double.operand)
        assert mac_cost(renamed, renamed, _fmt("fp32")) == mac_cost(double, double, _fmt("fp32"))
        # the real catalog format and the double agree
        assert mac_cost(hwsim.format(name), double, _fmt("fp32")) == mac_cost(double, double, _fmt("fp32"))


@pytest.mark.parametrize("narrow,wide", [("int4", "int8"), ("fp8_e4m3", "fp16"), ("fp16", "fp32"),
                                         ("fp4_e2m1", "fp8_e4m3"), ("fp6_e2m3", "fp8_e4m3"),
                                         ("mxfp4", "mxfp8_e4m3"), ("bf16", "fp32")])
def test_energy_and_area_grow_with_width(narrow: str, wide: str) -> None:
    fp32 = _fmt("fp32")
    small, big = mac_cost(_fmt(narrow), _fmt(narrow), fp32), mac_cost(_fmt(wide), _fmt(wide), fp32)
    assert small.energy_pj < big.energy_pj and small.area_um2 < big.area_um2


def test_block_scale_costs_a_little() -> None:
    fp4, mxfp4, fp32 = _fmt("fp4_e2m1"), _fmt("mxfp4"), _fmt("fp32")
    plain, mx = mac_cost(fp4, fp4, fp32), mac_cost(mxfp4, mxfp4, fp32)
    # one 8-bit exponent add per 32-element block: 0.03 pJ / 32
    assert mx.energy_pj - plain.energy_pj == pytest.approx(0.03 / 32)


def test_node_scaling() -> None:
    base, half = mac_cost(_fmt("int8"), _fmt("int8"), INT32), mac_cost(_fmt("int8"), _fmt("int8"), INT32, node_nm=22.5)
    assert half.energy_pj == pytest.approx(base.energy_pj / 2)
    assert half.area_um2 == pytest.approx(base.area_um2 / 4)


def test_sram_figures() -> None:
    assert sram_pj_per_bit(8) == pytest.approx(10 / 64)
    assert sram_pj_per_bit(1024) == pytest.approx(100 / 64)
    assert 10 / 64 < sram_pj_per_bit(32) < 100 / 64
    assert sram_area_um2(2) == pytest.approx(2 * 8192 * 0.346 / 0.7, rel=1e-3)


def test_synthesized_costs_take_precedence() -> None:
    gates = mac_cost_from_gates(1000, _fmt("int8"), _fmt("int8"), INT32)
    assert gates.area_um2 == pytest.approx(798.0)
    model = mac_cost(_fmt("int8"), _fmt("int8"), INT32)
    assert gates.energy_pj / model.energy_pj == pytest.approx(798.0 / model.area_um2)
    src = lambda a, w, acc: MacCost(1.5, 100.0) if a.element_bits == 8 else None  # noqa: E731
    assert mac_cost(_fmt("int8"), _fmt("int8"), INT32, source=src) == MacCost(1.5, 100.0)
    assert mac_cost(_fmt("int4"), _fmt("int8"), INT32, source=src) == mac_cost(_fmt("int4"), _fmt("int8"), INT32)


def test_operand_bits_errors() -> None:
    with pytest.raises(ValueError, match="not a number format"):
        operand_bits(3.5)  # pyright: ignore[reportArgumentType]  (deliberately not an operand)
    with pytest.raises(ValueError, match="lacks 'bits'"):
        operand_bits({"kind": "int"})
    with pytest.raises(ValueError, match="is a name"):  # names are resolved at the boundary
        operand_bits("int8")  # pyright: ignore[reportArgumentType]  (deliberately a name)
    with pytest.raises(ValueError, match="unknown format"):
        arch.accelerator("tpu-v1-like", w_format="no-such-format")


NAMES = ["tpu-v1-like", "eyeriss-like", "mx-systolic-32", "bitmod-like", "tensorcore-sm-like",
         "zigzag-tpu-like"]
FORMATS = ["int8", "int4", "fp8_e4m3", "mxfp4", "mxfp6_e2m3", "mxfp8_e4m3", "nvfp4", "fp16"]


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(NAMES), m=st.integers(1, 4096), k=st.integers(1, 4096),
       n=st.integers(1, 4096), a=st.sampled_from(FORMATS), w=st.sampled_from(FORMATS))
def test_energy_is_sum_of_breakdown(name: str, m: int, k: int, n: int, a: str, w: str) -> None:
    c = arch.accelerator(name).gemm(m, k, n, hwsim.format(a), hwsim.format(w))
    assert c.energy_pj == pytest.approx(sum(c.energy_breakdown().values()), rel=1e-12)
    assert all(v >= 0 for v in c.energy_breakdown().values())
    assert c.area_um2 > 0


def test_os_drain_writes_cost_no_energy() -> None:
    """SCALE-Sim's os drain writes are counted in sram_writes_ofmap but move no data."""
    acc = arch.accelerator("zigzag-tpu-like", dataflow="os")  # flat 0.2032 pJ/bit SRAM, 45 nm
    c = acc.gemm(64, 64, 64)  # 4 folds of 32x32 outputs: 4 * (32 + 32) drain writes
    assert c.sram_writes_ofmap == 64 * 64 + 4 * 64
    e_bit = float(sram_pj_per_bit(2048, acc.energy))
    real = (c.sram_reads_ifmap * 8 + c.sram_reads_filter * 8 + 64 * 64 * 16) * e_bit
    assert c.energy_sram_pj == pytest.approx(real, rel=1e-12)


def test_block_scale_add_is_paid_per_pair_of_the_smaller_block() -> None:
    """Operands with blocks of 32 and 16: a new pair of shared scales starts every 16 products,
    so the 8-bit scale add (0.03 pJ, Horowitz) is shared by 16 MACs, in either operand order."""
    fp4, fp32 = _fmt("fp4_e2m1"), _fmt("fp32")
    b32, b16 = _fmt("mxfp4"), hwsim.format("mxfp4", block_size=16)
    plain = mac_cost(fp4, fp4, fp32).energy_pj
    assert mac_cost(b32, b16, fp32).energy_pj - plain == pytest.approx(0.03 / 16)
    assert mac_cost(b16, b32, fp32).energy_pj - plain == pytest.approx(0.03 / 16)
