"""The suite's `conditional` section: a search space with an SGD/Adam-style branch, Bayesian
sets with conditional parameters against random search and against the same space flattened.

The problem (`objective` below, an hpo Python objective; standard library only): `optimizer`
chooses between two sub-functions of different parameters. Shared: `lr` on a log scale in
[1e-4, 1]. `sgd` reads `momentum` and `damping` (in [0, 1]); `adam` reads `beta1`, `beta2` (in
[0, 1]) and `eps_exp` (in [-8, -3]). Each branch is a smooth bowl with a cosine ripple; the
`adam` branch holds the global minimum 0 (at lr = 1e-3, beta1 = 0.85, beta2 = 0.2,
eps_exp = -6), the `sgd` branch's best is 0.2. The arms, each `n_init` random sets then
Bayesian sets up to `n_total` evaluations, on `--processes 1` (the sets one after another, so
every proposal sees every earlier result):

- `conditional`: `momentum` and `damping` with `when = "optimizer == \"sgd\""`, `beta1`, `beta2`
  and `eps_exp` with `when = "optimizer == \"adam\""`; `optimizer` is `bayesian_choice`;
- `flat`: the same parameters and function without `when` (all always active, the branch that
  is not chosen ignores its parameters), the model sees all seven dimensions;
- `random`: random sets only, over the conditional space.

Per arm and seed: the best value after `n_total` evaluations and after half of them.
"""

import csv
import math
import shutil
import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FILE = Path(__file__).resolve()

SGD = ("momentum", "damping")
ADAM = ("beta1", "beta2", "eps_exp")
# (name, type, random spec, Bayesian spec, the `when` of the conditional space)
SPACE = [
    ("optimizer", "str", '{ choice = ["sgd", "adam"] }', '{ bayesian_choice = ["sgd", "adam"] }', None),
    ("lr", "float", '{ random = [1e-4, 1.0], distribution = "log-uniform" }', "{ bayesian = [1e-4, 1.0], log = true }", None),
    ("momentum", "float", "{ random = [0.0, 1.0] }", "{ bayesian = [0.0, 1.0] }", 'optimizer == \\"sgd\\"'),
    ("damping", "float", "{ random = [0.0, 1.0] }", "{ bayesian = [0.0, 1.0] }", 'optimizer == \\"sgd\\"'),
    ("beta1", "float", "{ random = [0.0, 1.0] }", "{ bayesian = [0.0, 1.0] }", 'optimizer == \\"adam\\"'),
    ("beta2", "float", "{ random = [0.0, 1.0] }", "{ bayesian = [0.0, 1.0] }", 'optimizer == \\"adam\\"'),
    ("eps_exp", "float", "{ random = [-8.0, -3.0] }", "{ bayesian = [-8.0, -3.0] }", 'optimizer == \\"adam\\"'),
]

# key -> (label, Bayesian, conditional)
ARMS = {
    "conditional": ("hpo, Bayesian sets, conditional parameters (`when`)", True, True),
    "flat": ("hpo, Bayesian sets, the same space flattened (no `when`)", True, False),
    "random": ("hpo, random sets only (conditional space)", False, True),
}
LABELS = {k: v[0] for k, v in ARMS.items()}


def objective(p):
    """The conditional test function (minimize); the branch not chosen ignores its parameters."""
    t = math.log10(p["lr"])
    if p["optimizer"] == "sgd":
        m, d = p["momentum"], p["damping"]
        return (0.2 + 0.25 * (t + 1.5) ** 2 + 2.0 * (m - 0.9) ** 2 + (d - 0.3) ** 2
                + 0.1 * (1 - math.cos(8 * math.pi * (m - 0.9))))
    b1, b2, e = p["beta1"], p["beta2"], p["eps_exp"]
    return (0.25 * (t + 3.0) ** 2 + 3.0 * (b1 - 0.85) ** 2 + 2.0 * (b2 - 0.2) ** 2
            + 0.5 * ((e + 6.0) / 2.5) ** 2 + 0.15 * (1 - math.cos(6 * math.pi * (b1 - 0.85)))
            + 0.1 * (1 - math.cos(6 * math.pi * (b2 - 0.2))))


