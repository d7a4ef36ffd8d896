"""Speed and memory benchmarks on the real snapshot (`make bench`; needs `make data train`).

Each timing is reported beside a baseline measured in the same run (an empty Python process, a
numpy operation of the same size), so the ratios survive a slower or busier machine. Results go to
bench-results/bench.json and bench-results/bench.md. `--train` also times a training run, and
`--tune` the tuned search (both slow: minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the `twin` CLI sets it
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
TWIN = [sys.executable, "-c", "from matcher.cli import main; main()"]


def _median_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed_child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one child process, measured for that child
    alone (os.wait4), not the largest child so far."""
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss / 1024.0


def bench_fresh_process(results: dict, repeats: int) -> None:
    """`twin with Sejong` as a new process, against an empty interpreter, with the project's
    bytecode compiled first, as an installed package has it (numpy's is; where
    PYTHONDONTWRITEBYTECODE is set, as on the development machine, imports never write the
    project's, and each run would compile its ten thousand lines again)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "matcher", "training"],
                   check=True, capture_output=True, cwd=ROOT)
    empty = _median_seconds([sys.executable, "-c", "pass"], repeats)
    numpy_import = _median_seconds([sys.executable, "-c", "import numpy"], repeats)
    twin = _median_seconds([*TWIN, "with", "Sejong, KR"], repeats)
    results["fresh_twin_with_sejong_s"] = twin
    results["fresh_python_pass_s"] = empty
    results["fresh_import_numpy_s"] = numpy_import
    results["fresh_ratio_to_python_pass"] = twin / empty
    results["fresh_ratio_to_import_numpy"] = twin / numpy_import


def bench_warm(results: dict, repeats: int, batch_rows: int | None,
               batch_parts: bool = False) -> None:
    """recommend() in a warm process over many different cities (no per-city cache helps),
    batch top-10 for every city, against numpy baselines of the same size."""
    import numpy as np

    from matcher.api import Matcher

    matcher = Matcher.load()
    model = matcher.model
    n = model.n_cities
    rng = np.random.default_rng(0)
    cities = [int(g) for g in rng.choice(model.geonameids, size=100, replace=False)]
    times = _recommend_times(matcher, cities, repeats)
    sejong = []
    for _ in range(repeats * 5):
        start = time.perf_counter()
        matcher.recommend("Sejong, KR")
        sejong.append(time.perf_counter() - start)
    candidates = int(model.arrays.candidate_mask.sum())
    vectors = np.random.default_rng(0).random((candidates, 64))
    baseline = []
    for _ in range(repeats * 5):
        start = time.perf_counter()
        np.argsort(vectors @ vectors[0])
        baseline.append(time.perf_counter() - start)
    results["cities_in_model"] = int(n)
    results["candidates"] = candidates
    results["warm_recommend_ms_median_100_cities"] = 1000 * statistics.median(times)
    results["warm_recommend_ms_p90_100_cities"] = 1000 * float(np.percentile(times, 90))
    results["warm_recommend_sejong_ms"] = 1000 * statistics.median(sejong)
    results["numpy_dot_argsort_ms"] = 1000 * statistics.median(baseline)
    results["warm_ratio_to_numpy"] = statistics.median(times) / statistics.median(baseline)
    _bench_kinds(results, matcher, repeats)

    rows = np.arange(n if batch_rows is None else min(batch_rows, n))
    results["batch_rows"] = len(rows)
    for label, mutual in (("one_sided", False), ("mutual_default", True)):
        spec = matcher.make_filters(10, mutual=mutual)
        start = time.perf_counter()
        lists = matcher.top_rows(rows, spec)
        results[f"batch_top10_{label}_s"] = time.perf_counter() - start
        sample = rng.choice(rows, size=min(200, len(rows)), replace=False)
        results[f"batch_top10_{label}_equal_to_single_of_200"] = int(sum(
            lists[int(i)].tolist() == matcher.top_rows(np.array([i]), spec)[0].tolist()
            for i in sample))
    if batch_parts:
        _bench_batch_parts(results, matcher, rows)
    start = time.perf_counter()
    vectors = np.random.default_rng(1).random((n, 64)).astype(np.float32)
    items = vectors[:candidates]
    for begin in range(0, n, 1024):
        block = vectors[begin:begin + 1024] @ items.T
        np.argpartition(-block, 10, axis=1)[:, :10]
    results["numpy_batch_dot_top10_s"] = time.perf_counter() - start
    for label in ("one_sided", "mutual_default"):
        results[f"batch_{label}_ratio_to_numpy"] = \
            results[f"batch_top10_{label}_s"] * n / len(rows) / results["numpy_batch_dot_top10_s"]

    start = time.perf_counter()
    result = matcher.recommend_many(list(model.geonameids[:500]), k=10)
    results["recommend_many_500_cities_s"] = time.perf_counter() - start
    results["recommend_many_500_cities_lists"] = len(result)


def _bench_batch_parts(results: dict, matcher, rows) -> None:
    """The one-sided batch again, then with the dense per-cell terms skipped (wrong lists,
    timing only): what the other parts (LightFM product, graph signals, stage two, exact
    ranking) cost even if the dense terms were free, the floor of any pruning of them."""
    from matcher.ranking import fused

    spec = matcher.make_filters(10, mutual=False)
    start = time.perf_counter()
    matcher.top_rows(rows, spec)
    results["batch_parts_one_sided_s"] = time.perf_counter() - start
    dense_terms = fused.add_dense_terms
    fused.add_dense_terms = lambda *args: None
    try:
        start = time.perf_counter()
        matcher.top_rows(rows, spec)
        results["batch_parts_one_sided_without_dense_terms_s"] = time.perf_counter() - start
    finally:
        fused.add_dense_terms = dense_terms


def bench_numpy_batch(results: dict, rows: int) -> None:
    """The mutual batch on `rows` sampled cities two ways in one run: today's compiled kernels
    (matcher.ranking.batch) and numpy alone (the numpy block terms, numpy stage two, then the
    one-query ranking of each row), with the bare numpy baseline of the same rows: whether the
    compiled kernels still pay (numpy alone within 6 times the baseline would retire them). A
    sample understates numpy alone: its askers' own rows are not in the batch, so both ways pay
    the reverse side per row; `--numpy-batch` with the number of cities measures every city."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from matcher.api import Matcher
    from matcher.ranking import batch
    from matcher.scoring import refine, scorer
    from matcher.scoring.prepared import prepared

    matcher = Matcher.load()
    arrays = matcher.model.arrays
    candidates = prepared(arrays).candidates
    spec = matcher.make_filters(10)
    sample = np.sort(np.random.default_rng(2).choice(arrays.n_cities, rows, replace=False))
    batch.top_lists(matcher, sample[:128], spec)  # compiled once, outside the timing

    def numpy_block(chunk: np.ndarray) -> list[np.ndarray]:
        products: dict = {}
        block = scorer.block_scores(arrays, chunk, graph_out=products)
        final = refine.refine_block(arrays, chunk, block, graph=products)
        out = []
        for i, query in enumerate(chunk.tolist()):
            row = np.full(arrays.n_cities, -np.inf)
            row[candidates] = final[i]
            out.append(matcher.pick(query, row, spec)[0])
        return out

    start = time.perf_counter()
    compiled = batch.top_lists(matcher, sample, spec)
    results["numpy_batch_sample_rows"] = rows
    results["numpy_batch_sample_compiled_s"] = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        lists = [picks for part in pool.map(numpy_block, [sample[i:i + 64] for i in
                                                          range(0, rows, 64)]) for picks in part]
    results["numpy_batch_sample_numpy_s"] = time.perf_counter() - start
    results["numpy_batch_sample_equal_lists"] = int(sum(
        np.array_equal(a, b) for a, b in zip(compiled, lists, strict=True)))
    items = arrays.item_embeddings[candidates]
    start = time.perf_counter()
    for begin in range(0, rows, 1024):
        block = arrays.user_embeddings[sample[begin:begin + 1024]] @ items.T
        np.argpartition(-block, 10, axis=1)[:, :10]
    baseline = time.perf_counter() - start
    results["numpy_batch_sample_baseline_s"] = baseline
    results["numpy_batch_sample_numpy_ratio_to_baseline"] = \
        results["numpy_batch_sample_numpy_s"] / baseline


