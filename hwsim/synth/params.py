"""Verilog parameters of the ``rtl/`` blocks, derived from hwsim's element types.

The RTL reads the same definition as the emulator: a block's parameters come from the
:class:`~hwsim.numerics.elements.FloatElement` of a format, never from a second table.
"""

from __future__ import annotations

from typing import Any

from hwsim.errors import FormatError
from hwsim.numerics.types import SPECIALS_CODE, Specials

__all__ = ["fp_mul_params", "RTL_SPECIALS"]

#: specials policies ``rtl/fp_mul.v`` implements (its SPECIALS parameter takes the
#: ``hwsim.numerics.types.SPECIALS_*`` code of the policy)
RTL_SPECIALS = (Specials.IEEE, Specials.FN, Specials.FINITE)


def fp_mul_params(element: Any) -> dict[str, int]:
    """``{"EXP_BITS", "MAN_BITS", "SPECIALS"}`` of ``rtl/fp_mul.v`` for a minifloat element
    (a FloatElement, or a Format whose ``.element`` is one).

    Raises FormatError for integer elements, unsigned (``fnu``) or ``fnuz`` elements and widths
    the block does not take (EXP_BITS 1..8, MAN_BITS 1..10).
    """
    el = getattr(element, "element", element)
    if not getattr(el, "is_float", False):
        raise FormatError(f"fp_mul takes a minifloat element, not {el.describe()}")
    if el.specials not in RTL_SPECIALS:
        raise FormatError(f"fp_mul: specials {el.specials.value!r} of {el.describe()} not one of "
                          f"{[s.value for s in RTL_SPECIALS]}")
    if not (1 <= el.exp_bits <= 8 and 1 <= el.man_bits <= 10):
        raise FormatError(f"fp_mul: {el.describe()} outside EXP_BITS 1..8, MAN_BITS 1..10")
    return {"EXP_BITS": el.exp_bits, "MAN_BITS": el.man_bits, "SPECIALS": SPECIALS_CODE[el.specials]}
