"""The training reference against other people's code: torch.nn.TransformerEncoder and HF GPT-2.

Each scenario is written from the training semantics alone (batches, padding, pooling, losses,
optimizers, clipping, schedules, validation); the same weights are copied into the third-party model,
trained by a plain PyTorch loop with torch.optim, clip_grad_norm_ and the `transformers` schedule
functions. Every batch loss, lr, grad norm, validation figure and every parameter after every update
must agree to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fit_helpers import TOL, VOCAB, assert_same_run, data, optim, pad_rows, plain_loop, scenario, sentences
from third_party_nets import sinusoidal

from stepper.scenario.types import ModelConfig, TaskConfig
from stepper.verify.reference_fit import fit_reference

transformers = pytest.importorskip("transformers")

PAD = 0
INDEX = {tok: i for i, tok in enumerate(VOCAB)}


def ids(rows) -> list[list[int]]:
    return [[INDEX[t] for t in r] for r in rows]


def layer_params(rng, d: int, f: int, n_layers: int) -> dict:
    p = {}
    for i in range(n_layers):
        pre = f"layers.{i}"
        for m in "QKVO":
            p[f"{pre}.attn.W_{m}"] = rng.normal(size=(d, d)) * 0.5
            p[f"{pre}.attn.b_{m}"] = rng.normal(size=d) * 0.1
        for n in (1, 2):
            p[f"{pre}.ln{n}.gamma"] = 1 + rng.normal(size=d) * 0.1
            p[f"{pre}.ln{n}.beta"] = rng.normal(size=d) * 0.1
        p[f"{pre}.ffn.W_1"], p[f"{pre}.ffn.b_1"] = rng.normal(size=(d, f)) * 0.5, rng.normal(size=f) * 0.1
        p[f"{pre}.ffn.W_2"], p[f"{pre}.ffn.b_2"] = rng.normal(size=(f, d)) * 0.5, rng.normal(size=d) * 0.1
    return p


# --- torch.nn.TransformerEncoder, classify, mean pooling -------------------------------------------

class Classifier(torch.nn.Module):
    def __init__(self, p: dict, d, heads, f, n_layers, norm_first, act, final_norm, learned):
        super().__init__()
        t = torch.tensor
        self.tok = torch.nn.Parameter(t(p["embed.tok"]))
        self.pos = torch.nn.Parameter(t(p["embed.pos"])) if learned else None
        layer = torch.nn.TransformerEncoderLayer(d, heads, f, dropout=0.0, activation=act, batch_first=True,
                                                 norm_first=norm_first, dtype=torch.float64)
        norm = torch.nn.LayerNorm(d, dtype=torch.float64) if final_norm else None
        self.enc = torch.nn.TransformerEncoder(layer, n_layers, norm=norm, enable_nested_tensor=False)
        self.head = torch.nn.Linear(d, p["head.W"].shape[1], dtype=torch.float64)
        self.names = list(p)
        with torch.no_grad():
            for i, lay in enumerate(self.enc.layers):
                a = f"layers.{i}.attn"
                # nn.MultiheadAttention stores in_proj as [3D, D], out × in: our [in, out] transposed
                lay.self_attn.in_proj_weight.copy_(t(np.concatenate([p[f"{a}.W_{m}"].T for m in "QKV"])))
                lay.self_attn.in_proj_bias.copy_(t(np.concatenate([p[f"{a}.b_{m}"] for m in "QKV"])))
                lay.self_attn.out_proj.weight.copy_(t(p[f"{a}.W_O"].T))
                lay.self_attn.out_proj.bias.copy_(t(p[f"{a}.b_O"]))
                lay.linear1.weight.copy_(t(p[f"layers.{i}.ffn.W_1"].T))
                lay.linear1.bias.copy_(t(p[f"layers.{i}.ffn.b_1"]))
                lay.linear2.weight.copy_(t(p[f"layers.{i}.ffn.W_2"].T))
                lay.linear2.bias.copy_(t(p[f"layers.{i}.ffn.b_2"]))
                for n, ln in ((1, lay.norm1), (2, lay.norm2)):
                    ln.weight.copy_(t(p[f"layers.{i}.ln{n}.gamma"]))
                    ln.bias.copy_(t(p[f"layers.{i}.ln{n}.beta"]))
            if final_norm:
                norm.weight.copy_(t(p["ln_f.gamma"]))
                norm.bias.copy_(t(p["ln_f.beta"]))
            self.head.weight.copy_(t(p["head.W"].T))
            self.head.bias.copy_(t(p["head.b"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = x == PAD
        h = F.embedding(x, self.tok)
        h = h + (self.pos[: x.shape[1]] if self.pos is not None else sinusoidal(x.shape[1], h.shape[-1]))
        h = self.enc(h, src_key_padding_mask=pad)
        real = (~pad).to(h.dtype)[..., None]
        return self.head((h * real).sum(1) / real.sum(1))

    def ours(self) -> dict:
        """The parameters under the scenario's names, [in, out]."""
        d = self.tok.shape[1]
        out = {"embed.tok": self.tok, **({"embed.pos": self.pos} if self.pos is not None else {})}
        for i, lay in enumerate(self.enc.layers):
            a = f"layers.{i}.attn"
            w, b = lay.self_attn.in_proj_weight, lay.self_attn.in_proj_bias
            for k, m in enumerate("QKV"):
                out[f"{a}.W_{m}"], out[f"{a}.b_{m}"] = w[k * d:(k + 1) * d].T, b[k * d:(k + 1) * d]
            out[f"{a}.W_O"], out[f"{a}.b_O"] = lay.self_attn.out_proj.weight.T, lay.self_attn.out_proj.bias
            out[f"layers.{i}.ffn.W_1"], out[f"layers.{i}.ffn.b_1"] = lay.linear1.weight.T, lay.linear1.bias
            out[f"layers.{i}.ffn.W_2"], out[f"layers.{i}.ffn.b_2"] = lay.linear2.weight.T, lay.linear2.bias
            for n, ln in ((1, lay.norm1), (2, lay.norm2)):
                out[f"layers.{i}.ln{n}.gamma"], out[f"layers.{i}.ln{n}.beta"] = ln.weight, ln.bias
        if self.enc.norm is not None:
            out["ln_f.gamma"], out["ln_f.beta"] = self.enc.norm.weight, self.enc.norm.bias
        out["head.W"], out["head.b"] = self.head.weight.T, self.head.bias
        return out

    def flat(self) -> np.ndarray:
        ours = self.ours()
        return np.concatenate([ours[n].detach().numpy().ravel() for n in self.names])


