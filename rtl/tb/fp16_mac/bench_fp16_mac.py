"""cocotb bench of rtl/fp16_mac.v: FP16 x FP16 products accumulated in FP32 (RNE), against numpy.

Operand values are hwsim's: ``hwsim.format("fp16").element.table()`` (the value of every binary16
code; checked against numpy's float16 view of the codes), and N(0,1) tensors are encoded by
``hwsim.format("fp16").encode``. The reference accumulation is numpy float32, which is IEEE
binary32 with round-to-nearest-even: ``acc = float32(acc + float32(a * b))``, the product formed in
float64 (exact: 22 significand bits) and exactly representable in float32. Results are compared bit
for bit (signs of zero included); a NaN result must be NaN (the RTL writes the canonical 0x7FC00000).

Environment: HWSIM_LANES (LANES of fp16_mac_lanes), HWSIM_PAIRS (random single products),
HWSIM_DOTS (random dot products per kind), HWSIM_MIXED (class-mixing dot products), HWSIM_SEED.
Writes bench.json in the run folder.
"""

from __future__ import annotations

import os
import time
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import Timer

import hwsim
from hwsim.synth.bench import lane_dots, record_bench

#: one representative code per binary16 operand class, both signs (IEEE 754-2019 §3.4)
CLASSES = {
    "+0": 0x0000, "-0": 0x8000, "+min_sub": 0x0001, "-min_sub": 0x8001, "+max_sub": 0x03FF, "-max_sub": 0x83FF,
    "+mid_sub": 0x0155, "+min_norm": 0x0400, "-min_norm": 0x8400, "+1": 0x3C00, "-1": 0xBC00,
    "+1.5": 0x3E00, "+1_ulp": 0x3C01, "+max": 0x7BFF, "-max": 0xFBFF, "+inf": 0x7C00, "-inf": 0xFC00,
    "qnan": 0x7E00, "snan": 0x7C01, "-qnan": 0xFE00, "+pi": 0x4248, "-tiny_norm": 0x8777,
}


class Lanes:
    """Drives fp16_mac_lanes: one clock step feeds every lane one operand pair."""

    def __init__(self, dut: Any, lanes: int) -> None:
        self.dut, self.lanes = dut, lanes
        dut.clk.value, dut.en.value, dut.clr.value = 0, 0, 0

    async def step(self, a: np.ndarray, b: np.ndarray, clr: bool) -> None:
        d = self.dut
        d.a.value = sum(int(v) << (16 * i) for i, v in enumerate(a))
        d.b.value = sum(int(v) << (16 * i) for i, v in enumerate(b))
        d.clr.value, d.en.value, d.clk.value = int(clr), 1, 0
        await Timer(1, unit="ns")
        d.clk.value = 1
        await Timer(1, unit="ns")

    def read(self) -> np.ndarray:
        word = self.dut.acc.value.to_unsigned()
        return np.array([(word >> (32 * i)) & 0xFFFFFFFF for i in range(self.lanes)], dtype=np.uint32)


def _values() -> np.ndarray:
    """hwsim's value of every binary16 code (float64), cross-checked with numpy's float16."""
    table = np.asarray(hwsim.format("fp16").element.table(), dtype=np.float64)
    np_view = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float64)
    same = (table == np_view) | (np.isnan(table) & np.isnan(np_view))
    assert same.all(), "hwsim's fp16 table disagrees with numpy float16"
    return table


