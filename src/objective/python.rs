//! A Python function as the objective: one live interpreter per worker, which imports the
//! objective's module once and calls its function for every set, so module-level state (a
//! loaded data set, a warm GPU context) survives between sets.
//!
//! The interpreter runs hpo's runner (`python/runner.py`, fed on stdin to `python -` together
//! with the `hpo` module, `python/hpo.py`: nothing to install) in the folder of the
//! objective's file, in a session and process group of its own, with the worker's binding in
//! its environment (`CUDA_VISIBLE_DEVICES`, `OMP_NUM_THREADS`, `HPO_EXPERIMENT_DIR`). It is
//! started at the worker's first set and imports the module during that set. Calls and results
//! travel on two private pipes, one JSON object a line; the function's prints go to the set's
//! `stdout.txt`/`stderr.txt` when output is redirected.
//!
//! Faults, each a row: an exception is a `failed` set with the exception's last line (the
//! traceback in the set's `stderr.txt`), and the interpreter lives on; an interpreter that dies
//! (a segfault, `os._exit`, the OOM killer) is a `failed` set, and the next set starts a fresh
//! one; a timeout kills the interpreter's process group (SIGTERM, then SIGKILL after the grace
//! period) and is a `timeout` set, with a fresh interpreter for the next. The job's deadline
//! and the batch system's signals cut a set off as they do a command's.

use super::command::error_tail;
use super::interpreter::interpreter_name;
use super::process::{
    Slot, effective_limit, is_scheduler_signal, kill_group, own_session, signal_name,
    spawn_tracked, untrack,
};
use super::reply::{ResultSpec, number, outcome_from_json};
use super::{EvalContext, Objective, Outcome, Status};
use crate::config::ObjectiveSpec;
use serde_json::{Value as Json, json};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

const RUNNER: &str = include_str!("python/runner.py");
const HPO_MODULE: &str = include_str!("python/hpo.py");
/// How often a wait for the interpreter's answer checks that the interpreter still lives (a
/// process it forked may hold the answer pipe open after it died).
const ALIVE_EVERY: Duration = Duration::from_millis(100);
/// Bytes of a set's stderr file read for the row's error when the interpreter dies.
const STDERR_TAIL: u64 = 4096;

/// The program `python -` runs: the `hpo` module's text, then the runner.
fn program() -> String {
    let module = serde_json::to_string(HPO_MODULE).unwrap_or_default();
    format!("HPO_MODULE_SOURCE = {module}\n{RUNNER}")
}

/// What the runner answers a call with.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    /// What the function returned (a number, or an object with the result and metrics).
    Returned(Json),
    /// The last line of the exception the function raised.
    Raised(String),
    /// The last line of the exception importing the module raised; the runner exits.
    ImportFailed(String),
    /// `hpo.report(step, value)` during the call: the runner waits for `{"verdict": bool}`
    /// on the call pipe (true: stop the set).
    Report { step: u64, value: Json },
}

/// How a wait for the runner's next line ended.
enum Received {
    Line(Vec<u8>),
    /// The interpreter is gone (its answer pipe closed, or the process ended).
    Gone,
    TimedOut,
}

/// The answer pipe, read line by line with a time limit.
struct Lines {
    pipe: std::fs::File,
    buffer: Vec<u8>,
}

impl Lines {
    /// The next line, waiting until `until` at most; checks every [`ALIVE_EVERY`] that
    /// `child` still runs.
    fn next(&mut self, until: Option<Instant>, child: &mut Child) -> Received {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut chunk = [0u8; 16 * 1024];
        // Once the process is seen gone, what it wrote before is still read, without waiting.
        let mut exited = false;
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Received::Line(line);
            }
            let now = Instant::now();
            if until.is_some_and(|u| now >= u) {
                return Received::TimedOut;
            }
            let wait = match until {
                _ if exited => Duration::ZERO,
                Some(u) => (u - now).min(ALIVE_EVERY),
                None => ALIVE_EVERY,
            };
            let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(0) if exited => return Received::Gone,
                Ok(0) => exited = !matches!(child.try_wait(), Ok(None)),
                Ok(_) => match self.pipe.read(&mut chunk) {
                    Ok(0) => return Received::Gone,
                    Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return Received::Gone,
                },
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return Received::Gone,
            }
        }
    }
}

/// A running interpreter and its pipes.
struct Interpreter {
    child: Child,
    calls: std::fs::File,
    answers: Lines,
}

impl Interpreter {
    fn group(&self) -> i32 {
        self.child.id() as i32
    }

