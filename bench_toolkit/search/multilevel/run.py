"""Run directories of interleaving-learning searches: ``config.json`` (kind ``multilevel``, the
tasks), ``history.parquet`` (one row per seed, epoch, round and learner), ``alphas.parquet``,
``checkpoints/seed_S.pt`` after every epoch, ``final.json`` (each seed's final cell and the
benchmark's answers; ``complete``). Seeds run one after another in this process; a killed run
continues from its checkpoints with :func:`resume_interleaved`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import torch

from bench_toolkit import __version__
from bench_toolkit.benchmarks import Benchmark, load_benchmark
from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.readers import absolute_spec
from bench_toolkit.devices import checked_device
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import (
    lock_run_directory, output_directory, read_json, remove_stray_temporaries, unlock_run_directory, write_json,
    write_table,
)
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.jobs import load_search_data
from bench_toolkit.search.differentiable.spaces import get_supernet_space
from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS, InterleavedSearch, JointMultiTask, is_progressive
from bench_toolkit.search.multilevel.hypergradient import stage_order


def load_tasks(specs: Sequence[str], config: SearchConfig, minimum: int = 2):
    """Each task's paired search halves; refuses, in one line, fewer than ``minimum`` tasks and tasks
    whose images differ in size (the readers refuse a source with fewer than two classes)."""
    if len(specs) < minimum:
        raise BenchToolkitError(f"interleaving learning needs two or more tasks (--task SPEC, once per task), got {len(specs)}"
                                + ("; mtl-darts searches one task alone" if minimum == 2 else ""))
    tasks = [load_search_data(spec, config) for spec in specs]
    sizes = {spec: tuple(task.train_x.shape[2:]) for spec, task in zip(specs, tasks)}
    if len(set(sizes.values())) > 1:
        raise BenchToolkitError(f"the tasks' images differ in size ({sizes}); give them one size with --set resolution=N")
    return tasks


def _alpha_rows(search: InterleavedSearch) -> list[dict[str, Any]]:
    rows = []
    for epoch, alpha in enumerate(search.alphas, start=1):
        weights = search.mixing.distribution(alpha, epoch)  # P-DARTS: 0 for the ops an edge no longer has
        for e, edge in enumerate(search.space.edge_names):
            rows += [{"seed": search.seed, "epoch": epoch, "edge": edge, "op": op, "alpha": float(alpha[e, k]),
                      "weight": float(weights[e, k])} for k, op in enumerate(search.config.ops)]
    return rows


def _write(out: Path, searches: list[InterleavedSearch], seeds: Sequence[int]) -> dict[str, Any]:
    write_table(out / "history.parquet", pd.DataFrame([row for s in searches for row in s.history]))
    write_table(out / "alphas.parquet", pd.DataFrame([row for s in searches for row in _alpha_rows(s)]))
    finals = [s.history[-1] for s in searches if s.history]
    answers = [k for k in finals[0] if k.endswith(("_acc", "_loss")) and "." in k] if finals else []
    final: dict[str, Any] = {"per_seed": [{"seed": r["seed"], "epoch": r["epoch"], "arch": r["arch"],
                                           **{k: r[k] for k in answers}} for r in finals]}
    for key in answers:
        values = [r[key] for r in finals]
        final[key] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    final["complete"] = len(finals) == len(seeds) and all(s.epoch >= s.config.epochs for s in searches)
    write_json(out / "final.json", final)
    return final


def checked_search(algo: str, config: SearchConfig, task_specs: Sequence[str], benchmark_spec: str | None,
                   device: str) -> tuple[list[PairedBatches], Benchmark | None]:
    """The tasks and the benchmark of a multi-level search, after every check on its settings (one
    line each); nothing written."""
    checked_device(device)
    if algo not in MULTILEVEL_METHODS:
        raise BenchToolkitError(f"unknown multi-level method '{algo}'; choose one of: {', '.join(MULTILEVEL_METHODS)}")
    if benchmark_spec and not get_supernet_space(config.space).has_benchmark:
        raise BenchToolkitError(f"no tabular benchmark answers for the {config.space} space; drop --benchmark")
    multi_task = algo.startswith("mtl-")
    if config.mtl_sharing != "none" and (not multi_task or config.stage_weights != "copies"):
        mtl_methods = ", ".join(m for m in MULTILEVEL_METHODS if m.startswith("mtl-"))
        raise BenchToolkitError(f"mtl_sharing (hard or soft weight sharing) is a variant of the MTL baselines ({mtl_methods}) "
                                "with stored weights; use one of them without stage_weights")
    if config.stage_weights == "hypernetwork" and config.multilevel_gradient != "exact":
        raise BenchToolkitError("generated stage weights depend on alpha, which the finite-difference hypergradient "
                                "leaves out; use multilevel_gradient=exact with stage_weights=hypernetwork")
    try:
        stage_order(len(task_specs), config.rounds, config.task_order or None)
    except ValueError as error:
        raise BenchToolkitError(f"task_order: {error}") from None
    if is_progressive(algo) and config.space != "darts":
        raise BenchToolkitError(f"{algo} searches the DARTS space, as P-DARTS; drop space or set space=darts")
    bench = load_benchmark(benchmark_spec) if benchmark_spec else None
    # mtl-darts over one task is the single-task DARTS-2nd baseline (IL Table 2, IMTNAS Table 3), mtl-pc-darts PC-DARTS's
    return load_tasks(task_specs, config, minimum=1 if multi_task and config.mtl_sharing == "none" else 2), bench


def run_interleaved(algo: str, config: SearchConfig, task_specs: Sequence[str], benchmark_spec: str | None,
                    seeds: Sequence[int], out: str | Path, scale: str = "paper", device: str = "cpu",
                    resume: bool = False, threads: int | None = None) -> dict[str, Any]:
    """Check everything (tasks loaded, benchmark opened) before writing, then run every seed
    (with ``threads`` torch threads where given, as a study's worker process asks). For the
    ``-pdarts`` methods this is one P-DARTS stage; :func:`.progressive.run_progressive` runs all three."""
    out = output_directory(out)
    task_specs, benchmark_spec = [absolute_spec(spec) for spec in task_specs], absolute_spec(benchmark_spec)
    if not resume and (out / "config.json").exists():
        raise BenchToolkitError(f"'{out}' already holds a run; continue it with --resume {out}, or choose a new --out")
    tasks, bench = checked_search(algo, config, task_specs, benchmark_spec, device)
    lock = lock_run_directory(out)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        if resume:
            remove_stray_temporaries(out)
        # rewritten on resume too: a study may grow a finished run by more seeds
        write_json(out / "config.json", {"kind": "multilevel", "algo": algo, "tasks": list(task_specs),
                                         "benchmark": benchmark_spec, "scale": scale, "seeds": list(seeds),
                                         "config": config.as_dict(), "bench_toolkit_version": __version__})
        (out / "checkpoints").mkdir(exist_ok=True)
        learners = ", ".join(f"k{k + 1} = {spec}" for k, spec in enumerate(task_specs))
        print(f"{out.name}: learners {learners}; train loss per learner k and round m", file=sys.stderr)
        searches: list[InterleavedSearch] = []
        final: dict[str, Any] = {}
        for seed in seeds:
            kind = JointMultiTask if config.mtl_sharing != "none" else InterleavedSearch
            search = kind(algo, config, tasks, list(task_specs), bench, seed, device)
            checkpoint = out / "checkpoints" / f"seed_{seed}.pt"
            if checkpoint.exists():
                search.load(checkpoint)
            searches.append(search)
            while search.epoch < config.epochs:
                rows = search.train_epoch()
                search.save(checkpoint)
                final = _write(out, searches, seeds)
                answer = next((f" | {k} {rows[0][k]:.2f}" for k in ("cifar10.test_acc",) if k in rows[0]), "")
                losses = " ".join(f"k{r['learner'] + 1}m{r['round']} {r['train_loss']:.3f}" for r in rows)
                print(f"{out.name} seed {seed} epoch {search.epoch}/{config.epochs}: train loss {losses}{answer} | "
                      f"{rows[0]['epoch_seconds']:.1f} s", file=sys.stderr)
        return _write(out, searches, seeds) if searches else final
    finally:
        torch.set_num_threads(previous_threads)
        unlock_run_directory(lock)


def resume_interleaved(out: str | Path, device: str = "cpu", threads: int | None = None) -> dict[str, Any]:
    """Continue a killed run with the settings it was started with (``threads`` torch threads where given)."""
    saved = read_json(Path(out) / "config.json")
    config = SearchConfig().updated(saved["config"])
    return run_interleaved(saved["algo"], config, saved["tasks"], saved["benchmark"], saved["seeds"], out,
                           saved["scale"], device, resume=True, threads=threads)


