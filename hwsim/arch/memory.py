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

A second model, ``"bitmod"``, restates the official BitMoD simulator's memory rules
(abdelfattah-lab/BitMoD-HPCA-25, ``bitmod_sim/accelerator.py``) so hwsim can reproduce its
numbers: operand bytes rounded per row (:func:`operand_bytes`, ``_check_layer_mem_size``), one
weight buffer and one input buffer and no output buffer, the cheaper operand re-read a
ceiling-ratio number of times when neither fits (:func:`cheaper_operand_refetch`,
``_calc_num_mem_refetch``), a DRAM bus of so many bytes per cycle (:func:`bus_dram_cycles`,
``_calc_dram_cycle``), and each layer costing ``max(compute, DRAM)`` (``calc_cycle``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["DramTraffic", "MemoryTiming", "dram_traffic", "memory_bound_cycles", "MEMORY_MODELS",
           "operand_bytes", "cheaper_operand_refetch", "bus_dram_cycles"]

#: memory models of :class:`hwsim.arch.MemorySpec`: ``"hwsim"`` (per-fold re-reads, output buffer,
#: double buffering; :func:`dram_traffic`, :func:`memory_bound_cycles`) or ``"bitmod"`` (the official
#: BitMoD simulator's rules: :func:`operand_bytes`, :func:`cheaper_operand_refetch`, :func:`bus_dram_cycles`)
MEMORY_MODELS = ("hwsim", "bitmod")

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


def _ints(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _ceil_bytes(elements: Any, bits: Any) -> np.ndarray:
    """``ceil(elements * bits / 8)`` exactly for dyadic ``bits`` (4.0625 = 65/16, 5.25, ...)."""
    return np.ceil(np.asarray(elements, dtype=np.float64) * np.asarray(bits, dtype=np.float64) / 8).astype(np.int64)


def operand_bytes(m: Any, k: Any, n: Any, a_bits: Any, w_bits: Any, o_bits: Any, count: Any = 1,
                  a_k: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DRAM bytes of the (weight, input, output) operands of ``count`` GEMMs ``A[m, k] @ W[k, n]``
    as the official BitMoD simulator sizes them (``bitmod_sim/accelerator.py:
    Accelerator._check_layer_mem_size``): each row is rounded up to whole bytes,

    ``W = ceil(k * w_bits / 8) * n * count``, ``A = ceil(a_k * a_bits / 8) * m * count``,
    ``O = ceil(n * o_bits / 8) * m * count``.

    ``a_k`` (default ``k``) is the row width the simulator charges the input with; its commit
    58d7bdb reads a grouped-query K/V cache row (``hidden * kv_heads / heads``) for attention.
    Bits are storage bits per element (group scales amortized).
    """
    m, k, n, count = _ints(m), _ints(k), _ints(n), _ints(count)
    ak = k if a_k is None else _ints(a_k)
    return (_ceil_bytes(k, w_bits) * n * count, _ceil_bytes(ak, a_bits) * m * count,
            _ceil_bytes(n, o_bits) * m * count)


def cheaper_operand_refetch(w_bytes: Any, a_bytes: Any, w_buffer_bytes: Any, a_buffer_bytes: Any
                            ) -> tuple[np.ndarray, np.ndarray]:
    """How many times the (weight, input) operands are read from DRAM (official BitMoD simulator,
    ``bitmod_sim/accelerator.py: Accelerator._calc_num_mem_refetch``).

    Each operand is read once unless *both* exceed their buffers. Then either the whole weight is
    re-read once per buffer-full of inputs (``ceil(A / a_buffer)`` times) or the whole input once
    per buffer-full of weights (``ceil(W / w_buffer)`` times), whichever moves fewer bytes in total;
    a tie re-reads the input.
    """
    w, a = _ints(w_bytes), _ints(a_bytes)
    wb = np.asarray(w_buffer_bytes, dtype=np.float64)
    ab = np.asarray(a_buffer_bytes, dtype=np.float64)
    both = (w > wb) & (a > ab)
    times_w = np.ceil(a / ab).astype(np.int64)  # weight re-read per input chunk
    times_a = np.ceil(w / wb).astype(np.int64)  # input re-read per weight chunk
    reread_w = times_w * w + a < times_a * a + w
    one = np.ones(np.broadcast(w, a, wb, ab).shape, dtype=np.int64)
    fetch_w = np.where(both & reread_w, times_w, one)
    fetch_a = np.where(both & ~reread_w, times_a, one)
    return fetch_w, fetch_a


def bus_dram_cycles(w_bytes: Any, a_bytes: Any, o_bytes: Any, fetch_w: Any, fetch_a: Any,
                    bytes_per_cycle: Any) -> np.ndarray:
    """DRAM cycles of one layer: ``floor((W * fetch_w + A * fetch_a + O) / bytes_per_cycle)``
    (official BitMoD simulator, ``bitmod_sim/accelerator.py: Accelerator._calc_dram_cycle``: a
    128-bit double-data-rate bus, 32 bytes per cycle, the sum truncated to an integer). Exact for a
    power-of-two ``bytes_per_cycle``; the simulator sums three float quotients, which can differ in
    the last unit for other bus widths.
    """
    total = _ints(w_bytes) * _ints(fetch_w) + _ints(a_bytes) * _ints(fetch_a) + _ints(o_bytes)
    bpc = np.asarray(bytes_per_cycle)
    if np.issubdtype(bpc.dtype, np.integer):
        return total // bpc
    return np.floor(total / bpc.astype(np.float64)).astype(np.int64)
