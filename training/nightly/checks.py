"""Checks of the nightly job, as pure functions: sources, data drift, and the promotion gate."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from matcher import config
from matcher.errors import DataError, InputError
from training.model.evaluate import BASELINES

if TYPE_CHECKING:
    from training.nightly.options import NightlyOptions

SCHEMA_TABLES = {"partnerships": config.PARTNERSHIPS_FILE, "cities": config.CITIES_FILE}


def check_sources(options: NightlyOptions) -> list[dict]:
    """Every configured source exists and has content; their sizes and sha256 for the report."""
    if not options.sources:
        raise InputError("no source configured; pass --partnerships, --user or --wikidata FILE")
    sources = []
    for path in options.sources:
        path = Path(path)
        if not path.is_file():
            raise InputError(
                f"source {path} does not exist; check the path or the job that writes it"
            )
        data = path.read_bytes()
        if not data.strip():
            raise InputError(f"source {path} is empty; check the job that writes it")
        lines = [line for line in data.splitlines() if line.strip()]
        entry = {"path": str(path), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if path.suffix.lower() in (".csv", ".tsv"):
            if len(lines) < 2:
                raise InputError(f"source {path} has a header but no data rows")
            entry["rows"] = check_not_truncated(data, path)
        sources.append(entry)
    return sources


def check_not_truncated(data: bytes, path: Path) -> int:
    """The CSV's count of data rows; InputError when its last line has no line ending and
    not the header's number of fields: a file cut while being written or copied."""
    from training.data.ingest import csv_records, decode_utf8

    records = csv_records(decode_utf8(data, path), path, skipinitialspace=True)
    count = len(records.rows) + len(records.malformed)
    if data.endswith((b"\n", b"\r")) or not records.malformed:
        return count
    number, line, fields = records.malformed[-1]
    if records.lines and records.lines[-1] > line:  # the last row is whole
        return count
    raise InputError(
        f"source {path} looks truncated: its last line (line {line}, row {number}) has no line "
        f"ending and {fields} of the header's {len(records.header)} fields; the file was "
        "probably cut while being written or copied; export it again"
    )


def table_columns(path: Path) -> list[str]:
    """Column names of a Parquet table, read from its footer (no data)."""
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def data_snapshot(processed_dir: Path, report: dict) -> dict:
    """What the next run compares against: the data report and the tables' columns."""
    columns = {}
    for table, filename in SCHEMA_TABLES.items():
        path = processed_dir / filename
        if not path.exists():
            raise DataError(f"data build wrote no {filename} in {processed_dir}")
        columns[table] = table_columns(path)
    return {"report": report, "columns": columns}


def _number(report: dict, key: str) -> float | None:
    value = report.get(key)
    return float(value) if isinstance(value, int | float) else None


def validate_data(new: dict, reference: dict | None, options: NightlyOptions) -> list[str]:
    """Reasons to refuse the new data (empty when it is fine), against the last good run."""
    report = new["report"]
    reasons = []
    partnerships = _number(report, "unique_partnerships")
    if not partnerships:
        reasons.append("the data has no resolved partnerships")
    if reference is None or options.accept_data_change:
        return reasons
    for table, columns in reference.get("columns", {}).items():
        now = new["columns"].get(table, [])
        added = sorted(set(now) - set(columns))
        removed = sorted(set(columns) - set(now))
        if added or removed:
            reasons.append(
                f"schema change in {table}: added {added or 'none'}, removed {removed or 'none'}"
            )
    old_report = reference.get("report", {})
    old_rate, rate = _number(old_report, "resolution_rate"), _number(report, "resolution_rate")
    if old_rate is not None and rate is not None and old_rate - rate > options.max_resolution_drop:
        reasons.append(
            f"resolution rate fell from {old_rate:.1%} to {rate:.1%} "
            f"(more than {options.max_resolution_drop * 100:.0f} points)"
        )
    old_rows, rows = _number(old_report, "rows_in"), _number(report, "rows_in")
    if old_rows and rows is not None and (old_rows - rows) / old_rows > options.max_row_drop:
        reasons.append(
            f"input rows fell from {old_rows:.0f} to {rows:.0f} ({(old_rows - rows) / old_rows:.1%}"
            f", more than {options.max_row_drop:.0%}): a truncated or partial export?"
        )
    old_count = _number(old_report, "unique_partnerships")
    if old_count and partnerships is not None:
        drop = (old_count - partnerships) / old_count
        if drop > options.max_partnership_drop:
            reasons.append(
                f"partnerships fell from {old_count:.0f} to {partnerships:.0f} "
                f"({drop:.0%}, more than {options.max_partnership_drop:.0%})"
            )
    return reasons


