"""ENAS's architecture controller (Pham et al., ICML 2018, Sec. 2.1-2.2) for a cell of edge
decisions, as the NAS-Bench-201 reference configures it: an LSTM (2 layers of 32 units) that
picks one op per edge in edge order, its logits divided by a temperature of 5 and squashed to
``2.5 * tanh(.)``; the op just picked, embedded, is the next step's input.

It is trained by REINFORCE between the shared-weight epochs (the reference ``train_controller``):
``controller_train_steps x controller_num_aggregate`` sampled cells, each rewarded with its
shared-weight accuracy on one augmented search-valid batch (supernet in eval mode) plus
``controller_entropy_weight`` times the sample's entropy; the loss ``-log p(cell) (R - b)`` with
the moving-average baseline ``b <- b - (1 - decay)(b - R)`` (first: the first accuracy) is
averaged over ``controller_num_aggregate`` samples per Adam step (lr 1e-3, betas (0, 0.999),
eps 1e-3), gradients clipped to norm 5. The reward here is detached, the entropy bonus included
(the reference lets the entropy term's gradient flow into the reward too). The samples of one Adam
step are drawn as one LSTM batch, where the reference draws them one at a time: the same
distribution, the same rewards in the same order (the baseline moves per sample), one backward
instead of ``controller_num_aggregate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.nn.supernet import Mixing, NB201Supernet
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.mixing import MixingPolicy
from bench_toolkit.search.differentiable.selection import path_accuracy
from bench_toolkit.search.differentiable.spaces import get_supernet_space
from bench_toolkit.spaces import darts, nb201


class LSTMController(nn.Module):
    """Samples one op index per edge, a batch of cells at once (the batch is the LSTM's); returns
    each cell's summed log-probability and entropy."""

    def __init__(self, n_ops: int, n_edges: int = len(nb201.EDGES), hidden: int = 32, layers: int = 2,
                 temperature: float = 5.0, tanh_constant: float = 2.5):
        super().__init__()
        self.n_edges, self.temperature, self.tanh_constant = n_edges, temperature, tanh_constant
        self.start = nn.Parameter(torch.empty(1, 1, hidden).uniform_(-0.1, 0.1))
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers)
        self.embed = nn.Embedding(n_ops, hidden)
        self.predict = nn.Linear(hidden, n_ops)
        for weight in (self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.embed.weight, self.predict.weight):
            nn.init.uniform_(weight, -0.1, 0.1)

    def logits(self, step_input: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One step: ``step_input`` ``(1, count, hidden)`` to squashed logits ``(count, n_ops)``."""
        out, state = self.lstm(step_input, state)
        return self.tanh_constant * torch.tanh(self.predict(out[0]) / self.temperature), state

    def sample(self, generator: torch.Generator, count: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``count`` cells drawn independently: log-probabilities ``(count,)``, entropies
        ``(count,)`` and op indices ``(count, n_edges)``."""
        step_input, state = self.start.expand(1, count, -1), None
        log_prob, entropy, picks = torch.zeros(count), torch.zeros(count), []
        for _ in range(self.n_edges):
            logits, state = self.logits(step_input, state)
            log_p = logits.log_softmax(dim=-1)
            pick = torch.multinomial(log_p.detach().exp(), 1, generator=generator)
            log_prob = log_prob + log_p.gather(1, pick).squeeze(1)
            entropy = entropy - (log_p.exp() * log_p).sum(dim=-1)
            picks.append(pick.squeeze(1))
            step_input = self.embed(pick.squeeze(1)).unsqueeze(0)
        return log_prob, entropy, torch.stack(picks, dim=1)


class GenotypeController(nn.Module):
    """ENAS's controller for cells of two-input nodes (the DARTS space; ENAS Sec. 2.3's micro
    search, as our reading with the same LSTM and squashing as :class:`LSTMController`): for the
    normal and then the reduction cell, per intermediate node four steps -- an input, its op,
    a second input (not the first), its op. Inputs and ops have their own prediction heads and
    embeddings; an input step's logits are masked to the node's predecessors. Returns the cell as
    a single path over ``n_ops`` op indices (``none`` on the edges not chosen)."""

    def __init__(self, ops: tuple[str, ...], hidden: int = 32, layers: int = 2, temperature: float = 5.0,
                 tanh_constant: float = 2.5):
        super().__init__()
        self.ops, self.none = ops, ops.index("none")
        self.real = [k for k, op in enumerate(ops) if op != "none"]
        self.temperature, self.tanh_constant = temperature, tanh_constant
        max_inputs = darts.INPUT_NODES + darts.STEPS - 1
        self.start = nn.Parameter(torch.empty(1, 1, hidden).uniform_(-0.1, 0.1))
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers)
        self.embed_op, self.embed_input = nn.Embedding(len(self.real), hidden), nn.Embedding(max_inputs, hidden)
        self.predict_op, self.predict_input = nn.Linear(hidden, len(self.real)), nn.Linear(hidden, max_inputs)
        for weight in (self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.embed_op.weight, self.embed_input.weight,
                       self.predict_op.weight, self.predict_input.weight):
            nn.init.uniform_(weight, -0.1, 0.1)

    def _step(self, step_input: torch.Tensor, state: Any, head: nn.Linear, allowed: int | None = None,
              banned: int | None = None) -> tuple[torch.Tensor, Any]:
        out, state = self.lstm(step_input, state)
        logits = self.tanh_constant * torch.tanh(head(out.view(-1)) / self.temperature)
        mask = torch.zeros_like(logits, dtype=torch.bool)
        if allowed is not None:
            mask[allowed:] = True
        if banned is not None:
            mask[banned] = True
        return logits.masked_fill(mask, float("-inf")).log_softmax(dim=-1), state

    def forward(self, generator: torch.Generator | None, greedy: bool = False) -> tuple[torch.Tensor, torch.Tensor,
                                                                                        torch.Tensor, list[tuple[int, torch.Tensor]]]:
        """``(log p, entropy, path, op distributions)``: the last lists, per chosen row, the op
        distribution the controller drew its op from (for the recorder)."""
        step_input, state = self.start, None
        log_prob, entropy = torch.zeros(()), torch.zeros(())
        path = torch.full((len(darts.EDGE_NAMES),), self.none, dtype=torch.long)
        drawn: list[tuple[int, torch.Tensor]] = []

        def pick(log_p: torch.Tensor) -> torch.Tensor:
            return log_p.argmax().view(1) if greedy else torch.multinomial(log_p.detach().exp(), 1, generator=generator)

        def entropy_of(log_p: torch.Tensor) -> torch.Tensor:
            p = log_p.exp()
            return -(p * log_p.masked_fill(p == 0, 0.0)).sum()

        for cell in range(2):
            for rows in darts.node_rows(cell):
                first = None
                for _ in range(2):
                    log_p, state = self._step(step_input, state, self.predict_input, allowed=len(rows), banned=first)
                    source = pick(log_p)
                    log_prob, entropy = log_prob + log_p[source].sum(), entropy + entropy_of(log_p)
                    step_input = self.embed_input(source).view(1, 1, -1)
                    log_p, state = self._step(step_input, state, self.predict_op)
                    op = pick(log_p)
                    log_prob, entropy = log_prob + log_p[op].sum(), entropy + entropy_of(log_p)
                    step_input = self.embed_op(op).view(1, 1, -1)
                    row = rows[int(source)]
                    path[row] = self.real[int(op)]
                    drawn.append((row, log_p.detach().exp()))
                    first = int(source)
        return log_prob, entropy, path, drawn

    def sample(self, generator: torch.Generator, count: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``count`` cells drawn one after another (their input masks differ): log-probabilities
        ``(count,)``, entropies ``(count,)`` and single paths ``(count, edges)``."""
        draws = [self(generator)[:3] for _ in range(count)]
        return tuple(torch.stack([d[k] for d in draws]) for k in range(3))  # type: ignore[return-value]


class ControllerPaths(MixingPolicy):
    """ENAS: the shared weights train on cells the controller samples (one op per edge, no
    gradient to the controller); between epochs the controller learns by REINFORCE (see the
    module docstring). alpha plays no part."""

    def __init__(self, c: SearchConfig):
        # the space's own controller (NB201: one op per edge; DARTS: two inputs and their ops per node)
        self.controller = get_supernet_space(c.space).controller(c.ops)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=c.controller_lr, betas=(0.0, 0.999), eps=1e-3)
        self.steps, self.aggregate = c.controller_train_steps, c.controller_num_aggregate
        self.entropy_weight, self.decay = c.controller_entropy_weight, c.controller_baseline_decay
        self.baseline: float | None = None

    def sample_cells(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` cells drawn from the controller, ``(count, 6)`` op indices."""
        with torch.no_grad():
            return self.controller.sample(generator, count)[2]

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        return Mixing.single_path(self.sample_cells(1, generator)[0], alpha.shape[-1], alpha)

    def distribution(self, alpha: np.ndarray, epoch: int) -> np.ndarray:
        """The controller's per-edge op distribution along its greedy path (argmax picks); for
        genotypes, the rows the greedy cell leaves out are all ``none``."""
        if isinstance(self.controller, GenotypeController):
            rows = np.zeros((len(darts.EDGE_NAMES), len(self.controller.ops)))
            rows[:, self.controller.none] = 1.0
            with torch.no_grad():
                for row, probs in self.controller(None, greedy=True)[3]:
                    rows[row] = 0.0
                    rows[row, self.controller.real] = probs.double().numpy()
            return rows
        with torch.no_grad():
            step_input, state, rows = self.controller.start, None, []
            for _ in range(self.controller.n_edges):
                logits, state = self.controller.logits(step_input, state)
                rows.append(logits[0].softmax(dim=-1).double().numpy())
                step_input = self.controller.embed(logits.argmax(dim=-1)).unsqueeze(0)
        return np.stack(rows)

    def train_between_epochs(self, model: NB201Supernet, data: PairedBatches, generator: torch.Generator,
                             epoch: int) -> dict[str, Any]:
        was_training = model.training
        model.eval()
        rewards, accuracies = [], []
        batches = data.valid_batches(generator, self.steps * self.aggregate)
        for _ in range(self.steps):
            # one Adam step on the mean of `aggregate` samples' losses -log p (R - b), the baseline
            # moving after each sample as in the reference; the samples are drawn as one batch
            log_prob, entropy, cells = self.controller.sample(generator, self.aggregate)
            advantages = []
            for cell, cell_entropy, (x, y) in zip(cells, entropy.detach().tolist(), batches):
                accuracy = path_accuracy(model, cell, x, y)
                reward = accuracy + self.entropy_weight * cell_entropy
                self.baseline = accuracy if self.baseline is None else self.baseline - (1 - self.decay) * (self.baseline - reward)
                advantages.append(reward - self.baseline)
                rewards.append(reward)
                accuracies.append(accuracy)
            self.optimizer.zero_grad(set_to_none=True)
            (-(log_prob * torch.tensor(advantages)).sum() / self.aggregate).backward()
            nn.utils.clip_grad_norm_(self.controller.parameters(), 5.0)
            self.optimizer.step()
        model.train(was_training)
        return {"controller_reward": float(np.mean(rewards)), "controller_valid_acc": 100 * float(np.mean(accuracies)),
                "controller_baseline": float(self.baseline)}

    def state_dict(self) -> dict[str, Any]:
        return {"controller": self.controller.state_dict(), "optimizer": self.optimizer.state_dict(),
                "baseline": self.baseline}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
