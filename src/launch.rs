//! Starting a search: resolve the experiment folder (create or resume), take its lock, start
//! the workers on the chosen back end, and run the master until it ends.

use crate::backend::WorkerInfo;
use crate::backend::fork::ForkPool;
use crate::config::{Experiment, ObjectiveKind};
use crate::experiment::{self, Journal, Lock, Repair, journal};
use crate::master::{self, MasterOptions, Summary};
use crate::monitor::{Observer, ProgressDisplay};
use crate::objective::{self, Objective};
use crate::space::SetSpec;
use crate::worker::{WorkerSetup, run_worker};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Builds the objective inside each worker (after the fork, or on each MPI rank).
pub type ObjectiveFactory<'a> = &'a dyn Fn(&Experiment) -> Box<dyn Objective>;

/// An error of the user's input (exit code 2) rather than of the system (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Prints `err` as hpo reports errors (`hpo: error: ...` and its causes) and returns the exit
/// code: 2 for bad usage or configuration, 1 for anything else.
pub fn report_error(err: &anyhow::Error) -> u8 {
    eprintln!("hpo: error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    let usage = err
        .chain()
        .any(|e| e.is::<UsageError>() || e.is::<crate::config::ConfigError>());
    if usage { 2 } else { 1 }
}

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Local pool size (overrides `[compute] processes`).
    pub processes: Option<usize>,
    /// Experiment folder (overrides `[experiment] dir`).
    pub dir: Option<PathBuf>,
    /// No progress display.
    pub quiet: bool,
    /// Time left in the job; no set starts that cannot finish before it.
    pub walltime: Option<Duration>,
}

/// A folder ready to run: definition, lock, drawn table and the rows already there.
pub struct Prepared {
    pub experiment: Arc<Experiment>,
    pub table: Arc<Vec<SetSpec>>,
    pub rows: Vec<experiment::ResultRow>,
    pub lock: Lock,
}

/// Resolves `target` (a configuration or an experiment folder), creating the folder when it
/// does not exist yet, and locks it.
pub fn prepare(
    target: &Path,
    dir: Option<&Path>,
    custom_objective: bool,
) -> anyhow::Result<Prepared> {
    let usage = |e: experiment::ExperimentError| -> anyhow::Error {
        if e.is_usage() {
            UsageError(e.to_string()).into()
        } else {
            e.into()
        }
    };
    let (exp, exists) = experiment::resolve(target, dir).map_err(usage)?;
    if exp.objective.kind == ObjectiveKind::Custom && !custom_objective {
        return Err(UsageError(format!(
            "{}: `objective.custom`: this experiment's objective is a Rust function; run it with the program that defines it",
            exp.dir.join(experiment::CONFIG_FILE).display()
        ))
        .into());
    }
    let created = if exists {
        None
    } else {
        Some(experiment::create(&exp).map_err(usage)?)
    };
    let lock = Lock::acquire(&exp.dir)?;
    let table = match created {
        Some(table) => table,
        None => experiment::read_table(&exp.dir, &exp.space).map_err(usage)?,
    };
    let (rows, repair) =
        journal::read_and_repair(&exp.dir.join(experiment::RESULTS_FILE), &exp.space)?;
    report_repair(&repair);
    warn_files_left_behind(&exp);
    Ok(Prepared {
        experiment: Arc::new(exp),
        table: Arc::new(table),
        rows,
        lock,
    })
}

/// A command argument like `train.py` that names a file beside the configuration would not be
/// found where the command runs: say so before every evaluation fails on it.
fn warn_files_left_behind(exp: &Experiment) {
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
        eprintln!(
            "hpo: warning: the command's argument `{arg}` names a file beside the configuration, but each evaluation runs in {place}, where `{arg}` is not; write `{{config_dir}}/{arg}` to pass that file"
        );
    }
}

