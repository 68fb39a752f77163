"""Loading run directories and the anytime curves behind the anytime plot."""

from __future__ import annotations

import pandas as pd
import pytest

from bench_toolkit.analysis import anytime_curves, anytime_plot, load_runs
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import write_json, write_table


def _write_run(directory, algo, rows):
    write_json(directory / "config.json", {"algo": algo, "benchmark": "synthetic"})
    write_table(directory / "history.parquet", pd.DataFrame(rows))
    return directory


def _rows(seed, times, accs):
    return [{"seed": seed, "step": k + 1, "sim_time": t, "best_test_acc": a} for k, (t, a) in enumerate(zip(times, accs))]


def test_load_runs_concatenates_and_labels(tmp_path):
    a = _write_run(tmp_path / "rea", "rea", _rows(0, [1, 2], [80, 90]))
    b = _write_run(tmp_path / "rs", "random", _rows(0, [1, 2, 3], [70, 70, 85]))
    frame = load_runs([a, b])
    assert len(frame) == 5
    assert frame.groupby("run")["algo"].first().to_dict() == {"rea": "rea", "rs": "random"}
    with pytest.raises(BenchToolkitError, match="not a run directory"):
        load_runs([tmp_path])


def test_anytime_curve_reads_each_seed_as_a_step_function(tmp_path):
    run = _write_run(tmp_path / "r", "rea", _rows(0, [10, 30], [80, 90]) + _rows(1, [20, 40], [70, 95]))
    curves = anytime_curves(load_runs([run]), x="time", points=4)  # grid 10, 20, 30, 40
    by_seed = {seed: dict(zip(g["time"], g["best_test_acc"])) for seed, g in curves.groupby("seed")}
    assert by_seed[0] == {10: 80, 20: 80, 30: 90}  # 40 is past seed 0's last query: dropped
    assert by_seed[1] == {20: 70, 30: 70, 40: 95}  # 10 is before seed 1's first query: dropped
    steps = anytime_curves(load_runs([run]), x="queries")
    assert steps[steps.seed == 1]["best_test_acc"].tolist() == [70, 95]


def test_anytime_plot_writes_an_image(tmp_path):
    run = _write_run(tmp_path / "r", "rea", _rows(0, [1, 2, 3], [80, 85, 90]) + _rows(1, [1, 2, 3], [82, 83, 91]))
    out = anytime_plot(load_runs([run]), tmp_path / "fig" / "anytime.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(BenchToolkitError, match="unknown anytime x-axis"):
        anytime_curves(load_runs([run]), x="epochs")


def test_epoch_plot_scales_runs_of_different_lengths_to_one_axis(tmp_path, monkeypatch):
    from bench_toolkit.analysis import plots

    history = pd.concat([pd.DataFrame({"run": run, "seed": seed, "epoch": range(1, epochs + 1),
                                       "entropy": [1.0 - e / epochs for e in range(1, epochs + 1)]})
                         for run, epochs in (("short", 50), ("long", 310)) for seed in (0, 1)], ignore_index=True)
    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, out: drawn.setdefault("fig", fig) and out)
    plots.epoch_plot(history, "entropy", tmp_path / "f.png", scale_epochs=True)
    lines = drawn["fig"].axes[0].get_lines()
    assert len(lines) == 6  # per run two seeds and the mean
    starts = sorted({round(float(line.get_xdata()[0]), 6) for line in lines})
    assert starts == [round(1 / 310, 6), round(1 / 50, 6)] and {float(line.get_xdata()[-1]) for line in lines} == {1.0}
    assert drawn["fig"].axes[0].get_xlabel() == "search progress (epoch / last epoch)"
    with pytest.raises(BenchToolkitError, match="shift or scale_epochs"):
        plots.epoch_plot(history, "entropy", tmp_path / "g.png", shift={"long": 10}, scale_epochs=True)


def test_epoch_plot_gives_each_run_its_magnitude_panel_on_one_y_axis(tmp_path, monkeypatch):
    from bench_toolkit.analysis import plots

    history = pd.DataFrame([{"run": run, "seed": 0, "epoch": e, "magnitude.skip_connect": 0.2 + shift * e,
                             "magnitude.nor_conv_3x3": 0.2 - shift * e} for run, shift in (("IL", 0.01), ("MTL", 0.001))
                            for e in (1, 2, 3)])
    drawn = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, out: drawn.setdefault("fig", fig) and out)
    plots.epoch_plot(history, "magnitude", tmp_path / "m.png", "IL Tables 2-3, PC-DARTS group")
    axes = drawn["fig"].axes
    assert [ax.get_title() for ax in axes] == ["IL Tables 2-3, PC-DARTS group: IL", "IL Tables 2-3, PC-DARTS group: MTL"]
    assert axes[0].get_ylim() == axes[1].get_ylim()


def test_epoch_curves_read_a_multilevel_epoch_once():
    """A multi-level history has one row per (round, learner) of an epoch, all of the one shared
    architecture: the curve takes each epoch once (not once per learner)."""
    from bench_toolkit.analysis.plots import epoch_curves

    rows = [{"run": "IL", "seed": 0, "epoch": epoch, "round": m, "learner": k, "cifar10.test_acc": acc}
            for epoch, acc in ((1, 80.0), (2, 90.0)) for m in (1, 2) for k in (0, 1)]
    curves, label, series = epoch_curves(pd.DataFrame(rows), "accuracy")
    assert curves[["epoch", "value"]].values.tolist() == [[1, 80.0], [2, 90.0]]
    assert label == "cifar10.test_acc of the derived cell (%)" and series is None
