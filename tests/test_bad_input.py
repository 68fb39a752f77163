"""The bad-input battery: each case goes through the CLI and must end with exit status 2, exactly
one line on stderr naming the problem, no traceback, and nothing written."""

from __future__ import annotations

import pytest

from bench_toolkit.cli import main as cli_main


def main(argv: list[str]) -> int:
    """The CLI's exit status, whether it returns it or argparse exits with it."""
    try:
        return cli_main(argv)
    except SystemExit as exit_:
        return int(exit_.code)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
DARTS = ["search", "--algo", "darts-v1", "--scale", "smoke"]
IFNAS = ["search", "--algo", "if-nas", "--scale", "smoke"]
REA = ["search", "--algo", "rea", "--budget", "10"]

# (arguments, without --out; a fragment of the one line expected on stderr)
CASES = [
    # settings: type and range, before a run directory exists
    (DARTS + ["--set", "augment=False"], "augment must be true or false"),
    (DARTS + ["--set", "w_lr=abc"], "w_lr must be a number"),
    (DARTS + ["--set", "a_lr=-1"], "a_lr must not be negative"),
    (DARTS + ["--set", "resolution=0"], "resolution must be a positive integer"),
    (DARTS + ["--set", "images_per_class=0"], "images_per_class must be a positive integer"),
    (DARTS + ["--set", "epochs=0"], "epochs must be a positive integer"),
    (["search", "--algo", "asap", "--scale", "smoke", "--set", "asap_policy=foo"], "asap_policy must be one of fixed, theorem"),
    (DARTS + ["--set", "population_size=3"], "unknown search setting(s) population_size"),
    (DARTS + ["--set", "nonsense=1"], "unknown search setting(s) nonsense"),
    (DARTS + ["--set", "ops=none,skip_connect"], "ops must be a list of op names"),
    (DARTS + ["--set", 'ops=["none", "conv_9x9"]'], "ops must be a non-empty subset of the nb201 ops"),
    (DARTS + ["--set", "partial_channels=3"], "partial_channels=3 must divide channels=4"),
    (DARTS + ["--set", 'warmup_schedule="sideways"'], "warmup_schedule must be one of span, restart"),
    (DARTS + ["--set", 'precision="fp8"'], "precision must be one of fp32, bf16"),
    (DARTS + ["--set", "novalue"], "--set: expects KEY=VALUE (e.g. --set a_lr=0.001), got 'novalue'"),
    (DARTS + ["--preset", "nope"], "unknown preset 'nope'"),
    (DARTS + ["--preset", "gdas"], "preset 'gdas' configures gdas, not darts-v1"),
    # devices
    (DARTS + ["--device", "cuda"], "--device cuda: this torch has no CUDA"),
    (DARTS + ["--device", "foo"], "unknown device 'foo'"),
    # algorithms, spaces and what they refuse
    (["search", "--algo", "nope"], "unknown search algorithm 'nope'"),
    (DARTS + ["--space", "nowhere"], "unknown differentiable search space 'nowhere'"),
    (DARTS + ["--space", "darts", "--benchmark", "analog"], "no tabular benchmark answers for the darts space"),
    (DARTS + ["--space", "lchain"], "the lchain space is searched by if-nas"),
    (IFNAS + ["--space", "nb201"], "if-nas searches the lchain space only"),
    (IFNAS + ["--set", 'if_sampling="x"'], "if_sampling must be one of interleaving-free, reference, none"),
    (IFNAS + ["--set", "stage_nodes=[1]"], "stage_nodes must be a list of node counts of at least 2"),
    (IFNAS + ["--set", "L=0"], "setting L must be a positive integer"),
    (IFNAS + ["--set", 'stem="x"'], "stem must be one of cifar, imagenet"),
    (["search", "--algo", "rsps", "--scale", "smoke", "--set", "edge_normalisation=true"], "rsps has no architecture step"),
    (["search", "--algo", "rsps", "--scale", "smoke", "--set", "hessian_every=1"], "rsps has no architecture parameters"),
    (["search", "--algo", "enas", "--scale", "smoke", "--space", "darts", "--set", 'ops=["skip_connect", "sep_conv_3x3"]'],
     "keep none in ops"),
    # flags that do not apply are refused, not ignored
    (DARTS + ["--budget", "10"], "--budget is for black-box searches only"),
    (REA + ["--epochs", "5"], "--epochs is for differentiable searches only"),
    (REA + ["--data", "digits"], "--data is for differentiable searches only"),
    (REA + ["--scale", "paper"], "--scale is for differentiable searches only"),
    (REA + ["--workers", "2"], "--workers, --threads and --executor are for differentiable searches"),
    (["search", "--algo", "rea"], "a search needs a budget"),
    (["search", "--algo", "rea", "--budget", "0"], "budget must be positive"),
    (DARTS + ["--seeds", "0"], "--seeds must be at least 1"),
    # data and benchmark sources
    (DARTS + ["--data", "imagefolder:/nonexistent/train.zip"], "data path '/nonexistent/train.zip' does not exist"),
    (DARTS + ["--data", "foo:bar"], "unknown data spec 'foo:bar'"),
    (DARTS + ["--benchmark", "bogus"], "unknown benchmark spec 'bogus'"),
    (DARTS + ["--benchmark", "table:/nonexistent.csv"], "benchmark source '/nonexistent.csv' does not exist"),
    (DARTS + ["--benchmark", "table:"], "names no path"),
    # the other commands
    (["query", "--arch", "|bad|"], "malformed NB201 architecture '|bad|'"),
    (["query", "--arch", BEST, "--dataset", "bogus"], "has no dataset 'bogus'"),
    (["query", "--arch", BEST, "--metric", "acc"], "'acc' is not a metric name"),
    (["genotype", "NOPE"], "unknown genotype 'NOPE'"),
    (["space", "nowhere"], "unknown space 'nowhere'"),
    (["space", "lchain", "--L", "4", "--stages", "18,x"], "space lchain:"),
    (["train", "Genotype(normal=[)", "--scale", "smoke"], "genotype text is not valid Python syntax"),
    (["train", "DARTS_V2", "--recipe", "resnet"], "unknown training recipe 'resnet'"),
    (["train", "LChain(L=0, stages=[])"], "an L-chain architecture needs L >= 1"),
    (["train", "|nor_conv_3x3~0|+|bad|", "--scale", "smoke"], "malformed NB201 architecture"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(a[1:]) if a[0] == "search" else " ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([*argv, "--out", str(out)] if argv[0] in ("search", "train", "table") else argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and message in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists() and not any(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["search", "--resume", "{tmp}/nothing"], "holds no config.json"),
    (["train", "--resume", "{tmp}/nothing"], "resume a directory that `bench-toolkit train` wrote"),
    (["search", "--algo", "darts-v1", "--scale", "smoke", "--out", "{tmp}/afile"], "is a file, not a directory"),
    (["table", "--out", "{tmp}/table.xyz"], "unknown suffix '.xyz'"),
    (["plot", "{tmp}/nothing", "--out", "{tmp}/p.png"], "is not a run directory"),
    (["stop", "{tmp}/nothing", "--criterion", "sc_2"], "is not a differentiable-search run directory"),
])
def test_bad_paths_are_one_line_and_write_nothing(argv, message, tmp_path, capsys):
    (tmp_path / "afile").write_text("not a run")
    code = main([a.format(tmp=tmp_path) for a in argv])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_an_error_starts_on_a_line_of_its_own_after_a_progress_bar(monkeypatch, capsys):
    import sys

    from tqdm import tqdm

    from bench_toolkit import cli
    from bench_toolkit.errors import BenchToolkitError

    def fails_mid_bar(args):
        bar = tqdm(total=10, file=sys.stderr, desc="working")
        bar.update(3)
        raise BenchToolkitError("something broke")

    monkeypatch.setattr(cli, "cmd_genotype", fails_mid_bar)
    assert main(["genotype", "DARTS_V2"]) == 2
    err = capsys.readouterr().err
    before = err[:err.index("bench-toolkit: error: something broke")]
    assert before.endswith("\n")  # the bar was closed (and its line ended) before the message
