//! `hpo init CONFIG [--dir DIR]`: create the experiment folder and draw the table only.

use crate::config::Programs;
use crate::experiment;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// The configuration file (TOML).
    pub config: PathBuf,
    /// Experiment folder (instead of `[experiment] dir`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let (exp, exists) = experiment::resolve(&args.config, args.dir.as_deref())?;
    Programs::find(&exp)?;
    if exists {
        println!(
            "{} already holds this experiment; nothing to do",
            exp.dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let table = experiment::create(&exp)?;
    let bayesian = table.iter().filter(|s| s.is_bayesian()).count();
    println!(
        "created {} with {} parameter sets ({} Bayesian); run it with `hpo run {}`",
        exp.dir.display(),
        table.len(),
        bayesian,
        exp.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