ENCODERS = {
    # norm, activation, final norm, positional, optimizer, schedule
    "post-adamw-linear": ("post", "relu", False, "learned", ("adamw", 0.05, 0.01), ("linear", 2)),
    "pre-adam-cosine": ("pre", "gelu", True, "sinusoidal", ("adam", 0.02, 0.05), ("cosine", 3)),
    "pre-sgd-constant": ("pre", "relu", True, "learned", ("sgd", 0.1, 0.02), ("constant", 1)),
}


@pytest.mark.parametrize("case", list(ENCODERS))
def test_classifier_trains_as_torch_nn_transformer_encoder(case):
    norm, act, final, positional, (kind, lr, wd), sched = ENCODERS[case]
    rng = np.random.default_rng(7)
    d, heads, f, n_layers, classes = 4, 2, 8, 2, ("neg", "pos", "meh")
    train, held = sentences(rng, 7, 2, 5), sentences(rng, 3, 2, 6)
    labels, val_labels = list(rng.choice(classes, 7)), list(rng.choice(classes, 3))
    p = {"embed.tok": rng.normal(size=(len(VOCAB), d))}
    if positional == "learned":
        p["embed.pos"] = rng.normal(size=(8, d)) * 0.3
    p |= layer_params(rng, d, f, n_layers)
    if final:
        p["ln_f.gamma"], p["ln_f.beta"] = 1 + rng.normal(size=d) * 0.1, rng.normal(size=d) * 0.1
    p["head.W"], p["head.b"] = rng.normal(size=(d, 3)), rng.normal(size=3) * 0.1
    model = ModelConfig(kind="encoder", d_model=d, n_heads=heads, n_layers=n_layers, d_ff=f, activation=act,
                        norm=norm, final_norm=final, positional=positional, max_len=8, pooling="mean")
    steps = 2 * 3  # two epochs of ⌈7 / 3⌉ batches
    sc = scenario(model, TaskConfig(kind="classify", classes=classes, label=labels[0]), p,
                  optim(kind, lr, steps, wd=wd, clip=0.5, schedule=sched),
                  data(train, held, batch_size=3, shuffle=True, seed=3, labels=labels, val_labels=val_labels))
    history = []
    fit = fit_reference(sc, on_update=lambda t, flat: history.append(flat.copy()))

    net = Classifier(p, d, heads, f, n_layers, norm == "pre", act, final, positional == "learned")
    opt = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}[kind](
        net.parameters(), lr=lr, weight_decay=wd)
    schedule = getattr(transformers, f"get_{sched[0]}_schedule_with_warmup")
    lr_sched = schedule(opt, sched[1]) if sched[0] == "constant" else schedule(opt, sched[1], steps)
    plan = [np.random.default_rng(3 + e).permutation(7)[j * 3:(j + 1) * 3] for e in range(2) for j in range(3)]
    x, y = pad_rows(ids(train), PAD), torch.tensor([classes.index(c) for c in labels])
    vx, vy = pad_rows(ids(held), PAD), torch.tensor([classes.index(c) for c in val_labels])

    def loss_of(rows):
        rows = torch.tensor(rows)
        xb = x[rows][:, : int((x[rows] != PAD).sum(1).max())]  # padded to this batch's longest
        return F.cross_entropy(net(xb), y[rows])

    def validate():
        logits = net(vx)  # grad enabled: nn.TransformerEncoder's inference fast path stays off
        acc = (logits.argmax(-1) == vy).double().mean().item()
        return F.cross_entropy(logits, vy).item(), acc

    theirs = plain_loop(list(net.parameters()), loss_of, plan, opt, lr_sched, 0.5, validate, 3, net.flat)
    assert_same_run(fit, history, theirs)
    assert [list(b) for b in fit.batches] == [list(b) for b in plan]
    for name, value in net.ours().items():
        np.testing.assert_allclose(fit.trained[name], value.detach().numpy(), rtol=0, atol=TOL, err_msg=name)


