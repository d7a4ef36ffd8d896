"""The full breakdown of one pair, `twin explain A B`: compatibility both ways, where each
city ranks the other, the three dimensions side by side (matcher.explained.breakdown), the
countries'
history and who connects the two (matcher.explained.explain)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcher.explained import breakdown, explain
from matcher.explained.evidence import Evidence
from matcher.places.regions import between_regions
from matcher.ranking.compatibility import compatibility, describe
from matcher.ranking.rank import combine_sides, haversine_km


def country_pair_examples(ev: Evidence, a: int, b: int, limit: int = 5) -> list[str]:
    """Up to `limit` partnerships between the two cities' countries, biggest cities first."""
    ca, cb = ev.country_ids[a], ev.country_ids[b]
    rows, cols = ev.graph.row_of_entry, ev.graph.indices
    upper = rows < cols if ca == cb else rows <= cols  # each partnership once (sp.triu)
    rows, cols = rows[upper], cols[upper]
    cross = ((ev.country_ids[rows] == ca) & (ev.country_ids[cols] == cb)) | (
        (ev.country_ids[rows] == cb) & (ev.country_ids[cols] == ca))
    rows, cols = rows[cross], cols[cross]
    order = np.argsort(-(ev.populations[rows] + ev.populations[cols]), kind="stable")[:limit]
    return [f"{ev.names[r]} ({ev.country_codes[r]}) - {ev.names[c]} ({ev.country_codes[c]})"
            for r, c in zip(rows[order], cols[order], strict=True)]


@dataclass(frozen=True)
class PairExplanation:
    """Everything `twin explain CITY PARTNER` shows; to_dict() for --json.

    compatibility_mutual (0-100, matcher.ranking.compatibility) is symmetric: it reads both cities'
    own final scores (each one's list as `twin with` ranks it), so explain A B equals B A.
    `probability` is the re-ranker's calibrated chance of a listed partnership (both sides'
    mean)."""

    query: dict
    partner: dict
    distance_km: float
    already_partners: bool
    query_has_partnerships: bool
    compatibility_mutual: float
    compatibility_one_sided: float
    query_ranks_partner: dict  # percentile, position, out_of
    partner_ranks_query: dict
    subscores: dict  # dimension -> {"score", "values"}: matcher.explained.breakdown
    country_pair: dict  # count, between_regions (admin1), examples, thin
    evidence: list
    signals: dict  # name -> {"value": v, "contribution": c} for the re-ranker in use
    stage_two: dict | None = None  # depth, stage_one_position, position (None: no stage two)
    probability: float = 0.0
    list_position: dict | None = None  # position, out_of in the query's mutual list (no cap)
    as_if_candidate: list = field(default_factory=list)  # cities no list holds: read as if one

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}

    def render(self, verbose: bool = False) -> str:
        """Plain-text breakdown for the terminal; `verbose` adds the shared features and the
        re-ranker's signals."""
        q, p = self.query, self.partner
        lines = [f"{q['name']}, {q['country_code']} and {p['name']}, {p['country_code']} "
                 f"({self.distance_km:,.0f} km apart)"]
        if self.already_partners:
            lines.append("  they are already partners")
        if q["country_code"] == p["country_code"]:
            lines.append("  same country: `twin with` leaves domestic partners out unless "
                         "--include-domestic (the ranks below count them)")
        if not self.query_has_partnerships:
            lines.append(f"  {q['name']} has no recorded partnerships: "
                         "scored from its features and neighbours alone")
        for name in self.as_if_candidate:
            lines.append(f"  {name} is not among the cities the model recommends, so no list "
                         "holds it: its side below is read as if it were one (`twin with` ranks "
                         "its own list one-sided)")
        lines.append(f"compatibility {self.compatibility_mutual:.1f} of 100 "
                     f"({describe(self.compatibility_mutual)} of both cities' lists; "
                     f"{q['name']}'s side alone {self.compatibility_one_sided:.1f}); "
                     f"partnership probability {100 * self.probability:.1f}%")
        for side, owner, other in ((self.query_ranks_partner, q, p),
                                   (self.partner_ranks_query, p, q)):
            lines.append(f"  {owner['name']} ranks {other['name']} #{side['position']:,} of its "
                         f"{side['out_of']:,} candidates (better than "
                         f"{100 * side['percentile']:.2f}% of them)")
        if self.list_position is not None:
            lines.append("  " + _list_position_line(self))
        lines.extend(breakdown.render(self.subscores, q["name"], p["name"]))
        pair = self.country_pair
        count = pair["count"]
        plural = "partnership" if count == 1 else "partnerships"
        regions = between_regions(q["country_code"], q.get("admin1", ""), p["country_code"],
                                  p.get("admin1", ""))
        where = (f", {pair['between_regions']} of them {regions}" if pair["between_regions"]
                 else "")
        thin = " (thin precedent: the evidence comes from the cities)" \
            if count < explain.THIN_PRECEDENT else ""
        lines.append(f"{q['country_code']}-{p['country_code']}: {count} existing {plural}"
                     f"{where}{thin}")
        lines.extend(f"  {example}" for example in pair["examples"])
        lines.append("who connects them:")
        lines.extend(f"  {e}" for e in self.evidence or ["no partner or neighbour of "
                                                          f"{q['name']} twins near {p['name']}"])
        if self.stage_two is not None:
            two = self.stage_two
            where = (f"among {q['name']}'s best {two['depth']} by the re-ranker "
                     f"(#{two['stage_one_position']:,}); stage two puts it at #{two['position']:,}"
                     if two["stage_one_position"] <= two["depth"] else
                     f"outside {q['name']}'s best {two['depth']} by the re-ranker "
                     f"(#{two['stage_one_position']:,}): stage two leaves its place")
            lines.append(f"stage two: {where}")
        if verbose:
            lines.append("re-ranker signals (value, contribution to the score):")
            lines.extend(f"  {name:<20} {v['value']:9.3f} {v['contribution']:+8.3f}"
                         for name, v in self.signals.items())
        else:
            lines.append("(--verbose: the re-ranker's signals behind the compatibility)")
        return "\n".join(lines)


