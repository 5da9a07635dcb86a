"""The FFN's non-linearity: ReLU, exact GELU (erf), the tanh approximation of GELU, and the curves a learner
may try instead (tanh, sigmoid, square, exp, or none: the layer stays linear)."""

import math

import numpy as np

from stepper.trace import Formula

# in the mlp the arrays are z → h (dh, z → dz), in the transformer's FFN H → G
ROLES = (("H", "in 0"), ("G", "out 0"))
GRAD_ROLES = (("dG", "in 0"), ("H", "in 1"), ("dH", "out 0"))

FORMULAS = {
    "relu": Formula(
        plain="G = max(0, H)",
        latex=r"G = \max(0, H)",
        meaning="ReLU keeps positive values and zeroes the rest: the bend that lets the network learn non-linear patterns.",
        roles=ROLES,
    ),
    "gelu": Formula(
        plain="G = H ⊙ Φ(H),  Φ(H) = ½(1 + erf(H/√2))   (⊙: entry by entry)",
        latex=r"G = H\,\Phi(H) = \tfrac{1}{2} H \left(1 + \operatorname{erf}\!\left(H/\sqrt{2}\right)\right)",
        meaning="GELU scales each value by the chance a standard normal is below it: a smooth ReLU that lets small negatives through a little.",
        roles=ROLES,
    ),
    "gelu_tanh": Formula(
        plain="G = ½ H ⊙ (1 + tanh(√(2/π)·(H + 0.044715·H³)))   (⊙, ³: entry by entry)",
        latex=r"G = \tfrac{1}{2} H \left(1 + \tanh\!\left(\sqrt{2/\pi}\,(H + 0.044715 H^3)\right)\right)",
        meaning="The tanh approximation of GELU used by GPT-2: nearly the same curve, cheaper to compute.",
        roles=ROLES,
    ),
    "tanh": Formula(plain="G = tanh(H)", latex=r"G = \tanh(H)",
                    meaning="tanh squashes every value into (−1, 1): smooth and zero-centred, but flat for large |H|.",
                    roles=ROLES),
    "sigmoid": Formula(plain="G = σ(H) = 1 / (1 + e^(−H))", latex=r"G = \sigma(H) = \frac{1}{1 + e^{-H}}",
                       meaning="The sigmoid squashes every value into (0, 1): a soft on/off switch, flat at both ends.",
                       roles=ROLES),
    "square": Formula(plain="G = H ⊙ H   (entry by entry)", latex=r"G = H \odot H",
                      meaning="Squaring bends every value upward and forgets its sign: −2 and 2 both give 4.",
                      roles=ROLES),
    "exp": Formula(plain="G = e^H   (entry by entry)", latex=r"G = e^{H}",
                   meaning="eˣ makes every value positive and grows fast: a large H gives a huge G.", roles=ROLES),
    "none": Formula(plain="G = H", latex=r"G = H", meaning="No activation: the layer stays linear.",
                    roles=ROLES),
}
GRAD_FORMULAS = {
    "relu": Formula(plain="dH = dG ⊙ [H > 0]", latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}\odot \mathbb{1}[H>0]",
                    meaning="Gradient passes where the unit was active and stops where it was cut to zero.", roles=GRAD_ROLES),
    "gelu": Formula(plain="dH = dG ⊙ (Φ(H) + H ⊙ φ(H))", latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}\odot\big(\Phi(H) + H\,\varphi(H)\big)",
                    meaning="The GELU slope: the normal CDF plus the input times the normal density.", roles=GRAD_ROLES),
    "gelu_tanh": Formula(
        plain="dH = dG ⊙ (½(1 + tanh u) + ½ H ⊙ (1 − tanh² u)·√(2/π) ⊙ (1 + 3·0.044715·H²)),  u = √(2/π)(H + 0.044715·H³)",
        latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}\odot\Big(\tfrac12(1+\tanh u) + \tfrac12 H (1-\tanh^2 u)\sqrt{2/\pi}\,(1 + 0.134145 H^2)\Big)",
        meaning="The chain rule through the tanh curve.", roles=GRAD_ROLES),
    "tanh": Formula(plain="dH = dG ⊙ (1 − tanh²(H))",
                    latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}\odot\big(1 - \tanh^2 H\big)",
                    meaning="The tanh slope is 1 at 0 and near 0 where the curve is flat: the gradient fades there.",
                    roles=GRAD_ROLES),
    "sigmoid": Formula(plain="dH = dG ⊙ σ(H) ⊙ (1 − σ(H))",
                       latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}\odot\sigma(H)\big(1 - \sigma(H)\big)",
                       meaning="The sigmoid slope is at most ¼ (at 0): every layer of sigmoids shrinks the gradient.",
                       roles=GRAD_ROLES),
    "square": Formula(plain="dH = dG ⊙ 2H", latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}\odot 2H",
                      meaning="The slope of H² is 2H: it grows with H, and is 0 at H = 0.", roles=GRAD_ROLES),
    "exp": Formula(plain="dH = dG ⊙ e^H", latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}\odot e^{H}",
                   meaning="eˣ is its own slope: the gradient grows as fast as the value.", roles=GRAD_ROLES),
    "none": Formula(plain="dH = dG", latex=r"\frac{\partial L}{\partial H} = \frac{\partial L}{\partial G}", meaning="Identity.", roles=GRAD_ROLES),
}



