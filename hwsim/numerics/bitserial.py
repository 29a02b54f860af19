"""Codes split into the terms a bit-serial PE consumes, one term per cycle, with exact reconstruction.

A bit-serial PE (Stripes MICRO'16, Bit Fusion ISCA'18, BitMoD HPCA'25 §IV) multiplies a bit-parallel
activation by one *term* of the weight per cycle and shift-adds the partial products. A term is a
signed power of two, ``sign * 2**shift``; a weight is the sum of its terms, so the number of terms
is the number of cycles the PE spends on it. Methods (``METHODS``):

- ``"booth"``: radix-4 Booth recoding of an n-bit two's complement integer ``k`` (BitMoD §IV-A:
  "INT8 / INT6 ... radix-4 Booth encoding into 4 / 3 terms"). Digits
  ``d_j = -2 b_(2j+1) + b_(2j) + b_(2j-1)`` (``b_(-1) = 0``, bits above n-1 sign-extend),
  ``d_j in {-2, -1, 0, 1, 2}``, ``k = sum_j d_j 4**j``, ``ceil(n/2)`` digits: 2 weight bits per cycle.
  Slot ``j`` holds digit ``j`` as the term ``sign(d_j) 2**(2j + [|d_j| = 2])``; a zero digit is an
  empty slot that still costs its cycle, so ``count = ceil(n/2)`` for every code.
- ``"bitplane"``: the n bit planes of the two's complement ``k`` (1 bit per cycle, Stripes): plane
  ``j`` weighs ``2**j``, the MSB ``-2**(n-1)``; ``count = n``.
- ``"onebits"``: the binary one-bits of ``|v|`` of any dyadic rational ``v`` (a codebook or minifloat
  value), each carrying the sign of ``v``; slots from the most significant bit down (the order a
  leading-one detector finds them); ``count`` = number of one-bits (0 for zero).
- ``"csd"``: canonical signed digit / non-adjacent form of ``|v|``: signed digits, no two adjacent
  non-zero, the fewest non-zero digits of any signed-binary form (Reitwiesner 1960); slots MSB first.
- ``"lod2"``: BitMoD's FP decoder (§IV-B): ``v`` as sign-magnitude fixed point with 4 integer bits
  I3..I0 and 1 fraction bit F0; the -0 code is replaced by a special value (±5, ±8 for FP4; ±3,
  ±6 for FP3; BitMoD §III-A Table IV); every value has at most 2 one-bits, found by two leading-one
  detectors (on I3..I0 and on I2..F0 once the first is cleared), so the PE always spends 2 cycles:
  2 slots, ``count = 2``. Values off that grid or with more than 2 one-bits raise FormatError.

For integer codes of a scaled element (MXINT8 ``k / 64``, MSFP/BFP ``k / 2**frac_bits``) the
element's fixed ``2**-frac_bits`` is folded into ``shift``; block / tensor scales are not (the PE
applies them once per group: BitMoD §IV-B step 4). Sign-magnitude integer codes (MSFP, BFP) are
recoded from the integer value ``k`` they hold, as two's complement of the same width (``|k| <=
2**(n-1) - 1`` fits).

API: :func:`decompose` (codes of a format or codebook -> :class:`Terms`), :func:`reconstruct`
(terms -> exact float64 values), :func:`terms_of_values` (any values), :func:`term_counts` (count per
code of a format, for cost models), :func:`max_terms` / :func:`mean_terms` (cycles per weight,
worst case and averaged over codes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._family import to_host
from hwsim.numerics.codebook import Codebook, CodebookFormat
from hwsim.numerics.elements import FloatElement, IntElement
from hwsim.numerics.format import Format

__all__ = ["Terms", "METHODS", "decompose", "reconstruct", "terms_of_values", "term_counts", "max_terms",
           "mean_terms", "booth_digits"]

METHODS = ("booth", "bitplane", "onebits", "csd", "lod2")
_INT_METHODS = ("booth", "bitplane")


@dataclass(frozen=True, slots=True)
class Terms:
    """Terms of an array of values: element ``i`` equals ``sum_s sign[i, s] * 2.0**shift[i, s]``.

    Fields:
        sign: int8 ``(..., slots)``, -1 / 0 / +1 (0: an empty slot or a zero Booth digit).
        shift: int16 ``(..., slots)``, exponent of each term (negative for fractions).
        count: int16 ``(...)``, terms the PE consumes for the element = its cycles (Booth and
            bitplane: every digit / plane, zeros included; onebits / csd: the non-zero terms;
            lod2: always 2).
        method: one of :data:`METHODS`.
    """

    sign: np.ndarray
    shift: np.ndarray
    count: np.ndarray
    method: str

    @property
    def slots(self) -> int:
        """Terms per element in the widest element (``max_terms``), the last axis of sign/shift."""
        return int(self.sign.shape[-1])

    @property
    def nonzero(self) -> np.ndarray:
        """Non-zero terms per element."""
        return np.count_nonzero(self.sign, axis=-1).astype(np.int16)

    def __getitem__(self, index: Any) -> Terms:
        return Terms(self.sign[index], self.shift[index], self.count[index], self.method)


def reconstruct(terms: Terms) -> np.ndarray:
    """``sum(sign * 2**shift)`` per element, float64. Exact: every term is a power of two and the
    sums of the supported formats fit a 53-bit significand."""
    return np.ldexp(terms.sign.astype(np.float64), terms.shift.astype(np.int64)).sum(axis=-1)


# ------------------------------------------------------------------------------------------------
# integers: Booth and bit planes
# ------------------------------------------------------------------------------------------------
def _as_int(values: np.ndarray, bits: int | None, frac_bits: int, method: str) -> tuple[np.ndarray, int]:
    v = np.asarray(values, dtype=np.float64)
    if v.size and not np.all(np.isfinite(v)):
        raise FormatError(f"method {method!r}: values must be finite, got {v[~np.isfinite(v)].flat[0]}")
    k = np.ldexp(v, frac_bits)
    if v.size and not np.all(k == np.round(k)):
        bad = v[k != np.round(k)].flat[0]
        raise FormatError(f"method {method!r} recodes integers k * 2**-{frac_bits}: {bad!r} is not one")
    k = k.astype(np.int64)
    if bits is None:  # the narrowest two's complement width holding every value (at least 2 bits)
        lo, hi = (int(k.min()), int(k.max())) if k.size else (0, 0)
        bits = max(2, max(hi.bit_length(), (-lo - 1).bit_length()) + 1)
    if not 2 <= bits <= 32:
        raise FormatError(f"method {method!r}: bits={bits} out of range [2, 32]")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = (k < lo) | (k > hi)
    if np.any(out):
        raise FormatError(f"method {method!r}: integer {int(k[out].flat[0])} does not fit {bits}-bit two's "
                          f"complement [{lo}, {hi}]")
    return k, bits


def booth_digits(k: Any, bits: int) -> np.ndarray:
    """Radix-4 Booth digits of ``bits``-bit two's complement integers, LSB digit first.

    Returns int8 ``(..., ceil(bits/2))`` with ``d_j = -2 b_(2j+1) + b_(2j) + b_(2j-1)``.
    """
    k = np.asarray(k, dtype=np.int64)
    n_dig = -(-bits // 2)

    def bit(i: int) -> np.ndarray:  # arithmetic shift: bits above bits-1 repeat the sign bit
        return np.zeros_like(k) if i < 0 else (k >> i) & 1

    return np.stack([-2 * bit(2 * j + 1) + bit(2 * j) + bit(2 * j - 1) for j in range(n_dig)],
                    axis=-1).astype(np.int8)


def _booth(k: np.ndarray, bits: int, frac_bits: int) -> Terms:
    d = booth_digits(k, bits).astype(np.int64)
    j = np.arange(d.shape[-1], dtype=np.int64)
    shift = 2 * j + (np.abs(d) == 2) - frac_bits
    count = np.full(k.shape, d.shape[-1], dtype=np.int16)
    return Terms(np.sign(d).astype(np.int8), shift.astype(np.int16), count, "booth")


def _bitplane(k: np.ndarray, bits: int, frac_bits: int) -> Terms:
    j = np.arange(bits, dtype=np.int64)
    b = (k[..., None] >> j) & 1
    weight = np.where(j == bits - 1, -1, 1)
    shift = np.broadcast_to(j - frac_bits, b.shape)
    return Terms((b * weight).astype(np.int8), shift.astype(np.int16),
                 np.full(k.shape, bits, dtype=np.int16), "bitplane")


# ------------------------------------------------------------------------------------------------
# dyadic rationals: one-bits, CSD, BitMoD's two leading-one detectors
# ------------------------------------------------------------------------------------------------
def _dyadic(v: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``|v| = s * 2**e`` with ``s`` odd (0 for zero), as int64 arrays; ``neg`` = sign bit of ``v``."""
    if v.size and not np.all(np.isfinite(v)):
        raise FormatError(f"method {method!r}: values must be finite, got {v[~np.isfinite(v)].flat[0]}")
    m, ex = np.frexp(np.abs(v))
    s = np.ldexp(m, 53).astype(np.int64)  # exact: float64 significands have 53 bits
    e = ex.astype(np.int64) - 53
    for _ in range(53):
        even = (s != 0) & ((s & 1) == 0)
        if not even.any():
            break
        s = np.where(even, s >> 1, s)
        e = np.where(even, e + 1, e)
    return np.signbit(v), s, e


