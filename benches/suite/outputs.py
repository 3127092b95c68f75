"""The suite's `outputs` section: several objectives and a constraint, hpo side by side with
Optuna's multi-objective and constrained samplers and random search.

The problems (peers/mo_problems.py, standard library only) run as hpo's Python objective,
which returns a dict of the declared outputs, through the real `hpo run --processes 1`:

- several objectives: ZDT1, ZDT2 (d = 6) and DTLZ2 (3 outputs, d = 6), 100 evaluations per run;
  hpo's 20 random then 80 Bayesian sets, random search (hpo's random sets, the whole budget),
  Optuna's NSGA-II (`NSGAIISampler`, population 20, and Optuna's default 50) and its
  multi-objective TPE (`TPESampler`, 20 startup trials, the problem's directions), each
  seed per method; the figure is the hypervolume of the final feasible Pareto front against a
  fixed reference point (peers/mo_problems.py: BoTorch's, (11, 11) for ZDT and 1.1 per
  output for DTLZ2), and its gap to the true front's hypervolume;
- a constraint: Branin in the disc (x0 - 2.5)^2 + (x1 - 7.5)^2 <= 50 (an output `g` with
  `max = 0`), 60 evaluations (hpo: 20 random + 40 Bayesian; Optuna's TPE with 20 startup trials
  and its `constraints_func`; random search); the figures are the best feasible value and the
  number of evaluations outside the disc.

hpo declares its outputs with `[[objective.outputs]]` (`direction`, or `max` for the
constraint) and writes a column per output (and `feasible`) into results.csv. An hpo that does
not read `[[objective.outputs]]` yet (the probe: `hpo init` on such a configuration) still runs
random search, with the first objective as `result_key` and the other outputs read back from
the `metrics` column; its Bayesian column is then skipped with the reason. The hypervolume is
computed here, exactly (2 outputs: a sweep; 3: slices along the third, each a 2-D sweep), and
checked against Optuna's `compute_hypervolume` on every front of the run and on random point
sets. With outputs declared, `hpo best --format json` must list exactly the front computed here.

This module needs only the standard library; the peers and the check run with the venv's Python.
"""

import concurrent.futures
import csv
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SUITE = Path(__file__).resolve().parent
PEERS = SUITE / "peers"
sys.path.insert(0, str(PEERS))
from mo_problems import PROBLEMS  # noqa: E402

MO_PROBLEMS = ["zdt1", "zdt2", "dtlz2"]
CONSTRAINED = "branin_disc"

# key -> label; the hpo methods first.
MO_METHODS = {
    "hpo": "hpo, random then Bayesian sets",
    "random": "random search (hpo, random sets)",
    "nsga2": "Optuna NSGA-II (population 20)",
    "nsga2_50": "Optuna NSGA-II (population 50, its default)",
    "tpe": "Optuna multi-objective TPE",
}
CON_METHODS = {
    "hpo": "hpo, random then Bayesian sets",
    "random": "random search (hpo, random sets)",
    "tpe": "Optuna TPE with `constraints_func`",
}
PEER_METHODS = {"nsga2", "nsga2_50", "tpe"}


def settings(quick):
    if quick:
        return {"quick": True, "problems": ["zdt1", "dtlz2"], "seeds": [1], "n_init": 10, "n_total": 30,
                "con_seeds": [1], "con_init": 10, "con_total": 20, "jobs": 2, "hv_check_sets": 20}
    return {"quick": False, "problems": MO_PROBLEMS, "seeds": [1, 2, 3, 4, 5], "n_init": 20, "n_total": 100,
            "con_seeds": [1, 2, 3, 4, 5], "con_init": 20, "con_total": 60, "jobs": 2, "hv_check_sets": 200}


# ---------------------------------------------------------------------------------------------
# Pareto fronts and hypervolume (every output minimized)


def dominates(a, b):
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_indices(points):
    """Indices of the points no other point dominates (the first of exact duplicates only)."""
    out = []
    for i, p in enumerate(points):
        if any(dominates(q, p) or (q == p and j < i) for j, q in enumerate(points) if j != i):
            continue
        out.append(i)
    return out


