//! Gaussian-process regression: Matern 5/2 kernel with one length scale per input (ARD) or,
//! when BIC prefers it at fit time, one shared length scale; signal variance and a noise term, fitted by maximizing the log marginal likelihood with
//! analytic gradients; one Cholesky factorization per likelihood evaluation and per model,
//! reused for the mean, the variance and their gradients.
//!
//! This module owns the numerical model only. It knows nothing of parameter types: inputs are
//! rows of an `n x d` matrix, normally in the unit cube (the acquisition module maps integer,
//! log and categorical dimensions there), and targets are expected to be normalized (zero
//! mean, unit variance; the hyperparameter bounds below assume that scale).
//!
//! Robustness: a covariance matrix that is not numerically positive definite (duplicate
//! points, vanishing noise) gets a growing diagonal jitter and is factorized again; only when
//! even a large jitter fails is an error returned. Nothing here panics on finite input, and
//! the likelihood returns `+inf` (never NaN) for parameters where factorization fails, so the
//! optimizer simply steps back.

pub mod lbfgs;

use lbfgs::{LbfgsOptions, minimize};
use ndarray::{Array2, ArrayView2};
use ndarray_linalg::{Diag, UPLO, cholesky::*, triangular::SolveTriangularInplace};
use rand::Rng;

unsafe extern "C" {
    /// OpenBLAS's runtime switch (the environment variable is read only when the library loads).
    fn openblas_set_num_threads(n: std::os::raw::c_int);
}

/// Runs BLAS on the calling thread. The matrices here are small and each worker owns its
/// cores; OpenBLAS's own thread pool can hang when two threads call it at once, or in a
/// process forked after the pool started (seen: `dlauum` waiting forever on absent threads).
pub fn single_threaded_blas() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: a plain setter of the library's thread count, called once.
    ONCE.call_once(|| unsafe { openblas_set_num_threads(1) });
}

const SQRT5: f64 = 2.236_067_977_499_79;

/// Bounds of the log-parameters (inputs in the unit cube, normalized targets). Length scales
/// below 0.01 would model features narrower than any sensible sampling of the cube; above 20 a
/// dimension is effectively ignored, which the upper bound allows.
const LOG_LENGTH: (f64, f64) = (-4.605_170_185_988_091, 2.995_732_273_553_991); // 0.01 .. 20
const LOG_SIGNAL: (f64, f64) = (-4.605_170_185_988_091, 4.605_170_185_988_091); // 0.01 .. 100
const LOG_NOISE: (f64, f64) = (-18.420_680_743_952_367, 0.0); // 1e-8 .. 1

/// Diagonal jitter tried in turn (times the signal variance) when a factorization fails.
const JITTERS: [f64; 7] = [0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1e-1];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GpError {
    #[error("the {n}x{n} covariance matrix is not positive definite even with jitter {jitter:e}")]
    NotPositiveDefinite { n: usize, jitter: f64 },
    #[error("points have {got} coordinates, the model has {expected}")]
    Shape { expected: usize, got: usize },
    #[error("{points} points but {targets} targets")]
    Length { points: usize, targets: usize },
    #[error("a model needs at least one point")]
    Empty,
}

/// Kernel hyperparameters in natural units.
#[derive(Clone, Debug, PartialEq)]
pub struct Hyper {
    /// One length scale per input column.
    pub length: Vec<f64>,
    /// Signal variance `k(x, x)`.
    pub signal: f64,
    /// Observation noise variance (added to the diagonal).
    pub noise: f64,
}

impl Hyper {
    /// A reasonable start for unit-cube inputs and normalized targets.
    pub fn default_for(d: usize) -> Hyper {
        Hyper {
            length: vec![0.5; d],
            signal: 1.0,
            noise: 1e-4,
        }
    }

    fn to_theta(&self) -> Vec<f64> {
        let mut t: Vec<f64> = self.length.iter().map(|l| l.ln()).collect();
        t.push(self.signal.ln());
        t.push(self.noise.ln());
        t
    }

    fn from_theta(t: &[f64]) -> Hyper {
        let d = t.len() - 2;
        Hyper {
            length: t[..d].iter().map(|v| v.exp()).collect(),
            signal: t[d].exp(),
            noise: t[d + 1].exp(),
        }
    }

    fn bounds(d: usize) -> (Vec<f64>, Vec<f64>) {
        let mut lo = vec![LOG_LENGTH.0; d];
        let mut hi = vec![LOG_LENGTH.1; d];
        lo.extend([LOG_SIGNAL.0, LOG_NOISE.0]);
        hi.extend([LOG_SIGNAL.1, LOG_NOISE.1]);
        (lo, hi)
    }
}

