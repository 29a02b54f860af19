"""cocotb bench of rtl/systolic_ws.v: random INT8 GEMMs, every output checked, cycles measured.

The bench is the array's controller. It runs each GEMM ``A[m, k] @ W[k, n]`` fold by fold (K folds
of ROWS, N folds of COLS, as ``hwsim.arch.systolic`` counts them), with the schedule documented in
rtl/systolic_ws.v: ROWS cycles of weight load, the activations streamed with a skew of one cycle per
row, then it waits for every output of the fold (COLS columns x m vectors) and starts the next
fold's load in the very next cycle. Nothing in the bench waits a fixed drain time: when the last
output of a fold appears is the array's behaviour, and the measured cycles of a GEMM
(``last output edge - first input edge``, edges of clk counted from 0) are compared with
``hwsim.arch.SystolicArray(ROWS, COLS, "ws").gemm(m, k, n).cycles`` by the pytest that runs this.

Golden values: numpy int64 products of the int8 operands (exact), per fold partial sums; the sum of
a GEMM's folds is checked against ``A @ W`` too. Every output's arrival cycle is checked against the
documented skew (column j of vector t after the edge of cycle ``fold_start + 2 ROWS - 1 + t + j``).

Environment: HWSIM_ROWS, HWSIM_COLS, HWSIM_ACC_W, HWSIM_PE (the parameters), HWSIM_SEED, HWSIM_TILES
(random folds to run at least, after the fixed edge-case GEMMs), HWSIM_MAX_DIM (largest random m, k,
n), HWSIM_MAX_T (the controller's MAX_T), HWSIM_SHAPES (JSON [[m, k, n], ...]: run exactly these).
With HWSIM_PE=1 (MXFP8 PEs) the operands are hwsim MXFP8 E4M3 encodings (see _MxPool, _mx_check).
Writes bench.json: gemms as [m, k, n, measured_cycles], tiles, outputs checked, mismatches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, with_timeout

import hwsim
from hwsim.arch import SystolicArray


def _pack(values, width: int) -> int:  # noqa: ANN001
    """Little-endian packing of integers (two's complement, ``width`` bits each) into one word."""
    mask = (1 << width) - 1
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * width)
    return word


def _unpack(word: int, count: int, width: int, signed: bool = True) -> np.ndarray:
    mask, half = (1 << width) - 1, 1 << (width - 1)
    vals = [(word >> (i * width)) & mask for i in range(count)]
    if not signed:
        return np.array(vals, dtype=np.int64)
    return np.array([v - (1 << width) if v >= half else v for v in vals], dtype=np.int64)


class _Folds:
    """Feeds fold descriptors to systolic_ws_tb (one pending ahead) and collects finished folds."""

    def __init__(self, dut, rows: int, cols: int, acc_w: int, max_t: int) -> None:  # noqa: ANN001
        self.dut, self.rows, self.cols, self.acc_w, self.max_t = dut, rows, cols, acc_w, max_t
        self.seq = 0

    def offer(self, a: np.ndarray, w: np.ndarray) -> None:
        """Write fold ``A[T, <=rows] @ W[<=rows, <=cols]`` (zero-padded) as the pending descriptor."""
        wp = np.zeros((self.rows, self.cols), np.int64)
        wp[:w.shape[0], :w.shape[1]] = w
        ap = np.zeros((self.max_t, self.rows), np.int64)
        ap[:a.shape[0], :a.shape[1]] = a
        self.seq += 1
        dut = self.dut
        dut.pend_w.value = _pack(wp.ravel(), 8)
        dut.pend_a.value = _pack(ap.ravel(), 8)
        dut.pend_t.value = a.shape[0]
        dut.pend_seq.value = self.seq & 0xFFFF

    async def taken(self, seq: int) -> None:
        """Wait until descriptor ``seq`` is taken (at most 100 cycles), then to the falling edge."""
        for _ in range(100):
            if self.dut.taken_seq.value.to_unsigned() == seq & 0xFFFF:
                break
            await RisingEdge(self.dut.clk)
            await ReadOnly()
        else:
            raise AssertionError(f"fold descriptor {seq} not taken within 100 cycles")
        await FallingEdge(self.dut.clk)

    async def result(self, done: int, t_len: int, signed: bool = True) -> tuple[np.ndarray, int, int, int]:
        """Wait until ``done`` folds have finished; (outputs [T, COLS], start edge, end edge, late)."""
        dut = self.dut
        while dut.done_seq.value.to_unsigned() != done & 0xFFFF:  # a fold never lasts 10 us (5,000 cycles)
            await with_timeout(dut.done_seq.value_change, 10, "us")
            await ReadOnly()
        outs = _unpack(dut.res_out.value.to_unsigned(), t_len * self.cols, self.acc_w, signed).reshape(t_len, self.cols)
        res = (outs, dut.res_start.value.to_unsigned(), dut.res_end.value.to_unsigned(),
               dut.res_late.value.to_unsigned())
        await FallingEdge(dut.clk)
        return res


