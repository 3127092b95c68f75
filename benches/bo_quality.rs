//! Search quality: 20 random points, then 40 Bayesian suggestions, simple regret (best found
//! minus the known minimum) over seeds, against random search with the same 60 evaluations.
//! Also a 4-worker variant: every suggestion is made while the 3 other workers' points are
//! pending (simulated; the oldest pending point finishes first).
//!
//! `OPENBLAS_NUM_THREADS=1 cargo bench --bench bo_quality [-- --quick]`; seeds run on two
//! threads (results do not depend on it). Prints Markdown tables.

mod common;

use hpo::acquisition::{BayesOptions, Problem, suggest};
use hpo::objective::builtin::Builtin;
use hpo::space::Dim;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Mutex;

const INITIAL: usize = 20;
const BAYES: usize = 40;

struct Case {
    name: &'static str,
    f: Builtin,
    d: usize,
    domain: fn(usize) -> (f64, f64),
    target: f64,
}

fn dims(c: &Case) -> Vec<Dim> {
    common::real_dims(c.d, c.domain)
}

fn random_point(c: &Case, rng: &mut ChaCha8Rng) -> Vec<f64> {
    common::uniform_point(c.d, c.domain, rng)
}

fn regret(c: &Case, ys: &[f64]) -> f64 {
    ys.iter().copied().fold(f64::INFINITY, f64::min) - c.f.minimum()
}

/// `workers` = 1: sequential; more: asynchronous with `workers - 1` pending points.
fn bayes_run(c: &Case, seed: u64, workers: usize, opts: &BayesOptions) -> f64 {
    let dims = dims(c);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut xs: Vec<Vec<f64>> = (0..INITIAL).map(|_| random_point(c, &mut rng)).collect();
    let mut ys: Vec<f64> = xs.iter().map(|x| c.f.eval(x)).collect();
    let mut pending: VecDeque<Vec<f64>> = VecDeque::new();
    let mut asked = 0;
    while ys.len() < INITIAL + BAYES {
        while asked < BAYES && pending.len() < workers {
            let pend: Vec<Vec<f64>> = pending.iter().cloned().collect();
            let p = Problem {
                dims: &dims,
                observed_x: &xs,
                observed_y: &ys,
                pending: &pend,
            };
            let s = suggest(&p, opts, seed * 7919 + asked as u64).expect("valid problem");
            pending.push_back(s.x);
            asked += 1;
        }
        if let Some(x) = pending.pop_front() {
            ys.push(c.f.eval(&x));
            xs.push(x);
        }
    }
    regret(c, &ys)
}

fn random_run(c: &Case, seed: u64) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ys: Vec<f64> = (0..INITIAL + BAYES)
        .map(|_| c.f.eval(&random_point(c, &mut rng)))
        .collect();
    regret(c, &ys)
}

fn cell(v: Vec<f64>) -> String {
    let (a, m, b) = common::quartiles(v);
    format!("{m:.3e} [{a:.2e}, {b:.2e}]")
}

/// Runs `f(seed)` for every seed on two threads; results in seed order.
fn over_seeds(seeds: u64, f: impl Fn(u64) -> f64 + Sync) -> Vec<f64> {
    let out = Mutex::new(vec![0.0; seeds as usize]);
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let (f, out) = (&f, &out);
            s.spawn(move || {
                for seed in (t..seeds).step_by(2) {
                    let r = f(seed);
                    if let Ok(mut o) = out.lock() {
                        o[seed as usize] = r;
                    }
                }
            });
        }
    });
    out.into_inner().unwrap_or_default()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let args0: Vec<String> = std::env::args().collect();
    // `--seeds N` overrides the number of seeds (for deciding between variants).
    let seeds: u64 = args0
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| args0.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3 } else { 10 });
    let cases = [
        Case {
            name: "Branin",
            f: Builtin::Branin,
            d: 2,
            domain: |i| Builtin::Branin.domain(i),
            target: 8.7e-5,
        },
        Case {
            name: "Hartmann6",
            f: Builtin::Hartmann6,
            d: 6,
            domain: |_| (0.0, 1.0),
            target: 0.0295,
        },
        Case {
            name: "Griewank 2D",
            f: Builtin::Griewank,
            d: 2,
            domain: |_| (-5.0, 5.0),
            target: 3.2e-4,
        },
        Case {
            name: "Ackley 5D",
            f: Builtin::Ackley,
            d: 5,
            domain: |_| (-5.0, 5.0),
            target: 1.97,
        },
    ];
    // `--only NAME` runs the cases whose name contains NAME.
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let opts = BayesOptions::default();
    println!(
        "Simple regret after {INITIAL} random + {BAYES} Bayesian evaluations, {seeds} seeds: median [q1, q3]"
    );
    println!();
    println!(
        "| function | target median | sequential | 4 workers (3 pending, kriging believer) | random search (60) |"
    );
    println!("|---|---|---|---|---|");
    for c in cases
        .iter()
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
    {
        let t = std::time::Instant::now();
        let seq = over_seeds(seeds, |s| bayes_run(c, s, 1, &opts));
        let par = over_seeds(seeds, |s| bayes_run(c, s, 4, &opts));
        let rnd = over_seeds(seeds, |s| random_run(c, s));
        println!(
            "| {} | {:.3e} | {} | {} | {} |",
            c.name,
            c.target,
            cell(seq),
            cell(par),
            cell(rnd)
        );
        eprintln!("{}: {:.1} s", c.name, t.elapsed().as_secs_f64());
    }
}
