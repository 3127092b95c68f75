//! End-to-end tests of the MPI back end: real `mpirun` launches of the `hpo` binary with 2, 3
//! and 5 ranks on this machine (oversubscribed). Without `mpirun` they fail when
//! `HPO_REQUIRE_MPI=1` (the test script sets it) and are skipped with a message otherwise.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const HPO: &str = env!("CARGO_BIN_EXE_hpo");

/// Whether `mpirun` runs here. When it does not, the test fails if `HPO_REQUIRE_MPI=1` (as
/// `scripts/test.sh` sets it), and otherwise says loudly that it is skipped.
fn have_mpirun() -> bool {
    common::runs("mpirun", "HPO_REQUIRE_MPI")
}

/// `mpirun -np N hpo ARGS` with a clean binding environment.
fn mpirun(np: usize, args: &[&str]) -> Command {
    let mut cmd = Command::new("mpirun");
    cmd.args(["-np", &np.to_string(), "--oversubscribe", HPO])
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env_remove("OMP_NUM_THREADS")
        .env_remove("CUDA_VISIBLE_DEVICES");
    cmd
}

fn hpo(args: &[&str]) -> Command {
    let mut cmd = Command::new(HPO);
    cmd.args(args)
        .env_remove("OMP_NUM_THREADS")
        .env_remove("CUDA_VISIBLE_DEVICES");
    cmd
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("the command starts");
    if !out.status.success() {
        eprintln!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Writes `config` into a fresh folder; returns (folder, config path, experiment folder).
fn setup(config: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = common::write_config(tmp.path(), "exp.toml", config);
    let dir = tmp.path().join("exp");
    (tmp, path, dir)
}

/// results.csv of the experiment folder `dir`, one map (column -> value) per row.
fn rows(dir: &Path) -> Vec<std::collections::HashMap<String, String>> {
    common::rows(&dir.join("results.csv"))
}

fn builtin_config(count: usize, bayesian: usize, delay: &str) -> String {
    let mut s = format!(
        "[experiment]\ndir = \"exp\"\nseed = 7\n[objective]\nbuiltin = \"griewank\"\ndirection = \"minimize\"\ndelay_s = {delay}\n\
         [[parameters]]\nname = \"x\"\ntype = \"float\"\n[[parameters]]\nname = \"y\"\ntype = \"float\"\n\
         [[sets]]\ncount = {count}\nx = {{ random = [-5, 5], round = 3 }}\ny = {{ choice = [1.2, 3.4, 5.4, 6.3] }}\n"
    );
    if bayesian > 0 {
        s += &format!(
            "[[sets]]\ncount = {bayesian}\nx = {{ bayesian = [-5, 5], round = 3 }}\ny = {{ bayesian = [-5, 5], round = 3 }}\n"
        );
    }
    s
}

/// `sh -c SCRIPT` over `count` sets, with these `[compute]` keys.
fn command_config(script: &str, count: usize, compute: &str) -> String {
    common::command_config("exp", script, count, &format!("[compute]\n{compute}\n"))
}

#[test]
fn quickstart_like_runs_every_set_once_with_2_3_and_5_ranks() {
    if !have_mpirun() {
        return;
    }
    for np in [2, 3, 5] {
        let (_tmp, config, dir) = setup(&builtin_config(20, 6, "0.002"));
        let out = run(mpirun(np, &["run", config.to_str().unwrap_or_default()]));
        assert!(out.status.success(), "mpirun -np {np} failed");
        let rows = rows(&dir);
        common::assert_each_index_once(&rows, 26);
        assert!(rows.iter().all(|r| r["status"] == "ok"));
        let ranks: BTreeSet<String> = rows.iter().map(|r| r["rank"].clone()).collect();
        assert!(
            ranks
                .iter()
                .all(|r| r.parse::<usize>().is_ok_and(|r| (1..np).contains(&r))),
            "ranks {ranks:?}"
        );
        let status = std::fs::read_to_string(dir.join("status.json")).expect("status.json");
        assert!(status.contains("\"mpi\""), "{status}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("26 of 26 sets done"), "{stderr}");
    }
}

#[test]
fn idle_ranks_get_bayesian_sets_at_once_and_propose_distinct_points() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&common::pool_config("exp", 6, 18, 0.3, "together"));
    let out = run(mpirun(
        7,
        &["run", config.to_str().unwrap_or_default(), "-q"],
    ));
    assert!(out.status.success(), "mpirun -np 7 failed");
    let together = rows(&dir);
    common::assert_each_index_once(&together, 24);
    common::assert_concurrent_distinct_proposals(&together);
    // In turn: each waits for the proposals before it.
    let (_tmp, config, dir) = setup(&common::pool_config("exp", 4, 8, 0.2, "in_turn"));
    let out = run(mpirun(
        5,
        &["run", config.to_str().unwrap_or_default(), "-q"],
    ));
    assert!(out.status.success(), "mpirun -np 5 failed");
    let in_turn = rows(&dir);
    common::assert_each_index_once(&in_turn, 12);
    common::assert_proposed_in_turn(&in_turn);
}

const ENV_SCRIPT: &str =
    "printf '%s;%s' \"$CUDA_VISIBLE_DEVICES\" \"$OMP_NUM_THREADS\" > env.txt; echo $HPO_PARAM_X";

/// Per row: (rank, gpu column, cores column, the objective's CUDA_VISIBLE_DEVICES, its OMP_NUM_THREADS).
fn bindings(dir: &Path) -> Vec<(usize, String, String, String, String)> {
    rows(dir)
        .iter()
        .map(|r| {
            let index: usize = r["index"].parse().expect("index");
            let env = std::fs::read_to_string(
                dir.join("worker_out")
                    .join(format!("{index:06}"))
                    .join("env.txt"),
            )
            .expect("env.txt");
            let (gpus, threads) = env.split_once(';').expect("two fields");
            (
                r["rank"].parse().expect("rank"),
                r["gpu"].clone(),
                r["cores"].clone(),
                gpus.to_string(),
                threads.to_string(),
            )
        })
        .collect()
}

#[test]
fn workers_bind_gpus_from_the_inherited_list_and_export_threads() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&command_config(ENV_SCRIPT, 24, ""));
    let mut cmd = mpirun(5, &["run", config.to_str().unwrap_or_default(), "-q"]);
    // mpirun passes its environment on to every rank.
    cmd.env("CUDA_VISIBLE_DEVICES", "3,5,7");
    assert!(run(cmd).status.success());
    let list = ["3", "5", "7"];
    for (rank, gpu, cores, env_gpus, env_threads) in bindings(&dir) {
        assert_eq!(gpu, list[(rank - 1) % 3], "rank {rank}");
        assert_eq!(env_gpus, gpu);
        assert_eq!(env_threads, cores);
        assert!(cores.parse::<usize>().is_ok_and(|c| c >= 1));
    }
}

