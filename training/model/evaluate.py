"""Honest evaluation: grouped warm and cold-start splits, ranking metrics, and baselines."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from matcher.scoring import signals as signal_module
from matcher.scoring.refine import refine_from_signals
from matcher.scoring.signals import ScoringArrays
from training.model.splits import WARM_NO_HISTORY

if TYPE_CHECKING:
    from training.model.holdout import Holdout

KS = (10, 50)
NDCG_K = 10
FEATURE_KNN_NEIGHBOURS = 50
BASELINES = ("popularity", "geo_nearest", "country_pair", "feature_knn", "adamic_adar")
WARM_ONLY = ("adamic_adar",)
# The warm split's queries by their training degree (the totals are "warm": degree 1 or more);
# "warm, degree 0" holds the warm hidden pairs whose query end kept no partnership (scored,
# as served, by the cold re-ranker).
DEGREE_SPLITS = {"warm, degree 1": (1, 1), "warm, degree 2+": (2, None)}
SPLITS = ("warm", WARM_NO_HISTORY, *DEGREE_SPLITS, "cold")
HOPS = 3  # "within_3_hops": the share of hidden partners a walk of this length can reach
PER_QUERY_ONLY = ("degree",)  # per-query values used to group queries, not averaged
QUERY_BATCH = 32  # queries scored at once: small blocks stay in cache (256 was 1.5x slower)


def mask_known(scores: np.ndarray, queries: np.ndarray, arrays: ScoringArrays,
               position: np.ndarray | None = None) -> np.ndarray:
    """Set each query's training partners and itself to -inf (in place).

    `position` maps a city row to its column in `scores` (-1: not a column); None: identity.
    """
    for offset, query in enumerate(queries):
        known = np.append(arrays.partners(query), query)
        if position is not None:
            known = position[known]
            known = known[known >= 0]
        scores[offset, known] = -np.inf
    return scores


def top_indices(scores: np.ndarray, depth: int) -> np.ndarray:
    """The `depth` best columns of each row, best first; ties go to the lower index."""
    n = scores.shape[1]
    depth = min(depth, n)
    out = np.empty((len(scores), depth), dtype=np.int64)
    for i, row in enumerate(scores):
        if depth < n:
            part = np.argpartition(-row, depth - 1)[:depth]
            threshold = row[part].min()
            above = np.flatnonzero(row > threshold)
            tied = np.flatnonzero(row == threshold)[:depth - len(above)]
            chosen = np.concatenate([above, tied])
        else:
            chosen = np.arange(n)
        out[i] = chosen[np.lexsort((chosen, -row[chosen]))]
    return out


def query_metrics(scores: np.ndarray, targets: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-query recall@k, nDCG@10 and AUC; -inf scores are not candidates."""
    n_queries = len(targets)
    out = {f"recall@{k}": np.zeros(n_queries) for k in KS}
    out["ndcg@10"] = np.zeros(n_queries)
    out["auc"] = np.zeros(n_queries)
    out["reachable"] = np.zeros(n_queries)  # share of the hidden partners that are candidates
    out["auc_reachable"] = np.full(n_queries, np.nan)  # AUC over those only (NaN: none)
    top = top_indices(scores, max(*KS, NDCG_K))
    discounts = 1.0 / np.log2(np.arange(2, NDCG_K + 2))
    for i, target in enumerate(targets):
        row = scores[i]
        listed = target[target >= 0]  # -1: not a column (never a candidate), a miss
        valid_target = listed[np.isfinite(row[listed])]
        out["reachable"][i] = len(valid_target) / len(target)
        hits = np.isin(top[i], target) & np.isfinite(row[top[i]])
        for k in KS:
            out[f"recall@{k}"][i] = hits[:k].sum() / len(target)
        ideal = discounts[:min(len(target), NDCG_K)].sum()
        out["ndcg@10"][i] = (hits[:NDCG_K] * discounts).sum() / ideal
        finite = np.isfinite(row)
        negatives = finite.sum() - len(valid_target)
        if len(valid_target) == 0 or negatives <= 0:
            out["auc"][i] = 0.0
            continue
        target_scores = row[valid_target]
        finite_row = row[finite]
        below = (finite_row[None, :] < target_scores[:, None]).sum(axis=1)
        equal = (finite_row[None, :] == target_scores[:, None]).sum(axis=1)
        positives_below = (target_scores[None, :] < target_scores[:, None]).sum(axis=1)
        positives_equal = (target_scores[None, :] == target_scores[:, None]).sum(axis=1)
        wins = (below - positives_below) + 0.5 * (equal - positives_equal)
        auc_hits = wins.sum() / (len(valid_target) * negatives)
        out["auc"][i] = auc_hits * len(valid_target) / len(target)
        out["auc_reachable"][i] = auc_hits
    return out


