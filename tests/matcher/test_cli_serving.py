"""`twin with` and `twin explain` through click's CliRunner: output formats and exact errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from matcher_factories import make_model_dir

from matcher import config
from matcher.cli import cli


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("model") / "v1")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_table_for_a_cold_city(model_dir):
    result = run("with", "Sejong", "--model", str(model_dir))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Twin partners for Sejong, KR (Sejong), population 394,630, "
                               "geonames:11523293  [mutual ranking, at most 3 per country]")
    assert lines[1] == ("Sejong has no recorded partnerships: ranked from its features and "
                        "nearby cities alone.")
    assert lines[2].startswith("Thin precedent: few existing partnerships between these "
                               "countries (KR-GB: 4")  # once, not on every row
    assert lines[3].startswith("Common to most of these matches and Sejong: a similar GDP per "
                               "head")  # said once, not on every row
    assert lines[4].split()[:6] == ["#", "city", "country", "population", "km", "compat"]
    assert lines[-1].startswith("perf, appetite, synergy: 0-100")
    assert len(lines) == 16  # header, three notes, column names, 10 rows, the legend


def test_existing_partners_listed_under_the_table(model_dir):
    result = run("with", "Cardiff", "--model", str(model_dir), "-k", "3")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "Existing partners, excluded above (2): Stuttgart (DE), Nantes (FR)")


def test_json_and_csv_give_the_same_rows(model_dir):
    args = ("with", "Cardiff", "--model", str(model_dir), "--country", "Korea", "--one-sided")
    payload = json.loads(run(*args, "--json").output)
    assert payload["ranking"] == "one-sided"
    assert {m["country_code"] for m in payload["matches"]} == {"KR"}
    rows = list(csv.DictReader(io.StringIO(run(*args, "--csv").output)))
    assert [int(r["geonameid"]) for r in rows] == [m["geonameid"] for m in payload["matches"]]
    assert rows[0]["reasons"] == "; ".join(payload["matches"][0]["reasons"])
    for key in ("lat", "lon", "population", "score", "performance", "appetite", "synergies"):
        assert key in rows[0]


def test_flags_reach_the_ranking(model_dir):
    base = ("with", "Sejong", "--model", str(model_dir), "--json")
    capped = json.loads(run(*base, "--per-country", "1").output)["matches"]
    codes = [m["country_code"] for m in capped]
    assert len(codes) == len(set(codes))
    uncapped = json.loads(run(*base, "--per-country", "0", "-k", "12").output)
    assert uncapped["per_country"] is None
    domestic = json.loads(run(*base, "--include-domestic", "--per-country", "0", "-k", "19")
                          .output)["matches"]
    assert "KR" in {m["country_code"] for m in domestic}
    near = json.loads(run(*base, "--max-km", "9000").output)["matches"]
    assert near and all(m["distance_km"] <= 9000 for m in near)
    excluded = json.loads(run(*base, "--exclude-country", "GB").output)["matches"]
    assert "GB" not in {m["country_code"] for m in excluded}


@pytest.mark.parametrize(("args", "expected", "code"), [
    (("with", "Sejongg"), "Error: no city called 'Sejongg' in the model or the gazetteer; did "
                          "you mean: Sejong, KR?\n", 2),
    (("with", "Newport"), "Error: 'Newport' matches 2 cities; say which one with 'Name, CC', "
                          "'Name, CC (region)' or its id:\n  Newport, GB (Wales), population "
                          "161,506, geonames:2641598\n  Newport, US (Rhode Island), population "
                          "24,232, geonames:5223593\n", 2),
    (("with", "Qqqxxzz"), "Error: no city called 'Qqqxxzz' in the model or the gazetteer; check "
                          "the spelling or give its GeoNames id as geonames:ID\n", 2),
    # regressions (issue 15): junk matched 4,449 cities; a filter pair that no city can pass
    (("with", ","), "Error: city ',' names no place; give a name, 'Name, CC' or geonames:ID\n",
     2),
    (("with", "Cardiff", "--country", "GB", "--exclude-country", "UK"),
     "Error: --country and --exclude-country both name GB: no city could pass; drop one of "
     "them\n", 2),
    (("with", "Cardiff", "--country", "Wales"), "Error: --country: 'Wales' is part of GB; this "
     "option takes whole countries, so give GB (cities of every part of GB)\n", 2),
    (("with", "Cardiff", "--country", "Narnia"), "Error: --country: unknown country 'Narnia'; "
     "give an ISO code (e.g. GB) or a country name that has cities in the model\n", 2),
    (("with", "Cardiff", "--json", "--csv"), "Error: --json and --csv: choose one output format\n",
     2),
    (("explain", "Sejong", "Sejong, KR"), "Error: explain: 'Sejong' and 'Sejong, KR' are the same "
                                          "city\n", 2),
    # regression: named min_population and max_population, which no CLI user typed
    (("with", "Cardiff", "--min-population", "500000", "--max-population", "1000"),
     "Error: --min-population (500000) is above --max-population (1000)\n", 2),
])
def test_exact_errors(model_dir, args, expected, code):
    result = run(*args, "--model", str(model_dir))
    assert result.output == expected
    assert result.exit_code == code


def test_exclude_country_error_names_its_flag(model_dir):
    result = run("with", "Cardiff", "--exclude-country", "Atlantis", "--model", str(model_dir))
    assert result.exit_code == 2
    assert result.output.startswith("Error: --exclude-country: unknown country 'Atlantis'")


def test_no_model_exact_message(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setattr(config, "MODELS_DIR", models)
    for args in (("with", "Sejong"), ("explain", "Sejong", "Cardiff")):
        result = run(*args)
        assert result.output == "Error: no trained model in models/; run `make train`\n"
        assert result.exit_code == 1


def test_damaged_model_is_an_error_not_a_traceback(tmp_path):
    path = make_model_dir(tmp_path / "broken")
    (path / "features.npz").write_bytes(b"not a zip")
    result = run("with", "Sejong", "--model", str(path))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: model file {path / 'features.npz'} is not a "
                                    "readable sparse matrix")
    assert "Traceback" not in result.output


def test_explain_text_and_json(model_dir):
    result = run("explain", "Sejong", "Cardiff", "--model", str(model_dir))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Sejong, KR and Cardiff, GB (")
    assert "KR-GB: 4 existing partnerships (thin precedent" in result.output
    assert "re-ranker signals" not in result.output
    verbose = run("explain", "Sejong", "Cardiff", "--verbose", "--model", str(model_dir)).output
    assert "re-ranker signals (value, contribution to the score):" in verbose
    payload = json.loads(run("explain", "Sejong", "Cardiff", "--json", "--model",
                             str(model_dir)).output)
    assert payload["partner"]["geonameid"] == 2653822


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group of the `twin` tree, as argument tuples."""
    paths = [prefix]
    context = click.Context(group)
    for name in group.list_commands(context):  # the lazy and registered commands too
        command = group.get_command(context, name)
        paths += _command_paths(command, (*prefix, name)) if isinstance(command, click.Group) \
            else [(*prefix, name)]
    return paths


