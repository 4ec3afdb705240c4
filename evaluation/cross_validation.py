"""The alpha of prior normalization, log P(T|I) - alpha log P(T), chosen by cross-validation.

Five folds of the examples, in their canonical order (the order the benchmark's loader gives), from
`numpy.random.default_rng(seed).permutation(n)` split by `numpy.array_split`. On the other four folds,
alpha is the value of ALPHAS with the best primary metric of the benchmark (ties: the smallest alpha); the
held-out fold is scored with it, and the metric of the whole set is computed on the pooled held-out
scores. A row's scores at any alpha come from its terms' grids, which the records hold as rows of their
own (e.g. `clm_exact` and `clm_null` for `clm_prior_cv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from evaluation.records import score_grid
from evaluation.rows import Row, Term, score

ALPHAS = tuple(round(0.05 * k, 2) for k in range(21))  # 0.00, 0.05, ..., 1.00
N_FOLDS = 5


def folds(n_examples: int, seed: int) -> list[np.ndarray]:
    """Example indexes of the five folds."""
    return np.array_split(np.random.default_rng(seed).permutation(n_examples), N_FOLDS)


def primary_metrics(grid, scores: np.ndarray, higher_is_better: bool, fields: Mapping[str, np.ndarray],
                    subsets: Sequence[np.ndarray]) -> list[float]:
    """The benchmark's primary metric over each subset of examples (an array of indexes each), in one call, so a
    benchmark that prepares the whole set once for many subsets (`Grid.resampled`, GenAI-Bench's sorted pairs)
    does it once; an undefined metric counts as -inf."""
    values = [m[grid.primary] for m in grid.resampled_metrics(scores, higher_is_better, dict(fields), subsets)]
    return [-np.inf if v is None or np.isnan(v) else v for v in values]


@dataclass(frozen=True)
class CrossValidated:
    scores: np.ndarray  # (N, captions, images): each example scored with its fold's alpha
    alphas: list[float]  # the alpha chosen on the training part of each fold, fold by fold
    metric_by_alpha: list[float | None]  # the primary metric on the whole set at each of ALPHAS (None: undefined)


def cross_validate(scores_at: Callable[[float], np.ndarray], grid, higher_is_better: bool,
                   fields: Mapping[str, np.ndarray], seed: int) -> CrossValidated:
    """Held-out scores, the five alphas and the metric at every alpha; `scores_at(alpha)` is the row's
    (N, captions, images) grid."""
    grids = [scores_at(alpha) for alpha in ALPHAS]
    held_out_scores = np.empty_like(grids[0])
    parts = folds(len(grids[0]), seed)
    trains = [np.sort(np.concatenate([p for j, p in enumerate(parts) if j != k])) for k in range(len(parts))]
    everything = np.arange(len(grids[0]))
    # Per alpha: the metric on each fold's training part, then on the whole set.
    by_alpha = [primary_metrics(grid, g, higher_is_better, fields, [*trains, everything]) for g in grids]
    alphas = []
    for k, held_out in enumerate(parts):
        best = int(np.argmax([values[k] for values in by_alpha]))  # the first maximum: the smallest alpha
        held_out_scores[held_out] = grids[best][held_out]
        alphas.append(ALPHAS[best])
    curve = [values[-1] for values in by_alpha]
    return CrossValidated(held_out_scores, alphas, [None if v == -np.inf else v for v in curve])


def term_grids(records: Sequence[Mapping], rows: Sequence[Row], terms: Sequence[Term]) -> dict[Term, np.ndarray]:
    """Each term's (N, captions, images) float32 grid, read from the records of the row that is that term alone."""
    alone = {row.terms[0]: row.key for row in rows if len(row.terms) == 1 and row.combine is score}
    missing = [str(t) for t in terms if t not in alone]
    if missing:
        raise ValueError(f"cross-validated rows need a row of each of their terms alone; none for {missing}")
    return {t: score_grid(records, alone[t]).astype(np.float32) for t in terms}


def cross_validated_rows(records: Sequence[dict], rows: Sequence[Row], grid, seed: int
                         ) -> tuple[list[dict], dict[str, dict]]:
    """The records with every cross-validated row's held-out grid added, and per row its alphas and its metric
    at each alpha on the whole set."""
    tuned = [row for row in rows if row.cross_validated]
    if not tuned:
        return list(records), {}
    grids = term_grids(records, rows, list(dict.fromkeys(t for row in tuned for t in row.terms)))
    fields = {f: np.array([r[f] for r in records]) for f in grid.fields}
    details, records = {}, [dict(r) for r in records]
    for row in tuned:
        result = cross_validate(lambda alpha, row=row: row.scores(grids, alpha), grid, row.higher_is_better, fields,
                                seed)
        details[row.key] = {"alphas": result.alphas, "alpha_grid": list(ALPHAS),
                            "metric_by_alpha": result.metric_by_alpha}
        for record, cells in zip(records, result.scores.tolist()):
            record[row.key] = {f"c{c}_i{i}": cells[c][i] for c in range(len(cells)) for i in range(len(cells[c]))}
    return records, details
