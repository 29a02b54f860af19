"""OliVe's outlier-victim pair quantization (catalog kind ``olive``).

OliVe (Guo et al., "OliVe: Accelerating Large Language Models via Hardware-friendly
Outlier-Victim Pair Quantization", ISCA'23, arXiv 2304.07493 §III-IV) quantizes adjacent element
pairs ``(2k, 2k+1)`` along the encode axis. A pair is either two *normal* values (int4 or flint4,
chosen per tensor), or one *outlier* in abfloat (a small float with an adaptive exponent bias
placed just above the normal range) plus its *victim*: the partner, pruned to 0 and stored as the
identifier code ``1000`` (int4's -8 and flint4's -0, both removed from the normal codes). A
decoder reading a pair therefore needs no side information. Official code:
``clevercool/ANT-Quantization`` @ bc84067, ``olive_quantization/antquant/quant_modules.py``
(``Quantizer.int_value``, ``flint_value``, ``outlier_value``, ``search_mse``,
``search_adaptive_numeric_type``, ``_forward``) and ``olive_quantization/quant/quant_kernel.cu``.

OliVe encode, exactly (module contract; numbers in type units: int4 normals -7..7, flint4 normals
+-{0,1,2,3,4,6,8,16}, int8 normals -127..127):

1. Grids. Normal type ``t`` has max ``N_t`` (7, 16, 127). Its abfloat values are
   ``+-(2^mb + m) * 2^(e + bias)`` over the ``exp_bits``-bit field ``e`` and the ``mb``-bit field
   ``m`` (``mb = bits - 1 - exp_bits``), except ``e = m = 0`` (so an outlier never uses codes
   ``0...0`` or ``10...0``). The adaptive bias is the smallest ``b`` with
   ``(2^mb + 1) * 2^b > N_t``: int4 -> 2 ({12,...,96}), flint4 -> 3 ({24,...,192}), int8 E2M5 -> 2
   ({132,...,2016}). This reproduces the code's ``outlier_value(exp_base=5)`` on its normalized
   grids for every type it defines (``real = (-1)^s ((1<<mb)+m) << (e+bias)``, OliVe Eq. 5 via
   the survey arXiv 2409.16694).
2. Scale. ``base`` = ``max(|mean + 3 std|, |mean - 3 std|)`` (unbiased std) of the channel (the
   slice along the encode axis: weights ``[out, in]`` encoded along ``in``) or of the tensor
   (activations); ``center="absmax"`` uses ``max|x|`` (the code's ``no_outlier`` branch). For
   each ``k`` in ``range(lo, hi, step)`` (LLM scripts: 75..249 step 2) and each type:
   ``s = fp32(base * (k/100) / N_t)`` (float64 product and quotient).
3. Elements. ``y = x / s`` (float64) rounds to the nearest value of the union of the normal and
   abfloat grids (exact comparison against the exact midpoints). A tie goes to the entry that comes
   LATER in the code's list ``sorted(normal) ++ sorted(abfloat)`` (quant_kernel.cu scans that list
   with ``<=``): between two normals or two outliers the larger value, between a normal and an
   outlier the outlier. So int4 values with ``|x| >= 9.5 s = 38/28 alpha`` become outliers and
   ``alpha < |x| < 38/28 alpha`` clip to ``+-alpha``; flint4: ``|x| >= 1.25 alpha``.
4. Pairs. An element whose value is abfloat is an outlier. If the left element (2k) is an outlier
   the right one is its victim (even if it is an outlier too); else if the right one is an outlier
   the left one is the victim (``_forward``). ``keep="larger"`` instead keeps, in an
   outlier-outlier pair, the element of larger ``|x|`` (left on a tie): the paper's "keep the
   larger" rule (OliVe §III-B per the paper summary); the code keeps the left one (the default).
   A victim's value is 0. An odd axis length pairs the last element with an implicit zero, which
   becomes the victim if the last element is an outlier (the code pairs across rows of the
   flattened tensor instead; pairs never cross an axis slice here).
5. Search. Per channel (per tensor), the ``k`` with the smallest float64 sum of squared errors of
   the pair-quantized values (victims included) wins, the first on a tie (``search_mse``). Type
   per tensor: the smallest sum over channels of the best errors, int first on a tie
   (``search_adaptive_numeric_type``, mode ``ant-int-flint``); formats wider than 6 bits use int
   only (``_init_quant_para``).
6. Value = grid value * s (float64) rounded to float32; a victim is +0.0.

Codes (the OliVe decoder, paper §IV; no official RTL): int normals are two's complement (``1000``
= -8 never used), flint4 normals sign-magnitude with the 3-bit flint magnitude
``000..111 -> 0,1,2,3,16,8,4,6`` (ANT's LZD rule, arXiv 2409.16694 Eq. 4; UNVERIFIED bit
assignment, value set matches the code), abfloat ``sign | e | m``, the identifier ``1 << (bits-1)``.
``encode`` returns the per-element codes and ``meta["packed"]``: 4-bit pairs as one byte with
element 2k in the HIGH nibble and 2k+1 in the low nibble (the decoder's ``(hi, lo)`` of paper
§IV-A); 8-bit pairs as two bytes ``[elem 2k, elem 2k+1]``.

Differences from the official code, on purpose: fp32 scales and float64 ``x / s`` with exact
midpoints (the CUDA loop compares ``fabsf(x - v)`` in float32), no ``102400`` distance cap (the
CUDA loop returns 0 for ``|y| > 102400 + max``), pairs within an axis slice, signed grids only
(the code switches activations to unsigned grids when the calibration batch is non-negative but
does not say where an unsigned identifier lives), squared-error sums instead of means (same argmin).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._family import (
    FamilyFormat,
    Slices,
    back_like,
    check_calibration_shape,
    from_slices,
    group_size_from,
    slice_base,
    to_host,
    to_numpy_codes,
    to_slices,
)
from hwsim.numerics.codebook import Codebook, _nearest, grid_of
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import GroupedIntCodes, KindSpec, OperandSpec, fp32_scale

__all__ = ["OliveFormat", "normal_codebook", "abfloat_codebook", "adaptive_bias", "pack_pairs", "CATALOG_KINDS"]

NORMALS = ("int", "flint")
KEEPS = ("left", "larger")
CENTERS = ("3sigma", "absmax")
SCALE_PER = ("channel", "tensor")

#: 3-bit flint magnitudes by code (ANT MICRO'22 §IV-A LZD rule; the bit assignment is UNVERIFIED:
#: the official code handles value sets only)
_FLINT3 = (0.0, 1.0, 2.0, 3.0, 16.0, 8.0, 4.0, 6.0)


# ------------------------------------------------------------------------------------------------
# grids
# ------------------------------------------------------------------------------------------------
@cache
def normal_codebook(kind: str, bits: int) -> Codebook:
    """The normal values of an OliVe pair, in type units, the identifier code NaN.

    ``int``: two's complement, ``-2^(bits-1)`` (code ``10...0``) removed (``int_value``: 0,
    +-1..+-(2^(bits-1) - 1)). ``flint`` (4 bits only): sign bit + 3-bit flint magnitude, ``-0``
    (``1000``) removed (``flint_value``: +-{0, 1, 2, 3, 4, 6, 8, 16} in units of its smallest step).
    """
    ident = 1 << (bits - 1)
    if kind == "int":
        table = [math.nan if c == ident else float(c - (1 << bits) if c > ident else c)
                 for c in range(1 << bits)]
    elif kind == "flint":
        if bits != 4:
            raise FormatError(f"OliVe flint normals are defined for 4 bits only, got bits={bits} "
                              f"(the code uses int above 6 bits)")
        table = [math.nan if c == ident else (-1.0 if c & 8 else 1.0) * _FLINT3[c & 7] for c in range(16)]
    else:
        raise FormatError(f"OliVe normal type {kind!r} not one of {list(NORMALS)}")
    return Codebook(name=f"{kind}{bits}", bits=bits, table=tuple(table), ties="up",
                    reference="OliVe ISCA'23 §III-A; quant_modules.py::Quantizer.int_value/flint_value")


def adaptive_bias(normal_max: float, man_bits: int) -> int:
    """Smallest ``b`` with ``(2^man_bits + 1) * 2^b > normal_max``: the abfloat's smallest magnitude
    sits just above the normal range (OliVe §III-C "adaptive biased float")."""
    b = 0
    while ((1 << man_bits) + 1) * 2.0 ** b <= normal_max:
        b += 1
    return b


@cache
def abfloat_codebook(bits: int, exp_bits: int, bias: int) -> Codebook:
    """abfloat: ``sign | e (exp_bits) | m (bits-1-exp_bits)`` -> ``+-(2^mb + m) * 2^(e + bias)``;
    ``e = m = 0`` (codes ``0...0`` and ``10...0``) is never an outlier, so NaN."""
    mb = bits - 1 - exp_bits
    if exp_bits < 1 or mb < 0:
        raise FormatError(f"abfloat{bits}: exp_bits={exp_bits} out of range [1, {bits - 1}]")
    table = []
    for c in range(1 << bits):
        e, m = (c >> mb) & ((1 << exp_bits) - 1), c & ((1 << mb) - 1)
        sign = -1.0 if c >> (bits - 1) else 1.0
        table.append(math.nan if e == 0 and m == 0 else sign * ((1 << mb) + m) * 2.0 ** (e + bias))
    return Codebook(name=f"abfloat{bits}_e{exp_bits}m{mb}_b{bias}", bits=bits, table=tuple(table), ties="up",
                    reference="OliVe ISCA'23 §III-C Eq. 5; quant_modules.py::Quantizer.outlier_value")


@dataclass(frozen=True, slots=True)
class PairGrid:
    """The union grid one normal type is rounded on (sorted), with codes, outlier flags, the
    midpoints and the tie picks of rule 3 (the later entry of ``sorted(normal) ++ sorted(abfloat)``)."""

    values: np.ndarray
    codes: np.ndarray
    is_outlier: np.ndarray
    mids: np.ndarray
    tie_pick: np.ndarray
    zero: int  #: index of the value 0
    buckets: tuple[float, float, np.ndarray]  #: table of :func:`_nearest_b` (lo, 1/width, counts)


@cache
def pair_grid(normal: Codebook, outlier: Codebook) -> PairGrid:
    gn, go = grid_of(normal), grid_of(outlier)
    if go.values[go.values > 0].min() <= gn.values.max() or go.values[go.values < 0].max() >= gn.values.min():
        raise FormatError(f"{outlier.name}: outlier values overlap the {normal.name} range "
                          f"[{gn.values.min():g}, {gn.values.max():g}]")
    values = np.concatenate([gn.values, go.values])
    codes = np.concatenate([gn.codes, go.codes])
    out = np.concatenate([np.zeros(len(gn.values), bool), np.ones(len(go.values), bool)])
    rank = np.arange(len(values))  # position in the code's concatenated list
    order = np.argsort(values, kind="stable")
    values, codes, out, rank = values[order], codes[order], out[order], rank[order]
    mids = (values[:-1] + values[1:]) / 2
    pick = np.where(rank[1:] > rank[:-1], np.arange(1, len(values)), np.arange(len(values) - 1))
    zero = int(np.flatnonzero(values == 0.0)[0])
    buckets = _buckets(values, out, mids)
    for a in (values, codes, out, mids, pick, buckets[2]):
        a.setflags(write=False)
    return PairGrid(values, codes, out, mids, pick.astype(np.int64), zero, buckets)


# ------------------------------------------------------------------------------------------------
# kernels
# ------------------------------------------------------------------------------------------------
@nb.njit(cache=True, inline="always")
def _nearest_b(y, mids, pick, n, lo, inv, nb_, cnt):
    """:func:`~hwsim.numerics.codebook._nearest` through a bucket table: ``cnt[b]`` = number of
    midpoints below the start of bucket ``b``, which holds at most one midpoint (``mids`` is padded
    with +inf). A bucket index that float rounding put one off fails the check and falls back to
    the binary search, so the result is always the binary search's."""
    f = (y - lo) * inv
    if f >= 0.0 and f < nb_:
        i = cnt[int(f)]
        i += mids[i] < y
        if not (mids[i] < y or (i > 0 and mids[i - 1] >= y)):
            if mids[i] == y:
                return pick[i]
            return i
    return _nearest(y, mids, pick, n)


