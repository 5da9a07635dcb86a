"""The cost model: every forward stage a model config implies, with the elements it makes and its FLOPs.

Pure arithmetic over shapes (no arrays, nothing run), so a model far too big to step through can be
priced: `stepper cost`, the app's cost chart and limits.py's work estimate all read this one plan.
One Op per forward step the engine records (per head for attention), named by the engine's stage,
so a test can hold the plan against the arrays of a real run (tests/test_cost_model.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from stepper.scenario.cost_rules import elementwise, linear_backward, linear_forward, matmul

# the row of the table each Op belongs to, and how it grows (T positions, d = d_model, V outputs)
EMBED, QKV, SCORES, SOFTMAX, AV, WO, FFN, ELEMENTWISE, HEAD = (
    "embedding + position", "Q, K, V projections", "scores Q·Kᵀ", "scale, mask, softmax", "weights · V (A·V)",
    "output projection W_O", "FFN (up and down)", "residuals, norms, activation", "head and loss")
GROWTH = {EMBED: "T·d", QKV: "T·d²", SCORES: "T²·d", SOFTMAX: "T²·heads", AV: "T²·d", WO: "T·d²",
          FFN: "T·d·d_ff", ELEMENTWISE: "T·d", HEAD: "T·d·V"}
ROWS = tuple(GROWTH)
ATTENTION_ROWS = (SCORES, SOFTMAX, AV)  # the O(T²) terms
PROJECTION_ROWS = (QKV, WO, FFN)  # the O(T·d²) terms


@dataclass(frozen=True)
class Op:
    row: str
    stage: str  # the engine's stage name (softmax, linear, …)
    layer: int | None
    made: int  # elements of what it makes, forward
    flops: int  # forward
    backward: int  # FLOPs of its backward step(s)
    matmul: int = 0  # of `flops`, the part that is matrix products (forward; backward makes twice it)


def _lin(row: str, layer: int | None, x: tuple, w: tuple, bias: bool, transposed: bool = False) -> Op:
    out = (*x[:-1], w[0] if transposed else w[-1])
    n = out[0] * (out[1] if len(out) > 1 else 1)
    return Op(row, "linear", layer, n, linear_forward(x, w, bias, transposed=transposed),
              linear_backward(x, w, bias, transposed=transposed), matmul(out, x[-1]))


def _each(row: str, stage: str, layer: int | None, made: int, back: int | None = None) -> Op:
    """An element-wise stage; `back`: the elements of the gradient its backward step hands on (default `made`)."""
    return Op(row, stage, layer, made, elementwise(stage, "forward", made),
              elementwise(stage, "backward", made if back is None else back))


def _merge(layer: int | None, adds: int) -> Op:
    """Backward only: where one array fed several stages, their gradients are added (`adds` additions)."""
    return Op(ELEMENTWISE, "merge", layer, 0, 0, adds)


def _products(row: str, stage: str, layer: int, out: tuple, inner: int) -> Op:
    flops = matmul(out, inner)
    return Op(row, stage, layer, out[0] * out[1], flops, 2 * flops, flops)


def attention_ops(m, layer: int, t: int, s: int, kv_rows: int | None = None) -> list[Op]:
    """One attention of `t` queries over `s` keys (s = t for self-attention); `kv_rows`: the positions whose
    keys and values it projects (all `s`, or only the new ones when the others are in a KV cache)."""
    d, h, dk = m.d_model, m.n_heads, m.d_k
    kv = s if kv_rows is None else kv_rows
    ops = [_lin(QKV, layer, (t if w == "Q" else kv, d), (d, d), m.bias) for w in "QKV"]
    for _ in range(h):
        if m.attention == "cosine":  # unit query and key rows (norms, each [rows, d_k]), their cosines, ÷ τ
            ops += [_each(ELEMENTWISE, "normalize", layer, t * dk), _each(ELEMENTWISE, "normalize", layer, s * dk),
                    _products(SCORES, "cosine_scores", layer, (t, s), dk), _each(SOFTMAX, "temperature", layer, t * s)]
        else:
            ops.append(_products(SCORES, "scores", layer, (t, s), dk))
        if m.attention_scale and m.attention == "dot":
            ops.append(_each(SOFTMAX, "scale", layer, t * s))
        ops += [_each(SOFTMAX, "mask", layer, t * s), _each(SOFTMAX, "softmax", layer, t * s),
                _products(AV, "weighted_sum", layer, (t, dk), s)]
    if h > 1:
        ops.append(_each(ELEMENTWISE, "heads", layer, t * d))
    return [*ops, _lin(WO, layer, (t, d), (d, d), m.bias)]


def layer_ops(m, layer: int, t: int, cross: int = 0, context: int | None = None) -> list[Op]:
    """One block over `t` positions: self-attention (over `context` positions when earlier ones are
    cached), a cross-attention over `cross` source positions (a seq2seq decoder layer), the FFN (unless
    `ffn: false`), each sublayer with its residual add (where `residual` keeps it) and its norm."""
    d, f, norm = m.d_model, m.d_ff, "batchnorm" if m.norm_type == "batch" else "layernorm"
    # (which, how many times it reads its input, its ops): self-attention reads it three times (Q, K, V)
    sublayers = [("attention", 3, attention_ops(m, layer, t, t if context is None else context, t))]
    if cross:
        sublayers.append(("cross", 1, attention_ops(m, layer, t, cross)))
    if m.ffn:
        sublayers.append(("ffn", 1, [_lin(FFN, layer, (t, d), (d, f), m.bias),
                                     _each(ELEMENTWISE, "activation", layer, t * f),
                                     _lin(FFN, layer, (t, f), (f, d), m.bias)]))
    ops: list[Op] = []
    adds = 0  # backward: the gradients reaching each sublayer's input, added (the skip path is one of them)
    for which, reads, sub in sublayers:
        skip = which == "cross" or m.keeps_residual(which)
        pre = [_each(ELEMENTWISE, norm, layer, t * d)] if m.norm == "pre" else []
        post = [_each(ELEMENTWISE, norm, layer, t * d)] if m.norm == "post" else []
        ops += [*pre, *sub, *([_each(ELEMENTWISE, "residual", layer, t * d)] if skip else []), *post]
        adds += reads + skip - 1
    return [*ops, _merge(layer, adds * t * d)]


def embed_ops(m, t: int) -> list[Op]:
    ops = [_each(EMBED, "embedding", None, t * m.d_tok)]  # concat: the token rows are d_model − d_pos wide
    if m.positional == "concat":  # the sinusoids [T, d_pos] and the rows beside them [T, d_model]
        ops.append(_each(EMBED, "positional", None, t * (m.d_pos + m.d_model), back=t * m.d_tok))
    elif m.positional != "none":  # the position rows and their sum with the token rows
        ops.append(_each(EMBED, "positional", None, 2 * t * m.d_model))
    return ops


def forward_ops(m, t: int, n_out: int, task: str, s: int = 0) -> list[Op]:
    """Every forward stage of one example: `t` positions (a seq2seq's target; an mlp's batch), `n_out`
    scores per row, `task` the task's kind (next_token and seq2seq score every position, the others one
    pooled row), `s`: a seq2seq's source positions."""
    if m.kind == "mlp":
        return mlp_ops(m, max(t, 1), regress=task == "regress")
    per_position = task in ("next_token", "seq2seq")
    d = m.d_model
    norm = "batchnorm" if m.norm_type == "batch" else "layernorm"
    ops = []
    if m.kind == "seq2seq":
        ops += embed_ops(m, s)
        for i in range(m.n_layers):
            ops += layer_ops(m, i, s)
        ops += [_each(ELEMENTWISE, norm, None, s * d)] if m.final_norm else []
    ops += embed_ops(m, t)
    for i in range(m.n_dec_layers if m.kind == "seq2seq" else m.n_layers):
        ops += layer_ops(m, i, t, cross=s if m.kind == "seq2seq" else 0)
    ops += [_each(ELEMENTWISE, norm, None, t * d)] if m.final_norm else []
    rows = t if per_position else 1
    if not per_position:
        ops.append(Op(HEAD, "pooling", None, d, t * d, t * d))
    head = (n_out, d) if m.tie_embeddings else (d, n_out)
    ops.append(_lin(HEAD, None, (rows, d), head, m.head_bias and not m.tie_embeddings, m.tie_embeddings))
    if m.tie_embeddings:  # the table's gradient comes from the head and from the lookup
        ops.append(_merge(None, n_out * d))
    return [*ops, _each(HEAD, "loss", None, rows * n_out + 2, back=rows * n_out)]  # p, L and its perplexity


