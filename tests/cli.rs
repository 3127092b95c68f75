//! The real `hpo` binary end to end, on the local process pool.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn quickstart_runs_to_a_full_results_table() {
    let tmp = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quickstart.toml"
    ))
    .unwrap();
    let src = src
        .replace("../runs/quickstart", "exp")
        .replace("delay_s = [0.01, 0.05]", "delay_s = 0.001");
    let config = write_config(tmp.path(), "quickstart.toml", &src);
    let out = hpo()
        .args(["run", config.to_str().unwrap(), "--processes", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 30);
    for r in &rows {
        assert_eq!(r["status"], "ok");
        let x: f64 = r["x"].parse().unwrap();
        assert!((-5.0..=5.0).contains(&x));
        let index: usize = r["index"].parse().unwrap();
        assert_eq!(r["bayesian"], (index >= 20).to_string());
        if index < 20 {
            assert!(
                ["1.2", "3.4", "5.4", "6.3"].contains(&r["y"].as_str()),
                "{}",
                r["y"]
            );
        }
        assert!(["1", "2"].contains(&r["worker"].as_str()));
    }
    let table = std::fs::read_to_string(tmp.path().join("exp/parameters.csv")).unwrap();
    assert_eq!(table.lines().count(), 31);
    assert!(table.lines().nth(25).unwrap().contains("<bayesian>"));

    let status = run(&["status", tmp.path().join("exp").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("30 of 30 sets done"), "{text}");
    assert!(text.contains("best (minimize):"), "{text}");

    // Resuming a finished experiment with another pool runs nothing and changes nothing.
    let again = hpo()
        .args([
            "run",
            tmp.path().join("exp").to_str().unwrap(),
            "-p",
            "4",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        rows.len(),
        common::rows(&tmp.path().join("exp/results.csv")).len()
    );
}

#[test]
fn same_seed_gives_the_same_table_and_results() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write_config(tmp.path(), "a.toml", &sphere_config("a", 40, ""));
    // Worker folders: off by default for a builtin (it writes nothing), on when asked.
    let b = write_config(
        tmp.path(),
        "b.toml",
        &(sphere_config("b", 40, "") + "[compute]\nprovide_worker_path = true\n"),
    );
    assert!(
        run(&["run", a.to_str().unwrap(), "-p", "1", "-q"])
            .status
            .success()
    );
    assert!(
        run(&["run", b.to_str().unwrap(), "-p", "3", "-q"])
            .status
            .success()
    );
    let ta = std::fs::read_to_string(tmp.path().join("a/parameters.csv")).unwrap();
    let tb = std::fs::read_to_string(tmp.path().join("b/parameters.csv")).unwrap();
    assert_eq!(ta, tb);
    let key = |rows: Vec<std::collections::HashMap<String, String>>| {
        let mut v: Vec<(String, String)> = rows
            .into_iter()
            .map(|r| (r["index"].clone(), r["result"].clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        key(rows(&tmp.path().join("a/results.csv"))),
        key(rows(&tmp.path().join("b/results.csv")))
    );
    let folders = std::fs::read_dir(tmp.path().join("a/worker_out")).unwrap();
    assert_eq!(folders.count(), 0);
    assert!(tmp.path().join("b/worker_out/000039/params.json").exists());
}

#[test]
fn every_strategy_and_expr_ordering() {
    let tmp = tempfile::tempdir().unwrap();
    let config = r#"
[experiment]
dir = "exp"
seed = 11
[objective]
command = ["sh", "-c", "echo {lr} {layers} {opt} {width}; echo 1.5"]
[[parameters]]
name = "k"
type = "int"
[[parameters]]
name = "lr"
type = "expr"
expr = "10.0 ^ k"
[[parameters]]
name = "layers"
type = "int"
[[parameters]]
name = "opt"
type = "str"
[[parameters]]
name = "width"
type = "float"
[[sets]]
count = 6
k = { value = -2 }
layers = { random = [1, 4] }
opt = { choice = ["adam", "sgd"] }
width = { random = [0.001, 1.0], distribution = "log-uniform", round = 3 }
[[sets]]
count = 4
k = { bayesian = [-5, -1] }
layers = 3
opt = { bayesian_choice = ["adam", "sgd", "rmsprop"] }
width = { bayesian = [0.1, 10], log = true, round = 2 }
"#;
    let path = write_config(tmp.path(), "c.toml", config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 10);
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        let index: usize = r["index"].parse().unwrap();
        let k: i64 = r["k"].parse().unwrap();
        let lr: f64 = r["lr"].parse().unwrap();
        assert!(
            (lr - 10f64.powi(k as i32)).abs() < 1e-12,
            "lr {lr} for k {k}"
        );
        let layers: i64 = r["layers"].parse().expect("layers is an integer");
        let width: f64 = r["width"].parse().unwrap();
        if index < 6 {
            assert_eq!(k, -2);
            assert!((1..=4).contains(&layers));
            assert!(["adam", "sgd"].contains(&r["opt"].as_str()));
            assert!((0.001..=1.0).contains(&width));
            assert_eq!(r["bayesian"], "false");
        } else {
            assert!((-5..=-1).contains(&k));
            assert_eq!(layers, 3);
            assert!(["adam", "sgd", "rmsprop"].contains(&r["opt"].as_str()));
            assert!((0.1..=10.0).contains(&width));
            assert_eq!(width, (width * 100.0).round() / 100.0);
            assert_eq!(r["bayesian"], "true");
        }
        // The objective saw the same values, as single arguments.
        let out = std::fs::read_to_string(
            tmp.path()
                .join(format!("exp/worker_out/{index:06}/stdout.txt")),
        )
        .unwrap();
        assert_eq!(
            out.lines().next().unwrap(),
            format!("{} {} {} {}", r["lr"], r["layers"], r["opt"], r["width"])
        );
    }
}

#[test]
fn prevent_duplicate_draws_distinct_sets_or_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let config = |count: usize| {
        format!(
            r#"
[experiment]
dir = "exp{count}"
[objective]
builtin = "sphere"
[[parameters]]
name = "x"
type = "int"
[[sets]]
count = {count}
prevent_duplicate = true
x = {{ random = [1, 5] }}
"#
        )
    };
    let ok = write_config(tmp.path(), "ok.toml", &config(5));
    assert!(run(&["init", ok.to_str().unwrap()]).status.success());
    let table = std::fs::read_to_string(tmp.path().join("exp5/parameters.csv")).unwrap();
    let mut xs: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    xs.sort();
    assert_eq!(xs, vec!["1", "2", "3", "4", "5"]);
    let too_many = write_config(tmp.path(), "bad.toml", &config(6));
    let out = run(&["init", too_many.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("prevent_duplicate"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("exp6").exists());
}

#[test]
fn command_objective_gets_env_params_json_and_redirected_output() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("obj.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"index=$HPO_INDEX dir=$HPO_WORKER_DIR x=$HPO_PARAM_X name=$HPO_PARAM_NAME cwd=$(pwd)\"\necho oops >&2\ncat params.json > seen.json\necho 0.25\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = r#"
[experiment]
dir = "exp"
[objective]
command = "./obj.sh --x {x}"
[[parameters]]
name = "x"
type = "float"
[[parameters]]
name = "name"
type = "str"
[[sets]]
count = 3
x = { random = [0, 1], round = 2 }
name = { choice = ["a b", "$(touch pwned)"] }
"#;
    let path = write_config(tmp.path(), "c.toml", config);
    let out = run(&["run", path.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 3);
    for r in &rows {
        assert_eq!(r["status"], "ok");
        assert_eq!(r["result"], "0.25");
        let dir = tmp
            .path()
            .join(format!("exp/worker_out/{:0>6}", r["index"]));
        let stdout = std::fs::read_to_string(dir.join("stdout.txt")).unwrap();
        let canonical = std::fs::canonicalize(&dir).unwrap();
        assert!(
            stdout.contains(&format!("index={} ", r["index"])),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "x={} name={} cwd={}",
                r["x"],
                r["name"],
                canonical.display()
            )),
            "{stdout}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("stderr.txt")).unwrap(),
            "oops\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("seen.json")).unwrap()).unwrap();
        assert_eq!(json["x"].as_f64().unwrap().to_string(), r["x"]);
        assert_eq!(json["name"], r["name"].as_str());
    }
    assert!(!tmp.path().join("exp/worker_out/000000/pwned").exists());
}

#[test]
fn failures_and_timeouts_are_rows_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("grandchild.pid");
    let config = format!(
        r#"
[experiment]
dir = "exp"
[objective]
command = ["sh", "-c", "case {{mode}} in ok) echo 2.5;; exit3) echo boom >&2; exit 3;; signal) kill -9 $$;; nonumber) echo hello;; nan) echo nan;; hang) sleep 100 & echo $! > {pid}; sleep 100;; esac"]
timeout_s = 1
kill_grace_s = 0.2
[[parameters]]
name = "mode"
type = "str"
[[sets]]
count = 1
mode = "ok"
[[sets]]
count = 1
mode = "exit3"
[[sets]]
count = 1
mode = "signal"
[[sets]]
count = 1
mode = "nonumber"
[[sets]]
count = 1
mode = "nan"
[[sets]]
count = 1
mode = "hang"
"#,
        pid = pidfile.display()
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    let started = Instant::now();
    let out = run(&["run", path.to_str().unwrap(), "-p", "3", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 6);
    let by_mode = |m: &str| rows.iter().find(|r| r["mode"] == m).unwrap().clone();
    assert_eq!(by_mode("ok")["status"], "ok");
    let exit3 = by_mode("exit3");
    assert_eq!(
        (exit3["status"].as_str(), exit3["exit_code"].as_str()),
        ("failed", "3")
    );
    assert!(exit3["error"].contains("boom"), "{}", exit3["error"]);
    assert!(by_mode("signal")["error"].contains("signal 9"));
    assert!(by_mode("nonumber")["error"].contains("no line that is a number"));
    assert!(by_mode("nan")["error"].contains("NaN"));
    assert_eq!(by_mode("hang")["status"], "timeout");
    // The background grandchild went down with its process group.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until(
        Duration::from_secs(5),
        &format!("grandchild {pid} survived the timeout"),
        || !alive(pid),
    );
}

#[test]
fn retries_rerun_failed_sets() {
    let tmp = tempfile::tempdir().unwrap();
    let counter = tmp.path().join("count");
    let config = format!(
        r#"
[experiment]
dir = "exp"
[objective]
command = ["sh", "-c", "echo x >> {c}; n=$(wc -l < {c}); if [ $n -lt 3 ]; then exit 1; fi; echo 1"]
retries = 2
[[parameters]]
name = "x"
type = "int"
[[sets]]
x = 1
"#,
        c = counter.display()
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    assert!(run(&["run", path.to_str().unwrap(), "-q"]).status.success());
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["status"].as_str(), rows[0]["attempts"].as_str()),
        ("ok", "3")
    );
}

#[test]
fn kill_9_of_the_master_loses_nothing_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(
        tmp.path(),
        "c.toml",
        &sphere_config("exp", 400, "delay_s = 0.01"),
    );
    let mut child = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .spawn()
        .unwrap();
    let results = tmp.path().join("exp/results.csv");
    wait_for_rows(&results, 49, Duration::from_secs(30));
    let master = child.id() as i32;
    let workers = children_of(master);
    assert_eq!(workers.len(), 2, "two worker processes");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(master),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    // The workers follow their master within seconds.
    wait_until(
        Duration::from_secs(5),
        "workers outlived the master",
        || !workers.iter().any(|w| alive(*w)),
    );
    let before = rows(&results);
    assert!(before.len() < 400);
    let out = run(&[
        "run",
        tmp.path().join("exp").to_str().unwrap(),
        "-p",
        "3",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = rows(&results);
    assert_each_index_once(&after, 400);
    // Every row written before the kill is still there, unchanged.
    for r in &before {
        assert!(after.contains(r), "row {r:?} lost or changed");
    }
}

#[test]
fn a_second_run_on_a_locked_folder_is_refused_with_the_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(
        tmp.path(),
        "c.toml",
        &sphere_config("exp", 200, "delay_s = 0.02"),
    );
    let mut first = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "1", "-q"])
        .spawn()
        .unwrap();
    let results = tmp.path().join("exp/results.csv");
    wait_until(
        Duration::from_secs(30),
        "the first run wrote nothing",
        || results.exists(),
    );
    let second = run(&["run", tmp.path().join("exp").to_str().unwrap(), "-q"]);
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains(&format!("pid {}", first.id())),
        "{}",
        stderr(&second)
    );
}

