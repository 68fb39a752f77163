"""Figures drawn from run-directory DataFrames (seaborn on matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import write_atomic

ANYTIME_AXES = {"queries": "step", "time": "sim_time"}
"""x-axis name -> history column: number of queries, or simulated training seconds."""


def save_figure(fig: Any, out: str | Path) -> Path:
    """Write a figure atomically in the format its suffix names (.png by default), then close it."""
    import matplotlib.pyplot as plt

    suffix = Path(out).suffix or ".png"
    try:
        return write_atomic(out, lambda tmp: fig.savefig(tmp, format=suffix.lstrip("."), dpi=150))
    finally:
        plt.close(fig)


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
    if "best_test_acc" not in history.columns:
        raise BenchToolkitError("anytime figures need black-box runs (a history with 'best_test_acc'); "
                                "for differentiable runs use --kind magnitude, entropy or accuracy")
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
    return save_figure(fig, out)


EPOCH_KINDS = ("magnitude", "entropy", "accuracy")
"""Per-epoch figures of differentiable-search runs (the papers' figure types)."""


def epoch_curves(history: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, str, str | None]:
    """Long-form ``(run, seed, epoch, value[, series])`` for one figure kind, its y label, and the
    series column (``op`` for magnitudes) or None.

    magnitude: operation magnitude m(t, o) per op (degradation paper Eq. 11, Fig. 3d);
    entropy: mean normalised cell entropy (ASAP Fig. 7);
    accuracy: benchmark test accuracy of the cell derived each epoch (degradation paper Fig. 2).
    """
    if kind not in EPOCH_KINDS:
        raise BenchToolkitError(f"unknown figure kind '{kind}'; choose one of: anytime, {', '.join(EPOCH_KINDS)}")
    if "epoch" not in history.columns:
        raise BenchToolkitError(f"'{kind}' figures need differentiable-search runs (a history with an 'epoch' column)")
    keys = ["run", "seed", "epoch"]
    if kind == "magnitude":
        columns = [c for c in history.columns if c.startswith("magnitude.")]
        long = history.melt(id_vars=keys, value_vars=columns, var_name="op", value_name="value")
        long["op"] = long["op"].str.removeprefix("magnitude.")
        return long, "operation magnitude m(t, o)", "op"
    if kind == "entropy":
        return history[keys].assign(value=history["entropy"]), "normalised cell entropy", None
    tests = [c for c in history.columns if c.endswith(".test_acc")]
    if not tests:
        raise BenchToolkitError("these runs recorded no benchmark answers; rerun with --benchmark SPEC")
    column = "cifar10.test_acc" if "cifar10.test_acc" in tests else tests[0]
    return history[keys].assign(value=history[column]), f"{column} of the derived cell (%)", None


def epoch_plot(history: pd.DataFrame, kind: str, out: str | Path) -> Path:
    """One of :data:`EPOCH_KINDS` against epochs: mean line and ±1 std band over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    curves, label, series = epoch_curves(history, kind)
    fig, ax = plt.subplots(figsize=(6, 4))
    several_runs = curves["run"].nunique() > 1
    sns.lineplot(data=curves, x="epoch", y="value", hue=series or "run", style="run" if series and several_runs else None,
                 errorbar="sd", ax=ax)
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out)
