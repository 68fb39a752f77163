"""Final training of a derived architecture: a DARTS genotype as NetworkCIFAR / NetworkImageNet, or
an NB201 cell as TinyNetwork, trained by its recipe (:mod:`.recipes`) into a run directory of the
same shape as a search's:

``config.json`` (architecture, recipe, data, seed), ``history.parquet`` (epoch, lr, train loss
and top-1, test loss, top-1 and top-5, seconds), ``checkpoint.pt`` (after every epoch; a killed
run resumes bit-exactly), ``final.json`` (test top-1/top-5, parameters in millions without the
auxiliary head, FLOPs and multiply-adds of one image counted by ``torch.utils.flop_counter``).

Augmentation: random crop with 4 pixels of padding and horizontal flip (:func:`augment`), then
normalisation by the training images' statistics, then cutout (DeVries & Taylor, 2017) where
the recipe has it. Every random draw comes from one generator a checkpoint saves.

Under ``torchrun --nproc_per_node N`` (``WORLD_SIZE`` > 1) the run is data-parallel
(DistributedDataParallel; gloo on CPU, NCCL on GPUs, one GPU per process): the recipe's batch is
the global batch; every process draws the same order and augmentation for it and trains on its
own 1/N slice, gradients are averaged, test images are split between the processes, and only
rank 0 writes the run directory.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from bench_toolkit import __version__
from bench_toolkit.data.batches import augment, channel_stats, to_tensor
from bench_toolkit.data.images import ImageSet, balanced_halves
from bench_toolkit.data.readers import DEFAULT_DATA, absolute_spec, read_data, split_class_selection
from bench_toolkit.devices import checked_device
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.nn.cost import count_flops
from bench_toolkit.fileio import (
    lock_run_directory, output_directory, remove_stray_temporaries, unlock_run_directory, write_atomic, write_json,
    write_table,
)
from bench_toolkit.train.recipes import Recipe

EVAL_BATCH = 512


def parse_arch(arch: str, recipe: Recipe) -> Any:
    """The architecture the recipe's network is built from, checked: an NB201 cell (op tuple), a
    DARTS genotype (published name or text) or an L-chain architecture; a malformed one is one line."""
    if recipe.network == "nb201":
        from bench_toolkit.spaces import nb201

        return nb201.as_arch(arch)
    if recipe.network.startswith("lchain"):
        from bench_toolkit.spaces import lchain

        return lchain.parse_arch(arch)
    from bench_toolkit.spaces.darts import get_genotype

    return get_genotype(arch)


def build_network(arch: str, recipe: Recipe, num_classes: int) -> nn.Module:
    """The network the recipe trains: NB201 cell string -> TinyNetwork; genotype (name or text) ->
    NetworkCIFAR or NetworkImageNet; L-chain architecture -> LChainNetwork (CIFAR or ImageNet stem)."""
    parsed = parse_arch(arch, recipe)
    if recipe.network == "nb201":
        from bench_toolkit.nn.nb201_network import TinyNetwork

        return TinyNetwork(parsed, num_classes, recipe.channels, recipe.layers)
    if recipe.network.startswith("lchain"):
        from bench_toolkit.nn.lchain_network import LChainNetwork

        return LChainNetwork(parsed, recipe.channels, num_classes, recipe.network.removeprefix("lchain-"))
    from bench_toolkit.nn.darts_network import NetworkCIFAR, NetworkImageNet

    network = NetworkCIFAR if recipe.network == "cifar" else NetworkImageNet
    return network(parsed, recipe.channels, num_classes, recipe.layers, auxiliary=recipe.auxiliary_weight > 0)


def cutout(batch: torch.Tensor, size: int, generator: torch.Generator, total: int | None = None,
           keep: slice = slice(None)) -> torch.Tensor:
    """Zero one ``size`` x ``size`` square per image, its centre uniform over the image (clipped at
    the border), as the DARTS reference's ``Cutout``. Under data parallelism ``batch`` is this
    process's ``keep`` slice of a global batch of ``total``: squares are drawn for all of it."""
    n, _, h, w = batch.shape
    total = n if total is None else total
    centres = torch.stack([torch.randint(0, h, (total,), generator=generator),
                           torch.randint(0, w, (total,), generator=generator)], 1)[keep]
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    cy, cx = centres[:, 0].view(n, 1, 1), centres[:, 1].view(n, 1, 1)
    inside = ((rows - cy) * 2 >= -size) & ((rows - cy) * 2 < size) & ((cols - cx) * 2 >= -size) & ((cols - cx) * 2 < size)
    return batch * (~inside).unsqueeze(1).to(batch.dtype)


