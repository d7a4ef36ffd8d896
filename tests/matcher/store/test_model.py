"""Model.load's checks: non-finite values are a load error, `verify=True` checks the manifest."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matcher_factories import make_model_dir

from matcher.cli import cli
from matcher.errors import ModelLoadError
from matcher.scoring.csr import CSR
from matcher.store.model import ARRAY_FILES, Model


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("model") / "v1")


@pytest.fixture
def model_dir(pristine, tmp_path) -> Path:
    """A fresh copy to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "model"))


def poke_array(path: Path, value: float, flip_sign: bool = False) -> None:
    """Rewrite one .npy file with its first value replaced (or every value's sign flipped)."""
    array = np.load(path).copy()
    if flip_sign:
        array = -array
    else:
        array.flat[0] = value
    np.save(path, array)


def test_regression_nan_embeddings_are_a_clear_error_from_twin_with(model_dir):
    """Bug: NaN in a model array was loaded and served (a NaN score sorts anywhere)."""
    poke_array(model_dir / "user_embeddings.npy", np.nan)
    with pytest.raises(ModelLoadError) as error:
        Model.load(model_dir)
    assert str(error.value).startswith(f"model file {model_dir / 'user_embeddings.npy'} has 1 "
                                       "non-finite values (NaN or infinity) in ")
    result = CliRunner().invoke(cli, ["with", "Sejong", "--model", str(model_dir)])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"Error: model file {model_dir / 'user_embeddings.npy'} has 1 non-finite values")


@pytest.mark.parametrize("name", ARRAY_FILES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_in_any_array_names_the_file(model_dir, name, value):
    poke_array(model_dir / name, value)
    expected = rf"model file .*{re.escape(name)} has 1 non-finite values"
    with pytest.raises(ModelLoadError, match=expected):
        Model.load(model_dir)


def test_non_finite_in_a_sparse_matrix_names_the_file(model_dir):
    matrix = CSR.load(model_dir / "geo.npz")
    data = matrix.data.copy()
    data[0] = np.nan
    np.savez(model_dir / "geo.npz", indptr=matrix.indptr, indices=matrix.indices, data=data,
             shape=np.array(matrix.shape), format=np.array("csr"))
    with pytest.raises(ModelLoadError, match=r"geo\.npz has 1 non-finite values"):
        Model.load(model_dir)


def test_regression_flipped_sign_bits_are_caught_by_verified_loads(model_dir):
    """Bug: flipping sign bits in item_biases.npy changed the lists with no warning; only
    `twin models verify` noticed. A verified load (the batch, promotion) refuses it."""
    poke_array(model_dir / "item_biases.npy", 0.0, flip_sign=True)
    Model.load(model_dir)  # the one-off fast path checks structure and values, not hashes
    with pytest.raises(ModelLoadError, match=r"item_biases\.npy differs from its manifest hash"):
        Model.load(model_dir, verify=True)
    result = CliRunner().invoke(cli, ["lists", "Sejong", "--model", str(model_dir)])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "item_biases.npy differs from its manifest hash" in result.stderr


def test_verified_load_of_an_intact_model_equals_the_fast_one(pristine):
    fast, verified = Model.load(pristine), Model.load(pristine, verify=True)
    row = fast.index_of(11523293)
    assert np.array_equal(fast.scores(row), verified.scores(row))


def test_check_finite_sums_fast_but_is_exact():
    """The fast check sums the array: finite values whose sum overflows are not an error, and
    NaN, infinity or both signs of infinity are."""
    from matcher.store.model import check_finite

    check_finite(Path("big.npy"), np.array([1e308, 1e308, -5.0]))
    check_finite(Path("ints.npy"), np.array([1, 2, 3]))
    for bad in ([1.0, np.nan], [np.inf, 2.0], [np.inf, -np.inf]):
        with pytest.raises(ModelLoadError, match=r"bad\.npy has \d non-finite"):
            check_finite(Path("bad.npy"), np.array(bad, dtype=np.float32))
