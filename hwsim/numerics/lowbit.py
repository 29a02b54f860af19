"""Low-bit weight formats: ternary (BitNet b1.58), power-of-two shifts (DenseShift), binary-coded
shift-add (ShiftAddLLM) and floating point with a searched real exponent bias (LLM-FP4).

Catalog kinds (``formats/lowbit.toml``) and the codebook generator they add:

- ``ternary`` -> :class:`TernaryFormat`: BitNet b1.58 weights, ``gamma = mean|W|`` per tensor,
  ``Wq = clamp(round(W / max(gamma, 1e-5)), -1, 1)``, value ``Wq * max(gamma, 1e-5)`` (the official
  ``weight_quant``: ``scale = 1 / w.abs().mean().clamp_(min=1e-5)``, ``(w * scale).round().clamp_(-1,
  1) / scale``; "The Era of 1-bit LLMs: Training Tips, Code and FAQ"). Codes are 2-bit two's
  complement (``00`` = 0, ``01`` = +1, ``11`` = -1; ``10`` is never produced), packed 5 trits per
  byte (:func:`pack_trits`, llama.cpp TQ1_0's base-3 byte code, 1.6 bits/weight) or 4 codes per byte (TQ2_0 style,
  2 bits/weight).
- ``[codebooks.*] generator = "denseshift"`` -> :func:`denseshift_table`: DenseShift's zero-free
  sign + exponent weights (ICCV'23), run by the generic ``codebook`` kind.
- ``bcq`` -> :class:`BcqFormat`: ShiftAddLLM (arXiv 2406.05981; GATECH-EIC/ShiftAddLLM
  ``quantizers/bcq_quant/bcq_shift.py``): ``W ~ sum_i alpha_i b_i``, ``b_i`` in {-1, +1}, one set
  of powers of two ``alpha`` per group, by alternating least squares.
- ``llmfp`` -> :class:`LlmFpFormat`: LLM-FP4 (EMNLP'23; nbasyl/LLM-FP4
  ``quant_layers/fp_linear.py`` ``get_scale`` / ``get_log_scale``, weight bias search of
  ``FPPTQSLBatchingQuantLinear_fpq``): ExMy with a real-valued per-channel exponent bias.

BitNet's activation quantizer (per-token absmax INT8) is the core ``scaled`` kind: catalog entry
``bitnet_a8`` (see ``formats/lowbit.toml``). Every class here satisfies
:class:`~hwsim.numerics.protocol.NumberFormat`: numpy in -> numpy out (float32), torch in -> torch
out on the input's device (computed on the CPU), ``decode(encode(x)) == quantize(x)`` bit for bit.
Non-finite inputs raise :class:`~hwsim.errors.FormatError` (none of these papers encodes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._bitcast import float32_as_int32, int32_as_float32
from hwsim.numerics.codebook import (Codebook, back_like, check_axis, from_slices, is_torch,
                                     nearest_codes, to_numpy_codes, to_numpy_f32, to_slices)
from hwsim.numerics.codebook import groups_to_rows as _groups_to_rows
from hwsim.numerics.codebook import rows_to_groups as _rows_to_groups
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import GroupedIntCodes, replace_fields

__all__ = ["TernaryFormat", "BcqFormat", "LlmFpFormat", "pack_trits", "unpack_trits", "pack_2bit",
           "unpack_2bit", "denseshift_table", "TERNARY_TABLE", "CATALOG_KINDS", "CODEBOOK_GENERATORS"]


def _prepare(name: str, x: Any, axis: int) -> tuple[np.ndarray, int]:
    a = to_numpy_f32(name, x)
    ax = check_axis(name, axis, a.ndim)
    if a.size and not np.all(np.isfinite(a)):
        raise FormatError(f"format {name!r}: input holds Inf/NaN; low-bit formats have no encoding for them")
    return a, ax


def _scales_np(scales: Any) -> np.ndarray:
    return scales.detach().cpu().numpy() if is_torch(scales) else np.asarray(scales)


# ----------------------------------------------------------------------------------------------
# trit packing
# ----------------------------------------------------------------------------------------------
#: ternary code -> value (2-bit two's complement; code 0b10 never produced)
TERNARY_TABLE = (0.0, 1.0, math.nan, -1.0)
_CODE_TO_DIGIT = np.array([1, 2, 255, 0], dtype=np.uint8)  # digit = trit + 1
_DIGIT_TO_CODE = np.array([3, 0, 1], dtype=np.uint8)
_POW3_MSB_FIRST = np.array([81, 27, 9, 3, 1], dtype=np.int64)
_POW3_LSB_FIRST = np.array([1, 3, 9, 27, 81], dtype=np.int64)


def _ternary_codes(codes: Any) -> np.ndarray:
    c = (codes.detach().cpu().numpy() if is_torch(codes) else np.asarray(codes)).reshape(-1)
    if c.dtype.kind not in "ui":
        raise FormatError(f"ternary codes must be integers, got {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > 3 or np.any(c == 2)):
        raise FormatError("ternary codes must be 0 (0), 1 (+1) or 3 (-1); code 2 is never produced")
    return c.astype(np.intp)


def pack_trits(codes: Any) -> np.ndarray:
    """Pack ternary codes (C order) 5 per byte with llama.cpp TQ1_0's byte encoding
    (``quantize_row_tq1_0_ref``: base-3 digits, ``ceil(q 256 / 243)``), but five *consecutive*
    elements per byte: TQ1_0 itself interleaves element ``m + 32 n`` into byte ``m`` of a 256-weight
    block, a memory layout for its SIMD kernels, not a different code. The bytes are therefore not
    TQ1_0 files; the bits per weight (1.6) and the decoder arithmetic are the same.

    Digit ``d = trit + 1`` (-1 -> 0, 0 -> 1, +1 -> 2); the group of 5 consecutive elements
    ``(t0..t4)`` is the base-3 number ``q = d0 3^4 + d1 3^3 + d2 3^2 + d3 3 + d4`` (first element most
    significant), stored as ``byte = ceil(q 256 / 243)`` so that ``(byte 3^j mod 256) * 3 >> 8`` is
    digit j (:func:`unpack_trits`). A short last group is padded with zeros (digit 1). Returns
    ``ceil(n / 5)`` uint8.
    """
    d = _CODE_TO_DIGIT[_ternary_codes(codes)].astype(np.int64)
    pad = -d.size % 5
    if pad:
        d = np.concatenate([d, np.ones(pad, np.int64)])
    q = d.reshape(-1, 5) @ _POW3_MSB_FIRST
    return ((q * 256 + 242) // 243).astype(np.uint8)


def unpack_trits(data: Any, n: int) -> np.ndarray:
    """Inverse of :func:`pack_trits`: the first ``n`` ternary codes (uint8 0 / 1 / 3)."""
    b = np.asarray(data, dtype=np.uint8).reshape(-1)
    if b.size != -(-n // 5):
        raise FormatError(f"unpack_trits: {b.size} bytes hold {5 * b.size} trits; {n} need {-(-n // 5)} bytes")
    digits = (((b[:, None].astype(np.int64) * _POW3_LSB_FIRST) & 0xFF) * 3) >> 8
    return _DIGIT_TO_CODE[digits.reshape(-1)[:n]]


def pack_2bit(codes: Any) -> np.ndarray:
    """Pack 2-bit codes (C order) 4 per byte, element j of a group in bits ``2j, 2j + 1`` (lowest
    first, as TQ2_0's ``qs``). A short last group is padded with code 0."""
    c = _ternary_codes(codes).astype(np.uint8)
    pad = -c.size % 4
    if pad:
        c = np.concatenate([c, np.zeros(pad, np.uint8)])
    c = c.reshape(-1, 4)
    return (c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6)).astype(np.uint8)


