"""matcher.scoring.csr: raw CSR arrays agree with scipy.sparse to the bit; bad files refused."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.scoring.csr import CSR


def random_matrix(seed: int, rows: int = 12, columns: int = 9, density: float = 0.3):
    return sp.random(rows, columns, density=density, format="csr", random_state=seed,
                     dtype=np.float64)


matrices = st.builds(random_matrix, seed=st.integers(0, 10_000), rows=st.integers(1, 15),
                     columns=st.integers(1, 12), density=st.floats(0.0, 1.0))


def test_a_known_matrix_reads_row_by_row():
    dense = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]])
    matrix = CSR.of(sp.csr_matrix(dense))
    assert matrix.shape == (3, 3) and matrix.nnz == 3
    assert matrix.row(0).tolist() == [1] and matrix.row_values(0).tolist() == [2.0]
    assert matrix.row(1).tolist() == []
    assert matrix.row(2).tolist() == [0, 2] and matrix.row_values(2).tolist() == [1.0, 3.0]
    assert matrix.row_of_entry.tolist() == [0, 2, 2]
    assert np.array_equal(matrix.matrix.toarray(), dense)


@settings(max_examples=60, deadline=None)
@given(matrices, st.integers(0, 1000))
def test_operations_equal_scipy_to_the_bit(matrix, seed):
    rng = np.random.default_rng(seed)
    raw = CSR.of(matrix)
    keep = np.flatnonzero(rng.random(matrix.shape[1]) < 0.5)
    assert np.array_equal(raw.columns(keep).matrix.toarray(), matrix[:, keep].toarray())
    rows = rng.integers(0, matrix.shape[0], size=7)
    assert np.array_equal(raw.rows(rows).matrix.toarray(), matrix[rows].toarray())


@settings(max_examples=40, deadline=None)
@given(matrices, st.integers(1, 4), st.integers(1, 4), st.integers(0, 1000))
def test_count_by_equals_the_membership_product(matrix, row_groups, column_groups, seed):
    rng = np.random.default_rng(seed)
    row_group = rng.integers(0, row_groups, size=matrix.shape[0])
    column_group = rng.integers(0, column_groups, size=matrix.shape[1])
    left = sp.csr_matrix((np.ones(matrix.shape[0]), (np.arange(matrix.shape[0]), row_group)),
                         shape=(matrix.shape[0], row_groups))
    right = sp.csr_matrix((np.ones(matrix.shape[1]), (np.arange(matrix.shape[1]),
                                                      column_group)),
                          shape=(matrix.shape[1], column_groups))
    expected = (left.T @ matrix @ right).toarray()
    counted = CSR.of(matrix).count_by(row_group, column_group, row_groups, column_groups)
    assert np.allclose(counted, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("compressed", [False, True])
def test_load_reads_what_scipy_saves_in_its_own_dtypes(tmp_path, compressed):
    """Uncompressed members are memory-mapped, compressed ones read; either way the stored
    dtypes are kept and the scipy matrix widens them to float64."""
    matrix = random_matrix(3).astype(np.float32)
    sp.save_npz(tmp_path / "m.npz", matrix, compressed=compressed)
    loaded = CSR.load(tmp_path / "m.npz")
    assert loaded.data.dtype == np.float32 and loaded.indices.dtype == matrix.indices.dtype
    assert loaded.matrix.dtype == np.float64
    assert np.array_equal(loaded.matrix.toarray(), matrix.toarray().astype(np.float64))


def test_read_npz_maps_uncompressed_members_and_reads_small_ones(tmp_path):
    from matcher.scoring.csr import read_npz

    np.savez(tmp_path / "a.npz", big=np.arange(10, dtype=np.int32), scalar=np.array(b"csr"),
             empty=np.zeros(0))
    arrays = read_npz(tmp_path / "a.npz")
    assert arrays["big"].tolist() == list(range(10)) and not arrays["big"].flags.writeable
    assert arrays["scalar"].item() == b"csr" and arrays["empty"].shape == (0,)


@pytest.mark.parametrize("content", [b"not an archive", b"PK\x03\x04 truncated", b""])
def test_read_npz_names_a_damaged_file_as_a_value_error(tmp_path, content):
    from matcher.scoring.csr import read_npz

    (tmp_path / "bad.npz").write_bytes(content)
    with pytest.raises(ValueError):
        read_npz(tmp_path / "bad.npz")


def test_a_corrupt_compressed_member_is_a_value_error(tmp_path):
    """Regression: a bad CRC or deflate stream inside a compressed member raised zipfile's or
    zlib's own errors, which the model loader did not turn into its message."""
    from matcher.scoring.csr import read_npz

    np.savez_compressed(tmp_path / "c.npz", values=np.arange(5000, dtype=np.float64))
    content = bytearray((tmp_path / "c.npz").read_bytes())
    middle = len(content) // 2
    content[middle:middle + 64] = bytes(64)
    (tmp_path / "c.npz").write_bytes(bytes(content))
    with pytest.raises(ValueError, match=r"not a readable \.npz archive"):
        read_npz(tmp_path / "c.npz")


def test_read_npz_refuses_pickled_objects(tmp_path):
    from matcher.scoring.csr import read_npz

    np.savez(tmp_path / "o.npz", objects=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        read_npz(tmp_path / "o.npz")


def test_load_refuses_another_sparse_format(tmp_path):
    sp.save_npz(tmp_path / "m.npz", random_matrix(1).tocsc())
    with pytest.raises(ValueError, match="sparse format 'csc', expected 'csr'"):
        CSR.load(tmp_path / "m.npz")


def test_load_refuses_an_archive_without_the_csr_arrays(tmp_path):
    np.savez(tmp_path / "m.npz", data=np.ones(3))
    with pytest.raises(KeyError, match="missing arrays"):
        CSR.load(tmp_path / "m.npz")


def test_inconsistent_arrays_are_refused():
    with pytest.raises(ValueError, match="inconsistent CSR arrays for shape"):
        CSR(np.array([0, 2]), np.array([0]), np.array([1.0]), (1, 3))
    with pytest.raises(ValueError, match=r"column indices outside 0\.\.2"):
        CSR(np.array([0, 1]), np.array([3]), np.array([1.0]), (1, 3))
    with pytest.raises(ValueError, match="row pointers do not start at 0 and rise"):
        CSR(np.array([0, 2, 1, 2]), np.array([0, 1]), np.array([1.0, 1.0]), (3, 3))


def test_near_country_reads_rows_of_the_symmetric_kernel_as_the_product_does(model_dir_refined):
    """prepared.near_country sums the rows of the cities with partners in the country (the
    kernel is symmetric); it must equal the full product geo @ counts to the bit."""
    from matcher.scoring.prepared import prepared
    from matcher.store.model import Model

    arrays = Model.load(model_dir_refined).arrays
    ready = prepared(arrays)
    for country in range(arrays.n_countries):
        counts = arrays.partners_by_country[:, country].toarray().ravel()
        assert np.array_equal(ready.partners_in(country), counts)
        assert np.array_equal(ready.near_country(country),
                              np.log1p(arrays.geo.matrix @ counts))


@pytest.fixture(scope="module")
def model_dir_refined(tmp_path_factory):
    from matcher_factories import make_model_dir

    return make_model_dir(tmp_path_factory.mktemp("csr") / "v1", synthetic=60, refine_depth=20)