def within_hops(graph: sp.csr_matrix, queries: np.ndarray, targets: list[np.ndarray],
                hops: int = HOPS) -> np.ndarray:
    """Per query, the share of its hidden partners that a walk of at most `hops` partnerships
    in the training graph reaches (what the graph signals can see)."""
    binary = graph.astype(bool).astype(np.float64)
    reach = sp.csr_matrix(binary[queries])
    seen = reach.copy()
    for _ in range(hops - 1):
        reach = reach @ binary
        seen = seen + reach
    seen = seen.tocsr()
    return np.array([np.count_nonzero(seen[i].toarray().ravel()[target]) / len(target)
                     for i, target in enumerate(targets)])


def summarise(per_query: dict[str, list[np.ndarray]]) -> dict:
    """Mean of each metric over queries, plus the number of queries."""
    joined = {name: np.concatenate(parts) if parts else np.zeros(0)
              for name, parts in per_query.items() if name not in PER_QUERY_ONLY}
    summary = {name: float(np.nanmean(values)) if np.isfinite(values).any() else 0.0
               for name, values in joined.items()}
    summary["queries"] = len(next(iter(joined.values())))
    return summary


def baseline_scores(name: str, arrays: ScoringArrays, queries: np.ndarray,
                    signals: dict[str, np.ndarray], features: sp.csr_matrix,
                    columns: np.ndarray) -> np.ndarray:
    """A baseline's scores (q, c) over `columns`; ties broken by popularity where the rule
    itself has ties."""
    popularity = signals["log_degree"] + 1e-3 * signals["log_population"]
    if name == "popularity":
        return popularity.copy()
    if name == "geo_nearest":
        return -signals["log_distance"]
    if name == "country_pair":
        return signals["country_pair"] + 1e-3 * popularity
    if name == "adamic_adar":
        return signals["adamic_adar"] + 1e-3 * popularity
    if name == "feature_knn":
        return feature_knn_scores(arrays, queries, features)[:, columns] + 1e-6 * popularity
    raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")


def feature_knn_scores(arrays: ScoringArrays, queries: np.ndarray,
                       features: sp.csr_matrix) -> np.ndarray:
    """Cities most like the query by feature cosine, and whom they twin with."""
    similarity = (features[queries] @ features.T).toarray()
    history = arrays.degree > 0
    similarity[:, ~history] = -np.inf
    similarity[np.arange(len(queries)), queries] = -np.inf
    k = min(FEATURE_KNN_NEIGHBOURS, similarity.shape[1] - 1)
    neighbours = np.argpartition(-similarity, k, axis=1)[:, :k]
    weights = np.take_along_axis(similarity, neighbours, axis=1)
    weights = np.where(np.isfinite(weights), np.maximum(weights, 0.0), 0.0)
    rows = np.repeat(np.arange(len(queries)), k)
    neighbour_matrix = sp.csr_matrix((weights.ravel(), (rows, neighbours.ravel())),
                                     shape=(len(queries), arrays.n_cities))
    return (neighbour_matrix @ arrays.binary.matrix).toarray()


