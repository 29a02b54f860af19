"""``accumulate="block_dot"``: a Linear layer's GEMM as one OCP MX DotGeneral per output element.

Every output ``y[m, n]`` equals :func:`hwsim.numerics.dot.dot_general` of the encoded activation
row ``m`` and the encoded weight row ``n`` (both blocked along K), bit for bit: each pair of
blocks is reduced exactly and rounded once to FP32 (OCP MX v1.0 §6.1, :func:`~hwsim.numerics.dot.
block_dot`), the block results are added in block order in an FP32 accumulator starting at +0.0
(§6.2, the precision hwsim fixes), NVFP4's FP32 tensor scales multiply the sum afterwards
(``a``'s first) and the bias is added last in one FP32 addition. It is the arithmetic of an FP32
accumulator register behind a block dot-product unit (rtl/mx_dot.v), without calling the golden
model per output:

1. Both operands are encoded (``Format.encode`` along K, on the tensor's device); each element
   code and scale code is read through the tables :func:`hwsim.numerics.dot.code_tables` gives,
   so the "scaled value" of an element, ``value(code) * value(scale code)`` (without a tensor
   scale), is an integer times a power of two, exact in float64.
2. One float64 batched matmul over the blocks, ``[nb, M, B] @ [nb, B, N]``, gives every block's
   partial sum. A float64 sum of ``B`` such products is exact, whatever order BLAS adds them in,
   when every partial sum is representable: an integer multiple of ``2**L`` (``L`` the sum of the
   lowest set-bit exponents of the two blocks) below ``2**(L + 53)``. With ``w`` the bit width of a
   block's scaled values as integers over ``2**L`` (highest minus lowest set bit plus one, plus the
   scale significand's bits), that holds when ``w_a + w_b + ceil(log2 B) <= 53``. It holds for
   every block by the element formats alone for FP4, FP6, E4M3, INT8, BFP/MSFP and NVFP4; for
   E5M2 (``w`` up to 34) it is checked per pair of blocks from the codes, and the pairs that fail
   are computed by :func:`~hwsim.numerics.dot.block_dot` itself (exact integer limbs). Pairs of
   narrow elements (FP4, FP6, INT8, MSFP, NVFP4: ``ew_a + ew_b + ceil(log2 B) <= 24`` for the
   element values alone, significands of at most 8 bits) sum the element values in a float32
   batched matmul instead (exact, and twice as fast) and multiply each block sum by the two
   block scales in float64 (exact: at most 24 + 4 + 4 significant bits).
3. The exact block sums are rounded to FP32 (a float64 -> float32 conversion rounds to nearest
   even, with subnormals and overflow to Inf) and added to the FP32 accumulator block by block
   (on the CPU in one fused numba pass; on other devices torch's cast and in-place add).

Special values: a block pair holding a NaN/Inf element or a NaN scale is computed by
``block_dot`` too (so Inf x 0, +Inf + -Inf and NaN scales follow OCP MX v1.0 §5.2 exactly); NaN
outputs are the canonical quiet NaN. Tensors stay on the input's device except the few block pairs
that go to ``block_dot`` (on the host).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numba
import numpy as np
import torch

from hwsim.bridge.records import Operand
from hwsim.errors import HwsimError
from hwsim.numerics.dot import block_dot, code_tables
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.format import Format

__all__ = ["BLOCK_DOT", "ACCUMULATE_MODES", "BlockDotGemm", "BlockOperand", "block_operand", "block_dot_matmul",
           "check_block_formats"]

#: the accumulation mode's name (``simulate(..., accumulate="block_dot")``, ``--accumulate block_dot``)
BLOCK_DOT = "block_dot"
#: accumulation modes that are not formats
ACCUMULATE_MODES = (BLOCK_DOT,)

#: significand bits of float64: a sum of integers below 2**53 (times one power of two) is exact
_F64_SIG = 53
#: float64 elements of one batched partial-sum tensor (64 MiB), so lm_head-sized GEMMs fit
_CHUNK = 1 << 23
#: msb / lsb stand-ins for zero codes (never the max / min of a block holding a nonzero)
_NO_MSB, _NO_LSB = -(1 << 20), 1 << 20


class _Tables(NamedTuple):
    """One format's code tables as tensors on one device (see :func:`_tables`)."""

    value: torch.Tensor  #: float64 value per element code; 0 for NaN/Inf codes
    special: torch.Tensor  #: bool per element code: NaN or Inf
    msb: torch.Tensor  #: int64 floor(log2 |value|) per element code (_NO_MSB for zero and specials)
    lsb: torch.Tensor  #: int64 exponent of the lowest set bit per element code (_NO_LSB likewise)
    svalue: torch.Tensor  #: float64 value per scale code; 0 for NaN scale codes
    sspecial: torch.Tensor  #: bool per scale code: NaN
    sbits: torch.Tensor  #: int64 bit length of each scale code's odd significand
    width: int  #: the largest ``w`` of any block of this format (static bound)
    ewidth: int  #: the same without the scale's bits (element values alone)
    esig: int  #: bit length of the largest odd element significand