def _reference(values: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 codes of sequential RNE accumulation: rows = dot products, columns = steps."""
    acc = np.zeros(a.shape[0], np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(a.shape[1]):
            prod = values[a[:, k]] * values[b[:, k]]  # exact in float64
            p32 = prod.astype(np.float32)
            assert np.array_equal(p32.astype(np.float64), prod, equal_nan=True)  # and exact in float32
            acc = (acc + p32).astype(np.float32)
    return acc.view(np.uint32)


def _compare(name: str, want: np.ndarray, got: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[int, list[str]]:
    w32, g32 = want.view(np.float32), got.view(np.float32)
    same = (want == got) | (np.isnan(w32) & np.isnan(g32))
    bad = np.flatnonzero(~same)
    return len(bad), [f"{name} row {i}: a={[hex(v) for v in a[i][:4]]} b={[hex(v) for v in b[i][:4]]}: "
                      f"numpy 0x{want[i]:08x} ({w32[i]!r}), rtl 0x{got[i]:08x} ({g32[i]!r})" for i in bad[:10]]


@cocotb.test()
async def operand_classes(dut) -> None:  # noqa: ANN001 (cocotb's handle type)
    """Every pair of operand classes as a single product, then short dot products mixing the
    classes (Inf - Inf, NaN propagation, cancellation to +0, -0 + -0)."""
    values = _values()
    lanes = Lanes(dut, int(os.environ.get("HWSIM_LANES", "32")))
    rng = np.random.default_rng(int(os.environ.get("HWSIM_SEED", "16")))
    codes = np.array(list(CLASSES.values()), dtype=np.int64)
    a1 = np.repeat(codes, len(codes))[:, None]
    b1 = np.tile(codes, len(codes))[:, None]
    n_mix = int(os.environ.get("HWSIM_MIXED", "2048"))
    mix_a = rng.choice(codes, (n_mix, 4))
    mix_b = rng.choice(codes, (n_mix, 4))
    cancel_a = np.repeat(rng.choice(codes[:17], (256, 1)), 2, axis=1)  # x*y + (-x)*y: +0 or NaN/Inf
    cancel_b = np.stack([rng.choice(codes[:17], 256)] * 2, axis=1)
    cancel_b[:, 1] ^= 0x8000
    t0 = time.perf_counter()
    total, msgs, checked = 0, [], 0
    for name, a, b in (("pairs", a1, b1), ("mixed dots", mix_a, mix_b), ("cancel", cancel_a, cancel_b)):
        got = await lane_dots(lanes, a, b)
        n, m = _compare(name, _reference(values, a, b), got, a, b)
        total, msgs, checked = total + n, msgs + m, checked + len(got)
    record_bench("operand_classes", {"classes": len(codes), "checked": checked, "mismatches": total,
                                "drive_s": round(time.perf_counter() - t0, 3)})
    assert not total, f"{total} mismatches:\n" + "\n".join(msgs[:20])


@cocotb.test()
async def random_pairs_and_dots(dut) -> None:  # noqa: ANN001
    """Random finite binary16 codes as single products (every exponent pair reachable), random-code
    dot products (wide exponent spread: alignment, sticky, rounding), near-tie dot products (each
    product a few to 28 binades below the first) and hwsim-encoded N(0,1) dot products (close
    exponents: cancellation, normalization)."""
    values = _values()
    lanes = Lanes(dut, int(os.environ.get("HWSIM_LANES", "32")))
    rng = np.random.default_rng(int(os.environ.get("HWSIM_SEED", "16")) + 1)
    n_pairs = int(os.environ.get("HWSIM_PAIRS", "32768"))
    n_dots = int(os.environ.get("HWSIM_DOTS", "256"))
    finite = np.flatnonzero(np.isfinite(values))
    fp16 = hwsim.format("fp16")
    norm_a = np.asarray(fp16.encode(rng.standard_normal((n_dots, 64)).astype(np.float32)).codes).astype(np.int64)
    norm_b = np.asarray(fp16.encode(rng.standard_normal((n_dots, 64)).astype(np.float32)).codes).astype(np.int64)
    # near-tie dots: each next product 6..28 binades below the first, random signs, so its low bits
    # land on the guard / round / sticky positions of the binary32 sum
    e0 = rng.integers(12, 28, (n_dots, 1))
    drop_a = np.concatenate([np.zeros((n_dots, 1), np.int64), rng.integers(0, 12, (n_dots, 2))], axis=1)
    drop_b = np.concatenate([np.zeros((n_dots, 1), np.int64), rng.integers(6, 15, (n_dots, 2))], axis=1)
    sign = rng.integers(0, 2, (2, n_dots, 3)) << 15
    tie_a = sign[0] | (np.maximum(e0 - drop_a, 1) << 10) | rng.integers(0, 1024, (n_dots, 3))
    tie_b = sign[1] | ((15 - drop_b) << 10) | rng.integers(0, 1024, (n_dots, 3))
    cases = [("pairs", rng.choice(finite, (n_pairs, 1)), rng.choice(finite, (n_pairs, 1))),
             ("near-tie dots", tie_a, tie_b),
             ("random-code dots", rng.choice(finite, (n_dots, 32)), rng.choice(finite, (n_dots, 32))),
             ("N(0,1) dots", norm_a, norm_b)]
    t0 = time.perf_counter()
    total, msgs, record = 0, [], {}
    for name, a, b in cases:
        got = await lane_dots(lanes, a, b)
        n, m = _compare(name, _reference(values, a, b), got, a, b)
        total, msgs = total + n, msgs + m
        record[name] = {"rows": int(a.shape[0]), "length": int(a.shape[1]), "mismatches": n}
    record["drive_s"] = round(time.perf_counter() - t0, 3)
    record_bench("random_pairs_and_dots", record)
    assert not total, f"{total} mismatches:\n" + "\n".join(msgs[:20])
