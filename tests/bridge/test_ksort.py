"""K-sort (Trukhanov & Soloveychik, arXiv 2403.20137) and the BFP12/BFP16 KV-cache formats.

Tiny randomly initialised HF models (no downloads): BERT (no RoPE; the permutation is folded into
W_q/W_k) and Llama with GQA (RoPE; the permutation is applied after the rotation). Independent
checks: attention scores and logits against the unsorted model, the folded-hardware RoPE (W rows
and frequency table permuted) written out here, BFP values worked out by hand from the format
definition in formats/bfp_kv.toml.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:  # `torch` below is importorskip's module object, not usable in annotations
    from torch import Tensor

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import torch.nn.functional as F  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

import hwsim  # noqa: E402
from hwsim.bridge.ksort import KSort, channel_permutation, ksort_, ksort_permutations, permute_qk  # noqa: E402
from hwsim.errors import HwsimError  # noqa: E402

HIDDEN, HEADS, KV_HEADS, LAYERS = 64, 4, 2, 2


def tiny_llama():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(hidden_size=HIDDEN, intermediate_size=128, num_hidden_layers=LAYERS,
                                   num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, vocab_size=97,
                                   max_position_embeddings=64, attention_bias=True)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # random biases too, so that their permutation is exercised
        for layer in model.model.layers:
            for lin in (layer.self_attn.q_proj, layer.self_attn.k_proj):
                lin.bias.normal_(0, 0.05)
    return model


def tiny_bert():
    torch.manual_seed(0)
    cfg = transformers.BertConfig(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                                  intermediate_size=128, vocab_size=97, max_position_embeddings=64)
    model = transformers.BertModel(cfg).eval()
    with torch.no_grad():  # widen the spread of key row norms so the sort has work to do
        for layer in model.encoder.layer:
            layer.attention.self.key.weight.mul_(torch.rand(HIDDEN, 1) * 4)
    return model


# ---------------------------------------------------------------------------------------------
# BFP12 / BFP16 catalog entries
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,bits", [("bfp12_b32", 4.25), ("bfp12_b64", 4.125), ("bfp12_b128", 4.0625),
                                       ("bfp16_b32", 8.25), ("bfp16_b64", 8.125), ("bfp16_b128", 8.0625)])
def test_bfp_kv_storage(name: str, bits: float) -> None:
    fmt = hwsim.format(name)
    assert fmt.bits_per_element == bits  # p mantissa bits (sign included) + 8 / n
    assert fmt.block_size == int(name.rsplit("_b", 1)[1])


def test_bfp12_hand_values() -> None:
    """BFP12: E = floor(log2 amax), value k 2^(E-2), |k| <= 7, nearest (ties to even k)."""
    x = np.zeros(32, np.float32)
    # amax 1.0 -> E = 0, quantum 0.25: 0.3 -> 1.2 q -> 0.25; -0.1 -> -0.4 q -> 0; 0.375 -> 1.5 q (tie)
    # -> k = 2 -> 0.5; 0.125 -> 0.5 q (tie) -> k = 0; 0.9 -> 3.6 q -> 1.0
    x[:6] = [1.0, 0.3, -0.1, 0.375, 0.125, 0.9]
    assert hwsim.format("bfp12_b32").quantize(x)[:6].tolist() == [1.0, 0.25, 0.0, 0.5, 0.0, 1.0]
    # amax 1.9 -> E = 0: 1.9 / 0.25 = 7.6 -> saturates at k = 7 -> 1.75
    y = np.full(32, 0.01, np.float32)
    y[0] = -1.9
    assert hwsim.format("bfp12_b32").quantize(y)[0] == -1.75
    # BFP16: amax 3.0 -> E = 1, quantum 2^(1-6) = 1/32: 0.1 -> 3.2 q -> 3/32
    z = np.zeros(64, np.float32)
    z[:2] = [3.0, 0.1]
    assert hwsim.format("bfp16_b64").quantize(z)[:2].tolist() == [3.0, 0.09375]


# ---------------------------------------------------------------------------------------------
# the permutation
# ---------------------------------------------------------------------------------------------
def _planted_wk(d: int = 32, kv: int = 2, din: int = 16) -> Tensor:
    torch.manual_seed(1)
    w = torch.randn(kv * d, din)
    w[[3, d + 20]] *= 10  # one outlier row per head
    return w


def test_channel_permutation_sorts_rows_per_head() -> None:
    w, d = _planted_wk(), 32
    perm = channel_permutation(w, d)
    assert perm.shape == (2, d)
    for g in range(2):
        assert sorted(perm[g].tolist()) == list(range(d))
        norms = w[g * d + perm[g]].norm(dim=1)
        assert torch.all(norms[:-1] >= norms[1:])
    assert perm[0, 0] == 3 and perm[1, 0] == 20


@pytest.mark.parametrize("layout", ["interleaved", "halves"])
def test_rope_permutation_moves_pairs(layout: str) -> None:
    w, d = _planted_wk(), 32
    half = d // 2
    perm = channel_permutation(w, d, rope=True, layout=layout)
    for g in range(2):
        p = perm[g]
        assert sorted(p.tolist()) == list(range(d))
        first, second = (p[0::2], p[1::2]) if layout == "interleaved" else (p[:half], p[half:])
        assert torch.all(first < half) and torch.equal(second, first + half)  # pairs stay together
        rows = w[g * d:(g + 1) * d]
        pair_norm = rows[first].pow(2).sum(1) + rows[second].pow(2).sum(1)
        assert torch.all(pair_norm[:-1] >= pair_norm[1:])
    assert perm[0, 0] == 3 and perm[1, 0] == 20 - half  # channel 20 is the 2nd half of pair 4


def test_permutations_found_in_hf_models() -> None:
    llama = ksort_permutations(tiny_llama())
    assert sorted(llama) == [f"model.layers.{i}.self_attn" for i in range(LAYERS)]
    ks = llama["model.layers.0.self_attn"]
    assert (ks.n_heads, ks.n_kv_heads, ks.head_dim, ks.rope) == (HEADS, KV_HEADS, HIDDEN // HEADS, True)
    bert = ksort_permutations(tiny_bert())
    assert sorted(bert) == [f"encoder.layer.{i}.attention.self" for i in range(LAYERS)]
    assert not bert["encoder.layer.0.attention.self"].rope


# ---------------------------------------------------------------------------------------------
# BERT: folded into the weights, exact
# ---------------------------------------------------------------------------------------------
def test_bert_fold_keeps_scores_and_outputs() -> None:
    model = tiny_bert()
    sorted_model = copy.deepcopy(model)
    result = ksort_(sorted_model)
    assert all(ks.folded for ks in result.values())
    ids = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        ref = model(ids).last_hidden_state
        out = sorted_model(ids).last_hidden_state
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        d = HIDDEN // HEADS
        x = torch.randn(2, 12, HIDDEN)
        for layer, new in zip(model.encoder.layer, sorted_model.encoder.layer, strict=True):
            a, b = layer.attention.self, new.attention.self

            def scores(att):
                q = att.query(x).view(2, 12, HEADS, d).transpose(1, 2)
                k = att.key(x).view(2, 12, HEADS, d).transpose(1, 2)
                return q @ k.transpose(-1, -2)

            torch.testing.assert_close(scores(b), scores(a), rtol=1e-5, atol=1e-5)
            norms = b.key.weight.view(HEADS, d, HIDDEN).norm(dim=-1)  # rows of W_k, per head
            assert torch.all(norms[:, :-1] >= norms[:, 1:])
            assert not torch.equal(b.key.weight, a.key.weight)  # something was reordered


# ---------------------------------------------------------------------------------------------
# Llama (RoPE, GQA): permuted after the rotation
# ---------------------------------------------------------------------------------------------
def _rotated_qk(attn, rotary, x):
    """q, k of one LlamaAttention after RoPE: (B, heads, T, d)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    b, t, _ = x.shape
    d = attn.head_dim
    pos = torch.arange(t)[None]
    cos, sin = rotary(x, pos)
    q = attn.q_proj(x).view(b, t, -1, d).transpose(1, 2)
    k = attn.k_proj(x).view(b, t, -1, d).transpose(1, 2)
    return q, k, cos, sin, apply_rotary_pos_emb(q, k, cos, sin)


