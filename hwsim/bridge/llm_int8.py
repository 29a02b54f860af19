"""LLM.int8() on torch tensors, on the tensor's own device, bit-identical to the numpy emulation.

:func:`hwsim.numerics.llm_int8.llm_int8_matmul` defines the arithmetic (bitsandbytes
``backends/default/ops.py``: ``int8_vectorwise_quant``, ``int8_mixed_scaled_mm``,
``int8_scaled_mm``, ``int8_mm_dequant``; LLM.int8() arXiv 2208.07339 §3); this module runs the
same steps with torch ops whose results do not depend on the device or on a BLAS summation order:

- the int8 GEMM in float64 (every partial sum is an integer below 2^53, so exact on CPU and CUDA,
  equal to the int32 igemmlt result);
- elementwise float32 products, divisions and roundings (IEEE, correctly rounded on both);
- the outlier columns as products accumulated column by column in float64 (one ``mul`` and one
  ``add`` per column, never fused), then float64 -> float32 -> the compute dtype.

float16 is emulated by casting (``.to(torch.float16)`` rounds to nearest even on CPU and CUDA); no
arithmetic runs in float16, so CPU tensors work with any torch that has the dtype.

How the datapath uses it: :class:`LlmInt8Gemm` is the GEMM strategy
(:class:`hwsim.bridge.gemm.GemmStrategy`) of every Linear layer simulated with ``weights="llm_int8"``::

    # prepare: quantize the Linear's weight [N, K] once
    w_codes, w_scale = quantize_weight(linear.weight.detach())
    # forward: the activation x [..., K] and the Linear's bias [N] (or None)
    y = llm_int8_linear(x, w_codes, w_scale, bias, threshold=6.0)   # [..., N], x.dtype

GEMM records: the int8 part is an ``(M, K, N)`` int8 x int8 GEMM and the outlier part an
``(M, len(outlier_cols), N)`` fp16 GEMM (``return_info=True`` gives the columns).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, overload

import torch

from hwsim.bridge.gemm import Gemm, GemmContext
from hwsim.bridge.records import Operand, catalog_operand
from hwsim.errors import FormatError
from hwsim.numerics.llm_int8 import LLM_INT8_DEQUANT, LLM_INT8_RECIP
from hwsim.numerics.protocol import OperandSpec, fp32_scale

__all__ = ["quantize_weight", "vectorwise_quant", "llm_int8_linear", "LlmInt8Gemm", "INT8_OPERAND"]

#: the int8 GEMM's operands as the cost model sees them: 8-bit integer codes (round half to even,
#: ``torch.round``), no shared block scale: the per-row (activation) / per-output-channel (weight)
#: absmax scales are fp32 and applied after the int32 GEMM (LLM.int8() arXiv 2208.07339 §3.2-3.3)
INT8_OPERAND = Operand("llm_int8", OperandSpec(
    element_bits=8, bits_per_element=8.0, is_float=False, exp_bits=0, man_bits=7,
    scales=(fp32_scale(0, "fp32 absmax / 127 per row of the activation and per output channel of "
                          "the weight, applied to the int32 result (LLM.int8() arXiv 2208.07339 §3.2)"),),
    rounding="even"))

_DTYPES = {"float16": torch.float16, "float32": torch.float32}


def _finite16(x: torch.Tensor, what: str) -> None:
    if not torch.isfinite(x.to(torch.float16)).all():
        raise FormatError(f"llm_int8: {what} holds values that are not finite in float16 "
                          f"(|x| > 65504 overflows float16)")


def vectorwise_quant(a16: torch.Tensor, threshold: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """bitsandbytes ``int8_vectorwise_quant`` of a float16 ``[T, K]`` tensor -> ``(CA int8,
    SCA float32 [T], outlier_cols int64)`` (numpy twin: ``outlier.int8_vectorwise_quant``)."""
    a = a16.to(torch.float16).to(torch.float32)
    cols = torch.zeros(0, dtype=torch.int64, device=a.device)
    if threshold > 0.0:
        outliers = a.abs() >= float(torch.tensor(threshold, dtype=torch.float16))
        if bool(outliers.any()):
            cols = torch.argwhere(outliers.any(dim=0)).view(-1)
            a = torch.where(outliers, torch.zeros((), dtype=a.dtype, device=a.device), a)
    stats = a.abs().amax(dim=1) if a.shape[1] else torch.zeros(a.shape[0], device=a.device)
    q = torch.round(a * (stats.reciprocal() * 127.0).unsqueeze(-1))  # what `127.0 / stats` computes
    codes = torch.where(stats.unsqueeze(-1) > 0, q, torch.zeros((), device=a.device)).to(torch.int8)
    if a.shape[0] > 1 and cols.numel():
        codes[:, cols] = 0
    return codes, stats, cols


def quantize_weight(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A Linear weight ``[N, K]`` -> ``(CB int8 [N, K], SCB float32 [N])`` on w's device
    (bitsandbytes ``Int8Params``: float16 weight, row absmax, no threshold)."""
    if w.dim() != 2 or not w.is_floating_point():
        raise FormatError(f"llm_int8: weight must be a 2-d float tensor [N, K], got {tuple(w.shape)} {w.dtype}")
    _finite16(w, "w")
    cb, scb, _ = vectorwise_quant(w.detach().to(torch.float16), 0.0)
    return cb, scb


