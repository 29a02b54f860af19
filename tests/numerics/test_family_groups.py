"""Group-scaled format families: every group is quantized from its own elements only.

A group-scaled codebook (fp4_g128: per-group scale), AWQ-style asymmetric integers (per-group min /
max) and ShiftAddLLM's BCQ (per-group binary bases) give each group of ``group_size`` consecutive
elements along the axis its own parameters. So a short last group (the axis length not a multiple
of the group size) must give exactly what the same elements give encoded alone, as one group --
the zero padding that lays the groups out in rows must never enter its statistics (min, max,
mean, search errors). Full groups likewise equal their own encoding.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim

#: catalog formats with per-group parameters only, group size 128 (not bitmod4: its group scales
#: are themselves quantized against a per-channel scale, so its groups are not independent)
NAMES = ["fp4_g128", "int4_asym_g128", "int3_asym_g128", "shiftadd3"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("tail", [1, 40, 127])
def test_short_last_group_equals_the_same_elements_alone(name: str, tail: int) -> None:
    fmt = hwsim.format(name)
    G = fmt.group_size
    rng = np.random.default_rng(tail)
    x = rng.standard_normal((3, G + tail)).astype(np.float32)
    x[0, G:] = np.abs(x[0, G:]) + 1.0  # all positive: a padded zero would move the group's min
    x[1, G:] = -np.abs(x[1, G:]) - 1.0  # all negative: ... and its max
    q = np.asarray(fmt.quantize(x, axis=-1))
    alone = np.asarray(fmt.quantize(np.ascontiguousarray(x[:, G:]), axis=-1))
    np.testing.assert_array_equal(q[:, G:], alone, err_msg=f"{name}: short last group of {tail}")
    full = np.asarray(fmt.quantize(np.ascontiguousarray(x[:, :G]), axis=-1))
    np.testing.assert_array_equal(q[:, :G], full, err_msg=f"{name}: full first group")
