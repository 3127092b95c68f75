"""The problems of the suite's `outputs` section: several objectives, and a constraint.
Standard library only, so hpo's Python objective can run them in any Python 3.

Each problem is a function of a dict of parameters (`x0`, `x1`, ...) returning a dict of outputs
by name, the form hpo's Python objective takes (`python = "mo_problems.py:zdt1"`) and the one
the peers (optuna_mo.py) call:

- `zdt1`, `zdt2` (Zitzler, Deb and Thiele 2000), d = 6 on [0, 1]^6: outputs `f1`, `f2`, both
  minimized; the Pareto fronts are f2 = 1 - sqrt(f1) (convex) and f2 = 1 - f1^2 (concave) for
  f1 in [0, 1], at x1..x5 = 0;
- `dtlz2` (Deb, Thiele, Laumanns and Zitzler 2005), 3 outputs, d = 6 on [0, 1]^6: `f1`, `f2`,
  `f3` minimized; the front is the unit sphere's positive eighth, at x2..x5 = 0.5;
- `branin_disc`: Branin on [-5, 10] x [0, 15] (`f`, minimized) subject to the disc of Gelbart,
  Snoek and Adams 2014, (x0 - 2.5)^2 + (x1 - 7.5)^2 <= 50, as the output
  `g` = (x0 - 2.5)^2 + (x1 - 7.5)^2 - 50 with `max = 0`. Of Branin's three minima (0.397887)
  only (pi, 2.275) is inside the disc (70 % of the domain is).

PROBLEMS holds each one's facts for the driver and the peers: the parameter bounds, the
objectives (all minimized), the constraints as (name, max), and for the multi-objective ones
the hypervolume reference point and the front's exact hypervolume against it.
"""

import math


def zdt1(p):
    x = [p[f"x{i}"] for i in range(6)]
    g = 1.0 + 9.0 * sum(x[1:]) / 5.0
    return {"f1": x[0], "f2": g * (1.0 - math.sqrt(x[0] / g))}


def zdt2(p):
    x = [p[f"x{i}"] for i in range(6)]
    g = 1.0 + 9.0 * sum(x[1:]) / 5.0
    return {"f1": x[0], "f2": g * (1.0 - (x[0] / g) ** 2)}


def dtlz2(p):
    x = [p[f"x{i}"] for i in range(6)]
    g = sum((v - 0.5) ** 2 for v in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return {"f1": (1 + g) * math.cos(a) * math.cos(b),
            "f2": (1 + g) * math.cos(a) * math.sin(b),
            "f3": (1 + g) * math.sin(a)}


def branin(x0, x1):
    b, c = 5.1 / (4 * math.pi ** 2), 5 / math.pi
    return (x1 - b * x0 ** 2 + c * x0 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x0) + 10


def branin_disc(p):
    x0, x1 = p["x0"], p["x1"]
    return {"f": branin(x0, x1), "g": (x0 - 2.5) ** 2 + (x1 - 7.5) ** 2 - 50.0}


UNIT6 = [(0.0, 1.0)] * 6
# Hypervolume reference points: BoTorch's test problems (ZDT: (11, 11), after Yang et al. 2019;
# DTLZ2: 1.1 per objective). The fronts' exact hypervolumes: the box minus the area (volume)
# between the front and the origin: 1/3 and 2/3 for ZDT1 and ZDT2, pi/6 for DTLZ2's eighth of
# the unit ball.
PROBLEMS = {
    "zdt1": {"func": zdt1, "label": "ZDT1 (d = 6)", "bounds": UNIT6, "objectives": ["f1", "f2"],
             "constraints": [], "ref": [11.0, 11.0], "hv_max": 121.0 - 1.0 / 3.0},
    "zdt2": {"func": zdt2, "label": "ZDT2 (d = 6)", "bounds": UNIT6, "objectives": ["f1", "f2"],
             "constraints": [], "ref": [11.0, 11.0], "hv_max": 121.0 - 2.0 / 3.0},
    "dtlz2": {"func": dtlz2, "label": "DTLZ2 (3 outputs, d = 6)", "bounds": UNIT6,
              "objectives": ["f1", "f2", "f3"], "constraints": [], "ref": [1.1, 1.1, 1.1],
              "hv_max": 1.1 ** 3 - math.pi / 6},
    "branin_disc": {"func": branin_disc, "label": "Branin in a disc", "bounds": [(-5.0, 10.0), (0.0, 15.0)],
                    "objectives": ["f"], "constraints": [("g", 0.0)], "minimum": 0.397887357729739},
}
