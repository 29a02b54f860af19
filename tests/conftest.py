"""Shared fixtures: the whole format catalog (STYLE P5), hypothesis profiles, torch threads.

``fmt`` runs a test once per catalog entry with the entry's name as test id; adding a TOML
entry adds test cases without editing any test. Tests skip by capability (``fmt.has_inf``,
``fmt.is_scaled``), never by name.
"""

from __future__ import annotations

import os
import sys

# Under pytest-xdist the workers already use every core: one numba thread per worker avoids
# oversubscription (and the parallel kernels' per-call thread wake-up cost on tiny arrays).
# Without -n the kernels run multi-threaded, so their parallel path is still exercised.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import hwsim.catalog

settings.register_profile("dev", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

if "torch" in sys.modules:  # pragma: no cover - depends on import order
    sys.modules["torch"].set_num_threads(1)


def pytest_configure(config: pytest.Config) -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)


ALL_FORMATS = hwsim.catalog.core_formats()
PLAIN = [f for f in ALL_FORMATS if not f.is_scaled]
SCALED = [f for f in ALL_FORMATS if f.is_scaled]


@pytest.fixture(params=ALL_FORMATS, ids=lambda f: f.name)
def fmt(request: pytest.FixtureRequest) -> hwsim.Format:
    """Every catalog format."""
    return request.param


@pytest.fixture(params=PLAIN, ids=lambda f: f.name)
def plain_fmt(request: pytest.FixtureRequest) -> hwsim.Format:
    """Every catalog format that is a plain element cast (no block or tensor scale)."""
    return request.param


@pytest.fixture(params=SCALED, ids=lambda f: f.name)
def scaled_fmt(request: pytest.FixtureRequest) -> hwsim.Format:
    """Every catalog format with a block, axis or tensor scale."""
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator: every run sees the same data."""
    return np.random.default_rng(20240603)
