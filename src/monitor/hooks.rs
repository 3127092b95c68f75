//! The `[monitor]` hooks: [`Observer`]s that regenerate plots and run a user command as
//! results arrive, without ever stalling the master.
//!
//! Each hook owns one background thread; the master's calls only set a flag or push onto a
//! bounded queue and return at once.
//! - [`PlotHook`]: plots regenerated every `plot_every` results, on each new best, and/or
//!   once at the end. Requests coalesce: while a regeneration runs, further requests only
//!   mark the plots dirty, and one more regeneration follows.
//! - [`CommandHook`]: `on_result = ["./notify.sh", ...]` run once per result, in order, with
//!   the row as JSON on stdin and in `HPO_ROW`. At most [`QUEUE_CAP`] rows wait; past that the
//!   oldest waiting row is dropped (and counted). Its output goes to `DIR/hooks.log`.
//!
//! At the end of the run the master waits for a hook at most a grace period
//! ([`PLOT_GRACE`], [`COMMAND_GRACE`]); what is left then is abandoned and said so.

use super::{Observer, Progress};
use crate::config::{Definition, Programs};
use crate::experiment::ResultRow;
use crate::messages::note;
use crate::schedule::Termination;
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Rows waiting for the command hook at most.
pub const QUEUE_CAP: usize = 1000;
/// How long the end of a run waits for the last plots.
pub const PLOT_GRACE: Duration = Duration::from_secs(120);
/// How long the end of a run waits for the command hook to work through its queue.
pub const COMMAND_GRACE: Duration = Duration::from_secs(5);
/// One run of the command hook is killed after this long.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Where the command hook's output goes, in the experiment folder.
pub const HOOK_LOG: &str = "hooks.log";

/// Builds the hooks the experiment's `[monitor]` table asks for. Everything was checked
/// before the run started: the plot names when the configuration was parsed, the `on_result`
/// program by [`Programs::find`].
pub fn observers(exp: &Definition, programs: &Programs) -> Vec<Box<dyn Observer>> {
    let m = &exp.monitor;
    let mut out: Vec<Box<dyn Observer>> = Vec::new();
    if !m.plots.is_empty() && (m.plot_every > 0 || m.plot_on_best || m.plot_at_end) {
        let dir = exp.dir.clone();
        let plots = m.plots.clone();
        // plot_3d on the axes the configuration names.
        let options = crate::plot::PlotOptions {
            x: m.plot_x.clone(),
            y: m.plot_y.clone(),
            ..crate::plot::PlotOptions::default()
        };
        let mut last_error = String::new();
        let job = move || match crate::plot::render(&dir, &plots, &options) {
            Ok(_) => last_error.clear(),
            Err(e) => {
                let e = e.to_string();
                if e != last_error {
                    note!("monitor: the plots could not be drawn: {e}");
                    last_error = e;
                }
            }
        };
        out.push(Box::new(PlotHook::new(
            Triggers {
                every: m.plot_every,
                on_best: m.plot_on_best,
                at_end: m.plot_at_end,
            },
            job,
        )));
    }
    if let (Some(argv), Some(program)) = (&m.on_result, &programs.on_result) {
        let mut argv = argv.clone();
        argv[0] = program.display().to_string();
        let mut hook = CommandHook::new(argv, exp.dir.clone(), exp.space.names().to_vec());
        hook.outputs = exp.objective.outputs.clone();
        out.push(Box::new(hook));
    }
    out
}