#[test]
fn workers_bind_gpus_per_node_and_per_worker() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&command_config(ENV_SCRIPT, 16, "gpus_per_node = 2"));
    assert!(
        run(mpirun(
            5,
            &["run", config.to_str().unwrap_or_default(), "-q"]
        ))
        .status
        .success()
    );
    for (rank, gpu, _, env_gpus, _) in bindings(&dir) {
        assert_eq!(gpu, ((rank - 1) % 2).to_string(), "rank {rank}");
        assert_eq!(env_gpus, gpu);
    }
    let (_tmp, config, dir) = setup(&command_config(
        ENV_SCRIPT,
        16,
        "gpus_per_node = 4\ngpus_per_worker = 2",
    ));
    assert!(
        run(mpirun(
            5,
            &["run", config.to_str().unwrap_or_default(), "-q"]
        ))
        .status
        .success()
    );
    for (rank, gpu, _, env_gpus, _) in bindings(&dir) {
        assert_eq!(
            gpu,
            if rank % 2 == 1 { "0,1" } else { "2,3" },
            "rank {rank}"
        );
        assert_eq!(env_gpus, gpu);
    }
    // No GPU configured and none inherited: no binding.
    let (_tmp, config, dir) = setup(&command_config(ENV_SCRIPT, 8, ""));
    assert!(
        run(mpirun(
            3,
            &["run", config.to_str().unwrap_or_default(), "-q"]
        ))
        .status
        .success()
    );
    assert!(
        bindings(&dir)
            .iter()
            .all(|(_, gpu, _, env_gpus, _)| gpu.is_empty() && env_gpus.is_empty())
    );
}

