//! The output transform of step 1: results pass through a Yeo-Johnson power transform before
//! the model sees them (as in HEBO). Objectives nobody tuned the engine for are often heavy
//! tailed (a few huge values at the edge of the domain, a narrow basin near the optimum); a
//! Gaussian process fitted on the raw values spends its variance on the outliers and sees
//! the basin as flat. The transform's exponent is chosen by maximum likelihood of a normal
//! model of the transformed values, so it is the identity (exponent 1) when the results are
//! already symmetric, and close to a logarithm when they are skewed.
//!
//! The transform is strictly increasing: the order of the results, hence the incumbent and
//! every ranking the acquisition makes, is kept.

/// Exponents searched (the usual range; beyond it the transform is numerically steep).
const LAMBDA: (f64, f64) = (-3.0, 3.0);
/// Golden-section steps: the bracket shrinks by 0.618 per step, 60 steps reach 1e-12.
const STEPS: usize = 60;

/// The results standardized (zero mean, unit variance) and then power-transformed, with the
/// exponent of maximum likelihood. Fewer than 3 results, or constant ones, come back as they
/// were: the likelihood has nothing to say about a shape then.
pub(super) fn yeo_johnson(raw: &[f64]) -> Vec<f64> {
    let n = raw.len();
    if n < 3 {
        return raw.to_vec();
    }
    let mean = raw.iter().sum::<f64>() / n as f64;
    let sd = (raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
    if !sd.is_finite() || sd <= 1e-12 * mean.abs().max(1e-300) {
        return raw.to_vec();
    }
    let z: Vec<f64> = raw.iter().map(|v| (v - mean) / sd).collect();
    let lambda = best_lambda(&z);
    z.iter().map(|&v| transform(v, lambda)).collect()
}

/// The Yeo-Johnson transform of `v` with exponent `lambda`.
pub(super) fn transform(v: f64, lambda: f64) -> f64 {
    if v >= 0.0 {
        if lambda.abs() < 1e-12 {
            v.ln_1p()
        } else {
            ((v + 1.0).powf(lambda) - 1.0) / lambda
        }
    } else if (lambda - 2.0).abs() < 1e-12 {
        -(-v).ln_1p()
    } else {
        -((1.0 - v).powf(2.0 - lambda) - 1.0) / (2.0 - lambda)
    }
}

/// Profile log-likelihood of `lambda`: a normal model of the transformed values (variance at
/// its maximum) plus the log-Jacobian of the transform, `(lambda - 1) sum sign(z) ln(1 + |z|)`.
pub(super) fn log_likelihood(z: &[f64], lambda: f64) -> f64 {
    let n = z.len() as f64;
    let t: Vec<f64> = z.iter().map(|&v| transform(v, lambda)).collect();
    let m = t.iter().sum::<f64>() / n;
    let var = t.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    if !var.is_finite() || var <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let jacobian: f64 = z.iter().map(|v| v.signum() * v.abs().ln_1p()).sum();
    -0.5 * n * var.ln() + (lambda - 1.0) * jacobian
}

/// The exponent of maximum likelihood in `LAMBDA`, by golden-section search (the profile
/// likelihood is unimodal in practice; a deterministic search keeps suggestions reproducible).
fn best_lambda(z: &[f64]) -> f64 {
    let (mut a, mut b) = LAMBDA;
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (log_likelihood(z, c), log_likelihood(z, d));
    for _ in 0..STEPS {
        if fc > fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = log_likelihood(z, c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = log_likelihood(z, d);
        }
    }
    0.5 * (a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skewness(v: &[f64]) -> f64 {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
        v.iter().map(|x| (x - m).powi(3)).sum::<f64>() / n / var.powf(1.5)
    }

    #[test]
    fn order_is_kept_and_a_heavy_tail_is_pulled_in() {
        // Log-normal-like results: most near the floor, a few orders of magnitude above.
        let raw: Vec<f64> = (0..15).map(|k| 3.0 + (0.6 * k as f64).exp()).collect();
        let t = yeo_johnson(&raw);
        for i in 0..raw.len() {
            for j in 0..raw.len() {
                if raw[i] < raw[j] {
                    assert!(t[i] < t[j], "order lost at {i}, {j}");
                }
            }
        }
        let (before, after) = (skewness(&raw), skewness(&t));
        assert!(before > 1.5, "{before}");
        assert!(after.abs() < 0.5 * before, "skewness {before} -> {after}");
    }

    #[test]
    fn symmetric_results_are_left_nearly_linear() {
        let raw: Vec<f64> = (0..41).map(|k| (k as f64 - 20.0) / 7.0).collect();
        let t = yeo_johnson(&raw);
        let lambda = best_lambda(&raw);
        assert!((lambda - 1.0).abs() < 0.3, "lambda {lambda}");
        // Equal steps stay nearly equal.
        let steps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let (lo, hi) = steps
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &s| (a.min(s), b.max(s)));
        assert!(hi / lo < 2.0, "steps from {lo} to {hi}");
    }

    #[test]
    fn the_chosen_exponent_maximizes_the_likelihood() {
        let z: Vec<f64> = [0.1, 0.4, 0.2, 3.0, 0.3, 7.0, 0.25, 0.15]
            .iter()
            .map(|v: &f64| v.ln() + 0.5)
            .collect();
        let best = best_lambda(&z);
        let f = log_likelihood(&z, best);
        for k in -30..=30 {
            let l = k as f64 / 10.0;
            assert!(log_likelihood(&z, l) <= f + 1e-9, "lambda {l} beats {best}");
        }
    }

    #[test]
    fn transform_is_continuous_at_the_special_exponents() {
        for v in [-2.0, -0.5, 0.0, 0.5, 2.0] {
            for l in [0.0, 2.0] {
                let a = transform(v, l);
                let b = transform(v, l + 1e-7);
                assert!((a - b).abs() < 1e-5, "v {v} lambda {l}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn few_or_constant_results_pass_unchanged() {
        assert_eq!(yeo_johnson(&[3.0, 1.0]), vec![3.0, 1.0]);
        assert_eq!(yeo_johnson(&[2.0; 5]), vec![2.0; 5]);
    }
}
