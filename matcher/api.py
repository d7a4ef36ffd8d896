"""The Python API: `Matcher.load()` then `recommend`, `recommend_many` and `explain`.

Ranking (see matcher.ranking.rank): side 1 is where j sits in the query's own score distribution,
side 2 where the query sits in j's; the mutual score is their geometric mean (`mutual=False`: side 1
only). Compatibility 0-100 is matcher.ranking.compatibility's log reading of that ranking score, so
it falls with the rank and reads alike for every city; `probability` is model.probability(s*), where
s* is the query's own score at the pair's ranking percentile (one-sided: s(q -> j)), the
re-ranker's calibrated chance that the pair is a listed partnership.
No pandas, lightfm or sklearn on this path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from matcher import assemble, config
from matcher.assemble import Sides
from matcher.errors import CityNotFoundError, CityOutsideIndexError, InputError
from matcher.explained import dimensions
from matcher.explained.evidence import Evidence
from matcher.explained.facts import CityFacts
from matcher.places.lookup import CityLookup
from matcher.ranking import rank
from matcher.results import Match, Recommendation
from matcher.scoring import refine, reverse
from matcher.scoring import scorer as scoring_fast
from matcher.scoring.prepared import prepared

_UNSET = object()
OUTSIDE_KEPT = 8  # places outside the index whose extended models a Matcher keeps
_CLI_FLAGS = {"min_population": "--min-population", "max_population": "--max-population",
              "max_km": "--max-km", "per_country": "--per-country", "weigh:": "--weigh:"}


def default_model_dir() -> Path:
    """The promoted model (models/current); ModelNotFoundError when there is none."""
    from matcher.store.registry import current_model_dir

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
        from matcher.places.gazetteer import LazyGazetteer  # read when a query misses the index

        self.lookup.gazetteer = LazyGazetteer(index_of=self.lookup.find_id)
        self.evidence = Evidence.from_model(model)
        self._outside: dict[int, tuple[Matcher, int, int]] = {}  # see answering()
        codes, first = np.unique(self.evidence.country_codes, return_index=True)
        self._country_id = {str(c): int(self.evidence.country_ids[i])
                            for c, i in zip(codes, first, strict=True)}

    @cached_property
    def dimensions(self) -> dimensions.DimensionData:
        """Every city's values on the three dimensions (explained.dimensions), built once."""
        ev = self.evidence
        return dimensions.DimensionData.from_model(self.model, ev.candidate, ev.reference_rows)

    @cached_property
    def facts(self) -> CityFacts:
        """The values reasons cite (matcher.explained.facts)."""
        ev = self.evidence
        return CityFacts(self.model, ev.names, ev.country_codes, self.dimensions)

    @classmethod
    def load(cls, path: Path | str | None = None, verify: bool = False) -> Matcher:
        """Load a model directory (default: the promoted model, models/current); `verify`:
        check its files' manifest hashes too (for long-running processes: Model.load)."""
        from matcher.store.model import Model

        path = Path(path) if path is not None else default_model_dir()
        return cls(Model.load(path, verify=verify))

    # ------------------------------------------------------------------ inputs
    def resolve(self, city: str | int) -> int:
        """Model row of a city given as name, 'Name, CC', 'geonames:ID' or int geonameid."""
        try:
            return self.lookup.resolve(city)
        except CityOutsideIndexError as error:  # name what can be asked about meanwhile
            from matcher.places.gazetteer import with_nearest

            raise with_nearest(error, self.evidence) from None

    def make_filters(self, k: int = rank.TOP_K_DEFAULT, countries: Iterable[str] = (),
                     exclude_countries: Iterable[str] = (), include_domestic: bool = False,
                     min_population: int | None = None, max_population: int | None = None,
                     max_km: float | None = None, per_country: object = _UNSET,
                     mutual: bool | None = None, themes: Iterable[str] = (),
                     weigh: str | dict | None = None, cli_names: bool = False) -> rank.Filters:
        """Validate keyword filters (countries by ISO code or name) into rank.Filters;
        `themes`: the query's stated ambitions; `weigh`: 'performance=1,synergies=2' or a dict
        (matcher.explained.dimensions.parse_weights)."""
        asked = dimensions.theme_list(themes)
        if isinstance(countries, str) or isinstance(exclude_countries, str):
            raise InputError("countries / exclude_countries: give a list, e.g. ['GB']")
        for name, flag in (("mutual", mutual), ("include_domestic", include_domestic)):
            if not isinstance(flag, bool | np.bool_ | None):  # bool("no") would be True
                raise InputError(f"{name}: give True or False, got {flag!r}")
        include_name = "--country" if cli_names else "countries"
        exclude_name = "--exclude-country" if cli_names else "exclude_countries"
        try:
            included = tuple(self.lookup.resolve_country(c, include_name) for c in countries)
            excluded = tuple(self.lookup.resolve_country(c, exclude_name)
                             for c in exclude_countries)
            if both := sorted(set(included) & set(excluded)):
                raise InputError(f"{include_name} and {exclude_name} both name "
                                 f"{', '.join(both)}: no city could pass; drop one of them")
            return rank.Filters(
                k=k,
                countries=included,
                exclude_countries=excluded,
                include_domestic=include_domestic, min_population=min_population,
                max_population=max_population, max_km=max_km,
                per_country=rank.PER_COUNTRY_DEFAULT if per_country is _UNSET else per_country,
                mutual=rank.MUTUAL_DEFAULT if mutual is None else bool(mutual),
                themes=asked,
                weights=dimensions.parse_weights(weigh),
            )
        except InputError as error:
            if not cli_names:
                raise
            message = str(error)  # the same rule, in the flags the CLI user typed
            for name, flag in _CLI_FLAGS.items():
                message = message.replace(name, flag)
            raise InputError(message) from None

    # ------------------------------------------------------------------ ranking
    def recommend(self, city: str | int, k: int = rank.TOP_K_DEFAULT, **filters) -> list[Match]:
        """The top-k partners for one city (filters as keyword arguments, named like the CLI)."""
        return list(self.recommendation(city, self.make_filters(k, **filters)).matches)

    def recommend_many(self, cities: Sequence[str | int], k: int = rank.TOP_K_DEFAULT,
                       **filters) -> dict:
        """recommend() for many cities at once (batched scoring); keys are the inputs."""
        spec = self.make_filters(k, **filters)
        rows = np.array([self.resolve(city) for city in cities], dtype=np.int64)
        results = self._rank_rows(rows, spec)
        return {city: list(result.matches) for city, result in zip(cities, results, strict=True)}

    def recommendations(self, rows: np.ndarray, spec: rank.Filters,
                        block: int = 1024) -> list[Recommendation]:
        """recommendation() for many model rows (matches with reasons), batch-ranked a block
        of rows at a time: what `twin lists` writes."""
        rows = np.asarray(rows, dtype=np.int64)
        out: list[Recommendation] = []
        for start in range(0, len(rows), block):
            out += self._rank_rows(rows[start:start + block], spec)
        return out

    def recommendation(self, city: str | int,
                       filters: rank.Filters | None = None) -> Recommendation:
        """Matches plus the query's record and existing partners (what the CLI prints)."""
        spec = filters if filters is not None else self.make_filters()
        matcher, row, stand_in = self.answering(city)
        result = matcher._rank_rows(np.array([row]), spec)[0]
        if stand_in is None:
            return result
        return dataclasses.replace(result, stand_in=matcher.lookup.record(stand_in))

    def answering(self, city: str | int) -> tuple[Matcher, int, int | None]:
        """(matcher, row, stand-in row) that answer `city`: this matcher and the city's row, or
        for a gazetteer place outside the index a copy of the model with the place as one more
        city (matcher.places.outside; the last OUTSIDE_KEPT kept) and the index city whose LightFM
        view it borrows. The CityOutsideIndexError again when no index city shares its country."""
        try:
            return self, self.resolve(city), None
        except CityOutsideIndexError as error:
            place = error.place
            if place is None:
                raise
            if place.geonameid not in self._outside:
                from matcher.places.outside import extended_model

                extended = extended_model(self.model, place)
                if extended is None:
                    raise CityOutsideIndexError(
                        f"{place.label()} is a GeoNames place, but no city of its country is in "
                        "this model's index, so there is nothing to score it by",
                        place=place) from None
                model, extension = extended
                while len(self._outside) >= OUTSIDE_KEPT:
                    self._outside.pop(next(iter(self._outside)))
                self._outside[place.geonameid] = (Matcher(model), extension.row,
                                                  extension.stand_in)
            return self._outside[place.geonameid]

    def _scored_rows(self, rows: np.ndarray):
        """(query row, its scores over every city, -inf where it cannot be recommended)."""
        arrays = self.model.arrays
        candidates = prepared(arrays).candidates
        for query in rows.tolist():  # one at a time: the same floats however many are asked
            scores = np.full(arrays.n_cities, -np.inf)
            one = np.array([query])
            scores[candidates] = refine.refine_block(arrays, one,
                                                     scoring_fast.block_scores(arrays, one))[0]
            yield int(query), scores

    def _rank_rows(self, rows: np.ndarray, spec: rank.Filters) -> list[Recommendation]:
        """Rank query rows (the batch path when there are many), then explain each; with
        `weights` the model ranks a shortlist (spec.shortlist) that the weights re-order."""
        ranked = dataclasses.replace(spec, k=spec.shortlist)
        if len(rows) == 1:
            query, scores = next(self._scored_rows(rows))
            return [self._rank_one(query, scores, ranked, asked=spec)]
        return [self._rank_one(int(query), self._scores_at(int(query), chosen), ranked, chosen,
                               asked=spec)
                for query, chosen in zip(rows.tolist(), self.top_rows(rows, ranked), strict=True)]

    def _scores_at(self, query: int, rows: np.ndarray) -> np.ndarray:
        """The query's scores at `rows` only (-inf elsewhere): what explaining batch picks
        reads, without scoring every candidate again."""
        arrays = self.model.arrays
        if refine.part_for(arrays, query) is not None:  # stage two reads the whole row
            return next(self._scored_rows(np.array([query])))[1]
        scores = np.full(arrays.n_cities, -np.inf)
        if len(rows):
            scores[rows] = scoring_fast.block_scores(arrays, np.array([query]), rows)[0]
        return scores

    def _country_ids(self, codes: tuple[str, ...]) -> np.ndarray:
        return np.array([self._country_id[c] for c in codes], dtype=np.int64)

    def top_rows(self, rows: np.ndarray, spec: rank.Filters) -> list[np.ndarray]:
        """Only the ranked rows for each query (no reasons): the batch path for many cities."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) > 1:
            from matcher.ranking import batch  # threads: not imported for one query

            if batch.supported(spec):
                return batch.top_lists(self, rows, spec)
        return [self.pick(query, scores, spec)[0] for query, scores in self._scored_rows(rows)]

    def _reverse(self, query: int, among: np.ndarray, cache: dict | None = None,
                 as_candidate: bool = False) -> np.ndarray:
        """Percentile of `query` in each of `among`'s own score distributions (`as_candidate`:
        where it would sit if it were a candidate, for a query no list holds)."""
        if not self.model.arrays.candidate_mask[query] and not as_candidate:
            return np.zeros(len(among))  # nobody's list holds it (reverse_scores: all -inf)
        values = reverse.reverse_scores(self.model.arrays, query, among, cache=cache,
                                        as_candidate=as_candidate)
        return self.model.percentile_of(among, values.astype(np.float64))

    def distances(self, query: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Great-circle km from `query` to `rows` (every city when None)."""
        ev = self.evidence
        rows = slice(None) if rows is None else rows
        return rank.haversine_km(float(ev.lat[query]), float(ev.lon[query]), ev.lat[rows],
                                 ev.lon[rows])

    def pick(self, query: int, scores: np.ndarray, spec: rank.Filters,
             reverse_of=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(picks, ranking, forward, reverse) for one query under the filters, from its scores
        over every city (-inf where it cannot be recommended): the one-query ranking path.
        `reverse_of(rows, cache)` gives the reverse percentiles (default: `_reverse`; the batch
        reads them from the forward rows it keeps)."""
        if reverse_of is None:
            def reverse_of(rows, cache=None):
                return self._reverse(query, rows, cache)
        model, ev = self.model, self.evidence
        levels, quantiles = model.quantile_levels, model.quantiles[query]
        mask = rank.eligible(
            query, scores, ev.partners(query), ev.country_ids, ev.populations,
            self.distances(query) if spec.max_km is not None else None, spec,
            self._country_ids(spec.countries) if spec.countries else None,
            self._country_ids(spec.exclude_countries),
        )
        ranked_by = rank.QueryRanking(quantiles, levels, ev.country_ids,
                                      bool(model.arrays.candidate_mask[query]))
        return rank.pick(scores, mask, spec, ranked_by, reverse_of)

    def _rank_one(self, query: int, scores: np.ndarray, spec: rank.Filters,
                  chosen: np.ndarray | None = None,
                  asked: rank.Filters | None = None) -> Recommendation:
        """One query's picks with both sides and probability, explained (assemble); `spec`
        ranked them (a shortlist with weights), `asked` is what the user asked for (its k and
        cap; default `spec`)."""
        asked = spec if asked is None else asked
        model = self.model
        levels, quantiles = model.quantile_levels, model.quantiles[query]
        ranked_by_others = bool(model.arrays.candidate_mask[query])
        if spec.mutual and not ranked_by_others:
            # No city's list holds a query that is not a candidate, so its mutual order is its
            # own side's order (the same picks): say it is one-sided, and show where each
            # partner would place it if it were a candidate instead of a reverse side of 0.
            spec = dataclasses.replace(spec, mutual=False)
        if chosen is None:
            picks, ranking, forward, reverse = self.pick(query, scores, spec)
        else:  # ranked by the batch path: recompute both sides for the picks only
            picks, ranking = chosen, np.zeros_like(scores)
            forward, reverse = np.zeros_like(scores), np.zeros_like(scores)
            forward[picks] = rank.percentile_in_row(quantiles, levels, scores[picks])
            reverse[picks] = self._reverse(query, picks)
            ranking[picks] = rank.combine_sides(forward[picks], reverse[picks], spec.mutual)
        if not ranked_by_others:
            reverse[picks] = self._reverse(query, picks, as_candidate=True)
        if spec.mutual:
            probability = model.probability(np.interp(ranking[picks], levels, quantiles))
        else:
            probability = model.probability(scores[picks])
        return assemble.recommendation(self, query, picks, probability,
                                       Sides(ranking, forward, reverse), spec, asked)

    # ------------------------------------------------------------------ explaining
    def explain(self, city: str | int, partner: str | int, themes: Iterable[str] = ()):
        """The full breakdown for one pair (a matcher.explained.explanation.PairExplanation);
        `themes`: the first city's stated ambitions, as for recommend()."""
        from matcher.explained.explanation import explain_pair

        matcher, query, other = self.pair_rows(city, partner)
        if query == other:
            raise InputError(f"explain: {city!r} and {partner!r} are the same city")
        return explain_pair(matcher, query, other, dimensions.theme_list(themes))

    def pair_rows(self, city: str | int, partner: str | int) -> tuple[Matcher, int, int]:
        """(matcher, row, row) of two cities: this matcher, or for a place outside the index
        (either one) the matcher whose model holds it as one more city (`answering`)."""
        matcher, query, _ = self.answering(city)
        try:
            return matcher, query, matcher.resolve(partner)
        except CityOutsideIndexError:
            if matcher is not self:  # both outside the index: one model holds only one
                raise
            matcher, other, _ = self.answering(partner)
            return matcher, matcher.resolve(city), other


def _optional_column(model, name: str) -> list:
    if model.has_column(name):
        return model.column(name).tolist()
    return [""] * model.n_cities


def _country_names(model) -> dict[str, str]:
    if not model.has_column("country_name"):
        return {}
    codes, first = np.unique(model.column("country_code").astype(str), return_index=True)
    names = model.column("country_name")[first]
    return {str(c): str(n) for c, n in zip(codes, names, strict=True) if n}


__all__ = ["CityNotFoundError", "Match", "Matcher", "Recommendation", "default_model_dir"]
