"""Fig. 6(a): accuracy of NB201 cells in which one op occupies four, five or six edges.

    python studies/darts_degradation/fig6a_op_dominance.py --benchmark table:../shared/data/nb201/nats_tss_test_acc_200ep.csv

Pure tabular analysis (no training, so no --scale): writes ``fig6a_op_dominance.csv`` (one row per
cell and dataset), ``fig6a_op_dominance_summary.csv`` and ``fig6a_op_dominance.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_toolkit.analysis.op_dominance import dominance_summary, dominance_table
from bench_toolkit.benchmarks import load_benchmark
from bench_toolkit.fileio import write_atomic, write_table
from bench_toolkit.spaces import nb201

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="table:" + str(REPO.parent / "shared/data/nb201/nats_tss_test_acc_200ep.csv"))
    parser.add_argument("--out-dir", default=str(REPO / "figures" / "darts_degradation"))
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = dominance_table(load_benchmark(args.benchmark).frame())
    out = Path(args.out_dir)
    write_table(out / "fig6a_op_dominance.csv", table)
    summary = dominance_summary(table)
    write_table(out / "fig6a_op_dominance_summary.csv", summary)
    datasets = list(dict.fromkeys(table["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sns.boxplot(data=table[table["dataset"] == dataset], x="op", y="test_acc", hue="count", order=list(nb201.OPS),
                    ax=ax, fliersize=1.5)
        ax.set_title(f"{dataset}: one op on 4, 5 or 6 of 6 edges")
        ax.set_xlabel("")
        ax.set_ylabel("test accuracy (%)")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    write_atomic(out / "fig6a_op_dominance.png", lambda tmp: fig.savefig(tmp, format="png", dpi=150))
    print(summary[summary["dataset"] == datasets[0]].to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