    /// Ends the interpreter: `first` (SIGTERM, or none when it is ending by itself), then
    /// SIGKILL after `grace`; whatever is left in its process group goes too.
    fn stop(mut self, first: Option<libc::c_int>, grace: Duration) -> Option<ExitStatus> {
        let group = self.group();
        drop(self.calls);
        if let Some(sig) = first {
            kill_group(group, sig);
        }
        let deadline = Instant::now() + grace;
        let mut status = None;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    status = Some(st);
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(_) => break,
            }
        }
        kill_group(group, libc::SIGKILL);
        if status.is_none() {
            status = self.child.wait().ok();
        }
        untrack(Slot::Interpreter);
        status
    }
}

pub(crate) struct PythonObjective {
    file: PathBuf,
    function: String,
    executable: Option<String>,
    config_dir: PathBuf,
    timeout: Option<Duration>,
    grace: Duration,
    reply: ResultSpec,
    redirect: bool,
    live: Option<Interpreter>,
}

impl PythonObjective {
    pub fn new(
        file: PathBuf,
        function: String,
        executable: Option<String>,
        spec: &ObjectiveSpec,
        config_dir: &Path,
        redirect: bool,
    ) -> Self {
        PythonObjective {
            file,
            function,
            executable,
            config_dir: config_dir.to_path_buf(),
            timeout: spec.timeout,
            grace: spec.kill_grace,
            reply: ResultSpec::of(spec),
            redirect,
            live: None,
        }
    }