def test_every_command_has_help():
    """Walks the whole tree (training's commands, found through their entry point, and the
    web app's `serve` included), so a new command is covered."""
    paths = _command_paths(cli)
    assert ("models", "verify") in paths and ("data", "build") in paths and ("serve",) in paths
    for path in paths:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage:" in result.output
        command = cli
        for name in path:
            command = command.commands[name]
        assert (command.help or "").strip(), f"twin {' '.join(path)} has no help text"




def test_lists_give_the_with_lists_for_every_city(model_dir, tmp_path):
    out = tmp_path / "lists.csv"
    result = run("lists", "--all", "-k", "4", "--model", str(model_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    by_city: dict[str, list[int]] = {}
    for row in rows:
        by_city.setdefault(row["query_geonameid"], []).append(int(row["geonameid"]))
    assert len(by_city) == 20
    for city in ("Sejong", "Cardiff", "Daejeon"):
        payload = json.loads(run("with", city, "-k", "4", "--json", "--model",
                                 str(model_dir)).output)
        expected = [m["geonameid"] for m in payload["matches"]]
        assert by_city[str(payload["query"]["geonameid"])] == expected
    named = run("lists", "Sejong", "Cardiff", "-k", "2", "--one-sided", "--model",
                str(model_dir))
    assert named.output.splitlines()[0].startswith("query_geonameid,query_name")
    assert len(named.output.splitlines()) == 5


def test_lists_out_is_written_whole_or_not_at_all(model_dir, tmp_path):
    """Regression: --out in a missing directory raised a traceback, and the file was opened
    (truncated) before ranking; now the CSV goes to a partial file renamed into place, and a
    path that cannot be written is a clean error naming it."""
    missing = tmp_path / "nowhere" / "lists.csv"
    result = run("lists", "Sejong", "--model", str(model_dir), "--out", str(missing))
    assert result.exit_code == 2
    assert result.output == (f"Error: --out {missing}: cannot write the lists (No such file or "
                             "directory)\n")
    out = tmp_path / "lists.csv"
    out.write_text("an older export\n")
    result = run("lists", "Sejong", "-k", "2", "--model", str(model_dir), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == run("lists", "Sejong", "-k", "2", "--model", str(model_dir)).output
    assert [path.name for path in tmp_path.iterdir()] == ["lists.csv"]


def test_lists_needs_cities_or_all(model_dir):
    for args in ((), ("Sejong", "--all")):
        result = run("lists", *args, "--model", str(model_dir))
        assert result.exit_code == 2
        assert result.output == ("Error: lists: give CITY arguments or --all, not both or "
                                 "neither\n")


def test_regression_serve_and_training_commands_need_no_prior_import():
    """`twin serve` and the training commands are found from matcher.cli alone (serve was added
    by importing training.cli, so `twin serve` worked only after another test had imported it),
    and a serving command loads neither the web app nor the training package."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from matcher.cli import cli\n"
        "runner = CliRunner()\n"
        "print(runner.invoke(cli, ['with', '--help']).exit_code,"
        " 'training.cli' in sys.modules, 'matcher.web.serve' in sys.modules)\n"
        "print(runner.invoke(cli, ['serve', '--help']).exit_code,"
        " runner.invoke(cli, ['data', 'build', '--help']).exit_code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "0 False False"
    assert out[1] == "0 0"


def test_a_closed_pipe_exits_quietly(model_dir):
    """Regression (issue 15): `twin with X | head` exited 1 with a broken-pipe error."""
    import subprocess
    import sys

    code = ("import sys; from training.cli import main; sys.argv = ['twin', 'with', 'Cardiff', "
            f"'-k', '12', '--model', {str(model_dir)!r}]; main()")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()  # what `head -1` does
    assert process.wait(timeout=60) == 0
    assert b"Error" not in process.stderr.read() and b"Traceback" not in process.stderr.read()


def test_lists_csv_rows_carry_scores_and_reasons_like_with(model_dir):
    """Regression (issue 15): `twin lists` rows had no score, compatibility or reasons."""
    import csv
    import io

    lists = list(csv.DictReader(io.StringIO(
        run("lists", "Sejong", "Cardiff", "--model", str(model_dir)).output)))
    alone = list(csv.DictReader(io.StringIO(
        run("with", "Cardiff", "--csv", "--model", str(model_dir)).output)))
    cardiff = [row for row in lists if row["query_name"] == "Cardiff"]
    assert cardiff and len(cardiff) == len(alone)
    for row, single in zip(cardiff, alone, strict=True):
        assert {k: row[k] for k in single} == single
    assert all(row["reasons"] and row["compatibility"] for row in lists)


def test_population_flags_have_help(model_dir):
    help_text = run("with", "--help").output
    assert "Only partners of at least N inhabitants." in help_text
    assert "Only partners of at most N inhabitants." in help_text


def test_the_first_batch_says_it_compiles(tmp_path, monkeypatch, capsys):
    """Regression (issue 15): the first `twin lists` compiled for 30 s without a word."""
    from matcher import cli as serving_cli
    from matcher import ranking

    package = tmp_path / "ranking"
    (package / "__pycache__").mkdir(parents=True)
    monkeypatch.setattr(ranking, "__file__", str(package / "__init__.py"))
    serving_cli._compile_notice()
    assert "compiling the batch kernels (numba)" in capsys.readouterr().err
    (package / "__pycache__" / "fused._best-178.py311.nbi").write_bytes(b"")
    serving_cli._compile_notice()  # compiled once: nothing said
    assert capsys.readouterr().err == ""


def test_brief_lists_are_the_same_lists(model_dir):
    import csv
    import io

    full = list(csv.DictReader(io.StringIO(run("lists", "--all", "-k", "3", "--model",
                                                str(model_dir)).output)))
    brief = list(csv.DictReader(io.StringIO(run("lists", "--all", "-k", "3", "--brief",
                                                 "--model", str(model_dir)).output)))
    assert list(brief[0]) == ["query_geonameid", "query_name", "query_country", "rank",
                              "geonameid", "name", "country_code", "population"]
    assert [(r["query_geonameid"], r["geonameid"]) for r in brief] == \
        [(r["query_geonameid"], r["geonameid"]) for r in full]


def test_regression_csv_rows_keep_the_clauses_said_once(model_dir):
    """Issue 16: a clause said once above the text table would be lost from CSV rows read
    alone; each row carries them in common_reasons."""
    payload = json.loads(run("with", "Sejong", "--model", str(model_dir), "--json").output)
    assert payload["said_once"]
    rows = list(csv.DictReader(io.StringIO(run("with", "Sejong", "--model", str(model_dir),
                                               "--csv").output)))
    assert {r["common_reasons"] for r in rows} == {"; ".join(payload["said_once"])}
