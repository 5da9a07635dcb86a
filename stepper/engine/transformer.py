"""The transformer's forward pass, recorded one operation at a time.

Attention is computed for all heads at once ([H, T, T] arrays); the per-head steps the
learner sees are views into those arrays, so recording costs no copies.
"""

from __future__ import annotations

import math

import numpy as np

from stepper.engine import (
    activation,
    embedding,
    heads,
    layernorm,
    linear,
    loss,
    mask,
    pooling,
    positional,
    residual,
    scale,
    scores,
    softmax,
    weighted_sum,
)
from stepper.engine.record import Labels, Recorder, fmt_num, tensor
from stepper.scenario.types import PAD, Scenario


class TransformerPass:
    """One forward pass; keeps the caches its backward pass (transformer_backward) needs."""

    def __init__(self, sc: Scenario, params: dict[str, np.ndarray], rec: Recorder | None):
        self.sc, self.m, self.p, self.rec = sc, sc.model, params, rec
        ids = np.array(sc.token_ids)
        self.next_token = sc.task.kind == "next_token"
        self.ids = ids[:-1] if self.next_token else ids  # [T]
        self.targets = ids[1:] if self.next_token else None  # [T]
        tokens = sc.tokens[:-1] if self.next_token else sc.tokens
        self.pad_keys = np.array([t == PAD for t in tokens])  # [T]
        self.lab = Labels(tokens, sc.vocab, list(sc.task.classes), self.m.d_model, self.m.d_ff, self.m.n_heads)
        self.cache: dict[str, object] = {}
        self.act: dict[str, np.ndarray] = {}
        # per layer, which key feeds what: x (layer input), a (attention input),
        # f (the stream the FFN's residual adds to), ffn (the FFN's input)
        self.streams: dict[int, dict[str, str]] = {}

    # -- helpers ---------------------------------------------------------------
    def record(self, *args, **kw):
        if self.rec is not None:
            self.rec.add(*args, **kw)

    def td(self, symbol, value, key=None, index=()):
        """A [T, D]-shaped tensor labelled tokens × dims."""
        return tensor(symbol, value, key, self.lab.tokens, self.lab.dims, index)

    def param(self, symbol, name):
        rows, cols = self.param_labels(name, self.p[name])
        return tensor(symbol, self.p[name], name, rows, cols, is_param=True)

    def param_labels(self, name: str, value: np.ndarray) -> tuple[list[str] | None, list[str]]:
        rows = (self.lab.vocab if name == "embed.tok"
                else [f"p{i}" for i in range(value.shape[0])] if name == "embed.pos" else None)
        if value.ndim == 2 and rows is None:
            rows = self.lab.ff if value.shape[0] == self.m.d_ff and "W_2" in name else self.lab.dims
        return (rows if value.ndim == 2 else None), self._cols(value.shape[-1], name)

    def _cols(self, n, name=""):
        if name.startswith("head") or name == "logits":
            return self.lab.vocab if self.next_token else self.lab.classes
        if n == self.m.d_ff and ("W_1" in name or "b_1" in name):
            return self.lab.ff
        return self.lab.dims

    # -- the pass --------------------------------------------------------------
    def forward(self) -> float:
        m, lab = self.m, self.lab
        ids_t = tensor("ids", self.ids.astype(float), None, lab.tokens, None)
        e, self.cache["embed"] = embedding.forward(self.ids, self.p["embed.tok"])  # [T, D]
        self.act["tok_emb"] = e
        self.record("fwd.embed", "embedding", "Token embedding", embedding.FORMULA,
                    {"ids": ids_t, "embed.tok": self.param("W_tok", "embed.tok")}, {"E": self.td("E", e, "tok_emb")})
        # the stream entering layer 0 is `x0`; without positions it is the embedding itself
        x, x_key = e, "x0"
        self.act["x0"] = e
        if m.positional != "none":
            t = len(self.ids)
            pe = positional.sinusoidal(t, m.d_model) if m.positional == "sinusoidal" else self.p["embed.pos"][:t]
            x, _ = positional.forward(e, pe)  # [T, D]
            formula = positional.FORMULA if m.positional == "sinusoidal" else positional.LEARNED_FORMULA
            self.act["pos"], self.act["x0"], x_key = pe, x, "x0"
            self.record("fwd.pos", "positional", "Positional encoding", formula, {"E": self.td("E", e, "tok_emb")},
                        {"PE": self.td("PE", pe, "pos"), "X": self.td("X", x, "x0")}, bindings={"d": str(m.d_model)})
        self.input_key = x_key
        for i in range(m.n_layers):
            x, x_key = self.layer(i, x, x_key)
        self.stack_out_key = x_key
        if m.final_norm:
            x, self.cache["ln_f"] = layernorm.forward(x, self.p["ln_f.gamma"], self.p["ln_f.beta"], m.norm_eps)
            self.record("fwd.ln_f", "layernorm", "Final LayerNorm", layernorm.FORMULA,
                        {"x": self.td("x", self.act[x_key], x_key), "γ": self.param("γ", "ln_f.gamma"),
                         "β": self.param("β", "ln_f.beta")}, {"y": self.td("y", x, "ln_f")},
                        bindings={"ε": fmt_num(m.norm_eps)})
            self.act["ln_f"], x_key = x, "ln_f"
        self.final_key = x_key
        return self.head(x, x_key)

    def layer(self, i: int, x: np.ndarray, x_key: str):
        m, p, pre = self.m, f"layers.{i}", f"L{i}"
        a_in, a_key = x, x_key
        if m.norm == "pre":
            a_in, a_key = self.norm(i, 1, x, x_key)
        self.attention(i, a_in, a_key)
        r1, _ = residual.forward(x, self.act[f"{pre}.attn.out"])  # [T, D]
        self.act[f"{pre}.res1"] = r1
        self.record(f"fwd.{pre}.res1", "residual", "Residual: x + attention", residual.FORMULA,
                    {"X": self.td("X", x, x_key), "Attn": self.td("Attn", self.act[f"{pre}.attn.out"], f"{pre}.attn.out")},
                    {"R": self.td("R", r1, f"{pre}.res1")}, layer=i)
        f_in, f_key = r1, f"{pre}.res1"
        if m.norm == "post":
            f_in, f_key = self.norm(i, 1, r1, f_key)
        ffn_in, ffn_key = (self.norm(i, 2, f_in, f_key) if m.norm == "pre" else (f_in, f_key))
        h, self.cache[f"{pre}.W_1"] = linear.forward(ffn_in, self.p[f"{p}.ffn.W_1"], self.p.get(f"{p}.ffn.b_1"))  # [T, F]
        self.act[f"{pre}.ffn.H"] = h
        self.record(f"fwd.{pre}.ffn.up", "linear", "FFN: expand with W_1", linear.FORMULA,
                    self.linear_inputs(ffn_in, ffn_key, p, "ffn", "1"),
                    {"H": tensor("H", h, f"{pre}.ffn.H", self.lab.tokens, self.lab.ff)}, layer=i,
                    bindings={"d_model": str(m.d_model), "d_ff": str(m.d_ff)})
        g, self.cache[f"{pre}.act"] = activation.forward(h, m.activation)  # [T, F]
        self.act[f"{pre}.ffn.G"] = g
        self.record(f"fwd.{pre}.ffn.act", "activation", f"FFN: {m.activation}", activation.FORMULAS[m.activation],
                    {"H": tensor("H", h, f"{pre}.ffn.H", self.lab.tokens, self.lab.ff)},
                    {"G": tensor("G", g, f"{pre}.ffn.G", self.lab.tokens, self.lab.ff)}, layer=i)
        o, self.cache[f"{pre}.W_2"] = linear.forward(g, self.p[f"{p}.ffn.W_2"], self.p.get(f"{p}.ffn.b_2"))  # [T, D]
        self.act[f"{pre}.ffn.out"] = o
        self.record(f"fwd.{pre}.ffn.down", "linear", "FFN: project back with W_2", linear.FORMULA,
                    {"G": tensor("G", g, f"{pre}.ffn.G", self.lab.tokens, self.lab.ff),
                     "W_2": self.param("W_2", f"{p}.ffn.W_2"),
                     **({"b_2": self.param("b_2", f"{p}.ffn.b_2")} if m.bias else {})},
                    {"F": self.td("F", o, f"{pre}.ffn.out")}, layer=i)
        r2, _ = residual.forward(f_in, o)  # [T, D]
        self.act[f"{pre}.res2"] = r2
        self.record(f"fwd.{pre}.res2", "residual", "Residual: x + FFN", residual.FORMULA,
                    {"X": self.td("X", f_in, f_key), "F": self.td("F", o, f"{pre}.ffn.out")},
                    {"R": self.td("R", r2, f"{pre}.res2")}, layer=i)
        self.streams[i] = {"x": x_key, "a": a_key, "f": f_key, "ffn": ffn_key}
        if m.norm == "post":
            return self.norm(i, 2, r2, f"{pre}.res2")
        return r2, f"{pre}.res2"

    def norm(self, i: int, which: int, x: np.ndarray, x_key: str):
        pre, name = f"L{i}", f"layers.{i}.ln{which}"
        y, self.cache[f"{pre}.ln{which}"] = layernorm.forward(x, self.p[f"{name}.gamma"], self.p[f"{name}.beta"],
                                                             self.m.norm_eps)  # [T, D]
        key = f"{pre}.ln{which}"
        self.act[key] = y
        self.record(f"fwd.{key}", "layernorm", f"LayerNorm {which}", layernorm.FORMULA,
                    {"x": self.td("x", x, x_key), "γ": self.param("γ", f"{name}.gamma"),
                     "β": self.param("β", f"{name}.beta")}, {"y": self.td("y", y, key)}, layer=i,
                    bindings={"ε": fmt_num(self.m.norm_eps), "d_model": str(self.m.d_model)})
        return y, key

    def concat_source(self, i: int) -> tuple[str, tuple]:
        """(key, index) of what W_O reads: the concat step's output, or with one head that head's Z,
        so that "from step N" can name the step that made it."""
        pre = f"L{i}.attn"
        return (f"{pre}.concat", ()) if self.m.n_heads > 1 else (f"{pre}.Z", (0,))

    def concat_symbol(self) -> str:
        """What W_O reads: the heads' Z side by side, or with one head simply Z (no concat step)."""
        return "Concat" if self.m.n_heads > 1 else "Z"

    def linear_inputs(self, x, x_key, p, block, which, x_symbol="X", x_index=()):
        inputs = {x_symbol: self.td(x_symbol, x, x_key, x_index),
                  f"W_{which}": self.param(f"W_{which}", f"{p}.{block}.W_{which}")}
        if self.m.bias:
            inputs[f"b_{which}"] = self.param(f"b_{which}", f"{p}.{block}.b_{which}")
        return inputs

    def attention(self, i: int, a: np.ndarray, a_key: str):
        m, lab, p, pre = self.m, self.lab, f"layers.{i}", f"L{i}.attn"
        for mat in "QKV":
            out, self.cache[f"{pre}.{mat}"] = linear.forward(a, self.p[f"{p}.attn.W_{mat}"],
                                                             self.p.get(f"{p}.attn.b_{mat}"))  # [T, D]
            self.act[f"{pre}.{mat}"] = out
            self.record(f"fwd.{pre}.{mat.lower()}", "linear", f"{mat} projection", linear.FORMULA,
                        self.linear_inputs(a, a_key, p, "attn", mat), {mat: self.td(mat, out, f"{pre}.{mat}")},
                        layer=i, bindings={"d_model": str(m.d_model)})
        q, k, v = (heads.split(self.act[f"{pre}.{n}"], m.n_heads) for n in "QKV")  # [H, T, d_k] each
        s_raw, self.cache[f"{pre}.scores"] = scores.forward(q, k)  # [H, T, T]
        s = s_raw
        if m.attention_scale:
            s, self.cache[f"{pre}.scale"] = scale.forward(s_raw, m.d_k)  # [H, T, T]
        ok = mask.allowed(self.pad_keys, causal=m.kind == "decoder")  # [T, T]
        s_masked, _ = mask.forward(s, ok)  # [H, T, T]
        a_w, self.cache[f"{pre}.softmax"] = softmax.forward(s_masked)  # [H, T, T]
        z, self.cache[f"{pre}.values"] = weighted_sum.forward(a_w, v)  # [H, T, d_k]
        self.mask_ok = ok
        self.act.update({f"{pre}.S_raw": s_raw, f"{pre}.S": s, f"{pre}.S_masked": s_masked,
                         f"{pre}.A": a_w, f"{pre}.Z": z})
        s_key = f"{pre}.S" if m.attention_scale else f"{pre}.S_raw"
        s_sym = "S'" if m.attention_scale else "S"  # the scaled scores keep the prime they got at the scale step
        additive = mask.additive(ok)  # [T, T] M, the one the mask step adds
        for h in range(m.n_heads):
            hp, cols = self.head_prefix(i, h), heads.columns(h, m.d_k)
            hd = lab.head_dims(h)

            def tt(sym, arr, key, h=h):
                return tensor(sym, arr[h], key, lab.tokens, lab.tokens, (h,))

            qh = tensor("Q", self.act[f"{pre}.Q"][cols], f"{pre}.Q", lab.tokens, hd, cols)
            kh = tensor("K", self.act[f"{pre}.K"][cols], f"{pre}.K", lab.tokens, hd, cols)
            vh = tensor("V", self.act[f"{pre}.V"][cols], f"{pre}.V", lab.tokens, hd, cols)
            self.record(f"fwd.{hp}.scores", "scores", "Scores Q·Kᵀ", scores.FORMULA, {"Q": qh, "K": kh},
                        {"S": tt("S", s_raw, f"{pre}.S_raw")}, layer=i, head=h, bindings={"d_k": str(m.d_k)})
            if m.attention_scale:
                self.record(f"fwd.{hp}.scale", "scale", "Scale by 1/√d_k", scale.FORMULA,
                            {"S": tt("S", s_raw, f"{pre}.S_raw")}, {"S'": tt("S'", s, f"{pre}.S")}, layer=i, head=h,
                            bindings={"d_k": str(m.d_k), "√d_k": fmt_num(math.sqrt(m.d_k))})
            self.record(f"fwd.{hp}.mask", "mask", "Mask: −∞ where not allowed", mask.FORMULA,
                        {s_sym: tt(s_sym, s, s_key), "M": tensor("M", additive, None, lab.tokens, lab.tokens)},
                        {"S_masked": tt("S_masked", s_masked, f"{pre}.S_masked")}, layer=i, head=h,
                        bindings={"mask": self.mask_name()})
            self.record(f"fwd.{hp}.softmax", "softmax", "Softmax over each row", softmax.FORMULA,
                        {"S_masked": tt("S_masked", s_masked, f"{pre}.S_masked")}, {"A": tt("A", a_w, f"{pre}.A")},
                        layer=i, head=h)
            self.record(f"fwd.{hp}.values", "weighted_sum", "Weighted sum of values A·V", weighted_sum.FORMULA,
                        {"A": tt("A", a_w, f"{pre}.A"), "V": vh},
                        {"Z": tensor("Z", z[h], f"{pre}.Z", lab.tokens, hd, (h,))}, layer=i, head=h)
        concat = heads.concat(z)  # [T, D]
        self.act[f"{pre}.concat"] = concat
        if m.n_heads > 1:
            self.record(f"fwd.{pre}.concat", "heads", "Concatenate the heads", heads.CONCAT_FORMULA,
                        {"Z": tensor("Z", z, f"{pre}.Z")}, {"Concat": self.td("Concat", concat, f"{pre}.concat")},
                        layer=i, bindings={"H": str(m.n_heads), "d_k": str(m.d_k)})
        z_key, z_index = self.concat_source(i)
        out, self.cache[f"{pre}.O"] = linear.forward(concat, self.p[f"{p}.attn.W_O"], self.p.get(f"{p}.attn.b_O"))
        self.act[f"{pre}.out"] = out  # [T, D]
        self.record(f"fwd.{pre}.out", "linear", "Output projection W_O", linear.FORMULA,
                    self.linear_inputs(concat, z_key, p, "attn", "O", self.concat_symbol(), z_index),
                    {"O": self.td("O", out, f"{pre}.out")},
                    layer=i)

    def head_prefix(self, i: int, h: int) -> str:
        return f"L{i}.attn.h{h}" if self.m.n_heads > 1 else f"L{i}.attn"

    def mask_name(self) -> str:
        parts = (["causal"] if self.m.kind == "decoder" else []) + (["<pad> keys"] if self.pad_keys.any() else [])
        return " + ".join(parts) or "none (every token sees every token)"

    def head(self, x: np.ndarray, x_key: str) -> float:
        sc, lab = self.sc, self.lab
        final_t = self.td("h", x, x_key)
        if not self.next_token:
            w = pooling.weights(self.m.pooling, ~self.pad_keys)  # [T]
            x, self.cache["pool"] = pooling.forward(x, w)  # [D]
            self.act["pooled"] = x
            self.record("fwd.pool", "pooling", f"Pool ({self.m.pooling})", pooling.FORMULAS[self.m.pooling],
                        {"h": final_t}, {"pooled": tensor("pooled", x, "pooled", None, lab.dims)})
            in_t = tensor("pooled", x, "pooled", None, lab.dims)
        else:
            in_t = final_t
        rows = lab.tokens if self.next_token else None
        if self.m.tie_embeddings:
            logits = x @ self.p["embed.tok"].T  # [T, V] = [T, D] @ [D, V]
            self.cache["head"] = (x, self.p["embed.tok"], "tied")
            inputs = {in_t.symbol: in_t, "embed.tok": self.param("W_tok", "embed.tok")}
            formula = TIED_FORMULA
        else:
            logits, lin = linear.forward(x, self.p["head.W"], self.p.get("head.b"))  # [T, V] or [C]
            self.cache["head"] = (lin, None, "linear")
            inputs = {in_t.symbol: in_t, "W": self.param("W", "head.W")}
            if self.m.head_bias:
                inputs["b"] = self.param("b", "head.b")
            formula = linear.FORMULA
        self.act["logits"] = logits
        out_cols = lab.vocab if self.next_token else lab.classes
        self.record("fwd.head", "linear", "Output head → logits", formula, inputs,
                    {"logits": tensor("z", logits, "logits", rows, out_cols)})
        if self.next_token:
            targets, keep = self.targets, self.targets != sc.vocab.index(PAD) if PAD in sc.vocab else None
            keep = np.ones(len(targets), bool) if keep is None else keep
        else:
            targets, keep = np.array([sc.task.label_index]), np.array([True])
        value, probs, self.cache["loss"] = loss.cross_entropy(logits, targets, keep)
        self.act.update({"probs": probs, "loss": np.array(value)})
        target_labels = [sc.vocab[t] for t in targets] if self.next_token else [sc.task.label]
        self.record("fwd.loss", "loss", "Softmax + cross-entropy", loss.CE_FORMULA,
                    {"logits": tensor("z", logits, "logits", rows, out_cols)},
                    {"p": tensor("p", probs, "probs", rows, out_cols), "L": tensor("L", np.array(value), "loss")},
                    bindings={"targets": ", ".join(target_labels), "N": str(int(keep.sum()))})
        self.targets_used = targets
        return value


TIED_FORMULA = type(linear.FORMULA)(
    plain="logits = h · embed.tokᵀ",
    latex=r"z = h\,W_{\mathrm{tok}}^\top",
    meaning="The head reuses the embedding table: a token's logit is how well the final vector matches that token's embedding.",
)
