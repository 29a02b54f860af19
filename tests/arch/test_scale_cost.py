"""Block- and tensor-scale hardware priced from the scale element's bits (issue 17 item 6).

Expected values are computed here from the documented rule and Horowitz's ISSCC 2014 45 nm table,
independently of :mod:`hwsim.arch.energy`:

* a power-of-two scale (E8M0) is an exponent add: one 8-bit integer add (0.03 pJ / 36 um^2) per
  block pair, shared by the B products of the smaller block;
* each scale with mantissa bits (E4M3, UE5M3, fp32, INT8) is one multiplier of its own width per
  block pair (an ``S x S`` float multiplier: significand multiplier + exponent adder + normalize,
  the same two-point power laws through Horowitz's int8/int32 mults, 8b/32b adds and fp16/fp32
  mults as every other multiplier of the model);
* channel / tensor scales: the same hardware once per output element.
"""

from __future__ import annotations

import math

import pytest

import hwsim
import hwsim.arch as arch
from hwsim.arch.energy import block_scale_cost, mac_cost, output_scale_cost

# Horowitz ISSCC 2014, 45 nm (pJ, um^2)
INT_ADD = {8: (0.03, 36.0), 32: (0.1, 137.0)}
INT_MULT = {8: (0.2, 282.0), 32: (3.1, 3495.0)}
FP_MULT = {16: (1.1, 1640.0), 32: (3.7, 7700.0)}
U = {"pj": 0, "um2": 1}


def _law(x: float, x1: float, y1: float, x2: float, y2: float) -> float:
    return y1 * (x / x1) ** (math.log(y2 / y1) / math.log(x2 / x1))


def _add(bits: int, u: str) -> float:
    return _law(bits, 8, INT_ADD[8][U[u]], 32, INT_ADD[32][U[u]])


def _sig(pp: int, u: str) -> float:  # an 8x8 int mult has 64 partial products, 32x32 has 1024
    return _law(pp, 64, INT_MULT[8][U[u]], 1024, INT_MULT[32][U[u]])


def _fp_mult(exp_bits: int, man_bits: int, u: str) -> float:
    """An E<e>M<m> x E<e>M<m> float multiplier: significand + exponent adder + normalize/round."""
    p = man_bits + 1
    r16 = FP_MULT[16][U[u]] - _sig(11 * 11, u) - _add(6, u)  # fp16: p = 11, e = 5
    r32 = FP_MULT[32][U[u]] - _sig(24 * 24, u) - _add(9, u)  # fp32: p = 24, e = 8
    return _sig(p * p, u) + _add(exp_bits + 1, u) + _law(2 * p, 22, r16, 48, r32)


UE5M3 = {"kind": "float", "exp_bits": 5, "man_bits": 3, "bias": 15, "specials": "fnu"}


def _fp8_ue5m3() -> object:
    """A user's FP8 format: E4M3 elements, 32-element blocks, UE5M3 amax block scales."""
    return hwsim.format("block", element="fp8_e4m3", block_size=32, scale_rule="amax", scale_element=UE5M3)


@pytest.mark.parametrize("u", ["pj", "um2"])
def test_e8m0_scale_is_one_exponent_add(u: str) -> None:
    got = block_scale_cost(hwsim.format("mxfp8_e4m3"), hwsim.format("mxfp8_e4m3"))[U[u]]
    assert got == pytest.approx(_add(8, u) / 32, rel=1e-12)


@pytest.mark.parametrize("u", ["pj", "um2"])
def test_e4m3_scales_need_two_multipliers_per_block_pair(u: str) -> None:
    nv = hwsim.format("nvfp4")
    assert block_scale_cost(nv, nv)[U[u]] == pytest.approx(2 * _fp_mult(4, 3, u) / 16, rel=1e-12)


@pytest.mark.parametrize("u", ["pj", "um2"])
def test_ue5m3_scale_costs_its_width(u: str) -> None:
    f = _fp8_ue5m3()
    assert block_scale_cost(f, f)[U[u]] == pytest.approx(2 * _fp_mult(5, 3, u) / 32, rel=1e-12)


