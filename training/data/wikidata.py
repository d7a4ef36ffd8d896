"""Wikidata P190 (twinned administrative body): fetch the SPARQL result, parse it into raw rows.

`fetch_wikidata` stores the endpoint's JSON answer verbatim (with a UTC timestamp in the file name)
so a build is reproducible from the stored file; `read_wikidata` parses that SPARQL 1.1 JSON results
shape into the ingest output shape (training.data.ingest.RAW_COLUMNS).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from matcher.errors import InputError
from training.data.ingest import IngestResult, read_text, validate_rows

ENDPOINT = "https://query.wikidata.org/sparql"
USER_AGENT = "citytwin/0.1 (twin-city matching engine; data build)"
TIMEOUT_S = 300
FILE_PREFIX = "wikidata-p190-"

# one row per (city, twin) statement; SAMPLE keeps one country/coordinate/GeoNames id per item
QUERY = """
SELECT ?city1 ?city1Label ?city2 ?city2Label
       (SAMPLE(?iso1) AS ?country1) (SAMPLE(?coord1) AS ?coords1) (SAMPLE(?gn1) AS ?geonames1)
       (SAMPLE(?iso2) AS ?country2) (SAMPLE(?coord2) AS ?coords2) (SAMPLE(?gn2) AS ?geonames2)
WHERE {
  ?city1 wdt:P190 ?city2 .
  OPTIONAL { ?city1 wdt:P17 ?c1 . ?c1 wdt:P297 ?iso1 . }
  OPTIONAL { ?city1 wdt:P625 ?coord1 . }
  OPTIONAL { ?city1 wdt:P1566 ?gn1 . }
  OPTIONAL { ?city2 wdt:P17 ?c2 . ?c2 wdt:P297 ?iso2 . }
  OPTIONAL { ?city2 wdt:P625 ?coord2 . }
  OPTIONAL { ?city2 wdt:P1566 ?gn2 . }
  SERVICE wikibase:label { bd:serviceParam wikibase:language "en,mul". }
}
GROUP BY ?city1 ?city1Label ?city2 ?city2Label
ORDER BY ?city1 ?city2
"""

_POINT = re.compile(r"^\s*Point\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\)\s*$")


def fetch_wikidata(out_dir: Path, *, session=None, timeout: float = TIMEOUT_S,
                   now: datetime | None = None) -> Path:
    """Run the P190 query against the Wikidata endpoint and store the JSON answer in out_dir."""
    import requests

    getter = session if session is not None else requests
    try:
        response = getter.get(
            ENDPOINT,
            params={"query": QUERY, "format": "json"},
            headers={"User-Agent": USER_AGENT, "Accept": "application/sparql-results+json"},
            timeout=timeout,
        )
        response.raise_for_status()
        payload = response.json()
    except requests.RequestException as error:
        reason = re.sub(r"with url: \S+ ", "", str(error))  # the query: a page of SPARQL
        raise InputError(
            f"cannot fetch Wikidata from {ENDPOINT} ({type(error).__name__}: {reason}); check "
            f"the network connection, or pass a stored response with --wikidata FILE"
        ) from None
    except ValueError:
        raise InputError(
            f"{ENDPOINT} answered with something that is not JSON; try again later"
        ) from None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{FILE_PREFIX}{stamp}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def _value(binding: dict, var: str) -> str:
    cell = binding.get(var)
    return str(cell.get("value", "")).strip() if isinstance(cell, dict) else ""


def _point(text: str) -> tuple[str, str]:
    """WKT 'Point(lon lat)' -> (lat, lon) strings; ('', '') when absent, 'x' when unparseable."""
    if not text:
        return "", ""
    match = _POINT.match(text)
    return (match.group(2), match.group(1)) if match else ("x", "x")


def _label(binding: dict, var: str) -> str:
    """The item's English label, or its Q-id when Wikidata has no label."""
    label = _value(binding, f"{var}Label")
    return label or _value(binding, var).rsplit("/", 1)[-1]


def bindings_to_frame(bindings: list[dict]) -> pd.DataFrame:
    """String cells named as the raw columns, one row per SPARQL binding."""
    rows = []
    for binding in bindings:
        row = {}
        for side in ("1", "2"):
            lat, lon = _point(_value(binding, f"coords{side}"))
            row.update({
                f"name_{side}": _label(binding, f"city{side}"),
                f"country_{side}": _value(binding, f"country{side}").upper(),
                f"lat_{side}": lat,
                f"lon_{side}": lon,
                f"geonameid_{side}": _value(binding, f"geonames{side}"),
            })
        rows.append(row)
    columns = [f"{f}_{s}" for s in ("1", "2")
               for f in ("name", "country", "lat", "lon", "geonameid")]
    return pd.DataFrame(rows, columns=columns, dtype=str)


def read_wikidata(path: Path, source: str = "wikidata") -> IngestResult:
    """Parse a stored SPARQL JSON answer (as written by fetch_wikidata) into raw rows."""
    path = Path(path)
    text = read_text(path, "run `twin data fetch --source wikidata`")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            f"fetch it again with `twin data fetch --source wikidata`"
        ) from None
    bindings = payload.get("results", {}).get("bindings") if isinstance(payload, dict) else None
    if not isinstance(bindings, list):
        raise InputError(
            f"{path}: not a SPARQL JSON result (no results.bindings list); "
            f"fetch it again with `twin data fetch --source wikidata`"
        )
    if not bindings:
        raise InputError(f"{path}: the Wikidata result has no rows; nothing to ingest")
    return validate_rows(bindings_to_frame(bindings), source)

