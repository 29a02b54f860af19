"""PyTorch bridge: hwsim formats on torch tensors.

Importing :mod:`hwsim.bridge` does not import torch (STYLE P15: optional dependencies stay at the
edges); the submodules that need torch import it themselves. The torch codec of every
:class:`~hwsim.numerics.format.Format` lives below, in :mod:`hwsim.numerics.torch_codec`.

- :mod:`hwsim.bridge.datapath`: ``simulate`` / ``SimConfig`` / ``Simulation`` (module swap, GEMM records);
  :mod:`hwsim.bridge.gemm`: a Linear layer's GEMM strategy (:mod:`hwsim.bridge.llm_int8`: LLM.int8());
  :mod:`hwsim.bridge.records`: the plain data a run leaves (no torch);
  :mod:`hwsim.bridge.report`: records -> costs -> ``Report``; :mod:`hwsim.bridge.evaluate`: ``run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names are, for type checkers (no import at run time)
    from hwsim.bridge import models
    from hwsim.bridge.datapath import SimConfig, Simulation, simulate
    from hwsim.bridge.evaluate import compare, plot_compare, run
    from hwsim.bridge.report import Report

# the simulated datapath (issue #6); torch is imported on first use of any of these names
_LAZY = {"simulate": "hwsim.bridge.datapath", "Simulation": "hwsim.bridge.datapath",
         "SimConfig": "hwsim.bridge.datapath",
         "Report": "hwsim.bridge.report", "run": "hwsim.bridge.evaluate", "compare": "hwsim.bridge.evaluate",
         "plot_compare": "hwsim.bridge.evaluate", "models": "hwsim.bridge.models"}
__all__ = ["simulate", "Simulation", "SimConfig", "Report", "run", "compare", "plot_compare", "models"]


def __getattr__(name: str) -> Any:  # PEP 562: torch is imported on first use of a lazy name
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return module if name == "models" else getattr(module, name)
    raise AttributeError(f"module 'hwsim.bridge' has no attribute {name!r}")
