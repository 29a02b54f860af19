"""Table-lookup mixed-precision GEMM (T-MAC): bit-plane LUT emulation for integer-grid weights.

Source: Wei et al., "T-MAC: CPU Renaissance via Table Lookup for Low-Bit LLM Deployment on Edge",
EuroSys'25 (arXiv 2407.00088) §3 (bit-serial table lookup, §3.2 mirror consolidation, §3.3 table
quantization); official code ``microsoft/T-MAC``: ``python/t_mac/ops/qgemm.py``
(``QGeMMLUTBitsCodegen._compute`` / ``_reference``: the bit-plane GEMM and its scale/bias terms;
``QGeMMLUTBitsPreprocessorCodegen._reference``: table, ``lut_scales``, ``lut_biases``),
``python/t_mac/intrins/lut_ctor.cc`` (``lut_ctor_g4_int8_impl`` and ``partial_max_g4_int8_k8``,
AVX2 branch: the int8 table quantization reproduced bit for bit here) and
``python/t_mac/intrins/tbl.cc`` (``tbl_g4_int8_float_update_impl``: int8 lookups summed in int16
per activation group, then scaled). The code was read and re-derived, not copied.

The computation, for weights ``w = s_G (q - z_G)`` with ``b``-bit unsigned level codes
``q = sum_i 2^i bit_i(q)`` and a scale ``s_G`` / zero point ``z_G`` per weight group ``G``:

- each bit plane ``i`` is read as signs ``sigma_i = 2 bit_i - 1`` in {-1, +1} (T-MAC's
  ``_states = [-1, 1]``), so ``q = sum_i alpha_i sigma_i + (2^b - 1) / 2`` with
  ``alpha_i = 2^(i-1)`` (T-MAC ``get_bits_alphas``: 1/2, 1, 2, 4);
- activations are split in chunks of ``g`` (T-MAC: 4); chunk ``c`` of token ``m`` gets a table
  ``T[m, c, j] = sum_t a[m, c g + t] (2 bit_t(j) - 1)`` of ``2^g`` entries (bit ``t`` of the index
  ``j`` is chunk element ``t``: numpy ``unpackbits(bitorder="little")`` as in the reference);
- weight plane ``i`` of output ``n`` indexes the table with ``g`` bits per chunk:
  ``P_i = sum_c T[m, c, idx_i[n, c]]`` equals ``sum_k a_k sigma_i,k``;
- ``y[m, n] = sum_G s_G (sum_i alpha_i P_i,G + beta_G A_G)`` with ``A_G = sum_{k in G} a_k`` and
  ``beta_G = (2^b - 1) / 2 - z_G`` (T-MAC's ``lut_biases`` term; its symmetric case is ``q - 2^(b-1)``).

**Summation order (the contract the tests check).** For every output, in float64: each
``P_i,G`` sums its table entries in chunk order; ``sum_i alpha_i P_i`` in plane order; with int8
tables each activation group's integer sum is multiplied by its table scale and the groups are
added in order; ``beta_G A_G`` is added; the group result is multiplied by ``s_G``; groups are
added in order; the float64 total is rounded once to float32. Full-precision tables
(``table_format=None``) hold each entry as a float64 sum of ``g`` float32 activations, exact
unless the chunk's exponents span more than ``53 - 24 - g`` bits, so every partial sum above is an
integer-weighted sum of activations. Whenever those float64 sums are exact (always for activations
on a common dyadic grid, the test's exact case), ``y`` equals the independent reference
``fp32(sum_G s_G (a_G . (q_G - z_G)))`` bit for bit, and so equals the dequantized GEMM
(``w = s (q - z)`` exactly, float64 products, float64 sum rounded once: the bridge's MAC
``matmul``) wherever ``s (q - z)`` is an exact float32 (power-of-two scales) -- the only
difference from the MAC path is where the float64 sum's last bits fall, ``2^-29`` below fp32's
resolution. With float32 dequantized weights ``fp32(s (q - z))`` (fp32 absmax scales times
``|q - z| >= 3``) the MAC path rounds each weight; LUT does not (the scale is applied after the
sum, as the hardware does), a difference of at most half an fp32 ulp per weight.

**Table formats.** ``None``: full precision (above). ``"fp32"``: each entry rounded to float32 as
T-MAC's float ``lut_ctor`` computes it (``a0 +- a1 +- a2 +- a3`` left to right in float32; even
entries the negated mirror). ``"int8"``: T-MAC's table quantization (g = 4), reproduced exactly
from ``lut_ctor_g4_int8_impl`` (AVX2, ``FastAggregationK = 0``) and ``partial_max_g4_int8_k8``:
per token and activation group of ``act_group`` elements (T-MAC's ``act_group_size``, default 64,
a multiple of 32) the table scale is ``fp32(max_c fp32(fp32(|a0| + |a1|) + fp32(|a2| + |a3|)) / 127)``
(the absmax of the group's tables, computed as the kernel does), ``t = fp32(1 / scale)`` (0 for a
zero scale), odd entries ``fp32`` sums ``a0 +- a1 +- a2 +- a3`` left to right, even entries
``-T[15 - j]``, codes ``clamp(rint(fp32(T t)), -128, 127)`` (round half to even,
``_mm256_round_ps``, then the saturating packs), and ``lut_biases`` the float32 sum of the
groups' entry 0 (``-sum a``) in the kernel's order: per 32 activations, the 8 chunk entries added
as ``((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`` (``_mm256_addv_ps``), added to a float32
running sum starting at 0. ``A_G`` is then ``-sum lut_biases`` (not quantized, as in T-MAC).
Deviations (stated, not modelled): T-MAC's kernels add the int16 group sums' scaled values in
float32 (fp16 on ARM) with an FMA for the bias; here the same terms are added in float64 and
rounded once, so the accuracy measured is that of the table quantization alone. "Fast
aggregation" (``_mm256_avg_epu8`` rounding-halving adds, a further approximation T-MAC calls
"nonnegligible error") is not modelled.

**Mirror consolidation** (T-MAC §3.2): ``T[~j] = -T[j]`` (flip every sign), so only the
``2^(g-1)`` entries with bit 0 set are stored, and a lookup of an even index negates the stored
entry of its complement. Round-to-nearest is odd-symmetric, so the negated entry equals the
directly computed one in every table format, and ``mirror=True`` never changes a result (tested);
it halves table storage, which the cost model (:mod:`hwsim.arch.lut`) charges.

Weight formats (:func:`lut_weights`): integer-element :class:`~hwsim.numerics.format.Format`\\ s
(``int4_g32``, ``int2_g64``, ..., two's complement or sign-magnitude, any scale: levels
``q = k + 2^(b-1)``, ``z = 2^(b-1)``, T-MAC's ``w = q - 8`` for 4 bits), asymmetric INT
(:class:`~hwsim.numerics.asym_int.AsymIntFormat`: the stored ``q`` and zero point) and single-
codebook formats whose values are an integer grid containing +-1 (ternary BitNet b1.58: levels
``t + 1``, ``z = 1``, 2 planes; a 1-bit {-1, +1} codebook: ``q = (t + 1) / 2``, ``z = 1/2``,
scale ``2 s``). Anything else raises :class:`~hwsim.errors.FormatError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._family import to_host
from hwsim.numerics.asym_int import AsymIntFormat
from hwsim.numerics.codebook import CodebookFormat
from hwsim.numerics.elements import IntElement
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.format import Format
from hwsim.numerics.ternary import TernaryFormat

__all__ = ["LutWeights", "Int8Tables", "lut_weights", "lut_gemm", "fp_tables", "tmac_int8_tables",
           "TABLE_FORMATS", "INT8_QMAX"]

#: table formats: None (full precision), "fp32" (float32 entries), "int8" (T-MAC's quantization)
TABLE_FORMATS = (None, "fp32", "int8")
#: T-MAC's ``maxv = (1 << 7) - 1``: table scale = absmax / 127
INT8_QMAX = 127


@dataclass(frozen=True, slots=True, eq=False)
class LutWeights:
    """A weight matrix ``[N, K]`` as LUT hardware stores it: ``b``-bit unsigned level codes and
    a scale and zero point per group of ``group_size`` along K (``w = scale (q - zero)``)."""

    q: np.ndarray  #: uint8 [N, K] level codes, 0 .. 2^bits - 1
    bits: int  #: bit planes b
    group_size: int  #: elements per scale group along K (K: one per row)
    scales: np.ndarray  #: float64 [N, n_groups]
    zero: np.ndarray  #: float64 [N, n_groups] (may be a half-integer: 1-bit {-1, +1} weights)
    format: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.q.shape[0]), int(self.q.shape[1])

    def dequantized(self) -> np.ndarray:
        """``scale (q - zero)`` per weight in float64 (exact: a float32 scale times a small
        integer or half-integer)."""
        n, k = self.shape
        G = self.group_size
        s = np.repeat(self.scales, G, axis=1)[:, :k]
        z = np.repeat(self.zero, G, axis=1)[:, :k]
        return s * (self.q.astype(np.float64) - z)

    def planes(self, g: int) -> np.ndarray:
        """Table indices per bit plane: uint8 ``[bits, N, ceil(K / g)]``; bit ``t`` of an index
        is bit ``i`` of the weight at chunk position ``t`` (K padded with level 0: the padded
        activations are 0, so any level adds nothing)."""
        n, k = self.shape
        c = -(-k // g)
        qp = np.zeros((n, c * g), np.uint8)
        qp[:, :k] = self.q
        qp = qp.reshape(n, c, g)
        out = np.zeros((self.bits, n, c), np.uint8)
        for i in range(self.bits):
            bit = (qp >> i) & 1
            out[i] = (bit << np.arange(g, dtype=np.uint8)).sum(axis=-1, dtype=np.uint8)
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Int8Tables:
    """T-MAC's quantized tables of a batch of tokens (``lut_ctor_g4_int8_impl``)."""

    qlut: np.ndarray  #: int8 [M, K/4, 16] (or [M, K/4, 8]: the mirror half, odd entries)
    scales: np.ndarray  #: float32 [M, K / act_group] (``lut_scales``)
    biases: np.ndarray  #: float32 [M, K / act_group] (``lut_biases`` = -sum of the group's activations)


