"""Quiz questions come from the trace; diffs pair by id; a what-if edit ripples only downstream."""

import io

import numpy as np
import pytest

from stepper.commands.quiz import run_quiz
from stepper.diff import diff_traces
from stepper.engine import build_trace
from stepper.quiz import mark, question_for, questions_for
from stepper.quiz.questions import argmax_question, sign_question
from stepper.scenario import load_scenario, parse_scenario
from stepper.whatif import edit_param, edit_token, ripple

MINI = "scenarios/mini.yaml"


@pytest.fixture(scope="module")
def mini():
    return build_trace(load_scenario(MINI))


def decoder_text(tokens):
    return f"""
name: dec
model: {{kind: decoder, d_model: 4, n_heads: 2, d_ff: 8}}
input: {{tokens: {tokens}}}
task: {{kind: next_token}}
"""


def test_attention_argmax_question_is_read_off_the_trace(mini):
    step = next(s for s in mini.steps if s.id == "fwd.L0.attn.softmax")
    q = argmax_question(step)
    a = step.outputs["A"].value
    assert q.answer == step.outputs["A"].cols[int(np.argmax(a[-1]))]
    assert mark(q, q.answer).ok and not mark(q, next(c for c in q.choices if c != q.answer)).ok


def test_sign_question_matches_the_gradient(mini):
    step = next(s for s in mini.steps if s.id == "bwd.L0.attn.q")
    q = sign_question(step)
    dw = step.outputs["dW_Q"].value
    expected = "positive" if dw.flat[np.argmax(np.abs(dw))] > 0 else "negative"
    assert q.answer == expected
    assert mark(q, "+" if expected == "positive" else "-").ok


def test_cell_question_tolerance_is_stated_and_applied(mini):
    step = next(s for s in mini.steps if s.id == "fwd.loss")
    q = next(q for q in questions_for(step) if q.kind == "cell")
    value = float(q.answer)
    assert f"±{q.tolerance:g}" in q.prompt
    assert mark(q, str(value + q.tolerance * 0.9)).ok
    assert not mark(q, str(value + q.tolerance * 1.5)).ok
    assert not mark(q, "no idea").ok


def test_shape_answers_accept_the_usual_spellings(mini):
    step = next(s for s in mini.steps if s.id == "fwd.L0.attn.scores")
    q = next(q for q in questions_for(step) if q.kind == "shape")
    assert q.answer == "[2, 2]"
    for reply in ("2x2", "[2, 2]", "2×2", "2 2"):
        assert mark(q, reply).ok
    assert not mark(q, "2x4").ok


def test_authored_questions_win(mini):
    mini.quiz = [{"step": "fwd.pos", "ask": "What is PE[0, 1]?", "answer": 1.0, "tolerance": 0.001,
                  "why": "cos(0) = 1"}]
    q = question_for(mini, mini.index_of("fwd.pos"))
    assert q.kind == "authored" and mark(q, "1").ok and not mark(q, "0").ok
    mini.quiz = []


def test_plain_terminal_quiz_scores_the_right_answers(mini):
    answers = [question_for(mini, i).answer for i in range(6)]
    out = io.StringIO()
    run_quiz(MINI, steps=None, limit=6, export=None, force=False, stdin=io.StringIO("\n".join(answers) + "\n"),
             out=out)
    assert "Score: 6/6 right" in out.getvalue()
    out = io.StringIO()
    # piped answers are one per question, readable or not: nothing shifts, nothing loops; one that cannot
    # be marked is passed over unscored, as the app refuses it
    run_quiz(MINI, steps=None, limit=2, export=None, force=False, stdin=io.StringIO("zzz\nzzz\n"), out=out)
    assert "Score: 0/0 right" in out.getvalue() and out.getvalue().count("· not marked (") == 2
    out = io.StringIO()
    # an empty line or `skip` shows the answer and scores nothing, as the TUI's "answer later"
    run_quiz(MINI, steps=None, limit=3, export=None, force=False, stdin=io.StringIO(f"\nskip\n{answers[2]}\n"),
             out=out)
    assert out.getvalue().count("· skipped — answer:") == 2 and "Score: 1/1 right" in out.getvalue()
    out = io.StringIO()
    # `q` stops, as in the app: the answers after it are never read
    run_quiz(MINI, steps=None, limit=4, export=None, force=False, stdin=io.StringIO(f"{answers[0]}\nq\n{answers[1]}\n"),
             out=out)
    assert "Score: 1/1 right" in out.getvalue() and "you said 'q'" not in out.getvalue()

    class Keyboard(io.StringIO):
        def isatty(self):
            return True

    out = io.StringIO()
    # at the keyboard, "zzz" is no number and no shape: asked again, not scored; 99 and 9x9 are wrong
    run_quiz(MINI, steps=None, limit=2, export=None, force=False, stdin=Keyboard("zzz\n99\n9x9\n"), out=out)
    assert "Score: 0/2 right" in out.getvalue()
    assert "(that is not a number: type one, like 0.25)" in out.getvalue()


