//! Proposing the values of a Bayesian set: the one entry point the worker calls.
//!
//! `suggest` is a pure function of (observed points, pending points, dimensions, options,
//! seed): the same inputs give the same point. It minimizes; the caller negates the results of
//! a maximizing experiment.

use crate::space::Dim;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The `[bayesian]` table of the configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BayesOptions {
    /// "ei" (expected improvement) or "lcb" (lower confidence bound).
    pub acquisition: String,
    /// Exploration weight of the lower confidence bound.
    pub kappa: f64,
    /// How running sets are taken into account: "kriging_believer", "constant_liar_min",
    /// "constant_liar_mean", "constant_liar_max" or "ignore".
    pub pending: String,
}

impl Default for BayesOptions {
    fn default() -> Self {
        BayesOptions {
            acquisition: "ei".into(),
            kappa: 2.0,
            pending: "kriging_believer".into(),
        }
    }
}

/// What the suggestion is asked: points are in the dimensions' own units (a categorical
/// dimension as the position of its choice).
#[derive(Clone, Debug)]
pub struct Problem<'a> {
    pub dims: &'a [Dim],
    pub observed_x: &'a [Vec<f64>],
    /// Results to minimize, one per observed point.
    pub observed_y: &'a [f64],
    /// Points of sets still running, whose results are not known yet.
    pub pending: &'a [Vec<f64>],
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub x: Vec<f64>,
    /// Said in the results row (e.g. why the model was not used).
    pub note: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SuggestError {
    #[error("observed points have {got} coordinates, the problem has {expected} dimensions")]
    Dimension { expected: usize, got: usize },
}

/// Proposes the next point to evaluate.
pub fn suggest(
    problem: &Problem,
    _options: &BayesOptions,
    seed: u64,
) -> Result<Suggestion, SuggestError> {
    if let Some(x) = problem
        .observed_x
        .iter()
        .chain(problem.pending)
        .find(|x| x.len() != problem.dims.len())
    {
        return Err(SuggestError::Dimension {
            expected: problem.dims.len(),
            got: x.len(),
        });
    }
    if problem.observed_y.is_empty() {
        return Ok(Suggestion {
            x: space_filling(problem.dims, seed),
            note: "no finished results yet: space-filling draw".into(),
        });
    }
    // The Gaussian-process engine replaces this draw.
    Ok(Suggestion {
        x: space_filling(problem.dims, seed),
        note: "random draw".into(),
    })
}

/// A seeded draw used before any result exists.
pub fn space_filling(dims: &[Dim], seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    dims.iter()
        .map(|d| match d {
            Dim::Real(r) => r.from_unit(rng.random()),
            Dim::Categorical(n) => rng.random_range(0..*n) as f64,
        })
        .collect()
}
