"""Boundaries of the codec plan's decode checks (hwsim.numerics.plan), on both backends.

An element of ``b`` bits has the codes ``0 .. 2**b - 1`` (docs/numerics.md): decode must take the
largest and refuse ``2**b`` itself, the first code that does not fit, with a FormatError -- not
read past the value table (numba's gather does no bounds check) or raise an IndexError. The
existing tests only try codes far past the width (``codes + 16``), which an off-by-one in the
check (``top > 2**b``) lets through. Axis bounds: ``axis == ndim`` is out of range, not axis 0.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.encoded import Encoded

#: plain and block-scaled formats of 4- and 8-bit elements
NAMES = ["fp4_e2m1", "fp8_e4m3", "int8", "mxfp4", "nvfp4", "int4_g32"]


def _encoded(name: str, codes: np.ndarray, like: Encoded) -> Encoded:
    return Encoded(codes=codes, scales=like.scales, tensor_scale=like.tensor_scale, axis=like.axis,
                   format=name)


@pytest.mark.parametrize("name", NAMES)
def test_decode_takes_the_top_code_and_refuses_the_next(name: str) -> None:
    fmt = hwsim.format(name)
    top = (1 << fmt.element.bits) - 1
    enc = fmt.encode(np.ones((2, 32), np.float32))
    codes = np.asarray(enc.codes).copy()
    codes[1, 5] = top
    fmt.decode(_encoded(name, codes, enc))  # the largest code fits
    codes = codes.astype(np.uint16)
    codes[1, 5] = top + 1
    with pytest.raises(FormatError, match="does not fit"):
        fmt.decode(_encoded(name, codes, enc))


@pytest.mark.parametrize("name", NAMES)
def test_torch_decode_refuses_the_first_code_past_the_width(name: str) -> None:
    torch = pytest.importorskip("torch")
    from hwsim.numerics import torch_codec as tn

    fmt = hwsim.format(name)
    top = (1 << fmt.element.bits) - 1
    for forced in (False, True):
        tn.use_torch_kernels(forced)
        try:
            enc = fmt.encode(torch.ones(2, 32))
            codes = enc.codes.to(torch.int32)
            codes[1, 5] = top
            fmt.decode(Encoded(codes=codes.to(torch.uint16), scales=enc.scales, tensor_scale=enc.tensor_scale,
                               axis=enc.axis, format=name))
            codes[1, 5] = top + 1
            with pytest.raises(FormatError, match="does not fit"):
                fmt.decode(Encoded(codes=codes.to(torch.uint16), scales=enc.scales,
                                   tensor_scale=enc.tensor_scale, axis=enc.axis, format=name))
        finally:
            tn.use_torch_kernels(False)


@pytest.mark.parametrize("name", NAMES)
def test_axis_equal_to_ndim_is_out_of_range(name: str) -> None:
    fmt = hwsim.format(name)
    x = np.ones((4, 32), np.float32)
    for axis in (2, -3):
        with pytest.raises(FormatError, match="out of range"):
            fmt.encode(x, axis=axis)
        with pytest.raises(FormatError, match="out of range"):
            fmt.quantize(x, axis=axis)
