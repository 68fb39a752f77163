"""The official NAS-Bench-201 ``.pth`` files (v1_0 and v1_1) through ``nas_201_api``.

Security trade-off: the files are pickles, and torch >= 2.6 loads with ``weights_only=True``,
which refuses the numpy scalars these files hold. Rather than switching the safety off, we
allow exactly the numpy scalar and dtype classes (:data:`NUMPY_SAFE_GLOBALS`) for the duration
of the load: a file can then still not run arbitrary code. A file holding anything else is
refused with a message; only for a file you trust, ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
makes torch load it as a full pickle (which *can* execute code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench_toolkit.benchmarks.official import records_from_api
from bench_toolkit.errors import BenchToolkitError


def numpy_safe_globals() -> list[Any]:
    """numpy scalar reconstruction and the dtypes of the values stored in the NB201 files,
    under both module spellings (``numpy.core`` in files pickled by numpy 1, ``numpy._core`` now)."""
    import numpy as np
    from numpy._core.multiarray import scalar

    dtypes = [np.dtype, *(type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool"))]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), *dtypes]


def _unsupported_global(message: str) -> str:
    """The 'Unsupported global: GLOBAL module.name' line of torch's refusal."""
    return next((line.strip() for line in message.splitlines() if "Unsupported global" in line), "unknown object")


def load_records(path: Path) -> pd.DataFrame:
    """Open ``path`` with the official API and convert every evaluated cell."""
    import pickle

    import torch
    from nas_201_api import NASBench201API

    if not path.is_file():
        raise BenchToolkitError(f"'{path}' is not a file; pass the path of a NAS-Bench-201-v1_*.pth file")
    try:
        with torch.serialization.safe_globals(numpy_safe_globals()):
            api = NASBench201API(str(path), verbose=False)
    except pickle.UnpicklingError as err:
        if "Unsupported global" not in str(err):
            raise BenchToolkitError(
                f"cannot read '{path}' as a NAS-Bench-201 .pth file (not a torch file: {str(err).splitlines()[-1]}); "
                "check that the path points to an intact NAS-Bench-201-v1_0 or v1_1 file"
            ) from None
        raise BenchToolkitError(
            f"'{path}' holds objects outside the safe-load allowlist ({_unsupported_global(str(err))}); "
            "if you trust this file, rerun with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"
        ) from None
    except Exception as err:  # torch/pickle/API assertion: the file is not what it should be
        raise BenchToolkitError(
            f"cannot read '{path}' as a NAS-Bench-201 .pth file ({type(err).__name__}: {err}); "
            "check that the path points to an intact NAS-Bench-201-v1_0 or v1_1 file"
        ) from None
    return records_from_api(api, sorted(api.arch2infos_dict), f"converting {path.name}")
