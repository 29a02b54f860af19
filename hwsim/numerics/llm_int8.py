"""LLM.int8() (Dettmers et al., NeurIPS'22, arXiv 2208.07339 §3), emulated in numpy: vector-wise
INT8 (per-token activation scales, per-output-channel weight scales) with the activation columns
that hold a value of magnitude >= 6 computed in 16 bits, after bitsandbytes
``bitsandbytes/backends/default/ops.py``. A GEMM-level scheme, not an element format: the bridge
runs it as a GEMM strategy; :mod:`hwsim.bridge.llm_int8` is the bit-identical torch version.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._family import to_host

__all__ = ["llm_int8_matmul", "int8_vectorwise_quant", "quantize_weight_int8", "LLM_INT8_DEQUANT",
           "LLM_INT8_RECIP"]

#: bitsandbytes int8_mm_dequant constant (~1/127^2), applied as a float32
LLM_INT8_DEQUANT = np.float32(6.200124e-05)
#: bitsandbytes int8_vectorwise_dequant constant (~1/127), applied as a float32
LLM_INT8_RECIP = np.float32(7.874015718698502e-3)
_DTYPES = {"float16": np.float16, "float32": np.float32}


def int8_vectorwise_quant(a16: np.ndarray, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bitsandbytes ``int8_vectorwise_quant`` on a float16 ``[T, K]`` array.

    Outliers ``|a| >= float16(threshold)`` (only if ``threshold > 0``) are set to 0 BEFORE the row absmax
    ``SCA`` (float32) is taken; ``CA = round_half_even(float32(a) * (fp32(1 / SCA) * 127))`` as int8
    (bitsandbytes writes ``127.0 / row_stats``, which torch evaluates as ``row_stats.reciprocal() *
    127``: two float32 roundings, not one correctly rounded quotient); if
    ``T > 1`` every column holding an outlier is zeroed in ``CA`` (for ``T = 1`` those columns are
    outliers, already 0). A row of zeros (SCA = 0) gets codes 0 (bitsandbytes divides by 0 there).
    Returns ``(CA, SCA, outlier_cols)`` (int64 column indices, ascending; empty if none).
    """
    a = np.asarray(a16, np.float16).astype(np.float32)
    cols = np.zeros(0, np.int64)
    if threshold > 0.0:
        # torch compares the fp16 tensor with the threshold cast to fp16 (common dtype)
        outliers = np.abs(a) >= np.float32(np.float16(threshold))
        if outliers.any():
            cols = np.flatnonzero(outliers.any(axis=0)).astype(np.int64)
            a = np.where(outliers, np.float32(0), a)
    stats = np.abs(a).max(axis=1) if a.shape[1] else np.zeros(a.shape[0], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = (np.float32(1) / stats) * np.float32(127)  # torch: 127.0 / t == t.reciprocal() * 127
        q = np.rint(a * factor[:, None])
    codes = np.where(stats[:, None] > 0, q, 0).astype(np.int8)
    if a.shape[0] > 1 and cols.size:
        codes[:, cols] = 0
    return codes, stats.astype(np.float32), cols


def quantize_weight_int8(w: Any) -> tuple[np.ndarray, np.ndarray]:
    """A Linear weight ``[N, K]`` -> ``(CB int8 [N, K], SCB float32 [N])``: bitsandbytes casts the
    weight to float16 and runs ``int8_vectorwise_quant`` with no threshold (``Int8Params``)."""
    w16 = _as16(w, "w")
    if w16.ndim != 2:
        raise FormatError(f"llm_int8: weight must be 2-d [N, K], got shape {w16.shape}")
    cb, scb, _ = int8_vectorwise_quant(w16, 0.0)
    return cb, scb


def _as16(x: Any, what: str, dtype: Any = np.float16) -> np.ndarray:
    a = to_host(x)
    if a.dtype.kind != "f":
        raise FormatError(f"llm_int8: {what} dtype {a.dtype} is not a float type")
    with np.errstate(over="ignore"):
        a = a.astype(dtype)
    if not np.all(np.isfinite(a)):
        raise FormatError(f"llm_int8: {what} holds values that are not finite in {np.dtype(dtype).name} "
                          f"(|x| > 65504 overflows float16)")
    return a


def llm_int8_matmul(x: Any, w: Any, bias: Any = None, threshold: float = 6.0,
                    dtype: str = "float16") -> tuple[np.ndarray, dict[str, Any]]:
    """``y = x @ w.T + bias`` the way bitsandbytes' ``Linear8bitLt`` computes it (LLM.int8() §3).

    ``x [..., K]``, ``w [N, K]``, ``bias [N]``; ``dtype`` is the layer's activation dtype ``A.dtype``
    (the model's half precision: ``float16``, default; ``float32`` runs the 16-bit part in fp32
    as bitsandbytes does for fp32 inputs). Steps (``backends/default/ops.py``):

    1. ``A = x`` and ``bias`` cast to ``dtype``; the quantizer sees ``float16(A)``
       (``MatMul8bitLt.forward``); the weight is quantized by :func:`quantize_weight_int8`.
    2. ``CA, SCA, cols = int8_vectorwise_quant(float16(A), threshold)`` (threshold <= 0: no
       decomposition; ``inf``: only infinite values, i.e. plain vector-wise int8).
    3. ``C = CA @ CB^T`` exactly in int32 (the CUDA igemmlt; exact while ``127^2 K < 2^31``,
       K <= 133152; the default backend's fp32 matmul is exact only below 2^24).
    4. ``out = dtype((fp32(C) * (SCA[:, None] * SCB[None, :])) * fp32(6.200124e-05) + fp32(bias))``.
    5. If ``cols``: ``subA = A[:, cols]`` (original values), ``subB = dtype((fp32(CB[:, cols]) *
       SCB[:, None]) * fp32(7.874015718698502e-3))`` (the DEQUANTIZED int8 weight, not the
       original), ``y = dtype(fp32(out + sum_j subA[:, j] subB[:, j]))``: products exact and summed
       over the outlier columns in ascending order in float64, rounded to fp32 then to ``dtype``.
       bitsandbytes' ``addmm`` accumulates in fp32 in an order cuBLAS does not specify; this fixed
       order is what makes the numpy and torch emulations bit-identical (it differs from a real
       GPU by at most an fp16 ulp, rarely).

    Returns ``(y, info)``: ``y`` float32 ``[..., N]`` (values of ``dtype``); ``info``:
    ``outlier_cols`` (int64), ``row_scale`` (SCA float32 [T]), ``col_scale`` (SCB float32 [N]),
    ``x_codes`` (CA int8 [T, K]), ``w_codes`` (CB int8 [N, K]), ``int32`` (C, int64 [T, N]).
    """
    if dtype not in _DTYPES:
        raise FormatError(f"llm_int8: dtype {dtype!r} not one of {list(_DTYPES)}")
    cdt = _DTYPES[dtype]
    cb, scb = quantize_weight_int8(w)
    A = _as16(x, "x", cdt)
    _as16(A, "x")  # the quantizer sees float16(A): it must be finite there too
    if A.ndim < 1 or A.shape[-1] != cb.shape[1]:
        raise FormatError(f"llm_int8: x {A.shape} and w {cb.shape} do not share K = x.shape[-1] = w.shape[1]")
    lead = A.shape[:-1]
    A = A.reshape(-1, A.shape[-1])
    b = None if bias is None else _as16(bias, "bias", cdt).reshape(-1)
    if b is not None and b.size != cb.shape[0]:
        raise FormatError(f"llm_int8: bias has {b.size} entries, w has N = {cb.shape[0]} rows")
    ca, sca, cols = int8_vectorwise_quant(A.astype(np.float16), threshold)
    c = ca.astype(np.float64) @ cb.astype(np.float64).T  # exact: integers < 2^53
    out = (c.astype(np.float32) * (sca[:, None] * scb[None, :])) * LLM_INT8_DEQUANT
    if b is not None:
        out = out + b.astype(np.float32)
    y = out.astype(cdt)
    if cols.size:
        sub_a = A[:, cols].astype(np.float64)
        sub_b = ((cb[:, cols].astype(np.float32) * scb[:, None]) * LLM_INT8_RECIP).astype(cdt).astype(np.float64)
        acc = y.astype(np.float64)
        for j in range(cols.size):
            acc = acc + sub_a[:, j, None] * sub_b[None, :, j]
        y = acc.astype(np.float32).astype(cdt)
    info = {"outlier_cols": cols, "row_scale": sca, "col_scale": scb, "x_codes": ca, "w_codes": cb,
            "int32": c.astype(np.int64)}
    return y.astype(np.float32).reshape(*lead, cb.shape[0]), info
