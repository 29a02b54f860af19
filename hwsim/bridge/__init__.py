"""PyTorch bridge: hwsim formats on torch tensors.

Importing :mod:`hwsim.bridge` does not import torch (STYLE P15: optional dependencies stay at the
edges); the submodules that need torch import it themselves:

- :mod:`hwsim.bridge.torch_numerics`: ``encode`` / ``decode`` / ``quantize`` of any
  :class:`~hwsim.numerics.format.Format` on a torch tensor, on the tensor's own device, bit-identical
  to the numpy path (docs/numerics.md). ``Format.encode/decode/quantize`` dispatch torch tensors here.
- :mod:`hwsim.bridge.datapath`: ``simulate`` / ``SimConfig`` / ``Simulation`` (module swap, GEMM records);
  :mod:`hwsim.bridge.gemm`: a Linear layer's GEMM strategy (:mod:`hwsim.bridge.llm_int8`: LLM.int8());
  :mod:`hwsim.bridge.records`: the plain data a run leaves (no torch);
  :mod:`hwsim.bridge.report`: records -> costs -> ``Report``; :mod:`hwsim.bridge.evaluate`: ``run``.
"""

from __future__ import annotations

__all__ = ["torch_numerics"]
# the simulated datapath (issue #6); torch is imported on first use of any of these names
_LAZY = {"simulate": "hwsim.bridge.datapath", "Simulation": "hwsim.bridge.datapath",
         "SimConfig": "hwsim.bridge.datapath",
         "Report": "hwsim.bridge.report", "run": "hwsim.bridge.evaluate", "compare": "hwsim.bridge.evaluate",
         "plot_compare": "hwsim.bridge.evaluate", "models": "hwsim.bridge.models"}
__all__ += list(_LAZY)


def __getattr__(name: str):  # PEP 562: ``hwsim.bridge.torch_numerics`` imports torch on first use
    if name == "torch_numerics":
        import importlib

        return importlib.import_module("hwsim.bridge.torch_numerics")
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return module if name == "models" else getattr(module, name)
    raise AttributeError(f"module 'hwsim.bridge' has no attribute {name!r}")
