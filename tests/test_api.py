"""The public API contract: catalog names, lookup errors, overrides, formats built in code,
input validation with precise FormatErrors, and catalog hygiene (references, unique names)."""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.catalog import all_formats
from hwsim.errors import FormatError
from hwsim.numerics import RoundMode
from hwsim.numerics.elements import FloatElement, IntElement
from hwsim.numerics.format import Format

ISSUE_NAMES = ["fp4_e2m1", "fp6_e2m3", "fp6_e3m2", "fp8_e4m3", "fp8_e5m2", "fp16", "bf16", "int4",
               "int8", "mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxfp8_e5m2", "mxint8",
               "nvfp4", "msfp12", "msfp16"]


def test_formats_has_the_issue_names() -> None:
    names = hwsim.formats()
    missing = [n for n in ISSUE_NAMES if n not in names]
    assert not missing, f"missing catalog formats: {missing}"
    assert all(isinstance(n, str) for n in names)


def test_names_unique() -> None:
    names = hwsim.formats()
    assert len(names) == len(set(names))
    assert [f.name for f in all_formats()] == names


def test_every_entry_has_a_reference(fmt) -> None:
    assert isinstance(fmt.reference, str) and fmt.reference.strip(), fmt.name


def test_format_is_hashable_value_object(fmt) -> None:
    """STYLE P1: frozen, hashable, equal by value."""
    assert hash(fmt) == hash(hwsim.format(fmt.name))
    assert fmt == hwsim.format(fmt.name)
    with pytest.raises(AttributeError):
        fmt.seed = 3  # type: ignore[misc]


def test_unknown_name_lists_known_and_closest() -> None:
    with pytest.raises(FormatError) as info:
        hwsim.format("mxfp5")
    msg = str(info.value)
    assert "'mxfp5'" in msg and "mxfp4" in msg
    assert "Did you mean 'mxfp4'" in msg
    for n in ISSUE_NAMES:
        assert n in msg


def test_overrides() -> None:
    f = hwsim.format("mxfp4", rounding="stochastic", seed=0)
    assert isinstance(f, Format)
    assert f.rounding is RoundMode.STOCHASTIC and f.seed == 0 and f.name == "mxfp4"
    plain, nv = hwsim.format("mxfp4"), hwsim.format("nvfp4", tensor_scale=True)
    assert isinstance(plain, Format) and isinstance(nv, Format)
    assert plain.rounding is RoundMode.EVEN  # the catalog entry is unchanged
    assert nv.tensor_scale
    with pytest.raises(FormatError, match="foo"):
        hwsim.format("mxfp4", foo=1)
    with pytest.raises(FormatError, match="nearest") as info:
        hwsim.format("mxfp4", rounding="nearest")
    assert "even" in str(info.value)  # lists the allowed modes
    with pytest.raises(FormatError, match="seed"):
        hwsim.format("mxfp4", seed=-1)


def test_build_in_code() -> None:
    f = hwsim.format("fp", exp_bits=3, man_bits=4)
    assert isinstance(f, Format) and isinstance(f.element, FloatElement)
    assert (f.element.exp_bits, f.element.man_bits, f.element.bias) == (3, 4, 3)
    assert f.max == 15.5  # IEEE-style E3M4: 2^(6-3) (1 + 15/16)
    x = np.array([1.03, 100.0, -0.3], dtype=np.float32)
    # 0.3 * 64 = 19.2 -> 19/64
    np.testing.assert_array_equal(f.quantize(x), np.array([1.0, 15.5, -0.296875], dtype=np.float32))
    i = hwsim.format("int", bits=6)
    assert isinstance(i, Format) and isinstance(i.element, IntElement)
    assert i.element.qmax == 31 and i.quantize(np.array([40.0], dtype=np.float32))[0] == 31
    b = hwsim.format("block", element="fp4_e2m1", block_size=8, scale_rule="pow2")
    assert b.bits_per_element == 5.0
    with pytest.raises(FormatError, match="man_bits"):
        hwsim.format("fp", exp_bits=3)
    with pytest.raises(FormatError):
        hwsim.format("fp", exp_bits=0, man_bits=3)


@pytest.mark.parametrize("axis", [2, -3, 10])
def test_bad_axis_names_the_axis(fmt, axis: int) -> None:
    x = np.ones((2, 3), np.float32)
    with pytest.raises(FormatError, match=f"axis {axis}"):
        fmt.encode(x, axis=axis)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.complex64])
def test_non_float_dtype_names_the_dtype(fmt, dtype) -> None:
    x = np.ones(4, dtype)
    with pytest.raises(FormatError, match=np.dtype(dtype).name):
        fmt.quantize(x)
    with pytest.raises(FormatError, match=np.dtype(dtype).name):
        fmt.encode(x)


def test_quantize_returns_float32_of_input_shape(fmt) -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 17))
    q = fmt.quantize(x)
    assert q.dtype == np.float32 and q.shape == x.shape
    assert np.isfinite(q).all()


def test_torch_round_trip_keeps_type(fmt) -> None:
    """A torch tensor in, a float32 tensor of its shape on its device out, with the values of the
    numpy path: both for the default CPU-tensor kernels and for the torch kernels forced on CPU
    (an independent implementation of the core formats; docs/numerics.md, "Backends")."""
    torch = pytest.importorskip("torch")
    from hwsim.numerics import torch_codec

    x = torch.randn(3, 40, generator=torch.Generator().manual_seed(0))
    want = fmt.quantize(x.numpy())
    q = fmt.quantize(x)
    with torch_codec.torch_kernels():
        qt = fmt.quantize(x)
    for got in (q, qt):
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == x.shape
        assert got.device == x.device
        np.testing.assert_array_equal(got.numpy(), want)
