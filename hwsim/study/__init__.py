"""Studies: sweeps over formats x accelerators x models, results tables and plots."""

from hwsim.study.tour import format_tour, plot_tour, qsnr_db

__all__ = ["format_tour", "plot_tour", "qsnr_db"]
