//! A small projected L-BFGS minimizer for smooth functions inside a box.
//!
//! Used for both the hyperparameter fit (log-parameters between bounds) and the refinement of
//! acquisition candidates (unit-cube coordinates). Written here rather than taken from a crate
//! because both need box constraints, which `argmin` (0.11, on crates.io) does not offer for
//! L-BFGS (its only constraint is OWL-QN's L1 term); the problems are also tiny (2..60
//! variables, tens of iterations) and must never panic on a non-finite objective, which this
//! projected method handles in a page of code and no new dependency.
//!
//! Method: the two-loop L-BFGS direction computed from the projected gradient (components
//! pinned at a bound with the gradient pushing outward are frozen), then a backtracking
//! Armijo search along the projected path `P(x + t d)`. A non-finite objective value is
//! treated as "too far": the step is halved.

/// Limits of one minimization.
#[derive(Clone, Copy, Debug)]
pub struct LbfgsOptions {
    /// Maximum number of iterations (each costs one objective evaluation or a few).
    pub max_iter: usize,
    /// Number of correction pairs kept.
    pub memory: usize,
    /// Stop when the largest projected-gradient component is below this.
    pub gtol: f64,
    /// Stop when an iteration improves the value by less than `ftol * max(1, |f|)`.
    pub ftol: f64,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions {
            max_iter: 50,
            memory: 8,
            gtol: 1e-6,
            ftol: 1e-9,
        }
    }
}

/// The result of a minimization: the best point seen, its value, and the evaluations spent.
#[derive(Clone, Debug)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    pub evals: usize,
}

fn project(x: &mut [f64], lo: &[f64], hi: &[f64]) {
    for ((v, &l), &h) in x.iter_mut().zip(lo).zip(hi) {
        *v = if v.is_finite() {
            v.clamp(l, h)
        } else {
            l + 0.5 * (h - l)
        };
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimizes `f` (which writes its gradient into the second argument and returns the value)
/// over the box `[lo, hi]`, starting from `x0` (projected first). Never panics: a start with a
/// non-finite value is returned as is with `f = +inf`. One algorithm, read top to bottom as in
/// the textbook (direction, line search, memory update), hence its length.
pub fn minimize<F>(mut f: F, x0: &[f64], lo: &[f64], hi: &[f64], opts: &LbfgsOptions) -> Minimum
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let mut x = x0.to_vec();
    project(&mut x, lo, hi);
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut evals = 1;
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Minimum {
            x,
            f: f64::INFINITY,
            evals,
        };
    }
    let mut s_hist: Vec<Vec<f64>> = Vec::with_capacity(opts.memory);
    let mut y_hist: Vec<Vec<f64>> = Vec::with_capacity(opts.memory);
    let mut pg = vec![0.0; n];
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    for _ in 0..opts.max_iter {
        // Projected gradient: components at a bound whose gradient points outside are frozen.
        let mut free = vec![true; n];
        for i in 0..n {
            let at_lo = x[i] <= lo[i] && g[i] > 0.0;
            let at_hi = x[i] >= hi[i] && g[i] < 0.0;
            free[i] = !(at_lo || at_hi || lo[i] >= hi[i]);
            pg[i] = if free[i] { g[i] } else { 0.0 };
        }
        if pg.iter().fold(0.0f64, |m, v| m.max(v.abs())) < opts.gtol {
            break;
        }
        // Two-loop recursion on the projected gradient.
        d.copy_from_slice(&pg);
        let k = s_hist.len();
        let mut a = vec![0.0; k];
        for j in (0..k).rev() {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            a[j] = rho * dot(&s_hist[j], &d);
            for (di, yi) in d.iter_mut().zip(&y_hist[j]) {
                *di -= a[j] * yi;
            }
        }
        if k > 0 {
            let gamma = dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1]);
            d.iter_mut().for_each(|v| *v *= gamma);
        }
        for j in 0..k {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            let b = rho * dot(&y_hist[j], &d);
            for (di, si) in d.iter_mut().zip(&s_hist[j]) {
                *di += (a[j] - b) * si;
            }
        }
        for i in 0..n {
            d[i] = if free[i] { -d[i] } else { 0.0 };
        }
        let mut slope = dot(&d, &pg);
        if slope.is_nan() || slope >= 0.0 || d.iter().any(|v| !v.is_finite()) {
            // The curvature pairs gave no descent direction: restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            for i in 0..n {
                d[i] = -pg[i];
            }
            slope = dot(&d, &pg);
        }
        // First iteration without curvature information: a step of unit length at most.
        let mut t = if s_hist.is_empty() {
            (1.0 / d.iter().fold(0.0f64, |m, v| m.max(v.abs()))).min(1.0)
        } else {
            1.0
        };
        let mut accepted = false;
        let mut f_new = f64::INFINITY;
        for _ in 0..30 {
            for i in 0..n {
                x_new[i] = x[i] + t * d[i];
            }
            project(&mut x_new, lo, hi);
            f_new = f(&x_new, &mut g_new);
            evals += 1;
            // Armijo along the projected path uses the actual displacement.
            let decrease: f64 = (0..n).map(|i| g[i] * (x_new[i] - x[i])).sum();
            if f_new.is_finite()
                && g_new.iter().all(|v| v.is_finite())
                && f_new <= fx + 1e-4 * decrease.min(0.0)
            {
                accepted = true;
                break;
            }
            t *= 0.5;
            if t * slope.abs() < 1e-16 {
                break;
            }
        }
        if !accepted {
            break;
        }
        let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
            if s_hist.len() == opts.memory {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        let improvement = fx - f_new;
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        fx = f_new;
        if improvement < opts.ftol * fx.abs().max(1.0) {
            break;
        }
    }
    Minimum { x, f: fx, evals }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_inside_and_at_a_bound() {
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200.0 * (x[1] - x[0] * x[0]);
            (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
        };
        let opts = LbfgsOptions {
            max_iter: 200,
            ..Default::default()
        };
        let m = minimize(f, &[-1.2, 1.0], &[-2.0, -2.0], &[2.0, 2.0], &opts);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4,
            "{m:?}"
        );
        // With the optimum outside the box the answer sits on the boundary.
        let m = minimize(f, &[-1.2, 1.0], &[-2.0, -2.0], &[0.5, 2.0], &opts);
        assert!((m.x[0] - 0.5).abs() < 1e-6, "{m:?}");
    }

    #[test]
    fn non_finite_objective_does_not_panic() {
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 1.0;
            if x[0] < 0.5 { f64::NAN } else { x[0] }
        };
        let m = minimize(f, &[1.0], &[0.0], &[2.0], &LbfgsOptions::default());
        assert!(m.f.is_finite() && m.x[0] >= 0.5);
        let m = minimize(f, &[0.0], &[0.0], &[2.0], &LbfgsOptions::default());
        assert!(m.f.is_infinite());
    }
}
