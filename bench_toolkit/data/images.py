"""An image dataset in memory: uint8 pixels (N, H, W, 3) and integer labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench_toolkit.errors import BenchToolkitError


@dataclass(frozen=True)
class ImageSet:
    """Images as ``uint8`` array ``(N, H, W, 3)``, labels ``int64`` ``(N,)``, class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise BenchToolkitError(f"{self.name}: images must be uint8 (N, H, W, 3), got {self.images.dtype} {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise BenchToolkitError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])

    def subset(self, index: np.ndarray, name: str | None = None) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], self.classes, name or self.name)

    def with_classes(self, keep: Sequence[int], name: str | None = None) -> "ImageSet":
        """Only the images of classes ``keep`` (indices into :attr:`classes`, in that order),
        relabelled 0 .. len(keep) - 1."""
        relabel = np.full(len(self.classes), -1, dtype=np.int64)
        relabel[list(keep)] = np.arange(len(keep))
        index = np.flatnonzero(relabel[self.labels] >= 0)
        return ImageSet(self.images[index], relabel[self.labels[index]], tuple(self.classes[k] for k in keep),
                        name or self.name)

    def per_class(self, count: int, rng: np.random.Generator) -> "ImageSet":
        """At most ``count`` images of each class, drawn without replacement (class order kept)."""
        picks = [
            rng.permutation(np.flatnonzero(self.labels == c))[:count] for c in range(len(self.classes))
        ]
        return self.subset(np.sort(np.concatenate(picks)), f"{self.name}[{count}/class]")


def balanced_halves(data: ImageSet, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Split into two class-balanced halves (the NB201 search protocol: CIFAR-10 train ->
    25,000 search-train + 25,000 search-valid). The split is fixed by ``seed``, not by the run's
    seed, so every search sees the same two halves."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    for c in range(len(data.classes)):
        members = rng.permutation(np.flatnonzero(data.labels == c))
        first.append(members[: len(members) // 2])
        second.append(members[len(members) // 2:])
    return (data.subset(np.sort(np.concatenate(first)), f"{data.name}/search-train"),
            data.subset(np.sort(np.concatenate(second)), f"{data.name}/search-valid"))
