"""The typed results of a bit-serial GEMM carry the weight passes into every field that depends
on them (BitMoD / Stripes: a PE spends ``ceil(w_bits / bits_per_cycle)`` cycles on each weight,
and pays its MAC energy once per pass). Expectations are written out by hand from the pass count."""

from __future__ import annotations

import pytest

import hwsim
import hwsim.arch as arch
from hwsim.arch.bitserial import bitserial_gemm
from hwsim.arch.systolic import systolic_gemm


@pytest.mark.parametrize("w,passes", [("int8", 4), ("int4", 2), ("fp6_e2m3", 3)])
def test_mac_energy_is_paid_once_per_pass(w: str, passes: int) -> None:
    """bitmod-like takes 2 weight bits per cycle; with a fixed 1 pJ MAC the MAC energy of
    ``m * k * n`` MACs is exactly ``m * k * n * passes`` pJ."""
    acc = arch.accelerator("bitmod-like", e_mac_pj=1.0)
    assert acc.unit.w_bits_per_cycle == 2
    m, k, n = 64, 128, 32
    cost = acc.gemm(m, k, n, w_format=hwsim.format(w))
    assert float(cost.energy_mac_pj) == m * k * n * passes


@pytest.mark.parametrize("df", ["ws", "is", "os"])
@pytest.mark.parametrize("bits,per_cycle,passes", [(8, 2, 4), (3, 1, 3), (1, 2, 1)])
def test_stretch_divides_both_utilizations_by_the_passes(df: str, bits: int, per_cycle: int, passes: int) -> None:
    base = systolic_gemm(16, 16, df, 100, 200, 50)
    got = bitserial_gemm(16, 16, df, 100, 200, 50, bits, per_cycle)
    assert got.weight_passes == passes
    assert got.cycles == base.cycles * passes
    assert got.array.utilization == base.utilization / passes
    assert got.array.compute_utilization == base.compute_utilization / passes
    if df != "os":  # ws / is: the two fields differ, so reading one for the other is caught
        assert base.compute_utilization != base.utilization
