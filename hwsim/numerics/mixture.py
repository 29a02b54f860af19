"""Mixture-of-datatype formats: ANT's adaptive int/PoT/float/flint types and BitMoD's FP4/FP3
types with a special value.

Both papers pick, for each tensor (ANT) or each group of 128 weights (BitMoD), the datatype with
the smallest quantization error. This is :class:`~hwsim.numerics.codebook.CodebookFormat` driven
by data (STYLE P2). This module adds only:

- ``CODEBOOK_GENERATORS``: the code -> value tables of the ANT types (``ant_int``, ``ant_pot``,
  ``ant_float``, ``ant_flint``, any width the official code defines) and of the BitMoD types
  (``bitmod_fp``: a small minifloat whose -0 code holds a programmable special value).

BitMoD's asymmetric-integer baseline is not a mixture: :mod:`hwsim.numerics.asym_int`.

The catalog entries live in ``formats/ant.toml`` and ``formats/bitmod.toml``.

Sources
    ANT: Guo et al., "ANT: Exploiting Adaptive Numerical Data Type for Low-bit Deep Neural Network
    Quantization", MICRO'22, §III (types), §IV-A (flint encoding), §V (type selection). Official code
    ``clevercool/ANT-Quantization`` @ bc84067, ``ant_quantization/antquant/quant_modules.py``
    (``Quantizer.int_value/pot_value/float_value/flint_value/search_mse/
    search_adaptive_numeric_type``), ``ant_quantization/quant/quant_kernel.cu`` (nearest value, ties
    to the later grid entry), ``ant_quantization/ImageNet/main.py`` (search 75..149).

    BitMoD: Chen et al., "BitMoD: Bit-serial Mixture-of-Datatype LLM Acceleration", HPCA'25
    (arXiv 2411.11745), §III-A/B, Table IV (datatypes), §III-C (INT8 second-level group scales).
    Official code ``abdelfattah-lab/BitMoD-HPCA-25`` @ e445a5f,
    ``bitmod_quant/quant_utils/quant_weight.py`` (value lists, ``quant_datatype``,
    ``search_datatype``, ``quant_int_asym``).

Decisions where the sources leave a choice (each repeated where it is implemented):

- The ANT code simulates value sets only; bit codes come from the paper's decoder (§IV-A) and
  are checked only against the value sets. Signed types are sign-magnitude (1 sign + B-1
  magnitude bits), except int, which is two's complement (the code adds ``-2^(B-1)``).
- ANT's scale is ``alpha / max(grid)``, the largest *positive* grid value (``convert_tensor``
  normalizes by ``torch.max(values)``). For the signed int grid (-8..7) that is 7: every ANT
  codebook sets ``denominator = "max"`` (BitMoD's divide by the largest magnitude, the default).
- The emulation's arithmetic is the codebook contract (fp32 scales, float64 ``x / s``,
  exact midpoints), not the fp16 (BitMoD) or fp32-GPU (ANT) arithmetic of the official code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hwsim.errors import FormatError

__all__ = ["ant_int", "ant_pot", "ant_float", "ant_flint", "bitmod_fp", "CODEBOOK_GENERATORS"]


# ----------------------------------------------------------------------------------------------
# ANT value tables (code -> value)
# ----------------------------------------------------------------------------------------------
def _check_bits(gen: str, bits: Any, lo: int, hi: int = 8) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not lo <= bits <= hi:
        raise FormatError(f"codebook generator {gen!r}: bits={bits!r} out of range [{lo}, {hi}]")
    return bits


def _sign_magnitude(bits: int, signed: bool, magnitude: Callable[[int], float]) -> list[float]:
    """Table of a sign-magnitude code: the top bit is the sign (signed), the rest index
    ``magnitude(m)``. Sign 1 with magnitude 0 is -0.0: decodable, never produced (the +0 code wins,
    codebook rule 3). ANT's signed grids carry this duplicate zero too (``convert_tensor``)."""
    if not signed:
        return [float(magnitude(c)) for c in range(1 << bits)]
    half = 1 << (bits - 1)
    mags = [float(magnitude(m)) for m in range(half)]
    return mags + [-v for v in mags]


