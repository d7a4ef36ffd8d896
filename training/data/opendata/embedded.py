"""The embedded default data (data/): its checksum manifest, written and verified.

data/MANIFEST.json lists every embedded file (the partnership snapshot and the open tables,
xz-compressed) with its size and SHA-256, and the SHA-256 of its uncompressed content (the
unchanged extract named in data/README.md). `python -m training.data.opendata.embedded` rewrites
it after a deliberate data update; tests/training/data/test_embedded.py checks the files against it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from matcher import config
from matcher.errors import DataError
from training.data.ingest import read_bytes

MANIFEST_VERSION = 1


def embedded_files(data_dir: Path) -> list[Path]:
    """The embedded data files, sorted: the snapshot and the open tables."""
    data_dir = Path(data_dir)
    return sorted([*data_dir.glob("*.csv.xz"), *(data_dir / "open").glob("*.csv.xz")])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(path: Path, data_dir: Path) -> dict:
    """One manifest entry: relative path, bytes, sha256 of the file and of its content."""
    raw = Path(path).read_bytes()
    return {"path": Path(path).relative_to(data_dir).as_posix(), "bytes": len(raw),
            "sha256": _sha256(raw), "content_sha256": _sha256(read_bytes(Path(path)))}


def build_manifest(data_dir: Path) -> dict:
    """The manifest of the embedded files in data_dir."""
    data_dir = Path(data_dir)
    return {"version": MANIFEST_VERSION,
            "files": [file_entry(path, data_dir) for path in embedded_files(data_dir)]}


def verify(data_dir: Path, manifest: dict) -> list[str]:
    """Problems (missing, unlisted or changed files), empty when the data matches."""
    data_dir = Path(data_dir)
    listed = {entry["path"]: entry for entry in manifest.get("files", [])}
    present = {path.relative_to(data_dir).as_posix(): path for path in embedded_files(data_dir)}
    problems = [f"{name}: listed in the manifest but missing" for name in sorted(set(listed)
                                                                                 - set(present))]
    problems += [f"{name}: not in the manifest" for name in sorted(set(present) - set(listed))]
    for name in sorted(set(listed) & set(present)):
        raw = present[name].read_bytes()
        actual = {"bytes": len(raw), "sha256": _sha256(raw)}
        for key in ("bytes", "sha256"):
            if actual[key] != listed[name][key]:
                problems.append(f"{name}: {key} {actual[key]} differs from the manifest's "
                                f"{listed[name][key]}")
    return problems


def load_manifest(path: Path = config.EMBEDDED_MANIFEST) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: the embedded data's manifest is missing; restore it from git")
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> None:
    """Rewrite data/MANIFEST.json from the files present."""
    manifest = build_manifest(config.EMBEDDED_DIR)
    config.EMBEDDED_MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {config.EMBEDDED_MANIFEST} ({len(manifest['files'])} files)\n")


if __name__ == "__main__":
    main()
