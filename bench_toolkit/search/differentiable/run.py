"""Many seeds of a differentiable search, its run directory, and resume.

Run directory::

    DIR/config.json        method, data and benchmark specs, scale, seeds, every setting
    DIR/history.parquet    one row per (seed, epoch): see SupernetSearch._record
    DIR/alphas.parquet     alpha and softmax weight per (seed, epoch, edge, op)
    DIR/steps.parquet      with record_every_steps=k: cell, entropy, magnitudes every k iterations
    DIR/final.json         per seed the chosen cell (final, or the one an online stop criterion
                           selected) and its benchmark answers; mean and std
    DIR/checkpoints/seed_<k>.pt   the latest epoch of seed k (model, optimisers, schedule, RNG, rows)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench_toolkit import __version__
from bench_toolkit.benchmarks import Benchmark, load_benchmark
from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.images import balanced_halves
from bench_toolkit.data.readers import read_data
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import write_json, write_table
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.diagnostics.stop import parse_criterion
from bench_toolkit.search.differentiable.engine import SupernetSearch, get_method, summary_of, trace_of
from bench_toolkit.spaces import nb201

EpochCallback = Callable[[SupernetSearch, dict[str, Any]], None]
StopSpec = dict[str, str]
"""An online stop criterion as config.json keeps it: ``{"criterion": "sc_2", "op": "nor_conv_3x3"}``."""


def load_search_data(data_spec: str, config: SearchConfig) -> PairedBatches:
    """The NB201 search protocol's paired halves of the training images, at the configured size."""
    images = read_data(data_spec, config.images_per_class)
    train, valid = balanced_halves(images)
    return PairedBatches(train, valid, config.batch_size, config.resolution, config.augment)


def alpha_table(search: SupernetSearch) -> pd.DataFrame:
    rows = []
    for epoch, alpha in enumerate(search.alphas, start=1):
        weights = search.mixing.distribution(alpha, epoch)
        for e, edge in enumerate(nb201.EDGES):
            for k, op in enumerate(search.config.ops):
                rows.append({"seed": search.seed, "epoch": epoch, "edge": f"{edge[0]}->{edge[1]}", "op": op,
                             "alpha": float(alpha[e, k]), "weight": float(weights[e, k])})
    return pd.DataFrame(rows)


def run_supernet_search(
    algo: str, config: SearchConfig, data_spec: str, benchmark_spec: str | None, seeds: Sequence[int],
    out_dir: str | Path, scale: str = "paper", resume: bool = False, callbacks: Sequence[EpochCallback] = (),
    device: str = "cpu", stop: StopSpec | None = None,
) -> pd.DataFrame:
    """Search once per seed, writing the run directory after every epoch; return the history.
    With ``stop`` (criterion name and op), a seed ends when the criterion fires (online)."""
    method = get_method(algo)
    out = Path(out_dir)
    checkpoints = out / "checkpoints"
    if not resume and (out / "config.json").exists():
        raise BenchToolkitError(f"'{out}' already holds a run; continue it with --resume {out}, or choose a new --out")
    bench = load_benchmark(benchmark_spec) if benchmark_spec else None
    data = load_search_data(data_spec, config)
    write_json(out / "config.json", {
        "kind": "supernet", "algo": algo, "data": _absolute(data_spec), "benchmark": _absolute(benchmark_spec), "scale": scale,
        "seeds": list(seeds), "config": config.as_dict(), "stop": stop, "bench_toolkit_version": __version__,
    })
    criterion = parse_criterion(stop["criterion"], stop.get("op", "nor_conv_3x3")) if stop else None
    done: list[SupernetSearch] = []
    done_alphas: list[pd.DataFrame] = []
    for seed in seeds:
        search = SupernetSearch(method, config, data, bench, seed, device)
        checkpoint = checkpoints / f"seed_{seed}.pt"
        if resume and checkpoint.exists():
            search.load(checkpoint)
        while search.epoch < config.epochs and search.selected_epoch is None and not search.mixing.finished():
            row = search.train_epoch()
            if criterion is not None:
                selection = criterion.first_fire(trace_of(search))
                if selection is not None and selection.fired_at == search.epoch:
                    search.selected_epoch = selection.epoch
            search.save(checkpoint)
            _write_tables(out, [*done, search], bench, [*done_alphas, alpha_table(search)])
            for callback in callbacks:
                callback(search, row)
        done.append(search)
        done_alphas.append(alpha_table(search))  # a finished seed's table is built once
    _write_tables(out, done, bench, done_alphas)
    return pd.DataFrame([row for s in done for row in s.history])


def _absolute(spec: str | None) -> str | None:
    """A ``kind:PATH`` spec with PATH made absolute, so a run resumes from any working directory."""
    if spec is None or ":" not in spec:
        return spec
    kind, path = spec.split(":", 1)
    return f"{kind}:{Path(path).expanduser().resolve()}"


def _write_tables(out: Path, searches: list[SupernetSearch], bench: Benchmark | None,
                  alpha_tables: list[pd.DataFrame]) -> None:
    rows = [row for s in searches for row in s.history]
    write_table(out / "history.parquet", pd.DataFrame(rows))
    write_table(out / "alphas.parquet", pd.concat(alpha_tables, ignore_index=True))
    step_rows = [row for s in searches for row in s.step_rows]
    if step_rows:
        write_table(out / "steps.parquet", pd.DataFrame(step_rows))
    write_json(out / "final.json", summary_of(searches, bench))


def resume_supernet_search(out_dir: str | Path, callbacks: Sequence[EpochCallback] = (), device: str = "cpu") -> pd.DataFrame:
    """Continue the run in ``out_dir`` from its checkpoints, with the settings it was started with."""
    path = Path(out_dir) / "config.json"
    if not path.is_file():
        raise BenchToolkitError(f"'{out_dir}' holds no config.json: it is not a run directory to resume")
    saved = json.loads(path.read_text())
    if saved.get("kind") != "supernet":
        raise BenchToolkitError(f"'{out_dir}' is a {saved.get('kind')} run; only differentiable searches resume")
    config = SearchConfig().updated(saved["config"])
    return run_supernet_search(saved["algo"], config, saved["data"], saved["benchmark"], saved["seeds"], out_dir,
                               saved["scale"], resume=True, callbacks=callbacks, device=device, stop=saved.get("stop"))