def settings(quick):
    if quick:
        return {"seeds": [1], "n_init": 6, "n_total": 14}
    return {"seeds": [1, 2, 3, 4, 5], "n_init": 20, "n_total": 100}


def config(path, seed, ccfg, bayesian, conditional):
    lines = ["[experiment]", 'dir = "exp"', f"seed = {seed}", "[objective]", f'python = "{FILE}:objective"']
    for name, kind, _, _, when in SPACE:
        lines += ["[[parameters]]", f'name = "{name}"', f'type = "{kind}"']
        if conditional and when:
            lines.append(f'when = "{when}"')
    blocks = [(ccfg["n_init"], False), (ccfg["n_total"] - ccfg["n_init"], True)] if bayesian \
        else [(ccfg["n_total"], False)]
    for count, bayes in blocks:
        lines += ["[[sets]]", f"count = {count}"]
        lines += [f"{name} = {b if bayes else r}" for name, _, r, b, _ in SPACE]
    lines += ["[compute]", "provide_worker_path = false", "redirect_stdout = false"]
    path.write_text("\n".join(lines) + "\n")


def arm(ctx, d, seed, ccfg, bayesian, conditional):
    """One hpo run on a fresh folder: {best, best_half, sets, seconds} or {error}."""
    d.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(d / "exp", ignore_errors=True)
    conf = d / "experiment.toml"
    config(conf, seed, ccfg, bayesian, conditional)
    try:
        p = subprocess.run([str(ctx["hpo"]), "run", str(conf), "--processes", "1"], capture_output=True,
                           text=True, timeout=3600, env=ctx["env"], cwd=d)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 3600 s"}
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr.strip()[-300:]}"}
    with open(d / "exp" / "results.csv", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["index"]))
    values = [float(r["result"]) if r["status"] == "ok" else math.inf for r in rows]
    if not values or min(values) == math.inf:
        return {"error": "no ok row"}
    half = len(values) // 2
    # Sets whose inactive cells are not empty would break the contract: counted, must be 0.
    leaked = sum(1 for r in rows if conditional and
                 any(r[n] != "" for n in (ADAM if r["optimizer"] == "sgd" else SGD)))
    return {"best": min(values), "best_half": min(values[:half]), "sets": len(rows),
            "adam_share": sum(r["optimizer"] == "adam" for r in rows[ccfg["n_init"]:])
            / max(1, len(rows) - ccfg["n_init"]), "leaked": leaked}


def run_section(ctx, tmp, quick):
    """Runs every arm for every seed, two runs at a time; returns the section's data."""
    ccfg = settings(quick)
    runs = {k: [] for k in ARMS}
    jobs = [(seed, key) for seed in ccfg["seeds"] for key in ARMS]
    with ThreadPoolExecutor(2) as pool:
        futures = {(seed, key): pool.submit(arm, ctx, tmp / "conditional" / f"{key}-{seed}", seed, ccfg,
                                            ARMS[key][1], ARMS[key][2]) for seed, key in jobs}
        for (seed, key), fut in futures.items():
            r = fut.result()
            runs[key].append({"seed": seed, **r})
            ctx["log"](f"conditional seed {seed} {key}: {r}")
    return {"config": ccfg, "runs": runs}


def _median(runs, field):
    v = [r[field] for r in runs if r.get(field) is not None and not r.get("error")]
    return statistics.median(v) if v else None


def _g(x):
    return f"{x:.3g}"