fn report_repair(repair: &Repair) {
    if repair.torn_line {
        eprintln!(
            "hpo: results.csv ended in a torn line (an interrupted write); it was cut off and that set will run again"
        );
    }
    if !repair.duplicates.is_empty() {
        let backup = repair
            .backup
            .as_ref()
            .map(|b| b.display().to_string())
            .unwrap_or_default();
        eprintln!(
            "hpo: results.csv held {} duplicated row(s) (sets {:?}); kept the first of each, original saved as {backup}",
            repair.duplicates.len(),
            repair.duplicates
        );
    }
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// CPUs this process may run on.
pub fn cpu_count() -> usize {
    nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .count()
        })
        .unwrap_or(1)
        .max(1)
}

/// Runs an experiment on the local fork pool. `factory` supplies a Rust objective (library
/// API); without it the configuration's builtin or command is used.
pub fn run_processes(
    target: &Path,
    options: &RunOptions,
    factory: Option<ObjectiveFactory>,
) -> anyhow::Result<Summary> {
    let prepared = prepare(target, options.dir.as_deref(), factory.is_some())?;
    let exp = prepared.experiment.clone();
    let remaining = prepared.table.len() - prepared.rows.len();
    let k = options.processes.unwrap_or(exp.compute.processes);
    if k == 0 || k > crate::config::MAX_PROCESSES {
        return Err(UsageError(format!(
            "--processes {k}: expected 1 to {}",
            crate::config::MAX_PROCESSES
        ))
        .into());
    }
    let k = k.min(remaining.max(1));
    let threads = std::env::var("OMP_NUM_THREADS")
        .ok()
        .unwrap_or_else(|| (cpu_count() / k).max(1).to_string());
    let mut pool = ForkPool::start(k, &mut |w, mut link| {
        worker_process_setup();
        let setup = WorkerSetup {
            experiment: exp.clone(),
            table: prepared.table.clone(),
            info: WorkerInfo {
                rank: None,
                host: hostname(),
                gpu: String::new(),
                cores: cpu_count().to_string(),
                pid: std::process::id(),
            },
            env: vec![("OMP_NUM_THREADS".into(), threads.clone())],
        };
        let mut objective = match factory {
            Some(f) => f(&exp),
            None => match objective::from_experiment(&exp) {
                Some(o) => o,
                None => return 2,
            },
        };
        match run_worker(&mut link, &setup, objective.as_mut()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("hpo: worker {}: {e}", w + 1);
                1
            }
        }
    })?;
    master::install_stop_handler();
    let summary = run_master_here(&prepared, &mut pool, options)?;
    pool.shutdown(Duration::from_secs(10));
    drop(prepared.lock);
    Ok(summary)
}

/// What every worker process does first: die with the master, leave Ctrl-C to the master,
/// keep BLAS single-threaded.
pub fn worker_process_setup() {
    objective::command::install_cleanup_handler();
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
    prepared: &Prepared,
    transport: &mut dyn crate::backend::Transport,
    options: &RunOptions,
) -> anyhow::Result<Summary> {
    let exp = &prepared.experiment;
    let mut journal = Journal::open(&exp.dir, &exp.space)?;
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    if let Some(display) =
        ProgressDisplay::new(prepared.table.len(), prepared.rows.len(), options.quiet)
    {
        observers.push(Box::new(display));
    }
    observers.extend(crate::monitor::hooks::observers(exp).map_err(|e| UsageError(e.to_string()))?);
    let master_options = MasterOptions {
        deadline: crate::slurm::deadline(options.walltime),
        deadline_margin: Duration::from_secs(5),
    };
    let result = master::run_master(
        exp,
        &prepared.table,
        &prepared.rows,
        &mut journal,
        transport,
        &mut observers,
        master_options,
    );
    let closed = journal.close();
    let summary = result?;
    closed?;
    Ok(summary)
}

