"""Switching activity of a block's input ports under real operands, for OpenSTA's power analysis.

The Debian OpenSTA cannot read a simulation's VCD or SAIF (:mod:`hwsim.synth.sta`), so the power
flow sets per-port-bit toggle rates with ``set_power_activity``. The rates are measured on the
exact bit stream a testbench would drive into the ports: ``n_cycles`` operand words, each packing
``port_width / element_bits`` element codes that hwsim's own encoder produced from N(0, 1) samples
(``hwsim.catalog.get_format(name).encode``; the bench of the same block drives these codes), one
new word per clock cycle, independent streams per port. For every port bit:
``activity`` = transitions per cycle (bit[t] != bit[t-1], averaged), ``duty`` = fraction of cycles
at 1. Ports the registry does not list get :data:`DEFAULT_ACTIVITY` (uniform random bits toggle
on half of the cycles), and the CSV's ``activity`` column says which case applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from hwsim.catalog import get_format
from hwsim.errors import HwsimError

__all__ = ["DEFAULT_ACTIVITY", "N_CYCLES", "input_ports", "port_words", "bit_activity", "operand_activity"]

#: transitions per cycle of an input bit no operand stream describes (uniform random bits)
DEFAULT_ACTIVITY = 0.5
#: operand words per port in the measured stream
N_CYCLES = 4096

_PORT = re.compile(r"^\s*input\s+(?:wire\s+)?(?:\[(\d+):(\d+)\]\s*)?([A-Za-z_]\w*)\s*;", re.M)


def input_ports(netlist: str) -> dict[str, int]:
    """Input port name -> width, from a structural Verilog netlist (``input [7:0] a;``)."""
    ports = {}
    for m in _PORT.finditer(netlist):
        hi, lo, name = m.group(1), m.group(2), m.group(3)
        ports[name] = 1 if hi is None else abs(int(hi) - int(lo)) + 1
    return ports


def port_words(kind: str, format_name: str, width: int, n_cycles: int, seed: int) -> np.ndarray:
    """``n_cycles`` words (uint64 bit rows, shape (n_cycles, width)) of a port driven by ``kind``
    (``codes`` / ``scales``) of ``format_name`` encoding N(0, 1) samples."""
    fmt = get_format(format_name)
    spec = fmt.operand
    block = next((s.group_size for s in spec.scales if s.granularity in ("block", "group")), None)
    if kind == "codes":
        bits = spec.element_bits
    elif kind == "scales":
        if not spec.scales:
            raise HwsimError(f"port driven by 'scales' of {format_name}, which has no block scale")
        bits = spec.scales[0].bits
    else:
        raise HwsimError(f"operand kind {kind!r} not one of ['codes', 'scales']")
    if width % bits:
        raise HwsimError(f"port of {width} bits does not hold a whole number of {bits}-bit {kind} of {format_name}")
    lanes = width // bits
    per_row = lanes if kind == "codes" else lanes * (block or 1)
    if block:
        per_row = -(-per_row // block) * block
    x = np.random.default_rng(seed).standard_normal((n_cycles, per_row)).astype(np.float32)
    enc = fmt.encode(x)
    raw = np.asarray(enc.codes if kind == "codes" else enc.scales).astype(np.uint64)[:, :lanes]
    if raw.shape[1] < lanes:
        raise HwsimError(f"{format_name}: {raw.shape[1]} {kind} per row, port needs {lanes}")
    shifts = np.arange(bits, dtype=np.uint64)
    # bit j of lane i is port bit i * bits + j (lane 0 in the least significant bits)
    per_bit = (raw[:, :, None] >> shifts[None, None, :]) & np.uint64(1)
    return per_bit.reshape(n_cycles, lanes * bits).astype(np.uint8)


def bit_activity(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(transitions per cycle, fraction of cycles at 1) of every column of a (cycles, bits) 0/1 array."""
    rows = np.asarray(rows, dtype=np.uint8)
    if rows.shape[0] < 2:
        raise HwsimError("need at least two cycles to measure toggles")
    toggles = (rows[1:] != rows[:-1]).mean(axis=0)
    return toggles, rows.mean(axis=0)


def operand_activity(netlist: str, operands: Mapping[str, str], format_name: str, *,
                     n_cycles: int = N_CYCLES, seed: int = 0) -> dict[str, tuple[float, float]]:
    """``{"a[3]": (activity, duty), ...}`` for every bit of the ports in ``operands``
    (port -> ``kind`` or ``kind:<format>``, the registry's ``[<block>.operands]``); a port's
    format defaults to ``format_name`` (the instance's)."""
    widths = input_ports(netlist)
    out: dict[str, tuple[float, float]] = {}
    for i, (port, spec) in enumerate(sorted(operands.items())):
        if port not in widths:
            raise HwsimError(f"operand port {port!r} is not an input of the netlist (inputs: {sorted(widths)})")
        kind, _, fmt = spec.partition(":")
        width = widths[port]
        act, duty = bit_activity(port_words(kind, fmt or format_name, width, n_cycles, seed + 1000 * i))
        for b in range(width):
            name = port if width == 1 else f"{port}[{b}]"
            out[name] = (float(act[b]), float(duty[b]))
    return out
