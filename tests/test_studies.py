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
    args = Namespace(scale="proxy", seeds=2, data="digits", benchmark="analog", device="cpu",
                     runs_dir=str(tmp_path), out_dir=str(tmp_path / "figs"))
    run_dir = tmp_path / "proxy" / "ex-darts"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": {"epochs": 3}, "seeds": [0, 1]}))
    with pytest.raises(SystemExit, match="holds a run with other settings"):
        common.run_preset("ex-darts", args)
