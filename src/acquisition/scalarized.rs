//! Several objectives with one model per objective: each objective's losses get a Gaussian
//! process of their own (step 1's transform and normalization, step 2's fit, step 3's pending
//! points), and the acquisition is the expected improvement of the augmented Chebyshev
//! scalarization `s(y) = max_j w_j y_j + rho sum_j w_j y_j` over the best observed point,
//! with `y_j` objective `j` in its model's units scaled so that its observed values span
//! `[0, 1]`. The weights are drawn per proposal, as ParEGO draws them (`parego::weights`), so
//! proposals spread along the front. Each objective's losses are normalized (zero mean, unit
//! variance) but not power-transformed: the scaling to `[0, 1]` is then linear in the losses,
//! as ParEGO's, and the weights trade the objectives as they are measured (with the transform
//! the trade-offs bend, and the front was found less well: `docs/bayesian.md`). This is BoTorch's qParEGO (Daulton, Balandat and Bakshy,
//! NeurIPS 2020) for one point at a time: the scalarization is not Gaussian under the models,
//! so its expectation is a Monte Carlo average over fixed standard normal draws, common to
//! every point (the score is then a deterministic, piecewise smooth function of the
//! predictions, with a gradient for the refinement). It is computed as its logarithm; where
//! no draw improves, the score is far below and rises as the nearest draw nears the
//! incumbent, so the search is never flat.
//!
//! Against ParEGO's one model of the scalarized values, each model sees one smooth objective
//! rather than a kinked maximum of several, at the cost of a fit per objective.

use super::encoding::Encoder;
use super::model::PriorMean;
use super::{PendingRule, Problem, Report, maximize, model, parego, pending};
use crate::gp::Gp;
use ndarray::ArrayView2;
use rand_chacha::ChaCha8Rng;

/// Smallest latent variance a prediction is given (normalized units).
const VAR_FLOOR: f64 = 1e-12;
/// Draws of the Monte Carlo expected improvement.
const DRAWS: usize = 128;
/// The score where no draw improves: below the logarithm of any expected improvement the
/// draws can measure (at least `1e-300 / DRAWS`, whose logarithm is about -696).
const NO_IMPROVEMENT: f64 = -1e3;

/// The objectives of a suggestion with several: `losses[i]` are observed point `i`'s values
/// to minimize (one per objective), `weights` the proposal's scalarization weights.
#[derive(Clone, Copy, Debug)]
pub struct Objectives<'a> {
    pub losses: &'a [Vec<f64>],
    pub weights: &'a [f64],
}

/// One conditioned model per objective, and what the scalarization needs of each.
pub(super) struct OutputModels {
    models: Vec<Gp>,
    /// Per objective: the lowest observed value and the span of the observed values, in the
    /// model's units (the scale that maps them onto `[0, 1]`).
    lo: Vec<f64>,
    span: Vec<f64>,
    weights: Vec<f64>,
    /// The lowest scalarized value of an observed point (the incumbent).
    best: f64,
    /// Standard normal draws, one per objective each.
    draws: Vec<Vec<f64>>,
}

/// The objectives' models on the observed points `used`, with the `pending` points added
/// under `rule`, and the note of pending points that could not be added; `Err` says why a
/// model could not be conditioned. The incumbent is the best of the observed points that
/// `eligible` (given a point's index in the problem) accepts: the feasible ones.
#[allow(clippy::too_many_arguments)]
pub(super) fn fit(
    problem: &Problem,
    objectives: &Objectives,
    enc: &Encoder,
    used: &[usize],
    eligible: &dyn Fn(usize) -> bool,
    pending_points: &[&Vec<f64>],
    rule: PendingRule,
    rng: &mut ChaCha8Rng,
    report: &mut Report,
) -> Result<(OutputModels, String), String> {
    let k = objectives.weights.len();
    let mut models = Vec::with_capacity(k);
    let (mut lo, mut span) = (Vec::with_capacity(k), Vec::with_capacity(k));
    // The observed points, scaled per objective (rows: points), for the incumbent.
    let mut scaled = vec![Vec::with_capacity(k); used.len()];
    let mut note = String::new();
    for j in 0..k {
        // The points through step 1; the losses normalized but not power-transformed (see
        // the module documentation).
        let (x, _) = model::inputs(problem, enc, used);
        let y = normalized(used.iter().map(|&i| objectives.losses[i][j]).collect());
        let (_, gp, _) = model::fit_and_condition(x, y, PriorMean::Average, rng, report);
        let gp = gp.map_err(|e| e.to_string())?;
        let targets = gp.targets();
        let low = targets.iter().copied().fold(f64::INFINITY, f64::min);
        let high = targets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let width = if high > low { high - low } else { 1.0 };
        for (row, t) in scaled.iter_mut().zip(targets) {
            row.push((t - low) / width);
        }
        lo.push(low);
        span.push(width);
        let (gp, n) = pending::add(gp, pending_points, enc, rule);
        if note.is_empty() {
            note = n;
        }
        models.push(gp);
    }
    let draws = (0..DRAWS)
        .map(|_| (0..k).map(|_| maximize::gaussian(rng)).collect())
        .collect();
    let mut outputs = OutputModels {
        models,
        lo,
        span,
        weights: objectives.weights.to_vec(),
        best: 0.0,
        draws,
    };
    outputs.best = scaled
        .iter()
        .zip(used)
        .filter(|(_, i)| eligible(**i))
        .map(|(y, _)| outputs.scalarize(y).0)
        .fold(f64::INFINITY, f64::min);
    Ok((outputs, note))
}

