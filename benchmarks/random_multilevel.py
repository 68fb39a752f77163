"""One multi-level search on random images at a scale's sizes, ready for a timed iteration: the
set-up the multi-level benchmarks share (speed and memory do not depend on the images' content)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.images import ImageSet
from bench_toolkit.search.differentiable import config_for
from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS, InterleavedSearch


def random_search(scale: str, algo: str, settings: dict[str, Any], learners: int = 2,
                  device: str = "cpu") -> InterleavedSearch:
    """``algo`` at ``scale`` with ``settings`` over ``learners`` tasks of random images, past its
    warm-up epochs (so an iteration includes the alpha step) and holding its first batch pair."""
    config = config_for(scale, MULTILEVEL_METHODS[algo], settings)
    size, count = config.resolution or 32, 2 * config.batch_size
    rng = np.random.default_rng(0)
    images = ImageSet(rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8), np.arange(count) % 10,
                      tuple(map(str, range(10))), "random")
    tasks = [PairedBatches(images, images, config.batch_size, config.resolution) for _ in range(learners)]
    search = InterleavedSearch(algo, config, tasks, [f"task{k}" for k in range(learners)], None, 0, device)
    pairs = [next(t.epoch(search.generator)) for t in tasks]
    search.batches = {k: tuple((x.to(search.device), y.to(search.device)) for x, y in pair) for k, pair in enumerate(pairs)}
    search.epoch = config.warmup_epochs
    return search
