"""cocotb bench of rtl/mx_dot.v (through mx_dot_units.v): block dot products checked against hwsim.

Golden model: :func:`hwsim.numerics.dot.block_dot` (exact sum, one RNE to FP32; docs/numerics.md
"Block dot product"). Operands come from hwsim itself: ``hwsim.format(name).encode(...)`` of random
data, or raw codes and scale codes fed to both the RTL and block_dot; the bench never decodes or
re-implements a format. Every result is compared bit for bit (NaN results must be 0x7FC00000).

Environment: HWSIM_FORMAT (catalog name: mxfp8_e4m3, nvfp4, msfp16, ...), HWSIM_UNITS (the UNITS
parameter of mx_dot_units), HWSIM_BLOCKS (random block pairs, besides the edge cases), HWSIM_SEED.
Writes bench.json (blocks checked, mismatches, result classes, drive seconds) in the run folder.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import Timer

import hwsim
from hwsim.numerics.dot import block_dot
from hwsim.numerics.encoded import Encoded

NAN32 = 0x7FC00000


def _pack(codes: np.ndarray, width: int) -> list[int]:
    """Rows of codes (steps, n) -> one little-endian integer per row, code j at bits [j*width +: width]."""
    bits = ((codes[..., None].astype(np.uint64) >> np.arange(width, dtype=np.uint64)) & 1).astype(np.uint8)
    packed = np.packbits(bits.reshape(codes.shape[0], -1), axis=-1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _scale_codes(fmt, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random scale codes: E8M0 mostly near 2^0, with extremes 0x00/0xFE/0xFF and uniform bytes;
    E4M3 (NVFP4) uniform over all 256 codes (negative, NaN 0x7F/0xFF) with 0x00 made frequent."""
    pick = rng.random(n)
    if fmt.scale_rule.value == "pow2":
        s = rng.integers(100, 155, n)
        s = np.where(pick < 0.04, 0x00, np.where(pick < 0.08, 0xFE, np.where(pick < 0.10, 0xFF, s)))
        s = np.where((pick >= 0.10) & (pick < 0.30), rng.integers(0, 256, n), s)
    else:
        s = np.where(pick < 0.05, 0x00, rng.integers(0, 256, n))
    return s.astype(np.uint8)


def _gaussian(fmt, n: int, rng: np.random.Generator) -> np.ndarray:
    """N(0,1) blocks with varied magnitudes: a per-block power of two and per-element powers of two
    (so products land at very different exponents and alignment matters)."""
    K = fmt.block_size
    x = rng.standard_normal((n, K)) * np.exp2(rng.integers(-12, 13, (n, 1)))
    wide = rng.random((n, 1)) < 0.5
    x = np.where(wide, x * np.exp2(rng.integers(-8, 9, (n, K))), x)
    return x.astype(np.float32)


