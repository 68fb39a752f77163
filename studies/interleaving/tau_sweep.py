"""Interleaving multi-task NAS, tau_sweep: see experiments.tau_sweep. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import add_task_argument, tau_sweep

if __name__ == "__main__":
    tau_sweep(add_task_argument(parser(tau_sweep.__doc__.splitlines()[0], "interleaving")).parse_args())
