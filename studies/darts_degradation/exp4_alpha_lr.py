"""Degradation paper, exp4: see experiments.exp4. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp4

if __name__ == "__main__":
    exp4(parser(exp4.__doc__.splitlines()[0], "darts_degradation").parse_args())
