"""What the three dimensions' sub-scores look like, and what `--weigh` does to the lists, on the
promoted model (issue 16's figures in docs/DIMENSIONS.md).

For the top-10 lists of `--cities` random cities (seed `--seed`): each sub-score's spread (sd,
share of rows at its most common rounded value, share at 100, rows without data), then for each
weighting the share of the top 10 kept, lists whose first match is unchanged, compatibility
lost and sub-scores gained. Recall with and without weights is `twin evaluate --policies`.
Usage: `.venv/bin/python benchmarks/dimensions.py [--cities 200] [--seed 11] [--model DIR]`.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from matcher.api import Matcher
from matcher.explained.dimensions import DIMENSIONS

WEIGHTINGS = ("performance=1,appetite=1,synergies=1", "synergies=2",
              "model=0,performance=1,appetite=1,synergies=1")


def _values(matches, name: str) -> np.ndarray:
    return np.array([np.nan if getattr(m, name) is None else getattr(m, name) for m in matches])


def spread(lists: list[list]) -> dict:
    """Per sub-score: sd, the most common rounded value and its share, share at 100."""
    out = {}
    for name in DIMENSIONS:
        values = np.concatenate([_values(matches, name) for matches in lists])
        known = np.round(values[np.isfinite(values)])
        common, counts = np.unique(known, return_counts=True)
        out[name] = {"rows": len(values), "no_data": int(np.isnan(values).sum()),
                     "sd": round(float(known.std()), 1), "mode": float(common[counts.argmax()]),
                     "mode_share": round(float(counts.max() / len(known)), 3),
                     "share_100": round(float((known >= 100).mean()), 3)}
    return out


def weighing(matcher: Matcher, ids: list[int], plain: list[list], weigh: str) -> dict:
    """How the weighted lists differ from the plain ones."""
    kept, same_first, lost, gained = [], [], [], []
    for geonameid, before in zip(ids, plain, strict=True):
        after = matcher.recommend(geonameid, weigh=weigh)
        ids_before = {m.geonameid for m in before}
        kept.append(len(ids_before & {m.geonameid for m in after}) / max(len(before), 1))
        same_first.append(bool(before and after and before[0].geonameid == after[0].geonameid))
        lost.append(np.mean([m.compatibility for m in before])
                    - np.mean([m.compatibility for m in after]))
        gained.append([np.nanmean(_values(after, d)) - np.nanmean(_values(before, d))
                       for d in DIMENSIONS])
    return {"top10_kept": round(float(np.mean(kept)), 3),
            "same_first": round(float(np.mean(same_first)), 3),
            "compatibility_lost": round(float(np.mean(lost)), 1),
            "subscores_gained": dict(zip(DIMENSIONS, np.round(np.nanmean(gained, axis=0), 1)
                                         .tolist(), strict=True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", default=None, help="model directory (default: current)")
    args = parser.parse_args()
    matcher = Matcher.load(args.model)
    rows = np.random.default_rng(args.seed).choice(matcher.model.n_cities, args.cities,
                                                   replace=False)
    ids = [int(matcher.model.geonameids[row]) for row in rows.tolist()]
    plain = [matcher.recommend(geonameid) for geonameid in ids]
    report = {"spread": spread(plain),
              "weigh": {weigh: weighing(matcher, ids, plain, weigh) for weigh in WEIGHTINGS}}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
