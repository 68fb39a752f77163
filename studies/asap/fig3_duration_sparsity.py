"""ASAP study, fig3: see experiments.fig3. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import fig3

if __name__ == "__main__":
    fig3(parser(fig3.__doc__.splitlines()[0], "asap").parse_args())
