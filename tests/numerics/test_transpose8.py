"""The 8 x 8 register transpose (``hwsim.numerics._transpose8``): a copy, bit for bit, at any
offsets of row-strided float32 arrays, vs numpy's ``.T``."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from hwsim.numerics._transpose8 import transpose8x8


@nb.njit
def _one(src, si, sj, dst, di, dj):
    transpose8x8(src, si, sj, dst, di, dj)


@nb.njit
def _all(src, dst):
    for i in range(0, src.shape[0], 8):
        for j in range(0, src.shape[1], 8):
            transpose8x8(src, i, j, dst, j, i)


def _bits(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random float32 bit patterns: NaN payloads, infinities, -0 and subnormals included."""
    return np.random.default_rng(seed).integers(0, 2**32, size=shape, dtype=np.uint32).view(np.float32)


@pytest.mark.parametrize("si,sj,di,dj", [(0, 0, 0, 0), (3, 5, 7, 2), (1, 9, 0, 13)])
def test_one_tile_at_offsets_of_strided_views(si: int, sj: int, di: int, dj: int) -> None:
    big = _bits((40, 50), 1)
    src = big[::2, 1:]  # row stride 100 floats, unit column stride
    dst0 = _bits((30, 31), 2)
    dst = dst0.copy()
    _one(src, si, sj, dst, di, dj)
    want = dst0.copy()
    want[di:di + 8, dj:dj + 8] = src[si:si + 8, sj:sj + 8].T
    np.testing.assert_array_equal(dst.view(np.uint32), want.view(np.uint32))  # nothing else written


def test_whole_array() -> None:
    a = _bits((64, 128), 3)
    b = np.zeros((128, 64), np.float32)
    _all(a, b)
    np.testing.assert_array_equal(b.view(np.uint32), a.T.view(np.uint32))
