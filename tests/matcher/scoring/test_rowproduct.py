"""One query row's product in column chunks (matcher.scoring.rowproduct)."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.scoring import rowproduct


@pytest.mark.parametrize("columns", [1, 5, 4099, 9001])
def test_row_product_equals_matmul_on_each_chunk(columns, monkeypatch):
    """Chunked or whole, the same product (bit-identical below BLAS's threading size, which
    this small a matrix stays under even whole)."""
    monkeypatch.setattr(rowproduct, "CHUNK_CELLS", 67 * 64)
    rng = np.random.default_rng(columns)
    left = rng.standard_normal((1, 67))
    right = np.asfortranarray(rng.standard_normal((67, columns)))
    out = rowproduct.row_product(left, right)
    assert out.shape == (1, columns)
    np.testing.assert_allclose(out, left @ right, rtol=1e-12, atol=1e-12)
    again = np.empty((1, columns))
    assert rowproduct.row_product(left, right, out=again) is again
    assert again.tobytes() == out.tobytes()