def _hv2(points, ref):
    """Exact 2-D hypervolume: sweep by the first output, each point adding the strip its second
    output opens below the best so far."""
    hv, best = 0.0, ref[1]
    for f1, f2 in sorted(points):
        if f2 < best:
            hv += (ref[0] - f1) * (best - f2)
            best = f2
    return hv


def hypervolume(points, ref):
    """Exact hypervolume of `points` (lists of 1 to 3 minimized outputs) against `ref`; points
    not strictly better than `ref` in every output add nothing. 3-D: between consecutive third
    coordinates the dominated region is the 2-D one of the points at or below that slice."""
    pts = [list(p) for p in points if all(x < r for x, r in zip(p, ref))]
    if not pts:
        return 0.0
    d = len(ref)
    if d == 1:
        return ref[0] - min(p[0] for p in pts)
    if d == 2:
        return _hv2(pts, ref)
    if d == 3:
        pts.sort(key=lambda p: p[2])
        hv = 0.0
        for i, p in enumerate(pts):
            top = pts[i + 1][2] if i + 1 < len(pts) else ref[2]
            if top > p[2]:
                hv += _hv2([q[:2] for q in pts[: i + 1]], ref[:2]) * (top - p[2])
        return hv
    raise ValueError(f"hypervolume of {d} outputs is not implemented here")


# ---------------------------------------------------------------------------------------------
# hpo's side


def hpo_config(path, problem, seed, blocks, mode, python):
    """An experiment on `problem`: `blocks` is [(count, 'random'|'bayesian')]. mode 'outputs'
    declares every output; 'legacy' minimizes the first objective as `result_key`."""
    spec = PROBLEMS[problem]
    lines = ["[experiment]", 'dir = "exp"', f"seed = {seed}", "[objective]",
             f'python = "{PEERS / "mo_problems.py"}:{problem}"', f'python_executable = "{python}"']
    if mode == "outputs":
        for name in spec["objectives"]:
            lines += ["[[objective.outputs]]", f'name = "{name}"', 'direction = "minimize"']
        for name, bound in spec["constraints"]:
            lines += ["[[objective.outputs]]", f'name = "{name}"', f"max = {bound}"]
    else:
        lines += ['direction = "minimize"', f'result_key = "{spec["objectives"][0]}"']
    for i in range(len(spec["bounds"])):
        lines += ["[[parameters]]", f'name = "x{i}"', 'type = "float"']
    for count, strategy in blocks:
        lines += ["[[sets]]", f"count = {count}"]
        lines += [f"x{i} = {{ {strategy} = [{lo}, {hi}] }}" for i, (lo, hi) in enumerate(spec["bounds"])]
    lines += ["[compute]", "provide_worker_path = false", "redirect_stdout = false"]
    path.write_text("\n".join(lines) + "\n")


def probe(ctx, tmp):
    """('outputs', '') when hpo reads `[[objective.outputs]]`, else ('legacy', why not)."""
    d = tmp / "outputs-probe"
    d.mkdir(parents=True, exist_ok=True)
    hpo_config(d / "probe.toml", CONSTRAINED, 1, [(1, "random")], "outputs", sys.executable)
    p = subprocess.run([str(ctx["hpo"]), "init", str(d / "probe.toml")], capture_output=True, text=True,
                       env=ctx["env"], cwd=d, timeout=60)
    shutil.rmtree(d, ignore_errors=True)
    if p.returncode == 0:
        return "outputs", ""
    why = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
    return "legacy", f"this hpo does not read `[[objective.outputs]]` (`hpo init`: {why[:200]})"


def row_outputs(row, spec, mode):
    """The outputs of an `ok` row of results.csv by name."""
    names = spec["objectives"] + [n for n, _ in spec["constraints"]]
    if mode == "outputs":
        return {n: float(row[n]) for n in names}
    metrics = json.loads(row["metrics"]) if row.get("metrics") else {}
    return {n: float(row["result"]) if n == spec["objectives"][0] else float(metrics[n]) for n in names}


