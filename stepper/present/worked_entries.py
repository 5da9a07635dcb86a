"""One entry of a forward or backward step recomputed from its inputs, in numbers (see worked.py).

It binds the formula's symbols to values (`S'[am, am] = S[am, am] / √4 = −1.227 / 2 ≈ −0.6137`).
Operands are rounded to 4 digits, so the result follows `≈` unless the arithmetic is exact (adding
0 or −∞).

The line is built from the step's own tensors, so it reads what the tables show, and the entry is
one the tables show (among the first rows and columns; for attention scores, one the causal mask
keeps). It is only kept if its arithmetic gives back the recorded entry: a layout this does not
know is left without an example rather than given a wrong one.

Every choice and every number is made from the tensors without their round-off (see
stepper/roundoff.py), so the line reads the same on every machine.
"""

from __future__ import annotations

import math

import numpy as np

from stepper.present.worked_text import TERMS, dot, entry, label, num, term
from stepper.roundoff import denoised, first_largest
from stepper.trace import Tensor

CORNER = 6  # the rows and columns every table shows, whatever it elides


def largest(values: np.ndarray, lower: bool = False) -> tuple[int, int]:
    """Where the largest finite magnitude of the shown corner sits: the entry an example is most
    telling on, the first of those equal up to round-off. `lower`: only j ≤ i, the scores a causal
    mask keeps (an encoder keeps them too)."""
    values = values[:CORNER, :CORNER]
    i, j = first_largest(np.abs(values), np.tri(*values.shape, dtype=bool) if lower else None)
    return i, j


def entry_line(phase: str, stage: str, inputs: dict[str, Tensor], outputs: dict[str, Tensor],
               bindings: dict[str, str]) -> str | None:
    """The worked line of one entry of a step of `stage`, or None when there is none to trust."""
    builder = _BUILDERS.get(phase, {}).get(stage)
    if builder is None:
        return None
    try:
        made = builder(inputs, outputs, bindings)
    except (KeyError, ValueError, IndexError, StopIteration, ZeroDivisionError):
        return None
    if made is None:
        return None
    line, claimed, recorded = made
    ok = math.isinf(recorded) and claimed == recorded or abs(claimed - recorded) <= 1e-9 * max(1.0, abs(recorded))
    return line if ok else None


def _matrix(t: Tensor) -> np.ndarray:
    value = denoised(t.value)
    if value.ndim != 2:
        raise ValueError("not a matrix")
    return value


def _as_rows(t: Tensor) -> tuple[np.ndarray, list[str] | None, list[str] | None]:
    """A vector as a one-row matrix (an mlp's input, a pooled vector), with its labels as columns."""
    value = denoised(t.value)
    if value.ndim == 1:
        return value[None, :], None, t.cols or t.rows
    if value.ndim != 2:
        raise ValueError("not a matrix")
    return value, t.rows, t.cols


def _linear(inputs, outputs, bindings):
    (y_sym, y_t), = outputs.items()
    w_sym, w_t = next((s, t) for s, t in inputs.items() if t.is_param and t.value.ndim == 2)
    b = next(((s, t) for s, t in inputs.items() if t.is_param and t.value.ndim == 1), None)
    x_sym, x_t = next((s, t) for s, t in inputs.items() if not t.is_param)
    x, x_rows, x_cols = _as_rows(x_t)
    y, y_rows, y_cols = _as_rows(y_t)
    w = _matrix(w_t)
    tied = w.shape == (y.shape[1], x.shape[1]) and w.shape[0] != w.shape[1]  # the tied head reads E as Eᵀ
    column = w.T if tied else w
    i, j = largest(y)
    bias = float(denoised(b[1].value)[j]) if b else 0.0
    claimed = float(x[i] @ column[:, j]) + bias
    row = "" if x_rows is None else f"{label(x_rows, i)}, "
    weight = f"{w_sym}[{label(w_t.rows, j)}, :]" if tied else f"{w_sym}[:, {label(w_t.cols, j)}]"
    target = entry(y_sym, None, y_cols, j) if y_rows is None else entry(y_sym, y_rows, y_cols, i, j)
    line = f"{target} = {x_sym}[{row}:]·{weight}"
    if b:
        line += f" + {entry(b[0], None, b[1].cols, j)}"
    line += f" = {dot(x[i], column[:, j])}" + (f" + {term(bias)}" if b else "") + f" ≈ {num(y[i, j])}"
    return line, claimed, float(y[i, j])


