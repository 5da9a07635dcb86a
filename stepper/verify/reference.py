"""The independent PyTorch float64 reference: `torch_reference(scenario) -> Reference`.

Forward as docs/trace-keys.md defines each quantity, with torch's own functions, then one autograd backward. Nothing
here knows how the engine computes anything; the two meet only at the keys of
docs/trace-keys.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F

from stepper.scenario.types import Scenario
from stepper.trace import Trace
from stepper.verify.graph import Graph, OnGrad, Reference
from stepper.verify.reference_mlp import build_mlp
from stepper.verify.reference_transformer import build_transformer, pad_id

__all__ = ["Reference", "finish_reference", "reference_graph", "torch_reference"]


def torch_reference(scenario: Scenario, given: Trace | None = None, on_grad: OnGrad | None = None) -> Reference:
    """Torch's own forward, backward, training and generation for `scenario`.

    With `given` (the engine's trace), the steps that come after a verified stage start from
    the engine's verified values, so each is checked on its own: the first optimizer update
    is applied to the engine's gradients, and generation after training uses the engine's
    trained weights. Without that, roundoff-sized gradient noise (e.g. the gradient of b_K,
    which is exactly zero in exact arithmetic) is multiplied by Adam's lr/ε ≈ 10⁷ and every
    later number would differ for reasons that are not errors.

    `on_grad` sees each parameter gradient as the backward pass finishes it (see `Graph`).
    """
    graph = reference_graph(scenario, taps=partial_keys(given) if given is not None else set(), on_grad=on_grad)
    return finish_reference(graph, scenario, given)


def reference_graph(scenario: Scenario, taps: set[tuple[str, str]] = frozenset(), on_grad: OnGrad | None = None,
                    tap_shared: bool = False, forward_done: Callable[[Graph], None] | None = None,
                    interrupt: Callable[[], None] | None = None) -> Graph:
    """Torch's forward and its one backward pass, on their own: all that needs no engine result,
    so it may run while the engine works (`tap_shared`, `interrupt`: see `Graph`).

    `forward_done(graph)` is called between the two: from then on the graph's forward values
    are final and may be read, from another thread too, while the backward pass runs.
    """
    g = Graph(taps=taps, on_grad=on_grad, tap_shared=tap_shared, interrupt=interrupt)
    for name, value in scenario.params.items():
        g.param(name, value)
    with torch.enable_grad():
        _build(g, scenario)
        if forward_done is not None:
            forward_done(g)
        g.backward("loss")
    return g


def finish_reference(g: Graph, scenario: Scenario, given: Trace | None = None) -> Reference:
    """The `Reference` of a graph from `reference_graph`, with torch.optim's training and the
    generation the scenario asks for (see `torch_reference` for `given`)."""
    extra, training, running = {}, (), None
    if scenario.bpe is not None:
        from stepper.verify.reference_bpe import bpe_reference

        extra.update(bpe_reference(scenario))
    with torch.enable_grad():
        if scenario.optim is not None:
            from stepper.verify.reference_training import training_reference

            made, training, trained, running = training_reference(scenario, given,
                                                                  lambda graph, sc: _build(graph, sc))
            extra.update(made)
            # a model that trains generates with what it learned (weights and BatchNorm statistics), each
            # checked against torch's run above; the engine's are used so that decoding is compared alone
            if given is not None and given.trained:
                trained, running = given.trained, given.training.running
            scenario = dataclasses.replace(scenario, params=trained)
        if scenario.generate is not None:
            from stepper.verify.reference_generate import generate_reference

            extra.update(generate_reference(scenario, running))
    return Reference(g, extra=extra, training=training)


def partial_keys(trace: Trace) -> set[tuple[str, str]]:
    """The (IN, OUT) of every `d:IN<-OUT` the trace will ask for."""
    keys = {t.key for step in trace.steps for t in step.outputs.values() if t.key and "<-" in t.key}
    return {tuple(k[2:].split("<-", 1)) for k in keys}


def _build(g: Graph, scenario: Scenario) -> None:
    """The model and its loss, on a graph whose parameters are already set."""
    if scenario.model.kind == "mlp":
        out = build_mlp(g, scenario)
        if scenario.task.kind != "regress":
            out = g.alias("logits", out)
    elif scenario.model.kind == "seq2seq":
        from stepper.verify.reference_seq2seq import build_seq2seq

        out = build_seq2seq(g, scenario)
    else:
        out = build_transformer(g, scenario)
    _loss(g, scenario, out)


def _loss(g: Graph, scenario: Scenario, out: str) -> None:
    task = scenario.task
    if task.kind == "regress":
        target = torch.tensor(task.target, dtype=torch.float64)
        pred = g.alias("pred", out)
        g.op("loss", lambda p: F.mse_loss(p, target.reshape(p.shape)), pred)
        return
    g.op("probs", lambda z: torch.softmax(z, dim=-1), out)
    # the loss is torch's cross_entropy on the logits (its log-softmax), not a log of `probs`: where
    # a probability underflows to 0, log(p) is −∞ and its gradient NaN, though the loss is finite
    if task.kind in ("next_token", "seq2seq"):  # seq2seq: the decoder reads target[:-1], predicts target[1:]
        targets = torch.tensor(scenario.token_ids[1:], dtype=torch.long)
        pad = pad_id(scenario)
        ignore = pad if pad is not None else -100
        g.op("loss", lambda z: F.cross_entropy(z, targets, ignore_index=ignore), out)
    elif task.labels:  # a batch of examples, one label each
        labels = torch.tensor(task.label_indices, dtype=torch.long)
        g.op("loss", lambda z: F.cross_entropy(z, labels), out)
    else:
        label = torch.tensor([task.label_index], dtype=torch.long)
        g.op("loss", lambda z: F.cross_entropy(z[None], label), out)
    g.op("perplexity", torch.exp, "loss")  # every cross-entropy's perplexity, checked like the loss
