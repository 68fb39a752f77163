"""Degradation paper, exp2: see experiments.exp2. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp2

if __name__ == "__main__":
    exp2(parser(exp2.__doc__.splitlines()[0], "darts_degradation").parse_args())