# ------------------------------------------------------------------------------------------------
# weights: catalog encodings -> unsigned levels, scales, zero points
# ------------------------------------------------------------------------------------------------
def _unit_scale(fmt: Any, enc: Encoded, unit_code: int) -> np.ndarray:
    """float64 [N, K]: the decoded value of ``unit_code`` (a code of value +1 or -1) in every
    position, i.e. each weight's scale times that value (exact: 1 x a float32 scale)."""
    codes = to_host(enc.codes)
    unit = Encoded(codes=np.full(codes.shape, unit_code, codes.dtype), scales=enc.scales,
                   tensor_scale=enc.tensor_scale, axis=enc.axis, format=enc.format, meta=enc.meta,
                   fingerprint=enc.fingerprint)
    return np.asarray(fmt.decode(unit), dtype=np.float64)


def _per_group(name: str, full: np.ndarray, G: int) -> np.ndarray:
    """[N, n_groups] from a per-element array that is constant within each group (checked)."""
    n, k = full.shape
    per = full[:, ::G]
    if not np.array_equal(np.repeat(per, G, axis=1)[:, :k], full):
        raise FormatError(f"format {name!r}: scales are not constant over groups of {G} along K; "
                          "LUT GEMM needs one scale per group")
    return per


def _grid_of(name: str, table: tuple[float, ...]) -> tuple[float, float, int]:
    """(vmin, step, levels) of a codebook whose finite values are integers on one grid."""
    vals = sorted({v for v in table if math.isfinite(v)})
    if not vals or any(v != int(v) for v in vals):
        raise FormatError(f"format {name!r}: LUT GEMM needs integer codebook values, got {vals}")
    iv = [int(v) for v in vals]
    step = 0
    for u, v in zip(iv[:-1], iv[1:], strict=True):
        step = math.gcd(step, v - u)
    step = max(step, 1)
    return float(iv[0]), float(step), (iv[-1] - iv[0]) // step + 1