def _compact(digits: np.ndarray, e: np.ndarray, neg: np.ndarray, method: str) -> Terms:
    """Signed digits ``digits[..., p]`` at bit ``p`` of the odd significand -> terms MSB first."""
    nz = digits != 0
    count = nz.sum(axis=-1)
    slots = max(int(count.max()) if count.size else 0, 1)
    pos = np.arange(digits.shape[-1])
    # non-zero digits first, highest position first
    order = np.argsort(np.where(nz, -pos, digits.shape[-1] + pos), axis=-1, kind="stable")[..., :slots]
    d = np.take_along_axis(digits, order, axis=-1)
    valid = np.arange(slots) < count[..., None]
    sign = np.where(valid, np.sign(d) * np.where(neg, -1, 1)[..., None], 0)
    shift = np.where(valid, order + e[..., None], 0)
    if shift.size and (shift.min() < np.iinfo(np.int16).min or shift.max() > np.iinfo(np.int16).max):
        raise FormatError(f"method {method!r}: a term exponent does not fit int16")
    return Terms(sign.astype(np.int8), shift.astype(np.int16), count.astype(np.int16), method)


def _onebits(v: np.ndarray) -> Terms:
    neg, s, e = _dyadic(v, "onebits")
    digits = (s[..., None] >> np.arange(53)) & 1
    return _compact(digits, e, neg, "onebits")


