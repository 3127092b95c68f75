//! Constraints of a suggestion: one Gaussian process per constrained output, and the log
//! probability that a point satisfies them all, which the acquisition adds to its log expected
//! improvement (expected improvement weighted by the probability of feasibility), or
//! maximizes alone while no observed point is feasible.
//!
//! A constraint's values are normalized (zero mean, unit variance) but not power-transformed:
//! its bounds must keep their meaning, and they are normalized with the same mean and scale.
//! Pending points do not enter these models (a believed value would change no mean, and the
//! objective's model already keeps parallel proposals apart).

use super::encoding::Encoder;
use super::model::{self, PriorMean};
use super::{Constraint, Problem, Report};
use crate::gp::Gp;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Smallest latent variance a constraint's probability uses (normalized units).
const VAR_FLOOR: f64 = 1e-12;

/// One constraint's conditioned model and its bounds in the model's units.
pub(super) struct ConstraintModel {
    model: Gp,
    lo: Option<f64>,
    hi: Option<f64>,
}

/// The constraints' models, fitted on the observed points `used`; `None` when one cannot be
/// conditioned (the acquisition then ignores the constraints rather than guess).
pub(super) fn fit(
    problem: &Problem,
    constraints: &[Constraint],
    enc: &Encoder,
    used: &[usize],
    rng: &mut ChaCha8Rng,
) -> Option<Vec<ConstraintModel>> {
    let mut models = Vec::with_capacity(constraints.len());
    for c in constraints {
        let raw: Vec<f64> = used.iter().map(|&i| c.values[i]).collect();
        let n = raw.len() as f64;
        let mean = raw.iter().sum::<f64>() / n;
        let sd = (raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let sd = if sd > 1e-12 * mean.abs().max(1e-300) && sd.is_finite() {
            sd
        } else {
            1.0
        };
        let y: Vec<f64> = raw.iter().map(|v| (v - mean) / sd).collect();
        let (x, _) = model::inputs(problem, enc, used);
        let (_, gp, _) =
            model::fit_and_condition(x, y, PriorMean::Average, rng, &mut Report::default());
        models.push(ConstraintModel {
            model: gp.ok()?,
            lo: c.min.map(|v| (v - mean) / sd),
            hi: c.max.map(|v| (v - mean) / sd),
        });
    }
    Some(models)
}

/// `(log Phi(z), d log Phi / dz)`, finite for every finite `z`.
fn log_cdf(z: f64) -> (f64, f64) {
    if z > -30.0 {
        let cdf = (0.5 * libm::erfc(-z * FRAC_1_SQRT_2)).max(f64::MIN_POSITIVE);
        let pdf = (-0.5 * z * z).exp() / (2.0 * PI).sqrt();
        return (cdf.ln(), pdf / cdf);
    }
    // Mills' ratio: Phi(z) ~ phi(z) / -z * (1 - 1/z^2 + 3/z^4) far in the lower tail.
    let log_pdf = -0.5 * z * z - 0.5 * (2.0 * PI).ln();
    let (z2, z4) = (z * z, z * z * z * z);
    let series = 1.0 - 1.0 / z2 + 3.0 / z4;
    (log_pdf - (-z).ln() + series.ln(), -z / series)
}

fn pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

impl ConstraintModel {
    /// `(log P(lo <= f <= hi), d/dmean, d/dsd)` for a prediction `(mean, sd)`.
    fn log_prob(&self, mean: f64, sd: f64) -> (f64, f64, f64) {
        match (self.lo, self.hi) {
            (None, Some(hi)) => {
                let z = (hi - mean) / sd;
                let (v, d) = log_cdf(z);
                (v, -d / sd, -d * z / sd)
            }
            (Some(lo), None) => {
                let z = (mean - lo) / sd;
                let (v, d) = log_cdf(z);
                (v, d / sd, -d * z / sd)
            }
            (Some(lo), Some(hi)) => {
                let (a, b) = ((lo - mean) / sd, (hi - mean) / sd);
                let cdf = |z: f64| 0.5 * libm::erfc(-z * FRAC_1_SQRT_2);
                let p = (cdf(b) - cdf(a)).max(f64::MIN_POSITIVE);
                let dmean = (pdf(a) - pdf(b)) / sd / p;
                let dsd = (a * pdf(a) - b * pdf(b)) / sd / p;
                (p.ln(), dmean, dsd)
            }
            (None, None) => (0.0, 0.0, 0.0),
        }
    }
}

/// Log probability that every constraint holds, for each row of `xs`.
pub(super) fn log_prob_rows(models: &[ConstraintModel], xs: ndarray::ArrayView2<f64>) -> Vec<f64> {
    let mut total = vec![0.0; xs.nrows()];
    for m in models {
        let (mu, var) = m.model.predict(xs);
        for (t, (mu, var)) in total.iter_mut().zip(mu.into_iter().zip(var)) {
            *t += m.log_prob(mu, var.max(VAR_FLOOR).sqrt()).0;
        }
    }
    total
}

/// Log probability that every constraint holds at `u` (a unit-cube row), and its gradient.
pub(super) fn log_prob_grad(models: &[ConstraintModel], u: &[f64]) -> (f64, Vec<f64>) {
    let mut value = 0.0;
    let mut grad = vec![0.0; u.len()];
    for m in models {
        let p = m.model.predict_grad(u);
        let floored = p.var < VAR_FLOOR;
        let sd = p.var.max(VAR_FLOOR).sqrt();
        let (v, dm, ds) = m.log_prob(p.mean, sd);
        value += v;
        for (j, g) in grad.iter_mut().enumerate() {
            let dsd = if floored { 0.0 } else { p.dvar[j] / (2.0 * sd) };
            *g += dm * p.dmean[j] + ds * dsd;
        }
    }
    (value, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn model(lo: Option<f64>, hi: Option<f64>) -> ConstraintModel {
        let x = Array2::from_shape_vec((2, 1), vec![0.0, 1.0]).expect("shape");
        let gp = Gp::new(x, vec![-1.0, 1.0], crate::gp::Hyper::default_for(1)).expect("gp");
        ConstraintModel { model: gp, lo, hi }
    }

    #[test]
    fn log_probability_and_its_derivatives_match_finite_differences() {
        for (lo, hi) in [
            (None, Some(0.3)),
            (Some(-0.2), None),
            (Some(-0.5), Some(0.8)),
        ] {
            let m = model(lo, hi);
            for (mean, sd) in [(0.1, 0.7), (2.0, 0.3), (-3.0, 1.5)] {
                let (v, dm, ds) = m.log_prob(mean, sd);
                let h = 1e-6;
                let fm = (m.log_prob(mean + h, sd).0 - m.log_prob(mean - h, sd).0) / (2.0 * h);
                let fs = (m.log_prob(mean, sd + h).0 - m.log_prob(mean, sd - h).0) / (2.0 * h);
                assert!(v <= 0.0 && v.is_finite());
                assert!(
                    (fm - dm).abs() < 1e-4 * (1.0 + dm.abs()),
                    "{lo:?} {hi:?} {mean}: {fm} {dm}"
                );
                assert!(
                    (fs - ds).abs() < 1e-4 * (1.0 + ds.abs()),
                    "{lo:?} {hi:?} {mean}: {fs} {ds}"
                );
            }
        }
        // Far in the tail: finite, and continuous at the switch.
        let (a, b) = (log_cdf(-30.0 + 1e-9), log_cdf(-30.0 - 1e-9));
        assert!((a.0 - b.0).abs() < 1e-3 && log_cdf(-1e3).0.is_finite());
    }

    fn row(u: &[f64]) -> Array2<f64> {
        Array2::from_shape_vec((1, u.len()), u.to_vec()).expect("shape")
    }

    #[test]
    fn the_gradient_in_space_matches_finite_differences() {
        let models = [model(None, Some(0.0)), model(Some(-0.5), Some(0.5))];
        let u = [0.37];
        let (v, g) = log_prob_grad(&models, &u);
        let h = 1e-6;
        let f = |x: f64| log_prob_grad(&models, &[x]).0;
        let fd = (f(u[0] + h) - f(u[0] - h)) / (2.0 * h);
        assert!((fd - g[0]).abs() < 1e-4 * (1.0 + fd.abs()), "{fd} {}", g[0]);
        let rows = log_prob_rows(&models, row(&u).view());
        assert!((rows[0] - v).abs() < 1e-9);
    }
}
