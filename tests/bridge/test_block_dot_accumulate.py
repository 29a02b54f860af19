"""``accumulate="block_dot"``: every Linear output equals hwsim.numerics.dot.dot_general of the
encoded activation and weight rows, bit for bit (the reference calls dot_general once per output
on the numpy encodings; it never shares the bridge's float64 batched path)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

import hwsim  # noqa: E402
from hwsim.bridge import block_accumulate as ba  # noqa: E402
from hwsim.bridge import simulate  # noqa: E402
from hwsim.errors import HwsimError  # noqa: E402
from hwsim.numerics.dot import dot_general  # noqa: E402
from hwsim.numerics.encoded import Encoded  # noqa: E402

FORMATS = ("mxfp4", "mxfp6_e2m3", "mxfp8_e4m3", "mxfp8_e5m2", "mxint8", "nvfp4", "nvfp4_ts", "msfp16",
           "bfp12_b32")


def fmt_of(name: str):
    return hwsim.format("nvfp4", tensor_scale=True) if name == "nvfp4_ts" else hwsim.format(name)


def reference(fmt_a, x: torch.Tensor, fmt_w, w: torch.Tensor) -> np.ndarray:
    """dot_general of every (activation row, weight row) pair of the numpy encodings."""
    ea, ew = fmt_a.encode(x.numpy(), axis=-1), fmt_w.encode(w.numpy(), axis=-1)

    def row(e: Encoded, i: int) -> Encoded:
        return Encoded(codes=e.codes[i], scales=e.scales[i], tensor_scale=e.tensor_scale, axis=0, format=e.format)

    out = np.zeros((x.shape[0], w.shape[0]), np.float32)
    for m in range(x.shape[0]):
        for n in range(w.shape[0]):
            out[m, n] = dot_general(fmt_a, row(ea, m), fmt_w, row(ew, n))
    return out


def assert_bits(got: torch.Tensor, want: np.ndarray) -> None:
    g = got.detach().cpu().numpy().astype(np.float32)
    same = (g.view(np.uint32) == want.view(np.uint32)) | (np.isnan(g) & np.isnan(want))
    bad = np.argwhere(~same)
    assert not bad.size, [(tuple(i), float(g[tuple(i)]), float(want[tuple(i)])) for i in bad[:8]]


def operands(M: int, K: int, N: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian rows with magnitudes spread over 2^-20 .. 2^20 (per row and per column)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(M, K, generator=g) * torch.exp2(torch.randint(-20, 20, (M, 1), generator=g).float())
    w = torch.randn(N, K, generator=g) * torch.exp2(torch.randint(-8, 8, (1, K), generator=g).float())
    return x, w


def linear_block_dot(fmt_a, x: torch.Tensor, fmt_w, w: torch.Tensor) -> torch.Tensor:
    """A bias-free nn.Linear through the simulation with accumulate="block_dot"."""
    lin = nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        lin.weight.copy_(w)
        return simulate(lin, fmt_w, fmt_a, accumulate="block_dot")(x)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("extra", [0, 5])
def test_linear_outputs_equal_dot_general(name: str, extra: int) -> None:
    fmt = fmt_of(name)
    K = 3 * fmt.block_size + extra  # extra: K not a multiple of the block
    x, w = operands(6, K, 5, seed=K)
    assert_bits(linear_block_dot(fmt, x, fmt, w), reference(fmt, x, fmt, w))


@pytest.mark.parametrize("name", ["mxfp8_e5m2", "nvfp4_ts", "mxfp4"])
@pytest.mark.parametrize("torch_adds", [False, True])
def test_chunked_columns_and_blocks(monkeypatch, name: str, torch_adds: bool) -> None:
    """Small chunks: several column chunks and several batched matmuls per chunk; the torch
    accumulation (other devices) gives the same bits as the CPU's fused numba pass."""
    fmt = fmt_of(name)
    monkeypatch.setattr(ba, "_CHUNK", 7 * 3 * 2)  # 7 rows: 6 columns per chunk, then 1 block per bmm
    if torch_adds:
        monkeypatch.setattr(ba, "_fp32_accumulate", ba._fp32_accumulate_torch)
        monkeypatch.setattr(ba, "_fp32_accumulate_scaled",
                            lambda part, sa, sw, acc: ba._fp32_accumulate_torch(ba._scaled(part, sa, sw), acc))
    x, w = _adversarial() if name == "mxfp8_e5m2" else operands(7, 4 * fmt.block_size - 1, 13, seed=4)
    assert_bits(linear_block_dot(fmt, x, fmt, w), reference(fmt, x, fmt, w))