def _csd(v: np.ndarray) -> Terms:
    """Non-adjacent form, LSB first: ``d = 2 - (z mod 4)`` when ``z`` is odd, then ``z = (z - d)/2``."""
    neg, s, e = _dyadic(v, "csd")
    digits = np.zeros(s.shape + (55,), dtype=np.int64)
    z = s.copy()
    for p in range(55):
        if not z.any():
            break
        d = np.where((z & 1) == 1, 2 - (z & 3), 0)
        digits[..., p] = d
        z = (z - d) >> 1
    return _compact(digits, e, neg, "csd")


#: BitMoD §IV-B fixed point: 1 sign, 4 integer bits I3..I0, 1 fraction bit F0
_LOD_INT_BITS, _LOD_FRAC_BITS, _LOD_DETECTORS = 4, 1, 2


def _lod2(v: np.ndarray) -> Terms:
    """BitMoD's two leading-one detectors on the 1s.4i.1f sign-magnitude fixed point."""
    fx = np.ldexp(np.abs(v), _LOD_FRAC_BITS)
    ok = np.isfinite(fx) & (fx == np.round(fx)) & (fx < 1 << (_LOD_INT_BITS + _LOD_FRAC_BITS))
    if not np.all(ok):
        raise FormatError(f"method 'lod2': {v[~ok].flat[0]!r} is not a sign-magnitude fixed-point value with "
                          f"{_LOD_INT_BITS} integer and {_LOD_FRAC_BITS} fraction bit (BitMoD §IV-B)")
    mag = fx.astype(np.int64)
    width = _LOD_INT_BITS + _LOD_FRAC_BITS  # bit p of mag has weight 2**(p - 1): F0 = bit 0, I3 = bit 4

    def lod(x: np.ndarray, hi: int, lo: int) -> np.ndarray:
        """Position of the leading one of bits hi..lo of x, -1 if none."""
        pos = np.full(x.shape, -1, dtype=np.int64)
        for p in range(lo, hi + 1):  # ascending, so the highest one wins
            pos = np.where((x >> p) & 1 == 1, p, pos)
        return pos

    first = lod(mag, width - 1, _LOD_FRAC_BITS)  # I3..I0
    rest = np.where(first >= 0, mag & ~(np.int64(1) << np.maximum(first, 0)), mag)
    second = lod(rest, width - 2, 0)  # I2..F0
    left = np.where(second >= 0, rest & ~(np.int64(1) << np.maximum(second, 0)), rest)
    if np.any(left):
        raise FormatError(f"method 'lod2': {v[left != 0].flat[0]!r} has more than {_LOD_DETECTORS} one-bits; "
                          f"BitMoD's decoder finds two (§IV-B)")
    pos = np.stack([first, second], axis=-1)
    sign = np.where(pos >= 0, np.where(np.signbit(v), -1, 1)[..., None], 0)
    shift = np.where(pos >= 0, pos - _LOD_FRAC_BITS, 0)
    return Terms(sign.astype(np.int8), shift.astype(np.int16),
                 np.full(v.shape, _LOD_DETECTORS, dtype=np.int16), "lod2")