def query_metric_values(arrays: ScoringArrays, queries: np.ndarray, targets: list[np.ndarray],
                        features: sp.csr_matrix, methods: dict[str, dict | str],
                        batch: int = QUERY_BATCH) -> dict[str, dict[str, np.ndarray]]:
    """Per-query metrics of every method, method -> metric -> (len(queries),), in query order.

    A query's values do not depend on the batch it is scored in, so parts of a query list can
    be evaluated apart (in parallel) and joined.
    """
    columns = np.flatnonzero(arrays.candidate_mask)
    position = np.full(arrays.n_cities, -1)
    position[columns] = np.arange(len(columns))
    per_method: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in methods}
    for start in range(0, len(queries), batch):
        chunk = queries[start:start + batch]
        chunk_targets = [position[target] for target in targets[start:start + batch]]
        signals = signal_module.signal_matrices(arrays, chunk, columns)
        graph = arrays.binary.matrix
        context = {"degree": np.diff(graph.indptr)[chunk].astype(np.float64),
                   f"within_{HOPS}_hops": within_hops(graph, chunk,
                                                      targets[start:start + batch])}
        for name, method in methods.items():
            if isinstance(method, str):
                scores = baseline_scores(method, arrays, chunk, signals, features, columns)
            else:
                scores = signal_module.combine(method, signals)
            scores = mask_known(scores, chunk, arrays, position)
            if isinstance(method, dict) and method.get("refine"):
                for i in range(len(chunk)):
                    refine_from_signals(method["refine"], scores[i],
                                        {name: values[i] for name, values in signals.items()},
                                        np.empty(0, dtype=np.int64))
            for metric, values in {**query_metrics(scores, chunk_targets), **context}.items():
                per_method[name].setdefault(metric, []).append(values)
    return {name: {metric: np.concatenate(parts) for metric, parts in metrics.items()}
            for name, metrics in per_method.items()}


def format_table(metrics: dict) -> str:
    """One Markdown table: every method's metrics for the warm and cold splits."""
    columns = ("recall@10", "recall@50", "ndcg@10", "auc")
    header = "| split | method | " + " | ".join(columns) + " | queries |"
    lines = [header, "|" + "---|" * (len(columns) + 3)]
    for split in ("warm", "cold"):  # the totals; by query degree in the table below
        for method, values in metrics.get(split, {}).items():
            cells = []
            for column in columns:
                mean = values.get(column, 0.0)
                spread = values.get(f"{column}_std")
                cells.append(f"{mean:.3f}" + (f" ± {spread:.3f}" if spread is not None else ""))
            lines.append(f"| {split} | {method} | " + " | ".join(cells)
                         + f" | {values.get('queries', 0)} |")
    model = {split: metrics[split]["model"] for split in ("warm", "cold")
             if "reachable" in metrics.get(split, {}).get("model", {})}
    if model:  # the same for every method: the hidden partners the candidate set holds
        lines.append("\nHidden partners that are candidates (the most any method can find): "
                     + ", ".join(f"{split} {values['reachable']:.1%}"
                                 for split, values in model.items())
                     + "; the model's AUC over those alone: "
                     + ", ".join(f"{split} {values.get('auc_reachable', 0.0):.3f}"
                                 for split, values in model.items()) + ".")
    lines.extend(["", format_by_history(metrics)])
    return "\n".join(lines)


def format_by_history(metrics: dict) -> str:
    """The model on each split and on the warm queries by training degree, with the share of
    hidden partners that are candidates and that three hops reach: where a gain comes from."""
    columns = ("recall@10", "recall@50", "auc_reachable", "reachable", f"within_{HOPS}_hops")
    lines = ["| queries | " + " | ".join(columns) + " | count |",
             "|" + "---|" * (len(columns) + 2)]
    for split in SPLITS:
        values = metrics.get(split, {}).get("model")
        if values:
            lines.append(f"| {split} | " + " | ".join(
                f"{values.get(column, 0.0):.3f}" for column in columns)
                + f" | {values.get('queries', 0)} |")
    return "\n".join(lines)


def metric_jobs(holdout: Holdout, parts: int = 1) -> list[tuple[str, object]]:
    """(split, job) pairs whose results `join_metrics` turns into metrics[split][method]: the
    model, its ablations and every baseline, each split's queries cut into `parts` pieces."""
    from training.model.rerank import single_signal

    warm_up(holdout.test_arrays)
    jobs = []
    for kind, (queries, targets) in holdout.queries.items():
        part_kind = "warm" if kind == "warm" else "cold"  # as served: by the query's history
        methods: dict[str, dict | str] = {name: variant[part_kind]
                                          for name, variant in holdout.rerankers.items()}
        methods["lightfm alone"] = single_signal("lightfm")
        model_part = holdout.rerankers["model"][part_kind]
        if model_part.get("refine"):
            methods["stage one alone"] = {key: value for key, value in model_part.items()
                                          if key != "refine"}
        for baseline in BASELINES:
            if part_kind == "warm" or baseline not in WARM_ONLY:
                methods[baseline] = baseline
        for piece in np.array_split(np.arange(len(queries)), max(1, min(parts, len(queries)))):
            jobs.append((kind, partial(query_metric_values, holdout.test_arrays, queries[piece],
                                       [targets[i] for i in piece], holdout.features.matrix,
                                       methods)))
    return jobs


