//! One rank of `mpirun -np N hpo run TARGET`: rank 0 prepares the folder and runs the master,
//! the other ranks run workers, each bound to its share of the node (GPUs from
//! `CUDA_VISIBLE_DEVICES` or `[compute] gpus_per_node`, `OMP_NUM_THREADS` from its cores).

use super::{
    LaunchError, ObjectiveFactory, RunOptions, prepare, run_master_here, worker_process_setup,
};
use crate::backend::WorkerInfo;
use crate::backend::mpi::{MpiWorld, Placement};
use crate::config::Compute;
use crate::experiment;
use crate::master::{self, RunSummary};
use crate::messages::{error, note};
use crate::objective;
use crate::sys;
use crate::worker::{WorkerSetup, run_worker};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one rank of an MPI launch ends with.
#[derive(Debug)]
pub enum MpiRole {
    /// Rank 0: the master's summary.
    Master(Box<RunSummary>),
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
    compute: Option<Compute>,
}

/// Runs one rank of `mpirun -np N hpo run TARGET`: rank 0 resolves the folder, takes its lock
/// and runs the master loop ([`run_master_here`]); ranks 1..N-1 load the stored experiment once
/// rank 0 has it ready and run [`run_worker`]. Call only when [`crate::backend::mpi::launched_by`]
/// says so, before any thread starts. `report` prints an error of rank 0 the way the command
/// line reports errors and returns its exit code.
pub fn run_mpi(
    target: &Path,
    options: &RunOptions,
    factory: Option<ObjectiveFactory>,
    report: &dyn Fn(&anyhow::Error) -> u8,
) -> anyhow::Result<MpiRole> {
    // Before MPI starts its threads: every rank starts as a worker would (rank 0 then takes
    // Ctrl-C, SIGTERM and SIGUSR1 back with the master's handler).
    worker_process_setup();
    let world = MpiWorld::init()?;
    let rank = world.rank();
    if world.size() < 2 {
        return Err(LaunchError::SingleRank.into());
    }
    let placement = world.placement();
    if rank == 0 {
        // The master runs no objective.
        objective::watcher::stop_watcher();
        let prepared = match options.processes {
            Some(_) => Err(LaunchError::ProcessesUnderMpi {
                ranks: world.size(),
            }
            .into()),
            None => prepare(target, options.dir.as_deref(), factory.is_some()),
        };
        let mut prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                // Report before telling the workers: once one of them exits with the code,
                // the launcher takes the job down, and a message not yet written is lost.
                let code = report(&e);
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
        match run_master_here(&mut prepared, &mut transport, options) {
            Ok(summary) => {
                drop(transport);
                drop(prepared.lock);
                Ok(MpiRole::Master(Box::new(summary)))
            }
            Err(e) => {
                // The workers wait for tasks that will not come: take the whole job down.
                error!("{e:#}");
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
                note!("rank {rank}: the MPI launcher is gone; exiting");
                std::process::exit(1)
            }
            Ok(()) => Ok(MpiRole::Worker(0)),
            Err(e) => {
                // A worker that cannot work would leave the master waiting: end the job.
                note!("error on rank {rank}: {e:#}");
                world.abort(1)
            }
        }
    }
}

fn mpi_worker(
    world: &MpiWorld,
    setup: &MpiSetup,
    placement: Placement,
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
            host: sys::hostname(),
            gpu: binding.gpus.unwrap_or_default(),
            cores: binding.threads,
            pid: std::process::id(),
        },
        env,
    };
    let mut objective = match factory {
        Some(f) => f(&exp),
        None => objective::from_definition(&exp).ok_or_else(|| LaunchError::CustomObjective {
            config: exp.dir.join(experiment::CONFIG_FILE),
        })?,
    };
    let mut link = world.worker_link();
    let worked = run_worker(&mut link, &setup, objective.as_mut());
    // The objective ends its processes itself (a Python interpreter exits normally), then
    // the watcher goes.
    drop(objective);
    objective::watcher::stop_watcher();
    worked?;
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
    compute: &Compute,
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
    let mine = sys::cpu_count();
    let online = sys::online_cpus(mine);
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
        assert_eq!(n, crate::sys::cpu_count());
    }
}
