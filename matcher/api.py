"""The Python API: `Matcher.load()` then `recommend`, `recommend_many` and `explain`.

Ranking (see matcher.rank): side 1 is where j sits in the query's own score distribution, side 2
where the query sits in j's; the mutual score is their geometric mean (`mutual=False`: side 1
only). Compatibility 0-100 is 100 * model.probability(s*), where s* is the query's own score at
the pair's ranking percentile (one-sided: s* is simply s(q -> j)), so it is monotone in the rank
and reads as the re-ranker's probability that the pair would be partners.
No pandas, lightfm or sklearn on this path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from matcher import config, rank
from matcher import signals as scoring
from matcher.errors import CityNotFoundError, InputError
from matcher.explain import Evidence, reasons, subscores
from matcher.lookup import CityLookup, CityRecord

_UNSET = object()
_BATCH = 64


@dataclass(frozen=True)
class Match:
    """One recommended partner; `to_dict()` gives the JSON/CSV row."""

    rank: int
    geonameid: int
    name: str
    country_code: str
    admin1: str
    lat: float
    lon: float
    population: int
    distance_km: float
    score: float  # the ranking score, 0..1 (mutual: geometric mean of both percentiles)
    compatibility: float  # 0-100
    performance: float  # 0-100
    appetite: float  # 0-100
    synergies: float  # 0-100
    query_ranks_partner: float  # percentile of the partner in the query's list, 0..1
    partner_ranks_query: float  # percentile of the query in the partner's list, 0..1
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        """The reasons as one line."""
        return "; ".join(self.reasons)

    def to_dict(self) -> dict:
        row = asdict(self)
        row["reasons"] = list(self.reasons)
        return row


@dataclass(frozen=True)
class Recommendation:
    """Matches for one query city plus what the output prints around them."""

    query: CityRecord
    has_partnerships: bool
    mutual: bool
    per_country: int | None
    matches: tuple[Match, ...]
    existing_partners: tuple[CityRecord, ...]

    def to_dict(self) -> dict:
        return {
            "query": {**asdict(self.query), "has_partnerships": self.has_partnerships},
            "ranking": "mutual" if self.mutual else "one-sided",
            "per_country": self.per_country,
            "matches": [m.to_dict() for m in self.matches],
            "existing_partners": [asdict(p) for p in self.existing_partners],
        }


def default_model_dir() -> Path:
    """The promoted model (models/current); ModelNotFoundError when there is none."""
    from matcher.registry import current_model_dir

    return current_model_dir(config.MODELS_DIR)


class Matcher:
    """Recommends and explains twin-city partners with one loaded model."""

    def __init__(self, model) -> None:
        self.model = model
        self.lookup = CityLookup(
            geonameids=model.geonameids,
            names=model.column("name"),
            ascii_names=_optional_column(model, "asciiname"),
            alternate_names=lambda: _optional_column(model, "alternatenames"),  # read if needed
            country_codes=model.column("country_code"),
            admin1_codes=_optional_column(model, "admin1_code"),
            populations=model.column("population"),
            country_names=_country_names(model),
        )
        self.evidence = Evidence.from_model(model)
        codes, first = np.unique(self.evidence.country_codes, return_index=True)
        self._country_id = {str(c): int(self.evidence.country_ids[i])
                            for c, i in zip(codes, first, strict=True)}

    @classmethod
    def load(cls, path: Path | str | None = None) -> Matcher:
        """Load a model directory (default: the promoted model, models/current)."""
        from matcher.model import Model

        return cls(Model.load(Path(path) if path is not None else default_model_dir()))

    # ------------------------------------------------------------------ inputs
    def resolve(self, city: str | int) -> int:
        """Model row of a city given as name, 'Name, CC', 'geonames:ID' or int geonameid."""
        return self.lookup.resolve(city)

    def make_filters(self, k: int = rank.TOP_K_DEFAULT, countries: Iterable[str] = (),
                     exclude_countries: Iterable[str] = (), include_domestic: bool = False,
                     min_population: int | None = None, max_population: int | None = None,
                     max_km: float | None = None, per_country: object = _UNSET,
                     mutual: bool | None = None, cli_names: bool = False) -> rank.Filters:
        """Validate keyword filters (countries by ISO code or name) into rank.Filters."""
        if isinstance(countries, str) or isinstance(exclude_countries, str):
            raise InputError("countries / exclude_countries: give a list, e.g. ['GB']")
        include_name = "--country" if cli_names else "countries"
        exclude_name = "--exclude-country" if cli_names else "exclude_countries"
        return rank.Filters(
            k=k,
            countries=tuple(self.lookup.resolve_country(c, include_name) for c in countries),
            exclude_countries=tuple(self.lookup.resolve_country(c, exclude_name)
                                    for c in exclude_countries),
            include_domestic=include_domestic, min_population=min_population,
            max_population=max_population, max_km=max_km,
            per_country=rank.PER_COUNTRY_DEFAULT if per_country is _UNSET else per_country,
            mutual=rank.MUTUAL_DEFAULT if mutual is None else bool(mutual),
        )

    # ------------------------------------------------------------------ ranking
    def recommend(self, city: str | int, k: int = rank.TOP_K_DEFAULT, **filters) -> list[Match]:
        """The top-k partners for one city (filters as keyword arguments, named like the CLI)."""
        return list(self.recommendation(city, self.make_filters(k, **filters)).matches)

    def recommend_many(self, cities: Sequence[str | int], k: int = rank.TOP_K_DEFAULT,
                       **filters) -> dict:
        """recommend() for many cities at once (batched scoring); keys are the inputs."""
        spec = self.make_filters(k, **filters)
        rows = [self.resolve(city) for city in cities]
        out: dict = {}
        for start in range(0, len(rows), _BATCH):
            chunk = rows[start:start + _BATCH]
            for city, result in zip(cities[start:start + _BATCH],
                                    self._rank_rows(np.asarray(chunk), spec), strict=True):
                out[city] = list(result.matches)
        return out

    def recommendation(self, city: str | int,
                       filters: rank.Filters | None = None) -> Recommendation:
        """Matches plus the query's record and existing partners (what the CLI prints)."""
        spec = filters if filters is not None else self.make_filters()
        return self._rank_rows(np.array([self.resolve(city)]), spec)[0]

    def _scored_rows(self, rows: np.ndarray):
        """(query row, its scores, its signal rows) for a batch scored together."""
        arrays = self.model.arrays
        signal_rows = scoring.signal_matrices(arrays, rows)
        scores = scoring.score_matrix(arrays, rows, signal_rows)
        for i, query in enumerate(rows):
            yield int(query), scores[i], {name: values[i] for name, values in signal_rows.items()}

    def _rank_rows(self, rows: np.ndarray, spec: rank.Filters) -> list[Recommendation]:
        """Score a batch of query rows together, then filter and rank each."""
        return [self._rank_one(query, scores, signal_row, spec)
                for query, scores, signal_row in self._scored_rows(rows)]

    def _country_ids(self, codes: tuple[str, ...]) -> np.ndarray:
        return np.array([self._country_id[c] for c in codes], dtype=np.int64)

    def top_rows(self, rows: np.ndarray, spec: rank.Filters) -> list[np.ndarray]:
        """Only the ranked rows for each query (no reasons): what evaluation of policies needs."""
        return [self._pick(query, scores, signal_row, spec)[0]
                for query, scores, signal_row in self._scored_rows(rows)]

    def _pick(self, query: int, scores: np.ndarray, signal_row: dict[str, np.ndarray],
              spec: rank.Filters) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(picks, ranking, forward, reverse) for one query under the filters."""
        model, ev = self.model, self.evidence
        levels, quantiles = model.quantile_levels, model.quantiles[query]
        mask = rank.eligible(
            query, scores, ev.partners(query), ev.country_ids, ev.populations,
            np.expm1(signal_row["log_distance"]), spec,
            self._country_ids(spec.countries) if spec.countries else None,
            self._country_ids(spec.exclude_countries),
        )
        forward = rank.percentile_in_row(quantiles, levels, scores)
        if spec.mutual:
            ranking, reverse, picks = self._mutual_top_k(forward, query, signal_row, mask, spec)
        else:
            ranking, reverse = forward, np.zeros_like(forward)
            picks = rank.top_k(ranking, mask, spec.k, ev.country_ids, spec.cap)
            reverse[picks] = model.percentile_of(
                picks, model.reverse_scores(query, among=picks, forward=signal_row))
        return picks, ranking, forward, reverse

    def _rank_one(self, query: int, scores: np.ndarray, signal_row: dict,
                  spec: rank.Filters) -> Recommendation:
        model, ev = self.model, self.evidence
        levels, quantiles = model.quantile_levels, model.quantiles[query]
        distances = np.expm1(signal_row["log_distance"])
        partners = ev.partners(query)
        picks, ranking, forward, reverse = self._pick(query, scores, signal_row, spec)
        if spec.mutual:
            probability = model.probability(np.interp(ranking[picks], levels, quantiles))
        else:
            probability = model.probability(scores[picks])
        subs = subscores(ev, query, picks, signal_row["lightfm"], signal_row["geo_cf"],
                         reverse[picks])
        matches = tuple(
            Match(
                rank=position + 1, geonameid=int(model.geonameids[j]), name=ev.names[j],
                country_code=str(ev.country_codes[j]), admin1=self.lookup.admin1[j],
                lat=float(ev.lat[j]), lon=float(ev.lon[j]), population=int(ev.populations[j]),
                distance_km=round(float(distances[j]), 1),
                score=round(float(ranking[j]), 6),
                compatibility=round(100 * float(probability[position]), 1),
                performance=round(float(subs["performance"][position]), 1),
                appetite=round(float(subs["appetite"][position]), 1),
                synergies=round(float(subs["synergies"][position]), 1),
                query_ranks_partner=round(float(forward[j]), 6),
                partner_ranks_query=round(float(reverse[j]), 6),
                reasons=tuple(reasons(ev, query, int(j))),
            )
            for position, j in enumerate(picks.tolist())
        )
        order = sorted(partners.tolist(), key=lambda r: (-ev.populations[r], r))
        return Recommendation(
            query=self.lookup.record(query), has_partnerships=bool(len(partners)),
            mutual=spec.mutual, per_country=spec.cap, matches=matches,
            existing_partners=tuple(self.lookup.record(r) for r in order),
        )

    def _mutual_top_k(self, forward: np.ndarray, query: int, signal_row: dict[str, np.ndarray],
                      mask: np.ndarray,
                      spec: rank.Filters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact mutual top-k, computing the reverse percentile only for a shortlist.

        The mutual score sqrt(f * r) is at most sqrt(f), so once the k picks from the shortlist
        (the cities with the best forward percentile f) all beat sqrt(best f left outside), no
        city outside can enter and the answer equals ranking every eligible city.
        """
        reverse = np.zeros_like(forward)
        ranking = np.zeros_like(forward)
        available = int(np.count_nonzero(mask))
        size = min(available, max(8 * spec.k, 128))
        masked_forward = np.where(mask, forward, -np.inf)
        done = np.zeros_like(mask)
        while True:
            if size >= available:
                shortlist = mask
            else:
                threshold = np.partition(masked_forward, masked_forward.size - size)[
                    masked_forward.size - size]
                shortlist = mask & (masked_forward >= threshold)
            rows = np.flatnonzero(shortlist & ~done)  # only the rows new to the shortlist
            reverse[rows] = self.model.percentile_of(
                rows, self.model.reverse_scores(query, among=rows, forward=signal_row))
            ranking[rows] = rank.combine_sides(forward[rows], reverse[rows], True)
            done |= shortlist
            picks = rank.top_k(ranking, shortlist, spec.k, self.evidence.country_ids, spec.cap)
            outside = mask & ~shortlist
            if not outside.any():
                return ranking, reverse, picks
            bound = np.sqrt(max(float(masked_forward[outside].max()), 0.0))
            if len(picks) == spec.k and ranking[picks].min() > bound:
                return ranking, reverse, picks
            size = min(available, size * 4)

    # ------------------------------------------------------------------ explaining
    def explain(self, city: str | int, partner: str | int):
        """The full breakdown for one pair (a matcher.explain.PairExplanation)."""
        from matcher.explain import explain_pair

        query, other = self.resolve(city), self.resolve(partner)
        if query == other:
            raise InputError(f"explain: {city!r} and {partner!r} are the same city")
        return explain_pair(self, query, other)


def _optional_column(model, name: str) -> list:
    if name in model.table.column_names:
        return model.column(name).tolist()
    return [""] * model.n_cities


def _country_names(model) -> dict[str, str]:
    if "country_name" not in model.table.column_names:
        return {}
    codes, first = np.unique(model.column("country_code").astype(str), return_index=True)
    names = model.column("country_name")[first]
    return {str(c): str(n) for c, n in zip(codes, names, strict=True) if n is not None}


__all__ = ["CityNotFoundError", "Match", "Matcher", "Recommendation", "default_model_dir"]
