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


class OpenColumns:
    """Per-city columns derived from the open data tables (features.parquet, the model's
    cities.parquet); what each means, its source and rule: matcher.profile.CATALOGUE."""

    # performance and trajectory
    GROWTH_2000_2020 = "growth_2000_2020_pct"  # % a year
    GROWTH_2020_2035 = "growth_2020_2035_pct"  # % a year (projection or recent trend)
    GROWTH_LEVEL = "growth_level"  # "city" (UN WUP agglomeration) or "country" (World Bank)
    GDP_PER_HEAD_PPP = "gdp_per_head_ppp"  # current international $, country
    GDP_PER_HEAD_GROWTH = "gdp_per_head_growth_pct"  # % a year, country
    RND_SHARE = "rnd_pct_gdp"  # country
    PATENTS_PER_MILLION = "patents_per_million"  # resident applications, country
    WUP_AGGLOMERATION = "wup_agglomeration"  # the joined agglomeration's name ("" if none)
    WUP_POPULATION_2020 = "wup_population_2020"  # inhabitants, NaN if none
    # internationalisation appetite
    AIRPORT_INTL_DESTINATIONS = "airport_intl_destinations"  # best airport within the radius
    AIRPORT_DESTINATIONS = "airport_destinations"
    BEST_AIRPORT = "best_airport"  # "Name (IATA)" or ""
    BEST_AIRPORT_KM = "best_airport_km"
    DIPLOMATIC_MISSIONS = "diplomatic_missions"  # missions hosted, joined by name
    SEAPORT = "seaport"  # bool: a port within the radius
    PORT_NAME = "port_name"
    PORT_HARBOUR_SIZE = "port_harbour_size"  # Very Small / Small / Medium / Large / ""
    FDI_SHARE = "fdi_pct_gdp"  # country
    TOURISM_SHARE = "tourism_pct_exports"  # country
    # synergies of projects and ambitions
    THEMES = "themes"  # ';'-joined theme tags, rules in matcher.profile.THEME_RULES
    CLIMATE_TARGET_YEAR = "climate_target_year"  # latest Covenant of Mayors commitment year
    HERITAGE_SITES = "heritage_sites"  # World Heritage sites within the radius
    HERITAGE_SITE = "heritage_site"  # the nearest one's name or ""


LEVEL_CITY = "city"  # a value that is the city's own
LEVEL_COUNTRY = "country"  # a value that is its country's (the city has no own value)
