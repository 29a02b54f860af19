"""DenseShift power-of-two weights (hwsim.numerics.shift, formats/lowbit.toml).

Expected values: the paper's grids written out by hand, zero and tie handling by hand, and a
brute-force search of the per-channel scale.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.shift import denseshift_table
from tests.numerics.numerics_helpers import normal


# ----------------------------------------------------------------------------------------------
# DenseShift
# ----------------------------------------------------------------------------------------------
def test_denseshift_grids():
    """code s << (b-1) | p -> (-1)^s 2^-p: 3-bit +-{1, 1/2, 1/4, 1/8}, 4-bit +-{1 .. 1/128}; no zero."""
    assert denseshift_table(3) == [1, 0.5, 0.25, 0.125, -1, -0.5, -0.25, -0.125]
    t4 = denseshift_table(4)
    assert t4 == [2.0**-p for p in range(8)] + [-(2.0**-p) for p in range(8)]
    for name, table in (("denseshift3", denseshift_table(3)), ("denseshift4", t4)):
        cb = hwsim.format(name).types[0]
        assert list(cb.table) == table and 0.0 not in cb.table
        assert sorted(cb.values().tolist()) == sorted(table)
    with pytest.raises(FormatError):
        denseshift_table(1)


def test_denseshift_zero_and_ties_by_hand():
    """Scale = absmax = 1 (absmax rule): grid [-1, -.5, -.25, -.125, .125, .25, .5, 1], ties up.
    0 and -0 lie on the midpoint of -1/8 and +1/8 -> +1/8 (code 3); 0.0625 -> 1/8; 0.75 (mid of
    1/2 and 1) -> 1; -0.75 -> -1/2; 0.1875 (mid of 1/8 and 1/4) -> 1/4; -0.1875 -> -1/8."""
    f = hwsim.format("denseshift3", scale_rule="absmax")
    x = np.float32([[1.0, 0.0, -0.0, 0.0625, 0.75, -0.75, 0.1875, -0.1875]])
    enc = f.encode(x)
    assert float(enc.scales.reshape(-1)[0]) == 1.0
    assert enc.codes.tolist() == [[0, 3, 3, 3, 0, 5, 2, 7]]
    assert f.quantize(x).tolist() == [[1.0, 0.125, 0.125, 0.125, 1.0, -0.5, 0.25, -0.125]]
    assert np.all(f.quantize(np.zeros((2, 5), np.float32)) == 0)  # an all-zero channel: scale 0


def test_denseshift_mse_search_brute_force():
    """The per-channel scale is the first alpha = absmax k / 100 (k = 50..100) with the smallest
    squared error, recomputed here with a plain nearest-value search (ties up)."""
    f = hwsim.format("denseshift3")
    grid = np.array(sorted(denseshift_table(3)))
    x = normal((3, 50), seed=5)
    enc = f.encode(x)
    for r in range(3):
        row = x[r].astype(np.float64)
        best = None
        for k in range(50, 101):
            s = float(np.float32(np.abs(row).max() * k / 100))
            y = row / s
            idx = [max(i for i in range(8) if abs(v - grid[i]) == np.abs(v - grid).min()) for v in y]
            err = float(np.sum((grid[idx] * s - row) ** 2))
            if best is None or err < best[0]:
                best = (err, s)
        assert float(enc.scales.reshape(-1)[r]) == best[1]