def checks(data):
    """The issue's marks: [(text, met)]."""
    best = {k: _median(v, "best") for k, v in data["runs"].items()}
    out = []
    c, r, f = best["conditional"], best["random"], best["flat"]
    if None not in (c, r):
        out.append((f"Bayesian sets with conditional parameters beat random search: best {_g(c)} against "
                    f"{_g(r)}", c < r))
    if None not in (c, f):
        out.append((f"conditional parameters at least as good as the flattened space: best {_g(c)} against "
                    f"{_g(f)}", c <= f))
    leaked = sum(r.get("leaked", 0) for v in data["runs"].values() for r in v)
    out.append((f"inactive parameters left empty in every row ({leaked} rows with a value)", leaked == 0))
    return out


def render(data, behind, fmt, md_table):
    """The section of report.md (adds to `behind` every mark that is missed)."""
    ccfg = data["config"]
    L = ["## Conditional parameters: an SGD/Adam branch", ""]
    L += [f"benches/suite/conditional.py: `optimizer` in {{sgd, adam}} chooses between two sub-functions; "
          "`lr` (log scale) is shared, `sgd` reads `momentum` and `damping`, `adam` reads `beta1`, `beta2` "
          "and `eps_exp` (global minimum 0 in the `adam` branch, 0.2 at best in `sgd`). "
          f"{len(ccfg['seeds'])} seeds; each arm {ccfg['n_init']} random sets, then Bayesian sets up to "
          f"{ccfg['n_total']} evaluations, `--processes 1`, Python objective. `flat`: the same parameters "
          "without `when` (all always active). Best value found (minimize), medians over seeds [min–max]; "
          "`adam` share: of the Bayesian sets.", ""]
    rows = []
    for key, runs in data["runs"].items():
        good = [r for r in runs if not r.get("error")]
        errs = [r["error"] for r in runs if r.get("error")]

        def sp(field, digits=3):
            v = [r[field] for r in good if r.get(field) is not None]
            if not v:
                return "–"
            m = statistics.median(v)
            return f"{fmt(m, digits)} [{fmt(min(v), digits)}–{fmt(max(v), digits)}]" if len(v) > 1 else fmt(m, digits)

        rows.append([LABELS[key], sp("best"), sp("best_half"),
                     sp("adam_share", 2) if ARMS[key][1] else "–",
                     f"failed: {errs[0][:100]}" if errs else ""])
    L += [md_table(["arm", f"best after {ccfg['n_total']}", f"best after {ccfg['n_total'] // 2}",
                    "`adam` share", "errors"], rows), ""]
    seeds = ccfg["seeds"]
    per = []
    for key, runs in data["runs"].items():
        by = {r["seed"]: r for r in runs}
        per.append([LABELS[key]] + ["–" if s not in by or by[s].get("error") else _g(by[s]['best'])
                                    for s in seeds])
    L += ["Per seed (best after all evaluations):", "", md_table(["arm"] + [f"seed {s}" for s in seeds], per), ""]
    L += ["The issue's marks (medians over seeds):", ""]
    for text, met in checks(data):
        L.append(f"- {'met' if met else '**not met**'}: {text}.")
        if not met:
            behind.append(f"Conditional parameters: {text}.")
    return L + [""]


if __name__ == "__main__":
    # A quick look without the suite: `python3 benches/suite/conditional.py [--quick] [HPO]`.
    import json
    import os
    import sys
    import tempfile
    args = [a for a in sys.argv[1:] if a != "--quick"]
    hpo = Path(args[0]) if args else FILE.parents[2] / "target" / "release" / "hpo"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="hpo-conditional-") as td:
        ctx = {"hpo": hpo, "env": env, "log": lambda m: print(m, file=sys.stderr, flush=True)}
        data = run_section(ctx, Path(td), "--quick" in sys.argv)
    print(json.dumps(data, indent=1))
    behind = []
    print("\n".join(render(data, behind, lambda x, d=3: f"{x:.{d}g}", lambda h, rows: "\n".join(
        ["| " + " | ".join(h) + " |", "|" + "---|" * len(h)] + ["| " + " | ".join(map(str, r)) + " |" for r in rows]))))
