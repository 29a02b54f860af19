"""Compute cycles, utilization and SRAM traffic of an ``R x C`` systolic array (closed form).

The schedule is SCALE-Sim's (Samajdar et al., arXiv 1811.02883 §III; SCALE-Sim v3 3.0.0
``scalesim/compute/systolic_compute_*.py``): the GEMM is cut into
``ceil(rows_dim / R) * ceil(cols_dim / C)`` folds, each fold costs
``fill + (R - 1) + (C - 1) + T`` cycles (see :mod:`hwsim.arch.dataflow`), folds run back to
back, and SCALE-Sim reports the index of the last busy cycle, i.e. the sum minus one.
Partial folds cost as much as full ones (the idle PEs are padded with null requests).
``tests/arch/test_vs_scalesim.py`` checks every number here against real SCALE-Sim runs.

Everything is vectorized: ``rows``, ``cols``, ``m``, ``k`` and ``n`` may be numpy arrays of
any broadcast-compatible shapes (a sweep over design points x layers is one call).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from hwsim.arch._util import ceil_div, exact, floats, largest, out, positive_int
from hwsim.arch.dataflow import Dataflow, mapping, ofmap_drain_writes, operand_passes

__all__ = ["SystolicArray", "SystolicResult", "systolic_gemm", "count_bound"]

#: SCALE-Sim reports the index of the last cycle in which the ofmap is written
#: (``double_buffered_scratchpad_mem.py``: ``total_cycles = max(ofmap_serviced_cycles)``, with
#: cycles counted from 0), one less than the number of rows of its demand matrices.
_LAST_CYCLE_OFFSET = 1


@dataclass(frozen=True, slots=True)
class SystolicResult:
    """Cost of one GEMM (or an array of GEMMs) on a systolic array, without memory stalls.

    From :meth:`SystolicArray.gemm`, scalar inputs give plain ``int``/``float`` fields and array
    inputs give arrays; :func:`systolic_gemm` leaves every field as it computed it (numpy arrays
    or Python numbers).
    """

    cycles: Any  #: compute cycles (SCALE-Sim ``total_cycles`` with zero stalls)
    macs: Any  #: useful multiply-accumulates, ``M * K * N``
    folds: Any  #: number of array tiles executed
    utilization: Any  #: ``macs / ((cycles + 1) * R * C)``, over every cycle slot of the schedule
    mapping_efficiency: Any  #: mean fraction of PEs holding data per fold (SCALE-Sim "Mapping Efficiency")
    compute_utilization: Any  #: SCALE-Sim's mean per-fold "Compute Util" (ws/is/os)
    sram_reads_ifmap: Any  #: A[M, K] words read from the ifmap SRAM
    sram_reads_filter: Any  #: W[K, N] words read from the filter SRAM
    #: O[M, N] words (partial sums included) written to the ofmap SRAM, counted as SCALE-Sim's
    #: "SRAM OFMAP Writes" (os: plus ``ofmap_drain_writes``)
    sram_writes_ofmap: Any
    #: of ``sram_writes_ofmap``, SCALE-Sim's os drain accounting (``folds * (R + C)``; 0 for
    #: ws/is): no data, so the energy model leaves them out
    ofmap_drain_writes: Any

    @property
    def sram_reads(self) -> Any:
        """Words read from all input SRAMs."""
        return self.sram_reads_ifmap + self.sram_reads_filter

    @property
    def sram_writes(self) -> Any:
        """Words written to the output SRAM."""
        return self.sram_writes_ofmap


def count_bound(rows: Any, cols: Any, m: Any, k: Any, n: Any) -> float:
    """An upper bound of every count of the schedule below: MACs and SRAM words are at most
    ``M*K*N``; ``folds * per_fold`` (and the os drain writes) at most ``4 (D + R + C)**2`` more,
    ``D`` the largest GEMM dimension. Past int64 (:func:`hwsim.arch._util.exact`) the integers
    become Python ints so every count stays exact (docs/cost-models.md, "Exact counts")."""
    d = max(largest(m), largest(k), largest(n))
    return largest(m) * largest(k) * largest(n) + 4 * (d + largest(rows) + largest(cols)) ** 2


def systolic_gemm(rows: Any, cols: Any, dataflow: Dataflow | str, m: Any, k: Any, n: Any
                  ) -> SystolicResult:
    """Array-valued core of :meth:`SystolicArray.gemm` (fields not converted to Python scalars).

    Raises:
        ShapeError: a dimension or array size is not a positive integer.
        DataflowError: unknown dataflow.
    """
    df = Dataflow.parse(dataflow)
    r, c = positive_int("rows", rows), positive_int("cols", cols)
    m, k, n = positive_int("m", m), positive_int("k", k), positive_int("n", n)
    r, c, m, k, n = exact(count_bound(r, c, m, k, n), r, c, m, k, n)  # exact past int64
    mp = mapping(df, m, k, n)
    row_folds = ceil_div(mp.rows_dim, r)
    col_folds = ceil_div(mp.cols_dim, c)
    folds = row_folds * col_folds
    per_fold = mp.fill_rows * r + (r - 1) + (c - 1) + mp.time_dim
    cycles = folds * per_fold - _LAST_CYCLE_OFFSET
    macs = m * k * n
    pes = r * c
    used = mp.rows_dim * mp.cols_dim  # sum over folds of used PEs = rows_dim * cols_dim
    # SCALE-Sim: per-fold compute util = used_f * T / (R * C * L'), L' the same for every fold,
    # so the mean over folds is sum(used_f) * T / (folds * R * C * L') (L' in dataflow.mapping)
    compute_util = used * mp.time_dim / (folds * pes * (per_fold + mp.util_extra_cols * (c - 1)))
    pa, pw, po = operand_passes(df, row_folds, col_folds)
    drain = ofmap_drain_writes(df, folds, r, c)
    return SystolicResult(
        cycles=cycles,
        macs=macs,
        folds=folds,
        # over the cycles + 1 cycle slots (cycles is the last slot's index): <= 1 always.
        # SCALE-Sim's "Overall Util" divides by the index instead, > 1 for degenerate tiny GEMMs.
        utilization=floats(macs / ((cycles + _LAST_CYCLE_OFFSET) * pes)),
        mapping_efficiency=floats(used / (folds * pes)),
        compute_utilization=floats(compute_util),
        sram_reads_ifmap=m * k * pa,
        sram_reads_filter=k * n * pw,
        sram_writes_ofmap=m * n * po + drain,
        ofmap_drain_writes=drain,
    )


_FIELDS = tuple(f.name for f in fields(SystolicResult))


@dataclass(frozen=True, slots=True)
class SystolicArray:
    """An ``rows x cols`` array of MAC units running one dataflow.

    ``rows``/``cols`` may be numpy arrays (design-point sweeps); they broadcast against the
    GEMM dimensions passed to :meth:`gemm`.
    """

    rows: Any
    cols: Any
    dataflow: Dataflow | str = Dataflow.WS

    def __post_init__(self) -> None:
        positive_int("rows", self.rows)
        positive_int("cols", self.cols)
        object.__setattr__(self, "dataflow", Dataflow.parse(self.dataflow))

    def gemm(self, m: Any, k: Any, n: Any) -> SystolicResult:
        """Compute-only cost of ``A[m, k] @ W[k, n]`` (SCALE-Sim-exact cycles and SRAM counts)."""
        res = systolic_gemm(self.rows, self.cols, self.dataflow, m, k, n)
        return SystolicResult(*(out(getattr(res, name)) for name in _FIELDS))
