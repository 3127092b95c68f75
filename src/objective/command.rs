//! An external command as the objective.
//!
//! The command runs without a shell, in its own process group, in the set's worker folder,
//! with `{name}` placeholders replaced by values (each value stays one argv element). When the
//! user's own command is a shell (`["sh", "-c", "..."]`), values substituted into the script are
//! shell-quoted. A timeout kills the whole process group (SIGTERM, then SIGKILL after the grace
//! period), and so does the end of the evaluation, so no grandchild outlives its set.
//!
//! The job's deadline ([`EvalContext::deadline`]) is a second limit: the command runs for at
//! most `min(timeout, deadline - now)`. When the deadline is what fires, or the command dies of
//! a signal a batch system sends to whole jobs (SIGTERM, SIGUSR1, ...), the outcome is
//! [`Outcome::interrupted`]: no row, the set runs again on resume.
//!
//! The result, in this order: the last stdout line `hpo-result: VALUE` (a number, or a JSON
//! object read by [`super::reply`]); else the result file (a number, or a JSON object); else,
//! with `result_key`, the last JSON line of stdout holding that key; else the last stdout line
//! that is a number.
//!
//! Intermediate values: the command appends lines `STEP VALUE` to the file named by
//! `$HPO_REPORT_FILE` (a fresh, empty file in the node's temporary folder, removed after the
//! set). The wait reads what was appended at every check of the command (at most every
//! [`REPORT_POLL`]) and passes each whole line to [`EvalContext::report`]; when the answer is
//! stop, the process group gets SIGTERM, then SIGKILL after the grace period. A line that is
//! not `STEP VALUE` fails the set, naming the line.

use super::process::{
    Slot, effective_limit, is_scheduler_signal, kill_group, own_session, spawn_tracked, untrack,
};
use super::reply::{ResultSpec, outcome_from_json, outcome_from_text};
use super::running::{ExitSignal, Running};
use super::template::{placeholders, substitute};
use super::{EvalContext, Objective, Outcome, Status};
use crate::config::ObjectiveSpec;
use crate::space::Value;
use crate::sys::find_program;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Characters of stderr stored in the results row.
const ERROR_CHARS: usize = 400;
/// The start of the stdout line that carries the result (a number or a JSON object).
pub const RESULT_LINE: &str = "hpo-result:";
/// The longest a line appended to `$HPO_REPORT_FILE` waits before the wait reads it.
pub const REPORT_POLL: Duration = Duration::from_millis(20);

/// The file a running command appends its `STEP VALUE` lines to, and what of it was read.
struct ReportFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    /// Bytes read but not yet a whole line.
    partial: Vec<u8>,
    lines: usize,
}

impl ReportFile {
    /// A fresh, empty report file for set `index` in the node's temporary folder, named for
    /// this process and a count of its evaluations, so that evaluations running at once (a
    /// library user's threads) never share one; opened once, for reading, by this process.
    fn create(index: usize) -> std::io::Result<ReportFile> {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("hpo-report-{}-{index}-{n}.txt", std::process::id());
        let path = std::env::temp_dir().join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        Ok(ReportFile {
            path,
            file,
            partial: Vec::new(),
            lines: 0,
        })
    }

