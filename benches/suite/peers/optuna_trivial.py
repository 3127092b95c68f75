"""Optuna's in-memory `study.optimize` with its RandomSampler on the suite's trivial function
(x*x + y*y over [-5, 5]², the same as peers/trivial.py), one process, one thread.

  optuna_trivial.py --n 20000 [--seed 1]
Prints JSON: trials, seconds of `study.optimize`, trials per second.
"""

import argparse
import json
import time

import optuna


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=a.seed))

    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        y = trial.suggest_float("y", -5, 5)
        return x * x + y * y

    t = time.perf_counter()
    study.optimize(objective, n_trials=a.n)
    seconds = time.perf_counter() - t
    print(json.dumps({"trials": len(study.trials), "seconds": seconds, "trials_per_s": a.n / seconds}))


if __name__ == "__main__":
    main()
