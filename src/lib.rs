//! `hpo`: parallel hyperparameter search for clusters and workstations.
//!
//! # The rooms, in the order a search runs
//! - `cli`: the command line, one file per subcommand; `cli/error.rs` reports an error once
//!   and maps it to the exit code.
//! - `config`: the TOML file as written (`raw.rs`, closed choices already enums), checked by
//!   `validate.rs` into a `Definition` before any work; `Programs` finds the programs it names,
//!   in a separate step, still before any work.
//! - [`space`]: typed, ordered parameters, the blocks of sets that fill them, the drawn table.
//! - `experiment`: the experiment folder (definition, table, results journal, lock, the live
//!   view `live.rs`, the results columns `schema.rs`), the only state a resumed run or a
//!   monitor reads; `summary.rs` computes what `hpo status` shows from it; `grow.rs` stores a
//!   grown definition and its new sets; `journal.rs` also moves the rows a retry replaced to
//!   `history.csv`.
//! - `launch`: resolves the folder and starts the workers: `launch/mod.rs` the local fork pool,
//!   `launch/mpi.rs` the MPI ranks and their binding; [`backend`] holds the two transports
//!   behind one trait.
//! - `master`: one loop over the pure `schedule::Scheduler`; gathers each result as it arrives
//!   and appends it to the journal. It never evaluates and never fits. It answers each
//!   intermediate report with the pure `prune::Pruner`'s verdict (`[pruning]`: median, ASHA,
//!   Hyperband) and appends it to `curves.csv`.
//! - `worker`: receives a task, proposes Bayesian values ([`acquisition`] over a [`gp`]; with
//!   declared outputs a ParEGO scalarization of the objectives and a model per constraint),
//!   evaluates the [`objective`] (a builtin, a command per set, a Python function in the
//!   worker's live interpreter, or a Rust function), sends the result. Whatever an objective
//!   returns becomes an outcome through one normalizer (`objective/reply.rs`). An objective's
//!   processes run in process groups of their own (`objective/process.rs`); a command's exit
//!   and output are watched by one `poll` (`objective/running.rs`), and each worker's watcher
//!   process (`objective/watcher.rs`) kills the groups of a worker killed outright.
//! - `monitor`: the progress display and the `[monitor]` hooks, observers of durable results.
//! - `plot`: plots and the HTML report, drawn from the stored results only.
//! - `slurm`: inside a Slurm job, the job's end time is the run's deadline.
//! - Leaves that any room may use: `sys` (host name, CPUs, where a program is), `messages`
//!   (every note and warning on stderr).
//!
//! # Who imports whom
//! Arrows run one way, from the command line down to the leaves (`scripts/import-graph`
//! prints the graph and fails on a circle). A leaf is a file that imports nothing from the
//! crate, such as `objective/template.rs`; importing it is not importing the room around it.
//! ```text
//! cli         -> launch, plot, experiment, config, schedule, space, messages, sys
//! launch      -> master, worker, monitor, backend, experiment, config, objective, slurm, space, messages, sys
//! master      -> monitor, backend, schedule, prune, experiment, config, objective, acquisition, space, messages, sys
//! worker      -> backend, experiment, config, objective, acquisition, space
//! monitor     -> plot, experiment, config, schedule, messages
//! plot        -> experiment, config, objective, space
//! experiment  -> config, objective, space
//! backend     -> objective, schedule, space
//! objective   -> config, space, sys
//! config      -> space, sys, prune, acquisition::options, objective::builtin, objective::template,
//!                objective::interpreter, experiment::schema (leaves)
//! acquisition -> gp, space
//! slurm       -> messages
//! gp, space, schedule, prune, sys, messages: nothing
//! ```
//!
//! # The library
//! A user's own binary can run the same command line with a Rust objective: see
//! [`main_with`], or [`main_with_trial`] for a function that sees its [`Trial`] and returns
//! metrics in a [`Reply`]. The engine is public for benchmarks and harnesses:
//! [`acquisition::suggest`] (a Bayesian suggestion as a pure function of history, pending
//! points, bounds and seed; [`acquisition::suggest_constrained`] under constraints,
//! [`acquisition::parego`] for several objectives), [`gp`] (the Gaussian process and its fit),
//! [`space`] (parameters, blocks and [`space::draw_table`]), [`objective::builtin`] (the test
//! functions), [`prune::Pruner`] (the early-stopping decisions, a pure state machine) and
//! [`schedule::Scheduler`] (which set goes to which worker, the master's pure state machine;
//! the pool simulation `benches/pool_sim.rs` drives it).
pub mod acquisition;
pub mod backend;
mod cli;
mod config;
mod experiment;
pub mod gp;
mod launch;
mod master;
mod messages;
mod monitor;
pub mod objective;
mod plot;
pub mod prune;
pub mod schedule;
mod slurm;
pub mod space;
mod sys;
mod worker;

pub use objective::reply::Reply;
pub use objective::trial::Trial;
pub use space::{Params, Value};

/// The `hpo` command line, as the `hpo` binary runs it (exit codes: see `hpo --help`).
pub fn main() -> std::process::ExitCode {
    cli::main(None)
}

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

/// The `hpo` command line with a Rust function of a [`Trial`] as the objective (for
/// configurations with `[objective] custom = true`). The function sees the set's parameters,
/// its index, its worker folder and the job's deadline, and returns a number or a [`Reply`]
/// with metrics (stored in the row's `metrics` column):
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     hpo::main_with_trial(|t: &mut hpo::Trial| {
///         let x = t.params().f64("x").unwrap_or(0.0);
///         hpo::Reply::new(x * x).metric("set", t.index() as u64)
///     })
/// }
/// ```
pub fn main_with_trial<F, R>(objective: F) -> std::process::ExitCode
where
    F: Fn(&mut Trial) -> R + Clone + 'static,
    R: Into<Reply>,
{
    let factory = move |exp: &config::Definition| -> Box<dyn objective::Objective> {
        Box::new(objective::trial::TrialObjective {
            function: objective.clone(),
            reply: objective::reply::ResultSpec::of(&exp.objective),
        })
    };
    cli::main(Some(&factory))
}