/// What one rank of an MPI launch ends with.
#[derive(Debug)]
pub enum MpiRole {
    /// Rank 0: the master's summary.
    Master(Summary),
    /// A worker rank, with its exit code (it prints nothing of the run's outcome).
    Worker(u8),
    /// Rank 0 failed before the run started and has printed why: exit with this code.
    Reported(u8),
}

/// What rank 0 tells every worker after it resolved the folder: `code` 0 to go on (the folder
/// `dir` exists and holds the experiment; `compute` is the `[compute]` table in force), or the
/// exit code of its failure (the workers then exit with it, quietly).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct MpiSetup {
    code: u8,
    dir: PathBuf,
    compute: Option<crate::config::Compute>,
}

/// Runs one rank of `mpirun -np N hpo run TARGET`: rank 0 resolves the folder, takes its lock
/// and runs the master loop ([`run_master_here`]); ranks 1..N-1 load the stored experiment once
/// rank 0 has it ready and run [`run_worker`]. Call only when [`crate::backend::mpi::launched_by`]
/// says so, before any thread starts.
pub fn run_mpi(
    target: &Path,
    options: &RunOptions,
    factory: Option<ObjectiveFactory>,
) -> anyhow::Result<MpiRole> {
    use crate::backend::mpi::MpiWorld;
    // Before MPI starts its threads: every rank starts as a worker would (rank 0 then takes
    // Ctrl-C, SIGTERM and SIGUSR1 back with the master's handler).
    worker_process_setup();
    let world = MpiWorld::init()?;
    let rank = world.rank();
    if world.size() < 2 {
        return Err(UsageError(
            "mpirun started a single process: hpo needs one master (rank 0) and at least one worker; use `mpirun -np 2` or more, or run without mpirun (--processes K)".into(),
        )
        .into());
    }
    let placement = world.placement();
    if rank == 0 {
        let prepared = match options.processes {
            Some(_) => Err(UsageError(format!(
                "--processes cannot be combined with an MPI launch: mpirun already started {} ranks (rank 0 is the master, the others are workers)",
                world.size()
            ))
            .into()),
            None => prepare(target, options.dir.as_deref(), factory.is_some()),
        };
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                // Report before telling the workers: once one of them exits with the code,
                // the launcher takes the job down, and a message not yet written is lost.
                let code = report_error(&e);
                let setup = MpiSetup {
                    code,
                    dir: PathBuf::new(),
                    compute: None,
                };
                world.broadcast(Some(crate::backend::encode(&setup)))?;
                return Ok(MpiRole::Reported(code));
            }
        };
        let setup = MpiSetup {
            code: 0,
            dir: std::fs::canonicalize(&prepared.experiment.dir)
                .unwrap_or_else(|_| prepared.experiment.dir.clone()),
            compute: Some(prepared.experiment.compute.clone()),
        };
        world.broadcast(Some(crate::backend::encode(&setup)))?;
        master::install_stop_handler();
        let mut transport = world.master();
        match run_master_here(&prepared, &mut transport, options) {
            Ok(summary) => {
                drop(transport);
                drop(prepared.lock);
                Ok(MpiRole::Master(summary))
            }
            Err(e) => {
                // The workers wait for tasks that will not come: take the whole job down.
                eprintln!("hpo: error: {e:#}");
                world.abort(1)
            }
        }
    } else {
        let bytes = world.broadcast(None)?;
        let setup: MpiSetup = crate::backend::decode(&bytes)?;
        if setup.code != 0 {
            return Ok(MpiRole::Worker(setup.code));
        }
        match mpi_worker(&world, &setup, placement, factory) {
            Ok(()) if !world.launcher_alive() => {
                // The job is gone (its master with it): leave without finalizing MPI.
                eprintln!("hpo: rank {rank}: the MPI launcher is gone; exiting");
                std::process::exit(1)
            }
            Ok(()) => Ok(MpiRole::Worker(0)),
            Err(e) => {
                // A worker that cannot work would leave the master waiting: end the job.
                eprintln!("hpo: error on rank {rank}: {e:#}");
                world.abort(1)
            }
        }
    }
}

