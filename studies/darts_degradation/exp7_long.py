"""Degradation paper, exp7: see experiments.exp7. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp7

if __name__ == "__main__":
    exp7(parser(exp7.__doc__.splitlines()[0], "darts_degradation").parse_args())
