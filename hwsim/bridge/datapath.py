"""Run a torch model with its GEMMs on the simulated datapath, and record every GEMM.

:func:`simulate` returns a :class:`Simulation`. Its ``model`` is a *new* module tree of the same
class as the input (ARCHITECTURE: "returns new modules, never patches torch"): parameters and
buffers are shared with the original (no copy of the weights), and

- every ``nn.Linear`` becomes a :class:`SimLinear` and every ``nn.Conv2d`` a :class:`SimConv2d`:
  the weight is quantized **once**, along the reduction axis (Linear: ``in_features``; Conv2d:
  ``C_in`` per kernel tap), the input is quantized on every call (Linear: along ``in_features``;
  Conv2d: the stored activation tensor once, along the channels of each pixel), and the products,
  exact in float64, are summed in float64 and rounded once (:func:`hwsim.bridge.gemm.matmul`: the
  result does not depend on the thread count), or in a narrower ``accumulate`` format (partial
  sums of ``acc_block`` products rounded into it), or (``accumulate="block_dot"``, Linear layers
  with block-scaled weights and activations) as OCP MX DotGeneral per output: exact block dot
  products rounded to FP32 and added block by block in an FP32 accumulator
  (:mod:`hwsim.bridge.block_accumulate`);
- activation x activation products (``torch.matmul``, ``@``, ``bmm``, ``mm``, ``baddbmm``/``addmm``
  and ``F.scaled_dot_product_attention``, i.e. attention's QK^T and PV) are caught by a
  :class:`torch.overrides.TorchFunctionMode` that is active only while the simulated model runs,
  and computed from quantized operands: q and P in the activation format along the reduction axis,
  K and V as a KV cache stores them (each token quantized once, when written, along head_dim, in
  the ``kv_cache``/``v_cache`` formats), so prefill and token-by-token decode compute the same
  values; eager attention (``q @ k^T``, ``P @ V`` as matmuls inside an HF-style attention module)
  follows the same rule;
- layers that hold a GEMM hwsim cannot simulate (Conv1d/3d, transposed or grouped convolutions,
  RNNs, ``nn.MultiheadAttention``, ``einsum``, functional ``linear``/``conv`` calls outside a
  simulated layer) run unchanged in fp32 and are listed in :attr:`Simulation.unsupported`.

Every executed GEMM is recorded (:class:`~hwsim.bridge.records.GemmRecord`: layer, kind, m, k, n,
the two operands with the format objects they were quantized with, and a count);
:meth:`Simulation.report` hands the records and a :class:`~hwsim.bridge.records.RunSummary` to
:func:`hwsim.bridge.report.build_report`, which costs them on the accelerator. A Linear layer's GEMM
runs through its :class:`~hwsim.bridge.gemm.GemmStrategy`, chosen once when the simulation is built
(quantize both operands, or a GEMM-level scheme such as ``weights="llm_int8"``).
"""

from __future__ import annotations

import copy
import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from hwsim.arch.config import accelerator as _catalog_accelerator
from hwsim.bridge.block_accumulate import ACCUMULATE_MODES, BLOCK_DOT, BlockDotGemm
from hwsim.bridge.gemm import GemmStrategy, QuantizedGemm
from hwsim.bridge.gemm import accumulate as _accumulate
from hwsim.bridge.gemm import linear as _linear
from hwsim.bridge.gemm import matmul as _matmul
from hwsim.bridge.gemm import quantize as _quantize
from hwsim.bridge.ksort import ksort_permutations, permute_qk
from hwsim.bridge.llm_int8 import LlmInt8Gemm
from hwsim.bridge.lut_gemm import LutGemm, check_gemm_mode
from hwsim.bridge.records import (
    GemmRecord,
    Operand,
    RunSummary,
    Unsupported,
    fp32_operand,
)
from hwsim.bridge.report import Report, build_report, record_table
from hwsim.catalog import get_format
from hwsim.errors import FormatError, HwsimError
from hwsim.numerics.format import Format
from hwsim.numerics.protocol import NumberFormat

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["simulate", "SimConfig", "Simulation", "LayerFormats", "SimLinear", "SimConv2d", "resolve_format",
           "CONV_LAYOUTS", "V_LAYOUTS",
           "Unsupported"]

#: Format names that mean "leave the tensor as it is" (fp32 datapath, no quantization pass).
_IDENTITY = {None, "fp32", "none"}

#: how a Conv2d's operands are blocked (:class:`SimConv2d`)
CONV_LAYOUTS = ("channels", "im2col")
#: how the PV GEMM reads V (:meth:`Simulation._sdpa`): ``token`` = the stored values (each token
#: quantized once along head_dim when written); ``sequence`` = the stored values re-quantized in
#: blocks along the key positions (PV's reduction axis), recorded as a ``requant`` pass
V_LAYOUTS = ("token", "sequence")


#: GEMM-level schemes a Linear layer's weights may name instead of a format: each builds the
#: layer's GEMM strategy (they quantize the layer's activations themselves)
SCHEMES: dict[str, Callable[[], GemmStrategy]] = {"llm_int8": LlmInt8Gemm}


