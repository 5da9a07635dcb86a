"""LayerNorm over each row's d_model features (biased variance, as torch's LayerNorm)."""

import numpy as np

from stepper.trace import Formula

FORMULA = Formula(
    plain="y = (x − mean) / √(var + ε) · γ + β",
    latex=r"y = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}} \odot \gamma + \beta",
    meaning="Each token's vector is re-centred to mean 0 and rescaled to variance 1, then stretched and shifted by learned γ, β.",
)
GRAD_FORMULA = Formula(
    plain="dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / √(var + ε),  dx̂ = dy·γ,  dγ = Σ dy·x̂,  dβ = Σ dy",
    latex=r"\frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\Big(g - \overline{g} - \hat x\,\overline{g \odot \hat x}\Big),\ g = \frac{\partial L}{\partial y}\odot\gamma,\quad \frac{\partial L}{\partial \gamma} = \sum_t \frac{\partial L}{\partial y_t}\odot \hat x_t,\quad \frac{\partial L}{\partial \beta} = \sum_t \frac{\partial L}{\partial y_t}",
    meaning="Because the mean and variance depend on every entry, the input gradient has the part that would shift or rescale the row removed.",
)


def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    mu = x.mean(axis=-1, keepdims=True)  # [T, 1]
    xc = x - mu  # [T, D]
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + eps)  # [T, 1]
    xhat = xc * rstd  # [T, D]
    y = xhat * gamma + beta  # [T, D]
    return y, (xhat, rstd, gamma)


def backward(dy: np.ndarray, cache):
    """Returns (dx, dgamma, dbeta)."""
    xhat, rstd, gamma = cache
    g = dy * gamma  # [T, D]
    dx = rstd * (g - g.mean(axis=-1, keepdims=True)
                 - xhat * (g * xhat).mean(axis=-1, keepdims=True))  # [T, D]
    dgamma = (dy * xhat).sum(axis=0)  # [D]
    dbeta = dy.sum(axis=0)  # [D]
    return dx, dgamma, dbeta
