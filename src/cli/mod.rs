//! The command line: one file per subcommand; `main` maps errors to exit codes (0 ok,
//! 1 runtime failure, 2 usage or configuration error, 75 stopped early by the deadline or the
//! batch system's signal with nothing lost, 130 interrupted).

mod error;
mod init;
mod plot;
mod report;
mod run;
mod status;

use crate::launch::ObjectiveFactory;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "hpo",
    version,
    about = "Parallel hyperparameter search: local process pool or MPI (mpirun -np N hpo run ...)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run (or resume) an experiment from a configuration file or an experiment folder.
    #[command(long_about = run::LONG_ABOUT)]
    Run(run::RunArgs),
    /// Create the experiment folder and draw the parameter table, without computing.
    Init(init::InitArgs),
    /// Show an experiment's progress: counts, best result, running sets.
    Status(status::StatusArgs),
    /// Draw the plots of an experiment into DIR/plots/ (PNG and SVG), during or after a run.
    Plot(plot::PlotArgs),
    /// Write DIR/report.html: every plot, the summary and the best sets, in one file.
    Report(report::ReportArgs),
}

/// Runs the command line; `factory` supplies a Rust objective (see [`crate::main_with`]).
pub fn main(factory: Option<ObjectiveFactory>) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args, factory),
        Command::Init(args) => init::run(args),
        Command::Status(args) => status::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Report(args) => report::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => ExitCode::from(error::report(&err)),
    }
}
