"""IF-NAS (Tian et al., "Exploring Complicated Search Spaces with Interleaving-Free Sampling"):
sigmoid relaxation of the L-chain space, interleaving-free sampling, the discretisation
regulariser and pruning to a multiply-add bound, as one mixing policy of the search loop.

**Relaxation** (Sec. 3.5, the reference ``model_search.py``): connection j into a node has weight
``g(beta_j)``, its op o ``g(alpha_jo)``, ``g`` the sigmoid; the node is
``(2 / m) sum_j g(beta_j) sum_o g(alpha_jo) o(x_j)`` over its m active connections
(:class:`~bench_toolkit.nn.lchain_network.LChainSupernet`).

**Sampling** (``sampling``):

- ``interleaving-free`` (Sec. 3.4, Fig. 3): after the warm-up epochs, a loop of L + 1 steps of
  ``step_iterations`` iterations each (paper: 100): first the whole supernet with the
  architecture frozen, then sub-supernets ``lambda = 0 .. L-1`` in order. Sub-supernet lambda keeps
  every pre-1 connection and every connection ending at a node of group lambda (index mod L); only
  the architecture weights of connections ending at its group's nodes are updated (the pre-1
  connections of the other nodes carry their current weights, detached). No sub-supernet holds an
  interleaved pair (:func:`bench_toolkit.spaces.lchain.sub_supernet`). Where pruning has removed
  a node's pre-1 connection, its shortest live connection takes that place.
- ``reference``: the reference code's variant -- groups by ``(node - 1) mod (L + 1)``, the group
  switching once per epoch (``epoch mod (L + 1)``), no warm-up step. (The reference also runs the
  other nodes on their pre-1 input with fixed weights 1; here they carry their detached weights,
  as above.) It differs from the paper's description; both are offered.
- ``none``: the whole supernet at every step ("w/o IF", IF-NAS Table 4; DARTS in the space).
- ``probe`` (Sec. 3.3, Fig. 1 and 8): the diagnostic of interleaving. Only the chain (every pre-1
  connection), the candidate inputs ``probe_sources`` of node ``probe_node`` and the connections
  ``probe_extra`` are computed, and only the candidates' architecture weights train; all others
  stay at their starting weights. Adding connections that interleave with the candidates shows
  how they distort the candidates' competition. (Fig. 1 also adds (3, 7), which ends at the probed
  node itself; by the paper's definition such a pair does not interleave, but the figure adds it.)

``interleaved`` = k > 0 adds to each sub-supernet k connections that interleave with it
(:func:`~bench_toolkit.spaces.lchain.interleaving_additions`, per stage), trained with its group:
IF-NAS Table 5's 1-3 interleaved connections.

Each epoch's history row also holds ``arch_one_input``, the architecture keeping one input per
node (the strongest live connection and op; Table 3), and its depth.

**Schedule** (Sec. 4.1): weights alone for ``warmup_epochs`` (paper: 20), then beta, then alpha
from ``alpha_delay`` epochs later (paper: 10); the architecture by SGD.

**Discretisation** (Eq. 3): ``R = mu1 sum_nodes sum_j ln(1 + g(beta_j) / mean g(beta))
+ mu2 sum_connections sum_o ln(1 + g(alpha_jo) / mean g(alpha_j.))``, the means over each node's
live connections and each connection's live ops; groups of one member are left out (they add a
constant, as the reference ``discretization_2operator`` skips them), and in a sub-supernet only
the group's connections count. Its gradient is added to the architecture's. ``mu1``, ``mu2`` ramp
linearly from 0 at epoch ``mu_start`` to their full values ``mu_ramp`` epochs later (the reference
ramps ``(epoch - 65) / 60 / 40`` and ``/ 30`` over its 100 epochs).

**Pruning** (Sec. 3.5): at the end of each epoch after the warm-up, connections whose ``g(beta)``
and ops whose ``g(alpha)`` are below ``threshold`` (paper 0.01, reference 0.1) are removed for
good, weakest first -- never a node's last connection or a connection's last op -- and stop once
the retained network's multiply-adds meet ``madds_bound`` (millions; 0: no bound); the search then
ends. If the bound is still unmet after the last epoch, the weakest are removed regardless of the
threshold until it is met (the paper's rule for DARTS and PC-DARTS, which do not prune gradually:
``gradual=False``). Nodes that no longer feed their stage's output are dropped with their inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bench_toolkit.nn.lchain_network import MaddsTable
from bench_toolkit.nn.supernet import Mixing
from bench_toolkit.search.differentiable.config import IF_SAMPLINGS
from bench_toolkit.search.differentiable.mixing import MixingPolicy
from bench_toolkit.spaces import lchain

def discretisation_loss(groups: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_group sum_i ln(1 + w_i / mean(w))`` over the groups of two or more weights (IF-NAS Eq. 3,
    one of its two terms)."""
    terms = [torch.log1p(w / w.mean()).sum() for w in groups if w.numel() > 1]
    return torch.stack(terms).sum() if terms else torch.zeros(())


