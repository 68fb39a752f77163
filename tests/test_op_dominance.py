"""Fig. 6(a) numbers, recomputed independently from the real NB201 table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench_toolkit.analysis.op_dominance import dominance_summary, dominance_table
from bench_toolkit.benchmarks import load_benchmark
from bench_toolkit.spaces import nb201


def test_group_sizes_and_means_match_an_independent_count(nb201_csv):
    raw = pd.read_csv(nb201_csv)
    summary = dominance_summary(dominance_table(load_benchmark(f"table:{nb201_csv}").frame()))
    cifar10 = summary[summary["dataset"] == "cifar10"].set_index(["op", "count"])
    for op in nb201.OPS:
        # independent route: count '<op>~' occurrences in the raw strings
        counts = raw["ArchitectureString"].str.count(f"\\|{op}~")
        for count, cells in [(4, math.comb(6, 4) * 4**2), (5, math.comb(6, 5) * 4), (6, 1)]:
            members = raw.loc[counts == count, "CIFAR10TestAccuracy200Epochs"]
            assert len(members) == cells == cifar10.loc[(op, count), "cells"]
            assert cifar10.loc[(op, count), "mean"] == pytest.approx(members.mean())
    # the all-skip cell scores 54.30%: exactly the collapsed DARTS-V1 result in the paper's Table 1
    assert cifar10.loc[("skip_connect", 6), "mean"] == pytest.approx(54.30, abs=0.005)
    assert set(summary["dataset"]) == {"cifar10", "cifar100", "ImageNet16-120"}
