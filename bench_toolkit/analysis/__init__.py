"""Run directories -> DataFrames -> figures."""

from bench_toolkit.analysis.plots import (
    EPOCH_KINDS, anytime_curves, anytime_plot, epoch_curves, epoch_plot, new_figure, save_figure, seed_lines,
    sweep_plot,
)
from bench_toolkit.analysis.runs import load_run, load_runs

__all__ = ["EPOCH_KINDS", "anytime_curves", "anytime_plot", "epoch_curves", "epoch_plot", "load_run", "load_runs",
           "new_figure", "save_figure", "seed_lines", "sweep_plot"]
