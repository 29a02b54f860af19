"""Scaled formats always saturate, whatever ``saturate`` says (docs/numerics.md, "Scaled formats":
OCP MX v1.0 §6.3, "normal values greater than max are clamped").

Every catalog entry sets ``saturate = true``, so only an override reaches the case: a block whose
largest element, divided by the power-of-two shared scale, lies above the element's max (E4M3: 448,
E5M2: 57344; the shared exponent floor(log2 amax) - emax leaves up to 2x headroom). Expected values
are written out here from the spec (max times the block scale), never taken from the code.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.numerics import _reference as R

# (format, amax of the block that overflows after scaling, element max, its max magnitude code)
CASES = [
    ("mxfp8_e4m3", 480.0, 448.0, 0x7E),     # 480 = 1.875 * 2**8, se = 8 - 8 = 0: 480 > 448
    ("mxfp8_e5m2", 61440.0, 57344.0, 0x7B),  # 61440 = 1.875 * 2**15, se = 15 - 15 = 0
]


def _block(amax: float, se: int) -> np.ndarray:
    x = np.full(32, 1.0, np.float32)
    x[0], x[1], x[2] = amax, -amax, 0.5
    return (x * np.float32(2.0 ** se)).reshape(1, 32)


@pytest.mark.parametrize("name,amax,emax_val,code", CASES)
@pytest.mark.parametrize("se", [0, 4, -3])
def test_scaled_format_saturates_even_with_saturate_false(name, amax, emax_val, code, se) -> None:
    fmt = hwsim.format(name, saturate=False)
    assert fmt.saturate is False
    x = _block(amax, se)
    want = x.copy()
    want[0, 0], want[0, 1] = emax_val * 2.0 ** se, -emax_val * 2.0 ** se
    got = fmt.quantize(x)
    np.testing.assert_array_equal(got, want, err_msg=f"{name} saturate=False quantize")
    enc = fmt.encode(x)
    assert int(enc.codes[0, 0]) == code and int(enc.codes[0, 1]) == 0x80 | code
    assert int(enc.scales[0, 0]) == 127 + se
    np.testing.assert_array_equal(fmt.decode(enc), want)
    # the spec oracle agrees
    np.testing.assert_array_equal(np.asarray(R.ref_quantize(fmt, x), np.float32), want)


@pytest.mark.parametrize("name,amax,emax_val,code", CASES)
def test_scaled_format_saturates_torch_codec(name, amax, emax_val, code) -> None:
    torch = pytest.importorskip("torch")
    from hwsim.numerics import torch_codec as tc
    fmt = hwsim.format(name, saturate=False)
    x = _block(amax, 2)
    want = x.copy()
    want[0, 0], want[0, 1] = emax_val * 4.0, -emax_val * 4.0
    np.testing.assert_array_equal(tc.quantize(fmt, torch.from_numpy(x)).numpy(), want)
    enc = tc.encode(fmt, torch.from_numpy(x))
    assert int(enc.codes[0, 0]) == code and int(enc.codes[0, 1]) == 0x80 | code


def test_plain_cast_does_not_saturate_when_told() -> None:
    """Contrast: the plain cast honours saturate=False (E4M3 'fn' overflow -> NaN, E5M2 -> Inf)."""
    x = np.array([480.0], np.float32)
    assert np.isnan(hwsim.format("fp8_e4m3", saturate=False).quantize(x)[0])
    assert np.isinf(hwsim.format("fp8_e5m2", saturate=False).quantize(np.array([61440.0], np.float32))[0])
    assert hwsim.format("fp8_e4m3", saturate=True).quantize(x)[0] == 448.0
