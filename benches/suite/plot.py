"""Plots of a suite run (run with the venv's Python): median simple regret over evaluations
per problem and method, seconds per suggestion against n, and the hypervolume gap over
evaluations of the `outputs` section; with --blackbox, the BBOB regret
over evaluations per dimension from blackbox-summary.json. Prints the files it wrote.

  plot.py RAW.json OUTDIR
  plot.py --blackbox blackbox-summary.json OUTDIR
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

LABELS = {"hpo_seq": "hpo sequential", "hpo_par4": "hpo 4 workers, together", "hpo_par4_turn": "hpo 4 workers, in turn",
          "random": "random search",
          "phs": "PHS procedure", "skopt": "scikit-optimize", "tpe": "Optuna TPE"}


def regret(data, out):
    runs = data.get("quality", {}).get("runs", [])
    problems = data["config"]["problems"]
    if not runs:
        return None
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6), squeeze=False)
    for ax, p in zip(axes[0], problems):
        for m, label in LABELS.items():
            traces = [r["trace"] for r in runs if r["method"] == m and r["problem"] == p]
            if not traces:
                continue
            n = min(len(t) for t in traces)
            a = np.maximum(np.array([t[:n] for t in traces]), 1e-12)
            x = np.arange(1, n + 1)
            med = np.median(a, axis=0)
            ax.plot(x, med, label=label)
            ax.fill_between(x, np.quantile(a, 0.25, axis=0), np.quantile(a, 0.75, axis=0), alpha=0.15)
        ax.axvline(data["config"]["n_init"] + 0.5, color="grey", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(p)
        ax.set_xlabel("evaluations")
    axes[0][0].set_ylabel("simple regret (median, IQR shaded)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "regret.png", dpi=110)
    return "regret.png"


def suggest(data, out):
    rows = [r for r in data.get("suggest", []) if r["seconds"]]
    if not rows:
        return None
    ds = sorted({r["d"] for r in rows})
    fig, axes = plt.subplots(1, len(ds), figsize=(4.5 * len(ds), 3.6), squeeze=False)
    for ax, d in zip(axes[0], ds):
        for who, label in (("hpo", "hpo"), ("phs", "PHS procedure"), ("skopt", "scikit-optimize")):
            pts = sorted((r["n"], float(np.median(r["seconds"]))) for r in rows if r["who"] == who and r["d"] == d)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"d = {d}")
        ax.set_xlabel("observed points n")
    axes[0][0].set_ylabel("seconds per suggestion (median)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "suggest_cost.png", dpi=110)
    return "suggest_cost.png"


def hypervolume(data, out):
    sec = data.get("outputs") or {}
    problems = sec.get("problems", {})
    if not problems:
        return None
    fig, axes = plt.subplots(1, len(problems), figsize=(4.2 * len(problems), 3.6), squeeze=False)
    for ax, (p, facts) in zip(axes[0], problems.items()):
        for m, label in sec["labels"].items():
            traces = [r["trace"] for r in sec["runs"][p].get(m, []) if r.get("trace")]
            if not traces:
                continue
            n = min(len(t) for t in traces)
            x = [k for k, _ in traces[0][:n]]
            gap = np.maximum(np.array([[facts["hv_max"] - h for _, h in t[:n]] for t in traces]), 1e-9)
            ax.plot(x, np.median(gap, axis=0), label=label, lw=2 if m == "hpo" else 1.2)
        ax.axvline(sec["config"]["n_init"] + 0.5, color="grey", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(facts["label"])
        ax.set_xlabel("evaluations")
    axes[0][0].set_ylabel("hypervolume gap to the true front\n(median over seeds)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "hypervolume.png", dpi=110)
    return "hypervolume.png"


BLACKBOX_LABELS = {"hpo_seq": "hpo", "random": "random search", "tpe": "Optuna TPE",
                   "skopt": "skopt gp_minimize", "gp": "Optuna GPSampler"}


def blackbox(summary, out):
    curves = summary.get("curves", {})
    ds = sorted(curves, key=int)
    if not ds:
        return None
    n_init = summary["config"]["bbob"]["n_init"]
    fs = summary["config"]["bbob"]["functions"]
    functions = f"f{fs[0]}-f{fs[-1]}" if fs == list(range(fs[0], fs[-1] + 1)) else ", ".join(f"f{f}" for f in fs)
    fig, axes = plt.subplots(1, len(ds), figsize=(4.5 * len(ds), 3.8), squeeze=False)
    for ax, d in zip(axes[0], ds):
        for m, label in BLACKBOX_LABELS.items():
            if m in curves[d]:
                y = curves[d][m]
                ax.plot(np.arange(1, len(y) + 1), y, label=label, lw=2 if m == "hpo_seq" else 1.2)
        ax.axvline(n_init + 0.5, color="grey", lw=0.8, ls=":")
        ax.set_title(f"BBOB {functions}, d = {d}")
        ax.set_xlabel("evaluations")
        ax.legend(fontsize=7)  # each panel: the methods stored differ by d while peers run
    axes[0][0].set_ylabel("mean over functions of median\nlog10(regret / regret at centre)")
    fig.tight_layout()
    fig.savefig(out / "bbob_regret.png", dpi=110)
    return "bbob_regret.png"


def main():
    if sys.argv[1] == "--blackbox":
        f = blackbox(json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3]))
        if f:
            print(f)
        return
    data = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    for f in (regret(data, out), suggest(data, out), hypervolume(data, out)):
        if f:
            print(f)


if __name__ == "__main__":
    main()
