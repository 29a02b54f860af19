"""cocotb bench of rtl/olive_lane.v (+ rtl/olive_decoder.v) against hwsim's OliVe codec.

Golden model: hwsim itself. Pair words come from ``hwsim.format(F).encode(w).meta["packed"]`` (or,
for the exhaustive sweep, every word, whose codes hwsim's ``decode`` checks against the packed
bytes), the decoded values in type units from ``fmt.decode`` of the same ``Encoded`` with unit scales,
the activation codes from ``hwsim.format("int8_tensor").encode``; the bench never re-implements the
format. The RTL accumulator must equal ``sum(decoded_type_units * activation_codes)`` exactly, and
``acc * scale`` must match ``fmt.decode(enc) . activations`` within float32 rounding of the decoded
values. Pairs hwsim refuses to decode (FormatError) must raise the lane's ``bad`` flag.

Environment: HWSIM_FORMAT (olive4, olive8, ...), HWSIM_LANES (LANES of olive_lanes), HWSIM_DOTS
(random dot products per normal type, default 256), HWSIM_SEED. Writes bench.json in the run folder.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import Timer

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.encoded import Encoded
from hwsim.synth.bench import record_bench
from hwsim.synth.params import olive_flint_input, olive_lane_params


class Lanes:
    """Drives olive_lanes: one clock step feeds every lane one pair word and two activations."""

    def __init__(self, dut: Any, bits: int, act_bits: int, acc_bits: int, lanes: int) -> None:
        self.dut, self.bits, self.act_bits, self.acc_bits, self.lanes = dut, bits, act_bits, acc_bits, lanes
        self.steps = 0

    @staticmethod
    def _pack(values: np.ndarray, width: int) -> int:
        mask = (1 << width) - 1
        return sum((int(v) & mask) << (i * width) for i, v in enumerate(values))

    async def step(self, w: np.ndarray, x_hi: np.ndarray, x_lo: np.ndarray, clr: bool, flint: int) -> None:
        d = self.dut
        d.w.value = self._pack(w, 2 * self.bits)
        d.x_hi.value = self._pack(x_hi, self.act_bits)
        d.x_lo.value = self._pack(x_lo, self.act_bits)
        d.clr.value, d.en.value, d.flint.value = int(clr), 1, flint
        d.clk.value = 0
        await Timer(1, unit="ns")  # inputs settle with the clock low
        d.clk.value = 1
        await Timer(1, unit="ns")  # rising edge: the lanes accumulate; acc is readable
        self.steps += 1

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """Signed accumulators and bad flags of every lane."""
        word = self.dut.acc.value.to_unsigned()
        mask, half = (1 << self.acc_bits) - 1, 1 << (self.acc_bits - 1)
        acc = [(word >> (i * self.acc_bits)) & mask for i in range(self.lanes)]
        bad_word = self.dut.bad.value.to_unsigned()
        return (np.array([a - (1 << self.acc_bits) if a >= half else a for a in acc], dtype=object),
                np.array([(bad_word >> i) & 1 for i in range(self.lanes)]))


def _setup(dut: Any) -> tuple[Any, dict[str, int], Lanes, np.random.Generator]:
    fmt = hwsim.format(os.environ["HWSIM_FORMAT"])
    params = olive_lane_params(fmt)
    lanes = Lanes(dut, fmt.bits, params["ACT_BITS"], params["ACC_BITS"], int(os.environ.get("HWSIM_LANES", "32")))
    dut.clk.value, dut.en.value, dut.clr.value, dut.flint.value = 0, 0, 0, 0
    return fmt, params, lanes, np.random.default_rng(int(os.environ.get("HWSIM_SEED", "12")))


def _words_of_packed(packed: np.ndarray, bits: int) -> np.ndarray:
    """Pair words {code(2k), code(2k+1)} from hwsim's packed bytes (rows x bytes): 4-bit: the byte,
    8-bit: the two bytes of a pair, the first one high."""
    p = np.asarray(packed).astype(np.int64)
    return p if bits == 4 else (p[..., 0::2] << 8) | p[..., 1::2]


def _unit_values(fmt: Any, enc: Encoded) -> np.ndarray:
    """hwsim's decoded values in type units: decode with every scale set to 1 (exact integers)."""
    ones = np.ones_like(np.asarray(enc.scales, dtype=np.float32))
    return np.asarray(fmt.decode(dataclasses.replace(enc, scales=ones)), dtype=np.float64)


