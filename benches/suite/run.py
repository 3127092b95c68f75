#!/usr/bin/env python3
"""hpo side by side with its peers, in one run: dispatch, suggestion cost, quality, utilization,
Python function objectives, early stopping (prune.py), several outputs and constraints
(outputs.py), and (blackbox.py) BBOB and scikit-learn tasks.

Run it through `benches/suite/run [--quick] [--out DIR] [--only SECTION,...]`; see
benches/README.md. This driver needs only the standard library: it builds hpo, sets up the
peers in benches/.venv (pinned, from PyPI) and runs every measured program as its own process
with one BLAS thread. A part whose prerequisite is missing (the venv, the MPI back end, the GP
engine, torch for Optuna's GPSampler) is skipped with a message that says why, and the report
says so too.
"""

import argparse
import concurrent.futures
import csv
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import blackbox
import conditional
import million
import outputs
import prune

SUITE = Path(__file__).resolve().parent
ROOT = SUITE.parent.parent
PEERS = SUITE / "peers"
VENV = ROOT / "benches" / ".venv"
VPY = VENV / "bin" / "python"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")).resolve()
HPO = TARGET / "release" / "hpo"
SUGGEST = TARGET / "release" / "examples" / "suite_suggest"
EVAL_CLIENT = TARGET / "release" / "examples" / "suite_eval_client"
REQUIREMENTS = SUITE / "requirements.txt"
# Optional: torch for Optuna's GPSampler. PyPI's Linux wheel is the CUDA build with its NVIDIA
# libraries (about 3 GB to download, 5 GB installed; CPU-only wheels are not on PyPI), so it is
# installed only for a full run that asks for the `gp` method, and its failure skips only that.
REQUIREMENTS_TORCH = SUITE / "requirements-torch.txt"

# Every measured process: one BLAS/OpenMP thread, OpenMPI allowed as root.
PINNED = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "PYTHONHASHSEED": "0",
}
ENV = {**os.environ, **PINNED}

# The quality problems: key -> (hpo builtin, bounds, minimum, label); mirrors peers/functions.py.
PROBLEMS = {
    "branin": ("branin", [(-5.0, 10.0), (0.0, 15.0)], 0.397887357729739, "Branin 2D"),
    "hartmann6": ("hartmann6", [(0.0, 1.0)] * 6, -3.322368011415515, "Hartmann6 6D"),
    "griewank2": ("griewank", [(-5.0, 5.0)] * 2, 0.0, "Griewank 2D on [-5,5]²"),
    "ackley5": ("ackley", [(-5.0, 5.0)] * 5, 0.0, "Ackley 5D on [-5,5]⁵"),
}

ALL_SECTIONS = ["dispatch", "suggest", "quality", "utilization", "ranks", "python", "prune", "outputs",
                "conditional", "million", "bbob", "ml"]

METHODS = [
    ("hpo_seq", "hpo, sequential (`--processes 1`)"),
    ("hpo_par4", "hpo, 4 workers together (`--processes 4`, pending points; `auto` with instant objectives)"),
    ("hpo_par4_turn", "hpo, 4 workers in turn (`--processes 4`, pending points, `proposals = \"in_turn\"`)"),
    ("random", "random search (hpo, random sets only)"),
    ("phs", "PHS's procedure (scikit-learn GP + EI, 100 L-BFGS-B starts)"),
    ("skopt", "scikit-optimize gp_minimize"),
    ("tpe", "Optuna TPE (20 startup trials)"),
]


