"""The quantized autograd GEMMs against a reference written from ``hwsim.format(...).quantize`` and
plain matmuls, bit for bit (float64 sums, and the default fp32 GEMM on one thread); the axis rule
per role; stochastic rounding; operands reused across GEMMs only where that changes no bit."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import hwsim
from hwsim.train.autograd import TrainState, derive_seed
from hwsim.train.loop import threads
from hwsim.train.modules import convert
from hwsim.train.recipe import recipe

# slot numbers of the seed derivation, written out (forward x, forward w, dgrad dy, dgrad w,
# wgrad x, wgrad dy, then the RHT signs)
FX, FW, DDY, DW, WX, WDY, RHT = range(7)


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() @ b.double()).float()


def _mm32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """fp32 matmul on one thread (the layer's ``accumulate="fp32"`` GEMM)."""
    with threads(1):
        return torch.matmul(a, b)


def _hadamard(n: int) -> torch.Tensor:
    h = torch.tensor([[1.0]], dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(n)


def _rht_ref(x: torch.Tensor, block: int, seed: int) -> torch.Tensor:
    """T x along the tokens as a float64 matmul by H_b / sqrt(b) rounded to float32: the RHT's
    result for b = 16 wherever the block's sums are exact in float64 (hwsim.train.hadamard), as
    for these operands (within 2**29 of each other in every block)."""
    gen = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (x.shape[0],), generator=gen, dtype=torch.int64).double() * 2 - 1
    xs = (x.double() * signs[:, None]).reshape(-1, block, x.shape[1])
    return (_hadamard(block) @ xs).reshape(x.shape).float()


def _quantize_m(fmt, t: torch.Tensor, axis: int) -> torch.Tensor:
    """A wgrad operand ``t [M, C]`` quantized along ``axis`` (0: along M, the right one) in the
    layout the wgrad GEMM stores it, ``[C, M]`` (stochastic draws index that layout), returned
    as ``[M, C]``."""
    return fmt.quantize(t.t().contiguous(), axis=-1 if axis == 0 else 0).t()


def _fmt(name: str, slot: int, step: int, index: int, stochastic: bool, tensor_scale: bool, seed0: int = 0):
    kw: dict = {}
    if stochastic:
        kw.update(rounding="stochastic", seed=derive_seed(seed0, step, index, slot, 0))
    if tensor_scale:
        kw["tensor_scale"] = True
    return hwsim.format(name, **kw)


def _reference(name: str, x, w, b, g, *, step: int, sr: bool, ts: bool, rht: int, axes=None, fp32: bool = False):
    """(y, dx, dw, db) of ``y = x @ w^T + b`` for upstream gradient ``g``, from format calls and
    matmuls only. ``axes`` overrides the quantization axes (to show that a wrong one differs).
    ``fp32``: the GEMMs as one-thread fp32 matmuls in the orientation the layer computes them
    (``dW^T = X^T dY``: an fp32 sum's bits depend on it), else float64 sums rounded once."""
    ax = {"fx": -1, "fw": -1, "dg": -1, "dw": 0, "wx": 0, "wg": 0, **(axes or {})}
    q = lambda slot, st: _fmt(name, slot, step, 0, st, ts)  # noqa: E731
    mm = _mm32 if fp32 else _mm
    y = mm(q(FX, False).quantize(x, axis=ax["fx"]), q(FW, False).quantize(w, axis=ax["fw"]).t()) + b
    dx = mm(q(DDY, sr).quantize(g, axis=ax["dg"]), q(DW, False).quantize(w, axis=ax["dw"]))
    xr, gr = x, g
    if rht:
        seed = derive_seed(0, step, 0, RHT, 0)
        xr, gr = _rht_ref(x, rht, seed), _rht_ref(g, rht, seed)
    gq, xq = _quantize_m(q(WDY, sr), gr, ax["wg"]), _quantize_m(q(WX, False), xr, ax["wx"])
    dw = _mm32(xq.t().contiguous(), gq).t() if fp32 else _mm(gq.t(), xq)
    db = g.double().sum(0).float()
    return y, dx, dw, db


def _layer(rec_name: str, x, w, b, g, step: int = 3, accumulate: str = "float64"):
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(b)
    rec = recipe(rec_name)
    model, state = convert(nn.Sequential(lin), rec, TrainState(rec, accumulate=accumulate))
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


@pytest.mark.parametrize("accumulate", ["float64", "fp32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_gradients_equal_reference_bit_for_bit(case, accumulate: str) -> None:
    rec, name, sr, ts, rht = case
    x, w, b, g = _data()
    got = _layer(rec, x, w, b, g, accumulate=accumulate)
    fp32 = accumulate == "fp32"
    if rec == "mxfp8":  # E4M3 forward operands, E5M2 gradients: reference written per slot
        e4, e5 = hwsim.format("mxfp8_e4m3"), hwsim.format("mxfp8_e5m2")
        mm = _mm32 if fp32 else _mm
        gq, xq = _quantize_m(e5, g, 0), _quantize_m(e4, x, 0)
        want = (mm(e4.quantize(x, axis=-1), e4.quantize(w, axis=-1).t()) + b,
                mm(e5.quantize(g, axis=-1), e4.quantize(w, axis=0)),
                _mm32(xq.t().contiguous(), gq).t() if fp32 else _mm(gq.t(), xq), g.double().sum(0).float())
    else:
        want = _reference(name, x, w, b, g, step=3, sr=sr, ts=ts, rht=rht, fp32=fp32)
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


def test_deterministic_fp32_gemm_runs_on_one_thread(monkeypatch) -> None:
    """The default GEMM is pinned to one intra-op thread whatever the caller's thread count (what
    makes its fp32 sums thread-independent); ``deterministic=False`` leaves the count alone."""
    from hwsim.train import autograd

    seen: list[int] = []
    real = torch.matmul

    def spy(a, b):
        seen.append(torch.get_num_threads())
        return real(a, b)

    def site(det: bool):
        return autograd.GemmSite("l", 0, "linear", TrainState(recipe("fp32"), deterministic=det))

    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with threads(2):
        monkeypatch.setattr(autograd.torch, "matmul", spy)
        site(True).gemm(a, b, "forward")
        site(False).gemm(a, b, "forward")
        monkeypatch.setattr(autograd.torch, "matmul", real)
        after = torch.get_num_threads()
    assert seen == [1, 2] and after == 2


def test_accumulate_names_checked() -> None:
    with pytest.raises(hwsim.HwsimError, match="accumulate.*'fp16'.*fp32"):
        TrainState(recipe("fp32"), accumulate="fp16")


@pytest.mark.parametrize("rec_name", ["bf16", "dfp16", "mxfp8", "mxfp4-sr"])
def test_operands_reused_only_where_axis_free(rec_name: str, monkeypatch) -> None:
    """bf16 (elementwise) and DFP (one exponent per tensor) quantize x, w and dy once per step and
    reuse them in the backward GEMMs; block formats (the axis differs) and stochastic gradients
    (fresh bits per GEMM) quantize all six operand slots."""
    from hwsim.train import autograd

    calls: list[tuple[str, str]] = []
    real = autograd.GemmSite.quantize

    def spy(self, x, role, op, axis, call):
        calls.append((role, op))
        return real(self, x, role, op, axis, call)

    monkeypatch.setattr(autograd.GemmSite, "quantize", spy)
    x, w, b, g = _data(m=32, k=32, n=32)
    _layer(rec_name, x, w, b, g)
    want = 3 if rec_name in ("bf16", "dfp16") else 6
    assert len(calls) == want, calls


@pytest.mark.parametrize("shape", [(64, 96), (8, 64, 128), (3000, 7), (2, 5, 1)])
def test_bias_gradient_is_torchs_float64_sum(shape) -> None:
    """The bias gradient kernel gives the bits of ``g.double().sum(0).float()`` on gradients whose
    float64 partial sums round (exponents spread over 2**-40 .. 2**40), and on a transposed view."""
    from hwsim.train.modules import _bias_grad

    gen = torch.Generator().manual_seed(len(shape))
    g = torch.randn(*shape, generator=gen) * torch.exp2(torch.randint(-40, 41, shape, generator=gen).float())
    for t in (g, g.transpose(0, -1).contiguous().transpose(0, -1)):
        want = t.double().reshape(-1, shape[-1]).sum(0).float()
        assert torch.equal(_bias_grad(t), want)
