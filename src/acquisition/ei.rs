//! Acquisition functions on a Gaussian-process prediction, in numerically safe forms.
//!
//! Expected improvement is used through its logarithm: with `z = (best - mean) / sd`,
//! `EI = sd * h(z)` and `h(z) = z Phi(z) + phi(z)`. Far from the incumbent `h` underflows
//! (z < -38) and cancels badly well before that, which leaves plain EI flat at 0 over most of
//! the space and the optimizer without a gradient; `log h` stays finite and smooth for every z.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Below this `z`, `log h` comes from the continued fraction of Mills' ratio.
const Z_SWITCH: f64 = -5.0;

/// `(log h(z), d log h / dz)` with `h(z) = z Phi(z) + phi(z)`.
pub fn log_h(z: f64) -> (f64, f64) {
    if z.is_nan() {
        return (f64::NEG_INFINITY, 0.0);
    }
    let log_pdf = -0.5 * z * z - 0.5 * (2.0 * PI).ln();
    if z > Z_SWITCH {
        let cdf = 0.5 * libm::erfc(-z * FRAC_1_SQRT_2);
        let h = z * cdf + log_pdf.exp();
        // h > 0 for every finite z; the max guards the last ulp of cancellation near -5.
        let h = h.max(f64::MIN_POSITIVE);
        return (h.ln(), cdf / h);
    }
    // x = -z >= 5. Mills' ratio R(x) = Phi(-x)/phi(x) = 1/(x + t) with
    // t = 1/(x + 2/(x + 3/(x + ...))). Then h = phi (1 - x R) = phi t/(x + t) without the
    // cancellation of 1 - x R, and Phi/h = 1/t.
    let x = -z;
    let mut v = x;
    for k in (2..=60).rev() {
        v = x + k as f64 / v;
    }
    let t = 1.0 / v;
    (log_pdf + (t / (x + t)).ln(), 1.0 / t)
}

/// Log expected improvement below `best` for a prediction `(mean, sd)`, and its derivatives
/// with respect to the mean and the standard deviation.
pub fn log_ei(mean: f64, sd: f64, best: f64) -> (f64, f64, f64) {
    let z = (best - mean) / sd;
    let (lh, r) = log_h(z);
    // d/dmean: r * dz/dmean = -r/sd; d/dsd: 1/sd + r * dz/dsd = (1 - r z)/sd.
    (sd.ln() + lh, -r / sd, (1.0 - r * z) / sd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h_direct(z: f64) -> f64 {
        z * 0.5 * libm::erfc(-z * FRAC_1_SQRT_2) + (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
    }

    #[test]
    fn log_h_is_accurate_continuous_and_finite() {
        for z in [-4.0, -1.0, 0.0, 0.5, 3.0] {
            assert!((log_h(z).0 - h_direct(z).ln()).abs() < 1e-10);
        }
        // Both branches agree at the switch.
        let (a, b) = (log_h(Z_SWITCH + 1e-9), log_h(Z_SWITCH - 1e-9));
        assert!(
            (a.0 - b.0).abs() < 1e-7 && (a.1 - b.1).abs() < 1e-5,
            "{a:?} {b:?}"
        );
        // Far below: finite, and close to the asymptote log phi(z) - 2 log|z|.
        let (v, d) = log_h(-1e3);
        assert!(v.is_finite() && d.is_finite());
        let asym = -0.5 * 1e6 - 0.5 * (2.0 * PI).ln() - 2.0 * (1e3f64).ln();
        assert!((v - asym).abs() < 1e-4, "{v} vs {asym}");
        // Derivative by finite differences on both branches.
        for z in [-8.0, -2.0, 1.0] {
            let fd = (log_h(z + 1e-6).0 - log_h(z - 1e-6).0) / 2e-6;
            assert!(
                (fd - log_h(z).1).abs() < 1e-5 * (1.0 + fd.abs()),
                "{z}: {fd}"
            );
        }
    }

    #[test]
    fn log_ei_derivatives() {
        let (m, s, b) = (0.3, 0.2, -0.5);
        let (_, dm, ds) = log_ei(m, s, b);
        let fdm = (log_ei(m + 1e-7, s, b).0 - log_ei(m - 1e-7, s, b).0) / 2e-7;
        let fds = (log_ei(m, s + 1e-7, b).0 - log_ei(m, s - 1e-7, b).0) / 2e-7;
        assert!(
            (fdm - dm).abs() < 1e-4 * (1.0 + dm.abs())
                && (fds - ds).abs() < 1e-4 * (1.0 + ds.abs())
        );
    }
}
