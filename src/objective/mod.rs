//! What a worker evaluates: the `Objective` trait, the builtin test functions, an external
//! command, a Python function in a live interpreter, or a user's Rust function; and how what
//! an objective returns becomes an `Outcome` (`reply`, one normalizer for every kind).
//!
//! A failed evaluation is data: an `Outcome` with a status, never an error of the run.

pub mod builtin;
pub(crate) mod command;
pub(crate) mod interpreter;
pub(crate) mod process;
pub(crate) mod python;
pub(crate) mod reply;
pub(crate) mod running;
pub(crate) mod template;
pub(crate) mod trial;
pub(crate) mod watcher;

use crate::config::{Definition, Delay, ObjectiveKind};
use crate::space::Params;
use builtin::Builtin;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// How an evaluation ended: the `status` column of results.csv.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Status {
    Ok,
    Failed,
    Timeout,
    /// Stopped early by the `[pruning]` rule: its result is the last value it reported.
    Pruned,
}

impl Status {
    /// Whether the set failed: what `retries` re-runs, `hpo run --retry-failed` runs again
    /// and `[compute] max_consecutive_failures` counts. Every other status is a success for
    /// them (a status added later must say which it is here).
    pub fn is_failure(self) -> bool {
        match self {
            Status::Ok | Status::Pruned => false,
            Status::Failed | Status::Timeout => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Pruned => "pruned",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    /// A `status` cell of results.csv.
    fn from_str(s: &str) -> Result<Status, String> {
        [Status::Ok, Status::Failed, Status::Timeout, Status::Pruned]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("status `{s}` is not ok, failed, timeout or pruned"))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub status: Status,
    /// The objective value (finite) when `status` is ok.
    pub result: Option<f64>,
    pub exit_code: Option<i32>,
    /// Why it failed: the tail of stderr, the signal, the parse problem.
    pub error: String,
    /// Everything else the objective returned besides the result, as compact JSON object text
    /// (`{"acc":0.93}`); empty when there was nothing. Text, not a JSON value, because the
    /// wire format (bincode) cannot carry self-describing values.
    #[serde(default)]
    pub metrics: String,
    /// Stopped from outside, not by the set's own doing: cut off at the job's deadline, or
    /// killed by a scheduler's signal (SIGTERM, SIGUSR1, ...). Not a result: the set has no
    /// row and runs again (on resume).
    #[serde(default)]
    pub interrupted: bool,
    /// The step a `pruned` set reached (the `step` column).
    #[serde(default)]
    pub step: Option<u64>,
    /// The declared outputs (`[[objective.outputs]]`) in declared order, each finite; empty
    /// without declared outputs, and for a row that did not end well.
    #[serde(default)]
    pub outputs: Vec<f64>,
}

impl Outcome {
    pub fn ok(result: f64) -> Outcome {
        if result.is_finite() {
            Outcome {
                status: Status::Ok,
                result: Some(result),
                exit_code: None,
                error: String::new(),
                metrics: String::new(),
                interrupted: false,
                step: None,
                outputs: Vec::new(),
            }
        } else {
            Outcome::failed(format!("the objective returned {result}"))
        }
    }
    /// Stopped at the job's deadline before it could finish.
    pub fn cut_off() -> Outcome {
        Outcome {
            interrupted: true,
            ..Outcome::failed("cut off at the job's deadline")
        }
    }
    pub fn failed(error: impl Into<String>) -> Outcome {
        Outcome {
            status: Status::Failed,
            result: None,
            exit_code: None,
            error: error.into(),
            metrics: String::new(),
            interrupted: false,
            step: None,
            outputs: Vec::new(),
        }
    }
    /// Stopped by the `[pruning]` rule after reporting `value` at `step`: the result is that
    /// value (none when it was not finite).
    pub fn pruned(value: f64, step: u64) -> Outcome {
        Outcome {
            status: Status::Pruned,
            result: value.is_finite().then_some(value),
            step: Some(step),
            error: String::new(),
            ..Outcome::failed("")
        }
    }
}

/// Where and with what one evaluation runs.
pub(crate) struct EvalContext<'a> {
    pub index: usize,
    pub params: &'a Params,
    /// `worker_out/000042/` when the experiment provides worker folders.
    pub worker_dir: Option<&'a Path>,
    pub experiment_dir: &'a Path,
    pub config_dir: &'a Path,
    /// Variables the worker's binding exports (`CUDA_VISIBLE_DEVICES`, `OMP_NUM_THREADS`).
    pub env: &'a [(String, String)],
    /// When the evaluation must end (the job's end): objectives that can stop early do, and
    /// report [`Outcome::interrupted`].
    pub deadline: Option<std::time::SystemTime>,
    /// Where intermediate values go (`None`: nowhere, every report answers continue).
    pub reporter: Option<&'a dyn Reporter>,
}

/// Where an evaluation's intermediate values go: the worker passes each to the master, which
/// records it in `curves.csv` and answers whether the set stops (the `[pruning]` rule).
pub(crate) trait Reporter {
    /// Records `value` (in the experiment's direction) at `step`; `true`: stop the set.
    fn report(&self, step: u64, value: f64) -> bool;
}

impl EvalContext<'_> {
    /// Reports an intermediate value; `true`: the set is to stop.
    pub fn report(&self, step: u64, value: f64) -> bool {
        self.reporter.is_some_and(|r| r.report(step, value))
    }

