"""DFP16: shared per-tensor exponent, INT16 x INT16 -> INT32 accumulation against exact integer
references (Python ints), overflow handling and the overflow count when it is off."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import hwsim
from hwsim.errors import HwsimError
from hwsim.train import dfp

DFP16 = hwsim.format("dfp16")


def _wrap32(v: int) -> int:
    return ((v + 2**31) % 2**32) - 2**31


def _exact(ia: torch.Tensor, ib: torch.Tensor) -> list[list[int]]:
    a = [[int(v) for v in row] for row in ia.tolist()]
    b = [[int(v) for v in row] for row in ib.tolist()]
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def test_catalog_entries() -> None:
    for name, bits in (("dfp16", 16), ("dfp8", 8)):
        f = hwsim.format(name)
        assert f.element.bits == bits and f.block_size == 0 and f.bits_per_element == bits
        assert "Das et al" in f.reference


def test_shared_exponent_per_tensor() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(8, 50, generator=gen) * torch.logspace(-3, 2, 8)[:, None]  # rows of very different size
    q = dfp.quantize_tensor(DFP16, x)
    ints, e = dfp.to_int(q, DFP16)
    assert torch.equal(torch.ldexp(ints, torch.tensor(e, dtype=torch.float64)).float(), q)
    assert torch.equal(ints, ints.round())
    amax = int(ints.abs().max())
    assert 2**14 <= amax < 2**15  # the largest magnitude fills the INT16 range (one exponent for all rows)
    # the small rows lose their precision to the shared exponent: per-row scaling would keep it
    assert (q[0] == 0).float().mean() > 0.5
    per_row = DFP16.quantize(x, axis=-1)
    assert not torch.equal(per_row, q)


def test_int32_accumulation_matches_exact_integers() -> None:
    gen = torch.Generator().manual_seed(1)
    ia = torch.randint(-32767, 32768, (5, 40), generator=gen).double()
    ib = torch.randint(-32767, 32768, (40, 3), generator=gen).double()
    exact = _exact(ia, ib)
    got, over, chunk = dfp.int_matmul(ia, ib, overflow_handling=True)
    assert got.tolist() == [[float(v) for v in row] for row in exact] and over == 0
    max_a, max_b = int(ia.abs().max()), int(ib.abs().max())
    assert chunk * max_a * max_b <= 2**31 - 1 < (chunk + 1) * max_a * max_b
    wrapped, over, _ = dfp.int_matmul(ia, ib, overflow_handling=False)
    assert wrapped.tolist() == [[float(_wrap32(v)) for v in row] for row in exact]
    assert over == sum(_wrap32(v) != v for row in exact for v in row)


def test_overflow_detected_when_forced() -> None:
    ia = torch.full((2, 4), 32767.0, dtype=torch.float64)
    ib = torch.full((4, 3), 32767.0, dtype=torch.float64)
    ib[:, 2] = -1.0  # this column stays in range
    got, over, _ = dfp.int_matmul(ia, ib, overflow_handling=False)
    exact = 4 * 32767 * 32767
    assert exact > 2**31 - 1
    assert over == 4  # 2 rows x 2 overflowing columns
    assert got[0, 0] == _wrap32(exact) and got[0, 2] == -4 * 32767
    handled, over, chunk = dfp.int_matmul(ia, ib, overflow_handling=True)
    assert over == 0 and handled[0, 0] == exact and chunk == 2


def test_dfp_matmul_with_handling_is_the_exact_product_rounded_once() -> None:
    gen = torch.Generator().manual_seed(2)
    a = dfp.quantize_tensor(DFP16, torch.randn(16, 300, generator=gen))
    b = dfp.quantize_tensor(DFP16, torch.randn(300, 8, generator=gen))
    y, over = dfp.dfp_matmul(a, b, DFP16, DFP16, True)
    assert over == 0
    assert torch.equal(y, (a.double() @ b.double()).float())
    y2, over2 = dfp.dfp_matmul(a, b, DFP16, DFP16, False)
    assert over2 > 0 and not torch.equal(y, y2)  # K=300 near-full-range products: INT32 overflows


def test_exactness_guard() -> None:
    ia = torch.full((1, 2**24), 32767.0, dtype=torch.float64)
    with pytest.raises(HwsimError, match="exact float64"):
        dfp.int_matmul(ia, ia.t(), True)


def test_safe_chunk() -> None:
    assert dfp.safe_chunk(32767, 32767) == 2
    assert dfp.safe_chunk(1, 1) == 2**31 - 1
    assert dfp.safe_chunk(0, 5) == 2**31 - 1
    assert np.iinfo(np.int32).max == dfp.INT32_MAX


def test_wrap_edges_of_the_int32_register() -> None:
    """2^31 does not fit a two's-complement INT32 (it wraps to -2^31, one overflow); -2^31 does."""
    a = torch.tensor([[2.0**15, 2.0**15], [-(2.0**15), -(2.0**15)], [2.0**15, -(2.0**15)]], dtype=torch.float64)
    b = torch.tensor([[2.0**15], [2.0**15]], dtype=torch.float64)
    got, over, _ = dfp.int_matmul(a, b, overflow_handling=False)
    assert got.flatten().tolist() == [-(2.0**31), -(2.0**31), 0.0] and over == 1


def test_dfp_gemm_is_the_register_scaled_and_rounded_once() -> None:
    """The fused output pass: with handling the exact integer sum, without it the INT32 register
    (wrapped), each times 2^(e_a + e_b) and rounded once to float32, against Python integers."""
    gen = torch.Generator().manual_seed(3)
    a = dfp.encode_tensor(DFP16, torch.randn(6, 300, generator=gen))
    b = dfp.encode_tensor(DFP16, torch.randn(300, 4, generator=gen) * 1e-3)
    exact = _exact(a.ints, b.ints)
    for handling in (True, False):
        y, over = dfp.dfp_gemm(a, b, handling)
        regs = [[v if handling else _wrap32(v) for v in row] for row in exact]
        want = torch.tensor([[math.ldexp(v, a.exp + b.exp) for v in row] for row in regs],
                            dtype=torch.float64).float()
        assert torch.equal(y, want)
        assert over == (0 if handling else sum(_wrap32(v) != v for row in exact for v in row))
    assert over > 0  # K=300 near-full-range products overflow without handling


def test_nan_has_no_integer() -> None:
    with pytest.raises(HwsimError, match="NaN"):
        dfp.to_int(torch.tensor([1.0, math.nan]), DFP16)


@pytest.mark.parametrize("rounding", ["even", "stochastic"])
def test_transposed_view_same_as_its_copy(rounding: str) -> None:
    """A weight read as W^T: quantized in storage order (no copy) when deterministic, the same values
    and integers as the contiguous copy; stochastic bits follow the view's flattened index."""
    fmt = DFP16 if rounding == "even" else DFP16.replace(rounding="stochastic", seed=4)
    w = torch.randn(24, 40, generator=torch.Generator().manual_seed(5))
    view, copy = w.t(), w.t().contiguous()
    assert torch.equal(dfp.quantize_tensor(fmt, view), dfp.quantize_tensor(fmt, copy))
    a, b = dfp.encode_tensor(fmt, view), dfp.encode_tensor(fmt, copy)
    assert torch.equal(a.ints, b.ints) and (a.exp, a.max_int) == (b.exp, b.max_int)
    assert not a.ints.is_contiguous() or rounding == "stochastic"
