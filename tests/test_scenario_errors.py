"""Every mistake a learner can make in a scenario file: one located line, exit code 2, no traceback.

Each case is a small file with one fault, run through the real command line (`stepper check`)
in-process; the test pins the exit code, the line (and column where it matters) and the words
of the message — what is wrong and how to fix it.
"""

from __future__ import annotations

import pytest

from stepper import cli

OK = """name: ok
model:
  kind: encoder
  d_model: 4
  n_heads: 2
input:
  vocab: ["<pad>", I, am, happy]
  tokens: [I, am]
task:
  kind: classify
  classes: [negative, positive]
  label: positive
"""
DEC = "name: dec\nmodel:\n  kind: decoder\ninput:\n  tokens: [I]\ntask:\n  kind: next_token\n"
WEIGHTS = OK + "weights:\n  values:\n    layers.0.attn.W_Q:\n"


def edit(old: str, new: str, base: str = OK) -> str:
    assert old in base
    return base.replace(old, new, 1)


# (file content, line, column or None, words the message must contain)
CASES = {
    # -- the file itself
    # an unclosed bracket or quote is reported where it opened, not at the end of the file
    "yaml-syntax": ("name: x\nmodel:\n  kind: [encoder\n", 3, 9, ["YAML syntax", "not closed", "still open at the end of the file"]),
    "yaml-unclosed-flow-mapping": ("name: x\nmodel: {kind: encoder\ninput: {}\n", 2, 8, ["`{...}` mapping is not closed", "still open at line 3"]),
    "yaml-missing-comma-same-line": ("name: x\nmodel: {kind: encoder d_model: 4}\n", 2, 30, ["lacks a comma"]),
    "yaml-tab": ("name: x\nmodel:\n\tkind: encoder\n", 3, 1, ["tab", "spaces"]),
    # a key moved out of its block is valid YAML on its own line; the parser trips on the next one
    # … but an error on the first line of a block stays on that line
    "yaml-first-line-of-a-block": (edit("  kind: classify\n", "  kind: classify: oops\n"), 10, 17,
                                   ["unexpected `:`"]),
    "yaml-stray-dedent": (edit("  d_model: 4\n", "d_model: 4\n"), 4, 1,
                          ["less indented than the lines above and below", "inside `model:`", "2 spaces"]),
    "yaml-unclosed-quote": ('name: "x\nmodel: {}\n', 1, 7, ["quote is never closed"]),
    "yaml-unclosed-single-quote": ("name: x\ntitle: 'it runs on\nmodel: {}\n", 2, 8, ["quote is never closed"]),
    "text-lone-surrogate": ('name: x\ntitle: "\\ud800"\nmodel: {}\n', 2, 8, ["U+D800", "surrogate"]),
    "key-lone-surrogate": ('name: x\nlessons:\n  "fwd.\\udfff": hi\nmodel: {}\n', 3, 3, ["U+DFFF"]),
    "top-level-list": ("- name: x\n- model: {}\n", 1, 1, ["top level must be a mapping", "got a list"]),
    "top-level-scalar": ("hello\n", 1, 1, ["top level must be a mapping"]),
    "empty": ("", 1, 1, ["file is empty", "stepper new"]),
    "only-comments": ("# todo\n", 1, 1, ["file is empty"]),
    "binary": (b"PK\x03\x04\x00\x00binary", 1, 5, ["binary file"]),
    "non-utf8": (b"name: x\ntitle: caf\xe9\n", 2, 11, ["not UTF-8", "save the file as UTF-8"]),
    "control-char": ("name: x\x07\nmodel: {}\n", 1, 8, ["U+0007", "not allowed"]),
    "two-documents": (OK + "---\n" + OK, 13, 1, ["second YAML document", "one document"]),
    # -- keys
    "duplicate-key": (edit("  n_heads: 2\n", "  n_heads: 2\n  d_model: 8\n"), 6, 3,
                      ["duplicate key `d_model`", "first given on line 4", "keep one"]),
    "missing-name": (edit("name: ok\n", ""), 1, 1, ["missing required key `name`", "e.g. `name: my-model`"]),
    "missing-model": ("name: x\ninput: {tokens: [a]}\n", 1, 1, ["missing required key `model`"]),
    "unknown-key-did-you-mean": (edit("model:", "modle:"), 2, 1, ["unknown key `modle`", "did you mean `model`?"]),
    "unknown-key-nested": (edit("n_heads", "n_head"), 5, 3, ["unknown key `n_head`", "did you mean `n_heads`?"]),
    "key-in-wrong-section": (edit("  tokens: [I, am]\n", "  tokens: [I, am]\n  n_layers: 2\n"), 9, 3,
                             ["`n_layers` belongs under `model:`"]),
    "key-is-a-list": ("name: x\n[model, input]: 1\n", 2, 1, ["key must be a plain word"]),
    "key-not-for-this-kind": ("name: x\nmodel:\n  kind: mlp\n  sizes: [1, 1]\n  n_heads: 2\n", 5, 3,
                              ["`n_heads` does not apply to `kind: mlp`", "remove it"]),
    # -- types
    "wrong-type-text": (edit("d_model: 4", "d_model: four"), 4, 12, ["`d_model` must be a whole number",
                                                                     "got `four` (text)", "e.g. `d_model: 4`"]),
    "wrong-type-bool": (edit("d_model: 4", "d_model: yes"), 4, 12, ["must be a whole number", "`yes` (true or false)"]),
    "wrong-type-float-for-int": (edit("n_heads: 2", "n_heads: 1.5"), 5, 12, ["`n_heads` must be a whole number"]),
    "scalar-for-mapping": ("name: x\nmodel: 5\n", 2, 8, ["`model` must be a mapping", "got `5`", "indented"]),
    "string-for-list": (edit("tokens: [I, am]", "tokens: I am"), 8, 11, ["`tokens` must be a list"]),
    "empty-value": (edit("d_model: 4", "d_model:"), 4, None, ["`d_model:` has no value", "e.g. `d_model: 4`"]),
    # -- values
    "out-of-range": (edit("n_heads: 2", "n_heads: 2\n  n_layers: 100"), 6, 13,
                     ["`n_layers: 100` is out of range", "from 1 to 48"]),
    "norm-eps-zero": (edit("n_heads: 2", "n_heads: 2\n  norm_eps: 0"), 6, 13,
                      ["`norm_eps: 0` is out of range", "above 0"]),
    "n-heads-zero": (edit("n_heads: 2", "n_heads: 0"), 5, 12, ["`n_heads: 0` is out of range"]),
    "negative-size": (edit("n_heads: 2", "n_heads: 2\n  d_ff: -8"), 6, 9, ["`d_ff: -8` is out of range"]),
    "huge-number-is-inf": (edit("n_heads: 2", "n_heads: 2\n  norm_eps: 1e400"), 6, 13,
                           ["`norm_eps: 1e400` is infinite"]),
    "huge-int": (edit("d_model: 4", "d_model: 123456789012345678901234567890"), 4, 12, ["out of range"]),
    "not-allowed": (edit("n_heads: 2", "n_heads: 2\n  activation: swish"), 6, 15,
                    ["`activation: swish` is not allowed", "`relu`, `gelu`, `gelu_tanh`, `tanh`"]),
    "not-allowed-close": (edit("kind: encoder", "kind: encodr"), 3, 9, ["did you mean `encoder`?"]),
    "heads-do-not-divide": (edit("n_heads: 2", "n_heads: 3"), 5, 12,
                            ["d_model 4 is not divisible by n_heads 3", "pick n_heads from `1`, `2`, `4`"]),
    "bad-name": (edit("name: ok", "name: My Model"), 1, 7, ["may use only a-z", "e.g. `name: my-model`"]),
    # -- input and task
    "token-not-in-vocab": (edit("tokens: [I, am]", "tokens: [I, am, hapy]"), 8, 19,
                           ["token `hapy` is not in the vocab", "did you mean `happy`?"]),
    "text-word-not-in-vocab": (edit("tokens: [I, am]", "text: I am sad"), 8, 9, ["token `sad` is not in the vocab"]),
    "tokens-empty": (edit("tokens: [I, am]", "tokens: []"), 8, 11, ["`tokens` is empty"]),
    "tokens-and-text": (edit("tokens: [I, am]", "tokens: [I, am]\n  text: I am"), 9, 3, ["not both"]),
    "vocab-duplicate": (edit('vocab: ["<pad>", I, am, happy]', 'vocab: ["<pad>", I, am, I]'), 7, 27,
                        ["`I` appears twice in the vocab"]),
    "label-not-in-classes": (edit("label: positive", "label: neutral"), 12, 10,
                             ["label `neutral` is not one of the classes", "`negative`, `positive`"]),
    "label-as-index": (edit("label: positive", "label: 1"), 12, 10,
                       ["looks like an index", "by name: `label: positive`"]),
    "one-class": (edit("classes: [negative, positive]", "classes: [positive]"), 11, 12, ["at least two"]),
    "next-token-too-few": (DEC, 5, 11, ["next-token prediction needs at least 2 tokens"]),
    "next-token-on-encoder": (edit("kind: classify", "kind: next_token"), 10, 9, ["needs `model.kind: decoder`"]),
    "longer-than-max-len": (edit("n_heads: 2", "n_heads: 2\n  positional: learned\n  max_len: 1"), 10, 11,
                            ["reads 2 tokens but max_len is 1", "`model.max_len: 2`"]),
    "tied-head-for-classes": (edit("kind: encoder", "kind: decoder\n  tie_embeddings: true"), 4, 19,
                              ["tied embeddings score every vocabulary entry", "`task.kind: next_token`"]),
    "key-for-other-task": (OK + "  target: [1.0]\n", 13, 3, ["`target` is for `task.kind: regress`"]),
    # -- explicit weights
    "weight-unknown-name": (OK + "weights:\n  values:\n    layers.0.attn.W_X: [[1]]\n", 15, 5,
                            ["no parameter `layers.0.attn.W_X`", "did you mean"]),
    "weight-wrong-shape": (WEIGHTS + "      [[1, 0], [0, 1]]\n", 16, 7,
                           ["wrong shape", "expected [4, 4] (d_model × d_model), got [2, 2]", "4 rows of 4"]),
    "weight-ragged": (WEIGHTS + "      - [1, 0, 0, 0]\n      - [0, 1, 0]\n      - [0, 0, 1, 0]\n      - [0, 0, 0, 1]\n",
                      17, 9, ["ragged rows: row 1 has 3 values but row 0 has 4"]),
    "weight-nan": (WEIGHTS.replace("attn.W_Q:\n", "ln1.gamma: [1, .nan, 1, 1]\n"), 15, 29, ["NaN"]),
    "weight-inf": (WEIGHTS.replace("attn.W_Q:\n", "ln1.beta: [0, 0, .inf, 0]\n"), 15, 31, ["infinite"]),
    "weight-text": (WEIGHTS.replace("attn.W_Q:\n", "ln1.beta: [0, zero, 0, 0]\n"), 15, 28, ["expected a number"]),
    # -- safety
    "python-tag": ("name: x\nmodel: !!python/object/apply:os.system [echo hi]\n", 2, 8,
                   ["tag `!!python/object/apply:os.system` is not allowed", "run code"]),
    "alias-bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
        None, None, ["expands to more than 200,000 values"]),
    "alias-bomb-of-mappings": (open(__file__.rsplit("/", 1)[0] + "/malformed/alias_bomb_mappings.yaml").read(),
                               5, 1, ["expands to more than 200,000 values"]),
    "tag-on-a-key": ("name: x\nmodel:\n  !!python/name:os.system d_model: 4\n", 3, 3,
                     ["tag `!!python/name:os.system` is not allowed"]),
    "tag-on-a-merged-key": ("name: x\nx-base: &b {!custom kind: encoder}\nmodel:\n  <<: *b\n", 2, 13,
                            ["tag `!custom` is not allowed"]),
    "alias-to-itself": ("name: x\nmodel: &m\n  kind: encoder\n  extra: *m\n", 4, 3, ["never ends"]),
    "deep-nesting": ("name: x\nlessons: {x: " + "[" * 100 + "]" * 100 + "}\n", 2, None, ["nested more than"]),
    "merge-of-a-scalar": ("name: x\nmodel:\n  <<: 5\n", 3, 7, ["`<<` merges a mapping"]),
    # -- size
    "too-big": (edit("d_model: 4", "d_model: 4096\n  d_ff: 16384\n  n_layers: 48").replace("n_heads: 2", "n_heads: 64"),
                5, 9, ["n_layers × 2 × d_model × d_ff = 48 × 2 × 4096 × 16384", "over the limit of",
                       "use --force to try anyway"]),
}