def terms_of_values(values: Any, method: str = "onebits", *, bits: int | None = None,
                    frac_bits: int = 0) -> Terms:
    """Terms of arbitrary values (module docstring for the methods).

    ``booth`` / ``bitplane`` recode integers ``k = value * 2**frac_bits`` as ``bits``-bit two's
    complement (``bits=None``: the narrowest width holding every value); the other methods take any
    finite dyadic rational (every float64 is one).

    Raises:
        FormatError: unknown method; a non-finite value; a value the method cannot recode.
    """
    if method not in METHODS:
        raise FormatError(f"bit-serial method {method!r} not one of {list(METHODS)}")
    v = np.asarray(values, dtype=np.float64)
    if method in _INT_METHODS:
        k, n = _as_int(v, bits, frac_bits, method)
        return (_booth if method == "booth" else _bitplane)(k, n, frac_bits)
    return {"onebits": _onebits, "csd": _csd, "lod2": _lod2}[method](v)


# ------------------------------------------------------------------------------------------------
# formats and codebooks: a term table per code, gathered by code
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Table:
    """Value of every code (NaN: never produced / not finite) and, for integer elements, their width."""

    name: str
    values: tuple[float, ...]
    bits: int
    int_bits: int | None  #: integer element: two's complement width of k
    frac_bits: int


def _tables(spec: Any) -> tuple[_Table, ...]:
    """The code tables of a format, element or codebook (several for a mixture). Names are
    resolved by the caller (``hwsim.format``, the catalog's ``load_codebooks``)."""
    if isinstance(spec, Format):
        spec = spec.element
    if isinstance(spec, FloatElement | IntElement):
        if spec.bits > 16:
            raise FormatError(f"bit-serial terms: {spec.describe()} has {spec.bits}-bit codes; at most 16 "
                              f"(a 2**bits code table)")
        vals = np.where(np.isfinite(spec.table()), spec.table(), np.nan)
        is_int = isinstance(spec, IntElement)
        return (_Table(spec.describe(), tuple(float(x) for x in vals), spec.bits,
                       spec.bits if is_int else None, spec.frac_bits if is_int else 0),)
    if isinstance(spec, Codebook):
        return (_Table(spec.name, spec.table, spec.bits, None, 0),)
    if isinstance(spec, CodebookFormat):
        return tuple(t for cb in spec.types for t in _tables(cb))
    raise FormatError(f"bit-serial terms need a Format, an element, a Codebook or a CodebookFormat, got "
                      f"{type(spec).__name__} {spec!r}")


@lru_cache(maxsize=256)
def _code_terms(table: _Table, method: str) -> Terms:
    """Terms of every code of one table; never-produced codes get count -1 and no terms."""
    vals = np.asarray(table.values, dtype=np.float64)
    valid = np.isfinite(vals)
    safe = np.where(valid, vals, 0.0)
    if method in _INT_METHODS:
        bits = table.int_bits
        if bits is None:  # a codebook / minifloat: only if every value is an integer of `bits` bits
            bits = table.bits
        try:
            k, n = _as_int(safe, bits, table.frac_bits, method)
        except FormatError as exc:
            raise FormatError(f"{table.name}: {exc}") from None
        t = (_booth if method == "booth" else _bitplane)(k, n, table.frac_bits)
    else:
        try:
            t = terms_of_values(np.where(valid, vals, 0.0), method)
        except FormatError as exc:
            raise FormatError(f"{table.name}: {exc}") from None
    count = np.where(valid, t.count, -1).astype(np.int16)
    sign = np.where(valid[:, None], t.sign, 0).astype(np.int8)
    for a in (sign, t.shift, count):
        a.setflags(write=False)
    return Terms(sign, t.shift, count, method)


def _default_method(table: _Table) -> str:
    return "booth" if table.int_bits is not None else "onebits"


def _method_for(tables: tuple[_Table, ...], method: str | None) -> str:
    m = method or _default_method(tables[0])
    if m not in METHODS:
        raise FormatError(f"bit-serial method {m!r} not one of {list(METHODS)}")
    return m


