"""The suite's `prune` section: early stopping on a real training task, hpo's rules side by side
with Optuna's pruners.

The task (peers/mlp_digits.py): scikit-learn's MLPClassifier trained epoch by epoch with
`partial_fit` on `load_digits`, the validation accuracy reported after every epoch, the data
loaded once per interpreter. The same search space for every method (learning rate, L2 penalty,
hidden width) and, per seed:

- hpo arms, each the same number of sets through the Python objective on `--processes 2`:
  random sets without pruning, random sets with `asha`, random sets with `hyperband`, and a
  third random sets then Bayesian sets with `asha`;
- Optuna arms (the same interpreter, peers/optuna_prune.py): `SuccessiveHalvingPruner` and
  `HyperbandPruner` with `RandomSampler`, and `SuccessiveHalvingPruner` with `TPESampler`,
  each run twice: given as its budget the epochs hpo's random + `asha` trained at that seed,
  and the epochs hpo's random + `hyperband` trained there (as many trials as fit; the last may
  pass the budget by at most one trial). hpo's `asha` is compared with the first, its
  `hyperband` with the second: each comparison at an equal budget of epochs.

Per arm and seed: the best validation accuracy of the sets that ran to the end (`ok` rows;
Optuna's complete trials), and the epochs trained (hpo: the rows of curves.csv, one per epoch;
Optuna: the reports).
"""

import csv
import shutil
import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SUITE = Path(__file__).resolve().parent
PEERS = SUITE / "peers"
TASK = PEERS / "mlp_digits.py"

# The search space as hpo sets: (parameter, type, random spec, Bayesian spec); mirrors
# mlp_digits.SPACE.
SPACE = [
    ("lr", "float", '{ random = [1e-5, 1e-1], distribution = "log-uniform" }', "{ bayesian = [1e-5, 1e-1], log = true }"),
    ("alpha", "float", '{ random = [1e-6, 1e-1], distribution = "log-uniform" }', "{ bayesian = [1e-6, 1e-1], log = true }"),
    ("hidden", "int", "{ random = [8, 128] }", "{ bayesian = [8, 128] }"),
]

# key -> (label, pruning rule or None, Bayesian)
HPO_ARMS = {
    "hpo_random": ("hpo, random sets, no pruning", None, False),
    "hpo_random_asha": ("hpo, random sets, `asha`", "asha", False),
    "hpo_random_hyperband": ("hpo, random sets, `hyperband`", "hyperband", False),
    "hpo_bayes_asha": ("hpo, a third random then Bayesian sets, `asha`", "asha", True),
}
# The hpo arm whose epochs are the budget of the Optuna arms compared with it.
BUDGETS = {"asha": "hpo_random_asha", "hyperband": "hpo_random_hyperband"}
# key -> (label, pruner, sampler, budget)
OPTUNA_ARMS = {
    f"optuna_{p}_{s}{'' if b == 'asha' else '_hb'}": (
        f"Optuna, {sampler}, {pruner} ({b}'s budget)", p, s, b)
    for b in BUDGETS
    for p, s, sampler, pruner in [
        ("sha", "random", "RandomSampler", "SuccessiveHalvingPruner"),
        ("hyperband", "random", "RandomSampler", "HyperbandPruner"),
        ("sha", "tpe", "TPESampler", "SuccessiveHalvingPruner"),
    ]
}
LABELS = {k: v[0] for k, v in {**HPO_ARMS, **OPTUNA_ARMS}.items()}


def settings(quick):
    if quick:
        return {"seeds": [1], "sets": 8, "min_step": 1, "max_step": 9, "eta": 3}
    return {"seeds": [1, 2, 3, 4, 5], "sets": 30, "min_step": 1, "max_step": 27, "eta": 3}


