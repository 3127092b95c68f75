//! `hpo run CONFIG|DIR [--processes K] [--retry-failed]`: run, resume, grow or retry an
//! experiment, and say how it ended (the exit codes: `AFTER_HELP`, which `hpo run --help` prints).

use crate::experiment::ResultRow;
use crate::launch::{self, ObjectiveFactory, RunOptions, RunSummary};
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
`hpo report` show them. A missing or non-finite result is a failed row naming the key.

Several outputs ([[objective.outputs]], each `name` with `direction`, or `min`/`max` for a
constraint): the objective returns every output by name, as keys of the dict, of the
`hpo-result:` JSON object or result file, or of hpo::Reply::outputs; a bare number is a failed
row. results.csv gets `feasible` (with a constraint) and one column per output; `result` holds
the first objective output. `hpo best` prints the Pareto front.

Intermediate values (stored in curves.csv; the [pruning] rule may stop the set on one):
  python                    hpo.report(step, value) returns True when the set is to stop.
  command                   append lines `STEP VALUE` to the file $HPO_REPORT_FILE names; a set
                            to stop gets SIGTERM, then SIGKILL after kill_grace_s.
  custom                    Trial::report(step, value) returns true when the set is to stop.
A stopped set's row has status `pruned`, its last reported value and the step it reached.

Conditional parameters (`when = \"...\"` over earlier parameters): where the condition is false
the parameter is inactive: an empty cell in results.csv, absent from the Python dict,
params.json and the HPO_PARAM_ variables, and its `{name}` placeholder in a command is the
empty string (`''` in a shell script).";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
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
    /// Time this run may take (e.g. 3h, 90min): no set starts unless the margin of 5 s plus
    /// the longest evaluation seen is left. Default inside a Slurm job: the job's end.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub walltime: Option<std::time::Duration>,
    /// Run the `failed` and `timeout` sets again: each new row replaces the old one in
    /// results.csv, and the old one moves to history.csv.
    #[arg(long)]
    pub retry_failed: bool,
}

const AFTER_HELP: &str = "\
Examples:
  hpo run exp.toml -p 8                 run (or resume) on 8 local worker processes
  mpirun -np 9 hpo run exp.toml         1 master and 8 workers under MPI
  hpo run runs/exp -p 4                 resume the folder directly, on another pool
  hpo run exp.toml                      after appending [[sets]] or raising a count: run the new sets
  hpo run runs/exp --retry-failed       run the failed and timed-out sets again
  hpo run exp.toml --walltime 3h        start no set that cannot finish within 3 hours

The objective's result: a command prints it as the last line of stdout that is a number
(or writes `result_file`; `result_key` takes a key of a JSON object); a builtin or a Rust
function returns it. A failed evaluation is a row with status `failed` or `timeout`.

