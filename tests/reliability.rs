//! Faults and hostile input: crashes of the master and workers with real signals, damaged
//! tables, malformed configurations, values that try to become commands.

mod common;

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::{Duration, Instant};

/// Random sets and a Bayesian block, so kills land before the first result, mid-run, while
/// writing and during suggestions.
fn chaos_config() -> String {
    r#"
[experiment]
dir = "exp"
seed = 5
[objective]
builtin = "rosenbrock"
delay_s = [0.0, 0.02]
[[parameters]]
name = "x"
type = "float"
[[parameters]]
name = "y"
type = "float"
[[sets]]
count = 400
x = { random = [-2, 2], round = 3 }
y = { random = [-2, 2], round = 3 }
[[sets]]
count = 12
x = { bayesian = [-2, 2], round = 3 }
y = { bayesian = [-2, 2], round = 3 }
[compute]
provide_worker_path = false
redirect_stdout = false
"#
    .to_string()
}

#[test]
fn chaos_kill_9_of_the_master_twenty_times_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "c.toml", &chaos_config());
    let results = tmp.path().join("exp/results.csv");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut kills = 0;
    for round in 0..20 {
        let mut child = hpo()
            .args(["run", config.to_str().unwrap(), "-p", "2", "-q"])
            .spawn()
            .unwrap();
        let pause = Duration::from_millis(rng.random_range(0..250));
        std::thread::sleep(pause);
        let workers = children_of(child.id() as i32);
        if kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).is_ok() {
            kills += 1;
        }
        let status = child.wait().unwrap();
        wait_until(
            Duration::from_secs(5),
            &format!("round {round}: workers outlived their master"),
            || !workers.iter().any(|w| alive(*w)),
        );
        // Every row on disk is whole except perhaps a torn last line, and no index repeats.
        if let Ok(text) = std::fs::read_to_string(&results) {
            let mut seen = std::collections::HashSet::new();
            let lines: Vec<&str> = text.lines().skip(1).collect();
            for (i, line) in lines.iter().enumerate() {
                let torn_last = i + 1 == lines.len() && !text.ends_with('\n');
                if !torn_last {
                    assert!(
                        seen.insert(line.split(',').next().unwrap().to_string()),
                        "round {round}: duplicate row {line}"
                    );
                }
            }
        }
        if status.success() {
            break;
        }
    }
    assert!(kills >= 10, "only {kills} kills landed");
    let out = run(&[
        "run",
        tmp.path().join("exp").to_str().unwrap(),
        "-p",
        "2",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_index_once(&rows(&results), 412);
}

#[test]
fn killed_workers_are_failed_rows_or_retried_and_resume_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        "c.toml",
        &sphere_config("exp", 200, "delay_s = 0.01\nretries = 1"),
    );
    let results = tmp.path().join("exp/results.csv");
    let mut child = hpo()
        .args(["run", config.to_str().unwrap(), "-p", "3", "-q"])
        .spawn()
        .unwrap();
    wait_for_rows(&results, 20, Duration::from_secs(30));
    let workers = children_of(child.id() as i32);
    assert_eq!(workers.len(), 3);
    kill(Pid::from_raw(workers[0]), Signal::SIGKILL).unwrap();
    wait_for_rows(&results, 60, Duration::from_secs(30));
    kill(Pid::from_raw(workers[1]), Signal::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the run goes on with the workers left");
    let rows = rows(&results);
    assert_each_index_once(&rows, 200);
    // The sets the dead workers were running were retried elsewhere (retries = 1).
    assert!(
        rows.iter().all(|r| r["status"] == "ok"),
        "retried sets succeed"
    );
    assert!(
        rows.iter().any(|r| r["attempts"] == "2"),
        "a set was retried after its worker died"
    );

    // Every worker killed: the run stops, and a resume finishes the rest.
    let config = write_config(
        tmp.path(),
        "d.toml",
        &sphere_config("exp2", 300, "delay_s = 0.01"),
    );
    let results = tmp.path().join("exp2/results.csv");
    let mut child = hpo()
        .args(["run", config.to_str().unwrap(), "-p", "2", "-q"])
        .spawn()
        .unwrap();
    wait_for_rows(&results, 20, Duration::from_secs(30));
    for w in children_of(child.id() as i32) {
        let _ = kill(Pid::from_raw(w), Signal::SIGKILL);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "no workers left");
    let out = run(&[
        "run",
        tmp.path().join("exp2").to_str().unwrap(),
        "-p",
        "2",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = common::rows(&results);
    assert_each_index_once(&rows, 300);
    assert!(
        rows.iter().any(|r| r["error"].contains("worker died")),
        "the interrupted sets are failed rows"
    );
}

/// Proposed in turn, each Bayesian set waits for the proposals before it: a worker killed
/// while it proposes holds a set no one has values for, and must not hold up the others.
#[test]
fn a_worker_killed_while_proposing_in_turn_holds_no_one_up() {
    let tmp = tempfile::tempdir().unwrap();
    // Short evaluations after 40 random sets: a Bayesian set's time is mostly its proposal,
    // and in turn one worker proposes while the others wait for it.
    let config = pool_config("exp", 40, 30, 0.02, "in_turn");
    let config = write_config(tmp.path(), "c.toml", &config);
    let results = tmp.path().join("exp/results.csv");
    let mut child = hpo()
        .args(["run", config.to_str().unwrap(), "-p", "3", "-q"])
        .spawn()
        .unwrap();
    wait_for_rows(&results, 44, Duration::from_secs(60));
    let workers = children_of(child.id() as i32);
    assert_eq!(workers.len(), 3);
    // The proposing worker is the one on a CPU (the others sleep in their evaluations or
    // wait for a set).
    let running = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(") ").next().map(|t| t.starts_with('R')))
            .unwrap_or(false)
    };
    let mut killed = None;
    let looking = Instant::now();
    while killed.is_none() && looking.elapsed() < Duration::from_secs(10) {
        killed = workers.iter().copied().find(|&w| running(w));
    }
    let killed = killed.expect("no worker was seen proposing");
    kill(Pid::from_raw(killed), Signal::SIGKILL).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the run did not finish after a worker was killed: held up");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the run goes on with the workers left");
    let rows = rows(&results);
    assert_each_index_once(&rows, 70);
    distinct_bayesian_rows(&rows);
}