    /// Passes every whole line appended since the last call to the context's reporter:
    /// `Ok(true)` when one was answered with stop, `Err` naming a line that is not
    /// `STEP VALUE`.
    fn read(&mut self, ctx: &EvalContext) -> Result<bool, String> {
        let mut chunk = Vec::new();
        if self.file.read_to_end(&mut chunk).is_err() || chunk.is_empty() {
            return Ok(false);
        }
        self.partial.extend_from_slice(&chunk);
        let mut stop = false;
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.lines += 1;
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let (step, value) = parse_report(text).ok_or_else(|| {
                format!(
                    "line {} of $HPO_REPORT_FILE is `{text}`, not `STEP VALUE` (a whole number, then a number)",
                    self.lines
                )
            })?;
            stop |= ctx.report(step, value);
        }
        Ok(stop)
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A report line: `STEP VALUE`.
fn parse_report(text: &str) -> Option<(u64, f64)> {
    let mut words = text.split_whitespace();
    let step = words.next()?.parse::<u64>().ok()?;
    let value = words.next()?.parse::<f64>().ok()?;
    words.next().is_none().then_some((step, value))
}

/// Arguments after the program that name a file beside the configuration by a relative path
/// (`train.py`), which the command will not find from where it runs: its worker folder, or
/// the experiment folder (`run_dir`). `{config_dir}/train.py` is what reaches that file.
pub fn files_left_behind<'a>(
    argv: &'a [String],
    config_dir: &Path,
    run_dir: Option<&Path>,
) -> Vec<&'a str> {
    argv.iter()
        .skip(1)
        .map(String::as_str)
        .filter(|a| !a.is_empty() && !a.starts_with(['-', '/']) && placeholders(a).is_empty())
        .filter(|a| config_dir.join(a).is_file())
        .filter(|a| !run_dir.is_some_and(|d| d.join(a).is_file()))
        .collect()
}

/// Name of a parameter's environment variable: `HPO_PARAM_` and the upper-cased name.
pub fn env_name(param: &str) -> String {
    format!("HPO_PARAM_{}", param.to_ascii_uppercase())
}

pub struct CommandObjective {
    argv: Vec<String>,
    timeout: Option<Duration>,
    grace: Duration,
    result_file: Option<String>,
    /// `result_key` as configured: without it, stdout's JSON lines are not looked at.
    result_key: Option<String>,
    reply: ResultSpec,
    redirect: bool,
}

impl CommandObjective {
    pub fn new(argv: Vec<String>, spec: &ObjectiveSpec, redirect: bool) -> Self {
        CommandObjective {
            argv,
            timeout: spec.timeout,
            grace: spec.kill_grace,
            result_file: spec.result_file.clone(),
            result_key: spec.result_key.clone(),
            reply: ResultSpec::of(spec),
            redirect,
        }
    }

