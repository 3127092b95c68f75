//! MPI dispatch benchmark: evaluations per second of a builtin objective without delay
//! (20 000 sets) under `mpirun -np 3` and `-np 5` beside the local pool with `--processes 2`
//! and `4` (the same worker counts), the master's CPU share with a 50 ms objective, and a
//! nonblocking ping-pong of the transport's own frame sizes as the floor of one exchange.
//!
//! Runs the release `hpo` binary (`cargo build --release` first). `cargo bench --bench
//! mpi_dispatch`; `HPO_BENCH_SETS` changes the set count.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PING_ENV: &str = "HPO_BENCH_PINGPONG";

fn main() {
    if std::env::var_os(PING_ENV).is_some() {
        ping_pong_rank();
        return;
    }
    if Command::new("mpirun")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("mpirun not found: MPI benchmark skipped");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .current_dir(&root)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("cargo build --release failed");
        return;
    }
    let hpo = root.join("target/release/hpo");
    let sets: usize = std::env::var("HPO_BENCH_SETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    println!("machine: {} CPUs ({}), {}", cpus(), cpu_model(), hostname());
    println!();
    println!("dispatch, builtin sphere without delay, {sets} sets (best of 3 runs):");
    println!(
        "{:<26} {:>8} {:>12} {:>10} {:>14}",
        "launch", "workers", "evals/s", "wall s", "master CPU %"
    );
    for (label, launch, workers) in [
        ("mpirun -np 3", Launch::Mpi(3), 2),
        ("--processes 2", Launch::Processes(2), 2),
        ("mpirun -np 5 --oversub.", Launch::Mpi(5), 4),
        ("--processes 4", Launch::Processes(4), 4),
    ] {
        let best = (0..3)
            .filter_map(|_| run_once(&hpo, launch, &config(sets, "0.0")))
            .max_by(|a, b| a.rate.total_cmp(&b.rate));
        match best {
            Some(r) => println!(
                "{label:<26} {workers:>8} {:>12.0} {:>10.2} {:>14.1}",
                r.rate, r.wall, r.cpu_share
            ),
            None => println!("{label:<26} {workers:>8} {:>12}", "failed"),
        }
    }
    println!();
    println!("master CPU share, builtin with delay_s = 0.05, 400 sets:");
    for (label, launch) in [
        ("mpirun -np 3", Launch::Mpi(3)),
        ("--processes 2", Launch::Processes(2)),
        ("mpirun -np 5 --oversub.", Launch::Mpi(5)),
    ] {
        match run_once(&hpo, launch, &config(400, "0.05")) {
            Some(r) => println!(
                "{label:<26} wall {:>6.2} s, master CPU {:>6.3} s = {:>5.2}% of wall",
                r.wall, r.cpu, r.cpu_share
            ),
            None => println!("{label:<26} failed"),
        }
    }
    println!();
    println!(
        "ping-pong rank 0 <-> rank 1 (MPI_Isend + MPI_Improbe/Mrecv polled without sleeping):"
    );
    let out = Command::new("mpirun")
        .args(["-np", "2"])
        .arg(std::env::current_exe().unwrap_or_default())
        .env(PING_ENV, "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output();
    match out {
        Ok(o) => print!("{}", String::from_utf8_lossy(&o.stdout)),
        Err(e) => println!("ping-pong failed: {e}"),
    }
}

#[derive(Clone, Copy)]
enum Launch {
    Mpi(usize),
    Processes(usize),
}

struct Measured {
    rate: f64,
    wall: f64,
    cpu: f64,
    cpu_share: f64,
}

fn config(sets: usize, delay: &str) -> String {
    format!(
        "[experiment]\ndir = \"exp\"\nseed = 5\n[objective]\nbuiltin = \"sphere\"\ndirection = \"minimize\"\ndelay_s = {delay}\n\
         [[parameters]]\nname = \"x\"\ntype = \"float\"\n[[parameters]]\nname = \"y\"\ntype = \"float\"\n\
         [[sets]]\ncount = {sets}\nx = {{ random = [-5, 5] }}\ny = {{ random = [-5, 5] }}\n[compute]\nprovide_worker_path = false\nredirect_stdout = false\n"
    )
}

/// Runs one experiment in a fresh folder; reads the master's summary line.
fn run_once(hpo: &Path, launch: Launch, config: &str) -> Option<Measured> {
    let tmp = tempfile::tempdir().ok()?;
    let path = tmp.path().join("bench.toml");
    std::fs::write(&path, config).ok()?;
    let mut cmd = match launch {
        Launch::Mpi(n) => {
            let mut c = Command::new("mpirun");
            c.args(["-np", &n.to_string(), "--oversubscribe"]).arg(hpo);
            c
        }
        Launch::Processes(_) => Command::new(hpo),
    };
    cmd.arg("run")
        .arg(&path)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    if let Launch::Processes(k) = launch {
        cmd.args(["--processes", &k.to_string()]);
    }
    let start = Instant::now();
    let out = cmd.output().ok()?;
    let _total = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        eprintln!("{stderr}");
        return None;
    }
    // "... this run: N in S s (R/s) ... CPU C s (P% of wall)"
    let line = stderr.lines().find(|l| l.contains("this run:"))?;
    let after = |key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .find(|s| !s.is_empty())?
            .parse()
            .ok()
    };
    let done = after("this run: ")?;
    let rest = &line[line.find("this run: ")?..];
    let wall: f64 = rest
        .split(" in ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let cpu = after("CPU ")?;
    Some(Measured {
        rate: done / wall,
        wall,
        cpu,
        cpu_share: 100.0 * cpu / wall,
    })
}

fn ping_pong_rank() {
    let Ok(world) = hpo::backend::mpi::MpiWorld::init() else {
        eprintln!("MPI did not start");
        return;
    };
    let (task, done) = hpo::backend::frame_sizes();
    for (out, back, label) in [
        (task, done, "task out, result back"),
        (1024, 1024, "1 KiB each way"),
        (65_536, 65_536, "64 KiB each way"),
    ] {
        if let Some(secs) =
            world.ping_pong(out, back, 20_000.min(20_000_000 / out.max(back).max(1)))
        {
            println!(
                "{label:<24} {out:>6} B / {back:>6} B: {:>8.2} us per round trip ({:.0} round trips/s)",
                secs * 1e6,
                1.0 / secs
            );
        }
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}
