"""A seq2seq that generates, through the command line, held to torch.nn.Transformer.

The scenario file gives every weight explicitly (`weights.values`); `stepper export FILE --format json` runs as
a subprocess on this checkout; the same weights go into nn.Transformer (built from the arrays written, not
from anything stepper read), whose loss, logits, every parameter gradient and greedy decoding from `<bos>`
must agree with the JSON to 1e-9. Also: the command line refuses a decoding past max_len where it is written.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from cli_training import export_json, stepper
from seq2seq_helpers import SOURCE, TARGET, VOCAB, seq2seq_scenario, torch_greedy, torch_run

TOL = 1e-9
SOURCE_PADDED = [*SOURCE, "<pad>"]
MODEL = {"d_model": 8, "n_heads": 2, "n_layers": 2, "n_dec_layers": 2, "d_ff": 12, "max_len": 8}


def scenario_file(tmp_path, sc, generate: dict) -> str:
    m = sc.model
    doc = {"name": "held-back-s2s",
           "model": {"kind": "seq2seq", **MODEL, "activation": m.activation, "norm": m.norm,
                     "final_norm": m.final_norm, "positional": m.positional, "tie_embeddings": m.tie_embeddings},
           "input": {"vocab": VOCAB, "source": sc.source_tokens, "target": sc.tokens},
           "task": {"kind": "seq2seq"},
           "weights": {"values": {name: value.tolist() for name, value in sc.params.items()}},
           "generate": generate}
    path = tmp_path / "held_back_s2s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def steps(out: dict, pattern: str) -> list[dict]:
    return [s for s in out["steps"] if re.fullmatch(pattern, s["id"])]


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # norm_first: torch's fast path is off
@pytest.mark.parametrize("options", [{"norm": "post", "final_norm": True, "activation": "relu"},
                                     {"norm": "pre", "final_norm": False, "positional": "learned",
                                      "tie_embeddings": True, "activation": "gelu"}], ids=["post-final", "pre-tied"])
def test_export_json_matches_nn_transformer_and_its_greedy_decoding(tmp_path, options):
    sc = seq2seq_scenario(SOURCE_PADDED, TARGET, seed=8, **MODEL, **options)
    out = export_json(scenario_file(tmp_path, sc, {"max_new_tokens": 5, "greedy": True}))
    loss, logits, grads = torch_run(sc)
    assert abs(out["loss"] - loss) <= TOL
    assert np.abs(np.array(out["logits"]) - logits).max() <= TOL
    assert set(out["grads"]) == set(grads)
    for name, g in grads.items():
        assert np.abs(np.array(out["grads"][name]) - g).max() <= TOL, name

    tokens, their_logits = torch_greedy(sc, 5)
    # the generated tokens, as a decoder's JSON has them: gen.text's bindings and ids, each draw's `next`
    (text,) = steps(out, "gen.text")
    assert text["bindings"]["generated"] == " ".join(tokens) and text["bindings"]["prompt"] == "<bos>"
    assert text["labels"]["ids"]["cols"] == ["<bos>", *tokens]
    assert text["bindings"]["source"] == " ".join(SOURCE_PADDED) and text["labels"]["source"]["cols"] == SOURCE_PADDED
    assert [VOCAB[int(s["outputs"]["next"])] for s in steps(out, r"gen\.\d+\.sample")] == tokens
    caches = steps(out, r"gen\.(prefill|\d+\.decode)")
    for step, z in zip(caches, their_logits, strict=True):
        assert np.abs(np.array(step["outputs"]["z"]) - z).max() <= TOL
    last = caches[-1]
    assert last["keys"]["Kx_L1"] == "gen5.dec.L1.cross.K" and last["shapes"]["Kx_L1"] == [4, 8]
    assert last["keys"]["K_L1"] == "gen5.dec.L1.self.K" and last["shapes"]["K_L1"] == [5, 8]


BAD = """name: long
model: {kind: seq2seq, d_model: 4, n_heads: 2, d_ff: 8, positional: learned, max_len: 5}
input:
  source: [I, love, pizza]
  target: ["<bos>", me, encanta, "<eos>"]
generate:
  max_new_tokens: 6
"""


def test_decoding_past_max_len_is_refused_where_it_is_written(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text(BAD, encoding="utf-8")
    r = stepper("check", path, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{path}:7:19: error: the decoder starts from `<bos>` and `max_new_tokens: 6`")
    assert "set `model.max_len: 6` or more" in r.stderr
    path.write_text(BAD.replace("max_new_tokens: 6", "max_new_tokens: 5"), encoding="utf-8")
    r = stepper("check", path, "--max-new-tokens", "6", cwd=tmp_path)
    assert r.returncode == 2 and "--max-new-tokens 6" in r.stderr and "Traceback" not in r.stderr
    r = stepper("check", path, cwd=tmp_path)  # <bos> and 5 new tokens: the decoder reads 5 positions, max_len
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(x for x in r.stdout.splitlines() if "generated:" in x)
    assert re.fullmatch(rf"{re.escape(str(path))}: generated: I love pizza ⟶ <bos>( \S+){{5}}", line)
