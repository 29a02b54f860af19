"""Workloads from a model's config (issue 17 item 8): the GEMM list equals what a real simulated
forward records, for tiny Llama (grouped-query attention) and BERT configs."""

from __future__ import annotations

import pytest

import hwsim.arch as arch
from hwsim.arch.workload import WorkloadError, from_hf_config


def _recorded(model, batch: int, seq: int) -> list[tuple]:
    torch = pytest.importorskip("torch")
    from hwsim.bridge import simulate

    sim = simulate(model, "mxfp8_e4m3", "mxfp8_e4m3")
    with torch.no_grad():
        sim.model(torch.randint(0, 64, (batch, seq)))
    rec = sim.records()
    return [tuple(r) for r in rec[["layer", "kind", "m", "k", "n", "count"]].itertuples(index=False)]


def _listed(wl) -> list[tuple]:
    return [(x.name, x.kind, x.m, x.k, x.n, x.count) for x in wl]


@pytest.mark.parametrize("batch,seq", [(1, 7), (3, 5)])
def test_llama_config_matches_a_recorded_forward(batch: int, seq: int) -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(cfg).eval()
    wl = from_hf_config(cfg.to_dict(), seq=seq, batch=batch)
    assert _listed(wl) == _recorded(model, batch, seq)
    assert len(wl) == 2 * 9 + 1


def test_bert_config_matches_a_recorded_forward() -> None:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                  num_attention_heads=4)
    model = transformers.BertModel(cfg).eval()
    assert _listed(from_hf_config(cfg.to_dict(), seq=6, batch=2)) == _recorded(model, 2, 6)


def test_shapes_by_hand() -> None:
    """SmolLM2-135M's published config (hidden 576, 9 heads, 3 KV heads, FFN 1536, 30 layers,
    vocab 49152): 30 x 9 + 1 = 271 GEMMs per forward, as a real run records."""
    cfg = {"model_type": "llama", "hidden_size": 576, "num_attention_heads": 9, "num_key_value_heads": 3,
           "intermediate_size": 1536, "num_hidden_layers": 30, "vocab_size": 49152}
    wl = from_hf_config(cfg, seq=128, batch=2)
    assert len(wl) == 271
    got = {x.name: (x.m, x.k, x.n, x.count) for x in wl}
    assert got["model.layers.0.self_attn.k_proj"] == (256, 576, 192, 1)
    assert got["model.layers.0.self_attn.qk"] == (128, 64, 128, 18)
    assert got["model.layers.29.mlp.down_proj"] == (256, 1536, 576, 1)
    assert got["lm_head"] == (256, 576, 49152, 1)
    costs = arch.accelerator("mx-systolic-32").run(wl)  # an ordinary workload for the cost model
    assert len(costs) == 271


def test_unknown_model_type() -> None:
    with pytest.raises(WorkloadError, match="llama"):
        from_hf_config({"model_type": "gpt2"})