def hpo_job(ctx, tmp, problem, method, seed, n_init, n_total, mode):
    spec = PROBLEMS[problem]
    d = tmp / f"outputs-{problem}-{method}-{seed}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    blocks = [(n_total, "random")] if method == "random" else [(n_init, "random"), (n_total - n_init, "bayesian")]
    hpo_config(d / "exp.toml", problem, seed, blocks, mode, sys.executable)
    t = time.perf_counter()
    p = subprocess.run([str(ctx["hpo"]), "run", str(d / "exp.toml"), "--processes", "1"], capture_output=True,
                       text=True, env=ctx["env"], cwd=d, timeout=3600)
    seconds = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"hpo run exited {p.returncode}: {p.stderr.strip()[-400:]}")
    with open(d / "exp" / "results.csv", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["index"]))
    ok = [r for r in rows if r["status"] == "ok"]
    outputs = [row_outputs(r, spec, mode) for r in ok]
    run = {"outputs": outputs, "failed": len(rows) - len(ok), "seconds": seconds,
           "bayesian": sum(r.get("bayesian") == "true" for r in ok)}
    if mode == "outputs":
        run["checks"] = contract_checks(ctx, d, spec, ok, outputs)
    shutil.rmtree(d, ignore_errors=True)
    return run


def contract_checks(ctx, d, spec, ok, outputs):
    """hpo's own view against this module's: the `feasible` column, and `hpo best --format
    json` (the Pareto-optimal feasible rows). A list of disagreements (empty: none)."""
    out = []
    if spec["constraints"]:
        for r, o in zip(ok, outputs):
            mine = all(o[n] <= b for n, b in spec["constraints"])
            if r.get("feasible") != ("true" if mine else "false"):
                out.append(f"row {r['index']}: feasible={r.get('feasible')!r}, the outputs say {mine}")
    if len(spec["objectives"]) > 1:
        p = subprocess.run([str(ctx["hpo"]), "best", str(d / "exp"), "--format", "json"], capture_output=True,
                           text=True, env=ctx["env"], timeout=60)
        listed, why = None, (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:200]
        if p.returncode == 0:
            try:
                sets = json.loads(p.stdout)
                if isinstance(sets, list):
                    listed = {int(s["index"]) for s in sets}
                else:
                    why = f"printed a {type(sets).__name__}, not an array of sets: {p.stdout.strip()[:120]}"
            except (ValueError, TypeError, KeyError) as e:
                why = f"unreadable output ({e}): {p.stdout.strip()[:120]}"
        if listed is None:
            out.append(f"hpo best --format json: {why}")
        else:
            pts = [[o[n] for n in spec["objectives"]] for o in outputs]
            front = {int(ok[i]["index"]) for i in pareto_indices(pts)}
            if listed != front:
                out.append(f"hpo best lists {len(listed)} sets, the front has {len(front)} "
                           f"(only in hpo's: {sorted(listed - front)[:5]}, only here: {sorted(front - listed)[:5]})")
    return out


def peer_job(ctx, problem, method, seed, n_init, n_total):
    sampler, population = {"nsga2": ("nsga2", 20), "nsga2_50": ("nsga2", 50), "tpe": ("tpe", 20)}[method]
    cmd = [str(ctx["vpy"]), str(PEERS / "optuna_mo.py"), "optimize", "--problem", problem, "--sampler", sampler,
           "--seed", str(seed), "--n", str(n_total), "--n-init", str(n_init), "--population", str(population)]
    t = time.perf_counter()
    res, err = ctx["run_json"](cmd, 3600)
    if res is None:
        raise RuntimeError(f"optuna_mo.py {problem} {method} seed {seed}: {err}")
    return {"outputs": res["outputs"], "failed": 0, "seconds": time.perf_counter() - t}


# ---------------------------------------------------------------------------------------------
# The section


