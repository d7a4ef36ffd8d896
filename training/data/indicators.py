"""User-supplied city indicators: read a CSV plus its JSON schema, validate, match rows to cities.

Rules (decided once, so users and tests can rely on them):
- Keys: a `geonameid` column, or `city` + `country` columns (both may be present; a row's
  geonameid wins when filled). `country` is an ISO2 code, a country name from the city table or
  a small alias (UK, South Korea, USA, ...). A city name is matched on its folded name/asciiname
  within the country, then on its alternate names; the most populous city wins (ties: lowest id).
- File-level problems raise InputError naming the file and what to do: missing/unreadable schema,
  unknown kind, a schema column absent from the CSV, a CSV column absent from the schema (an error,
  not a warning: mark columns you keep for yourself as "ignore"), no key columns, an empty or
  non-UTF-8 file, a ragged row, duplicate keys, or no row matching any city.
- Row-level problems reject the row with a reason (returned, never silent): unknown country,
  city not found, bad geonameid, a value that is not a number (numeric) or not yes/no (binary).
- Missing values are fine: an empty cell (or NA, n/a, null, none, - in numeric columns) is NaN.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from unidecode import unidecode

from matcher.columns import Columns as C
from matcher.errors import DataError, InputError
from matcher.places.country_names import COUNTRY_ALIASES, single_code
from training.data.featurespec import BUILTIN_FEATURE_NAMES
from training.data.ingest import check_header, csv_records, read_bytes

INDICATOR_KINDS = ("numeric", "categorical", "tags", "binary", "ignore")
KEY_GEONAMEID, KEY_CITY, KEY_COUNTRY = "geonameid", "city", "country"
KEY_COLUMNS = (KEY_GEONAMEID, KEY_CITY, KEY_COUNTRY)
LINE = "line"  # 1-based line of the row in the file (header is line 1)

MISSING_NUMBER_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})
TRUE_TOKENS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_TOKENS = frozenset({"false", "no", "n", "0", "f"})

SCHEMA_EXAMPLE = '{"columns": {"gdp_per_head": "numeric", "sectors": "tags"}}'


@dataclass(frozen=True)
class IndicatorSchema:
    """Indicator column names and their kinds, in file order (from indicators.schema.json)."""

    columns: tuple[tuple[str, str], ...]

    @property
    def kinds(self) -> dict[str, str]:
        return dict(self.columns)

    def names(self, kind: str | None = None) -> list[str]:
        """Column names (of one kind, if given); "ignore" columns only when asked for."""
        if kind is None:
            return [name for name, k in self.columns if k != "ignore"]
        return [name for name, k in self.columns if k == kind]

    def to_dict(self) -> dict:
        return {"columns": dict(self.columns)}

    @classmethod
    def from_dict(cls, data: object, source: str = "indicator schema") -> IndicatorSchema:
        """Validate a parsed schema; InputError naming `source` and the fix when it is malformed."""
        if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
            raise InputError(f"{source}: expected a JSON object like {SCHEMA_EXAMPLE}")
        columns = []
        for name, kind in data["columns"].items():
            if not isinstance(kind, str) or kind not in INDICATOR_KINDS:
                raise InputError(
                    f"{source}: column '{name}' has unknown kind {json.dumps(kind)}; "
                    f"use one of {', '.join(INDICATOR_KINDS)}"
                )
            if name.strip().lower() in KEY_COLUMNS:
                raise InputError(
                    f"{source}: '{name}' is a key column, not an indicator; "
                    "remove it from \"columns\""
                )
            columns.append((name.strip(), kind))
        _check_reserved([name for name, kind in columns if kind != "ignore"], source)
        return cls(columns=tuple(columns))

    @classmethod
    def load(cls, path: Path) -> IndicatorSchema:
        """Read and validate a schema JSON file."""
        path = Path(path)
        if not path.is_file():
            raise InputError(
                f"{path}: indicator schema file not found; write one like {SCHEMA_EXAMPLE}"
            )
        try:
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise InputError(f"{path}: not valid UTF-8; save the schema as UTF-8") from error
        except json.JSONDecodeError as error:
            raise InputError(
                f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: "
                f"{error.msg}); fix it to look like {SCHEMA_EXAMPLE}"
            ) from error
        return cls.from_dict(data, source=str(path))


@dataclass(frozen=True)
class IndicatorResult:
    """Typed indicator values (one row per matched city) and the rows that could not be used."""

    values: pd.DataFrame  # Columns.GEONAMEID int64 + one typed column per non-ignored indicator
    schema: IndicatorSchema
    rejected: pd.DataFrame  # row, line, geonameid, city, country (as given), reason

    @property
    def rows_in(self) -> int:
        return len(self.values) + len(self.rejected)


def _check_reserved(names: list[str], source: str) -> None:
    """Indicator names must not shadow a built-in feature column."""
    for name in names:
        if name in BUILTIN_FEATURE_NAMES or name == C.GEONAMEID:
            raise InputError(
                f"{source}: indicator '{name}' has the name of a built-in feature; rename it "
                "(e.g. 'user_" + name + "') in the CSV and the schema"
            )


def fold_name(text: object) -> str:
    """Compare-friendly form of a name: ASCII, case-folded, punctuation as single spaces."""
    if not isinstance(text, str):
        return ""
    folded = unidecode(text).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", folded).split())


def normalise_tags(value: object) -> str:
    """';'- or ','-separated tags -> sorted unique lowercase hyphenated tags, ';'-joined."""
    if not isinstance(value, str):
        return ""
    from matcher.explained.dimensions import tag_form

    tags = {tag_form(raw) for raw in re.split(r"[;,]", value)}
    return ";".join(sorted(tag for tag in tags if tag))


def _read_csv(path: Path) -> tuple[list[str], pd.DataFrame]:
    """Header and data rows as strings (+ row/line numbers); InputError for unreadable files."""
    if not path.is_file():
        raise InputError(f"{path}: indicators file not found; check the path")
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(
            f"{path}: line {line} is not valid UTF-8; save the file as UTF-8 "
            "(in Excel: 'CSV UTF-8')"
        ) from error
    if not text.strip():
        raise InputError(f"{path}: the file is empty; it needs a header row and one row per city")
    records = csv_records(text, path)
    header = records.header
    if records.malformed:
        number, line, fields = records.malformed[0]
        raise InputError(
            f"{path}: row {number} (line {line}) has {fields} fields but the header has "
            f"{len(header)}; quote values that contain commas"
        )
    check_header(header, path, names_required=True)
    if not records.rows:
        raise InputError(f"{path}: the file has a header but no data rows; add one row per city")
    frame = pd.DataFrame(records.rows, columns=header, dtype="str")
    frame.insert(0, LINE, np.asarray(records.lines, dtype=np.int64))
    frame.insert(0, C.ROW, np.asarray(records.numbers, dtype=np.int64))
    return header, frame


def _key_columns(header: list[str], path: Path) -> dict[str, str]:
    """Map key role -> header name (matched case-insensitively); InputError if unusable."""
    keys = {name.lower(): name for name in header if name.lower() in KEY_COLUMNS}
    if KEY_CITY in keys and KEY_COUNTRY not in keys:
        raise InputError(
            f"{path}: column 'city' needs a 'country' column (ISO2 code or name): city names "
            "are matched within their country"
        )
    if KEY_GEONAMEID not in keys and KEY_CITY not in keys:
        raise InputError(
            f"{path}: no key column; add 'geonameid', or 'city' and 'country', to the header"
        )
    return keys


def _check_columns(header: list[str], schema: IndicatorSchema, csv_path: Path,
                   schema_path: Path) -> None:
    """Every CSV column is a key or in the schema, and every schema column is in the CSV."""
    in_csv = [name for name in header if name.lower() not in KEY_COLUMNS]
    kinds = schema.kinds
    for name in in_csv:
        if name not in kinds:
            raise InputError(
                f"{csv_path}: column '{name}' is not in the schema {schema_path}; add it to "
                "\"columns\" with its kind (numeric, categorical, tags, binary) or \"ignore\""
            )
    for name in kinds:
        if name not in in_csv:
            raise InputError(
                f"{schema_path}: column '{name}' is in the schema but not in {csv_path}; "
                "add the column to the CSV or remove it from the schema"
            )


def _country_lookup(cities: pd.DataFrame) -> dict[str, str]:
    """Folded country spelling (code, name, alias) -> ISO2, restricted to the city table."""
    codes = set(cities[C.COUNTRY].dropna().astype(str))
    lookup = {code.casefold(): code for code in codes}
    if C.COUNTRY_NAME in cities.columns:
        pairs = cities[[C.COUNTRY_NAME, C.COUNTRY]].dropna().drop_duplicates()
        lookup.update({fold_name(n): code for n, code in pairs.itertuples(index=False)})
    for alias in COUNTRY_ALIASES:  # matcher.places.country_names: the one alias table
        code = single_code(alias, codes)
        if code is not None:
            lookup[alias] = code
    return lookup


def _name_lookup(cities: pd.DataFrame) -> dict[tuple[str, str], int]:
    """(ISO2, folded name or asciiname) -> geonameid of the most populous city (ties: lowest id)."""
    ranked = cities.sort_values([C.POPULATION, C.GEONAMEID], ascending=[False, True])
    parts = []
    if C.NAME not in ranked.columns:
        raise DataError("cities lack the name column; rebuild the data")
    for column in (C.NAME, C.ASCII_NAME):
        if column in ranked.columns:
            parts.append(pd.DataFrame({"country": ranked[C.COUNTRY].to_numpy(),
                                       "name": ranked[column].map(fold_name).to_numpy(),
                                       "id": ranked[C.GEONAMEID].to_numpy()}))
    table = pd.concat(parts, ignore_index=True)  # stable: rank order kept within each column
    table = table.assign(rank=np.tile(np.arange(len(ranked)), len(parts)))
    table = table.sort_values("rank", kind="stable").drop_duplicates(["country", "name"])
    return {(c, n): int(i) for c, n, i in table[["country", "name", "id"]].itertuples(index=False)}


def _alternate_lookup(cities: pd.DataFrame, country: str) -> dict[str, int]:
    """Folded alternate name -> geonameid of the most populous city of `country` bearing it."""
    if C.ALT_NAMES not in cities.columns:
        return {}
    local = cities[cities[C.COUNTRY] == country]
    local = local.sort_values([C.POPULATION, C.GEONAMEID], ascending=[False, True])
    lookup: dict[str, int] = {}
    for geonameid, alternates in local[[C.GEONAMEID, C.ALT_NAMES]].itertuples(index=False):
        for alternate in alternates.split(";") if isinstance(alternates, str) else ():
            lookup.setdefault(fold_name(alternate), int(geonameid))
    return lookup


def _resolve_name(city: str, country_raw: str, countries: dict[str, str],
                  names: dict[tuple[str, str], int], cities: pd.DataFrame,
                  alternates: dict[str, dict[str, int]]) -> tuple[int | None, str]:
    """A (city, country) key -> (geonameid, "") or (None, reason)."""
    if not country_raw:
        return None, f"country is empty for city '{city}'; give an ISO2 code such as GB"
    country = countries.get(fold_name(country_raw))
    if country is None:
        return None, (f"unknown country '{country_raw}'; use an ISO 3166-1 alpha-2 code "
                      "such as GB or KR")
    folded = fold_name(city)
    geonameid = names.get((country, folded))
    if geonameid is None and folded:
        if country not in alternates:  # built once per country, only when needed
            alternates[country] = _alternate_lookup(cities, country)
        geonameid = alternates[country].get(folded)
    if geonameid is None:
        return None, (f"city '{city}' not found in {country}; check the spelling or give "
                      "its geonameid")
    return geonameid, ""


def _resolve_keys(frame: pd.DataFrame, keys: dict[str, str],
                  cities: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each row's geonameid (or <NA>) and the reason when it has none ("" when it has one)."""
    known_ids = set(cities[C.GEONAMEID].astype(np.int64).tolist())
    countries = _country_lookup(cities) if KEY_COUNTRY in keys else {}
    names = _name_lookup(cities) if KEY_CITY in keys else {}
    alternates: dict[str, dict[str, int]] = {}
    column = {key: frame[keys[key]] if key in keys else pd.Series("", index=frame.index)
              for key in KEY_COLUMNS}
    ids: list[int | None] = []
    reasons: list[str] = []
    for raw_id, city, country_raw in zip(*column.values(), strict=True):
        geonameid, reason = None, ""
        if raw_id and not re.fullmatch(r"\d+", raw_id):
            reason = f"geonameid '{raw_id}' is not a whole number"
        elif raw_id and int(raw_id) not in known_ids:
            reason = f"geonameid {raw_id} is not in the city table"
        elif raw_id:
            geonameid = int(raw_id)
        elif city:
            geonameid, reason = _resolve_name(city, country_raw, countries, names, cities,
                                              alternates)
        else:
            reason = "no geonameid and no city name; fill one of them"
        ids.append(geonameid)
        reasons.append(reason)
    return pd.Series(ids, index=frame.index, dtype="Int64"), pd.Series(reasons, index=frame.index)