    /// Starts the interpreter with the runner, its two pipes kept open across `exec`.
    fn start(&self, ctx: &EvalContext) -> Result<Interpreter, String> {
        let (name, _) = interpreter_name(self.executable.as_deref());
        let python = crate::sys::find_program(&name, &self.config_dir)
            .ok_or_else(|| format!("the Python interpreter `{name}` was not found"))?;
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string());
        let (calls_in, calls_out) = pipe()?;
        let (answers_in, answers_out) = pipe()?;
        let folder = self.file.parent().unwrap_or(Path::new("/"));
        let mut cmd = Command::new(&python);
        cmd.arg("-")
            .arg(&self.file)
            .arg(&self.function)
            .arg(calls_in.as_raw_fd().to_string())
            .arg(answers_out.as_raw_fd().to_string())
            .current_dir(folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .env("HPO_EXPERIMENT_DIR", ctx.experiment_dir);
        for (k, v) in ctx.env {
            cmd.env(k, v);
        }
        own_session(&mut cmd);
        let keep = [calls_in.as_raw_fd(), answers_out.as_raw_fd()];
        // SAFETY: fcntl is async-signal-safe; the descriptors are open in the child.
        unsafe {
            cmd.pre_exec(move || {
                for fd in keep {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = spawn_tracked(&mut cmd, Slot::Interpreter)
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        drop((calls_in, answers_out));
        let fed = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(program().as_bytes()));
        let interpreter = Interpreter {
            child,
            calls: std::fs::File::from(calls_out),
            answers: Lines {
                pipe: std::fs::File::from(answers_in),
                buffer: Vec::new(),
            },
        };
        if let Some(Err(e)) = fed {
            let status = interpreter.stop(Some(libc::SIGKILL), Duration::ZERO);
            return Err(format!(
                "{} did not take hpo's runner ({e}; {})",
                python.display(),
                status.map(|s| s.to_string()).unwrap_or_default()
            ));
        }
        Ok(interpreter)
    }

    /// The call message of one set.
    fn call(&self, ctx: &EvalContext) -> Vec<u8> {
        let params: Vec<(&str, Json)> = ctx.params.iter().map(|(k, v)| (k, v.to_json())).collect();
        let file = |name: &str| {
            ctx.worker_dir
                .filter(|_| self.redirect)
                .map(|d| d.join(name).display().to_string())
        };
        let deadline = ctx
            .deadline
            .and_then(|d| d.duration_since(UNIX_EPOCH).ok().map(|t| t.as_secs_f64()));
        let mut line = json!({
            "index": ctx.index,
            "params": params,
            "worker_dir": ctx.worker_dir.map(|d| d.display().to_string()),
            "deadline": deadline,
            "stdout": file("stdout.txt"),
            "stderr": file("stderr.txt"),
        })
        .to_string()
        .into_bytes();
        line.push(b'\n');
        line
    }

    /// Why the interpreter died, for the row: its exit, and the end of the set's stderr.
    fn death(&self, status: Option<ExitStatus>, ctx: &EvalContext) -> Outcome {
        let how = match status {
            Some(st) if st.signal().is_some() => {
                let sig = st.signal().unwrap_or(0);
                format!("was killed by {}", signal_name(sig))
            }
            Some(st) => format!("exited with code {}", st.code().unwrap_or(-1)),
            None => "ended".into(),
        };
        let mut error =
            format!("the Python interpreter {how} during the set; the next set starts a fresh one");
        if let Some(tail) = ctx
            .worker_dir
            .filter(|_| self.redirect)
            .and_then(|d| stderr_tail(&d.join("stderr.txt")))
        {
            error.push_str("; stderr: ");
            error.push_str(&tail);
        }
        Outcome {
            exit_code: status.and_then(|s| s.code()),
            interrupted: status
                .and_then(|s| s.signal())
                .is_some_and(is_scheduler_signal),
            ..Outcome::failed(error)
        }
    }
}

/// The last characters of a set's stderr file, on one line.
fn stderr_tail(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(std::io::SeekFrom::Start(len.saturating_sub(STDERR_TAIL)))
        .ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    let tail = error_tail(&bytes);
    (!tail.is_empty()).then_some(tail)
}

impl Objective for PythonObjective {
    fn evaluate(&mut self, ctx: &EvalContext) -> Outcome {
        let mut interpreter = match self.live.take() {
            Some(i) => i,
            None => match self.start(ctx) {
                Ok(i) => i,
                Err(e) => return Outcome::failed(e),
            },
        };
        let (limit, limit_is_deadline) = effective_limit(self.timeout, ctx.time_left());
        let until = limit.map(|l| Instant::now() + l);
        if interpreter.calls.write_all(&self.call(ctx)).is_err() {
            let status = interpreter.stop(None, self.grace);
            return self.death(status, ctx);
        }
        let (interpreter, answer, line) =
            match self.answer(interpreter, until, limit_is_deadline, ctx) {
                Ok(answered) => answered,
                Err(outcome) => return outcome,
            };
        match answer {
            Ok(Answer::Returned(value)) => {
                self.live = Some(interpreter);
                outcome_from_json(&value, &self.reply)
            }
            Ok(Answer::Raised(last_line)) => {
                self.live = Some(interpreter);
                Outcome::failed(last_line)
            }
            Ok(Answer::ImportFailed(last_line)) => {
                interpreter.stop(None, self.grace);
                Outcome::failed(format!(
                    "importing {} failed: {last_line}",
                    self.file.display()
                ))
            }
            // `answer` passes every report on: the runner sent one where it should not.
            Ok(Answer::Report { .. }) | Err(_) => {
                interpreter.stop(Some(libc::SIGKILL), Duration::ZERO);
                Outcome::failed(format!(
                    "hpo's Python runner answered what it cannot read (`{}`)",
                    String::from_utf8_lossy(&line).trim()
                ))
            }
        }
    }
}

/// The interpreter, and its answer to a call (anything but a report) with the line it came on.
type Answered = (Interpreter, Result<Answer, serde_json::Error>, Vec<u8>);

impl PythonObjective {
    /// The runner's answer to a call, passing each `hpo.report` on the way to the context's
    /// reporter and writing back the verdict; `Err` is the outcome when there is no answer
    /// (the interpreter died or ran out of time).
    fn answer(
        &self,
        mut interpreter: Interpreter,
        until: Option<Instant>,
        limit_is_deadline: bool,
        ctx: &EvalContext,
    ) -> Result<Answered, Outcome> {
        loop {
            let line = match interpreter.answers.next(until, &mut interpreter.child) {
                Received::Line(line) => line,
                Received::Gone => {
                    let status = interpreter.stop(None, self.grace);
                    return Err(self.death(status, ctx));
                }
                Received::TimedOut => {
                    interpreter.stop(Some(libc::SIGTERM), self.grace);
                    if limit_is_deadline {
                        return Err(Outcome::cut_off());
                    }
                    return Err(Outcome {
                        status: Status::Timeout,
                        ..Outcome::failed(format!(
                            "killed after the {:.1} s timeout; the next set starts a fresh interpreter",
                            self.timeout.unwrap_or_default().as_secs_f64()
                        ))
                    });
                }
            };
            let (step, value) = match serde_json::from_slice::<Answer>(&line) {
                Ok(Answer::Report { step, value }) => (step, value),
                answer => return Ok((interpreter, answer, line)),
            };
            // A value that is not a number is NaN: the worst a rule can see.
            let value = number(&value).unwrap_or(f64::NAN);
            let verdict = format!("{{\"verdict\":{}}}\n", ctx.report(step, value));
            if interpreter.calls.write_all(verdict.as_bytes()).is_err() {
                let status = interpreter.stop(None, self.grace);
                return Err(self.death(status, ctx));
            }
        }
    }
}

impl Drop for PythonObjective {
    /// Closing the call pipe tells the runner to return, so the interpreter exits normally
    /// (its `atexit` handlers run); one that takes longer than the grace period is killed.
    fn drop(&mut self) {
        if let Some(interpreter) = self.live.take() {
            interpreter.stop(None, self.grace);
        }
    }
}