fn mpi_worker(
    world: &crate::backend::mpi::MpiWorld,
    setup: &MpiSetup,
    placement: crate::backend::mpi::Placement,
    factory: Option<ObjectiveFactory>,
) -> anyhow::Result<()> {
    let mut exp = experiment::load_stored(&setup.dir)?;
    if let Some(compute) = &setup.compute {
        exp.compute = compute.clone();
    }
    let table = experiment::read_table(&exp.dir, &exp.space)?;
    let binding = mpi_binding(
        &exp.compute,
        placement.worker_slot(),
        placement.node_workers(),
        std::env::var("CUDA_VISIBLE_DEVICES").ok().as_deref(),
        std::env::var("OMP_NUM_THREADS").ok().as_deref(),
        std::env::var("SLURM_CPUS_PER_TASK").ok().as_deref(),
    );
    let rank = world.rank();
    let mut env = vec![("OMP_NUM_THREADS".to_string(), binding.threads.clone())];
    if let Some(gpus) = &binding.gpus {
        env.push(("CUDA_VISIBLE_DEVICES".into(), gpus.clone()));
    }
    let exp = Arc::new(exp);
    let setup = WorkerSetup {
        experiment: exp.clone(),
        table: Arc::new(table),
        info: WorkerInfo {
            rank: u32::try_from(rank).ok(),
            host: hostname(),
            gpu: binding.gpus.unwrap_or_default(),
            cores: binding.threads,
            pid: std::process::id(),
        },
        env,
    };
    let mut objective = match factory {
        Some(f) => f(&exp),
        None => objective::from_experiment(&exp).ok_or_else(|| UsageError("this experiment's objective is a Rust function; run it with the program that defines it".into()))?,
    };
    let mut link = world.worker_link();
    run_worker(&mut link, &setup, objective.as_mut())?;
    Ok(())
}

/// The resources of one MPI worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpiBinding {
    /// `CUDA_VISIBLE_DEVICES` for its objective; `None`: no GPU binding.
    pub gpus: Option<String>,
    /// `OMP_NUM_THREADS` for its objective.
    pub threads: String,
}

/// The binding of the worker in node-local slot `slot` of `node_workers` (see `[compute]`):
/// GPUs from the inherited `CUDA_VISIBLE_DEVICES` list, else `0..gpus_per_node`, taking
/// `gpus_per_worker` (default 1) consecutive entries per slot, round robin when there are
/// more workers than GPUs; threads: see [`worker_threads`].
pub fn mpi_binding(
    compute: &crate::config::Compute,
    slot: usize,
    node_workers: usize,
    inherited_gpus: Option<&str>,
    inherited_threads: Option<&str>,
    slurm_cpus_per_task: Option<&str>,
) -> MpiBinding {
    let list: Vec<String> = match inherited_gpus.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s
            .split(',')
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .collect(),
        None => (0..compute.gpus_per_node.unwrap_or(0))
            .map(|g| g.to_string())
            .collect(),
    };
    let per_worker = compute.gpus_per_worker.unwrap_or(1).min(list.len());
    let gpus = (per_worker > 0).then(|| {
        (0..per_worker)
            .map(|j| list[(slot * per_worker + j) % list.len()].clone())
            .collect::<Vec<_>>()
            .join(",")
    });
    let mine = cpu_count();
    // SAFETY: sysconf has no preconditions.
    let online =
        usize::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).unwrap_or(mine);
    let threads = worker_threads(
        inherited_threads,
        slurm_cpus_per_task,
        mine,
        online,
        node_workers,
    );
    MpiBinding { gpus, threads }
}