Exit codes:
  0    finished, with at least one `ok` row
  1    finished with no `ok` row, or stopped by [compute] max_consecutive_failures
       (fix the objective, then `hpo run DIR --retry-failed`), or a runtime failure
  2    bad configuration or command line (nothing was created or started)
  75   stopped early with nothing lost (--walltime, the job's end, SIGTERM, SIGUSR1):
       run the same command again to continue
  130  interrupted (Ctrl-C): run the same command again to continue";

/// Stopped early with nothing lost (the deadline, or the batch system's SIGTERM/SIGUSR1):
/// sysexits' `EX_TEMPFAIL`, "try again later". Distinct from 0 so a batch script can requeue
/// or resubmit exactly when work is left (see docs/slurm.md).
pub const EXIT_RESUMABLE: u8 = 75;
/// Interrupted by the user (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

pub fn run(args: RunArgs, factory: Option<ObjectiveFactory>) -> anyhow::Result<ExitCode> {
    let options = RunOptions {
        processes: args.processes,
        dir: args.dir,
        quiet: args.quiet,
        walltime: args.walltime,
        retry_failed: args.retry_failed,
    };
    let summary = if launch::under_mpi() {
        match launch::run_mpi(&args.target, &options, factory, &super::error::report)? {
            launch::MpiRole::Master(summary) => *summary,
            launch::MpiRole::Worker(code) | launch::MpiRole::Reported(code) => {
                return Ok(ExitCode::from(code));
            }
        }
    } else {
        launch::run_processes(&args.target, &options, factory)?
    };
    let dir = options
        .dir
        .as_ref()
        .unwrap_or(&args.target)
        .display()
        .to_string();
    if summary.nothing_to_do {
        note!("{}", finished_line(&summary, &dir));
    } else if !args.quiet {
        note!("{}", end_line(&summary));
    }
    Ok(ExitCode::from(exit_code(&summary, &dir)))
}

/// The exit code of a run that ended, after saying why when it is not 0.
fn exit_code(summary: &RunSummary, dir: &str) -> u8 {
    let p = &summary.progress;
    match &summary.termination {
        Termination::Complete if p.done > p.failed => 0,
        Termination::Complete => {
            note!(
                "no set has an `ok` row ({} failed); see the errors with `hpo status {dir}`, fix the objective, then `hpo run {dir} --retry-failed`",
                p.failed
            );
            1
        }
        Termination::FailureLimit { failures } => {
            let last = summary
                .last_failure
                .as_ref()
                .map(|r| {
                    format!(
                        "; the last, set {} ({}), {}: {}",
                        r.index,
                        params_text(&summary.names, r),
                        r.outcome.status,
                        clip(&r.outcome.error, 300)
                    )
                })
                .unwrap_or_default();
            note!(
                "stopped: {failures} evaluations in a row failed ([compute] max_consecutive_failures){last}. Fix the objective, then `hpo run {dir} --retry-failed` runs the failed sets again"
            );
            1
        }
        Termination::Deadline => {
            note!(
                "stopped before the end of the job, nothing lost; run the same command again to continue (exit code {EXIT_RESUMABLE})"
            );
            EXIT_RESUMABLE
        }
        Termination::Interrupted => {
            note!("interrupted; run the same command again to continue");
            EXIT_INTERRUPTED
        }
        Termination::NoWorkers => {
            note!("every worker was lost; run the same command again to continue");
            1
        }
        Termination::WriteFailed => 1,
    }
}

/// `x=0.5, act=relu`, at most about 120 characters.
fn params_text(names: &[String], row: &ResultRow) -> String {
    let text = names
        .iter()
        .zip(&row.values)
        .filter(|(_, v)| !v.is_inactive())
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    clip(&text, 120)
}

/// At most `n` characters of `text`, the rest of a longer one replaced by `...`.
fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(n - 3).collect::<String>())
    }
}

/// `N of M sets done (F failed); best R (set I: x=..., y=...)`.
fn counts_and_best(summary: &RunSummary) -> String {
    let p = &summary.progress;
    let best = summary
        .best
        .as_ref()
        .and_then(|r| {
            r.outcome.result.map(|v| {
                format!(
                    "; best {v} (set {}: {})",
                    r.index,
                    params_text(&summary.names, r)
                )
            })
        })
        .unwrap_or_default();
    format!(
        "{} of {} sets done ({} failed){best}",
        p.done, p.total, p.failed
    )
}

/// The line that ends a run that evaluated sets: what is done, the best set, and this run's
/// rate and cost.
fn end_line(summary: &RunSummary) -> String {
    let p = &summary.progress;
    let secs = summary.elapsed.as_secs_f64();
    let rate = |x: f64| if secs > 0.0 { x / secs } else { 0.0 };
    let replaced = if summary.replaced > 0 {
        format!(
            " ({} replacing failed rows, now in history.csv)",
            summary.replaced
        )
    } else {
        String::new()
    };
    // The loop's CPU share is the master's cost per unit of the run; start-up (MPI's
    // included) is counted in the total only.
    format!(
        "{}; this run: {}{replaced} in {secs:.2} s ({:.0}/s); master peak RSS {:.1} MiB, CPU {:.2} s in the loop ({:.1}% of its wall), {:.2} s in all",
        counts_and_best(summary),
        p.done_this_run,
        rate(p.done_this_run as f64),
        sys::peak_rss_kib() as f64 / 1024.0,
        summary.cpu,
        100.0 * rate(summary.cpu),
        sys::cpu_seconds(),
    )
}

/// The one line of a run that found nothing to do.
fn finished_line(summary: &RunSummary, dir: &str) -> String {
    let failed = summary.progress.failed;
    let retry = if failed > 0 {
        format!("; `hpo run {dir} --retry-failed` runs the {failed} failed set(s) again")
    } else {
        String::new()
    };
    format!(
        "the experiment is finished: {}; nothing to run{retry}",
        counts_and_best(summary)
    )
}
