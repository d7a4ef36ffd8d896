"""A tiny, valid model directory (docs/CONTRACTS.md "Model directory") for serving tests.

Written with numpy / pandas / scipy / json only: no lightfm, no training. The planted structure:
Korean cities "want" British and French cities (user embeddings of KR align with item embeddings of
GB/FR), Sejong (geonames:11523293) has no partnerships (the cold case), Daejeon twins with
Newport GB (20 km from Cardiff), London is dominant over London CA, Newport GB vs Newport US is
ambiguous. `synthetic` adds that many random cities (for speed tests at ~25k cities).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.scoring.signals import SIGNALS, ScoringArrays

# geonameid, name, asciiname, alternatenames, country, admin1, lat, lon, population, tags
CITIES = [
    (11523293, "Sejong", "Sejong", "Sejong City;세종", "KR", "22", 36.48, 127.29, 394_630, ""),
    (1835235, "Daejeon", "Daejeon", "Taejon;대전", "KR", "19", 36.32, 127.42, 1_441_203,
     "university"),
    (1835848, "Seoul", "Seoul", "Soul;서울", "KR", "11", 37.57, 126.98, 10_349_312,
     "university;port"),
    (1838524, "Busan", "Busan", "Pusan;부산", "KR", "10", 35.10, 129.04, 3_678_555, "port"),
    (1845604, "Cheongju", "Cheongju", "Chongju", "KR", "13", 36.64, 127.49, 634_596, ""),
    (2643743, "London", "London", "Londres;Londra", "GB", "ENG", 51.51, -0.13, 8_961_989,
     "university;port"),
    (2653822, "Cardiff", "Cardiff", "Caerdydd", "GB", "WLS", 51.48, -3.18, 372_089,
     "university;port"),
    (2641598, "Newport", "Newport", "Casnewydd", "GB", "WLS", 51.59, -3.00, 161_506, "port"),
    (2643123, "Manchester", "Manchester", "", "GB", "ENG", 53.48, -2.24, 395_515, "university"),
    (2654675, "Bristol", "Bristol", "", "GB", "ENG", 51.46, -2.60, 617_280, "university;port"),
    (2988507, "Paris", "Paris", "Lutece", "FR", "11", 48.85, 2.35, 2_138_551, "university"),
    (2996944, "Lyon", "Lyon", "Lyons", "FR", "84", 45.75, 4.85, 522_228, "university"),
    (2990969, "Nantes", "Nantes", "Naoned", "FR", "52", 47.22, -1.55, 318_808, "port"),
    (2950159, "Berlin", "Berlin", "Berlino", "DE", "16", 52.52, 13.41, 3_426_354, "university"),
    (2825297, "Stuttgart", "Stuttgart", "", "DE", "01", 48.78, 9.18, 630_305, "automotive"),
    (2886242, "Cologne", "Cologne", "Koeln;Köln;Colonia", "DE", "07", 50.93, 6.95, 1_075_935,
     "automotive;university"),
    (2692969, "Malmö", "Malmo", "Malmoe", "SE", "27", 55.61, 13.00, 301_706, "port"),
    (6058560, "London", "London", "", "CA", "08", 42.98, -81.23, 422_324, "university"),
    (6167865, "Toronto", "Toronto", "", "CA", "08", 43.70, -79.42, 2_600_000, "university"),
    (5223593, "Newport", "Newport", "", "US", "RI", 41.49, -71.31, 24_232, "port"),
]
COUNTRY_NAMES = {"KR": "South Korea", "GB": "United Kingdom", "FR": "France", "DE": "Germany",
                 "SE": "Sweden", "CA": "Canada", "US": "United States"}
CONTINENTS = {"KR": "AS", "GB": "EU", "FR": "EU", "DE": "EU", "SE": "EU", "CA": "NA", "US": "NA"}
EDGES = [  # (name, country), (name, country), weight
    (("Daejeon", "KR"), ("Newport", "GB"), 1.0),
    (("Daejeon", "KR"), ("Nantes", "FR"), 1.0),
    (("Seoul", "KR"), ("London", "GB"), 1.0),
    (("Seoul", "KR"), ("Paris", "FR"), 1.0),
    (("Busan", "KR"), ("Bristol", "GB"), 0.5),
    (("Cheongju", "KR"), ("Manchester", "GB"), 1.0),
    (("Cardiff", "GB"), ("Stuttgart", "DE"), 1.0),
    (("Cardiff", "GB"), ("Nantes", "FR"), 1.0),
    (("London", "GB"), ("Berlin", "DE"), 1.0),
    (("Paris", "FR"), ("Berlin", "DE"), 1.0),
    (("Lyon", "FR"), ("Manchester", "GB"), 0.25),
    (("Cologne", "DE"), ("Lyon", "FR"), 1.0),
    (("Malmö", "SE"), ("Newport", "GB"), 1.0),
    (("Toronto", "CA"), ("London", "CA"), 1.0),
    (("Newport", "US"), ("Newport", "GB"), 1.0),
    (("Bristol", "GB"), ("Toronto", "CA"), 1.0),
]
SIGNAL_NAMES = ("lightfm", "adamic_adar", "geo_cf", "partner_geo", "country_pair",
                "log_distance", "log_degree", "log_population", "same_country")
COEF = {"lightfm": 1.0, "adamic_adar": 0.4, "geo_cf": 0.5, "partner_geo": 0.3,
        "country_pair": 0.6, "log_distance": -0.2, "log_degree": 0.3, "log_population": 0.2,
        "same_country": -1.0, "admin1_pair": 0.7}
EMBEDDING_DIM = 8


def city_frame(synthetic: int = 0, seed: int = 0) -> pd.DataFrame:
    """The named cities plus `synthetic` random ones (countries X0..X49), sorted by geonameid."""
    rows = [dict(geonameid=g, name=n, asciiname=a, alternatenames=alt, country_code=cc,
                 admin1_code=adm, lat=lat, lon=lon, population=pop, tags=tags)
            for g, n, a, alt, cc, adm, lat, lon, pop, tags in CITIES]
    frame = pd.DataFrame(rows)
    if synthetic:
        rng = np.random.default_rng(seed + 1)
        countries = np.array([f"X{i}" for i in range(50)])
        extra = pd.DataFrame({
            "geonameid": 20_000_000 + np.arange(synthetic),
            "name": [f"Synth {i}" for i in range(synthetic)],
            "asciiname": [f"Synth {i}" for i in range(synthetic)],
            "alternatenames": "",
            "country_code": rng.choice(countries, synthetic),
            "admin1_code": "01",
            "lat": rng.uniform(-50, 65, synthetic),
            "lon": rng.uniform(-180, 180, synthetic),
            "population": rng.integers(5_000, 3_000_000, synthetic),
            "tags": rng.choice(["", "port", "university", "automotive"], synthetic),
        })
        frame = pd.concat([frame, extra], ignore_index=True)
    frame["country_name"] = frame["country_code"].map(COUNTRY_NAMES).fillna(
        "Synthland " + frame["country_code"])
    frame["continent"] = frame["country_code"].map(CONTINENTS).fillna("OC")
    frame["timezone"] = "UTC"
    frame["is_capital"] = frame["name"].isin(["Seoul", "London", "Paris", "Berlin"]) & (
        frame["country_code"] != "CA")
    frame["population"] = frame["population"].astype(np.int64)
    return frame.sort_values("geonameid", ignore_index=True)


def graph_matrix(cities: pd.DataFrame, synthetic_edges: int = 0, seed: int = 0) -> sp.csr_matrix:
    """Symmetric float32 partnership weights over the named edges (+ random synthetic ones)."""
    row_of = {(n, c): i for i, (n, c) in enumerate(zip(cities["name"], cities["country_code"],
                                                        strict=True))}
    a = [row_of[x] for x, _, _ in EDGES]
    b = [row_of[y] for _, y, _ in EDGES]
    w = [weight for _, _, weight in EDGES]
    if synthetic_edges:
        rng = np.random.default_rng(seed + 2)
        a += rng.integers(0, len(cities), synthetic_edges).tolist()
        b += rng.integers(0, len(cities), synthetic_edges).tolist()
        w += [1.0] * synthetic_edges
    a, b, w = np.array(a), np.array(b), np.array(w, dtype=np.float32)
    keep = (a != b) & (cities["name"].to_numpy()[a] != "Sejong") & (
        cities["name"].to_numpy()[b] != "Sejong")
    a, b, w = a[keep], b[keep], w[keep]
    ends = (np.concatenate([a, b]), np.concatenate([b, a]))
    graph = sp.coo_matrix((np.concatenate([w, w]), ends), shape=(len(cities),) * 2).tocsr()
    graph.sum_duplicates()
    graph.data = np.minimum(graph.data, 1.0).astype(np.float32)
    return graph


def geo_matrix(cities: pd.DataFrame, radius_km: float = 150.0) -> sp.csr_matrix:
    """exp(-km / 50) between distinct cities closer than radius_km (no sklearn)."""
    degrees = cities["lat"].to_numpy(dtype=float)
    lat = np.radians(degrees)
    lon = np.radians(cities["lon"].to_numpy(dtype=float))
    rows, cols, vals = [], [], []
    order = np.argsort(degrees)
    sorted_lat = degrees[order]
    for i in range(len(cities)):  # candidates within 2 degrees of latitude, then exact distance
        lo, hi = np.searchsorted(sorted_lat, [degrees[i] - 2.0, degrees[i] + 2.0])
        near = order[lo:hi]
        d = 6371.0 * 2 * np.arcsin(np.sqrt(np.clip(
            np.sin((lat[near] - lat[i]) / 2) ** 2
            + np.cos(lat[i]) * np.cos(lat[near]) * np.sin((lon[near] - lon[i]) / 2) ** 2, 0, 1)))
        keep = (d < radius_km) & (near != i)
        rows += [i] * int(keep.sum())
        cols += near[keep].tolist()
        vals += np.exp(-d[keep] / 50.0).tolist()
    return sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)),
                         shape=(len(cities),) * 2)


def feature_matrix(cities: pd.DataFrame, degree: np.ndarray) -> tuple[sp.csr_matrix, list, list]:
    """One-hot encoded features in the four schema groups, each group unit-norm, rows L2-normed."""
    logpop = np.log10(cities["population"].to_numpy(dtype=float))
    pop_bins = np.digitize(logpop, [5.0, 5.7, 6.3])
    deg_bins = np.digitize(degree, [0.5, 1.5, 2.5])
    tags = cities["tags"].fillna("")
    columns: list[tuple[str, str, np.ndarray]] = []
    for b in range(4):
        columns.append((f"log10_population=bin{b}", "performance", (pop_bins == b) * 1.0))
    for b in range(4):
        columns.append((f"partnership_count=bin{b}", "appetite", (deg_bins == b) * 1.0))
    columns.append(("has_partnerships=yes", "appetite", (degree > 0) * 1.0))
    columns.append(("is_capital=yes", "appetite", cities["is_capital"].to_numpy() * 1.0))
    for tag in ("automotive", "port", "university"):
        columns.append((f"tags={tag}", "synergies",
                        tags.str.split(";").map(lambda t, tag=tag: tag in t).to_numpy() * 1.0))
    for continent in sorted(cities["continent"].unique()):
        columns.append((f"continent={continent}", "context",
                        (cities["continent"] == continent).to_numpy() * 1.0))
    dense = np.column_stack([c[2] for c in columns])
    names = [c[0] for c in columns]
    groups = [c[1] for c in columns]
    for group in set(groups):
        cols = [i for i, g in enumerate(groups) if g == group]
        norms = np.linalg.norm(dense[:, cols], axis=1, keepdims=True)
        dense[:, cols] /= np.where(norms > 0, norms, 1.0)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    dense /= np.where(norms > 0, norms, 1.0)
    return sp.csr_matrix(dense.astype(np.float32)), names, groups


def embeddings(cities: pd.DataFrame, seed: int) -> tuple[np.ndarray, ...]:
    """User/item embeddings: KR queries align with GB/FR items; others with their continent."""
    rng = np.random.default_rng(seed)
    countries = sorted(cities["country_code"].unique())
    base = {c: rng.normal(size=EMBEDDING_DIM) for c in countries}
    affinity = {"KR": ("GB", "FR"), "GB": ("KR", "DE", "FR"), "FR": ("DE", "GB", "KR"),
                "DE": ("FR", "GB"), "SE": ("GB",), "CA": ("GB", "US"), "US": ("CA", "GB")}
    n = len(cities)
    user = np.zeros((n, EMBEDDING_DIM))
    item = np.zeros((n, EMBEDDING_DIM))
    for i, country in enumerate(cities["country_code"]):
        liked = affinity.get(country, ())
        target = sum((base[c] for c in liked), np.zeros(EMBEDDING_DIM))
        user[i] = target + 0.3 * rng.normal(size=EMBEDDING_DIM)
        item[i] = base[country] + 0.3 * rng.normal(size=EMBEDDING_DIM)
    user_bias = (0.1 * rng.normal(size=n)).astype(np.float32)
    item_bias = (0.1 * np.log10(cities["population"].to_numpy(dtype=float)) - 0.5).astype(
        np.float32)
    return user.astype(np.float32), item.astype(np.float32), user_bias, item_bias


# A stage two (scoring.refine) that bends distance and size: it reorders the fixtures' lists.
REFINE = {"signals": ["log_distance", "size_gap", "lightfm"], "mean": [7.0, 0.5, 0.0],
          "scale": [1.0, 0.5, 1.0], "knots": [[0.0], [0.0, 1.0], []],
          "coef": [0.5, -1.5, -0.5, 0.5, -0.2, 0.8], "intercept": 0.0}


def _rerank_part(names: tuple[str, ...], refine_depth: int = 0) -> dict:
    part = {"signals": list(names), "mean": [0.0] * len(names), "scale": [1.0] * len(names),
            "coef": [COEF[s] for s in names], "intercept": -2.0}
    if refine_depth:
        part["refine"] = {**REFINE, "depth": refine_depth}
    return part


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


GDP = {"KR": (50_000, 2.3), "GB": (52_000, 0.8), "FR": (55_000, 0.9), "DE": (60_000, 1.0),
       "SE": (62_000, 1.5), "CA": (58_000, 1.1), "US": (75_000, 1.6)}  # per head (PPP), growth
CITY_GROWTH = {"Seoul": 0.3, "Busan": -0.3, "Daejeon": 1.1, "London": 1.2, "Manchester": 1.0}
AIRPORTS = {"London": ("Heathrow (LHR)", 160), "Seoul": ("Incheon (ICN)", 150),
            "Manchester": ("Manchester (MAN)", 135), "Paris": ("Charles de Gaulle (CDG)", 200),
            "Busan": ("Gimhae (PUS)", 34), "Cardiff": ("Cardiff (CWL)", 20)}


def open_columns(cities: pd.DataFrame) -> pd.DataFrame:
    """The open-data values of matcher.profile.CATALOGUE a model's city index carries (a few
    planted ones: country GDP, UN WUP growth for five cities, airports, ports from the tags)."""
    codes, names = cities["country_code"].astype(str), cities["name"].astype(str)
    own = names.map(CITY_GROWTH)
    port = cities["tags"].fillna("").str.contains("port")
    return pd.DataFrame({
        "gdp_per_head_ppp": codes.map(lambda c: GDP.get(c, (30_000, 3.0))[0]).astype(float),
        "gdp_per_head_growth_pct": codes.map(lambda c: GDP.get(c, (30_000, 3.0))[1]),
        "growth_2000_2020_pct": own.fillna(0.5),  # else the country's (planted: 0.5)
        "growth_level": np.where(own.notna(), "city", "country"),
        "airport_intl_destinations": names.map(lambda n: AIRPORTS.get(n, ("", 0))[1]).astype(
            float),
        "best_airport": names.map(lambda n: AIRPORTS.get(n, ("", 0))[0]),
        "seaport": port.to_numpy(),
        "port_name": np.where(port, names + " harbour", ""),
    }, index=cities.index)


def make_model_dir(path: Path, seed: int = 0, synthetic: int = 0,
                   synthetic_edges: int | None = None, candidate_floor: int = 20_000,
                   refine_depth: int = 0, admin1: bool = False) -> Path:
    """Write a complete model directory at `path` (created) and return it.

    Every city with a partnership or population >= candidate_floor is a candidate; score
    quantiles are computed from the model's own scores, as training does. `refine_depth` > 0
    adds a stage two (REFINE) reordering that many candidates; `admin1` stores the cities'
    first-level regions and weighs the admin1_pair signal (models from 0.3.1).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    cities = city_frame(synthetic, seed)
    edges = synthetic_edges if synthetic_edges is not None else synthetic // 2
    graph = graph_matrix(cities, edges, seed)
    binary = graph.copy()
    binary.data[:] = 1
    degree = np.asarray(binary.sum(axis=1)).ravel().astype(np.int64)
    codes = np.unique(cities["country_code"].to_numpy(dtype=str), return_inverse=True)[1]
    coo = binary.tocoo()
    distinct = sp.csr_matrix((np.ones(coo.nnz), (coo.row, codes[coo.col])),
                             shape=(len(cities), codes.max() + 1))
    distinct.sum_duplicates()
    partner_countries = np.diff(distinct.indptr).astype(np.int64)
    features, names, groups = feature_matrix(cities, degree)
    table = cities.drop(columns=["tags"]).assign(
        tags=cities["tags"], is_candidate=(degree > 0) | (cities["population"] >= candidate_floor),
        degree=degree, partner_countries=partner_countries, partnership_count=degree)
    table = pd.concat([table, open_columns(cities)], axis=1)
    signal_names = SIGNAL_NAMES
    if admin1:
        regions = table["country_code"].astype(str) + "." + table["admin1_code"].astype(str)
        table["admin1_index"] = pd.factorize(regions)[0].astype(np.int64)
        signal_names = (*SIGNAL_NAMES, "admin1_pair")
    table.to_parquet(path / "cities.parquet", index=False)
    user, item, user_bias, item_bias = embeddings(cities, seed)
    np.save(path / "user_embeddings.npy", user)
    np.save(path / "item_embeddings.npy", item)
    np.save(path / "user_biases.npy", user_bias)
    np.save(path / "item_biases.npy", item_bias)
    sp.save_npz(path / "graph.npz", graph)
    sp.save_npz(path / "geo.npz", geo_matrix(cities))
    sp.save_npz(path / "features.npz", features)
    levels = 1.0 - np.geomspace(1.0, 1e-4, 101)
    n = len(cities)
    np.save(path / "score_quantiles.npy", np.zeros((n, 101), dtype=np.float32))
    cold = tuple(s for s in signal_names if s not in ("adamic_adar", "partner_geo"))
    _write_json(path / "rerank.json", {"warm": _rerank_part(signal_names, refine_depth),
                                       "cold": _rerank_part(cold, refine_depth)})
    _write_json(path / "schema.json", {"feature_names": names, "feature_groups": groups,
                                       "signals": list(signal_names),
                                       "quantile_levels": levels.tolist()})
    _write_json(path / "config.json", {"seed": seed, "embedding_dim": EMBEDDING_DIM,
                                       "candidate_min_population": candidate_floor})
    _write_json(path / "metrics.json", {"warm": {"model": {"recall@10": 0.3}},
                                        "cold": {"model": {"recall@10": 0.1}}})
    _write_json(path / "manifest.json", {"data": {"cities": n}, "files": {}})
    _write_quantiles(path, levels)
    return relist_hashes(path)