def check(tmp_path, capsys, content, name="case.yaml"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    code = cli.main(["check", "-q", str(path)])
    out, err = capsys.readouterr()
    return code, err, path


@pytest.mark.parametrize("case", CASES)
def test_each_mistake_is_one_located_line_with_exit_2(case, tmp_path, capsys):
    content, line, col, words = CASES[case]
    code, err, path = check(tmp_path, capsys, content)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    where = f"{path}:{line}:{col if col else ''}" if line else f"{path}:"
    assert err.startswith(where) and ": error: " in err, err
    for w in words:
        assert w in err, (w, err)
    assert " — " in err, "every message says how to fix it"


def test_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert cli.main(["check", str(missing)]) == 2
    assert capsys.readouterr().err == f"{missing}:1:1: error: no such file — check the path (`stepper new NAME` " \
                                      "writes a starter)\n"


def test_directory(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path}:1:1: error: this is a directory") and err.count("\n") == 1


def test_python_tag_runs_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err, _ = check(tmp_path, capsys, "name: x\ntitle: !!python/object/apply:os.system [touch pwned]\n"
                                           "model: !!python/object/new:builtins.open [pwned2, w]\n")
    assert code == 2 and "not allowed" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.yaml"]


# (file content, line, column, words): a lesson or question naming no step of the model is still read,
# but never shown: a located warning says so, and the check goes on
WARNINGS = {
    "lesson-names-no-step": (OK + "lessons:\n  fwd.*.maks: why −∞\n", 14, 3,
                             ["`fwd.*.maks` matches no step of this model", "did you mean `fwd.*.mask`?"]),
    "lesson-update-without-optim": (OK + "lessons:\n  fwd.embed: hi\n  upd.*: a step\n", 15, 3,
                                    ["`upd.*` matches no step", "this scenario has no `optim:`"]),
    "quiz-step-not-a-step": (OK + "quiz:\n  - step: fwd.L0.attn.h1.sofmax\n    ask: How many?\n    answer: 2\n",
                             14, 11, ["`step: fwd.L0.attn.h1.sofmax` is not a step of this model",
                                      "never asked", "did you mean `fwd.L0.attn.h1.softmax`?"]),
    "quiz-step-of-a-missing-layer": (OK + "quiz:\n  - step: fwd.L3.attn.h0.softmax\n    ask: How many?\n"
                                     "    answer: 2\n", 14, 11, ["`step: fwd.L3.attn.h0.softmax` is not a step",
                                                                 "this model has no layer 3 — its layers are L0"]),
}


@pytest.mark.parametrize("case", WARNINGS)
def test_a_name_that_finds_no_step_is_a_located_warning(tmp_path, capsys, case):
    content, line, col, words = WARNINGS[case]
    path = tmp_path / "case.yaml"
    path.write_text(content, encoding="utf-8")
    assert cli.main(["check", "-q", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:{line}:{col}: warning: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
