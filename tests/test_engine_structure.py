"""How the engine is put together: the names of a trace's quantities come from one module shared with
the reference, blocks compose (attention reads queries and keys from different streams), and state
travels in cache objects, never in attributes set after construction."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from stepper.engine import attention
from stepper.engine.record import Labels, Recorder
from stepper.engine.recorded import Keyed
from stepper.engine.step_writer import StepWriter
from stepper.scenario.types import ModelConfig
from stepper.trace_keys import ATTENTION_QUANTITIES, FINAL_NORM, AttentionKeys, LayerKeys

ROOT = Path(__file__).resolve().parent.parent
ENGINE = sorted((ROOT / "stepper" / "engine").glob("*.py"))


def attributes_set_outside_init(source: str) -> list[str]:
    """`obj.attr = …` anywhere but in an __init__: state a reader of the class cannot see declared."""
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            here = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Assign | ast.AugAssign | ast.AnnAssign) and here != "__init__":
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                found.extend(f"{child.lineno}: {ast.unparse(n)}" for t in targets for n in ast.walk(t)
                             if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store))
            visit(child, here)

    visit(ast.parse(source), None)
    return found


def test_the_check_finds_an_attribute_set_outside_init():
    src = "class P:\n    def __init__(self):\n        self.a = 1\n    def run(self):\n        self.b = 2\n"
    assert attributes_set_outside_init(src) == ["5: self.b"]


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_no_engine_module_sets_an_attribute_outside_init(path):
    assert attributes_set_outside_init(path.read_text()) == []


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_engine_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= 300


def documented_forward_keys() -> list[str]:
    """The first column of docs/trace-keys.md's forward table, for layer 0."""
    doc = (ROOT / "docs" / "trace-keys.md").read_text()
    table = doc.split("## Forward activations", 1)[1].split("\n\n", 2)[1]
    keys: list[str] = []
    for line in table.splitlines()[2:]:
        for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
            # `L{i}.attn.Q`, `.K`, `.V`: a leading dot replaces the previous name's last part
            keys.append(keys[-1].rsplit(".", 1)[0] + name if name.startswith(".") else name)
    return [k.replace("{i}", "0") for k in keys]


def test_trace_keys_builds_every_documented_layer_key():
    layer = LayerKeys(0)
    built = {layer.norm(1).out, layer.norm(2).out, layer.residual(1), layer.residual(2), FINAL_NORM.out,
             layer.attn.Q, layer.attn.K, layer.attn.V, layer.attn.Q_hat, layer.attn.K_hat, layer.attn.S_raw, layer.attn.S, layer.attn.S_masked,
             layer.attn.A, layer.attn.Z, layer.attn.concat, layer.attn.out, layer.ffn.H, layer.ffn.G, layer.ffn.out}
    documented = {k for k in documented_forward_keys() if k.startswith("L0.") or k == "ln_f"}
    assert documented == built
    assert layer.attn.weight("Q") == "layers.0.attn.W_Q" and layer.norm(2).gamma == "layers.0.ln2.gamma"


def test_attention_quantities_are_declared_where_a_static_checker_sees_them():
    """Each documented name is a property of AttentionKeys, not an answer of a __getattr__."""
    assert "__getattr__" not in vars(AttentionKeys)
    assert all(isinstance(inspect.getattr_static(AttentionKeys, name), property) for name in ATTENTION_QUANTITIES)
    keys = AttentionKeys(params="layers.3.attn", at="L3.attn")
    assert [getattr(keys, name) for name in ATTENTION_QUANTITIES] == [f"L3.attn.{n}" for n in ATTENTION_QUANTITIES]


def test_the_reference_spells_no_layer_key_itself():
    """Engine and reference pair quantities by name: the reference takes every layer name from
    stepper/trace_keys.py, so the two cannot drift apart."""
    src = (ROOT / "stepper" / "verify" / "reference_transformer.py").read_text()
    strings = [n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    spelled = [s for s in strings if re.search(r"^L\{?|layers\.|\.attn|\.ffn|\.ln\d|\.res\d|^tok_emb$|^ln_f$", s)]
    assert "stepper.trace_keys" in src and spelled == []


def test_attention_reads_queries_and_keys_from_different_streams():
    """Cross-attention by composition: queries from one stream, keys and values from another. Only the
    key/value stream is read twice (K and V), so only its gradients are parts for a merge to add."""
    T, D, H = 3, 4, 2
    rng = np.random.default_rng(1)
    m = ModelConfig(kind="encoder", d_model=D, n_heads=H, n_layers=1, d_ff=5)
    params = {f"x.W_{n}": rng.normal(size=(D, D)) for n in "QKVO"} | {f"x.b_{n}": rng.normal(size=D) for n in "QKVO"}
    keys = attention.AttentionKeys(params="x", at="X.cross")
    rec = Recorder()
    w = StepWriter(rec, Labels(["a", "b", "c"], ["a", "b", "c"], [], D, 5, H), params, [])
    dec, enc = rng.normal(size=(T, D)), rng.normal(size=(T, D))
    ok = np.ones((T, T), bool)
    out, cache = attention.forward(w, keys, Keyed(dec, "dec"), Keyed(enc, "enc"), ok, m, layer=0, mask_name="none")
    d_out = rng.normal(size=(T, D))
    grads = {}
    paths = attention.backward(w, d_out, cache, grads, shared=False)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tdec, tenc = torch.tensor(dec, requires_grad=True), torch.tensor(enc, requires_grad=True)
    split = lambda x: x.view(T, H, D // H).transpose(0, 1)  # noqa: E731
    q, k, v = (x @ tp[f"x.W_{n}"] + tp[f"x.b_{n}"] for x, n in ((tdec, "Q"), (tenc, "K"), (tenc, "V")))
    a = torch.softmax(split(q) @ split(k).transpose(-2, -1) / (D // H) ** 0.5, dim=-1)
    tout = (a @ split(v)).transpose(0, 1).reshape(T, D) @ tp["x.W_O"] + tp["x.b_O"]
    tout.backward(torch.tensor(d_out))
    assert np.abs(out.value - tout.detach().numpy()).max() < 1e-12
    by_key = {p.key: p.value for p in paths}
    assert set(by_key) == {"d:dec", "d:enc<-X.cross.K", "d:enc<-X.cross.V"}
    assert np.abs(by_key["d:dec"] - tdec.grad.numpy()).max() < 1e-12
    assert np.abs(by_key["d:enc<-X.cross.K"] + by_key["d:enc<-X.cross.V"] - tenc.grad.numpy()).max() < 1e-12
    assert all(np.abs(grads[n] - tp[n].grad.numpy()).max() < 1e-12 for n in params)
    assert "fwd.X.cross.h1.scores" in [s.id for s in rec.steps]
