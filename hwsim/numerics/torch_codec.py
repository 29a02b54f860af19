"""The torch codec of every Format: ``encode`` / ``decode`` / ``quantize`` of torch tensors.

Imported (with torch) only when a tensor reaches :mod:`hwsim.numerics.codec`. The plan of a call
(checks, layout, divisors) is the backend-neutral :mod:`hwsim.numerics.plan`, shared with the numba
codec; the kernels here are separate and cross-checked against it by the tests.

Which kernels run, decided once per call by :func:`host_kernels`, the same for ``encode``,
``decode`` and ``quantize``:

- a tensor on an accelerator (CUDA, ...): the torch kernels below, on that device;
- a CPU tensor: by default the numba kernels of :mod:`hwsim.numerics.codec` on the tensor's memory
  (several times faster than torch ops, bit-identical), results handed back as CPU tensors of the
  dtypes below (:func:`host_array` / :func:`host_encoded` convert); ``use_torch_kernels(True)`` or
  ``with torch_kernels():`` runs the torch kernels on CPU tensors too (the tests do, so that every
  ``[torch]`` case exercises these kernels).

``encode`` / ``decode`` / ``quantize`` here always run the torch kernels; the dispatch above is in
:func:`hwsim.numerics.codec.encode` and its siblings (``Format.encode`` etc.).

The torch kernels implement docs/numerics.md with vectorized torch integer arithmetic on the
float32 bit patterns, so they are bit-identical to the numba kernels on CPU and CUDA alike. It
never leaves the device (no ``.cpu()`` / ``.numpy()``) and never loops in Python over elements or
blocks. The algorithm, for every format (STYLE P3: driven by element traits only):

1. Split each float32 into its sign, a 24-bit significand ``X`` (subnormals normalized) and the
   exponent ``ee = floor(log2 |x|)``, so ``|x| = X * 2**(ee - 23)``.
2. The divisor of a block is ``D = S * 2**es`` with ``S`` odd: ``S = 1`` for plain casts and pow2
   (E8M0) scales; for the amax rule ``S`` is the odd significand of the scale value (E4M3 / fp32)
   times that of the fp32 tensor scale.
3. ``floor(log2(|x| / D))`` comes from the exponents and one integer comparison of the aligned
   significands. It fixes the quantum ``2**(t - M)`` (``t = max(E, emin)``) and hence the shift
   ``sh``: the exact quotient in quanta is ``X * 2**sh / S``.
4. Integer shifts, floor division and remainder give ``q = floor(quotient)`` and the exact position
   of the discarded fraction: below / at / above one half (even, away) and ``floor(frac * 2**32)``
   (stochastic), so ties are decided exactly.
5. The minifloat code magnitude is ``((t + bias - 1) << M) + q``: one expression covers normal and
   subnormal results and the carry into the next binade; it is compared with the largest finite
   code for overflow. Integers clamp to ``qmax``.

Dtypes. Element codes are ``torch.uint8`` (<= 8-bit elements), ``torch.uint16`` (<= 16 bits) and
``torch.uint32`` (wider, i.e. fp32); they are computed in int64 and converted once at the end
(torch has few ops on uint16/uint32, conversions work on every device). Scales: ``torch.uint8``
(E8M0 bytes, E4M3 codes), float32 values when the scale element is wider than 16 bits (fp32).
``tensor_scale`` is a 0-d float32 tensor on the input's device. uint32 arithmetic (the stochastic
rounding hash) is emulated in int64 with masks, with products split so nothing overflows int64.

Decode (and ``quantize``) look the element values up in ``element.table()`` (float64, moved once
per device and cached), multiply by the float64 scale and round once to float32. Elements wider
than 16 bits are decoded from their bit fields in float64. Devices without float64 (Apple MPS) are
not supported: they raise ``TypeError`` from torch on the float64 table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from hwsim.errors import FormatError
from hwsim.numerics import plan
from hwsim.numerics.elements import FloatElement, IntElement
from hwsim.numerics.encoded import Encoded, check_source, fingerprint
from hwsim.numerics.plan import CodecFormat
from hwsim.numerics.types import E8M0_BIAS, E8M0_NAN, RoundMode, ScaleRule, Specials

__all__ = ["encode", "decode", "quantize", "hash32", "host_kernels", "use_torch_kernels", "torch_kernels", "host_array",
           "host_tensor", "host_encoded", "numpy_encoded"]

_F32_SIG = 23  # stored mantissa bits of the float32 input


#: IEEE 754-2019 §3.6 binary32, the element the fp32 tensor scale is rounded to
_FP32 = FloatElement(exp_bits=8, man_bits=23, bias=127)
_F32_QNAN = 0x7FC00000
_NONFINITE = 0x7F800000


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
class _Div(NamedTuple):
    """Divisor ``S * 2**es`` (S odd) of each block, broadcastable against the elements."""

    S: torch.Tensor | None  #: odd significand (int64); None means S = 1 (a power of two)
    lS: torch.Tensor | int  #: bit length of S
    es: torch.Tensor | int  #: exponent
    Sk: torch.Tensor | None  #: S << (K - lS), compared with X << kx to get floor(log2(x / D))
    kx: int  #: K - 24 with K = max(24, lS_bound)
    lS_bound: int  #: static upper bound of lS (picks the exact stochastic-fraction path)


_POW2_DIV0 = _Div(None, 1, 0, None, 0, 1)


def _sig_bits(el: FloatElement | IntElement) -> int:
    return el.man_bits + 1


def _bitlen(v: torch.Tensor) -> torch.Tensor:
    """Bit length of each non-negative int64 (exact, any device; six compare/shift steps)."""
    n = torch.zeros_like(v)
    for k in (32, 16, 8, 4, 2, 1):
        big = v >= (1 << k)
        v = torch.where(big, v >> k, v)
        n = n + big.to(v.dtype) * k
    return n + (v > 0).to(v.dtype)


def _log2_pow2(p: torch.Tensor) -> torch.Tensor:
    """log2 of int tensors holding powers of two <= 2**24 (exact through float32 bits)."""
    return (p.to(torch.float32).view(torch.int32) >> 23).long() - 127


def _split(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Magnitude bits of float32 (int32, no sign) -> (X, ee) with |x| = X * 2**(ee - 23).

    X is the 24-bit significand, normalized for subnormal inputs (their mantissa converts to
    float32 exactly, which normalizes it). Zero gives a harmless X = 2**23, ee = -276 (rounds to 0).
    Inf/NaN give ee = 128 (callers overwrite those lanes).
    """
    ef = a >> 23
    sub = ef == 0
    fb = a.to(torch.float32).view(torch.int32)  # exact for subnormal magnitudes (< 2**23)
    ee = torch.where(sub, (fb >> 23) - (127 + 149), ef - 127)
    X = (torch.where(sub, fb, a) & 0x7FFFFF) | 0x800000
    return X, ee


