"""Interleaving multi-task NAS, transfer_ablation: see experiments.transfer_ablation. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, transfer_ablation

if __name__ == "__main__":
    transfer_ablation(add_task_argument(parser(transfer_ablation.__doc__.splitlines()[0], "interleaving")).parse_args())
