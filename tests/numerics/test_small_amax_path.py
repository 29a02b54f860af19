"""The two-phase FP4 kernel (``hwsim.numerics.codec._small_amax_values``): NVFP4 and UE5M3-scaled
E2M1 values, with and without an fp32 tensor scale, bit for bit against independent code.

``quantize`` of an input whose every element is zero or a normal float32 takes this kernel (block
scale codes of a row first, then its elements by comparisons); ``encode`` and the general loop
(``codec._FAST_PATHS = False``) do not, so they are its oracles here, with the exact Fraction
reference (:mod:`hwsim.numerics._reference`, imports no kernel) on smaller inputs. Inputs mix
block magnitudes over 2**-30 .. 2**10 so that some block scales round to 0 (blocks decode to
signed zeros), and lay the quantized axis innermost, outermost (stochastic indices with a stride)
and seen by the kernels as rows of other lengths (cut for threads, joined when short).
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.numerics import _reference as R
from hwsim.numerics import codec
from tests.numerics.numerics_helpers import assert_same_f32

FORMATS = {
    "nvfp4": hwsim.format("nvfp4"),
    "nvfp4_ts": hwsim.format("nvfp4", tensor_scale=True),
    "ue5m3_ts": hwsim.format("mxfp4_ue5m3", tensor_scale=True),
    "ue5m3": hwsim.format("mxfp4_ue5m3"),
}
MODES = ["even", "away", "zero", "stochastic"]
#: (shape, axis): axis innermost, axis 0 of a 2-D / 3-D array (rows with a stride), few long rows
LAYOUTS = [((48, 128), -1), ((128, 40), 0), ((6, 64, 5), 1), ((3, 512), -1)]


def _fmt(name: str, mode: str):
    return FORMATS[name].replace(rounding=mode, seed=11) if mode != "even" else FORMATS[name]


def _data(shape: tuple[int, ...], axis: int, seed: int) -> np.ndarray:
    """Normal values, each 16-element run along ``axis`` scaled by 2**k, k in [-30, 10]; zeros."""
    rng = np.random.default_rng(seed)
    x = np.moveaxis(rng.standard_normal(shape), axis, -1)
    k = rng.integers(-30, 11, size=x.shape[:-1] + (x.shape[-1] // 16 + 1,))
    x = x * np.exp2(np.repeat(k, 16, axis=-1)[..., : x.shape[-1]])
    x[rng.random(x.shape) < 0.05] = 0.0
    return np.ascontiguousarray(np.moveaxis(x, -1, axis)).astype(np.float32)


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    """Counts the two-phase kernel's runs (the tests must reach it)."""
    seen: list[int] = []
    real = codec._small_amax_values

    def spy(*args):
        seen.append(1)
        return real(*args)

    monkeypatch.setattr(codec, "_small_amax_values", spy)
    return seen


@pytest.mark.parametrize("shape,axis", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FORMATS)
def test_same_values_as_the_general_loop_and_encode(name: str, mode: str, shape, axis: int, calls,
                                                     monkeypatch) -> None:
    fmt = _fmt(name, mode)
    x = _data(shape, axis, seed=len(calls) + 7)
    got = codec.quantize_array(fmt, x, axis)
    assert calls, "the input did not reach the two-phase kernel"
    enc = codec.encode_array(fmt, x, axis)
    assert_same_f32(got, codec.decode_array(fmt, enc), f"{name} {mode} {shape} axis={axis} vs decode(encode)")
    monkeypatch.setattr(codec, "_FAST_PATHS", False)
    assert_same_f32(got, codec.quantize_array(fmt, x, axis), f"{name} {mode} {shape} axis={axis} vs general loop")
    assert (got == 0).any() and np.signbit(got[got == 0]).any()  # zero blocks and -0 elements occur


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", FORMATS)
def test_vs_fraction_reference(name: str, mode: str, calls) -> None:
    fmt = _fmt(name, mode)
    for shape, axis in ((4, 64), -1), ((32, 3), 0):
        x = _data(shape, axis, seed=3)
        want_c, want_s, want_ts = R.ref_encode(fmt, x, axis)
        want = R.ref_decode(fmt, want_c, want_s, want_ts, axis)
        assert_same_f32(codec.quantize_array(fmt, x, axis), want, f"{name} {mode} {shape} axis={axis}")
    assert len(calls) == 2


