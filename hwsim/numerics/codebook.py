"""Codebook formats: a table of values indexed by code, a searched scale, and a chosen type.

The formats of the outlier / mixture / low-bit papers share one shape (STYLE P2: one generic
algorithm parameterized by data):

- a :class:`Codebook` maps every ``bits``-bit code to a value (ANT int/PoT/float/flint grids, the
  BitMoD FP4-ER/EA and FP3 types, OliVe's abfloat, ternary {-1, 0, 1}, DenseShift powers of two);
- a scale per tensor, per channel (one slice along the encode axis) or per group of ``group_size``
  elements along that axis, from the slice's absmax (BitMoD), its mean |x| (BitNet b1.58), or a
  minimum-MSE search over ``alpha = base * k / 100`` (ANT, OliVe ``search_mse``);
- a datatype chosen among several codebooks by MSE, per tensor (ANT
  ``search_adaptive_numeric_type``) or per group (BitMoD ``search_datatype``), exposed as a selector.

Exact semantics (docs/numerics.md, "Codebook formats"):

1. The stored scale is ``s = fp32(alpha / scale_max)`` (``alpha`` in float64; ``scale_max`` = the
   codebook's largest magnitude, or its largest value where the paper's code divides by that); with
   ``scale_storage="int8"`` the group's base (absmax) is first quantized to an INT8 code of the
   channel's step (BitMoD §III-C second-level scale): ``step = fp32(base_max / 127)``,
   ``code = RNE(base / step)`` (the division a decoder of the stored step does; exact),
   ``base = fp32(code * step)``. A stored scale beyond the float32 range saturates at its maximum.
2. Every element ``x`` becomes ``y = x / s`` (float64 division, correctly rounded), then the code of
   the nearest codebook value (exact comparison against the exact float64 midpoints of adjacent
   values; outside the grid: the end value). A tie goes where the codebook's ``ties`` rule says:
   ``up`` (ANT/OliVe CUDA ``<=`` loop: the larger value), ``down`` (BitMoD ``x <= mid``: the smaller),
   ``zero``, ``away``, or ``even`` (the neighbour of even rank in the sorted magnitudes: equals
   round-half-even on integer grids and on minifloat grids). Precisely, ``even`` goes up iff the
   upper neighbour's magnitude rank is even (equal parities: the larger if both are even, the
   smaller if both are odd); ``zero``/``away`` between -v and +v pick the smaller.
3. Value = ``fp32(table[code] * s)``, saturated at the largest finite float32 (a finite input never
   decodes to Inf). A value that several codes share encodes to the lowest such code (+0 before -0).
4. Search: ``alpha = base * (k / 100)`` (both float64); for each slice and each type, the ``k``
   with the smallest float64 sum of squared errors ``(table[c] * s - x)**2`` (the float64 product,
   before the float32 rounding of the output; first ``k`` wins a tie); type per tensor = smallest
   sum over slices of the per-slice best errors, per group = smallest error of that group;
   candidates in catalog order, first wins a tie.
5. Non-finite inputs raise :class:`~hwsim.errors.FormatError`: none of these papers defines an
   encoding for Inf/NaN and their codes have none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any, Literal

import numba as nb
import numpy as np

from hwsim.errors import FormatError, unknown_name
from hwsim.numerics._family import (
    SCALE_PER,
    FamilyFormat,
    Slices,
    back_like,
    check_calibration_shape,
    from_slices,
    group_size_from,
    groups_to_rows,
    rows_to_groups,
    slice_base,
    to_host,
    to_numpy_codes,
    to_slices,
)
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import GroupedIntCodes, KindSpec, OperandSpec, ScaleSpec, fp32_scale
from hwsim.numerics.types import RoundMode

__all__ = ["Codebook", "CodebookFormat", "Grid", "grid_of", "Stack", "stack_of", "encode_rows", "search_errors",
           "nearest_codes", "TIES", "SCALE_RULES", "TIE_ROUNDING", "ties_rounding", "codebooks_named",
           "CATALOG_KINDS"]

_F32_MAX = float(np.finfo(np.float32).max)

Ties = Literal["even", "up", "down", "zero", "away"]
TIES = ("even", "up", "down", "zero", "away")
SCALE_RULES = ("absmax", "mse", "absmean", "unit")
CENTERS = ("absmax", "3sigma")
STORAGES = ("fp32", "int8")
SELECTS = ("tensor", "group")


@dataclass(frozen=True, slots=True, kw_only=True)
class Codebook:
    """A value table indexed by code. ``table[c]`` is the value of code ``c``; NaN marks a code that
    is never produced (e.g. OliVe's identifier ``1000``, a packed-pair marker)."""

    name: str
    bits: int
    table: tuple[float, ...]
    ties: Ties = "even"
    #: the scale denominator: ``absmax`` = max |value| (BitMoD ``qmax = max(abs(x))``), ``max`` =
    #: the largest value (ANT ``convert_tensor`` normalizes by ``torch.max(grid)``: 7 for -8..7)
    denominator: str = "absmax"
    reference: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", tuple(float(v) for v in self.table))
        if self.denominator not in ("absmax", "max"):
            raise FormatError(f"codebook {self.name!r}: denominator {self.denominator!r} not one of "
                              f"['absmax', 'max']")
        if not 1 <= self.bits <= 8:
            raise FormatError(f"codebook {self.name!r}: bits={self.bits} out of range [1, 8]")
        if len(self.table) != 1 << self.bits:
            raise FormatError(f"codebook {self.name!r}: table has {len(self.table)} entries, "
                              f"a {self.bits}-bit code needs {1 << self.bits}")
        finite = [v for v in self.table if math.isfinite(v)]
        if len(finite) + sum(math.isnan(v) for v in self.table) != len(self.table):
            raise FormatError(f"codebook {self.name!r}: table holds an infinite value")
        if len({v + 0.0 for v in finite}) < 2:
            raise FormatError(f"codebook {self.name!r}: needs at least two distinct values")
        if self.ties not in TIES:
            raise FormatError(f"codebook {self.name!r}: ties {self.ties!r} not one of {list(TIES)}")
        if self.denominator == "max" and max(finite) <= 0:
            raise FormatError(f"codebook {self.name!r}: denominator 'max' needs a positive value in the "
                              f"table (its largest value is {max(finite):g}); use 'absmax'")

    @property
    def max(self) -> float:
        """Largest magnitude."""
        return float(np.max(np.abs(self.values())))

    @property
    def scale_max(self) -> float:
        """The scale denominator (``denominator``): stored scale = fp32(alpha / scale_max)."""
        v = self.values()
        return float(np.max(np.abs(v)) if self.denominator == "absmax" else np.max(v))

    def values(self) -> np.ndarray:
        """Distinct values, sorted (float64)."""
        return grid_of(self).values.copy()

    def describe(self) -> str:
        vals = ", ".join(f"{v:g}" for v in self.values())
        return f"{self.name} ({self.bits}-bit codebook: {vals})"


@dataclass(frozen=True, slots=True)
class Grid:
    """Arrays the kernels read: sorted distinct ``values``, the ``codes`` producing them, the
    ``mids`` between neighbours and ``tie_pick[i]`` (``i`` or ``i + 1``) for a value on ``mids[i]``."""

    values: np.ndarray
    codes: np.ndarray
    mids: np.ndarray
    tie_pick: np.ndarray
    #: bin lookup: bin i = (lut_lo + i*2**-lut_shift, lut_lo + (i+1)*2**-lut_shift) holds no
    #: midpoint inside, so every y strictly inside it rounds to values[lut[i]]
    lut_lo: float = 0.0
    lut_shift: int = 0
    lut: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@cache
def grid_of(cb: Codebook) -> Grid:
    entries: dict[float, int] = {}
    for code, v in enumerate(cb.table):
        if math.isnan(v):
            continue
        key = v + 0.0
        prev = entries.get(key)
        # lowest code wins, except that a +0 code beats a -0 code
        if prev is None or (key == 0.0 and math.copysign(1, cb.table[prev]) < 0 < math.copysign(1, v)):
            entries[key] = code
    values = np.array(sorted(entries), dtype=np.float64)
    codes = np.array([entries[v] for v in values], dtype=np.uint8)
    mids = (values[:-1] + values[1:]) / 2  # exact: grid values are dyadic with small exponents
    if not np.all((mids > values[:-1]) & (mids < values[1:])):
        raise FormatError(f"codebook {cb.name!r}: midpoints not representable in float64")
    mags = np.unique(np.abs(values))
    rank = {float(m): i for i, m in enumerate(mags)}
    pick = np.empty(len(mids), dtype=np.int64)
    for i in range(len(mids)):
        lo, hi = values[i], values[i + 1]
        if cb.ties == "up":
            up = True
        elif cb.ties == "down":
            up = False
        elif cb.ties == "zero":
            up = abs(hi) < abs(lo)
        elif cb.ties == "away":
            up = abs(hi) > abs(lo)
        else:  # even rank among magnitudes
            up = rank[abs(float(hi))] % 2 == 0
        pick[i] = i + 1 if up else i
    lo, shift, lut = _bin_lut(mids)
    for a in (values, codes, mids, pick, lut):
        a.setflags(write=False)
    return Grid(values, codes, mids, pick, lo, shift, lut)


_LUT_MAX_BINS = 1 << 14


def _bin_lut(mids: np.ndarray) -> tuple[float, int, np.ndarray]:
    """Uniform bins of width 2**-shift whose edges include every midpoint (midpoints are dyadic),
    and the index of the nearest value for each bin's interior. Empty when too many bins."""
    if len(mids) < 2:
        return 0.0, 0, np.zeros(0, np.int64)
    diffs = [Fraction(float(m)) - Fraction(float(mids[0])) for m in mids[1:]]
    shift = max(d.denominator.bit_length() - 1 for d in diffs)  # denominators are powers of 2
    h = Fraction(1, 1 << shift) if shift >= 0 else Fraction(1)
    # the largest power of two dividing every difference (fewest bins)
    while all((d / (h * 2)).denominator == 1 for d in diffs):
        h *= 2
        shift -= 1
    lo = float(mids[0]) - float(h)
    n_bins = int((Fraction(float(mids[-1])) - Fraction(lo)) / h) + 1
    if n_bins > _LUT_MAX_BINS or not -60 < shift < 60:
        return 0.0, 0, np.zeros(0, np.int64)
    centers = lo + (np.arange(n_bins) + 0.5) * float(h)
    return lo, shift, np.searchsorted(mids, centers).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# kernels
# ----------------------------------------------------------------------------------------------
@nb.njit(cache=True, inline="always")
def _nearest(y, mids, pick, n):
    """Index into the sorted values of the nearest value to ``y`` (tie: ``pick``)."""
    lo = 0
    hi = n - 1
    while lo < hi:
        m = (lo + hi) >> 1
        if mids[m] < y:
            lo = m + 1
        else:
            hi = m
    if lo < n - 1 and mids[lo] == y:
        return pick[lo]
    return lo


@nb.njit(cache=True, inline="always")
def _nearest_fast(y, lo, inv_h, lut, nbins, mids, pick, n):
    """:func:`_nearest` through the bin table: exact, since ``(y - lo) * inv_h`` is monotone in y
    and a y on a bin edge (t integral) takes the exact search."""
    if nbins == 0:
        return _nearest(y, mids, pick, n)
    t = (y - lo) * inv_h
    if t <= 0.0:  # y <= lo < mids[0]
        return 0
    if t >= nbins:  # y >= the last edge > mids[-1]
        return n - 1
    i = np.int64(t)
    if i == t:
        return _nearest(y, mids, pick, n)
    return lut[i]


@nb.njit(cache=True, parallel=True)
def _search_kernel(xs, lens, base, factors, vals, mids, picks, nvals, gmax, lo, inv_h, luts, nbins):
    """err[s, t, k]: sum of squared errors of slice s quantized with type t at alpha factor k."""
    S = xs.shape[0]
    T = vals.shape[0]
    K = factors.shape[0]
    err = np.zeros((S, T, K))
    for s in nb.prange(S):
        row = xs[s]
        L = lens[s]
        for t in range(T):
            n = nvals[t]
            for k in range(K):
                sc = np.float64(np.float32(min(base[s] * factors[k] / gmax[t], _F32_MAX)))
                acc = 0.0
                if sc == 0.0 or not np.isfinite(sc):
                    for j in range(L):
                        acc += np.float64(row[j]) ** 2
                else:
                    for j in range(L):
                        x = np.float64(row[j])
                        i = _nearest_fast(x / sc, lo[t], inv_h[t], luts[t], nbins[t], mids[t], picks[t], n)
                        d = vals[t, i] * sc - x
                        acc += d * d
                err[s, t, k] = acc
    return err


@nb.njit(cache=True, parallel=True)
def _encode_kernel(xs, lens, scale, tsel, vals, mids, picks, nvals, gcodes, codes, out, lo, inv_h, luts,
                   nbins):
    S = xs.shape[0]
    for s in nb.prange(S):
        t = tsel[s]
        sc = np.float64(scale[s])
        n = nvals[t]
        for j in range(lens[s]):
            x = np.float64(xs[s, j])
            y = 0.0 if sc == 0.0 else x / sc
            i = _nearest_fast(y, lo[t], inv_h[t], luts[t], nbins[t], mids[t], picks[t], n)
            codes[s, j] = gcodes[t, i]
            out[s, j] = np.float32(min(max(vals[t, i] * sc, -_F32_MAX), _F32_MAX))


@dataclass(frozen=True, slots=True)
class Stack:
    """The grids of several codebooks padded into 2-D arrays (one row per type) for the kernels."""

    vals: np.ndarray
    mids: np.ndarray
    picks: np.ndarray
    nvals: np.ndarray
    gcodes: np.ndarray
    gmax: np.ndarray
    lut_lo: np.ndarray
    lut_inv_h: np.ndarray
    luts: np.ndarray
    nbins: np.ndarray

    @property
    def search_args(self) -> tuple[np.ndarray, ...]:
        return (self.vals, self.mids, self.picks, self.nvals, self.gmax, self.lut_lo, self.lut_inv_h,
                self.luts, self.nbins)


@lru_cache(maxsize=256)
def stack_of(types: tuple[Codebook, ...]) -> Stack:
    grids = [grid_of(cb) for cb in types]
    n = max(len(g.values) for g in grids)
    T = len(grids)
    vals = np.zeros((T, n))
    mids = np.full((T, max(n - 1, 1)), np.inf)
    picks = np.zeros((T, max(n - 1, 1)), dtype=np.int64)
    gcodes = np.zeros((T, n), dtype=np.uint8)
    nb_max = max(max(len(g.lut) for g in grids), 1)
    luts = np.zeros((T, nb_max), dtype=np.int64)
    for t, g in enumerate(grids):
        k = len(g.values)
        vals[t, :k], gcodes[t, :k] = g.values, g.codes
        mids[t, :k - 1], picks[t, :k - 1] = g.mids, g.tie_pick
        luts[t, :len(g.lut)] = g.lut
    return Stack(vals, mids, picks, np.array([len(g.values) for g in grids], dtype=np.int64), gcodes,
                 np.array([cb.scale_max for cb in types]), np.array([g.lut_lo for g in grids]),
                 np.array([math.ldexp(1.0, g.lut_shift) for g in grids]), luts,
                 np.array([len(g.lut) for g in grids], dtype=np.int64))


def encode_rows(st: Stack, xs: np.ndarray, lens: np.ndarray, scale: np.ndarray,
                tsel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and values of rows ``xs[s, :lens[s]]`` with stored scale ``scale[s]`` and type ``tsel[s]``."""
    codes = np.zeros(xs.shape, np.uint8)
    out = np.zeros(xs.shape, np.float32)
    if xs.size:
        _encode_kernel(xs, lens, np.ascontiguousarray(scale, np.float32), np.ascontiguousarray(tsel, np.int64),
                       st.vals, st.mids, st.picks, st.nvals, st.gcodes, codes, out, st.lut_lo,
                       st.lut_inv_h, st.luts, st.nbins)
    return codes, out


def search_errors(st: Stack, xs: np.ndarray, lens: np.ndarray, base: np.ndarray, factors: np.ndarray,
                  gmax: np.ndarray | None = None) -> np.ndarray:
    """err[s, t, k]: float64 sum of squared errors of row s, type t, alpha = base[s] * factors[k]
    (stored scale fp32(alpha / gmax[t]); ``gmax`` defaults to each codebook's max magnitude)."""
    g = st.gmax if gmax is None else gmax
    return _search_kernel(xs, lens, np.ascontiguousarray(base, np.float64), np.ascontiguousarray(factors, np.float64),
                          st.vals, st.mids, st.picks, st.nvals, g, st.lut_lo, st.lut_inv_h, st.luts, st.nbins)


def nearest_codes(cb: Codebook, y: np.ndarray) -> np.ndarray:
    """Codes of the values of ``cb`` nearest to ``y`` (unit scale; the codebook's tie rule)."""
    shape = np.shape(y)
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(1, -1))
    codes, _ = encode_rows(stack_of((cb,)), y, np.array([y.shape[1]]), np.ones(1, np.float32),
                           np.zeros(1, np.int64))
    return codes.reshape(shape)


# ----------------------------------------------------------------------------------------------
# the format
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CodebookFormat(FamilyFormat, GroupedIntCodes):
    """A codebook format: one or more :class:`Codebook` types, a scale per tensor/channel/group,
    and the rule that picks both (module docstring). Same API as :class:`~hwsim.numerics.Format`.

    Fields:
        types: candidate codebooks (one = a fixed type).
        group_size: None = one scale per tensor, 0 = per slice along the axis (per output channel
            of a weight encoded along its input axis), B > 0 = groups of B along the axis.
        select: where the type is chosen when there are several: ``tensor`` (ANT) or ``group``.
        scale_rule: ``absmax`` (alpha = absmax), ``mse`` (searched alpha), ``absmean`` (BitNet),
            ``unit`` (scale 1: the codebook values are the values).
        center: base of the search: ``absmax`` (ANT) or ``3sigma`` (OliVe).
        search: ``(lo, hi, step)``: alpha = base * k / 100 for k in range(lo, hi, step).
        scale_storage: ``fp32`` or ``int8`` (second-level INT8 group scales per channel).
        scale_bits: bits charged per group scale in ``bits_per_element`` (0 if not a group format).
        packing: elements per byte when codes are packed denser than ``bits`` (5 trits per byte).
    """

    name: str
    types: tuple[Codebook, ...]
    group_size: int | None = 0
    select: str = "tensor"
    scale_rule: str = "absmax"
    center: str = "absmax"
    search: tuple[int, int, int] = (100, 101, 1)
    scale_storage: str = "fp32"
    scale_bits: int = 16
    packing: int | None = None
    reference: str = ""
    description: str = ""

    takes_calibration = True
    #: the search and the scale rule choose the scales, and packing only adds meta["packed"]:
    #: decode reads the codes, the stored scales and the selector
    ENCODE_ONLY = frozenset({"select", "scale_rule", "center", "search", "scale_storage", "scale_bits",
                             "packing"})

    def decode_meta(self, enc: Encoded) -> tuple[str, ...]:
        """The type selector, when there is more than one type to select."""
        return ("selector",) if len(self.types) > 1 else ()

    def __post_init__(self) -> None:
        n = self.name
        object.__setattr__(self, "types", tuple(self.types))
        object.__setattr__(self, "search", tuple(self.search))
        if not self.types:
            raise FormatError(f"format {n!r}: types is empty")
        for key, value, allowed in (("select", self.select, SELECTS), ("scale_rule", self.scale_rule, SCALE_RULES),
                                    ("center", self.center, CENTERS),
                                    ("scale_storage", self.scale_storage, STORAGES)):
            if value not in allowed:
                raise FormatError(f"format {n!r}: {key} {value!r} not one of {list(allowed)}")
        if self.group_size is not None and (not isinstance(self.group_size, int) or self.group_size < 0):
            raise FormatError(f"format {n!r}: group_size={self.group_size!r} must be None or an int >= 0")
        lo, hi, step = self.search if len(self.search) == 3 else (0, 0, 0)
        if len(self.search) != 3 or step <= 0 or lo <= 0 or hi <= lo:
            raise FormatError(f"format {n!r}: search {self.search!r} must be (lo, hi, step) with "
                              f"0 < lo < hi and step > 0 (alpha = base * k / 100, k in range(lo, hi, step))")
        if self.scale_storage == "int8" and not self.group_size:
            raise FormatError(f"format {n!r}: scale_storage 'int8' quantizes group scales per channel; "
                              f"it needs group_size > 0")
        if self.select == "group" and len(self.types) > 1 and self.group_size is None:
            raise FormatError(f"format {n!r}: select 'group' needs group_size 0 or > 0")
        if not all(isinstance(cb, Codebook) for cb in self.types):
            bad = next(cb for cb in self.types if not isinstance(cb, Codebook))
            raise FormatError(f"format {n!r}: types must be Codebook objects (catalog: codebook names), "
                              f"got {type(bad).__name__} {bad!r}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in self.search):
            raise FormatError(f"format {n!r}: search {self.search!r} must be integers (percent of the base)")
        if not isinstance(self.scale_bits, int) or self.scale_bits < 0:
            raise FormatError(f"format {n!r}: scale_bits={self.scale_bits!r} must be an int >= 0")
        if self.packing is not None:
            levels = max(len(grid_of(cb).values) for cb in self.types)
            if not isinstance(self.packing, int) or not 1 <= self.packing <= 8 or levels ** self.packing > 256:
                raise FormatError(f"format {n!r}: packing={self.packing!r}: {levels}-level codes fit "
                                  f"{max(k for k in range(1, 9) if levels ** k <= 256)} per byte at most")

    # --- derived ------------------------------------------------------------------------------
    @property
    def element_bits(self) -> int:
        return max(cb.bits for cb in self.types)

    @property
    def selector_bits(self) -> int:
        return (len(self.types) - 1).bit_length()

    @property
    def bits_per_element(self) -> float:
        """Code bits (or 8 / packing) plus, for group formats, scale and selector bits per group.
        Per-tensor and per-channel scales (and a per-tensor selector) are not counted, as for
        ``int8_channel``: their cost depends on the tensor shape."""
        bits = 8 / self.packing if self.packing else float(self.element_bits)
        if self.group_size:
            sel = self.selector_bits if self.select == "group" else 0
            bits += (self.scale_bits + sel) / self.group_size
        return bits

    @property
    def is_scaled(self) -> bool:
        return self.scale_rule != "unit"

    @property
    def operand(self) -> OperandSpec:
        """Integer codes of ``element_bits`` (sign + magnitude); the scale of module docstring
        rule 1: ``scale_bits`` wide per group (fp16 at 16 bits, fp32 at 32; with
        ``scale_storage = "int8"`` an INT8 code of a per-channel fp32 step), fp32 per channel or
        per tensor (the paper codes keep them in float32); ``unit``: no scale."""
        return OperandSpec(self.element_bits, self.bits_per_element, False, 0, self.man_bits,
                           self._scale_specs(), ties_rounding(self.types))

    def _scale_specs(self) -> tuple[ScaleSpec, ...]:
        if self.scale_rule == "unit":
            return ()
        what = {"absmax": "max|x|", "absmean": "mean|x| (BitNet b1.58)",
                "mse": f"alpha = {'3-sigma' if self.center == '3sigma' else 'max|x|'} x k/100, k in "
                       f"range{self.search} with the least squared error (ANT MICRO'22 §V search_mse)"}
        rule = f"{what[self.scale_rule]} / codebook max"
        if self.select == "group" and len(self.types) > 1:
            rule += f", type chosen per group by MSE ({self.selector_bits}-bit selector; BitMoD HPCA'25 §III-B)"
        elif len(self.types) > 1:
            rule += ", type chosen per tensor by MSE (ANT MICRO'22 §V)"
        if not self.group_size:
            return (fp32_scale(self.group_size, rule),)
        if self.scale_storage == "int8":
            return (ScaleSpec("group", self.group_size, self.scale_bits, False, 0, self.scale_bits - 1,
                              f"{rule}, stored as an INT8 code of the channel step (BitMoD HPCA'25 §III-C)"),
                    ScaleSpec("channel", None, 32, False, 8, 23, "fp32 step = max group base / 127 per channel "
                              "(BitMoD HPCA'25 §III-C)"))
        e, m = SCALE_FLOAT_FIELDS.get(self.scale_bits, (8, max(self.scale_bits - 9, 0)))
        return (ScaleSpec("group", self.group_size, self.scale_bits, False, e, m,
                          f"{rule}, stored in {self.scale_bits} bits"),)

    @property
    def max(self) -> float:
        return max(cb.max for cb in self.types)

    def values(self) -> np.ndarray:
        return np.unique(np.concatenate([cb.values() for cb in self.types]))

    def describe(self) -> str:
        return " | ".join(cb.name for cb in self.types)

    # --- codec --------------------------------------------------------------------------------
    def _plan(self, sl: Slices) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Per-row stored scale (float32) and type index, plus what was chosen (meta)."""
        S = sl.xs.shape[0]
        st = stack_of(self.types)
        gmax = st.gmax
        T = len(self.types)
        if self.scale_rule == "unit":
            scale = np.ones((S, T), np.float32)
            factors = np.ones(1)
            base = np.ones(S)
            err = (search_errors(st, sl.xs, sl.lens, base, factors, np.ones(T))
                   if T > 1 else np.zeros((S, 1, 1)))
            best_k = np.zeros((S, T), np.int64)
            meta: dict[str, Any] = {}
        else:
            base = slice_base(sl, self.scale_rule, self.center)
            meta = {}
            if self.scale_storage == "int8":
                base, meta = self._int8_bases(sl, base)
            if self.scale_rule == "mse":
                factors = np.arange(*self.search, dtype=np.float64) / 100.0
            else:
                factors = np.ones(1)
            if self.scale_rule == "mse" or T > 1:
                err = search_errors(st, sl.xs, sl.lens, base, factors)
                best_k = np.argmin(err, axis=2)
            else:
                err = np.zeros((S, T, 1))
                best_k = np.zeros((S, T), np.int64)
            alpha = base[:, None] * factors[best_k]
            scale = np.minimum(alpha / gmax[None, :], _F32_MAX).astype(np.float32)
        best_err = np.take_along_axis(err, best_k[:, :, None], axis=2)[:, :, 0]
        if T == 1:
            tsel = np.zeros(S, np.int64)
        elif self.select == "tensor":
            tsel = np.full(S, int(np.argmin(best_err.sum(axis=0))), np.int64)
        else:
            tsel = np.argmin(best_err, axis=1).astype(np.int64)
        rows = np.arange(S)
        chosen_scale = scale[rows, tsel].astype(np.float32)
        if self.scale_rule == "mse":
            meta["alpha"] = np.minimum(base * factors[best_k[rows, tsel]], _F32_MAX).astype(np.float32)
        return chosen_scale, tsel, meta

    def _int8_bases(self, sl: Slices, base: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """BitMoD §III-C: each channel's group bases as INT8 codes of a per-channel fp32 step."""
        n_groups = sl.groups_shape[sl.axis]
        per_ch = base.reshape(-1, n_groups)
        step = (per_ch.max(axis=1) / 127.0).astype(np.float32)
        safe = np.where(step > 0, step, 1).astype(np.float64)
        # RNE of the exact quotient: base and step are float32 values, so a float64 quotient that
        # lands on k + 1/2 is exactly k + 1/2 (a 24-bit by 24-bit quotient cannot be nearer to it)
        code = np.clip(np.rint(per_ch / safe[:, None]), 0, 127).astype(np.int8)
        eff = (code.astype(np.float64) * step.astype(np.float64)[:, None]).astype(np.float32)
        return eff.reshape(-1).astype(np.float64), {"scale_codes": code, "channel_step": step}

    def _run(self, x: Any, axis: int, calibration: Any) -> tuple[np.ndarray, Encoded]:
        """Values and the :class:`Encoded`: codes (uint8, shape of x), per-group float32 ``scales``
        and what was chosen in ``meta``: ``selector`` (type index per group / tensor), ``types``
        (their names), ``alpha`` (searched clipping value), INT8 ``scale_codes``. ``calibration``:
        a tensor the scale and type are chosen on (per-tensor formats: any shape; others: same
        shape as x)."""
        a, ax = self._prepare(x, axis)
        sl = to_slices(a, ax, self.group_size)
        plan_sl = sl
        if calibration is not None:
            c, _ = self._prepare(calibration, axis)
            check_calibration_shape(self.name, self.group_size, a.shape, c.shape, ax)
            plan_sl = to_slices(c, ax, self.group_size)
        scale, tsel, meta = self._plan(plan_sl)
        codes, out = encode_rows(stack_of(self.types), sl.xs, sl.lens, scale, tsel)
        codes_x = from_slices(sl, codes)
        per_group = scale.size
        meta = {k: (rows_to_groups(sl, v.reshape(-1)) if isinstance(v, np.ndarray) and v.size == per_group else v)
                for k, v in meta.items()}
        meta["selector"] = rows_to_groups(sl, tsel.astype(np.uint8))
        meta["types"] = [cb.name for cb in self.types]
        enc = Encoded(codes=back_like(x, codes_x), scales=back_like(x, rows_to_groups(sl, scale)),
                      axis=ax, format=self.name, meta=meta)
        return from_slices(sl, out), enc

    def _decode(self, enc: Encoded) -> Any:
        """``table[selector][code] * scale`` as float32 (same array type and device as the codes)."""
        codes = to_numpy_codes(self.name, enc.codes, self.element_bits)
        scales = to_host(enc.scales).astype(np.float32)
        sel = to_host(enc.meta.get("selector", 0))
        if sel.dtype.kind not in "ui" or (sel.size and int(sel.min()) < 0):
            raise FormatError(f"format {self.name!r}: meta['selector'] must hold type indices (non-negative "
                              f"integers), got dtype {sel.dtype}")
        sel = sel.astype(np.int64)
        if sel.size and int(sel.max()) >= len(self.types):
            raise FormatError(f"format {self.name!r}: selector {int(sel.max())} >= {len(self.types)} types")
        width = 1 << self.element_bits  # a mixture of code widths: narrower tables padded with NaN
        tables = np.full((len(self.types), width), np.nan)
        for t, cb in enumerate(self.types):
            tables[t, :len(cb.table)] = cb.table
        ax = enc.axis
        sl_c = to_slices(codes.astype(np.float32), ax, self.group_size)
        c_rows = sl_c.xs.astype(np.int64)
        t_rows = groups_to_rows(self.name, sl_c, sel)
        s_rows = groups_to_rows(self.name, sl_c, scales)
        v = tables[t_rows[:, None], c_rows]
        if np.isnan(v[np.arange(v.shape[1])[None, :] < sl_c.lens[:, None]]).any():
            raise FormatError(f"format {self.name!r}: codes hold a pattern the codebook never produces")
        out = np.clip(v * s_rows.astype(np.float64)[:, None], -_F32_MAX, _F32_MAX).astype(np.float32)
        return back_like(enc.codes, from_slices(sl_c, out))


#: the rounding (:class:`OperandSpec` vocabulary) of a nearest-value search with each tie rule
TIE_ROUNDING = {"even": RoundMode.EVEN.value, "away": RoundMode.AWAY.value, "up": "ties_up",
                "down": "ties_down", "zero": "ties_to_zero"}

#: (exponent, mantissa) bits of a float group scale stored in this many bits (fp16, fp32)
SCALE_FLOAT_FIELDS = {16: (5, 10), 32: (8, 23)}


def ties_rounding(types: tuple[Codebook, ...]) -> str:
    """The :attr:`OperandSpec.rounding` of codebooks' tie rules (``|``-joined if they differ)."""
    return "|".join(dict.fromkeys(TIE_ROUNDING[cb.ties] for cb in types))


# ----------------------------------------------------------------------------------------------
# catalog kind "codebook"
# ----------------------------------------------------------------------------------------------

def codebooks_named(name: str, refs: Any, codebooks: Any, key: str = "types") -> tuple[Codebook, ...]:
    """The catalog's codebooks named in ``refs`` (an unknown name is an error listing the known ones)."""
    out = []
    for ref in refs:
        if ref not in codebooks:
            raise FormatError(f"format {name!r}: {key}: " + unknown_name("codebook", ref, codebooks))
        out.append(codebooks[ref])
    return tuple(out)


def _build_codebook_format(name: str, table: Any, codebooks: Any) -> CodebookFormat:
    kw = {k: table[k] for k in ("select", "scale_rule", "center", "scale_storage", "scale_bits", "packing",
                                "reference", "description") if k in table}
    if "search" in table:
        kw["search"] = tuple(table["search"])
    return CodebookFormat(name=name, types=codebooks_named(name, table["types"], codebooks),
                          group_size=group_size_from(name, table), **kw)


def _catalog_kinds() -> dict[str, KindSpec]:
    return {"codebook": KindSpec(
        schema={"types": list, "scale_per": str, "group_size": int, "select": str, "scale_rule": str,
                "center": str, "search": list, "scale_storage": str, "scale_bits": int, "packing": int},
        required=("types",),
        allowed={"scale_per": SCALE_PER, "select": SELECTS, "scale_rule": SCALE_RULES, "center": CENTERS,
                 "scale_storage": STORAGES},
        build=_build_codebook_format)}


CATALOG_KINDS = _catalog_kinds()
