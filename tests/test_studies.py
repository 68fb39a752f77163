"""The study machinery: proxy scaling keeps algorithms and shrinks sizes; reuse refuses a changed run."""

from __future__ import annotations

import importlib.util
import json
import sys
from argparse import Namespace
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[1] / "studies" / "darts_degradation"


@pytest.fixture(scope="module")
def common():
    sys.path.insert(0, str(STUDY))
    spec = importlib.util.spec_from_file_location("common", STUDY / "common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(STUDY))


def test_proxy_scaling_changes_sizes_and_epochs_only(common):
    paper = {"epochs": 150, "warmup_epochs": 100, "a_lr": 0.025}
    assert common.scaled(paper, "paper") == paper
    proxy = common.scaled(paper, "proxy")
    assert (proxy["epochs"], proxy["warmup_epochs"], proxy["a_lr"]) == (30, 20, 0.025)
    assert proxy["channels"] == 8 and proxy["resolution"] == 16
    assert common.scaled({"epochs": 2}, "proxy")["epochs"] == 1  # never below one epoch


def test_a_run_directory_with_other_settings_is_not_silently_reused(common, tmp_path):
    args = Namespace(scale="proxy", seeds=2, data="digits", benchmark="analog", device="cpu",
                     runs_dir=str(tmp_path), out_dir=str(tmp_path / "figs"))
    run_dir = tmp_path / "proxy" / "ex-darts"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": {"epochs": 3}, "seeds": [0, 1]}))
    with pytest.raises(SystemExit, match="holds a run with other settings"):
        common.run_preset("ex-darts", args)
