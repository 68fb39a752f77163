"""NAS-Bench-101 as a benchmark (``nb101:PATH``): the official file converted once into records,
served by :class:`NB101Benchmark` with the same methods as :class:`~.base.Benchmark` (``query``,
``record``, ``frame``, ``datasets``, ``epochs``, ``cells``).

Records: one row per (cell, epochs, repeat) -- ``module_hash``, ``epochs`` (4, 12, 36, 108; the
``only108`` file has 108 only), ``seed`` (the repeat, 0-2, in file order; -1 for the mean over
repeats, computed at conversion), ``train_acc``, ``valid_acc``, ``test_acc`` (percent, at the end
of training), ``train_time`` (seconds of training), ``params`` (millions), and the cell's
``adjacency`` (row by row, 0/1) and ``ops`` (comma-separated). Rows are gathered as flat column
arrays while the file streams, so memory grows with the number of rows, not with Python objects
per row.

A cell is named by its module hash, or by its spec (``{"matrix": [[...]], "ops": [...]}`` as JSON
text, or a pruned :class:`~bench_toolkit.spaces.nb101.Spec`), which is checked, pruned and hashed
as the reference API does.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import numpy as np
import pandas as pd

from bench_toolkit.benchmarks.base import MEAN_SEED
from bench_toolkit.benchmarks.nb101_tfrecord import rows
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb101

DATASET = "cifar10"
METRIC_COLUMNS = ("train_acc", "valid_acc", "test_acc", "train_time", "params")


def load_records(path: Path) -> pd.DataFrame:
    """The records of an official NB101 file (module docstring)."""
    hashes: list[str] = []
    index_of: dict[str, int] = {}
    specs: list[tuple[str, str]] = []
    cell, epochs, seed = array("i"), array("i"), array("i")
    values = {name: array("d") for name in METRIC_COLUMNS}
    repeats: dict[tuple[int, int], int] = {}
    for row in rows(path):
        code = index_of.setdefault(row.module_hash, len(hashes))
        if code == len(hashes):
            hashes.append(row.module_hash)
            specs.append(("".join(str(v) for line in row.matrix for v in line), ",".join(row.ops)))
        repeat = repeats.get((code, row.epochs), 0)
        repeats[(code, row.epochs)] = repeat + 1
        final = row.final
        cell.append(code)
        epochs.append(row.epochs)
        seed.append(repeat)
        values["train_acc"].append(100.0 * final["train_accuracy"])
        values["valid_acc"].append(100.0 * final["validation_accuracy"])
        values["test_acc"].append(100.0 * final["test_accuracy"])
        values["train_time"].append(final["training_time"])
        values["params"].append(row.trainable_parameters / 1e6)
    if not hashes:
        raise BenchToolkitError(f"'{path}' holds no NB101 records")
    frame = pd.DataFrame({"code": np.frombuffer(cell, dtype=np.int32), "epochs": np.frombuffer(epochs, dtype=np.int32),
                          "seed": np.frombuffer(seed, dtype=np.int32),
                          **{name: np.frombuffer(column, dtype=np.float64) for name, column in values.items()}})
    means = frame.groupby(["code", "epochs"], as_index=False)[list(METRIC_COLUMNS)].mean().assign(seed=MEAN_SEED)
    frame = pd.concat([frame, means[frame.columns]], ignore_index=True)
    table = pd.DataFrame({"module_hash": hashes, "adjacency": [a for a, _ in specs], "ops": [o for _, o in specs]})
    return frame.merge(table.rename_axis("code").reset_index(), on="code").drop(columns="code")


class NB101Benchmark:
    """Ground truth for the NB101 cells of one official file (module docstring)."""

    SELECT_EPOCHS = 108
    """Training length a search selects by: NB101's searches select by validation accuracy at 108
    epochs (Ying et al., Sec. 5)."""

    def __init__(self, name: str, records: pd.DataFrame):
        self.name = name
        self.records = records
        self.datasets: tuple[str, ...] = (DATASET,)
        self.epochs: tuple[int, ...] = tuple(sorted(int(e) for e in records["epochs"].unique()))
        self.metrics: tuple[str, ...] = METRIC_COLUMNS
        cells = records.drop_duplicates("module_hash")
        self.hashes: tuple[str, ...] = tuple(cells["module_hash"])
        self._code = {h: k for k, h in enumerate(self.hashes)}
        self._specs = dict(zip(cells["module_hash"], zip(cells["adjacency"], cells["ops"])))
        codes = records["module_hash"].map(self._code).to_numpy()
        self._rows = {(int(c), int(e), int(s)): i for i, (c, e, s) in
                      enumerate(zip(codes, records["epochs"].to_numpy(), records["seed"].to_numpy()))}
        self._values = records[list(METRIC_COLUMNS)].to_numpy()

    @property
    def cells(self) -> int:
        return len(self.hashes)

    def __repr__(self) -> str:
        return f"NB101Benchmark({self.name!r}, {self.cells} cells, epochs={list(self.epochs)})"

    def key(self, arch: str | nb101.Spec | dict) -> str:
        """The module hash of ``arch`` (a hash, a spec, or a spec as JSON text), checked to be recorded."""
        if isinstance(arch, str) and len(arch) == 32 and all(c in "0123456789abcdef" for c in arch):
            module_hash = arch
        else:
            if isinstance(arch, str):
                try:
                    arch = json.loads(arch)
                except json.JSONDecodeError:
                    raise BenchToolkitError("an NB101 cell is its module hash (32 hex digits) or its spec as JSON "
                                            '{"matrix": [[...]], "ops": ["input", ..., "output"]}') from None
            if isinstance(arch, dict):
                if set(arch) != {"matrix", "ops"}:
                    raise BenchToolkitError(f"an NB101 spec has exactly the keys matrix and ops, got {sorted(arch)}")
                arch = nb101.pruned(arch["matrix"], arch["ops"])
            if not isinstance(arch, nb101.Spec):
                raise BenchToolkitError(f"an NB101 cell is a hash, a spec or its JSON text, got {type(arch).__name__}")
            module_hash = arch.hash()
        if module_hash not in self._code:
            raise BenchToolkitError(f"benchmark '{self.name}' has no cell {module_hash} (the space has {nb101.SIZE:,}; "
                                    f"this file records {self.cells:,})")
        return module_hash

    def spec(self, module_hash: str) -> nb101.Spec:
        """The recorded spec of a cell."""
        adjacency, ops = self._specs[self.key(module_hash)]
        ops = ops.split(",")
        n = len(ops)
        return nb101.pruned([[int(c) for c in adjacency[r * n:(r + 1) * n]] for r in range(n)], ops)

    # -- the argument checks of Benchmark (one dataset: CIFAR-10) ------------------------------------

    def resolve_dataset(self, dataset: str | None) -> str:
        if dataset not in (None, DATASET):
            raise BenchToolkitError(f"benchmark '{self.name}' has no dataset '{dataset}'; choose one of: {DATASET}")
        return DATASET

    def epochs_for(self, dataset: str) -> tuple[int, ...]:
        return self.epochs

    def resolve_epochs(self, epochs: int | None, dataset: str | None = None) -> int:
        epochs = max(self.epochs) if epochs is None else int(epochs)
        if epochs not in self.epochs:
            raise BenchToolkitError(f"benchmark '{self.name}' has no {epochs}-epoch results; epochs available: "
                                    + ", ".join(map(str, self.epochs)))
        return epochs

    def metrics_for(self, dataset: str | None = None, epochs: int | None = None) -> tuple[str, ...]:
        return self.metrics

    def check_metric(self, metric: str, dataset: str | None = None, epochs: int | None = None) -> None:
        if metric not in self.metrics:
            raise BenchToolkitError(f"benchmark '{self.name}' has no metric '{metric}'; available: {', '.join(self.metrics)}")

    def record(self, arch: str | nb101.Spec | dict, dataset: str | None = None, epochs: int | None = None,
               seed: int | None = None) -> dict[str, float]:
        """Every metric of one cell: the mean over repeats, or repeat ``seed``."""
        self.resolve_dataset(dataset)
        code, epochs = self._code[self.key(arch)], self.resolve_epochs(epochs)
        row = self._rows.get((code, epochs, MEAN_SEED if seed is None else int(seed)))
        if row is None:
            raise BenchToolkitError(f"benchmark '{self.name}' has no repeat {seed} of this cell at {epochs} epochs; "
                                    "repeats are 0, 1, 2 (omit the seed for their mean)")
        return dict(zip(self.metrics, self._values[row].tolist()))

    def query(self, arch: str | nb101.Spec | dict, dataset: str | None = None, metric: str = "test_acc",
              epochs: int | None = None, seed: int | None = None) -> float:
        """One metric of one cell (default: CIFAR-10 test accuracy after 108 epochs, mean over repeats)."""
        self.check_metric(metric)
        return self.record(arch, dataset, epochs, seed)[metric]

    def frame(self, epochs: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """One row per cell: ``module_hash``, ``adjacency``, ``ops``, then ``cifar10.<metric>``."""
        epochs = self.resolve_epochs(epochs)
        r = self.records
        rows_ = r[(r["epochs"] == epochs) & (r["seed"] == (MEAN_SEED if seed is None else int(seed)))]
        out = rows_[["module_hash", "adjacency", "ops", *self.metrics]].rename(
            columns={m: f"{DATASET}.{m}" for m in self.metrics}).reset_index(drop=True)
        out.attrs.update(benchmark=self.name, epochs=epochs, seed=seed)
        return out
