"""P-DARTS (Chen et al., ICCV 2019): three search stages in the DARTS space, each a run of the one
engine (method ``pdarts``), as its reference ``train_search.py`` for CIFAR-10:

- depth grows 5 -> 11 -> 17 cells (``cells_per_stage`` + 0, 2, 4: three more cells per stage for
  each added cell per stage), width stays;
- search space approximation: after the first and second stage every edge keeps its 5, then 3
  ops of largest softmax weight; after the last, the genotype is derived from those 3 (one op per
  edge, never ``none``: the reference's ``get_min_k_no_zero``, then DARTS's two strongest edges
  per node);
- search space regularisation: dropout on skip_connect at rate 0.1, 0.4, 0.7 per stage, decaying
  within the stage (:class:`.mixing.ProgressiveStage`);
- the final normal cell keeps at most 2 skip connections: while it has more, the skip of smallest
  weight is given weight 0 and the cell derived again (the reference's ``delete_min_sk_prob``).

Each seed's stages are run directories ``OUT/seed-S/stage-K``; ``OUT/final.json`` holds each
seed's genotype before and after the skip limit. A killed run continues stage by stage.
:func:`progressive_stages` is the stage loop; the multi-level searches over P-DARTS
(:mod:`bench_toolkit.search.multilevel.progressive`) run their stages through it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench_toolkit import __version__
from bench_toolkit.data.readers import absolute_spec
from bench_toolkit.devices import checked_device
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import output_directory, read_json, write_json
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.run import resume_supernet_search, run_supernet_search
from bench_toolkit.spaces import darts

CELLS_ADDED = (0, 2, 4)
KEEP = (5, 3)  # ops per edge after stages 1 and 2
SKIP_DROPOUT = (0.1, 0.4, 0.7)
MAX_SKIPS = 2


def keep_strongest(weights: np.ndarray, alive: np.ndarray, keep: int) -> np.ndarray:
    """The search space approximation: on every edge the ``keep`` alive ops of largest weight (ties:
    the earlier op)."""
    kept = np.zeros_like(alive)
    for row in range(len(alive)):
        ranked = sorted(np.flatnonzero(alive[row]), key=lambda k: (-weights[row, k], k))
        kept[row, ranked[:keep]] = True
    return kept


def limit_skips(weights: np.ndarray, alive: np.ndarray, ops: Sequence[str], max_skips: int = MAX_SKIPS) -> darts.Genotype:
    """The derived genotype with at most ``max_skips`` skip connections in the normal cell: the
    kept skip of smallest weight gets weight 0, and the genotype is derived again, until it holds."""
    weights = weights.copy()
    skip = ops.index("skip_connect") if "skip_connect" in ops else None
    genotype = darts.derive_genotype(weights, ops, alive)
    while skip is not None and sum(op == "skip_connect" for op, _ in genotype.normal) > max_skips:
        rows = [_row(genotype, position) for position, (op, _) in enumerate(genotype.normal) if op == "skip_connect"]
        weakest = min(rows, key=lambda r: weights[r, skip])
        weights[weakest, skip] = 0.0
        genotype = darts.derive_genotype(weights, ops, alive)
    return genotype


def _row(genotype: darts.Genotype, position: int) -> int:
    """The alpha row (normal cell) of the genotype's ``position``-th normal edge."""
    target = position // 2 + darts.INPUT_NODES
    return darts.CELL_EDGES.index((genotype.normal[position][1], target))


def _stage_config(config: SearchConfig, stage: int, alive: np.ndarray) -> SearchConfig:
    rows = [tuple(op for op, on in zip(config.ops, row) if on) for row in alive]
    return config.updated({"cells_per_stage": config.cells_per_stage + CELLS_ADDED[stage],
                           "skip_dropout": SKIP_DROPOUT[stage], "edge_ops": rows})


def _final_weights(run_dir: Path, seed: int, ops: Sequence[str]) -> np.ndarray:
    alphas = pd.read_parquet(run_dir / "alphas.parquet")
    last = alphas[(alphas["seed"] == seed) & (alphas["epoch"] == alphas["epoch"].max())]
    table = last.pivot_table(index="edge", columns="op", values="weight", sort=False)
    return table.loc[list(darts.EDGE_NAMES), list(ops)].to_numpy()


def run_pdarts(config: SearchConfig, data_spec: str, seeds: Sequence[int], out_dir: str | Path, device: str = "cpu",
               threads: int | None = None, resume: bool = False) -> dict[str, Any]:
    """All stages for every seed; returns (and writes) ``final.json``."""
    out = output_directory(out_dir)
    checked_device(device)
    data_spec = absolute_spec(data_spec)  # stored, and given to every stage's search, so resume works from anywhere
    if config.space != "darts":
        raise BenchToolkitError("P-DARTS searches the DARTS space; drop space or set space=darts")
    if not resume and (out / "config.json").exists():
        raise BenchToolkitError(f"'{out}' already holds a run; continue it with --resume {out}, or choose a new --out")
    if not resume:
        write_json(out / "config.json", {"kind": "pdarts", "algo": "pdarts", "bench_toolkit_version": __version__,
                                         "data": data_spec, "seeds": list(seeds), "config": config.as_dict()})

    def search_stage(stage_config: SearchConfig, seed: int, stage_dir: Path) -> None:
        run_supernet_search("pdarts", stage_config, data_spec, None, [seed], stage_dir, device=device, threads=threads)

    return progressive_stages(config, seeds, out, search_stage,
                              lambda stage_dir: resume_supernet_search(stage_dir, device=device, threads=threads))


def progressive_stages(config: SearchConfig, seeds: Sequence[int], out: Path,
                       search_stage: Callable[[SearchConfig, int, Path], object],
                       resume_stage: Callable[[Path], object]) -> dict[str, Any]:
    """The three stages of every seed, each searched by ``search_stage(stage_config, seed, stage_dir)``
    (a run directory whose ``alphas.parquet`` holds the seed's op weights per epoch), a killed one
    continued by ``resume_stage(stage_dir)``, a finished one kept; returns (and writes) ``final.json``."""
    per_seed = {}
    for seed in seeds:
        alive = np.ones((len(darts.EDGE_NAMES), len(config.ops)), dtype=bool)
        weights = np.zeros(alive.shape)
        for stage in range(len(CELLS_ADDED)):
            stage_dir = out / f"seed-{seed}" / f"stage-{stage + 1}"
            final = stage_dir / "final.json"
            if final.exists() and read_json(final).get("complete", False):
                pass  # finished earlier
            elif (stage_dir / "config.json").exists():
                resume_stage(stage_dir)
            else:
                search_stage(_stage_config(config, stage, alive), seed, stage_dir)
            weights = _final_weights(stage_dir, seed, config.ops)
            if stage < len(KEEP):
                alive = keep_strongest(weights, alive, KEEP[stage])
        per_seed[str(seed)] = {"genotype": str(darts.derive_genotype(weights, config.ops, alive)),
                               f"genotype_max_{MAX_SKIPS}_skips": str(limit_skips(weights, alive, config.ops))}
    summary = {"complete": True, "per_seed": per_seed}
    write_json(out / "final.json", summary)
    return summary


def resume_pdarts(out_dir: str | Path, device: str = "cpu", threads: int | None = None) -> dict[str, Any]:
    """Continue the P-DARTS run in ``out_dir`` with its own settings."""
    saved = read_json(Path(out_dir) / "config.json")
    config = SearchConfig().updated(saved["config"])
    return run_pdarts(config, saved["data"], saved["seeds"], out_dir, device, threads, resume=True)
