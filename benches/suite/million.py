"""The suite's `million` section: the master at scale, one experiment of a million sets.

One experiment (three parameters: two random floats and a choice of three strings; the builtin
Griewank objective, no delay, `--processes 2`), measured through the real binary:

- a fresh run from the configuration to the end: the wall time, the time to the first durable
  row (start-up: checking, drawing the parameter table, writing `parameters.csv`), and the
  master's peak resident memory (`VmHWM` of its process, polled), and per set: above the same
  experiment's with 100 sets;
- the same run interrupted with SIGINT near half-way, then resumed: the resume's time to its
  first new row (reading and checking the folder) and its whole wall time; afterwards the table
  has every set exactly once;
- `hpo status`, `hpo status --json` and `hpo best` on the finished folder: wall time and peak
  resident memory (`VmHWM`, polled);
- a second `hpo run` of the finished folder ("nothing to run"): what reading a million rows costs.
"""

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

PARAMS = [("x", "float", "{ random = [-5, 5] }"), ("y", "float", "{ random = [-5, 5] }"),
          ("opt", "str", '{ choice = ["sgd", "adam", "rmsprop"] }')]


def settings(quick):
    return {"sets": 20_000 if quick else 1_000_000, "workers": 2}


def config(path, sets):
    lines = ["[experiment]", 'dir = "exp"', "seed = 1", "[objective]", 'builtin = "griewank"',
             'direction = "minimize"']
    for name, kind, _ in PARAMS:
        lines += ["[[parameters]]", f'name = "{name}"', f'type = "{kind}"']
    lines += ["[[sets]]", f"count = {sets}"] + [f"{name} = {spec}" for name, _, spec in PARAMS]
    lines += ["[compute]", "provide_worker_path = false", "redirect_stdout = false"]
    path.write_text("\n".join(lines) + "\n")


