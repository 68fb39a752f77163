"""The study machinery: proxy scaling keeps algorithms and shrinks sizes; reuse refuses a changed run."""

from __future__ import annotations

import json
from argparse import Namespace

import pytest

from bench_toolkit import study as common


def test_proxy_scaling_changes_sizes_and_epochs_only():
    paper = {"epochs": 150, "warmup_epochs": 100, "a_lr": 0.025}
    assert common.scaled(paper, "paper") == paper
    proxy = common.scaled(paper, "proxy")
    assert (proxy["epochs"], proxy["warmup_epochs"], proxy["a_lr"]) == (30, 20, 0.025)
    assert proxy["channels"] == 8 and proxy["resolution"] == 16
    assert common.scaled({"epochs": 2}, "proxy")["epochs"] == 1  # never below one epoch
    # a per-epoch decay covers the same range over the shorter run: 0.95^50 == beta_proxy^10
    asap = common.scaled({"epochs": 50, "asap_beta": 0.95}, "proxy")
    assert asap["asap_beta"] ** asap["epochs"] == pytest.approx(0.95**50)


def test_a_run_directory_with_other_settings_is_not_silently_reused(tmp_path):
    args = _args(tmp_path, seeds=2)
    run_dir = tmp_path / "proxy" / "ex-darts"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": {"epochs": 3}, "seeds": [0, 1]}))
    with pytest.raises(SystemExit, match="holds a run with other settings"):
        common.complete(args, {"EX-DARTS": common.preset_run("ex-darts")})


def test_default_schedule_settings_are_scaled_too(tmp_path, monkeypatch):
    """A method's schedule settings left at their defaults (prune_start 20, prune_end 50, ASAP's
    beta) must shrink with the run, or a 10-epoch proxy run would never prune."""
    seen = {}
    monkeypatch.setattr(common, "execute", lambda runs, executor: seen.update(config=runs[0].jobs[0].config))
    args = _args(tmp_path, seeds=1)
    common.complete(args, {"p3": common.method_run("prune-accumgrad", {"prune_power": 3}, "p3")})
    config = seen["config"]
    assert (config.epochs, config.prune_start, config.prune_end, config.prune_power) == (10, 4, 10, 3)
    common.complete(args, {"ASAP": common.method_run("asap", {}, "asap")})
    assert seen["config"].warmup_epochs == 1 and seen["config"].asap_beta == pytest.approx(0.95**5)


def _args(tmp_path, seeds: int, **executor) -> Namespace:
    """Study arguments as the study parser gives them (executor options at their defaults)."""
    parsed = common.parser("test", "test").parse_args([])
    return Namespace(**{**vars(parsed), "seeds": seeds, "data": "digits", "runs_dir": str(tmp_path),
                        "out_dir": str(tmp_path / "figs"), **executor})
