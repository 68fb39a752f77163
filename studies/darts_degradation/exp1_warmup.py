"""Degradation paper, exp1: see experiments.exp1. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp1

if __name__ == "__main__":
    exp1(parser(exp1.__doc__.splitlines()[0], "darts_degradation").parse_args())
