"""Training on the simulated datapath: the three GEMMs of every layer in low precision.

Importing :mod:`hwsim.train` does not import torch; the submodules that need it import it
themselves (as :mod:`hwsim.bridge`). See docs/training.md.

- :mod:`hwsim.train.recipe`: recipes (``recipes.toml``): a format per (GEMM role, operand), gradient
  rounding, random Hadamard transform, tensor scaling, DFP integer datapath, master weights;
- :mod:`hwsim.train.autograd`: ``qmatmul``, the forward / dgrad / wgrad GEMMs as one autograd
  function, each operand quantized along its own GEMM's reduction axis;
- :mod:`hwsim.train.modules`: ``convert`` (new module tree: QLinear, QConv2d, QMatMul);
- :mod:`hwsim.train.dfp`: DFP tensors (shared exponent) and the INT16 x INT16 -> INT32 GEMM with or
  without overflow handling; :mod:`hwsim.train.hadamard`: the random Hadamard transform;
- :mod:`hwsim.train.models`: digits MLP/CNN and the tiny byte-level LM on the Lee corpus;
- :mod:`hwsim.train.loop`: ``train`` / ``compare``; :mod:`hwsim.train.cost`: step cost on an
  accelerator; :mod:`hwsim.train.report`: summary, curves, plot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hwsim.train.recipe import Recipe, recipe, recipe_names

if TYPE_CHECKING:
    from hwsim.train.loop import TrainResult, compare, train
    from hwsim.train.modules import convert

_LAZY = {"train": "hwsim.train.loop", "compare": "hwsim.train.loop", "TrainResult": "hwsim.train.loop",
         "convert": "hwsim.train.modules"}
__all__ = ["Recipe", "recipe", "recipe_names", "train", "compare", "TrainResult", "convert"]


def __getattr__(name: str) -> Any:  # PEP 562: torch is imported on first use of a lazy name
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hwsim.train' has no attribute {name!r}")
