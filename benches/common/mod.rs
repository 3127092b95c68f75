//! Helpers shared by the benchmark programs (and the suite's `examples/suite_suggest.rs`).
#![allow(dead_code)]

use rand::Rng;

/// A point drawn uniformly in the box `domain(0) x ... x domain(d - 1)`.
pub fn uniform_point(
    d: usize,
    domain: impl Fn(usize) -> (f64, f64),
    rng: &mut impl Rng,
) -> Vec<f64> {
    (0..d)
        .map(|i| {
            let (lo, hi) = domain(i);
            lo + (hi - lo) * rng.random::<f64>()
        })
        .collect()
}

/// First quartile, median and third quartile (linear interpolation).
pub fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let pos = p * (v.len() - 1) as f64;
        let (i, f) = (pos.floor() as usize, pos.fract());
        if i + 1 < v.len() {
            v[i] * (1.0 - f) + v[i + 1] * f
        } else {
            v[i]
        }
    };
    (q(0.25), q(0.5), q(0.75))
}
