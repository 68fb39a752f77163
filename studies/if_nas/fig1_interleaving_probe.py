"""IF-NAS, fig1: see experiments.fig1. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import fig1

if __name__ == "__main__":
    fig1(parser(fig1.__doc__.splitlines()[0], "if_nas", has_benchmark=False).parse_args())