def test_the_plain_quiz_never_runs_two_numbers_together():
    from types import SimpleNamespace

    from stepper.commands.quiz import text_matrix

    t = SimpleNamespace(value=np.array([[-0.1055, 0.0003405, -123456.7]]), shape=(1, 3), rows=["d3"],
                        cols=["a", "b", "c"])
    row = text_matrix("W", t).splitlines()[-1]
    assert row.split() == ["d3", "-0.1055", "0.0003405", "-1.235e+05"]


def test_an_unreadable_reply_is_not_marked(mini):
    from stepper.quiz import unreadable

    cell = question_for(mini, 0)
    assert unreadable(cell, "abc") and not unreadable(cell, "0.3") and not unreadable(cell, "")
    shape = question_for(mini, 1)
    assert unreadable(shape, "wide") and not unreadable(shape, "2x4")
    for reply in ("2x4abc", "2x", "x4", "2x4 or so"):  # numbers and something else: no shape
        assert unreadable(shape, reply), reply
    for reply in ("[2, 4]", "(2,4)", "2 × 4", "2 by 4", "2X4"):
        assert not unreadable(shape, reply), reply
    step = next(s for s in mini.steps if s.id == "bwd.L0.attn.q")
    sign = sign_question(step)
    assert unreadable(sign, "maybe") and not unreadable(sign, "+")
    argmax = argmax_question(next(s for s in mini.steps if s.id == "fwd.L0.attn.softmax"))
    assert unreadable(argmax, "nobody") and not unreadable(argmax, argmax.choices[0].upper())


def test_diff_of_a_scenario_with_itself_is_zero_everywhere(mini):
    d = diff_traces(mini, build_trace(load_scenario(MINI)))
    assert not d.only_a and not d.only_b and all(sd.max_abs == 0.0 for sd in d.paired)


def test_diff_lists_steps_only_one_side_has():
    text = open(MINI).read()
    unscaled = parse_scenario(text.replace("pooling: mean", "pooling: mean\n  attention_scale: false"))
    d = diff_traces(build_trace(load_scenario(MINI)), build_trace(unscaled))
    assert d.only_a == ["fwd.L0.attn.scale", "bwd.L0.attn.scale"] and not d.only_b
    softmax = next(sd for sd in d.paired if sd.step_id == "fwd.L0.attn.softmax")
    assert softmax.max_abs > 0


def test_causal_edit_at_position_3_leaves_positions_0_to_2_unchanged():
    sc = parse_scenario(decoder_text(["a", "b", "c", "d", "e", "a"]))
    edited = edit_token(sc, 3, "e")
    masks = ripple(build_trace(sc), build_trace(edited))
    # Q is per token: only the edited row moves; after attention every later row moves too
    assert masks["fwd.L0.attn.q"]["Q"].any(axis=1).tolist() == [False, False, False, True, False]
    for step_id in ("fwd.L0.ffn.down", "fwd.head"):
        rows_changed = next(iter(masks[step_id].values())).any(axis=1)
        assert not rows_changed[:3].any() and rows_changed[3:].all(), step_id
    # the raw scores of rows 0-2 do see key 3 change; the mask's −∞ is what hides it
    assert masks["fwd.L0.attn.h0.scores"]["S"][:3, 3].all()
    for name, step_id in (("S_masked", "fwd.L0.attn.h0.mask"), ("A", "fwd.L0.attn.h0.softmax")):
        m = masks[step_id][name]
        assert not m[:3].any() and m[3, :4].any()


