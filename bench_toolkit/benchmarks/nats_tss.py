"""NATS-Bench topology search space (= NB201 cells) through the official ``nats_bench`` API.

Two forms: the fast-mode directory (``meta.pickle.pbz2`` plus one ``{index:06d}.pickle.pbz2``
per cell, e.g. ``NATS-tss-v1_0-3ffb9-simple/``) and the single-file ``*.pickle.pbz2``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bench_toolkit.benchmarks.official import records_from_api
from bench_toolkit.errors import BenchToolkitError

_CELL_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")


def load_records(path: Path) -> pd.DataFrame:
    """Open ``path`` (directory: fast mode; file: full mode) and convert every cell it holds."""
    import nats_bench

    if path.is_dir():
        if not (path / "meta.pickle.pbz2").is_file():
            raise BenchToolkitError(
                f"'{path}' is not a NATS-Bench tss fast-mode directory: it lacks meta.pickle.pbz2; "
                "pass the directory that holds meta.pickle.pbz2 and the {index:06d}.pickle.pbz2 files"
            )
        indexes = sorted(int(m.group(1)) for p in path.iterdir() if (m := _CELL_FILE.match(p.name)))
    try:
        api = nats_bench.create(str(path), "tss", fast_mode=path.is_dir(), verbose=False)
        if path.is_file():
            indexes = sorted(api.arch2infos_dict)
        return records_from_api(api, indexes, f"converting {path.name}")
    except BenchToolkitError:
        raise
    except Exception as err:  # bz2/pickle/API assertion: the source is not what it should be
        raise BenchToolkitError(
            f"cannot read '{path}' as NATS-Bench tss ({type(err).__name__}: {err}); "
            "check that it is an intact NATS-tss-v1_0 directory or .pickle.pbz2 file"
        ) from None
