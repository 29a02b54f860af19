"""Bit-exact dot products of encoded blocks: the golden model of the RTL dot-product units.

OCP MX v1.0 §6.1 defines the dot product of two MX blocks as
``Dot(A, B) = X(A) X(B) sum_i P_i(A) P_i(B)`` and leaves the internal precision to the
implementation; hwsim fixes it to **exact**: every product of two decoded elements and the two
block scales is summed without any rounding (integer arithmetic), and the exact sum is rounded
once to FP32, round to nearest even, overflowing to +-Inf (IEEE 754-2019 §4.3.1, §7.4) and
underflowing gradually to FP32 subnormals. The same contract holds for NVFP4 blocks (16 E2M1
elements, one E4M3 block scale each); the FP32 tensor scales are applied outside the block dot
product (NVIDIA's two-level scaling), so :func:`block_dot` ignores ``Encoded.tensor_scale``.
It holds as well for block floating point / MSFP (``msfp12``, ``msfp16``, ``bfp12_b32``: sign-magnitude
integer elements sharing one 8-bit exponent per block, Darvish Rouhani et al., NeurIPS 2020 §3):
their shared exponent is an E8M0 scale (the pow2 rule), so the integer products are summed exactly
and the two shared exponents align the sum before the one rounding.

Special values (OCP MX v1.0 §5.2: a NaN scale makes the whole block NaN; element specials follow
the element type, OCP OFP8 v1.0 §4):

- either block's scale is NaN (E8M0 0xFF; an E4M3 NaN scale code) -> NaN;
- any element of either block is NaN -> NaN, whatever it is multiplied with;
- Inf times zero (a zero element, or a zero NVFP4 scale) -> NaN; products +Inf and -Inf in one
  block -> NaN; otherwise an Inf product makes the result Inf of its sign;
- an exact zero sum is +0.0 (a fixed-point accumulator has no signed zero);
- NaN results are the canonical float32 quiet NaN 0x7FC00000.

Implementation: every element code and scale code is decoded once into an exact pair
(odd integer significand, power of two) from the element's value table. A numba kernel adds the
products ``m_a m_b sm_a sm_b << shift`` into 16-bit limbs held in int64 (no carry is lost), then
normalizes the limbs, takes the top 53 bits with a sticky bit (round to odd, exact in float64),
and numpy's float64 -> float32 cast rounds that once more to nearest even; round-to-odd at
p >= q + 2 bits followed by RNE to q bits equals a single RNE (Boldo & Melquiond, IEEE TC 2008),
for normal and subnormal FP32 results alike.

:func:`dot_general` is OCP MX v1.0 §6.2's DotGeneral, the dot product of two whole vectors along
the encoded axis, i.e. the sum of the :func:`block_dot` results of their blocks. The spec leaves the
precision of that sum to the implementation; hwsim fixes it to what an FP32 accumulator register
behind one block dot-product unit computes: the register starts at +0.0 and adds the block results
one at a time in block order (block 0 first), every addition rounded to FP32 RNE (IEEE 754-2019
§4.3.1). Formats with an FP32 tensor scale (NVFP4 with ``tensor_scale=True``) multiply the final
sum by the two tensor scales afterwards, ``fp32(fp32(acc * ts_a) * ts_b)`` (NVIDIA's two-level
scaling, arXiv 2509.25149 App. B: the tensor scale lies outside the block dot product).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numba
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.plan import check_tensor_scale
from hwsim.numerics.types import E8M0_BIAS, E8M0_NAN, ScaleRule

__all__ = ["block_dot", "dot_general", "code_tables"]

#: bits per accumulator limb (a limb is an int64; 16 leaves room for 2^26 products of < 2^22)
_LIMB = 16
#: value classes in the decode tables
_FINITE, _INF, _NAN = 0, 1, 2


def _split(value: float) -> tuple[int, int, int]:
    """(class, odd significand or 0, exponent) with value = significand * 2**exponent exactly;
    Inf: significand +-1."""
    if np.isnan(value):
        return _NAN, 0, 0
    if np.isinf(value):
        return _INF, 1 if value > 0 else -1, 0
    if value == 0:
        return _FINITE, 0, 0
    q = Fraction(value)
    num, den = q.numerator, q.denominator
    exp = -(den.bit_length() - 1)  # den is a power of two
    while num % 2 == 0:
        num //= 2
        exp += 1
    return _FINITE, num, exp


def _tables(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-code class (int8), significand (int64) and exponent (int64) of a value table."""
    parts = [_split(float(v)) for v in values]
    cls = np.array([p[0] for p in parts], np.int8)
    sig = np.array([p[1] for p in parts], np.int64)
    exp = np.array([p[2] for p in parts], np.int64)
    return cls, sig, exp


