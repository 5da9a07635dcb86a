"""The names of a trace's quantities (docs/trace-keys.md), built in one place.

The engine keys every array it records with these names, and the independent torch reference
(stepper/verify/) computes the quantity of the same name its own way: the two share the names,
never the formulas, and the checker pairs them by name. Parameter names are contract §2's.
"""

from __future__ import annotations

from dataclasses import dataclass

TOK_EMB, POS, X0 = "tok_emb", "pos", "x0"
POOLED, LOGITS, PROBS, LOSS = "pooled", "logits", "probs", "loss"
EMBED_TOK, EMBED_POS, HEAD_W, HEAD_B = "embed.tok", "embed.pos", "head.W", "head.b"


def grad(key: str) -> str:
    """dLoss/dKEY, for an activation or a parameter."""
    return f"d:{key}"


def grad_through(key: str, via: str) -> str:
    """The part of dLoss/dKEY that flows back through the operation that made `via` alone."""
    return f"d:{key}<-{via}"


def grad_into(key: str, via: str, shared: bool) -> str:
    """What a consumer `via` sends back to `key`: a part when others read `key` too (a merge step
    adds the parts), else the whole gradient."""
    return grad_through(key, via) if shared else grad(key)


@dataclass(frozen=True)
class NormKeys:
    """A LayerNorm: `out` its output (`L0.ln1`), `params` where γ and β live (`layers.0.ln1`)."""

    out: str
    params: str

    @property
    def gamma(self) -> str:
        return f"{self.params}.gamma"

    @property
    def beta(self) -> str:
        return f"{self.params}.beta"


@dataclass(frozen=True)
class ProjectionKeys:
    """Parameters of the linear maps in one block (`layers.0.attn` holds W_Q … b_O)."""

    params: str

    def weight(self, which: str) -> str:
        return f"{self.params}.W_{which}"

    def bias(self, which: str) -> str:
        return f"{self.params}.b_{which}"


@dataclass(frozen=True)
class AttentionKeys(ProjectionKeys):
    """One attention block's quantities, `at` their common prefix (`L0.attn`)."""

    at: str
    # the names of docs/trace-keys.md under `at`, each a property so that a static checker sees it

    @property
    def Q(self) -> str:
        return f"{self.at}.Q"

    @property
    def K(self) -> str:
        return f"{self.at}.K"

    @property
    def V(self) -> str:
        return f"{self.at}.V"

    @property
    def S_raw(self) -> str:
        return f"{self.at}.S_raw"

    @property
    def S(self) -> str:
        return f"{self.at}.S"

    @property
    def S_masked(self) -> str:
        return f"{self.at}.S_masked"

    @property
    def A(self) -> str:
        return f"{self.at}.A"

    @property
    def Z(self) -> str:
        return f"{self.at}.Z"

    @property
    def concat(self) -> str:
        return f"{self.at}.concat"

    @property
    def out(self) -> str:
        return f"{self.at}.out"


ATTENTION_QUANTITIES = ("Q", "K", "V", "S_raw", "S", "S_masked", "A", "Z", "concat", "out")


@dataclass(frozen=True)
class FFNKeys(ProjectionKeys):
    """The feed-forward block: `H` = X·W_1 + b_1, `G` its activation, `out` = G·W_2 + b_2."""

    at: str

    @property
    def H(self) -> str:
        return f"{self.at}.H"

    @property
    def G(self) -> str:
        return f"{self.at}.G"

    @property
    def out(self) -> str:
        return f"{self.at}.out"


@dataclass(frozen=True)
class LayerKeys:
    """Layer i: its sublayers' keys under `L{i}`, their parameters under `layers.{i}`."""

    index: int

    @property
    def at(self) -> str:
        return f"L{self.index}"

    @property
    def params(self) -> str:
        return f"layers.{self.index}"

    @property
    def attn(self) -> AttentionKeys:
        return AttentionKeys(params=f"{self.params}.attn", at=f"{self.at}.attn")

    @property
    def ffn(self) -> FFNKeys:
        return FFNKeys(params=f"{self.params}.ffn", at=f"{self.at}.ffn")

    def residual(self, n: int) -> str:
        """The stream after the n-th residual addition (`L0.res1`)."""
        return f"{self.at}.res{n}"

    def norm(self, n: int) -> NormKeys:
        return NormKeys(out=f"{self.at}.ln{n}", params=f"{self.params}.ln{n}")


FINAL_NORM = NormKeys(out="ln_f", params="ln_f")
