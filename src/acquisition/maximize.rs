//! Step 4 of a suggestion: maximize the acquisition (log expected improvement, or the lower
//! confidence bound `mean - kappa sd`) on the conditioned model. A global pass scores
//! quasi-random candidates plus perturbations of the best observed points, all taken to valid
//! final values before they are scored; then projected L-BFGS refines the best few on their
//! continuous coordinates, and each refined point is rounded again and re-scored.

use super::encoding::{Encoder, key};
use super::feasibility::{self, ConstraintModel};
use super::scalarized::OutputModels;
use super::{Problem, Report, ei, qmc};
use crate::gp::Gp;
use crate::gp::lbfgs::{LbfgsOptions, minimize};
use crate::space::Dim;
use ndarray::Array2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

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

/// Models larger than this score the global pass with `Gp::score_screened` (exact variance
/// only where a cheap upper bound says it can matter), and refine fewer candidates.
const SCREEN_FROM: usize = 96;
/// Points of the bounding subset (the lowest targets, where the acquisition is high) and exact
/// scores guaranteed at the top (the refinement starts with room for repeats).
const SCREEN_SUBSET: usize = 64;
const SCREEN_KEEP: usize = 32;

/// Global-pass candidates for a model of `n` points: each costs `O(n d)` kernel values and
/// `O(n^2)` for its variance, so the count shrinks as `1/n` past 80 points.
fn candidate_count(n: usize) -> usize {
    (160_000 / n.max(1)).clamp(256, MAX_CANDIDATES)
}

/// Scored candidates, best first: the global pass, then the refined ones. `used` are the
/// observed points of the problem the model was fitted on; `taken` the keys of observed and
/// pending points (refinement starts only from new ones).
pub(super) fn maximize(
    score: &Scorer,
    enc: &Encoder,
    problem: &Problem,
    used: &[usize],
    taken: &BTreeSet<Vec<u64>>,
    rng: &mut ChaCha8Rng,
    report: &mut Report,
) -> Vec<(f64, Vec<f64>)> {
    let mut pool = global_pass(score, enc, problem, used, rng, report);
    refine(score, enc, taken, &mut pool);
    pool
}

/// Quasi-random candidates over the whole cube and perturbations of the best observed points,
/// at their valid final values, scored; best first.
fn global_pass(
    score: &Scorer,
    enc: &Encoder,
    problem: &Problem,
    used: &[usize],
    rng: &mut ChaCha8Rng,
    report: &mut Report,
) -> Vec<(f64, Vec<f64>)> {
    let model = score.model;
    let dims = problem.dims;
    let mut qs = qmc::shifted_halton(candidate_count(model.len()), dims.len(), rng);
    let mut centres: Vec<usize> = (0..used.len()).collect();
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
                    Dim::Real(_) => u + scale * gaussian(rng),
                    Dim::Categorical(_) if rng.random::<f64>() < 0.2 => rng.random::<f64>(),
                    Dim::Categorical(_) => u,
                })
                .collect();
            qs.push(q);
        }
    }
    let mut pool: Vec<(f64, Vec<f64>)> = Vec::with_capacity(qs.len() + REFINED);
    let mut finals: Vec<Vec<f64>> = qs.iter().map(|q| enc.point_at_unit(q)).collect();
    if enc.has_conditions() {
        // Candidates that differ only where they are inactive are one point: scored once.
        let mut seen = BTreeSet::new();
        finals.retain(|f| seen.insert(key(f)));
    }
    let mut cand = Array2::<f64>::zeros((finals.len(), enc.width()));
    for (row, f) in finals.iter().enumerate() {
        if let Some(r) = cand.row_mut(row).as_slice_mut() {
            enc.encode(f, r);
        }
    }
    report.candidates = finals.len();
    if let Some(outputs) = score.objectives {
        // One model per objective: every candidate is scored exactly.
        let values = outputs.value_rows(cand.view());
        let log_pof = match score.feasibility {
            Some(models) => feasibility::log_prob_rows(models, cand.view()),
            None => vec![0.0; finals.len()],
        };
        report.exact_scored = finals.len();
        for (i, f) in finals.into_iter().enumerate() {
            pool.push((score.combine(values[i], log_pof[i]), f));
        }
    } else if let Some(models) = score.feasibility {
        // The screening bound holds for a score of the mean and variance alone; with
        // constraints every candidate is scored exactly.
        let (mu, var) = model.predict(cand.view());
        let log_pof = feasibility::log_prob_rows(models, cand.view());
        report.exact_scored = finals.len();
        for (i, f) in finals.into_iter().enumerate() {
            pool.push((score.combine(score.value(mu[i], var[i]), log_pof[i]), f));
        }
    } else if model.len() > SCREEN_FROM {
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
    pool
}

