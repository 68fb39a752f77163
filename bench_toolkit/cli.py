"""``bench-toolkit``: thin command line over the library. Parses, calls, prints.

Bad input ends in one line on stderr naming the problem and the fix, exit status 2.
Heavy libraries (torch, matplotlib) are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from bench_toolkit.errors import BenchToolkitError

DEFAULT_BENCHMARK = "analog"
BENCHMARK_HELP = "benchmark SPEC: analog (embedded default), nb201:PATH, nats-tss:PATH or table:PATH"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise BenchToolkitError(f"--set expects key=value, got '{text}'")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def cmd_query(args: argparse.Namespace) -> None:
    from bench_toolkit.benchmarks import load_benchmark

    bench = load_benchmark(args.benchmark)
    print(f"{bench.query(args.arch, args.dataset, args.metric, args.epochs, args.seed):.4f}")


def cmd_table(args: argparse.Namespace) -> None:
    from bench_toolkit.benchmarks import load_benchmark
    from bench_toolkit.fileio import table_suffix, write_table

    table_suffix(args.out)  # refuse a bad output name before a possibly long conversion
    frame = load_benchmark(args.benchmark).frame(args.epochs, args.seed)
    path = write_table(args.out, frame)
    print(f"wrote {len(frame)} cells x {frame.shape[1] - 1} columns to {path}")


def cmd_search(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from bench_toolkit.benchmarks import load_benchmark
    from bench_toolkit.search import BlackBoxRun, Budget, Protocol, run_blackbox, summarise
    from bench_toolkit.search.blackbox import get_algorithm
    from bench_toolkit.spaces import get_space

    get_space(args.space)
    get_algorithm(args.algo)
    if args.seeds < 1:
        raise BenchToolkitError(f"--seeds must be at least 1, got {args.seeds}")
    bench = load_benchmark(args.benchmark)
    protocol = Protocol.resolve(bench, args.dataset, args.metric, args.epochs, args.report_dataset, args.report_epochs)
    run = BlackBoxRun(
        algo=args.algo, protocol=protocol, budget=Budget(args.budget, args.time_budget),
        seeds=tuple(range(args.seeds)), space=args.space, params=dict(args.set),
    )
    history = run_blackbox(run, bench, args.out, progress=lambda seeds: tqdm(seeds, desc=args.algo, unit="seed"))
    summary = summarise(history)
    print(
        f"{args.algo} on {bench.name}: {protocol.report_dataset} test_acc of the chosen cell "
        f"{summary['test_acc_mean']:.2f} ± {summary['test_acc_std']:.2f} over {args.seeds} seed(s) "
        f"(selected by {protocol.dataset} {protocol.metric}, mean {len(history) / args.seeds:.0f} queries); "
        f"run directory {args.out}"
    )


def cmd_plot(args: argparse.Namespace) -> None:
    from bench_toolkit.analysis import anytime_plot, load_runs

    path = anytime_plot(load_runs(args.runs), args.out, x=args.x)
    print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench-toolkit", description="Tabular NAS benchmarks and search.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def benchmark_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--benchmark", default=DEFAULT_BENCHMARK, help=BENCHMARK_HELP)
        p.add_argument("--epochs", type=int, help="training epochs of the result (default: 200 where recorded)")
        p.add_argument("--seed", type=int, help="one training seed instead of the mean over seeds")

    q = commands.add_parser("query", help="print one metric of one architecture")
    benchmark_args(q)
    q.add_argument("--arch", required=True, help="canonical NB201 string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")
    q.add_argument("--dataset", help="cifar10-valid, cifar10, cifar100 or ImageNet16-120 (default: cifar10)")
    q.add_argument("--metric", default="test_acc", help="e.g. test_acc, valid_acc, train_loss, params, train_time")
    q.set_defaults(func=cmd_query)

    t = commands.add_parser("table", help="write the whole space as one row per cell (.csv or .parquet)")
    benchmark_args(t)
    t.add_argument("--out", required=True, help="output file, .csv or .parquet")
    t.set_defaults(func=cmd_table)

    s = commands.add_parser("search", help="run a search over seeds and write a run directory")
    s.add_argument("--space", default="nb201", help="search space (nb201)")
    s.add_argument("--algo", required=True, help="random, rea or reinforce")
    s.add_argument("--benchmark", default=DEFAULT_BENCHMARK, help=BENCHMARK_HELP)
    s.add_argument("--budget", type=int, help="number of queries per seed")
    s.add_argument("--time-budget", type=float, help="simulated training seconds per seed (needs train_time)")
    s.add_argument("--seeds", type=int, default=1, help="number of seeds, run as 0..K-1")
    s.add_argument("--out", required=True, help="run directory to write")
    s.add_argument("--dataset", help="selection dataset (default: cifar10-valid where recorded)")
    s.add_argument("--metric", help="selection metric (default: valid_acc where recorded, else test_acc)")
    s.add_argument("--epochs", type=int, help="epochs of the selection metric (default: 12 where recorded)")
    s.add_argument("--report-dataset", help="dataset whose test_acc is reported (default: cifar10)")
    s.add_argument("--report-epochs", type=int, help="epochs of the reported test_acc (default: 200 where recorded)")
    s.add_argument("--set", action="append", default=[], type=_parse_setting, metavar="KEY=VALUE",
                   help="algorithm parameter, e.g. population_size=20 (repeatable)")
    s.set_defaults(func=cmd_search)

    p = commands.add_parser("plot", help="draw a figure from run directories")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--kind", default="anytime", choices=["anytime"], help="figure type")
    p.add_argument("--x", default="queries", choices=["queries", "time"], help="anytime x-axis")
    p.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    p.set_defaults(func=cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.func(args)
    except BenchToolkitError as err:
        print(f"bench-toolkit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench-toolkit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
