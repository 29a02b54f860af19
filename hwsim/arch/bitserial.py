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

__all__ = ["BitSerialResult", "weight_passes", "weight_cycles", "group_cycles", "bitserial_gemm"]


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
    """Worst-case terms per weight of a format object (``Format``, ``Codebook`` or
    ``CodebookFormat``; names are resolved by the caller): the cycles one bit-serial PE spends on
    its weights.

    ``method`` as in :mod:`hwsim.numerics.bitserial`: default ``"booth"`` (radix 4, 2 bits per
    cycle) for integer elements and ``"onebits"`` for minifloats and codebooks; ``"lod2"`` is
    BitMoD's FP4/FP3 decoder (always 2).
    """
    from hwsim.numerics.bitserial import max_terms  # lazy: numerics loads on first use

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
