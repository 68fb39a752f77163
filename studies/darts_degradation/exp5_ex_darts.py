"""Degradation paper, exp5: see experiments.exp5. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp5

if __name__ == "__main__":
    exp5(parser(exp5.__doc__.splitlines()[0], "darts_degradation").parse_args())
