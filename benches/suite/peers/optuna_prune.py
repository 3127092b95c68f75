"""Optuna's side of the suite's early-stopping section: the same training (mlp_digits.train),
the same search space, a pruner, and a budget of epochs instead of a number of trials.

    python optuna_prune.py --pruner sha|hyperband --sampler random|tpe --seed S --budget EPOCHS

Trials run one after another in this process (in-memory storage); a new trial starts while the
epochs trained so far are below --budget, so the last one may pass it by at most one trial's
epochs (the total is printed). Prints one JSON object: the best validation accuracy of the
trials that ran to the end (Optuna's best_value: complete trials only), the epochs trained, the
trials run, complete and pruned.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import optuna  # noqa: E402

import mlp_digits  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pruner", choices=["sha", "hyperband"], required=True)
    ap.add_argument("--sampler", choices=["random", "tpe"], default="random")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--budget", type=int, required=True, help="epochs in all")
    ap.add_argument("--max-epochs", type=int, default=mlp_digits.MAX_EPOCHS)
    ap.add_argument("--min-epochs", type=int, default=1)
    ap.add_argument("--eta", type=int, default=3)
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if a.pruner == "sha":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=a.min_epochs, reduction_factor=a.eta)
    else:
        pruner = optuna.pruners.HyperbandPruner(min_resource=a.min_epochs, max_resource=a.max_epochs,
                                                reduction_factor=a.eta)
    sampler = (optuna.samplers.RandomSampler(seed=a.seed) if a.sampler == "random"
               else optuna.samplers.TPESampler(seed=a.seed))
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    epochs = 0

    def objective(trial):
        nonlocal epochs
        p = {}
        for name, (lo, hi, log, whole) in mlp_digits.SPACE.items():
            p[name] = (trial.suggest_int(name, lo, hi) if whole else trial.suggest_float(name, lo, hi, log=log))

        stopped = False

        def report(step, value):
            # should_prune is asked once per report: Optuna's successive halving records the
            # rung on the first call, so asking again would answer differently.
            nonlocal epochs, stopped
            epochs += 1
            trial.report(value, step)
            stopped = trial.should_prune()
            return stopped

        value = mlp_digits.train(p, report, a.max_epochs)
        if stopped:
            raise optuna.TrialPruned()
        return value

    while epochs < a.budget:
        study.optimize(objective, n_trials=1)
    states = [t.state for t in study.trials]
    complete = sum(s == optuna.trial.TrialState.COMPLETE for s in states)
    print(json.dumps({"best": study.best_value if complete else None, "epochs": epochs,
                      "trials": len(states), "complete": complete,
                      "pruned": sum(s == optuna.trial.TrialState.PRUNED for s in states)}))


if __name__ == "__main__":
    main()
