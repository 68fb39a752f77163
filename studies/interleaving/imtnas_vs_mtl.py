"""Interleaving multi-task NAS, imtnas_vs_mtl: see experiments.imtnas_vs_mtl. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, imtnas_vs_mtl

if __name__ == "__main__":
    imtnas_vs_mtl(add_task_argument(parser(imtnas_vs_mtl.__doc__.splitlines()[0], "interleaving")).parse_args())
