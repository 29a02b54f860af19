"""Cost models: what a workload costs on a design (cycles, utilization, traffic, energy, area).

Pure functions of workload + accelerator, closed form and vectorized over numpy arrays of
shapes and design points. See docs/cost-models.md.

    >>> from hwsim.arch import SystolicArray
    >>> SystolicArray(rows=32, cols=32, dataflow="ws").gemm(m=256, k=256, n=256).cycles
    22399
"""

from __future__ import annotations

from hwsim.arch.accelerator import Accelerator, GemmCost, MemorySpec
from hwsim.arch.config import accelerator, accelerators, load_accelerators
from hwsim.arch.dataflow import Dataflow
from hwsim.arch.energy import EnergyTable, MacCost, OperandBits, mac_cost, mac_cost_from_gates, operand_bits
from hwsim.arch.systolic import SystolicArray, SystolicResult
from hwsim.arch.units import BitSerialUnit, LutUnit, SystolicUnit, TensorCoreUnit
from hwsim.arch.workload import Layer, Workload, attention, conv2d, gemm, workload, workloads

__all__ = [
    "Accelerator", "GemmCost", "MemorySpec", "accelerator", "accelerators", "load_accelerators",
    "Dataflow", "EnergyTable", "MacCost", "OperandBits", "mac_cost", "mac_cost_from_gates",
    "operand_bits", "SystolicArray", "SystolicResult", "SystolicUnit", "BitSerialUnit",
    "TensorCoreUnit", "LutUnit", "Layer", "Workload", "attention", "conv2d", "gemm", "workload", "workloads",
]
