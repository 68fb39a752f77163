"""IF-NAS search speed in the L-chain space at a scale: seconds per iteration in each sampling
phase (the whole supernet, as the warm-up epochs and the "w/o IF" search train it, and one
interleaving-free sub-supernet) and the estimated minutes of one seed's search.

    python benchmarks/lchain_speed.py [--scale mini] [--steps 6] [--threads N] [--set L=4 ...]

Random images at the scale's resolution (speed does not depend on content). An iteration is one
weight step and one architecture step (IF-NAS is single-level: both on training images). The
estimate: warm-up epochs at the whole-supernet time, the other epochs at the sub-supernet time
(IF; the loop's warm-up steps, 1 in L + 1, ignored) or the whole-supernet time (w/o IF).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.images import ImageSet
from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.engine import SupernetSearch


def seconds_per_iteration(search: SupernetSearch, epoch: int, step: int, steps: int) -> float:
    batches = search.data.epoch(search.generator)
    search.epoch, search.step = epoch, step
    search.train_step(*next(batches))  # untimed: first-call allocations
    start = time.perf_counter()
    for _ in range(steps):
        search.step = step  # stay in the same phase
        search.train_step(*next(batches))
    return (time.perf_counter() - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="mini")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--set", action="append", default=[], type=lambda kv: kv.split("=", 1))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    method = get_method("if-nas")
    config = config_for(args.scale, method.defaults, {k: json.loads(v) for k, v in args.set})
    size = config.resolution or 32
    count = 10 * (config.images_per_class or 5000)
    rng = np.random.default_rng(0)
    images = ImageSet(rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8), np.arange(count) % 10,
                      tuple(map(str, range(10))), "random")
    data = PairedBatches(images, images, config.batch_size, config.resolution)  # single level: all images both sides
    search = SupernetSearch(method, config, data, None, seed=0)
    after_warmup = config.warmup_epochs + config.if_alpha_delay  # alpha and beta both training
    whole = seconds_per_iteration(search, 0, 0, args.steps)
    sub = seconds_per_iteration(search, after_warmup, config.if_step_iterations, args.steps)  # sub-supernet 0
    per_epoch = len(data)
    warm = config.warmup_epochs * per_epoch * whole
    print(f"scale {args.scale}: stages {config.stage_nodes}, L = {config.L}, C = {config.channels}, {size}x{size}, "
          f"batch {config.batch_size}, {per_epoch} iterations an epoch, {config.epochs} epochs, "
          f"{torch.get_num_threads()} threads")
    print(f"{'phase':<28}{'s / iteration':>14}")
    print(f"{'whole supernet':<28}{whole:>14.3f}")
    print(f"{'sub-supernet (group 0)':<28}{sub:>14.3f}")
    rest = (config.epochs - config.warmup_epochs) * per_epoch
    print(f"one seed, IF: {(warm + rest * sub) / 60:.0f} min; w/o IF: {(warm + rest * whole) / 60:.0f} min")


if __name__ == "__main__":
    main()
