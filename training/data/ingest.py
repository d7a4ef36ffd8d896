"""Readers for the partnership sources, each returning the same raw-row shape (RAW_COLUMNS).

Sources: the snapshot CSV (`city1,country1,lat1,lng1,city2,country2,lat2,lng2`), a user CSV keyed
by GeoNames ids or by name + country with optional outcomes, and Wikidata P190
(training.data.wikidata). File-level problems (empty, not UTF-8, missing or repeated columns) raise
InputError; row-level problems (more or fewer fields than the header, coordinates out of range, a
city partnered with itself, a bad outcome value) reject the row with a reason code and never stop
the build.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.columns import PARTNERSHIP_STATUSES
from matcher.columns import Columns as C
from matcher.errors import InputError

RAW_COLUMNS = [
    C.SOURCE, C.ROW,
    C.NAME_1, C.COUNTRY_1, C.LAT_1, C.LON_1, C.GEONAMEID_1,
    C.NAME_2, C.COUNTRY_2, C.LAT_2, C.LON_2, C.GEONAMEID_2,
    C.STATUS, C.STRENGTH, C.SINCE,
]
DETAIL = "detail"
REJECTED_COLUMNS = [*RAW_COLUMNS, C.REASON, DETAIL]

SNAPSHOT_COLUMNS = ["city1", "country1", "lat1", "lng1", "city2", "country2", "lat2", "lng2"]
SNAPSHOT_MAP = {
    "city1": C.NAME_1, "country1": C.COUNTRY_1, "lat1": C.LAT_1, "lng1": C.LON_1,
    "city2": C.NAME_2, "country2": C.COUNTRY_2, "lat2": C.LAT_2, "lng2": C.LON_2,
}
USER_ID_COLUMNS = ["geonameid_1", "geonameid_2"]
USER_NAME_COLUMNS = ["city_1", "country_1", "city_2", "country_2"]
USER_OPTIONAL = ["lat_1", "lon_1", "lat_2", "lon_2", "status", "strength", "since"]
USER_MAP = {
    "geonameid_1": C.GEONAMEID_1, "geonameid_2": C.GEONAMEID_2,
    "city_1": C.NAME_1, "country_1": C.COUNTRY_1, "lat_1": C.LAT_1, "lon_1": C.LON_1,
    "city_2": C.NAME_2, "country_2": C.COUNTRY_2, "lat_2": C.LAT_2, "lon_2": C.LON_2,
    "status": C.STATUS, "strength": C.STRENGTH, "since": C.SINCE,
}
SINCE_RANGE = (800, 2100)


@dataclass(frozen=True)
class IngestResult:
    """Usable raw rows (RAW_COLUMNS) and rejected rows (REJECTED_COLUMNS) of one source file."""

    rows: pd.DataFrame
    rejected: pd.DataFrame


def decode_utf8(data: bytes, path: Path) -> str:
    """The file's text; InputError naming the byte offset and line of the first non-UTF-8 byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}, "
            f"line {line}); save the file as UTF-8 and run again"
        ) from None


COMPRESSED_SUFFIXES = {".gz": "gzip", ".xz": "xz"}


def read_bytes(path: Path) -> bytes:
    """A file's bytes, decompressed when its name ends in .gz or .xz (the embedded data is
    xz-compressed); InputError naming the file when it cannot be read or decompressed."""
    import gzip
    import lzma

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(
            f"{path}: cannot read the file ({error.strerror}); check the path"
        ) from None
    kind = COMPRESSED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        return data
    try:
        return gzip.decompress(data) if kind == "gzip" else lzma.decompress(data)
    except (OSError, EOFError, lzma.LZMAError) as error:
        raise InputError(
            f"{path}: not a readable {kind} file ({error}); the name ends in {path.suffix}: "
            f"recompress it, or give the uncompressed file"
        ) from None


def read_text(path: Path, empty_hint: str) -> str:
    """A whole UTF-8 file (decompressed if .gz/.xz); InputError naming the file when it is
    unreadable, not UTF-8 or empty."""
    path = Path(path)
    data = read_bytes(path)
    text = decode_utf8(data, path)
    if not text.strip():
        raise InputError(f"{path}: the file is empty; {empty_hint}")
    return text


@dataclass(frozen=True)
class CsvRecords:
    """A CSV text's header and data rows, fields stripped; blank lines are not rows."""

    header: list[str]
    rows: list[list[str]]  # the rows with the header's number of fields
    numbers: list[int]  # each row's number among the data rows (1-based)
    lines: list[int]  # the line each row starts on
    malformed: list[tuple[int, int, int]]  # (number, line, fields) of the other rows


