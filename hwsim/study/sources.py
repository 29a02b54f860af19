"""Names a study may use for its ``data`` and ``model`` axes, and the tensors behind ``data``.

``data`` (the ``qsnr`` metric): the synthetic distributions of :mod:`hwsim.study.tour`
(``gaussian``, ``laplace``, ``student-t``: 256 x 4096 float32 samples from the point's seed),
``minilm`` (the 36 Linear weights of MiniLM-L6), ``smollm2`` (the Linear weights of SmolLM2-135M's
first and last decoder layers: 14 matrices, 7.1 M values; all 30 layers would make each QSNR
point encode 106 M values for the same picture), or a ``.npy`` file.
"""

from __future__ import annotations

import numpy as np

from hwsim.study.compare import load_data
from hwsim.study.names import DATA_NAMES, MODEL_NAMES

__all__ = ["DATA_NAMES", "MODEL_NAMES", "data_tensors", "SMOLLM2_LAYERS"]
#: decoder layers of SmolLM2-135M whose Linear weights make the ``smollm2`` data source
SMOLLM2_LAYERS = (0, 29)


def data_tensors(source: str, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """The named float32 ``[out, in]`` tensors of a ``data`` axis value."""
    if source == "smollm2":
        from hwsim.bridge.models import smollm2

        model = smollm2.load()
        out = []
        for name, mod in model.named_modules():
            w = getattr(mod, "weight", None)
            if (type(mod).__name__ == "Linear" and w is not None
                    and any(name.startswith(f"model.layers.{i}.") for i in SMOLLM2_LAYERS)):
                out.append((name, w.detach().float().numpy().copy()))
        return out
    return load_data(source, seed=seed)
