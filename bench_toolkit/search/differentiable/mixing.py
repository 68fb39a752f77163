"""How alpha enters the mixed ops: one small policy per method family.

A policy maps alpha to a :class:`Mixing` each forward pass. Policies that prune ops (ASAP and the
pruning baselines) also keep an ``alive`` mask: pruned ops get weight exactly 0 and are not
computed. The hooks below are no-ops for the policies that do not prune.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from bench_toolkit.diagnostics.recorder import edge_softmax
from bench_toolkit.nn.supernet import Mixing
from bench_toolkit.spaces import nb201


class MixingPolicy:
    """Base policy: plain softmax over the ops (DARTS, Liu et al., ICLR 2019, Eq. 2)."""

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        return Mixing(alpha.softmax(dim=-1))

    def initialise(self, alpha: torch.Tensor) -> None:
        """Set alpha's starting point where the method needs its own (default: the supernet's,
        ``alpha_init_std * N(0, 1)``)."""

    def distribution(self, alpha: np.ndarray, epoch: int) -> np.ndarray:
        """The per-edge op distribution the recorder reports (magnitudes, entropy)."""
        return edge_softmax(alpha)

    def derivable(self) -> np.ndarray | None:
        """Which ops the derived cell may use (None: all)."""
        return None

    def bind(self, model: Any, data: Any) -> None:
        """Called once with the supernet and the search data, for policies that read more of the
        supernet than alpha (IF-NAS: beta, the multiply-adds of what is retained)."""

    def before_step(self, step: int, epoch: int) -> None:
        """Called before every iteration (``step`` iterations done so far)."""

    def arch_frozen(self, epoch: int) -> bool:
        """True where this iteration must not move the architecture (IF-NAS's warm-up steps)."""
        return False

    def adjust_arch_gradients(self, epoch: int) -> None:
        """Called between the architecture gradient and the architecture step (IF-NAS: its
        regulariser's gradient added, alpha held while only beta trains)."""

    def after_alpha_step(self, alpha: torch.Tensor, epoch: int) -> None:
        """Called after every alpha update (``alpha.grad`` still holds its gradient)."""

    def after_epoch(self, alpha: torch.Tensor, epoch: int) -> None:
        """Called at the end of every epoch (``epoch`` = epochs completed)."""

    def train_between_epochs(self, model: Any, data: Any, generator: torch.Generator, epoch: int) -> dict[str, Any]:
        """Learning that happens after each epoch's iterations, outside the per-iteration alpha
        step (ENAS's controller); returns extra history columns."""
        return {}

    def finished(self) -> bool:
        """True when the search should end before its last epoch."""
        return False

    def columns(self, epoch: int) -> dict[str, Any]:
        """Extra history columns for the epoch just completed."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class SimplexMixing(MixingPolicy):
    """GAEA (Li et al., ICLR 2021): alpha itself is each edge's distribution over the ops --
    uniform at the start, kept on the simplex by the exponentiated-gradient update -- and mixes
    the ops directly, without a softmax."""

    def initialise(self, alpha: torch.Tensor) -> None:
        with torch.no_grad():
            alpha.fill_(1.0 / alpha.shape[-1])

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        return Mixing(alpha)

    def distribution(self, alpha: np.ndarray, epoch: int) -> np.ndarray:
        return alpha / alpha.sum(axis=-1, keepdims=True)


class UniformPaths(MixingPolicy):
    """Uniform single-path sampling (RSPS, Li & Talwalkar 2019; SETN's weight step, Dong & Yang
    2019): one architecture drawn uniformly per step by the space's ``sample(generator)`` (NB201:
    one op per edge; DARTS: two inputs per node), only its ops computed. Alpha plays no part, so
    the reported distribution is the uniform one over the ops."""

    def __init__(self, sample: Callable[[torch.Generator], torch.Tensor]):
        self.sample = sample

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        return Mixing.single_path(self.sample(generator), alpha.shape[-1], alpha)

    def distribution(self, alpha: np.ndarray, epoch: int) -> np.ndarray:
        return np.full(alpha.shape, 1.0 / alpha.shape[-1])


class DirichletMixing(MixingPolicy):
    """DrNAS (Chen et al., ICLR 2021, Sec. 3.1, Eq. 2-3): each edge's op weights are a sample of
    ``Dir(beta)`` with concentration ``beta = elu(alpha) + 1 > 0``, drawn anew at every forward
    pass and differentiated by the pathwise (reparameterised) gradient, as the reference
    ``process_step_vector(..., 'dirichlet')``. Samples come from torch's global generator, whose
    state checkpoints save. The reported distribution is the Dirichlet mean ``beta / sum(beta)``;
    the cell is the argmax of alpha, as the reference's genotype."""

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        return Mixing(torch.distributions.Dirichlet(torch.nn.functional.elu(alpha) + 1).rsample())

    def distribution(self, alpha: np.ndarray, epoch: int) -> np.ndarray:
        beta = np.where(alpha > 0, alpha, np.expm1(np.minimum(alpha, 0))) + 1
        return beta / beta.sum(axis=-1, keepdims=True)


