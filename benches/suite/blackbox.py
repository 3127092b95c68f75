"""The suite's `bbob` and `ml` sections: hpo against its peers on problems nobody tuned it for.

- `bbob`: COCO's BBOB functions 1-24, d = 2, 5, 10, instances 1-5 on [-5, 5]^d, 60 evaluations
  (d <= 5) or 100 (d = 10), the first 20 random; final simple regret = best f - f_opt.
- `ml`: scikit-learn models on bundled data sets (Bayesmark-style), 3-fold cross-validated error.

Methods: `hpo_seq` (the real binary, `--processes 1`, a `random` block then a `bayesian` block),
`random` (hpo's own random sets, the whole budget), and the peers `tpe`, `skopt`, `gp`
(peers/blackbox_peer.py). hpo's command objective is `examples/suite_eval_client.rs`, which asks
an evaluation server (peers/evalserver.py) holding the problems; the problems themselves are in
peers/problems.py, shared with the peers.

Every finished run is one JSON line in `OUT/<section>.jsonl`, appended under a lock and fsynced,
so runs are resumable (a run already stored is skipped) and shards (`--shard i/n`, separate
processes) can write to one folder. The peers are deterministic for a seed: their lines are
stored with the suite and reused from other results folders (`--reuse-peers`); hpo's side is
always run into OUT. The report (`blackbox.md`) and its summary (`blackbox-summary.json`) render
from the stored lines alone. This module needs only the standard library.
"""

import concurrent.futures
import csv
import datetime as dt
import fcntl
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = Path(__file__).resolve().parent
sys.path.insert(0, str(SUITE / "peers"))
import problems  # noqa: E402  (the standard-library part: spaces, specs, bounds)

SECTIONS = ("bbob", "ml")
HPO_METHODS = ("hpo_seq", "random")
PEER_METHODS = ("tpe", "skopt", "gp")
METHODS = HPO_METHODS + PEER_METHODS
LABELS = {
    "hpo_seq": "hpo",
    "random": "random search",
    "tpe": "Optuna TPE",
    "skopt": "skopt gp_minimize",
    "gp": "Optuna GPSampler",
}
# Regrets at or below this are "solved" (COCO's final target precision): equal when comparing.
SOLVED = 1e-8
HPO_TIMEOUT = 1800


def settings(quick, seeds_per_instance=1):
    """What each section runs. --quick: a miniature of both, hpo's side only (the peers' rows
    come from the stored lines, truncated to the quick budget: a peer's first k evaluations do
    not depend on its budget)."""
    if quick:
        return {
            "bbob": {"functions": [2, 15], "dims": [2], "instances": [1], "seeds_per_instance": 1,
                     "n_init": 20, "budget": {"2": 30}},
            "ml": {"tasks": ["svm"], "seeds": [1], "n_init": 20, "budget": 25},
        }
    return {
        "bbob": {"functions": list(range(1, 25)), "dims": [2, 5, 10], "instances": [1, 2, 3, 4, 5],
                 "seeds_per_instance": seeds_per_instance, "n_init": 20,
                 "budget": {"2": 60, "5": 60, "10": 100}},
        "ml": {"tasks": list(problems.ML_TASKS), "seeds": [1, 2, 3, 4, 5], "n_init": 20, "budget": 60},
    }


def jobs(section, cfg, methods):
    """Every run of a section, in a fixed order: cheap methods and small d first, so a partial
    store is complete for whole methods and dimensions."""
    c = cfg[section]
    out = []
    order = [m for m in ("random", "hpo_seq", "tpe", "gp", "skopt") if m in methods]
    for m in order:
        if section == "bbob":
            for d in c["dims"]:
                for f in c["functions"]:
                    for i in c["instances"]:
                        for k in range(c["seeds_per_instance"]):
                            out.append({"method": m, "problem": f"bbob/f{f}/d{d}/i{i}", "seed": i + 100 * k,
                                        "n_init": c["n_init"], "budget": c["budget"][str(d)]})
        else:
            for t in c["tasks"]:
                for s in c["seeds"]:
                    out.append({"method": m, "problem": f"ml/{t}", "seed": s, "n_init": c["n_init"],
                                "budget": c["budget"]})
    return out


def key(run):
    return (run["method"], run["problem"], run["seed"], run["n_init"])


# ---------------------------------------------------------------------------------------------
# The store: one JSON line per finished run