def ant_int(bits: int = 4, signed: bool = True) -> list[float]:
    """ANT int (``Quantizer.int_value``, q_type "int"): unsigned ``0 .. 2^B - 1``; signed is
    two's complement ``-2^(B-1) .. 2^(B-1) - 1`` (the code appends ``-2^B`` for B = bits - 1)."""
    bits = _check_bits("ant_int", bits, 2)
    if not signed:
        return [float(c) for c in range(1 << bits)]
    return [float(c - (1 << bits) if c >= 1 << (bits - 1) else c) for c in range(1 << bits)]


def ant_pot(bits: int = 4, signed: bool = True) -> list[float]:
    """ANT power of two (``Quantizer.pot_value``): magnitude code 0 -> 0, m -> ``2^(m-1)``.
    4-bit signed: ``{0, +-2^0 .. +-2^6}``; unsigned: ``{0, 2^0 .. 2^14}``."""
    bits = _check_bits("ant_pot", bits, 2)
    return _sign_magnitude(bits, signed, lambda m: 0.0 if m == 0 else math.ldexp(1.0, m - 1))


def ant_float(bits: int = 4, signed: bool = True, exp_bits: int = 3) -> list[float]:
    """ANT float (``Quantizer.float_value(eb=3)``, the version that is used; it overrides an
    earlier definition of the same name). The magnitude code has B = bits - signed bits: ``eb``
    exponent bits and ``B - eb`` mantissa bits. Exponent 0 is subnormal, ``m * 2^-mb``; exponent
    e > 0 gives ``2^(e-1) * (1 + m 2^-mb)`` (bias 1). For B = 2 the code uses eb = 2, mb = 0.
    4-bit signed: ``{0, +-1, +-2, .., +-64}``; unsigned: ``{0, .5, 1, 1.5, 2, 3, .., 64, 96}``."""
    bits = _check_bits("ant_float", bits, 3 if signed else 2)
    B = bits - 1 if signed else bits
    eb = 2 if B == 2 else exp_bits
    mb = B - eb
    if mb < 0 or eb < 1:
        raise FormatError(f"codebook generator 'ant_float': exp_bits={exp_bits} does not fit a "
                          f"{B}-bit magnitude (needs 1 <= exp_bits <= {B})")

    def mag(m: int) -> float:
        e, f = m >> mb, m & ((1 << mb) - 1)
        return math.ldexp(f, -mb) if e == 0 else math.ldexp((1 << mb) + f, e - 1 - mb)

    return _sign_magnitude(bits, signed, mag)


def _flint_magnitude(c: int, B: int) -> float:
    """Unsigned B-bit flint code -> value in units of the smallest step (ANT §IV-A, LZD decoder;
    survey arXiv 2409.16694 Eq. 4 for B = 4, bias 1): ``X = 2^(p-1) * 1.mant``, where
    ``p = (B-1) - LZD(low)`` when the top bit is 0 and ``p = B + LZD(low)`` when it is 1. Here
    ``low`` is the other B-1 bits, LZD counts their leading zeros, and ``mant`` is the bits after
    the leading one. The code of all zeros is 0.

    With the top bit 0 this is the plain integer ``c``. With the top bit 1 the value is
    ``2^(B-1+z) * (1 + m 2^-(B-2-z))``, and ``low = 0`` gives the maximum ``2^(2B-2)``.
    4-bit: 0000..0111 -> 0..7, 1000 -> 64, 1001 -> 32, 1010 -> 16, 1011 -> 24, 1100 -> 8,
    1101 -> 10, 1110 -> 12, 1111 -> 14. This is ANT's value set ``flint_value`` x 8 exactly.
    """
    half = 1 << (B - 1)
    if c < half:
        return float(c)
    low = c - half
    if low == 0:
        return math.ldexp(1.0, 2 * B - 2)
    z = (B - 1) - low.bit_length()  # leading zeros of the (B-1)-bit field
    mbits = B - 2 - z
    m = low - (1 << mbits)
    return math.ldexp((1 << mbits) + m, (B - 1 + z) - mbits)