@overload
def llm_int8_linear(x: torch.Tensor, w_codes: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor | None = None,
                    threshold: float = 6.0, dtype: str = "float16",
                    return_info: Literal[False] = False) -> torch.Tensor: ...
@overload
def llm_int8_linear(x: torch.Tensor, w_codes: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor | None = None,
                    threshold: float = 6.0, dtype: str = "float16", *,
                    return_info: Literal[True]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...
def llm_int8_linear(x: torch.Tensor, w_codes: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor | None = None,
                    threshold: float = 6.0, dtype: str = "float16",
                    return_info: bool = False) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``y = x @ W^T + bias`` as ``Linear8bitLt`` computes it, from ``quantize_weight(W)``.

    ``x [..., K]`` (any float dtype, any device); ``dtype``: the layer's activation dtype in
    bitsandbytes (``float16`` default; ``float32`` keeps the 16-bit outlier part in fp32). Steps
    and rounding: :func:`hwsim.numerics.llm_int8.llm_int8_matmul`. Returns y ``[..., N]`` in x's dtype
    (values of ``dtype``), plus ``info`` (outlier_cols, row_scale, x_codes, int32) if asked.
    """
    if dtype not in _DTYPES:
        raise FormatError(f"llm_int8: dtype {dtype!r} not one of {list(_DTYPES)}")
    cdt = _DTYPES[dtype]
    if w_codes.dtype != torch.int8 or w_codes.dim() != 2:
        raise FormatError(f"llm_int8: w_codes must be int8 [N, K], got {w_codes.dtype} {tuple(w_codes.shape)}")
    N, K = w_codes.shape
    if x.shape[-1] != K:
        raise FormatError(f"llm_int8: x {tuple(x.shape)} and w_codes {(N, K)} do not share K")
    if not x.is_floating_point():
        raise FormatError(f"llm_int8: x dtype {x.dtype} is not a float type")
    lead = x.shape[:-1]
    A = x.detach().reshape(-1, K).to(cdt)
    _finite16(A, "x")
    dev = A.device
    cb = w_codes.to(dev)
    scb = w_scale.to(dev, torch.float32).reshape(-1)
    ca, sca, cols = vectorwise_quant(A.to(torch.float16), threshold)
    c = ca.to(torch.float64) @ cb.to(torch.float64).t()  # exact integers
    out = (c.to(torch.float32) * (sca.unsqueeze(1) * scb.unsqueeze(0))) * float(LLM_INT8_DEQUANT)
    if bias is not None:
        b = bias.detach().to(dev).reshape(-1).to(cdt)
        _finite16(b, "bias")
        out = out + b.to(torch.float32)
    y = out.to(cdt)
    if cols.numel():
        sub_a = A[:, cols].to(torch.float64)
        sub_b = ((cb[:, cols].to(torch.float32) * scb.unsqueeze(1)) * float(LLM_INT8_RECIP)).to(cdt).to(torch.float64)
        acc = y.to(torch.float64)
        for j in range(cols.numel()):
            acc = acc + sub_a[:, j:j + 1] * sub_b[:, j].unsqueeze(0)
        y = acc.to(torch.float32).to(cdt)
    y = y.to(x.dtype).reshape(*lead, N)
    if return_info:
        return y, {"outlier_cols": cols, "row_scale": sca, "x_codes": ca, "int32": c.to(torch.int64)}
    return y


class LlmInt8Gemm:
    """LLM.int8() as the GEMM strategy of a Linear layer (``weights="llm_int8"``): bitsandbytes'
    ``Linear8bitLt`` -- vector-wise int8 (per-row activation, per-output-channel weight absmax
    scales), activation columns with any ``|x| >= threshold`` computed in ``dtype`` with the
    dequantized int8 weights (LLM.int8() arXiv 2208.07339 §3; :func:`llm_int8_linear`).
    The layer's activation format does not apply: the scheme quantizes its input itself.
    Recorded GEMMs: the int8 part ``(M, K, N)`` as ``llm_int8 x llm_int8`` (:data:`INT8_OPERAND`)
    and, when a column crosses the threshold, the outlier part ``(M, outlier columns, N)`` as
    ``fp16 x fp16`` (suffix ``.outliers``). Defined for Linear layers only."""

    __slots__ = ("threshold", "dtype", "name", "weight_operand")

    def __init__(self, threshold: float = 6.0, dtype: str = "float16"):
        self.threshold, self.dtype = threshold, dtype
        self.name = INT8_OPERAND.name
        self.weight_operand = INT8_OPERAND

    def prepare(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        codes, scale = quantize_weight(weight)
        return {"w_codes": codes, "w_scale": scale}

    def forward(self, x: torch.Tensor, buffers: Mapping[str, torch.Tensor], bias: torch.Tensor | None,
                ctx: GemmContext) -> tuple[torch.Tensor, list[Gemm]]:
        k = x.shape[-1]
        m = x.numel() // max(k, 1)
        codes = buffers["w_codes"]
        with ctx.inside():
            y, info = llm_int8_linear(x, codes, buffers["w_scale"], bias, threshold=self.threshold,
                                      dtype=self.dtype, return_info=True)
        n = codes.shape[0]
        gemms: list[Gemm] = [("", m, k, n, INT8_OPERAND, INT8_OPERAND)]
        n_out = int(info["outlier_cols"].numel())
        if n_out:
            fp16 = catalog_operand("fp16")
            gemms.append((".outliers", m, n_out, n, fp16, fp16))
        return y, gemms
