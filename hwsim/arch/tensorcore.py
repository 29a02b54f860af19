"""Tensor-core-style units: MMA instructions of ``mma_m x mma_n x mma_k`` MACs (closed form).

A GEMM is cut into output tiles of ``mma_m x mma_n``; each tile needs ``ceil(K / mma_k)``
MMA instructions; ``units`` tensor cores work on distinct output tiles in waves (NVIDIA A100
whitepaper, 2020: 4 tensor cores per SM, ``mma.sync`` shape m16n8k16 for FP16; PTX ISA
§9.7.13). One instruction occupies a unit for ``mma_cycles`` cycles at 1x throughput; narrower
operands run faster by the catalog's per-width ``throughput`` factor (A100: FP16 1x, INT8 2x,
INT4 4x; Hopper FP8 2x, Blackwell FP4 4x of FP16). The result pipeline adds a fixed latency.

Memory is the roofline (Williams et al., CACM 2009) through :mod:`hwsim.arch.memory`, with
inputs re-fetched once per thread-block tile (``block_m x block_n``, CUTLASS' default 128x128).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.arch._util import ceil_div, exact, floats, largest, positive_float, positive_int
from hwsim.arch.energy import OperandBits
from hwsim.errors import FormatError

__all__ = ["TensorCoreResult", "throughput_factor", "tensorcore_gemm"]


@dataclass(frozen=True, slots=True)
class TensorCoreResult:
    """Compute schedule and operand traffic of one GEMM (or an array of GEMMs) on tensor cores."""

    cycles: Any  #: compute cycles (waves x k-steps x MMA cycles + pipeline latency)
    macs: Any  #: ``M * K * N``
    folds: Any  #: thread-block tiles (``block_m x block_n``)
    occupancy: Any  #: output tiles / (waves x units)
    utilization: Any  #: macs / (cycles x peak MACs per cycle)
    sram_reads_ifmap: Any  #: A elements fed to the MMAs
    sram_reads_filter: Any  #: W elements fed to the MMAs
    sram_writes_ofmap: Any  #: output elements written
    #: passes over (ifmap, filter, ofmap): inputs re-fetched once per thread-block column/row
    operand_passes: tuple[Any, Any, Any]
    psum_live: Any  #: partial sums live in shared buffers (0: they stay in registers)
    mac_units: Any  #: multipliers at 1x throughput


def throughput_factor(throughput: Mapping[int, float], a: OperandBits, w: OperandBits) -> float:
    """MAC-rate multiplier for an operand pair: the entry for the narrowest supported element
    width that holds the wider of the two elements (6-bit elements run at the 8-bit rate).

    Raises:
        FormatError: both formats are wider than every width the unit supports.
    """
    bits = max(a.element_bits, w.element_bits)
    fits = [width for width in throughput if width >= bits]
    if not fits:
        raise FormatError(f"{bits}-bit elements are wider than this unit supports "
                          f"(element widths with a throughput: {sorted(throughput)})")
    return float(throughput[min(fits)])


def tensorcore_gemm(m: Any, k: Any, n: Any, *, mma_m: Any, mma_n: Any, mma_k: Any, units: Any,
                    mma_cycles: Any, speedup: float, pipeline_latency_cycles: Any,
                    block_m: Any, block_n: Any) -> TensorCoreResult:
    """Compute cycles, occupancy, utilization and operand traffic of one GEMM (vectorized)."""
    m, k, n = positive_int("m", m), positive_int("k", k), positive_int("n", n)
    tm, tn, tk = positive_int("mma_m", mma_m), positive_int("mma_n", mma_n), positive_int("mma_k", mma_k)
    units = positive_int("units", units)
    bm, bn = positive_int("block_m", block_m), positive_int("block_n", block_n)
    # every count below is <= (M+mma_m)(N+mma_n)(K+mma_k) or units*mma_m*mma_n*mma_k: past int64
    # the integers become Python ints, so the counts stay exact (docs/cost-models.md)
    hi = [largest(v) for v in (m, k, n, tm, tn, tk, units, bm, bn)]
    bound = max((hi[0] + hi[3] + hi[7]) * (hi[2] + hi[4] + hi[8]) * (hi[1] + hi[5]), hi[3] * hi[4] * hi[5] * hi[6])
    m, k, n, tm, tn, tk, units, bm, bn = exact(bound, m, k, n, tm, tn, tk, units, bm, bn)
    per_mma = positive_float("mma_cycles", mma_cycles) / speedup
    latency = positive_float("pipeline_latency_cycles", pipeline_latency_cycles, allow_zero=True)
    tiles = ceil_div(m, tm) * ceil_div(n, tn)
    k_steps = ceil_div(k, tk)
    waves = ceil_div(tiles, units)
    compute = np.ceil(floats(waves * k_steps) * per_mma + latency)
    macs = m * k * n
    peak = floats(units * tm * tn * tk) / per_mma  # MACs per cycle
    return TensorCoreResult(
        cycles=compute,
        macs=macs,
        folds=ceil_div(m, bm) * ceil_div(n, bn),
        occupancy=floats(tiles / (waves * units)),
        utilization=floats(macs / (compute * peak)),
        sram_reads_ifmap=tiles * k_steps * tm * tk,
        sram_reads_filter=tiles * k_steps * tk * tn,
        sram_writes_ofmap=tiles * tm * tn,
        operand_passes=(ceil_div(n, bn), ceil_div(m, bm), np.ones_like(tiles)),
        psum_live=np.zeros_like(tiles),  # accumulators stay in registers: no spills
        mac_units=floats(units * tm * tn * tk) / positive_float("mma_cycles", mma_cycles),
    )
