"""Pure-Python scalar oracle of ``docs/numerics.md`` (STYLE P4): slow, exact, readable.

Everything here is computed on exact rationals (``int`` and :class:`fractions.Fraction`) and
follows the spec text rule by rule; each function quotes the rule it implements. It is the test
oracle of the fast paths (numba kernels, torch codec) and never imports their arithmetic: it reads only
the public *fields* of a :class:`~hwsim.numerics.format.Format` (``element.exp_bits``,
``man_bits``, ``bias``, ``specials``, ``bits``, ``frac_bits``, ``encoding``; ``block_size``,
``scale_rule``, ``scale_element``, ``tensor_scale``, ``rounding``, ``saturate``, ``seed``) and
re-derives every limit (max, emax, NaN codes) from the spec. The one thing it shares with the
kernels is the stochastic-rounding bit source :func:`hash32` (a definition, not a rounding
decision): :func:`hwsim.numerics.rounding.hash32` run as plain Python, checked in the tests
against an independent numpy transcription of docs/numerics.md.

Specs cited:
    - OCP 8-bit Floating Point Specification (OFP8) v1.0, 2023, §4 (E4M3 / E5M2 encodings).
    - OCP Microscaling Formats (MX) v1.0, 2023, §5.3 (element types), §5.4.1 (E8M0),
      §6.3 (conversion: shared scale X = 2^(floor(log2 amax) - emax_elem), clamp to max).
    - NVIDIA NVFP4 (arXiv 2509.25149 App. B): E4M3 block scale of 16 E2M1 values, FP32 tensor scale.
    - IEEE 754-2019 §3.4 (binary interchange encodings), §4.3 (rounding-direction attributes),
      §7.4 (overflow).

Values are represented as ``Fraction`` (finite, and +0) or Python ``float`` for the values a
Fraction cannot hold: ``-0.0``, ``±inf`` and ``nan``.

Its array layout is its own on purpose (:func:`_blocks` lists the index tuples of each block,
:func:`_axis` normalizes the axis, :func:`_as_f32` converts the input): it shares nothing with
the row layout of :mod:`hwsim.numerics.plan` that the kernels use, so a layout bug there (a wrong
move of the axis, a short last block, a 0-d input) shows up as a mismatch instead of being
repeated here.

Use on small arrays only (a few thousand elements per second).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.rounding import hash32 as _kernel_hash32
from hwsim.numerics.types import RoundMode, ScaleRule, Specials

_hash32_py = _kernel_hash32.py_func  # plain Python: the oracle runs without compiling kernels

__all__ = [
    "FloatTraits", "IntTraits", "FP32", "traits", "max_finite", "min_subnormal", "emax",
    "qmax", "decode_element", "encode_element", "nan_code", "round_int", "hash32",
    "to_float32", "pow2_exponent", "e8m0_decode", "ref_encode", "ref_decode", "ref_quantize",
    "value_of",
]

Value = Fraction | float


# --------------------------------------------------------------------------------------------
# element traits, re-derived from the spec text
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FloatTraits:
    """A minifloat ExMy: ``sign << (E+M) | exp_field << M | man_field`` (fnu: no sign field)."""

    exp_bits: int
    man_bits: int
    bias: int
    specials: Specials

    @property
    def bits(self) -> int:
        return int(self.specials is not Specials.FNU) + self.exp_bits + self.man_bits


def _fn_like(t: FloatTraits) -> bool:
    """fn and fnu (unsigned fn, ml_dtypes float8_e8m0fnu naming): "only the all-ones code is NaN"."""
    return t.specials in (Specials.FN, Specials.FNU)


@dataclass(frozen=True)
class IntTraits:
    """An integer element: value ``k 2^-f``, ``|k| <= 2^(n-1) - 1``."""

    bits: int
    frac_bits: int
    encoding: str


#: IEEE 754-2019 §3.6 binary32, used for float32 outputs, fp32 scales and tensor scales.
FP32 = FloatTraits(8, 23, 127, Specials.IEEE)


def traits(el: Any) -> FloatTraits | IntTraits:
    """Traits of an element object, read from its public fields only."""
    if isinstance(el, (FloatTraits, IntTraits)):
        return el
    if el.is_float:
        return FloatTraits(el.exp_bits, el.man_bits, el.bias, Specials(el.specials))
    return IntTraits(el.bits, el.frac_bits, el.encoding)


def _top_field(t: FloatTraits) -> int:
    """Largest exponent field holding finite values.

    - ieee: "exp_field all ones: Inf or NaN. Max finite exp_field = 2^E - 2."
    - fn: "only S.1...1.1...1 is NaN" -> the all-ones binade is finite (unless M = 0, where its
      only code is the NaN).
    - fnuz, finite: all exponent fields finite.
    """
    ones = (1 << t.exp_bits) - 1
    if t.specials is Specials.IEEE or (_fn_like(t) and t.man_bits == 0):
        return ones - 1
    return ones


def _top_man(t: FloatTraits) -> int:
    """Largest mantissa field of the top finite binade (fn: "all ones minus 1")."""
    full = (1 << t.man_bits) - 1
    if _fn_like(t) and t.man_bits > 0:
        return full - 1
    return full


def qmax(t: IntTraits) -> int:
    """``qmax = 2^(n-1) - 1`` (symmetric)."""
    return (1 << (t.bits - 1)) - 1


def max_finite(el: Any) -> Fraction:
    """Largest finite value: E4M3 448, E5M2 57344, E3M2 28, E2M3 7.5, E2M1 6; ints qmax 2^-f."""
    t = traits(el)
    if isinstance(t, IntTraits):
        return Fraction(qmax(t), 1 << t.frac_bits)
    return Fraction((1 << t.man_bits) + _top_man(t), 1 << t.man_bits) * _pow2(_top_field(t) - t.bias)


def min_subnormal(el: Any) -> Fraction:
    """Smallest positive value: ``2^(1-bias) / 2^M`` (ints: ``2^-f``)."""
    t = traits(el)
    if isinstance(t, IntTraits):
        return Fraction(1, 1 << t.frac_bits)
    return _pow2(1 - t.bias - t.man_bits)


def emax(el: Any) -> int:
    """emax_elem: exponent of the element's largest finite binade (OCP MX v1.0 §5.3, Table 2-5);
    integers floor(log2(qmax 2^-f)) (MXINT8 0, MSFP 0)."""
    t = traits(el)
    if isinstance(t, IntTraits):
        return qmax(t).bit_length() - 1 - t.frac_bits
    return _top_field(t) - t.bias


def _pow2(e: int) -> Fraction:
    return Fraction(1 << e) if e >= 0 else Fraction(1, 1 << -e)


def _floor_log2(a: Fraction) -> int:
    """Exact floor(log2 a) for a > 0."""
    n, d = a.numerator, a.denominator
    e = n.bit_length() - d.bit_length()
    if (n << max(-e, 0)) < (d << max(e, 0)):
        e -= 1
    return e


def _neg(x: Value) -> bool:
    if isinstance(x, float):
        return math.copysign(1.0, x) < 0
    return x < 0


# --------------------------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------------------------
def decode_element(el: Any, code: int) -> Value:
    """Exact value of one element code.

    Minifloat (IEEE 754-2019 §3.4; OCP OFP8 v1.0 §4; OCP MX v1.0 §5.3): normal
    ``(-1)^s 2^(e-bias) (1 + m/2^M)`` for ``e >= 1``; subnormal ``(-1)^s 2^(1-bias) m/2^M``;
    ieee: exp all ones is Inf (m = 0) / NaN; fn: ``S.1..1.1..1`` is NaN; fnuz: ``1000..0`` is NaN.

    Integer: two's complement ``k = code - 2^n`` when the sign bit is set, sign-magnitude
    ``k = -(code & (2^(n-1) - 1))`` ("-0 -> 0.0"); value ``k 2^-f``.
    """
    t = traits(el)
    if not 0 <= code < (1 << t.bits):
        raise ValueError(f"code {code} not in [0, 2**{t.bits})")
    if isinstance(t, IntTraits):
        sign_bit = 1 << (t.bits - 1)
        if t.encoding == "sign_magnitude":
            k = -(code & (sign_bit - 1)) if code & sign_bit else code
        else:
            k = code - (1 << t.bits) if code & sign_bit else code
        return Fraction(k, 1 << t.frac_bits)
    E, M = t.exp_bits, t.man_bits
    s = code >> (E + M)
    e = (code >> M) & ((1 << E) - 1)
    m = code & ((1 << M) - 1)
    ones = (1 << E) - 1
    if t.specials is Specials.FNUZ and code == 1 << (E + M):
        return math.nan
    if t.specials is Specials.IEEE and e == ones:
        return math.nan if m else (-math.inf if s else math.inf)
    if _fn_like(t) and e == ones and m == (1 << M) - 1:
        return math.nan
    if e == 0:
        mag = Fraction(m, 1 << M) * _pow2(1 - t.bias)
    else:
        mag = Fraction((1 << M) + m, 1 << M) * _pow2(e - t.bias)
    if s:
        return -mag if mag else -0.0
    return mag


def nan_code(el: Any, negative: bool = False) -> int:
    """Canonical NaN written by encode: ieee ``sign | exp all ones | 1 << (M-1)`` (quiet NaN),
    fn ``sign | all ones``, fnuz ``0x80`` (sign bit alone)."""
    t = traits(el)
    if isinstance(t, IntTraits) or t.specials is Specials.FINITE:
        raise FormatError(f"{t} has no NaN encoding")
    if t.specials is Specials.FNU:  # unsigned: the all-ones code
        return (1 << t.bits) - 1
    sign = (1 << (t.bits - 1)) if negative else 0
    if t.specials is Specials.FNUZ:
        return 1 << (t.bits - 1)
    if t.specials is Specials.FN:
        return sign | ((1 << (t.bits - 1)) - 1)
    return sign | (((1 << t.exp_bits) - 1) << t.man_bits) | (1 << (t.man_bits - 1))


def _max_code(t: FloatTraits, negative: bool) -> int:
    sign = (1 << (t.bits - 1)) if negative else 0
    return sign | (_top_field(t) << t.man_bits) | _top_man(t)


# --------------------------------------------------------------------------------------------
# rounding
# --------------------------------------------------------------------------------------------
def round_int(q: Fraction, mode: RoundMode | str, r: int = 0) -> int:
    """Round a non-negative real q to an integer by the mode (docs/numerics.md step 3).

    fl = floor(q), frac = q - fl:
    - ``even``: up if frac > 1/2, or frac = 1/2 and fl odd (IEEE 754 roundTiesToEven);
    - ``away``: up if frac >= 1/2 (roundTiesToAway);
    - ``zero``: never up (roundTowardZero);
    - ``stochastic``: up iff ``r < floor(frac * 2^32)``, r the element's 32-bit random integer.
    """
    mode = RoundMode(mode)
    fl = q.numerator // q.denominator
    frac = q - fl
    half = Fraction(1, 2)
    if mode is RoundMode.EVEN:
        up = frac > half or (frac == half and fl % 2 == 1)
    elif mode is RoundMode.AWAY:
        up = frac >= half
    elif mode is RoundMode.ZERO:
        up = False
    else:
        if not 0 <= r < (1 << 32):
            raise ValueError(f"stochastic r={r} not a 32-bit unsigned integer")
        scaled = frac * (1 << 32)
        up = r < scaled.numerator // scaled.denominator
    return fl + int(up)


def encode_element(el: Any, x: Value, mode: RoundMode | str = RoundMode.EVEN, *,
                   saturate: bool = True, r: int = 0, negative: bool | None = None) -> int:
    """Round the exact value ``x`` to an element code (a plain cast on unit scale).

    ``x`` is a Fraction or a float (``-0.0``, ``±inf``, ``nan`` need a float); ``negative``
    overrides the sign of a zero Fraction (e.g. ``-0.0 / s``).

    Minifloat, docs/numerics.md "Rounding a real value v to a minifloat":
      1. a = |v|; a = 0 -> ±0 (sign kept; fnuz: +0).
      2. E = floor(log2 a); t = max(E, 1 - bias); quantum = 2^(t - M); q = a / quantum.
      3. round q by the mode (:func:`round_int`).
      4. magnitude fl' * quantum (renormalize if fl' = 2^(M+1)); zero keeps the sign (fnuz +0).
      5. overflow (magnitude > max): saturate -> ±max; else ieee -> ±Inf except mode zero -> ±max
         (IEEE 754-2019 §7.4); fn/fnuz -> NaN; finite -> ±max.
      6. ±Inf -> saturate: ±max; else ±Inf (ieee) / NaN (fn, fnuz); finite: ±max. NaN -> canonical
         NaN (sign kept where the format has one); finite formats raise FormatError.

    Integer, "Integers": round a 2^f by the mode, clamp to qmax (always saturates; ±Inf -> ±qmax;
    NaN raises FormatError). Codes: two's complement or ``sign << (n-1) | |k|``; zero is code 0.
    """
    t = traits(el)
    mode = RoundMode(mode)
    neg = _neg(x) if negative is None or x != 0 else negative
    is_nan = isinstance(x, float) and math.isnan(x)
    is_inf = isinstance(x, float) and math.isinf(x)

    if isinstance(t, IntTraits):
        if is_nan:
            raise FormatError(f"NaN cannot be encoded as integer element {t}")
        qm = qmax(t)
        if is_inf:
            k = qm
        else:
            a = abs(Fraction(x))
            k = min(round_int(a * (1 << t.frac_bits), mode, r), qm)
        if k == 0:
            return 0
        if not neg:
            return k
        if t.encoding == "sign_magnitude":
            return (1 << (t.bits - 1)) | k
        return (1 << t.bits) - k

    if t.specials is Specials.FNU:  # unsigned: -0 reads as +0; a negative value has no code (NaN)
        if neg and (is_nan or x != 0):
            return nan_code(t)
        neg = False
    sign = (1 << (t.bits - 1)) if neg else 0
    if is_nan:
        if t.specials is Specials.FINITE:
            raise FormatError(f"NaN cannot be encoded in E{t.exp_bits}M{t.man_bits} (finite only)")
        return nan_code(t, neg)
    inf_code = sign | (((1 << t.exp_bits) - 1) << t.man_bits)

    def overflow(from_inf: bool) -> int:
        if saturate or t.specials is Specials.FINITE:
            return _max_code(t, neg)
        if t.specials is Specials.IEEE:
            if mode is RoundMode.ZERO and not from_inf:
                return _max_code(t, neg)
            return inf_code
        return nan_code(t, neg)

    if is_inf:
        return overflow(True)
    a = abs(Fraction(x))
    if a == 0:
        return 0 if t.specials is Specials.FNUZ else sign
    M = t.man_bits
    tt = max(_floor_log2(a), 1 - t.bias)
    q = a / _pow2(tt - M)
    fl = round_int(q, mode, r)
    if fl == 0:
        return 0 if t.specials is Specials.FNUZ else sign
    if fl == 1 << (M + 1):  # renormalize
        fl, tt = 1 << M, tt + 1
    if fl * _pow2(tt - M) > max_finite(t):
        return overflow(False)
    if fl < (1 << M):  # subnormal (only at tt = 1 - bias)
        return sign | fl
    return sign | ((tt + t.bias) << M) | (fl - (1 << M))


# --------------------------------------------------------------------------------------------
# float32 and scales
# --------------------------------------------------------------------------------------------
_F32_MAX = float(np.finfo(np.float32).max)


def to_float32(v: Value) -> np.float32:
    """Round an exact value once to float32 (IEEE 754 binary32, roundTiesToEven, overflow to Inf)."""
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v) or v == 0):
        return np.float32(v)
    f = float(v)  # shortcut when v is exactly a float32 (both checks are exact comparisons)
    if Fraction(f) == v and abs(f) <= _F32_MAX and float(np.float32(f)) == f:
        return np.float32(f)
    code = encode_element(FP32, v, RoundMode.EVEN, saturate=False)
    return cast(np.float32, np.array(code, dtype=np.uint32).view(np.float32)[()])


def value_of(v: np.floating | float) -> Fraction:
    """Exact rational value of a finite float."""
    return Fraction(float(v))


def pow2_exponent(amax: np.float32) -> int:
    """floor(log2 amax) of a positive finite float32, read from its bits (no log2 call)."""
    bits = int(np.float32(amax).view(np.uint32)) & 0x7FFFFFFF
    e, m = bits >> 23, bits & 0x7FFFFF
    if e == 0:  # subnormal: m 2^-149
        return m.bit_length() - 1 - 149
    return e - 127


def e8m0_decode(byte: int) -> Value:
    """OCP MX v1.0 §5.4.1: E8M0 scale ``2^(byte - 127)``; 0xFF is NaN."""
    return math.nan if byte == 0xFF else _pow2(int(byte) - 127)


def hash32(index: int, seed: int) -> int:
    """Stochastic-rounding random bits of element ``index`` (C-order flat index) under ``seed``:
    lowbias32 (C. Wellons) of an affine mix, all mod 2**32 (docs/numerics.md, "Stochastic
    rounding random bits"). The kernels' one definition, run as plain Python (any int sizes)."""
    return _hash32_py(index & 0xFFFFFFFF, seed & 0xFFFFFFFF)


def _round_scale(S: FloatTraits, v: Fraction) -> int:
    """AMAX scale: ``s = round_RNE_S(v)`` saturating to S.max. If it rounds to 0: a narrow scale
    element (E4M3, UE5M3) stores code 0 and its block decodes to zeros (TransformerEngine's NVFP4
    cast of ``amax / 6`` to E4M3, no clamp); an fp32 scale becomes 2^-149, its smallest positive
    value. Always RNE."""
    code = encode_element(S, v, RoundMode.EVEN, saturate=True)
    if code == 0 and S.bits == 32:
        code = 1
    return code


# --------------------------------------------------------------------------------------------
# array level
# --------------------------------------------------------------------------------------------
def _code_dtype(bits: int) -> type:
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


def _as_f32(x: Any) -> np.ndarray:
    """Input rule: float16/bfloat16/float32 exactly to float32, float64 RNE to float32."""
    x = np.asarray(x)
    if x.dtype.kind != "f" and x.dtype.name != "bfloat16":
        raise FormatError(f"input dtype {x.dtype} is not a float dtype")
    return x.astype(np.float32)


def _fields(fmt: Any) -> tuple[Any, RoundMode, bool, int]:
    return traits(fmt.element), RoundMode(fmt.rounding), bool(fmt.saturate), int(fmt.seed)


def _blocks(shape: tuple[int, ...], axis: int, block_size: int | None):
    """Yield (block index tuple into scales, list of element index tuples into x)."""
    L = shape[axis]
    if block_size:
        B, nb = block_size, -(-L // block_size)
    else:
        B, nb = max(L, 1), 1
    other = shape[:axis] + shape[axis + 1:]
    for o in np.ndindex(*other):
        for b in range(nb):
            idx = [o[:axis] + (i,) + o[axis:] for i in range(b * B, min(L, (b + 1) * B))]
            yield o[:axis] + (b,) + o[axis:], idx


def _axis(x: np.ndarray, axis: int) -> int:
    if not -x.ndim <= axis < max(x.ndim, 1):
        raise FormatError(f"axis {axis} out of range for a {x.ndim}-D array")
    return axis % max(x.ndim, 1)


def _finite(v: np.float32) -> bool:
    return bool(np.isfinite(v))


def ref_encode(fmt: Any, x: Any, axis: int = -1) -> tuple[np.ndarray, np.ndarray | None, np.float32 | None]:
    """Encode ``x`` by the spec: ``(codes, scales, tensor_scale)`` (see docs/numerics.md).

    Tensor scale: ``ts = fp32_RNE(amax_tensor / (S.max elem_max))`` (divisor elem_max for
    per-tensor-only formats); amax 0 -> 1.0; a ts rounding to 0 becomes 2^-149; NaN/Inf anywhere
    -> NaN. Block scales: ``s = round_RNE_S(amax / (elem_max ts))`` (see :func:`_round_scale`).

    When the tensor scale is NaN (NaN/Inf anywhere), block scales are the NaN code of S
    (the spec only fixes codes 0 and NaN decodes there).
    """
    x = _as_f32(x)
    el, mode, saturate, seed = _fields(fmt)
    flat_index = np.arange(x.size, dtype=np.int64).reshape(x.shape)
    codes = np.zeros(x.shape, dtype=_code_dtype(el.bits))
    if x.ndim == 0:
        x, flat_index, codes = x.reshape(1), flat_index.reshape(1), codes.reshape(1)
        squeeze = True
    else:
        squeeze = False
    ax = _axis(x, axis)

    def rnd(i: tuple[int, ...]) -> int:
        return hash32(int(flat_index[i]), seed) if mode is RoundMode.STOCHASTIC else 0

    rule = None if fmt.scale_rule is None else ScaleRule(fmt.scale_rule)
    scales = None
    ts: np.float32 | None = None

    if rule is None and not fmt.tensor_scale:  # plain cast
        for i in np.ndindex(*x.shape):
            codes[i] = encode_element(el, float(x[i]), mode, saturate=saturate, r=rnd(i))
        return (codes.reshape(()) if squeeze else codes), None, None

    if rule is ScaleRule.POW2:
        L = x.shape[ax]
        nb = -(-L // fmt.block_size) if fmt.block_size else 1
        sshape = x.shape[:ax] + (nb,) + x.shape[ax + 1:]
        scales = np.zeros(sshape, dtype=np.uint8)
        em = emax(el)
        for bi, idx in _blocks(x.shape, ax, fmt.block_size):
            vals = [x[i] for i in idx]
            if not all(_finite(v) for v in vals):
                scales[bi] = 0xFF
                continue
            amax = max((abs(v) for v in vals), default=np.float32(0))
            se = -127 if amax == 0 else max(pow2_exponent(amax) - em, -127)
            if se > 127:
                scales[bi] = 0xFF
                continue
            scales[bi] = se + 127
            X = _pow2(se)
            for i in idx:
                v = float(x[i])
                codes[i] = encode_element(el, Fraction(v) / X, mode, saturate=True, r=rnd(i),
                                          negative=math.copysign(1, v) < 0)
        return codes, scales, None

    # AMAX rule and/or tensor scale
    S = traits(fmt.scale_element)
    assert isinstance(S, FloatTraits)  # scale elements are minifloats (OCP MX §5.4, NVFP4 E4M3)
    elem_max = max_finite(el)
    S_max = max_finite(S)
    fp32_scales = S.bits == 32
    if fmt.tensor_scale:
        if not np.all(np.isfinite(x)):
            ts = np.float32(np.nan)
        else:
            amax_t = Fraction(float(np.max(np.abs(x)))) if x.size else Fraction(0)
            if amax_t == 0:
                ts = np.float32(1.0)
            else:
                div = elem_max if fmt.block_size is None else S_max * elem_max
                ts = to_float32(amax_t / div)
                if ts == 0:  # "a ts that rounds to 0 becomes 2^-149 (the smallest fp32)"
                    ts = np.float32(2.0**-149)
    if fmt.block_size is None:  # per-tensor only: s = 1
        assert ts is not None  # no block scale and no scale rule: a tensor scale alone
        if not np.isfinite(ts):
            return codes, None, ts
        T = value_of(ts)
        for i in np.ndindex(*x.shape):
            v = float(x[i])
            codes[i] = encode_element(el, Fraction(v) / T, mode, saturate=True, r=rnd(i),
                                      negative=math.copysign(1, v) < 0)
        return codes, None, ts

    L = x.shape[ax]
    nb = -(-L // fmt.block_size) if fmt.block_size else 1
    sshape = x.shape[:ax] + (nb,) + x.shape[ax + 1:]
    scales = np.zeros(sshape, dtype=np.float32 if fp32_scales else _code_dtype(S.bits))
    s_nan = np.float32(np.nan) if fp32_scales else nan_code(S)
    T = Fraction(1) if ts is None or not np.isfinite(ts) else value_of(ts)
    for bi, idx in _blocks(x.shape, ax, fmt.block_size):
        vals = [x[i] for i in idx]
        if (ts is not None and not np.isfinite(ts)) or not all(_finite(v) for v in vals):
            scales[bi] = s_nan
            continue
        amax = Fraction(float(max((abs(v) for v in vals), default=np.float32(0))))
        s_code = _round_scale(S, amax / (elem_max * T))
        s_val = decode_element(S, s_code)
        assert isinstance(s_val, Fraction)
        if fp32_scales:
            scales[bi] = np.array(s_code, np.uint32).view(np.float32)
        else:
            scales[bi] = s_code
        if s_val == 0:  # a zero block scale: every element a zero with its sign
            for i in idx:
                codes[i] = encode_element(el, Fraction(0), mode, saturate=True,
                                          negative=math.copysign(1, float(x[i])) < 0)
            continue
        for i in idx:
            v = float(x[i])
            codes[i] = encode_element(el, Fraction(v) / (s_val * T), mode, saturate=True, r=rnd(i),
                                      negative=math.copysign(1, v) < 0)
    return codes, scales, ts


def ref_decode(fmt: Any, codes: Any, scales: Any = None, tensor_scale: Any = None,
               axis: int = -1) -> np.ndarray:
    """Decode codes (+ scales) to float32: value computed exactly, rounded once to float32.

    POW2: ``x_i = 2^se value(code_i)``, byte 0xFF -> NaN for the block. AMAX:
    ``x_i = value(code_i) s ts``; NaN scale or tensor scale -> NaN.
    """
    codes = np.asarray(codes)
    el = traits(fmt.element)
    out = np.zeros(codes.shape, dtype=np.float32)
    squeeze = codes.ndim == 0
    if squeeze:
        codes, out = codes.reshape(1), out.reshape(1)
    rule = None if fmt.scale_rule is None else ScaleRule(fmt.scale_rule)
    T: Value = Fraction(1)
    if tensor_scale is not None:
        tsf = float(np.float32(tensor_scale))
        T = tsf if not math.isfinite(tsf) else Fraction(tsf)

    def mul(v: Value, k: Value) -> Value:
        if isinstance(k, float) or isinstance(v, float):
            return float(v) * float(k)  # nan/inf/-0.0 propagation; finite parts are exact here
        return v * k

    if rule is None or scales is None:
        for i in np.ndindex(*codes.shape):
            out[i] = to_float32(mul(decode_element(el, int(codes[i])), T))
        return out.reshape(()) if squeeze else out

    ax = _axis(codes, axis)
    scales = np.asarray(scales)
    S = None if rule is ScaleRule.POW2 else traits(fmt.scale_element)
    for bi, idx in _blocks(codes.shape, ax, fmt.block_size):
        if rule is ScaleRule.POW2:
            k: Value = e8m0_decode(int(scales[bi]))
        elif S is not None and S.bits == 32:
            sf = float(scales[bi])
            k = sf if not math.isfinite(sf) else Fraction(sf)
        else:
            assert S is not None
            k = decode_element(S, int(scales[bi]))
        k = mul(k, T)
        for i in idx:
            v = decode_element(el, int(codes[i]))
            if isinstance(v, float) and v == 0 and isinstance(k, Fraction):
                out[i] = np.float32(v)  # -0.0 times a positive (or zero) scale
            elif isinstance(v, Fraction) and isinstance(k, Fraction) and k == 0:
                out[i] = np.float32(-0.0 if v < 0 else 0.0)  # IEEE: a negative value times +0 is -0
            else:
                out[i] = to_float32(mul(v, k))
    return out.reshape(()) if squeeze else out


def ref_quantize(fmt: Any, x: Any, axis: int = -1) -> np.ndarray:
    """``ref_decode(ref_encode(x))``: float32 of x's shape."""
    x = _as_f32(x)
    codes, scales, ts = ref_encode(fmt, x, axis)
    return ref_decode(fmt, codes, scales, ts, axis)