def _list_position_line(explanation: PairExplanation) -> str:
    """Where the partner falls in the query's mutual list, and why that is not its own rank."""
    q, p = explanation.query, explanation.partner
    at = explanation.list_position
    own, theirs = explanation.query_ranks_partner, explanation.partner_ranks_query
    one_sided = q["name"] in explanation.as_if_candidate
    kind = "one-sided" if one_sided else "mutual"
    line = (f"in {q['name']}'s {kind} list (`twin with`, before the per-country cap) "
            f"{p['name']} is #{at['position']:,} of {at['out_of']:,}")
    if at["position"] != own["position"] and not one_sided:
        line += (f": the list orders by both sides, and {p['name']} ranks {q['name']} "
                 f"#{theirs['position']:,} of its own")
        if q["country_code"] == p["country_code"] or explanation.already_partners:
            line += "; domestic cities and existing partners are left out of it"
    return line


def _rank_position(scores: np.ndarray, excluded: np.ndarray, target: int,
                   value: float | None = None) -> dict:
    """1-based position of `target` among the finite scores, the `excluded` rows left out
    (`value`: its score when the row does not hold it, for a city that is not a candidate)."""
    valid = np.isfinite(scores)
    valid[excluded] = False
    value = scores[target] if value is None else value
    return {"position": int(np.count_nonzero(valid & (scores > value))) + 1,
            "out_of": int(np.count_nonzero(valid | (np.arange(len(scores)) == target)))}


def _score_of(matcher, row: int, other: int, scores: np.ndarray) -> float:
    """`row`'s final score for `other`: from its list, or, when `other` is not a candidate
    (its list holds no such city), s(row -> other) as if `other` were one."""
    if matcher.model.arrays.candidate_mask[other]:
        return float(scores[other])
    from matcher.scoring import reverse

    return float(reverse.reverse_scores(matcher.model.arrays, other, np.array([row]),
                                        as_candidate=True)[0])


def _final_scores(matcher, row: int) -> np.ndarray:
    """The row's final scores over every city (stage two included), as its list ranks them."""
    return next(matcher._scored_rows(np.array([row])))[1]


