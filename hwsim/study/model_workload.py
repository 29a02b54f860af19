"""The GEMMs of a model's forward pass from its configuration, without running it
(``hwsim workload smollm2|minilm|config.json --seq S --batch B``).

A bridge model (:mod:`hwsim.bridge.models`) is loaded for its Hugging Face ``config`` only (no
evaluation, no forward pass); a ``config.json`` path is read as is. The layer list comes from
:func:`hwsim.arch.workload.from_hf_config`, which matches the GEMMs ``hwsim run`` records for one
forward of ``batch`` sequences of ``seq`` tokens (tests/arch/test_workload_hf.py checks it against
recorded runs). A run *evaluates* several chunks (SmolLM2 ``ci``: 4 x 128 tokens), so its totals
are the workload's times the number of forwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwsim.arch.workload import Workload, from_hf_config
from hwsim.errors import HwsimError

__all__ = ["model_workload"]


def _config(name: str) -> dict[str, Any]:
    path = Path(name)
    if path.suffix == ".json":
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise HwsimError(f"cannot read {path}: {exc}") from None
    from hwsim.bridge import models

    spec = models.get(name)  # unknown names list the known models
    config = getattr(spec.load(), "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise HwsimError(f"model {name!r} has no Hugging Face config: workloads from a config know "
                         f"transformer models (smollm2, minilm) and config.json files")
    return config.to_dict()


def model_workload(name: str, *, seq: int = 128, batch: int = 1) -> Workload:
    """One forward pass of the bridge model ``name`` (or a ``config.json``) on ``[batch, seq]``."""
    return from_hf_config(_config(name), seq=seq, batch=batch, name=Path(name).stem)
