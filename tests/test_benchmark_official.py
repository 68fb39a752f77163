"""NB201 .pth and NATS-Bench tss files, written in the official formats by the official classes,
read through the official APIs; our cached answers must equal the official API's own."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import official_files as fx
from bench_toolkit.benchmarks import load_benchmark
from bench_toolkit.errors import BenchToolkitError

INDEXES = [0, 5, 15624]


@pytest.fixture(scope="module")
def nb201_pth(tmp_path_factory) -> Path:
    return fx.write_nb201_pth(tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-v1_1-tiny.pth", INDEXES)


@pytest.fixture(scope="module")
def nats_dir(tmp_path_factory) -> Path:
    return fx.write_nats_dir(tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-tiny-simple", INDEXES)


@pytest.fixture(scope="module")
def nats_file(tmp_path_factory) -> Path:
    return fx.write_nats_file(tmp_path_factory.mktemp("natsfile") / "NATS-tss-v1_0-tiny", INDEXES)


def test_plain_torch_load_refuses_the_official_format(nb201_pth):
    """The problem the backend solves: torch >= 2.6 refuses the numpy scalars these files hold."""
    import torch

    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(nb201_pth)


def _expected(index: int, dataset: str, split: str, epochs: int, seed: int | None) -> float:
    seeds = fx.SEEDS if seed is None else (seed,)
    return sum(fx.accuracy(index, dataset, split, s, epochs - 1) for s in seeds) / len(seeds)


def _check_against_hand_values(bench, archs: list[str]) -> None:
    idx = 5
    arch = archs[idx]
    # 200 epochs, mean over the two seeds, last epoch; NB201 eval-set conventions
    assert bench.query(arch, "cifar10-valid", "valid_acc", 200) == pytest.approx(_expected(idx, "cifar10-valid", "x-valid", 200, None))
    assert bench.query(arch, "cifar10-valid", "test_acc", 200) == pytest.approx(_expected(idx, "cifar10-valid", "ori-test", 200, None))
    assert bench.query(arch, "cifar10", "test_acc", 200) == pytest.approx(_expected(idx, "cifar10", "ori-test", 200, None))
    assert bench.query(arch, "cifar100", "test_acc", 200) == pytest.approx(_expected(idx, "cifar100", "x-test", 200, None))
    assert bench.query(arch, "ImageNet16-120", "valid_acc", 200) == pytest.approx(_expected(idx, "ImageNet16-120", "x-valid", 200, None))
    assert bench.query(arch, "cifar100", "train_acc", 200, seed=888) == pytest.approx(_expected(idx, "cifar100", "train", 200, 888))
    assert bench.query(arch, "cifar10-valid", "valid_acc", 12, seed=777) == pytest.approx(_expected(idx, "cifar10-valid", "x-valid", 12, 777))
    assert bench.query(arch, "cifar10-valid", "train_time", 12) == pytest.approx(12 * fx.EPOCH_TIME)
    assert bench.query(arch, "cifar10", "train_time", 200) == pytest.approx(200 * fx.EPOCH_TIME)
    assert bench.query(arch, "cifar10", "latency") == pytest.approx(fx.LATENCY)
    assert bench.query(arch, "cifar10", "params") == pytest.approx(0.1 + idx * 1e-4)
    assert bench.query(arch, "cifar10", "flops") == pytest.approx(20.0 + idx * 1e-3)
    assert bench.seeds(arch, "cifar100", 200) == list(fx.SEEDS)
    with pytest.raises(BenchToolkitError, match="no metric 'valid_acc' for 'cifar10'"):
        bench.query(arch, "cifar10", "valid_acc")
    frame = bench.frame()
    assert len(frame) == len(INDEXES)
    assert sorted(frame["official_index"]) == INDEXES
    assert (frame.set_index("official_index").loc[INDEXES, "arch"] == [archs[i] for i in INDEXES]).all()
    missing = archs[1]
    with pytest.raises(BenchToolkitError, match="no result for"):
        bench.query(missing, "cifar10")


def _official_api_answers(api, idx: int) -> dict:
    """What the official API itself says (its own averaging over seeds)."""
    info = api.get_more_info(idx, "cifar100", iepoch=None, hp="200", is_random=False)
    costs = api.get_cost_info(idx, "cifar100", hp="200")
    return {"train_acc": info["train-accuracy"], "valid_acc": info["valid-accuracy"], "test_acc": info["test-accuracy"],
            "valid_loss": info["valid-loss"], "params": costs["params"], "flops": costs["flops"], "latency": costs["latency"]}


def test_nb201_pth_matches_hand_values_and_the_official_api(nb201_pth):
    import torch
    from nas_201_api import NASBench201API

    bench = load_benchmark(f"nb201:{nb201_pth}")
    archs = fx.official_order()
    assert bench.epochs == (12, 200)
    assert bench.epochs_for("cifar10-valid") == (12, 200) and bench.epochs_for("cifar10") == (200,)
    _check_against_hand_values(bench, archs)
    api = NASBench201API(torch.load(nb201_pth, weights_only=False), verbose=False)  # our own test file: trusted
    for metric, value in _official_api_answers(api, 5).items():
        assert bench.query(archs[5], "cifar100", metric, 200) == pytest.approx(value), metric


def test_nats_fast_mode_directory_matches_the_official_api(nats_dir):
    import nats_bench

    bench = load_benchmark(f"nats-tss:{nats_dir}")
    archs = fx.official_order()
    _check_against_hand_values(bench, archs)
    api = nats_bench.create(str(nats_dir), "tss", fast_mode=True, verbose=False)
    for metric, value in _official_api_answers(api, 15624).items():
        assert bench.query(archs[15624], "cifar100", metric, 200) == pytest.approx(value), metric


def test_nats_single_file_form(nats_file):
    bench = load_benchmark(f"nats-tss:{nats_file}")
    _check_against_hand_values(bench, fx.official_order())


def test_corrupt_or_wrong_files_are_one_clear_error(tmp_path):
    garbage = tmp_path / "NAS-Bench-201-v1_0-broken.pth"
    garbage.write_bytes(b"\x00not a torch file")
    with pytest.raises(BenchToolkitError, match="cannot read .* as a NAS-Bench-201 .pth file"):
        load_benchmark(f"nb201:{garbage}")
    with pytest.raises(BenchToolkitError, match="not a NATS-Bench tss fast-mode directory.*meta.pickle.pbz2"):
        load_benchmark(f"nats-tss:{tmp_path}")
    with pytest.raises(BenchToolkitError, match="cannot read .* as NATS-Bench tss"):
        load_benchmark(f"nats-tss:{garbage}")


def test_a_pth_with_other_pickled_objects_is_refused_not_executed(tmp_path):
    import fractions

    import torch

    path = tmp_path / "suspicious.pth"
    torch.save({"meta_archs": [], "arch2infos": {}, "evaluated_indexes": set(), "x": fractions.Fraction(1, 3)}, path)
    with pytest.raises(BenchToolkitError, match="outside the safe-load allowlist.*fractions.Fraction.*BENCH_TOOLKIT_TRUST_PICKLE=1"):
        load_benchmark(f"nb201:{path}")


def test_trusting_a_file_loads_it_with_full_pickle(tmp_path, monkeypatch):
    import fractions

    import torch

    path = tmp_path / "trusted.pth"
    torch.save({"meta_archs": [], "arch2infos": {}, "evaluated_indexes": set(), "x": fractions.Fraction(1, 3)}, path)
    monkeypatch.setenv("BENCH_TOOLKIT_TRUST_PICKLE", "1")
    with pytest.raises(BenchToolkitError, match="holds no architecture results"):  # read, then found empty
        load_benchmark(f"nb201:{path}")


def test_a_torch_file_of_another_kind_is_named_as_such(tmp_path):
    import torch

    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(BenchToolkitError, match="not a NAS-Bench-201 benchmark: it lacks"):
        load_benchmark(f"nb201:{path}")


def test_a_valid_file_with_no_results_says_so(tmp_path):
    import torch

    path = tmp_path / "empty.pth"
    torch.save({"meta_archs": fx.official_order(), "arch2infos": {}, "evaluated_indexes": set()}, path)
    with pytest.raises(BenchToolkitError, match="holds no architecture results"):
        load_benchmark(f"nb201:{path}")
