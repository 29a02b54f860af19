"""Exact ties under non-power-of-two scales, in all-normal blocks (the kernels' branch-free paths).

docs/numerics.md, "Scaled formats": element i is round(x_i / s) with the format's rounding mode
(here RNE, IEEE 754-2019 §4.3.1 roundTiesToEven), s = amax / elem_max rounded to the scale
element. The data below make s an odd integer (3, 5, 7), so s is not a power of two and the
quotient takes the division path of the fast kernel (``_fast_code``) or the comparison path of
the FP4 kernel, and every element but the block maximum is an exact midpoint of two grid points.
Blocks hold only normal float32 values (no zeros, subnormals, Inf or NaN), so they stay on the
fast path. A round-half-up (or round-half-away) bug there moves every tie whose lower neighbour
is even.

Expected values come from exact ``Fraction`` arithmetic written here (grid enumerated from the
element's ExMy fields, written out by hand below), never from the code under test; the Fraction
oracle ``hwsim.numerics._reference`` (which imports no kernel) must agree too.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import hwsim
from hwsim.numerics import _reference as R

SCALES = (3, 5, 7)


# ------------------------------------------------------------------------------------------------
# element grids, from the element definitions (OCP OFP8 v1.0 §4, OCP MX v1.0 §5.3) written out here
# ------------------------------------------------------------------------------------------------
def _float_grid(exp_bits: int, man_bits: int, bias: int, max_finite: float) -> list[Fraction]:
    """Non-negative values of an ExMy minifloat up to ``max_finite`` (subnormals at field 0)."""
    emin = 1 - bias
    out = [Fraction(k, 2 ** man_bits) * Fraction(2) ** emin for k in range(2 ** man_bits)]
    for field in range(1, 2 ** exp_bits):
        for m in range(2 ** man_bits):
            v = (1 + Fraction(m, 2 ** man_bits)) * Fraction(2) ** (field - bias)
            if v <= max_finite:
                out.append(v)
    return sorted(set(out))


def _int_grid(qmax: int) -> list[Fraction]:
    return [Fraction(k) for k in range(qmax + 1)]


def _rne_on_grid(v: Fraction, grid: list[Fraction]) -> Fraction:
    """Nearest grid value to |v| (saturating), ties to the one with the even index (even code)."""
    a = abs(v)
    if a >= grid[-1]:
        r = grid[-1]
    else:
        i = max(j for j, g in enumerate(grid) if g <= a)
        lo, hi = grid[i], grid[i + 1]
        if a - lo < hi - a or (a - lo == hi - a and i % 2 == 0):
            r = lo
        else:
            r = hi
    return -r if v < 0 else r


def _ties(grid: list[Fraction]) -> list[Fraction]:
    """Every midpoint between consecutive non-negative grid values (excluding 0's lower side)."""
    return [(a + b) / 2 for a, b in zip(grid[:-1], grid[1:], strict=True)]


# (format factory, grid, elem_max, kind) -- kind: "amax" block/channel scale, "tensor" scale
def _fp_elem_absmax(el_name: str):
    """An fp8/fp6 element with an fp32 absmax scale per 32 (DeepSeek-V3-style fine-grained fp8
    scaling, arXiv 2412.19437 §3.3.2): the float element on the division path of the fast kernel."""
    return lambda: hwsim.format("int8_g32").replace(name=f"{el_name}_g32_absmax",
                                                     element=hwsim.format(el_name).element)


CASES = {
    # absmax-scaled integers (fp32 scale = amax / qmax)
    "int4_g32": (lambda: hwsim.format("int4_g32"), _int_grid(7), 7),
    "int4_g128": (lambda: hwsim.format("int4_g128"), _int_grid(7), 7),
    "int8_g32": (lambda: hwsim.format("int8_g32"), _int_grid(127), 127),
    "int8_channel": (lambda: hwsim.format("int8_channel"), _int_grid(127), 127),
    "int8_tensor": (lambda: hwsim.format("int8_tensor"), _int_grid(127), 127),
    "bitnet_a8": (lambda: hwsim.format("bitnet_a8"), _int_grid(127), 127),
    # float elements with an fp32 absmax scale (division path)
    "fp8_e4m3_g32_absmax": (_fp_elem_absmax("fp8_e4m3"), _float_grid(4, 3, 7, 448), 448),
    "fp8_e5m2_g32_absmax": (_fp_elem_absmax("fp8_e5m2"), _float_grid(5, 2, 15, 57344), 57344),
    "fp6_e2m3_g32_absmax": (_fp_elem_absmax("fp6_e2m3"), _float_grid(2, 3, 1, 7.5), 7.5),
    "fp6_e3m2_g32_absmax": (_fp_elem_absmax("fp6_e3m2"), _float_grid(3, 2, 3, 28), 28),
    # FP4 E2M1 with a narrow float scale (comparison path): scale = RNE_S(amax / 6)
    "nvfp4": (lambda: hwsim.format("nvfp4"), _float_grid(2, 1, 1, 6), 6),
    "mxfp4_ue5m3": (lambda: hwsim.format("mxfp4_ue5m3"), _float_grid(2, 1, 1, 6), 6),
    "fp4_ue5m3_b16": (lambda: hwsim.format("fp4_ue5m3_b16"), _float_grid(2, 1, 1, 6), 6),
}


def _rows(grid: list[Fraction], elem_max: float, length: int) -> tuple[np.ndarray, np.ndarray]:
    """One row per scale S: [elem_max * S, then every tie * S with alternating signs, repeated].
    Returns (x float32 [rows, length], expected float32 [rows, length])."""
    ties = [t for t in _ties(grid) if t > 0]
    xs, want = [], []
    for S in SCALES:
        row = [Fraction(elem_max) * S]
        i = 0
        while len(row) < length:
            t = ties[i % len(ties)] * S * (1 if (i // len(ties)) % 2 == 0 else -1)
            row.append(t)
            i += 1
        xv = np.array([float(v) for v in row], dtype=np.float32)
        assert all(Fraction(float(a)) == b for a, b in zip(xv, row, strict=True)), "data not exact in fp32"
        exp = [_rne_on_grid(v / S, grid) * S for v in row]
        # float elements keep the sign of a value rounded to zero (-0); integers have no -0
        signed_zero = grid != _int_grid(int(grid[-1]))
        vals = [-0.0 if (e == 0 and v < 0 and signed_zero) else float(e) for e, v in zip(exp, row, strict=True)]
        xs.append(xv)
        want.append(np.array(vals, dtype=np.float32))
    return np.stack(xs), np.stack(want)


def _block_len(fmt) -> int:
    b = fmt.block_size
    return 64 if not b else b


@pytest.mark.parametrize("name", list(CASES))
def test_ties_under_odd_scales_round_half_even(name: str) -> None:
    make, grid, elem_max = CASES[name]
    fmt = make()
    L = _block_len(fmt)
    x, want = _rows(grid, elem_max, L)
    if name == "int8_tensor":  # one tensor scale: one row per call
        got = np.stack([fmt.quantize(x[i:i + 1])[0] for i in range(x.shape[0])])
    else:
        got = fmt.quantize(x)
    bad = np.argwhere(got.view(np.uint32) != want.view(np.uint32))
    assert bad.size == 0, (f"{name}: {len(bad)} ties rounded wrongly, first at {tuple(bad[0])}: "
                           f"x={x[tuple(bad[0])]!r} got {got[tuple(bad[0])]!r} want {want[tuple(bad[0])]!r}")
    # encode + decode (the code path of the same kernel) agrees
    if name == "int8_tensor":
        dec = np.stack([fmt.decode(fmt.encode(x[i:i + 1]))[0] for i in range(x.shape[0])])
    else:
        dec = fmt.decode(fmt.encode(x))
    np.testing.assert_array_equal(dec.view(np.uint32), want.view(np.uint32), err_msg=f"{name} encode")


@pytest.mark.parametrize("name", list(CASES))
def test_ties_agree_with_fraction_oracle(name: str) -> None:
    """The in-test expectation and the spec oracle agree (guards the test's own reference)."""
    make, grid, elem_max = CASES[name]
    fmt = make()
    x, want = _rows(grid, elem_max, _block_len(fmt))
    for i in range(x.shape[0]):
        ref = R.ref_quantize(fmt, x[i:i + 1])
        np.testing.assert_array_equal(np.asarray(ref, np.float32).view(np.uint32), want[i:i + 1].view(np.uint32))


@pytest.mark.parametrize("name", ["int4_g32", "int8_g32", "int8_channel", "fp8_e4m3_g32_absmax", "nvfp4"])
def test_ties_torch_codec(name: str) -> None:
    """The torch codec (run directly: CPU tensors otherwise take the numba kernel) rounds the
    same ties the same way."""
    torch = pytest.importorskip("torch")
    from hwsim.numerics import torch_codec as tc
    make, grid, elem_max = CASES[name]
    fmt = make()
    x, want = _rows(grid, elem_max, _block_len(fmt))
    got = tc.quantize(fmt, torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=name)
    dec = fmt.decode(tc.encode(fmt, torch.from_numpy(x)))
    got2 = dec.numpy() if hasattr(dec, "numpy") else np.asarray(dec)
    np.testing.assert_array_equal(got2.view(np.uint32), want.view(np.uint32), err_msg=f"{name} encode")


def test_issue_example_int8_g32() -> None:
    """The block of issue 18: amax 381 -> scale exactly 3, and 7.5 / 3 = 2.5 rounds to 2 (even)."""
    x = np.full((1, 32), 3.0, np.float32)
    x[0, 0], x[0, 1] = 381.0, 7.5
    got = hwsim.format("int8_g32").quantize(x)
    assert got[0, 1] == 6.0 and got[0, 0] == 381.0
    assert math.isclose(float(got[0, 2]), 3.0)
