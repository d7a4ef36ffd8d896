"""Load a model directory without pickle or lightfm, verify it, and score cities with it."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path

import numpy as np

from matcher.columns import Columns as C
from matcher.errors import ModelLoadError
from matcher.ranking import percentiles
from matcher.scoring import final_scores, refine, signals
from matcher.scoring.csr import CSR
from matcher.store.cityindex import CITIES_FILE, SERVING_FILE, CityIndex

ARRAY_FILES = ("user_embeddings.npy", "item_embeddings.npy", "user_biases.npy",
               "item_biases.npy", "score_quantiles.npy")
SPARSE_FILES = ("graph.npz", "geo.npz", "features.npz")
JSON_FILES = ("rerank.json", "schema.json", "config.json", "metrics.json", "manifest.json")
REQUIRED_FILES = (CITIES_FILE, *ARRAY_FILES, *SPARSE_FILES, *JSON_FILES)
OPTIONAL_FILES = ("lightfm_moments.npy", SERVING_FILE)  # absent in models before 0.2
CITY_COLUMNS = (C.GEONAMEID, C.NAME, C.COUNTRY, C.LAT, C.LON, C.POPULATION, C.IS_CAPITAL,
                "is_candidate")


RETRAIN_HINT = "retrain with `make train` or roll back with `twin models rollback`"


def file_digests(directory: Path, skip: tuple[str, ...] = ("manifest.json",)) -> dict[str, str]:
    """sha256 of every file in a model directory (its manifest lists them at training)."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(Path(directory).iterdir())
            if path.is_file() and path.name not in skip}


def verify(directory: Path) -> int:
    """Check every file of a model directory against the sha256 its manifest.json lists:
    loading memory-maps arrays and checks their structure, not their values, so a changed
    byte shows only here. Returns how many files match; ModelLoadError naming each file that
    is missing, changed or not listed."""
    directory = Path(directory)
    manifest = _load_json(directory / "manifest.json") \
        if (directory / "manifest.json").is_file() else None
    if manifest is None or not isinstance(manifest.get("files"), dict):
        raise ModelLoadError(f"model directory {directory} has no manifest.json listing its "
                             f"files, so it cannot be checked; {RETRAIN_HINT}")
    listed, found = manifest["files"], file_digests(directory)
    problems = [f"{name} is missing" for name in sorted(set(listed) - set(found))]
    problems += [f"{name} differs from its manifest hash (changed after training)"
                 for name in sorted(set(listed) & set(found)) if listed[name] != found[name]]
    problems += [f"{name} is not in the manifest" for name in sorted(set(found) - set(listed))]
    if problems:
        raise ModelLoadError(f"model directory {directory} is damaged: {'; '.join(problems)}; "
                             f"{RETRAIN_HINT}")
    return len(listed)


def check_finite(path: Path, values: np.ndarray) -> None:
    """ModelLoadError naming the file when a float array holds NaN or infinity: a score built
    from one is NaN, which sorts anywhere, so the lists would be silently wrong."""
    if values.dtype.kind != "f":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum(dtype=np.float64)
    if np.isfinite(total):
        return  # a NaN or infinity makes the sum non-finite (a sum without temporaries: 2x faster)
    bad = int(np.count_nonzero(~np.isfinite(values)))  # or finite values summed past float64
    if bad:
        raise ModelLoadError(f"model file {path} has {bad} non-finite values (NaN or infinity) "
                             f"in {values.size}; {RETRAIN_HINT}")


verify_files = verify  # Model.load's `verify` argument hides the function's name there


def _read(path: Path, what: str, reader):
    """Read one model file; ModelLoadError naming it when it is damaged."""
    try:
        return reader(path)
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"model file {path} is not {what} ({error}); {RETRAIN_HINT}") \
            from error


def _load_json(path: Path) -> dict:
    return _read(path, "readable JSON", lambda p: json.loads(p.read_text(encoding="utf-8")))


def _load_array(path: Path) -> np.ndarray:
    """Memory-mapped (read-only): a query reads a few rows of each array, not the whole file.
    Returned as a plain ndarray view, which indexes without np.memmap's Python overhead."""
    return _read(path, "a readable numpy array",
                 lambda p: np.asarray(np.load(p, mmap_mode="r", allow_pickle=False)))


def _load_sparse(path: Path) -> CSR:
    """Raw CSR arrays (matcher.scoring.csr): serving one query needs no scipy."""
    return _read(path, "a readable sparse matrix", CSR.load)