#[test]
fn a_killed_workers_objective_leaves_no_process_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        "c.toml",
        &command_config("exp", BACKGROUND_CHILD, 1, ""),
    );
    let mut child = hpo()
        .args(["run", config.to_str().unwrap(), "-p", "1", "-q"])
        .spawn()
        .unwrap();
    let (worker, group, background) =
        background_child_pids(&tmp.path().join("exp/worker_out/000000"));
    assert!(alive(background) && group_has_live_member(group));
    kill(Pid::from_raw(worker), Signal::SIGKILL).unwrap();
    // The objective's process dies with its worker (parent-death signal), and its background
    // child, reparented to init, with the group (the worker's watcher).
    wait_until(
        Duration::from_secs(10),
        "the objective's background child outlived its killed worker",
        || !group_has_live_member(group),
    );
    assert_eq!(child.wait().unwrap().code(), Some(1), "its only set failed");
    let rows = rows(&tmp.path().join("exp/results.csv"));
    assert!(rows[0]["error"].contains("worker died"), "{rows:?}");
}

#[test]
fn ctrl_c_stops_dispatching_finishes_running_sets_and_releases_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(
        tmp.path(),
        "c.toml",
        &sphere_config("exp", 500, "delay_s = 0.05"),
    );
    let results = tmp.path().join("exp/results.csv");
    let child = hpo()
        .args(["run", config.to_str().unwrap(), "-p", "2", "-q"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_rows(&results, 5, Duration::from_secs(30));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    let done = rows(&results).len();
    assert!(done < 500);
    // The lock is free: a resume starts at once and completes.
    let out = run(&[
        "run",
        tmp.path().join("exp").to_str().unwrap(),
        "-p",
        "4",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_index_once(&rows(&results), 500);
}

#[test]
fn damaged_results_are_repaired_or_refused_never_silently_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "c.toml", &sphere_config("exp", 10, ""));
    assert!(
        run(&["run", config.to_str().unwrap(), "-q"])
            .status
            .success()
    );
    let results = tmp.path().join("exp/results.csv");
    let original = std::fs::read_to_string(&results).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let exp = tmp.path().join("exp");
    let exp = exp.to_str().unwrap();

    // A torn last line: cut off, its set re-run.
    let torn = format!(
        "{}\n{}",
        lines[..10].join("\n"),
        &lines[10][..lines[10].len() / 2]
    );
    std::fs::write(&results, &torn).unwrap();
    let out = run(&["run", exp, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("torn"), "{}", stderr(&out));
    assert_each_index_once(&rows(&results), 10);

    // A duplicated row (as an interrupted retry leaves one): the last row of the set counts,
    // the earlier one moves to history.csv, reported.
    let text = std::fs::read_to_string(&results).unwrap();
    let copied = text.lines().nth(3).unwrap().to_string();
    let dup = format!("{text}{copied}\n");
    std::fs::write(&results, &dup).unwrap();
    let out = run(&["run", exp, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than one row of 1 set(s)"),
        "{}",
        stderr(&out)
    );
    assert_each_index_once(&rows(&results), 10);
    let history = std::fs::read_to_string(tmp.path().join("exp/history.csv")).unwrap();
    assert_eq!(history.lines().nth(1), Some(copied.as_str()));
    assert_eq!(history.lines().count(), 2);
    assert!(
        std::fs::read_to_string(&results)
            .unwrap()
            .ends_with(&format!("{copied}\n"))
    );

    // A row for an unknown index, and a row that is not a row: refused, file untouched.
    for bad in [
        lines[1].replacen(lines[1].split(',').next().unwrap(), "99", 1),
        "garbage,without,enough,fields".to_string(),
    ] {
        let text = format!("{}\n{bad}\n", lines.join("\n"));
        std::fs::write(&results, &text).unwrap();
        let out = run(&["run", exp, "-q"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("line 12"), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(&results).unwrap(),
            text,
            "a refused file is not changed"
        );
    }
}

#[test]
fn values_never_reach_a_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("pwned");
    let m = marker.display();
    let hostile = [
        format!("; touch {m}"),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("a\nb; touch {m}"),
        format!("'\"; touch {m}; echo \""),
        "x".repeat(100_000),
    ];
    let blocks: String = hostile
        .iter()
        .map(|v| format!("[[sets]]\nv = {}\n", toml::Value::String(v.clone())))
        .collect();
    let out_file = tmp.path().join("seen");
    for (name, command) in [
        (
            "argv",
            format!(r#"["sh", "{}/record.sh", "{{v}}"]"#, tmp.path().display()),
        ),
        (
            "shell",
            format!(
                r#"["sh", "-c", "printf '%s' {{v}} > {}/shell-$HPO_INDEX; echo 1"]"#,
                tmp.path().display()
            ),
        ),
    ] {
        std::fs::write(
            tmp.path().join("record.sh"),
            format!("printf '%s' \"$1\" > {}-$HPO_INDEX\nprintf '%s' \"$HPO_PARAM_V\" > {}-env-$HPO_INDEX\necho 1\n", out_file.display(), out_file.display()),
        )
        .unwrap();
        let config = format!(
            "[experiment]\ndir = \"exp-{name}\"\n[objective]\ncommand = {command}\n[[parameters]]\nname = \"v\"\ntype = \"str\"\n{blocks}"
        );
        let path = write_config(tmp.path(), "c.toml", &config);
        let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = rows(&tmp.path().join(format!("exp-{name}/results.csv")));
        for r in &rows {
            assert_eq!(r["status"], "ok", "{name}: {r:?}");
            let i = &r["index"];
            if name == "argv" {
                assert_eq!(
                    &std::fs::read_to_string(format!("{}-{i}", out_file.display())).unwrap(),
                    &r["v"]
                );
                assert_eq!(
                    &std::fs::read_to_string(format!("{}-env-{i}", out_file.display())).unwrap(),
                    &r["v"]
                );
            } else {
                assert_eq!(
                    &std::fs::read_to_string(tmp.path().join(format!("shell-{i}"))).unwrap(),
                    &r["v"]
                );
            }
        }
    }
    assert!(!marker.exists(), "a parameter value ran as a command");
}

#[test]
fn objective_faults_each_give_a_row() {
    let tmp = tempfile::tempdir().unwrap();
    let config = r#"
[experiment]
dir = "exp"
[objective]
command = ["sh", "-c", "case {mode} in flood) head -c 50000000 /dev/zero | tr '\\0' 'a'; echo; echo 3;; stdin) cat; echo 4;; inf) echo inf;; tty) echo hi > /dev/tty; echo 5;; esac"]
timeout_s = 20
[[parameters]]
name = "mode"
type = "str"
[[sets]]
count = 1
mode = "flood"
[[sets]]
count = 1
mode = "stdin"
[[sets]]
count = 1
mode = "inf"
[[sets]]
count = 1
mode = "tty"
[compute]
redirect_stdout = false
"#;
    let path = write_config(tmp.path(), "c.toml", config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&tmp.path().join("exp/results.csv"));
    let by = |m: &str| rows.iter().find(|r| r["mode"] == m).unwrap().clone();
    assert_eq!(
        (
            by("flood")["status"].as_str(),
            by("flood")["result"].as_str()
        ),
        ("ok", "3")
    );
    assert_eq!(
        (
            by("stdin")["status"].as_str(),
            by("stdin")["result"].as_str()
        ),
        ("ok", "4"),
        "stdin is closed, not inherited"
    );
    assert_eq!(by("inf")["status"], "failed");
    assert!(by("inf")["error"].contains("inf"));
    // No controlling terminal: the write fails but the objective goes on.
    assert_eq!(by("tty")["status"], "ok");
}

#[test]
fn malformed_configs_exit_2_name_the_key_and_create_nothing() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/configs/bad"));
    let mut cases: Vec<(String, Vec<u8>, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let text = std::fs::read(&p).unwrap();
            let first = String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            let expect = first
                .strip_prefix("# expect: ")
                .expect("first line says what is expected")
                .to_string();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                text,
                expect,
            )
        })
        .collect();
    assert!(cases.len() >= 30);
    let mut huge = b"[experiment]\ndir = \"exp\"\n# ".to_vec();
    huge.resize(10 << 20, b'x');
    cases.push(("10 MB".into(), huge, "bytes".into()));
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    cases.push(("binary garbage".into(), garbage, "UTF-8".into()));
    for (name, text, expect) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.toml");
        std::fs::write(&path, &text).unwrap();
        for cmd in ["init", "run"] {
            let out =
                run(&[cmd, path.to_str().unwrap(), "-q"][..if cmd == "init" { 2 } else { 3 }]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name}: {err}");
            assert!(
                err.contains(&expect),
                "{name}: expected `{expect}` in: {err}"
            );
            assert!(err.contains("c.toml"), "{name}: the file is named: {err}");
            assert!(
                err.trim().lines().count() <= 3,
                "{name}: one short paragraph: {err}"
            );
            let left: Vec<_> = std::fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(
                left,
                vec![std::ffi::OsString::from("c.toml")],
                "{name}: nothing is created"
            );
        }
    }
}

