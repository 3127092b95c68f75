//! The Bayesian engine at large histories (d = 10): suggestion time against the number of
//! observed points n and pending points p, the exact model against the subset model of
//! `acquisition::Scale`; then regret of the two where both run, the subset forced at a low
//! threshold.
//!
//! `OPENBLAS_NUM_THREADS=1 cargo bench --bench bo_scale [-- --quick] [-- --cost-only]
//! [-- --regret-only --seeds N --first-seed S --forced FROM,EVALUATIONS[,SUBSET,PENDING]
//! --cases NAME:D,... --control --per-seed]`;
//! `BO_SCALE_ONLY=NAME` runs one function of the regret table; `--control` replaces the subset
//! model by the exact one seeded differently past the threshold (the spread of the draw alone);
//! `--first-seed S` runs seeds S.. (to extend an earlier run), `--per-seed` prints each seed's
//! regrets under the table (to pool runs).
//! Prints Markdown tables: medians [min, max] over repetitions.

mod common;

use hpo::acquisition::{BayesOptions, Problem, Report, Scale, suggest_scaled};
use hpo::objective::builtin::Builtin;
use hpo::space::Dim;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

const D: usize = 10;

fn dims(f: Builtin, d: usize) -> Vec<Dim> {
    common::real_dims(d, |i| f.domain(i))
}

/// The exact model whatever the history.
const EXACT: Scale = Scale {
    exact_up_to: usize::MAX,
    subset: 0,
    pending: 0,
};

/// Seconds of one suggestion on a random history of `n` points with `p` pending (Ackley,
/// d = 10), with the model `scale`.
fn cost(n: usize, p: usize, scale: &Scale, rep: u64) -> (f64, Report) {
    let f = Builtin::Ackley;
    let dims = dims(f, D);
    let mut rng = ChaCha8Rng::seed_from_u64(7 * n as u64 + p as u64 + rep);
    let xs: Vec<Vec<f64>> = (0..n)
        .map(|_| common::uniform_point(D, |i| f.domain(i), &mut rng))
        .collect();
    let ys: Vec<f64> = xs.iter().map(|x| f.eval(x)).collect();
    let pending: Vec<Vec<f64>> = (0..p)
        .map(|_| common::uniform_point(D, |i| f.domain(i), &mut rng))
        .collect();
    let problem = Problem {
        dims: &dims,
        observed_x: &xs,
        observed_y: &ys,
        pending: &pending,
    };
    let t = Instant::now();
    let (_, r) =
        suggest_scaled(&problem, &BayesOptions::default(), rep, scale, 0).expect("valid problem");
    (t.elapsed().as_secs_f64(), r)
}

/// Total seconds, median [min, max], and the median split fit / model / acquisition.
fn timed(n: usize, p: usize, scale: &Scale, reps: u64) -> String {
    let runs: Vec<(f64, Report)> = (0..reps).map(|r| cost(n, p, scale, r)).collect();
    let med = |f: &dyn Fn(&Report) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(|r| f(&r.1)).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    format!(
        "{} ({:.3} / {:.3} / {:.3})",
        spread(&runs.iter().map(|r| r.0).collect::<Vec<_>>()),
        med(&|r| r.fit_s),
        med(&|r| r.model_s),
        med(&|r| r.acquisition_s)
    )
}

fn spread(v: &[f64]) -> String {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    // Small regrets in scientific notation: 0.000 would hide which model is ahead.
    let num = |x: f64| match x != 0.0 && x.abs() < 0.01 {
        true => format!("{x:.2e}"),
        false => format!("{x:.3}"),
    };
    format!(
        "{} [{}, {}]",
        num(v[v.len() / 2]),
        num(v[0]),
        num(v[v.len() - 1])
    )
}

fn cost_table(quick: bool) {
    let sizes: &[usize] = if quick {
        &[1000, 2000, 10_000]
    } else {
        &[500, 1000, 1500, 2000, 5000, 10_000, 20_000]
    };
    let pendings: &[usize] = if quick { &[1000] } else { &[0, 1000] };
    let reps: u64 = if quick { 1 } else { 3 };
    println!("### Suggestion time, d = {D} (seconds)\n");
    println!("Each cell: total, median [min, max], then (fit / model / acquisition) medians.\n");
    println!("| n | pending | exact model | default model (`Scale::default()`) |");
    println!("|---|---|---|---|");
    for &p in pendings {
        for &n in sizes {
            // The exact model past 2,000 points takes minutes and gigabytes: not run.
            let exact = if n <= 2000 {
                timed(n, p, &EXACT, reps)
            } else {
                "not run".into()
            };
            let scaled = timed(n, p, &Scale::default(), reps);
            println!("| {n} | {p} | {exact} | {scaled} |");
        }
    }
}