def csv_records(text: str, path: Path, skipinitialspace: bool = False) -> CsvRecords:
    """Split a CSV text into its header and rows, setting apart the rows whose count of fields
    is not the header's (each reader decides what they mean); InputError naming the line when
    the csv module cannot read it. `text` has at least one non-blank line."""
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=skipinitialspace)
    header: list[str] | None = None
    rows, numbers, lines, malformed = [], [], [], []
    previous_end = 0
    try:
        for fields in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not any(field.strip() for field in fields):
                continue
            if header is None:
                header = [field.strip() for field in fields]
                continue
            number = len(numbers) + len(malformed) + 1
            if len(fields) == len(header):
                rows.append([field.strip() for field in fields])
                numbers.append(number)
                lines.append(line)
            else:
                malformed.append((number, line, len(fields)))
    except csv.Error as error:
        raise InputError(f"{path}: not a readable CSV file (line {reader.line_num}: "
                         f"{error})") from None
    assert header is not None, "csv_records needs a non-blank text"
    return CsvRecords(header, rows, numbers, lines, malformed)


def check_header(header: list[str], path: Path, names_required: bool = False) -> None:
    """InputError for a column named twice (and, if `names_required`, one with no name)."""
    for position, name in enumerate(header, start=1):
        if names_required and not name:
            raise InputError(f"{path}: header column {position} has no name; name or remove it")
        if header.count(name) > 1:
            raise InputError(f"{path}: column '{name}' appears twice in the header; keep one")


