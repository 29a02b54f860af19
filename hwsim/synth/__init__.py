"""RTL glue (issue 12): Verilog parameters from formats, cocotb simulation runs, yosys synthesis.

Layer: beside :mod:`hwsim.arch` (errors < numerics < catalog < arch, synth < bridge ...). Nothing
here is imported by ``import hwsim``, and importing ``hwsim.synth`` or any of its modules imports
neither cocotb nor a simulator: :mod:`hwsim.synth.sim` imports ``cocotb_tools`` inside the call
that runs a simulation.

- :mod:`hwsim.synth.tools`: where the Verilog sources are; which simulators / yosys are installed.
- :mod:`hwsim.synth.params`: element types -> Verilog parameters of the blocks in ``rtl/``.
- :mod:`hwsim.synth.sim`: build (cached per block, parameters, simulator and tool version) and run
  a cocotb bench from ``rtl/tb/<block>/``.
- :mod:`hwsim.synth.yosys`: generic-gate synthesis, cell breakdown and NAND2-equivalent count.
"""

from __future__ import annotations

__all__: list[str] = []
