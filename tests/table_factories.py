"""A made-up table entry for the tests that declare a signal by its entry alone: GAP, a PAIRWISE
signal no module names, and a re-ranker that reads one signal."""

from __future__ import annotations

import numpy as np

from matcher.ranking import fused, kernelgen
from matcher.scoring import cells, kinds, signaltable
from matcher.scoring.prepared import prepared


def only(name: str) -> dict:
    """A re-ranker of one signal with weight 1, warm and cold."""
    part = {"signals": [name], "mean": [0.0], "scale": [1.0], "coef": [1.0], "intercept": 0.0}
    return {"warm": dict(part), "cold": dict(part)}


def _latitude_gap(query_half_lat_sin, half_lat_sin):
    return np.abs(half_lat_sin - query_half_lat_sin)


GAP = signaltable.Signal("latitude_gap", signaltable.Kind.PAIRWISE, "|sin(lat/2) difference|",
                         signaltable.Reverse.SAME, symmetric=True, inputs=("half_lat_sin",),
                         cell=kinds.Formula(_latitude_gap))


def with_gap(monkeypatch) -> None:
    """Declare GAP, a PAIRWISE signal no module names, by a table entry alone (patched into
    the modules that read the table's derived lists)."""
    by_name = {**signaltable.BY_NAME, GAP.name: GAP}
    pairwise = (*signaltable.PAIRWISE, GAP.name)
    for module in (cells, kernelgen, fused):
        monkeypatch.setattr(module, "BY_NAME", by_name, raising=False)
    for module in (cells, kernelgen):
        monkeypatch.setattr(module, "PAIRWISE", pairwise)


def gap_block(arrays) -> np.ndarray:
    """GAP's expected block over every candidate (-inf at the query itself)."""
    ready = prepared(arrays)
    rows, candidates = np.arange(arrays.n_cities), ready.candidates
    half = ready.inputs["half_lat_sin"]
    expected = np.abs(half[candidates][None, :] - half[:, None]).astype(np.float32)
    expected[rows[:, None] == candidates[None, :]] = -np.inf  # the query itself
    return expected
