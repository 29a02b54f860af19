"""Shared fixtures for the cost-model tests.

``FakeFormat`` is a test double with exactly the attributes the cost model may read from a
``hwsim.Format`` (issue #4 interface); the cost model must never look at ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class FakeFormat:
    name: str
    bits_per_element: float
    element_bits: int
    block_size: int | None
    is_float_element: bool
    exp_bits: int
    man_bits: int


FAKES = {
    "int8": FakeFormat("int8", 8.0, 8, None, False, 0, 7),
    "int4": FakeFormat("int4", 4.0, 4, None, False, 0, 3),
    "fp16": FakeFormat("fp16", 16.0, 16, None, True, 5, 10),
    "fp32": FakeFormat("fp32", 32.0, 32, None, True, 8, 23),
    "fp8_e4m3": FakeFormat("fp8_e4m3", 8.0, 8, None, True, 4, 3),
    "mxfp4": FakeFormat("mxfp4", 4.25, 4, 32, True, 2, 1),
    "mxfp8_e4m3": FakeFormat("mxfp8_e4m3", 8.25, 8, 32, True, 4, 3),
}


@pytest.fixture
def fake() -> dict[str, FakeFormat]:
    return FAKES
