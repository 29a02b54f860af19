"""Dataflows of a weight/input/output-stationary systolic array: the ONLY per-dataflow code.

A GEMM ``O[M, N] = A[M, K] @ W[K, N]`` (``A`` = SCALE-Sim's *ifmap* operand matrix,
``W`` = *filter*, ``O`` = *ofmap*) is mapped onto an ``R x C`` array by choosing which GEMM
dimension is laid along the array rows, which along the columns, and which one is streamed
through time. That choice is all that differs between the three dataflows of SCALE-Sim
(Samajdar et al., "SCALE-Sim: Systolic CNN Accelerator Simulator", arXiv 1811.02883, §III;
``scalesim/compute/systolic_compute_{ws,is,os}.py`` in SCALE-Sim v2/v3):

========  ===========  ===========  ============  ==================
dataflow  array rows   array cols   streamed      stationary operand
========  ===========  ===========  ============  ==================
ws        K            N            M             W (filter)
is        K            M            N             A (ifmap)
os        M            N            K             O (ofmap)
========  ===========  ===========  ============  ==================

Per fold (one tile of the two spatial dimensions) SCALE-Sim issues ``fill`` cycles to preload
the stationary operand (``R`` for ws/is: the weights/inputs are shifted in row by row; ``0``
for os), ``T`` cycles of streaming, ``R - 1`` cycles of input skew and ``C - 1`` cycles to
drain the last partial sums, i.e. ``2R + C + T - 2`` for ws/is and ``R + C + T - 2`` for os.

An operand is re-read once per fold of the spatial dimension it does *not* span, which gives
SCALE-Sim's SRAM access counts for every dataflow from one rule (see
:func:`operand_passes`). Two SCALE-Sim 3.0.0 accounting rules are not physical and differ per
dataflow; they live here too, so no other module branches on the dataflow:

* os counts ``R + C`` extra ofmap SRAM writes per fold (:func:`ofmap_drain_writes`);
* "Compute Util %" divides each fold by ``L + C - 1`` cycles for ws/is but by the fold's
  ``L`` cycles for os (:attr:`Mapping.util_extra_cols`).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

from hwsim.errors import HwsimError, unknown_name

__all__ = ["Dataflow", "Mapping", "mapping", "operand_passes", "ofmap_drain_writes"]


class Dataflow(enum.Enum):
    """Which operand stays in the processing elements while the others stream."""

    #: weight stationary: filter tile preloaded, ifmap rows streamed (TPU v1, ISCA'17 §2)
    WS = "ws"
    #: input stationary: ifmap tile preloaded, filter columns streamed
    IS = "is"
    #: output stationary: partial sums stay in the PEs, both inputs streamed
    OS = "os"

    @classmethod
    def parse(cls, value: Dataflow | str) -> Dataflow:
        """``Dataflow`` from an enum member or its name (``"ws"``, ``"is"``, ``"os"``).

        Raises:
            HwsimError: for anything else, listing the known dataflows.
        """
        if isinstance(value, Dataflow):
            return value
        if isinstance(value, str):
            try:
                return cls(value.lower())
            except ValueError:
                pass
        raise DataflowError(unknown_name("dataflow", str(value), [d.value for d in cls]))


class DataflowError(HwsimError, ValueError):
    """Unknown dataflow name."""


class Mapping(NamedTuple):
    """GEMM dimensions laid on the array (numpy arrays or ints, broadcast together)."""

    rows_dim: np.ndarray  #: GEMM extent mapped along the array rows
    cols_dim: np.ndarray  #: GEMM extent mapped along the array columns
    time_dim: np.ndarray  #: GEMM extent streamed through time
    fill_rows: int  #: preload cycles per fold, in units of array rows (1 for ws/is, 0 for os)
    #: SCALE-Sim's "Compute Util" denominator per fold is ``L + util_extra_cols * (C - 1)``
    #: (1 for ws/is, 0 for os); see :func:`mapping`
    util_extra_cols: int


def mapping(df: Dataflow, m: np.ndarray, k: np.ndarray, n: np.ndarray) -> Mapping:
    """Spatial/temporal assignment of ``(m, k, n)`` for ``df`` (table in the module doc).

    ``util_extra_cols``: SCALE-Sim 3.0.0 computes a fold's "Compute Util" as
    ``used PEs * T / (R * C * (h + w - 1))`` with ``h x w`` the fold's demand matrix
    (``systolic_compute_{ws,is,os}.py``, ``cycles_this_fold``). For ws/is that matrix is the
    ``(2R + C + T - 2) x C`` padded filter/ifmap demand, so the denominator is
    ``2R + 2C + T - 3 = L + (C - 1)``, one drain of ``C - 1`` cycles more than the fold takes;
    for os it is the ``(R + T - 1) x C`` ofmap demand, ``R + C + T - 2 = L`` exactly.
    """
    if df is Dataflow.WS:
        return Mapping(k, n, m, 1, 1)
    if df is Dataflow.IS:
        return Mapping(k, m, n, 1, 1)
    return Mapping(m, n, k, 0, 0)


def operand_passes(df: Dataflow, row_folds: np.ndarray, col_folds: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How many times each of (ifmap A[M,K], filter W[K,N], ofmap O[M,N]) crosses the SRAM port.

    An operand spanning both spatial dimensions is touched once; one that lacks a spatial
    dimension is touched once per fold along that dimension (ws: A once per column fold, O
    written once per row fold as partial sums; os: A per column fold, W per row fold; is: W
    per column fold, O per row fold).
    """
    one = row_folds // row_folds  # ones of the folds' own type: exact Python ints past int64 too
    if df is Dataflow.WS:
        return col_folds, one, row_folds
    if df is Dataflow.IS:
        return one, col_folds, row_folds
    return col_folds, row_folds, one


def ofmap_drain_writes(df: Dataflow, folds: np.ndarray, rows: np.ndarray, cols: np.ndarray
                       ) -> np.ndarray:
    """Ofmap SRAM writes SCALE-Sim counts on top of the real ones: ``folds * (R + C)`` for os.

    SCALE-Sim 3.0.0 ``systolic_compute_os.create_ofmap_demand_mat`` adds
    ``this_fold_demand.shape[0] + this_fold_demand.shape[1]`` (= ``R + C`` once the fold is
    padded to the array) to ``ofmap_writes`` for every fold, after counting the fold's real
    ``rows x cols`` outputs; the ws/is versions add nothing. No data is written for them (they
    are SCALE-Sim's accounting of the drain through the array edge), so hwsim reports them in
    ``sram_writes_ofmap`` to match "SRAM OFMAP Writes" but charges no energy for them.
    """
    if df is Dataflow.OS:
        return folds * (rows + cols)
    return folds * 0
