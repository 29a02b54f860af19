"""cocotb bench of rtl/bitserial_pe.v: BitMoD / INT4 weights x FP16 activations, exact, cycles measured.

Weights come from hwsim: ``hwsim.format("bitmod4").replace(group_size=G).encode(w)`` gives the 4-bit
codes, the per-group selector (``meta["selector"]``) and INT8 group scale codes
(``meta["scale_codes"]``) the PE reads; half of the dot products then get random codes, selectors and
scale codes (still valid hwsim encodings: ``decode`` reads them) so that every type and code occurs.
INT4 dot products use random codes of ``hwsim.format("int4")``. Golden values come from hwsim's
tables (``fmt.types[sel].table[code]``, ``hwsim.format("int4").element.table()``), never from a
second definition:

    out * 2^-25 == sum_groups scale_code * sum_i value_i * act_i      (exact, Python integers)

and ``out * 2^-25 * channel_step`` is compared with ``sum_i decode(enc)_i * act_i`` (hwsim's decoded
float32 weights) to float32 precision (``decode`` rounds ``scale_code * step`` and the product).

The bench feeds chunks of LANES weights back to back, each held until the PE's ``in_ready`` says it
is consumed; a dot product's measured cycles are ``out edge - first input edge + 1`` (edges of clk),
compared by the pytest with ``n_groups * hwsim.arch.bitserial.group_cycles(G, LANES, 2)``.

Environment: HWSIM_LANES, HWSIM_SEED, HWSIM_DOTS (dot products per group size), HWSIM_GROUPS (comma
separated group sizes). Writes bench.json: dots as [mode, G, n_groups, measured], mismatches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

import hwsim


def _activations(rng: np.random.Generator, n: int, extreme: bool) -> np.ndarray:
    """FP16 activations: normal values over a wide exponent range; extremes (max, min subnormal,
    signed zeros, the largest normals) when asked."""
    x = rng.standard_normal(n) * np.exp2(rng.uniform(-12, 12, n))
    a = np.clip(x, -65504, 65504).astype(np.float16)
    if extreme:
        picks = np.array([65504, -65504, 2.0 ** -24, -(2.0 ** -24), 0.0, -0.0, 2.0 ** -14, 1.0], np.float16)
        a = rng.choice(picks, n).astype(np.float16)
    return a


def _weights(rng: np.random.Generator, mode: int, g: int, dots: int) -> list[dict]:
    """Per dot product (3 groups of ``g``, the bench uses a prefix): codes, selectors, scale
    codes, exact values (hwsim tables), channel step and hwsim-decoded weights. One hwsim encode
    for all rows (a row = a dot product = an output channel)."""
    n = 3 * g
    if mode == 1:  # INT4: codes of hwsim's int4 element, one scale code per group
        table = hwsim.format("int4").element.table()
        out = []
        for _ in range(dots):
            codes = rng.integers(0, 16, n)
            out.append({"codes": codes, "sel": np.zeros(3, np.int64), "sc": rng.integers(-128, 128, 3),
                        "vals": table[codes], "step": 1.0, "decoded": None})
        return out
    fmt = hwsim.format("bitmod4").replace(group_size=g)
    enc = fmt.encode(rng.standard_normal((dots, n)).astype(np.float32))
    rand = rng.random(dots) < 0.5  # these rows: random codes / types / scales, still valid for hwsim
    meta = dict(enc.meta)
    meta["selector"] = np.where(rand[:, None], rng.integers(0, 4, (dots, 3)), meta["selector"]).astype(np.uint8)
    meta["scale_codes"] = np.where(rand[:, None], rng.integers(0, 128, (dots, 3)),
                                   meta["scale_codes"]).astype(np.int8)
    step = np.ravel(meta["channel_step"]).astype(np.float64)
    scales = (meta["scale_codes"].astype(np.float64) * step[:, None]).astype(np.float32)
    codes = np.where(rand[:, None], rng.integers(0, 16, (dots, n)), enc.codes).astype(np.uint8)
    enc = dataclasses.replace(enc, codes=codes, meta=meta, scales=scales)
    decoded = np.asarray(fmt.decode(enc))
    tables = np.array([t.table for t in fmt.types])
    out = []
    for r in range(dots):
        sel = meta["selector"][r].astype(np.int64)
        c = codes[r].astype(np.int64)
        out.append({"codes": c, "sel": sel, "sc": meta["scale_codes"][r].astype(np.int64),
                    "vals": tables[np.repeat(sel, g), c], "step": float(step[r]), "decoded": decoded[r]})
    return out


def _pack(values, width: int) -> int:  # noqa: ANN001
    word = 0
    for i, v in enumerate(values):
        word |= int(v) << (i * width)
    return word


@cocotb.test()
async def dot_products(dut) -> None:  # noqa: ANN001 (cocotb's handle type)
    lanes = int(os.environ["HWSIM_LANES"])
    rng = np.random.default_rng(int(os.environ.get("HWSIM_SEED", "0")))
    per_g = int(os.environ.get("HWSIM_DOTS", "20"))
    sizes = [int(s) for s in os.environ.get("HWSIM_GROUPS", "8,30,32,128").split(",")]
    cocotb.start_soon(Clock(dut.clk, 2, unit="ns").start())
    dut.rst.value, dut.in_valid.value = 1, 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0

    # the stream: (dot index, group size, groups, mode, weights, activations)
    dots = []
    for g in sizes:
        n_int = per_g // 3  # a third INT4, the rest BitMoD FP4
        ws = [(0, w) for w in _weights(rng, 0, g, per_g - n_int)] + [(1, w) for w in _weights(rng, 1, g, n_int)]
        for d, (mode, w) in enumerate(ws):
            groups = int(rng.integers(1, 4))
            dots.append((g, groups, mode, w, _activations(rng, g * groups, extreme=d % 5 == 4)))
    inf_dot = dots[0][:4] + (dots[0][4].copy(),)  # a last dot with an Inf activation: out_special
    inf_dot[4][-1] = np.float16(np.inf)
    dots.append(inf_dot)

    edge = -1
    results, bad = [], []
    t0 = time.perf_counter()
    for g, groups, mode, w, a in dots:
        a_bits = a.view(np.uint16).astype(np.int64)
        first = edge + 1
        out = None
        for gi in range(groups):
            dut.sel.value, dut.wmode.value = int(w["sel"][gi]), mode
            dut.scale.value = int(w["sc"][gi]) & 0xFF
            for c0 in range(0, g, lanes):
                idx = np.arange(gi * g + c0, gi * g + min(c0 + lanes, g))
                dut.w_code.value = _pack(w["codes"][idx], 4)
                dut.act.value = _pack(a_bits[idx], 16)
                dut.grp_last.value = int(c0 + lanes >= g)
                dut.dot_last.value = int(c0 + lanes >= g and gi == groups - 1)
                dut.in_valid.value = 1
                while True:
                    ready = int(dut.in_ready.value)
                    await FallingEdge(dut.clk)
                    edge += 1
                    if int(dut.out_valid.value):
                        out = (dut.out.value.to_signed(), int(dut.out_special.value), edge)
                    if ready:
                        break
        if out is None or out[2] != edge:
            bad.append(f"dot G={g} groups={groups} mode={mode}: no output at its last term's edge ({out})")
            results.append([mode, g, groups, -1])
            continue
        results.append([mode, g, groups, out[2] - first + 1])
        if not np.all(np.isfinite(a)):
            if out[1] != 1:
                bad.append(f"dot G={g} with an Inf activation: out_special {out[1]}")
            continue
        a_int = (a.astype(np.float64) * 2.0 ** 24).astype(np.int64)  # exact: FP16 is k * 2^-24
        v2 = (w["vals"] * 2).astype(np.int64)                         # exact: values are k / 2
        want = sum(int(w["sc"][gi]) * int(np.dot(v2[gi * g:(gi + 1) * g], a_int[gi * g:(gi + 1) * g]))
                   for gi in range(groups))
        if out[0] != want or out[1]:
            bad.append(f"dot G={g} groups={groups} mode={mode}: rtl {out[0]} (special {out[1]}) want {want}")
        if w["decoded"] is not None:
            ref = np.asarray(w["decoded"][:g * groups], np.float64) * a.astype(np.float64)
            got = out[0] * 2.0 ** -25 * w["step"]
            if abs(got - ref.sum()) > 2.0 ** -20 * np.abs(ref).sum() + 1e-300:
                bad.append(f"dot G={g}: rtl x channel_step {got!r} vs hwsim decoded . act {ref.sum()!r}")
    dut.in_valid.value = 0
    seconds = time.perf_counter() - t0
    with open("bench.json", "w") as fh:
        json.dump({"lanes": lanes, "dots": results, "mismatches": len(bad), "cycles_simulated": edge + 1,
                   "drive_s": round(seconds, 3)}, fh)
    assert not bad, f"{len(bad)} wrong dot products:\n" + "\n".join(bad[:20])
