"""Training in the reference: torch.optim's own SGD / Adam stepping torch's own model.

Gives `upd1:NAME` (each parameter after the first update), `upd1:NAME:v` (momentum buffer),
`upd1:NAME:m` / `upd1:NAME:s` (Adam's two moments) and `train.losses` (loss before and after
every update), to be compared with the engine's update steps.
"""

from __future__ import annotations

import numpy as np
import torch

from stepper.verify.graph import Graph


def _optimizer(cfg, tensors: list[torch.Tensor]) -> torch.optim.Optimizer:
    if cfg.kind == "adam":
        return torch.optim.Adam(tensors, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    momentum = cfg.momentum if cfg.kind == "momentum" else 0.0
    return torch.optim.SGD(tensors, lr=cfg.lr, momentum=momentum, dampening=0.0)


def train_reference(scenario, build_loss, first_grads: dict[str, np.ndarray] | None = None
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """`build_loss(graph)` adds the model and its loss to a Graph whose parameters are set.

    `first_grads`, when given, are the (already verified) gradients the first update is applied
    to, so that update checks torch.optim's rule on exactly the engine's inputs.
    Returns (keyed values, the trained parameters).
    """
    cfg = scenario.optim
    params = {n: torch.tensor(np.array(v, dtype=np.float64), requires_grad=True)
              for n, v in scenario.params.items()}
    opt = _optimizer(cfg, list(params.values()))
    if cfg.kind == "momentum":
        # torch starts its buffer at the first gradient; a preset buffer makes it use v ← βv + g
        # from the scenario's initial velocity (zeros unless given), exactly the textbook rule
        for name, p in params.items():
            v0 = cfg.velocity.get(name)
            opt.state[p]["momentum_buffer"] = (torch.tensor(np.array(v0, dtype=np.float64)) if v0 is not None
                                               else torch.zeros_like(p))

    def loss_now() -> torch.Tensor:
        g = Graph()
        for name, p in params.items():
            g.nodes[name] = p
            g.params.add(name)
        build_loss(g)
        return g.nodes["loss"]

    out: dict[str, np.ndarray] = {}
    losses = []
    for t in range(1, cfg.steps + 1):
        opt.zero_grad()
        loss = loss_now()
        losses.append(loss.item())
        loss.backward()
        if t == 1 and first_grads is not None:
            for name, p in params.items():
                p.grad = torch.from_numpy(np.array(first_grads[name], dtype=np.float64))
        opt.step()
        if t == 1:
            for name, p in params.items():
                out[f"upd1:{name}"] = p.detach().numpy().copy()
                state = opt.state[p]
                for ours, theirs in (("v", "momentum_buffer"), ("m", "exp_avg"), ("s", "exp_avg_sq")):
                    if theirs in state and state[theirs] is not None:
                        out[f"upd1:{name}:{ours}"] = state[theirs].detach().numpy().copy()
                if cfg.kind == "momentum" and cfg.momentum == 0:
                    # torch's SGD skips its buffer when β = 0 (leaving the preset one untouched); the
                    # velocity it stands for is v = 0·v + g = g, the gradient it just stepped with
                    out[f"upd1:{name}:v"] = p.grad.detach().numpy().copy()
    with torch.no_grad():
        losses.append(loss_now().item())
    out["train.losses"] = np.array(losses)
    return out, {name: p.detach().numpy().copy() for name, p in params.items()}
