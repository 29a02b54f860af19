"""BFP / MSFP integer block dot product with shared-exponent alignment on rtl/mx_dot.v.

msfp12 / msfp16 (Darvish Rouhani et al., NeurIPS 2020 §3: sign-magnitude mantissas sharing an
8-bit exponent per 16 elements) and bfp12_b32 (Trukhanov & Soloveychik, arXiv 2403.20137, blocks of
32): integer lanes (rtl/int_mul.v, sign-magnitude), an exact integer sum, the two shared exponents
(E8M0 scales) added and the sum aligned and rounded once to FP32. Checked against block_dot
(rtl/tb/mx_dot/bench_mx_dot.py).
"""

from __future__ import annotations

import pytest

from tests.rtl._dot_bench import BLOCKS, SIMS, check_classes, run_dot_bench

pytestmark = pytest.mark.rtl

BFP_FORMATS = ("msfp12", "msfp16", "bfp12_b32")


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("fmt", BFP_FORMATS)
def test_bfp_dot_matches_block_dot(fmt: str, sim: str) -> None:
    check_classes(fmt, run_dot_bench(fmt, sim, BLOCKS[sim]))
