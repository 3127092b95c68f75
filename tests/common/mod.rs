//! Helpers shared by the integration tests: run the real `hpo` binary in temporary folders.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::mpsc;
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

/// Runs `hpo run` on `config` (whose folder is `exp`) from a fresh folder and checks that it is
/// refused: exit 2, the message naming `needle`, nothing created. Returns the message.
pub fn assert_refused(config: &str, needle: &str) -> String {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = write_config(tmp.path(), "c.toml", config);
    let out = run(&["run", path.to_str().expect("utf-8"), "-q"]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "config:\n{config}\nstderr: {err}"
    );
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    assert!(
        !tmp.path().join("exp").exists(),
        "nothing is created: {config}"
    );
    err
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

/// The `ok` rows of a results table that a run may be writing (a torn last line is skipped).
pub fn ok_rows(path: &Path) -> usize {
    let text = std::fs::read(path).unwrap_or_default();
    let whole = &text[..text.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1)];
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(whole)
        .records()
        .filter_map(Result::ok)
        .filter(|r| r.iter().any(|f| f == "ok"))
        .count()
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

/// A command objective, `sh -c SCRIPT` (placeholders such as `{x}` allowed), over one `int`
/// parameter `x` drawn in [1, 9]: `count` sets in folder `dir`, then `tables` (such as
/// `[compute]`).
pub fn command_config(dir: &str, script: &str, count: usize, tables: &str) -> String {
    format!(
        "[experiment]\ndir = \"{dir}\"\nseed = 3\n[objective]\ncommand = [\"sh\", \"-c\", {script:?}]\n\
         [[parameters]]\nname = \"x\"\ntype = \"int\"\n[[sets]]\ncount = {count}\nx = {{ random = [1, 9] }}\n{tables}"
    )
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

/// Whether some non-zombie process has process group `pg`.
pub fn group_has_live_member(pg: i32) -> bool {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .any(|e| {
            std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
                let after = s.rsplit(')').next().unwrap_or_default();
                let fields: Vec<&str> = after.split_whitespace().collect();
                fields.len() > 3 && fields[0] != "Z" && fields[2] == pg.to_string()
            })
        })
}

/// A command objective that starts a background child, then writes where it runs into its
/// worker folder (`child`, `group`, and last `worker`: its parent, the worker process) and
/// waits for that child.
pub const BACKGROUND_CHILD: &str =
    "sleep 300 & echo $! > child; echo $$ > group; echo $PPID > worker; wait";