_TABLES: dict[tuple[int, str], tuple[Any, _Tables]] = {}


def _tables(fmt: Any, device: torch.device) -> _Tables:
    key = (id(fmt), str(device))
    hit = _TABLES.get(key)
    if hit is not None and hit[0] is fmt:
        return hit[1]
    (ecls, esig, eexp), (scls, ssig, sexp) = code_tables(fmt)
    finite = (ecls == 0) & (esig != 0)
    value = np.where(ecls == 0, np.ldexp(esig.astype(np.float64), eexp), 0.0)
    ebits = np.array([int(abs(int(m))).bit_length() for m in esig], np.int64)
    msb = np.where(finite, eexp + ebits - 1, _NO_MSB)
    lsb = np.where(finite, eexp, _NO_LSB)
    svalue = np.where(scls == 0, np.ldexp(ssig.astype(np.float64), sexp), 0.0)
    sbits = np.array([int(abs(int(m))).bit_length() for m in ssig], np.int64)
    ewidth = int(msb[finite].max() - lsb[finite].min() + 1) if finite.any() else 0
    esig = int(ebits[ecls == 0].max()) if (ecls == 0).any() else 0
    t = _Tables(*(torch.from_numpy(np.ascontiguousarray(v)).to(device) for v in
                  (value, ecls != 0, msb, lsb, svalue, scls != 0, sbits)),
                width=ewidth + int(sbits.max()), ewidth=ewidth, esig=esig)
    _TABLES[key] = (fmt, t)
    return t


def check_block_formats(fmt_a: Any, fmt_w: Any, where: str = "") -> None:
    """Raise one :class:`HwsimError` unless both formats are block-scaled hwsim ``Format`` s that
    ``block_dot`` reads (E8M0 / shared-exponent or narrow block scales) with one block size."""
    names = f"activations={getattr(fmt_a, 'name', 'fp32')}, weights={getattr(fmt_w, 'name', 'fp32')}"
    prefix = f"{where}: " if where else ""
    why = ""
    for role, fmt in (("activations", fmt_a), ("weights", fmt_w)):
        if not isinstance(fmt, Format) or not fmt.block_size:
            why = f"{role} are not in a block-scaled format"
            break
        try:
            code_tables(fmt)
        except HwsimError as exc:
            why = str(exc)
            break
    if not why and fmt_a.block_size != fmt_w.block_size:
        why = f"block sizes differ along K ({fmt_a.block_size} vs {fmt_w.block_size})"
    if why:
        raise HwsimError(f"{prefix}accumulate={BLOCK_DOT!r} needs block-scaled activations and weights with one "
                         f"block size along K (MX, NVFP4, BFP/MSFP); got {names}: {why}")


class BlockOperand(NamedTuple):
    """A 2-d operand ``[R, K]`` encoded along K, laid out as ``nb`` blocks of ``B``."""

    codes: torch.Tensor  #: int64 element codes ``[R, nb, B]`` (a short last block padded with code 0 = +0)
    scales: torch.Tensor  #: int64 scale codes ``[R, nb]``
    values: torch.Tensor  #: scaled values ``[R, nb, B]`` (float32 when exact, else float64); specials 0;
    #: with ``scale_values``: the element values alone (float32)
    special: torch.Tensor  #: bool ``[R, nb]``: the block holds a NaN/Inf element or a NaN scale
    width: torch.Tensor | None  #: int64 ``[R, nb]`` block widths ``w`` (None: not needed for this pair)
    tensor_scale: torch.Tensor | None  #: 0-d float32, or None
    scale_values: torch.Tensor | None = None  #: float64 ``[R, nb]`` block scale values (unscaled ``values``)


