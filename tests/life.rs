//! An experiment's whole life on the local pool, end to end: failing loudly (exit codes, the
//! failure limit, a misspelt script), growing a finished experiment, retrying its failed sets
//! across `kill -9`, getting the best set out, and the commands that read a folder. The same
//! under `mpirun` is in `tests/mpi.rs`.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

type Row = HashMap<String, String>;

/// A command objective over `x` (int in [1, 9]): fails (exit 4, "broken" on stderr) for even
/// `x` until the file `fixed` exists beside the configuration, sleeps `$HPO_TEST_SLEEP`
/// seconds (0 when unset), and prints `x`.
const FLAKY: &str = "if [ ! -f {config_dir}/fixed ] && [ $(({x} % 2)) -eq 0 ]; then echo broken >&2; exit 4; fi; sleep ${HPO_TEST_SLEEP:-0}; echo {x}";

fn flaky(tmp: &Path, count: usize, tables: &str) -> PathBuf {
    write_config(
        tmp,
        "exp.toml",
        &command_config("exp", FLAKY, count, tables),
    )
}

fn results(tmp: &Path) -> Vec<Row> {
    rows(&tmp.join("exp/results.csv"))
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_misspelt_script_fails_a_few_times_exits_1_and_names_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let config = r#"
[experiment]
dir = "exp"
[objective]
command = ["sh", "{config_dir}/trian.sh", "--lr", "{lr}"]
[[parameters]]
name = "lr"
type = "float"
[[sets]]
count = 200
lr = { random = [0.001, 0.1], distribution = "log-uniform", round = 4 }
"#;
    let path = write_config(tmp.path(), "c.toml", config);
    let out = run(&["run", path.to_str().unwrap(), "-p", "2"]);
    let err = stderr(&out);
    // Not a configuration error: the program (sh) exists; its argument is the evaluation's.
    assert_eq!(out.status.code(), Some(1), "{err}");
    let rows = results(tmp.path());
    assert!(
        (10..=11).contains(&rows.len()),
        "the default limit of 10 stops the run after about 10 attempts: {} rows",
        rows.len()
    );
    assert!(rows.iter().all(|r| r["status"] == "failed"));
    assert!(
        err.contains("10 evaluations in a row failed"),
        "the reason: {err}"
    );
    assert!(err.contains("trian.sh"), "the last error: {err}");
    assert!(
        err.contains("(lr=0."),
        "the failing set's parameters: {err}"
    );
    assert!(err.contains("--retry-failed"), "what to do next: {err}");
    // `hpo status` names the last error too.
    let status = run(&["status", path.to_str().unwrap()]);
    let said = stdout(&status);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        said.contains("last failure: set") && said.contains("trian.sh"),
        "{said}"
    );
}

