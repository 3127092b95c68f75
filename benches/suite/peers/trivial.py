"""The trivial function of the suite's Python-objective section, three ways:

- `objective(p)`: hpo's Python objective (`python = "trivial.py:objective"`);
- `timed(p)`: the same, logging when each call starts and ends (time.perf_counter) to
  $HPO_SUITE_LOG/<pid>.json at exit, so the suite can measure the time between the end of one
  call and the start of the next on the same interpreter: hpo's whole per-set cycle outside
  the function;
- as a program (`python trivial.py X Y`): prints the value, for a command objective that
  starts Python for every set.
Optuna's peer (optuna_trivial.py) optimizes the same x*x + y*y.
"""
import atexit
import json
import os
import sys
import time

CALLS = []


def objective(p):
    return p["x"] * p["x"] + p["y"] * p["y"]


def timed(p):
    start = time.perf_counter()
    value = p["x"] * p["x"] + p["y"] * p["y"]
    CALLS.append((start, time.perf_counter()))
    return value


def _dump():
    folder = os.environ.get("HPO_SUITE_LOG")
    if folder and CALLS:
        with open(os.path.join(folder, "%d.json" % os.getpid()), "w") as f:
            json.dump(CALLS, f)


atexit.register(_dump)

if __name__ == "__main__":
    x, y = float(sys.argv[1]), float(sys.argv[2])
    print(x * x + y * y)
