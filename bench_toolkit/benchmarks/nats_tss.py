"""NATS-Bench topology search space (= NB201 cells) through the official ``nats_bench`` API.

Two forms: the fast-mode directory (``meta.pickle.pbz2`` plus one ``{index:06d}.pickle.pbz2``
per cell, e.g. ``NATS-tss-v1_0-3ffb9-simple/``) and the single-file ``*.pickle.pbz2``.

Security note: ``nats_bench`` reads these files with the standard ``pickle``, which can run code
embedded in a file; load only files obtained from the official NATS-Bench release.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bench_toolkit.benchmarks.official import records_from_results
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
        return records_from_results(api.meta_archs, _cell_results(api, indexes), len(indexes), f"converting {path.name}")
    except BenchToolkitError:
        raise
    except Exception as err:  # bz2/pickle/API assertion: the source is not what it should be
        raise BenchToolkitError(
            f"cannot read '{path}' as NATS-Bench tss ({type(err).__name__}: {err}); "
            "check that it is an intact NATS-tss-v1_0 directory or .pickle.pbz2 file"
        ) from None


def _cell_results(api: Any, indexes: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, {hp: ArchResults})`` per cell, each dropped from the API once read (flat memory)."""
    for idx in indexes:
        if idx not in api.arch2infos_dict:  # fast mode reads each cell's file on demand
            api.reload(api.archive_dir, idx)
        yield idx, api.arch2infos_dict.pop(idx)
