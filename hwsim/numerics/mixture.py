"""Mixture-of-datatype formats: ANT's adaptive int/PoT/float/flint types and BitMoD's FP4/FP3
types with a special value, plus BitMoD's asymmetric-integer baseline.

Both papers pick, for each tensor (ANT) or each group of 128 weights (BitMoD), the datatype with
the smallest quantization error. This is :class:`~hwsim.numerics.codebook.CodebookFormat` driven
by data (STYLE P2). This module adds only:

- ``CODEBOOK_GENERATORS``: the code -> value tables of the ANT types (``ant_int``, ``ant_pot``,
  ``ant_float``, ``ant_flint``, any width the official code defines) and of the BitMoD types
  (``bitmod_fp``: a small minifloat whose -0 code holds a programmable special value);
- :class:`AsymIntFormat` (catalog kind ``asym_int``): BitMoD's ``quant_int_asym`` baseline,
  a min/max scale plus an integer zero point per group, which the codebook family cannot express.

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
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.codebook import (SCALE_PER, back_like, check_axis, from_slices, group_size_from,
                                     groups_to_rows, is_torch, rows_to_groups, to_numpy_codes, to_numpy_f32,
                                     to_slices)
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import GroupedIntCodes, replace_fields

__all__ = ["ant_int", "ant_pot", "ant_float", "ant_flint", "bitmod_fp", "AsymIntFormat",
           "CODEBOOK_GENERATORS", "CATALOG_KINDS"]


# ----------------------------------------------------------------------------------------------
# ANT value tables (code -> value)
# ----------------------------------------------------------------------------------------------
def _check_bits(gen: str, bits: Any, lo: int, hi: int = 8) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not lo <= bits <= hi:
        raise FormatError(f"codebook generator {gen!r}: bits={bits!r} out of range [{lo}, {hi}]")
    return bits


def _sign_magnitude(bits: int, signed: bool, magnitude) -> list[float]:
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

    Decision (the signed bit assignment is UNVERIFIED, formats.md §2.1): the magnitude uses the
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


# ----------------------------------------------------------------------------------------------
# BitMoD asymmetric integer baseline
# ----------------------------------------------------------------------------------------------
#: ``quant_int_asym`` clamps the scale to [1e-5, 1e4] (an fp16 guard; the lower bound makes an
#: all-zero group encode to zeros rather than divide by zero)
SCALE_CLAMP = (float(np.float32(1e-5)), float(np.float32(1e4)))


@nb.njit(cache=True, parallel=True)
def _asym_kernel(xs, lens, qmax, s_lo, s_hi, s32, z, codes, vals):
    """quant_int_asym per row (group): s = fp32(clamp((max - min) / qmax)), z = clamp(RNE(-min / s)),
    q = clamp(RNE(x / s) + z, 0, qmax), value fp32((q - z) s); float64 arithmetic on fp32 inputs."""
    for r in nb.prange(xs.shape[0]):
        n = lens[r]
        if n == 0:
            s32[r] = np.float32(s_lo)
            continue
        mn = np.float64(xs[r, 0])
        mx = mn
        for j in range(1, n):
            v = np.float64(xs[r, j])
            mn = min(mn, v)
            mx = max(mx, v)
        sc = np.float32(min(max(np.float64(np.float32((mx - mn) / qmax)), s_lo), s_hi))
        s32[r] = sc
        s = np.float64(sc)
        zr = min(max(np.rint(-mn / s), 0.0), qmax)
        z[r] = zr
        for j in range(n):
            q = min(max(np.rint(np.float64(xs[r, j]) / s) + zr, 0.0), qmax)
            codes[r, j] = np.uint8(q)
            vals[r, j] = np.float32((q - zr) * s)


@dataclass(frozen=True, slots=True, kw_only=True)
class AsymIntFormat(GroupedIntCodes):
    """Asymmetric (min/max) integer quantization with a zero point per group: BitMoD's INT-asym
    baseline (HPCA'25 §V-A; ``quant_weight.py::quant_int_asym``), which is also AWQ/GPTQ's
    default weight quantizer.

    For each group (``group_size``: None = tensor, 0 = axis slice, B = groups of B along the axis):

    - ``s = fp32((max - min) / (2^b - 1))`` (float64 operands), clamped to [1e-5, 1e4] as in
      the code;
    - zero point ``z = clamp(RNE(-min / s), 0, 2^b - 1)``;
    - code ``q = clamp(RNE(x / s) + z, 0, 2^b - 1)`` (``torch.round`` is half-to-even);
    - value ``fp32((q - z) * s)``.

    As in the code, a group whose values are all equal (e.g. a 1-element last group of a row whose
    length is not a multiple of ``group_size``) gets the 1e-5 floor scale and keeps only values
    within ``(2^b - 1) * 1e-5`` of its minimum's zero point: such a group is not representable by
    a min/max range and the official code never meets one (it requires whole groups).

    Deviations: the official code works in fp16, this one uses fp32 scales and float64 quotients
    (the codebook contract). ``encode`` returns ``codes`` (uint8 q), ``scales`` (float32 s) and
    ``meta["zero_point"]`` (uint8 z, same shape as the scales).
    """

    name: str
    bits: int = 4
    group_size: int | None = 128
    scale_bits: int = 16
    reference: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 2 <= self.bits <= 8:
            raise FormatError(f"format {self.name!r}: bits={self.bits!r} out of range [2, 8]")
        if self.group_size is not None and (isinstance(self.group_size, bool) or not isinstance(self.group_size, int)
                                            or self.group_size < 0):
            raise FormatError(f"format {self.name!r}: group_size={self.group_size!r} must be None or an int >= 0")
        if isinstance(self.scale_bits, bool) or not isinstance(self.scale_bits, int) or self.scale_bits < 0:
            raise FormatError(f"format {self.name!r}: scale_bits={self.scale_bits!r} must be an int >= 0")

    # --- NumberFormat members ----------------------------------------------------------------
    scale_rule = "minmax"

    @property
    def element_bits(self) -> int:
        return self.bits

    @property
    def qmax(self) -> int:
        return (1 << self.bits) - 1

    @property
    def bits_per_element(self) -> float:
        """Code bits plus, for group formats, the scale and the ``bits``-wide zero point per group."""
        return self.bits + ((self.scale_bits + self.bits) / self.group_size if self.group_size else 0.0)

    @property
    def is_scaled(self) -> bool:
        return True

    @property
    def max(self) -> float:
        return float(self.qmax)

    def values(self) -> np.ndarray:
        """The unsigned codes ``0 .. 2^b - 1`` (element values before the zero point and scale)."""
        return np.arange(self.qmax + 1, dtype=np.float64)

    def describe(self) -> str:
        return f"UINT{self.bits} codes with a per-group zero point"

    def replace(self, **changes: Any) -> AsymIntFormat:
        return replace_fields(self, changes)

    def __str__(self) -> str:
        return self.name

    # --- codec --------------------------------------------------------------------------------
    def _run(self, x: Any, axis: int) -> tuple[np.ndarray, np.ndarray, Encoded]:
        a = to_numpy_f32(self.name, x)
        ax = check_axis(self.name, axis, a.ndim)
        if a.size and not np.all(np.isfinite(a)):
            raise FormatError(f"format {self.name!r}: input holds Inf/NaN; INT-asym has no encoding for them")
        sl = to_slices(a, ax, self.group_size)
        S = sl.xs.shape[0]
        s32 = np.zeros(S, np.float32)
        z = np.zeros(S, np.float64)
        codes = np.zeros(sl.xs.shape, np.uint8)
        vals = np.zeros(sl.xs.shape, np.float32)
        if sl.xs.size:
            _asym_kernel(sl.xs, sl.lens, self.qmax, SCALE_CLAMP[0], SCALE_CLAMP[1], s32, z, codes, vals)
        codes_x = from_slices(sl, codes)
        values_x = from_slices(sl, vals)
        scales = rows_to_groups(sl, s32)
        zp = rows_to_groups(sl, z.astype(np.uint8))
        enc = Encoded(codes=back_like(x, codes_x), scales=back_like(x, scales), axis=ax, format=self.name,
                      meta={"zero_point": back_like(x, zp)})
        return codes_x, values_x, enc

    def encode(self, x: Any, axis: int = -1) -> Encoded:
        """Codes ``q`` (uint8, shape of x), float32 ``scales`` per group and ``meta["zero_point"]``."""
        return self._run(x, axis)[2]

    def quantize(self, x: Any, axis: int = -1) -> Any:
        """``decode(encode(x))`` as float32, same shape (and device, for torch)."""
        return back_like(x, self._run(x, axis)[1])

    def decode(self, enc: Encoded) -> Any:
        """``fp32((q - z) * s)`` per group (same array type and device as the codes)."""
        codes = to_numpy_codes(self.name, enc.codes, self.bits)
        if codes.ndim == 0:  # encode treats a 0-d input as one element
            one = Encoded(codes=codes.reshape(1), scales=enc.scales, axis=0, format=enc.format, meta=enc.meta)
            return back_like(enc.codes, np.asarray(self.decode(one)).reshape(()))

        def host(v: Any) -> np.ndarray:
            return np.asarray(v.detach().cpu().numpy() if is_torch(v) else v)

        if "zero_point" not in enc.meta:
            raise FormatError(f"format {self.name!r}: Encoded.meta has no 'zero_point'")
        sl = to_slices(codes.astype(np.float32), enc.axis, self.group_size)
        scales = groups_to_rows(self.name, sl, host(enc.scales).astype(np.float32)).astype(np.float64)
        zp = groups_to_rows(self.name, sl, host(enc.meta["zero_point"])).astype(np.float64)
        if scales.size != sl.xs.shape[0] or zp.size != sl.xs.shape[0]:
            raise FormatError(f"format {self.name!r}: scales/zero_point hold {scales.size}/{zp.size} groups, "
                              f"the codes need {sl.xs.shape[0]}")
        out = ((sl.xs.astype(np.float64) - zp[:, None]) * scales[:, None]).astype(np.float32)
        return back_like(enc.codes, from_slices(sl, out))


def _build_asym_int(name: str, table: Any, codebooks: Any) -> AsymIntFormat:
    kw = {k: table[k] for k in ("bits", "scale_bits", "reference", "description") if k in table}
    return AsymIntFormat(name=name, group_size=group_size_from(name, table), **kw)


def _catalog_kinds() -> dict[str, Any]:
    from hwsim.numerics.protocol import KindSpec

    return {"asym_int": KindSpec(
        schema={"bits": int, "scale_per": str, "group_size": int, "scale_bits": int},
        required=("bits",), allowed={"scale_per": SCALE_PER}, build=_build_asym_int)}


CATALOG_KINDS = _catalog_kinds()