def _random_blocks(fmt, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """n random block pairs (codes_a, codes_b, scales_a, scales_b) in four groups: encoded N(0,1),
    encoded cancellations, raw codes, and encoded blocks whose scales put the sum near FP32's
    subnormal range or its overflow threshold."""
    K, bits = fmt.block_size, fmt.element.bits
    n_enc, n_can, n_raw = (4 * n) // 10, (15 * n) // 100, (30 * n) // 100
    n_ext = n - n_enc - n_can - n_raw
    parts = []
    # 1. encoded Gaussian blocks
    ea, eb = fmt.encode(_gaussian(fmt, n_enc, rng), axis=1), fmt.encode(_gaussian(fmt, n_enc, rng), axis=1)
    parts.append((ea.codes, eb.codes, ea.scales[:, 0], eb.scales[:, 0]))
    # 2. cancellation: a = (x, x), b = (y, -y) with a few elements of a perturbed
    h = K // 2
    x, y = _gaussian(fmt, n_can, rng)[:, :h], _gaussian(fmt, n_can, rng)[:, :h]
    xa = np.concatenate([x, x], axis=1)
    xa[np.arange(n_can), rng.integers(0, K, n_can)] *= rng.choice([0.0, 0.5, 1.0 + 2.0**-3, 1.0], n_can)
    ca, cb = fmt.encode(xa, axis=1), fmt.encode(np.concatenate([y, -y], axis=1), axis=1)
    parts.append((ca.codes, cb.codes, ca.scales[:, 0], cb.scales[:, 0]))
    # 3. raw codes: every element code (specials included) and random scale codes
    dtype = ea.codes.dtype
    parts.append((rng.integers(0, 1 << bits, (n_raw, K)).astype(dtype),
                  rng.integers(0, 1 << bits, (n_raw, K)).astype(dtype),
                  _scale_codes(fmt, n_raw, rng), _scale_codes(fmt, n_raw, rng)))
    # 4. encoded blocks with scale codes pushed to the FP32 subnormal / overflow ranges (E8M0)
    xa, xb = fmt.encode(_gaussian(fmt, n_ext, rng), axis=1), fmt.encode(_gaussian(fmt, n_ext, rng), axis=1)
    sa, sb = xa.scales[:, 0].astype(np.int64), xb.scales[:, 0].astype(np.int64)
    if fmt.scale_rule.value == "pow2":
        low = rng.random(n_ext) < 0.5
        total = np.where(low, rng.integers(90, 135, n_ext), rng.integers(370, 385, n_ext))  # sa + sb
        sa = np.clip(rng.integers(0, 255, n_ext), np.maximum(total - 254, 0), np.minimum(total, 254))
        sb = total - sa
    else:
        sa, sb = rng.integers(0, 256, n_ext), rng.integers(0, 256, n_ext)
    parts.append((xa.codes, xb.codes, sa.astype(np.uint8), sb.astype(np.uint8)))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


def _edge_blocks(fmt) -> tuple[np.ndarray, ...]:
    """Hand-picked block pairs: zeros, largest magnitudes, NaN / Inf elements, scale extremes."""
    K, table = fmt.block_size, fmt.element.table()
    finite = np.isfinite(table)
    big = int(np.argmax(np.where(finite, table, -np.inf)))
    neg_big = int(np.argmin(np.where(finite, table, np.inf)))
    one = int(np.flatnonzero(table == 1.0)[0])
    tiny = int(np.argmin(np.where(finite & (table > 0), table, np.inf)))
    nans = np.flatnonzero(np.isnan(table)).tolist()
    pinf, ninf = np.flatnonzero(table == np.inf).tolist(), np.flatnonzero(table == -np.inf).tolist()
    if fmt.scale_rule.value == "pow2":
        scales = [(127, 127), (0x00, 0x00), (0xFE, 0xFE), (0xFE, 0x00), (0xFF, 127), (127, 0xFF), (0xFF, 0xFF),
                  (0x00, 127), (0xFE, 127), (0, 104), (0, 105), (0, 103), (20, 100)]
    else:  # E4M3: 1.0, zero, -0, max 448, smallest subnormal, NaN 0x7F / 0xFF, negative scales
        scales = [(0x38, 0x38), (0x00, 0x38), (0x80, 0x38), (0x7E, 0x7E), (0x01, 0x01), (0x7F, 0x38),
                  (0x38, 0xFF), (0xB8, 0x38), (0xFE, 0xFE), (0x00, 0x00)]
    blocks: list[tuple[list[int], list[int]]] = [
        ([0] * K, [0] * K), ([big] * K, [big] * K), ([big] * K, [neg_big] * K), ([tiny] * K, [tiny] * K),
        ([one] + [0] * (K - 1), [one] + [0] * (K - 1)), ([big, big] + [0] * (K - 2), [big, neg_big] + [0] * (K - 2)),
        ([tiny] + [big] * (K - 1), [tiny] + [0] * (K - 1)),
    ]
    for special in nans + pinf + ninf:
        for other in (0, one, neg_big):
            blocks.append(([special] + [one] * (K - 1), [other] + [one] * (K - 1)))
    if pinf and ninf:
        blocks.append(([pinf[0], ninf[0]] + [0] * (K - 2), [one, one] + [0] * (K - 2)))
        blocks.append(([pinf[0], pinf[0]] + [0] * (K - 2), [one, neg_big] + [0] * (K - 2)))
    ca, cb, sa, sb = [], [], [], []
    for a, b in blocks:
        for s, t in scales:
            ca.append(a)
            cb.append(b)
            sa.append(s)
            sb.append(t)
    dtype = fmt.encode(np.zeros((1, K), np.float32), axis=1).codes.dtype
    return (np.array(ca, dtype), np.array(cb, dtype), np.array(sa, np.uint8), np.array(sb, np.uint8))


def _golden(fmt, ca: np.ndarray, cb: np.ndarray, sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """FP32 bits of block_dot for each block pair, NaN as the canonical 0x7FC00000."""
    a = Encoded(codes=ca, scales=sa.reshape(-1, 1), axis=1, format=fmt.name)
    b = Encoded(codes=cb, scales=sb.reshape(-1, 1), axis=1, format=fmt.name)
    want = block_dot(fmt, a, fmt, b).reshape(-1)
    bits = want.view(np.uint32).copy()
    bits[np.isnan(want)] = NAN32
    return bits


def _classes(bits: np.ndarray) -> dict[str, int]:
    f = bits.view(np.float32)
    mag = bits & 0x7FFFFFFF
    return {"nan": int(np.isnan(f).sum()), "inf": int(np.isinf(f).sum()), "zero": int((mag == 0).sum()),
            "subnormal": int(((mag > 0) & (mag < 0x00800000)).sum()),
            "normal": int(((mag >= 0x00800000) & (mag < 0x7F800000)).sum())}


@cocotb.test()
async def random_and_edge_blocks(dut) -> None:  # noqa: ANN001 (cocotb's handle type)
    name = os.environ["HWSIM_FORMAT"]
    fmt = hwsim.format(name)
    units = int(os.environ.get("HWSIM_UNITS", "8"))
    n_random = int(os.environ.get("HWSIM_BLOCKS", "1000"))
    rng = np.random.default_rng(int(os.environ.get("HWSIM_SEED", "1")))
    edge = _edge_blocks(fmt)
    rand = _random_blocks(fmt, n_random, rng)
    ca, cb, sa, sb = (np.concatenate([e, r]) for e, r in zip(edge, rand, strict=True))
    n = len(sa)
    steps = -(-n // units)
    pad = steps * units - n
    K, width = fmt.block_size, fmt.element.bits

    def rows(x: np.ndarray, per: int) -> np.ndarray:
        x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
        return x.reshape(steps, units * per)

    a_words, b_words = _pack(rows(ca, K), width), _pack(rows(cb, K), width)
    sa_words, sb_words = _pack(rows(sa, 1), 8), _pack(rows(sb, 1), 8)
    got_words = []
    t0 = time.perf_counter()
    for step in range(steps):
        dut.a.value = a_words[step]
        dut.b.value = b_words[step]
        dut.sa.value = sa_words[step]
        dut.sb.value = sb_words[step]
        await Timer(1, unit="ns")
        got_words.append(dut.y.value.to_unsigned())
    seconds = time.perf_counter() - t0
    got = np.frombuffer(b"".join(w.to_bytes(4 * units, "little") for w in got_words), "<u4")[:n]
    want = _golden(fmt, ca, cb, sa, sb)
    bad = np.flatnonzero(got != want)
    with open("bench.json", "w") as fh:
        json.dump({"format": name, "blocks": int(n), "edge_blocks": int(len(edge[0])), "random_blocks": n_random,
                   "units": units, "mismatches": int(len(bad)), "classes": _classes(want),
                   "drive_s": round(seconds, 3)}, fh)
    lines = [f"block {i}: sa=0x{sa[i]:02x} sb=0x{sb[i]:02x} a={ca[i].tolist()} b={cb[i].tolist()}: "
             f"hwsim 0x{want[i]:08x} ({want[i:i + 1].view(np.float32)[0]!r}), rtl 0x{got[i]:08x} "
             f"({got[i:i + 1].view(np.float32)[0]!r})" for i in bad[:10]]
    assert not len(bad), f"{len(bad)} of {n} block pairs differ (first 10):\n" + "\n".join(lines)
