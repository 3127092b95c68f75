//! The map between points in the dimensions' own units and the model's unit cube.
//!
//! A real dimension is one column, `Range::to_unit` of the value (log-aware; an integer range
//! maps each whole number to the centre of its cell, so the model sees integers where they
//! are). A categorical dimension of `n` choices is `n` one-hot columns: unordered choices get
//! no artificial distance ordering. `finish` turns any point into valid final values (inside
//! the bounds, whole numbers for integers, `round` digits, whole choice positions).
//!
//! A conditional dimension (one that is inactive at some points; its coordinate is then NaN)
//! gets one more column, an indicator: 1 where it is active, 0 where not; its value columns
//! hold a fixed imputed value where it is inactive (the centre of the cube for a real
//! dimension, no choice for a categorical one). Two points where it is inactive are then at
//! distance zero in its columns, whatever was once drawn there, and a point where it is active
//! is at least the indicator's length scale away from one where it is not. The map stays an
//! embedding into the cube, so the kernel on it is still a valid covariance. Candidate points
//! are masked (`Activity`): their inactive coordinates are NaN before they are scored, so the
//! acquisition never varies a dimension the point does not use.

use super::Conditions;
use crate::space::{Dim, Range, round_to};

pub struct Encoder<'a> {
    dims: &'a [Dim],
    offsets: Vec<usize>,
    width: usize,
    /// The indicator column of each conditional dimension.
    indicator: Vec<Option<usize>>,
    conditions: Option<&'a Conditions<'a>>,
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
    #[cfg(test)]
    pub fn new(dims: &'a [Dim]) -> Encoder<'a> {
        Encoder::with_conditions(dims, None)
    }

    /// The encoder of a space whose `conditions` say which dimensions may be inactive.
    pub fn with_conditions(dims: &'a [Dim], conditions: Option<&'a Conditions<'a>>) -> Encoder<'a> {
        let mut offsets = Vec::with_capacity(dims.len());
        let mut indicator = Vec::with_capacity(dims.len());
        let mut width = 0;
        for (i, d) in dims.iter().enumerate() {
            offsets.push(width);
            width += match d {
                Dim::Real(_) => 1,
                Dim::Categorical(n) => *n,
            };
            let conditional = conditions.is_some_and(|c| c.conditional.get(i) == Some(&true));
            indicator.push(conditional.then_some(width));
            width += usize::from(conditional);
        }
        Encoder {
            dims,
            offsets,
            width,
            indicator,
            conditions,
        }
    }

    pub fn dims(&self) -> &[Dim] {
        self.dims
    }

    pub fn has_conditions(&self) -> bool {
        self.indicator.iter().any(Option::is_some)
    }

    fn is_conditional(&self, i: usize) -> bool {
        self.indicator[i].is_some()
    }

    /// Whether the model can use the point: every coordinate finite, or NaN on a conditional
    /// dimension (inactive there).
    pub fn usable(&self, x: &[f64]) -> bool {
        x.iter()
            .enumerate()
            .all(|(i, v)| v.is_finite() || (v.is_nan() && self.is_conditional(i)))
    }

    /// The point with the coordinates of the dimensions inactive at it set to NaN.
    pub fn mask(&self, mut x: Vec<f64>) -> Vec<f64> {
        let Some(c) = self.conditions else {
            return x;
        };
        let active = (c.active)(&x);
        for (i, v) in x.iter_mut().enumerate() {
            if self.is_conditional(i) && active.get(i) == Some(&false) {
                *v = f64::NAN;
            }
        }
        x
    }

    /// Number of model columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Model columns that vary continuously (real dimensions active at `x`), for gradient
    /// refinement.
    pub fn real_columns(&self, x: &[f64]) -> Vec<usize> {
        self.dims
            .iter()
            .zip(&self.offsets)
            .zip(x)
            .filter(|((d, _), v)| matches!(d, Dim::Real(_)) && !v.is_nan())
            .map(|((_, &o), _)| o)
            .collect()
    }

    /// Writes the model columns of `x` (own units) into `out`.
    pub fn encode(&self, x: &[f64], out: &mut [f64]) {
        for (i, ((d, &o), &v)) in self.dims.iter().zip(&self.offsets).zip(x).enumerate() {
            if let Some(ind) = self.indicator[i] {
                let active = !v.is_nan();
                out[ind] = if active { 1.0 } else { 0.0 };
                if !active {
                    match d {
                        Dim::Real(_) => out[o] = 0.5,
                        Dim::Categorical(n) => out[o..o + n].iter_mut().for_each(|c| *c = 0.0),
                    }
                    continue;
                }
            }
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

    /// Valid final values of a point given in own units (an inactive coordinate stays NaN).
    pub fn finish(&self, x: &[f64]) -> Vec<f64> {
        self.dims
            .iter()
            .zip(x)
            .enumerate()
            .map(|(i, (d, &v))| match d {
                _ if v.is_nan() && self.is_conditional(i) => f64::NAN,
                Dim::Real(r) => finish_real(r, v),
                Dim::Categorical(n) => choice(v, *n) as f64,
            })
            .collect()
    }

    /// The final point at per-dimension unit coordinates `q` (one per dimension, in [0, 1]),
    /// masked.
    pub fn point_at_unit(&self, q: &[f64]) -> Vec<f64> {
        let x = self
            .dims
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
            .collect();
        self.mask(x)
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

    /// The final point of model columns `u` (a categorical takes its largest column), masked.
    pub fn decode(&self, u: &[f64]) -> Vec<f64> {
        let x = self
            .dims
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
            .collect();
        self.mask(x)
    }
}

/// A comparable key of a final point (bit patterns; -0 is 0).
pub fn key(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| (v + 0.0).to_bits()).collect()
}
