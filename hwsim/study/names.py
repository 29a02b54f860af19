"""Names a study may use on its ``data`` and ``model`` axes (a leaf module: imports nothing, so
the schema, the data loaders and the plots can all read it)."""

from __future__ import annotations

__all__ = ["DISTRIBUTIONS", "DATA_NAMES", "MODEL_NAMES"]

#: synthetic data (:func:`hwsim.study.tour.sample`)
DISTRIBUTIONS = ("gaussian", "laplace", "student-t")
#: the ``data`` axis: distributions and real weights (:func:`hwsim.study.sources.data_tensors`)
DATA_NAMES = (*DISTRIBUTIONS, "minilm", "smollm2")
#: the ``model`` axis: the bridge's built-in models (``hwsim.bridge.models.names()``)
MODEL_NAMES = ("smollm2", "minilm", "digits-mlp", "digits-cnn")