/// `raw` with zero mean and unit variance (constant values: centred only).
fn normalized(raw: Vec<f64>) -> Vec<f64> {
    let n = raw.len().max(1) as f64;
    let mean = raw.iter().sum::<f64>() / n;
    let sd = (raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let sd = if sd > 1e-12 * mean.abs().max(1e-300) && sd.is_finite() {
        sd
    } else {
        1.0
    };
    raw.iter().map(|v| (v - mean) / sd).collect()
}

impl OutputModels {
    /// The first objective's model (its size sets the effort of the search).
    pub(super) fn first(&self) -> &Gp {
        &self.models[0]
    }

    /// The score for each row of `xs`.
    pub(super) fn value_rows(&self, xs: ArrayView2<f64>) -> Vec<f64> {
        let k = self.models.len();
        let mut means = vec![Vec::with_capacity(k); xs.nrows()];
        let mut sds = vec![Vec::with_capacity(k); xs.nrows()];
        for m in &self.models {
            let (mu, var) = m.predict(xs);
            for (i, (mu, var)) in mu.into_iter().zip(var).enumerate() {
                means[i].push(mu);
                sds[i].push(var.max(VAR_FLOOR).sqrt());
            }
        }
        means
            .iter()
            .zip(&sds)
            .map(|(m, s)| self.score(m, s).0)
            .collect()
    }

    /// The score at `u` (a unit-cube row) and its gradient.
    pub(super) fn value_grad(&self, u: &[f64]) -> (f64, Vec<f64>) {
        let k = self.models.len();
        let (mut mean, mut sd) = (Vec::with_capacity(k), Vec::with_capacity(k));
        let mut grads = Vec::with_capacity(k);
        for m in &self.models {
            let p = m.predict_grad(u);
            let floored = p.var < VAR_FLOOR;
            let s = p.var.max(VAR_FLOOR).sqrt();
            // d sd = d var / (2 sd); zero where the floor holds.
            let dsd: Vec<f64> = p
                .dvar
                .iter()
                .map(|v| if floored { 0.0 } else { v / (2.0 * s) })
                .collect();
            mean.push(p.mean);
            sd.push(s);
            grads.push((p.dmean, dsd));
        }
        let (value, dm, ds) = self.score(&mean, &sd);
        let mut grad = vec![0.0; u.len()];
        for (j, (gm, gs)) in grads.iter().enumerate() {
            for (out, (a, b)) in grad.iter_mut().zip(gm.iter().zip(gs)) {
                *out += dm[j] * a + ds[j] * b;
            }
        }
        (value, grad)
    }

    /// The score for predictions `(mean, sd)` per objective (model units), and its
    /// derivatives with respect to each mean and each sd: the log of the Monte Carlo expected
    /// improvement; where no draw improves, `NO_IMPROVEMENT` less the nearest draw's gap.
    fn score(&self, mean: &[f64], sd: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
        let k = mean.len();
        let (mut total, mut dm, mut ds) = (0.0, vec![0.0; k], vec![0.0; k]);
        let (mut nearest, mut near_at) = (f64::INFINITY, 0);
        let mut y = vec![0.0; k];
        for (s, z) in self.draws.iter().enumerate() {
            for j in 0..k {
                y[j] = (mean[j] + sd[j] * z[j] - self.lo[j]) / self.span[j];
            }
            let (v, arg) = self.scalarize(&y);
            let gap = v - self.best;
            if gap < 0.0 {
                total -= gap;
                for j in 0..k {
                    let w = self.slope(j, arg);
                    dm[j] -= w;
                    ds[j] -= w * z[j];
                }
            } else if gap < nearest {
                (nearest, near_at) = (gap, s);
            }
        }
        if total > 0.0 {
            // d log EI = d EI / EI, and EI = total / DRAWS: the count cancels.
            let scale = 1.0 / total;
            return (
                (total / self.draws.len() as f64).ln(),
                dm.iter().map(|v| v * scale).collect(),
                ds.iter().map(|v| v * scale).collect(),
            );
        }
        let z = &self.draws[near_at];
        for j in 0..k {
            y[j] = (mean[j] + sd[j] * z[j] - self.lo[j]) / self.span[j];
        }
        let (_, arg) = self.scalarize(&y);
        for j in 0..k {
            let w = self.slope(j, arg);
            dm[j] = -w;
            ds[j] = -w * z[j];
        }
        (NO_IMPROVEMENT - nearest, dm, ds)
    }

    /// `d s / d (model value of objective j)` where term `arg` is the largest.
    fn slope(&self, j: usize, arg: usize) -> f64 {
        let active = if j == arg { 1.0 } else { 0.0 };
        self.weights[j] * (parego::RHO + active) / self.span[j]
    }

    /// The augmented Chebyshev scalarization of scaled values, and which term is the largest.
    fn scalarize(&self, y: &[f64]) -> (f64, usize) {
        let mut arg = 0;
        let mut max = f64::NEG_INFINITY;
        let mut sum = 0.0;
        for (j, (v, w)) in y.iter().zip(&self.weights).enumerate() {
            let v = w * v;
            if v > max {
                (max, arg) = (v, j);
            }
            sum += v;
        }
        (max + parego::RHO * sum, arg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::Hyper;
    use ndarray::Array2;

    fn gp(y: Vec<f64>) -> Gp {
        let x = Array2::from_shape_vec((3, 2), vec![0.0, 0.0, 1.0, 0.5, 0.3, 1.0]).expect("shape");
        Gp::new(x, y, Hyper::default_for(2)).expect("gp")
    }

    fn models(weights: Vec<f64>, best: f64) -> OutputModels {
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
        OutputModels {
            models: vec![gp(vec![-1.0, 1.0, 0.2]), gp(vec![0.5, -0.7, 1.1])],
            lo: vec![-1.0, -0.7],
            span: vec![2.0, 1.8],
            weights,
            best,
            draws: (0..DRAWS)
                .map(|_| (0..2).map(|_| maximize::gaussian(&mut rng)).collect())
                .collect(),
        }
    }

    #[test]
    fn the_gradient_matches_finite_differences_and_the_rows_agree() {
        // Incumbents some draws improve on, and one none does (the far branch).
        let mut branches = [false, false];
        for (weights, best) in [
            (vec![0.3, 0.7], 0.2),
            (vec![0.9, 0.1], 0.6),
            (vec![0.5, 0.5], -50.0),
        ] {
            let m = models(weights, best);
            for u in [[0.4, 0.6], [0.1, 0.9], [0.8, 0.2]] {
                let (v, g) = m.value_grad(&u);
                branches[usize::from(v > NO_IMPROVEMENT)] = true;
                let row = Array2::from_shape_vec((1, 2), u.to_vec()).expect("shape");
                assert!((m.value_rows(row.view())[0] - v).abs() < 1e-9);
                let h = 1e-6;
                for j in 0..2 {
                    let (mut a, mut b) = (u, u);
                    a[j] += h;
                    b[j] -= h;
                    let fd = (m.value_grad(&a).0 - m.value_grad(&b).0) / (2.0 * h);
                    assert!(
                        (fd - g[j]).abs() < 1e-4 * (1.0 + fd.abs()),
                        "{u:?} {j}: {fd} {}",
                        g[j]
                    );
                }
            }
        }
        assert_eq!(branches, [true, true]);
    }

    #[test]
    fn a_point_better_on_every_objective_scores_higher() {
        let m = models(vec![0.5, 0.5], 0.3);
        let sd = [0.2, 0.2];
        let (better, _, _) = m.score(&[-0.8, -0.5], &sd);
        let (worse, _, _) = m.score(&[-0.6, -0.5], &sd);
        let (far, _, _) = m.score(&[5.0, 5.0], &[1e-6, 1e-6]);
        assert!(better > worse && worse > far, "{better} {worse} {far}");
        assert!(far < NO_IMPROVEMENT);
    }
}
