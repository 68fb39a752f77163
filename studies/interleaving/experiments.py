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
from typing import Any, NamedTuple

import pandas as pd

from bench_toolkit.analysis import sweep_plot
from bench_toolkit.benchmarks import Benchmark, load_benchmark
from bench_toolkit.diagnostics.recorder import benchmark_answers
from bench_toolkit.executors import run_in_processes
from bench_toolkit.fileio import read_json
from bench_toolkit.search.differentiable import config_for
from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS, mmd_acts
from bench_toolkit.search.multilevel.run import run_interleaved
from bench_toolkit.study import (
    curve_figure, finished_here_or_recorded, finished_run, holds_this_run, keep_records, kept_rows, may_redraw, only,
    scale_folder, write_outputs,
)

PAPER_IL = {  # IL Tables 2 and 3: test error (%) of the found cell trained on CIFAR-100 / CIFAR-10 (600 epochs)
    "DARTS-2nd (single task)": "CIFAR-100 20.58 ± 0.44, CIFAR-10 2.76 ± 0.09",
    "MTL (Eq. 10)": "CIFAR-100 18.92 ± 0.17, CIFAR-10 2.91 ± 0.12",
    "IL (DARTS-2nd)": "CIFAR-100 17.12 ± 0.08, CIFAR-10 2.62 ± 0.04",
    "PC-DARTS (single task)": "CIFAR-100 17.96 ± 0.15, CIFAR-10 2.57 ± 0.07",
    "MTL-PCDARTS": "CIFAR-100 18.11 ± 0.27, CIFAR-10 2.63 ± 0.05",
    "IL-PCDARTS": "CIFAR-100 17.83 ± 0.14, CIFAR-10 2.55 ± 0.11",
}
# IL Table 5 and IMTNAS Table 7: the two task orders, M = 2. The papers' order 1 starts with CIFAR-100, order 2
# with CIFAR-10; the studies' first task (--data) is CIFAR-10, so "first task first" is their order 2.
PAPER_ORDER = {
    "IL (DARTS-2nd): first task first": "order 2 (CIFAR-10 first): CIFAR-100 17.19 ± 0.14, CIFAR-10 2.79 ± 0.11",
    "IL (DARTS-2nd): second task first": "order 1 (CIFAR-100 first): CIFAR-100 17.12 ± 0.08, CIFAR-10 2.73 ± 0.04",
    "IMTNAS-Darts2nd: first task first": "order 2 (CIFAR-10 first): CIFAR-100 17.21 ± 0.18, CIFAR-10 2.67 ± 0.12",
    "IMTNAS-Darts2nd: second task first": "order 1 (CIFAR-100 first): CIFAR-100 17.33 ± 0.10, CIFAR-10 2.65 ± 0.02",
}
LAMBDAS = (0.01, 1.0, 100.0, 1000.0)  # IL Fig. 2's lambda (its default 100)
ROUNDS = (1, 2, 3)  # IL Fig. 3's M (its default 2)
PAPER_IMTNAS = {  # IMTNAS Tables 3, 6, 8, 9, 10: test error (%) of the found cell trained on CIFAR-100 / CIFAR-10
    "Darts2nd (single task)": "CIFAR-100 20.54 ± 0.41, CIFAR-10 2.75 ± 0.07",
    "MTL-SAO-Darts2nd": "CIFAR-100 18.87 ± 0.21, CIFAR-10 2.88 ± 0.10",
    "MTL-HWS-Darts2nd": "CIFAR-100 18.78 ± 0.30, CIFAR-10 2.86 ± 0.06",
    "MTL-SWS-Darts2nd": "CIFAR-100 18.74 ± 0.09, CIFAR-10 2.73 ± 0.11",
    "IMTNAS-Darts2nd": "CIFAR-100 17.33 ± 0.10, CIFAR-10 2.65 ± 0.02",
    "Pcdarts (single task)": "CIFAR-100 17.92 ± 0.13, CIFAR-10 2.51 ± 0.05",
    "MTL-SAO-Pcdarts": "CIFAR-100 18.06 ± 0.22, CIFAR-10 2.64 ± 0.10",
    "MTL-HWS-Pcdarts": "CIFAR-100 18.14 ± 0.15, CIFAR-10 2.69 ± 0.12",
    "MTL-SWS-Pcdarts": "CIFAR-100 18.00 ± 0.41, CIFAR-10 2.51 ± 0.11",
    "IMTNAS-Pcdarts": "CIFAR-100 17.31 ± 0.08, CIFAR-10 2.43 ± 0.03",
    "Ours (MMD hinge)": "CIFAR-100 17.33 ± 0.10, CIFAR-10 2.65 ± 0.02",
    "L2-Weights": "CIFAR-100 18.46 ± 0.09, CIFAR-10 2.72 ± 0.05",
    "L2-Embedding": "CIFAR-100 18.31 ± 0.13, CIFAR-10 2.73 ± 0.05",
    "Example-Similarity": "CIFAR-100 18.19 ± 0.10, CIFAR-10 2.71 ± 0.06",
    **{f"C = {c}": f"CIFAR-100 {e100}, CIFAR-10 {e10}" for c, e100, e10 in (
        ("0 (no transfer)", 20.71, 2.77), (3, 18.22, 2.72), (10, 17.64, 2.66), (20, 17.33, 2.65), (30, 17.36, 2.67),
        (40, 17.29, 2.70))},
    "20 rounds x 5 epochs": "CIFAR-100 24.55 ± 0.11, CIFAR-10 5.24 ± 0.06",
    "2 rounds x 50 epochs (main study)": "CIFAR-100 17.16 ± 0.07, CIFAR-10 2.63 ± 0.03",
    **{f"tau = {t}": f"CIFAR-100 {e100}, CIFAR-10 {e10}" for t, e100, e10 in (
        ("0.1", 17.36, 2.67), ("1", 17.35, 2.66), ("5", 17.33, 2.65), ("25", 17.33, 2.65), ("100", 17.35, 2.67))},
}