    fn command(&self, ctx: &EvalContext) -> Result<Command, String> {
        let worker_dir = ctx
            .worker_dir
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let lookup = |name: &str| -> Option<String> {
            match name {
                "index" => Some(ctx.index.to_string()),
                "worker_dir" => Some(worker_dir.clone()),
                "config_dir" => Some(ctx.config_dir.display().to_string()),
                "experiment_dir" => Some(ctx.experiment_dir.display().to_string()),
                // An inactive parameter's placeholder is the empty string.
                _ if ctx.params.is_inactive(name) => Some(String::new()),
                _ => ctx.params.get(name).map(Value::to_string),
            }
        };
        let shell = Path::new(&self.argv[0])
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| ["sh", "bash", "dash", "zsh", "ksh"].contains(&n));
        let mut after_c = false;
        let args: Vec<String> = self.argv[1..]
            .iter()
            .map(|a| {
                let quote = shell && after_c;
                after_c = a == "-c";
                substitute(a, &lookup, quote)
            })
            .collect();
        let program = find_program(&self.argv[0], ctx.config_dir)
            .ok_or_else(|| format!("program `{}` not found", self.argv[0]))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(ctx.worker_dir.unwrap_or(ctx.experiment_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("HPO_INDEX", ctx.index.to_string())
            .env("HPO_EXPERIMENT_DIR", ctx.experiment_dir);
        if let Some(d) = ctx.worker_dir {
            cmd.env("HPO_WORKER_DIR", d);
        }
        if let Some(left) = ctx.time_left() {
            cmd.env("HPO_TIME_LEFT_S", format!("{:.0}", left.as_secs_f64()));
        }
        for (name, value) in ctx.params.iter() {
            cmd.env(env_name(name), value.to_string());
        }
        for (k, v) in ctx.env {
            cmd.env(k, v);
        }
        own_session(&mut cmd);
        Ok(cmd)
    }

    /// The outcome the command's output says (see the module's documentation for the order);
    /// `Err` says why there is none.
    fn parse_result(&self, stdout: &str, ctx: &EvalContext) -> Result<Outcome, String> {
        if let Some(line) = stdout
            .lines()
            .rev()
            .find_map(|l| l.trim_start().strip_prefix(RESULT_LINE))
        {
            return outcome_from_text(line, &self.reply).ok_or_else(|| {
                format!(
                    "the `{RESULT_LINE}` line holds `{}`, neither a number nor a JSON object",
                    line.trim()
                )
            });
        }
        if let Some(file) = &self.result_file {
            let path = ctx.worker_dir.unwrap_or(ctx.experiment_dir).join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read result file {}: {e}", path.display()))?;
            if let Some(outcome) = outcome_from_text(&text, &self.reply) {
                return Ok(outcome);
            }
            if !self.reply.outputs.is_empty() {
                return Err(format!(
                    "result file {} is not a JSON object with the declared outputs",
                    path.display()
                ));
            }
            return match &self.result_key {
                Some(key) => Err(format!(
                    "result file {} is not a JSON object with a numeric `{key}`",
                    path.display()
                )),
                None => last_number(&text)
                    .map(Outcome::ok)
                    .ok_or_else(|| format!("result file {} holds no number", path.display())),
            };
        }
        if !self.reply.outputs.is_empty() {
            return Err(format!(
                "stdout holds no `{RESULT_LINE}` line; with declared outputs print `{RESULT_LINE} {{\"{}\": ...}}`",
                self.reply.outputs.join("\": ..., \"")
            ));
        }
        match &self.result_key {
            Some(key) => stdout
                .lines()
                .rev()
                .find_map(|l| json_object_with(l, key))
                .map(|object| outcome_from_json(&object, &self.reply))
                .ok_or_else(|| format!("no JSON line with a numeric `{key}` on stdout")),
            None => last_number(stdout).map(Outcome::ok).ok_or_else(|| {
                format!("stdout holds no `{RESULT_LINE}` line and no line that is a number")
            }),
        }
    }
}

/// The last line of `text` that parses as a number (NaN and inf included, so they can be
/// reported as such).
fn last_number(text: &str) -> Option<f64> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().parse::<f64>().ok())
}

/// `text` as a JSON object, when it is one holding a number under `key`.
fn json_object_with(text: &str, key: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    v.get(key)?.as_f64()?;
    Some(v)
}

/// The last characters of stderr, on one line, for the results row.
pub(crate) fn error_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    let start = text
        .char_indices()
        .rev()
        .nth(ERROR_CHARS - 1)
        .map_or(0, |(i, _)| i);
    text[start..].replace(['\n', '\r'], " | ")
}

impl CommandObjective {
    /// Starts the command (`$HPO_REPORT_FILE` naming `report`), its output copied to the
    /// worker folder when redirected; its exit and output are watched together ([`Running`]).
    fn start(&self, ctx: &EvalContext, report: &ReportFile) -> Result<(Running, i32), Outcome> {
        let mut cmd = self.command(ctx).map_err(Outcome::failed)?;
        cmd.env("HPO_REPORT_FILE", &report.path);
        let files = |name: &str| {
            ctx.worker_dir
                .filter(|_| self.redirect)
                .and_then(|d| std::fs::File::create(d.join(name)).ok())
        };
        let copies = [files("stdout.txt"), files("stderr.txt")];
        let mut child = spawn_tracked(&mut cmd, Slot::Evaluation)
            .map_err(|e| Outcome::failed(format!("cannot start `{}`: {e}", self.argv[0])))?;
        let group = child.id() as i32;
        match ExitSignal::of(group) {
            Ok(exit) => Ok((Running::new(child, exit, copies), group)),
            Err(e) => {
                end_group(group);
                let _ = child.wait();
                Err(Outcome::failed(format!(
                    "cannot watch `{}` once started: {e}",
                    self.argv[0]
                )))
            }
        }
    }

