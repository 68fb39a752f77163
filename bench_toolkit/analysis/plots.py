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


FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def figure_suffix(out: str | Path) -> str:
    """The format a figure path names (.png where it names none); any other suffix is refused."""
    suffix = Path(out).suffix.lower() or ".png"
    if suffix not in FIGURE_SUFFIXES:
        raise BenchToolkitError(f"cannot write figure '{out}': unknown suffix '{suffix}'; use {', '.join(FIGURE_SUFFIXES)}")
    return suffix


def save_figure(fig: Any, out: str | Path) -> Path:
    """Write a figure atomically in the format its suffix names (.png by default), then close it."""
    import matplotlib.pyplot as plt

    try:
        suffix = figure_suffix(out)
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]  # seed_lines': outside the axes
        return write_atomic(out, lambda tmp: fig.savefig(tmp, format=suffix.lstrip("."), dpi=150, bbox_inches="tight",
                                                         bbox_extra_artists=legends))
    finally:
        plt.close(fig)


def new_figure(panels: int = 1, sharey: bool = True, width: float = 5.5, height: float = 4.0) -> tuple[Any, list[Any]]:
    """A figure of ``panels`` side by side in the toolkit's one style (seaborn whitegrid), sharing
    the y-axis where panels are meant to be compared."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, panels, figsize=(width * panels, height), squeeze=False, sharey=sharey)
    return fig, list(axes[0])


def seed_lines(ax: Any, data: pd.DataFrame, x: str, y: str, hue: str) -> None:
    """Per ``hue`` value (one colour each): every seed a thin line, the mean over seeds a thick one.
    No band, so nothing is drawn outside the values the metric took; the legend, below the axes,
    names each value and how many seeds it averages."""
    import seaborn as sns

    values = list(dict.fromkeys(data[hue]))
    for value, color in zip(values, sns.color_palette(n_colors=len(values))):
        group = data[data[hue] == value]
        for _, seed in group.groupby("seed"):
            ax.plot(seed[x], seed[y], color=color, lw=0.7, alpha=0.35)
        mean = group.groupby(x)[y].mean()
        seeds = group["seed"].nunique()
        ax.plot(mean.index, mean.to_numpy(), color=color, lw=2.2, label=f"{value} (mean of {seeds} seed{'s' * (seeds > 1)})")
    # below the axes, covering no line; left out of tight_layout (which would shrink the axes to fit
    # it), the saved figure grows to hold it (save_figure: bbox_inches="tight")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16)).set_in_layout(False)
    if pd.api.types.is_integer_dtype(data[x]):  # epochs, queries: no fractional ticks
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def sweep_plot(points: pd.DataFrame, setting: str, answers: list[str], out: str | Path, title: str,
               log_x: bool = False) -> Path:
    """A paper's ablation figure (e.g. IL Figs. 2-3): the final cell's benchmark ``answers`` (one
    panel each; their scales differ, so the y-axes are not shared) against a search ``setting``.
    ``points`` holds one row per (run, seed) with the setting's value and the answers; each seed is
    a thin line across the settings, the mean a thick one (:func:`seed_lines`, hue = ``run``)."""
    fig, axes = new_figure(len(answers), sharey=False, width=4.5)
    values = sorted(points[setting].unique())
    for ax, answer in zip(axes, answers):
        seed_lines(ax, points.sort_values(setting), setting, answer, "run")
        if log_x:
            ax.set_xscale("log")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
        ax.set_xlabel(setting)
        ax.set_ylabel(f"{answer} of the final cell (%)")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out)


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
    """Best-so-far test accuracy against queries or simulated time: each seed a thin line, the
    mean a thick one, one colour per run directory. Written atomically to ``out`` (.png, .pdf, .svg)."""
    curves = anytime_curves(history, x)
    fig, (ax,) = new_figure(width=6)
    seed_lines(ax, curves, x, "best_test_acc", "run")
    ax.set_xlabel("queries" if x == "queries" else "simulated training time (s)")
    ax.set_ylabel("test accuracy of best-so-far cell (%)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, out)


EPOCH_KINDS = ("magnitude", "entropy", "accuracy", "depth", "edge_weight")
"""Per-epoch figures of differentiable-search runs (the papers' figure types)."""


def epoch_curves(history: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, str, str | None]:
    """Long-form ``(run, seed, epoch, value[, series])`` for one figure kind, its y label, and the
    series column (``op`` for magnitudes) or None.

    magnitude: operation magnitude m(t, o) per op (degradation paper Eq. 11, Fig. 3d);
    entropy: mean normalised cell entropy (ASAP Fig. 7);
    accuracy: benchmark test accuracy of the cell derived each epoch (degradation paper Fig. 2);
    depth: the longest path of IF-NAS's retained network, summed over the stages (IF-NAS Table 4);
    edge_weight: each recorded edge weight (PC-DARTS's softmax of beta, IF-NAS's g(beta); IF-NAS
    Fig. 1), one line per edge -- pass a history holding the edges to draw.
    """
    if kind not in EPOCH_KINDS:
        raise BenchToolkitError(f"unknown figure kind '{kind}'; choose one of: anytime, {', '.join(EPOCH_KINDS)}")
    if "epoch" not in history.columns:
        raise BenchToolkitError(f"'{kind}' figures need differentiable-search runs (a history with an 'epoch' column)")
    keys = ["run", "seed", "epoch"]
    if "learner" in history.columns:  # multi-level: an epoch's rows (one per round and learner) share the architecture
        history = history.drop_duplicates(keys)
    if kind == "magnitude":
        columns = [c for c in history.columns if c.startswith("magnitude.")]
        long = history.melt(id_vars=keys, value_vars=columns, var_name="op", value_name="value")
        long["op"] = long["op"].str.removeprefix("magnitude.")
        return long, "operation magnitude m(t, o)", "op"
    if kind == "entropy":
        return history[keys].assign(value=history["entropy"]), "normalised cell entropy", None
    if kind == "edge_weight":
        columns = [c for c in history.columns if c.startswith("edge_weight.")]
        if not columns:
            raise BenchToolkitError("'edge_weight' figures need runs that record edge weights (pc-darts, if-nas)")
        long = history.melt(id_vars=keys, value_vars=columns, var_name="edge", value_name="value")
        long["edge"] = long["edge"].str.removeprefix("edge_weight.")
        return long, "edge weight", "edge"
    if kind == "depth":
        if "depth" not in history.columns:
            raise BenchToolkitError("'depth' figures need IF-NAS runs (--algo if-nas records the retained network's depth)")
        return history[keys].assign(value=history["depth"]), "depth of the retained network (connections)", None
    tests = [c for c in history.columns if c.endswith(".test_acc")]
    if not tests:
        raise BenchToolkitError("these runs recorded no benchmark answers; rerun with --benchmark SPEC")
    column = "cifar10.test_acc" if "cifar10.test_acc" in tests else tests[0]
    return history[keys].assign(value=history[column]), f"{column} of the derived cell (%)", None


def epoch_plot(history: pd.DataFrame, kind: str, out: str | Path, title: str | None = None,
               shift: dict[str, int] | None = None, scale_epochs: bool = False) -> Path:
    """One of :data:`EPOCH_KINDS` against epochs, each seed a thin line and the mean a thick one.
    Magnitudes (one line per op) get one panel per run, sharing the y-axis, each titled
    "title: run"; the other kinds one panel with a colour per run. ``shift`` moves a run's epochs
    back (to align the epochs after a warm-up, as the degradation paper's Fig. 2h);
    ``scale_epochs`` divides each run's epochs by its last, so runs of different lengths share one
    axis from 0 to 1 (the ASAP paper's Figs. 6-7 scale search time so)."""
    if shift and scale_epochs:
        raise BenchToolkitError("give shift or scale_epochs, not both")
    curves, label, series = epoch_curves(history, kind)
    if shift:
        curves = curves.assign(epoch=curves["epoch"] - curves["run"].map(shift).fillna(0))
    if scale_epochs:
        curves = curves.assign(epoch=curves["epoch"] / curves.groupby("run")["epoch"].transform("max"))
    runs = list(dict.fromkeys(curves["run"]))
    panels = runs if series else [None]
    fig, axes = new_figure(len(panels))
    for ax, run in zip(axes, panels):
        seed_lines(ax, curves if run is None else curves[curves["run"] == run], "epoch", "value", series or "run")
        ax.set_title(": ".join(part for part in (title, run) if part))
        ax.set_xlabel("epoch after warm-up" if shift else "search progress (epoch / last epoch)" if scale_epochs else "epoch")
    axes[0].set_ylabel(label)
    fig.tight_layout()
    return save_figure(fig, out)
