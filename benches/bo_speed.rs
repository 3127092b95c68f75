//! Time per suggestion against the number of observed points, split into hyperparameter fit,
//! model conditioning and acquisition. Run with `OPENBLAS_NUM_THREADS=1 cargo bench --bench
//! bo_speed` (release). Prints a Markdown table: median [quartiles] over repetitions.

mod common;

use hpo::acquisition::{BayesOptions, Problem, suggest_with_report};
use hpo::objective::builtin::Builtin;
use hpo::space::Dim;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn ms(v: f64) -> String {
    format!("{:.1}", v * 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[20, 200]
    } else {
        &[20, 50, 100, 200, 500, 1000]
    };
    println!(
        "| d | n | total ms, median [q1, q3] | fit ms | model ms | acquisition ms | fit points | LML evals | candidates (exact) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (d, f) in [(2usize, Builtin::Branin), (6, Builtin::Hartmann6)] {
        let dims: Vec<Dim> = common::real_dims(d, |i| f.domain(i));
        for &n in sizes {
            let reps = if n >= 500 { 5 } else { 9 };
            let (mut total, mut fit, mut model, mut acq, mut pts, mut evals) =
                (vec![], vec![], vec![], vec![], vec![], vec![]);
            let (mut cands, mut exact) = (vec![], vec![]);
            for rep in 0..reps {
                let mut rng = ChaCha8Rng::seed_from_u64(1000 * n as u64 + rep);
                let xs: Vec<Vec<f64>> = (0..n)
                    .map(|_| common::uniform_point(d, |i| f.domain(i), &mut rng))
                    .collect();
                let ys: Vec<f64> = xs.iter().map(|x| f.eval(x)).collect();
                let p = Problem {
                    dims: &dims,
                    observed_x: &xs,
                    observed_y: &ys,
                    pending: &[],
                };
                let t = Instant::now();
                let (_, r) =
                    suggest_with_report(&p, &BayesOptions::default(), rep).expect("valid problem");
                total.push(t.elapsed().as_secs_f64());
                fit.push(r.fit_s);
                model.push(r.model_s);
                acq.push(r.acquisition_s);
                pts.push(r.fit_points as f64);
                evals.push(r.fit_evals as f64);
                cands.push(r.candidates as f64);
                exact.push(r.exact_scored as f64);
            }
            let (q1, med, q3) = common::quartiles(total);
            println!(
                "| {d} | {n} | {} [{}, {}] | {} | {} | {} | {} | {} | {} ({}) |",
                ms(med),
                ms(q1),
                ms(q3),
                ms(common::quartiles(fit).1),
                ms(common::quartiles(model).1),
                ms(common::quartiles(acq).1),
                common::quartiles(pts).1,
                common::quartiles(evals).1,
                common::quartiles(cands).1,
                common::quartiles(exact).1
            );
        }
    }
}
