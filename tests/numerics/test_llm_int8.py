"""The numpy LLM.int8() GEMM emulation (hwsim/numerics/llm_int8.py): a hand-worked product
(bitsandbytes' default backend, worked out in the docstring), the plain vector-wise case without
outliers, outlier columns kept in 16 bits, and the vector-wise quantization rules.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.errors import FormatError
from hwsim.numerics.llm_int8 import int8_vectorwise_quant, llm_int8_matmul, quantize_weight_int8


def test_llm_int8_hand_worked() -> None:
    """x 2x4 with one outlier (8 in column 2), W 3x4. By hand (bitsandbytes default backend):
    row 0 without the outlier: [1, 2, 0, -1], SCA = 2, 127/2 = 63.5 -> [63.5, 127, 0, -63.5] ->
    half-even [64, 127, 0, -64]; row 1: SCA = 4, [15.875, -63.5, 31.75, 127] -> [16, -64, 32, 127],
    column 2 zeroed -> [16, -64, 0, 127]. W rows: SCB = [1, 2, 1], CB = [127, 0, 64, -127],
    [0, 127, 0, 64], [32, 32, 127, 0]. C = CA CB^T = [[16256, 12033, 6112], [-14097, 0, -1536]]."""
    x = np.float32([[1, 2, 8, -1], [0.5, -2, 1, 4]])
    w = np.float32([[1, 0, 0.5, -1], [0, 2, 0, 1], [0.25, 0.25, 1, 0]])
    y, info = llm_int8_matmul(x, w)
    assert info["outlier_cols"].tolist() == [2]
    assert info["x_codes"].tolist() == [[64, 127, 0, -64], [16, -64, 0, 127]]
    assert info["row_scale"].tolist() == [2, 4] and info["col_scale"].tolist() == [1, 2, 1]
    assert info["w_codes"].tolist() == [[127, 0, 64, -127], [0, 127, 0, 64], [32, 32, 127, 0]]
    C = np.array([[16256, 12033, 6112], [-14097, 0, -1536]])
    assert info["int32"].tolist() == C.tolist()
    f32, f16 = np.float32, np.float16
    out = np.empty((2, 3), f16)
    for t, sa in enumerate((2, 4)):
        for n, sb in enumerate((1, 2, 1)):
            out[t, n] = f16(f32(f32(C[t, n]) * f32(sa * sb)) * f32(6.200124e-05))
    # outlier column 2 with the dequantized int8 weight column [64, 0, 127] * SCB / 127
    deq = [f16(f32(f32(64 * 1) * f32(7.874015718698502e-3))), f16(0), f16(f32(f32(127) * f32(7.874015718698502e-3)))]
    assert float(deq[2]) == 1.0 and float(deq[0]) == pytest.approx(64 / 127, rel=1e-3)
    want = np.empty((2, 3), np.float32)
    for t, a in enumerate((8.0, 1.0)):
        for n in range(3):
            want[t, n] = f32(f16(f32(float(out[t, n]) + a * float(deq[n]))))
    np.testing.assert_array_equal(y, want)
    np.testing.assert_allclose(y, x @ w.T, rtol=0.01, atol=0.03)  # 8 x (64/127 vs 0.5): +0.047


def test_llm_int8_no_threshold_is_plain_vectorwise() -> None:
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((6, 32)) * 1.5).astype(np.float32)
    x = np.clip(x, -5.9, 5.9)
    x[2, 5] = 30
    w = (rng.standard_normal((5, 32)) * 0.2).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    y_inf, info = llm_int8_matmul(x, w, b, threshold=np.inf)
    y_0, _ = llm_int8_matmul(x, w, b, threshold=0.0)
    assert info["outlier_cols"].size == 0
    np.testing.assert_array_equal(y_inf, y_0)
    # plain vector-wise int8 written out independently
    x16, w16 = x.astype(np.float16).astype(np.float64), w.astype(np.float16).astype(np.float64)
    sa, sb = np.abs(x16).max(1), np.abs(w16).max(1)
    # bitsandbytes' `127.0 / row_stats` is torch's reciprocal-then-multiply (two fp32 roundings)
    fa = (np.float32(1 / sa) * np.float32(127)).astype(np.float64)
    fb = (np.float32(1 / sb) * np.float32(127)).astype(np.float64)
    ca = np.rint((x16 * fa[:, None]).astype(np.float32))
    cb = np.rint((w16 * fb[:, None]).astype(np.float32))
    c = (ca.astype(np.int64) @ cb.astype(np.int64).T).astype(np.float32)
    want = ((c * (sa[:, None] * sb[None, :]).astype(np.float32)) * np.float32(6.200124e-05)
            + b.astype(np.float16).astype(np.float32)).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(y_inf, want)
    y6, info6 = llm_int8_matmul(x, w, b)  # 30 >= 6: column 5 is decomposed, more accurate
    assert info6["outlier_cols"].tolist() == [5]
    exact = x @ w.T + b
    assert np.abs(y6 - exact).max() < np.abs(y_inf - exact).max()


def test_llm_int8_outlier_columns_exact_up_to_dequantized_weight() -> None:
    """Only outlier columns non-zero: the int8 part is 0 and y = fp16(x[:, cols] @ deq(W)[:, cols]^T)
    (products and sums exact here, so any order)."""
    rng = np.random.default_rng(2)
    x = np.zeros((4, 16), np.float32)
    cols = [3, 9]
    x[:, cols] = rng.integers(-64, 64, (4, 2)) / 4
    x[0, 3], x[1, 9] = 20, -12.5  # the outliers that make both columns outlier columns
    w = (rng.standard_normal((7, 16))).astype(np.float32)
    y, info = llm_int8_matmul(x, w)
    assert info["outlier_cols"].tolist() == cols
    assert not info["x_codes"].any()
    cb, scb = quantize_weight_int8(w)
    deq = ((cb.astype(np.float32) * scb[:, None]) * np.float32(7.874015718698502e-3)).astype(np.float16)
    want = (x[:, cols].astype(np.float64) @ deq[:, cols].T.astype(np.float64)).astype(np.float32).astype(np.float16)
    np.testing.assert_array_equal(y, want.astype(np.float32))


def test_llm_int8_vectorwise_quant_rules() -> None:
    """Outliers zeroed BEFORE the row absmax; single row: the outlier column is 0 anyway; a row
    of outliers only gets scale 0 and codes 0; threshold compared as float16."""
    a = np.float16([[7, 1, -2], [6, 0.5, 0.25]])
    ca, sa, cols = int8_vectorwise_quant(a, 6.0)
    assert cols.tolist() == [0] and sa.tolist() == [2, 0.5]
    assert ca.tolist() == [[0, 64, -127], [0, 127, 64]]
    ca1, sa1, cols1 = int8_vectorwise_quant(a[:1], 6.0)
    assert cols1.tolist() == [0] and ca1.tolist() == [[0, 64, -127]]
    ca2, sa2, _ = int8_vectorwise_quant(np.float16([[9, -7]]), 6.0)
    assert sa2.tolist() == [0] and ca2.tolist() == [[0, 0]]
    # torch compares the float16 tensor with float16(threshold): 6.001 -> 6.0, so 6.0 is an outlier
    assert int8_vectorwise_quant(np.float16([[6.0, 1], [0, 1]]), 6.001)[2].tolist() == [0]


def test_llm_int8_errors() -> None:
    w = np.ones((3, 4), np.float32)
    with pytest.raises(FormatError, match="share K"):
        llm_int8_matmul(np.ones((2, 5), np.float32), w)
    with pytest.raises(FormatError, match="float16"):
        llm_int8_matmul(np.full((2, 4), 1e6, np.float32), w)
    with pytest.raises(FormatError, match="dtype"):
        llm_int8_matmul(np.ones((2, 4), np.float32), w, dtype="bfloat16")
    y, _ = llm_int8_matmul(np.ones((2, 3, 4), np.float32), w, np.zeros(3, np.float32))
    assert y.shape == (2, 3, 3)
