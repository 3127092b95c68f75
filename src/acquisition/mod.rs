//! Proposing the values of a Bayesian set: the one entry point the worker calls.
//!
//! `suggest` is a pure function of (observed points, pending points, dimensions, options,
//! seed): the same inputs give the same point (one seeded ChaCha generator, no hash-map
//! iteration, no threads). It minimizes; the caller negates the results of a maximizing
//! experiment.
//!
//! What it is given: the caller fits on finished rows that ended well and whose Bayesian
//! columns lie inside the bounds (see `space::encode`); failed evaluations are excluded by the
//! caller and never reach this module. Points whose result or coordinates are not finite
//! numbers are dropped here too, so a NaN never reaches the model.
//!
//! Steps:
//! 1. Map points to the model's unit cube (`encoding`), normalize the results.
//! 2. Fit the Gaussian process hyperparameters (`crate::gp::fit`, on a subsample when there
//!    are many points) and condition it on every observed point (one Cholesky).
//! 3. Pending points (sets still running) are added with believed results: the model's mean
//!    (kriging believer), or the min/mean/max of the observed results (constant liar), by a
//!    block extension of the factor; or ignored. Either way a proposal never repeats an
//!    observed or pending point after rounding.
//! 4. Maximize the acquisition (log expected improvement, or the lower confidence bound
//!    `mean - kappa sd`): a global pass over quasi-random candidates plus perturbations of
//!    the best points, all taken to valid final values before they are scored, then projected
//!    L-BFGS on the continuous coordinates of the best few, rounded again and re-scored.
//!
//! Without any finished result, `space_filling` draws the point.

mod ei;
mod encoding;
pub mod options;
mod qmc;

pub use options::{Acquisition, BayesOptions, PendingRule};

use crate::gp::lbfgs::{LbfgsOptions, minimize};
use crate::gp::{self, FitOptions, Gp};
use crate::space::Dim;
use encoding::{Encoder, key};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use std::time::Instant;

/// What the suggestion is asked: points are in the dimensions' own units (a categorical
/// dimension as the position of its choice).
#[derive(Clone, Debug)]
pub struct Problem<'a> {
    pub dims: &'a [Dim],
    pub observed_x: &'a [Vec<f64>],
    /// Results to minimize, one per observed point.
    pub observed_y: &'a [f64],
    /// Points of sets still running, whose results are not known yet.
    pub pending: &'a [Vec<f64>],
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub x: Vec<f64>,
    /// Said in the results row (e.g. why the model was not used).
    pub note: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SuggestError {
    #[error("observed points have {got} coordinates, the problem has {expected} dimensions")]
    Dimension { expected: usize, got: usize },
    #[error("{points} observed points but {results} results")]
    Length { points: usize, results: usize },
}

/// Candidates of the global pass when the model is small; fewer for large models, where each
/// costs `O(n^2)` (see `candidate_count`).
const MAX_CANDIDATES: usize = 2048;
/// Candidates drawn around each of the best observed points.
const LOCAL_PER_POINT: usize = 64;
const LOCAL_CENTRES: usize = 5;
/// Candidates refined by gradient.
const REFINED: usize = 5;
/// Smallest latent variance the acquisition uses (normalized units): keeps log-EI finite at
/// observed points.
const VAR_FLOOR: f64 = 1e-12;

/// Global-pass candidates for a model of `n` points: each costs `O(n d)` kernel values and
/// `O(n^2)` for its variance, so the count shrinks as `1/n` past 80 points.
fn candidate_count(n: usize) -> usize {
    (160_000 / n.max(1)).clamp(256, MAX_CANDIDATES)
}

/// Noise floor of the extra "smooth plus noise" start of the fit (normalized units; see
/// `FitOptions::noisy_start`). 3e-2 is below the ripple variance of rugged test functions and
/// far above what a smooth function's fit chooses, so the likelihood tells them apart.
const NOISY_FLOOR: f64 = 3e-2;

