"""DARTS-V1 and P-DARTS in the DARTS CNN space at a study scale: the genotypes they derive, drawn
and sized, and the skip connections of the normal cell along the search.

Claims tested (search side only; the papers' errors need 600-epoch final training):
- DARTS's derived normal cell gathers skip connections as its search goes on (the degradation the
  degradation paper studies on NB201; P-DARTS reports it in this space);
- P-DARTS's search space regularisation (skip dropout) and its limit of two skip connections give
  a normal cell of parametric ops, so a network about the size of the published P-DARTS one
  (3.4 M parameters at 20 cells, C = 36).

DARTS-V1 (first order, 50 epochs) runs through the one engine (``--space darts``, run directory
``darts-space-darts-v1``); P-DARTS (three stages of 25 epochs, 5 -> 11 -> 17 cells) one run
directory per seed (``pdarts-seed-S``, continued stage by stage when killed). Writes under
``<out-dir>/<scale>/``: ``genotypes.csv`` (each seed's genotype, the skip connections and
parameter-free ops of its normal cell, the parameters of its CIFAR-10 network), the published
genotypes' rows for reference, one drawing per seed ``<method>-seed<S>.png`` and
``normal_skips.png`` (skip connections of the derived normal cell per epoch, each seed a thin line).

    python studies/darts_space/genotypes.py --scale mini --workers 2 \\
        --data imagefolder:../shared/data/cifar10-jpeg/train.zip
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench_toolkit.analysis import load_run, new_figure, save_figure, seed_lines
from bench_toolkit.analysis.genotype_plot import draw_genotype
from bench_toolkit.executors import run_in_processes
from bench_toolkit.fileio import read_json
from bench_toolkit.nn.darts_network import NetworkCIFAR, count_parameters
from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.progressive import CELLS_ADDED, resume_pdarts, run_pdarts
from bench_toolkit.spaces import count_op, darts
from bench_toolkit.study import (complete, figure_dir, finished_run, holds_this_run, method_run, parser, scale_folder,
                                 write_outputs)

PARAMETER_FREE = ("max_pool_3x3", "avg_pool_3x3", "skip_connect")
PUBLISHED = {"DARTS-V1 (published)": "DARTS_V1", "P-DARTS (published)": "PDARTS"}


def cell_summary(genotype: darts.Genotype) -> dict[str, float]:
    """Skip connections and parameter-free ops of the normal cell, and the parameters (millions,
    without the auxiliary head) of the CIFAR-10 network of 20 cells at C = 36 built from it."""
    normal_ops = [op for op, _ in genotype.normal]
    return {"normal_skips": normal_ops.count("skip_connect"),
            "normal_parameter_free": sum(op in PARAMETER_FREE for op in normal_ops),
            "reduce_parameter_free": sum(op in PARAMETER_FREE for op, _ in genotype.reduce),
            "cifar10_params_M": round(count_parameters(NetworkCIFAR(genotype)) / 1e6, 3)}


def _pdarts_runs(args: argparse.Namespace) -> dict[int, Path]:
    """Every seed's P-DARTS run directory, finished: read when done, continued when killed, with
    ``--workers N`` up to N seeds at once, each in its own process. A directory holding a run
    with other settings stops the study with one line."""
    config = config_for(args.scale, get_method("pdarts").defaults, {})
    folder = Path(args.runs_dir) / scale_folder(args)
    dirs = {seed: folder / f"pdarts-seed-{seed}" for seed in range(args.seeds)}
    pending = []
    for seed, run_dir in dirs.items():
        if not holds_this_run(run_dir, config, [seed], [args.data]):
            pending.append((run_dir.name, run_pdarts, (config, args.data, [seed], run_dir, args.device)))
        elif not finished_run(run_dir):
            pending.append((run_dir.name, resume_pdarts, (run_dir, args.device)))
    run_in_processes(pending, args.workers, args.threads)
    return dirs


def _pdarts_history(run_dir: Path, seed: int) -> pd.DataFrame:
    """The three stages' histories as one, epochs counted on across the stages."""
    frames, offset = [], 0
    for stage in range(1, len(CELLS_ADDED) + 1):
        history = load_run(run_dir / f"seed-{seed}" / f"stage-{stage}")
        frames.append(history.assign(epoch=history["epoch"] + offset, stage=stage))
        offset = int(frames[-1]["epoch"].max())
    return pd.concat(frames, ignore_index=True)


def genotype_rows(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run (or reuse) the searches; each seed's final genotype with its summary, and the
    per-epoch skip connections of the derived normal cells."""
    darts_dir = complete(args, {"DARTS-V1": method_run("darts-v1", {"space": "darts"}, "darts-space-darts-v1")})["DARTS-V1"]
    pdarts_dirs = _pdarts_runs(args)
    darts_history = load_run(darts_dir).assign(run="DARTS-V1")
    histories = [darts_history, *(_pdarts_history(d, s).assign(run="P-DARTS") for s, d in pdarts_dirs.items())]
    finals = [("DARTS-V1", int(seed), group.sort_values("epoch")["arch"].iloc[-1])
              for seed, group in darts_history.groupby("seed")]
    chosen = {seed: read_json(run_dir / "final.json")["per_seed"][str(seed)] for seed, run_dir in pdarts_dirs.items()}
    finals += [("P-DARTS before the skip limit", seed, c["genotype"]) for seed, c in chosen.items()]
    finals += [("P-DARTS", seed, c["genotype_max_2_skips"]) for seed, c in chosen.items()]
    rows = [{"method": method, "seed": seed, **cell_summary(darts.parse_genotype(text)), "genotype": text}
            for method, seed, text in finals]
    rows += [{"method": label, "seed": None, **cell_summary(darts.get_genotype(name)), "genotype": str(darts.get_genotype(name))}
             for label, name in PUBLISHED.items()]
    curves = pd.concat(histories, ignore_index=True)
    curves["normal_skips"] = [count_op("darts", arch, "skip_connect") for arch in curves["arch"]]
    return pd.DataFrame(rows).astype({"seed": "Int64"}), curves


def main(args: argparse.Namespace) -> None:
    table, curves = genotype_rows(args)
    out = figure_dir(args)
    for _, row in table[table["seed"].notna()].iterrows():
        slug = row["method"].lower().replace(" ", "-")
        draw_genotype(darts.parse_genotype(row["genotype"]), out / f"{slug}-seed{int(row['seed'])}.png",
                      f"{row['method']}, seed {int(row['seed'])}")
    fig, axes = new_figure(2, width=9.0, height=3.6)
    for ax, (method, epochs) in zip(axes, [("DARTS-V1", "epoch"), ("P-DARTS", "epoch (stages of 5, 11, 17 cells)")]):
        seed_lines(ax, curves[curves["run"] == method], "epoch", "normal_skips", "run")
        ax.set(xlabel=epochs, ylabel="skip connections in the normal cell", ylim=(-0.2, 8.2), title=method)
    for end in curves[curves["run"] == "P-DARTS"].groupby("stage")["epoch"].max().iloc[:-1]:
        axes[1].axvline(end + 0.5, color="grey", lw=0.8, ls=":")  # where a stage ends
    fig.tight_layout()
    save_figure(fig, out / "normal_skips.png")
    write_outputs(out, "genotypes", table)


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0], "darts_space", has_benchmark=False)
    p.set_defaults(seeds=3)
    main(p.parse_args())
