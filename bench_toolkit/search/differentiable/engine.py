"""The one differentiable-search loop: train supernet weights and alpha on paired batches, record
the diagnostics every epoch, checkpoint, resume.

A method (:data:`METHODS`) is composed of small parts, not a copy of the loop: how alpha enters
the mixed ops (:mod:`.mixing`), how the alpha gradient is obtained (:mod:`.architect`), and its
own default settings. Per iteration: weight step on a search-train batch, then alpha step on the
paired search-valid batch (``alpha_first`` swaps them).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from bench_toolkit.benchmarks import Benchmark
from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.diagnostics.hessian import largest_eigenvalue
from bench_toolkit.diagnostics.stop import Trace
from bench_toolkit.diagnostics.recorder import benchmark_answers, normalized_entropy, operation_magnitudes
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import write_atomic
from bench_toolkit.nn.supernet import Mixing
from bench_toolkit.search.differentiable.alpha_optimizers import adam, exponentiated_gradient, sgd
from bench_toolkit.search.differentiable.architect import first_order, unrolled
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.controller import ControllerPaths
from bench_toolkit.search.differentiable.interleaving_free import InterleavingFree
from bench_toolkit.search.differentiable.mixing import (
    AnnealPrune, DirichletMixing, GumbelMixing, MixingPolicy, ProgressiveStage, ScheduledPruning, SimplexMixing,
    UniformPaths,
)
from bench_toolkit.search.differentiable.selection import SharedWeightSelection
from bench_toolkit.search.differentiable.spaces import space_of


@dataclass(frozen=True)
class Method:
    """A differentiable search method as a composition of parts."""

    name: str
    architect: Callable[[SearchConfig], Callable[..., tuple[torch.Tensor, torch.Tensor]]] | None
    """How alpha's gradient is made; None: the method has no alpha step (RSPS)."""
    mixing: Callable[[SearchConfig], MixingPolicy]
    defaults: dict[str, Any] = field(default_factory=dict)
    alpha_optimizer: Callable[[list[torch.Tensor], SearchConfig], torch.optim.Optimizer] = adam
    weight_mixing: Callable[[SearchConfig], MixingPolicy] | None = None
    """The weight step's own mixing (SETN, RSPS: uniform single paths); None: ``mixing``."""
    selector: Callable[[SearchConfig], SharedWeightSelection] | None = None
    """How the cell is chosen each epoch; None: the argmax of alpha (DARTS Sec. 2.4)."""
    spaces: tuple[str, ...] | None = None
    """The spaces it can search (None: every space that admits it)."""


def _asap(c: SearchConfig) -> MixingPolicy:
    return AnnealPrune(len(c.ops), c.asap_t0, c.asap_beta, c.asap_threshold, c.warmup_epochs, c.asap_policy,
                       c.a_lr, c.asap_bound, c.asap_delta, c.asap_nu, space_of(c).edge_names)


def _pruning(score: str) -> Callable[[SearchConfig], MixingPolicy]:
    return lambda c: ScheduledPruning(len(c.ops), score, c.prune_power, c.prune_start, c.prune_end,
                                      space_of(c).edge_names)


def _progressive(c: SearchConfig) -> MixingPolicy:
    space = space_of(c)
    rows = c.edge_ops or (c.ops,) * len(space.edge_names)
    alive = np.array([[op in row for op in c.ops] for row in rows])
    return ProgressiveStage(alive, space.edge_names, c.skip_dropout, c.epochs, c.warmup_epochs)


def _uniform_paths(c: SearchConfig) -> MixingPolicy:
    """Uniform single paths drawn by the space's own sampler."""
    space = space_of(c)
    return UniformPaths(lambda generator: space.uniform_paths(1, c.ops, generator)[0])


def _interleaving_free(c: SearchConfig) -> MixingPolicy:
    return InterleavingFree(c.stage_nodes, c.L, c.if_sampling, c.if_step_iterations, c.warmup_epochs, c.if_alpha_delay,
                            c.if_mu1, c.if_mu2, c.if_mu_start, c.if_mu_ramp, c.if_threshold, c.if_madds_bound,
                            c.if_gradual_prune, c.epochs, c.channels, c.stem, c.if_interleaved,
                            (*c.if_probe_node, c.if_probe_sources, c.if_probe_extra) if c.if_sampling == "probe" else None)