def _pair_encoded(fmt: Any, words: np.ndarray, selector: int) -> Encoded:
    """An Encoded of one row holding the given pair words (codes and packed bytes agree only when
    the nibble / byte order is the one hwsim packs: its decode checks)."""
    bits = fmt.bits
    mask = (1 << bits) - 1
    codes = np.stack([(words >> bits) & mask, words & mask], axis=1).reshape(1, -1).astype(np.uint8)
    packed = words.astype(np.uint8).reshape(1, -1) if bits == 4 else codes.copy()
    return Encoded(codes=codes, scales=np.ones((1, 1), np.float32), axis=1, format=fmt.name,
                   meta={"selector": np.uint8(selector), "packed": packed})


@cocotb.test()
async def every_pair_word(dut) -> None:  # noqa: ANN001 (cocotb's handle type)
    """Every pair word (256 for 4-bit, 65,536 for 8-bit) x every normal type of the format, each
    with several activation pairs (extremes and random); one pair per dot product (clr each step)."""
    fmt, params, lanes, rng = _setup(dut)
    bits, act = fmt.bits, params["ACT_BITS"]
    lo_a, hi_a = -(1 << (act - 1)), (1 << (act - 1)) - 1
    words = np.arange(1 << (2 * bits), dtype=np.int64)
    ident = fmt.identifier
    has_id = (((words >> bits) & ((1 << bits) - 1)) == ident) | ((words & ((1 << bits) - 1)) == ident)
    n_act = 16 if bits == 4 else 2
    checked = mismatches = illegal = 0
    bad_msgs: list[str] = []
    t0 = time.perf_counter()
    for sel in range(len(fmt.normals)):
        flint = olive_flint_input(fmt, sel)
        # hwsim's values of every word: one decode for the words without an identifier, one per word
        # with one (hwsim raises FormatError on the pairs it never produces)
        values = np.zeros((len(words), 2))
        legal = np.ones(len(words), bool)
        plain = words[~has_id]
        values[~has_id] = _unit_values(fmt, _pair_encoded(fmt, plain, sel)).reshape(-1, 2)
        for w in words[has_id]:
            try:
                values[w] = _unit_values(fmt, _pair_encoded(fmt, np.array([w]), sel)).reshape(2)
            except FormatError:
                legal[w] = False
        acts = [(1, 0), (0, 1), (lo_a, lo_a), (hi_a, lo_a)]
        acts += [tuple(rng.integers(lo_a, hi_a + 1, 2)) for _ in range(n_act - len(acts))]
        if bits == 8:
            acts = [(1, 1 << (act - 2)), (lo_a, hi_a)]  # 65,536 words: two activation pairs each
        cases = [(w, a) for a in acts for w in words]
        for start in range(0, len(cases), lanes.lanes):
            chunk = cases[start:start + lanes.lanes]
            chunk += [chunk[-1]] * (lanes.lanes - len(chunk))
            w = np.array([c[0] for c in chunk])
            xh = np.array([c[1][0] for c in chunk])
            xl = np.array([c[1][1] for c in chunk])
            await lanes.step(w, xh, xl, clr=True, flint=flint)
            acc, bad = lanes.read()
            n = min(lanes.lanes, len(cases) - start)
            for i in range(n):
                wi = int(w[i])
                want = int(values[wi, 0]) * int(xh[i]) + int(values[wi, 1]) * int(xl[i]) if legal[wi] else 0
                ok = bad[i] == (0 if legal[wi] else 1) and acc[i] == want
                checked += 1
                if not ok:
                    mismatches += 1
                    if len(bad_msgs) < 20:
                        bad_msgs.append(f"{fmt.normals[sel]} word=0x{wi:0{bits // 2}x} x=({xh[i]},{xl[i]}): hwsim "
                                        f"{'illegal' if not legal[wi] else values[wi].tolist()} -> {want}; "
                                        f"rtl acc={acc[i]} bad={bad[i]}")
        illegal += int((~legal).sum())
    seconds = time.perf_counter() - t0
    record_bench("every_pair_word", {"format": fmt.name, "words": len(words), "types": list(fmt.normals),
                               "checked": checked, "illegal_words": illegal, "mismatches": mismatches,
                               "drive_s": round(seconds, 3)})
    assert not mismatches, f"{mismatches} of {checked} mismatching (first 20):\n" + "\n".join(bad_msgs)


