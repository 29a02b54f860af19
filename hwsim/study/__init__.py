"""Studies: sweeps over formats x accelerators x models, results tables and plots.

``load_study(path)`` validates a ``study.toml``; ``sweep(study)`` runs its pending points into the
study's :class:`ResultsStore`; ``load_results(path)`` is every stored point as a
``pandas.DataFrame`` (docs/studies.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim.study.runner import SweepSummary, sweep
from hwsim.study.spec import Study, StudyError, load_study
from hwsim.study.store import ResultsStore
from hwsim.study.tour import format_tour, plot_tour, qsnr_db

if TYPE_CHECKING:
    import os

    import pandas as pd

__all__ = ["format_tour", "plot_tour", "qsnr_db", "load_study", "Study", "StudyError", "sweep", "SweepSummary",
           "ResultsStore", "load_results"]


def load_results(study: str | os.PathLike[str], table: str = "points") -> pd.DataFrame:
    """Every point of a study (a folder or its ``study.toml``) as a DataFrame, one row per key
    (``table="layers"``: the per-layer rows)."""
    store = ResultsStore.of(study)
    return store.points() if table == "points" else store.layers()
