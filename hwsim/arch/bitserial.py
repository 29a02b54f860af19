"""Bit-serial / precision-scalable PE arrays: cycles proportional to the terms of each weight.

Weights enter each PE one *term* per cycle while activations stay bit-parallel (Stripes, Judd et
al., MICRO 2016: execution time scales with precision p as p/16; BitMoD, Chen et al., HPCA 2025
§IV; Bit Fusion, Sharma et al., ISCA 2018, fuses 2-bit bricks). Two ways to count a weight's cycles:

- from its width (the default): a ``b``-bit weight taken ``w_bits_per_cycle`` bits at a time costs
  ``passes = ceil(b / w_bits_per_cycle)`` cycles: 3/4/6/8-bit weights at 2 bits per cycle cost
  2/2/3/4. For two's complement integers at 2 bits per cycle this *is* the radix-4 Booth digit
  count (BitMoD §IV-A: INT8 = 4 terms, INT6 = 3);
- from its term decomposition (``cycles_per_weight``, e.g. :func:`weight_cycles`): the worst-case
  number of signed power-of-two terms over the format's codes
  (:mod:`hwsim.numerics.bitserial`): Booth digits for integers, one-bits for minifloats and
  codebooks. BitMoD's FP4/FP3 types (special values included) have at most 2 one-bits, so its PE
  spends 2 cycles per weight whatever the code (§IV-B), 1.33x faster than INT6 and 2x than INT8.

A synchronous array takes the worst case: every PE of a column advances together, so a weight with
fewer terms idles the rest of its slot. The whole systolic schedule of :mod:`hwsim.arch.systolic` is
stretched by the cycles per weight. SRAM traffic is that of the bit-parallel array (a weight's terms
are read together and consumed in the PE).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hwsim.arch._util import ceil_div, exact, floats, largest, positive_int
from hwsim.arch.dataflow import Dataflow
from hwsim.arch.systolic import SystolicResult, systolic_gemm

__all__ = ["BitSerialResult", "SCHEDULES", "weight_passes", "weight_cycles", "group_cycles", "bitserial_gemm",
           "tile_count", "official_weight_passes"]

#: tile schedules of an array: ``"systolic"`` (hwsim's physical schedule, fill/skew/drain counted,
#: :mod:`hwsim.arch.systolic`) or ``"tiles"`` (the official BitMoD simulator's count: tiles x cycles
#: per weight, no fill, skew or drain; :func:`tile_count`)
SCHEDULES = ("systolic", "tiles")


@dataclass(frozen=True, slots=True)
class BitSerialResult:
    """A bit-serial GEMM: the stretched systolic schedule and the cycles each weight takes."""

    #: the bit-parallel array's result with ``cycles`` and utilizations stretched by ``weight_passes``
    array: SystolicResult
    #: cycles one PE spends on one weight (the MAC energy is paid once per pass)
    weight_passes: Any

    @property
    def cycles(self) -> Any:
        """Compute cycles of the stretched schedule."""
        return self.array.cycles


def weight_passes(w_bits: Any, w_bits_per_cycle: Any) -> np.ndarray:
    """Cycles one PE spends on one weight: ``ceil(w_bits / w_bits_per_cycle)``."""
    return ceil_div(positive_int("w_bits", w_bits), positive_int("w_bits_per_cycle", w_bits_per_cycle))


def weight_cycles(w_format: Any, method: str | None = None) -> int:
    """Worst-case terms per weight of a format (``Format``, ``Codebook``, ``CodebookFormat``, any
    format family with element ``values()``, or a catalog name such as ``"olive4"``, resolved with
    :func:`hwsim.catalog.get_format`): the cycles one bit-serial PE spends on its weights.

    ``method`` as in :mod:`hwsim.numerics.bitserial`: default ``"booth"`` (radix 4, 2 bits per
    cycle) for integer elements and ``"onebits"`` for minifloats and codebooks; ``"lod2"`` is
    BitMoD's FP4/FP3 decoder (always 2).

    Raises:
        FormatError: an unknown name, or a format with no codes or values to decompose.
    """
    from hwsim.numerics.bitserial import max_terms  # lazy: numerics loads on first use

    if isinstance(w_format, str):  # a name: the same object hwsim.format(name) returns
        from hwsim.catalog import get_format

        w_format = get_format(w_format)
    return max(max_terms(w_format, method), 1)


def group_cycles(group_size: Any, lanes: Any, cycles_per_weight: Any) -> np.ndarray:
    """Cycles a PE with ``lanes`` weight lanes (a ``lanes``-way dot product per cycle) spends on a
    group of ``group_size`` weights: ``ceil(group_size / lanes) * cycles_per_weight``.

    BitMoD §IV-B: a 128-weight group of 2-term types on a 4-way PE takes 128 / 4 x 2 = 64 cycles,
    longer than the 8-cycle bit-serial dequantization of its INT8 scale, so dequantization never
    stalls the PE.
    """
    return (ceil_div(positive_int("group_size", group_size), positive_int("lanes", lanes))
            * positive_int("cycles_per_weight", cycles_per_weight))


def bitserial_gemm(rows: Any, cols: Any, dataflow: Dataflow | str, m: Any, k: Any, n: Any,
                   w_bits: Any, w_bits_per_cycle: Any, *,
                   cycles_per_weight: Any = None) -> BitSerialResult:
    """Cycles and traffic of a GEMM on a bit-serial array (the fields of :func:`systolic_gemm`,
    stretched, and the weight passes).

    ``cycles_per_weight`` (e.g. :func:`weight_cycles`) replaces ``ceil(w_bits / w_bits_per_cycle)``
    when given.
    """
    res = systolic_gemm(rows, cols, dataflow, m, k, n)
    if cycles_per_weight is None:
        passes = weight_passes(w_bits, w_bits_per_cycle)
    else:
        passes = positive_int("cycles_per_weight", cycles_per_weight)
    cycles, passes = exact(2 * largest(res.cycles) * largest(passes), res.cycles, passes)  # exact past int64
    stretched = replace(res, cycles=cycles * passes, utilization=floats(res.utilization / passes),
                        compute_utilization=floats(res.compute_utilization / passes))
    return BitSerialResult(array=stretched, weight_passes=passes)


def tile_count(rows: Any, cols: Any, m: Any, k: Any, n: Any, lanes: Any = 1, count: Any = 1) -> np.ndarray:
    """Array tiles of ``count`` GEMMs ``A[m, k] @ W[k, n]`` in the official BitMoD simulator's schedule:
    ``ceil(k / lanes) * ceil(n / rows) * ceil(m / cols) * count``.

    Output channels ``n`` sit on the ``rows``, tokens ``m`` on the ``cols``, and the input channels
    ``k`` stream through time ``lanes`` at a time (the PE's dot-product width, ``pe_dp_size``: 4 for
    BitMoD's PE, 1 for the baselines). One tile takes one cycle per weight pass; there is no fill,
    skew or drain. Restates ``bitmod_sim/accelerator.py: Accelerator._calc_tile_fc`` (and its
    ``batch_size`` factor at commit e445a5f) of abdelfattah-lab/BitMoD-HPCA-25.
    """
    rows, cols, m, k, n, lanes, count = (positive_int(name, v) for name, v in (
        ("rows", rows), ("cols", cols), ("m", m), ("k", k), ("n", n), ("lanes", lanes), ("count", count)))
    return ceil_div(k, lanes) * ceil_div(n, rows) * ceil_div(m, cols) * count


def official_weight_passes(w_bits_per_element: Any, w_bits_per_cycle: Any = 2) -> np.ndarray:
    """Cycles per weight the official BitMoD simulator charges a bit-serial PE:
    ``ceil(floor(bits) / w_bits_per_cycle)`` of the *storage* bits per element (group scales
    amortized): 3.0625 and 4.0625 bits -> 2, 6.0625 -> 3, 8 -> 4, 16 -> 8
    (``bitmod_sim/pe_array.py: PE_Array.__init__``, ``pe_latency``). For formats whose storage
    bits round down to their element width this equals :func:`weight_passes` of the element width.
    """
    bits = np.floor(np.asarray(w_bits_per_element, dtype=np.float64)).astype(np.int64)
    return weight_passes(bits, w_bits_per_cycle)