def unpack_2bit(data: Any, n: int) -> np.ndarray:
    """Inverse of :func:`pack_2bit`: the first ``n`` codes."""
    b = np.asarray(data, dtype=np.uint8).reshape(-1)
    if b.size != -(-n // 4):
        raise FormatError(f"unpack_2bit: {b.size} bytes hold {4 * b.size} codes; {n} need {-(-n // 4)} bytes")
    return ((b[:, None] >> np.array([0, 2, 4, 6], np.uint8)) & 3).reshape(-1)[:n].astype(np.uint8)


PACKINGS = {"trit5": (pack_trits, unpack_trits, 8 / 5), "bit2": (pack_2bit, unpack_2bit, 2.0)}


# ----------------------------------------------------------------------------------------------
# ternary (BitNet b1.58)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class TernaryFormat:
    """BitNet b1.58 weights (arXiv 2402.17764 §2; official ``weight_quant``): one absmean scale per
    tensor, floored at ``scale_floor``.

    Exact semantics: ``gamma = mean|x|`` (float64 sum / n), ``s = fp32(max(gamma, scale_floor))``,
    ``y = x / s`` (float64), code = the nearest value of ``codebook`` (-1, 0, 1) with the codebook's
    tie rule (``even``: 0.5 -> 0, torch.round's half-to-even), value ``table[code] * s``. With
    ``gamma >= scale_floor`` this is exactly the ``codebook`` kind with ``scale_rule = "absmean"``
    per tensor; the floor is what this class adds (all-zero and near-zero tensors). The official
    code multiplies by ``fp32(1 / s)`` and divides by it again; hwsim divides by ``s`` exactly (the
    two differ only for ``|x|`` within float32 rounding of ``0.5 s``) and decodes to ``Wq * s``.

    Fields:
        codebook: the {-1, 0, 1} codebook with codes :data:`TERNARY_TABLE` (``[codebooks.ternary]``).
        scale_floor: lower bound of the scale (BitNet: 1e-5).
        packing: ``trit5`` (5 consecutive trits per byte in TQ1_0's base-3 byte code, :func:`pack_trits`;
            1.6 bits/weight) or ``bit2`` (4 two-bit codes per byte, TQ2_0 style; 2 bits/weight).
            ``encode(...).meta["packed"]`` holds the packed bytes of the codes in C order.
    """

    name: str
    codebook: Codebook
    scale_floor: float = 1e-5
    packing: str = "trit5"
    reference: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        tab = tuple(self.codebook.table)
        if len(tab) != 4 or any(not (math.isnan(a) and math.isnan(b)) and a != b
                                for a, b in zip(tab, TERNARY_TABLE)):
            raise FormatError(f"format {self.name!r}: codebook {self.codebook.name!r} must map codes "
                              f"0, 1, 2, 3 to 0, +1, never, -1 (got {list(tab)})")
        if self.packing not in PACKINGS:
            raise FormatError(f"format {self.name!r}: packing {self.packing!r} not one of {list(PACKINGS)}")
        if not (isinstance(self.scale_floor, int | float) and self.scale_floor >= 0):
            raise FormatError(f"format {self.name!r}: scale_floor {self.scale_floor!r} must be a number >= 0")

    element_bits = 2
    block_size = None
    is_scaled = True
    is_float_element = False
    exp_bits = 0
    man_bits = 1
    max = 1.0
    scale_rule = "absmean"

    @property
    def bits_per_element(self) -> float:
        return PACKINGS[self.packing][2]

    def values(self) -> np.ndarray:
        return self.codebook.values()

    def describe(self) -> str:
        return f"ternary {{-1, 0, 1}} ({self.packing})"

    def replace(self, **changes: Any) -> TernaryFormat:
        return replace_fields(self, changes)

    def _run(self, x: Any, axis: int) -> tuple[np.ndarray, np.ndarray, Encoded]:
        a, ax = _prepare(self.name, x, axis)
        gamma = float(np.abs(a, dtype=np.float64).sum() / a.size) if a.size else 0.0
        s = np.float32(max(gamma, float(self.scale_floor)))
        codes = nearest_codes(self.codebook, a.astype(np.float64) / np.float64(s)) if a.size else \
            np.zeros(a.shape, np.uint8)
        values = np.asarray(np.asarray(TERNARY_TABLE)[codes] * np.float64(s), dtype=np.float32)
        meta = {"packed": PACKINGS[self.packing][0](codes), "gamma": np.float32(gamma),
                "types": [self.codebook.name]}
        enc = Encoded(codes=back_like(x, codes), scales=back_like(x, np.asarray(s, np.float32)),
                      axis=ax, format=self.name, meta=meta)
        return codes, values, enc

    def encode(self, x: Any, axis: int = -1) -> Encoded:
        """Codes (uint8, shape of x), the fp32 scale (0-d ``scales``), ``meta["packed"]``."""
        return self._run(x, axis)[2]

    def quantize(self, x: Any, axis: int = -1) -> Any:
        return back_like(x, self._run(x, axis)[1])

    def decode(self, enc: Encoded) -> Any:
        codes = to_numpy_codes(self.name, enc.codes, 2)
        if np.any(codes == 2):
            raise FormatError(f"format {self.name!r}: code 2 (0b10) is never produced by ternary encode")
        s = np.float64(np.float32(_scales_np(enc.scales).reshape(())))
        return back_like(enc.codes, np.asarray(np.asarray(TERNARY_TABLE)[codes.astype(np.intp)] * s, dtype=np.float32))

    def __str__(self) -> str:
        return self.name


# ----------------------------------------------------------------------------------------------
# DenseShift codebooks
# ----------------------------------------------------------------------------------------------
def denseshift_table(bits: int) -> list[float]:
    """DenseShift (Li et al., ICCV'23, §3): zero-free power-of-two weights, 1 sign bit + a
    (bits-1)-bit shift ``p``: code ``s << (bits-1) | p`` -> ``(-1)^s 2^-p``, ``p = 0 .. 2^(bits-1) - 1``
    (3-bit: +-{1, 1/2, 1/4, 1/8}; 4-bit: +-{1 .. 2^-7}).

    The exact range is not in the sources we could read (formats.md §8: UNVERIFIED); we take all
    2^(bits-1) shifts below 1 because DenseShift's point is that no code is spent on zero, and the
    per-channel scale carries the magnitude (catalog: ``scale_rule = "mse"``). With no zero code an
    exact 0 lies on the midpoint between -2^-pmax and +2^-pmax: the catalog codebooks use
    ``ties = "up"`` (the later grid value, as ANT's PoT type), so 0 (and -0) -> +2^-pmax, the
    value of the +0 sign bit.
    """
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 8:
        raise FormatError(f"denseshift: bits={bits!r} out of range [2, 8]")
    half = 1 << (bits - 1)
    return [math.ldexp(1.0 if c < half else -1.0, -(c % half)) for c in range(1 << bits)]


CODEBOOK_GENERATORS = {"denseshift": denseshift_table}


# ----------------------------------------------------------------------------------------------
# ShiftAddLLM binary-coded quantization
# ----------------------------------------------------------------------------------------------
_SQRT2 = math.sqrt(2.0)  # float64 nearest to sqrt(2) lies above it: m >= _SQRT2 <=> m > sqrt(2)
_ZERO_EXP = -128  #: int8 exponent code of alpha = 0


@nb.njit(cache=True, inline="always")
def _pot_exponent(a: float) -> int:
    """Exponent of the power of two nearest to ``a >= 0`` in the log domain (2^(k+1/2) -> never a
    tie, sqrt(2) is irrational), clamped to [-127, 127]; -128 (alpha = 0) for 0 and below 2^-127.5."""
    if a <= 0.0:
        return _ZERO_EXP
    m, ex = math.frexp(a)  # a = m 2^ex, m in [0.5, 1)
    e = ex - 1 + (1 if 2.0 * m >= _SQRT2 else 0)
    if e < -127:
        return _ZERO_EXP
    return e if e <= 127 else 127


@nb.njit(cache=True, inline="always")
def _pow2_of(e: int) -> float:
    return 0.0 if e == _ZERO_EXP else math.ldexp(1.0, e)


@nb.njit(cache=True)
def _dependent(present, q):
    """True if the q bit-planes are linearly dependent: the rank of B equals the rank of the
    q x P matrix of the distinct +-1 columns present (``present[c]``: code c occurs), found by
    division-free integer elimination (entries stay below 2^8 for q <= 4: exact)."""
    P = 0
    for c in range(1 << q):
        P += present[c]
    A = np.zeros((q, P), np.int64)
    col = 0
    for c in range(1 << q):
        if present[c]:
            for i in range(q):
                A[i, col] = 2 * ((c >> i) & 1) - 1
            col += 1
    rank = 0
    for c in range(P):
        p = rank
        while p < q and A[p, c] == 0:
            p += 1
        if p == q:
            continue
        for j in range(P):
            A[rank, j], A[p, j] = A[p, j], A[rank, j]
        for i in range(rank + 1, q):
            f = A[i, c]
            for j in range(P):
                A[i, j] = A[i, j] * A[rank, c] - f * A[rank, j]
        rank += 1
        if rank == q:
            return False
    return True


@nb.njit(cache=True)
def _solve(G, h, q, out):
    """out = G^-1 h by Gaussian elimination with partial pivoting (float64; G nonsingular)."""
    A = G.astype(np.float64)
    r = h.copy()
    for k in range(q):
        p = k
        for i in range(k + 1, q):
            if abs(A[i, k]) > abs(A[p, k]):
                p = i
        if p != k:
            for j in range(q):
                A[k, j], A[p, j] = A[p, j], A[k, j]
            r[k], r[p] = r[p], r[k]
        for i in range(k + 1, q):
            f = A[i, k] / A[k, k]
            for j in range(k, q):
                A[i, j] -= f * A[k, j]
            r[i] -= f * r[k]
    for k in range(q - 1, -1, -1):
        acc = r[k]
        for j in range(k + 1, q):
            acc -= A[k, j] * out[j]
        out[k] = acc / A[k, k]


@nb.njit(cache=True, inline="always")
def _level_sums(exps, q, sums):
    """sums[c] = sum_i 2^e_i (2 bit_i(c) - 1), i = 0..q-1 in order (float64)."""
    for c in range(1 << q):
        acc = 0.0
        for i in range(q):
            a = _pow2_of(exps[i])
            acc += a if (c >> i) & 1 else -a
        sums[c] = acc


@nb.njit(cache=True, inline="always")
def _b_step(w, n, exps, q, codes_row, out_row):
    """Each element -> the code of the nearest level sum; a tie -> the larger sum (official BST
    ``w < mid`` goes left, else right); equal sums -> the lowest code. Returns #changed codes."""
    K = 1 << q
    sums = np.empty(K)
    _level_sums(exps, q, sums)
    order = np.argsort(sums, kind="mergesort")  # stable: equal sums keep the lowest code first
    vals = np.empty(K)
    cods = np.empty(K, np.int64)
    m = 0
    for t in range(K):
        v = sums[order[t]]
        if m == 0 or v != vals[m - 1]:
            vals[m] = v
            cods[m] = order[t]
            m += 1
    changed = 0
    for j in range(n):
        x = w[j]
        lo = 0
        hi = m - 1
        while lo < hi:  # first level whose upper midpoint is > x (ties go up)
            mid = (lo + hi) >> 1
            if x < (vals[mid] + vals[mid + 1]) / 2:
                hi = mid
            else:
                lo = mid + 1
        c = cods[lo]
        if codes_row[j] != c:
            changed += 1
        codes_row[j] = c
        out_row[j] = np.float32(vals[lo])
    return changed


@nb.njit(cache=True, parallel=True)
def _bcq_kernel(xs, lens, q, rounds, codes, exps, out):
    S = xs.shape[0]
    for s in nb.prange(S):
        n = lens[s]
        w = xs[s, :n].astype(np.float64)
        crow = codes[s]
        # greedy init (official greedy_mean_torch): b_i = sign(r) with sign(0) := +1,
        # alpha_i = mean|r|, r -= alpha_i b_i
        r = w.copy()
        alpha = np.zeros(q)
        for j in range(n):
            crow[j] = 0
        for i in range(q):
            acc = 0.0
            for j in range(n):
                acc += abs(r[j])
            a = acc / n if n > 0 else 0.0
            alpha[i] = a
            for j in range(n):
                if r[j] >= 0.0:
                    crow[j] |= 1 << i
                    r[j] -= a
                else:
                    r[j] += a
        K = 1 << q
        G = np.zeros((q, q), np.int64)
        h = np.zeros(q)
        e = np.zeros(q, np.int64)
        new = np.zeros(q)
        count = np.zeros(K, np.int64)
        wsum = np.zeros(K)
        for _ in range(rounds):
            # alpha step: least squares on the current planes (normal equations from the
            # per-pattern counts and sums), |alpha| sorted descending, powers of two (log domain)
            count[:] = 0
            wsum[:] = 0.0
            for j in range(n):
                count[crow[j]] += 1
                wsum[crow[j]] += w[j]
            for i in range(q):
                h[i] = 0.0
                for k in range(q):
                    G[i, k] = 0
            for c in range(K):
                if count[c] == 0:
                    continue
                for i in range(q):
                    bi = 2 * ((c >> i) & 1) - 1
                    h[i] += bi * wsum[c]
                    for k in range(q):
                        G[i, k] += count[c] * bi * (2 * ((c >> k) & 1) - 1)
            if not _dependent(count > 0, q):  # dependent planes: keep the previous alpha
                _solve(G, h, q, new)
                for i in range(q):
                    alpha[i] = abs(new[i])
            alpha[:] = np.sort(alpha)[::-1]
            for i in range(q):
                e[i] = _pot_exponent(alpha[i])
                alpha[i] = _pow2_of(e[i])
            # B step: nearest level for every element; a fixed point ends the alternation
            if _b_step(w, n, e, q, crow, out[s]) == 0:
                break
        for i in range(q):
            exps[s, i] = e[i]


@dataclass(frozen=True, slots=True, kw_only=True)
class BcqFormat(GroupedIntCodes):
    """ShiftAddLLM binary-coded quantization with power-of-two scales (arXiv 2406.05981 §3.1;
    GATECH-EIC/ShiftAddLLM ``bcq_shift.py`` ``quantize_shift``, ``greedy_mean_torch``,
    ``refine_mean_torch``, ``find_B_torch``).

    Per group of ``group_size`` consecutive elements along the encode axis (the input channels of
    a weight encoded with ``axis=-1``; 0 = the whole slice), ``w ~ sum_i alpha_i b_i`` with
    ``b_i`` in {-1, +1} and ``alpha_i = 2^e_i``, so ``alpha_i x`` is a shift:

    1. greedy init: ``r = w``; for i = 1..q: ``b_i = sign(r)`` (sign(0) := +1: bit-planes are
       {-1, +1}; the official ``torch.sign`` gives 0 there), ``alpha_i = mean|r|``, ``r -= alpha_i b_i``;
    2. up to ``rounds`` alternations (ShiftAddLLM's ``--bcq_round`` default 50), each:
       alpha step: ``alpha = argmin ||w - B alpha||^2`` (exact least squares on the normal
       equations; official: batched CG from the previous alpha), ``alpha = sort(|alpha|)``
       descending (official), ``alpha_i = 2^round(log2 alpha_i)`` (nearest in the log domain, as the
       official ``round_power_of_2``; exponents clamped to int8, alpha < 2^-127.5 -> 0); if the
       planes are linearly dependent (``B^T B`` singular, tested exactly) the previous alpha is kept;
       B step: every element takes the bit pattern whose level ``sum_i alpha_i b_i`` is nearest
       (official binary search ``find_B_torch``: a tie goes to the larger level; equal levels to the
       lowest code). A round that changes no bit is a fixed point: the alternation stops there
       (later rounds would repeat it, so the result equals running all ``rounds``).

    Difference from the official code: ShiftAddLLM rounds alpha to a sum of ``apot_nums = 3``
    signed powers of two (``additive_power_of_2``); this format uses one power of two per alpha
    (a single shift, int8 exponent storage), as the paper's description. GPTQ-style error
    feedback across columns (``fasterquant``) is a calibration procedure, not part of the format.

    Encoding: ``codes`` (uint8, shape of x): bit ``i`` = 1 iff ``b_{i+1} = +1`` (plane 1 = the
    largest alpha in bit 0); ``scales``: int8 exponents ``e_i`` shaped ``groups + (q,)`` (-128 =
    alpha 0); ``meta["planes"]``: the +-1 planes, int8 ``(q, *x.shape)``. Value =
    ``fp32(sum_i 2^e_i (2 bit_i - 1))`` summed in float64 in plane order.
    """

    name: str
    bits: int = 3
    group_size: int = 128
    rounds: int = 50
    reference: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or not 1 <= self.bits <= 4:
            raise FormatError(f"format {self.name!r}: bits={self.bits!r} out of range [1, 4] (bit-planes)")
        if not isinstance(self.group_size, int) or isinstance(self.group_size, bool) or self.group_size < 0:
            raise FormatError(f"format {self.name!r}: group_size={self.group_size!r} must be an int >= 0 "
                              f"(0: one group per slice along the axis)")
        if not isinstance(self.rounds, int) or isinstance(self.rounds, bool) or not 1 <= self.rounds <= 1000:
            raise FormatError(f"format {self.name!r}: rounds={self.rounds!r} out of range [1, 1000]")

    is_scaled = True
    max = 1.0
    scale_rule = "bcq pow2"

    @property
    def element_bits(self) -> int:
        return self.bits

    @property
    def bits_per_element(self) -> float:
        """q bit-planes plus q int8 exponents per group (per-slice groups: not counted)."""
        return self.bits + (self.bits * 8 / self.group_size if self.group_size else 0.0)

    def values(self) -> np.ndarray:
        """The values of one bit-plane element (each plane holds +-1 times its alpha)."""
        return np.array([-1.0, 1.0])

    def describe(self) -> str:
        g = f"group {self.group_size}" if self.group_size else "per slice"
        return f"BCQ {self.bits} x +-1 planes, power-of-two alphas ({g})"

    def replace(self, **changes: Any) -> BcqFormat:
        return replace_fields(self, changes)

    def _run(self, x: Any, axis: int) -> tuple[np.ndarray, np.ndarray, Encoded]:
        a, ax = _prepare(self.name, x, axis)
        sl = to_slices(a, ax, self.group_size)
        q = self.bits
        codes = np.zeros(sl.xs.shape, np.uint8)
        out = np.zeros(sl.xs.shape, np.float32)
        exps = np.zeros((sl.xs.shape[0], q), np.int8)
        if sl.xs.size:
            _bcq_kernel(sl.xs, sl.lens, q, self.rounds, codes, exps, out)
        codes_x = from_slices(sl, codes)
        values_x = from_slices(sl, out)
        planes = np.stack([(((codes_x >> i) & 1).astype(np.int8) * 2 - 1) for i in range(q)])
        enc = Encoded(codes=back_like(x, codes_x), scales=back_like(x, _rows_to_groups(sl, exps)),
                      axis=ax, format=self.name, meta={"planes": planes})
        return codes_x, values_x, enc

    def encode(self, x: Any, axis: int = -1) -> Encoded:
        return self._run(x, axis)[2]

    def quantize(self, x: Any, axis: int = -1) -> Any:
        return back_like(x, self._run(x, axis)[1])

    def decode(self, enc: Encoded) -> Any:
        q = self.bits
        codes = to_numpy_codes(self.name, enc.codes, q)
        sl = to_slices(codes.astype(np.float32), enc.axis, self.group_size)
        e_rows = _groups_to_rows(self.name, sl, _scales_np(enc.scales).astype(np.int64), (q,))
        c = sl.xs.astype(np.int64)
        acc = np.zeros(c.shape)
        for i in range(q):
            alpha = np.where(e_rows[:, i] == _ZERO_EXP, 0.0, np.ldexp(1.0, e_rows[:, i]))[:, None]
            acc = acc + np.where((c >> i) & 1, alpha, -alpha)
        return back_like(enc.codes, from_slices(sl, acc.astype(np.float32)))

    def __str__(self) -> str:
        return self.name


# ----------------------------------------------------------------------------------------------
# LLM-FP4
# ----------------------------------------------------------------------------------------------
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
class LlmFpFormat:
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
    scale_rule = "exponent bias"

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

    def replace(self, **changes: Any) -> LlmFpFormat:
        return replace_fields(self, changes)

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

    def _search_bias(self, sl: Any) -> np.ndarray:
        """The float32 bias per row of ``sl`` with the smallest weight MSE (first wins a tie)."""
        E, M = self.exp_bits, self.man_bits
        S = sl.xs.shape[0]
        amax = np.abs(sl.xs).max(axis=1).astype(np.float64) if sl.xs.size else np.zeros(S)
        cands = self._candidates(amax)
        if not sl.xs.size:
            return cands[:, 0]
        mv, Bs, subs, ints = self._bias_params(cands)
        err = np.zeros(cands.shape)
        _llmfp_search(sl.xs.view(np.int32), sl.lens, mv, Bs, subs, ints, E, M, err)
        # a candidate whose range overflows float32 (huge inputs) has an undefined error: never pick it
        err = np.where(np.isnan(err), np.inf, err)
        return cands[np.arange(S), np.argmin(err, axis=1)]

    def _run(self, x: Any, axis: int, calibration: Any = None) -> tuple[np.ndarray, np.ndarray, Encoded]:
        a, ax = _prepare(self.name, x, axis)
        per = 0 if self.scale_per == "channel" else None
        sl = to_slices(a, ax, per)
        E, M = self.exp_bits, self.man_bits
        if calibration is None:
            bias = self._search_bias(sl)
        else:  # the bias is searched on the calibration tensor and applied to x
            c, _ = _prepare(self.name, calibration, axis)
            csl = to_slices(c, ax, per)
            if csl.xs.shape[0] != sl.xs.shape[0]:
                raise FormatError(f"format {self.name!r}: calibration shape {c.shape} gives {csl.xs.shape[0]} "
                                  f"channels, the input {a.shape} needs {sl.xs.shape[0]}")
            bias = self._search_bias(csl)
        mv, Bs, subs, ints = self._bias_params(bias)
        codes = np.zeros(sl.xs.shape, np.uint8)
        out = np.zeros(sl.xs.shape, np.float32)
        if sl.xs.size:
            _llmfp_encode(sl.xs, sl.lens, mv, Bs, subs, ints, E, M, codes, out)
        codes_x = from_slices(sl, codes)
        values_x = from_slices(sl, out)
        b_out = _rows_to_groups(sl, bias) if sl.groups_shape else bias.reshape(())
        enc = Encoded(codes=back_like(x, codes_x), scales=None, axis=ax, format=self.name,
                      meta={"bias": back_like(x, b_out)})
        return codes_x, values_x, enc

    def encode(self, x: Any, axis: int = -1, calibration: Any = None) -> Encoded:
        """Codes (uint8, shape of x) and ``meta["bias"]``: the float32 bias per slice along
        ``axis`` (shape of x with the axis length 1) or per tensor (0-d). ``calibration``: the
        tensor the biases are searched on (per channel: the same channels as x)."""
        return self._run(x, axis, calibration)[2]

    def quantize(self, x: Any, axis: int = -1, calibration: Any = None) -> Any:
        return back_like(x, self._run(x, axis, calibration)[1])

    def decode(self, enc: Encoded) -> Any:
        codes = to_numpy_codes(self.name, enc.codes, self.element_bits)
        if "bias" not in enc.meta:
            raise FormatError(f"format {self.name!r}: Encoded.meta has no 'bias'")
        sl = to_slices(codes.astype(np.float32), enc.axis, 0 if self.scale_per == "channel" else None)
        bias = _scales_np(enc.meta["bias"]).astype(np.float32)
        bias = _groups_to_rows(self.name, sl, bias, ()) if sl.groups_shape else bias.reshape(-1)
        if bias.size != sl.xs.shape[0]:
            raise FormatError(f"format {self.name!r}: meta['bias'] holds {bias.size} biases, the codes "
                              f"need {sl.xs.shape[0]}")
        _, Bs, subs, _ = self._bias_params(bias)
        out = np.zeros(sl.xs.shape, np.float32)
        _llmfp_decode(sl.xs.astype(np.int64), sl.lens, Bs, subs, self.exp_bits, self.man_bits, out)
        return back_like(enc.codes, from_slices(sl, out))

    def __str__(self) -> str:
        return self.name


# ----------------------------------------------------------------------------------------------
# catalog kinds
# ----------------------------------------------------------------------------------------------
_UNSUPPORTED = ("rounding", "saturate", "ml_dtypes")


def _common(name: str, table: Any) -> dict[str, Any]:
    bad = [k for k in _UNSUPPORTED if k in table]
    if bad:
        raise FormatError(f"format {name!r}: {bad[0]} is not a parameter of this kind (its rounding is "
                          f"fixed by the paper's algorithm)")
    return {k: table[k] for k in ("reference", "description") if k in table}


def _build_ternary(name: str, table: Any, codebooks: Any) -> TernaryFormat:
    from hwsim.numerics.codebook import codebooks_named

    (cb,) = codebooks_named(name, [table["codebook"]], codebooks, key="codebook")
    kw = {k: table[k] for k in ("scale_floor", "packing") if k in table}
    return TernaryFormat(name=name, codebook=cb, **kw, **_common(name, table))


def _build_bcq(name: str, table: Any, codebooks: Any) -> BcqFormat:
    per = table.get("scale_per", "group")
    if per == "group" and "group_size" not in table:
        raise FormatError(f"format {name!r}: scale_per 'group' needs group_size")
    if per == "channel" and "group_size" in table:
        raise FormatError(f"format {name!r}: group_size is only meaningful with scale_per = 'group'")
    kw = {k: table[k] for k in ("bits", "rounds") if k in table}
    return BcqFormat(name=name, group_size=table["group_size"] if per == "group" else 0, **kw,
                     **_common(name, table))


def _build_llmfp(name: str, table: Any, codebooks: Any) -> LlmFpFormat:
    kw = {k: table[k] for k in ("exp_bits", "man_bits", "scale_per") if k in table}
    if "search" in table:
        kw["search"] = tuple(table["search"])
    return LlmFpFormat(name=name, **kw, **_common(name, table))


def _catalog_kinds() -> dict[str, Any]:
    from hwsim.numerics.protocol import KindSpec

    return {
        "ternary": KindSpec(schema={"codebook": str, "scale_floor": (float, int), "packing": str},
                            required=("codebook",), allowed={"packing": tuple(PACKINGS)},
                            build=_build_ternary),
        "bcq": KindSpec(schema={"bits": int, "group_size": int, "scale_per": str, "rounds": int},
                        required=("bits",), allowed={"scale_per": ("group", "channel")}, build=_build_bcq),
        "llmfp": KindSpec(schema={"exp_bits": int, "man_bits": int, "scale_per": str, "search": list},
                          required=("exp_bits", "man_bits"), allowed={"scale_per": ("channel", "tensor")},
                          build=_build_llmfp),
    }


CATALOG_KINDS = _catalog_kinds()
