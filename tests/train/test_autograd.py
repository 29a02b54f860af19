"""The quantized autograd GEMMs against a reference written from ``hwsim.format(...).quantize`` and
plain float64 matmuls, bit for bit; the axis rule per role; stochastic rounding."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import hwsim
from hwsim.train.autograd import TrainState, derive_seed
from hwsim.train.modules import convert
from hwsim.train.recipe import recipe

# slot numbers of the seed derivation, written out (forward x, forward w, dgrad dy, dgrad w,
# wgrad x, wgrad dy, then the RHT signs)
FX, FW, DDY, DW, WX, WDY, RHT = range(7)


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() @ b.double()).float()


def _hadamard(n: int) -> torch.Tensor:
    h = torch.tensor([[1.0]], dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(n)


def _rht_ref(x: torch.Tensor, block: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (x.shape[0],), generator=gen, dtype=torch.int64).double() * 2 - 1
    xs = (x.double() * signs[:, None]).reshape(-1, block, x.shape[1])
    return (_hadamard(block) @ xs).reshape(x.shape).float()


def _fmt(name: str, slot: int, step: int, index: int, stochastic: bool, tensor_scale: bool, seed0: int = 0):
    kw: dict = {}
    if stochastic:
        kw.update(rounding="stochastic", seed=derive_seed(seed0, step, index, slot, 0))
    if tensor_scale:
        kw["tensor_scale"] = True
    return hwsim.format(name, **kw)


def _reference(name: str, x, w, b, g, *, step: int, sr: bool, ts: bool, rht: int, axes=None):
    """(y, dx, dw, db) of ``y = x @ w^T + b`` for upstream gradient ``g``, from format calls and
    matmuls only. ``axes`` overrides the quantization axes (to show that a wrong one differs)."""
    ax = {"fx": -1, "fw": -1, "dg": -1, "dw": 0, "wx": 0, "wg": 0, **(axes or {})}
    q = lambda slot, st: _fmt(name, slot, step, 0, st, ts)  # noqa: E731
    y = _mm(q(FX, False).quantize(x, axis=ax["fx"]), q(FW, False).quantize(w, axis=ax["fw"]).t()) + b
    dx = _mm(q(DDY, sr).quantize(g, axis=ax["dg"]), q(DW, False).quantize(w, axis=ax["dw"]))
    xr, gr = x, g
    if rht:
        seed = derive_seed(0, step, 0, RHT, 0)
        xr, gr = _rht_ref(x, rht, seed), _rht_ref(g, rht, seed)
    dw = _mm(q(WDY, sr).quantize(gr, axis=ax["wg"]).t(), q(WX, False).quantize(xr, axis=ax["wx"]))
    db = g.double().sum(0).float()
    return y, dx, dw, db


def _layer(rec_name: str, x, w, b, g, step: int = 3):
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(b)
    model, state = convert(nn.Sequential(lin), recipe(rec_name))
    state.step = step
    xin = x.clone().requires_grad_(True)
    y = model(xin)
    y.backward(g)
    q = model[0]
    return y.detach(), xin.grad, q.weight.grad, q.bias.grad


def _data(m=64, k=64, n=96, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=gen) * torch.logspace(-2, 1, k)  # per-channel spread: axis matters
    w = torch.randn(n, k, generator=gen) * 0.1
    b = torch.randn(n, generator=gen) * 0.1
    g = torch.randn(m, n, generator=gen) * torch.logspace(-3, 0, m)[:, None]  # per-token spread
    return x, w, b, g


CASES = [  # recipe, element format, stochastic gradients, tensor scale, RHT block
    ("bf16", "bf16", False, False, 0),
    ("mxfp8", None, False, False, 0),
    ("mxfp4-rne", "mxfp4", False, False, 0),
    ("mxfp4-sr", "mxfp4", True, False, 0),
    ("fp4-ue5m3-sr-rht", "mxfp4_ue5m3", True, True, 32),
    ("nvfp4-sr-rht", "nvfp4", True, True, 16),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_gradients_equal_reference_bit_for_bit(case) -> None:
    rec, name, sr, ts, rht = case
    x, w, b, g = _data()
    got = _layer(rec, x, w, b, g)
    if rec == "mxfp8":  # E4M3 forward operands, E5M2 gradients: reference written per slot
        e4, e5 = hwsim.format("mxfp8_e4m3"), hwsim.format("mxfp8_e5m2")
        want = (_mm(e4.quantize(x, axis=-1), e4.quantize(w, axis=-1).t()) + b,
                _mm(e5.quantize(g, axis=-1), e4.quantize(w, axis=0)),
                _mm(e5.quantize(g, axis=0).t(), e4.quantize(x, axis=0)), g.double().sum(0).float())
    else:
        want = _reference(name, x, w, b, g, step=3, sr=sr, ts=ts, rht=rht)
    for label, a, e in zip(("y", "dx", "dw", "db"), got, want, strict=True):
        assert torch.equal(a, e), f"{rec}: {label} differs from the reference"


@pytest.mark.parametrize("role", ["fx", "fw", "dg", "dw", "wx", "wg"])
def test_axis_rule_every_role(role: str) -> None:
    """Quantizing any one operand along the wrong axis changes that GEMM's result: the layer
    matches the right-axis reference and not the wrong-axis one."""
    x, w, b, g = _data(m=64, k=64, n=64)
    got = _layer("mxfp4-rne", x, w, b, g)
    right = _reference("mxfp4", x, w, b, g, step=3, sr=False, ts=False, rht=0)
    wrong_axis = {"fx": 0, "fw": 0, "dg": 0, "dw": -1, "wx": -1, "wg": -1}[role]
    wrong = _reference("mxfp4", x, w, b, g, step=3, sr=False, ts=False, rht=0, axes={role: wrong_axis})
    which = {"fx": 0, "fw": 0, "dg": 1, "dw": 1, "wx": 2, "wg": 2}[role]
    assert torch.equal(got[which], right[which])
    assert not torch.equal(got[which], wrong[which])


def test_stochastic_rounding_unbiased_and_seeded() -> None:
    """The dgrad gradient operand of ``mxfp4-sr``: averaged over steps (fresh seeds) it converges
    to the exact value; round-to-nearest stays biased; the same step gives the same bits."""
    from hwsim.train.autograd import GemmSite

    rec = recipe("mxfp4-sr")
    state = TrainState(rec)
    site = GemmSite("l", 0, "linear", state)
    gen = torch.Generator().manual_seed(1)
    g = torch.rand(32, 64, generator=gen) * 0.7 + 0.3  # values between the E2M1 grid points
    # each block of 32 holds 1.0, a power of two: scale 2^-2, |g| / scale <= 4 < 6, so no element
    # saturates (OCP MX §6.3 clamps amax / scale in (6, 8) to 6: a bias rounding cannot remove)
    g[:, ::32] = 1.0
    draws = []
    for step in range(400):
        state.step = step
        draws.append(site.quantize(g, "dgrad", "dy", -1, 0))
    mean = torch.stack(draws).double().mean(0)
    rne = hwsim.format("mxfp4").quantize(g, axis=-1).double()
    err_sr = (mean - g.double()).abs().mean()
    err_rne = (rne - g.double()).abs().mean()
    assert err_sr < err_rne / 8, (float(err_sr), float(err_rne))
    state.step = 7
    assert torch.equal(site.quantize(g, "dgrad", "dy", -1, 0), draws[7])
    assert not torch.equal(draws[7], draws[8])
    # forward operands keep round-to-nearest-even
    assert torch.equal(site.quantize(g, "forward", "x", -1, 0), rne.float())


def test_attention_matmul_three_gemms() -> None:
    """A batched activation x activation matmul (attention) has the same three GEMMs, per batch entry."""
    from hwsim.train.autograd import GemmSite, qmatmul

    state = TrainState(recipe("mxfp4-rne"))
    site = GemmSite("attn", 0, "attention", state)
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(2, 3, 32, 32, generator=gen).requires_grad_(True)
    b = torch.randn(2, 3, 32, 32, generator=gen).requires_grad_(True)
    g = torch.randn(2, 3, 32, 32, generator=gen)
    qmatmul(a, b, site).backward(g)
    f = hwsim.format("mxfp4")
    assert torch.equal(a.grad, _mm(f.quantize(g, axis=-1), f.quantize(b.detach(), axis=-1).transpose(-1, -2)))
    assert torch.equal(b.grad, _mm(f.quantize(a.detach(), axis=-2).transpose(-1, -2), f.quantize(g, axis=-2)))