def _parse_column(raw: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """Typed values of one column and a boolean mask of cells that could not be parsed."""
    lowered = raw.str.casefold()
    if kind == "numeric":
        missing = lowered.isin(MISSING_NUMBER_TOKENS)
        numbers = pd.to_numeric(raw.where(~missing), errors="coerce").astype(np.float64)
        bad = ~missing & (numbers.isna() | ~np.isfinite(numbers.fillna(0.0)))
        return numbers.where(~bad), bad
    if kind == "binary":
        truth = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        truth[lowered.isin(TRUE_TOKENS)] = True
        truth[lowered.isin(FALSE_TOKENS)] = False
        bad = truth.isna() & ~lowered.isin(MISSING_NUMBER_TOKENS)
        return truth, bad
    no_error = pd.Series(False, index=raw.index)
    if kind == "tags":
        return raw.map(normalise_tags).astype("str"), no_error
    cleaned = raw.map(lambda v: " ".join(v.split())).astype("str")
    return cleaned.where(cleaned != ""), no_error


def _value_reasons(frame: pd.DataFrame, schema: IndicatorSchema) -> tuple[dict, pd.Series]:
    """Typed columns and, per row, the reasons its values are unusable ("" if none)."""
    typed, reasons = {}, pd.Series("", index=frame.index, dtype=object)
    for name, kind in schema.columns:
        if kind == "ignore":
            continue
        typed[name], bad = _parse_column(frame[name], kind)
        expected = "a number" if kind == "numeric" else "yes/no (true/false, 1/0)"
        for index in bad[bad].index:
            note = f"column '{name}': '{frame.at[index, name]}' is not {expected}"
            reasons[index] = f"{reasons[index]}; {note}" if reasons[index] else note
    return typed, reasons


def _check_duplicates(ids: pd.Series, frame: pd.DataFrame, path: Path) -> None:
    """Two rows for one city are ambiguous: InputError naming both rows."""
    usable = ids.dropna()
    duplicated = usable[usable.duplicated(keep=False)]
    if duplicated.empty:
        return
    first_id = duplicated.iloc[0]
    rows = frame.loc[duplicated[duplicated == first_id].index, C.ROW].tolist()
    listed = " and ".join(str(r) for r in rows[:2]) + (" ..." if len(rows) > 2 else "")
    raise InputError(f"{path}: rows {listed} both give city {first_id}; keep one row per city")


def check_files(csv_path: Path | None, schema_path: Path | None) -> None:
    """The file-level checks of load_indicators (both files given, readable, the schema valid,
    the header's keys and columns), so a build can refuse bad files before it writes anything."""
    if csv_path is None and schema_path is None:
        return
    if csv_path is None or schema_path is None:
        raise InputError("--indicators and --indicator-schema go together: the values and "
                         "their columns' kinds")
    _read_files(Path(csv_path), Path(schema_path))


def _read_files(csv_path: Path, schema_path: Path) -> tuple:
    """Schema, header, rows and key columns, after every file-level check."""
    schema = IndicatorSchema.load(schema_path)
    header, frame = _read_csv(csv_path)
    keys = _key_columns(header, csv_path)
    _check_columns(header, schema, csv_path, schema_path)
    return schema, frame, keys


def load_indicators(csv_path: Path, schema_path: Path, cities: pd.DataFrame) -> IndicatorResult:
    """Read, validate and match user indicators to `cities` (see the module docstring for rules)."""
    csv_path, schema_path = Path(csv_path), Path(schema_path)
    schema, frame, keys = _read_files(csv_path, schema_path)
    ids, key_reasons = _resolve_keys(frame, keys, cities)
    typed, value_reasons = _value_reasons(frame, schema)
    joined = ["; ".join(filter(None, pair))
              for pair in zip(key_reasons, value_reasons, strict=True)]
    reasons = pd.Series(joined, index=frame.index, dtype=object)
    accepted = reasons == ""
    _check_duplicates(ids[accepted], frame, csv_path)
    if not accepted.any():
        raise InputError(
            f"{csv_path}: none of the {len(frame)} rows could be used (row 1: "
            f"{reasons.iloc[0]}); fix the keys or values"
        )
    values = pd.DataFrame({C.GEONAMEID: ids[accepted].astype(np.int64)})
    for name in schema.names():
        values[name] = typed[name][accepted]
    values = values.sort_values(C.GEONAMEID, kind="stable").reset_index(drop=True)
    rejected = pd.DataFrame({
        C.ROW: frame[C.ROW], LINE: frame[LINE],
        **{key: frame[keys[key]] if key in keys else "" for key in KEY_COLUMNS},
        C.REASON: reasons,
    })[~accepted].reset_index(drop=True)
    rejected = rejected.astype({key: "str" for key in (*KEY_COLUMNS, C.REASON)})
    return IndicatorResult(values=values, schema=schema, rejected=rejected)
