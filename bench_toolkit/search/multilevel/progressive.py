"""Interleaving learning over P-DARTS (``il-pdarts``, ``imtnas-pdarts``, ``mtl-pdarts``; IL Tables
2-4, IMTNAS Table 3 and App. E.3): P-DARTS's three stages (5, 11, 17 cells; 8, 5, 3 ops per edge;
skip dropout 0.1, 0.4, 0.7; at most 2 skips in the final normal cell), each stage a multi-level
search of :func:`.run.run_interleaved` over the same tasks. The stage loop, the search space
approximation and the skip limit are P-DARTS's own
(:func:`bench_toolkit.search.differentiable.progressive.progressive_stages`).

A run directory: ``config.json`` (kind ``multilevel-pdarts``), ``seed-S/stage-K`` (multi-level run
directories: their histories hold one row per epoch, learner and round), ``final.json`` (each
seed's genotype before and after the skip limit). A killed run continues stage by stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_toolkit import __version__
from bench_toolkit.data.readers import absolute_spec
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import output_directory, read_json, write_json
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.progressive import progressive_stages
from bench_toolkit.search.multilevel.engine import is_progressive
from bench_toolkit.search.multilevel.run import checked_search, resume_interleaved, run_interleaved


def run_progressive(algo: str, config: SearchConfig, task_specs: Sequence[str], benchmark_spec: str | None,
                    seeds: Sequence[int], out: str | Path, scale: str = "paper", device: str = "cpu",
                    resume: bool = False, threads: int | None = None) -> dict[str, Any]:
    """Every seed's three stages; returns (and writes) ``final.json``. The tasks are loaded and
    checked before anything is written (a benchmark is refused: the DARTS space has none)."""
    if not is_progressive(algo):
        raise BenchToolkitError(f"'{algo}' is not searched in P-DARTS's stages; use il-pdarts, imtnas-pdarts or mtl-pdarts")
    out = output_directory(out)
    task_specs = [absolute_spec(spec) for spec in task_specs]  # stored, so resume works from anywhere
    if not resume and (out / "config.json").exists():
        raise BenchToolkitError(f"'{out}' already holds a run; continue it with --resume {out}, or choose a new --out")
    checked_search(algo, config, task_specs, benchmark_spec, device)
    if not resume:
        write_json(out / "config.json", {"kind": "multilevel-pdarts", "algo": algo, "tasks": task_specs,
                                         "benchmark": benchmark_spec, "scale": scale,
                                         "seeds": list(seeds), "config": config.as_dict(),
                                         "bench_toolkit_version": __version__})

    def search_stage(stage_config: SearchConfig, seed: int, stage_dir: Path) -> None:
        run_interleaved(algo, stage_config, task_specs, benchmark_spec, [seed], stage_dir, scale, device, threads=threads)

    return progressive_stages(config, seeds, out, search_stage, lambda stage_dir: resume_interleaved(stage_dir, device, threads))


def resume_progressive(out: str | Path, device: str = "cpu", threads: int | None = None) -> dict[str, Any]:
    """Continue the run in ``out`` with the settings it was started with."""
    saved = read_json(Path(out) / "config.json")
    config = SearchConfig().updated(saved["config"])
    return run_progressive(saved["algo"], config, saved["tasks"], saved["benchmark"], saved["seeds"], out, saved["scale"],
                           device, resume=True, threads=threads)