def _row_dot(out_sym: str, out_t: Tensor, a_sym: str, a_t: Tensor, b_sym: str, b_t: Tensor):
    """`out[i, j] = a[i, :]·b[j, :]` for the entry a product of rows made (Q·Kᵀ, dZ·Vᵀ)."""
    a, b, out = _matrix(a_t), _matrix(b_t), _matrix(out_t)
    i, j = largest(out, lower=True)
    line = (f"{entry(out_sym, out_t.rows, out_t.cols, i, j)} = {a_sym}[{label(a_t.rows, i)}, :]·"
            f"{b_sym}[{label(b_t.rows, j)}, :] = {dot(a[i], b[j])} ≈ {num(out[i, j])}")
    return line, float(a[i] @ b[j]), float(out[i, j])


def _scores(inputs, outputs, bindings):
    (s_sym, s_t), = outputs.items()
    return _row_dot(s_sym, s_t, "Q", inputs["Q"], "K", inputs["K"])


def _scale(inputs, outputs, bindings):
    (in_sym, s_t), = inputs.items()
    (out_sym, o_t), = outputs.items()
    s, o = _matrix(s_t), _matrix(o_t)
    d_k = int(bindings["d_k"])
    i, j = largest(s, lower=True)
    line = (f"{entry(out_sym, o_t.rows, o_t.cols, i, j)} = {entry(in_sym, s_t.rows, s_t.cols, i, j)} / √{d_k}"
            f" = {num(s[i, j])} / {num(math.sqrt(d_k))} ≈ {num(o[i, j])}")
    return line, float(s[i, j]) / math.sqrt(d_k), float(o[i, j])


def _cosine_scores(inputs, outputs, bindings):
    (s_sym, s_t), = outputs.items()
    return _row_dot(s_sym, s_t, "Q̂", inputs["Q̂"], "K̂", inputs["K̂"])


def _normalize(inputs, outputs, bindings):
    """A row of Q or K made unit length: one entry over its row's norm."""
    (in_sym, x_t), = inputs.items()
    (out_sym, o_t), = outputs.items()
    x, o = _matrix(x_t), _matrix(o_t)
    i, j = largest(o)
    norm = float(np.sqrt(x[i] @ x[i]))
    line = (f"{entry(out_sym, o_t.rows, o_t.cols, i, j)} = {entry(in_sym, x_t.rows, x_t.cols, i, j)} / "
            f"‖{in_sym}[{label(x_t.rows, i)}]‖ = {num(x[i, j])} / {num(norm)} ≈ {num(o[i, j])}")
    return line, float(x[i, j]) / max(norm, 1e-12), float(o[i, j])


def _temperature(inputs, outputs, bindings):
    (in_sym, s_t), = inputs.items()
    (out_sym, o_t), = outputs.items()
    s, o, tau = _matrix(s_t), _matrix(o_t), float(bindings["τ"])
    i, j = largest(s, lower=True)
    line = (f"{entry(out_sym, o_t.rows, o_t.cols, i, j)} = {entry(in_sym, s_t.rows, s_t.cols, i, j)} / τ"
            f" = {num(s[i, j])} / {bindings['τ']} ≈ {num(o[i, j])}")
    return line, float(s[i, j]) / tau, float(o[i, j])


def _mask(inputs, outputs, bindings):
    s_sym, s_t = next((sym, t) for sym, t in inputs.items() if sym != "M")
    m = _matrix(inputs["M"])
    (out_sym, o_t), = outputs.items()
    s, o = _matrix(s_t), _matrix(o_t)
    hidden = np.argwhere(np.isneginf(m[:CORNER, :CORNER]))
    i, j = (int(hidden[0][0]), int(hidden[0][1])) if len(hidden) else (0, 0)
    line = (f"{entry(out_sym, o_t.rows, o_t.cols, i, j)} = {entry(s_sym, s_t.rows, s_t.cols, i, j)} + "
            f"M[{label(s_t.rows, i)}, {label(s_t.cols, j)}] = {num(s[i, j])} + {term(m[i, j])} = {num(o[i, j])}")
    if len(hidden):
        line += f": key {label(s_t.cols, j)} is hidden from query {label(s_t.rows, i)}, and softmax gives it e^−∞ = 0"
    else:
        line += ": no key is hidden here, so every score passes unchanged"
    return line, float(s[i, j] + m[i, j]), float(o[i, j])