def _admin1_index(table, path: Path, country_index: np.ndarray) -> np.ndarray | None:
    """Each city's first-level region (models before 0.3.1 have none: None); ModelLoadError
    when a region is out of range or spans two countries."""
    if not table.has("admin1_index"):
        return None
    admin1 = table.column("admin1_index").astype(np.int64)
    if len(admin1) and (admin1.min() < 0 or admin1.max() >= len(admin1)):
        raise ModelLoadError(f"model city index in {path} has admin1_index values outside "
                             f"0..{len(admin1) - 1}; {RETRAIN_HINT}")
    country_of = np.zeros(int(admin1.max()) + 1 if len(admin1) else 0, dtype=np.int64)
    country_of[admin1] = country_index
    if not np.array_equal(country_of[admin1], country_index):
        raise ModelLoadError(f"model city index in {path} has an admin1_index region in two "
                             f"countries; {RETRAIN_HINT}")
    return admin1


def stage_one_problems(rerank: dict) -> list[str]:
    """What is wrong with the logistic re-rankers of a rerank.json (empty: nothing): both kinds
    present, one coefficient, mean and non-zero scale per known signal, finite numbers. A
    missing coefficient was a broadcasting traceback inside the first query (issue 15)."""
    found = []
    for kind in ("warm", "cold"):
        part = rerank.get(kind) if isinstance(rerank, dict) else None
        if not isinstance(part, dict):
            found.append(f"{kind}: missing")
            continue
        try:
            names = list(part["signals"])
            unknown = sorted(set(names) - set(signals.SIGNALS))
            if unknown:
                found.append(f"{kind}: unknown signals {unknown}")
            for key in ("coef", "mean", "scale"):
                values = np.asarray(part[key], dtype=np.float64)
                if values.shape != (len(names),):
                    found.append(f"{kind}: {len(names)} signals but {values.size} {key} values")
                elif not np.isfinite(values).all() or (key == "scale" and (values == 0).any()):
                    found.append(f"{kind}: {key} has non-finite or zero values")
            if not np.isfinite(float(part["intercept"])):
                found.append(f"{kind}: intercept {part['intercept']}")
        except (KeyError, TypeError, ValueError) as error:
            found.append(f"{kind}: {type(error).__name__} {error}")
    return found


