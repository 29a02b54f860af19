"""ShiftAddLLM binary-coded quantization (hwsim.numerics.bcq, formats/lowbit.toml).

Expected values: hand-worked one- and two-plane groups, and properties of the paper's alternating
fit (error falls with more planes, scales are powers of two, zero groups and short tails).
"""

from __future__ import annotations

import numpy as np

import hwsim
from hwsim.numerics.bcq import BcqFormat
from tests.numerics.numerics_helpers import assert_same_f32, normal


def nmse(x, q):
    x64 = np.asarray(x, np.float64)
    return float(np.sum((np.asarray(q, np.float64) - x64) ** 2) / np.sum(x64 ** 2))


# ----------------------------------------------------------------------------------------------
# ShiftAddLLM BCQ
# ----------------------------------------------------------------------------------------------
def test_bcq_by_hand_q1_and_zero_tie():
    """q = 1, w = [1, -2, 3, -4]: b = sign(w), alpha = mean|w| = 2.5; 2.5 / 2 = 1.25 < sqrt 2, so
    the nearest power of two in the log domain is 2 (e = 1): values [2, -2, 2, -2], codes
    [1, 0, 1, 0]. w = [1, 1, 1, -1, 0]: alpha = 0.8 -> 0.8 = 1.6 / 2, 1.6 >= sqrt 2 -> 1; the 0
    lies on the midpoint of -1 and +1 -> the larger level (code 1)."""
    f = BcqFormat(name="b1", bits=1, group_size=0)
    enc = f.encode(np.float32([1, -2, 3, -4]))
    assert enc.codes.tolist() == [1, 0, 1, 0] and enc.scales.reshape(-1).tolist() == [1]
    assert f.quantize(np.float32([1, -2, 3, -4])).tolist() == [2, -2, 2, -2]
    enc = f.encode(np.float32([1, 1, 1, -1, 0]))
    assert enc.codes.tolist() == [1, 1, 1, 0, 1] and enc.scales.reshape(-1).tolist() == [0]


def test_bcq_by_hand_q2():
    """q = 2, w = [3, 1, -1, -3]: greedy b1 = [+, +, -, -], alpha1 = 2, r = [1, -1, 1, -1],
    b2 = [+, -, +, -], alpha2 = 1, r = 0. Least squares: B B^T = 4 I, B w = [8, 4] -> alpha = [2, 1]
    (powers of two already). Levels by code (bit 0 = plane 1): 0: -3, 1: 1, 2: -1, 3: 3 -> codes
    [3, 1, 2, 0], exponents [1, 0], exact."""
    f = BcqFormat(name="b2", bits=2, group_size=4)
    w = np.float32([3, 1, -1, -3])
    enc = f.encode(w)
    assert enc.codes.tolist() == [3, 1, 2, 0]
    assert enc.scales.tolist() == [[1, 0]]
    assert f.quantize(w).tolist() == w.tolist()
    np.testing.assert_array_equal(enc.meta["planes"], [[1, 1, -1, -1], [1, -1, 1, -1]])


def test_bcq_error_decreases_with_planes_and_alphas_are_powers_of_two():
    x = normal((32, 512), seed=6)
    errs = []
    for name in ("shiftadd2", "shiftadd3", "shiftadd4"):
        f = hwsim.format(name)
        enc = f.encode(x)
        q = f.quantize(x)
        errs.append(nmse(x, q))
        e = enc.scales.astype(np.int64)  # int8 exponents, groups + (q,)
        assert enc.scales.dtype == np.int8 and e.shape == (32, 4, f.bits)
        assert np.all(np.diff(e, axis=-1) <= 0)  # |alpha| sorted descending
        alpha = np.where(e == -128, 0.0, np.ldexp(1.0, e))
        planes = enc.meta["planes"].astype(np.float64)  # (q, 32, 512) of +-1
        assert set(np.unique(planes)) <= {-1.0, 1.0}
        a = np.repeat(alpha, 128, axis=1)  # (32, 512, q)
        rebuilt = sum(a[..., i] * planes[i] for i in range(f.bits))
        assert_same_f32(rebuilt.astype(np.float32), q, f"{name}: sum_i 2^e_i b_i")
        for i in range(f.bits):  # code bit i <-> plane i+1
            np.testing.assert_array_equal((enc.codes >> i) & 1, planes[i] > 0)
    assert errs[0] > errs[1] > errs[2]
    assert errs[1] < 0.06 and errs[2] < 0.035  # N(0, 1): 3 planes ~0.043, 4 planes ~0.023


def test_bcq_axes_tails_and_zero_groups():
    f = BcqFormat(name="b3g8", bits=3, group_size=8)
    x = normal((5, 21), seed=7)  # 21 = 8 + 8 + 5: a short last group
    x[2] = 0.0
    a = f.encode(x, axis=-1)
    b = f.encode(np.ascontiguousarray(x.T), axis=0)
    np.testing.assert_array_equal(a.codes, b.codes.T)
    assert a.scales.shape == (5, 3, 3) and b.scales.shape == (3, 5, 3)
    np.testing.assert_array_equal(a.scales, b.scales.transpose(1, 0, 2))
    assert np.all(a.scales[2] == -128) and not f.decode(a)[2].any()
    assert_same_f32(f.decode(b), f.quantize(np.ascontiguousarray(x.T), axis=0), "axis 0")