def test_param_edit_ripples_only_downstream():
    sc = load_scenario(MINI)
    edited = edit_param(sc, "layers.0.ffn.W_2", (0, 0), 3.0)
    masks = ripple(build_trace(sc), build_trace(edited))
    assert not any(m.any() for m in masks["fwd.L0.attn.softmax"].values())
    assert masks["fwd.L0.ffn.down"]["F"][:, 0].all() and not masks["fwd.L0.ffn.down"]["F"][:, 1:].any()
    assert masks["bwd.L0.attn.q"]["dW_Q"].any()
    assert sc.params["layers.0.ffn.W_2"][0, 0] != 3.0


def test_a_space_token_can_be_named_and_tokens_are_offered_once():
    from stepper.quiz import unreadable
    from stepper.quiz.questions import Question

    q = Question("fwd.L0.attn.softmax", "argmax", "Which token…?", "␣", choices=("t", "o", "␣", "b"))
    assert mark(q, "space").ok and mark(q, "␣").ok and not mark(q, "t").ok
    assert unreadable(q, "SPACE") is None and unreadable(q, "zz")
    trace = build_trace(load_scenario("scenarios/char_gpt.yaml"))
    q = next(filter(None, (argmax_question(s) for s in trace.steps)))
    assert len(q.choices) == len(set(q.choices)) and " " not in q.choices  # shown as ␣, each once


def test_a_skipped_question_counts_toward_the_limit():
    out = io.StringIO()
    run_quiz(MINI, steps=None, limit=1, export=None, force=False, stdin=io.StringIO("\n" * 6), out=out)
    assert out.getvalue().count("  Q: ") == 1


def test_a_sign_question_never_reads_like_a_class_name(mini):
    """mini's classes are `positive` and `negative`: the gradient at one is asked about as above or
    below zero, and the why says what the sign does to a weight, or to the loss."""
    prompts = {}
    for i, step in enumerate(mini.steps):
        q = question_for(mini, i)
        if q is not None and q.kind == "sign":
            prompts[step.id] = q
    assert prompts and all("above zero (+) or below zero (−)?" in q.prompt for q in prompts.values())
    assert "would go" in prompts["bwd.L0.attn.q"].why and "weight" in prompts["bwd.L0.attn.q"].why
    activation = next(q for q in prompts.values() if "the loss" in q.why)
    assert "raising" in activation.why
    assert mark(activation, "above" if activation.answer == "positive" else "below").ok


def test_the_mask_step_asks_how_many_scores_it_hides_not_its_shape():
    """The mask's shape is its input's, shown in the question itself: the count of −∞ is the test."""
    for name, hidden, words in (("mini", "0", "no key is hidden"), ("char_gpt", "136", "above the diagonal")):
        trace = build_trace(load_scenario(f"scenarios/{name}.yaml"))
        i = next(i for i, s in enumerate(trace.steps) if s.phase == "forward" and s.stage == "mask")
        q = question_for(trace, i)
        assert q.kind == "count" and "will be −∞?" in q.prompt and q.answer == hidden and words in q.why
        assert mark(q, hidden).ok and not mark(q, str(int(hidden) + 1)).ok


def test_no_question_on_a_near_tie_or_on_one_paths_share_of_a_gradient():
    """A learner cannot predict a three-way tie of 0.333; and a sign read off `d:IN<-OUT` (one path's
    share) may be the opposite of the whole gradient's, which is what its why speaks of."""
    from stepper.quiz.questions import questions_for

    for name in ("norm_post", "norm_pre", "pizza_decoder", "char_gpt"):
        trace = build_trace(load_scenario(f"scenarios/{name}.yaml"))
        for step in trace.steps:
            for q in questions_for(step):
                if q.kind == "argmax":
                    a = step.outputs["A"].value[-1]
                    assert np.sort(a)[-1] - np.sort(a)[-2] >= 0.01, (name, step.id)
                if q.kind == "sign":
                    symbol = q.prompt.split("Is ", 1)[1].split("[", 1)[0]
                    tensor = next(t for t in step.outputs.values() if t.symbol == symbol)
                    assert "<-" not in (tensor.key or "") and tensor.value.ndim <= 2, (name, step.id)