#[test]
fn a_changed_definition_is_refused_and_compute_may_change() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), "c.toml", &sphere_config("exp", 5, ""));
    assert!(run(&["init", path.to_str().unwrap()]).status.success());
    let changed = write_config(
        tmp.path(),
        "c.toml",
        &sphere_config("exp", 5, "").replace("builtin = \"sphere\"", "builtin = \"ackley\""),
    );
    let out = run(&["run", changed.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds another experiment")
            && stderr(&out).contains("`objective.builtin` was \"sphere\", is \"ackley\""),
        "{}",
        stderr(&out)
    );
    let more_workers = write_config(
        tmp.path(),
        "c.toml",
        &(sphere_config("exp", 5, "") + "[compute]\nprocesses = 3\n"),
    );
    let out = run(&["run", more_workers.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_index_once(&rows(&tmp.path().join("exp/results.csv")), 5);
}

#[test]
fn bad_input_exits_2_names_the_key_and_creates_nothing() {
    let base = sphere_config("exp", 3, "");
    let cases: Vec<(String, &str)> = vec![
        (base.replace("seed = 7", "seed = 7\ncolour = 1"), "colour"),
        (base.replace("y = {", "z = 1\ny = {"), "sets[0].z"),
        (base.replace("y = { random = [-5, 5], round = 4 }", ""), "sets[0].y"),
        (base.replace("x = { random = [-5, 5]", "x = { random = [5, -5]"), "reversed"),
        (base.replace("x = { random = [-5, 5]", "x = { random = [-5, inf]"), "finite"),
        (base.replace("x = { random = [-5, 5], round = 4 }", "x = { choice = [] }"), "empty"),
        (base.replace("builtin = \"sphere\"", "builtin = \"nope\""), "objective.builtin"),
        (base.replace("builtin = \"sphere\"", "command = [\"no-such-program-xyz\"]"), "not found"),
        (base.replace("builtin = \"sphere\"", "builtin = \"hartmann6\""), "hartmann6 takes exactly 6"),
        (
            base.replace("[[parameters]]\nname = \"x\"", "[[parameters]]\nname = \"w\"\ntype = \"expr\"\nexpr = \"x + 1\"\n[[parameters]]\nname = \"x\""),
            "parameters[0].expr",
        ),
    ];
    for (config, needle) in cases {
        let err = assert_refused(&config, needle);
        assert!(err.contains("c.toml"), "the file is named: {err}");
    }
}

#[test]
fn a_rust_function_objective_through_the_library() {
    let Some(example) = example("custom_objective") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = sphere_config("exp", 12, "").replace("builtin = \"sphere\"", "custom = true");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = std::process::Command::new(&example)
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 12);
    for r in rows {
        let (x, y): (f64, f64) = (r["x"].parse().unwrap(), r["y"].parse().unwrap());
        let result: f64 = r["result"].parse().unwrap();
        assert!((result - ((x - 1.0).powi(2) + y.abs())).abs() < 1e-9);
    }
    // The plain binary refuses the custom objective clearly.
    let out = run(&["run", tmp.path().join("exp").to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Rust function"), "{}", stderr(&out));
}

#[test]
fn objectives_die_with_a_killed_master() {
    let tmp = tempfile::tempdir().unwrap();
    let config = command_config("exp", "echo $$ > pid; sleep 100 & wait", 2, "");
    let path = write_config(tmp.path(), "c.toml", &config);
    let mut child = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .spawn()
        .unwrap();
    let pidfiles = [
        tmp.path().join("exp/worker_out/000000/pid"),
        tmp.path().join("exp/worker_out/000001/pid"),
    ];
    wait_until(Duration::from_secs(20), "objectives did not start", || {
        pidfiles
            .iter()
            .all(|p| std::fs::read_to_string(p).is_ok_and(|s| s.ends_with('\n')))
    });
    let pids: Vec<i32> = pidfiles
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().trim().parse().unwrap())
        .collect();
    // Their background children (the `sleep`) belong to the same process groups.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    wait_until(
        Duration::from_secs(5),
        "objective processes outlived the master",
        || {
            !pids.iter().any(|&pg| {
                nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pg), None).is_ok()
                    && group_has_live_member(pg)
            })
        },
    );
}

