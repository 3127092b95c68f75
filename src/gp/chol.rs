//! Cholesky helpers: one factorization per model (with a growing diagonal jitter when the
//! matrix is not numerically positive definite), and the triangular solves the model reuses
//! for the mean, the variance and their gradients, on row-major factors.

use super::GpError;
use ndarray::Array2;
use ndarray_linalg::{UPLO, cholesky::*};

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

/// Diagonal jitter tried in turn (times the signal variance) when a factorization fails.
const JITTERS: [f64; 7] = [0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1e-1];

/// Dot product with four independent accumulators, so the compiler can vectorize it (a plain
/// `zip().sum()` must add in order). The triangular solves of the acquisition refinement are
/// made of these.
#[inline]
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
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
pub(super) fn forward(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s = dot(&l[i * n..i * n + i], &b[..i]);
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

/// Back substitution `L^T w = z` in place, walking rows of `l` (contiguous).
pub(super) fn backward(l: &[f64], n: usize, z: &mut [f64]) {
    for i in (0..n).rev() {
        z[i] /= l[i * n + i];
        let wi = z[i];
        for (zk, a) in z[..i].iter_mut().zip(&l[i * n..i * n + i]) {
            *zk -= a * wi;
        }
    }
}

/// Cholesky factor (row-major lower) of `k` whose strict lower triangle is set, with
/// `signal + noise` (plus jitter) on the diagonal; `k`'s own diagonal is added too (the
/// extension passes a Schur complement there). Retries with growing jitter.
pub(super) fn factor_with_jitter(
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
