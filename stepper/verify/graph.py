"""A keyed torch graph: every named quantity of the model, and the one operation that made it.

The reference model is built out of `Graph.op` calls, so each key remembers the torch
function that produced it and the keys it was produced from. That is what makes
`d:IN<-OUT` answerable: the part of dLoss/dIN flowing back through OUT alone is the
vector-Jacobian product of OUT's own operation, which is not the same as
`torch.autograd.grad(OUT, IN)` when OUT also depends on IN by a longer road (a residual
`x + attn(x)`, or a tied head whose embedding also fed the input).

Edges named up front (`taps`), or with `tap_shared` every edge out of a quantity that more
than one operation uses, are read off the one backward pass; any other is answered by
re-running OUT's operation alone.

An `on_grad` callback sees each parameter's gradient the moment the backward pass finishes it
and may let it go at once (the checker compares it there): a large model's gradients are
then never all held twice, once by the engine and once here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch

OnGrad = Callable[[str, np.ndarray], bool]  # (parameter, its finished gradient) -> may it be let go?


class Graph:
    def __init__(self, taps: set[tuple[str, str]] = frozenset(), on_grad: OnGrad | None = None,
                 tap_shared: bool = False, interrupt: Callable[[], None] | None = None,
                 norm_statistics: dict | None = None) -> None:
        """`taps`: (IN, OUT) edges whose share of dLoss/dIN the one backward should capture.

        `tap_shared`: also every edge out of a quantity used by more than one operation (the
        residual branch points, a tied embedding), for a reference built before anyone could
        say which edges it will be asked for.

        `on_grad`: called with each parameter's gradient as soon as it is final.

        `interrupt`: called before each operation; it may raise to abandon the graph (see
        `verify.side_by_side`, whose thread must leave torch when the engine's side fails).

        `norm_statistics`: a graph in evaluation mode (generation): BatchNorm normalises with these
        running statistics by norm ("layers.0.ln1" → (mean, var); a norm not named: mean 0, variance 1).
        """
        self.nodes: dict[str, torch.Tensor] = {}
        self.ops: dict[str, tuple[Callable[..., torch.Tensor], tuple[str, ...]]] = {}
        self.params: set[str] = set()
        self.taps = set(taps)
        self.tap_shared = tap_shared
        self._views: dict[tuple[str, str], torch.Tensor] = {}  # tappable edges, retained or not
        self.edges: dict[tuple[str, str], torch.Tensor] = {}  # the tapped ones, with their gradients
        self.grad_hook = _GradHook(on_grad) if on_grad is not None else None
        self.interrupt = interrupt
        self.norm_statistics = norm_statistics

    @property
    def let_go(self) -> set[str]:
        """Parameters whose gradient `on_grad` took and let go."""
        return self.grad_hook.done if self.grad_hook is not None else set()

    def param(self, name: str, value: np.ndarray) -> None:
        # shares memory with the scenario's array (no copy of a large model); nothing here writes to it
        node = torch.from_numpy(np.asarray(value, dtype=np.float64)).requires_grad_(True)
        self.nodes[name] = node
        self.params.add(name)
        if self.grad_hook is not None:
            # one AccumulateGrad per leaf sums every use first, so this runs once per backward, when final
            node.register_post_accumulate_grad_hook(functools.partial(self.grad_hook, name))

    def constant(self, key: str, value: torch.Tensor) -> None:
        # a leaf that still collects a gradient, so `d:pos` exists for a sinusoidal table too
        self.nodes[key] = value.detach().to(torch.float64).requires_grad_(True)

    def op(self, key: str, fn: Callable[..., torch.Tensor], *inputs: str) -> str:
        if self.interrupt is not None:
            self.interrupt()
        args: dict[str, torch.Tensor] = {}
        for k in inputs:  # one tapped view per input, even when the operation uses it twice
            if k not in args:
                args[k] = self._edge(k, key)
        out = fn(*(args[k] for k in inputs))
        if out.requires_grad:  # not under no_grad, e.g. the training reference's last loss
            out.retain_grad()
        self.nodes[key] = out
        self.ops[key] = (fn, inputs)
        return key

    def _edge(self, inp: str, out: str) -> torch.Tensor:
        node = self.nodes[inp]
        if not node.requires_grad or not (self.tap_shared or (inp, out) in self.taps):
            return node
        # a view used by this one operation only: autograd hands it exactly the gradient that
        # flows back from OUT to IN, i.e. `d:IN<-OUT`, with no second pass over the operation
        edge = node.view_as(node)
        self._views[(inp, out)] = edge
        return edge

    def backward(self, key: str = "loss") -> None:
        """One backward pass from `key`, capturing the gradient of every tapped edge on the way."""
        users: dict[str, int] = {}
        for inp, _ in self._views:
            users[inp] = users.get(inp, 0) + 1
        for (inp, out), edge in self._views.items():
            if (inp, out) in self.taps or (self.tap_shared and users[inp] > 1):
                edge.retain_grad()
                self.edges[(inp, out)] = edge
        self._views.clear()  # an edge left untapped is only a view: the graph keeps what it needs
        self.nodes[key].backward(retain_graph=True)

    def alias(self, key: str, source: str) -> str:
        """`key` is the same numbers as `source`, as its own node (e.g. `pred` = the last `z`)."""
        return self.op(key, torch.clone, source)


class _GradHook:
    """The hook behind `Graph(on_grad=...)`: it holds no tensor and no graph, so no cycle keeps either alive."""

    def __init__(self, on_grad: OnGrad) -> None:
        self.on_grad = on_grad
        self.done: set[str] = set()

    def __call__(self, name: str, node: torch.Tensor) -> None:
        if self.on_grad(name, node.grad.detach().numpy()):
            node.grad = None  # its memory goes to the next parameter's gradient instead of fresh pages
            self.done.add(name)


class Reference:
    """The reference's answers by key: forward values, `d:KEY` and `d:IN<-OUT`."""

    def __init__(self, graph: Graph, loss_key: str = "loss", extra: dict[str, np.ndarray] | None = None,
                 training: tuple = ()) -> None:
        self._g = graph
        # training on a data set: one Check per figure over every update (verify/training_check.py)
        self.training = tuple(training)
        self._loss_key = loss_key
        # values computed outside the graph, e.g. by torch.optim (`upd1:…`, `train.losses`)
        self._cache: dict[str, np.ndarray] = dict(extra or {})

    @property
    def loss(self) -> float:
        return float(self._g.nodes[self._loss_key].detach())

    @property
    def param_names(self) -> list[str]:
        return [name for name in self._g.nodes if name in self._g.params]

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {name: self.get("d:" + name) for name in self.param_names}

    def keys(self) -> list[str]:
        """Every forward key (activations and parameter names) the reference knows."""
        return list(self._g.nodes)

    def get(self, key: str) -> np.ndarray:
        if key not in self._cache:
            value = self._compute(key)
            value.flags.writeable = False  # shared by every caller, so nobody may change it
            self._cache[key] = value
        return self._cache[key]

    def _compute(self, key: str) -> np.ndarray:
        if not key.startswith("d:"):
            return self._node(key, key).detach().numpy()
        body = key[2:]
        if body in self._g.let_go:
            raise KeyError(f"`{key}` was compared as the backward pass made it, and then let go")
        if "<-" not in body:
            node = self._node(body, key)
            return _numpy(node.grad, node)
        inp, out = body.split("<-", 1)
        if (inp, out) in self._g.edges:
            edge = self._g.edges[(inp, out)]
            return _numpy(edge.grad, edge)
        return self._partial(inp, out, key)

    def _node(self, name: str, key: str) -> torch.Tensor:
        try:
            return self._g.nodes[name]
        except KeyError:
            raise KeyError(f"reference has no quantity `{name}` (asked for `{key}`); "
                           f"known keys: {', '.join(self._g.nodes)}") from None

    def _partial(self, inp: str, out: str, key: str) -> np.ndarray:
        self._node(inp, key)
        out_node = self._node(out, key)
        if out not in self._g.ops:
            raise KeyError(f"`{key}`: `{out}` is a parameter or input, nothing flows back through it")
        fn, inputs = self._g.ops[out]
        if inp not in inputs:
            raise KeyError(f"`{key}`: `{inp}` is not a direct input of `{out}` "
                           f"(its inputs are: {', '.join(inputs)})")
        # re-run OUT's operation alone, with IN the only thing that carries a gradient
        # detach() shares storage, so nothing large is copied; the op below only reads its inputs
        local = {k: self._g.nodes[k].detach().requires_grad_(k == inp) for k in set(inputs)}
        with torch.enable_grad():
            out_local = fn(*(local[k] for k in inputs))
            upstream = out_node.grad if out_node.grad is not None else torch.zeros_like(out_local)
            # Σ(OUT·upstream) has the VJP as its gradient, exactly (the product's backward multiplies
            # upstream by 1.0); a scalar root also spares torch's first `grad_outputs=` call, which
            # imports sympy for its shape check (0.3–0.6 s)
            (grad,) = torch.autograd.grad((out_local * upstream).sum(), local[inp], allow_unused=True)
        return _numpy(grad, local[inp])


def _numpy(grad: torch.Tensor | None, like: torch.Tensor) -> np.ndarray:
    # no gradient at all means the loss does not depend on it: zero, not an error
    if grad is None:
        return np.zeros(tuple(like.shape), dtype=np.float64)
    return grad.detach().numpy()
