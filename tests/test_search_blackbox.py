"""Black-box search: budgets, determinism, the algorithms' mechanics, and search quality."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from bench_toolkit.benchmarks import Benchmark, load_benchmark
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search import ALGORITHMS, HISTORY_COLUMNS, BlackBoxRun, Budget, Evaluator, Protocol, run_blackbox
from bench_toolkit.search.rea import regularized_evolution
from bench_toolkit.search.reinforce import reinforce
from bench_toolkit.spaces import NB201, nb201


def synthetic_benchmark() -> Benchmark:
    """Every cell on cifar10-valid (12 and 200 epochs) and cifar10 (200). Accuracy counts
    nor_conv_3x3 edges; train time is 10 s per conv edge + 1 s, so time budgets are checkable."""
    rows = []
    for code, arch in enumerate(nb201.enumerate_archs()):
        convs = sum(op == "nor_conv_3x3" for op in arch)
        for dataset, epochs in [("cifar10-valid", 12), ("cifar10-valid", 200), ("cifar10", 200)]:
            rows.append({"code": code, "official_index": -1, "dataset": dataset, "epochs": epochs, "seed": -1,
                         "valid_acc": 50.0 + 5 * convs + (0 if epochs == 12 else 1) if dataset != "cifar10" else np.nan,
                         "test_acc": 60.0 + 5 * convs, "train_time": 1.0 + 10 * convs})
    return Benchmark("synthetic", pd.DataFrame(rows))


@pytest.fixture(scope="module")
def synthetic() -> Benchmark:
    return synthetic_benchmark()


def test_protocol_defaults_follow_nb201(synthetic):
    p = Protocol.resolve(synthetic)
    assert (p.dataset, p.metric, p.epochs, p.report_dataset, p.report_epochs) == ("cifar10-valid", "valid_acc", 12, "cifar10", 200)
    analog = Protocol.resolve(load_benchmark("analog"))
    assert (analog.dataset, analog.metric) == ("cifar10", "test_acc")  # test when that is all the source has


def test_evaluator_rows_and_best_so_far_by_hand(synthetic):
    ev = Evaluator(synthetic, Protocol.resolve(synthetic), Budget(queries=3), seed=7)
    conv = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # 1 conv edge, invalid is irrelevant here
    zero = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert [ev(zero), ev(conv), ev(zero)] == [50.0, 55.0, 50.0]
    assert ev.exhausted
    h = ev.history()
    assert list(h.columns) == list(HISTORY_COLUMNS)
    assert h["best_score"].tolist() == [50.0, 55.0, 55.0]
    assert h["best_test_acc"].tolist() == [60.0, 65.0, 65.0]  # cifar10 test at 200 epochs of the chosen cell
    assert h["sim_time"].tolist() == [1.0, 12.0, 13.0]
    assert h["best_arch"].iloc[-1] == conv
    with pytest.raises(RuntimeError, match="budget was exhausted"):
        ev(conv)


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_time_budget_stops_at_the_first_query_that_reaches_it(synthetic, algo):
    run = BlackBoxRun(algo, Protocol.resolve(synthetic), Budget(seconds=300.0), seeds=(0, 1))
    history = run_blackbox(run, synthetic)
    for _, seed_history in history.groupby("seed"):
        times = seed_history["sim_time"].to_numpy()
        assert times[-1] >= 300.0 > times[-2]
        np.testing.assert_allclose(times, np.cumsum(seed_history["train_time"]))


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_same_seed_same_history(synthetic, algo):
    run = BlackBoxRun(algo, Protocol.resolve(synthetic), Budget(queries=40), seeds=(3, 4))
    first, second = run_blackbox(run, synthetic), run_blackbox(run, synthetic)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 80
    assert not first[first.seed == 3]["arch"].equals(first[first.seed == 4]["arch"].reset_index(drop=True))


def test_rea_children_are_one_edge_mutations_of_the_living_population(synthetic):
    ev = Evaluator(synthetic, Protocol.resolve(synthetic), Budget(queries=60), seed=0)
    regularized_evolution(NB201, ev, random.Random(0), population_size=10, sample_size=3)
    archs = [nb201.parse(a) for a in ev.history()["arch"]]
    for step in range(10, 60):
        population = archs[step - 10:step]  # aging: the 10 most recent members
        assert any(sum(x != y for x, y in zip(archs[step], member)) == 1 for member in population)


def test_rea_rejects_a_sample_larger_than_the_population(synthetic):
    ev = Evaluator(synthetic, Protocol.resolve(synthetic), Budget(queries=5), seed=0)
    with pytest.raises(BenchToolkitError, match="sample_size <= population_size"):
        regularized_evolution(NB201, ev, random.Random(0), population_size=2, sample_size=3)


def test_reinforce_learns_the_rewarded_op(synthetic):
    ev = Evaluator(synthetic, Protocol.resolve(synthetic), Budget(queries=400), seed=0)
    reinforce(NB201, ev, random.Random(0), learning_rate=0.05)
    archs = ev.history()["arch"].map(nb201.parse)
    share = lambda part: np.mean([op == "nor_conv_3x3" for a in part for op in a])  # noqa: E731
    assert share(archs[:50]) < 0.35  # starts near uniform (1/5)
    assert share(archs[-50:]) > 0.8  # the policy concentrates on the rewarded op


def test_search_quality_on_the_embedded_benchmark():
    """A regression test on real numbers: over 20 seeds and 150 queries, REA beats random
    search (as in the NB201 paper) and both come within 1% of the space's best cell."""
    bench = load_benchmark("analog")
    best = bench.frame()["cifar10.test_acc"].max()
    finals = {}
    for algo in ("random", "rea"):
        history = run_blackbox(BlackBoxRun(algo, Protocol.resolve(bench), Budget(queries=150), tuple(range(20))), bench)
        finals[algo] = history.groupby("seed")["best_test_acc"].last().mean()
    assert finals["rea"] > finals["random"] + 0.1
    assert best - 1.0 < finals["random"] < finals["rea"] <= best


def test_run_directory_contents(tmp_path, synthetic):
    run = BlackBoxRun("rea", Protocol.resolve(synthetic), Budget(queries=20), seeds=(0, 1, 2), params={"population_size": 5})
    history = run_blackbox(run, synthetic, tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["algo"] == "rea" and config["params"] == {"population_size": 5} and config["seeds"] == [0, 1, 2]
    assert config["protocol"]["metric"] == "valid_acc" and config["budget"]["queries"] == 20
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "run" / "history.parquet"), history)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    finals = history.groupby("seed")["best_test_acc"].last()
    assert result["test_acc_mean"] == pytest.approx(finals.mean())
    assert result["test_acc_std"] == pytest.approx(finals.std())
    assert [r["test_acc"] for r in result["per_seed"]] == finals.tolist()


def test_bad_search_input(synthetic):
    with pytest.raises(BenchToolkitError, match="needs a budget"):
        Budget()
    with pytest.raises(BenchToolkitError, match="records no train_time"):
        run_blackbox(BlackBoxRun("random", Protocol.resolve(load_benchmark("analog")), Budget(seconds=10), (0,)),
                     load_benchmark("analog"))
    with pytest.raises(BenchToolkitError, match="does not take parameter.*size; it takes: population_size, sample_size"):
        run_blackbox(BlackBoxRun("rea", Protocol.resolve(synthetic), Budget(queries=2), (0,), params={"size": 3}),
                     synthetic)