/// `OMP_NUM_THREADS` of an MPI worker: an inherited `OMP_NUM_THREADS`; else, inside a Slurm
/// task (`SLURM_CPUS_PER_TASK`, set by `srun -c`/`--cpus-per-task` and inherited under
/// `mpirun`), the cores Slurm gave the task, or the CPUs of the affinity mask (`mine`) when
/// the launcher bound the worker to fewer; else the CPUs of the mask, shared between the
/// node's `node_workers` when the launcher did not bind (the mask is every `online` CPU).
pub fn worker_threads(
    inherited_threads: Option<&str>,
    slurm_cpus_per_task: Option<&str>,
    mine: usize,
    online: usize,
    node_workers: usize,
) -> String {
    if let Some(t) = inherited_threads.map(str::trim).filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    let mine = mine.max(1);
    let unbound = mine >= online;
    let per_task = slurm_cpus_per_task
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    let cores = match per_task {
        Some(c) if unbound => c,
        Some(c) => c.min(mine),
        None if unbound && node_workers > 1 => (mine / node_workers).max(1),
        None => mine,
    };
    cores.to_string()
}

#[cfg(test)]
mod mpi_binding_tests {
    use super::mpi_binding;
    use crate::config::Compute;

    fn gpus(compute: &Compute, slot: usize, inherited: Option<&str>) -> Option<String> {
        mpi_binding(compute, slot, 4, inherited, Some("3"), None).gpus
    }

    #[test]
    fn the_inherited_list_wins_and_wraps() {
        let c = Compute {
            gpus_per_node: Some(8),
            ..Compute::default()
        };
        let got: Vec<_> = (0..4).map(|s| gpus(&c, s, Some("3,5,7"))).collect();
        assert_eq!(got, ["3", "5", "7", "3"].map(|g| Some(g.to_string())));
    }

    #[test]
    fn gpus_per_node_and_per_worker_give_consecutive_ids() {
        let c = Compute {
            gpus_per_node: Some(4),
            gpus_per_worker: Some(2),
            ..Compute::default()
        };
        let got: Vec<_> = (0..3).map(|s| gpus(&c, s, None)).collect();
        assert_eq!(got, ["0,1", "2,3", "0,1"].map(|g| Some(g.to_string())));
        let off = Compute {
            gpus_per_node: Some(4),
            gpus_per_worker: Some(0),
            ..Compute::default()
        };
        assert_eq!(gpus(&off, 0, Some("1,2")), None);
        assert_eq!(gpus(&Compute::default(), 0, None), None);
        assert_eq!(gpus(&Compute::default(), 0, Some("")), None);
    }

    #[test]
    fn threads_come_from_the_environment_slurm_or_the_affinity_mask() {
        use super::worker_threads as t;
        // OMP_NUM_THREADS wins.
        assert_eq!(t(Some("6"), Some("4"), 2, 16, 2), "6");
        // Slurm's cores per task: bound to them, unbound (task/none), or a cgroup only.
        assert_eq!(t(None, Some("4"), 4, 16, 2), "4");
        assert_eq!(t(None, Some("4"), 2, 2, 2), "4");
        assert_eq!(t(None, Some("4"), 8, 16, 2), "4");
        // ...but never more than a binding that is narrower (mpirun --bind-to core).
        assert_eq!(t(None, Some("4"), 1, 16, 2), "1");
        assert_eq!(t(None, Some(" x"), 4, 16, 2), "4");
        // No Slurm: the mask, shared between the node's workers when nothing was bound.
        assert_eq!(t(None, None, 16, 16, 4), "4");
        assert_eq!(t(None, None, 3, 16, 4), "3");
        assert_eq!(t(None, None, 2, 2, 1), "2");
        assert_eq!(t(Some(""), None, 1, 2, 4), "1");
        let n: usize = mpi_binding(&Compute::default(), 0, 1, None, None, None)
            .threads
            .parse()
            .unwrap_or(0);
        assert_eq!(n, super::cpu_count());
    }
}
