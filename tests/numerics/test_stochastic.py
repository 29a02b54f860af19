"""Stochastic rounding: unbiased, reproducible, and driven exactly by docs/numerics.md's hash32.

r = hash32(index, seed), index = the element's C-order flat index in the caller's array; the
magnitude rounds up iff r < floor(frac * 2^32). Only element roundings are stochastic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hwsim
from hwsim.catalog import core_formats
from hwsim.numerics import _reference as R
from tests.numerics.impls import IMPLS, encode, quantize
from tests.numerics.numerics_helpers import hash32_numpy

ids = lambda f: f.name  # noqa: E731
FORMATS = [f for f in core_formats() if f.element.bits <= 16] + \
    [hwsim.format("nvfp4", tensor_scale=True).replace(name="nvfp4_ts")]


def between_grid_points(fmt) -> tuple[np.ndarray, np.float32]:
    """A value strictly between two neighbouring grid points (frac about 0.3), inside a block
    whose scale the amax element (a representable value) fixes: (input row, probe value)."""
    el = fmt.element
    vals = np.array(sorted({float(v) for v in el.values() if 0 < v <= el.max}))
    if len(vals) < 2:  # a grid with one positive value (INT2: -1, 0, 1): probe between 0 and it
        lo, hi = 0.0, vals[0]
    else:
        lo, hi = vals[len(vals) // 2], vals[len(vals) // 2 + 1]
    v = np.float32(lo + 0.3 * (hi - lo))
    return np.float32([el.max, v]), v


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_unbiased(fmt, impl: str) -> None:
    """Mean of N stochastic roundings of v is v within 5 standard errors; round-to-nearest is off by
    about 0.3 ulp, i.e. > 50 standard errors at N = 8192."""
    f = fmt.replace(rounding="stochastic", seed=12345)
    row, v = between_grid_points(fmt)
    n = 8192
    if fmt.is_scaled:  # every block holds the amax element, which fixes its scale
        B = fmt.block_size or 16
        x = np.tile(np.concatenate([row[:1], np.full(B - 1, v, np.float32)]), n // (B - 1) + 1)
    else:
        x = np.full(n, v, np.float32)
    x = x.reshape(1, -1)
    q = quantize(impl, f, x).ravel()
    probe = (x.ravel() == v)
    vals = q[probe].astype(np.float64)
    lo, hi = vals.min(), vals.max()
    assert lo < v < hi, f"{f.name}: stochastic rounding of {v} never went both ways ({lo}, {hi})"
    p = (float(v) - lo) / (hi - lo)
    se = (hi - lo) * math.sqrt(p * (1 - p) / vals.size)
    z = (vals.mean() - float(v)) / se
    assert abs(z) < 5, f"{f.name}: mean {vals.mean()} vs {v}: z = {z:.1f}"
    q_near = quantize(impl, fmt.replace(rounding="even"), x).ravel()[probe].astype(np.float64)
    assert abs((q_near.mean() - float(v)) / se) > 20  # the test can tell RNE from stochastic


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_unbiased_across_seeds(fmt) -> None:
    """Same element (index 1), many seeds: the fraction rounded up is frac."""
    row, v = between_grid_points(fmt)
    ups = []
    for seed in range(400):
        q = hwsim.format(fmt.name if fmt.name != "nvfp4_ts" else "nvfp4", rounding="stochastic",
                         seed=seed, **({"tensor_scale": True} if fmt.tensor_scale else {})).quantize(row)
        ups.append(q[1])
    ups = np.array(ups, np.float64)
    lo, hi = ups.min(), ups.max()
    assert lo < v < hi
    p = (float(v) - lo) / (hi - lo)
    k = (ups == hi).sum()
    z = (k - p * ups.size) / math.sqrt(ups.size * p * (1 - p))
    assert abs(z) < 5, (fmt.name, k, p)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_reproducible(fmt, impl: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 96)).astype(np.float32)
    a = encode(impl, fmt.replace(rounding="stochastic", seed=7), x).codes
    b = encode(impl, fmt.replace(rounding="stochastic", seed=7), x).codes
    c = encode(impl, fmt.replace(rounding="stochastic", seed=8), x).codes
    np.testing.assert_array_equal(a, b)
    assert (a != c).any(), "a different seed gives different codes"


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_bits_follow_hash32(fmt, impl: str) -> None:
    """Every element's up/down decision equals the oracle's, which uses hash32(C index, seed);
    a non-contiguous (transposed) 3-D input and a non-default axis check the index rule."""
    rng = np.random.default_rng(3)
    base = (rng.normal(size=(40, 3, 2)) * 2.0 ** rng.integers(-3, 4, size=(40, 3, 2))).astype(np.float32)
    x = base.transpose(2, 1, 0)  # a view: C-order index of x, not of base's memory
    for seed in (0, 2**31 + 5, 2**40 + 3):
        f = fmt.replace(rounding="stochastic", seed=seed)
        for axis in (-1, 1):
            want, _, _ = R.ref_encode(f, x, axis)
            got = encode(impl, f, np.asarray(x) if impl == "numpy" else np.ascontiguousarray(x), axis).codes
            bad = got != want
            assert not bad.any(), f"{f.name} seed {seed} axis {axis}: {int(bad.sum())} codes differ, " \
                f"first at {np.argwhere(bad)[0].tolist()}"


@pytest.mark.parametrize("fmt", FORMATS, ids=ids)
def test_bits_follow_hash32_on_few_rows_of_whole_blocks(fmt) -> None:
    """Few rows whose length is a multiple of the block: the kernel cuts them into one row per
    block (to spread them over the cores); the hash still sees the caller's C index."""
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(3, 256)) * 2.0 ** rng.integers(-3, 4, size=(3, 256))).astype(np.float32)
    f = fmt.replace(rounding="stochastic", seed=11)
    want, _, _ = R.ref_encode(f, x, -1)
    assert np.array_equal(encode("numpy", f, x, -1).codes, want)


