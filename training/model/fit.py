"""Fit the LightFM hybrid: one feature matrix for both sides, each partnership both ways."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matcher.errors import InputError


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a model; saved beside it as config.json.

    `threads` defaults to 1: LightFM's Hogwild SGD is only deterministic on one thread, and the
    same data and config must give the same top-10 lists.
    """

    loss: str = "warp"
    components: int = 64
    epochs: int = 60
    learning_rate: float = 0.05
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    max_sampled: int = 30
    identity_weight: float = 0.5
    seed: int = 0
    threads: int = 1
    candidate_min_population: int = 50_000
    geo_radius_km: float = 60.0
    geo_scale_km: float = 25.0
    rerank_negatives: int = 300
    rerank_c: float = 1.0
    rerank_objective: str = "pairwise"
    # Stage two (matcher.scoring.refine) reorders stage one's best `refine_depth` candidates
    # (0: none).
    refine_depth: int = 100
    refine_knots: int = 4
    refine_c: float = 1.0
    holdout_fraction: float = 0.1
    validation_fraction: float = 0.1
    lightfm_groups: tuple[str, ...] = ("performance", "synergies", "context")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown TrainConfig fields {unknown}; known fields: "
                             f"{sorted(known)}")
        values = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in values.items()}
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Embeddings:
    """Per-city LightFM representations (feature rows @ feature embeddings)."""

    user_embeddings: np.ndarray  # (n, d) float32
    item_embeddings: np.ndarray
    user_biases: np.ndarray  # (n,) float32
    item_biases: np.ndarray


def fit_lightfm(features: sp.csr_matrix, interactions: sp.csr_matrix, config: TrainConfig,
                progress: bool = False) -> Embeddings:
    """Fit LightFM with cities as both users and items; return per-city representations."""
    from lightfm import LightFM

    model = LightFM(no_components=config.components, loss=config.loss,
                    learning_rate=config.learning_rate, item_alpha=config.item_alpha,
                    user_alpha=config.user_alpha, max_sampled=config.max_sampled,
                    random_state=np.random.RandomState(config.seed))
    interactions = sp.coo_matrix(interactions)
    binary = sp.coo_matrix((np.ones_like(interactions.data), (interactions.row, interactions.col)),
                           shape=interactions.shape)
    epochs = range(config.epochs)
    if progress:
        from tqdm import tqdm

        epochs = tqdm(epochs, desc="LightFM epochs", unit="epoch", leave=False)
    for _ in epochs:
        model.fit_partial(binary, user_features=features, item_features=features,
                          sample_weight=interactions.astype(np.float32), epochs=1,
                          num_threads=config.threads)
    user_biases, user_embeddings = model.get_user_representations(features)
    item_biases, item_embeddings = model.get_item_representations(features)
    return Embeddings(user_embeddings.astype(np.float32), item_embeddings.astype(np.float32),
                      user_biases.astype(np.float32), item_biases.astype(np.float32))


def fit_arrays(data, partnerships, config: TrainConfig, candidate_mask: np.ndarray | None = None,
               progress: bool = False):
    """Fit LightFM on `partnerships` and return the scoring arrays (re-ranker not yet set).

    Features' appetite group is recomputed from `partnerships`, so held-out history never leaks.
    Returns (ScoringArrays, EncodedFeatures, Dataset).
    """
    from matcher.scoring.signals import ScoringArrays
    from training.model.dataset import admin1_index, build_dataset, with_identity

    dataset = build_dataset(data.cities, data.features_for(partnerships), data.schema,
                            partnerships, data.candidate_floor(config.candidate_min_population))
    mask = dataset.candidate_mask if candidate_mask is None else candidate_mask
    features = with_identity(lightfm_feature_columns(dataset.features, config.lightfm_groups),
                             dataset.interactions, config.identity_weight)
    embeddings = fit_lightfm(features, dataset.interactions, config, progress=progress)
    cities = dataset.cities
    _, country_index = np.unique(cities["country_code"].astype(str).to_numpy(),
                                 return_inverse=True)
    arrays = ScoringArrays(
        user_embeddings=embeddings.user_embeddings, item_embeddings=embeddings.item_embeddings,
        user_biases=embeddings.user_biases, item_biases=embeddings.item_biases,
        graph=dataset.interactions,
        geo=data.geo_kernel(config.geo_radius_km, config.geo_scale_km),
        admin1_index=admin1_index(cities),
        lat=cities["lat"].to_numpy(), lon=cities["lon"].to_numpy(),
        population=cities["population"].to_numpy(), country_index=country_index.astype(np.int64),
        candidate_mask=mask, is_capital=cities["is_capital"].fillna(False).to_numpy(dtype=bool),
        rerank={},
    )
    return arrays, dataset.features, dataset


def lightfm_feature_columns(encoded, groups: tuple[str, ...]) -> sp.csr_matrix:
    """The encoded feature columns LightFM sees: only the configured groups.

    Appetite features are left out by default: a city with no history would carry values no
    training user ever had, which hurts exactly the cold start they are meant to help.
    """
    keep = np.flatnonzero(np.isin(np.asarray(encoded.groups), list(groups)))
    return sp.csr_matrix(encoded.matrix[:, keep])
