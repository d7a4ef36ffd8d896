"""A damaged rerank.json is a load error naming the file (issue 15), never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from matcher_factories import make_model_dir

from matcher.api import Matcher
from matcher.cli import cli
from matcher.errors import ModelLoadError


def _damage(path, change) -> None:
    file = path / "rerank.json"
    document = json.loads(file.read_text())
    change(document)
    file.write_text(json.dumps(document))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["warm"]["coef"].pop(), r"warm: \d+ signals but \d+ coef values"),
    (lambda d: d["cold"]["mean"].pop(0), r"cold: \d+ signals but \d+ mean values"),
    (lambda d: d["warm"]["scale"].__setitem__(0, 0.0), "warm: scale has non-finite or zero"),
    (lambda d: d["cold"]["signals"].__setitem__(0, "shoe_size"),
     r"unknown signals \['shoe_size'\]"),
    (lambda d: d.pop("cold"), "cold: missing"),
    (lambda d: d["warm"].pop("intercept"), "warm: KeyError"),
])
def test_a_missing_coefficient_is_a_clear_load_error(tmp_path, change, message):
    """Regression: one coefficient missing gave a broadcasting traceback in `twin with`."""
    path = make_model_dir(tmp_path / "model")
    _damage(path, change)
    with pytest.raises(ModelLoadError, match=message) as error:
        Matcher.load(path)
    assert str(path / "rerank.json") in str(error.value)
    result = CliRunner().invoke(cli, ["with", "Sejong", "--model", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: model file {path / 'rerank.json'} has a damaged "
                                    "re-ranker")
    assert "Traceback" not in result.output
