"""Interleaving multi-task NAS, augmentations_sweep: see experiments.augmentations_sweep. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, augmentations_sweep

if __name__ == "__main__":
    augmentations_sweep(add_task_argument(parser(augmentations_sweep.__doc__.splitlines()[0], "interleaving")).parse_args())
