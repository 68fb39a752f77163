"""The official NAS-Bench-201 ``.pth`` files (v1_0 and v1_1), decoded by ``nas_201_api``'s classes.

A file is a torch-saved dict ``{'meta_archs', 'arch2infos', 'evaluated_indexes'}``; each
``arch2infos[i]`` holds the state of two official ``ArchResults``: ``'less'`` (12-epoch
schedule) and ``'full'`` (200 epochs), exactly as ``NASBench201API.__init__`` reads them.
We decode each with ``nas_201_api.api_utils.ArchResults.create_from_state_dict`` and drop it
once converted, instead of building a ``NASBench201API`` (whose dict input is deep-copied,
doubling the memory that makes users of the 4.7 GB v1_1 file report ~28 GB).

Security trade-off: the files are pickles holding numpy scalars. torch >= 2.6 loads with
``weights_only=True`` by default and refuses them; allowing numpy in that loader works but runs
15x slower (pure Python). We load with :mod:`~bench_toolkit.benchmarks.restricted_pickle`: C
speed, and any global outside its allowlist is refused before it is imported, so a file cannot
run code. For a file you trust that needs more, ``BENCH_TOOLKIT_TRUST_PICKLE=1`` switches to
the full ``pickle`` module, which *can* execute code embedded in the file.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bench_toolkit.benchmarks import restricted_pickle
from bench_toolkit.benchmarks.official import records_from_results
from bench_toolkit.errors import BenchToolkitError

HP_OF_KEY = {"less": "12", "full": "200"}
"""The file's per-cell keys -> training epochs, as ``NASBench201API`` maps them."""

TRUST_ENV = "BENCH_TOOLKIT_TRUST_PICKLE"


def _load_file(path: Path) -> dict[str, Any]:
    import torch

    trusted = os.environ.get(TRUST_ENV) == "1"
    try:
        data = torch.load(path, map_location="cpu", weights_only=False,
                          pickle_module=pickle if trusted else restricted_pickle)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err):
            raise BenchToolkitError(
                f"'{path}' holds objects outside the safe-load allowlist ({err}); "
                f"if you trust this file, rerun with {TRUST_ENV}=1"
            ) from None
        raise BenchToolkitError(
            f"cannot read '{path}' as a NAS-Bench-201 .pth file ({err}); "
            "check that the path points to an intact NAS-Bench-201-v1_0 or v1_1 file"
        ) from None
    except Exception as err:  # torch's format errors: the file is not what it should be
        raise BenchToolkitError(
            f"cannot read '{path}' as a NAS-Bench-201 .pth file ({type(err).__name__}: {err}); "
            "check that the path points to an intact NAS-Bench-201-v1_0 or v1_1 file"
        ) from None
    missing = [k for k in ("meta_archs", "arch2infos", "evaluated_indexes") if not isinstance(data, dict) or k not in data]
    if missing:
        raise BenchToolkitError(f"'{path}' is a torch file but not a NAS-Bench-201 benchmark: it lacks {missing}")
    return data


def _cell_results(arch2infos: dict[int, dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    from nas_201_api.api_utils import ArchResults

    for idx in sorted(arch2infos):
        infos = arch2infos.pop(idx)  # free the raw state as we go
        yield idx, {HP_OF_KEY[key]: ArchResults.create_from_state_dict(state) for key, state in infos.items()}


def load_records(path: Path) -> pd.DataFrame:
    """Convert every evaluated cell of an official NAS-Bench-201 ``.pth`` file."""
    if not path.is_file():
        raise BenchToolkitError(f"'{path}' is not a file; pass the path of a NAS-Bench-201-v1_*.pth file")
    data = _load_file(path)
    arch2infos = data["arch2infos"]
    return records_from_results(data["meta_archs"], _cell_results(arch2infos), len(arch2infos), f"converting {path.name}")