def _selection(c: SearchConfig, source: str) -> SharedWeightSelection:
    return SharedWeightSelection(c.select_candidates, c.select_batch_size, source, space_of(c))


_GAEA = {"a_lr": 0.1, "a_weight_decay": 0.0, "alpha_first": True, "w_nesterov": False, "w_weight_decay": 3e-4}

METHODS: dict[str, Method] = {
    "darts-v1": Method("darts-v1", lambda c: first_order, lambda c: MixingPolicy()),
    # as the DARTS and NB201 reference code: the alpha step (on the current weights) comes first
    "darts-v2": Method("darts-v2", lambda c: partial(unrolled, fd_radius=c.unrolled_fd_radius), lambda c: MixingPolicy(),
                       {"alpha_first": True}),
    "gdas": Method("gdas", lambda c: first_order, lambda c: GumbelMixing(c.epochs, c.tau_max, c.tau_min), {"epochs": 250}),
    # ASAP Supp. 6.2.1: 5 grace epochs, Adam at a fixed 1e-3, alpha initialised to 0 (Algorithm 1)
    "asap": Method("asap", lambda c: first_order, _asap, {"warmup_epochs": 5, "a_lr": 1e-3, "alpha_init_std": 0.0}),
    "prune-magnitude": Method("prune-magnitude", lambda c: first_order, _pruning("magnitude")),
    "prune-accumgrad": Method("prune-accumgrad", lambda c: first_order, _pruning("accumgrad")),
    # GAEA (Li et al., ICLR 2021) with first-order DARTS, as its reference NAS-Bench-201 config
    # (gaea_release, method edarts): alpha on the simplex by exponentiated gradient at lr 0.1, the
    # alpha step first, weights by SGD momentum 0.9 without Nesterov, weight decay 3e-4
    "gaea-bilevel": Method("gaea-bilevel", lambda c: first_order, lambda c: SimplexMixing(), _GAEA, exponentiated_gradient),
    "gaea-erm": Method("gaea-erm", lambda c: first_order, lambda c: SimplexMixing(), {**_GAEA, "single_level": True},
                       exponentiated_gradient),
    # DrNAS (Chen et al., ICLR 2021), as its NAS-Bench-201 search script (201-space/train_search.py):
    # Dirichlet mixing, alpha by Adam 3e-4 with its L2 regulariser (reg_scale 1e-3 as Adam's weight
    # decay), the alpha step first, weights by SGD without Nesterov at weight decay 3e-4, 100 epochs.
    # Its progressive variant (partial channels 4 -> 2, pruning to 3 ops after 50 epochs) is not built.
    "drnas": Method("drnas", lambda c: first_order, lambda c: DirichletMixing(),
                    {"epochs": 100, "alpha_first": True, "w_nesterov": False, "w_weight_decay": 3e-4}),
    # PC-DARTS (Xu et al., ICLR 2020, Sec. 3.2-3.3 and its search settings): partial channels K = 4
    # with channel shuffle, edge normalisation, first order, alpha lr 6e-4, alpha frozen for the
    # first 15 epochs; the NB201 weight schedule and batch 64 (its CIFAR search used batch 256, lr 0.1)
    "pc-darts": Method("pc-darts", lambda c: first_order, lambda c: MixingPolicy(),
                       {"partial_channels": 4, "edge_normalisation": True, "a_lr": 6e-4, "warmup_epochs": 15}),
    # One stage of P-DARTS (Chen et al., ICCV 2019), as its train_search.py: the DARTS space, first
    # order with the alpha step first, 25 epochs of which 10 with alpha frozen, batch 96, alpha lr
    # 6e-4, weights by SGD without Nesterov, cosine to 0; the ops of each edge (edge_ops) and the
    # skip dropout rate are set per stage by progressive.run_pdarts. (The reference also clips
    # alpha's gradient at 5; not done here.)
    "pdarts": Method("pdarts", lambda c: first_order, _progressive,
                     {"space": "darts", "cells_per_stage": 1, "epochs": 25, "warmup_epochs": 10, "alpha_first": True, "a_lr": 6e-4,
                      "batch_size": 96, "w_lr_min": 0.0, "w_nesterov": False, "w_weight_decay": 3e-4}),
    # RSPS (Li & Talwalkar, UAI 2019), as NB201's RANDOM-NAS: weights trained on uniformly sampled
    # single paths, no alpha; each epoch the best of 100 uniform cells by shared-weight accuracy
    "rsps": Method("rsps", None, lambda c: _uniform_paths(c), {"epochs": 250}, weight_mixing=lambda c: _uniform_paths(c),
                   selector=lambda c: _selection(c, "uniform")),
    # ENAS (Pham et al., ICML 2018), as NB201's ENAS.py with ENAS.config: weights on the controller's
    # cells (SGD lr 0.05 -> 0.0005, weight decay 2.5e-4, batch 128, 310 epochs; the config's cosine
    # restarts every 10 epochs are one cosine here), the controller by REINFORCE after each epoch,
    # each epoch the best of 100 controller cells by shared-weight accuracy
    "enas": Method("enas", None, ControllerPaths,
                   {"epochs": 310, "w_lr": 0.05, "w_lr_min": 0.0005, "w_weight_decay": 2.5e-4, "batch_size": 128},
                   selector=lambda c: _selection(c, "controller")),
    # SETN (Dong & Yang, ICCV 2019), as NB201's SETN.py: weights on uniform single paths, the
    # template alpha by Adam on the full mixture (softmax) of search-valid, then the best of the
    # template's 100 most probable cells by shared-weight accuracy
    "setn": Method("setn", lambda c: first_order, lambda c: MixingPolicy(), {"epochs": 250},
                   weight_mixing=lambda c: _uniform_paths(c), selector=lambda c: _selection(c, "template")),
    # IF-NAS (Tian et al., Sec. 3.4-3.5 and 4.1) in its L-chain space, as its reference train_search.py:
    # one level (weights and architecture on the same training data), both by SGD at lr 0.1 with
    # momentum 0.9 and weight decay 3e-5, weights alone for 20 epochs (paper), 100 epochs
    # (reference); the weight lr falls by a cosine to 0 here (the reference: linearly)
    "if-nas": Method("if-nas", lambda c: first_order, _interleaving_free,
                     {"space": "lchain", "single_level": True, "epochs": 100, "warmup_epochs": 20, "w_lr": 0.1,
                      "w_lr_min": 0.0, "w_nesterov": False, "w_weight_decay": 3e-5, "a_lr": 0.1, "a_weight_decay": 3e-5},
                     sgd, spaces=("lchain",)),
}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise BenchToolkitError(f"unknown differentiable method '{name}'; choose one of: {', '.join(METHODS)}") from None


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(dim=-1) == labels).float().mean()) * 100.0