_TABLE_CACHE: dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _element_tables(fmt: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    el = fmt.element
    if el.bits > 16:
        raise FormatError(f"block_dot: format {fmt.name!r} has {el.bits}-bit elements; at most 16")
    key = ("element", el)
    if key not in _TABLE_CACHE:
        _TABLE_CACHE[key] = _tables(el.table())
    return _TABLE_CACHE[key]


def _scale_tables(fmt: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode tables of the block-scale codes: E8M0 (pow2 rule) or the scale element's codes."""
    if fmt.scale_rule is ScaleRule.POW2:
        key: Any = ("e8m0",)
        if key not in _TABLE_CACHE:
            cls = np.zeros(256, np.int8)
            cls[E8M0_NAN] = _NAN
            sig = np.ones(256, np.int64)
            exp = np.arange(256, dtype=np.int64) - E8M0_BIAS
            _TABLE_CACHE[key] = (cls, sig, exp)
        return _TABLE_CACHE[key]
    se = fmt.scale_element
    if fmt.scale_rule is ScaleRule.AMAX and se is not None and se.bits <= 16:
        key = ("scale", se)
        if key not in _TABLE_CACHE:
            _TABLE_CACHE[key] = _tables(se.table())
        return _TABLE_CACHE[key]
    raise FormatError(f"block_dot: format {fmt.name!r} needs block scales (E8M0, or a scale element of "
                      f"at most 16 bits such as NVFP4's E4M3); got scale_rule={fmt.scale_rule}, "
                      f"block_size={fmt.block_size}")


@numba.njit(cache=True, nogil=True)
def _dot_kernel(ca, cb, sa, sb, ea_c, ea_m, ea_e, eb_c, eb_m, eb_e, sa_c, sa_m, sa_e, sb_c, sb_m, sb_e,
                emin_a, emin_b, nlimbs, out):  # pragma: no cover - numba
    n, blk = ca.shape
    limbs = np.zeros(nlimbs, np.int64)
    for j in range(n):
        out[j] = 0.0
        ka, kb = sa[j], sb[j]
        if sa_c[ka] == 2 or sb_c[kb] == 2:
            out[j] = np.nan
            continue
        sma, smb = sa_m[ka], sb_m[kb]
        nan = False
        pinf = False
        ninf = False
        for k in range(nlimbs):
            limbs[k] = 0
        for i in range(blk):
            xa, xb = ca[j, i], cb[j, i]
            cla, clb = ea_c[xa], eb_c[xb]
            if cla == 2 or clb == 2:
                nan = True
                continue
            ma = ea_m[xa] * sma  # significand of scale x element (0 for a zero either way)
            mb = eb_m[xb] * smb
            if cla == 1 or clb == 1:
                if ma == 0 or mb == 0:  # Inf x 0 (a zero element or a zero scale)
                    nan = True
                elif (ma > 0) == (mb > 0):
                    pinf = True
                else:
                    ninf = True
                continue
            m = ma * mb
            if m == 0:
                continue
            shift = ea_e[xa] - emin_a + eb_e[xb] - emin_b
            k = shift // 16
            limbs[k] += m << (shift - 16 * k)
        if nan or (pinf and ninf):
            out[j] = np.nan
            continue
        if pinf:
            out[j] = np.inf
            continue
        if ninf:
            out[j] = -np.inf
            continue
        # carry-propagate to limbs in [0, 2^16) below a signed top limb
        for k in range(nlimbs - 1):
            c = limbs[k] >> 16
            limbs[k] -= c << 16
            limbs[k + 1] += c
        negative = limbs[nlimbs - 1] < 0
        if negative:
            for k in range(nlimbs):
                limbs[k] = -limbs[k]
            for k in range(nlimbs - 1):
                c = limbs[k] >> 16
                limbs[k] -= c << 16
                limbs[k + 1] += c
        top = -1
        for k in range(nlimbs - 1, -1, -1):
            if limbs[k] != 0:
                top = k
                break
        if top < 0:
            continue  # exact zero: +0.0
        bl = 0
        v = limbs[top]
        while v > 0:
            v >>= 1
            bl += 1
        msb = 16 * top + bl - 1
        drop = msb - 52 if msb > 52 else 0
        t = np.int64(0)
        sticky = False
        for k in range(top + 1):
            lo = 16 * k
            if lo + 16 <= drop:
                if limbs[k] != 0:
                    sticky = True
            elif lo >= drop:
                t += limbs[k] << (lo - drop)
            else:
                part = drop - lo
                if limbs[k] & ((np.int64(1) << part) - 1):
                    sticky = True
                t += limbs[k] >> part
        if sticky:
            t |= 1  # round to odd: exact in float64, re-rounded once by the float32 cast
        e = drop + emin_a + emin_b + sa_e[ka] + sb_e[kb]
        val = math.ldexp(float(t), e)
        out[j] = -val if negative else val


_Tables3 = tuple[np.ndarray, np.ndarray, np.ndarray]


def code_tables(fmt: Any) -> tuple[_Tables3, _Tables3]:
    """How :func:`block_dot` reads a block format's codes, for code that computes the same sums
    another way (the bridge's ``accumulate="block_dot"``): ``(element, scale)``, each a triple of
    per-code arrays ``(class, significand, exponent)``: class 0 finite (value ``significand *
    2**exponent`` exactly, the significand odd or 0), 1 Inf (significand +-1), 2 NaN.

    Raises:
        FormatError: as :func:`block_dot` for a format it cannot read (no block scales, elements
            wider than 16 bits), naming the format.
    """
    if not getattr(fmt, "block_size", None):
        raise FormatError(f"block_dot: format {fmt.name!r} is not block-scaled "
                          f"(block_size={getattr(fmt, 'block_size', None)})")
    return _element_tables(fmt), _scale_tables(fmt)


def _blocks(fmt: Any, enc: Encoded, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes as (n_blocks, block_size) (a short last block padded with code 0, value +0) and the
    scale codes as (n_blocks,), blocks in the C order of the scales array."""
    B = fmt.block_size
    codes = np.asarray(enc.codes)
    scales = np.asarray(enc.scales)
    axis = enc.axis if enc.axis >= 0 else enc.axis + ndim
    codes = np.moveaxis(codes, axis, -1)
    scales = np.moveaxis(scales, axis, -1)
    L = codes.shape[-1]
    nb = -(-L // B)
    if scales.shape != (*codes.shape[:-1], nb):
        raise FormatError(f"block_dot: scales of shape {np.asarray(enc.scales).shape} do not match codes "
                         f"{np.asarray(enc.codes).shape} in blocks of {B} along axis {enc.axis}")
    if nb * B != L:
        pad = np.zeros((*codes.shape[:-1], nb * B - L), codes.dtype)
        codes = np.concatenate([codes, pad], axis=-1)
    return (np.ascontiguousarray(codes.reshape(-1, B), dtype=np.int64),
            np.ascontiguousarray(scales.reshape(-1), dtype=np.int64))


def block_dot(fmt_a: Any, a: Encoded, fmt_b: Any | None = None, b: Encoded | None = None) -> np.ndarray:
    """Exact dot product of every pair of corresponding blocks, rounded once to float32.

    Args:
        fmt_a: the :class:`~hwsim.numerics.format.Format` that encoded ``a`` (block-scaled: MX
            formats with E8M0 scales, BFP/MSFP with shared 8-bit exponents, NVFP4 with E4M3 scales;
            elements of at most 16 bits).
        a: its encoded operand (numpy codes and scale codes).
        fmt_b: format of ``b`` (default ``fmt_a``); same block size as ``fmt_a``. Mixed element
            types (MXFP8 x MXFP4) are allowed.
        b: the other operand (default ``a``), codes of the same shape and axis as ``a``.

    Returns:
        float32 array shaped like ``a.scales`` (the codes' shape with the axis length replaced
        by the block count): element j is ``X_a X_b sum_i P_a,i P_b,i`` over block j, summed
        exactly and rounded once (RNE) to FP32 (see the module docstring and docs/numerics.md).
    """
    return _block_dot(fmt_a, a, fmt_a if fmt_b is None else fmt_b, a if b is None else b)


def _block_dot(fmt_a: Any, a: Encoded, fmt_b: Any, b: Encoded) -> np.ndarray:
    for fmt in (fmt_a, fmt_b):
        if not fmt.block_size:
            raise FormatError(f"block_dot: format {fmt.name!r} is not block-scaled (block_size={fmt.block_size})")
    if fmt_a.block_size != fmt_b.block_size:
        raise FormatError(f"block_dot: block sizes differ ({fmt_a.name}: {fmt_a.block_size}, "
                          f"{fmt_b.name}: {fmt_b.block_size})")
    if a.scales is None or b.scales is None:
        raise FormatError("block_dot: both operands need block scales")
    shape_a, shape_b = tuple(np.shape(a.codes)), tuple(np.shape(b.codes))
    if shape_a != shape_b:
        raise FormatError(f"block_dot: operand shapes differ: {shape_a} vs {shape_b}")
    ndim = len(shape_a)
    if ndim == 0 or (a.axis % ndim) != (b.axis % ndim):
        raise FormatError(f"block_dot: operands need one block axis (got {a.axis} and {b.axis}, {ndim}-d codes)")
    axis = a.axis % ndim
    moved_shape = np.moveaxis(np.empty(np.shape(a.scales), np.uint8), axis, -1).shape
    ta, tb = _element_tables(fmt_a), _element_tables(fmt_b)
    sa_t, sb_t = _scale_tables(fmt_a), _scale_tables(fmt_b)
    ca, ka = _blocks(fmt_a, a, ndim)
    cb, kb = _blocks(fmt_b, b, ndim)
    for codes, fmt, table in ((ca, fmt_a, ta), (cb, fmt_b, tb)):
        if codes.size and (codes.min() < 0 or codes.max() >= len(table[0])):
            raise FormatError(f"block_dot: codes outside [0, {len(table[0])}) for {fmt.name!r}")
    for keys, table in ((ka, sa_t), (kb, sb_t)):
        if keys.size and (keys.min() < 0 or keys.max() >= len(table[0])):
            raise FormatError(f"block_dot: scale codes outside [0, {len(table[0])})")
    emin_a, emin_b = int(ta[2].min()), int(tb[2].min())
    span = int(ta[2].max()) - emin_a + int(tb[2].max()) - emin_b
    prod_bits = sum(int(np.abs(t[1]).max()).bit_length() for t in (ta, tb, sa_t, sb_t))
    nlimbs = (span + prod_bits + fmt_a.block_size.bit_length() + 2) // _LIMB + 2
    out = np.empty(len(ca), np.float64)
    _dot_kernel(ca, cb, ka, kb, *ta, *tb, *sa_t, *sb_t, emin_a, emin_b, nlimbs, out)
    with np.errstate(over="ignore"):  # beyond FP32's range: +-Inf, as RNE overflow requires
        return np.moveaxis(out.astype(np.float32).reshape(moved_shape), -1, axis)


def dot_general(fmt_a: Any, a: Encoded, fmt_b: Any | None = None, b: Encoded | None = None) -> np.ndarray:
    """OCP MX v1.0 §6.2 DotGeneral: the dot product of two encoded vectors along their block axis.

    Every pair of corresponding blocks is reduced by :func:`block_dot` (exact, one rounding to
    FP32); the block results ``d_0, d_1, ...`` are then summed by an FP32 accumulator that starts
    at +0.0 and adds them one at a time in block order, each addition rounded to nearest even:
    ``acc = fp32(... fp32(fp32(+0.0 + d_0) + d_1) ... + d_(n-1))``. Formats with an FP32 tensor
    scale (``Encoded.tensor_scale``, NVFP4 with ``tensor_scale=True``) scale the sum afterwards,
    ``a``'s first: ``fp32(fp32(acc * ts_a) * ts_b)`` (a missing tensor scale is 1). For a block of
    one nonzero element times an operand that is exactly 1 (element 1, scale 1, no tensor scale)
    this is ``fp32(e * s * ts)``, the value ``decode`` gives that element (docs/numerics.md). NaN
    results are the canonical quiet NaN 0x7FC00000; a zero result is +0.0 unless a tensor scale
    product makes it otherwise (tensor scales are positive, so it stays +0.0).

    Args:
        fmt_a, a, fmt_b, b: as :func:`block_dot` (same checks and errors: block-scaled formats of
            one block size, codes of one shape, one block axis).

    Returns:
        float32 array of the codes' shape without the block axis (a 0-d array for 1-d codes).

    Raises:
        FormatError: as :func:`block_dot`, or a tensor scale that the format does not have (or
            lacks one it has), naming the format.
    """
    fmt_b = fmt_a if fmt_b is None else fmt_b
    b = a if b is None else b
    ts_a, ts_b = _tensor_scale(fmt_a, a), _tensor_scale(fmt_b, b)
    d = _block_dot(fmt_a, a, fmt_b, b)
    axis = a.axis % d.ndim
    d = np.moveaxis(d, axis, -1)
    acc = np.zeros(d.shape[:-1], np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE results: +-Inf, NaN
        for j in range(d.shape[-1]):  # block order: one FP32 (RNE) addition per block
            acc = np.add(acc, d[..., j], dtype=np.float32)
        for ts in (ts_a, ts_b):
            if ts is not None:
                acc = np.multiply(acc, np.float32(ts), dtype=np.float32)
    acc = np.asarray(acc, np.float32)
    acc[np.isnan(acc)] = np.nan  # the canonical quiet NaN (x86 makes Inf - Inf negative)
    return acc


def _tensor_scale(fmt: Any, enc: Encoded) -> float | None:
    """The FP32 tensor scale of an operand as a float (None: none), checked against its format by
    the codec's own rule (:func:`hwsim.numerics.plan.check_tensor_scale`), rounded to FP32."""
    try:
        v = check_tensor_scale(fmt, enc.tensor_scale)
    except FormatError as exc:
        raise FormatError(f"dot_general: {exc}") from None
    return None if v is None else float(np.float32(v))
