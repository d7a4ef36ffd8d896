"""Issue 15's figures on a real model: the median compatibility of the best match over 200
random cities of the index, and the share of gazetteer places a lookup finds by name.

    .venv/bin/python benchmarks/readability.py [MODEL_DIR] [--places 2000]
"""

from __future__ import annotations

import argparse

import numpy as np

from matcher.api import Matcher
from matcher.errors import AmbiguousCityError, CityOutsideIndexError

SEED = 0


def best_match_medians(matcher: Matcher, rng: np.random.Generator, cities: int = 200) -> None:
    """Median compatibility of the best and the 10th match, mutual and one-sided."""
    rows = rng.choice(matcher.model.n_cities, cities, replace=False)
    candidate = matcher.model.arrays.candidate_mask[rows]
    for label, spec in (("mutual (default)", matcher.make_filters(10)),
                        ("one-sided", matcher.make_filters(10, mutual=False))):
        results = matcher.recommendations(rows, spec)
        best = np.array([r.matches[0].compatibility for r in results])
        tenth = np.array([r.matches[-1].compatibility for r in results])
        print(f"{label}: best match median {np.median(best):.1f} (candidates "
              f"{np.median(best[candidate]):.1f}, n={candidate.sum()}; others "
              f"{np.median(best[~candidate]):.1f}, n={(~candidate).sum()}); "
              f"10th match median {np.median(tenth):.1f}")


def _found(matcher: Matcher, query: str, geonameid: int) -> str:
    try:
        row = matcher.lookup.resolve(query)
        return "found" if int(matcher.model.geonameids[row]) == geonameid else "other"
    except CityOutsideIndexError as error:
        return "found" if error.place.geonameid == geonameid else "other"
    except AmbiguousCityError as error:
        listed = any(c["geonameid"] == geonameid for c in error.candidates[:10])
        return "listed" if listed else "other"


def gazetteer_share(matcher: Matcher, rng: np.random.Generator, places: int) -> None:
    """How sampled gazetteer places are answered: by 'Name, CC', by 'Name, CC (region)', listed
    with their id in the 'which one?' answer, or not by name."""
    gazetteer = matcher.lookup.gazetteer.get()
    sample = rng.choice(len(gazetteer.columns["geonameid"]), places, replace=False)
    counts = {"name_cc": 0, "region": 0, "listed": 0, "none": 0}
    for row in sample.tolist():
        place = gazetteer.place(row)
        first = _found(matcher, f"{place.name}, {place.country_code}", place.geonameid)
        if first == "found":
            counts["name_cc"] += 1
            continue
        second = _found(matcher, f"{place.name}, {place.country_code} ({place.region})",
                        place.geonameid)
        kind = "region" if second == "found" else "listed" if "listed" in (first, second) \
            else "none"
        counts[kind] += 1
    print("gazetteer places (" + f"{places:,} sampled): " + ", ".join(
        f"{k} {v / places:.1%}" for k, v in counts.items()) + "; every place by geonames:ID")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?", default=None)
    parser.add_argument("--places", type=int, default=2000)
    args = parser.parse_args()
    matcher = Matcher.load(args.model_dir)
    rng = np.random.default_rng(SEED)
    best_match_medians(matcher, rng)
    gazetteer_share(matcher, rng, args.places)


if __name__ == "__main__":
    main()