def _list_position(matcher, query: int, partner: int, forward_scores: np.ndarray) -> dict | None:
    """Position of the partner in the query's default mutual list (no domestic cities, no
    existing partners, no cap), the reverse side read as `twin with` reads it."""
    model, ev = matcher.model, matcher.evidence
    eligible = np.isfinite(forward_scores)
    eligible[ev.partners(query)] = False
    eligible &= ev.country_ids != ev.country_ids[query]
    if not eligible[partner]:
        return None
    rows = np.flatnonzero(eligible)
    forward = model.percentile_of(np.full(len(rows), query), forward_scores[rows])
    held = bool(model.arrays.candidate_mask[query])  # else its list is one-sided (twin with)
    mutual = combine_sides(forward, matcher._reverse(query, rows), held)
    at = int(np.searchsorted(rows, partner))
    return {"position": int(np.count_nonzero(mutual > mutual[at])) + 1, "out_of": len(rows)}


def explain_pair(matcher, query: int, partner: int,
                 asked: tuple[str, ...] = ()) -> PairExplanation:
    """The full breakdown for one pair (used by Matcher.explain); `asked`: the query's stated
    themes (`--theme`)."""
    model, ev, lookup = matcher.model, matcher.evidence, matcher.lookup
    levels = model.quantile_levels
    vectors = model.signals(query)
    forward_scores = _final_scores(matcher, query)
    backward_scores = _final_scores(matcher, partner)
    # A city that is not a candidate is in no list: its side is read as if it were one
    as_if = [row for row in (query, partner) if not model.arrays.candidate_mask[row]]
    forward_value = _score_of(matcher, query, partner, forward_scores)
    backward_value = _score_of(matcher, partner, query, backward_scores)
    forward = float(model.percentile_of(np.array([query]), np.array([forward_value]))[0])
    reverse = float(model.percentile_of(np.array([partner]), np.array([backward_value]))[0])
    mutual = float(combine_sides(np.array([forward]), np.array([reverse]), True)[0])
    probability = np.mean([model.probability(np.interp([mutual], levels, model.quantiles[row]))[0]
                           for row in (query, partner)])
    part = model.rerank["warm" if ev.degree[query] > 0 else "cold"]
    signal_table = {}
    for name, mean, scale, coef in zip(part["signals"], part["mean"], part["scale"],
                                       part["coef"], strict=True):
        value = float(vectors[name][partner])
        signal_table[name] = {"value": value, "contribution": float(coef * (value - mean) / scale)}
    count = ev.pair_count(query, partner)
    return PairExplanation(
        query=lookup.record(query).__dict__, partner=lookup.record(partner).__dict__,
        distance_km=float(haversine_km(ev.lat[query], ev.lon[query], ev.lat[partner:partner + 1],
                                       ev.lon[partner:partner + 1])[0]),
        already_partners=bool(partner in ev.partners(query)),
        query_has_partnerships=bool(ev.degree[query] > 0),
        compatibility_mutual=round(float(compatibility(mutual)), 1),
        compatibility_one_sided=round(float(compatibility(forward)), 1),
        query_ranks_partner={"percentile": forward, **_rank_position(
            forward_scores, ev.partners(query), partner, forward_value)},
        partner_ranks_query={"percentile": reverse, **_rank_position(
            backward_scores, ev.partners(partner), query, backward_value)},
        as_if_candidate=[ev.names[row] for row in as_if],
        subscores=breakdown.dimension_breakdown(matcher, query, partner, asked),
        country_pair={"count": count,
                      "between_regions": ev.region_pair_count(query, partner),
                      "examples": country_pair_examples(ev, query, partner),
                      "thin": count < explain.THIN_PRECEDENT},
        evidence=explain.collaborative_evidence(ev, query, partner, limit=5),
        signals=signal_table,
        stage_two=_stage_two(model, query, partner, forward_scores, ev.partners(query)),
        probability=round(float(probability), 6),
        list_position=_list_position(matcher, query, partner, forward_scores),
    )
def _stage_two(model, query: int, partner: int, final: np.ndarray,
               partners: np.ndarray) -> dict | None:
    """Where the re-ranker alone put the partner and where stage two put it (positions among
    the query's candidates, its partners left out), or None for a model without stage two."""
    refine = model.rerank["warm" if model.has_history(query) else "cold"].get("refine")
    if refine is None:
        return None
    stage_one = model.scores_batch(np.array([query]), np.arange(model.n_cities))[0]
    return {"depth": int(refine["depth"]),
            "stage_one_position": _rank_position(stage_one, partners, partner)["position"],
            "position": _rank_position(final, partners, partner)["position"]}
