"""Shared fixtures for the cost-model tests.

``FakeFormat`` is a test double with exactly what the cost model may read from a number format:
its typed operand description (:class:`hwsim.numerics.protocol.OperandSpec`, issue 11 item 4);
the cost model must never look at ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hwsim.numerics.protocol import OperandSpec, ScaleSpec


@dataclass(frozen=True)
class FakeFormat:
    name: str
    operand: OperandSpec


def _fake(name: str, bits_per_element: float, element_bits: int, block_size: int | None, is_float: bool,
          exp_bits: int, man_bits: int) -> FakeFormat:
    scales = (ScaleSpec("block", block_size, 8, True, 8, 0, "E8M0 (test double)"),) if block_size else ()
    return FakeFormat(name, OperandSpec(element_bits, bits_per_element, is_float, exp_bits, man_bits, scales, "even"))


FAKES = {
    "int8": _fake("int8", 8.0, 8, None, False, 0, 7),
    "int4": _fake("int4", 4.0, 4, None, False, 0, 3),
    "fp16": _fake("fp16", 16.0, 16, None, True, 5, 10),
    "fp32": _fake("fp32", 32.0, 32, None, True, 8, 23),
    "fp8_e4m3": _fake("fp8_e4m3", 8.0, 8, None, True, 4, 3),
    "mxfp4": _fake("mxfp4", 4.25, 4, 32, True, 2, 1),
    "mxfp8_e4m3": _fake("mxfp8_e4m3", 8.25, 8, 32, True, 4, 3),
}


@pytest.fixture
def fake() -> dict[str, FakeFormat]:
    return FAKES
