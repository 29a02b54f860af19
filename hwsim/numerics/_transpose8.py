"""An 8 x 8 float32 transpose inside numba kernels, by vector shuffles.

numba's loops vectorize along one axis; a transpose reads one side with a stride, so its compiled
loop moves one element per load and store (~0.7 ns per element on AVX2, more than the 16-point
Hadamard transform around it). :func:`transpose8x8` loads eight 8-wide rows, transposes them in
registers by three rounds of LLVM ``shufflevector`` (pairs of rows interleaved element by element,
then two by two, then four by four: the unpack / shuffle / permute network every SIMD transpose
uses) and stores eight 8-wide rows. A copy: values and bits are untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba as nb
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["transpose8x8", "transpose_block"]

#: the three shuffle rounds: (mask taking from the pair (a, b) of 8-lane vectors -> first result,
#: mask -> second result, distance between the paired rows)
_ROUNDS = (
    ((0, 8, 1, 9, 4, 12, 5, 13), (2, 10, 3, 11, 6, 14, 7, 15), 1),
    ((0, 1, 8, 9, 4, 5, 12, 13), (2, 3, 10, 11, 6, 7, 14, 15), 2),
    ((0, 1, 2, 3, 8, 9, 10, 11), (4, 5, 6, 7, 12, 13, 14, 15), 4),
)


def _rounds(rows: list[Any], shuffle: Callable[[Any, Any, tuple[int, ...]], Any]) -> list[Any]:
    """The three rounds of :data:`_ROUNDS` on ``rows`` (8 vectors of 8 lanes): each of the eight
    results holds one column of the input (which one: :data:`_SLOT_OF_COLUMN`).
    ``shuffle(a, b, mask)`` picks lanes of the 16-lane concatenation of a and b."""
    v = list(rows)
    for lo_mask, hi_mask, d in _ROUNDS:
        out = list(v)
        for i in range(8):
            if not i & d:
                out[i], out[i + d] = shuffle(v[i], v[i + d], lo_mask), shuffle(v[i], v[i + d], hi_mask)
        v = out
    return v


def _slot_of_column() -> tuple[int, ...]:
    """Which result of :func:`_rounds` holds column k, found by running the rounds on Python
    lists of (row, column) labels."""
    slots = _rounds([[(r, k) for k in range(8)] for r in range(8)], lambda a, b, m: [(a + b)[j] for j in m])
    return tuple(next(s for s, v in enumerate(slots) if v == [(r, k) for r in range(8)]) for k in range(8))


_SLOT_OF_COLUMN = _slot_of_column()


def _transpose8x8(typingctx, src, si, sj, dst, di, dj):  # noqa: ARG001 - numba intrinsic signature
    """``dst[di + k, dj + r] = src[si + r, sj + k]`` for r, k in 0..7 (2-D float32 arrays, any row
    stride, unit column stride; the caller checks the bounds)."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.ndim == dst.ndim == 2
            and src.dtype == dst.dtype == types.float32):
        return None
    sig = types.void(src, types.intp, types.intp, dst, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        s_arr = context.make_array(signature.args[0])(context, builder, args[0])
        d_arr = context.make_array(signature.args[3])(context, builder, args[3])
        vec = ir.VectorType(ir.FloatType(), 8)
        i8p = ir.IntType(8).as_pointer()

        def row_ptr(arr, r0, c0, r):
            stride = cgutils.unpack_tuple(builder, arr.strides, 2)[0]
            base = builder.bitcast(arr.data, i8p)
            off = builder.add(builder.mul(builder.add(r0, ir.Constant(r0.type, r)), stride),
                              builder.mul(c0, ir.Constant(c0.type, 4)))
            return builder.bitcast(builder.gep(base, [off]), vec.as_pointer())

        rows = [builder.load(row_ptr(s_arr, args[1], args[2], r), align=4) for r in range(8)]

        def shuffle(a, b, mask):
            return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), 8), list(mask)))

        slots = _rounds(rows, shuffle)
        for k in range(8):
            builder.store(slots[_SLOT_OF_COLUMN[k]], row_ptr(d_arr, args[4], args[5], k), align=4)
        return context.get_dummy_value()

    return sig, codegen


#: ``transpose8x8(src, si, sj, dst, di, dj)``: ``dst[di:di+8, dj:dj+8] = src[si:si+8, sj:sj+8].T``
#: (float32, 2-D; call from numba kernels)
transpose8x8 = cast(Callable[..., None], intrinsic(_transpose8x8))


@nb.njit(cache=True, inline="always")
def transpose_block(src, p, q, dst, di, dj):
    """``dst[di + j, dj + i] = src[i, j]`` for ``i < p``, ``j < q`` (2-D float32 arrays, unit
    column stride): :func:`transpose8x8` on the 8 x 8 tiles, the edges past a multiple of 8 one
    element at a time."""
    p8, q8 = p - p % 8, q - q % 8
    for i in range(0, p8, 8):
        for j in range(0, q8, 8):
            transpose8x8(src, i, j, dst, di + j, dj + i)
    for j in range(q):  # rows p8.. of the source (all its columns)
        for i in range(p8, p):
            dst[di + j, dj + i] = src[i, j]
    for j in range(q8, q):  # columns q8.. of the source, rows before p8
        for i in range(p8):
            dst[di + j, dj + i] = src[i, j]