def test_bits_by_hand() -> None:
    """fp8_e4m3: x = 1 + k/64 lies between 1 + 8j/64 grid points; frac = (k mod 8)/8, and the
    element at flat index i rounds up iff hash32(i, seed) < frac 2^32 (numpy transcription)."""
    seed = 99
    k = np.arange(1, 64)  # x in (1, 2): one binade, quantum 1/8
    x = (1 + k / 64.0).astype(np.float32)
    codes = hwsim.format("fp8_e4m3", rounding="stochastic", seed=seed).encode(x).codes
    frac = (k % 8) / 8.0
    h = hash32_numpy(seed, np.arange(k.size, dtype=np.uint64))
    up = h.astype(np.float64) < np.floor(frac * 2**32)
    down_code = 0x38 + (k // 8)  # 1.0 is 0x38; each step of 1/8 is one mantissa code
    np.testing.assert_array_equal(codes, (down_code + up).astype(np.uint8))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("seed", [2**63 + 1, 2**64 + 3])
def test_huge_seed(seed: int, impl: str) -> None:
    """seed is any int >= 0; hash32 uses it mod 2^32. A huge seed either works (as the oracle
    says) or is rejected by a FormatError -- never a raw OverflowError from the kernels."""
    x = (1 + np.arange(1, 64) / 64.0).astype(np.float32)
    try:
        f = hwsim.format("fp8_e4m3", rounding="stochastic", seed=seed)
        got = encode(impl, f, x).codes
    except hwsim.FormatError:
        return
    np.testing.assert_array_equal(got, R.ref_encode(f, x)[0])


@pytest.mark.parametrize("name", ["nvfp4", "int8_channel", "int4_g32"])
def test_scales_stay_rne(name: str) -> None:
    """Only element roundings are stochastic: scales equal those of rounding='even'."""
    x = np.random.default_rng(1).normal(size=(3, 64)).astype(np.float32)
    a = hwsim.format(name, rounding="stochastic", seed=4).encode(x)
    b = hwsim.format(name).encode(x)
    np.testing.assert_array_equal(a.scales, b.scales)