#[test]
fn a_failing_objective_gives_failed_rows_and_the_run_goes_on() {
    if !have_mpirun() {
        return;
    }
    let script =
        "if [ $((HPO_INDEX % 3)) -eq 0 ]; then echo boom >&2; exit 3; fi; echo $HPO_PARAM_X";
    let (_tmp, config, dir) = setup(&command_config(script, 15, ""));
    assert!(
        run(mpirun(
            3,
            &["run", config.to_str().unwrap_or_default(), "-q"]
        ))
        .status
        .success()
    );
    let rows = rows(&dir);
    common::assert_each_index_once(&rows, 15);
    for r in &rows {
        let index: usize = r["index"].parse().expect("index");
        assert_eq!(
            r["status"] == "ok",
            !index.is_multiple_of(3),
            "set {index}: {r:?}"
        );
    }
}

#[test]
fn asha_prunes_reporting_commands_under_mpirun() {
    if !have_mpirun() {
        return;
    }
    let config = common::command_config("exp", common::REPORTING, 10, common::ASHA);
    let (_tmp, config, dir) = setup(&config);
    let out = run(mpirun(
        3,
        &["run", config.to_str().unwrap_or_default(), "-q"],
    ));
    assert!(out.status.success());
    let pruned = common::check_pruned(&dir, 10);
    assert!(!pruned.is_empty(), "asha stopped nothing");
    for r in &pruned {
        assert!(dir.join(format!("term-{}", r["index"])).exists(), "{r:?}");
    }
}

#[test]
fn pruned_sets_inform_the_model_of_bayesian_sets_under_mpirun() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&common::bayesian_asha_config(6, 4));
    let out = run(mpirun(
        3,
        &["run", config.to_str().unwrap_or_default(), "-q"],
    ));
    assert!(out.status.success());
    common::check_pruned_sets_reach_the_model(&dir, 6, 4);
}