def forward_name(kind: str) -> str:
    """The activation in a step title: its own name, or "no activation" for the identity."""
    return "no activation" if kind == "none" else kind


def backward_title(kind: str) -> str:
    """The step back through the activation, as a title reads it ("through the relu")."""
    return "no activation, so the gradient passes unchanged" if kind == "none" else f"through the {kind}"


_erf = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf; math.erf is correctly rounded
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def forward(h: np.ndarray, kind: str):
    if kind == "relu":
        return np.maximum(h, 0.0), (kind, h, None)  # [T, F]
    if kind == "gelu":
        cdf = 0.5 * (1.0 + np.asarray(_erf(h / math.sqrt(2.0)), dtype=np.float64))  # [T, F] Φ(H)
        return h * cdf, (kind, h, cdf)  # [T, F]
    if kind == "gelu_tanh":
        # h·h·h, not h**3: numpy's float power is ~100× slower than two multiplies
        th = np.tanh(_SQRT_2_OVER_PI * (h + 0.044715 * (h * h * h)))  # [T, F]
        return 0.5 * h * (1.0 + th), (kind, h, th)  # [T, F]
    if kind == "tanh":
        g = np.tanh(h)  # [T, F]
        return g, (kind, h, g)
    if kind == "sigmoid":
        g = _sigmoid(h)  # [T, F]
        return g, (kind, h, g)
    if kind == "square":
        return h * h, (kind, h, None)  # [T, F]
    if kind == "exp":
        g = np.exp(h)  # [T, F]; overflows to inf for H > 709, as torch.exp does
        return g, (kind, h, g)
    return h, (kind, h, None)


def _sigmoid(h: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−h), written so that e^−h never overflows: for h < 0 it is e^h / (1 + e^h)."""
    e = np.exp(-np.abs(h))  # in (0, 1]
    return np.where(h >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def backward(dg: np.ndarray, cache) -> np.ndarray:
    kind, h, aux = cache
    if kind == "relu":
        return dg * (h > 0)  # [T, F]
    if kind == "gelu":
        # φ(40) = e^-800 is already 0 in float64: clipping first changes no value, but keeps H² of a
        # huge H (a wide model with init.std 100) from overflowing on its way to that 0
        near = np.clip(h, -40.0, 40.0)  # [T, F]
        pdf = np.exp(-0.5 * near * near) / math.sqrt(2.0 * math.pi)  # [T, F] φ(H)
        return dg * (aux + h * pdf)  # [T, F]
    if kind == "gelu_tanh":
        # the formula term by term, in place on two arrays of our own: on GPT-2 small's [64, 3072]
        # the ten temporaries of the one-line form cost four times the arithmetic
        du = np.multiply(h, h, out=np.empty(np.shape(h)))
        du *= 3 * 0.044715
        du += 1.0
        du *= _SQRT_2_OVER_PI  # du/dH = √(2/π)(1 + 3·0.044715·H²)
        slope = np.multiply(aux, aux, out=np.empty(np.shape(h)))
        np.subtract(1.0, slope, out=slope)  # 1 − tanh² u
        slope *= h
        slope *= du
        slope *= 0.5  # ½ H (1 − tanh² u) du
        np.multiply(aux, 0.5, out=du)
        slope += du
        slope += 0.5  # dG/dH = ½(1 + tanh u) + ½ H (1 − tanh² u) du
        return slope * dg  # dH, by the chain rule (dg may broadcast against H)
    if kind == "tanh":
        return dg * (1.0 - aux * aux)  # [T, F]
    if kind == "sigmoid":
        return dg * (aux * (1.0 - aux))  # [T, F]
    if kind == "square":
        return dg * (2.0 * h)  # [T, F]
    if kind == "exp":
        return dg * aux  # [T, F]
    return dg
