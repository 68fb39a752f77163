"""The interleaving-learning studies (IL: ``../shared/papers/interleaving-learning-nas.md``; IMTNAS:
``../shared/papers/interleaving-multitask-nas.md``) as functions of the parsed study arguments;
the scripts beside this file call one each.

The outcome is the derived NB201 cell's true accuracy, read from the benchmark table on CIFAR-10,
CIFAR-100 and ImageNet16-120 -- no final training needed. The papers' tasks are CIFAR-10 and
CIFAR-100; CIFAR-100's images are not on the CPU machine, so at ``mini`` the two tasks are the
CIFAR-10 JPEGs (``--data``) and the embedded scikit-learn digits at the same 16x16 size
(``--second-task`` changes it, e.g. ``cifar100:PATH`` at paper scale).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench_toolkit.fileio import read_json
from bench_toolkit.search.differentiable import config_for
from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS
from bench_toolkit.search.multilevel.run import run_interleaved
from bench_toolkit.study import figure_dir, scale_folder, write_outputs

PAPER_IL = {  # IL Tables 2 and 3: test error (%) of the found cell trained on CIFAR-100 / CIFAR-10 (600 epochs)
    "DARTS-2nd (single task)": "CIFAR-100 20.58 ± 0.44, CIFAR-10 2.76 ± 0.09",
    "MTL (Eq. 10)": "CIFAR-100 18.92 ± 0.17, CIFAR-10 2.91 ± 0.12",
    "IL (DARTS-2nd)": "CIFAR-100 17.12 ± 0.08, CIFAR-10 2.62 ± 0.04",
}


def add_task_argument(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--second-task", default="digits", help="the second learner's data SPEC (the first is --data)")
    return p


def complete_multilevel(args: argparse.Namespace, runs: dict[str, tuple[str, dict]]) -> dict[str, Path]:
    """Each ``label -> (method, settings)`` over the study's seeds, reused when finished and continued
    when killed (``run_interleaved`` resumes from its checkpoints)."""
    directories = {}
    for label, (algo, settings) in runs.items():
        config = config_for(args.scale, MULTILEVEL_METHODS[algo], {"resolution": 16, **settings})
        out = Path(args.runs_dir) / scale_folder(args) / f"{algo}-{'-'.join(f'{k}{v}' for k, v in settings.items()) or 'default'}"
        directories[label] = out
        final = out / "final.json"
        if final.exists() and read_json(final).get("complete"):
            continue
        run_interleaved(algo, config, [args.data, args.second_task], args.benchmark, list(range(args.seeds)), out,
                        args.scale, args.device, resume=(out / "config.json").exists())
    return directories


def cell_table(run_dirs: dict[str, Path], paper: dict[str, str]) -> pd.DataFrame:
    """Per run the final cells' benchmark answers (mean ± std over seeds, and per seed)."""
    rows = []
    for label, run_dir in run_dirs.items():
        final = read_json(run_dir / "final.json")
        answers = {k: f"{v['mean']:.2f} ± {v['std']:.2f}" for k, v in final.items() if isinstance(v, dict)}
        rows.append({"search": label, "the paper": paper.get(label, "—"), "seeds": len(final["per_seed"]), **answers,
                     "cells": " ; ".join(s["arch"] for s in final["per_seed"])})
    return pd.DataFrame(rows)


def il_vs_mtl(args: argparse.Namespace) -> None:
    """IL Table 1/2 (search side): IL and MTL over the same two tasks; the derived cells' true accuracy."""
    runs = complete_multilevel(args, {"MTL (Eq. 10)": ("mtl-darts", {}), "IL (DARTS-2nd)": ("il-darts", {})})
    write_outputs(figure_dir(args), "il_vs_mtl", cell_table(runs, PAPER_IL))


def lambda_sweep(args: argparse.Namespace) -> None:
    """IL Fig. 2: the L2 coupling weight lambda (0.01 .. 1000; the paper's default 100)."""
    runs = complete_multilevel(args, {f"lambda {lam:g}": ("il-darts", {"il_lambda": lam}) for lam in (0.01, 1.0, 100.0, 1000.0)})
    write_outputs(figure_dir(args), "il_lambda", cell_table(runs, {}))


def rounds_sweep(args: argparse.Namespace) -> None:
    """IL Fig. 3 / IMTNAS Table 9: M = 1, 2, 3 rounds."""
    runs = complete_multilevel(args, {f"M = {m}": ("il-darts", {"rounds": m}) for m in (1, 2, 3)})
    write_outputs(figure_dir(args), "il_rounds", cell_table(runs, {}))