def store_path(folder, section):
    return Path(folder) / f"{section}.jsonl"


def load_store(folder, section, methods=None):
    """key -> run for the lines of `folder/<section>.jsonl` (the longest run of a key wins)."""
    path = store_path(folder, section)
    out = {}
    if not path.exists():
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                run = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill: that run is simply run again
            if methods and run["method"] not in methods:
                continue
            k = key(run)
            if k not in out or run["budget"] > out[k]["budget"]:
                out[k] = run
    return out


def append(folder, section, run):
    """Appends one line under an exclusive lock (shards share the file) and fsyncs it."""
    path = store_path(folder, section)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(json.dumps(run, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def drop_methods(folder, section, methods):
    """Rewrites OUT's file without the runs of `methods` (a fresh start for them)."""
    path = store_path(folder, section)
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines(keepends=True)
            if line.strip() and json.loads(line).get("method") not in methods]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(keep))
    os.replace(tmp, path)


def finish(run, section):
    """Adds what the report needs from the parameters (which lie on a bound), and keeps the
    parameters themselves only for the ML tasks (BBOB lines would grow by d floats a row)."""
    spec = run["problem"]
    hits = [problems.on_bound(spec, p) for p in run["params"]]
    if section == "bbob":
        run["edge"] = [len(h) for h in hits]
        del run["params"]
    else:
        run["edge"] = hits
    return run


# ---------------------------------------------------------------------------------------------
# hpo's side


