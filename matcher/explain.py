"""Evidence and one-line reasons for ranked pairs, and the full breakdown of one pair.

A row's reasons: the facts the two cities share or complete (matcher.facts, with sources), who
connects them (the query's partners or neighbours twinning with or near the partner), and the
two countries' partnership history where it is not thin. The sub-scores are matcher.dimensions'
(each dimension measured on its own data); `twin explain` lists their values side by side
(matcher.breakdown).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcher import breakdown
from matcher.compatibility import compatibility, describe
from matcher.evidence import NEAR_KM, Evidence
from matcher.facts import Fact, said_once
from matcher.rank import combine_sides, haversine_km
from matcher.signals import haversine_km as great_circle_km

THIN_PRECEDENT = 5
"""Below this many partnerships between two countries the precedent is thin: said once for a
list (thin_precedent), not as a reason on every row (GB-KR has 2 in the snapshot)."""


def _foreign_counts(ev: Evidence, query: int, partners) -> tuple[dict[str, int], list[str]]:
    """Partnerships with the query's country of each foreign country among `partners` (in the
    order first met), and each partner's country code (None for a domestic one)."""
    own = str(ev.country_codes[query])
    counts: dict[str, int] = {}
    codes = []
    for partner in partners:
        code = str(ev.country_codes[partner])
        if code == own:
            codes.append(None)
            continue
        if code not in counts:
            counts[code] = ev.pair_count(query, partner)
        codes.append(code)
    return counts, codes


def thin_precedent(ev: Evidence, query: int, partners) -> list[tuple[str, int]]:
    """(country code, partnerships with the query's country) for each country among `partners`
    with fewer than THIN_PRECEDENT of them, in the order first met."""
    counts, _ = _foreign_counts(ev, query, partners)
    return [(code, count) for code, count in counts.items() if count < THIN_PRECEDENT]


def common_precedent(ev: Evidence, query: int, partners) -> list[tuple[str, int]]:
    """(country code, partnerships with the query's country) of each country among `partners`
    with a precedent worth citing (THIN_PRECEDENT or more), when such a clause would stand in at
    least half of the rows: a clause on nearly every row says nothing, so the list says it once
    above the rows instead (empty: the rows keep it)."""
    counts, codes = _foreign_counts(ev, query, partners)
    cited = [code for code in codes if code is not None and counts[code] >= THIN_PRECEDENT]
    if not codes or 2 * len(cited) < len(codes):
        return []
    return sorted({code: counts[code] for code in cited}.items(), key=lambda item: -item[1])


def _named(ev: Evidence, a: int, b: int) -> tuple[str, str]:
    """The two cities' names, each with its country code when they are the same name
    ('nearby Pembroke (GB) twins with Pembroke (US)', not 'Pembroke twins with Pembroke')."""
    first, second = ev.names[a], ev.names[b]
    if first != second:
        return first, second
    return f"{first} ({ev.country_codes[a]})", f"{second} ({ev.country_codes[b]})"


def _twins_line(ev: Evidence, kind: str, anchor: int, partner: int) -> str:
    """An anchor of the query twins with the partner itself."""
    anchor_name, partner_name = _named(ev, anchor, partner)
    return f"{'its partner' if kind == 'partner' else 'nearby'} {anchor_name} twins with " \
           f"{partner_name}"


def _near_line(ev: Evidence, kind: str, query: int, anchor: int, other: int, km: float,
               partner: int) -> str:
    """An anchor of the query twins with a city `km` from the partner."""
    lead = f"{ev.names[query]}'s partner" if kind == "partner" else "nearby"
    anchor_name, other_name = _named(ev, anchor, other)
    return f"{lead} {anchor_name} twins with {other_name}, {km:.0f} km from {ev.names[partner]}"


def collaborative_evidence(ev: Evidence, query: int, partner: int, limit: int = 3) -> list[str]:
    """Who connects the two: the query's anchors twinning with the partner or a city near it."""
    _, kind, anchor_of, others = ev.anchor_pairs(query)
    found = [_twins_line(ev, kind, a, partner)  # the anchors twinning with the partner
             for a in anchor_of[others == partner].tolist()]
    if len(found) < limit and len(others):
        keep = others != partner
        pair_anchors, pair_others = anchor_of[keep], others[keep]
        lat, lon = ev.radians
        km = great_circle_km(lat[partner], lon[partner], lat[pair_others], lon[pair_others])
        for index in np.argsort(km, kind="stable"):
            if km[index] > NEAR_KM or len(found) >= limit:
                break
            found.append(_near_line(ev, kind, query, int(pair_anchors[index]),
                                    int(pair_others[index]), km[index], partner))
    return found[:limit]


