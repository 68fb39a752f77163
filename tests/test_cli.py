"""The CLI contract: spellings, outputs, one-line errors, lazy torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from bench_toolkit.benchmarks import load_benchmark
from bench_toolkit.cli import main
from bench_toolkit.errors import BenchToolkitError

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_query_prints_the_value(capsys):
    assert main(["query", "--arch", ARCH]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(load_benchmark("analog").query(ARCH), abs=5e-5)


def test_query_on_the_real_table(capsys, nb201_csv):
    assert main(["query", "--benchmark", f"table:{nb201_csv}", "--arch", ARCH, "--dataset", "cifar100"]) == 0
    row = pd.read_csv(nb201_csv).set_index("ArchitectureString").loc[ARCH]
    assert float(capsys.readouterr().out) == pytest.approx(row["CIFAR100TestAccuracy200Epochs"], abs=5e-5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "--arch", "|nor_conv_3x3~0|+|x|"], "malformed NB201 architecture"),
        (["query", "--arch", ARCH.replace("avg_pool_3x3", "max_pool_3x3")], "unknown NB201 op 'max_pool_3x3'"),
        (["query", "--arch", ARCH, "--dataset", "cifar100"], "has no dataset 'cifar100'"),
        (["query", "--arch", ARCH, "--metric", "flops"], "has no metric 'flops'"),
        (["query", "--arch", ARCH, "--benchmark", "nb201:/does/not/exist.pth"], "does not exist"),
        (["query", "--arch", ARCH, "--benchmark", "nasbench101"], "unknown benchmark spec"),
        (["search", "--algo", "darts-v9", "--budget", "3", "--out", "x"], "unknown search algorithm 'darts-v9'"),
        (["search", "--algo", "gdas", "--set", "bogus=1", "--out", "x"], "unknown search setting(s) bogus"),
        (["search", "--resume", "/no/such/run"], "not a run directory to resume"),
        (["search", "--algo", "darts-v1", "--data", "cifar10:/no/such/dir", "--out", "x"], "does not exist"),
        (["plot", "/no/such/run", "--kind", "magnitude", "--out", "f.png"], "not a run directory"),
        (["search", "--algo", "rea", "--out", "x"], "needs a budget"),
        (["table", "--out", "whole.xlsx"], "use .csv or .parquet"),
        (["plot", "/no/such/run", "--out", "f.png"], "not a run directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_usage_mistakes_are_one_line_too(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["query"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "one of the arguments --arch --spec is required" in err and err.count("\n") == 1


def test_search_writes_a_run_directory_and_prints_mean_std(tmp_path, capsys):
    out = tmp_path / "rea"
    assert main(["search", "--space", "nb201", "--algo", "rea", "--budget", "30", "--seeds", "3",
                 "--set", "population_size=8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    assert f"{result['test_acc_mean']:.2f} ± {result['test_acc_std']:.2f} over 3 seed(s)" in printed
    assert json.loads((out / "config.json").read_text())["params"] == {"population_size": 8}
    assert len(pd.read_parquet(out / "history.parquet")) == 90
    assert main(["plot", str(out), "--out", str(tmp_path / "anytime.png")]) == 0
    assert (tmp_path / "anytime.png").stat().st_size > 0


def test_table_writes_the_whole_space(tmp_path, capsys):
    assert main(["table", "--out", str(tmp_path / "space.parquet")]) == 0
    frame = pd.read_parquet(tmp_path / "space.parquet")
    assert len(frame) == 15625 and list(frame.columns) == ["arch", "cifar10.test_acc"]


def test_process_level_contract_and_lazy_torch():
    """As a user runs it: stderr one line, non-zero status, and no torch import for a query."""
    code = (
        "import sys; from bench_toolkit.cli import main; rc = main(sys.argv[1:]); "
        "print('torch' in sys.modules); sys.exit(rc)"
    )
    ok = subprocess.run([sys.executable, "-c", code, "query", "--arch", ARCH], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.split()[-1] == "False"
    bad = subprocess.run([sys.executable, "-m", "bench_toolkit.cli", "query", "--arch", "oops"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_differentiable_search_plots_and_resume(tmp_path, capsys):
    out = tmp_path / "darts"
    argv = ["search", "--space", "nb201", "--algo", "darts-v1", "--data", "digits", "--benchmark", "analog",
            "--epochs", "2", "--seeds", "2", "--scale", "mini", "--set", "images_per_class=16", "--out", str(out)]
    assert main(argv) == 0
    final = json.loads((out / "final.json").read_text())
    stats = final["cifar10.test_acc"]
    assert f"cifar10.test_acc {stats['mean']:.2f} ± {stats['std']:.2f}" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["scale"] == "mini" and config["config"]["channels"] == 8 and config["config"]["images_per_class"] == 16
    for kind in ("magnitude", "entropy", "accuracy"):
        assert main(["plot", str(out), "--kind", kind, "--out", str(tmp_path / f"{kind}.png")]) == 0
        assert (tmp_path / f"{kind}.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["search", "--resume", str(out)]) == 0  # a finished run resumes to the same result
    assert json.loads((out / "final.json").read_text()) == final
    assert main(["plot", str(out), "--kind", "anytime", "--out", str(tmp_path / "x.png")]) == 2


def test_a_bad_data_spec_writes_nothing(tmp_path, capsys):
    """Data and benchmark are read before the run directory is made: fixing the typo and rerunning works."""
    out = tmp_path / "run"
    assert main(["search", "--algo", "darts-v1", "--data", f"cifar10:{tmp_path / 'nope'}", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("algo", ["gaea-bilevel", "gaea-erm", "drnas", "pc-darts", "rsps", "setn", "enas"])
def test_every_weight_sharing_baseline_runs_from_the_cli(tmp_path, capsys, algo):
    out = tmp_path / algo
    argv = ["search", "--algo", algo, "--data", "digits", "--benchmark", "analog", "--scale", "smoke", "--epochs", "1",
            "--set", "images_per_class=8", "--set", "channels=4", "--set", "select_candidates=2",
            "--set", "controller_train_steps=1", "--set", "controller_num_aggregate=2", "--out", str(out)]
    assert main(argv) == 0
    history = pd.read_parquet(out / "history.parquet")
    assert len(history) == 1 and history["arch"].str.count("~").iloc[0] == 6  # one derived cell, six edges
    assert "final cells over 1 seed(s)" in capsys.readouterr().out


@pytest.mark.parametrize("setting, message", [
    ("augment=False", "setting augment must be true or false, got 'False' (--set takes JSON: augment=false)"),
    ("w_lr=abc", "setting w_lr must be a number, got 'abc'"),
    ("a_lr=-1", "setting a_lr must not be negative, got -1"),
    ("resolution=0", "setting resolution must be a positive integer, got 0"),
    ("images_per_class=0", "setting images_per_class must be a positive integer, got 0"),
    ("warmup_epochs=-2", "setting warmup_epochs must be a whole number of at least 0, got -2"),
    ("asap_policy=foo", "asap_policy must be one of fixed, theorem, got 'foo'"),
    ("ops=none,skip_connect", "setting ops must be a list of op names, got 'none,skip_connect'"),
])
def test_bad_search_settings_are_one_line_before_anything_is_written(setting, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", "--algo", "darts-v1", "--scale", "smoke", "--set", setting, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("command", [["search", "--algo", "darts-v1", "--scale", "smoke"],
                                     ["search", "--algo", "pdarts", "--scale", "smoke"],
                                     ["train", "DARTS_V2", "--scale", "smoke"]])
@pytest.mark.parametrize("device, message", [("foo", "unknown device 'foo'; use cpu, cuda or cuda:N"),
                                             ("cuda", "--device cuda: this torch has no CUDA or sees no GPU")])
def test_an_unusable_device_is_one_line_before_anything_is_written(command, device, message, tmp_path, capsys):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    out = tmp_path / "run"
    assert main([*command, "--device", device, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--algo", "rea", "--budget", "10", "--epochs", "5"], "--epochs is for differentiable searches only"),
    (["--algo", "rea", "--budget", "10", "--data", "cifar10:x", "--scale", "mini"],
     "--data, --scale are for differentiable searches only"),
    (["--algo", "darts-v1", "--scale", "smoke", "--budget", "10"], "--budget is for black-box searches only"),
])
def test_a_flag_the_search_would_ignore_is_refused(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", *argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_resume_refuses_new_settings(tmp_path, capsys):
    assert main(["search", "--resume", str(tmp_path), "--epochs", "3", "--set", "a_lr=0.1"]) == 2
    assert "--set, --epochs are not taken with --resume" in capsys.readouterr().err


def test_a_black_box_search_never_overwrites_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["search", "--algo", "random", "--budget", "5", "--out", str(out)]
    assert main(argv) == 0
    before = (out / "history.parquet").read_bytes()
    assert main(argv) == 2
    assert "already holds a run; choose a new --out" in capsys.readouterr().err
    assert (out / "history.parquet").read_bytes() == before


def test_library_calls_with_the_wrong_kind_of_argument_say_so(tmp_path):
    from bench_toolkit.analysis import load_runs
    from bench_toolkit.benchmarks import load_benchmark

    with pytest.raises(BenchToolkitError, match="a benchmark spec is a string, got None"):
        load_benchmark(None)
    with pytest.raises(BenchToolkitError, match=r"got 123 \(int\); an index n is nb201.from_index\(n\)"):
        load_benchmark("analog").query(123)
    out = tmp_path / "run"
    assert main(["search", "--algo", "random", "--budget", "5", "--out", str(out)]) == 0
    assert len(load_runs(str(out))) == len(load_runs([out]))  # one directory alone, as a string


def test_file_problems_are_one_line(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for argv in (["search", "--algo", "darts-v1", "--scale", "smoke", "--epochs", "1", "--out", str(a_file)],
                 ["search", "--algo", "rea", "--budget", "5", "--out", str(a_file)],
                 ["train", "DARTS_V2", "--scale", "smoke", "--out", str(a_file)]):
        assert main(argv) == 2
        assert "is a file, not a directory" in capsys.readouterr().err
    run = tmp_path / "run"
    assert main(["search", "--algo", "darts-v1", "--scale", "smoke", "--epochs", "1", "--out", str(run),
                 "--threads", "1"]) == 0
    capsys.readouterr()
    (run / "config.json").write_text("{")
    for argv in (["search", "--resume", str(run)], ["plot", str(run), "--kind", "magnitude", "--out", str(tmp_path / "x.png")],
                 ["stop", str(run), "--criterion", "sc_2"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "config.json' is damaged" in err and err.count("\n") == 1
    table = tmp_path / "bad.csv"
    table.write_text(f"arch,cifar10.test_acc\n{ARCH},93.1\n{ARCH.replace('avg_pool_3x3~1', 'none~1')},abc\n")
    assert main(["query", "--benchmark", f"table:{table}", "--arch", ARCH]) == 2
    assert "column 'cifar10.test_acc', data row 2: 'abc' is not a number" in capsys.readouterr().err
    monkeypatch.setenv("BENCH_TOOLKIT_CACHE", str(a_file))
    assert main(["query", "--arch", ARCH]) == 2
    assert "the benchmark cache" in capsys.readouterr().err


def test_plot_labels_runs_of_the_same_name_apart_and_refuses_mixed_kinds(tmp_path, capsys):
    from bench_toolkit.analysis import load_runs

    for parent in ("a", "b"):
        assert main(["search", "--algo", "random", "--budget", "5", "--out", str(tmp_path / parent / "run")]) == 0
    runs = load_runs([tmp_path / "a" / "run", tmp_path / "b" / "run"])
    assert sorted(runs["run"].unique()) == ["a/run", "b/run"]
    assert main(["plot", str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run"), "--out", str(tmp_path / "x.png")]) == 0
    diff = tmp_path / "diff"
    assert main(["search", "--algo", "darts-v1", "--scale", "smoke", "--epochs", "1", "--threads", "1", "--out", str(diff)]) == 0
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "a" / "run"), str(diff), "--out", str(tmp_path / "y.png")]) == 2
    assert "--kind anytime plots black-box runs; diff is not" in capsys.readouterr().err
    assert not (tmp_path / "y.png").exists()


def test_searches_report_each_epoch_and_an_interrupt_says_how_to_resume(tmp_path, capsys, monkeypatch):
    from bench_toolkit.search.differentiable import jobs

    out = tmp_path / "run"
    argv = ["search", "--algo", "darts-v1", "--scale", "smoke", "--epochs", "2", "--threads", "1", "--out", str(out)]
    report = jobs._report

    def interrupted_after_one_epoch(job, search, row):
        report(job, search, row)
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "_report", interrupted_after_one_epoch)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "run seed 0 epoch 1/2: train loss" in err  # a line per epoch, even when stderr is no terminal
    assert f"interrupted; continue it with: bench-toolkit search --resume {out}" in err
    monkeypatch.setattr(jobs, "_report", report)
    assert main(["search", "--resume", str(out)]) == 0
    assert "run seed 0 epoch 2/2" in capsys.readouterr().err


def test_search_help_names_every_algorithm_and_space():
    """The --algo and --space helps are written by hand (building the parser must not import
    torch): they must name every registered search (black-box, differentiable, multi-level) and
    every supernet space."""
    from bench_toolkit.cli import build_parser
    from bench_toolkit.search.blackbox import ALGORITHMS
    from bench_toolkit.search.differentiable import METHODS
    from bench_toolkit.search.differentiable.spaces import SUPERNET_SPACES
    from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS

    search = build_parser()._subparsers._group_actions[0].choices["search"]

    def named(option: str) -> set[str]:
        text = next(a.help for a in search._actions if option in a.option_strings)
        return {word.strip(" ,;:()") for word in text.split()}

    assert set(ALGORITHMS) | set(METHODS) | set(MULTILEVEL_METHODS) <= named("--algo")
    assert set(SUPERNET_SPACES) <= named("--space")
