"""NVFP4 block dot product (16 E2M1 elements, E4M3 block scales) on rtl/mx_dot.v against block_dot.

The NVFP4 unit is the generic block dot-product unit with SCALE_KIND 1 (E4M3 block scales: the
scale significands multiply the exact sum, 0x00/0x80 zero a block, S.1111.111 is NaN, negative
scales flip the sign) and K = 16; the FP32 tensor scale is applied outside (docs/numerics.md
"Block dot product"). Bench: rtl/tb/mx_dot/bench_mx_dot.py.
"""

from __future__ import annotations

import pytest

from tests.rtl._dot_bench import BLOCKS, SIMS, check_classes, run_dot_bench

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("sim", SIMS)
def test_nvfp4_dot_matches_block_dot(sim: str) -> None:
    result = run_dot_bench("nvfp4", sim, BLOCKS[sim])
    check_classes("nvfp4", result)