# Each speed target of the one-engine issue: the measured ratio, and the most it may be.
TARGETS = {"fresh_ratio_to_import_numpy": 4.0, "warm_ratio_to_numpy": 15.0,
           "batch_mutual_default_ratio_to_numpy": 6.0, "batch_one_sided_ratio_to_numpy": 6.0}


def targets_table(results: dict) -> list[str]:
    """The ratios beside their targets, met or not."""
    lines = ["| target | ratio | at most | met |", "|---|---|---|---|"]
    for name, limit in TARGETS.items():
        if name in results:
            value, met = results[name], "yes" if results[name] <= limit else "no"
            lines.append(f"| {name} | {value:.2f} | {limit:g} | {met} |")
    return lines


def _recommend_times(matcher, cities: list[int], repeats: int) -> list[float]:
    """Seconds of each recommend() over `cities` (repeated), after one warm-up pass (a warm
    process: lookup index, derived arrays, per-country columns)."""
    for city in cities:
        matcher.recommend(city)
    times = []
    for city in cities * max(1, repeats // 5):
        start = time.perf_counter()
        matcher.recommend(city)
        times.append(time.perf_counter() - start)
    return times


def _bench_kinds(results: dict, matcher, repeats: int, per_kind: int = 60) -> None:
    """recommend() by kind of city (they take different paths): not a candidate, a city with
    partnerships, a candidate without any (like Sejong); median and p90 of each."""
    import numpy as np

    arrays = matcher.model.arrays
    history = arrays.degree > 0
    kinds = {"not_candidate": ~arrays.candidate_mask, "with_partners": history,
             "cold_candidate": arrays.candidate_mask & ~history}
    rng = np.random.default_rng(1)
    for kind, mask in kinds.items():
        rows = np.flatnonzero(mask)
        cities = [int(matcher.model.geonameids[r])
                  for r in rng.choice(rows, size=min(per_kind, len(rows)), replace=False)]
        times = _recommend_times(matcher, cities, repeats)
        results[f"warm_recommend_ms_median_{kind}"] = 1000 * statistics.median(times)
        results[f"warm_recommend_ms_p90_{kind}"] = 1000 * float(np.percentile(times, 90))


def bench_pair(results: dict, repeats: int) -> None:
    """GB x KR at the default floor, both matchings, end to end as a process."""
    empty = _median_seconds([sys.executable, "-c", "pass"], repeats)
    pair = _median_seconds([*TWIN, "pair", "GB", "KR", "--json"], repeats)
    results["pair_gb_kr_s"] = pair
    results["pair_ratio_to_python_pass"] = pair / empty


def bench_web(results: dict, clients: int = 8, requests: int = 400) -> None:
    """p50 and p95 of /api/recommend over HTTP: `clients` threads, `requests` in all, each a
    different city, against the app served by uvicorn in this process."""
    import threading
    import urllib.request

    import numpy as np

    from matcher.web import create_app
    from matcher.web.serve import background_server

    app = create_app()
    loaded = app.state.holder.get()
    rows = np.flatnonzero(loaded.matcher.model.arrays.candidate_mask)
    ids = np.random.default_rng(2).choice(loaded.matcher.model.geonameids[rows], requests)
    times: list[float] = []
    lock = threading.Lock()
    with background_server(app) as base:
        def client(mine) -> None:
            for geonameid in mine:
                start = time.perf_counter()
                with urllib.request.urlopen(f"{base}/api/recommend?city=geonames:{geonameid}",
                                            timeout=60) as answer:
                    answer.read()
                with lock:
                    times.append(time.perf_counter() - start)

        threads = [threading.Thread(target=client, args=(ids[n::clients].tolist(),))
                   for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    results["web_recommend_ms_p50"] = 1000 * float(np.percentile(times, 50))
    results["web_recommend_ms_p95"] = 1000 * float(np.percentile(times, 95))
    results["web_recommend_clients"] = clients


def bench_data(results: dict) -> None:
    """`twin data build` on the snapshot, into a scratch directory."""
    seconds, peak = _timed_child([*TWIN, "data", "build", "--out", str(RESULTS / "data")])
    results["data_build_s"] = seconds
    results["data_build_peak_mb"] = peak


def bench_train(results: dict, tune: bool) -> None:
    """Training with the default config (and the tuned search), models written to a scratch dir."""
    models = RESULTS / "models"
    seconds, peak = _timed_child([*TWIN, "train", "--models-dir", str(models), "--no-promote"])
    results["train_s"] = seconds
    results["train_peak_mb"] = peak
    if tune:
        seconds, peak = _timed_child([*TWIN, "train", "--tune", "--budget", "780",
                                      "--models-dir", str(models), "--no-promote"])
        results["tune_and_train_s"] = seconds
        results["tune_peak_mb"] = peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train", action="store_true", help="also time training (minutes)")
    parser.add_argument("--tune", action="store_true", help="also time the tuned search")
    parser.add_argument("--batch-rows", type=int, default=None,
                        help="time the batch on the first N cities only (default: every city)")
    parser.add_argument("--numpy-batch", type=int, default=0, metavar="ROWS",
                        help="also time the mutual batch with numpy alone on ROWS sampled "
                             "cities, beside the compiled one (e.g. 2048; every city: the "
                             "number of cities, about 4 minutes)")
    parser.add_argument("--batch-parts", action="store_true",
                        help="also time the one-sided batch without its dense terms (a floor)")
    args = parser.parse_args()
    from matcher import config

    if not (config.MODELS_DIR / config.CURRENT_LINK).exists() \
            or not (config.PROCESSED_DIR / config.PARTNERSHIPS_FILE).exists():
        raise SystemExit("benchmarks need the real data and a model: run `make data train` "
                         "first (the snapshot path is the Makefile's PARTNERSHIPS)")
    RESULTS.mkdir(exist_ok=True)
    results: dict = {"python": sys.version.split()[0]}
    # Children whose memory is measured run first: a child forked from this process once it
    # holds a model starts with the parent's resident pages, which inflates its peak.
    bench_data(results)
    if args.train or args.tune:
        bench_train(results, args.tune)
    bench_fresh_process(results, args.repeats)
    bench_pair(results, args.repeats)
    bench_warm(results, args.repeats, args.batch_rows, args.batch_parts)
    if args.numpy_batch:
        bench_numpy_batch(results, args.numpy_batch)
    bench_web(results)
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |"
              for key, value in results.items()]
    lines += ["", *targets_table(results)]
    (RESULTS / "bench.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
