"""Throughput of seeds run one after another in one process vs. in ``--workers`` processes.

    python benchmarks/workers_speed.py [--data imagefolder:../shared/data/cifar10-jpeg/train.zip]
                                       [--seeds 4] [--epochs 2] [--workers 1 2]

Each configuration runs ``--seeds`` DARTS-V1 seeds of ``--epochs`` epochs at the CPU study sizes
(C=8, one cell per stage, 16x16, 1,000 images per class, batch 64: 78 iterations an epoch) into a
temporary run directory, end to end as ``bench-toolkit search`` does (data loading, spawning the
workers and writing the run directory included). Workers get ``cores / workers`` threads each;
one process gets all cores. Prints wall time and seed-epochs per hour.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_toolkit.executors.local import LocalPool
from bench_toolkit.search.differentiable import config_for, run_supernet_search

MINI = {"channels": 8, "cells_per_stage": 1, "resolution": 16, "images_per_class": 1000, "batch_size": 64}
SHARED_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg" / "train.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"imagefolder:{SHARED_TRAIN}" if SHARED_TRAIN.exists() else "digits")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    config = config_for("paper", {}, {**MINI, "epochs": args.epochs})
    print(f"DARTS-V1, {args.seeds} seeds x {args.epochs} epochs at mini sizes on {args.data}; {os.cpu_count()} cores")
    print(f"{'processes':<11}{'threads each':>13}{'wall s':>9}{'seed-epochs/h':>15}{'vs 1 process':>14}")
    baseline = None
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            executor = LocalPool(workers) if workers > 1 else None
            start = time.perf_counter()
            run_supernet_search("darts-v1", config, args.data, None, list(range(args.seeds)), Path(tmp) / "run",
                                executor=executor)
            wall = time.perf_counter() - start
        rate = args.seeds * args.epochs / wall * 3600
        baseline = baseline or rate
        threads = executor.threads if executor else os.cpu_count()
        print(f"{workers:<11}{threads:>13}{wall:>9.1f}{rate:>15.0f}{rate / baseline:>13.2f}x", flush=True)


if __name__ == "__main__":
    main()