def add_task_argument(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--second-task", default="digits", help="the second learner's data SPEC (the first is --data)")
    return p


def _task_name(spec: str) -> str:
    """A data spec as a folder-name part: the source's file or folder name without suffixes, then
    its class selection (``imagefolder:.../train.zip#0-4`` -> ``train-classes-0-4``)."""
    kind, _, rest = spec.partition(":")
    path, _, classes = (rest or kind).partition("#")
    name = Path(path).name.split(".")[0] or kind
    return name + (f"-classes-{classes.replace(',', '-')}" if classes else "")


def task_pair_dir(root: Path, args: argparse.Namespace) -> Path:
    """Where a study's runs (``root`` = ``--runs-dir``) or tables (``--out-dir``) live: the scale
    folder for the default pair (``--data`` and the embedded digits, as the committed mini tables
    were made), else a subfolder naming both tasks, e.g. ``mini/tasks-train-classes-0-4+train-classes-5-9``
    -- so runs on another pair never reuse, nor tables overwrite, those of the default pair."""
    folder = root / scale_folder(args)
    if args.second_task == "digits":
        return folder
    return folder / f"tasks-{_task_name(args.data)}+{_task_name(args.second_task)}"


def _tables_dir(args: argparse.Namespace) -> Path:
    return task_pair_dir(Path(args.out_dir), args)


class MultilevelRun(NamedTuple):
    """One configuration of a study: a multi-level method, its settings (paper values, scaled when
    run), and its tasks: both (``--data`` then ``--second-task``) or ``--data`` alone (the
    single-task baseline)."""

    algo: str
    settings: dict[str, Any]
    tasks: int = 2


def complete_multilevel(args: argparse.Namespace, runs: dict[str, MultilevelRun]) -> dict[str, Path]:
    """Each run over the study's seeds, reused when finished and continued when killed
    (``run_interleaved`` resumes from its checkpoints) and grown when asked for more seeds; every
    finished run here gets a record beside the tables, and a row not run now (``--only``) is read
    from its run here or else from that record (``study.keep_records``: another machine's runs); a
    directory holding the run with other settings, on other tasks or over seeds the study's do not
    start with stops the study (``study.holds_this_run``, as the other studies; runs of a task pair
    live in :func:`task_pair_dir`). Runs with equal settings -- or computing the same search,
    :func:`computed_as` -- share a directory, so a configuration
    two studies need is searched once. With ``--workers N`` up to N configurations run at once,
    each in its own process (a configuration's seeds share one run directory, so they run one after
    another); a failed one does not stop the others (``executors.run_in_processes``)."""
    if args.executor != "local":
        raise SystemExit("the interleaving studies run on this machine (--workers N); drop --executor slurm")
    wanted = only(args, runs)
    directories: dict[str, Path] = {}
    pending: dict[Path, tuple] = {}
    seeds = list(range(args.seeds))
    for label, run in runs.items():
        run = computed_as(run, args.scale)
        config = config_for(args.scale, MULTILEVEL_METHODS[run.algo], {"resolution": 16, **run.settings})
        settings = "-".join(f"{k}{_setting_text(v)}" for k, v in run.settings.items()) or "default"
        out = task_pair_dir(Path(args.runs_dir), args) / (f"{run.algo}-{settings}" + ("-single-task" if run.tasks == 1 else ""))
        tasks = [args.data, args.second_task][:run.tasks]
        if label not in wanted:  # shown with the seeds it has when finished here or recorded (--only)
            found = finished_here_or_recorded(out, _tables_dir(args), config, seeds, tasks)
            if found:
                directories[label] = found
            continue
        directories[label] = out
        resume = holds_this_run(out, config, seeds, tasks)
        if not finished_run(out, seeds):
            pending[out] = (run.algo, config, tasks, args.benchmark,
                            seeds, out, args.scale, args.device, resume)
    run_in_processes([(out.name, run_interleaved, job) for out, job in pending.items()], args.workers, args.threads)
    keep_records(directories.values(), _tables_dir(args))
    return directories


def computed_as(run: MultilevelRun, scale: str) -> MultilevelRun:
    """The run that computes ``run``: where IMTNAS's MMD hinge cannot act (tau above the MMD's bound
    2, ``engine.mmd_acts``) the search is the one without transfer, bit for bit (tested),
    so every such row -- IMTNAS at the paper's tau = 5, each C of Table 8, tau >= 5 in Table 10 --
    shares that run (its directory says ``transfernone``). The MMD's settings are dropped wherever
    the hinge is not computed."""
    config = config_for(scale, MULTILEVEL_METHODS[run.algo], run.settings)
    if mmd_acts(config):
        return run
    settings = {k: v for k, v in run.settings.items() if not k.startswith("mmd_")}
    return run._replace(settings=settings | ({"transfer": "none"} if config.transfer == "mmd" else {}))


def _setting_text(value: Any) -> str:
    return "".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def cell_table(run_dirs: dict[str, Path], paper: dict[str, str]) -> pd.DataFrame:
    """Per run the final cells' benchmark answers (mean ± std over seeds, and per seed)."""
    rows = []
    for label, run_dir in run_dirs.items():
        final = read_json(run_dir / "final.json")
        answers = {k: f"{v['mean']:.2f} ± {v['std']:.2f}" for k, v in final.items() if isinstance(v, dict)}
        rows.append({"search": label, "the paper": paper.get(label, "—"), "seeds": len(final["per_seed"]), **answers,
                     "cells": " ; ".join(s["arch"] for s in final["per_seed"])})
    return pd.DataFrame(rows)


def _table(args: argparse.Namespace, name: str, runs: dict[str, MultilevelRun], paper: dict[str, str],
           title: str, groups: dict[str, list[str]] | None = None) -> tuple[dict[str, Path], pd.DataFrame]:
    """Complete the ``--only`` rows of a study (all without it) and write its table ``name``, with
    the other rows whose runs have finished here or that its CSV already holds (returned, with the
    run directories here); and, each seed a thin line and the mean a thick one, the figures
    ``name_accuracy.png`` (the benchmark accuracy of each epoch's derived cell) and
    ``name_magnitude.png`` (the operation magnitudes, degradation paper Eq. 11, one panel per row:
    the drift toward skip_connect behind a collapse). The figures need every row's history, so
    while some rows come from the CSV alone (runs made on another machine) the figures already
    there are left as they are, and the rows missing here are named. ``groups`` (``{caption:
    rows}``) splits the figures by base search method: the group captioned ``""`` keeps the names
    above, group ``"PC-DARTS"`` is drawn as ``name_pcdarts_KIND.png``, titled "title, PC-DARTS
    group" -- each group as soon as all of its own rows have runs here."""
    run_dirs = complete_multilevel(args, runs)
    table = write_outputs(_tables_dir(args), name, cell_table(run_dirs, paper), rows_of=("search", list(runs)))
    for caption, rows in (groups or {"": list(runs)}).items():
        stem = f"{name}_{caption.lower().replace('-', '')}" if caption else name
        figures = {kind: _tables_dir(args) / f"{stem}_{kind}.png" for kind in ("accuracy", "magnitude")}
        group_dirs = {label: run_dirs[label] for label in rows if label in run_dirs}
        if may_redraw(table[table["search"].isin(rows)], "search", group_dirs, list(figures.values())):
            for kind, path in figures.items():
                curve_figure(group_dirs, kind, path, f"{title}, {caption} group" if caption else title)
    return run_dirs, table


def sweep_points(run_dirs: dict[str, Path], setting: str, values: dict[str, float], run: str) -> pd.DataFrame:
    """One row per finished run of a sweep and seed: the ``setting``'s value (``values`` per row
    label), the seed and the final cell's benchmark answers (its ``final.json``); ``run`` names what
    was run, for the legend."""
    return pd.DataFrame([{"run": run, setting: values[label], "seed": cell["seed"],
                          **{k: v for k, v in cell.items() if k not in ("arch", "epoch", "seed")}}
                         for label, run_dir in run_dirs.items() for cell in read_json(run_dir / "final.json")["per_seed"]])


def kept_sweep_points(table: pd.DataFrame, bench: Benchmark, setting: str, values: dict[str, float],
                      run: str) -> pd.DataFrame:
    """:func:`sweep_points` for rows a study's CSV holds without their runs: each seed's final cell
    (the ``cells`` column, seeds 0, 1, ... in order, as :func:`cell_table` writes them) answered by
    the benchmark again -- the answers ``final.json`` held, read from the same table."""
    return pd.DataFrame([{"run": run, setting: values[row.search], "seed": seed, **benchmark_answers(bench, arch)}
                         for row in table.itertuples() for seed, arch in enumerate(row.cells.split(" ; "))])


def _sweep(args: argparse.Namespace, name: str, setting: str, values: dict[str, float], runs: dict[str, MultilevelRun],
           title: str, log_x: bool = False) -> None:
    """A sweep's table and epoch figures (:func:`_table`), and ``name.png``: the final cell's
    benchmark answers against the setting (the paper's figure), for every row of the table -- the
    rows whose runs are not here answered by ``--benchmark`` from their cells."""
    run_dirs, table = _table(args, name, runs, {}, title)
    kept = kept_rows(table, "search", run_dirs)
    if not args.benchmark and len(kept):
        print(f"{name}.png not redrawn: its rows {', '.join(kept['search'])} have no runs here; pass --benchmark to "
              "answer their cells")
        return
    label = "IL (DARTS-2nd)"  # both sweeps vary il-darts
    parts = [sweep_points(run_dirs, setting, values, label)]
    if len(kept):
        parts.append(kept_sweep_points(kept, load_benchmark(args.benchmark), setting, values, label))
    points = pd.concat(parts, ignore_index=True)
    if len(points):
        answers = sorted((c for c in points if c not in ("run", setting, "seed")), key=str.lower)  # CIFAR-10 first
        sweep_plot(points, setting, answers, _tables_dir(args) / f"{name}.png", title, log_x)


def il_vs_mtl(args: argparse.Namespace) -> None:
    """IL Tables 2-3 (search side): single-task search, MTL (Eq. 10) and IL over the same two tasks,
    over DARTS-2nd and over PC-DARTS."""
    darts = {"DARTS-2nd (single task)": MultilevelRun("mtl-darts", {}, tasks=1),
             "MTL (Eq. 10)": MultilevelRun("mtl-darts", {}),
             "IL (DARTS-2nd)": MultilevelRun("il-darts", {})}
    pc = {"PC-DARTS (single task)": MultilevelRun("mtl-pc-darts", {}, tasks=1),
          "MTL-PCDARTS": MultilevelRun("mtl-pc-darts", {}),
          "IL-PCDARTS": MultilevelRun("il-pc-darts", {})}
    _table(args, "il_vs_mtl", darts | pc, PAPER_IL, "IL Tables 2-3", groups={"": list(darts), "PC-DARTS": list(pc)})


def imtnas_vs_mtl(args: argparse.Namespace) -> None:
    """IMTNAS Table 3, DARTS-2nd and PC-DARTS groups (search side): single task, MTL sharing the
    architecture only, with hard and with soft weight sharing, and IMTNAS."""
    groups = {}
    for base, name, caption in (("darts", "Darts2nd", ""), ("pc-darts", "Pcdarts", "PC-DARTS")):
        groups[caption] = {f"{name} (single task)": MultilevelRun(f"mtl-{base}", {}, tasks=1),
                           f"MTL-SAO-{name}": MultilevelRun(f"mtl-{base}", {}),
                           f"MTL-HWS-{name}": MultilevelRun(f"mtl-{base}", {"mtl_sharing": "hard"}),
                           f"MTL-SWS-{name}": MultilevelRun(f"mtl-{base}", {"mtl_sharing": "soft"}),
                           f"IMTNAS-{name}": MultilevelRun(f"imtnas-{base}", {})}
    _table(args, "imtnas_vs_mtl", groups[""] | groups["PC-DARTS"], PAPER_IMTNAS, "IMTNAS Table 3",
           groups={caption: list(rows) for caption, rows in groups.items()})


def lambda_sweep(args: argparse.Namespace) -> None:
    """IL Fig. 2: the L2 coupling weight lambda (0.01 .. 1000; the paper's default 100)."""
    values = {f"lambda {lam:g}": lam for lam in LAMBDAS}
    _sweep(args, "il_lambda", "lambda", values,
           {label: MultilevelRun("il-darts", {} if lam == 100.0 else {"il_lambda": lam}) for label, lam in values.items()},
           "IL Fig. 2", log_x=True)


def rounds_sweep(args: argparse.Namespace) -> None:
    """IL Fig. 3: M = 1, 2, 3 rounds at lambda 100 (IMTNAS Table 9, 20 rounds of 5 epochs, is :func:`imtnas_rounds`)."""
    values = {f"M = {m}": m for m in ROUNDS}
    _sweep(args, "il_rounds", "rounds M", values,
           {label: MultilevelRun("il-darts", {} if m == 2 else {"rounds": m}) for label, m in values.items()}, "IL Fig. 3")


def imtnas_rounds(args: argparse.Namespace) -> None:
    """IMTNAS Table 9: 20 rounds of 5 epochs against the main study's 2 rounds of 50 -- the same
    number of learning stages times epochs (200), so about the same cost."""
    _table(args, "imtnas_rounds", {"20 rounds x 5 epochs": MultilevelRun("imtnas-darts", {"rounds": 20, "epochs": 5}),
                                   "2 rounds x 50 epochs (main study)": MultilevelRun("imtnas-darts", {})},
           PAPER_IMTNAS, "IMTNAS Table 9")


def transfer_ablation(args: argparse.Namespace) -> None:
    """IMTNAS Table 6: its distribution-matching transfer against L2 on weights, L2 on embeddings
    and example similarity, each coupling consecutive learners of IMTNAS-Darts2nd."""
    _table(args, "imtnas_transfer", {label: MultilevelRun("imtnas-darts", settings) for label, settings in (
        ("Ours (MMD hinge)", {}), ("L2-Weights", {"transfer": "l2"}), ("L2-Embedding", {"transfer": "embedding-l2"}),
        ("Example-Similarity", {"transfer": "similarity"}))}, PAPER_IMTNAS,
           "IMTNAS Table 6")


def task_order(args: argparse.Namespace) -> None:
    """IL Table 5 and IMTNAS Table 7: IL (DARTS-2nd) and IMTNAS-Darts2nd, each with the first task
    (``--data``) first and with the second first (M = 2: tasks 1, 2, 1, 2 against 2, 1, 2, 1)."""
    runs = {}
    for label, algo in (("IL (DARTS-2nd)", "il-darts"), ("IMTNAS-Darts2nd", "imtnas-darts")):
        runs |= {f"{label}: first task first": MultilevelRun(algo, {}),
                 f"{label}: second task first": MultilevelRun(algo, {"task_order": (1, 0)})}
    _table(args, "task_order", runs, PAPER_ORDER, "IL Table 5, IMTNAS Table 7")


def augmentations_sweep(args: argparse.Namespace) -> None:
    """IMTNAS Table 8: C augmentations per example (C = 0: no transfer; the paper's default 20)."""
    _table(args, "imtnas_augmentations", {
        "C = 0 (no transfer)": MultilevelRun("imtnas-darts", {"transfer": "none"}),
        **{f"C = {c}": MultilevelRun("imtnas-darts", {} if c == 20 else {"mmd_augmentations": c}) for c in (3, 10, 20, 30, 40)}},
        PAPER_IMTNAS, "IMTNAS Table 8")


def tau_sweep(args: argparse.Namespace) -> None:
    """IMTNAS Table 10: the MMD threshold tau (0.1 .. 100; the paper's default 5). The RBF kernel
    bounds the MMD by 2, so the hinge is zero for tau >= 2 (transfer.py)."""
    _table(args, "imtnas_tau", {f"tau = {t:g}": MultilevelRun("imtnas-darts", {} if t == 5.0 else {"mmd_tau": t})
                                for t in (0.1, 1.0, 5.0, 25.0, 100.0)}, PAPER_IMTNAS, "IMTNAS Table 10")
