"""The problems of the suite's `bbob` and `ml` sections, shared by the evaluation server (hpo's
side) and the peers, so every method evaluates exactly the same function.

A problem is named by a spec string:

- `bbob/f15/d5/i3`: COCO's BBOB function 15 in 5-D, instance 3 (module `cocoex`), on
  [-5, 5]^d; parameters `x0 .. x{d-1}`; f_opt is known (`Bbob.fopt`);
- `ml/svm`, `ml/mlp`, `ml/gb`: a scikit-learn model on a bundled data set; the value is the
  3-fold cross-validated error (1 - mean accuracy) with a fixed fold seed.

`space(spec)` describes the parameters in one neutral form (name, kind, bounds, log, choices)
that the driver turns into hpo's TOML and the peers into their own search spaces. Only
`load` needs the venv (cocoex, numpy, scikit-learn): the driver imports this module with the
standard library alone for `space`, `parse` and `on_bound`.
"""

import math
import os
import tempfile

LO, HI = -5.0, 5.0


def parse(spec):
    """('bbob', f, d, instance) or ('ml', task)."""
    parts = spec.split("/")
    if parts[0] == "bbob" and len(parts) == 4:
        return "bbob", int(parts[1][1:]), int(parts[2][1:]), int(parts[3][1:])
    if parts[0] == "ml" and len(parts) == 2 and parts[1] in ML_TASKS:
        return "ml", parts[1]
    raise ValueError(f"unknown problem spec {spec!r}")


# ---------------------------------------------------------------------------------------------
# BBOB


class Bbob:
    """One BBOB problem: `value(x)` for a list of d floats, `fopt` its optimal value."""

    def __init__(self, f, d, instance):
        import cocoex
        import numpy as np

        suite = cocoex.Suite("bbob", f"instances: {instance}", f"dimensions: {d} function_indices: {f}")
        self.problem = suite.get_problem_by_function_dimension_instance(f, d, instance)
        self.np = np
        self.d = d
        self.fcenter = self.value([0.0] * d)
        self.fopt = self._fopt(suite, f, d, instance)

    @staticmethod
    def _fopt(suite, f, d, instance):
        """f(x_opt), from the optimum COCO writes out (`_best_parameter`). BBOB's f_opt are
        multiples of 0.01, so the value is rounded to that; newer cocoex versions also expose
        `final_target_fvalue1 = f_opt + 1e-8`, which is checked when present."""
        import numpy as np

        probe = suite.get_problem_by_function_dimension_instance(f, d, instance)
        with tempfile.TemporaryDirectory() as td:
            cwd = os.getcwd()
            os.chdir(td)
            try:
                probe._best_parameter("print")
                xopt = np.loadtxt("._bbob_problem_best_parameter.txt", ndmin=1)
            finally:
                os.chdir(cwd)
        raw = float(probe(xopt))
        fopt = round(raw, 2)
        if abs(raw - fopt) > 1e-6:
            raise RuntimeError(f"f{f} d{d} i{instance}: f(x_opt) = {raw} is not a multiple of 0.01")
        target = getattr(probe, "final_target_fvalue1", None)
        if target is not None and abs(target - 1e-8 - fopt) > 1e-6:
            raise RuntimeError(f"f{f} d{d} i{instance}: final_target_fvalue1 {target} disagrees with f_opt {fopt}")
        probe.free()
        return fopt

    def value(self, x):
        return float(self.problem(self.np.asarray(x, dtype=float)))


def bbob_space(d):
    return [{"name": f"x{i}", "kind": "float", "lo": LO, "hi": HI, "log": False} for i in range(d)]


# ---------------------------------------------------------------------------------------------
# scikit-learn tasks (Bayesmark-style)

FOLD_SEED = 0