def join_metrics(kinds: list[str], results: list[dict]) -> dict:
    """metrics[split][method] from the per-query values of `metric_jobs`, in job order."""
    joined: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {}
    for kind, values in zip(kinds, results, strict=True):
        for name, metrics in values.items():
            for metric, part in metrics.items():
                joined.setdefault(kind, {}).setdefault(name, {}).setdefault(metric, []) \
                    .append(part)
    out = {kind: {name: summarise(metrics) for name, metrics in methods.items()}
           for kind, methods in joined.items()}
    for split, (low, high) in DEGREE_SPLITS.items():  # the warm totals, by query degree
        if "warm" in joined:
            out[split] = {name: summarise(_by_degree(metrics, low, high))
                          for name, metrics in joined["warm"].items()}
    return {split: out[split] for split in SPLITS if split in out}


def _by_degree(per_query: dict[str, list[np.ndarray]], low: int,
               high: int | None) -> dict[str, list[np.ndarray]]:
    """The per-query values of the queries whose training degree is in [low, high]."""
    degree = np.concatenate(per_query["degree"])
    keep = (degree >= low) & (degree <= (np.inf if high is None else high))
    return {name: [np.concatenate(parts)[keep]] for name, parts in per_query.items()}


def warm_up(arrays: ScoringArrays) -> None:
    """Compute the arrays' derived arrays once here, not in every worker that scores."""
    rows = np.flatnonzero(arrays.candidate_mask)[:1]
    signal_module.signal_matrices(arrays, rows, rows)


def holdout_evaluation(data, config, seed: int = 0, progress: bool = False,
                       workers: int | None = None) -> tuple[dict, dict]:
    """Metrics of the model, its ablations and every baseline on one holdout split.

    Returns (metrics, rerank): metrics[split][method], and the shipped re-ranker. `workers`
    processes share the fits and the scoring (None: the default); results do not depend on it.
    """
    from training.model.holdout import fit_holdout
    from training.model.parallel import resolve_workers, run_jobs

    workers = resolve_workers(workers)
    holdout = fit_holdout(data, config, seed, progress, workers)
    jobs = metric_jobs(holdout, parts=2 * workers if workers > 1 else 1)
    metrics = join_metrics([kind for kind, _ in jobs],
                           run_jobs([job for _, job in jobs], workers))
    return metrics, holdout.rerankers["model"]


def aggregate_seeds(runs: list[dict]) -> dict:
    """Mean and standard deviation of every metric over seeds (with one seed, std is 0); a
    split that a seed lacks (a small data set's degree group can be empty) is averaged over the
    seeds that have it."""
    out: dict = {}
    for split in [split for split in SPLITS if any(split in run for run in runs)]:
        out[split] = {}
        having = [run[split] for run in runs if split in run]
        for method in having[0]:
            values = {metric: [run[method][metric] for run in having]
                      for metric in having[0][method]}
            summary = {metric: float(np.mean(v)) for metric, v in values.items()}
            summary.update({f"{metric}_std": float(np.std(v)) for metric, v in values.items()
                            if metric != "queries"})
            summary["queries"] = int(np.mean(values["queries"]))
            out[split][method] = summary
    return out


def evaluate_config(processed_dir, config, *, seed: int = 0, seeds: tuple[int, ...] | None = None,
                    progress: bool = False) -> dict:
    """Metrics of a TrainConfig on the data in `processed_dir` (one seed, or several aggregated)."""
    from training.model.dataset import load_training_data

    data = load_training_data(processed_dir)
    runs = [holdout_evaluation(data, config, s, progress)[0] for s in (seeds or (seed,))]
    return aggregate_seeds(runs)
