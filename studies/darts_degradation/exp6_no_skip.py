"""Degradation paper, exp6: see experiments.exp6. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp6

if __name__ == "__main__":
    exp6(parser(exp6.__doc__.splitlines()[0], "darts_degradation").parse_args())
