"""Run a Format's codec through one array library (``numpy`` or ``torch``), numpy in and out.

Tests parametrize over :data:`IMPLS` (STYLE P4): the same expected values (from the Fraction
oracle or hand-derived) must come out of every path. ``torch`` runs the torch kernels on CPU
tensors (:func:`hwsim.numerics.torch_codec.torch_kernels`), not the numba kernels a CPU tensor
gets by default, so that a bug in the torch kernels fails the ``[torch]`` cases.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from hwsim.numerics import Encoded

IMPLS = ["numpy", "torch"]


def _torch():
    return pytest.importorskip("torch")


def to_lib(impl: str, x: np.ndarray) -> Any:
    if impl == "numpy":
        return x
    torch = _torch()
    return torch.from_numpy(np.array(x, copy=True, order="C"))


def to_np(a: Any) -> Any:
    if a is None or isinstance(a, (np.ndarray, np.generic, float, int)):
        return a
    torch = _torch()
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        if a.dtype in (torch.uint16, torch.uint32):
            signed = {torch.uint16: torch.int16, torch.uint32: torch.int32}[a.dtype]
            return a.view(signed).numpy().view(np.uint16 if a.dtype == torch.uint16 else np.uint32)
        return a.numpy()
    return a


@contextlib.contextmanager
def kernels(impl: str) -> Iterator[None]:
    """The kernels of ``impl``: torch tensors run the torch kernels even on CPU."""
    if impl == "numpy":
        yield
        return
    _torch()
    from hwsim.numerics import torch_codec

    with torch_codec.torch_kernels():
        yield


def encode(impl: str, fmt, x: np.ndarray, axis: int = -1) -> Encoded:
    with kernels(impl):
        enc = fmt.encode(to_lib(impl, x), axis=axis)
    ts = to_np(enc.tensor_scale)
    return Encoded(to_np(enc.codes), to_np(enc.scales), None if ts is None else np.float32(ts),
                   enc.axis, enc.format, enc.meta)


def decode(impl: str, fmt, enc: Encoded) -> np.ndarray:
    lib = Encoded(to_lib(impl, enc.codes),
                  None if enc.scales is None else to_lib(impl, np.asarray(enc.scales)),
                  enc.tensor_scale, enc.axis, enc.format, enc.meta)
    with kernels(impl):
        return to_np(fmt.decode(lib))


def quantize(impl: str, fmt, x: np.ndarray, axis: int = -1) -> np.ndarray:
    with kernels(impl):
        return to_np(fmt.quantize(to_lib(impl, x), axis=axis))
