"""A plain multi-layer perceptron on one input vector: the by-hand exercises and XOR.

Same rules as the transformer: explicit formulas, recorded steps, every array keyed so the
reference can check it (keys in docs/trace-keys.md).
"""

from __future__ import annotations

import numpy as np

from stepper.engine import activation, linear, loss
from stepper.engine.record import Recorder, tensor
from stepper.scenario.types import Scenario


def _units(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{j}" for j in range(n)]


class MLPPass:
    def __init__(self, sc: Scenario, params: dict[str, np.ndarray], rec: Recorder | None):
        self.sc, self.m, self.p, self.rec = sc, sc.model, params, rec
        self.n_layers = len(self.m.sizes) - 1
        self.act: dict[str, np.ndarray] = {}
        self.cache: dict[str, object] = {}
        self.classify = sc.task.kind == "classify"
        x = np.array(sc.features, dtype=np.float64)  # [n0] or [B, n0]
        self.rows = ["(" + ", ".join(f"{v:g}" for v in row) + ")" for row in x] if x.ndim == 2 else None
        self.out_key = f"L{self.n_layers - 1}.z"  # the last layer has no activation: its z is the output

    def record(self, *args, **kw):
        if self.rec is not None:
            self.rec.add(*args, **kw)

    def vec(self, symbol, value, key, cols):
        """An activation: one vector, or one row per example when the input is a batch."""
        return tensor(symbol, value, key, self.rows if value.ndim == 2 else None, cols)

    def cols(self, i: int) -> list[str]:
        """Labels of layer i's outputs (layer -1: the input features)."""
        if i == -1:
            return _units("x", self.m.sizes[0])
        if i == self.n_layers - 1:
            return list(self.sc.task.classes) if self.classify else _units("y", self.m.sizes[-1])
        return _units(f"h{i}_", self.m.sizes[i + 1])

    def param_labels(self, name: str, value: np.ndarray) -> tuple[list[str] | None, list[str]]:
        i = int(name.split(".")[1])
        return (self.cols(i - 1) if value.ndim == 2 else None), self.cols(i)

    def forward(self) -> tuple[float, dict[str, np.ndarray]]:
        """The loss, and every activation by key (the caches the backward pass reads stay in self.cache)."""
        h = np.array(self.sc.features, dtype=np.float64)  # [n0]
        self.act["x"], h_key = h, "x"
        for i in range(self.n_layers):
            w, b = self.p[f"layers.{i}.W"], self.p.get(f"layers.{i}.b")
            z, self.cache[f"L{i}.lin"] = linear.forward(h, w, b)  # [n_{i+1}] = [n_i] @ [n_i, n_{i+1}]
            self.act[f"L{i}.z"] = z
            inputs = {"x": self.vec("x", h, h_key, self.cols(i - 1)),
                      "W": tensor("W", w, f"layers.{i}.W", self.cols(i - 1), self.cols(i), is_param=True)}
            if b is not None:
                inputs["b"] = tensor("b", b, f"layers.{i}.b", None, self.cols(i), is_param=True)
            self.record(f"fwd.L{i}.linear", "linear", f"Layer {i}: z = x·W + b", linear.FORMULA, inputs,
                        {"z": self.vec("z", z, f"L{i}.z", self.cols(i))}, layer=i)
            h, h_key = z, f"L{i}.z"
            if i < self.n_layers - 1:
                h, self.cache[f"L{i}.act"] = activation.forward(z, self.m.activation)  # [n_{i+1}]
                self.act[f"L{i}.h"], h_key = h, f"L{i}.h"
                self.record(f"fwd.L{i}.act", "activation", f"Layer {i}: {activation.forward_name(self.m.activation)}",
                            activation.FORMULAS[self.m.activation], {"z": self.vec("z", z, f"L{i}.z", self.cols(i))},
                            {"h": self.vec("h", h, h_key, self.cols(i))}, layer=i)
        return self.loss(h, h_key), self.act

    def backward(self, act: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return mlp_backward(self)

    @staticmethod
    def logits(act: dict[str, np.ndarray]) -> np.ndarray:
        return act.get("logits", act.get("pred"))

    def loss(self, out: np.ndarray, out_key: str) -> float:
        cols = self.cols(self.n_layers - 1)
        out_t = self.vec("ŷ", out, out_key, cols)
        if self.classify:
            targets = np.array(self.sc.task.label_indices if out.ndim == 2 else [self.sc.task.label_index])
            keep = np.ones(len(targets), dtype=bool)
            value, probs, self.cache["loss"] = loss.cross_entropy(out, targets, keep)
            self.act.update({"logits": out, "probs": probs})
            self.record("fwd.loss", "loss", "Softmax + cross-entropy", loss.CE_FORMULA, {"logits": out_t},
                        {"p": self.vec("p", probs, "probs", cols), "L": tensor("L", np.array(value), "loss"),
                         "PPL": tensor("PPL", loss.perplexity(value), "perplexity")},
                        bindings={"targets": ", ".join(self.sc.task.labels or [self.sc.task.label]),
                                  "N": str(len(targets))})
        else:
            target = np.array(self.sc.task.target, dtype=np.float64)  # like the output: [n_out] or [B, n_out]
            value, self.cache["loss"] = loss.mse(out, target)
            self.act["pred"] = out
            self.record("fwd.loss", "loss", "Mean squared error", loss.MSE_FORMULA,
                        {"ŷ": out_t, "y": self.vec("y", target, None, cols)},
                        {"L": tensor("L", np.array(value), "loss")}, bindings={"n": str(target.size)})
        self.act["loss"] = np.array(value)
        return value


def mlp_backward(mp: MLPPass) -> dict[str, np.ndarray]:
    grads: dict[str, np.ndarray] = {}
    last = mp.n_layers - 1
    cols = mp.cols(last)
    if mp.classify:
        dout = loss.cross_entropy_backward(mp.cache["loss"])  # [C]
        formula, ins = loss.CE_GRAD_FORMULA, {"p": mp.vec("p", mp.act["probs"], "probs", cols)}
    else:
        dout = loss.mse_backward(mp.cache["loss"])  # [n_out]
        formula, ins = loss.MSE_GRAD_FORMULA, {"ŷ": mp.vec("ŷ", mp.act["pred"], mp.out_key, cols)}
    mp.record("bwd.loss", "loss", "Gradient at the output", formula, ins,
              {"dŷ": mp.vec("dŷ", dout, f"d:{mp.out_key}", cols)})
    dh = dz = dout  # the last layer has no activation: its z is the output
    for i in reversed(range(mp.n_layers)):
        if i < last:
            dz = activation.backward(dh, mp.cache[f"L{i}.act"])  # [n_{i+1}]
            mp.record(f"bwd.L{i}.act", "activation", f"Layer {i}: {activation.backward_title(mp.m.activation)}",
                      activation.GRAD_FORMULAS[mp.m.activation],
                      {"dh": mp.vec("dh", dh, f"d:L{i}.h", mp.cols(i)),
                       "z": mp.vec("z", mp.act[f"L{i}.z"], f"L{i}.z", mp.cols(i))},
                      {"dz": mp.vec("dz", dz, f"d:L{i}.z", mp.cols(i))}, layer=i)
        x, w, _ = mp.cache[f"L{i}.lin"]
        dh, dw, db = linear.backward(dz, mp.cache[f"L{i}.lin"])  # [n_i], [n_i, n_{i+1}], [n_{i+1}]
        x_key = f"L{i - 1}.h" if i > 0 else "x"
        grads[f"layers.{i}.W"] = dw
        outs = {"dW": tensor("dW", dw, f"d:layers.{i}.W", mp.cols(i - 1), mp.cols(i))}
        if db is not None:
            grads[f"layers.{i}.b"] = db
            outs["db"] = tensor("db", db, f"d:layers.{i}.b", None, mp.cols(i))
        outs["dx"] = mp.vec("dx", dh, f"d:{x_key}", mp.cols(i - 1))
        mp.record(f"bwd.L{i}.linear", "linear", f"Layer {i}: through x·W + b", linear.GRAD_FORMULA,
                  {"dz": mp.vec("dz", dz, f"d:L{i}.z", mp.cols(i)), "x": mp.vec("x", x, x_key, mp.cols(i - 1)),
                   "W": tensor("W", w, f"layers.{i}.W", mp.cols(i - 1), mp.cols(i), is_param=True)}, outs, layer=i)
    return grads
