"""Final scores of whole rows: the reference sum of the signals (evaluation, tests) or the
folded fast path (matcher.scoring.scorer), then stage two (matcher.scoring.refine); and the reverse
direction.

Above matcher.scoring.signals (the reference), matcher.scoring.scorer and matcher.scoring.refine,
which do not import it.
"""

from __future__ import annotations

import numpy as np

from matcher.scoring import refine, scorer
from matcher.scoring.prepared import prepared
from matcher.scoring.signals import ScoringArrays, combine_by_history, reverse_signals


def score_matrix(arrays: ScoringArrays, queries: np.ndarray,
                 signals: dict[str, np.ndarray] | None = None,
                 columns: np.ndarray | None = None) -> np.ndarray:
    """Final scores (q, n), or (q, c) for `columns`: from `signals` (the reference sum, as
    evaluation uses it), else from matcher.scoring.scorer (the same sum folded; equal within 1e-4).

    Whole rows get stage two (matcher.scoring.refine); `columns` gives stage one's scores there
    (what the score quantiles sample: stage two does not change a row's values, only their order).
    The query itself and non-candidates get -inf; existing partners are not masked here.
    """
    queries = np.asarray(queries, dtype=np.int64)
    if signals is None:  # the folded float32 path (scoring.scorer), scattered to the columns
        if columns is not None:
            return scorer.block_scores(arrays, queries, columns).astype(np.float64)
        out = np.full((len(queries), arrays.n_cities), -np.inf)
        candidates = prepared(arrays).candidates
        out[:, candidates] = refine.refine_block(arrays, queries,
                                                 scorer.block_scores(arrays, queries))
        return out
    cols = np.arange(arrays.n_cities) if columns is None else np.asarray(columns, dtype=np.int64)
    scores = combine_by_history(arrays, arrays.has_history(queries), signals)
    scores[:, ~arrays.candidate_mask[cols]] = -np.inf
    scores[queries[:, None] == cols[None, :]] = -np.inf
    if columns is None:  # stage two needs whole rows
        for i, query in enumerate(queries.tolist()):
            part = refine.part_for(arrays, query)
            if part is not None:
                refine.refine_from_signals(part, scores[i],
                                           {name: values[i] for name, values in signals.items()},
                                           arrays.partners(query))
    return scores


def reverse_score_vector(arrays: ScoringArrays, query: int,
                         among: np.ndarray | None = None) -> np.ndarray:
    """s(j -> query) for every city j, or for `among`: how strongly each would want `query`."""
    rows = np.arange(arrays.n_cities) if among is None else np.asarray(among, dtype=np.int64)
    values = reverse_signals(arrays, query, among)
    scores = combine_by_history(arrays, arrays.has_history(rows), values)
    scores[rows == query] = -np.inf
    if not arrays.candidate_mask[query]:
        scores[:] = -np.inf
    return scores