def _recall(metrics: dict | None, split: str, name: str) -> float | None:
    try:
        value = metrics[split][name]["recall@10"]
    except (KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


LIST_DEPTH = 10
LIST_SAMPLE = 300  # the share changed within +-3 points (1 s.e.); 10-20 s on a busy 2-core box


def list_change(before: Sequence[set[int]], after: Sequence[set[int]],
                cities: Sequence[int]) -> dict:
    """How many cities' top lists differ between two models (as sets of partner ids)."""
    changed = [int(city) for city, old, new in zip(cities, before, after, strict=True)
               if old != new]
    overlaps = [len(old & new) / max(len(old), len(new), 1)
                for old, new in zip(before, after, strict=True)]
    return {"cities": len(before), "changed": len(changed),
            "share_changed": len(changed) / len(before) if len(before) else 0.0,
            "mean_overlap": float(np.mean(overlaps)) if overlaps else 1.0,
            "depth": LIST_DEPTH, "examples": changed[:5]}


def served_lists(model_dir: Path, cities: np.ndarray) -> list[set[int]]:
    """The top-10 partners (geonameids) `twin with` would serve each city, default filters."""
    from matcher.api import Matcher

    matcher = Matcher.load(model_dir)
    rows = np.array([matcher.model.index_of(int(city)) for city in cities], dtype=np.int64)
    ranked = matcher.top_rows(rows, matcher.make_filters(LIST_DEPTH))
    return [set(matcher.model.geonameids[picked].tolist()) for picked in ranked]


def list_stability(current_dir: Path, candidate_dir: Path, sample: int = LIST_SAMPLE,
                   seed: int = 0) -> dict:
    """list_change of the served top 10 over a seeded sample of the cities both models know."""
    from matcher.store.model import Model

    known = np.intersect1d(Model.load(current_dir).geonameids,
                           Model.load(candidate_dir).geonameids)
    rng = np.random.default_rng(seed)
    cities = np.sort(rng.choice(known, size=min(sample, len(known)), replace=False))
    return list_change(served_lists(current_dir, cities), served_lists(candidate_dir, cities),
                       cities.tolist())


def gate(candidate: dict, current: dict | None, tolerance: float, lists: dict | None = None,
         max_list_change: float = 1.0) -> dict:
    """Promote only if the candidate beats every baseline and trails current by <= tolerance,
    and the top 10 of at most `max_list_change` of the sampled cities changed.

    Recall@10, on the warm and the cold split. Returns {"promote", "reasons", "checks"}.
    """
    checks = []

    def check(name: str, passed: bool, detail: str) -> None:
        checks.append({"check": name, "passed": passed, "detail": detail})

    for split in ("warm", "cold"):
        model = _recall(candidate, split, "model")
        if model is None:
            check(f"{split}:metrics", False, f"candidate metrics have no {split} model recall@10")
            continue
        baselines = sorted(n for n in candidate.get(split, {}) if n in BASELINES)
        if not baselines:
            check(f"{split}:baselines", False, f"candidate metrics have no {split} baselines")
        for name in baselines:
            base = _recall(candidate, split, name)
            passed = base is not None and model > base
            check(f"{split}:beats {name}", passed, f"recall@10 {model:.4f} vs {name} {base}")
        if current is not None:
            ref = _recall(current, split, "model")
            passed = ref is not None and model >= ref - tolerance - 1e-12
            check(
                f"{split}:vs current",
                passed,
                f"recall@10 {model:.4f} vs current {ref} (tolerance {tolerance})",
            )
    if lists is not None and "share_changed" in lists:
        share = float(lists["share_changed"])
        check("lists:stability", share <= max_list_change + 1e-12,
              f"top {lists['depth']} changed for {share:.1%} of {lists['cities']} sampled cities "
              f"(at most {max_list_change:.0%})")
    reasons = [c["detail"] for c in checks if not c["passed"]]
    return {"promote": not reasons, "reasons": reasons, "checks": checks}
