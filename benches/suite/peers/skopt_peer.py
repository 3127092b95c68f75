"""scikit-optimize's gp_minimize, for the suggestion cost and the quality benchmarks.

Modes (one JSON object on stdout):
  skopt_peer.py speed --n 200 --d 2 --reps 3
      seconds of one gp_minimize step after n points: `Optimizer.tell` of the n-th point
      (which fits the GP and maximizes the acquisition; skopt does that work in `tell`) plus
      the `ask` that returns the proposal. The first n-1 points are told without fitting.
  skopt_peer.py optimize --problem branin --seed 1 [--n-init 20 --n-total 60]
      gp_minimize with n_initial_points random points, then model-based ones.
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
from skopt import Optimizer, gp_minimize
from skopt.space import Space
from skopt.utils import cook_estimator

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from functions import PROBLEMS, SPEED_PROBLEMS, random_points  # noqa: E402


def gp_minimize_optimizer(bounds, seed):
    """The Optimizer that gp_minimize builds with its defaults (skopt 0.10)."""
    space = Space(bounds)
    rng = np.random.RandomState(seed)
    estimator = cook_estimator("GP", space=space, random_state=rng.randint(0, np.iinfo(np.int32).max),
                               noise="gaussian")
    return Optimizer(space, estimator, n_initial_points=1, acq_func="gp_hedge",
                     acq_optimizer="lbfgs", random_state=rng,
                     acq_optimizer_kwargs={"n_points": 10000, "n_restarts_optimizer": 5,
                                           "n_jobs": 1},
                     acq_func_kwargs={"xi": 0.01, "kappa": 1.96})


def speed(n, d, reps):
    _, f, bounds, _ = SPEED_PROBLEMS[d]
    times, cpu = [], []
    for rep in range(reps):
        rng = np.random.default_rng(1000 * n + rep)
        x = random_points(bounds, n, rng)
        y = [float(f(p)) for p in x]
        opt = gp_minimize_optimizer(bounds, rep)
        opt.tell([list(p) for p in x[:-1]], y[:-1], fit=False)
        t, c = time.perf_counter(), time.process_time()
        opt.tell(list(x[-1]), y[-1])
        opt.ask()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"n": n, "d": d, "seconds": times, "cpu_seconds": cpu}


def optimize(problem, seed, n_init, n_total):
    _, f, bounds, minimum = PROBLEMS[problem]
    t = time.perf_counter()
    res = gp_minimize(lambda p: float(f(p)), bounds, n_calls=n_total, n_initial_points=n_init,
                      initial_point_generator="random", random_state=seed)
    return {"problem": problem, "seed": seed, "values": [float(v) for v in res.func_vals],
            "minimum": minimum, "model_seconds": time.perf_counter() - t}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["speed", "optimize"])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--d", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--problem", default="branin")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-init", type=int, default=20)
    ap.add_argument("--n-total", type=int, default=60)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    out = speed(a.n, a.d, a.reps) if a.mode == "speed" else optimize(a.problem, a.seed, a.n_init, a.n_total)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