def resolve_format(spec: str | NumberFormat | None) -> NumberFormat | None:
    """A catalog name, a :class:`Format` or ``None``/``"fp32"`` (no quantization -> ``None``).

    Raises:
        FormatError: unknown name (the message lists the known formats).
        HwsimError: a GEMM-level scheme (``"llm_int8"``) where a format is needed.
    """
    if spec is None or (isinstance(spec, str) and spec.lower() in _IDENTITY):
        return None
    if isinstance(spec, str):
        if spec in SCHEMES:
            raise HwsimError(f"{spec!r} is a GEMM-level scheme for a Linear layer, not a format; give it as "
                             f"weights (it quantizes that layer's activations itself)")
        return get_format(spec)
    if isinstance(spec, Format) or isinstance(spec, NumberFormat):  # any format family
        return None if spec.name == "fp32" else spec
    raise FormatError(f"format must be a catalog name, a hwsim Format or None, got {spec!r}")


def _resolve_weights(spec: Any) -> tuple[NumberFormat | None, GemmStrategy | None]:
    """Weights: a format (as :func:`resolve_format`), a GEMM-level scheme's name or the scheme."""
    if isinstance(spec, str) and spec in SCHEMES:
        return None, SCHEMES[spec]()
    if isinstance(spec, GemmStrategy):
        return None, spec
    return resolve_format(spec), None


def _name(fmt: NumberFormat | None) -> str:
    return "fp32" if fmt is None else fmt.name


