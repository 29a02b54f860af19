"""Random Hadamard transform (RHT) of the weight-gradient GEMM's operands.

``dW = X^T dY`` is reduced over the tokens ``M``. With ``T = blockdiag(H_b D)`` (``H_b`` the
normalized ``b x b`` Sylvester Hadamard matrix, ``D`` a diagonal of random signs), ``T^T T = I`` and
``(T X)^T (T dY) = X^T dY`` in exact arithmetic, while each block of ``b`` tokens of ``T X`` mixes
its outliers into all ``b`` entries before the block-scaled quantization along ``M``. This is the
transform of Tseng et al. (arXiv 2502.20586 §3.2, variance bound of stochastic rounding), NVIDIA's
NVFP4 recipe (arXiv 2509.25149 §4: 16-point RHT on the wgrad inputs) and the FP4 design-space
study (Hu, Luschi, Balanca, arXiv 2509.17791 §6).

Definition (ours; deterministic, no thread dependence): the signs come from
``torch.Generator().manual_seed(seed)`` (both operands of one GEMM share them; every (step, layer)
draws new ones); ``M`` not a multiple of ``b`` is padded with zero tokens (zero rows add nothing to
``X^T dY``); per block, ``H_b`` is applied by the fast Walsh-Hadamard butterflies in float64
(log2 b stages of ``(u + v, u - v)`` in Sylvester order, each add rounded once), then multiplied by
``1 / sqrt(b)`` in float64 (exact for b = 4, 16, 64, ...), and rounded once to float32: within one
float32 rounding of the exact transform wherever the block's float64 sums are exact (its operands
within 2**29 of each other), which is the same result as a float64 matmul by ``H_b / sqrt(b)``
there for b = 16 (a test checks both).

The wgrad GEMM reads both operands with ``M`` contiguous (they are quantized along ``M``, its
reduction axis): :func:`rht_transposed` writes ``(T x)^T`` in that layout, signs, butterflies,
scaling and transpose fused in one numba pass; :func:`rht` is its transpose (``[..., Mp, C]``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba as nb
import numpy as np
import torch

from hwsim.errors import HwsimError
from hwsim.numerics._transpose8 import transpose_block

__all__ = ["hadamard_matrix", "random_signs", "rht", "rht_transposed"]


@lru_cache(maxsize=8)
def hadamard_matrix(block: int) -> torch.Tensor:
    """The normalized Sylvester Hadamard matrix ``H_b / sqrt(b)`` (float64, orthogonal).

    Raises:
        HwsimError: ``block`` not a power of two.
    """
    _check_block(block)
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < block:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(block)


def _check_block(block: int) -> None:
    if block < 1 or block & (block - 1):
        raise HwsimError(f"Hadamard block {block} must be a power of two")


def random_signs(n: int, seed: int) -> torch.Tensor:
    """``n`` random +-1 (float64) from ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randint(0, 2, (n,), generator=gen, dtype=torch.int64).to(torch.float64) * 2 - 1


@lru_cache(maxsize=4)
def _signs(n: int, seed: int) -> np.ndarray:
    """:func:`random_signs` as a read-only array, kept for the GEMM's second operand (same seed)."""
    out = random_signs(n, seed).numpy()
    out.setflags(write=False)
    return out


#: columns transformed together: a block's float64 buffer (block x 64) stays in L1 cache
_COLS = 64


@nb.njit(cache=True, inline="always")
def _radix4(buf, i, h, w):
    """Butterfly stages ``h`` and ``2h`` on rows i, i + h, i + 2h, i + 3h of ``buf`` (columns
    ``:w``): the four adds and subtracts of stage h, then those of stage 2h, in the order of two
    radix-2 passes, each result rounded once as there; one pass over the rows instead of two."""
    r0, r1, r2, r3 = buf[i], buf[i + h], buf[i + 2 * h], buf[i + 3 * h]
    for c in range(w):
        a0, a1, a2, a3 = r0[c], r1[c], r2[c], r3[c]
        b0, b1, b2, b3 = a0 + a1, a0 - a1, a2 + a3, a2 - a3
        r0[c] = b0 + b2
        r1[c] = b1 + b3
        r2[c] = b0 - b2
        r3[c] = b1 - b3