@nb.njit(cache=True, inline="always")
def _pair(xl, xr, sc, vals, mids, pick, isout, n, lo, inv, nb_, cnt, keep_larger):
    """Union-grid indices of a pair and which element is the victim (rules 3-4)."""
    il = _nearest_b(xl / sc, mids, pick, n, lo, inv, nb_, cnt)
    ir = _nearest_b(xr / sc, mids, pick, n, lo, inv, nb_, cnt)
    vl = False
    vr = False
    if isout[il]:
        if isout[ir] and keep_larger and abs(xr) > abs(xl):
            vl = True
        else:
            vr = True
    elif isout[ir]:
        vl = True
    return il, ir, vl, vr


@nb.njit(cache=True, parallel=True)
def _search_kernel(xs, base, factors, vals, mids, picks, isout, nvals, blo, binv, bn, bcnt, nmax, keep_larger):
    """err[r, t, k]: squared error of row r (pairs along it; even length, zero padded) quantized
    with type t at alpha = base[r] * factors[k]."""
    R, L = xs.shape
    T = vals.shape[0]
    K = factors.shape[0]
    err = np.zeros((R, T, K))
    for r in nb.prange(R):
        for t in range(T):
            n = nvals[t]
            vt, mt, pt, ot, ct = vals[t], mids[t], picks[t], isout[t], bcnt[t]
            lo, inv, nbk = blo[t], binv[t], bn[t]
            for k in range(K):
                sc = np.float64(np.float32(base[r] * factors[k] / nmax[t]))
                acc = 0.0
                if sc == 0.0 or not np.isfinite(sc):
                    for j in range(L):
                        acc += np.float64(xs[r, j]) ** 2
                else:
                    for j in range(0, L, 2):
                        xl = np.float64(xs[r, j])
                        xr = np.float64(xs[r, j + 1])
                        il, ir, vl, vr = _pair(xl, xr, sc, vt, mt, pt, ot, n, lo, inv, nbk, ct, keep_larger)
                        d = (0.0 if vl else vt[il] * sc) - xl
                        acc += d * d
                        d = (0.0 if vr else vt[ir] * sc) - xr
                        acc += d * d
                err[r, t, k] = acc
    return err


