//! The context a Rust objective gets through [`crate::main_with_trial`]: the set's parameters
//! and where it runs. What it returns is a [`Reply`] (an `f64` converts), read by the same
//! normalizer as every other objective's. Intermediate values go through [`Trial::report`].

use super::reply::{Reply, ResultSpec};
use super::{EvalContext, Objective, Outcome, panicked};
use crate::space::Params;
use std::path::Path;
use std::time::SystemTime;

/// One evaluation, as a Rust objective sees it.
pub struct Trial<'a> {
    ctx: &'a EvalContext<'a>,
}

impl Trial<'_> {
    /// The set's parameters, by name, with their typed values.
    pub fn params(&self) -> &Params {
        self.ctx.params
    }

    /// The set's index in the parameter table (its row in `parameters.csv`).
    pub fn index(&self) -> usize {
        self.ctx.index
    }

    /// The set's own folder (`worker_out/000042/`) when the experiment provides worker folders
    /// (`[compute] provide_worker_path = true`).
    pub fn worker_dir(&self) -> Option<&Path> {
        self.ctx.worker_dir
    }

    /// When the evaluation must be over (the job's end under Slurm or `--walltime`); an
    /// objective that can stop early should, and return what it has.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.ctx.deadline
    }

    /// Reports an intermediate value: `value` (in the experiment's direction, like the
    /// result; with several objective outputs, of the one `[pruning] output` names) at `step`, a whole number that grows (an epoch). Every report is stored in the
    /// experiment's `curves.csv`. Returns `true` when the set is to stop (the `[pruning]`
    /// rule judged it): return at once; what the function returns is then ignored, and the
    /// set's row is `pruned` with this value as its result. Without a `[pruning]` table it
    /// always returns `false`.
    pub fn report(&mut self, step: u64, value: f64) -> bool {
        self.ctx.report(step, value)
    }
}

/// A user's Rust function taking a [`Trial`] as the objective.
pub(crate) struct TrialObjective<F> {
    pub function: F,
    pub reply: ResultSpec,
}

impl<F, R> Objective for TrialObjective<F>
where
    F: FnMut(&mut Trial) -> R,
    R: Into<Reply>,
{
    fn evaluate(&mut self, ctx: &EvalContext) -> Outcome {
        let f = &mut self.function;
        let mut trial = Trial { ctx };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut trial).into())) {
            Ok(reply) => reply.outcome(&self.reply),
            Err(panic) => panicked(panic),
        }
    }
}
