"""Ground-truth oracles behind one interface (:class:`Benchmark`), chosen by a SPEC string.

``analog`` (embedded default), ``nb201:PATH``, ``nats-tss:PATH``, ``table:PATH``. Each
source is converted once into a parquet cache (:mod:`bench_toolkit.benchmarks.cache`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench_toolkit.benchmarks import analog, nats_tss, nb201_pth, table
from bench_toolkit.benchmarks.base import DATASETS, MEAN_SEED, METRICS, Benchmark
from bench_toolkit.benchmarks.cache import cached_records
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb201

DEFAULT_SPEC = "analog"

BACKENDS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "analog": analog.load_records,
    "nb201": nb201_pth.load_records,
    "nats-tss": nats_tss.load_records,
    "table": table.load_records,
}
"""Backend name (the SPEC prefix) -> converter of a source path into records."""

_SPEC_HELP = "use 'analog', 'nb201:PATH', 'nats-tss:PATH' or 'table:PATH' ('analog:PATH' reads another data.anb)"


def load_benchmark(spec: str = DEFAULT_SPEC, cache_dir: Path | None = None) -> Benchmark:
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
    bench = Benchmark(spec, cached_records(kind, source, lambda: BACKENDS[kind](source), cache_dir))
    if bench.cells < nb201.SIZE:  # reported once, at load, rather than as a surprise at some later query
        print(f"bench-toolkit: note: benchmark '{spec}' covers {bench.cells:,} of the {nb201.SIZE:,} NB201 cells; "
              "querying any other cell is an error", file=sys.stderr)
    return bench


__all__ = ["BACKENDS", "DATASETS", "DEFAULT_SPEC", "MEAN_SEED", "METRICS", "Benchmark", "load_benchmark"]