def test_not_taken_with_a_subnormal_input(calls) -> None:
    """One float32 subnormal anywhere sends the whole tensor to the per-block kernel."""
    fmt = FORMATS["nvfp4_ts"]
    x = _data((8, 64), -1, seed=5)
    x[3, 17] = np.float32(1e-40)
    want_c, want_s, want_ts = R.ref_encode(fmt, x, -1)
    assert_same_f32(codec.quantize_array(fmt, x, -1), R.ref_decode(fmt, want_c, want_s, want_ts, -1), "subnormal")
    assert not calls


@pytest.mark.parametrize("mode", ["even", "stochastic"])
@pytest.mark.parametrize("fmt", [hwsim.format("nvfp4", block_size=24),
                                 hwsim.format("mxfp4_ue5m3", block_size=12, tensor_scale=True)],
                         ids=["nvfp4_b24", "ue5m3_ts_b12"])
def test_blocks_that_are_not_a_power_of_two(fmt, mode: str, calls, monkeypatch) -> None:
    """Block maxima by four running maxima per block (the halving passes need B = 2**k)."""
    fmt = fmt.replace(rounding=mode, seed=2) if mode != "even" else fmt
    for shape, axis in ((8, 96), -1), ((96, 5), 0):
        x = _data(shape, axis, seed=4)
        got = codec.quantize_array(fmt, x, axis)
        want_c, want_s, want_ts = R.ref_encode(fmt, x, axis)
        assert_same_f32(got, R.ref_decode(fmt, want_c, want_s, want_ts, axis), f"{fmt.name} {mode} {shape}")
    assert len(calls) == 2


@pytest.mark.parametrize("rows,nblk,threads,cap,want", [
    (512, 32, 1, 64, 64), (512, 8, 1, 64, 64), (3, 32, 1, 64, 24), (1, 32, 1, 64, 8), (1, 32, 8, 64, 1),
    (3, 6, 4, 6, 1), (5, 6, 4, 6, 1), (7, 9, 2, 9, 7), (1, 1, 8, 1, 1), (2, 7, 1, 7, 2), (1000, 100, 2, 100, 100),
    (9, 100, 2, 100, 100), (3, 100, 2, 100, 30)])
def test_row_blocks(rows: int, nblk: int, threads: int, cap: int, want: int) -> None:
    """The largest divisor of the block count up to the cap leaving >= 4 rows per thread (one
    block per row if none does)."""
    assert codec._row_blocks(rows, nblk, threads, cap) == want


@pytest.mark.parametrize("blocks", [1, 2, 8, "row", "all"])
@pytest.mark.parametrize("mode", ["even", "stochastic"])
@pytest.mark.parametrize("name", ["nvfp4_ts", "ue5m3"])
def test_rows_seen_as_other_lengths(name: str, mode: str, blocks: int | str, monkeypatch) -> None:
    """The kernels seeing the blocks as rows of any whole number of blocks (cut for many threads,
    joined when short; "row": as stored, "all": one row) changes no value, scale or
    stochastic-rounding bit: both kernels, vs the Fraction oracle."""
    fmt = _fmt(name, mode)
    x = _data((3, 512), -1, seed=9)
    want_c, want_s, want_ts = R.ref_encode(fmt, x, -1)
    want = R.ref_decode(fmt, want_c, want_s, want_ts, -1)
    monkeypatch.setattr(codec, "_row_blocks", lambda rows, nblk, threads, cap:
                        nblk if blocks == "row" else rows * nblk if blocks == "all" else blocks)
    assert_same_f32(codec.quantize_array(fmt, x, -1), want, f"{name} {mode} quantize, {blocks} blocks per row")
    enc = codec.encode_array(fmt, x, -1)
    np.testing.assert_array_equal(enc.codes, want_c)
    np.testing.assert_array_equal(enc.scales, want_s)