def top_k_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> int:
    return int((logits.topk(min(k, logits.shape[1]), dim=1).indices == labels.unsqueeze(1)).any(dim=1).sum())


class HeldImages:
    """Images held in memory as one tensor (CIFAR and the other small datasets): the training view
    is the CIFAR augmentation (random crop with 4 pixels of padding, flip), both views are
    normalised by the training images' mean and std."""

    def __init__(self, images: ImageSet, resolution: int | None, stats: "HeldImages | None" = None):
        self.x, self.labels = to_tensor(images, resolution)
        self.classes = images.classes
        self.mean, self.std = (stats.mean, stats.std) if stats is not None else channel_stats(self.x)

    def __len__(self) -> int:
        return len(self.labels)

    def train_batch(self, index: torch.Tensor, generator: torch.Generator, keep: slice = slice(None)) -> torch.Tensor:
        """The whole batch is augmented (every process draws the same), ``keep`` is returned."""
        return ((augment(self.x[index], generator) - self.mean) / self.std)[keep]

    def test_batch(self, index: torch.Tensor) -> torch.Tensor:
        return (self.x[index] - self.mean) / self.std


class FinalTraining:
    """One seeded training run: network, optimiser, schedule, generator, history. ``train`` and
    ``test`` are image sources (:class:`HeldImages`, or :class:`~bench_toolkit.data.streaming.StreamedImages`
    for ImageNet) or image sets, which are held in memory."""

    def __init__(self, arch: str, recipe: Recipe, train: Any, test: Any, seed: int = 0, device: str = "cpu"):
        self.world, self.rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
        if self.world > 1 and device.startswith("cuda"):
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        self.recipe, self.seed, self.device = recipe, seed, torch.device(device)
        if recipe.batch_size % self.world:
            raise BenchToolkitError(f"batch_size {recipe.batch_size} must divide among {self.world} processes; "
                                    "set a multiple (the batch is the global one)")
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        torch.manual_seed(seed)
        if isinstance(train, ImageSet):
            train = HeldImages(train, recipe.resolution)
            test = HeldImages(test, recipe.resolution, stats=train)
            if train.x.shape[1:] != test.x.shape[1:]:
                raise BenchToolkitError(f"training images are {tuple(train.x.shape[2:])} but test images "
                                        f"{tuple(test.x.shape[2:])}; give both splits the same size")
        self.train, self.test = train, test
        self.batch_size = min(recipe.batch_size, len(train))
        self.model = build_network(arch, recipe, len(train.classes)).to(self.device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            self.model.to(memory_format=torch.channels_last)
        self.net = (nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device] if self.cuda else None)
                    if self.world > 1 else self.model)  # what trains; self.model is what is saved and measured
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                         weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
        self.scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=recipe.epochs, eta_min=0.0)
                          if recipe.schedule == "cosine"
                          else torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=recipe.lr_decay))
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []

    def _on_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.cuda else x

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.recipe.label_smoothing)

    def train_epoch(self) -> dict[str, Any]:
        """One epoch over the training images (full batches, a fresh order), then the schedule's step."""
        recipe, start = self.recipe, time.perf_counter()
        self.net.train()
        if hasattr(self.model, "drop_path_prob"):  # DARTS: ramped linearly over the epochs
            self.model.drop_path_prob = recipe.drop_path * self.epoch / recipe.epochs
        lr = self.optimizer.param_groups[0]["lr"]
        order = torch.randperm(len(self.train), generator=self.generator)
        loss_sum, correct, seen = 0.0, 0, 0
        local = self.batch_size // self.world
        mine = slice(self.rank * local, (self.rank + 1) * local)
        for b in range(len(order) // self.batch_size):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            # every process draws the whole global batch's augmentation (same draws), each keeps its slice
            x = self.train.train_batch(index, self.generator, mine)
            if recipe.cutout:
                x = cutout(x, recipe.cutout, self.generator, len(index), mine)
            x = self._on_device(x)
            y = self.train.labels[index][mine].to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.cuda):
                logits, aux = self.net(x)
            loss = self._loss(logits, y)
            if aux is not None:
                loss = loss + recipe.auxiliary_weight * self._loss(aux, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), recipe.grad_clip)
            self.optimizer.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += top_k_correct(logits.detach(), y, 1)
            seen += len(y)
        self.scheduler.step()
        self.epoch += 1
        loss_sum, correct, seen = self._summed(loss_sum, correct, seen)
        test = self.evaluate()
        row = {"epoch": self.epoch, "lr": lr, "train_loss": loss_sum / max(seen, 1),
               "train_top1": 100.0 * correct / max(seen, 1), **test, "epoch_seconds": time.perf_counter() - start}
        self.history.append(row)
        return row

    def _summed(self, *values: float) -> list[float]:
        """Each value summed over the processes (itself in a single process)."""
        if self.world == 1:
            return list(values)
        totals = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(totals)
        return totals.tolist()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss, top-1 and top-5 (%) on the test images, unaugmented (each process its share)."""
        self.model.eval()
        loss_sum, top1, top5 = 0.0, 0, 0
        share = torch.arange(self.rank, len(self.test), self.world)
        for b in range(0, len(share), EVAL_BATCH):
            index = share[b:b + EVAL_BATCH]
            x, y = self._on_device(self.test.test_batch(index)), self.test.labels[index].to(self.device)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.cuda):
                logits, _ = self.model(x)
            loss_sum += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            top1 += top_k_correct(logits, y, 1)
            top5 += top_k_correct(logits, y, 5)
        loss_sum, top1, top5 = self._summed(loss_sum, top1, top5)
        n = len(self.test)
        return {"test_loss": loss_sum / n, "test_top1": 100.0 * top1 / n, "test_top5": 100.0 * top5 / n}

    def cost(self) -> dict[str, float]:
        """Parameters (millions, without the auxiliary head), FLOPs and multiply-adds (millions)
        of one test-size image, counted by ``torch.utils.flop_counter`` (a multiply-add is 2 FLOPs)."""
        params = sum(p.numel() for name, p in self.model.named_parameters() if not name.startswith("auxiliary_head"))
        flops = count_flops(self.model, self._on_device(self.test.test_batch(torch.arange(1))))
        return {"params_M": params / 1e6, "flops_M": flops / 1e6, "madds_M": flops / 2e6}

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
                "torch_rng": torch.get_rng_state(), "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.history = list(state["history"])


def read_splits(data: str, test_data: str | None, recipe: Recipe, seed: int) -> tuple[Any, Any]:
    """The training images and the test images: ``test_data`` where given, else the data source's
    own test split (the embedded digits: two halves, smoke scale only). The ImageNet recipe reads
    an image folder in the ImageNet layout as it goes (:class:`StreamedImages`, ``val/`` as test)."""
    if recipe.network in ("imagenet", "lchain-imagenet") and data.startswith("imagefolder:"):
        from bench_toolkit.data.streaming import StreamedImages

        if any(split_class_selection(spec)[1] is not None for spec in (data, test_data or "")):
            raise BenchToolkitError("the ImageNet recipe streams whole folders: a #CLASSES selection is not read "
                                    "there; give a folder that holds only those classes")
        size, threads = recipe.resolution or 224, max(1, torch.get_num_threads())
        train = StreamedImages(Path(data.partition(":")[2]), "train", size, recipe.images_per_class, seed, threads)
        test_path = Path((test_data or data).partition(":")[2])
        test = StreamedImages(test_path, "test", size, None, seed, threads)
        if test.classes != train.classes:
            raise BenchToolkitError(f"the test classes ({len(test.classes)}) are not the training classes "
                                    f"({len(train.classes)}); use the val/ folder of the same ImageNet subset")
        return train, test
    if data == DEFAULT_DATA and test_data is None:
        return balanced_halves(read_data(data, recipe.images_per_class, seed), seed)
    train = read_data(data, recipe.images_per_class, seed)
    test = read_data(test_data, None, seed, split=None) if test_data else read_data(data, None, seed, split="test")
    if len(test.classes) != len(train.classes):
        raise BenchToolkitError(f"the test images have {len(test.classes)} classes, the training images "
                                f"{len(train.classes)}; give --test-data of the same dataset")
    return train, test


def train_network(arch: str, recipe: Recipe, data: str, out: str | Path, test_data: str | None = None, seed: int = 0,
                  device: str = "cpu", scale: str = "paper", resume: bool = False) -> dict[str, Any]:
    """Train ``arch`` by ``recipe`` into the run directory ``out`` (or continue it with ``resume``)
    and return ``final.json``'s content."""
    out = output_directory(out)
    checked_device(device)
    # a run that trained at least one epoch is never overwritten; one that failed before is started again
    if not resume and ((out / "checkpoint.pt").exists() or (out / "final.json").exists()):
        raise BenchToolkitError(f"'{out}' already holds a run; continue it with --resume {out}, or choose a new --out")
    parse_arch(arch, recipe)  # a bad architecture fails here, before data is read or anything written
    run = FinalTraining(arch, recipe, *read_splits(data, test_data, recipe, seed), seed=seed, device=device)
    if run.rank != 0:
        return _train_epochs(run, out, recipe, resume)
    lock = lock_run_directory(out)
    try:
        if resume:
            remove_stray_temporaries(out)
        return _train_epochs(run, out, recipe, resume, {"kind": "train", "bench_toolkit_version": __version__,
                                                        "arch": arch, "recipe": recipe.as_dict(), "data": absolute_spec(data),
                                                        "test_data": absolute_spec(test_data), "seed": seed, "scale": scale})
    finally:
        unlock_run_directory(lock)