def _hardware_fold(x_pre: Tensor, perm: Tensor, cos: Tensor, sin: Tensor, layout: str) -> Tensor:
    """What a K-sorted accelerator computes: rows of W permuted (x_pre[..., p] per head) and the RoPE
    unit rotating each stored pair at its own original frequency (table permuted with the rows).
    Pair (i, i + d/2) rotates as y_i = x_i cos - x_(i+d/2) sin, y_(i+d/2) = x_(i+d/2) cos + x_i sin."""
    heads, d = x_pre.shape[1], x_pre.shape[-1]
    half = d // 2
    out = torch.empty_like(x_pre)
    for h in range(heads):
        p = perm[h // (heads // perm.shape[0])]
        xp = x_pre[:, h][..., p]  # permuted rows of W
        c, s = cos[..., p][:, :, :], sin[..., p]  # permuted frequency table
        if layout == "interleaved":
            a, b = xp[..., 0::2], xp[..., 1::2]  # pair j at channels 2j, 2j+1
            ca, sa = c[..., 0::2], s[..., 0::2]
            y = torch.empty_like(xp)
            y[..., 0::2] = a * ca - b * sa
            y[..., 1::2] = b * ca + a * sa
        else:
            a, b = xp[..., :half], xp[..., half:]
            ca, sa = c[..., :half], s[..., :half]
            y = torch.cat([a * ca - b * sa, b * ca + a * sa], dim=-1)
        out[:, h] = y
    return out


@pytest.mark.parametrize("layout", ["interleaved", "halves"])
def test_post_rope_permutation_equals_folded_hardware(layout: str) -> None:
    model = tiny_llama()
    attn = model.model.layers[0].self_attn
    ks = ksort_permutations(model, layout=layout)["model.layers.0.self_attn"]
    x = torch.randn(2, 10, HIDDEN)
    with torch.no_grad():
        q, k, cos, sin, (q_rot, k_rot) = _rotated_qk(attn, model.model.rotary_emb, x)
        qs, kst = permute_qk(q_rot, k_rot, ks)
        torch.testing.assert_close(qs, _hardware_fold(q, ks.perm, cos, sin, layout), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(kst, _hardware_fold(k, ks.perm, cos, sin, layout), rtol=1e-6, atol=1e-6)
        # scores of every query head against its KV head are unchanged
        rep = HEADS // KV_HEADS
        ref = q_rot @ k_rot.repeat_interleave(rep, dim=1).transpose(-1, -2)
        new = qs @ kst.repeat_interleave(rep, dim=1).transpose(-1, -2)
        torch.testing.assert_close(new, ref, rtol=1e-5, atol=1e-6)


def test_weights_only_fold_breaks_rope() -> None:
    """Why RoPE attention is not folded into W_q/W_k: a moved pair rotates at the wrong frequency."""
    model = tiny_llama()
    folded = copy.deepcopy(model)
    from hwsim.bridge.ksort import fold_rows

    for name, ks in ksort_permutations(folded, layout="halves").items():
        attn = folded.get_submodule(name)
        fold_rows(attn.q_proj, ks.perm, ks.n_heads)
        fold_rows(attn.k_proj, ks.perm, ks.n_kv_heads)
    ids = torch.randint(0, 97, (1, 16))
    with torch.no_grad():
        diff = (folded(ids).logits - model(ids).logits).abs().max().item()
    assert diff > 1e-4  # fp32 noise is ~1e-6


class _SortedAttention(TorchFunctionMode):
    """Applies the K-sort permutation of the running attention module inside SDPA (where the
    datapath will apply it), optionally quantizing K with a KV-cache format along the head dim.
    ``perms[name] = None``: that module runs unsorted."""

    def __init__(self, model, perms, kv_format=None):
        super().__init__()
        self.model, self.perms, self.kv = model, perms, kv_format
        self.current: list[str] = []
        self.handles: list = []

    def __enter__(self):
        for name in self.perms:
            mod = self.model.get_submodule(name)
            self.handles.append(mod.register_forward_pre_hook(lambda m, a, n=name: self.current.append(n)))
            self.handles.append(mod.register_forward_hook(lambda m, a, o: self._pop()))
        return super().__enter__()

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        return super().__exit__(*exc)

    def _pop(self) -> None:
        self.current.pop()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention and self.current:
            q, k, v = args[:3]
            if self.perms[self.current[-1]] is not None:
                q, k = permute_qk(q, k, self.perms[self.current[-1]])
            if self.kv is not None:
                k = self.kv.quantize(k, axis=-1)
            return func(q, k, v, *args[3:], **kwargs)
        return func(*args, **kwargs)


def test_llama_logits_unchanged() -> None:
    model = tiny_llama()
    sorted_model = copy.deepcopy(model)
    result = ksort_(sorted_model)
    assert result and not any(ks.folded for ks in result.values())
    for (_, p), (_, p2) in zip(model.named_parameters(), sorted_model.named_parameters(), strict=True):
        assert torch.equal(p, p2)  # RoPE attention: no weight changed
    ids = torch.randint(0, 97, (2, 16))
    with torch.no_grad():
        ref = model(ids).logits
        with _SortedAttention(sorted_model, result):
            out = sorted_model(ids).logits
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_permute_qk_gqa_heads_and_errors() -> None:
    perm = channel_permutation(_planted_wk(), 32)  # 2 KV heads
    q = torch.randn(1, 4, 5, 32)
    k = torch.randn(1, 2, 5, 32)
    qs, ks = permute_qk(q, k, perm)
    _, k_rep = permute_qk(q, k.repeat_interleave(2, dim=1), perm)  # K already repeated to 4 heads
    assert torch.equal(k_rep, ks.repeat_interleave(2, dim=1))
    assert torch.equal(qs[0, 3], q[0, 3][..., perm[1]])  # query head 3 reads KV head 1
    with pytest.raises(HwsimError, match="multiple of 2 KV heads"):
        permute_qk(torch.randn(1, 3, 5, 32), k, perm)
    with pytest.raises(HwsimError, match="already folded"):
        permute_qk(q, k, KSort("x", perm, 4, 2, False, "channels", folded=True))
    with pytest.raises(HwsimError, match="not one of"):
        channel_permutation(_planted_wk(), 32, rope=True, layout="zigzag")
    with pytest.raises(HwsimError, match="not a multiple of head_dim"):
        channel_permutation(torch.randn(10, 4), 4)


# ---------------------------------------------------------------------------------------------
# the point of it: BFP12 K-cache error with planted outlier channels
# ---------------------------------------------------------------------------------------------
D, T, DIN = 128, 256, 64
OUTLIERS = [5, 40, 77, 110]  # one per block of 32 in the original order


def _planted_k():
    torch.manual_seed(2)
    w = torch.randn(D, DIN) / math.sqrt(DIN)
    w[OUTLIERS] *= 20
    k = torch.randn(T, DIN) @ w.T
    return w, k


def _k_error(k: Tensor, fmt: str) -> float:
    return float(((hwsim.format(fmt).quantize(k, axis=-1) - k) ** 2).sum())


def test_ksort_lowers_bfp12_error() -> None:
    w, k = _planted_k()
    p = channel_permutation(w, D)[0]
    assert set(p[:4].tolist()) == set(OUTLIERS)  # all four outliers now share the first block
    for fmt in ("bfp12_b32", "bfp12_b64", "bfp16_b32"):
        plain, ksorted = _k_error(k, fmt), _k_error(k[:, p], fmt)
        assert ksorted < 0.9 * plain, fmt
    # a block as wide as the head: the permutation stays inside the block, nothing changes
    assert _k_error(k[:, p], "bfp12_b128") == pytest.approx(_k_error(k, "bfp12_b128"), rel=1e-6)


def test_ksort_lowers_bfp12_error_after_rope() -> None:
    w, k = _planted_k()
    half = D // 2
    ang = torch.arange(T)[:, None].float() * 10000 ** (-torch.arange(0, D, 2).float() / D)
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    k_rot = k * cos + torch.cat([-k[:, half:], k[:, :half]], -1) * sin  # HF rotate_half RoPE
    inter = channel_permutation(w, D, rope=True)[0]
    halves = channel_permutation(w, D, rope=True, layout="halves")[0]
    plain = {f: _k_error(k_rot, f) for f in ("bfp12_b32", "bfp12_b64")}
    assert _k_error(k_rot[:, inter], "bfp12_b32") < 0.9 * plain["bfp12_b32"]
    assert _k_error(k_rot[:, halves], "bfp12_b32") < 0.9 * plain["bfp12_b32"]
    # blocks of d/2: pairs kept adjacent still gain; the half-split layout puts one member of every
    # pair (outliers included) in each block and gains nothing
    assert _k_error(k_rot[:, inter], "bfp12_b64") < 0.9 * plain["bfp12_b64"]
    assert _k_error(k_rot[:, halves], "bfp12_b64") == pytest.approx(plain["bfp12_b64"], rel=1e-6)


def test_tiny_llama_bfp12_kv_cache_closer_with_ksort() -> None:
    """End to end: a Llama whose K has four planted outlier channels (two per half, so every block
    of 32 of the unsorted head holds one), K cache in BFP12 blocks of 32: the K-sorted run's logits
    are closer to the fp32 model's. Head dim 64 here (hidden 128, 2 query heads sharing 1 KV head)
    so that a head spans two blocks."""
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=1, vocab_size=97,
                                   max_position_embeddings=64)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.k_proj.weight[[3, 20, 40, 60]] *= 30
    ids = torch.randint(0, 97, (2, 24))
    perms = ksort_permutations(model)
    bfp12 = hwsim.format("bfp12_b32")
    with torch.no_grad():
        ref = model(ids).logits
        with _SortedAttention(model, dict.fromkeys(perms), bfp12):
            plain = model(ids).logits
        with _SortedAttention(model, perms, bfp12):
            ksorted = model(ids).logits
    err_plain = float((plain - ref).pow(2).mean())
    err_sorted = float((ksorted - ref).pow(2).mean())
    assert err_sorted < 0.95 * err_plain  # measured: 3.60e-5 vs 4.26e-5
