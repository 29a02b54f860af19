"""Plain data a simulated run leaves behind: GEMM records, their operands, the run's summary.

:mod:`hwsim.bridge.datapath` writes these and :mod:`hwsim.bridge.report` reads them; neither
imports the other's internals, and nothing here needs torch. A record keeps the *objects* its
operands were quantized with (a :class:`~hwsim.numerics.format.Format`, any format family, or the
:class:`~hwsim.numerics.protocol.OperandSpec` of a GEMM-level scheme such as LLM.int8), so the cost model
(:mod:`hwsim.arch`) prices exactly what ran, without looking a name up again.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.arch.energy import OperandLike
from hwsim.catalog import get_format

__all__ = ["Operand", "fp32_operand", "catalog_operand", "GemmRecord", "Unsupported", "RunSummary"]


@dataclass(frozen=True, slots=True, eq=False)
class Operand:
    """One GEMM operand: the name shown in tables and the object the cost model reads.

    ``format`` is anything :func:`hwsim.arch.energy.operand_bits` takes (a format object, or the
    ``OperandSpec`` of a GEMM-level scheme). Compared by identity: the datapath makes one per
    format it runs with.
    """

    name: str
    format: OperandLike


_CATALOG_OPERANDS: dict[tuple[str, int], Operand] = {}


def catalog_operand(name: str) -> Operand:
    """The operand of a catalog format, one object per catalog object (``fp32`` for unquantized
    operands, ``fp16`` for LLM.int8's outlier GEMM)."""
    fmt = get_format(name)
    key = (name, id(fmt))
    op = _CATALOG_OPERANDS.get(key)
    if op is None or op.format is not fmt:
        op = _CATALOG_OPERANDS[key] = Operand(name, fmt)
    return op


def fp32_operand() -> Operand:
    """An operand left in fp32 (no quantization pass): costed as the catalog's ``fp32``."""
    return catalog_operand("fp32")


@dataclass(frozen=True, slots=True)
class GemmRecord:
    """One distinct executed GEMM ``A[m, k] @ W[k, n]`` and how often it ran."""

    layer: str
    kind: str  #: ``linear``, ``conv2d``, ``matmul`` or ``attention``
    m: int
    k: int
    n: int
    a: Operand
    w: Operand
    count: int


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A layer or op that ran in fp32 because hwsim cannot simulate it."""

    name: str
    op: str
    reason: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What the report says about the run as a whole (names for display, operands for area)."""

    weights: str
    activations: str
    kv_cache: str  #: ``"k/v"`` when the V cache format differs from K's
    accumulate: str
    a: Operand  #: the run's main activation operand (area of the array)
    w: Operand  #: the run's main weight operand
    unsupported: tuple[Unsupported, ...] = ()
