"""Every numeric key at the ends of its documented range: `stepper check` computes it and every step agrees.

The verifier must not cry wolf on a value the format allows (a softmax that saturates, a
temperature so small that z / τ overflows), and the engine must not turn such a value into
NaN either: each case runs the real command in-process with RuntimeWarnings made errors.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import yaml

from stepper import cli

SMALLEST = 5e-324  # the smallest float above 0: the end of every range that is open at 0
BELOW_ONE = 0.9999999999999999  # the largest float below 1: the end of every range open at 1

ENCODER = {"name": "x", "model": {"kind": "encoder", "d_model": 4, "n_heads": 2},
           "input": {"text": "I am happy"}, "task": {"classes": ["neg", "pos", "meh"], "label": "pos"}}
DECODER = {"name": "x", "model": {"kind": "decoder", "d_model": 4, "n_heads": 2},
           "input": {"text": "a b a c b"}, "generate": {"max_new_tokens": 3}}
MLP_CLASSES = {"name": "x", "model": {"kind": "mlp", "sizes": [2, 3, 3]},
               "input": {"features": [[0.5, -1], [1, 2]]},
               "task": {"kind": "classify", "classes": ["a", "b", "c"], "labels": ["a", "c"]}}
MLP_REGRESS = {"name": "x", "model": {"kind": "mlp", "sizes": [2, 3, 1]}, "input": {"features": [0.5, -1]},
               "task": {"kind": "regress", "target": [1.0]}}
BASES = {"encoder": ENCODER, "decoder": DECODER, "mlp-classes": MLP_CLASSES, "mlp-regress": MLP_REGRESS}


def with_keys(base: dict, **keys) -> dict:
    """`base` with `section__key=value` set (`weights__init__std=100`)."""
    doc = copy.deepcopy(base)
    for dotted, value in keys.items():
        *parents, last = dotted.split("__")
        node = doc
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return doc


CASES = {}
for base in BASES:
    for std in (0.0, 100.0):
        CASES[f"{base}-init-std-{std:g}"] = with_keys(BASES[base], weights__init__std=std)
    CASES[f"{base}-bias-std-100"] = with_keys(BASES[base], weights__init__bias_std=100.0)
    CASES[f"{base}-seed-max"] = with_keys(BASES[base], weights__seed=4294967295)
    for lr in (SMALLEST, 100.0):
        CASES[f"{base}-lr-{lr:g}"] = with_keys(BASES[base], optim__lr=lr, optim__steps=3)
# a saturated softmax whose other probabilities underflow to exactly 0, trained hard
CASES["decoder-std-100-lr-100"] = with_keys(DECODER, weights__init__std=100.0, optim__lr=100.0, optim__steps=2,
                                            model__n_layers=2)
CASES["decoder-std-100-no-norm"] = with_keys(DECODER, weights__init__std=100.0, model__norm="none", model__n_layers=2)
for key, values in {"d_model": (1, 64), "n_heads": (1, 64), "n_layers": (48,), "d_ff": (1, 4096),
                    "norm_eps": (SMALLEST, 1.0), "max_len": (3, 4096)}.items():
    for v in values:
        extra = {"model__n_heads": 1} if key == "d_model" else {}
        extra |= {"model__d_model": 64} if key == "n_heads" else {}
        extra |= {"model__positional": "learned"} if key == "max_len" else {}
        CASES[f"encoder-{key}-{v:g}"] = with_keys(ENCODER, **{f"model__{key}": v}, **extra)
CASES["encoder-d_model-1-eps-smallest"] = with_keys(ENCODER, model__d_model=1, model__n_heads=1,
                                                    model__norm_eps=SMALLEST)
for key, values in {"temperature": (0.0, SMALLEST, 1e-320, 1e-300, 100.0), "top_p": (SMALLEST, 1.0),
                    "top_k": (0, 1, 1_000_000), "max_new_tokens": (1, 256), "seed": (4294967295,)}.items():
    for v in values:
        CASES[f"decoder-{key}-{v:g}"] = with_keys(DECODER, **{f"generate__{key}": v})
CASES["decoder-temperature-smallest-std-100"] = with_keys(DECODER, generate__temperature=SMALLEST,
                                                          generate__top_k=2, weights__init__std=100.0)
CASES["decoder-temperature-smallest-top-p"] = with_keys(DECODER, generate__temperature=SMALLEST,
                                                        generate__top_p=0.5)
CASES["mlp-momentum-0"] = with_keys(MLP_REGRESS, optim__kind="momentum", optim__momentum=0.0, optim__steps=2)
CASES["mlp-momentum-below-1"] = with_keys(MLP_REGRESS, optim__kind="momentum", optim__momentum=BELOW_ONE)
for key, values in {"beta1": (0.0, BELOW_ONE), "beta2": (0.0, BELOW_ONE), "eps": (SMALLEST, 1.0),
                    "steps": (10000,)}.items():
    for v in values:
        CASES[f"mlp-adam-{key}-{v:g}"] = with_keys(MLP_REGRESS, optim__kind="adam", **{f"optim__{key}": v})
        if key != "steps":
            CASES[f"decoder-adam-{key}-{v:g}"] = with_keys(DECODER, optim__kind="adam", **{f"optim__{key}": v})
CASES["mlp-sizes-49-wide"] = with_keys(MLP_REGRESS, model__sizes=[2, *[3] * 47, 1])
CASES["mlp-sizes-1"] = with_keys(MLP_REGRESS, model__sizes=[1, 1], input__features=[2.0])


@pytest.mark.parametrize("case", CASES)
def test_every_step_agrees_at_the_documented_extremes(case, tmp_path, capsys):
    path = tmp_path / "extreme.yaml"
    path.write_text(yaml.safe_dump(CASES[case], sort_keys=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a NaN or inf on the way is a failure here
        code = cli.main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "DISAGREE" not in out and "all verified" in out, out
    assert "loss nan" not in out and "loss inf" not in out, out
