"""Tensors and batches for search: normalisation, the NB201 augmentation, paired train/valid batches.

Augmentation (NB201, after the DARTS/CIFAR standard): random crop with 4 pixels of zero padding,
random horizontal flip, then per-channel normalisation by the training images' own mean and std.
Every random draw comes from one ``torch.Generator`` whose state a checkpoint saves.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from bench_toolkit.data.images import ImageSet


def to_tensor(data: ImageSet, resolution: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images ``(N, 3, R, R)`` in [0, 1] (area-downsampled to ``resolution`` if smaller) and labels."""
    images = torch.from_numpy(np.ascontiguousarray(data.images)).permute(0, 3, 1, 2).float().div_(255)
    if resolution is not None and resolution < images.shape[-1]:
        images = F.interpolate(images, size=(resolution, resolution), mode="area")
    return images.contiguous(), torch.from_numpy(data.labels)


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std, shaped to broadcast over ``(N, 3, H, W)``."""
    return images.mean(dim=(0, 2, 3)).view(1, 3, 1, 1), images.std(dim=(0, 2, 3)).view(1, 3, 1, 1)


def augment(batch: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random ``padding``-pixel-shift crop (zero padded) and random horizontal flip, per image."""
    n, _, h, w = batch.shape
    padded = F.pad(batch, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(batch)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        crop = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


class PairedBatches:
    """Each epoch: the search-train half in a fresh random order, cut into full batches, each paired
    with a batch of the search-valid half (its own random order, reshuffled when used up), as in
    the NB201 search protocol. Both halves are augmented and normalised by search-train's stats."""

    def __init__(self, train: ImageSet, valid: ImageSet, batch_size: int, resolution: int | None = None,
                 augment_data: bool = True):
        self.train_x, self.train_y = to_tensor(train, resolution)
        self.valid_x, self.valid_y = to_tensor(valid, resolution)
        self.mean, self.std = channel_stats(self.train_x)
        self.batch_size = min(batch_size, len(self.train_y), len(self.valid_y))
        self.augment_data = augment_data
        self.num_classes = len(train.classes)

    def __len__(self) -> int:
        return len(self.train_y) // self.batch_size

    def _prepare(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.augment_data:
            x = augment(x, generator)
        return (x - self.mean) / self.std

    def fixed_valid_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``batch_size`` search-valid images, normalised, not augmented: a probe batch
        for diagnostics that draws nothing from the search's generator."""
        x = self.valid_x[: self.batch_size]
        return (x - self.mean) / self.std, self.valid_y[: self.batch_size]

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]:
        """``((x_train, y_train), (x_valid, y_valid))`` pairs for one epoch."""
        order = torch.randperm(len(self.train_y), generator=generator)
        valid_order = torch.randperm(len(self.valid_y), generator=generator)
        v = 0
        for b in range(len(self)):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            if v + self.batch_size > len(valid_order):
                valid_order, v = torch.randperm(len(self.valid_y), generator=generator), 0
            valid_index = valid_order[v:v + self.batch_size]
            v += self.batch_size
            yield ((self._prepare(self.train_x[index], generator), self.train_y[index]),
                   (self._prepare(self.valid_x[valid_index], generator), self.valid_y[valid_index]))

    def valid_batches(self, generator: torch.Generator, count: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``count`` augmented search-valid batches in a random order, reshuffled when used up (the
        batches ENAS's controller is rewarded on)."""
        order, v = torch.randperm(len(self.valid_y), generator=generator), 0
        for _ in range(count):
            if v + self.batch_size > len(order):
                order, v = torch.randperm(len(self.valid_y), generator=generator), 0
            index = order[v:v + self.batch_size]
            v += self.batch_size
            yield self._prepare(self.valid_x[index], generator), self.valid_y[index]
