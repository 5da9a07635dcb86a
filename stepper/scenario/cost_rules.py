"""How many floating-point operations one stage costs, from its shapes alone (docs/cost.md).

Pure arithmetic, no arrays: the cost model (cost.py) calls these with the shapes a model config
implies, and the present layer (present/cost.py) with the shapes a recorded step has, so a step's
FLOPs and the scenario's table are one count. Conventions:

- a matmul [m, k]·[k, n] costs 2·m·k·n (a multiply and an add per term), as
  torch.utils.flop_counter counts it; a bias add is counted apart, one per output element;
- a stage that is no matmul costs a fixed number of FLOPs per element of what it makes
  (PER_ELEMENT below): rough, since exp or erf are not one operation, but of the right size;
- a backward matmul stage makes two products (dX = dY·Wᵀ and dW = Xᵀ·dY), each the forward's size.
"""

from __future__ import annotations

from math import prod

BYTES = 8  # float64

# FLOPs per element made, (forward, backward), for the stages that are no matmul
PER_ELEMENT = {
    "positional": (1, 0),  # X = E + PE; backward passes dX on unchanged
    "scale": (1, 1),
    "temperature": (1, 1),  # cosine attention's ÷ τ
    "normalize": (3, 5),  # x², their sum, x / ‖x‖; backward dX̂ · X̂, subtract, multiply, divide
    "mask": (1, 1),
    "softmax": (5, 4),  # max, subtract, exp, sum, divide; backward A ⊙ (dA − Σ A ⊙ dA)
    "residual": (1, 0),  # an add; backward hands the same gradient to both branches
    "merge": (1, 1),  # adds the gradients of several paths: counted once per element made
    "layernorm": (8, 12),  # mean, centre, square, mean, root, divide, γ, β
    "batchnorm": (8, 12),
    "activation": (8, 4),  # gelu's erf and products; relu would be fewer
    "dropout": (1, 1),
    "pooling": (1, 1),
    "heads": (0, 0),  # a reshape
    "embedding": (0, 1),  # a lookup; backward adds each row's gradient into the table
    "loss": (5, 2),  # softmax and a log; backward p − onehot, divided by N
}


def size(shape: tuple[int, ...]) -> int:
    return prod(shape)


def matmul(out_shape: tuple[int, ...], inner: int) -> int:
    """The FLOPs of a product whose result has `out_shape`, summing `inner` terms per entry."""
    return 2 * size(out_shape) * inner


def elementwise(stage: str, phase: str, made: int) -> int:
    """`made`: the elements the stage writes."""
    forward, backward = PER_ELEMENT.get(stage, (0, 0))
    return (forward if phase == "forward" else backward) * made


def linear_forward(x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: bool, *,
                   transposed: bool = False) -> int:
    """Y = X·W (+ b); `transposed`: W is stored [n, k] (a tied head multiplies by Eᵀ)."""
    n = w_shape[0] if transposed else w_shape[-1]
    out = (*x_shape[:-1], n)
    return matmul(out, x_shape[-1]) + (size(out) if bias else 0)


def linear_backward(x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: bool, *,
                    transposed: bool = False) -> int:
    """dX = dY·Wᵀ and dW = Xᵀ·dY, each as big as the forward product, and db = Σ dY."""
    n = w_shape[0] if transposed else w_shape[-1]
    out = (*x_shape[:-1], n)
    return 2 * matmul(out, x_shape[-1]) + (size(out) if bias else 0)