/// Gradient refinement of the best few distinct new candidates of `pool`, on the continuous
/// columns; each refined point joins the pool (kept best first).
fn refine(
    score: &Scorer,
    enc: &Encoder,
    taken: &BTreeSet<Vec<u64>>,
    pool: &mut Vec<(f64, Vec<f64>)>,
) {
    let model = score.model;
    let width = enc.width();
    // Each refinement step costs O(n^2): fewer starts for large models.
    let wanted = if model.len() > SCREEN_FROM {
        3
    } else {
        REFINED
    };
    let mut starts: Vec<Vec<f64>> = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, f) in pool.iter() {
        if starts.len() == wanted {
            break;
        }
        if seen.insert(key(f)) && !taken.contains(&key(f)) {
            starts.push(f.clone());
        }
    }
    let lbfgs = LbfgsOptions {
        max_iter: 30,
        memory: 6,
        gtol: 1e-7,
        ftol: 1e-9,
    };
    for f in starts {
        // Only the real dimensions this point uses are refined.
        let free = enc.real_columns(&f);
        if free.is_empty() {
            continue;
        }
        let lo = vec![0.0; free.len()];
        let hi = vec![1.0; free.len()];
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
        if score.objectives.is_some() {
            pool.push((score.value_grad(&ur).0, refined));
            continue;
        }
        let p = model.predict_grad(&ur);
        let value = match score.feasibility {
            None => score.value(p.mean, p.var),
            Some(models) => score.combine(
                score.value(p.mean, p.var),
                feasibility::log_prob_grad(models, &ur).0,
            ),
        };
        pool.push((value, refined));
    }
    pool.sort_by(|a, b| b.0.total_cmp(&a.0));
}

/// The acquisition as scored: its kind, with the confidence bound's weight.
#[derive(Clone, Copy, Debug)]
pub(super) enum Rule {
    Ei,
    Lcb(f64),
}

/// The acquisition to maximize on a conditioned model (normalized units).
pub(super) struct Scorer<'a> {
    pub(super) model: &'a Gp,
    pub(super) acquisition: Rule,
    /// The incumbent; with constraints, among feasible points (infinite: none is feasible).
    pub(super) best: f64,
    /// The constraints' models, whose log probability of feasibility joins the score.
    pub(super) feasibility: Option<&'a [ConstraintModel]>,
    /// With several objectives, their models: the score is then minus the scalarized lower
    /// confidence bound (`scalarized.rs`), and `model` is the first objective's.
    pub(super) objectives: Option<&'a OutputModels>,
}

impl Scorer<'_> {
    /// The score with constraints: the acquisition plus the log probability of feasibility
    /// (for log EI, EI times the probability); the probability alone while no observed
    /// point is feasible.
    pub(super) fn combine(&self, acquisition: f64, log_pof: f64) -> f64 {
        if self.best.is_finite() {
            acquisition + log_pof
        } else {
            log_pof
        }
    }

    pub(super) fn value(&self, mean: f64, var: f64) -> f64 {
        let sd = var.max(VAR_FLOOR).sqrt();
        match self.acquisition {
            Rule::Ei => ei::log_ei(mean, sd, self.best).0,
            Rule::Lcb(kappa) => kappa * sd - mean,
        }
    }

    pub(super) fn value_grad(&self, u: &[f64]) -> (f64, Vec<f64>) {
        let (v, g) = self.acquisition_grad(u);
        let Some(models) = self.feasibility else {
            return (v, g);
        };
        let (lp, lg) = feasibility::log_prob_grad(models, u);
        if !self.best.is_finite() {
            return (lp, lg);
        }
        (v + lp, g.iter().zip(&lg).map(|(a, b)| a + b).collect())
    }

    fn acquisition_grad(&self, u: &[f64]) -> (f64, Vec<f64>) {
        if let Some(outputs) = self.objectives {
            return outputs.value_grad(u);
        }
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
pub(super) fn gaussian(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
