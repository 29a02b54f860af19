"""Verilog parameters of the ``rtl/`` blocks, derived from hwsim's element types.

The RTL reads the same definition as the emulator: a block's parameters come from the
:class:`~hwsim.numerics.elements.FloatElement` of a format, never from a second table.
"""

from __future__ import annotations

from typing import Any

from hwsim.errors import FormatError
from hwsim.numerics.types import SPECIALS_CODE, ScaleRule, Specials

__all__ = ["fp_mul_params", "mx_dot_params", "RTL_SPECIALS"]

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


#: ``INT_ENCODING`` codes of ``rtl/int_mul.v`` / ``rtl/mx_dot.v``
INT_ENCODING_CODE = {"twos_complement": 0, "sign_magnitude": 1}


def mx_dot_params(fmt: Any) -> dict[str, int]:
    """Parameters of ``rtl/mx_dot.v`` (the block dot-product unit) for a block-scaled format.

    MX formats (minifloat or MXINT8 elements, E8M0 scales), BFP / MSFP (sign-magnitude integer
    elements, the shared exponent an E8M0 scale) and NVFP4 (E2M1 elements, E4M3 block scales).
    Every key of the module is set (the parameters of the element kind not in use keep their
    defaults), so that one format always maps to one build. Raises FormatError for formats without
    block scales, scale elements other than OFP8 E4M3 and elements the lanes do not take.
    """
    el = fmt.element
    if not fmt.block_size:
        raise FormatError(f"mx_dot: format {fmt.name!r} is not block-scaled")
    params = {"K": int(fmt.block_size), "ELEM_KIND": 0, "EXP_BITS": 4, "MAN_BITS": 3, "SPECIALS": 1,
              "EXP_BIAS": 7, "INT_BITS": 8, "INT_ENCODING": 0, "INT_FRAC": 6, "SCALE_KIND": 0}
    if fmt.scale_rule is ScaleRule.POW2:
        params["SCALE_KIND"] = 0
    else:
        se = fmt.scale_element
        if not (fmt.scale_rule is ScaleRule.AMAX and se is not None and getattr(se, "is_float", False)
                and (se.exp_bits, se.man_bits, se.bias, se.specials) == (4, 3, 7, Specials.FN)):
            raise FormatError(f"mx_dot: block scales of {fmt.name!r} are neither E8M0 nor E4M3 "
                              f"(scale_rule={fmt.scale_rule}, scale element={se})")
        params["SCALE_KIND"] = 1
    if el.is_float:
        mul = fp_mul_params(el)
        if mul["EXP_BITS"] > 6 or not 0 <= el.bias <= 63:
            raise FormatError(f"mx_dot: {el.describe()} outside EXP_BITS 1..6, bias 0..63")
        params.update(mul, EXP_BIAS=int(el.bias))
    else:
        params.update(ELEM_KIND=1, INT_BITS=int(el.bits), INT_ENCODING=INT_ENCODING_CODE[el.encoding],
                      INT_FRAC=int(el.frac_bits))
    return params
