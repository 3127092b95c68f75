//! `hpo run CONFIG|DIR [--processes K]`: run or resume an experiment.

use crate::launch::{self, ObjectiveFactory, RunOptions};
use crate::messages::note;
use crate::schedule::Termination;
use crate::sys;
use std::path::PathBuf;
use std::process::ExitCode;

/// The long help of `hpo run`: what it does, and how an objective reports its result.
pub const LONG_ABOUT: &str = "\
Run (or resume) an experiment from a configuration file or an experiment folder.

How an objective reports its result:
  python = \"FILE:FUNCTION\"  the function returns a number, or a dict holding `result` (or the
                            configured `result_key`) and any other keys: metrics.
  command = [...]           the last stdout line `hpo-result: VALUE`, VALUE a number or a JSON
                            object as above, wins over everything else; else `result_file` (a
                            number or a JSON object); else, with `result_key`, the last JSON line
                            of stdout holding that key; else the last stdout line that is a number.
                            A non-zero exit, a signal, no result, NaN or inf: a failed row.
  custom = true             a Rust function (hpo::main_with, hpo::main_with_trial) returns a number
                            or an hpo::Reply with metrics.
Metrics go into the `metrics` column of results.csv as one JSON object; `hpo status --json` and
`hpo report` show them. A missing or non-finite result is a failed row naming the key.";

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A configuration file (TOML) or an existing experiment folder.
    pub target: PathBuf,
    /// Local worker processes (overrides `[compute] processes`).
    #[arg(long, short = 'p', value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=crate::config::MAX_PROCESSES as u64))]
    pub processes: Option<usize>,
    /// Experiment folder (instead of `[experiment] dir`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// No progress display.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Time this run may take (e.g. 3h, 90min): no set starts that cannot finish in it.
    /// Default inside a Slurm job: the job's end.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub walltime: Option<std::time::Duration>,
}

/// Stopped early with nothing lost (the deadline, or the batch system's SIGTERM/SIGUSR1):
/// sysexits' `EX_TEMPFAIL`, "try again later". Distinct from 0 so a batch script can requeue
/// or resubmit exactly when work is left (see docs/slurm.md).
pub const EXIT_RESUMABLE: u8 = 75;

pub fn run(args: RunArgs, factory: Option<ObjectiveFactory>) -> anyhow::Result<ExitCode> {
    let options = RunOptions {
        processes: args.processes,
        dir: args.dir,
        quiet: args.quiet,
        walltime: args.walltime,
    };
    let summary = if launch::under_mpi() {
        match launch::run_mpi(&args.target, &options, factory, &super::error::report)? {
            launch::MpiRole::Master(summary) => summary,
            launch::MpiRole::Worker(code) | launch::MpiRole::Reported(code) => {
                return Ok(ExitCode::from(code));
            }
        }
    } else {
        launch::run_processes(&args.target, &options, factory)?
    };
    let p = &summary.progress;
    let secs = summary.elapsed.as_secs_f64();
    let best = p
        .best
        .map(|(i, v)| format!("; best {v} (set {i})"))
        .unwrap_or_default();
    if !args.quiet {
        let share = |cpu: f64| if secs > 0.0 { 100.0 * cpu / secs } else { 0.0 };
        note!(
            "{} of {} sets done ({} failed); this run: {} in {:.2} s ({:.0}/s){best}; master peak RSS {:.1} MiB, CPU {:.2} s in the loop ({:.1}% of its wall), {:.2} s in all",
            p.done,
            p.total,
            p.failed,
            p.done_this_run,
            secs,
            if secs > 0.0 {
                p.done_this_run as f64 / secs
            } else {
                0.0
            },
            sys::peak_rss_kib() as f64 / 1024.0,
            summary.cpu,
            share(summary.cpu),
            sys::cpu_seconds(),
        );
    }
    Ok(match summary.termination {
        Termination::Complete => ExitCode::SUCCESS,
        Termination::Deadline => {
            note!(
                "stopped before the end of the job, nothing lost; run the same command again to continue (exit code {EXIT_RESUMABLE})"
            );
            ExitCode::from(EXIT_RESUMABLE)
        }
        Termination::Interrupted => {
            note!("interrupted; run the same command again to continue");
            ExitCode::from(130)
        }
        Termination::NoWorkers => {
            note!("every worker was lost; run the same command again to continue");
            ExitCode::from(1)
        }
        Termination::WriteFailed => ExitCode::from(1),
    })
}