def run_section(ctx, tmp, quick, venv_ok):
    """Runs every (problem, method, seed); returns the section's data."""
    ocfg = settings(quick)
    mode, why = probe(ctx, tmp)
    notes = [why] if why else []
    jobs = []
    for problem, methods, seeds, n_init, n_total in (
            *((p, MO_METHODS, ocfg["seeds"], ocfg["n_init"], ocfg["n_total"]) for p in ocfg["problems"]),
            (CONSTRAINED, CON_METHODS, ocfg["con_seeds"], ocfg["con_init"], ocfg["con_total"])):
        for method in methods:
            for seed in seeds:
                jobs.append((problem, method, seed, n_init, n_total))
    skipped = {}
    if mode != "outputs":
        skipped["hpo"] = "needs `[[objective.outputs]]`"
    if not venv_ok:
        for m in MO_METHODS:
            if m in PEER_METHODS:
                skipped[m] = "needs Optuna, in benches/.venv"
    runs = {p: {m: [] for m in (CON_METHODS if p == CONSTRAINED else MO_METHODS)}
            for p in ocfg["problems"] + [CONSTRAINED]}

    def one(job):
        problem, method, seed, n_init, n_total = job
        if method in PEER_METHODS:
            return peer_job(ctx, problem, method, seed, n_init, n_total)
        return hpo_job(ctx, tmp, problem, method, seed, n_init, n_total, mode)

    todo = [j for j in jobs if j[1] not in skipped]
    # Two at a time: only quality is measured here, never a time.
    with concurrent.futures.ThreadPoolExecutor(ocfg["jobs"]) as pool:
        futs = {pool.submit(one, j): j for j in todo}
        for i, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            problem, method, seed, _, _ = futs[fut]
            try:
                r = fut.result()
            except Exception as e:  # a failed run is reported, the others go on
                r = {"error": str(e)[-500:]}
                ctx["log"](f"outputs {problem} {method} seed {seed} failed: {e}")
            runs[problem][method].append({"seed": seed, **r})
            if i % 10 == 0 or i == len(todo):
                ctx["log"](f"outputs: {i} of {len(todo)} runs done")
    for problem in runs:
        for method in runs[problem]:
            runs[problem][method].sort(key=lambda r: r["seed"])
    data = derive({"config": ocfg, "mode": mode, "notes": notes, "skipped": skipped, "runs": runs})
    data["hv_check"] = hv_check(ctx, data) if venv_ok else {"error": "needs Optuna, in benches/.venv"}
    return data


def derive(data):
    """Adds what the plots read to the section's data: each run's hypervolume every 5
    evaluations, the problems' labels and front hypervolumes, the methods' labels."""
    for problem in data["config"]["problems"]:
        for method_runs in data["runs"][problem].values():
            for r in method_runs:
                if not r.get("error"):
                    r["trace"] = hv_trace(r, PROBLEMS[problem], 5)
    data["problems"] = {p: {"label": PROBLEMS[p]["label"], "hv_max": PROBLEMS[p]["hv_max"]}
                        for p in data["config"]["problems"]}
    data["labels"] = MO_METHODS
    return data


def final_front(run, spec):
    """The objective vectors of the run's feasible Pareto front."""
    pts = [[o[n] for n in spec["objectives"]] for o in run["outputs"]
           if all(o[n] <= b for n, b in spec["constraints"])]
    return [pts[i] for i in pareto_indices(pts)]


def hv_trace(run, spec, step):
    """[[k, hypervolume of the feasible front of the first k evaluations]] every `step`
    evaluations and at the last (the front kept as it grows)."""
    front, out = [], []
    for k, o in enumerate(run["outputs"], 1):
        if all(o[n] <= b for n, b in spec["constraints"]):
            p = [o[n] for n in spec["objectives"]]
            if not any(dominates(q, p) or q == p for q in front):
                front = [q for q in front if not dominates(p, q)] + [p]
        if k % step == 0 or k == len(run["outputs"]):
            out.append([k, hypervolume(front, spec["ref"])])
    return out


