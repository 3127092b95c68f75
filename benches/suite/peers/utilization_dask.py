"""Worker utilization of bare Dask futures on a LocalCluster (W processes x 1 thread): tasks
that sleep a random time in [lo, hi] seconds, submitted at once, gathered with as_completed.
Each task records its own start and end; utilization = sum(task time) / (W x (last end -
first start)), as the suite computes it for hpo from results.csv.

  utilization_dask.py --workers 8 --tasks 160 --lo 0.05 --hi 0.5 --seed 1
"""

import argparse
import json
import logging
import random
import time


def sleeper(seconds):
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=160)
    ap.add_argument("--lo", type=float, default=0.05)
    ap.add_argument("--hi", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    from dask.distributed import Client, LocalCluster, as_completed

    logging.getLogger("distributed").setLevel(logging.ERROR)
    rng = random.Random(a.seed)
    delays = [rng.uniform(a.lo, a.hi) for _ in range(a.tasks)]
    t0 = time.perf_counter()
    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(a.workers)
        startup = time.perf_counter() - t0
        spans = [f.result() for f in as_completed(
            [client.submit(sleeper, s, pure=False) for s in delays])]
    busy = sum(e - s for s, e in spans)
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    print(json.dumps({"workers": a.workers, "tasks": a.tasks, "busy_seconds": busy,
                      "span_seconds": last - first, "startup_seconds": startup,
                      "utilization": busy / (a.workers * (last - first))}))


if __name__ == "__main__":
    main()
