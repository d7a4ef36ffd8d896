"""Column names shared by every stage, so a rename happens in one place."""


class Columns:
    """Names of the columns in the data tables and the model's city index."""

    # a city (gazetteer, cities.parquet, model city index)
    GEONAMEID = "geonameid"
    NAME = "name"
    ASCII_NAME = "asciiname"
    ALT_NAMES = "alternatenames"  # ';'-joined string
    COUNTRY = "country_code"  # ISO 3166-1 alpha-2
    ADMIN1 = "admin1_code"
    LAT = "lat"
    LON = "lon"
    POPULATION = "population"
    TIMEZONE = "timezone"
    CONTINENT = "continent"
    IS_CAPITAL = "is_capital"

    # a country (countries.parquet)
    ISO2 = "iso2"
    ISO3 = "iso3"
    COUNTRY_NAME = "country_name"
    LANGUAGES = "languages"  # ';'-joined language codes, e.g. "ko;en"
    NEIGHBOURS = "neighbours"  # ';'-joined ISO2 codes
    AREA_KM2 = "area_km2"

    # a partnership (partnerships.parquet): one undirected edge, CITY_A < CITY_B
    CITY_A = "city_a"
    CITY_B = "city_b"
    WEIGHT = "weight"
    STATUS = "status"  # active / dormant / ended / None (listed only)
    STRENGTH = "strength"  # 0..1 or NaN
    SINCE = "since"  # year or <NA>
    SOURCES = "sources"  # ';'-joined source names: snapshot, user, wikidata
    LISTINGS = "listings"  # how many raw rows were merged into this edge

    # a raw partnership row from any source (ingest output, before resolution)
    SOURCE = "source"
    ROW = "row"  # 1-based data row number in the source file (header excluded)
    NAME_1 = "name_1"
    COUNTRY_1 = "country_1"  # free text as given
    LAT_1 = "lat_1"
    LON_1 = "lon_1"
    GEONAMEID_1 = "geonameid_1"  # when the source carries ids (user CSV, Wikidata)
    NAME_2 = "name_2"
    COUNTRY_2 = "country_2"
    LAT_2 = "lat_2"
    LON_2 = "lon_2"
    GEONAMEID_2 = "geonameid_2"

    # rejected rows (unresolved.csv, rejected.csv)
    REASON = "reason"

    # a ranked match (Match fields)
    RANK = "rank"
    SCORE = "score"
    DISTANCE_KM = "distance_km"


PARTNERSHIP_STATUSES = ("active", "dormant", "ended")
