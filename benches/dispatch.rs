//! Dispatch throughput of the local pool: N random sets of a builtin objective with no delay
//! on `--processes K`, the whole `hpo run` command timed (start-up, table, journal, fsync).
//!
//! ```text
//! cargo bench --bench dispatch                 # N = 20000, K = 2, 5 repetitions
//! cargo bench --bench dispatch -- 100000 4 3   # N, K, repetitions
//! ```
//! Prints the median evaluations per second of the whole command, the rate of the run itself
//! (as `hpo` reports it) and the master's peak RSS.

use std::process::Command;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    let k = args.get(1).copied().unwrap_or(2);
    let reps = args.get(2).copied().unwrap_or(5);
    let tmp = std::env::temp_dir().join(format!("hpo-dispatch-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let config = tmp.join("dispatch.toml");
    std::fs::write(
        &config,
        format!(
            "[experiment]\ndir = \"exp\"\nseed = 1\n[objective]\nbuiltin = \"sphere\"\n\
             [[parameters]]\nname = \"x\"\ntype = \"float\"\n[[parameters]]\nname = \"y\"\ntype = \"float\"\n\
             [[sets]]\ncount = {n}\nx = {{ random = [-5, 5] }}\ny = {{ random = [-5, 5] }}\n\
             [compute]\nprovide_worker_path = false\nredirect_stdout = false\n"
        ),
    )
    .expect("write config");
    let mut whole = Vec::new();
    let mut inner = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..reps {
        let _ = std::fs::remove_dir_all(tmp.join("exp"));
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_hpo"))
            .args([
                "run",
                config.to_str().unwrap_or_default(),
                "--processes",
                &k.to_string(),
            ])
            .output()
            .expect("run hpo");
        let secs = t.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stderr);
        // "... ({rate}/s) ...; master peak RSS {x} MiB"
        let rate = text
            .split(" s (")
            .nth(1)
            .and_then(|s| s.split("/s)").next())
            .and_then(|s| s.parse::<f64>().ok());
        let mib = text
            .split("master peak RSS ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse::<f64>().ok());
        whole.push(n as f64 / secs);
        inner.extend(rate);
        rss.extend(mib);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    println!(
        "| N | K | whole command (evals/s, median of {reps}) | run loop (evals/s) | master peak RSS (MiB) |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {n} | {k} | {:.0} | {:.0} | {:.1} |",
        median(&mut whole),
        median(&mut inner),
        median(&mut rss)
    );
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
