"""Module swap, GEMM recording and costing on small models whose shapes are known by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import hwsim  # noqa: E402
from hwsim.bridge import simulate  # noqa: E402
from hwsim.errors import HwsimError  # noqa: E402


def _np_quant(name, t, axis=-1):
    """The numpy path of hwsim.numerics (the reference the torch path must match bit for bit)."""
    return torch.from_numpy(np.ascontiguousarray(hwsim.format(name).quantize(t.detach().numpy(), axis=axis)))


class Tiny(nn.Module):
    """Linear -> Conv2d -> attention (sdpa) -> matmul -> Linear, shapes chosen by hand."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(40, 64)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)  # input 8x8 -> im2col M = B*64, K = 9, N = 8
        self.head = nn.Linear(64, 10, bias=False)

    def forward(self, x):  # x [B, 16, 40]
        h = self.fc1(x)  # GEMM M = B*16, K = 40, N = 64
        q = h.view(x.shape[0], 16, 4, 16).transpose(1, 2)  # [B, 4 heads, 16, 16]
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True)  # QK^T 16x16x16, PV 16x16x16
        s = torch.matmul(a, a.transpose(-2, -1))  # [B, 4, 16, 16]: M=16, K=16, N=16
        c = self.conv(s[:, :1, :8, :8])  # [B, 8, 8, 8]
        return self.head(c.flatten(1)[:, :64]) + s.mean()


@pytest.fixture
def x():
    return torch.randn(3, 16, 40, generator=torch.Generator().manual_seed(1))


def test_recorded_shapes_match_hand_computed(x):
    sim = simulate(Tiny(), "mxfp4", "mxfp8_e4m3", "mx-systolic-32")
    with torch.no_grad():
        sim(x)
    got = {(r["layer"], r["kind"], r["m"], r["k"], r["n"], r["count"]) for r in sim.records().to_dict("records")}
    want = {("fc1", "linear", 48, 40, 64, 1),
            ("<root>.qk", "attention", 16, 16, 16, 12), ("<root>.pv", "attention", 16, 16, 16, 12),
            ("<root>.matmul", "matmul", 16, 16, 16, 12),
            ("conv", "conv2d", 3 * 64, 9, 8, 1), ("head", "linear", 3, 64, 10, 1)}
    assert got == want
    assert set(sim.records()["w_format"]) == {"mxfp4", "mxfp8_e4m3"}  # attention: both operands activations


def test_linear_is_quantized_inputs_times_quantized_weights(x):
    model = nn.Linear(40, 24)
    sim = simulate(model, "mxfp4", "mxfp8_e4m3")
    with torch.no_grad():
        got = sim(x)
        want = F.linear(_np_quant("mxfp8_e4m3", x).double(), _np_quant("mxfp4", model.weight).double(),
                        model.bias.double()).float()
    assert torch.equal(got, want)


