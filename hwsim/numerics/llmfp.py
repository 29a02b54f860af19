"""LLM-FP4 (catalog kind ``llmfp``): ExMy floating point with a real-valued exponent bias searched
per output channel (Liu et al., "LLM-FP4: 4-Bit Floating-Point Quantized Transformers",
EMNLP'23, §3; official code nbasyl/LLM-FP4 ``quant_layers/fp_linear.py``: ``get_scale`` /
``get_log_scale``, weight bias search of ``FPPTQSLBatchingQuantLinear_fpq``). Catalog:
``formats/lowbit.toml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._bitcast import float32_as_int32, int32_as_float32
from hwsim.numerics._family import (
    FamilyFormat,
    Slices,
    back_like,
    catalog_common,
    check_calibration_shape,
    from_slices,
    groups_to_rows,
    rows_to_groups,
    to_host,
    to_numpy_codes,
    to_slices,
)
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import KindSpec, OperandSpec, fp32_scale
from hwsim.numerics.types import RoundMode

__all__ = ["LlmFpFormat", "CATALOG_KINDS"]


@nb.njit(cache=True, inline="always")
def _llmfp_one(x, maxval, B, sub, int_bias, E, M):
    """(code, value) of one float32 ``x`` (as float64) for bias ``b`` (B = floor b), subnormal
    step ``sub`` and clamp ``maxval``; see :class:`LlmFpFormat`."""
    neg = 1 if math.copysign(1.0, x) < 0.0 else 0
    a = abs(x)
    if a > maxval:
        a = maxval
    top = 1 << M
    code = 0
    val = 0.0
    ext = 0
    if a > 0.0:
        n = math.frexp(a)[1] - 1  # floor(log2 a), exact
        if n + B >= 1:  # ls = floor(log2|x|) + b >= 1: a normal binade, quantum 2^(n - M)
            qv = np.rint(math.ldexp(a, M - n))
            val = math.ldexp(qv, n - M)
            iq = int(qv)
            if iq == 2 * top:  # rounded up into the next binade
                code = (n + B + 1) << M
            else:
                code = ((n + B) << M) | (iq - top)
        else:  # ls clamped to 1: subnormal quantum 2^(1 - M - b)
            qv = np.rint(a / sub)
            val = qv * sub
            iq = int(qv)
            if iq < top:
                code = iq
            elif int_bias:  # q = 2^M is the smallest normal 2^(1 - b)
                code = top
            else:  # the levels a real bias adds: extension codes
                ext = 1
                code = iq - top
    code |= (ext << (E + M)) | (neg << (E + M + 1))
    v32 = np.float32(val)
    return code, -v32 if neg else v32


@nb.njit(cache=True, inline="always")
def _llmfp_value(code, B, sub, E, M):
    neg = (code >> (E + M + 1)) & 1
    top = 1 << M
    if (code >> (E + M)) & 1:
        val = (top + (code & ((1 << (E + M)) - 1))) * sub
    else:
        e = (code >> M) & ((1 << E) - 1)
        m = code & (top - 1)
        val = m * sub if e == 0 else math.ldexp(top + m, e - B - M)
    v32 = np.float32(val)
    return -v32 if neg else v32


@nb.njit(cache=True, inline="always")
def _llmfp_fast_value(x, ab, maxb, thr, B, sub, int_bias, E, M, maxval):
    """|value| of :func:`_llmfp_one` from the float32 magnitude bits ``ab`` (the search's hot path):
    a normal-binade value is |x_c| rounded to M mantissa bits (RNE on the float32 bits, the carry
    moves into the exponent); ``thr`` = bits of 2^(1 - floor b), the first normal binade."""
    if ab > maxb:
        ab = maxb
    if ab >= thr and ab >= 0x800000:
        sh = 23 - M
        r = (ab + (1 << (sh - 1)) - 1 + ((ab >> sh) & 1)) >> sh << sh
        return np.float64(int32_as_float32(np.int32(r)))
    if ab < 0x800000 and ab != 0:  # float32-subnormal input: the general path
        return abs(np.float64(_llmfp_one(x, maxval, B, sub, int_bias, E, M)[1]))
    if ab == 0:
        return 0.0
    a = np.float64(int32_as_float32(np.int32(ab)))
    return np.float64(np.float32(np.rint(a / sub) * sub))


@nb.njit(cache=True, parallel=True)
def _llmfp_search(xb, lens, maxv, Bs, subs, ints, E, M, err):
    """err[s, k] = sum of squared errors of slice s (float32 bits ``xb``) with candidate bias k."""
    S, K = maxv.shape
    for t in nb.prange(S * K):
        s = t // K
        k = t - s * K
        mv = maxv[s, k]
        maxb = np.int64(float32_as_int32(np.float32(mv))) if mv < 3.4e38 else np.int64(0x7F800000)
        B = Bs[s, k]
        e1 = 1 - B  # first normal binade 2^(1 - B) as float32 bits (clamped to the float32 range)
        thr = np.int64(0) if e1 < -126 else (np.int64(0x7F800000) if e1 > 127 else np.int64((e1 + 127) << 23))
        acc = 0.0
        for j in range(lens[s]):
            b = np.int64(xb[s, j])
            ab = b & 0x7FFFFFFF
            x = np.float64(int32_as_float32(np.int32(b)))
            d = _llmfp_fast_value(x, ab, maxb, thr, B, subs[s, k], ints[s, k], E, M, mv) - abs(x)
            acc += d * d
        err[s, k] = acc


@nb.njit(cache=True, parallel=True)
def _llmfp_encode(xs, lens, maxv, Bs, subs, ints, E, M, codes, out):
    for s in nb.prange(xs.shape[0]):
        for j in range(lens[s]):
            c, v = _llmfp_one(np.float64(xs[s, j]), maxv[s], Bs[s], subs[s], ints[s], E, M)
            codes[s, j] = c
            out[s, j] = v


@nb.njit(cache=True, parallel=True)
def _llmfp_decode(codes, lens, Bs, subs, E, M, out):
    for s in nb.prange(codes.shape[0]):
        for j in range(lens[s]):
            out[s, j] = _llmfp_value(np.int64(codes[s, j]), Bs[s], subs[s], E, M)


def _pow2_f32(y: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """fp32(factor 2^y) for float64 y (2^y = ldexp(exp2(frac), floor): exact for integer y), at
    least the smallest float32 subnormal 2^-149 (float32 overflow -> inf)."""
    k = np.floor(y)
    with np.errstate(over="ignore"):
        v = (factor * np.ldexp(np.exp2(y - k), k.astype(np.int64))).astype(np.float32)
    return np.maximum(v, np.float32(2.0**-149))


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmFpFormat(FamilyFormat):
    """LLM-FP4 (Liu et al., EMNLP'23, §3): ExMy with a real-valued exponent bias ``b`` searched per
    output channel (nbasyl/LLM-FP4 ``quant_layers/fp_linear.py``: ``get_scale``, weight search of
    ``FPPTQSLBatchingQuantLinear_fpq``).

    Quantization of x with bias b (a float32, ``meta["bias"]``), exactly:

    - ``maxval = fp32((2 - 2^-M) 2^(2^E - 1 - b))``, ``x_c = clamp(x, -maxval, maxval)``;
    - ``n = floor(log2|x_c|)``; normal iff ``n + b >= 1`` (official
      ``ls = clamp(floor(log2|x|) + b, 1)``), i.e. ``n + floor(b) >= 1``: the quantum is
      ``2^(ls - M - b) = 2^(n - M)`` (exact power of two), else (``ls`` clamped to 1) the
      subnormal quantum ``sub = fp32(2^(1 - M - b))`` (at least 2^-149);
    - ``q = round_half_even(|x_c| / quantum)`` (torch.round), value ``fp32(q quantum)`` with x's sign.

    The official code evaluates ``2^(ls - M - b)`` in float32 (``ls - M - b`` rounded, so normal
    quanta can be off a power of two by float32 ulps); hwsim uses the algebraically equal exact
    form. ``maxval`` and ``sub`` are rounded once to float32 as the official float32 tensors are.

    Search (``_initialize_intervals`` + ``_search_best_w_interval``): ``b_init = fp32(2^E -
    log2(amax) + log2(2 - 2^-M) - 1)`` with amax of the slice (0 when amax = 0), candidates
    ``b_k = fp32(fp32(c_k) b_init)``, ``c_k = lo + k (hi - lo) / n`` for k = 0..n (``--search_intervals
    0.01 1.2 100``: 101 candidates); the first ``b_k`` with the smallest float64 sum of squared
    weight errors wins. The official search minimises the layer-output L2 error on calibration
    activations; without activations hwsim minimises the weight MSE of each output channel.

    Codes (uint8, E + M + 2 bits): ``sign << (E+M+1) | x << (E+M) | e << M | m`` with, for
    ``x = 0``, the ExMy fields of bias ``floor(b)``: ``e >= 1`` -> ``(2^M + m) 2^(e - floor(b) - M)``,
    ``e = 0`` -> ``m sub``; ``x = 1`` -> ``(2^M + low E+M bits) sub``. The extension bit exists
    because a non-integer b does not give an ExMy grid: the subnormal quantum ``2^(1-M-b)`` is finer
    than the first binade's by ``2^-frac(b)`` and the subnormal range ``|x| < 2^(1 - floor(b))``
    holds up to ``2^(M+1) + 1`` levels, not ``2^M`` (E2M1 at b = 0.5: magnitudes {0, 2^-0.5, 2^0.5,
    1.5 2^0.5, 2, 3, 4, 6, 8}, 17 values). For an integer b no extension code is produced and the
    codes are exactly ExMy with bias b and no Inf/NaN (b = 1, E2M1: the OCP FP4 grid).
    """

    name: str
    exp_bits: int = 2
    man_bits: int = 1
    scale_per: str = "channel"
    search: tuple[float, float, int] = (0.01, 1.2, 100)
    reference: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        E, M = self.exp_bits, self.man_bits
        if not (isinstance(E, int) and isinstance(M, int)) or E < 1 or M < 0 or E + M > 6:
            raise FormatError(f"format {self.name!r}: exp_bits={E!r}, man_bits={M!r}: need E >= 1, "
                              f"M >= 0, E + M <= 6 (codes are E + M + 2 bits, uint8)")
        if self.scale_per not in ("channel", "tensor"):
            raise FormatError(f"format {self.name!r}: scale_per {self.scale_per!r} not one of "
                              f"['channel', 'tensor']")
        object.__setattr__(self, "search", tuple(self.search))
        ok = len(self.search) == 3
        if ok:
            lo, hi, n = self.search
            ok = (isinstance(n, int) and not isinstance(n, bool) and n >= 1
                  and isinstance(lo, int | float) and isinstance(hi, int | float) and 0 < lo <= hi)
        if not ok:
            raise FormatError(f"format {self.name!r}: search {self.search!r} must be [lo, hi, n] with "
                              f"0 < lo <= hi, n >= 1 (b = b_init (lo + k (hi - lo) / n), k = 0..n)")

    is_float_element = True
    is_scaled = True
    takes_calibration = True
    reads_scales = False  # the per-slice exponent bias lives in meta["bias"]
    ENCODE_ONLY = frozenset({"search"})

    def decode_meta(self, enc: Encoded) -> tuple[str, ...]:
        return ("bias",)

    @property
    def element_bits(self) -> int:
        return self.exp_bits + self.man_bits + 2

    @property
    def bits_per_element(self) -> float:
        """Code bits; the per-channel (or per-tensor) fp32 bias is not counted (shape dependent)."""
        return float(self.element_bits)

    @property
    def block_size(self) -> int | None:
        return 0 if self.scale_per == "channel" else None

    @property
    def default_bias(self) -> int:
        """The official ``default_bias = 2^(E-1)`` (no search)."""
        return 1 << (self.exp_bits - 1)

    @property
    def max(self) -> float:
        """Largest magnitude at the default bias: ``(2 - 2^-M) 2^(2^E - 1 - 2^(E-1))``."""
        return (2 - 2.0**-self.man_bits) * 2.0 ** ((1 << self.exp_bits) - 1 - self.default_bias)

    def values(self) -> np.ndarray:
        """The ExMy grid at the default bias (integer: no extension levels)."""
        E, M, b = self.exp_bits, self.man_bits, self.default_bias
        mags = [m * 2.0 ** (1 - b - M) for m in range(1 << M)]
        mags += [(2**M + m) * 2.0 ** (e - b - M) for e in range(1, 1 << E) for m in range(1 << M)]
        return np.unique(np.concatenate([-np.array(mags), mags]))

    def describe(self) -> str:
        return f"LLM-FP E{self.exp_bits}M{self.man_bits}, searched real exponent bias per {self.scale_per}"

    @property
    def operand(self) -> OperandSpec:
        """``E + M + 2``-bit codes (sign, extension bit, ExMy) and one fp32 real-valued exponent
        bias per channel or per tensor: a scale by ``2^-b`` that is a power of two only for an
        integer ``b``."""
        lo, hi, n = self.search
        rule = (f"real exponent bias b_init x (lo + k (hi - lo) / n), [lo, hi, n] = [{lo:g}, {hi:g}, {n}], "
                f"with the least weight MSE (LLM-FP4 EMNLP'23 §3)")
        return OperandSpec(self.element_bits, self.bits_per_element, True, self.exp_bits, self.man_bits,
                           (fp32_scale(self.block_size, rule),), RoundMode.EVEN.value)

    def _bias_params(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(maxval, floor(b), sub, b is an integer) for float32 biases b."""
        E, M = self.exp_bits, self.man_bits
        b64 = b.astype(np.float32).astype(np.float64)
        maxval = _pow2_f32((1 << E) - 1 - b64, 2.0 - 2.0**-M).astype(np.float64)
        sub = _pow2_f32(1.0 - M - b64).astype(np.float64)
        B = np.floor(b64)
        return maxval, B.astype(np.int64), sub, (B == b64)

    def _candidates(self, amax: np.ndarray) -> np.ndarray:
        E, M = self.exp_bits, self.man_bits
        with np.errstate(divide="ignore"):
            init = (2.0**E - np.log2(amax) + math.log2(2 - 2.0**-M) - 1).astype(np.float32)
        init = np.where(amax > 0, init, np.float32(0))
        lo, hi, n = self.search
        c = np.array([lo + k * (hi - lo) / n for k in range(n + 1)], np.float32)
        return (c[None, :] * init[:, None]).astype(np.float32)  # float32 products, as torch

    def _errors(self, sl: Slices, cands: np.ndarray) -> np.ndarray:
        """err[s, k]: float64 sum of squared errors of row s of ``sl`` with float32 bias cands[s, k]."""
        mv, Bs, subs, ints = self._bias_params(cands)
        err = np.zeros(cands.shape)
        _llmfp_search(sl.xs.view(np.int32), sl.lens, mv, Bs, subs, ints, self.exp_bits, self.man_bits, err)
        return err

    def _search_bias(self, sl: Slices) -> np.ndarray:
        """The float32 bias per row of ``sl`` with the smallest weight MSE (first wins a tie)."""
        S = sl.xs.shape[0]
        amax = np.abs(sl.xs).max(axis=1).astype(np.float64) if sl.xs.size else np.zeros(S)
        cands = self._candidates(amax)
        if not sl.xs.size:
            return cands[:, 0]
        # a candidate whose range overflows float32 (huge inputs) has an undefined error: never pick it
        err = np.where(np.isnan(err := self._errors(sl, cands)), np.inf, err)
        return cands[np.arange(S), np.argmin(err, axis=1)]

    def _bias_rows(self, sl: Slices, bias: Any, what: str) -> np.ndarray:
        """float32 biases, one per row of ``sl``, from an array shaped like ``meta["bias"]`` (or one value)."""
        b = to_host(bias).astype(np.float32)
        b = groups_to_rows(self.name, sl, b, ()) if sl.groups_shape else b.reshape(-1)
        if b.size != sl.xs.shape[0]:
            raise FormatError(f"format {self.name!r}: {what} holds {b.size} biases, the codes need {sl.xs.shape[0]}")
        return np.ascontiguousarray(b)

    def _slices(self, x: Any, axis: int) -> tuple[Slices, int]:
        a, ax = self._prepare(x, axis)
        return to_slices(a, ax, self.block_size), ax

    def _run(self, x: Any, axis: int, calibration: Any) -> tuple[np.ndarray, Encoded]:
        """Codes (uint8, shape of x) and ``meta["bias"]``: the float32 bias per slice along
        ``axis`` (shape of x with the axis length 1) or per tensor (0-d). ``calibration``: the
        tensor the biases are searched on (per channel: the same channels as x)."""
        sl, ax = self._slices(x, axis)
        if calibration is None:
            bias = self._search_bias(sl)
        else:  # the bias is searched on the calibration tensor and applied to x
            csl, _ = self._slices(calibration, axis)
            check_calibration_shape(self.name, self.block_size, sl.shape, csl.shape, ax)
            bias = self._search_bias(csl)
        return self._encode(x, sl, ax, bias)

    def _encode(self, x: Any, sl: Slices, ax: int, bias: np.ndarray) -> tuple[np.ndarray, Encoded]:
        mv, Bs, subs, ints = self._bias_params(bias)
        codes = np.zeros(sl.xs.shape, np.uint8)
        out = np.zeros(sl.xs.shape, np.float32)
        if sl.xs.size:
            _llmfp_encode(sl.xs, sl.lens, mv, Bs, subs, ints, self.exp_bits, self.man_bits, codes, out)
        b_out = rows_to_groups(sl, bias) if sl.groups_shape else bias.reshape(())
        enc = Encoded(codes=back_like(x, from_slices(sl, codes)), scales=None, axis=ax, format=self.name,
                      meta={"bias": back_like(x, b_out)})
        return from_slices(sl, out), enc

    def encode_with_bias(self, x: Any, bias: Any, axis: int = -1) -> Encoded:
        """:meth:`encode` with the given float32 bias instead of the searched one (LLM-FP4 without
        the search, e.g. the official ``default_bias``): one value, or one per slice shaped like
        ``meta["bias"]``."""
        sl, ax = self._slices(x, axis)
        return self._encode(x, sl, ax, self._bias_rows(sl, bias, "bias"))[1]

    def bias_errors(self, x: Any, biases: Any, axis: int = -1) -> np.ndarray:
        """The scores of the bias search: ``err[s, k]``, the float64 sum of squared errors of slice
        ``s`` (C order of the slices, as the rows of ``meta["bias"]``) encoded with the float32 bias
        ``biases[s, k]`` (the search picks the first smallest; NaN where the bias's range
        overflows float32)."""
        sl, _ = self._slices(x, axis)
        cands = np.ascontiguousarray(to_host(biases).astype(np.float32))
        if cands.ndim != 2 or cands.shape[0] != sl.xs.shape[0]:
            raise FormatError(f"format {self.name!r}: biases of shape {cands.shape}: need (slices, candidates) "
                              f"with {sl.xs.shape[0]} slices")
        return self._errors(sl, cands) if sl.xs.size else np.zeros(cands.shape)

    def _decode(self, enc: Encoded) -> Any:
        codes = to_numpy_codes(self.name, enc.codes, self.element_bits)
        if "bias" not in enc.meta:
            raise FormatError(f"format {self.name!r}: Encoded.meta has no 'bias'")
        sl = to_slices(codes.astype(np.float32), enc.axis, self.block_size)
        _, Bs, subs, _ = self._bias_params(self._bias_rows(sl, enc.meta["bias"], "meta['bias']"))
        out = np.zeros(sl.xs.shape, np.float32)
        _llmfp_decode(sl.xs.astype(np.int64), sl.lens, Bs, subs, self.exp_bits, self.man_bits, out)
        return back_like(enc.codes, from_slices(sl, out))


def _build_llmfp(name: str, table: Any, codebooks: Any) -> LlmFpFormat:
    kw = {k: table[k] for k in ("exp_bits", "man_bits", "scale_per") if k in table}
    if "search" in table:
        kw["search"] = tuple(table["search"])
    return LlmFpFormat(name=name, **kw, **catalog_common(name, table))


CATALOG_KINDS = {"llmfp": KindSpec(schema={"exp_bits": int, "man_bits": int, "scale_per": str, "search": list},
                                   required=("exp_bits", "man_bits"), allowed={"scale_per": ("channel", "tensor")},
                                   build=_build_llmfp)}
