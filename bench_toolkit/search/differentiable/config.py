"""Every setting of a differentiable search; defaults are the NB201 reference settings (NB201
paper App. B / its DARTS and GDAS configs); a scale (:data:`SCALES`) changes only sizes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable.spaces import get_supernet_space
from bench_toolkit.spaces import lchain, nb201


PRECISIONS = ("fp32", "bf16")
WARMUP_SCHEDULES = ("span", "restart")
RETIRED_SETTINGS = frozenset({"hessian_iterations"})
"""Settings of earlier versions that no longer exist; ignored when an old config.json is read
(power iteration gave way to the exact Hessian)."""


ASAP_POLICIES = ("fixed", "theorem")
TRANSFERS = ("l2", "mmd", "embedding-l2", "similarity", "none")  # the coupling of consecutive stages (multilevel/transfer.py)
MULTILEVEL_GRADIENTS = ("exact", "finite-difference")
STAGE_WEIGHTS = ("copies", "hypernetwork")  # each stage's encoder weights: its own, or generated (IMTNAS)
MTL_SHARINGS = ("none", "hard", "soft")  # mtl-darts: separate encoders, one encoder, or L2-coupled ones
HEAD_STEPS = ("own", "unrolled")  # the final-round heads' step: at the stage's own weights (IL Eq. 8) or unrolled (IMTNAS Eq. 20)
IF_SAMPLINGS = ("interleaving-free", "reference", "none", "probe")  # IF-NAS's sampling (interleaving_free.py)


def _checked(key: str, value: Any) -> Any:
    """``value`` as the type of setting ``key`` (an int where a float is asked becomes a float;
    JSON lists become tuples), or one line naming the setting, its type and how ``--set`` writes it."""
    kind = _FIELD_TYPES[key]
    if kind == "bool":
        if not isinstance(value, bool):
            raise BenchToolkitError(f"setting {key} must be true or false, got {value!r} (--set takes JSON: {key}=false)")
        return value
    if kind in ("int", "int | None"):
        if value is None and kind == "int | None":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BenchToolkitError(f"setting {key} must be a whole number of at least 0, got {value!r}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BenchToolkitError(f"setting {key} must be a number, got {value!r}")
        if value < 0:  # every rate, decay, temperature, threshold and standard deviation
            raise BenchToolkitError(f"setting {key} must not be negative, got {value!r}")
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise BenchToolkitError(f"setting {key} must be a string, got {value!r}")
        return value
    if key == "ops":
        if not isinstance(value, (list, tuple)) or not all(isinstance(op, str) for op in value):
            raise BenchToolkitError(f"setting ops must be a list of op names, got {value!r} "
                                    '(--set takes JSON: ops=\'["none", "nor_conv_3x3"]\')')
        return tuple(value)
    if key == "stage_nodes":
        if not isinstance(value, (list, tuple)) or not value or not all(type(n) is int and n >= 2 for n in value):
            raise BenchToolkitError(f"setting stage_nodes must be a list of node counts of at least 2, one per stage, "
                                    f"got {value!r} (--set takes JSON: stage_nodes='[18, 20, 18]')")
        return tuple(value)
    if key in ("if_probe_node", "if_probe_sources", "if_probe_extra", "task_order"):
        if not isinstance(value, (list, tuple)) or not all(type(n) is int and n >= 0 for n in value):
            raise BenchToolkitError(f"setting {key} must be a list of node numbers, got {value!r} "
                                    f"(--set takes JSON: {key}='[1, 7]')")
        return tuple(value)
    if key == "edge_ops":
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or not all(isinstance(row, (list, tuple)) for row in value):
            raise BenchToolkitError(f"setting edge_ops must be a list of op lists (one per edge), got {value!r}")
        return tuple(tuple(row) for row in value)
    return value


@dataclass(frozen=True)
class SearchConfig:
    epochs: int = 50
    batch_size: int = 64
    # weights w: SGD, cosine per iteration from lr to lr_min
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_nesterov: bool = True
    w_weight_decay: float = 5e-4
    grad_clip: float = 5.0
    # architecture alpha: Adam
    a_lr: float = 3e-4
    a_beta1: float = 0.5
    a_beta2: float = 0.999
    a_weight_decay: float = 1e-3
    alpha_init_std: float = 1e-3  # alpha = std * N(0, 1) at the start (DARTS/NB201; ASAP: 0)
    alpha_first: bool = False  # default order: weight step, then alpha step
    # single level (ERM, GAEA-ERM): both steps draw from all search images (two independent
    # orders of the union of the halves); the "valid" columns then measure training images
    single_level: bool = False
    warmup_epochs: int = 0  # epochs at the start in which alpha is frozen and only weights train
    # weight lr around a warm-up: "span" -- one cosine over all epochs; "restart" -- w_lr constant
    # during the warm-up, then the cosine over the remaining epochs (degradation paper Exp. 1/3)
    warmup_schedule: str = "span"
    unrolled_fd_radius: float = 0.01  # DARTS-V2 finite-difference radius (DARTS Sec. 2.3)
    # supernet
    space: str = "nb201"  # the differentiable search space (spaces.py): nb201 or darts
    ops: tuple[str, ...] = nb201.OPS
    channels: int = 16
    cells_per_stage: int = 5
    affine: bool = False
    track_running_stats: bool = True
    edge_ops: tuple[tuple[str, ...], ...] | None = None  # P-DARTS: per alpha row the ops still searched (None: all)
    skip_dropout: float = 0.0  # P-DARTS: the stage's dropout rate on skip_connect
    partial_channels: int = 1  # PC-DARTS K: each edge mixes C/K channels, the rest bypass (1: all)
    edge_normalisation: bool = False  # PC-DARTS: a beta per edge, softmax over the edges into a node
    # implementation (the same algorithm either way; see nn/fused.py and benchmarks/README.md)
    fast: bool = True  # NB201: work shared between edges, channels-last; L-chain: channels-last; False: the plain reference path
    precision: str = "fp32"  # or "bf16": the weight and alpha steps' forward and backward under bf16 autocast
    # GDAS temperature (linear over the run's epochs)
    tau_max: float = 10.0
    tau_min: float = 0.1
    # RSPS / SETN: cells scored with the shared weights, one search-valid batch each (NB201 reference:
    # select_num 100; SETN's test_batch_size 512)
    select_candidates: int = 100
    select_batch_size: int = 512
    # ENAS controller (NB201 reference ENAS.sh / ENAS.config)
    controller_lr: float = 1e-3
    controller_train_steps: int = 50
    controller_num_aggregate: int = 20
    controller_entropy_weight: float = 1e-4
    controller_baseline_decay: float = 0.95
    # ASAP (anneal and prune): T = t0 * beta^epoch, prune below threshold / N after warmup_epochs grace cycles
    asap_t0: float = 1.3
    asap_beta: float = 0.95
    asap_threshold: float = 0.4
    asap_policy: str = "fixed"  # or "theorem" (Theorem 2, Eq. 5-8)
    asap_bound: float = 1.0  # Theorem 2's gradient bound L
    asap_delta: float = 0.1
    asap_nu: float = 0.1
    # pruning baselines (ASAP Sec. 4.4): Zhu & Gupta schedule from prune_start to prune_end, power p
    prune_power: int = 1
    prune_start: int = 20
    prune_end: int = 50
    # data size (None: all images, native resolution)
    images_per_class: int | None = None
    resolution: int | None = None
    augment: bool = True
    # derivation and recording
    derive_exclude_none: bool = False
    record_every_steps: int = 0  # also record alpha diagnostics every k iterations (0: per epoch only)
    hessian_every: int = 0  # largest Hessian eigenvalue of L_val w.r.t. alpha every k epochs (0: never)
    # IF-NAS's L-chain space (spaces/lchain.py, nn/lchain_network.py) and its search (interleaving_free.py)
    L: int = 4  # each node may read its L predecessors
    stage_nodes: tuple[int, ...] = (18, 20, 18)  # nodes per stage, the input node included (paper: 18, 20, 18)
    stem: str = "cifar"  # or "imagenet": stride-2 stem to 32 channels, 1/8 before the first stage
    if_sampling: str = "interleaving-free"  # or "reference" (the reference code's variant) or "none" (w/o IF)
    if_step_iterations: int = 100  # iterations per step of the interleaving-free loop (paper: 100)
    if_alpha_delay: int = 10  # alpha trains this many epochs after beta (paper: 10)
    if_mu1: float = 1 / 40  # Eq. 3 weight of the connection term at full ramp (reference: 1/40)
    if_mu2: float = 1 / 30  # Eq. 3 weight of the op term at full ramp (reference: 1/30)
    if_mu_start: int = 35  # epoch the mu ramp starts
    if_mu_ramp: int = 60  # epochs until mu reaches full weight (reference: 60)
    if_threshold: float = 0.01  # prune below this sigmoid weight (paper 0.01; reference 0.1)
    if_madds_bound: float = 0.0  # stop pruning (and searching) at this many million multiply-adds (0: no bound)
    if_gradual_prune: bool = True  # False: prune only after the last epoch, to the bound (DARTS in the space)
    if_interleaved: int = 0  # interleaved connections added to each sub-supernet (IF-NAS Table 5: 1-3)
    # if_sampling="probe" (IF-NAS Fig. 1/8): the chain plus one node's candidate inputs, whose beta alone trains
    if_probe_node: tuple[int, ...] = (1, 7)  # (stage, node), stages counted from 1
    if_probe_sources: tuple[int, ...] = (6, 4, 1)  # the node's candidate inputs (Fig. 1: pre-1, pre-3, pre-6)
    if_probe_extra: tuple[int, ...] = ()  # added connections, flat source, target pairs (Fig. 1d: 1, 4, 2, 6, 3, 7)
    oneshot_space: int = 1  # NAS-Bench-1Shot1: search space 1, 2 or 3 (--space nb101-1shot1)
    # interleaving learning / IMTNAS (search/multilevel/): K tasks x M rounds sharing alpha
    rounds: int = 2  # M (IL and IMTNAS: 2)
    task_order: tuple[int, ...] = ()  # the learners' order within a round (empty: as the tasks are given)
    transfer: str = "l2"  # "l2" (IL), "mmd" (IMTNAS), "embedding-l2" or "similarity" (IMTNAS Table 6), "none" (MTL)
    il_lambda: float = 100.0  # IL's L2 coupling weight lambda (IL Sec. 4.3)
    mmd_tau: float = 5.0  # IMTNAS's MMD threshold tau
    mmd_gamma: float = 0.1  # RBF kernel exp(-gamma ||a - b||^2)
    mmd_augmentations: int = 20  # C augmentations per example
    mmd_examples: int = 10  # examples of each of the two tasks per step
    similarity_threshold: float = 0.5  # transfer=similarity: cosine similarity above which two images count as similar
    multilevel_gradient: str = "exact"  # or "finite-difference" (the papers' approximation)
    stage_weights: str = "copies"  # or "hypernetwork" (IMTNAS Sec. 3.3: generated from A, task, round, chunk)
    mtl_sharing: str = "none"  # mtl-darts: "hard" (one encoder) or "soft" (L2-coupled, il_lambda) weight sharing
    head_step: str = "own"  # the final-round heads' one step: at the stage's own weights (IL Eq. 8) or "unrolled" (IMTNAS Eq. 20)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, settings: dict[str, Any]) -> "SearchConfig":
        """A copy with ``settings`` applied; an unknown key lists the known ones."""
        settings = {k: v for k, v in settings.items() if k not in RETIRED_SETTINGS}
        known = {f.name for f in fields(self)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise BenchToolkitError(f"unknown search setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        settings = {key: _checked(key, value) for key, value in settings.items()}
        for key in ("epochs", "batch_size", "channels", "cells_per_stage", "select_candidates", "select_batch_size",
                    "partial_channels", "controller_train_steps", "controller_num_aggregate", "images_per_class",
                    "resolution"):
            if settings.get(key) is not None and settings[key] < 1:
                raise BenchToolkitError(f"setting {key} must be a positive integer, got {settings[key]!r}")
        for key, choices in CHOICES.items():
            if key in settings and settings[key] not in choices:
                raise BenchToolkitError(f"{key} must be one of {', '.join(choices)}, got {settings[key]!r}")
        if "mmd_augmentations" in settings and settings["mmd_augmentations"] < 2:
            raise BenchToolkitError(f"mmd_augmentations must be at least 2 (Eq. 3 pairs distinct augmentations), "
                                    f"got {settings['mmd_augmentations']}")
        if "oneshot_space" in settings and settings["oneshot_space"] not in (1, 2, 3):
            raise BenchToolkitError(f"oneshot_space must be 1, 2 or 3 (NAS-Bench-1Shot1's search spaces), "
                                    f"got {settings['oneshot_space']!r}")
        for key in ("L", "if_step_iterations", "rounds", "mmd_examples"):
            if key in settings and settings[key] < 1:
                raise BenchToolkitError(f"setting {key} must be a positive integer, got {settings[key]!r}")
        space = get_supernet_space(settings.get("space", self.space))
        if "ops" in settings and (not settings["ops"] or set(settings["ops"]) - set(space.ops)):
            raise BenchToolkitError(f"ops must be a non-empty subset of the {space.name} ops "
                                    f"{', '.join(space.ops)}, got {settings['ops']}")
        config = replace(self, **settings)
        if config.edge_ops is not None and (len(config.edge_ops) != len(space.edge_names) or
                                            any(not row or set(row) - set(config.ops) for row in config.edge_ops)):
            raise BenchToolkitError(f"edge_ops must give each of the {len(space.edge_names)} {space.name} edges a "
                                    "non-empty subset of ops")
        if set(config.ops) - set(space.ops):
            raise BenchToolkitError(f"the ops {', '.join(config.ops)} are not all {space.name} ops; set ops as well "
                                    f"(its ops: {', '.join(space.ops)}), or start from config_for(...)")
        if config.if_sampling == "probe":
            (stage, node), extra = config.if_probe_node, config.if_probe_extra
            if len(config.if_probe_node) != 2 or len(extra) % 2 or not config.if_probe_sources:
                raise BenchToolkitError("the probe needs if_probe_node=[stage, node], if_probe_sources (its candidate "
                                        "inputs) and if_probe_extra as flat source, target pairs")
            lchain.check_connections(config.stage_nodes, config.L, [(stage, source, node) for source in config.if_probe_sources]
                                     + [(stage, a, b) for a, b in zip(extra[::2], extra[1::2])])
        if config.channels % config.partial_channels:
            raise BenchToolkitError(f"partial_channels={config.partial_channels} must divide channels={config.channels}; "
                                    "choose a divisor (PC-DARTS: 4)")
        return config


_FIELD_TYPES = {f.name: str(f.type) for f in fields(SearchConfig)}

CHOICES: dict[str, tuple[str, ...]] = {
    "asap_policy": ASAP_POLICIES, "warmup_schedule": WARMUP_SCHEDULES, "precision": PRECISIONS,
    "if_sampling": IF_SAMPLINGS, "stem": lchain.STEMS, "transfer": TRANSFERS,
    "multilevel_gradient": MULTILEVEL_GRADIENTS, "mtl_sharing": MTL_SHARINGS, "stage_weights": STAGE_WEIGHTS,
    "head_step": HEAD_STEPS,
}
"""The settings that name one of a few options, and those options."""  # annotations as written (postponed)


SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"images_per_class": 24, "resolution": 8, "channels": 4, "cells_per_stage": 1, "batch_size": 16},
    "mini": {"images_per_class": 1000, "resolution": 16, "channels": 8, "cells_per_stage": 1, "batch_size": 64},
    "paper": {},
}
"""What ``--scale`` may change: sizes only (images per class, resolution, width, depth, batch).
Epoch counts, schedules, decays and stop-criterion windows are the paper's at every scale.

- ``smoke``: seconds per epoch, for tests and demos; nothing the papers study happens.
- ``mini``: the CPU study scale (5,000/5,000 CIFAR-10 halves at 16x16, C=8, one cell per stage,
  batch 64: 78 iterations an epoch). Measured on the 2-core CI machine kind: DARTS-V1 collapses
  to the all-skip cell (54.30 on CIFAR-10) within the paper's 50 epochs, in a few minutes a seed.
- ``paper``: the NB201 settings (C=16, N=5, 32x32, 25,000/25,000 images) -- GPU hours.
"""


def config_for(scale: str, method_defaults: dict[str, Any], settings: dict[str, Any]) -> SearchConfig:
    """Paper defaults (NB201's, then the space's own reference settings), then the method's own
    defaults, then the scale's sizes (and the space's own sizes at that scale), then user settings."""
    if scale not in SCALES:
        raise BenchToolkitError(f"unknown scale '{scale}'; choose one of: {', '.join(SCALES)}")
    space = get_supernet_space(settings.get("space", method_defaults.get("space", SearchConfig.space)))
    return SearchConfig().updated({**space.defaults, "space": space.name, **method_defaults, **SCALES[scale],
                                   **space.scale_sizes.get(scale, {}), **settings})


