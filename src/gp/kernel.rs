//! The Matern 5/2 kernel with one length scale per input (ARD), and its hyperparameters: in
//! natural units ([`Hyper`]) and as the log-parameters the fit works on, between bounds that
//! assume unit-cube inputs and normalized targets.

const SQRT5: f64 = 2.236_067_977_499_79;

/// Bounds of the log-parameters (inputs in the unit cube, normalized targets). Length scales
/// below 0.01 would model features narrower than any sensible sampling of the cube; above 20 a
/// dimension is effectively ignored, which the upper bound allows.
pub(super) const LOG_LENGTH: (f64, f64) = (-4.605_170_185_988_091, 2.995_732_273_553_991); // 0.01 .. 20
pub(super) const LOG_SIGNAL: (f64, f64) = (-4.605_170_185_988_091, 4.605_170_185_988_091); // 0.01 .. 100
pub(super) const LOG_NOISE: (f64, f64) = (-18.420_680_743_952_367, 0.0); // 1e-8 .. 1

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

    pub(super) fn to_theta(&self) -> Vec<f64> {
        let mut t: Vec<f64> = self.length.iter().map(|l| l.ln()).collect();
        t.push(self.signal.ln());
        t.push(self.noise.ln());
        t
    }

    pub(super) fn from_theta(t: &[f64]) -> Hyper {
        let d = t.len() - 2;
        Hyper {
            length: t[..d].iter().map(|v| v.exp()).collect(),
            signal: t[d].exp(),
            noise: t[d + 1].exp(),
        }
    }

    pub(super) fn bounds(d: usize) -> (Vec<f64>, Vec<f64>) {
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
pub(super) fn matern52(r2: f64, signal: f64) -> (f64, f64) {
    let r = r2.max(0.0).sqrt();
    let e = (-SQRT5 * r).exp();
    let k = signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e;
    let c = signal * 5.0 / 3.0 * (1.0 + SQRT5 * r) * e;
    (k, c)
}

/// Squared distance of `a` and `b` with each coordinate scaled by `inv_l2` (one over the squared
/// length scale).
#[inline]
pub(super) fn sq_dist(a: &[f64], b: &[f64], inv_l2: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(inv_l2)
        .map(|((u, v), w)| (u - v) * (u - v) * w)
        .sum()
}
