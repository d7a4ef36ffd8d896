"""Readers: one output shape for every source; exact messages for unusable files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import requests
from data_factories import SNAPSHOT_HEADER, write
from paths import FIXTURES, REPO

from matcher.columns import Columns as C
from matcher.errors import InputError
from training.data.ingest import RAW_COLUMNS, REJECTED_COLUMNS, read_snapshot, read_user
from training.data.wikidata import ENDPOINT, USER_AGENT, fetch_wikidata, read_wikidata

FIXTURE = FIXTURES / "wikidata_p190.json"


def test_snapshot_rows_in_the_common_shape(tmp_path):
    path = write(tmp_path / "s.csv", SNAPSHOT_HEADER
                 + "Seoul – Gwanak,South Korea,37.47,126.95,Mitte (Berlin),Germany,52.52,13.40\n"
                 + "Tokyo,,35.68,139.69,Paris,France,,\n")
    result = read_snapshot(path)
    assert list(result.rows.columns) == RAW_COLUMNS
    assert result.rows[C.ROW].tolist() == [1, 2]
    assert result.rows[C.SOURCE].unique().tolist() == ["snapshot"]
    second = result.rows.iloc[1]
    assert second[C.COUNTRY_1] == "" and np.isnan(second[C.LAT_2])
    assert result.rows[C.GEONAMEID_1].isna().all()
    assert result.rejected.empty and list(result.rejected.columns) == REJECTED_COLUMNS


def test_row_level_problems_are_rejected_with_reasons(tmp_path):
    path = write(tmp_path / "s.csv", SNAPSHOT_HEADER
                 + "A,France,95,2,B,France,48,2\n"
                 + "A,France,45,200,B,France,48,2\n"
                 + "A,France,north,2,B,France,48,2\n"
                 + "Stryi,Ukraine,49.25,23.85,Stryi,Ukraine,49.25,23.85\n"
                 + ",France,45,2,B,France,48,2\n"
                 + "Paris,France,48.85,2.35,Paris,United States,33.66,-95.55\n")
    result = read_snapshot(path)
    assert result.rows[C.ROW].tolist() == [6]  # namesakes in two countries are fine
    assert dict(zip(result.rejected[C.ROW], result.rejected[C.REASON], strict=True)) == {
        1: "latitude_out_of_range", 2: "longitude_out_of_range", 3: "bad_coordinate",
        4: "self_partnership", 5: "missing_city"}


def test_rows_with_the_wrong_number_of_fields_are_rejected_not_fatal(tmp_path):
    """Regression: one row with an unquoted comma stopped the whole file ("Expected 8 fields in
    line 4, saw 9"), and a short row was rejected as a bad coordinate; both are now rejected as
    malformed, the other rows keep their numbers, and blank lines are not rows."""
    path = write(tmp_path / "s.csv", SNAPSHOT_HEADER
                 + "Seoul,South Korea,37.5,127.0,Mitte,Germany,52.52,13.40\n"
                 + "Busan,Korea, Republic of,35.1,129.0,Mitte,Germany,52.52,13.40\n"
                 + "\n"
                 + "Tokyo,Japan,35.68,139.69\n"
                 + "Tokyo,Japan,35.68,139.69,Paris,France,48.85,2.35\n")
    result = read_snapshot(path)
    assert result.rows[C.ROW].tolist() == [1, 4]
    assert list(result.rejected.columns) == REJECTED_COLUMNS
    assert result.rejected[[C.ROW, C.REASON, "detail"]].values.tolist() == [
        [2, "malformed_row", "9 fields where the header has 8; quote values that contain "
                             "commas"],
        [3, "malformed_row", "4 fields where the header has 8; quote values that contain "
                             "commas"]]
    user = write(tmp_path / "u.csv", "geonameid_1,geonameid_2\n1,2\n3\n")
    result = read_user(user)
    assert (result.rows[C.ROW].tolist(), result.rejected[C.ROW].tolist()) == ([1], [2])


def test_a_column_named_twice_is_a_file_error(tmp_path):
    path = write(tmp_path / "s.csv", SNAPSHOT_HEADER.strip() + ",city1\n"
                 + "A,France,45,2,B,France,48,2,C\n")
    with pytest.raises(InputError) as error:
        read_snapshot(path)
    assert str(error.value) == f"{path}: column 'city1' appears twice in the header; keep one"


def test_user_csv_by_ids_and_by_names_with_outcomes(tmp_path):
    path = write(tmp_path / "u.csv",
                 "geonameid_1,geonameid_2,city_1,country_1,city_2,country_2,status,strength,since\n"
                 "11523293,2950159,,,,,Active,0.8,2015\n"
                 ",,Sejong,KR,Tokyo,Japan,,,\n"
                 "1,2,,,,,paused,,\n"
                 "1,2,,,,,active,1.5,\n"
                 "1,2,,,,,active,,1999.5\n"
                 "7,7,,,,,,,\n"
                 "x,2,,,,,,,\n")
    result = read_user(path)
    rows = result.rows
    assert rows[C.ROW].tolist() == [1, 2]
    first = rows.iloc[0]
    assert (first[C.GEONAMEID_1], first[C.GEONAMEID_2]) == (11523293, 2950159)
    assert (first[C.STATUS], first[C.STRENGTH], first[C.SINCE]) == ("active", 0.8, 2015)
    assert rows.iloc[1][C.NAME_2] == "Tokyo" and pd.isna(rows.iloc[1][C.GEONAMEID_1])
    assert result.rejected[C.REASON].tolist() == [
        "unknown_status", "strength_out_of_range", "bad_since", "self_partnership",
        "bad_geonameid"]


def test_user_csv_by_names_only_with_coordinates(tmp_path):
    path = write(tmp_path / "u.csv", "city_1,country_1,lat_1,lon_1,city_2,country_2\n"
                                     "Sejong,KR,36.6,127.3,Tokyo,JP\n")
    rows = read_user(path).rows
    assert rows.iloc[0][C.LAT_1] == 36.6 and np.isnan(rows.iloc[0][C.LAT_2])


def test_recorded_wikidata_response_parses(tmp_path):
    result = read_wikidata(FIXTURE)
    rows = result.rows
    assert rows[C.NAME_1].tolist() == ["Seoul", "Berlin", "Vienna"]
    assert rows[C.GEONAMEID_1].tolist() == [1835848, 2950159, 2761369]
    assert pd.isna(rows.iloc[1][C.GEONAMEID_2])
    assert rows.iloc[0][C.LAT_1] == 37.56 and rows.iloc[0][C.LON_1] == 126.99
    assert rows.iloc[0][C.COUNTRY_2] == "JP"
    rejected = result.rejected.iloc[0]
    assert (rejected[C.ROW], rejected[C.NAME_1], rejected[C.REASON]) == (
        4, "Q123456789", "latitude_out_of_range")
    sample = REPO / "data" / "samples" / "wikidata_p190_sample.json"
    assert sample.read_bytes() == FIXTURE.read_bytes()


# --- file-level errors: exact messages ---

def test_missing_misspelt_column(tmp_path):
    path = write(tmp_path / "s.csv",
                 "city1,contry1,lat1,lng1,city2,country2,lat2,lng2\nA,B,1,2,C,D,3,4\n")
    with pytest.raises(InputError) as error:
        read_snapshot(path)
    assert str(error.value) == (
        f"{path}: missing column 'country1' (found 'contry1': misspelt?); the header must "
        "contain: city1,country1,lat1,lng1,city2,country2,lat2,lng2")


def test_empty_file_and_header_only(tmp_path):
    empty = write(tmp_path / "e.csv", "")
    with pytest.raises(InputError) as error:
        read_snapshot(empty)
    assert str(error.value) == f"{empty}: the file is empty; expected a header line and data rows"
    bare = write(tmp_path / "h.csv", SNAPSHOT_HEADER)
    with pytest.raises(InputError) as error:
        read_snapshot(bare)
    assert str(error.value) == (
        f"{bare}: no data rows after the header; add at least one partnership")


def test_non_utf8_file_names_offset_and_line(tmp_path):
    path = write(tmp_path / "l.csv", SNAPSHOT_HEADER + "Orléans,France,47.9,1.9,B,France,48,2\n",
                 encoding="latin-1")
    with pytest.raises(InputError) as error:
        read_snapshot(path)
    assert str(error.value) == (
        f"{path}: not UTF-8 text (byte 0xe9 at offset 53, line 2); save the file as UTF-8 "
        "and run again")


def test_user_csv_missing_keys_and_misspelt_optional(tmp_path):
    path = write(tmp_path / "u.csv", "city_1,country_1,city_2\nA,FR,B\n")
    with pytest.raises(InputError) as error:
        read_user(path)
    assert str(error.value) == (
        f"{path}: missing column 'country_2'; the header must contain: "
        "city_1,country_1,city_2,country_2 (or key the rows by GeoNames ids with columns "
        "geonameid_1,geonameid_2)")
    path = write(tmp_path / "v.csv", "geonameid_1,geonameid_2,strenght\n1,2,0.5\n")
    with pytest.raises(InputError) as error:
        read_user(path)
    assert str(error.value) == (
        f"{path}: unknown column 'strenght' (did you mean 'strength'?); recognised columns: "
        "geonameid_1,geonameid_2,city_1,country_1,lat_1,lon_1,city_2,country_2,lat_2,lon_2,"
        "status,strength,since")


def test_unreadable_and_wrong_shape_json(tmp_path):
    bad = write(tmp_path / "w.json", '{"results": {"bindings": [}')
    with pytest.raises(InputError) as error:
        read_wikidata(bad)
    assert str(error.value) == (
        f"{bad}: not valid JSON (line 1, column 27: Expecting value); fetch it again with "
        "`twin data fetch --source wikidata`")
    shape = write(tmp_path / "x.json", json.dumps({"head": {}}))
    with pytest.raises(InputError) as error:
        read_wikidata(shape)
    assert str(error.value) == (
        f"{shape}: not a SPARQL JSON result (no results.bindings list); fetch it again with "
        "`twin data fetch --source wikidata`")
    none = write(tmp_path / "n.json", json.dumps({"results": {"bindings": []}}))
    with pytest.raises(InputError) as error:
        read_wikidata(none)
    assert str(error.value) == f"{none}: the Wikidata result has no rows; nothing to ingest"


# --- fetch, never over the network ---

class FakeResponse:
    def __init__(self, payload):
        self.payload = payload

    def raise_for_status(self):
        return None

    def json(self):
        return self.payload


class FakeSession:
    def __init__(self, payload=None, error=None):
        self.payload, self.error, self.calls = payload, error, []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if self.error:
            raise self.error
        return FakeResponse(self.payload)


def test_fetch_stores_the_answer_with_a_utc_timestamp(tmp_path):
    from datetime import UTC, datetime

    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    session = FakeSession(payload)
    path = fetch_wikidata(tmp_path / "raw", session=session,
                          now=datetime(2026, 11, 28, 2, 0, 5, tzinfo=UTC))
    assert path.name == "wikidata-p190-20261128T020005Z.json"
    url, kwargs = session.calls[0]
    assert url == ENDPOINT
    assert kwargs["headers"]["User-Agent"] == USER_AGENT and kwargs["timeout"] > 0
    assert "wdt:P190" in kwargs["params"]["query"] and "P1566" in kwargs["params"]["query"]
    assert len(read_wikidata(path).rows) == 3


def test_fetch_failure_is_a_clear_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise requests.ConnectionError("no route to host")

    monkeypatch.setattr(requests, "get", refuse)
    with pytest.raises(InputError) as error:
        fetch_wikidata(tmp_path)
    assert str(error.value) == (
        f"cannot fetch Wikidata from {ENDPOINT} (ConnectionError: no route to host); check the "
        "network connection, or pass a stored response with --wikidata FILE")
    assert not list(tmp_path.iterdir())


def test_fetch_failure_leaves_the_query_out_of_the_message(tmp_path, monkeypatch):
    """urllib3 puts the whole request URL, a page of SPARQL, in its message: it is dropped."""
    def refuse(*args, **kwargs):
        raise requests.ConnectionError(
            "HTTPSConnectionPool(host='query.wikidata.org', port=443): Max retries exceeded "
            "with url: /sparql?query=%0ASELECT+%3Fcity1 (Caused by NameResolutionError(...))")

    monkeypatch.setattr(requests, "get", refuse)
    with pytest.raises(InputError) as error:
        fetch_wikidata(tmp_path)
    assert "(ConnectionError: HTTPSConnectionPool(host='query.wikidata.org', port=443): Max " \
           "retries exceeded (Caused by NameResolutionError(...)))" in str(error.value)
    assert "SELECT" not in str(error.value)


def test_sample_user_file_reads(tmp_path):
    sample = REPO / "data" / "samples" / "user_partnerships.csv"
    copy = shutil.copy(sample, tmp_path / "u.csv")
    assert len(read_user(copy).rows) == 5


@pytest.mark.parametrize("suffix", [".gz", ".xz"])
def test_compressed_snapshots_read_like_plain_ones(tmp_path, suffix):
    import gzip
    import lzma

    text = SNAPSHOT_HEADER + "Cardiff,Wales,51.48,-3.18,Nantes,France,47.22,-1.55\n"
    plain = read_snapshot(write(tmp_path / "s.csv", text))
    pack = gzip.compress if suffix == ".gz" else lzma.compress
    path = tmp_path / f"s.csv{suffix}"
    path.write_bytes(pack(text.encode("utf-8")))
    pd.testing.assert_frame_equal(read_snapshot(path).rows, plain.rows)


def test_a_broken_compressed_file_is_an_input_error_naming_it(tmp_path):
    path = tmp_path / "s.csv.gz"
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(InputError, match=r"s\.csv\.gz: not a readable gzip file"):
        read_snapshot(path)
