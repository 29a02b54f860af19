"""Plain integer casts (catalog int elements plus code-built variants) vs the oracle and by hand.

docs/numerics.md "Integers": value k 2^-f, |k| <= qmax = 2^(n-1) - 1, round by the mode, clamp
(integers always saturate, ±Inf -> ±qmax, NaN raises FormatError); two's complement or
sign-magnitude codes; zero is always code 0.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.catalog import core_formats
from hwsim.errors import FormatError
from hwsim.numerics import Encoded
from hwsim.numerics import _reference as R
from tests.numerics.impls import IMPLS, decode, encode, quantize
from tests.numerics.numerics_helpers import assert_same_f32

BUILT = [
    hwsim.format("int", bits=5, frac_bits=2, encoding="sign_magnitude"),
    hwsim.format("int", bits=3, frac_bits=1).replace(name="int3_f1"),
    hwsim.format("int", bits=12, frac_bits=4).replace(name="int12_f4"),
]
INTS = [f for f in core_formats() if not f.is_scaled and not f.element.is_float] + BUILT
MODES = ["even", "away", "zero", "stochastic"]
ids = lambda f: f.name  # noqa: E731


def probe_values(fmt) -> np.ndarray:
    el = fmt.element
    step = 2.0 ** -el.frac_bits
    k = np.arange(-el.qmax - 2, el.qmax + 3, dtype=np.float64)
    if k.size > 600:
        k = np.concatenate([k[:150], k[k.size // 2 - 150: k.size // 2 + 150], k[-150:]])
    base = (k * step).astype(np.float32)
    half = ((k + 0.5) * step).astype(np.float32)
    inf = np.float32(np.inf)
    x = np.concatenate([base, half, np.nextafter(half, inf), np.nextafter(half, -inf),
                        ((k + 0.25) * step).astype(np.float32), ((k + 0.75) * step).astype(np.float32),
                        np.float32([1e30, -1e30, np.inf, -np.inf, -0.0, 1e-40, -1e-40])])
    return x


@pytest.mark.parametrize("fmt", INTS, ids=ids)
def test_qmax(fmt) -> None:
    assert fmt.element.qmax == 2 ** (fmt.element.bits - 1) - 1 == R.qmax(R.traits(fmt.element))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", INTS, ids=ids)
def test_decode_every_code(fmt, impl: str) -> None:
    codes = np.arange(1 << fmt.element.bits, dtype=fmt.code_dtype)
    got = decode(impl, fmt, Encoded(codes, None, None, 0, fmt.name))
    assert_same_f32(got, R.ref_decode(fmt, codes), f"{fmt.name} decode")
    # by hand: the extreme codes
    el = fmt.element
    top = np.float32(el.qmax * 2.0 ** -el.frac_bits)
    assert got[el.qmax] == top
    sign = 1 << (el.bits - 1)
    if el.encoding == "sign_magnitude":
        assert got[sign] == 0 and got[sign | el.qmax] == -top
    else:
        assert got[sign] == np.float32(-(el.qmax + 1) * 2.0 ** -el.frac_bits)  # -2^(n-1): decodes
        assert got[-1] == np.float32(-(2.0 ** -el.frac_bits))


@pytest.mark.parametrize("fmt", INTS, ids=ids)
def test_roundtrip_every_code(fmt) -> None:
    el = fmt.element
    codes = np.arange(1 << el.bits, dtype=fmt.code_dtype)
    for mode in MODES:
        f = fmt.replace(rounding=mode)
        back = f.encode(f.decode(Encoded(codes, None, None, 0, f.name))).codes
        want = codes.copy()
        sign = 1 << (el.bits - 1)
        if el.encoding == "sign_magnitude":
            want[sign] = 0  # -0 is never written
        else:
            want[sign] = sign + 1  # -2^(n-1) clamps to -qmax
        np.testing.assert_array_equal(back, want, err_msg=f"{fmt.name} {mode}")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("saturate", [True, False], ids=["sat", "nosat"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", INTS, ids=ids)
def test_probes_vs_oracle(fmt, mode: str, saturate: bool, impl: str) -> None:
    f = fmt.replace(rounding=mode, saturate=saturate, seed=11)
    x = probe_values(f)
    want, _, _ = R.ref_encode(f, x)
    enc = encode(impl, f, x)
    assert enc.codes.dtype == want.dtype
    bad = enc.codes != want
    assert not bad.any(), f"{f.name} {mode}: x={x[bad][:6]} got {enc.codes[bad][:6]} want {want[bad][:6]}"
    assert_same_f32(quantize(impl, f, x), R.ref_decode(f, want), f"{f.name} quantize")


@pytest.mark.parametrize("impl", IMPLS)
def test_int4_int8_clamps_by_hand(impl: str) -> None:
    x = np.float32([8.0, -8.0, 7.49, -7.5, 100.0, -np.inf, np.inf, 0.5, 1.5, -0.5, -0.0, -0.2])
    q4 = quantize(impl, hwsim.format("int4"), x)
    np.testing.assert_array_equal(q4, np.float32([7, -7, 7, -7, 7, -7, 7, 0, 2, 0, 0, 0]))
    c4 = encode(impl, hwsim.format("int4"), x).codes
    assert list(c4) == [7, 9, 7, 9, 7, 9, 7, 0, 2, 0, 0, 0]  # 9 = -7 in 4-bit two's complement
    assert not np.signbit(q4[q4 == 0]).any()  # no negative zero
    x8 = np.float32([127.5, -127.5, 128.0, -300.0, 2.5, -2.5, 3.5])
    c8 = encode(impl, hwsim.format("int8"), x8).codes
    assert list(c8) == [127, 0x81, 127, 0x81, 2, 0xFE, 4]
    c8a = encode(impl, hwsim.format("int8", rounding="away"), x8).codes
    assert list(c8a) == [127, 0x81, 127, 0x81, 3, 0xFD, 4]
    c8z = encode(impl, hwsim.format("int8", rounding="zero"), x8).codes
    assert list(c8z) == [127, 0x81, 127, 0x81, 2, 0xFE, 3]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", INTS, ids=ids)
def test_nan_raises(fmt, impl: str) -> None:
    with pytest.raises(FormatError, match="(?i)nan"):
        encode(impl, fmt, np.float32([0.0, np.nan]))
    with pytest.raises(FormatError, match="(?i)nan"):
        quantize(impl, fmt, np.float32([np.nan]))
