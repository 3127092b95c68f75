//! End-to-end tests of the Python objective on the local pool: the real `hpo` binary, a real
//! `python3` (standard library only), real signals. Without `python3` they fail when
//! `HPO_REQUIRE_PYTHON=1` (the test script sets it) and are skipped with a message otherwise.

mod common;

use common::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

fn have_python() -> bool {
    runs("python3", "HPO_REQUIRE_PYTHON")
}

/// A Python objective `FILE:objective` over `parameters` and `sets` (TOML text), in folder `exp`.
fn python_config(file: &str, objective: &str, parameters: &str, sets: &str) -> String {
    format!(
        "[experiment]\ndir = \"exp\"\nseed = 5\n[objective]\npython = \"{{config_dir}}/{file}:objective\"\n{objective}\n{parameters}\n{sets}"
    )
}

fn metrics(row: &HashMap<String, String>) -> serde_json::Value {
    serde_json::from_str(&row["metrics"]).unwrap_or_else(|e| panic!("{e}: {row:?}"))
}

fn index(row: &HashMap<String, String>) -> usize {
    row["index"].parse().expect("index")
}

const PHS_STYLE: &str = r#"
import hpo, os, sys
import helper  # a module beside this file

STATE = {"calls": 0}


def objective(parameter):
    STATE["calls"] += 1
    # PHS: the assignments, one a line, run into the module's globals.
    exec(parameter["hyperpar"], globals(), globals())
    print("python print", x)
    os.write(1, b"written to file descriptor 1\n")
    sys.stderr.write("to stderr\n")
    with open(parameter["worker_save_path"] + "mine.txt", "w") as f:
        f.write("mine")
    return {
        "result": helper.double(x) + k,
        "calls": STATE["calls"],
        "pid": os.getpid(),
        "index": hpo.index(),
        "worker_dir": hpo.worker_dir(),
        "deadline": hpo.deadline(),
        "types": [type(parameter[n]).__name__ for n in ("x", "k", "act", "z")],
        "env": {n: os.environ.get(n) for n in ("HPO_INDEX", "HPO_WORKER_DIR", "HPO_EXPERIMENT_DIR", "OMP_NUM_THREADS")},
        "cwd": os.getcwd(),
        "seen": [act, z],
    }
"#;

