"""The one oracle interface: ``query`` one cell, or ``frame`` the whole space.

Every backend converts its source into *records*, a long table with one row per
(cell, dataset, training epochs, seed) and one column per metric; this class serves queries
from them. The mean over seeds is stored as its own rows (``seed == MEAN_SEED``), computed once
at conversion, so a default query is one array lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb201

DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
"""NB201 dataset names, in the order the NB201 paper lists them."""

METRICS: tuple[str, ...] = (
    "train_acc", "valid_acc", "test_acc",
    "train_loss", "valid_loss", "test_loss",
    "params", "flops", "latency", "train_time",
)
"""Metric names used everywhere. Accuracies in percent; params in millions (MB of float32 in
the NB201 files' words), flops in millions, latency and train_time in seconds."""

MEAN_SEED = -1
"""``seed`` value of the rows holding the mean over all recorded seeds."""

UNSPECIFIED_EPOCHS = -1
"""``epochs`` value for sources that do not say how long the cells were trained."""

KEY_COLUMNS: tuple[str, ...] = ("code", "official_index", "dataset", "epochs", "seed")
"""Record columns besides the metrics. ``code`` is the space index (:func:`nb201.index`);
``official_index`` the benchmark file's own index, -1 where the source has none."""


def validate_records(records: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check a converted record table and bring it to the canonical dtypes and column order."""
    if records.empty:
        raise BenchToolkitError(f"{source}: the source holds no architecture results")
    missing = [c for c in KEY_COLUMNS if c not in records.columns]
    metrics = [m for m in METRICS if m in records.columns]
    if missing or not metrics:
        raise BenchToolkitError(f"{source}: converted records lack columns {missing or list(METRICS)}")
    out = records[list(KEY_COLUMNS) + metrics].astype(
        {"code": "int32", "official_index": "int32", "dataset": "str", "epochs": "int32", "seed": "int32"}
    )
    try:
        out[metrics] = out[metrics].astype("float64")
    except (TypeError, ValueError) as error:
        raise BenchToolkitError(f"{source}: a metric holds something other than numbers ({error}); fix the source "
                                "file (its converted cache is refreshed when the file changes)") from None
    if out.duplicated(list(KEY_COLUMNS[:1] + KEY_COLUMNS[2:])).any():
        raise BenchToolkitError(f"{source}: more than one result for the same cell, dataset, epochs and seed")
    return out.reset_index(drop=True)


class Benchmark:
    """Ground truth for every cell of a space, served from a record table.

    >>> bench = load_benchmark("analog")                     # doctest: +SKIP
    >>> bench.query("|nor_conv_3x3~0|+|...|", "cifar10", "test_acc")  # doctest: +SKIP
    """

    SELECT_EPOCHS = 12
    """Training length a search selects by where recorded (the NB201 paper's protocol, Sec. 5)."""

    def __init__(self, name: str, records: pd.DataFrame):
        self.name = name
        self.records = validate_records(records, name)
        present = set(self.records["dataset"])
        unknown = present - set(DATASETS)
        if unknown:
            raise BenchToolkitError(f"{name}: unknown dataset(s) {sorted(unknown)}; known: {', '.join(DATASETS)}")
        self.datasets: tuple[str, ...] = tuple(d for d in DATASETS if d in present)
        self.epochs: tuple[int, ...] = tuple(sorted(int(e) for e in self.records["epochs"].unique()))
        self.metrics: tuple[str, ...] = tuple(m for m in METRICS if m in self.records.columns)
        self._epochs_of: dict[str, tuple[int, ...]] = {
            str(d): tuple(sorted(int(e) for e in group.unique()))
            for d, group in self.records.groupby("dataset")["epochs"]
        }
        self._tables: dict[tuple[str, int, int], np.ndarray] = {}
        self._metrics_of: dict[tuple[str, int], tuple[str, ...]] = {}

    @property
    def cells(self) -> int:
        """How many cells of the space the source records."""
        return int(self.records["code"].nunique())

    def __repr__(self) -> str:
        return f"Benchmark({self.name!r}, {self.cells} cells, datasets={list(self.datasets)}, epochs={list(self.epochs)})"

    @property
    def default_dataset(self) -> str:
        """``cifar10`` where the source has it, else its first dataset."""
        return "cifar10" if "cifar10" in self.datasets else self.datasets[0]

    def epochs_for(self, dataset: str) -> tuple[int, ...]:
        """The training lengths recorded for ``dataset``."""
        return self._epochs_of[self.resolve_dataset(dataset)]

    def default_epochs(self, dataset: str) -> int:
        """200 where the source has it for ``dataset`` (the NB201 paper's final results), else the longest."""
        have = self.epochs_for(dataset)
        return 200 if 200 in have else max(have)

    @property
    def has_official_index(self) -> bool:
        """Whether the source numbers its cells (official NB201/NATS files, NATS exports)."""
        return bool((self.records["official_index"] >= 0).any())

    # -- argument checks: one clear message per mistake ------------------------------------------

    def resolve_dataset(self, dataset: str | None) -> str:
        """``dataset``, or the default when None; an unrecorded name is an error listing the recorded ones."""
        if dataset is None:
            return self.default_dataset
        if dataset not in self.datasets:
            raise BenchToolkitError(
                f"benchmark '{self.name}' has no dataset '{dataset}'; choose one of: {', '.join(self.datasets)}"
            )
        return dataset

    def resolve_epochs(self, epochs: int | None, dataset: str) -> int:
        """``epochs``, or ``dataset``'s default when None; an unrecorded length is an error."""
        epochs = self.default_epochs(dataset) if epochs is None else int(epochs)
        have = self._epochs_of[dataset]
        if epochs not in have:
            shown = ", ".join("unspecified" if e == UNSPECIFIED_EPOCHS else str(e) for e in have)
            raise BenchToolkitError(
                f"benchmark '{self.name}' has no {epochs}-epoch results for '{dataset}'; epochs available: {shown}"
            )
        return epochs

    def metrics_for(self, dataset: str | None = None, epochs: int | None = None) -> tuple[str, ...]:
        """The metrics this benchmark records for ``dataset`` at ``epochs`` (not all-missing)."""
        dataset = self.resolve_dataset(dataset)
        key = (dataset, self.resolve_epochs(epochs, dataset))
        if key not in self._metrics_of:
            table = self._table(*key, MEAN_SEED)
            self._metrics_of[key] = tuple(m for m, col in zip(self.metrics, table.T) if not np.isnan(col).all())
        return self._metrics_of[key]

    def check_metric(self, metric: str, dataset: str, epochs: int) -> None:
        """Raise unless ``metric`` is recorded for ``dataset`` at ``epochs``, naming those that are."""
        have = self.metrics_for(dataset, epochs)
        if metric not in have:
            known = "" if metric in METRICS else f" ('{metric}' is not a metric name; names: {', '.join(METRICS)})"
            raise BenchToolkitError(
                f"benchmark '{self.name}' has no metric '{metric}' for '{dataset}'{known}; "
                f"available: {', '.join(have)}"
            )

    # -- lookups ---------------------------------------------------------------------------------

    def _table(self, dataset: str, epochs: int, seed: int) -> np.ndarray:
        """Dense (15625, n_metrics) array for one slice of the records, NaN where absent."""
        key = (dataset, epochs, seed)
        if key not in self._tables:
            r = self.records
            rows = r[(r["dataset"] == dataset) & (r["epochs"] == epochs) & (r["seed"] == seed)]
            table = np.full((nb201.SIZE, len(self.metrics)), np.nan)
            table[rows["code"].to_numpy()] = rows[list(self.metrics)].to_numpy()
            self._tables[key] = table
        return self._tables[key]

    def record(
        self, arch: str | Sequence[str], dataset: str | None = None, epochs: int | None = None,
        seed: int | None = None,
    ) -> dict[str, float]:
        """All metrics of one cell as ``{metric: value}`` (NaN for metrics the source lacks)."""
        dataset = self.resolve_dataset(dataset)
        epochs = self.resolve_epochs(epochs, dataset)
        code = nb201.index(arch)
        row = self._table(dataset, epochs, MEAN_SEED if seed is None else int(seed))[code]
        if np.isnan(row).all():
            where = f"'{dataset}' at {epochs} epochs"
            if seed is None:
                raise BenchToolkitError(f"benchmark '{self.name}' has no result for {nb201.canonical(arch)} on {where}")
            seeds = self.seeds(arch, dataset, epochs)
            raise BenchToolkitError(
                f"benchmark '{self.name}' has no seed {seed} for {nb201.canonical(arch)} on {where}; "
                f"seeds recorded: {', '.join(map(str, seeds)) or 'none'} (omit the seed for their mean)"
            )
        return dict(zip(self.metrics, row.tolist()))

    def query(
        self, arch: str | Sequence[str], dataset: str | None = None, metric: str = "test_acc",
        epochs: int | None = None, seed: int | None = None,
    ) -> float:
        """One metric of one cell: the mean over seeds, or one seed's value when ``seed`` is given."""
        dataset = self.resolve_dataset(dataset)
        epochs = self.resolve_epochs(epochs, dataset)
        self.check_metric(metric, dataset, epochs)
        value = self.record(arch, dataset, epochs, seed)[metric]
        if np.isnan(value):
            raise BenchToolkitError(
                f"benchmark '{self.name}' has no '{metric}' for {nb201.canonical(arch)} on '{dataset}' at {epochs} epochs"
            )
        return value

    def seeds(self, arch: str | Sequence[str], dataset: str | None = None, epochs: int | None = None) -> list[int]:
        """The training seeds recorded for one cell (empty where the source keeps only means)."""
        dataset = self.resolve_dataset(dataset)
        epochs = self.resolve_epochs(epochs, dataset)
        r = self.records
        mask = (r["code"] == nb201.index(arch)) & (r["dataset"] == dataset) & (r["epochs"] == epochs)
        return sorted(int(s) for s in r.loc[mask, "seed"] if s != MEAN_SEED)

    def frame(self, epochs: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """The whole space: one row per cell, ``arch`` (canonical string) first, then
        ``official_index`` where the source has one, then ``<dataset>.<metric>`` columns.

        ``epochs=None`` takes each dataset's default (200 where recorded); a number keeps only
        the datasets recorded at that many epochs.
        """
        seed_value = MEAN_SEED if seed is None else int(seed)
        slices = {}
        for dataset in self.datasets:
            if epochs is None or int(epochs) in self._epochs_of[dataset]:
                slices[dataset] = self.default_epochs(dataset) if epochs is None else int(epochs)
        if not slices:
            raise BenchToolkitError(
                f"benchmark '{self.name}' has no {epochs}-epoch results; epochs available: "
                + ", ".join(map(str, self.epochs))
            )
        r = self.records
        wanted = np.zeros(len(r), dtype=bool)
        for dataset, dataset_epochs in slices.items():
            wanted |= ((r["dataset"] == dataset) & (r["epochs"] == dataset_epochs)).to_numpy()
        rows = r[wanted & (r["seed"] == seed_value).to_numpy()]
        if rows.empty:
            raise BenchToolkitError(f"benchmark '{self.name}' has no results for seed {seed}")
        wide = rows.pivot(index="code", columns="dataset", values=list(self.metrics))
        columns = [(m, d) for d in self.datasets for m in self.metrics if (m, d) in wide.columns]
        wide = wide[columns].dropna(axis=1, how="all")
        wide.columns = [f"{d}.{m}" for m, d in wide.columns]
        codes = wide.index.to_numpy()
        head = {"arch": [nb201.format_arch(nb201.from_index(int(c))) for c in codes]}
        if self.has_official_index:
            official = r.drop_duplicates("code").set_index("code")["official_index"]
            head["official_index"] = official.loc[codes].to_numpy()
        out = pd.concat([pd.DataFrame(head), wide.reset_index(drop=True)], axis=1)
        out.attrs.update(benchmark=self.name, epochs=slices, seed=seed)
        return out
