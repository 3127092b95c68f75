//! Helpers shared by the integration tests: run the real `hpo` binary in temporary folders.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn hpo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hpo"));
    c.env("OPENBLAS_NUM_THREADS", "1");
    c
}

/// Writes `config` as `dir/name` and returns its path.
pub fn write_config(dir: &Path, name: &str, config: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, config).expect("write config");
    path
}

pub fn run(args: &[&str]) -> Output {
    hpo().args(args).output().expect("run hpo")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The rows of a results.csv as header -> value maps.
pub fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("open results");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Asserts every index 0..n appears exactly once.
pub fn assert_each_index_once(rows: &[HashMap<String, String>], n: usize) {
    let mut seen = vec![0; n];
    for r in rows {
        let i: usize = r["index"].parse().expect("index");
        seen[i] += 1;
    }
    let wrong: Vec<_> = seen.iter().enumerate().filter(|(_, c)| **c != 1).collect();
    assert!(
        wrong.is_empty(),
        "indices not seen exactly once (index, count): {wrong:?}"
    );
}

/// A builtin experiment with `count` random sets of x, y in [-5, 5].
pub fn sphere_config(dir: &str, count: usize, extra: &str) -> String {
    format!(
        r#"
[experiment]
dir = "{dir}"
seed = 7
[objective]
builtin = "sphere"
{extra}
[[parameters]]
name = "x"
type = "float"
[[parameters]]
name = "y"
type = "float"
[[sets]]
count = {count}
x = {{ random = [-5, 5], round = 4 }}
y = {{ random = [-5, 5], round = 4 }}
"#
    )
}

/// The direct children of process `pid`.
pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether process `pid` still runs (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// Polls `ready` every 10 ms; fails the test, saying `what`, when `limit` passes first.
pub fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} (after {limit:?})");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the results table `results` holds at least `n` rows.
pub fn wait_for_rows(results: &Path, n: usize, limit: Duration) {
    wait_until(limit, &format!("fewer than {n} rows"), || {
        std::fs::read_to_string(results)
            .map(|s| s.lines().count().saturating_sub(1))
            .unwrap_or(0)
            >= n
    });
}
