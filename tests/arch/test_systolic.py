"""SystolicArray: hand-derived cycle counts, SRAM counts, properties and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.arch import Dataflow, SystolicArray
from hwsim.arch.energy import operand_bits
from hwsim.arch.systolic import systolic_gemm
from hwsim.arch.units import SystolicUnit
from hwsim.catalog import get_format

DATAFLOWS = ["ws", "is", "os"]

# (R, C, dataflow, m, k, n) -> cycles, derived by hand from SCALE-Sim's schedule
# (per fold: fill + (R-1) + (C-1) + T; total = folds * per_fold - 1):
HAND = [
    # ws: folds ceil(K/R) ceil(N/C) = 8*8 = 64; per fold 2*32+32+256-2 = 350; 64*350-1
    (32, 32, "ws", 256, 256, 256, 22399),
    # is: folds ceil(K/R) ceil(M/C) = 8*8; per fold 2*32+32+N-2 = 350 -> 22399 as well
    (32, 32, "is", 256, 256, 256, 22399),
    # os: folds ceil(M/R) ceil(N/C) = 64; per fold 32+32+256-2 = 318; 64*318-1
    (32, 32, "os", 256, 256, 256, 20351),
    # ws, non-multiple: K=100 -> 7 row folds of 16, N=50 -> 4 col folds of 16 (28 folds);
    # per fold 2*16+16+M(=37)-2 = 83; 28*83-1
    (16, 16, "ws", 37, 100, 50, 2323),
    # os, rectangular 8x4: M=10 -> 2 folds, N=9 -> 3 folds; per fold 8+4+K(=5)-2 = 15; 6*15-1
    (8, 4, "os", 10, 5, 9, 89),
    # is, 4x8: K=9 -> 3 folds, M=17 -> 3 folds; per fold 2*4+8+N(=3)-2 = 17; 9*17-1
    (4, 8, "is", 17, 9, 3, 152),
]


@pytest.mark.parametrize("r,c,df,m,k,n,cycles", HAND)
def test_cycles_by_hand(r: int, c: int, df: str, m: int, k: int, n: int, cycles: int) -> None:
    assert SystolicArray(rows=r, cols=c, dataflow=df).gemm(m=m, k=k, n=n).cycles == cycles


def test_api_contract_plain_python_numbers() -> None:
    r = SystolicArray(rows=32, cols=32, dataflow="ws").gemm(m=256, k=256, n=256)
    for value in (r.cycles, r.sram_reads, r.sram_writes):
        assert type(value) is int
    assert type(r.utilization) is float


def test_sram_counts_ws_by_hand() -> None:
    # WS on 16x16, M=37 K=100 N=50: each weight read once (K*N = 5000); the ifmap streams once
    # per column fold (37*100*4 = 14800); partial sums written once per row fold (37*50*7).
    r = SystolicArray(rows=16, cols=16, dataflow="ws").gemm(m=37, k=100, n=50)
    assert (r.sram_reads_filter, r.sram_reads_ifmap, r.sram_writes_ofmap) == (5000, 14800, 12950)
    assert r.sram_reads == 19800 and r.sram_writes == 12950


def test_sram_counts_os_and_is_by_hand() -> None:
    # OS 8x4, M=10 K=5 N=9: A per column fold (10*5*3), W per row fold (5*9*2), O once (90)
    # plus SCALE-Sim's drain accounting of R + C writes per fold: 6 folds * 12 = 72.
    r = SystolicArray(rows=8, cols=4, dataflow="os").gemm(m=10, k=5, n=9)
    assert (r.sram_reads_ifmap, r.sram_reads_filter, r.sram_writes_ofmap) == (150, 90, 90 + 72)
    assert r.ofmap_drain_writes == 72
    # IS 4x8, M=17 K=9 N=3: A once (153), W per column fold (27*3), O per row fold (51*3).
    r = SystolicArray(rows=4, cols=8, dataflow="is").gemm(m=17, k=9, n=3)
    assert (r.sram_reads_ifmap, r.sram_reads_filter, r.sram_writes_ofmap) == (153, 81, 153)
    assert r.ofmap_drain_writes == 0


def test_compute_utilization_by_hand() -> None:
    # SCALE-Sim's per-fold "Compute Util" denominator: ws/is L + C - 1, os L (dataflow.mapping).
    # WS 16x16, M=37 K=100 N=50: 28 folds, L = 2*16+16+37-2 = 83, L' = 83 + 15 = 98.
    r = SystolicArray(rows=16, cols=16, dataflow="ws").gemm(m=37, k=100, n=50)
    assert r.compute_utilization == pytest.approx(100 * 50 * 37 / (28 * 256 * 98), rel=1e-15)
    # OS 8x4, M=10 K=5 N=9: 6 folds, L = L' = 8+4+5-2 = 15.
    r = SystolicArray(rows=8, cols=4, dataflow="os").gemm(m=10, k=5, n=9)
    assert r.compute_utilization == pytest.approx(10 * 9 * 5 / (6 * 32 * 15), rel=1e-15)


def test_mapping_efficiency_by_hand() -> None:
    # WS 16x16, K=100 (7 folds, 6 full + 4 rows), N=50 (4 folds, 3 full + 2 cols):
    # mean used fraction = (100*50) / (28 * 256)
    r = SystolicArray(rows=16, cols=16, dataflow="ws").gemm(m=37, k=100, n=50)
    assert r.mapping_efficiency == pytest.approx(5000 / (28 * 256))


dims = st.integers(min_value=1, max_value=600)
arr = st.integers(min_value=1, max_value=128)


@settings(max_examples=150, deadline=None)
@given(r=arr, c=arr, df=st.sampled_from(DATAFLOWS), m=dims, k=dims, n=dims, axis=st.integers(0, 2))
def test_monotone_in_every_dimension(r: int, c: int, df: str, m: int, k: int, n: int, axis: int) -> None:
    a = SystolicArray(rows=r, cols=c, dataflow=df)
    base = [m, k, n]
    bigger = list(base)
    bigger[axis] += 1
    assert a.gemm(*bigger).cycles >= a.gemm(*base).cycles


@settings(max_examples=150, deadline=None)
@given(r=arr, c=arr, df=st.sampled_from(DATAFLOWS), m=dims, k=dims, n=dims)
def test_utilization_bounds_and_lower_bound(r: int, c: int, df: str, m: int, k: int, n: int) -> None:
    res = SystolicArray(rows=r, cols=c, dataflow=df).gemm(m, k, n)
    assert 0 < res.utilization <= 1
    assert 0 < res.mapping_efficiency <= 1
    assert 0 < res.compute_utilization <= 1
    # no more than R*C MACs per cycle (SCALE-Sim reports the last cycle's index: + 1)
    assert res.cycles + 1 >= m * k * n / (r * c)
    assert res.macs == m * k * n


def test_vectorized_equals_scalar_loop() -> None:
    rng = np.random.default_rng(0)
    m, k, n = (rng.integers(1, 2000, size=50) for _ in range(3))
    rows = rng.integers(1, 300, size=(7, 1))
    cols = rng.integers(1, 300, size=(7, 1))
    for df in DATAFLOWS:
        vec = SystolicArray(rows=rows, cols=cols, dataflow=df).gemm(m, k, n)
        assert vec.cycles.shape == (7, 50)
        for i in (0, 3, 6):
            for j in (0, 17, 49):
                one = SystolicArray(rows=int(rows[i, 0]), cols=int(cols[i, 0]), dataflow=df).gemm(
                    int(m[j]), int(k[j]), int(n[j]))
                assert vec.cycles[i, j] == one.cycles
                assert vec.sram_reads[i, j] == one.sram_reads
                assert vec.utilization[i, j] == pytest.approx(one.utilization)


def test_dataflow_enum_and_case() -> None:
    assert SystolicArray(rows=4, cols=4, dataflow="WS").dataflow is Dataflow.WS
    assert SystolicArray(rows=4, cols=4, dataflow=Dataflow.OS).dataflow is Dataflow.OS


@pytest.mark.parametrize("kwargs,needle", [
    ({"m": 0, "k": 4, "n": 4}, "m must be >= 1"),
    ({"m": 4, "k": -3, "n": 4}, "k must be >= 1"),
    ({"m": 4, "k": 4, "n": 2.5}, "n must be a positive integer"),
    ({"m": np.array([4, 0]), "k": 4, "n": 4}, "m must be >= 1"),
])
def test_bad_dimensions(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        SystolicArray(rows=8, cols=8).gemm(**kwargs)


def test_bad_array_and_dataflow() -> None:
    with pytest.raises(ValueError, match="rows must be >= 1"):
        SystolicArray(rows=0, cols=8)
    with pytest.raises(ValueError, match=r"unknown dataflow 'rs'.*Known dataflows: is, os, ws"):
        SystolicArray(rows=8, cols=8, dataflow="rs")
    with pytest.raises(ValueError, match="unknown dataflow"):
        systolic_gemm(8, 8, 3, 1, 1, 1)  # pyright: ignore[reportArgumentType]  (deliberately not a dataflow)


def test_unit_reports_the_hand_counted_sram_traffic() -> None:
    """The compute unit the accelerator prices hands on each operand's own SRAM count (the WS case
    above counted by hand: W 5000, A 14800, O 12950), so the ifmap and filter SRAMs are charged
    for their own reads; a mix-up of the two fields is caught here, not only by golden snapshots."""
    int8 = operand_bits(get_format("int8_tensor"))
    u = SystolicUnit(rows=16, cols=16, dataflow=Dataflow.WS).compute(37, 100, 50, int8, int8)
    assert (u.sram_reads_filter_words, u.sram_reads_ifmap_words, u.sram_writes_ofmap_words) == (5000, 14800, 12950)
    assert u.macs == 37 * 100 * 50