def relist_hashes(path: Path) -> Path:
    """Write every file's hash into the model's manifest, as training lists them (after a test
    changed a file on purpose, so that verified loads accept it)."""
    from matcher.store.model import file_digests

    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = file_digests(path)
    _write_json(path / "manifest.json", manifest)
    return path


def _write_quantiles(path: Path, levels: np.ndarray, exact_rows: int = 512) -> None:
    """Each city's score quantiles over all candidates, from the model's own scores.

    Large synthetic models compute them exactly for the named cities and `exact_rows` random
    synthetic ones; the other synthetic cities get their mean curve (speed tests only).
    """
    from matcher.store.model import Model

    model = Model.load(path)
    n = model.n_cities
    named = np.flatnonzero(model.geonameids < 20_000_000)
    synthetic = np.flatnonzero(model.geonameids >= 20_000_000)
    sampled = np.random.default_rng(0).permutation(synthetic)[:exact_rows]
    exact = np.concatenate([named, np.sort(sampled)]).astype(np.int64)
    out = np.empty((n, len(levels)), dtype=np.float32)
    for start in range(0, len(exact), 256):
        rows = exact[start:start + 256]
        scores = model.scores_batch(rows)
        scores = np.where(np.isfinite(scores), scores, np.nan)
        out[rows] = np.nanquantile(scores, levels, axis=1).T
    rest = np.setdiff1d(synthetic, sampled)
    if len(rest):
        out[rest] = out[sampled].mean(axis=0)
    np.save(path / "score_quantiles.npy", out)


