//! `hpo`: parallel hyperparameter search for clusters and workstations.
//!
//! The architecture, in the order a search runs:
//! - [`config`]: the TOML file, validated into a [`config::Definition`] before any work.
//! - [`space`]: typed, ordered parameters, the blocks of sets that fill them, the drawn table.
//! - [`experiment`]: the experiment folder (definition, table, results journal, lock), the only
//!   state a resumed run or a monitor reads.
//! - [`launch`]: resolves the folder and starts the workers on a back end ([`backend`]: the
//!   local fork pool, or MPI), behind one [`backend::Transport`] trait.
//! - [`master`]: one loop over the pure [`schedule::Scheduler`]; gathers each result as it
//!   arrives and appends it to the journal. It never evaluates and never fits.
//! - [`worker`]: receives a task, proposes Bayesian values ([`acquisition`] over a [`gp`]),
//!   evaluates the [`objective`], sends the result.
//! - [`monitor`]: progress display, `hpo status` summaries and the `[monitor]` hooks, all
//!   observers of durable results.
//! - [`plot`]: plots and the HTML report, drawn from the stored results only.
//! - [`slurm`]: inside a Slurm job, the job's end time is the run's deadline.
//!
//! A user's own binary can run the same machinery with a Rust objective: see [`main_with`].
pub mod acquisition;
pub mod backend;
pub mod cli;
pub mod config;
pub mod experiment;
pub mod gp;
pub mod launch;
pub mod master;
mod messages;
pub mod monitor;
pub mod objective;
pub mod plot;
pub mod schedule;
pub mod slurm;
pub mod space;
pub mod sys;
pub mod worker;

pub use space::{Params, Value};
pub use sys::hostname;

/// The `hpo` command line with a Rust function as the objective (for configurations with
/// `[objective] custom = true`): `fn main() -> ExitCode { hpo::main_with(|p| p.f64("x").unwrap_or(0.0).powi(2)) }`.
pub fn main_with<F>(objective: F) -> std::process::ExitCode
where
    F: Fn(&Params) -> f64 + Clone + 'static,
{
    let factory = move |_: &config::Definition| -> Box<dyn objective::Objective> {
        Box::new(objective::FnObjective(objective.clone()))
    };
    cli::main(Some(&factory))
}