class GumbelMixing(MixingPolicy):
    """GDAS (Dong & Yang, CVPR 2019, Eq. 3-5): per edge, sample one op by Gumbel-max over
    ``log_softmax(alpha)`` at temperature tau; only that op runs, weighted by the straight-through
    one-hot ``hard - soft.detach() + soft``. tau falls linearly from ``tau_max`` to ``tau_min``
    over ``epochs`` (NB201 setting: 10 -> 0.1 over 250 epochs)."""

    def __init__(self, epochs: int, tau_max: float = 10.0, tau_min: float = 0.1):
        self.epochs, self.tau_max, self.tau_min = epochs, tau_max, tau_min

    def temperature(self, epoch: int) -> float:
        if self.epochs <= 1:
            return self.tau_min
        return self.tau_max - (self.tau_max - self.tau_min) * epoch / (self.epochs - 1)

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        tau = self.temperature(epoch)
        # drawn on the CPU generator (whose state checkpoints save), then moved to alpha's device
        gumbels = -torch.empty(alpha.shape, dtype=alpha.dtype).exponential_(generator=generator).log().to(alpha.device)
        soft = ((alpha.log_softmax(dim=-1) + gumbels) / tau).softmax(dim=-1)
        index = soft.argmax(dim=-1)
        hard = torch.zeros_like(soft).scatter_(-1, index.unsqueeze(-1), 1.0)
        return Mixing(hard - soft.detach() + soft, index)

    def columns(self, epoch: int) -> dict[str, Any]:
        return {"temperature": self.temperature(epoch - 1)}


class PruningPolicy(MixingPolicy):
    """Softmax of ``alpha / T`` over the ops still alive; subclasses decide T and what to prune."""

    def __init__(self, n_ops: int, edge_names: Sequence[str] = nb201.EDGE_NAMES):
        self.edge_names = tuple(edge_names)
        self.alive = np.ones((len(self.edge_names), n_ops), dtype=bool)

    def temperature(self, epoch: int) -> float:
        return 1.0

    def _masked(self, alpha: torch.Tensor) -> torch.Tensor:
        return alpha.masked_fill(~torch.from_numpy(self.alive).to(alpha.device), float("-inf"))

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        weights = (self._masked(alpha) / self.temperature(epoch)).softmax(dim=-1)
        return Mixing(weights, alive=torch.from_numpy(self.alive.copy()))

    def distribution(self, alpha: np.ndarray, epoch: int) -> np.ndarray:
        return edge_softmax(np.where(self.alive, alpha / self.temperature(max(epoch - 1, 0)), -np.inf))

    def derivable(self) -> np.ndarray:
        return self.alive.copy()

    def prune(self, dead: np.ndarray) -> None:
        """Remove ``dead`` ops for good, never the last op of an edge."""
        dead = dead & self.alive
        for edge in range(len(self.alive)):
            if dead[edge].sum() >= self.alive[edge].sum():
                raise AssertionError("a pruning rule tried to empty an edge")
        self.alive &= ~dead

    def finished(self) -> bool:
        return bool((self.alive.sum(axis=1) == 1).all())

    def columns(self, epoch: int) -> dict[str, Any]:
        live = self.alive.sum(axis=1)
        out: dict[str, Any] = {"temperature": self.temperature(epoch - 1),
                               "sparsity": 1.0 - self.alive.sum() / self.alive.size}
        out.update({f"live.{edge}": int(n) for edge, n in zip(self.edge_names, live)})
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"alive": self.alive.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alive = np.array(state["alive"], dtype=bool)