def lines_in(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def hwm_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def watched_run(hpo, target, cwd, env, workers, results, interrupt_at=None, timeout=1800):
    """Runs `hpo run TARGET`; returns the wall time, the time to the first new row, the master's
    peak RSS (KiB) and the exit code. interrupt_at: SIGINT once results.csv has that many rows."""
    before = lines_in(results)
    t0 = time.perf_counter()
    p = subprocess.Popen([str(hpo), "run", str(target), "-p", str(workers), "-q"], cwd=cwd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first, hwm, sent = None, None, False
    while p.poll() is None:
        hwm = hwm_kib(p.pid) or hwm
        n = lines_in(results) if (first is None or (interrupt_at and not sent)) else 0
        if first is None and n > max(before, 1):
            first = time.perf_counter() - t0
        if interrupt_at and not sent and n > interrupt_at:
            p.send_signal(signal.SIGINT)
            sent = True
        if time.perf_counter() - t0 > timeout:
            p.kill()
            break
        time.sleep(0.05)
    _, err = p.communicate()
    return {"wall_s": time.perf_counter() - t0, "first_row_s": first, "master_hwm_kib": hwm,
            "rc": p.returncode, "stderr": err.strip()[-300:]}


def timed(cmd, cwd, env):
    """Runs a command to its end: its wall time and peak resident memory (KiB, polled)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hwm = None
    while p.poll() is None:
        hwm = hwm_kib(p.pid) or hwm
        time.sleep(0.02)
    return {"wall_s": time.perf_counter() - t0, "peak_kib": hwm, "rc": p.returncode}


def run_section(ctx, tmp, quick):
    mcfg = settings(quick)
    hpo, env, log = ctx["hpo"], ctx["env"], ctx["log"]
    sets, workers = mcfg["sets"], mcfg["workers"]
    d = tmp / "million"
    d.mkdir()
    config(d / "m.toml", sets)
    results = d / "exp" / "results.csv"
    out = {"config": mcfg}
    # The master's memory with a hundred sets: what a set adds is measured above it.
    (d / "base").mkdir()
    config(d / "base" / "m.toml", 100)
    out["baseline"] = watched_run(hpo, d / "base" / "m.toml", d / "base", env, workers,
                                  d / "base" / "exp" / "results.csv")
    log(f"million: a fresh run of {sets} sets")
    out["fresh"] = watched_run(hpo, d / "m.toml", d, env, workers, results)
    out["fresh"]["bytes"] = {f: (d / "exp" / f).stat().st_size for f in ("results.csv", "parameters.csv")}
    log("million: status and best on the finished folder")
    for key, cmd in (("status", ["status", "exp"]), ("status_json", ["status", "exp", "--json"]),
                     ("best", ["best", "exp"])):
        out[key] = timed([str(hpo)] + cmd, d, env)
    out["nothing_to_run"] = timed([str(hpo), "run", "exp", "-p", str(workers), "-q"], d, env)
    log("million: interrupted near half-way, then resumed")
    subprocess.run(["rm", "-rf", str(d / "exp")], check=True)
    out["interrupted"] = watched_run(hpo, d / "m.toml", d, env, workers, results, interrupt_at=sets // 2)
    out["interrupted"]["rows"] = lines_in(results) - 1
    out["resume"] = watched_run(hpo, d / "exp", d, env, workers, results)
    with open(results, newline="") as f:
        idx = [int(r["index"]) for r in csv.DictReader(f)]
    out["resume"]["rows"] = len(idx)
    out["resume"]["each_once"] = sorted(idx) == list(range(sets))
    return out


def render(data, fmt, md_table, behind):
    c = data["config"]
    n = c["sets"]
    f, r = data["fresh"], data["resume"]
    mib = lambda k: k / 1024 if k else float("nan")  # noqa: E731
    base = data["baseline"]["master_hwm_kib"] or 0
    per_set = 1024 * ((f["master_hwm_kib"] or 0) - base) / (n - 100)
    L = ["## The master at a million sets", "",
         f"One experiment of {n:,} sets (two random floats and a three-way choice; the builtin "
         f"Griewank objective, no delay, `--processes {c['workers']}`; benches/suite/million.py). "
         "Peak memory: `VmHWM` of the command's process, polled every 20-50 ms (the "
         "forked workers are not counted).", ""]
    rows = [
        ["fresh run, whole", fmt(f["wall_s"]), fmt(n / f["wall_s"], 4) + " sets/s",
         f"{fmt(mib(f['master_hwm_kib']))} MiB master ({fmt(per_set)} B per set above "
         f"{fmt(mib(base))} MiB with 100 sets)"],
        ["fresh run, to the first durable row (start-up)", fmt(f["first_row_s"]), "", ""],
        [f"interrupted at {data['interrupted']['rows']:,} rows, resumed: to its first new row",
         fmt(r["first_row_s"]), "", f"{fmt(mib(r['master_hwm_kib']))} MiB master"],
        ["resumed run, whole", fmt(r["wall_s"]),
         f"{r['rows']:,} rows, each set once: {'yes' if r['each_once'] else '**no**'}", ""],
    ]
    for key, label in (("nothing_to_run", "`hpo run` of the finished folder (nothing to run)"),
                       ("status", "`hpo status`"), ("status_json", "`hpo status --json`"),
                       ("best", "`hpo best`")):
        x = data[key]
        rows.append([label, fmt(x["wall_s"]), f"exit {x['rc']}",
                     f"{fmt(mib(x['peak_kib']))} MiB" if x["peak_kib"] else "–"])
    L += [md_table(["step", "seconds", "", "peak memory"], rows), ""]
    b = f["bytes"]
    L += [f"Files: results.csv {b['results.csv'] / 2**20:.1f} MiB, parameters.csv "
          f"{b['parameters.csv'] / 2**20:.1f} MiB.", ""]
    if not r["each_once"]:
        behind.append("The master at a million sets: the resumed table does not hold each set once.")
    return L
