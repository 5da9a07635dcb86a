"""The parts of the document around the steps: setup, parameters, dimension journey, outcome, summary."""

from __future__ import annotations

from stepper.export.md_steps import Axes, heading, verdict
from stepper.export.md_tables import code, text, token_list
from stepper.present.labels import shape_text
from stepper.present.numbers import table_number

LISTED = 24  # vocabulary entries named in the setup table before "… and N more"


def setup_section(trace) -> str:
    cfg, m, task = trace.config, trace.config.get("model", {}), trace.config.get("task", {})
    rows: list[tuple[str, str]] = []
    kind = m.get("kind", "encoder")
    if kind == "mlp":
        rows += [("model", "multi-layer perceptron"),
                 ("layer widths", " → ".join(str(n) for n in m.get("sizes", []))),
                 ("activation", text(str(m.get("activation")))), ("biases", _yes(m.get("bias")))]
    else:
        rows.append(("model", {"encoder": "encoder: every token attends to every token",
                               "decoder": "decoder: causal self-attention, each token sees only "
                                          "itself and earlier tokens",
                               "seq2seq": "encoder–decoder: the encoder reads the source (every source token "
                                          "sees every source token); each decoder layer has causal "
                                          "self-attention over the target, then cross-attention whose queries "
                                          "come from the decoder and whose keys and values come from the "
                                          "encoder's output"}.get(kind, text(kind))))
        rows += _transformer_rows(cfg, m, task)
    if task.get("kind") == "classify":
        truth = (f"the true classes are {', '.join(map(code, task['labels']))}, one per example"
                 if task.get("labels") else f"the true class is {code(str(task.get('label')))}")
        rows.append(("task", f"classify into {', '.join(map(code, task.get('classes', [])))}; {truth}"))
    elif task.get("kind") == "next_token":
        rows.append(("task", "predict the next token at every position"))
    elif task.get("kind") == "seq2seq":
        rows.append(("task", "predict the next target token at every target position (teacher forcing)"))
    elif task.get("kind") == "regress":
        rows.append(("task", "regression to the target " + ", ".join(str(v) for v in task.get("target", []))))
    rows += _after_rows(cfg)
    lines = ["## Setup", "", "| setting | value |", "|:---|:---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def _after_rows(cfg: dict) -> list[tuple[str, str]]:
    """What the scenario asks for beyond one forward and backward pass: training, generation."""
    rows = []
    o = cfg.get("optim")
    if o:
        hyper = {"sgd": f"α = {o['lr']:g}", "momentum": f"α = {o['lr']:g}, β = {o['momentum']:g}",
                 "adam": f"α = {o['lr']:g}, β₁ = {o['beta1']:g}, β₂ = {o['beta2']:g}, ε = {o['eps']:g}"}
        rows.append(("training", f"{text(o['kind'])} ({hyper.get(o['kind'], '')}), "
                                 f"{o['steps']} update{'s' * (o['steps'] != 1)}"))
    g = cfg.get("generate")
    if g:
        how = "greedy" if g["greedy"] or g["temperature"] == 0 else f"sampled, seed {g['seed']}"
        rows.append(("generation", f"{g['max_new_tokens']} new tokens; temperature τ = {g['temperature']:g}, "
                                   f"top-k = {g['top_k'] or 'off'}, top-p = {g['top_p']:g}; {how}"))
    return rows


def _yes(flag) -> str:
    return "yes" if flag else "no"


def _transformer_rows(cfg: dict, m: dict, task: dict) -> list[tuple[str, str]]:
    tokens, vocab = list(cfg.get("tokens", [])), list(cfg.get("vocab", []))
    if task.get("kind") == "next_token":
        seq = (f"input {token_list(tokens[:-1])} → targets {token_list(tokens[1:])} "
               f"(T = {len(tokens) - 1}: the sequence shifted by one)")
    elif task.get("kind") == "seq2seq":
        source = list(cfg.get("source", []))
        seq = (f"source {token_list(source)} (T_s = {len(source)}); the decoder reads {token_list(tokens[:-1])} "
               f"→ predicts {token_list(tokens[1:])} (T_t = {len(tokens) - 1}: the target shifted by one)")
    else:
        seq = f"{token_list(tokens)} (T = {len(tokens)})"
    shown = token_list(vocab[:LISTED]) + (f" … and {len(vocab) - LISTED} more" if len(vocab) > LISTED else "")
    d, h = m["d_model"], m["n_heads"]
    norm = {"post": "post-norm: x = LN(x + f(x))", "pre": "pre-norm: x = x + f(LN(x))",
            "none": "none"}[m["norm"]]
    root = (d // h) ** 0.5
    root_text = f"= {round(root)}" if root == round(root) else "≈ " + table_number(root, 4)
    scale = f"divide by √d_k = √{d // h} {root_text}" if m.get("attention_scale", True) else "none"
    if m.get("attention") == "cosine":
        scale = f"cosine: unit query and key rows, their cosines divided by τ = {m['attention_temperature']:g}"
    rows = [("tokens", seq), ("vocabulary", f"{len(vocab)} entries: {shown}"), ("d_model", str(d)),
            ("heads", f"{h}, so each head works in d_k = {d} / {h} = {d // h} dims"),
            ("layers", str(m["n_layers"]) if m.get("kind") != "seq2seq"
             else f"{m['n_layers']} encoder, {m.get('n_dec_layers') or m['n_layers']} decoder"), ("d_ff (FFN hidden width)", str(m["d_ff"])),
            ("activation", text(m["activation"])),
            ("LayerNorm", norm + (f", ε = {m['norm_eps']:g}" if m["norm"] != "none" else "")),
            ("final LayerNorm", _yes(m.get("final_norm"))),
            ("positions", text(m["positional"]) + _position_detail(m)),
            ("attention scale", scale), ("biases", f"{_yes(m.get('bias'))}; head bias {_yes(m.get('head_bias'))}")]
    rows += _ablation_rows(m)
    if m.get("tie_embeddings"):
        rows.append(("output head", "tied: logits = h · embed.tokᵀ"))
    if task.get("kind") == "classify":
        rows.append(("pooling", f"{text(m.get('pooling', 'mean'))} over the tokens"))
    return rows


def _ablation_rows(m: dict) -> list[tuple[str, str]]:
    """`ffn: false` and a `residual` that is not both sublayers; nothing for the defaults."""
    rows = [] if m.get("ffn", True) else [("FFN", "none: attention-only blocks")]
    kept = [s for s in ("attention", "ffn") if s in m.get("residual", ("attention", "ffn"))
            and (s == "attention" or m.get("ffn", True))]
    if len(kept) < (2 if m.get("ffn", True) else 1):
        which = " and ".join(kept) + " only" if kept else "none"
        rows.append(("residual adds", f"{which}: each sublayer without one replaces the stream"))
    return rows


def journey_section(trace, steps) -> str:
    """One line per forward stage; per-head stages once, since every head has the same shapes."""
    axes = Axes(trace)
    lines = ["## The dimension journey", "",
             "How the shape of the data changes on its way from the input to the loss, one line per stage.",
             "", "| step | stage | produces |", "|---:|:---|:---|"]
    n_heads = int(trace.config.get("model", {}).get("n_heads") or 1)
    forward = [(n, s) for n, s in enumerate(steps, 1) if s.phase == "forward" and (s.head or 0) == 0]
    if forward:
        given = [_shaped(name, t, axes) for name, t in forward[0][1].inputs.items() if not t.is_param]
        lines.append(f"| | input | {' · '.join(given)} |")
    for n, s in forward:
        stage = text(s.title) + (" (each head)" if s.head is not None and n_heads > 1 else "")
        made = ' · '.join(_shaped(k, t, axes, s.head is not None and n_heads > 1) for k, t in s.outputs.items())
        lines.append(f"| {_numbers(n, s, steps)} | {stage} | {made} |")
    return "\n".join(lines)


def _numbers(n: int, step, steps) -> str:
    """A per-head stage's step numbers, one per head (6, 11, …, 41), so the column never seems to jump."""
    if step.head is None:
        return str(n)
    same = [k for k, s in enumerate(steps, 1) if s.phase == step.phase and s.layer == step.layer
            and s.stage == step.stage and s.title == step.title and s.head is not None]
    return str(n) if len(same) < 2 else ", ".join(map(str, same[:2])) + (f", …, {same[-1]}" if len(same) > 2 else "")


def _shaped(name: str, t, axes: Axes, per_head: bool = False) -> str:
    what = axes.caption(t)
    if per_head:  # one head's slice: its columns are that head's d_k dims, not the model's
        what = what.replace("model dims", "head dims")
    return f"{code(name)} {shape_text(t.shape)}" + (f" ({what})" if what else "")


def summary_section(trace, numbered, verdicts) -> str:
    """The table of every step's verdict; `verdicts` maps step id → Check (empty: not verified)."""
    n_heads = int(trace.config.get("model", {}).get("n_heads") or 1)
    lines = ["## Summary", "", "| # | step | id | max abs error | verdict |", "|---:|:---|:---|:---|:---|"]
    for n, s in numbered:
        mark, err = verdict(verdicts.get(s.id))
        title = heading(s, n, n_heads).split(" · ", 1)[1]
        lines.append(f"| {n} | {title} | {code(s.id)} | {err} | {mark} |")
    checked = [verdicts[s.id] for _, s in numbered if s.id in verdicts]
    bad = [c for c in checked if not c.ok]
    if not checked:
        verdict_line = "Verification was not run, so no step is confirmed."
    elif bad:
        verdict_line = f"**{len(bad)} of {len(checked)} verified steps disagree** with the reference."
    else:
        verdict_line = f"All {len(checked)} verified steps agree with {text(checked[0].reference)}."
    if checked and len(checked) < len(numbered):
        verdict_line += f" {len(numbered) - len(checked)} steps were not verified."
    return "\n".join([*lines, "", verdict_line])


def _position_detail(m: dict) -> str:
    """What the `positions` row adds to the scheme's name: learned rows, or the concatenated split."""
    if m["positional"] == "learned":
        return f", max_len = {m['max_len']}"
    if m["positional"] == "concat":
        return f", d_pos = {m['d_pos']} (token rows d_model − d_pos = {m['d_model'] - m['d_pos']})"
    return ""