def _mulmod32_(h: torch.Tensor, c: int) -> torch.Tensor:
    """h <- (h * c) mod 2**32 in place, for 0 <= h, c < 2**32, without leaving int64 (16-bit halves)."""
    lo = h & 0xFFFF
    h.bitwise_right_shift_(16).mul_(c).bitwise_and_(0xFFFF).bitwise_left_shift_(16)
    return h.add_(lo.mul_(c)).bitwise_and_(0xFFFFFFFF)


def hash32(index: torch.Tensor, seed: int) -> torch.Tensor:
    """The stochastic-rounding bits of the elements at flat ``index`` (int64 tensor): lowbias32 of
    (index, seed) exactly as docs/numerics.md and :func:`hwsim.numerics.rounding.hash32` (uint32
    arithmetic emulated in int64, on the tensor's device)."""
    base = ((seed & 0xFFFFFFFF) * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF
    h = _mulmod32_(index & 0xFFFFFFFF, 0x9E3779B1).add_(base).bitwise_and_(0xFFFFFFFF)
    h.bitwise_xor_(h >> 16)
    _mulmod32_(h, 0x7FEB352D)
    h.bitwise_xor_(h >> 15)
    _mulmod32_(h, 0x846CA68B)
    return h.bitwise_xor_(h >> 16)


# ----------------------------------------------------------------------------------------------
# exact rounding of X * 2**sh / S
# ----------------------------------------------------------------------------------------------
def _round(X: torch.Tensor, sh: torch.Tensor, div: _Div, mode: RoundMode,
           r: torch.Tensor | None) -> torch.Tensor:
    """Integer nearest to ``X * 2**sh / S`` by ``mode`` (X int64 in [2**23, 2**24)).

    With ``d = -sh > 0`` the low ``d`` bits ``B`` of X are discarded: X = A 2**d + B, q = A // S,
    ra = A % S and the fraction is (ra + B 2**-d) / S. S is odd, so frac vs 1/2 is decided by
    2 ra + 1 - S and, when that is 0, by 2 B - 2**d. Shifts are clamped where the result no longer
    changes (d >= 56: q = 0, frac * 2**32 < 1).
    """
    shl = sh.clamp(0, 38)
    d = (-sh).clamp(0, 56)
    N = (X << shl) >> d
    need_frac = mode is not RoundMode.ZERO
    if need_frac:
        B = X & ((1 << d) - 1)
    if div.S is None:
        q = N
        if mode is RoundMode.ZERO:
            return q
        if mode is RoundMode.STOCHASTIC:
            assert r is not None  # the stochastic bits of every element
            f32 = (B << (32 - d).clamp(min=0)) >> (d - 32).clamp(min=0)
            return q + (r < f32).long()
        twice = B << 1
        half = 1 << d
        if mode is RoundMode.AWAY:
            return q + (twice >= half).long()
        return q + ((twice > half) | ((twice == half) & ((q & 1) == 1))).long()
    S = div.S
    q = torch.div(N, S, rounding_mode="floor")
    if mode is RoundMode.ZERO:
        return q
    ra = N - q * S
    if mode is RoundMode.STOCHASTIC:
        assert r is not None
        Bs = (B << (32 - d).clamp(min=0)) >> (d - 32).clamp(min=0)  # floor(B 2**(32-d)) < 2**32
        if div.lS_bound <= 30:
            f32 = torch.div((ra << 32) + Bs, S, rounding_mode="floor")
        else:  # long division in chunks so that rem * 2**step stays below 2**62
            step_max = 62 - div.lS_bound
            rem, f32, pos = ra, torch.zeros_like(ra), 32
            while pos > 0:
                step = min(step_max, pos)
                pos -= step
                T = (rem << step) | ((Bs >> pos) & ((1 << step) - 1))
                qd = torch.div(T, S, rounding_mode="floor")
                rem = T - qd * S
                f32 = (f32 << step) | qd
        return q + (r < f32).long()
    c = 2 * ra + 1 - S
    cb = (B << 1) - (1 << d)
    above = (c > 0) | ((c == 0) & (cb > 0))
    tie = (c == 0) & (cb == 0)
    if mode is RoundMode.AWAY:
        return q + (above | tie).long()
    return q + (above | (tie & ((q & 1) == 1))).long()


def _floor_log2_quotient(ee: torch.Tensor, X: torch.Tensor, div: _Div) -> torch.Tensor:
    """floor(log2(X 2**(ee-23) / (S 2**es))) exactly."""
    if div.S is None:
        return ee - div.es
    assert div.Sk is not None  # set with S
    lt = ((X << div.kx) < div.Sk).long()
    return ee - div.es - (div.lS - 1) - lt


# ----------------------------------------------------------------------------------------------
# element encoders (magnitude + sign -> code), int64 in and out
# ----------------------------------------------------------------------------------------------
def _nan_code(el: FloatElement, sbit: torch.Tensor | int) -> torch.Tensor | int:
    M, bits = el.man_bits, el.bits
    if el.specials is Specials.FNUZ:
        return 1 << (bits - 1)
    all_exp = ((1 << el.exp_bits) - 1) << M
    if el.specials is Specials.IEEE:
        return sbit | all_exp | ((1 << (M - 1)) if M > 0 else 0)
    return sbit | all_exp | ((1 << M) - 1)


def _max_mag(el: FloatElement) -> int:
    return (el.max_exp_field << el.man_bits) | el.max_man_top


def _float_mag(el: FloatElement, X: torch.Tensor, ee: torch.Tensor, div: _Div, mode: RoundMode,
               r: torch.Tensor | None) -> torch.Tensor:
    """Code magnitude of |x| / D before overflow handling (may exceed the largest finite code)."""
    M = el.man_bits
    t = _floor_log2_quotient(ee, X, div).clamp(min=el.emin)
    sh = ee - (_F32_SIG - M) - div.es - t
    q = _round(X, sh, div, mode, r)
    return ((t + (el.bias - 1)) << M) + q


def _encode_float(el: FloatElement, sign: torch.Tensor, a: torch.Tensor, X: torch.Tensor,
                  ee: torch.Tensor, div: _Div, mode: RoundMode, r: torch.Tensor | None,
                  saturate: bool, specials_possible: bool) -> torch.Tensor:
    bits = el.bits
    mag = _float_mag(el, X, ee, div, mode, r)
    maxmag = _max_mag(el)
    sbit = sign.long() << (bits - 1)
    code = sbit | mag
    if el.specials is Specials.FNUZ:
        code = torch.where(mag == 0, 0, code)  # no negative zero
    inf_code = sbit | (((1 << el.exp_bits) - 1) << el.man_bits)
    nan_code = _nan_code(el, sbit)
    fin = el.specials is Specials.FINITE
    if saturate or fin or (el.specials is Specials.IEEE and mode is RoundMode.ZERO):
        ov = sbit | maxmag
    elif el.specials is Specials.IEEE:
        ov = inf_code
    else:
        ov = nan_code
    code = torch.where(mag > maxmag, ov, code)
    if specials_possible:
        is_inf = a == _NONFINITE
        if saturate or fin:
            inf_val = sbit | maxmag
        elif el.specials is Specials.IEEE:
            inf_val = inf_code
        else:
            inf_val = nan_code
        code = torch.where(is_inf, inf_val, code)
        if not fin:
            code = torch.where(a > _NONFINITE, nan_code, code)
    return code


def _encode_int(el: IntElement, sign: torch.Tensor, X: torch.Tensor, ee: torch.Tensor,
                div: _Div, mode: RoundMode, r: torch.Tensor | None) -> torch.Tensor:
    """Integer code; +-Inf saturate through the exponent test (ee = 128)."""
    f, n, qmax = el.frac_bits, el.bits, el.qmax
    E = _floor_log2_quotient(ee, X, div) + f
    sh = ee - _F32_SIG - div.es + f
    k = _round(X, sh, div, mode, r).clamp(max=qmax)
    k = torch.where(E >= n - 1, qmax, k)  # |value| >= 2**(n-1) > qmax in every mode
    if el.encoding == "sign_magnitude":
        return torch.where(k == 0, 0, (sign.long() << (n - 1)) | k)
    return torch.where(sign, (-k) & ((1 << n) - 1), k)


def _encode_element(el, sign, a, X, ee, div, mode, r, saturate, specials_possible):
    if not el.is_float:
        return _encode_int(el, sign, X, ee, div, mode, r)
    return _encode_float(el, sign, a, X, ee, div, mode, r, saturate, specials_possible)


def _check_lS(fmt: CodecFormat, el, lS_bound: int) -> None:
    if el.man_bits + lS_bound > 61 or lS_bound > 60:
        raise FormatError(
            f"format {fmt.name!r}: scale significand of up to {lS_bound} bits with a "
            f"{el.man_bits}-bit element mantissa exceeds the exact 64-bit integer path of the "
            f"torch bridge (needs man_bits + scale bits <= 61)")


# ----------------------------------------------------------------------------------------------
# scales
# ----------------------------------------------------------------------------------------------
def _value_sig(el: FloatElement, code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(S odd, es) with value(code) = S * 2**es for positive finite nonzero codes (int64)."""
    M = el.man_bits
    ef = code >> M
    man = code & ((1 << M) - 1)
    normal = ef > 0
    sig = torch.where(normal, man | (1 << M), man)
    es = torch.where(normal, ef - el.bias, el.emin) - M
    tz = _log2_pow2(sig & -sig)  # trailing zeros (sig <= 2**24)
    return sig >> tz, es + tz


def _make_div(S: torch.Tensor, es: torch.Tensor, lS_bound: int) -> _Div:
    lS = _bitlen(S)
    K = max(24, lS_bound)
    return _Div(S, lS, es, S << (K - lS), K - 24, lS_bound)


def _tensor_scale(fmt: CodecFormat, a: torch.Tensor):
    """NVIDIA per-tensor scale ts = fp32_RNE(amax / (S.max * elem_max)) -> (ts, St, et, nan)."""
    dev = a.device
    amax = a.amax() if a.numel() else torch.zeros((), dtype=torch.int32, device=dev)
    nan = amax >= _NONFINITE
    Sd, ed = plan.tensor_divisor(fmt)
    div = _make_div(torch.tensor(Sd, dtype=torch.int64, device=dev),
                    torch.tensor(ed, dtype=torch.int64, device=dev), Sd.bit_length())
    X, ee = _split(amax)
    code = _float_mag(_FP32, X.long(), ee.long(), div, RoundMode.EVEN, None)
    code = code.clamp(max=_max_mag(_FP32))  # cannot overflow (divisor >= 1); keep it explicit
    code = torch.where(code == 0, 1, code)  # underflow: smallest positive fp32 (as numpy path)
    code = torch.where(amax == 0, 0x3F800000, code)
    code = torch.where(nan, _F32_QNAN, code)
    ts = code.to(torch.int32).view(torch.float32)
    St, et = _value_sig(_FP32, torch.where(nan, 0x3F800000, code))
    return ts, St, et, nan


def _block_scales(fmt: CodecFormat, amax: torch.Tensor, St, et, t_nan):
    """Per-block scale codes and divisors from the blocks' amax bits (int32, (outer, nblk, 1, inner)).

    Returns (scale codes int64, _Div, nan_block bool tensor, zero_block bool tensor or None): a
    narrow scale element's scale that rounds to 0 is stored as 0 and its block decodes to zeros
    (TransformerEngine's NVFP4 cast; the divisor of such a block is a placeholder 1).
    """
    el = fmt.element
    nonfinite = amax >= _NONFINITE
    if fmt.scale_rule is ScaleRule.POW2:
        _, ee = _split(amax)
        se = torch.where(amax == 0, -127, ee.long() - el.emax).clamp(min=-127)
        nanb = nonfinite | (se > 127)
        byte = torch.where(nanb, E8M0_NAN, se + E8M0_BIAS)
        return byte, _Div(None, 1, se.clamp(max=127), None, 0, 1), nanb, None
    # AMAX: s = RNE_S(amax / (elem_max * ts)), clamped to [smallest positive, S.max]
    sel = fmt.scale_element
    assert sel is not None  # the AMAX rule has a scale element
    Sm, em = plan.element_divisor(fmt)
    dev = amax.device
    ts_bits = 24 if fmt.tensor_scale else 0
    if fmt.tensor_scale:
        Sd, ed = Sm * St, em + et
    else:
        Sd = torch.tensor(Sm, dtype=torch.int64, device=dev)
        ed = torch.tensor(em, dtype=torch.int64, device=dev)
    ddiv = _make_div(Sd, ed, Sm.bit_length() + ts_bits)
    X, ee = _split(amax)
    code = _float_mag(sel, X.long(), ee.long(), ddiv, RoundMode.EVEN, None)
    code = code.clamp(max=_max_mag(sel))  # saturate to S.max
    zerob = None
    if sel.bits <= 16:
        zerob = (code == 0) & ~nonfinite
        if fmt.tensor_scale:
            zerob = zerob & ~t_nan
    code = torch.where(code == 0, 1, code)  # fp32: the smallest positive value; narrow: placeholder
    Ss, ess = _value_sig(sel, code)
    nanb = nonfinite
    if fmt.tensor_scale:
        Ss, ess = Ss * St, ess + et
        nanb = nanb | t_nan
    code = torch.where(nanb, _nan_code(sel, 0), code)
    if zerob is not None:
        code = torch.where(zerob, 0, code)
    return code, _make_div(Ss, ess, _sig_bits(sel) + ts_bits), nanb, zerob


# ----------------------------------------------------------------------------------------------
# layout: any axis -> (outer, nblk, B, inner) without moving data when L % B == 0
# ----------------------------------------------------------------------------------------------
def _to4(lay: plan.Layout, t: torch.Tensor) -> torch.Tensor:
    t3 = t.reshape(lay.outer, lay.L, lay.inner)
    pad = lay.nblk * lay.B - lay.L
    if pad:
        t3 = F.pad(t3, (0, 0, 0, pad))
    return t3.view(lay.outer, lay.nblk, lay.B, lay.inner)


def _from4(lay: plan.Layout, t4: torch.Tensor) -> torch.Tensor:
    t3 = t4.reshape(lay.outer, lay.nblk * lay.B, lay.inner)
    if lay.nblk * lay.B != lay.L:
        t3 = t3[:, : lay.L]
    return t3.reshape(lay.shape)


# ----------------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------------
_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def _prepare(fmt: CodecFormat, x: Any, axis: int) -> tuple[torch.Tensor, plan.Layout, bool]:
    if not isinstance(x, torch.Tensor):
        raise FormatError(f"format {fmt.name!r}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise plan.dtype_error(fmt, x.dtype)
    x32 = x.to(torch.float32)  # exact for fp16/bf16, RNE for float64 (docs/numerics.md)
    scalar = x32.dim() == 0
    if scalar:
        x32 = x32.reshape(1)
    ax = plan.check_axis(fmt.name, axis, x32.dim())
    x32 = x32.contiguous()
    if plan.needs_nan_check(fmt) and x32.numel():
        plan.check_no_nan(fmt, bool(torch.isnan(x32).any()))
    return x32, plan.layout(fmt, tuple(x32.shape), ax), scalar


def _run(fmt: CodecFormat, x: Any, axis: int):
    """Encode to int64 codes in the (outer, nblk, B, inner) layout plus scale data."""
    x32, lay, scalar = _prepare(fmt, x, axis)
    el = fmt.element
    dev = x32.device
    mode = fmt.rounding
    b4 = _to4(lay, x32).view(torch.int32)
    sign = b4 < 0
    a4 = b4 & 0x7FFFFFFF
    ts = St = et = t_nan = None
    if fmt.tensor_scale:
        ts, St, et, t_nan = _tensor_scale(fmt, x32.view(torch.int32) & 0x7FFFFFFF)
    scodes = None
    nanb = zerob = None
    if fmt.scale_rule is not None:
        scodes, div, nanb, zerob = _block_scales(fmt, a4.amax(dim=2, keepdim=True), St, et, t_nan)
        if fmt.scale_rule is ScaleRule.AMAX:
            _check_lS(fmt, el, div.lS_bound)
    elif fmt.tensor_scale:  # per-tensor only: divisor ts
        assert St is not None and et is not None
        div = _make_div(St, et, 24)
        _check_lS(fmt, el, 24)
        nanb = t_nan
    else:
        div = _POW2_DIV0
    r = None
    if mode is RoundMode.STOCHASTIC:
        idx = torch.arange(x32.numel(), dtype=torch.int64, device=dev)
        r = hash32(_to4(lay, idx), fmt.seed)
    X, ee = _split(a4)
    saturate = fmt.saturate or fmt.is_scaled
    code = _encode_element(el, sign, a4, X.long(), ee.long(), div, mode, r, saturate,
                           specials_possible=not fmt.is_scaled)
    if nanb is not None:
        code = torch.where(nanb, 0, code)
    if zerob is not None:  # a zero block scale: signed zeros (+0 where the element has no -0)
        signed_zero = isinstance(el, FloatElement) and el.specials is not Specials.FNUZ
        zero_code = (sign.long() << (el.bits - 1)) if signed_zero else 0
        code = torch.where(zerob, zero_code, code)
    return code, scodes, ts, lay, scalar, nanb


def _code_dtype(bits: int) -> torch.dtype:
    return getattr(torch, plan.code_bits_dtype(bits))


def _scales_out(fmt: CodecFormat, scodes: torch.Tensor) -> torch.Tensor:
    sel = fmt.scale_element
    if fmt.scale_rule is ScaleRule.AMAX and sel is not None and sel.bits > 16:
        return _as_f32(sel, scodes) if _f32_layout(sel) else _wide_values(sel, scodes).to(torch.float32)
    return scodes.to(_code_dtype(fmt.scale_bits))


def _encode(fmt: CodecFormat, x: Any, axis: int) -> Encoded:
    """Real bit patterns of ``fmt`` for a torch tensor (docs/numerics.md), on ``x.device``."""
    code, scodes, ts, lay, scalar, _ = _run(fmt, x, axis)
    codes = _from4(lay, code).to(_code_dtype(fmt.element.bits))
    scales = None
    if scodes is not None:
        scales = _scales_out(fmt, scodes).reshape(lay.scales_shape())
    if scalar:
        codes = codes.reshape(())
        if scales is not None:
            scales = scales.reshape(())
    return Encoded(codes=codes, scales=scales, tensor_scale=ts, axis=lay.ax, format=fmt.name,
                   fingerprint=fingerprint(fmt))


# ----------------------------------------------------------------------------------------------
# decode
# ----------------------------------------------------------------------------------------------
_TABLES: dict[tuple[Any, str], torch.Tensor] = {}


def _table(el, device: torch.device) -> torch.Tensor:
    key = (el, str(device))
    t = _TABLES.get(key)
    if t is None:
        t = torch.tensor(el.table().tolist(), dtype=torch.float64, device=device)
        _TABLES[key] = t
    return t


def _f32_layout(el: FloatElement) -> bool:
    """E8 bias-127 IEEE elements (fp32, bf16, ...) are float32 with a shorter mantissa."""
    return el.exp_bits == 8 and el.bias == 127 and el.specials is Specials.IEEE


def _as_f32(el: FloatElement, code: torch.Tensor) -> torch.Tensor:
    """float32 value of codes of an E8 bias-127 IEEE element: a shift of the bit pattern."""
    b = code.long() << (_F32_SIG - el.man_bits)
    b = torch.where(b >= 1 << 31, b - (1 << 32), b)
    return b.to(torch.int32).view(torch.float32)


def _wide_values(el: FloatElement, code: torch.Tensor) -> torch.Tensor:
    """float64 values of codes of a minifloat wider than 16 bits, from the bit fields."""
    if _f32_layout(el):
        return _as_f32(el, code).to(torch.float64)
    code = code.long()
    M, E = el.man_bits, el.exp_bits
    top = (1 << E) - 1
    neg = (code >> (el.bits - 1)) & 1
    ef = (code >> M) & top
    man = code & ((1 << M) - 1)
    normal = ef > 0
    sig = torch.where(normal, man | (1 << M), man).to(torch.float64)
    val = torch.ldexp(sig, (torch.where(normal, ef - el.bias, el.emin) - M).to(torch.float64))
    val = torch.where(neg == 1, -val, val)
    if el.specials is Specials.IEEE:
        val = torch.where(ef == top, torch.where(man == 0, torch.where(neg == 1, -math.inf, math.inf),
                                                  math.nan), val)
    elif el.specials is Specials.FN:
        val = torch.where((ef == top) & (man == (1 << M) - 1), math.nan, val)
    elif el.specials is Specials.FNUZ:
        val = torch.where(code == 1 << (el.bits - 1), math.nan, val)
    return val


def _element_values(el, code: torch.Tensor) -> torch.Tensor:
    if el.bits <= 16:
        return _table(el, code.device)[code.long()]
    return _wide_values(el, code)


def _scale_values(fmt: CodecFormat, scodes: torch.Tensor, ts) -> torch.Tensor:
    """float64 value of each block scale times the tensor scale (NaN for NaN scales)."""
    if fmt.scale_rule is ScaleRule.POW2:
        s = scodes.long()
        out = torch.ldexp(torch.ones_like(s, dtype=torch.float64), (s - E8M0_BIAS).to(torch.float64))
        out = torch.where(s == E8M0_NAN, math.nan, out)
    elif scodes.dtype.is_floating_point:
        out = scodes.to(torch.float64)
    else:
        out = _element_values(fmt.scale_element, scodes)
    if ts is not None:
        out = out * torch.as_tensor(ts, dtype=torch.float64, device=out.device)
    return out


def _values(fmt: CodecFormat, code4: torch.Tensor, scale4: torch.Tensor | None) -> torch.Tensor:
    el = fmt.element
    if scale4 is None and isinstance(el, FloatElement) and el.bits > 16 and _f32_layout(el):
        return _as_f32(el, code4)
    v = _element_values(el, code4)
    if scale4 is not None:
        v = v * scale4
    return v.to(torch.float32)


def _check_scales(fmt: CodecFormat, sc: torch.Tensor) -> None:
    """:func:`plan.check_scale_codes` / :func:`plan.check_wide_scales` on a tensor (one sync)."""
    dt = sc.dtype
    kind = ("f" if dt.is_floating_point else "c" if dt.is_complex else "b" if dt is torch.bool
            else "i" if dt.is_signed else "u")
    if plan.scale_storage(fmt) == plan.SCALE_WIDE:
        plan.check_scale_codes(fmt, kind, dt, 0, 0)
        if sc.numel():
            plan.check_wide_scales(fmt, int(((sc <= 0) | torch.isinf(sc)).sum()))
        return
    lo, hi = (int(sc.min()), int(sc.max())) if sc.numel() and kind in "ui" else (0, 0)
    plan.check_scale_codes(fmt, kind, dt, lo, hi)


def _decode(fmt: CodecFormat, enc: Encoded) -> torch.Tensor:
    """float32 values of an :class:`Encoded` holding torch tensors, on the codes' device."""
    check_source(fmt, enc)
    codes = enc.codes
    if not isinstance(codes, torch.Tensor):
        raise FormatError(f"format {fmt.name!r}: Encoded.codes must be a torch.Tensor")
    ts = plan.check_tensor_scale(fmt, enc.tensor_scale)
    if codes.dtype not in (torch.uint8, torch.uint16, torch.uint32):
        raise FormatError(f"format {fmt.name!r}: codes must be unsigned integers "
                          f"(uint8/uint16/uint32), got {codes.dtype}")
    el = fmt.element
    if el.bits < 8 * codes.element_size() and codes.numel():
        plan.check_code_range(fmt, int(codes.to(torch.int64).max()))  # one sync: guards the gather
    if not fmt.is_scaled:
        return _element_values(el, codes).to(torch.float32)
    scalar = codes.dim() == 0
    c = codes.reshape(1) if scalar else codes
    lay = plan.layout(fmt, tuple(c.shape), plan.check_axis(fmt.name, enc.axis, c.dim()))
    if fmt.scale_rule is None:  # tensor scale only
        s4 = torch.as_tensor(ts, dtype=torch.float64, device=c.device).reshape(1, 1, 1, 1)
    else:
        sc = enc.scales
        if sc is not None and not isinstance(sc, torch.Tensor):
            raise FormatError(f"format {fmt.name!r}: Encoded.scales must be a torch.Tensor like its codes, "
                              f"got {type(sc).__name__}")
        if sc is not None and scalar:
            sc = sc.reshape(1)
        plan.check_scales_shape(fmt, lay, None if sc is None else tuple(sc.shape))
        assert sc is not None  # checked just above
        _check_scales(fmt, sc)
        s4 = _scale_values(fmt, sc, ts).reshape(lay.outer, lay.nblk, 1, lay.inner)
    out = _from4(lay, _values(fmt, _to4(lay, c), s4))
    return out.reshape(()) if scalar else out


# ----------------------------------------------------------------------------------------------
# quantize fast paths (floating-point arithmetic that is provably exact; cross-checked in tests)
# ----------------------------------------------------------------------------------------------
_EXP64 = 0x7FF0000000000000


def _pow2_f32(k: torch.Tensor) -> torch.Tensor:
    """2.0**k as float32 for integer k in [-149, 127] (built from bits, subnormals included)."""
    k = k.to(torch.int32)
    bits = torch.where(k >= -126, (k + 127) << 23, 1 << (k + 149).clamp(0, 22))
    return bits.view(torch.float32)


def _round_inplace(y: torch.Tensor, mode: RoundMode) -> None:
    """Round non-negative y to an integer in place (even / away / zero)."""
    if mode is RoundMode.EVEN:
        y.round_()  # round half to even
    elif mode is RoundMode.ZERO:
        y.floor_()
    else:  # away: floor(y) + (frac >= 1/2); frac = y - floor(y) is exact (y + 1/2 is not)
        fl = torch.floor(y)
        y.sub_(fl).ge_(0.5)
        y.add_(fl)


def _stochastic_inplace(y: torch.Tensor, r: torch.Tensor) -> None:
    """y <- floor(y) + (r < floor(frac(y) * 2**32)); frac and its scaling are exact in float."""
    fl = torch.floor(y)
    y.sub_(fl).mul_(2.0 ** 32).floor_()
    fl.add_((r < y.to(torch.int64)).to(fl.dtype))
    y.copy_(fl)


def _canonical_nan(out: torch.Tensor, maybe_nan: bool) -> torch.Tensor:
    """NaN results get the bits numpy gives them (+0x7FC00000), whatever the device's NaN is."""
    if maybe_nan:
        m = torch.isnan(out)
        if bool(m.any()):
            out.view(torch.int32).masked_fill_(m, _F32_QNAN)
    return out


def _finish(v: torch.Tensor, x4: torch.Tensor, el) -> None:
    v.copysign_(x4)
    if not el.is_float or el.specials is Specials.FNUZ:
        v.add_(0.0)  # -0 + 0 = +0: no negative zero code


def _quantize_f32(fmt: CodecFormat, x4: torch.Tensor, lay: plan.Layout) -> torch.Tensor:
    """Plain saturating casts and pow2 (E8M0 / shared exponent) scales: divisor 2**se.

    float32 is exact here: |x| / Q for a power-of-two quantum Q (>= 2**-149) is exact whenever the
    result matters (>= 2**-32), and so are round/floor, frac * 2**32 and q * Q.
    """
    el, mode = fmt.element, fmt.rounding
    M = el.man_bits
    v = x4.abs()
    maybe_nan = el.has_nan
    need_sub = False
    if fmt.scale_rule is ScaleRule.POW2:
        amax = v.amax(dim=2, keepdim=True).view(torch.int32) & 0x7FFFFFFF  # NaN sign may be set
        _, div, nanb, _ = _block_scales(fmt, amax, None, None, None)
        se = div.es
        assert isinstance(se, torch.Tensor)  # one exponent per block
        maybe_nan = True
        nan_f = torch.where(nanb, math.nan, 0.0).to(torch.float32)
        vmax = (_pow2_f32(se) * el.max).add_(nan_f)  # max * 2**se (exact); NaN for NaN blocks
        if isinstance(el, IntElement):
            qmin = _pow2_f32(se - el.frac_bits)
        else:
            qmin = _pow2_f32((se + (el.emin - M)).clamp(min=-149))
            need_sub = bool((se + el.emin < -127).any())  # a subnormal x may have a finer quantum
        torch.minimum(v, vmax, out=v)  # saturate (elements never exceed max); NaN blocks -> NaN
    else:
        if isinstance(el, IntElement):
            qmin = 2.0 ** -el.frac_bits
        else:
            qmin = 2.0 ** max(el.emin - M, -149)
            need_sub = el.emin < -127
        v.clamp_(max=el.max)  # saturating cast: Inf -> max; NaN stays NaN
    if not el.is_float:
        Q = qmin
    else:
        vb = v.view(torch.int32)
        Q = (vb & 0x7F800000).view(torch.float32)
        Q.mul_(2.0 ** -M)  # 2**(floor(log2 v) - M) for normal v, 0 for subnormal v
        if need_sub:  # subnormal v: the float value of its bits, masked, is 2**(floor(log2 v) + 149)
            Qs = vb.to(torch.float32)
            Qs.view(torch.int32).bitwise_and_(0x7F800000)
            Qs.mul_(2.0 ** -100).mul_(2.0 ** (-49 - M))
            torch.maximum(Q, Qs, out=Q)
        if isinstance(qmin, torch.Tensor):
            torch.maximum(Q, qmin, out=Q)
        else:
            Q.clamp_(min=qmin)
    v.div_(Q)
    if mode is RoundMode.STOCHASTIC:
        idx = torch.arange(lay.outer * lay.L * lay.inner, dtype=torch.int64, device=v.device)
        _stochastic_inplace(v, hash32(_to4(lay, idx), fmt.seed))
    else:
        _round_inplace(v, mode)
    v.mul_(Q)
    _finish(v, x4, el)
    return _canonical_nan(v, maybe_nan)


def _round_mag64(z: torch.Tensor, el, mode: RoundMode) -> torch.Tensor:
    """Round float64 magnitudes (approximations of exact quotients, see _f64_ok) to ``el`` in place,
    saturating at el.max; NaN stays NaN."""
    z.clamp_(max=el.max)
    if not el.is_float:
        z.mul_(2.0 ** el.frac_bits)
        _round_inplace(z, mode)
        return z.mul_(2.0 ** -el.frac_bits)
    M = el.man_bits
    Q = (z.view(torch.int64) & _EXP64).view(torch.float64)
    Q.mul_(2.0 ** -M).clamp_(min=2.0 ** (el.emin - M))
    z.div_(Q)
    _round_inplace(z, mode)
    return z.mul_(Q)


def _f64_ok(div_bits: int, el) -> bool:
    """float64 decides the rounding of X 2**a / (S 2**b) (X < 2**24, S < 2**div_bits) exactly.

    If the exact quotient is not a rounding boundary (an integer or half-integer number of quanta,
    < 2**(M+3) halves), it lies at least 2**-(div_bits + M + 3) (relative) from every boundary,
    far more than the 2**-52 error of a float64 division and one addition.
    """
    return div_bits + el.man_bits + 3 <= 50


def _quantize_f64(fmt: CodecFormat, x4: torch.Tensor, lay: plan.Layout, x32: torch.Tensor) -> torch.Tensor:
    """Amax-scaled formats (NVFP4, absmax ints), modes even/away/zero: divisor s * ts in float64."""
    el, sel = fmt.element, fmt.scale_element
    v = x4.abs()
    ts64 = None
    zero = None
    if fmt.tensor_scale:
        ts, _, _, _ = _tensor_scale(fmt, x32.view(torch.int32) & 0x7FFFFFFF)
        ts64 = ts.to(torch.float64)  # NaN when the tensor holds NaN/Inf
    if fmt.scale_rule is ScaleRule.AMAX:
        assert sel is not None
        amax = v.amax(dim=2, keepdim=True).to(torch.float64)
        amax = torch.where(torch.isinf(amax), math.nan, amax)
        dd = el.max if ts64 is None else ts64 * el.max  # exact (<= 27 significant bits)
        s = _round_mag64(amax / dd, sel, RoundMode.EVEN)
        if sel.bits <= 16:  # a scale rounding to 0 is stored as 0: the block is zeros
            zero = s == 0
            s = torch.where(zero, 1.0, s)
        else:  # fp32 scales: at least the smallest positive value
            s.clamp_(min=sel.smallest_subnormal)
        D = s if ts64 is None else s * ts64
    else:
        D = ts64
    assert D is not None  # a block scale, a tensor scale or both
    z = v.to(torch.float64).div_(D)
    _round_mag64(z, el, fmt.rounding).mul_(D)
    if zero is not None:
        z = torch.where(zero, 0.0, z)
    out = z.to(torch.float32)
    _finish(out, x4, el)
    return _canonical_nan(out, True)


def _fast_path(fmt: CodecFormat) -> str | None:
    el = fmt.element
    if el.bits > 16:
        return None
    if fmt.scale_rule is ScaleRule.POW2:
        return "f32"
    if not fmt.is_scaled:
        return "f32" if fmt.saturate else None
    if fmt.rounding is RoundMode.STOCHASTIC:
        return None
    ts_bits = 24 if fmt.tensor_scale else 0
    if fmt.scale_rule is ScaleRule.AMAX:
        sel = fmt.scale_element
        assert sel is not None
        if not (_f64_ok(plan.element_divisor(fmt)[0].bit_length() + ts_bits, sel)
                and _f64_ok(sel.man_bits + 1 + ts_bits, el)):
            return None
    elif not _f64_ok(ts_bits, el):
        return None
    return "f64"


def _quantize(fmt: CodecFormat, x: Any, axis: int) -> torch.Tensor:
    """``decode(encode(x))`` fused with the torch kernels: float32 of x's shape on x's device."""
    fast = _fast_path(fmt)
    if fast is not None:
        x32, lay, scalar = _prepare(fmt, x, axis)
        x4 = _to4(lay, x32)
        out4 = _quantize_f32(fmt, x4, lay) if fast == "f32" else _quantize_f64(fmt, x4, lay, x32)
        out = _from4(lay, out4)
        return out.reshape(()) if scalar else out
    code, scodes, ts, lay, scalar, _ = _run(fmt, x, axis)
    s4 = None
    if scodes is not None:
        s4 = _scale_values(fmt, _scales_out(fmt, scodes), ts)
    elif ts is not None:
        s4 = ts.to(torch.float64)
    out = _from4(lay, _values(fmt, code, s4))
    return out.reshape(()) if scalar else out


# ----------------------------------------------------------------------------------------------
# public entry points: which kernels a tensor runs, chosen once per call
# ----------------------------------------------------------------------------------------------
_TORCH_KERNELS_ON_CPU = False


def use_torch_kernels(on_cpu: bool) -> bool:
    """Run CPU tensors through the torch kernels (True) or the numba kernels (False, the default);
    returns the previous setting. Tensors on other devices always run the torch kernels."""
    global _TORCH_KERNELS_ON_CPU
    previous = _TORCH_KERNELS_ON_CPU
    _TORCH_KERNELS_ON_CPU = bool(on_cpu)
    return previous


@contextmanager
def torch_kernels() -> Iterator[None]:
    """``with torch_kernels():`` CPU tensors run the torch kernels inside the block."""
    previous = use_torch_kernels(True)
    try:
        yield
    finally:
        use_torch_kernels(previous)


def host_kernels(t: Any) -> bool:
    """Whether a call on tensor ``t`` runs the numba kernels on its memory: a CPU tensor of a
    float (or code) dtype numpy can view, unless :func:`use_torch_kernels` chose torch."""
    return (not _TORCH_KERNELS_ON_CPU and isinstance(t, torch.Tensor) and t.device.type == "cpu"
            and t.dtype in _HOST_DTYPES)


_HOST_DTYPES = frozenset(_FLOAT_DTYPES) | {torch.uint8, torch.uint16, torch.uint32}


def host_array(t: torch.Tensor) -> Any:
    """numpy view of a CPU tensor for the numba kernels (bfloat16 widened exactly to float32:
    numpy has no bfloat16)."""
    t = t.detach()
    if t.dtype is torch.bfloat16:
        t = t.float()
    return t.resolve_conj().resolve_neg().numpy()


def host_tensor(a: Any) -> torch.Tensor:
    """CPU tensor sharing the memory of a numba-kernel result (numpy array or scalar)."""
    a = np.asarray(a)
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def host_encoded(enc: Encoded) -> Encoded:
    """An Encoded of the numba kernels with its arrays as CPU tensors (dtypes as :func:`encode`)."""
    return Encoded(codes=host_tensor(enc.codes), scales=None if enc.scales is None else host_tensor(enc.scales),
                   tensor_scale=None if enc.tensor_scale is None else host_tensor(enc.tensor_scale),
                   axis=enc.axis, format=enc.format, meta=enc.meta, fingerprint=enc.fingerprint)


def numpy_encoded(enc: Encoded) -> Encoded:
    """An Encoded of CPU tensors as numpy arrays for the numba kernels."""
    ts = enc.tensor_scale
    return Encoded(codes=host_array(enc.codes), scales=None if enc.scales is None else host_array(enc.scales),
                   tensor_scale=None if ts is None else np.float32(float(ts)), axis=enc.axis,
                   format=enc.format, meta=enc.meta, fingerprint=enc.fingerprint)


def encode(fmt: CodecFormat, x: Any, axis: int = -1) -> Encoded:
    """Real bit patterns of ``fmt`` for a torch tensor (docs/numerics.md) with the torch kernels,
    as tensors on its device: codes uint8/uint16/uint32, scales uint8/uint16 codes or float32
    values, a 0-d float32 tensor scale."""
    return _encode(fmt, x, axis)


def decode(fmt: CodecFormat, enc: Encoded) -> torch.Tensor:
    """float32 values of an :class:`Encoded` holding torch tensors, with the torch kernels, on the
    codes' device."""
    return _decode(fmt, enc)


def quantize(fmt: CodecFormat, x: Any, axis: int = -1) -> torch.Tensor:
    """``decode(encode(x))`` fused with the torch kernels: float32 of x's shape on x's device."""
    return _quantize(fmt, x, axis)