def log(msg):
    print(f"[suite {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def sh(cmd, **kw):
    """Output of a command, or '' when it cannot run."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def quantiles(v):
    """(q1, median, q3) with linear interpolation."""
    v = sorted(v)
    if not v:
        return (float("nan"),) * 3

    def q(p):
        pos = p * (len(v) - 1)
        i, f = int(pos), pos - int(pos)
        return v[i] * (1 - f) + v[i + 1] * f if i + 1 < len(v) else v[i]

    return q(0.25), q(0.5), q(0.75)


def fmt(x, digits=3):
    if x is None or x != x:
        return "–"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 0.01:
        return f"{x:.{digits}g}"
    return f"{x:.2e}"


def run_json(cmd, timeout, env=ENV, cwd=None):
    """Runs a peer program that prints one JSON object; returns (object or None, error text)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if p.returncode != 0:
        return None, f"exit {p.returncode}: {p.stderr.strip()[-400:]}"
    for line in reversed(p.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line), ""
    return None, "no JSON on stdout"


# ---------------------------------------------------------------------------------------------
# Set-up


def build():
    log("building hpo, examples/suite_suggest and examples/suite_eval_client (release, incremental)")
    subprocess.run(["cargo", "build", "--release", "--bin", "hpo", "--example", "suite_suggest",
                    "--example", "suite_eval_client"], cwd=ROOT, check=True)


def setup_venv(quick):
    """Creates benches/.venv with the pinned peers. Returns (ok, message)."""
    if os.environ.get("HPO_SUITE_NO_VENV") == "1":
        return False, "HPO_SUITE_NO_VENV=1: peers not set up"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".suite-requirements"
    if VPY.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return True, "benches/.venv up to date"
    py = shutil.which("python3.11") or shutil.which("python3")
    if not py:
        return False, "no python3 on PATH: peers skipped"
    ver = sh([py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    log(f"setting up benches/.venv with {py} (Python {ver}) from {REQUIREMENTS.name}")
    try:
        if not VPY.exists():
            subprocess.run([py, "-m", "venv", str(VENV)], check=True, timeout=300)
        p = subprocess.run([str(VPY), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "-r", str(REQUIREMENTS)], timeout=1200 if not quick else 600,
                           capture_output=True, text=True)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"could not set up the venv ({e}): peers skipped"
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return False, "pip could not install the pinned peers (PyPI unreachable?): peers skipped. " + " | ".join(tail)
    stamp.write_text(want + "\n")
    return True, "benches/.venv created"


def setup_torch():
    """Installs the optional torch extra into benches/.venv. Returns (ok, message)."""
    want = hashlib.sha256(REQUIREMENTS_TORCH.read_bytes()).hexdigest()
    stamp = VENV / ".suite-requirements-torch"
    if stamp.exists() and stamp.read_text().strip() == want:
        return True, "torch up to date in benches/.venv"
    log(f"installing {REQUIREMENTS_TORCH.name} into benches/.venv (about 3 GB from PyPI)")
    try:
        p = subprocess.run([str(VPY), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "-r", str(REQUIREMENTS_TORCH)], timeout=3600, capture_output=True, text=True)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"could not install torch ({e}): Optuna's GPSampler skipped"
    if p.returncode != 0:
        tail = " | ".join((p.stderr or p.stdout).strip().splitlines()[-2:])
        return False, f"pip could not install torch: Optuna's GPSampler skipped. {tail}"
    stamp.write_text(want + "\n")
    return True, "torch installed"


def mpi_available():
    if not (ROOT / "src" / "backend" / "mpi.rs").exists():
        return False, "the MPI back end is not merged yet (src/backend/mpi.rs missing): MPI rows skipped"
    if not shutil.which("mpirun"):
        return False, "mpirun not found (apt-get install openmpi-bin): MPI rows skipped"
    return True, "MPI back end present"


def gp_available():
    """Whether hpo's suggest is the GP engine (not the placeholder random draw)."""
    out, err = run_json([str(SUGGEST), "--n", "30", "--d", "2", "--reps", "1"], 120)
    if out is None:
        return False, f"examples/suite_suggest failed: {err}"
    if any("random draw" in n for n in out.get("notes", [])):
        return False, ("hpo's GP engine is not merged yet (suggest returns a random draw): "
                       "hpo suggestion-cost rows skipped; hpo quality rows measure random draws")
    return True, "GP engine present"


def machine():
    model = ""
    for line in sh(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "memory": mem,
            "kernel": platform.release(), "hostname": platform.node()}


def versions(venv_ok):
    commit = sh(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT)
    dirty = sh(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)
    v = {"hpo commit": commit + (" (with uncommitted changes)" if dirty else ""),
         "rustc": sh(["rustc", "-V"]),
         "mpirun": (sh(["mpirun", "--version"]).splitlines() or ["not found"])[0]}
    if venv_ok:
        v["python"] = sh([str(VPY), "-V"])
        freeze = sh([str(VPY), "-m", "pip", "freeze", "--disable-pip-version-check"])
        wanted = {"numpy", "scipy", "scikit-learn", "scikit-optimize", "optuna", "dask",
                  "distributed", "matplotlib", "coco-experiment", "torch"}
        for line in freeze.splitlines():
            name = line.split("==")[0].lower()
            if name in wanted:
                v[name] = line.split("==")[-1]
    return v


# ---------------------------------------------------------------------------------------------
# hpo helpers


def hpo_config(path, *, builtin, bounds, seed, blocks, delay=None, extra=()):
    """Writes an experiment: `blocks` is a list of (count, strategy) with strategy 'random' or
    'bayesian', every parameter over its own bounds; `extra`: lines after the rest."""
    lines = ["[experiment]", 'dir = "exp"', f"seed = {seed}", "[objective]", f'builtin = "{builtin}"']
    if delay:
        lines.append(f"delay_s = [{delay[0]}, {delay[1]}]")
    for i in range(len(bounds)):
        lines += ["[[parameters]]", f'name = "x{i}"', 'type = "float"']
    for count, strategy in blocks:
        lines += ["[[sets]]", f"count = {count}"]
        for i, (lo, hi) in enumerate(bounds):
            lines.append(f"x{i} = {{ {strategy} = [{lo}, {hi}] }}")
    lines += ["[compute]", "provide_worker_path = false", "redirect_stdout = false", *extra]
    path.write_text("\n".join(lines) + "\n")


def hpo_run(config, workers, mpi=False, timeout=900, extra_env=None):
    """Runs hpo on a fresh folder; returns (wall seconds, stderr, rows of results.csv)."""
    shutil.rmtree(config.parent / "exp", ignore_errors=True)
    if mpi:
        cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(workers + 1), str(HPO), "run", str(config)]
    else:
        cmd = [str(HPO), "run", str(config), "--processes", str(workers)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**ENV, **(extra_env or {})},
                       cwd=config.parent)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-500:]}")
    with open(config.parent / "exp" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return wall, p.stderr, rows


def parse_summary(stderr):
    """(run-loop rate, master peak RSS MiB) from hpo's final stderr line."""
    rate = re.search(r"\(([\d.]+)/s\)", stderr)
    rss = re.search(r"master peak RSS ([\d.]+) MiB", stderr)
    return (float(rate.group(1)) if rate else None, float(rss.group(1)) if rss else None)


def stamp(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------------------------
# Sections


def dispatch(cfg, tmp, venv_ok, mpi_ok):
    """N trivial evaluations on 2 workers: whole-command evaluations per second, master RSS."""
    rows = []
    d = tmp / "dispatch"
    d.mkdir()
    for n in cfg["dispatch_n"]:
        conf = d / f"d{n}.toml"
        hpo_config(conf, builtin="sphere", bounds=[(-5, 5)] * 2, seed=1, blocks=[(n, "random")])
        systems = [("hpo --processes 2", False)]
        if mpi_ok:
            systems.append(("mpirun -np 3 hpo (1 master + 2 ranks)", True))
        for name, mpi in systems:
            whole, loop, rss, err = [], [], [], ""
            for _ in range(cfg["reps"]):
                try:
                    wall, stderr, res = hpo_run(conf, 2, mpi=mpi)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    err = str(e)
                    break
                if sum(r["status"] == "ok" for r in res) != n:
                    err = f"only {len(res)} of {n} rows"
                    break
                r, m = parse_summary(stderr)
                whole.append(n / wall)
                loop.extend([r] if r else [])
                rss.extend([m] if m else [])
            rows.append({"system": name, "n": n, "whole": whole, "loop": loop, "rss": rss, "error": err})
            log(f"dispatch {name} N={n}: {fmt(statistics.median(whole)) if whole else err} evals/s")
    if venv_ok:
        for n in sorted(set(cfg["dispatch_n"] + cfg["dispatch_n_dask"])):
            peers = []
            if n in cfg["dispatch_n"]:
                peers.append(("Python ProcessPoolExecutor(2)", "dispatch_pool.py"))
            if n in cfg["dispatch_n_dask"]:
                peers.append(("Dask futures, LocalCluster 2x1", "dispatch_dask.py"))
            for name, script in peers:
                whole, loop, rss, err = [], [], [], ""
                for _ in range(cfg["reps"]):
                    t = time.perf_counter()
                    out, err = run_json([str(VPY), str(PEERS / script), "--n", str(n), "--workers", "2"], 900)
                    wall = time.perf_counter() - t
                    if out is None:
                        break
                    whole.append(n / wall)
                    loop.append(n / out["loop_seconds"])
                    rss.append(out["master_rss_mib"])
                rows.append({"system": name, "n": n, "whole": whole, "loop": loop, "rss": rss, "error": err})
                log(f"dispatch {name} N={n}: {fmt(statistics.median(whole)) if whole else err} evals/s")
    return rows


def suggest_cost(cfg, venv_ok, gp_ok):
    """Seconds per Bayesian suggestion after n points, d = 2 and 6."""
    rows = []
    for d in cfg["suggest_d"]:
        for n in cfg["suggest_n"]:
            reps_py = cfg["reps"] if n <= 200 else 1
            cases = []
            if gp_ok:
                cases.append(("hpo", [str(SUGGEST), "--n", str(n), "--d", str(d), "--reps", str(cfg["reps_hpo"])]))
            if venv_ok:
                if n in cfg["suggest_n_phs"]:
                    cases.append(("phs", [str(VPY), str(PEERS / "phs_procedure.py"), "speed",
                                          "--n", str(n), "--d", str(d), "--reps", str(reps_py)]))
                cases.append(("skopt", [str(VPY), str(PEERS / "skopt_peer.py"), "speed",
                                        "--n", str(n), "--d", str(d), "--reps", str(reps_py)]))
            for who, cmd in cases:
                load = loadavg()
                out, err = run_json(cmd, cfg["suggest_timeout"])
                rows.append({"who": who, "n": n, "d": d, "seconds": (out or {}).get("seconds", []),
                             "notes": (out or {}).get("notes", []),
                             "cpu_seconds": (out or {}).get("cpu_seconds", []), "error": err,
                             "load": load})
                med = statistics.median(out["seconds"]) if out else None
                log(f"suggest {who} d={d} n={n}: {fmt(med) if out else err} s")
    return rows


def regret_trace(values, minimum):
    best, trace = float("inf"), []
    for v in values:
        best = min(best, v)
        trace.append(best - minimum)
    return trace


def quality_job(method, problem, seed, cfg, tmp):
    builtin, bounds, minimum, _ = PROBLEMS[problem]
    n_init, n_total = cfg["n_init"], cfg["n_total"]
    t = time.perf_counter()
    if method.startswith("hpo") or method == "random":
        d = tmp / f"q-{method}-{problem}-{seed}"
        d.mkdir()
        blocks = [(n_total, "random")] if method == "random" else [(n_init, "random"), (n_total - n_init, "bayesian")]
        turn = ["[bayesian]", 'proposals = "in_turn"'] if method == "hpo_par4_turn" else []
        hpo_config(d / "q.toml", builtin=builtin, bounds=bounds, seed=seed, blocks=blocks, extra=turn)
        _, _, rows = hpo_run(d / "q.toml", 4 if method.startswith("hpo_par4") else 1)
        rows.sort(key=lambda r: (stamp(r["ended"]), int(r["index"])))
        values = [float(r["result"]) for r in rows if r["status"] == "ok"]
        notes = sorted({r["note"] for r in rows if r["bayesian"] == "true"})
        shutil.rmtree(d, ignore_errors=True)
    else:
        script = {"phs": "phs_procedure.py", "skopt": "skopt_peer.py", "tpe": "optuna_peer.py"}[method]
        out, err = run_json([str(VPY), str(PEERS / script), "optimize", "--problem", problem,
                             "--seed", str(seed), "--n-init", str(n_init), "--n-total", str(n_total)],
                            cfg["quality_timeout"])
        if out is None:
            raise RuntimeError(f"{script} {problem} seed {seed}: {err}")
        values, notes = out["values"], []
    return {"method": method, "problem": problem, "seed": seed, "trace": regret_trace(values, minimum),
            "n": len(values), "wall": time.perf_counter() - t, "notes": notes}


def quality(cfg, tmp, venv_ok):
    methods = ["hpo_seq", "hpo_par4", "hpo_par4_turn", "random"] + (["phs", "skopt", "tpe"] if venv_ok else [])
    # Longest first (PHS's procedure), a few at a time: only the regret is measured here, and on a
    # shared machine more processes get a larger share of the cores.
    order = {"phs": 0, "skopt": 1, "hpo_par4": 2, "hpo_par4_turn": 2, "hpo_seq": 3, "tpe": 4, "random": 5}
    jobs = sorted(((m, p, s) for m in methods for p in cfg["problems"] for s in cfg["seeds"]),
                  key=lambda j: (order[j[0]], j[1], j[2]))
    q = tmp / "quality"
    q.mkdir()
    results, errors = [], []
    with concurrent.futures.ThreadPoolExecutor(cfg["parallel_jobs"]) as pool:
        futs = {pool.submit(quality_job, m, p, s, cfg, q): (m, p, s) for m, p, s in jobs}
        for i, fut in enumerate(concurrent.futures.as_completed(futs), 1):
            try:
                results.append(fut.result())
            except Exception as e:  # a failed run is reported, the others go on
                errors.append(f"{futs[fut]}: {e}")
                log(f"quality {futs[fut]} failed: {e}")
            if i % 10 == 0 or i == len(jobs):
                log(f"quality: {i} of {len(jobs)} runs done")
    return {"runs": results, "errors": errors}


def utilization(cfg, tmp, venv_ok, mpi_ok):
    """Busy time over available time with sleeping objectives of random length."""
    rows = []
    lo, hi = cfg["delay"]
    u = tmp / "util"
    u.mkdir()
    for w in cfg["util_workers"]:
        tasks = w * cfg["tasks_per_worker"]
        conf = u / f"u{w}.toml"
        hpo_config(conf, builtin="sphere", bounds=[(-5, 5)] * 2, seed=1, blocks=[(tasks, "random")],
                   delay=(lo, hi))
        systems = [(f"hpo --processes {w}", False)]
        if mpi_ok:
            systems.insert(0, (f"mpirun -np {w + 1} hpo (oversubscribed)", True))
        for name, mpi in systems:
            try:
                wall, _, res = hpo_run(conf, w, mpi=mpi)
                start = min(stamp(r["started"]) for r in res)
                end = max(stamp(r["ended"]) for r in res)
                busy = sum(float(r["duration_s"]) for r in res)
                rows.append({"system": name, "workers": w, "tasks": tasks, "utilization": busy / (w * (end - start)),
                             "span": end - start, "wall": wall, "error": ""})
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                rows.append({"system": name, "workers": w, "tasks": tasks, "error": str(e)})
            log(f"utilization {name}: {fmt(rows[-1].get('utilization'))}")
        if venv_ok:
            out, err = run_json([str(VPY), str(PEERS / "utilization_dask.py"), "--workers", str(w),
                                 "--tasks", str(tasks), "--lo", str(lo), "--hi", str(hi)], 900)
            name = f"Dask futures, LocalCluster {w}x1"
            if out:
                rows.append({"system": name, "workers": w, "tasks": tasks, "utilization": out["utilization"],
                             "span": out["span_seconds"], "wall": None, "error": ""})
            else:
                rows.append({"system": name, "workers": w, "tasks": tasks, "error": err})
            log(f"utilization {name}: {fmt(rows[-1].get('utilization'))}")
    return rows


def ranks_config(path, sets, seconds, folders):
    """`sets` sets, each a command that sleeps `seconds` and prints a number; without
    `folders`, no worker folder (no params.json, no stdout.txt and stderr.txt)."""
    off = ["[compute]", "provide_worker_path = false", "redirect_stdout = false"]
    path.write_text("\n".join([
        "[experiment]", 'dir = "exp"', "seed = 1", "[objective]",
        f'command = ["sh", "-c", "sleep {seconds}; echo {{x}}"]',
        "[[parameters]]", 'name = "x"', 'type = "float"',
        "[[sets]]", f"count = {sets}", "x = { random = [0, 1] }"] + ([] if folders else off)) + "\n")


def ranks_hpo(hpo, conf, workers, sets, seconds):
    """One `mpirun -np W+1` run: utilization and per-set overhead from results.csv, the master's
    CPU in its loop and peak memory from its last line, the whole command's wall time."""
    shutil.rmtree(conf.parent / "exp", ignore_errors=True)
    cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(workers + 1), str(hpo),
           "run", str(conf)]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=ENV, cwd=conf.parent)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-500:]}")
    with open(conf.parent / "exp" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != sets or any(r["status"] != "ok" for r in rows):
        raise RuntimeError(f"{len(rows)} rows of {sets}, or failed rows")
    span = max(stamp(r["ended"]) for r in rows) - min(stamp(r["started"]) for r in rows)
    cpu = re.search(r"CPU ([\d.]+) s in the loop", p.stderr)
    _, rss = parse_summary(p.stderr)
    runs = {}
    for r in rows:
        runs.setdefault(r["worker"], []).append((stamp(r["started"]), stamp(r["ended"])))
    return {"span": span, "wall": wall, "master_cpu": float(cpu.group(1)) if cpu else None,
            "master_rss": rss, **per_set(list(runs.values()), seconds)}


def per_set(runs, seconds):
    """Where a worker's time goes, from its sets' (start, end) stamps: the mean time a set
    takes beyond the sleep (process start, folders, noticing the end) and the mean gap between
    one set's end and the next set's start on the same worker (the round trip to the master)."""
    runs = [sorted(r) for r in runs]
    beyond = [e - s - seconds for r in runs for s, e in r]
    gaps = [b[0] - a[1] for r in runs for a, b in zip(r, r[1:])]
    return {"beyond_ms": 1000 * statistics.mean(beyond),
            "gap_ms": 1000 * statistics.mean(gaps) if gaps else None}


def ranks_floor(workers, sets, seconds):
    """The same commands with no scheduler at all: W threads, each running its share one after
    the other. Its span is what this machine allows."""
    per = sets // workers
    cmd = ["sh", "-c", f"sleep {seconds}; echo 1"]

    def chain(_):
        sets = []
        for _ in range(per):
            t = time.time()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
            sets.append((t, time.time()))
        return sets

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        runs = list(pool.map(chain, range(workers)))
    span = max(r[-1][1] for r in runs) - min(r[0][0] for r in runs)
    return {"span": span, **per_set(runs, seconds)}


def ranks(cfg, tmp, mpi_ok):
    """Width: W MPI workers with sleeping command objectives, beside the bare floor; the runs
    alternate so that each repetition sees the same machine."""
    if not mpi_ok:
        return []
    d = tmp / "ranks"
    d.mkdir()
    systems = [("hpo", HPO, True), ("hpo, worker folders off", HPO, False)]
    baseline = os.environ.get("HPO_SUITE_BASELINE")
    if baseline:
        label = os.environ.get("HPO_SUITE_BASELINE_LABEL", baseline)
        systems.insert(1, (f"hpo at {label}", Path(baseline), True))
    out = []
    for workers, sets, seconds in cfg["ranks_widths"]:
        runs = {name: [] for name, _, _ in systems}
        runs["floor"] = []
        errors = {}
        for rep in range(cfg["ranks_reps"]):
            for name, binary, folders in systems:
                conf = d / f"r{workers}-{sets}-{folders}.toml"
                ranks_config(conf, sets, seconds, folders)
                try:
                    runs[name].append({**ranks_hpo(binary, conf, workers, sets, seconds), "load": loadavg()})
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    errors[name] = str(e)
            runs["floor"].append({**ranks_floor(workers, sets, seconds), "load": loadavg()})
            log(f"ranks W={workers}, {sets} sets of {seconds} s, rep {rep + 1}: " + ", ".join(
                f"{n} {fmt(sets / workers * seconds / r[-1]['span'])}" for n, r in runs.items() if r))
        for name, r in runs.items():
            out.append({"system": name, "workers": workers, "sets": sets, "seconds": seconds,
                        "runs": r, "error": errors.get(name, "")})
    return out


def python_config(path, count, objective, parameters, sets):
    """Writes an experiment whose objective is `objective` (TOML lines of [objective]) over
    `parameters` ([(name, type)]) with one block of `count` sets (`sets`: TOML lines), worker
    folders off."""
    lines = ["[experiment]", 'dir = "exp"', "seed = 1", "[objective]"] + objective
    for name, kind in parameters:
        lines += ["[[parameters]]", f'name = "{name}"', f'type = "{kind}"']
    lines += ["[[sets]]", f"count = {count}"] + sets
    lines += ["[compute]", "provide_worker_path = false", "redirect_stdout = false"]
    path.write_text("\n".join(lines) + "\n")
    return path


def call_gaps(folder):
    """From the timed function's logs: per interpreter, the time from the end of one call to the
    start of the next (hpo's whole per-set cycle outside the function), and the calls' own
    times; seconds."""
    gaps, own = [], []
    for log_file in folder.glob("*.json"):
        calls = sorted(json.loads(log_file.read_text()))
        own += [b - a for a, b in calls]
        gaps += [calls[i + 1][0] - calls[i][1] for i in range(len(calls) - 1)]
    return gaps, own


def python_objectives(cfg, tmp, venv_ok):
    """A Python function as the objective: hpo's live interpreters against Optuna's in-memory
    study.optimize and a command that starts Python per set; hpo's per-set overhead; the
    scikit-learn example before (a command per set) and after (the Python objective)."""
    out = {"n": cfg["python_n"], "throughput": [], "overhead": None, "sklearn": [], "error": ""}
    if not venv_ok:
        out["error"] = "needs benches/.venv (Optuna, scikit-learn, the same interpreter for both)"
        return out
    d = tmp / "python"
    d.mkdir()
    trivial = PEERS / "trivial.py"
    xy = [("x", "float"), ("y", "float")]
    xy_sets = ["x = { random = [-5, 5] }", "y = { random = [-5, 5] }"]
    live = [f'python = "{trivial}:objective"', f'python_executable = "{VPY}"']
    per_set = [f'command = ["{VPY}", "{trivial}", "{{x}}", "{{y}}"]']
    systems = [
        ("hpo, Python objective (`--processes 2`, one live interpreter per worker)", live, cfg["python_n"]),
        ("hpo, command objective starting Python per set (`--processes 2`)", per_set, cfg["python_cmd_n"]),
    ]
    for name, objective, n in systems:
        row = {"system": name, "n": n, "whole": [], "loop": [], "error": ""}
        conf = python_config(d / "t.toml", n, objective, xy, xy_sets)
        for _ in range(cfg["reps"]):
            try:
                wall, stderr, rows = hpo_run(conf, 2)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                row["error"] = str(e)
                break
            if sum(r["status"] == "ok" for r in rows) != n:
                row["error"] = f"only {sum(r['status'] == 'ok' for r in rows)} of {n} ok rows"
                break
            rate, _ = parse_summary(stderr)
            row["whole"].append(n / wall)
            row["loop"] += [rate] if rate else []
        out["throughput"].append(row)
        log(f"python {name}: {fmt(statistics.median(row['whole'])) if row['whole'] else row['error']} sets/s")
    row = {"system": "Optuna `study.optimize`, RandomSampler, in memory (one process)", "n": cfg["python_n"],
           "whole": [], "loop": [], "error": ""}
    for rep in range(cfg["reps"]):
        t = time.perf_counter()
        res, err = run_json([str(VPY), str(PEERS / "optuna_trivial.py"), "--n", str(cfg["python_n"]),
                             "--seed", str(rep + 1)], 1800)
        if res is None:
            row["error"] = err
            break
        row["whole"].append(cfg["python_n"] / (time.perf_counter() - t))
        row["loop"].append(res["trials_per_s"])
    out["throughput"].append(row)
    log(f"python optuna: {fmt(statistics.median(row['loop'])) if row['loop'] else row['error']} trials/s")
    # The overhead: the timed function, the same run otherwise.
    logs = d / "logs"
    logs.mkdir()
    conf = python_config(d / "o.toml", cfg["python_n"], [f'python = "{trivial}:timed"', f'python_executable = "{VPY}"'],
                         xy, xy_sets)
    try:
        hpo_run(conf, 2, extra_env={"HPO_SUITE_LOG": str(logs)})
        gaps, own = call_gaps(logs)
        out["overhead"] = {"gaps": len(gaps), "median_s": statistics.median(gaps),
                           "q1_s": quantiles(gaps)[0], "q3_s": quantiles(gaps)[2],
                           "p90_s": sorted(gaps)[int(0.9 * (len(gaps) - 1))], "own_median_s": statistics.median(own)}
        log(f"python overhead: median {out['overhead']['median_s'] * 1e6:.0f} µs per set")
    except (RuntimeError, subprocess.TimeoutExpired, statistics.StatisticsError) as e:
        out["overhead"] = {"error": str(e)}
    out["sklearn"] = sklearn_before_after(cfg, d)
    return out


def sklearn_before_after(cfg, d):
    """examples/python/train.py on the same random sets: a command starting Python per set
    (before) and the Python objective (after). Median evaluation time from results.csv."""
    train = ROOT / "examples" / "python" / "train.py"
    params = [("lr", "float"), ("alpha", "float"), ("hidden", "int"), ("activation", "str")]
    sets = ['lr = { random = [1e-4, 1e-1], distribution = "log-uniform" }',
            'alpha = { random = [1e-6, 1e-1], distribution = "log-uniform" }',
            "hidden = { choice = [16, 32, 64] }", 'activation = { choice = ["relu", "tanh"] }']
    command = [f'command = ["{VPY}", "{train}", "--lr", "{{lr}}", "--alpha", "{{alpha}}", '
               '"--hidden", "{hidden}", "--activation", "{activation}"]', 'direction = "maximize"']
    live = [f'python = "{train}:objective"', f'python_executable = "{VPY}"', 'direction = "maximize"']
    rows = []
    for name, objective in (("before: a command starting Python per set", command),
                            ("after: the Python objective", live)):
        conf = python_config(d / "sk.toml", cfg["sklearn_n"], objective, params, sets)
        try:
            wall, _, res = hpo_run(conf, 2, timeout=3600)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            rows.append({"system": name, "error": str(e)})
            continue
        ok = [r for r in res if r["status"] == "ok"]
        fits = [json.loads(r["metrics"])["fit_s"] for r in ok if r.get("metrics")]
        rows.append({"system": name, "n": len(res), "ok": len(ok), "wall": wall, "error": "",
                     "durations": [float(r["duration_s"]) for r in ok], "fit_s": fits,
                     "accuracy": max((float(r["result"]) for r in ok), default=None)})
        log(f"python sklearn {name}: median {fmt(statistics.median(rows[-1]['durations'])) if ok else '–'} s per set")
    return rows


# ---------------------------------------------------------------------------------------------
# Report


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def spread(v):
    if not v:
        return "–"
    q1, m, q3 = quantiles(v)
    return f"{fmt(m)} [{fmt(min(v))}–{fmt(max(v))}]" if len(v) > 1 else fmt(m)


def report(data):
    cfg, notes = data["config"], data["notes"]
    behind = []
    L = [f"# hpo benchmark suite — {data['date']} on {data['machine']['cpu']}",
         "",
         f"Mode: **{'quick (smoke test of the suite; no figure here is a measurement to quote)' if cfg['quick'] else 'full'}**. "
         f"Wall time {data['wall_minutes']:.1f} min"
         + (f" (a partial rerun; the earlier run(s) whose sections are kept took {data['wall_minutes_kept']:.1f} min)"
            if data.get("wall_minutes_kept") else "") + ". Generated by `benches/suite/run`; raw data in `raw.json`.",
         "",
         "## Machine and versions",
         "",
         md_table(["what", "value"],
                  [["CPU", data["machine"]["cpu"]], ["cores", data["machine"]["cores"]],
                   ["memory", data["machine"]["memory"]], ["kernel", data["machine"]["kernel"]]]
                  + [[k, v] for k, v in data["versions"].items()]),
         "",
         "Every measured process runs with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1. "
         "The machine is shared: the 1-minute load average is recorded before each section "
         f"({', '.join(f'{k} {v:.1f}' for k, v in data['load'].items())}); with a load above the "
         "core count every wall-clock figure is inflated, CPU seconds less so.",
         ""]
    commits = data.get("commits", {})
    if len(set(commits.values())) > 1:
        L += ["Sections were measured at different hpo commits: "
              + ", ".join(f"{k} at {v}" for k, v in commits.items()) + ".", ""]
    if notes:
        L += ["## Skipped or degraded parts", ""] + [f"- {n}" for n in notes] + [""]

    # Dispatch
    if data.get("dispatch"):
        L += ["## Dispatch: trivial evaluations, 2 workers", "",
              "Evaluations per second of the whole command (process start to exit: start-up, "
              "table, journal, pool), median [min–max] of the repetitions; the loop rate excludes "
              "start-up (hpo: as it reports it; Dask: after the cluster is up). Master peak RSS: "
              "hpo's final stderr line, Python's `VmHWM` (/proc/self/status: `getrusage`'s maximum survives exec and would report the driver's size).", ""]
        merged = {}
        for r in data["dispatch"]:  # one row per (system, N), repetitions pooled
            m = merged.setdefault((r["system"], r["n"]), {**r, "whole": [], "loop": [], "rss": []})
            for k in ("whole", "loop", "rss"):
                m[k] = m[k] + r[k]
        data["dispatch"] = list(merged.values())
        hpo_by_n = {r["n"]: statistics.median(r["whole"]) for r in data["dispatch"]
                    if r["system"].startswith("hpo --processes") and r["whole"]}
        rows = []
        for r in data["dispatch"]:
            med = statistics.median(r["whole"]) if r["whole"] else None
            ratio = f"{fmt(hpo_by_n[r['n']] / med)}×" if med and r["n"] in hpo_by_n else "–"
            rows.append([r["system"], r["n"], spread(r["whole"]) if not r["error"] else f"failed: {r['error'][:120]}",
                         spread(r["loop"]), spread(r["rss"]), ratio])
            is_hpo = "hpo" in r["system"]
            if med and r["n"] in hpo_by_n and not is_hpo and med > hpo_by_n[r["n"]]:
                behind.append(f"Dispatch, N={r['n']}: {r['system']} runs {fmt(med)} evaluations/s, hpo --processes 2 {fmt(hpo_by_n[r['n']])}.")
            if r["rss"] and not is_hpo:
                hrss = [x["rss"] for x in data["dispatch"] if x["system"].startswith("hpo --processes") and x["n"] == r["n"]]
                if hrss and hrss[0] and statistics.median(r["rss"]) < statistics.median(hrss[0]):
                    behind.append(f"Master memory, N={r['n']}: {r['system']} {fmt(statistics.median(r['rss']))} MiB, hpo {fmt(statistics.median(hrss[0]))} MiB.")
        L += [md_table(["system", "N", "evals/s, whole command", "evals/s, loop", "master peak RSS (MiB)",
                        "hpo --processes 2 ÷ this"], rows), ""]

    # Suggestion cost
    if data.get("suggest"):
        L += ["## Bayesian suggestion cost", "",
              "Seconds for one suggestion after n evaluated points drawn uniformly in the Branin box "
              "(d = 2) or the Hartmann6 box (d = 6): median wall clock [min–max], then median CPU "
              "seconds. hpo: `hpo::acquisition::suggest` (examples/suite_suggest.rs); PHS: its "
              "procedure (benches/suite/peers/phs_procedure.py); scikit-optimize: one gp_minimize "
              "step, i.e. `Optimizer.tell` of the n-th point (skopt fits and maximizes the "
              "acquisition inside `tell`) plus `ask`.", ""]
        table = {}
        for r in data["suggest"]:
            table.setdefault((r["d"], r["n"]), {})[r["who"]] = r
        rows = []
        for (d, n), by in sorted(table.items()):
            def cell(who):
                r = by.get(who)
                if not r:
                    return "skipped"
                if r["error"]:
                    return r["error"][:60]
                fitted = sorted({int(m.group(1)) for n in r.get("notes", [])
                                 for m in [re.search(r"fitted on (\d+)", n)] if m})
                sub = f"; hyperparameters fitted on {fitted[-1]} of {r['n']}" if fitted and fitted[-1] < r["n"] else ""
                return f"{spread(r['seconds'])} (CPU {fmt(statistics.median(r['cpu_seconds'])) if r['cpu_seconds'] else '–'}{sub})"

            def med(who):
                r = by.get(who)
                return statistics.median(r["seconds"]) if r and r["seconds"] else None

            h = med("hpo")
            ratios = []
            for who in ("phs", "skopt"):
                p = med(who)
                ratios.append(f"{p / h:.3g}×" if p and h else "–")
                if p and h and h > p:
                    behind.append(f"Suggestion cost, d={d}, n={n}: hpo {fmt(h)} s, {who} {fmt(p)} s.")
            rows.append([d, n, cell("hpo"), cell("phs"), cell("skopt")] + ratios)
        L += [md_table(["d", "n", "hpo (s)", "PHS procedure (s)", "scikit-optimize (s)", "PHS ÷ hpo",
                        "skopt ÷ hpo"], rows), ""]

    # Quality
    qd = data.get("quality")
    if qd:
        L += ["## Quality: simple regret after "
              f"{cfg['n_total']} evaluations ({cfg['n_init']} random + {cfg['n_total'] - cfg['n_init']} model-based)", "",
              f"Median [first quartile – third quartile] over seeds {cfg['seeds'][0]}..{cfg['seeds'][-1]} "
              f"({len(cfg['seeds'])} seeds) of the best value found minus the known minimum. hpo rows "
              "run the real binary on generated configurations (a random block, then a bayesian "
              "block; builtin objective) and read results.csv in completion order.", ""]
        by = {}
        for r in qd["runs"]:
            by.setdefault((r["method"], r["problem"]), []).append(r)
        rows = []
        final = {}
        labels = dict(METHODS)
        if not any(m == "hpo_par4_turn" for m, _ in by):
            # Stored before `proposals` existed: the one 4-worker arm proposed in turn.
            labels["hpo_par4"] = "hpo, 4 workers (`--processes 4`, pending points; stored before " \
                                 "`proposals` existed, when sets were proposed in turn)"
            del labels["hpo_par4_turn"]
        for m, label in labels.items():
            cells = []
            for p in cfg["problems"]:
                runs = by.get((m, p), [])
                if not runs:
                    cells.append("skipped")
                    continue
                v = [r["trace"][-1] for r in runs]
                q1, med, q3 = quantiles(v)
                final[(m, p)] = med
                cells.append(f"{fmt(med)} [{fmt(q1)}–{fmt(q3)}] ({len(v)})")
            stubs = {n for (mm, _), runs in by.items() if mm == m for r in runs for n in r["notes"]}
            if m.startswith("hpo") and any("random draw" in s for s in stubs):
                label += " — GP engine not merged: Bayesian sets were random draws"
            rows.append([label] + cells)
        walls = []
        for m, label in labels.items():
            w = [r["wall"] for (mm, _), runs in by.items() if mm == m for r in runs]
            if w:
                walls.append([label, fmt(statistics.median(w)), fmt(max(w))])
        L += [md_table(["method"] + [PROBLEMS[p][3] for p in cfg["problems"]], rows), "",
              "Known minima: Branin 0.397887, Hartmann6 −3.322368, Griewank 0, Ackley 0. "
              "Each cell: median [IQR] (runs).", ""]
        ranks = []
        for p in cfg["problems"]:
            peers = {m: final[(m, p)] for m in ("phs", "skopt", "tpe") if (m, p) in final}
            for hm in ("hpo_seq", "hpo_par4", "hpo_par4_turn"):
                if (hm, p) in final and peers:
                    best_peer = min(peers, key=peers.get)
                    if final[(hm, p)] > peers[best_peer]:
                        behind.append(f"Quality on {PROBLEMS[p][3]}: {labels[hm].split(' (')[0]} median regret "
                                      f"{fmt(final[(hm, p)])}, {best_peer} {fmt(peers[best_peer])}.")
            ranks.append(p)
        L += [f"Wall time per run (s), median and max ({cfg['parallel_jobs']} runs at a time on the shared cores):", "",
              md_table(["method", "median", "max"], walls), ""]
        if qd["errors"]:
            L += ["Failed runs:", ""] + [f"- {e}" for e in qd["errors"]] + [""]
        if "regret.png" in data.get("plots", []):
            L += ["![median regret over evaluations](regret.png)", ""]

    # Utilization
    if data.get("utilization"):
        lo, hi = cfg["delay"]
        L += ["## Worker utilization, sleeping objectives", "",
              f"Each evaluation sleeps a random time in [{lo}, {hi}] s; {cfg['tasks_per_worker']} "
              "evaluations per worker. Utilization = sum of evaluation times ÷ (workers × (last end − "
              "first start)); hpo from results.csv, Dask from each task's own timings.", ""]
        rows = []
        dask = {r["workers"]: r.get("utilization") for r in data["utilization"] if r["system"].startswith("Dask")}
        for r in data["utilization"]:
            rows.append([r["system"], r["workers"], r["tasks"],
                         fmt(r.get("utilization")) if not r["error"] else f"failed: {r['error'][:100]}",
                         fmt(r.get("span"))])
            u = r.get("utilization")
            if r["system"].startswith("hpo") or r["system"].startswith("mpirun"):
                if u and dask.get(r["workers"]) and dask[r["workers"]] > u:
                    behind.append(f"Utilization, {r['workers']} workers: {r['system']} {fmt(u)}, Dask {fmt(dask[r['workers']])}.")
        L += [md_table(["system", "workers", "evaluations", "utilization", "span (s)"], rows), ""]

    # Width
    if data.get("ranks"):
        first = data["ranks"][0]
        L += [f"## A hundred ranks: {first['workers']} MPI workers, sleeping commands", "",
              "`mpirun --oversubscribe --bind-to none -np W+1 hpo run`: each set runs "
              "`sh -c \"sleep S; echo {x}\"` in its worker folder. Utilization = ideal "
              "span (sets ÷ workers × the sleep) ÷ measured span (first set's start to last set's end, "
              "from results.csv); per-set overhead = (span − ideal span) ÷ sets per worker, split into the "
              "mean time a set takes beyond the sleep (its row's start to end: folder, process start, "
              "noticing its end) and the mean gap between a worker's consecutive sets (the round trip "
              "to the master); the rest is the spread of the first starts and last ends. \"Worker folders "
              "off\": the same with `provide_worker_path = false` and `redirect_stdout = false` (no folder, "
              "params.json, stdout.txt or stderr.txt per set). The floor runs "
              "the same commands with no scheduler (W threads, each running its share in turn): what "
              "this machine allows. Master CPU: user + system seconds of rank 0 in its loop (every "
              f"thread, OpenMPI's included) over the span. Median [min–max] of {cfg['ranks_reps']} "
              "runs, alternated; 1-minute load average at each run in the last column.", ""]
        rows = []
        for r in data["ranks"]:
            ideal = r["sets"] / r["workers"] * r["seconds"]
            spans = [x["span"] for x in r["runs"]]
            util = [ideal / x for x in spans]
            over = [(x - ideal) / (r["sets"] / r["workers"]) * 1000 for x in spans]
            cpu = [100 * x["master_cpu"] / x["span"] for x in r["runs"] if x.get("master_cpu") is not None]
            rows.append([r["system"], r["workers"], r["sets"], r["seconds"],
                         spread([100 * u for u in util]) if not r["error"] else f"failed: {r['error'][:100]}",
                         spread(over),
                         spread([x["beyond_ms"] for x in r["runs"] if x.get("beyond_ms") is not None]),
                         spread([x["gap_ms"] for x in r["runs"] if x.get("gap_ms") is not None]),
                         spread(spans),
                         spread([x["wall"] for x in r["runs"] if "wall" in x]),
                         spread(cpu), spread([x["master_rss"] for x in r["runs"] if x.get("master_rss")]),
                         ", ".join(f"{x['load']:.1f}" for x in r["runs"])])
            if r["system"] == "hpo" and util and statistics.median(util) < 0.95:
                behind.append(f"Width, {r['workers']} workers, {r['sets']} sets of {r['seconds']} s: utilization {fmt(100 * statistics.median(util))} % "
                              "(aim 95 %); see the floor row for what this machine allows.")
        L += [md_table(["system", "workers", "sets", "sleep S (s)", "utilization (%)", "per-set overhead (ms)",
                        "set beyond the sleep (ms)", "gap between sets (ms)", "span (s)",
                        "whole command (s)", "master CPU (% of span)", "master peak RSS (MiB)", "load"],
                       rows), ""]
    py = data.get("python")
    if py:
        L += python_report(py, cfg, behind)
    pr = data.get("prune")
    if pr:
        L += (["## Early stopping: a real training task", "", f"Skipped: {pr['error']}.", ""] if pr.get("error")
              else prune.render(pr, behind, fmt, md_table))
    if data.get("million"):
        L += million.render(data["million"], fmt, md_table, behind)
    if data.get("outputs"):
        L += outputs.render(data["outputs"], behind, fmt, md_table, data.get("plots", []))
    if data.get("conditional"):
        L += conditional.render(data["conditional"], behind, fmt, md_table)

    if "suggest_cost.png" in data.get("plots", []):
        L += ["![seconds per suggestion against n](suggest_cost.png)", ""]
    if data.get("bbob") or data.get("ml"):
        L += ["## BBOB and ML tasks", "", "Tables, plots and the share of proposals on a bound: "
              "[blackbox.md](blackbox.md) (rendered from the stored runs, `bbob.jsonl` and `ml.jsonl`).", ""]
        sc = data.get("bbob") or {}
        if sc.get("hpo_le_best_peer"):
            a_, b_ = sc["hpo_le_best_peer"]
            c_, d_ = sc["hpo_beats_random"]
            L += [f"- BBOB (function, d) pairs where hpo's median regret is at most the best peer's: "
                  f"{a_} of {b_} (target 75 %); below random search's: {c_} of {d_} (target 95 %).", ""]
            if sc.get("lost_to_peer"):
                behind.append(f"BBOB, hpo's median regret above the best peer's on {len(sc['lost_to_peer'])} "
                              f"(function, d) pairs: {', '.join(x.split(' ')[0] for x in sc['lost_to_peer'])}.")
            if sc.get("lost_to_random"):
                behind.append(f"BBOB, hpo's median regret not below random search's on {len(sc['lost_to_random'])} "
                              f"pairs: {', '.join(x.split(' ')[0] for x in sc['lost_to_random'])}.")
        for s in ("bbob", "ml"):
            for e in (data.get(s) or {}).get("errors", [])[:20]:
                L += [f"- Failed run ({s}): {e}"]
        L += [""]
    L += ["## Where hpo is behind", ""]
    L += [f"- {b}" for b in behind] if behind else ["- Nowhere in the parts that ran."]
    if notes:
        L += ["- Not measured in this run (see above): " + "; ".join(notes)]
    L += [""]
    data["behind"] = behind
    return "\n".join(L)


def python_report(py, cfg, behind):
    """The Python-objective section of the report (adds to `behind` where hpo misses its marks)."""
    L = ["## Python function objectives", ""]
    if py.get("error"):
        return L + [f"Skipped: {py['error']}.", ""]
    L += [f"A trivial function (x*x + y*y over [-5, 5]²) as the objective, {py['n']} sets, worker "
          "folders off, the suite's venv interpreter for everyone. hpo: `[objective] python = "
          "\"peers/trivial.py:objective\"` on `--processes 2` (one live interpreter per worker), and a "
          "command objective that starts that interpreter for every set (fewer sets: each costs a "
          "start). Optuna: `study.optimize` with `RandomSampler`, in-memory storage, one process "
          "(peers/optuna_trivial.py). Sets per second of the whole command (hpo: process start to "
          "exit, interpreters included), and of the loop (hpo: its run-loop rate; Optuna: "
          "`study.optimize` alone); median [min–max] of the repetitions.", ""]
    optuna = [r for r in py["throughput"] if r["system"].startswith("Optuna") and r["loop"]]
    optuna_rate = statistics.median(optuna[0]["loop"]) if optuna else None
    rows = []
    for r in py["throughput"]:
        whole = statistics.median(r["whole"]) if r["whole"] else None
        ratio = f"{fmt(whole / optuna_rate)}×" if whole and optuna_rate else "–"
        rows.append([r["system"], r["n"], spread(r["whole"]) if not r["error"] else f"failed: {r['error'][:120]}",
                     spread(r["loop"]), ratio])
        if r["system"].startswith("hpo, Python") and whole and optuna_rate and whole < 3 * optuna_rate:
            behind.append(f"Python objective: hpo {fmt(whole)} sets/s, less than 3× Optuna's {fmt(optuna_rate)} trials/s.")
    L += [md_table(["system", "sets", "sets/s, whole command", "sets/s, loop",
                    "whole command ÷ Optuna's optimize loop"], rows), ""]
    o = py.get("overhead") or {}
    if "median_s" in o:
        L += [f"Per-set overhead of the Python path: the time from the end of one call to the start of "
              f"the next on the same interpreter (a timed copy of the function logs `perf_counter` at "
              f"both ends; hpo's whole cycle outside the function: answer, worker, master, next call), "
              f"over {o['gaps']} consecutive pairs: median **{o['median_s'] * 1e6:.0f} µs** "
              f"[IQR {o['q1_s'] * 1e6:.0f}–{o['q3_s'] * 1e6:.0f} µs, 90th percentile {o['p90_s'] * 1e6:.0f} µs]; "
              f"the function's own time, median {o['own_median_s'] * 1e6:.1f} µs.", ""]
        if o["median_s"] >= 2e-4:
            behind.append(f"Python objective overhead: median {o['median_s'] * 1e6:.0f} µs per set (target under 200 µs).")
    elif o:
        L += [f"Per-set overhead: failed ({o.get('error', '')[:200]}).", ""]
    sk = py.get("sklearn") or []
    if sk:
        L += [f"The scikit-learn example (examples/python/train.py: an MLP on `load_digits`), the same "
              f"{cfg['sklearn_n']} random sets on `--processes 2`: seconds per evaluation (`duration_s`), "
              "median [min–max], and the model's own fit time (its `fit_s` metric).", ""]
        rows = []
        for r in sk:
            if r["error"]:
                rows.append([r["system"], f"failed: {r['error'][:120]}", "–", "–"])
                continue
            rows.append([r["system"], spread(r["durations"]), spread(r["fit_s"]), fmt(r["accuracy"])])
        L += [md_table(["objective", "seconds per evaluation", "fit seconds", "best accuracy"], rows), ""]
        before = [r for r in sk if r["system"].startswith("before") and r.get("durations")]
        after = [r for r in sk if r["system"].startswith("after") and r.get("durations")]
        if before and after:
            b, a = statistics.median(before[0]["durations"]), statistics.median(after[0]["durations"])
            L += [f"Median evaluation: {fmt(b)} s before, {fmt(a)} s after ({fmt(b / a)}× less per set).", ""]
    return L


def update_readme(outdir, data):
    """Points benches/README.md at this folder when it holds a whole run (every section up to
    utilization; the bbob and ml sections have their own pointer)."""
    readme = ROOT / "benches" / "README.md"
    if not readme.exists() or not all(data.get(k) for k in ALL_SECTIONS[:4]):
        return
    rel = outdir.relative_to(ROOT / "benches")
    block = (f"<!-- suite:latest -->\nLatest full run: [{rel}/report.md]({rel}/report.md) "
             f"({data['date']}, {data['machine']['cpu']}, {data['machine']['cores']} cores, "
             f"hpo {data['versions'].get('hpo commit', '?')}).\n<!-- /suite:latest -->")
    text = readme.read_text()
    text = re.sub(r"<!-- suite:latest -->.*?<!-- /suite:latest -->", lambda _: block, text, flags=re.S)
    readme.write_text(text)


# ---------------------------------------------------------------------------------------------


def settings(quick):
    if quick:
        return {"quick": True, "reps": 1, "reps_hpo": 2, "dispatch_n": [2000], "dispatch_n_dask": [300],
                "suggest_n": [50, 200], "suggest_n_phs": [50], "suggest_d": [2], "suggest_timeout": 300,
                "problems": ["branin", "griewank2"], "seeds": [1], "n_init": 5, "n_total": 12,
                "quality_timeout": 300, "parallel_jobs": 2,
                "util_workers": [8], "tasks_per_worker": 4, "delay": (0.05, 0.2),
                "ranks_widths": [(4, 8, 0.2)], "ranks_reps": 1,
                "python_n": 2000, "python_cmd_n": 40, "sklearn_n": 4}
    return {"quick": False, "reps": 3, "reps_hpo": 5, "dispatch_n": [2000, 20000], "dispatch_n_dask": [2000],
            "suggest_n": [50, 200, 500, 1000], "suggest_n_phs": [50, 200, 500, 1000], "suggest_d": [2, 6],
            "suggest_timeout": 900, "problems": list(PROBLEMS), "seeds": [1, 2, 3, 4, 5],
            "n_init": 20, "n_total": 60, "quality_timeout": 2400, "parallel_jobs": 4,
            "util_workers": [8, 32], "tasks_per_worker": 15, "delay": (0.05, 0.5),
            "ranks_widths": [(64, 640, 1.0), (8, 80, 1.0), (8, 200, 0.2)], "ranks_reps": 3,
            "python_n": 20000, "python_cmd_n": 400, "sklearn_n": 16}


def main():
    # SIGTERM (a stopped background shard) unwinds like Ctrl-C: temporary folders are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few minutes: smoke-test the suite itself")
    ap.add_argument("--out", type=Path, help="results folder (default: benches/results/<date>-<machine>/; "
                    "--quick: target/suite-quick/)")
    ap.add_argument("--only", default=",".join(ALL_SECTIONS),
                    help="comma-separated sections to run")
    ap.add_argument("--report-only", type=Path, metavar="RESULTS_DIR",
                    help="rewrite report.md, blackbox.md and the plots from RESULTS_DIR's raw.json and "
                    "stored runs (*.jsonl), measure nothing")
    g = ap.add_argument_group("bbob and ml sections")
    g.add_argument("--methods", help=f"comma-separated, of {','.join(blackbox.METHODS)} (default: all; "
                   "--quick: hpo_seq,random); e.g. --methods hpo_seq reruns only hpo's side")
    g.add_argument("--reuse-peers", metavar="DIR[,DIR]|none",
                   help="results folders whose stored peer runs are reused (default: every folder "
                   "under benches/results/ holding bbob.jsonl or ml.jsonl)")
    g.add_argument("--shard", default="0/1", metavar="I/N",
                   help="run only every N-th missing run starting at I (shards may share --out)")
    g.add_argument("--jobs", type=int, default=1, help="runs at a time in this process (default 1)")
    g.add_argument("--seeds-per-instance", type=int, default=1, help="BBOB seeds per instance (default 1)")
    g.add_argument("--fresh", action="store_true",
                   help="drop OUT's stored runs of the methods about to run first (not with shards)")
    a = ap.parse_args()
    try:
        bb_args = blackbox_args(a)
    except ValueError as e:
        print(f"benches/suite/run: {e}", file=sys.stderr)
        sys.exit(2)
    if a.report_only:
        report_only(a.report_only.resolve())
        return
    sections = set(a.only.split(","))
    unknown = sections - set(ALL_SECTIONS)
    if unknown:
        print(f"benches/suite/run: unknown section(s) {', '.join(sorted(unknown))} in --only; "
              f"expected some of {','.join(ALL_SECTIONS)}", file=sys.stderr)
        sys.exit(2)
    cfg = settings(a.quick)
    t0 = time.perf_counter()
    build()
    venv_ok, venv_msg = setup_venv(a.quick)
    log(venv_msg)
    mpi_ok, mpi_msg = mpi_available()
    gp_ok, gp_msg = gp_available()
    log(mpi_msg)
    log(gp_msg)
    notes = [m for ok, m in ((venv_ok, venv_msg), (mpi_ok, mpi_msg), (gp_ok, gp_msg)) if not ok]
    mach = machine()
    slug = re.sub(r"[^a-z0-9]+", "-", mach["cpu"].lower()).strip("-") + f"-{mach['cores']}c"
    date = dt.date.today().isoformat()
    if a.out:
        outdir = a.out.resolve()
    elif a.quick:
        outdir = ROOT / "target" / "suite-quick"
    else:
        outdir = ROOT / "benches" / "results" / f"{date}-{slug}"
    outdir.mkdir(parents=True, exist_ok=True)
    data = {"date": date, "machine": mach, "versions": versions(venv_ok), "config": cfg, "notes": notes,
            "load": {}, "plots": [], "commits": {}}
    previous = outdir / "raw.json"
    old = json.loads(previous.read_text()) if previous.exists() else {}
    if sections != set(ALL_SECTIONS) and old:
        # A partial run (say, once the MPI back end landed) replaces only its sections.
        kept = [k for k in ALL_SECTIONS if k not in sections and k in old]
        for key in kept:
            data[key] = old[key]
            data["load"][key] = old.get("load", {}).get(key, float("nan"))
            data["commits"][key] = old.get("commits", {}).get(key, old["versions"].get("hpo commit"))
        if kept:  # a rerun of the same sections keeps nothing, and no time
            data["wall_minutes_kept"] = old.get("wall_minutes_kept", 0) + old.get("wall_minutes", 0)
            log(f"kept {', '.join(kept)} from {previous}")
    peers_only = not set(bb_args[0]) & set(blackbox.HPO_METHODS)
    old_commits = old.get("commits", {})
    for key in sections:
        # A rerun of peers alone (say --methods gp) leaves hpo's runs, and their commit, as they were.
        keep = peers_only and key in blackbox.SECTIONS and key in old_commits
        data["commits"][key] = old_commits[key] if keep else data["versions"]["hpo commit"]
    with tempfile.TemporaryDirectory(prefix="hpo-suite-") as td:
        tmp = Path(td)
        if "dispatch" in sections:
            data["load"]["dispatch"] = loadavg()
            log("dispatch")
            data["dispatch"] = dispatch(cfg, tmp, venv_ok, mpi_ok)
        if "suggest" in sections:
            data["load"]["suggest"] = loadavg()
            log("suggestion cost")
            data["suggest"] = suggest_cost(cfg, venv_ok, gp_ok)
        if "quality" in sections:
            data["load"]["quality"] = loadavg()
            log("quality")
            data["quality"] = quality(cfg, tmp, venv_ok)
        if "utilization" in sections:
            data["load"]["utilization"] = loadavg()
            log("utilization")
            data["utilization"] = utilization(cfg, tmp, venv_ok, mpi_ok)
        if "ranks" in sections:
            data["load"]["ranks"] = loadavg()
            log("ranks")
            data["ranks"] = ranks(cfg, tmp, mpi_ok)
        if "python" in sections:
            data["load"]["python"] = loadavg()
            log("python objectives")
            data["python"] = python_objectives(cfg, tmp, venv_ok)
        if "prune" in sections:
            data["load"]["prune"] = loadavg()
            log("early stopping")
            if venv_ok:
                ctx = {"hpo": HPO, "vpy": VPY, "env": ENV, "log": log, "run_json": run_json}
                data["prune"] = prune.run_section(ctx, tmp, cfg["quick"])
            else:
                data["prune"] = {"error": "needs benches/.venv (scikit-learn, Optuna)"}
        if "million" in sections:
            data["load"]["million"] = loadavg()
            log("the master at a million sets")
            data["million"] = million.run_section({"hpo": HPO, "env": ENV, "log": log}, tmp, cfg["quick"])
        if "outputs" in sections:
            data["load"]["outputs"] = loadavg()
            log("several outputs and a constraint")
            ctx = {"hpo": HPO, "vpy": VPY, "env": ENV, "log": log, "run_json": run_json}
            data["outputs"] = outputs.run_section(ctx, tmp, cfg["quick"], venv_ok)
        if "conditional" in sections:
            data["load"]["conditional"] = loadavg()
            log("conditional parameters")
            ctx = {"hpo": HPO, "env": ENV, "log": log}
            data["conditional"] = conditional.run_section(ctx, tmp, cfg["quick"])
    if sections & set(blackbox.SECTIONS):
        blackbox_sections(a, bb_args, sections, outdir, venv_ok, data)
    data["wall_minutes"] = (time.perf_counter() - t0) / 60
    text = write_report(outdir, data)
    if not a.quick and not a.out:
        update_readme(outdir, data)
    log(f"report: {outdir / 'report.md'} ({data['wall_minutes']:.1f} min)")
    print(text)


def blackbox_args(a):
    """(methods, (shard, of)) from the command line; ValueError names what is wrong."""
    names = a.methods.split(",") if a.methods else list(blackbox.HPO_METHODS if a.quick else blackbox.METHODS)
    bad = [m for m in names if m not in blackbox.METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {', '.join(bad)} in --methods; expected some of "
                         f"{','.join(blackbox.METHODS)}")
    m = re.fullmatch(r"(\d+)/(\d+)", a.shard)
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise ValueError(f"--shard {a.shard!r}: expected I/N with 0 <= I < N, e.g. 0/2")
    if a.jobs < 1 or a.seeds_per_instance < 1:
        raise ValueError("--jobs and --seeds-per-instance must be at least 1")
    if a.fresh and m.group(2) != "1":
        raise ValueError("--fresh with --shard would let one shard drop the other's runs")
    return names, (int(m.group(1)), int(m.group(2)))


def blackbox_sections(a, bb_args, sections, outdir, venv_ok, data):
    """Runs the bbob and ml sections (blackbox.py) into outdir and renders blackbox.md."""
    methods, shard = bb_args
    wanted = [s for s in a.only.split(",") if s in blackbox.SECTIONS]  # in the order asked
    if not venv_ok:
        data["notes"].append(f"{' and '.join(wanted)} skipped: their problems (cocoex, scikit-learn) "
                             "and peers live in benches/.venv, which is not set up")
        return
    if "gp" in methods:
        ok, msg = setup_torch()
        log(msg)
        if not ok:
            methods = [m for m in methods if m != "gp"]
            data["notes"].append(msg)
    data["versions"] = versions(venv_ok)
    bcfg = blackbox.settings(a.quick, a.seeds_per_instance)
    reuse = blackbox.reuse_dirs(a.reuse_peers, outdir)
    meta = {"config": bcfg, "reuse": [os.path.relpath(p, outdir) for p in reuse]}
    (outdir / "blackbox.json").write_text(json.dumps(meta, indent=1) + "\n")
    if a.fresh or a.quick:
        for s in wanted:
            blackbox.drop_methods(outdir, s, methods)
    ctx = {"hpo": HPO, "client": EVAL_CLIENT, "vpy": VPY, "env": ENV, "log": log,
           "versions": data["versions"]}
    errors = []
    for s in wanted:
        data["load"][s] = loadavg()
        log(f"{s}: methods {','.join(methods)}; peers reused from "
            f"{', '.join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in reuse) or 'nowhere'}")
        errors += blackbox.run_section(s, ctx, bcfg, methods, outdir, reuse, shard, a.jobs)
    _, summary = blackbox.render(outdir, bcfg, reuse, ctx)
    for s in wanted:
        data[s] = {**summary.get(s, {}), "errors": errors}
        counts = summary["runs"][s]
        missing = [blackbox.LABELS[m] for m in blackbox.PEER_METHODS if not counts.get(m)]
        if missing:
            data["notes"].append(f"{s}: no stored runs of {', '.join(missing)} for this configuration "
                                 "(run them with --methods, or name a folder holding them with --reuse-peers)")


def report_only(outdir):
    """Rewrites the reports of a results folder from what it stores."""
    meta = outdir / "blackbox.json"
    bb = None
    if meta.exists() or any((outdir / f"{s}.jsonl").exists() for s in blackbox.SECTIONS):
        if meta.exists():
            m = json.loads(meta.read_text())
            reuse = [(outdir / p).resolve() for p in m["reuse"]]
        else:  # stored lines alone: the full configuration, the default folders to reuse
            m = {"config": blackbox.settings(False)}
            reuse = blackbox.reuse_dirs(None, outdir)
        ctx = {"vpy": VPY, "env": ENV}
        text, bb = blackbox.render(outdir, m["config"], reuse, ctx)
        print(text)
    if (outdir / "raw.json").exists():
        data = json.loads((outdir / "raw.json").read_text())
        if data.get("outputs"):
            outputs.derive(data["outputs"])
        for s in blackbox.SECTIONS:
            if bb and s in bb and s in data:
                data[s] = {**bb[s], "errors": data[s].get("errors", [])}
        print(write_report(outdir, data))
        if outdir.parent == ROOT / "benches" / "results" and not data["config"]["quick"]:
            update_readme(outdir, data)


def write_report(outdir, data):
    (outdir / "raw.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    if VPY.exists():
        p = subprocess.run([str(VPY), str(SUITE / "plot.py"), str(outdir / "raw.json"), str(outdir)],
                           capture_output=True, text=True, env=ENV)
        if p.returncode == 0:
            data["plots"] = [line for line in p.stdout.split() if line.endswith(".png")]
        else:
            log(f"plots failed: {p.stderr.strip()[-300:]}")
    text = report(data)
    (outdir / "report.md").write_text(text + "\n")
    (outdir / "raw.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    return text


if __name__ == "__main__":
    main()
