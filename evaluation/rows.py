"""Rows: the scoring rules an experiment reports, one type for every experiment and benchmark.

A row's score of a (caption, image) pair combines one or more *terms*. A term is the score by one head
of one loaded model (named by its role: "itm" for --itm-model, "clm", "first_stage") of a text: the
caption T itself, or its word-swapped T' from one of the searches in perturb/swap.py; against the
example's image, or against the null images of Gaussian noise (`NULL`: the text's prior, the head's
score averaged over them, scoring/priors.py). The masked LM that searches T' is the role "mlm", with
the heads "pll" (pseudo-log-likelihood of the text) and "gate" (1 where the gated search kept a T').
The row's `combine` is one of the functions below, applied to its terms' scores in order:

    Row("clm_ratio_improved", "log P(T|I) - log P(T'|I)", (Term("clm", "clm_exact"), Term("clm", "clm_exact", IMPROVED)),
        combine=difference)

so an experiment's rows say what they compute, and a combination that does not exist cannot be written.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from common.errors import InputError
from perturb.swap import SEARCHES

T = "T"  # a term's text: the caption itself (else the name of the search whose T' it scores)
IMAGE, NULL = "image", "null"  # a term's image: the example's, or the null images (the text's prior)
MLM = "mlm"  # the role of the masked LM, whose heads score the caption alone
MLM_HEADS = {"pll": True, "gate": True}


@dataclass(frozen=True)
class Term:
    role: str  # the role of the checkpoint that computes it: "itm" for --itm-model, "clm", "mlm", "first_stage"
    head: str  # that checkpoint's head (scoring/)
    text: str = T  # T, or a perturb.swap search name: the T' that search finds for the caption
    image: str = IMAGE  # IMAGE, or NULL for the text's prior over the null images

    def __post_init__(self):
        if self.text != T and self.text not in SEARCHES:
            raise ValueError(f"a term scores T or a T' of one of the searches {SEARCHES}, not {self.text!r}")
        if self.image not in (IMAGE, NULL):
            raise ValueError(f"a term's image is {IMAGE!r} or {NULL!r}, not {self.image!r}")
        if self.image == NULL and self.text != T:
            raise ValueError("a prior (null-image term) is the caption's: its text is T")

    def __str__(self) -> str:
        return f"{self.role}/{self.head}/{self.text}" + ("/null" if self.image == NULL else "")


# --- how a row combines its terms' scores ------------------------------------------------------------

def score(x):
    """The one term's score as it is."""
    return x


def ratio(x, y):
    """The write-up's ratio s(T, I) / s(T', I): a plain division."""
    return x / y


def difference(x, y):
    """A log-ratio written as a difference of log-scores, e.g. log P(T|I) - log P(T'|I)."""
    return x - y


def total(x, y):
    """The sum of two scores, e.g. BLIP's re-ranking score: ITM logit + contrastive similarity."""
    return x + y


def gated_ratio(x, y, gate):
    """The original repository's gated ratio: s(T, I) / s(T', I) where the gate is open (1), else s(T, I)."""
    return torch.where(gate > 0, x / y, x)


def prior_normalized(x, prior, alpha=1.0):
    """VisualGPTScore's log P(T|I) - alpha log P(T), for any head: alpha = 1 is PMI."""
    return x - alpha * prior


COMBINATIONS = (score, ratio, difference, total, gated_ratio, prior_normalized)


@dataclass(frozen=True)
class Row:
    key: str  # its name in examples.jsonl, results.json and on the command line
    label: str  # may name the model as {model}, filled with the loaded checkpoint's family, e.g. "BLIP"
    terms: tuple[Term, ...]
    combine: Callable = score
    higher_is_better: bool = True
    # prior_normalized with alpha chosen by cross-validation over the examples (evaluation/cross_validation.py):
    # its scores exist only once every example's terms do.
    cross_validated: bool = False

    def __post_init__(self):
        if self.combine not in COMBINATIONS:
            raise ValueError(f"row {self.key}: combine must be one of {[f.__name__ for f in COMBINATIONS]}")
        arity = sum(p.default is inspect.Parameter.empty for p in inspect.signature(self.combine).parameters.values())
        if arity != len(self.terms):
            raise ValueError(f"row {self.key}: {self.combine.__name__} combines {arity} terms, got {len(self.terms)}")
        if self.cross_validated and self.combine is not prior_normalized:
            raise ValueError(f"row {self.key}: only prior_normalized has an alpha to cross-validate")

    def scores(self, term_scores: Mapping[Term, object], alpha: float | None = None):
        """The row's scores from its terms' scores (tensors or arrays of the same shape); a cross-validated row
        needs its alpha."""
        if self.cross_validated and alpha is None:
            raise ValueError(f"row {self.key} is cross-validated: its scores need the alpha chosen for them")
        return self.combine(*(term_scores[t] for t in self.terms), **({} if alpha is None else {"alpha": alpha}))

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.role for t in self.terms))


def terms_of(rows: Sequence[Row]) -> list[Term]:
    """Every term the rows need, each once, in the rows' order."""
    return list(dict.fromkeys(t for row in rows for t in row.terms))


def select(rows: Mapping[str, Row], names: str, always: Sequence[str] = ()) -> list[Row]:
    """The rows named in a comma-separated list (a command-line flag), after the `always` rows, each once."""
    keys = [k.strip() for k in names.split(",") if k.strip()]
    unknown = [k for k in keys if k not in rows]
    if unknown or not keys:
        raise InputError(f"--rows: unknown row(s) {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(rows)}")
    return [rows[k] for k in dict.fromkeys([*always, *keys])]
