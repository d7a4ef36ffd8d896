"""The built-in feature columns and how a feature is described (FeatureSpec): a leaf that the
feature table (training.data.features) and the indicator reader (training.data.indicators, which
refuses an indicator named like a built-in column) both read."""

from __future__ import annotations

from dataclasses import dataclass

from matcher.columns import Columns as C

GROUPS = ("performance", "appetite", "synergies", "context")
KINDS = ("numeric", "categorical", "tags", "binary")

POPULATION_BAND_EDGES = (10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000)
POPULATION_BAND_LABELS = (
    "<10k", "10k-50k", "50k-100k", "100k-250k", "250k-500k", "500k-1M", "1M-5M", ">=5M",
)  # a band includes its lower edge: 10_000 is "10k-50k"
UNKNOWN_BAND = "unknown"
GEO_CELL_DEGREES = 10

LOG10_POPULATION = "log10_population"
POPULATION_BAND = "population_band"
PARTNERSHIP_COUNT = "partnership_count"
PARTNERSHIP_WEIGHT = "partnership_weight"  # sum of the edges' training weights
PARTNER_COUNTRY_COUNT = "partner_country_count"  # distinct countries among partners (own too)
FOREIGN_PARTNER_COUNT = "foreign_partner_count"
FOREIGN_PARTNER_SHARE = "foreign_partner_share"
HAS_PARTNERSHIPS = "has_partnerships"
GEO_CELL = "geo_cell"


OPTIONAL_SPEC_KEYS = ("rule", "source", "level")  # written only when set (open-data features)


@dataclass(frozen=True)
class FeatureSpec:
    """One raw feature column: its name, the matching dimension it serves, and its kind;
    open-data features also say their rule ("airports within 50 km"), source and level
    ("city", "country", or "city|country": the city's own where joined, else its country's)."""

    name: str
    group: str
    kind: str
    rule: str = ""
    source: str = ""
    level: str = ""

    def to_dict(self) -> dict:
        entry = {"name": self.name, "group": self.group, "kind": self.kind}
        entry.update({key: getattr(self, key) for key in OPTIONAL_SPEC_KEYS if getattr(self, key)})
        return entry


BUILTIN_FEATURES = (
    FeatureSpec(C.POPULATION, "performance", "numeric"),
    FeatureSpec(LOG10_POPULATION, "performance", "numeric"),
    FeatureSpec(POPULATION_BAND, "performance", "categorical"),
    FeatureSpec(PARTNERSHIP_COUNT, "appetite", "numeric"),
    FeatureSpec(PARTNERSHIP_WEIGHT, "appetite", "numeric"),
    FeatureSpec(PARTNER_COUNTRY_COUNT, "appetite", "numeric"),
    FeatureSpec(FOREIGN_PARTNER_COUNT, "appetite", "numeric"),
    FeatureSpec(FOREIGN_PARTNER_SHARE, "appetite", "numeric"),
    FeatureSpec(HAS_PARTNERSHIPS, "appetite", "binary"),
    FeatureSpec(C.IS_CAPITAL, "appetite", "binary"),
    FeatureSpec(C.COUNTRY, "context", "categorical"),
    FeatureSpec(C.CONTINENT, "context", "categorical"),
    FeatureSpec(C.LANGUAGES, "context", "tags"),
    FeatureSpec(C.TIMEZONE, "context", "categorical"),
    FeatureSpec(GEO_CELL, "context", "categorical"),
    FeatureSpec(C.LAT, "context", "numeric"),
    FeatureSpec(C.LON, "context", "numeric"),
)
BUILTIN_FEATURE_NAMES = frozenset(spec.name for spec in BUILTIN_FEATURES)
