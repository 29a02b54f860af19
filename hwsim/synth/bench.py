"""Helpers the cocotb benches under ``rtl/tb/`` share (imported inside the simulator; no cocotb
import here): the ``bench.json`` record a bench leaves for :func:`hwsim.synth.sim.run_bench`, and
the lane-parallel dot-product driver of the MAC-lane benches."""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np

__all__ = ["record_bench", "lane_dots"]


def record_bench(test: str, record: dict[str, Any], path: str = "bench.json") -> None:
    """Add one cocotb test's record to ``bench.json`` (the tests of one run share the file)."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        data = {}
    data[test] = record
    with open(path, "w") as fh:
        json.dump(data, fh)


class MacLanes(Protocol):
    """A bench's wrapper of ``lanes`` MAC lanes: one operand column per ``step``, ``read`` the accumulators."""

    lanes: int

    async def step(self, a: np.ndarray, b: np.ndarray, clr: bool) -> None: ...

    def read(self) -> np.ndarray: ...


async def lane_dots(lanes: MacLanes, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RTL accumulators of the dot products ``a[i] . b[i]`` (rows), ``lanes.lanes`` rows at a time
    (a short last batch padded with zero rows, whose results are dropped)."""
    out = []
    for start in range(0, a.shape[0], lanes.lanes):
        ca, cb = a[start:start + lanes.lanes], b[start:start + lanes.lanes]
        pad = lanes.lanes - ca.shape[0]
        if pad:
            ca = np.concatenate([ca, np.zeros((pad, ca.shape[1]), ca.dtype)])
            cb = np.concatenate([cb, np.zeros((pad, cb.shape[1]), cb.dtype)])
        for k in range(ca.shape[1]):
            await lanes.step(ca[:, k], cb[:, k], clr=k == 0)
        out.append(lanes.read()[:lanes.lanes - pad])
    return np.concatenate(out)
