"""The ASAP paper's analysis (Sec. 4.4-4.5) on the NB201 space: Fig. 3, 6, 7 and a results table,
comparing DARTS-V1, ASAP, accumulated-gradient pruning (p = 1, 3) and GDAS on shared runs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench_toolkit.analysis import load_run, save_figure
from bench_toolkit.study import complete, final_table, method_run, write_outputs

METHODS = {
    "DARTS-V1": ("darts-v1", {}),
    "ASAP": ("asap", {}),
    "Accum-Grad p=1": ("prune-accumgrad", {"prune_power": 1}),
    "Accum-Grad p=3": ("prune-accumgrad", {"prune_power": 3}),
    "GDAS": ("gdas", {}),
}


def _runs(args: argparse.Namespace, labels: tuple[str, ...] = tuple(METHODS)) -> dict[str, Path]:
    return complete(args, {label: method_run(METHODS[label][0], METHODS[label][1],
                                             label.lower().replace(" ", "-").replace("=", "")) for label in labels})


def _scaled_time(history: pd.DataFrame) -> pd.DataFrame:
    """Search time scaled to [0, 1] per seed (cumulative epoch seconds / total), in 20 bins."""
    elapsed = history.groupby(["run", "seed"])["epoch_seconds"].cumsum()
    total = history.groupby(["run", "seed"])["epoch_seconds"].transform("sum")
    return history.assign(time=(elapsed / total * 20).round() / 20)


def _figure(data: pd.DataFrame, x: str, ys: list[tuple[str, str]], out: Path, title: str, hue: str | None = "run") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, len(ys), figsize=(5.5 * len(ys), 4), squeeze=False)
    for ax, (column, label) in zip(axes[0], ys):
        sns.lineplot(data=data, x=x, y=column, hue=hue, errorbar="sd", ax=ax)
        ax.set_ylabel(label)
        ax.set_xlabel("search time scaled to [0, 1]" if x == "time" else x)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out)


def _out(args: argparse.Namespace) -> Path:
    return Path(args.out_dir) / args.scale


def fig3(args: argparse.Namespace) -> None:
    """Fig. 3: ASAP's epoch duration (relative to its first epoch) and 1 - sparsity per epoch."""
    history = load_run(_runs(args, ("ASAP",))["ASAP"])
    first = history.groupby("seed")["epoch_seconds"].transform("first")
    data = history.assign(relative_duration=history["epoch_seconds"] / first, density=1 - history["sparsity"])
    _figure(data, "epoch", [("relative_duration", "epoch duration / first epoch"), ("density", "1 - sparsity")],
            _out(args) / "fig3_duration_sparsity.png", "ASAP", hue=None)
    summary = data.groupby("epoch")[["relative_duration", "density", "epoch_seconds"]].mean().reset_index()
    write_outputs(_out(args), "fig3_duration_sparsity", summary.round(4))


def fig6(args: argparse.Namespace) -> None:
    """Fig. 6: benchmark accuracy of the cell derived along the search, time scaled to [0, 1]."""
    history = _scaled_time(pd.concat([load_run(d).assign(run=label) for label, d in _runs(args).items()]))
    column = "cifar10.test_acc" if "cifar10.test_acc" in history else "cifar10.valid_acc"
    _figure(history, "time", [(column, f"{column} of the derived cell (%)")], _out(args) / "fig6_accuracy.png",
            "accuracy along the search")


def fig7(args: argparse.Namespace) -> None:
    """Fig. 7: normalised cell entropy along the search, time scaled to [0, 1]."""
    history = _scaled_time(pd.concat([load_run(d).assign(run=label) for label, d in _runs(args).items()]))
    _figure(history, "time", [("entropy", "cell entropy / ln |O|")], _out(args) / "fig7_entropy.png", "cell entropy")


def table(args: argparse.Namespace) -> None:
    """Results table: NB201 accuracy of the final cells, mean ± std over seeds."""
    write_outputs(_out(args), "table_final_cells", final_table(_runs(args)))