/// A job run on a background thread whenever it is poked; pokes while it runs coalesce into
/// one more run.
pub struct Coalescer {
    shared: Arc<(Mutex<CoalescerState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct CoalescerState {
    dirty: bool,
    stop: bool,
    exited: bool,
    runs: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Coalescer {
    pub fn new(mut job: impl FnMut() + Send + 'static) -> Coalescer {
        let shared = Arc::new((Mutex::new(CoalescerState::default()), Condvar::new()));
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("hpo-plot-hook".into())
            .spawn(move || {
                let (m, cv) = &*s;
                loop {
                    let mut st = lock(m);
                    while !st.dirty && !st.stop {
                        st = cv.wait(st).unwrap_or_else(|p| p.into_inner());
                    }
                    if !st.dirty {
                        break;
                    }
                    st.dirty = false;
                    drop(st);
                    job();
                    lock(m).runs += 1;
                }
                lock(m).exited = true;
                cv.notify_all();
            });
        Coalescer {
            shared,
            thread: thread.ok(),
        }
    }

    /// Asks for one more run (returns at once).
    pub fn poke(&self) {
        let (m, cv) = &*self.shared;
        lock(m).dirty = true;
        cv.notify_all();
    }

    /// How many runs finished.
    #[cfg(test)]
    pub fn runs(&self) -> usize {
        lock(&self.shared.0).runs
    }

    /// Lets a requested run happen, then stops the thread; waits at most `grace`. Whether it
    /// stopped in time.
    pub fn finish(&mut self, grace: Duration) -> bool {
        let (m, cv) = &*self.shared;
        let deadline = Instant::now() + grace;
        let mut st = lock(m);
        st.stop = true;
        cv.notify_all();
        while !st.exited {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.thread.is_none() {
                return false;
            }
            st = cv
                .wait_timeout(st, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        drop(st);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        true
    }
}

impl Drop for Coalescer {
    fn drop(&mut self) {
        let (m, cv) = &*self.shared;
        lock(m).stop = true;
        cv.notify_all();
    }
}

/// When the plots are regenerated.
#[derive(Clone, Copy, Debug, Default)]
pub struct Triggers {
    /// Every this many results (0: not on a count).
    pub every: usize,
    pub on_best: bool,
    pub at_end: bool,
}

/// Regenerates plots on a background thread (see the module documentation).
pub struct PlotHook {
    runner: Coalescer,
    triggers: Triggers,
    seen: usize,
}

impl PlotHook {
    /// `job` draws the plots; it runs on the hook's thread.
    pub fn new(triggers: Triggers, job: impl FnMut() + Send + 'static) -> PlotHook {
        PlotHook {
            runner: Coalescer::new(job),
            triggers,
            seen: 0,
        }
    }

    /// Regenerations finished so far.
    #[cfg(test)]
    pub fn runs(&self) -> usize {
        self.runner.runs()
    }
}

impl Observer for PlotHook {
    fn on_result(&mut self, row: &ResultRow, progress: &Progress) {
        self.seen += 1;
        let count = self.triggers.every > 0 && self.seen.is_multiple_of(self.triggers.every);
        let best = self.triggers.on_best && progress.best.is_some_and(|(i, _)| i == row.index);
        if count || best {
            self.runner.poke();
        }
    }

    fn on_finish(&mut self, _progress: &Progress, _why: &Termination) {
        if self.triggers.at_end {
            self.runner.poke();
        }
        if !self.runner.finish(PLOT_GRACE) {
            note!(
                "monitor: the plots were still being drawn {} s after the end; left unfinished",
                PLOT_GRACE.as_secs()
            );
        }
    }
}

#[derive(Default)]
struct Queue {
    rows: VecDeque<String>,
    dropped: usize,
    stop: bool,
    /// Past this, the rest of the queue is abandoned and a running command killed.
    abandon: bool,
    exited: bool,
    delivered: usize,
    failures: usize,
}

/// Runs the user's command once per result on a background thread (see the module
/// documentation).
pub struct CommandHook {
    names: Vec<String>,
    /// The declared outputs: each row's JSON then has `outputs` (`{name: value}`) and, with a
    /// constraint, `feasible`.
    pub outputs: Vec<crate::config::Output>,
    shared: Arc<(Mutex<Queue>, Condvar)>,
    thread: Option<JoinHandle<()>>,
    grace: Duration,
}

impl CommandHook {
    /// `argv[0]` resolved already; the command runs in `dir` (the experiment folder).
    pub fn new(argv: Vec<String>, dir: PathBuf, names: Vec<String>) -> CommandHook {
        let shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("hpo-command-hook".into())
            .spawn(move || {
                let (m, cv) = &*s;
                loop {
                    let mut q = lock(m);
                    while q.rows.is_empty() && !q.stop {
                        q = cv.wait(q).unwrap_or_else(|p| p.into_inner());
                    }
                    let row = match q.rows.pop_front() {
                        Some(row) if !q.abandon => row,
                        _ => break,
                    };
                    drop(q);
                    let ok = run_command(&argv, &dir, &row, &s);
                    let mut q = lock(m);
                    q.delivered += 1;
                    if let Err(why) = ok {
                        q.failures += 1;
                        if q.failures == 1 {
                            note!(
                                "monitor: the on_result command {why} (its output is in {})",
                                dir.join(HOOK_LOG).display()
                            );
                        }
                    }
                }
                lock(m).exited = true;
                cv.notify_all();
            })
            .ok();
        CommandHook {
            names,
            outputs: Vec::new(),
            shared,
            thread,
            grace: COMMAND_GRACE,
        }
    }

    /// How long the end of the run waits for the queue (default [`COMMAND_GRACE`]).
    #[cfg(test)]
    pub fn with_grace(mut self, grace: Duration) -> CommandHook {
        self.grace = grace;
        self
    }

    /// (rows delivered, rows dropped because the queue was full).
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        let q = lock(&self.shared.0);
        (q.delivered, q.dropped)
    }

    /// Queues one row (returns at once).
    pub fn push(&self, json: String) {
        let (m, cv) = &*self.shared;
        let mut q = lock(m);
        if q.rows.len() >= QUEUE_CAP {
            q.rows.pop_front();
            q.dropped += 1;
        }
        q.rows.push_back(json);
        cv.notify_all();
    }

    /// Works through the queue for at most the grace period, then abandons the rest.
    pub fn finish(&mut self) {
        let (m, cv) = &*self.shared;
        let deadline = Instant::now() + self.grace;
        let mut q = lock(m);
        q.stop = true;
        cv.notify_all();
        while !q.exited && self.thread.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                q.abandon = true;
                let left_over = q.rows.len() + 1;
                cv.notify_all();
                note!(
                    "monitor: the on_result command was still busy {:.0} s after the end; {left_over} row(s) not delivered",
                    self.grace.as_secs_f64()
                );
                break;
            }
            q = cv
                .wait_timeout(q, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        if q.dropped > 0 {
            note!(
                "monitor: the on_result command fell behind; {} row(s) were dropped (queue of {QUEUE_CAP})",
                q.dropped
            );
        }
        let exited = q.exited;
        drop(q);
        if exited && let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the command for one row: JSON on stdin and in `HPO_ROW`, output appended to the log.
fn run_command(
    argv: &[String],
    dir: &Path,
    row: &str,
    shared: &Arc<(Mutex<Queue>, Condvar)>,
) -> Result<(), String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(HOOK_LOG));
    let (out, err) = match log.and_then(|f| Ok((f.try_clone()?, f))) {
        Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
        Err(_) => (Stdio::null(), Stdio::null()),
    };
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .env("HPO_ROW", row)
        .env("HPO_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is fine.
        let _ = stdin
            .write_all(row.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"));
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("failed ({status})")),
            Ok(None) => {}
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
        if lock(&shared.0).abandon || started.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "was killed after {:.0} s",
                started.elapsed().as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Observer for CommandHook {
    fn on_result(&mut self, row: &ResultRow, progress: &Progress) {
        let mut json = crate::experiment::summary::row_json(&self.names, row);
        if let Some(obj) = json.as_object_mut() {
            obj.insert(
                "best".into(),
                serde_json::json!(progress.best.is_some_and(|(i, _)| i == row.index)),
            );
            obj.insert("done".into(), serde_json::json!(progress.done));
            if !self.outputs.is_empty() {
                let values = crate::experiment::summary::outputs_json(&self.outputs, row);
                obj.insert("outputs".into(), serde_json::Value::Object(values));
                if self.outputs.iter().any(|o| o.direction().is_none()) {
                    obj.insert(
                        "feasible".into(),
                        serde_json::json!(row.feasible(&self.outputs)),
                    );
                }
            }
            obj.insert("total".into(), serde_json::json!(progress.total));
        }
        self.push(json.to_string());
    }

    fn on_finish(&mut self, _progress: &Progress, _why: &Termination) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::Outcome;
    use crate::space::Value;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn progress(best: Option<(usize, f64)>) -> Progress {
        Progress {
            total: 200,
            done: 1,
            failed: 0,
            done_this_run: 1,
            running: 0,
            best,
            started: Instant::now(),
        }
    }

    fn row(index: usize) -> ResultRow {
        let values = vec![Value::Float(0.5), Value::Str("relu".into())];
        ResultRow::for_test(index, values, Outcome::ok(index as f64))
    }

    #[test]
    fn a_slow_plot_hook_does_not_stall_and_coalesces() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let mut hook = PlotHook::new(
            Triggers {
                every: 1,
                on_best: true,
                at_end: true,
            },
            move || {
                c.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
            },
        );
        let t = Instant::now();
        for i in 0..200 {
            hook.on_result(&row(i), &progress(Some((i, 0.0))));
        }
        let spent = t.elapsed();
        assert!(
            spent < Duration::from_millis(100),
            "200 results took {spent:?} with a 300 ms hook"
        );
        hook.on_finish(&progress(None), &Termination::Complete);
        // One run that started at once, one for everything that came while it ran (and the end).
        let n = calls.load(Ordering::SeqCst);
        assert!((1..=3).contains(&n), "{n} runs");
        assert_eq!(hook.runs(), n);
    }

    #[test]
    fn plot_triggers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let mut hook = PlotHook::new(
            Triggers {
                every: 0,
                on_best: false,
                at_end: true,
            },
            move || {
                c.fetch_add(1, Ordering::SeqCst);
            },
        );
        for i in 0..10 {
            hook.on_result(&row(i), &progress(Some((i, 0.0))));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        hook.on_finish(&progress(None), &Termination::Complete);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_slow_command_hook_does_not_stall() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let argv = vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            "sleep 2".to_string(),
        ];
        let mut hook = CommandHook::new(
            argv,
            dir.path().to_path_buf(),
            vec!["x".into(), "act".into()],
        )
        .with_grace(Duration::from_millis(300));
        let t = Instant::now();
        for i in 0..200 {
            hook.on_result(&row(i), &progress(None));
        }
        let spent = t.elapsed();
        assert!(
            spent < Duration::from_millis(100),
            "200 results took {spent:?} with a 2 s hook"
        );
        let t = Instant::now();
        hook.on_finish(&progress(None), &Termination::Complete);
        // The grace, not the 200 x 2 s queue, bounds the end.
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "finish took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn the_command_gets_the_row() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let script = "cat > stdin_$(date +%N).json; printf '%s\\n' \"$HPO_ROW\" >> env.jsonl";
        let argv = vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()];
        let mut hook = CommandHook::new(
            argv,
            dir.path().to_path_buf(),
            vec!["x".into(), "act".into()],
        );
        for i in 0..3 {
            hook.on_result(&row(i), &progress(Some((0, 0.0))));
        }
        hook.on_finish(&progress(None), &Termination::Complete);
        assert_eq!(hook.counts(), (3, 0));
        let env = std::fs::read_to_string(dir.path().join("env.jsonl")).unwrap_or_default();
        let rows: Vec<serde_json::Value> = env
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1]["index"], 1);
        assert_eq!(rows[1]["params"]["act"], "relu");
        assert_eq!(rows[1]["params"]["x"], 0.5);
        assert_eq!(rows[1]["status"], "ok");
        assert_eq!(rows[0]["best"], true);
        assert_eq!(rows[1]["best"], false);
        let stdin_files = std::fs::read_dir(dir.path())
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("stdin_"))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(stdin_files, 3);
    }
}