    /// Waits for the command, killing its group at `limit` or when a report is answered with
    /// stop or is not `STEP VALUE` (SIGTERM, then SIGKILL after the grace period), then for the
    /// rest of its output. Report lines are read at least every [`REPORT_POLL`] while it runs,
    /// and once more when it ends (lines written just before count too).
    fn wait(
        &self,
        mut running: Running,
        group: i32,
        limit: Option<Duration>,
        report: &mut ReportFile,
        ctx: &EvalContext,
    ) -> Waited {
        let mut timed_out = false;
        let mut bad_report = None;
        let mut stopping = false;
        // When to act next: the limit, then (once SIGTERM is sent) the end of the grace period.
        let mut next = limit.map(|l| Instant::now() + l);
        let mut term_sent = false;
        let status = loop {
            let poll = Instant::now() + REPORT_POLL;
            let exited = running.wait_until(Some(next.map_or(poll, |n| n.min(poll))));
            if !stopping {
                stopping = report.read(ctx).unwrap_or_else(|e| {
                    bad_report = Some(e);
                    true
                });
                if stopping && exited.is_none() && !term_sent {
                    kill_group(group, libc::SIGTERM);
                    term_sent = true;
                    next = Some(Instant::now() + self.grace);
                }
            }
            if let Some(status) = exited {
                break status;
            }
            if next.is_some_and(|n| Instant::now() >= n) {
                if term_sent {
                    kill_group(group, libc::SIGKILL);
                    next = None;
                } else {
                    timed_out = true;
                    kill_group(group, libc::SIGTERM);
                    term_sent = true;
                    next = Some(Instant::now() + self.grace);
                }
            }
        };
        // Whatever the command left behind in its group goes with it.
        end_group(group);
        // A process that left the group may still hold a pipe: its output is given up on.
        let [stdout, stderr] = running.finish(Duration::from_secs(2));
        Waited {
            status,
            timed_out,
            bad_report,
            stdout,
            stderr,
        }
    }
}

