"""Interleaving multi-task NAS, task_order: see experiments.task_order. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, task_order

if __name__ == "__main__":
    task_order(add_task_argument(parser(task_order.__doc__.splitlines()[0], "interleaving")).parse_args())
