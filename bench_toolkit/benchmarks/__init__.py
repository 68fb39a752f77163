"""Ground-truth oracles behind one interface (:class:`Benchmark`), chosen by a SPEC string.

``analog`` (embedded default), ``nb201:PATH``, ``nats-tss:PATH``, ``table:PATH``, ``nb101:PATH``
(NAS-Bench-101's official files, served by :class:`~.nb101.NB101Benchmark`). Each
source is converted once into a parquet cache (:mod:`bench_toolkit.benchmarks.cache`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench_toolkit.benchmarks import analog, nats_tss, nb101, nb201_pth, table
from bench_toolkit.benchmarks.nb101 import NB101Benchmark
from bench_toolkit.benchmarks.base import DATASETS, MEAN_SEED, METRICS, Benchmark
from bench_toolkit.benchmarks.cache import cached_records
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb101 as nb101_space
from bench_toolkit.spaces import nb201

DEFAULT_SPEC = "analog"

BACKENDS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "analog": analog.load_records,
    "nb201": nb201_pth.load_records,
    "nats-tss": nats_tss.load_records,
    "table": table.load_records,
    "nb101": nb101.load_records,
}
"""Backend name (the SPEC prefix) -> converter of a source path into records."""

_SPEC_HELP = ("use 'analog', 'nb201:PATH', 'nats-tss:PATH', 'table:PATH' or 'nb101:PATH' (an official "
              "nasbench_*.tfrecord; 'analog:PATH' reads another data.anb)")


def load_benchmark(spec: str = DEFAULT_SPEC, cache_dir: Path | None = None) -> Benchmark | NB101Benchmark:
    """Open the benchmark named by ``spec``, converting its source on first use. A source that
    covers only part of the space says so on stderr, with its coverage."""
    if not isinstance(spec, str):
        raise BenchToolkitError(f"a benchmark spec is a string, got {spec!r}; {_SPEC_HELP}")
    if spec == "analog":
        kind, source = "analog", analog.data_file()
    else:
        kind, sep, path = spec.partition(":")
        if not sep or kind not in BACKENDS:
            raise BenchToolkitError(f"unknown benchmark spec '{spec}'; {_SPEC_HELP}")
        if not path:
            raise BenchToolkitError(f"benchmark spec '{spec}' names no path; write it as '{kind}:PATH'")
        source = Path(path).expanduser()
        if not source.exists():
            raise BenchToolkitError(f"benchmark source '{source}' does not exist; check the path in '{spec}'")
    records = cached_records(kind, source, lambda: BACKENDS[kind](source), cache_dir)
    bench = NB101Benchmark(spec, records) if kind == "nb101" else Benchmark(spec, records)
    space, size = ("NB101", nb101_space.SIZE) if kind == "nb101" else ("NB201", nb201.SIZE)
    if bench.cells < size:  # reported once, at load, rather than as a surprise at some later query
        print(f"bench-toolkit: note: benchmark '{spec}' covers {bench.cells:,} of the {size:,} {space} cells; "
              "querying any other cell is an error", file=sys.stderr)
    return bench


__all__ = ["BACKENDS", "DATASETS", "DEFAULT_SPEC", "MEAN_SEED", "METRICS", "Benchmark", "NB101Benchmark", "load_benchmark"]
