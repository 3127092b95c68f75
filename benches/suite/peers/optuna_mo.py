"""Optuna's side of the suite's `outputs` section: several objectives and a constraint, one
trial at a time (in-memory storage), on the problems of mo_problems.py.

  optuna_mo.py optimize --problem zdt1 --sampler nsga2|tpe --seed S [--n 100 --n-init 20 --population 20]
  optuna_mo.py hv < fronts.json

`optimize` prints one JSON object: every trial's outputs by name, in order, and the seconds.
Samplers: `nsga2` is `NSGAIISampler(population_size=--population)` (its first generation is
random); `tpe` is `TPESampler(n_startup_trials=--n-init)`, with the problem's directions, and on
a constrained problem its `constraints_func` (an output minus its `max`: positive violates).

`hv` reads a JSON list of {"points": [[...], ...], "ref": [...]} (minimized, every point
strictly better than the reference point in every coordinate) and prints the list of their
hypervolumes by Optuna's own `compute_hypervolume`, which the driver checks its own against.
"""

import argparse
import json
import sys
import time

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from mo_problems import PROBLEMS  # noqa: E402


def optimize(problem, sampler_name, seed, n, n_init, population):
    spec = PROBLEMS[problem]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    constraints = spec["constraints"]

    def constraints_func(trial):
        return [trial.user_attrs[name] - bound for name, bound in constraints]

    if sampler_name == "nsga2":
        sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
    elif sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_init,
                                             constraints_func=constraints_func if constraints else None)
    else:
        raise SystemExit(f"unknown sampler {sampler_name!r}")
    study = optuna.create_study(directions=["minimize"] * len(spec["objectives"]), sampler=sampler)
    outputs = []

    def objective(trial):
        p = {f"x{i}": trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(spec["bounds"])}
        out = spec["func"](p)
        outputs.append(out)
        for name, _ in constraints:
            trial.set_user_attr(name, out[name])
        values = [out[k] for k in spec["objectives"]]
        return values if len(values) > 1 else values[0]

    t = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return {"problem": problem, "sampler": sampler_name, "seed": seed, "outputs": outputs,
            "seconds": time.perf_counter() - t}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["optimize", "hv"])
    ap.add_argument("--problem", choices=sorted(PROBLEMS), default="zdt1")
    ap.add_argument("--sampler", choices=["nsga2", "tpe"], default="tpe")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--n-init", type=int, default=20)
    ap.add_argument("--population", type=int, default=20)
    a = ap.parse_args()
    if a.mode == "hv":
        fronts = json.load(sys.stdin)
        print(json.dumps([compute_hypervolume(np.array(f["points"], dtype=float), np.array(f["ref"], dtype=float))
                          if f["points"] else 0.0 for f in fronts]))
        return
    print(json.dumps(optimize(a.problem, a.sampler, a.seed, a.n, a.n_init, a.population)))


if __name__ == "__main__":
    main()
