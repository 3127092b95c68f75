//! Fitting the hyperparameters: the log marginal likelihood with its analytic gradient (one
//! Cholesky factorization per evaluation), maximized by multi-start bounded L-BFGS on a
//! subsample of the points, with a noisy start for rugged functions and a BIC choice between
//! one shared length scale and one per input.

use super::chol::single_threaded_blas;
use super::kernel::{Hyper, LOG_LENGTH, LOG_NOISE, LOG_SIGNAL, matern52};
use super::lbfgs::{LbfgsOptions, minimize};
use ndarray::{Array2, ArrayView2};
use ndarray_linalg::{UPLO, cholesky::*};
use rand::Rng;

/// How the hyperparameters are fitted.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Optimizer starts: the default hyperparameters first, then seeded random ones.
    pub starts: usize,
    /// L-BFGS iterations per start.
    pub max_iter: usize,
    /// Fit on a subsample of at most this many points (the best quarter by target, the rest
    /// drawn at random); the model itself is then conditioned on all points.
    pub max_points: usize,
    /// When positive, one more start (after the others, from the default hyperparameters)
    /// whose noise variance may not fall below this (normalized units). On rugged functions
    /// (Ackley) the plain starts often stop in a near-interpolating local optimum with short
    /// length scales; this start reaches the smooth-plus-noise optimum, and the better
    /// likelihood wins, so smooth functions keep their near-noiseless fit.
    pub noisy_start: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            starts: 3,
            max_iter: 40,
            max_points: 200,
            noisy_start: 0.0,
        }
    }
}

/// What a fit found.
#[derive(Clone, Debug)]
pub struct Fit {
    pub hyper: Hyper,
    /// Negative log marginal likelihood at `hyper` (on the fitted subsample).
    pub neg_lml: f64,
    pub evals: usize,
    pub points: usize,
}

/// Squared coordinate differences of all pairs `i > j`, computed once per fit.
pub(super) struct Pairs {
    n: usize,
    d: usize,
    diff2: Vec<f64>,
}

impl Pairs {
    pub(super) fn new(x: ArrayView2<f64>) -> Pairs {
        let (n, d) = x.dim();
        let mut diff2 = Vec::with_capacity(n * (n.saturating_sub(1)) / 2 * d);
        for i in 0..n {
            for j in 0..i {
                for k in 0..d {
                    let t = x[[i, k]] - x[[j, k]];
                    diff2.push(t * t);
                }
            }
        }
        Pairs { n, d, diff2 }
    }
}

/// Negative log marginal likelihood and its gradient with respect to the log-parameters
/// `theta = (log l_1..log l_d, log signal, log noise)`. `+inf` where factorization fails.
pub(super) fn neg_lml(theta: &[f64], pairs: &Pairs, y: &[f64], grad: &mut [f64]) -> f64 {
    let (n, d) = (pairs.n, pairs.d);
    let inv_l2: Vec<f64> = theta[..d].iter().map(|t| (-2.0 * t).exp()).collect();
    let signal = theta[d].exp();
    let noise = theta[d + 1].exp();
    let npairs = n * n.saturating_sub(1) / 2;
    let mut kv = vec![0.0; npairs];
    let mut cv = vec![0.0; npairs];
    let mut k = Array2::<f64>::zeros((n, n));
    let mut p = 0;
    for i in 0..n {
        for j in 0..i {
            let r2: f64 = pairs.diff2[p * d..(p + 1) * d]
                .iter()
                .zip(&inv_l2)
                .map(|(a, b)| a * b)
                .sum();
            let (kk, c) = matern52(r2, signal);
            kv[p] = kk;
            cv[p] = c;
            k[[i, j]] = kk;
            p += 1;
        }
        // A fixed tiny jitter keeps the likelihood defined near the noise lower bound.
        k[[i, i]] = signal + noise + 1e-10 * signal;
    }
    let fac = match k.factorizec_into(UPLO::Lower) {
        Ok(f) => f,
        Err(_) => return f64::INFINITY,
    };
    let logdet = fac.ln_detc();
    let alpha = match fac.solvec(&ndarray::ArrayView1::from(y)) {
        Ok(a) => a,
        Err(_) => return f64::INFINITY,
    };
    let kinv = match fac.invc_into() {
        Ok(m) => m,
        Err(_) => return f64::INFINITY,
    };
    let fit: f64 = y.iter().zip(alpha.iter()).map(|(a, b)| a * b).sum();
    let value = 0.5 * fit + 0.5 * logdet + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    if !value.is_finite() {
        return f64::INFINITY;
    }
    // d LML / d theta = 1/2 tr(W dK/dtheta), W = alpha alpha^T - K^-1; the gradient returned is
    // of the negative LML. Off-diagonal pairs count twice (symmetry), cancelling the 1/2.
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut p = 0;
    let mut g_signal = 0.0;
    let mut trace_w = 0.0;
    for i in 0..n {
        for j in 0..i {
            let w = alpha[i] * alpha[j] - kinv[[i, j]];
            g_signal += w * kv[p];
            let wc = w * cv[p];
            let dd = &pairs.diff2[p * d..(p + 1) * d];
            for m in 0..d {
                grad[m] += wc * dd[m] * inv_l2[m];
            }
            p += 1;
        }
        trace_w += alpha[i] * alpha[i] - kinv[[i, i]];
    }
    g_signal += 0.5 * trace_w * signal;
    grad[d] = g_signal;
    grad[d + 1] = 0.5 * trace_w * noise;
    grad.iter_mut().for_each(|g| *g = -*g);
    value
}

