"""The ASAP paper's analysis (Sec. 4.4-4.5) on the NB201 space: Fig. 3, 6, 7 and a results table,
comparing DARTS-V1, ASAP, accumulated-gradient pruning (p = 1, 3) and ENAS on shared runs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench_toolkit.analysis import load_run, new_figure, save_figure, seed_lines
from bench_toolkit.study import complete, figure_dir, final_table, labelled_history, method_run, only, write_outputs

METHODS = {
    "DARTS-V1": ("darts-v1", {}),
    "ASAP": ("asap", {}),
    "Accum-Grad p=1": ("prune-accumgrad", {"prune_power": 1}),
    "Accum-Grad p=3": ("prune-accumgrad", {"prune_power": 3}),
    "ENAS": ("enas", {}),
}


def _runs(args: argparse.Namespace, labels: tuple[str, ...] = tuple(METHODS)) -> dict[str, Path]:
    runs = {label: method_run(METHODS[label][0], METHODS[label][1], label.lower().replace(" ", "-").replace("=", ""))
            for label in labels}
    return complete(args, only(args, runs) if len(labels) > 1 else runs)


def _figure(data: pd.DataFrame, ys: list[tuple[str, str]], out: Path, title: str) -> None:
    """One panel per (column, label) against epochs; per run each seed a thin line, the mean thick."""
    fig, axes = new_figure(len(ys), sharey=False)
    for ax, (column, label) in zip(axes, ys):
        seed_lines(ax, data, "epoch", column, "run")
        ax.set_ylabel(label)
        ax.set_xlabel("epoch")
        ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, out)


def _out(args: argparse.Namespace) -> Path:
    return figure_dir(args)


def fig3(args: argparse.Namespace) -> None:
    """Fig. 3: ASAP's epoch duration (relative to its first epoch) and 1 - sparsity per epoch."""
    history = load_run(_runs(args, ("ASAP",))["ASAP"]).assign(run="ASAP")
    first = history.groupby("seed")["epoch_seconds"].transform("first")
    data = history.assign(relative_duration=history["epoch_seconds"] / first, density=1 - history["sparsity"])
    _figure(data, [("relative_duration", "epoch duration / first epoch"), ("density", "1 - sparsity")],
            _out(args) / "fig3_duration_sparsity.png", "ASAP")
    summary = data.groupby("epoch")[["relative_duration", "density", "epoch_seconds"]].mean().reset_index()
    write_outputs(_out(args), "fig3_duration_sparsity", summary.round(4))


def fig6(args: argparse.Namespace) -> None:
    """Fig. 6: benchmark accuracy of the cell derived along the search, per epoch (the paper's
    x-axis is scaled search time; epochs are what every method shares, whatever its speed)."""
    history = labelled_history(_runs(args))
    column = "cifar10.test_acc" if "cifar10.test_acc" in history else "cifar10.valid_acc"
    _figure(history, [(column, f"{column} of the derived cell (%)")], _out(args) / "fig6_accuracy.png",
            "accuracy along the search")


def fig7(args: argparse.Namespace) -> None:
    """Fig. 7: normalised cell entropy along the search, per epoch."""
    _figure(labelled_history(_runs(args)), [("entropy", "cell entropy / ln |O|")], _out(args) / "fig7_entropy.png", "cell entropy")


def table(args: argparse.Namespace) -> None:
    """Results table: NB201 accuracy of the final cells, mean ± std over seeds."""
    write_outputs(_out(args), "table_final_cells", final_table(_runs(args)))