def random_arrays(seed: int, n: int = 30) -> ScoringArrays:
    """Random scoring arrays of `n` cities: a sparse graph and neighbour kernel, four countries
    with nested regions, a re-ranker over every signal (the scoring tests' small model)."""
    rng = np.random.default_rng(seed)
    upper = sp.random(n, n, density=0.08, random_state=seed, format="csr")
    graph = sp.csr_matrix(((upper + upper.T) > 0).astype(float))
    graph.setdiag(0)
    graph.eliminate_zeros()
    geo = sp.random(n, n, density=0.1, random_state=seed + 1, format="csr")
    geo = sp.csr_matrix(geo + geo.T)
    geo.setdiag(0)
    geo.eliminate_zeros()
    rerank = {kind: {"signals": list(SIGNALS), "mean": rng.normal(size=len(SIGNALS)).tolist(),
                     "scale": (1 + rng.random(len(SIGNALS))).tolist(),
                     "coef": rng.normal(size=len(SIGNALS)).tolist(), "intercept": -1.0}
              for kind in ("warm", "cold")}
    candidate = rng.random(n) < 0.8
    country_index = rng.integers(0, 4, n)
    # first-level regions nested in the countries (three per country at most)
    admin1 = np.unique(country_index * 3 + rng.integers(0, 3, n), return_inverse=True)[1]
    return ScoringArrays(
        user_embeddings=rng.normal(size=(n, 3)).astype(np.float32),
        item_embeddings=rng.normal(size=(n, 3)).astype(np.float32),
        user_biases=rng.normal(size=n).astype(np.float32),
        item_biases=rng.normal(size=n).astype(np.float32), graph=graph, geo=geo,
        lat=rng.uniform(-60, 60, n), lon=rng.uniform(-180, 180, n),
        population=rng.integers(1000, 10**7, n), country_index=country_index,
        candidate_mask=candidate, is_capital=rng.random(n) < 0.2, rerank=rerank,
        admin1_index=admin1)
