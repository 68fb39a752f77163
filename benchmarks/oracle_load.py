"""Benchmark-oracle speed and memory, per backend. Run on demand; prints a table.

    python benchmarks/oracle_load.py [--cells N] [--nb201 PATH] [--nats PATH] [--table PATH]

For each backend, in a fresh process each (so peak memory is that backend's alone):
cold load (convert the source into the parquet cache), warm load of the whole space
(``load_benchmark`` + ``frame()`` served from the cache), peak resident memory of the process,
and single-cell ``query`` calls per second. Without real official files, NB201 ``.pth`` and
NATS fast-mode sources are synthesised in the official formats with ``--cells`` cells (the
real files hold 15,625), so their cold numbers scale with that count.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_CSV = REPO.parent / "shared" / "data" / "nb201" / "nats_tss_test_acc_200ep.csv"


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited at spawn)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def measure(spec: str, cache_dir: str, queue: multiprocessing.Queue) -> None:
    from bench_toolkit.benchmarks import load_benchmark
    from bench_toolkit.spaces import nb201

    start = time.perf_counter()
    load_benchmark(spec, Path(cache_dir))
    cold = time.perf_counter() - start
    start = time.perf_counter()
    bench = load_benchmark(spec, Path(cache_dir))
    frame = bench.frame()
    warm = time.perf_counter() - start
    archs = frame["arch"].tolist()
    rng = random.Random(0)
    picks = [rng.choice(archs) for _ in range(20000)]
    dataset = bench.default_dataset
    start = time.perf_counter()
    for arch in picks:
        bench.query(arch, dataset)
    qps = len(picks) / (time.perf_counter() - start)
    peak_mb = peak_rss_mb()
    queue.put({"spec": spec.split(":")[0], "cells": len(frame), "cold_s": cold, "warm_s": warm,
               "peak_rss_mb": peak_mb, "queries_per_s": qps, "nb201_cells": nb201.SIZE})


def run_isolated(spec: str) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory() as cache_dir:
        process = ctx.Process(target=measure, args=(spec, cache_dir, queue))
        process.start()
        result = queue.get()
        process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=300, help="cells in the synthesised official-format files")
    parser.add_argument("--nb201", help="a real NAS-Bench-201-v1_*.pth to measure instead")
    parser.add_argument("--nats", help="a real NATS-tss fast-mode directory to measure instead")
    parser.add_argument("--table", default=str(SHARED_CSV) if SHARED_CSV.is_file() else None, help="a table file")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "tests"))
    import official_files

    specs = ["analog"]
    with tempfile.TemporaryDirectory() as scratch:
        indexes = sorted(random.Random(0).sample(range(15625), args.cells))
        if args.table:
            specs.append(f"table:{args.table}")
        nb201_path = args.nb201 or official_files.write_nb201_pth(Path(scratch) / "nb201.pth", indexes)
        nats_path = args.nats or official_files.write_nats_dir(Path(scratch) / "nats", indexes)
        specs += [f"nb201:{nb201_path}", f"nats-tss:{nats_path}"]
        rows = [run_isolated(spec) for spec in specs]

    print(f"{'backend':<10}{'cells':>7}{'cold (s)':>10}{'warm (s)':>10}{'peak RSS (MB)':>15}{'queries/s':>11}")
    for r in rows:
        print(f"{r['spec']:<10}{r['cells']:>7}{r['cold_s']:>10.2f}{r['warm_s']:>10.3f}{r['peak_rss_mb']:>15.0f}{r['queries_per_s']:>11.0f}")
    print(json.dumps({"python": sys.version.split()[0], "rows": rows}), file=sys.stderr)


if __name__ == "__main__":
    main()
