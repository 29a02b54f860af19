"""Tensor-core units: MMA tiles, occupancy, throughput per format, roofline."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim
import hwsim.arch as arch
from hwsim.arch.tensorcore import tensorcore_gemm

TC = dict(mma_m=16, mma_n=8, mma_k=16, units=4, mma_cycles=8, pipeline_latency_cycles=32,
          block_m=128, block_n=128)


def test_cycles_by_hand() -> None:
    # 256x256x256 in m16n8k16 tiles: 16*32 = 512 output tiles over 4 units = 128 waves,
    # 16 k-steps of 8 cycles each: 128*16*8 = 16384, + 32 latency.
    r = tensorcore_gemm(256, 256, 256, speedup=1.0, **TC)
    assert r.cycles == 16384 + 32
    assert r.occupancy == 1.0
    # peak 4 * 2048 / 8 = 1024 MACs/cycle; 256^3 / (16416 * 1024)
    assert r.utilization == pytest.approx(256**3 / (16416 * 1024))


def test_partial_tiles_and_occupancy() -> None:
    # m=20 -> 2 row tiles, n=8 -> 1 col tile: 2 tiles on 4 units = 1 wave, occupancy 0.5;
    # k=40 -> 3 k-steps: 3*8 + 32 cycles
    r = tensorcore_gemm(20, 40, 8, speedup=1.0, **TC)
    assert r.cycles == 56 and r.occupancy == 0.5


def test_throughput_per_format() -> None:
    acc = arch.accelerator("tensorcore-sm-like", pipeline_latency_cycles=0)
    fp16 = acc.gemm(1024, 1024, 1024, hwsim.format("fp16"), hwsim.format("fp16")).compute_cycles
    fp8 = acc.gemm(1024, 1024, 1024, hwsim.format("fp8_e4m3"), hwsim.format("fp8_e4m3")).compute_cycles
    fp4 = acc.gemm(1024, 1024, 1024, hwsim.format("mxfp4"), hwsim.format("mxfp4")).compute_cycles
    # 6-bit operands run at the 8-bit rate
    fp6 = acc.gemm(1024, 1024, 1024, hwsim.format("mxfp6_e2m3"), hwsim.format("mxfp4")).compute_cycles
    assert (fp16, fp8, fp4, fp6) == (fp16, fp16 // 2, fp16 // 4, fp16 // 2)


def test_unsupported_width() -> None:
    with pytest.raises(ValueError, match="32-bit elements are wider than this unit supports"):
        arch.accelerator("tensorcore-sm-like").gemm(64, 64, 64, hwsim.format("fp32"), hwsim.format("fp16"))


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 4000), k=st.integers(1, 4000), n=st.integers(1, 4000))
def test_roofline(m: int, k: int, n: int) -> None:
    c = arch.accelerator("tensorcore-sm-like").gemm(m, k, n)
    bytes_per_cycle = 14.4e9 / 1410e6
    assert c.cycles >= c.compute_cycles
    assert c.cycles >= (c.dram_read_bytes + c.dram_write_bytes) / bytes_per_cycle - 1
    assert 0 < c.utilization <= 1
