"""Random Hadamard transform (RHT) of the weight-gradient GEMM's operands.

``dW = X^T dY`` is reduced over the tokens ``M``. With ``T = blockdiag(H_b D)`` (``H_b`` the
normalized ``b x b`` Sylvester Hadamard matrix, ``D`` a diagonal of random signs), ``T^T T = I`` and
``(T X)^T (T dY) = X^T dY`` in exact arithmetic, while each block of ``b`` tokens of ``T X`` mixes
its outliers into all ``b`` entries before the block-scaled quantization along ``M``. This is the
transform of Tseng et al. (arXiv 2502.20586 §3.2, variance bound of stochastic rounding), NVIDIA's
NVFP4 recipe (arXiv 2509.25149 §4: 16-point RHT on the wgrad inputs) and the FP4 design-space
study (Hu, Luschi, Balanca, arXiv 2509.17791 §6).

Decisions: the transform is computed in float64 and rounded once to float32 (deterministic, no
thread dependence); ``M`` not a multiple of ``b`` is padded with zero tokens (zero rows add nothing
to ``X^T dY``); the signs come from ``torch.Generator().manual_seed(seed)`` so both operands of
one GEMM share them and every (step, layer) draws new ones.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

from hwsim.errors import HwsimError

__all__ = ["hadamard_matrix", "random_signs", "rht"]


@lru_cache(maxsize=8)
def hadamard_matrix(block: int) -> torch.Tensor:
    """The normalized Sylvester Hadamard matrix ``H_b / sqrt(b)`` (float64, orthogonal).

    Raises:
        HwsimError: ``block`` not a power of two.
    """
    if block < 1 or block & (block - 1):
        raise HwsimError(f"Hadamard block {block} must be a power of two")
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < block:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(block)


def random_signs(n: int, seed: int) -> torch.Tensor:
    """``n`` random +-1 (float64) from ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randint(0, 2, (n,), generator=gen, dtype=torch.int64).to(torch.float64) * 2 - 1


def rht(x: torch.Tensor, block: int, seed: int) -> torch.Tensor:
    """``T x`` along axis -2 (the tokens ``M`` of ``x [..., M, C]``), zero-padded to a multiple of
    ``block``; float32 out, shape ``[..., ceil(M / block) * block, C]``."""
    m = x.shape[-2]
    pad = (-m) % block
    xd = x.double()
    if pad:
        xd = F.pad(xd, (0, 0, 0, pad))
    mp = m + pad
    signs = random_signs(mp, seed).view(mp, 1)
    blocks = (xd * signs).reshape(*xd.shape[:-2], mp // block, block, xd.shape[-1])
    out = torch.matmul(hadamard_matrix(block), blocks)
    return out.reshape(*xd.shape[:-2], mp, xd.shape[-1]).to(torch.float32)
