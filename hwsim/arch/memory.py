"""Finite on-chip buffers, DRAM bandwidth, double buffering and stalls (closed form, vectorized).

Model (first order, in the spirit of SCALE-Sim's double-buffered scratchpads, arXiv 1811.02883
§III-C, and of the roofline model, Williams et al., CACM 2009):

* DRAM traffic per operand. An input operand (ifmap ``A[M, K]``, filter ``W[K, N]``) that fits
  in its SRAM is fetched from DRAM once; one that does not is re-fetched on every pass the
  dataflow makes over it (the SRAM read count of :mod:`hwsim.arch.systolic`). The output is
  written once (at its storage width) if it needs a single pass or if the partial sums that
  are live at once (the output rows of one column fold, ``T x min(cols_dim, C)``, because
  SCALE-Sim walks the row folds innermost) fit in the ofmap SRAM; otherwise every pass beyond
  the first spills the partial sums to DRAM and reads them back (at accumulator width).
* Time. ``dram_cycles = bytes / (bytes per cycle)``. Double buffered: loads of fold ``i + 1``
  overlap compute of fold ``i``, so ``cycles = max(compute, dram) + (one fold's traffic)``
  (the first fold's loads and the last fold's stores cannot overlap). Single buffered: nothing
  overlaps, ``cycles = compute + dram``. Either way ``cycles >= compute cycles`` and
  ``stall_cycles = cycles - compute``.

SCALE-Sim's memory simulation replays every request through a cycle-level buffer model; this
closed form does not reproduce its stall counts cycle for cycle (docs/cost-models.md).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["DramTraffic", "MemoryTiming", "dram_traffic", "memory_bound_cycles"]

_KIB = 1024.0


class DramTraffic(NamedTuple):
    """DRAM bytes moved per operand (arrays broadcast like the inputs)."""

    reads_ifmap_bytes: np.ndarray
    reads_filter_bytes: np.ndarray
    #: partial sums read back after a spill
    reads_ofmap_bytes: np.ndarray
    #: the output at storage width plus spilled partial sums
    writes_ofmap_bytes: np.ndarray

    @property
    def read_bytes(self) -> np.ndarray:
        """Every byte read from DRAM."""
        return self.reads_ifmap_bytes + self.reads_filter_bytes + self.reads_ofmap_bytes

    @property
    def write_bytes(self) -> np.ndarray:
        """Every byte written to DRAM."""
        return self.writes_ofmap_bytes


class MemoryTiming(NamedTuple):
    """Total cycles of a GEMM once DRAM traffic is scheduled (float64 arrays)."""

    cycles: np.ndarray  #: ceiling applied; always >= the compute cycles
    stall_cycles: np.ndarray  #: cycles - compute cycles
    dram_cycles: np.ndarray  #: bytes / bytes per cycle


def dram_traffic(m: Any, k: Any, n: Any, passes: tuple[Any, Any, Any],
                 bytes_per_elem: tuple[Any, Any, Any], acc_bytes: Any,
                 sram_kib: tuple[Any, Any, Any], psum_live: Any) -> DramTraffic:
    """DRAM bytes read/written per operand.

    Args:
        m, k, n: GEMM dimensions (arrays broadcast).
        passes: SRAM passes over (ifmap, filter, ofmap), from
            :func:`hwsim.arch.dataflow.operand_passes` (or ones for a tile-streaming unit).
        bytes_per_elem: storage bytes of one (ifmap, filter, ofmap) element, block scales
            amortized (``Format.bits_per_element / 8``).
        acc_bytes: bytes of one partial sum (spilled when the ofmap does not fit).
        sram_kib: capacity of the (ifmap, filter, ofmap) buffers in KiB.
        psum_live: partial sums live at once while the passes accumulate (elements).
    """
    m, k, n = (np.asarray(x, dtype=np.float64) for x in (m, k, n))
    pa, pw, po = (np.asarray(p, dtype=np.float64) for p in passes)
    ba, bw, bo = (np.asarray(b, dtype=np.float64) for b in bytes_per_elem)
    sa, sw, so = (np.asarray(s, dtype=np.float64) * _KIB for s in sram_kib)
    size_a, size_w = m * k * ba, k * n * bw
    read_a = np.where(size_a <= sa, size_a, size_a * pa)
    read_w = np.where(size_w <= sw, size_w, size_w * pw)
    psum = m * n * np.asarray(acc_bytes, dtype=np.float64)
    spill = (np.asarray(psum_live, dtype=np.float64) * np.asarray(acc_bytes) > so) & (po > 1)
    write_o = m * n * bo + np.where(spill, psum * (po - 1), 0.0)
    read_o = np.where(spill, psum * (po - 1), 0.0)
    return DramTraffic(reads_ifmap_bytes=read_a, reads_filter_bytes=read_w, reads_ofmap_bytes=read_o,
                       writes_ofmap_bytes=write_o)


def memory_bound_cycles(compute_cycles: Any, folds: Any, dram_bytes: Any,
                        bytes_per_cycle: Any, double_buffered: bool) -> MemoryTiming:
    """Total cycles and stall cycles given the compute schedule and the DRAM traffic.

    Returns a :class:`MemoryTiming`: ``cycles`` (float64, ceiling applied), ``stall_cycles`` and
    ``dram_cycles``; always ``cycles >= compute_cycles``.
    """
    compute = np.asarray(compute_cycles, dtype=np.float64)
    dram = np.asarray(dram_bytes, dtype=np.float64) / np.asarray(bytes_per_cycle, dtype=np.float64)
    if double_buffered:
        total = np.maximum(compute, dram) + dram / np.asarray(folds, dtype=np.float64)
    else:
        total = compute + dram
    total = np.ceil(total)
    return MemoryTiming(cycles=total, stall_cycles=total - compute, dram_cycles=dram)
