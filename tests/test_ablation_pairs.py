"""The bundled pairs that take a part of the model away give, on every run, the result their lessons state."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stepper.engine import build_trace
from stepper.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def trace(name: str):
    return build_trace(load_scenario(SCENARIOS / f"{name}.yaml"))


def outputs(t, step_id: str) -> dict[str, np.ndarray]:
    return {k: v.value for k, v in next(s for s in t.steps if s.id == step_id).outputs.items()}


def test_without_positions_i_am_and_am_i_are_the_same_input_up_to_the_order_of_rows():
    a, b = trace("no_positions_i_am"), trace("no_positions_am_i")
    assert a.tokens == ["I", "am"] and b.tokens == ["am", "I"]
    swap = [1, 0]
    # every token-by-token quantity is the other file's with rows (and, for attention, columns) swapped
    assert np.array_equal(outputs(a, "fwd.embed")["E"], outputs(b, "fwd.embed")["E"][swap])
    assert np.allclose(outputs(a, "fwd.L0.attn.softmax")["A"], outputs(b, "fwd.L0.attn.softmax")["A"][swap][:, swap],
                       rtol=0, atol=1e-15)
    # the mean pool forgets the order: from there on the two passes are the same numbers
    assert np.allclose(outputs(a, "fwd.pool")["pooled"], outputs(b, "fwd.pool")["pooled"], rtol=0, atol=1e-15)
    assert abs(a.loss - b.loss) <= 1e-15
    assert f"{a.loss:.4f}" == "1.3353"


def test_added_positions_move_every_column_and_concatenated_ones_only_their_own():
    add, cat = trace("positional_add"), trace("positional_concat")
    x_add, x_cat = outputs(add, "fwd.pos")["X"], outputs(cat, "fwd.pos")["X"]
    assert add.tokens[0] == add.tokens[2] == cat.tokens[0] == cat.tokens[2] == "I"
    assert np.all(x_add[0] != x_add[2])  # the same token at two places: no column left alone
    assert np.array_equal(x_cat[0, :2], x_cat[2, :2]) and np.all(x_cat[0, 2:] != x_cat[2, 2:])
    assert load_scenario(SCENARIOS / "positional_concat.yaml").params["embed.tok"].shape == (3, 2)
    step = next(s for s in cat.steps if s.id == "bwd.pos")
    assert np.array_equal(step.outputs["dE"].value, step.inputs["dX"].value[:, :2])


def test_attention_alone_stays_at_three_of_four_xor_pairs_and_the_ffn_gets_all_four():
    alone, with_ffn = trace("xor_attention_only"), trace("xor_attention_ffn")
    assert np.all(np.array(alone.training.val_accuracy[19:]) == 0.75)
    assert f"{alone.training.batch_losses[-1]:.3f}" == "0.347"
    assert np.all(np.array(with_ffn.training.val_accuracy[12:]) == 1.0)
    assert with_ffn.training.batch_losses[-1] < 1e-6


def test_the_xor_identity_of_the_attention_only_lesson_holds_for_its_trained_weights():
    """N(x, y) = Z·(logit_different − logit_same) splits into a part per word, so
    N(a, b) + N(b, a) = N(a, a) + N(b, b): recomputed here from the trained weights with plain numpy."""
    from stepper.engine import positional
    sc = load_scenario(SCENARIOS / "xor_attention_only.yaml")
    p = trace("xor_attention_only").training.trained  # the weights after the last update
    ids = {tok: sc.vocab.index(tok) for tok in ("cls", "a", "b")}
    pe = positional.sinusoidal(3, sc.model.d_model)

    def n(x: str, y: str) -> float:
        rows = p["embed.tok"][[ids["cls"], ids[x], ids[y]]] + pe
        q = rows[0] @ p["layers.0.attn.W_Q"] + p["layers.0.attn.b_Q"]
        k = rows @ p["layers.0.attn.W_K"] + p["layers.0.attn.b_K"]
        v = rows @ p["layers.0.attn.W_V"] + p["layers.0.attn.b_V"]
        e = np.exp(k @ q / np.sqrt(sc.model.d_model))
        out = rows[0] + (e / e.sum()) @ v @ p["layers.0.attn.W_O"] + p["layers.0.attn.b_O"]
        logits = out @ p["head.W"] + p["head.b"]
        return float(e.sum() * (logits[1] - logits[0]))

    assert abs(n("a", "b") + n("b", "a") - n("a", "a") - n("b", "b")) <= 1e-9 * max(abs(n("a", "b")), 1.0)
    signs = [n("a", "a") < 0, n("a", "b") > 0, n("b", "a") > 0, n("b", "b") < 0]
    assert sum(signs) == 3


def test_without_residuals_the_gradient_reaching_the_embeddings_is_far_smaller():
    on, off = trace("residual_on_deep").training.layer_grad_norm, trace("residual_off_deep").training.layer_grad_norm
    assert f"{on['embed'][0]:.3f}" == "1.735" and f"{off['embed'][0]:.4f}" == "0.0228"
    assert min(on[f"layers.{i}"][0] for i in range(8)) > 1.0
    assert all(off[f"layers.{i}"][0] < 1.0 for i in range(5)) and off["layers.7"][0] > 3.0


def test_a_square_activation_solves_xor_as_its_lesson_says():
    t = trace("xor_square")
    assert t.training.batch_losses[-1] < 1e-13 and f"{t.training.batch_losses[99]:.1e}" == "2.2e-06"


def test_without_residuals_the_rows_collapse_into_one_and_attention_goes_uniform():
    t = trace("residual_off_deep")
    steps = {s.id: s for s in t.steps}
    rows = steps["fwd.L3.ln2"].outputs["y"].value
    assert np.abs(rows - rows[0]).max() < 1e-12
    assert np.allclose(steps["fwd.L4.attn.h0.softmax"].outputs["A"].value, 1 / 6, rtol=0, atol=1e-12)
    assert all(np.abs(t.grads[f"layers.{i}.attn.{w}"]).max() < 1e-12 for i in range(3, 8) for w in ("W_Q", "W_K"))
    with_residuals = trace("residual_on_deep")
    a = next(s for s in with_residuals.steps if s.id == "fwd.L4.attn.h0.softmax").outputs["A"].value
    assert a.max() - a.min() > 0.05  # the twin's rows stay apart


def test_a_validation_set_that_repeats_training_examples_is_not_called_unseen():
    seen = next(s for s in trace("xor_attention_only").steps if s.id == "upd.validation").formula.meaning
    assert "4 of the 4 validation examples are also training examples" in seen and "never" not in seen.split(".")[0]
    held_out = next(s for s in trace("tiny_sentiment_train").steps if s.id == "upd.validation").formula.meaning
    assert held_out.startswith("Examples never trained on")