/// Models larger than this score the global pass with `Gp::score_screened` (exact variance
/// only where a cheap upper bound says it can matter).
const SCREEN_FROM: usize = 96;
/// Points of the bounding subset (the lowest targets, where the acquisition is high) and exact
/// scores guaranteed at the top (the refinement starts with room for repeats).
const SCREEN_SUBSET: usize = 64;
const SCREEN_KEEP: usize = 32;

/// Points up to which the hyperparameters are fitted on every point, with more starts.
const FULL_FIT: usize = 64;

/// Fit effort: a likelihood evaluation costs `O(m^3)` (Cholesky and inverse), so beyond
/// `FULL_FIT` points the fit runs on a subsample of that size with fewer, shorter starts; the
/// model is still conditioned on every point. Length scales and variances are global
/// properties that 64 well-spread points (a quarter of them the best ones) estimate well.
fn fit_options(n: usize) -> FitOptions {
    if n <= FULL_FIT {
        FitOptions {
            starts: 3,
            max_iter: 40,
            max_points: FULL_FIT,
            noisy_start: NOISY_FLOOR,
        }
    } else {
        FitOptions {
            starts: 1,
            max_iter: 25,
            max_points: FULL_FIT,
            noisy_start: NOISY_FLOOR,
        }
    }
}

/// Proposes the next point to evaluate.
pub fn suggest(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
) -> Result<Suggestion, SuggestError> {
    suggest_with_report(problem, options, seed).map(|(s, _)| s)
}

/// Where the time of one suggestion went (wall clock; for benchmarks and logs only, it never
/// influences the result).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Hyperparameter fit (all optimizer starts).
    pub fit_s: f64,
    /// Conditioning on all points (and pending ones): the Cholesky factorizations.
    pub model_s: f64,
    /// Candidate scoring and gradient refinement.
    pub acquisition_s: f64,
    /// Points the hyperparameters were fitted on.
    pub fit_points: usize,
    /// Likelihood evaluations of the fit.
    pub fit_evals: usize,
    /// Candidates of the global pass, and how many of them got an exact variance.
    pub candidates: usize,
    pub exact_scored: usize,
}

/// `suggest`, also saying where the time went.
pub fn suggest_with_report(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
) -> Result<(Suggestion, Report), SuggestError> {
    let mut report = Report::default();
    let s = suggest_inner(problem, options, seed, &mut report)?;
    Ok((s, report))
}

