"""`build_data` and `twin data build` end to end on tiny inputs and a 30-city gazetteer."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from data_factories import SNAPSHOT_HEADER, tiny_gazetteer, write
from opendata_factories import write_open_data
from paths import FIXTURES

from matcher import config
from matcher.cli import cli
from matcher.columns import Columns as C
from matcher.errors import InputError
from training.data import build, gazetteer

FIXTURE = FIXTURES / "wikidata_p190.json"
SNAPSHOT = SNAPSHOT_HEADER + "\n".join([
    "Seoul – Gwanak,South Korea,37.4784,126.9516,Mitte (Berlin),Germany,52.5302,13.3852",
    "Berlin – Mitte,Germany,52.5332,13.3598,Gwanak (Seoul),South Korea,37.47,126.95",
    "Tokyo,Japan,35.6897,139.6922,London,\"England, United Kingdom\",51.5072,-0.1275",
    "London,England,51.5072,-0.1275,Tokyo,Japan,35.6897,139.6922",
    "Athens,Grece,37.98,23.72,Almaty,Kazakhstah,43.25,76.95",
    "Paris,France,45.76,4.84,Rome,in Italy,41.9,12.5",
    "Seoul,South Korea,37.56,126.97,Seoul-si,South Korea,37.57,126.98",
    "Tokyo,,35.68,139.69,Antananarivo,Madagaskar,-18.9,47.5",
    "Atlantis,Atlantis,0,0,Rome,Italy,41.9,12.5",
    "Pristina,Kosovo,42.66,21.17,Prague,Czech Republic,50.08,14.43",
    "Tbilisi,Georgia (country),41.7,44.8,Potsdam,\"Brandenburg, Germany\",52.4,13.06",
    "Dublin,Republic of Ireland,95,-6.26,Cardiff,Wales,51.48,-3.17",
]) + "\n"
USER = ("geonameid_1,geonameid_2,city_1,country_1,city_2,country_2,status,strength,since\n"
        "1850147,2643743,,,,,active,0.6,1970\n"
        ",,Sejong,KR,Tokyo,Japan,dormant,,2019\n"
        ",,Sejong,Atlantis,Tokyo,Japan,,,\n")


@pytest.fixture(autouse=True)
def tiny(monkeypatch, tmp_path):
    monkeypatch.setattr(gazetteer, "load_gazetteer", lambda cache_dir=None: tiny_gazetteer())
    monkeypatch.setattr(config, "CITY_TABLE_MIN_POPULATION", 300_000)
    # the CLI's default open data is the embedded folder; these tests give their own
    monkeypatch.setattr(config, "DEFAULT_OPEN_DATA", tmp_path / "no-embedded-open-data")


def sources(tmp_path):
    return (write(tmp_path / "snap.csv", SNAPSHOT), write(tmp_path / "user.csv", USER))


def test_build_writes_every_table_and_an_honest_report(tmp_path):
    snap, user = sources(tmp_path)
    out = tmp_path / "out"
    report = build.build_data([snap], out, user_files=[user], wikidata_files=[FIXTURE])
    assert sorted(p.name for p in out.iterdir()) == sorted([
        config.CITIES_FILE, config.COUNTRIES_FILE, config.PARTNERSHIPS_FILE,
        config.FEATURES_FILE, config.FEATURE_SCHEMA_FILE, config.REPORT_FILE,
        config.UNRESOLVED_FILE, config.MANIFEST_FILE])
    edges = pd.read_parquet(out / config.PARTNERSHIPS_FILE)
    pairs = {(a, b): row for a, b, row in zip(edges[C.CITY_A], edges[C.CITY_B],
                                              edges.itertuples(), strict=True)}
    seoul_mitte = pairs[(1835848, 6545310)]  # two spellings, one edge
    assert seoul_mitte.listings == 2 and seoul_mitte.sources == "snapshot"
    tokyo_london = pairs[(1850147, 2643743)]  # snapshot twice + user
    assert (tokyo_london.listings, tokyo_london.status, tokyo_london.weight) == (3, "active", 0.6)
    assert tokyo_london.sources == "snapshot;user" and tokyo_london.since == 1970
    assert pairs[(1835848, 1850147)].sources == "wikidata"  # ids from P1566
    assert pairs[(1850147, 11523293)].weight == 0.5
    assert (edges[C.CITY_A] < edges[C.CITY_B]).all()
    cities = pd.read_parquet(out / config.CITIES_FILE)
    assert cities[C.GEONAMEID].is_monotonic_increasing
    assert 11523293 in set(cities[C.GEONAMEID])
    features = pd.read_parquet(out / config.FEATURES_FILE)
    assert features[C.GEONAMEID].tolist() == cities[C.GEONAMEID].tolist()
    unresolved = pd.read_csv(out / config.UNRESOLVED_FILE, keep_default_na=False)
    keys = zip(unresolved["file"], unresolved[C.ROW], strict=True)
    reasons = dict(zip(keys, unresolved[C.REASON], strict=True))
    assert reasons == {
        ("snap.csv", 6): "namesake_far", ("snap.csv", 7): "self_partnership",
        ("snap.csv", 9): "no_name_match", ("snap.csv", 12): "latitude_out_of_range",
        ("user.csv", 3): "unknown_country", ("wikidata_p190.json", 3): "no_name_match",
        ("wikidata_p190.json", 4): "latitude_out_of_range",
    }
    data = json.loads((out / config.REPORT_FILE).read_text())
    assert data == report.to_dict()
    assert (report.rows_in, report.rows_resolved) == (19, 12)
    assert report.resolution_rate == round(12 / 19, 6)
    assert report.duplicates_merged == 12 - report.unique_partnerships == 3
    assert report.rejected == {"latitude_out_of_range": 2, "namesake_far": 1,
                               "no_name_match": 2, "self_partnership": 1, "unknown_country": 1}
    assert report.per_source["user"] == {"rows_in": 3, "rows_resolved": 2,
                                         "resolution_rate": 0.666667,
                                         "rejected": {"unknown_country": 1}}
    assert 0.9 <= report.within_30km_rate <= 1.0
    manifest = json.loads((out / config.MANIFEST_FILE).read_text())
    assert [i["name"] for i in manifest["inputs"]] == ["snap.csv", "user.csv",
                                                       "wikidata_p190.json"]
    assert manifest["counts"]["rows_resolved"] == 12


def test_same_inputs_same_bytes(tmp_path):
    snap, user = sources(tmp_path)
    for out in ("a", "b"):
        build.build_data([snap], tmp_path / out, user_files=[user], wikidata_files=[FIXTURE])
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_missing_and_empty_sources_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no partnership source given"):
        build.build_data([], tmp_path / "out")
    with pytest.raises(InputError) as error:
        build.build_data([tmp_path / "nope.csv"], tmp_path / "out")
    assert str(error.value) == f"{tmp_path / 'nope.csv'}: snapshot file not found; check the path"
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(InputError, match="the file is empty"):
        build.build_data([empty], tmp_path / "out")


def test_cli_data_build(tmp_path):
    snap, user = sources(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["data", "build", "--partnerships", str(snap),
                                      "--user", str(user), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "rows in:              15\n" in result.output
    assert "resolved (both ends): 10 (66.7%)\n" in result.output
    assert ("rejected by reason:   latitude_out_of_range 1, namesake_far 1, no_name_match 1, "
            "self_partnership 1, unknown_country 1\n") in result.output
    assert f"wrote {out}/" in result.output
    assert (out / config.PARTNERSHIPS_FILE).exists()


def test_cli_data_build_with_indicators(tmp_path):
    """User indicators become feature columns; an unusable row is written out with its reason
    and counted, and both files enter the data manifest."""
    snap, user = sources(tmp_path)
    indicators = write(tmp_path / "indicators.csv", "geonameid,city,country,gdp\n"
                       "2643743,,,812.5\n,Sejong,KR,31.0\n,Atlantis,Atlantis,1.0\n")
    schema = write(tmp_path / "schema.json", json.dumps({"columns": {"gdp": "numeric"}}))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["data", "build", "--partnerships", str(snap),
                                      "--user", str(user), "--indicators", str(indicators),
                                      "--indicator-schema", str(schema), "--out", str(out)])
    assert result.exit_code == 0, result.output
    features = pd.read_parquet(out / config.FEATURES_FILE).set_index(C.GEONAMEID)
    assert [c for c in features.columns if "gdp" in c], list(features.columns)
    rejected = pd.read_csv(out / build.INDICATORS_REJECTED_FILE)
    assert len(rejected) == 1 and "Atlantis" in rejected["reason"].iloc[0]
    manifest = json.loads((out / config.MANIFEST_FILE).read_text())
    assert manifest["counts"]["indicators"] == {"rows_in": 3, "rows_used": 2, "rejected": 1}
    assert [i["kind"] for i in manifest["inputs"]][-2:] == ["indicators", "indicator_schema"]
    result = CliRunner().invoke(cli, ["data", "build", "--partnerships", str(snap),
                                      "--indicators", str(indicators), "--out",
                                      str(tmp_path / "again")])
    assert result.exit_code == 2
    assert result.output == ("Error: --indicators and --indicator-schema go together: the "
                             "values and their columns' kinds\n")
    assert not (tmp_path / "again").exists()  # refused before anything was written
    schema.write_text(json.dumps({"columns": {"gnp": "numeric"}}))
    result = CliRunner().invoke(cli, ["data", "build", "--partnerships", str(snap),
                                      "--indicators", str(indicators), "--indicator-schema",
                                      str(schema), "--out", str(tmp_path / "again")])
    assert result.exit_code == 2 and result.output.startswith(f"Error: {indicators}: ")
    assert not (tmp_path / "again").exists()


def test_a_build_that_fails_midway_leaves_the_previous_data_whole(tmp_path):
    """Regression: the tables were written into the output directory one by one, so a build
    that failed after resolution (here: no usable indicator row) left new partnerships beside
    the old features and manifest; files now replace the old ones only once all are written."""
    snap, user = sources(tmp_path)
    out = tmp_path / "out"
    build.build_data([snap], out, user_files=[user])
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    indicators = write(tmp_path / "indicators.csv", "city,country,gdp\nAtlantis,Atlantis,1\n")
    schema = write(tmp_path / "schema.json", json.dumps({"columns": {"gdp": "numeric"}}))
    with pytest.raises(InputError, match="none of the 1 rows could be used"):
        build.build_data([snap], out, indicators=indicators, indicator_schema=schema)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    killed = out / ".building-999999999"  # a staging directory a killed build left behind
    killed.mkdir()
    build.build_data([snap], out, user_files=[user])
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_cli_output_directories_are_checked_before_any_work(tmp_path):
    """Regression: an --out that cannot be created raised a traceback (for `twin evaluate`,
    after the whole evaluation); it is now refused first, naming the option and the path."""
    snap, _ = sources(tmp_path)
    blocker = write(tmp_path / "a-file", "")
    for command in (["data", "build", "--partnerships", str(snap)],
                    ["data", "fetch", "--source", "wikidata"],
                    ["evaluate", "--data-dir", str(tmp_path / "no-data")]):
        result = CliRunner().invoke(cli, [*command, "--out", str(blocker / "out")])
        assert result.exit_code == 2, (command, result.output)
        assert result.output == f"Error: --out {blocker / 'out'}: {blocker} is not a directory\n"


def test_a_build_that_resolves_nothing_is_an_error_and_writes_nothing(tmp_path):
    """Regression: a build where every row was rejected wrote a data directory with no
    partnerships over the previous one (training then failed on it)."""
    snap, user = sources(tmp_path)
    out = tmp_path / "out"
    build.build_data([snap], out, user_files=[user])
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    bad = write(tmp_path / "bad.csv", SNAPSHOT_HEADER + "Atlantis,Atlantis,0,0,Rome,Italy\n"
                + "Atlantis,Atlantis,0,0,Nowhere,Narnia,1,1\n")
    with pytest.raises(InputError) as error:
        build.build_data([bad], out)
    assert str(error.value) == (
        "no partnership could be resolved from the 2 rows given (rejected: malformed_row 1, "
        "no_name_match 1; first: bad.csv row 1, malformed_row: 6 fields where the header has "
        f"8; quote values that contain commas); nothing was written to {out}; fix the sources")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_cli_errors_are_clean(tmp_path):
    bad = write(tmp_path / "bad.csv", "city1,country1\nA,B\n")
    result = CliRunner().invoke(cli, ["data", "build", "--partnerships", str(bad),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {bad}: missing column 'lat1'; the header must contain: "
        "city1,country1,lat1,lng1,city2,country2,lat2,lng2\n")


def test_cli_fetch_failure(tmp_path, monkeypatch):
    import requests

    def refuse(*args, **kwargs):
        raise requests.ConnectionError("offline")

    monkeypatch.setattr(requests, "get", refuse)
    result = CliRunner().invoke(cli, ["data", "fetch", "--source", "wikidata",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: cannot fetch Wikidata from https://query.wikidata")


def test_build_with_open_data_writes_joins_report_and_manifest(tmp_path):
    snap, _ = sources(tmp_path)
    folder = write_open_data(tmp_path / "open", compress="xz")
    out = tmp_path / "out"
    report = build.build_data([snap], out, open_data=folder)
    assert set(report.open_data) == {"un_wup", "world_bank", "airports", "ports", "missions",
                                     "covenant", "heritage"}
    unjoined = pd.read_csv(out / "opendata_unjoined.csv", keep_default_na=False)
    assert len(unjoined) == sum(t["rows_in"] - t["rows_joined"]
                                for t in report.open_data.values())
    assert (unjoined["reason"] != "").all() and (unjoined["detail"] != "").all()
    saved = json.loads((out / config.REPORT_FILE).read_text())
    assert saved["open_data"]["un_wup"]["join_rate"] == report.open_data["un_wup"]["join_rate"]
    manifest = json.loads((out / config.MANIFEST_FILE).read_text())
    entries = {entry["table"]: entry for entry in manifest["open_data"]}
    assert entries["airports"]["file"] == "airports.csv.xz" and len(
        entries["airports"]["sha256"]) == 64
    assert "CC BY 3.0 IGO" in entries["un_wup"]["licence"]
    assert "opendata_unjoined.csv" in manifest["outputs"]
    schema = json.loads((out / config.FEATURE_SCHEMA_FILE).read_text())
    airports = next(f for f in schema["features"] if f["name"] == "airport_intl_destinations")
    assert airports["group"] == "appetite" and airports["rule"].startswith("airports within 50")
    growth = next(f for f in schema["features"] if f["name"] == "growth_2000_2020_pct")
    assert growth["level"] == "city|country" and "World Bank (country)" in growth["source"]
    assert {f["name"] for f in schema["descriptive"]} >= {"growth_level", "best_airport"}
    features = pd.read_parquet(out / config.FEATURES_FILE).set_index(C.GEONAMEID)
    assert features.loc[1835848, "growth_level"] == "city"  # Seoul: its agglomeration's
    assert features.loc[1835848, "diplomatic_missions"] == 12
    again = build.build_data([snap], tmp_path / "again", open_data=folder)
    assert again == report
    for name in ("features.parquet", "opendata_unjoined.csv", "manifest.json"):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    build.build_data([snap], out)  # rebuilt without: the old unjoined rows go too
    assert not (out / "opendata_unjoined.csv").exists()
    assert "growth_level" not in pd.read_parquet(out / config.FEATURES_FILE).columns


def test_cli_open_data_flags(tmp_path, monkeypatch):
    snap, _ = sources(tmp_path)
    runner = CliRunner()
    base = ["data", "build", "--partnerships", str(snap)]
    result = runner.invoke(cli, [*base, "--no-open-data", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "open data:            skipped (--no-open-data)" in result.output
    result = runner.invoke(cli, [*base, "--out", str(tmp_path / "b")])
    assert "open data:            none (" in result.output and "is absent" in result.output
    folder = write_open_data(tmp_path / "open")
    monkeypatch.setattr(config, "DEFAULT_OPEN_DATA", folder)
    result = runner.invoke(cli, [*base, "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "open data un_wup:" in result.output and "rows joined" in result.output
    assert (tmp_path / "c" / "opendata_unjoined.csv").exists()
    result = runner.invoke(cli, [*base, "--open-data", str(tmp_path / "nope"), "--out",
                                 str(tmp_path / "d")])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: --open-data {tmp_path / 'nope'}: not a folder")
    assert not (tmp_path / "d").exists()  # refused before anything was written
    (folder / "covenant_of_mayors_europe.csv").unlink()
    result = runner.invoke(cli, [*base, "--out", str(tmp_path / "e")])
    assert result.exit_code == 2 and "covenant_of_mayors_europe.csv (or .xz/.gz)" in result.output
    result = runner.invoke(cli, [*base, "--open-data", str(folder), "--no-open-data"])
    assert result.exit_code == 2 and "contradict" in result.output