def hv_check(ctx, data):
    """This module's hypervolume against Optuna's `compute_hypervolume`, on every final front
    of the run and on random point sets of 2 and 3 outputs (seeded): the largest relative
    difference."""
    cases = []
    for problem in data["config"]["problems"]:
        spec = PROBLEMS[problem]
        for runs in data["runs"][problem].values():
            for r in runs:
                if not r.get("error"):
                    cases.append((final_front(r, spec), spec["ref"]))
    rng = random.Random(7)
    for k in range(data["config"]["hv_check_sets"]):
        d = 2 + k % 2
        n = rng.randint(1, 60)
        # Some coordinates on a shared grid, so that ties between points are tested too.
        cases.append(([[rng.choice([rng.random(), round(rng.random(), 1)]) for _ in range(d)] for _ in range(n)],
                      [1.05] * d))
    payload = []
    for pts, ref in cases:
        inside = [p for p in pts if all(x < r for x, r in zip(p, ref))]
        payload.append({"points": inside, "ref": ref})
    p = subprocess.run([str(ctx["vpy"]), str(PEERS / "optuna_mo.py"), "hv"], input=json.dumps(payload),
                       capture_output=True, text=True, env=ctx["env"], timeout=600)
    if p.returncode != 0:
        return {"error": f"optuna_mo.py hv exited {p.returncode}: {p.stderr.strip()[-300:]}"}
    theirs = json.loads(p.stdout)
    worst = 0.0
    for (pts, ref), t in zip(cases, theirs):
        mine = hypervolume(pts, ref)
        worst = max(worst, abs(mine - t) / max(abs(t), 1e-12) if t else abs(mine))
    return {"cases": len(cases), "fronts": len(cases) - data["config"]["hv_check_sets"], "max_rel_diff": worst}


# ---------------------------------------------------------------------------------------------
# Report


def _good(runs):
    return [r for r in runs if not r.get("error")]


def _cell(v, fmt, digits=4):
    if not v:
        return "–"
    m = statistics.median(v)
    return f"{fmt(m, digits)} [{fmt(min(v), digits)}–{fmt(max(v), digits)}]" if len(v) > 1 else fmt(m, digits)


def summary(data):
    """{problem: {method: {"hv": [...], "gap": [...]}}} for the multi-objective problems and
    {method: {"best": [...], "infeasible": [...]}} for the constrained one."""
    mo = {}
    for problem in data["config"]["problems"]:
        spec = PROBLEMS[problem]
        mo[problem] = {}
        for method, runs in data["runs"][problem].items():
            hv = [hypervolume(final_front(r, spec), spec["ref"]) for r in _good(runs)]
            mo[problem][method] = {"hv": hv, "gap": [spec["hv_max"] - h for h in hv]}
    con = {}
    spec = PROBLEMS[CONSTRAINED]
    for method, runs in data["runs"][CONSTRAINED].items():
        best, infeasible = [], []
        for r in _good(runs):
            feas = [o["f"] for o in r["outputs"] if o["g"] <= 0]
            best.append(min(feas) if feas else float("inf"))
            infeasible.append(sum(o["g"] > 0 for o in r["outputs"]))
        con[method] = {"best": best, "infeasible": infeasible}
    return mo, con