/// Fits the hyperparameters on `(x, y)` (targets normalized) by multi-start bounded L-BFGS on
/// the log-parameters. With fewer than 3 points or constant targets the likelihood says
/// nothing useful and the defaults are returned.
pub fn fit(x: ArrayView2<f64>, y: &[f64], opts: &FitOptions, rng: &mut impl Rng) -> Fit {
    single_threaded_blas();
    let (n, d) = x.dim();
    let default = Hyper::default_for(d);
    let spread = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if n < 3 || y.len() != n || spread < 1e-12 {
        return Fit {
            hyper: default,
            neg_lml: f64::NAN,
            evals: 0,
            points: n,
        };
    }
    let idx = subsample(y, opts.max_points.max(3), rng);
    let xs = x.select(ndarray::Axis(0), &idx);
    let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
    let pairs = Pairs::new(xs.view());
    let (lo, hi) = Hyper::bounds(d);
    let lbfgs = LbfgsOptions {
        max_iter: opts.max_iter,
        memory: 8,
        gtol: 1e-5,
        ftol: 1e-7,
    };
    let mut best = Fit {
        hyper: default.clone(),
        neg_lml: f64::INFINITY,
        evals: 0,
        points: idx.len(),
    };
    for s in 0..opts.starts.max(1) {
        let theta0 = if s == 0 {
            default.to_theta()
        } else {
            // Seeded random starts: log-uniform over the plausible part of the box.
            let mut t: Vec<f64> = (0..d)
                .map(|_| rng.random_range((0.05f64).ln()..(2.0f64).ln()))
                .collect();
            t.push(rng.random_range((0.2f64).ln()..(5.0f64).ln()));
            t.push(rng.random_range((1e-7f64).ln()..(1e-2f64).ln()));
            t
        };
        let m = minimize(|t, g| neg_lml(t, &pairs, &ys, g), &theta0, &lo, &hi, &lbfgs);
        best.evals += m.evals;
        if m.f < best.neg_lml {
            best.neg_lml = m.f;
            best.hyper = Hyper::from_theta(&m.x);
        }
    }
    if opts.noisy_start > 0.0 {
        // The same likelihood on a smaller box (noise >= the floor): its optimum is a valid
        // candidate of the full problem, compared by the same criterion. No random draw, so
        // the other starts see the same stream with or without it.
        let mut lo_noisy = lo.clone();
        lo_noisy[d + 1] = opts.noisy_start.ln().clamp(LOG_NOISE.0, LOG_NOISE.1);
        let theta0 = default.to_theta();
        let m = minimize(
            |t, g| neg_lml(t, &pairs, &ys, g),
            &theta0,
            &lo_noisy,
            &hi,
            &lbfgs,
        );
        best.evals += m.evals;
        if m.f < best.neg_lml {
            best.neg_lml = m.f;
            best.hyper = Hyper::from_theta(&m.x);
        }
    }
    if d >= 2 {
        // Model selection: the isotropic kernel (one shared length scale) against ARD, by BIC.
        // With few points in several dimensions the d free length scales can fit noise; the
        // isotropic fit has 3 parameters instead of d + 2, so each extra ARD parameter must
        // buy 0.5 ln m of likelihood. Deterministic starts only: the random stream above is
        // the same with or without this step.
        let iso = fit_isotropic(&pairs, &ys, &default, &best.hyper, opts, &lbfgs);
        best.evals += iso.evals;
        let ln_m = (idx.len() as f64).ln();
        let bic_ard = best.neg_lml + 0.5 * (d + 2) as f64 * ln_m;
        let bic_iso = iso.neg_lml + 0.5 * 3.0 * ln_m;
        if bic_iso < bic_ard {
            best.neg_lml = iso.neg_lml;
            best.hyper = iso.hyper;
        }
    }
    best
}