#[test]
fn one_rank_is_refused() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&builtin_config(4, 0, "0.0"));
    let out = run(mpirun(1, &["run", config.to_str().unwrap_or_default()]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one worker"));
    assert!(!dir.exists());
}

#[test]
fn processes_with_mpi_and_bad_configs_exit_2_on_every_rank() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, _) = setup(&builtin_config(4, 0, "0.0"));
    let out = run(mpirun(
        3,
        &[
            "run",
            config.to_str().unwrap_or_default(),
            "--processes",
            "2",
        ],
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--processes cannot be combined"));
    let (_tmp, config, _) = setup("[experiment]\ndir = \"exp\"\nnonsense = 1\n");
    let start = Instant::now();
    let out = run(mpirun(3, &["run", config.to_str().unwrap_or_default()]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nonsense"),
        "the message naming the bad key was lost"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "the workers hung"
    );
}

/// Starts `first`, kills it with SIGKILL once some rows exist, resumes with `second`.
fn kill_and_resume(first: Command, second: Command, dir: &Path, total: usize) {
    let mut first = first;
    let mut child = first
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    common::wait_for_rows(&dir.join("results.csv"), 10, Duration::from_secs(60));
    child.kill().expect("kill");
    child.wait().expect("wait");
    let partial = rows(dir).len();
    assert!(
        partial < total,
        "the first run finished before it was killed"
    );
    // The killed job's processes let go of the folder's lock shortly after.
    let start = Instant::now();
    let mut second = second;
    loop {
        let out = second.output().expect("resume");
        if out.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            start.elapsed() < Duration::from_secs(30) && stderr.contains("in use"),
            "resume failed: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let rows = rows(dir);
    common::assert_each_index_once(&rows, total);
}

#[test]
fn an_mpi_experiment_resumes_with_processes_and_the_other_way_round() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&builtin_config(300, 0, "0.01"));
    let c = config.to_str().unwrap_or_default();
    kill_and_resume(
        mpirun(3, &["run", c, "-q"]),
        hpo(&["run", c, "-q", "--processes", "2"]),
        &dir,
        300,
    );
    let (_tmp, config, dir) = setup(&builtin_config(300, 0, "0.01"));
    let c = config.to_str().unwrap_or_default();
    kill_and_resume(
        hpo(&["run", c, "-q", "--processes", "2"]),
        mpirun(3, &["run", c, "-q"]),
        &dir,
        300,
    );
    assert!(
        rows(&dir).iter().any(|r| !r["rank"].is_empty()),
        "the MPI run did not add rows"
    );
}

#[test]
fn same_seed_gives_the_same_table_and_results_as_the_local_pool() {
    if !have_mpirun() {
        return;
    }
    let (_a, config_a, dir_a) = setup(&builtin_config(40, 0, "0.0"));
    let (_b, config_b, dir_b) = setup(&builtin_config(40, 0, "0.0"));
    assert!(
        run(mpirun(
            4,
            &["run", config_a.to_str().unwrap_or_default(), "-q"]
        ))
        .status
        .success()
    );
    assert!(
        run(hpo(&[
            "run",
            config_b.to_str().unwrap_or_default(),
            "-q",
            "--processes",
            "3"
        ]))
        .status
        .success()
    );
    let table =
        |d: &Path| std::fs::read_to_string(d.join("parameters.csv")).expect("parameters.csv");
    assert_eq!(table(&dir_a), table(&dir_b));
    let results = |d: &Path| -> BTreeMap<String, (String, String, String)> {
        rows(d)
            .into_iter()
            .map(|r| {
                (
                    r["index"].clone(),
                    (r["x"].clone(), r["y"].clone(), r["result"].clone()),
                )
            })
            .collect()
    };
    assert_eq!(results(&dir_a), results(&dir_b));
}

/// The hpo processes launched by `mpirun` (its children), with their MPI world rank.
fn ranks_of(mpirun: u32) -> Vec<(i32, u32)> {
    let children = std::fs::read_to_string(format!("/proc/{mpirun}/task/{mpirun}/children"))
        .unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .filter_map(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let rank = env
                .split(|b| *b == 0)
                .filter_map(|kv| std::str::from_utf8(kv).ok())
                .find_map(|kv| kv.strip_prefix("OMPI_COMM_WORLD_RANK="))?
                .parse()
                .ok()?;
            Some((pid, rank))
        })
        .collect()
}

#[test]
fn a_killed_worker_ranks_objective_leaves_no_process_behind() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&command_config(common::BACKGROUND_CHILD, 1, ""));
    let mut child = mpirun(2, &["run", config.to_str().expect("path"), "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let (worker, group, background) = common::background_child_pids(&dir.join("worker_out/000000"));
    assert!(common::alive(background) && common::group_has_live_member(group));
    assert!(
        ranks_of(child.id()).contains(&(worker, 1)),
        "the objective's parent is rank 1"
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker),
        nix::sys::signal::Signal::SIGKILL,
    );
    let status = child.wait().expect("wait");
    assert!(!status.success(), "MPI takes the job down");
    common::wait_until(
        Duration::from_secs(10),
        "the objective's background child outlived its killed rank",
        || !common::group_has_live_member(group),
    );
}