def render(data, behind, fmt, md_table, plots=()):
    """The section of report.md (adds to `behind` every mark that is missed); `plots`: the
    files plot.py wrote."""
    ocfg = data["config"]
    mo, con = summary(data)
    L = ["## Several outputs and a constraint", ""]
    L += [f"hpo through `hpo run --processes 1` with the problems as its Python objective "
          f"(benches/suite/peers/mo_problems.py, a dict of outputs); Optuna in one process per run (peers/optuna_mo.py, in-memory storage). "
          f"Seeds {', '.join(map(str, ocfg['seeds']))} per method; medians over seeds [min–max]. "
          "Optuna's TPE gets as many startup (random) trials as hpo has random sets.", ""]
    for n in data["notes"]:
        L += [f"- {n}"]
    for m, why in data["skipped"].items():
        L += [f"- {MO_METHODS.get(m, m)}: skipped ({why})."]
    if data["notes"] or data["skipped"]:
        L += [""]
    L += [f"### Several objectives: hypervolume after {ocfg['n_total']} evaluations", "",
          f"hpo: {ocfg['n_init']} random sets, then {ocfg['n_total'] - ocfg['n_init']} Bayesian sets; random "
          f"search: {ocfg['n_total']} random sets. The hypervolume of the final Pareto front (every output "
          "minimized) against a fixed reference point, from BoTorch's test problems: (11, 11) for ZDT1 "
          "and ZDT2 (after Yang et al. 2019), (1.1, 1.1, 1.1) for DTLZ2; higher is better, the best "
          "median in bold. In brackets under it: the gap to the true front's hypervolume (ZDT1: 121 − 1/3, "
          "ZDT2: 121 − 2/3, DTLZ2: 1.1³ − π/6), median; lower is better.", ""]
    header = ["method"] + [PROBLEMS[p]["label"] for p in ocfg["problems"]]
    rows = []
    best = {p: max((statistics.median(v["hv"]) for v in mo[p].values() if v["hv"]), default=None)
            for p in ocfg["problems"]}
    for method, label in MO_METHODS.items():
        row = [label]
        for p in ocfg["problems"]:
            v = mo[p].get(method, {"hv": []})
            errs = [r["error"] for r in data["runs"][p].get(method, []) if r.get("error")]
            if not v["hv"]:
                row.append(f"failed: {errs[0][:80]}" if errs else "skipped" if method in data["skipped"] else "–")
                continue
            med = statistics.median(v["hv"])
            text = _cell(v["hv"], fmt, 6)
            if med == best[p]:
                text = f"**{fmt(med, 6)}**" + text[len(fmt(med, 6)):]
            row.append(f"{text} (gap {fmt(statistics.median(v['gap']), 3)})"
                       + (f"; {len(errs)} run(s) failed" if errs else ""))
        rows.append(row)
    L += [md_table(header, rows), ""]
    L += ["ZDT's Pareto set lies on a face of the box (x1 … x5 = 0, their lower bound), which a model-based "
          "search that proposes on the bounds reaches quickly; DTLZ2's (x2 … x5 = 0.5) is inside it.", ""]
    if "hypervolume.png" in plots:
        L += ["![hypervolume gap over evaluations](hypervolume.png)", ""]
    L += mo_marks(mo, ocfg, behind)
    L += constrained(data, con, fmt, md_table, behind)
    L += checks_text(data, behind)
    return L + [""]


def mo_marks(mo, ocfg, behind):
    L = ["The issue's marks (medians over seeds): hpo at least as good as the better of Optuna's NSGA-II "
         "(population 20 or 50) and its TPE, and far ahead of random search (here: hpo's hypervolume gap at "
         "most half of random search's):", ""]
    for p in ocfg["problems"]:
        h = mo[p]["hpo"]["hv"]
        if not h:
            L.append(f"- {PROBLEMS[p]['label']}: not judged (no hpo Bayesian runs).")
            continue
        hm = statistics.median(h)
        peers = {m: statistics.median(mo[p][m]["hv"]) for m in ("nsga2", "nsga2_50", "tpe") if mo[p][m]["hv"]}
        if peers:
            bm = max(peers, key=peers.get)
            met = hm >= peers[bm]
            text = f"{PROBLEMS[p]['label']}: hpo {hm:.4f} against {MO_METHODS[bm]} {peers[bm]:.4f}"
            L.append(f"- {'met' if met else '**not met**'}: {text}.")
            if not met:
                behind.append(f"Several outputs, {text}.")
        r = mo[p]["random"]["gap"]
        if r:
            hg, rg = statistics.median(mo[p]["hpo"]["gap"]), statistics.median(r)
            met = hg <= rg / 2
            text = (f"{PROBLEMS[p]['label']}: hpo's hypervolume gap {hg:.4g} against random search's "
                    f"{rg:.4g} ({hg / rg:.2f} of it)" if rg else f"{PROBLEMS[p]['label']}: random search's gap is 0")
            L.append(f"- {'met' if met else '**not met**'}: {text}.")
            if not met:
                behind.append(f"Several outputs, {text}.")
    return L + [""]


