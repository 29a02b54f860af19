"""Where the simulated datapath quantizes and how it sums (issue 17 items 1-5, issue 10 item 8),
each against an independent reference or an invariant a real accelerator has:

- the KV cache stores each token's K and V once, quantized when written along head_dim, so
  prefill and token-by-token decode give the same logits bit for bit, and a position's output never
  depends on later tokens;
- a Conv2d's activation tensor is quantized once (blocks along the channels of each pixel) and its
  weight along C_in per kernel tap: a plain ``F.conv2d`` over ``hwsim.format(...).quantize``'d
  tensors is the reference;
- fully masked attention rows (a left-padded batch) give 0 as torch's SDPA, never NaN;
- eager attention (``q @ k^T``, ``P @ V`` as matmuls) uses the ``kv_cache``/``v_cache`` formats;
- an in-place change between two calls under ``torch.inference_mode`` is seen;
- GEMMs sum exact products in float64 and round once: the result does not depend on the
  summation order, the GEMM's M, or the torch thread count.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import hwsim  # noqa: E402
from hwsim.bridge import simulate  # noqa: E402


def _llama(attn: str = "sdpa", layers: int = 2, seed: int = 0):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=layers,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=97,
                                   max_position_embeddings=64, attn_implementation=attn)
    return transformers.LlamaForCausalLM(cfg).eval()


def _prefill_and_decode(model, ids):
    """Logits of one prefill of ``ids`` and of token-by-token decode with the HF cache."""
    with torch.inference_mode():
        pre = model(ids).logits
        out = model(ids[:, :1], use_cache=True)
        steps = [out.logits[:, -1]]
        for i in range(1, ids.shape[1]):
            out = model(ids[:, i:i + 1], past_key_values=out.past_key_values, use_cache=True)
            steps.append(out.logits[:, -1])
    return pre, torch.stack(steps, 1)


# ---- 17.1: the KV cache -------------------------------------------------------------------------
# W, A and K/V in one format; then K/V alone in formats whose quantization of one row reads the
# whole tensor (a per-tensor scale), which the cache writes token by token
_CAUSAL = [("mxfp4", "mxfp4", "mxfp4"), ("nvfp4", "nvfp4", "nvfp4"), ("int8_g32", "int8_g32", "int8_g32"),
           ("mxfp8_e4m3", "mxfp8_e4m3", "mxfp8_e4m3"), ("mxfp4", "mxfp8_e4m3", "bfp12_b32"),
           (None, None, "int8_tensor"), (None, None, "nvfp4+tensor_scale")]


def _fmt(name):
    if name == "nvfp4+tensor_scale":
        return hwsim.format("nvfp4", tensor_scale=True)
    return name


@pytest.mark.parametrize("w,a,kv", _CAUSAL, ids=lambda n: str(n))
def test_prefill_equals_token_by_token_decode(w, a, kv):
    model = _llama()
    ids = torch.randint(0, 97, (1, 20), generator=torch.Generator().manual_seed(3))
    sim = simulate(model, _fmt(w), _fmt(a), kv_cache=_fmt(kv))
    pre, dec = _prefill_and_decode(sim.model, ids)
    assert torch.isfinite(pre).all()
    diff = (pre != dec).sum().item()
    assert diff == 0, f"{w}/{a}/{kv}: {diff} logits differ between prefill and decode " \
                      f"(max {(pre - dec).abs().max().item():.3g})"


def test_a_position_does_not_depend_on_later_tokens():
    """The issue's reproduction: 8 vs 16 tokens of the same prefix, mxfp4 everywhere; V used to be
    blocked along the sequence, so positions 0-7 moved with tokens 8-15."""
    model = _llama()
    ids = torch.randint(0, 97, (1, 16), generator=torch.Generator().manual_seed(4))
    sim = simulate(model, "mxfp4", "mxfp4")
    with torch.inference_mode():
        short = sim.model(ids[:, :8]).logits
        long = sim.model(ids).logits[:, :8]
    assert torch.equal(short, long)


def test_v_sequence_layout_is_recorded_as_requantization():
    """v_layout="sequence": the stored V re-quantized along the key positions for PV (reference
    in tests/bridge/test_attention_reference.py), and the pass shows in the records."""
    model = _llama(layers=1)
    ids = torch.randint(0, 97, (1, 12), generator=torch.Generator().manual_seed(5))
    sim = simulate(model, None, "mxfp4", v_layout="sequence")
    with torch.inference_mode():
        sim.model(ids)
    rec = sim.records().set_index("layer")
    row = rec.loc["model.layers.0.self_attn.v_requant"]
    assert (row["kind"], row["m"], row["k"], row["n"], row["w_format"]) == ("requant", 12, 32, 1, "mxfp4")
    with pytest.raises(hwsim.HwsimError, match="v_layout"):
        simulate(model, v_layout="blocks")


# ---- 17.2: Conv2d -------------------------------------------------------------------------------
@pytest.mark.parametrize("fw,fa", [("nvfp4", "mxfp6_e2m3"), ("mxfp4", "mxfp8_e4m3"), ("int8_g32", "int4_g32")])
def test_conv_activations_quantized_once_along_channels(fw, fa):
    """Reference: F.conv2d over the activation tensor quantized along C (axis 1, blocks per pixel)
    and the weight along C_in (axis 1, per tap), products summed in float64 and rounded once."""
    g = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(40, 6, 3, stride=2, padding=1)
    img = torch.randn(2, 40, 9, 9, generator=g) * torch.rand(1, 40, 1, 1, generator=g) * 4
    sim = simulate(conv, fw, fa)
    with torch.no_grad():
        got = sim(img)
        xq = hwsim.format(fa).quantize(img, axis=1)
        wq = hwsim.format(fw).quantize(conv.weight.detach(), axis=1)
        want = F.conv2d(xq.double(), wq.double(), conv.bias.double(), stride=2, padding=1).float()
    assert torch.equal(got, want)
    # one input element, one value: the im2col rule blocks each im2col row and gives it several
    old = simulate(conv, fw, fa, conv_layout="im2col")
    with torch.no_grad():
        assert not torch.equal(old(img), got)


def test_conv_im2col_layout_is_kept_as_an_option():
    g = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(8, 16, 3)
    img = torch.randn(1, 8, 10, 10, generator=g)
    sim = simulate(conv, "mxfp4", "mxfp4", conv_layout="im2col")
    f = hwsim.format("mxfp4")
    with torch.no_grad():
        cols = F.unfold(img, 3).transpose(1, 2)
        w = f.quantize(conv.weight.detach().reshape(16, -1), axis=-1)
        want = F.linear(f.quantize(cols, axis=-1).double(), w.double(), conv.bias.double()).float()
        assert torch.equal(sim(img), want.transpose(1, 2).reshape(1, 16, 8, 8))
    with pytest.raises(hwsim.HwsimError, match="conv_layout"):
        simulate(conv, conv_layout="rows")


# ---- 17.3: padding ------------------------------------------------------------------------------
class _Attention(nn.Module):
    def forward(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_fully_masked_rows_give_zero_like_torch_sdpa():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 3, 6, 16, generator=g) for _ in range(3))
    mask = torch.ones(2, 1, 6, 6, dtype=torch.bool).tril()
    mask[1, :, :2, :] = False  # sequence 1 left-padded by two tokens: its pad queries see nothing
    mask[1, :, :, :2] = False
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    for fmt in (None, "mxfp8_e4m3"):
        with torch.no_grad():
            got = simulate(_Attention(), None, fmt)(q, k, v, mask)
        assert torch.isfinite(got).all()
        assert torch.equal(got[1, :, :2], torch.zeros_like(got[1, :, :2]))
    torch.testing.assert_close(simulate(_Attention(), None, None)(q, k, v, mask), want, rtol=1e-5, atol=1e-6)


def test_left_padded_batch_has_no_nan():
    model = _llama()
    ids = torch.randint(1, 97, (2, 10), generator=torch.Generator().manual_seed(6))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, :3] = 0  # left padding
    sim = simulate(model, "mxfp4", "mxfp8_e4m3")
    with torch.inference_mode():
        logits = sim.model(input_ids=ids, attention_mask=mask).logits
        ref = simulate(model, None, None).model(input_ids=ids, attention_mask=mask).logits
        fp32 = model(input_ids=ids, attention_mask=mask).logits
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(ref[1, 3:], fp32[1, 3:], rtol=1e-4, atol=1e-4)


# ---- 17.4: eager attention ----------------------------------------------------------------------
def test_eager_attention_applies_the_kv_and_v_cache_formats():
    eager, sdpa = _llama("eager"), _llama("sdpa")
    ids = torch.randint(0, 97, (1, 12), generator=torch.Generator().manual_seed(7))
    kw = dict(weights=None, activations=None, kv_cache="int8_g32", v_cache="mxfp4")
    sim_e, sim_s = simulate(eager, **kw), simulate(sdpa, **kw)
    with torch.inference_mode():
        got, want = sim_e.model(ids).logits, sim_s.model(ids).logits
        plain = simulate(eager, None, None).model(ids).logits
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got, plain, rtol=1e-5, atol=1e-5)  # the formats did something
    rec = sim_e.records().set_index("layer")
    assert rec.loc["model.layers.0.self_attn.qk", "w_format"] == "int8_g32"
    assert rec.loc["model.layers.0.self_attn.pv", "w_format"] == "mxfp4"
    assert rec.loc["model.layers.0.self_attn.qk", "kind"] == "attention"


# ---- 17.5: the shared activation-quantization cache ----------------------------------------------
def test_in_place_change_under_inference_mode_is_seen():
    lin = nn.Linear(64, 8)
    sim = simulate(lin, "mxfp4", "mxfp4")
    f = hwsim.format("mxfp4")
    w = f.quantize(lin.weight.detach(), axis=-1)
    with torch.inference_mode():
        x = torch.randn(4, 64, generator=torch.Generator().manual_seed(8))
        sim(x)
        x.mul_(3)
        got = sim(x)
        want = F.linear(f.quantize(x, axis=-1).double(), w.double(), lin.bias.double()).float()
    assert torch.equal(got, want)


# ---- 10.8: deterministic accumulation -----------------------------------------------------------
def test_gemm_does_not_depend_on_summation_order_or_m():
    """The products of quantized operands are exact in float64 and summed there, rounded once: the
    same GEMM with its K axis reversed, or one row at a time, gives the same bits."""
    g = torch.Generator().manual_seed(9)
    lin = nn.Linear(1536, 64, bias=False)
    x = torch.randn(32, 1536, generator=g) * torch.logspace(-3, 3, 1536)
    sim = simulate(lin, "int8_g32", "int8_g32")
    rev = nn.Linear(1536, 64, bias=False)
    with torch.no_grad():
        rev.weight.copy_(lin.weight.flip(-1))
    # int8_g32 blocks of 32 map onto reversed blocks when K is reversed (1536 = 48 x 32)
    sim_rev = simulate(rev, "int8_g32", "int8_g32")
    with torch.no_grad():
        y = sim(x)
        assert torch.equal(y, sim_rev(x.flip(-1)))
        assert torch.equal(y, torch.cat([sim(x[i:i + 1]) for i in range(32)]))


def test_same_result_at_one_and_two_threads():
    model = _llama()
    ids = torch.randint(0, 97, (2, 24), generator=torch.Generator().manual_seed(10))
    before = torch.get_num_threads()
    outs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            sim = simulate(model, "int8_g32", "int8_g32")
            layers: dict[str, torch.Tensor] = {}
            hooks = [mod.register_forward_hook(lambda m, i, o, n=name, d=layers: d.__setitem__(n, o.clone()))
                     for name, mod in sim.model.named_modules() if name.endswith(("_proj", "lm_head"))]
            with torch.inference_mode():
                logits = sim.model(ids).logits
            for h in hooks:
                h.remove()
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, 97), ids[:, 1:].reshape(-1))
            outs.append((logits, layers, float(loss)))
    finally:
        torch.set_num_threads(before)
    (l1, lay1, m1), (l2, lay2, m2) = outs
    assert m1 == m2 and torch.equal(l1, l2)
    assert lay1.keys() == lay2.keys() and all(torch.equal(lay1[k], lay2[k]) for k in lay1)