def config(path, vpy, seed, pcfg, rule, bayesian):
    lines = ["[experiment]", 'dir = "exp"', f"seed = {seed}", "[objective]",
             f'python = "{TASK}:objective"', f'python_executable = "{vpy}"', 'direction = "maximize"']
    for name, kind, _, _ in SPACE:
        lines += ["[[parameters]]", f'name = "{name}"', f'type = "{kind}"']
    n = pcfg["sets"]
    blocks = [(n // 3, False), (n - n // 3, True)] if bayesian else [(n, False)]
    for count, bayes in blocks:
        lines += ["[[sets]]", f"count = {count}"]
        lines += [f"{name} = {b if bayes else r}" for name, _, r, b in SPACE]
    lines += ["[compute]", "provide_worker_path = false", "redirect_stdout = false"]
    if rule:
        lines += ["[pruning]", f'rule = "{rule}"', f"min_step = {pcfg['min_step']}",
                  f"max_step = {pcfg['max_step']}", f"reduction_factor = {pcfg['eta']}"]
    path.write_text("\n".join(lines) + "\n")


def hpo_arm(ctx, d, seed, pcfg, rule, bayesian):
    """One hpo run on a fresh folder: {best, epochs, sets, pruned} or {error}."""
    d.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(d / "exp", ignore_errors=True)
    conf = d / "experiment.toml"
    config(conf, ctx["vpy"], seed, pcfg, rule, bayesian)
    env = {**ctx["env"], "HPO_SUITE_MAX_EPOCHS": str(pcfg["max_step"])}
    try:
        p = subprocess.run([str(ctx["hpo"]), "run", str(conf), "--processes", "2"], capture_output=True,
                           text=True, timeout=3600, env=env, cwd=d)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 3600 s"}
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr.strip()[-300:]}"}
    with open(d / "exp" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(d / "exp" / "curves.csv", newline="") as f:
        epochs = sum(1 for _ in csv.DictReader(f))
    ok = [float(r["result"]) for r in rows if r["status"] == "ok"]
    return {"best": max(ok) if ok else None, "epochs": epochs, "sets": len(rows),
            "complete": len(ok), "pruned": sum(r["status"] == "pruned" for r in rows)}


def optuna_arm(ctx, seed, pcfg, pruner, sampler, budget):
    cmd = [str(ctx["vpy"]), str(PEERS / "optuna_prune.py"), "--pruner", pruner, "--sampler", sampler,
           "--seed", str(seed), "--budget", str(budget), "--max-epochs", str(pcfg["max_step"]),
           "--min-epochs", str(pcfg["min_step"]), "--eta", str(pcfg["eta"])]
    res, err = ctx["run_json"](cmd, 3600)
    if res is None:
        return {"error": err}
    return {"best": res["best"], "epochs": res["epochs"], "sets": res["trials"], "complete": res["complete"],
            "pruned": res["pruned"]}


def run_section(ctx, tmp, quick):
    """Runs every arm for every seed; returns the section's data."""
    pcfg = settings(quick)
    runs = {k: [] for k in LABELS}
    for seed in pcfg["seeds"]:
        for key, (_, rule, bayesian) in HPO_ARMS.items():
            r = hpo_arm(ctx, tmp / "prune" / key, seed, pcfg, rule, bayesian)
            runs[key].append({"seed": seed, **r})
            ctx["log"](f"prune seed {seed} {key}: {r}")
        budgets = {b: runs[hk][-1].get("epochs") for b, hk in BUDGETS.items()}
        # Two at a time (one process each): their budget is epochs, not time.
        with ThreadPoolExecutor(2) as pool:
            futures = {key: pool.submit(optuna_arm, ctx, seed, pcfg, pruner, sampler, budgets[b])
                       for key, (_, pruner, sampler, b) in OPTUNA_ARMS.items() if budgets[b]}
            for key, (_, _, _, b) in OPTUNA_ARMS.items():
                if key not in futures:
                    r = {"error": f"no budget: hpo's random + {b} run failed"}
                else:
                    r = {"budget": budgets[b], **futures[key].result()}
                runs[key].append({"seed": seed, **r})
                ctx["log"](f"prune seed {seed} {key}: {r}")
    return {"config": pcfg, "runs": runs}


def _median(runs, field):
    v = [r[field] for r in runs if r.get(field) is not None and not r.get("error")]
    return statistics.median(v) if v else None


# Accuracies are counts of correct validation samples over 540; one computed through results.csv
# and one in Optuna's process may differ in the last bit for the same count.
SAME = 1e-9


def checks(data):
    """The issue's marks: [(text, met or None when it could not be judged)]."""
    runs = data["runs"]
    best = {k: _median(v, "best") for k, v in runs.items()}
    epochs = {k: _median(v, "epochs") for k, v in runs.items()}
    out = []
    a, n = best["hpo_random_asha"], best["hpo_random"]
    ea, en = epochs["hpo_random_asha"], epochs["hpo_random"]
    if None not in (a, n, ea, en):
        out.append((f"`asha` within 0.5 accuracy points of no pruning: {100 * a:.2f} % against "
                    f"{100 * n:.2f} % ({100 * (a - n):+.2f} points)", a >= n - 0.005))
        out.append((f"`asha` with at most 1/3 of the epochs: {ea:.0f} against {en:.0f} "
                    f"({ea / en:.2f})", ea <= en / 3))
    for ok_, (_, _, _, b) in OPTUNA_ARMS.items():
        hk = BUDGETS[b]
        h, o = best[hk], best[ok_]
        if None not in (h, o):
            out.append((f"{LABELS[hk]} at least as good as {LABELS[ok_]}: {100 * h:.2f} % against "
                        f"{100 * o:.2f} %", h >= o - SAME))
    b, r = best["hpo_bayes_asha"], best["hpo_random_asha"]
    if None not in (b, r):
        out.append((f"Bayesian + `asha` not worse than random + `asha`: {100 * b:.2f} % against {100 * r:.2f} %",
                    b >= r - SAME))
    return out


def render(data, behind, fmt, md_table):
    """The section of report.md (adds to `behind` every mark that is missed)."""
    pcfg = data["config"]
    L = ["## Early stopping: a real training task", ""]
    L += [f"scikit-learn's `MLPClassifier` trained epoch by epoch (`partial_fit`, Adam, batches of 64) on "
          f"`load_digits` (70 % train, 30 % validation), the validation accuracy reported every epoch "
          f"(benches/suite/peers/mlp_digits.py); learning rate in [1e-5, 1e-1] and L2 penalty in [1e-6, 1e-1] "
          f"(log scale), hidden width in [8, 128]. {len(pcfg['seeds'])} seeds; hpo: {pcfg['sets']} sets per "
          f"arm on `--processes 2` (Python objective), `[pruning] min_step = {pcfg['min_step']}, "
          f"max_step = {pcfg['max_step']}, reduction_factor = {pcfg['eta']}`; a set that is not stopped "
          f"trains {pcfg['max_step']} epochs. Optuna (peers/optuna_prune.py, same interpreter, one process): "
          f"`min_resource = {pcfg['min_step']}, reduction_factor = {pcfg['eta']}` (Hyperband: "
          f"`max_resource = {pcfg['max_step']}`), each given at each seed as its budget the epochs that "
          "hpo's random + `asha` trained at that seed (asha's budget), then the epochs hpo's random + "
          "`hyperband` trained there (hyperband's budget): trials start while the epochs so far are below "
          "it, so the last one may pass it. hpo's `asha` is compared with the first, `hyperband` with the "
          "second. Best accuracy: of the sets that ran to the end (hpo's `ok` rows, "
          "Optuna's complete trials). Medians over seeds [min–max].", ""]
    rows = []
    for key, runs in data["runs"].items():
        good = [r for r in runs if not r.get("error")]
        errs = [r["error"] for r in runs if r.get("error")]

        def sp(field, scale=1.0, digits=3):
            v = [scale * r[field] for r in good if r.get(field) is not None]
            if not v:
                return "–"
            m = statistics.median(v)
            return f"{fmt(m, digits)} [{fmt(min(v), digits)}–{fmt(max(v), digits)}]" if len(v) > 1 else fmt(m, digits)

        rows.append([LABELS[key], sp("best", 100, 4), sp("epochs"), sp("sets"), sp("complete"),
                     f"failed: {errs[0][:100]}" if errs else ""])
    L += [md_table(["arm", "best validation accuracy, %", "epochs trained", "sets (trials)",
                    "ran to the end", "errors"], rows), ""]
    L += ["Per seed (best accuracy %, epochs):", ""]
    seeds = pcfg["seeds"]
    per = []
    for key, runs in data["runs"].items():
        by = {r["seed"]: r for r in runs}
        per.append([LABELS[key]] + [
            "–" if s not in by or by[s].get("error") or by[s].get("best") is None
            else f"{100 * by[s]['best']:.2f}, {by[s]['epochs']}" for s in seeds])
    L += [md_table(["arm"] + [f"seed {s}" for s in seeds], per), ""]
    hb, asha = _median(data["runs"]["hpo_random_hyperband"], "epochs"), _median(data["runs"]["hpo_random_asha"], "epochs")
    if hb and asha:
        L += [f"Budgets: hpo's `hyperband` trained {hb / asha:.1f}× the epochs of `asha` ({hb:.0f} against "
              f"{asha:.0f}, medians; its brackets with later first rungs stop fewer sets), so each is compared "
              "with the Optuna arms given its own budget.", ""]
    marks = checks(data)
    L += ["The issue's marks (medians over seeds):", ""]
    for text, met in marks:
        L.append(f"- {'met' if met else '**not met**'}: {text}.")
        if not met:
            behind.append(f"Early stopping: {text}.")
    return L + [""]