#[test]
fn a_killed_worker_rank_takes_the_job_down_and_the_experiment_resumes() {
    if !have_mpirun() {
        return;
    }
    let (_tmp, config, dir) = setup(&builtin_config(150, 0, "0.02"));
    let mut child = mpirun(3, &["run", config.to_str().expect("path"), "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    common::wait_for_rows(&dir.join("results.csv"), 10, Duration::from_secs(60));
    let ranks = ranks_of(child.id());
    let (worker, _) = *ranks
        .iter()
        .find(|(_, r)| *r == 2)
        .expect("rank 2 is running");
    let before = rows(&dir);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker),
        nix::sys::signal::Signal::SIGKILL,
    );
    let status = child.wait().expect("wait");
    assert!(
        !status.success(),
        "the job ends with an error when a rank dies"
    );
    // Every rank is gone (a zombie counts as gone), so nothing keeps evaluating.
    common::wait_until(Duration::from_secs(10), "ranks outlived the job", || {
        !ranks.iter().any(|(pid, _)| common::alive(*pid))
    });
    let out = run(hpo(&[
        "run",
        dir.to_str().expect("path"),
        "--processes",
        "2",
        "-q",
    ]));
    assert!(out.status.success());
    let after = rows(&dir);
    common::assert_each_index_once(&after, 150);
    for r in &before {
        assert!(after.contains(r), "row {r:?} lost or changed");
    }
}

#[test]
fn a_python_objective_runs_one_interpreter_per_rank_with_its_binding() {
    if !have_mpirun() {
        return;
    }
    if !common::runs("python3", "HPO_REQUIRE_PYTHON") {
        return;
    }
    let objective = "import os\n\ndef objective(p):\n    return {\"result\": p[\"x\"] * 2, \"pid\": os.getpid(),\n            \"gpus\": os.environ.get(\"CUDA_VISIBLE_DEVICES\"), \"threads\": os.environ.get(\"OMP_NUM_THREADS\")}\n";
    let config = "[experiment]\ndir = \"exp\"\nseed = 2\n[objective]\npython = \"f.py:objective\"\n\
                  [[parameters]]\nname = \"x\"\ntype = \"int\"\n[[sets]]\ncount = 24\nx = { random = [1, 9] }\n";
    let (tmp, path, dir) = setup(config);
    std::fs::write(tmp.path().join("f.py"), objective).expect("write f.py");
    let mut cmd = mpirun(3, &["run", path.to_str().unwrap_or_default(), "-q"]);
    cmd.env("CUDA_VISIBLE_DEVICES", "4,6");
    assert!(run(cmd).status.success());
    let rows = rows(&dir);
    common::assert_each_index_once(&rows, 24);
    let mut pid_of_rank: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for r in &rows {
        assert_eq!(r["status"], "ok", "{r:?}");
        let m: serde_json::Value = serde_json::from_str(&r["metrics"]).expect("metrics");
        let x: f64 = r["x"].parse().expect("x");
        assert_eq!(r["result"].parse::<f64>().ok(), Some(2.0 * x));
        assert_eq!(m["gpus"].as_str(), Some(r["gpu"].as_str()), "{r:?}");
        assert_eq!(m["threads"].as_str(), Some(r["cores"].as_str()), "{r:?}");
        pid_of_rank
            .entry(r["rank"].clone())
            .or_default()
            .insert(m["pid"].as_i64().expect("pid"));
    }
    // Ranks 1 and 2, one live interpreter each, bound to GPUs 4 and 6.
    assert_eq!(pid_of_rank.len(), 2, "{pid_of_rank:?}");
    assert!(
        pid_of_rank.values().all(|pids| pids.len() == 1),
        "{pid_of_rank:?}"
    );
    let gpus: BTreeSet<String> = rows.iter().map(|r| r["gpu"].clone()).collect();
    assert_eq!(gpus, BTreeSet::from(["4".to_string(), "6".to_string()]));
}

/// Fails (exit 4) for even `x` until the file `fixed` exists beside the configuration;
/// sleeps `$HPO_TEST_SLEEP` seconds (0 when unset); prints `x`.
const FLAKY: &str = "if [ ! -f {config_dir}/fixed ] && [ $(({x} % 2)) -eq 0 ]; then exit 4; fi; sleep ${HPO_TEST_SLEEP:-0}; echo {x}";

