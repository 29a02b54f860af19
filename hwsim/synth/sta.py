"""Static timing and power of a mapped netlist with OpenSTA (Debian ``opensta``, the 2019 snapshot 2.0.17).

What that OpenSTA offers (checked): ``read_liberty``, ``read_verilog``, ``link_design``,
``create_clock``, ``set_input_delay``/``set_output_delay``, ``set_driving_cell``, ``set_load``,
``report_checks``, ``report_worst_slack`` (``sta::worst_slack -max`` in Tcl),
``set_power_activity [-global] [-input] [-input_ports ports] [-pins pins] -activity a -duty d``
and ``report_power``. It has no ``read_vcd`` and no ``read_saif``, so simulated switching cannot
be read from a waveform: the input ports' toggle rates are measured from the operand stream
(:mod:`hwsim.synth.activity`) and set with ``set_power_activity``; OpenSTA propagates them through
the netlist probabilistically (its activity propagation, not a gate-level simulation). Per-pin
activity cannot be fed in either (checked): in this snapshot ``set_power_activity -pins`` fails
(its Tcl calls an undefined ``get_pins_error``), and ``sta::set_power_pin_activity`` called
directly on cell input or output pins leaves ``report_power`` unchanged. So a gate-level simulation
of internal nets (tried: Icarus with the liberty's Verilog cell models) would have nowhere to go.
``-activity`` counts transitions per clock period (checked: doubling it, or halving the period,
doubles the dynamic power).

Constraints (one flow for every block): inputs are driven by the liberty's ``DFFPOSX1`` Q pin and
every output is loaded with one ``DFFPOSX1`` D pin, i.e. the block sits between registers; input
and output delays are 0 against the clock, which is the block's ``clock`` port or, for a
combinational block, a virtual clock. The critical path is ``period - worst slack`` (input to output
for a combinational block, register to register with setup for a sequential one); power is
reported with the clock at exactly that period (the block's maximum clock), and the energy of one
cycle is ``power x period``.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hwsim.errors import HwsimError
from hwsim.synth.activity import input_ports
from hwsim.synth.tools import find_tool, missing_tool, tool_env

__all__ = ["StaResult", "analyze", "DRIVER_CELL", "LOAD_PIN"]

#: cell whose output drives every input port / whose input loads every output port
DRIVER_CELL = ("DFFPOSX1", "Q")
LOAD_PIN = ("DFFPOSX1", "D")
_SLACK_PERIOD_NS = 1000.0  # the clock of the timing pass: long enough for any block here


@dataclass(frozen=True)
class StaResult:
    """OpenSTA on one netlist."""

    critical_path_ns: float
    power_w: float  #: total power (internal + switching + leakage) with the clock at the critical path
    leakage_w: float
    report: str  #: the worst path (``report_checks``) and the power table, as printed

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.critical_path_ns

    @property
    def energy_pj_per_cycle(self) -> float:
        return self.power_w * self.critical_path_ns * 1e3


def _port_ref(name: str) -> str:
    return "{" + name + "}"


def _script(netlist: Path, top: str, liberty: Path, clock: str | None, activity: Mapping[str, tuple[float, float]],
            default_activity: float, static: Sequence[str]) -> str:
    lib = liberty.stem
    clk_src = f"[get_ports {_port_ref(clock)}]" if clock else ""
    # this OpenSTA (Debian 2.0.17) has no remove_from_collection: name the data inputs explicitly
    names = [p for p in input_ports(netlist.read_text()) if p != clock]
    data_in = ("[get_ports {" + " ".join(names) + "}]") if clock else "[all_inputs]"
    lines = [
        f"read_liberty {liberty}",
        f"read_verilog {netlist}",
        f"link_design {top}",
        f"create_clock -name hwsim_clk -period {_SLACK_PERIOD_NS} {clk_src}",
        f"set data_inputs {data_in}",
        "set_input_delay 0 -clock hwsim_clk $data_inputs",
        "set_output_delay 0 -clock hwsim_clk [all_outputs]",
        f"set_driving_cell -lib_cell {DRIVER_CELL[0]} -pin {DRIVER_CELL[1]} $data_inputs",
        f"set_load [get_property [get_lib_pins {lib}/{LOAD_PIN[0]}/{LOAD_PIN[1]}] capacitance] [all_outputs]",
        "report_checks -path_delay max -digits 4",
        f"set crit [expr {{{_SLACK_PERIOD_NS} - [sta::worst_slack -max]}}]",
        'puts "hwsim_critical_path_ns $crit"',
        f"create_clock -name hwsim_clk -period $crit {clk_src}",
        f"set_power_activity -input -activity {default_activity} -duty 0.5",
    ]
    for port in static:
        lines.append(f"set_power_activity -input_ports [get_ports {_port_ref(port)}] -activity 0 -duty 0")
    for bit, (act, duty) in sorted(activity.items()):
        lines.append(f"set_power_activity -input_ports [get_ports {_port_ref(bit)}] "
                     f"-activity {act:.6g} -duty {duty:.6g}")
    lines += ["report_power -digits 8", "exit"]
    return "\n".join(lines) + "\n"


_TOTAL = re.compile(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)")
_CRIT = re.compile(r"^hwsim_critical_path_ns\s+(\S+)")


def analyze(netlist: str, top: str, liberty: str | Path, *, clock: str | None = None,
            activity: Mapping[str, tuple[float, float]] | None = None, default_activity: float = 0.5,
            static: Sequence[str] = ()) -> StaResult:
    """Critical path and power at the maximum clock of a mapped ``netlist`` (Verilog text).

    ``activity`` maps input port bits (``a[3]``, or ``a`` for a one-bit port) to (transitions per
    cycle, fraction of time at 1); other data inputs get ``default_activity`` with duty 0.5, the
    ``static`` ports none. Raises HwsimError when OpenSTA is missing or fails.
    """
    missing = missing_tool("opensta")
    if missing:
        raise HwsimError(missing)
    exe = find_tool("sta")
    assert exe is not None  # missing_tool checked it
    with tempfile.TemporaryDirectory(prefix="hwsim-sta-") as tmp:
        net = Path(tmp) / "netlist.v"
        net.write_text(netlist)
        tcl = Path(tmp) / "run.tcl"
        tcl.write_text(_script(net, top, Path(liberty), clock, activity or {}, default_activity, static))
        out = subprocess.run([exe, "-no_splash", "-no_init", "-exit", str(tcl)], capture_output=True, text=True,
                             env=tool_env(), timeout=600, cwd=tmp)
    text = out.stdout + out.stderr
    crit = total = leak = None
    for line in text.splitlines():
        if m := _CRIT.match(line):
            crit = float(m.group(1))
        if m := _TOTAL.match(line):
            total, leak = float(m.group(4)), float(m.group(3))
    if out.returncode != 0 or crit is None or total is None or leak is None or "Error" in text:
        errors = [ln for ln in text.splitlines() if "Error" in ln]
        raise HwsimError(f"OpenSTA failed on {top} (exit {out.returncode}):\n" + "\n".join(errors[:10])
                         + f"\n... last lines:\n{text[-1500:]}")
    if not crit > 0:
        raise HwsimError(f"OpenSTA found no timed path in {top} (critical path {crit} ns):\n{text[-2000:]}")
    report = text[text.find("Startpoint"):] if "Startpoint" in text else text
    return StaResult(critical_path_ns=crit, power_w=total, leakage_w=leak, report=report.strip())
