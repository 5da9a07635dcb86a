"""One check for every engine stage against torch: forward value and every gradient, float64.

The idea of tinygrad's `helper_test_op`: the same random inputs go through the engine's numpy
forward and through torch's own function; one random upstream gradient goes back through the
engine's backward and through torch's autograd; the output and each input's gradient must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

TOL = 1e-12  # absolute for numbers up to 1, relative beyond: float64 round-off of a few operations


def assert_close(ours, theirs, what: str = "", tol: float = TOL) -> None:
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, torch {theirs.shape}"
    same = ours == theirs  # equal, a mask's −∞ included; a NaN or an unequal ∞ stays an error
    err = np.zeros(np.broadcast_shapes(ours.shape, theirs.shape))
    np.subtract(ours, theirs, out=err, where=~same)
    scale = np.maximum(1.0, np.abs(np.where(np.isfinite(theirs), theirs, 1.0)))
    worst = np.max(np.abs(err) / scale, initial=0.0)
    assert worst <= tol, f"{what}: off by {worst:.3g} (relative past 1), more than {tol:g}"


def check_stage(inputs: Sequence[np.ndarray | tuple[int, ...]], forward: Callable, backward: Callable,
                torch_fn: Callable, *, seed: int = 0, tol: float = TOL):
    """`forward(*arrays) -> (out, cache)`, `backward(d_out, cache) ->` one gradient per input (a
    tuple, or the gradient itself for one input), `torch_fn(*tensors) -> tensor`. An input given as
    a shape is drawn from a seeded normal distribution. Inputs that are not differentiated (token
    ids, masks) belong in the closures. Returns the engine's output and gradients for further checks."""
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=x) if isinstance(x, tuple) else np.array(x, dtype=np.float64) for x in inputs]
    out, cache = forward(*arrays)
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    t_out = torch_fn(*tensors)
    assert_close(out, t_out, "forward", tol)

    d_out = rng.normal(size=np.shape(out))
    t_out.backward(torch.tensor(d_out, dtype=torch.float64))
    grads = backward(d_out, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(arrays), f"{len(grads)} gradients for {len(arrays)} inputs"
    for n, (g, t) in enumerate(zip(grads, tensors, strict=True)):
        assert_close(g, t.grad if t.grad is not None else torch.zeros_like(t), f"gradient of input {n}", tol)
    return out, grads
