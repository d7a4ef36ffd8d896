"""The one table of country spellings that the GeoNames country table does not carry.

Used by the data build (training.data.countries, training.data.indicators: free text in source
files) and
by serving (matcher.places.lookup: what a user types after a comma or to --country, and `twin
pair`).
Keys are folded (matcher.places.lookup.fold: ASCII, lower case, punctuation as spaces); each alias
gives the ISO2 codes a place listed under it may carry in GeoNames, the sovereign state's
first (overseas parts and disputed areas carry two). NATIONS are the parts of a country that
people name as if they were one (Wales, Scotland): each is a country code plus the GeoNames
first-level region code, so 'Newport, Wales' means Newport in GB's region WLS.
"""

from __future__ import annotations

from matcher.errors import InputError
from matcher.places.querytext import fold, fuzzy, shown

COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "england": ("GB",), "scotland": ("GB",), "wales": ("GB",), "northern ireland": ("GB",),
    "uk": ("GB",), "u k": ("GB",), "great britain": ("GB",), "britain": ("GB",),
    "united kingdom": ("GB",), "united kingdom of great britain and northern ireland": ("GB",),
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
    "vatican": ("VA",), "vatican city": ("VA",), "holy see": ("VA",),
    "south korea": ("KR",), "korea": ("KR",), "republic of korea": ("KR",),
    "korea republic of": ("KR",), "korea south": ("KR",), "rok": ("KR",),
    "north korea": ("KP",),
    "taiwan": ("TW",), "republic of china": ("TW",), "peoples republic of china": ("CN",),
    "russia": ("RU",), "russian federation": ("RU",), "vietnam": ("VN",), "viet nam": ("VN",),
    "laos": ("LA",), "syria": ("SY",), "iran": ("IR",), "turkiye": ("TR",),
    "united states": ("US",), "united states of america": ("US",), "usa": ("US",),
    "u s a": ("US",), "u s": ("US",), "america": ("US",),
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

NATIONS: dict[str, tuple[str, str]] = {
    "england": ("GB", "ENG"), "scotland": ("GB", "SCT"), "wales": ("GB", "WLS"),
    "northern ireland": ("GB", "NIR"),
}
"""Folded name -> (ISO2, GeoNames admin1 code) of a nation inside a country."""


def single_code(alias: str, known: set[str] | frozenset[str]) -> str | None:
    """The first of an alias's codes that is in `known` (a user naming 'Georgia' in a model
    without GE gets US), or None when the alias is unknown or none of its codes is known."""
    return next((code for code in COUNTRY_ALIASES.get(alias, ()) if code in known), None)


class CountryKeys:
    """Country text -> ISO2 over the countries a model has: codes, names, aliases, nations."""

    def __init__(self, codes: set[str], country_names: dict[str, str]) -> None:
        self.country_names = country_names
        self.keys = {code.lower(): code for code in codes}
        for code, name in country_names.items():
            self.keys.setdefault(fold(name), code)
        for alias in COUNTRY_ALIASES:
            code = single_code(alias, codes)
            if code is not None:
                self.keys.setdefault(alias, code)
        self._codes = frozenset(codes)

    def resolve_country(self, text: str, argument: str = "country") -> str:
        """ISO2 code for an ISO2 code or a country name; InputError naming `argument` if unknown.
        A nation (Wales) is refused here: a country filter would silently mean all of GB."""
        key = fold(str(text))
        if key in NATIONS and NATIONS[key][0] in self._codes:
            code = NATIONS[key][0]
            raise InputError(f"{argument}: {text!r} is part of {code}; this option takes whole "
                             f"countries, so give {code} (cities of every part of {code})")
        return self.code(text, key, argument)

    def resolve_region(self, text: str, argument: str = "country") -> tuple[str, str | None]:
        """(ISO2, admin1 code or None) for a country or a nation ('Wales' -> ('GB', 'WLS'))."""
        key = fold(str(text))
        if key in NATIONS and NATIONS[key][0] in self._codes:
            return NATIONS[key]
        return self.code(text, key, argument), None

    def code(self, text: str, key: str, argument: str) -> str:
        """The code of a folded country key, or InputError with 'did you mean' countries."""
        code = self.keys.get(key)
        if code is not None:
            return code
        hint = ""
        suggestions = fuzzy(key, sorted(k for k in self.keys if len(k) > 2), limit=3)
        if suggestions:
            hint = "; did you mean " + ", ".join(
                f"{self.country_names.get(self.keys[s], s)} ({self.keys[s]})"
                for s in suggestions) + "?"
        raise InputError(
            f"{argument}: unknown country {shown(str(text))}; give an ISO code (e.g. GB) or a "
            f"country name that has cities in the model{hint}"
        )
