"""Evidence and one-line reasons for ranked pairs (`twin explain`'s breakdown of one pair is
matcher.explained.explanation).

A row's reasons: the facts the two cities share or complete (matcher.explained.facts, with
sources), who connects them (the query's partners or neighbours twinning with or near the partner),
and the two countries' partnership history where it is not thin. The sub-scores are
matcher.explained.dimensions' (each dimension measured on its own data); `twin explain` lists their
values side by side (matcher.explained.breakdown).
"""

from __future__ import annotations

import numpy as np

from matcher.explained.evidence import NEAR_KM, Evidence
from matcher.explained.facts import Fact, said_once
from matcher.scoring.signals import haversine_km as great_circle_km

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
    other facts (matcher.explained.facts). `collaborative`: its collaborative_evidence(limit=1),
    when already found; `country_history` False: the two countries' partnerships are said once for
    the whole list (common_precedent), only those between the two cities' regions stay."""
    out = [fact.text for fact in facts if fact.kind in _LEADING]
    out.extend(collaborative_evidence(ev, query, partner, limit=1) if collaborative is None
               else collaborative)
    count = ev.pair_count(query, partner)
    if count >= THIN_PRECEDENT:  # fewer is said once for the whole list (thin_precedent)
        plural = "partnership" if count == 1 else "partnerships"
        regional = ev.region_pair_count(query, partner)
        where = ev.regions_text(query, partner) if regional else ""
        within = f", {regional} {where}" if regional else ""
        if country_history:
            out.append(f"{count} existing {ev.country_codes[query]}-{ev.country_codes[partner]} "
                       f"{plural}{within}")
        elif regional:
            out.append(f"{regional} existing "
                       f"{'partnership' if regional == 1 else 'partnerships'} {where}")
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
    matching: the facts on most pairs go above them (matcher.explained.facts.said_once), and a pair
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
