"""PHS's Bayesian suggestion, re-implemented faithfully for the comparison.

PHS (Fraunhofer ITWM, arXiv 2002.11429) proposes a `bayesian` value on the worker by fitting a
scikit-learn Gaussian process to every finished result and maximizing expected improvement:

- GaussianProcessRegressor(kernel=Matern(nu=2.5), alpha=1e-6, normalize_y=True,
  n_restarts_optimizer=25), fitted in the parameters' own units;
- expected improvement (minimization) maximized by L-BFGS-B from 100 uniform random starts
  with numerical gradients; the best end point wins;
- a proposal that repeats an evaluated point (within 1e-7) is replaced by a random one.

Modes (one JSON object on stdout):
  phs_procedure.py speed --n 200 --d 2 --reps 3       seconds per suggestion
  phs_procedure.py optimize --problem branin --seed 1 [--n-init 20 --n-total 60]
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import Matern

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from functions import PROBLEMS, SPEED_PROBLEMS, random_points  # noqa: E402

ACQ_STARTS = 100
GP_RESTARTS = 25


def expected_improvement(x, gp, best, n_params):
    mu, sigma = gp.predict(np.asarray(x).reshape(-1, n_params), return_std=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (best - mu) / sigma
        ei = (best - mu) * norm.cdf(z) + sigma * norm.pdf(z)
        ei[sigma == 0.0] = 0.0
    return -ei[0]


def suggest(x, y, bounds, rng):
    """One proposal from the observed points `x` (n x d) and results `y` (to minimize)."""
    bounds = np.asarray(bounds, dtype=float)
    gp = GaussianProcessRegressor(
        kernel=Matern(nu=2.5),
        alpha=1e-6,
        normalize_y=True,
        n_restarts_optimizer=GP_RESTARTS,
        random_state=int(rng.integers(2**31)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    best = float(np.min(y))
    n_params = bounds.shape[0]
    best_x, best_val = None, 1.0
    for start in rng.uniform(bounds[:, 0], bounds[:, 1], size=(ACQ_STARTS, n_params)):
        res = minimize(
            expected_improvement,
            x0=start,
            bounds=bounds,
            method="L-BFGS-B",
            args=(gp, best, n_params),
        )
        if res.fun < best_val:
            best_val, best_x = res.fun, res.x
    if best_x is None or np.any(np.all(np.abs(np.asarray(x) - best_x) <= 1e-7, axis=1)):
        best_x = rng.uniform(bounds[:, 0], bounds[:, 1])
    return best_x


def speed(n, d, reps):
    _, f, bounds, _ = SPEED_PROBLEMS[d]
    times, cpu = [], []
    for rep in range(reps):
        rng = np.random.default_rng(1000 * n + rep)
        x = random_points(bounds, n, rng)
        y = np.array([f(p) for p in x])
        t, c = time.perf_counter(), time.process_time()
        suggest(x, y, bounds, rng)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"n": n, "d": d, "seconds": times, "cpu_seconds": cpu}


def optimize(problem, seed, n_init, n_total):
    _, f, bounds, minimum = PROBLEMS[problem]
    rng = np.random.default_rng(seed)
    x = list(random_points(bounds, n_init, rng))
    y = [f(p) for p in x]
    t = time.perf_counter()
    while len(y) < n_total:
        p = suggest(np.array(x), np.array(y), bounds, rng)
        x.append(p)
        y.append(f(p))
    return {"problem": problem, "seed": seed, "values": y, "minimum": minimum,
            "model_seconds": time.perf_counter() - t}


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
    if a.mode == "speed":
        out = speed(a.n, a.d, a.reps)
    else:
        out = optimize(a.problem, a.seed, a.n_init, a.n_total)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
