"""Would the three dimensions help as learned re-ranking signals? (issue 16, "as signals")

For each of 3 holdout seeds: the holdout model's CLI default shortlist of 250 for up to
`--queries` warm and cold queries; features = the model's rank (as -log(1 + position)) and the
three sub-scores (a missing one 0.5); a logistic regression fitted on half of the queries
(hidden partners = 1) re-ranks the other half, both ways round; recall@10 and @50 against the
model's own order. Needs the processed data and a trained model's config (the current one).
Usage: `.venv/bin/python benchmarks/dimensions_as_signals.py [--queries 600] [--seeds 3]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from matcher import config as paths
from matcher.api import Matcher
from matcher.explained import dimensions as D
from matcher.store import registry
from training.model import artifact
from training.model.dataset import load_training_data
from training.model.fit import TrainConfig
from training.model.holdout import fit_holdout


def shortlists(matcher: Matcher, queries, targets) -> tuple[list, list]:
    """(features, labels) per query over its CLI-default shortlist of 250, and (picks, hidden)."""
    ev, data = matcher.evidence, matcher.dimensions
    spec = matcher.make_filters(250, include_domestic=False, per_country=3, mutual=True)
    rows, lists = [], []
    for start in range(0, len(queries), 128):
        block = queries[start:start + 128]
        for offset, (query, picks) in enumerate(zip(block.tolist(),
                                                    matcher.top_rows(block, spec), strict=True)):
            subs = D.subscores(data, query, ev.reference(query), picks,
                               D.asked_themes(data, query))
            features = np.column_stack([-np.log1p(np.arange(len(picks)))] + [
                np.where(np.isfinite(subs[d]), subs[d], 50.0) / 100 for d in D.DIMENSIONS])
            rows.append(features)
            lists.append((picks, targets[start + offset]))
    return rows, lists


def recall(order, picks, hidden, k: int) -> float:
    return float(np.isin(picks[order][:k], hidden).sum() / len(hidden))


def compare(rows: list, lists: list) -> dict:
    """Recall of the model's order and of the learned one, each half fitted on the other."""
    half = len(rows) // 2
    out: dict[str, list[float]] = {}
    for train, test in ((range(half), range(half, len(rows))), (range(half, len(rows)),
                                                                range(half))):
        labels = np.concatenate([np.isin(lists[i][0], lists[i][1]) for i in train])
        fitted = LogisticRegression(max_iter=1000).fit(np.vstack([rows[i] for i in train]),
                                                       labels)
        for k in (10, 50):
            out.setdefault(f"model recall@{k}", []).extend(
                recall(np.arange(len(lists[i][0])), *lists[i], k) for i in test)
            out.setdefault(f"model+dimensions recall@{k}", []).extend(
                recall(np.argsort(-fitted.decision_function(rows[i]), kind="stable"),
                       *lists[i], k) for i in test)
    return {name: round(float(np.mean(values)), 4) for name, values in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    current = registry.current_model_dir(paths.MODELS_DIR)
    config = TrainConfig.from_dict(json.loads((current / "config.json").read_text()))
    data = load_training_data(paths.PROCESSED_DIR)
    report = {}
    for seed in range(args.seeds):
        holdout = fit_holdout(data, config, seed, False)
        with tempfile.TemporaryDirectory() as scratch:
            model_dir = Path(scratch) / "model"
            table = artifact.city_index_table(holdout.test_dataset.cities,
                                              data.features_for(holdout.split.train),
                                              holdout.test_arrays)
            artifact.write_artifact(model_dir, holdout.test_arrays, holdout.features, table,
                                    config.to_dict(), {}, {}, seed=seed)
            matcher = Matcher.load(model_dir)
            report[seed] = {}
            for kind in ("warm", "cold"):
                queries, targets = holdout.queries[kind]
                rows, lists = shortlists(matcher, queries[:args.queries],
                                         targets[:args.queries])
                report[seed][kind] = compare(rows, lists)
        print(json.dumps({seed: report[seed]}), flush=True)


if __name__ == "__main__":
    main()
