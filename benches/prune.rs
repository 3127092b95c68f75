//! The cost of early stopping: how many reports per second the master's rule can judge (the
//! pure `Pruner`, in this process), and the time a report takes end to end through a real
//! `hpo run` on the local pool: a Python function's `hpo.report` round trip, and a command's
//! line in `$HPO_REPORT_FILE` until the master stored it.
//!
//! ```text
//! cargo bench --bench prune                  # 2000 sets x 81 steps, 200 reports a set end to end
//! cargo bench --bench prune -- --quick       # 200 sets x 27 steps, 50 reports
//! ```
//! Prints a Markdown table for each (medians over 5 repetitions for the rules; over every
//! report of 4 sets on 2 workers end to end).

mod common;

use hpo::prune::{Pruner, PruningOptions, RuleName};
use std::process::Command;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// Reports per second a fresh pruner judges: every set reports every step, the sets
/// interleaved step by step as parallel workers would.
fn judge_rate(rule: Option<RuleName>, sets: usize, steps: u64) -> f64 {
    let options = rule.map(|rule| PruningOptions {
        rule,
        min_step: 1,
        max_step: Some(steps),
        reduction_factor: 3,
        output: None,
    });
    let mut pruner = Pruner::new(options);
    // A fixed pseudo-random curve per set: a level and a slope.
    let level = |i: usize| ((i * 7919) % 1000) as f64 / 1000.0;
    let t = Instant::now();
    let mut n = 0u64;
    for step in 1..=steps {
        for i in 0..sets {
            let v = level(i) + 1.0 / step as f64;
            std::hint::black_box(pruner.report(i, 1, step, v));
            n += 1;
        }
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// Runs `hpo run` on `config` in a fresh folder under `tmp`; returns the experiment folder.
fn run_hpo(tmp: &std::path::Path, name: &str, config: &str) -> std::path::PathBuf {
    let path = tmp.join(format!("{name}.toml"));
    std::fs::write(&path, config).expect("write config");
    let _ = std::fs::remove_dir_all(tmp.join(name));
    let hpo = env!("CARGO_BIN_EXE_hpo");
    let out = Command::new(hpo)
        .args(["run", path.to_str().unwrap_or_default(), "-p", "2", "-q"])
        .env("OPENBLAS_NUM_THREADS", "1")
        .output()
        .expect("run hpo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmp.join(name)
}

/// Microseconds per `hpo.report` call, timed inside the Python function.
fn python_round_trip(tmp: &std::path::Path, reports: usize) -> Vec<f64> {
    std::fs::write(
        tmp.join("latency.py"),
        format!(
            "import hpo, time\n\ndef objective(p):\n    times = []\n    for step in range(1, {reports} + 1):\n        t = time.perf_counter()\n        hpo.report(step, 1.0 / step)\n        times.append((time.perf_counter() - t) * 1e6)\n    times.sort()\n    return {{\"result\": 0.0, \"median_us\": times[len(times) // 2]}}\n"
        ),
    )
    .expect("write");
    let config = format!(
        "[experiment]\ndir = \"py\"\nseed = 1\n[objective]\npython = \"{{config_dir}}/latency.py:objective\"\n\
         [[parameters]]\nname = \"x\"\ntype = \"float\"\n[[sets]]\ncount = 4\nx = {{ random = [0, 1] }}\n\
         [pruning]\nrule = \"asha\"\nmax_step = {}\n",
        reports + 1
    );
    let dir = run_hpo(tmp, "py", &config);
    common::csv_rows(&dir.join("results.csv"))
        .iter()
        .filter_map(|r| {
            let m: serde_json::Value = serde_json::from_str(&r["metrics"]).ok()?;
            m["median_us"].as_f64()
        })
        .collect()
}

/// Milliseconds from a command's write of a line (its value is the time of writing) to the
/// master's record of it (curves.csv's `time`).
fn command_delay(tmp: &std::path::Path, reports: usize) -> Vec<f64> {
    let script = format!(
        "for s in $(seq 1 {reports}); do echo \"$s $(date +%s.%N)\" >> \"$HPO_REPORT_FILE\"; sleep 0.01; done; echo 0"
    );
    let config = format!(
        "[experiment]\ndir = \"cmd\"\nseed = 1\n[objective]\ncommand = [\"sh\", \"-c\", {script:?}]\n\
         [[parameters]]\nname = \"x\"\ntype = \"float\"\n[[sets]]\ncount = 4\nx = {{ random = [0, 1] }}\n"
    );
    let dir = run_hpo(tmp, "cmd", &config);
    common::csv_rows(&dir.join("curves.csv"))
        .iter()
        .filter_map(|r| {
            let written: f64 = r["value"].parse().ok()?;
            let stored = humantime::parse_rfc3339(&r["time"]).ok()?;
            let stored = stored
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs_f64();
            Some((stored - written) * 1e3)
        })
        .collect()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (sets, steps, reports) = if quick {
        (200, 27, 50)
    } else {
        (2000, 81, 200)
    };
    println!("## The rule's cost: reports judged per second ({sets} sets x {steps} steps)\n");
    println!("| rule | reports/s (median of 5) |\n|---|---|");
    for (name, rule) in [
        ("none (recorded only)", None),
        ("median", Some(RuleName::Median)),
        ("asha", Some(RuleName::Asha)),
        ("hyperband", Some(RuleName::Hyperband)),
    ] {
        let rates: Vec<f64> = (0..5).map(|_| judge_rate(rule, sets, steps)).collect();
        println!("| {name} | {:.3e} |", median(rates));
    }
    let tmp = std::env::temp_dir().join(format!("hpo-prune-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    println!("\n## A report end to end (hpo run, --processes 2, 4 sets x {reports} reports)\n");
    println!("| path | median | max |\n|---|---|---|");
    let py = python_round_trip(&tmp, reports);
    println!(
        "| Python `hpo.report` round trip (median per set) | {:.0} us | {:.0} us |",
        median(py.clone()),
        py.iter().copied().fold(f64::NAN, f64::max)
    );
    let cmd = command_delay(&tmp, reports);
    println!(
        "| command line in `$HPO_REPORT_FILE` until stored | {:.1} ms | {:.1} ms |",
        median(cmd.clone()),
        cmd.iter().copied().fold(f64::NAN, f64::max)
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
