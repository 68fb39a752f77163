"""One DARTS-V1 iteration, bench_toolkit against the NB201 authors' own code, side by side.

    pip install --no-deps xautodl==1.0.0          # the peer: AutoDL-Projects' library, no extra deps
    python benchmarks/peer_speed.py [--sizes paper mini] [--reps 5] [--steps 3] [--device cpu|cuda] [--bf16]

The peer is xautodl's ``TinyNetworkDarts`` (the NB201 search network) with the step of its
``exps/NAS-Bench-201-algos/DARTS-V1.py``: SGD weight step on a search-train batch (``backward``
on all parameters, gradient clipping, step), then an Adam alpha step on a search-valid batch
(``backward`` again on everything). Ours is ``SupernetSearch.train_step`` with the settings each
row names. Both run in this one process on the same random images, with the same thread count;
the repetitions are interleaved (peer, ours, peer, ours, ...) so that a slow phase of the machine
hits both. Each timed block is ``--steps`` iterations after one untimed warm-up iteration; the
table reports the median block.

Sizes: ``paper`` = NB201 (C=16, N=5, 32x32, batch 64); ``mini`` = the CPU study scale (C=8, N=1,
16x16, batch 64).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.images import ImageSet, balanced_halves
from bench_toolkit.search.differentiable import SearchConfig, SupernetSearch, get_method
from bench_toolkit.spaces import nb201

SIZES = {
    "paper": {"channels": 16, "cells_per_stage": 5, "resolution": 32},
    "mini": {"channels": 8, "cells_per_stage": 1, "resolution": 16},
}
BATCH = 64


def random_batches(resolution: int, count: int, seed: int = 0) -> list[tuple[tuple[torch.Tensor, torch.Tensor], ...]]:
    """``count`` (search-train, search-valid) batch pairs of random images at ``resolution``."""
    rng = np.random.default_rng(seed)
    n = 2 * BATCH * (count + 1)  # class-balanced halves round down: one batch of margin
    images = ImageSet(rng.integers(0, 256, (n, resolution, resolution, 3), dtype=np.uint8), np.arange(n) % 10,
                      tuple(map(str, range(10))), "random")
    train, valid = balanced_halves(images)
    data = PairedBatches(train, valid, BATCH)
    return list(data.epoch(torch.Generator().manual_seed(seed)))[:count]


def peer_step(sizes: dict[str, int], device: str) -> Callable[[tuple, tuple], None]:
    """xautodl 1.0.0's DARTS-V1 iteration (AutoDL-Projects ``DARTS-V1.py::search_func``)."""
    from xautodl.models.cell_searchs.search_model_darts import TinyNetworkDarts

    torch.manual_seed(0)
    net = TinyNetworkDarts(sizes["channels"], sizes["cells_per_stage"], 4, 10, list(nb201.OPS),
                           affine=False, track_running_stats=True).to(device).train()
    w_opt = torch.optim.SGD(net.get_weights(), lr=0.025, momentum=0.9, weight_decay=5e-4, nesterov=True)
    a_opt = torch.optim.Adam(net.get_alphas(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)

    def step(train: tuple, valid: tuple) -> None:
        (x, y), (xv, yv) = [(t[0].to(device), t[1].to(device)) for t in (train, valid)]
        w_opt.zero_grad()
        _, logits = net(x)
        F.cross_entropy(logits, y).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5)
        w_opt.step()
        a_opt.zero_grad()
        _, logits = net(xv)
        F.cross_entropy(logits, yv).backward()
        a_opt.step()

    return step


def our_step(sizes: dict[str, int], device: str, settings: dict) -> Callable[[tuple, tuple], None]:
    config = SearchConfig().updated({**sizes, "batch_size": BATCH, **settings})
    placeholder = ImageSet(np.zeros((2 * BATCH, 2, 2, 3), np.uint8), np.arange(2 * BATCH) % 10,
                           tuple(map(str, range(10))), "placeholder")  # only num_classes and len matter here
    search = SupernetSearch(get_method("darts-v1"), config, PairedBatches(*balanced_halves(placeholder), BATCH),
                            None, seed=0, device=device)
    search.model.train()
    return lambda train, valid: search.train_step(train, valid)


def time_block(step: Callable, batches: list, device: str) -> float:
    """Seconds per iteration over ``batches`` (after the caller's warm-up)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for train, valid in batches:
        step(train, valid)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / len(batches)


def compare(size: str, device: str, reps: int, steps: int, variants: dict[str, dict]) -> list[tuple[str, float]]:
    sizes = SIZES[size]
    batches = random_batches(sizes["resolution"], steps + 1)
    contenders = {"xautodl TinyNetworkDarts": peer_step(sizes, device)}
    contenders.update({f"bench_toolkit {name}": our_step(sizes, device, s) for name, s in variants.items()})
    for step in contenders.values():  # warm-up (allocator, oneDNN primitive caches, compile)
        step(*batches[0])
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, step in contenders.items():
            times[name].append(time_block(step, batches[1:], device))
    return [(name, statistics.median(t)) for name, t in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="also time the fast path under bf16 autocast")
    args = parser.parse_args()
    variants = {"plain": {"fast": False}, "fast": {"fast": True}}
    if args.bf16:
        variants["fast bf16"] = {"fast": True, "precision": "bf16"}
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else \
        f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"
    print(f"DARTS-V1 iteration (weight step + alpha step, batch {BATCH}) on {device_name}; "
          f"median of {args.reps} interleaved blocks of {args.steps} iterations")
    print(f"{'sizes':<7}{'implementation':<32}{'ms/iteration':>14}{'speed-up vs peer':>18}")
    for size in args.sizes:
        rows = compare(size, args.device, args.reps, args.steps, variants)
        peer = rows[0][1]
        for name, seconds in rows:
            print(f"{size:<7}{name:<32}{1000 * seconds:>14.1f}{peer / seconds:>17.2f}x", flush=True)


if __name__ == "__main__":
    main()
