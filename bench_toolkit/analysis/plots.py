"""Figures drawn from run-directory DataFrames (seaborn on matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import write_atomic

ANYTIME_AXES = {"queries": "step", "time": "sim_time"}
"""x-axis name -> history column: number of queries, or simulated training seconds."""


def anytime_curves(history: pd.DataFrame, x: str = "queries", points: int = 200) -> pd.DataFrame:
    """Best-so-far reported test accuracy per (run, seed) on a common x grid.

    Each seed's best-so-far is a step function of its own queries; it is read off at shared grid
    points (the value after the last query at or before each point), so seeds can be averaged
    even when a time budget gives them different query times. Points past a seed's last query
    are dropped, not extrapolated.
    """
    if x not in ANYTIME_AXES:
        raise BenchToolkitError(f"unknown anytime x-axis '{x}'; choose one of: {', '.join(ANYTIME_AXES)}")
    column = ANYTIME_AXES[x]
    if history[column].isna().all():
        raise BenchToolkitError("these runs record no simulated time (the benchmark has no train_time); use x='queries'")
    end = history[column].max()
    grid = np.arange(1, int(end) + 1) if x == "queries" else np.linspace(history[column].min(), end, points)
    curves = []
    for (run, seed), group in history.groupby(["run", "seed"], sort=True):
        group = group.sort_values("step")
        xs, ys = group[column].to_numpy(), group["best_test_acc"].to_numpy()
        keep = (grid >= xs[0]) & (grid <= xs[-1])
        positions = np.searchsorted(xs, grid[keep], side="right") - 1
        curves.append(pd.DataFrame({"run": run, "seed": seed, x: grid[keep], "best_test_acc": ys[positions]}))
    return pd.concat(curves, ignore_index=True)


def anytime_plot(history: pd.DataFrame, out: str | Path, x: str = "queries", title: str | None = None) -> Path:
    """Best-so-far test accuracy against queries or simulated time: mean line and ±1 std band
    over seeds, one line per run directory. Written atomically to ``out`` (.png, .pdf, .svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    curves = anytime_curves(history, x)
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(data=curves, x=x, y="best_test_acc", hue="run", errorbar="sd", ax=ax)
    ax.set_xlabel("queries" if x == "queries" else "simulated training time (s)")
    ax.set_ylabel("test accuracy of best-so-far cell (%)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    suffix = Path(out).suffix or ".png"
    try:
        return write_atomic(out, lambda tmp: fig.savefig(tmp, format=suffix.lstrip("."), dpi=150))
    finally:
        plt.close(fig)
