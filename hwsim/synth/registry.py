"""The block registry ``rtl/blocks.toml``: which RTL blocks the synthesis flow costs, as data.

Each block names its top module, Verilog sources, what one evaluation computes for the cost model
(``covers``: mul / mac / dot), its MACs per cycle, the ports driven by real operands in the power
analysis, and one instance per parameter set (a hwsim format + Verilog parameters). The file's
header documents every key; :func:`load_blocks` checks them all and raises one
:class:`~hwsim.errors.HwsimError` listing every problem (``blocks.toml:<block>.<key>: message``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsim.catalog import get_format
from hwsim.errors import HwsimError, unknown_name
from hwsim.synth.params import fp_mul_params, mx_dot_params, olive_lane_params
from hwsim.synth.tools import RTL_DIR

__all__ = ["COVERS", "OPERAND_KINDS", "PARAMETERS_FROM", "Instance", "Block", "BLOCKS_FILE", "load_blocks", "get_block"]

#: what one evaluation of a block computes (hwsim.arch adds the table terms a block does not cover)
COVERS = ("mul", "mac", "dot")
#: what drives an operand port in the power analysis (``kind`` or ``kind:<format>``)
OPERAND_KINDS = ("codes", "scales")
#: the registry file
BLOCKS_FILE = RTL_DIR / "blocks.toml"

_BLOCK_KEYS = {"top", "sources", "covers", "macs_per_cycle", "description", "clock", "static", "test",
               "operands", "instance", "parameters_from"}
_INSTANCE_KEYS = {"name", "format", "parameters", "macs_per_cycle"}


#: ``parameters_from`` names -> functions of the instance's format giving the Verilog parameters
#: (:mod:`hwsim.synth.params`: the RTL reads the same format definition as the emulator)
_DERIVERS: dict[str, Any] = {"fp_mul": fp_mul_params, "mx_dot": mx_dot_params, "olive_lane": olive_lane_params}
#: the values ``parameters_from`` takes
PARAMETERS_FROM = tuple(_DERIVERS)


@dataclass(frozen=True)
class Instance:
    """One parameter set of a block: a column of the table."""

    name: str
    format: str  #: hwsim format name it implements (its element / block size key the arch lookup)
    parameters: dict[str, int]
    macs_per_cycle: float | None = None  #: overrides the block's (a bit-serial PE with LANES lanes)


@dataclass(frozen=True)
class Block:
    """One row group of ``rtl/blocks.toml``."""

    name: str
    top: str
    sources: tuple[Path, ...]
    covers: str
    macs_per_cycle: float
    instances: tuple[Instance, ...]
    operands: dict[str, str] = field(default_factory=dict)  #: port -> "codes" | "scales" [":format"]
    clock: str | None = None
    static: tuple[str, ...] = ()
    description: str = ""
    test: str = ""  #: pytest file of the block's benches

    def macs(self, inst: Instance) -> float:
        """MACs per evaluation of ``inst`` (its own value, else the block's)."""
        return self.macs_per_cycle if inst.macs_per_cycle is None else inst.macs_per_cycle

    def instance(self, name: str) -> Instance:
        for inst in self.instances:
            if inst.name == name:
                return inst
        raise HwsimError(unknown_name(f"instance of block {self.name!r}", name, [i.name for i in self.instances]))


def _check_block(name: str, raw: Any, where: str, errors: list[str]) -> Block | None:
    n0 = len(errors)
    if not isinstance(raw, dict):
        errors.append(f"{where}: expected a table")
        return None
    for key in sorted(set(raw) - _BLOCK_KEYS):
        errors.append(f"{where}.{key}: unknown key (known: {sorted(_BLOCK_KEYS)})")
    for key in ("top", "sources", "covers", "macs_per_cycle", "instance"):
        if key not in raw:
            errors.append(f"{where}.{key}: missing (required)")
    sources = raw.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources) or not sources:
        errors.append(f"{where}.sources: expected a non-empty list of file names under rtl/")
        sources = []
    paths = tuple(RTL_DIR / s for s in sources)
    for p in paths:
        if not p.is_file():
            errors.append(f"{where}.sources: {p} does not exist")
    covers = raw.get("covers")
    if "covers" in raw and covers not in COVERS:
        errors.append(f"{where}.covers: {covers!r} not one of {list(COVERS)}")
    macs = raw.get("macs_per_cycle", 1)
    if isinstance(macs, bool) or not isinstance(macs, (int, float)) or not macs > 0:
        errors.append(f"{where}.macs_per_cycle: expected a number > 0, got {macs!r}")
    operands = raw.get("operands", {})
    if not isinstance(operands, dict):
        errors.append(f"{where}.operands: expected a table port = kind")
        operands = {}
    for port, kind in operands.items():
        if not isinstance(kind, str) or kind.partition(":")[0] not in OPERAND_KINDS:
            errors.append(f"{where}.operands.{port}: {kind!r} is not one of {list(OPERAND_KINDS)} "
                          f"(optionally ':<format>')")
    instances = []
    raw_inst = raw.get("instance", [])
    if not isinstance(raw_inst, list) or not raw_inst:
        errors.append(f"{where}.instance: expected one or more [[{name}.instance]] tables")
        raw_inst = []
    derive = raw.get("parameters_from")
    if derive is not None and derive not in PARAMETERS_FROM:
        errors.append(f"{where}.parameters_from: {derive!r} not one of {list(PARAMETERS_FROM)}")
        derive = None
    seen: set[str] = set()
    for i, inst in enumerate(raw_inst):
        iw = f"{where}.instance[{i}]"
        if not isinstance(inst, dict):
            errors.append(f"{iw}: expected a table")
            continue
        for key in sorted(set(inst) - _INSTANCE_KEYS):
            errors.append(f"{iw}.{key}: unknown key (known: {sorted(_INSTANCE_KEYS)})")
        iname, fmt, params = inst.get("name"), inst.get("format"), inst.get("parameters", {})
        if not isinstance(iname, str) or not iname:
            errors.append(f"{iw}.name: missing (required)")
        elif iname in seen:
            errors.append(f"{iw}.name: {iname!r} appears twice")
        if not isinstance(fmt, str) or not fmt:
            errors.append(f"{iw}.format: missing (a hwsim format name)")
        if not isinstance(params, dict) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                   for v in params.values()):
            errors.append(f"{iw}.parameters: expected a table of integer Verilog parameters")
            params = {}
        imacs = inst.get("macs_per_cycle")
        if imacs is not None and (isinstance(imacs, bool) or not isinstance(imacs, (int, float)) or not imacs > 0):
            errors.append(f"{iw}.macs_per_cycle: expected a number > 0, got {imacs!r}")
            imacs = None
        if isinstance(iname, str) and isinstance(fmt, str):
            seen.add(iname)
            merged = {str(k): int(v) for k, v in params.items()}
            if derive is not None:
                try:
                    merged = {**_DERIVERS[derive](get_format(fmt)), **merged}
                except HwsimError as exc:
                    errors.append(f"{iw}.format: parameters_from = {derive!r} cannot derive the parameters "
                                  f"of {fmt!r}: {exc}")
                    continue
            instances.append(Instance(iname, fmt, {k: int(v) for k, v in merged.items()},
                                      None if imacs is None else float(imacs)))
    for key in ("top", "clock", "description", "test"):
        if key in raw and not isinstance(raw[key], str):
            errors.append(f"{where}.{key}: expected a string")
    static = raw.get("static", [])
    if not isinstance(static, list) or not all(isinstance(s, str) for s in static):
        errors.append(f"{where}.static: expected a list of port names")
        static = []
    if len(errors) > n0:
        return None
    return Block(name=name, top=raw["top"], sources=paths, covers=str(covers), macs_per_cycle=float(macs),
                 instances=tuple(instances), operands=dict(operands), clock=raw.get("clock"),
                 static=tuple(static), description=raw.get("description", ""),
                 test=raw.get("test", f"tests/rtl/test_{name}.py"))


def load_blocks(path: str | Path | None = None) -> dict[str, Block]:
    """Every block of the registry (default ``rtl/blocks.toml``), by name, in file order.

    Raises:
        HwsimError: listing every problem of the file (unknown keys, missing sources, bad kinds...).
    """
    file = Path(path) if path is not None else BLOCKS_FILE
    try:
        with open(file, "rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise HwsimError(f"{file}: cannot read the block registry: {exc}") from None
    errors: list[str] = []
    blocks = {}
    for name, raw in doc.items():
        block = _check_block(name, raw, f"{file.name}:{name}", errors)
        if block is not None:
            blocks[name] = block
    if errors:
        raise HwsimError(f"{len(errors)} problem(s) in {file}:\n  " + "\n  ".join(errors))
    return blocks


def get_block(name: str, path: str | Path | None = None) -> Block:
    """One block of the registry (HwsimError naming the known blocks when absent)."""
    blocks = load_blocks(path)
    if name not in blocks:
        raise HwsimError(unknown_name("RTL block", name, blocks))
    return blocks[name]
