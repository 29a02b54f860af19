"""Training runs: every recipe trains the digits models for 20 steps; determinism across thread
counts; DFP overflow counts; the tiny LM's size and data."""

from __future__ import annotations

import math

import pytest
import torch

from hwsim.train.loop import lr_at, train
from hwsim.train.models import LMConfig, TinyLM, lee_bytes, task
from hwsim.train.recipe import recipe_names

TINY = LMConfig(d_model=32, n_layer=1, n_head=2, context=32)


@pytest.mark.parametrize("name", recipe_names())
def test_each_recipe_20_digits_steps(name: str) -> None:
    r = train("digits-mlp", name, steps=20, n_threads=1)
    assert len(r.train_loss) == 20 and not r.diverged
    assert all(math.isfinite(v) for v in r.train_loss)
    assert {g.role for g in r.gemms} == {"forward", "dgrad", "wgrad"}
    if name == "dfp16-no-overflow-handling":
        assert r.total_overflows > 0
    else:
        assert r.total_overflows == 0
        assert r.final_val["val_loss"] < r.train_loss[0]  # it learns in 20 steps


@pytest.mark.parametrize("name", ["fp32", "mxfp4-sr", "nvfp4-sr-rht", "dfp16"])
def test_digits_cnn_recipes(name: str) -> None:
    r = train("digits-cnn", name, steps=5, n_threads=1)
    assert all(math.isfinite(v) for v in r.train_loss)
    assert sum(g.kind == "conv" for g in r.gemms) == 5  # conv1: forward + wgrad; conv2: all three


@pytest.mark.parametrize("model,name", [("digits-mlp", "mxfp4-sr"), ("tiny-lm", "fp4-ue5m3-sr-rht"),
                                        ("tiny-lm", "dfp16")])
def test_same_curve_on_one_and_two_threads(model: str, name: str) -> None:
    kw = {"lm": TINY, "batch_size": 4} if model == "tiny-lm" else {}
    a = train(model, name, steps=3, n_threads=1, **kw)
    b = train(model, name, steps=3, n_threads=2, **kw)
    c = train(model, name, steps=3, n_threads=1, seed=1, **kw)
    assert a.train_loss == b.train_loss and a.final_val == b.final_val
    # every trained parameter too (LayerNorm's weight gradient is a torch reduction over tokens,
    # whose bits depend on torch's thread count: deterministic runs keep torch on one thread)
    pa, pb = dict(a.module.named_parameters()), dict(b.module.named_parameters())
    assert [n for n in pa if not torch.equal(pa[n], pb[n])] == []
    assert a.train_loss != c.train_loss


def test_tiny_lm_size_and_data() -> None:
    n = sum(p.numel() for p in TinyLM().parameters())
    assert 1_000_000 <= n <= 5_000_000
    data = lee_bytes()
    assert data.dtype == torch.uint8 and len(data) > 300_000
    tk = task("tiny-lm", batch_size=2, lm=TINY)
    x, y = tk.batch(torch.Generator().manual_seed(0))
    assert x.shape == (2, 32) and torch.equal(x[:, 1:], y[:, :-1])


def test_tiny_lm_attention_is_quantized() -> None:
    r = train("tiny-lm", "mxfp4-rne", steps=1, n_threads=1, lm=TINY, batch_size=2)
    kinds = {(g.kind, g.role) for g in r.gemms}
    assert ("attention", "wgrad") in kinds and ("linear", "dgrad") in kinds
    att = [g for g in r.gemms if g.kind == "attention"]
    assert all(g.batch == 2 * TINY.n_head for g in att)
    assert all(g.a_format is not None and g.a_format.name == "mxfp4" for g in r.gemms)


def test_lr_schedule() -> None:
    assert lr_at(0, 100, 1.0) == pytest.approx(0.2)
    assert lr_at(4, 100, 1.0) == pytest.approx(1.0)
    assert lr_at(99, 100, 1.0) == pytest.approx(0.1, abs=1e-3)
