"""An activation x activation ``torch.matmul`` in a simulated model, bit for bit against a plain
reference: ``A [.., M, K]`` quantized along K (its last axis) and ``B [.., K, N]`` along K (its
second-to-last axis, the reduction axis of the GEMM), each with ``hwsim.format(...).quantize`` on
numpy, then the products summed in float64 and rounded once to fp32. K, M and N all differ and are
not multiples of one another's blocks, so quantizing B along N instead of K changes the result."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

import hwsim  # noqa: E402
from hwsim.bridge import simulate  # noqa: E402


class _Gram(nn.Module):
    """``x @ y`` of two activations (no parameters): both operands use the activation format."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, y)


def _np_quant(name: str, t: torch.Tensor, axis: int) -> torch.Tensor:
    q = hwsim.format(name).quantize(np.ascontiguousarray(t.detach().numpy()), axis=axis)
    return torch.from_numpy(np.ascontiguousarray(q))


@pytest.mark.parametrize("fmt", ["mxfp8_e4m3", "mxfp4", "int8_g32"])
def test_activation_matmul_quantizes_both_operands_along_k(fmt: str) -> None:
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 24, 64, generator=g)  # M = 24, K = 64
    y = torch.randn(2, 64, 40, generator=g)  # K = 64, N = 40
    y[:, :, 3] *= 50.0  # one large output column: its blocks along K differ from blocks along N
    sim = simulate(_Gram(), weights=None, activations=fmt)
    with torch.no_grad():
        got = sim(x, y)
    want = torch.matmul(_np_quant(fmt, x, -1).double(), _np_quant(fmt, y, -2).double()).float()
    assert torch.equal(got, want)
