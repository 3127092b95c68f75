//! How an error ends a command: reported once, with its causes, and mapped to an exit code
//! (2 when the user's input is at fault, 1 otherwise).
//!
//! Library modules return their own error types, each saying whether the user is at fault;
//! this is the one place that asks them, so no command converts errors by hand.

use crate::config::ConfigError;
use crate::experiment::ExperimentError;
use crate::launch::LaunchError;
use crate::plot::PlotError;
use std::path::Path;

/// Exit code of a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of any other failure.
pub const EXIT_FAILURE: u8 = 1;

/// An error of the user's input found by the command line itself.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{} is not an experiment folder (no {})", dir.display(), crate::experiment::CONFIG_FILE)]
    NotAnExperiment { dir: std::path::PathBuf },
    #[error(
        "{} (the `dir` of {}) holds no experiment yet; `hpo run {}` creates and runs it",
        dir.display(), config.display(), config.display()
    )]
    NotCreated {
        dir: std::path::PathBuf,
        config: std::path::PathBuf,
    },
}

/// Whether the user's input is at fault anywhere in the chain of `err`.
fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<UsageError>()
            || e.is::<ConfigError>()
            || e.is::<LaunchError>()
            || e.downcast_ref::<ExperimentError>()
                .is_some_and(ExperimentError::is_usage)
            || e.downcast_ref::<PlotError>()
                .is_some_and(PlotError::is_usage)
    })
}

/// Prints `err` (`hpo: error: ...` and its causes) and returns the exit code.
pub fn report(err: &anyhow::Error) -> u8 {
    crate::messages::error_chain(err);
    if is_usage(err) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// `dir` (named by `target`: itself, or a configuration) must be an experiment folder.
pub fn require_experiment(dir: &Path, target: &Path) -> Result<(), UsageError> {
    if crate::experiment::is_experiment(dir) {
        Ok(())
    } else if dir != target {
        Err(UsageError::NotCreated {
            dir: dir.to_path_buf(),
            config: target.to_path_buf(),
        })
    } else {
        Err(UsageError::NotAnExperiment {
            dir: dir.to_path_buf(),
        })
    }
}