class EvalServer:
    """peers/evalserver.py on a socket in a private folder, for one thread's hpo runs."""

    def __init__(self, ctx):
        self.dir = Path(tempfile.mkdtemp(prefix="hpo-eval-"))
        self.sock = str(self.dir / "s")
        self.proc = subprocess.Popen([str(ctx["vpy"]), str(SUITE / "peers" / "evalserver.py"), self.sock],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=ctx["env"])
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the evaluation server did not start (see its stderr above)")

    def info(self, spec):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.sock)
            s.sendall(spec.encode() + b"\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        text = data.decode().strip()
        if text.startswith("error: "):
            raise RuntimeError(f"evaluation server: {text}")
        return json.loads(text)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def toml_value(v):
    return json.dumps(v) if isinstance(v, str) else repr(v)


def objective_toml(ctx, server, spec, space):
    """The [objective] table: the evaluation client with the set's parameters. (A future
    in-process Python objective replaces only this function.)"""
    args = [str(ctx["client"]), server.sock, spec] + [f"{s['name']}={{{s['name']}}}" for s in space]
    return ["[objective]", "command = [" + ", ".join(json.dumps(a) for a in args) + "]", "timeout_s = 600"]


def strategy(s, model):
    """One parameter's strategy in a `random` (model=False) or `bayesian` block."""
    if s["kind"] == "choice":
        key_ = "bayesian_choice" if model else "choice"
        return f"{{ {key_} = [{', '.join(toml_value(c) for c in s['choices'])}] }}"
    lo, hi = s["lo"], s["hi"]
    if s["kind"] == "int":
        lo, hi = int(lo), int(hi)
    if model:
        scale = ", log = true" if s["log"] else ""
        return f"{{ bayesian = [{lo!r}, {hi!r}]{scale} }}"
    scale = ', distribution = "log-uniform"' if s["log"] else ""
    return f"{{ random = [{lo!r}, {hi!r}]{scale} }}"


def hpo_config(path, ctx, server, job):
    spec = job["problem"]
    space = problems.space(spec)
    kinds = {"float": "float", "int": "int", "choice": "str"}
    blocks = ([(job["budget"], False)] if job["method"] == "random"
              else [(job["n_init"], False), (job["budget"] - job["n_init"], True)])
    lines = ["[experiment]", 'dir = "exp"', f"seed = {job['seed']}"] + objective_toml(ctx, server, spec, space)
    for s in space:
        lines += ["[[parameters]]", f'name = "{s["name"]}"', f'type = "{kinds[s["kind"]]}"']
    for count, model in blocks:
        lines += ["[[sets]]", f"count = {count}"] + [f"{s['name']} = {strategy(s, model)}" for s in space]
    lines += ["[compute]", "provide_worker_path = false", "redirect_stdout = false"]
    path.write_text("\n".join(lines) + "\n")


def hpo_job(ctx, server, job, tmp):
    d = Path(tempfile.mkdtemp(prefix="run-", dir=tmp))
    try:
        hpo_config(d / "c.toml", ctx, server, job)
        t = time.perf_counter()
        p = subprocess.run([str(ctx["hpo"]), "run", str(d / "c.toml"), "--processes", "1", "-q"],
                           capture_output=True, text=True, timeout=HPO_TIMEOUT, env=ctx["env"], cwd=d)
        seconds = time.perf_counter() - t
        if p.returncode != 0:
            raise RuntimeError(f"hpo exited {p.returncode}: {p.stderr.strip()[-400:]}")
        with open(d / "exp" / "results.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    bad = [r for r in rows if r["status"] != "ok"]
    if bad or len(rows) != job["budget"]:
        raise RuntimeError(f"{len(rows)} rows, {len(bad)} not ok: {(bad or [{}])[0].get('error', '')[:300]}")
    rows.sort(key=lambda r: int(r["index"]))  # one process: the order they were evaluated in
    space = problems.space(job["problem"])
    typed = {"float": float, "int": int, "choice": str}
    return {**job, "values": [float(r["result"]) for r in rows],
            "params": [{s["name"]: typed[s["kind"]](r[s["name"]]) for s in space} for r in rows],
            "model": [r["bayesian"] == "true" for r in rows],
            "seconds": seconds, "info": server.info(job["problem"])}


def run_hpo_chunk(ctx, section, chunk, outdir, tmp):
    server = EvalServer(ctx)
    errors = []
    try:
        for job in chunk:
            try:
                run = finish(hpo_job(ctx, server, job, tmp), section)
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
                errors.append(f"{job['method']} {job['problem']} seed {job['seed']}: {e}")
                ctx["log"](f"{section}: {errors[-1]}")
                continue
            append(outdir, section, {**run, **stamp(ctx, run["method"])})
            ctx["progress"]()
    finally:
        server.close()
    return errors


# ---------------------------------------------------------------------------------------------
# The peers


def run_peer_chunk(ctx, section, chunk, outdir, tmp):
    """One peer process for a list of runs; each line it prints is stored as it arrives."""
    jobs_file = Path(tempfile.mkstemp(prefix="jobs-", suffix=".json", dir=tmp)[1])
    jobs_file.write_text(json.dumps(chunk))
    errors = []
    proc = subprocess.Popen([str(ctx["vpy"]), str(SUITE / "peers" / "blackbox_peer.py"), str(jobs_file)],
                            stdout=subprocess.PIPE, text=True, env=ctx["env"])
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        run = json.loads(line)
        if "error" in run:
            errors.append(f"{run['method']} {run['problem']} seed {run['seed']}: {run['error']}")
            ctx["log"](f"{section}: {errors[-1]}")
            continue
        run["model"] = [i >= run["n_init"] for i in range(len(run["values"]))]
        append(outdir, section, {**finish(run, section), **stamp(ctx, run["method"])})
        ctx["progress"]()
    if proc.wait() != 0:
        errors.append(f"{chunk[0]['method']}: the peer program exited {proc.returncode}")
    return errors


def stamp(ctx, method):
    v = ctx["versions"]
    if method in HPO_METHODS:
        ver = {"hpo": v.get("hpo commit", "?")}
    else:
        ver = {k: v[k] for k in ("optuna", "scikit-optimize", "torch", "coco-experiment", "scikit-learn") if k in v}
    return {"versions": ver, "date": dt.date.today().isoformat()}


# ---------------------------------------------------------------------------------------------
# Running a section


def shard_of(todo, shard):
    i, n = shard
    return [j for k, j in enumerate(todo) if k % n == i]


def reuse_dirs(arg, outdir):
    """The results folders whose peer lines count: `--reuse-peers DIR[,DIR]`, `none`, or by
    default every folder under benches/results/ holding a section file (newest last wins)."""
    if arg == "none":
        return []
    if arg:
        return [Path(p).resolve() for p in arg.split(",")]
    results = SUITE.parent / "results"
    found = sorted({p.parent for s in SECTIONS for p in results.glob(f"*/{s}.jsonl")})
    return [p.resolve() for p in found if p.resolve() != Path(outdir).resolve()]


def peer_lines(section, dirs, outdir, methods=PEER_METHODS):
    """key -> peer run, from the reused folders and OUT itself (OUT last: it wins)."""
    out = {}
    for d in list(dirs) + [Path(outdir)]:
        for k, run in load_store(d, section, methods).items():
            if k not in out or run["budget"] >= out[k]["budget"]:
                out[k] = run
    return out


def group(job):
    """The dimension of a BBOB run (0 for the ML tasks): the order runs are done in."""
    p = problems.parse(job["problem"])
    return p[2] if p[0] == "bbob" else 0


def run_section(section, ctx, cfg, methods, outdir, reuse, shard, workers):
    """Runs what is missing of a section into OUT. Returns the errors (runs not stored)."""
    have = dict(load_store(outdir, section, HPO_METHODS))
    have.update(peer_lines(section, reuse, outdir))
    # Shard the whole grid, then drop what is stored: a shard's share does not depend on when
    # it started.
    todo = [j for j in shard_of(jobs(section, cfg, methods), shard)
            if key(j) not in have or have[key(j)]["budget"] < j["budget"]]
    counts = ", ".join(f"{m} {sum(j['method'] == m for j in todo)}" for m in methods)
    ctx["log"](f"{section}: {len(todo)} runs to do in this shard ({counts})")
    if not todo:
        return []
    done = [0]

    def progress():
        done[0] += 1
        if done[0] % 10 == 0 or done[0] == len(todo):
            ctx["log"](f"{section}: {done[0]} of {len(todo)} runs stored")

    ctx = {**ctx, "progress": progress}
    # Dimension by dimension, every method within one (so a partial store compares all methods
    # on the smaller d first); one peer process or evaluation server per chunk.
    chunks = []
    for g in sorted({group(j) for j in todo}):
        for m in methods:
            mine = [j for j in todo if j["method"] == m and group(j) == g]
            for w in range(workers):
                part = mine[w::workers]
                if part:
                    chunks.append((m, part))
    errors = []
    with tempfile.TemporaryDirectory(prefix=f"hpo-{section}-") as td:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futs = [pool.submit(run_hpo_chunk if m in HPO_METHODS else run_peer_chunk, ctx, section, part,
                                outdir, Path(td)) for m, part in chunks]
            for f in concurrent.futures.as_completed(futs):
                errors += f.result()
    return errors


# ---------------------------------------------------------------------------------------------
# The report, from the stored lines alone


def fmt(x):
    if x is None or x != x:
        return "–"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 0.01:
        return f"{x:.3g}"
    return f"{x:.1e}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def runs_for(section, cfg, outdir, reuse):
    """The runs the report uses: (method, problem, seed) -> run truncated to the configured
    budget, from OUT (hpo's side and peers) and the reused folders (peers, and random search
    where OUT has none: `--methods hpo_seq` reruns hpo alone)."""
    lines = peer_lines(section, reuse, outdir, PEER_METHODS + ("random",))
    lines.update(load_store(outdir, section, HPO_METHODS))
    want = {key(j): j["budget"] for j in jobs(section, cfg, METHODS)}
    out = {}
    for k, run in lines.items():
        b = want.get(k)
        if b is None or run["budget"] < b:
            continue
        r = dict(run)
        for field in ("values", "edge", "model", "params"):
            if field in r:
                r[field] = r[field][:b]
        r["budget"] = b
        out[(r["method"], r["problem"], r["seed"])] = r
    return out


def regret_trace(run):
    best, out = math.inf, []
    for v in run["values"]:
        best = min(best, v)
        out.append(max(best - run["info"]["fopt"], 0.0))
    return out


def median(v):
    return statistics.median(v) if v else None


def bbob_summary(cfg, runs):
    c = cfg["bbob"]
    methods = [m for m in METHODS if any(r["method"] == m for r in runs.values())]
    cells = {}  # (f, d) -> method -> (median final regret, runs)
    curves = {}  # d -> method -> [mean over functions of the median normalized log10 regret]
    for d in c["dims"]:
        for m in methods:
            per_f = []
            for f in c["functions"]:
                rs = [r for (mm, p, _), r in runs.items()
                      if mm == m and p.startswith(f"bbob/f{f}/d{d}/")]
                if not rs:
                    continue
                traces = [regret_trace(r) for r in rs]
                cells.setdefault((f, d), {})[m] = (median([t[-1] for t in traces]), len(rs))
                norm = [[math.log10(max(x, SOLVED) / max(r["info"]["fcenter"] - r["info"]["fopt"], SOLVED))
                         for x in t] for t, r in zip(traces, rs)]
                n = min(len(t) for t in norm)
                per_f.append([statistics.median(t[i] for t in norm) for i in range(n)])
            if len(per_f) == len(c["functions"]):
                n = min(len(p) for p in per_f)
                curves.setdefault(str(d), {})[m] = [statistics.fmean(p[i] for p in per_f) for i in range(n)]
    return methods, cells, curves


def clamp(x):
    return max(x, SOLVED)


def verdicts(by):
    """hpo against the best peer (<=, ties count) and against random search (<, both solved
    counts), on solved-clamped medians; None where a side is missing."""
    h = by.get("hpo_seq")
    peers = {m: by[m][0] for m in PEER_METHODS if m in by}
    vs_peer = vs_random = None
    if h and peers:
        vs_peer = clamp(h[0]) <= clamp(min(peers.values()))
    if h and "random" in by:
        r = by["random"][0]
        vs_random = clamp(h[0]) < clamp(r) or clamp(h[0]) == clamp(r) == SOLVED
    return vs_peer, vs_random


def edge_shares(section, runs, group):
    """(group, method) -> [proposals with a bound hit, model-based proposals]; a BBOB proposal
    counts when any coordinate is on a bound, an ML one per parameter (group includes it)."""
    out = {}
    for (m, p, _), r in runs.items():
        for e, model in zip(r["edge"], r["model"]):
            if not model:
                continue
            if section == "bbob":
                c = out.setdefault((group(p), m), [0, 0])
                c[0] += e > 0
                c[1] += 1
            else:
                for s in problems.space(p):
                    if s["kind"] == "choice":
                        continue
                    c = out.setdefault((group(p), s["name"], m), [0, 0])
                    c[0] += s["name"] in e
                    c[1] += 1
    return out


def span(v):
    """'1-24' for a run of whole numbers, else '2, 15'."""
    return f"{v[0]}-{v[-1]}" if len(v) > 2 and v == list(range(v[0], v[-1] + 1)) else ", ".join(map(str, v))


def pct(a, b):
    return f"{100 * a / b:.0f} % ({a}/{b})" if b else "–"


def render_bbob(cfg, runs, L):
    c = cfg["bbob"]
    methods, cells, curves = bbob_summary(cfg, runs)
    per_d = {d: [0, 0, 0, 0] for d in c["dims"]}  # peer wins, peer pairs, random wins, random pairs
    lost_peer, lost_random, rows = [], [], []
    hpo_edge = edge_shares("bbob", {k: r for k, r in runs.items() if k[0] == "hpo_seq"},
                           lambda p: tuple(int(x[1:]) for x in p.split("/")[1:3]))
    for (f, d), by in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        low = min(clamp(v[0]) for v in by.values())
        row = [f"f{f}", d]
        for m in methods:
            if m not in by:
                row.append("–")
                continue
            v, n = by[m]
            full = c["seeds_per_instance"] * len(c["instances"])
            text = fmt(v) + ("" if n == full else f" ({n})")
            row.append(f"**{text}**" if clamp(v) == low else text)
        vp, vr = verdicts(by)
        if vp is not None:
            per_d[d][0] += vp
            per_d[d][1] += 1
            if not vp:
                best = min((m for m in PEER_METHODS if m in by), key=lambda m: by[m][0])
                lost_peer.append(f"f{f}-d{d} ({fmt(by['hpo_seq'][0])} vs {LABELS[best]} {fmt(by[best][0])})")
        if vr is not None:
            per_d[d][2] += vr
            per_d[d][3] += 1
            if not vr:
                lost_random.append(f"f{f}-d{d} ({fmt(by['hpo_seq'][0])} vs {fmt(by['random'][0])})")
        row += ["–" if vp is None else ("✓" if vp else "✗"), "–" if vr is None else ("✓" if vr else "✗")]
        e = hpo_edge.get(((f, d), "hpo_seq"))
        row.append(f"{e[0]}/{e[1]}" if e else "–")
        rows.append(row)
    tot = [sum(v[i] for v in per_d.values()) for i in range(4)]
    want = {d: len(c["functions"]) * len(c["instances"]) * c["seeds_per_instance"] for d in c["dims"]}
    scores = {"hpo_le_best_peer": [tot[0], tot[1]], "hpo_beats_random": [tot[2], tot[3]],
              "per_d": {str(d): v for d, v in per_d.items()}, "lost_to_peer": lost_peer,
              "lost_to_random": lost_random}
    L += ["## BBOB: median final simple regret", "",
          f"Functions {span(c['functions'])}, d = {', '.join(map(str, c['dims']))}, instances "
          f"{span(c['instances'])} ({c['seeds_per_instance']} seed(s) each, seed = instance + 100 k), "
          f"domain [-5, 5]^d, budget {', '.join(f'{b} (d = {d})' for d, b in c['budget'].items())}, the first "
          f"{c['n_init']} random. Each cell: median over instances and seeds of best f - f_opt (a count in "
          "parentheses where runs are missing); lowest in bold (regrets below 1e-8 count as equal). "
          "`≤ peer`: hpo's median at most the best peer's (TPE, gp_minimize, GPSampler, those present); "
          "`< random`: below random search's (or both below 1e-8).", "",
          "### Summary", "",
          table(["", "hpo ≤ best peer (target ≥ 75 %)", "hpo < random search (target ≥ 95 %)"],
                [[f"d = {d}", pct(v[0], v[1]), pct(v[2], v[3])] for d, v in per_d.items()]
                + [["all", f"**{pct(tot[0], tot[1])}**", f"**{pct(tot[2], tot[3])}**"]]), "",
          "Runs stored (the scores compare hpo with the peers present; a missing peer run leaves "
          "its cell's median over fewer instances):", "",
          table(["method"] + [f"d = {d}" for d in c["dims"]],
                [[LABELS[m]] + [f"{sum(k[0] == m and f'/d{d}/' in k[1] for k in runs)} of {want[d]}"
                                for d in c["dims"]] for m in methods]), "",
          "Pairs where hpo is above the best peer: " + (", ".join(lost_peer) or "none") + ".", "",
          "Pairs where hpo is not below random search: " + (", ".join(lost_random) or "none") + ".", "",
          "### Per function and dimension", "",
          table(["f", "d"] + [LABELS[m] for m in methods] + ["≤ peer", "< random", "hpo on a bound"], rows), "",
          "`hpo on a bound`: hpo's Bayesian proposals with a coordinate on the domain's bound, of all "
          "its Bayesian proposals on that (function, d).", ""]
    shares = edge_shares("bbob", runs, lambda p: int(p.split("/")[2][1:]))
    L += ["### Share of model-based proposals on a bound", "",
          "Proposals after the random phase (hpo: its Bayesian rows) with at least one coordinate on "
          "the domain's bound (within 1e-9 of its width).", "",
          table(["method"] + [f"d = {d}" for d in c["dims"]],
                [[LABELS[m]] + [pct(*shares.get((d, m), [0, 0])) for d in c["dims"]]
                 for m in methods if m != "random"]), ""]
    if curves:
        L += ["![BBOB: regret over evaluations](bbob_regret.png)", "",
              "Regret over evaluations: per function, the median over instances of log10(best-so-far "
              "regret / regret at the domain's centre) (floored at 1e-8), then the mean over functions.", ""]
    scores["edge"] = {f"{m} d={d}": v for (d, m), v in shares.items()}
    return scores, curves


def render_ml(cfg, runs, L):
    c = cfg["ml"]
    methods = [m for m in METHODS if any(r["method"] == m for r in runs.values())]
    rows, summary = [], {}
    for t in c["tasks"]:
        by = {}
        for m in methods:
            v = [min(r["values"]) for (mm, p, _), r in runs.items() if mm == m and p == f"ml/{t}"]
            if v:
                by[m] = (median(v), len(v), min(v), max(v))
        if not by:
            continue
        low = min(v[0] for v in by.values())
        row = [problems.ML_TASKS[t]["label"]]
        for m in methods:
            if m not in by:
                row.append("–")
                continue
            text = f"{by[m][0]:.4f} [{by[m][2]:.4f}–{by[m][3]:.4f}]" + ("" if by[m][1] == len(c["seeds"]) else f" ({by[m][1]})")
            row.append(f"**{text}**" if by[m][0] == low else text)
        vp, vr = verdicts({m: v[:2] for m, v in by.items()})
        row += ["–" if vp is None else ("✓" if vp else "✗"), "–" if vr is None else ("✓" if vr else "✗")]
        rows.append(row)
        summary[t] = {m: v[0] for m, v in by.items()}
    L += ["## ML tasks: median best cross-validated error", "",
          f"scikit-learn on bundled data sets, 3-fold stratified CV (fold seed {0}), error = 1 - mean "
          f"accuracy; {c['n_init']} random + {c['budget'] - c['n_init']} model-based evaluations, seeds "
          f"{span(c['seeds'])}. Each cell: median [min–max] over seeds; lowest in bold. "
          "Spaces: peers/problems.py (`log` ranges log-scaled, `int` whole numbers, the MLP's "
          "activation a categorical: hpo's `bayesian_choice`).", "",
          table(["task"] + [LABELS[m] for m in methods] + ["≤ peer", "< random"], rows), ""]
    shares = edge_shares("ml", runs, lambda p: p.split("/")[1])
    srows = []
    for t in c["tasks"]:
        for s in problems.ML_TASKS[t]["space"]:
            if s["kind"] != "choice":
                srows.append([t, s["name"]] + [pct(*shares.get((t, s["name"], m), [0, 0]))
                                                 for m in methods if m != "random"])
    L += ["### Share of model-based proposals on a bound, per parameter", "",
          table(["task", "parameter"] + [LABELS[m] for m in methods if m != "random"], srows), ""]
    return {"median_error": summary, "edge": {"/".join(k): v for k, v in shares.items()}}


def render_times(cfg, data, L):
    rows = []
    for section, runs in data.items():
        for m in METHODS:
            rs = [r for r in runs.values() if r["method"] == m]
            if not rs:
                continue
            groups = ({f"d = {d}": [r for r in rs if f"/d{d}/" in r["problem"]] for d in cfg["bbob"]["dims"]}
                      if section == "bbob" else {"all": rs})
            for g, gr in groups.items():
                if gr:
                    s = [r["seconds"] for r in gr]
                    rows.append([section, LABELS[m], g, len(gr), fmt(median(s)), fmt(sum(s) / 60)])
    L += ["## Time per run", "",
          "Wall seconds of one run (hpo: the whole `hpo run` command, its evaluations through the "
          "evaluation server included; peers: the optimization loop with its evaluations). Measured "
          "on a shared machine with other jobs running, so read them as orders of magnitude.", "",
          table(["section", "method", "group", "runs", "median s per run", "total minutes"], rows), ""]


def render(outdir, cfg, reuse, ctx=None):
    """Writes blackbox.md and blackbox-summary.json (and bbob_regret.png when the venv can
    draw it) from the stored lines; returns (markdown text, summary)."""
    outdir = Path(outdir)
    data = {s: runs_for(s, cfg, outdir, reuse) for s in SECTIONS}
    L = ["# hpo against its peers: BBOB and ML tasks", "",
         f"From the stored runs in `{outdir.name}/`"
         + (f" and the peers' runs stored in {', '.join(f'`{p.name}/`' for p in reuse)}" if reuse else "")
         + " (see benches/README.md). Rendered by `benches/suite/run --report-only DIR`.", ""]
    versions = {}
    for runs in data.values():
        for r in runs.values():
            for k, v in r.get("versions", {}).items():
                versions.setdefault(k, set()).add(v)
    if versions:
        L += ["Versions: " + "; ".join(f"{k} {', '.join(sorted(v))}" for k, v in sorted(versions.items())) + ".", ""]
    summary = {"config": cfg, "reuse": [str(p) for p in reuse],
               "runs": {s: {m: sum(k[0] == m for k in runs) for m in METHODS} for s, runs in data.items()}}
    if data["bbob"]:
        summary["bbob"], summary["curves"] = render_bbob(cfg, data["bbob"], L)
    if data["ml"]:
        summary["ml"] = render_ml(cfg, data["ml"], L)
    render_times(cfg, data, L)
    (outdir / "blackbox-summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    text = "\n".join(L)
    if ctx and summary.get("curves") and Path(ctx["vpy"]).exists():
        p = subprocess.run([str(ctx["vpy"]), str(SUITE / "plot.py"), "--blackbox",
                            str(outdir / "blackbox-summary.json"), str(outdir)],
                           capture_output=True, text=True, env=ctx["env"])
        if p.returncode != 0:
            text = text.replace("![BBOB: regret over evaluations](bbob_regret.png)",
                                f"(plot failed: {p.stderr.strip()[-200:]})")
    (outdir / "blackbox.md").write_text(text + "\n")
    return text, summary
