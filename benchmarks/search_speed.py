"""DARTS-V1 search speed at the NB201 paper settings: images/s and seconds per search epoch.

    python benchmarks/search_speed.py [--device cpu|cuda] [--steps N] [--data cifar10:PATH|imagefolder:PATH] [--bf16]

Paper settings: supernet C=16, N=5, batch 64, 32x32 inputs, CIFAR-10 halves of 25,000 images
(390 iterations an epoch; each iteration one weight step on 64 search-train images and one alpha
step on 64 search-valid images). The timed iterations follow ``--warmup`` untimed ones; the
epoch time is the mean iteration time x 390. Reference: the published DARTS-V1 search on NB201
took 10,889 s for 50 epochs on a V100, about 218 s per epoch. Without ``--data`` the images
are random 32x32 pixels (speed does not depend on content). One row per implementation: the
plain per-edge path (``fast=false``), the fast path (the default), and with ``--bf16`` the fast
path under bf16 autocast.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.images import ImageSet, balanced_halves
from bench_toolkit.data.readers import read_data
from bench_toolkit.search.differentiable import SearchConfig, SupernetSearch, get_method

ITERATIONS_PER_EPOCH = 25_000 // 64  # NB201 search-train half / batch size
REFERENCE_V100_SECONDS_PER_EPOCH = 10_889 / 50


def images(data_spec: str | None, count: int) -> ImageSet:
    if data_spec:
        return read_data(data_spec, per_class=count // 10)
    rng = np.random.default_rng(0)
    return ImageSet(rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), np.arange(count) % 10,
                    tuple(map(str, range(10))), "random 32x32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--data", default=None)
    parser.add_argument("--algo", default="darts-v1")
    parser.add_argument("--bf16", action="store_true", help="also time the fast path under bf16 autocast")
    args = parser.parse_args()

    variants = {"plain": {"fast": False}, "fast": {"fast": True}}
    if args.bf16:
        variants["fast bf16"] = {"fast": True, "precision": "bf16"}
    config = SearchConfig()
    needed = (args.steps + args.warmup + 1) * config.batch_size * 2  # + 1: balanced halves round down
    train, valid = balanced_halves(images(args.data, needed))
    data = PairedBatches(train, valid, config.batch_size)
    batches = list(data.epoch(torch.Generator().manual_seed(0)))[: args.warmup + args.steps]
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"{'algo':<10}{'path':<11}{'device':<32}{'s/iteration':>12}{'images/s':>10}{'s/epoch':>10}{'vs V100 ref':>12}")
    for path, settings in variants.items():
        search = SupernetSearch(get_method(args.algo), config.updated(settings), data, None, seed=0, device=args.device)
        search.model.train()
        step = _seconds_per_step(search, batches, args.warmup, args.device)
        epoch = step * ITERATIONS_PER_EPOCH
        print(f"{args.algo:<10}{path:<11}{name:<32}{step:>12.3f}{config.batch_size / step:>10.1f}{epoch:>10.0f}"
              f"{REFERENCE_V100_SECONDS_PER_EPOCH / epoch:>11.2f}x", flush=True)


def _seconds_per_step(search: SupernetSearch, batches: list, warmup: int, device: str) -> float:
    times = []
    for k, (train_batch, valid_batch) in enumerate(batches):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        search.train_step(train_batch, valid_batch)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.mean(times))

if __name__ == "__main__":
    main()