@nb.njit(cache=True, parallel=True)
def _rht_kernel(x, signs, out, block, inv, chunks):
    """``out[t, c, m] = fl32(inv * FWHT_b(signs * x[t, :, c]))[m]`` per block of ``block`` tokens
    (``x [T, M, C]`` float32, ``out [T, C, Mp]`` float32, tokens past ``M`` zero). The blocks are
    split into ``chunks`` contiguous runs, one float64 buffer each; each block is transformed
    ``_COLS`` columns at a time (rows vectorized over the columns): the Sylvester stages h = 1, 2,
    4, ... two per pass (:func:`_radix4`; a last single stage when log2(block) is odd), the scaled
    float32 results into a tile, and the tile into ``out`` by 8 x 8 register transposes
    (:func:`~hwsim.numerics._transpose8.transpose_block`)."""
    nt, m_in, nc = x.shape
    nblk = out.shape[2] // block
    jobs = nt * nblk
    for ch in nb.prange(chunks):
        buf = np.empty((block, _COLS), np.float64)
        tile = np.empty((block, _COLS), np.float32)
        for job in range(ch * jobs // chunks, (ch + 1) * jobs // chunks):
            t, m0 = job // nblk, (job % nblk) * block
            ot = out[t]
            for c0 in range(0, nc, _COLS):
                w = min(_COLS, nc - c0)
                for i in range(block):
                    bi = buf[i]
                    if m0 + i < m_in:
                        s = signs[m0 + i]
                        xi = x[t, m0 + i]
                        for c in range(w):
                            bi[c] = xi[c0 + c] * s
                    else:
                        bi[:w] = 0.0
                h = 1
                while 4 * h <= block:  # Sylvester order: H_2h = [[H_h, H_h], [H_h, -H_h]]
                    for i0 in range(0, block, 4 * h):
                        for i in range(i0, i0 + h):
                            _radix4(buf, i, h, w)
                    h *= 4
                if h < block:  # one stage left (h = block / 2)
                    for i in range(h):
                        bi, bh = buf[i], buf[i + h]
                        for c in range(w):
                            u, v = bi[c], bh[c]
                            bi[c] = u + v
                            bh[c] = u - v
                for i in range(block):
                    bi, ti = buf[i], tile[i]
                    for c in range(w):
                        ti[c] = np.float32(bi[c] * inv)
                transpose_block(tile, block, w, ot, c0, m0)


def rht_transposed(x: torch.Tensor, block: int, seed: int) -> torch.Tensor:
    """``(T x)^T``: the RHT along axis -2 (the tokens ``M`` of ``x [..., M, C]``), zero-padded to
    ``Mp = ceil(M / block) * block``; float32 ``[..., C, Mp]``, C-contiguous (``M`` contiguous)."""
    _check_block(block)
    m, c = x.shape[-2], x.shape[-1]
    mp = m + (-m) % block
    lead = tuple(x.shape[:-2])
    x3 = x.detach().to(torch.float32).reshape(-1, m, c).contiguous()
    out = np.empty((x3.shape[0], c, mp), np.float32)
    if out.size:
        chunks = min(nb.get_num_threads(), x3.shape[0] * (mp // block))
        _rht_kernel(x3.numpy(), _signs(mp, int(seed)), out, block, 1.0 / math.sqrt(block), chunks)
    return torch.from_numpy(out).reshape(*lead, c, mp)


def rht(x: torch.Tensor, block: int, seed: int) -> torch.Tensor:
    """``T x`` along axis -2 (the tokens ``M`` of ``x [..., M, C]``), zero-padded to a multiple of
    ``block``; float32, shape ``[..., ceil(M / block) * block, C]`` (a transposed view of
    :func:`rht_transposed`)."""
    return rht_transposed(x, block, seed).transpose(-1, -2)