def constrained(data, con, fmt, md_table, behind):
    ocfg = data["config"]
    spec = PROBLEMS[CONSTRAINED]
    L = [f"### A constraint: Branin in a disc, {ocfg['con_total']} evaluations", "",
         "Minimize Branin on [-5, 10] × [0, 15] subject to (x0 − 2.5)² + (x1 − 7.5)² ≤ 50 (Gelbart, Snoek "
         "and Adams 2014; the disc is 70 % of the domain, and holds one of Branin's three minima, "
         f"{spec['minimum']:.6f} at (π, 2.275)); hpo declares `g = (x0 − 2.5)² + (x1 − 7.5)² − 50` with "
         f"`max = 0`. hpo: {ocfg['con_init']} random sets, then {ocfg['con_total'] - ocfg['con_init']} "
         f"Bayesian sets; Optuna's TPE: {ocfg['con_init']} startup trials, `constraints_func` returning g. "
         "Best feasible value (lower is better; the best median in bold), its regret to the feasible "
         "minimum, and the evaluations outside the disc.", ""]
    rows = []
    best_med = min((statistics.median(v["best"]) for v in con.values() if v["best"]), default=None)
    for method, label in CON_METHODS.items():
        v = con.get(method, {"best": [], "infeasible": []})
        errs = [r["error"] for r in data["runs"][CONSTRAINED].get(method, []) if r.get("error")]
        if not v["best"]:
            rows.append([label, f"failed: {errs[0][:80]}" if errs else "skipped" if method in data["skipped"] else "–",
                         "–", "–"])
            continue
        med = statistics.median(v["best"])
        text = _cell(v["best"], fmt, 5)
        if med == best_med:
            text = f"**{fmt(med, 5)}**" + text[len(fmt(med, 5)):]
        rows.append([label, text, fmt(med - spec["minimum"], 3), _cell(v["infeasible"], fmt, 3)])
    L += [md_table(["method", "best feasible value", "regret (median)", "infeasible evaluations"], rows), ""]
    h, t = con["hpo"], con["tpe"]
    if h["best"] and t["best"]:
        hb, tb = statistics.median(h["best"]), statistics.median(t["best"])
        hi, ti = statistics.median(h["infeasible"]), statistics.median(t["infeasible"])
        L += ["The issue's marks (medians over seeds):", ""]
        for text, met in ((f"best feasible value not worse than Optuna's constrained TPE: {hb:.5f} against {tb:.5f}",
                           hb <= tb),
                          (f"fewer infeasible evaluations than Optuna's constrained TPE: {hi:g} against {ti:g}",
                           hi < ti)):
            L.append(f"- {'met' if met else '**not met**'}: {text}.")
            if not met:
                behind.append(f"A constraint: {text}.")
        L += [""]
    return L


def checks_text(data, behind):
    L = []
    hc = data.get("hv_check", {})
    if hc.get("error"):
        L.append(f"Hypervolume check against Optuna: not run ({hc['error']}).")
    elif hc:
        L.append(f"Hypervolume: computed here, exactly; against Optuna's `compute_hypervolume` on "
                 f"{hc['cases']} point sets ({hc['fronts']} final fronts of this run, the rest random, 2 and 3 "
                 f"outputs) the largest relative difference is {hc['max_rel_diff']:.1e}.")
    disagree = [f"{p} {m} seed {r['seed']}: {c}" for p, ms in data["runs"].items() for m, rs in ms.items()
                for r in rs for c in r.get("checks", [])]
    checked = sum(1 for ms in data["runs"].values() for rs in ms.values() for r in rs if "checks" in r)
    if checked:
        L.append(f"hpo's own view checked on {checked} runs (`feasible` against the outputs, `hpo best --format "
                 f"json` against the front computed here): "
                 + ("they agree." if not disagree else f"{len(disagree)} disagreement(s): " + "; ".join(disagree[:5])))
        if disagree:
            behind.append(f"Several outputs: hpo's own view disagrees with the outputs in {len(disagree)} case(s), "
                          f"e.g. {disagree[0]}.")
    return L + [""] if L else []
