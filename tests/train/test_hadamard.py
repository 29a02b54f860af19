"""The random Hadamard transform: orthogonal, seeded, zero-padded; its float64 butterflies against
an exact (Fraction) transform and a float64 matmul; the transposed layout the wgrad GEMM reads."""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np
import pytest
import torch

from hwsim.errors import HwsimError
from hwsim.train.hadamard import hadamard_matrix, random_signs, rht, rht_transposed


@pytest.mark.parametrize("block", [16, 32])
def test_orthogonal_and_preserves_the_wgrad_product(block: int) -> None:
    h = hadamard_matrix(block)
    assert torch.allclose(h @ h.t(), torch.eye(block, dtype=torch.float64), atol=1e-12)
    assert torch.all(h.abs() == h.abs()[0, 0])
    gen = torch.Generator().manual_seed(0)
    x, g = torch.randn(96, 5, generator=gen), torch.randn(96, 7, generator=gen)
    tx, tg = rht(x, block, 11), rht(g, block, 11)
    assert torch.allclose(tx.double().t() @ tg.double(), x.double().t() @ g.double(), atol=1e-4)
    assert torch.equal(rht(x, block, 11), tx) and not torch.equal(rht(x, block, 12), tx)


def test_outlier_spread() -> None:
    x = torch.zeros(32, 1)
    x[3] = 100.0
    y = rht(x, 32, 0)
    assert torch.allclose(y.abs(), torch.full_like(y, 100.0 / 32**0.5))


def test_padding_and_bad_block() -> None:
    x = torch.randn(20, 3)
    y = rht(x, 16, 0)
    assert y.shape == (32, 3)
    assert torch.allclose(y.double().t() @ y.double(), x.double().t() @ x.double(), atol=1e-4)
    with pytest.raises(HwsimError, match="power of two"):
        hadamard_matrix(12)


def _sylvester(b: int) -> list[list[int]]:
    """The +-1 Sylvester Hadamard matrix: entry (i, j) is (-1)**popcount(i & j)."""
    return [[-1 if bin(i & j).count("1") % 2 else 1 for j in range(b)] for i in range(b)]


@pytest.mark.parametrize("block,c", [(16, 7), (32, 7), (16, 77), (8, 19), (4, 9), (2, 9), (64, 9)])
def test_butterflies_equal_the_exact_transform_rounded(block: int, c: int) -> None:
    """Inputs whose block sums are exact in float64 (integers times one power of two): the result
    is the exact (Fraction) transform times 1/sqrt(b) (exact for b = 4**k; else the float64
    1/sqrt(b)) rounded once to float32, on both layouts. Block sizes with an even and an odd
    number of stages (two per pass, one left over); column counts past one 64-column tile and
    not a multiple of 8 (the 8 x 8 register transposes and the element-wise rest)."""
    gen = torch.Generator().manual_seed(3)
    m = 3 * block + 5
    x = (torch.randint(-2**20, 2**20, (m, c), generator=gen).double() * 2.0**-13).float()
    seed = 99
    got_t = rht_transposed(x, block, seed)
    mp = got_t.shape[-1]
    assert got_t.shape == (c, mp) and got_t.is_contiguous() and mp == -(-m // block) * block
    signs = random_signs(mp, seed).tolist()
    h = _sylvester(block)
    inv = Fraction(1.0 / math.sqrt(block))
    want = np.zeros((mp, c), np.float32)
    for m0 in range(0, mp, block):
        for col in range(c):
            ys = [Fraction(float(x[m0 + j, col])) * int(signs[m0 + j]) if m0 + j < m else Fraction(0)
                  for j in range(block)]
            for i in range(block):
                want[m0 + i, col] = np.float32(float(sum(h[i][j] * ys[j] for j in range(block)) * inv))
    assert torch.equal(got_t.t(), torch.from_numpy(want))
    assert torch.equal(rht(x, block, seed), torch.from_numpy(want))


def test_block_16_equals_a_float64_matmul_and_any_thread_count() -> None:
    """b = 16 on normal data: bit for bit the float64 matmul by H_16 / 4 rounded to float32 (the
    definition the transform had before the butterflies); the same bits on 1 and 2 threads; a
    batched input [T, M, C] transforms each T alone."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 128, 40, generator=gen) * torch.logspace(-3, 2, 40)
    signs = random_signs(128, 5)
    blocks = (x.double() * signs[:, None]).reshape(3, 8, 16, 40)
    want = (hadamard_matrix(16) @ blocks).reshape(3, 128, 40).float()
    n0 = numba.get_num_threads()
    try:
        outs = []
        for n in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n)
            outs.append(rht_transposed(x, 16, 5))
    finally:
        numba.set_num_threads(n0)
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(outs[0].transpose(-1, -2), want)
    assert torch.equal(rht_transposed(x[1], 16, 5), outs[0][1])
