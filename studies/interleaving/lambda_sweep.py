"""Interleaving learning, lambda_sweep: see experiments.lambda_sweep. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, lambda_sweep

if __name__ == "__main__":
    lambda_sweep(add_task_argument(parser(lambda_sweep.__doc__.splitlines()[0], "interleaving")).parse_args())
