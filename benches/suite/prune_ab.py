"""Two hpo builds side by side on the `prune` section's random + `asha` and Bayesian + `asha`
arms (benches/suite/prune.py), each seed run by one build then the other, so that both see the
same machine load. Prints, per build, the issue's figure (the best accuracy of the sets that
ran to the end, median over seeds) and what the Bayesian sets did: how many distinct points
they proposed, their median accuracy after the first epoch, how many reached the rungs 3 and 9.

    benches/.venv/bin/python benches/suite/prune_ab.py BEFORE_HPO AFTER_HPO [SEED ...]

Seeds default to 1-5. Takes about 80 s a seed on 2 cores.
"""
import csv
import statistics as st
import sys
import tempfile
from pathlib import Path

import prune
import run as suite


def bayes_stats(exp):
    """What the Bayesian sets of an experiment folder did."""
    rows = list(csv.DictReader(open(exp / "results.csv", newline="")))
    curves = {}
    for c in csv.DictReader(open(exp / "curves.csv", newline="")):
        curves.setdefault(int(c["index"]), {})[int(c["step"])] = float(c["value"])
    bayes = [r for r in rows if r["bayesian"] == "true"]
    reached = lambda s: sum(s in curves.get(int(r["index"]), {}) for r in bayes)
    first = [curves[int(r["index"])][1] for r in bayes if 1 in curves.get(int(r["index"]), {})]
    return {"distinct": len({tuple(r[p] for p, *_ in prune.SPACE) for r in bayes}),
            "step1": st.median(first) if first else None, "reached3": reached(3), "reached9": reached(9)}


def main():
    builds = {"before": sys.argv[1], "after": sys.argv[2]}
    seeds = [int(s) for s in sys.argv[3:]] or [1, 2, 3, 4, 5]
    pcfg = prune.settings(False)
    runs = {(b, arm): [] for b in builds for arm in ("hpo_random_asha", "hpo_bayes_asha")}
    with tempfile.TemporaryDirectory(prefix="hpo-prune-ab-") as tmp:
        for seed in seeds:
            for arm in ("hpo_random_asha", "hpo_bayes_asha"):
                _, rule, bayesian = prune.HPO_ARMS[arm]
                for b, hpo in builds.items():
                    d = Path(tmp) / b / arm
                    r = prune.hpo_arm({"hpo": hpo, "vpy": suite.VPY, "env": suite.ENV}, d, seed, pcfg,
                                      rule, bayesian)
                    if bayesian and not r.get("error"):
                        r.update(bayes_stats(d / "exp"))
                    runs[(b, arm)].append(r)
                    print(f"seed {seed} {b} {arm}: {r}", file=sys.stderr, flush=True)
    med = lambda rs, k: st.median([r[k] for r in rs if r.get(k) is not None])
    print(f"seeds {seeds}")
    for (b, arm), rs in runs.items():
        per_seed = " ".join(f"{100 * r['best']:.2f}" for r in rs)
        line = (f"{b:6s} {arm:16s} best {100 * med(rs, 'best'):.2f} % (per seed {per_seed}), "
                f"epochs {med(rs, 'epochs'):.0f}, ran to the end {med(rs, 'complete'):.0f}")
        if arm == "hpo_bayes_asha":
            line += (f"; Bayesian sets: distinct points {med(rs, 'distinct'):.0f}, first-epoch accuracy "
                     f"{med(rs, 'step1'):.3f}, reached step 3 {med(rs, 'reached3'):.1f}, step 9 {med(rs, 'reached9'):.1f}")
        print(line)


if __name__ == "__main__":
    main()
