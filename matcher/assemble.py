"""A query's ranked picks as what users read: sub-scores, the weights' re-ranking, reasons, and
one `Match` per pick inside a `Recommendation` (the API ranks; this explains and shapes)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from matcher.explained import dimensions
from matcher.explained.explain import common_precedent, list_reasons, thin_precedent
from matcher.ranking import rank
from matcher.ranking.compatibility import compatibility
from matcher.results import Match, Recommendation


class Sides(NamedTuple):
    """A query's ranking score and both sides over every city (read at the picks)."""

    ranking: np.ndarray
    forward: np.ndarray
    reverse: np.ndarray


def recommendation(matcher, query: int, picks: np.ndarray, probability: np.ndarray,
                   sides: Sides, spec: rank.Filters, asked: rank.Filters) -> Recommendation:
    """The Recommendation of `query`'s picks; `spec` ranked them (a shortlist when weighed),
    `asked` is what the user asked for (its k and cap)."""
    model, ev = matcher.model, matcher.evidence
    themes = dimensions.asked_themes(matcher.dimensions, query, spec.themes)
    subs = dimensions.subscores(matcher.dimensions, query, ev.reference(query), picks, themes)
    if spec.weights:  # re-rank the shortlist by what the user weighs, keep the best k
        order = dimensions.weighted_order(subs, compatibility(sides.ranking[picks]),
                                          spec.weights)[:asked.k]
        picks, probability = picks[order], probability[order]
        subs = {name: values[order] for name, values in subs.items()}
    rows = picks.tolist()  # Python numbers, each read once (the same values as float(x[j]))
    at = {name: values[picks].tolist() for name, values in (
        ("geonameid", model.geonameids), ("country_code", ev.country_codes), ("lat", ev.lat),
        ("lon", ev.lon), ("population", ev.populations), ("score", sides.ranking),
        ("forward", sides.forward), ("reverse", sides.reverse))}
    per_pick = {"distance": matcher.distances(query, picks), "probability": probability}
    per_pick = {name: np.asarray(values).tolist() for name, values in per_pick.items()}
    precedent = tuple(common_precedent(ev, query, rows))
    common, row_reasons = list_reasons(matcher, query, rows, spec.themes,
                                       country_history=not precedent)
    matches = tuple(
        Match(
            rank=position + 1, geonameid=int(at["geonameid"][position]), name=ev.names[j],
            country_code=str(at["country_code"][position]), admin1=matcher.lookup.admin1[j],
            lat=float(at["lat"][position]), lon=float(at["lon"][position]),
            population=int(at["population"][position]),
            distance_km=round(float(per_pick["distance"][position]), 1),
            score=round(float(at["score"][position]), 6),
            compatibility=round(float(compatibility(at["score"][position])), 1),
            probability=round(float(per_pick["probability"][position]), 6),
            query_ranks_partner=round(float(at["forward"][position]), 6),
            partner_ranks_query=round(float(at["reverse"][position]), 6),
            reasons=tuple(row_reasons[position]),
            **{name: dimensions.shown(subs[name][position]) for name in dimensions.DIMENSIONS},
        )
        for position, j in enumerate(rows)
    )
    partners = ev.partners(query)
    populations = ev.populations[partners].tolist()
    order = [r for _, r in sorted(zip((-p for p in populations), partners.tolist(),
                                      strict=True))]
    return Recommendation(
        query=matcher.lookup.record(query), has_partnerships=bool(len(partners)),
        mutual=spec.mutual, per_country=asked.cap, matches=matches,
        existing_partners=tuple(matcher.lookup.record(r) for r in order),
        thin_precedent=tuple(thin_precedent(ev, query, rows)),
        precedent=precedent,
        ranked_by_others=bool(model.arrays.candidate_mask[query]),
        said_once=tuple(common), themes=themes.names,
        themes_unmatched=themes.unmatched, weights=spec.weights,
    )