def cached_ops(m, new: int, context: int, n_out: int) -> list[Op]:
    """A decoder fed `new` tokens with a KV cache, `context` positions in all: only the new rows are
    projected and attend, and only the last one is scored (stepper/engine/kv_cache.py)."""
    d, norm = m.d_model, "batchnorm" if m.norm_type == "batch" else "layernorm"
    ops = embed_ops(m, new)
    for i in range(m.n_layers):
        ops += layer_ops(m, i, new, context=context)
    ops += [_each(ELEMENTWISE, norm, None, new * d)] if m.final_norm else []
    head = (n_out, d) if m.tie_embeddings else (d, n_out)
    return [*ops, _lin(HEAD, None, (1, d), head, m.head_bias and not m.tie_embeddings, m.tie_embeddings)]


def mlp_ops(m, batch: int, *, regress: bool) -> list[Op]:
    """Each layer's product and (but the last) its activation, recorded even when it is `none`; the loss
    (a regression's makes L alone, a classifier's also the probabilities)."""
    ops = []
    pairs = list(zip(m.sizes, m.sizes[1:], strict=False))
    for i, (a, b) in enumerate(pairs):
        ops.append(_lin(FFN, i, (batch, a), (a, b), m.bias))
        if i < len(pairs) - 1:
            ops.append(_each(ELEMENTWISE, "activation", i, batch * b))
    out = batch * m.sizes[-1]
    return [*ops, _each(HEAD, "loss", None, 1 if regress else out + 2, back=out)]  # L; or p, L, perplexity


def by_row(ops: list[Op]) -> dict[str, tuple[int, int, int]]:
    """(forward FLOPs, backward FLOPs, elements made) per row of the table, in ROWS order."""
    out = {}
    for row in ROWS:
        mine = [o for o in ops if o.row == row]
        if mine:
            out[row] = (sum(o.flops for o in mine), sum(o.backward for o in mine), sum(o.made for o in mine))
    return out


def crossover(m, n_out: int) -> float | None:
    """The T at which the O(T²) attention rows cost as many forward FLOPs as the O(T·d²) projection rows:
    per layer the first grow as a·T² and the second as b·T, so T = b / a. None for an mlp."""
    if m.kind == "mlp":
        return None
    one = by_row(layer_ops(m, 0, 1))
    a = sum(one[r][0] for r in ATTENTION_ROWS)
    b = sum(one[r][0] for r in PROJECTION_ROWS)
    return b / a
