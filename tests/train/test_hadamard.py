"""The random Hadamard transform: orthogonal, seeded, zero-padded."""

from __future__ import annotations

import pytest
import torch

from hwsim.errors import HwsimError
from hwsim.train.hadamard import hadamard_matrix, rht


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