# --- HF GPT-2, next_token with padding ------------------------------------------------------------

def gpt2(p: dict, d: int, heads: int, f: int, n_layers: int):
    cfg = transformers.GPT2Config(vocab_size=len(VOCAB), n_positions=p["embed.pos"].shape[0], n_embd=d,
                                  n_layer=n_layers, n_head=heads, n_inner=f, activation_function="gelu_new",
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                                  tie_word_embeddings=True)
    cfg._attn_implementation = "eager"
    net = transformers.GPT2LMHeadModel(cfg).double()
    # GPT-2's Conv1D weights are [in, out] already, as ours; c_attn holds W_Q | W_K | W_V side by side
    where = {"embed.tok": "transformer.wte.weight", "embed.pos": "transformer.wpe.weight",
             "ln_f.gamma": "transformer.ln_f.weight", "ln_f.beta": "transformer.ln_f.bias"}
    for i in range(n_layers):
        h, o = f"transformer.h.{i}", f"layers.{i}"
        where |= {f"{o}.attn.W_O": f"{h}.attn.c_proj.weight", f"{o}.attn.b_O": f"{h}.attn.c_proj.bias",
                  f"{o}.ffn.W_1": f"{h}.mlp.c_fc.weight", f"{o}.ffn.b_1": f"{h}.mlp.c_fc.bias",
                  f"{o}.ffn.W_2": f"{h}.mlp.c_proj.weight", f"{o}.ffn.b_2": f"{h}.mlp.c_proj.bias",
                  f"{o}.ln1.gamma": f"{h}.ln_1.weight", f"{o}.ln1.beta": f"{h}.ln_1.bias",
                  f"{o}.ln2.gamma": f"{h}.ln_2.weight", f"{o}.ln2.beta": f"{h}.ln_2.bias"}
    state = net.state_dict()
    with torch.no_grad():
        for ours, theirs in where.items():
            state[theirs].copy_(torch.tensor(p[ours]))
        for i in range(n_layers):
            a = f"layers.{i}.attn"
            state[f"transformer.h.{i}.attn.c_attn.weight"].copy_(
                torch.tensor(np.concatenate([p[f"{a}.W_{m}"] for m in "QKV"], axis=1)))
            state[f"transformer.h.{i}.attn.c_attn.bias"].copy_(
                torch.tensor(np.concatenate([p[f"{a}.b_{m}"] for m in "QKV"])))

    def ours() -> dict:
        s = net.state_dict()
        out = {name: s[theirs] for name, theirs in where.items()}
        for i in range(n_layers):
            w, b = s[f"transformer.h.{i}.attn.c_attn.weight"], s[f"transformer.h.{i}.attn.c_attn.bias"]
            for k, m in enumerate("QKV"):
                out[f"layers.{i}.attn.W_{m}"] = w[:, k * d:(k + 1) * d]
                out[f"layers.{i}.attn.b_{m}"] = b[k * d:(k + 1) * d]
        return out

    return net, ours