def test_conv_is_the_im2col_gemm():
    """conv_layout="im2col" (the default rule before issue 17; the default now quantizes the
    activation tensor once along channels: tests/bridge/test_datapath_fidelity.py); products
    summed in float64 and rounded once."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    img = torch.randn(2, 3, 9, 9)
    sim = simulate(conv, "nvfp4", "mxfp6_e2m3", conv_layout="im2col")
    with torch.no_grad():
        got = sim(img)
        cols = F.unfold(img, 3, padding=1, stride=2).transpose(1, 2)
        w = _np_quant("nvfp4", conv.weight.reshape(5, -1))
        want = F.linear(_np_quant("mxfp6_e2m3", cols).double(), w.double(), conv.bias.double()).float()
        want = want.transpose(1, 2).reshape(2, 5, 5, 5)
    assert torch.equal(got, want)
    # fp32 everywhere reproduces the plain convolution
    with torch.no_grad():
        assert torch.allclose(simulate(conv, None, None)(img), conv(img), atol=1e-5)


@pytest.mark.parametrize("kw", [dict(is_causal=True), dict(is_causal=False), dict(mask=True),
                                dict(gqa=True, is_causal=True)])
def test_sdpa_decomposition_matches_torch_in_fp32(kw):
    class Att(nn.Module):
        def forward(self, q, k, v, mask=None):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=kw.get("is_causal", False),
                                                  enable_gqa=kw.get("gqa", False))
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 6, 10, 8, generator=g)
    kh = 3 if kw.get("gqa") else 6
    k, v = torch.randn(2, kh, 10, 8, generator=g), torch.randn(2, kh, 10, 8, generator=g)
    mask = torch.rand(10, 10, generator=g) > 0.3 if kw.get("mask") else None
    if mask is not None:
        mask[:, 0] = True
    sim = simulate(Att(), None, None)
    with torch.no_grad():
        assert torch.allclose(sim(q, k, v, mask), Att()(q, k, v, mask), atol=1e-5)
    assert set(sim.records()["layer"]) == {"<root>.qk", "<root>.pv"}


def test_kv_cache_format_and_overrides_and_skip(x):
    sim = simulate(Tiny(), "mxfp4", "mxfp8_e4m3", kv_cache="fp8_e5m2", skip=["head"],
                   overrides={"fc*": {"weights": "mxfp8_e4m3"}, "conv": {"activations": "fp16"}})
    with torch.no_grad():
        sim(x)
    rows = {r["layer"]: (r["a_format"], r["w_format"]) for r in sim.records().to_dict("records")}
    assert rows["fc1"] == ("mxfp8_e4m3", "mxfp8_e4m3")
    assert rows["conv"] == ("fp16", "mxfp4")
    assert rows["head"] == ("fp32", "fp32")
    assert rows["<root>.qk"] == ("mxfp8_e4m3", "fp8_e5m2")
    with pytest.raises(HwsimError, match="unknown key"):
        simulate(Tiny(), overrides={"fc1": {"weight": "int8"}})


def test_original_model_is_untouched_and_shares_parameters(x):
    model = Tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sim = simulate(model, "mxfp4", "mxfp4")
    assert type(model.fc1) is nn.Linear and type(sim.model.fc1).__name__ == "SimLinear"
    assert sim.model.get_submodule("fc1").bias is model.fc1.bias  # shared, not copied
    with torch.no_grad():
        sim(x)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_report_totals_are_sums_of_rows(x, tmp_path):
    sim = simulate(Tiny(), "mxfp4", "mxfp8_e4m3", "mx-systolic-32")
    with torch.no_grad():
        sim(x)
        sim(x)
    rep = sim.report(metric_name="loss", metric=1.0, baseline_metric=0.9)
    assert rep.energy_pj == pytest.approx(rep.layers["energy_pj_total"].sum(), rel=1e-12)
    assert rep.energy_pj == pytest.approx(sum(rep.energy_breakdown_pj.values()), rel=1e-9)
    assert rep.cycles == rep.layers["cycles_total"].sum()
    assert rep.latency_s == pytest.approx(rep.cycles / 1e9)  # mx-systolic-32 runs at 1000 MHz
    assert bool((rep.layers["count"] % 2 == 0).all())  # two forwards
    # each row's cost is the accelerator's cost of that GEMM
    acc = hwsim.accelerator("mx-systolic-32")
    row = rep.layers.set_index("layer").loc["fc1"]
    fc1 = acc.gemm(48, 40, 64, hwsim.format("mxfp8_e4m3"), hwsim.format("mxfp4"))
    assert row["energy_pj_per_call"] == pytest.approx(fc1.energy_pj)
    data = json.loads(rep.to_json(tmp_path / "r.json").read_text())
    for key in ("model", "weights", "activations", "accelerator", "metric_name", "metric", "baseline_metric",
                "cycles_total", "latency_s", "energy_pj_total", "area_um2", "layers"):
        assert key in data
    assert sum(layer["energy_pj_total"] for layer in data["layers"]) == pytest.approx(data["energy_pj_total"],
                                                                                   rel=1e-12)
    assert {"name", "m", "k", "n", "cycles_total", "energy_pj_total"} <= set(data["layers"][0])
    rep.to_csv(tmp_path / "l.csv")
    assert (tmp_path / "l.csv").read_text().startswith("layer,kind,m,k,n")


def test_narrow_formats_cost_less_energy(x):
    energies = []
    for fmt in ("fp16", "mxfp8_e4m3", "mxfp4"):
        sim = simulate(Tiny(), fmt, fmt)
        with torch.no_grad():
            sim(x)
        energies.append(sim.report().energy_pj)
    assert energies[0] > energies[1] > energies[2]


def test_unsupported_layers_run_fp32_and_are_listed():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv1d(4, 4, 3)
            self.rnn = nn.GRU(4, 4, batch_first=True)
            self.fc = nn.Linear(4, 4)

        def forward(self, x):  # [B, 4, 10]
            h = self.c1(x).transpose(1, 2)
            h, _ = self.rnn(h)
            return torch.einsum("bld,ed->ble", self.fc(h), self.fc.weight)

    model = Odd()
    x = torch.randn(2, 4, 10)
    sim = simulate(model, "mxfp4", "mxfp4")
    with torch.no_grad():
        sim(x)
    listed = {(u.name, u.op) for u in sim.unsupported}
    assert {("c1", "Conv1d"), ("rnn", "GRU"), ("<root>", "einsum")} <= listed
    assert set(sim.records()["layer"]) == {"fc"}
    rep = sim.report()
    assert {u["name"] for u in rep.unsupported} >= {"c1", "rnn"}


def test_unknown_names_list_the_known_ones():
    with pytest.raises(HwsimError, match="Known formats: .*mxfp4"):
        simulate(nn.Linear(2, 2), weights="mxfp3")
    with pytest.raises(HwsimError, match="Known accelerators: .*mx-systolic-32"):
        simulate(nn.Linear(2, 2), accelerator="tpu-v9")
    from hwsim.bridge import models

    with pytest.raises(HwsimError, match="Known models: digits-cnn, digits-mlp, minilm, smollm2"):
        models.get("gpt5")


def test_narrow_accumulator_changes_results_a_little(x):
    model = nn.Linear(40, 16)
    with torch.no_grad():
        ref = simulate(model, "mxfp8_e4m3", "mxfp8_e4m3")(x)
        bf = simulate(model, "mxfp8_e4m3", "mxfp8_e4m3", accumulate="bf16", acc_block=8)(x)
    assert not torch.equal(ref, bf)
    assert torch.allclose(ref, bf, rtol=0.05, atol=0.05)


def test_weights_are_quantized_once(x):
    """The stored weight is Q_w(W), made at simulate() time; a forward reads it as stored (a
    weight re-quantized per call would undo the planted non-grid values below)."""
    model = nn.Linear(40, 24)
    sim = simulate(model, "mxfp4", None)
    layer = sim.model  # a bare Linear becomes one simulated layer
    stored = dict(layer.named_buffers())
    assert len(stored) == 1
    (key, w_q), = stored.items()
    expected = hwsim.format("mxfp4").quantize(model.weight.detach(), axis=-1)
    assert torch.equal(w_q, expected)
    with torch.no_grad():
        getattr(layer, key).fill_(0.3)  # not an mxfp4 grid value under any scale of this weight
        y = sim(x)
    torch.testing.assert_close(y, x @ torch.full((40, 24), 0.3) + model.bias.detach(), rtol=0, atol=1e-5)


def test_user_model_with_evaluation_function():
    from hwsim.bridge import run

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    x = torch.randn(64, 16)
    target = model(x).detach()

    def evaluate(m):
        with torch.no_grad():
            return {"mse": float(((m(x) - target) ** 2).mean()), "other": 1.0}

    rep = run(model, "mxfp4", "mxfp4", evaluate=evaluate, metric_name="mse")
    assert rep.baseline_metric == 0.0 and rep.metric is not None and rep.metric > 0
    assert list(rep.layers["layer"]) == ["0", "2"]
    with pytest.raises(HwsimError, match="evaluation function"):
        run(model, "mxfp4")


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_digits_end_to_end(name):
    from hwsim.bridge import run

    pytest.importorskip("sklearn")
    for w, a in [("mxfp8_e4m3", "mxfp8_e4m3"), ("mxfp4", "mxfp8_e4m3"), ("int4_g32", None)]:
        rep = run(name, w, a, "mx-systolic-32")
        assert rep.baseline_metric is not None and rep.baseline_metric >= 0.95
        assert rep.metric is not None and rep.metric >= 0.95, (w, a, rep.metric)
        assert rep.cycles > 0 and rep.energy_pj > 0 and rep.area_um2 > 0
        assert rep.metrics["agreement_with_fp32"] >= 0.97


@pytest.mark.gpu
def test_cuda_model_uses_the_gpu_path():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model = Tiny().cuda()
    x = torch.randn(3, 16, 40, device="cuda")
    sim = simulate(model, "mxfp4", "mxfp8_e4m3")
    with torch.no_grad():
        y = sim(x)
        ref = simulate(Tiny(), "mxfp4", "mxfp8_e4m3")(x.cpu())
    assert y.is_cuda and sim.model.get_buffer("fc1.weight").is_cuda
    assert torch.allclose(y.cpu(), ref, atol=1e-4)


def test_codebook_format_built_in_code_runs_and_is_costed(x):
    """Any format family works in the bridge, also one built in code (no catalog name): weights are
    quantized once with the format's own rule, and the report costs its GEMMs by its bit widths."""
    from hwsim.numerics.codebook import Codebook, CodebookFormat

    int4 = Codebook(name="int4_sym", bits=4, table=tuple(k if k < 8 else k - 16 for k in range(16)))
    fmt = CodebookFormat(name="int4_mse_test", types=(int4,), group_size=0, scale_rule="mse", search=(80, 120, 5))
    model = Tiny()
    sim = simulate(model, weights=fmt, activations=None, accelerator="mx-systolic-32", attention=False)
    with torch.no_grad():
        sim(x)
    want = torch.from_numpy(fmt.quantize(model.fc1.weight.detach().numpy(), axis=-1))
    assert torch.equal(sim.model.get_buffer("fc1.weight"), want)
    rec = sim.records()
    assert set(rec.loc[rec["kind"] == "linear", "w_format"]) == {"int4_mse_test"}
    from hwsim.bridge.report import cost_gemms

    records = sim.gemm_records()
    # the records carry the object itself (no catalog entry has this name), and it is what is costed
    assert all(r.w.format is fmt for r in records if r.kind == "linear")
    costs = cost_gemms(records, sim.accelerator)
    assert bool((costs["energy_pj_per_call"] > 0).all())


