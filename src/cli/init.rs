//! `hpo init CONFIG [--dir DIR]`: create the experiment folder and draw the table only.

use crate::config::Programs;
use crate::experiment::{self, Folder};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  hpo init exp.toml                     create runs/exp (the config's `dir`) and draw its sets
  hpo init exp.toml --dir /scratch/exp  create it elsewhere
  hpo init exp.toml                     after appending [[sets]] or raising a count: draw the new sets")]
pub struct InitArgs {
    /// The configuration file (TOML).
    pub config: PathBuf,
    /// Experiment folder (instead of `[experiment] dir`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let (exp, folder) = experiment::resolve(&args.config, args.dir.as_deref())?;
    Programs::find(&exp)?;
    match folder {
        Folder::Holds => {
            println!(
                "{} already holds this experiment; nothing to do",
                exp.dir.display()
            );
        }
        Folder::Grows { stored_sets } => {
            let _lock = experiment::Lock::acquire(&exp.dir)?;
            let grown = experiment::grow(&exp, stored_sets)?;
            crate::launch::report_growth(&exp, &grown);
        }
        Folder::New => {
            let table = experiment::create(&exp)?;
            let bayesian = table.iter().filter(|s| s.is_bayesian()).count();
            println!(
                "created {} with {} parameter sets ({} Bayesian); run it with `hpo run {}`",
                exp.dir.display(),
                table.len(),
                bayesian,
                exp.dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