/// Asynchronous search with `workers` points always pending (the oldest finishes first):
/// `start` random points, then Bayesian ones up to `total`; the best result's regret. With
/// `reseed_from`, suggestions from that count on take other seeds (the control of `--control`).
fn bayes_run(
    (f, d): (Builtin, usize),
    seed: u64,
    (workers, total): (usize, usize),
    scale: &Scale,
    reseed_from: Option<usize>,
) -> f64 {
    let dims = dims(f, d);
    let start = 20;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut xs: Vec<Vec<f64>> = (0..start)
        .map(|_| common::uniform_point(d, |i| f.domain(i), &mut rng))
        .collect();
    let mut ys: Vec<f64> = xs.iter().map(|x| f.eval(x)).collect();
    let mut pending: VecDeque<Vec<f64>> = VecDeque::new();
    let mut asked = start;
    while ys.len() < total {
        while asked < total && pending.len() < workers {
            let pend: Vec<Vec<f64>> = pending.iter().cloned().collect();
            let p = Problem {
                dims: &dims,
                observed_x: &xs,
                observed_y: &ys,
                pending: &pend,
            };
            let (s, _) = suggest_scaled(
                &p,
                &BayesOptions::default(),
                seed * 7919
                    + asked as u64
                    + reseed_from.filter(|&r| asked > r).map_or(0, |_| 1 << 32),
                scale,
                0,
            )
            .expect("valid problem");
            pending.push_back(s.x);
            asked += 1;
        }
        if let Some(x) = pending.pop_front() {
            ys.push(f.eval(&x));
            xs.push(x);
        }
    }
    ys.iter().copied().fold(f64::INFINITY, f64::min) - f.minimum()
}

/// The regret comparison's sizes: the subset's threshold and the evaluations of a run.
struct Forced {
    /// The subset model from this many points on (the default's proportions scaled down).
    from: usize,
    evaluations: usize,
    /// The subset's points and pending points kept, when not 5/8 and 5/16 of `from`.
    sizes: Option<(usize, usize)>,
}

/// Which runs of the regret table, and what it prints.
struct Runs {
    /// The second arm is the exact model again, its suggestions seeded differently from the
    /// threshold on, so the table shows how far two runs differ by the draw alone.
    control: bool,
    quick: bool,
    /// Seeds `first..first + count` (count: 3, or 2 with `quick`, unless given).
    first: u64,
    count: Option<u64>,
    /// Each seed's regrets printed under the table.
    per_seed: bool,
}

