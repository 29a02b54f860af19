"""The codec of every Format (plain casts, OCP MX, NVFP4, BFP, absmax ints): numba kernels.

One driver serves all formats (STYLE P2): the per-block scale is computed by the format's
:class:`~hwsim.numerics.types.ScaleRule`, then every element goes through the generic element
kernel (:func:`~hwsim.numerics.minifloat.encode_float` or :func:`~hwsim.numerics.integer.encode_int`)
dividing by that scale exactly. Rules and special cases: docs/numerics.md; OCP MX v1.0 §6.3 (pow2
shared exponent), NVFP4 (arXiv 2509.25149 App. B; amax/6 E4M3 scale, optional fp32 tensor scale).

The numpy path runs fused, parallel numba kernels over a zero-copy ``(outer, L, inner)`` view of the
input, so any axis works without transposing. The checks, layout and divisors of a call come from
the backend-neutral :mod:`hwsim.numerics.plan`. :func:`encode` / :func:`decode` /
:func:`quantize` choose the backend once from the input's type: numpy arrays run here, torch
tensors go to :mod:`hwsim.numerics.torch_codec` (imported, with torch, only when a tensor arrives).
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics import plan
from hwsim.numerics._bitcast import float32_as_int32, float64_as_int64, int32_as_float32, int64_as_float64
from hwsim.numerics._fma import fma
from hwsim.numerics.elements import FloatElement
from hwsim.numerics.encoded import Encoded, check_source, fingerprint
from hwsim.numerics.integer import encode_int
from hwsim.numerics.minifloat import encode_float, float_significand, inf_code, nan_code
from hwsim.numerics.plan import CodecFormat
from hwsim.numerics.rounding import bitlen, hash32, odd_significand
from hwsim.numerics.types import (
    E8M0_BIAS,
    E8M0_NAN,
    MODE_AWAY,
    MODE_CODE,
    MODE_EVEN,
    MODE_STOCHASTIC,
    MODE_ZERO,
    RULE_AMAX,
    RULE_NONE,
    RULE_POW2,
    SPECIALS_FINITE,
    SPECIALS_FNUZ,
    SPECIALS_IEEE,
)

__all__ = ["encode", "decode", "quantize", "encode_array", "decode_array", "quantize_array"]

#: float32 bit fields: exponent mask (Inf), smallest normal, largest finite
_F32_INF_BITS, _F32_MIN_NORMAL_BITS, _F32_MAX_BITS = 0x7F800000, 0x800000, 0x7F7FFFFF

#: 2**52 and its float64 bits: x + 2**52 holds the integer x (0 <= x < 2**52) in its low bits
_F64_BIAS, _F64_BIAS_BITS = 4503599627370496.0, 0x4330000000000000

#: float32 <-> its bits for Python scalars (numpy's one-element arrays cost microseconds per call)
_F32_OF_BITS, _U32_BITS = struct.Struct("<f"), struct.Struct("<I")
#: rows per numba thread the kernels want; fewer rows are cut into shorter ones (whole blocks)
_ROWS_PER_THREAD = 4
#: elements per kernel row that short rows are joined up to (a per-row set-up, e.g. the two-phase
#: kernel's block maxima, costs ~150 ns: 1 ns per element on rows of 128)
_JOINED_ROW = 1024
#: inputs smaller than this run on one thread (parallel start-up dominates below it)
_SERIAL_BELOW = 1 << 15
#: False sends every block through the general per-element loop (tests compare the branch-free
#: paths against it bit for bit; benchmarks time the paths against each other)
_FAST_PATHS = True


# ----------------------------------------------------------------------------------------------
# kernels (2-D: rows x L, the block axis last and contiguous)
# ----------------------------------------------------------------------------------------------
@nb.njit(cache=True)
def _encode_one(b, ep, S, lS, es, mode, r32, saturate):
    """Element code of the float32 with bits ``b`` divided by ``S * 2**es`` (S odd >= 1)."""
    is_int, M, emin, bias, _, max_m, specials, bits, frac_bits, qmax, sm, max_mag = ep
    sign = b >> 31
    ef = (b >> 23) & 0xFF
    X = b & 0x7FFFFF
    if ef == 0:
        if X == 0:
            return 0 if (is_int or specials == SPECIALS_FNUZ) else sign << (bits - 1)
        lX = bitlen(X)
        ex = -149
    elif ef == 255:  # Inf / NaN: only unscaled formats get here (scaled blocks turn NaN)
        if X != 0:
            return 0 if (is_int or specials == SPECIALS_FINITE) else nan_code(sign, M, bits, specials)
        if is_int:
            return encode_int(sign, 1, 1, 200, 1, 1, 0, frac_bits, qmax, bits, sm, 0, 0)
        if saturate or specials == SPECIALS_FINITE:
            return (sign << (bits - 1)) | max_mag
        if specials == SPECIALS_IEEE:
            return inf_code(sign, M, bits)
        return nan_code(sign, M, bits, specials)
    else:
        X |= 0x800000
        lX = 24
        ex = ef - 150
    if is_int:
        return encode_int(sign, X, lX, ex, S, lS, es, frac_bits, qmax, bits, sm, mode, r32)
    return encode_float(sign, X, lX, ex, S, lS, es, M, emin, bias, max_mag, specials, bits,
                        mode, r32, saturate)


@nb.njit(cache=True, inline="always")
def _floor_log2_bits(m: int) -> int:
    """floor(log2(|x|)) of a finite nonzero float32 from its magnitude bits, exactly."""
    ef = m >> 23
    if ef == 0:
        return bitlen(m) - 1 - 149
    return ef - 127


@nb.njit(cache=True, inline="always")
def _odd(S: int, es: int):
    while S > 1 and (S & 1) == 0:
        S >>= 1
        es += 1
    return S, es


@nb.njit(cache=True, inline="always")
def _block_scale(row, start, stop, rule, emax_elem, sp, Sd, lSd, inv_Sd, ed, St, et, t_nan, tab_S, tab_es,
                 lim):
    """Scale of one block -> (scale_code, S, es, nan_block, plain, zero_block); elements are
    divided by S * 2**es. ``plain``: the block holds only zeros and normal float32s of magnitude
    bits <= ``lim`` (finite and unable to overflow the element), so the branch-free paths apply
    (found in the same pass as the amax). ``zero_block``: a narrow scale
    element's scale rounded to 0 (TransformerEngine's NVFP4 cast: code 0, the block decodes to zeros).

    ``Sd * 2**ed`` = elem_max * tensor_scale (AMAX rule; lSd its bit length, inv_Sd = 1/Sd);
    ``St * 2**et`` = tensor scale alone.
    """
    m = 0
    sub = 0
    for j in range(start, stop):
        v = row[j] & 0x7FFFFFFF
        m = v if v > m else m
        sub |= int(v < _F32_MIN_NORMAL_BITS) & int(v != 0)
    plain = sub == 0 and m <= lim
    if rule == RULE_NONE:
        return 0, St, et, t_nan, plain, False
    if rule == RULE_POW2:  # OCP MX v1.0 §6.3: X = 2**(floor(log2 amax) - emax_elem)
        if m >= _F32_INF_BITS:
            return E8M0_NAN, 1, 0, True, False, False
        se = -127 if m == 0 else _floor_log2_bits(m) - emax_elem
        if se < -127:
            se = -127
        if se > 127:
            return E8M0_NAN, 1, 0, True, False, False
        return se + E8M0_BIAS, 1, se, False, plain, False
    # AMAX: s = RNE_scale_element(amax / (elem_max * ts)), at least the smallest positive value
    _, sM, semin, sbias, _, _, sspec, sbits, _, _, _, smax_mag = sp
    if m >= _F32_INF_BITS or t_nan:
        return nan_code(0, sM, sbits, sspec), 1, 0, True, False, False
    if m >= _F32_MIN_NORMAL_BITS and sM < 23 and lSd <= 26 and -960 < ed < 960:
        # normal amax: the float64 quotient
        code = _amax_scale_code(m, np.float64(Sd) * int64_as_float64((1023 + ed) << 52), sM, semin, sbias,
                                smax_mag)
    elif m >= _F32_MIN_NORMAL_BITS:  # the branch-free RNE path (saturating via max_mag)
        code = _fast_code(m, sp, Sd, lSd, ed, MODE_EVEN, inv_Sd, False, False, 0)[0]
    elif m != 0:  # float32-subnormal amax: the general path
        code = encode_float(0, m, bitlen(m), -149, Sd, lSd, ed, sM, semin, sbias, smax_mag,
                            sspec, sbits, MODE_EVEN, 0, True)
    else:
        code = 0
    if tab_S.shape[0]:  # narrow scale elements: (S, es) of every code precomputed
        if code == 0:  # the scale rounds to 0: stored as 0, the block is zeros (TransformerEngine)
            return 0, 1, 0, False, plain, True
        return code, tab_S[code], tab_es[code], False, plain, False
    code = max(code, 1)  # an fp32 scale is never zero: at least the smallest positive value
    Ss, ess = float_significand(code, sM, sbias, semin)
    S, es = _odd(Ss * St, ess + et)
    return code, S, es, False, plain, False


@nb.njit(cache=True, inline="always")
def _amax_scale_code(m, div, M, emin, bias, max_mag):
    """Magnitude code of RNE(amax / div) in a minifloat with M < 23 mantissa bits, saturating at
    ``max_mag``, for a normal float32 amax with bits ``m`` and an exact float64 ``div = Sd * 2**ed``.

    Exact: ``q = fl64(amax / div)`` is the correctly rounded quotient. The true quotient is either
    a value or midpoint g of the target grid (then q is exactly g) or ``amax - g div`` is a nonzero
    multiple of the finer of amax's ulp and g div's granularity, which puts the quotient at least
    2**-(M + 29) (relative) from g for divisors with odd parts below 2**26 (the element max times a
    float32 tensor scale) -- at least 2**-51 for M <= 22, beyond float64's 2**-53 rounding. So
    rounding q to the grid (an exact power-of-two scaling and a round-half-even) is RNE of the
    true quotient.
    """
    q = np.float64(int32_as_float32(np.int32(m))) / div
    e = ((float64_as_int64(q) >> 52) & 0x7FF) - 1023  # floor(log2 q); q is a normal float64 here
    t = max(e, emin)
    k = np.int64(np.rint(q * int64_as_float64((1023 + M - t) << 52)))
    return min(((t + bias - 1) << M) + k, max_mag)


@nb.njit(cache=True, inline="always")
def _imax(a: int, b: int) -> int:
    d = a - b
    return a - (d & (d >> 63))


@nb.njit(cache=True, inline="always")
def _imin(a: int, b: int) -> int:
    d = a - b
    return b + (d & (d >> 63))


@nb.njit(cache=True, inline="always")
def _fast_code(b, ep, S, lS, es, mode, inv_S, pow2, is_int, r32):
    """Branch-free element code for a finite float32 that is zero or normal and cannot overflow
    (the element saturates, or the caller checked the block's amax): the same arithmetic as
    :func:`_encode_one` without data-dependent branches (STYLE P3: one algorithm; this is its
    hot-path form, vectorizable by LLVM). Every mode; stochastic rounding reads ``r32`` (the
    element's hash, as in the general loop); with ``S > 1`` it needs the bound on ``lS`` that
    :func:`_encode_kernel` checks.

    Returns (code, sig, pexp, sign) with |value(code)| = sig * 2**pexp.
    """
    _, M, emin, bias, _, _, specials, bits, frac_bits, qmax, sm, max_mag = ep
    sign = b >> 31
    ef = (b >> 23) & 0xFF
    nonzero = int(ef != 0)
    X = (b & 0x7FFFFF) | (nonzero << 23)
    ex = ef - 150
    if is_int:
        sh = ex - es + frac_bits  # value in units of 2**-frac_bits = X * 2**sh / S
        sat = int(24 - lS + sh > bits + 1) & nonzero
        sh = _imin(sh, 30)
    else:
        if pow2:
            E = ef - 127 - es
        else:
            E = 24 - lS + ex - es - int((X << (lS - 1)) < (S << 23))
        t = _imax(E, emin)
        sh = ex - es - (t - M)  # value / quantum = X * 2**sh / S; sh <= 0 when pow2 (M < 23)
        sat = 0
    if pow2:
        d = _imin(_imax(-sh, 1), 40)
        if mode == MODE_EVEN:
            q = (X + (1 << (d - 1)) - 1 + ((X >> d) & 1)) >> d
        elif mode == MODE_AWAY:
            q = (X + (1 << (d - 1))) >> d
        else:
            q = X >> d
            if mode == MODE_STOCHASTIC:  # up iff r32 < floor(frac * 2**32) (round_shift)
                rem = X & ((1 << d) - 1)
                q += int(r32 < ((rem << _imax(32 - d, 0)) >> _imax(d - 32, 0)))
    elif mode == MODE_STOCHASTIC:
        # one quotient with 32 fraction bits, Q = floor(X * 2**k32 / S) with k32 = sh + 32 (nested
        # floors when k32 < 0): q = Q >> 32 and floor(frac * 2**32) = Q mod 2**32. For the blocks
        # the caller sends here Q < 2**51 and Q * S < 2**62, so the float64 estimate (absolute
        # error < Q * 2**-52 < 1/2) rounded to an integer is Q or Q + 1, settled by the sign of the
        # integer remainder. Conversions by the 2**52 bias: exact below 2**52, and vectorizable.
        k32 = _imin(_imax(sh + 32, -63), 38)
        A = (X << _imax(k32, 0)) >> _imax(-k32, 0)
        xf = int64_as_float64(X | _F64_BIAS_BITS) - _F64_BIAS
        est = xf * int64_as_float64((1023 + k32) << 52) * inv_S
        Q = float64_as_int64(est + _F64_BIAS) - _F64_BIAS_BITS
        Q += (A - Q * S) >> 63
        q = (Q >> 32) + int(r32 < (Q & 0xFFFFFFFF))
    else:
        d = _imin(_imax(-sh, 0), 61 - lS)
        N = X << _imax(sh, 0)
        den = S << d
        # floor(N / den) estimated with the block's reciprocal 1/S times 2**-d (relative error
        # < 2**-51, so off by at most one for quotients < 2**40), then corrected exactly with
        # the integer remainder: a multiply instead of a divide per element
        q = int(float(N) * (inv_S * int64_as_float64((1023 - d) << 52)))
        rem = N - q * den
        neg = rem >> 63
        q += neg
        rem += den & neg
        over = int(rem >= den)
        q += over
        twice = (rem - den * over) << 1
        if mode == MODE_EVEN:
            q += int(twice > den) | (int(twice == den) & (q & 1))
        elif mode == MODE_AWAY:
            q += int(twice >= den)
    if is_int:
        k = _imin(q, qmax)
        k += (qmax - k) & -sat
        sign &= int(k != 0)  # integers have no -0
        if sm:
            return (sign << (bits - 1)) | k, k, -frac_bits, sign
        return ((k ^ -sign) + sign) & ((1 << bits) - 1), k, -frac_bits, sign
    mag = _imin(((t + bias - 1) << M) + q, max_mag) & -nonzero
    sign &= 1 - (int(specials == SPECIALS_FNUZ) & int(mag == 0))  # FNUZ has no -0
    efield = mag >> M
    normal = int(efield != 0)
    sig = (mag & ((1 << M) - 1)) | (normal << M)
    return (sign << (bits - 1)) | mag, sig, efield + 1 - normal - bias - M, sign


@nb.njit(cache=True, inline="always")
def _int_pow2_values(seg, out, ep, es):
    """Values of a plain block of a fixed-point integer element (MXINT8, BFP, DFP) under a
    power-of-two scale ``2**es`` (|es| < 900), round-to-nearest-even, in float64:
    ``k = min(rint(|x| * 2**(frac_bits - es)), qmax)`` (the product is exact: a float32 times a
    power of two inside float64's range; ``rint`` is RNE of that exact value), then
    ``k * 2**(es - frac_bits)`` (exact) with x's sign, rounded once to float32, ``+ 0.0`` turning
    -0 into +0 (integers have no -0). The arithmetic of :func:`_fast_code`'s integer codes done on
    floats, which vectorizes (3x faster on DFP16); same values bit for bit (tests/numerics)."""
    frac_bits, qmax = ep[8], ep[9]
    up = int64_as_float64((1023 + frac_bits - es) << 52)
    down = int64_as_float64((1023 + es - frac_bits) << 52)
    fq = np.float64(qmax)
    for j in range(seg.shape[0]):
        xv = np.float64(int32_as_float32(np.int32(seg[j])))
        k = min(np.rint(abs(xv) * up), fq)
        out[j] = np.float32(np.copysign(k, xv) * down) + np.float32(0.0)


@nb.njit(cache=True, inline="always")
def _float_pow2_values(seg, out, ep, es):
    """Values of a plain block of a minifloat element (MXFP8, MXFP6, MXFP4) under a power-of-two
    scale ``2**es`` (|es| < 900), round-to-nearest-even, in float64: ``a = |x| * 2**-es`` (exact),
    its quantum ``2**(max(E, emin) - man_bits)`` with E the exponent of a (subnormals below
    emin), ``min(rint(a / quantum) * quantum, max)`` (exact; ``rint`` is RNE of that exact value;
    the element's largest finite value saturates, as :func:`_fast_code`'s magnitude code), then
    times ``2**es`` with x's sign (exact), rounded once to float32, ``+ 0.0`` turning -0 into +0
    for FNUZ elements. The arithmetic of :func:`_fast_code` done on floats, which vectorizes;
    same values bit for bit (tests/numerics)."""
    _, M, emin, bias, _, _, specials, _, _, _, _, max_mag = ep
    efield = max_mag >> M
    normal = int(efield != 0)
    top = np.float64((max_mag & ((1 << M) - 1)) | (normal << M)) * int64_as_float64(
        (1023 + efield + 1 - normal - bias - M) << 52)
    down = int64_as_float64((1023 - es) << 52)
    up = int64_as_float64((1023 + es) << 52)
    fnuz_zero = np.float32(0.0) if specials == SPECIALS_FNUZ else np.float32(-0.0)
    for j in range(seg.shape[0]):
        xv = np.float64(int32_as_float32(np.int32(seg[j])))
        a = abs(xv) * down
        qe = max((float64_as_int64(a) >> 52) - 1023, emin) - M  # exponent of a's quantum
        k = np.rint(a * int64_as_float64((1023 - qe) << 52)) * int64_as_float64((1023 + qe) << 52)
        out[j] = np.float32(np.copysign(min(k, top), xv) * up) + fnuz_zero


@nb.njit(cache=True, inline="always")
def _fast_block(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, pow2, is_int,
                out_values):
    """One plain block (zeros and normal float32s that cannot overflow) on the branch-free path,
    writing codes or (``out_values``) float32 values. ``pow2``, ``is_int`` and ``out_values`` are
    constants at each call site, so the compiler emits one specialized, branch-free loop per case.
    Element ``j``'s stochastic bits are ``hash32(base + j * inner, seed)``, as in the general loop.

    Values are sig * 2**pexp * scale, exact, then rounded once to float32, like decode's table
    path, without a gather: in float32 when the scale is a float32 and 2**pexp a normal float32,
    else (``wide``) in float64, where it is exact for sig < 2**24 and S < 2**29 (the caller's check).
    """
    sval32 = np.float32(sval)
    if pow2 and out_values and mode == MODE_EVEN and -900 < es < 900:
        if is_int:
            _int_pow2_values(seg, out, ep, es)
        else:
            _float_pow2_values(seg, out, ep, es)
        return
    for j in range(seg.shape[0]):
        r32 = hash32(base + j * inner, seed) if mode == MODE_STOCHASTIC else 0
        c, sig, pexp, sign = _fast_code(np.int64(seg[j]), ep, S, lS, es, mode, inv_S, pow2, is_int, r32)
        if out_values:
            if wide:
                v = np.float32(np.float64(sig) * int64_as_float64(np.int64(pexp + 1023) << 52) * sval)
            else:
                v = np.float32(sig) * int32_as_float32(np.int32((pexp + 127) << 23)) * sval32
            out[j] = int32_as_float32(np.int32(float32_as_int32(v) | (sign << 31)))
        else:
            out[j] = c


@nb.njit(cache=True, inline="always")
def _small_setup(cuts, ups, mags, sval, tv, wide):
    """The 7 decision points ``c * scale`` and the 7 nonzero values ``mag * scale`` of
    :func:`_small_block` into ``tv`` (float32, or float64 when ``wide``). The grid has <= 5
    significant bits (:func:`_small_grid`), so the points are exact: in float32 for a float32
    scale with odd part S < 2**19 whose products with the grid stay normal (2**-120 <= scale <=
    2**120), in float64 for S < 2**48 and 1e-270 < scale < 1e270. The values are the general
    loop's float64 products ``table[code] * sval`` (exact in float32 in the float32 case). A point
    where a value on it goes up is moved one float below, so that every test is ``|x| > cut``
    (exact for a float32 x in either type)."""
    for k in range(7):
        t = cuts[k] * sval  # exact in float64 (and a float32 when not wide)
        if wide:
            tv[k] = int64_as_float64(float64_as_int64(t) - int(ups[k]))
        else:
            tv[k] = int32_as_float32(np.int32(float32_as_int32(np.float32(t)) - int(ups[k])))
        tv[7 + k] = mags[k + 1] * sval


@nb.njit(cache=True, inline="always")
def _small_block(xf, out, tv, code_bits, fnuz, out_values):
    """One plain block of a minifloat with at most 8 magnitudes (FP4 E2M1) by comparisons: the
    magnitude code is the number of decision points below |x| and the value the magnitude there
    times the scale (``tv``: :func:`_small_setup`), rounded once to float32. Seven straight-line
    compare-and-select steps: the loop vectorizes, where the division path of :func:`_fast_code`
    cannot (NVFP4's scales 3, 5, 7, ... x 2**e; times an fp32 tensor scale, in float64). Same
    results as the division path (docs/numerics.md), bit for bit."""
    t0, t1, t2, t3, t4, t5, t6 = tv[0], tv[1], tv[2], tv[3], tv[4], tv[5], tv[6]
    v1, v2, v3, v4, v5, v6, v7 = tv[7], tv[8], tv[9], tv[10], tv[11], tv[12], tv[13]
    zero = v1 - v1
    for j in range(xf.shape[0]):
        xv = xf[j]
        a = abs(xv)
        if out_values:
            v = v1 if a > t0 else zero
            v = v2 if a > t1 else v
            v = v3 if a > t2 else v
            v = v4 if a > t3 else v
            v = v5 if a > t4 else v
            v = v6 if a > t5 else v
            v = v7 if a > t6 else v
            out[j] = np.copysign(v, xv)
        else:
            k = 1 if a > t0 else 0
            k = 2 if a > t1 else k
            k = 3 if a > t2 else k
            k = 4 if a > t3 else k
            k = 5 if a > t4 else k
            k = 6 if a > t5 else k
            k = 7 if a > t6 else k
            sign = 1 if np.signbit(xv) else 0
            sign &= 1 - (fnuz & (1 if k == 0 else 0))
            out[j] = (sign << (code_bits - 1)) | k


@nb.njit(cache=True, inline="always")
def _small_sr_setup(mags, sval, tv):
    """``tv`` (float64) for :func:`_small_sr_block`: per interval k = 0..7 its lower end
    ``mags[k] * sval`` (entries 0..7; those above 0 are also the comparison points) and its width
    (entries 8..15; 0 past the top: the element saturates). Exact: <= 5 grid bits times S < 2**48
    (the caller's check)."""
    for k in range(7):
        tv[k] = mags[k] * sval
        tv[8 + k] = (mags[k + 1] - mags[k]) * sval
    tv[7] = mags[7] * sval
    tv[15] = 0.0


@nb.njit(cache=True, inline="always")
def _small_sr_block(xf, out, tv, code_bits, fnuz, out_values, base, inner, seed):
    """Stochastic rounding of one plain block of a <= 8-magnitude minifloat by comparisons (the
    stochastic twin of :func:`_small_block`): the interval k of |x| between grid values
    ``lo = g_k * s`` and ``lo + w`` (w = (g_{k+1} - g_k) * s) by seven compare-and-selects, then
    up iff ``r32 < floor(frac * 2**32)`` with frac = (|x| - lo) / w, r32 the element's hash
    (docs/numerics.md), decided exactly as ``(|x| - lo) * 2**32 - (r32 + 1) * w >= 0``:
    |x| - lo is exact (lo <= |x| < 2 lo, Sterbenz; or lo = 0), scaling by 2**32 is exact, and the
    fused multiply-add rounds once, which keeps the sign (:mod:`hwsim.numerics._fma`; every
    nonzero exact result is a multiple of 2**-1000 here, the caller's scale range). The value
    ``lo (+ w)`` is the grid value times the scale, exact in float64, rounded once to float32 as
    the general loop's ``table[code] * sval``. Same results as the division path, bit for bit,
    without a 64-bit divide or multiply per element."""
    # every table entry in a local: the loop then reads only xf and writes only out (vectorizes)
    l0, l1, l2, l3, l4, l5, l6, l7 = tv[0], tv[1], tv[2], tv[3], tv[4], tv[5], tv[6], tv[7]
    w0, w1, w2, w3, w4, w5, w6, w7 = tv[8], tv[9], tv[10], tv[11], tv[12], tv[13], tv[14], tv[15]
    two32 = 4294967296.0
    for j in range(xf.shape[0]):
        xv = xf[j]
        a = abs(np.float64(xv))
        lo = l1 if a >= l1 else l0
        w = w1 if a >= l1 else w0
        lo = l2 if a >= l2 else lo
        w = w2 if a >= l2 else w
        lo = l3 if a >= l3 else lo
        w = w3 if a >= l3 else w
        lo = l4 if a >= l4 else lo
        w = w4 if a >= l4 else w
        lo = l5 if a >= l5 else lo
        w = w5 if a >= l5 else w
        lo = l6 if a >= l6 else lo
        w = w6 if a >= l6 else w
        lo = l7 if a >= l7 else lo
        w = w7 if a >= l7 else w
        # r32 + 1 as a float64 by the 2**52 bias (exact; an int64 -> float64 conversion does not
        # vectorize on AVX2)
        r1 = int64_as_float64((hash32(base + j * inner, seed) + 1) | _F64_BIAS_BITS) - _F64_BIAS
        up = fma(-r1, w, (a - lo) * two32) >= 0.0
        if out_values:
            v = lo + w if up else lo
            out[j] = np.copysign(np.float32(v), xv)
        else:
            k = int(a >= l1) + int(a >= l2) + int(a >= l3) + int(a >= l4) + int(a >= l5) + int(a >= l6)
            k = _imin(k + int(a >= l7) + int(up), 7)
            sign = 1 if np.signbit(xv) else 0
            sign &= 1 - (fnuz & (1 if k == 0 else 0))
            out[j] = (sign << (code_bits - 1)) | k


@nb.njit(cache=True, inline="always")
def _fast_kinds(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, out_values):
    """Pick the specialized loop for this block's scale kind and the element kind."""
    is_int = ep[0]
    if S == 1:
        if is_int:
            _fast_block(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, True, True,
                        out_values)
        else:
            _fast_block(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, True, False,
                        out_values)
    elif is_int:
        _fast_block(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, False, True,
                    out_values)
    else:
        _fast_block(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, False, False,
                    out_values)


@nb.njit(cache=True, inline="always")
def _fast_dispatch(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, out_values):
    """:func:`_fast_kinds`, with round-to-nearest-even on float32 values (the common case) compiled
    as constants: its loops then carry no mode or width test (about 10% faster than the generic
    loop, which serves the other modes and float64 values)."""
    if mode == MODE_EVEN and not wide:
        _fast_kinds(seg, out, ep, S, lS, es, MODE_EVEN, sval, inv_S, base, inner, seed, False, out_values)
    else:
        _fast_kinds(seg, out, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, out_values)


@nb.njit(cache=True, parallel=True)
def _encode_kernel(xb, codes, scales, values, table, ep, rule, B, emax_elem, sp, Sd, ed, St, et,
                   t_nan, mode, seed, saturate, lim, L_orig, inner, arith_ok, use_fast, tab_S, tab_es, tab_lS, tab_inv,
                   tab_sval, tab_ok, xf, cuts, ups, mags):
    """Encode rows of ``xb`` (float32 bits, rows x L) block by block into ``codes`` (encode) or
    ``values`` (quantize); the other is None, and numba compiles each use without the other's code.

    Row r, column i is element ((r // inner) * L + i) * inner + r % inner of the caller's array
    (its C-order index feeds the stochastic-rounding hash). ``lim``: float32 bits of the largest
    magnitude that cannot overflow the element in any mode (F32 max where the format saturates).

    A block takes a branch-free path when it holds only zeros and normal float32s no larger than
    ``lim`` (so no element overflows, and saturating or not gives the same codes): the comparison
    path of :func:`_small_block` (<= 8-magnitude minifloats, deterministic modes; float32, or
    float64 for scales that are not float32s, e.g. times an fp32 tensor scale) or of
    :func:`_small_sr_block` (the same minifloats, stochastic rounding, float64) or the division path
    of :func:`_fast_code` (every mode; stochastic with scales whose odd part has <= 30 - qb bits).
    Every other block (subnormal, Inf, NaN or possibly overflowing inputs) runs the general loop.
    """
    rows, L = xb.shape
    nblk = scales.shape[1]
    is_int, M, _, _, _, _, specials, code_bits, _, _, _, _ = ep
    stoch = mode == MODE_STOCHASTIC
    fast_ok = use_fast and M < 23
    small = use_fast and cuts.shape[0] == 7  # <= 8-magnitude minifloat (_small_grid)
    fnuz = int(specials == SPECIALS_FNUZ)
    zero_sign = not is_int and not fnuz  # the element has a -0 code
    # stochastic division: Q < 2**(qb + 32) with qb = M + 1 (minifloat) or code_bits + 2 (an
    # unsaturated integer; a saturated integer's Q is discarded): Q < 2**51 needs qb <= 19, and
    # A = X * 2**k32 < Q_max * S <= 2**(qb + 32 + lS) fits int64 with (Q + 1) * S < 2**63 when
    # lS <= 30 - qb: 28 bits for FP4, every E4M3 / UE5M3 block scale times an fp32 tensor scale
    qb = code_bits + 2 if is_int else M + 1
    sr_lS_max = 30 - qb if qb <= 19 else 0
    lSd = bitlen(Sd)
    inv_Sd = 1.0 / Sd
    # per row: the decision points and values of _small_block, in float32 and float64
    tvs32 = np.empty((rows, 14), np.float32)
    tvs64 = np.empty((rows, 16), np.float64)
    for r in nb.prange(rows):  # rows, not blocks: no 64-bit divide per block (see _run)
        tv32 = tvs32[r]
        tv64 = tvs64[r]
        for j in range(nblk):
            start = j * B
            stop = min(L, start + B)
            seg = xb[r, start:stop]
            n = stop - start
            scode, S, es, nan_block, plain, zero_block = _block_scale(seg, 0, n, rule, emax_elem, sp, Sd, lSd,
                                                                      inv_Sd, ed, St, et, t_nan, tab_S, tab_es,
                                                                      lim)
            scales[r, j] = scode
            if tab_S.shape[0] and not nan_block:
                lS = tab_lS[scode]
                sval = tab_sval[scode]
                inv_S = tab_inv[scode]
                sval_ok = tab_ok[scode]
            else:
                lS = bitlen(S)
                sval = S * math.ldexp(1.0, es)
                inv_S = 1.0 / S
                sval_ok = np.float64(np.float32(sval)) == sval
            # comparisons in float32 need every cut and value times the scale to be a normal
            # float32 (<= 5 grid bits times S < 2**19; 2**-120 <= scale <= 2**120), in float64
            # the cuts exact (_small_setup)
            small32 = (small and not stoch and plain and sval_ok and lS <= 19
                       and 7.52316384526264e-37 <= sval <= 1.329227995784916e36)
            small64 = small and plain and lS <= 48 and 1e-270 < sval < 1e270
            # stochastic: power-of-two scales (MX) take the shift path of _fast_code (as fast)
            small64 = small64 and not (stoch and S == 1 and fast_ok)
            fast = fast_ok and plain and (not stoch or S == 1 or lS <= sr_lS_max)
            # values: float32 arithmetic where exact, else float64 (the general loop's product)
            wide = not (arith_ok and sval_ok)
            # flat C-order index of the block's first element (stochastic rounding only)
            base = 0 if not stoch else (r // inner) * L_orig * inner + r % inner + start * inner
            if values is not None:
                vseg = values[r, start:stop]
                if nan_block:
                    vseg[:] = math.nan
                elif zero_block:  # +-0 with each element's sign (its code is a signed zero)
                    for i in range(n):
                        vseg[i] = -0.0 if (seg[i] >> 31) and zero_sign else 0.0
                elif small32:
                    _small_setup(cuts, ups, mags, sval, tv32, False)
                    _small_block(xf[r, start:stop], vseg, tv32, code_bits, fnuz, True)
                elif small64 and stoch:
                    _small_sr_setup(mags, sval, tv64)
                    _small_sr_block(xf[r, start:stop], vseg, tv64, code_bits, fnuz, True, base, inner, seed)
                elif small64:
                    _small_setup(cuts, ups, mags, sval, tv64, True)
                    _small_block(xf[r, start:stop], vseg, tv64, code_bits, fnuz, True)
                elif fast:
                    _fast_dispatch(seg, vseg, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, True)
                else:
                    for i in range(n):
                        r32 = hash32(base + i * inner, seed) if stoch else 0
                        vseg[i] = table[_encode_one(np.int64(seg[i]), ep, S, lS, es, mode, r32,
                                                    saturate)] * sval
            if codes is not None:
                cseg = codes[r, start:stop]
                if nan_block:
                    cseg[:] = 0
                elif zero_block:
                    for i in range(n):
                        cseg[i] = ((seg[i] >> 31) << (code_bits - 1)) if zero_sign else 0
                elif small32:
                    _small_setup(cuts, ups, mags, sval, tv32, False)
                    _small_block(xf[r, start:stop], cseg, tv32, code_bits, fnuz, False)
                elif small64 and stoch:
                    _small_sr_setup(mags, sval, tv64)
                    _small_sr_block(xf[r, start:stop], cseg, tv64, code_bits, fnuz, False, base, inner, seed)
                elif small64:
                    _small_setup(cuts, ups, mags, sval, tv64, True)
                    _small_block(xf[r, start:stop], cseg, tv64, code_bits, fnuz, False)
                elif fast:
                    _fast_dispatch(seg, cseg, ep, S, lS, es, mode, sval, inv_S, base, inner, seed, wide, False)
                else:
                    for i in range(n):
                        r32 = hash32(base + i * inner, seed) if stoch else 0
                        cseg[i] = _encode_one(np.int64(seg[i]), ep, S, lS, es, mode, r32, saturate)


@nb.njit(cache=True, parallel=True)
def _small_amax_values(xi, xf, values, scales, B, inner, chunks, sp, Sd, ed, tab_S, tab_es, tab_lS, tab_sval, mode,
                       seed, table, ep, saturate, zero_sign, cuts, ups, mags):
    """Values of a <= 8-magnitude minifloat (FP4 E2M1) under a narrow AMAX scale element (NVFP4's
    E4M3, UE5M3; optionally times an fp32 tensor scale: ``Sd * 2**ed``) for an input whose every
    element is zero or a normal float32 that cannot overflow (the caller's whole-tensor scan), rows
    of whole blocks (B a multiple of 4); row r, column i is element ((r // inner) * L + i) * inner +
    r % inner of the caller's array, as in :func:`_encode_kernel` (the stochastic-rounding index).

    The blocks of :func:`_encode_kernel` with the per-block tests gone, in two phases per row: first
    every block's scale code (block maxima of the int32 magnitude bits by log2(B) vectorized passes
    of pairwise maxima over the row when B is a power of two, else four independent maxima per
    block; then :func:`_amax_scale_code`, independent iterations, so the divisions overlap instead
    of each waiting for the previous block's elements), then the elements by the comparison paths
    (:func:`_small_block`, :func:`_small_sr_block`; a block whose divisor does not fit them runs the
    general loop). The same values and scale codes as :func:`_encode_kernel`, bit for bit
    (tests/numerics/test_small_amax_path.py); about 2x faster on NVFP4's 16-element blocks."""
    rows, L = xi.shape
    nblk = L // B
    _, sM, semin, sbias, _, _, _, _, _, _, _, smax_mag = sp
    div = np.float64(Sd) * int64_as_float64((1023 + ed) << 52)
    stoch = mode == MODE_STOCHASTIC
    pow2_B = (B & (B - 1)) == 0
    for ch in nb.prange(chunks):  # scratch per chunk of rows: no fresh pages per row or call
        tv = np.empty(16, np.float64)
        ha0 = np.empty(L // 2, np.int32)
        hb0 = np.empty(L // 4 + 1, np.int32)
        for r in range(ch * rows // chunks, (ch + 1) * rows // chunks):
            row = xi[r]
            first = (r // inner) * L * inner + r % inner  # flat index of the row's first element
            if pow2_B:  # block maxima by halving: pairwise maxima of the row, log2(B) times
                ha = ha0
                hb = hb0
                n = L // 2
                for k in range(n):
                    ha[k] = max(row[2 * k] & np.int32(0x7FFFFFFF), row[2 * k + 1] & np.int32(0x7FFFFFFF))
                w = 2
                while w < B:
                    n //= 2
                    for k in range(n):
                        hb[k] = max(ha[2 * k], ha[2 * k + 1])
                    ha, hb = hb, ha
                    w *= 2
                for j in range(nblk):
                    m = ha[j]
                    scales[r, j] = 0 if m == 0 else _amax_scale_code(m, div, sM, semin, sbias, smax_mag)
            else:  # four independent maxima per block
                for j in range(nblk):
                    m0 = m1 = m2 = m3 = np.int32(0)
                    for i in range(j * B, j * B + B, 4):
                        m0 = max(m0, row[i] & np.int32(0x7FFFFFFF))
                        m1 = max(m1, row[i + 1] & np.int32(0x7FFFFFFF))
                        m2 = max(m2, row[i + 2] & np.int32(0x7FFFFFFF))
                        m3 = max(m3, row[i + 3] & np.int32(0x7FFFFFFF))
                    m = max(max(m0, m1), max(m2, m3))
                    scales[r, j] = 0 if m == 0 else _amax_scale_code(m, div, sM, semin, sbias, smax_mag)
            for j in range(nblk):
                start = j * B
                stop = start + B
                code = scales[r, j]
                vseg = values[r, start:stop]
                sval = tab_sval[code]
                if code == 0:  # the scale rounds to 0: the block decodes to zeros (see _block_scale)
                    for i in range(B):
                        vseg[i] = -0.0 if row[start + i] < 0 and zero_sign else 0.0
                elif tab_lS[code] <= 48 and 1e-270 < sval < 1e270:
                    if stoch:
                        _small_sr_setup(mags, sval, tv)
                        _small_sr_block(xf[r, start:stop], vseg, tv, 0, 0, True, first + start * inner, inner, seed)
                    else:
                        _small_setup(cuts, ups, mags, sval, tv, True)
                        _small_block(xf[r, start:stop], vseg, tv, 0, 0, True)
                else:
                    S, es, lS = tab_S[code], tab_es[code], tab_lS[code]
                    for i in range(B):
                        r32 = hash32(first + (start + i) * inner, seed) if stoch else 0
                        vseg[i] = table[_encode_one(np.int64(row[start + i]) & 0xFFFFFFFF, ep, S, lS, es, mode, r32,
                                                    saturate)] * sval


@nb.njit(cache=True, parallel=True)
def _decode_kernel(codes, svals, values, table, B):
    rows, L = codes.shape
    for r in nb.prange(rows):
        for j in range(L):
            values[r, j] = table[codes[r, j]] * svals[r, j // B]


# ----------------------------------------------------------------------------------------------
# driver (numpy arrays; the plan is shared with the torch codec: hwsim.numerics.plan)
# ----------------------------------------------------------------------------------------------
def _as_float32(fmt: CodecFormat, x: Any) -> np.ndarray:
    arr = plan.as_array(fmt.name, x)
    dt = arr.dtype
    if dt == np.float32:
        return arr
    if dt.kind == "f" or dt.name == "bfloat16" or dt.name.startswith("float8"):
        return arr.astype(np.float32)
    raise plan.dtype_error(fmt, dt)


@nb.njit(cache=True, inline="always")
def _round_to_f32(X: int, lX: int, ex: int, S: int, es: int) -> int:
    """fp32 bits of RNE(X * 2**ex / (S * 2**es)) (the per-tensor scale)."""
    return encode_float(0, X, lX, ex, S, bitlen(S), es, 23, -126, 127, _F32_MAX_BITS, SPECIALS_IEEE, 32,
                        MODE_EVEN, 0, True)


@nb.njit(cache=True)
def _abs_max_bits(xi):
    """``(m, sub)``: the largest float32 magnitude bits of ``xi`` (float32 bits as int32, rows x L;
    > 0x7F800000 if any NaN, 0x7F800000 for an infinite one) and whether any element is a float32
    subnormal. One pass of int32 maxima / minima (vectorized), no |x| temporary: with
    ``w = v + 2**31 - 1`` wrapped to int32, 0 < v < MIN_NORMAL iff w < -2**31 + MIN_NORMAL - 1."""
    m = np.int32(0)
    w = np.int32(0x7FFFFFFF)
    for r in range(xi.shape[0]):
        row = xi[r]
        for j in range(row.shape[0]):
            v = row[j] & np.int32(0x7FFFFFFF)
            m = max(m, v)
            w = min(w, np.int32(v + np.int32(0x7FFFFFFF)))
    return m, w < np.int32(-(1 << 31) + _F32_MIN_NORMAL_BITS - 1)


def _tensor_scale(fmt: CodecFormat, m: int) -> tuple[float, int, int, bool]:
    """Per-tensor fp32 scale ts = fp32(amax / (scale_max * elem_max)) -> (ts, St, et, is_nan);
    ``m``: the float32 bits of the input's largest magnitude (:func:`_abs_max_bits`)."""
    if m >= _F32_INF_BITS:  # NaN or Inf
        return math.nan, 1, 0, True
    amax = _F32_OF_BITS.unpack(_U32_BITS.pack(m))[0]
    if amax == 0.0:
        return 1.0, 1, 0, False
    Sd, ed = plan.tensor_divisor(fmt)
    Xa, ea = odd_significand(amax)
    bits = _round_to_f32(Xa, Xa.bit_length(), ea, Sd, ed)
    ts = _F32_OF_BITS.unpack(_U32_BITS.pack(max(bits, 1)))[0]
    St, et = odd_significand(ts)
    return ts, St, et, False


def _scale_dtype(fmt: CodecFormat) -> np.dtype:
    """dtype the kernel writes block scales in (fp32 scale elements as their uint32 bits)."""
    storage = plan.scale_storage(fmt)
    if storage == plan.SCALE_WIDE:
        return np.dtype(np.uint32)
    return np.dtype(np.uint8 if storage is None else plan.code_bits_dtype(fmt.scale_bits))


def _prepare(fmt: CodecFormat, x: Any, axis: int) -> tuple[np.ndarray, plan.Layout, bool]:
    """float32 input (a 0-d input as one element), its layout and whether it was 0-d."""
    x32 = _as_float32(fmt, x)
    scalar = x32.ndim == 0
    if scalar:
        x32 = x32.reshape(1)
    ax = plan.check_axis(fmt.name, axis, x32.ndim)
    if plan.needs_nan_check(fmt) and x32.size:
        plan.check_no_nan(fmt, bool(np.isnan(x32).any()))
    return x32, plan.layout(fmt, x32.shape, ax), scalar


def _row_blocks(rows: int, nblk: int, threads: int, cap: int) -> int:
    """Blocks per kernel row for ``rows`` contiguous rows of ``nblk`` whole blocks each (the
    quantized axis innermost). The flat element index, hence the layout and the stochastic-rounding
    bits, is the same for any row length that is a whole number of blocks, so the kernels may see
    the ``rows * nblk`` blocks as rows of any divisor ``g`` of that count: the largest ``g`` up to
    ``cap`` that leaves at least :data:`_ROWS_PER_THREAD` rows per thread, or one block per row
    when there are too few blocks for that."""
    total = rows * nblk
    want = _ROWS_PER_THREAD * threads
    if total <= want:
        return 1
    g = min(cap, total // want)
    while total % g:
        g -= 1
    return g


def _run(fmt: CodecFormat, x: Any, axis: int, want_codes: bool, want_values: bool):
    x32, lay, scalar = _prepare(fmt, x, axis)
    xr = plan.to_rows(x32, lay.ax)
    L, inner, B, nblk = lay.L, lay.inner, lay.B, lay.nblk
    el = fmt.element
    ep = tuple(el.params())
    rule = plan.rule_code(fmt)
    mode = MODE_CODE[fmt.rounding]
    ts_val, St, et, t_nan = (None, 1, 0, False)
    scan = None  # (amax bits, any subnormal) of the whole input, when a caller needed them
    if fmt.tensor_scale:
        scan = _abs_max_bits(xr.view(np.int32)) if xr.size else (0, False)
        ts_val, St, et, t_nan = _tensor_scale(fmt, int(scan[0]))
    # the scale element's parameters (AMAX only; any same-typed tuple otherwise, unread)
    se = fmt.scale_element
    sp = tuple(se.params()) if rule == RULE_AMAX and se is not None else ep
    Sd, ed = 1, 0
    if rule == RULE_AMAX:
        Sm, em = plan.element_divisor(fmt)
        Sd = Sm * St
        tz = (Sd & -Sd).bit_length() - 1  # Sd odd, exponent adjusted (as _odd, without a kernel call)
        Sd, ed = Sd >> tz, em + et + tz
    tabs = _scale_tables(fmt.scale_element, St, et) if rule == RULE_AMAX else _NO_TABLES
    rows_in, L_row, split = xr.shape[0], L, False
    nthreads = nb.get_num_threads()
    if inner == 1 and L % B == 0 and rows_in and nblk:
        # the kernels parallelize over rows and pay a set-up per row: see the blocks as rows of
        # g blocks (a free view of the contiguous rows; flat element indices, hence stochastic
        # rounding, unchanged): long rows cut for many threads, short rows joined
        g = _row_blocks(rows_in, nblk, nthreads if xr.size >= _SERIAL_BELOW else 1, max(nblk, _JOINED_ROW // B))
        if g != nblk:
            L_row, split = g * B, True
            xr = xr.reshape(-1, L_row)
    codes = np.empty(xr.shape, dtype=plan.code_bits_dtype(fmt.element.bits)) if want_codes else None
    values = np.empty(xr.shape, dtype=np.float32) if want_values else None
    # written by the kernel in their final width (one byte per block for E8M0 / E4M3 codes)
    scales = np.empty((xr.shape[0], L_row // B if split else nblk), dtype=_scale_dtype(fmt))
    saturate = fmt.saturate or fmt.is_scaled
    lim = _no_overflow_bits(el, saturate)
    grid = _small_grid(el, mode)
    if xr.size:
        threads = nthreads if xr.size < _SERIAL_BELOW else 1
        if threads > 1:  # waking worker threads costs more than small inputs take
            nb.set_num_threads(1)
        try:
            if (values is not None and codes is None and _FAST_PATHS and rule == RULE_AMAX and tabs[0].shape[0]
                    and grid[0].shape[0] == 7 and L_row % B == 0 and B % 4 == 0 and not t_nan
                    and sp[1] < 23 and int(Sd).bit_length() <= 26 and -960 < ed < 960):
                if scan is None:
                    scan = _abs_max_bits(xr.view(np.int32))
                plain = int(scan[0]) <= lim and not scan[1]
            else:
                plain = False
            if plain:  # every element zero or normal and unable to overflow: the two-phase kernel
                chunks = max(1, min(nthreads if xr.size >= _SERIAL_BELOW else 1, xr.shape[0]))
                _small_amax_values(xr.view(np.int32), xr, values, scales, B, inner, chunks, sp, Sd, ed, *tabs[:3],
                                   tabs[4], mode, fmt.seed & 0xFFFFFFFF, el.table(), ep, saturate,
                                   int(not ep[0] and ep[6] != SPECIALS_FNUZ), *grid)
            else:
                _encode_kernel(xr.view(np.uint32), codes, scales, values, el.table(), ep,
                               rule, B, el.emax, sp, Sd, ed, St, et, t_nan,
                               mode, fmt.seed & 0xFFFFFFFF, saturate, lim, L_row, inner,
                               _arith_ok(el), _FAST_PATHS, *tabs, xr, *grid)
        finally:
            if threads > 1:
                nb.set_num_threads(threads)

    def back(a: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
        out = plan.from_rows(a.reshape(rows_in, -1) if split else a, lay.shape, lay.ax, like)
        return out.reshape(()) if scalar else out

    # codes and values in the input's memory layout (a transposed input gives a transposed result)
    codes_out = back(codes, x32) if codes is not None else None
    values_out = back(values, x32) if values is not None else None
    scales_out = back(_scales_out(scales)) if rule != RULE_NONE and want_codes else None
    ts_out = np.float32(ts_val) if fmt.tensor_scale else None
    return codes_out, scales_out, ts_out, values_out, lay.ax


#: the six per-scale-code tables of :func:`_scale_tables` (divisor S, its exponent, bit length of S,
#: 1/S, scale value, value exact in float32)
_ScaleTables = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]

_NO_TABLES: _ScaleTables = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
              np.zeros(0), np.zeros(0, np.bool_))


@lru_cache(maxsize=64)
def _scale_code_significands(sel: FloatElement) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per scale code of ``sel``: ``(S, e, valid)`` with the code's value ``S * 2**e``, S odd
    (S = 1, e = 0 where the code is not a positive finite value). Depends on the scale element
    only, so a new tensor scale (every call of a tensor-scaled format) does not redo it."""
    n = 1 << sel.bits
    tS = np.ones(n, np.int64)
    tes = np.zeros(n, np.int64)
    valid = np.zeros(n, np.bool_)
    for code in range(n):
        v = sel.decode_code(code)
        if not math.isfinite(v) or v <= 0:
            continue
        tS[code], tes[code] = odd_significand(v)
        valid[code] = True
    for a in (tS, tes, valid):
        a.setflags(write=False)
    return tS, tes, valid


@lru_cache(maxsize=64)
def _scale_tables(sel: FloatElement | None, St: int, et: int) -> _ScaleTables:
    """Per scale code of a narrow (<= 16-bit) scale element: the divisor S * 2**es of its elements
    (block scale times tensor scale, odd S), bit length of S, 1/S, the scale value, and whether
    that value is exact in float32. Replaces per-block decoding (NVFP4 blocks hold only 16 elements).

    Vectorized over the codes (:func:`_scale_code_significands` holds the per-code part): a
    tensor-scaled format has a new ``St`` on every call. S stays exact in int64 and float64 (a
    <= 16-bit element's significand times a float32 one is below 2**35)."""
    if sel is None or sel.bits > 16:
        return _NO_TABLES
    tables = _fill_scale_tables(*_scale_code_significands(sel), St, et)
    for a in tables:
        a.setflags(write=False)
    return tables


@nb.njit(cache=True)
def _fill_scale_tables(Ss, ess, valid, St, et):
    """The arrays of :func:`_scale_tables` in one compiled loop over the codes (a tensor-scaled
    format builds them on every call)."""
    n = Ss.shape[0]
    tS, tes, tlS = np.ones(n, np.int64), np.zeros(n, np.int64), np.ones(n, np.int64)
    tinv, tsval, tok = np.ones(n), np.ones(n), np.ones(n, np.bool_)
    for c in range(n):
        if valid[c]:
            S = Ss[c] * St  # odd x odd: already odd
            tS[c], tes[c], tlS[c] = S, ess[c] + et, bitlen(S)
            tinv[c] = 1.0 / S
            tsval[c] = S * math.ldexp(1.0, ess[c] + et)
            tok[c] = np.float64(np.float32(tsval[c])) == tsval[c]
    return tS, tes, tlS, tinv, tsval, tok


_NO_GRID = (np.zeros(0), np.zeros(0, np.bool_), np.zeros(0))


@lru_cache(maxsize=64)
def _small_grid(el: Any, mode: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cuts, ups, mags) for :func:`_small_block` / :func:`_small_sr_block`: the 8 magnitudes of a
    minifloat whose magnitude codes 0..7 are its values in order (FP4 E2M1), the 7 decision points
    between them for the rounding mode (midpoints; the upper values when truncating; the grid
    values themselves for stochastic rounding) and whether a value on a point goes up (RNE: to the
    even code; away: always; zero: always, onto the value; stochastic: unused). Empty otherwise.
    Stochastic rounding also needs each magnitude above 0 at most twice the one below (so the
    difference to the lower grid value is exact: Sterbenz), true of every minifloat grid."""
    if not el.is_float or el.params().max_mag != 7:
        return _NO_GRID
    mags = np.array([el.decode_code(c) for c in range(8)], dtype=np.float64)
    if not np.all(np.diff(mags) > 0) or not np.all(np.isfinite(mags)):
        return _NO_GRID
    if mode == MODE_STOCHASTIC:
        if not np.all(mags[2:] <= 2 * mags[1:-1]):
            return _NO_GRID
        cuts, ups = mags[1:].copy(), np.zeros(7, np.bool_)
    elif mode == MODE_ZERO:
        cuts, ups = mags[1:].copy(), np.ones(7, np.bool_)
    else:
        cuts = (mags[:-1] + mags[1:]) / 2
        ups = np.array([mode == MODE_AWAY or (i + 1) % 2 == 0 for i in range(7)], np.bool_)
    grid = np.concatenate([cuts, mags[1:]])
    sig = np.ldexp(np.frexp(grid)[0], 5)  # <= 5 significant bits: exact times any S < 2**48
    if not np.all(sig == np.floor(sig)):
        return _NO_GRID
    return cuts, ups, mags


@lru_cache(maxsize=256)
def _no_overflow_bits(el: Any, saturate: bool) -> int:
    """float32 bits of the largest float32 magnitude that no rounding mode takes past the
    element's max (the max itself, or below it): a block no larger cannot overflow, so saturating
    or not gives the same codes. F32 max where the element saturates (integers always do)."""
    f32_max = float(np.finfo(np.float32).max)
    if saturate or not el.is_float or el.max >= f32_max:
        return _F32_MAX_BITS
    lim = np.float32(el.max)
    if float(lim) > el.max:
        lim = np.nextafter(lim, np.float32(0))
    return int(np.array([lim], np.float32).view(np.uint32)[0])


@lru_cache(maxsize=256)
def _arith_ok(el) -> bool:
    """Every element value is sig * 2**pexp with 2**pexp a normal float32 (not bf16: 2**-133)."""
    if el.is_float:
        return el.emin - el.man_bits >= -126 and el.emax - el.man_bits <= 127
    return -el.frac_bits >= -126


def _scales_out(scales: np.ndarray) -> np.ndarray:
    """The kernel's scale codes as the Encoded holds them (fp32 scale elements: float32 values)."""
    return scales.view(np.float32) if scales.dtype == np.uint32 else scales


# ----------------------------------------------------------------------------------------------
# numpy entry points
# ----------------------------------------------------------------------------------------------
def encode_array(fmt: CodecFormat, x: Any, axis: int = -1) -> Encoded:
    """:func:`encode` of a numpy array (or array-like) with the numba kernels."""
    codes, scales, ts, _, ax = _run(fmt, x, axis, True, False)
    return Encoded(codes=codes, scales=scales, tensor_scale=ts, axis=ax, format=fmt.name,
                   fingerprint=fingerprint(fmt))


def quantize_array(fmt: CodecFormat, x: Any, axis: int = -1) -> np.ndarray:
    """:func:`quantize` of a numpy array (or array-like) with the numba kernels."""
    if fmt.element.bits > 16:  # fp32 elements: no decode table (2**32 codes); decode by bit view
        return decode_array(fmt, encode_array(fmt, x, axis))
    values = _run(fmt, x, axis, False, True)[3]
    assert values is not None
    return values


def _scale_values(fmt: CodecFormat, scales: Any, tensor_scale: Any) -> np.ndarray:
    """float64 value of each block scale (times the tensor scale), NaN for NaN scales."""
    s = np.asarray(scales)
    storage = plan.scale_storage(fmt)
    if storage == plan.SCALE_WIDE:
        plan.check_scale_codes(fmt, s.dtype.kind, s.dtype, 0, 0)
        if s.size:
            with np.errstate(invalid="ignore"):
                plan.check_wide_scales(fmt, int(np.count_nonzero((s <= 0) | np.isinf(s))))
    else:
        lo, hi = (int(s.min()), int(s.max())) if s.size and s.dtype.kind in "ui" else (0, 0)
        plan.check_scale_codes(fmt, s.dtype.kind, s.dtype, lo, hi)
    if storage == plan.SCALE_POW2:
        out = np.ldexp(1.0, s.astype(np.int64) - E8M0_BIAS)
        out[s == E8M0_NAN] = np.nan
    elif storage == plan.SCALE_WIDE:
        out = s.astype(np.float64)
    else:
        assert fmt.scale_element is not None  # SCALE_TABLE: an AMAX rule's narrow scale element
        out = fmt.scale_element.table()[s.astype(np.int64)]
    if tensor_scale is not None:
        out = out * float(tensor_scale)
    return out


def decode_array(fmt: CodecFormat, enc: Encoded) -> np.ndarray:
    """:func:`decode` of an :class:`Encoded` holding numpy arrays with the numba kernel."""
    check_source(fmt, enc)
    codes = np.asarray(enc.codes)
    el = fmt.element
    if codes.dtype.kind != "u":
        raise FormatError(f"format {fmt.name!r}: codes must be unsigned integers, got {codes.dtype}")
    ts = plan.check_tensor_scale(fmt, enc.tensor_scale)
    if el.bits > 16:  # fp32: the codes are the values; NaNs made the canonical quiet NaN
        if codes.dtype.itemsize > 4 and codes.size:  # wider than the element: never truncate
            plan.check_code_range(fmt, int(codes.max()))
        out = codes.astype(np.uint32).view(np.float32).copy()
        out[np.isnan(out)] = np.nan
        return out
    if codes.size:
        plan.check_code_range(fmt, int(codes.max()))
    table = el.table()
    if not fmt.is_scaled:
        return np.asarray(table[codes.astype(np.intp)], dtype=np.float32)  # 0-d stays an array
    scalar = codes.ndim == 0
    scales = enc.scales
    if scalar:  # encode treats a 0-d input as one element with one block: so does decode
        codes = codes.reshape(1)
        if scales is not None and np.ndim(scales) == 0:
            scales = np.reshape(scales, (1,))
    lay = plan.layout(fmt, codes.shape, plan.check_axis(fmt.name, enc.axis, codes.ndim))
    cr = plan.to_rows(codes, lay.ax)
    if fmt.scale_rule is None:  # tensor scale only
        svals = np.full((cr.shape[0], 1), ts)
    else:
        plan.check_scales_shape(fmt, lay, None if scales is None else tuple(np.shape(scales)))
        svals = plan.to_rows(_scale_values(fmt, scales, ts), lay.ax)
    values = np.empty(cr.shape, dtype=np.float32)
    if cr.size:
        _decode_kernel(cr, svals, values, table, lay.B)
    out = plan.from_rows(values, lay.shape, lay.ax)
    return out.reshape(()) if scalar else out


# ----------------------------------------------------------------------------------------------
# public entry points: the backend is chosen once, here, from the input's type
# ----------------------------------------------------------------------------------------------
def encode(fmt: CodecFormat, x: Any, axis: int = -1) -> Encoded:
    """Encode ``x`` into the real bit patterns of ``fmt`` (see docs/numerics.md).

    numpy / array-like in: numba kernels, numpy out. A torch tensor: tensors out, on its device,
    from the kernels :func:`hwsim.numerics.torch_codec.host_kernels` picks (numba for CPU tensors
    unless forced to torch; torch kernels on every other device).
    """
    if plan.is_torch(x):
        from hwsim.numerics import torch_codec as tc

        if tc.host_kernels(x):
            return tc.host_encoded(encode_array(fmt, tc.host_array(x), axis))
        return tc.encode(fmt, x, axis)
    return encode_array(fmt, x, axis)


def quantize(fmt: CodecFormat, x: Any, axis: int = -1) -> Any:
    """``decode(encode(x))`` fused into one pass: float32 of x's shape (backend as :func:`encode`)."""
    if plan.is_torch(x):
        from hwsim.numerics import torch_codec as tc

        if tc.host_kernels(x):
            return tc.host_tensor(quantize_array(fmt, tc.host_array(x), axis))
        return tc.quantize(fmt, x, axis)
    return quantize_array(fmt, x, axis)


def decode(fmt: CodecFormat, enc: Encoded) -> Any:
    """Values of the codes (times their scales), rounded once to float32 (backend from the codes,
    as :func:`encode` from its input)."""
    check_source(fmt, enc)
    plan.check_tensor_scale(fmt, enc.tensor_scale)
    if plan.is_torch(enc.codes):
        from hwsim.numerics import torch_codec as tc

        if tc.host_kernels(enc.codes) and (enc.scales is None or tc.host_kernels(enc.scales)):
            return tc.host_tensor(decode_array(fmt, tc.numpy_encoded(enc)))
        return tc.decode(fmt, enc)
    return decode_array(fmt, enc)
