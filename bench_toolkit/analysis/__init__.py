"""Run directories -> DataFrames -> figures."""

from bench_toolkit.analysis.plots import anytime_curves, anytime_plot
from bench_toolkit.analysis.runs import load_run, load_runs

__all__ = ["anytime_curves", "anytime_plot", "load_run", "load_runs"]
