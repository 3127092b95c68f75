//! Helpers shared by the benchmark programs (and the suite's `examples/suite_suggest.rs`).
#![allow(dead_code)]

use hpo::space::{Dim, Range};
use rand::Rng;

/// Continuous dimensions over `domain(0) x ... x domain(d - 1)`, none rounded or on a log scale.
pub fn real_dims(d: usize, domain: impl Fn(usize) -> (f64, f64)) -> Vec<Dim> {
    (0..d)
        .map(|i| {
            let (lo, hi) = domain(i);
            Dim::Real(Range {
                lo,
                hi,
                log: false,
                round: None,
                integer: false,
            })
        })
        .collect()
}

/// The rows of a CSV file as header -> value maps.
pub fn csv_rows(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("open");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

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
