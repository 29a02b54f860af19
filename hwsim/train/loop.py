"""The training loop: one recipe (:func:`train`) or several side by side (:func:`compare`).

Decisions (the same for every recipe, so the curves differ only by the datapath):

- the model is built under ``torch.manual_seed(seed)`` and converted with
  :func:`~hwsim.train.modules.convert`; its fp32 parameters are the master weights (Micikevicius et
  al., arXiv 1710.03740 §3.1); a recipe with ``master`` rounds them to that format after each step;
- batches come from a ``torch.Generator`` seeded with ``seed`` (same batches for every recipe);
- Adam (betas 0.9/0.95, no weight decay), linear warm-up over the first 5% of the steps, then
  cosine decay to 10% of the peak; no gradient clipping and no loss scaling (block and tensor scales
  carry the gradients' range);
- the validation loss runs the recipe's forward datapath (what the trained model would run on);
- ``threads`` sets numba's thread count (the quantization kernels) and torch's for the run and
  restores them afterwards. By default (``deterministic``) torch runs on one intra-op thread: the
  quantized GEMMs are fp32 matmuls (or float64 sums rounded once, ``accumulate="float64"``;
  :mod:`hwsim.train.autograd`), bias gradients float64 sums rounded once
  (:mod:`hwsim.train.modules`), and torch's own reductions (LayerNorm's weight gradient, the loss)
  sum in one order only on one thread; the quantization kernels are element- and block-wise at
  any thread count. So the loss curve of a recipe and seed is the same bit for bit on 1 and 2
  threads (checked by tests/train/test_loop.py);
- a non-finite loss stops the run (``diverged``), recorded rather than raised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from hwsim.train.autograd import GemmShape, TrainState
from hwsim.train.models import Task, task
from hwsim.train.modules import convert
from hwsim.train.recipe import Recipe, recipe

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TrainResult", "train", "compare", "threads", "lr_at"]


@contextmanager
def threads(n: int | None, torch_n: int | None = None) -> Iterator[None]:
    """numba's thread count set to ``n`` inside, torch's intra-op one to ``torch_n`` (default
    ``n``); ``None``: unchanged."""
    if not n:
        yield
        return
    import numba
    from numba.core.config import NUMBA_NUM_THREADS  # type: ignore[attr-defined]

    t0, n0 = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(torch_n or n)
    numba.set_num_threads(min(n, NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(t0)
        numba.set_num_threads(n0)


def lr_at(step: int, steps: int, peak: float) -> float:
    """Linear warm-up over 5% of ``steps``, then cosine decay to 10% of ``peak``."""
    warm = max(1, steps // 20)
    if step < warm:
        return peak * (step + 1) / warm
    frac = (step - warm) / max(1, steps - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


@dataclass
class TrainResult:
    """A finished run: loss per step, validation points, the GEMMs of one step, DFP overflows."""

    model: str
    recipe: str
    steps: int
    train_loss: list[float]
    val: list[dict[str, float]]  #: ``{"step": s, "val_loss": ..., ...}`` per evaluation
    gemms: list[GemmShape]
    overflows: dict[tuple[str, str], int]
    outputs: dict[tuple[str, str], int]
    tokens_per_step: int
    seconds: float
    diverged: bool = False
    params: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    module: Any = None  #: the trained (converted) module tree

    @property
    def total_overflows(self) -> int:
        return sum(self.overflows.values())

    @property
    def final_val(self) -> dict[str, float]:
        return self.val[-1] if self.val else {}

    def curves(self) -> pd.DataFrame:
        """One row per step: ``model, recipe, step, train_loss`` and ``val_*`` where evaluated."""
        import pandas as pd

        df = pd.DataFrame({"model": self.model, "recipe": self.recipe, "step": range(len(self.train_loss)),
                           "train_loss": self.train_loss})
        if self.val:
            v = pd.DataFrame(self.val)
            df = df.merge(v, on="step", how="left")
        return df


def train(model: str | Task, recipe_name: str | Recipe, *, steps: int = 200, seed: int = 0,
          n_threads: int | None = 1, eval_every: int = 0, deterministic: bool = True, accumulate: str = "fp32",
          progress: Callable[[int, int, float], Any] | None = None, **task_kw: Any) -> TrainResult:
    """Train ``model`` (a name of :data:`hwsim.train.models.MODELS` or a :class:`Task`) from scratch
    for ``steps`` steps on ``recipe_name``'s datapath.

    ``eval_every``: validation every that many steps (0: only after the last step).
    ``progress(step, steps, loss)`` is called after each step. ``n_threads``: the threads of the
    quantization kernels (numba). ``deterministic`` (default): torch runs the rest of the step
    (its GEMMs, LayerNorm, softmax, the loss, Adam) on one intra-op thread, so the same recipe and
    seed give the same bits at any ``n_threads`` (torch's CPU reductions, e.g. LayerNorm's
    weight-gradient sum over tokens, split the sum by thread and differ in the last bits between
    1 and 2 threads); ``deterministic=False`` gives torch ``n_threads`` too, the quantized fp32
    GEMMs included. ``accumulate="float64"`` sums the GEMMs in float64 (:class:`TrainState`).
    """
    rec = recipe(recipe_name) if isinstance(recipe_name, str) else recipe_name
    tk = task(model, **task_kw) if isinstance(model, str) else model
    with threads(n_threads, 1 if deterministic else None):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            base = tk.build()
        qmodel, state = convert(base, rec, TrainState(rec, deterministic=deterministic, accumulate=accumulate))
        params = sum(p.numel() for p in qmodel.parameters())
        opt = torch.optim.Adam(qmodel.parameters(), lr=tk.lr, betas=(0.9, 0.95))
        gen = torch.Generator().manual_seed(seed)
        losses: list[float] = []
        val: list[dict[str, float]] = []
        diverged = False
        extra: dict[str, Any] = {}
        if tk.pretrained:  # where a fine-tune starts: the pretrained model on the recipe's forward datapath
            qmodel.eval()
            state.step = -1  # its own step: the call counts (stochastic-rounding seeds) of step 0 stay as without it
            extra["val_before"] = tk.validation(qmodel)
        t0 = time.perf_counter()
        qmodel.train()
        for step in range(steps):
            state.step, state.recording = step, step == 0
            x, y = tk.batch(gen)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, steps, tk.lr)
            loss = tk.loss(qmodel, x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            value = float(loss.detach())
            losses.append(value)
            if not math.isfinite(value):
                diverged = True
                break
            opt.step()
            if rec.master is not None:
                with torch.no_grad():
                    for p in qmodel.parameters():
                        p.copy_(rec.master.quantize(p.detach(), axis=-1))
            state.recording = False
            if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
                qmodel.eval()
                val.append({"step": step, **tk.validation(qmodel)})
                qmodel.train()
            if progress is not None:
                progress(step + 1, steps, value)
        seconds = time.perf_counter() - t0
        if not diverged:
            qmodel.eval()
            val.append({"step": len(losses) - 1, **tk.validation(qmodel)})
    return TrainResult(tk.name, rec.name, steps, losses, val, list(state.gemms), dict(state.overflows),
                       dict(state.outputs), tk.tokens_per_step, seconds, diverged, params, extra, module=qmodel)


def compare(model: str, recipes: Sequence[str | Recipe], *, steps: int = 200, seed: int = 0,
            n_threads: int | None = 1, eval_every: int = 0, accumulate: str = "fp32",
            progress: Callable[[str, int, int, float], Any] | None = None, **task_kw: Any) -> list[TrainResult]:
    """:func:`train` for each recipe with the same model, seed, data and schedule."""
    tk = task(model, **task_kw)
    out = []
    for r in recipes:
        name = r if isinstance(r, str) else r.name
        cb = None if progress is None else (lambda s, n, v, _name=name: progress(_name, s, n, v))
        out.append(train(tk, r, steps=steps, seed=seed, n_threads=n_threads, eval_every=eval_every,
                         accumulate=accumulate, progress=cb))
    return out