class InterleavingFree(MixingPolicy):
    """IF-NAS's sampling, regulariser and pruning (module docstring)."""

    def __init__(self, stages: Sequence[int], L: int, sampling: str = "interleaving-free", step_iterations: int = 100,
                 warmup_epochs: int = 20, alpha_delay: int = 10, mu1: float = 1 / 40, mu2: float = 1 / 30,
                 mu_start: int = 35, mu_ramp: int = 60, threshold: float = 0.01, madds_bound: float = 0.0,
                 gradual: bool = True, epochs: int = 100, channels: int = 16, stem: str = "cifar",
                 interleaved: int = 0, probe: tuple[int, int, Sequence[int], Sequence[int]] | None = None):
        if sampling not in IF_SAMPLINGS:
            raise ValueError(f"if_sampling must be one of {', '.join(IF_SAMPLINGS)}, got {sampling!r}")
        self.stages, self.L, self.sampling, self.step_iterations = tuple(stages), L, sampling, step_iterations
        self.warmup, self.alpha_delay, self.epochs = warmup_epochs, alpha_delay, epochs
        self.mu1, self.mu2, self.mu_start, self.mu_ramp = mu1, mu2, mu_start, mu_ramp
        self.threshold, self.madds_bound, self.gradual = threshold, madds_bound, gradual
        self.channels, self.stem = channels, stem
        links = [(k, a, b) for k, stage in enumerate(lchain.stage_connections(stages, L)) for a, b in stage]
        self.links = links
        row_of = {link: r for r, link in enumerate(links)}
        groups = L + 1 if sampling == "reference" else L
        self.probe = None
        if sampling == "probe":
            stage, node, sources, extra = probe
            pairs = list(zip(extra[::2], extra[1::2]))
            wanted = [(stage - 1, source, node) for source in sources] + [(stage - 1, a, b) for a, b in pairs]
            lchain.check_connections(stages, L, [(k + 1, a, b) for k, a, b in wanted])
            self.probe = (np.isin(np.arange(len(links)), [row_of[w] for w in wanted[:len(sources)]]),
                          np.isin(np.arange(len(links)), [row_of[w] for w in wanted]))
        self.additions = [[row_of[(k, a, b)] for k, n in enumerate(stages) for a, b in lchain.interleaving_additions(
            n, L, group, interleaved)] for group in range(groups)] if interleaved and sampling == "interleaving-free" else None
        self.alive = np.ones((len(links), len(lchain.OPS)), dtype=bool)
        self.node_rows = [[r for r, (k, _, b) in enumerate(links) if (k, b) == (stage, node)]
                          for stage, n in enumerate(stages) for node in range(1, n)]
        self.step = 0
        self.epoch = 0
        self.model: Any = None
        self.madds: MaddsTable | None = None
        self.retained_madds = float("nan")

    # -- the loop's hooks ---------------------------------------------------------------------------

    def bind(self, model: Any, data: Any) -> None:
        self.model = model
        self.madds = MaddsTable(self.stages, self.L, self.channels, data.num_classes, self.stem, data.train_x.shape[-1])
        self.retained_madds = self._madds()

    def before_step(self, step: int, epoch: int) -> None:
        self.step, self.epoch = step, epoch

    def phase(self) -> int | None:
        """None: the whole supernet; -1: the warm-up step of a loop (whole supernet, architecture
        frozen); lambda >= 0: sub-supernet lambda."""
        if self.sampling == "probe":
            return 0
        if self.sampling == "none" or self.epoch < self.warmup:
            return None
        if self.sampling == "reference":
            return self.epoch % (self.L + 1)
        position = (self.step // self.step_iterations) % (self.L + 1)
        return -1 if position == 0 else position - 1

    def _group(self, node: int) -> int:
        return (node - 1) % (self.L + 1) if self.sampling == "reference" else lchain.group_of(node, self.L)

    def rows(self, phase: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The rows (connections) computed and the rows whose architecture weights train in ``phase``."""
        everything = np.ones(len(self.links), dtype=bool)
        if self.probe is not None:
            candidates, probed = self.probe
            pre1 = np.array([b - a == 1 for _, a, b in self.links])
            return pre1 | probed, candidates
        if phase is None or phase == -1:
            return everything, everything
        grouped = np.array([self._group(b) == phase for _, _, b in self.links])
        if self.additions is not None:
            grouped[self.additions[phase]] = True
        return grouped | self._backbone(), grouped

    def _backbone(self) -> np.ndarray:
        """Per node its nearest live connection: the pre-1 connection, or where pruning removed it,
        the shortest one left (which may interleave; before pruning there is none such)."""
        live = self.alive.any(axis=1)
        backbone = np.zeros(len(self.links), dtype=bool)
        for rows in self.node_rows:
            kept = [r for r in rows if live[r]]
            if kept:
                backbone[max(kept, key=lambda r: self.links[r][1])] = True
        return backbone

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        active, trained = self.rows(self.phase())
        ops = alpha.sigmoid()
        edges = self.model.edge_weights() if self.model is not None else torch.ones(len(alpha), device=alpha.device)
        if not trained.all():
            keep = torch.from_numpy(trained).to(alpha.device)
            ops = torch.where(keep[:, None], ops, ops.detach())
            edges = torch.where(keep, edges, edges.detach())
        alive = torch.from_numpy(self.alive & active[:, None])
        return Mixing(ops, alive=alive, edge_weights=edges)

    def arch_frozen(self, epoch: int) -> bool:
        return self.phase() == -1

    def mu(self, epoch: int) -> tuple[float, float]:
        ramp = min(1.0, max(0.0, (epoch - self.mu_start) / max(1, self.mu_ramp)))
        return self.mu1 * ramp, self.mu2 * ramp

    def regulariser(self, alpha: torch.Tensor, beta: torch.Tensor, epoch: int) -> torch.Tensor:
        """Eq. 3 on the connections whose architecture trains in the current phase."""
        mu1, mu2 = self.mu(epoch)
        _, trained = self.rows(self.phase())
        live_rows = self.alive.any(axis=1)
        g_beta, g_alpha = beta.sigmoid(), alpha.sigmoid()
        nodes = [g_beta[[r for r in rows if live_rows[r]]] for rows in self.node_rows if trained[rows].any()]
        ops = [g_alpha[r][torch.from_numpy(self.alive[r])] for r in range(len(self.links)) if trained[r] and live_rows[r]]
        return mu1 * discretisation_loss(nodes) + mu2 * discretisation_loss(ops)

    def adjust_arch_gradients(self, epoch: int) -> None:
        alpha, beta = self.model.alpha, self.model.beta
        if any(self.mu(epoch)):
            penalty = self.regulariser(alpha, beta, epoch)
            if penalty.requires_grad:
                for param, grad in zip((alpha, beta), torch.autograd.grad(penalty, (alpha, beta), allow_unused=True)):
                    if grad is not None:
                        param.grad = grad if param.grad is None else param.grad + grad
        if epoch < self.warmup + self.alpha_delay:
            alpha.grad = None  # beta only, for the first alpha_delay epochs (Sec. 4.1)

    def distribution(self, alpha: np.ndarray, epoch: int) -> np.ndarray:
        """Each connection's live op weights ``g(alpha)``, normalised to sum to 1 (for the
        magnitude and entropy columns)."""
        weights = np.where(self.alive, 1 / (1 + np.exp(-alpha)), 0.0)
        return weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)

    def derivable(self) -> np.ndarray:
        return self.alive.copy()

    # -- pruning ------------------------------------------------------------------------------------

    def arch(self) -> lchain.LChainArch:
        """The retained architecture: the ops still alive, nodes that feed nothing dropped."""
        return lchain.arch_from_rows(self.stages, self.L, self.alive)

    def _madds(self) -> float:
        return self.madds(self.arch()) / 1e6 if self.madds is not None else float("nan")

    def _drop_unused(self) -> None:
        used = self.arch()
        for r, (k, a, b) in enumerate(self.links):
            if not any(source == a for _, source in used.stages[k][b - 1]):
                self.alive[r] = False

    def _candidates(self, below: float) -> list[tuple[float, int, int]]:
        """(weight, row, op or -1 for the whole connection) of the live candidates under ``below``,
        weakest first."""
        with torch.no_grad():
            g_beta = self.model.beta.sigmoid().cpu().numpy()
            g_alpha = self.model.alpha.sigmoid().cpu().numpy()
        out: list[tuple[float, int, int]] = []
        for r in np.flatnonzero(self.alive.any(axis=1)):
            if g_beta[r] < below:
                out.append((float(g_beta[r]), int(r), -1))
            out += [(float(g_alpha[r, o]), int(r), int(o)) for o in np.flatnonzero(self.alive[r]) if g_alpha[r, o] < below]
        return sorted(out)

    def _remove(self, row: int, op: int) -> bool:
        if op >= 0:
            if not self.alive[row, op] or self.alive[row].sum() < 2:
                return False
            self.alive[row, op] = False
            return True
        k, _, b = self.links[row]
        node = self.node_rows[sum(n - 1 for n in self.stages[:k]) + b - 1]
        if not self.alive[row].any() or sum(self.alive[r].any() for r in node) < 2:
            return False
        self.alive[row] = False
        return True

    def _prune(self, below: float) -> None:
        for _, row, op in self._candidates(below):
            if self.madds_bound and self.retained_madds <= self.madds_bound:
                return
            if self._remove(row, op):
                self._drop_unused()
                self.retained_madds = self._madds()

    def after_epoch(self, alpha: torch.Tensor, epoch: int) -> None:
        if self.gradual and epoch >= self.warmup:
            self._prune(self.threshold)
        if epoch >= self.epochs and self.madds_bound:
            self._prune(float("inf"))  # the bound not met by the end: remove the weakest until it is

    def finished(self) -> bool:
        return bool(self.madds_bound) and self.retained_madds <= self.madds_bound

    def columns(self, epoch: int) -> dict[str, Any]:
        arch = self.arch()
        with torch.no_grad():
            g_beta = self.model.beta.sigmoid().cpu().numpy()
            g_alpha = self.model.alpha.sigmoid().cpu().numpy()
        one_input = lchain.one_input_per_node(self.stages, self.L, self.alive, g_beta, g_alpha)
        return {"madds_m": self.retained_madds, "depth": arch.depth(),
                "arch_one_input": str(one_input), "depth_one_input": one_input.depth(),
                "live_connections": sum(len(links) for links in arch.links()),
                "live_ops": int(sum(len(pairs) for stage in arch.stages for pairs in stage)),
                "interleaved_pairs": arch.interleaved_pairs(),
                "mu1": self.mu(epoch - 1)[0], "mu2": self.mu(epoch - 1)[1]}

    def state_dict(self) -> dict[str, Any]:
        return {"alive": self.alive.copy(), "retained_madds": self.retained_madds}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alive = np.array(state["alive"], dtype=bool)
        self.retained_madds = float(state["retained_madds"])