/// The pids `BACKGROUND_CHILD` wrote into `worker_dir`: (worker, group, background child),
/// once it has written them all.
pub fn background_child_pids(worker_dir: &Path) -> (i32, i32, i32) {
    let read = |name: &str| -> Option<i32> {
        let s = std::fs::read_to_string(worker_dir.join(name)).ok()?;
        s.ends_with('\n').then(|| s.trim().parse().ok())?
    };
    wait_until(
        Duration::from_secs(30),
        "the objective did not start",
        || read("worker").is_some(),
    );
    let pid = |name| read(name).expect("written before `worker`");
    (pid("worker"), pid("group"), pid("child"))
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

/// Whether the real component a test needs is here; when it is not, the test fails if
/// `require_var` is 1 (as the test script sets it) and otherwise says loudly that it is
/// skipped, so a missing component never passes as a success in CI.
pub fn available(what: &str, here: bool, require_var: &str) -> bool {
    if !here {
        assert!(
            std::env::var(require_var).as_deref() != Ok("1"),
            "{what} is missing and {require_var}=1 requires it"
        );
        eprintln!("SKIPPED: {what} is missing (set {require_var}=1 to make this a failure)");
    }
    here
}

/// Whether `program --version` runs here, as [`available`] judges a missing one.
pub fn runs(program: &str, require_var: &str) -> bool {
    let here = Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    available(program, here, require_var)
}

/// The built example `name` (a Rust program on the library, `custom = true` objectives), or
/// `None` when it is not built (`cargo test` builds the examples; `cargo test --test X` alone
/// does not), which fails under HPO_REQUIRE_EXAMPLES=1.
pub fn example(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_BIN_EXE_hpo"))
        .with_file_name("examples")
        .join(name);
    let what = format!("the {name} example (cargo test builds it)");
    available(&what, path.exists(), "HPO_REQUIRE_EXAMPLES").then_some(path)
}

/// A child's stderr read line by line on a thread, so a test can wait for a line (a marker)
/// instead of sleeping.
pub struct StderrLines {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl StderrLines {
    /// Takes over `child`'s stderr (spawned with `Stdio::piped()`).
    pub fn of(child: &mut Child) -> StderrLines {
        let pipe = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        StderrLines {
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits until a line containing `needle` arrives; fails the test after `limit`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no line with `{needle}` within {limit:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Everything the child wrote, once it has exited.
    pub fn all(mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// A command that reports `x + 1/step` at steps 1..=9 (a falling curve ordered by `x`), writes
/// a mark file when SIGTERM reaches it, and prints its final value.
pub const REPORTING: &str = r#"trap 'touch "$HPO_EXPERIMENT_DIR/term-$HPO_INDEX"; exit 0' TERM
for s in 1 2 3 4 5 6 7 8 9; do
  echo "$s $(awk -v x="$HPO_PARAM_X" -v s=$s 'BEGIN{print x + 1/s}')" >> "$HPO_REPORT_FILE"
  sleep 0.05
done
echo "$HPO_PARAM_X""#;

pub const ASHA: &str =
    "[pruning]\nrule = \"asha\"\nmin_step = 1\nmax_step = 9\nreduction_factor = 3\n";

/// A reporting command whose every set is worse than the sets before it (its value is its
/// index, plus 1/step): with `asha` run in order, few sets ever finish.
pub const LATER_IS_WORSE: &str = r#"trap 'exit 0' TERM
for s in 1 2 3 4 5 6 7 8 9; do
  echo "$s $(awk -v i="$HPO_INDEX" -v s=$s 'BEGIN{print i + 1/s}')" >> "$HPO_REPORT_FILE"
  sleep 0.02
done
echo "$HPO_INDEX""#;

/// `command_config`'s random block of `random` sets, then `bayesian` Bayesian sets of x,
/// with `asha`: the experiment of [`check_pruned_sets_reach_the_model`].
pub fn bayesian_asha_config(random: usize, bayesian: usize) -> String {
    let tables = format!("[[sets]]\ncount = {bayesian}\nx = {{ bayesian = [1, 9] }}\n{ASHA}");
    command_config("exp", LATER_IS_WORSE, random + bayesian, &tables).replacen(
        &format!("count = {}", random + bayesian),
        &format!("count = {random}"),
        1,
    )
}

/// Checks that the model of every Bayesian set of `dir` (a [`bayesian_asha_config`] run) was
/// fitted on the values at step 1 of the sets over before it, pruned ones included: more
/// points than rows that finished.
pub fn check_pruned_sets_reach_the_model(dir: &Path, random: usize, bayesian: usize) {
    let rows = rows(&dir.join("results.csv"));
    assert_each_index_once(&rows, random + bayesian);
    let finished = rows.iter().filter(|r| r["status"] == "ok").count();
    let pruned = rows.iter().filter(|r| r["status"] == "pruned").count();
    assert_eq!(finished + pruned, rows.len(), "{rows:?}");
    assert!(
        finished < 3,
        "{finished} sets finished: the results alone would do"
    );
    for r in rows.iter().filter(|r| r["bayesian"] == "true") {
        let note = &r["note"];
        let n: usize = note
            .strip_prefix("gp: ")
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no model for set {}: {note}", r["index"]));
        assert!(
            n > finished && n + 1 >= random,
            "set {}: {n} points: {note}",
            r["index"]
        );
        // Every set reached step 1: none is counted as stopped before it.
        let says = format!("model on the values at step 1 of {n} sets");
        assert!(note.ends_with(&says), "set {}: {note}", r["index"]);
    }
}

/// curves.csv of `dir`: (index, attempt, step, value) in file order.
pub fn curves(dir: &Path) -> Vec<(usize, u32, u64, f64)> {
    rows(&dir.join("curves.csv"))
        .iter()
        .map(|r| {
            (
                r["index"].parse().expect("index"),
                r["attempt"].parse().expect("attempt"),
                r["step"].parse().expect("step"),
                r["value"].parse().expect("value"),
            )
        })
        .collect()
}

/// Checks a pruned experiment's folder: every set has one row, the pruned ones carry the
/// step and value of their last report, the others ran to the end; returns the pruned rows.
pub fn check_pruned(dir: &Path, n: usize) -> Vec<HashMap<String, String>> {
    let rows = rows(&dir.join("results.csv"));
    assert_each_index_once(&rows, n);
    let curves = curves(dir);
    let mut pruned = Vec::new();
    for r in rows {
        let index: usize = r["index"].parse().expect("index");
        let mine: Vec<_> = curves.iter().filter(|c| c.0 == index).collect();
        assert!(!mine.is_empty(), "set {index} reported nothing");
        let last = mine.last().expect("a report");
        match r["status"].as_str() {
            "pruned" => {
                assert_eq!(r["step"], last.2.to_string(), "{r:?}");
                let result: f64 = r["result"].parse().expect("result");
                assert!((result - last.3).abs() < 1e-9, "{r:?} {last:?}");
                assert!(last.2 < 9, "{r:?}");
                pruned.push(r);
            }
            "ok" => {
                assert_eq!(r["step"], "", "{r:?}");
                assert_eq!(last.2, 9, "set {index} ran to the end: {mine:?}");
            }
            other => panic!("set {index} is {other}: {r:?}"),
        }
    }
    pruned
}

/// A builtin experiment over x, y in [-5, 5]: `random` random sets, then `bayesian` Bayesian
/// ones, each evaluation lasting `delay_s` (so sets handed out together finish together),
/// proposed as `[bayesian] proposals` says.
pub fn pool_config(
    dir: &str,
    random: usize,
    bayesian: usize,
    delay_s: f64,
    proposals: &str,
) -> String {
    format!(
        "[experiment]\ndir = \"{dir}\"\nseed = 11\n[objective]\nbuiltin = \"sphere\"\ndelay_s = {delay_s}\n\
         [[parameters]]\nname = \"x\"\ntype = \"float\"\n[[parameters]]\nname = \"y\"\ntype = \"float\"\n\
         [[sets]]\ncount = {random}\nx = {{ random = [-5, 5] }}\ny = {{ random = [-5, 5] }}\n\
         [[sets]]\ncount = {bayesian}\nx = {{ bayesian = [-5, 5], round = 4 }}\ny = {{ bayesian = [-5, 5], round = 4 }}\n\
         [bayesian]\nproposals = \"{proposals}\"\n"
    )
}

/// The Bayesian rows (of a two-parameter `x`, `y` run), after checking that no two propose the
/// same point.
pub fn distinct_bayesian_rows(rows: &[HashMap<String, String>]) -> Vec<&HashMap<String, String>> {
    let bayes: Vec<&HashMap<String, String>> =
        rows.iter().filter(|r| r["bayesian"] == "true").collect();
    let mut points = std::collections::BTreeSet::new();
    for r in &bayes {
        let point = (r["x"].as_str(), r["y"].as_str());
        assert!(points.insert(point), "a point proposed twice: {point:?}");
    }
    bayes
}

/// The Bayesian rows of a pool run proposed in turn: distinct points, none proposed while
/// another proposal was under way, and some that saw a running Bayesian set's values.
pub fn assert_proposed_in_turn(rows: &[HashMap<String, String>]) {
    let bayes = distinct_bayesian_rows(rows);
    let notes: Vec<&String> = bayes.iter().map(|r| &r["note"]).collect();
    assert!(
        notes
            .iter()
            .all(|n| n.starts_with("gp: ") && !n.contains("proposals under way")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| !n.contains(", 0 pending")),
        "no proposal saw a running set: {notes:?}"
    );
}

/// The Bayesian rows of a pool run: no two propose the same point, and some were proposed
/// while other proposals were under way (their notes say how many), so workers did not wait
/// for each other's proposals.
pub fn assert_concurrent_distinct_proposals(rows: &[HashMap<String, String>]) {
    let bayes = distinct_bayesian_rows(rows);
    assert!(!bayes.is_empty(), "no Bayesian rows");
    for r in &bayes {
        assert_eq!(r["status"], "ok", "{r:?}");
    }
    let concurrent = bayes
        .iter()
        .filter(|r| r["note"].contains("of the proposals under way"))
        .count();
    assert!(
        concurrent >= 2,
        "only {concurrent} Bayesian sets were proposed alongside others: {:?}",
        bayes.iter().map(|r| &r["note"]).collect::<Vec<_>>()
    );
}