def test_mixed_elements_one_block_size() -> None:
    """MXFP8 activations x MXFP4 weights (and E5M2 x E4M3, which needs the run-time check)."""
    for an, wn in (("mxfp8_e4m3", "mxfp4"), ("mxfp8_e5m2", "mxfp8_e4m3")):
        fa, fw = hwsim.format(an), hwsim.format(wn)
        x, w = operands(5, 70, 4, seed=3)
        assert_bits(linear_block_dot(fa, x, fw, w), reference(fa, x, fw, w))


def _adversarial(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """E5M2 blocks holding huge and tiny elements (2^15 vs 2^-16 after scaling: spans past 53 bits
    for a pair), next to ordinary blocks; the first row/column is the hand case whose exact sum
    2^24 + 1 + 2^-32 rounds to 2^24 + 2 while a float64 sum rounds it to 2^24 + 1, then 2^24."""
    g = torch.Generator().manual_seed(seed)
    x, w = torch.randn(6, 96, generator=g), torch.randn(5, 96, generator=g)
    x[1:, 3] = 2.0**15
    x[1:, 7] = 2.0**-16 * 1.25
    w[1:, 3] = 2.0**15 * 1.5
    w[1:, 7] = -(2.0**-16)
    x[0], w[0] = 0.0, 0.0
    x[0, :3] = torch.tensor([2.0**12, 1.0, 2.0**-16])
    w[0, :3] = torch.tensor([2.0**12, 1.0, 2.0**-16])
    x[0, 30], w[0, 30] = 2.0**15, 0.0  # keep the block's scale at 2^0
    w[0, 31] = 2.0**15
    return x, w


def test_e5m2_run_time_check_both_ways(monkeypatch) -> None:
    fmt = hwsim.format("mxfp8_e5m2")
    x, w = _adversarial()
    calls = []
    exact = ba._exact_pairs

    def counted(*args):
        out = exact(*args)
        calls.append(len(out))
        return out

    monkeypatch.setattr(ba, "_exact_pairs", counted)
    got = linear_block_dot(fmt, x, fmt, w)
    want = reference(fmt, x, fmt, w)
    assert_bits(got, want)
    flagged, pairs = sum(calls), 6 * 5 * 3
    assert 0 < flagged < pairs  # some block pairs took the exact path, the others the float64 one
    assert want[0, 0] == 2.0**24 + 2


def test_without_the_check_the_hand_case_goes_wrong(monkeypatch) -> None:
    """The run-time check is what makes E5M2 exact: with it disabled the float64 block sum
    double-rounds the hand case (the test above would fail)."""
    fmt = hwsim.format("mxfp8_e5m2")
    x, w = _adversarial()
    monkeypatch.setattr(ba, "_F64_SIG", 1000)
    got = linear_block_dot(fmt, x, fmt, w)
    assert float(got[0, 0]) == 2.0**24  # not dot_general's 2^24 + 2


@pytest.mark.parametrize("name", ["mxfp8_e5m2", "mxfp4"])
def test_specials_take_the_exact_path(name: str) -> None:
    """NaN/Inf elements (E5M2 without saturation) and a NaN scale (a NaN input): OCP MX §5.2;
    mxfp4 (float32 element sums) has no Inf elements: Inf inputs give a NaN scale there."""
    fmt = hwsim.format(name)
    x, w = operands(4, 64, 3, seed=9)
    x[0, 5] = float("nan")  # block 0 of row 0: NaN scale
    w[1, 40] = float("inf")
    w[2, 41] = float("-inf")
    assert_bits(linear_block_dot(fmt, x, fmt, w), reference(fmt, x, fmt, w))


def test_which_pairs_sum_elements_in_float32() -> None:
    split = {p: ba._f32_elements(fmt_of(p[0]), fmt_of(p[1])) for p in
             [("mxfp4", "mxfp4"), ("mxfp6_e2m3", "mxfp6_e2m3"), ("mxint8", "mxint8"), ("nvfp4", "nvfp4"),
              ("msfp16", "msfp16"), ("mxfp8_e4m3", "mxfp4"), ("mxfp8_e4m3", "mxfp8_e4m3"),
              ("mxfp8_e5m2", "mxfp8_e5m2")]}
    assert [p for p, v in split.items() if v] == [("mxfp4", "mxfp4"), ("mxfp6_e2m3", "mxfp6_e2m3"),
                                                  ("mxint8", "mxint8"), ("nvfp4", "nvfp4"), ("msfp16", "msfp16")]
    assert not ba._needs_widths(fmt_of("mxfp8_e4m3"), fmt_of("mxfp8_e4m3"))
    assert ba._needs_widths(fmt_of("mxfp8_e5m2"), fmt_of("mxfp8_e5m2"))


def test_tiny_model_differs_from_the_default_only_by_rounding() -> None:
    """Each Linear's K-long sum is rounded once per block (and the bias added in FP32) instead of
    once in float64: outputs move by a few FP32 ulps at most (the last layer has K = 512, 16 blocks;
    the next layer's quantization absorbs most differences of the earlier ones)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 512), nn.GELU(), nn.Linear(512, 16))
    x = torch.randn(4, 10, 64)
    with torch.no_grad():
        ref = simulate(model, "mxfp4", "mxfp8_e4m3")(x)
        sim = simulate(model, "mxfp4", "mxfp8_e4m3", accumulate="block_dot")
        got = sim(x)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    assert not torch.equal(got, ref)  # FP32 rounding per block does show
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6)
    assert sim.report().accumulate == "block_dot"
    assert len(sim.records()) == 2


def test_errors_name_the_layer_and_formats() -> None:
    model = nn.Sequential(nn.Linear(32, 16), nn.Linear(16, 8))
    with pytest.raises(HwsimError, match=r"layer '0'.*block_dot.*weights=fp8_e4m3"):
        simulate(model, "fp8_e4m3", "mxfp8_e4m3", accumulate="block_dot")
    with pytest.raises(HwsimError, match=r"layer '0'.*activations=fp32"):
        simulate(model, "mxfp4", None, accumulate="block_dot")
    with pytest.raises(HwsimError, match=r"block sizes differ along K \(16 vs 32\)"):
        simulate(model, "mxfp4", "nvfp4", accumulate="block_dot")
    with pytest.raises(HwsimError, match=r"layer 'conv'.*Linear layers"):
        simulate(nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3))), "mxfp4", "mxfp4", accumulate="block_dot")
    # a skipped layer runs fp32 and needs no block format
    y = simulate(model, "mxfp4", "mxfp4", accumulate="block_dot", skip=["1"])(torch.randn(2, 32))
    assert y.shape == (2, 8)


def test_cli_accepts_block_dot(capsys) -> None:
    pytest.importorskip("sklearn")
    from hwsim.cli import main

    assert main(["run", "--model", "digits-mlp", "--weights", "mxfp4", "--activations", "mxfp8_e4m3",
                 "--accumulate", "block_dot"]) == 0
    assert "accumulate block_dot" in capsys.readouterr().out


@settings(max_examples=25, deadline=None)
@given(pair=st.sampled_from([("mxfp4", "mxfp4"), ("mxfp8_e5m2", "mxfp8_e5m2"), ("mxfp8_e5m2", "mxfp8_e4m3"),
                             ("mxfp6_e3m2", "mxfp4"), ("nvfp4_ts", "nvfp4_ts"), ("msfp12", "msfp16")]),
       m=st.integers(1, 5), n=st.integers(1, 5), blocks=st.integers(1, 4), short=st.integers(0, 15),
       spread=st.integers(0, 40), seed=st.integers(0, 2**31 - 1))
def test_property_block_dot_matmul_is_dot_general(pair, m, n, blocks, short, spread, seed) -> None:
    """Random shapes (K possibly short of whole blocks), magnitudes spread over 2^+-spread per element."""
    fa, fw = fmt_of(pair[0]), fmt_of(pair[1])
    K = max(1, blocks * fa.block_size - short)
    g = torch.Generator().manual_seed(seed)

    def draw(rows: int) -> torch.Tensor:
        e = torch.randint(-spread, spread + 1, (rows, K), generator=g).float()
        return torch.randn(rows, K, generator=g) * torch.exp2(e)

    x, w = draw(m), draw(n)
    split = ba._f32_elements(fa, fw)
    a = ba.block_operand(fa, x, unscaled=split)
    b = ba.block_operand(fw, w, compact=True, unscaled=split)
    assert_bits(ba.block_dot_matmul(fa, a, fw, b), reference(fa, x, fw, w))