@nb.njit(cache=True, parallel=True)
def _encode_kernel(xs, scale, t, vals, mids, picks, isout, nvals, blo, binv, bn, bcnt, gcodes, ident, zero,
                   keep_larger, codes, out, omask):
    R, L = xs.shape
    n = nvals[t]
    for r in nb.prange(R):
        sc = np.float64(scale[r])
        for j in range(0, L, 2):
            if sc == 0.0:
                for h in range(2):
                    codes[r, j + h] = gcodes[t, zero]
                    out[r, j + h] = 0.0
                continue
            il, ir, vl, vr = _pair(np.float64(xs[r, j]), np.float64(xs[r, j + 1]), sc, vals[t], mids[t],
                                   picks[t], isout[t], n, blo[t], binv[t], bn[t], bcnt[t], keep_larger)
            if vl:
                codes[r, j] = ident
                out[r, j] = 0.0
            else:
                codes[r, j] = gcodes[t, il]
                out[r, j] = np.float32(vals[t, il] * sc)
                omask[r, j] = isout[t, il]
            if vr:
                codes[r, j + 1] = ident
                out[r, j + 1] = 0.0
            else:
                codes[r, j + 1] = gcodes[t, ir]
                out[r, j + 1] = np.float32(vals[t, ir] * sc)
                omask[r, j + 1] = isout[t, ir]


