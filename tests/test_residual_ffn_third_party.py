"""The residual / FFN switches judged by torch modules we did not write.

With both on, the block is torch.nn.TransformerEncoderLayer (tests/test_reference.py holds the
reference to it); writing the defaults out changes nothing. With `ffn: false` the block is
torch.nn.MultiheadAttention (+ torch.nn.LayerNorm), wired by hand, our weights copied in.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from stepper.engine import build_trace
from stepper.scenario import parse_scenario
from stepper.verify.reference import torch_reference

TOL = 1e-10
VOCAB = ["<pad>", "I", "am", "very", "happy"]
TOKENS = ["I", "am", "<pad>", "very", "happy"]


def scenario(kind: str, norm: str, residual, **model):
    task = {"kind": "next_token"} if kind == "decoder" else {"kind": "classify", "classes": ["n", "p"], "label": "p"}
    doc = {"name": "tp", "model": {"kind": kind, "d_model": 4, "n_heads": 2, "n_layers": 2, "norm": norm,
                                   "residual": residual, "ffn": False, **model},
           "input": {"vocab": VOCAB, "tokens": TOKENS}, "task": task,
           "weights": {"seed": 7, "init": {"std": 0.6, "bias_std": 0.3}}}
    return parse_scenario(yaml.safe_dump(doc, sort_keys=False))


def t(a) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64))


class AttentionOnly(torch.nn.Module):
    """One attention-only block from torch.nn parts: MultiheadAttention, and a LayerNorm before or after it."""

    def __init__(self, sc, i: int):
        super().__init__()
        m, p, at = sc.model, sc.params, f"layers.{i}"
        self.norm, self.skip = m.norm, "attention" in m.residual
        self.attn = torch.nn.MultiheadAttention(m.d_model, m.n_heads, batch_first=True, dtype=torch.float64)
        self.ln = torch.nn.LayerNorm(m.d_model, eps=m.norm_eps, dtype=torch.float64)
        with torch.no_grad():  # nn keeps weights [out, in]; ours are [in, out]
            self.attn.in_proj_weight.copy_(torch.cat([t(p[f"{at}.attn.W_{n}"]).T for n in "QKV"]))
            self.attn.in_proj_bias.copy_(torch.cat([t(p[f"{at}.attn.b_{n}"]) for n in "QKV"]))
            self.attn.out_proj.weight.copy_(t(p[f"{at}.attn.W_O"]).T)
            self.attn.out_proj.bias.copy_(t(p[f"{at}.attn.b_O"]))
            if m.norm != "none":
                self.ln.weight.copy_(t(p[f"{at}.ln1.gamma"]))
                self.ln.bias.copy_(t(p[f"{at}.ln1.beta"]))

    def forward(self, x, mask):
        a = self.ln(x) if self.norm == "pre" else x
        out = self.attn(a, a, a, attn_mask=mask, need_weights=False)[0]
        out = x + out if self.skip else out
        return self.ln(out) if self.norm == "post" else out

    def grads(self, i: int) -> dict[str, torch.Tensor]:
        at, d, a = f"layers.{i}", self.attn.embed_dim, self.attn
        out = {f"{at}.attn.W_O": a.out_proj.weight.grad.T, f"{at}.attn.b_O": a.out_proj.bias.grad}
        for k, n in enumerate("QKV"):
            out[f"{at}.attn.W_{n}"] = a.in_proj_weight.grad[k * d:(k + 1) * d].T
            out[f"{at}.attn.b_{n}"] = a.in_proj_bias.grad[k * d:(k + 1) * d]
        if self.norm != "none":
            out[f"{at}.ln1.gamma"], out[f"{at}.ln1.beta"] = self.ln.weight.grad, self.ln.bias.grad
        return out


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("norm", ["post", "pre", "none"])
@pytest.mark.parametrize("residual", [True, False])
def test_an_attention_only_block_is_torch_s_multihead_attention(kind, norm, residual):
    sc = scenario(kind, norm, residual)
    trace, ref = build_trace(sc), torch_reference(sc)
    ids = sc.token_ids[:-1] if kind == "decoder" else sc.token_ids
    n = len(ids)
    blocked = torch.tensor([[i == 0 for i in ids]]).expand(n, n)  # <pad> keys
    if kind == "decoder":
        blocked = blocked | torch.ones(n, n, dtype=torch.bool).triu(1)
    x0 = t(ref.get("x0")).requires_grad_(True)
    blocks = [AttentionOnly(sc, i) for i in range(sc.model.n_layers)]
    h = x0[None]
    for block in blocks:
        h = block(h, blocked)
    h = h[0]
    head_w, head_b = (t(sc.params[k]).requires_grad_(True) for k in ("head.W", "head.b"))
    if kind == "decoder":
        targets = torch.tensor(sc.token_ids[1:])
        keep = targets != 0  # <pad> targets are not scored
        loss = F.cross_entropy((h @ head_w + head_b)[keep], targets[keep])
    else:
        real = [k for k, i in enumerate(ids) if i != 0]
        loss = F.cross_entropy((h[real].mean(dim=0) @ head_w + head_b)[None], torch.tensor([sc.task.label_index]))
    loss.backward()
    assert abs(loss.item() - trace.loss) <= TOL
    theirs = {"head.W": head_w.grad, "head.b": head_b.grad}
    for i, block in enumerate(blocks):
        theirs |= block.grads(i)
    ours = trace.grads
    assert set(theirs) | {"embed.tok"} == set(ours)
    for name, grad in theirs.items():
        assert np.max(np.abs(grad.numpy() - ours[name])) <= TOL, name
    assert np.max(np.abs(x0.grad.numpy() - ref.get("d:x0"))) <= TOL


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_writing_the_defaults_out_changes_nothing(kind):
    def trace(**model):
        task = {"kind": "next_token"} if kind == "decoder" else {"kind": "classify", "classes": ["n", "p"],
                                                                  "label": "p"}
        doc = {"name": "tp", "model": {"kind": kind, "norm": "pre", **model},
               "input": {"vocab": VOCAB, "tokens": TOKENS}, "task": task, "weights": {"seed": 1}}
        return build_trace(parse_scenario(yaml.safe_dump(doc, sort_keys=False)))

    a, b = trace(), trace(residual=["attention", "ffn"], ffn=True)
    assert a.loss == b.loss and [s.id for s in a.steps] == [s.id for s in b.steps]
    assert all(np.array_equal(a.grads[k], b.grads[k]) for k in a.grads)
