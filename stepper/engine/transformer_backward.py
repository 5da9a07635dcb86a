"""The transformer's backward pass: every forward step undone in reverse, with its own formula.

Where one activation fed several operations, a `merge` step adds the gradients that come
back along each path; that sum is the residual connection's whole trick.
"""

from __future__ import annotations

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
from stepper.engine.record import fmt_num, tensor
from stepper.engine.transformer import TIED_FORMULA, TransformerPass
from stepper.trace import Formula

TIED_GRAD_FORMULA = Formula(
    plain="dh = dlogits · embed.tok,  d embed.tok (head) = dlogitsᵀ · h",
    latex=r"\frac{\partial L}{\partial h} = \frac{\partial L}{\partial z} W_{\mathrm{tok}},\quad \frac{\partial L}{\partial W_{\mathrm{tok}}}\Big|_{\mathrm{head}} = \Big(\frac{\partial L}{\partial z}\Big)^{\!\top} h",
    meaning=TIED_FORMULA.meaning + " So the table gets gradient from the head as well as from the lookup.",
)


class Backward:
    def __init__(self, tp: TransformerPass):
        self.tp, self.m, self.lab = tp, tp.m, tp.lab
        self.grads: dict[str, np.ndarray] = {}

    def record(self, *args, **kw):
        self.tp.record(*args, **kw)

    def td(self, symbol, value, key, index=()):
        return self.tp.td(symbol, value, key, index)

    def run(self) -> dict[str, np.ndarray]:
        tp, lab = self.tp, self.lab
        rows = lab.tokens if tp.next_token else None
        cols = lab.vocab if tp.next_token else lab.classes
        dz = loss.cross_entropy_backward(tp.cache["loss"])  # like logits
        onehot = np.zeros_like(np.atleast_2d(dz))  # [N, C]
        onehot[np.arange(onehot.shape[0]), tp.targets_used] = 1.0
        self.record("bwd.loss", "loss", "Gradient at the logits", loss.CE_GRAD_FORMULA,
                    {"p": tensor("p", tp.act["probs"], "probs", rows, cols),
                     "y": tensor("y", onehot.reshape(dz.shape), None, rows, cols)},
                    {"dz": tensor("dz", dz, "d:logits", rows, cols)})
        dx = self.head(dz, rows, cols)
        if self.m.final_norm:
            dx = self.layernorm("bwd.ln_f", "ln_f", "ln_f", tp.act[self.last_key()], self.last_key(), dx,
                                title="Through final LayerNorm")
        for i in reversed(range(self.m.n_layers)):
            dx = self.layer(i, dx)
        self.embedding(dx)
        return self.grads

    def last_key(self) -> str:
        return self.tp.stack_out_key

    def head(self, dz, rows, cols) -> np.ndarray:
        tp, lab = self.tp, self.lab
        x_key = "pooled" if not tp.next_token else tp.final_key
        x = tp.act[x_key]
        sym = "pooled" if not tp.next_token else "h"  # what the head read: the pooled vector, or every row
        x_t = tensor(sym, x, x_key, rows, lab.dims)
        dz_t = tensor("dz", dz, "d:logits", rows, cols)
        if self.m.tie_embeddings:
            table = tp.p["embed.tok"]
            dx = dz @ table  # [T, D] = [T, V] @ [V, D]
            self.grads["embed.tok"] = dz.T @ x  # [V, D]
            self.record("bwd.head", "linear", "Through the tied head", TIED_GRAD_FORMULA,
                        {"dz": dz_t, sym: x_t, "embed.tok": tp.param("W_tok", "embed.tok")},
                        {f"d{sym}": tensor(f"d{sym}", dx, f"d:{x_key}", rows, lab.dims),
                         "dW_tok": tensor("dW_tok", self.grads["embed.tok"], "d:embed.tok<-logits", lab.vocab, lab.dims)})
        else:
            dx, dw, db = linear.backward(dz, tp.cache["head"][0])  # [T, D] / [D]
            self.grads["head.W"] = dw
            outs = {f"d{sym}": tensor(f"d{sym}", dx, f"d:{x_key}", rows, lab.dims),
                    "dW": tensor("dW", dw, "d:head.W", lab.dims, cols)}
            if db is not None:
                self.grads["head.b"] = db
                outs["db"] = tensor("db", db, "d:head.b", None, cols)
            self.record("bwd.head", "linear", "Through the output head", linear.GRAD_FORMULA,
                        {"dz": dz_t, sym: x_t, "W": tp.param("W", "head.W")}, outs)
        if tp.next_token:
            return dx
        dh = pooling.backward(dx, tp.cache["pool"])  # [T, D]
        self.record("bwd.pool", "pooling", "Through the pooling", pooling.GRAD_FORMULA,
                    {"dpooled": tensor("dpooled", dx, "d:pooled", None, lab.dims)},
                    {"dh": self.td("dh", dh, f"d:{tp.final_key}")}, bindings={"pooling": self.m.pooling})
        return dh

    def layernorm(self, step_id, cache_key, pname, x, x_key, dy, *, title, layer=None, y_key=None, out_key=None):
        y_key = y_key or cache_key
        dx, dg, db = layernorm.backward(dy, self.tp.cache[cache_key])  # [T, D], [D], [D]
        self.grads[f"{pname}.gamma"], self.grads[f"{pname}.beta"] = dg, db
        self.record(step_id, "layernorm", title, layernorm.GRAD_FORMULA,
                    {"dy": self.td("dy", dy, f"d:{y_key}"), "x": self.td("x", x, x_key),
                     "γ": self.tp.param("γ", f"{pname}.gamma")},
                    {"dx": self.td("dx", dx, out_key or f"d:{x_key}"),
                     "dγ": tensor("dγ", dg, f"d:{pname}.gamma", None, self.lab.dims),
                     "dβ": tensor("dβ", db, f"d:{pname}.beta", None, self.lab.dims)},
                    layer=layer, bindings={"ε": fmt_num(self.m.norm_eps)})
        return dx

    def linear(self, step_id, title, cache_key, pname, x_key, dy, dy_t, dx_key, *, layer, x_cols=None,
               w_symbol="W", x_symbol="X", x_index=()):
        tp = self.tp
        cache = tp.cache[cache_key]
        dx, dw, db = linear.backward(dy, cache)
        wname = f"{pname}.W_{w_symbol}"
        bname = f"{pname}.b_{w_symbol}"
        self.grads[wname] = dw
        x_cols = x_cols or self.lab.dims
        out_cols = dy_t.cols
        outs = {f"dW_{w_symbol}": tensor(f"dW_{w_symbol}", dw, f"d:{wname}", x_cols, out_cols)}
        if db is not None:
            self.grads[bname] = db
            outs[f"db_{w_symbol}"] = tensor(f"db_{w_symbol}", db, f"d:{bname}", None, out_cols)
        outs[f"d{x_symbol}"] = tensor(f"d{x_symbol}", dx, dx_key, self.lab.tokens, x_cols)
        self.record(step_id, "linear", title, linear.GRAD_FORMULA,
                    {dy_t.symbol: dy_t, x_symbol: tensor(x_symbol, cache[0], x_key, self.lab.tokens, x_cols, x_index),
                     f"W_{w_symbol}": tp.param(f"W_{w_symbol}", wname)}, outs, layer=layer)
        return dx

    def merge(self, step_id, key, terms: list[tuple[str, np.ndarray, str]], *, layer, title):
        """Sum the gradients that reach `key` along each path; terms are (symbol, array, partial key)."""
        total = sum(arr for _, arr, _ in terms)  # [T, D]
        self.record(step_id, "merge", title, residual.MERGE_FORMULA,
                    {sym: self.td(sym, arr, pkey) for sym, arr, pkey in terms},
                    {"dX": self.td("dX", total, f"d:{key}")}, layer=layer,
                    bindings={"paths": " + ".join(sym for sym, _, _ in terms)})
        return total

    def layer(self, i: int, dout: np.ndarray) -> np.ndarray:
        tp, m, pre, p = self.tp, self.m, f"L{i}", f"layers.{i}"
        s = tp.streams[i]
        if m.norm == "post":
            dout = self.layernorm(f"bwd.{pre}.ln2", f"{pre}.ln2", f"{p}.ln2", tp.act[f"{pre}.res2"], f"{pre}.res2",
                                  dout, title="Through LayerNorm 2", layer=i)
        d_f_skip, d_ffn_out = residual.backward(dout, None)
        self.record(f"bwd.{pre}.res2", "residual", "Through the FFN residual", residual.GRAD_FORMULA,
                    {"dR": self.td("dR", dout, f"d:{pre}.res2")},
                    {"dF": self.td("dF", d_ffn_out, f"d:{pre}.ffn.out"),
                     "dX_skip": self.td("dX_skip", d_f_skip, f"d:{s['f']}<-{pre}.res2")}, layer=i)
        ff, tok = self.lab.ff, self.lab.tokens
        dg = self.linear(f"bwd.{pre}.ffn.down", "Through W_2", f"{pre}.W_2", f"{p}.ffn", f"{pre}.ffn.G", d_ffn_out,
                         self.td("dF", d_ffn_out, f"d:{pre}.ffn.out"), f"d:{pre}.ffn.G", layer=i, x_cols=ff,
                         w_symbol="2")
        dh = activation.backward(dg, tp.cache[f"{pre}.act"])  # [T, F]
        self.record(f"bwd.{pre}.ffn.act", "activation", f"Through the {m.activation}",
                    activation.GRAD_FORMULAS[m.activation],
                    {"dG": tensor("dG", dg, f"d:{pre}.ffn.G", tok, ff),
                     "H": tensor("H", tp.act[f"{pre}.ffn.H"], f"{pre}.ffn.H", tok, ff)},
                    {"dH": tensor("dH", dh, f"d:{pre}.ffn.H", tok, ff)}, layer=i)
        shared = s["ffn"] == s["f"]
        d_ffn_in = self.linear(f"bwd.{pre}.ffn.up", "Through W_1", f"{pre}.W_1", f"{p}.ffn", s["ffn"], dh,
                               tensor("dH", dh, f"d:{pre}.ffn.H", tok, ff),
                               f"d:{s['ffn']}<-{pre}.ffn.H" if shared else f"d:{s['ffn']}", layer=i, w_symbol="1")
        if m.norm == "pre":
            d_ffn_in = self.layernorm(f"bwd.{pre}.ln2", f"{pre}.ln2", f"{p}.ln2", tp.act[s["f"]], s["f"], d_ffn_in,
                                      title="Through LayerNorm 2", layer=i, out_key=f"d:{s['f']}<-{pre}.ln2")
        path = "dX_ffn" if shared else "dX_ln2"
        d_f = self.merge(f"bwd.{pre}.res2.merge", s["f"], [("dX_skip", d_f_skip, f"d:{s['f']}<-{pre}.res2"),
                         (path, d_ffn_in, f"d:{s['f']}<-{pre}.ffn.H" if shared else f"d:{s['f']}<-{pre}.ln2")],
                         layer=i, title="Sum: skip + FFN gradients")
        if m.norm == "post":
            d_f = self.layernorm(f"bwd.{pre}.ln1", f"{pre}.ln1", f"{p}.ln1", tp.act[f"{pre}.res1"], f"{pre}.res1",
                                 d_f, title="Through LayerNorm 1", layer=i)
        d_x_skip, d_attn = residual.backward(d_f, None)
        self.record(f"bwd.{pre}.res1", "residual", "Through attention residual", residual.GRAD_FORMULA,
                    {"dR": self.td("dR", d_f, f"d:{pre}.res1")},
                    {"dAttn": self.td("dAttn", d_attn, f"d:{pre}.attn.out"),
                     "dX_skip": self.td("dX_skip", d_x_skip, f"d:{s['x']}<-{pre}.res1")}, layer=i)
        d_a_terms = self.attention(i, d_attn, s["a"])
        if m.norm == "pre":
            d_ln1 = self.merge(f"bwd.{pre}.qkv.merge", s["a"], d_a_terms, layer=i,
                               title="Sum the Q, K, V gradients")
            d_ln1_in = self.layernorm(f"bwd.{pre}.ln1", f"{pre}.ln1", f"{p}.ln1", tp.act[s["x"]], s["x"], d_ln1,
                                      title="Through LayerNorm 1", layer=i, out_key=f"d:{s['x']}<-{pre}.ln1")
            d_a_terms = [("dX_ln1", d_ln1_in, f"d:{s['x']}<-{pre}.ln1")]
        return self.merge(f"bwd.{pre}.res1.merge", s["x"], [("dX_skip", d_x_skip, f"d:{s['x']}<-{pre}.res1"),
                          *d_a_terms], layer=i, title="Sum into the layer input")

    def attention(self, i: int, d_out: np.ndarray, a_key: str):
        tp, m, lab, pre, p = self.tp, self.m, self.lab, f"L{i}.attn", f"layers.{i}"
        tok = lab.tokens
        z_key, z_index = tp.concat_source(i)
        d_concat = self.linear(f"bwd.{pre}.out", "Through W_O", f"{pre}.O", f"{p}.attn", z_key, d_out,
                               self.td("dO", d_out, f"d:{pre}.out"), f"d:{pre}.concat", layer=i, w_symbol="O",
                               x_symbol=tp.concat_symbol(), x_index=z_index)
        dz = heads.split(d_concat, m.n_heads)  # [H, T, d_k]
        if m.n_heads > 1:
            self.record(f"bwd.{pre}.concat", "heads", "Split back to the heads",
                        heads.CONCAT_GRAD_FORMULA, {"dConcat": self.td("dConcat", d_concat, f"d:{pre}.concat")},
                        {"dZ": tensor("dZ", dz, f"d:{pre}.Z")}, layer=i)
        d_a, d_v = weighted_sum.backward(dz, tp.cache[f"{pre}.values"])  # [H, T, T], [H, T, d_k]
        d_sm = softmax.backward(d_a, tp.cache[f"{pre}.softmax"])  # [H, T, T]
        d_s = mask.backward(d_sm, tp.mask_ok)  # [H, T, T]
        d_raw = scale.backward(d_s, tp.cache[f"{pre}.scale"]) if m.attention_scale else d_s  # [H, T, T]
        d_q, d_k = scores.backward(d_raw, tp.cache[f"{pre}.scores"])  # [H, T, d_k] each
        s_key = f"{pre}.S" if m.attention_scale else f"{pre}.S_raw"
        s_sym = "dS'" if m.attention_scale else "dS"
        act = tp.act
        for h in range(m.n_heads):
            hp, cols, hd = f"bwd.{tp.head_prefix(i, h)}", heads.columns(h, m.d_k), lab.head_dims(h)

            def tt(sym, arr, key, h=h):
                return tensor(sym, arr[h], key, tok, tok, (h,))

            def th(sym, arr, key, h=h, hd=hd, cols=cols):
                return tensor(sym, arr[h], key, tok, hd, cols if key.endswith(("Q", "K", "V")) else (h,))

            kw = {"layer": i, "head": h}
            self.record(f"{hp}.values", "weighted_sum", "Through A·V", weighted_sum.GRAD_FORMULA,
                        # with one head, dZ is W_O's own output dConcat: named so, it says where it came from
                        {"dZ": (th("dZ", dz, f"d:{pre}.Z") if m.n_heads > 1 else
                                self.td("dZ", d_concat, f"d:{pre}.concat")),
                         "A": tt("A", act[f"{pre}.A"], f"{pre}.A"),
                         "V": th("V", heads.split(act[f"{pre}.V"], m.n_heads), f"{pre}.V")},
                        {"dA": tt("dA", d_a, f"d:{pre}.A"), "dV": th("dV", d_v, f"d:{pre}.V")}, **kw)
            self.record(f"{hp}.softmax", "softmax", "Through the softmax", softmax.GRAD_FORMULA,
                        {"dA": tt("dA", d_a, f"d:{pre}.A"), "A": tt("A", act[f"{pre}.A"], f"{pre}.A")},
                        {"dS_masked": tt("dS_masked", d_sm, f"d:{pre}.S_masked")}, **kw)
            self.record(f"{hp}.mask", "mask", "Through the mask", mask.GRAD_FORMULA,
                        {"dS_masked": tt("dS_masked", d_sm, f"d:{pre}.S_masked")},
                        {s_sym: tt(s_sym, d_s, f"d:{s_key}")}, **kw)
            if m.attention_scale:
                self.record(f"{hp}.scale", "scale", "Through the 1/√d_k scale", scale.GRAD_FORMULA,
                            {"dS'": tt("dS'", d_s, f"d:{pre}.S")}, {"dS": tt("dS", d_raw, f"d:{pre}.S_raw")},
                            bindings={"√d_k": fmt_num(np.sqrt(m.d_k))}, **kw)
            self.record(f"{hp}.scores", "scores", "Through Q·Kᵀ", scores.GRAD_FORMULA,
                        {"dS": tt("dS", d_raw, f"d:{pre}.S_raw"),
                         "Q": th("Q", heads.split(act[f"{pre}.Q"], m.n_heads), f"{pre}.Q"),
                         "K": th("K", heads.split(act[f"{pre}.K"], m.n_heads), f"{pre}.K")},
                        {"dQ": th("dQ", d_q, f"d:{pre}.Q"), "dK": th("dK", d_k, f"d:{pre}.K")}, **kw)
        terms = []
        for mat, dm in (("V", d_v), ("K", d_k), ("Q", d_q)):
            full = heads.concat(dm)  # [T, D]
            dx = self.linear(f"bwd.{pre}.{mat.lower()}", f"Through W_{mat}", f"{pre}.{mat}", f"{p}.attn", a_key,
                             full, self.td(f"d{mat}", full, f"d:{pre}.{mat}"), f"d:{a_key}<-{pre}.{mat}",
                             layer=i, w_symbol=mat)
            terms.append((f"dX_{mat}", dx, f"d:{a_key}<-{pre}.{mat}"))
        return terms[::-1]

    def embedding(self, dx: np.ndarray):
        tp, m, lab = self.tp, self.m, self.lab
        if m.positional != "none":
            d_e, d_pos = positional.backward(dx, None, m.max_len if m.positional == "learned" else None)
            outs = {"dE": self.td("dE", d_e, "d:tok_emb")}
            if d_pos is not None:
                self.grads["embed.pos"] = d_pos
                outs["dW_pos"] = tensor("dW_pos", d_pos, "d:embed.pos", [f"p{i}" for i in range(m.max_len)], lab.dims)
            formula = positional.GRAD_FORMULA if m.positional == "learned" else positional.SINUSOIDAL_GRAD_FORMULA
            self.record("bwd.pos", "positional", "Through the positions", formula,
                        {"dX": self.td("dX", dx, "d:x0")}, outs)
            dx = d_e
        d_table = embedding.backward(dx, tp.cache["embed"])  # [V, D]
        tied = m.tie_embeddings
        key = "d:embed.tok<-tok_emb" if tied else "d:embed.tok"
        self.record("bwd.embed", "embedding", "Into the embedding table", embedding.GRAD_FORMULA,
                    {"dE": self.td("dE", dx, "d:tok_emb"), "ids": tensor("ids", tp.ids.astype(float), None, lab.tokens)},
                    {"dW_tok": tensor("dW_tok", d_table, key, lab.vocab, lab.dims)})
        if tied:
            head_part = self.grads["embed.tok"]
            total = head_part + d_table  # [V, D]
            self.record("bwd.embed.merge", "merge", "Tied table: head + lookup",
                        residual.MERGE_FORMULA,
                        {"dW_head": tensor("dW_head", head_part, "d:embed.tok<-logits", lab.vocab, lab.dims),
                         "dW_lookup": tensor("dW_lookup", d_table, key, lab.vocab, lab.dims)},
                        {"dW_tok": tensor("dW_tok", total, "d:embed.tok", lab.vocab, lab.dims)},
                        bindings={"paths": "dW_head + dW_lookup"})
            d_table = total
        self.grads["embed.tok"] = d_table
