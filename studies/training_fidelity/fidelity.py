"""Does our final training rank NB201 cells as the benchmark does? Train cells spanning the real
table's accuracy range with NB201's TinyNetwork and recipe (``bench-toolkit train``'s ``nb201``)
and compare their test accuracies with the table's by Kendall's tau.

The cells: the valid cells (one per isomorphism class) nearest to N CIFAR-10 test accuracies
evenly spaced over the table's range (48.4 to 94.4 % in NATS-tss). Runs live in
``<runs-dir>/<scale>/fidelity-<E>ep/cell-<i>`` (E: the epochs trained) and are reused (or
continued) when present. Writes ``fidelity-<E>ep.csv`` (cell, table accuracy, our top-1 and top-5,
parameters) and ``fidelity-<E>ep.png`` (ours against the table, tau in the title) under
``<out-dir>/<scale>/``.

    python studies/training_fidelity/fidelity.py --scale mini --workers 2 \
        --data imagefolder:../shared/data/cifar10-jpeg/train.zip --test-data imagefolder:../shared/data/cifar10-jpeg/test.zip \
        --benchmark table:../shared/data/nb201/nats_tss_test_acc_200ep.csv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench_toolkit.analysis import new_figure, save_figure
from bench_toolkit.benchmarks import load_benchmark
from bench_toolkit.executors import run_in_processes
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import read_json, write_table
from bench_toolkit.spaces import nb201
from bench_toolkit.study import figure_dir, scale_folder
from bench_toolkit.train import TRAIN_SCALES, recipe_for, resume_training, train_network

REPO = Path(__file__).resolve().parents[2]


def spanning_cells(frame: pd.DataFrame, count: int, column: str = "cifar10.test_acc") -> pd.DataFrame:
    """``count`` cells spanning the accuracy range of the valid cells (one per isomorphism class,
    the first in index order): the cell nearest to each of ``count`` accuracies evenly spaced from
    the lowest to the highest, each cell once."""
    valid = frame[frame["arch"].map(nb201.is_valid)].copy()
    valid["iso"] = valid["arch"].map(nb201.iso_key)
    classes = valid.drop_duplicates("iso").sort_values(column, kind="stable").reset_index(drop=True)
    targets = np.linspace(classes[column].min(), classes[column].max(), count)
    picks = []
    for target in targets:
        order = (classes[column] - target).abs().sort_values(kind="stable").index
        picks.append(next(i for i in order if i not in picks))
    return classes.loc[picks, ["arch", column]].reset_index(drop=True)


def _train(arch: str, scale: str, settings: dict, data: str, test_data: str | None, out: str, threads: int) -> dict:
    """One cell's final training (its ``final.json``): read when done, continued when killed. A
    directory holding another cell or recipe stops the study with one line."""
    import torch

    torch.set_num_threads(threads)
    out_dir, recipe = Path(out), recipe_for("nb201", scale, settings)
    if (out_dir / "config.json").exists():
        saved = read_json(out_dir / "config.json")
        if saved.get("arch") != arch or saved.get("recipe") != json.loads(json.dumps(recipe.as_dict())):
            raise BenchToolkitError(f"'{out_dir}' holds the training of another cell or recipe; give another "
                                    "--runs-dir, or delete it to train this one")
    if (out_dir / "final.json").exists():
        return read_json(out_dir / "final.json")
    if (out_dir / "checkpoint.pt").exists():
        return resume_training(out_dir)
    return train_network(arch, recipe, data, out_dir, test_data, seed=0, scale=scale)


def main(args: argparse.Namespace) -> None:
    from scipy.stats import kendalltau

    cells = spanning_cells(load_benchmark(args.benchmark).frame(), args.cells)
    settings = {"epochs": args.epochs} if args.epochs else {}
    recipe = recipe_for("nb201", args.scale, settings)
    runs = Path(args.runs_dir) / scale_folder(args) / f"fidelity-{recipe.epochs}ep"
    calls = [(f"cell-{i}", _train, (arch, args.scale, settings, args.data, args.test_data, str(runs / f"cell-{i}")))
             for i, arch in enumerate(cells["arch"])]
    done = run_in_processes(calls, args.workers, threads=1)
    finals = [done[name] for name, _, _ in calls]
    table = cells.rename(columns={"cifar10.test_acc": "table_test_acc"})
    table["our_top1"] = [f["test_top1"] for f in finals]
    table["our_top5"] = [f["test_top5"] for f in finals]
    table["params_M"] = [f["params_M"] for f in finals]
    tau, p_value = kendalltau(table["table_test_acc"], table["our_top1"])
    out = figure_dir(args)
    write_table(out / f"fidelity-{recipe.epochs}ep.csv", table)
    fig, (ax,) = new_figure(1, width=5.0, height=4.5)
    ax.scatter(table["table_test_acc"], table["our_top1"], s=25)
    ax.set_xlabel("NB201 table: CIFAR-10 test (%)\n(200 epochs, C=16, N=5, 32x32)")
    ax.set_ylabel(f"ours: CIFAR-10 test top-1 (%)\n({recipe.epochs} epochs, C={recipe.channels}, N={recipe.layers}, "
                  f"{recipe.resolution or 32}x{recipe.resolution or 32})")
    ax.set_title(f"{len(table)} NB201 cells at {args.scale}: Kendall tau {tau:.2f} (p = {p_value:.1g})", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / f"fidelity-{recipe.epochs}ep.png")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"Kendall tau {tau:.3f} (p = {p_value:.2g}) over {len(table)} cells; written to {out}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="mini", choices=list(TRAIN_SCALES))
    p.add_argument("--cells", type=int, default=20)
    p.add_argument("--epochs", type=int, help="epochs (default: the nb201 recipe's 200)")
    p.add_argument("--data", default="digits")
    p.add_argument("--test-data")
    p.add_argument("--benchmark", default="analog", help="benchmark SPEC whose CIFAR-10 test accuracy is compared")
    p.add_argument("--workers", type=int, default=1, help="cells trained at once, one thread each")
    p.add_argument("--runs-dir", default=str(REPO / "runs"))
    p.add_argument("--out-dir", default=str(REPO / "figures" / "training_fidelity"))
    return p


if __name__ == "__main__":
    main(parser().parse_args())