/// The isotropic fit behind the model selection of `fit`: one length scale shared by all
/// inputs, so `theta = (log l, log signal, log noise)`, started from the defaults and (when
/// `opts.noisy_start` is set) once more with the noise floor. With a single ARD start (the
/// cheap fits of large models) one isotropic start suffices: from the ARD optimum with its
/// length scales replaced by their geometric mean, which keeps its noise regime. The
/// likelihood is the ARD one at equal length scales; its length-scale gradient is the sum of
/// the per-input ones.
fn fit_isotropic(
    pairs: &Pairs,
    ys: &[f64],
    default: &Hyper,
    ard: &Hyper,
    opts: &FitOptions,
    lbfgs: &LbfgsOptions,
) -> Fit {
    let d = pairs.d;
    let mut full = vec![0.0; d + 2];
    let mut gfull = vec![0.0; d + 2];
    let mut objective = |t: &[f64], g: &mut [f64]| {
        full[..d].iter_mut().for_each(|v| *v = t[0]);
        full[d] = t[1];
        full[d + 1] = t[2];
        let v = neg_lml(&full, pairs, ys, &mut gfull);
        g[0] = gfull[..d].iter().sum();
        g[1] = gfull[d];
        g[2] = gfull[d + 1];
        v
    };
    let lo = vec![LOG_LENGTH.0, LOG_SIGNAL.0, LOG_NOISE.0];
    let hi = vec![LOG_LENGTH.1, LOG_SIGNAL.1, LOG_NOISE.1];
    let mut theta0 = vec![
        default.length[0].ln(),
        default.signal.ln(),
        default.noise.ln(),
    ];
    let mut best = Fit {
        hyper: default.clone(),
        neg_lml: f64::INFINITY,
        evals: 0,
        points: pairs.n,
    };
    let mut floors = vec![LOG_NOISE.0];
    if opts.starts <= 1 {
        let mean_log = ard.length.iter().map(|l| l.ln()).sum::<f64>() / d as f64;
        theta0 = vec![mean_log, ard.signal.ln(), ard.noise.ln()];
    } else if opts.noisy_start > 0.0 {
        floors.push(opts.noisy_start.ln().clamp(LOG_NOISE.0, LOG_NOISE.1));
    }
    for floor in floors {
        let mut lo_s = lo.clone();
        lo_s[2] = floor;
        let m = minimize(&mut objective, &theta0, &lo_s, &hi, lbfgs);
        best.evals += m.evals;
        if m.f < best.neg_lml {
            best.neg_lml = m.f;
            best.hyper = Hyper {
                length: vec![m.x[0].exp(); d],
                signal: m.x[1].exp(),
                noise: m.x[2].exp(),
            };
        }
    }
    best
}

/// Indices of the points the hyperparameters are fitted on: all of them when few, else the
/// best quarter (the region the search cares about) plus a seeded random draw of the rest.
fn subsample(y: &[f64], max_points: usize, rng: &mut impl Rng) -> Vec<usize> {
    let n = y.len();
    if n <= max_points {
        return (0..n).collect();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| y[a].total_cmp(&y[b]).then(a.cmp(&b)));
    let best = max_points / 4;
    let mut rest: Vec<usize> = order[best..].to_vec();
    let take = max_points - best;
    for i in 0..take {
        let j = rng.random_range(i..rest.len());
        rest.swap(i, j);
    }
    let mut idx: Vec<usize> = order[..best].to_vec();
    idx.extend_from_slice(&rest[..take]);
    idx.sort_unstable();
    idx
}
