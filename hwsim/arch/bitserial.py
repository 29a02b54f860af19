"""Bit-serial / precision-scalable PE arrays: cycles proportional to weight bits.

Weights enter each PE ``w_bits_per_cycle`` bits at a time while activations stay bit-parallel
(Stripes, Judd et al., MICRO 2016: execution time scales with precision p as p/16; BitMoD,
Chen et al., HPCA 2025 §IV: weights processed 2 bits per cycle; Bit Fusion, Sharma et al.,
ISCA 2018, fuses 2-bit bricks). A ``b``-bit weight takes ``passes = ceil(b / w_bits_per_cycle)``
cycles per MAC, so the whole systolic schedule of :mod:`hwsim.arch.systolic` is stretched by
``passes``: 3/4/6/8-bit weights at 2 bits per cycle cost 2/2/3/4 times one pass. SRAM traffic is
that of the bit-parallel array (a weight's bit-groups are read together and consumed in the PE).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.arch._util import ceil_div, positive_int
from hwsim.arch.systolic import systolic_gemm
from hwsim.arch.dataflow import Dataflow

__all__ = ["weight_passes", "bitserial_gemm"]


def weight_passes(w_bits: Any, w_bits_per_cycle: Any) -> np.ndarray:
    """Cycles one PE spends on one weight: ``ceil(w_bits / w_bits_per_cycle)``."""
    return ceil_div(positive_int("w_bits", w_bits), positive_int("w_bits_per_cycle", w_bits_per_cycle))


def bitserial_gemm(rows: Any, cols: Any, dataflow: Dataflow | str, m: Any, k: Any, n: Any,
                   w_bits: Any, w_bits_per_cycle: Any) -> dict[str, np.ndarray]:
    """Cycles and traffic of a GEMM on a bit-serial array (fields as :func:`systolic_gemm`)."""
    res = systolic_gemm(rows, cols, dataflow, m, k, n)
    passes = weight_passes(w_bits, w_bits_per_cycle)
    res["cycles"] = res["cycles"] * passes
    res["utilization"] = res["utilization"] / passes
    res["compute_utilization"] = res["compute_utilization"] / passes
    res["passes"] = passes
    return res