fn regret_table(
    Runs {
        control,
        quick,
        first,
        count: seeds,
        per_seed,
    }: Runs,
    sizes: Option<Forced>,
    cases: Option<Vec<(Builtin, usize)>>,
) {
    let sizes = sizes.unwrap_or(Forced {
        from: 80,
        evaluations: if quick { 100 } else { 200 },
        sizes: None,
    });
    let (subset, pending) = sizes
        .sizes
        .unwrap_or((sizes.from * 5 / 8, sizes.from * 5 / 16));
    let forced = Scale {
        exact_up_to: sizes.from,
        subset,
        pending,
    };
    let (total, default_seeds, workers) = (sizes.evaluations, if quick { 2u64 } else { 3 }, 4);
    let seeds = seeds.unwrap_or(default_seeds);
    let from = forced.exact_up_to;
    let (title, arm) = match control {
        true => (
            format!(
                "Control: the exact model against itself, suggestions seeded differently from n = {from}"
            ),
            "reseeded",
        ),
        false => (
            format!(
                "Regret, exact model vs subset model from n = {from} (subset {subset}, {pending} pending kept)"
            ),
            "subset",
        ),
    };
    println!(
        "\n### {title}, {total} evaluations, {workers} pending, median [min, max] over {seeds} seeds\n"
    );
    println!(
        "| function | d | exact | {arm} | seeds where the {arm} is lower / higher | {arm} s / exact s |"
    );
    println!("|---|---|---|---|---|---|");
    let cases = cases.unwrap_or(vec![
        (Builtin::Ackley, 10usize),
        (Builtin::Hartmann6, 6),
        (Builtin::Griewank, 5),
    ]);
    let only = std::env::var("BO_SCALE_ONLY").ok();
    let mut seeds_lines = Vec::new();
    for (f, d) in cases {
        if only.as_deref().is_some_and(|o| o != f.name()) {
            continue;
        }
        let out = Mutex::new(Vec::new());
        let jobs: Vec<(u64, bool)> = (first..first + seeds)
            .flat_map(|s| [(s, false), (s, true)])
            .collect();
        let next = Mutex::new(jobs.into_iter());
        std::thread::scope(|sc| {
            for _ in 0..2 {
                sc.spawn(|| {
                    loop {
                        let Some((seed, sub)) = next.lock().expect("lock").next() else {
                            break;
                        };
                        let scale = if sub && !control { forced } else { EXACT };
                        let reseed = (sub && control).then_some(forced.exact_up_to);
                        let t = Instant::now();
                        let r = bayes_run((f, d), seed, (workers, total), &scale, reseed);
                        out.lock()
                            .expect("lock")
                            .push((sub, r, t.elapsed().as_secs_f64(), seed));
                    }
                });
            }
        });
        let out = out.into_inner().expect("lock");
        let mut out = out;
        out.sort_by_key(|o| o.3);
        let pick =
            |sub: bool| -> Vec<f64> { out.iter().filter(|o| o.0 == sub).map(|o| o.1).collect() };
        // Seed by seed: the same first points and seeds for both models.
        let (exact, subset) = (pick(false), pick(true));
        let lower = subset.iter().zip(&exact).filter(|(s, e)| s < e).count();
        let higher = subset.iter().zip(&exact).filter(|(s, e)| s > e).count();
        let time = |sub: bool| -> f64 { out.iter().filter(|o| o.0 == sub).map(|o| o.2).sum() };
        println!(
            "| {} | {d} | {} | {} | {lower} / {higher} | {:.2} |",
            f.name(),
            spread(&exact),
            spread(&subset),
            time(true) / time(false)
        );
        if per_seed {
            for (seed, (e, s)) in (first..).zip(exact.iter().zip(&subset)) {
                seeds_lines.push(format!(
                    "| {} | {d} | {seed} | {e:.6e} | {s:.6e} |",
                    f.name()
                ));
            }
        }
    }
    if per_seed {
        println!("\n| function | d | seed | exact | {arm} |\n|---|---|---|---|---|");
        for line in seeds_lines {
            println!("{line}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    if !args.iter().any(|a| a == "--regret-only") {
        cost_table(quick);
    }
    let seeds = args
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok());
    if !args.iter().any(|a| a == "--cost-only") {
        // `--forced FROM,EVALUATIONS[,SUBSET,PENDING]`: the subset from FROM points on, runs of
        // EVALUATIONS, the subset's sizes 5/8 and 5/16 of FROM unless given.
        let sizes = args
            .iter()
            .position(|a| a == "--forced")
            .and_then(|i| args.get(i + 1))
            .map(|s| {
                let v: Vec<usize> = s
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .unwrap_or_default();
                match v[..] {
                    [from, evaluations] => Forced {
                        from,
                        evaluations,
                        sizes: None,
                    },
                    [from, evaluations, subset, pending] => Forced {
                        from,
                        evaluations,
                        sizes: Some((subset, pending)),
                    },
                    _ => {
                        eprintln!(
                            "bo_scale: --forced {s:?}: expected FROM,EVALUATIONS[,SUBSET,PENDING]"
                        );
                        std::process::exit(2)
                    }
                }
            });
        // `--cases NAME:D,...`: the functions of the table (default ackley:10,hartmann6:6,griewank:5).
        let cases = args
            .iter()
            .position(|a| a == "--cases")
            .and_then(|i| args.get(i + 1))
            .map(|list| {
                list.split(',')
                    .map(|c| {
                        c.split_once(':')
                            .and_then(|(n, d)| Some((Builtin::from_name(n)?, d.parse().ok()?)))
                            .filter(|(f, d)| f.accepts(*d))
                            .unwrap_or_else(|| {
                                eprintln!("bo_scale: --cases: {c:?} is not NAME:D of a builtin");
                                std::process::exit(2)
                            })
                    })
                    .collect()
            });
        let first = match args.iter().position(|a| a == "--first-seed") {
            None => 0,
            Some(i) => match args.get(i + 1).and_then(|s| s.parse().ok()) {
                Some(first) => first,
                None => {
                    eprintln!("bo_scale: --first-seed: expected a seed number");
                    std::process::exit(2)
                }
            },
        };
        let runs = Runs {
            control: args.iter().any(|a| a == "--control"),
            quick,
            first,
            count: seeds,
            per_seed: args.iter().any(|a| a == "--per-seed"),
        };
        regret_table(runs, sizes, cases);
    }
}
