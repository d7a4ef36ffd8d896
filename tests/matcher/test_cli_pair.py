"""`twin pair COUNTRY_A COUNTRY_B`: table, --json, --csv, --html and the exact error messages."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from pairing_factories import make_bilateral_model_dir

from matcher.cli import cli


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(make_bilateral_model_dir(tmp_path_factory.mktemp("cli-pair") / "v1"))


def run(model_dir, *args):
    return CliRunner().invoke(cli, ["pair", *args, "--model", model_dir])


def test_table_shows_both_matchings_and_the_existing_links(model_dir):
    result = run(model_dir, "UK", "South Korea")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Bilateral programme GB x KR: ")
    assert ("Existing GB-KR partnerships (4, kept out of the new pairs): London - Seoul, "
            "Bristol - Busan, Manchester - Cheongju, Newport - Daejeon") in out
    assert "Optimal assignment (maximum total compatibility): " in out
    assert "Stable matching (GB cities propose): " in out
    assert ("stability check: no blocking pair (no two cities would both rather have each "
            "other)") in out
    assert out.count("#  GB city") == 2


def test_json_and_csv_agree(model_dir):
    as_json = run(model_dir, "GB", "KR", "--stable", "b", "--capacity", "2", "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["stable"]["proposing"] == "b" and data["stable"]["stable"] is True
    assert data["capacity"] == 2
    as_csv = run(model_dir, "GB", "KR", "--stable", "b", "--capacity", "2", "--csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    for method in ("assignment", "stable"):
        pairs = data[method]["pairs"]
        mine = [r for r in rows if r["matching"] == method]
        assert [(r["a_name"], r["b_name"]) for r in mine] == [
            (p["a_name"], p["b_name"]) for p in pairs]
        assert sum(float(r["score"]) for r in mine) == pytest.approx(data[method]["total"],
                                                                     abs=1e-5)
        assert all(r["reasons"] for r in mine)


def test_include_existing_flag(model_dir):
    data = json.loads(run(model_dir, "GB", "KR", "--include-existing", "--json").output)
    assert data["include_existing"] is True
    default = json.loads(run(model_dir, "GB", "KR", "--json").output)
    assert not any(p["existing"] for p in default["assignment"]["pairs"])


def test_city_files_and_html_report(model_dir, tmp_path):
    cities_a = tmp_path / "a.txt"
    cities_a.write_text("Cardiff\nBristol\n", encoding="utf-8")
    page = tmp_path / "out.html"
    result = run(model_dir, "GB", "KR", "--cities-a", str(cities_a), "--html", str(page),
                 "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the note about the report goes to stderr
    assert [c["name"] for c in data["candidates_a"]] == ["Cardiff", "Bristol"]
    assert result.stderr == f"wrote {page}\n"
    html = page.read_text(encoding="utf-8")
    assert "from model v1." in html  # which model wrote it
    assert html.count('<tr data-pair="') == len(data["assignment"]["pairs"]) + len(
        data["stable"]["pairs"])  # a table row per pair of each matching


@pytest.mark.parametrize(("args", "code", "message"), [
    (["GB", "KR", "--json", "--csv"], 2, "Error: --json and --csv: choose one output format"),
    (["Atlantis", "KR"], 2, "Error: COUNTRY_A: unknown country 'Atlantis'; give an ISO code "
                            "(e.g. GB) or a country name that has cities in the model"),
    (["Wales", "UK"], 2, "Error: COUNTRY_A and COUNTRY_B are both GB; give two countries"),
    (["GB", "KR", "--min-population", "99000000"], 2,
     "Error: no GB cities with population >= 99,000,000 in the model; lower --min-population "
     "or list cities with --cities-a"),
])
def test_errors(model_dir, args, code, message):
    result = run(model_dir, *args)
    assert result.exit_code == code
    assert result.output.splitlines()[0] == message
    assert "Traceback" not in result.output


def test_bad_city_file_line(model_dir, tmp_path):
    path = tmp_path / "kr.txt"
    path.write_text("Daejeon\nAtlantiszz\n", encoding="utf-8")
    result = run(model_dir, "GB", "KR", "--cities-b", str(path))
    assert result.exit_code == 2
    assert result.output.startswith(
        f"Error: --cities-b {path}, line 2: no city called 'Atlantiszz' in the model or the "
        "gazetteer")


@pytest.mark.parametrize(("args", "message"), [
    (["GB", "KR", "--stable", "c"], "Invalid value for '--stable'"),
    (["GB", "KR", "--capacity", "0"], "Invalid value for '--capacity'"),
])
def test_option_validation(model_dir, args, message):
    result = run(model_dir, *args)
    assert result.exit_code == 2 and message in result.output
