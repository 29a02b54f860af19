"""``formats compare`` saturation statistics (issue 17 item 7) on tensors whose counts are known
by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hwsim
from hwsim.study.compare import compare_formats


def _block(values: list[float], size: int = 32, fill: float = 1.0) -> np.ndarray:
    return np.asarray(values + [fill] * (size - len(values)), dtype=np.float32)


def test_mxfp4_counts_by_hand() -> None:
    """MXFP4 (E2M1, max 6; OCP MX v1.0 §6.3 scale X = 2^(floor(log2 amax) - 2)).

    Block 1: amax 7.9 -> X = 1; representable magnitudes up to 6, so 7.9, -7.0, 6.2 clamp (3);
    0.2 and -0.1 are below 0.25 (half the 0.5 subnormal step) and flush (2); 0.3 rounds to 0.5;
    0.0 is not counted. Block 2: amax 4 -> X = 1, nothing clamps; 0.24 flushes (1).
    """
    b1 = _block([7.9, -7.0, 6.2, 6.0, 5.0, 0.2, -0.1, 0.0, 0.3])
    b2 = _block([4.0, 0.24, 3.0])
    x = np.stack([np.concatenate([b1, b2])])
    nonzero = 64 - 1
    row = compare_formats([hwsim.format("mxfp4")], [("t", x)]).iloc[0]
    assert row["clamped_frac"] == pytest.approx(3 / nonzero)
    assert row["flushed_frac"] == pytest.approx(3 / nonzero)


def test_nvfp4_amax_scale_clamps_nothing_but_flushes() -> None:
    """NVFP4 scales each block by amax/6 (E4M3-rounded, RNE): 6.2 -> s = 1.0333 -> 1.0 in E4M3?
    6.2/6 = 1.0333 rounds to 1.0 (E4M3 step 0.125 at 1), so 6.2/1.0 = 6.2 > 6 clamps (1);
    1e-3 / 1.0 is below 0.25 and flushes (1)."""
    x = _block([6.2, 1e-3], size=16)[None, :]
    row = compare_formats([hwsim.format("nvfp4")], [("t", x)]).iloc[0]
    assert row["clamped_frac"] == pytest.approx(1 / 16)
    assert row["flushed_frac"] == pytest.approx(1 / 16)


def test_unsaturated_cast_counts_inf_as_clamped() -> None:
    """fp8_e4m3 with saturate=False: 500 > 448 overflows to NaN/Inf -- counted as clamped (E4M3
    has no Inf: OCP FP8 maps overflow to NaN, which is not 'clamped'); e5m2 to Inf."""
    x = np.asarray([[70000.0, 1.0, 2.0, 1e-9]], dtype=np.float32)
    row = compare_formats([hwsim.format("fp8_e5m2", saturate=False)], [("t", x)]).iloc[0]
    assert row["clamped_frac"] == pytest.approx(1 / 4)  # 70000 > 57344 -> Inf
    assert row["flushed_frac"] == pytest.approx(1 / 4)  # 1e-9 < 2^-17 (half of min subnormal 2^-16)


def test_family_formats_report_flushes_only() -> None:
    x = np.asarray([np.linspace(-1, 1, 128)], dtype=np.float32)
    x[0, 64] = 1e-6  # 0 -> tiny: flushes under a per-128 absmax step of 1/7
    row = compare_formats([hwsim.format("bitmod4")], [("t", x)]).iloc[0]
    assert math.isnan(row["clamped_frac"])
    assert row["flushed_frac"] > 0
