"""Optuna's TPE sampler on the quality problems: n_init random trials (TPE's startup trials),
then TPE proposals, one trial at a time.

  optuna_peer.py optimize --problem branin --seed 1 [--n-init 20 --n-total 60]
"""

import argparse
import json
import sys
import time

import optuna

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from functions import PROBLEMS  # noqa: E402


def optimize(problem, seed, n_init, n_total):
    _, f, bounds, minimum = PROBLEMS[problem]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_init)
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def objective(trial):
        return f([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)])

    t = time.perf_counter()
    study.optimize(objective, n_trials=n_total)
    return {"problem": problem, "seed": seed, "values": [tr.value for tr in study.trials],
            "minimum": minimum, "model_seconds": time.perf_counter() - t}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["optimize"])
    ap.add_argument("--problem", default="branin")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-init", type=int, default=20)
    ap.add_argument("--n-total", type=int, default=60)
    a = ap.parse_args()
    print(json.dumps(optimize(a.problem, a.seed, a.n_init, a.n_total)))


if __name__ == "__main__":
    main()
