"""training.data.opendata on a tiny open-data folder whose every row has a known join outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_cities
from opendata_factories import write_open_data

from matcher.columns import LEVEL_CITY, LEVEL_COUNTRY
from matcher.columns import OpenColumns as O
from matcher.errors import InputError
from matcher.profile import THEME_RULES
from training.data.opendata import OPEN_FEATURES, build_open_features, check_folder, source_manifest
from training.data.opendata.worldbank import country_values
from training.data.opendata.wup import annual_growth_pct


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cities = tiny_cities()
    folder = write_open_data(tmp_path_factory.mktemp("open"))
    return cities, build_open_features(folder, cities)


def value(built, city: str, column: str):
    cities, features = built
    return features.values[column].to_numpy()[cities.index[cities["name"] == city][0]]


def reasons(built, table: str) -> dict[str, str]:
    unjoined = built[1].unjoined
    rows = unjoined[unjoined["table"] == table]
    return dict(zip(rows["name"], rows["reason"], strict=True))


def test_every_catalogue_column_is_built_one_row_per_city(built):
    cities, features = built
    assert list(features.values.columns) == [info.name for info in OPEN_FEATURES]
    assert len(features.values) == len(cities)


def test_join_rates_count_every_row(built):
    report = built[1].report()
    assert report["un_wup"]["rows_in"] == 8 and report["un_wup"]["rows_joined"] == 3
    assert report["un_wup"]["unjoined"] == {"city_taken": 1, "core_too_small": 1, "name_far": 1,
                                            "no_city_near": 1, "no_country": 1}
    assert report["airports"]["methods"] == {"name": 1, "nearest": 2}
    assert report["covenant"]["join_rate"] == pytest.approx(4 / 7, abs=1e-6)
    total_unjoined = sum(t["rows_in"] - t["rows_joined"] for t in report.values())
    assert total_unjoined == len(built[1].unjoined)


def test_unjoined_rows_say_why(built):
    assert reasons(built, "un_wup") == {"Seoul Capital Area": "city_taken", "Paris": "name_far",
                                        "Atlantis": "no_city_near", "Nowhere": "no_country",
                                        "Jochiwon": "core_too_small"}
    assert reasons(built, "covenant") == {"Nowhereburg": "placeholder_coordinates",
                                          "Smalltown": "placeholder_coordinates",
                                          "Colmar, Mulhouse": "group_signatory"}
    assert reasons(built, "missions") == {"Seoul": "name_far", "": "no_name_no_coordinates"}
    unjoined = built[1].unjoined
    paris = unjoined[(unjoined["table"] == "un_wup") & (unjoined["name"] == "Paris")]
    assert "km away, more than 50 km" in paris["detail"].iloc[0]


def test_namibia_is_a_country_code_not_a_missing_value(built):
    unjoined = built[1].unjoined
    world_bank = unjoined[unjoined["table"] == "world_bank"]
    assert set(world_bank["country"]) == {"ZZ", "NA", "FR"}
    assert "country 'NA'" in world_bank[world_bank["country"] == "NA"]["detail"].iloc[0]


def test_growth_is_the_agglomerations_else_the_countrys(built):
    assert value(built, "Seoul", O.GROWTH_LEVEL) == LEVEL_CITY
    assert value(built, "Seoul", O.GROWTH_2000_2020) == pytest.approx(
        ((9960 / 9900) ** (1 / 20) - 1) * 100, abs=1e-6)
    assert value(built, "Busan", O.GROWTH_2020_2035) < 0  # shrinking
    assert value(built, "Sejong", O.GROWTH_LEVEL) == LEVEL_COUNTRY
    assert value(built, "Sejong", O.GROWTH_2000_2020) == pytest.approx(0.5)
    assert value(built, "Sejong", O.GROWTH_2020_2035) == pytest.approx(0.18)  # latest 5 years
    assert value(built, "Seoul", O.WUP_AGGLOMERATION) == "Seoul"
    assert value(built, "Seoul", O.WUP_POPULATION_2020) == pytest.approx(9_960_000)
    assert np.isnan(value(built, "Paris", O.GROWTH_2000_2020))  # no city, no country value


def test_country_values_reach_every_city_of_the_country(built):
    for city in ("Seoul", "Sejong", "Busan"):
        assert value(built, city, O.GDP_PER_HEAD_PPP) == 52000  # the latest year
    assert value(built, "Seoul", O.FDI_SHARE) == pytest.approx(2.0)
    assert value(built, "Seoul", O.PATENTS_PER_MILLION) == pytest.approx(4000)
    assert value(built, "London", O.GDP_PER_HEAD_PPP) == 55000
    assert np.isnan(value(built, "Paris", O.GDP_PER_HEAD_PPP))


def test_best_airport_within_50_km_any_country(built):
    assert value(built, "Kehl", O.AIRPORT_INTL_DESTINATIONS) == 40  # Strasbourg's, in France
    assert value(built, "Kehl", O.BEST_AIRPORT) == "Strasbourg Airport (SXB)"
    assert value(built, "Seoul", O.AIRPORT_INTL_DESTINATIONS) == 150  # Incheon, 36 km
    assert value(built, "Seoul", O.BEST_AIRPORT_KM) == pytest.approx(35.7, abs=0.5)
    assert value(built, "Daejeon", O.AIRPORT_INTL_DESTINATIONS) == 10  # Cheongju, 43 km
    assert value(built, "Colmar", O.AIRPORT_INTL_DESTINATIONS) == 0  # 55 km from SXB
    assert value(built, "Colmar", O.BEST_AIRPORT) == ""


def test_ports_missions_climate_and_heritage(built):
    assert value(built, "Busan", O.SEAPORT) and value(built, "Strasbourg", O.SEAPORT)
    assert not value(built, "Seoul", O.SEAPORT)
    assert value(built, "Busan", O.PORT_HARBOUR_SIZE) == "Large"
    assert value(built, "Seoul", O.DIPLOMATIC_MISSIONS) == 12
    assert value(built, "Busan", O.DIPLOMATIC_MISSIONS) == 1  # by name, no coordinates
    assert value(built, "Strasbourg", O.CLIMATE_TARGET_YEAR) == 2030
    assert value(built, "London", O.CLIMATE_TARGET_YEAR) == 2050
    assert np.isnan(value(built, "Cardiff", O.CLIMATE_TARGET_YEAR))  # on hold: not counted
    assert value(built, "Kehl", O.HERITAGE_SITES) == 1  # Strasbourg's site, 5 km away
    assert value(built, "Kehl", O.HERITAGE_SITE) == "Strasbourg Grande Ile"


def test_themes_follow_their_rules(built):
    themes = {city: set(str(value(built, city, O.THEMES)).split(";")) - {""}
              for city in ("Busan", "Kehl", "Seoul", "London", "Cardiff", "Sejong")}
    assert themes["Busan"] == {"maritime", "logistics"}
    assert themes["Kehl"] == {"maritime", "heritage", "climate-action"}
    assert themes["Seoul"] == {"government", "diplomacy", "aviation-hub"}
    assert themes["London"] == {"government", "aviation-hub", "heritage", "climate-action",
                                "climate-2030", "climate-neutral-2050", "climate-adaptation"}
    assert themes["Cardiff"] == set() and themes["Sejong"] == set()
    every = set().union(*themes.values())
    assert every <= set(THEME_RULES)


def test_compressed_folder_gives_the_same_features(tmp_path, built):
    cities, plain = built
    for kind in ("xz", "gz"):
        packed = build_open_features(write_open_data(tmp_path / kind, compress=kind), cities)
        pd.testing.assert_frame_equal(packed.values, plain.values)


def test_missing_table_is_an_error_naming_it(tmp_path):
    folder = write_open_data(tmp_path / "open")
    (folder / "airports.csv").unlink()
    with pytest.raises(InputError, match=r"airports\.csv \(or \.xz/\.gz\).*--no-open-data"):
        check_folder(folder)
    with pytest.raises(InputError, match="not a folder"):
        check_folder(tmp_path / "absent")


def test_broken_table_is_an_error_naming_the_file_and_column(tmp_path):
    folder = write_open_data(tmp_path / "open")
    (folder / "world_port_index.csv").write_text("port_name,country\nBusan,KR\n")
    with pytest.raises(InputError, match=r"world_port_index\.csv: lacks column\(s\) harbor_size"):
        build_open_features(folder, tiny_cities())
    (folder / "world_port_index.csv").write_text("")
    with pytest.raises(InputError, match=r"world_port_index\.csv: the open-data table is empty"):
        build_open_features(folder, tiny_cities())
    (folder / "world_port_index.csv").unlink()
    (folder / "world_port_index.csv.xz").write_bytes(b"not xz at all")
    with pytest.raises(InputError, match=r"world_port_index\.csv\.xz: not a readable xz file"):
        build_open_features(folder, tiny_cities())


def test_source_manifest_states_licences(built):
    entries = {entry["table"]: entry for entry in source_manifest(built[1])}
    assert set(entries) == {"un_wup", "world_bank", "airports", "ports", "missions",
                            "covenant", "heritage"}
    assert "unverified" in entries["heritage"]["licence"]
    assert entries["airports"]["licence"].endswith("ODbL 1.0 (share-alike)")


def test_annual_growth_pct_known_values():
    growth = annual_growth_pct(np.array([100.0, 100.0, 0.0, np.nan]),
                               np.array([200.0, 100.0, 5.0, 3.0]), 10.0)
    assert growth[0] == pytest.approx((2 ** 0.1 - 1) * 100)
    assert growth[1] == 0.0
    assert np.isnan(growth[2]) and np.isnan(growth[3])


def test_country_values_take_latest_year_and_recent_means():
    long = pd.DataFrame({"iso2": ["KR"] * 4, "indicator": ["rnd_pct_gdp"] * 2
                         + ["gdp_pc_growth_pct"] * 2, "year": [2020, 2022, 2020, 2022],
                         "value": [4.0, 5.0, 1.0, 3.0]})
    values = country_values(long)
    assert values.loc["KR", O.RND_SHARE] == 5.0
    assert values.loc["KR", O.GDP_PER_HEAD_GROWTH] == 2.0
