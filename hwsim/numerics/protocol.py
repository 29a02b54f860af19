"""What every number format offers, and how a family of formats plugs into the catalog.

Two families implement :class:`NumberFormat`: :class:`~hwsim.numerics.format.Format` (an element
type plus block/channel/tensor scaling: plain casts, MX, NVFP4, BFP, absmax integers) and the
searched / mixture / outlier formats of :mod:`hwsim.numerics.codebook`, ``mixture``, ``outlier``
and ``lowbit`` (ANT, BitMoD, OliVe, ternary, shift, LLM-FP4). The cost models, the bridge and the
CLI read only the members below, so a new family needs no change there.

A family adds catalog ``kind``s by exporting ``CATALOG_KINDS: dict[str, KindSpec]`` from its module
(listed in :data:`FAMILY_MODULES`), and codebook generators by exporting
``CODEBOOK_GENERATORS: dict[str, Callable[..., Sequence[float]]]`` (a ``[codebooks.NAME]`` table
with ``generator = "flint"`` and ``params = {...}`` calls it to get the code -> value table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["NumberFormat", "KindSpec", "FAMILY_MODULES", "replace_fields", "GroupedIntCodes"]

#: modules that may export CATALOG_KINDS / CODEBOOK_GENERATORS (imported by hwsim.catalog)
FAMILY_MODULES = ("hwsim.numerics.codebook", "hwsim.numerics.mixture", "hwsim.numerics.outlier",
                  "hwsim.numerics.lowbit")


@runtime_checkable
class NumberFormat(Protocol):
    """The members every catalog entry has (numpy in -> numpy out; torch in -> torch out)."""

    name: str
    reference: str
    description: str

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

    is_float_element: bool
    exp_bits: int
    man_bits: int

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
    import dataclasses

    from hwsim.errors import FormatError

    known = {f.name for f in dataclasses.fields(fmt)}
    bad = sorted(set(changes) - known)
    if bad:
        raise FormatError(f"format {fmt.name!r}: unknown field(s) {bad}; fields are {sorted(known)}")
    return dataclasses.replace(fmt, **changes)


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
