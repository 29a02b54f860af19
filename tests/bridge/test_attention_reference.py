"""The simulated attention (``F.scaled_dot_product_attention`` under ``hwsim.bridge.simulate``) bit
for bit against an independent plain-torch reference with real formats.

The datapath the simulator implements (hwsim/bridge/datapath.py module docstring; docs/bridge.md):
attention is two GEMMs, S = Q K^T (reduction over the head dimension) and O = P V (reduction over
the key positions), on operands quantized as follows (issue 17 item 1: a KV cache stores each
token's K and V once, quantized when written, along head_dim):

- Q with the activation format along head_dim, K with the ``kv_cache`` format along head_dim;
- S = Qq Kq^T summed in float64 and rounded once to fp32, scaled by 1/sqrt(E) (or ``scale``),
  masked; P = softmax(S) in float64, rounded once to fp32;
- P with the activation format along the key positions (its last axis, PV's reduction axis);
  V as stored: the ``v_cache`` format along head_dim, per token (``v_layout="token"``), or those
  stored values re-quantized along the key positions (``v_layout="sequence"``);
- O = Pq @ Vq summed in float64, rounded once.

The reference below writes exactly that with plain torch ops and ``hwsim.format(...).quantize`` as
the only hwsim call. Key and value rows get very different magnitudes (powers of two and odd
factors from row to row), so quantizing V along the wrong axis, or skipping P's quantization,
changes the output. (Before issue 17, V was quantized along the key positions with fp32 sums.)
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import hwsim  # noqa: E402
from hwsim.bridge import simulate  # noqa: E402


class Attention(nn.Module):
    """A bare SDPA call: the simulator's attention entry point (caught by its torch function mode)."""

    def __init__(self, is_causal: bool = False, scale: float | None = None):
        super().__init__()
        self.is_causal, self.scale = is_causal, scale

    def forward(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.is_causal, scale=self.scale)


def _mm(a, b):
    """Exact products summed in float64, rounded once to fp32."""
    return torch.matmul(a.double(), b.double()).float()


def reference(q, k, v, f_act, f_k, f_v, *, is_causal=False, mask=None, scale=None, v_layout="token"):
    """Plain-torch attention on quantized operands (module docstring)."""
    qq = f_act.quantize(q, axis=-1)            # QK^T reduces over head_dim
    kq = f_k.quantize(k, axis=-1)              # the K cache: per token along head_dim
    E = q.shape[-1]
    s = _mm(qq, kq.transpose(-2, -1)) * (1.0 / math.sqrt(E) if scale is None else scale)
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        s = s.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
    if mask is not None:
        s = s + mask
    p = torch.softmax(s.double(), dim=-1).float()
    pq = f_act.quantize(p, axis=-1)            # PV reduces over the key positions: P's last axis
    vq = f_v.quantize(v, axis=-1)              # the V cache: per token along head_dim
    if v_layout == "sequence":                 # re-quantized along the key positions for PV
        vq = f_v.quantize(vq, axis=-2)
    return _mm(pq, vq)


def _qkv(seed: int, B=1, H=2, L=8, S=64, E=32):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, L, E, generator=g)
    k = torch.randn(B, H, S, E, generator=g)
    v = torch.randn(B, H, S, E, generator=g)
    # rows of very different magnitude (powers of two times odd factors), per key position
    row = torch.tensor([(2.0 ** ((j * 5) % 9 - 4)) * (1 + 2 * (j % 3)) for j in range(S)])
    k = k * row[:, None] / 4
    v = v * row.flip(0)[:, None]
    # and per head-dim channel for V, so that axis choice matters in both directions
    v = v * torch.tensor([2.0 ** (c % 5 - 2) for c in range(E)])
    return q, k, v


FORMATS = [
    ("mxfp8_e4m3", "mxfp8_e4m3", "mxfp8_e4m3"),
    ("mxfp4", "mxfp4", "mxfp4"),
    ("int8_g32", "int8_g32", "int8_g32"),
    ("mxfp8_e4m3", "mxfp4", "int8_g32"),  # activations, K cache, V cache all different
]


@pytest.mark.parametrize("fa,fk,fv", FORMATS, ids=lambda n: n)
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("v_layout", ["token", "sequence"])
def test_simulated_sdpa_equals_reference(fa, fk, fv, is_causal, v_layout) -> None:
    q, k, v = _qkv(1)
    sim = simulate(Attention(is_causal), weights=None, activations=fa, kv_cache=fk, v_cache=fv, v_layout=v_layout)
    with torch.no_grad():
        got = sim(q, k, v)
    want = reference(q, k, v, hwsim.format(fa), hwsim.format(fk), hwsim.format(fv), is_causal=is_causal,
                     v_layout=v_layout)
    assert got.dtype == want.dtype and got.shape == want.shape
    diff = (got != want).sum().item()
    assert diff == 0, f"{fa}/{fk}/{fv}: {diff} outputs differ from the reference (max |d| = " \
                      f"{(got - want).abs().max().item():.3g})"
    rec = sim.records().set_index("layer")
    assert tuple(rec.loc["<root>.qk", ["m", "k", "n", "a_format", "w_format", "count"]]) == (8, 32, 64, fa, fk, 2)
    assert tuple(rec.loc["<root>.pv", ["m", "k", "n", "a_format", "w_format", "count"]]) == (8, 64, 32, fa, fv, 2)


def test_simulated_sdpa_with_additive_mask_and_scale() -> None:
    q, k, v = _qkv(2)
    mask = torch.zeros(8, 64)
    mask[:, 40:] = float("-inf")
    mask[:, :5] = -3.0
    f = hwsim.format("mxfp8_e4m3")
    sim = simulate(Attention(scale=0.3), weights=None, activations=f)
    with torch.no_grad():
        got = sim(q, k, v, mask)
    want = reference(q, k, v, f, f, f, mask=mask, scale=0.3)
    assert torch.equal(got, want)


def test_reference_is_sensitive_to_what_it_checks() -> None:
    """Sanity of the data: skipping P's quantization or quantizing V along the key positions
    changes the result (else the bit-exact comparison above could not catch those bugs)."""
    q, k, v = _qkv(1)
    f = hwsim.format("mxfp4")
    want = reference(q, k, v, f, f, f)
    qq, kq = f.quantize(q, axis=-1), f.quantize(k, axis=-1)
    p = torch.softmax(_mm(qq, kq.transpose(-2, -1)).double() / math.sqrt(32), dim=-1).float()
    no_pq = _mm(p, f.quantize(v, axis=-1))
    v_wrong_axis = _mm(f.quantize(p, axis=-1), f.quantize(v, axis=-2))
    assert not torch.equal(no_pq, want)
    assert not torch.equal(v_wrong_axis, want)
    assert not torch.equal(reference(q, k, v, f, f, f, v_layout="sequence"), want)
