"""ShiftAddLLM binary-coded quantization with power-of-two scales (catalog kind ``bcq``):
``W ~ sum_i alpha_i b_i``, ``b_i`` in {-1, +1}, one set of powers of two ``alpha`` per group, by
alternating least squares (You et al., "ShiftAddLLM", arXiv 2406.05981 §3.1; official code
GATECH-EIC/ShiftAddLLM ``quantizers/bcq_quant/bcq_shift.py``). Catalog: ``formats/lowbit.toml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._family import (
    FamilyFormat,
    back_like,
    catalog_common,
    from_slices,
    group_size_from,
    groups_to_rows,
    rows_to_groups,
    to_host,
    to_numpy_codes,
    to_slices,
)
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import GroupedIntCodes, KindSpec, OperandSpec, ScaleSpec

__all__ = ["BcqFormat", "CATALOG_KINDS"]


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
class BcqFormat(FamilyFormat, GroupedIntCodes):
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

    ENCODE_ONLY = frozenset({"rounds"})  # the number of alternating rounds chooses the alphas

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

    @property
    def operand(self) -> OperandSpec:
        """``bits`` bit-planes and, per group (or per slice), ``bits`` int8 exponents of the
        power-of-two alphas: one scale level of ``8 * bits`` stored bits."""
        rule = (f"{self.bits} power-of-two alphas (int8 exponents) by alternating least squares, "
                f"up to {self.rounds} rounds (ShiftAddLLM §3.1)")
        scale = ScaleSpec("group" if self.group_size else "channel", self.group_size or None, 8 * self.bits,
                          True, 8, 0, rule)
        return OperandSpec(self.bits, self.bits_per_element, False, 0, self.man_bits, (scale,), "ties_up")

    def _run(self, x: Any, axis: int, calibration: Any) -> tuple[np.ndarray, Encoded]:
        a, ax = self._prepare(x, axis)
        sl = to_slices(a, ax, self.group_size)
        q = self.bits
        codes = np.zeros(sl.xs.shape, np.uint8)
        out = np.zeros(sl.xs.shape, np.float32)
        exps = np.zeros((sl.xs.shape[0], q), np.int8)
        if sl.xs.size:
            _bcq_kernel(sl.xs, sl.lens, q, self.rounds, codes, exps, out)
        codes_x = from_slices(sl, codes)
        planes = np.stack([(((codes_x >> i) & 1).astype(np.int8) * 2 - 1) for i in range(q)])
        enc = Encoded(codes=back_like(x, codes_x), scales=back_like(x, rows_to_groups(sl, exps)),
                      axis=ax, format=self.name, meta={"planes": planes})
        return from_slices(sl, out), enc

    def _decode(self, enc: Encoded) -> Any:
        q = self.bits
        codes = to_numpy_codes(self.name, enc.codes, q)
        exps = to_host(enc.scales)
        if exps.dtype.kind not in "ui" or (exps.size and not -128 <= int(exps.min()) <= int(exps.max()) <= 127):
            raise FormatError(f"format {self.name!r}: scales must be int8 exponents (-128 = alpha 0), got "
                              f"dtype {exps.dtype}")
        sl = to_slices(codes.astype(np.float32), enc.axis, self.group_size)
        e_rows = groups_to_rows(self.name, sl, exps.astype(np.int64), (q,))
        c = sl.xs.astype(np.int64)
        acc = np.zeros(c.shape)
        for i in range(q):
            alpha = np.where(e_rows[:, i] == _ZERO_EXP, 0.0, np.ldexp(1.0, e_rows[:, i]))[:, None]
            acc = acc + np.where((c >> i) & 1, alpha, -alpha)
        return back_like(enc.codes, from_slices(sl, acc.astype(np.float32)))


def _build_bcq(name: str, table: Any, codebooks: Any) -> BcqFormat:
    kw = {k: table[k] for k in ("bits", "rounds") if k in table}
    group_size = group_size_from(name, table, default="group") or 0  # never None: no 'tensor' scale_per here
    return BcqFormat(name=name, group_size=group_size, **kw, **catalog_common(name, table))


CATALOG_KINDS = {"bcq": KindSpec(schema={"bits": int, "group_size": int, "scale_per": str, "rounds": int},
                                 required=("bits",), allowed={"scale_per": ("group", "channel")}, build=_build_bcq)}