    /// The time left before the job's deadline (zero once it passed), when there is one.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline.map(|d| {
            d.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        })
    }
}

pub(crate) trait Objective {
    fn evaluate(&mut self, ctx: &EvalContext) -> Outcome;
}

/// A user's Rust function as an objective (the library API).
pub(crate) struct FnObjective<F>(pub F);

impl<F: FnMut(&Params) -> f64> Objective for FnObjective<F> {
    fn evaluate(&mut self, ctx: &EvalContext) -> Outcome {
        let f = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(ctx.params))) {
            Ok(v) => Outcome::ok(v),
            Err(panic) => panicked(panic),
        }
    }
}

/// The outcome of a Rust objective that panicked: failed, with the panic's message.
pub(crate) fn panicked(panic: Box<dyn std::any::Any + Send>) -> Outcome {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Outcome::failed(format!("the objective panicked: {msg}"))
}

/// A builtin test function, with an optional synthetic delay.
pub(crate) struct BuiltinObjective {
    pub function: Builtin,
    pub delay: Option<Delay>,
    pub seed: u64,
}

impl Objective for BuiltinObjective {
    fn evaluate(&mut self, ctx: &EvalContext) -> Outcome {
        let pause = match self.delay {
            None => 0.0,
            Some(Delay::Fixed(s)) => s,
            Some(Delay::Uniform([lo, hi])) => {
                use rand::{Rng, SeedableRng};
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                    self.seed ^ (ctx.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                rng.random_range(lo..=hi)
            }
        };
        if pause > 0.0 {
            let pause = Duration::from_secs_f64(pause);
            let left = ctx.deadline.map(|d| {
                d.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default()
            });
            if let Some(left) = left.filter(|left| *left < pause) {
                std::thread::sleep(left);
                return Outcome::cut_off();
            }
            std::thread::sleep(pause);
        }
        Outcome::ok(self.function.eval(&ctx.params.numeric()))
    }
}

/// The objective an experiment's configuration names (`None` for `Custom`, which only the
/// library API can supply).
pub(crate) fn from_definition(exp: &Definition) -> Option<Box<dyn Objective>> {
    match &exp.objective.kind {
        ObjectiveKind::Builtin { function, delay } => Some(Box::new(BuiltinObjective {
            function: *function,
            delay: *delay,
            seed: exp.seed,
        })),
        ObjectiveKind::Command { argv } => Some(Box::new(command::CommandObjective::new(
            argv.clone(),
            &exp.objective,
            exp.compute.redirect_stdout,
        ))),
        ObjectiveKind::Python {
            file,
            function,
            executable,
        } => Some(Box::new(python::PythonObjective::new(
            file.clone(),
            function.clone(),
            executable.clone(),
            &exp.objective,
            &exp.config_dir,
            exp.compute.redirect_stdout,
        ))),
        ObjectiveKind::Custom => None,
    }
}