def nearest_evidence(ev: Evidence, query: int, partners: list[int]) -> list[list[str]]:
    """collaborative_evidence(ev, query, p, limit=1) for each of `partners`, their distances
    to the query's anchor pairs measured in one (partners, pairs) pass (the same values)."""
    _, kind, anchor_of, others = ev.anchor_pairs(query)
    picks = np.asarray(partners, dtype=np.int64)
    direct = others[None, :] == picks[:, None]
    found = [[] for _ in partners]
    for i in np.flatnonzero(direct.any(axis=1)).tolist():  # an anchor twins with the partner
        found[i].append(_twins_line(ev, kind, int(anchor_of[np.argmax(direct[i])]),
                                    partners[i]))
    rest = np.flatnonzero(~direct.any(axis=1))
    if len(rest) and len(others):
        lat, lon = ev.radians
        km = great_circle_km(lat[picks[rest]][:, None], lon[picks[rest]][:, None], lat[others],
                             lon[others])
        first = np.argsort(km, axis=1, kind="stable")[:, 0]
        for row, (i, index) in enumerate(zip(rest.tolist(), first.tolist(), strict=True)):
            distance = km[row, index]
            if not distance > NEAR_KM:  # as collaborative_evidence: NaN is not beyond
                found[i].append(_near_line(ev, kind, query, int(anchor_of[index]),
                                           int(others[index]), distance, partners[i]))
    return found


_LEADING = frozenset({"asked", "theme", "economy", "gateway"})  # facts before the history


def reasons(ev: Evidence, query: int, partner: int, facts: list[Fact],
            collaborative: list[str] | None = None, country_history: bool = True) -> list[str]:
    """The evidence for one recommended pair, strongest kinds first (joined into one line):
    shared and complementary ambitions, who connects them, the countries' history, then the
    other facts (matcher.facts). `collaborative`: its collaborative_evidence(limit=1), when
    already found; `country_history` False: the two countries' partnerships are said once for
    the whole list (common_precedent), only those between the two cities' regions stay."""
    out = [fact.text for fact in facts if fact.kind in _LEADING]
    out.extend(collaborative_evidence(ev, query, partner, limit=1) if collaborative is None
               else collaborative)
    count = ev.pair_count(query, partner)
    if count >= THIN_PRECEDENT:  # fewer is said once for the whole list (thin_precedent)
        plural = "partnership" if count == 1 else "partnerships"
        regional = ev.region_pair_count(query, partner)
        within = f", {regional} between these two regions" if regional else ""
        if country_history:
            out.append(f"{count} existing {ev.country_codes[query]}-{ev.country_codes[partner]} "
                       f"{plural}{within}")
        elif regional:
            out.append(f"{regional} existing "
                       f"{'partnership' if regional == 1 else 'partnerships'} between these two "
                       "regions")
    out.extend(fact.text for fact in facts if fact.kind not in _LEADING)
    if not out:
        out.append("recommended by the learned model from city features alone")
    return out


def list_reasons(matcher, query: int, rows: list[int], asked: tuple[str, ...] = (),
                 country_history: bool = True) -> tuple[list[str], list[list[str]]]:
    """(clauses said once above the list, each row's reasons) for a query's picks."""
    return pairs_reasons(matcher, [(query, j) for j in rows], asked, country_history)


def pairs_reasons(matcher, pairs: list[tuple[int, int]], asked: tuple[str, ...] = (),
                  country_history: bool = True) -> tuple[list[str], list[list[str]]]:
    """(clauses said once above the pairs, each pair's reasons) for a list or a programme's
    matching: the facts on most pairs go above them (matcher.facts.said_once), and a pair
    left with little of its own names the partner's notable facts."""
    ev = matcher.evidence
    common, facts = said_once([matcher.facts.pair(a, b, asked) for a, b in pairs])
    facts = [row if len(row) >= 2 else row + matcher.facts.profile(b, row)  # tell rows apart
             for (_, b), row in zip(pairs, facts, strict=True)]
    nearest: dict[tuple[int, int], list[str]] = {}
    for query in dict.fromkeys(a for a, _ in pairs):  # one pass over each query's anchors
        partners = [b for a, b in pairs if a == query]
        nearest.update(zip(((query, b) for b in partners),
                           nearest_evidence(ev, query, partners), strict=True))
    return common, [reasons(ev, a, b, row, nearest[(a, b)], country_history)
                    for (a, b), row in zip(pairs, facts, strict=True)]


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

    compatibility_mutual (0-100, matcher.compatibility) is symmetric: it reads both cities'
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
    subscores: dict  # dimension -> {"score", "values"}: matcher.breakdown
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
        where = (f", {pair['between_regions']} of them between these two regions"
                 if pair["between_regions"] else "")
        thin = " (thin precedent: the evidence comes from the cities)" \
            if count < THIN_PRECEDENT else ""
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
    from matcher import reverse

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
                      "thin": count < THIN_PRECEDENT},
        evidence=collaborative_evidence(ev, query, partner, limit=5),
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
