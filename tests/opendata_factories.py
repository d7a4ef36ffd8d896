"""A tiny open-data folder around the conftest cities (Strasbourg/Kehl, London, Seoul, Busan,
Sejong...), every row placed so its join outcome is known (see each table's comments)."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

WUP_HEADER = ("country,country_name,country_un_m49,wup_city_code,agglomeration,note,lat,lon,"
              + ",".join(f"pop_{year}_k" for year in range(1950, 2040, 5)))


def _wup(country: str, name: str, lat: float, lon: float, pop2000: float, pop2020: float,
         pop2035: float) -> str:
    pops = {2000: pop2000, 2020: pop2020, 2035: pop2035}
    values = [str(pops.get(year, "")) for year in range(1950, 2040, 5)]
    return ",".join([country, "", "0", "1", name, "", str(lat), str(lon), *values])


WUP = [
    _wup("KR", "Seoul", 37.56, 126.99, 9900, 9960, 10000),  # name join
    _wup("KR", "Busan", 35.10, 129.00, 3600, 3450, 3300),  # name join, shrinking
    _wup("GB", "London", 51.50, -0.12, 7000, 9300, 10700),  # name join
    _wup("KR", "Seoul Capital Area", 37.57, 126.98, 900, 950, 990),  # nearest Seoul: taken
    _wup("FR", "Paris", 10.0, 10.0, 9700, 11000, 12000),  # name 4,000+ km away: name_far
    _wup("KR", "Atlantis", 36.0, 128.0, 400, 500, 600),  # no city within 15 km
    # not in the city table; Sejong (395k) is 8 km off but far smaller: core_too_small
    _wup("KR", "Jochiwon", 36.60, 127.38, 1500, 1800, 2000),
    _wup("ZZ", "Nowhere", 0.0, 0.0, 1, 2, 3),  # no such country
]
WB_HEADER = "iso2,iso3,country_name,indicator,wb_code,year,value"


def _wb(iso2: str, indicator: str, year: int, value: object) -> str:
    return f"{iso2},,,{indicator},,{year},{value}"


WORLD_BANK = [
    *(_wb("KR", "pop_growth_pct", year, 0.5) for year in range(2010, 2021)),  # 2010-20: 0.5
    *(_wb("KR", "pop_growth_pct", year, 0.1) for year in range(2021, 2025)),  # latest 5: 0.18
    _wb("KR", "gdp_pc_ppp_usd", 2022, 50000), _wb("KR", "gdp_pc_ppp_usd", 2023, 52000),
    _wb("KR", "gdp_usd", 2023, 1e12), _wb("KR", "fdi_inflows_usd", 2023, 2e10),  # 2 %
    _wb("KR", "patent_apps_resident", 2021, 200000), _wb("KR", "population", 2021, 50e6),
    _wb("KR", "rnd_pct_gdp", 2021, 4.9), _wb("KR", "tourism_receipts_pct_exports", 2019, 5.0),
    _wb("KR", "gdp_pc_growth_pct", 2023, 2.0),
    *(_wb("GB", "pop_growth_pct", year, 0.7) for year in range(2010, 2021)),
    _wb("GB", "gdp_pc_ppp_usd", 2023, 55000),
    _wb("FR", "gdp_pc_ppp_usd", 2023, ""),  # an empty value: no_value
    _wb("ZZ", "gdp_pc_ppp_usd", 2023, 1.0),  # no such country: no_country
    _wb("NA", "gdp_pc_ppp_usd", 2023, 11000),  # Namibia, not a missing value: no_country
]
AIRPORTS_HEADER = ("ident,type,name,lat,lon,country,iso_region,municipality,scheduled_service,"
                   "iata_code,gps_code,wikipedia_link,of2014_routes,of2014_dest_airports,"
                   "of2014_intl_dest_airports,of2014_dest_countries,of2014_airlines")
AIRPORTS = [
    # Entzheim is not a city: nearest (9 km) Strasbourg; radius: Strasbourg, Kehl (DE), Offenburg
    "LFST,medium_airport,Strasbourg Airport,48.54,7.63,FR,,Entzheim,yes,SXB,,,70,60,40,20,10",
    "EGLL,large_airport,Heathrow Airport,51.47,-0.45,GB,,London,yes,LHR,,,300,200,180,80,70",
    # no Incheon city: no city within 25 km; Seoul within the 50 km radius (32 km)
    "RKSI,large_airport,Incheon Airport,37.46,126.60,KR,,Incheon,yes,ICN,,,200,160,150,50,60",
    # no Cheongju city: nearest within 25 km is Sejong (23 km); radius: Sejong and Daejeon
    "RKTU,medium_airport,Cheongju Airport,36.72,127.50,KR,,Cheongju,yes,CJJ,,,20,15,10,5,5",
    "AQ01,small_airport,Ghost Strip,-80.0,0.0,AQ,,Pole,yes,,,,0,0,0,0,0",  # no_country
]
PORTS_HEADER = ("wpi_number,port_name,Alternate Port Name,unlocode,country,country_name,"
                "region_name,harbor_size,harbor_type,harbor_use,fac_container,fac_roro,"
                "channel_depth_m,max_vessel_length_m,lat,lon")
PORTS = [
    # name join; containers "Unknown" (as in the real index): logistics by its Large harbour
    "1,Busan,,,KR,,,Large,Coastal,,Unknown,Yes,15,300,35.10,129.04",
    "2,Kehl,,,DE,,,Small,River,,No,No,4,100,48.57,7.80",  # name join; Strasbourg 4 km too
    "3,Far Reef,,,KR,,,Very Small,Coastal,,Unknown,Unknown,3,0,34.0,126.0",  # nothing near
]
MISSIONS_HEADER = (
    "QID,operator,operator_iso2,country,country_iso2,city,cityQID,type,lat,lon,creation")
MISSIONS = [
    *(f"Q{i},X,X{i},South Korea,KR,Seoul,,embassy,37.57,126.98," for i in range(12)),
    "Q20,Y,YY,South Korea,KR,Busan,,consulate,,,",  # no coordinates: name_only
    "Q21,Y,YY,South Korea,KR,Seoul,,consulate,35.18,129.08,",  # Seoul, placed in Busan: far
    "Q22,Y,YY,South Korea,KR,,,consulate,,,",  # neither name nor coordinates
]
COVENANT_HEADER = ("organisation_id,gcom_id,organisation_name,country,country_name,"
                   "population_adhesion,organisation_latitude,organisation_longitude,is_group,"
                   "commitment_CoM2020_flag,commitment_CoM2030_flag,commitment_CoM2050_flag,"
                   "commitment_mayoradapt_flag,adhesion_type,signatory_status,date_of_adhesion")
COVENANT = [
    "1,,Strasbourg,FR,,,48.58,7.75,False,True,True,False,False,,published,2010-01-01",
    # three rows share (51.0, 10.0): placeholder coordinates; Kehl joins by name alone
    "2,,Kehl,DE,,,51.0,10.0,False,True,False,False,False,,published,2011-01-01",
    "3,,Nowhereburg,DE,,,51.0,10.0,False,True,False,False,False,,published,2011-01-01",
    "4,,Smalltown,DE,,,51.0,10.0,False,True,False,False,False,,published,2011-01-01",
    "5,,Cardiff,GB,,,51.48,-3.18,False,False,False,True,False,,on_hold,2019-01-01",  # unused
    "6,,\"Colmar, Mulhouse\",FR,,,47.9,7.35,True,True,False,False,False,,published,2012-01-01",
    "7,,London,GB,,,51.5,-0.1,False,False,True,True,True,,published,2009-01-01",
]
HERITAGE_HEADER = ("unique_number,id_no,name_en,date_inscribed,danger,category,criteria_txt,"
                   "states_name_en,iso_code,n_states,transboundary,region_en,lat,lon,"
                   "area_hectares,country")
HERITAGE = [
    "1,1,Strasbourg Grande Ile,1988,0,Cultural,,,fr,1,0,,48.58,7.75,1,FR",  # Strasbourg, Kehl
    "2,2,Seokguram,1995,0,Cultural,,,kr,1,0,,35.79,129.35,1,KR",  # nothing within 20 km
    "3,3,Tower of London,1988,0,Cultural,,,gb,1,0,,51.508,-0.076,1,GB",
]
TABLES = {
    "un_wup2018_agglomerations.csv": (WUP_HEADER, WUP),
    "world_bank_indicators.csv": (WB_HEADER, WORLD_BANK),
    "airports.csv": (AIRPORTS_HEADER, AIRPORTS),
    "world_port_index.csv": (PORTS_HEADER, PORTS),
    "diplomatic_missions.csv": (MISSIONS_HEADER, MISSIONS),
    "covenant_of_mayors_europe.csv": (COVENANT_HEADER, COVENANT),
    "world_heritage_sites.csv": (HERITAGE_HEADER, HERITAGE),
}


def write_open_data(directory: Path, compress: str = "") -> Path:
    """Write the seven tables into directory (compress: "", "xz" or "gz")."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in TABLES.items():
        data = ("\n".join([header, *rows]) + "\n").encode("utf-8")
        if compress == "xz":
            (directory / f"{name}.xz").write_bytes(lzma.compress(data))
        elif compress == "gz":
            (directory / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (directory / name).write_bytes(data)
    return directory
