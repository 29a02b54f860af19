"""The module swap: new modules, the fp32 recipe equals torch's layers, master-weight rounding,
the fp32-GEMM option."""

from __future__ import annotations

import torch
import torch.nn as nn

import hwsim
from hwsim.train.autograd import TrainState
from hwsim.train.loop import train
from hwsim.train.modules import QConv2d, QLinear, convert
from hwsim.train.recipe import recipe


def test_convert_returns_new_modules_and_leaves_the_model_alone() -> None:
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 25, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new, state = convert(model, recipe("mxfp8"))
    assert isinstance(new[0], QConv2d) and isinstance(new[2], QLinear)
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[2], nn.Linear)
    assert new[0].weight is not model[0].weight
    x = torch.randn(3, 2, 5, 5)
    new(x).sum().backward()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert model[0].weight.grad is None


def test_fp32_recipe_matches_torch_layers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 9, 4))
    new, _ = convert(model, recipe("fp32"))
    x = torch.randn(2, 3, 6, 6)
    y_ref, y = model(x), new(x)
    assert torch.allclose(y, y_ref, atol=1e-5)
    y_ref.square().sum().backward()
    y.square().sum().backward()
    for (name, p), q in zip(model.named_parameters(), new.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-4), name


def test_master_weights_in_a_format() -> None:
    bf16 = hwsim.format("bf16")
    for master, rounded in (("bf16", True), ("fp32", False)):
        r = train("digits-mlp", recipe("mxfp8", master=master), steps=2, n_threads=1)
        ws = [p.detach() for p in r.module.parameters()]
        assert all(torch.equal(bf16.quantize(w), w) for w in ws) is rounded


def test_fp32_gemm_option_quantizes_the_same_operands() -> None:
    torch.manual_seed(1)
    lin = nn.Linear(64, 32)
    rec = recipe("mxfp4-rne")
    exact, _ = convert(lin, rec, TrainState(rec, accumulate="float64"))
    fast, _ = convert(lin, rec, TrainState(rec, deterministic=False))
    x = torch.randn(16, 64)
    assert torch.allclose(exact(x), fast(x), atol=1e-5)
