"""Training through the command line, feature by feature: what `stepper check` prints and how it exits, a
wrong engine caught by the training check, the report of a run that diverges, the shuffled batch order in
the JSON, the trained model written as a scenario, and the size × updates limit."""

from __future__ import annotations

import json
import re

import numpy as np
from cli_training import ROOT, stepper

from stepper.engine.run import build_trace, loss_fn
from stepper.engine.trainer import fit
from stepper.scenario import load_scenario
from stepper.verify.training_check import check_training

SMALL = """\
name: small
model: {kind: encoder, d_model: 8, n_heads: 2, n_layers: 1, d_ff: 16, norm: pre, positional: learned, max_len: 8}
task: {kind: classify, classes: [neg, pos]}
data:
  examples:
    - {text: "a b c", label: pos}
    - {text: "b c", label: neg}
    - {text: "c a b d", label: pos}
    - {text: "d d", label: neg}
    - {text: "a d c", label: neg}
  validation:
    - {text: "a c", label: pos}
  batch_size: 2
  shuffle: true
  seed: 3
weights: {seed: 0, init: {std: 0.5}}
optim: {kind: OPTIM, lr: LR, epochs: 3}
"""


def write(tmp_path, optim="adamw", lr="0.05", name="small.yaml", text=SMALL):
    path = tmp_path / name
    path.write_text(text.replace("OPTIM", optim).replace("LR", lr), encoding="utf-8")
    return path


