//! The map between points in the dimensions' own units and the model's unit cube.
//!
//! A real dimension is one column, `Range::to_unit` of the value (log-aware; an integer range
//! maps each whole number to the centre of its cell, so the model sees integers where they
//! are). A categorical dimension of `n` choices is `n` one-hot columns: unordered choices get
//! no artificial distance ordering. `finish` turns any point into valid final values (inside
//! the bounds, whole numbers for integers, `round` digits, whole choice positions).

use crate::space::{Dim, Range, round_to};

pub struct Encoder<'a> {
    dims: &'a [Dim],
    offsets: Vec<usize>,
    width: usize,
}

/// Valid final value of a real dimension near `v`.
pub fn finish_real(r: &Range, v: f64) -> f64 {
    let (lo, hi) = if r.lo <= r.hi {
        (r.lo, r.hi)
    } else {
        (r.hi, r.lo)
    };
    let v = if v.is_finite() {
        v.clamp(lo, hi)
    } else {
        lo + 0.5 * (hi - lo)
    };
    if r.integer {
        let (a, b) = (lo.ceil(), hi.floor());
        // A range holding no whole number cannot be honoured: the bound wins.
        return if a <= b { v.round().clamp(a, b) } else { v };
    }
    if let Some(digits) = r.round {
        let scale = 10f64.powi(digits.min(300) as i32);
        let mut w = round_to(v, digits.min(300));
        // Rounding may step over a bound: take the nearest rounded value inside instead.
        if w < lo {
            w = (lo * scale).ceil() / scale + 0.0;
        }
        if w > hi {
            w = (hi * scale).floor() / scale + 0.0;
        }
        if w.is_finite() && w >= lo && w <= hi {
            return w;
        }
    }
    v
}

/// The choice position of a categorical value (rounded, clamped to the choices).
fn choice(v: f64, n: usize) -> usize {
    if n == 0 || !v.is_finite() {
        return 0;
    }
    v.round().clamp(0.0, (n - 1) as f64) as usize
}

impl<'a> Encoder<'a> {
    pub fn new(dims: &'a [Dim]) -> Encoder<'a> {
        let mut offsets = Vec::with_capacity(dims.len());
        let mut width = 0;
        for d in dims {
            offsets.push(width);
            width += match d {
                Dim::Real(_) => 1,
                Dim::Categorical(n) => *n,
            };
        }
        Encoder {
            dims,
            offsets,
            width,
        }
    }

    /// Number of model columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Model columns that vary continuously (real dimensions), for gradient refinement.
    pub fn real_columns(&self) -> Vec<usize> {
        self.dims
            .iter()
            .zip(&self.offsets)
            .filter(|(d, _)| matches!(d, Dim::Real(_)))
            .map(|(_, &o)| o)
            .collect()
    }

    /// Writes the model columns of `x` (own units) into `out`.
    pub fn encode(&self, x: &[f64], out: &mut [f64]) {
        for ((d, &o), &v) in self.dims.iter().zip(&self.offsets).zip(x) {
            match d {
                Dim::Real(r) => out[o] = r.to_unit(v),
                Dim::Categorical(n) => {
                    out[o..o + n].iter_mut().for_each(|c| *c = 0.0);
                    if *n > 0 {
                        out[o + choice(v, *n)] = 1.0;
                    }
                }
            }
        }
    }

    /// Valid final values of a point given in own units.
    pub fn finish(&self, x: &[f64]) -> Vec<f64> {
        self.dims
            .iter()
            .zip(x)
            .map(|(d, &v)| match d {
                Dim::Real(r) => finish_real(r, v),
                Dim::Categorical(n) => choice(v, *n) as f64,
            })
            .collect()
    }

    /// The final point at per-dimension unit coordinates `q` (one per dimension, in [0, 1]).
    pub fn point_at_unit(&self, q: &[f64]) -> Vec<f64> {
        self.dims
            .iter()
            .zip(q)
            .map(|(d, &u)| {
                let u = if u.is_finite() {
                    u.clamp(0.0, 1.0)
                } else {
                    0.5
                };
                match d {
                    Dim::Real(r) => finish_real(r, r.point_at_unit(u)),
                    Dim::Categorical(n) => {
                        ((u * *n as f64).floor() as usize).min(n.saturating_sub(1)) as f64
                    }
                }
            })
            .collect()
    }

    /// Per-dimension unit coordinates of a point in own units (inverse of `point_at_unit`).
    pub fn to_unit(&self, x: &[f64]) -> Vec<f64> {
        self.dims
            .iter()
            .zip(x)
            .map(|(d, &v)| match d {
                Dim::Real(r) => r.to_unit(v),
                Dim::Categorical(n) => (choice(v, *n) as f64 + 0.5) / (*n).max(1) as f64,
            })
            .collect()
    }

    /// The final point of model columns `u` (a categorical takes its largest column).
    pub fn decode(&self, u: &[f64]) -> Vec<f64> {
        self.dims
            .iter()
            .zip(&self.offsets)
            .map(|(d, &o)| match d {
                Dim::Real(r) => finish_real(r, r.point_at_unit(u[o].clamp(0.0, 1.0))),
                Dim::Categorical(n) => {
                    let cols = &u[o..o + n];
                    let mut k = 0;
                    for (i, v) in cols.iter().enumerate() {
                        if *v > cols[k] {
                            k = i;
                        }
                    }
                    k as f64
                }
            })
            .collect()
    }
}

/// A comparable key of a final point (bit patterns; -0 is 0).
pub fn key(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| (v + 0.0).to_bits()).collect()
}
