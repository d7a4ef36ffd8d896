"""Train a model end to end: evaluate on holdouts, fit on everything, write the model directory."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from training.model.fit import TrainConfig

TUNE_SPACE = {
    "components": (32, 48, 64),
    "epochs": (20, 30, 40, 60),
    "learning_rate": (0.02, 0.05, 0.08),
    "identity_weight": (0.25, 0.5, 1.0),
    "item_alpha": (0.0, 1e-6, 1e-5),
}


@dataclass(frozen=True)
class TrainResult:
    """Where the model went, what it measured, and how long it took."""

    out_dir: Path
    metrics: dict
    seconds: float
    config: TrainConfig


def _log(message: str, progress: bool) -> None:
    if progress:
        import click

        click.echo(message, err=True)


def train_model(processed_dir: Path, out_dir: Path, config: TrainConfig | None = None, *,
                seeds: tuple[int, ...] | None = None, progress: bool = True,
                workers: int | None = None) -> TrainResult:
    """Evaluate `config` on grouped holdouts (the re-ranker fits on a validation split inside the
    training part), then fit on every partnership and write a complete model directory.

    `seeds` repeats the evaluation with other splits and seeds and reports mean and spread.
    `workers` processes (None: $TWIN_WORKERS or up to 2) run the independent LightFM fits, then
    the scoring; every LightFM fit stays on one thread, so the model does not depend on it.
    """
    from training.model import artifact
    from training.model.dataset import load_training_data
    from training.model.evaluate import aggregate_seeds, join_metrics, metric_jobs
    from training.model.fit import fit_arrays
    from training.model.holdout import plan_holdout
    from training.model.parallel import resolve_workers, run_jobs

    started = time.perf_counter()
    config = config or TrainConfig()
    workers = resolve_workers(workers) if config.threads == 1 else 1
    data = load_training_data(processed_dir)
    data.geo_kernel(config.geo_radius_km, config.geo_scale_km)  # once, before workers fork
    seed_list = [config.seed, *[s for s in seeds or () if s != config.seed]]
    plans = [plan_holdout(data, config, seed) for seed in seed_list]
    bars = progress and workers == 1
    _log(f"fitting {2 * len(plans) + 1} LightFM models (holdout seeds {seed_list}: validation "
         f"and test; then every partnership) with {workers} worker(s) ...", progress)
    jobs = [job for plan in plans for job in plan.jobs(data, bars)]
    fitted = run_jobs([*jobs, partial(fit_arrays, data, data.partnerships, config, None, bars)],
                      workers)
    holdouts = [plan.assemble(fitted[2 * i:2 * i + 2]) for i, plan in enumerate(plans)]
    arrays, encoded, dataset = fitted[-1]
    arrays.rerank = holdouts[0].rerankers["model"]
    _log("scoring the holdout queries and the final model's score quantiles ...", progress)
    parts = 2 * workers if workers > 1 else 1
    quantile_jobs = artifact.quantile_jobs(arrays, config.seed, parts)
    scoring = [metric_jobs(holdout, parts) for holdout in holdouts]
    results = run_jobs([*quantile_jobs, *(job for jobs in scoring for _, job in jobs)], workers)
    quantiles = np.vstack(results[:len(quantile_jobs)])
    runs, offset = [], len(quantile_jobs)
    for jobs in scoring:
        runs.append(join_metrics([kind for kind, _ in jobs], results[offset:offset + len(jobs)]))
        offset += len(jobs)
    metrics = aggregate_seeds(runs)
    metrics["seeds"] = seed_list
    city_table = artifact.city_index_table(dataset.cities, data.features, arrays)
    _log("writing the model directory ...", progress)
    artifact.write_artifact(out_dir, arrays, encoded, city_table, config.to_dict(), metrics,
                            data.manifest, seed=config.seed, quantiles=quantiles)
    rng = np.random.default_rng(config.seed)
    probe = rng.choice(np.flatnonzero(arrays.candidate_mask), size=min(50, arrays.n_cities),
                       replace=False)
    artifact.assert_round_trip(out_dir, arrays, dataset.cities["geonameid"].to_numpy(), probe)
    return TrainResult(Path(out_dir), metrics, time.perf_counter() - started, config)


def tune(processed_dir: Path, base: TrainConfig, budget_seconds: float, trials: int = 12,
         progress: bool = True, workers: int | None = None) -> tuple[TrainConfig, list[dict]]:
    """Seeded random search, chosen on a validation split only: the test split's partnerships are
    removed first, and each trial is scored on a holdout of what remains.
    """
    from training.model.dataset import load_training_data
    from training.model.evaluate import holdout_evaluation
    from training.model.splits import holdout_split

    data = load_training_data(processed_dir)
    outer = holdout_split(data.partnerships, base.holdout_fraction, base.seed)
    inner = type(data)(data.cities, data.countries, outer.train, data.features, data.schema,
                       data.manifest)
    rng = np.random.default_rng(base.seed)
    candidates = [base] + [
        base.replace(**{name: values[rng.integers(len(values))]
                        for name, values in TUNE_SPACE.items()})
        for _ in range(trials - 1)
    ]
    started = time.perf_counter()
    history: list[dict] = []
    best, best_score = base, -np.inf
    for number, candidate in enumerate(candidates, start=1):
        if history and time.perf_counter() - started > budget_seconds:
            _log(f"time budget of {budget_seconds:.0f} s reached after {len(history)} trials",
                 progress)
            break
        metrics, _ = holdout_evaluation(inner, candidate, base.seed + 7, progress=False,
                                        workers=workers)
        score = (metrics["warm"]["model"]["recall@10"] + metrics["cold"]["model"]["recall@10"]
                 + 0.5 * metrics["cold"]["model"]["recall@50"])
        history.append({"config": candidate.to_dict(), "score": score,
                        "warm_recall@10": metrics["warm"]["model"]["recall@10"],
                        "cold_recall@10": metrics["cold"]["model"]["recall@10"]})
        _log(f"trial {number}/{len(candidates)}: score {score:.4f} "
             f"{json.dumps({k: candidate.to_dict()[k] for k in TUNE_SPACE})}", progress)
        if score > best_score:
            best, best_score = candidate, score
    return best, history
