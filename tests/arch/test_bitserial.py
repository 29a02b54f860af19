"""Bit-serial arrays: cycles proportional to weight bits (BitMoD / Stripes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim.arch as arch
from hwsim.arch.bitserial import bitserial_gemm, weight_passes
from hwsim.arch.systolic import systolic_gemm


@pytest.mark.parametrize("bits,per_cycle,passes", [(8, 2, 4), (6, 2, 3), (4, 2, 2), (3, 2, 2),
                                                   (3, 1, 3), (16, 1, 16), (1, 2, 1)])
def test_weight_passes(bits: int, per_cycle: int, passes: int) -> None:
    assert weight_passes(bits, per_cycle) == passes


@settings(max_examples=100, deadline=None)
@given(m=st.integers(1, 500), k=st.integers(1, 500), n=st.integers(1, 500),
       df=st.sampled_from(["ws", "is", "os"]), bits=st.integers(1, 16))
def test_cycles_proportional_to_weight_bits(m: int, k: int, n: int, df: str, bits: int) -> None:
    one = bitserial_gemm(16, 16, df, m, k, n, 1, 1)["cycles"]
    assert bitserial_gemm(16, 16, df, m, k, n, bits, 1)["cycles"] == bits * one
    assert one == systolic_gemm(16, 16, df, m, k, n)["cycles"]


def test_low_bit_formats_show_speedup() -> None:
    acc = arch.accelerator("bitmod-like")
    shape = (512, 4096, 4096)
    cyc = {w: acc.gemm(*shape, w_format=w).compute_cycles for w in ("int8", "int4", "fp6_e2m3", "mxfp4")}
    assert cyc["int8"] == 2 * cyc["int4"]  # 4 vs 2 passes at 2 bits/cycle
    assert cyc["fp6_e2m3"] * 2 == cyc["int4"] * 3  # 3 passes
    assert cyc["mxfp4"] == cyc["int4"]


def test_bad_bits() -> None:
    with pytest.raises(ValueError, match="w_bits_per_cycle must be >= 1"):
        weight_passes(4, 0)
