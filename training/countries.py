"""Free-text country -> ISO2 codes for entity resolution (aliases, territories, typos).

Split from training.names (place-name normalisation) so each stays small and readable.
"""

from __future__ import annotations

from functools import cache

from rapidfuzz import fuzz, process

from training.names import fold

# Country spellings the GeoNames country table does not carry, each with the ISO2 codes a
# place listed under it may have in GeoNames (overseas parts and disputed areas carry two).
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "england": ("GB",), "scotland": ("GB",), "wales": ("GB",), "northern ireland": ("GB",),
    "uk": ("GB",), "great britain": ("GB",), "britain": ("GB",),
    "republic of ireland": ("IE",), "eire": ("IE",),
    "georgia": ("GE", "US"), "georgia country": ("GE",),
    "czech republic": ("CZ",), "czechia": ("CZ",),
    "kosovo": ("XK", "RS"), "northern cyprus": ("CY",), "north cyprus": ("CY",),
    "palestine": ("PS",), "state of palestine": ("PS",), "west bank": ("PS",),
    "gaza strip": ("PS",), "western sahara": ("EH", "MA"),
    "moldavia": ("MD",), "island": ("IS",), "surinam": ("SR",),
    "micronesia": ("FM",), "federated states of micronesia": ("FM",),
    "east timor": ("TL",), "timor leste": ("TL",),
    "congo": ("CG", "CD"), "republic of the congo": ("CG",), "congo brazzaville": ("CG",),
    "democratic republic of the congo": ("CD",), "dr congo": ("CD",), "congo kinshasa": ("CD",),
    "ivory coast": ("CI",), "cote divoire": ("CI",), "cape verde": ("CV",),
    "eswatini": ("SZ",), "swaziland": ("SZ",), "north macedonia": ("MK",), "macedonia": ("MK",),
    "bosnia and hercegovina": ("BA",), "bosnia": ("BA",), "burma": ("MM",),
    "the gambia": ("GM",), "the bahamas": ("BS",), "the netherlands": ("NL",),
    "netherlands": ("NL",), "holland": ("NL",),
    "vatican city": ("VA",), "holy see": ("VA",),
    "south korea": ("KR",), "korea": ("KR",), "republic of korea": ("KR",), "north korea": ("KP",),
    "taiwan": ("TW",), "republic of china": ("TW",), "peoples republic of china": ("CN",),
    "russia": ("RU",), "russian federation": ("RU",), "vietnam": ("VN",), "viet nam": ("VN",),
    "laos": ("LA",), "syria": ("SY",), "iran": ("IR",), "turkiye": ("TR",),
    "united states": ("US",), "united states of america": ("US",), "usa": ("US",),
    "puerto rico": ("PR", "US"), "guam": ("GU", "US"), "northern mariana islands": ("MP", "US"),
    "us virgin islands": ("VI", "US"), "american samoa": ("AS", "US"),
    "faroe islands": ("FO", "DK"), "greenland": ("GL", "DK"), "aland islands": ("AX", "FI"),
    "reunion": ("RE", "FR"), "martinique": ("MQ", "FR"), "guadeloupe": ("GP", "FR"),
    "french guiana": ("GF", "FR"), "mayotte": ("YT", "FR"), "new caledonia": ("NC", "FR"),
    "french polynesia": ("PF", "FR"), "saint pierre and miquelon": ("PM", "FR"),
    "azores": ("PT",), "madeira": ("PT",), "algarve": ("PT",), "canary islands": ("ES",),
    "jersey": ("JE", "GB"), "guernsey": ("GG", "GB"), "isle of man": ("IM", "GB"),
    "gibraltar": ("GI", "GB"), "bermuda": ("BM", "GB"), "falkland islands": ("FK", "GB"),
    "cook islands": ("CK", "NZ"), "sao tome and principe": ("ST",),
    "hong kong": ("HK", "CN"), "macau": ("MO", "CN"), "macao": ("MO", "CN"),
    "curacao": ("CW", "NL"), "aruba": ("AW", "NL"), "south sudan": ("SS",),
}
# places GeoNames files under their own code though sources list them under the sovereign state
# (Mariehamn, Finland is AX; Macau, China is MO): a country's search also covers these
TERRITORIES: dict[str, tuple[str, ...]] = {
    "FI": ("AX",), "DK": ("FO", "GL"), "NO": ("SJ",), "CN": ("HK", "MO"),
    "GB": ("JE", "GG", "IM", "GI", "BM", "FK"),
    "FR": ("RE", "MQ", "GP", "GF", "YT", "NC", "PF", "PM", "BL", "MF", "WF"),
    "US": ("PR", "GU", "MP", "VI", "AS"), "NL": ("CW", "AW", "SX", "BQ"), "NZ": ("CK", "NU"),
    "AU": ("NF", "CX", "CC"),
}
FUZZY_COUNTRY_SCORE = 85.0  # fuzz.ratio: 'Grece' ~ 'Greece' 91, 'Kazakhstah' ~ 'Kazakhstan' 90


class CountryNormaliser:
    """Free-text country -> ISO2 codes, using the country table, COUNTRY_ALIASES and rapidfuzz."""

    def __init__(self, iso2: list[str], iso3: list[str], names: list[str]) -> None:
        self.codes = frozenset(iso2)
        self.exact: dict[str, tuple[str, ...]] = {}
        for two, three, name in zip(iso2, iso3, names, strict=True):
            self.exact.setdefault(fold(name), (two,))
            self.exact.setdefault(three.casefold(), (two,))
        for alias, codes in COUNTRY_ALIASES.items():
            self.exact[fold(alias)] = tuple(c for c in codes if c in self.codes) or codes
        self._choices = sorted(self.exact)

    @cache  # noqa: B019 - one normaliser per build, a few hundred distinct texts
    def codes_for(self, text: str) -> tuple[str, ...] | None:
        """ISO2 codes for a country text; () when blank, None when unrecognisable.

        'England, United Kingdom' -> GB; 'Réunion, France' -> (RE, FR); 'Brandenburg, Germany'
        -> DE (unknown parts are region qualifiers); 'in Italy' -> IT; 'Grece' -> GR (typo).
        """
        raw = (text or "").strip()
        if not raw:
            return ()
        if len(raw) == 2 and raw.isalpha() and raw.upper() in self.codes:
            return (raw.upper(),)
        parts = [p for p in raw.split(",") if p.strip()]
        if len(parts) > 1:
            found: list[str] = []
            for part in parts:
                for code in self.codes_for(part) or ():
                    if code not in found:
                        found.append(code)
            return tuple(found) or None
        folded = fold(raw)
        if folded.startswith("in "):
            folded = folded[3:]
        if folded in self.exact:
            return self.exact[folded]
        best = process.extractOne(folded, self._choices, scorer=fuzz.ratio,
                                  score_cutoff=FUZZY_COUNTRY_SCORE)
        return self.exact[best[0]] if best else None

    def search_codes(self, codes: tuple[str, ...]) -> tuple[str, ...]:
        """The codes plus their territories, in order, without repeats."""
        out = list(codes)
        for code in codes:
            out.extend(t for t in TERRITORIES.get(code, ()) if t not in out)
        return tuple(out)