#[test]
fn bayesian_wait_for_all_holds_a_bayesian_set_until_earlier_sets_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let config = r#"
[experiment]
dir = "exp"
seed = 2
[objective]
builtin = "sphere"
delay_s = [0.02, 0.12]
[[parameters]]
name = "x"
type = "float"
[[sets]]
count = 6
x = { random = [-1, 1] }
[[sets]]
count = 3
x = { bayesian = [-1, 1] }
[[sets]]
count = 3
x = { random = [-1, 1] }
[compute]
bayesian_wait_for_all = true
"#;
    let path = write_config(tmp.path(), "c.toml", config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "3", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 12);
    let time = |s: &str| humantime::parse_rfc3339(s).unwrap();
    for b in rows.iter().filter(|r| r["bayesian"] == "true") {
        let i: usize = b["index"].parse().unwrap();
        for earlier in rows
            .iter()
            .filter(|r| r["index"].parse::<usize>().unwrap() < i)
        {
            assert!(
                time(&earlier["ended"]) <= time(&b["started"]),
                "set {i} started before set {} ended",
                earlier["index"]
            );
        }
    }
}

#[test]
fn idle_workers_get_bayesian_sets_at_once_and_propose_distinct_points() {
    let tmp = tempfile::tempdir().unwrap();
    let config = pool_config("exp", 8, 24, 0.3, "together");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "8", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 32);
    assert_concurrent_distinct_proposals(&rows);
}