#[test]
fn folders_follow_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "c.toml", &sphere_config("exp", 2, ""));
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "umask 077 && exec {} run {} -q",
                env!("CARGO_BIN_EXE_hpo"),
                config.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    use std::os::unix::fs::PermissionsExt;
    for p in [
        "exp",
        "exp/results.csv",
        "exp/parameters.csv",
        "exp/worker_out",
    ] {
        let mode = std::fs::metadata(tmp.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & 0o077, 0, "{p} has mode {mode:o} under umask 077");
    }
}

#[test]
fn a_full_disk_stops_the_run_with_a_clear_error_and_damages_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=256k",
            "tmpfs",
            mnt.to_str().unwrap(),
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("SKIP a_full_disk: cannot mount a small tmpfs here (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    // Failed rows carry 400 characters of stderr each: the small disk fills after a few hundred.
    let config = format!(
        "[experiment]\ndir = \"{}/exp\"\n[objective]\ncommand = [\"sh\", \"-c\", \"printf 'y%.0s' $(seq 500) >&2; exit 1\"]\n[[parameters]]\nname = \"k\"\ntype = \"int\"\n[[sets]]\ncount = 3000\nk = {{ random = [1, 1000] }}\n[compute]\nprovide_worker_path = false\nredirect_stdout = false\nmax_consecutive_failures = 0\n",
        mnt.display()
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "2", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    // What was written reads back (a torn last line at most), and reading it repairs nothing else.
    let text = std::fs::read(mnt.join("exp/results.csv")).unwrap();
    let whole = &text[..text.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1)];
    let mut r = csv::Reader::from_reader(whole);
    let n = r
        .records()
        .filter(|rec| {
            rec.as_ref()
                .map(|_| true)
                .expect("every written row parses")
        })
        .count();
    assert!(n > 100 && n < 3000, "{n} rows");
}