def read_csv_text(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All cells as stripped strings, indexed by data row (0-based; blank lines are not rows),
    and the rows whose count of fields is not the header's (row, fields): those cannot be
    read into columns, so they are rejected rather than stopping the file (a stray comma in
    one row of a 22k-row snapshot). InputError if unreadable, empty or bare."""
    path = Path(path)
    records = csv_records(read_text(path, "expected a header line and data rows"), path,
                          skipinitialspace=True)
    check_header(records.header, path)
    if not records.rows and not records.malformed:
        raise InputError(f"{path}: no data rows after the header; add at least one partnership")
    frame = pd.DataFrame(records.rows, columns=records.header, dtype=str,
                         index=np.asarray(records.numbers, dtype=np.int64) - 1)
    malformed = pd.DataFrame([(number, fields) for number, _, fields in records.malformed],
                             columns=[C.ROW, "fields"], dtype=np.int64)
    return frame, malformed


def _with_malformed(result: IngestResult, malformed: pd.DataFrame, width: int,
                    source: str) -> IngestResult:
    """`result` with a rejected row (reason malformed_row) for each row that could not be read
    into columns, in row order with the others."""
    if malformed.empty:
        return result
    blank = pd.DataFrame({name: "" for name in SNAPSHOT_MAP.values()},
                         index=malformed[C.ROW].to_numpy() - 1)
    rows = validate_rows(blank, source).rejected.assign(**{
        C.REASON: "malformed_row",
        DETAIL: [f"{count} fields where the header has {width}; quote values that contain "
                 "commas" for count in malformed["fields"]]})
    rejected = pd.concat([result.rejected, rows], ignore_index=True)
    return IngestResult(result.rows, rejected.sort_values(C.ROW, kind="stable")
                        .reset_index(drop=True))


def require_columns(found: list[str], expected: list[str], path: Path) -> None:
    """InputError for the first expected column missing, suggesting the closest header name."""
    for name in expected:
        if name in found:
            continue
        spare = [f for f in found if f not in expected]
        close = difflib.get_close_matches(name, spare, n=1, cutoff=0.6)
        hint = f" (found '{close[0]}': misspelt?)" if close else ""
        raise InputError(
            f"{path}: missing column '{name}'{hint}; the header must contain: {','.join(expected)}"
        )


def _numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float values, mask of non-blank cells that are not numbers)."""
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values, text.ne("") & values.isna()


def _reject(reasons: pd.Series, details: pd.Series, mask, reason: str, detail) -> None:
    """Record reason/detail for rows in mask that have no reason yet (first problem wins)."""
    fresh = np.asarray(mask, dtype=bool) & reasons.isna().to_numpy()
    reasons[fresh] = reason
    details[fresh] = detail[fresh] if isinstance(detail, pd.Series) else detail


def validate_rows(raw: pd.DataFrame, source: str) -> IngestResult:
    """Typed RAW_COLUMNS frame from string cells named as RAW_COLUMNS; bad rows split off."""
    n = len(raw)
    text = {col: raw[col] if col in raw else pd.Series([""] * n, index=raw.index, dtype=str)
            for col in RAW_COLUMNS if col not in (C.SOURCE, C.ROW)}
    out = pd.DataFrame({C.SOURCE: source, C.ROW: raw.index.to_numpy(np.int64) + 1},
                       index=raw.index)
    reasons = pd.Series([None] * n, index=raw.index, dtype=object)
    details = pd.Series([None] * n, index=raw.index, dtype=object)
    for side in ("1", "2"):
        lat_col, lon_col = f"lat_{side}", f"lon_{side}"
        lat, bad_lat = _numbers(text[lat_col])
        lon, bad_lon = _numbers(text[lon_col])
        _reject(reasons, details, bad_lat | bad_lon, "bad_coordinate",
                f"{lat_col}/{lon_col} must be numbers")
        _reject(reasons, details, lat.abs() > 90, "latitude_out_of_range",
                f"{lat_col} must be within [-90, 90]")
        _reject(reasons, details, lon.abs() > 180, "longitude_out_of_range",
                f"{lon_col} must be within [-180, 180]")
        ids, bad_ids = _numbers(text[f"geonameid_{side}"])
        bad_ids |= ids.notna() & ((ids <= 0) | (ids != ids.round()))
        _reject(reasons, details, bad_ids, "bad_geonameid",
                f"geonameid_{side} must be a positive whole number")
        _reject(reasons, details, ids.isna() & text[f"name_{side}"].eq(""), "missing_city",
                f"end {side} has neither a name nor a geonameid")
        out[f"name_{side}"] = text[f"name_{side}"]
        out[f"country_{side}"] = text[f"country_{side}"]
        out[lat_col], out[lon_col] = lat, lon
        out[f"geonameid_{side}"] = ids.where(~bad_ids).astype("Int64")
    same_id = out[C.GEONAMEID_1].notna() & out[C.GEONAMEID_1].eq(out[C.GEONAMEID_2])
    same_name = (out[C.NAME_1].str.casefold().eq(out[C.NAME_2].str.casefold())
                 & out[C.NAME_1].ne("")
                 & out[C.COUNTRY_1].str.casefold().eq(out[C.COUNTRY_2].str.casefold()))
    apart = ((out[C.LAT_1] - out[C.LAT_2]).abs() + (out[C.LON_1] - out[C.LON_2]).abs()) > 0.01
    same_name &= ~apart.fillna(False)  # namesakes with distinct coordinates may be partners
    _reject(reasons, details, same_id.fillna(False) | same_name, "self_partnership",
            "a city cannot be partnered with itself")
    status = text[C.STATUS].str.casefold()
    _reject(reasons, details, status.ne("") & ~status.isin(PARTNERSHIP_STATUSES),
            "unknown_status", f"status must be one of {', '.join(PARTNERSHIP_STATUSES)} or blank")
    strength, bad_strength = _numbers(text[C.STRENGTH])
    _reject(reasons, details, bad_strength | (strength < 0) | (strength > 1),
            "strength_out_of_range", "strength must be a number within [0, 1]")
    since, bad_since = _numbers(text[C.SINCE])
    bad_since |= since.notna() & ((since != since.round()) | (since < SINCE_RANGE[0])
                                  | (since > SINCE_RANGE[1]))
    _reject(reasons, details, bad_since, "bad_since",
            f"since must be a year within {SINCE_RANGE[0]}..{SINCE_RANGE[1]}")
    out[C.STATUS] = status.where(status.ne(""), None).astype(object)
    out[C.STRENGTH] = strength
    out[C.SINCE] = since.where(~bad_since).astype("Int64")
    out = out[RAW_COLUMNS]
    bad = reasons.notna()
    rejected = out[bad].assign(**{C.REASON: reasons[bad], DETAIL: details[bad]})
    return IngestResult(out[~bad].reset_index(drop=True), rejected.reset_index(drop=True))


def read_snapshot(path: Path, source: str = "snapshot") -> IngestResult:
    """The snapshot CSV format (`city1,country1,lat1,lng1,city2,country2,lat2,lng2`)."""
    frame, malformed = read_csv_text(path)
    require_columns(list(frame.columns), SNAPSHOT_COLUMNS, Path(path))
    result = validate_rows(frame[SNAPSHOT_COLUMNS].rename(columns=SNAPSHOT_MAP), source)
    return _with_malformed(result, malformed, len(frame.columns), source)


def read_user(path: Path, source: str = "user") -> IngestResult:
    """A user CSV keyed by `geonameid_1,geonameid_2` or `city_1,country_1,city_2,country_2`."""
    path = Path(path)
    frame, malformed = read_csv_text(path)
    found = list(frame.columns)
    if not set(USER_ID_COLUMNS) <= set(found):
        if any(col in found for col in USER_ID_COLUMNS):
            require_columns(found, USER_ID_COLUMNS, path)
        try:
            require_columns(found, USER_NAME_COLUMNS, path)
        except InputError as error:
            raise InputError(
                f"{error} (or key the rows by GeoNames ids with columns "
                f"{','.join(USER_ID_COLUMNS)})"
            ) from None
    for name in found:
        close = difflib.get_close_matches(name, list(USER_MAP), n=1, cutoff=0.75)
        if name not in USER_MAP and close and close[0] not in found:
            raise InputError(
                f"{path}: unknown column '{name}' (did you mean '{close[0]}'?); "
                f"recognised columns: {','.join(USER_MAP)}"
            )
    known = [c for c in USER_MAP if c in found]
    result = validate_rows(frame[known].rename(columns=USER_MAP), source)
    return _with_malformed(result, malformed, len(found), source)