def test_check_prints_the_training_line_and_the_updates_verified(tmp_path):
    r = stepper("check", write(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # 3 epochs of ⌈5 / 2⌉ = 3 batches
    assert re.search(r"small\.yaml: training: 9 updates on 5 examples in batches of 2, shuffled each epoch; "
                     r"batch loss [\d.]+ → [\d.]+ \(perplexity [\d.]+ → [\d.]+\); validation loss after each epoch: "
                     r"[\d.]+, [\d.]+, [\d.]+ \(perplexity [\d.]+, [\d.]+, [\d.]+\)", r.stdout)
    assert re.search(r"small\.yaml: ✓ 9 updates vs torch\.optim \(.*every parameter after each update\)", r.stdout)


def test_a_wrong_engine_is_named_by_update_parameter_and_entry(tmp_path):
    sc = load_scenario(str(write(tmp_path)))
    log = fit(sc)
    assert all(c.ok for c in check_training(log, sc))
    # one entry of one parameter after update 4, off by 1e-6: W_V is [8, 8], entry [2, 5]
    start = sum(np.size(sc.params[n]) for n in log.param_names[:log.param_names.index("layers.0.attn.W_V")])
    log.param_history[4, start + 2 * 8 + 5] += 1e-6
    failed = [c for c in check_training(log, sc) if not c.ok]
    assert len(failed) == 1 and "parameters after each update" in failed[0].reference
    assert failed[0].worst.startswith("update 4: layers.0.attn.W_V[2, 5] is "), failed[0].worst
    assert "(|Δ| 1e-06)" in failed[0].worst


def test_a_diverging_run_is_named_in_one_sentence_without_runtime_warnings(tmp_path):
    text = SMALL.replace("norm: pre", "norm: none").replace("epochs: 3", "steps: 30")
    path = write(tmp_path, optim="sgd", lr="100", text=text)
    r = stepper("check", path, cwd=tmp_path)
    assert "RuntimeWarning" not in r.stdout + r.stderr and "Traceback" not in r.stderr, r.stderr
    out = json.loads(stepper("export", path, "--format", "json", cwd=tmp_path).stdout)["training"]
    t = out["stopped_at"]
    assert t is not None and t > 0 and len(out["batch_losses"]) == t + 1
    # non-finite numbers are written as strings ("nan", "inf")
    assert not np.isfinite(float(out["batch_losses"][t])) or not np.isfinite(float(out["grad_norm"][t]))
    said = [line for line in r.stdout.splitlines() if "training diverged" in line]
    assert len(said) == 1, r.stdout
    m = re.search(r"update (\d+), with the weights after update (\d+), example (\d+) \(line (\d+)\) of its batch "
                  r"made the first number that is not finite.*at step (\S+) \(.+\).*lower lr.*clip_grad_norm", said[0])
    assert m, said[0]
    update, after, example, line, step = int(m[1]), int(m[2]), int(m[3]), int(m[4]), m[5]
    assert (update, after) == (t, t - 1)
    assert example in out["batches"][t] and line == 6 + example  # examples are written from line 6 on
    assert step.startswith(("fwd.", "bwd."))


def test_batches_follow_numpy_permutations_of_seed_plus_epoch(tmp_path):
    r = stepper("export", write(tmp_path), "--format", "json", "--no-verify", cwd=tmp_path)
    batches = json.loads(r.stdout)["training"]["batches"]
    want = [list(np.random.default_rng(3 + e).permutation(5)[j * 2:(j + 1) * 2]) for e in range(3) for j in range(3)]
    assert batches == [[int(i) for i in b] for b in want]
    assert [len(b) for b in batches] == [2, 2, 1] * 3  # the last batch of an epoch is the rest


def test_the_trained_model_written_as_yaml_reads_back_and_checks_to_the_trained_loss(tmp_path):
    path, out = write(tmp_path), tmp_path / "trained.yaml"
    r = stepper("export", path, "--format", "yaml", "-o", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    sc = load_scenario(str(path))
    trace = build_trace(sc)
    again = load_scenario(str(out))
    assert again.optim is None and again.data is None and list(again.params) == list(trace.trained)
    for name, value in trace.trained.items():
        assert np.array_equal(again.params[name], value), name  # bit for bit
    trained_loss = loss_fn(sc)(trace.trained)  # the traced example, data.examples[0], with the trained weights
    checked = stepper("check", out, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert f"loss {trained_loss:.6g}" in checked.stdout, checked.stdout
    written = json.loads(stepper("export", out, "--format", "json", "--no-verify", cwd=tmp_path).stdout)
    assert abs(written["loss"] - trained_loss) <= 1e-12


LOWERED = """\
import sys
from stepper.scenario import limits
limits.training_over_limit.__kwdefaults__["work_limit"] = 10**5
from stepper.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_training_too_big_is_refused_with_the_figure_unless_forced(tmp_path):
    # 10,000 updates × ≈ 200,000 parameters kept after each ≈ 15 GiB
    big = SMALL.replace("d_model: 8", "d_model: 128").replace("d_ff: 16", "d_ff: 512")
    big = write(tmp_path, name="big.yaml", text=big.replace("epochs: 3", "steps: 10000"))
    r = stepper("check", big, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert re.search(r"big\.yaml:17:\d+: error: too big to train: updates × parameters = 10,000 × [\d,]+ "
                     r"float64 .* over the limit of .* --force", r.stderr), r.stderr
    # the same refusal, and --force past it, with the work limit lowered so that a small run is over it
    (tmp_path / "lowered.py").write_text(LOWERED, encoding="utf-8")
    import subprocess
    import sys

    def lowered(*args):
        return subprocess.run([sys.executable, "lowered.py", *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})

    small = write(tmp_path)
    refused = lowered("check", small)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert re.search(r"small\.yaml:17:\d+: error: too slow to train: updates × batch_size × multiply-adds per "
                     r"example = 9 × 2 × [\d,]+ ≈ [\d.e+]+, over the limit of 1e\+05", refused.stderr), refused.stderr
    forced = lowered("check", small, "--force")
    assert forced.returncode == 0 and "✓ 9 updates vs torch.optim" in forced.stdout, forced.stdout + forced.stderr


def test_the_json_holds_each_layers_gradient_norm_per_update(tmp_path):
    """`training.layer_grad_norm`: per group (embed, layers.0, head), per update, the engine's figures, whose
    squares add up to the total norm's."""
    path = write(tmp_path)
    out = json.loads(stepper("export", path, "--format", "json", cwd=tmp_path).stdout)["training"]
    log = fit(load_scenario(str(path)))
    assert list(out["layer_grad_norm"]) == ["embed", "layers.0", "head"]
    for group, values in out["layer_grad_norm"].items():
        assert values == log.layer_grad_norm[group].tolist()
    squares = sum(np.array(v) ** 2 for v in out["layer_grad_norm"].values())
    np.testing.assert_allclose(squares, np.array(out["grad_norm"]) ** 2, rtol=1e-12)