/// Starts `cmd`, kills it (SIGKILL) once `ready` holds, and waits until every process it
/// started is gone (the folder's lock with them).
fn kill_9_when(mut cmd: Command, ready: impl Fn() -> bool) {
    let mut child = cmd
        .env("HPO_TEST_SLEEP", "0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    common::wait_until(Duration::from_secs(90), "the run did not get far", ready);
    let started: Vec<i32> = common::children_of(child.id() as i32);
    child.kill().expect("kill");
    child.wait().expect("wait");
    common::wait_until(
        Duration::from_secs(20),
        "processes outlived the kill",
        || !started.iter().any(|p| common::alive(*p)),
    );
}

#[test]
fn an_experiment_grows_and_retries_under_mpirun_and_processes_across_kill_9() {
    if !have_mpirun() {
        return;
    }
    let tables = "[compute]\nmax_consecutive_failures = 0\n";
    let (tmp, config, dir) = setup(&common::command_config("exp", FLAKY, 20, tables));
    let c = config.to_str().unwrap_or_default();
    assert!(run(mpirun(3, &["run", c, "-q"])).status.success());
    let table = || std::fs::read_to_string(dir.join("parameters.csv")).unwrap_or_default();
    let (table_before, rows_before) = (table(), rows(&dir));

    // Grown (a count raised, a block appended) on the local pool, killed, resumed under mpirun.
    let grown = common::command_config(
        "exp",
        FLAKY,
        50,
        &format!("[[sets]]\ncount = 30\nx = {{ random = [1, 9] }}\n{tables}"),
    );
    std::fs::write(&config, grown).expect("write");
    let results = dir.join("results.csv");
    kill_9_when(hpo(&["run", c, "-q", "--processes", "2"]), || {
        std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) > 30
    });
    assert!(
        rows(&dir).len() < 80,
        "the grown run finished before the kill"
    );
    let out = run(mpirun(3, &["run", c, "-q"]));
    assert!(out.status.success());
    assert!(
        table().starts_with(&table_before),
        "the drawn table only grows"
    );
    let after = rows(&dir);
    common::assert_each_index_once(&after, 80);
    for r in &rows_before {
        assert!(after.contains(r), "row {r:?} changed");
    }

    // Grown again under mpirun, killed, resumed on the local pool.
    let again = common::command_config(
        "exp",
        FLAKY,
        90,
        &format!("[[sets]]\ncount = 30\nx = {{ random = [1, 9] }}\n{tables}"),
    );
    std::fs::write(&config, again).expect("write");
    let table_before = table();
    kill_9_when(mpirun(3, &["run", c, "-q"]), || {
        std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) > 83
    });
    let written = std::fs::read_to_string(&results).map_or(0, |t| t.lines().count());
    assert!(written <= 120, "the grown run finished before the kill");
    let out = run(hpo(&["run", c, "-q", "--processes", "2"]));
    assert!(out.status.success());
    assert!(
        table().starts_with(&table_before),
        "the drawn table only grows"
    );
    let before = after;
    let after = rows(&dir);
    common::assert_each_index_once(&after, 120);
    for r in &before {
        assert!(after.contains(r), "row {r:?} changed");
    }

    // Retried under mpirun, killed, resumed on the local pool.
    let failed: Vec<_> = after
        .iter()
        .filter(|r| r["status"] == "failed")
        .cloned()
        .collect();
    assert!(failed.len() > 10, "{} failed", failed.len());
    std::fs::write(tmp.path().join("fixed"), "").expect("write");
    let d = dir.to_str().unwrap_or_default();
    let ok_before = after.len() - failed.len();
    kill_9_when(mpirun(3, &["run", d, "-q", "--retry-failed"]), || {
        common::ok_rows(&results) >= ok_before + 4
    });
    assert!(
        common::ok_rows(&results) < 120,
        "the retry finished before the kill"
    );
    let out = run(hpo(&["run", d, "-q", "--retry-failed", "--processes", "2"]));
    assert!(out.status.success());
    let last = rows(&dir);
    common::assert_each_index_once(&last, 120);
    assert!(last.iter().all(|r| r["status"] == "ok"));
    let history = common::rows(&dir.join("history.csv"));
    assert_eq!(history.len(), failed.len(), "each replaced row once");
    for r in &failed {
        assert!(
            history.contains(r),
            "failed row {r:?} is not in history.csv"
        );
    }
}
