"""The peers of the suite's `bbob` and `ml` sections: Optuna's TPE, scikit-optimize's
gp_minimize and Optuna's GPSampler, each on one problem (`problems.py`) and seed per run.

  blackbox_peer.py JOBS.json

JOBS.json is a list of {"method", "problem", "seed", "n_init", "budget"}; one JSON line is
printed (and flushed) per finished run, in order, so the driver stores each run as soon as it
ends and a long batch loses nothing when stopped. A line holds the values and the parameters of
every evaluation in order, the run's seconds, and the problem's facts (`problems.info`).

Methods, each with `n_init` random evaluations first, then model-based ones, one at a time:
- `tpe`: optuna.samplers.TPESampler(seed, n_startup_trials=n_init);
- `skopt`: skopt.gp_minimize(acq_func="gp_hedge", n_initial_points=n_init,
  initial_point_generator="random", random_state=seed);
- `gp`: optuna.samplers.GPSampler(seed, n_startup_trials=n_init) (needs torch).
"""

import json
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problems  # noqa: E402


def optuna_run(method, spec, problem, seed, n_init, budget):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_init)
    else:
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_init)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    space = problems.space(spec)

    def objective(trial):
        p = {}
        for s in space:
            if s["kind"] == "choice":
                p[s["name"]] = trial.suggest_categorical(s["name"], s["choices"])
            elif s["kind"] == "int":
                p[s["name"]] = trial.suggest_int(s["name"], s["lo"], s["hi"])
            else:
                p[s["name"]] = trial.suggest_float(s["name"], s["lo"], s["hi"], log=s["log"])
        return problems.evaluate(problem, spec, p)

    study.optimize(objective, n_trials=budget)
    return [t.value for t in study.trials], [dict(t.params) for t in study.trials]


def skopt_run(spec, problem, seed, n_init, budget):
    from skopt import gp_minimize
    from skopt.space import Categorical, Integer, Real

    space = problems.space(spec)
    dims = []
    for s in space:
        if s["kind"] == "choice":
            dims.append(Categorical(s["choices"], name=s["name"]))
        elif s["kind"] == "int":
            dims.append(Integer(s["lo"], s["hi"], name=s["name"]))
        else:
            dims.append(Real(s["lo"], s["hi"], prior="log-uniform" if s["log"] else "uniform", name=s["name"]))

    def params(x):
        return {s["name"]: (v.item() if hasattr(v, "item") else v) for s, v in zip(space, x)}

    res = gp_minimize(lambda x: problems.evaluate(problem, spec, params(x)), dims, n_calls=budget,
                      n_initial_points=n_init, initial_point_generator="random", acq_func="gp_hedge",
                      random_state=seed)
    return [float(v) for v in res.func_vals], [params(x) for x in res.x_iters]


def run(job, cache):
    spec = job["problem"]
    if spec not in cache:
        cache[spec] = problems.load(spec)
    problem = cache[spec]
    t = time.perf_counter()
    if job["method"] in ("tpe", "gp"):
        values, params = optuna_run(job["method"], spec, problem, job["seed"], job["n_init"], job["budget"])
    elif job["method"] == "skopt":
        values, params = skopt_run(spec, problem, job["seed"], job["n_init"], job["budget"])
    else:
        raise ValueError(f"unknown peer method {job['method']!r}")
    return {**job, "values": values, "params": params, "seconds": time.perf_counter() - t,
            "info": problems.info(problem)}


def main():
    warnings.simplefilter("ignore")
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    cache = {}
    for job in jobs:
        try:
            out = run(job, cache)
        except Exception as e:  # a failed run is reported, the batch goes on
            out = {**job, "error": f"{type(e).__name__}: {e}"[:500]}
        print(json.dumps(out), flush=True)
        if len(cache) > 8:
            cache.clear()


if __name__ == "__main__":
    main()
