"""Seconds per iteration of the multi-level searches (IL, IMTNAS with its MMD hinge acting), and how
many tensor operations one iteration runs: time a few steps before committing a device to a study.

    python benchmarks/multilevel_speed.py [--device cpu|cuda] [--scale mini] [--steps 2] [--count-ops]

Rows: ``il-darts`` (L2 transfer), ``imtnas-darts`` at tau = 5 (the hinge vanishes and is not
computed) and at tau = 0.1 (the hinge acts: every stage after the first embeds 2 x 10 examples x
C = 20 augmentations with two encoders, and the exact hypergradient differentiates through it).
An iteration is what one step of a search epoch does (``InterleavedSearch.train_step``): the
alpha step through the unrolled stages, then every stage's weight step. ``--count-ops`` counts
the operators dispatched in one more iteration (each is at least one kernel launch on a GPU), so a
launch-bound device's time per iteration can be read as operators x launch cost.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from random_multilevel import random_search

ROWS = {"il-darts": ("il-darts", {}), "imtnas-darts tau 5": ("imtnas-darts", {}),
        "imtnas-darts tau 0.1": ("imtnas-darts", {"mmd_tau": 0.1})}


class _OperatorCount(TorchDispatchMode):
    """Counts every operator that reaches the dispatcher's kernels (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--scale", default="mini")
    parser.add_argument("--steps", type=int, default=2, help="timed iterations per row, after one warm-up")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--count-ops", action="store_true", help="also count the operators of one iteration")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"scale {args.scale}, two learners, random images, {name}, {args.steps} timed iterations after 1 warm-up")
    print(f"{'search':<22}{'s/iteration':>12}{'operators/iteration':>21}")
    for row in args.rows:
        algo, settings = ROWS[row]
        search = random_search(args.scale, algo, settings, device=args.device)
        times = []
        for step in range(args.steps + 1):
            _synchronize(args.device)
            start = time.perf_counter()
            search.train_step()
            _synchronize(args.device)
            if step:
                times.append(time.perf_counter() - start)
        operators = ""
        if args.count_ops:
            with _OperatorCount() as counter:
                search.train_step()
            operators = f"{counter.count:,}"
        print(f"{row:<22}{sum(times) / len(times):>12.2f}{operators:>21}", flush=True)


if __name__ == "__main__":
    main()