def test_llm_int8_scheme_matches_the_emulation_and_records_the_outlier_gemm():
    """weights="llm_int8": every Linear runs bitsandbytes' Linear8bitLt arithmetic (tested against
    the numpy emulation in tests/bridge/test_llm_int8.py); the int8 GEMM and the fp16 outlier-column
    GEMM are recorded with their own shapes; Conv2d is listed as unsupported, never silently fp32."""
    from hwsim.bridge.llm_int8 import llm_int8_linear, quantize_weight

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
    x = torch.randn(5, 64)
    x[:, 3] *= 20  # one activation column above the threshold 6.0
    sim = simulate(model, weights="llm_int8", activations=None, accelerator="mx-systolic-32")
    with torch.no_grad():
        y = sim(x)
        fc1, fc2 = model.get_submodule("0"), model.get_submodule("2")
        assert isinstance(fc1, nn.Linear) and isinstance(fc2, nn.Linear)
        c, s = quantize_weight(fc1.weight)
        h = llm_int8_linear(x, c, s, fc1.bias).relu()
        c2, s2 = quantize_weight(fc2.weight)
        want = llm_int8_linear(h, c2, s2, fc2.bias)
    assert torch.equal(y, want)
    got = {(r["layer"], r["m"], r["k"], r["n"], r["a_format"], r["w_format"])
           for r in sim.records().to_dict("records")}
    assert ("0", 5, 64, 32, "llm_int8", "llm_int8") in got
    assert ("0.outliers", 5, 1, 32, "fp16", "fp16") in got  # column 3 only
    rep = sim.report()
    assert rep.weights == "llm_int8" and bool((rep.layers["energy_pj_per_call"] > 0).all())
    conv_sim = simulate(Tiny(), weights="llm_int8", activations=None)
    assert [u.name for u in conv_sim.unsupported] == ["conv"]


