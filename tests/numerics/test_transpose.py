"""The row layout of the codec (plan.to_rows / plan.from_rows on the tiled transpose) against
numpy's moveaxis: every axis of 1-4-d shapes (empty and size-1 axes, sizes off the 16-tile),
several dtypes, non-contiguous inputs, and results of another row length."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwsim.numerics import plan
from hwsim.numerics.transpose import swap_last2

SHAPES = [(5,), (3, 4), (2, 3, 4), (4, 1, 3), (0, 3), (3, 0, 2), (2, 3, 1), (1, 5, 7, 2), (33, 65), (17, 16, 31),
          (2, 40, 24), (9, 8, 17)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.uint16, np.uint32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rows_round_trip_every_axis(shape, dtype) -> None:
    a = (np.random.default_rng(0).standard_normal(shape) * 100).astype(dtype)
    for ax in range(len(shape)):
        nrows = math.prod(shape[:ax]) * math.prod(shape[ax + 1:])
        rows = plan.to_rows(a, ax)
        want = np.ascontiguousarray(np.moveaxis(a, ax, -1)).reshape(nrows, shape[ax])
        assert rows.shape == want.shape and rows.flags.c_contiguous and np.array_equal(rows, want)
        back = plan.from_rows(rows, shape, ax)
        assert back.shape == a.shape and back.flags.c_contiguous and np.array_equal(back, a)
        other = np.arange(nrows * 3, dtype=dtype).reshape(nrows, 3)  # e.g. one scale per block
        want3 = np.moveaxis(other.reshape(shape[:ax] + shape[ax + 1:] + (3,)), -1, ax)
        got3 = plan.from_rows(other, shape, ax)
        assert got3.shape == want3.shape and np.array_equal(got3, want3)


def test_non_contiguous_input_and_swap() -> None:
    a = np.random.default_rng(1).standard_normal((64, 48)).astype(np.float32)
    assert np.array_equal(plan.to_rows(a.T, 0), a)
    b = np.random.default_rng(2).standard_normal((3, 40, 23)).astype(np.float32)
    assert np.array_equal(swap_last2(b), np.swapaxes(b, 1, 2))
    assert np.array_equal(swap_last2(b[:, ::2, :]), np.swapaxes(b[:, ::2, :], 1, 2))


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 40, 23), (2, 33, 64), (1, 7, 9), (2, 16, 48)], ids=str)
def test_swap_float32_bits(shape) -> None:
    """float32 (8 x 8 register transposes plus the edges): every bit pattern copied, NaN payloads
    and -0 included."""
    b = np.random.default_rng(3).integers(0, 2**32, size=shape, dtype=np.uint32)
    got = swap_last2(b.view(np.float32)).view(np.uint32)
    assert np.array_equal(got, np.swapaxes(b, 1, 2))


@pytest.mark.parametrize("shape", [(48, 40), (3, 33, 17), (2, 2, 16, 24)], ids=str)
def test_rows_of_a_transposed_view(shape) -> None:
    """The last axis of a transposed view (W.T, or k.transpose(-1, -2)): the same rows as a copy."""
    a = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    t = np.swapaxes(a, -1, -2)
    rows = plan.to_rows(t, t.ndim - 1)
    assert rows.flags.c_contiguous and np.array_equal(rows, np.ascontiguousarray(t).reshape(-1, t.shape[-1]))
