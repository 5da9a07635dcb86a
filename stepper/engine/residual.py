"""Residual connection: the sublayer's output is added to its input."""

from stepper.trace import Formula

FORMULA = Formula(
    plain="R = X + F(X)",
    latex=r"R = X + F(X)",
    meaning="The input skips past the sublayer and is added back, so the block only has to learn a correction.",
    roles=(("F(X)", "in 1"),),
)
GRAD_FORMULA = Formula(
    plain="dX (skip path) = dR,  dF = dR",
    latex=r"\frac{\partial L}{\partial X}\Big|_{\mathrm{skip}} = \frac{\partial L}{\partial R},\quad \frac{\partial L}{\partial F} = \frac{\partial L}{\partial R}",
    meaning="The gradient reaches the input untouched along the skip path: this identity is why deep stacks still train.",
    roles=(("dF", "out 0"),),
)
MERGE_FORMULA = Formula(
    plain="dX = Σ over every path from X",
    latex=r"\frac{\partial L}{\partial X} = \sum_{\text{paths}} \frac{\partial L}{\partial X}\Big|_{\text{path}}",
    meaning="X was used by several operations; its total gradient is the sum of what each one sends back.",
)


def forward(x, fx):
    return x + fx, None  # [T, D]


def backward(dr, cache):
    return dr, dr