def _stack(grids: list[PairGrid]) -> tuple[np.ndarray, ...]:
    n = max(len(g.values) for g in grids)
    T = len(grids)
    vals = np.zeros((T, n))
    mids = np.full((T, n), np.inf)  # +inf pad: _nearest_b reads one past the last midpoint
    picks = np.zeros((T, n - 1), np.int64)
    isout = np.zeros((T, n), np.bool_)
    gcodes = np.zeros((T, n), np.uint8)
    for t, g in enumerate(grids):
        k = len(g.values)
        vals[t, :k], gcodes[t, :k], isout[t, :k] = g.values, g.codes, g.is_outlier
        mids[t, :k - 1], picks[t, :k - 1] = g.mids, g.tie_pick
    nvals = np.array([len(g.values) for g in grids], np.int64)
    tables = [g.buckets for g in grids]
    blo = np.array([b[0] for b in tables])
    binv = np.array([b[1] for b in tables])
    bn = np.array([len(b[2]) for b in tables], np.int64)
    bcnt = np.zeros((T, bn.max()), np.int64)
    for t, b in enumerate(tables):
        bcnt[t, :len(b[2])] = b[2]
    return vals, mids, picks, isout, nvals, blo, binv, bn, bcnt, gcodes


_MAX_BUCKETS = 1 << 14