def _shapes(rows: int, cols: int) -> list[tuple[int, int, int, str]]:
    """Fixed edge-case GEMMs: single elements, m = 1, exact array size, one past it, extremes."""
    n_ = max(rows, cols)
    return [(1, 1, 1, "rand"), (1, rows, cols, "rand"), (rows, rows, cols, "rand"),
            (rows + 1, 2 * rows + 1, cols + 1, "rand"), (3, max(rows - 1, 1), max(cols - 1, 1), "rand"),
            (2 * n_ + 3, 3 * rows, 2 * cols + 1, "rand"), (1, 3 * rows + 2, 1, "rand"),
            (5, 2 * rows, 2 * cols, "min"), (4, 2 * rows + 1, cols, "minmax"), (3, rows, cols, "max")]


def _operands(rng: np.random.Generator, m: int, k: int, n: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "min":  # -128 * -128 everywhere: the largest column sums
        return np.full((m, k), -128, np.int64), np.full((k, n), -128, np.int64)
    if kind == "minmax":  # the most negative sums
        return np.full((m, k), -128, np.int64), np.full((k, n), 127, np.int64)
    if kind == "max":
        return np.full((m, k), 127, np.int64), np.full((k, n), 127, np.int64)
    return (rng.integers(-128, 128, size=(m, k), dtype=np.int64),
            rng.integers(-128, 128, size=(k, n), dtype=np.int64))


class _MxPool:
    """MXFP8 (E4M3) operands from hwsim, encoded once and sliced per GEMM: codes, E8M0 scale codes
    and hwsim-decoded values of a POOL x KMAX matrix (blocks of 32 along K from column 0, so a
    column prefix keeps the blocks). Two pools: hwsim's encoding of N(0,1) data, and the same
    Encoded with random element codes (NaN codes included) and random scale codes (0x00, 0xFF =
    NaN scale, 100..150), decoded by hwsim all the same."""

    def __init__(self, rng: np.random.Generator, rows: int, kmax: int) -> None:
        fmt = hwsim.format("mxfp8_e4m3")
        self.table = fmt.element.table()
        self.rng = rng
        enc = fmt.encode(rng.standard_normal((rows, kmax)).astype(np.float32))
        codes = rng.integers(0, 256, enc.codes.shape).astype(np.uint8)
        scales = rng.choice(np.array([0, 255] + list(range(100, 151))), enc.scales.shape).astype(np.uint8)
        wild = dataclasses.replace(enc, codes=codes, scales=scales)
        self.pools = [(e.codes.astype(np.int64), e.scales.astype(np.int64), np.asarray(fmt.decode(e), np.float64))
                      for e in (enc, wild)]

    def take(self, count: int, k: int, pool: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes, scales, dec = self.pools[pool]
        r0 = int(self.rng.integers(0, codes.shape[0] - count + 1))
        return codes[r0:r0 + count, :k], scales[r0:r0 + count, :-(-k // 32)], dec[r0:r0 + count, :k]


def _mx_operands(pool: _MxPool, m: int, k: int, n: int) -> dict:
    """One MXFP8 GEMM: A [m, k] and W [k, n] (W's blocks run along K: rows of the pool, transposed)."""
    which = int(pool.rng.integers(0, 2))
    ca, sa, da = pool.take(m, k, which)
    cw, sw, dw = pool.take(n, k, which)
    return {"a": ca, "w": cw.T, "sa": sa, "sw": sw.T, "da": da, "dw": dw.T, "table": pool.table}


def _mx_check(op: dict, k0: int, n0: int, rows: int, got: np.ndarray, acc_w: int) -> int:
    """Mismatching outputs of one MXFP8 fold: the exact fixed-point sum (units 2^-18) and NaN bit
    against hwsim's element table, and the value scaled by the fold's E8M0 scales (applied here, as
    the output accumulator would) against the sum of hwsim-decoded products."""
    cols = got.shape[1]
    ca, cw = op["a"][:, k0:k0 + rows], op["w"][k0:k0 + rows, n0:n0 + cols]
    ea, ew = op["table"][ca], op["table"][cw]
    nan_want = np.isnan(ea).any(axis=1)[:, None] | np.isnan(ew).any(axis=0)[None, :]
    ia = np.where(np.isnan(ea), 0, ea * 512).astype(np.int64)  # E4M3 values are k * 2^-9
    iw = np.where(np.isnan(ew), 0, ew * 512).astype(np.int64)
    exact = ia @ iw
    nan_got = (got >> (acc_w - 1)) & 1
    val = got & ((1 << (acc_w - 1)) - 1)
    val = np.where(val >> (acc_w - 2) & 1, val - (1 << (acc_w - 1)), val)
    bad = (nan_got != nan_want) | (~nan_want & (val != exact))
    sa = op["sa"][:, k0 // 32][:, None]
    sw = op["sw"][k0 // 32, n0:n0 + cols][None, :]
    scale_nan = (sa == 255) | (sw == 255)
    scaled = np.where(nan_got.astype(bool) | scale_nan, np.nan, np.ldexp(val.astype(np.float64), sa + sw - 254 - 18))
    ref = op["da"][:, k0:k0 + rows] @ op["dw"][k0:k0 + rows, n0:n0 + cols]
    same = (np.isnan(ref) & np.isnan(scaled)) | (ref == scaled)
    return int(np.count_nonzero(bad | ~same))


@cocotb.test()
async def random_gemms(dut) -> None:  # noqa: ANN001 (cocotb's handle type)
    rows, cols = int(os.environ["HWSIM_ROWS"]), int(os.environ["HWSIM_COLS"])
    acc_w = int(os.environ.get("HWSIM_ACC_W", "32"))
    mx = os.environ.get("HWSIM_PE", "0") == "1"
    max_t = int(os.environ.get("HWSIM_MAX_T", "32"))
    rng = np.random.default_rng(int(os.environ.get("HWSIM_SEED", "0")))
    target = int(os.environ.get("HWSIM_TILES", "100"))
    max_dim = int(os.environ.get("HWSIM_MAX_DIM", str(3 * max(rows, cols))))
    cocotb.start_soon(Clock(dut.clk, 2, unit="ns").start())
    dut.rst.value = 1
    dut.pend_seq.value = 0
    for _ in range(rows + cols + 2):  # reset the controller, flush the array's valid bits
        await FallingEdge(dut.clk)
    dut.rst.value = 0

    pool = _MxPool(rng, 4 * max_dim + max_t, 4 * max_dim) if mx else None
    # every fold of every GEMM, in the order the controller runs them (N folds outer, K inner)
    gemms, folds = [], []
    given = os.environ.get("HWSIM_SHAPES")  # a JSON list of [m, k, n]: exactly these GEMMs
    fixed = [(m, k, n, "rand") for m, k, n in json.loads(given)] if given else _shapes(rows, cols)
    target = 0 if given else target
    while fixed or len(folds) < target:
        if fixed:
            m, k, n, kind = fixed.pop(0)
        else:
            m, k, n = (int(x) for x in rng.integers(1, max_dim + 1, size=3))
            kind = "rand"
        m = min(m, max_t)
        op = _mx_operands(pool, m, k, n) if pool else None
        a, w = (op["a"], op["w"]) if op else _operands(rng, m, k, n, kind)
        first = len(folds)
        for n0 in range(0, n, cols):
            for k0 in range(0, k, rows):
                folds.append((len(gemms), k0, n0, a[:, k0:k0 + rows], w[k0:k0 + rows, n0:n0 + cols]))
        gemms.append({"shape": (m, k, n), "a": a, "w": w, "folds": (first, len(folds)), "mx": op})

    t0 = time.perf_counter()
    feed = _Folds(dut, rows, cols, acc_w, max_t)
    feed.offer(folds[0][3], folds[0][4])
    await feed.taken(1)
    if len(folds) > 1:
        feed.offer(folds[1][3], folds[1][4])
    bad, wrong, checked, late = [], 0, 0, 0
    spans = []
    for f, (g, k0, n0, a_f, w_f) in enumerate(folds):
        outs, start, end, lt = await feed.result(f + 1, a_f.shape[0], signed=not mx)
        if f + 2 < len(folds):  # offer f+2 once f+1 is taken (the cycle fold f finished, if on time)
            await feed.taken(f + 2)
            feed.offer(folds[f + 2][3], folds[f + 2][4])
        spans.append((start, end))
        checked += a_f.shape[0] * w_f.shape[1]
        late += lt
        if mx:
            n_bad = _mx_check(gemms[g]["mx"], k0, n0, rows, outs[:, :w_f.shape[1]], acc_w)
            wrong += n_bad
            if n_bad and len(bad) < 20:
                bad.append(f"gemm {gemms[g]['shape']} fold k0={k0} n0={n0}: {n_bad} MXFP8 outputs differ")
            continue
        want = a_f @ w_f
        got = outs[:, :w_f.shape[1]]
        wrong += int(np.count_nonzero(got != want))
        if np.any(got != want) and len(bad) < 20:
            idx = tuple(np.argwhere(got != want)[0])
            bad.append(f"gemm {gemms[g]['shape']} fold k0={k0} n0={n0} (t, j)={idx}: rtl {got[idx]} want {want[idx]}")
        gemms[g].setdefault("total", np.zeros(gemms[g]["a"].shape[:1] + gemms[g]["w"].shape[1:], np.int64))
        gemms[g]["total"][:, n0:n0 + cols] += got
    seconds = time.perf_counter() - t0
    rows_out = []
    for gm in gemms:
        lo, hi = gm["folds"]
        if not mx and np.any(gm["total"] != gm["a"] @ gm["w"]):
            wrong += 1
            bad.append(f"gemm {gm['shape']}: sum of folds differs from A @ W")
        rows_out.append([*gm["shape"], spans[hi - 1][1] - spans[lo][0]])
    gaps = [spans[f + 1][0] - spans[f][1] for f in range(len(spans) - 1)]
    model = SystolicArray(rows, cols, "ws")
    wrong_cycles = [g for g in rows_out if g[3] != model.gemm(g[0], g[1], g[2]).cycles]
    with open("bench.json", "w") as fh:
        json.dump({"rows": rows, "cols": cols, "gemms": rows_out, "tiles": len(folds), "outputs": checked,
                   "mismatches": wrong, "late_outputs": late, "max_gap": max(gaps, default=1),
                   "cycles_simulated": spans[-1][1] + 1, "drive_s": round(seconds, 3)}, fh)
    assert not bad, "wrong outputs:\n" + "\n".join(bad)
    assert not late, f"{late} outputs arrived off the documented skew"
    assert not wrong_cycles, f"measured cycles differ from hwsim.arch (m, k, n, measured): {wrong_cycles[:10]}"
    assert max(gaps, default=1) == 1, f"folds not back to back: gaps {sorted(set(gaps))}"