class Model:
    """A trained model directory, loaded for serving (see docs/CONTRACTS.md, "Scoring")."""

    def __init__(self, path: Path, table, arrays: signals.ScoringArrays, features: CSR,
                 quantiles: np.ndarray, documents: dict[str, dict]) -> None:
        self.path = path
        self.table = table
        self.arrays = arrays
        self.features = features
        self.borrowed_rows: tuple[int, ...] = ()  # rows whose features are another city's
        self.quantiles = quantiles
        self.rerank = documents["rerank"]
        self.schema = documents["schema"]
        self.config = documents["config"]
        self.metrics = documents["metrics"]
        self.manifest = documents["manifest"]
        self.quantile_levels = np.asarray(self.schema["quantile_levels"], dtype=np.float64)
        self.feature_names: list[str] = list(self.schema["feature_names"])
        self.feature_groups: list[str] = list(self.schema["feature_groups"])
        self.geonameids = self.column(C.GEONAMEID).astype(np.int64)

    @classmethod
    def load(cls, path: Path | str, verify: bool = False) -> Model:
        """Load and check a model directory (files, shapes, no NaN or infinity in any float
        array); ModelLoadError names the missing or bad file. `verify` also checks every
        file against its manifest hash (matcher.store.model.verify: sha256 of 67 MB, 0.08-0.15 s on
        the 40,802-city model, 2-3x the load): for long-running processes, the batch and promotion;
        one-off CLI calls skip it."""
        path = Path(path)
        if not path.is_dir():
            raise ModelLoadError(f"model directory {path} does not exist; run `make train`")
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            raise ModelLoadError(f"model directory {path} is incomplete: missing "
                                 f"{', '.join(missing)}; {RETRAIN_HINT}")
        if verify:
            verify_files(path)
        documents = {name.removesuffix(".json"): _load_json(path / name) for name in JSON_FILES}
        bad = stage_one_problems(documents["rerank"])
        if bad:
            raise ModelLoadError(f"model file {path / 'rerank.json'} has a damaged re-ranker "
                                 f"({'; '.join(bad)}); {RETRAIN_HINT}")
        bad = refine.problems(documents["rerank"])
        if bad:
            raise ModelLoadError(f"model file {path / 'rerank.json'} has a damaged stage-two "
                                 f"part ({'; '.join(bad)}); {RETRAIN_HINT}")
        loaded = {name: _load_array(path / name) for name in ARRAY_FILES}
        sparse = {name: _load_sparse(path / name) for name in SPARSE_FILES}
        table = CityIndex.load(path)
        absent = [name for name in CITY_COLUMNS if name not in table.loaded_names]
        if absent:
            raise ModelLoadError(f"model city index in {path} lacks columns {absent}; "
                                 "retrain with `make train`")
        n = table.num_rows
        expected = {
            "user_embeddings.npy": (n, None), "item_embeddings.npy": (n, None),
            "user_biases.npy": (n,), "item_biases.npy": (n,), "score_quantiles.npy": (n, None),
            "graph.npz": (n, n), "geo.npz": (n, n), "features.npz": (n, None),
        }
        shapes = {name: array.shape for name, array in {**loaded, **sparse}.items()}
        for name, shape in expected.items():
            actual = shapes[name]
            if len(actual) != len(shape) or any(e is not None and e != a
                                                for e, a in zip(shape, actual, strict=True)):
                raise ModelLoadError(f"model file {path / name} has shape {actual}, expected "
                                     f"{tuple('*' if e is None else e for e in shape)} for {n} "
                                     "cities; the directory is inconsistent, retrain with "
                                     "`make train`")
        for name, values in loaded.items():
            check_finite(path / name, values)
        for name, matrix in sparse.items():
            check_finite(path / name, matrix.data)
        city_file = path / (SERVING_FILE if (path / SERVING_FILE).is_file() else CITIES_FILE)
        for name in (C.LAT, C.LON, C.POPULATION):
            check_finite(city_file, np.asarray(table.column(name)))
        country_codes = table.column(C.COUNTRY)
        _, country_index = np.unique(country_codes.astype(str), return_inverse=True)
        arrays = signals.ScoringArrays(
            user_embeddings=loaded["user_embeddings.npy"],
            item_embeddings=loaded["item_embeddings.npy"],
            user_biases=loaded["user_biases.npy"], item_biases=loaded["item_biases.npy"],
            graph=sparse["graph.npz"], geo=sparse["geo.npz"],
            lat=table.column(C.LAT), lon=table.column(C.LON),
            population=table.column(C.POPULATION),
            country_index=country_index.astype(np.int64),
            candidate_mask=table.column("is_candidate").astype(bool),
            is_capital=table.column(C.IS_CAPITAL).astype(bool),
            rerank=documents["rerank"],
            admin1_index=_admin1_index(table, path, country_index),
        )
        moments_file = path / OPTIONAL_FILES[0]  # LightFM score mean, spread
        if moments_file.is_file():  # optional: models trained before 0.2 compute it on demand
            moments = _load_array(moments_file)
            if moments.shape != (2, n):
                raise ModelLoadError(f"model file {moments_file} has shape {moments.shape}, "
                                     f"expected (2, {n}); {RETRAIN_HINT}")
            check_finite(moments_file, moments)
            arrays.stored_user_moments = (moments[0], moments[1])
        return cls(path, table, arrays, sparse["features.npz"], loaded["score_quantiles.npy"],
                   documents)

    # -- the city index ---------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        """One column of the city index as a numpy array (fast; no pandas)."""
        return self.table.column(name)

    def has_column(self, name: str) -> bool:
        return self.table.has(name)

    @cached_property
    def cities(self):
        """The city index as a DataFrame (row i is model city i), every column."""
        return self.table.to_pandas()

    @property
    def n_cities(self) -> int:
        return self.arrays.n_cities

    @cached_property
    def _row_of(self) -> dict[int, int]:
        return {int(g): i for i, g in enumerate(self.geonameids)}  # 6 ms: not for one query

    def index_of(self, geonameid: int) -> int:
        """Model row of a GeoNames id; KeyError when the model does not know it."""
        return self._row_of[int(geonameid)]

    def partners_of(self, row: int) -> np.ndarray:
        """Model rows of a city's existing partners."""
        return self.arrays.partners(row).copy()

    def has_history(self, row: int) -> bool:
        return bool(self.arrays.degree[row] > 0)

    # -- scoring -------------------------------------------------------------------------
    def scores(self, row: int) -> np.ndarray:
        """Final score of every city as `row`'s partner (n,); -inf for itself and non-candidates."""
        return self.scores_batch(np.array([row]))[0]

    def scores_batch(self, rows: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Scores for several query rows at once, (q, n) or (q, c) for `columns`; identical to
        scores() row by row."""
        return final_scores.score_matrix(self.arrays, np.asarray(rows, dtype=np.int64),
                                    columns=columns)

    def reverse_scores(self, row: int, among: np.ndarray | None = None) -> np.ndarray:
        """s(j -> row) for every city j (or only `among`): how strongly each would want `row`."""
        return final_scores.reverse_score_vector(self.arrays, row, among)

    def percentile_of(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Where each value sits in each row city's own score distribution, 0..1."""
        rows = np.asarray(rows, dtype=np.int64)
        return percentiles.row_percentiles(self.quantiles, rows, self.quantile_levels,
                                                 np.asarray(values, dtype=np.float64))

    def signals(self, row: int) -> dict[str, np.ndarray]:
        """The per-signal vectors (n,) behind scores(row), for explanations."""
        matrices = signals.signal_matrices(self.arrays, np.array([row]))
        return {name: values[0] for name, values in matrices.items()}

    def probability(self, scores: np.ndarray) -> np.ndarray:
        """The re-ranker's logistic link: 0..1 (relative to sampled non-partners)."""
        return signals.sigmoid(scores)
