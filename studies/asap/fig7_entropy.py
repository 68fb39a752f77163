"""ASAP study, fig7: see experiments.fig7. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import fig7

if __name__ == "__main__":
    fig7(parser(fig7.__doc__.splitlines()[0], "asap").parse_args())
