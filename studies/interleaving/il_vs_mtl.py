"""Interleaving learning, il_vs_mtl: see experiments.il_vs_mtl. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, il_vs_mtl

if __name__ == "__main__":
    il_vs_mtl(add_task_argument(parser(il_vs_mtl.__doc__.splitlines()[0], "interleaving")).parse_args())