/// How a command ended.
struct Waited {
    status: Option<std::process::ExitStatus>,
    timed_out: bool,
    /// The problem of a report line that is not `STEP VALUE`.
    bad_report: Option<String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Kills what is left of an evaluation's process group; it is no longer this worker's to
/// take down.
fn end_group(group: i32) {
    kill_group(group, libc::SIGKILL);
    untrack(Slot::Evaluation);
}

impl Objective for CommandObjective {
    fn evaluate(&mut self, ctx: &EvalContext) -> Outcome {
        let mut report = match ReportFile::create(ctx.index) {
            Ok(r) => r,
            Err(e) => return Outcome::failed(format!("cannot create the report file: {e}")),
        };
        let (running, group) = match self.start(ctx, &report) {
            Ok(started) => started,
            Err(outcome) => return outcome,
        };
        // The job's deadline cuts the evaluation off like a timeout, but it is not the set's
        // fault: that outcome is `interrupted` and the set runs again on resume.
        let (limit, limit_is_deadline) = effective_limit(self.timeout, ctx.time_left());
        let Waited {
            status,
            timed_out,
            bad_report,
            stdout,
            stderr,
        } = self.wait(running, group, limit, &mut report, ctx);
        if let Some(problem) = bad_report {
            return Outcome::failed(problem);
        }
        let exit_code = status.and_then(|s| s.code());
        let signal = status.and_then(|s| s.signal());
        let err = error_tail(&stderr);
        if timed_out && limit_is_deadline {
            return Outcome {
                exit_code,
                ..Outcome::cut_off()
            };
        }
        if timed_out {
            return Outcome {
                status: Status::Timeout,
                exit_code,
                ..Outcome::failed(format!(
                    "killed after the {:.1} s timeout; {err}",
                    self.timeout.unwrap_or_default().as_secs_f64()
                ))
            };
        }
        let fail = |reason: String| Outcome {
            exit_code,
            ..Outcome::failed(if err.is_empty() {
                reason
            } else {
                format!("{reason}; stderr: {err}")
            })
        };
        if let Some(sig) = signal {
            return Outcome {
                interrupted: is_scheduler_signal(sig),
                ..fail(format!("killed by signal {sig}"))
            };
        }
        match exit_code {
            Some(0) => {}
            Some(code) => return fail(format!("exit code {code}")),
            None => return fail("the command's status is unknown".into()),
        }
        match self.parse_result(&String::from_utf8_lossy(&stdout), ctx) {
            Ok(outcome) if outcome.status == Status::Ok => Outcome {
                exit_code,
                ..outcome
            },
            Ok(failed) => fail(failed.error),
            Err(e) => fail(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(timeout: Option<Duration>) -> ObjectiveSpec {
        ObjectiveSpec {
            kind: crate::config::ObjectiveKind::Command { argv: Vec::new() },
            direction: crate::config::Direction::Minimize,
            outputs: Vec::new(),
            timeout,
            retries: 0,
            result_file: None,
            result_key: None,
            kill_grace: Duration::from_millis(200),
        }
    }

    fn eval(
        script: &str,
        timeout: Option<Duration>,
        deadline: Option<std::time::SystemTime>,
    ) -> (Outcome, Duration) {
        let argv = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        let mut objective = CommandObjective::new(argv, &spec(timeout), false);
        let params = crate::space::Params::new(Vec::<String>::new().into(), Vec::new());
        let dir = std::env::temp_dir();
        let ctx = EvalContext {
            index: 0,
            params: &params,
            worker_dir: None,
            experiment_dir: &dir,
            config_dir: &dir,
            env: &[],
            deadline,
            reporter: None,
        };
        let start = Instant::now();
        let outcome = objective.evaluate(&ctx);
        (outcome, start.elapsed())
    }

    #[test]
    fn commands_started_from_several_threads_at_once_all_finish() {
        // The start guard must never take concurrent starts for a signal (which would end
        // this whole process).
        let threads: Vec<_> = (0..6)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..15)
                        .map(|_| eval("echo 1", None, None).0.result)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for t in threads {
            let results = t.join().expect("thread");
            assert!(results.iter().all(|r| *r == Some(1.0)), "{results:?}");
        }
    }

    #[test]
    fn the_deadline_cuts_a_command_off_and_says_so() {
        let deadline = std::time::SystemTime::now() + Duration::from_millis(300);
        let (out, took) = eval(
            "sleep 20; echo 1",
            Some(Duration::from_secs(30)),
            Some(deadline),
        );
        assert!(out.interrupted, "{out:?}");
        assert_ne!(out.status, Status::Ok);
        assert!(took < Duration::from_secs(5), "{took:?}");

        // The user's timeout, when it comes first, is the set's own result.
        let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
        let (out, _) = eval("sleep 20", Some(Duration::from_millis(200)), Some(deadline));
        assert_eq!(out.status, Status::Timeout);
        assert!(!out.interrupted);

        // A command that finishes before the deadline is an ordinary result.
        let (out, _) = eval("echo 2.5", None, Some(deadline));
        assert_eq!(out.result, Some(2.5));
        assert!(!out.interrupted);
    }

    #[test]
    fn a_scheduler_signal_interrupts_but_a_crash_fails() {
        let (out, _) = eval("kill -USR1 $$; sleep 5", None, None);
        assert!(out.interrupted, "{out:?}");
        let (out, _) = eval("kill -SEGV $$; sleep 5", None, None);
        assert!(!out.interrupted, "{out:?}");
        assert_eq!(out.status, Status::Failed);
    }

    #[test]
    fn result_parsing() {
        assert_eq!(last_number("loss\n0.5\nepoch 3\n  1e-3 \nbye"), Some(1e-3));
        assert_eq!(last_number("no numbers"), None);
        assert!(json_object_with(r#"{"loss": 0.25, "acc": 1}"#, "loss").is_some());
        assert!(json_object_with(r#"{"loss": "x"}"#, "loss").is_none());
        assert_eq!(error_tail(b"line1\nline2\n"), "line1 | line2");
    }
}