@cocotb.test()
async def random_tensors_end_to_end(dut) -> None:  # noqa: ANN001
    """N(0,1) weights with injected outliers, encoded by hwsim (per-channel scales, the type chosen
    by hwsim; also forced to each of the format's normal types), packed bytes -> RTL dot products
    against int8_tensor activation codes, one dot product per lane."""
    fmt0, params, lanes, rng = _setup(dut)
    bits = fmt0.bits
    timing = {"encode_s": 0.0, "sim_s": 0.0}
    encode_each: list[float] = []
    act_fmt = hwsim.format("int8_tensor")
    dots = int(os.environ.get("HWSIM_DOTS", "256"))
    variants = [fmt0] + ([fmt0.replace(normals=(k,)) for k in fmt0.normals] if len(fmt0.normals) > 1 else [])
    stats = {"dots": 0, "pairs": 0, "outliers": 0, "mismatches": 0, "scaled_mismatches": 0, "types": []}
    msgs: list[str] = []
    t0 = time.perf_counter()
    for fmt in variants:
        for batch in range(-(-dots // (lanes.lanes * len(variants)))):  # ceil: at least `dots` in all
            L = 256 if batch % 4 else 255  # an odd length: the last pair's implicit partner
            wts = rng.standard_normal((lanes.lanes, L)).astype(np.float32)
            hit = rng.random((lanes.lanes, L)) < 0.03  # injected outliers, some in the same pair
            wts[hit] *= rng.uniform(4.0, 40.0, hit.sum()).astype(np.float32)
            t_enc = time.perf_counter()
            enc = fmt.encode(wts)
            sel = int(np.asarray(enc.meta["selector"]))
            flint = olive_flint_input(fmt, sel)
            stats["types"].append(fmt.normals[sel])
            words = _words_of_packed(enc.meta["packed"], bits)  # [lanes, pairs]
            xa_enc = act_fmt.encode(rng.standard_normal((lanes.lanes, L + L % 2)).astype(np.float32))
            xa = np.asarray(xa_enc.codes).astype(np.int8).astype(np.int64)
            t_sim = time.perf_counter()
            timing["encode_s"] += t_sim - t_enc
            encode_each.append(round(t_sim - t_enc, 3))
            for k in range(words.shape[1]):
                await lanes.step(words[:, k], xa[:, 2 * k], xa[:, 2 * k + 1], clr=k == 0, flint=flint)
            acc, bad = lanes.read()
            timing["sim_s"] += time.perf_counter() - t_sim
            units = _unit_values(fmt, enc).astype(np.int64)  # [lanes, L]
            want = (units * xa[:, :L]).sum(axis=1)
            decoded = np.asarray(fmt.decode(enc), np.float64)
            ref = (decoded * xa[:, :L]).sum(axis=1)
            scale = np.asarray(enc.scales, np.float64).reshape(-1)
            bound = (np.abs(decoded * xa[:, :L]).sum(axis=1)) * 2.0 ** -23 + 1e-30
            for i in range(lanes.lanes):
                if acc[i] != int(want[i]) or bad[i]:
                    stats["mismatches"] += 1
                    if len(msgs) < 10:
                        msgs.append(f"{fmt.name}/{fmt.normals[sel]} lane {i}: hwsim {int(want[i])}, rtl {acc[i]} "
                                    f"bad={bad[i]}")
                if abs(float(acc[i]) * scale[i] - ref[i]) > bound[i]:
                    stats["scaled_mismatches"] += 1
            stats["dots"] += lanes.lanes
            stats["pairs"] += int(words.size)
            stats["outliers"] += int(np.asarray(enc.meta["outlier_mask"]).sum())
    stats["drive_s"] = round(time.perf_counter() - t0, 3)
    stats.update({k: round(v, 3) for k, v in timing.items()})
    stats["encode_each_s"] = encode_each
    stats["types"] = sorted(set(stats["types"]))
    record_bench("random_tensors_end_to_end", stats)
    assert stats["outliers"] > 0, "no outliers were encoded: the test does not exercise the abfloat path"
    assert not stats["mismatches"] and not stats["scaled_mismatches"], f"{stats}\n" + "\n".join(msgs)