/// Matern 5/2 at scaled distance `r` (with `r2 = r^2`): the value `k` and
/// `c = -(dk/dr) / r`, from which every derivative follows (`dk/dx_j = -c * dx_j / l_j^2`,
/// `dk/dlog l_j = c * dx_j^2 / l_j^2`) without dividing by `r`.
#[inline]
fn matern52(r2: f64, signal: f64) -> (f64, f64) {
    let r = r2.max(0.0).sqrt();
    let e = (-SQRT5 * r).exp();
    let k = signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e;
    let c = signal * 5.0 / 3.0 * (1.0 + SQRT5 * r) * e;
    (k, c)
}

/// Dot product with four independent accumulators, so the compiler can vectorize it (a plain
/// `zip().sum()` must add in order). The triangular solves of the acquisition refinement are
/// made of these.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let chunks = n / 4;
    for c in 0..chunks {
        let i = 4 * c;
        acc[0] += a[i] * b[i];
        acc[1] += a[i + 1] * b[i + 1];
        acc[2] += a[i + 2] * b[i + 2];
        acc[3] += a[i + 3] * b[i + 3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in 4 * chunks..n {
        s += a[i] * b[i];
    }
    s
}

/// Forward substitution `L z = b` in place (row-major lower triangular `l`).
fn forward(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s = dot(&l[i * n..i * n + i], &b[..i]);
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// Back substitution `L^T w = z` in place, walking rows of `l` (contiguous).
fn backward(l: &[f64], n: usize, z: &mut [f64]) {
    for i in (0..n).rev() {
        z[i] /= l[i * n + i];
        let wi = z[i];
        for (zk, a) in z[..i].iter_mut().zip(&l[i * n..i * n + i]) {
            *zk -= a * wi;
        }
    }
}

/// A conditioned Gaussian process: data, hyperparameters, Cholesky factor and weights.
#[derive(Clone, Debug)]
pub struct Gp {
    x: Array2<f64>,
    y: Vec<f64>,
    hyper: Hyper,
    inv_l2: Vec<f64>,
    /// Lower Cholesky factor of `K + (noise + jitter) I`, row-major.
    l: Vec<f64>,
    alpha: Vec<f64>,
    jitter: f64,
}

/// Mean and latent variance at one point, with their gradients with respect to the point.
#[derive(Clone, Debug)]
pub struct Prediction {
    pub mean: f64,
    pub var: f64,
    pub dmean: Vec<f64>,
    pub dvar: Vec<f64>,
}

impl Gp {
    /// Conditions the process on `(x, y)` with fixed hyperparameters.
    pub fn new(x: Array2<f64>, y: Vec<f64>, hyper: Hyper) -> Result<Gp, GpError> {
        single_threaded_blas();
        let (n, d) = x.dim();
        if n == 0 {
            return Err(GpError::Empty);
        }
        if y.len() != n {
            return Err(GpError::Length {
                points: n,
                targets: y.len(),
            });
        }
        if hyper.length.len() != d {
            return Err(GpError::Shape {
                expected: hyper.length.len(),
                got: d,
            });
        }
        let x = x.as_standard_layout().to_owned();
        let inv_l2: Vec<f64> = hyper.length.iter().map(|l| 1.0 / (l * l)).collect();
        let mut k = Array2::<f64>::zeros((n, n));
        {
            let xs = x.as_slice().unwrap_or(&[]);
            let ks = k.as_slice_mut().unwrap_or(&mut []);
            for i in 0..n {
                for j in 0..i {
                    let r2 = sq_dist(&xs[i * d..(i + 1) * d], &xs[j * d..(j + 1) * d], &inv_l2);
                    ks[i * n + j] = matern52(r2, hyper.signal).0;
                }
            }
        }
        let (l, jitter) = factor_with_jitter(&k, hyper.signal, hyper.noise)?;
        let mut gp = Gp {
            x,
            y,
            hyper,
            inv_l2,
            l,
            alpha: Vec::new(),
            jitter,
        };
        gp.solve_alpha();
        Ok(gp)
    }

    fn solve_alpha(&mut self) {
        let n = self.y.len();
        let mut a = self.y.clone();
        forward(&self.l, n, &mut a);
        backward(&self.l, n, &mut a);
        self.alpha = a;
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The (normalized) targets the model is conditioned on, believed ones included.
    pub fn targets(&self) -> &[f64] {
        &self.y
    }

    pub fn hyper(&self) -> &Hyper {
        &self.hyper
    }

    /// The jitter that had to be added to the diagonal (0 when none was needed).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The process conditioned on more points with the same hyperparameters, by extending the
    /// Cholesky factor block-wise (`O(n^2 p)` instead of a new `O(n^3)` factorization).
    pub fn extend(&self, xp: ArrayView2<f64>, yp: &[f64]) -> Result<Gp, GpError> {
        let (p, d) = xp.dim();
        if d != self.x.ncols() {
            return Err(GpError::Shape {
                expected: self.x.ncols(),
                got: d,
            });
        }
        if yp.len() != p {
            return Err(GpError::Length {
                points: p,
                targets: yp.len(),
            });
        }
        if p == 0 {
            return Ok(self.clone());
        }
        let n = self.len();
        let xp = xp.as_standard_layout().to_owned();
        let xps = xp.as_slice().unwrap_or(&[]);
        let xs = self.x.as_slice().unwrap_or(&[]);
        // Z = L^-1 K(X, Xp), one column per new point.
        let mut z = vec![0.0; p * n];
        for q in 0..p {
            let col = &mut z[q * n..(q + 1) * n];
            for i in 0..n {
                let r2 = sq_dist(
                    &xps[q * d..(q + 1) * d],
                    &xs[i * d..(i + 1) * d],
                    &self.inv_l2,
                );
                col[i] = matern52(r2, self.hyper.signal).0;
            }
            forward(&self.l, n, col);
        }
        // Schur complement S = K(Xp, Xp) - Z^T Z (its diagonal gets noise and jitter below).
        let mut s = Array2::<f64>::zeros((p, p));
        for a in 0..p {
            for b in 0..a {
                let r2 = sq_dist(
                    &xps[a * d..(a + 1) * d],
                    &xps[b * d..(b + 1) * d],
                    &self.inv_l2,
                );
                let za = &z[a * n..(a + 1) * n];
                let zb = &z[b * n..(b + 1) * n];
                s[[a, b]] = matern52(r2, self.hyper.signal).0
                    - za.iter().zip(zb).map(|(u, v)| u * v).sum::<f64>();
            }
            let za = &z[a * n..(a + 1) * n];
            // The Schur complement of the signal part; noise and jitter are added by the
            // factorization helper.
            s[[a, a]] = -za.iter().map(|u| u * u).sum::<f64>();
        }
        let noise = self.hyper.noise + self.jitter;
        let (c, extra) = factor_with_jitter(&s, self.hyper.signal, noise)?;
        let m = n + p;
        let mut l = vec![0.0; m * m];
        for i in 0..n {
            l[i * m..i * m + i + 1].copy_from_slice(&self.l[i * n..i * n + i + 1]);
        }
        for q in 0..p {
            let row = (n + q) * m;
            l[row..row + n].copy_from_slice(&z[q * n..(q + 1) * n]);
            l[row + n..row + n + q + 1].copy_from_slice(&c[q * p..q * p + q + 1]);
        }
        let mut x = Array2::<f64>::zeros((m, d));
        x.slice_mut(ndarray::s![..n, ..]).assign(&self.x);
        x.slice_mut(ndarray::s![n.., ..]).assign(&xp);
        let mut y = self.y.clone();
        y.extend_from_slice(yp);
        // Extra jitter on the new block only is a slightly different model there; it is at most
        // what the new points needed to be distinguishable from the old ones.
        let mut gp = Gp {
            x,
            y,
            hyper: self.hyper.clone(),
            inv_l2: self.inv_l2.clone(),
            l,
            alpha: Vec::new(),
            jitter: self.jitter + extra,
        };
        gp.solve_alpha();
        Ok(gp)
    }

    /// Posterior mean at the conditioning points themselves, `K alpha = y - (noise + jitter)
    /// alpha` (`O(n)`): the smoothed targets, equal to `y` for a noise-free model.
    pub fn fitted_means(&self) -> Vec<f64> {
        let s2 = self.hyper.noise + self.jitter;
        self.y
            .iter()
            .zip(&self.alpha)
            .map(|(y, a)| y - s2 * a)
            .collect()
    }

    /// Mean and latent variance (without noise) at each row of `xs`.
    pub fn predict(&self, xs: ArrayView2<f64>) -> (Vec<f64>, Vec<f64>) {
        let (m, d) = xs.dim();
        let n = self.len();
        if d != self.x.ncols() || m == 0 {
            return (vec![0.0; m], vec![self.hyper.signal; m]);
        }
        let xs = xs.as_standard_layout();
        let cand = xs.as_slice().unwrap_or(&[]);
        let data = self.x.as_slice().unwrap_or(&[]);
        // K(X, Xs) with one row per data point, as the triangular solve wants.
        let mut ks = Array2::<f64>::zeros((n, m));
        let mut mean = vec![0.0; m];
        {
            let kss = ks.as_slice_mut().unwrap_or(&mut []);
            for i in 0..n {
                let xi = &data[i * d..(i + 1) * d];
                let ai = self.alpha[i];
                let row = &mut kss[i * m..(i + 1) * m];
                for j in 0..m {
                    let r2 = sq_dist(xi, &cand[j * d..(j + 1) * d], &self.inv_l2);
                    let k = matern52(r2, self.hyper.signal).0;
                    row[j] = k;
                    mean[j] += ai * k;
                }
            }
        }
        let l = Array2::from_shape_vec((n, n), self.l.clone());
        let solved = l.map_err(|_| ()).and_then(|l| {
            l.solve_triangular_inplace(UPLO::Lower, Diag::NonUnit, &mut ks)
                .map(|_| ())
                .map_err(|_| ())
        });
        let var = match solved {
            Ok(()) => {
                let mut q = vec![0.0; m];
                for row in ks.rows() {
                    for (qj, v) in q.iter_mut().zip(row) {
                        *qj += v * v;
                    }
                }
                q.iter().map(|s| (self.hyper.signal - s).max(0.0)).collect()
            }
            // The factor is valid by construction; should LAPACK still refuse, fall back to
            // per-point solves rather than fail.
            Err(()) => (0..m)
                .map(|j| self.predict_grad(&cand[j * d..(j + 1) * d]).var)
                .collect(),
        };
        (mean, var)
    }

    /// Scores every row of `xs` with `score(mean, var)`, which must not decrease as the
    /// variance grows (log EI and the confidence bound both qualify), computing the exact
    /// variance (`O(n^2)` each) only where it can matter. The variance of the process conditioned
    /// on a subset of its points (`subset`, with at least the model's largest noise) is an
    /// upper bound of the full one, so `score(mean, var_subset)` bounds the exact score from
    /// above at `O(s^2)` per row. Rows are then scored exactly in decreasing order of their bound
    /// until `keep` exact scores are at least the next bound: those `keep` are the true best
    /// `keep`, the same as scoring all rows exactly. Returned: one score per row (exact, or the
    /// bound, never above the `keep`-th exact one) and how many rows were scored exactly.
    pub fn score_screened(
        &self,
        xs: ArrayView2<f64>,
        subset: &[usize],
        keep: usize,
        score: impl Fn(f64, f64) -> f64,
    ) -> (Vec<f64>, usize) {
        let (m, d) = xs.dim();
        let n = self.len();
        if d != self.x.ncols() || m == 0 {
            return (vec![score(0.0, self.hyper.signal); m], 0);
        }
        let xs = xs.as_standard_layout();
        let cand = xs.as_slice().unwrap_or(&[]);
        let data = self.x.as_slice().unwrap_or(&[]);
        let subset: Vec<usize> = subset.iter().copied().filter(|&i| i < n).collect();
        let sn = subset.len();
        // Factor of the subset's covariance with the largest noise of the model.
        let noise = self.hyper.noise + self.jitter;
        let mut ks = Array2::<f64>::zeros((sn, sn));
        for a in 0..sn {
            for b in 0..a {
                let (i, j) = (subset[a], subset[b]);
                let r2 = sq_dist(
                    &data[i * d..(i + 1) * d],
                    &data[j * d..(j + 1) * d],
                    &self.inv_l2,
                );
                ks[[a, b]] = matern52(r2, self.hyper.signal).0;
            }
        }
        let ls = factor_with_jitter(&ks, self.hyper.signal, noise).ok();
        // Kernel rows (one per candidate), means and bounds.
        let mut krow = vec![0.0; m * n];
        let mut out = vec![0.0; m];
        let mut mean = vec![0.0; m];
        let mut zs = vec![0.0; sn];
        for j in 0..m {
            let xj = &cand[j * d..(j + 1) * d];
            let row = &mut krow[j * n..(j + 1) * n];
            for (i, r) in row.iter_mut().enumerate() {
                *r = matern52(
                    sq_dist(xj, &data[i * d..(i + 1) * d], &self.inv_l2),
                    self.hyper.signal,
                )
                .0;
            }
            mean[j] = dot(row, &self.alpha);
            let var_bound = match &ls {
                Some((l, _)) => {
                    for (z, &i) in zs.iter_mut().zip(&subset) {
                        *z = row[i];
                    }
                    forward(l, sn, &mut zs);
                    (self.hyper.signal - dot(&zs, &zs)).max(0.0)
                }
                None => self.hyper.signal,
            };
            out[j] = score(mean[j], var_bound);
        }
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| out[b].total_cmp(&out[a]).then(a.cmp(&b)));
        // The `keep` best exact scores so far, in decreasing order.
        let mut top: Vec<f64> = Vec::with_capacity(keep + 1);
        let mut exact = 0;
        for &j in &order {
            if top.len() >= keep.max(1) && top.last().is_some_and(|&t| t >= out[j]) {
                break;
            }
            let row = &mut krow[j * n..(j + 1) * n];
            forward(&self.l, n, row);
            let var = (self.hyper.signal - dot(row, row)).max(0.0);
            let v = score(mean[j], var);
            // Rounding may leave the exact score a hair above its bound; it stays exact.
            out[j] = v;
            exact += 1;
            let pos = top.partition_point(|&t| t >= v);
            top.insert(pos, v);
            top.truncate(keep.max(1));
        }
        (out, exact)
    }

    /// Mean, latent variance and their gradients at `x` (`O(n^2)` for the variance).
    pub fn predict_grad(&self, x: &[f64]) -> Prediction {
        let n = self.len();
        let d = self.x.ncols();
        let data = self.x.as_slice().unwrap_or(&[]);
        let mut ks = vec![0.0; n];
        let mut cs = vec![0.0; n];
        for i in 0..n {
            let r2 = sq_dist(x, &data[i * d..(i + 1) * d], &self.inv_l2);
            let (k, c) = matern52(r2, self.hyper.signal);
            ks[i] = k;
            cs[i] = c;
        }
        let mean: f64 = ks.iter().zip(&self.alpha).map(|(k, a)| k * a).sum();
        let mut v = ks.clone();
        forward(&self.l, n, &mut v);
        backward(&self.l, n, &mut v);
        let quad: f64 = ks.iter().zip(&v).map(|(k, w)| k * w).sum();
        let var = (self.hyper.signal - quad).max(0.0);
        let mut dmean = vec![0.0; d];
        let mut dvar = vec![0.0; d];
        for i in 0..n {
            let xi = &data[i * d..(i + 1) * d];
            let (a, w) = (self.alpha[i] * cs[i], v[i] * cs[i]);
            for j in 0..d {
                let dx = (x[j] - xi[j]) * self.inv_l2[j];
                dmean[j] -= a * dx;
                dvar[j] += 2.0 * w * dx;
            }
        }
        Prediction {
            mean,
            var,
            dmean,
            dvar,
        }
    }
}

#[inline]
fn sq_dist(a: &[f64], b: &[f64], inv_l2: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(inv_l2)
        .map(|((u, v), w)| (u - v) * (u - v) * w)
        .sum()
}

/// Cholesky factor (row-major lower) of `k` whose strict lower triangle is set, with
/// `signal + noise` (plus jitter) on the diagonal; `k`'s own diagonal is added too (the
/// extension passes a Schur complement there). Retries with growing jitter.
fn factor_with_jitter(
    k: &Array2<f64>,
    signal: f64,
    noise: f64,
) -> Result<(Vec<f64>, f64), GpError> {
    let n = k.nrows();
    let mut last = 0.0;
    for j in JITTERS {
        let jitter = j * signal;
        last = jitter;
        let mut a = k.clone();
        for i in 0..n {
            a[[i, i]] += signal + noise + jitter;
        }
        if let Ok(l) = a.cholesky_into(UPLO::Lower) {
            let l = l.as_standard_layout().to_owned();
            let ok = l.diag().iter().all(|v| v.is_finite() && *v > 0.0);
            if ok {
                return Ok((l.into_raw_vec_and_offset().0, jitter));
            }
        }
    }
    Err(GpError::NotPositiveDefinite { n, jitter: last })
}

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
struct Pairs {
    n: usize,
    d: usize,
    diff2: Vec<f64>,
}

impl Pairs {
    fn new(x: ArrayView2<f64>) -> Pairs {
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
fn neg_lml(theta: &[f64], pairs: &Pairs, y: &[f64], grad: &mut [f64]) -> f64 {
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

#[cfg(test)]
mod tests;