def ant_flint(bits: int = 4, signed: bool = True) -> list[float]:
    """ANT flint (``Quantizer.flint_value``, exp_base 0), in units of its smallest step.

    Unsigned 4-bit: the table of :func:`_flint_magnitude`, ``{0..8, 10, 12, 14, 16, 24, 32, 64}``.
    Signed 4-bit: 1 sign bit + the 3-bit flint magnitude 000 -> 0, 001 -> 1, 010 -> 2, 011 -> 3,
    100 -> 16, 101 -> 8, 110 -> 4, 111 -> 6, i.e. ``{0, 1, 2, 3, 4, 6, 8, 16}`` (ANT's signed
    value set ``{0, .25, .5, .75, 1, 1.5, 2, 4}`` x 4).

    Decision (the signed bit assignment is not in the paper or the code: UNVERIFIED): the magnitude uses the
    same LZD rule at B-1 bits. That rule reproduces the 4-bit unsigned table and ANT's value set
    at every width. The official code handles value sets, not bit codes, so any bijection gives the
    same quantized values; only the codes (and a hardware decoder) depend on the choice.
    """
    bits = _check_bits("ant_flint", bits, 3 if signed else 2)
    B = bits - 1 if signed else bits
    return _sign_magnitude(bits, signed, lambda m: _flint_magnitude(m, B))


# ----------------------------------------------------------------------------------------------
# BitMoD value tables
# ----------------------------------------------------------------------------------------------
def bitmod_fp(exp_bits: int = 2, man_bits: int = 1, special: float | None = None) -> list[float]:
    """A BitMoD minifloat: 1 sign bit + an ``ExMy`` magnitude with bias 1, subnormals and no
    Inf/NaN. The redundant -0 code (sign 1, magnitude 0) holds ``special`` (BitMoD §III-A,
    Table IV; the hardware reads it from the SV register, §IV). With no special value it stays
    -0.0, which is never produced.

    E2M1 (FP4): magnitude codes 000..111 -> 0, .5, 1, 1.5, 2, 3, 4, 6. The special 1000 is +-5 (ER)
    or +-8 (EA). E2M0 (FP3): 00..11 -> 0, 1, 2, 4. The special 100 is +-3 (ER) or +-6 (EA).
    Values are in real units; ``quant_weight.py`` lists the FP4 values x 2 (``FP4_ER_POS`` etc.).
    """
    if not (1 <= exp_bits <= 4 and 0 <= man_bits <= 3 and exp_bits + man_bits <= 7):
        raise FormatError(f"codebook generator 'bitmod_fp': E{exp_bits}M{man_bits} out of range "
                          f"(1 <= exp_bits <= 4, 0 <= man_bits <= 3)")
    if special is not None and (isinstance(special, bool) or not isinstance(special, int | float)
                                or not math.isfinite(special)):
        raise FormatError(f"codebook generator 'bitmod_fp': special={special!r} must be a finite number")

    def mag(m: int) -> float:
        e, f = m >> man_bits, m & ((1 << man_bits) - 1)
        return math.ldexp(f, -man_bits) if e == 0 else math.ldexp((1 << man_bits) + f, e - 1 - man_bits)

    table = _sign_magnitude(1 + exp_bits + man_bits, True, mag)
    if special is not None:
        table[1 << (exp_bits + man_bits)] = float(special)
    return table


CODEBOOK_GENERATORS = {"ant_int": ant_int, "ant_pot": ant_pot, "ant_float": ant_float,
                       "ant_flint": ant_flint, "bitmod_fp": bitmod_fp}
