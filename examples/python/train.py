"""A real training script as an hpo objective: a scikit-learn multi-layer perceptron on the
digits data set that ships with scikit-learn (no download).

As a Python objective (`train.toml`: `python = "{config_dir}/train.py:objective"`), each worker
imports this file once, so the data is loaded and split once per worker, and `objective` is
called for every parameter set. It returns the validation accuracy as the result and the rest
as metrics (the `metrics` column of results.csv).

Run as a program (`python3 train.py --lr 0.01 --alpha 1e-4 --hidden 64 --activation relu`), it
evaluates one set and prints the same dict on an `hpo-result:` line: what a command objective
does, paying Python's start, the imports and the data loading on every set.
"""
import json
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

# Loaded once per interpreter, at import: the state a Python objective keeps between sets.
X, y = load_digits(return_X_y=True)
X = X / 16.0
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def objective(p):
    start = time.perf_counter()
    model = MLPClassifier(
        hidden_layer_sizes=(p["hidden"],),
        activation=p["activation"],
        alpha=p["alpha"],
        learning_rate_init=p["lr"],
        max_iter=40,
        random_state=0,
    )
    model.fit(X_TRAIN, Y_TRAIN)
    return {
        "result": model.score(X_VALID, Y_VALID),
        "train_accuracy": model.score(X_TRAIN, Y_TRAIN),
        "epochs": model.n_iter_,
        "fit_s": round(time.perf_counter() - start, 4),
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--activation", required=True)
    args = parser.parse_args()
    print("hpo-result: " + json.dumps(objective(vars(args))))