class AnnealPrune(PruningPolicy):
    """ASAP (Noy et al., 2020, Algorithm 1): mixing weights ``Phi(alpha; T) = softmax(alpha / T)``
    (Eq. 2-4) over the live ops, temperature ``T_t = T0 beta^t`` per epoch (Eq. 9; T0 = 1.3,
    beta = 0.95, Sec. 4.1), and after the grace cycles every op whose Phi falls below the
    threshold ``theta = 0.4 / N`` is pruned for good (Algorithm 1, lines 7-8), checked after every
    alpha step. ``policy='theorem'`` uses Theorem 2 instead: ``theta_t = nu e^{-t}`` (Eq. 5),
    ``T_t = eta L rho_t sqrt(8/t log(pi^2 N t^2 / (3 delta)))`` (Eq. 7),
    ``rho_t = t / (t + log(1 / (N nu)))`` (Eq. 8), where t counts the alpha steps (Algorithm 1's
    iterations) since the grace cycles: t = k during and right after the k-th one.
    Paper settings (Supp. 6.2.1, as the method's defaults): alpha initialised to 0 (Algorithm 1,
    line 2), Adam at a fixed lr 1e-3 with betas (0.5, 0.999). Of the two temperature settings in
    the paper, Sec. 4.1's T0 = 1.3 is used: with beta = 0.95 it gives both the stated final
    temperature of about 0.1 after 50 epochs and T < 1 after the 5 grace epochs; Supp. 6.2.1's
    (T0, beta, tau) = (1.6, 0.95, 1) would end at 0.12 and reach tau = 1 only after 10 epochs."""

    def __init__(self, n_ops: int, t0: float = 1.3, beta: float = 0.95, threshold: float = 0.4, grace_epochs: int = 5,
                 policy: str = "fixed", eta: float = 3e-4, bound: float = 1.0, delta: float = 0.1, nu: float = 0.1,
                 edge_names: Sequence[str] = nb201.EDGE_NAMES):
        super().__init__(n_ops, edge_names)
        if policy not in ("fixed", "theorem"):
            raise ValueError(f"ASAP policy must be 'fixed' or 'theorem', got {policy!r}")
        self.n_ops, self.t0, self.beta, self.threshold_factor, self.grace = n_ops, t0, beta, threshold, grace_epochs
        self.policy, self.eta, self.bound, self.delta, self.nu = policy, eta, bound, delta, nu
        self.alpha_steps = 0  # completed alpha steps after the grace cycles

    def _t(self) -> int:
        return self.alpha_steps + 1

    def temperature(self, epoch: int) -> float:
        if self.policy == "fixed":
            return self.t0 * self.beta**epoch
        t, n = self._t(), self.n_ops
        rho = t / (t + math.log(1 / (n * self.nu)))
        return self.eta * self.bound * rho * math.sqrt(8 / t * math.log(math.pi**2 * n * t**2 / (3 * self.delta)))

    def threshold(self, epoch: int) -> float:
        if self.policy == "fixed":
            return self.threshold_factor / self.n_ops
        return self.nu * math.exp(-self._t())

    def after_alpha_step(self, alpha: torch.Tensor, epoch: int) -> None:
        if epoch < self.grace:
            return
        with torch.no_grad():
            phi = (self._masked(alpha) / self.temperature(epoch)).softmax(dim=-1).cpu().numpy()
        below = self.alive & (phi < self.threshold(epoch))
        below[np.arange(len(phi)), phi.argmax(axis=1)] = False  # the best op of an edge stays
        self.prune(below)
        self.alpha_steps += 1

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "alpha_steps": self.alpha_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.alpha_steps = int(state.get("alpha_steps", 0))  # absent in checkpoints before t counted steps


