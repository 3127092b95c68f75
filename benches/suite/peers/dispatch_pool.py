"""Dispatch through a bare `concurrent.futures.ProcessPoolExecutor(workers)`: N trivial
evaluations (x*x + y*y on random x, y), submitted at once, gathered with as_completed.

  dispatch_pool.py --n 2000 --workers 2
Prints JSON: seconds of the loop (pool start to last result), master peak RSS (MiB).
"""

import argparse
import json
import random
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from rss import peak_rss_mib


def objective(x, y):
    return x * x + y * y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    rng = random.Random(1)
    params = [(rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(a.n)]
    t = time.perf_counter()
    best = float("inf")
    with ProcessPoolExecutor(a.workers) as pool:
        futures = [pool.submit(objective, x, y) for x, y in params]
        for fut in as_completed(futures):
            best = min(best, fut.result())
    loop = time.perf_counter() - t
    rss = peak_rss_mib()
    print(json.dumps({"n": a.n, "loop_seconds": loop, "master_rss_mib": rss, "best": best}))


if __name__ == "__main__":
    main()
