"""Built-in real models for the bridge, all offline (weights and data ship in packages).

``get(name)`` returns a :class:`ModelSpec`: how to load the fp32 model and how to evaluate any
(simulated or not) copy of it. Names: ``smollm2``, ``minilm``, ``digits-mlp``, ``digits-cnn``.
Importing this package imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hwsim.errors import HwsimError, unknown_name

__all__ = ["ModelSpec", "EvalResult", "get", "names"]


@dataclass(frozen=True)
class EvalResult:
    """``metric``: the headline number; ``metrics``: every number; ``outputs``: what a later run
    needs as ``reference`` for fidelity metrics (fp32 embeddings, fp32 next-token ids)."""

    metric: float
    metrics: dict[str, float]
    outputs: Any = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    metric_name: str
    higher_is_better: bool
    #: () -> nn.Module in eval mode, fp32 (cached where loading is slow)
    load: Callable[[], Any]
    #: (model, *, size="ci"|"full", progress=None, reference=None) -> EvalResult
    evaluate: Callable[..., EvalResult]
    skip: tuple[str, ...] = ()  #: module-name patterns kept fp32 by default
    notes: tuple[str, ...] = ()  #: said in every report of this model
    sizes: dict[str, str] = field(default_factory=dict)  #: evaluation size -> what it covers


_WHERE = {"smollm2": ("smollm2", "SPEC"), "minilm": ("minilm", "SPEC"),
          "digits-mlp": ("digits", "MLP_SPEC"), "digits-cnn": ("digits", "CNN_SPEC")}


def names() -> list[str]:
    return list(_WHERE)


def get(name: str) -> ModelSpec:
    """The built-in model ``name``.

    Raises:
        HwsimError: unknown name (lists the known ones).
    """
    if name not in names():
        raise HwsimError(unknown_name("model", name, names()))
    import importlib

    module, attr = _WHERE[name]
    return getattr(importlib.import_module(f"hwsim.bridge.models.{module}"), attr)
