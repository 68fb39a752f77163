"""The ASAP paper's analysis (Sec. 4.4-4.5) on the NB201 space: Fig. 3, 6, 7 and a results table,
comparing DARTS-V1, ASAP, accumulated-gradient pruning (p = 1, 3) and ENAS on shared runs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench_toolkit.analysis import load_run, new_figure, save_figure, seed_lines
from bench_toolkit.study import (curve_figure, figure_dir, final_table, may_redraw, method_run, table_rows,
                                 write_outputs)

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
    return table_rows(args, runs)


def _out(args: argparse.Namespace) -> Path:
    return figure_dir(args)


def fig3(args: argparse.Namespace) -> None:
    """Fig. 3: ASAP's epoch duration (relative to its first epoch) and 1 - sparsity per epoch."""
    history = load_run(_runs(args, ("ASAP",))["ASAP"]).assign(run="ASAP")
    first = history.groupby("seed")["epoch_seconds"].transform("first")
    data = history.assign(relative_duration=history["epoch_seconds"] / first, density=1 - history["sparsity"])
    fig, axes = new_figure(2, sharey=False)
    for ax, (column, label) in zip(axes, [("relative_duration", "epoch duration / first epoch"), ("density", "1 - sparsity")]):
        seed_lines(ax, data, "epoch", column, "run")
        ax.set(xlabel="epoch", ylabel=label, title="ASAP")
    fig.tight_layout()
    save_figure(fig, _out(args) / "fig3_duration_sparsity.png")
    summary = data.groupby("epoch")[["relative_duration", "density", "epoch_seconds"]].mean().reset_index()
    write_outputs(_out(args), "fig3_duration_sparsity", summary.round(4))


def fig6(args: argparse.Namespace) -> None:
    """Fig. 6: benchmark accuracy of the cell derived along the search, against search progress
    (each run's epochs divided by its last: ENAS runs 310 epochs, the others 50). The paper's
    x-axis is search time scaled to [0, 1]; epochs are what every method shares, whatever its
    speed on this machine."""
    _progress_figure(args, "accuracy", "fig6_accuracy.png", "accuracy along the search")


def fig7(args: argparse.Namespace) -> None:
    """Fig. 7: normalised cell entropy against search progress (as :func:`fig6`)."""
    _progress_figure(args, "entropy", "fig7_entropy.png", "cell entropy")


def _progress_figure(args: argparse.Namespace, kind: str, name: str, title: str) -> None:
    """A per-epoch figure of every method, with the final-cells table of the same runs written
    beside it: while some methods' rows come from that CSV alone (runs made elsewhere), the figure
    already there is left as it is rather than redrawn with fewer methods (:func:`may_redraw`)."""
    run_dirs = _runs(args)
    figure = _out(args) / name
    if may_redraw(_final_cells(args, run_dirs), "method", run_dirs, [figure]):
        curve_figure(run_dirs, kind, figure, title, scale_epochs=True)


def table(args: argparse.Namespace) -> None:
    """Results table: NB201 accuracy of the final cells, mean ± std over seeds."""
    _final_cells(args, _runs(args))


def _final_cells(args: argparse.Namespace, run_dirs: dict[str, Path]) -> pd.DataFrame:
    """Write (and return) the final cells' table of ``run_dirs``, keeping the CSV's rows of methods
    whose runs are not here."""
    return write_outputs(_out(args), "table_final_cells", final_table(run_dirs), rows_of=("method", list(METHODS)))