@dataclass(frozen=True, slots=True)
class LayerFormats:
    """Formats one layer runs with (``None`` = fp32, not quantized)."""

    weights: NumberFormat | None
    activations: NumberFormat | None
    kv_cache: NumberFormat | None  #: K in attention (and V unless ``v_cache`` differs)
    v_cache: NumberFormat | None
    #: a GEMM-level scheme that runs this layer's Linear GEMM instead of quantizing W and x
    scheme: GemmStrategy | None = None

    @property
    def names(self) -> tuple[str, str]:
        w = self.scheme.name if self.scheme is not None else _name(self.weights)
        return _name(self.activations), w


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything :func:`simulate` is told, in one value (arguments as :func:`simulate`).

    Formats may be catalog names, format objects or ``None``; they are resolved once, when the
    :class:`Simulation` is built.
    """

    weights: Any = "mxfp4"
    activations: Any = "mxfp8_e4m3"
    accelerator: Any = "mx-systolic-32"
    kv_cache: Any = "activations"
    v_cache: Any = "kv_cache"
    accumulate: Any = None
    acc_block: int = 32
    skip: tuple[str, ...] = ()
    overrides: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    attention: bool = True
    ksort: bool | str = False
    deterministic: bool = True
    v_layout: str = "token"
    conv_layout: str = "channels"
    gemm: str = "mac"
    lut_table: str | None = None


# ------------------------------------------------------------------------------------------------
# simulated layers
# ------------------------------------------------------------------------------------------------
class _SimLayer(nn.Module):
    """Common part: name, formats, the quantized weight and the owning :class:`Simulation`."""

    _sim: Simulation  # declared, so nn.Module.__getattr__ (Tensor | Module) does not type it

    def __init__(self, name: str, formats: LayerFormats, sim: Simulation):
        super().__init__()
        self.layer_name = name
        self.formats = formats
        object.__setattr__(self, "_sim", sim)  # not a submodule, not a parameter

    def extra_repr(self) -> str:
        a, w = self.formats.names
        return f"{self.layer_name!r}, weights={w}, activations={a}"


class SimLinear(_SimLayer):
    """``nn.Linear`` on the simulated datapath: its :class:`~hwsim.bridge.gemm.GemmStrategy` (by
    default ``y = Q_a(x) @ Q_w(W)^T + b``, both along K) prepares the weight once and runs each call."""

    def __init__(self, name: str, linear: nn.Linear, formats: LayerFormats, sim: Simulation,
                 gemm: GemmStrategy):
        super().__init__(name, formats, sim)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.gemm = gemm
        with torch.no_grad():
            for key, t in gemm.prepare(linear.weight.detach()).items():
                self.register_buffer(key, t, persistent=False)
        self.bias: torch.Tensor | None = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sim = self._sim
        # every buffer is a prepared tensor (register_buffer types them Tensor | None)
        buffers = cast("dict[str, torch.Tensor]", self._buffers)
        y, gemms = self.gemm.forward(x, buffers, self.bias, sim)
        for suffix, m, k, n, a, w in gemms:
            sim._record(self.layer_name + suffix, "linear", m, k, n, a, w, 1)
        return y


class SimConv2d(_SimLayer):
    """``nn.Conv2d`` (groups=1, zero padding) as its im2col GEMM.

    ``M = batch x output pixels``, ``K = C_in x kh x kw`` (the reduction axis), ``N = C_out`` -- the
    same shapes as :func:`hwsim.arch.conv2d`. What is quantized depends on ``layout``
    (:data:`CONV_LAYOUTS`):

    - ``"channels"`` (default): the activation tensor is stored once, so it is quantized once,
      blocked along the channels of each pixel (axis 1 of ``[B, C_in, H, W]``, as microxcaling's
      ``mx/convolution.py`` quantizes a convolution's input), before the zero padding and the im2col
      gather; the weight is blocked along ``C_in`` for each ``(kh, kw)`` tap (axis 1 of
      ``[C_out, C_in, kh, kw]``). Every output pixel reads the same quantized value of an input
      element.
    - ``"im2col"``: both operands blocked along each im2col row (``F.unfold`` order
      ``c*kh*kw + i*kw + j``); an input element may take different values in different output
      pixels (the rule before issue 17).
    """

    def __init__(self, name: str, conv: nn.Conv2d, formats: LayerFormats, sim: Simulation,
                 layout: str = "channels"):
        super().__init__(name, formats, sim)
        if layout not in CONV_LAYOUTS:
            raise HwsimError(f"conv_layout={layout!r} not one of {list(CONV_LAYOUTS)}")
        self.layout = layout
        self.out_channels = conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        if isinstance(conv.padding, str):  # Simulation._build leaves these unsimulated
            raise HwsimError(f"{name}: Conv2d padding={conv.padding!r} is not simulated (give it as numbers)")
        self.padding: tuple[int, ...] = conv.padding
        self.dilation = conv.dilation
        self.weight: torch.Tensor  # the quantized [C_out, K] weight (K in F.unfold order), a buffer
        w = conv.weight.detach()
        with torch.no_grad():
            wq = (_quantize(formats.weights, w, 1) if layout == "channels"
                  else _quantize(formats.weights, w.reshape(conv.out_channels, -1), -1))
            self.register_buffer("weight", wq.reshape(conv.out_channels, -1), persistent=False)
        self.bias: torch.Tensor | None = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sim = self._sim
        batched = x.dim() == 4
        if not batched:
            x = x.unsqueeze(0)
        nb, _, h, w = x.shape
        kh, kw = self.kernel_size
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        a, wop = sim._operands(self.formats)
        if self.layout == "channels":  # one stored activation tensor, quantized once
            x = sim.quantize_activation(x, self.formats.activations, 1)
        with sim.inside():
            cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)  # [B, K, L]
        cols = cols.transpose(1, 2)  # [B, L, K]
        k = cols.shape[-1]
        sim._record(self.layer_name, "conv2d", nb * cols.shape[1], k, self.out_channels, a, wop, 1)
        cq = cols if self.layout == "channels" else sim.quantize_activation(cols, self.formats.activations, -1)
        with sim.inside():
            if sim.accumulate is None:
                y = _linear(cq, self.weight, self.bias, sim.deterministic)
            else:
                y = _accumulate(cq, self.weight.t(), sim.accumulate, sim.acc_block, sim.deterministic)
                if self.bias is not None:
                    y = y + self.bias
            y = y.transpose(1, 2).reshape(nb, self.out_channels, ho, wo)
        return y if batched else y.squeeze(0)


# ------------------------------------------------------------------------------------------------
# activation x activation GEMMs (attention): a TorchFunctionMode active only during the forward
# ------------------------------------------------------------------------------------------------
_MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.bmm, torch.Tensor.bmm,
            torch.mm, torch.Tensor.mm}
_ADD_MATMULS = {torch.baddbmm, torch.Tensor.baddbmm, torch.addmm, torch.Tensor.addmm}
_UNSUPPORTED_FUNCS = {F.linear: "linear", F.conv1d: "conv1d", F.conv2d: "conv2d", F.conv3d: "conv3d",
                      F.conv_transpose1d: "conv_transpose1d", F.conv_transpose2d: "conv_transpose2d",
                      F.conv_transpose3d: "conv_transpose3d", F.bilinear: "bilinear",
                      torch.einsum: "einsum", torch.tensordot: "tensordot"}


class _GemmMode(TorchFunctionMode):
    def __init__(self, sim: Simulation):
        super().__init__()
        self.sim = sim

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        sim = self.sim
        if sim._depth or sim._passthrough:
            return func(*args, **kwargs)
        if func in _MATMULS:
            return sim._matmul(args[0], args[1])
        if func is F.scaled_dot_product_attention:
            return sim._sdpa(*args, **kwargs)
        if func in _ADD_MATMULS:
            bias, a, b = args[:3]
            beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
            return beta * bias + alpha * sim._matmul(a, b)
        op = _UNSUPPORTED_FUNCS.get(func)
        if op is not None:
            sim._unsupported_op(op)
        return func(*args, **kwargs)


# ------------------------------------------------------------------------------------------------
# the simulation
# ------------------------------------------------------------------------------------------------
_UNSUPPORTED_TYPES: tuple[tuple[type, str], ...] = (
    (nn.Conv1d, "Conv1d is not simulated"), (nn.Conv3d, "Conv3d is not simulated"),
    (nn.ConvTranspose1d, "transposed convolutions are not simulated"),
    (nn.ConvTranspose2d, "transposed convolutions are not simulated"),
    (nn.ConvTranspose3d, "transposed convolutions are not simulated"),
    (nn.RNNBase, "recurrent layers are not simulated"), (nn.Bilinear, "Bilinear is not simulated"),
    (nn.MultiheadAttention, "nn.MultiheadAttention is not simulated"),
)


class Simulation:
    """A model on the simulated datapath plus the record of every GEMM it executed.

    Use :attr:`model` like the original (``sim.model(x)``, ``sim.model.generate(...)``) or call the
    simulation itself (``sim(x)``). :meth:`report` costs what ran so far; :meth:`reset` clears it.
    Build it with :func:`simulate`.
    """

    def __init__(self, model: nn.Module, config: SimConfig):
        self.config = config
        self.weights, self.scheme = _resolve_weights(config.weights)
        roles = {}
        for role in ("activations", "kv_cache", "v_cache", "accumulate"):
            spec = getattr(config, role)
            if isinstance(spec, str) and spec in SCHEMES:
                raise HwsimError(f"{role}={spec!r}: a GEMM-level scheme for a Linear layer's GEMM; "
                                 f"give it as weights (it quantizes that layer's activations itself)")
            roles[role] = spec
        self.activations = resolve_format(roles["activations"])
        self.kv_cache = self.activations if roles["kv_cache"] == "activations" else resolve_format(roles["kv_cache"])
        self.v_cache = self.kv_cache if roles["v_cache"] == "kv_cache" else resolve_format(roles["v_cache"])
        #: accumulate="block_dot": Linear GEMMs as DotGeneral (the other GEMMs accumulate as None)
        self.block_dot = isinstance(roles["accumulate"], str) and roles["accumulate"] in ACCUMULATE_MODES
        self.accumulate = None if self.block_dot else resolve_format(roles["accumulate"])
        if config.acc_block < 1:
            raise HwsimError(f"acc_block={config.acc_block} must be >= 1")
        self.acc_block = int(config.acc_block)
        self.deterministic = bool(config.deterministic)
        if config.v_layout not in V_LAYOUTS:
            raise HwsimError(f"v_layout={config.v_layout!r} not one of {list(V_LAYOUTS)}")
        if config.conv_layout not in CONV_LAYOUTS:
            raise HwsimError(f"conv_layout={config.conv_layout!r} not one of {list(CONV_LAYOUTS)}")
        self.v_layout, self.conv_layout = config.v_layout, config.conv_layout
        check_gemm_mode(config.gemm, config.lut_table)
        if config.gemm == "lut" and (self.block_dot or self.accumulate is not None):
            raise HwsimError("gemm='lut' sums in float64 (its own order); it takes no accumulate= mode")
        self.gemm, self.lut_table = config.gemm, config.lut_table
        acc = config.accelerator
        self.accelerator = _catalog_accelerator(acc) if isinstance(acc, str) else acc
        self.skip = tuple(config.skip)
        self.overrides = dict(config.overrides or {})
        self.attention = config.attention
        self.gemms: dict[tuple, int] = {}
        self.unsupported: list[Unsupported] = []
        self.layer_formats: dict[str, LayerFormats] = {}
        self._ops: dict[int, Operand] = {}  # one Operand per format object (records group by it)
        self._depth = 0  # > 0 inside a simulated layer's own torch calls
        self._passthrough = 0  # > 0 inside an unsupported module (runs as it is)
        self._names: list[str] = []
        self._last_act: tuple | None = None
        self._attn_modules: set[str] = set()  # HF-style attention modules (eager QK^T / PV matmuls)
        self._attn_calls: dict[str, int] = {}  # activation matmuls so far in the module's forward
        self._mode: _GemmMode | None = None
        self._default = LayerFormats(self.weights, self.activations, self.kv_cache, self.v_cache, self.scheme)
        self._ksort: dict[str, Any] = {}
        if config.ksort:
            ksort = config.ksort
            self._ksort = (ksort_permutations(model, layout=ksort) if isinstance(ksort, str)
                           else ksort_permutations(model))
            if not self._ksort:
                raise HwsimError("ksort=True: the model has no attention module K-sort knows "
                                 "(HF Llama-family q_proj/k_proj or BERT query/key)")
        self.model = self._build(model)

    # ---- construction -----------------------------------------------------------------------
    def formats_for(self, name: str) -> LayerFormats | None:
        """The formats of module ``name`` (``None`` = skipped: runs fp32, GEMMs recorded as fp32).

        ``skip`` patterns win; then the *last* matching ``overrides`` pattern (fnmatch on the
        module name, e.g. ``"model.layers.0.*"``), whose dict may set ``weights``,
        ``activations`` and ``kv_cache``, or which may be ``None`` to skip the layer.
        """
        if any(fnmatch.fnmatchcase(name, p) for p in self.skip):
            return None
        fmts = self._default
        for pattern, ov in self.overrides.items():
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            if ov is None:
                return None
            bad = sorted(set(ov) - {"weights", "activations", "kv_cache", "v_cache"})
            if bad:
                raise HwsimError(f"override {pattern!r}: unknown key(s) {bad}; "
                                 "allowed: weights, activations, kv_cache, v_cache")
            weights, scheme = _resolve_weights(ov["weights"]) if "weights" in ov else (fmts.weights, fmts.scheme)
            fmts = LayerFormats(
                weights,
                resolve_format(ov["activations"]) if "activations" in ov else fmts.activations,
                resolve_format(ov["kv_cache"]) if "kv_cache" in ov else fmts.kv_cache,
                resolve_format(ov["v_cache"]) if "v_cache" in ov else
                resolve_format(ov["kv_cache"]) if "kv_cache" in ov else fmts.v_cache,
                scheme)
        return fmts

    def _operand(self, fmt: Any) -> Operand:
        """The one :class:`Operand` of a format object (``None``: fp32)."""
        if fmt is None:
            return fp32_operand()
        op = self._ops.get(id(fmt))
        if op is None:
            op = self._ops[id(fmt)] = Operand(fmt.name, fmt)
        return op

    def _operands(self, fmts: LayerFormats) -> tuple[Operand, Operand]:
        """(activation, weight) operands of a layer that quantizes both."""
        return self._operand(fmts.activations), self._operand(fmts.weights)

    def _strategy(self, fmts: LayerFormats, where: str | None = None) -> GemmStrategy:
        """The layer's Linear GEMM: its scheme, or quantize both operands with their formats
        (``accumulate="block_dot"``: as DotGeneral, for layer ``where``; its formats are checked)."""
        if fmts.scheme is not None:
            return fmts.scheme
        a, w = self._operands(fmts)
        if self.block_dot and where is not None:
            return BlockDotGemm(fmts.weights, fmts.activations, a, w, where=f"layer {where!r}")
        if self.gemm == "lut" and where is not None:  # gemm="lut": table lookup (hwsim.bridge.lut_gemm)
            return LutGemm(fmts.weights, fmts.activations, a, w, self.lut_table, where=f"layer {where!r}")
        return QuantizedGemm(fmts.weights, fmts.activations, a, w)

    def _build(self, model: nn.Module) -> nn.Module:
        # a new module tree sharing every parameter and buffer with the original
        memo: dict[int, Any] = {id(t): t for t in model.parameters()}
        memo.update({id(t): t for t in model.buffers()})
        new = copy.deepcopy(model, memo)
        fp32 = LayerFormats(None, None, None, None)
        holder = nn.ModuleDict({"root": new})  # so that a bare nn.Linear / nn.Conv2d model is swapped too
        for name, mod in list(holder.named_modules()):
            for cname, child in list(mod.named_children()):
                full = (f"{name}.{cname}" if name else cname).removeprefix("root").removeprefix(".")
                full = full or "<root>"
                fmts = self.formats_for(full)
                self.layer_formats[full] = fmts or fp32
                if type(child) is nn.Linear:
                    gemm = self._strategy(fmts or fp32, None if fmts is None else full)  # skipped: fp32
                    setattr(mod, cname, SimLinear(full, child, fmts or fp32, self, gemm))
                elif type(child) is nn.Conv2d and fmts is not None and fmts.scheme is not None:
                    self._unsupported_module(full, child, f"{fmts.scheme.name} is a scheme for Linear layers; Conv2d")
                elif type(child) is nn.Conv2d and fmts is not None and self.block_dot:
                    raise HwsimError(f"layer {full!r}: accumulate={BLOCK_DOT!r} is implemented for Linear layers; "
                                     f"skip this Conv2d (skip=[{full!r}]) or use another accumulation")
                elif type(child) is nn.Conv2d:
                    if child.groups == 1 and child.padding_mode == "zeros" and not isinstance(child.padding, str):
                        setattr(mod, cname, SimConv2d(full, child, fmts or fp32, self, self.conv_layout))
                    else:
                        self._unsupported_module(full, child, "Conv2d with groups > 1, non-zero "
                                                 "padding mode or string padding is not simulated")
                else:
                    for typ, why in _UNSUPPORTED_TYPES:
                        if isinstance(child, typ):
                            self._unsupported_module(full, child, why)
                            break
                    else:
                        if type(child).__name__ == "Conv1D":  # transformers' GPT-2 style linear
                            self._unsupported_module(full, child, "transformers Conv1D is not simulated")
        new = holder["root"]
        # name tracking for activation x activation GEMMs, and the mode around the root forward
        for name, mod in new.named_modules():
            if isinstance(mod, _SimLayer):
                continue
            if _is_attention(mod):
                self._attn_modules.add(name or "<root>")
            mod.register_forward_pre_hook(self._push_hook(name))
            mod.register_forward_hook(self._pop_hook(name), always_call=True)
        return new

    def _unsupported_module(self, name: str, mod: nn.Module, why: str) -> None:
        self.unsupported.append(Unsupported(name, type(mod).__name__, why + " (ran in fp32)"))
        mod.register_forward_pre_hook(self._enter_passthrough)
        mod.register_forward_hook(self._exit_passthrough, always_call=True)

    def _enter_passthrough(self, mod, args):
        self._passthrough += 1

    def _exit_passthrough(self, mod, args, out):
        self._passthrough -= 1

    def _push_hook(self, name: str) -> Callable:
        def hook(mod, args):
            if not self._names and self.attention:
                self._mode = _GemmMode(self)
                self._mode.__enter__()
            self._names.append(name or "<root>")
            if name in self._attn_modules:
                self._attn_calls[name] = 0
        return hook

    def _pop_hook(self, name: str) -> Callable:
        def hook(mod, args, out):
            if self._names:
                self._names.pop()
            if not self._names:
                self._last_act = None
                if self._mode is not None:
                    mode, self._mode = self._mode, None
                    mode.__exit__(None, None, None)
        return hook

    # ---- running ----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def reset(self) -> None:
        """Forget the recorded GEMMs and runtime-detected unsupported ops."""
        self.gemms.clear()
        self.unsupported = [u for u in self.unsupported if not u.reason.startswith("functional")]

    def inside(self) -> _Inside:
        """Context: torch calls made by the simulator itself bypass the GEMM mode."""
        return _Inside(self)

    def _record(self, name: str, kind: str, m: int, k: int, n: int, a: Operand, w: Operand,
                count: int) -> None:
        key = (name, kind, int(m), int(k), int(n), a, w)
        self.gemms[key] = self.gemms.get(key, 0) + int(count)

    def quantize_activation(self, x: torch.Tensor, fmt: NumberFormat | None, axis: int) -> torch.Tensor:
        """``fmt.quantize(x)`` along ``axis``; q/k/v (and gate/up) projections reading the same
        tensor reuse one result."""
        if fmt is None:
            return x
        last = self._last_act
        with self.inside():
            # q/k/v (and gate/up) projections read the same tensor: quantize it once. The version
            # counter tells an in-place change; inference tensors have none, so for them a copy of
            # the values is kept and compared (much cheaper than quantizing again)
            inference = x.is_inference()
            version = None if inference else x._version
            if (last is not None and last[0] is x and last[1] == version and last[2] is fmt
                    and last[3] == axis and (last[5] is None or torch.equal(last[5], x))):
                return last[4]
            y = _quantize(fmt, x, axis)
            self._last_act = (x, version, fmt, axis, y, x.clone() if inference else None)
        return y

    def _current(self) -> str:
        return self._names[-1] if self._names else "<root>"

    def _unsupported_op(self, op: str) -> None:
        name = self._current()
        if not any(u.name == name and u.op == op for u in self.unsupported):
            self.unsupported.append(Unsupported(name, op, f"functional {op} outside a simulated layer "
                                                          "is not simulated (ran in fp32)"))

    def _fmts_here(self) -> LayerFormats:
        name = self._current()
        fmts = self.layer_formats.get(name, self._default) if name != "<root>" else self._default
        return fmts

    def _mm(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The GEMM of two quantized operands (accumulated as the simulation says)."""
        if self.accumulate is None:
            return _matmul(a, b, self.deterministic)
        return _accumulate(a, b, self.accumulate, self.acc_block, self.deterministic)

    def _kv_write(self, fmt: NumberFormat | None, x: torch.Tensor) -> torch.Tensor:
        """The KV cache's stored values of ``x`` (``[..., tokens, head_dim]``): each token quantized
        once, as it is written, blocked along head_dim (docs/bridge.md, "KV cache").

        A token's stored value depends on that token only, so quantizing the whole cache again at a
        later read gives the same values as quantizing each token once on write, in prefill and in
        token-by-token decode alike. Formats whose quantization of one row depends on other rows
        (a per-tensor scale, stochastic rounding) are written token by token: one write is one
        token's vectors of every head (``x[b, :, t, :]``), as a cache write stores them."""
        if fmt is None:
            return x
        if _row_local(fmt):
            return _quantize(fmt, x, -1)
        lead = x.shape[:-3] if x.dim() >= 3 else ()
        x4 = x.reshape(-1, *x.shape[-3:]) if x.dim() >= 3 else x.reshape(1, 1, *x.shape[-2:])
        out = torch.empty_like(x4)
        for i in range(x4.shape[0]):
            for t in range(x4.shape[2]):
                out[i, :, t, :] = _quantize(fmt, x4[i, :, t, :], -1)
        return out.reshape(*lead, *x.shape[-3:]) if x.dim() >= 3 else out.reshape(x.shape)

    def _v_for_pv(self, name: str, fmt: NumberFormat | None, v: torch.Tensor, batch: int) -> torch.Tensor:
        """V as the PV GEMM reads it: the stored ``v`` (``v_layout="token"``), or the stored values
        re-quantized in blocks along the key positions (``"sequence"``), recorded as a ``requant``
        pass over the cache (``m`` key positions x ``k`` head_dim elements, ``n = 1``) so that the
        cost model charges it. Not causal in prefill: a block of 32 positions shares one scale."""
        if self.v_layout == "token" or fmt is None:
            return v
        op = self._operand(fmt)
        self._record(name + ".v_requant", "requant", v.shape[-2], v.shape[-1], 1, op, op, batch)
        vq = _quantize(fmt, v, -2)
        return vq

    def _matmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        with self.inside():
            if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.dim() < 2 or b.dim() < 2:
                self._unsupported_op("matmul with a vector operand")
                return torch.matmul(a, b)
            fmts = self._fmts_here()
            name = self._current()
            if name in self._ksort and not any(u.name == name and u.op == "ksort" for u in self.unsupported):
                # eager attention (q @ k^T as plain matmuls): which operand is q, k or P is not
                # known here, so K-sort is not applied; say so rather than ignore the request
                self.unsupported.append(Unsupported(name, "ksort", "K-sort applies to scaled_dot_product_"
                                                    "attention; this module's eager matmuls ran unsorted"))
            if name in self._attn_modules and not isinstance(b, nn.Parameter):
                return self._eager_attention(name, fmts, a, b)
            wf = fmts.weights if isinstance(b, nn.Parameter) else fmts.activations
            aq = _quantize(fmts.activations, a, -1)
            bq = _quantize(wf, b, -2)
            m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
            batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            self._record(self._current() + ".matmul", "matmul", m, k, n,
                         self._operand(fmts.activations), self._operand(wf), math.prod(batch))
            return self._mm(aq, bq)

    def _eager_attention(self, name: str, fmts: LayerFormats, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """An attention module's eager matmuls (HF ``eager_attention_forward``: ``q @ k^T``, then
        ``P @ V``): the same datapath as :meth:`_sdpa` (K and V stored per token in the
        ``kv_cache``/``v_cache`` formats, P and q in the activation format)."""
        call = self._attn_calls.get(name, 0)
        self._attn_calls[name] = call + 1
        if call > 1:
            raise HwsimError(f"{name}: a third activation x activation matmul in one forward of an attention "
                             "module; hwsim reads eager attention as q @ k^T then P @ V. Load the model with "
                             "attn_implementation='sdpa' to simulate it")
        batch = math.prod(torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        act = self._operand(fmts.activations)
        aq = _quantize(fmts.activations, a, -1)
        if call == 0:  # S = q @ k^T: b is K^T [.., head_dim, tokens]
            bq = self._kv_write(fmts.kv_cache, b.transpose(-2, -1)).transpose(-2, -1)
            self._record(name + ".qk", "attention", a.shape[-2], a.shape[-1], b.shape[-1], act,
                         self._operand(fmts.kv_cache), batch)
        else:  # O = P @ V: b is V [.., tokens, head_dim]
            bq = self._v_for_pv(name, fmts.v_cache, self._kv_write(fmts.v_cache, b), batch)
            self._record(name + ".pv", "attention", a.shape[-2], a.shape[-1], b.shape[-1], act,
                         self._operand(fmts.v_cache), batch)
        return self._mm(aq, bq)

    def _sdpa(self, q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
              enable_gqa=False) -> torch.Tensor:
        """``F.scaled_dot_product_attention`` as QK^T and PV GEMMs on quantized operands: K and V
        as the KV cache stores them (:meth:`_kv_write`), q and P in the activation format."""
        with self.inside():
            fmts = self._fmts_here()
            name = self._current()
            ks = self._ksort.get(name)
            if ks is not None:  # K-sort (arXiv 2403.20137): the same channel order for q and k
                q, k = permute_qk(q, k, ks)
            L, E, S, Ev = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
            # the cache: each token's K and V quantized once, along head_dim, as written
            if _row_local(fmts.kv_cache):
                kq = _quantize(fmts.kv_cache, k, -1)  # QK^T reduces over the head dimension
            else:
                kq = self._kv_write(fmts.kv_cache, k)
            v = self._kv_write(fmts.v_cache, v)
            if enable_gqa and k.shape[-3] != q.shape[-3]:
                rep = q.shape[-3] // k.shape[-3]
                kq = kq.repeat_interleave(rep, dim=-3)
                v = v.repeat_interleave(rep, dim=-3)
            batch = math.prod(torch.broadcast_shapes(q.shape[:-2], kq.shape[:-2]))
            scale = 1.0 / math.sqrt(E) if scale is None else scale
            qq = _quantize(fmts.activations, q, -1)
            s = self._mm(qq, kq.transpose(-2, -1)).mul_(scale)  # s is new: in-place ops are safe
            if is_causal:
                causal = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
                s = s.masked_fill_(~causal, float("-inf"))
            if attn_mask is not None:
                if attn_mask.dtype == torch.bool:
                    s = torch.where(attn_mask, s, torch.tensor(float("-inf"), dtype=s.dtype, device=s.device))
                else:
                    fits = attn_mask.dtype == s.dtype and torch.broadcast_shapes(s.shape, attn_mask.shape) == s.shape
                    s = s.add_(attn_mask) if fits else s + attn_mask
            # softmax in float64, rounded once: its row sum does not depend on the row's length
            # (prefill's masked row vs decode's shorter one) or on how torch vectorizes it
            p = torch.softmax(s.double(), dim=-1).to(torch.float32)
            # a fully masked row (a left-padded batch's pad queries) attends to nothing: 0, as
            # torch's SDPA returns, not the NaN of a softmax over all -inf
            p = p.masked_fill_(torch.isneginf(s).all(dim=-1, keepdim=True), 0.0).to(q.dtype)
            if dropout_p > 0.0:
                p = F.dropout(p, dropout_p)
            pq = _quantize(fmts.activations, p, -1)
            vq = self._v_for_pv(name, fmts.v_cache, v, batch)  # PV reduces over the key positions
            out = self._mm(pq, vq)
            act = self._operand(fmts.activations)
            self._record(name + ".qk", "attention", L, E, S, act, self._operand(fmts.kv_cache), batch)
            self._record(name + ".pv", "attention", L, S, Ev, act, self._operand(fmts.v_cache), batch)
            return out

    # ---- results ----------------------------------------------------------------------------
    def gemm_records(self) -> list[GemmRecord]:
        """Every distinct executed GEMM with its operands' format objects and its count."""
        return [GemmRecord(layer, kind, m, k, n, a, w, count)
                for (layer, kind, m, k, n, a, w), count in self.gemms.items()]

    def records(self) -> pd.DataFrame:
        """Every distinct executed GEMM: DataFrame ``layer, kind, m, k, n, a_format, w_format, count``."""
        return record_table(self.gemm_records())

    def summary(self) -> RunSummary:
        """The run's formats by name, its main operands and what ran unsimulated (plain data)."""
        kv = _name(self.kv_cache) if self.v_cache is self.kv_cache else f"{_name(self.kv_cache)}/{_name(self.v_cache)}"
        strategy = self._strategy(self._default)
        return RunSummary(weights=self._default.names[1], activations=_name(self.activations), kv_cache=kv,
                          accumulate=BLOCK_DOT if self.block_dot else _name(self.accumulate),
                          a=self._operand(self.activations), w=strategy.weight_operand,
                          unsupported=tuple(self.unsupported))

    def report(self, *, metric_name: str = "", metric: float | None = None,
               baseline_metric: float | None = None, metrics: Mapping[str, float] | None = None,
               model_name: str = "", notes: Iterable[str] = ()) -> Report:
        """Cost every recorded GEMM on the accelerator: a :class:`~hwsim.bridge.report.Report`."""
        return build_report(self.gemm_records(), self.summary(), self.accelerator, metric_name=metric_name,
                            metric=metric, baseline_metric=baseline_metric, metrics=dict(metrics or {}),
                            model_name=model_name, notes=list(notes))


def _row_local(fmt: NumberFormat | None) -> bool:
    """Whether ``fmt.quantize(x, axis=-1)`` rounds each row from that row alone: no per-tensor
    scale (its ``operand.scales``) and no stochastic rounding (whose random stream runs over the
    tensor)."""
    if fmt is None:
        return True
    op = fmt.operand
    return op.rounding != "stochastic" and all(sc.granularity != "tensor" for sc in op.scales)


def _is_attention(mod: nn.Module) -> bool:
    """An HF-style attention module: q_proj/k_proj (Llama family) or query/key (BERT) submodules."""
    return any(isinstance(getattr(mod, q, None), nn.Module) and isinstance(getattr(mod, k, None), nn.Module)
               for q, k in (("q_proj", "k_proj"), ("query", "key")))


class _Inside:
    """Context: torch calls made by the simulator itself bypass the GEMM mode."""

    __slots__ = ("sim",)

    def __init__(self, sim: Simulation):
        self.sim = sim

    def __enter__(self):
        self.sim._depth += 1

    def __exit__(self, *exc):
        self.sim._depth -= 1


def simulate(model: nn.Module, weights: str | NumberFormat | None = "mxfp4",
             activations: str | NumberFormat | None = "mxfp8_e4m3", accelerator: Any = "mx-systolic-32", *,
             kv_cache: str | NumberFormat | None = "activations", accumulate: str | NumberFormat | None = None,
             acc_block: int = 32, skip: Iterable[str] = (),
             overrides: Mapping[str, Mapping[str, Any] | None] | None = None,
             attention: bool = True, ksort: bool | str = False,
             v_cache: str | NumberFormat | None = "kv_cache", deterministic: bool = True,
             v_layout: str = "token", conv_layout: str = "channels", gemm: str = "mac",
             lut_table: str | None = None) -> Simulation:
    """Put ``model`` on the simulated datapath of ``accelerator`` (see the module docstring).

    The keywords become one :class:`SimConfig` (``Simulation(model, config)`` takes it directly).

    Args:
        model: any ``nn.Module`` (left unchanged; the simulation shares its parameters).
        weights, activations: catalog format names or :class:`Format` objects; ``None`` or
            ``"fp32"`` leaves that operand unquantized.
        accelerator: a catalog name (``hwsim.accelerators()``) or an ``hwsim.arch.Accelerator``.
        kv_cache: format of the KV cache (default: the activation format): each token's K and V
            are quantized once, when written, along head_dim (the PV GEMM reads the stored V).
        v_cache: format of V when it differs from K's (default: ``kv_cache``).
        v_layout: ``"token"`` (default: PV reads V as stored) or ``"sequence"`` (an accelerator
            that needs V blocked along the key positions re-quantizes the stored V; recorded as a
            ``requant`` pass; not causal in prefill).
        conv_layout: ``"channels"`` (default: Conv2d activations quantized once, blocked along
            the channels of each pixel; weights along C_in per tap) or ``"im2col"`` (both blocked
            along each im2col row).
        accumulate: accumulator format; ``None``/``"fp32"`` = exact products summed in float64 and
            rounded once to fp32 (``deterministic``), or torch's own fp32 matmul. Or the mode
            ``"block_dot"``: every Linear output is OCP MX v1.0 §6.2 DotGeneral of its encoded
            activation and weight rows (:func:`hwsim.numerics.dot.dot_general`: exact block dot
            products, each rounded to FP32, added in block order in an FP32 accumulator; NVFP4
            tensor scales after; the bias added last), bit for bit; both operands must be
            block-scaled with one block size along K (else :class:`HwsimError` naming the layer);
            skipped layers and activation x activation GEMMs (attention) accumulate as ``None``;
            Conv2d layers must be skipped.
        acc_block: products summed before each rounding into a narrower accumulator.
        deterministic: accumulate in float64 and round once, so that results do not depend on
            the thread count or the GEMM's shape (:func:`hwsim.bridge.gemm.matmul`); ``False``:
            torch's fp32 matmul (faster, last bits depend on BLAS threading).
        skip: fnmatch patterns of module names kept in fp32 (their GEMMs are recorded as fp32).
        overrides: ``{pattern: {"weights": ..., "activations": ..., "kv_cache": ...}}`` per
            module name (last match wins), or ``{pattern: None}`` to skip.
        attention: also simulate activation x activation products (attention).
        ksort: K-sort (Trukhanov & Soloveychik, arXiv 2403.20137): in every attention module
            (HF Llama family, BERT) q and k take the head-dim channel order that sorts W_k's rows
            by norm (RoPE pairs kept together), so a block-quantized K cache (``bfp12_b32``...)
            groups its outlier channels; q.k is unchanged (:mod:`hwsim.bridge.ksort`). ``True``
            uses the ``interleaved`` RoPE pair layout, or name it: ``"interleaved"``/``"halves"``.
        gemm: ``"mac"`` (default) or ``"lut"``: every simulated Linear runs as T-MAC's bit-plane
            table lookup (:mod:`hwsim.bridge.lut_gemm`; integer-grid weight formats only).
        lut_table: with ``gemm="lut"``: ``None`` (full-precision tables), ``"fp32"`` or ``"int8"``
            (T-MAC's table quantization).

    Raises:
        FormatError / AcceleratorNotFound: unknown names (the message lists the known ones).
    """
    config = SimConfig(weights=weights, activations=activations, accelerator=accelerator, kv_cache=kv_cache,
                       v_cache=v_cache, accumulate=accumulate, acc_block=acc_block, skip=tuple(skip),
                       overrides=dict(overrides or {}), attention=attention, ksort=ksort,
                       deterministic=deterministic, v_layout=v_layout, conv_layout=conv_layout, gemm=gemm,
                       lut_table=lut_table)
    return Simulation(model, config)
