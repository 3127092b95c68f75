//! Seconds per Bayesian suggestion of hpo's engine, for `benches/suite` (one JSON line per
//! case). Points are drawn uniformly in the Branin box (d = 2) or the Hartmann6 box (d = 6) and
//! evaluated, as the peers' programs do; one `hpo::acquisition::suggest` call is timed per
//! repetition, wall clock and process CPU time. Run with one BLAS thread.
//!
//! ```text
//! cargo run --release --example suite_suggest -- --n 50,200 --d 2,6 --reps 5
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use hpo::acquisition::{BayesOptions, Problem, suggest};
use hpo::objective::builtin::Builtin;
use hpo::space::{Dim, Range};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn list(args: &[String], key: &str, default: &[usize]) -> Vec<usize> {
    args.iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec that lives for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes = list(&args, "--n", &[50, 200, 500, 1000]);
    let dims_list = list(&args, "--d", &[2, 6]);
    let reps = list(&args, "--reps", &[3])[0].max(1);
    for d in dims_list {
        let f = match d {
            2 => Builtin::Branin,
            6 => Builtin::Hartmann6,
            _ => {
                eprintln!("suite_suggest: d must be 2 or 6, not {d}");
                std::process::exit(2);
            }
        };
        let dims: Vec<Dim> = (0..d)
            .map(|i| {
                let (lo, hi) = f.domain(i);
                Dim::Real(Range {
                    lo,
                    hi,
                    log: false,
                    round: None,
                    integer: false,
                })
            })
            .collect();
        for &n in &sizes {
            let (mut wall, mut cpu, mut notes) = (vec![], vec![], vec![]);
            for rep in 0..reps {
                let mut rng = ChaCha8Rng::seed_from_u64(1000 * n as u64 + rep as u64);
                let xs: Vec<Vec<f64>> = (0..n)
                    .map(|_| common::uniform_point(d, |i| f.domain(i), &mut rng))
                    .collect();
                let ys: Vec<f64> = xs.iter().map(|x| f.eval(x)).collect();
                let problem = Problem {
                    dims: &dims,
                    observed_x: &xs,
                    observed_y: &ys,
                    pending: &[],
                };
                let (t, c) = (Instant::now(), cpu_seconds());
                let s = suggest(&problem, &BayesOptions::default(), rep as u64)
                    .expect("a valid problem");
                wall.push(t.elapsed().as_secs_f64());
                cpu.push(cpu_seconds() - c);
                notes.push(format!("{:?}", s.note));
            }
            println!(
                "{{\"n\": {n}, \"d\": {d}, \"seconds\": {wall:?}, \"cpu_seconds\": {cpu:?}, \"notes\": [{}]}}",
                notes.join(", ")
            );
        }
    }
}
