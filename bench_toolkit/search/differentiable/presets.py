"""The degradation paper's experiments as named configurations of the engine (Sec. 2, Exp.1-7).

The NB201 default learning-rate scheme (the paper's S.1) is: weights w by SGD (momentum 0.9,
Nesterov, weight decay 5e-4) at lr 0.025, cosine-annealed per iteration to 0.001; alpha by Adam
(betas 0.5/0.999, weight decay 1e-3) at a constant lr 3e-4.

Warm-up (Exp.1, Exp.3): alpha is frozen for W epochs, then "both weights and parameters are
jointly trained enough for another 50 epochs according to the default settings" (Sec. 2.2). The
presets read this as ``warmup_schedule='restart'``: the weight lr stays at its initial 0.025
through the warm-up, and the default cosine (0.025 -> 0.001) then spans the 50 joint epochs, so
the joint phase is a default run. ``--set warmup_schedule=span`` gives the other reading, one
cosine over all W + 50 epochs, under which the weight lr is already about 0.007 when alpha is
released after W = 100.

EX-DARTS (Exp.5) exchanges the learning-rate *values*: w gets 0.0003, alpha gets 0.025. Each
parameter group keeps its optimiser and the shape of its schedule: w stays SGD with cosine
annealing, to ``0.04 x`` its start (the default's 0.001/0.025 ratio, so the schedule still
decays); alpha stays Adam at a constant rate. The same rule sets the weight schedule wherever a
preset changes the weight learning rate (Exp.7, SS-DARTS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb201

COSINE_FLOOR = 0.001 / 0.025


def weight_lr(lr: float) -> dict[str, float]:
    """Weight lr ``lr``, cosine-annealed to ``COSINE_FLOOR * lr``."""
    return {"w_lr": lr, "w_lr_min": lr * COSINE_FLOOR}


@dataclass(frozen=True)
class Preset:
    method: str
    settings: dict[str, Any] = field(default_factory=dict)
    paper: str = ""


PRESETS: dict[str, Preset] = {
    "darts-v1": Preset("darts-v1", {}, "baseline, NB201 defaults (Fig. 2a)"),
    "ex-darts": Preset("darts-v1", {**weight_lr(0.0003), "a_lr": 0.025}, "Exp.5: exchanged learning rates"),
    **{f"warmup-{w}": Preset("darts-v1", {"warmup_epochs": w, "epochs": w + 50, "warmup_schedule": "restart"},
                             f"Exp.1: {w} warm-up epochs + 50")
       for w in (10, 20, 30)},
    **{f"alpha-wd-{wd}": Preset("darts-v1", {"a_weight_decay": wd}, f"Exp.2: alpha weight decay {wd}") for wd in (0.005, 0.01)},
    "warmup-100": Preset("darts-v1", {"warmup_epochs": 100, "epochs": 150, "warmup_schedule": "restart"},
                         "Exp.3: 100 warm-up epochs + 50"),
    **{f"alpha-lr-{lr}": Preset("darts-v1", {"a_lr": lr}, f"Exp.4: alpha lr {lr}") for lr in (0.001, 0.002, 0.003)},
    "no-skip": Preset("darts-v1", {"ops": tuple(op for op in nb201.OPS if op != "skip_connect")},
                      "Exp.6: search space without skip_connect"),
    "long-500": Preset("darts-v1", {**weight_lr(0.0003), "a_lr": 0.001, "epochs": 500}, "Exp.7: 500 epochs, alpha lr 0.001"),
    "gdas": Preset("gdas", {}, "GDAS baseline, NB201 defaults (Table 1)"),
    "ss-darts": Preset("darts-v1", {**weight_lr(0.003), "a_lr": 0.001}, "SS-DARTS (Sec. 3): alpha lr 0.001, weight lr 0.003"),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise BenchToolkitError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}") from None
