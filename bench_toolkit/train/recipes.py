"""Final-training recipes: the papers' settings for each kind of network, and the scales.

- ``darts-cifar`` (DARTS Sec. 3.3 / A.2, the reference ``train.py``): NetworkCIFAR, 20 cells at
  C = 36, 600 epochs, batch 96, SGD lr 0.025 cosine to 0, momentum 0.9, weight decay 3e-4,
  gradient clipping 5, auxiliary head (weight 0.4), drop-path 0.2 ramped linearly over the
  epochs, cutout 16.
- ``darts-imagenet`` (DARTS Sec. 3.4, ``train_imagenet.py``): NetworkImageNet, 14 cells at C = 48,
  250 epochs, batch 128, SGD lr 0.1 decayed by 0.97 every epoch, weight decay 3e-5, label
  smoothing 0.1, auxiliary 0.4, clipping 5. For N GPUs the linear scaling rule applies: batch
  ``128 N`` at lr ``0.1 N`` (``--set batch_size=... --set lr=...``).
- ``nb201`` (NB201 App. B): TinyNetwork, N = 5 cells per stage at C = 16, 200 epochs, batch 256,
  SGD lr 0.1 cosine to 0, Nesterov momentum 0.9, weight decay 5e-4, no clipping.
- ``lchain-imagenet`` (IF-NAS Sec. 4.1, following PC-DARTS): an L-chain network with the ImageNet
  stem at C = 64 (the reference ``model.py``), 250 epochs, batch 1024, SGD lr 0.5 cosine to 0,
  momentum 0.9, weight decay 3e-5, label smoothing 0.1. Not done here: the auxiliary loss and the 5
  warm-up epochs of the learning rate (the network has no auxiliary head).
- ``lchain-cifar``: an L-chain network with the CIFAR stem at C = 36, DARTS's CIFAR settings
  (600 epochs, batch 96, lr 0.025 cosine, weight decay 3e-4, clipping 5, cutout 16; no
  drop-path or auxiliary head). The paper trains on ImageNet only; this is the CIFAR variant.
  ``layers`` does not apply to either: the architecture gives the depth.

The learning rate follows its schedule per epoch. A scale changes sizes only (images per class,
resolution, width, depth, batch), never epochs or schedules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bench_toolkit.errors import BenchToolkitError


@dataclass(frozen=True)
class Recipe:
    network: str  # "cifar", "imagenet" (DARTS genotypes), "nb201" (NB201 cells), "lchain-cifar", "lchain-imagenet"
    epochs: int
    batch_size: int
    lr: float
    schedule: str  # "cosine" (to 0 over the epochs) or "exponential" (times lr_decay every epoch)
    weight_decay: float
    momentum: float = 0.9
    nesterov: bool = False
    lr_decay: float = 0.97
    grad_clip: float = 0.0  # 0: none
    auxiliary_weight: float = 0.0  # 0: no auxiliary head
    drop_path: float = 0.0
    cutout: int = 0
    label_smoothing: float = 0.0
    channels: int = 36
    layers: int = 20  # DARTS networks: cells; NB201: cells per stage
    images_per_class: int | None = None
    resolution: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, settings: dict[str, Any]) -> "Recipe":
        known = {f.name for f in fields(self)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise BenchToolkitError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("epochs", "batch_size", "channels", "layers"):
            if key in settings and (not isinstance(settings[key], int) or settings[key] < 1):
                raise BenchToolkitError(f"training setting {key} must be a positive integer, got {settings[key]!r}")
        if settings.get("schedule", self.schedule) not in ("cosine", "exponential"):
            raise BenchToolkitError(f"schedule must be cosine or exponential, got {settings['schedule']!r}")
        return replace(self, **settings)


RECIPES: dict[str, Recipe] = {
    "darts-cifar": Recipe("cifar", 600, 96, 0.025, "cosine", 3e-4, grad_clip=5.0, auxiliary_weight=0.4,
                          drop_path=0.2, cutout=16, channels=36, layers=20),
    "darts-imagenet": Recipe("imagenet", 250, 128, 0.1, "exponential", 3e-5, grad_clip=5.0, auxiliary_weight=0.4,
                             label_smoothing=0.1, channels=48, layers=14),
    "nb201": Recipe("nb201", 200, 256, 0.1, "cosine", 5e-4, nesterov=True, channels=16, layers=5),
    "lchain-imagenet": Recipe("lchain-imagenet", 250, 1024, 0.5, "cosine", 3e-5, label_smoothing=0.1, channels=64),
    "lchain-cifar": Recipe("lchain-cifar", 600, 96, 0.025, "cosine", 3e-4, grad_clip=5.0, cutout=16, channels=36),
}

TRAIN_SCALES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {"cifar": {"images_per_class": 16, "resolution": 16, "channels": 4, "layers": 5, "batch_size": 16},
              "imagenet": {"images_per_class": 4, "resolution": 64, "channels": 8, "layers": 5, "batch_size": 8},
              "nb201": {"images_per_class": 16, "resolution": 16, "channels": 4, "layers": 1, "batch_size": 16},
              "lchain-cifar": {"images_per_class": 16, "resolution": 16, "channels": 4, "batch_size": 16},
              "lchain-imagenet": {"images_per_class": 4, "resolution": 64, "channels": 8, "batch_size": 8}},
    "mini": {"cifar": {"images_per_class": 1000, "resolution": 16, "channels": 16, "layers": 8, "batch_size": 64},
             "imagenet": {"images_per_class": 100, "resolution": 112, "channels": 24, "layers": 8, "batch_size": 64},
             "nb201": {"images_per_class": 1000, "resolution": 16, "channels": 8, "layers": 1, "batch_size": 64},
             "lchain-cifar": {"images_per_class": 1000, "resolution": 16, "channels": 16, "batch_size": 64},
             "lchain-imagenet": {"images_per_class": 100, "resolution": 112, "channels": 24, "batch_size": 64}},
    "paper": {"cifar": {}, "imagenet": {}, "nb201": {}, "lchain-cifar": {}, "lchain-imagenet": {}},
}
"""Sizes per scale and network: ``smoke`` for tests (seconds), ``mini`` for CPU studies (the
search studies' data sizes), ``paper`` the recipe itself."""


def recipe_for(name: str, scale: str, settings: dict[str, Any]) -> Recipe:
    """The named recipe, then the scale's sizes, then the user's settings."""
    if name not in RECIPES:
        raise BenchToolkitError(f"unknown training recipe '{name}'; choose one of: {', '.join(RECIPES)}")
    if scale not in TRAIN_SCALES:
        raise BenchToolkitError(f"unknown scale '{scale}'; choose one of: {', '.join(TRAIN_SCALES)}")
    recipe = RECIPES[name]
    return recipe.updated({**TRAIN_SCALES[scale][recipe.network], **settings})