#[test]
fn exit_codes_say_how_a_run_ended() {
    let tmp = tempfile::tempdir().unwrap();
    // Every set fails, no limit: the run finishes, with no ok row.
    let path = write_config(
        tmp.path(),
        "fail.toml",
        &command_config(
            "fail",
            "exit 3",
            12,
            "[compute]\nmax_consecutive_failures = 0\n",
        ),
    );
    let out = run(&["run", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no set has an `ok` row (12 failed)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rows(&tmp.path().join("fail/results.csv")).len(), 12);

    // A limit of 3: three failed rows in a row stop it; a success in between resets the count.
    let path = write_config(
        tmp.path(),
        "limit.toml",
        &command_config(
            "limit",
            "if [ $HPO_INDEX -eq 2 ]; then echo 1; else exit 3; fi",
            20,
            "[compute]\nmax_consecutive_failures = 3\n",
        ),
    );
    let out = run(&["run", path.to_str().unwrap(), "-q", "-p", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("3 evaluations in a row failed"));
    let done: Vec<String> = rows(&tmp.path().join("limit/results.csv"))
        .iter()
        .map(|r| r["index"].clone())
        .collect();
    // The worker may have started one queued set before the stop reached it.
    assert_eq!(done[..6], ["0", "1", "2", "3", "4", "5"]);
    assert!(done.len() <= 7, "{done:?}");

    // Some ok rows: 0. Bad input: 2.
    let path = flaky(tmp.path(), 6, "");
    let out = run(&["run", path.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&["run", "no-such.toml"]);
    assert_eq!(out.status.code(), Some(2));

    // A walltime too short for anything says what it means and why nothing started.
    let path = write_config(
        tmp.path(),
        "short.toml",
        &command_config("short", "echo 1", 3, ""),
    );
    let out = hpo()
        .args(["run", path.to_str().unwrap(), "-q", "--walltime", "3s"])
        .env_remove("SLURM_JOB_ID")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains("--walltime 3s: no set could start")
            && err.contains("the time this run may take")
            && err.contains("margin of 5 s plus the longest evaluation seen (none yet)")
            && err.contains("3s is shorter than that"),
        "{err}"
    );
}

#[test]
fn a_finished_experiment_says_so_in_one_line_and_best_prints_its_set() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_config(tmp.path(), "c.toml", &sphere_config("exp", 12, ""));
    let c = path.to_str().unwrap();
    let out = run(&["run", c]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let end = err
        .lines()
        .find(|l| l.contains("12 of 12 sets done"))
        .unwrap_or_else(|| panic!("no end line: {err}"));
    assert!(end.contains("; best ") && end.contains(": x="), "{end}");
    assert!(end.contains("this run: 12 in"), "{end}");

    let again = run(&["run", c]);
    let err = stderr(&again);
    assert!(again.status.success(), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("the experiment is finished: 12 of 12 sets done (0 failed); best "),
        "{err}"
    );
    assert!(!err.contains("this run"), "{err}");

    // best: the best ok row, in three forms, from the folder or the configuration.
    let by_result = |r: &Row| r["result"].parse::<f64>().unwrap();
    let rows = results(tmp.path());
    let best = rows
        .iter()
        .min_by(|a, b| by_result(a).total_cmp(&by_result(b)))
        .unwrap();
    let json = stdout(&run(&["best", c]));
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(parsed["index"].to_string(), best["index"]);
    assert_eq!(parsed["result"].as_f64(), Some(by_result(best)));
    assert_eq!(
        parsed["params"]["x"].as_f64(),
        best["x"].parse::<f64>().ok()
    );
    assert!(json.starts_with("{\"index\": "), "{json}");
    let dir = tmp.path().join("exp");
    let args = stdout(&run(&["best", dir.to_str().unwrap(), "--format", "args"]));
    assert_eq!(args.trim(), format!("--x {} --y {}", best["x"], best["y"]));
    let block = stdout(&run(&["best", c, "--format", "toml"]));
    assert!(block.contains("[[sets]]\nx = { value = "), "{block}");
    // The block, pasted into the configuration, grows the experiment by that set.
    std::fs::write(&path, format!("{}{block}", text(&path))).unwrap();
    let out = run(&["run", c, "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = results(tmp.path());
    assert_eq!(rows.len(), 13);
    assert_eq!(
        (rows[12]["x"].as_str(), rows[12]["result"].as_str()),
        (best["x"].as_str(), best["result"].as_str())
    );
}

#[test]
fn growing_keeps_every_drawn_set_and_row_and_refusals_name_each_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = flaky(tmp.path(), 10, "");
    let c = path.to_str().unwrap();
    assert!(run(&["run", c, "-q"]).status.code() == Some(0));
    let table = tmp.path().join("exp/parameters.csv");
    let (table_before, rows_before) = (text(&table), results(tmp.path()));
    let stored = tmp.path().join("exp/experiment.toml");

    // Refused: each key that differs is named, with the way to start over; nothing changes.
    let refused = text(&path)
        .replace("seed = 3", "seed = 4")
        .replace("random = [1, 9]", "random = [1, 8]")
        .replace("count = 10", "count = 9");
    std::fs::write(&path, &refused).unwrap();
    let out = run(&["run", c, "-q"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for key in [
        "`experiment.seed` was 3, is 4",
        "`sets[0].x.random` was [1.0,9.0], is [1.0,8.0]",
        "`sets[0].count` was 10, is 9",
        "delete",
    ] {
        assert!(err.contains(key), "expected {key} in: {err}");
    }
    assert_eq!(text(&table), table_before);
    assert_ne!(text(&stored), refused);

    // Grown: a count raised, a Bayesian block appended, a timeout and [compute] changed.
    let grown = command_config(
        "exp",
        FLAKY,
        14,
        "[[sets]]\ncount = 3\nx = { bayesian = [1, 9] }\n[compute]\nprocesses = 3\n",
    )
    .replace("[objective]\n", "[objective]\ntimeout_s = 30\n");
    std::fs::write(&path, &grown).unwrap();
    let out = run(&["run", c]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("grows by 7 set(s), 10 to 16"), "{err}");
    assert_eq!(text(&stored), grown, "the stored definition is the new one");
    let table_after = text(&table);
    assert!(
        table_after.starts_with(&table_before),
        "the drawn table only grows"
    );
    let blocks: Vec<&str> = table_after
        .lines()
        .skip(11)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(blocks, ["0", "0", "0", "0", "1", "1", "1"]);
    let rows_after = results(tmp.path());
    assert_each_index_once(&rows_after, 17);
    for r in &rows_before {
        assert!(rows_after.contains(r), "row {r:?} changed");
    }
    // The Bayesian model of a new set holds every earlier result.
    let ok_before = rows_before.iter().filter(|r| r["status"] == "ok").count();
    let first_bayesian = rows_after.iter().find(|r| r["index"] == "14").unwrap();
    let points: usize = first_bayesian["note"]
        .strip_prefix("gp: ")
        .and_then(|n| n.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("note: {}", first_bayesian["note"]));
    assert!(
        points >= ok_before,
        "{points} points, {ok_before} ok rows before"
    );
    // Growing again by the same configuration is running the same experiment.
    let out = run(&["run", c]);
    assert!(stderr(&out).contains("the experiment is finished"));
}

/// Kills the master of `args` with SIGKILL once `ready` holds for the experiment in `tmp`.
fn kill_9_when(args: &[&str], sleep: &str, ready: impl Fn() -> bool) {
    let mut child = hpo()
        .args(args)
        .env("HPO_TEST_SLEEP", sleep)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(60),
        "the run did not get far enough",
        ready,
    );
    let workers = children_of(child.id() as i32);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until(
        Duration::from_secs(10),
        "workers outlived the master",
        || !workers.iter().any(|w| alive(*w)),
    );
}

/// The experiment has one row per set, and any reader sees it so.
fn one_row_per_set(tmp: &Path, total: usize) {
    let rows = results(tmp);
    assert_each_index_once(&rows, total);
    let status = run(&["status", tmp.join("exp").to_str().unwrap(), "--json"]);
    let s: serde_json::Value = serde_json::from_str(&stdout(&status)).expect("status JSON");
    assert_eq!(s["done"], serde_json::json!(total));
}

#[test]
fn retrying_replaces_failed_rows_and_keeps_them_in_history_across_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let total = 60;
    let path = flaky(
        tmp.path(),
        total,
        "[compute]\nmax_consecutive_failures = 0\n",
    );
    let c = path.to_str().unwrap();
    assert_eq!(run(&["run", c, "-q", "-p", "2"]).status.code(), Some(0));
    let first = results(tmp.path());
    let failed: Vec<Row> = first
        .iter()
        .filter(|r| r["status"] == "failed")
        .cloned()
        .collect();
    assert!(failed.len() >= 10, "{} failed", failed.len());
    std::fs::write(tmp.path().join("fixed"), "").unwrap();

    // Retried, and killed three times along the way.
    let dir = tmp.path().join("exp");
    let history = dir.join("history.csv");
    let results_file = dir.join("results.csv");
    let mut seen = 0;
    for _ in 0..3 {
        let replaced_so_far = || ok_rows(&results_file) >= first.len() - failed.len() + seen + 2;
        kill_9_when(
            &[
                "run",
                dir.to_str().unwrap(),
                "--retry-failed",
                "-p",
                "2",
                "-q",
            ],
            "0.15",
            replaced_so_far,
        );
        // Whatever the kill interrupted, a reader sees one row per set...
        let status = run(&["status", dir.to_str().unwrap(), "--json"]);
        let s: serde_json::Value = serde_json::from_str(&stdout(&status)).expect("JSON");
        assert_eq!(s["done"], serde_json::json!(total), "{s}");
        seen = ok_rows(&results_file) - (first.len() - failed.len());
    }
    assert!(
        ok_rows(&results_file) < total,
        "the retries finished before the kills"
    );
    let out = run(&["run", dir.to_str().unwrap(), "--retry-failed", "-p", "3"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    one_row_per_set(tmp.path(), total);
    let after = results(tmp.path());
    assert!(after.iter().all(|r| r["status"] == "ok"), "{after:?}");
    // Rows that were ok are untouched; each failed row is in history.csv exactly once.
    for r in first.iter().filter(|r| r["status"] == "ok") {
        assert!(after.contains(r), "row {r:?} changed");
    }
    let old = rows(&history);
    assert_eq!(old.len(), failed.len(), "{}", text(&history));
    for r in &failed {
        assert!(old.contains(r), "failed row {r:?} is not in history.csv");
    }
    // Nothing left to retry.
    let out = run(&["run", dir.to_str().unwrap(), "--retry-failed"]);
    assert!(stderr(&out).contains("the experiment is finished"));
}

#[test]
fn status_best_plot_and_report_read_a_folder_or_its_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let config = r#"
[experiment]
dir = "exp"
seed = 2
[objective]
command = ["sh", "-c", "if [ {layers} -eq 4 ]; then echo out of memory >&2; exit 9; fi; echo {lr} {layers} | awk '{ print ($1 - 0.05)^2 + $2 / 10 }'"]
[[parameters]]
name = "lr"
type = "float"
[[parameters]]
name = "layers"
type = "int"
[[parameters]]
name = "act"
type = "str"
[[sets]]
count = 24
lr = { random = [0.001, 0.1], log = true }
layers = { random = [1, 4] }
act = { choice = ["relu", "tanh"] }
[compute]
max_consecutive_failures = 0
[monitor]
plot_x = "act"
plot_y = "layers"
"#;
    let path = write_config(tmp.path(), "c.toml", config);
    let c = path.to_str().unwrap();
    // Before the folder exists, the readers say how to create it.
    let out = run(&["status", c]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`hpo run"), "{}", stderr(&out));
    assert_eq!(run(&["run", c, "-q"]).status.code(), Some(0));
    let dir = tmp.path().join("exp");
    for target in [c, dir.to_str().unwrap()] {
        let out = run(&["status", target]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("24 of 24 sets done"));
        assert!(stdout(&out).contains("out of memory"), "{}", stdout(&out));
        assert!(run(&["best", target]).status.success());
        let out = run(&["plot", target, "--only", "result_evolution"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // The report: numbers to six digits, failed sets with their parameters, and plot_3d on
    // the axes [monitor] names.
    let out = run(&["report", c]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = text(&dir.join("report.html"));
    assert!(
        html.contains("result over act and layers"),
        "plot_3d's axes"
    );
    let failed = html
        .split("<h2>Failed sets")
        .nth(1)
        .expect("a failed-sets section");
    assert!(
        failed.contains("<th>lr</th><th>layers</th><th>act</th>"),
        "{failed}"
    );
    assert!(failed.contains("out of memory"));
    let tables = html.split("<h2>Plots</h2>").next().unwrap_or_default();
    let long_numbers = tables
        .split(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .filter(|w| w.contains('.') && w.len() > 12)
        .count();
    assert_eq!(long_numbers, 0, "no number printed to 16 digits");
    // `hpo plot --x/--y` is remembered by the next report.
    let out = run(&["plot", c, "--only", "plot_3d", "--x", "lr", "--y", "act"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run(&["report", dir.to_str().unwrap()]).status.success());
    let html = text(&dir.join("report.html"));
    assert!(
        html.contains("result over lr and act"),
        "the remembered axes"
    );
}

#[test]
fn status_never_counts_a_set_twice_during_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let total = 40;
    let path = write_config(
        tmp.path(),
        "c.toml",
        &command_config("exp", "sleep 0.05; echo {x}", total, ""),
    );
    let mut child = hpo()
        .args(["run", path.to_str().unwrap(), "-p", "3", "-q"])
        .spawn()
        .unwrap();
    let dir = tmp.path().join("exp");
    let mut polls = 0;
    while child.try_wait().unwrap().is_none() {
        let out = run(&["status", dir.to_str().unwrap(), "--json"]);
        if let Ok(s) = serde_json::from_str::<serde_json::Value>(&stdout(&out)) {
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            let running = s["running"].as_array().map_or(0, Vec::len) as u64;
            assert_eq!(n("done") + running + n("waiting"), total as u64, "{s}");
            polls += 1;
        }
    }
    assert!(child.wait().unwrap().success());
    assert!(polls > 0);
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    for sub in ["run", "init", "status", "best", "plot", "report"] {
        let out = run(&[sub, "--help"]);
        let help = stdout(&out);
        assert!(out.status.success(), "{sub}");
        assert!(help.contains("Examples:\n  hpo "), "{sub} --help:\n{help}");
    }
    let help = stdout(&run(&["run", "--help"]));
    for code in ["0 ", "1 ", "2 ", "75 ", "130 "] {
        assert!(
            help.contains(&format!("\n  {code}")),
            "exit code {code}in: {help}"
        );
    }
    assert!(stdout(&run(&["--help"])).contains("Examples:"));
}