#[test]
fn a_phs_style_function_keeps_its_state_and_gets_typed_values() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("phs.py"), PHS_STYLE).unwrap();
    std::fs::write(
        tmp.path().join("helper.py"),
        "def double(v):\n    return 2 * v\n",
    )
    .unwrap();
    let parameters = "[[parameters]]\nname = \"x\"\ntype = \"float\"\n[[parameters]]\nname = \"k\"\ntype = \"int\"\n\
                      [[parameters]]\nname = \"act\"\ntype = \"str\"\n[[parameters]]\nname = \"z\"\ntype = \"expr\"\nexpr = \"x * k\"\n";
    let sets = "[[sets]]\ncount = 14\nx = { random = [0, 1], round = 3 }\nk = { choice = [1, 2, 3] }\n\
                act = { choice = [\"relu\", \"tanh\"] }\nz = { choice = [\"x * k\", \"x + k + 100\"] }\n\
                [[sets]]\ncount = 2\nx = 0.5\nk = 1\nact = \"relu\"\n";
    let config = python_config("phs.py", "direction = \"maximize\"", parameters, sets);
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .env("OMP_NUM_THREADS", "3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Results travel on a private channel: nothing reaches hpo's own stdout.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let exp = tmp.path().join("exp");
    let rows = rows(&exp.join("results.csv"));
    assert_each_index_once(&rows, 16);
    let table = common::rows(&exp.join("parameters.csv"));
    let mut per_pid: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        let i = index(r);
        let m = metrics(r);
        let (x, k): (f64, i64) = (r["x"].parse().unwrap(), r["k"].parse().unwrap());
        let result: f64 = r["result"].parse().unwrap();
        assert!((result - (2.0 * x + k as f64)).abs() < 1e-9, "{r:?}");
        // The drawn expression is in parameters.csv, its value in the row and the dict.
        let expression = &table[i]["z"];
        let z = if expression == "x + k + 100" {
            x + k as f64 + 100.0
        } else {
            x * k as f64
        };
        assert!(
            i >= 14 || expression == "x * k" || expression == "x + k + 100",
            "{expression}"
        );
        assert!(
            (r["z"].parse::<f64>().unwrap() - z).abs() < 1e-9,
            "{r:?} {expression}"
        );
        assert_eq!(m["seen"][0].as_str(), Some(r["act"].as_str()));
        assert_eq!(
            m["types"],
            serde_json::json!(["float", "int", "str", "float"])
        );
        assert_eq!(m["index"].as_u64(), Some(i as u64));
        let folder = exp.join(format!("worker_out/{i:06}"));
        assert_eq!(m["worker_dir"].as_str(), Some(folder.to_str().unwrap()));
        assert!(m["deadline"].is_null());
        assert_eq!(m["env"]["HPO_INDEX"].as_str(), Some(i.to_string().as_str()));
        assert_eq!(m["env"]["HPO_WORKER_DIR"], m["worker_dir"]);
        assert_eq!(
            m["env"]["HPO_EXPERIMENT_DIR"].as_str(),
            Some(exp.to_str().unwrap())
        );
        assert_eq!(m["env"]["OMP_NUM_THREADS"].as_str(), Some("3"));
        assert_eq!(m["cwd"].as_str(), Some(tmp.path().to_str().unwrap()));
        // The prints, Python's and the file descriptors' own, are in the set's folder.
        let stdout = std::fs::read_to_string(folder.join("stdout.txt")).unwrap();
        assert!(stdout.contains(&format!("python print {x}")), "{stdout}");
        assert!(stdout.contains("written to file descriptor 1"), "{stdout}");
        let stderr = std::fs::read_to_string(folder.join("stderr.txt")).unwrap();
        assert_eq!(stderr, "to stderr\n");
        assert!(folder.join("mine.txt").is_file());
        per_pid
            .entry(m["pid"].as_i64().unwrap())
            .or_default()
            .push((r["started"].clone(), m["calls"].as_i64().unwrap()));
    }
    // One interpreter per worker, imported once: its counter runs 1, 2, 3, ... in order.
    assert_eq!(per_pid.len(), 2, "{per_pid:?}");
    for calls in per_pid.values_mut() {
        calls.sort();
        let counted: Vec<i64> = calls.iter().map(|(_, c)| *c).collect();
        assert_eq!(counted, (1..=calls.len() as i64).collect::<Vec<_>>());
    }
    // The metrics show in `hpo status --json` and the report.
    let out = run(&["status", exp.to_str().unwrap(), "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status["best"]["metrics"]["calls"].is_u64(), "{status}");
    let out = run(&["report", exp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(exp.join("report.html")).unwrap();
    assert!(
        html.contains("<th>metrics</th>") && html.contains("calls="),
        "metrics in the report"
    );
}

const FAULTS: &str = r#"
import os, signal, subprocess, time


def objective(p):
    mode = p["mode"]
    if mode == "raise":
        raise KeyError("no such thing")
    if mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "exit":
        os._exit(3)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        child = subprocess.Popen(["sleep", "300"])
        with open(p["worker_save_path"] + "child.pid", "w") as f:
            f.write(str(child.pid))
        time.sleep(300)
    if mode == "nan":
        return float("nan")
    if mode == "none":
        return None
    if mode == "nokey":
        return {"loss": 1}
    return {"result": 1, "pid": os.getpid()}
"#;

#[test]
fn every_fault_of_a_python_function_is_a_row_and_the_next_set_runs() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("faults.py"), FAULTS).unwrap();
    let modes = [
        "ok", "raise", "ok", "segv", "ok", "exit", "ok", "kill", "ok", "hang", "ok", "nan", "none",
        "nokey", "ok",
    ];
    let sets: String = modes
        .iter()
        .map(|m| format!("[[sets]]\nmode = \"{m}\"\n"))
        .collect();
    let config = python_config(
        "faults.py",
        "timeout_s = 3\nkill_grace_s = 0.5",
        "[[parameters]]\nname = \"mode\"\ntype = \"str\"\n",
        &sets,
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "1", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exp = tmp.path().join("exp");
    let mut rows = rows(&exp.join("results.csv"));
    assert_each_index_once(&rows, modes.len());
    rows.sort_by_key(index);
    let pid = |i: usize| metrics(&rows[i])["pid"].as_i64().unwrap();
    let failed = |i: usize, says: &str| {
        assert_eq!(rows[i]["status"], "failed", "{:?}", rows[i]);
        assert!(
            rows[i]["error"].contains(says),
            "set {i}: `{says}` in {:?}",
            rows[i]["error"]
        );
    };
    // An exception: its last line in the row, the traceback in the set's folder, and the same
    // interpreter for the next set.
    assert_eq!(rows[1]["error"], "KeyError: 'no such thing'");
    let traceback = std::fs::read_to_string(exp.join("worker_out/000001/stderr.txt")).unwrap();
    assert!(
        traceback.contains("Traceback")
            && traceback.contains("faults.py")
            && !traceback.contains("<stdin>"),
        "{traceback}"
    );
    assert_eq!(pid(0), pid(2));
    // A crash of the interpreter (segfault, os._exit, SIGKILL): a failed row and a fresh one.
    failed(3, "killed by SIGSEGV");
    failed(5, "exited with code 3");
    failed(7, "killed by SIGKILL");
    assert_ne!(pid(2), pid(4));
    assert_ne!(pid(4), pid(6));
    assert_ne!(pid(6), pid(8));
    // A timeout: the whole process group killed, a timeout row, a fresh interpreter.
    assert_eq!(rows[9]["status"], "timeout", "{:?}", rows[9]);
    let child: i32 = std::fs::read_to_string(exp.join("worker_out/000009/child.pid"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(!alive(child), "the function's child outlived the timeout");
    assert_ne!(pid(8), pid(10));
    // What the function returned is read by the one normalizer.
    failed(11, "returned NaN");
    failed(
        12,
        "returned `null`, neither a number nor an object with `result`",
    );
    failed(13, "no `result` key (its keys: loss)");
    assert_eq!(pid(10), pid(14));
    assert_eq!(
        rows.iter().filter(|r| r["status"] == "ok").count(),
        modes.iter().filter(|m| **m == "ok").count()
    );
}

#[test]
fn a_module_that_fails_to_import_fails_its_sets_and_is_imported_afresh() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let counter = tmp.path().join("imports.txt");
    std::fs::write(
        tmp.path().join("broken.py"),
        format!(
            "with open({:?}, 'a') as f:\n    f.write('import\\n')\nimport no_such_module_anywhere\n\ndef objective(p):\n    return 1\n",
            counter.to_str().unwrap()
        ),
    )
    .unwrap();
    let config = python_config(
        "broken.py",
        "",
        "[[parameters]]\nname = \"x\"\ntype = \"int\"\n",
        "[[sets]]\ncount = 3\nx = { random = [1, 9] }\n",
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    run(&["run", path.to_str().unwrap(), "-p", "1", "-q"]);
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 3);
    for r in &rows {
        assert_eq!(r["status"], "failed");
        assert!(
            r["error"].contains(
                "broken.py failed: ModuleNotFoundError: No module named 'no_such_module_anywhere'"
            ),
            "{}",
            r["error"]
        );
    }
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        3
    );
    let stderr0 =
        std::fs::read_to_string(tmp.path().join("exp/worker_out/000000/stderr.txt")).unwrap();
    assert!(stderr0.contains("no_such_module_anywhere"), "{stderr0}");
}

#[test]
fn a_bad_python_objective_is_refused_before_anything_is_created() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ok.py"),
        "def objective(p):\n    return 1\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("bad.py"),
        "def objective(p)\n    return 1\n",
    )
    .unwrap();
    let param = "[[parameters]]\nname = \"x\"\ntype = \"int\"\n";
    let sets = "[[sets]]\nx = 1\n";
    let config = |target: &str, extra: &str| {
        format!(
            "[experiment]\ndir = \"exp\"\n[objective]\npython = \"{target}\"\n{extra}\n{param}{sets}"
        )
    };
    // (configuration, environment, what the error says)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            config("{config_dir}/missing.py:objective", ""),
            vec![],
            "objective.python`: cannot read",
        ),
        (
            config("ok.py:objectiv", ""),
            vec![],
            "defines no `objectiv` at its top level (it defines: objective)",
        ),
        (
            config("bad.py:objective", ""),
            vec![],
            "is not valid Python",
        ),
        (
            config("ok.py:objective", "python_executable = \"python9.99\""),
            vec![],
            "objective.python_executable`: the Python interpreter `python9.99` was not found",
        ),
        (
            config("ok.py:objective", "python_executable = \"/bin/true\""),
            vec![],
            "is it a Python interpreter?",
        ),
        (
            config("ok.py:objective", ""),
            vec![("HPO_PYTHON", "no-python-here")],
            "`no-python-here` (from $HPO_PYTHON) was not found",
        ),
        (
            config("ok.py:objective", "")
                .replace("name = \"x\"", "name = \"hyperpar\"")
                .replace("x = 1", "hyperpar = 1"),
            vec![],
            "parameters[0].name",
        ),
    ];
    for (text, env, says) in cases {
        let path = write_config(tmp.path(), "c.toml", &text);
        let mut cmd = hpo();
        cmd.args(["run", path.to_str().unwrap(), "-q"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}\n{}", stderr(&out));
        assert!(
            stderr(&out).contains(says),
            "expected `{says}` in: {}",
            stderr(&out)
        );
        assert!(
            !tmp.path().join("exp").exists(),
            "nothing is created: {text}"
        );
    }
    // $HPO_PYTHON names the interpreter when the configuration does not.
    let path = write_config(tmp.path(), "c.toml", &config("ok.py:objective", ""));
    let out = hpo()
        .args(["run", path.to_str().unwrap(), "-q"])
        .env("HPO_PYTHON", "python3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

const SLOW: &str = r#"
import os, subprocess, time

CHILD = subprocess.Popen(["sleep", "300"])
HOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hold")


def objective(p):
    with open(p["worker_save_path"] + "pids", "w") as f:
        f.write("%d %d\n" % (os.getpid(), CHILD.pid))
    if p["long"]:
        while os.path.exists(HOLD):
            time.sleep(0.05)
    time.sleep(p["t"])
    return p["t"]
"#;

/// The (interpreter, child) pids the sets wrote.
fn pids(exp: &Path) -> HashSet<i32> {
    let mut all = HashSet::new();
    for entry in std::fs::read_dir(exp.join("worker_out")).unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path().join("pids")) {
            all.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    all
}

#[test]
fn interpreters_die_with_a_killed_master_and_the_experiment_resumes() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("slow.py"), SLOW).unwrap();
    let config = python_config(
        "slow.py",
        "",
        "[[parameters]]\nname = \"t\"\ntype = \"float\"\n[[parameters]]\nname = \"long\"\ntype = \"int\"\n",
        "[[sets]]\ncount = 30\nt = { choice = [0.05, 0.1] }\nlong = 0\n[[sets]]\ncount = 2\nt = 0.01\nlong = 1\n",
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    let exp = tmp.path().join("exp");
    // The two long sets wait while this file exists.
    std::fs::write(tmp.path().join("hold"), "").unwrap();
    let mut child = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .spawn()
        .unwrap();
    // Both workers are in the two long sets at the end, each interpreter with a child.
    wait_until(
        Duration::from_secs(60),
        "the long sets did not start",
        || {
            [30, 31].iter().all(|i| {
                std::fs::read_to_string(exp.join(format!("worker_out/{i:06}/pids")))
                    .is_ok_and(|s| s.ends_with('\n'))
            })
        },
    );
    let running = pids(&exp);
    assert!(running.len() >= 4, "{running:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    wait_until(
        Duration::from_secs(5),
        "interpreters outlived the master",
        || running.iter().all(|p| !alive(*p)),
    );
    // The resume runs the two long sets again (released now) and loses nothing.
    assert_eq!(rows(&exp.join("results.csv")).len(), 30);
    std::fs::remove_file(tmp.path().join("hold")).unwrap();
    let out = run(&["run", exp.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_index_once(&rows(&exp.join("results.csv")), 32);
}

#[test]
fn the_python_examples_are_valid_and_the_phs_one_runs_unchanged() {
    if !have_python() {
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python");
    let tmp = tempfile::tempdir().unwrap();
    // The scikit-learn example needs scikit-learn to run; its file and function are checked
    // without importing it.
    let digits = tmp.path().join("digits");
    let out = run(&[
        "init",
        examples.join("train.toml").to_str().unwrap(),
        "--dir",
        digits.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let phs = tmp.path().join("phs");
    let out = run(&[
        "run",
        examples.join("phs_style.toml").to_str().unwrap(),
        "--dir",
        phs.to_str().unwrap(),
        "-p",
        "2",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&phs.join("results.csv"));
    assert_each_index_once(&rows, 24);
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{rows:?}");
    let table = common::rows(&phs.join("parameters.csv"));
    let drawn: HashSet<&str> = table[..16].iter().map(|r| r["f"].as_str()).collect();
    assert!(
        drawn.len() > 1 && drawn.iter().all(|f| f.contains('x')),
        "{drawn:?}"
    );
    assert!(table[16..].iter().all(|r| r["f"] == "<expr>"));
    for r in &rows {
        let z =
            std::fs::read_to_string(phs.join(format!("worker_out/{:06}/z.txt", index(r)))).unwrap();
        let (a, b): (f64, f64) = (z.trim().parse().unwrap(), r["result"].parse().unwrap());
        assert!((a - b).abs() < 1e-9, "{z} {r:?}");
    }
}

/// Starts a background child at import, writes `interpreter child worker` (the worker: the
/// interpreter's parent) into its worker folder, then waits.
const BACKGROUND: &str = r#"
import os, subprocess, time

CHILD = subprocess.Popen(["sleep", "300"])


def objective(p):
    path = p["worker_save_path"] + "pids"
    with open(path + ".part", "w") as f:
        f.write("%d %d %d\n" % (os.getpid(), CHILD.pid, os.getppid()))
    os.rename(path + ".part", path)
    time.sleep(300)
    return 0.0
"#;

#[test]
fn a_killed_workers_interpreter_leaves_no_process_behind() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bg.py"), BACKGROUND).unwrap();
    let config = python_config(
        "bg.py",
        "",
        "[[parameters]]\nname = \"x\"\ntype = \"float\"\n",
        "[[sets]]\ncount = 1\nx = 1.0\n",
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    let mut child = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "1", "-q"])
        .spawn()
        .unwrap();
    let file = tmp.path().join("exp/worker_out/000000/pids");
    wait_until(Duration::from_secs(60), "the set did not start", || {
        file.exists()
    });
    let text = std::fs::read_to_string(&file).unwrap();
    let [interpreter, background, worker] = text
        .split_whitespace()
        .map(|p| p.parse::<i32>().expect("a pid"))
        .collect::<Vec<_>>()[..]
    else {
        panic!("three pids: {text}")
    };
    // The interpreter leads its own group, which its background child is in.
    assert!(alive(background) && group_has_live_member(interpreter));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until(
        Duration::from_secs(10),
        "the interpreter's background child outlived its killed worker",
        || !group_has_live_member(interpreter),
    );
    assert_eq!(child.wait().unwrap().code(), Some(1), "its only set failed");
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert!(rows[0]["error"].contains("worker died"), "{rows:?}");
}

const TRAINING: &str = r#"
import hpo


def objective(p):
    # A falling curve ordered by x; stop when told.
    value = None
    for step in range(1, 10):
        value = p["x"] + 1.0 / step
        if hpo.report(step, value):
            return "ignored: the set was stopped"
    return value
"#;

#[test]
fn a_python_function_reports_and_stops_when_told() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().expect("dir");
    std::fs::write(tmp.path().join("train.py"), TRAINING).expect("write");
    let parameters = "[[parameters]]\nname = \"x\"\ntype = \"int\"";
    let sets = "[[sets]]\ncount = 12\nx = { random = [1, 9] }";
    let config = python_config("train.py", ASHA, parameters, sets);
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().expect("path"), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pruned = check_pruned(&tmp.path().join("exp"), 12);
    assert!(!pruned.is_empty(), "asha stopped nothing");

    // hpo.report outside a call, and a step that is not a whole number, are errors.
    let bad = "import hpo\n\ndef objective(p):\n    return hpo.report(1.5, 0.0)\n";
    std::fs::write(tmp.path().join("bad.py"), bad).expect("write");
    let sets = "[[sets]]\ncount = 1\nx = { random = [1, 9] }";
    let config = python_config("bad.py", "", parameters, sets).replace("\"exp\"", "\"bad\"");
    let path = write_config(tmp.path(), "bad.toml", &config);
    run(&["run", path.to_str().expect("path"), "-q"]);
    let rows = rows(&tmp.path().join("bad/results.csv"));
    assert!(
        rows[0]["error"].contains("step must be a whole number"),
        "{:?}",
        rows[0]
    );
}