fn suggest_inner(
    problem: &Problem,
    options: &BayesOptions,
    seed: u64,
    report: &mut Report,
) -> Result<Suggestion, SuggestError> {
    let dims = problem.dims;
    if let Some(x) = problem
        .observed_x
        .iter()
        .chain(problem.pending)
        .find(|x| x.len() != dims.len())
    {
        return Err(SuggestError::Dimension {
            expected: dims.len(),
            got: x.len(),
        });
    }
    if problem.observed_x.len() != problem.observed_y.len() {
        return Err(SuggestError::Length {
            points: problem.observed_x.len(),
            results: problem.observed_y.len(),
        });
    }
    let acquisition = match options.acquisition {
        Acquisition::Ei => Rule::Ei,
        Acquisition::Lcb => Rule::Lcb(options.kappa),
    };
    let pending_rule = options.pending;
    if dims.is_empty() {
        return Ok(Suggestion {
            x: Vec::new(),
            note: "no Bayesian dimension".into(),
        });
    }
    let finite = |x: &Vec<f64>| x.iter().all(|v| v.is_finite());
    // Results that are not numbers (and points with non-numeric coordinates) carry no
    // information the model can use.
    let used: Vec<usize> = (0..problem.observed_y.len())
        .filter(|&i| problem.observed_y[i].is_finite() && finite(&problem.observed_x[i]))
        .collect();
    let pending: Vec<&Vec<f64>> = problem.pending.iter().filter(|x| finite(x)).collect();
    let enc = Encoder::new(dims);
    let mut taken = BTreeSet::new();
    for x in used
        .iter()
        .map(|&i| &problem.observed_x[i])
        .chain(pending.iter().copied())
    {
        taken.insert(key(&enc.finish(x)));
    }
    if used.is_empty() {
        let skipped = problem.observed_y.len();
        let mut note = "no finished results yet: space-filling draw".to_string();
        if skipped > 0 {
            note = format!("no usable results ({skipped} not finite): space-filling draw");
        }
        return Ok(Suggestion {
            x: distinct_draw(&enc, dims, &taken, seed),
            note,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    // 1. Model inputs and normalized targets.
    let n = used.len();
    let width = enc.width();
    let mut x = Array2::<f64>::zeros((n, width));
    for (row, &i) in used.iter().enumerate() {
        if let Some(r) = x.row_mut(row).as_slice_mut() {
            enc.encode(&problem.observed_x[i], r);
        }
    }
    let raw: Vec<f64> = used.iter().map(|&i| problem.observed_y[i]).collect();
    let mean = raw.iter().sum::<f64>() / n as f64;
    let sd = (raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
    // Constant results: any scale will do, the model then only measures distance to data.
    let sd = if sd > 1e-12 * mean.abs().max(1e-300) && sd.is_finite() {
        sd
    } else {
        1.0
    };
    let y: Vec<f64> = raw.iter().map(|v| (v - mean) / sd).collect();

    // 2. Hyperparameters and the model on every observed point.
    let fit_opts = fit_options(n);
    let clock = Instant::now();
    let fit = gp::fit(x.view(), &y, &fit_opts, &mut rng);
    report.fit_s = clock.elapsed().as_secs_f64();
    report.fit_points = fit.points;
    report.fit_evals = fit.evals;
    let clock = Instant::now();
    let model = match Gp::new(x, y, fit.hyper.clone()) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Suggestion {
                x: distinct_draw(&enc, dims, &taken, seed),
                note: format!("model not usable ({e}): space-filling draw"),
            });
        }
    };

    // The incumbent of expected improvement: the lowest posterior mean at an observed point
    // ("plug-in"). For a near-noiseless model it is the best result; for a noisy one (a
    // rugged function fitted as smooth plus noise) a lucky low result no longer sets a bar
    // that only more exploration can clear, so the search exploits the smooth trend.
    let best = model
        .fitted_means()
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let best = if best.is_finite() {
        best
    } else {
        model
            .targets()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    };

    // 3. Pending points with believed results.
    let mut note_pending = String::new();
    let model = if pending.is_empty() || pending_rule == PendingRule::Ignore {
        model
    } else {
        let mut xp = Array2::<f64>::zeros((pending.len(), width));
        for (row, p) in pending.iter().enumerate() {
            if let Some(r) = xp.row_mut(row).as_slice_mut() {
                enc.encode(p, r);
            }
        }
        let yv = model.targets();
        let believed: Vec<f64> = match pending_rule {
            PendingRule::KrigingBeliever => model.predict(xp.view()).0,
            PendingRule::ConstantLiarMin => {
                vec![yv.iter().copied().fold(f64::INFINITY, f64::min); pending.len()]
            }
            PendingRule::ConstantLiarMax => {
                vec![yv.iter().copied().fold(f64::NEG_INFINITY, f64::max); pending.len()]
            }
            PendingRule::ConstantLiarMean => {
                vec![yv.iter().sum::<f64>() / yv.len() as f64; pending.len()]
            }
            PendingRule::Ignore => Vec::new(),
        };
        match model.extend(xp.view(), &believed) {
            Ok(m) => m,
            Err(e) => {
                note_pending = format!(", pending not modelled ({e})");
                model
            }
        }
    };

    report.model_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();

    // 4. Acquisition: global pass over valid final points.
    let score = Scorer {
        model: &model,
        acquisition,
        best,
    };
    let nq = candidate_count(model.len());
    let mut qs = qmc::shifted_halton(nq, dims.len(), &mut rng);
    let mut centres: Vec<usize> = (0..n).collect();
    centres.sort_by(|&a, &b| {
        problem.observed_y[used[a]]
            .total_cmp(&problem.observed_y[used[b]])
            .then(a.cmp(&b))
    });
    for &c in centres.iter().take(LOCAL_CENTRES) {
        let q0 = enc.to_unit(&problem.observed_x[used[c]]);
        for k in 0..LOCAL_PER_POINT {
            // Scales from a tenth of the cube down to fine steps for the last digits.
            let scale = [0.1, 0.03, 0.01, 0.002][k % 4];
            let q: Vec<f64> = dims
                .iter()
                .zip(&q0)
                .map(|(d, &u)| match d {
                    Dim::Real(_) => u + scale * gaussian(&mut rng),
                    Dim::Categorical(_) if rng.random::<f64>() < 0.2 => rng.random::<f64>(),
                    Dim::Categorical(_) => u,
                })
                .collect();
            qs.push(q);
        }
    }
    let mut pool: Vec<(f64, Vec<f64>)> = Vec::with_capacity(qs.len() + REFINED);
    let mut cand = Array2::<f64>::zeros((qs.len(), width));
    let finals: Vec<Vec<f64>> = qs.iter().map(|q| enc.point_at_unit(q)).collect();
    for (row, f) in finals.iter().enumerate() {
        if let Some(r) = cand.row_mut(row).as_slice_mut() {
            enc.encode(f, r);
        }
    }
    report.candidates = finals.len();
    if model.len() > SCREEN_FROM {
        let targets = model.targets();
        let mut subset: Vec<usize> = (0..targets.len()).collect();
        subset.sort_by(|&a, &b| targets[a].total_cmp(&targets[b]).then(a.cmp(&b)));
        subset.truncate(SCREEN_SUBSET);
        subset.sort_unstable();
        let (scores, exact) =
            model.score_screened(cand.view(), &subset, SCREEN_KEEP, |m, v| score.value(m, v));
        report.exact_scored = exact;
        for (s, f) in scores.into_iter().zip(finals) {
            pool.push((s, f));
        }
    } else {
        let (mu, var) = model.predict(cand.view());
        report.exact_scored = finals.len();
        for (i, f) in finals.into_iter().enumerate() {
            pool.push((score.value(mu[i], var[i]), f));
        }
    }
    pool.sort_by(|a, b| b.0.total_cmp(&a.0));

    // Gradient refinement of the best few distinct candidates, on the continuous columns.
    let free = enc.real_columns();
    if !free.is_empty() {
        let mut starts: Vec<Vec<f64>> = Vec::new();
        let mut seen = BTreeSet::new();
        for (_, f) in &pool {
            // Each refinement step costs O(n^2): fewer starts for large models.
            if starts.len()
                == if model.len() > SCREEN_FROM {
                    3
                } else {
                    REFINED
                }
            {
                break;
            }
            if seen.insert(key(f)) && !taken.contains(&key(f)) {
                starts.push(f.clone());
            }
        }
        let lo = vec![0.0; free.len()];
        let hi = vec![1.0; free.len()];
        let lbfgs = LbfgsOptions {
            max_iter: 30,
            memory: 6,
            gtol: 1e-7,
            ftol: 1e-9,
        };
        for f in starts {
            let mut u = vec![0.0; width];
            enc.encode(&f, &mut u);
            let u0: Vec<f64> = free.iter().map(|&c| u[c]).collect();
            let m = minimize(
                |z, g| {
                    let mut full = u.clone();
                    for (k, &c) in free.iter().enumerate() {
                        full[c] = z[k];
                    }
                    let (v, grad) = score.value_grad(&full);
                    for (k, &c) in free.iter().enumerate() {
                        g[k] = -grad[c];
                    }
                    -v
                },
                &u0,
                &lo,
                &hi,
                &lbfgs,
            );
            let mut full = u.clone();
            for (k, &c) in free.iter().enumerate() {
                full[c] = m.x[k];
            }
            // The refined point is rounded to valid values and scored where it will be run.
            let refined = enc.decode(&full);
            let mut ur = vec![0.0; width];
            enc.encode(&refined, &mut ur);
            let p = model.predict_grad(&ur);
            pool.push((score.value(p.mean, p.var), refined));
        }
        pool.sort_by(|a, b| b.0.total_cmp(&a.0));
    }

    report.acquisition_s = clock.elapsed().as_secs_f64();
    let name = match acquisition {
        Rule::Ei => "log-ei",
        Rule::Lcb(_) => "lcb",
    };
    let summary = format!(
        "gp: {n} points, {} pending ({}), hyperparameters fitted on {}{note_pending}",
        pending.len(),
        options.pending.as_str(),
        fit.points
    );
    match pool.iter().find(|(_, f)| !taken.contains(&key(f))) {
        Some((v, f)) => Ok(Suggestion {
            x: f.clone(),
            note: format!("{summary}, {name} {v:.4}"),
        }),
        None => {
            // Every candidate repeats a known point: the space is (nearly) exhausted.
            let x = pool
                .first()
                .map(|p| p.1.clone())
                .unwrap_or_else(|| space_filling(dims, seed));
            Ok(Suggestion {
                x,
                note: format!("{summary}; every candidate repeats an evaluated point"),
            })
        }
    }
}

/// The acquisition as scored: its kind, with the confidence bound's weight.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Ei,
    Lcb(f64),
}

