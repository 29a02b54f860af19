"""Verilog parameters of the ``rtl/`` blocks, derived from hwsim's element types.

The RTL reads the same definition as the emulator: a block's parameters come from the
:class:`~hwsim.numerics.elements.FloatElement` of a format, never from a second table.
"""

from __future__ import annotations

import math
from typing import Any

from hwsim.errors import FormatError, HwsimError
from hwsim.numerics.types import SPECIALS_CODE, ScaleRule, Specials

__all__ = ["fp_mul_params", "mx_dot_params", "RTL_SPECIALS", "olive_lane_params", "olive_flint_input",
           "SYSTOLIC_PES", "systolic_ws_params", "bitserial_pe_params"]

#: PE kinds of ``rtl/systolic_ws.v`` (its PE parameter) and their default partial-sum width
SYSTOLIC_PES = {"int8": (0, 32), "mxfp8": (1, 48)}

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


#: NORMALS parameter of ``rtl/olive_decoder.v`` by the set of normal types a format offers
_OLIVE_NORMALS = {("int",): 1, ("flint",): 2, ("flint", "int"): 3}


def olive_lane_params(fmt: Any, act_bits: int = 8, acc_bits: int | None = None) -> dict[str, int]:
    """Parameters of ``rtl/olive_lane.v`` (and, without ACT_BITS/ACC_BITS, ``rtl/olive_decoder.v``)
    for an OliVe format (``hwsim.format("olive4")``, ``"olive8"``, ...): ``BITS``,
    ``OUT_EXP_BITS``, ``NORMALS`` (1 int, 2 flint, 3 both: chosen per tensor by the ``flint``
    input), ``BIAS_INT`` / ``BIAS_FLINT`` (the abfloat bias hwsim uses with each normal type, OliVe
    ISCA'23 §III-C; 0 for a type the format lacks), ``ACT_BITS``, ``ACC_BITS`` (default 32, or the
    width of one shifted term when that is wider, e.g. olive8 with E4M3 outliers: 36).

    Raises FormatError for a format that is not an OliVe format.
    """
    from hwsim.numerics.olive import OliveFormat  # numerics is below synth

    if not isinstance(fmt, OliveFormat):
        raise FormatError(f"olive_lane takes an OliVe format, not {getattr(fmt, 'name', fmt)!r}")
    key = tuple(sorted(fmt.normals))
    if key not in _OLIVE_NORMALS:
        raise FormatError(f"olive_lane: normals {list(fmt.normals)} not int and/or flint")
    mb = fmt.bits - 1 - fmt.outlier_exp_bits
    bias = {"int": 0, "flint": 0}
    for kind, outlier in zip(fmt.normals, fmt.outlier_types, strict=True):
        # read the bias off hwsim's abfloat codebook: code 1 is the smallest positive outlier,
        # (2^mb + 1) 2^bias (e = 0, m = 1), or 2^(1 + bias) without mantissa bits (e = 1)
        smallest = outlier.table[1] / ((1 << mb) + 1 if mb else 2)
        bias[kind] = int(math.log2(smallest))
        if 2.0 ** bias[kind] != smallest:
            raise FormatError(f"olive_lane: {outlier.name}: smallest outlier {outlier.table[1]} is not "
                              f"(2^{mb} + 1) 2^bias")
    if acc_bits is None:  # rtl/olive_lane.v: ACC_BITS >= ACT_BITS + SIG_W + 1 + max shift
        sig_w = fmt.bits + 2 if "flint" in fmt.normals else fmt.bits
        shift = (1 << fmt.outlier_exp_bits) - 1 + max(bias[k] for k in fmt.normals)
        acc_bits = max(32, act_bits + sig_w + 1 + shift)
    return {"BITS": fmt.bits, "OUT_EXP_BITS": fmt.outlier_exp_bits, "NORMALS": _OLIVE_NORMALS[key],
            "BIAS_INT": bias["int"], "BIAS_FLINT": bias["flint"], "ACT_BITS": int(act_bits),
            "ACC_BITS": int(acc_bits)}


def olive_flint_input(fmt: Any, selector: int) -> int:
    """The ``flint`` input of ``rtl/olive_lane.v`` for an encoded tensor: 1 when the normal type
    hwsim chose (``Encoded.meta["selector"]``, an index into ``fmt.normals``) is flint."""
    return int(fmt.normals[int(selector)] == "flint")


def systolic_ws_params(rows: int, cols: int, pe: str = "int8", acc_w: int | None = None) -> dict[str, int]:
    """``{"ROWS", "COLS", "ACC_W", "PE"}`` of ``rtl/systolic_ws.v`` for an INT8 or MXFP8 (E4M3) array.

    ``acc_w`` defaults to 32 (INT32) for ``int8`` and 48 for ``mxfp8``; the rules the Verilog
    enforces at elaboration are checked here too: ``ACC_W >= 17 + clog2(rows)`` (INT8) or
    ``>= 39 + clog2(rows)`` (MXFP8, NaN bit + exact sum), at most 64; rows, cols in 1..256.
    """
    if pe not in SYSTOLIC_PES:
        raise HwsimError(f"systolic_ws: PE {pe!r} not one of {sorted(SYSTOLIC_PES)}")
    code, default = SYSTOLIC_PES[pe]
    if not (1 <= rows <= 256 and 1 <= cols <= 256):
        raise HwsimError(f"systolic_ws: rows={rows}, cols={cols} outside 1..256")
    width = default if acc_w is None else int(acc_w)
    need = (17 if code == 0 else 39) + max(rows - 1, 0).bit_length()
    if not need <= width <= 64:
        raise HwsimError(f"systolic_ws {pe}: ACC_W={width} outside {need}..64 for {rows} rows")
    return {"ROWS": rows, "COLS": cols, "ACC_W": width, "PE": code}


def bitserial_pe_params(lanes: int, gacc_w: int = 56, dot_w: int = 72) -> dict[str, int]:
    """``{"LANES", "GACC_W", "DOT_W"}`` of ``rtl/bitserial_pe.v`` (LANES 1..16, GACC_W 46..64,
    DOT_W GACC_W + 9..128: the rules the Verilog enforces at elaboration)."""
    if not (1 <= lanes <= 16 and 46 <= gacc_w <= 64 and gacc_w + 9 <= dot_w <= 128):
        raise HwsimError(f"bitserial_pe: LANES={lanes}, GACC_W={gacc_w}, DOT_W={dot_w} not legal")
    return {"LANES": lanes, "GACC_W": gacc_w, "DOT_W": dot_w}


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