def test_ksort_in_simulate_keeps_fp32_scores_and_helps_a_bfp12_k_cache():
    """simulate(..., ksort=True) permutes q and k channels inside attention: without quantization the
    logits are those of the plain run (q.k is a sum over channels); with a BFP12 (block 32) K cache and
    planted outlier channels in W_k the K-sorted run lands closer to fp32 (arXiv 2403.20137)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=1, vocab_size=97,
                                   max_position_embeddings=64, attn_implementation="sdpa")
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.k_proj.weight[[3, 20, 40, 60]] *= 30
    ids = torch.randint(0, 97, (2, 24))
    with torch.no_grad():
        ref = model(ids).logits
        same = simulate(model, None, None, kv_cache=None, ksort=True).model(ids).logits
        # K in BFP12 (the paper's K cache), V left fp32 so that the K error is what differs
        plain = simulate(model, None, None, kv_cache="bfp12_b32", v_cache=None).model(ids).logits
        ksorted = simulate(model, None, None, kv_cache="bfp12_b32", v_cache=None, ksort=True).model(ids).logits
    torch.testing.assert_close(same, ref, rtol=1e-5, atol=1e-5)
    assert float((ksorted - ref).pow(2).mean()) < 0.95 * float((plain - ref).pow(2).mean())
    with pytest.raises(HwsimError, match="no attention module"):
        simulate(Tiny(), "mxfp4", "mxfp4", ksort=True)


def test_v_cache_format_separate_from_k(x):
    sim = simulate(Tiny(), "mxfp4", "mxfp8_e4m3", kv_cache="bfp12_b32", v_cache="fp8_e4m3")
    with torch.no_grad():
        sim(x)
    rec = sim.records().set_index("layer")
    assert rec.loc["<root>.qk", "w_format"] == "bfp12_b32" and rec.loc["<root>.pv", "w_format"] == "fp8_e4m3"
    assert sim.report().kv_cache == "bfp12_b32/fp8_e4m3"


def test_ksort_under_eager_attention_is_reported_and_llm_int8_is_weights_only():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=97,
                                   attn_implementation="eager")
    model = transformers.LlamaForCausalLM(cfg).eval()
    sim = simulate(model, None, None, kv_cache=None, ksort=True)
    with torch.no_grad():
        sim.model(torch.randint(0, 97, (1, 8)))
    assert [(u.name, u.op) for u in sim.unsupported] == [("model.layers.0.self_attn", "ksort")]
    with pytest.raises(HwsimError, match="llm_int8"):
        simulate(model, "mxfp4", "llm_int8")
