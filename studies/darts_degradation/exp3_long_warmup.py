"""Degradation paper, exp3: see experiments.exp3. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import exp3

if __name__ == "__main__":
    exp3(parser(exp3.__doc__.splitlines()[0], "darts_degradation").parse_args())