def decompose(spec: Any, codes: Any, method: str | None = None, *, selector: Any = None) -> Terms:
    """Terms of the element codes of a format or codebook (module docstring).

    Args:
        spec: a :class:`~hwsim.numerics.Format` (its element codes: scales are not included), an
            element, a :class:`~hwsim.numerics.codebook.Codebook` or a ``CodebookFormat``.
        codes: unsigned integer codes (numpy or torch), any shape.
        method: one of :data:`METHODS`; default ``booth`` for integer elements, else ``onebits``.
        selector: for a ``CodebookFormat`` with several types, the type index of each code
            (broadcast against ``codes``, e.g. ``enc.meta["selector"]`` expanded per element).

    Raises:
        FormatError: a code out of range or never produced by the format; a method the values do
            not admit; a mixture without a selector.
    """
    tables = _tables(spec)
    m = _method_for(tables, method)
    c = to_host(codes)
    if c.dtype.kind not in "ui":
        raise FormatError(f"codes must be integers, got {c.dtype}")
    c = c.astype(np.int64)
    bits = max(t.bits for t in tables)
    if c.size and (c.min() < 0 or c.max() >= 1 << bits):
        raise FormatError(f"code {int(c.max() if c.max() >= 1 << bits else c.min())} not in [0, 2**{bits})")
    per = [_code_terms(t, m) for t in tables]
    if len(tables) == 1:
        sel = np.zeros_like(c)
    elif selector is None:
        raise FormatError(f"a mixture of {len(tables)} codebooks needs a selector per code "
                          f"({[t.name for t in tables]})")
    else:
        sel = np.broadcast_to(np.asarray(selector, dtype=np.int64), c.shape)
        if sel.size and (sel.min() < 0 or sel.max() >= len(tables)):
            raise FormatError(f"selector {int(sel.max())} not in [0, {len(tables)})")
    slots = max(t.slots for t in per)
    sign = np.zeros((len(per), 1 << bits, slots), np.int8)
    shift = np.zeros((len(per), 1 << bits, slots), np.int16)
    count = np.full((len(per), 1 << bits), -1, np.int16)
    for i, t in enumerate(per):
        n = t.count.shape[0]
        sign[i, :n, :t.slots], shift[i, :n, :t.slots], count[i, :n] = t.sign, t.shift, t.count
    out = Terms(sign[sel, c], shift[sel, c], count[sel, c], m)
    if out.count.size and out.count.min() < 0:
        bad = int(c[out.count < 0].flat[0])
        raise FormatError(f"code {bad} is never produced by {tables[0].name} (no finite value)")
    return out


def term_counts(spec: Any, method: str | None = None) -> np.ndarray:
    """Terms (= PE cycles) of every code, int16 indexed by code; -1 for codes with no finite value.

    Shape ``(2**bits,)``, or ``(types, 2**bits)`` for a ``CodebookFormat`` mixing several codebooks.
    """
    tables = _tables(spec)
    m = _method_for(tables, method)
    rows = [np.asarray(_code_terms(t, m).count) for t in tables]
    return rows[0].copy() if len(rows) == 1 else np.stack(rows)


def max_terms(spec: Any, method: str | None = None) -> int:
    """Worst-case terms per weight over every code the format produces: the cycles per weight of a
    synchronous bit-serial array (every PE of a column waits for the slowest weight)."""
    try:
        counts = term_counts(spec, method)
    except FormatError:
        values = getattr(spec, "values", None)
        if not callable(values):
            raise
        # any other format family (OliVe, ternary, shift, LLM-FP4...): its distinct element values,
        # decomposed as dyadic values (no code table to index, so only the worst case is defined)
        v = np.asarray(values(), dtype=np.float64)
        v = v[np.isfinite(v)]
        if not v.size:
            raise FormatError(f"bit-serial terms: {getattr(spec, 'name', spec)!r} lists no finite element "
                              f"values to decompose") from None
        counts = terms_of_values(v, method or "onebits").count
    return int(counts.max())


def mean_terms(spec: Any, method: str | None = None, *, codes: Any = None,
               probabilities: Any = None) -> float:
    """Average terms per weight: over a sample of ``codes`` (e.g. an encoded tensor; needs a single
    table) or a ``probabilities`` vector indexed by code (summing to 1)."""
    counts = term_counts(spec, method)
    if (codes is None) == (probabilities is None):
        raise FormatError("mean_terms needs exactly one of codes= or probabilities=")
    if counts.ndim != 1:
        raise FormatError("mean_terms over a mixture: pass one codebook (decompose(..., selector=) per type)")
    if codes is not None:
        return float(decompose(spec, codes, method).count.astype(np.float64).mean())
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != counts.shape or np.any(p < 0) or not math.isclose(float(p.sum()), 1.0, rel_tol=1e-9):
        raise FormatError(f"probabilities must be {counts.shape[0]} non-negative numbers summing to 1")
    if np.any((p > 0) & (counts < 0)):
        raise FormatError("probabilities put mass on a code the format never produces")
    return float((p * np.maximum(counts, 0)).sum())
