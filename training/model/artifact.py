"""Write a model directory (numpy, sparse npz, JSON, Parquet: nothing that needs pickle)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.errors import DataError
from matcher.ranking import percentiles
from matcher.scoring import final_scores, signals
from matcher.scoring.signals import ScoringArrays
from matcher.store.cityindex import SERVING_FILE, write_serving_index
from matcher.store.model import file_digests
from training.model.dataset import EncodedFeatures

QUANTILE_SAMPLE = 4096


def _dump_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n",
                    encoding="utf-8")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def city_index_table(cities: pd.DataFrame, features: pd.DataFrame,
                     arrays: ScoringArrays) -> pd.DataFrame:
    """The model's city index: city columns, raw features, candidate flag and graph degree."""
    extra = [name for name in features.columns if name not in cities.columns]
    table = pd.concat([cities.reset_index(drop=True), features[extra].reset_index(drop=True)],
                      axis=1)
    graph = arrays.binary
    table["is_candidate"] = arrays.candidate_mask
    table["admin1_index"] = arrays.admin1
    table["degree"] = np.diff(graph.indptr).astype(np.int64)
    partner_country = arrays.country_index[graph.indices]
    owner = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    distinct = pd.DataFrame({"owner": owner, "country": partner_country}).drop_duplicates()
    table["partner_countries"] = np.bincount(distinct["owner"], minlength=graph.shape[0])
    return table


def quantile_sample(candidate_mask: np.ndarray, seed: int) -> np.ndarray:
    """A fixed, seeded sample of candidates over which each city's score distribution is taken."""
    pool = np.flatnonzero(candidate_mask)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(pool, size=min(QUANTILE_SAMPLE, len(pool)), replace=False))


def quantile_jobs(arrays: ScoringArrays, seed: int = 0, parts: int = 1) -> list:
    """Jobs that score the quantiles of `parts` slices of the cities; their results, stacked in
    order, are what write_artifact computes itself when not given them."""
    from functools import partial

    from training.model.evaluate import warm_up

    warm_up(arrays)
    sample = quantile_sample(arrays.candidate_mask, seed)
    return [partial(percentiles.score_quantiles, arrays, sample, percentiles.quantile_levels(),
                    rows=rows)
            for rows in np.array_split(np.arange(arrays.n_cities), max(1, parts))]


def write_artifact(out_dir: Path, arrays: ScoringArrays, encoded: EncodedFeatures,
                   city_table: pd.DataFrame, config: dict, metrics: dict, data_manifest: dict,
                   seed: int = 0, quantiles: np.ndarray | None = None) -> Path:
    """Write every file of docs/CONTRACTS.md "Model directory" into out_dir (must be empty).

    `quantiles`: the stacked results of `quantile_jobs(arrays, seed)`, if already scored.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise DataError(f"model output directory {out_dir} is not empty; choose a new one")
    if not arrays.rerank:
        raise DataError("the scoring arrays have no re-ranker; fit it before writing the model")
    levels = percentiles.quantile_levels()
    if quantiles is None:
        quantiles = np.vstack([job() for job in quantile_jobs(arrays, seed)])
    if quantiles.shape != (arrays.n_cities, len(levels)):
        raise DataError(f"score quantiles have shape {quantiles.shape}, expected "
                        f"{(arrays.n_cities, len(levels))}; this is a bug")
    for name in ("user_embeddings", "item_embeddings", "user_biases", "item_biases"):
        np.save(out_dir / f"{name}.npy", getattr(arrays, name).astype(np.float32),
                allow_pickle=False)
    np.save(out_dir / "score_quantiles.npy", quantiles, allow_pickle=False)
    np.save(out_dir / "lightfm_moments.npy", np.stack(arrays.user_moments),
            allow_pickle=False)
    sp.save_npz(out_dir / "graph.npz", arrays.graph.matrix.astype(np.float32),
                compressed=False)  # uncompressed: a fresh `twin with` loads it faster
    sp.save_npz(out_dir / "geo.npz", arrays.geo.matrix.astype(np.float32),
                compressed=False)
    sp.save_npz(out_dir / "features.npz", sp.csr_matrix(encoded.matrix, dtype=np.float32),
                compressed=False)
    city_table.to_parquet(out_dir / "cities.parquet", index=False)
    write_serving_index(city_table, out_dir / SERVING_FILE)
    _dump_json(out_dir / "rerank.json", arrays.rerank)
    _dump_json(out_dir / "schema.json", {
        "feature_names": encoded.names, "feature_groups": encoded.groups,
        "signals": list(signals.SIGNALS), "quantile_levels": levels.tolist(),
        "city_columns": list(city_table.columns),
    })
    _dump_json(out_dir / "config.json", config)
    _dump_json(out_dir / "metrics.json", metrics)
    _dump_json(out_dir / "manifest.json", {"data": data_manifest, "files": file_digests(out_dir)})
    return out_dir


def assert_round_trip(out_dir: Path, arrays: ScoringArrays, geonameids: np.ndarray,
                      queries: np.ndarray, k: int = 10) -> None:
    """Loading the written model must give the same top-k lists as the in-memory one."""
    from matcher.store.model import Model
    from training.model.evaluate import top_indices

    loaded = Model.load(out_dir)
    expected = top_indices(final_scores.score_matrix(arrays, queries), k)
    actual = top_indices(loaded.scores_batch(queries), k)
    if not np.array_equal(expected, actual):
        bad = int(np.flatnonzero((expected != actual).any(axis=1))[0])
        raise DataError(f"model written to {out_dir} does not reproduce its top-{k} lists "
                        f"(first difference for city row {int(queries[bad])}); this is a bug")
    if not np.array_equal(loaded.geonameids, np.asarray(geonameids, dtype=np.int64)):
        raise DataError(f"model written to {out_dir} has an inconsistent city index")
