"""AnalogNAS-Bench (PyPI ``analog-nasbench``): the embedded default, no file needed.

It records, for every NB201 cell, the CIFAR-10 test accuracy of the digitally trained network
(``baseline_accuracy``), which we serve as ``cifar10`` / ``test_acc``. The package keys cells
by 6-tuples in its own order, worked out from its 10%-accuracy cells and verified against the
real NB201 table (Spearman rank correlation 0.991 over all 15,625 cells; see
``tests/test_analog_mapping.py``):

* op index: 0 skip_connect, 1 none, 2 nor_conv_3x3, 3 nor_conv_1x1, 4 avg_pool_3x3;
* tuple position: edges 0->1, 0->2, 0->3, 1->2, 1->3, 2->3.

We read its pickle directly (class references mapped to a plain record type) instead of
importing the package, whose import needs the deprecated ``pkg_resources``.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import pandas as pd

from bench_toolkit.benchmarks.base import MEAN_SEED, UNSPECIFIED_EPOCHS
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb201

ANALOG_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
ANALOG_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
_POSITION = [ANALOG_EDGES.index(edge) for edge in nb201.EDGES]  # canonical edge k -> tuple position


def to_arch(key: tuple[int, ...]) -> nb201.Arch:
    """The NB201 op tuple (canonical edge order) of an AnalogNAS-Bench key."""
    return tuple(ANALOG_OPS[key[position]] for position in _POSITION)


def data_file() -> Path:
    """Path of the package's ``data.anb``, found without importing the package."""
    spec = importlib.util.find_spec("analognasbench")
    if spec is None or not spec.submodule_search_locations:
        raise BenchToolkitError("the embedded benchmark needs the 'analog-nasbench' package; pip install analog-nasbench")
    path = Path(next(iter(spec.submodule_search_locations))) / "data.anb"
    if not path.is_file():
        raise BenchToolkitError(f"'analog-nasbench' is installed without its data file {path}; reinstall it")
    return path


class _Record:
    """Stands in for the package's ``Architecture`` and ``DriftMeasurement`` classes."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if module.startswith("analognasbench"):
            return _Record
        return super().find_class(module, name)


def read_accuracies(path: Path) -> dict[tuple[int, ...], float]:
    """The package's own table: its 6-tuple key -> CIFAR-10 test accuracy (``baseline_accuracy``)."""
    with open(path, "rb") as handle:
        entries = _Unpickler(handle).load()
    return {key: float(entry.baseline_accuracy) for key, entry in entries.items()}


def load_records(path: Path) -> pd.DataFrame:
    accuracies = read_accuracies(path)
    return pd.DataFrame({
        "code": [nb201.index(to_arch(key)) for key in accuracies],
        "official_index": -1,
        "dataset": "cifar10",
        "epochs": UNSPECIFIED_EPOCHS,
        "seed": MEAN_SEED,
        "test_acc": list(accuracies.values()),
    })
