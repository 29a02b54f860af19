"""Memory-aware mode: DRAM traffic, double buffering, stalls."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim.arch as arch
from hwsim.arch.memory import dram_traffic, memory_bound_cycles


def test_traffic_fits_vs_refetch_by_hand() -> None:
    # A[100, 50] int8 = 5000 B; W[50, 40] = 2000 B; O[100, 40] = 4000 B.
    ones = (1, 1, 1)
    fits = dram_traffic(100, 50, 40, (3, 1, 1), ones, 4, (8, 8, 8), psum_live=0)
    assert fits.reads_ifmap_bytes == 5000  # fits in 8 KiB: fetched once
    small = dram_traffic(100, 50, 40, (3, 1, 1), ones, 4, (1, 1, 8), psum_live=0)
    assert small.reads_ifmap_bytes == 15000  # 1 KiB: re-fetched on each of 3 passes
    assert small.reads_filter_bytes == 2000  # one pass only
    # ofmap needs 5 passes, 2000 live psums x 4 B = 8000 B > 1 KiB: 4 spills written + read
    spill = dram_traffic(100, 50, 40, (1, 1, 5), ones, 4, (8, 8, 1), psum_live=2000)
    assert spill.writes_ofmap_bytes == 4000 + 4 * 100 * 40 * 4
    assert spill.reads_ofmap_bytes == 4 * 100 * 40 * 4


def test_double_buffering_by_hand() -> None:
    # 1000 compute cycles over 10 folds, 4000 bytes at 8 B/cycle = 500 DRAM cycles.
    db = memory_bound_cycles(1000, 10, 4000, 8, double_buffered=True)
    assert db.cycles == 1000 + 50  # hidden behind compute except one fold's share
    sb = memory_bound_cycles(1000, 10, 4000, 8, double_buffered=False)
    assert sb.cycles == 1500
    bw_bound = memory_bound_cycles(1000, 10, 40000, 8, double_buffered=True)
    assert bw_bound.cycles == 5000 + 500 and bw_bound.stall_cycles == 4500


@settings(max_examples=100, deadline=None)
@given(m=st.integers(1, 3000), k=st.integers(1, 3000), n=st.integers(1, 3000),
       name=st.sampled_from(["tpu-v1-like", "eyeriss-like", "mx-systolic-32", "bitmod-like",
                             "tensorcore-sm-like", "zigzag-tpu-like"]),
       bw=st.floats(0.1, 1000.0), db=st.booleans())
def test_memory_aware_cycles_at_least_compute(m: int, k: int, n: int, name: str, bw: float, db: bool) -> None:
    acc = arch.accelerator(name, dram_gb_per_s=bw, double_buffered=db)
    c = acc.gemm(m, k, n)
    assert c.cycles >= c.compute_cycles
    assert c.stall_cycles == c.cycles - c.compute_cycles
    assert 0 < c.utilization <= 1


def test_bandwidth_bound_layer_shows_stalls() -> None:
    # A GEMV-like layer on the TPU: 1 x 4096 x 4096 int8 weights = 16 MiB from DDR3 at
    # 34 GB/s / 700 MHz = 48.57 B/cycle -> 345,400 cycles, above the compute schedule of
    # 16*16 folds * (2*256 + 256 + 1 - 2) - 1 = 196,351 cycles.
    c = arch.accelerator("tpu-v1-like").gemm(1, 4096, 4096)
    assert c.compute_cycles == 196351
    assert c.cycles >= 4096 * 4096 / (34e9 / 700e6) > c.compute_cycles
    assert c.stall_cycles > 100_000
    fast = arch.accelerator("tpu-v1-like", dram_gb_per_s=1e6).gemm(1, 4096, 4096)
    assert fast.stall_cycles < c.stall_cycles


def test_more_bandwidth_never_slower() -> None:
    bws = np.array([1.0, 4.0, 16.0, 64.0, 256.0])
    c = arch.accelerator("mx-systolic-32", dram_gb_per_s=bws).gemm(512, 2048, 512)
    assert np.all(np.diff(c.cycles) <= 0)
    assert np.ndim(c.compute_cycles) == 0 and c.cycles.shape == (5,)
    assert c.cycles[-1] < c.cycles[0]
