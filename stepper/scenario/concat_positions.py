"""`positional: concat`: the rules that split d_model into token columns and position columns.

X0 = [embed.tok[ids] | sinusoids]: the token rows are d_model − d_pos wide and the fixed sinusoids d_pos
wide. Only a model that reads one sequence concatenates (a seq2seq shares one table between two).
"""

from __future__ import annotations

from stepper.scenario.schema import ONE_SEQUENCE
from stepper.scenario.yamlread import Located

M = ("model",)


def resolved_d_pos(doc: Located, raw: dict) -> int:
    """The sinusoids' width: `d_pos` as given, or d_model // 2, with `positional: concat`; else 0."""
    d, given = raw["d_model"], raw["d_pos"]
    if raw["positional"] != "concat":
        if given is not None:
            raise doc.error((*M, "d_pos"), f"`d_pos` is the width of the positions that `positional: concat` "
                                           f"puts beside the token rows, but this model's positions are "
                                           f"`{raw['positional']}` — remove `d_pos`, or set `positional: concat`",
                            key=True)
        return 0
    if raw["kind"] not in ONE_SEQUENCE:
        raise doc.error((*M, "positional"), f"`positional: concat` is for `kind: encoder` or `decoder` — a "
                                            f"{raw['kind']} shares one embedding table between its sequences; use "
                                            "`sinusoidal`, `learned` or `none`")
    if d < 2:
        raise doc.error((*M, "positional"), f"`positional: concat` splits d_model into token columns and position "
                                            f"columns, so d_model must be at least 2 (it is {d}) — raise `d_model`, "
                                            "or use `positional: sinusoidal`")
    if raw["tie_embeddings"]:
        raise doc.error((*M, "tie_embeddings"), "a tied head scores with embed.tok, whose rows are d_model − d_pos "
                                                "wide with `positional: concat`, but the head reads vectors of "
                                                "d_model — remove `tie_embeddings`, or use another `positional`")
    if given is None:
        return d // 2
    if given >= d:
        raise doc.error((*M, "d_pos"), f"`d_pos: {given}` leaves the token rows no columns — with `d_model: {d}`, "
                                       f"d_pos is a whole number from 1 to {d - 1} (the token rows get d_model − "
                                       f"d_pos); e.g. `d_pos: {d // 2}`")
    return given
