"""Interleaving learning (IL) and interleaving multi-task NAS (IMTNAS) as a search over a supernet
space: K tasks (one learner each) x M rounds of learning stages sharing one architecture alpha.

Every stage ``(m, k)`` owns an encoder -- the space's supernet without its classifier, all stages
starting from the same initial weights -- and a linear head for task k. Per iteration (each task
contributes one search-train and one search-valid batch):

1. **alpha step** (after ``warmup_epochs``): the gradient of the final round's validation losses
   through the unrolled stages (:mod:`.hypergradient`; ``multilevel_gradient``: ``exact`` by
   autograd or the papers' ``finite-difference`` approximation), the step size of the virtual
   steps being the weights' current learning rate (as DARTS-2nd), then Adam (IL Sec. 4.3).
2. **weight steps**: the stages in order, each an SGD step on its training loss plus the transfer
   term toward the previous stage's weights as they now are (IL Eq. 5; IMTNAS Eq. 4).

Methods (:data:`MULTILEVEL_METHODS`): ``il-darts`` (IL: L2 transfer, lambda = 100, M = 2; heads
step at their own weights, IL Eq. 8), ``imtnas-darts`` (IMTNAS: the MMD hinge on C augmentations
of 10 + 10 examples, tau = 5, RBF gamma 0.1; heads step at the unrolled weights, IMTNAS Eq. 20),
``mtl-darts`` (the multi-task baseline, IL Eq. 10: M = 1, no transfer, the sum of losses).

The supernet's BatchNorm layers keep one set of running statistics for all stages (the search
trains in train mode, where batch statistics are used; the derived cell is what is kept).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench_toolkit.benchmarks import Benchmark
from bench_toolkit.data.batches import PairedBatches, augment
from bench_toolkit.diagnostics.recorder import benchmark_answers, edge_softmax, normalized_entropy, operation_magnitudes
from bench_toolkit.fileio import write_atomic
from bench_toolkit.nn.supernet import Mixing
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.spaces import space_of
from bench_toolkit.search.multilevel.hypergradient import (
    MultiLevel, Params, exact_hypergradient, finite_difference_hypergradient, stage_order,
)
from bench_toolkit.search.multilevel.transfer import l2_transfer, mmd_hinge, pairwise_mmd

MULTILEVEL_METHODS: dict[str, dict[str, Any]] = {
    # IL Sec. 4.3: DARTS-2nd's search settings, two rounds, lambda 100
    "il-darts": {"transfer": "l2", "rounds": 2, "il_lambda": 100.0, "w_weight_decay": 3e-4, "w_nesterov": False},
    # IMTNAS Sec. 4 and App. A: the MMD hinge (C = 20, tau = 5, RBF 0.1), heads at the unrolled weights
    "imtnas-darts": {"transfer": "mmd", "rounds": 2, "w_weight_decay": 3e-4, "w_nesterov": False},
    # IL Eq. 10: one round, no coupling
    "mtl-darts": {"transfer": "none", "rounds": 1, "w_weight_decay": 3e-4, "w_nesterov": False},
}


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(dim=-1) == labels).float().mean()) * 100.0


class InterleavedSearch:
    """One seeded multi-level search over ``tasks`` (one :class:`PairedBatches` each)."""

    def __init__(self, algo: str, config: SearchConfig, tasks: list[PairedBatches], task_names: list[str],
                 bench: Benchmark | None, seed: int, device: str = "cpu"):
        self.algo, self.config, self.tasks, self.task_names, self.bench, self.seed = algo, config, tasks, task_names, bench, seed
        self.device = torch.device(device)
        torch.manual_seed(seed)
        random.seed(seed)
        self.space = space_of(config)
        encoder = self.space.build(tasks[0].num_classes, config)
        features = encoder.classifier.in_features
        encoder.classifier = nn.Identity()  # the encoder's forward now ends at the pooled features
        self.encoder = encoder.to(self.device)
        self.alpha = encoder.alpha
        names = [n for n, _ in encoder.named_parameters() if n not in ("alpha", "beta")]
        self.stages = stage_order(len(tasks), config.rounds, config.task_order or None)
        initial = {n: p.detach().clone() for n, p in encoder.named_parameters() if n in names}
        self.weights: dict[tuple[int, int], Params] = {
            s: {n: initial[n].clone().requires_grad_(True) for n in names} for s in self.stages}
        self.heads: dict[tuple[int, int], Params] = {}
        for s in self.stages:
            head = nn.Linear(features, tasks[s[1]].num_classes).to(self.device)
            self.heads[s] = {"weight": head.weight.detach().requires_grad_(True), "bias": head.bias.detach().requires_grad_(True)}
        self.w_optimizers = {s: torch.optim.SGD([*self.weights[s].values(), *self.heads[s].values()], lr=config.w_lr,
                                                momentum=config.w_momentum, nesterov=config.w_nesterov,
                                                weight_decay=config.w_weight_decay) for s in self.stages}
        iterations = min(len(t) for t in tasks)
        self.schedulers = {s: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=max(1, config.epochs * iterations),
                                                                         eta_min=config.w_lr_min)
                           for s, o in self.w_optimizers.items()}
        self.a_optimizer = torch.optim.Adam([self.alpha], lr=config.a_lr, betas=(config.a_beta1, config.a_beta2),
                                            weight_decay=config.a_weight_decay)
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.alphas: list[np.ndarray] = []
        self.batches: dict[int, tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]] = {}
        self._sets: dict[int, torch.Tensor] = {}  # IMTNAS: this iteration's augmentation sets per learner

    # -- the pieces of the multi-level problem -------------------------------------------------------

    def _logits(self, A: torch.Tensor, W: Params, H: Params, x: torch.Tensor) -> torch.Tensor:
        features = torch.func.functional_call(self.encoder, W, (x, Mixing(A.softmax(dim=-1))), strict=False)
        return features @ H["weight"].T + H["bias"]

    def train_loss(self, A: torch.Tensor, W: Params, H: Params, learner: int) -> torch.Tensor:
        x, y = self.batches[learner][0]
        return F.cross_entropy(self._logits(A, W, H, x), y)

    def val_loss(self, A: torch.Tensor, W: Params, H: Params, learner: int) -> torch.Tensor:
        x, y = self.batches[learner][1]
        return F.cross_entropy(self._logits(A, W, H, x), y)

    def _embed(self, A: torch.Tensor, W: Params, x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(self.encoder, W, (x, Mixing(A.softmax(dim=-1))), strict=False)

    def transfer(self, A: torch.Tensor, W: Params, prev: Params, learner: int) -> torch.Tensor:
        c = self.config
        if c.transfer == "l2":
            return l2_transfer(c.il_lambda)(A, W, prev, learner)
        if c.transfer == "mmd":
            sets = self.augmentation_sets(learner)
            shape = sets.shape
            flat = sets.flatten(0, 1)
            d_prev = pairwise_mmd(self._embed(A, prev, flat).view(shape[0], shape[1], -1), c.mmd_gamma)
            d = pairwise_mmd(self._embed(A, W, flat).view(shape[0], shape[1], -1), c.mmd_gamma)
            return mmd_hinge(d_prev, d, c.mmd_tau)
        return torch.zeros((), device=self.device)

    def augmentation_sets(self, learner: int) -> torch.Tensor:
        """IMTNAS Sec. 3.1.2: ``mmd_examples`` training images of this task and as many of the
        previous task, each augmented ``mmd_augmentations`` times (pad-4 crop and flip, the search's
        augmentation): ``(2 * examples, C, 3, H, W)``. The same sets serve every evaluation within
        the iteration."""
        return self._sets[learner]

    def _draw_sets(self) -> None:
        c = self.config
        self._sets = {}
        for index, (_, k) in enumerate(self.stages):
            if index == 0:
                continue
            previous = self.stages[index - 1][1]
            images = torch.cat([self.batches[k][0][0][: c.mmd_examples], self.batches[previous][0][0][: c.mmd_examples]])
            copies = images.repeat_interleave(c.mmd_augmentations, dim=0)
            self._sets[k] = augment(copies, self.generator).view(len(images), c.mmd_augmentations, *images.shape[1:])

    def problem(self, eta: float) -> MultiLevel:
        return MultiLevel(self.stages, self.weights, self.heads, self.train_loss, self.transfer, self.val_loss, eta,
                          head_at_unrolled=self.config.transfer == "mmd")

    # -- one epoch ------------------------------------------------------------------------------------

    def _lr(self) -> float:
        return self.schedulers[self.stages[0]].get_last_lr()[0]

    def train_step(self) -> dict[tuple[int, int], np.ndarray]:
        if self.config.transfer == "mmd":
            self._draw_sets()
        if self.epoch >= self.config.warmup_epochs:
            gradient = exact_hypergradient if self.config.multilevel_gradient == "exact" else finite_difference_hypergradient
            _, grad = gradient(self.problem(self._lr()), self.alpha)
            self.alpha.grad = grad
            self.a_optimizer.step()
            self.a_optimizer.zero_grad(set_to_none=True)
        A = self.alpha.detach()
        stats = {}
        for index, s in enumerate(self.stages):
            W, H = self.weights[s], self.heads[s]
            x, y = self.batches[s[1]][0]
            logits = self._logits(A, W, H, x)
            loss = F.cross_entropy(logits, y)
            if index > 0 and self.config.transfer != "none":
                prev = {n: w.detach() for n, w in self.weights[self.stages[index - 1]].items()}
                loss = loss + self.transfer(A, W, prev, s[1])
            self.w_optimizers[s].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([*W.values(), *H.values()], self.config.grad_clip)
            self.w_optimizers[s].step()
            self.schedulers[s].step()
            with torch.no_grad():
                vx, vy = self.batches[s[1]][1]
                vlogits = self._logits(A, W, H, vx)
            stats[s] = np.array([float(loss.detach()), _accuracy(logits.detach(), y),
                                 float(F.cross_entropy(vlogits, vy)), _accuracy(vlogits, vy)])
        return stats

    def train_epoch(self) -> list[dict[str, Any]]:
        """One epoch: one row per stage (learner, round)."""
        start = time.perf_counter()
        sums = {s: np.zeros(4) for s in self.stages}
        iterators = [t.epoch(self.generator) for t in self.tasks]
        steps = 0
        for pairs in zip(*iterators):
            self.batches = {k: ((tr[0].to(self.device), tr[1].to(self.device)), (va[0].to(self.device), va[1].to(self.device)))
                            for k, (tr, va) in enumerate(pairs)}
            for s, values in self.train_step().items():
                sums[s] += values
            steps += 1
        self.epoch += 1
        return self._record(sums, max(1, steps), time.perf_counter() - start)

    def _record(self, sums: dict, steps: int, seconds: float) -> list[dict[str, Any]]:
        alpha = self.alpha.detach().cpu().double().numpy()
        weights = edge_softmax(alpha)
        arch = self.space.derive(alpha, weights, self.config.ops, self.config.derive_exclude_none, None)
        shared = {"arch": arch, "entropy": float(normalized_entropy(weights).mean()),
                  **{f"magnitude.{op}": m for op, m in operation_magnitudes(weights, self.config.ops).items()},
                  **benchmark_answers(self.bench, arch), "lr_w": self._lr(), "epoch_seconds": seconds}
        rows = []
        for s in self.stages:
            means = sums[s] / steps
            rows.append({"seed": self.seed, "epoch": self.epoch, "round": s[0] + 1, "learner": s[1],
                         "task": self.task_names[s[1]], "train_loss": means[0], "train_acc": means[1],
                         "valid_loss": means[2], "valid_acc": means[3], **shared})
        self.history += rows
        self.alphas.append(alpha)
        return rows

    # -- checkpoint ----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "encoder": self.encoder.state_dict(),
                "weights": {s: {n: w.detach().clone() for n, w in W.items()} for s, W in self.weights.items()},
                "heads": {s: {n: h.detach().clone() for n, h in H.items()} for s, H in self.heads.items()},
                "w_optimizers": {s: o.state_dict() for s, o in self.w_optimizers.items()},
                "schedulers": {s: o.state_dict() for s, o in self.schedulers.items()},
                "a_optimizer": self.a_optimizer.state_dict(), "generator": self.generator.get_state(),
                "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
                "history": self.history, "alphas": self.alphas}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.encoder.load_state_dict(state["encoder"])
        with torch.no_grad():
            for s in self.stages:
                for n, w in self.weights[s].items():
                    w.copy_(state["weights"][s][n])
                for n, h in self.heads[s].items():
                    h.copy_(state["heads"][s][n])
        for s in self.stages:
            self.w_optimizers[s].load_state_dict(state["w_optimizers"][s])
            self.schedulers[s].load_state_dict(state["schedulers"][s])
        self.a_optimizer.load_state_dict(state["a_optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        self.history, self.alphas = list(state["history"]), list(state["alphas"])

    def save(self, path: Path) -> None:
        write_atomic(path, lambda tmp: torch.save(self.state_dict(), tmp))

    def load(self, path: Path) -> None:
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))
