//! Gaussian-process regression: the model ([`Gp`]: a process conditioned on points, with its
//! mean, variance and their gradients), in rooms of their own for the kernel and its
//! hyperparameters (`kernel.rs`), the Cholesky helpers (`chol.rs`), the hyperparameter fit by
//! maximum marginal likelihood (`fit.rs`) and its bounded L-BFGS (`lbfgs.rs`).
//!
//! Matern 5/2 kernel with one length scale per input (ARD) or, when BIC prefers it at fit
//! time, one shared length scale; signal variance and a noise term, fitted with analytic
//! gradients; one Cholesky factorization per likelihood evaluation and per model, reused for
//! the mean, the variance and their gradients.
//!
//! This module owns the numerical model only. It knows nothing of parameter types: inputs are
//! rows of an `n x d` matrix, normally in the unit cube (the acquisition module maps integer,
//! log and categorical dimensions there), and targets are expected to be normalized (zero
//! mean, unit variance; the hyperparameter bounds assume that scale).
//!
//! Robustness: a covariance matrix that is not numerically positive definite (duplicate
//! points, vanishing noise) gets a growing diagonal jitter and is factorized again; only when
//! even a large jitter fails is an error returned. Nothing here panics on finite input, and
//! the likelihood returns `+inf` (never NaN) for parameters where factorization fails, so the
//! optimizer simply steps back.

mod chol;
mod fit;
mod kernel;
pub(crate) mod lbfgs;

pub use fit::{Fit, FitOptions, fit};
pub use kernel::Hyper;

use chol::{backward, dot, factor_with_jitter, forward, single_threaded_blas};
use kernel::{matern52, sq_dist};
use ndarray::{Array2, ArrayView2};
use ndarray_linalg::{Diag, UPLO, triangular::SolveTriangularInplace};

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

#[cfg(test)]
mod tests;
