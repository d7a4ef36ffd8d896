"""Serving policies on the holdout: reciprocal vs one-sided ranking, per-country caps, diversity.

The model's metrics (training.model.evaluate) rank raw scores. What users see goes through
matcher's ranking: reciprocity (each side's percentile), the per-country cap and, by default, no
domestic partners. This module writes the holdout model as a real model directory, loads it with
`matcher.api.Matcher`, and measures each policy exactly as the CLI applies it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.model.evaluate import KS

LIST_DEPTH = max(KS)


@dataclass(frozen=True)
class Policy:
    """One way of turning scores into a list (the CLI's flags)."""

    name: str
    mutual: bool
    per_country: int | None
    include_domestic: bool = True
    weigh: str | None = None  # `--weigh`: the shortlist re-ranked by the three dimensions


POLICIES = (
    Policy("one-sided", mutual=False, per_country=None),
    Policy("mutual", mutual=True, per_country=None),
    Policy("one-sided, cap 3", mutual=False, per_country=3),
    Policy("mutual, cap 3", mutual=True, per_country=3),
    Policy("mutual, cap 3, no domestic (CLI default)", mutual=True, per_country=3,
           include_domestic=False),
    *(Policy(f"CLI default, --weigh {weigh}", mutual=True, per_country=3,
             include_domestic=False, weigh=weigh)
      for weigh in ("performance=1,appetite=1,synergies=1", "synergies=2",
                    "model=0,performance=1,appetite=1,synergies=1")),
)


def list_metrics(picks: list[np.ndarray], targets: list[np.ndarray],
                 country_ids: np.ndarray) -> dict:
    """Recall@k of ranked lists, and how diverse the top-10 lists are across all queries."""
    out = {f"recall@{k}": float(np.mean([np.isin(p[:k], t).sum() / len(t)
                                         for p, t in zip(picks, targets, strict=True)]))
           for k in KS}
    top10 = [p[:10] for p in picks]
    counts = Counter(int(j) for p in top10 for j in p)
    slots = max(sum(counts.values()), 1)
    out["countries_per_list"] = float(np.mean([len(set(country_ids[p].tolist()))
                                              for p in top10]))
    out["distinct_partners"] = len(counts)
    out["top10_hub_share"] = sum(c for _, c in counts.most_common(10)) / slots
    out["queries"] = len(picks)
    return out


def evaluate_policies(data, config, seed: int = 0, policies=POLICIES,
                      max_queries: int | None = None, progress: bool = False) -> dict:
    """Metrics of every policy for warm and cold queries of one holdout split."""
    from matcher.api import Matcher
    from training.model import artifact
    from training.model.holdout import fit_holdout

    holdout = fit_holdout(data, config, seed, progress)
    arrays = holdout.test_arrays
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model"
        table = artifact.city_index_table(holdout.test_dataset.cities,
                                          data.features_for(holdout.split.train), arrays)
        artifact.write_artifact(model_dir, arrays, holdout.features, table, config.to_dict(),
                                {}, {}, seed=seed)
        matcher = Matcher.load(model_dir)
        out: dict = {}
        for kind in ("warm", "cold"):
            queries, targets = holdout.queries[kind]
            if max_queries is not None:
                queries, targets = queries[:max_queries], targets[:max_queries]
            out[kind] = {}
            for policy in policies:
                spec = matcher.make_filters(LIST_DEPTH, include_domestic=policy.include_domestic,
                                            per_country=policy.per_country, mutual=policy.mutual,
                                            weigh=policy.weigh)
                picks = _picks(matcher, queries, spec)
                out[kind][policy.name] = list_metrics(picks, targets, arrays.country_index)
    return out


def _picks(matcher, queries: np.ndarray, spec) -> list[np.ndarray]:
    """Each query's list under the filters as model rows: the batch's top rows, or with
    weights the re-ranked lists `twin with --weigh` prints."""
    picks: list[np.ndarray] = []
    row_of = {int(g): r for r, g in enumerate(matcher.model.geonameids.tolist())}
    for start in range(0, len(queries), 128):
        block = queries[start:start + 128]
        if spec.weights:
            picks += [np.array([row_of[m.geonameid] for m in result.matches], dtype=np.int64)
                      for result in matcher.recommendations(block, spec)]
        else:
            picks += matcher.top_rows(block, spec)
    return picks


def format_policies(metrics: dict) -> str:
    """One Markdown table of the policies for the warm and cold splits."""
    columns = ("recall@10", "recall@50", "countries_per_list", "distinct_partners",
               "top10_hub_share")
    lines = ["| split | policy | " + " | ".join(columns) + " | queries |",
             "|" + "---|" * (len(columns) + 3)]
    for split, policies in metrics.items():
        for name, values in policies.items():
            cells = [f"{values[c]:.3f}" if isinstance(values[c], float) else str(values[c])
                     for c in columns]
            lines.append(f"| {split} | {name} | " + " | ".join(cells)
                         + f" | {values['queries']} |")
    return "\n".join(lines)