#[test]
fn a_second_ctrl_c_aborts_running_evaluations_which_run_again_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let config = command_config(
        "exp",
        "touch started-$HPO_INDEX; if [ -e ../../fast ]; then echo 1; else sleep 60; echo 1; fi",
        2,
        "",
    );
    let path = write_config(tmp.path(), "c.toml", &config);
    let started = Instant::now();
    let mut child = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "2", "-q"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let marks = [
        tmp.path().join("exp/worker_out/000000/started-0"),
        tmp.path().join("exp/worker_out/000001/started-1"),
    ];
    wait_until(Duration::from_secs(20), "objectives did not start", || {
        marks.iter().all(|m| m.exists())
    });
    let pid = Pid::from_raw(child.id() as i32);
    let mut lines = StderrLines::of(&mut child);
    kill(pid, Signal::SIGINT).unwrap();
    // The second Ctrl-C once the first is handled (two pending signals would be one).
    lines.wait_for("stopping: no new sets", Duration::from_secs(20));
    kill(pid, Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    let err = lines.all();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the abort did not end the sleeping objectives"
    );
    assert!(err.contains("aborting"), "{err}");
    assert!(
        rows(&tmp.path().join("exp/results.csv")).is_empty(),
        "aborted evaluations are not results"
    );
    std::fs::write(tmp.path().join("exp/fast"), "").unwrap();
    let out = run(&["run", tmp.path().join("exp").to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_index_once(&rows(&tmp.path().join("exp/results.csv")), 2);
}
