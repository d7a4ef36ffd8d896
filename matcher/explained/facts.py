"""Reasons that cite facts: what two cities share or complete on each dimension, with the
data's source ("both seaports (World Port Index)", "GDP per head (PPP) $62k vs $61k (World
Bank, country level)"), and the rule that a clause on most rows of a list is said once above it.

The values come from the model's city index (the columns matcher.profile.CATALOGUE describes);
a model without them gives no such clauses, and a city without a value gives none for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from matcher.columns import LEVEL_CITY
from matcher.columns import OpenColumns as O
from matcher.explained.dimensions import (
    GATEWAY_THEMES,
    RELATED_THEMES,
    DimensionData,
    economy_complement,
    gateway,
)
from matcher.profile import AIR_HUB_MIN_INTL, SOURCES

SIMILAR_SIZE_RATIO = 2.0
SIMILAR_GDP_RATIO = 1.25  # GDP per head within 25%: "similar"
COMPLEMENT_CITED = 0.5  # economy_complement at or above this is cited
MAX_FACTS = 4  # dimension facts per row (the strongest kinds first)
MOST_ROWS = 0.5  # a clause on more than this share of a list's rows is said once above it
NEARLY_EVERY = 0.8  # a kind of clause (its texts differ) on this share of five or more rows
THEME_PHRASES = {
    "maritime": ("both seaports", "ports"),
    "logistics": ("both cargo ports, with container facilities or a large harbour", "ports"),
    "heritage": ("both near a UNESCO World Heritage site", "heritage"),
    "climate-action": ("both Covenant of Mayors signatories", "covenant"),
    "climate-2030": ("both signed the Covenant of Mayors 2030 target", "covenant"),
    "climate-neutral-2050": ("both committed to climate neutrality by 2050", "covenant"),
    "climate-adaptation": ("both signed the Mayors Adapt commitment", "covenant"),
    "government": ("both national capitals", "geonames"),
    "diplomacy": ("both host 10+ diplomatic missions", "missions"),
    "aviation-hub": (f"each has an airport with {AIR_HUB_MIN_INTL}+ international "
                     "destinations", "airports"),
}
_OWN_CLIMATE = {"climate-neutral-2050": "is committed to climate neutrality by 2050",
                "climate-2030": "signed the Covenant of Mayors 2030 target",
                "climate-action": "is a Covenant of Mayors signatory"}
"""A city's own climate commitment as a predicate ("Dundee signed ..."); a profile lists it
without its "is" ("Portsmouth: committed to ...")."""
_RANK = {"asked": 0, "theme": 1, "economy": 2, "gateway": 2, "growth": 3, "air": 4, "port": 4,
         "missions": 5, "size": 6, "gdp": 7, "profile": 8}


@dataclass(frozen=True)
class Fact:
    """One clause of a reason: its kind (ordering, list-level rules) and its text."""

    kind: str
    text: str
    topic: str = ""  # what it is about (a theme, "growth"): a partner's profile skips it


def _cite(key: str) -> str:
    return SOURCES[key].short


def short_number(value: float, money: bool = False) -> str:
    """395630 -> '396k', 8961989 -> '9.0M', 62009 (money) -> '$62k'; 0 or less (GeoNames'
    unknown population) -> 'unknown'."""
    if not value > 0:
        return "unknown"
    sign = "$" if money else ""
    if value >= 1_000_000:
        return f"{sign}{value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"{sign}{value / 1_000:.0f}k"
    return f"{sign}{value:.0f}"


class CityFacts:
    """The displayed values of every model city: the numbers the dimensions read
    (DimensionData.raw) and a few text columns, read from the city index once."""

    def __init__(self, model, names: list[str], codes: np.ndarray, data: DimensionData) -> None:
        self.model, self.names, self.codes, self.data = model, names, codes, data

    def _text(self, name: str) -> np.ndarray | None:
        if not self.model.has_column(name):
            return None
        out = self.model.column(name).astype(object)
        out[np.equal(out, None)] = ""  # the serving index holds "" for missing text, Parquet None
        return out

    @cached_property
    def columns(self) -> dict[str, np.ndarray | None]:
        numbers = (O.GROWTH_2000_2020, O.GDP_PER_HEAD_PPP, O.GDP_PER_HEAD_GROWTH,
                   O.AIRPORT_INTL_DESTINATIONS, O.DIPLOMATIC_MISSIONS, "population")
        texts = (O.GROWTH_LEVEL, O.BEST_AIRPORT, O.PORT_NAME, O.HERITAGE_SITE)
        return {**{n: self.data.raw.get(n) for n in numbers},
                **{n: self._text(n) for n in texts}}

    def pair(self, query: int, partner: int, asked: tuple[str, ...] = ()) -> list[Fact]:
        """The facts for one pair, strongest kinds first (at most MAX_FACTS)."""
        found = [*self._themes(query, partner, asked), *self._economy(query, partner),
                 *self._growth(query, partner), *self._connections(query, partner),
                 *self._size(query, partner)]
        found.sort(key=lambda fact: _RANK[fact.kind])
        return found[:MAX_FACTS]

    def profile(self, partner: int, said: list[Fact], limit: int = 2) -> list[Fact]:
        """The partner's own notable facts (its port, air hub, climate commitment, heritage
        site, city-level growth) that the row's facts `said` do not already cover: what tells
        a row apart when the two cities share nothing the rest of the list does not."""
        name, columns, found = self.names[partner], self.columns, []
        themes = set(self.data.themes_of(partner))
        covered = {f.topic for f in said} | ({"maritime", "aviation-hub"} if any(
            f.topic == "gateway" for f in said) else set())
        if covered & set(_OWN_CLIMATE):
            covered |= set(_OWN_CLIMATE)  # one climate clause a row
        port = columns[O.PORT_NAME]
        if "maritime" in themes and port is not None and port[partner]:
            found.append(("maritime", f"a seaport ({port[partner]}; {_cite('ports')})"))
        airport, intl = columns[O.BEST_AIRPORT], columns[O.AIRPORT_INTL_DESTINATIONS]
        if "aviation-hub" in themes and airport is not None and intl is not None:
            found.append(("aviation-hub", f"an air hub ({airport[partner]}, {intl[partner]:.0f} "
                                          f"international destinations; {_cite('airports')})"))
        for theme, phrase in _OWN_CLIMATE.items():
            if theme in themes:
                found.append((theme, f"{phrase.removeprefix('is ')} ({_cite('covenant')})"))
                break
        heritage = columns[O.HERITAGE_SITE]
        if "heritage" in themes and heritage is not None and heritage[partner]:
            found.append(("heritage", f"near {heritage[partner]} ({_cite('heritage')})"))
        growth, level = columns[O.GROWTH_2000_2020], columns[O.GROWTH_LEVEL]
        if growth is not None and level is not None and level[partner] == LEVEL_CITY:
            found.append(("growth", f"grew {growth[partner]:.1f}% a year 2000-2020 "
                                    f"({_cite('un_wup')})"))
        texts = [text for topic, text in found if topic not in covered][:limit]
        return [Fact("profile", f"{name}: {', '.join(texts)}")] if texts else []

    def _themes(self, query: int, partner: int, asked: tuple[str, ...]) -> list[Fact]:
        data, out = self.data, []
        mine, theirs = set(data.themes_of(query)), set(data.themes_of(partner))
        source_of = dict(zip(data.theme_names, data.theme_sources, strict=True))
        for theme in asked:
            if theme in mine:
                continue  # said below as a shared theme
            if theme in theirs:
                origin = "open data" if source_of[theme] == O.THEMES else \
                    f"user tags: {source_of[theme]}"
                out.append(Fact("asked", f"has the theme you asked for, {theme} ({origin})"))
            else:
                related = [t for t in RELATED_THEMES.get(theme, ()) if t in theirs]
                if related:
                    own = related[-1]  # the most specific (RELATED_THEMES' order)
                    text = _OWN_CLIMATE.get(own, f"has the theme {own}")
                    source = THEME_PHRASES.get(own, ("", "themes"))[1]
                    out.append(Fact("asked", f"towards {theme}: {self.names[partner]} {text} "
                                             f"({_cite(source)}; a related theme)", topic=own))
        shared = [t for t in data.theme_names if t in mine and t in theirs]
        if "climate-action" in shared and len({"climate-2030", "climate-neutral-2050",
                                                "climate-adaptation"} & set(shared)):
            shared.remove("climate-action")  # the specific commitment says it
        if "logistics" in shared and "maritime" in shared:
            shared.remove("maritime")
        for theme in shared:
            if theme in THEME_PHRASES:
                text, source = THEME_PHRASES[theme]
                out.append(Fact("theme", f"{text} ({_cite(source)})", topic=theme))
            else:
                out.append(Fact("theme", f"both tagged {theme} (user tags: "
                                         f"{source_of[theme]})"))
        return out + self._gateway(query, partner)

    def _gateway(self, query: int, partner: int) -> list[Fact]:
        completed = gateway(self.data, query, np.array([partner]))
        if completed is None or not completed[0]:
            return []
        sea = GATEWAY_THEMES[0]
        port, hub = (query, partner) if sea in self.data.themes_of(query) else (partner, query)
        airport = self.columns[O.BEST_AIRPORT]
        named = f", {airport[hub]}" if airport is not None and airport[hub] else ""
        return [Fact("gateway", f"a seaport and an air hub: {self.names[port]}'s port beside "
                                f"{self.names[hub]}'s airport{named} (sources: "
                                f"{_cite('ports')}, {_cite('airports')})", topic="gateway")]

    def _economy(self, query: int, partner: int) -> list[Fact]:
        gdp, pace = self.columns[O.GDP_PER_HEAD_PPP], self.columns[O.GDP_PER_HEAD_GROWTH]
        if gdp is None or pace is None or not np.isfinite([gdp[query], gdp[partner]]).all():
            return []
        a, b = gdp[query], gdp[partner]
        qc, pc = self.codes[query], self.codes[partner]
        source = f"{_cite('world_bank')}, country level"
        if max(a, b) / min(a, b) <= SIMILAR_GDP_RATIO:
            return [Fact("gdp", f"GDP per head (PPP) {qc} {short_number(a, True)}, {pc} "
                                f"{short_number(b, True)} ({source})")]
        complement = economy_complement(self.data, query, np.array([partner]))[0]
        if complement >= COMPLEMENT_CITED:
            return [Fact("economy", f"a mature and a fast-growing economy: GDP per head (PPP) "
                                    f"{qc} {short_number(a, True)}, {pc} {short_number(b, True)}"
                                    f", growing {pace[query]:.1f}% and {pace[partner]:.1f}% a "
                                    f"year ({source})")]
        return []

    def _growth(self, query: int, partner: int) -> list[Fact]:
        growth, level = self.columns[O.GROWTH_2000_2020], self.columns[O.GROWTH_LEVEL]
        if growth is None or level is None or not (level[query] == level[partner] == LEVEL_CITY):
            return []
        return [Fact("growth", f"{self.names[query]} grew {growth[query]:.1f}% a year "
                               f"2000-2020, {self.names[partner]} {growth[partner]:.1f}% "
                               f"({_cite('un_wup')})", topic="growth")]

    def _connections(self, query: int, partner: int) -> list[Fact]:
        out = []
        missions = self.columns[O.DIPLOMATIC_MISSIONS]
        if missions is not None and min(missions[query], missions[partner]) >= 1 and not \
                min(missions[query], missions[partner]) >= 10:  # 10+: the diplomacy theme
            out.append(Fact("missions", f"both host diplomatic missions: "
                                        f"{missions[query]:.0f} and {missions[partner]:.0f} "
                                        f"({_cite('missions')})"))
        return out

    def _size(self, query: int, partner: int) -> list[Fact]:
        population = self.columns["population"]
        if population is None:
            return []
        a, b = population[query], population[partner]
        if a > 0 and b > 0 and max(a, b) / min(a, b) <= SIMILAR_SIZE_RATIO:
            return [Fact("size", f"similar size ({short_number(a)} vs {short_number(b)})")]
        return []


def said_once(rows: list[list[Fact]]) -> tuple[list[str], list[list[Fact]]]:
    """(clauses said once above the list, the rows without them): a clause whose exact text
    stands on more than MOST_ROWS of three or more rows, and a summarised kind (KIND_SUMMARY)
    on NEARLY_EVERY row of five or more: its texts differ, but a clause on nearly every row
    tells the rows apart no better. Common clauses come in the order the rows first state them
    (strongest first), the same in every process."""
    if len(rows) < 3:
        return [], rows
    counts: dict[str, int] = {}
    for row in rows:
        for text in dict.fromkeys(fact.text for fact in row):  # each once, in the row's order
            counts[text] = counts.get(text, 0) + 1
    common = [text for text, n in counts.items() if n > MOST_ROWS * len(rows)]
    left = [[f for f in row if f.text not in common] for row in rows]
    frequent = set()
    if len(rows) >= 5:
        for kind in KIND_SUMMARY:
            if sum(any(f.kind == kind for f in row) for row in left) >= NEARLY_EVERY * len(rows):
                frequent.add(kind)
    kept = [[f for f in row if f.kind not in frequent] for row in left]
    return common + [KIND_SUMMARY[kind] for kind in KIND_SUMMARY if kind in frequent], kept


KIND_SUMMARY = {
    "size": "similar size (within a factor of 2)",
    "gdp": "a similar GDP per head (PPP, within 25%; World Bank, country level)",
}
