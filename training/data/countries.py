"""Free-text country -> ISO2 codes for entity resolution (aliases, territories, typos).

Split from training.data.names (place-name normalisation) so each stays small and readable.
"""

from __future__ import annotations

from functools import cache

from rapidfuzz import fuzz, process

from matcher.places.country_names import COUNTRY_ALIASES  # the one table, shared with serving
from training.data.names import fold

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