def lut_weights(fmt: Any, enc: Encoded) -> LutWeights:
    """The unsigned levels, group scales and zero points of a ``[N, K]`` weight encoded along K
    (``fmt.encode(w, axis=-1)``), for the formats listed in the module docstring.

    Raises:
        FormatError: another family, codes that are not 2-D along axis 1, or scales that vary
            inside a group.
    """
    name = getattr(fmt, "name", str(fmt))
    codes = to_host(enc.codes)
    if codes.ndim != 2 or enc.axis not in (1, -1):
        raise FormatError(f"format {name!r}: LUT GEMM takes a [N, K] weight encoded along K (axis 1), got "
                          f"codes of shape {codes.shape} along axis {enc.axis}")
    n, k = codes.shape
    block = getattr(fmt, "block_size", None)
    G = int(block) if block else k
    G = max(min(G, k), 1)
    c = codes.astype(np.int64)
    if isinstance(fmt, AsymIntFormat):
        b = fmt.bits
        q = c
        zp = to_host(enc.meta["zero_point"]).astype(np.float64).reshape(n, -1)
        sc = to_host(enc.scales).astype(np.float64).reshape(n, -1)
        ng = -(-k // G)
        if zp.shape[1] != ng or sc.shape[1] != ng:  # tensor / channel scale: one per row
            zp = np.broadcast_to(zp[:, :1], (n, ng)).copy()
            sc = np.broadcast_to(sc[:, :1], (n, ng)).copy()
        return LutWeights(q.astype(np.uint8), b, G, sc, zp, name)
    if isinstance(fmt, Format) and isinstance(fmt.element, IntElement):
        el = fmt.element
        b = el.bits
        if el.encoding == "sign_magnitude":
            mag = c & ((1 << (b - 1)) - 1)
            kk = np.where(c >> (b - 1), -mag, mag)
        else:
            kk = np.where(c >= (1 << (b - 1)), c - (1 << b), c)
        s = _per_group(name, _unit_scale(fmt, enc, 1), G)
        zero = np.full(s.shape, float(1 << (b - 1)))
        return LutWeights((kk + (1 << (b - 1))).astype(np.uint8), b, G, s, zero, name)
    if isinstance(fmt, (CodebookFormat, TernaryFormat)):
        if isinstance(fmt, CodebookFormat):
            if len(fmt.types) != 1:
                raise FormatError(f"format {name!r}: LUT GEMM takes one codebook, not a mixture of "
                                  f"{len(fmt.types)}")
            cb = fmt.types[0]
        else:
            cb = fmt.codebook
        table = tuple(float(v) for v in cb.table)
        vmin, step, levels = _grid_of(name, table)
        unit = next((i for i, v in enumerate(table) if abs(v) == 1.0), None)
        if unit is None:
            raise FormatError(f"format {name!r}: LUT GEMM reads the scale from a code of value +-1; "
                              f"codebook {cb.name!r} has none")
        b = max(1, math.ceil(math.log2(levels)))
        lv = np.array([(v - vmin) / step if math.isfinite(v) else -1 for v in table])
        q = lv[c]
        if (q < 0).any():
            raise FormatError(f"format {name!r}: codes hold a pattern the codebook never produces")
        s = _per_group(name, _unit_scale(fmt, enc, unit) * table[unit], G) * step
        zero = np.full(s.shape, -vmin / step)
        return LutWeights(q.astype(np.uint8), b, G, s, zero, name)
    raise FormatError(f"format {name!r} ({type(fmt).__name__}) is not an integer-grid weight format; LUT GEMM "
                      "takes integer-element formats, asymmetric INT, ternary and integer codebooks")


# ------------------------------------------------------------------------------------------------
# tables
# ------------------------------------------------------------------------------------------------
@nb.njit(cache=True)
def _fp_tables_kernel(a, g, f32, mirror, out):
    """Entry ``j`` (or, mirrored, stored entry ``h`` = index ``2h + 1``): ``+-a0 +- a1 ...``
    left to right (float32 adds when ``f32``, else float64)."""
    M, C = out.shape[0], out.shape[1]
    E = out.shape[2]
    for m in range(M):
        for c in range(C):
            for e in range(E):
                j = 2 * e + 1 if mirror else e
                if f32:
                    acc32 = a[m, c * g] if j & 1 else -a[m, c * g]
                    for t in range(1, g):
                        if (j >> t) & 1:
                            acc32 = np.float32(acc32 + a[m, c * g + t])
                        else:
                            acc32 = np.float32(acc32 - a[m, c * g + t])
                    out[m, c, e] = acc32
                else:
                    acc = np.float64(a[m, c * g]) if j & 1 else -np.float64(a[m, c * g])
                    for t in range(1, g):
                        if (j >> t) & 1:
                            acc += np.float64(a[m, c * g + t])
                        else:
                            acc -= np.float64(a[m, c * g + t])
                    out[m, c, e] = acc


def _pad_chunks(a: np.ndarray, g: int) -> np.ndarray:
    m, k = a.shape
    c = -(-k // g)
    if c * g == k:
        return np.ascontiguousarray(a)
    out = np.zeros((m, c * g), np.float32)
    out[:, :k] = a
    return out


def fp_tables(a: Any, g: int = 4, table_format: str | None = None, mirror: bool = False) -> np.ndarray:
    """Float tables of ``a [M, K]`` (float32): ``[M, ceil(K/g), 2^g]`` (mirror: ``2^(g-1)``, the
    odd entries) in float64 (``table_format=None``) or float32 (``"fp32"``)."""
    a2 = _pad_chunks(_activations(a), g)
    m, kp = a2.shape
    E = 1 << (g - 1) if mirror else 1 << g
    out = np.zeros((m, kp // g, E), np.float32 if table_format == "fp32" else np.float64)
    if out.size:
        _fp_tables_kernel(a2, g, table_format == "fp32", mirror, out)
    return out


@nb.njit(cache=True)
def _int8_tables_kernel(a, act_group, mirror, qlut, scales, biases):
    """``lut_ctor_g4_int8_impl`` (AVX2, FastAggregationK = 0) with ``partial_max_g4_int8_k8``."""
    M = a.shape[0]
    n_ag = scales.shape[1]
    cpg = act_group // 4
    ent = np.zeros(16, np.float32)
    lane0 = np.zeros(8, np.float32)
    for m in range(M):
        for ag in range(n_ag):
            c0 = ag * cpg
            mx = np.float32(0.0)
            for c in range(c0, c0 + cpg):
                k = c * 4
                s01 = np.float32(abs(a[m, k]) + abs(a[m, k + 1]))
                s23 = np.float32(abs(a[m, k + 2]) + abs(a[m, k + 3]))
                s = np.float32(s01 + s23)
                mx = max(mx, s)
            sc = np.float32(mx / np.float32(INT8_QMAX))
            ts = np.float32(np.float32(1.0) / sc) if sc != 0 else np.float32(0.0)
            bias = np.float32(0.0)
            for c in range(c0, c0 + cpg):
                k = c * 4
                for j in range(1, 16, 2):
                    v = a[m, k]
                    for t in range(1, 4):
                        if (j >> t) & 1:
                            v = np.float32(v + a[m, k + t])
                        else:
                            v = np.float32(v - a[m, k + t])
                    ent[j] = v
                for j in range(0, 16, 2):
                    ent[j] = -ent[15 - j]
                lane0[(c - c0) % 8] = ent[0]
                if (c - c0) % 8 == 7:  # one 32-activation block: _mm256_addv_ps of its 8 entries 0
                    r0 = np.float32(lane0[0] + lane0[4])
                    r1 = np.float32(lane0[1] + lane0[5])
                    r2 = np.float32(lane0[2] + lane0[6])
                    r3 = np.float32(lane0[3] + lane0[7])
                    bias = np.float32(bias + np.float32(np.float32(r0 + r2) + np.float32(r1 + r3)))
                for j in range(16):
                    if mirror and not (j & 1):
                        continue
                    r = np.rint(np.float32(ent[j] * ts))
                    r = min(max(r, -128.0), 127.0)
                    qlut[m, c, j // 2 if mirror else j] = np.int8(r)
            scales[m, ag] = sc
            biases[m, ag] = bias


def tmac_int8_tables(a: Any, act_group: int = 64, mirror: bool = False) -> Int8Tables:
    """T-MAC's int8 tables (g = 4) of ``a [M, K]`` (see the module docstring); ``K`` must be a
    multiple of ``act_group`` and ``act_group`` of 32 (T-MAC's ``partial_max`` works on 32
    activations: ``act_group_size % 32 == 0``).

    Raises:
        FormatError: ``act_group`` not a positive multiple of 32 dividing K.
    """
    a2 = _activations(a)
    m, k = a2.shape
    if act_group <= 0 or act_group % 32 or k % act_group:
        raise FormatError(f"int8 LUT tables: act_group={act_group} must be a positive multiple of 32 dividing "
                          f"K={k} (T-MAC: act_group_size % 32 == 0, K % act_group_size == 0)")
    qlut = np.zeros((m, k // 4, 8 if mirror else 16), np.int8)
    scales = np.zeros((m, k // act_group), np.float32)
    biases = np.zeros((m, k // act_group), np.float32)
    if m:
        _int8_tables_kernel(np.ascontiguousarray(a2), act_group, mirror, qlut, scales, biases)
    return Int8Tables(qlut, scales, biases)


def _activations(a: Any) -> np.ndarray:
    """float32 ``[M, K]`` (2-D) from float input; float64 values must be float32 values."""
    x = to_host(a)
    if x.dtype.kind != "f":
        raise FormatError(f"LUT GEMM: activations must be floats, got {x.dtype}")
    x32 = x.astype(np.float32)
    if x.dtype.itemsize > 4 and not np.array_equal(x32.astype(x.dtype), x, equal_nan=True):
        raise FormatError("LUT GEMM: float64 activations must be float32 values (quantize them first)")
    return x32.reshape(-1, x.shape[-1]) if x.ndim != 2 else x32


# ------------------------------------------------------------------------------------------------
# the GEMM
# ------------------------------------------------------------------------------------------------
@nb.njit(cache=True, parallel=True)
def _lut_kernel(tab, mirror, g, idx, cpg, cpa, ls, A, scales, beta, out):
    """``out[m, n]`` in the order of the module docstring. ``tab`` float64 [M, C, E]; ``idx``
    [b, N, C]; ``cpg``/``cpa`` chunks per weight / activation group; ``ls`` [M, n_ag] table scales;
    ``A`` [M, n_wg] group sums of the activations; ``scales``/``beta`` [N, n_wg]."""
    bits, N, C = idx.shape
    M = tab.shape[0]
    n_wg = scales.shape[1]
    mask = (1 << g) - 1
    for n in nb.prange(N):
        for m in range(M):
            y = 0.0
            for wg in range(n_wg):
                c0 = wg * cpg
                c1 = min(C, c0 + cpg)
                inner = 0.0
                for s0 in range(c0, c1, cpa):
                    s1 = min(c1, s0 + cpa)
                    seg = 0.0
                    alpha = 0.5
                    for i in range(bits):
                        acc = 0.0
                        for c in range(s0, s1):
                            j = idx[i, n, c]
                            if mirror:
                                if j & 1:
                                    acc += tab[m, c, j >> 1]
                                else:
                                    acc -= tab[m, c, ((~j) & mask) >> 1]
                            else:
                                acc += tab[m, c, j]
                        seg += alpha * acc
                        alpha *= 2.0
                    inner += ls[m, s0 // cpa] * seg
                inner += beta[n, wg] * A[m, wg]
                y += scales[n, wg] * inner
            out[m, n] = np.float32(y)


@nb.njit(cache=True)
def _group_sums(a, G, n_wg, out):
    """float64 sum of each weight group's activations, in order."""
    M, K = a.shape
    for m in range(M):
        for wg in range(n_wg):
            acc = 0.0
            for k in range(wg * G, min(K, wg * G + G)):
                acc += np.float64(a[m, k])
            out[m, wg] = acc


def lut_gemm(a: Any, w: LutWeights | Encoded, fmt: Any = None, *, g: int = 4, table_format: str | None = None,
             mirror: bool = False, act_group: int | None = 64) -> np.ndarray:
    """``y = a @ W^T`` for ``a [..., K]`` and weights ``W [N, K]`` by bit-plane table lookup.

    Args:
        a: activations (float32 values; numpy or torch).
        w: :class:`LutWeights` (from :func:`lut_weights`), or an :class:`Encoded` weight with its
            ``fmt``.
        g: activations per table (T-MAC: 4; 1..8). ``table_format="int8"`` needs 4.
        table_format: ``None`` (full-precision entries), ``"fp32"`` or ``"int8"`` (T-MAC's table
            quantization; module docstring).
        mirror: store half of each table (mirror consolidation); never changes the result.
        act_group: activations sharing one int8 table scale (a multiple of 32 dividing K and the
            weight group; ``None``: the whole row, T-MAC's BitNet setting). Ignored for float tables.

    Returns:
        float32 ``[..., N]``.

    Raises:
        FormatError: an unknown table format, a bad ``g``/``act_group``, mismatched K.
    """
    if table_format not in TABLE_FORMATS:
        raise FormatError(f"table_format={table_format!r} not one of {list(TABLE_FORMATS)}")
    if isinstance(g, bool) or not isinstance(g, int) or not 1 <= g <= 8:
        raise FormatError(f"g={g!r} must be an int in 1..8")
    if table_format == "int8" and g != 4:
        raise FormatError(f"int8 tables follow T-MAC's lut_ctor_g4 (g = 4); got g={g}")
    lw = w if isinstance(w, LutWeights) else lut_weights(fmt, w)
    x = to_host(a)
    lead = x.shape[:-1]
    a2 = _activations(x)
    n, k = lw.shape
    if a2.shape[1] != k:
        raise FormatError(f"LUT GEMM: activations have K={a2.shape[1]}, weights K={k}")
    G = lw.group_size
    if G < k and G % g:
        raise FormatError(f"LUT GEMM: the weight group ({G}) must be a multiple of g={g}")
    n_wg = lw.scales.shape[1]
    cpg = -(-G // g) if G < k else -(-k // g)
    idx = lw.planes(g)
    m = a2.shape[0]
    out = np.zeros((m, n), np.float32)
    A = np.zeros((m, n_wg))
    if table_format == "int8":
        ag = k if act_group is None else int(act_group)
        if (G < k and G % ag) or ag % 4:
            raise FormatError(f"LUT GEMM: act_group={ag} must divide the weight group ({G}) (T-MAC nests "
                              "activation groups in weight groups)")
        t8 = tmac_int8_tables(a2, ag, mirror)
        tab = t8.qlut.astype(np.float64)
        ls = t8.scales.astype(np.float64)
        cpa = ag // 4
        per = max(G // ag, 1) if G < k else k // ag
        A = -t8.biases.astype(np.float64).reshape(m, -1, per).sum(axis=-1) if m else A
    else:
        tab = fp_tables(a2, g, table_format, mirror).astype(np.float64)
        cpa = cpg
        ls = np.ones((m, -(-idx.shape[2] // cpa)))
        if m:
            _group_sums(a2, G, n_wg, A)
    beta = ((1 << lw.bits) - 1) / 2.0 - lw.zero
    if m and n:
        _lut_kernel(np.ascontiguousarray(tab), mirror, g, idx, cpg, cpa, ls, A,
                    np.ascontiguousarray(lw.scales, np.float64), np.ascontiguousarray(beta, np.float64), out)
    return out.reshape(*lead, n)

