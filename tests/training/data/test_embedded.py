"""The embedded default data: the Makefile reads it by default and it matches data/MANIFEST.json."""

from __future__ import annotations

import hashlib
import lzma
import re
import subprocess

import pytest

from matcher import config
from training.data.opendata import MODULES, check_folder
from training.data.opendata.embedded import build_manifest, load_manifest, verify

MAKEFILE = config.PROJECT_ROOT / "Makefile"


def make_default(variable: str) -> str:
    match = re.search(rf"^{variable} \?= (.+)$", MAKEFILE.read_text(encoding="utf-8"), re.M)
    assert match, f"the Makefile has no default for {variable}"
    return match.group(1).strip()


def test_makefile_defaults_are_the_embedded_files():
    assert config.PROJECT_ROOT / make_default("PARTNERSHIPS") == config.DEFAULT_PARTNERSHIPS
    assert config.PROJECT_ROOT / make_default("OPEN_DATA") == config.DEFAULT_OPEN_DATA
    assert config.DEFAULT_PARTNERSHIPS.is_file()
    check_folder(config.DEFAULT_OPEN_DATA)  # every table the build reads is there


def test_embedded_files_match_the_manifest():
    manifest = load_manifest()
    assert verify(config.EMBEDDED_DIR, manifest) == []
    listed = {entry["path"] for entry in manifest["files"]}
    assert config.DEFAULT_PARTNERSHIPS.relative_to(config.EMBEDDED_DIR).as_posix() in listed
    assert {f"open/{module.FILE}.xz" for module in MODULES} <= listed
    assert sum(entry["bytes"] for entry in manifest["files"]) < 3_500_000  # about 3 MB


def test_verify_names_a_changed_missing_or_unlisted_file(tmp_path):
    (tmp_path / "open").mkdir()
    (tmp_path / "a.csv.xz").write_bytes(b"one")
    (tmp_path / "open" / "b.csv.xz").write_bytes(b"two")
    manifest = {"files": [{"path": "a.csv.xz", "bytes": 3, "sha256": "0" * 64}]}
    problems = verify(tmp_path, manifest)
    assert problems == ["open/b.csv.xz: not in the manifest",
                        f"a.csv.xz: sha256 {hashlib.sha256(b'one').hexdigest()} "
                        f"differs from the manifest's {'0' * 64}"]
    (tmp_path / "a.csv.xz").unlink()
    assert verify(tmp_path, manifest)[0] == "a.csv.xz: listed in the manifest but missing"


def test_build_manifest_hashes_file_and_content(tmp_path):
    (tmp_path / "s.csv.xz").write_bytes(lzma.compress(b"a,b\n1,2\n"))
    entry = build_manifest(tmp_path)["files"][0]
    assert entry["path"] == "s.csv.xz"
    assert entry["content_sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert verify(tmp_path, build_manifest(tmp_path)) == []


def test_make_data_passes_the_defaults_to_the_build():
    try:
        dry = subprocess.run(["make", "-n", "data", "STAMP=", f"-C{config.PROJECT_ROOT}"],
                             capture_output=True, text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"make is not usable here ({error})")
    assert "--partnerships data/twin_cities.csv.xz --open-data data/open" in dry
    off = subprocess.run(["make", "-n", "data", "STAMP=", "OPEN_DATA=",
                          f"-C{config.PROJECT_ROOT}"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert "--no-open-data" in off
