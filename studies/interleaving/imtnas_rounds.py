"""Interleaving multi-task NAS, imtnas_rounds: see experiments.imtnas_rounds. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, imtnas_rounds

if __name__ == "__main__":
    imtnas_rounds(add_task_argument(parser(imtnas_rounds.__doc__.splitlines()[0], "interleaving")).parse_args())
