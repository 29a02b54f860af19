"""LLM.int8() on torch (hwsim/bridge/llm_int8.py) against the numpy emulation, bit for bit.

The numpy side is checked by hand and against an independent vector-wise int8 computation in
tests/numerics/test_llm_int8.py; here the torch version must reproduce it exactly (every step is
an IEEE-rounded elementwise op or an exact float64 integer GEMM), on CPU and, where present, CUDA.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hwsim.bridge.llm_int8 import llm_int8_linear, quantize_weight, vectorwise_quant  # noqa: E402
from hwsim.errors import FormatError  # noqa: E402
from hwsim.numerics.llm_int8 import int8_vectorwise_quant, llm_int8_matmul, quantize_weight_int8  # noqa: E402

HAS_CUDA = torch.cuda.is_available()


def case(rng, lead, K, N, spread, bias=True):
    x = (rng.standard_normal((*lead, K)) * spread).astype(np.float32)
    if x.size:
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, max(1, flat.size // 50))] *= rng.uniform(3, 20)
    w = (rng.standard_normal((N, K)) * rng.uniform(0.01, 1)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32) if bias else None
    return x, w, b


def run_torch(x, w, b, device="cpu", **kw):
    cb, scb = quantize_weight(torch.from_numpy(w).to(device))
    bt = None if b is None else torch.from_numpy(b).to(device)
    return llm_int8_linear(torch.from_numpy(x).to(device), cb, scb, bt, **kw)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("threshold", [6.0, 2.5, 0.0, float("inf")])
def test_matches_numpy_bit_for_bit(dtype: str, threshold: float) -> None:
    rng = np.random.default_rng(zlib.crc32(repr((dtype, threshold)).encode()))
    for trial in range(12):
        lead = [(1,), (7,), (3, 5), (2, 1, 4)][trial % 4]
        x, w, b = case(rng, lead, int(rng.integers(1, 70)), int(rng.integers(1, 40)), rng.uniform(0.3, 3),
                       bias=bool(trial % 3))
        y, info = llm_int8_matmul(x, w, b, threshold=threshold, dtype=dtype)
        yt, tinfo = run_torch(x, w, b, threshold=threshold, dtype=dtype, return_info=True)
        assert yt.dtype == torch.float32 and tuple(yt.shape) == y.shape
        assert np.array_equal(yt.numpy().view(np.uint32), y.view(np.uint32)), (trial, np.abs(yt.numpy() - y).max())
        assert tinfo["outlier_cols"].tolist() == info["outlier_cols"].tolist()
        assert np.array_equal(tinfo["x_codes"].numpy(), info["x_codes"])
        assert np.array_equal(tinfo["int32"].numpy(), info["int32"])


def test_weight_and_activation_quantizers_match() -> None:
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((9, 33)) * 0.3).astype(np.float32)
    w[4] = 0  # a zero row: scale 0, codes 0
    cb, scb = quantize_weight(torch.from_numpy(w))
    cb_n, scb_n = quantize_weight_int8(w)
    assert cb.dtype == torch.int8 and np.array_equal(cb.numpy(), cb_n) and np.array_equal(scb.numpy(), scb_n)
    assert not cb[4].any() and scb[4] == 0
    a = torch.from_numpy((rng.standard_normal((5, 33)) * 4).astype(np.float16))
    for thr in (0.0, 6.0, 6.001):
        ca, sa, cols = vectorwise_quant(a, thr)
        ca_n, sa_n, cols_n = int8_vectorwise_quant(a.numpy(), thr)
        assert np.array_equal(ca.numpy(), ca_n) and np.array_equal(sa.numpy(), sa_n)
        assert cols.tolist() == cols_n.tolist()


def test_output_dtype_follows_input() -> None:
    rng = np.random.default_rng(2)
    x, w, b = case(rng, (4,), 16, 8, 2.0)
    y32 = run_torch(x, w, b)
    cb, scb = quantize_weight(torch.from_numpy(w))
    y16 = llm_int8_linear(torch.from_numpy(x).half(), cb, scb, torch.from_numpy(b).half())
    assert y16.dtype == torch.float16 and torch.equal(y16.float(), y32)  # values are fp16 already


def test_close_to_float_and_beats_plain_int8_with_outliers() -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((16, 256))).astype(np.float32)
    x[:, [7, 100]] *= 25  # two outlier feature dimensions, as in LLM.int8() §3.2
    w = (rng.standard_normal((64, 256)) * 0.05).astype(np.float32)
    exact = torch.from_numpy(x @ w.T)
    y = run_torch(x, w, None)
    y_plain = run_torch(x, w, None, threshold=float("inf"))
    err, err_plain = (y - exact).abs().max(), (y_plain - exact).abs().max()
    assert err < 0.1 and err < err_plain / 3  # here 0.061 vs 0.327 (outputs up to 9.3)


def test_errors() -> None:
    cb, scb = quantize_weight(torch.ones(3, 4))
    with pytest.raises(FormatError, match="share K"):
        llm_int8_linear(torch.ones(2, 5), cb, scb)
    with pytest.raises(FormatError, match="int8"):
        llm_int8_linear(torch.ones(2, 4), cb.float(), scb)
    with pytest.raises(FormatError, match="float16"):
        llm_int8_linear(torch.full((2, 4), 1e6), cb, scb)
    with pytest.raises(FormatError, match="dtype"):
        llm_int8_linear(torch.ones(2, 4), cb, scb, dtype="bfloat16")
    with pytest.raises(FormatError, match="2-d"):
        quantize_weight(torch.ones(3))


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_cuda_matches_numpy(dtype: str) -> None:
    rng = np.random.default_rng(4)
    for trial in range(6):
        x, w, b = case(rng, (int(rng.integers(1, 300)),), int(rng.integers(1, 2000)), int(rng.integers(1, 500)),
                       rng.uniform(0.5, 3), bias=bool(trial % 2))
        y, _ = llm_int8_matmul(x, w, b, dtype=dtype)
        yt = run_torch(x, w, b, device="cuda", dtype=dtype)
        assert yt.device.type == "cuda"
        assert np.array_equal(yt.cpu().numpy().view(np.uint32), y.view(np.uint32)), trial