ML_TASKS = {
    "svm": {
        "label": "SVM (RBF) on digits",
        "data": "digits",
        "space": [
            {"name": "C", "kind": "float", "lo": 1e-2, "hi": 1e3, "log": True},
            {"name": "gamma", "kind": "float", "lo": 1e-5, "hi": 1e0, "log": True},
        ],
    },
    "mlp": {
        "label": "MLP on breast cancer",
        "data": "breast_cancer",
        "space": [
            {"name": "hidden", "kind": "int", "lo": 8, "hi": 128, "log": False},
            {"name": "alpha", "kind": "float", "lo": 1e-6, "hi": 1e1, "log": True},
            {"name": "lr", "kind": "float", "lo": 1e-4, "hi": 1e-1, "log": True},
            {"name": "activation", "kind": "choice", "choices": ["relu", "tanh", "logistic"]},
        ],
    },
    "gb": {
        "label": "gradient boosting on wine",
        "data": "wine",
        "space": [
            {"name": "max_depth", "kind": "int", "lo": 1, "hi": 8, "log": False},
            {"name": "learning_rate", "kind": "float", "lo": 1e-3, "hi": 1e0, "log": True},
            {"name": "n_estimators", "kind": "int", "lo": 10, "hi": 150, "log": False},
            {"name": "subsample", "kind": "float", "lo": 0.3, "hi": 1.0, "log": False},
        ],
    },
}


class MlTask:
    """A model on a bundled data set: `value(params)` is the 3-fold cross-validated error."""

    def __init__(self, task):
        from sklearn import datasets
        from sklearn.model_selection import StratifiedKFold

        self.task = task
        load = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
                "wine": datasets.load_wine}[ML_TASKS[task]["data"]]
        self.x, self.y = load(return_X_y=True)
        self.folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=FOLD_SEED)

    def model(self, p):
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        if self.task == "svm":
            return make_pipeline(StandardScaler(), SVC(C=float(p["C"]), gamma=float(p["gamma"])))
        if self.task == "mlp":
            return make_pipeline(StandardScaler(), MLPClassifier(
                hidden_layer_sizes=(int(p["hidden"]),), alpha=float(p["alpha"]),
                learning_rate_init=float(p["lr"]), activation=str(p["activation"]),
                max_iter=100, random_state=FOLD_SEED))
        return GradientBoostingClassifier(
            max_depth=int(p["max_depth"]), learning_rate=float(p["learning_rate"]),
            n_estimators=int(p["n_estimators"]), subsample=float(p["subsample"]),
            random_state=FOLD_SEED)

    def value(self, params):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import cross_val_score

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            acc = cross_val_score(self.model(params), self.x, self.y, cv=self.folds, n_jobs=1)
        return float(1.0 - acc.mean())


# ---------------------------------------------------------------------------------------------


def space(spec):
    p = parse(spec)
    return bbob_space(p[2]) if p[0] == "bbob" else ML_TASKS[p[1]]["space"]


def load(spec):
    """The problem object: `.value(...)` evaluates; BBOB problems also have `.fopt`."""
    p = parse(spec)
    return Bbob(*p[1:]) if p[0] == "bbob" else MlTask(p[1])


def info(problem):
    """Facts stored with each run: BBOB's f_opt and f at the centre of the domain (the
    reference the regret plots normalize by); nothing for the ML tasks."""
    if isinstance(problem, Bbob):
        return {"fopt": problem.fopt, "fcenter": problem.fcenter}
    return {}


def evaluate(problem, spec, params):
    """Value of a parameter dict (names as in `space(spec)`; values may be strings)."""
    if isinstance(problem, Bbob):
        return problem.value([float(params[f"x{i}"]) for i in range(problem.d)])
    typed = {}
    for s in space(spec):
        v = params[s["name"]]
        typed[s["name"]] = (int(float(v)) if s["kind"] == "int" else
                            str(v) if s["kind"] == "choice" else float(v))
    return problem.value(typed)


def on_bound(spec, params):
    """Names of the numeric parameters whose value lies on a bound of the domain (within 1e-9
    of the range, relative; on the log scale for log parameters)."""
    hits = []
    for s in space(spec):
        if s["kind"] == "choice":
            continue
        v = float(params[s["name"]])
        lo, hi = s["lo"], s["hi"]
        if s.get("log"):
            v, lo, hi = math.log(max(v, 1e-300)), math.log(lo), math.log(hi)
        tol = 1e-9 * (hi - lo)
        if v <= lo + tol or v >= hi - tol:
            hits.append(s["name"])
    return hits