def _train_epochs(run: FinalTraining, out: Path, recipe: Recipe, resume: bool,
                  config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The epochs left, a checkpoint and the history after each (rank 0 writes), then final.json."""
    checkpoint = out / "checkpoint.pt"
    if resume:
        if not checkpoint.is_file():
            raise BenchToolkitError(f"'{out}' has no checkpoint.pt to resume from; start it again without --resume")
        run.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=False))
    elif config is not None:
        write_json(out / "config.json", config)
    with tqdm(total=recipe.epochs, initial=run.epoch, desc=f"train seed {run.seed}", unit="epoch",
              disable=None if run.rank == 0 else True) as bar:
        while run.epoch < recipe.epochs:
            row = run.train_epoch()
            if run.rank == 0:
                write_atomic(checkpoint, lambda tmp: torch.save(run.state_dict(), tmp))
                write_table(out / "history.parquet", pd.DataFrame(run.history))
            bar.update(1)
            bar.set_postfix(test_top1=f"{row['test_top1']:.2f}")
    last = run.history[-1] if run.history else run.evaluate()
    final = {"complete": True, "epochs": run.epoch, "test_top1": last["test_top1"], "test_top5": last["test_top5"],
             **run.cost()}
    if run.rank == 0:
        write_json(out / "final.json", final)
    return final


def resume_training(out: str | Path, device: str = "cpu") -> dict[str, Any]:
    """Continue the killed training in ``out`` with its own settings."""
    out = Path(out)
    try:
        config = json.loads((out / "config.json").read_text())
        recipe = Recipe(**config["recipe"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BenchToolkitError(f"'{out}/config.json' is missing or not a training run's ({error}); "
                                "resume a directory that `bench-toolkit train` wrote") from None
    return train_network(config["arch"], recipe, config["data"], out, config["test_data"], config["seed"], device,
                         config["scale"], resume=True)
