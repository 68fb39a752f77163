"""Tiny benchmark files in the official NB201 / NATS-Bench formats, built with the official classes.

Every number is a simple function of (cell, dataset, seed, epoch), so tests can state what a
correct reader must return. Values are numpy scalars, as in the real files (which is what
makes torch >= 2.6's ``weights_only`` loading refuse them).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from bench_toolkit.spaces import nb201

EVAL_NAMES = {  # evaluation sets each dataset carries in the official files
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
SEEDS = (777, 888)
EPOCH_TIME = 1.5  # seconds per training epoch
LATENCY = 0.004


def official_order() -> list[str]:
    """A fixed shuffle of all 15,625 cells, so official index != space index."""
    archs = [nb201.format_arch(a) for a in nb201.enumerate_archs()]
    random.Random(201).shuffle(archs)
    return archs


def accuracy(official_index: int, dataset: str, split: str, seed: int, epoch: int) -> float:
    """The recorded accuracy: distinct per cell, dataset, split, seed and epoch."""
    d = list(EVAL_NAMES).index(dataset)
    s = ["train", "x-valid", "x-test", "ori-test"].index(split)
    return 50.0 + 0.001 * official_index + d + 0.1 * s + 0.5 * SEEDS.index(seed) + 0.01 * epoch


def loss(official_index: int, dataset: str, split: str, seed: int, epoch: int) -> float:
    return 100.0 / accuracy(official_index, dataset, split, seed, epoch)


def _trial(result_cls: Any, official_index: int, arch: str, dataset: str, seed: int, epochs: int) -> Any:
    f64 = np.float64
    trial = result_cls(
        dataset, None,
        {e: f64(accuracy(official_index, dataset, "train", seed, e)) for e in range(epochs)},
        {e: f64(loss(official_index, dataset, "train", seed, e)) for e in range(epochs)},
        f64(0.1 + official_index * 1e-4), f64(20.0 + official_index * 1e-3),
        {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10},
        seed, epochs, [f64(LATENCY)],
    )
    trial.update_train_info(trial.train_acc1es, None, trial.train_losses, {e: f64(EPOCH_TIME) for e in range(epochs)})
    names = EVAL_NAMES[dataset]
    keys = [(n, e) for n in names for e in range(epochs)]
    trial.update_eval(
        {f"{n}@{e}": f64(accuracy(official_index, dataset, n, seed, e)) for n, e in keys},
        {f"{n}@{e}": f64(loss(official_index, dataset, n, seed, e)) for n, e in keys},
        {f"{n}@{e}": f64(0.1) for n, e in keys},
    )
    return trial


def arch_results(api_module: Any, official_index: int, arch: str, datasets: tuple[str, ...], epochs: int) -> dict:
    """The state dict of one ``ArchResults`` with two seeds per dataset."""
    results = api_module.ArchResults(official_index, arch)
    for dataset in datasets:
        for seed in SEEDS:
            results.update(dataset, seed, _trial(api_module.ResultsCount, official_index, arch, dataset, seed, epochs))
    return results.state_dict()


def write_nb201_pth(path: Path, indexes: list[int]) -> Path:
    """An NB201 v1_1-style ``.pth``: 200-epoch ('full') results on all four datasets,
    12-epoch ('less') results on cifar10-valid only (as in v1_0)."""
    import torch
    from nas_201_api import api_utils

    archs = official_order()
    arch2infos = {
        i: {
            "less": arch_results(api_utils, i, archs[i], ("cifar10-valid",), 12),
            "full": arch_results(api_utils, i, archs[i], tuple(EVAL_NAMES), 200),
        }
        for i in indexes
    }
    torch.save({"meta_archs": archs, "arch2infos": arch2infos, "evaluated_indexes": set(indexes)}, path)
    return path


def _nats_infos(i: int, arch: str) -> dict:
    from nats_bench import api_utils

    return {
        "12": arch_results(api_utils, i, arch, tuple(EVAL_NAMES), 12),
        "200": arch_results(api_utils, i, arch, tuple(EVAL_NAMES), 200),
    }


def write_nats_dir(directory: Path, indexes: list[int]) -> Path:
    """A NATS-Bench tss fast-mode directory: meta.pickle.pbz2 plus one file per cell."""
    from nats_bench import pickle_save

    directory.mkdir(parents=True, exist_ok=True)
    archs = official_order()
    pickle_save({"meta_archs": archs}, directory / "meta.pickle")
    for i in indexes:
        pickle_save(_nats_infos(i, archs[i]), directory / f"{i:06d}.pickle")
    return directory


def write_nats_file(path_stem: Path, indexes: list[int]) -> Path:
    """The single-file NATS-Bench tss form; returns the written ``<stem>.pickle.pbz2``."""
    from nats_bench import pickle_save

    archs = official_order()
    infos = {i: _nats_infos(i, archs[i]) for i in indexes}
    pickle_save({"meta_archs": archs, "arch2infos": infos, "evaluated_indexes": set(indexes)}, f"{path_stem}.pickle")
    return Path(f"{path_stem}.pickle.pbz2")
