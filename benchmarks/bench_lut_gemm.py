"""LUT GEMV (T-MAC) vs dequantize-then-multiply GEMV, measured on this CPU, next to the cost model.

Two numba kernels of the same quality (both ``fastmath``, both reduce along K in the innermost loop
so LLVM vectorizes them, both read packed weights and per-64 group scales/zero points, both timed
with everything a GEMV does per call: the LUT kernel builds its int8 tables every call):

- **LUT** (T-MAC, arXiv 2407.00088 §3; ``microsoft/T-MAC`` ``tbl.cc`` / ``lut_ctor.cc``): per call,
  int8 tables of g = 4 activations (16 entries, scale absmax/127 per 64 activations, T-MAC's
  ``act_group_size``); weights as ``b`` bit planes of 4-bit table indices, two per byte (T-MAC's
  layout); per output, per plane, the lookups of a 64-activation group summed in int32, then
  ``sum_i 2^i plane_i`` and the group's table and weight scales and zero point applied in float32.
  Cost ~ b lookups per 4 weights.
- **dequant** (llama.cpp-style): weights as ``b``-bit fields in uint32 words (``32 // b`` per word),
  activations permuted once per call so that field ``j`` of consecutive words meets contiguous
  activations; per output row, field by field over all words (a long loop that LLVM vectorizes with
  a constant shift), per-word partial sums, then per group ``s (acc - z sum a)``. Cost ~ one
  shift, mask, convert and FMA per weight, whatever b.

Shapes: GEMV 1 x 4096 x 4096 and 1 x 4096 x 11008 (``N = 11008`` outputs; T-MAC's figures), bits 1..4,
one thread (``NUMBA_NUM_THREADS=1``, set before numba loads). Best of ``--repeat`` runs.

The cost model side: lookups per cycle and dequantized weights per cycle of *these* kernels on
this core, from AMD Zen 3's documented dispatch width (this machine: EPYC, family 25) and the
instruction mix of the compiled inner loops (``--asm`` prints their vector instructions): see
:func:`model_cycles`. Times are CPU times (``time.process_time``) of the best of ``--repeat``
interleaved calls, so that other processes on a shared machine do not count. The model's
LUT/dequant ratio per bit width is printed next to the measured one. Then the T-MAC claims for
BitNet-b1.58-3B (30 tokens/s on one M2-Ultra core, 71 on eight, 11 on a Raspberry Pi 5) next to
what the catalog entries ``tmac-m2-core`` / ``tmac-rpi5`` predict.

Usage: NUMBA_NUM_THREADS=1 python benchmarks/bench_lut_gemm.py [--repeat 5] [--json out.json] [--asm]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096)]  # (N outputs, K)
BITS = (1, 2, 3, 4)
GROUP = 64  # weight group and activation (table-scale) group


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
def make_weights(n: int, k: int, b: int, seed: int = 0):
    """Asymmetric b-bit levels per group of 64 (scale, zero point), as the LUT formats store them."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 1 << b, (n, k)).astype(np.uint8)
    s = (rng.random((n, k // GROUP)) * 0.02 + 0.01).astype(np.float32)
    z = rng.integers(0, 1 << b, (n, k // GROUP)).astype(np.float32)
    return q, s, z


def pack_planes(q: np.ndarray, b: int) -> np.ndarray:
    """uint8 [b, N, K/8]: per plane, the 4-bit chunk indices of chunks 2c (low) and 2c+1 (high)."""
    n, k = q.shape
    out = np.zeros((b, n, k // 8), np.uint8)
    for i in range(b):
        bits = ((q >> i) & 1).reshape(n, k // 4, 4)
        idx = (bits << np.arange(4, dtype=np.uint8)).sum(-1).astype(np.uint8)  # [n, k/4]
        out[i] = idx[:, 0::2] | (idx[:, 1::2] << 4)
    return out


def pack_words(q: np.ndarray, b: int) -> np.ndarray:
    """uint32 [N, W]: ``32 // b`` fields per word; field j of word w is weight ``w * per + j``
    (K padded with zeros to whole words)."""
    n, k = q.shape
    per = 32 // b
    words = -(-k // per)
    qp = np.zeros((n, words * per), np.uint32)
    qp[:, :k] = q
    qp = qp.reshape(n, words, per)
    return (qp << (np.arange(per, dtype=np.uint32) * b)).sum(-1, dtype=np.uint64).astype(np.uint32)


# ------------------------------------------------------------------------------------------------
# kernels
# ------------------------------------------------------------------------------------------------
@nb.njit(cache=True, fastmath=True)
def lut_tables(a, tab, ls, asum):
    """int8-valued tables (int32 storage, for vector gathers) of g = 4 activations, one scale per 64."""
    K = a.shape[0]
    for gi in range(K // 64):
        mx = np.float32(0.0)
        s = np.float32(0.0)
        for c in range(gi * 16, gi * 16 + 16):
            v = abs(a[4 * c]) + abs(a[4 * c + 1]) + abs(a[4 * c + 2]) + abs(a[4 * c + 3])
            mx = max(mx, v)
            s += a[4 * c] + a[4 * c + 1] + a[4 * c + 2] + a[4 * c + 3]
        sc = mx / np.float32(127.0)
        inv = np.float32(1.0) / sc if sc > 0 else np.float32(0.0)
        ls[gi] = sc
        asum[gi] = s
        for c in range(gi * 16, gi * 16 + 16):
            for j in range(16):
                v = np.float32(0.0)
                for t in range(4):
                    v += a[4 * c + t] if (j >> t) & 1 else -a[4 * c + t]
                tab[c * 16 + j] = np.int32(np.rint(v * inv))


def make_lut_gemv(b: int):
    """The LUT GEMV for b bit planes (b frozen as a compile-time constant)."""

    @nb.njit(cache=False, fastmath=True)
    def lut_gemv(planes, tab, ls, asum, s, z, out):
        N = planes.shape[1]
        G = s.shape[1]
        beta = np.float32(((1 << b) - 1) / 2.0)
        for n in range(N):
            y = np.float32(0.0)
            for g in range(G):
                tot = 0
                for i in range(b):
                    acc = 0
                    base = g * 8
                    for cb in range(base, base + 8):  # 8 bytes = 16 chunks = 64 activations
                        byte = planes[i, n, cb]
                        acc += tab[(2 * cb) * 16 + (byte & 15)] + tab[(2 * cb + 1) * 16 + (byte >> 4)]
                    tot += acc << i
                y += s[n, g] * (ls[g] * np.float32(0.5) * np.float32(tot) + (beta - z[n, g]) * asum[g])
            out[n] = y

    return lut_gemv


def make_dequant_gemv(b: int):
    """The dequantize-then-multiply GEMV for b-bit fields (b frozen)."""
    per = 32 // b
    mask = (1 << b) - 1

    @nb.njit(cache=False, fastmath=True)
    def dequant_gemv(words, aperm, asum, s, z, out):
        N, W = words.shape
        G = s.shape[1]
        wpg = W // G  # words per 64-weight group
        pw = np.zeros(W, np.float32)  # per-word partial sums: the long loop over w vectorizes
        for n in range(N):
            row = words[n]
            for w in range(W):
                pw[w] = aperm[0, w] * np.float32(row[w] & mask)
            for j in range(1, per):
                for w in range(W):
                    pw[w] += aperm[j, w] * np.float32((row[w] >> (b * j)) & mask)
            y = np.float32(0.0)
            for g in range(G):
                acc = np.float32(0.0)
                for w in range(g * wpg, g * wpg + wpg):
                    acc += pw[w]
                y += s[n, g] * (acc - z[n, g] * asum[g])
            out[n] = y

    return dequant_gemv


def permute_activations(a: np.ndarray, b: int, words: int) -> np.ndarray:
    per = 32 // b
    ap = np.zeros(words * per, np.float32)
    ap[:a.size] = a
    return np.ascontiguousarray(ap.reshape(words, per).T)


# ------------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------------
def best_pair(f1, f2, repeat: int) -> tuple[float, float]:
    """Best CPU time (``time.process_time``: this single-threaded process's own time, so a shared,
    loaded machine's preemptions do not count) of each, the two calls interleaved."""
    f1()
    f2()
    t1, t2 = [], []
    for _ in range(repeat):
        for fn, t in ((f1, t1), (f2, t2)):
            t0 = time.process_time()
            fn()
            t.append(time.process_time() - t0)
    return min(t1), min(t2)


def run_shape(n: int, k: int, b: int, repeat: int) -> dict:
    q, s, z = make_weights(n, k, b)
    a = np.random.default_rng(1).standard_normal(k).astype(np.float32)
    ref = ((q.astype(np.float64) - np.repeat(z, GROUP, 1)) * np.repeat(s, GROUP, 1)) @ a.astype(np.float64)
    planes = pack_planes(q, b)
    tab = np.zeros(k // 4 * 16, np.int32)
    ls = np.zeros(k // 64, np.float32)
    asum = np.zeros(k // 64, np.float32)
    out_l = np.zeros(n, np.float32)
    lut = make_lut_gemv(b)

    def call_lut():
        lut_tables(a, tab, ls, asum)
        lut(planes, tab, ls, asum, s, z, out_l)

    # dequant: for b = 3, 10 fields per word do not tile 64-groups; use 64-weight groups of 7 words
    # (70 fields, 6 zero) so every kernel sees whole groups
    if GROUP % (32 // b):
        per = 32 // b
        wpg = -(-GROUP // per)
        qp = np.zeros((n, k // GROUP, wpg * per), np.uint8)
        qp[:, :, :GROUP] = q.reshape(n, k // GROUP, GROUP)
        words = pack_words(qp.reshape(n, -1), b)
        ap = np.zeros((k // GROUP, wpg * per), np.float32)
        ap[:, :GROUP] = a.reshape(k // GROUP, GROUP)
        aperm_src = ap.reshape(-1)
    else:
        words = pack_words(q, b)
        aperm_src = a
    out_d = np.zeros(n, np.float32)
    deq = make_dequant_gemv(b)
    asum_d = a.reshape(-1, GROUP).sum(-1).astype(np.float32)

    def call_deq():
        aperm = permute_activations(aperm_src, b, words.shape[1])
        deq(words, aperm, asum_d, s, z, out_d)

    t_lut, t_deq = best_pair(call_lut, call_deq, repeat)
    scale = np.abs(ref).max()
    return {"n": n, "k": k, "bits": b, "lut_ms": 1e3 * t_lut, "dequant_ms": 1e3 * t_deq,
            "ratio_lut_over_dequant": t_lut / t_deq,
            "lut_max_err": float(np.abs(out_l - ref).max() / scale),
            "dequant_max_err": float(np.abs(out_d - ref).max() / scale),
            "weight_bytes_lut": int(planes.nbytes), "weight_bytes_dequant": int(words.nbytes)}


# ------------------------------------------------------------------------------------------------
# the cost model for these kernels on this core
# ------------------------------------------------------------------------------------------------
#: AMD Zen 3 per-core limits (AMD Software Optimization Guide for AMD Family 19h Processors, pub.
#: 56665 rev 3.00, §2.1 and §2.10-2.12): 6 macro-ops dispatched per cycle, 3 loads and 2 stores per
#: cycle, 4 integer ALUs, 4 256-bit FP/vector pipes (8 fp32 lanes each)
ZEN3 = {"dispatch_per_cycle": 6, "loads_per_cycle": 3, "fp32_lanes": 8}
#: macro-ops of the compiled inner loops (``--asm`` shows the LUT loop is scalar: LLVM does not turn
#: the table read into a gather; the dequant loop is 8-lane AVX2: vpsrld, vpand, vcvtdq2ps, vfmadd):
#: LUT per lookup: half an index-byte load, nibble and/shift, table load, add = 3.5;
#: dequant per 8 weights: word, activation and partial-sum loads, shift, and, convert, FMA, store = 8
LUT_OPS_PER_LOOKUP = 3.5
DEQ_OPS_PER_VECTOR = 8


#: the catalog's W1-W4 formats with per-64 groups (the kernels' weights): b planes, groups of 64
W_FORMATS = {1: "int1_g64", 2: "int2_asym_g64", 3: "int3_asym_g64", 4: "int4_asym_g64"}


def model_cycles(n: int, k: int, b: int) -> tuple[float, float]:
    """Predicted core cycles of the two kernels, macro-ops over the dispatch width (the binding
    limit: the loads, 1.5 per lookup and 3 per 8 weights, stay within 3 per cycle); the weights of
    these shapes (at most 22.5 MB) stream from the 32 MB L3.

    LUT: hwsim's LUT unit closed form (:func:`hwsim.arch.lut.lut_counts`, :func:`~hwsim.arch.lut.
    lut_cycles`: ``n k b / 4`` lookups plus ``n k / 64 x b`` aggregations at ``6 / 3.5`` per cycle,
    ``k / 4 x 16`` table entries at ``6 / 5`` per cycle, added). Dequant: the fields it unpacks
    (``n k``; 70 per 64 weights at b = 3) in 8-lane vectors of 8 macro-ops. Returns
    (lut_cycles, dequant_cycles)."""
    import hwsim
    from hwsim.arch.energy import operand_bits
    from hwsim.arch.lut import lut_counts, lut_cycles

    d = ZEN3["dispatch_per_cycle"]
    c = lut_counts(1, k, n, operand_bits(hwsim.format(W_FORMATS[b])), g=4, mirror=False, table_bits=32,
                   int_tables=True)
    lut = float(lut_cycles(c, 1, d / LUT_OPS_PER_LOOKUP, d / 5, False))
    per = 32 // b  # fields per word; a 64-group takes whole words (b = 3: 7 words, 70 fields)
    fields = n * (k // GROUP) * (-(-GROUP // per) * per)
    deq = fields / ZEN3["fp32_lanes"] * DEQ_OPS_PER_VECTOR / d
    return lut, deq


# ------------------------------------------------------------------------------------------------
# T-MAC's claims vs the catalog entries
# ------------------------------------------------------------------------------------------------
#: BitNet-b1.58-3B (1bitLLM/bitnet_b1_58-3B config.json: hidden 3200, intermediate 8640, 26 layers,
#: 32 heads, vocab 32002): the per-token GEMVs (N, K), lm_head kept in fp16 by T-MAC
BITNET_3B = {"hidden": 3200, "intermediate": 8640, "layers": 26}
CLAIMS = [("tmac-m2-core", {}, 30.0, "1 M2-Ultra core"), ("tmac-m2-core", {"units": 8, "dram_gb_per_s": 400}, 71.0,
                                                         "8 M2-Ultra cores"),
          ("tmac-rpi5", {}, 11.0, "Raspberry Pi 5")]


def bitnet_token_cycles(acc) -> tuple[float, float]:
    """Cycles and compute cycles of one decoded token's Linear GEMVs on ``acc`` (ternary weights in
    T-MAC's 2-bit layout: ``ternary_tq2``)."""
    import hwsim

    h, i, L = BITNET_3B["hidden"], BITNET_3B["intermediate"], BITNET_3B["layers"]
    shapes = [(h, h)] * 4 + [(i, h)] * 2 + [(h, i)]  # q k v o (BitNet-3B: no GQA), gate up, down
    a, w = hwsim.format("fp16"), hwsim.format("ternary_tq2")
    cyc = comp = 0.0
    for n, k in shapes:
        c = acc.gemm(1, k, n, a, w)
        cyc += float(c.cycles)
        comp += float(c.compute_cycles)
    return cyc * L, comp * L


def claims_table() -> list[dict]:
    from hwsim.arch import accelerator

    rows = []
    for name, over, claim, what in CLAIMS:
        acc = accelerator(name, **over)
        cyc, comp = bitnet_token_cycles(acc)
        tps = float(acc.clock_mhz) * 1e6 / cyc
        rows.append({"machine": what, "entry": name, "overrides": over, "claim_tok_s": claim,
                     "model_tok_s": tps, "model_compute_only_tok_s": float(acc.clock_mhz) * 1e6 / comp,
                     "model_over_claim": tps / claim})
    return rows


#: SmolLM2-135M's Linear GEMMs per decoder layer (N, K) and its 30 layers (HuggingFaceTB/SmolLM2-135M
#: config.json: hidden 576, intermediate 1536, 9 heads / 3 KV heads of 64)
SMOLLM2_LINEARS = [(576, 576), (192, 576), (192, 576), (576, 576), (1536, 576), (1536, 576), (576, 1536)]
SMOLLM2_LAYERS = 30
ACCELERATORS = ("mx-systolic-32", "bitmod-like", "lut-tensorcore-like")


def smollm2_decode_table() -> list[dict]:
    """One decoded token of SmolLM2-135M's quantized Linears (M = 1 GEMVs, fp16 activations) on
    each accelerator, per W1-W4 format: cycles, energy, area."""
    import hwsim
    from hwsim.arch import accelerator

    rows = []
    for name in ACCELERATORS:
        acc = accelerator(name)
        for b, w in W_FORMATS.items():
            a, fw = hwsim.format("fp16"), hwsim.format(w)
            cyc = e = 0.0
            for n, k in SMOLLM2_LINEARS:
                c = acc.gemm(1, k, n, a, fw)
                cyc += float(c.cycles) * SMOLLM2_LAYERS
                e += float(c.energy_pj) * SMOLLM2_LAYERS
            rows.append({"accelerator": name, "weights": w, "bits": b, "cycles": cyc, "energy_uj": e / 1e6,
                         "area_mm2": float(acc.area_um2(a, fw)) / 1e6})
    return rows


def summarize_reports(paths: list[str]) -> list[dict]:
    """Accuracy of ``hwsim run --compare ... --json`` reports, and the cost of their quantized Linear
    GEMMs (attention and lm_head excluded) re-priced on :data:`ACCELERATORS` with the current
    catalog (:func:`hwsim.study.reprice.reprice`)."""
    from hwsim.arch import accelerator
    from hwsim.study.reprice import reprice

    accs = [accelerator(name) for name in ACCELERATORS]
    rows = []
    for path in paths:
        with open(path) as f:
            runs = [r for r in json.load(f)]
        seen = set()
        for run in runs:
            if run["weights"] in seen:  # --compare on several accelerators repeats each run
                continue
            seen.add(run["weights"])
            for acc in accs:
                r = reprice(run, acc).as_dict()
                lin = [x for x in r["layers"] if x["kind"] == "linear" and x["w_format"] != "fp32"]
                rows.append({"file": os.path.basename(path), "accelerator": acc.name, "weights": run["weights"],
                             "perplexity": run["metric"], "baseline": run["baseline_metric"],
                             "linear_cycles": sum(x["cycles_total"] for x in lin),
                             "linear_energy_uj": sum(x["energy_pj_total"] for x in lin) / 1e6,
                             "area_mm2": r["area_um2"] / 1e6})
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--json", help="write the measurements here")
    p.add_argument("--asm", action="store_true", help="print the vector instructions of the compiled inner loops")
    p.add_argument("--reports", help="comma-separated `hwsim run --compare --json` files: print their accuracy and "
                                     "Linear-GEMM costs (no kernel timing)")
    args = p.parse_args()
    if args.reports:
        for r in summarize_reports(args.reports.split(",")):
            print(f"{r['file']:12s} {r['accelerator']:20s} {r['weights']:14s} ppl {r['perplexity']:12.4f} "
                  f"(fp32 {r['baseline']:.4f})  Linear cycles {r['linear_cycles']:.4g}  energy "
                  f"{r['linear_energy_uj']:.4g} uJ  area {r['area_mm2']:.3f} mm2")
        print("\nSmolLM2-135M, one decoded token (quantized Linears, M = 1, fp16 activations):")
        for r in smollm2_decode_table():
            print(f"  {r['accelerator']:20s} {r['weights']:14s} cycles {r['cycles']:10.4g}  energy "
                  f"{r['energy_uj']:8.3f} uJ  area {r['area_mm2']:.3f} mm2")
        return 0
    nb.set_num_threads(1)
    rows = []
    print(f"numba threads: {nb.get_num_threads()}")
    print(f"{'N':>6} {'K':>5} {'b':>2} {'LUT ms':>9} {'dequant ms':>10} {'LUT/deq':>8} {'model':>7} "
          f"{'model/meas':>10} {'LUT err':>9} {'deq err':>9}")
    for n, k in SHAPES:
        for b in BITS:
            r = run_shape(n, k, b, args.repeat)
            lut_c, deq_c = model_cycles(n, k, b)
            r["model_ratio"] = lut_c / deq_c
            r["model_over_measured"] = r["model_ratio"] / r["ratio_lut_over_dequant"]
            rows.append(r)
            print(f"{n:>6} {k:>5} {b:>2} {r['lut_ms']:9.3f} {r['dequant_ms']:10.3f} "
                  f"{r['ratio_lut_over_dequant']:8.2f} {r['model_ratio']:7.2f} {r['model_over_measured']:10.2f} "
                  f"{r['lut_max_err']:9.2e} {r['dequant_max_err']:9.2e}")
    for n, _k in SHAPES:
        t = {r["bits"]: r["lut_ms"] for r in rows if r["n"] == n}
        slope = np.polyfit(list(t), list(t.values()), 1)
        fit = np.polyval(slope, list(t))
        r2 = 1 - np.sum((np.array(list(t.values())) - fit) ** 2) / np.sum((np.array(list(t.values()))
                                                                            - np.mean(list(t.values()))) ** 2)
        cross = [r["bits"] for r in rows if r["n"] == n and r["ratio_lut_over_dequant"] < 1]
        print(f"N={n}: LUT time = {slope[0]:.3f} ms/bit x b + {slope[1]:.3f} ms (R^2 {r2:.4f}); "
              f"T(4)/T(1) = {t[4] / t[1]:.2f}; LUT faster than dequant at b in {cross or 'none'}")
    claims = claims_table()
    print("\nT-MAC claims (BitNet-b1.58-3B decode) vs the catalog's LUT entries:")
    for c in claims:
        print(f"  {c['machine']:18s} claim {c['claim_tok_s']:5.1f} tok/s  model {c['model_tok_s']:6.1f} tok/s "
              f"(compute only {c['model_compute_only_tok_s']:6.1f})  model/claim {c['model_over_claim']:.2f}")
    if args.asm:
        lut = make_lut_gemv(2)
        q, s, z = make_weights(64, 256, 2)
        lut(pack_planes(q, 2), np.zeros(1024, np.int32), np.ones(4, np.float32), np.ones(4, np.float32), s, z,
            np.zeros(64, np.float32))
        deq = make_dequant_gemv(2)
        deq(pack_words(q, 2), np.ones((16, 16), np.float32), np.ones(4, np.float32), s, z, np.zeros(64, np.float32))
        for name, fn in (("lut", lut), ("dequant", deq)):
            asm = next(iter(fn.inspect_asm().values()))
            ops = [ln.split()[0] for ln in asm.splitlines() if ln.strip().startswith("v")]
            print(name, {op: ops.count(op) for op in sorted(set(ops))})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"kernels": rows, "claims": claims}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