#[test]
fn in_turn_each_bayesian_set_waits_for_the_proposals_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = pool_config("exp", 4, 12, 0.2, "in_turn");
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "4", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&rows, 16);
    assert_proposed_in_turn(&rows);
}

#[test]
fn the_readme_configuration_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(
        blocks.len() >= 2,
        "the README shows the schema and the optional tables"
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notify.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(
        tmp.path().join("train.py"),
        "def objective(p):\n    return 0.0\n",
    )
    .unwrap();
    std::fs::set_permissions(
        tmp.path().join("notify.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // The optional tables merged into the schema's document, key by key.
    let mut full: toml::Table = blocks[0].parse().unwrap();
    for (key, value) in blocks[1].parse::<toml::Table>().unwrap() {
        match (full.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(extra)) => base.extend(extra),
            (_, value) => {
                full.insert(key, value);
            }
        }
    }
    let full = full.to_string();
    for (name, text) in [
        ("schema", blocks[0].to_string()),
        ("with optional tables", full),
    ] {
        let path = write_config(tmp.path(), "readme.toml", &text);
        let out = run(&[
            "init",
            path.to_str().unwrap(),
            "--dir",
            tmp.path()
                .join(format!("exp-{}", name.len()))
                .to_str()
                .unwrap(),
        ]);
        assert!(out.status.success(), "{name}: {}\n{text}", stderr(&out));
    }
}

#[test]
fn a_script_named_beside_the_config_is_flagged_and_config_dir_reaches_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("obj.sh"), "echo 0.5\n").unwrap();
    let config = |script: &str| {
        format!(
            "[experiment]\ndir = \"exp\"\n[objective]\ncommand = [\"sh\", \"{script}\", \"-v\", \"{{x}}\"]\n[[parameters]]\nname = \"x\"\ntype = \"int\"\n[[sets]]\ncount = 2\nx = {{ random = [1, 9] }}\n"
        )
    };
    // A bare `obj.sh` is looked up in each worker folder: warned about up front, then failed
    // rows (and exit code 1: no set is ok).
    let path = write_config(tmp.path(), "bare.toml", &config("obj.sh"));
    let out = run(&["run", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`obj.sh` names a file beside the configuration")
            && stderr(&out).contains("{config_dir}/obj.sh"),
        "{}",
        stderr(&out)
    );
    let failed = rows(&tmp.path().join("exp/results.csv"));
    assert!(failed.iter().all(|r| r["status"] == "failed"), "{failed:?}");
    // `{config_dir}/obj.sh` reaches it, with no warning.
    std::fs::remove_dir_all(tmp.path().join("exp")).unwrap();
    let path = write_config(tmp.path(), "fixed.toml", &config("{config_dir}/obj.sh"));
    let out = run(&["run", path.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let ok = rows(&tmp.path().join("exp/results.csv"));
    assert_each_index_once(&ok, 2);
    assert!(ok.iter().all(|r| r["result"] == "0.5"), "{ok:?}");
}

#[test]
fn every_check_comes_before_any_work() {
    let base = sphere_config("exp", 3, "");
    let cases: Vec<(String, &[&str], &str)> = vec![
        (base.clone(), &["-p", "0"], "--processes"),
        (base.clone(), &["-p", "5000"], "--processes"),
        (
            base.clone() + "[monitor]\non_result = [\"./no-such-hook.sh\"]\n",
            &[],
            "monitor.on_result",
        ),
        (
            base.clone() + "[monitor]\nplots = [\"pie\"]\n",
            &[],
            "monitor.plots",
        ),
        (
            base.replace(
                "builtin = \"sphere\"",
                "command = [\"./no-such-objective.sh\"]",
            ),
            &[],
            "not found",
        ),
    ];
    for (config, extra, needle) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_config(tmp.path(), "c.toml", &config);
        let mut args = vec!["run", path.to_str().unwrap(), "-q"];
        args.extend(extra);
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        assert!(
            !tmp.path().join("exp").exists(),
            "{args:?}: nothing is created"
        );
    }
}