def test_mixed_pow2_and_e4m3_scales() -> None:
    """mxfp8 activations x nvfp4 weights: the E8M0 exponent add plus one E4M3 multiplier, per 16."""
    got = block_scale_cost(hwsim.format("mxfp8_e4m3"), hwsim.format("nvfp4")).energy_pj
    assert got == pytest.approx((_add(8, "pj") + _fp_mult(4, 3, "pj")) / 16, rel=1e-12)


def test_fp32_group_scales_are_fp32_multipliers() -> None:
    """int4_g128: fp32 scales per 128 -> two fp32 multipliers (Horowitz's 3.7 pJ each) per group pair."""
    f = hwsim.format("int4_g128")
    assert block_scale_cost(f, f).energy_pj == pytest.approx(2 * 3.7 / 128, rel=1e-9)


def test_user_ue5m3_fp8_costs_more_than_mxfp8() -> None:
    fp32 = hwsim.format("fp32")
    user, mx = _fp8_ue5m3(), hwsim.format("mxfp8_e4m3")
    assert user.bits_per_element == mx.bits_per_element  # same storage: only the scale differs
    a, b = mac_cost(user, user, fp32), mac_cost(mx, mx, fp32)
    assert a.energy_pj - b.energy_pj == pytest.approx((2 * _fp_mult(5, 3, "pj") - _add(8, "pj")) / 32,
                                                      rel=1e-9)
    assert a.area_um2 > b.area_um2


def test_nvfp4_e4m3_scales_cost_more_than_e8m0() -> None:
    fp32 = hwsim.format("fp32")
    nv = hwsim.format("nvfp4")
    e8m0 = hwsim.format("block", element="fp4_e2m1", block_size=16, scale_rule="pow2")
    diff = mac_cost(nv, nv, fp32).energy_pj - mac_cost(e8m0, e8m0, fp32).energy_pj
    assert diff == pytest.approx((2 * _fp_mult(4, 3, "pj") - _add(8, "pj")) / 16, rel=1e-9)
    # and the same ordering on a whole accelerator GEMM (energy and area)
    acc = arch.accelerator("mx-systolic-32")
    c_nv, c_mx = acc.gemm(64, 256, 64, nv, nv), acc.gemm(64, 256, 64, e8m0, e8m0)
    assert c_nv.energy_mac_pj > c_mx.energy_mac_pj and c_nv.area_um2 > c_mx.area_um2


def test_tensor_scale_is_paid_per_output() -> None:
    """NVFP4 with its fp32 tensor scale: one fp32 multiplier per operand per output element."""
    nv_ts = hwsim.format("nvfp4", tensor_scale=True)
    assert output_scale_cost(nv_ts, nv_ts).energy_pj == pytest.approx(2 * 3.7, rel=1e-9)
    assert output_scale_cost(hwsim.format("nvfp4"), hwsim.format("nvfp4")).energy_pj == 0.0
    acc = arch.accelerator("mx-systolic-32")
    m, k, n = 8, 64, 24
    c = acc.gemm(m, k, n, nv_ts, nv_ts)
    node = float(acc.node_nm) / 45.0
    per_mac = mac_cost(nv_ts, nv_ts, acc.acc_format, node_nm=float(acc.node_nm)).energy_pj
    assert float(c.energy_mac_pj) == pytest.approx(m * k * n * per_mac + m * n * 2 * 3.7 * node, rel=1e-9)


def test_scale_cost_reads_bits_not_names() -> None:
    """Renaming a format changes nothing; changing only its scale element changes the cost."""
    nv = hwsim.format("nvfp4")
    assert block_scale_cost(nv.replace(name="zz"), nv) == block_scale_cost(nv, nv)
    ue = hwsim.format("nvfp4", scale_element=UE5M3)
    assert block_scale_cost(ue, ue).energy_pj == pytest.approx(2 * _fp_mult(5, 3, "pj") / 16, rel=1e-12)
