"""cocotb bench of rtl/fp_mul.v: every operand pair of one minifloat, checked against hwsim.

The golden model is hwsim's own decoder (``hwsim.format(HWSIM_FORMAT).element.table()``: the value
of every code); the bench never re-implements the format. The product of two decoded values is
exact in float64 (at most 2 x 11 significand bits), and so is the RTL's
``(-1)^p_sign * p_sig * 2^(p_exp - 2 bias - 2 MAN_BITS)``, so the comparison is exact, signs of
zero included. Environment: HWSIM_FORMAT (a catalog name, e.g. fp8_e4m3), HWSIM_LANES (the
LANES parameter of fp_mul_lanes). Writes bench.json (pairs checked, mismatches, seconds) in the
run folder.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import Timer

import hwsim


def _check(table: np.ndarray, bias: int, man_bits: int, a: np.ndarray, b: np.ndarray,
           fields: dict[str, np.ndarray]) -> tuple[int, list[str]]:
    """Number of mismatching pairs and the first 20 described (0, [] when all agree exactly)."""
    want = table[a] * table[b]
    nan, inf, sign = fields["nan"], fields["inf"], fields["sign"]
    got = np.ldexp(fields["sig"].astype(np.float64), fields["exp"] - 2 * bias - 2 * man_bits)
    got = np.where(sign == 1, -got, got)
    got = np.where(inf == 1, np.where(sign == 1, -np.inf, np.inf), got)
    got = np.where(nan == 1, np.nan, got)
    same = (np.isnan(want) & np.isnan(got)) | ((want == got) & (np.signbit(want) == np.signbit(got)))
    same &= ~((nan == 1) & (inf == 1))
    bad = np.flatnonzero(~same)
    return len(bad), [f"a=0x{a[i]:02x} b=0x{b[i]:02x}: hwsim {want[i]!r}, rtl nan={nan[i]} inf={inf[i]} "
            f"sign={sign[i]} exp={fields['exp'][i]} sig={fields['sig'][i]} ({got[i]!r})" for i in bad[:20]]


@cocotb.test()
async def every_operand_pair(dut) -> None:  # noqa: ANN001 (cocotb's handle type)
    el = hwsim.format(os.environ["HWSIM_FORMAT"]).element
    lanes = int(os.environ.get("HWSIM_LANES", "32"))
    e_bits, m_bits = el.exp_bits, el.man_bits
    width = 1 + e_bits + m_bits
    out_w = 3 + (e_bits + 1) + (2 * m_bits + 2)
    n = 1 << width
    a_all = np.repeat(np.arange(n), n)
    b_all = np.tile(np.arange(n), n)
    pairs = n * n
    words = []
    t0 = time.perf_counter()
    for start in range(0, pairs, lanes):
        a_chunk = a_all[start:start + lanes].tolist()
        b_chunk = b_all[start:start + lanes].tolist()
        a_chunk += [0] * (lanes - len(a_chunk))
        b_chunk += [0] * (lanes - len(b_chunk))
        dut.a.value = sum(c << (i * width) for i, c in enumerate(a_chunk))
        dut.b.value = sum(c << (i * width) for i, c in enumerate(b_chunk))
        await Timer(1, unit="ns")
        words.append(dut.p.value.to_unsigned())
    seconds = time.perf_counter() - t0
    mask = (1 << out_w) - 1
    lane_words = np.array([(w >> (i * out_w)) & mask for w in words for i in range(lanes)][:pairs],
                          dtype=np.int64)
    sig_w, exp_w = 2 * m_bits + 2, e_bits + 1
    fields = {
        "sig": lane_words & ((1 << sig_w) - 1),
        "exp": (lane_words >> sig_w) & ((1 << exp_w) - 1),
        "sign": (lane_words >> (sig_w + exp_w)) & 1,
        "inf": (lane_words >> (sig_w + exp_w + 1)) & 1,
        "nan": (lane_words >> (sig_w + exp_w + 2)) & 1,
    }
    count, bad = _check(el.table(), el.bias, m_bits, a_all, b_all, fields)
    with open("bench.json", "w") as fh:
        json.dump({"format": os.environ["HWSIM_FORMAT"], "pairs": pairs, "lanes": lanes,
                   "mismatches": count, "drive_s": round(seconds, 3)}, fh)
    assert not count, f"{count} mismatching pairs (first 20):\n" + "\n".join(bad)