class ScheduledPruning(PruningPolicy):
    """The pruning baselines of ASAP Sec. 4.4: at the end of each epoch from ``start`` on, prune
    the lowest-scoring live ops (over the whole cell, keeping one per edge) until the pruned
    fraction reaches Zhu & Gupta's schedule (ASAP Eq. 13)
    ``s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^p``, with s_i = 0, s_f = (N-1)/N (one op
    per edge left), t0 = ``start``, n dt = ``end - start``, p in {1, 3}. Score: ``magnitude``,
    the softmax weight of the op; ``accumgrad``, its accumulated |dL_val/d alpha| (Molchanov et al.)."""

    def __init__(self, n_ops: int, score: str = "magnitude", power: int = 1, start: int = 20, end: int = 50,
                 edge_names: Sequence[str] = nb201.EDGE_NAMES):
        super().__init__(n_ops, edge_names)
        if score not in ("magnitude", "accumgrad"):
            raise ValueError(f"pruning score must be 'magnitude' or 'accumgrad', got {score!r}")
        self.score, self.power, self.start, self.end = score, power, start, end
        self.accumulated = np.zeros_like(self.alive, dtype=float)

    def target_sparsity(self, epoch: int) -> float:
        final = (self.alive.shape[1] - 1) / self.alive.shape[1]
        if epoch < self.start:
            return 0.0
        progress = min(1.0, (epoch - self.start) / max(1, self.end - self.start))
        return final + (0.0 - final) * (1 - progress) ** self.power

    def after_alpha_step(self, alpha: torch.Tensor, epoch: int) -> None:
        if self.score == "accumgrad" and alpha.grad is not None:
            self.accumulated += alpha.grad.detach().abs().cpu().numpy()

    def after_epoch(self, alpha: torch.Tensor, epoch: int) -> None:
        target = round(self.target_sparsity(epoch) * self.alive.size)
        scores = self.distribution(alpha.detach().cpu().double().numpy(), epoch + 1) if self.score == "magnitude" \
            else self.accumulated.copy()
        scores = np.where(self.alive, scores, np.inf)
        for flat in np.argsort(scores, axis=None, kind="stable"):
            if self.alive.size - self.alive.sum() >= target:
                break
            edge, op = divmod(int(flat), self.alive.shape[1])
            if self.alive[edge, op] and self.alive[edge].sum() > 1:
                self.alive[edge, op] = False

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "accumulated": self.accumulated.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.accumulated = np.array(state["accumulated"], dtype=float)


class ProgressiveStage(PruningPolicy):
    """One stage of P-DARTS (Chen et al., ICCV 2019, Sec. 3.2-3.3; its reference ``train_search.py``):
    softmax over the ops each edge still has (``alive``, fixed for the stage: the search space
    approximation drops ops between stages, never within one), and dropout on the identity
    skip_connect (search space regularisation) at rate ``p`` times ``(E - e - 1) / E`` in the
    epochs alpha is frozen (e < ``frozen``) and ``p exp(-0.2 (e - frozen))`` after them."""

    def __init__(self, alive: np.ndarray, edge_names: Sequence[str], skip_dropout: float, epochs: int, frozen: int):
        super().__init__(alive.shape[1], edge_names)
        self.alive = alive.copy()
        self.rate, self.epochs, self.frozen = skip_dropout, epochs, frozen

    def skip_dropout(self, epoch: int) -> float:
        if epoch < self.frozen:
            return self.rate * (self.epochs - epoch - 1) / self.epochs
        return self.rate * math.exp(-(epoch - self.frozen) * 0.2)

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        mixing = super().__call__(alpha, generator, epoch)
        return Mixing(mixing.weights, alive=mixing.alive, skip_dropout=self.skip_dropout(epoch))

    def finished(self) -> bool:
        return False  # the stage runs its epochs even where an edge has one op left

    def columns(self, epoch: int) -> dict[str, Any]:
        return {**super().columns(epoch), "skip_dropout": self.skip_dropout(epoch - 1)}
