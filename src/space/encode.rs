//! The Bayesian columns of a block, and the translation between stored values and the plain
//! vectors the suggestion engine works on.
//!
//! A finished row takes part in a block's model when every Bayesian column of that block holds
//! a number inside the column's bounds (or, for `bayesian_choice`, one of its choices), whatever
//! strategy produced the row: random sets inform the model of a later Bayesian block. Rows
//! outside the bounds are left out rather than clamped onto the boundary. An inactive
//! conditional parameter's coordinate is NaN (the suggestion engine models it as inactive).

use super::{Block, Range, Strategy, Value};

/// One dimension of the suggestion problem, in the parameter's own units.
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    /// A number in `range` (log, integer and rounding rules included).
    Real(Range),
    /// One of `n` unordered choices, given as its position 0..n.
    Categorical(usize),
}

/// The Bayesian columns of one block: which parameters, and how each is modelled.
#[derive(Clone, Debug)]
pub struct BayesColumns {
    /// (parameter position, dimension, the choices of a categorical column)
    columns: Vec<(usize, Dim, Vec<Value>)>,
}

impl BayesColumns {
    pub fn of_block(block: &Block) -> BayesColumns {
        let columns = block
            .strategies
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Strategy::Bayesian(r) => Some((i, Dim::Real(r.clone()), Vec::new())),
                Strategy::BayesianChoice(list) => {
                    Some((i, Dim::Categorical(list.len()), list.clone()))
                }
                _ => None,
            })
            .collect();
        BayesColumns { columns }
    }

    /// The parameter position of each column.
    pub fn params(&self) -> Vec<usize> {
        self.columns.iter().map(|(i, _, _)| *i).collect()
    }

    pub fn dims(&self) -> Vec<Dim> {
        self.columns.iter().map(|(_, d, _)| d.clone()).collect()
    }

    /// The point of a finished row, or `None` when the row does not fit the columns.
    pub fn encode(&self, values: &[Value]) -> Option<Vec<f64>> {
        self.columns
            .iter()
            .map(|(i, dim, choices)| {
                let v = values.get(*i)?;
                match dim {
                    _ if v.is_inactive() => Some(f64::NAN),
                    Dim::Real(r) => v.as_f64().filter(|x| *x >= r.lo && *x <= r.hi),
                    Dim::Categorical(_) => choices.iter().position(|c| c == v).map(|p| p as f64),
                }
            })
            .collect()
    }

    /// The values of a proposed point, in parameter order.
    pub fn decode(&self, x: &[f64]) -> Vec<Value> {
        self.columns
            .iter()
            .zip(x)
            .map(|((_, dim, choices), &v)| match dim {
                _ if v.is_nan() => Value::Inactive,
                Dim::Real(r) => r.finish(v),
                Dim::Categorical(n) => {
                    let k = if v.is_finite() {
                        v.round().clamp(0.0, (*n - 1) as f64)
                    } else {
                        0.0
                    };
                    choices[k as usize].clone()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_and_filters_foreign_rows() {
        let range = Range {
            lo: -1.0,
            hi: 1.0,
            log: false,
            round: Some(2),
            integer: false,
        };
        let choices = vec![Value::Str("adam".into()), Value::Str("sgd".into())];
        let block = Block {
            count: 1,
            prevent_duplicate: false,
            strategies: vec![
                Strategy::Bayesian(range),
                Strategy::Explicit(Value::Int(3)),
                Strategy::BayesianChoice(choices.clone()),
            ],
        };
        let cols = BayesColumns::of_block(&block);
        let row = [Value::Float(0.25), Value::Int(3), Value::Str("sgd".into())];
        assert_eq!(cols.encode(&row), Some(vec![0.25, 1.0]));
        assert_eq!(
            cols.decode(&[0.251, 0.8]),
            vec![Value::Float(0.25), choices[1].clone()]
        );
        let outside = [Value::Float(4.0), Value::Int(3), Value::Str("sgd".into())];
        assert_eq!(cols.encode(&outside), None);
        let unknown = [
            Value::Float(0.0),
            Value::Int(3),
            Value::Str("rmsprop".into()),
        ];
        assert_eq!(cols.encode(&unknown), None);
    }
}
