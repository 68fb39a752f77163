"""Interleaving learning, rounds_sweep: see experiments.rounds_sweep. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, rounds_sweep

if __name__ == "__main__":
    rounds_sweep(add_task_argument(parser(rounds_sweep.__doc__.splitlines()[0], "interleaving")).parse_args())
