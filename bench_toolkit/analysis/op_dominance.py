"""Accuracy of the cells in which one op occupies most edges (degradation paper Fig. 6a).

With six edges, at most one op can sit on four or more of them, so each such cell belongs to
exactly one (op, count) group, count in {4, 5, 6}.
"""

from __future__ import annotations

import pandas as pd

from bench_toolkit.spaces import nb201

DOMINANT_COUNTS = (4, 5, 6)


def dominance_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows ``(arch, op, count, dataset, test_acc)`` for every cell of ``frame`` (a
    :meth:`Benchmark.frame`) in which one op occupies 4, 5 or 6 edges, for every ``<dataset>.test_acc``."""
    rows = []
    accuracy_columns = [c for c in frame.columns if c.endswith(".test_acc")]
    for record in frame[["arch", *accuracy_columns]].itertuples(index=False):
        ops = nb201.parse(record[0])
        op, count = max(((o, ops.count(o)) for o in nb201.OPS), key=lambda pair: pair[1])
        if count in DOMINANT_COUNTS:
            for column, value in zip(accuracy_columns, record[1:]):
                rows.append({"arch": record[0], "op": op, "count": count,
                             "dataset": column.removesuffix(".test_acc"), "test_acc": value})
    return pd.DataFrame(rows)


def dominance_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Cells, mean, std, min, median, max of test accuracy per (dataset, op, count)."""
    grouped = table.groupby(["dataset", "op", "count"], sort=False)["test_acc"]
    summary = grouped.agg(cells="size", mean="mean", std="std", min="min", median="median", max="max").reset_index()
    datasets = list(dict.fromkeys(table["dataset"]))
    order = summary["dataset"].map(datasets.index) * 100 + summary["op"].map(nb201.OPS.index) * 10 + summary["count"]
    return summary.iloc[order.argsort()].reset_index(drop=True)
