//! Starting a search: resolve the experiment folder (create or resume), take its lock, start
//! the workers on the chosen back end, and run the master until it ends. This file holds the
//! folder, the lock and the local fork pool; [`mpi`] holds the MPI launch (ranks, binding).

pub mod mpi;

use crate::backend::WorkerInfo;
use crate::backend::fork::ForkPool;
use crate::config::{Definition, ObjectiveKind, Programs};
use crate::experiment::{self, Folder, Journal, Lock, Repair, journal};
use crate::master::{self, DeadlineSource, MasterOptions};
use crate::messages::{note, warning};
use crate::monitor::{Observer, ProgressDisplay};
use crate::objective::{self, Objective};
use crate::space::SetSpec;
use crate::sys;
use crate::worker::{WorkerSetup, run_worker};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use crate::master::RunSummary;
pub use mpi::{MpiRole, run_mpi};

/// Whether this process is a rank of an MPI launch (`mpirun`, `srun`): then
/// [`run_mpi`] runs it, else [`run_processes`].
pub fn under_mpi() -> bool {
    crate::backend::mpi::launched_by().is_some()
}

/// Builds the objective inside each worker (after the fork, or on each MPI rank).
pub type ObjectiveFactory<'a> = &'a dyn Fn(&Definition) -> Box<dyn Objective>;

/// What the user asked for that cannot be launched (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "{config}: `objective.custom`: this experiment's objective is a Rust function; run it with the program that defines it"
    )]
    CustomObjective { config: PathBuf },
    #[error(
        "--processes cannot be combined with an MPI launch: mpirun already started {ranks} ranks (rank 0 is the master, the others are workers)"
    )]
    ProcessesUnderMpi { ranks: usize },
    #[error(
        "mpirun started a single process: hpo needs one master (rank 0) and at least one worker; use `mpirun -np 2` or more, or run without mpirun (--processes K)"
    )]
    SingleRank,
}

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Local pool size (overrides `[compute] processes`; the command line checked it).
    pub processes: Option<usize>,
    /// Experiment folder (overrides `[experiment] dir`).
    pub dir: Option<PathBuf>,
    /// No progress display.
    pub quiet: bool,
    /// Time left in the job; no set starts that cannot finish before it.
    pub walltime: Option<Duration>,
    /// Run the failed and timed-out sets again (`--retry-failed`).
    pub retry_failed: bool,
}

/// A folder ready to run: definition, the programs it names, lock, drawn table and the rows
/// already there.
pub struct Prepared {
    pub experiment: Arc<Definition>,
    pub programs: Programs,
    pub table: Arc<Vec<SetSpec>>,
    pub rows: Vec<experiment::ResultRow>,
    /// Every intermediate value reported so far (`curves.csv`), in file order.
    pub curves: Vec<experiment::curves::CurvePoint>,
    pub lock: Lock,
}

impl Prepared {
    /// How many sets a run evaluates: those without a row, and with `retry_failed` the
    /// failed ones.
    pub fn sets_to_run(&self, retry_failed: bool) -> usize {
        let failed = self
            .rows
            .iter()
            .filter(|r| r.outcome.status.is_failure())
            .count();
        self.table.len() - self.rows.len() + if retry_failed { failed } else { 0 }
    }
}

/// Resolves `target` (a configuration or an experiment folder), checks everything the run
/// needs (the objective's kind, the programs it names), then creates the folder when it does
/// not exist yet, locks it, and grows it when the configuration asks for more.
pub fn prepare(
    target: &Path,
    dir: Option<&Path>,
    custom_objective: bool,
) -> anyhow::Result<Prepared> {
    let (exp, folder) = experiment::resolve(target, dir)?;
    if exp.objective.kind == ObjectiveKind::Custom && !custom_objective {
        return Err(LaunchError::CustomObjective {
            config: exp.dir.join(experiment::CONFIG_FILE),
        }
        .into());
    }
    let programs = Programs::find(&exp)?;
    let created = match folder {
        Folder::New => Some(experiment::create(&exp)?),
        Folder::Holds | Folder::Grows { .. } => None,
    };
    let lock = Lock::acquire(&exp.dir)?;
    let table = match (created, folder) {
        (Some(table), _) => table,
        (None, Folder::Grows { stored_sets }) => {
            let grown = experiment::grow(&exp, stored_sets)?;
            report_growth(&exp, &grown);
            grown.table
        }
        (None, _) => experiment::read_table(&exp.dir, &exp.space)?,
    };
    let (rows, repair) = journal::read_and_repair(
        &exp.dir.join(experiment::RESULTS_FILE),
        &exp.space,
        &exp.objective.outputs,
    )?;
    report_repair(&repair);
    let curves = experiment::curves::read(&exp.dir, true)?;
    warn_files_left_behind(&exp);
    Ok(Prepared {
        experiment: Arc::new(exp),
        programs,
        table: Arc::new(table),
        rows,
        curves,
        lock,
    })
}

/// A command argument like `train.py` that names a file beside the configuration would not be
/// found where the command runs: say so before every evaluation fails on it.
fn warn_files_left_behind(exp: &Definition) {
    let ObjectiveKind::Command { argv } = &exp.objective.kind else {
        return;
    };
    // Without worker folders a command runs in the experiment folder.
    let run_dir = (!exp.compute.provide_worker_path).then_some(exp.dir.as_path());
    for arg in objective::command::files_left_behind(argv, &exp.config_dir, run_dir) {
        let place = if run_dir.is_some() {
            "the experiment folder"
        } else {
            "its own worker folder (worker_out/NNNNNN/)"
        };
        warning!(
            "the command's argument `{arg}` names a file beside the configuration, but each evaluation runs in {place}, where `{arg}` is not; write `{{config_dir}}/{arg}` to pass that file"
        );
    }
}