def _buckets(values: np.ndarray, is_outlier: np.ndarray, mids: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Bucket table of :func:`_nearest_b`: width = the smallest gap between midpoints (a power of
    two, so bucket starts are exact), over all midpoints or, if that needs more than 2^14 buckets,
    over those of the normal range; values outside fall back to the binary search."""
    m = mids
    gap = float(np.diff(m).min()) if len(m) > 1 else 1.0
    h = 2.0 ** math.floor(math.log2(gap))
    lo, hi = float(m[0]), float(m[-1])
    if (hi - lo) / h > _MAX_BUCKETS:
        inner = m[np.abs(m) <= np.abs(values[~is_outlier]).max() * 2]
        lo, hi = float(inner[0]), float(inner[-1])
    nbk = int(min(_MAX_BUCKETS, math.floor((hi - lo) / h) + 1))
    starts = lo + h * np.arange(nbk)
    return lo, 1.0 / h, np.searchsorted(m, starts, side="left").astype(np.int64)


def _pair_rows(a: np.ndarray, axis: int) -> tuple[Slices, np.ndarray]:
    """``a`` as one row per slice along ``axis`` (:func:`~hwsim.numerics._family.to_slices`, group
    size 0), padded with one zero column if the axis length is odd (the last pair's implicit
    partner); :func:`~hwsim.numerics._family.from_slices` drops the pad."""
    sl = to_slices(a, axis, 0)
    rows = sl.xs[:, :sl.shape[axis] if sl.shape else 1]
    if rows.shape[1] % 2:
        rows = np.concatenate([rows, np.zeros((rows.shape[0], 1), rows.dtype)], axis=1)
    return sl, np.ascontiguousarray(rows)


def pack_pairs(codes_rows: np.ndarray, bits: int) -> np.ndarray:
    """Rows of even length -> the bytes the OliVe decoder reads: 4-bit: one byte per pair,
    ``code[2k] << 4 | code[2k+1]``; 8-bit: the two bytes in element order."""
    c = np.asarray(codes_rows, np.uint8)
    if bits == 4:
        return ((c[:, 0::2] << 4) | c[:, 1::2]).astype(np.uint8)
    return c.copy()


# ------------------------------------------------------------------------------------------------
# the format
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class OliveFormat(FamilyFormat, GroupedIntCodes):
    """OliVe outlier-victim pair quantization (module docstring: the exact rules).

    Fields:
        bits: code width of one element (4 or 8; a pair is one or two bytes).
        normals: candidate normal types, ``int`` and/or ``flint`` (flint: 4 bits only); several
            -> one chosen per tensor by MSE (mode ``ant-int-flint``). Wider than 6 bits: int only.
        outlier_exp_bits: abfloat exponent bits (mantissa = bits - 1 - this). 4-bit: E2M1.
            8-bit: 2 (E2M5, official code, default) or 4 (E4M3, the paper summary; UNVERIFIED
            which one the paper's numbers used).
        outlier_bias: abfloat bias in type units; None = adaptive (rule 1).
        group_size: 0 = one scale per slice along the encode axis (weights: per output channel),
            None = one scale per tensor (activations).
        center: base of the search, ``3sigma`` (OliVe) or ``absmax``.
        search: ``(lo, hi, step)``: alpha = base * k / 100 for k in range(lo, hi, step).
        keep: outlier-outlier pair: ``left`` (official code) or ``larger`` (paper).
    """

    name: str
    bits: int = 4
    normals: tuple[str, ...] = ("int", "flint")
    outlier_exp_bits: int = 2
    outlier_bias: int | None = None
    group_size: int | None = 0
    center: str = "3sigma"
    search: tuple[int, int, int] = (75, 250, 2)
    keep: str = "left"
    reference: str = ""
    description: str = ""

    takes_calibration = True
    #: the 3-sigma search picks the scale and the type; keep picks an outlier pair's survivor
    ENCODE_ONLY = frozenset({"center", "search", "keep"})

    def decode_meta(self, enc: Encoded) -> tuple[str, ...]:
        """The chosen normal type, when there is more than one (``packed`` is checked by decode)."""
        return ("selector",) if len(self.normals) > 1 else ()

    def __post_init__(self) -> None:
        n = self.name
        object.__setattr__(self, "normals", tuple(self.normals))
        object.__setattr__(self, "search", tuple(self.search))
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or not 3 <= self.bits <= 8:
            raise FormatError(f"format {n!r}: bits={self.bits!r} out of range [3, 8]")
        if not self.normals or len(set(self.normals)) != len(self.normals):
            raise FormatError(f"format {n!r}: normals {list(self.normals)} must be a non-empty list of "
                              f"distinct names from {list(NORMALS)}")
        for key, value, allowed in (("center", self.center, CENTERS), ("keep", self.keep, KEEPS)):
            if value not in allowed:
                raise FormatError(f"format {n!r}: {key} {value!r} not one of {list(allowed)}")
        if self.group_size not in (None, 0) or isinstance(self.group_size, bool):
            raise FormatError(f"format {n!r}: group_size={self.group_size!r} must be 0 (per slice along the "
                              f"axis) or None (per tensor)")
        lo, hi, step = self.search if len(self.search) == 3 else (0, 0, 0)
        if len(self.search) != 3 or step <= 0 or lo <= 0 or hi <= lo:
            raise FormatError(f"format {n!r}: search {self.search!r} must be (lo, hi, step) with 0 < lo < hi "
                              f"and step > 0 (alpha = base * k / 100, k in range(lo, hi, step))")
        if not isinstance(self.outlier_exp_bits, int) or not 1 <= self.outlier_exp_bits <= self.bits - 1:
            raise FormatError(f"format {n!r}: outlier_exp_bits={self.outlier_exp_bits!r} out of range "
                              f"[1, {self.bits - 1}] (sign + exponent + mantissa = bits)")
        if self.bits > 6 and self.normals != ("int",):
            raise FormatError(f"format {n!r}: above 6 bits OliVe uses int normals only, got {list(self.normals)}")
        try:
            self.grids  # noqa: B018 - builds and checks every codebook
        except FormatError as exc:
            raise FormatError(f"format {n!r}: {exc}") from None

    # --- derived ------------------------------------------------------------------------------
    @property
    def normal_types(self) -> tuple[Codebook, ...]:
        return tuple(normal_codebook(k, self.bits) for k in self.normals)

    @property
    def outlier_types(self) -> tuple[Codebook, ...]:
        """The abfloat codebook of each normal type (its bias adapted to that type's max)."""
        mb = self.bits - 1 - self.outlier_exp_bits
        out = []
        for cb in self.normal_types:
            bias = adaptive_bias(cb.max, mb) if self.outlier_bias is None else self.outlier_bias
            if not isinstance(bias, int) or bias < 0:
                raise FormatError(f"outlier_bias={bias!r} must be None or an int >= 0")
            out.append(abfloat_codebook(self.bits, self.outlier_exp_bits, bias))
        return tuple(out)

    @property
    def grids(self) -> tuple[PairGrid, ...]:
        return tuple(pair_grid(a, b) for a, b in zip(self.normal_types, self.outlier_types, strict=False))

    @property
    def identifier(self) -> int:
        """The code of a victim (``1000``, ``1000_0000``)."""
        return 1 << (self.bits - 1)

    @property
    def element_bits(self) -> int:
        return self.bits

    @property
    def bits_per_element(self) -> float:
        """Pairs are ``2 * bits`` wide with no side information; per-channel / per-tensor scales
        and the per-tensor type bit are not counted (as for ``int8_channel``)."""
        return float(self.bits)

    @property
    def is_scaled(self) -> bool:
        return True

    @property
    def operand(self) -> OperandSpec:
        """``bits``-bit codes (normals and abfloat outliers share the code space) and one fp32
        scale per channel or per tensor (module docstring rules 2 and 5); rounding to the nearest
        value of the union grid, ties to the later list entry (rule 3)."""
        base = "3-sigma" if self.center == "3sigma" else "max|x|"
        rule = (f"alpha = {base} x k/100, k in range{self.search} with the least squared error, "
                f"/ normal max (OliVe ISCA'23 search_mse)")
        return OperandSpec(self.bits, self.bits_per_element, False, 0, self.man_bits,
                           (fp32_scale(self.group_size, rule),), "ties_later")

    @property
    def max(self) -> float:
        """Largest outlier magnitude in type units (int4: 96, flint4: 192)."""
        return float(max(np.abs(g.values).max() for g in self.grids))

    def values(self) -> np.ndarray:
        """Every normal and outlier value of every candidate type (type units)."""
        return np.unique(np.concatenate([g.values for g in self.grids]))

    def describe(self) -> str:
        return " | ".join(f"{a.name}+{b.name}" for a, b in zip(self.normal_types, self.outlier_types, strict=False))

    # --- codec --------------------------------------------------------------------------------
    def _kernel_args(self) -> tuple[np.ndarray, ...]:
        return _stack(list(self.grids))

    def _plan(self, a: np.ndarray, ax: int) -> tuple[np.ndarray, int, np.ndarray]:
        """Per-row float32 scale, the type index and per-row alpha (rules 2, 5) chosen on ``a``."""
        _, rows = _pair_rows(a, ax)
        R = rows.shape[0]
        if self.group_size is None:
            base = np.full(R, slice_base(to_slices(a, ax, None), "mse", self.center)[0])
        else:
            base = slice_base(to_slices(a, ax, 0), "mse", self.center)
        vals, mids, picks, isout, nvals, blo, binv, bn, bcnt, _ = self._kernel_args()
        nmax = np.array([cb.max for cb in self.normal_types])
        factors = np.arange(*self.search, dtype=np.float64) / 100.0
        if R and rows.shape[1]:
            err = _search_kernel(rows, base, factors, vals, mids, picks, isout, nvals, blo, binv, bn, bcnt, nmax,
                                 self.keep == "larger")
        else:
            err = np.zeros((R, len(nmax), len(factors)))
        if self.group_size is None:
            tot = err.sum(axis=0)  # [T, K]
            best_k = np.argmin(tot, axis=1)
            t = int(np.argmin(tot[np.arange(len(nmax)), best_k]))
            kk = np.full(R, best_k[t])
        else:
            best_k = np.argmin(err, axis=2)  # [R, T]
            best = np.take_along_axis(err, best_k[:, :, None], axis=2)[:, :, 0]
            t = int(np.argmin(best.sum(axis=0)))
            kk = best_k[:, t]
        alpha = base * factors[kk]
        scale = (alpha / nmax[t]).astype(np.float32)
        if not np.all(np.isfinite(scale)):
            raise FormatError(f"format {self.name!r}: scale overflows float32 (|x| near the float32 max)")
        return scale, t, alpha.astype(np.float32)

    def _run(self, x: Any, axis: int, calibration: Any) -> tuple[np.ndarray, Encoded]:
        """Values and the :class:`Encoded`: per-element codes (uint8, shape of x; victims hold the
        identifier), float32 scales (per channel: x's shape with the axis length 1; per tensor:
        0-d) and ``meta``: ``selector``/``type`` (chosen normal type), ``alpha`` (searched clipping
        value), ``outlier_mask`` (bool, shape of x), ``packed`` (the pairs as bytes, x's shape with
        the axis length ceil(L/2) (4-bit) or 2 ceil(L/2) (8-bit)). ``calibration``: the tensor the
        scales and type are chosen on (per-channel: same channels as x; per-tensor: any shape)."""
        a, ax = self._prepare(x, axis)
        sl, rows = _pair_rows(a, ax)
        if calibration is None:
            scale, t, alpha = self._plan(a, ax)
        else:
            c, cax = self._prepare(calibration, axis)
            check_calibration_shape(self.name, self.group_size, a.shape, c.shape, ax)
            scale, t, alpha = self._plan(c, cax)
            if self.group_size is None:
                scale, alpha = np.full(rows.shape[0], scale[0] if scale.size else 1, np.float32), alpha[:1]
        vals, mids, picks, isout, nvals, blo, binv, bn, bcnt, gcodes = self._kernel_args()
        codes = np.zeros(rows.shape, np.uint8)
        out = np.zeros(rows.shape, np.float32)
        omask = np.zeros(rows.shape, np.bool_)
        if rows.size:
            _encode_kernel(rows, scale, t, vals, mids, picks, isout, nvals, blo, binv, bn, bcnt, gcodes,
                           self.identifier, self.grids[t].zero, self.keep == "larger", codes, out, omask)
        shape = a.shape
        packed = pack_pairs(codes, self.bits)
        lead = tuple(d for i, d in enumerate(shape) if i != ax)
        packed_x = np.moveaxis(packed.reshape(*lead, packed.shape[1]), -1, ax)
        if self.group_size is None:
            scales = np.float32(scale[0] if scale.size else 1.0)
            alpha_m = np.float32(alpha[0] if alpha.size else 0.0)
        else:
            gshape = tuple(1 if i == ax else d for i, d in enumerate(shape)) if shape else (1,)
            scales, alpha_m = scale.reshape(gshape), alpha.reshape(gshape)
        meta = {"selector": np.uint8(t), "type": self.normal_types[t].name,
                "types": [cb.name for cb in self.normal_types], "alpha": alpha_m,
                "outlier_mask": back_like(x, from_slices(sl, omask)),
                "packed": back_like(x, packed_x)}
        enc = Encoded(codes=back_like(x, from_slices(sl, codes)),
                      scales=back_like(x, np.asarray(scales, np.float32)), axis=ax, format=self.name, meta=meta)
        return from_slices(sl, out), enc

    def _decode(self, enc: Encoded) -> Any:
        """Values of the pairs (module docstring rule 6). Reads ``codes``; an odd axis length
        takes each row's implicit last partner from ``meta["packed"]``, which, when present, must
        agree with the codes. Raises FormatError on a pattern encode never produces: two
        identifiers in a pair, or an identifier next to code 0 (an outlier is never ``0...0``)."""
        c = to_numpy_codes(self.name, enc.codes, self.bits)
        if c.ndim == 0:  # encode treats a 0-d input as one element (paired with an implicit zero)
            one = Encoded(codes=c.reshape(1), scales=enc.scales, tensor_scale=enc.tensor_scale, axis=0,
                          format=enc.format, meta=enc.meta)
            return back_like(enc.codes, np.asarray(self._decode(one)).reshape(()))
        ax = enc.axis
        sl, rows = _pair_rows(c, ax)
        L = c.shape[ax]
        R = rows.shape[0]
        packed = enc.meta.get("packed")
        if packed is not None:
            p = np.moveaxis(np.atleast_1d(to_numpy_codes(self.name, packed, 8)), ax, -1)
            p = p.reshape(R, p.shape[-1])  # explicit: R may be 0
            if L % 2:
                rows[:, -1] = p[:, -1] & 0xF if self.bits == 4 else p[:, -1]
            if p.shape != (R, rows.shape[1] // (2 if self.bits == 4 else 1)) or not np.array_equal(
                    p, pack_pairs(rows, self.bits)):
                raise FormatError(f"format {self.name!r}: codes and meta['packed'] disagree")
        elif L % 2:
            raise FormatError(f"format {self.name!r}: odd axis length {L}: decode needs meta['packed'] "
                              f"for the implicit last partner")
        sel = np.asarray(enc.meta.get("selector", 0))
        if sel.size != 1 or sel.dtype.kind not in "ui" or int(sel.reshape(())) < 0:
            raise FormatError(f"format {self.name!r}: meta['selector'] must be one non-negative integer "
                              f"(the tensor's normal type), got {sel.dtype} of shape {sel.shape}")
        t = int(sel.reshape(()))
        if t >= len(self.normals):
            raise FormatError(f"format {self.name!r}: selector {t} >= {len(self.normals)} types")
        normal = np.asarray(self.normal_types[t].table)
        outl = np.asarray(self.outlier_types[t].table)
        ident = self.identifier
        hi, lo = rows[:, 0::2].astype(np.intp), rows[:, 1::2].astype(np.intp)
        hi_out, lo_out = lo == ident, hi == ident
        bad = (hi_out & lo_out) | (hi_out & (hi == 0)) | (lo_out & (lo == 0))
        if bad.any():
            r, k = np.argwhere(bad)[0]
            raise FormatError(f"format {self.name!r}: illegal pair (hi={hi[r, k]:0{self.bits}b}, "
                              f"lo={lo[r, k]:0{self.bits}b}) at row {r}, pair {k}: two identifiers, or an "
                              f"identifier next to code 0 (an outlier never uses it)")
        v = np.empty(rows.shape)
        v[:, 0::2] = np.where(hi_out, outl[hi], np.where(lo_out, 0.0, normal[hi]))
        v[:, 1::2] = np.where(lo_out, outl[lo], np.where(hi_out, 0.0, normal[lo]))
        scales = to_host(enc.scales).astype(np.float64).reshape(-1)
        if scales.size not in (1, R) or (self.group_size is not None and scales.size != R):
            raise FormatError(f"format {self.name!r}: {scales.size} scales, the codes need "
                              f"{1 if self.group_size is None else R}")
        out = (v * (scales[:, None] if scales.size == R else scales[0])).astype(np.float32)
        return back_like(enc.codes, from_slices(sl, out))


# ------------------------------------------------------------------------------------------------
# catalog kind "olive"
# ------------------------------------------------------------------------------------------------
def _build_olive(name: str, table: Any, codebooks: Any) -> OliveFormat:
    kw = {k: table[k] for k in ("bits", "outlier_exp_bits", "outlier_bias", "center", "keep", "reference",
                                "description") if k in table}
    if "normals" in table:
        kw["normals"] = tuple(table["normals"])
    if "search" in table:
        kw["search"] = tuple(table["search"])
    return OliveFormat(name=name, group_size=group_size_from(name, table), **kw)


def _catalog_kinds() -> dict[str, KindSpec]:
    return {"olive": KindSpec(
        schema={"bits": int, "normals": list, "outlier_exp_bits": int, "outlier_bias": int, "scale_per": str,
                "center": str, "search": list, "keep": str},
        allowed={"scale_per": SCALE_PER, "center": CENTERS, "keep": KEEPS},
        build=_build_olive)}


CATALOG_KINDS = _catalog_kinds()
