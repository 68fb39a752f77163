"""AnalogNAS-Bench, the embedded default: its key order, proven against the real NB201 table."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import spearmanr

from bench_toolkit.benchmarks import analog, load_benchmark
from bench_toolkit.spaces import nb201


def test_embedded_default_covers_the_whole_space_without_a_file():
    bench = load_benchmark("analog")
    frame = bench.frame()
    assert len(frame) == 15625 and frame["arch"].is_unique
    assert bench.datasets == ("cifar10",) and bench.metrics == ("test_acc",)
    # every cell without a live input->output path scores chance level, every other cell more
    valid = frame["arch"].map(nb201.is_valid)
    assert (frame.loc[~valid, "cifar10.test_acc"] == 10.0).all()
    assert (frame.loc[valid, "cifar10.test_acc"] > 10.0).all()


def test_key_translation_by_hand():
    # AnalogNAS key positions: 0->1, 0->2, 0->3, 1->2, 1->3, 2->3; ops 0 skip, 1 none, 2 conv3, 3 conv1, 4 pool
    assert analog.to_arch((2, 3, 4, 0, 1, 2)) == nb201.parse(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
    )


def _analog_vs_real(nb201_csv, ops, edges) -> float:
    real = pd.read_csv(nb201_csv)
    positions = [edges.index(edge) for edge in nb201.EDGES]
    lookup = {
        nb201.format_arch(tuple(ops[key[p]] for p in positions)): accuracy
        for key, accuracy in analog.read_accuracies(analog.data_file()).items()
    }
    return spearmanr([lookup[a] for a in real["ArchitectureString"]], real["CIFAR10TestAccuracy200Epochs"]).statistic


def test_mapping_agrees_with_the_real_nb201_table(nb201_csv):
    bench = load_benchmark("analog")
    real = pd.read_csv(nb201_csv)
    ours = bench.frame().set_index("arch").loc[real["ArchitectureString"], "cifar10.test_acc"]
    rho = spearmanr(ours.to_numpy(), real["CIFAR10TestAccuracy200Epochs"]).statistic
    assert rho > 0.99
    # the obvious alternatives (package's key read in NB201's own op or edge order) fit far worse
    assert _analog_vs_real(nb201_csv, nb201.OPS, analog.ANALOG_EDGES) < 0.5
    assert _analog_vs_real(nb201_csv, analog.ANALOG_OPS, nb201.EDGES) < 0.8
    assert rho == pytest.approx(_analog_vs_real(nb201_csv, analog.ANALOG_OPS, analog.ANALOG_EDGES))
