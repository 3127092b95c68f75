"""The test functions of hpo's builtin objectives (src/objective/builtin.rs), for the peers.

Each problem is a function, its box and its known minimum; `PROBLEMS` holds the four of the
quality benchmark (Griewank and Ackley on the smaller boxes the suite uses).
"""

import math

import numpy as np


def branin(x):
    x1, x2 = x[0], x[1]
    b = 5.1 / (4.0 * math.pi**2)
    c = 5.0 / math.pi
    t = 1.0 / (8.0 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_A = np.array([
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
])
_P = np.array([
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
])


def hartmann6(x):
    x = np.asarray(x, dtype=float)
    inner = (_A * (x - _P) ** 2).sum(axis=1)
    return float(-(_ALPHA * np.exp(-inner)).sum())


def griewank(x):
    s = sum(v * v for v in x) / 4000.0
    p = 1.0
    for i, v in enumerate(x):
        p *= math.cos(v / math.sqrt(i + 1))
    return s - p + 1.0


def ackley(x):
    d = len(x)
    sq = sum(v * v for v in x) / d
    cs = sum(math.cos(2.0 * math.pi * v) for v in x) / d
    return -20.0 * math.exp(-0.2 * math.sqrt(sq)) - math.exp(cs) + 20.0 + math.e


def sphere(x):
    return float(sum(v * v for v in x))


# name -> (hpo builtin name, function, bounds, minimum)
PROBLEMS = {
    "branin": ("branin", branin, [(-5.0, 10.0), (0.0, 15.0)], 0.397887357729739),
    "hartmann6": ("hartmann6", hartmann6, [(0.0, 1.0)] * 6, -3.322368011415515),
    "griewank2": ("griewank", griewank, [(-5.0, 5.0)] * 2, 0.0),
    "ackley5": ("ackley", ackley, [(-5.0, 5.0)] * 5, 0.0),
}

# The suggestion-cost benchmark draws its points in these boxes (as hpo's bo_speed does).
SPEED_PROBLEMS = {2: PROBLEMS["branin"], 6: PROBLEMS["hartmann6"]}


def random_points(bounds, n, rng):
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    return lo + (hi - lo) * rng.random((n, len(bounds)))
