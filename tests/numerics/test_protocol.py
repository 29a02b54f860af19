"""Every catalog entry, whatever its family, keeps the one Format contract (protocol.NumberFormat):
same shape out, decode(encode(x)) == quantize(x) bit for bit, torch in -> torch out, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.catalog import all_formats
from hwsim.errors import FormatError
from hwsim.numerics.protocol import NumberFormat

ALL = all_formats()
X = np.random.default_rng(11).standard_normal((3, 40)).astype(np.float32) * 2


@pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.name)
def test_contract(fmt):
    assert isinstance(fmt, NumberFormat)
    assert fmt.bits_per_element > 0 and fmt.element_bits >= 1 and fmt.reference
    for axis in (-1, 0):
        q = fmt.quantize(X, axis=axis)
        assert q.shape == X.shape and q.dtype == np.float32
        enc = fmt.encode(X, axis=axis)
        assert enc.codes.shape == X.shape and enc.codes.dtype.kind == "u"
        d = fmt.decode(enc)
        assert np.array_equal(d.view(np.uint32), q.view(np.uint32)), f"{fmt.name} axis {axis}"
    with pytest.raises(FormatError, match="axis"):
        fmt.quantize(X, axis=2)
    with pytest.raises(FormatError, match="float"):
        fmt.quantize(np.ones((2, 4), np.int32))
    with pytest.raises(FormatError, match="unknown field"):
        fmt.replace(no_such_field=1)


@pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.name)
def test_torch_in_torch_out(fmt):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(X.copy())
    q = fmt.quantize(t, axis=-1)
    assert isinstance(q, torch.Tensor) and q.dtype == torch.float32 and q.device == t.device
    assert np.array_equal(q.numpy(), fmt.quantize(X, axis=-1))


def test_every_name_resolves_and_unknown_names_suggest():
    assert [f.name for f in ALL] == hwsim.formats()
    with pytest.raises(FormatError, match="bitmod4"):
        hwsim.format("bitmod5")


@pytest.mark.parametrize("fmt", ALL, ids=lambda f: f.name)
def test_edge_shapes_round_trip(fmt):
    """0-d and empty inputs: same shape and array type out, decode(encode(x)) == quantize(x)."""
    for x, axis in ((np.array(1.5, np.float32), -1), (np.array(-3e-3, np.float32), -1),
                    (np.zeros((2, 0), np.float32), 0), (np.zeros((2, 0), np.float32), 1)):
        q = fmt.quantize(x, axis=axis)
        d = fmt.decode(fmt.encode(x, axis=axis))
        assert type(q) is np.ndarray and type(d) is np.ndarray
        assert q.shape == x.shape == d.shape
        assert np.array_equal(q.view(np.uint32), d.view(np.uint32)), (fmt.name, x.shape, axis)
