//! The end of a job, end to end on the local pool: the deadline (from `--walltime`, or from
//! the Slurm job `hpo` runs in) cuts running evaluations off without recording them, a stop
//! signal lets running evaluations finish, and in every case the run exits with the
//! "resumable" code and a resume completes the table with each set exactly once.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const RESUMABLE: i32 = 75;

/// Sets whose evaluation marks its start (a file `started` in its worker folder), then sleeps
/// `$HPO_TEST_SLEEP` seconds (0 when unset).
fn config(dir: &Path, sets: usize) -> std::path::PathBuf {
    write_config(
        dir,
        "exp.toml",
        &command_config(
            "exp",
            "touch started; sleep ${HPO_TEST_SLEEP:-0}; echo {x}",
            sets,
            "",
        ),
    )
}

/// Waits until `n` evaluations have started.
fn wait_for_starts(dir: &Path, n: usize) {
    wait_until(Duration::from_secs(20), "evaluations did not start", || {
        std::fs::read_dir(dir.join("exp/worker_out"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().join("started").exists())
                    .count()
            })
            .unwrap_or(0)
            >= n
    });
}

fn results(dir: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let path = dir.join("exp/results.csv");
    if path.exists() {
        rows(&path)
    } else {
        Vec::new()
    }
}

#[test]
fn walltime_cuts_running_evaluations_off_and_a_resume_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), 4);
    let started = Instant::now();
    let out = hpo()
        .args([
            "run",
            cfg.to_str().unwrap(),
            "-p",
            "2",
            "-q",
            "--walltime",
            "7s",
        ])
        .env("HPO_TEST_SLEEP", "30")
        .env_remove("SLURM_JOB_ID")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(RESUMABLE), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");
    assert!(err.contains("2 evaluation(s) were cut off"), "{err}");
    assert!(results(tmp.path()).is_empty(), "a cut-off set has no row");

    let out = hpo()
        .args(["run", cfg.to_str().unwrap(), "-p", "2", "-q"])
        .env_remove("SLURM_JOB_ID")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = results(tmp.path());
    assert_each_index_once(&rows, 4);
    assert!(rows.iter().all(|r| r["status"] == "ok"));
}

#[test]
fn a_stop_signal_lets_running_evaluations_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), 6);
    let mut child = hpo()
        .args(["run", cfg.to_str().unwrap(), "-p", "2", "-q"])
        .env("HPO_TEST_SLEEP", "1.5")
        .env_remove("SLURM_JOB_ID")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = StderrLines::of(&mut child);
    wait_for_starts(tmp.path(), 2);
    // Twice, as a job's warning often arrives (every process of the job, and the batch
    // script's copy): a repeated SIGUSR1 is still only a warning, not an abort. The second
    // is sent once the first is handled, so the two are not merged into one.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    lines.wait_for("stopping: no new sets", Duration::from_secs(20));
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let status = child.wait().unwrap();
    let err = lines.all();
    assert_eq!(status.code(), Some(RESUMABLE), "{err}");
    let rows = results(tmp.path());
    assert_eq!(rows.len(), 2, "the two running sets finish: {err}");
    assert!(rows.iter().all(|r| r["status"] == "ok"));

    let out = hpo()
        .args(["run", cfg.to_str().unwrap(), "-p", "3", "-q"])
        .env_remove("SLURM_JOB_ID")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_each_index_once(&results(tmp.path()), 6);
}

#[test]
fn inside_a_slurm_job_the_job_end_is_the_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), 2);
    // A stand-in for `squeue -h -j ID -o "%e|%L"`: 17 s left, so evaluations are cut off
    // after about 7 s (the end less hpo's 10 s reserve).
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let squeue = bin.join("squeue");
    std::fs::write(&squeue, "#!/bin/sh\necho 'N/A|0:17'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&squeue, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let out = hpo()
        .args(["run", cfg.to_str().unwrap(), "-p", "2", "-q"])
        .env("HPO_TEST_SLEEP", "30")
        .env("SLURM_JOB_ID", "4242")
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(RESUMABLE), "{err}");
    assert!(err.contains("Slurm job 4242 ends in"), "{err}");
    assert!(err.contains("2 evaluation(s) were cut off"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");
    assert!(results(tmp.path()).is_empty(), "{err}");

    // An explicit --walltime wins over the job's end (and one this short starts nothing: it
    // is within the margin kept before a deadline).
    let started = Instant::now();
    let out = hpo()
        .args([
            "run",
            cfg.to_str().unwrap(),
            "-p",
            "2",
            "-q",
            "--walltime",
            "1s",
        ])
        .env("HPO_TEST_SLEEP", "30")
        .env("SLURM_JOB_ID", "4242")
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(RESUMABLE), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Slurm job"), "{}", stderr(&out));
    // Well short of the 30 s evaluation it must not wait for (a loose bound: CI is shared).
    assert!(started.elapsed() < Duration::from_secs(15));
}