class SupernetSearch:
    """One seeded search: the supernet, both optimisers, the schedule, the RNG, the recorded rows."""

    def __init__(self, method: Method, config: SearchConfig, data: PairedBatches, bench: Benchmark | None, seed: int,
                 device: str = "cpu"):
        self.config, self.data, self.bench, self.seed = config, data, bench, seed
        self.device = torch.device(device)
        torch.manual_seed(seed)
        random.seed(seed)
        self.space = space_of(config)
        self.model = self.space.build(data.num_classes, config).to(self.device)
        self.w_optimizer = torch.optim.SGD(self.model.weights(), lr=config.w_lr, momentum=config.w_momentum,
                                           nesterov=config.w_nesterov, weight_decay=config.w_weight_decay)
        self.mixing = method.mixing(config)
        self.weight_mixing = method.weight_mixing(config) if method.weight_mixing else self.mixing
        self.selector = method.selector(config) if method.selector else None
        self.mixing.initialise(self.model.alpha)
        self.mixing.bind(self.model, data)
        self.a_optimizer = method.alpha_optimizer(self.model.arch_parameters(), config)
        # "restart": the cosine starts when the warm-up ends (the scheduler does not step before)
        self.restart_after_warmup = config.warmup_schedule == "restart" and config.warmup_epochs > 0
        cosine_epochs = config.epochs - config.warmup_epochs if self.restart_after_warmup else config.epochs
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_optimizer, T_max=max(1, cosine_epochs * len(data)), eta_min=config.w_lr_min)
        self.generator = torch.Generator().manual_seed(seed)
        self.arch_gradient = method.architect(config) if method.architect else None
        self.epoch = 0
        self.step = 0
        self.selected_epoch: int | None = None  # set when an online stop criterion fires
        self.history: list[dict[str, Any]] = []
        self.step_rows: list[dict[str, Any]] = []
        self.alphas: list[np.ndarray] = []
        self.distributions: list[np.ndarray] = []  # per epoch the op distribution of that epoch (its alive mask)

    # -- one epoch -------------------------------------------------------------------------------

    def _mix(self, alpha: torch.Tensor) -> Mixing:
        return self.mixing(alpha, self.generator, self.epoch)

    def _to_device(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return batch[0].to(self.device, non_blocking=True), batch[1].to(self.device, non_blocking=True)

    def _weight_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
        x, y = batch
        self.w_optimizer.zero_grad(set_to_none=True)
        logits = self.model(x, self.weight_mixing(self.model.alpha.detach(), self.generator, self.epoch))
        loss = F.cross_entropy(logits, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.model.weights()), self.config.grad_clip)
        self.w_optimizer.step()
        return float(loss.detach()), _accuracy(logits.detach(), y)

    def _alpha_step(self, train: tuple[torch.Tensor, torch.Tensor], valid: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
        if self.arch_gradient is None:  # no architecture parameters (RSPS): nothing to step or measure
            return float("nan"), float("nan")
        if self.epoch < self.config.warmup_epochs or self.mixing.arch_frozen(self.epoch):
            # warm-up: alpha frozen, valid batch only measured
            with torch.no_grad():
                logits = self.model(valid[0], self._mix(self.model.alpha))
            return float(F.cross_entropy(logits, valid[1])), _accuracy(logits, valid[1])
        self.a_optimizer.zero_grad(set_to_none=True)
        loss, logits = self.arch_gradient(self.model, train, valid, self._mix, self.w_optimizer)
        self.mixing.adjust_arch_gradients(self.epoch)
        self.a_optimizer.step()
        self.mixing.after_alpha_step(self.model.alpha, self.epoch)
        return float(loss), _accuracy(logits, valid[1])

    def train_step(self, train: tuple[torch.Tensor, torch.Tensor], valid: tuple[torch.Tensor, torch.Tensor]) -> np.ndarray:
        """One iteration: weight step on ``train`` and alpha step on ``valid`` (order per
        ``alpha_first``; under bf16 autocast with ``precision='bf16'``: parameters, optimiser
        states and the loss stay float32), then the learning-rate schedule. Returns train loss, train accuracy,
        valid loss, valid accuracy."""
        train, valid = self._to_device(train), self._to_device(valid)
        self.mixing.before_step(self.step, self.epoch)
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.config.precision == "bf16"):
            if self.config.alpha_first:
                valid_stats = self._alpha_step(train, valid)
                train_stats = self._weight_step(train)
            else:
                train_stats = self._weight_step(train)
                valid_stats = self._alpha_step(train, valid)
        if not (self.restart_after_warmup and self.epoch < self.config.warmup_epochs):
            self.scheduler.step()
        self.step += 1
        if self.config.record_every_steps and self.step % self.config.record_every_steps == 0:
            self.step_rows.append({"seed": self.seed, "epoch": self.epoch + 1, "step": self.step,
                                   **self._alpha_summary(self._alpha_numpy())[0]})
        return np.array([*train_stats, *valid_stats])

    def train_epoch(self, show_batches: bool = True) -> dict[str, Any]:
        """Run one epoch and return its history row (a progress bar over its batches on a terminal)."""
        self.model.train()
        start = time.perf_counter()
        sums = np.zeros(4)
        batches = tqdm(self.data.epoch(self.generator), total=len(self.data), leave=False,
                       disable=None if show_batches else True,
                       desc=f"seed {self.seed} epoch {self.epoch + 1}/{self.config.epochs}", unit="batch")
        for train, valid in batches:
            sums += self.train_step(train, valid)
        extra = self.mixing.train_between_epochs(self.model, self.data, self.generator, self.epoch)
        means = sums / max(1, len(self.data))
        row = {"train_loss": means[0], "train_acc": means[1], "valid_loss": means[2], "valid_acc": means[3],
               **extra, "epoch_seconds": time.perf_counter() - start}
        self.epoch += 1
        self.mixing.after_epoch(self.model.alpha, self.epoch)
        return self._record(row)

    def _edge_weights(self) -> np.ndarray | None:
        """The supernet's edge weights (None where it has no beta)."""
        if self.model.beta is None:
            return None
        with torch.no_grad():
            return self.model.edge_weights().detach().cpu().double().numpy()

    def _alpha_numpy(self) -> np.ndarray:
        return self.model.alpha.detach().cpu().double().numpy()

    def _alpha_summary(self, alpha: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
        """Derived cell, cell-mean and per-edge normalised entropy, operation magnitudes; and the
        op distribution they were computed from."""
        weights = self.mixing.distribution(alpha, self.epoch)
        entropy = normalized_entropy(weights)
        if self.selector is not None:
            arch, score = self.selector(self.model, self.data, self.seed, self.epoch, self.mixing)
            selected = {"selected_valid_acc": score}
        else:
            arch = self.space.derive(alpha, weights, self.config.ops, self.config.derive_exclude_none,
                                     self.mixing.derivable(), self._edge_weights())
            selected = {}
        summary: dict[str, Any] = {"arch": arch, "entropy": float(entropy.mean()), **selected}
        summary.update({f"entropy.{edge}": float(h) for edge, h in zip(self.space.edge_names, entropy)})
        summary.update({f"magnitude.{op}": m for op, m in operation_magnitudes(weights, self.config.ops).items()})
        return summary, weights

    def _record(self, stats: dict[str, Any]) -> dict[str, Any]:
        alpha = self._alpha_numpy()
        summary, weights = self._alpha_summary(alpha)
        row: dict[str, Any] = {"seed": self.seed, "epoch": self.epoch, **summary}
        row.update(benchmark_answers(self.bench, row["arch"]))
        row.update(stats)
        if self.config.hessian_every:
            row["hessian_eig"] = self.hessian_eigenvalue() if self.epoch % self.config.hessian_every == 0 else float("nan")
        if self.model.beta is not None:  # PC-DARTS: each edge's weight among the edges entering its node
            names = self.space.beta_names or self.space.edge_names
            row.update({f"edge_weight.{edge}": float(w) for edge, w in zip(names, self._edge_weights())})
        row["lr_w"] = self.scheduler.get_last_lr()[0]
        row["lr_alpha"] = self.a_optimizer.param_groups[0]["lr"]
        row.update(self.mixing.columns(self.epoch))
        self.history.append(row)
        self.alphas.append(alpha)
        self.distributions.append(weights)
        return row

    def hessian_eigenvalue(self) -> float:
        """Largest eigenvalue of the Hessian of the validation loss w.r.t. alpha (Zela et al.),
        on the fixed probe batch of search-valid, with the method's own mixing."""
        x, y = self._to_device(self.data.fixed_valid_batch())

        def loss() -> torch.Tensor:
            # sampling mixings draw the same sample at every evaluation: GDAS from its own generator,
            # DrNAS from torch's, re-seeded inside a fork so that the search's own draws are untouched
            torch.manual_seed(self.seed)
            generator = torch.Generator().manual_seed(self.seed)
            return F.cross_entropy(self.model(x, self.mixing(self.model.alpha, generator, self.epoch)), y)

        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            return largest_eigenvalue(loss, self.model.alpha)

    # -- checkpoint ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch, "model": self.model.state_dict(), "w_optimizer": self.w_optimizer.state_dict(),
            "a_optimizer": self.a_optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(), "history": self.history, "alphas": self.alphas,
            "distributions": self.distributions,
            "step": self.step, "step_rows": self.step_rows, "selected_epoch": self.selected_epoch,
            "mixing": self.mixing.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.model.load_state_dict(state["model"])
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.a_optimizer.load_state_dict(state["a_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        self.mixing.load_state_dict(state.get("mixing", {}))  # absent in checkpoints of v0.1 policies without state
        self.history, self.alphas = list(state["history"]), list(state["alphas"])
        # checkpoints older than the per-epoch distributions: the current policy state for all epochs
        self.distributions = list(state.get("distributions") or
                                  [self.mixing.distribution(a, e) for e, a in enumerate(self.alphas, start=1)])
        self.step, self.step_rows = state["step"], list(state["step_rows"])
        self.selected_epoch = state["selected_epoch"]

    def save(self, path: Path) -> None:
        """Write the checkpoint atomically (a kill mid-write leaves the previous one intact)."""
        write_atomic(path, lambda tmp: torch.save(self.state_dict(), tmp))

    def load(self, path: Path) -> None:
        # our own checkpoint: numpy arrays and Python objects beside tensors, hence weights_only=False
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=False))


def trace_of(search: SupernetSearch) -> Trace:
    """The search so far, as stop criteria see it."""
    return Trace(pd.DataFrame(search.history), np.stack(search.alphas), search.config.ops, search.config.space)
