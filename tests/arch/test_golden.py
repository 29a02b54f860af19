"""Regression golden values: (accelerator, workload, dataflow) -> (cycles, energy_pj).

Each number is derived below by hand from the model as documented (docs/cost-models.md), with
Python used only as a calculator — never by calling hwsim. Energies use the Horowitz ISSCC'14
45 nm table scaled linearly to the accelerator's node; DRAM energy is not node-scaled.
"""

from __future__ import annotations

import math

import pytest

import hwsim.arch as arch

# --- shared hand arithmetic --------------------------------------------------------------
LN = math.log
B_MULT = LN(3.1 / 0.2) / LN(1024 / 64)  # int-mult power law through 8x8 and 32x32
B_ADD = LN(0.1 / 0.03) / LN(32 / 8)  # int-add power law through 8b and 32b
B_SRAM = LN(100 / 10) / LN(1024 / 8)  # SRAM per-bit power law through 8 KiB and 1 MiB


def sram_bit(kib: float) -> float:  # pJ per bit at 45 nm
    return 10 / 64 * (kib / 8) ** B_SRAM


MACS_256 = 256**3  # 16,777,216

# Row 1: tpu-v1-like, one 256x256x256 GEMM, ws, int8 x int8 -> int32, 28 nm, DDR3 34 GB/s.
#  compute: 1 fold of 2*256 + 256 + 256 - 2 = 1022 cycles -> 1021
#  DRAM: A, W, O = 65536 B each (all fit: 24 MiB / 256 KiB / one psum pass) = 196,608 B
#        at 34e9 / 700e6 B/cycle = 4047.76 cycles; double buffered, 1 fold:
#        max(1021, 4047.76) + 4047.76 = 8095.5 -> 8096
TPU_S = 28 / 45
TPU_DRAM_B = 3 * 65536
TPU_CYCLES = math.ceil(2 * TPU_DRAM_B / (34e9 / 700e6))
TPU_ENERGY = (MACS_256 * (0.2 + 0.1) * TPU_S  # int8 mult + int32 add
              + MACS_256 * (8 + 8 + 32) * 0.0031 * TPU_S  # pipeline registers
              + 65536 * 8 * sram_bit(24576) * TPU_S  # ifmap reads (1 column fold)
              + 65536 * 8 * sram_bit(256) * TPU_S  # filter reads (once)
              + 65536 * 32 * sram_bit(4096) * TPU_S  # ofmap writes (1 row fold), 32-bit psums
              + TPU_DRAM_B * 8 * 20.3)  # DDR3

# Row 2: eyeriss-like, same GEMM, ws, int16 x int16 -> int16, 65 nm, 1.6 GB/s at 200 MHz.
#  compute: ceil(256/12) = 22 row folds x ceil(256/14) = 19 col folds = 418 folds of
#           2*12 + 14 + 256 - 2 = 292 -> 418 * 292 - 1 = 122,055
#  DRAM: A = 131,072 B > 54 KiB -> re-read 19 times = 2,490,368 B; W = 131,072 B > 73.5 KiB,
#        one pass = 131,072 B; O: 22 passes but live psums 256 x 14 x 2 B = 7 KiB fit ->
#        written once 131,072 B. Total 2,752,512 B / 8 B/cycle = 344,064 cycles;
#        max(122055, 344064) + 344064 / 418 = 344,887.1 -> 344,888
EYE_S = 65 / 45
EYE_DRAM_B = 19 * 131072 + 131072 + 131072
EYE_CYCLES = math.ceil(EYE_DRAM_B / 8 + EYE_DRAM_B / 8 / 418)
EYE_ENERGY = (MACS_256 * (0.2 * 4**B_MULT + 0.03 * 2**B_ADD) * EYE_S  # 16x16 mult, 16b add
              + MACS_256 * 48 * 0.055 * EYE_S  # Eyeriss RF figure, 16+16+16 bits
              + 65536 * 19 * 16 * sram_bit(54) * EYE_S
              + 65536 * 16 * sram_bit(73.5) * EYE_S
              + 65536 * 22 * 16 * sram_bit(54) * EYE_S
              + EYE_DRAM_B * 8 * 20.3)

# Row 3: mx-systolic-32 switched to os, same GEMM, mxfp8_e4m3 (p=4, e=4, 8.25 b) x mxfp4
#  (p=2, e=2, 4.25 b) -> fp32, 28 nm, HBM2 64 B/cycle.
#  compute: 8 x 8 folds of 32 + 32 + 256 - 2 = 318 -> 20,351
#  DRAM: A 67,584 B, W 34,816 B (fit), O once at 8.25 b = 67,584 B; 169,984 B / 64 = 2656
#        cycles < compute: 20351 + 2656 / 64 = 20,392.5 -> 20,393
R16 = 1.1 - 0.2 * (121 / 64) ** B_MULT - 0.03 * (6 / 8) ** B_ADD  # fp16 mult minus sig/exp parts
R32 = 3.7 - 0.2 * (576 / 64) ** B_MULT - 0.03 * (9 / 8) ** B_ADD
MX_MAC = (0.2 * (4 * 2 / 64) ** B_MULT  # 4x2-bit significand multiplier
          + 0.03 * (5 / 8) ** B_ADD  # max(4, 2) + 1 = 5-bit exponent add
          + R16 * (6 / 22) ** (LN(R32 / R16) / LN(48 / 22))  # normalize, p_a + p_w = 6
          + 0.9  # fp32 accumulate (p = 24: the fp32 add point itself)
          + 0.03 / 32)  # shared-scale add per 32-element block
MX_S = 28 / 45
MX_DRAM_B = 65536 * 8.25 / 8 * 2 + 65536 * 4.25 / 8
MX_ENERGY = (MACS_256 * MX_MAC * MX_S
             + MACS_256 * (8 + 4 + 32) * 0.0031 * MX_S
             + 65536 * 8 * 8.25 * sram_bit(256) * MX_S  # ifmap: 8 column folds
             + 65536 * 8 * 4.25 * sram_bit(256) * MX_S  # filter: 8 row folds
             + 65536 * 32 * sram_bit(128) * MX_S  # ofmap once, psum width
             + MX_DRAM_B * 8 * 3.9)  # HBM2

WORKLOADS = {"gemm-256": [arch.gemm("g", 256, 256, 256)]}

GOLDEN = {
    ("tpu-v1-like", "gemm-256", "ws"): (TPU_CYCLES, TPU_ENERGY),
    ("eyeriss-like", "gemm-256", "ws"): (EYE_CYCLES, EYE_ENERGY),
    ("mx-systolic-32", "gemm-256", "os"): (20393, MX_ENERGY),
}


def test_hand_cycle_numbers() -> None:
    assert (TPU_CYCLES, EYE_CYCLES) == (8096, 344888)


@pytest.mark.parametrize("key", list(GOLDEN), ids=lambda k: "-".join(k))
def test_golden(key: tuple[str, str, str]) -> None:
    name, wl, dataflow = key
    cycles, energy = GOLDEN[key]
    df = arch.accelerator(name, dataflow=dataflow).run(WORKLOADS.get(wl, wl))
    assert int(df["total_cycles"].to_numpy().sum()) == cycles
    assert float(df["total_energy_pj"].to_numpy().sum()) == pytest.approx(energy, rel=1e-9)
