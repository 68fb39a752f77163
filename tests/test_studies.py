"""The study machinery: scales change sizes only, as in the CLI; reuse refuses a changed run."""

from __future__ import annotations

import json
from argparse import Namespace

import pytest

from bench_toolkit import study as common
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.presets import get_preset


def test_a_scale_changes_sizes_only_and_studies_use_the_cli_definition(tmp_path, monkeypatch):
    """mini shrinks data, resolution, width and depth; the epochs, warm-up, schedules, decays and
    pruning windows of a preset or method stay the paper's, exactly as `bench-toolkit search`
    builds them; the retired proxy scale is refused with the names of the scales that exist."""
    seen = {}
    monkeypatch.setattr(common, "execute", lambda runs, executor: seen.update(config=runs[0].jobs[0].config))
    args = _args(tmp_path, seeds=1)
    common.complete(args, {"warm-up 100": common.preset_run("warmup-100")})
    assert seen["config"] == config_for("mini", {}, get_preset("warmup-100").settings)
    assert (seen["config"].epochs, seen["config"].warmup_epochs, seen["config"].channels) == (150, 100, 8)
    common.complete(args, {"ASAP": common.method_run("asap", {}, "asap")})
    assert seen["config"] == config_for("mini", get_method("asap").defaults, {})
    assert (seen["config"].asap_beta, seen["config"].prune_start, seen["config"].prune_end) == (0.95, 20, 50)
    paper, mini = config_for("paper", {}, {}), config_for("mini", {}, {})
    changed = {k for k, v in paper.as_dict().items() if mini.as_dict()[k] != v}
    assert changed == {"images_per_class", "resolution", "channels", "cells_per_stage"}
    with pytest.raises(BenchToolkitError, match="unknown scale 'proxy'; choose one of: smoke, mini, paper"):
        config_for("proxy", {}, {})


def test_a_run_directory_with_other_settings_is_not_silently_reused(tmp_path):
    args = _args(tmp_path, seeds=2)
    run_dir = tmp_path / "mini" / "ex-darts"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": {"epochs": 3}, "seeds": [0, 1]}))
    with pytest.raises(SystemExit, match="holds a run with other settings"):
        common.complete(args, {"EX-DARTS": common.preset_run("ex-darts")})


def _args(tmp_path, seeds: int, **executor) -> Namespace:
    """Study arguments as the study parser gives them (executor options at their defaults)."""
    parsed = common.parser("test", "test").parse_args([])
    return Namespace(**{**vars(parsed), "seeds": seeds, "data": "digits", "runs_dir": str(tmp_path),
                        "out_dir": str(tmp_path / "figs"), **executor})
