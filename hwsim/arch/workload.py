"""Workloads as lists of GEMMs: dense layers, convolutions (im2col) and attention matmuls.

Convolution -> GEMM follows SCALE-Sim's im2col view (arXiv 1811.02883 §III-A; its topology
CSVs): ``M = output pixels x batch``, ``K = R * S * C_in``, ``N = filters``; the output size is
``floor((H + 2 pad - R) / stride) + 1``.

Built-in layer tables (shapes only, so the CLI and studies need no torch):

* ``resnet18`` / ``resnet50``: He et al., "Deep Residual Learning", CVPR 2016, Table 1
  (224x224 input, basic / bottleneck blocks, projection shortcuts where the shape changes,
  torchvision's stride-on-3x3 variant for ResNet-50 ("v1.5")).
* ``bert-base``: Devlin et al., NAACL 2019: 12 layers, hidden 768, 12 heads, FFN 3072.
* ``llama-block``: one decoder block with Llama-2-7B dimensions (Touvron et al., 2023, Table
  1/§2: hidden 4096, 32 heads, SwiGLU FFN 11008).

Each :class:`Layer` has a ``count`` (how many identical layers it stands for, e.g. 12 BERT
layers or 12 attention heads); totals multiply by it.

From a model's configuration (:func:`from_hf_config`, no model run, no torch): the GEMMs one
forward pass of a Hugging Face ``llama`` (SmolLM2) or ``bert`` (MiniLM) model executes on
``batch`` sequences of ``seq`` tokens, named and shaped as ``hwsim.bridge`` records them (one row
per module, ``M = batch x seq`` for every Linear; attention ``Q K^T`` and ``P V`` per head,
``count = batch x query heads``, ``K``/``V`` shared across a grouped-query head group as in
transformers' ``repeat_kv``; BERT's pooler on the ``batch`` first tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.arch._util import ShapeError
from hwsim.errors import HwsimError, unknown_name

__all__ = ["Layer", "Workload", "gemm", "conv2d", "attention", "workload", "workloads", "from_hf_config",
           "ATTENTION_SHAPES"]


def _check_pos(where: str, **dims: Any) -> None:
    for key, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ShapeError(f"{where}: {key} must be a positive integer, got {value!r}")


@dataclass(frozen=True, slots=True)
class Layer:
    """One GEMM ``O[m, n] = A[m, k] @ W[k, n]``, repeated ``count`` times."""

    name: str
    m: int
    k: int
    n: int
    count: int = 1
    kind: str = "gemm"  #: gemm | conv | linear | attention (attention layers may take a KV format)
    #: the input row width the "bitmod" memory model charges DRAM bytes with, when not ``k``
    #: (the official BitMoD simulator's commit 58d7bdb reads a grouped-query K/V row for attention)
    a_k: int | None = None

    def __post_init__(self) -> None:
        _check_pos(f"layer {self.name!r}", m=self.m, k=self.k, n=self.n, count=self.count)
        if self.a_k is not None:
            _check_pos(f"layer {self.name!r}", a_k=self.a_k)

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n * self.count


@dataclass(frozen=True, slots=True)
class Workload:
    """A named model: an ordered tuple of layers."""

    name: str
    layers: tuple[Layer, ...]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def arrays(self) -> dict[str, np.ndarray]:
        """``m``, ``k``, ``n``, ``count`` as int64 arrays (one entry per layer)."""
        return {key: np.array([getattr(layer, key) for layer in self.layers], dtype=np.int64)
                for key in ("m", "k", "n", "count")}

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


def gemm(name: str, m: int, k: int, n: int, count: int = 1) -> Layer:
    """A dense layer / plain GEMM."""
    return Layer(name, m, k, n, count, "gemm")


def conv2d(name: str, *, h: int, w: int, c_in: int, c_out: int, r: int, s: int | None = None,
           stride: int = 1, pad: int | None = None, batch: int = 1, count: int = 1) -> Layer:
    """A 2-D convolution as an im2col GEMM (``pad`` defaults to ``r // 2``: "same" for odd r)."""
    s = r if s is None else s
    pad = r // 2 if pad is None else pad
    _check_pos(f"conv {name!r}", h=h, w=w, c_in=c_in, c_out=c_out, r=r, s=s, stride=stride, batch=batch)
    e = (h + 2 * pad - r) // stride + 1
    f = (w + 2 * pad - s) // stride + 1
    if e < 1 or f < 1:
        raise ShapeError(f"conv {name!r}: {r}x{s} filter does not fit a {h}x{w} input with pad {pad}")
    return Layer(name, e * f * batch, r * s * c_in, c_out, count, "conv")


def attention(prefix: str, *, seq: int, hidden: int, heads: int, kv_seq: int | None = None,
              batch: int = 1, count: int = 1) -> list[Layer]:
    """The two matmuls of multi-head attention: scores ``Q K^T`` and context ``P V`` per head."""
    kv = seq if kv_seq is None else kv_seq
    _check_pos(f"attention {prefix!r}", seq=seq, hidden=hidden, heads=heads, kv_seq=kv, batch=batch)
    if hidden % heads:
        raise ShapeError(f"attention {prefix!r}: hidden={hidden} not divisible by heads={heads}")
    d = hidden // heads
    return [Layer(f"{prefix}.qk", seq, d, kv, count * heads * batch, "attention"),
            Layer(f"{prefix}.pv", seq, kv, d, count * heads * batch, "attention")]


def _resnet18(batch: int = 1) -> list[Layer]:
    layers = [conv2d("conv1", h=224, w=224, c_in=3, c_out=64, r=7, stride=2, pad=3, batch=batch)]
    size, c_in = 56, 64  # after the 3x3/2 max pool
    for stage, c in enumerate((64, 128, 256, 512), start=1):
        stride = 1 if stage == 1 else 2
        out = size // stride
        layers.append(conv2d(f"layer{stage}.0.conv1", h=size, w=size, c_in=c_in, c_out=c, r=3,
                             stride=stride, batch=batch))
        layers.append(conv2d(f"layer{stage}.0.conv2", h=out, w=out, c_in=c, c_out=c, r=3, batch=batch))
        if stride != 1 or c_in != c:
            layers.append(conv2d(f"layer{stage}.0.downsample", h=size, w=size, c_in=c_in, c_out=c,
                                 r=1, stride=stride, pad=0, batch=batch))
        layers.append(conv2d(f"layer{stage}.1.conv", h=out, w=out, c_in=c, c_out=c, r=3,
                             batch=batch, count=2))
        size, c_in = out, c
    layers.append(gemm("fc", batch, 512, 1000))
    return layers


def _resnet50(batch: int = 1) -> list[Layer]:
    layers = [conv2d("conv1", h=224, w=224, c_in=3, c_out=64, r=7, stride=2, pad=3, batch=batch)]
    size, c_in = 56, 64
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        stride = 1 if stage == 1 else 2
        out = size // stride
        c_out = 4 * width
        p = f"layer{stage}"
        layers += [
            conv2d(f"{p}.0.conv1", h=size, w=size, c_in=c_in, c_out=width, r=1, pad=0, batch=batch),
            conv2d(f"{p}.0.conv2", h=size, w=size, c_in=width, c_out=width, r=3, stride=stride, batch=batch),
            conv2d(f"{p}.0.conv3", h=out, w=out, c_in=width, c_out=c_out, r=1, pad=0, batch=batch),
            conv2d(f"{p}.0.downsample", h=size, w=size, c_in=c_in, c_out=c_out, r=1, stride=stride,
                   pad=0, batch=batch),
            conv2d(f"{p}.n.conv1", h=out, w=out, c_in=c_out, c_out=width, r=1, pad=0, batch=batch,
                   count=blocks - 1),
            conv2d(f"{p}.n.conv2", h=out, w=out, c_in=width, c_out=width, r=3, batch=batch,
                   count=blocks - 1),
            conv2d(f"{p}.n.conv3", h=out, w=out, c_in=width, c_out=c_out, r=1, pad=0, batch=batch,
                   count=blocks - 1),
        ]
        size, c_in = out, c_out
    layers.append(gemm("fc", batch, 2048, 1000))
    return layers


def _bert_base(seq: int = 128, batch: int = 1) -> list[Layer]:
    t, h, L = seq * batch, 768, 12
    return [gemm("qkv", t, h, 3 * h, L), *attention("attn", seq=seq, hidden=h, heads=12, batch=batch, count=L),
            gemm("attn.out", t, h, h, L), gemm("ffn.up", t, h, 4 * h, L), gemm("ffn.down", t, 4 * h, h, L)]


def _llama_block(seq: int = 512, batch: int = 1) -> list[Layer]:
    t, h, ffn = seq * batch, 4096, 11008
    return [gemm("qkv", t, h, 3 * h), *attention("attn", seq=seq, hidden=h, heads=32, batch=batch),
            gemm("attn.out", t, h, h), gemm("mlp.gate_up", t, h, 2 * ffn), gemm("mlp.down", t, ffn, h)]


_BUILTIN: dict[str, Callable[..., list[Layer]]] = {
    "resnet18": _resnet18, "resnet50": _resnet50, "bert-base": _bert_base, "llama-block": _llama_block,
}


class WorkloadError(HwsimError, ValueError):
    """Unknown workload name or bad workload parameter."""


def workloads() -> list[str]:
    """Names of the built-in workloads."""
    return sorted(_BUILTIN)


def workload(name: str | Workload | Iterable[Layer], **params: int) -> Workload:
    """A built-in workload (``params``: ``batch``, and ``seq`` for transformers), or a list of layers.

    Raises:
        WorkloadError: unknown name or parameter.
    """
    if isinstance(name, Workload):
        return name
    if not isinstance(name, str):
        layers = tuple(name)
        if not all(isinstance(x, Layer) for x in layers):
            raise WorkloadError("a workload is a name or an iterable of hwsim.arch.Layer")
        return Workload("custom", layers)
    if name not in _BUILTIN:
        raise WorkloadError(unknown_name("workload", name, _BUILTIN))
    try:
        return Workload(name, tuple(_BUILTIN[name](**params)))
    except TypeError:
        raise WorkloadError(f"workload {name!r}: unknown parameter in {sorted(params)}") from None


def _cfg_int(config: Mapping[str, Any], *keys: str) -> int:
    for key in keys:
        value = config.get(key)
        if value is not None:
            return int(value)
    raise WorkloadError(f"model config lacks {keys[0]!r}")


#: how attention layers are counted: one GEMM pair per query head (``"per_head"``, transformers'
#: ``repeat_kv`` view) or per K/V head (``"per_kv_head"``: the ``heads / kv_heads`` query heads of a
#: grouped-query group stacked as rows against their shared K/V, ``M = group x seq``; the official
#: BitMoD simulator's shapes at commit e445a5f, ``bitmod_sim/pe_array.py: _init_model_profiler``)
ATTENTION_SHAPES = ("per_head", "per_kv_head")


@dataclass(frozen=True, slots=True)
class _Attn:
    """The attention geometry of one forward pass: queries ``seq``, keys/values ``kv_seq``."""

    seq: int
    kv_seq: int
    head_dim: int
    heads: int
    kv_heads: int
    batch: int
    shape: str


def _attn_pair(prefix: str, g: _Attn) -> list[Layer]:
    if g.shape == "per_kv_head":
        rows, count = g.heads // g.kv_heads * g.seq, g.batch * g.kv_heads
    else:
        rows, count = g.seq, g.batch * g.heads
    return [Layer(f"{prefix}.qk", rows, g.head_dim, g.kv_seq, count, "attention"),
            Layer(f"{prefix}.pv", rows, g.kv_seq, g.head_dim, count, "attention")]


def _geometry(c: Mapping[str, Any], seq: int, batch: int, kv_seq: int | None, shape: str) -> _Attn:
    h, heads = _cfg_int(c, "hidden_size"), _cfg_int(c, "num_attention_heads")
    kv_heads = _cfg_int(c, "num_key_value_heads", "num_attention_heads")
    d = _cfg_int(c, "head_dim") if c.get("head_dim") else h // heads
    if heads % kv_heads:
        raise WorkloadError(f"num_attention_heads={heads} is not a multiple of num_key_value_heads={kv_heads}")
    return _Attn(seq, seq if kv_seq is None else kv_seq, d, heads, kv_heads, batch, shape)


def _llama_layers(c: Mapping[str, Any], g: _Attn) -> list[Layer]:
    t, h = g.seq * g.batch, _cfg_int(c, "hidden_size")
    heads, kv_heads, d = g.heads, g.kv_heads, g.head_dim
    ffn, vocab = _cfg_int(c, "intermediate_size"), _cfg_int(c, "vocab_size")
    layers = []
    for i in range(_cfg_int(c, "num_hidden_layers")):
        p = f"model.layers.{i}"
        layers += [Layer(f"{p}.self_attn.q_proj", t, h, heads * d, 1, "linear"),
                   Layer(f"{p}.self_attn.k_proj", t, h, kv_heads * d, 1, "linear"),
                   Layer(f"{p}.self_attn.v_proj", t, h, kv_heads * d, 1, "linear"),
                   *_attn_pair(f"{p}.self_attn", g),
                   Layer(f"{p}.self_attn.o_proj", t, heads * d, h, 1, "linear"),
                   Layer(f"{p}.mlp.gate_proj", t, h, ffn, 1, "linear"),
                   Layer(f"{p}.mlp.up_proj", t, h, ffn, 1, "linear"),
                   Layer(f"{p}.mlp.down_proj", t, ffn, h, 1, "linear")]
    return [*layers, Layer("lm_head", t, h, vocab, 1, "linear")]


def _opt_layers(c: Mapping[str, Any], g: _Attn) -> list[Layer]:
    """transformers' ``OPTForCausalLM`` (Zhang et al., 2022): per decoder layer k/v/q/out
    projections and ``fc1``/``fc2`` (``ffn_dim``), then ``lm_head`` (``project_in``/``project_out``
    only when ``word_embed_proj_dim`` differs from ``hidden_size``)."""
    t, h = g.seq * g.batch, _cfg_int(c, "hidden_size")
    ffn, vocab = _cfg_int(c, "ffn_dim"), _cfg_int(c, "vocab_size")
    proj = _cfg_int(c, "word_embed_proj_dim", "hidden_size")
    layers = [Layer("model.decoder.project_in", t, proj, h, 1, "linear")] if proj != h else []
    for i in range(_cfg_int(c, "num_hidden_layers")):
        p = f"model.decoder.layers.{i}"
        layers += [Layer(f"{p}.self_attn.k_proj", t, h, h, 1, "linear"),
                   Layer(f"{p}.self_attn.v_proj", t, h, h, 1, "linear"),
                   Layer(f"{p}.self_attn.q_proj", t, h, h, 1, "linear"),
                   *_attn_pair(f"{p}.self_attn", g),
                   Layer(f"{p}.self_attn.out_proj", t, h, h, 1, "linear"),
                   Layer(f"{p}.fc1", t, h, ffn, 1, "linear"),
                   Layer(f"{p}.fc2", t, ffn, h, 1, "linear")]
    if proj != h:
        layers.append(Layer("model.decoder.project_out", t, h, proj, 1, "linear"))
    return [*layers, Layer("lm_head", t, proj, vocab, 1, "linear")]


def _phi_layers(c: Mapping[str, Any], g: _Attn) -> list[Layer]:
    """transformers' ``PhiForCausalLM`` (Phi-2): per layer q/k/v projections, ``dense``, and the
    MLP's ``fc1``/``fc2``, then ``lm_head``."""
    t, h = g.seq * g.batch, _cfg_int(c, "hidden_size")
    heads, kv_heads, d = g.heads, g.kv_heads, g.head_dim
    ffn, vocab = _cfg_int(c, "intermediate_size"), _cfg_int(c, "vocab_size")
    layers = []
    for i in range(_cfg_int(c, "num_hidden_layers")):
        p = f"model.layers.{i}"
        layers += [Layer(f"{p}.self_attn.q_proj", t, h, heads * d, 1, "linear"),
                   Layer(f"{p}.self_attn.k_proj", t, h, kv_heads * d, 1, "linear"),
                   Layer(f"{p}.self_attn.v_proj", t, h, kv_heads * d, 1, "linear"),
                   *_attn_pair(f"{p}.self_attn", g),
                   Layer(f"{p}.self_attn.dense", t, heads * d, h, 1, "linear"),
                   Layer(f"{p}.mlp.fc1", t, h, ffn, 1, "linear"),
                   Layer(f"{p}.mlp.fc2", t, ffn, h, 1, "linear")]
    return [*layers, Layer("lm_head", t, h, vocab, 1, "linear")]


def _bert_layers(c: Mapping[str, Any], seq: int, batch: int, pooler: bool) -> list[Layer]:
    t, h = seq * batch, _cfg_int(c, "hidden_size")
    heads, ffn = _cfg_int(c, "num_attention_heads"), _cfg_int(c, "intermediate_size")
    layers = []
    for i in range(_cfg_int(c, "num_hidden_layers")):
        p = f"encoder.layer.{i}"
        layers += [Layer(f"{p}.attention.self.query", t, h, h, 1, "linear"),
                   Layer(f"{p}.attention.self.key", t, h, h, 1, "linear"),
                   Layer(f"{p}.attention.self.value", t, h, h, 1, "linear"),
                   *_attn_pair(f"{p}.attention.self", _Attn(seq, seq, h // heads, heads, heads, batch, "per_head")),
                   Layer(f"{p}.attention.output.dense", t, h, h, 1, "linear"),
                   Layer(f"{p}.intermediate.dense", t, h, ffn, 1, "linear"),
                   Layer(f"{p}.output.dense", t, ffn, h, 1, "linear")]
    return layers + ([Layer("pooler.dense", batch, h, h, 1, "linear")] if pooler else [])


_DECODERS: dict[str, Callable[[Mapping[str, Any], _Attn], list[Layer]]] = {
    "llama": _llama_layers, "opt": _opt_layers, "phi": _phi_layers}


def from_hf_config(config: Mapping[str, Any], *, seq: int = 128, batch: int = 1, name: str | None = None,
                   pooler: bool = True, kv_seq: int | None = None, attention: str = "per_head") -> Workload:
    """The GEMMs of one forward pass of a Hugging Face model, from its ``config.json`` as a dict
    (``model_type`` ``llama`` (Llama, Yi, SmolLM2), ``opt``, ``phi`` or ``bert``; ``pooler``: BERT's
    pooler layer, present in ``BertModel`` by default). With the defaults it matches the list
    ``hwsim.bridge`` records for a forward of a ``[batch, seq]`` input (names, kinds, shapes, counts).

    Decoders only: ``kv_seq`` (default ``seq``) is the number of keys/values attention reads, e.g.
    ``seq=1, kv_seq=256`` for one decode step on a 256-token context; ``attention`` is one of
    :data:`ATTENTION_SHAPES` (``"per_kv_head"`` shares each K/V head across its query group).

    Raises:
        WorkloadError: another model type, an unknown ``attention``, or a config without a needed field.
        ShapeError: non-positive ``seq``/``batch``/``kv_seq``.
    """
    _check_pos("model workload", seq=seq, batch=batch)
    if kv_seq is not None:
        _check_pos("model workload", kv_seq=kv_seq)
    if attention not in ATTENTION_SHAPES:
        raise WorkloadError(unknown_name("attention shape", attention, ATTENTION_SHAPES))
    kind = config.get("model_type")
    if kind in _DECODERS:
        layers = _DECODERS[kind](config, _geometry(config, seq, batch, kv_seq, attention))
    elif kind == "bert":
        layers = _bert_layers(config, seq, batch, pooler)
    else:
        raise WorkloadError(f"model_type {kind!r}: workloads from a config know 'llama' (Llama, Yi, SmolLM2), "
                            f"'opt', 'phi' and 'bert' (MiniLM)")
    return Workload(name or str(config.get("_name_or_path") or kind), tuple(layers))
