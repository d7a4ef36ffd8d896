"""matcher.ranking.kernelgen: the batch's compiled dense kernel is rendered from the signal table,
is never stale, and a new entry reaches it by regeneration alone."""

from __future__ import annotations

import importlib.util
import inspect

import numpy as np
from matcher_factories import random_arrays
from table_factories import gap_block, only, with_gap

from matcher.ranking import fused, fused_dense, kernelgen
from matcher.scoring import kinds, scorer, signaltable


def test_the_generated_kernel_is_current():
    """Fails after a table or formula change until `python -m matcher.ranking.kernelgen` is run."""
    assert kernelgen.TARGET.read_text(encoding="utf-8") == kernelgen.render()
    assert fused.kernel_is_current()


def test_the_kernel_copies_the_formulas_numpy_evaluates():
    source = kernelgen.TARGET.read_text(encoding="utf-8")
    for name in signaltable.PAIRWISE:
        inner = signaltable.BY_NAME[name].cell.inner
        assert inspect.getsource(inner).strip() in source
        assert inner.__module__ == "matcher.scoring.kinds"
    assert signaltable.PAIRWISE == fused_dense.PAIRWISE
    assert tuple(signaltable.PRODUCTS) == fused_dense.PRODUCTS


def test_a_regenerated_kernel_adds_a_new_entry(monkeypatch, tmp_path):
    """A new PAIRWISE entry needs no kernel edit: the rendered kernel evaluates it."""
    with_gap(monkeypatch)
    path = tmp_path / "fused_dense_gap.py"
    path.write_text(kernelgen.render(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("fused_dense_gap", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "latitude_gap" in module.PAIRWISE
    monkeypatch.setattr(fused, "fused_dense", module)
    monkeypatch.setattr(fused, "kernel_is_current", lambda: True)
    arrays = random_arrays(2, n=40)
    rows = np.arange(arrays.n_cities)
    compiled = scorer.block_scores(arrays, rows, rerank=only("latitude_gap"),
                                   terms=(fused.add_dense_terms, scorer.add_graph_terms))
    np.testing.assert_array_equal(compiled, gap_block(arrays))


def test_regression_the_kernel_reads_no_module_globals():
    """numba's on-disk cache once kept a kernel's module-level signal codes after they changed
    (0.4.0, the deleted stage-two kernel). The generated kernels take every weight and value
    as arguments and call only functions defined in their own file, whose source the cache
    is keyed on, so an edited table or formula never meets a stale compiled copy."""
    names = vars(fused_dense)
    for kernel in (fused_dense.dense_tile, fused_dense.inner_tiles):
        used = set(kernel.py_func.__code__.co_names)
        assert not {name for name in used if name in names and not callable(names[name])
                    and name != "np"}
        for name in used & set(names):
            if callable(names[name]) and hasattr(names[name], "py_func"):
                assert names[name].py_func.__module__ == fused_dense.__name__
    assert "kinds" not in names and kinds.INPUTS