def block_operand(fmt: Any, x: torch.Tensor, *, widths: bool = True, compact: bool = False,
                  unscaled: bool = False) -> BlockOperand:
    """Encode ``x [R, K]`` along K with ``fmt`` and read its codes (see the module docstring).

    ``widths``: also compute the per-block widths (the run-time exactness check needs them);
    ``compact``: keep the scaled values in float32 when that is exact (weights kept as buffers);
    ``unscaled``: keep the element values alone (float32) and the block scale values apart."""
    enc: Encoded = fmt.encode(x.detach(), axis=-1)
    t = _tables(fmt, x.device)
    R, K = x.shape
    B = int(fmt.block_size)
    nb = -(-K // B)
    codes = enc.codes.long()
    if nb * B != K:
        codes = torch.nn.functional.pad(codes, (0, nb * B - K))
    codes = codes.reshape(R, nb, B)
    scales = enc.scales.long().reshape(R, nb)
    svals = t.svalue[scales]
    values = t.value[codes].float() if unscaled else t.value[codes] * svals.unsqueeze(-1)
    special = t.special[codes].any(dim=-1) | t.sspecial[scales]
    width = None
    if widths:
        w = t.msb[codes].amax(dim=-1) - t.lsb[codes].amin(dim=-1) + 1
        width = torch.where(w > 0, w + t.sbits[scales], torch.zeros_like(w))
    if compact and not unscaled:
        v32 = values.float()
        if torch.equal(v32.double(), values):
            values = v32
    ts = enc.tensor_scale
    ts = None if ts is None else torch.as_tensor(ts, dtype=torch.float32, device=x.device)
    return BlockOperand(codes, scales, values, special, width, ts, svals if unscaled else None)


def _needs_widths(fmt_a: Any, fmt_w: Any) -> bool:
    """Whether float64 block sums may be inexact for some blocks of these formats."""
    bound = _tables(fmt_a, torch.device("cpu")).width + _tables(fmt_w, torch.device("cpu")).width
    return bound + (int(fmt_a.block_size) - 1).bit_length() > _F64_SIG


def _f32_elements(fmt_a: Any, fmt_w: Any) -> bool:
    """Whether the element-only block sums are exact in a float32 (or TF32 / bf16-input) matmul:
    ``ew_a + ew_b + ceil(log2 B) <= 24`` and element significands of at most 8 bits (FP4, FP6,
    INT8, MSFP, NVFP4 pairs). The scales then multiply each exact block sum in float64, exactly
    (at most 24 + 4 + 4 significant bits)."""
    ta, tw = _tables(fmt_a, torch.device("cpu")), _tables(fmt_w, torch.device("cpu"))
    bound = ta.ewidth + tw.ewidth + (int(fmt_a.block_size) - 1).bit_length()
    return bound <= 24 and max(ta.esig, tw.esig) <= 8


def _exact_pairs(fmt_a: Any, a: BlockOperand, fmt_w: Any, w: BlockOperand, m: torch.Tensor, n: torch.Tensor,
                 j: int) -> torch.Tensor:
    """``block_dot`` of block ``j`` of activation rows ``m`` and weight rows ``n`` (on the host)."""
    ea = Encoded(codes=a.codes[m, j].cpu().numpy().astype(fmt_a.code_dtype),
                 scales=a.scales[m, j].cpu().numpy().astype(np.uint8).reshape(-1, 1), axis=1, format=fmt_a.name)
    ew = Encoded(codes=w.codes[n, j].cpu().numpy().astype(fmt_w.code_dtype),
                 scales=w.scales[n, j].cpu().numpy().astype(np.uint8).reshape(-1, 1), axis=1, format=fmt_w.name)
    return torch.from_numpy(block_dot(fmt_a, ea, fmt_w, ew).reshape(-1))


@numba.njit(cache=True, nogil=True)
def _fp32_accumulate_kernel(part, acc):  # pragma: no cover - numba
    """acc[m, n] = fp32(... fp32(acc[m, n] + fp32(part[0, m, n])) ... + fp32(part[g-1, m, n]))."""
    g, M, N = part.shape
    for m in range(M):
        for n in range(N):
            s = acc[m, n]
            for j in range(g):
                s = s + np.float32(part[j, m, n])  # float64 -> float32 RNE, then one float32 add
            acc[m, n] = s


def _fp32_accumulate(part: torch.Tensor, acc: torch.Tensor) -> None:
    """Round each exact block sum ``part[j]`` (float64) to FP32 and add it to ``acc`` (FP32) in
    block order, every addition rounded to nearest even. On the CPU one fused numba pass (the
    float64 partial sums are read once); elsewhere torch's cast and in-place add per block."""
    if part.device.type == "cpu":
        _fp32_accumulate_kernel(part.numpy(), acc.numpy())
    else:
        _fp32_accumulate_torch(part, acc)


def _fp32_accumulate_torch(part: torch.Tensor, acc: torch.Tensor) -> None:
    """:func:`_fp32_accumulate` with torch ops (any device)."""
    for j in range(part.shape[0]):
        acc.add_(part[j].to(torch.float32))


@numba.njit(cache=True, nogil=True)
def _fp32_accumulate_scaled_kernel(part, sa, sw, acc):  # pragma: no cover - numba
    """As :func:`_fp32_accumulate_kernel` with block sums ``part[j, m, n] * sa[j, m] * sw[j, n]``
    (float32 element sums times float64 scales: exact in float64)."""
    g, M, N = part.shape
    for m in range(M):
        for n in range(N):
            s = acc[m, n]
            for j in range(g):
                s = s + np.float32(np.float64(part[j, m, n]) * sa[j, m] * sw[j, n])
            acc[m, n] = s


def _fp32_accumulate_scaled(part: torch.Tensor, sa: torch.Tensor, sw: torch.Tensor, acc: torch.Tensor) -> None:
    """Exact element sums ``part [g, M, N]`` (float32) times the block scales ``sa [g, M]`` and
    ``sw [g, N]`` (float64), rounded to FP32 and added to ``acc`` in block order."""
    if part.device.type == "cpu":
        _fp32_accumulate_scaled_kernel(part.numpy(), sa.numpy(), sw.numpy(), acc.numpy())
    else:
        _fp32_accumulate_torch(_scaled(part, sa, sw), acc)


def _scaled(part: torch.Tensor, sa: torch.Tensor, sw: torch.Tensor) -> torch.Tensor:
    """float64 ``part * sa * sw`` (exact; see :func:`_f32_elements`)."""
    return part.double() * sa[:, :, None] * sw[:, None, :]


def block_dot_matmul(fmt_a: Any, a: BlockOperand, fmt_w: Any, w: BlockOperand) -> torch.Tensor:
    """``[M, N]`` float32: element ``(m, n)`` is ``dot_general`` of row ``m`` of ``a`` and row ``n``
    of ``w`` (see the module docstring), computed on ``a``'s device."""
    M, nb, B = a.codes.shape
    N = w.codes.shape[0]
    device = a.values.device
    guard = a.width is not None and w.width is not None
    limit = _F64_SIG - (B - 1).bit_length()
    # per block: the widest row of a (a pair can fail the bound only if the widest rows do) and
    # whether any row holds a special; read once, so that ordinary blocks cost no mask at all
    a_wide = a.width.amax(dim=0).tolist() if a.width is not None and guard and M else [0] * nb
    a_special = a.special.any(dim=0).tolist() if M else [False] * nb
    acc = torch.zeros(M, N, dtype=torch.float32, device=device)
    split = a.scale_values is not None and w.scale_values is not None  # float32 element sums
    av = (a.values.float() if split else a.values.double()).transpose(0, 1)  # [nb, M, B]
    sa = a.scale_values.t().contiguous() if a.scale_values is not None else None  # [nb, M]
    cn = max(1, min(N, _CHUNK // max(M, 1)))  # columns per chunk
    for n0 in range(0, N, cn):
        n1 = min(N, n0 + cn)
        w_wide = w.width[n0:n1].amax(dim=0).tolist() if w.width is not None and guard else [0] * nb
        w_special = w.special[n0:n1].any(dim=0).tolist()
        wv = (w.values[n0:n1].float() if split else w.values[n0:n1].double()).permute(1, 2, 0)  # [nb, B, cn]
        sw = w.scale_values[n0:n1].t().contiguous() if w.scale_values is not None else None  # [nb, cn]
        g = max(1, min(nb, _CHUNK // max(M * (n1 - n0), 1)))  # blocks per batched matmul
        out = acc[:, n0:n1]
        for j0 in range(0, nb, g):
            j1 = min(nb, j0 + g)
            part = torch.bmm(av[j0:j1], wv[j0:j1])  # [g, M, cn] exact block sums (the bound holds)
            if split:
                assert sa is not None and sw is not None
                if not any(a_special[j0:j1]) and not any(w_special[j0:j1]):
                    _fp32_accumulate_scaled(part, sa[j0:j1], sw[j0:j1], out)
                    continue
                part = _scaled(part, sa[j0:j1], sw[j0:j1])  # float64 scaled block sums, to patch
            for j in range(j0, j1):
                wide = guard and a_wide[j] + w_wide[j] > limit
                if not (wide or a_special[j] or w_special[j]):
                    continue
                flag = a.special[:, j, None] | w.special[None, n0:n1, j]
                if wide:
                    assert a.width is not None and w.width is not None
                    flag = flag | ((a.width[:, j, None] + w.width[None, n0:n1, j]) > limit)
                mi, ni = flag.nonzero(as_tuple=True)
                if len(mi):  # block_dot's FP32 results, exact in float64 (re-rounded to themselves)
                    part[j - j0, mi, ni] = _exact_pairs(fmt_a, a, fmt_w, w, mi, ni + n0, j).to(device).double()
            _fp32_accumulate(part, out)
    for ts in (a.tensor_scale, w.tensor_scale):
        if ts is not None:
            acc.mul_(ts)
    return acc.masked_fill_(acc.isnan(), float("nan"))  # the canonical quiet NaN


class BlockDotGemm:
    """A Linear layer's GEMM with ``accumulate="block_dot"``: ``y = DotGeneral(Q_a(x), Q_w(W)) + b``
    per output (module docstring); the weight is encoded once."""

    __slots__ = ("weights", "activations", "a_operand", "weight_operand", "name", "_widths", "_split")

    def __init__(self, weights: Any, activations: Any, a_operand: Operand, w_operand: Operand, where: str = ""):
        check_block_formats(activations, weights, where)
        self.weights, self.activations = weights, activations
        self.a_operand, self.weight_operand = a_operand, w_operand
        self.name = w_operand.name
        self._widths = _needs_widths(activations, weights)
        self._split = _f32_elements(activations, weights)

    def prepare(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        op = block_operand(self.weights, weight, widths=self._widths, compact=True, unscaled=self._split)
        out = {"bd_codes": op.codes.to(torch.uint8 if self.weights.element.bits <= 8 else torch.int32),
               "bd_scales": op.scales.to(torch.uint8), "bd_values": op.values, "bd_special": op.special}
        if op.width is not None:
            out["bd_width"] = op.width.to(torch.int16)
        if op.tensor_scale is not None:
            out["bd_tensor_scale"] = op.tensor_scale
        if op.scale_values is not None:
            out["bd_scale_values"] = op.scale_values
        return out

    def forward(self, x: torch.Tensor, buffers: Mapping[str, torch.Tensor], bias: torch.Tensor | None,
                ctx: Any) -> tuple[torch.Tensor, list]:
        k = x.shape[-1]
        n = buffers["bd_codes"].shape[0]
        gemms = [("", x.numel() // max(k, 1), k, n, self.a_operand, self.weight_operand)]
        width = buffers.get("bd_width")
        w = BlockOperand(buffers["bd_codes"].long(), buffers["bd_scales"].long(), buffers["bd_values"],
                         buffers["bd_special"], None if width is None else width.long(),
                         buffers.get("bd_tensor_scale"), buffers.get("bd_scale_values"))
        with ctx.inside():
            a = block_operand(self.activations, x.reshape(-1, k).float(), widths=self._widths, unscaled=self._split)
            y = block_dot_matmul(self.activations, a, self.weights, w)
            if bias is not None:
                y = y + bias.float()  # one FP32 addition after the accumulator
            return y.reshape(*x.shape[:-1], n).to(x.dtype), gemms