def _softmax(inputs, outputs, bindings):
    (z_sym, z_t), = inputs.items()
    (a_sym, a_t), = outputs.items()
    z, a = _matrix(z_t), _matrix(a_t)
    i = min(z.shape[0], CORNER) - 1  # the last query shown: in a decoder, the one that sees the most keys
    j = first_largest(a[i, :CORNER])[0]
    top = float(np.max(z[i]))
    e = np.exp(z[i] - top)  # as the formula does: every term ≤ 1, none overflows
    terms = " + ".join(num(x) for x in e[:TERMS]) + (" + …" if len(e) > TERMS else "")
    line = (f"{entry(a_sym, a_t.rows, a_t.cols, i, j)} = e^({entry(z_sym, z_t.rows, z_t.cols, i, j)} − m) / "
            f"Σ_k e^({z_sym}[{label(z_t.rows, i)}, k] − m), with m = the row's max = {num(top)}: "
            f"{num(e[j])} / ({terms}) = {num(e[j])} / {num(e.sum())} ≈ {num(a[i, j])}")
    return line, float(e[j] / e.sum()), float(a[i, j])


def _weighted_sum(inputs, outputs, bindings):
    a_t, v_t = inputs["A"], inputs["V"]
    (z_sym, z_t), = outputs.items()
    a, v, z = _matrix(a_t), _matrix(v_t), _matrix(z_t)
    i, j = min(a.shape[0], CORNER) - 1, 0
    line = (f"{entry(z_sym, z_t.rows, z_t.cols, i, j)} = Σ_k A[{label(a_t.rows, i)}, k]·V[k, {label(v_t.cols, j)}]"
            f" = {dot(a[i], v[:, j])} ≈ {num(z[i, j])}")
    return line, float(a[i] @ v[:, j]), float(z[i, j])


def _residual(inputs, outputs, bindings):
    (x_sym, x_t), (f_sym, f_t) = inputs.items()
    (r_sym, r_t), = outputs.items()
    x, f, r = _matrix(x_t), _matrix(f_t), _matrix(r_t)
    i, j = largest(r)
    line = (f"{entry(r_sym, r_t.rows, r_t.cols, i, j)} = {entry(x_sym, x_t.rows, x_t.cols, i, j)} + "
            f"{entry(f_sym, f_t.rows, f_t.cols, i, j)} = {num(x[i, j])} + {term(f[i, j])} ≈ {num(r[i, j])}")
    return line, float(x[i, j] + f[i, j]), float(r[i, j])


def _layernorm(inputs, outputs, bindings):
    x_t, gamma, beta = inputs["x"], denoised(inputs["γ"].value), denoised(inputs["β"].value)
    (y_sym, y_t), = outputs.items()
    x, y = _matrix(x_t), _matrix(y_t)
    eps = float(bindings["ε"])
    i, j = 0, first_largest(np.abs(y[0, :CORNER]))[0]
    mu, var = float(x[i].mean()), float(x[i].var())
    claimed = float(gamma[j]) * (x[i, j] - mu) / math.sqrt(var + eps) + float(beta[j])
    line = (f"row {label(x_t.rows, i)}: μ = {num(mu)}, σ² = {num(var)}; {entry(y_sym, y_t.rows, y_t.cols, i, j)} = "
            f"γ[{label(y_t.cols, j)}]·(x − μ)/√(σ² + ε) + β[{label(y_t.cols, j)}] = "
            f"{num(gamma[j])}·({num(x[i, j])} − {term(mu)})/√({num(var)} + {num(eps)}) + {term(beta[j])}"
            f" ≈ {num(y[i, j])}")
    return line, claimed, float(y[i, j])


def _merge(inputs, outputs, bindings):
    (total_sym, total_t), = outputs.items()
    total = _matrix(total_t)
    i, j = largest(total)
    parts = [(sym, _matrix(t)[i, j]) for sym, t in inputs.items()]
    line = (f"{entry(total_sym, total_t.rows, total_t.cols, i, j)} = "
            + " + ".join(entry(sym, total_t.rows, total_t.cols, i, j) for sym, _ in parts)
            + " = " + " + ".join(term(v) if k else num(v) for k, (_, v) in enumerate(parts))
            + f" ≈ {num(total[i, j])}: the paths' gradients add up")
    return line, float(sum(v for _, v in parts)), float(total[i, j])


def _softmax_grad(inputs, outputs, bindings):
    da_t, a_t = inputs["dA"], inputs["A"]
    (ds_sym, ds_t), = outputs.items()
    da, a, ds = _matrix(da_t), _matrix(a_t), _matrix(ds_t)
    i, j = largest(ds, lower=True)
    inner = float(da[i] @ a[i])
    line = (f"{entry(ds_sym, ds_t.rows, ds_t.cols, i, j)} = A[{label(a_t.rows, i)}, {label(a_t.cols, j)}]·"
            f"(dA[{label(a_t.rows, i)}, {label(a_t.cols, j)}] − Σ_k dA[{label(a_t.rows, i)}, k]·A[{label(a_t.rows, i)}, k])"
            f" = {num(a[i, j])}·({num(da[i, j])} − {term(inner)}) ≈ {num(ds[i, j])}")
    return line, float(a[i, j] * (da[i, j] - inner)), float(ds[i, j])


