"""What every number format offers, and how a family of formats plugs into the catalog.

:class:`~hwsim.numerics.format.Format` (an element type plus block/channel/tensor scaling: plain
casts, MX, NVFP4, BFP, absmax integers) and the format families (one module each under
:mod:`hwsim.numerics`: codebook, ANT/BitMoD mixtures, INT-asym, OliVe, ternary, BCQ, LLM-FP4)
implement :class:`NumberFormat`. The cost models, the bridge and the CLI read only these members,
and :attr:`NumberFormat.operand` (an :class:`OperandSpec`) is the one typed description of what
they need: operand bits, each scale's granularity, width and rule, and the rounding.

A family adds catalog ``kind``s by exporting ``CATALOG_KINDS: dict[str, KindSpec]`` from its module
(the catalog lists the family modules it imports), and codebook generators by exporting
``CODEBOOK_GENERATORS: dict[str, Callable[..., Sequence[float]]]`` (a ``[codebooks.NAME]`` table
with ``generator = "flint"`` and ``params = {...}`` calls it to get the code -> value table).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hwsim.errors import FormatError

__all__ = ["NumberFormat", "KindSpec", "ScaleSpec", "OperandSpec", "GRANULARITIES", "replace_fields",
           "GroupedIntCodes", "fp32_scale", "granularity_of"]

#: where a scale applies: B consecutive elements of a block format (OCP MX, NVFP4), a group of a
#: family format, one slice along the encode axis (a weight's output channel), the whole tensor
GRANULARITIES = ("block", "group", "channel", "tensor")


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """One level of scaling, as the cost model and the CLI see it."""

    granularity: str  #: one of :data:`GRANULARITIES`
    group_size: int | None  #: elements sharing one scale for block/group; None for channel/tensor
    bits: int  #: stored bits of one scale code (E8M0: 8, E4M3: 8, fp32: 32, int8: 8)
    is_pow2: bool  #: a power-of-two scale (an exponent add / shift in hardware)
    exp_bits: int  #: exponent bits of the scale element (0 for integer scales)
    man_bits: int  #: mantissa bits of the scale element (E8M0: 0)
    rule: str  #: human-readable, e.g. "E8M0 floor(log2 amax) - emax (OCP MX v1.0 §6.3)"

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"scale granularity {self.granularity!r} not one of {list(GRANULARITIES)}")
        if (self.group_size is None) != (self.granularity in ("channel", "tensor")):
            raise ValueError(f"a {self.granularity} scale has group_size={self.group_size!r}: block/group "
                             f"scales need one, channel/tensor scales none")


@dataclass(frozen=True, slots=True)
class OperandSpec:
    """What a multiplier operand of a format costs and how it is formed: the element code
    (``element_bits`` wide; float with ``exp_bits``/``man_bits`` or integer with ``man_bits``
    magnitude bits), storage per element with group scales amortized, and its scales, innermost
    first (block/group scale, then tensor scale). ``rounding``: a
    :class:`~hwsim.numerics.types.RoundMode` value (``even``, ``away``, ``zero``, ``stochastic``),
    or, for a nearest-value search whose ties no RoundMode names, ``ties_up`` / ``ties_down`` (the
    larger / smaller neighbour), ``ties_to_zero`` (the smaller magnitude) or ``ties_later`` (the
    later entry of OliVe's value list)."""

    element_bits: int
    bits_per_element: float
    is_float: bool
    exp_bits: int
    man_bits: int
    scales: tuple[ScaleSpec, ...]
    rounding: str

    @property
    def scale_rule(self) -> str:
        """Every scale's rule, innermost first (``"none"`` for an unscaled format)."""
        return "; ".join(s.rule for s in self.scales) or "none"


def fp32_scale(group_size: int | None, rule: str) -> ScaleSpec:
    """An fp32 scale (the host emulation's scales of the family formats) per ``group_size``
    (None: tensor, 0: channel, B > 0: group of B)."""
    return ScaleSpec(granularity_of(group_size), group_size or None, 32, False, 8, 23, rule)


def granularity_of(group_size: int | None) -> str:
    """The :data:`GRANULARITIES` entry of a family's ``group_size`` (None, 0 or B > 0)."""
    return "tensor" if group_size is None else "channel" if group_size == 0 else "group"


@runtime_checkable
class NumberFormat(Protocol):
    """The members every catalog entry has (numpy in -> numpy out; torch in -> torch out); all
    read-only (formats are immutable values)."""

    @property
    def name(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def description(self) -> str: ...

    @property
    def bits_per_element(self) -> float: ...  # storage bits, group scales/selectors amortized
    @property
    def element_bits(self) -> int: ...  # width of one element code (the multiplier operand)
    @property
    def block_size(self) -> int | None: ...  # elements per scale group (None: none/tensor, 0: axis)
    @property
    def is_scaled(self) -> bool: ...
    @property
    def max(self) -> float: ...  # largest element magnitude before scaling
    @property
    def operand(self) -> OperandSpec: ...  # what the cost model and the CLI read

    @property
    def is_float_element(self) -> bool: ...
    @property
    def exp_bits(self) -> int: ...  # exponent bits of the element (0 for integers)
    @property
    def man_bits(self) -> int: ...  # mantissa (integers: magnitude) bits of the element

    def encode(self, x: Any, axis: int = -1) -> Any: ...
    def decode(self, enc: Any) -> Any: ...
    def quantize(self, x: Any, axis: int = -1) -> Any: ...
    def values(self) -> Any: ...
    def replace(self, **changes: Any) -> Any: ...


class GroupedIntCodes:
    """The :class:`NumberFormat` members a family with integer-valued element codes and a
    ``group_size`` field shares (codebook, INT-asym, OliVe, BCQ): the cost model sees an integer
    operand of ``element_bits`` (sign + ``element_bits - 1`` magnitude bits), scaled per group."""

    __slots__ = ()
    is_float_element = False
    exp_bits = 0

    @property
    def man_bits(self) -> int:
        return self.element_bits - 1  # type: ignore[attr-defined]

    @property
    def block_size(self) -> int | None:
        return self.group_size  # type: ignore[attr-defined]


def replace_fields(fmt: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of the dataclass format ``fmt`` with ``changes``; unknown field names are an error
    naming the known ones (every family's ``replace``, which ``hwsim.format(name, **overrides)`` calls)."""
    known = {f.name for f in dataclasses.fields(fmt)}
    bad = sorted(set(changes) - known)
    if bad:
        raise FormatError(f"format {fmt.name!r}: unknown field(s) {bad}; fields are {sorted(known)}")
    for key, value in changes.items():
        problem = _kind_mismatch(getattr(fmt, key), value)
        if problem:
            raise FormatError(f"format {fmt.name!r}: {key}={value!r} must be {problem} (like its value "
                              f"{getattr(fmt, key)!r})")
    return dataclasses.replace(fmt, **changes)


def _kind_mismatch(current: Any, value: Any) -> str | None:
    """What ``value`` must be to replace the field value ``current`` (None when it fits): the same
    kind of thing -- a bool for a bool, an integer for an integer, a number for a float, a string for
    a string, a list or tuple for a tuple (None also for a number: "off"). Fields that are None, enums
    or arrays take anything their
    family's own checks accept (issue 10: a hostile override raises FormatError, never a TypeError)."""
    if current is None or isinstance(current, (enum.Enum, np.ndarray)):
        return None
    if isinstance(current, (bool, np.bool_)):
        return None if isinstance(value, (bool, np.bool_)) else "True or False"
    if isinstance(current, (int, np.integer)):  # None: "off" (group_size=None is group_size=0)
        ok = value is None or (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)))
        return None if ok else "an integer"
    if isinstance(current, (float, np.floating)):
        ok = value is None or (isinstance(value, (int, float, np.integer, np.floating))
                               and not isinstance(value, (bool, np.bool_)))
        return None if ok else "a number"
    if isinstance(current, str):
        return None if isinstance(value, str) else "a string"
    if isinstance(current, (tuple, list)):
        return None if isinstance(value, (tuple, list)) else "a list or tuple"
    return None


@dataclass(frozen=True, slots=True)
class KindSpec:
    """A catalog ``kind``: its keys (name -> accepted type(s)), required keys, allowed string
    values per key, and the builder ``build(name, table, codebooks) -> NumberFormat`` (``table``
    already checked against ``schema``; ``codebooks``: every ``[codebooks.*]`` entry by name).
    The builder raises FormatError/ValueError with a message naming the bad field."""

    schema: Mapping[str, type | tuple[type, ...]]
    build: Callable[[str, Mapping[str, Any], Mapping[str, Any]], Any]
    required: tuple[str, ...] = ()
    allowed: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
