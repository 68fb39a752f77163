"""Degradation paper, exp7: see experiments.exp7. `--scale proxy` (CPU) or `--scale paper` (GPU)."""

from common import parser
from experiments import exp7

if __name__ == "__main__":
    exp7(parser(exp7.__doc__.splitlines()[0]).parse_args())
