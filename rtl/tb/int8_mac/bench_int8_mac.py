"""cocotb bench of rtl/int8_mac.v: INT8 x INT8 products accumulated exactly in 32 bits.

Operands are hwsim's integer codes: every (a, b) pair of 8-bit two's complement codes (65,536, the
lane's whole input space including -128) as single products, and dot products of
``hwsim.format("int8_channel")``-encoded N(0,1) weights (with injected outliers) against
``hwsim.format("int8_tensor")``-encoded activations, plus extreme-value dot products (all -128 x -128,
-128 x 127) that come close to the accumulator's range. The reference is the exact integer dot
product (Python / numpy int64). Environment: HWSIM_LANES, HWSIM_DOTS, HWSIM_SEED. Writes bench.json.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import Timer

import hwsim
from hwsim.synth.bench import lane_dots

A_BITS = B_BITS = 8
ACC_BITS = 32


class Lanes:
    """Drives int8_mac_lanes: one clock step feeds every lane one operand pair."""

    def __init__(self, dut: Any, lanes: int) -> None:
        self.dut, self.lanes = dut, lanes
        dut.clk.value, dut.en.value, dut.clr.value = 0, 0, 0

    async def step(self, a: np.ndarray, b: np.ndarray, clr: bool) -> None:
        d = self.dut
        d.a.value = sum((int(v) & 0xFF) << (A_BITS * i) for i, v in enumerate(a))
        d.b.value = sum((int(v) & 0xFF) << (B_BITS * i) for i, v in enumerate(b))
        d.clr.value, d.en.value, d.clk.value = int(clr), 1, 0
        await Timer(1, unit="ns")
        d.clk.value = 1
        await Timer(1, unit="ns")

    def read(self) -> np.ndarray:
        word = self.dut.acc.value.to_unsigned()
        acc = [(word >> (ACC_BITS * i)) & 0xFFFFFFFF for i in range(self.lanes)]
        return np.array([v - (1 << ACC_BITS) if v >> (ACC_BITS - 1) else v for v in acc], dtype=np.int64)


@cocotb.test()
async def every_operand_pair_and_dots(dut) -> None:  # noqa: ANN001 (cocotb's handle type)
    lanes = Lanes(dut, int(os.environ.get("HWSIM_LANES", "32")))
    rng = np.random.default_rng(int(os.environ.get("HWSIM_SEED", "8")))
    n_dots = int(os.environ.get("HWSIM_DOTS", "256"))
    t0 = time.perf_counter()
    codes = np.arange(-128, 128, dtype=np.int64)
    a1, b1 = np.repeat(codes, 256)[:, None], np.tile(codes, 256)[:, None]
    w = rng.standard_normal((n_dots, 128)).astype(np.float32)
    hit = rng.random(w.shape) < 0.02
    w[hit] *= 20.0
    wa = np.asarray(hwsim.format("int8_channel").encode(w).codes).astype(np.int8).astype(np.int64)
    x = rng.standard_normal((n_dots, 128)).astype(np.float32)
    xa = np.asarray(hwsim.format("int8_tensor").encode(x).codes).astype(np.int8).astype(np.int64)
    ext_a = np.stack([np.full(64, -128), np.full(64, -128), np.full(64, 127)]).astype(np.int64)
    ext_b = np.stack([np.full(64, -128), np.full(64, 127), np.full(64, 127)]).astype(np.int64)
    record: dict[str, Any] = {}
    bad: list[str] = []
    for name, a, b in (("pairs", a1, b1), ("hwsim int8 dots", wa, xa), ("extremes", ext_a, ext_b)):
        got = await lane_dots(lanes, a, b)
        want = (a * b).sum(axis=1)
        miss = np.flatnonzero(got != want)
        record[name] = {"rows": int(a.shape[0]), "length": int(a.shape[1]), "mismatches": len(miss)}
        bad += [f"{name} row {i}: want {want[i]}, rtl {got[i]}" for i in miss[:10]]
    record["drive_s"] = round(time.perf_counter() - t0, 3)
    with open("bench.json", "w") as fh:
        json.dump(record, fh)
    assert not bad, "\n".join(bad)