def _scale_grad(inputs, outputs, bindings):
    (in_sym, d_t), = inputs.items()
    (out_sym, o_t), = outputs.items()
    d, o = _matrix(d_t), _matrix(o_t)
    d_k = round(float(bindings["√d_k"]) ** 2)  # the binding is rounded to 6 digits; d_k is whole
    root = math.sqrt(d_k)
    i, j = largest(d, lower=True)
    line = (f"{entry(out_sym, o_t.rows, o_t.cols, i, j)} = {entry(in_sym, d_t.rows, d_t.cols, i, j)} / √{d_k}"
            f" = {num(d[i, j])} / {num(root)} ≈ {num(o[i, j])}")
    return line, float(d[i, j]) / root, float(o[i, j])


def _scores_grad(inputs, outputs, bindings):
    ds_sym, ds_t = next((sym, t) for sym, t in inputs.items() if sym.startswith("dS"))
    k_t, dq_t = inputs["K"], outputs["dQ"]
    ds, k, dq = _matrix(ds_t), _matrix(k_t), _matrix(dq_t)
    i, c = largest(dq)
    line = (f"{entry('dQ', dq_t.rows, dq_t.cols, i, c)} = Σ_j {ds_sym}[{label(ds_t.rows, i)}, j]·K[j, "
            f"{label(k_t.cols, c)}] = {dot(ds[i], k[:, c])} ≈ {num(dq[i, c])}")
    return line, float(ds[i] @ k[:, c]), float(dq[i, c])


def _weighted_sum_grad(inputs, outputs, bindings):
    return _row_dot("dA", outputs["dA"], "dZ", inputs["dZ"], "V", inputs["V"])


def _weight_grad(inputs, outputs, bindings):
    dw_sym, dw_t = next((s, t) for s, t in outputs.items() if s.startswith("dW"))
    x_sym, x_t = next((s, t) for s, t in inputs.items() if not t.is_param and not s.startswith("d"))
    dy_sym, dy_t = next((s, t) for s, t in inputs.items() if s.startswith("d"))
    x, _, x_cols = _as_rows(x_t)
    dy, _, dy_cols = _as_rows(dy_t)
    dw = _matrix(dw_t)
    i, j = largest(dw)
    if dw.shape == (dy.shape[1], x.shape[1]) != (x.shape[1], dy.shape[1]):  # the tied head's share of dE
        line = (f"{entry(dw_sym, dw_t.rows, dw_t.cols, i, j)} = Σ_t {dy_sym}[t, {label(dy_cols, i)}]·"
                f"{x_sym}[t, {label(x_cols, j)}] = {dot(dy[:, i], x[:, j])} ≈ {num(dw[i, j])}")
        return line, float(dy[:, i] @ x[:, j]), float(dw[i, j])
    if x.shape[0] == 1:  # one example: a single product, no sum over tokens
        line = (f"{entry(dw_sym, dw_t.rows, dw_t.cols, i, j)} = {x_sym}[{label(x_cols, i)}]·"
                f"{dy_sym}[{label(dy_cols, j)}] = {term(x[0, i])}·{term(dy[0, j])} ≈ {num(dw[i, j])}")
    else:
        line = (f"{entry(dw_sym, dw_t.rows, dw_t.cols, i, j)} = Σ_t {x_sym}[t, {label(x_cols, i)}]·"
                f"{dy_sym}[t, {label(dy_cols, j)}] = {dot(x[:, i], dy[:, j])} ≈ {num(dw[i, j])}")
    return line, float(x[:, i] @ dy[:, j]), float(dw[i, j])


# (phase, stage) -> the builder of its worked line; a step without one simply has none
_BUILDERS = {
    "forward": {"linear": _linear, "scores": _scores, "scale": _scale, "mask": _mask, "softmax": _softmax,
                "weighted_sum": _weighted_sum, "residual": _residual, "layernorm": _layernorm,
                "cosine_scores": _cosine_scores, "normalize": _normalize, "temperature": _temperature},
    "backward": {"linear": _weight_grad, "merge": _merge, "softmax": _softmax_grad, "scale": _scale_grad,
                 "scores": _scores_grad, "weighted_sum": _weighted_sum_grad},
}
