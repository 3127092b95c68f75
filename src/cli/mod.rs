//! The command line: one file per subcommand; `main` maps errors to exit codes (0 ok,
//! 1 runtime failure or no `ok` row, 2 usage or configuration error, 75 stopped early by the
//! deadline or the batch system's signal with nothing lost, 130 interrupted; see
//! `hpo run --help`).

mod best;
mod error;
mod init;
mod plot;
mod report;
mod run;
mod status;

use crate::launch::ObjectiveFactory;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "hpo",
    version,
    about = "Parallel hyperparameter search: local process pool or MPI (mpirun -np N hpo run ...)",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const AFTER_HELP: &str = "\
Examples:
  hpo run exp.toml -p 4                 run on 4 local processes (resume: the same command)
  mpirun -np 5 hpo run exp.toml         1 master and 4 workers under MPI
  hpo status exp.toml                   progress, best set, last error (config or folder)
  hpo best runs/exp --format args       the best parameters as --name value
  hpo run runs/exp --retry-failed       run the failed sets again
  hpo report runs/exp                   one HTML file with the summary and every plot

Exit codes: 0 finished with an `ok` row; 1 no `ok` row, stopped by the failure limit, or
a runtime failure; 2 bad configuration or command line; 75 stopped early, run again to
continue; 130 interrupted. Details: hpo run --help";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run, resume, grow or retry an experiment from a configuration file or its folder.
    #[command(long_about = run::LONG_ABOUT)]
    Run(run::RunArgs),
    /// Create the experiment folder and draw the parameter table, without computing.
    Init(init::InitArgs),
    /// Show an experiment's progress: counts, best result, running sets, the last error.
    Status(status::StatusArgs),
    /// Print the best set's parameters (JSON, a `[[sets]]` block, or command-line arguments).
    Best(best::BestArgs),
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
        Command::Best(args) => best::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Report(args) => report::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => ExitCode::from(error::report(&err)),
    }
}

/// The experiment folder a reading command (`status`, `best`, `plot`, `report`) was pointed
/// at: the folder itself, or a configuration file, whose `[experiment] dir` it names.
pub(crate) fn experiment_folder(target: &Path) -> anyhow::Result<PathBuf> {
    let dir = if target.is_dir() {
        target.to_path_buf()
    } else {
        crate::config::Definition::load(target)?.dir
    };
    error::require_experiment(&dir, target)?;
    Ok(dir)
}
