//! Steps 1 and 2 of a suggestion: the model's inputs (points in the unit cube, results
//! power-transformed by `warp.rs`, then normalized to zero mean and unit variance), the fitted
//! hyperparameters, and the process conditioned on every observed point; and the incumbent
//! expected improvement measures from.

use super::encoding::Encoder;
use super::warp;
use super::{Problem, Report};
use crate::gp::{self, Fit, FitOptions, Gp};
use ndarray::Array2;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Noise floor of the extra "smooth plus noise" start of the fit (normalized units; see
/// `FitOptions::noisy_start`). 3e-2 is below the ripple variance of rugged test functions and
/// far above what a smooth function's fit chooses, so the likelihood tells them apart.
const NOISY_FLOOR: f64 = 3e-2;

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

/// Step 1: the observed points `used` (indices into the problem) as rows of the unit cube, and
/// their results transformed (an increasing map: the order and the best point are kept) and
/// normalized.
pub(super) fn inputs(problem: &Problem, enc: &Encoder, used: &[usize]) -> (Array2<f64>, Vec<f64>) {
    let n = used.len();
    let mut x = Array2::<f64>::zeros((n, enc.width()));
    for (row, &i) in used.iter().enumerate() {
        if let Some(r) = x.row_mut(row).as_slice_mut() {
            enc.encode(&problem.observed_x[i], r);
        }
    }
    let raw: Vec<f64> = used.iter().map(|&i| problem.observed_y[i]).collect();
    let raw = warp::yeo_johnson(&raw);
    let mean = raw.iter().sum::<f64>() / n as f64;
    let sd = (raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
    // Constant results: any scale will do, the model then only measures distance to data.
    let sd = if sd > 1e-12 * mean.abs().max(1e-300) && sd.is_finite() {
        sd
    } else {
        1.0
    };
    let y: Vec<f64> = raw.iter().map(|v| (v - mean) / sd).collect();
    (x, y)
}

/// Step 2: the hyperparameters (timed into `report.fit_s`) and the process conditioned on
/// every point with them. The clock of the conditioning is returned running, for
/// `report.model_s` (which also counts the pending points).
pub(super) fn fit_and_condition(
    x: Array2<f64>,
    y: Vec<f64>,
    rng: &mut ChaCha8Rng,
    report: &mut Report,
) -> (Fit, Result<Gp, gp::GpError>, Instant) {
    let clock = Instant::now();
    let fit = gp::fit(x.view(), &y, &fit_options(y.len()), rng);
    report.fit_s = clock.elapsed().as_secs_f64();
    report.fit_points = fit.points;
    report.fit_evals = fit.evals;
    let clock = Instant::now();
    let model = Gp::new(x, y, fit.hyper.clone());
    (fit, model, clock)
}

/// The incumbent of expected improvement: the lowest posterior mean at an observed point
/// ("plug-in"). For a near-noiseless model it is the best result; for a noisy one (a rugged
/// function fitted as smooth plus noise) a lucky low result no longer sets a bar that only
/// more exploration can clear, so the search exploits the smooth trend.
pub(super) fn incumbent(model: &Gp) -> f64 {
    let best = model
        .fitted_means()
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    if best.is_finite() {
        best
    } else {
        model
            .targets()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }
}
