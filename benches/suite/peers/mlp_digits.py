"""The suite's early-stopping task: scikit-learn's MLPClassifier trained epoch by epoch
(`partial_fit`) on the digits data set that ships with scikit-learn, the validation accuracy
reported after every epoch.

- `objective(p)`: hpo's Python objective (`python = "mlp_digits.py:objective"`), reporting
  through `hpo.report(epoch, accuracy)` and returning early when told to stop; it trains
  $HPO_SUITE_MAX_EPOCHS epochs at most (default MAX_EPOCHS);
- `train(p, report)`: the training loop itself, shared with Optuna's peer (optuna_prune.py),
  which reports through `trial.report` / `trial.should_prune`.

The data are loaded and split once per interpreter, at import. The search space (`SPACE`) is
the same for every method: the learning rate and L2 penalty (log scale) and the hidden width.
"""
import os
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

X, Y = load_digits(return_X_y=True)
X = X / 16.0
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(X, Y, test_size=0.3, random_state=0, stratify=Y)
CLASSES = np.unique(Y)
BATCH = 64
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# name -> (low, high, log scale, whole number)
SPACE = {
    "lr": (1e-5, 1e-1, True, False),
    "alpha": (1e-6, 1e-1, True, False),
    "hidden": (8, 128, False, True),
}
MAX_EPOCHS = 27


def train(p, report, epochs=MAX_EPOCHS):
    """Trains for up to `epochs` epochs (one `partial_fit` call is one epoch: Adam over
    shuffled mini-batches of BATCH), calling `report(epoch, accuracy)` after each; stops when it
    returns True. Returns the last validation accuracy."""
    model = MLPClassifier(hidden_layer_sizes=(int(p["hidden"]),), alpha=p["alpha"],
                          learning_rate_init=p["lr"], batch_size=BATCH, random_state=0)
    accuracy = 0.0
    for epoch in range(1, epochs + 1):
        model.partial_fit(X_TRAIN, Y_TRAIN, classes=CLASSES)
        accuracy = model.score(X_VALID, Y_VALID)
        if report(epoch, accuracy):
            break
    return accuracy


def objective(p):
    import hpo

    return train(p, hpo.report, int(os.environ.get("HPO_SUITE_MAX_EPOCHS", MAX_EPOCHS)))
