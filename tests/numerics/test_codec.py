"""Scaled formats (MX, NVFP4 with and without tensor scale, MSFP, absmax integers) vs the oracle.

Every catalog entry with a block, axis or tensor scale runs (STYLE P5), on random data of several
distributions and on the edge cases of docs/numerics.md "Scaled formats": all-zero blocks,
NaN/Inf in a block, amax just below / exactly at a power of two, the E8M0 clamp at 2^-127,
lengths not divisible by the block size, every axis of a 3-D array. Codes, scales and the tensor
scale must equal the oracle's bit for bit, and quantize == decode(encode) bit for bit (incl. -0).
The UE5M3-scaled FP4 blocks (formats/fp4_scaled.toml: an unsigned E5M3 block-scale element) are
checked on every scale byte, by hand and against the Fraction oracle.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import hwsim
from hwsim.catalog import core_formats
from hwsim.errors import FormatError
from hwsim.numerics import Encoded, Specials
from hwsim.numerics import _reference as R
from tests.numerics.impls import IMPLS, decode, encode, quantize
from tests.numerics.numerics_helpers import assert_same_f32, bits_of, normal

SCALED = [f for f in core_formats() if f.is_scaled]
SCALED += [hwsim.format("nvfp4", tensor_scale=True).replace(name="nvfp4_ts")]
ids = lambda f: f.name  # noqa: E731


def check_vs_oracle(fmt, x: np.ndarray, axis: int = -1, impl: str = "numpy") -> Encoded:
    """Encode with hwsim and the oracle; everything must agree bit for bit."""
    want_c, want_s, want_ts = R.ref_encode(fmt, x, axis)
    enc = encode(impl, fmt, x, axis)
    tag = f"{fmt.name} axis={axis} {impl}"
    assert enc.codes.shape == x.shape and enc.codes.dtype == want_c.dtype, tag
    assert enc.axis == axis % x.ndim, tag
    ts_nan = want_ts is not None and np.isnan(want_ts)
    if want_ts is None:
        assert enc.tensor_scale is None, tag
    else:
        assert enc.tensor_scale is not None, tag
        assert_same_f32(np.float32(enc.tensor_scale), np.float32(want_ts), f"{tag} tensor_scale")
    if want_s is None:
        assert enc.scales is None, tag
    else:
        assert enc.scales is not None, tag
        assert enc.scales.shape == want_s.shape and enc.scales.dtype == want_s.dtype, \
            f"{tag}: scales {enc.scales.shape} {enc.scales.dtype} want {want_s.shape} {want_s.dtype}"
        if not ts_nan:  # with a NaN tensor scale the spec fixes only codes and decodes
            if want_s.dtype == np.float32:
                assert_same_f32(enc.scales, want_s, f"{tag} scales")
            else:
                bad = enc.scales != want_s
                assert not bad.any(), f"{tag}: scales differ at {np.argwhere(bad)[:5].tolist()}: " \
                    f"got {enc.scales[bad][:5]} want {want_s[bad][:5]}"
    bad = enc.codes != want_c
    if bad.any():
        i = [tuple(j) for j in np.argwhere(bad)[:5]]
        raise AssertionError(f"{tag}: {int(bad.sum())} codes differ: " + "; ".join(
            f"x{j}={x[j]!r} ({bits_of(x[j]).item():#010x}) got {int(enc.codes[j]):#x} want {int(want_c[j]):#x}"
            for j in i))
    want_q = R.ref_decode(fmt, want_c, want_s, want_ts, axis)
    got_d = decode(impl, fmt, enc)
    assert_same_f32(got_d, want_q, f"{tag} decode")
    assert_same_f32(quantize(impl, fmt, x, axis), got_d, f"{tag} quantize == decode(encode)")
    return enc


def data(dist: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dist == "normal":
        x = rng.normal(size=shape)
    elif dist == "heavy_tail":
        x = rng.standard_t(1.5, size=shape)
    elif dist == "tiny":  # float32 subnormal and near-subnormal magnitudes
        x = rng.normal(size=shape) * 2.0 ** rng.integers(-149, -118, size=shape)
    elif dist == "subnormal":  # only subnormals: a tensor scale rounds to 0 -> 2^-149
        x = rng.normal(size=shape) * 2.0**-140
    elif dist == "huge":
        x = rng.normal(size=shape) * 1e37
    elif dist == "wide":  # every block mixes magnitudes 2^-40 .. 2^40
        x = rng.normal(size=shape) * 2.0 ** rng.integers(-40, 40, size=shape)
    elif dist == "ties":  # values on and between grid points: exercises ties in element rounding
        x = rng.integers(-64, 65, size=shape) / 8.0
    else:
        raise ValueError(dist)
    return x.astype(np.float32)


DISTS = ["normal", "heavy_tail", "tiny", "subnormal", "huge", "wide", "ties"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_random_vs_oracle(fmt, dist: str, impl: str) -> None:
    check_vs_oracle(fmt, data(dist, (3, 70)), -1, impl)


@pytest.mark.parametrize("mode", ["away", "zero", "stochastic"])
@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_rounding_modes_vs_oracle(fmt, mode: str) -> None:
    f = fmt.replace(rounding=mode, seed=5)
    for dist in ("normal", "ties"):
        check_vs_oracle(f, data(dist, (2, 50), seed=1), -1)


@pytest.mark.parametrize("shape,axis", [((1,), 0), ((33,), -1), ((3, 5, 40), 0), ((3, 5, 40), 1),
                                        ((3, 5, 40), 2), ((3, 5, 40), -1), ((40, 3), 0), ((2, 33), -2)])
@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_shapes_and_axes(fmt, shape: tuple[int, ...], axis: int) -> None:
    x = data("normal", shape, seed=len(shape) + axis)
    enc = check_vs_oracle(fmt, x, axis)
    if fmt.block_size is not None:
        L = shape[axis]
        nb = -(-L // fmt.block_size) if fmt.block_size else 1
        ax = axis % len(shape)
        assert enc.scales.shape == shape[:ax] + (nb,) + shape[ax + 1:]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_axis_slices_are_independent(fmt, impl: str) -> None:
    """Encoding along axis 0 of x equals encoding x.T along its last axis (codes keep layout),
    unless the format has a tensor scale or stochastic bits (flat indices differ)."""
    x = data("wide", (40, 3), seed=9)
    a = encode(impl, fmt, x, 0)
    b = encode(impl, fmt, np.ascontiguousarray(x.T), -1)
    np.testing.assert_array_equal(a.codes, b.codes.T)
    if a.scales is not None:
        np.testing.assert_array_equal(a.scales, b.scales.T)


def edge_cases(fmt) -> dict[str, np.ndarray]:
    B = fmt.block_size or 16
    n = 2 * B + 3 if fmt.block_size else 35
    f32 = np.float32
    below2 = np.nextafter(f32(2), f32(0))
    base = data("normal", (n,), seed=3)
    cases = {
        "zeros": np.zeros(n, f32),
        "neg_zeros": -np.zeros(n, f32),
        "nan_first_block": np.where(np.arange(n) == 1, f32(np.nan), base).astype(f32),
        "inf_last_block": np.where(np.arange(n) == n - 1, f32(np.inf), base).astype(f32),
        "neg_inf": np.where(np.arange(n) == 0, f32(-np.inf), base).astype(f32),
        "amax_below_pow2": np.full(n, below2, f32) * np.where(np.arange(n) % 2, 1, -0.7).astype(f32),
        "amax_pow2": np.full(n, 2.0, f32) * np.where(np.arange(n) % 2, 1, -0.3).astype(f32),
        "subnormal_amax": (base * f32(2.0**-140)).astype(f32),
        "min_subnormal": np.full(n, 2.0**-149, f32),
        "fp32_max": np.full(n, np.finfo(f32).max, f32) * np.where(np.arange(n) % 3, 1, -1).astype(f32),
        "one_big_rest_small": np.where(np.arange(n) % B == 0, f32(1000), f32(1e-3)).astype(f32),
        "zero_block_then_data": np.where(np.arange(n) < B, f32(0), base).astype(f32),
    }
    return cases


EDGE_NAMES = list(edge_cases(SCALED[0]))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", EDGE_NAMES)
@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_edge_cases_vs_oracle(fmt, case: str, impl: str) -> None:
    x = edge_cases(fmt)[case]
    check_vs_oracle(fmt, x.reshape(1, -1), -1, impl)


@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_nan_inf_blocks_by_hand(fmt) -> None:
    """A block holding NaN/Inf: NaN scale, element codes 0, every element of the block decodes
    NaN; with a tensor scale every element of the tensor."""
    B = fmt.block_size or 16
    n = 3 * B if fmt.block_size else 48
    x = np.ones(n, np.float32)
    x[B + 1] = np.inf
    enc = fmt.encode(x)
    q = fmt.decode(enc)
    if fmt.tensor_scale:
        assert np.isnan(np.float32(enc.tensor_scale)) and np.isnan(q).all() and not enc.codes.any()
        return
    in_block = np.zeros(n, bool)
    in_block[B: 2 * B] = True
    if fmt.block_size == 0:  # one scale per axis slice: the whole row is the block
        in_block[:] = True
    assert np.isnan(q[in_block]).all() and not np.isnan(q[~in_block]).any()
    assert not enc.codes[in_block].any()
    s = enc.scales[1 if fmt.block_size else 0]
    if fmt.scale_rule.value == "pow2":
        assert s == 0xFF
    elif enc.scales.dtype == np.float32:
        assert np.isnan(s)
    else:
        assert np.isnan(R.decode_element(fmt.scale_element, int(s)))


def test_mx_power_of_two_edges_by_hand() -> None:
    """OCP MX §6.3 with E2M1 (emax 2): amax 2 - ulp -> X = 2^-2, elements clamp to 6 X = 1.5;
    amax 2 -> X = 2^-1, 2 exact. E4M3 (emax 8): amax 2^-140 -> se clamps to -127."""
    f32 = np.float32
    mx = hwsim.format("mxfp4")
    below = np.nextafter(f32(2), f32(0))
    enc = mx.encode(np.full(4, below, f32))
    assert enc.scales[0] == 127 - 2 and (enc.codes == 7).all()
    np.testing.assert_array_equal(mx.quantize(np.full(4, below, f32)), np.full(4, 1.5, f32))
    enc = mx.encode(np.full(4, 2.0, f32))
    assert enc.scales[0] == 127 - 1 and (enc.codes == 6).all()
    e4 = hwsim.format("mxfp8_e4m3")
    x = np.float32([2.0**-140, -(2.0**-130)])
    enc = e4.encode(x)
    assert enc.scales[0] == 0  # se = -130 - 8 -> clamp -127
    q = e4.quantize(x)
    # 2^-140 / 2^-127 = 2^-13 < half of E4M3's 2^-9 -> 0; 2^-130 / 2^-127 = 2^-3 exact
    assert bits_of(q).tolist() == bits_of(np.float32([0.0, -(2.0**-130)])).tolist()
    q = mx.quantize(np.float32([7.0, 3.0001]))  # amax 7: X = 1, 7 clamps to 6
    np.testing.assert_array_equal(q, np.float32([6.0, 3.0]))
    assert mx.quantize(np.float32([3.0001]))[0] == 3.0  # X = 1/2: 6.0002 -> 6


@pytest.mark.parametrize("fmt", [f for f in SCALED if f.scale_rule is not None and f.scale_rule.value == "pow2"],
                         ids=ids)
def test_e8m0_scale_decode_vs_ml_dtypes(fmt) -> None:
    """Decoding element 1.0 under every scale byte gives ml_dtypes' float8_e8m0fnu value."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    one = R.encode_element(fmt.element, 1.0)
    B = fmt.block_size
    scales = np.arange(256, dtype=np.uint8)
    if B:
        codes = np.full(256 * B, one, fmt.code_dtype)
        got = fmt.decode(Encoded(codes, scales, None, 0, fmt.name)).reshape(256, B)
    else:  # block_size 0 (DFP): one scale per axis slice, here 256 one-element rows
        B = 1
        codes = np.full((256, 1), one, fmt.code_dtype)
        got = fmt.decode(Encoded(codes, scales.reshape(256, 1), None, 1, fmt.name))
    want = scales.view(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    for j in range(B):
        assert_same_f32(got[:, j], want, f"{fmt.name} scale byte decode")


@pytest.mark.parametrize("name,bits", [("mxfp4", 4.25), ("mxfp6_e2m3", 6.25), ("mxfp6_e3m2", 6.25),
                                       ("mxfp8_e4m3", 8.25), ("mxfp8_e5m2", 8.25), ("mxint8", 8.25),
                                       ("nvfp4", 4.5), ("msfp12", 4.5), ("msfp16", 8.5)])
def test_bits_per_element(name: str, bits: float) -> None:
    """OCP MX v1.0 Table 1 (k = 32, 8-bit scale); NVFP4 E4M3 scale per 16; MSFP 8-bit exp per 16."""
    assert hwsim.format(name).bits_per_element == bits


@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_code_and_scale_dtypes(fmt) -> None:
    x = data("normal", (2, 40))
    enc = fmt.encode(x)
    assert enc.codes.dtype == (np.uint8 if fmt.element.bits <= 8 else np.uint16)
    if fmt.block_size is None:
        assert enc.scales is None
    elif fmt.scale_rule.value == "pow2":
        assert enc.scales.dtype == np.uint8
    elif fmt.scale_element.bits == 32:
        assert enc.scales.dtype == np.float32
    else:
        assert enc.scales.dtype == np.uint8
    assert (enc.tensor_scale is not None) == bool(fmt.tensor_scale)


@pytest.mark.parametrize("fmt", SCALED, ids=ids)
def test_bad_axis(fmt) -> None:
    x = np.ones((2, 3), np.float32)
    for axis in (2, -3, 7):
        with pytest.raises(FormatError, match="axis"):
            fmt.encode(x, axis=axis)
        with pytest.raises(FormatError, match="axis"):
            fmt.quantize(x, axis=axis)


@pytest.mark.parametrize("name,ts", [("nvfp4", False), ("nvfp4", True), ("fp4_ue5m3_b16", False)])
def test_amax_scale_rounding_at_every_decision_point(name, ts):
    """Block amaxes placed on every midpoint between neighbouring scale values (times the element
    max) and one float32 ulp either side: the stored scale code is the oracle's RNE, ties to even."""
    fmt = hwsim.format(name, tensor_scale=ts) if ts else hwsim.format(name)
    sel, emax = fmt.scale_element, fmt.element.max
    vals = np.array(sorted({v for v in (sel.decode_code(c) for c in range(1 << min(sel.bits, 8)))
                            if np.isfinite(v) and v > 0}))
    mids = (vals[:-1] + vals[1:]) / 2 * emax
    amax = np.concatenate([mids, np.nextafter(mids.astype(np.float32), np.float32(0)).astype(np.float64),
                           np.nextafter(mids.astype(np.float32), np.float32(np.inf)).astype(np.float64)])
    amax = amax[np.isfinite(amax.astype(np.float32))].astype(np.float32)
    x = np.zeros((amax.size, 16), np.float32)
    x[:, 0] = amax
    x[:, 1] = -amax / 3  # a second value so the element pass runs too
    if ts:
        x[0, 2] = np.float32(1e4)  # a tensor amax whose fp32 scale has a long odd significand
    want_codes, want_scales, _ = R.ref_encode(fmt, x, -1)
    enc = encode("numpy", fmt, x, -1)
    assert np.array_equal(enc.scales, want_scales)
    assert np.array_equal(enc.codes, want_codes)


# ----------------------------------------------------------------------------------------------
# UE5M3-scaled FP4 blocks
# ----------------------------------------------------------------------------------------------
def ue5m3_by_hand(code: int) -> float:
    """Unsigned E5M3, bias 15: e = code >> 3, m = code & 7; e = 0: m 2^-17; else (8 + m) 2^(e - 18);
    0xFF NaN."""
    e, m = code >> 3, code & 7
    if code == 0xFF:
        return math.nan
    return m * 2.0**-17 if e == 0 else (8 + m) * 2.0 ** (e - 18)


def test_ue5m3_scale_bytes():
    """Every scale byte, decoded through a block of E2M1 ones: min subnormal 2^-17 (0x01), min normal
    2^-14 (0x08), 1.0 (0x78), max 1.75 2^16 = 114688 (0xFE), NaN (0xFF)."""
    for name in ("mxfp4_ue5m3", "fp4_ue5m3_b16"):
        f = hwsim.format(name)
        se = f.scale_element
        assert se.bits == 8 and se.specials is Specials.FNU and se.bias == 15
        assert (se.max, se.smallest_subnormal, se.smallest_normal) == (114688.0, 2.0**-17, 2.0**-14)
        B = f.block_size
        scales = np.arange(256, dtype=np.uint8)
        codes = np.full(256 * B, 2, np.uint8)  # E2M1 code 2 = 1.0
        got = f.decode(Encoded(codes, scales, None, 0, name)).reshape(256, B)
        want = np.array([ue5m3_by_hand(c) for c in range(256)], np.float32)
        for j in (0, B - 1):
            assert_same_f32(got[:, j], want, f"{name} scale bytes")
        assert want[1] == 2.0**-17 and want[8] == 2.0**-14 and want[0x78] == 1.0 and want[0xFE] == 114688.0


def test_ue5m3_block_by_hand():
    """amax 6 -> s = 1 (0x78), elements as is. amax 7 -> 7/6 = 1.1667 -> UE5M3 1.125 (0x79: 1.1667
    is 0.0417 from 1.125, 0.0833 from 1.25); 7 / 1.125 = 6.22 saturates to 6 -> 6.75; 1 / 1.125 =
    0.889 -> 1 -> 1.125. amax 1e6 -> 1e6/6 > 114688: s saturates to 0xFE, elements clamp to 6.
    amax 1e-7 -> 1.7e-8 rounds below half of 2^-17: s = 0 (code 0, as TransformerEngine's NVFP4
    cast), the block decodes to zeros."""
    f = hwsim.format("mxfp4_ue5m3")
    for x, s_code, q in (([6.0, -3.0, 0.5], 0x78, [6.0, -3.0, 0.5]),
                         ([7.0, 1.0, -0.0], 0x79, [6.75, 1.125, -0.0]),
                         ([1e6, 1.0], 0xFE, [688128.0, 0.0]),
                         ([1e-7, 0.0], 0x00, [0.0, 0.0])):
        x = np.float32(x)
        enc = f.encode(x)
        assert enc.scales.tolist() == [s_code] and enc.scales.dtype == np.uint8
        assert_same_f32(f.quantize(x), np.float32(q), f"{x}")


UE_FORMATS = ["mxfp4_ue5m3", "fp4_ue5m3_b16"]


@pytest.mark.parametrize("impl", ["numpy", "torch"])
@pytest.mark.parametrize("tensor_scale", [False, True])
@pytest.mark.parametrize("name", UE_FORMATS)
def test_ue5m3_blocks_vs_fraction_oracle(name, tensor_scale, impl):
    """Codes, scale bytes, tensor scale and values equal the Fraction oracle (which reads the
    unsigned scale as 'fnu'), and, independently of that, equal the oracle run with the scale as
    a signed 9-bit E5M3 FN element: its positive codes are the unsigned bytes."""
    f = hwsim.format(name, tensor_scale=tensor_scale)
    signed = SimpleNamespace(element=f.element, block_size=f.block_size, scale_rule=f.scale_rule,
                             scale_element=R.FloatTraits(5, 3, 15, Specials.FN),
                             tensor_scale=f.tensor_scale, rounding=f.rounding, saturate=f.saturate,
                             seed=f.seed)
    rng = np.random.default_rng(11)
    for x in (normal((3, 70), seed=12), rng.integers(-64, 65, (2, 64)).astype(np.float32) / 8,
              normal((2, 64), seed=13) * np.float32(2.0**-20), normal((2, 64), seed=14) * np.float32(1e6),
              (normal((2, 96), seed=15) * 2.0 ** rng.integers(-30, 30, (2, 96))).astype(np.float32)):
        want_c, want_s, want_ts = R.ref_encode(f, x)
        enc = encode(impl, f, x)
        np.testing.assert_array_equal(enc.codes, want_c)
        assert enc.scales.dtype == want_s.dtype == np.uint8
        np.testing.assert_array_equal(enc.scales, want_s)
        if tensor_scale:
            assert_same_f32(np.float32(enc.tensor_scale), want_ts, "tensor scale")
        assert_same_f32(decode(impl, f, enc), R.ref_decode(f, want_c, want_s, want_ts), f"{name} decode")
        sc, ss, _ = R.ref_encode(signed, x)
        np.testing.assert_array_equal(sc, want_c)
        np.testing.assert_array_equal(ss.astype(np.int64), want_s.astype(np.int64))