GPT2_CASES = {"adamw-cosine": ("adamw", 0.03, 0.01, ("cosine", 2)),
              "momentum-linear": ("momentum", 0.05, 0.0, ("linear", 1))}


@pytest.mark.parametrize("case", list(GPT2_CASES))
def test_decoder_trains_as_hf_gpt2_with_padding(case):
    kind, lr, wd, sched = GPT2_CASES[case]
    rng = np.random.default_rng(11)
    d, heads, f, n_layers = 8, 2, 16, 2
    train, held = sentences(rng, 6, 3, 6), sentences(rng, 2, 3, 7)
    p = {"embed.tok": rng.normal(size=(len(VOCAB), d)) * 0.5, "embed.pos": rng.normal(size=(8, d)) * 0.3}
    p |= layer_params(rng, d, f, n_layers)
    p["ln_f.gamma"], p["ln_f.beta"] = 1 + rng.normal(size=d) * 0.1, rng.normal(size=d) * 0.1
    model = ModelConfig(kind="decoder", d_model=d, n_heads=heads, n_layers=n_layers, d_ff=f,
                        activation="gelu_tanh", norm="pre", final_norm=True, positional="learned", max_len=8,
                        tie_embeddings=True)
    steps = 5  # ⌈6 / 4⌉ = 2 batches an epoch: validation after updates 1, 3 and the last, 4
    sc = scenario(model, TaskConfig(kind="next_token"), p,
                  optim(kind, lr, steps, wd=wd, clip=1.0, schedule=sched, momentum=0.8),
                  data(train, held, batch_size=4))
    history = []
    fit = fit_reference(sc, on_update=lambda t, flat: history.append(flat.copy()))
    np.testing.assert_array_equal(fit.val_after, [1, 3, 4])

    net, ours = gpt2(p, d, heads, f, n_layers)
    if kind == "adamw":
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.8)
    lr_sched = getattr(transformers, f"get_{sched[0]}_schedule_with_warmup")(opt, sched[1], steps)
    x, vx = pad_rows(ids(train), PAD), pad_rows(ids(held), PAD)

    def lm_loss(xb):
        xb = xb[:, : int((xb != PAD).sum(1).max())]
        keep = xb != PAD
        logits = net(input_ids=xb, attention_mask=keep.long()).logits
        labels = xb.masked_fill(~keep, -100)
        # GPT-2's own loss casts the logits to float32; the same shifted, token-weighted mean in float64
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)

    def validate():
        net.eval()
        with torch.no_grad():
            loss = lm_loss(vx).item()
        net.train()
        return loss, None

    plan = [np.arange(6)[j * 4:(j + 1) * 4] for j in (0, 1, 0, 1, 0)]
    flat = lambda: np.concatenate([ours()[n].detach().numpy().ravel() for n in p])  # noqa: E731
    theirs = plain_loop(list(net.parameters()), lambda rows: lm_loss(x[torch.tensor(rows)]), plan, opt,
                        lr_sched, 1.0, validate, 2, flat)
    assert_same_run(fit, history, theirs)
    assert fit.lr[0] == 0.0 and fit.val_accuracy.size == 0
