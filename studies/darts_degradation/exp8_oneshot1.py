"""Degradation paper, exp8: see experiments.exp8. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp8

if __name__ == "__main__":
    exp8(parser(exp8.__doc__.splitlines()[0], "darts_degradation").parse_args())
