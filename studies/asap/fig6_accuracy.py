"""ASAP study, fig6: see experiments.fig6. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import fig6

if __name__ == "__main__":
    fig6(parser(fig6.__doc__.splitlines()[0], "asap").parse_args())
