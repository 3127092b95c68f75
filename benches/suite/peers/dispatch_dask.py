"""Dispatch through bare Dask futures on a LocalCluster (workers processes x 1 thread): N
trivial evaluations submitted at once, gathered with as_completed.

  dispatch_dask.py --n 2000 --workers 2
Prints JSON: seconds of the loop (after the cluster is up, to the last result), seconds to
start the cluster, master (client) peak RSS (MiB).
"""

import argparse
import json
import logging
import random
import time

from rss import peak_rss_mib


def objective(x, y):
    return x * x + y * y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    from dask.distributed import Client, LocalCluster, as_completed

    logging.getLogger("distributed").setLevel(logging.ERROR)
    rng = random.Random(1)
    params = [(rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(a.n)]
    t0 = time.perf_counter()
    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t = time.perf_counter()
        best = float("inf")
        futures = [client.submit(objective, x, y, pure=False) for x, y in params]
        for fut in as_completed(futures):
            best = min(best, fut.result())
        loop = time.perf_counter() - t
    rss = peak_rss_mib()
    print(json.dumps({"n": a.n, "loop_seconds": loop, "startup_seconds": t - t0,
                      "master_rss_mib": rss, "best": best}))


if __name__ == "__main__":
    main()