/// Says what growing the folder stored (`hpo run` and `hpo init`).
pub fn report_growth(exp: &Definition, grown: &experiment::Grown) {
    let dir = exp.dir.display();
    let sets = &grown.new_sets;
    if sets.is_empty() {
        note!(
            "{dir}: the configuration's changes are stored ({}); no new sets",
            experiment::CONFIG_FILE
        );
    } else {
        note!(
            "{dir} grows by {} set(s), {} to {}; the {} sets before them and their rows are unchanged",
            sets.len(),
            sets.start,
            sets.end - 1,
            sets.start
        );
    }
}

fn report_repair(repair: &Repair) {
    if repair.torn_line {
        note!(
            "results.csv ended in a torn line (an interrupted write); it was cut off and that set will run again"
        );
    }
    if !repair.superseded.is_empty() {
        note!(
            "results.csv held more than one row of {} set(s) ({:?}), as an interrupted retry leaves them; the last row of each counts, {} earlier row(s) moved to {}",
            repair.superseded.len(),
            repair.superseded,
            repair.moved,
            experiment::HISTORY_FILE
        );
    }
}

/// Runs an experiment on the local fork pool. `factory` supplies a Rust objective (library
/// API); without it the configuration's builtin or command is used.
pub fn run_processes(
    target: &Path,
    options: &RunOptions,
    factory: Option<ObjectiveFactory>,
) -> anyhow::Result<RunSummary> {
    let mut prepared = prepare(target, options.dir.as_deref(), factory.is_some())?;
    let exp = prepared.experiment.clone();
    let remaining = prepared.sets_to_run(options.retry_failed);
    let k = options.processes.unwrap_or(exp.compute.processes);
    let k = k.min(remaining.max(1));
    let threads = std::env::var("OMP_NUM_THREADS")
        .ok()
        .unwrap_or_else(|| (sys::cpu_count() / k).max(1).to_string());
    let mut pool = ForkPool::start(k, &mut |w, mut link| {
        worker_process_setup();
        let setup = WorkerSetup {
            experiment: exp.clone(),
            table: prepared.table.clone(),
            info: WorkerInfo {
                rank: None,
                host: sys::hostname(),
                gpu: String::new(),
                cores: sys::cpu_count().to_string(),
                pid: std::process::id(),
            },
            env: vec![("OMP_NUM_THREADS".into(), threads.clone())],
        };
        let mut objective = match factory {
            Some(f) => f(&exp),
            None => match objective::from_definition(&exp) {
                Some(o) => o,
                None => return 2,
            },
        };
        let code = match run_worker(&mut link, &setup, objective.as_mut()) {
            Ok(()) => 0,
            Err(e) => {
                note!("worker {}: {e}", w + 1);
                1
            }
        };
        // The objective ends its processes itself (a Python interpreter exits normally),
        // then the watcher goes.
        drop(objective);
        objective::watcher::stop_watcher();
        code
    })?;
    master::install_stop_handler();
    let summary = run_master_here(&mut prepared, &mut pool, options)?;
    pool.shutdown(Duration::from_secs(10));
    drop(prepared.lock);
    Ok(summary)
}

/// What every worker process does first, before any thread starts: die with the master, leave
/// Ctrl-C to the master, start the watcher of its objectives' process groups, keep BLAS
/// single-threaded.
pub fn worker_process_setup() {
    objective::process::install_cleanup_handler();
    if let Err(e) = objective::watcher::start_watcher() {
        warning!(
            "cannot start the watcher of this worker's objectives ({e}): were the worker killed, its objectives' own children could outlive it"
        );
    }
    // SAFETY: ignoring a signal is always sound.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGINT,
            nix::sys::signal::SigHandler::SigIgn,
        );
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGUSR1,
            nix::sys::signal::SigHandler::SigIgn,
        );
    }
    // SAFETY: the worker is single-threaded at this point.
    unsafe { std::env::set_var("OPENBLAS_NUM_THREADS", "1") };
}

/// The master's part, on any transport: open the journal, run the loop, close.
pub fn run_master_here(
    prepared: &mut Prepared,
    transport: &mut dyn crate::backend::Transport,
    options: &RunOptions,
) -> anyhow::Result<RunSummary> {
    let exp = &prepared.experiment;
    let mut journal = Journal::open(&exp.dir, &exp.space, &exp.objective.outputs)?;
    let mut curves = experiment::curves::open(&exp.dir)?;
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    if let Some(display) =
        ProgressDisplay::new(prepared.table.len(), prepared.rows.len(), options.quiet)
    {
        observers.push(Box::new(display));
    }
    observers.extend(crate::monitor::hooks::observers(exp, &prepared.programs));
    let master_options = MasterOptions {
        deadline: crate::slurm::deadline(options.walltime),
        deadline_source: match options.walltime {
            Some(w) => DeadlineSource::Walltime(w),
            None => DeadlineSource::Job,
        },
        deadline_margin: Duration::from_secs(5),
        retry_failed: options.retry_failed,
    };
    let result = master::run_master(
        exp,
        &prepared.table,
        std::mem::take(&mut prepared.rows),
        &prepared.curves,
        master::Journals {
            results: &mut journal,
            curves: &mut curves,
        },
        transport,
        &mut observers,
        master_options,
    );
    let closed = journal.close();
    let curves_closed = curves.close();
    let summary = result?;
    closed?;
    curves_closed?;
    Ok(summary)
}