/// The acquisition to maximize on a conditioned model (normalized units).
struct Scorer<'a> {
    model: &'a Gp,
    acquisition: Rule,
    best: f64,
}

impl Scorer<'_> {
    fn value(&self, mean: f64, var: f64) -> f64 {
        let sd = var.max(VAR_FLOOR).sqrt();
        match self.acquisition {
            Rule::Ei => ei::log_ei(mean, sd, self.best).0,
            Rule::Lcb(kappa) => kappa * sd - mean,
        }
    }

    fn value_grad(&self, u: &[f64]) -> (f64, Vec<f64>) {
        let p = self.model.predict_grad(u);
        let floored = p.var < VAR_FLOOR;
        let sd = p.var.max(VAR_FLOOR).sqrt();
        // d sd = d var / (2 sd); zero where the floor holds.
        let dsd: Vec<f64> = p
            .dvar
            .iter()
            .map(|v| if floored { 0.0 } else { v / (2.0 * sd) })
            .collect();
        match self.acquisition {
            Rule::Ei => {
                let (v, dm, ds) = ei::log_ei(p.mean, sd, self.best);
                (
                    v,
                    p.dmean
                        .iter()
                        .zip(&dsd)
                        .map(|(a, b)| dm * a + ds * b)
                        .collect(),
                )
            }
            Rule::Lcb(kappa) => (
                kappa * sd - p.mean,
                p.dmean
                    .iter()
                    .zip(&dsd)
                    .map(|(a, b)| kappa * b - a)
                    .collect(),
            ),
        }
    }
}

/// A standard normal draw (Box-Muller; `rand_distr` would do, this keeps the stream simple).
fn gaussian(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A space-filling draw that avoids known points when it can (a few seeded redraws).
fn distinct_draw(enc: &Encoder, dims: &[Dim], taken: &BTreeSet<Vec<u64>>, seed: u64) -> Vec<f64> {
    let first = enc.finish(&space_filling(dims, seed));
    let mut x = first.clone();
    for k in 1..64u64 {
        if !taken.contains(&key(&x)) {
            return x;
        }
        x = enc.finish(&space_filling(
            dims,
            seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        ));
    }
    first
}

/// A seeded draw used before any result exists.
pub fn space_filling(dims: &[Dim], seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    dims.iter()
        .map(|d| match d {
            Dim::Real(r) => r.point_at_unit(rng.random()),
            Dim::Categorical(n) => rng.random_range(0..(*n).max(1)) as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests;
